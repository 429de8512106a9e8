/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "lun.h"
#include "sim/sim.h"
#include "sim/transport.h"
#include "tcmu/port.h"
#include "tcmu/tcmu_abi.h"
#include "transports.h"

/*
 * The sim transport: each sim LUN gets its own in-process TCMU ring at
 * start, served by the same port code as a kernel uio device.  The
 * initiator side is lunarctl cdb (and tests, labs, the benchmark).
 */

static int sim_ack(void *ctx)
{
	uint64_t v;

	if (read(lunar_sim_fd(ctx), &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new; the ring is read anyway */
	}
	return 0;
}

static void sim_kick(void *ctx)
{
	lunar_sim_kick(ctx);
}

static void sim_free_kept(void *ctx, uint16_t cmd_id)
{
	lunar_sim_free_kept(ctx, cmd_id);
}

static const struct lunar_tcmu_notify sim_notify = {
	.ack = sim_ack,
	.kick = sim_kick,
	.free_kept = sim_free_kept,
};

int lunar_sim_transport_open(struct lunar_lun *lun, char *err, size_t errlen)
{
	struct lunar_sim_params p = { 0 };

	if (lun->cfg.sim.ring_size)
		p.cmdr_size = (uint32_t)(lun->cfg.sim.ring_size - LUNAR_TCMU_CMDR_OFF);
	p.data_size = lun->cfg.sim.data_size;
	return lunar_sim_transport_open_with(lun, &p, err, errlen);
}

int lunar_sim_transport_open_with(struct lunar_lun *lun, const struct lunar_sim_params *p,
				  char *err, size_t errlen)
{
	struct lunar_sim *sim;
	uint64_t size;
	void *map;

	sim = lunar_sim_create(p, err, errlen);
	if (!sim)
		return -1;
	map = lunar_sim_map(sim, &size);
	lun->port = lunar_tcmu_port_create(lun, map, size, lunar_sim_fd(sim), &sim_notify, sim, err,
					   errlen);
	if (!lun->port) {
		lunar_sim_destroy(sim);
		return -1;
	}
	lun->transport = sim;
	return 0;
}

void lunar_sim_transport_close(struct lunar_lun *lun)
{
	if (lun->port)
		lun->port->ops->destroy(lun->port);
	lun->port = NULL;
	lunar_sim_destroy(lun->transport);
	lun->transport = NULL;
}

struct lunar_sim *lunar_sim_of(struct lunar_lun *lun)
{
	return lun->cfg.transport == LUNAR_TRANSPORT_SIM ? lun->transport : NULL;
}

/* ---- as a transport ------------------------------------------------------------- */

static int sim_start(struct lunar_daemon *d, char *err, size_t errlen)
{
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *lun = d->luns[i];
		char why[256];

		if (lun->cfg.transport != LUNAR_TRANSPORT_SIM)
			continue;
		if (lunar_sim_transport_open(lun, why, sizeof(why)) < 0 ||
		    lunar_lun_attach(lun, lun->port) < 0) {
			lun_err(lun->cfg.name, "%s", why);
			lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "sim: %s", why);
		}
	}
	return 0;
}

static int sim_add(struct lunar_daemon *d, struct lunar_lun *lun, char *err, size_t errlen)
{
	if (lunar_sim_transport_open(lun, err, errlen) < 0)
		return -1;
	if (lunar_lun_attach(lun, lun->port) < 0) {
		snprintf(err, errlen, "cannot start its worker");
		lunar_sim_transport_close(lun);
		return -1;
	}
	return 0;
}

static void sim_remove(struct lunar_daemon *d, struct lunar_lun *lun)
{
	lunar_lun_detach(lun);
	if (lun->transport) {
		/* whoever waits on it (lunarctl cdb) gets TASK ABORTED now */
		lunar_sim_cancel(lun->transport);
		lunar_sim_transport_close(lun);
	}
}

static int sim_fd(struct lunar_daemon *d)
{
	return -1;
}

static void sim_event(struct lunar_daemon *d)
{
}

static void sim_quiesce(struct lunar_daemon *d)
{
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *lun = d->luns[i];

		if (!lunar_sim_of(lun))
			continue;
		lunar_lun_detach(lun);
		/* what lunarctl still waits for: TASK ABORTED now */
		lunar_sim_cancel(lun->transport);
	}
}

static void sim_stop(struct lunar_daemon *d)
{
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *lun = d->luns[i];

		if (lunar_sim_of(lun))
			lunar_sim_transport_close(lun);
	}
}

static void sim_describe(struct lunar_lun *lun, char *buf, size_t len)
{
	struct lunar_sim *sim = lunar_sim_of(lun);
	uint32_t inflight = 0, queued = 0;

	if (!sim) {
		snprintf(buf, len, "%s", "");
		return;
	}
	lunar_sim_counts(sim, &inflight, &queued);
	snprintf(buf, len, "in-process ring, %u in flight, %u queued", inflight, queued);
}

const struct lunar_transport_ops lunar_sim_transport = {
	.name = "sim",
	.type = LUNAR_TRANSPORT_SIM,
	.start = sim_start,
	.fd = sim_fd,
	.event = sim_event,
	.quiesce = sim_quiesce,
	.stop = sim_stop,
	.add = sim_add,
	.remove = sim_remove,
	.describe = sim_describe,
};
