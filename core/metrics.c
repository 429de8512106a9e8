/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "luavm.h"
#include "lun.h"
#include "metrics.h"
#include "util.h"

/*
 * Prometheus text exposition on a small HTTP listener (`metrics: {listen:
 * ADDRESS:PORT}` in the YAML).  One thread; scrapes are rare and short, so
 * requests are served one at a time, each bounded by a timeout.
 */

static int listen_fd = -1;
static int stop_pipe[2] = { -1, -1 };
static pthread_t thread;
static struct lunar_daemon *daemon_;

static void label(struct lunar_buf *b, const struct lunar_lun *l)
{
	/* LUN names are [A-Za-z0-9._-]: nothing to escape */
	lunar_buf_printf(b, "lun=\"%s\",transport=\"%s\"", l->cfg.name,
			 lunar_transport_name(l->cfg.transport));
}

static void counter(struct lunar_buf *b, const char *name, const char *help, const char *type)
{
	lunar_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_lun(struct lunar_buf *b, const char *name, size_t off)
{
	for (size_t i = 0; i < daemon_->nluns; i++) {
		struct lunar_lun *l = daemon_->luns[i];

		lunar_buf_printf(b, "%s{", name);
		label(b, l);
		lunar_buf_printf(b, "} %" PRIu64 "\n", lunar_stat_get((const uint64_t *)((const char *)&l->stats + off)));
	}
}

void lunar_metrics_render(struct lunar_daemon *d, struct lunar_buf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "lunar_commands_total", "Commands completed.", offsetof(struct lunar_stats, commands) },
		{ "lunar_errors_total", "Commands completed with a status other than GOOD.",
		  offsetof(struct lunar_stats, errors) },
		{ "lunar_handler_errors_total", "Handler errors answered with 4/44/00.",
		  offsetof(struct lunar_stats, handler_errors) },
		{ "lunar_read_bytes_total", "Data-In bytes returned to initiators.",
		  offsetof(struct lunar_stats, bytes_in) },
		{ "lunar_written_bytes_total", "Data-Out bytes received from initiators.",
		  offsetof(struct lunar_stats, bytes_out) },
		{ "lunar_batches_total", "Ring wakeups handed to Lua.", offsetof(struct lunar_stats, batches) },
		{ "lunar_tmrs_total", "Task management functions received.", offsetof(struct lunar_stats, tmrs) },
		{ "lunar_reloads_total", "Handler generations swapped in.", offsetof(struct lunar_stats, reloads) },
		{ "lunar_faults_total", "Generations that wedged or crashed.", offsetof(struct lunar_stats, faults) },
	};

	daemon_ = d;
	pthread_rwlock_rdlock(&d->lock);
	for (size_t k = 0; k < LUNAR_ARRAY_SIZE(counters); k++) {
		counter(b, counters[k].name, counters[k].help, "counter");
		per_lun(b, counters[k].name, counters[k].off);
	}
	counter(b, "lunar_status_total", "Commands by SAM status.", "counter");
	for (size_t i = 0; i < d->nluns; i++) {
		for (int st = 0; st < LUNAR_ST_N; st++) {
			lunar_buf_puts(b, "lunar_status_total{");
			label(b, d->luns[i]);
			lunar_buf_printf(b, ",status=\"%s\"} %" PRIu64 "\n", lunar_status_keys[st],
					 lunar_stat_get(&d->luns[i]->stats.status[st]));
		}
	}
	counter(b, "lunar_sense_total", "CHECK CONDITIONs by sense key/ASC/ASCQ.", "counter");
	for (size_t i = 0; i < d->nluns; i++) {
		const struct lunar_stats *s = &d->luns[i]->stats;

		for (int k = 0; k < LUNAR_SENSE_SLOTS; k++) {
			uint32_t kcq = __atomic_load_n(&s->sense[k].kcq, __ATOMIC_ACQUIRE);

			if (!kcq)
				continue;
			lunar_buf_puts(b, "lunar_sense_total{");
			label(b, d->luns[i]);
			lunar_buf_printf(b, ",sense=\"%x/%02x/%02x\"} %" PRIu64 "\n", (kcq >> 16) & 0xff,
					 (kcq >> 8) & 0xff, kcq & 0xff, lunar_stat_get(&s->sense[k].count));
		}
	}
	counter(b, "lunar_command_latency_seconds", "Completion latency by opcode class.", "summary");
	for (size_t i = 0; i < d->nluns; i++) {
		for (int c = 0; c < LUNAR_CLASS_N; c++) {
			const struct lunar_hist *h = &d->luns[i]->stats.lat[c];
			static const double q[] = { 0.5, 0.99, 0.999 };

			if (!lunar_stat_get(&h->count))
				continue;
			for (int k = 0; k < 3; k++) {
				lunar_buf_puts(b, "lunar_command_latency_seconds{");
				label(b, d->luns[i]);
				lunar_buf_printf(b, ",class=\"%s\",quantile=\"%g\"} %.9f\n", lunar_class_names[c], q[k],
						 (double)lunar_hist_percentile(h, q[k]) / 1e9);
			}
			lunar_buf_puts(b, "lunar_command_latency_seconds_sum{");
			label(b, d->luns[i]);
			lunar_buf_printf(b, ",class=\"%s\"} %.9f\n", lunar_class_names[c],
					 (double)lunar_stat_get(&h->sum_ns) / 1e9);
			lunar_buf_puts(b, "lunar_command_latency_seconds_count{");
			label(b, d->luns[i]);
			lunar_buf_printf(b, ",class=\"%s\"} %" PRIu64 "\n", lunar_class_names[c],
					 lunar_stat_get(&h->count));
		}
	}
	counter(b, "lunar_queue_depth", "Commands in flight now.", "gauge");
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *l = d->luns[i];

		lunar_buf_puts(b, "lunar_queue_depth{");
		label(b, l);
		lunar_buf_printf(b, "} %u\n", l->nslots - __atomic_load_n(&l->nfree, __ATOMIC_RELAXED));
	}
	counter(b, "lunar_lua_memory_bytes", "Bytes held by the LUN's Lua state.", "gauge");
	for (size_t i = 0; i < d->nluns; i++) {
		lunar_buf_puts(b, "lunar_lua_memory_bytes{");
		label(b, d->luns[i]);
		lunar_buf_printf(b, "} %zu\n", (size_t)lunar_stat_get(&d->luns[i]->stats.lua_memory));
	}
	counter(b, "lunar_up", "1 when the LUN serves commands.", "gauge");
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *l = d->luns[i];

		lunar_buf_puts(b, "lunar_up{");
		label(b, l);
		lunar_buf_printf(b, "} %d\n", atomic_load(&l->state) == LUNAR_LUN_SERVING && l->port);
	}
	pthread_rwlock_unlock(&d->lock);
}

/* Reads the request head (bounded), answers, closes. */
static void serve(struct lunar_daemon *d, int fd)
{
	char req[2048];
	size_t got = 0;
	struct lunar_buf body = { 0 }, resp = { 0 };
	const char *status = "200 OK";

	while (got < sizeof(req) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			goto out;
		n = read(fd, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			goto out;
		got += (size_t)n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	if (strncmp(req, "GET /metrics", 12) == 0 && (req[12] == ' ' || req[12] == '?')) {
		lunar_metrics_render(d, &body);
	} else if (strncmp(req, "GET / ", 6) == 0) {
		lunar_buf_puts(&body, "lunar: metrics are at /metrics\n");
	} else {
		status = "404 Not Found";
		lunar_buf_puts(&body, "not found\n");
	}
	lunar_buf_printf(&resp, "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, body.len);
	if (!body.oom && !resp.oom) {
		lunar_write_all(fd, resp.data, resp.len);
		lunar_write_all(fd, body.data, body.len);
	}
out:
	lunar_buf_free(&body);
	lunar_buf_free(&resp);
	close(fd);
}

static void *metrics_main(void *arg)
{
	struct lunar_daemon *d = arg;

	pthread_setname_np(pthread_self(), "lunar/metrics");
	for (;;) {
		struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = stop_pipe[0], .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			/* a scraper that stops reading cannot hold the listener */
			struct timeval tv = { .tv_sec = 2 };

			if (fd >= 0) {
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
				serve(d, fd);
			}
		}
	}
	return NULL;
}

/* What the listener is bound to, the port the kernel chose for ":0" included. */
static const char *bound_address(const char *asked, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];

	if (getsockname(listen_fd, (struct sockaddr *)&ss, &sl) < 0)
		return asked;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		snprintf(buf, len, "%s:%u", addr, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		snprintf(buf, len, "[%s]:%u", addr, ntohs(in6->sin6_port));
	} else {
		return asked;
	}
	return buf;
}

int lunar_metrics_start(struct lunar_daemon *d, const char *listen_at, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char host[256], *colon;
	int one = 1, rc;

	snprintf(host, sizeof(host), "%s", listen_at);
	colon = strrchr(host, ':');
	if (!colon) {
		snprintf(err, errlen, "'%s' is not ADDRESS:PORT", listen_at);
		return -1;
	}
	*colon = 0;
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "%s: %s", listen_at, gai_strerror(rc));
		return -1;
	}
	listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(listen_fd, 16) < 0 ||
	    pipe2(stop_pipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: %s", listen_at, strerror(errno));
		freeaddrinfo(ai);
		lunar_metrics_stop();
		return -1;
	}
	freeaddrinfo(ai);
	if (pthread_create(&thread, NULL, metrics_main, d) != 0) {
		snprintf(err, errlen, "cannot start its thread");
		lunar_metrics_stop();
		return -1;
	}
	log_info("metrics: http://%s/metrics", bound_address(listen_at, host, sizeof(host)));
	return 0;
}

void lunar_metrics_stop(void)
{
	if (stop_pipe[1] >= 0) {
		if (write(stop_pipe[1], "x", 1) == 1 && thread)
			pthread_join(thread, NULL);
	}
	thread = 0;
	for (int i = 0; i < 2; i++) {
		if (stop_pipe[i] >= 0)
			close(stop_pipe[i]);
		stop_pipe[i] = -1;
	}
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}
