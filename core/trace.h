/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TRACE_H
#define LUNAR_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct lunar_lun;
struct lunar_cmd;

/*
 * Live command tracing (lunarctl trace).  While nobody listens, the cost
 * is one relaxed load per batch.  A listener gets its own ring of records
 * the worker fills as commands complete; when the listener is slower than
 * the LUN, records are dropped and counted, the LUN never waits.
 */
struct lunar_trace_rec {
	uint64_t t_ns;			/* CLOCK_REALTIME at completion */
	uint64_t latency_ns;
	uint64_t length;
	uint64_t xfer;
	uint8_t cdb[16];
	uint8_t cdb_len;
	uint8_t dir;
	uint8_t status;
	uint8_t key, asc, ascq;
};

enum { LUNAR_TRACE_RING = 4096, LUNAR_MAX_TRACERS = 4 };

struct lunar_tracer {
	struct lunar_trace_rec rec[LUNAR_TRACE_RING];
	uint64_t head;			/* written by the worker */
	uint64_t tail;			/* written by the listener */
	uint64_t dropped;
	int efd;			/* the worker signals new records */
};

struct lunar_trace_set {
	int active;			/* listeners; read on every batch */
	struct lunar_tracer *t[LUNAR_MAX_TRACERS];
	bool pending[LUNAR_MAX_TRACERS];
};

/* Listener side. */
struct lunar_tracer *lunar_trace_attach(struct lunar_lun *lun);
void lunar_trace_detach(struct lunar_lun *lun, struct lunar_tracer *t);
/* Takes the next record; false when there is none now. */
bool lunar_trace_next(struct lunar_tracer *t, struct lunar_trace_rec *out);
/* "READ(10) lba=2048 len=8 -> GOOD 4096B 31us" (and the JSON form). */
void lunar_trace_format(struct lunar_buf *b, const struct lunar_trace_rec *r, bool json);

/* Worker side: one completed command; then once per batch, wake listeners. */
void lunar_trace_cmd(struct lunar_lun *lun, const struct lunar_cmd *c, uint64_t latency_ns);
void lunar_trace_flush(struct lunar_lun *lun);

static inline bool lunar_tracing(const struct lunar_trace_set *s)
{
	return __atomic_load_n(&s->active, __ATOMIC_RELAXED) != 0;
}

#endif
