/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "daemon.h"
#include "log.h"
#include "lun.h"
#include "transports.h"

/*
 * The Xen pvSCSI transport: a userspace vscsiif backend.
 * (Being built: until then its LUNs report that the transport is missing.)
 */

static int xen_start(struct lunar_daemon *d, char *err, size_t errlen)
{
	snprintf(err, errlen, "the xen transport is not built into this lunar yet");
	return -1;
}

static int xen_fd(struct lunar_daemon *d)
{
	return -1;
}

static void xen_event(struct lunar_daemon *d)
{
}

static void xen_quiesce(struct lunar_daemon *d)
{
}

static void xen_stop(struct lunar_daemon *d)
{
}

static void xen_describe(struct lunar_lun *lun, char *buf, size_t len)
{
	snprintf(buf, len, "%s", "");
}

const struct lunar_transport_ops lunar_xen_transport = {
	.name = "xen",
	.type = LUNAR_TRANSPORT_XEN,
	.start = xen_start,
	.fd = xen_fd,
	.event = xen_event,
	.quiesce = xen_quiesce,
	.stop = xen_stop,
	.describe = xen_describe,
};
