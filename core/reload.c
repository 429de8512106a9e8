/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "luavm.h"
#include "lun.h"
#include "notify.h"
#include "reload.h"
#include "transports.h"
#include "util.h"
#include "worker.h"

/*
 * Reloads.  A reload never takes a LUN down: the new generation is built
 * off the hot path (on the reload thread), swapped in by the LUN's worker
 * between batches, and on any failure the old one keeps serving.
 *
 * Building may hang (open() in an endless loop) and LuaJIT cannot stop a
 * compiled loop, so each new handler is first tried in a child process
 * that is killed if it does not finish (lunar_reload_check).  A config
 * reload diffs the LUNs: the reload thread builds what is new, the main
 * thread (which owns the transports) adds, removes and swaps.
 */

enum { MAX_WATCH = 256 };

/* ---- the check in a child -------------------------------------------------------------- */

int lunar_reload_check(struct lunar_lun *lun, const struct lunar_lun_config *cfg,
		       const struct lunar_value *args, int timeout_ms, char *err, size_t errlen)
{
	int fds[2];
	pid_t pid;
	char msg[1024];
	size_t got = 0;
	uint64_t deadline = lunar_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int status = 0;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		/* A copy of this process: same LUN, same C-owned memory (copy on
		 * write).  Build, report, leave without running exit handlers. */
		struct lunar_gen *g;
		char e[1024] = "";

		close(fds[0]);
		g = lunar_gen_create_with(lun, cfg, args, e, sizeof(e));
		if (g && lunar_gen_check(g, e, sizeof(e)) == 0)
			_exit(0);
		if (lunar_write_all(fds[1], e, strlen(e)) < 0)
			_exit(2);
		_exit(1);
	}
	close(fds[1]);
	for (;;) {
		int64_t left = (int64_t)(deadline - lunar_now_ns()) / 1000000;
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(fds[0]);
			snprintf(err, errlen, "open() or check() did not return within %d ms", timeout_ms);
			return -1;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fds[0], msg + got, sizeof(msg) - 1 - got);
		if (n > 0) {
			got += (size_t)n;
			if (got < sizeof(msg) - 1)
				continue;
		}
		break;	/* EOF: the child is done */
	}
	msg[got] = 0;
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0) {
		snprintf(err, errlen, "waitpid: %s", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		snprintf(err, errlen, "the check died of signal %d%s%s", WTERMSIG(status), got ? ": " : "",
			 msg);
	else
		snprintf(err, errlen, "%s", got ? msg : "the handler did not load");
	return -1;
}

/* ---- the plan a config reload hands to the main thread ----------------------------------- */

enum act { ACT_ADD, ACT_REMOVE, ACT_REPLACE, ACT_UPDATE };

struct step {
	enum act act;
	struct lunar_lun *old;			/* REMOVE, REPLACE, UPDATE */
	const struct lunar_lun_config *cfg;	/* ADD, REPLACE, UPDATE (in plan->cfg) */
	struct lunar_lun *lun;			/* ADD, REPLACE: built here */
	struct lunar_gen *gen;			/* its new generation, or NULL */
	struct lunar_lun_config build;		/* UPDATE: cfg at the LUN's current size */
	char err[512];
};

struct plan {
	struct lunar_config *cfg;
	struct step *steps;
	size_t n;
	struct lunar_buf report;
	int failures;
};

/* ---- jobs ------------------------------------------------------------------------ */

struct job {
	struct job *next;
	char *lun;			/* NULL: the whole config */
	const char *why;
	struct lunar_reload_wait *w;
};

struct lunar_reload {
	struct lunar_daemon *d;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stop;
	int apply_fd;			/* the main thread: a plan is ready */
	int timeout_ms;			/* of a new handler's check */
	struct plan *ready;		/* lock */
	bool applied;			/* lock: the main thread did it */
	int inotify_fd;
	struct {
		int wd;
		char *dir;
	} watch[MAX_WATCH];
	size_t nwatch;
	pthread_mutex_t wlock;		/* the on-change file list */
	struct watched {
		char *path;
		char *lun;
	} *files;
	size_t nfiles;
};

/* A generation for lun from cfg, checked first; NULL with err. */
static struct lunar_gen *build(struct lunar_reload *r, struct lunar_lun *lun,
			       const struct lunar_lun_config *cfg, const struct lunar_value *args,
			       char *err, size_t errlen)
{
	struct lunar_gen *g;

	if (lunar_reload_check(lun, cfg, args, r->timeout_ms, err, errlen) < 0)
		return NULL;
	g = lunar_gen_create_with(lun, cfg, args, err, errlen);
	if (g && lunar_gen_check(g, err, errlen) < 0) {
		lunar_gen_destroy(g);
		g = NULL;
	}
	return g;
}

static void finish_wait(struct lunar_reload_wait *w, bool ok, const char *msg)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->ok = ok;
	snprintf(w->msg, sizeof(w->msg), "%s", msg);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void lunar_reload_request(struct lunar_reload *r, const char *lun, const char *why,
			  struct lunar_reload_wait *w)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j || (lun && !(j->lun = strdup(lun)))) {
		free(j);
		finish_wait(w, false, "out of memory");
		return;
	}
	j->why = why;
	j->w = w;
	pthread_mutex_lock(&r->lock);
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void lunar_reload_wait_init(struct lunar_reload_wait *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

void lunar_reload_wait_done(struct lunar_reload_wait *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->done)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

/* ---- on-change: inotify on the directories of the watched files ---------------------------- */

static void watch_dir(struct lunar_reload *r, const char *path)
{
	char *dir = strdup(path), *slash;

	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	for (size_t i = 0; i < r->nwatch; i++) {
		if (!strcmp(r->watch[i].dir, dir)) {
			free(dir);
			return;
		}
	}
	if (r->nwatch == MAX_WATCH) {
		free(dir);
		return;
	}
	/* directories, not files: editors replace a file by renaming */
	r->watch[r->nwatch].wd = inotify_add_watch(r->inotify_fd, dir,
						   IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
	if (r->watch[r->nwatch].wd < 0) {
		log_warn("reload: cannot watch %s: %s", dir, strerror(errno));
		free(dir);
		return;
	}
	r->watch[r->nwatch++].dir = dir;
}

/* The LUN's generation runs these files: a change reloads it. */
static void watch_lun(struct lunar_reload *r, struct lunar_lun *lun, struct lunar_gen *g)
{
	char **files = NULL, err[256];
	size_t n = 0;

	if (!lun->cfg.reload_on_change || r->inotify_fd < 0 || !g)
		return;
	if (lunar_gen_files(g, &files, &n, err, sizeof(err)) < 0) {
		lun_warn(lun->cfg.name, "cannot list its Lua files: %s", err);
		return;
	}
	pthread_mutex_lock(&r->wlock);
	for (size_t i = 0; i < n; i++) {
		struct watched *w;
		bool have = false;

		for (size_t k = 0; k < r->nfiles; k++)
			have |= !strcmp(r->files[k].path, files[i]) && !strcmp(r->files[k].lun, lun->cfg.name);
		w = have ? NULL : realloc(r->files, (r->nfiles + 1) * sizeof(*w));
		if (w) {
			r->files = w;
			w[r->nfiles].path = files[i];
			w[r->nfiles].lun = strdup(lun->cfg.name);
			r->nfiles++;
			watch_dir(r, files[i]);
			files[i] = NULL;
		}
		free(files[i]);
	}
	pthread_mutex_unlock(&r->wlock);
	free(files);
}

/* inotify events: reload each LUN one of whose files changed (once). */
static void on_change(struct lunar_reload *r)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	char changed[64][128];
	size_t nchanged = 0;
	ssize_t len;

	while ((len = read(r->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (void *)p;
			const char *dir = NULL;

			p += sizeof(*ev) + ev->len;
			for (size_t i = 0; i < r->nwatch; i++)
				if (r->watch[i].wd == ev->wd)
					dir = r->watch[i].dir;
			if (!dir || !ev->len)
				continue;
			pthread_mutex_lock(&r->wlock);
			for (size_t k = 0; k < r->nfiles; k++) {
				const char *f = r->files[k].path;
				size_t dl = strlen(dir);
				bool dup = false;

				if (strncmp(f, dir, dl) || f[dl] != '/' || strcmp(f + dl + 1, ev->name))
					continue;
				for (size_t c = 0; c < nchanged; c++)
					dup |= !strcmp(changed[c], r->files[k].lun);
				if (!dup && nchanged < 64)
					snprintf(changed[nchanged++], sizeof(changed[0]), "%s", r->files[k].lun);
			}
			pthread_mutex_unlock(&r->wlock);
		}
	}
	for (size_t c = 0; c < nchanged; c++)
		lunar_reload_request(r, changed[c], "a Lua file changed", NULL);
}

/* ---- one LUN's handler ------------------------------------------------------------------ */

static void stamp(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

/* Records and logs the outcome for one LUN. */
static void outcome(struct lunar_lun *lun, bool ok, const char *why, const char *err)
{
	char when[16];

	stamp(when, sizeof(when));
	if (!ok && atomic_exchange(&lun->recovering, false)) {
		/* there is no handler to fall back on: NOT READY, not BUSY */
		lun->handler_failed = true;
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED,
				    "its handler wedged and could not be rebuilt: %.180s", err);
	}
	if (ok) {
		lunar_lun_reload_msg(lun, "reloaded at %s (%s)", when, why);
		lun_info(lun->cfg.name, "reloaded (%s)", why);
	} else {
		lunar_lun_reload_msg(lun, "reload failed at %s, the previous handler keeps serving: %.180s",
				     when, err);
		lun_err(lun->cfg.name, "reload failed (%s), the previous handler keeps serving: %s",
			why, err);
	}
}

static void reload_lun(struct lunar_reload *r, const char *name, const char *why,
		       struct lunar_buf *report, int *failures)
{
	struct lunar_daemon *d = r->d;
	struct lunar_lun *lun;
	struct lunar_gen *g;
	char err[1024];

	pthread_rwlock_rdlock(&d->lock);
	lun = lunar_daemon_find(d, name);
	if (lun)
		lunar_lun_ref(lun);
	pthread_rwlock_unlock(&d->lock);
	if (!lun) {
		lunar_buf_printf(report, "%s: no such LUN\n", name);
		(*failures)++;
		return;
	}
	g = build(r, lun, &lun->cfg, lun->args, err, sizeof(err));
	outcome(lun, g != NULL, why, err);
	if (g) {
		watch_lun(r, lun, g);
		lunar_lun_set_next_gen(lun, g);
		lunar_buf_printf(report, "%s: reloaded\n", name);
	} else {
		lunar_buf_printf(report, "%s: reload failed, the previous handler keeps serving: %s\n", name,
				 err);
		(*failures)++;
	}
	lunar_lun_put(lun);
}

/* ---- the whole config -------------------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* What a running LUN cannot take: it is replaced by a new one. */
static bool needs_restart(const struct lunar_lun_config *a, const struct lunar_lun_config *b)
{
	if (a->transport != b->transport || a->block_size != b->block_size ||
	    a->queue_depth != b->queue_depth)
		return true;
	if (a->sim.ring_size != b->sim.ring_size || a->sim.data_size != b->sim.data_size)
		return true;
	if (a->transport != LUNAR_TRANSPORT_SIM && a->size != b->size)
		return true;	/* the kernel's device has its own size */
	if (a->tcmu.create != b->tcmu.create || !str_eq(a->tcmu.fabric, b->tcmu.fabric) ||
	    !str_eq(a->tcmu.wwn, b->tcmu.wwn) || !str_eq(a->tcmu.iqn, b->tcmu.iqn) ||
	    !str_eq(a->tcmu.portal, b->tcmu.portal) || a->tcmu.hw_max_sectors != b->tcmu.hw_max_sectors ||
	    a->tcmu.cmd_time_out != b->tcmu.cmd_time_out || a->tcmu.max_data_area != b->tcmu.max_data_area)
		return true;
	if (!str_eq(a->xen.p_dev, b->xen.p_dev) || !str_eq(a->xen.backend_type, b->xen.backend_type))
		return true;
	return false;
}

static void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		lunar_gen_destroy(p->steps[i].gen);
		if (p->steps[i].lun)
			lunar_lun_destroy(p->steps[i].lun);
	}
	free(p->steps);
	lunar_buf_free(&p->report);
	lunar_config_free(p->cfg);
	free(p);
}

/* Reload thread: the new config, diffed, with every new generation built. */
static struct plan *prepare(struct lunar_reload *r)
{
	struct lunar_daemon *d = r->d;
	struct lunar_diag diag = { 0 };
	struct plan *p = calloc(1, sizeof(*p));
	size_t cap;

	if (!p)
		return NULL;
	if (lunar_config_load(d->cfg->path, &p->cfg, &diag) < 0) {
		lunar_buf_printf(&p->report, "the configuration has errors, nothing changed:\n%s",
				 diag.text.data ? diag.text.data : "");
		lunar_buf_free(&diag.text);
		p->failures++;
		return p;
	}
	pthread_rwlock_rdlock(&d->lock);
	cap = p->cfg->nluns + d->nluns;
	p->steps = calloc(cap ? cap : 1, sizeof(*p->steps));
	for (size_t i = 0; p->steps && i < p->cfg->nluns; i++) {
		const struct lunar_lun_config *nc = &p->cfg->luns[i];
		struct lunar_lun *old = lunar_daemon_find(d, nc->name);
		struct step *s = &p->steps[p->n++];

		s->cfg = nc;
		s->old = old;
		s->act = !old ? ACT_ADD : needs_restart(&old->cfg, nc) ? ACT_REPLACE : ACT_UPDATE;
		if (old)
			lunar_lun_ref(old);
	}
	for (size_t i = 0; p->steps && i < d->nluns; i++) {
		bool kept = false;

		for (size_t k = 0; k < p->cfg->nluns; k++)
			kept |= !strcmp(p->cfg->luns[k].name, d->luns[i]->cfg.name);
		if (!kept) {
			p->steps[p->n].act = ACT_REMOVE;
			p->steps[p->n].old = d->luns[i];
			lunar_lun_ref(d->luns[i]);
			p->n++;
		}
	}
	pthread_rwlock_unlock(&d->lock);
	if (!p->steps) {
		lunar_buf_puts(&p->report, "out of memory\n");
		p->failures++;
		return p;
	}
	/* building (may take long: open() of every handler) with no lock held */
	for (size_t i = 0; i < p->n; i++) {
		struct step *s = &p->steps[i];

		if (s->act == ACT_REMOVE)
			continue;
		if (s->act == ACT_UPDATE) {
			/* built at the size the initiator knows; the new size then
			 * comes as a resize (CAPACITY DATA HAS CHANGED) */
			s->build = *s->cfg;
			s->build.size = s->old->cfg.size;
			s->gen = build(r, s->old, &s->build, s->cfg->args, s->err, sizeof(s->err));
			continue;
		}
		s->lun = lunar_lun_create(s->cfg, s->cfg->args);
		if (!s->lun) {
			snprintf(s->err, sizeof(s->err), "cannot create the LUN (out of memory, or too many LUNs)");
			continue;
		}
		s->gen = build(r, s->lun, s->cfg, s->cfg->args, s->err, sizeof(s->err));
	}
	return p;
}

/* ---- the main thread applies a plan ------------------------------------------------------- */

static void remove_lun(struct lunar_daemon *d, struct lunar_lun *lun)
{
	const struct lunar_transport_ops *t = lunar_transport_get(lun->cfg.transport);

	for (size_t i = 0; i < d->nluns; i++) {
		if (d->luns[i] != lun)
			continue;
		d->luns[i] = d->luns[--d->nluns];
		break;
	}
	if (t && t->remove)
		t->remove(d, lun);
	lunar_lun_detach(lun);
	lunar_gen_destroy(lun->gen);
	lun->gen = NULL;
	lunar_lun_destroy(lun);
}

static bool can_add(const struct lunar_lun_config *c, char *err, size_t errlen)
{
	const struct lunar_transport_ops *t = lunar_transport_get(c->transport);

	if (t && t->add && t->remove)
		return true;
	snprintf(err, errlen, "the %s transport cannot add or remove LUNs while running: restart lunar",
		 lunar_transport_name(c->transport));
	return false;
}

static bool add_lun(struct lunar_daemon *d, struct step *s)
{
	const struct lunar_transport_ops *t = lunar_transport_get(s->cfg->transport);
	struct lunar_lun *lun = s->lun;
	char err[512];

	lun->gen = s->gen;
	s->gen = NULL;
	s->lun = NULL;
	if (lun->gen) {
		lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "%s", "");
	} else {
		lun->handler_failed = true;
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "handler did not load: %.200s", s->err);
	}
	d->luns[d->nluns++] = lun;
	if (t->add(d, lun, err, sizeof(err)) < 0) {
		lun_err(lun->cfg.name, "%s", err);
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "%.240s", err);
		return false;
	}
	return lun->gen != NULL;
}

static void apply(struct lunar_reload *r, struct plan *p)
{
	struct lunar_daemon *d = r->d;
	struct lunar_config *old_cfg;
	struct lunar_lun **grown;
	size_t want = d->nluns + p->n;

	if (!p->cfg)
		return;
	pthread_rwlock_wrlock(&d->lock);
	grown = realloc(d->luns, (want ? want : 1) * sizeof(*grown));
	if (!grown) {
		pthread_rwlock_unlock(&d->lock);
		lunar_buf_puts(&p->report, "out of memory: nothing changed\n");
		p->failures++;
		return;
	}
	d->luns = grown;
	for (size_t i = 0; i < p->n; i++) {
		struct step *s = &p->steps[i];
		char name[80], err[512] = "";

		/* a copy: removing the LUN frees its own */
		snprintf(name, sizeof(name), "%s", s->cfg ? s->cfg->name : s->old->cfg.name);

		if (s->old)
			lunar_lun_put(s->old);
		switch (s->act) {
		case ACT_REMOVE:
			if (!can_add(&s->old->cfg, err, sizeof(err)))
				break;
			remove_lun(d, s->old);
			s->old = NULL;
			lunar_buf_printf(&p->report, "%s: removed\n", name);
			lun_info(name, "removed (config reload)");
			continue;
		case ACT_ADD:
		case ACT_REPLACE:
			if (!s->lun)
				break;
			if (!can_add(s->cfg, err, sizeof(err)) ||
			    (s->old && !can_add(&s->old->cfg, err, sizeof(err))))
				break;
			if (s->act == ACT_REPLACE && !s->gen) {
				snprintf(err, sizeof(err), "%s", s->err);
				break;	/* the old LUN keeps serving */
			}
			if (s->old)
				remove_lun(d, s->old);
			s->old = NULL;
			if (add_lun(d, s)) {
				lunar_buf_printf(&p->report, "%s: %s\n", name,
						 s->act == ACT_ADD ? "added" : "restarted with its new settings");
				lun_info(name,
					 "%s (config reload)", s->act == ACT_ADD ? "added" : "restarted");
				watch_lun(r, d->luns[d->nluns - 1], d->luns[d->nluns - 1]->gen);
			} else {
				lunar_buf_printf(&p->report, "%s: added, but failed: %s\n", name, s->err);
				p->failures++;
			}
			continue;
		case ACT_UPDATE: {
			struct lunar_lun *lun = s->old;
			uint64_t old_size = lun->cfg.size;

			s->old = NULL;
			if (!s->gen) {
				snprintf(err, sizeof(err), "%s", s->err);
				outcome(lun, false, "config reload", err);
				break;
			}
			/* what the next generations are built from */
			free(lun->cfg.handler);
			lun->cfg.handler = strdup(s->cfg->handler);
			lun->handler = lun->cfg.handler;
			lun->cfg.lua_memory_limit = s->cfg->lua_memory_limit;
			lun->cfg.reload_on_change = s->cfg->reload_on_change;
			__atomic_store_n(&lun->cfg.deadline_ns, s->cfg->deadline_ns, __ATOMIC_RELAXED);
			if (!str_eq(lun->cfg.worker, s->cfg->worker)) {
				/* to its new worker; what waits in the ring waits */
				bool attached = lun->worker != NULL;

				if (attached)
					lunar_worker_stop(lun);
				free(lun->cfg.worker);
				lun->cfg.worker = s->cfg->worker ? strdup(s->cfg->worker) : NULL;
				if (attached && lunar_worker_start(lun) < 0)
					lunar_lun_set_state(lun, LUNAR_LUN_FAILED,
							    "cannot start its worker");
			}
			outcome(lun, true, "config reload", NULL);
			watch_lun(r, lun, s->gen);
			lunar_lun_set_next_gen(lun, s->gen);
			s->gen = NULL;
			if (s->cfg->size != old_size) {
				struct lunar_lun_device dev = { .size = s->cfg->size, .write_cache = -1 };

				lunar_lun_set_device(lun, &dev);
				lunar_buf_printf(&p->report, "%s: reloaded, now %llu bytes\n", name,
						 (unsigned long long)s->cfg->size);
			} else {
				lunar_buf_printf(&p->report, "%s: reloaded\n", name);
			}
			continue;
		}
		}
		lunar_buf_printf(&p->report, "%s: not changed: %s\n", name, err);
		lun_err(name, "config reload: not changed: %s", err);
		p->failures++;
	}
	/*
	 * The new config is the daemon's now.  Every LUN takes its args and
	 * filters from it (they only matter for generations built later), so
	 * the old one can go.
	 */
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *lun = d->luns[i];

		lun->args = NULL;
		lun->cfg.filters = NULL;
		for (size_t k = 0; k < p->cfg->nluns; k++) {
			if (strcmp(p->cfg->luns[k].name, lun->cfg.name))
				continue;
			lun->args = p->cfg->luns[k].args;
			lun->cfg.filters = p->cfg->luns[k].filters;
		}
	}
	old_cfg = d->cfg;
	d->cfg = p->cfg;
	r->timeout_ms = (int)(d->cfg->reload_timeout_ns / 1000000u);
	p->cfg = old_cfg;	/* freed with the plan */
	pthread_rwlock_unlock(&d->lock);
}

/* ---- the thread ---------------------------------------------------------------------------- */

static void run_job(struct lunar_reload *r, struct job *j)
{
	struct lunar_buf report = { 0 };
	int failures = 0;

	if (j->lun) {
		reload_lun(r, j->lun, j->why, &report, &failures);
	} else {
		struct plan *p;

		lunar_notify("RELOADING=1");
		p = prepare(r);

		if (!p) {
			lunar_notify("READY=1");
			finish_wait(j->w, false, "out of memory");
			return;
		}
		if (p->cfg) {
			/* to the main thread, and wait for it */
			uint64_t one = 1;

			pthread_mutex_lock(&r->lock);
			r->ready = p;
			r->applied = false;
			pthread_mutex_unlock(&r->lock);
			if (write(r->apply_fd, &one, sizeof(one)) < 0)
				log_err("reload: cannot reach the main thread");
			pthread_mutex_lock(&r->lock);
			while (!r->applied && !r->stop)
				pthread_cond_wait(&r->cond, &r->lock);
			r->ready = NULL;
			pthread_mutex_unlock(&r->lock);
		}
		lunar_buf_add(&report, p->report.data ? p->report.data : "", p->report.len);
		failures = p->failures;
		lunar_notify("READY=1");
		if (!failures)
			log_info("configuration reloaded (%s)", j->why);
		else
			log_err("configuration reload (%s): %d problem%s", j->why, failures,
				failures == 1 ? "" : "s");
		plan_free(p);
	}
	finish_wait(j->w, failures == 0, report.data ? report.data : "");
	lunar_buf_free(&report);
}

static void *reload_main(void *arg)
{
	struct lunar_reload *r = arg;

	pthread_setname_np(pthread_self(), "lunar/reload");
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&r->lock);
		while (!r->head && !r->stop) {
			struct timespec ts;

			/* inotify is read here, between jobs, every 200 ms: a
			 * save in an editor is several events, one reload */
			pthread_mutex_unlock(&r->lock);
			if (r->inotify_fd >= 0) {
				struct pollfd p = { .fd = r->inotify_fd, .events = POLLIN };

				if (poll(&p, 1, 200) > 0) {
					usleep(100000);
					on_change(r);
				}
			}
			pthread_mutex_lock(&r->lock);
			if (r->head || r->stop)
				break;
			if (r->inotify_fd < 0) {
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 1;
				pthread_cond_timedwait(&r->cond, &r->lock, &ts);
			}
		}
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		j = r->head;
		r->head = j->next;
		if (!r->head)
			r->tail = NULL;
		pthread_mutex_unlock(&r->lock);
		run_job(r, j);
		free(j->lun);
		free(j);
	}
	/* answer whoever still waits */
	while (r->head) {
		struct job *j = r->head;

		r->head = j->next;
		finish_wait(j->w, false, "lunar is shutting down");
		free(j->lun);
		free(j);
	}
	return NULL;
}

struct lunar_reload *lunar_reload_start(struct lunar_daemon *d)
{
	struct lunar_reload *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->d = d;
	r->timeout_ms = (int)(d->cfg->reload_timeout_ns / 1000000u);
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->wlock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->apply_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (r->inotify_fd < 0)
		log_warn("reload: no inotify (%s): reload: on-change does nothing", strerror(errno));
	for (size_t i = 0; i < d->nluns; i++)
		watch_lun(r, d->luns[i], d->luns[i]->gen);
	if (r->apply_fd < 0 || pthread_create(&r->thread, NULL, reload_main, r) != 0) {
		log_err("reload: cannot start: %s", strerror(errno));
		if (r->apply_fd >= 0)
			close(r->apply_fd);
		if (r->inotify_fd >= 0)
			close(r->inotify_fd);
		free(r);
		return NULL;
	}
	return r;
}

int lunar_reload_fd(struct lunar_reload *r)
{
	return r->apply_fd;
}

void lunar_reload_apply(struct lunar_reload *r)
{
	uint64_t v;
	struct plan *p;

	if (read(r->apply_fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&r->lock);
	p = r->ready;
	pthread_mutex_unlock(&r->lock);
	if (p)
		apply(r, p);
	pthread_mutex_lock(&r->lock);
	r->applied = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void lunar_reload_stop(struct lunar_reload *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	close(r->apply_fd);
	if (r->inotify_fd >= 0)
		close(r->inotify_fd);
	for (size_t i = 0; i < r->nwatch; i++)
		free(r->watch[i].dir);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].lun);
	}
	free(r->files);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->wlock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
