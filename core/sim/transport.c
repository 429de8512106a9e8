/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <unistd.h>

#include "lun.h"
#include "sim/sim.h"
#include "sim/transport.h"
#include "tcmu/port.h"
#include "tcmu/tcmu_abi.h"

static void sim_ack(void *ctx)
{
	uint64_t v;

	if (read(lunar_sim_fd(ctx), &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new; the ring is read anyway */
	}
}

static void sim_kick(void *ctx)
{
	lunar_sim_kick(ctx);
}

static const struct lunar_tcmu_notify sim_notify = {
	.ack = sim_ack,
	.kick = sim_kick,
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
