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
#include "sim/sim.h"
#include "sim/transport.h"
#include "worker.h"

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

static int open_transport(struct lunar_lun *lun, char *err, size_t errlen)
{
	switch (lun->cfg.transport) {
	case LUNAR_TRANSPORT_SIM:
		return lunar_sim_transport_open(lun, err, errlen);
	case LUNAR_TRANSPORT_TCMU:
	case LUNAR_TRANSPORT_XEN:
		snprintf(err, errlen, "transport %s is not built into this lunar yet",
			 lunar_transport_name(lun->cfg.transport));
		return -1;
	}
	return -1;
}

static void close_transport(struct lunar_lun *lun)
{
	switch (lun->cfg.transport) {
	case LUNAR_TRANSPORT_SIM:
		lunar_sim_transport_close(lun);
		break;
	default:
		if (lun->port)
			lun->port->ops->destroy(lun->port);
		lun->port = NULL;
	}
}

/* Creates, loads and starts one LUN.  A LUN whose handler does not load
 * still comes up (answering NOT READY) so the others keep serving and
 * `lunarctl status` can say what went wrong. */
static struct lunar_lun *start_lun(const struct lunar_lun_config *lc)
{
	struct lunar_lun *lun = lunar_lun_create(lc, lc->args);
	char err[1024];

	if (!lun) {
		log_err("%s: cannot create the LUN (out of memory or too many LUNs)", lc->name);
		return NULL;
	}
	if (open_transport(lun, err, sizeof(err)) < 0) {
		log_err("%s: %s", lc->name, err);
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "%s", err);
		return lun;
	}
	lun->gen = lunar_gen_create(lun, err, sizeof(err));
	if (!lun->gen) {
		log_err("%s: handler %s did not load: %s", lc->name, lc->handler, err);
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "handler did not load: %s", err);
	} else {
		lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "%s", "");
	}
	if (lunar_worker_start(lun) < 0)
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "no worker thread");
	log_info("%s: %s LUN, %llu bytes in %u-byte blocks, handler %s: %s", lc->name,
		 lunar_transport_name(lc->transport), (unsigned long long)lc->size, lc->block_size,
		 lc->handler, lunar_lun_state_name(atomic_load(&lun->state)));
	return lun;
}

static void stop_lun(struct lunar_lun *lun)
{
	lunar_worker_stop(lun);
	/* close() of the handler before the transport goes: it may flush */
	lunar_gen_destroy(lun->gen);
	lun->gen = NULL;
	close_transport(lun);
	lunar_lun_set_state(lun, LUNAR_LUN_STOPPED, "%s", "");
	lunar_lun_destroy(lun);
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
		struct lunar_lun *lun = start_lun(&d.cfg->luns[i]);

		if (lun)
			d.luns[d.nluns++] = lun;
	}
	ev.data.fd = sfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = d.ctl_fd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, d.ctl_fd, &ev);
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
			if (evs[i].data.fd == d.ctl_fd) {
				lunar_ctl_accept(&d, d.ctl_fd);
				continue;
			}
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				log_warn("SIGHUP: reload is not implemented yet; nothing changed");
				continue;
			}
			log_info("%s: shutting down", strsignal((int)si.ssi_signo));
			atomic_store(&d.stopping, true);
		}
	}
out:
	/*
	 * Shutdown order: no new requests; no more Lua; commands still held
	 * by a handler are cancelled, which releases control requests waiting
	 * on them; then the LUNs go.
	 */
	if (d.ctl_fd >= 0)
		lunar_ctl_close(&d);
	for (size_t i = 0; i < d.nluns; i++) {
		lunar_worker_stop(d.luns[i]);
		if (lunar_sim_of(d.luns[i]))
			lunar_sim_cancel(lunar_sim_of(d.luns[i]));
	}
	lunar_ctl_drain();
	pthread_rwlock_wrlock(&d.lock);
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
