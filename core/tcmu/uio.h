/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_UIO_H
#define LUNAR_TCMU_UIO_H

/*
 * A TCMU device's uio side: /sys/class/uio/uioN describes it, /dev/uioN
 * is the ring (mmap map0) and the doorbell (read: the kernel published
 * work; write: we published completions).
 */

#include <stddef.h>
#include <stdint.h>

#include "tcmu/port.h"

struct lunar_tcmu_uio {
	unsigned minor;
	const char *dir;	/* the device's configfs directory (action/) */
	int fd;
	void *map;
	uint64_t map_size;
};

/* The minors of every uio device, ascending; *n of them (free *out). */
int lunar_tcmu_uio_list(unsigned **out, size_t *n);
/* /sys/class/uio/uio<minor>/name; -1 (errno) when there is none. */
int lunar_tcmu_uio_name(unsigned minor, char *buf, size_t len);

/*
 * Opens /dev/uio<minor>.  The kernel lets one process at a time open a
 * TCMU device: EBUSY means another daemon serves it.  -1 with err set.
 */
int lunar_tcmu_uio_open(struct lunar_tcmu_uio *u, unsigned minor, char *err, size_t errlen);
/* Maps the whole of map0 (the kernel wants its exact size). */
int lunar_tcmu_uio_map(struct lunar_tcmu_uio *u, char *err, size_t errlen);
void lunar_tcmu_uio_close(struct lunar_tcmu_uio *u);

/* ack: one non-blocking 4-byte read; kick: one 4-byte write.  ctx is the
 * struct lunar_tcmu_uio. */
extern const struct lunar_tcmu_notify lunar_tcmu_uio_notify;

#endif
