/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "lun.h"
#include "scsi/cdb.h"
#include "util.h"
#include "xen/ring.h"
#include "xen/vhost.h"
#include "xen/vhost_int.h"
#include "xen/xenops.h"

static void bump(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void lunar_xen_poke(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* an eventfd only fails when its counter is full: already awake */
	}
}

static void die(struct lunar_xen_vhost *vh, const char *why)
{
	if (atomic_load(&vh->dead))
		return;
	snprintf(vh->why, sizeof(vh->why), "%s", why);
	atomic_store(&vh->dead, true);
	log_err("xen %s: vhost stopped: %s", vh->name, why);
	if (vh->notice_fd >= 0)
		lunar_xen_poke(vh->notice_fd);
}

/* ---- the ring thread ------------------------------------------------------------ */

static void unmap_data(struct lunar_xen_vhost *vh, struct vreq *v)
{
	if (!v->map)
		return;
	if (vh->x->vt->unmap(vh->ch, v->map, v->nmap) < 0)
		log_err("xen %s: cannot unmap %u data grants: %s", vh->name, v->nmap, strerror(errno));
	v->map = NULL;
	v->nmap = 0;
}

/* Writes v's response and frees it: grants are unmapped before, as the
 * frontend ends its grants as soon as it sees the response. */
static void respond(struct lunar_xen_vhost *vh, struct vreq *v, int32_t rslt_raw)
{
	struct lunar_vscsi_wire_rsp w;

	unmap_data(vh, v);
	lunar_vscsi_rsp_fill(&w, v->req.rqid, v->host, v->status, v->sense, v->sense_len,
			     v->residual);
	if (rslt_raw)
		w.rslt = rslt_raw;
	if (!atomic_load(&vh->dead) && lunar_vscsi_ring_respond(&vh->ring, &w) < 0)
		die(vh, "internal: a response without a request");
	pthread_mutex_lock(&vh->lock);
	v->state = V_FREE;
	v->port = NULL;
	v->next = NULL;
	pthread_mutex_unlock(&vh->lock);
}

static void respond_host(struct lunar_xen_vhost *vh, struct vreq *v, uint8_t host)
{
	v->host = host;
	v->status = 0;
	v->sense_len = 0;
	v->residual = (uint32_t)v->req.length;
	respond(vh, v, 0);
}

static void respond_tmr(struct lunar_xen_vhost *vh, struct vreq *v, bool ok)
{
	v->host = v->status = v->sense_len = 0;
	v->residual = 0;
	respond(vh, v, ok ? LUNAR_VSCSI_RESET_SUCCESS : LUNAR_VSCSI_RESET_FAILED);
}

void lunar_xen_vreq_done(struct lunar_xen_vhost *vh, struct vreq *v)
{
	v->state = V_DONE;
	v->next = NULL;
	*vh->done_tail = v;
	vh->done_tail = &v->next;
}

/* vh->lock held: answer v, still queued in its port, TASK ABORTED */
static void abort_queued(struct lunar_xen_vhost *vh, struct vreq *v)
{
	struct xport *xp = v->port;
	struct vreq **pp;

	for (pp = &xp->qhead; *pp; pp = &(*pp)->next) {
		if (*pp != v)
			continue;
		*pp = v->next;
		if (xp->qtail == &v->next)
			xp->qtail = pp;
		break;
	}
	v->host = 0;
	v->status = LUNAR_TASK_ABORTED;
	v->sense_len = 0;
	v->residual = (uint32_t)v->length;
	lunar_xen_vreq_done(vh, v);
}

static void reap(struct lunar_xen_vhost *vh)
{
	struct vreq *list;

	pthread_mutex_lock(&vh->lock);
	list = vh->done;
	vh->done = NULL;
	vh->done_tail = &vh->done;
	pthread_mutex_unlock(&vh->lock);
	while (list) {
		struct vreq *v = list;

		list = v->next;
		respond(vh, v, 0);
	}
}

/* ABORT and RESET are answered once the commands they end are answered. */
static bool tmr_ready(struct lunar_xen_vhost *vh, const struct vreq *t)
{
	if (t->req.act == LUNAR_VSCSI_ACT_ABORT) {
		const struct vreq *u = &vh->v[t->target];

		return u->state == V_FREE || u->seq != t->target_seq;
	}
	for (int i = 0; i < RING; i++) {
		const struct vreq *u = &vh->v[i];

		if (u->state != V_FREE && u->state != V_TMR && u->port == t->port &&
		    u->seq < t->seq)
			return false;
	}
	return true;
}

static void answer_tmrs(struct lunar_xen_vhost *vh)
{
	struct vreq *ready[RING];
	int n = 0;

	pthread_mutex_lock(&vh->lock);
	for (int i = 0; i < RING; i++) {
		struct vreq *t = &vh->v[i];

		if (t->state == V_TMR && tmr_ready(vh, t))
			ready[n++] = t;
	}
	pthread_mutex_unlock(&vh->lock);
	for (int i = 0; i < n; i++)
		respond_tmr(vh, ready[i], true);
}

/* vh->lock held: is xp (with that id) still served? */
static bool alive(struct lunar_xen_vhost *vh, const struct xport *xp, uint64_t id)
{
	for (uint32_t i = 0; i < vh->nports; i++)
		if (vh->ports[i] == xp && xp->id == id)
			return true;
	return false;
}

/* vh->lock held */
static struct xport *route(struct lunar_xen_vhost *vh, const struct lunar_vscsi_req *r)
{
	for (uint32_t i = 0; i < vh->nports; i++) {
		struct xport *xp = vh->ports[i];

		if (xp->chn == r->channel && xp->tgt == r->id && xp->l == r->lun)
			return xp;
	}
	return NULL;
}

static void refuse(struct lunar_xen_vhost *vh, struct vreq *v, const char *why)
{
	unsigned suppressed;

	bump(&vh->st_refused);
	if (lunar_ratelimit(&vh->rl, lunar_now_ns(), &suppressed))
		log_warn("xen %s: request %u refused: %s%s", vh->name, v->req.rqid, why,
			 suppressed ? " (and more, not shown)" : "");
	respond_host(vh, v, LUNAR_VSCSI_HOST_ERROR);
}

/*
 * Maps a command's data grants and builds its iovecs.  Returns 0, -1 when
 * the grants do not map (answer DID_ERROR), -2 when the indirect
 * descriptors are malformed (stop the vhost).
 */
static int map_data(struct lunar_xen_vhost *vh, struct vreq *v, const char **why)
{
	const struct lunar_vscsi_req *r = &v->req;
	const struct lunar_vscsi_seg *seg = r->seg;
	uint32_t n = r->nseg;
	uint8_t *base;

	v->length = r->length;
	if (r->indirect) {
		const uint8_t *pages[LUNAR_VSCSI_SEGS];
		int64_t len;

		for (uint32_t i = 0; i < n; i++)
			vh->refs[i] = r->seg[i].gref;
		base = vh->x->vt->map(vh->ch, n, vh->refs, false);
		if (!base) {
			*why = "indirect descriptor pages do not map";
			return -1;
		}
		for (uint32_t i = 0; i < n; i++)
			pages[i] = base + (size_t)i * LUNAR_VSCSI_PAGE;
		len = lunar_vscsi_req_indirect(r, pages, vh->desc, why);
		vh->x->vt->unmap(vh->ch, base, n);
		if (len < 0)
			return -2;
		v->length = (uint64_t)len;
		seg = vh->desc;
		n = r->ndesc;
	}
	v->iovcnt = 0;
	if (!n)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		vh->refs[i] = seg[i].gref;
	base = vh->x->vt->map(vh->ch, n, vh->refs, r->dma != LUNAR_VSCSI_DMA_TO_DEVICE);
	if (!base) {
		*why = "data grants do not map";
		return -1;
	}
	v->map = base;
	v->nmap = n;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = base + (size_t)i * LUNAR_VSCSI_PAGE + seg[i].offset;
		struct iovec *last = v->iovcnt ? &v->iov[v->iovcnt - 1] : NULL;

		/* the pages are contiguous in our mapping: a segment that goes
		 * on where the last one ended extends it */
		if (last && (uint8_t *)last->iov_base + last->iov_len == p)
			last->iov_len += seg[i].length;
		else
			v->iov[v->iovcnt++] = (struct iovec){ p, seg[i].length };
	}
	return 0;
}

static uint8_t dir_of(uint8_t dma)
{
	switch (dma) {
	case LUNAR_VSCSI_DMA_TO_DEVICE: return LUNAR_DIR_OUT;
	case LUNAR_VSCSI_DMA_FROM_DEVICE: return LUNAR_DIR_IN;
	case LUNAR_VSCSI_DMA_BIDI: return LUNAR_DIR_UNKNOWN;
	}
	return LUNAR_DIR_NONE;
}

/* vh->lock held */
static void note_tmr(struct xport *xp, uint8_t act, uint32_t target)
{
	if (xp->ntmr < RING)
		xp->tmrq[xp->ntmr++] = (struct tmr_note){ .act = act, .target = target };
}

static void take_cdb(struct lunar_xen_vhost *vh, struct vreq *v, struct xport *xp, uint64_t id)
{
	const char *why = NULL;
	int rc;

	rc = map_data(vh, v, &why);
	if (rc == -2) {
		die(vh, why);
		return;
	}
	if (rc < 0) {
		refuse(vh, v, why);
		return;
	}
	v->dir = v->iovcnt ? dir_of(v->req.dma) : LUNAR_DIR_NONE;
	/*
	 * Data-Out pages are granted (and mapped) read-only: an opcode that
	 * returns data would have its handler write into them.
	 */
	if (v->dir == LUNAR_DIR_OUT && lunar_cdb_dir(v->req.cdb, v->req.cdb_len) == LUNAR_DIR_IN) {
		refuse(vh, v, "Data-Out buffer for an opcode that returns data");
		return;
	}
	pthread_mutex_lock(&vh->lock);
	if (!alive(vh, xp, id)) {
		/* removed while its grants were mapped */
		pthread_mutex_unlock(&vh->lock);
		respond_host(vh, v, LUNAR_VSCSI_HOST_NO_CONNECT);
		return;
	}
	v->port = xp;
	v->state = V_QUEUED;
	v->next = NULL;
	*xp->qtail = v;
	xp->qtail = &v->next;
	lunar_xen_poke(xp->efd);
	pthread_mutex_unlock(&vh->lock);
}

static void take_tmr(struct lunar_xen_vhost *vh, struct vreq *v, struct xport *xp, uint64_t id)
{
	bool now = false;

	pthread_mutex_lock(&vh->lock);
	if (!alive(vh, xp, id)) {
		pthread_mutex_unlock(&vh->lock);
		respond_tmr(vh, v, false);
		return;
	}
	v->port = xp;
	if (v->req.act == LUNAR_VSCSI_ACT_ABORT) {
		struct vreq *u = NULL;

		bump(&vh->st_aborts);
		for (int i = 0; i < RING; i++) {
			struct vreq *c = &vh->v[i];

			if (c != v && c->port == xp && c->req.act == LUNAR_VSCSI_ACT_CDB &&
			    c->req.rqid == v->req.ref_rqid &&
			    (c->state == V_QUEUED || c->state == V_TAKEN || c->state == V_DONE))
				u = c;
		}
		if (!u) {
			/* nothing to abort (already answered): done */
			now = true;
		} else {
			v->target = (uint32_t)(u - vh->v);
			v->target_seq = u->seq;
			v->state = V_TMR;
			if (u->state == V_QUEUED)
				abort_queued(vh, u);
			else if (u->state == V_TAKEN)
				note_tmr(xp, LUNAR_VSCSI_ACT_ABORT, v->target);
		}
	} else {
		bump(&vh->st_resets);
		/* what waits for a slot was never started: it ends here */
		while (xp->qhead)
			abort_queued(vh, xp->qhead);
		v->state = V_TMR;
		note_tmr(xp, LUNAR_VSCSI_ACT_RESET, 0);
	}
	if (!now)
		lunar_xen_poke(xp->efd);
	pthread_mutex_unlock(&vh->lock);
	if (now)
		respond_tmr(vh, v, true);
}

static void consume(struct lunar_xen_vhost *vh)
{
	while (!atomic_load(&vh->dead)) {
		struct lunar_vscsi_wire_req w;
		struct lunar_vscsi_req r;
		struct vreq *v = NULL;
		struct xport *xp;
		const char *why = NULL;
		uint64_t id = 0;
		int rc;

		rc = lunar_vscsi_ring_next(&vh->ring, &w);
		if (rc == 0)
			break;
		if (rc < 0) {
			die(vh, vh->ring.why);
			break;
		}
		bump(&vh->st_requests);
		if (lunar_vscsi_req_parse(&w, vh->sg_max, &r, &why) < 0) {
			char msg[160];

			snprintf(msg, sizeof(msg), "malformed request %u: %s", w.rqid, why);
			die(vh, msg);
			break;
		}
		pthread_mutex_lock(&vh->lock);
		/* unanswered requests are at most RING, one record each */
		for (int i = 0; i < RING && !v; i++)
			if (vh->v[i].state == V_FREE)
				v = &vh->v[i];
		if (v) {
			v->req = r;
			v->seq = ++vh->seq;
			v->map = NULL;
			v->nmap = 0;
			v->iovcnt = 0;
			v->length = 0;
			v->port = NULL;
		}
		xp = route(vh, &r);
		if (xp)
			id = xp->id;
		pthread_mutex_unlock(&vh->lock);
		if (!v) {
			die(vh, "internal: no free request record");
			break;
		}
		if (!xp) {
			if (r.act == LUNAR_VSCSI_ACT_CDB) {
				bump(&vh->st_no_connect);
				respond_host(vh, v, LUNAR_VSCSI_HOST_NO_CONNECT);
			} else {
				respond_tmr(vh, v, false);
			}
			continue;
		}
		if (r.act == LUNAR_VSCSI_ACT_CDB)
			take_cdb(vh, v, xp, id);
		else
			take_tmr(vh, v, xp, id);
	}
}

static void publish(struct lunar_xen_vhost *vh)
{
	if (atomic_load(&vh->dead) || vh->ring.rsp_prod_pvt == vh->pushed)
		return;
	vh->pushed = vh->ring.rsp_prod_pvt;
	if (lunar_vscsi_ring_push(&vh->ring))
		vh->x->vt->evt_notify(vh->ch);
}

static void service(struct lunar_xen_vhost *vh)
{
	for (;;) {
		reap(vh);
		answer_tmrs(vh);
		consume(vh);
		reap(vh);		/* what consume answered at once */
		answer_tmrs(vh);
		publish(vh);
		if (atomic_load(&vh->dead))
			return;
		/* with RING requests unanswered, a completion wakes us */
		if (lunar_vscsi_ring_inflight(&vh->ring) >= RING)
			return;
		if (!lunar_vscsi_ring_final_check(&vh->ring))
			return;
	}
}

static void *ring_main(void *arg)
{
	struct lunar_xen_vhost *vh = arg;
	const struct lunar_xenops_vt *vt = vh->x->vt;

	pthread_setname_np(pthread_self(), "lunar/xen-ring");
	service(vh);
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = vt->evt_fd(vh->ch), .events = POLLIN },
			{ .fd = vh->kick_efd, .events = POLLIN },
			{ .fd = vh->stop_efd, .events = POLLIN },
		};
		uint64_t cnt;
		bool evt;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(vh, "poll failed");
			break;
		}
		if (pfd[2].revents)
			break;
		if (pfd[1].revents && read(vh->kick_efd, &cnt, sizeof(cnt)) < 0) {
			/* EAGAIN: someone else read it */
		}
		evt = pfd[0].revents & POLLIN;
		if (evt && vt->evt_pending(vh->ch) < 0)
			evt = false;
		service(vh);
		if (evt)
			vt->evt_unmask(vh->ch);
	}
	/* answered after the stop (ports removed): unmap; the ring is going */
	reap(vh);
	answer_tmrs(vh);
	publish(vh);
	return NULL;
}

/* ---- the vhost ------------------------------------------------------------------- */

struct lunar_xen_vhost *lunar_xen_vhost_connect(struct lunar_xenops *x, uint32_t domid,
						const char *name, uint32_t ring_ref,
						uint32_t evtchn, uint32_t sg_max, int notice_fd,
						char *err, size_t errlen)
{
	struct lunar_xen_vhost *vh = calloc(1, sizeof(*vh));

	if (!vh) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vh->x = x;
	vh->domid = domid;
	vh->sg_max = LUNAR_MIN(sg_max, (uint32_t)LUNAR_VSCSI_SG_MAX);
	vh->notice_fd = notice_fd;
	vh->stop_efd = vh->kick_efd = -1;
	vh->done_tail = &vh->done;
	vh->rl = (struct lunar_ratelimit)LUNAR_RATELIMIT_INIT(5000000000ull, 5);
	snprintf(vh->name, sizeof(vh->name), "%s", name);
	pthread_mutex_init(&vh->lock, NULL);
	for (int i = 0; i < RING; i++) {
		vh->v[i].iov = calloc(LUNAR_VSCSI_SG_MAX, sizeof(struct iovec));
		if (!vh->v[i].iov) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	vh->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vh->kick_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vh->stop_efd < 0 || vh->kick_efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	/* the ring page, descriptor pages and data pages of RING requests */
	vh->ch = x->vt->chan_open(x, domid, 1 + RING * (LUNAR_VSCSI_SEGS + LUNAR_VSCSI_SG_MAX));
	if (!vh->ch) {
		snprintf(err, errlen, "cannot open grant and event channel devices: %s",
			 strerror(errno));
		goto fail;
	}
	vh->page = x->vt->map(vh->ch, 1, &ring_ref, true);
	if (!vh->page) {
		snprintf(err, errlen, "ring-ref %u does not map: %s", ring_ref, strerror(errno));
		goto fail;
	}
	lunar_vscsi_ring_init(&vh->ring, vh->page);
	if (x->vt->bind(vh->ch, evtchn) < 0) {
		snprintf(err, errlen, "event-channel %u does not bind: %s", evtchn, strerror(errno));
		goto fail;
	}
	if (pthread_create(&vh->thread, NULL, ring_main, vh) != 0) {
		snprintf(err, errlen, "cannot start the ring thread");
		goto fail;
	}
	vh->running = true;
	return vh;
fail:
	lunar_xen_vhost_disconnect(vh);
	return NULL;
}

void lunar_xen_vhost_disconnect(struct lunar_xen_vhost *vh)
{
	if (!vh)
		return;
	while (vh->nports)
		lunar_xen_vhost_remove(vh, vh->ports[0]->port.lun);
	if (vh->running) {
		lunar_xen_poke(vh->stop_efd);
		pthread_join(vh->thread, NULL);
	}
	/* nothing is mapped past this point but the ring itself */
	for (int i = 0; i < RING; i++) {
		if (vh->v[i].map)
			unmap_data(vh, &vh->v[i]);
		free(vh->v[i].iov);
	}
	if (vh->page)
		vh->x->vt->unmap(vh->ch, vh->page, 1);
	if (vh->ch)
		vh->x->vt->chan_close(vh->ch);
	if (vh->stop_efd >= 0)
		close(vh->stop_efd);
	if (vh->kick_efd >= 0)
		close(vh->kick_efd);
	pthread_mutex_destroy(&vh->lock);
	free(vh);
}

bool lunar_xen_vhost_dead(struct lunar_xen_vhost *vh, const char **why)
{
	if (!atomic_load(&vh->dead))
		return false;
	*why = vh->why;
	return true;
}

void lunar_xen_vhost_stats(struct lunar_xen_vhost *vh, struct lunar_xen_vhost_stats *st)
{
	st->requests = atomic_load(&vh->st_requests);
	st->no_connect = atomic_load(&vh->st_no_connect);
	st->refused = atomic_load(&vh->st_refused);
	st->aborts = atomic_load(&vh->st_aborts);
	st->resets = atomic_load(&vh->st_resets);
}

const char *lunar_xen_vhost_name(struct lunar_xen_vhost *vh)
{
	return vh->name;
}
