/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "lun.h"
#include "xen/backend.h"
#include "xen/ring.h"
#include "xen/vhost.h"
#include "xen/xenops.h"
#include "xen/xsutil.h"

/* xenbus states */
enum {
	XB_UNKNOWN = 0,
	XB_INITIALISING = 1,
	XB_INITWAIT = 2,
	XB_INITIALISED = 3,
	XB_CONNECTED = 4,
	XB_CLOSING = 5,
	XB_CLOSED = 6,
	XB_RECONFIGURING = 7,
	XB_RECONFIGURED = 8,
};

enum { MAX_DEVS = 64, PATH = 256 };

/* Where the backend is in a vhost's life. */
enum phase {
	P_NEW,		/* seen, not announced */
	P_INITWAIT,	/* InitWait written: waiting for the frontend's ring */
	P_CONNECTED,
	P_CLOSING,	/* disconnected, Closing written */
	P_CLOSED,
};

struct bdev {
	char name[32];			/* dev-N */
	struct lunar_lun *lun;		/* attached */
	uint16_t chn, tgt, l;
};

struct bvhost {
	struct bvhost *next;
	char type[40];
	uint32_t domid;
	char vhost[32];
	char be[2 * PATH];		/* our directory */
	char fe[PATH];			/* the frontend's (from our 'frontend' node) */
	char fe_state[PATH + 8];	/* watched */
	bool watching;
	enum phase phase;
	struct lunar_xen_vhost *vh;
	struct bdev devs[MAX_DEVS];
	unsigned ndevs;
	bool seen;
};

struct lunar_xen_backend {
	struct lunar_xenops *x;
	struct lunar_lun **luns;
	size_t nluns;
	char (*types)[40];
	size_t ntypes;
	int epfd, notice_fd;
	pthread_mutex_t lock;		/* vhosts: describe() runs on ctl threads */
	struct bvhost *vhosts;
};

static const char *lun_type(const struct lunar_lun *lun)
{
	return lun->cfg.xen.backend_type ? lun->cfg.xen.backend_type : LUNAR_XEN_DEFAULT_TYPE;
}

static const char *lun_pdev(const struct lunar_lun *lun)
{
	return lun->cfg.xen.p_dev ? lun->cfg.xen.p_dev : lun->cfg.name;
}

/* ---- xenstore access ------------------------------------------------------------- */

static int write_node(struct lunar_xen_backend *b, const char *dir, const char *node,
		      const char *val)
{
	char p[4 * PATH];

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, node) >= sizeof(p))
		return -1;
	if (b->x->vt->xs_write(b->x, LUNAR_XS_NULL, p, val) < 0) {
		log_err("xen: cannot write %s: %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes the state unless it is that already (our writes fire our watch). */
static void set_state(struct lunar_xen_backend *b, const char *dir, int st)
{
	char v[16];

	if (lunar_xs_read_int(b->x, dir, "state", -1) == st)
		return;
	snprintf(v, sizeof(v), "%d", st);
	write_node(b, dir, "state", v);
}

/* ---- devices ----------------------------------------------------------------------- */

static struct lunar_lun *find_lun(struct lunar_xen_backend *b, const char *type, const char *pdev)
{
	for (size_t i = 0; i < b->nluns; i++)
		if (!strcmp(lun_pdev(b->luns[i]), pdev) && !strcmp(lun_type(b->luns[i]), type))
			return b->luns[i];
	return NULL;
}

static struct bdev *dev_of(struct bvhost *v, const char *name)
{
	for (unsigned i = 0; i < v->ndevs; i++)
		if (!strcmp(v->devs[i].name, name))
			return &v->devs[i];
	return NULL;
}

/* dev-N in state Initialising: find its LUN and serve it at v-dev. */
static void dev_add(struct lunar_xen_backend *b, struct bvhost *v, const char *name)
{
	char dir[3 * PATH], err[256] = "";
	char *pdev = NULL, *vdev = NULL;
	unsigned h, c, t, l;
	struct lunar_lun *lun = NULL;

	snprintf(dir, sizeof(dir), "%s/vscsi-devs/%s", v->be, name);
	pdev = lunar_xs_read(b->x, dir, "p-dev");
	vdev = lunar_xs_read(b->x, dir, "v-dev");
	if (!pdev || !vdev) {
		snprintf(err, sizeof(err), "no p-dev or v-dev");
	} else if (lunar_xs_parse_hctl(vdev, &h, &c, &t, &l) < 0) {
		snprintf(err, sizeof(err), "v-dev '%s' is not h:c:t:l", vdev);
	} else if (!(lun = find_lun(b, v->type, pdev))) {
		snprintf(err, sizeof(err), "no xen LUN with p-dev '%s' (backend type %s)", pdev,
			 v->type);
	} else if (strlen(name) >= sizeof(v->devs[0].name) || v->ndevs == MAX_DEVS) {
		snprintf(err, sizeof(err), "too many devices");
	} else if (lunar_xen_vhost_add(v->vh, lun, (uint16_t)c, (uint16_t)t, (uint16_t)l, err,
				       sizeof(err)) == 0) {
		struct bdev *d = &v->devs[v->ndevs++];

		snprintf(d->name, sizeof(d->name), "%s", name);
		d->lun = lun;
		d->chn = (uint16_t)c;
		d->tgt = (uint16_t)t;
		d->l = (uint16_t)l;
		log_info("xen %s: %s serves LUN '%s' at %u:%u:%u", v->be, name, lun->cfg.name, c, t,
			 l);
		set_state(b, dir, XB_INITIALISED);
		free(pdev);
		free(vdev);
		return;
	}
	log_err("xen %s: %s not attached: %s", v->be, name, err);
	set_state(b, dir, XB_CLOSED);
	free(pdev);
	free(vdev);
}

static void dev_remove(struct lunar_xen_backend *b, struct bvhost *v, const char *name)
{
	char dir[3 * PATH];
	struct bdev *d = dev_of(v, name);

	snprintf(dir, sizeof(dir), "%s/vscsi-devs/%s", v->be, name);
	if (d) {
		log_info("xen %s: %s (LUN '%s') removed", v->be, name, d->lun->cfg.name);
		lunar_xen_vhost_remove(v->vh, d->lun);
		*d = v->devs[--v->ndevs];
	}
	set_state(b, dir, XB_CLOSED);
}

/*
 * Walks vscsi-devs: adds those in Initialising (and, on a reconnect, those
 * a previous connection had), removes those in Closing, and moves those
 * attached to Connected once the frontend is.
 */
static void devs_sync(struct lunar_xen_backend *b, struct bvhost *v, bool reconnect, bool fe_up)
{
	char dir[3 * PATH], sub[4 * PATH];
	char **names;
	unsigned n = 0;

	snprintf(dir, sizeof(dir), "%s/vscsi-devs", v->be);
	names = b->x->vt->xs_directory(b->x, LUNAR_XS_NULL, dir, &n);
	for (unsigned i = 0; names && i < n; i++) {
		int st;

		snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
		st = lunar_xs_read_int(b->x, sub, "state", -1);
		if (st == XB_INITIALISING && !dev_of(v, names[i]))
			dev_add(b, v, names[i]);
		else if (reconnect && (st == XB_INITIALISED || st == XB_CONNECTED) && !dev_of(v, names[i]))
			dev_add(b, v, names[i]);
		else if (st == XB_CLOSING)
			dev_remove(b, v, names[i]);
		else if (st == XB_INITIALISED && fe_up && dev_of(v, names[i]))
			set_state(b, sub, XB_CONNECTED);
	}
	free(names);
}

/* ---- a vhost's life ---------------------------------------------------------------- */

static void disconnect(struct bvhost *v)
{
	if (!v->vh)
		return;
	lunar_xen_vhost_disconnect(v->vh);
	v->vh = NULL;
	v->ndevs = 0;
}

static bool connect(struct lunar_xen_backend *b, struct bvhost *v)
{
	char err[256], name[PATH];
	long ref = lunar_xs_read_int(b->x, v->fe, "ring-ref", -1);
	long port = lunar_xs_read_int(b->x, v->fe, "event-channel", -1);

	if (ref < 0 || port < 0) {
		log_err("xen %s: the frontend gave no valid ring-ref and event-channel", v->be);
		return false;
	}
	snprintf(name, sizeof(name), "%s/%u/%s", v->type, v->domid, v->vhost);
	v->vh = lunar_xen_vhost_connect(b->x, v->domid, name, (uint32_t)ref, (uint32_t)port,
					LUNAR_VSCSI_SG_MAX, b->notice_fd, err, sizeof(err));
	if (!v->vh) {
		log_err("xen %s: cannot connect: %s", v->be, err);
		return false;
	}
	log_info("xen %s: connected to domain %u (ring-ref %ld, event-channel %ld)", v->be,
		 v->domid, ref, port);
	return true;
}

static void announce(struct lunar_xen_backend *b, struct bvhost *v)
{
	char sg[16];

	snprintf(sg, sizeof(sg), "%d", LUNAR_VSCSI_SG_MAX);
	write_node(b, v->be, "feature-sg-grant", sg);
	write_node(b, v->be, "hotplug-status", "connected");
	set_state(b, v->be, XB_INITWAIT);
	v->phase = P_INITWAIT;
}

static void check(struct lunar_xen_backend *b, struct bvhost *v)
{
	long st = lunar_xs_read_int(b->x, v->be, "state", -1);
	long online = lunar_xs_read_int(b->x, v->be, "online", 0);
	long fe = -1;
	const char *why;

	if (st == XB_INITIALISING && v->phase != P_NEW) {
		/*
		 * We never write Initialising: the toolstack made this vhost
		 * anew, faster than we saw the old one go.  Start over, with
		 * what its nodes say now.
		 */
		disconnect(v);
		if (v->watching)
			b->x->vt->xs_unwatch(b->x, v->fe_state, "fe");
		v->watching = false;
		v->fe[0] = 0;
		v->phase = P_NEW;
	}
	if (!v->fe[0]) {
		char *p = lunar_xs_read(b->x, v->be, "frontend");

		/* written by the toolstack in our own directory */
		if (p && strlen(p) < sizeof(v->fe))
			snprintf(v->fe, sizeof(v->fe), "%s", p);
		free(p);
	}
	if (v->fe[0]) {
		if (!v->watching) {
			snprintf(v->fe_state, sizeof(v->fe_state), "%s/state", v->fe);
			v->watching = b->x->vt->xs_watch(b->x, v->fe_state, "fe") == 0;
		}
		/* the guest writes it: anything but a state number is no state */
		fe = lunar_xs_read_int(b->x, v->fe, "state", -1);
		if (fe < XB_UNKNOWN || fe > XB_RECONFIGURED)
			fe = -1;
	}
	if (v->vh && lunar_xen_vhost_dead(v->vh, &why)) {
		log_err("xen %s: disconnecting: %s", v->be, why);
		disconnect(v);
		set_state(b, v->be, XB_CLOSING);
		v->phase = P_CLOSING;
	}
	switch (v->phase) {
	case P_NEW:
		if (online == 1 && v->fe[0] && st >= XB_INITWAIT && st != XB_CLOSING &&
		    st != XB_CLOSED) {
			/*
			 * Set up by an earlier lunar (a restart): the frontend
			 * holds a ring we never mapped and waits for answers that
			 * will not come.  Closing makes it let go; detach and
			 * attach again connect it anew.
			 */
			log_warn("xen %s: found in state %ld from an earlier run: closing it "
				 "(lunar xen detach, then attach, to connect again)", v->be, st);
			set_state(b, v->be, XB_CLOSING);
			v->phase = P_CLOSING;
			return;
		}
		if (st != XB_INITIALISING || online != 1 || !v->fe[0])
			return;
		announce(b, v);
		/* the frontend does not wait for InitWait */
		__attribute__((fallthrough));
	case P_INITWAIT:
		if (fe == XB_INITIALISED || fe == XB_CONNECTED) {
			if (!connect(b, v)) {
				set_state(b, v->be, XB_CLOSING);
				v->phase = P_CLOSING;
				return;
			}
			devs_sync(b, v, true, false);
			set_state(b, v->be, XB_CONNECTED);
			v->phase = P_CONNECTED;
		} else if (fe == XB_CLOSING || fe == XB_CLOSED || fe < 0) {
			if (fe != XB_CLOSING) {
				set_state(b, v->be, XB_CLOSED);
				v->phase = P_CLOSED;
			}
			return;
		} else {
			return;
		}
		__attribute__((fallthrough));
	case P_CONNECTED:
		if (fe == XB_CLOSING || fe == XB_CLOSED || fe < 0) {
			log_info("xen %s: the frontend is closing", v->be);
			disconnect(v);
			set_state(b, v->be, fe == XB_CLOSING ? XB_CLOSING : XB_CLOSED);
			v->phase = fe == XB_CLOSING ? P_CLOSING : P_CLOSED;
			return;
		}
		if (fe == XB_RECONFIGURING && st == XB_RECONFIGURING) {
			devs_sync(b, v, false, false);
			set_state(b, v->be, XB_RECONFIGURED);
		} else if (fe == XB_CONNECTED && (st == XB_CONNECTED || st == XB_RECONFIGURED)) {
			devs_sync(b, v, false, true);
			set_state(b, v->be, XB_CONNECTED);
		}
		return;
	case P_CLOSING:
		if (fe == XB_CLOSED || fe < 0 || fe == XB_INITIALISING) {
			set_state(b, v->be, XB_CLOSED);
			v->phase = P_CLOSED;
		}
		/* a frontend may come back at once */
		__attribute__((fallthrough));
	case P_CLOSED:
		if (v->phase == P_CLOSED && online != 1 && st == XB_CLOSING &&
		    (fe == XB_CLOSED || fe < 0)) {
			/* the toolstack asked a closed vhost to close */
			set_state(b, v->be, XB_CLOSED);
			return;
		}
		if (v->phase != P_CLOSED || online != 1)
			return;
		if (fe == XB_INITIALISING) {
			log_info("xen %s: the frontend starts again", v->be);
			announce(b, v);
		}
		return;
	}
}

static void forget(struct lunar_xen_backend *b, struct bvhost *v)
{
	disconnect(v);
	if (v->watching)
		b->x->vt->xs_unwatch(b->x, v->fe_state, "fe");
	free(v);
}

/* Everything is looked at again on any change: the states in xenstore are
 * the truth, and our own writes are skipped when nothing changes. */
static void reconcile(struct lunar_xen_backend *b)
{
	for (struct bvhost *v = b->vhosts; v; v = v->next)
		v->seen = false;
	for (size_t t = 0; t < b->ntypes; t++) {
		char base[PATH], dpath[PATH + 16];
		_Static_assert(sizeof(((struct bvhost *)0)->be) > PATH + 16 + 32, "be holds dpath/vhost");
		char **doms;
		unsigned nd = 0;

		snprintf(base, sizeof(base), "/local/domain/%u/backend/%s", b->x->self_domid,
			 b->types[t]);
		doms = b->x->vt->xs_directory(b->x, LUNAR_XS_NULL, base, &nd);
		for (unsigned i = 0; doms && i < nd; i++) {
			char **vhs, *end;
			unsigned nv = 0;
			unsigned long dom = strtoul(doms[i], &end, 10);

			if (*end || end == doms[i] || dom >= 0x7ff0)
				continue;
			snprintf(dpath, sizeof(dpath), "%s/%s", base, doms[i]);
			vhs = b->x->vt->xs_directory(b->x, LUNAR_XS_NULL, dpath, &nv);
			for (unsigned j = 0; vhs && j < nv; j++) {
				struct bvhost *v;

				if (strlen(vhs[j]) >= sizeof(v->vhost))
					continue;
				for (v = b->vhosts; v; v = v->next)
					if (!strcmp(v->type, b->types[t]) && v->domid == dom &&
					    !strcmp(v->vhost, vhs[j]))
						break;
				if (!v) {
					v = calloc(1, sizeof(*v));
					if (!v)
						continue;
					snprintf(v->type, sizeof(v->type), "%s", b->types[t]);
					v->domid = (uint32_t)dom;
					snprintf(v->vhost, sizeof(v->vhost), "%s", vhs[j]);
					snprintf(v->be, sizeof(v->be), "%s/%s", dpath, vhs[j]);
					v->next = b->vhosts;
					b->vhosts = v;
				}
				v->seen = true;
			}
			free(vhs);
		}
		free(doms);
	}
	for (struct bvhost **pp = &b->vhosts; *pp;) {
		struct bvhost *v = *pp;

		if (!v->seen) {
			log_info("xen %s: removed", v->be);
			*pp = v->next;
			forget(b, v);
			continue;
		}
		check(b, v);
		pp = &v->next;
	}
}

/* ---- the backend ------------------------------------------------------------------- */

/* Watches backend/TYPE if no LUN had that type yet. */
static int watch_type(struct lunar_xen_backend *b, const char *type, char *err, size_t errlen)
{
	char (*grown)[40], base[PATH];

	for (size_t t = 0; t < b->ntypes; t++)
		if (!strcmp(b->types[t], type))
			return 0;
	if (strlen(type) >= sizeof(b->types[0])) {
		snprintf(err, errlen, "backend type '%s' is too long", type);
		return -1;
	}
	grown = realloc(b->types, (b->ntypes + 1) * sizeof(*b->types));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->types = grown;
	snprintf(base, sizeof(base), "/local/domain/%u/backend/%s", b->x->self_domid, type);
	if (b->x->vt->xs_watch(b->x, base, "be") < 0) {
		snprintf(err, errlen, "cannot watch %s: %s", base, strerror(errno));
		return -1;
	}
	snprintf(b->types[b->ntypes++], sizeof(b->types[0]), "%s", type);
	log_info("xen: serving vhosts under %s", base);
	return 0;
}

struct lunar_xen_backend *lunar_xen_backend_create(struct lunar_xenops *x,
						   struct lunar_lun *const *luns, size_t n,
						   char *err, size_t errlen)
{
	struct lunar_xen_backend *b = calloc(1, sizeof(*b));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!b)
		goto oom;
	b->x = x;
	b->epfd = b->notice_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	b->luns = calloc(n ? n : 1, sizeof(*b->luns));
	if (!b->luns)
		goto oom;
	for (size_t i = 0; i < n; i++)
		b->luns[b->nluns++] = luns[i];
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	b->notice_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->epfd < 0 || b->notice_fd < 0 ||
	    epoll_ctl(b->epfd, EPOLL_CTL_ADD, x->vt->xs_fd(x), &ev) < 0 ||
	    epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->notice_fd, &ev) < 0) {
		snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
		lunar_xen_backend_destroy(b);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (watch_type(b, lun_type(luns[i]), err, errlen) < 0) {
			lunar_xen_backend_destroy(b);
			return NULL;
		}
	}
	return b;
oom:
	snprintf(err, errlen, "out of memory");
	lunar_xen_backend_destroy(b);
	return NULL;
}

int lunar_xen_backend_fd(struct lunar_xen_backend *b)
{
	return b->epfd;
}

void lunar_xen_backend_event(struct lunar_xen_backend *b)
{
	struct epoll_event evs[4];
	char **w;
	uint64_t cnt;

	/* level-triggered: just consume what made it readable */
	(void)epoll_wait(b->epfd, evs, 4, 0);
	if (read(b->notice_fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: no vhost stopped */
	}
	while ((w = b->x->vt->xs_check_watch(b->x)))
		free(w);
	pthread_mutex_lock(&b->lock);
	reconcile(b);
	pthread_mutex_unlock(&b->lock);
}

int lunar_xen_backend_add_lun(struct lunar_xen_backend *b, struct lunar_lun *lun, char *err,
			      size_t errlen)
{
	struct lunar_lun **grown, *other;

	pthread_mutex_lock(&b->lock);
	other = find_lun(b, lun_type(lun), lun_pdev(lun));
	if (other) {
		snprintf(err, errlen, "p-dev '%s' (backend type %s) is LUN '%s''s already",
			 lun_pdev(lun), lun_type(lun), other->cfg.name);
		goto fail;
	}
	grown = realloc(b->luns, (b->nluns + 1) * sizeof(*b->luns));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	b->luns = grown;
	if (watch_type(b, lun_type(lun), err, errlen) < 0)
		goto fail;
	b->luns[b->nluns++] = lun;
	pthread_mutex_unlock(&b->lock);
	return 0;
fail:
	pthread_mutex_unlock(&b->lock);
	return -1;
}

/*
 * The guests lose the LUN's devices the way a toolstack's detach takes
 * them (each device Closing, the vhost Reconfiguring: the frontend removes
 * the disk and acknowledges), but the ports go now, before the core
 * destroys the LUN: a command the guest still sends is answered
 * DID_NO_CONNECT.
 */
void lunar_xen_backend_remove_lun(struct lunar_xen_backend *b, struct lunar_lun *lun)
{
	char dir[3 * PATH];

	pthread_mutex_lock(&b->lock);
	for (struct bvhost *v = b->vhosts; v; v = v->next) {
		bool took = false;

		for (unsigned i = 0; i < v->ndevs;) {
			struct bdev *d = &v->devs[i];

			if (d->lun != lun) {
				i++;
				continue;
			}
			log_info("xen %s: %s (LUN '%s') taken from the guest: the LUN was removed",
				 v->be, d->name, lun->cfg.name);
			lunar_xen_vhost_remove(v->vh, lun);
			snprintf(dir, sizeof(dir), "%s/vscsi-devs/%s", v->be, d->name);
			set_state(b, dir, XB_CLOSING);
			*d = v->devs[--v->ndevs];
			took = true;
		}
		if (took && v->phase == P_CONNECTED)
			set_state(b, v->be, XB_RECONFIGURING);
	}
	for (size_t i = 0; i < b->nluns; i++) {
		if (b->luns[i] == lun) {
			b->luns[i] = b->luns[--b->nluns];
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
}

void lunar_xen_backend_quiesce(struct lunar_xen_backend *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	for (struct bvhost *v = b->vhosts; v; v = v->next) {
		if (!v->vh)
			continue;
		disconnect(v);
		/* the frontend removes its disks and closes */
		set_state(b, v->be, XB_CLOSING);
		v->phase = P_CLOSING;
	}
	pthread_mutex_unlock(&b->lock);
}

void lunar_xen_backend_destroy(struct lunar_xen_backend *b)
{
	if (!b)
		return;
	while (b->vhosts) {
		struct bvhost *v = b->vhosts;

		b->vhosts = v->next;
		forget(b, v);
	}
	for (size_t t = 0; t < b->ntypes; t++) {
		char base[PATH];

		snprintf(base, sizeof(base), "/local/domain/%u/backend/%s", b->x->self_domid,
			 b->types[t]);
		b->x->vt->xs_unwatch(b->x, base, "be");
	}
	if (b->epfd >= 0)
		close(b->epfd);
	if (b->notice_fd >= 0)
		close(b->notice_fd);
	free(b->luns);
	free(b->types);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void lunar_xen_backend_describe(struct lunar_xen_backend *b, struct lunar_lun *lun, char *buf,
				size_t len)
{
	if (!b) {
		snprintf(buf, len, "%s", "");
		return;
	}
	pthread_mutex_lock(&b->lock);
	for (struct bvhost *v = b->vhosts; v; v = v->next) {
		for (unsigned i = 0; i < v->ndevs; i++) {
			struct lunar_xen_vhost_stats st;

			if (v->devs[i].lun != lun)
				continue;
			lunar_xen_vhost_stats(v->vh, &st);
			snprintf(buf, len, "vhost %s/%u/%s %s at %u:%u:%u (%llu requests on the vhost)",
				 v->type, v->domid, v->vhost, v->devs[i].name, v->devs[i].chn,
				 v->devs[i].tgt, v->devs[i].l, (unsigned long long)st.requests);
			pthread_mutex_unlock(&b->lock);
			return;
		}
	}
	pthread_mutex_unlock(&b->lock);
	snprintf(buf, len, "waiting for a vhost with p-dev '%s' under backend/%s", lun_pdev(lun),
		 lun_type(lun));
}
