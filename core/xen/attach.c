/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "xen/attach.h"
#include "xen/backend.h"
#include "xen/xenops.h"
#include "xen/xsutil.h"

enum { PATH = 256, MAX_DEVS = 64 };

static void paths(const struct lunar_xen_target *t, char *be, char *fe)
{
	snprintf(be, PATH, "/local/domain/%u/backend/%s/%u/%s", t->be_domid, t->type, t->domid,
		 t->vhost);
	snprintf(fe, PATH, "/local/domain/%u/device/vscsi/%s", t->domid, t->vhost);
}

/* Writes dir/node = val in transaction tx, with perms. */
static int put(struct lunar_xenops *x, uint32_t tx, const char *dir, const char *node,
	       const char *val, const struct lunar_xs_perm *p)
{
	char path[2 * PATH];

	if (node)
		snprintf(path, sizeof(path), "%s/%s", dir, node);
	else
		snprintf(path, sizeof(path), "%s", dir);
	if (val ? x->vt->xs_write(x, tx, path, val) : x->vt->xs_mkdir(x, tx, path))
		return -1;
	return x->vt->xs_set_perms(x, tx, path, p, 2);
}

static int next_dev(struct lunar_xenops *x, const char *be)
{
	char dir[PATH + 16];
	char **names;
	unsigned n = 0;
	int next = 0;

	snprintf(dir, sizeof(dir), "%s/vscsi-devs", be);
	names = x->vt->xs_directory(x, LUNAR_XS_NULL, dir, &n);
	for (unsigned i = 0; names && i < n; i++) {
		int k;

		if (sscanf(names[i], "dev-%d", &k) == 1 && k >= next)
			next = k + 1;
	}
	free(names);
	return next;
}

static int write_devs(struct lunar_xenops *x, uint32_t tx, const char *be, int first,
		      const struct lunar_xen_dev_spec *devs, unsigned n,
		      const struct lunar_xs_perm *p)
{
	for (unsigned i = 0; i < n; i++) {
		char dir[PATH + 32], vdev[64];

		snprintf(dir, sizeof(dir), "%s/vscsi-devs/dev-%d", be, first + (int)i);
		if (devs[i].auto_vdev)
			snprintf(vdev, sizeof(vdev), "0:0:%u:0", (unsigned)first + i);
		else
			snprintf(vdev, sizeof(vdev), "%u:%u:%u:%u", devs[i].h, devs[i].c, devs[i].t,
				 devs[i].l);
		if (put(x, tx, dir, NULL, NULL, p) || put(x, tx, dir, "p-dev", devs[i].p_dev, p) ||
		    put(x, tx, dir, "v-dev", vdev, p) || put(x, tx, dir, "state", "1", p))
			return -1;
	}
	return 0;
}

int lunar_xen_attach(struct lunar_xenops *x, const struct lunar_xen_target *t,
		     const struct lunar_xen_dev_spec *devs, unsigned n, char *err, size_t errlen)
{
	char be[PATH], fe[PATH], v[32], sp[PATH + 8];
	/* the backend domain owns its directory and the guest reads it; the
	 * guest owns its own and the backend reads it */
	const struct lunar_xs_perm bp[2] = { { t->be_domid, LUNAR_XS_PERM_NONE },
					     { t->domid, LUNAR_XS_PERM_READ } };
	const struct lunar_xs_perm fp[2] = { { t->domid, LUNAR_XS_PERM_NONE },
					     { t->be_domid, LUNAR_XS_PERM_READ } };
	char *state;
	bool live;

	if (!n) {
		snprintf(err, errlen, "no LUN to attach");
		return -1;
	}
	paths(t, be, fe);
	snprintf(sp, sizeof(sp), "%s/state", be);
	state = lunar_xs_read(x, be, "state");
	live = state != NULL;
	free(state);
	for (int tries = 0; tries < 10; tries++) {
		uint32_t tx = x->vt->xs_transaction_start(x);
		int rc = 0;

		if (!tx) {
			snprintf(err, errlen, "cannot start a xenstore transaction: %s",
				 strerror(errno));
			return -1;
		}
		if (live) {
			/* hot-add: new devices, then Reconfiguring */
			rc = write_devs(x, tx, be, next_dev(x, be), devs, n, bp) ||
			     x->vt->xs_write(x, tx, sp, "7");
		} else {
			/* both directories at once: a backend must find the
			 * frontend's directory when it sees its own */
			snprintf(v, sizeof(v), "%u", t->be_domid);
			rc = put(x, tx, fe, NULL, NULL, fp) || put(x, tx, fe, "backend", be, fp) ||
			     put(x, tx, fe, "backend-id", v, fp) || put(x, tx, fe, "state", "1", fp);
			snprintf(v, sizeof(v), "%u", t->domid);
			rc = rc || put(x, tx, be, NULL, NULL, bp) || put(x, tx, be, "frontend", fe, bp) ||
			     put(x, tx, be, "frontend-id", v, bp) || put(x, tx, be, "online", "1", bp) ||
			     put(x, tx, be, "feature-host", "0", bp) ||
			     put(x, tx, be, "state", "1", bp) ||
			     write_devs(x, tx, be, 0, devs, n, bp);
		}
		if (rc) {
			snprintf(err, errlen, "cannot write %s: %s", be, strerror(errno));
			x->vt->xs_transaction_end(x, tx, true);
			return -1;
		}
		if (x->vt->xs_transaction_end(x, tx, false) == 0)
			return 0;
		if (errno != EAGAIN)
			break;
	}
	snprintf(err, errlen, "the xenstore transaction failed: %s", strerror(errno));
	return -1;
}

int lunar_xen_detach(struct lunar_xenops *x, const struct lunar_xen_target *t,
		     const char *const *p_devs, unsigned n, char *err, size_t errlen)
{
	char be[PATH], fe[PATH], dir[PATH + 16], sub[2 * PATH];
	char **names;
	unsigned nn = 0, found = 0;
	uint32_t tx;

	paths(t, be, fe);
	if (lunar_xs_read_int(x, be, "state", -1) < 0) {
		snprintf(err, errlen, "no vhost %s for domain %u (nothing at %s)", t->vhost, t->domid,
			 be);
		return -1;
	}
	tx = x->vt->xs_transaction_start(x);
	if (!tx) {
		snprintf(err, errlen, "cannot start a xenstore transaction: %s", strerror(errno));
		return -1;
	}
	if (!n) {
		snprintf(sub, sizeof(sub), "%s/online", be);
		x->vt->xs_write(x, tx, sub, "0");
		/* a vhost already Closed only needs its nodes removed */
		snprintf(sub, sizeof(sub), "%s/state", be);
		if (lunar_xs_read_int(x, be, "state", -1) != 6)
			x->vt->xs_write(x, tx, sub, "5");
		found = 1;
	} else {
		snprintf(dir, sizeof(dir), "%s/vscsi-devs", be);
		names = x->vt->xs_directory(x, LUNAR_XS_NULL, dir, &nn);
		for (unsigned i = 0; names && i < nn; i++) {
			char *pdev;

			snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
			pdev = lunar_xs_read(x, sub, "p-dev");
			for (unsigned k = 0; pdev && k < n; k++) {
				if (strcmp(pdev, p_devs[k]))
					continue;
				snprintf(sub, sizeof(sub), "%s/%s/state", dir, names[i]);
				x->vt->xs_write(x, tx, sub, "5");
				found++;
			}
			free(pdev);
		}
		free(names);
		snprintf(sub, sizeof(sub), "%s/state", be);
		if (found)
			x->vt->xs_write(x, tx, sub, "7");
	}
	if (x->vt->xs_transaction_end(x, tx, !found) < 0 && found) {
		snprintf(err, errlen, "the xenstore transaction failed: %s", strerror(errno));
		return -1;
	}
	if (!found) {
		snprintf(err, errlen, "no such LUN on vhost %s of domain %u", t->vhost, t->domid);
		return -1;
	}
	return 0;
}

int lunar_xen_detach_cleanup(struct lunar_xenops *x, const struct lunar_xen_target *t, bool whole,
			     bool force)
{
	char be[PATH], fe[PATH], dir[PATH + 16], sub[2 * PATH];
	char **names;
	unsigned n = 0;
	int left = 0;

	paths(t, be, fe);
	if (whole) {
		if (!force && lunar_xs_read_int(x, be, "state", 6) != 6)
			return 0;
		x->vt->xs_rm(x, LUNAR_XS_NULL, be);
		x->vt->xs_rm(x, LUNAR_XS_NULL, fe);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/vscsi-devs", be);
	names = x->vt->xs_directory(x, LUNAR_XS_NULL, dir, &n);
	for (unsigned i = 0; names && i < n; i++) {
		long st;

		snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
		st = lunar_xs_read_int(x, sub, "state", -1);
		if (st == 6 || (force && st == 5)) {
			x->vt->xs_rm(x, LUNAR_XS_NULL, sub);
			snprintf(sub, sizeof(sub), "%s/vscsi-devs/%s", fe, names[i]);
			x->vt->xs_rm(x, LUNAR_XS_NULL, sub);
		} else if (st == 5) {
			left++;
		}
	}
	free(names);
	return left ? 0 : 1;
}

/* ---- the command line -------------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: lunar xen attach DOMID P-DEV[=H:C:T:L]... [--vhost N] [--type T] [--backend-domid B]\n"
	      "       lunar xen detach DOMID [P-DEV...] [--vhost N] [--type T] [--backend-domid B] [--timeout S]\n"
	      "  attach creates the vhost (or adds LUNs to a live one); P-DEV names a LUN\n"
	      "  (its xen.p_dev, or its name); the guest sees it at H:C:T:L (default 0:0:N:0\n"
	      "  for the vhost's device dev-N).\n"
	      "  detach removes those LUNs, or the whole vhost, and waits for the backend.\n",
	      stderr);
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 0x7fef)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Waits for the backend to close what detach asked for. */
static int wait_cleanup(struct lunar_xenops *x, const struct lunar_xen_target *t, bool whole,
			unsigned timeout_s)
{
	char be[PATH], fe[PATH];
	uint64_t until = lunar_now_ns() + (uint64_t)timeout_s * 1000000000ull;
	char **w;

	paths(t, be, fe);
	x->vt->xs_watch(x, be, "detach");
	while (lunar_now_ns() < until) {
		struct pollfd p = { .fd = x->vt->xs_fd(x), .events = POLLIN };

		if (lunar_xen_detach_cleanup(x, t, whole, false) == 1)
			return 0;
		if (poll(&p, 1, 1000) > 0)
			while ((w = x->vt->xs_check_watch(x)))
				free(w);
	}
	fprintf(stderr, "lunar xen detach: the backend did not close in %us (is lunar running?); "
		"removing the nodes anyway\n", timeout_s);
	lunar_xen_detach_cleanup(x, t, whole, true);
	return 1;
}

int lunar_xen_cli(int argc, char **argv)
{
	struct lunar_xen_target t = { .vhost = "0", .type = LUNAR_XEN_DEFAULT_TYPE };
	struct lunar_xen_dev_spec devs[MAX_DEVS];
	const char *names[MAX_DEVS];
	unsigned ndevs = 0, timeout = 30;
	bool attach, have_dom = false, have_be = false;
	struct lunar_xenops *x;
	char err[512];
	int rc;

	if (argc < 2 || (strcmp(argv[0], "attach") && strcmp(argv[0], "detach"))) {
		usage();
		return 2;
	}
	attach = !strcmp(argv[0], "attach");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint32_t n;

		if (i + 1 < argc && !strcmp(a, "--vhost")) {
			t.vhost = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--type")) {
			t.type = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--backend-domid") && !parse_u32(argv[i + 1], &n)) {
			t.be_domid = n;
			have_be = true;
			i++;
		} else if (i + 1 < argc && !strcmp(a, "--timeout") && !parse_u32(argv[i + 1], &n)) {
			timeout = n;
			i++;
		} else if (a[0] == '-') {
			usage();
			return 2;
		} else if (!have_dom) {
			if (parse_u32(a, &t.domid) < 0) {
				fprintf(stderr, "lunar xen: '%s' is not a domain id\n", a);
				return 2;
			}
			have_dom = true;
		} else if (ndevs < MAX_DEVS) {
			char *eq = strchr(a, '=');
			struct lunar_xen_dev_spec *d = &devs[ndevs];

			d->h = d->c = d->t = d->l = 0;
			d->auto_vdev = !eq;
			if (eq) {
				*eq = 0;
				if (lunar_xs_parse_hctl(eq + 1, &d->h, &d->c, &d->t, &d->l) < 0) {
					fprintf(stderr, "lunar xen: v-dev '%s' is not H:C:T:L\n", eq + 1);
					return 2;
				}
			}
			d->p_dev = a;
			names[ndevs++] = a;
		}
	}
	if (!have_dom || (attach && !ndevs) || strchr(t.vhost, '/') || strchr(t.type, '/')) {
		usage();
		return 2;
	}
	x = lunar_xenops_xen_open(err, sizeof(err));
	if (!x) {
		fprintf(stderr, "lunar xen: %s\n", err);
		return 1;
	}
	if (!have_be)
		t.be_domid = x->self_domid;
	if (attach) {
		rc = lunar_xen_attach(x, &t, devs, ndevs, err, sizeof(err));
	} else {
		rc = lunar_xen_detach(x, &t, names, ndevs, err, sizeof(err));
		if (rc == 0)
			rc = wait_cleanup(x, &t, ndevs == 0, timeout);
	}
	if (rc < 0)
		fprintf(stderr, "lunar xen %s: %s\n", argv[0], err);
	x->vt->close(x);
	return rc ? 1 : 0;
}
