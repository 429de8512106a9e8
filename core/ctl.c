/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "luavm.h"
#include "lun.h"
#include "scsi/cdb.h"
#include "scsi/sense.h"
#include "sim/sim.h"
#include "sim/transport.h"
#include "transports.h"
#include "util.h"

static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_cond = PTHREAD_COND_INITIALIZER;
static int active;

/* ---- the socket ----------------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int lunar_ctl_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "path is longer than %zu bytes", sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir_p(dirname(dir)) < 0) {
		snprintf(err, errlen, "cannot create its directory: %s", strerror(errno));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (access(path, F_OK) == 0) {
		/* a live daemon answers; a stale socket file is replaced */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			snprintf(err, errlen, "another lunar is already serving this socket");
			close(fd);
			return -1;
		}
		close(fd);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "%s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* ---- commands -------------------------------------------------------------------- */

struct req {
	struct lunar_daemon *d;
	int argc;
	char **argv;
	struct lunar_buf out;
	int status;
	bool json;
};

static void fail(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lunar_buf_reset(&r->out);
	lunar_buf_puts(&r->out, "lunarctl: ");
	lunar_buf_vprintf(&r->out, fmt, ap);
	lunar_buf_puts(&r->out, "\n");
	va_end(ap);
	r->status = 1;
}

static void cmd_status(struct req *r)
{
	struct lunar_daemon *d = r->d;

	pthread_rwlock_rdlock(&d->lock);
	if (r->json) {
		lunar_buf_puts(&r->out, "{\"luns\": [");
	} else {
		lunar_buf_printf(&r->out, "%-16s %-5s %-8s %10s %8s %10s  %s\n", "NAME", "TRANS",
				 "STATE", "COMMANDS", "ERRORS", "LUA MEM", "HANDLER");
	}
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *l = d->luns[i];
		int st = atomic_load(&l->state);
		char msg[sizeof(l->state_msg)];
		size_t mem = l->gen ? lunar_gen_mem_used(l->gen) : 0;
		const struct lunar_transport_ops *tr = lunar_transport_get(l->cfg.transport);
		const char *state = lunar_lun_state_name(st);
		char device[256] = "";

		/* a LUN whose handler is ready but whose device is not there */
		if (st == LUNAR_LUN_SERVING && !l->port)
			state = "waiting";
		if (tr)
			tr->describe(l, device, sizeof(device));
		pthread_mutex_lock(&l->lock);
		memcpy(msg, l->state_msg, sizeof(msg));
		pthread_mutex_unlock(&l->lock);
		if (!r->json) {
			lunar_buf_printf(&r->out, "%-16s %-5s %-8s %10" PRIu64 " %8" PRIu64 " %9zuK  %s\n",
					 l->cfg.name, lunar_transport_name(l->cfg.transport),
					 state, (uint64_t)l->stats.commands,
					 (uint64_t)l->stats.errors, mem / 1024, l->cfg.handler);
			if (device[0])
				lunar_buf_printf(&r->out, "%16s %s\n", "", device);
			if (msg[0])
				lunar_buf_printf(&r->out, "%16s %s\n", "", msg);
			continue;
		}
		lunar_buf_puts(&r->out, i ? ", {" : "{");
		lunar_buf_puts(&r->out, "\"name\": ");
		lunar_buf_json_str(&r->out, l->cfg.name);
		lunar_buf_printf(&r->out, ", \"transport\": \"%s\", \"handler\": ",
				 lunar_transport_name(l->cfg.transport));
		lunar_buf_json_str(&r->out, l->cfg.handler);
		lunar_buf_printf(&r->out, ", \"state\": \"%s\", \"message\": ", state);
		lunar_buf_json_str(&r->out, msg);
		lunar_buf_puts(&r->out, ", \"device\": ");
		lunar_buf_json_str(&r->out, device);
		lunar_buf_printf(&r->out,
				 ", \"size\": %" PRIu64 ", \"block_size\": %u, \"commands\": %" PRIu64
				 ", \"errors\": %" PRIu64 ", \"handler_errors\": %" PRIu64
				 ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
				 ", \"tmrs\": %" PRIu64 ", \"lua_memory\": %zu, \"lua_memory_limit\": %" PRIu64 "}",
				 l->cfg.size, l->cfg.block_size, (uint64_t)l->stats.commands,
				 (uint64_t)l->stats.errors, (uint64_t)l->stats.handler_errors,
				 (uint64_t)l->stats.bytes_in, (uint64_t)l->stats.bytes_out,
				 (uint64_t)l->stats.tmrs, mem, l->cfg.lua_memory_limit);
	}
	if (r->json)
		lunar_buf_puts(&r->out, "]}\n");
	pthread_rwlock_unlock(&d->lock);
}

struct cdb_job {
	struct lunar_sim_io io;
	uint8_t buf[];		/* data-out, then data-in */
};

static void describe_sense(struct lunar_buf *b, const uint8_t *sense, size_t len)
{
	struct lunar_sense_info si;
	const char *asc;

	if (lunar_sense_decode(sense, len, &si) < 0) {
		lunar_buf_puts(b, "sense:   (not sense data)\n");
		return;
	}
	asc = lunar_asc_name(si.asc, si.ascq);
	lunar_buf_printf(b, "sense:   %s, ", lunar_sense_key_name(si.key));
	if (asc)
		lunar_buf_puts(b, asc);
	else
		lunar_buf_printf(b, "ASC 0x%02x ASCQ 0x%02x", si.asc, si.ascq);
	lunar_buf_printf(b, " (%x/%02x/%02x), %s format%s\n", si.key, si.asc, si.ascq,
			 si.descriptor ? "descriptor" : "fixed", si.deferred ? ", deferred" : "");
	if (si.info_valid)
		lunar_buf_printf(b, "         information: %" PRIu64 " (0x%" PRIx64 ")\n", si.info, si.info);
	if (si.sks_valid && si.key == LUNAR_SK_ILLEGAL_REQUEST) {
		lunar_buf_printf(b, "         field pointer: %s byte %u", si.sks[0] & 0x40 ? "CDB" : "parameter",
				 (unsigned)(si.sks[1] << 8 | si.sks[2]));
		if (si.sks[0] & 0x08)
			lunar_buf_printf(b, " bit %u", si.sks[0] & 7);
		lunar_buf_puts(b, "\n");
	}
	lunar_buf_puts(b, "         ");
	for (size_t i = 0; i < si.len; i++)
		lunar_buf_printf(b, "%02x%s", sense[i], i + 1 < si.len ? " " : "\n");
}

static size_t sense_length(const struct lunar_sim_io *io)
{
	struct lunar_sense_info si;

	if (io->status != LUNAR_CHECK_CONDITION || lunar_sense_decode(io->sense, sizeof(io->sense), &si) < 0)
		return 0;
	return si.len;
}

static void cmd_cdb(struct req *r)
{
	const char *name = NULL, *hex = NULL, *out_hex = NULL;
	uint8_t cdb[LUNAR_SIM_CDB_MAX];
	long cdb_len, out_len = 0, n;
	unsigned long long in_len = 0;
	int timeout_ms = 30000, want;
	struct cdb_job *job;
	struct lunar_lun *lun;
	struct lunar_sim *sim;

	for (int i = 1; i < r->argc; i++) {
		const char *a = r->argv[i];

		if (!strcmp(a, "--read") && i + 1 < r->argc) {
			char *end;

			in_len = strtoull(r->argv[++i], &end, 0);
			if (*end || in_len > (256u << 20))
				return fail(r, "--read takes a byte count up to 256MiB");
		} else if (!strcmp(a, "--data-out-hex") && i + 1 < r->argc) {
			out_hex = r->argv[++i];
		} else if (!strcmp(a, "--timeout") && i + 1 < r->argc) {
			timeout_ms = atoi(r->argv[++i]);
		} else if (a[0] == '-' && a[1]) {
			return fail(r, "cdb: unknown option %s", a);
		} else if (!name) {
			name = a;
		} else if (!hex) {
			hex = a;
		} else {
			return fail(r, "cdb: unexpected argument %s", a);
		}
	}
	if (!name || !hex)
		return fail(r, "usage: cdb LUN HEXCDB [--data-out FILE|--data-out-hex HEX] [--read N] [--json]");
	cdb_len = lunar_hex_decode(hex, cdb, sizeof(cdb));
	if (cdb_len <= 0)
		return fail(r, "cdb: '%s' is not a CDB in hex (e.g. 120000006000)", hex);
	want = lunar_cdb_length(cdb, (size_t)cdb_len);
	if (want < 0 || want != cdb_len)
		return fail(r, "cdb: opcode 0x%02x takes a %d-byte CDB, %ld bytes given", cdb[0],
			    want < 0 ? lunar_cdb_length(cdb, sizeof(cdb)) : want, cdb_len);
	if (out_hex)
		out_len = (long)strlen(out_hex) / 2;
	job = calloc(1, sizeof(*job) + (size_t)out_len + in_len);
	if (!job)
		return fail(r, "cdb: out of memory");
	memcpy(job->io.cdb, cdb, (size_t)cdb_len);
	if (out_hex) {
		n = lunar_hex_decode(out_hex, job->buf, (size_t)out_len);
		if (n < 0) {
			free(job);
			return fail(r, "cdb: --data-out-hex is not valid hex");
		}
		job->io.data_out = job->buf;
		job->io.data_out_len = (uint32_t)n;
	}
	if (in_len) {
		job->io.data_in = job->buf + out_len;
		job->io.data_in_len = (uint32_t)in_len;
	}

	pthread_rwlock_rdlock(&r->d->lock);
	lun = lunar_daemon_find(r->d, name);
	sim = lun ? lunar_sim_of(lun) : NULL;
	if (!lun) {
		pthread_rwlock_unlock(&r->d->lock);
		free(job);
		return fail(r, "no LUN named '%s'", name);
	}
	if (!sim) {
		pthread_rwlock_unlock(&r->d->lock);
		free(job);
		return fail(r, "LUN '%s' uses transport %s: cdb needs a sim LUN (the initiator is the kernel)",
			    name, lunar_transport_name(lun->cfg.transport));
	}
	if (lunar_sim_exec(sim, &job->io, timeout_ms) < 0) {
		pthread_rwlock_unlock(&r->d->lock);
		lunar_daemon_keep(r->d, job);
		return fail(r, "no answer from LUN '%s' within %d ms", name, timeout_ms);
	}
	pthread_rwlock_unlock(&r->d->lock);

	struct lunar_sim_io *io = &job->io;
	size_t slen = sense_length(io);

	if (r->json) {
		lunar_buf_printf(&r->out, "{\"status\": %u, \"sense\": \"", io->status);
		lunar_buf_hex(&r->out, io->sense, slen);
		lunar_buf_puts(&r->out, "\", \"data\": \"");
		lunar_buf_hex(&r->out, io->data_in, io->data_in_xfer);
		lunar_buf_printf(&r->out, "\", \"residual\": %u}\n", io->residual);
	} else {
		const char *op = lunar_cdb_name(cdb, (uint32_t)cdb_len);

		lunar_buf_printf(&r->out, "command: %s\nstatus:  %s (0x%02x)\n", op ? op : "(vendor or unknown opcode)",
				 lunar_status_name(io->status), io->status);
		if (io->result == -EINVAL)
			lunar_buf_puts(&r->out, "         (refused by the ring before the handler saw it)\n");
		else if (io->result == -EIO)
			lunar_buf_puts(&r->out, "         (the ring is broken)\n");
		else if (io->result == -ECANCELED)
			lunar_buf_puts(&r->out, "         (cancelled: lunar is shutting down)\n");
		if (slen)
			describe_sense(&r->out, io->sense, slen);
		if (in_len) {
			lunar_buf_printf(&r->out, "data-in: %u of %u bytes", io->data_in_xfer, io->data_in_len);
			if (io->residual)
				lunar_buf_printf(&r->out, " (residual %u)", io->residual);
			lunar_buf_puts(&r->out, "\n");
			lunar_buf_hexdump(&r->out, io->data_in, io->data_in_xfer);
		}
	}
	free(job);
}

static void run_request(struct req *r)
{
	const char *cmd;

	for (int i = 0; i < r->argc; i++) {
		if (!strcmp(r->argv[i], "--json")) {
			r->json = true;
			memmove(&r->argv[i], &r->argv[i + 1], sizeof(char *) * (size_t)(r->argc - i - 1));
			r->argc--;
			i--;
		}
	}
	cmd = r->argc ? r->argv[0] : "";
	if (!strcmp(cmd, "status"))
		cmd_status(r);
	else if (!strcmp(cmd, "cdb"))
		cmd_cdb(r);
	else if (!strcmp(cmd, "version"))
		lunar_buf_printf(&r->out, r->json ? "{\"version\": \"%s\"}\n" : "lunar %s\n", LUNAR_VERSION);
	else
		fail(r, "unknown command '%s' (try: status, cdb, version)", cmd);
}

/* ---- connections ------------------------------------------------------------------ */

struct conn {
	struct lunar_daemon *d;
	int fd;
};

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct lunar_buf in = { 0 };
	struct req r = { .d = c->d };
	char chunk[65536];
	uint8_t st;

	pthread_setname_np(pthread_self(), "lunar/ctl");
	for (;;) {
		ssize_t n = read(c->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (in.len + (size_t)n > LUNAR_CTL_MAX_REQUEST) {
			fail(&r, "request too large");
			goto reply;
		}
		lunar_buf_add(&in, chunk, (size_t)n);
	}
	if (in.oom) {
		fail(&r, "out of memory");
		goto reply;
	}
	/* split the NUL-terminated arguments */
	for (size_t off = 0; off < in.len; off += strlen(in.data + off) + 1)
		r.argc++;
	r.argv = calloc((size_t)r.argc + 1, sizeof(char *));
	if (!r.argv) {
		fail(&r, "out of memory");
		goto reply;
	}
	r.argc = 0;
	for (size_t off = 0; off < in.len; off += strlen(in.data + off) + 1)
		r.argv[r.argc++] = in.data + off;
	run_request(&r);
reply:
	st = (uint8_t)r.status;
	if (lunar_write_all(c->fd, &st, 1) == 0 && r.out.len)
		lunar_write_all(c->fd, r.out.data, r.out.len);
	close(c->fd);
	lunar_buf_free(&in);
	lunar_buf_free(&r.out);
	free(r.argv);
	free(c);
	pthread_mutex_lock(&active_lock);
	if (--active == 0)
		pthread_cond_broadcast(&active_cond);
	pthread_mutex_unlock(&active_lock);
	return NULL;
}

void lunar_ctl_accept(struct lunar_daemon *d, int listen_fd)
{
	struct conn *c;
	pthread_attr_t attr;
	pthread_t t;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = malloc(sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->d = d;
	c->fd = fd;
	pthread_mutex_lock(&active_lock);
	active++;
	pthread_mutex_unlock(&active_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_main, c) != 0) {
		log_err("control: cannot start a thread: %s", strerror(errno));
		close(fd);
		free(c);
		pthread_mutex_lock(&active_lock);
		active--;
		pthread_mutex_unlock(&active_lock);
	}
	pthread_attr_destroy(&attr);
}

void lunar_ctl_close(struct lunar_daemon *d)
{
	close(d->ctl_fd);
	d->ctl_fd = -1;
	unlink(d->ctl_path);
}

void lunar_ctl_drain(void)
{
	pthread_mutex_lock(&active_lock);
	while (active > 0)
		pthread_cond_wait(&active_cond, &active_lock);
	pthread_mutex_unlock(&active_lock);
}
