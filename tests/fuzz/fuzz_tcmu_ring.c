/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the TCMU ring consumer (core/tcmu/ring.c) fed whatever
 * the producer side can put in the shared map: a buggy kernel, or the
 * in-process sim.  ring.c is "pure code over a mapped region": it must
 * never trust an offset or a length it reads there.
 *
 * The map is one malloc'd block of exactly the size the mailbox declares
 * (mailbox, command ring, data area), so ASan reports any byte read or
 * written outside it.  Input (little-endian):
 *
 *   header (32 bytes): mode (bit 0: take version, cmdr_off and cmdr_size
 *     from the header as they are, else a sane mailbox), ring size
 *     selector, mailbox flags, data area selector, cmd_tail, cmd_head,
 *     script length, version, cmdr_off, cmdr_size;
 *   the script: steps a producer and the daemon take in turn (publish a
 *     cmd_head, decode one entry or all, complete the oldest command or any,
 *     write new bytes into the ring where the producer may, write the
 *     mailbox's producer fields);
 *   the initial ring contents (the rest).
 *
 * After the script the ring is drained and everything completed in order.
 *
 * Properties, each an abort() when broken (besides the sanitizers'):
 *  - every entry handed out lies inside the ring; a command's CDB and iovec
 *    array inside its entry, its CDB at most 32 bytes; a TMR's id list
 *    inside its entry;
 *  - every iovec of a command lies inside the data area (they are also
 *    written to, first and last byte), and their lengths add up to
 *    length and bidi_length;
 *  - a broken ring says why and stays broken;
 *  - completing the oldest command always works, with or without
 *    out-of-order completion; completing another one works with it and is
 *    refused (-2) without it; cmd_tail stays aligned inside the ring and
 *    comes back to the consume point when all is completed.  (Unless the
 *    producer published a cmd_head past our cmd_tail, making us consume
 *    entries we still hold: then a completion may find the ring broken.)
 *
 * The producer writes only what it owns: the mailbox's version, flags,
 * cmdr_off, cmdr_size and cmd_head, and ring bytes outside the entries
 * consumed and not yet completed (those are ours until cmd_tail passes
 * them; the response is written into them).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunar/abi.h"
#include "tcmu/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	HDR = 32,
	MB = LUNAR_TCMU_CMDR_OFF,
	RING_MIN = 2 * LUNAR_TCMU_ENTRY_MIN,
	RING_MAX = RING_MIN + 32 * 255,
	DATA_MAX = 128 * 512,
	MAP_MAX = MB + RING_MAX + DATA_MAX,
	PEND_MAX = 4096,
	DRAIN_MAX = 4096,
};

enum {
	OP_NEXT, OP_DRAIN, OP_HEAD, OP_HEAD_ADD, OP_DONE_OLDEST, OP_DONE_ANY, OP_DONE_ID,
	OP_WRITE, OP_MAILBOX,
};

struct fz {
	const uint8_t *in;
	size_t nin, pos;
	uint8_t *map;
	uint64_t map_size;
	struct lunar_tcmu_ring r;
	struct lunar_tcmu_mailbox *mb;
	uint16_t pend[PEND_MAX];	/* cmd_ids consumed, oldest first */
	uint32_t npend;
	uint64_t owned;			/* ring bytes consumed and not completed */
	bool lapped;			/* the producer made us consume past them */
	bool dead;
};

static struct iovec iov[MAP_MAX / 16 + 1];

#define check(c)								\
	do {									\
		if (!(c)) {							\
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);	\
			abort();						\
		}								\
	} while (0)

static uint8_t u8(struct fz *f)
{
	return f->pos < f->nin ? f->in[f->pos++] : 0;
}

static uint16_t u16(struct fz *f)
{
	uint16_t v = u8(f);

	return (uint16_t)(v | u8(f) << 8);
}

static uint32_t dist(const struct fz *f, uint32_t from, uint32_t to)
{
	return (to + f->r.cmdr_size - from) % f->r.cmdr_size;
}

static bool inside(const uint8_t *p, uint64_t len, const uint8_t *lo, const uint8_t *hi)
{
	return p >= lo && p <= hi && len <= (uint64_t)(hi - p);
}

/* What the daemon does with a command's iovecs: take them and use them. */
static void check_iov(struct fz *f, const struct lunar_tcmu_entry *e)
{
	const uint8_t *lo = f->map + f->r.data_off, *hi = f->map + f->map_size;
	uint32_t n = e->iov_cnt + e->bidi_cnt;
	uint64_t len = 0, bidi = 0;

	check(n < sizeof(iov) / sizeof(iov[0]));
	lunar_tcmu_ring_iov(&f->r, e, iov);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = iov[i].iov_base;

		check(inside(p, iov[i].iov_len, lo, hi));
		if (iov[i].iov_len) {
			p[0] ^= 0xa5;
			p[iov[i].iov_len - 1] ^= 0x5a;
		}
		if (i < e->iov_cnt)
			len += iov[i].iov_len;
		else
			bidi += iov[i].iov_len;
	}
	check(len == e->length && bidi == e->bidi_length);
}

static void check_entry(struct fz *f, const struct lunar_tcmu_entry *e)
{
	const uint8_t *cmdr = f->r.cmdr, *ent, *end;
	uint32_t at;

	check(e->len >= 8 && e->len <= f->r.cmdr_size && e->len % LUNAR_TCMU_ALIGN == 0);
	at = (f->r.ctail + f->r.cmdr_size - e->len) % f->r.cmdr_size;
	check(at + e->len <= f->r.cmdr_size);
	ent = cmdr + at;
	end = ent + e->len;
	switch (e->kind) {
	case LUNAR_TCMU_CMD:
	case LUNAR_TCMU_BAD_CMD: {
		uint64_t arr = 48 + 16 * ((uint64_t)e->iov_cnt + e->bidi_cnt);
		uint8_t cdb[LUNAR_CDB_MAX];

		check(e->cmd_id != 0 && e->len >= LUNAR_TCMU_ENTRY_MIN);
		if (e->kind == LUNAR_TCMU_BAD_CMD) {
			check(e->why && (e->bad == LUNAR_TCMU_BAD_ENTRY || e->bad == LUNAR_TCMU_BAD_CDB));
			if (e->bad == LUNAR_TCMU_BAD_ENTRY)
				break;
		}
		check(arr <= e->len && e->raw_iov == ent + 48);
		check(e->cdb && inside(e->cdb, e->cdb_len, ent + arr, end) && e->cdb_len >= 6);
		check(e->kind == LUNAR_TCMU_BAD_CMD || e->cdb_len <= LUNAR_CDB_MAX);
		if (e->kind == LUNAR_TCMU_BAD_CMD)
			break;
		memcpy(cdb, e->cdb, e->cdb_len);	/* as take_cmd() does */
		check(cdb[0] == e->cdb[0]);
		check_iov(f, e);
		break;
	}
	case LUNAR_TCMU_TMR: {
		uint32_t sum = 0;

		check(e->tmr_ids == ent + sizeof(struct lunar_tcmu_tmr_entry));
		check(inside(e->tmr_ids, 2 * (uint64_t)e->tmr_cnt, ent, end));
		for (uint32_t i = 0; i < e->tmr_cnt; i++)
			sum += lunar_tcmu_tmr_id(e, i);
		(void)sum;
		break;
	}
	default:
		check(!"an entry of no known kind");
	}
}

/* One lunar_tcmu_ring_next(), checked; false when nothing came. */
static bool next(struct fz *f)
{
	struct lunar_tcmu_entry e;
	uint32_t from = f->r.ctail;
	int rc;

	if (f->dead || f->npend == PEND_MAX)
		return false;
	rc = lunar_tcmu_ring_next(&f->r, &e);
	check(rc >= -1 && rc <= 1);
	check(f->r.ctail < f->r.cmdr_size && f->r.ctail % LUNAR_TCMU_ALIGN == 0);
	f->owned += dist(f, from, f->r.ctail);
	if (f->owned >= f->r.cmdr_size)
		f->lapped = true;
	if (rc < 0) {
		check(f->r.broken && f->r.why[0]);
		check(lunar_tcmu_ring_next(&f->r, &e) == -1);
		f->dead = true;
		return false;
	}
	check(!f->r.broken);
	if (rc == 0)
		return false;
	check_entry(f, &e);
	if (e.kind != LUNAR_TCMU_TMR)
		f->pend[f->npend++] = e.cmd_id;
	return true;
}

/* Completes pend[i] (or a made-up id, if id >= 0); checks what it must do. */
static void done(struct fz *f, uint32_t i, int id, uint8_t how)
{
	static const uint8_t sense[LUNAR_TCMU_SENSE_SIZE] = { 0x70, 0, 0x05, [7] = 10, [12] = 0x24 };
	struct lunar_tcmu_done d = {
		.cmd_id = id >= 0 ? (uint16_t)id : f->pend[i],
		.status = how & 1 ? 0x02 : how & 2 ? 0x08 : 0,
		.sense = how & 1 ? sense : NULL,
		.unknown_op = how & 4,
		.keep_buf = how & 8,
		.read_len = how & 16 ? how : 0,
	};
	bool ooo = f->r.caps & LUNAR_TCMU_CAP_OOOC, was_broken = f->r.broken;
	uint32_t from = f->r.dtail;
	int rc;

	if (!f->npend)
		return;
	rc = lunar_tcmu_ring_complete(&f->r, &d);
	if (rc == -1 && f->lapped) {
		/* the producer broke the contract; refusing now is fine */
		check(f->r.broken);
		f->dead = true;
		f->npend = 0;
		return;
	}
	if (ooo || d.cmd_id == f->pend[0]) {
		check(rc == 0);
	} else {
		check(rc == -2 && f->r.broken == was_broken);
		return;
	}
	check(f->r.dtail < f->r.cmdr_size && f->r.dtail % LUNAR_TCMU_ALIGN == 0);
	check(f->mb->cmd_tail == f->r.dtail);
	if (!f->lapped) {
		check(dist(f, from, f->r.dtail) <= f->owned);
		f->owned -= dist(f, from, f->r.dtail);
	}
	/* with OOOC the id named is the one done; without, it is the oldest */
	if (!ooo || id >= 0)
		i = 0;
	memmove(&f->pend[i], &f->pend[i + 1], (f->npend - i - 1) * sizeof(f->pend[0]));
	f->npend--;
}

/* The producer queues bytes: only where we hold nothing. */
static void produce(struct fz *f)
{
	uint32_t free_len = f->r.cmdr_size - (uint32_t)f->owned;
	uint32_t off = u16(f), len = u8(f) * 8u;

	if (f->lapped)
		return;
	off = off * 8u % free_len;
	for (uint32_t i = 0; i < len && off + i < free_len; i++)
		f->r.cmdr[(f->r.ctail + off + i) % f->r.cmdr_size] = u8(f);
}

static void step(struct fz *f, uint8_t op)
{
	switch (op & 15) {
	case OP_NEXT:
	default:
		next(f);
		break;
	case OP_DRAIN:
		for (int i = 0; i < DRAIN_MAX && next(f); i++)
			;
		break;
	case OP_HEAD:
		__atomic_store_n(&f->mb->cmd_head, u16(f), __ATOMIC_RELEASE);
		break;
	case OP_HEAD_ADD:
		f->mb->cmd_head = (f->r.ctail + u16(f) * 8u) % f->r.cmdr_size;
		break;
	case OP_DONE_OLDEST:
		done(f, 0, -1, u8(f));
		break;
	case OP_DONE_ANY: {
		uint8_t which = u8(f);

		if (f->npend)
			done(f, which % f->npend, -1, u8(f));
		break;
	}
	case OP_DONE_ID: {
		uint16_t id = u16(f);

		/* a made-up id: OOOC takes the oldest slot for it */
		if (f->r.caps & LUNAR_TCMU_CAP_OOOC)
			done(f, 0, id, u8(f));
		break;
	}
	case OP_WRITE:
		produce(f);
		break;
	case OP_MAILBOX: {
		uint8_t at = u8(f) % 16, n = u8(f) % 16;

		for (uint8_t i = 0; i < n && at + i < 16; i++)
			((uint8_t *)f->mb)[at + i] = u8(f);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz fz;
	struct fz *f = &fz;
	uint8_t hdr[HDR] = { 0 };
	uint32_t ring, data_size, script;
	const uint8_t *rest;
	size_t nrest;

	memcpy(hdr, data, size < HDR ? size : HDR);
	memset(f, 0, sizeof(*f));
	ring = RING_MIN + 32u * hdr[1];
	data_size = (uint32_t)((hdr[4] | hdr[5] << 8) % (DATA_MAX / 512 + 1)) * 512;
	script = hdr[10] | hdr[11] << 8;
	rest = size > HDR ? data + HDR : data + size;
	nrest = size > HDR ? size - HDR : 0;
	if (script > nrest)
		script = (uint32_t)nrest;

	f->map_size = MB + ring + data_size;
	f->map = calloc(1, f->map_size);
	if (!f->map)
		abort();
	f->mb = (struct lunar_tcmu_mailbox *)f->map;
	memcpy(f->map + MB, rest + script,
	       nrest - script < ring + data_size ? nrest - script : ring + data_size);
	f->mb->version = LUNAR_TCMU_MAILBOX_VERSION;
	f->mb->flags = (uint16_t)(hdr[2] | hdr[3] << 8);
	f->mb->cmdr_off = MB;
	f->mb->cmdr_size = ring;
	f->mb->cmd_tail = (uint32_t)(hdr[6] | hdr[7] << 8);
	f->mb->cmd_head = (uint32_t)(hdr[8] | hdr[9] << 8);
	if (hdr[0] & 1) {
		memcpy(&f->mb->version, hdr + 12, 2);
		memcpy(&f->mb->cmdr_off, hdr + 16, 4);
		memcpy(&f->mb->cmdr_size, hdr + 20, 4);
	}
	if (lunar_tcmu_ring_init(&f->r, f->map, f->map_size) < 0) {
		check(f->r.broken && f->r.why[0]);
		free(f->map);
		return 0;
	}
	check(f->r.cmdr >= f->map + MB && f->r.data_off <= f->map_size);
	check(inside(f->r.cmdr, f->r.cmdr_size, f->map, f->map + f->map_size));

	f->in = rest;
	f->nin = script;
	while (f->pos < f->nin)
		step(f, u8(f));

	/* the end: take what is left, answer everything in order */
	for (int i = 0; i < DRAIN_MAX && next(f); i++)
		;
	if (f->npend) {
		while (f->npend)
			done(f, 0, -1, 0);
		check(f->lapped || (f->r.dtail == f->r.ctail && f->mb->cmd_tail == f->r.ctail));
	}
	/* one completion too many is refused, and breaks the ring */
	{
		struct lunar_tcmu_done d = { .cmd_id = 1 };

		check(lunar_tcmu_ring_complete(&f->r, &d) == -1 && f->r.broken);
	}
	free(f->map);
	return 0;
}
