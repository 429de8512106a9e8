/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "xen/xenops.h"

/* Real Xen: thin wrappers over libxenstore, libxengnttab, libxenevtchn. */

struct xx {
	struct lunar_xenops ops;
	struct xs_handle *xs;
};

enum { COPY_CHUNK = 256 };	/* grant copy segments handed to one ioctl */

struct xchan {
	uint32_t domid;
	xengnttab_handle *gt;
	xenevtchn_handle *ev;
	evtchn_port_t port;
	bool bound;
	xengnttab_grant_copy_segment_t seg[COPY_CHUNK];
};

static struct xs_handle *xsh(struct lunar_xenops *x)
{
	return ((struct xx *)x)->xs;
}

static int x_fd(struct lunar_xenops *x)
{
	return xs_fileno(xsh(x));
}

static char *x_read(struct lunar_xenops *x, uint32_t t, const char *path)
{
	unsigned len;
	char *v = xs_read(xsh(x), t, path, &len);
	char *s;

	if (!v)
		return NULL;
	/* xs_read NUL-terminates, but a value may hold a NUL itself: keep
	 * what a C string sees */
	s = strndup(v, len);
	free(v);
	return s;
}

static int x_write(struct lunar_xenops *x, uint32_t t, const char *path, const char *val)
{
	return xs_write(xsh(x), t, path, val, (unsigned)strlen(val)) ? 0 : -1;
}

static int x_mkdir(struct lunar_xenops *x, uint32_t t, const char *path)
{
	return xs_mkdir(xsh(x), t, path) ? 0 : -1;
}

static int x_rm(struct lunar_xenops *x, uint32_t t, const char *path)
{
	return xs_rm(xsh(x), t, path) || errno == ENOENT ? 0 : -1;
}

static char **x_directory(struct lunar_xenops *x, uint32_t t, const char *path, unsigned *n)
{
	return xs_directory(xsh(x), t, path, n);
}

static int x_set_perms(struct lunar_xenops *x, uint32_t t, const char *path,
		       const struct lunar_xs_perm *p, unsigned n)
{
	struct xs_permissions xp[8];

	if (n > 8)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		xp[i].id = p[i].domid;
		xp[i].perms = p[i].perms;
	}
	return xs_set_permissions(xsh(x), t, path, xp, n) ? 0 : -1;
}

static int x_watch(struct lunar_xenops *x, const char *path, const char *token)
{
	return xs_watch(xsh(x), path, token) ? 0 : -1;
}

static int x_unwatch(struct lunar_xenops *x, const char *path, const char *token)
{
	return xs_unwatch(xsh(x), path, token) ? 0 : -1;
}

static char **x_check_watch(struct lunar_xenops *x)
{
	return xs_check_watch(xsh(x));
}

static uint32_t x_tstart(struct lunar_xenops *x)
{
	return xs_transaction_start(xsh(x));
}

static int x_tend(struct lunar_xenops *x, uint32_t t, bool abort)
{
	return xs_transaction_end(xsh(x), t, abort) ? 0 : -1;
}

static void x_close(struct lunar_xenops *x)
{
	if (!x)
		return;
	xs_close(xsh(x));
	free(x);
}

static struct lunar_xen_chan *x_chan_open(struct lunar_xenops *x, uint32_t domid,
					  uint32_t max_grants)
{
	struct xchan *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->domid = domid;
	c->gt = xengnttab_open(NULL, 0);
	c->ev = xenevtchn_open(NULL, 0);
	if (!c->gt || !c->ev)
		goto fail;
	if (xengnttab_set_max_grants(c->gt, max_grants) < 0)
		goto fail;
	return (struct lunar_xen_chan *)c;
fail:
	if (c->gt)
		xengnttab_close(c->gt);
	if (c->ev)
		xenevtchn_close(c->ev);
	free(c);
	return NULL;
}

static void x_chan_close(struct lunar_xen_chan *lc)
{
	struct xchan *c = (struct xchan *)lc;

	if (!c)
		return;
	if (c->bound)
		xenevtchn_unbind(c->ev, c->port);
	xenevtchn_close(c->ev);
	xengnttab_close(c->gt);
	free(c);
}

static void *x_map(struct lunar_xen_chan *lc, uint32_t n, const uint32_t *refs, bool writable)
{
	struct xchan *c = (struct xchan *)lc;

	return xengnttab_map_domain_grant_refs(c->gt, n, c->domid, (uint32_t *)refs,
					       PROT_READ | (writable ? PROT_WRITE : 0));
}

static int x_unmap(struct lunar_xen_chan *lc, void *addr, uint32_t n)
{
	return xengnttab_unmap(((struct xchan *)lc)->gt, addr, n);
}

static int x_copy(struct lunar_xen_chan *lc, struct lunar_xen_copy *segs, uint32_t n)
{
	struct xchan *c = (struct xchan *)lc;

	if (!n)
		return xengnttab_grant_copy(c->gt, 0, c->seg);
	for (uint32_t done = 0; done < n;) {
		uint32_t k = n - done < COPY_CHUNK ? n - done : COPY_CHUNK;

		for (uint32_t i = 0; i < k; i++) {
			const struct lunar_xen_copy *s = &segs[done + i];
			xengnttab_grant_copy_segment_t *g = &c->seg[i];

			g->len = s->len;
			g->status = 0;
			if (s->to_guest) {
				g->source.virt = s->local;
				g->dest.foreign.ref = s->gref;
				g->dest.foreign.offset = s->offset;
				g->dest.foreign.domid = (uint16_t)c->domid;
				g->flags = GNTCOPY_dest_gref;
			} else {
				g->source.foreign.ref = s->gref;
				g->source.foreign.offset = s->offset;
				g->source.foreign.domid = (uint16_t)c->domid;
				g->dest.virt = s->local;
				g->flags = GNTCOPY_source_gref;
			}
		}
		if (xengnttab_grant_copy(c->gt, k, c->seg) < 0)
			return -1;
		for (uint32_t i = 0; i < k; i++)
			segs[done + i].status = c->seg[i].status;
		done += k;
	}
	return 0;
}

static int x_bind(struct lunar_xen_chan *lc, uint32_t remote_port)
{
	struct xchan *c = (struct xchan *)lc;
	xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(c->ev, c->domid, remote_port);

	if (p < 0)
		return -1;
	c->port = (evtchn_port_t)p;
	c->bound = true;
	return 0;
}

static int x_evt_fd(struct lunar_xen_chan *lc)
{
	return xenevtchn_fd(((struct xchan *)lc)->ev);
}

static int x_evt_pending(struct lunar_xen_chan *lc)
{
	return xenevtchn_pending(((struct xchan *)lc)->ev) < 0 ? -1 : 0;
}

static int x_evt_unmask(struct lunar_xen_chan *lc)
{
	struct xchan *c = (struct xchan *)lc;

	return xenevtchn_unmask(c->ev, c->port);
}

static int x_evt_notify(struct lunar_xen_chan *lc)
{
	struct xchan *c = (struct xchan *)lc;

	return xenevtchn_notify(c->ev, c->port);
}

static const struct lunar_xenops_vt xen_vt = {
	.xs_fd = x_fd,
	.xs_read = x_read,
	.xs_write = x_write,
	.xs_mkdir = x_mkdir,
	.xs_rm = x_rm,
	.xs_directory = x_directory,
	.xs_set_perms = x_set_perms,
	.xs_watch = x_watch,
	.xs_unwatch = x_unwatch,
	.xs_check_watch = x_check_watch,
	.xs_transaction_start = x_tstart,
	.xs_transaction_end = x_tend,
	.close = x_close,
	.chan_open = x_chan_open,
	.chan_close = x_chan_close,
	.map = x_map,
	.unmap = x_unmap,
	.copy = x_copy,
	.bind = x_bind,
	.evt_fd = x_evt_fd,
	.evt_pending = x_evt_pending,
	.evt_unmask = x_evt_unmask,
	.evt_notify = x_evt_notify,
};

struct lunar_xenops *lunar_xenops_xen_open(char *err, size_t errlen)
{
	struct xx *x = calloc(1, sizeof(*x));
	char *dom;

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->xs = xs_open(0);
	if (!x->xs) {
		snprintf(err, errlen, "cannot reach xenstore: %s (is this a Xen domain with "
			 "xenstored running?)", strerror(errno));
		free(x);
		return NULL;
	}
	x->ops.vt = &xen_vt;
	/* relative paths are the connection's own domain: its domid node */
	dom = x_read(&x->ops, XBT_NULL, "domid");
	x->ops.self_domid = dom ? (uint32_t)strtoul(dom, NULL, 10) : 0;
	free(dom);
	return &x->ops;
}
