/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TRANSPORTS_H
#define LUNAR_TRANSPORTS_H

#include <stddef.h>

#include "config.h"

struct lunar_daemon;
struct lunar_lun;

/*
 * A transport brings commands to LUNs.  It owns its devices (an in-process
 * sim, a uio device, a Xen vhost) and gives a LUN a port when the device
 * for it exists (lunar_lun_attach), taking it back when the device goes
 * (lunar_lun_detach).  Devices may come and go while the daemon runs.  All
 * of this runs on the daemon's main thread; the LUN's worker only ever
 * sees a port that is attached.
 */
struct lunar_transport_ops {
	const char *name;
	enum lunar_transport type;
	/* After every LUN exists (handlers loaded): open what the transport
	 * needs (sockets, watches) and attach the devices already there.
	 * A failure fails this transport's LUNs, never the daemon. */
	int (*start)(struct lunar_daemon *d, char *err, size_t errlen);
	/* The fd the main loop polls for the transport, or -1. */
	int (*fd)(struct lunar_daemon *d);
	/* That fd is readable. */
	void (*event)(struct lunar_daemon *d);
	/*
	 * Shutdown, phase one: detach every LUN (their workers stop) and
	 * cancel what anyone still waits for, so control requests in
	 * progress return.  Phase two, once they did: release everything.
	 */
	void (*quiesce)(struct lunar_daemon *d);
	void (*stop)(struct lunar_daemon *d);
	/*
	 * A config reload: a LUN appears or goes while the daemon runs
	 * (optional: without them, such changes wait for a restart).  add
	 * gives it a device as start does; remove detaches it and releases
	 * what the transport made for it (the core destroys the LUN after).
	 */
	int (*add)(struct lunar_daemon *d, struct lunar_lun *lun, char *err, size_t errlen);
	void (*remove)(struct lunar_daemon *d, struct lunar_lun *lun);
	/* One line on the LUN's device, for lunarctl status ("" if none). */
	void (*describe)(struct lunar_lun *lun, char *buf, size_t len);
};

/* The transport of that type, or NULL if this build has none. */
const struct lunar_transport_ops *lunar_transport_get(enum lunar_transport type);

extern const struct lunar_transport_ops lunar_sim_transport;
extern const struct lunar_transport_ops lunar_tcmu_transport;
#ifdef LUNAR_HAVE_XEN
extern const struct lunar_transport_ops lunar_xen_transport;
#endif

#endif
