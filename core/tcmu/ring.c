/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scsi/cdb.h"
#include "lunar/abi.h"
#include "tcmu/ring.h"

/*
 * Who writes what: the kernel writes entries, then publishes cmd_head with
 * a release store; we load it with acquire before reading an entry (on
 * weakly ordered CPUs a plain load let tcmu-runner read entries before
 * their contents, "cmd_id 0 not found, ring is broken").  We write
 * responses into entries we consumed, then publish cmd_tail with release.
 */

static int __attribute__((format(printf, 2, 3)))
broken(struct lunar_tcmu_ring *r, const char *fmt, ...)
{
	va_list ap;

	r->broken = true;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -1;
}

int lunar_tcmu_ring_init(struct lunar_tcmu_ring *r, void *map, uint64_t map_size)
{
	struct lunar_tcmu_mailbox *mb = map;

	memset(r, 0, sizeof(*r));
	if (!map || map_size < sizeof(*mb))
		return broken(r, "map of %llu bytes is smaller than the mailbox",
			      (unsigned long long)map_size);
	if (mb->version != LUNAR_TCMU_MAILBOX_VERSION)
		return broken(r, "mailbox version %u, only version %u is supported",
			      mb->version, LUNAR_TCMU_MAILBOX_VERSION);
	if (mb->cmdr_off < sizeof(*mb) || mb->cmdr_off % LUNAR_TCMU_ALIGN)
		return broken(r, "command ring offset %u is invalid", mb->cmdr_off);
	if (mb->cmdr_size < 2 * LUNAR_TCMU_ENTRY_MIN || mb->cmdr_size % LUNAR_TCMU_ALIGN ||
	    (uint64_t)mb->cmdr_off + mb->cmdr_size > map_size)
		return broken(r, "command ring size %u does not fit a map of %llu bytes",
			      mb->cmdr_size, (unsigned long long)map_size);
	r->base = map;
	r->map_size = map_size;
	r->mb = mb;
	r->cmdr = (uint8_t *)map + mb->cmdr_off;
	r->cmdr_size = mb->cmdr_size;
	r->data_off = (uint64_t)mb->cmdr_off + mb->cmdr_size;
	r->caps = mb->flags;
	r->ctail = __atomic_load_n(&mb->cmd_tail, __ATOMIC_ACQUIRE);
	if (r->ctail >= r->cmdr_size || r->ctail % LUNAR_TCMU_ALIGN)
		return broken(r, "cmd_tail %u is outside the ring of %u bytes", r->ctail,
			      r->cmdr_size);
	r->dtail = r->ctail;
	return 0;
}

static uint32_t ring_used(const struct lunar_tcmu_ring *r, uint32_t head, uint32_t tail)
{
	return head >= tail ? head - tail : r->cmdr_size - tail + head;
}

static void bad_cmd(struct lunar_tcmu_entry *e, uint8_t bad, const char *why)
{
	e->kind = LUNAR_TCMU_BAD_CMD;
	e->bad = bad;
	e->why = why;
}

static void decode_cmd(struct lunar_tcmu_ring *r, const uint8_t *ent, struct lunar_tcmu_entry *e)
{
	const struct lunar_tcmu_cmd_entry *c = (const void *)ent;
	/* where init found the ring, not what the mailbox says now */
	uint64_t start = (uint64_t)(r->cmdr - r->base) + r->ctail;
	uint64_t end = start + e->len;
	uint64_t n = (uint64_t)c->req.iov_cnt + c->req.iov_bidi_cnt;
	uint64_t cdb_off = c->req.cdb_off;
	uint64_t iov_end = 48 + 16 * n;
	int cdb_len;

	e->kind = LUNAR_TCMU_CMD;
	e->iov_cnt = c->req.iov_cnt;
	e->bidi_cnt = c->req.iov_bidi_cnt;
	if (iov_end > e->len)
		return bad_cmd(e, LUNAR_TCMU_BAD_ENTRY, "iovec array runs past the entry");
	/* The kernel places the CDB right after the iovecs, inside the entry. */
	if (cdb_off < start + iov_end || cdb_off >= end)
		return bad_cmd(e, LUNAR_TCMU_BAD_ENTRY, "CDB offset is outside the entry");
	e->cdb = r->base + cdb_off;
	cdb_len = lunar_cdb_length(e->cdb, end - cdb_off);
	if (cdb_len < 0)
		return bad_cmd(e, LUNAR_TCMU_BAD_ENTRY, "CDB runs past the entry");
	e->cdb_len = (uint32_t)cdb_len;
	e->raw_iov = ent + 48;
	for (uint64_t i = 0; i < n; i++) {
		struct iovec v;
		uint64_t off, len;

		memcpy(&v, e->raw_iov + 16 * i, sizeof(v));
		off = (uint64_t)(uintptr_t)v.iov_base;
		len = v.iov_len;
		if (off < r->data_off || off > r->map_size || len > r->map_size - off)
			return bad_cmd(e, LUNAR_TCMU_BAD_ENTRY, "iovec outside the data area");
		if (i < e->iov_cnt)
			e->length += len;
		else
			e->bidi_length += len;
	}
	if (e->cdb_len > LUNAR_CDB_MAX)
		return bad_cmd(e, LUNAR_TCMU_BAD_CDB, "CDB longer than 32 bytes");
}

static void decode_tmr(const uint8_t *ent, struct lunar_tcmu_entry *e)
{
	const struct lunar_tcmu_tmr_entry *t = (const void *)ent;
	uint64_t max = (e->len - sizeof(*t)) / 2;

	e->kind = LUNAR_TCMU_TMR;
	e->tmr_type = t->tmr_type;
	e->tmr_cnt = t->cmd_cnt;
	e->tmr_ids = ent + sizeof(*t);
	if (e->tmr_cnt > max) {
		/* informational only: keep the ids that are really there */
		e->tmr_cnt = (uint32_t)max;
		e->why = "TMR id list runs past the entry";
	}
}

int lunar_tcmu_ring_next(struct lunar_tcmu_ring *r, struct lunar_tcmu_entry *e)
{
	for (;;) {
		uint32_t head, len, op;
		struct lunar_tcmu_hdr *h;

		if (r->broken)
			return -1;
		head = __atomic_load_n(&r->mb->cmd_head, __ATOMIC_ACQUIRE);
		if (head >= r->cmdr_size || head % LUNAR_TCMU_ALIGN)
			return broken(r, "cmd_head %u is outside the ring of %u bytes", head,
				      r->cmdr_size);
		/* the kernel writes only where cmd_tail lets it: a head that
		 * went back, or round past entries we still hold, is a
		 * producer that overwrote them */
		if (ring_used(r, head, r->dtail) < ring_used(r, r->ctail, r->dtail))
			return broken(r, "cmd_head %u went into entries not yet completed "
				      "(consumed up to %u, completed up to %u)", head, r->ctail,
				      r->dtail);
		if (r->ctail == head)
			return 0;
		h = (void *)(r->cmdr + r->ctail);
		len = h->len_op & ~(uint32_t)LUNAR_TCMU_OP_MASK;
		op = h->len_op & LUNAR_TCMU_OP_MASK;
		if (len == 0)
			return broken(r, "entry at %u has length 0", r->ctail);
		if (len > r->cmdr_size - r->ctail)
			return broken(r, "entry at %u of %u bytes runs past the ring end",
				      r->ctail, len);
		if (len > ring_used(r, head, r->ctail))
			return broken(r, "entry at %u of %u bytes runs past cmd_head", r->ctail,
				      len);
		memset(e, 0, sizeof(*e));
		e->len = len;
		switch (op) {
		case LUNAR_TCMU_OP_PAD:
			r->ctail = (r->ctail + len) % r->cmdr_size;
			continue;
		case LUNAR_TCMU_OP_CMD:
			/* The response needs a whole entry, and 0 is never an id. */
			if (len < LUNAR_TCMU_ENTRY_MIN)
				return broken(r, "command at %u is only %u bytes", r->ctail, len);
			if (h->cmd_id == 0)
				return broken(r, "command at %u has cmd_id 0", r->ctail);
			e->cmd_id = h->cmd_id;
			decode_cmd(r, (const uint8_t *)h, e);
			r->pending++;
			break;
		case LUNAR_TCMU_OP_TMR:
			if (len < sizeof(struct lunar_tcmu_tmr_entry))
				return broken(r, "TMR at %u is only %u bytes", r->ctail, len);
			decode_tmr((const uint8_t *)h, e);
			break;
		default:
			/* A future entry type: say so and step over it, as libtcmu
			 * does; completion steps over it too. */
			h->uflags |= LUNAR_TCMU_UFLAG_UNKNOWN_OP;
			r->ctail = (r->ctail + len) % r->cmdr_size;
			continue;
		}
		r->ctail = (r->ctail + len) % r->cmdr_size;
		return 1;
	}
}

void lunar_tcmu_ring_iov(const struct lunar_tcmu_ring *r, const struct lunar_tcmu_entry *e,
			 struct iovec *out)
{
	uint32_t n = e->iov_cnt + e->bidi_cnt;

	for (uint32_t i = 0; i < n; i++) {
		struct iovec v;

		memcpy(&v, e->raw_iov + 16 * i, sizeof(v));
		out[i].iov_base = r->base + (uintptr_t)v.iov_base;
		out[i].iov_len = v.iov_len;
	}
}

uint16_t lunar_tcmu_tmr_id(const struct lunar_tcmu_entry *e, uint32_t i)
{
	uint16_t id;

	memcpy(&id, e->tmr_ids + 2 * i, 2);
	return id;
}

static uint32_t entry_op(const struct lunar_tcmu_ring *r, uint32_t at, uint32_t *len)
{
	const struct lunar_tcmu_hdr *h = (const void *)(r->cmdr + at);

	*len = h->len_op & ~(uint32_t)LUNAR_TCMU_OP_MASK;
	return h->len_op & LUNAR_TCMU_OP_MASK;
}

/* Steps over PAD, TMR and unknown entries between t and the consume point:
 * the kernel skips them when it cleans up, and they hold ring space. */
static uint32_t skip_non_cmd(const struct lunar_tcmu_ring *r, uint32_t t)
{
	uint32_t len;

	while (t != r->ctail && entry_op(r, t, &len) != LUNAR_TCMU_OP_CMD)
		t = (t + len) % r->cmdr_size;
	return t;
}

int lunar_tcmu_ring_complete(struct lunar_tcmu_ring *r, const struct lunar_tcmu_done *d)
{
	struct lunar_tcmu_cmd_entry *e;
	uint32_t t, len;

	if (r->pending == 0)
		return broken(r, "completion of cmd_id %u with no command outstanding",
			      d->cmd_id);
	t = skip_non_cmd(r, r->dtail);
	if (t == r->ctail)
		return broken(r, "no command slot at cmd_tail %u for cmd_id %u", t, d->cmd_id);
	e = (void *)(r->cmdr + t);
	if (!(r->caps & LUNAR_TCMU_CAP_OOOC) && e->hdr.cmd_id != d->cmd_id)
		return -2;
	entry_op(r, t, &len);
	/* Steal the oldest slot: the kernel looks the command up by the id we
	 * write, so the slot need not be the one the command came in. */
	e->hdr.cmd_id = d->cmd_id;
	e->hdr.uflags = 0;
	if (d->unknown_op)
		e->hdr.uflags |= LUNAR_TCMU_UFLAG_UNKNOWN_OP;
	if (d->keep_buf && (r->caps & LUNAR_TCMU_CAP_KEEP_BUF))
		e->hdr.uflags |= LUNAR_TCMU_UFLAG_KEEP_BUF;
	e->rsp.scsi_status = d->status;
	e->rsp.read_len = 0;
	if (d->read_len && (r->caps & LUNAR_TCMU_CAP_READ_LEN)) {
		e->hdr.uflags |= LUNAR_TCMU_UFLAG_READ_LEN;
		e->rsp.read_len = d->read_len;
	}
	if (d->sense && d->status == 0x02)
		memcpy(e->rsp.sense_buffer, d->sense, LUNAR_TCMU_SENSE_SIZE);
	t = skip_non_cmd(r, (t + len) % r->cmdr_size);
	r->dtail = t;
	r->pending--;
	__atomic_store_n(&r->mb->cmd_tail, t, __ATOMIC_RELEASE);
	return 0;
}
