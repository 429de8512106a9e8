/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
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

/*
 * LUNAR_XEN_PROFILE=1: where the ring thread's time goes, logged when the
 * vhost disconnects.  Off, it costs a test of a NULL pointer.
 */
struct lunar_xen_prof {
	uint64_t wakes, passes, requests, responses, notifies;
	uint64_t copy_calls, copy_segs, maps, unmaps;
	uint64_t ns_copy_out, ns_copy_in, ns_map, ns_unmap, ns_notify, ns_poke, ns_wait, ns_total;
	uint64_t t0;
};

static uint64_t prof_start(const struct lunar_xen_vhost *vh)
{
	return vh->prof ? lunar_now_ns() : 0;
}

static void prof_add(const struct lunar_xen_vhost *vh, uint64_t *ns, uint64_t t0)
{
	if (vh->prof)
		*ns += lunar_now_ns() - t0;
}

static void prof_log(struct lunar_xen_vhost *vh)
{
	struct lunar_xen_prof *p = vh->prof;
	double n;

	if (!p)
		return;
	p->ns_total = lunar_now_ns() - p->t0;
	n = p->requests ? (double)p->requests : 1;
	log_info("xen %s: profile: %llu requests in %llu passes (%llu wakes), %llu responses, "
		 "%llu notifies; grant copy %llu calls %llu segments, %llu maps, %llu unmaps; "
		 "us per request: copy-out %.1f copy-in %.1f map %.1f unmap %.1f notify %.1f "
		 "poke %.1f; ring thread busy %.1f%% of %.1f s",
		 vh->name, (unsigned long long)p->requests, (unsigned long long)p->passes,
		 (unsigned long long)p->wakes, (unsigned long long)p->responses,
		 (unsigned long long)p->notifies, (unsigned long long)p->copy_calls,
		 (unsigned long long)p->copy_segs, (unsigned long long)p->maps,
		 (unsigned long long)p->unmaps, p->ns_copy_out / n / 1e3, p->ns_copy_in / n / 1e3,
		 p->ns_map / n / 1e3, p->ns_unmap / n / 1e3, p->ns_notify / n / 1e3,
		 p->ns_poke / n / 1e3,
		 p->ns_total ? 100.0 * (double)(p->ns_total - p->ns_wait) / (double)p->ns_total : 0,
		 (double)p->ns_total / 1e9);
}

/* ---- the ring thread ------------------------------------------------------------ */

static void unmap_data(struct lunar_xen_vhost *vh, struct vreq *v)
{
	uint64_t t0;

	if (!v->map)
		return;
	t0 = prof_start(vh);
	if (vh->x->vt->unmap(vh->ch, v->map, v->nmap) < 0)
		log_err("xen %s: cannot unmap %u data grants: %s", vh->name, v->nmap, strerror(errno));
	if (vh->prof) {
		prof_add(vh, &vh->prof->ns_unmap, t0);
		vh->prof->unmaps++;
	}
	v->map = NULL;
	v->nmap = 0;
}

/* Writes v's response, not yet visible: grants are unmapped before, as the
 * frontend ends its grants as soon as it sees the response. */
static void write_response(struct lunar_xen_vhost *vh, struct vreq *v, int32_t rslt_raw)
{
	struct lunar_vscsi_wire_rsp w;

	unmap_data(vh, v);
	lunar_vscsi_rsp_fill(&w, v->req.rqid, v->host, v->status, v->sense, v->sense_len,
			     v->residual);
	if (rslt_raw)
		w.rslt = rslt_raw;
	if (!atomic_load(&vh->dead) && lunar_vscsi_ring_respond(&vh->ring, &w) < 0)
		die(vh, "internal: a response without a request");
	if (vh->prof)
		vh->prof->responses++;
}

/* vh->lock held */
static void free_vreq(struct vreq *v)
{
	v->state = V_FREE;
	v->port = NULL;
	v->next = NULL;
	v->copy = false;
}

/* Writes v's response and frees it. */
static void respond(struct lunar_xen_vhost *vh, struct vreq *v, int32_t rslt_raw)
{
	write_response(vh, v, rslt_raw);
	pthread_mutex_lock(&vh->lock);
	free_vreq(v);
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

/*
 * Runs this pass's grant copies (vh->copies) in one call.  A failed call
 * fails every piece.
 */
static void copy_run(struct lunar_xen_vhost *vh, uint64_t *ns)
{
	uint64_t t0;

	if (!vh->ncopies)
		return;
	t0 = prof_start(vh);
	if (vh->x->vt->copy(vh->ch, vh->copies, vh->ncopies) < 0) {
		for (uint32_t i = 0; i < vh->ncopies; i++)
			vh->copies[i].status = -1;
	}
	if (vh->prof) {
		prof_add(vh, ns, t0);
		vh->prof->copy_calls++;
		vh->prof->copy_segs += vh->ncopies;
	}
}

/* Did every piece of v's copy go through? */
static bool copied(const struct lunar_xen_vhost *vh, const struct vreq *v)
{
	for (uint32_t i = v->copy_first; i < v->copy_first + v->copy_n; i++)
		if (vh->copies[i].status)
			return false;
	return true;
}

/*
 * Adds the pieces that move v's first len bytes between its bounce buffer
 * and its segments, in the direction given.  The segments were checked to
 * lie within their pages; len is at most their sum.
 */
static void copy_add(struct lunar_xen_vhost *vh, struct vreq *v, uint64_t len, bool to_guest)
{
	uint64_t off = 0;

	v->copy_first = vh->ncopies;
	for (uint32_t i = 0; i < v->nsegs && off < len; i++) {
		uint32_t n = (uint32_t)LUNAR_MIN((uint64_t)v->segs[i].length, len - off);

		vh->copies[vh->ncopies++] = (struct lunar_xen_copy){
			.local = v->bounce + off,
			.gref = v->segs[i].gref,
			.offset = v->segs[i].offset,
			.len = (uint16_t)n,
			.to_guest = to_guest,
		};
		off += n;
	}
	v->copy_n = vh->ncopies - v->copy_first;
}

/*
 * Answers what the workers completed: the Data-In of every copied command
 * goes to the guest in one grant copy, then every response is written and
 * the records freed under one lock.
 */
static void reap(struct lunar_xen_vhost *vh)
{
	struct vreq *list, *v;

	pthread_mutex_lock(&vh->lock);
	list = vh->done;
	vh->done = NULL;
	vh->done_tail = &vh->done;
	pthread_mutex_unlock(&vh->lock);
	if (!list)
		return;
	vh->ncopies = 0;
	for (v = list; v; v = v->next) {
		v->copy_n = 0;
		/* only what the handler transferred: the rest of the guest's
		 * buffer stays as it was */
		if (v->copy && v->dir == LUNAR_DIR_IN && v->residual < v->length)
			copy_add(vh, v, v->length - v->residual, true);
	}
	copy_run(vh, vh->prof ? &vh->prof->ns_copy_in : NULL);
	for (v = list; v; v = v->next) {
		if (v->copy_n && !copied(vh, v)) {
			/* the guest's pages would not take the data */
			bump(&vh->st_refused);
			v->host = LUNAR_VSCSI_HOST_ERROR;
			v->status = v->sense_len = 0;
			v->residual = (uint32_t)v->length;
		}
		write_response(vh, v, 0);
	}
	pthread_mutex_lock(&vh->lock);
	while (list) {
		v = list;
		list = v->next;
		free_vreq(v);
	}
	pthread_mutex_unlock(&vh->lock);
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
 * Indirect requests: copies the descriptor arrays out of the guest's pages
 * into v->desc (by grant copy, else through a read-only mapping), once,
 * and checks them.  Returns the data length, -1 when the pages cannot be
 * read (answer DID_ERROR), -2 when the descriptors are malformed (stop the
 * vhost).
 */
static int64_t fetch_desc(struct lunar_xen_vhost *vh, struct vreq *v, const char **why)
{
	const struct lunar_vscsi_req *r = &v->req;
	const uint8_t *pages[LUNAR_VSCSI_SEGS];
	uint8_t *base;
	int64_t len;

	if (vh->copy_max) {
		uint32_t k = 0;

		vh->ncopies = 0;
		for (uint32_t i = 0; i < r->nseg; i++) {
			vh->copies[vh->ncopies++] = (struct lunar_xen_copy){
				.local = &v->desc[k],
				.gref = r->seg[i].gref,
				.offset = r->seg[i].offset,
				.len = r->seg[i].length,
			};
			k += r->seg[i].length / sizeof(struct lunar_vscsi_seg);
		}
		v->copy_first = 0;
		v->copy_n = vh->ncopies;
		copy_run(vh, vh->prof ? &vh->prof->ns_copy_out : NULL);
		if (!copied(vh, v)) {
			*why = "indirect descriptor pages cannot be read";
			return -1;
		}
		len = lunar_vscsi_desc_check(v->desc, r->ndesc, why);
		return len < 0 ? -2 : len;
	}
	for (uint32_t i = 0; i < r->nseg; i++)
		vh->refs[i] = r->seg[i].gref;
	base = vh->x->vt->map(vh->ch, r->nseg, vh->refs, false);
	if (!base) {
		*why = "indirect descriptor pages do not map";
		return -1;
	}
	for (uint32_t i = 0; i < r->nseg; i++)
		pages[i] = base + (size_t)i * LUNAR_VSCSI_PAGE;
	len = lunar_vscsi_req_indirect(r, pages, v->desc, why);
	vh->x->vt->unmap(vh->ch, base, r->nseg);
	return len < 0 ? -2 : len;
}

/* Maps the data grants and builds the iovecs over them. */
static int map_data(struct lunar_xen_vhost *vh, struct vreq *v, const char **why)
{
	uint32_t n = v->nsegs;
	uint64_t t0 = prof_start(vh);
	uint8_t *base;

	for (uint32_t i = 0; i < n; i++)
		vh->refs[i] = v->segs[i].gref;
	base = vh->x->vt->map(vh->ch, n, vh->refs, v->req.dma != LUNAR_VSCSI_DMA_TO_DEVICE);
	if (vh->prof) {
		prof_add(vh, &vh->prof->ns_map, t0);
		vh->prof->maps++;
	}
	if (!base) {
		*why = "data grants do not map";
		return -1;
	}
	v->map = base;
	v->nmap = n;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = base + (size_t)i * LUNAR_VSCSI_PAGE + v->segs[i].offset;
		struct iovec *last = v->iovcnt ? &v->iov[v->iovcnt - 1] : NULL;

		/* the pages are contiguous in our mapping: a segment that goes
		 * on where the last one ended extends it */
		if (last && (uint8_t *)last->iov_base + last->iov_len == p)
			last->iov_len += v->segs[i].length;
		else
			v->iov[v->iovcnt++] = (struct iovec){ p, v->segs[i].length };
	}
	return 0;
}

/*
 * Gets a command's data ready.  Data-In and Data-Out buffers go through
 * the request's own bounce buffer by grant copy: the copies of a whole
 * pass are one call, and nothing is mapped or unmapped (each a page-table
 * change and a TLB flush in a PV dom0).  Bidirectional buffers, and all
 * of them where grant copy is missing or LUNAR_XEN_COPY_MAX is lower, are
 * mapped.  Returns 0, -1 (answer DID_ERROR), -2 (stop the vhost).
 */
static int prepare_data(struct lunar_xen_vhost *vh, struct vreq *v, const char **why)
{
	const struct lunar_vscsi_req *r = &v->req;

	v->length = r->length;
	v->segs = r->seg;
	v->nsegs = r->nseg;
	v->iovcnt = 0;
	v->copy = false;
	v->copy_n = 0;
	if (r->indirect) {
		int64_t len = fetch_desc(vh, v, why);

		if (len < 0)
			return (int)len;
		v->length = (uint64_t)len;
		v->segs = v->desc;
		v->nsegs = r->ndesc;
	}
	if (!v->nsegs)
		return 0;
	if (v->bounce && v->length <= vh->copy_max &&
	    (r->dma == LUNAR_VSCSI_DMA_TO_DEVICE || r->dma == LUNAR_VSCSI_DMA_FROM_DEVICE)) {
		v->copy = true;
		v->iov[0] = (struct iovec){ v->bounce, (size_t)v->length };
		v->iovcnt = 1;
		return 0;
	}
	return map_data(vh, v, why);
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

/* Takes a command: its data readied, it waits in vh->staged for the end
 * of the pass (flush_staged). */
static void take_cdb(struct lunar_xen_vhost *vh, struct vreq *v, struct xport *xp, uint64_t id)
{
	const char *why = NULL;
	int rc;

	rc = prepare_data(vh, v, &why);
	if (rc == -2) {
		die(vh, why);
		respond_host(vh, v, LUNAR_VSCSI_HOST_ERROR);
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
	v->port = xp;
	v->port_id = id;
	vh->staged[vh->nstaged++] = v;
}

/*
 * The end of a pass (or an ABORT/RESET, which must find every command
 * before it queued): the Data-Out of every copied command comes from the
 * guest in one grant copy, the commands go to their ports, and each port
 * is poked once.
 */
static void flush_staged(struct lunar_xen_vhost *vh)
{
	struct xport *poke[RING];
	int fds[RING];
	struct vreq *gone[RING];
	uint32_t npoke = 0, ngone = 0;
	uint64_t t0;

	if (!vh->nstaged)
		return;
	vh->ncopies = 0;
	for (uint32_t i = 0; i < vh->nstaged; i++) {
		struct vreq *v = vh->staged[i];

		v->copy_n = 0;
		if (!v->copy)
			continue;
		if (v->dir == LUNAR_DIR_OUT)
			copy_add(vh, v, v->length, false);
	}
	copy_run(vh, vh->prof ? &vh->prof->ns_copy_out : NULL);
	pthread_mutex_lock(&vh->poke_lock);
	pthread_mutex_lock(&vh->lock);
	for (uint32_t i = 0; i < vh->nstaged; i++) {
		struct vreq *v = vh->staged[i];
		struct xport *xp = v->port;
		uint32_t k;

		if (v->copy_n && !copied(vh, v)) {
			gone[ngone++] = v;
			v->port = NULL;
			v->host = LUNAR_VSCSI_HOST_ERROR;
			continue;
		}
		if (!alive(vh, xp, v->port_id)) {
			/* removed while its data was readied */
			gone[ngone++] = v;
			v->port = NULL;
			v->host = LUNAR_VSCSI_HOST_NO_CONNECT;
			continue;
		}
		v->state = V_QUEUED;
		v->next = NULL;
		*xp->qtail = v;
		xp->qtail = &v->next;
		for (k = 0; k < npoke && poke[k] != xp; k++)
			;
		if (k == npoke) {
			poke[npoke] = xp;
			fds[npoke++] = xp->efd;
		}
	}
	pthread_mutex_unlock(&vh->lock);
	vh->nstaged = 0;
	t0 = prof_start(vh);
	for (uint32_t k = 0; k < npoke; k++)
		lunar_xen_poke(fds[k]);
	prof_add(vh, vh->prof ? &vh->prof->ns_poke : NULL, t0);
	pthread_mutex_unlock(&vh->poke_lock);
	for (uint32_t i = 0; i < ngone; i++) {
		struct vreq *v = gone[i];

		if (v->host == LUNAR_VSCSI_HOST_ERROR)
			refuse(vh, v, "the guest's Data-Out pages cannot be read");
		else
			respond_host(vh, v, LUNAR_VSCSI_HOST_NO_CONNECT);
	}
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
			v->state = V_STAGED;
			v->req = r;
			v->seq = ++vh->seq;
			v->map = NULL;
			v->nmap = 0;
			v->iovcnt = 0;
			v->length = 0;
			v->port = NULL;
			v->copy = false;
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
		if (vh->prof)
			vh->prof->requests++;
		if (r.act == LUNAR_VSCSI_ACT_CDB) {
			take_cdb(vh, v, xp, id);
		} else {
			/* what came before it is where it must look */
			flush_staged(vh);
			take_tmr(vh, v, xp, id);
		}
	}
	flush_staged(vh);
}

/* Publishes the responses written: one event, if the frontend asked for
 * one (rsp_event) among them. */
static void publish(struct lunar_xen_vhost *vh)
{
	uint64_t t0;

	if (atomic_load(&vh->dead) || vh->ring.rsp_prod_pvt == vh->pushed)
		return;
	vh->pushed = vh->ring.rsp_prod_pvt;
	if (lunar_vscsi_ring_push(&vh->ring)) {
		t0 = prof_start(vh);
		vh->x->vt->evt_notify(vh->ch);
		if (vh->prof) {
			prof_add(vh, &vh->prof->ns_notify, t0);
			vh->prof->notifies++;
		}
	}
}

static void service(struct lunar_xen_vhost *vh)
{
	for (;;) {
		if (vh->prof)
			vh->prof->passes++;
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
		uint64_t cnt, t0 = prof_start(vh);
		bool evt;
		int rc = poll(pfd, 3, -1);

		if (vh->prof) {
			prof_add(vh, &vh->prof->ns_wait, t0);
			vh->prof->wakes++;
		}
		if (rc < 0) {
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

/*
 * Requests up to this many bytes go by grant copy, larger ones are mapped
 * (0: all mapped, as where gntdev cannot copy).  LUNAR_XEN_COPY_MAX, in
 * bytes, lowers the default (every request): for measuring.  A bounce
 * buffer's pages are only memory once a request that large used them.
 */
static uint32_t copy_max(struct lunar_xenops *x, struct lunar_xen_chan *ch)
{
	const char *env = getenv("LUNAR_XEN_COPY_MAX");
	uint64_t v = COPY_MAX_DEFAULT;

	if (x->vt->copy(ch, NULL, 0) < 0)
		return 0;
	if (env && *env)
		v = strtoull(env, NULL, 0);
	return (uint32_t)LUNAR_MIN(v, (uint64_t)LUNAR_VSCSI_SG_MAX * LUNAR_VSCSI_PAGE);
}

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
	pthread_mutex_init(&vh->poke_lock, NULL);
	vh->copies = calloc(COPIES, sizeof(*vh->copies));
	if (!vh->copies) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < RING; i++) {
		vh->v[i].iov = calloc(LUNAR_VSCSI_SG_MAX, sizeof(struct iovec));
		vh->v[i].desc = calloc(LUNAR_VSCSI_SG_MAX, sizeof(struct lunar_vscsi_seg));
		if (!vh->v[i].iov || !vh->v[i].desc) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (getenv("LUNAR_XEN_PROFILE") && atoi(getenv("LUNAR_XEN_PROFILE")) > 0)
		vh->prof = calloc(1, sizeof(*vh->prof));
	if (vh->prof)
		vh->prof->t0 = lunar_now_ns();
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
	vh->copy_max = copy_max(x, vh->ch);
	for (int i = 0; i < RING && vh->copy_max; i++) {
		/*
		 * Fresh zero pages, never recycled heap: a Data-In the handler
		 * leaves partly unwritten sends the guest what the bounce held,
		 * and that must be nothing but what this guest itself sent or
		 * was sent through this vhost.  Page-aligned (a 4 KiB piece is
		 * one page of ours to pin); untouched pages cost no memory.
		 */
		void *b = mmap(NULL, vh->copy_max, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (b == MAP_FAILED)
			log_warn("xen %s: no memory for a bounce buffer: its requests are mapped",
				 vh->name);
		else
			vh->v[i].bounce = b;
	}
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
	prof_log(vh);
	/* nothing is mapped past this point but the ring itself */
	for (int i = 0; i < RING; i++) {
		if (vh->v[i].map)
			unmap_data(vh, &vh->v[i]);
		free(vh->v[i].iov);
		free(vh->v[i].desc);
		if (vh->v[i].bounce)
			munmap(vh->v[i].bounce, vh->copy_max);
	}
	free(vh->copies);
	free(vh->prof);
	if (vh->page)
		vh->x->vt->unmap(vh->ch, vh->page, 1);
	if (vh->ch)
		vh->x->vt->chan_close(vh->ch);
	if (vh->stop_efd >= 0)
		close(vh->stop_efd);
	if (vh->kick_efd >= 0)
		close(vh->kick_efd);
	pthread_mutex_destroy(&vh->lock);
	pthread_mutex_destroy(&vh->poke_lock);
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
