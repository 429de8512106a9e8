/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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
#include "reload.h"
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
	if (lunar_mkdir_p(dirname(dir)) < 0) {
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
	int fd;			/* the connection: streaming commands write here */
	bool streamed;		/* the command answered on fd itself */
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
		size_t mem = (size_t)lunar_stat_get(&l->stats.lua_memory);
		const struct lunar_transport_ops *tr = lunar_transport_get(l->cfg.transport);
		const char *state = lunar_lun_state_name(st);
		char reload[sizeof(l->reload_msg)];
		char device[256] = "";

		/* a LUN whose handler is ready but whose device is not there */
		if (st == LUNAR_LUN_SERVING && !l->port)
			state = "waiting";
		if (tr)
			tr->describe(l, device, sizeof(device));
		pthread_mutex_lock(&l->lock);
		memcpy(msg, l->state_msg, sizeof(msg));
		memcpy(reload, l->reload_msg, sizeof(reload));
		pthread_mutex_unlock(&l->lock);
		if (!r->json) {
			lunar_buf_printf(&r->out, "%-16s %-5s %-8s %10" PRIu64 " %8" PRIu64 " %9zuK  %s\n",
					 l->cfg.name, lunar_transport_name(l->cfg.transport),
					 state, lunar_stat_get(&l->stats.commands),
					 lunar_stat_get(&l->stats.errors), mem / 1024, l->cfg.handler);
			if (device[0])
				lunar_buf_printf(&r->out, "%16s %s\n", "", device);
			if (msg[0])
				lunar_buf_printf(&r->out, "%16s %s\n", "", msg);
			if (reload[0])
				lunar_buf_printf(&r->out, "%16s %s\n", "", reload);
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
		lunar_buf_puts(&r->out, ", \"reload\": ");
		lunar_buf_json_str(&r->out, reload);
		lunar_buf_printf(&r->out,
				 ", \"size\": %" PRIu64 ", \"block_size\": %u, \"commands\": %" PRIu64
				 ", \"errors\": %" PRIu64 ", \"handler_errors\": %" PRIu64
				 ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
				 ", \"tmrs\": %" PRIu64 ", \"lua_memory\": %zu, \"lua_memory_limit\": %" PRIu64 "}",
				 l->cfg.size, l->cfg.block_size, lunar_stat_get(&l->stats.commands),
				 lunar_stat_get(&l->stats.errors), lunar_stat_get(&l->stats.handler_errors),
				 lunar_stat_get(&l->stats.bytes_in), lunar_stat_get(&l->stats.bytes_out),
				 lunar_stat_get(&l->stats.tmrs), mem, l->cfg.lua_memory_limit);
	}
	if (r->json)
		lunar_buf_puts(&r->out, "]}\n");
	pthread_rwlock_unlock(&d->lock);
}

/* ---- stats ------------------------------------------------------------------------ */

static const char *sense_text(uint32_t kcq, char *buf, size_t len)
{
	const char *n = lunar_asc_name((uint8_t)(kcq >> 8), (uint8_t)kcq);

	snprintf(buf, len, "%x/%02x/%02x %s", (kcq >> 16) & 0xff, (kcq >> 8) & 0xff, kcq & 0xff,
		 n ? n : lunar_sense_key_name((uint8_t)(kcq >> 16)));
	return buf;
}

static void stats_one_json(struct lunar_buf *b, struct lunar_lun *l)
{
	const struct lunar_stats *s = &l->stats;
	char txt[160];
	bool first = true;

	lunar_buf_puts(b, "{\"name\": ");
	lunar_buf_json_str(b, l->cfg.name);
	lunar_buf_printf(b, ", \"commands\": %" PRIu64 ", \"errors\": %" PRIu64
			 ", \"handler_errors\": %" PRIu64 ", \"bytes_in\": %" PRIu64
			 ", \"bytes_out\": %" PRIu64 ", \"batches\": %" PRIu64 ", \"tmrs\": %" PRIu64
			 ", \"reloads\": %" PRIu64 ", \"faults\": %" PRIu64
			 ", \"queue_depth\": %u, \"queue_depth_max\": %" PRIu64
			 ", \"lua_memory\": %zu, \"status\": {",
			 lunar_stat_get(&s->commands), lunar_stat_get(&s->errors),
			 lunar_stat_get(&s->handler_errors), lunar_stat_get(&s->bytes_in),
			 lunar_stat_get(&s->bytes_out), lunar_stat_get(&s->batches), lunar_stat_get(&s->tmrs),
			 lunar_stat_get(&s->reloads), lunar_stat_get(&s->faults),
			 l->nslots - __atomic_load_n(&l->nfree, __ATOMIC_RELAXED),
			 lunar_stat_get(&s->queue_max), (size_t)lunar_stat_get(&l->stats.lua_memory));
	for (int i = 0; i < LUNAR_ST_N; i++)
		lunar_buf_printf(b, "%s\"%s\": %" PRIu64, i ? ", " : "", lunar_status_keys[i],
				 lunar_stat_get(&s->status[i]));
	lunar_buf_puts(b, "}, \"sense\": [");
	for (int i = 0; i < LUNAR_SENSE_SLOTS; i++) {
		uint32_t kcq = __atomic_load_n(&s->sense[i].kcq, __ATOMIC_ACQUIRE);

		if (!kcq)
			continue;
		lunar_buf_printf(b, "%s{\"key\": %u, \"asc\": %u, \"ascq\": %u, \"count\": %" PRIu64
				 ", \"text\": ", first ? "" : ", ", (kcq >> 16) & 0xff, (kcq >> 8) & 0xff,
				 kcq & 0xff, lunar_stat_get(&s->sense[i].count));
		lunar_buf_json_str(b, sense_text(kcq, txt, sizeof(txt)));
		lunar_buf_puts(b, "}");
		first = false;
	}
	lunar_buf_puts(b, "], \"latency\": {");
	for (int c = 0; c < LUNAR_CLASS_N; c++) {
		const struct lunar_hist *h = &s->lat[c];
		uint64_t n = lunar_stat_get(&h->count);

		lunar_buf_printf(b, "%s\"%s\": {\"count\": %" PRIu64 ", \"mean_ns\": %" PRIu64
				 ", \"p50_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64 ", \"p999_ns\": %" PRIu64 "}",
				 c ? ", " : "", lunar_class_names[c], n, n ? lunar_stat_get(&h->sum_ns) / n : 0,
				 lunar_hist_percentile(h, 0.5), lunar_hist_percentile(h, 0.99),
				 lunar_hist_percentile(h, 0.999));
	}
	lunar_buf_puts(b, "}}");
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 10000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 10000000)
		snprintf(buf, len, "%" PRIu64 "us", ns / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ns / 1000000);
}

static void stats_one_text(struct lunar_buf *b, struct lunar_lun *l)
{
	const struct lunar_stats *s = &l->stats;
	char txt[160], a[32], c50[32], c99[32], c999[32];
	bool any = false;

	lunar_buf_printf(b, "%s  (%s)\n", l->cfg.name, lunar_transport_name(l->cfg.transport));
	lunar_buf_printf(b, "  commands %" PRIu64 ", errors %" PRIu64 ", handler errors %" PRIu64
			 ", TMRs %" PRIu64 ", reloads %" PRIu64 ", faults %" PRIu64 "\n",
			 lunar_stat_get(&s->commands), lunar_stat_get(&s->errors),
			 lunar_stat_get(&s->handler_errors), lunar_stat_get(&s->tmrs),
			 lunar_stat_get(&s->reloads), lunar_stat_get(&s->faults));
	lunar_format_size(lunar_stat_get(&s->bytes_in), a, sizeof(a));
	lunar_buf_printf(b, "  bytes in %s, ", a);
	lunar_format_size(lunar_stat_get(&s->bytes_out), a, sizeof(a));
	lunar_buf_printf(b, "out %s; queue %u now, %" PRIu64 " max of %u; Lua memory %zu KiB\n", a,
			 l->nslots - __atomic_load_n(&l->nfree, __ATOMIC_RELAXED),
			 lunar_stat_get(&s->queue_max), l->nslots,
			 ((size_t)lunar_stat_get(&l->stats.lua_memory)) / 1024);
	lunar_buf_puts(b, "  status:");
	for (int i = 0; i < LUNAR_ST_N; i++)
		if (lunar_stat_get(&s->status[i]))
			lunar_buf_printf(b, " %s %" PRIu64, lunar_status_keys[i], lunar_stat_get(&s->status[i]));
	lunar_buf_puts(b, "\n");
	for (int i = 0; i < LUNAR_SENSE_SLOTS; i++) {
		uint32_t kcq = __atomic_load_n(&s->sense[i].kcq, __ATOMIC_ACQUIRE);

		if (!kcq)
			continue;
		lunar_buf_printf(b, "  %s %s x%" PRIu64 "\n", any ? "      " : "sense:",
				 sense_text(kcq, txt, sizeof(txt)), lunar_stat_get(&s->sense[i].count));
		any = true;
	}
	lunar_buf_printf(b, "  %-8s %10s %8s %8s %8s %8s\n", "latency", "count", "mean", "p50", "p99", "p99.9");
	for (int c = 0; c < LUNAR_CLASS_N; c++) {
		const struct lunar_hist *h = &s->lat[c];
		uint64_t n = lunar_stat_get(&h->count);

		if (!n)
			continue;
		fmt_ns(a, sizeof(a), lunar_stat_get(&h->sum_ns) / n);
		fmt_ns(c50, sizeof(c50), lunar_hist_percentile(h, 0.5));
		fmt_ns(c99, sizeof(c99), lunar_hist_percentile(h, 0.99));
		fmt_ns(c999, sizeof(c999), lunar_hist_percentile(h, 0.999));
		lunar_buf_printf(b, "  %-8s %10" PRIu64 " %8s %8s %8s %8s\n", lunar_class_names[c], n, a, c50,
				 c99, c999);
	}
}

static void cmd_stats(struct req *r)
{
	const char *only = r->argc > 1 ? r->argv[1] : NULL;
	bool found = false;

	pthread_rwlock_rdlock(&r->d->lock);
	if (r->json)
		lunar_buf_puts(&r->out, "{\"luns\": [");
	for (size_t i = 0; i < r->d->nluns; i++) {
		struct lunar_lun *l = r->d->luns[i];

		if (only && strcmp(only, l->cfg.name))
			continue;
		if (r->json) {
			lunar_buf_puts(&r->out, found ? ", " : "");
			stats_one_json(&r->out, l);
		} else {
			stats_one_text(&r->out, l);
		}
		found = true;
	}
	if (r->json)
		lunar_buf_puts(&r->out, "]}\n");
	pthread_rwlock_unlock(&r->d->lock);
	if (only && !found)
		fail(r, "no LUN named '%s'", only);
}

/* ---- streaming: trace and top ---------------------------------------------------------- */

/* Starts a streamed answer (status 0); later writes go straight to fd. */
static void stream_begin(struct req *r)
{
	uint8_t st = 0;

	r->streamed = true;
	lunar_write_all(r->fd, &st, 1);
}

/* Waits up to ms for efd (if >= 0); false when the client went away. */
static bool stream_wait(struct req *r, int efd, int ms)
{
	/* events 0 on the connection: the client half-closed it after its
	 * request (POLLRDHUP is always set); only a hangup (both directions
	 * closed) means it is gone, and poll reports that unasked */
	struct pollfd p[2] = { { .fd = r->fd, .events = 0 }, { .fd = efd, .events = POLLIN } };

	if (poll(p, efd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR)
		return false;
	if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
		return false;
	if (efd >= 0 && (p[1].revents & POLLIN)) {
		uint64_t v;

		if (read(efd, &v, sizeof(v)) < 0) {
			/* nothing: records are read from the ring anyway */
		}
	}
	return !atomic_load(&r->d->stopping);
}

static struct lunar_lun *find_ref(struct req *r, const char *name)
{
	struct lunar_lun *lun;

	pthread_rwlock_rdlock(&r->d->lock);
	lun = lunar_daemon_find(r->d, name);
	if (lun)
		lunar_lun_ref(lun);
	pthread_rwlock_unlock(&r->d->lock);
	return lun;
}

static void cmd_trace(struct req *r)
{
	const char *name = NULL;
	long count = -1;
	struct lunar_lun *lun;
	struct lunar_tracer *t;
	struct lunar_trace_rec rec;
	struct lunar_buf b = { 0 };

	for (int i = 1; i < r->argc; i++) {
		if (!strcmp(r->argv[i], "--count") && i + 1 < r->argc)
			count = atol(r->argv[++i]);
		else if (r->argv[i][0] != '-' && !name)
			name = r->argv[i];
		else
			return fail(r, "usage: trace LUN [--count N] [--json]");
	}
	if (!name)
		return fail(r, "usage: trace LUN [--count N] [--json]");
	lun = find_ref(r, name);
	if (!lun)
		return fail(r, "no LUN named '%s'", name);
	t = lunar_trace_attach(lun);
	if (!t) {
		lunar_lun_put(lun);
		return fail(r, "LUN '%s' has %d listeners already", name, LUNAR_MAX_TRACERS);
	}
	stream_begin(r);
	if (!r->json) {
		lunar_buf_printf(&b, "tracing %s (Ctrl-C to stop)\n", name);
		lunar_write_all(r->fd, b.data, b.len);
	}
	while (count != 0 && !atomic_load(&lun->gone)) {
		uint64_t dropped = t->dropped;

		lunar_buf_reset(&b);
		while (count != 0 && lunar_trace_next(t, &rec)) {
			lunar_trace_format(&b, &rec, r->json);
			if (count > 0)
				count--;
		}
		if (t->dropped != dropped && !r->json)
			lunar_buf_printf(&b, "(%" PRIu64 " records dropped: the listener is slower than the LUN)\n",
					 t->dropped - dropped);
		if (b.len && lunar_write_all(r->fd, b.data, b.len) < 0)
			break;
		if (count == 0 || !stream_wait(r, t->efd, 1000))
			break;
	}
	lunar_trace_detach(lun, t);
	lunar_lun_put(lun);
	lunar_buf_free(&b);
}

struct top_snap {
	uint64_t commands, bytes, lat_n, lat_sum;
};

/* One refresh: counters since the previous pass; prints only if b. */
static void top_pass(struct req *r, struct top_snap **prev, size_t *nprev, double dt,
		     long interval_ms, struct lunar_buf *b)
{
	pthread_rwlock_rdlock(&r->d->lock);
	if (*nprev != r->d->nluns) {
		free(*prev);
		*prev = calloc(r->d->nluns ? r->d->nluns : 1, sizeof(**prev));
		*nprev = *prev ? r->d->nluns : 0;
	}
	if (b && r->json)
		lunar_buf_puts(b, "{\"luns\": [");
	else if (b)
		lunar_buf_printf(b, "\033[H\033[2Jlunar top  (every %ld ms)\n\n%-16s %-8s %10s %10s %10s %6s %8s\n",
				 interval_ms, "LUN", "STATE", "IOPS", "MiB/s", "lat us", "queue", "errors");
	for (size_t i = 0; i < *nprev; i++) {
		struct lunar_lun *l = r->d->luns[i];
		const struct lunar_stats *s = &l->stats;
		struct top_snap cur = { .commands = lunar_stat_get(&s->commands),
			.bytes = lunar_stat_get(&s->bytes_in) + lunar_stat_get(&s->bytes_out) };
		struct top_snap *p = &(*prev)[i];
		unsigned queue = l->nslots - __atomic_load_n(&l->nfree, __ATOMIC_RELAXED);
		double iops, mibs, lat;

		for (int c = 0; c < LUNAR_CLASS_N; c++) {
			cur.lat_n += lunar_stat_get(&s->lat[c].count);
			cur.lat_sum += lunar_stat_get(&s->lat[c].sum_ns);
		}
		iops = (double)(cur.commands - p->commands) / dt;
		mibs = (double)(cur.bytes - p->bytes) / dt / 1048576.0;
		lat = cur.lat_n > p->lat_n ?
			(double)(cur.lat_sum - p->lat_sum) / (double)(cur.lat_n - p->lat_n) / 1000.0 : 0;
		*p = cur;
		if (!b)
			continue;
		if (r->json) {
			lunar_buf_printf(b, "%s{\"name\": ", i ? ", " : "");
			lunar_buf_json_str(b, l->cfg.name);
			lunar_buf_printf(b, ", \"iops\": %.1f, \"mib_s\": %.3f, \"latency_us\": %.1f, "
					 "\"queue_depth\": %u, \"errors\": %" PRIu64 "}", iops, mibs, lat, queue,
					 lunar_stat_get(&s->errors));
		} else {
			lunar_buf_printf(b, "%-16s %-8s %10.0f %10.2f %10.1f %6u %8" PRIu64 "\n", l->cfg.name,
					 lunar_lun_state_name(atomic_load(&l->state)), iops, mibs, lat, queue,
					 lunar_stat_get(&s->errors));
		}
	}
	pthread_rwlock_unlock(&r->d->lock);
	if (b && r->json)
		lunar_buf_puts(b, "]}\n");
}

static void cmd_top(struct req *r)
{
	long count = -1, interval_ms = 1000;
	struct top_snap *prev = NULL;
	size_t nprev = 0;
	struct lunar_buf b = { 0 };
	uint64_t t_prev;

	for (int i = 1; i < r->argc; i++) {
		if (!strcmp(r->argv[i], "--count") && i + 1 < r->argc)
			count = atol(r->argv[++i]);
		else if (!strcmp(r->argv[i], "--interval") && i + 1 < r->argc)
			interval_ms = atol(r->argv[++i]);
		else
			return fail(r, "usage: top [--interval MS] [--count N] [--json]");
	}
	if (interval_ms < 50)
		interval_ms = 50;
	stream_begin(r);
	top_pass(r, &prev, &nprev, 1, interval_ms, NULL);	/* the baseline */
	t_prev = lunar_now_ns();
	while (count != 0 && stream_wait(r, -1, (int)interval_ms)) {
		uint64_t now = lunar_now_ns();

		lunar_buf_reset(&b);
		top_pass(r, &prev, &nprev, (double)(now - t_prev) / 1e9, interval_ms, &b);
		t_prev = now;
		if (lunar_write_all(r->fd, b.data, b.len) < 0)
			break;
		if (count > 0)
			count--;
	}
	free(prev);
	lunar_buf_free(&b);
}

/* ---- reload ---------------------------------------------------------------------------- */

static void cmd_reload(struct req *r)
{
	struct lunar_reload_wait *w;
	const char *lun = r->argc > 1 ? r->argv[1] : NULL;

	if (r->argc > 2)
		return fail(r, "usage: reload [LUN]");
	if (!r->d->reload)
		return fail(r, "reloads are not available (the reload thread did not start)");
	w = malloc(sizeof(*w));
	if (!w)
		return fail(r, "out of memory");
	lunar_reload_wait_init(w);
	lunar_reload_request(r->d->reload, lun, lun ? "lunarctl reload" : "lunarctl reload (config)", w);
	lunar_reload_wait_done(w);
	if (r->json) {
		lunar_buf_printf(&r->out, "{\"ok\": %s, \"report\": ", w->ok ? "true" : "false");
		lunar_buf_json_str(&r->out, w->msg);
		lunar_buf_puts(&r->out, "}\n");
	} else {
		lunar_buf_puts(&r->out, w->msg);
	}
	if (!w->ok)
		r->status = 1;
	free(w);
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
	else if (!strcmp(cmd, "stats"))
		cmd_stats(r);
	else if (!strcmp(cmd, "trace"))
		cmd_trace(r);
	else if (!strcmp(cmd, "top"))
		cmd_top(r);
	else if (!strcmp(cmd, "reload"))
		cmd_reload(r);
	else if (!strcmp(cmd, "version"))
		lunar_buf_printf(&r->out, r->json ? "{\"version\": \"%s\"}\n" : "lunar %s\n", LUNAR_VERSION);
	else
		fail(r, "unknown command '%s' (try: status, stats, trace, top, cdb, reload, version)", cmd);
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
	struct req r = { .d = c->d, .fd = c->fd };
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
	if (!r.streamed && lunar_write_all(c->fd, &st, 1) == 0 && r.out.len)
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
