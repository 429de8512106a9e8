/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "lun.h"
#include "xen/vhost.h"
#include "xen/vhost_int.h"

/*
 * A LUN reachable through a vhost, as the lunar port of that LUN: its
 * worker takes the requests the ring thread queued into slots, and hands
 * the completions back.
 */

static struct xport *to_xp(struct lunar_port *p)
{
	return (struct xport *)p;
}

static int xp_fd(struct lunar_port *p)
{
	return to_xp(p)->efd;
}

static void deliver_tmr(struct xport *xp, const struct tmr_note *t)
{
	struct lunar_lun *lun = xp->port.lun;
	uint32_t n = 0;

	if (t->act == LUNAR_VSCSI_ACT_ABORT) {
		struct lunar_cmd *c = lunar_lun_find_tag(lun, t->target);

		if (c)
			xp->cmds[n++] = c;
		lunar_lun_tmr_cancel(lun, TMR_ABORT_TASK, xp->cmds, n);
		return;
	}
	for (uint32_t i = 0; i < lun->nslots; i++)
		if (lun->slots[i].state != LUNAR_CMD_FREE)
			xp->cmds[n++] = &lun->slots[i];
	lunar_lun_tmr_cancel(lun, TMR_LUN_RESET, xp->cmds, n);
}

static int xp_drain(struct lunar_port *p)
{
	struct xport *xp = to_xp(p);
	struct lunar_xen_vhost *vh = xp->vh;
	struct lunar_lun *lun = p->lun;
	struct tmr_note tmrs[RING];
	uint32_t ntmr;
	uint64_t cnt;
	int n = 0;

	if (read(xp->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: the queue is read anyway */
	}
	/*
	 * ABORT and RESET first, against the commands already in slots: those
	 * are all that came before them in the ring (what still waited in the
	 * queue then was ended by the ring thread), and whatever is queued now
	 * came after them.
	 */
	pthread_mutex_lock(&vh->lock);
	ntmr = xp->ntmr;
	memcpy(tmrs, xp->tmrq, ntmr * sizeof(tmrs[0]));
	xp->ntmr = 0;
	pthread_mutex_unlock(&vh->lock);
	for (uint32_t i = 0; i < ntmr; i++)
		deliver_tmr(xp, &tmrs[i]);
	pthread_mutex_lock(&vh->lock);
	while (xp->qhead && lun->nfree) {
		struct vreq *v = xp->qhead;
		struct lunar_cmd *c = lunar_lun_slot_get(lun);

		xp->qhead = v->next;
		if (!xp->qhead)
			xp->qtail = &xp->qhead;
		v->state = V_TAKEN;
		v->next = NULL;
		memset(c->cdb, 0, sizeof(c->cdb));
		memcpy(c->cdb, v->req.cdb, v->req.cdb_len);
		c->cdb_len = v->req.cdb_len;
		c->dir = v->dir;
		c->iov = v->iov;
		c->iovcnt = v->iovcnt;
		c->length = v->length;
		c->tag = (uint64_t)(v - vh->v);
		lunar_lun_queue(lun, c);
		n++;
	}
	pthread_mutex_unlock(&vh->lock);
	return n;
}

static void xp_complete(struct lunar_port *p, struct lunar_cmd *c)
{
	struct xport *xp = to_xp(p);
	struct lunar_xen_vhost *vh = xp->vh;
	struct vreq *v;

	if (c->tag >= RING)
		return;
	v = &vh->v[c->tag];
	pthread_mutex_lock(&vh->lock);
	if (v->state != V_TAKEN || v->port != xp) {
		pthread_mutex_unlock(&vh->lock);
		return;
	}
	v->host = 0;
	v->status = c->status;
	v->sense_len = 0;
	if (c->status == LUNAR_CHECK_CONDITION && c->sense_len) {
		v->sense_len = (uint8_t)LUNAR_MIN(c->sense_len, LUNAR_VSCSI_SENSE);
		memcpy(v->sense, c->sense, v->sense_len);
	}
	v->residual = 0;
	if (c->dir == LUNAR_DIR_IN || c->dir == LUNAR_DIR_UNKNOWN)
		v->residual = (uint32_t)(c->length - LUNAR_MIN(c->xfer, c->length));
	lunar_xen_vreq_done(vh, v);
	pthread_mutex_unlock(&vh->lock);
	xp->kick = true;
}

static void xp_flush(struct lunar_port *p)
{
	struct xport *xp = to_xp(p);

	if (!xp->kick)
		return;
	xp->kick = false;
	lunar_xen_poke(xp->vh->kick_efd);
}

/*
 * The LUN's worker has stopped (detach): what it held or had not taken yet
 * is answered DID_NO_CONNECT, so the frontend is never left waiting.
 */
static void xp_destroy(struct lunar_port *p)
{
	struct xport *xp = to_xp(p);
	struct lunar_xen_vhost *vh = xp->vh;

	pthread_mutex_lock(&vh->lock);
	for (int i = 0; i < RING; i++) {
		struct vreq *v = &vh->v[i];

		if (v->port != xp)
			continue;
		if (v->state == V_QUEUED || v->state == V_TAKEN) {
			v->host = LUNAR_VSCSI_HOST_NO_CONNECT;
			v->status = 0;
			v->sense_len = 0;
			v->residual = (uint32_t)v->length;
			lunar_xen_vreq_done(vh, v);
		}
		v->port = NULL;
	}
	pthread_mutex_unlock(&vh->lock);
	lunar_xen_poke(vh->kick_efd);
	/* the ring thread may be poking it right now (flush_staged) */
	pthread_mutex_lock(&vh->poke_lock);
	close(xp->efd);
	pthread_mutex_unlock(&vh->poke_lock);
	free(xp->cmds);
	free(xp);
}

static const struct lunar_port_ops xen_port_ops = {
	.name = "xen",
	.fd = xp_fd,
	.drain = xp_drain,
	.complete = xp_complete,
	.flush = xp_flush,
	.destroy = xp_destroy,
};

int lunar_xen_vhost_add(struct lunar_xen_vhost *vh, struct lunar_lun *lun, uint16_t chn,
			uint16_t tgt, uint16_t l, char *err, size_t errlen)
{
	struct xport *xp;

	if (vh->nports == MAX_DEVS) {
		snprintf(err, errlen, "more than %d LUNs on one vhost", MAX_DEVS);
		return -1;
	}
	for (uint32_t i = 0; i < vh->nports; i++) {
		if (vh->ports[i]->chn == chn && vh->ports[i]->tgt == tgt && vh->ports[i]->l == l) {
			snprintf(err, errlen, "v-dev %u:%u:%u is taken", chn, tgt, l);
			return -1;
		}
	}
	if (lun->port) {
		snprintf(err, errlen, "LUN '%s' is served elsewhere already", lun->cfg.name);
		return -1;
	}
	xp = calloc(1, sizeof(*xp));
	if (!xp || !(xp->cmds = calloc(lun->nslots, sizeof(*xp->cmds)))) {
		free(xp);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	xp->port.ops = &xen_port_ops;
	xp->port.lun = lun;
	xp->vh = vh;
	xp->chn = chn;
	xp->tgt = tgt;
	xp->l = l;
	xp->qtail = &xp->qhead;
	xp->id = ++vh->port_ids;
	xp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (xp->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(xp->cmds);
		free(xp);
		return -1;
	}
	if (lunar_lun_attach(lun, &xp->port) < 0) {
		snprintf(err, errlen, "its worker did not start");
		close(xp->efd);
		free(xp->cmds);
		free(xp);
		return -1;
	}
	pthread_mutex_lock(&vh->lock);
	vh->ports[vh->nports++] = xp;
	pthread_mutex_unlock(&vh->lock);
	return 0;
}

void lunar_xen_vhost_remove(struct lunar_xen_vhost *vh, struct lunar_lun *lun)
{
	bool found = false;

	pthread_mutex_lock(&vh->lock);
	for (uint32_t i = 0; i < vh->nports; i++) {
		if (vh->ports[i]->port.lun != lun)
			continue;
		vh->ports[i] = vh->ports[--vh->nports];
		found = true;
		break;
	}
	pthread_mutex_unlock(&vh->lock);
	/* no new requests reach it now; detach stops the worker and destroys
	 * the port, which answers what is left */
	if (found)
		lunar_lun_detach(lun);
}
