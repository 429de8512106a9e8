/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lun.h"
#include "scsi/cdb.h"
#include "scsi/sense.h"
#include "tcmu/port.h"
#include "tcmu/ring.h"
#include "util.h"

/* A completion waiting for older ones (only without CAP_OOOC). */
struct pending {
	uint16_t cmd_id;
	bool done;
	bool keep_buf;
	uint8_t status;
	uint32_t read_len;
	uint8_t sense[LUNAR_SENSE_MAX];
};

struct tcmu_port {
	struct lunar_port port;
	struct lunar_tcmu_ring ring;
	int fd;
	const struct lunar_tcmu_notify *notify;
	void *ctx;
	bool need_kick;
	bool dead;
	bool ooo;
	struct pending *fifo;		/* consumption order, when !ooo */
	uint32_t fifo_head, fifo_n, fifo_cap;
	struct lunar_cmd **tmr_cmds;
	struct lunar_ratelimit rl;
};

static struct tcmu_port *to_tp(struct lunar_port *p)
{
	return (struct tcmu_port *)p;
}

static int tp_fd(struct lunar_port *p)
{
	return to_tp(p)->fd;
}

static void die_why(struct tcmu_port *tp, const char *why)
{
	if (!tp->dead)
		log_err("%s: %s", tp->port.lun->cfg.name, why);
	tp->dead = true;
}

static void die(struct tcmu_port *tp)
{
	char why[sizeof(tp->ring.why) + 64];

	snprintf(why, sizeof(why), "TCMU ring broken, no longer served: %s", tp->ring.why);
	die_why(tp, why);
}

static void write_done(struct tcmu_port *tp, const struct lunar_tcmu_done *d)
{
	if (lunar_tcmu_ring_complete(&tp->ring, d) == -1)
		die(tp);
	tp->need_kick = true;
}

/* Without OOOC the kernel needs completions in ring order. */
static void fifo_push(struct tcmu_port *tp, uint16_t cmd_id)
{
	struct pending *e = &tp->fifo[(tp->fifo_head + tp->fifo_n++) % tp->fifo_cap];

	e->cmd_id = cmd_id;
	e->done = false;
}

static void fifo_set(struct tcmu_port *tp, const struct lunar_tcmu_done *d)
{
	for (uint32_t i = 0; i < tp->fifo_n; i++) {
		struct pending *e = &tp->fifo[(tp->fifo_head + i) % tp->fifo_cap];

		if (e->cmd_id != d->cmd_id || e->done)
			continue;
		e->done = true;
		e->keep_buf = d->keep_buf;
		e->status = d->status;
		e->read_len = d->read_len;
		if (d->sense)
			memcpy(e->sense, d->sense, sizeof(e->sense));
		return;
	}
	log_err("%s: completion of unknown cmd_id %u", tp->port.lun->cfg.name, d->cmd_id);
}

static void fifo_flush(struct tcmu_port *tp)
{
	while (tp->fifo_n && tp->fifo[tp->fifo_head].done && !tp->dead) {
		struct pending *e = &tp->fifo[tp->fifo_head];
		struct lunar_tcmu_done d = {
			.cmd_id = e->cmd_id, .status = e->status, .read_len = e->read_len,
			.sense = e->sense, .keep_buf = e->keep_buf,
		};

		write_done(tp, &d);
		tp->fifo_head = (tp->fifo_head + 1) % tp->fifo_cap;
		tp->fifo_n--;
	}
}

static void complete_done(struct tcmu_port *tp, const struct lunar_tcmu_done *d)
{
	if (tp->ooo)
		write_done(tp, d);
	else
		fifo_set(tp, d);
}

/* A command framed well enough to answer, but not servable. */
static void refuse(struct tcmu_port *tp, const struct lunar_tcmu_entry *e)
{
	uint8_t sense[LUNAR_SENSE_MAX] = { 0 };
	struct lunar_tcmu_done d = { .cmd_id = e->cmd_id, .status = LUNAR_CHECK_CONDITION,
				     .sense = sense };
	unsigned suppressed;

	if (e->bad == LUNAR_TCMU_BAD_CDB)
		lunar_sense_fixed(sense, LUNAR_SK_ILLEGAL_REQUEST, 0x20, 0x00);
	else
		lunar_sense_fixed(sense, LUNAR_SK_HARDWARE_ERROR, 0x44, 0x00);
	if (lunar_ratelimit(&tp->rl, lunar_now_ns(), &suppressed))
		log_warn("%s: refused command %u: %s%s", tp->port.lun->cfg.name, e->cmd_id, e->why,
			 suppressed ? " (and more, not shown)" : "");
	if (!tp->ooo)
		fifo_push(tp, e->cmd_id);
	complete_done(tp, &d);
}

static void take_cmd(struct tcmu_port *tp, const struct lunar_tcmu_entry *e)
{
	struct lunar_lun *lun = tp->port.lun;
	struct lunar_cmd *c = lunar_lun_slot_get(lun);
	uint32_t n = e->iov_cnt + e->bidi_cnt;
	struct iovec *iov = lunar_lun_slot_iov(lun, c, n ? n : 1);

	c->tag = e->cmd_id;
	if (!tp->ooo)
		fifo_push(tp, e->cmd_id);
	if (!iov) {
		/* no memory for its iovecs: answer it at once, retryable */
		c->status = LUNAR_TASK_SET_FULL;
		c->state = LUNAR_CMD_DONE;
		lunar_lun_queue(lun, c);
		return;
	}
	memset(c->cdb, 0, sizeof(c->cdb));
	memcpy(c->cdb, e->cdb, e->cdb_len);
	c->cdb_len = (uint8_t)e->cdb_len;
	lunar_tcmu_ring_iov(&tp->ring, e, iov);
	c->iov = iov;
	c->iovcnt = e->iov_cnt;
	c->bidi_iovcnt = e->bidi_cnt;
	c->length = e->length;
	c->bidi_length = e->bidi_length;
	if (e->bidi_cnt)
		c->dir = LUNAR_DIR_BIDI;
	else if (e->iov_cnt == 0)
		c->dir = LUNAR_DIR_NONE;
	else
		c->dir = (uint8_t)lunar_cdb_dir(c->cdb, c->cdb_len);
	lunar_lun_queue(lun, c);
}

static void take_tmr(struct tcmu_port *tp, const struct lunar_tcmu_entry *e)
{
	struct lunar_lun *lun = tp->port.lun;
	uint32_t n = 0;

	if (e->why)
		log_warn("%s: %s", lun->cfg.name, e->why);
	for (uint32_t i = 0; i < e->tmr_cnt && n < lun->nslots; i++) {
		struct lunar_cmd *c = lunar_lun_find_tag(lun, lunar_tcmu_tmr_id(e, i));

		if (c)
			tp->tmr_cmds[n++] = c;
	}
	lunar_lun_tmr(lun, e->tmr_type, tp->tmr_cmds, n);
}

static int tp_drain(struct lunar_port *p)
{
	struct tcmu_port *tp = to_tp(p);
	struct lunar_tcmu_entry e;
	int n = 0;

	if (tp->notify->ack(tp->ctx) < 0)
		die_why(tp, "the TCMU device went away");
	while (!tp->dead && p->lun->nfree && (tp->ooo || tp->fifo_n < tp->fifo_cap)) {
		int rc = lunar_tcmu_ring_next(&tp->ring, &e);

		if (rc == 0)
			break;
		if (rc < 0) {
			die(tp);
			break;
		}
		switch (e.kind) {
		case LUNAR_TCMU_CMD:
			take_cmd(tp, &e);
			n++;
			break;
		case LUNAR_TCMU_BAD_CMD:
			refuse(tp, &e);
			break;
		case LUNAR_TCMU_TMR:
			take_tmr(tp, &e);
			break;
		}
	}
	return tp->dead ? -1 : n;
}

/* Zero the Data-In bytes the handler did not write, so the kernel never
 * hands stale data area contents to the initiator.  The Data-In buffer is
 * iov[first, first + cnt). */
static void zero_tail(struct lunar_cmd *c, uint32_t first, uint32_t cnt)
{
	uint64_t skip = c->xfer;

	for (uint32_t i = first; i < first + cnt; i++) {
		uint64_t len = c->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		memset((uint8_t *)c->iov[i].iov_base + skip, 0, len - skip);
		skip = 0;
	}
}

static void tp_complete(struct lunar_port *p, struct lunar_cmd *c)
{
	struct tcmu_port *tp = to_tp(p);
	struct lunar_tcmu_done d = { .cmd_id = (uint16_t)c->tag, .status = c->status };
	bool data_in = c->dir == LUNAR_DIR_IN || c->dir == LUNAR_DIR_UNKNOWN;

	if (tp->dead)
		return;
	if (c->status == LUNAR_CHECK_CONDITION) {
		if (c->sense_len < LUNAR_SENSE_MAX)
			memset(c->sense + c->sense_len, 0, LUNAR_SENSE_MAX - c->sense_len);
		d.sense = c->sense;
	}
	if (data_in && c->xfer < c->length) {
		if (c->xfer && (tp->ring.caps & LUNAR_TCMU_CAP_READ_LEN))
			d.read_len = (uint32_t)c->xfer;
		else if (c->status != LUNAR_CHECK_CONDITION || c->xfer)
			zero_tail(c, 0, c->iovcnt);
	} else if (c->dir == LUNAR_DIR_BIDI && c->xfer < c->bidi_length &&
		   c->status != LUNAR_CHECK_CONDITION) {
		/* the kernel hands back all of a BIDI Data-In buffer: no read_len */
		zero_tail(c, c->iovcnt, c->bidi_iovcnt);
	}
	complete_done(tp, &d);
}

/*
 * A wedged handler's command: answered now, but with KEEP_BUF its data
 * blocks stay ours (the wedged thread may still write into them) until
 * release().  Without the capability it is a plain completion.
 */
static void tp_abandon(struct lunar_port *p, struct lunar_cmd *c)
{
	struct tcmu_port *tp = to_tp(p);
	struct lunar_tcmu_done d = { .cmd_id = (uint16_t)c->tag, .status = c->status,
				     .keep_buf = true };

	if (tp->dead)
		return;
	if (c->status == LUNAR_CHECK_CONDITION)
		d.sense = c->sense;
	complete_done(tp, &d);
}

static void tp_release(struct lunar_port *p, struct lunar_cmd *c)
{
	struct tcmu_port *tp = to_tp(p);

	if (!tp->dead && (tp->ring.caps & LUNAR_TCMU_CAP_KEEP_BUF) && tp->notify->free_kept)
		tp->notify->free_kept(tp->ctx, (uint16_t)c->tag);
}

static void tp_flush(struct lunar_port *p)
{
	struct tcmu_port *tp = to_tp(p);

	if (!tp->ooo)
		fifo_flush(tp);
	if (tp->need_kick) {
		tp->need_kick = false;
		tp->notify->kick(tp->ctx);
	}
}

static void tp_destroy(struct lunar_port *p)
{
	struct tcmu_port *tp = to_tp(p);

	free(tp->fifo);
	free(tp->tmr_cmds);
	free(tp);
}

static const struct lunar_port_ops tcmu_port_ops = {
	.name = "tcmu",
	.fd = tp_fd,
	.drain = tp_drain,
	.complete = tp_complete,
	.flush = tp_flush,
	.abandon = tp_abandon,
	.release = tp_release,
	.destroy = tp_destroy,
};

struct lunar_port *lunar_tcmu_port_create(struct lunar_lun *lun, void *map, uint64_t map_size,
					  int fd, const struct lunar_tcmu_notify *notify,
					  void *ctx, char *err, size_t errlen)
{
	struct tcmu_port *tp = calloc(1, sizeof(*tp));

	if (!tp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tp->port.ops = &tcmu_port_ops;
	tp->port.lun = lun;
	tp->fd = fd;
	tp->notify = notify;
	tp->ctx = ctx;
	tp->rl = (struct lunar_ratelimit)LUNAR_RATELIMIT_INIT(5000000000ull, 5);
	if (lunar_tcmu_ring_init(&tp->ring, map, map_size) < 0) {
		snprintf(err, errlen, "%s", tp->ring.why);
		free(tp);
		return NULL;
	}
	tp->ooo = tp->ring.caps & LUNAR_TCMU_CAP_OOOC;
	tp->fifo_cap = 2 * lun->nslots;
	tp->fifo = tp->ooo ? NULL : calloc(tp->fifo_cap, sizeof(*tp->fifo));
	tp->tmr_cmds = calloc(lun->nslots, sizeof(*tp->tmr_cmds));
	if ((!tp->ooo && !tp->fifo) || !tp->tmr_cmds) {
		snprintf(err, errlen, "out of memory");
		tp_destroy(&tp->port);
		return NULL;
	}
	return &tp->port;
}
