/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xen/xenops_sim.h"

enum { PAGE = 4096, MAX_PERMS = 8, MAX_GRANTS = 65536, MAX_PORTS = 64 };

struct node {
	char *path;
	char *value;
	struct lunar_xs_perm perm[MAX_PERMS];
	unsigned nperm;
};

struct watch {
	struct conn *c;
	char *path;
	char *token;
	struct watch *next;
};

struct event {
	char **vec;			/* path, token: one block */
	struct event *next;
};

struct op {
	enum { OP_WRITE, OP_MKDIR, OP_RM, OP_PERMS } kind;
	char *path;
	char *value;
	struct lunar_xs_perm perm[MAX_PERMS];
	unsigned nperm;
	struct op *next;
};

struct txn {
	uint32_t id;
	struct conn *c;
	struct op *ops, **tail;
	struct txn *next;
};

/* A xenstore connection of one domain. */
struct conn {
	struct lunar_xenops ops;
	struct lunar_xen_sim *sim;
	int efd;			/* readable while events are queued */
	struct event *ev, **ev_tail;
};

struct grant {
	bool used;
	bool readonly;
	uint32_t page;
	uint32_t maps;
};

struct port {
	bool used;
	int front_efd;
	struct chan *bound;
	bool pending_back;		/* notified before the backend bound */
};

struct mapping {
	void *addr;
	uint32_t n;
	uint32_t *refs;
	struct mapping *next;
};

struct chan {
	struct lunar_xen_sim *sim;
	int efd;
	uint32_t port;
	bool bound;
	struct mapping *maps;
};

struct lunar_xen_sim {
	pthread_mutex_t lock;
	struct node *nodes;
	size_t nnodes, capnodes;
	struct watch *watches;
	struct txn *txns;
	uint32_t next_txn;
	struct conn *conns[16];
	int nconns;
	int memfd;
	uint32_t npages;
	uint8_t *mem;
	struct grant *grants;
	uint32_t next_ref;
	uint32_t mapped, map_failures;
	uint64_t copies, copy_failures;
	bool no_copy;			/* a Xen (or kernel) without grant copy */
	struct port ports[MAX_PORTS];
};

/* ---- xenstore tree -------------------------------------------------------------- */

static struct node *find(struct lunar_xen_sim *s, const char *path)
{
	for (size_t i = 0; i < s->nnodes; i++)
		if (!strcmp(s->nodes[i].path, path))
			return &s->nodes[i];
	return NULL;
}

static bool is_below(const char *path, const char *top)
{
	size_t n = strlen(top);

	return !strncmp(path, top, n) && (path[n] == '/' || path[n] == 0 || !strcmp(top, "/"));
}

static void fire_one(struct watch *w, const char *path)
{
	size_t lp = strlen(path) + 1, lt = strlen(w->token) + 1;
	struct event *e = calloc(1, sizeof(*e));
	uint64_t one = 1;

	if (!e)
		return;
	e->vec = malloc(2 * sizeof(char *) + lp + lt);
	if (!e->vec) {
		free(e);
		return;
	}
	e->vec[0] = (char *)(e->vec + 2);
	e->vec[1] = e->vec[0] + lp;
	memcpy(e->vec[0], path, lp);
	memcpy(e->vec[1], w->token, lt);
	*w->c->ev_tail = e;
	w->c->ev_tail = &e->next;
	if (write(w->c->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in a test */
	}
}

static void fire(struct lunar_xen_sim *s, const char *path)
{
	for (struct watch *w = s->watches; w; w = w->next)
		if (is_below(path, w->path) || is_below(w->path, path))
			fire_one(w, path);
}

static bool allowed(const struct node *n, uint32_t dom, uint32_t want)
{
	uint32_t have;

	if (dom == 0 || n->perm[0].domid == dom)
		return true;
	have = n->perm[0].perms;
	for (unsigned i = 1; i < n->nperm; i++)
		if (n->perm[i].domid == dom)
			have = n->perm[i].perms;
	return (have & want) == want;
}

static void parent_of(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0)
		n = 1;
	if (n >= len)
		n = len - 1;
	memcpy(out, path, n);
	out[n] = 0;
}

/* Creates path and its missing parents (inheriting permissions). */
static struct node *create(struct lunar_xen_sim *s, const char *path, uint32_t dom)
{
	struct node *n = find(s, path), *p;
	char parent[512];

	if (n)
		return n;
	parent_of(path, parent, sizeof(parent));
	p = strcmp(parent, path) ? create(s, parent, dom) : NULL;
	if (p && !allowed(p, dom, LUNAR_XS_PERM_WRITE)) {
		errno = EACCES;
		return NULL;
	}
	if (s->nnodes == s->capnodes) {
		size_t cap = s->capnodes ? 2 * s->capnodes : 64;
		struct node *v = realloc(s->nodes, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->nodes = v;
		s->capnodes = cap;
		p = strcmp(parent, path) ? find(s, parent) : NULL;
	}
	n = &s->nodes[s->nnodes++];
	memset(n, 0, sizeof(*n));
	n->path = strdup(path);
	n->value = strdup("");
	if (p) {
		memcpy(n->perm, p->perm, sizeof(n->perm));
		n->nperm = p->nperm;
	} else {
		n->nperm = 1;
	}
	if (dom != 0)
		n->perm[0].domid = dom;
	fire(s, path);
	return n;
}

static int do_write(struct lunar_xen_sim *s, uint32_t dom, const char *path, const char *val)
{
	struct node *n = find(s, path);

	if (n && !allowed(n, dom, LUNAR_XS_PERM_WRITE)) {
		errno = EACCES;
		return -1;
	}
	if (!n && !(n = create(s, path, dom)))
		return -1;
	free(n->value);
	n->value = strdup(val);
	fire(s, path);
	return 0;
}

static int do_rm(struct lunar_xen_sim *s, uint32_t dom, const char *path)
{
	struct node *n = find(s, path);

	if (!n)
		return 0;
	if (!allowed(n, dom, LUNAR_XS_PERM_WRITE)) {
		errno = EACCES;
		return -1;
	}
	for (size_t i = 0; i < s->nnodes;) {
		if (is_below(s->nodes[i].path, path)) {
			free(s->nodes[i].path);
			free(s->nodes[i].value);
			s->nodes[i] = s->nodes[--s->nnodes];
			continue;
		}
		i++;
	}
	fire(s, path);
	return 0;
}

static int do_perms(struct lunar_xen_sim *s, uint32_t dom, const char *path,
		    const struct lunar_xs_perm *p, unsigned np)
{
	struct node *n = find(s, path);

	if (!n || np == 0 || np > MAX_PERMS) {
		errno = n ? EINVAL : ENOENT;
		return -1;
	}
	if (dom != 0 && n->perm[0].domid != dom) {
		errno = EACCES;
		return -1;
	}
	memcpy(n->perm, p, np * sizeof(*p));
	n->nperm = np;
	fire(s, path);
	return 0;
}

static struct conn *cn(struct lunar_xenops *x)
{
	return (struct conn *)x;
}

static struct txn *txn_of(struct lunar_xen_sim *s, uint32_t t)
{
	for (struct txn *x = s->txns; x; x = x->next)
		if (x->id == t)
			return x;
	return NULL;
}

static int queue_op(struct conn *c, uint32_t t, int kind, const char *path, const char *val,
		    const struct lunar_xs_perm *p, unsigned np)
{
	struct txn *x = txn_of(c->sim, t);
	struct op *o;

	if (!x || np > MAX_PERMS) {
		errno = EINVAL;
		return -1;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return -1;
	o->kind = kind;
	o->path = strdup(path);
	o->value = val ? strdup(val) : NULL;
	if (p)
		memcpy(o->perm, p, np * sizeof(*p));
	o->nperm = np;
	*x->tail = o;
	x->tail = &o->next;
	return 0;
}

static int s_fd(struct lunar_xenops *x)
{
	return cn(x)->efd;
}

static char *s_read(struct lunar_xenops *x, uint32_t t, const char *path)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	struct node *n;
	char *v = NULL;

	pthread_mutex_lock(&s->lock);
	n = find(s, path);
	if (!n)
		errno = ENOENT;
	else if (!allowed(n, x->self_domid, LUNAR_XS_PERM_READ))
		errno = EACCES;
	else
		v = strdup(n->value);
	pthread_mutex_unlock(&s->lock);
	return v;
}

static int s_write(struct lunar_xenops *x, uint32_t t, const char *path, const char *val)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = t ? queue_op(cn(x), t, OP_WRITE, path, val, NULL, 0) : do_write(s, x->self_domid, path, val);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int s_mkdir(struct lunar_xenops *x, uint32_t t, const char *path)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (t)
		rc = queue_op(cn(x), t, OP_MKDIR, path, NULL, NULL, 0);
	else if (!create(s, path, x->self_domid))
		rc = -1;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int s_rm(struct lunar_xenops *x, uint32_t t, const char *path)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = t ? queue_op(cn(x), t, OP_RM, path, NULL, NULL, 0) : do_rm(s, x->self_domid, path);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static char **s_directory(struct lunar_xenops *x, uint32_t t, const char *path, unsigned *n)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	size_t plen = strlen(path), bytes = 0;
	unsigned cnt = 0;
	char **v = NULL, *p;
	struct node *dir;

	pthread_mutex_lock(&s->lock);
	dir = find(s, path);
	if (!dir || !allowed(dir, x->self_domid, LUNAR_XS_PERM_READ)) {
		errno = dir ? EACCES : ENOENT;
		goto out;
	}
	for (size_t i = 0; i < s->nnodes; i++) {
		const char *q = s->nodes[i].path;

		if (!strncmp(q, path, plen) && q[plen] == '/' && !strchr(q + plen + 1, '/')) {
			cnt++;
			bytes += strlen(q + plen + 1) + 1;
		}
	}
	v = malloc((cnt + 1) * sizeof(char *) + bytes);
	if (!v)
		goto out;
	p = (char *)(v + cnt + 1);
	cnt = 0;
	for (size_t i = 0; i < s->nnodes; i++) {
		const char *q = s->nodes[i].path;

		if (!strncmp(q, path, plen) && q[plen] == '/' && !strchr(q + plen + 1, '/')) {
			v[cnt++] = p;
			strcpy(p, q + plen + 1);
			p += strlen(p) + 1;
		}
	}
	v[cnt] = NULL;
	*n = cnt;
out:
	pthread_mutex_unlock(&s->lock);
	return v;
}

static int s_set_perms(struct lunar_xenops *x, uint32_t t, const char *path,
		       const struct lunar_xs_perm *p, unsigned n)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = t ? queue_op(cn(x), t, OP_PERMS, path, NULL, p, n) : do_perms(s, x->self_domid, path, p, n);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int s_watch(struct lunar_xenops *x, const char *path, const char *token)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->c = cn(x);
	w->path = strdup(path);
	w->token = strdup(token);
	pthread_mutex_lock(&s->lock);
	w->next = s->watches;
	s->watches = w;
	/* a new watch fires once, for its own path */
	fire_one(w, path);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int s_unwatch(struct lunar_xenops *x, const char *path, const char *token)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	struct watch **pp;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->watches; *pp; pp = &(*pp)->next) {
		struct watch *w = *pp;

		if (w->c == cn(x) && !strcmp(w->path, path) && !strcmp(w->token, token)) {
			*pp = w->next;
			free(w->path);
			free(w->token);
			free(w);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static char **s_check_watch(struct lunar_xenops *x)
{
	struct conn *c = cn(x);
	struct event *e;
	char **v = NULL;
	uint64_t cnt;

	pthread_mutex_lock(&c->sim->lock);
	e = c->ev;
	if (e) {
		c->ev = e->next;
		if (!c->ev)
			c->ev_tail = &c->ev;
		v = e->vec;
		free(e);
	} else {
		if (read(c->efd, &cnt, sizeof(cnt)) < 0) {
			/* EAGAIN: already clear */
		}
		errno = EAGAIN;
	}
	pthread_mutex_unlock(&c->sim->lock);
	return v;
}

static uint32_t s_tstart(struct lunar_xenops *x)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	struct txn *t = calloc(1, sizeof(*t));
	uint32_t id;

	if (!t)
		return 0;
	pthread_mutex_lock(&s->lock);
	t->id = id = ++s->next_txn;
	t->c = cn(x);
	t->tail = &t->ops;
	t->next = s->txns;
	s->txns = t;
	pthread_mutex_unlock(&s->lock);
	return id;
}

static int s_tend(struct lunar_xenops *x, uint32_t id, bool abort)
{
	struct lunar_xen_sim *s = cn(x)->sim;
	struct txn **pp, *t = NULL;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->txns; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			t = *pp;
			*pp = t->next;
			break;
		}
	}
	if (!t) {
		pthread_mutex_unlock(&s->lock);
		errno = EINVAL;
		return -1;
	}
	while (t->ops) {
		struct op *o = t->ops;
		uint32_t dom = x->self_domid;

		t->ops = o->next;
		if (!abort && rc == 0) {
			switch (o->kind) {
			case OP_WRITE: rc = do_write(s, dom, o->path, o->value); break;
			case OP_MKDIR: rc = create(s, o->path, dom) ? 0 : -1; break;
			case OP_RM: rc = do_rm(s, dom, o->path); break;
			case OP_PERMS: rc = do_perms(s, dom, o->path, o->perm, o->nperm); break;
			}
		}
		free(o->path);
		free(o->value);
		free(o);
	}
	free(t);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void s_close(struct lunar_xenops *x)
{
	struct conn *c = cn(x);
	struct lunar_xen_sim *s;
	struct watch **pp;

	if (!c)
		return;
	s = c->sim;
	pthread_mutex_lock(&s->lock);
	for (pp = &s->watches; *pp;) {
		struct watch *w = *pp;

		if (w->c != c) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
	while (c->ev) {
		struct event *e = c->ev;

		c->ev = e->next;
		free(e->vec);
		free(e);
	}
	for (int i = 0; i < s->nconns; i++)
		if (s->conns[i] == c)
			s->conns[i] = s->conns[--s->nconns];
	pthread_mutex_unlock(&s->lock);
	close(c->efd);
	free(c);
}

/* ---- grants and event channels -------------------------------------------------- */

static struct lunar_xen_chan *s_chan_open(struct lunar_xenops *x, uint32_t domid,
					  uint32_t max_grants)
{
	struct chan *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sim = cn(x)->sim;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd < 0) {
		free(c);
		return NULL;
	}
	return (struct lunar_xen_chan *)c;
}

static void *s_map(struct lunar_xen_chan *lc, uint32_t n, const uint32_t *refs, bool writable)
{
	struct chan *c = (struct chan *)lc;
	struct lunar_xen_sim *s = c->sim;
	struct mapping *m = NULL;
	uint8_t *addr = MAP_FAILED;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < n; i++) {
		const struct grant *g = refs[i] < MAX_GRANTS ? &s->grants[refs[i]] : NULL;

		if (!g || !g->used || (writable && g->readonly))
			goto fail;
	}
	m = calloc(1, sizeof(*m));
	addr = mmap(NULL, (size_t)n * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!m || addr == MAP_FAILED || !(m->refs = malloc(n * sizeof(uint32_t))))
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		int prot = PROT_READ | (writable ? PROT_WRITE : 0);

		if (mmap(addr + (size_t)i * PAGE, PAGE, prot, MAP_SHARED | MAP_FIXED, s->memfd,
			 (off_t)s->grants[refs[i]].page * PAGE) == MAP_FAILED)
			goto fail;
	}
	for (uint32_t i = 0; i < n; i++) {
		s->grants[refs[i]].maps++;
		m->refs[i] = refs[i];
	}
	s->mapped += n;
	m->addr = addr;
	m->n = n;
	m->next = c->maps;
	c->maps = m;
	pthread_mutex_unlock(&s->lock);
	return addr;
fail:
	s->map_failures++;
	if (addr != MAP_FAILED)
		munmap(addr, (size_t)n * PAGE);
	if (m)
		free(m->refs);
	free(m);
	pthread_mutex_unlock(&s->lock);
	errno = EINVAL;
	return NULL;
}

static int s_unmap(struct lunar_xen_chan *lc, void *addr, uint32_t n)
{
	struct chan *c = (struct chan *)lc;
	struct lunar_xen_sim *s = c->sim;
	struct mapping **pp;

	pthread_mutex_lock(&s->lock);
	for (pp = &c->maps; *pp; pp = &(*pp)->next) {
		struct mapping *m = *pp;

		if (m->addr != addr || m->n != n)
			continue;
		*pp = m->next;
		for (uint32_t i = 0; i < n; i++)
			s->grants[m->refs[i]].maps--;
		s->mapped -= n;
		munmap(addr, (size_t)n * PAGE);
		free(m->refs);
		free(m);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	s->map_failures++;
	pthread_mutex_unlock(&s->lock);
	errno = EINVAL;
	return -1;
}

/* GNTST_bad_gntref, GNTST_permission_denied */
enum { ST_BAD_REF = -3, ST_DENIED = -8 };

static int s_copy(struct lunar_xen_chan *lc, struct lunar_xen_copy *segs, uint32_t n)
{
	struct chan *c = (struct chan *)lc;
	struct lunar_xen_sim *s = c->sim;

	if (s->no_copy) {
		errno = ENOSYS;
		return -1;
	}
	/* as gntdev: a segment past its page fails the whole call */
	for (uint32_t i = 0; i < n; i++) {
		if ((uint32_t)segs[i].offset + segs[i].len > PAGE || !segs[i].local) {
			errno = EINVAL;
			return -1;
		}
	}
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < n; i++) {
		struct lunar_xen_copy *k = &segs[i];
		const struct grant *g = k->gref < MAX_GRANTS ? &s->grants[k->gref] : NULL;
		uint8_t *page;

		if (!g || !g->used) {
			k->status = ST_BAD_REF;
		} else if (k->to_guest && g->readonly) {
			k->status = ST_DENIED;
		} else {
			page = s->mem + (size_t)g->page * PAGE + k->offset;
			if (k->to_guest)
				memcpy(page, k->local, k->len);
			else
				memcpy(k->local, page, k->len);
			k->status = 0;
			s->copies++;
			continue;
		}
		s->copy_failures++;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int s_bind(struct lunar_xen_chan *lc, uint32_t remote_port)
{
	struct chan *c = (struct chan *)lc;
	struct lunar_xen_sim *s = c->sim;
	struct port *p = remote_port < MAX_PORTS ? &s->ports[remote_port] : NULL;
	uint64_t one = 1;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!p || !p->used || p->bound || c->bound) {
		errno = EINVAL;
		rc = -1;
	} else {
		p->bound = c;
		c->port = remote_port;
		c->bound = true;
		if (p->pending_back && write(c->efd, &one, sizeof(one)) < 0)
			rc = -1;
		p->pending_back = false;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void s_chan_close(struct lunar_xen_chan *lc)
{
	struct chan *c = (struct chan *)lc;

	if (!c)
		return;
	while (c->maps) {
		/* a backend that forgot a mapping: count it as a failure */
		c->sim->map_failures++;
		s_unmap(lc, c->maps->addr, c->maps->n);
		c->sim->map_failures--;
	}
	pthread_mutex_lock(&c->sim->lock);
	if (c->bound)
		c->sim->ports[c->port].bound = NULL;
	pthread_mutex_unlock(&c->sim->lock);
	close(c->efd);
	free(c);
}

static int s_evt_fd(struct lunar_xen_chan *lc)
{
	return ((struct chan *)lc)->efd;
}

static int s_evt_pending(struct lunar_xen_chan *lc)
{
	uint64_t v;

	if (read(((struct chan *)lc)->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -1;
	return 0;
}

static int s_evt_unmask(struct lunar_xen_chan *lc)
{
	return 0;
}

static int s_evt_notify(struct lunar_xen_chan *lc)
{
	struct chan *c = (struct chan *)lc;
	struct lunar_xen_sim *s = c->sim;
	uint64_t one = 1;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!c->bound || write(s->ports[c->port].front_efd, &one, sizeof(one)) < 0)
		rc = -1;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static const struct lunar_xenops_vt sim_vt = {
	.xs_fd = s_fd,
	.xs_read = s_read,
	.xs_write = s_write,
	.xs_mkdir = s_mkdir,
	.xs_rm = s_rm,
	.xs_directory = s_directory,
	.xs_set_perms = s_set_perms,
	.xs_watch = s_watch,
	.xs_unwatch = s_unwatch,
	.xs_check_watch = s_check_watch,
	.xs_transaction_start = s_tstart,
	.xs_transaction_end = s_tend,
	.close = s_close,
	.chan_open = s_chan_open,
	.chan_close = s_chan_close,
	.map = s_map,
	.unmap = s_unmap,
	.copy = s_copy,
	.bind = s_bind,
	.evt_fd = s_evt_fd,
	.evt_pending = s_evt_pending,
	.evt_unmask = s_evt_unmask,
	.evt_notify = s_evt_notify,
};

struct lunar_xenops *lunar_xenops_sim_open(struct lunar_xen_sim *s, uint32_t domid)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ops.vt = &sim_vt;
	c->ops.self_domid = domid;
	c->sim = s;
	c->ev_tail = &c->ev;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_lock(&s->lock);
	if (c->efd < 0 || s->nconns == (int)(sizeof(s->conns) / sizeof(s->conns[0]))) {
		pthread_mutex_unlock(&s->lock);
		if (c->efd >= 0)
			close(c->efd);
		free(c);
		return NULL;
	}
	s->conns[s->nconns++] = c;
	pthread_mutex_unlock(&s->lock);
	return &c->ops;
}

/* ---- the guest's side ----------------------------------------------------------- */

struct lunar_xen_sim *lunar_xen_sim_create(uint32_t guest_pages)
{
	struct lunar_xen_sim *s = calloc(1, sizeof(*s));
	struct node *root;

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->npages = guest_pages;
	s->memfd = memfd_create("lunar-xen-guest", MFD_CLOEXEC);
	s->grants = calloc(MAX_GRANTS, sizeof(*s->grants));
	if (s->memfd < 0 || !s->grants || ftruncate(s->memfd, (off_t)guest_pages * PAGE) < 0)
		goto fail;
	s->mem = mmap(NULL, (size_t)guest_pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->memfd, 0);
	if (s->mem == MAP_FAILED)
		goto fail;
	s->next_ref = 8;	/* small refs are the toolstack's in real Xen */
	root = create(s, "/", 0);
	if (!root)
		goto fail;
	return s;
fail:
	if (s->memfd >= 0)
		close(s->memfd);
	free(s->grants);
	free(s);
	return NULL;
}

void lunar_xen_sim_destroy(struct lunar_xen_sim *s)
{
	if (!s)
		return;
	while (s->nconns)
		s_close(&s->conns[0]->ops);
	for (size_t i = 0; i < s->nnodes; i++) {
		free(s->nodes[i].path);
		free(s->nodes[i].value);
	}
	free(s->nodes);
	while (s->txns) {
		struct txn *t = s->txns;

		s->txns = t->next;
		while (t->ops) {
			struct op *o = t->ops;

			t->ops = o->next;
			free(o->path);
			free(o->value);
			free(o);
		}
		free(t);
	}
	for (int i = 0; i < MAX_PORTS; i++)
		if (s->ports[i].used)
			close(s->ports[i].front_efd);
	munmap(s->mem, (size_t)s->npages * PAGE);
	close(s->memfd);
	free(s->grants);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

uint8_t *lunar_xen_sim_guest_mem(struct lunar_xen_sim *s)
{
	return s->mem;
}

uint32_t lunar_xen_sim_grant(struct lunar_xen_sim *s, uint32_t page, bool readonly)
{
	uint32_t ref = 0;

	if (page >= s->npages)
		return 0;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < MAX_GRANTS - 8; i++) {
		uint32_t r = 8 + (s->next_ref - 8 + i) % (MAX_GRANTS - 8);

		if (!s->grants[r].used) {
			s->grants[r] = (struct grant){ .used = true, .readonly = readonly, .page = page };
			s->next_ref = r + 1;
			ref = r;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ref;
}

int lunar_xen_sim_ungrant(struct lunar_xen_sim *s, uint32_t ref)
{
	int rc = 0;

	if (ref >= MAX_GRANTS)
		return -1;
	pthread_mutex_lock(&s->lock);
	if (!s->grants[ref].used || s->grants[ref].maps)
		rc = -1;
	else
		s->grants[ref].used = false;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

uint32_t lunar_xen_sim_mapped(struct lunar_xen_sim *s)
{
	uint32_t n;

	pthread_mutex_lock(&s->lock);
	n = s->mapped;
	pthread_mutex_unlock(&s->lock);
	return n;
}

uint32_t lunar_xen_sim_map_failures(struct lunar_xen_sim *s)
{
	uint32_t n;

	pthread_mutex_lock(&s->lock);
	n = s->map_failures;
	pthread_mutex_unlock(&s->lock);
	return n;
}

uint64_t lunar_xen_sim_copies(struct lunar_xen_sim *s, uint64_t *failures)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->copies;
	if (failures)
		*failures = s->copy_failures;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void lunar_xen_sim_no_copy(struct lunar_xen_sim *s, bool no_copy)
{
	pthread_mutex_lock(&s->lock);
	s->no_copy = no_copy;
	pthread_mutex_unlock(&s->lock);
}

uint32_t lunar_xen_sim_evtchn_alloc(struct lunar_xen_sim *s, int *fd)
{
	uint32_t port = 0;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 1; i < MAX_PORTS; i++) {
		if (s->ports[i].used)
			continue;
		s->ports[i] = (struct port){ .used = true };
		s->ports[i].front_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		*fd = s->ports[i].front_efd;
		port = i;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return port;
}

void lunar_xen_sim_evtchn_notify(struct lunar_xen_sim *s, uint32_t port)
{
	uint64_t one = 1;

	if (port >= MAX_PORTS)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->ports[port].bound) {
		if (write(s->ports[port].bound->efd, &one, sizeof(one)) < 0) {
			/* cannot overflow in a test */
		}
	} else {
		s->ports[port].pending_back = true;
	}
	pthread_mutex_unlock(&s->lock);
}

void lunar_xen_sim_evtchn_ack(struct lunar_xen_sim *s, uint32_t port)
{
	uint64_t v;

	if (port >= MAX_PORTS || !s->ports[port].used)
		return;
	if (read(s->ports[port].front_efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

bool lunar_xen_sim_evtchn_bound(struct lunar_xen_sim *s, uint32_t port)
{
	bool b;

	pthread_mutex_lock(&s->lock);
	b = port < MAX_PORTS && s->ports[port].bound;
	pthread_mutex_unlock(&s->lock);
	return b;
}
