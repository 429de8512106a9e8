/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_LOG_H
#define LUNAR_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "lunar/abi.h"

void lunar_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lunar_log_set_level(int level);

#define log_err(...) lunar_logf(LUNAR_LOG_ERR, __VA_ARGS__)
#define log_warn(...) lunar_logf(LUNAR_LOG_WARN, __VA_ARGS__)
#define log_info(...) lunar_logf(LUNAR_LOG_INFO, __VA_ARGS__)
#define log_debug(...) lunar_logf(LUNAR_LOG_DEBUG, __VA_ARGS__)

/*
 * At most `burst` messages per `interval_ns`; the rest are counted and the
 * count is reported with the next message let through.
 */
struct lunar_ratelimit {
	uint64_t interval_ns;
	unsigned burst;
	uint64_t window_start;
	unsigned printed;
	unsigned suppressed;
};

#define LUNAR_RATELIMIT_INIT(ns, b) { .interval_ns = (ns), .burst = (b) }

/* Returns true if a message may be printed; *suppressed gets the count
 * of messages dropped since the last one printed. */
bool lunar_ratelimit(struct lunar_ratelimit *rl, uint64_t now_ns, unsigned *suppressed);

#endif
