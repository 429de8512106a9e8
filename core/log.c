/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int log_level = LUNAR_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void lunar_log_set_level(int level)
{
	log_level = level;
}

static const char *level_name(int level)
{
	switch (level) {
	case LUNAR_LOG_ERR: return "error";
	case LUNAR_LOG_WARN: return "warning";
	case LUNAR_LOG_INFO: return "info";
	default: return "debug";
	}
}

void lunar_logf(int level, const char *fmt, ...)
{
	char msg[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	/* One write per message so lines from worker threads never interleave. */
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%02d:%02d:%02d.%03ld lunar %s: %s\n", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000000, level_name(level), msg);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

bool lunar_ratelimit(struct lunar_ratelimit *rl, uint64_t now_ns, unsigned *suppressed)
{
	*suppressed = 0;
	if (now_ns - rl->window_start >= rl->interval_ns || rl->window_start == 0) {
		rl->window_start = now_ns;
		rl->printed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	return false;
}
