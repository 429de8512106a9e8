/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_ABI_H
#define LUNAR_TCMU_ABI_H

/*
 * The shared-memory ABI of the kernel's target_core_user (mailbox version
 * 2), written from the layout in include/uapi/linux/target_core_user.h.
 * Both the consumer (ring.c) and the in-process kernel side (core/sim) use
 * these definitions; the static asserts pin every offset to the kernel's.
 */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum {
	LUNAR_TCMU_MAILBOX_VERSION = 2,
	LUNAR_TCMU_CMDR_OFF = 128,	/* sizeof(struct lunar_tcmu_mailbox) */
	LUNAR_TCMU_ALIGN = 8,		/* entry lengths are multiples of 8 */
	LUNAR_TCMU_OP_MASK = 7,
	LUNAR_TCMU_SENSE_SIZE = 96,
};

/* mailbox flags (capabilities the kernel offers) */
enum {
	LUNAR_TCMU_CAP_OOOC = 1 << 0,
	LUNAR_TCMU_CAP_READ_LEN = 1 << 1,
	LUNAR_TCMU_CAP_TMR = 1 << 2,
	LUNAR_TCMU_CAP_KEEP_BUF = 1 << 3,
};

/* entry opcodes */
enum {
	LUNAR_TCMU_OP_PAD = 0,
	LUNAR_TCMU_OP_CMD = 1,
	LUNAR_TCMU_OP_TMR = 2,
};

/* hdr.uflags, user -> kernel */
enum {
	LUNAR_TCMU_UFLAG_UNKNOWN_OP = 1 << 0,
	LUNAR_TCMU_UFLAG_READ_LEN = 1 << 1,
	LUNAR_TCMU_UFLAG_KEEP_BUF = 1 << 2,
};

/* tmr_type */
enum {
	LUNAR_TCMU_TMR_UNKNOWN = 0,
	LUNAR_TCMU_TMR_ABORT_TASK = 1,
	LUNAR_TCMU_TMR_ABORT_TASK_SET = 2,
	LUNAR_TCMU_TMR_CLEAR_ACA = 3,
	LUNAR_TCMU_TMR_CLEAR_TASK_SET = 4,
	LUNAR_TCMU_TMR_LUN_RESET = 5,
	LUNAR_TCMU_TMR_TARGET_WARM_RESET = 6,
	LUNAR_TCMU_TMR_TARGET_COLD_RESET = 7,
	LUNAR_TCMU_TMR_LUN_RESET_PRO = 128,
};

struct lunar_tcmu_mailbox {
	uint16_t version;
	uint16_t flags;
	uint32_t cmdr_off;
	uint32_t cmdr_size;
	uint32_t cmd_head;	/* kernel writes (release) */
	uint8_t pad0[48];
	uint32_t cmd_tail;	/* user writes (release), own cache line */
	uint8_t pad1[60];
};

struct lunar_tcmu_hdr {
	uint32_t len_op;
	uint16_t cmd_id;
	uint8_t kflags;
	uint8_t uflags;
};

struct lunar_tcmu_cmd_entry {
	struct lunar_tcmu_hdr hdr;
	union {
		struct {
			uint32_t iov_cnt;
			uint32_t iov_bidi_cnt;
			uint32_t iov_dif_cnt;
			uint64_t cdb_off;	/* from the mailbox, not the entry */
			uint64_t pad1;
			uint64_t pad2;
			struct iovec iov[];	/* iov_base is an offset too */
		} req;
		struct {
			uint8_t scsi_status;
			uint8_t pad1;
			uint16_t pad2;
			uint32_t read_len;
			uint8_t sense_buffer[LUNAR_TCMU_SENSE_SIZE];
		} rsp;
	};
} __attribute__((packed));

struct lunar_tcmu_tmr_entry {
	struct lunar_tcmu_hdr hdr;
	uint8_t tmr_type;
	uint8_t pad1;
	uint16_t pad2;
	uint32_t cmd_cnt;
	uint64_t pad3;
	uint64_t pad4;
	uint16_t cmd_ids[];
} __attribute__((packed));

static_assert(sizeof(struct lunar_tcmu_mailbox) == 128, "mailbox size");
static_assert(offsetof(struct lunar_tcmu_mailbox, cmd_head) == 12, "cmd_head");
static_assert(offsetof(struct lunar_tcmu_mailbox, cmd_tail) == 64, "cmd_tail");
static_assert(sizeof(struct lunar_tcmu_hdr) == 8, "hdr");
static_assert(offsetof(struct lunar_tcmu_cmd_entry, req.cdb_off) == 24, "cdb_off");
static_assert(offsetof(struct lunar_tcmu_cmd_entry, req.iov) == 48, "iov");
static_assert(offsetof(struct lunar_tcmu_cmd_entry, rsp.read_len) == 12, "read_len");
static_assert(offsetof(struct lunar_tcmu_cmd_entry, rsp.sense_buffer) == 16, "sense");
static_assert(sizeof(struct lunar_tcmu_cmd_entry) == 112, "cmd entry");
static_assert(offsetof(struct lunar_tcmu_tmr_entry, cmd_cnt) == 12, "tmr cnt");
static_assert(sizeof(struct lunar_tcmu_tmr_entry) == 32, "tmr entry");

#define LUNAR_TCMU_ENTRY_MIN sizeof(struct lunar_tcmu_cmd_entry)

#endif
