/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "lun.h"
#include "worker.h"

/*
 * A worker is a thread and the LUNs it serves: one LUN by default, or all
 * the LUNs whose YAML names the same `worker:`.  Its epoll set holds each
 * member's port, wake and timer fds, tagged with the member's pointer in
 * the upper bits and the kind in the low three (a lunar_lun is aligned
 * far beyond 8).  Only the thread touches the members' rings and Lua
 * states; membership changes are asked of it and done between events, so
 * it never holds a pointer to a LUN that has left.
 */
enum { EV_PORT = 1, EV_TIMER = 2, EV_WAKE = 3, EV_STOP = 4, EV_CTL = 5 };
#define EV_KIND(u) ((unsigned)((u) & 7u))
#define EV_LUN(u) ((struct lunar_lun *)(uintptr_t)((u) & ~(uint64_t)7))

struct lunar_worker {
	char name[72];
	bool shared;			/* named in the YAML: other LUNs may join */
	int epfd, stop_fd, ctl_fd;
	pthread_t thread;
	_Atomic pid_t tid;		/* for the scheduler, when it wedges */
	bool running;
	pthread_mutex_t lock;		/* thread, running, members, leaving */
	pthread_cond_t left;
	struct lunar_lun **members;
	size_t n;
	struct lunar_lun *leaving;	/* asked to leave; NULL once it has */
	struct lunar_worker *next;
};

static pthread_mutex_t workers_lock = PTHREAD_MUTEX_INITIALIZER;	/* the list */
static struct lunar_worker *workers;

/* Arms the timer for the earliest tick the handler asked for. */
static void arm(struct lunar_lun *lun)
{
	struct itimerspec its = { 0 };

	if (lun->wake_ns == lun->armed_ns)
		return;
	its.it_value.tv_sec = (time_t)(lun->wake_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(lun->wake_ns % 1000000000u);
	if (timerfd_settime(lun->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		lun_err(lun->cfg.name, "timerfd_settime: %s", strerror(errno));
	lun->armed_ns = lun->wake_ns;
}

static int watch(struct lunar_worker *w, int op, int fd, struct lunar_lun *lun, unsigned kind)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)lun | kind };

	return epoll_ctl(w->epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &ev);
}

/* A dead port (e.g. a uio device that went away) stays readable. */
static void run(struct lunar_worker *w, struct lunar_lun *lun)
{
	if (lunar_lun_run(lun) < 0)
		watch(w, EPOLL_CTL_DEL, lun->port->ops->fd(lun->port), NULL, 0);
}

static void unwatch_lun(struct lunar_worker *w, struct lunar_lun *lun)
{
	watch(w, EPOLL_CTL_DEL, lun->port->ops->fd(lun->port), NULL, 0);
	watch(w, EPOLL_CTL_DEL, lun->wake_fd, NULL, 0);
	watch(w, EPOLL_CTL_DEL, lun->timer_fd, NULL, 0);
}

/* In the thread: lets the member asked to leave go. */
static void let_go(struct lunar_worker *w)
{
	uint64_t v;

	if (read(w->ctl_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err("worker %s: eventfd: %s", w->name, strerror(errno));
	pthread_mutex_lock(&w->lock);
	if (w->leaving) {
		for (size_t i = 0; i < w->n; i++) {
			if (w->members[i] != w->leaving)
				continue;
			w->members[i] = w->members[--w->n];
			break;
		}
		unwatch_lun(w, w->leaving);
		w->leaving = NULL;
		pthread_cond_broadcast(&w->left);
	}
	pthread_mutex_unlock(&w->lock);
}

static void serve(struct lunar_worker *w, struct lunar_lun *lun, unsigned kind)
{
	uint64_t v;

	switch (kind) {
	case EV_TIMER:
		if (read(lun->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			lun_err(lun->cfg.name, "timerfd: %s", strerror(errno));
		/* one tick per request: the handler asks again if it still
		 * has work at a later time */
		lun->wake_ns = lun->armed_ns = 0;
		lunar_lun_tick(lun);
		break;
	case EV_WAKE:
		if (read(lun->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			lun_err(lun->cfg.name, "eventfd: %s", strerror(errno));
		run(w, lun);
		break;
	default:
		run(w, lun);
	}
	arm(lun);
}

static void *worker_main(void *arg)
{
	struct lunar_worker *w = arg;
	char name[16];

	/* the kernel keeps 15 characters of a thread's name */
	memcpy(name, "lunar/", 6);
	memcpy(name + 6, w->name, strnlen(w->name, sizeof(name) - 7));
	name[6 + strnlen(w->name, sizeof(name) - 7)] = 0;
	pthread_setname_np(pthread_self(), name);
	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	/* whatever arrived before we were started (or while the thread we
	 * replace was stuck): through the loop, never under the lock, so a
	 * handler stuck here can still be replaced */
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n; i++)
		lunar_worker_wake(w->members[i]);
	pthread_mutex_unlock(&w->lock);
	for (;;) {
		struct epoll_event ev[16];
		bool ctl = false;
		int n = epoll_wait(w->epfd, ev, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("worker %s: epoll_wait: %s", w->name, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (EV_KIND(ev[i].data.u64) == EV_STOP)
				return NULL;
			ctl |= EV_KIND(ev[i].data.u64) == EV_CTL;
		}
		if (ctl) {
			/* the rest of ev[] may name a LUN that is gone: poll again */
			let_go(w);
			continue;
		}
		for (int i = 0; i < n; i++)
			serve(w, EV_LUN(ev[i].data.u64), EV_KIND(ev[i].data.u64));
	}
	return NULL;
}

static void worker_free(struct lunar_worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->left);
	free(w->members);
	free(w);
}

static struct lunar_worker *worker_new(const char *name, bool shared)
{
	struct lunar_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->shared = shared;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->left, NULL);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd < 0 || w->stop_fd < 0 || w->ctl_fd < 0 ||
	    watch(w, EPOLL_CTL_ADD, w->stop_fd, NULL, EV_STOP) < 0 ||
	    watch(w, EPOLL_CTL_ADD, w->ctl_fd, NULL, EV_CTL) < 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

static void unlist(struct lunar_worker *w)
{
	for (struct lunar_worker **pp = &workers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

/* Makes lun a member of w; its wake/timer fds are open. */
static int join(struct lunar_worker *w, struct lunar_lun *lun)
{
	struct lunar_lun **m;

	pthread_mutex_lock(&w->lock);
	m = realloc(w->members, (w->n + 1) * sizeof(*m));
	if (m)
		w->members = m;
	if (!m || watch(w, EPOLL_CTL_ADD, lun->wake_fd, lun, EV_WAKE) < 0 ||
	    watch(w, EPOLL_CTL_ADD, lun->timer_fd, lun, EV_TIMER) < 0 ||
	    watch(w, EPOLL_CTL_ADD, lun->port->ops->fd(lun->port), lun, EV_PORT) < 0) {
		unwatch_lun(w, lun);
		pthread_mutex_unlock(&w->lock);
		return -1;
	}
	w->members[w->n++] = lun;
	lun->worker = w;
	lun->thread_started = w->running;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int lunar_worker_start(struct lunar_lun *lun)
{
	struct lunar_worker *w = NULL;

	lun->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	lun->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	/* a tick asked for in open() (before there was a worker) stays */
	lun->armed_ns = 0;
	if (lun->wake_fd < 0 || lun->timer_fd < 0)
		goto fail;
	pthread_mutex_lock(&workers_lock);
	for (w = lun->cfg.worker ? workers : NULL; w; w = w->next)
		if (w->shared && !strcmp(w->name, lun->cfg.worker))
			break;
	if (w) {
		/* a running thread: it takes what waits in the ring at once */
		if (join(w, lun) < 0) {
			pthread_mutex_unlock(&workers_lock);
			goto fail;
		}
		pthread_mutex_unlock(&workers_lock);
		lunar_worker_wake(lun);
		return 0;
	}
	w = worker_new(lun->cfg.worker ? lun->cfg.worker : lun->cfg.name, lun->cfg.worker != NULL);
	if (!w || join(w, lun) < 0) {
		pthread_mutex_unlock(&workers_lock);
		goto fail_free;
	}
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		pthread_mutex_unlock(&workers_lock);
		goto fail_free;
	}
	w->running = true;
	lun->thread_started = true;
	w->next = workers;
	workers = w;
	pthread_mutex_unlock(&workers_lock);
	return 0;
fail_free:
	if (w)
		worker_free(w);
	lun->worker = NULL;
fail:
	lun_err(lun->cfg.name, "cannot start its worker: %s", strerror(errno));
	lunar_worker_stop(lun);
	return -1;
}

void lunar_worker_replace(struct lunar_lun *lun)
{
	struct sched_param idle = { .sched_priority = 0 };
	struct lunar_worker *w = lun->worker;
	struct lunar_lua_watch *lw;
	pid_t tid;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	if (!w->running) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	/* the new thread's Lua calls are timed on a word of their own */
	lw = calloc(1, sizeof(*lw));
	if (lw) {
		lw->next = lun->watches;
		lun->watches = lw;
		atomic_store(&lun->watch, lw);
	}
	atomic_fetch_add(&lun->zombies, 1);
	/*
	 * A handler in an endless loop keeps a CPU busy until the process
	 * ends: SCHED_IDLE leaves that CPU to every other thread (other
	 * LUNs' workers above all) and lets the loop have only what is left.
	 */
	tid = atomic_load(&w->tid);
	if (tid > 0 && sched_setscheduler(tid, SCHED_IDLE, &idle) < 0)
		lun_warn(lun->cfg.name, "cannot lower the wedged thread's priority: %s",
			 strerror(errno));
	/* the stuck thread touches nothing any more (its next step, leave(),
	 * exits): its generation is set aside */
	lun->wedged = lun->gen;
	lun->gen = NULL;
	lun->recover = true;
	atomic_store(&lun->recovering, true);
	pthread_detach(w->thread);
	if (!lw || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		lun_err(lun->cfg.name, "cannot start a worker to replace the wedged one: %s stops",
			w->n > 1 ? "every LUN of its worker" : "the LUN");
		w->running = false;
		for (size_t i = 0; i < w->n; i++)
			w->members[i]->thread_started = false;
	}
	pthread_mutex_unlock(&w->lock);
}

void lunar_worker_stop(struct lunar_lun *lun)
{
	struct lunar_worker *w = lun->worker;
	uint64_t one = 1;
	bool last;

	if (w) {
		pthread_mutex_lock(&w->lock);
		if (w->running && w->n > 1) {
			/* the thread serves others: it lets this one go between
			 * events (a stuck thread is replaced first) */
			w->leaving = lun;
			if (write(w->ctl_fd, &one, sizeof(one)) < 0)
				lun_err(lun->cfg.name, "cannot reach its worker");
			while (w->leaving == lun && w->running)
				pthread_cond_wait(&w->left, &w->lock);
			pthread_mutex_unlock(&w->lock);
		} else {
			for (size_t i = 0; i < w->n; i++) {
				if (w->members[i] == lun) {
					w->members[i] = w->members[--w->n];
					break;
				}
			}
			unwatch_lun(w, lun);
			last = w->n == 0;
			pthread_mutex_unlock(&w->lock);
			if (last) {
				/* the LUN is torn down after this: its thread must be
				 * gone, not just told */
				if (w->running) {
					if (write(w->stop_fd, &one, sizeof(one)) < 0)
						lun_err(lun->cfg.name, "cannot stop its worker");
					pthread_join(w->thread, NULL);
				}
				pthread_mutex_lock(&workers_lock);
				unlist(w);
				pthread_mutex_unlock(&workers_lock);
				worker_free(w);
			}
		}
		lun->worker = NULL;
	}
	lun->thread_started = false;
	if (lun->wake_fd >= 0)
		close(lun->wake_fd);
	if (lun->timer_fd >= 0)
		close(lun->timer_fd);
	lun->wake_fd = lun->timer_fd = -1;
}

void lunar_worker_wake(struct lunar_lun *lun)
{
	uint64_t one = 1;

	if (lun->wake_fd >= 0 && write(lun->wake_fd, &one, sizeof(one)) < 0)
		lun_err(lun->cfg.name, "cannot wake its worker: %s", strerror(errno));
}
