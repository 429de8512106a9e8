/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_FRONT_SIM_H
#define LUNAR_XEN_FRONT_SIM_H

/*
 * A vscsiif frontend in a simulated guest (xenops_sim), behaving like
 * Linux xen-scsifront: it publishes its ring in xenstore and follows the
 * backend through Connected, Reconfiguring/Reconfigured (LUNs added and
 * removed) and Closing; it sends commands with direct or indirect
 * segments, ABORT and RESET, with rqids 0..15; and it checks what a
 * hardened frontend checks of every response (a known rqid, every grant
 * of the request already unmapped).  Tests also use it to be hostile:
 * raw requests and raw ring indices.
 */

#include <stdbool.h>
#include <stdint.h>

#include "xen/ring.h"

struct lunar_xen_sim;
struct lunar_xen_front;

struct lunar_xen_front_io {
	/* set by the caller */
	uint8_t cdb[LUNAR_VSCSI_CDB_MAX];
	uint8_t cdb_len;
	uint8_t dma;			/* LUNAR_VSCSI_DMA_* */
	void *buf;			/* Data-Out to send / Data-In received */
	uint32_t len;
	uint32_t page_off;		/* the buffer starts here in its first page */
	bool indirect;			/* force indirect segments */
	uint16_t chn, tgt, lun;
	/* set by the frontend */
	uint16_t rqid;
	bool done;
	int32_t rslt;
	uint8_t sense[LUNAR_VSCSI_SENSE];
	uint8_t sense_len;
	uint32_t residual;
};

/* The frontend of vhost `vhost` of guest domid; its device directory must
 * exist (the toolstack's or `lunar xen attach`'s job). */
struct lunar_xen_front *lunar_xen_front_create(struct lunar_xen_sim *sim, uint32_t domid,
					       const char *vhost);
void lunar_xen_front_destroy(struct lunar_xen_front *f);

/* Readable when xenstore or the backend has news for it. */
int lunar_xen_front_fd(struct lunar_xen_front *f);
/* Handles news: xenstore changes and responses. */
void lunar_xen_front_step(struct lunar_xen_front *f);

/* Its xenbus state, and a protocol violation it saw (NULL: none). */
int lunar_xen_front_state(struct lunar_xen_front *f);
const char *lunar_xen_front_error(struct lunar_xen_front *f);
/* Has it added (c,t,l) as a disk? */
bool lunar_xen_front_has(struct lunar_xen_front *f, uint16_t chn, uint16_t tgt, uint16_t lun);
/* Commands sent, not answered. */
unsigned lunar_xen_front_inflight(struct lunar_xen_front *f);

/* Sends a command.  -1: no free rqid or ring slot, or not connected. */
int lunar_xen_front_submit(struct lunar_xen_front *f, struct lunar_xen_front_io *io);
/* ABORT of io's rqid / RESET of (c,t,l); the answer lands in tmr. */
int lunar_xen_front_abort(struct lunar_xen_front *f, const struct lunar_xen_front_io *io,
			  struct lunar_xen_front_io *tmr);
int lunar_xen_front_reset(struct lunar_xen_front *f, uint16_t chn, uint16_t tgt, uint16_t lun,
			  struct lunar_xen_front_io *tmr);

/* Goes Closing (module unload). */
void lunar_xen_front_close(struct lunar_xen_front *f);

/* Hostile: a request as given, published at once; io (if any) gets the
 * response to its rqid. */
void lunar_xen_front_raw(struct lunar_xen_front *f, const struct lunar_vscsi_wire_req *w,
			 struct lunar_xen_front_io *io);
/* Hostile: req_prod set to this, and the backend notified. */
void lunar_xen_front_raw_prod(struct lunar_xen_front *f, uint32_t prod);
/* Grants a guest page (its index returned in *page) for raw requests. */
uint32_t lunar_xen_front_grant_page(struct lunar_xen_front *f, bool readonly, uint8_t **mem);

#endif
