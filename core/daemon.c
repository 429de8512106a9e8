/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "luavm.h"
#include "lun.h"
#include "metrics.h"
#include "notify.h"
#include "reload.h"
#include "transports.h"
#include "watchdog.h"

enum { EV_SIGNAL = 1, EV_CTL = 2, EV_RELOAD = 3 };	/* transports: 0x100 + type */

struct lunar_lun *lunar_daemon_find(struct lunar_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->nluns; i++)
		if (!strcmp(d->luns[i]->cfg.name, name))
			return d->luns[i];
	return NULL;
}

void lunar_daemon_keep(struct lunar_daemon *d, void *p)
{
	void **z;

	pthread_mutex_lock(&d->zlock);
	z = realloc(d->zombies, (d->nzombies + 1) * sizeof(*z));
	if (z) {
		d->zombies = z;
		d->zombies[d->nzombies++] = p;
	}
	/* on failure p leaks: still better than freeing memory the sim may
	 * write into */
	pthread_mutex_unlock(&d->zlock);
}

/* Creates the LUN and loads its handler.  A LUN whose handler does not
 * load still exists (answering NOT READY once attached) so the others keep
 * serving and `lunarctl status` can say what went wrong. */
static struct lunar_lun *create_lun(const struct lunar_lun_config *lc)
{
	struct lunar_lun *lun = lunar_lun_create(lc, lc->args);
	char err[1024];

	if (!lun) {
		lun_err(lc->name, "cannot create the LUN (out of memory or too many LUNs)");
		return NULL;
	}
	lun->gen = lunar_gen_create(lun, err, sizeof(err));
	if (!lun->gen) {
		lun_err(lc->name, "handler %s did not load: %s", lc->handler, err);
		lun->handler_failed = true;
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "handler did not load: %s", err);
	} else {
		lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "%s", "");
	}
	return lun;
}

static void stop_lun(struct lunar_lun *lun)
{
	/* the transports detached it already; this covers the failed ones */
	lunar_lun_detach(lun);
	lunar_gen_destroy(lun->gen);
	lun->gen = NULL;
	lunar_lun_set_state(lun, LUNAR_LUN_STOPPED, "%s", "");
	lunar_lun_destroy(lun);
}

static void fail_transport_luns(struct lunar_daemon *d, enum lunar_transport t, const char *why)
{
	for (size_t i = 0; i < d->nluns; i++) {
		if (d->luns[i]->cfg.transport != t)
			continue;
		lun_err(d->luns[i]->cfg.name, "%s", why);
		lunar_lun_set_state(d->luns[i], LUNAR_LUN_FAILED, "%s", why);
	}
}

/* Starts each transport some LUN uses; returns a bitmask of the started. */
static unsigned start_transports(struct lunar_daemon *d, int epfd)
{
	unsigned started = 0;

	for (int t = LUNAR_TRANSPORT_SIM; t <= LUNAR_TRANSPORT_XEN; t++) {
		const struct lunar_transport_ops *tr = lunar_transport_get(t);
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0x100u + (unsigned)t };
		bool used = false;
		char err[512];
		int fd;

		for (size_t i = 0; i < d->nluns; i++)
			used |= d->luns[i]->cfg.transport == (enum lunar_transport)t;
		if (!used)
			continue;
		if (!tr) {
			fail_transport_luns(d, t, "this lunar was built without the xen transport "
					    "(install libxen-dev and rebuild)");
			continue;
		}
		if (tr->start(d, err, sizeof(err)) < 0) {
			fail_transport_luns(d, t, err);
			continue;
		}
		started |= 1u << t;
		fd = tr->fd(d);
		if (fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			log_err("%s: cannot poll its fd: %s", tr->name, strerror(errno));
	}
	for (size_t i = 0; i < d->nluns; i++) {
		const struct lunar_lun_config *lc = &d->luns[i]->cfg;

		lun_info(lc->name, "%s LUN, %llu bytes in %u-byte blocks, handler %s: %s",
			 lunar_transport_name(lc->transport), (unsigned long long)lc->size,
			 lc->block_size, lc->handler,
			 lunar_lun_state_name(atomic_load(&d->luns[i]->state)));
	}
	return started;
}

static int print_diag(struct lunar_diag *d)
{
	if (d->text.data)
		fputs(d->text.data, stderr);
	lunar_buf_free(&d->text);
	return 1;
}

int lunar_daemon_run(const char *config_path, const char *ctl_path)
{
	struct lunar_daemon d = { .ctl_fd = -1 };
	struct lunar_diag diag = { 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask;
	char err[512];
	int sfd = -1, epfd = -1, rc = 1;
	unsigned started = 0;

	if (lunar_config_load(config_path, &d.cfg, &diag) < 0)
		return print_diag(&diag);
	pthread_rwlock_init(&d.lock, NULL);
	pthread_mutex_init(&d.zlock, NULL);
	d.ctl_path = ctl_path;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* blocked before any thread starts, so every thread inherits it */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0) {
		log_err("signalfd/epoll: %s", strerror(errno));
		goto out;
	}
	d.ctl_fd = lunar_ctl_listen(ctl_path, err, sizeof(err));
	if (d.ctl_fd < 0) {
		log_err("control socket %s: %s", ctl_path, err);
		goto out;
	}
	d.luns = calloc(d.cfg->nluns ? d.cfg->nluns : 1, sizeof(*d.luns));
	if (!d.luns)
		goto out;
	for (size_t i = 0; i < d.cfg->nluns; i++) {
		struct lunar_lun *lun = create_lun(&d.cfg->luns[i]);

		if (lun)
			d.luns[d.nluns++] = lun;
	}
	ev.data.u32 = EV_SIGNAL;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.u32 = EV_CTL;
	epoll_ctl(epfd, EPOLL_CTL_ADD, d.ctl_fd, &ev);
	started = start_transports(&d, epfd);
	d.reload = lunar_reload_start(&d);
	lunar_watchdog_start(&d);
	if (d.reload) {
		ev.data.u32 = EV_RELOAD;
		epoll_ctl(epfd, EPOLL_CTL_ADD, lunar_reload_fd(d.reload), &ev);
	}
	if (d.cfg->metrics_listen && lunar_metrics_start(&d, d.cfg->metrics_listen, err, sizeof(err)) < 0)
		log_err("metrics: %s (no metrics served)", err);
	lunar_notify("READY=1");
	log_info("serving %zu LUN%s from %s; control socket %s", d.nluns, d.nluns == 1 ? "" : "s",
		 config_path, ctl_path);
	rc = 0;
	while (!atomic_load(&d.stopping)) {
		struct epoll_event evs[8];
		int n = epoll_wait(epfd, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll_wait: %s", strerror(errno));
			rc = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == EV_CTL) {
				lunar_ctl_accept(&d, d.ctl_fd);
				continue;
			}
			if (evs[i].data.u32 == EV_RELOAD) {
				lunar_reload_apply(d.reload);
				continue;
			}
			if (evs[i].data.u32 >= 0x100) {
				lunar_transport_get(evs[i].data.u32 - 0x100)->event(&d);
				continue;
			}
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				log_info("SIGHUP: reloading %s and every handler", config_path);
				if (d.reload)
					lunar_reload_request(d.reload, NULL, "SIGHUP", NULL);
				continue;
			}
			log_info("%s: shutting down", strsignal((int)si.ssi_signo));
			atomic_store(&d.stopping, true);
		}
	}
out:
	lunar_notify("STOPPING=1");
	lunar_watchdog_stop();
	/* no reload may start applying while LUNs go away */
	lunar_reload_stop(d.reload);
	d.reload = NULL;
	lunar_metrics_stop();
	/*
	 * Shutdown order: no new requests; no more Lua and every command still
	 * held is cancelled (transports, phase one), which returns control
	 * requests waiting on them; then the devices and LUNs go.
	 */
	if (d.ctl_fd >= 0)
		lunar_ctl_close(&d);
	for (int t = LUNAR_TRANSPORT_SIM; t <= LUNAR_TRANSPORT_XEN; t++)
		if (started & (1u << t))
			lunar_transport_get(t)->quiesce(&d);
	lunar_ctl_drain();
	pthread_rwlock_wrlock(&d.lock);
	for (int t = LUNAR_TRANSPORT_SIM; t <= LUNAR_TRANSPORT_XEN; t++)
		if (started & (1u << t))
			lunar_transport_get(t)->stop(&d);
	for (size_t i = 0; i < d.nluns; i++)
		stop_lun(d.luns[i]);
	d.nluns = 0;
	pthread_rwlock_unlock(&d.lock);
	for (size_t i = 0; i < d.nzombies; i++)
		free(d.zombies[i]);
	free(d.zombies);
	free(d.luns);
	lunar_config_free(d.cfg);
	if (sfd >= 0)
		close(sfd);
	if (epfd >= 0)
		close(epfd);
	return rc;
}
