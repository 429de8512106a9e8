/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_STATS_H
#define LUNAR_STATS_H

#include <stdint.h>

/*
 * Per-LUN counters.  Every counter has exactly one writer, the LUN's
 * worker, so an increment is a relaxed load and store (no locked
 * instruction on the hot path); readers (lunarctl, metrics) load relaxed
 * and may see a count that is a few commands old, never a torn one.
 */

static inline void lunar_stat_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline uint64_t lunar_stat_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Latency: exact below 32 ns, then 16 buckets per octave (about 6%). */
enum { LUNAR_HIST_BUCKETS = 32 + 40 * 16 };

struct lunar_hist {
	uint64_t n[LUNAR_HIST_BUCKETS];
	uint64_t count;
	uint64_t sum_ns;
};

void lunar_hist_add(struct lunar_hist *h, uint64_t ns);
/* The value below which a fraction p of the samples lie (0 if none). */
uint64_t lunar_hist_percentile(const struct lunar_hist *h, double p);

/* Opcode classes latency is kept for. */
enum lunar_op_class {
	LUNAR_CLASS_READ,
	LUNAR_CLASS_WRITE,
	LUNAR_CLASS_UNMAP,	/* UNMAP, WRITE SAME */
	LUNAR_CLASS_SYNC,	/* SYNCHRONIZE CACHE */
	LUNAR_CLASS_OTHER,
	LUNAR_CLASS_N,
};

extern const char *const lunar_class_names[LUNAR_CLASS_N];
enum lunar_op_class lunar_op_class(uint8_t opcode);

/* Statuses counted apart. */
enum {
	LUNAR_ST_GOOD, LUNAR_ST_CHECK, LUNAR_ST_BUSY, LUNAR_ST_TASK_SET_FULL,
	LUNAR_ST_RESERVATION_CONFLICT, LUNAR_ST_TASK_ABORTED, LUNAR_ST_OTHER, LUNAR_ST_N,
};
extern const char *const lunar_status_keys[LUNAR_ST_N];

/* Errors by sense: the first distinct key/ASC/ASCQ seen, with counts. */
enum { LUNAR_SENSE_SLOTS = 32 };

struct lunar_sense_count {
	uint32_t kcq;		/* 1 << 24 | key << 16 | asc << 8 | ascq; 0 = empty */
	uint64_t count;
};

struct lunar_stats {
	uint64_t commands;
	uint64_t errors;		/* status other than GOOD */
	uint64_t handler_errors;	/* Lua errors turned into 4/44/00 */
	uint64_t bytes_in;		/* Data-In bytes returned */
	uint64_t bytes_out;		/* Data-Out bytes received */
	uint64_t batches;
	uint64_t tmrs;
	uint64_t reloads;
	uint64_t faults;		/* wedged or crashed generations */
	uint64_t queue_max;
	uint64_t lua_memory;		/* the serving generation's, as the worker last saw it */
	uint64_t status[LUNAR_ST_N];
	uint64_t sense_other;		/* sense that did not fit the table */
	struct lunar_sense_count sense[LUNAR_SENSE_SLOTS];
	struct lunar_hist lat[LUNAR_CLASS_N];
};

/* One completed command, by the worker. */
void lunar_stats_command(struct lunar_stats *s, uint8_t opcode, uint8_t status, const uint8_t *sense,
			 uint8_t sense_len, uint64_t latency_ns);

#endif
