/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_LOG_H
#define LUNAR_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "lunar/abi.h"

/*
 * Where log lines go.  text: "HH:MM:SS.mmm lunar LEVEL: [LUN: ]message" on
 * stderr; json: one object per line on stderr ({"ts","level","lun","msg"});
 * journal: journald's native socket, with PRIORITY and LUNAR_LUN fields.
 */
enum lunar_log_format { LUNAR_LOGFMT_TEXT, LUNAR_LOGFMT_JSON, LUNAR_LOGFMT_JOURNAL };

void lunar_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, about one LUN: its name is a field of its own in json and journal. */
void lunar_logf_lun(int level, const char *lun, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lunar_log_set_level(int level);
/* "text", "json", "journal" or "auto" (journal when stderr is the journal,
 * as systemd says with $JOURNAL_STREAM; text otherwise).  -1 for a name it
 * does not know, or journal without a journald socket. */
int lunar_log_set_format(const char *name);
enum lunar_log_format lunar_log_format(void);

#define log_err(...) lunar_logf(LUNAR_LOG_ERR, __VA_ARGS__)
#define log_warn(...) lunar_logf(LUNAR_LOG_WARN, __VA_ARGS__)
#define log_info(...) lunar_logf(LUNAR_LOG_INFO, __VA_ARGS__)
#define log_debug(...) lunar_logf(LUNAR_LOG_DEBUG, __VA_ARGS__)
#define lun_err(name, ...) lunar_logf_lun(LUNAR_LOG_ERR, name, __VA_ARGS__)
#define lun_warn(name, ...) lunar_logf_lun(LUNAR_LOG_WARN, name, __VA_ARGS__)
#define lun_info(name, ...) lunar_logf_lun(LUNAR_LOG_INFO, name, __VA_ARGS__)
#define lun_debug(name, ...) lunar_logf_lun(LUNAR_LOG_DEBUG, name, __VA_ARGS__)

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
