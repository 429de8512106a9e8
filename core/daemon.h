/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_DAEMON_H
#define LUNAR_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct lunar_config;
struct lunar_lun;

struct lunar_daemon {
	struct lunar_config *cfg;
	struct lunar_lun **luns;
	size_t nluns;
	pthread_rwlock_t lock;		/* the LUN list (ctl threads read it) */
	const char *ctl_path;
	int ctl_fd;
	atomic_bool stopping;
	struct lunar_reload *reload;	/* the reload thread */
	pthread_mutex_t zlock;		/* memory of timed-out ctl commands */
	void **zombies;
	size_t nzombies;
};

#define LUNAR_DEFAULT_CTL "/run/lunar/ctl.sock"

/* `lunar run`: serves the config until SIGINT/SIGTERM; the exit status. */
int lunar_daemon_run(const char *config_path, const char *ctl_path);

/* With d->lock held (read): the LUN named name, or NULL. */
struct lunar_lun *lunar_daemon_find(struct lunar_daemon *d, const char *name);
/* Keeps p until exit: a sim command whose initiator gave up waiting. */
void lunar_daemon_keep(struct lunar_daemon *d, void *p);

#endif
