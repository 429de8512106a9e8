/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_WATCHDOG_H
#define LUNAR_WATCHDOG_H

struct lunar_daemon;

/*
 * The watchdog thread: JIT-compiled Lua cannot be interrupted, so
 * deadlines are enforced from outside.  Every 50 ms it looks at each LUN
 * (lunar_lun_watch): a worker stuck in Lua past the LUN's deadline is
 * replaced and a fresh generation requested; held commands past it are
 * answered BUSY by their worker.
 */
int lunar_watchdog_start(struct lunar_daemon *d);
void lunar_watchdog_stop(void);

enum {
	LUNAR_QUARANTINE_FAULTS = 3,	/* wedges ... */
};
#define LUNAR_QUARANTINE_WINDOW_NS (600ull * 1000000000u)	/* ... in 10 minutes */

#endif
