/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_ABI_H
#define LUNAR_ABI_H

/*
 * The contract between the C core and the Lua handlers.
 *
 * This header is compiled by C and, preprocessed with -DLUNAR_CDEF, is the
 * text of the ffi.cdef that lua/lunar/abi_cdef.lua carries: the build
 * generates that file from this one, so C and Lua cannot drift apart.
 *
 * Rules for editing:
 *  - fixed-size types only, no bitfields, no macros Lua needs (use enums);
 *  - fields are only ever appended, never reordered or removed;
 *  - every field says who writes it.  "transport" is the ring code that
 *    decoded the command, "core" is the LUN/worker code, "handler" is Lua.
 */

#ifndef LUNAR_CDEF
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#else
struct iovec {
	void *iov_base;
	size_t iov_len;
};
#endif

enum {
	LUNAR_ABI_VERSION = 1,
	LUNAR_CDB_MAX = 32,	/* longest CDB a slot holds (32-byte CDBs) */
	LUNAR_SENSE_MAX = 96,	/* TCMU and vscsiif both carry 96 bytes */
};

/* Direction of the data buffer, from the initiator's point of view. */
enum lunar_dir {
	LUNAR_DIR_NONE = 0,	/* no data buffer */
	LUNAR_DIR_IN = 1,	/* Data-In: the handler fills iov (READ) */
	LUNAR_DIR_OUT = 2,	/* Data-Out: iov holds the initiator's data */
	LUNAR_DIR_BIDI = 3,	/* iov[0..iovcnt) Data-Out, then Data-In */
	/*
	 * TCMU does not say which way the buffer goes; the core decodes the
	 * direction from the opcode and reports UNKNOWN only for opcodes it
	 * does not know.  A handler that implements such an opcode knows.
	 */
	LUNAR_DIR_UNKNOWN = 4,
};

/* Life of a slot. */
enum lunar_cmd_state {
	LUNAR_CMD_FREE = 0,	/* core: not in use */
	LUNAR_CMD_NEW = 1,	/* core: handed to Lua, no answer yet */
	LUNAR_CMD_DONE = 2,	/* handler: status (and sense) are final */
	LUNAR_CMD_DEFERRED = 3,	/* handler: will call lunar_cmd_complete() */
	/*
	 * core: the handler held it past its deadline and the core answered
	 * it (BUSY); its buffers are gone (iovcnt 0).  The handler's late
	 * answer only gives the slot back.
	 */
	LUNAR_CMD_EXPIRED = 4,
	/* core: its generation wedged; kept until that thread is gone */
	LUNAR_CMD_QUARANTINED = 5,
};

/* lunar_cmd.flags, written by the core. */
enum {
	LUNAR_CMDF_ABORTED = 1,	/* a task management function aborted it */
};

/* SAM status codes the core itself uses. */
enum {
	LUNAR_GOOD = 0x00,
	LUNAR_CHECK_CONDITION = 0x02,
	LUNAR_BUSY = 0x08,
	LUNAR_TASK_SET_FULL = 0x28,
	LUNAR_TASK_ABORTED = 0x40,
};

/* Log levels for lunar_log(). */
enum lunar_log_level {
	LUNAR_LOG_ERR = 3,
	LUNAR_LOG_WARN = 4,
	LUNAR_LOG_INFO = 6,
	LUNAR_LOG_DEBUG = 7,
};

/*
 * One command.  The core owns the memory (an array of slots per LUN, bound
 * once by the Lua state) and reuses a slot once the command is completed,
 * so a handler must not keep the pointer after it answered.  A deferred
 * command stays valid until lunar_cmd_complete().
 */
struct lunar_cmd {
	uint8_t cdb[LUNAR_CDB_MAX];	/* transport: CDB bytes, rest zero */
	uint8_t cdb_len;		/* transport */
	uint8_t dir;			/* transport: enum lunar_dir */
	uint8_t state;			/* core NEW; handler DONE/DEFERRED */
	uint8_t status;			/* handler: SAM status */
	uint8_t sense_len;		/* handler: valid bytes in sense[] */
	uint8_t flags;			/* core: LUNAR_CMDF_* */
	uint16_t lun_id;		/* core: index of the LUN */
	uint32_t slot;			/* core: index of this slot */
	uint32_t iovcnt;		/* transport: iovecs of the data buffer */
	uint32_t bidi_iovcnt;		/* transport: BIDI Data-In iovecs */
	uint32_t seq;			/* core: bumped each time the slot is
					 * reused, to tell a stale reference */
	struct iovec *iov;		/* transport: iovcnt + bidi_iovcnt
					 * entries pointing into transport
					 * memory, valid until completion */
	uint64_t length;		/* transport: bytes in iov[0..iovcnt) */
	uint64_t bidi_length;		/* transport: bytes of BIDI Data-In */
	uint64_t tag;			/* transport: its own id (cmd_id, rqid) */
	uint64_t xfer;			/* handler: Data-In bytes filled; core
					 * zeroes it.  residual = length - xfer */
	uint64_t start_ns;		/* core: CLOCK_MONOTONIC at decode */
	uint8_t sense[LUNAR_SENSE_MAX];	/* handler: fixed or descriptor */
};

/*
 * Functions Lua may call through ffi.C.  None of them calls back into Lua.
 * lun_id is the integer the core handed to the dispatcher at load time.
 */

/* The LUN's slot array and its batch vector (slot indices of one batch). */
struct lunar_cmd *lunar_slots(int lun_id);
uint32_t lunar_slot_count(int lun_id);
int32_t *lunar_batch(int lun_id);

/*
 * Complete a command the handler deferred (state DEFERRED, status and
 * sense already set).  Returns 0, or -1 if cmd is not a deferred command of
 * a LUN this thread serves.  The transport sees it when the current Lua
 * call returns.
 */
int lunar_cmd_complete(struct lunar_cmd *cmd);

/*
 * C-owned memory named per LUN: zero-filled on first use, kept across
 * handler reloads, freed when the LUN goes away.  Asking again with
 * another size resizes the region in place (the address does not change;
 * what grows reads zeros); size 0 returns it as it is.  NULL when memory
 * or address space is short.
 */
void *lunar_mem(int lun_id, const char *name, uint64_t size);

/* Logging, tagged with the LUN.  lunar_log_cmd is rate-limited. */
void lunar_log(int lun_id, int level, const char *msg);
void lunar_log_cmd(int lun_id, const struct lunar_cmd *cmd, const char *msg);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lunar_now_ns(void);

/*
 * Ask for the handler's tick(lun, now) at CLOCK_MONOTONIC time ns or soon
 * after (the earliest of several requests wins; one tick per request).
 * How a handler answers deferred commands later without blocking.
 */
void lunar_wake_at(int lun_id, uint64_t ns);

#endif /* LUNAR_ABI_H */
