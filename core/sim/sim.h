/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_SIM_H
#define LUNAR_SIM_H

/*
 * The kernel's side of a TCMU ring, in process.  It is an initiator: it
 * takes a CDB with its data, lays the command into a real TCMU mailbox,
 * command ring and data area exactly as target_core_user does (entry
 * sizes, PAD at the ring end, data blocks merged into iovecs, cmd_id
 * 1..65535 reused lowest first, a queue for commands that do not fit), and
 * on a kick gathers completions as tcmu_handle_completions does.  The
 * consumer side is core/tcmu/ring.c, the same code that serves the kernel.
 */

#include <stdbool.h>
#include <stdint.h>

#include "lunar/abi.h"

struct lunar_sim;

struct lunar_sim_params {
	uint32_t cmdr_size;	/* command ring bytes (0: 1 MiB - 128) */
	uint64_t data_size;	/* data area bytes (0: 64 MiB) */
	uint32_t data_blk_size;	/* data block bytes, page multiple (0: 4096) */
	uint16_t caps;		/* mailbox flags (0: OOOC|READ_LEN|TMR|KEEP_BUF) */
	bool no_caps;		/* really offer no capability at all */
};

enum {
	LUNAR_SIM_CDB_MAX = 264,	/* 0x7F CDBs: 8 + up to 255 bytes */
};

struct lunar_sim_io {
	/* set by the caller */
	uint8_t cdb[LUNAR_SIM_CDB_MAX];
	const void *data_out;		/* Data-Out (WRITE) */
	uint32_t data_out_len;
	void *data_in;			/* Data-In (READ); both = BIDI */
	uint32_t data_in_len;
	void (*done)(struct lunar_sim_io *io);	/* called once, no lock held */
	void *priv;

	/* set by the sim on completion */
	int result;		/* 0: the consumer answered; -EINVAL: refused
				 * (too big, bad CDB); -EIO: ring broken;
				 * -ECANCELED: aborted or sim destroyed */
	uint8_t status;		/* SAM status */
	uint8_t sense[LUNAR_SENSE_MAX];
	uint32_t data_in_xfer;	/* Data-In bytes the initiator received */
	uint32_t residual;	/* data_in_len - data_in_xfer when the
				 * consumer reported a short read */
	uint16_t cmd_id;	/* the ring id it had (0: never on the ring) */

	/* sim private */
	struct lunar_sim_io *next;
	uint32_t *dbi;
	uint32_t dbi_cnt, dbi_bidi_cnt;
	uint32_t dbi_small[32];
	uint32_t cdb_len;
};

struct lunar_sim *lunar_sim_create(const struct lunar_sim_params *p, char *err, size_t errlen);
/* Fails every outstanding command with -ECANCELED, then frees. */
void lunar_sim_destroy(struct lunar_sim *s);
/* Fails every outstanding command with -ECANCELED; later ones fail -EIO.
 * For when the consumer stopped (shutdown). */
void lunar_sim_cancel(struct lunar_sim *s);

/* The shared region (mailbox, ring, data area) for the consumer. */
void *lunar_sim_map(struct lunar_sim *s, uint64_t *size);
/* Readable (eventfd) when new entries were published: the uio fd. */
int lunar_sim_fd(struct lunar_sim *s);
/* The consumer's 4-byte uio write: gather completions, run the queue. */
void lunar_sim_kick(struct lunar_sim *s);

/* Queue a command.  Returns 0; a command refused at once (as LIO would)
 * completes through done before this returns. */
int lunar_sim_submit(struct lunar_sim *s, struct lunar_sim_io *io);
/* Submit and wait up to timeout_ms; returns 0 or -ETIMEDOUT. */
int lunar_sim_exec(struct lunar_sim *s, struct lunar_sim_io *io, int timeout_ms);

/*
 * A task management function, as LIO's tcmu_tmr_notify: ios still in the
 * qfull queue complete with TASK ABORTED at once; the cmd_ids of those on
 * the ring go to the consumer in a TMR entry (if the mailbox offers TMR).
 */
int lunar_sim_tmr(struct lunar_sim *s, uint8_t tmr_type, struct lunar_sim_io **ios, uint32_t n);

/* KEEP_BUF: the consumer lets the kernel side reuse a kept command's
 * data blocks (and its cmd_id), as action/free_kept_buf does; and how many
 * are kept now. */
void lunar_sim_free_kept(struct lunar_sim *s, uint16_t cmd_id);
uint32_t lunar_sim_kept(struct lunar_sim *s);

/* What is outstanding: on the ring, and waiting for ring space. */
void lunar_sim_counts(struct lunar_sim *s, uint32_t *inflight, uint32_t *queued);
/* The ring was found broken (bad completion): why, or NULL. */
const char *lunar_sim_broken(struct lunar_sim *s);

#endif
