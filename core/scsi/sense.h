/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_SCSI_SENSE_H
#define LUNAR_SCSI_SENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	LUNAR_SK_NO_SENSE = 0x0,
	LUNAR_SK_RECOVERED_ERROR = 0x1,
	LUNAR_SK_NOT_READY = 0x2,
	LUNAR_SK_MEDIUM_ERROR = 0x3,
	LUNAR_SK_HARDWARE_ERROR = 0x4,
	LUNAR_SK_ILLEGAL_REQUEST = 0x5,
	LUNAR_SK_UNIT_ATTENTION = 0x6,
	LUNAR_SK_DATA_PROTECT = 0x7,
	LUNAR_SK_ABORTED_COMMAND = 0xb,
	LUNAR_SK_MISCOMPARE = 0xe,
};

/* Current, fixed format (0x70), 18 bytes; returns the length. */
size_t lunar_sense_fixed(uint8_t *buf, uint8_t key, uint8_t asc, uint8_t ascq);

struct lunar_sense_info {
	bool valid;		/* looks like sense data at all */
	bool descriptor;	/* 0x72/0x73 */
	bool deferred;		/* 0x71/0x73 */
	uint8_t key, asc, ascq;
	bool info_valid;
	uint64_t info;
	bool sks_valid;
	uint8_t sks[3];
	size_t len;		/* 8 + additional length, clamped */
};

/* Decodes fixed or descriptor sense; returns 0, or -1 if not sense. */
int lunar_sense_decode(const uint8_t *buf, size_t max, struct lunar_sense_info *out);

const char *lunar_sense_key_name(uint8_t key);
/* "LOGICAL BLOCK ADDRESS OUT OF RANGE", or NULL when unknown. */
const char *lunar_asc_name(uint8_t asc, uint8_t ascq);
const char *lunar_status_name(uint8_t status);

#endif
