/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_RELOAD_H
#define LUNAR_RELOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct lunar_daemon;
struct lunar_lun;
struct lunar_lun_config;
struct lunar_value;
struct lunar_reload;

/*
 * Tries a handler for lun (from cfg and args) in a child process: load,
 * open(), check().  0 when it passed; -1 with err when it failed or did
 * not finish within timeout_ms (the child is then killed).
 */
int lunar_reload_check(struct lunar_lun *lun, const struct lunar_lun_config *cfg,
		       const struct lunar_value *args, int timeout_ms, char *err, size_t errlen);

/* The reload thread: builds new generations off the hot path. */
struct lunar_reload *lunar_reload_start(struct lunar_daemon *d);
void lunar_reload_stop(struct lunar_reload *r);

/* Someone waiting for a reload's outcome (lunarctl reload). */
struct lunar_reload_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, ok;
	char msg[8192];		/* one line per LUN */
};
void lunar_reload_wait_init(struct lunar_reload_wait *w);
/* Blocks until the reload finished, then frees the wait's resources. */
void lunar_reload_wait_done(struct lunar_reload_wait *w);

/* Queues a reload of one LUN's handler (lun) or of the whole config
 * (NULL: diff, add, remove, new generations).  w may be NULL. */
void lunar_reload_request(struct lunar_reload *r, const char *lun, const char *why,
			  struct lunar_reload_wait *w);

/* A config reload's changes are applied by the main thread (it owns the
 * transports): poll this fd, call apply when readable. */
int lunar_reload_fd(struct lunar_reload *r);
void lunar_reload_apply(struct lunar_reload *r);

#endif
