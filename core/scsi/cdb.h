/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_SCSI_CDB_H
#define LUNAR_SCSI_CDB_H

#include <stddef.h>
#include <stdint.h>

/*
 * CDB length from the opcode group, the same table the kernel uses
 * (scsi_command_size): 6, 10, 10, 12, 16, 12, 10, 10; 0x7F is variable
 * length (ADDITIONAL CDB LENGTH in byte 7, plus 8).  avail is how many
 * bytes may be read; returns -1 if the CDB does not fit in them.
 */
int lunar_cdb_length(const uint8_t *cdb, size_t avail);

/*
 * Direction of a data buffer of a known opcode (enum lunar_dir):
 * LUNAR_DIR_IN or LUNAR_DIR_OUT, or LUNAR_DIR_UNKNOWN.  Only called when
 * a buffer exists and the command is not bidirectional.
 */
int lunar_cdb_dir(const uint8_t *cdb, uint32_t cdb_len);

/* Name of an opcode ("READ(10)"), or NULL. */
const char *lunar_cdb_name(const uint8_t *cdb, uint32_t cdb_len);

#endif
