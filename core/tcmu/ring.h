/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_RING_H
#define LUNAR_TCMU_RING_H

/*
 * The consumer side of a TCMU command ring: pure code over a mapped region,
 * no system calls, so the same code serves the kernel's uio map and the
 * in-process sim.  One thread consumes and completes per ring.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tcmu/tcmu_abi.h"

struct lunar_tcmu_ring {
	uint8_t *base;			/* start of map0 (the mailbox) */
	uint64_t map_size;
	struct lunar_tcmu_mailbox *mb;
	uint8_t *cmdr;
	uint32_t cmdr_size;
	uint64_t data_off;		/* data area: [data_off, map_size) */
	uint16_t caps;
	uint32_t ctail;			/* next entry to consume */
	uint32_t dtail;			/* private copy of mb->cmd_tail */
	uint32_t pending;		/* CMDs consumed, not yet completed */
	bool broken;
	char why[160];
};

enum lunar_tcmu_kind {
	LUNAR_TCMU_NONE = 0,
	LUNAR_TCMU_CMD = 1,		/* a valid command */
	LUNAR_TCMU_BAD_CMD = 2,		/* a well-framed command that cannot be
					 * served: complete it with an error */
	LUNAR_TCMU_TMR = 3,
};

enum lunar_tcmu_bad {
	LUNAR_TCMU_BAD_ENTRY = 1,	/* iov or CDB outside its bounds */
	LUNAR_TCMU_BAD_CDB = 2,		/* CDB longer than a slot holds */
};

struct lunar_tcmu_entry {
	uint8_t kind;			/* enum lunar_tcmu_kind */
	uint8_t bad;			/* enum lunar_tcmu_bad for BAD_CMD */
	uint16_t cmd_id;
	uint32_t len;
	/* CMD: pointers into the ring, valid until the command is completed
	 * (the response overwrites them): copy what you need first. */
	const uint8_t *cdb;
	uint32_t cdb_len;
	uint32_t iov_cnt;
	uint32_t bidi_cnt;
	const uint8_t *raw_iov;		/* iov_cnt + bidi_cnt struct iovec */
	uint64_t length;		/* bytes in the first iov_cnt iovecs */
	uint64_t bidi_length;
	/* TMR */
	uint8_t tmr_type;
	uint32_t tmr_cnt;
	const uint8_t *tmr_ids;		/* tmr_cnt little-endian u16 */
	const char *why;		/* BAD_CMD: what is wrong */
};

/* Validates the mailbox; takes cmd_tail as the place to resume. 0 or -1
 * with r->why set. */
int lunar_tcmu_ring_init(struct lunar_tcmu_ring *r, void *map, uint64_t map_size);

/*
 * Decodes the next entry (PAD and unknown opcodes are skipped).  Returns 1
 * with *e filled, 0 when the ring is empty, -1 when the ring is broken
 * (framing that cannot be trusted; r->why says why; nothing more is read).
 */
int lunar_tcmu_ring_next(struct lunar_tcmu_ring *r, struct lunar_tcmu_entry *e);

/* Converts a CMD entry's iovecs (offsets) into pointers; out has
 * iov_cnt + bidi_cnt elements. */
void lunar_tcmu_ring_iov(const struct lunar_tcmu_ring *r, const struct lunar_tcmu_entry *e,
			 struct iovec *out);

/* The TMR entry's i-th aborted cmd_id. */
uint16_t lunar_tcmu_tmr_id(const struct lunar_tcmu_entry *e, uint32_t i);

struct lunar_tcmu_done {
	uint16_t cmd_id;
	uint8_t status;
	bool unknown_op;	/* tell the kernel we do not know the op */
	uint32_t read_len;	/* 0: no READ_LEN (the whole buffer counts) */
	bool keep_buf;		/* KEEP_BUF: the data blocks stay ours */
	const uint8_t *sense;	/* 96 bytes, used with CHECK CONDITION */
};

/*
 * Writes a completion into the oldest uncompleted CMD slot at cmd_tail
 * (with CAP_OOOC any consumed command may complete; without it, only the
 * oldest) and publishes cmd_tail.  Returns 0, -1 if the ring has no
 * consumed command left to complete (r->why), or -2 if the ring lacks
 * OOOC and cmd_id is not the oldest.
 */
int lunar_tcmu_ring_complete(struct lunar_tcmu_ring *r, const struct lunar_tcmu_done *d);

#endif
