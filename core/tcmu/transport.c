/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "daemon.h"
#include "log.h"
#include "lun.h"
#include "transports.h"

/*
 * The TCMU transport: LIO user backstores reached through uio devices.
 * (Being built: until then its LUNs report that the transport is missing.)
 */

static int tcmu_start(struct lunar_daemon *d, char *err, size_t errlen)
{
	snprintf(err, errlen, "the tcmu transport is not built into this lunar yet");
	return -1;
}

static int tcmu_fd(struct lunar_daemon *d)
{
	return -1;
}

static void tcmu_event(struct lunar_daemon *d)
{
}

static void tcmu_quiesce(struct lunar_daemon *d)
{
}

static void tcmu_stop(struct lunar_daemon *d)
{
}

static void tcmu_describe(struct lunar_lun *lun, char *buf, size_t len)
{
	snprintf(buf, len, "%s", "");
}

const struct lunar_transport_ops lunar_tcmu_transport = {
	.name = "tcmu",
	.type = LUNAR_TRANSPORT_TCMU,
	.start = tcmu_start,
	.fd = tcmu_fd,
	.event = tcmu_event,
	.quiesce = tcmu_quiesce,
	.stop = tcmu_stop,
	.describe = tcmu_describe,
};
