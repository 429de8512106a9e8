/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_VHOST_INT_H
#define LUNAR_XEN_VHOST_INT_H

/*
 * Inside a vhost: the records of the requests it holds and the LUN ports
 * they go to.  Shared by the ring thread (vhost.c) and the LUN ports
 * (port.c), nothing else.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lun.h"
#include "util.h"
#include "log.h"
#include "xen/ring.h"
#include "xen/xenops.h"

struct lunar_xenops;
struct lunar_xen_chan;

enum {
	RING = LUNAR_VSCSI_RING_SIZE,
	/* bytes; LUNAR_XEN_COPY_MAX overrides.  Every request by default:
	 * measured under Xen 4.17 (PV dom0), a 1 MiB read by grant copy ran
	 * at 0.82x xen-scsiback, mapped at 0.56x (map + unmap per request) */
	COPY_MAX_DEFAULT = LUNAR_VSCSI_SG_MAX * LUNAR_VSCSI_PAGE,
	COPIES = RING * LUNAR_VSCSI_SG_MAX,
	MAX_DEVS = 64,		/* LUNs on one vhost */
	TMR_ABORT_TASK = 1,	/* task management types as TCMU numbers them */
	TMR_LUN_RESET = 5,
};

/* Life of a request, from the ring to its response. */
enum vstate {
	V_FREE,
	V_STAGED,	/* taken from the ring: the ring thread readies it */
	V_QUEUED,	/* waiting in its port for a slot */
	V_TAKEN,	/* in a slot of its LUN */
	V_DONE,		/* answered: unmap and respond (ring thread) */
	V_TMR,		/* ABORT/RESET waiting for the commands it ends */
};

struct xport;

struct vreq {
	enum vstate state;
	uint64_t seq;			/* consumption order */
	struct lunar_vscsi_req req;	/* the one copy of the request */
	struct xport *port;
	uint64_t port_id;		/* V_STAGED: the port's id when routed */
	/* data: either granted pages mapped (map) or our bounce buffer that
	 * grant copies fill (Data-Out) or empty (Data-In) */
	uint8_t *map;
	uint32_t nmap;
	bool copy;
	uint8_t *bounce;		/* copy_max bytes */
	const struct lunar_vscsi_seg *segs;	/* the data segments */
	uint32_t nsegs;
	struct lunar_vscsi_seg *desc;	/* indirect descriptors, LUNAR_VSCSI_SG_MAX */
	uint32_t copy_first, copy_n;	/* its pieces of this pass's grant copy */
	struct iovec *iov;
	uint32_t iovcnt;
	uint64_t length;
	uint8_t dir;			/* enum lunar_dir */
	/* answer */
	uint8_t host, status, sense_len;
	uint8_t sense[LUNAR_VSCSI_SENSE];
	uint32_t residual;
	/* ABORT: the request it ends (index, seq) */
	uint32_t target;
	uint64_t target_seq;
	struct vreq *next;		/* port queue or done list */
};

/* What the worker must tell the handler. */
struct tmr_note {
	uint8_t act;
	uint32_t target;		/* ABORT: vreq index = slot tag */
};

/* A LUN reachable through the vhost: the lunar port of that LUN. */
struct xport {
	struct lunar_port port;
	struct lunar_xen_vhost *vh;
	int efd;			/* the worker's wakeup */
	uint16_t chn, tgt, l;
	/* under vh->lock */
	struct vreq *qhead, **qtail;
	struct tmr_note tmrq[RING];
	uint32_t ntmr;
	uint64_t id;			/* tells a port from a later one */
	/* worker only */
	bool kick;
	struct lunar_cmd **cmds;
	/* bounce buffers of abandoned commands (by slot): a wedged handler
	 * may still write into them until release */
	uint8_t **held;
};

struct lunar_xen_vhost {
	struct lunar_xenops *x;
	struct lunar_xen_chan *ch;
	uint32_t domid;
	char name[96];
	uint32_t sg_max;
	void *page;
	struct lunar_vscsi_ring ring;
	uint32_t pushed;		/* rsp_prod last published */
	pthread_t thread;
	bool running;
	int stop_efd, kick_efd, notice_fd;
	atomic_bool dead;
	char why[160];

	/*
	 * Ports are poked (their eventfd written) outside lock, so a woken
	 * worker never finds the ring thread holding it; poke_lock keeps the
	 * eventfd open meanwhile.  Order: poke_lock, then lock.
	 */
	pthread_mutex_t poke_lock;
	pthread_mutex_t lock;		/* vreq states, queues, ports[] */
	struct vreq v[RING];
	struct vreq *done, **done_tail;
	struct xport *ports[MAX_DEVS];
	uint32_t nports;
	uint64_t seq;
	uint64_t port_ids;

	/* ring thread scratch */
	uint32_t refs[LUNAR_VSCSI_SG_MAX];
	uint32_t copy_max;		/* larger requests are mapped */
	struct lunar_xen_copy *copies;	/* one pass's grant copies */
	uint32_t ncopies;
	struct vreq *staged[RING];	/* taken this pass, not yet queued */
	uint32_t nstaged;
	struct lunar_ratelimit rl;
	struct lunar_xen_prof *prof;	/* LUNAR_XEN_PROFILE=1 */

	_Atomic uint64_t st_requests, st_no_connect, st_refused, st_aborts, st_resets;
};

/* Wakes whoever polls the eventfd fd. */
void lunar_xen_poke(int fd);
/* vh->lock held: v is answered; the ring thread unmaps it and responds. */
void lunar_xen_vreq_done(struct lunar_xen_vhost *vh, struct vreq *v);

#endif
