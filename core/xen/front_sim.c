/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "xen/front_sim.h"
#include "xen/xenops.h"
#include "xen/xenops_sim.h"
#include "xen/xsutil.h"

enum {
	PAGE = LUNAR_VSCSI_PAGE,
	RING = LUNAR_VSCSI_RING_SIZE,
	MAX_PAGES = 1024,	/* guest pages this frontend may use */
	MAX_DISKS = 64,
};

struct shadow {
	bool used;
	struct lunar_xen_front_io *io;
	uint8_t act;
	uint32_t npages, ndesc_pages;
	uint32_t pages[LUNAR_VSCSI_SG_MAX + LUNAR_VSCSI_SEGS];	/* data, then descriptors */
	uint32_t refs[LUNAR_VSCSI_SG_MAX + LUNAR_VSCSI_SEGS];
};

struct disk {
	uint16_t chn, tgt, lun;
	char dev[32];
};

struct lunar_xen_front {
	struct lunar_xen_sim *sim;
	struct lunar_xenops *xs;
	uint32_t domid;
	char dir[128];
	char *be;
	int state;
	int epfd, evt_fd;
	uint32_t port;
	uint32_t ring_page, ring_ref;
	struct lunar_vscsi_sring *s;
	uint32_t req_prod_pvt, rsp_cons;
	uint32_t sg_max;
	struct shadow shadow[RING];
	uint8_t *mem;
	bool page_used[MAX_PAGES];
	uint32_t first_page;
	struct disk disks[MAX_DISKS];
	unsigned ndisks;
	char error[160];
	bool watching_be;
};

static void fail(struct lunar_xen_front *f, const char *why)
{
	if (!f->error[0])
		snprintf(f->error, sizeof(f->error), "%s", why);
}

static int page_alloc(struct lunar_xen_front *f)
{
	for (uint32_t i = 0; i < MAX_PAGES; i++) {
		if (!f->page_used[i]) {
			f->page_used[i] = true;
			return (int)(f->first_page + i);
		}
	}
	return -1;
}

static void page_free(struct lunar_xen_front *f, uint32_t page)
{
	f->page_used[page - f->first_page] = false;
}

static uint8_t *page_mem(struct lunar_xen_front *f, uint32_t page)
{
	return f->mem + (size_t)page * PAGE;
}

static void set_state(struct lunar_xen_front *f, int st)
{
	char p[160], v[8];

	snprintf(p, sizeof(p), "%s/state", f->dir);
	snprintf(v, sizeof(v), "%d", st);
	f->xs->vt->xs_write(f->xs, LUNAR_XS_NULL, p, v);
	f->state = st;
}

/* probe: ring page, event channel, published in one transaction */
static int publish_ring(struct lunar_xen_front *f)
{
	char p[160], v[16];
	int page = page_alloc(f), efd = -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 2 };
	uint32_t t;

	if (page < 0)
		return -1;
	f->ring_page = (uint32_t)page;
	f->s = (struct lunar_vscsi_sring *)page_mem(f, f->ring_page);
	memset(f->s, 0, PAGE);
	f->s->req_event = f->s->rsp_event = 1;
	f->req_prod_pvt = f->rsp_cons = 0;
	f->ring_ref = lunar_xen_sim_grant(f->sim, f->ring_page, false);
	f->port = lunar_xen_sim_evtchn_alloc(f->sim, &efd);
	if (!f->ring_ref || !f->port)
		return -1;
	f->evt_fd = efd;
	epoll_ctl(f->epfd, EPOLL_CTL_ADD, efd, &ev);
	do {
		t = f->xs->vt->xs_transaction_start(f->xs);
		snprintf(p, sizeof(p), "%s/ring-ref", f->dir);
		snprintf(v, sizeof(v), "%u", f->ring_ref);
		f->xs->vt->xs_write(f->xs, t, p, v);
		snprintf(p, sizeof(p), "%s/event-channel", f->dir);
		snprintf(v, sizeof(v), "%u", f->port);
		f->xs->vt->xs_write(f->xs, t, p, v);
	} while (f->xs->vt->xs_transaction_end(f->xs, t, false) < 0 && errno == EAGAIN);
	set_state(f, 3);
	return 0;
}

struct lunar_xen_front *lunar_xen_front_create(struct lunar_xen_sim *sim, uint32_t domid,
					       const char *vhost)
{
	struct lunar_xen_front *f = calloc(1, sizeof(*f));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
	char p[160];

	if (!f)
		return NULL;
	{
	f->sim = sim;
	f->domid = domid;
	f->evt_fd = -1;
	f->mem = lunar_xen_sim_guest_mem(sim);
	static unsigned region;

	/* each frontend its own stretch of guest memory (8 of them) */
	f->first_page = 16 + (region++ % 8) * MAX_PAGES;
	}
	snprintf(f->dir, sizeof(f->dir), "/local/domain/%u/device/vscsi/%s", domid, vhost);
	f->xs = lunar_xenops_sim_open(sim, domid);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!f->xs || f->epfd < 0)
		goto fail;
	epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->xs->vt->xs_fd(f->xs), &ev);
	/* what the xenbus core reads before probing: the other end */
	f->be = lunar_xs_read(f->xs, f->dir, "backend");
	if (!f->be) {
		fail(f, "unable to read the other end: backend missing or inaccessible");
		return f;
	}
	snprintf(p, sizeof(p), "%s/state", f->be);
	f->xs->vt->xs_watch(f->xs, p, "be");
	snprintf(p, sizeof(p), "%s/vscsi-devs", f->be);
	f->xs->vt->xs_watch(f->xs, p, "devs");
	f->watching_be = true;
	if (publish_ring(f) < 0)
		fail(f, "cannot set up the ring");
	return f;
fail:
	lunar_xen_front_destroy(f);
	return NULL;
}

static void release(struct lunar_xen_front *f, struct shadow *sh)
{
	for (uint32_t i = 0; i < sh->npages + sh->ndesc_pages; i++) {
		if (lunar_xen_sim_ungrant(f->sim, sh->refs[i]) < 0)
			fail(f, "grant still in use by backend");
		page_free(f, sh->pages[i]);
	}
	sh->npages = sh->ndesc_pages = 0;
	sh->used = false;
	sh->io = NULL;
}

void lunar_xen_front_destroy(struct lunar_xen_front *f)
{
	if (!f)
		return;
	if (f->epfd >= 0)
		close(f->epfd);
	if (f->xs)
		f->xs->vt->close(f->xs);
	free(f->be);
	free(f);
}

int lunar_xen_front_fd(struct lunar_xen_front *f)
{
	return f->epfd;
}

int lunar_xen_front_state(struct lunar_xen_front *f)
{
	return f->state;
}

const char *lunar_xen_front_error(struct lunar_xen_front *f)
{
	return f->error[0] ? f->error : NULL;
}

unsigned lunar_xen_front_inflight(struct lunar_xen_front *f)
{
	unsigned n = 0;

	for (int i = 0; i < RING; i++)
		n += f->shadow[i].used;
	return n;
}

bool lunar_xen_front_has(struct lunar_xen_front *f, uint16_t chn, uint16_t tgt, uint16_t lun)
{
	for (unsigned i = 0; i < f->ndisks; i++)
		if (f->disks[i].chn == chn && f->disks[i].tgt == tgt && f->disks[i].lun == lun)
			return true;
	return false;
}

/* ---- hot-plug, as scsifront does it ------------------------------------------------ */

enum { OP_ADD, OP_DEL, OP_READD };

static void devs(struct lunar_xen_front *f, int op)
{
	char dir[200], sub[260], fsub[260];
	char **names;
	unsigned n = 0;

	snprintf(dir, sizeof(dir), "%s/vscsi-devs", f->be);
	names = f->xs->vt->xs_directory(f->xs, LUNAR_XS_NULL, dir, &n);
	for (unsigned i = 0; names && i < n; i++) {
		long st;
		char *vdev;
		unsigned h, c, t, l;

		snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
		snprintf(fsub, sizeof(fsub), "%s/vscsi-devs/%s/state", f->dir, names[i]);
		st = lunar_xs_read_int(f->xs, sub, "state", -1);
		vdev = lunar_xs_read(f->xs, sub, "v-dev");
		if (!vdev || lunar_xs_parse_hctl(vdev, &h, &c, &t, &l) < 0) {
			free(vdev);
			continue;
		}
		free(vdev);
		if (op == OP_ADD && st == 3 && !lunar_xen_front_has(f, (uint16_t)c, (uint16_t)t, (uint16_t)l) &&
		    f->ndisks < MAX_DISKS) {
			struct disk *d = &f->disks[f->ndisks++];

			d->chn = (uint16_t)c;
			d->tgt = (uint16_t)t;
			d->lun = (uint16_t)l;
			snprintf(d->dev, sizeof(d->dev), "%s", names[i]);
			f->xs->vt->xs_write(f->xs, LUNAR_XS_NULL, fsub, "4");
		} else if (op == OP_DEL && st == 5) {
			for (unsigned k = 0; k < f->ndisks; k++) {
				if (f->disks[k].chn == c && f->disks[k].tgt == t && f->disks[k].lun == l) {
					f->disks[k] = f->disks[--f->ndisks];
					break;
				}
			}
			f->xs->vt->xs_write(f->xs, LUNAR_XS_NULL, fsub, "6");
		}
	}
	free(names);
}

static void backend_changed(struct lunar_xen_front *f)
{
	long st = lunar_xs_read_int(f->xs, f->be, "state", -1);

	switch (st) {
	case 4:	/* Connected */
		if (f->state == 3) {
			f->sg_max = (uint32_t)lunar_xs_read_int(f->xs, f->be, "feature-sg-grant", 0);
			devs(f, OP_ADD);
			set_state(f, 4);
		}
		break;
	case 5:	/* Closing */
	case 6:
		if (f->state != 6 && f->state != 1) {
			f->ndisks = 0;
			set_state(f, 6);
		}
		break;
	case 7:	/* Reconfiguring */
		if (f->state == 4) {
			devs(f, OP_DEL);
			set_state(f, 7);
		}
		break;
	case 8:	/* Reconfigured */
		if (f->state == 7) {
			devs(f, OP_ADD);
			set_state(f, 4);
		}
		break;
	}
}

/* ---- the ring ---------------------------------------------------------------------- */

static void responses(struct lunar_xen_front *f)
{
	uint32_t prod = __atomic_load_n(&f->s->rsp_prod, __ATOMIC_ACQUIRE);

	if (prod - f->rsp_cons > RING) {
		fail(f, "response producer overflow");
		return;
	}
	while (f->rsp_cons != prod) {
		struct lunar_vscsi_wire_rsp r;
		struct shadow *sh;
		struct lunar_xen_front_io *io;

		memcpy(&r, f->s->ring + (size_t)(f->rsp_cons % RING) * LUNAR_VSCSI_ENTRY, sizeof(r));
		f->rsp_cons++;
		if (r.rqid >= RING || !f->shadow[r.rqid].used) {
			fail(f, "illegal rqid returned by backend");
			continue;
		}
		sh = &f->shadow[r.rqid];
		io = sh->io;
		io->rslt = r.rslt;
		io->residual = r.residual_len;
		io->sense_len = r.sense_len;
		memcpy(io->sense, r.sense, sizeof(io->sense));
		if (sh->act == LUNAR_VSCSI_ACT_CDB && io->len && io->dma != LUNAR_VSCSI_DMA_TO_DEVICE) {
			/* gather Data-In out of the guest pages */
			uint32_t off = io->page_off, done = 0;

			for (uint32_t i = 0; i < sh->npages && done < io->len; i++) {
				uint32_t n = PAGE - off < io->len - done ? PAGE - off : io->len - done;

				memcpy((uint8_t *)io->buf + done, page_mem(f, sh->pages[i]) + off, n);
				done += n;
				off = 0;
			}
		}
		release(f, sh);
		io->done = true;
	}
	__atomic_store_n(&f->s->rsp_event, f->rsp_cons + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&f->s->rsp_prod, __ATOMIC_ACQUIRE) != f->rsp_cons)
		responses(f);
}

void lunar_xen_front_step(struct lunar_xen_front *f)
{
	struct epoll_event ev[4];
	char **w;

	(void)epoll_wait(f->epfd, ev, 4, 0);
	while ((w = f->xs->vt->xs_check_watch(f->xs)))
		free(w);
	if (f->be)
		backend_changed(f);
	if (f->port) {
		lunar_xen_sim_evtchn_ack(f->sim, f->port);
		if (f->s)
			responses(f);
	}
}

static int get_rqid(struct lunar_xen_front *f)
{
	if (f->req_prod_pvt - f->rsp_cons >= RING)
		return -1;
	for (int i = 0; i < RING; i++)
		if (!f->shadow[i].used)
			return i;
	return -1;
}

static void push(struct lunar_xen_front *f)
{
	uint32_t old = f->s->req_prod, new = f->req_prod_pvt, event;

	__atomic_store_n(&f->s->req_prod, new, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = __atomic_load_n(&f->s->req_event, __ATOMIC_ACQUIRE);
	if ((uint32_t)(new - event) < (uint32_t)(new - old))
		lunar_xen_sim_evtchn_notify(f->sim, f->port);
}

static struct lunar_vscsi_wire_req *next_req(struct lunar_xen_front *f)
{
	return (struct lunar_vscsi_wire_req *)(f->s->ring +
		(size_t)(f->req_prod_pvt++ % RING) * LUNAR_VSCSI_ENTRY);
}

static int grant_new(struct lunar_xen_front *f, struct shadow *sh, bool readonly)
{
	int page = page_alloc(f);
	uint32_t i = sh->npages + sh->ndesc_pages;

	if (page < 0)
		return -1;
	sh->pages[i] = (uint32_t)page;
	sh->refs[i] = lunar_xen_sim_grant(f->sim, (uint32_t)page, readonly);
	if (!sh->refs[i]) {
		page_free(f, (uint32_t)page);
		return -1;
	}
	return 0;
}

int lunar_xen_front_submit(struct lunar_xen_front *f, struct lunar_xen_front_io *io)
{
	int id = get_rqid(f);
	struct shadow *sh;
	struct lunar_vscsi_wire_req w = { 0 };
	struct lunar_vscsi_seg segs[LUNAR_VSCSI_SG_MAX];
	uint32_t nseg = 0, off = io->page_off, done = 0;
	bool out = io->dma == LUNAR_VSCSI_DMA_TO_DEVICE;

	if (id < 0 || f->state != 4 || io->page_off >= PAGE || io->cdb_len > LUNAR_VSCSI_CDB_MAX)
		return -1;
	sh = &f->shadow[id];
	memset(sh, 0, sizeof(*sh));
	sh->used = true;
	sh->io = io;
	sh->act = LUNAR_VSCSI_ACT_CDB;
	io->done = false;
	io->rqid = (uint16_t)id;
	/* one grant per page the buffer touches */
	while (done < io->len) {
		uint32_t n = PAGE - off < io->len - done ? PAGE - off : io->len - done;

		if (nseg == LUNAR_VSCSI_SG_MAX || grant_new(f, sh, out) < 0)
			goto fail;
		/* the guest's pages are its buffer: for a Data-In too, what
		 * the backend does not write keeps what the buffer held */
		if (io->dma != LUNAR_VSCSI_DMA_NONE)
			memcpy(page_mem(f, sh->pages[sh->npages]) + off, (uint8_t *)io->buf + done, n);
		segs[nseg++] = (struct lunar_vscsi_seg){ sh->refs[sh->npages], (uint16_t)off,
							 (uint16_t)n };
		sh->npages++;
		done += n;
		off = 0;
	}
	w.rqid = (uint16_t)id;
	w.act = LUNAR_VSCSI_ACT_CDB;
	w.cmd_len = io->cdb_len;
	memcpy(w.cdb, io->cdb, io->cdb_len);
	w.channel = io->chn;
	w.id = io->tgt;
	w.lun = io->lun;
	w.dir = io->dma;
	if (nseg > LUNAR_VSCSI_SEGS || (io->indirect && nseg)) {
		uint32_t per = LUNAR_VSCSI_SG_PER_PAGE, npg = (nseg + per - 1) / per;

		if (nseg > f->sg_max || npg > LUNAR_VSCSI_SEGS)
			goto fail;
		for (uint32_t p = 0; p < npg; p++) {
			uint32_t cnt = nseg - p * per < per ? nseg - p * per : per;

			if (grant_new(f, sh, true) < 0)
				goto fail;
			memcpy(page_mem(f, sh->pages[sh->npages + sh->ndesc_pages]), &segs[p * per],
			       cnt * sizeof(segs[0]));
			w.seg[p] = (struct lunar_vscsi_seg){ sh->refs[sh->npages + sh->ndesc_pages], 0,
							     (uint16_t)(cnt * sizeof(segs[0])) };
			sh->ndesc_pages++;
		}
		w.nr_segments = (uint8_t)(LUNAR_VSCSI_SG_GRANT | npg);
	} else {
		memcpy(w.seg, segs, nseg * sizeof(segs[0]));
		w.nr_segments = (uint8_t)nseg;
	}
	memcpy(next_req(f), &w, sizeof(w));
	push(f);
	return 0;
fail:
	release(f, sh);
	return -1;
}

static int tmr(struct lunar_xen_front *f, uint8_t act, uint16_t ref, uint16_t chn, uint16_t tgt,
	       uint16_t lun, struct lunar_xen_front_io *io)
{
	int id = get_rqid(f);
	struct lunar_vscsi_wire_req w = { 0 };

	if (id < 0 || f->state != 4)
		return -1;
	memset(&f->shadow[id], 0, sizeof(f->shadow[id]));
	f->shadow[id].used = true;
	f->shadow[id].io = io;
	f->shadow[id].act = act;
	io->done = false;
	io->rqid = (uint16_t)id;
	io->len = 0;
	w.rqid = (uint16_t)id;
	w.act = act;
	w.ref_rqid = ref;
	w.channel = chn;
	w.id = tgt;
	w.lun = lun;
	w.dir = LUNAR_VSCSI_DMA_NONE;
	memcpy(next_req(f), &w, sizeof(w));
	push(f);
	return 0;
}

int lunar_xen_front_abort(struct lunar_xen_front *f, const struct lunar_xen_front_io *io,
			  struct lunar_xen_front_io *t)
{
	return tmr(f, LUNAR_VSCSI_ACT_ABORT, io->rqid, io->chn, io->tgt, io->lun, t);
}

int lunar_xen_front_reset(struct lunar_xen_front *f, uint16_t chn, uint16_t tgt, uint16_t lun,
			  struct lunar_xen_front_io *t)
{
	return tmr(f, LUNAR_VSCSI_ACT_RESET, 0, chn, tgt, lun, t);
}

void lunar_xen_front_close(struct lunar_xen_front *f)
{
	set_state(f, 5);
}

void lunar_xen_front_raw(struct lunar_xen_front *f, const struct lunar_vscsi_wire_req *w,
			 struct lunar_xen_front_io *io)
{
	if (io && w->rqid < RING && !f->shadow[w->rqid].used) {
		memset(&f->shadow[w->rqid], 0, sizeof(f->shadow[0]));
		f->shadow[w->rqid].used = true;
		f->shadow[w->rqid].io = io;
		f->shadow[w->rqid].act = 0;	/* its grants are the test's */
		io->done = false;
		io->rqid = w->rqid;
		io->len = 0;
	}
	memcpy(next_req(f), w, sizeof(*w));
	__atomic_store_n(&f->s->req_prod, f->req_prod_pvt, __ATOMIC_RELEASE);
	lunar_xen_sim_evtchn_notify(f->sim, f->port);
}

void lunar_xen_front_raw_prod(struct lunar_xen_front *f, uint32_t prod)
{
	__atomic_store_n(&f->s->req_prod, prod, __ATOMIC_RELEASE);
	lunar_xen_sim_evtchn_notify(f->sim, f->port);
}

uint32_t lunar_xen_front_grant_page(struct lunar_xen_front *f, bool readonly, uint8_t **mem)
{
	int page = page_alloc(f);

	if (page < 0)
		return 0;
	*mem = page_mem(f, (uint32_t)page);
	return lunar_xen_sim_grant(f->sim, (uint32_t)page, readonly);
}
