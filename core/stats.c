/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "scsi/sense.h"
#include "stats.h"

const char *const lunar_class_names[LUNAR_CLASS_N] = { "read", "write", "unmap", "sync", "other" };
const char *const lunar_status_keys[LUNAR_ST_N] = {
	"good", "check_condition", "busy", "task_set_full", "reservation_conflict", "task_aborted",
	"other",
};

static unsigned bucket(uint64_t v)
{
	unsigned e, b;

	if (v < 32)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v) - 4;	/* v >> e is in [16, 32) */
	b = 32 + (e - 1) * 16 + (unsigned)((v >> e) - 16);
	return b < LUNAR_HIST_BUCKETS ? b : LUNAR_HIST_BUCKETS - 1;
}

/* The upper edge of bucket b (what a percentile reports). */
static uint64_t bucket_top(unsigned b)
{
	unsigned e;

	if (b < 32)
		return b;
	e = (b - 32) / 16 + 1;
	return ((uint64_t)((b - 32) % 16 + 17) << e) - 1;
}

void lunar_hist_add(struct lunar_hist *h, uint64_t ns)
{
	lunar_stat_add(&h->n[bucket(ns)], 1);
	lunar_stat_add(&h->count, 1);
	lunar_stat_add(&h->sum_ns, ns);
}

uint64_t lunar_hist_percentile(const struct lunar_hist *h, double p)
{
	uint64_t total = 0, want, seen = 0;

	for (unsigned b = 0; b < LUNAR_HIST_BUCKETS; b++)
		total += lunar_stat_get(&h->n[b]);
	if (!total)
		return 0;
	want = (uint64_t)ceil(p * (double)total);
	if (want == 0)
		want = 1;
	for (unsigned b = 0; b < LUNAR_HIST_BUCKETS; b++) {
		seen += lunar_stat_get(&h->n[b]);
		if (seen >= want)
			return bucket_top(b);
	}
	return bucket_top(LUNAR_HIST_BUCKETS - 1);
}

enum lunar_op_class lunar_op_class(uint8_t op)
{
	switch (op) {
	case 0x08: case 0x28: case 0xa8: case 0x88:
		return LUNAR_CLASS_READ;
	case 0x0a: case 0x2a: case 0xaa: case 0x8a:
	case 0x2e: case 0xae: case 0x8e: case 0x89:
		return LUNAR_CLASS_WRITE;
	case 0x42: case 0x41: case 0x93:
		return LUNAR_CLASS_UNMAP;
	case 0x35: case 0x91:
		return LUNAR_CLASS_SYNC;
	default:
		return LUNAR_CLASS_OTHER;
	}
}

static unsigned status_index(uint8_t st)
{
	switch (st) {
	case 0x00: return LUNAR_ST_GOOD;
	case 0x02: return LUNAR_ST_CHECK;
	case 0x08: return LUNAR_ST_BUSY;
	case 0x28: return LUNAR_ST_TASK_SET_FULL;
	case 0x18: return LUNAR_ST_RESERVATION_CONFLICT;
	case 0x40: return LUNAR_ST_TASK_ABORTED;
	default: return LUNAR_ST_OTHER;
	}
}

static void count_sense(struct lunar_stats *s, const uint8_t *sense, uint8_t len)
{
	struct lunar_sense_info si;
	uint32_t kcq;

	if (lunar_sense_decode(sense, len, &si) < 0)
		return;
	kcq = 1u << 24 | (uint32_t)si.key << 16 | (uint32_t)si.asc << 8 | si.ascq;
	for (unsigned i = 0; i < LUNAR_SENSE_SLOTS; i++) {
		struct lunar_sense_count *c = &s->sense[(kcq * 2654435761u >> 27) % LUNAR_SENSE_SLOTS ^ i];

		if (c->kcq == kcq) {
			lunar_stat_add(&c->count, 1);
			return;
		}
		if (c->kcq == 0) {
			lunar_stat_add(&c->count, 1);
			__atomic_store_n(&c->kcq, kcq, __ATOMIC_RELEASE);
			return;
		}
	}
	lunar_stat_add(&s->sense_other, 1);
}

void lunar_stats_command(struct lunar_stats *s, uint8_t opcode, uint8_t status, const uint8_t *sense,
			 uint8_t sense_len, uint64_t latency_ns)
{
	lunar_stat_add(&s->commands, 1);
	lunar_stat_add(&s->status[status_index(status)], 1);
	if (status != 0) {
		lunar_stat_add(&s->errors, 1);
		if (status == 0x02 && sense_len)
			count_sense(s, sense, sense_len);
	}
	lunar_hist_add(&s->lat[lunar_op_class(opcode)], latency_ns);
}
