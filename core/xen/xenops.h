/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_XENOPS_H
#define LUNAR_XEN_XENOPS_H

/*
 * The few Xen operations the vscsiif backend needs, behind a table so the
 * same backend runs on real Xen (xenops_xen.c: libxenstore, libxengnttab,
 * libxenevtchn) and in-process for tests (xenops_sim.c).
 *
 * A struct lunar_xenops is a xenstore connection: one thread uses it (the
 * daemon's main thread).  A struct lunar_xen_chan is one vhost's grant and
 * event channel handles: one thread uses it (that vhost's ring thread).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lunar_xenops;
struct lunar_xen_chan;

enum {
	LUNAR_XS_NULL = 0,		/* no transaction */
	LUNAR_XS_PERM_NONE = 0,
	LUNAR_XS_PERM_READ = 1,
	LUNAR_XS_PERM_WRITE = 2,
	LUNAR_XS_PERM_BOTH = 3,
};

/* As in xenstore: the first entry names the owner and the others' access. */
struct lunar_xs_perm {
	uint32_t domid;
	uint32_t perms;
};

/*
 * One piece of a grant copy: len bytes between our memory and a granted
 * page of the frontend (offset + len within the page).  status is 0 once
 * copied, negative (a GNTST_* code) when the grant would not allow it.
 */
struct lunar_xen_copy {
	void *local;
	uint32_t gref;
	uint16_t offset;
	uint16_t len;
	bool to_guest;			/* else from the guest */
	int16_t status;
};

struct lunar_xenops_vt {
	/* ---- xenstore ---- */
	int (*xs_fd)(struct lunar_xenops *x);
	/* malloc'ed, NUL-terminated; NULL with errno (ENOENT: no node) */
	char *(*xs_read)(struct lunar_xenops *x, uint32_t t, const char *path);
	int (*xs_write)(struct lunar_xenops *x, uint32_t t, const char *path, const char *val);
	int (*xs_mkdir)(struct lunar_xenops *x, uint32_t t, const char *path);
	/* removes the node and everything below it */
	int (*xs_rm)(struct lunar_xenops *x, uint32_t t, const char *path);
	/* child names, one malloc'ed block (free the array only); NULL: none */
	char **(*xs_directory)(struct lunar_xenops *x, uint32_t t, const char *path, unsigned *n);
	int (*xs_set_perms)(struct lunar_xenops *x, uint32_t t, const char *path,
			    const struct lunar_xs_perm *p, unsigned n);
	int (*xs_watch)(struct lunar_xenops *x, const char *path, const char *token);
	int (*xs_unwatch)(struct lunar_xenops *x, const char *path, const char *token);
	/* A fired watch: vec[0] path, vec[1] token, one malloc'ed block; NULL: none now */
	char **(*xs_check_watch)(struct lunar_xenops *x);
	/* 0 on failure */
	uint32_t (*xs_transaction_start)(struct lunar_xenops *x);
	/* -1 with errno EAGAIN: a conflict, run the transaction again */
	int (*xs_transaction_end)(struct lunar_xenops *x, uint32_t t, bool abort);
	void (*close)(struct lunar_xenops *x);

	/* ---- grants and event channels, one vhost's (own thread) ---- */
	struct lunar_xen_chan *(*chan_open)(struct lunar_xenops *x, uint32_t domid,
					    uint32_t max_grants);
	void (*chan_close)(struct lunar_xen_chan *c);
	/* n granted pages of the frontend, contiguous; NULL on failure */
	void *(*map)(struct lunar_xen_chan *c, uint32_t n, const uint32_t *refs, bool writable);
	int (*unmap)(struct lunar_xen_chan *c, void *addr, uint32_t n);
	/*
	 * n grant copies in one call (the hypervisor copies: nothing is
	 * mapped).  -1 if the call failed as a whole (each status then says
	 * nothing); else each segment's status says whether it was copied.
	 * n = 0 tells whether this Xen can copy at all.
	 */
	int (*copy)(struct lunar_xen_chan *c, struct lunar_xen_copy *segs, uint32_t n);
	/* binds the frontend's port; returns 0 */
	int (*bind)(struct lunar_xen_chan *c, uint32_t remote_port);
	/* readable when an event came */
	int (*evt_fd)(struct lunar_xen_chan *c);
	/* consumes the event (masks it); then unmask once the ring was read */
	int (*evt_pending)(struct lunar_xen_chan *c);
	int (*evt_unmask)(struct lunar_xen_chan *c);
	int (*evt_notify)(struct lunar_xen_chan *c);
};

struct lunar_xenops {
	const struct lunar_xenops_vt *vt;
	uint32_t self_domid;		/* the domain the backend runs in */
};

/* Real Xen: NULL with err set when xenstore (or /dev/xen/...) is missing. */
struct lunar_xenops *lunar_xenops_xen_open(char *err, size_t errlen);

/*
 * In process: a xenstore tree with permissions, transactions and watches,
 * guest memory in a memfd addressed by grant references, event channels
 * as eventfds.  The frontend side (front_sim.c) reaches it through the
 * functions of xen/xenops_sim.h.
 */
struct lunar_xen_sim;
struct lunar_xenops *lunar_xenops_sim_open(struct lunar_xen_sim *sim, uint32_t domid);

#endif
