/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
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

enum { EV_PORT = 1, EV_STOP = 2, EV_TIMER = 3, EV_WAKE = 4 };

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

static void *worker_main(void *arg)
{
	struct lunar_lun *lun = arg;
	char name[16];

	snprintf(name, sizeof(name), "lunar/%s", lun->cfg.name);
	pthread_setname_np(pthread_self(), name);
	atomic_store(&lun->thread_tid, (pid_t)syscall(SYS_gettid));
	/* whatever arrived before we were started */
	if (lunar_lun_run(lun) < 0)
		epoll_ctl(lun->epfd, EPOLL_CTL_DEL, lun->port->ops->fd(lun->port), NULL);
	for (;;) {
		struct epoll_event ev[4];
		int n;

		arm(lun);
		n = epoll_wait(lun->epfd, ev, 4, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lun_err(lun->cfg.name, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t v;

			switch (ev[i].data.u32) {
			case EV_STOP:
				return NULL;
			case EV_TIMER:
				if (read(lun->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					lun_err(lun->cfg.name, "timerfd: %s", strerror(errno));
				/* one tick per request: the handler asks again if it
				 * still has work at a later time */
				lun->wake_ns = lun->armed_ns = 0;
				lunar_lun_tick(lun);
				break;
			case EV_WAKE:
				if (read(lun->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					lun_err(lun->cfg.name, "eventfd: %s", strerror(errno));
				lunar_lun_run(lun);
				break;
			default:
				/* a dead port (e.g. a uio device that went away)
				 * stays readable: stop polling it */
				if (lunar_lun_run(lun) < 0)
					epoll_ctl(lun->epfd, EPOLL_CTL_DEL,
						  lun->port->ops->fd(lun->port), NULL);
			}
		}
	}
	return NULL;
}

int lunar_worker_start(struct lunar_lun *lun)
{
	struct epoll_event ev = { .events = EPOLLIN };

	lun->epfd = epoll_create1(EPOLL_CLOEXEC);
	lun->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	lun->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	lun->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	/* a tick asked for in open() (before there was a worker) stays */
	lun->armed_ns = 0;
	if (lun->epfd < 0 || lun->stop_fd < 0 || lun->wake_fd < 0 || lun->timer_fd < 0)
		goto fail;
	ev.data.u32 = EV_WAKE;
	if (epoll_ctl(lun->epfd, EPOLL_CTL_ADD, lun->wake_fd, &ev) < 0)
		goto fail;
	ev.data.u32 = EV_STOP;
	if (epoll_ctl(lun->epfd, EPOLL_CTL_ADD, lun->stop_fd, &ev) < 0)
		goto fail;
	ev.data.u32 = EV_TIMER;
	if (epoll_ctl(lun->epfd, EPOLL_CTL_ADD, lun->timer_fd, &ev) < 0)
		goto fail;
	ev.data.u32 = EV_PORT;
	if (epoll_ctl(lun->epfd, EPOLL_CTL_ADD, lun->port->ops->fd(lun->port), &ev) < 0)
		goto fail;
	if (pthread_create(&lun->thread, NULL, worker_main, lun) != 0)
		goto fail;
	lun->thread_started = true;
	return 0;
fail:
	lun_err(lun->cfg.name, "cannot start its worker: %s", strerror(errno));
	lunar_worker_stop(lun);
	return -1;
}

void lunar_worker_replace(struct lunar_lun *lun)
{
	struct sched_param idle = { .sched_priority = 0 };
	struct lunar_lua_watch *w;
	pid_t tid;

	pthread_mutex_lock(&lun->worker_lock);
	if (!lun->thread_started) {
		pthread_mutex_unlock(&lun->worker_lock);
		return;
	}
	/* the new thread's Lua calls are timed on a word of their own */
	w = calloc(1, sizeof(*w));
	if (w) {
		w->next = lun->watches;
		lun->watches = w;
		atomic_store(&lun->watch, w);
	}
	atomic_fetch_add(&lun->zombies, 1);
	/*
	 * A handler in an endless loop keeps a CPU busy until the process
	 * ends: SCHED_IDLE leaves that CPU to every other thread (other
	 * LUNs' workers above all) and lets the loop have only what is left.
	 */
	tid = atomic_load(&lun->thread_tid);
	if (tid > 0 && sched_setscheduler(tid, SCHED_IDLE, &idle) < 0)
		lun_warn(lun->cfg.name, "cannot lower the wedged thread's priority: %s",
			 strerror(errno));
	/* the stuck thread touches nothing of the LUN any more (its next
	 * step, leave(), exits): its generation is set aside */
	lun->wedged = lun->gen;
	lun->gen = NULL;
	lun->recover = true;
	atomic_store(&lun->recovering, true);
	pthread_detach(lun->thread);
	if (!w || pthread_create(&lun->thread, NULL, worker_main, lun) != 0) {
		lun_err(lun->cfg.name,
			"cannot start a worker to replace the wedged one: the LUN stops");
		lun->thread_started = false;
	}
	pthread_mutex_unlock(&lun->worker_lock);
}

void lunar_worker_stop(struct lunar_lun *lun)
{
	uint64_t one = 1;

	pthread_mutex_lock(&lun->worker_lock);
	if (lun->thread_started) {
		if (write(lun->stop_fd, &one, sizeof(one)) < 0)
			lun_err(lun->cfg.name, "cannot stop its worker");
		pthread_join(lun->thread, NULL);
		lun->thread_started = false;
	}
	pthread_mutex_unlock(&lun->worker_lock);
	if (lun->epfd >= 0)
		close(lun->epfd);
	if (lun->stop_fd >= 0)
		close(lun->stop_fd);
	if (lun->wake_fd >= 0)
		close(lun->wake_fd);
	if (lun->timer_fd >= 0)
		close(lun->timer_fd);
	lun->epfd = lun->stop_fd = lun->wake_fd = lun->timer_fd = -1;
}

void lunar_worker_wake(struct lunar_lun *lun)
{
	uint64_t one = 1;

	if (lun->wake_fd >= 0 && write(lun->wake_fd, &one, sizeof(one)) < 0)
		lun_err(lun->cfg.name, "cannot wake its worker: %s", strerror(errno));
}
