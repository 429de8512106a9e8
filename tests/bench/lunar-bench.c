/* SPDX-License-Identifier: MIT */
/*
 * lunar-bench: the ring micro-benchmark over sim (no kernel).
 *
 * Each row drives one or more LUNs through the real path -- sim (the
 * kernel's side of a TCMU ring) -> ring consumer -> slots -> handler ->
 * completion -> kick -- with a closed loop at a fixed queue depth: every
 * completion immediately submits the next command.  Rows differ only in
 * the handler: a C RAM disk compiled in here (the ceiling of the ring
 * design), the raw-level Lua RAM disk (examples/hello.lua), and lunar.disk
 * with the ram backend (examples/ramdisk.lua).  Ratios between rows of the
 * same run are the result; absolute numbers depend on the machine.
 *
 * Run it through scripts/bench, which builds it without sanitizers.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "luavm.h"
#include "lun.h"
#include "sim/sim.h"
#include "sim/transport.h"
#include "stats.h"
#include "util.h"

enum kind { K_C, K_LUA_RAW, K_LUA_DISK };
static const char *kind_name[] = { "C reference", "raw Lua", "lunar.disk+ram" };
static const char *kind_key[] = { "c", "lua_raw", "lua_disk" };

enum op { OP_READ4K, OP_WRITE4K, OP_TUR, OP_READ1M };
static const char *op_name[] = { "4KiB READ", "4KiB WRITE", "TEST UNIT READY", "1MiB READ" };
static const char *op_key[] = { "read4k", "write4k", "tur", "read1m" };

#define LUN_SIZE (256ull << 20)
#define SPAN_BLOCKS ((64ull << 20) / 512)	/* random LBAs within 64 MiB */

static const char *src_dir = LUNAR_SRC_DIR;
static double duration = 2.0;

/* ---- the C reference handler ------------------------------------------------------- */

static uint8_t *c_ram;

static void copy_iov(struct lunar_cmd *c, uint8_t *mem, uint64_t len, int to_iov)
{
	for (uint32_t i = 0; i < c->iovcnt && len; i++) {
		uint64_t n = c->iov[i].iov_len < len ? c->iov[i].iov_len : len;

		if (to_iov)
			memcpy(c->iov[i].iov_base, mem, n);
		else
			memcpy(mem, c->iov[i].iov_base, n);
		mem += n;
		len -= n;
	}
}

/* What examples/hello.lua does, in C. */
static void c_handler(struct lunar_lun *lun, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		struct lunar_cmd *c = &lun->slots[lun->batch[k]];
		uint8_t op = c->cdb[0];

		c->status = LUNAR_GOOD;
		c->state = LUNAR_CMD_DONE;
		if (op == 0x28 || op == 0x2a) {
			uint64_t lba = (uint64_t)c->cdb[2] << 24 | c->cdb[3] << 16 | c->cdb[4] << 8 | c->cdb[5];
			uint64_t len = (uint64_t)(c->cdb[7] << 8 | c->cdb[8]) * 512;

			if ((lba * 512) + len > LUN_SIZE) {
				lunar_cmd_set_sense(c, 5, 0x21, 0);
				continue;
			}
			copy_iov(c, c_ram + lba * 512, len, op == 0x28);
			if (op == 0x28)
				c->xfer = len;
		} else if (op != 0x00) {
			lunar_cmd_set_sense(c, 5, 0x20, 0);
		}
	}
}

/* ---- closed-loop initiator --------------------------------------------------------- */

struct io {
	struct lunar_sim_io sio;
	struct target *t;
	uint64_t t0;
	uint64_t rng;
	uint8_t *buf;
};

struct target {
	struct lunar_lun *lun;
	struct lunar_sim *sim;
	enum op op;
	struct io *ios;
	unsigned qd;
	atomic_bool stop;
	atomic_uint inflight;
	uint64_t done;		/* worker thread only */
	bool measuring;
	uint64_t measured;
	struct lunar_hist hist;
	uint64_t errors;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(struct io *io)
{
	struct target *t = io->t;
	uint8_t *cdb = io->sio.cdb;
	uint32_t blocks = t->op == OP_READ1M ? 2048 : 8;
	uint64_t lba = xorshift(&io->rng) % (SPAN_BLOCKS - blocks);

	memset(cdb, 0, 16);
	io->sio.data_in = NULL;
	io->sio.data_out = NULL;
	io->sio.data_in_len = io->sio.data_out_len = 0;
	if (t->op == OP_TUR)
		return;
	lba &= ~7ull;
	cdb[0] = t->op == OP_WRITE4K ? 0x2a : 0x28;
	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[7] = (uint8_t)(blocks >> 8);
	cdb[8] = (uint8_t)blocks;
	if (t->op == OP_WRITE4K) {
		io->sio.data_out = io->buf;
		io->sio.data_out_len = blocks * 512;
	} else {
		io->sio.data_in = io->buf;
		io->sio.data_in_len = blocks * 512;
	}
}

static void on_done(struct lunar_sim_io *sio)
{
	struct io *io = (struct io *)sio;
	struct target *t = io->t;
	uint64_t now = lunar_now_ns();

	if (sio->status != 0 || sio->result != 0)
		t->errors++;
	t->done++;
	if (t->measuring) {
		t->measured++;
		lunar_hist_add(&t->hist, now - io->t0);
	}
	if (atomic_load_explicit(&t->stop, memory_order_relaxed)) {
		atomic_fetch_sub(&t->inflight, 1);
		return;
	}
	fill(io);
	io->t0 = now;
	lunar_sim_submit(t->sim, sio);
}

/* ---- LUN setup ------------------------------------------------------------------------ */

static struct lunar_lun *make_lun(enum kind k, const char *name, unsigned qd)
{
	char handler[1024], err[1024];
	struct lunar_lun_config c = {
		.name = (char *)name, .transport = LUNAR_TRANSPORT_SIM, .size = LUN_SIZE,
		.block_size = 512, .queue_depth = qd < 64 ? 64 : qd * 2,
		.lua_memory_limit = 64ull << 20, .sim = { .ring_size = 8u << 20, .data_size = 256u << 20 },
	};
	struct lunar_lun *lun;

	snprintf(handler, sizeof(handler), "%s/examples/%s", src_dir,
		 k == K_LUA_DISK ? "ramdisk.lua" : "hello.lua");
	c.handler = handler;
	lun = lunar_lun_create(&c, NULL);
	if (!lun) {
		fprintf(stderr, "bench: cannot create LUN %s\n", name);
		exit(1);
	}
	if (k == K_C) {
		if (c_ram)
			munmap(c_ram, LUN_SIZE);
		c_ram = mmap(NULL, LUN_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		lun->native = c_handler;
	} else {
		lun->gen = lunar_gen_create(lun, err, sizeof(err));
		if (!lun->gen) {
			fprintf(stderr, "bench: %s: %s\n", handler, err);
			exit(1);
		}
	}
	lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "%s", "");
	if (lunar_sim_transport_open(lun, err, sizeof(err)) < 0 || lunar_lun_attach(lun, lun->port) < 0) {
		fprintf(stderr, "bench: sim: %s\n", err);
		exit(1);
	}
	return lun;
}

static void free_lun(struct lunar_lun *lun)
{
	lunar_lun_detach(lun);
	lunar_sim_transport_close(lun);
	lunar_gen_destroy(lun->gen);
	lun->gen = NULL;
	lunar_lun_destroy(lun);
}

static void target_init(struct target *t, struct lunar_lun *lun, enum op op, unsigned qd)
{
	size_t bufsz = op == OP_READ1M ? (1u << 20) : 4096;

	memset(t, 0, sizeof(*t));
	t->lun = lun;
	t->sim = lunar_sim_of(lun);
	t->op = op;
	t->qd = qd;
	t->ios = calloc(qd, sizeof(*t->ios));
	for (unsigned i = 0; i < qd; i++) {
		t->ios[i].t = t;
		t->ios[i].rng = 0x9e3779b97f4a7c15ull * (i + 1) + (uintptr_t)t;
		t->ios[i].buf = aligned_alloc(4096, bufsz);
		memset(t->ios[i].buf, 0x5a, bufsz);
		t->ios[i].sio.done = on_done;
	}
}

static void target_start(struct target *t)
{
	atomic_store(&t->inflight, t->qd);
	for (unsigned i = 0; i < t->qd; i++) {
		fill(&t->ios[i]);
		t->ios[i].t0 = lunar_now_ns();
		lunar_sim_submit(t->sim, &t->ios[i].sio);
	}
}

static void target_stop(struct target *t)
{
	atomic_store(&t->stop, true);
	while (atomic_load(&t->inflight))
		usleep(1000);
	for (unsigned i = 0; i < t->qd; i++)
		free(t->ios[i].buf);
	free(t->ios);
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };

	nanosleep(&ts, NULL);
}

/* ---- rows ------------------------------------------------------------------------------ */

struct row {
	enum kind kind;
	enum op op;
	unsigned qd;
	double cps;		/* commands per second */
	double bps;		/* bytes per second */
	uint64_t p50, p99;
	double gc_per_cmd;	/* Lua bytes allocated per command */
	uint64_t errors;
	bool skipped;
};

static struct row rows[64];
static int nrows;

static bool have_disk(void)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/examples/ramdisk.lua", src_dir);
	return access(p, R_OK) == 0;
}

/* Writes the whole span once through the ring, so reads touch real data
 * (an unwritten RAM disk is the kernel's zero page: unrealistically fast). */
static void prefill(struct lunar_lun *lun)
{
	static uint8_t buf[1 << 20];
	struct lunar_sim_io io;

	memset(buf, 0xa5, sizeof(buf));
	for (uint64_t lba = 0; lba < SPAN_BLOCKS; lba += 2048) {
		memset(&io, 0, sizeof(io));
		io.cdb[0] = 0x2a;
		io.cdb[2] = (uint8_t)(lba >> 24);
		io.cdb[3] = (uint8_t)(lba >> 16);
		io.cdb[4] = (uint8_t)(lba >> 8);
		io.cdb[5] = (uint8_t)lba;
		io.cdb[7] = 2048 >> 8;
		io.data_out = buf;
		io.data_out_len = sizeof(buf);
		if (lunar_sim_exec(lunar_sim_of(lun), &io, 10000) < 0 || io.status) {
			fprintf(stderr, "bench: prefill failed (status 0x%02x)\n", io.status);
			exit(1);
		}
	}
}

static void run_row(enum kind k, enum op op, unsigned qd)
{
	struct row *r = &rows[nrows++];
	struct lunar_lun *lun;
	struct target t;
	uint64_t a0 = 0, a1 = 0, t0, t1;

	r->kind = k;
	r->op = op;
	r->qd = qd;
	if (k == K_LUA_DISK && !have_disk()) {
		r->skipped = true;
		return;
	}
	lun = make_lun(k, "bench", qd);
	prefill(lun);
	target_init(&t, lun, op, qd);
	target_start(&t);
	sleep_s(duration / 4);				/* warm up: JIT, caches */
	t.measuring = true;				/* benign race: a few samples */
	if (lun->gen)
		a0 = lunar_gen_allocated(lun->gen);
	t0 = lunar_now_ns();
	sleep_s(duration);
	t.measuring = false;
	t1 = lunar_now_ns();
	if (lun->gen)
		a1 = lunar_gen_allocated(lun->gen);
	target_stop(&t);
	r->cps = (double)t.measured / ((double)(t1 - t0) / 1e9);
	r->bps = r->cps * (op == OP_READ1M ? 1048576.0 : op == OP_TUR ? 0 : 4096.0);
	r->p50 = lunar_hist_percentile(&t.hist, 0.50);
	r->p99 = lunar_hist_percentile(&t.hist, 0.99);
	r->gc_per_cmd = lun->gen && t.measured ? (double)(a1 - a0) / (double)t.measured : 0;
	r->errors = t.errors;
	free_lun(lun);
}

static double memcpy_bps(void)
{
	size_t sz = 1u << 20;
	uint8_t *a = aligned_alloc(4096, sz), *b = aligned_alloc(4096, sz);
	uint64_t t0, n = 0;

	memset(a, 1, sz);
	memset(b, 2, sz);
	t0 = lunar_now_ns();
	while (lunar_now_ns() - t0 < (uint64_t)(duration * 1e9)) {
		memcpy(b, a, sz);
		/* the copy is observable: the compiler may not drop it */
		__asm__ volatile("" : : "r"(b), "r"(a) : "memory");
		n++;
	}
	free(a);
	free(b);
	return (double)n * (double)sz / ((double)(lunar_now_ns() - t0) / 1e9);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

struct scale {
	unsigned luns;
	double cps;
	double rss_per_lun_kib;
};

static struct scale scales[3];
static int nscales;

/* N raw-Lua LUNs at once, 4 KiB READ at QD8 each; and their idle memory. */
static void run_scale(unsigned n)
{
	struct lunar_lun **luns = calloc(n, sizeof(*luns));
	struct target *ts = calloc(n, sizeof(*ts));
	struct scale *s = &scales[nscales++];
	long rss0 = rss_kib(), rss1;
	uint64_t t0, t1, total = 0;

	for (unsigned i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "scale%u", i);
		luns[i] = make_lun(K_LUA_RAW, name, 8);
	}
	rss1 = rss_kib();
	s->luns = n;
	s->rss_per_lun_kib = (double)(rss1 - rss0) / n;
	for (unsigned i = 0; i < n; i++) {
		target_init(&ts[i], luns[i], OP_READ4K, 8);
		target_start(&ts[i]);
	}
	sleep_s(duration / 4);
	for (unsigned i = 0; i < n; i++)
		ts[i].measuring = true;
	t0 = lunar_now_ns();
	sleep_s(duration);
	for (unsigned i = 0; i < n; i++)
		ts[i].measuring = false;
	t1 = lunar_now_ns();
	for (unsigned i = 0; i < n; i++) {
		total += ts[i].measured;
		target_stop(&ts[i]);
		free_lun(luns[i]);
	}
	s->cps = (double)total / ((double)(t1 - t0) / 1e9);
	free(ts);
	free(luns);
}

/* ---- report ---------------------------------------------------------------------------- */

static const struct row *find(enum kind k, enum op op, unsigned qd)
{
	for (int i = 0; i < nrows; i++)
		if (rows[i].kind == k && rows[i].op == op && rows[i].qd == qd && !rows[i].skipped)
			return &rows[i];
	return NULL;
}

static int target_line(FILE *out, const char *what, double v, double want, bool higher, bool have)
{
	bool pass = have && (higher ? v >= want : v <= want);

	if (!have)
		fprintf(out, "  SKIP  %s (row missing)\n", what);
	else
		fprintf(out, "  %s  %s = %.2f (target %s %.2f)\n", pass ? "PASS" : "FAIL", what, v,
			higher ? ">=" : "<=", want);
	return have && !pass;
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	bool quick = false;
	int failed = 0;
	double mbps;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			duration = atof(argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--src") && i + 1 < argc)
			src_dir = argv[++i];
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else {
			fprintf(stderr, "usage: lunar-bench [--duration S] [--json FILE] [--src DIR] [--quick]\n");
			return 2;
		}
	}
	lunar_log_set_level(LUNAR_LOG_WARN);

	static const unsigned qds[] = { 1, 32, 128 };
	for (int k = K_C; k <= K_LUA_DISK; k++) {
		for (int op = OP_READ4K; op <= OP_TUR; op++)
			for (unsigned q = 0; q < 3; q++)
				if (!quick || qds[q] == 32)
					run_row(k, op, qds[q]);
		run_row(k, OP_READ1M, 4);
	}
	mbps = memcpy_bps();
	run_scale(1);
	if (!quick) {
		run_scale(16);
		run_scale(64);
	}

	FILE *out = stdout;
	fprintf(out, "\nlunar-bench: ring micro-benchmark over sim (no kernel), %.1fs per row, %ld CPUs\n\n",
		duration, sysconf(_SC_NPROCESSORS_ONLN));
	fprintf(out, "%-16s %-16s %4s %12s %10s %10s %9s %10s\n", "handler", "command", "QD", "cmds/s",
		"p50 us", "p99 us", "x C ref", "GC B/cmd");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i], *c = find(K_C, r->op, r->qd);

		if (r->skipped) {
			fprintf(out, "%-16s %-16s %4u %12s  (examples/ramdisk.lua not present)\n",
				kind_name[r->kind], op_name[r->op], r->qd, "skipped");
			continue;
		}
		fprintf(out, "%-16s %-16s %4u %12.0f %10.1f %10.1f %8.2fx %10.1f%s\n", kind_name[r->kind],
			op_name[r->op], r->qd, r->cps, r->p50 / 1000.0, r->p99 / 1000.0,
			c && c->cps ? r->cps / c->cps : 0, r->gc_per_cmd, r->errors ? "  ERRORS" : "");
	}
	fprintf(out, "\n1MiB READ bandwidth vs memcpy (%.0f MiB/s on this machine):\n", mbps / 1048576);
	for (int k = K_C; k <= K_LUA_DISK; k++) {
		const struct row *r = find(k, OP_READ1M, 4);

		if (r)
			fprintf(out, "  %-16s %8.0f MiB/s  %.2fx memcpy\n", kind_name[k], r->bps / 1048576,
				r->bps / mbps);
	}
	fprintf(out, "\nscale (raw Lua LUNs, 4KiB READ QD8 each):\n");
	for (int i = 0; i < nscales; i++)
		fprintf(out, "  %3u LUNs  %10.0f cmds/s total   %6.0f KiB RSS per idle LUN\n", scales[i].luns,
			scales[i].cps, scales[i].rss_per_lun_kib);

	const struct row *c32 = find(K_C, OP_READ4K, 32), *raw32 = find(K_LUA_RAW, OP_READ4K, 32);
	const struct row *disk32 = find(K_LUA_DISK, OP_READ4K, 32);
	fprintf(out, "\ntargets:\n");
	failed |= target_line(out, "lunar.disk 4KiB READ QD32 / C reference", disk32 && c32 ? disk32->cps / c32->cps : 0,
			      0.80, true, disk32 && c32);
	failed |= target_line(out, "raw Lua 4KiB READ QD32 / C reference", raw32 && c32 ? raw32->cps / c32->cps : 0,
			      0.90, true, raw32 && c32);
	double worst_gc = 0;
	bool any_gc = false;
	for (int i = 0; i < nrows; i++) {
		if (rows[i].skipped || rows[i].kind == K_C)
			continue;
		any_gc = true;
		if (rows[i].gc_per_cmd > worst_gc)
			worst_gc = rows[i].gc_per_cmd;
	}
	failed |= target_line(out, "Lua GC bytes per command, steady state (worst row)", worst_gc, 0.5, false, any_gc);
	if (nscales)
		failed |= target_line(out, "idle LUN RSS beyond its data (KiB)", scales[nscales - 1].rss_per_lun_kib,
				      1024, false, true);
	for (int i = 0; i < nrows; i++)
		if (rows[i].errors) {
			fprintf(out, "  FAIL  %s %s QD%u had %" PRIu64 " errors\n", kind_name[rows[i].kind],
				op_name[rows[i].op], rows[i].qd, rows[i].errors);
			failed = 1;
		}

	if (json) {
		FILE *j = fopen(json, "w");

		if (!j) {
			perror(json);
			return 1;
		}
		fprintf(j, "{\"duration\": %.2f, \"cpus\": %ld, \"memcpy_bps\": %.0f, \"rows\": [", duration,
			sysconf(_SC_NPROCESSORS_ONLN), mbps);
		for (int i = 0, first = 1; i < nrows; i++) {
			const struct row *r = &rows[i], *c = find(K_C, r->op, r->qd);

			if (r->skipped)
				continue;
			fprintf(j, "%s\n  {\"handler\": \"%s\", \"op\": \"%s\", \"qd\": %u, \"cps\": %.0f, "
				"\"bps\": %.0f, \"p50_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64 ", \"gc_per_cmd\": %.2f, "
				"\"ratio_c\": %.3f, \"errors\": %" PRIu64 "}", first ? "" : ",", kind_key[r->kind],
				op_key[r->op], r->qd, r->cps, r->bps, r->p50, r->p99, r->gc_per_cmd,
				c && c->cps ? r->cps / c->cps : 0, r->errors);
			first = 0;
		}
		fprintf(j, "\n], \"scale\": [");
		for (int i = 0; i < nscales; i++)
			fprintf(j, "%s{\"luns\": %u, \"cps\": %.0f, \"rss_per_lun_kib\": %.0f}", i ? ", " : "",
				scales[i].luns, scales[i].cps, scales[i].rss_per_lun_kib);
		fprintf(j, "], \"pass\": %s}\n", failed ? "false" : "true");
		fclose(j);
	}
	return failed;
}
