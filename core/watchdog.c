/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "lun.h"
#include "reload.h"
#include "util.h"
#include "watchdog.h"

static pthread_t thread;
static atomic_bool running;

static void look(struct lunar_daemon *d)
{
	uint64_t now = lunar_now_ns();

	pthread_rwlock_rdlock(&d->lock);
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *lun = d->luns[i];

		enum lunar_watch w;

		if (!lun->thread_started || (w = lunar_lun_watch(lun, now)) == LUNAR_WATCH_OK)
			continue;
		if (w == LUNAR_WATCH_WEDGED)
			lun_err(lun->cfg.name,
				"its handler ran past the %.1fs deadline and is wedged: a new worker "
				"answers its commands BUSY", (double)lun->cfg.deadline_ns / 1e9);
		else
			lun_err(lun->cfg.name,
				"its handler holds half its queue past the deadline without answering: "
				"a new generation takes over");
		if (lunar_lun_fault(lun, now, LUNAR_QUARANTINE_FAULTS, LUNAR_QUARANTINE_WINDOW_NS)) {
			lun_err(lun->cfg.name,
				"quarantined (NOT READY) after %d handler faults; lunarctl reload %s "
				"to try again", LUNAR_QUARANTINE_FAULTS, lun->cfg.name);
			continue;
		}
		if (d->reload)
			lunar_reload_request(d->reload, lun->cfg.name,
					     w == LUNAR_WATCH_WEDGED ? "recovering from a wedged handler" :
					     "recovering from a handler that forgets commands", NULL);
	}
	pthread_rwlock_unlock(&d->lock);
}

static void *watchdog_main(void *arg)
{
	struct lunar_daemon *d = arg;
	struct timespec ts = { 0, 50000000 };

	pthread_setname_np(pthread_self(), "lunar/watchdog");
	while (atomic_load(&running)) {
		nanosleep(&ts, NULL);
		look(d);
	}
	return NULL;
}

int lunar_watchdog_start(struct lunar_daemon *d)
{
	atomic_store(&running, true);
	if (pthread_create(&thread, NULL, watchdog_main, d) != 0) {
		atomic_store(&running, false);
		log_err("watchdog: cannot start its thread: deadlines are not enforced");
		return -1;
	}
	return 0;
}

void lunar_watchdog_stop(void)
{
	if (!atomic_exchange(&running, false))
		return;
	pthread_join(thread, NULL);
}
