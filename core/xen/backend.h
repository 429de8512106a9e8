/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_BACKEND_H
#define LUNAR_XEN_BACKEND_H

/*
 * The xenstore side of the vscsiif backend: it watches
 * /local/domain/<self>/backend/<type>/<domid>/<vhost> for every backend
 * type the xen LUNs name, follows each vhost through the protocol's states
 * (Initialising, InitWait, Connected; Reconfiguring/Reconfigured for LUNs
 * added and removed; Closing, Closed) and connects a vhost (vhost.c) when
 * its frontend published its ring.  Each vscsi-devs/dev-N names a LUN by
 * p-dev (the LUN's xen.p_dev, or its name) and places it at v-dev.
 * Main thread only.
 */

#include <stddef.h>
#include <stdint.h>

struct lunar_xenops;
struct lunar_lun;
struct lunar_xen_backend;

#define LUNAR_XEN_DEFAULT_TYPE "vscsi-lunar"

/* luns: the LUNs with transport xen (the array is copied). */
struct lunar_xen_backend *lunar_xen_backend_create(struct lunar_xenops *x,
						   struct lunar_lun *const *luns, size_t n,
						   char *err, size_t errlen);
/* Readable when xenstore changed or a vhost stopped by itself. */
int lunar_xen_backend_fd(struct lunar_xen_backend *b);
/* Handles what happened (call when the fd is readable). */
void lunar_xen_backend_event(struct lunar_xen_backend *b);
/* Every vhost goes: its LUNs are detached, the frontends told Closing. */
void lunar_xen_backend_quiesce(struct lunar_xen_backend *b);
void lunar_xen_backend_destroy(struct lunar_xen_backend *b);
/*
 * A config reload: a xen LUN added (vhosts may name its p-dev from now on;
 * fails if another LUN has that p-dev) or removed (its devices are taken
 * from the guests, its ports gone when this returns).
 */
int lunar_xen_backend_add_lun(struct lunar_xen_backend *b, struct lunar_lun *lun, char *err,
			      size_t errlen);
void lunar_xen_backend_remove_lun(struct lunar_xen_backend *b, struct lunar_lun *lun);
/* One line on where lun is served. */
void lunar_xen_backend_describe(struct lunar_xen_backend *b, struct lunar_lun *lun, char *buf,
				size_t len);

#endif
