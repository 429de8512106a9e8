/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_VHOST_H
#define LUNAR_XEN_VHOST_H

/*
 * One connected vscsiif vhost: its ring, event channel and grant mappings,
 * served by a thread of its own (the ring thread), and the LUNs reachable
 * through it, each as a port of that LUN.
 *
 * The ring thread copies and checks each request, maps its data grants and
 * hands it to the port of the LUN its (channel, id, lun) names; the LUN's
 * worker takes it into a slot and runs the handler; the completion goes
 * back to the ring thread, which unmaps the grants and pushes the
 * response.  So a LUN stays on its own worker (one Lua state, one
 * thread), several LUNs share a vhost without sharing a worker, and all
 * ring and grant work of a vhost stays on one thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lunar_xenops;
struct lunar_lun;
struct lunar_xen_vhost;

struct lunar_xen_vhost_stats {
	uint64_t requests;		/* consumed from the ring */
	uint64_t no_connect;		/* for a (channel, id, lun) with no LUN */
	uint64_t refused;		/* answered DID_ERROR (grants, direction) */
	uint64_t aborts, resets;
};

/*
 * Maps the ring page, binds the event channel and starts the ring thread.
 * notice_fd (an eventfd) is written when the vhost stops by itself (a
 * broken or hostile frontend); sg_max is what feature-sg-grant advertised.
 */
struct lunar_xen_vhost *lunar_xen_vhost_connect(struct lunar_xenops *x, uint32_t domid,
						const char *name, uint32_t ring_ref,
						uint32_t evtchn, uint32_t sg_max, int notice_fd,
						char *err, size_t errlen);

/* Serves lun at (channel, id, lun): attaches a port to it. */
int lunar_xen_vhost_add(struct lunar_xen_vhost *vh, struct lunar_lun *lun, uint16_t chn,
			uint16_t tgt, uint16_t l, char *err, size_t errlen);
/* Stops serving lun; its unanswered requests get DID_NO_CONNECT. */
void lunar_xen_vhost_remove(struct lunar_xen_vhost *vh, struct lunar_lun *lun);

/* Stopped by itself?  *why says why. */
bool lunar_xen_vhost_dead(struct lunar_xen_vhost *vh, const char **why);
void lunar_xen_vhost_stats(struct lunar_xen_vhost *vh, struct lunar_xen_vhost_stats *st);
const char *lunar_xen_vhost_name(struct lunar_xen_vhost *vh);

/* Removes every LUN, answers what is left, stops the thread, unmaps the
 * ring and unbinds the event channel. */
void lunar_xen_vhost_disconnect(struct lunar_xen_vhost *vh);

#endif
