/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <string.h>

#include "xen/ring.h"

_Static_assert(sizeof(struct lunar_vscsi_seg) == 8, "segment is 8 bytes");
_Static_assert(sizeof(struct lunar_vscsi_wire_req) == LUNAR_VSCSI_ENTRY, "request is 252 bytes");
_Static_assert(sizeof(struct lunar_vscsi_wire_rsp) == LUNAR_VSCSI_ENTRY, "response is 252 bytes");
_Static_assert(offsetof(struct lunar_vscsi_wire_req, dir) == 30, "sc_data_direction at 30");
_Static_assert(offsetof(struct lunar_vscsi_wire_req, seg) == 32, "seg[] at 32");
_Static_assert(offsetof(struct lunar_vscsi_wire_rsp, rslt) == 100, "rslt at 100");
_Static_assert(offsetof(struct lunar_vscsi_sring, ring) == LUNAR_VSCSI_RING_OFF, "entries at 64");
_Static_assert(LUNAR_VSCSI_RING_OFF + LUNAR_VSCSI_RING_SIZE * LUNAR_VSCSI_ENTRY <= LUNAR_VSCSI_PAGE,
	       "the ring fits its page");

/*
 * The frontend writes the indices from another CPU (another domain): each
 * is read once with an atomic load, and ordering against the entries is
 * explicit.
 */
static uint32_t load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static uint8_t *entry(struct lunar_vscsi_ring *r, uint32_t idx)
{
	return r->s->ring + (size_t)(idx & (LUNAR_VSCSI_RING_SIZE - 1)) * LUNAR_VSCSI_ENTRY;
}

void lunar_vscsi_ring_init(struct lunar_vscsi_ring *r, void *page)
{
	r->s = page;
	r->req_cons = 0;
	r->rsp_prod_pvt = 0;
	r->why = NULL;
}

uint32_t lunar_vscsi_ring_inflight(const struct lunar_vscsi_ring *r)
{
	return r->req_cons - r->rsp_prod_pvt;
}

int lunar_vscsi_ring_next(struct lunar_vscsi_ring *r, struct lunar_vscsi_wire_req *out)
{
	uint32_t prod = load_acquire(&r->s->req_prod);
	const volatile uint8_t *src;
	uint8_t *dst = (uint8_t *)out;
	uint32_t avail = prod - r->req_cons;

	/*
	 * The frontend can publish at most RING_SIZE requests beyond our last
	 * response: further ahead it overwrote requests we have not answered;
	 * behind what we consumed, the index went backwards.
	 */
	if (avail > LUNAR_VSCSI_RING_SIZE - lunar_vscsi_ring_inflight(r)) {
		r->why = "the frontend's req_prod is more than a ring ahead of the responses, or behind";
		return -1;
	}
	if (!avail)
		return 0;
	/* One copy, byte by byte through volatile: the compiler may not go
	 * back to the shared page for a field later (double fetch). */
	src = entry(r, r->req_cons);
	for (size_t i = 0; i < sizeof(*out); i++)
		dst[i] = src[i];
	r->req_cons++;
	return 1;
}

int lunar_vscsi_req_parse(const struct lunar_vscsi_wire_req *w, uint32_t sg_max,
			  struct lunar_vscsi_req *out, const char **why)
{
	uint32_t n;

	memset(out, 0, sizeof(*out));
	out->rqid = w->rqid;
	out->act = w->act;
	out->channel = w->channel;
	out->id = w->id;
	out->lun = w->lun;
	out->ref_rqid = w->ref_rqid;
	switch (w->act) {
	case LUNAR_VSCSI_ACT_CDB:
		break;
	case LUNAR_VSCSI_ACT_ABORT:
	case LUNAR_VSCSI_ACT_RESET:
		/* the rest of a task management request carries nothing */
		return 0;
	default:
		*why = "unknown act";
		return -1;
	}
	if (w->cmd_len == 0 || w->cmd_len > LUNAR_VSCSI_CDB_MAX) {
		*why = "cmd_len is not 1..16";
		return -1;
	}
	if (w->dir > LUNAR_VSCSI_DMA_NONE) {
		*why = "unknown sc_data_direction";
		return -1;
	}
	out->cdb_len = w->cmd_len;
	memcpy(out->cdb, w->cdb, w->cmd_len);
	out->dma = w->dir;
	out->indirect = w->nr_segments & LUNAR_VSCSI_SG_GRANT;
	n = w->nr_segments & ~LUNAR_VSCSI_SG_GRANT;
	if (n > LUNAR_VSCSI_SEGS) {
		*why = "nr_segments above 26";
		return -1;
	}
	if (out->indirect && !sg_max) {
		*why = "indirect segments without feature-sg-grant";
		return -1;
	}
	if (out->indirect && !n) {
		*why = "indirect request without descriptor pages";
		return -1;
	}
	if (n && w->dir == LUNAR_VSCSI_DMA_NONE) {
		*why = "segments on a request without data";
		return -1;
	}
	out->nseg = (uint8_t)n;
	memcpy(out->seg, w->seg, n * sizeof(w->seg[0]));
	for (uint32_t i = 0; i < n; i++) {
		const struct lunar_vscsi_seg *s = &out->seg[i];

		if (s->length == 0 || (uint32_t)s->offset + s->length > LUNAR_VSCSI_PAGE) {
			*why = "a segment does not lie within its page";
			return -1;
		}
		if (out->indirect) {
			if (s->length % sizeof(struct lunar_vscsi_seg)) {
				*why = "a descriptor array is not a whole number of descriptors";
				return -1;
			}
			out->ndesc += s->length / sizeof(struct lunar_vscsi_seg);
		} else {
			out->length += s->length;
		}
	}
	if (out->indirect && out->ndesc > sg_max) {
		*why = "more indirect descriptors than feature-sg-grant allows";
		return -1;
	}
	return 0;
}

int64_t lunar_vscsi_desc_check(const struct lunar_vscsi_seg *d, uint32_t n, const char **why)
{
	int64_t length = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (d[i].length == 0 || (uint32_t)d[i].offset + d[i].length > LUNAR_VSCSI_PAGE) {
			*why = "an indirect descriptor does not lie within its page";
			return -1;
		}
		length += d[i].length;
	}
	return length;
}

int64_t lunar_vscsi_req_indirect(const struct lunar_vscsi_req *r, const uint8_t *const *pages,
				 struct lunar_vscsi_seg *out, const char **why)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < r->nseg; i++) {
		uint32_t cnt = r->seg[i].length / sizeof(struct lunar_vscsi_seg);
		const volatile uint8_t *src = pages[i] + r->seg[i].offset;
		uint8_t *dst = (uint8_t *)&out[k];

		/* the validated locator keeps this inside the page, and k + cnt
		 * inside r->ndesc */
		for (size_t b = 0; b < cnt * sizeof(struct lunar_vscsi_seg); b++)
			dst[b] = src[b];
		k += cnt;
	}
	return lunar_vscsi_desc_check(out, k, why);
}

int lunar_vscsi_ring_respond(struct lunar_vscsi_ring *r, const struct lunar_vscsi_wire_rsp *rsp)
{
	if (r->rsp_prod_pvt == r->req_cons)
		return -1;
	memcpy(entry(r, r->rsp_prod_pvt), rsp, sizeof(*rsp));
	r->rsp_prod_pvt++;
	return 0;
}

bool lunar_vscsi_ring_push(struct lunar_vscsi_ring *r)
{
	uint32_t old = r->s->rsp_prod, new = r->rsp_prod_pvt;
	uint32_t event;

	/* responses before the index that publishes them */
	store_release(&r->s->rsp_prod, new);
	full_barrier();
	event = load_acquire(&r->s->rsp_event);
	/* the frontend asked to hear of response number rsp_event: notify
	 * when it lies in (old, new] */
	return (uint32_t)(new - event) < (uint32_t)(new - old);
}

bool lunar_vscsi_ring_final_check(struct lunar_vscsi_ring *r)
{
	uint32_t prod = load_acquire(&r->s->req_prod);

	if (prod != r->req_cons)
		return true;
	store_release(&r->s->req_event, r->req_cons + 1);
	full_barrier();
	prod = load_acquire(&r->s->req_prod);
	return prod != r->req_cons;
}

void lunar_vscsi_rsp_fill(struct lunar_vscsi_wire_rsp *w, uint16_t rqid, uint8_t host,
			  uint8_t status, const uint8_t *sense, uint32_t sense_len,
			  uint32_t residual)
{
	memset(w, 0, sizeof(*w));
	w->rqid = rqid;
	w->rslt = (int32_t)((uint32_t)host << 16 | status);
	if (sense && sense_len) {
		if (sense_len > LUNAR_VSCSI_SENSE)
			sense_len = LUNAR_VSCSI_SENSE;
		memcpy(w->sense, sense, sense_len);
		w->sense_len = (uint8_t)sense_len;
	}
	w->residual_len = residual;
}
