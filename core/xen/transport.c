/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "log.h"
#include "lun.h"
#include "transports.h"
#include "xen/backend.h"
#include "xen/xenops.h"

/*
 * The Xen pvSCSI transport: a userspace vscsiif backend in this domain
 * (dom0 or a driver domain).  backend.c follows xenstore, vhost.c serves
 * the rings.
 */

static struct lunar_xenops *xops;
static struct lunar_xen_backend *backend;

static int xen_start(struct lunar_daemon *d, char *err, size_t errlen)
{
	struct lunar_lun **luns = calloc(d->nluns ? d->nluns : 1, sizeof(*luns));
	size_t n = 0;

	if (!luns) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < d->nluns; i++)
		if (d->luns[i]->cfg.transport == LUNAR_TRANSPORT_XEN)
			luns[n++] = d->luns[i];
	xops = lunar_xenops_xen_open(err, errlen);
	if (xops)
		backend = lunar_xen_backend_create(xops, luns, n, err, errlen);
	free(luns);
	if (!backend) {
		if (xops)
			xops->vt->close(xops);
		xops = NULL;
		return -1;
	}
	return 0;
}

static int xen_fd(struct lunar_daemon *d)
{
	return backend ? lunar_xen_backend_fd(backend) : -1;
}

static void xen_event(struct lunar_daemon *d)
{
	if (backend)
		lunar_xen_backend_event(backend);
}

static void xen_quiesce(struct lunar_daemon *d)
{
	lunar_xen_backend_quiesce(backend);
}

static void xen_stop(struct lunar_daemon *d)
{
	lunar_xen_backend_destroy(backend);
	backend = NULL;
	if (xops)
		xops->vt->close(xops);
	xops = NULL;
}

static int xen_add(struct lunar_daemon *d, struct lunar_lun *lun, char *err, size_t errlen)
{
	if (!backend) {
		snprintf(err, errlen, "the xen transport did not start (no xen LUN when lunar "
			 "started, or it failed): restart lunar");
		return -1;
	}
	return lunar_xen_backend_add_lun(backend, lun, err, errlen);
}

static void xen_remove(struct lunar_daemon *d, struct lunar_lun *lun)
{
	if (backend)
		lunar_xen_backend_remove_lun(backend, lun);
}

static void xen_describe(struct lunar_lun *lun, char *buf, size_t len)
{
	lunar_xen_backend_describe(backend, lun, buf, len);
}

const struct lunar_transport_ops lunar_xen_transport = {
	.name = "xen",
	.type = LUNAR_TRANSPORT_XEN,
	.start = xen_start,
	.fd = xen_fd,
	.event = xen_event,
	.quiesce = xen_quiesce,
	.stop = xen_stop,
	.add = xen_add,
	.remove = xen_remove,
	.describe = xen_describe,
};
