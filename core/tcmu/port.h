/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_PORT_H
#define LUNAR_TCMU_PORT_H

#include <stddef.h>
#include <stdint.h>

struct lunar_lun;
struct lunar_port;

/* How the ring talks to its kernel side: the uio device, or the sim. */
struct lunar_tcmu_notify {
	int (*ack)(void *ctx);		/* consume the "new entries" event;
					 * -1: the device is gone */
	void (*kick)(void *ctx);	/* one 4-byte uio write per batch */
	/* KEEP_BUF: the kernel may reuse a kept command's data blocks now
	 * (action/free_kept_buf).  Optional. */
	void (*free_kept)(void *ctx, uint16_t cmd_id);
};

/*
 * A LUN port over a TCMU ring in map (map_size bytes).  fd is what the
 * worker polls.  Uses out-of-order completion when the mailbox offers it,
 * READ_LEN for short reads (else zero-fills, so no stale data area bytes
 * ever reach an initiator), and passes TMR entries to the LUN.
 */
struct lunar_port *lunar_tcmu_port_create(struct lunar_lun *lun, void *map, uint64_t map_size,
					  int fd, const struct lunar_tcmu_notify *notify,
					  void *ctx, char *err, size_t errlen);

#endif
