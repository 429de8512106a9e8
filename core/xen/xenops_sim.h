/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_XENOPS_SIM_H
#define LUNAR_XEN_XENOPS_SIM_H

/*
 * An in-process Xen for tests: what a backend reaches through xenops, and
 * what a frontend needs to play a guest (grant its pages, allocate and
 * signal an event channel).  Thread-safe: the backend's threads and the
 * frontend's may call in at the same time.
 *
 * xenstore: nodes with values and permissions (dom0 and owners may do
 * anything, the others what perms allow; a new node inherits its parent's
 * permissions and is owned by its creator), transactions committed at
 * once at their end, watches that fire on registration and on every change
 * at or below (or removal above) their path.
 */

#include <stdbool.h>
#include <stdint.h>

#include "xen/xenops.h"

struct lunar_xen_sim;

/* guest_pages: the guest's memory, in 4 KiB pages (a memfd). */
struct lunar_xen_sim *lunar_xen_sim_create(uint32_t guest_pages);
void lunar_xen_sim_destroy(struct lunar_xen_sim *s);

/* The guest's memory as the guest sees it. */
uint8_t *lunar_xen_sim_guest_mem(struct lunar_xen_sim *s);

/* Grants page to the backend domain; returns the ref (never 0), 0 if the
 * table is full. */
uint32_t lunar_xen_sim_grant(struct lunar_xen_sim *s, uint32_t page, bool readonly);
/* Ends access; -1 if the backend still has it mapped. */
int lunar_xen_sim_ungrant(struct lunar_xen_sim *s, uint32_t ref);
/* How many grant mappings the backend holds now. */
uint32_t lunar_xen_sim_mapped(struct lunar_xen_sim *s);
/* Maps or unmaps that failed (bad ref, write to a read-only grant). */
uint32_t lunar_xen_sim_map_failures(struct lunar_xen_sim *s);

/* Grant copy segments done (and, in *failures, refused: a bad ref, a
 * write to a read-only grant). */
uint64_t lunar_xen_sim_copies(struct lunar_xen_sim *s, uint64_t *failures);
/* Plays a Xen whose gntdev cannot copy: the backend must map. */
void lunar_xen_sim_no_copy(struct lunar_xen_sim *s, bool no_copy);

/* An unbound event channel of the guest; *fd is readable when the backend
 * notified it.  Returns the port. */
uint32_t lunar_xen_sim_evtchn_alloc(struct lunar_xen_sim *s, int *fd);
/* The guest notifies the backend. */
void lunar_xen_sim_evtchn_notify(struct lunar_xen_sim *s, uint32_t port);
/* Consume the guest's pending event. */
void lunar_xen_sim_evtchn_ack(struct lunar_xen_sim *s, uint32_t port);
/* Is the backend bound to this port? */
bool lunar_xen_sim_evtchn_bound(struct lunar_xen_sim *s, uint32_t port);

#endif
