/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_RING_H
#define LUNAR_XEN_RING_H

/*
 * The backend half of a vscsiif ring (Xen pvSCSI), written from the
 * protocol description in Xen's public io/vscsiif.h and io/ring.h.  Pure
 * code: no syscalls, no allocation.  The frontend (a guest) is untrusted:
 * every request is copied once out of the shared page, and only the copy
 * is looked at.
 */

#include <stdbool.h>
#include <stdint.h>

enum {
	LUNAR_VSCSI_PAGE = 4096,
	LUNAR_VSCSI_RING_SIZE = 16,		/* (4096 - 64) / 252, rounded down to 2^n */
	LUNAR_VSCSI_CDB_MAX = 16,
	LUNAR_VSCSI_SEGS = 26,			/* seg[] of a request */
	LUNAR_VSCSI_SENSE = 96,
	LUNAR_VSCSI_SG_PER_PAGE = 512,		/* descriptors in one indirect page */
	LUNAR_VSCSI_SG_GRANT = 0x80,		/* nr_segments: seg[] are indirect pages */
	/* descriptors we accept in one indirect request (feature-sg-grant) */
	LUNAR_VSCSI_SG_MAX = 256,
};

/* act */
enum {
	LUNAR_VSCSI_ACT_CDB = 1,
	LUNAR_VSCSI_ACT_ABORT = 2,
	LUNAR_VSCSI_ACT_RESET = 3,
};

/* sc_data_direction: Linux's enum dma_data_direction */
enum {
	LUNAR_VSCSI_DMA_BIDI = 0,
	LUNAR_VSCSI_DMA_TO_DEVICE = 1,
	LUNAR_VSCSI_DMA_FROM_DEVICE = 2,
	LUNAR_VSCSI_DMA_NONE = 3,
};

/* host byte of rslt (bits 16..23) */
enum {
	LUNAR_VSCSI_HOST_OK = 0,
	LUNAR_VSCSI_HOST_NO_CONNECT = 1,
	LUNAR_VSCSI_HOST_ABORT = 5,
	LUNAR_VSCSI_HOST_ERROR = 7,
	LUNAR_VSCSI_HOST_RESET = 8,
};

/* rslt of ABORT and RESET requests */
enum {
	LUNAR_VSCSI_RESET_SUCCESS = 0x2002,
	LUNAR_VSCSI_RESET_FAILED = 0x2003,
};

/* The wire format: 252-byte entries, the same for 32- and 64-bit guests. */
struct lunar_vscsi_seg {
	uint32_t gref;
	uint16_t offset;
	uint16_t length;
};

struct lunar_vscsi_wire_req {
	uint16_t rqid;
	uint8_t act;
	uint8_t cmd_len;
	uint8_t cdb[LUNAR_VSCSI_CDB_MAX];
	uint16_t timeout_per_command;
	uint16_t channel, id, lun;
	uint16_t ref_rqid;
	uint8_t dir;
	uint8_t nr_segments;
	struct lunar_vscsi_seg seg[LUNAR_VSCSI_SEGS];
	uint32_t reserved[3];
};

struct lunar_vscsi_wire_rsp {
	uint16_t rqid;
	uint8_t padding;
	uint8_t sense_len;
	uint8_t sense[LUNAR_VSCSI_SENSE];
	int32_t rslt;
	uint32_t residual_len;
	uint32_t reserved[36];
};

/* The shared page: four indices, padding, then the entries. */
struct lunar_vscsi_sring {
	uint32_t req_prod, req_event;
	uint32_t rsp_prod, rsp_event;
	uint8_t pad[48];
	uint8_t ring[];
};

enum {
	LUNAR_VSCSI_ENTRY = 252,
	LUNAR_VSCSI_RING_OFF = 64,
};

struct lunar_vscsi_ring {
	struct lunar_vscsi_sring *s;	/* the shared page */
	uint32_t req_cons;		/* next request to copy */
	uint32_t rsp_prod_pvt;		/* responses written, not yet pushed
					 * past this point */
	const char *why;		/* why the ring is unusable */
};

/* A request copied, checked and decoded. */
struct lunar_vscsi_req {
	uint16_t rqid;
	uint8_t act;
	uint16_t channel, id, lun;
	uint16_t ref_rqid;
	/* LUNAR_VSCSI_ACT_CDB only */
	uint8_t cdb_len;
	uint8_t cdb[LUNAR_VSCSI_CDB_MAX];
	uint8_t dma;			/* LUNAR_VSCSI_DMA_* */
	bool indirect;			/* seg[] locate descriptor arrays */
	uint8_t nseg;			/* entries of seg[] in use */
	uint32_t ndesc;			/* indirect: descriptors in all pages */
	uint64_t length;		/* direct: bytes of the data buffer */
	struct lunar_vscsi_seg seg[LUNAR_VSCSI_SEGS];
};

/*
 * Sets up the back ring over the shared page.  The frontend initialised
 * the page; the backend starts consuming at its current req_prod minus
 * nothing: indices are free-running and start at 0 on both sides.
 */
void lunar_vscsi_ring_init(struct lunar_vscsi_ring *r, void *page);

/*
 * Copies the next request into *out.  Returns 1, 0 when there is none (or
 * RING_SIZE requests are unanswered: the frontend cannot have more), or -1
 * when req_prod is impossible (more than RING_SIZE ahead of the responses):
 * the frontend is broken or hostile, r->why says so.
 */
int lunar_vscsi_ring_next(struct lunar_vscsi_ring *r, struct lunar_vscsi_wire_req *out);

/*
 * Checks and decodes a copied request.  sg_max is the descriptor count we
 * advertised in feature-sg-grant (0: no indirect requests).  Returns 0, or
 * -1 with *why set: the request is malformed.
 */
int lunar_vscsi_req_parse(const struct lunar_vscsi_wire_req *w, uint32_t sg_max,
			  struct lunar_vscsi_req *out, const char **why);

/*
 * Indirect requests: pages[i] is seg[i]'s granted page (mapped read-only).
 * Copies the descriptors once into out (room for r->ndesc) and checks
 * each.  Returns the data length in bytes, or -1 with *why set.
 */
int64_t lunar_vscsi_req_indirect(const struct lunar_vscsi_req *r, const uint8_t *const *pages,
				 struct lunar_vscsi_seg *out, const char **why);

/*
 * Checks n descriptors already copied out of the guest's pages (a grant
 * copy put them in our memory).  Returns the data length in bytes, or -1
 * with *why set.
 */
int64_t lunar_vscsi_desc_check(const struct lunar_vscsi_seg *d, uint32_t n, const char **why);

/*
 * Writes a response into the next response entry (not yet visible to the
 * frontend).  Returns -1 if no request is waiting for one.
 */
int lunar_vscsi_ring_respond(struct lunar_vscsi_ring *r, const struct lunar_vscsi_wire_rsp *rsp);

/* Publishes the written responses; true if the frontend wants an event. */
bool lunar_vscsi_ring_push(struct lunar_vscsi_ring *r);

/*
 * Before sleeping: true if requests arrived meanwhile.  Otherwise asks the
 * frontend for an event on the next request (req_event), then looks again,
 * which closes the race with a request published in between.
 */
bool lunar_vscsi_ring_final_check(struct lunar_vscsi_ring *r);

/* Unanswered requests (copied, response not written). */
uint32_t lunar_vscsi_ring_inflight(const struct lunar_vscsi_ring *r);

/* Fills a response: rslt = host << 16 | status, never more. */
void lunar_vscsi_rsp_fill(struct lunar_vscsi_wire_rsp *w, uint16_t rqid, uint8_t host,
			  uint8_t status, const uint8_t *sense, uint32_t sense_len,
			  uint32_t residual);

#endif
