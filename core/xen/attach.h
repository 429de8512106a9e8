/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_ATTACH_H
#define LUNAR_XEN_ATTACH_H

/*
 * `lunar xen attach` / `detach`: the toolstack's part of vscsiif, since
 * xl has none.  Writes the frontend and backend nodes of a vhost in one
 * transaction with the permissions each side needs (frontend directory:
 * the guest owns it, the backend reads; backend directory: the backend
 * domain owns it, the guest reads), adds LUNs to a live vhost
 * (Reconfiguring) and removes them or the whole vhost.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lunar_xenops;

struct lunar_xen_target {
	uint32_t domid;			/* the guest */
	const char *vhost;		/* "0" */
	const char *type;		/* backend type: vscsi-lunar */
	uint32_t be_domid;		/* where lunar runs */
};

struct lunar_xen_dev_spec {
	const char *p_dev;		/* the LUN's xen.p_dev or name */
	unsigned h, c, t, l;		/* v-dev, as the guest sees it */
	bool auto_vdev;			/* 0:0:N:0 with N the device's index */
};

/* Creates the vhost with devs, or adds devs to the live vhost. */
int lunar_xen_attach(struct lunar_xenops *x, const struct lunar_xen_target *t,
		     const struct lunar_xen_dev_spec *devs, unsigned n, char *err, size_t errlen);
/* Asks for the removal of the devices with these p-devs (0: the vhost). */
int lunar_xen_detach(struct lunar_xenops *x, const struct lunar_xen_target *t,
		     const char *const *p_devs, unsigned n, char *err, size_t errlen);
/*
 * After detach: removes the nodes of what the backend has closed.  Returns
 * 1 when nothing is left to remove, 0 while waiting.  force removes all.
 */
int lunar_xen_detach_cleanup(struct lunar_xenops *x, const struct lunar_xen_target *t, bool whole,
			     bool force);

/* `lunar xen ...`: argv[0] is "attach" or "detach". */
int lunar_xen_cli(int argc, char **argv);

#endif
