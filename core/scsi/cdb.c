/* SPDX-License-Identifier: MIT */
#include "lunar/abi.h"
#include "scsi/cdb.h"

int lunar_cdb_length(const uint8_t *cdb, size_t avail)
{
	static const uint8_t group_len[8] = { 6, 10, 10, 12, 16, 12, 10, 10 };
	size_t len;

	if (avail < 1)
		return -1;
	if (cdb[0] == 0x7f) {
		if (avail < 8)
			return -1;
		len = (size_t)cdb[7] + 8;
	} else {
		len = group_len[cdb[0] >> 5];
	}
	return len <= avail ? (int)len : -1;
}

struct op {
	uint8_t op;
	uint8_t dir;
	const char *name;
};

/*
 * SPC and SBC opcodes whose meaning does not depend on the device type
 * (0x34 is PRE-FETCH on a disk and READ POSITION on a tape, so it is not
 * here).  A handler for another device type knows its own directions.
 */
static const struct op ops[] = {
	{ 0x00, LUNAR_DIR_NONE, "TEST UNIT READY" },
	{ 0x03, LUNAR_DIR_IN, "REQUEST SENSE" },
	{ 0x04, LUNAR_DIR_OUT, "FORMAT UNIT" },
	{ 0x08, LUNAR_DIR_IN, "READ(6)" },
	{ 0x0a, LUNAR_DIR_OUT, "WRITE(6)" },
	{ 0x12, LUNAR_DIR_IN, "INQUIRY" },
	{ 0x15, LUNAR_DIR_OUT, "MODE SELECT(6)" },
	{ 0x16, LUNAR_DIR_OUT, "RESERVE(6)" },
	{ 0x17, LUNAR_DIR_NONE, "RELEASE(6)" },
	{ 0x1a, LUNAR_DIR_IN, "MODE SENSE(6)" },
	{ 0x1b, LUNAR_DIR_NONE, "START STOP UNIT" },
	{ 0x1c, LUNAR_DIR_IN, "RECEIVE DIAGNOSTIC RESULTS" },
	{ 0x1d, LUNAR_DIR_OUT, "SEND DIAGNOSTIC" },
	{ 0x1e, LUNAR_DIR_NONE, "PREVENT ALLOW MEDIUM REMOVAL" },
	{ 0x25, LUNAR_DIR_IN, "READ CAPACITY(10)" },
	{ 0x28, LUNAR_DIR_IN, "READ(10)" },
	{ 0x2a, LUNAR_DIR_OUT, "WRITE(10)" },
	{ 0x2e, LUNAR_DIR_OUT, "WRITE AND VERIFY(10)" },
	{ 0x2f, LUNAR_DIR_OUT, "VERIFY(10)" },
	{ 0x35, LUNAR_DIR_NONE, "SYNCHRONIZE CACHE(10)" },
	{ 0x37, LUNAR_DIR_IN, "READ DEFECT DATA(10)" },
	{ 0x3b, LUNAR_DIR_OUT, "WRITE BUFFER" },
	{ 0x3c, LUNAR_DIR_IN, "READ BUFFER" },
	{ 0x41, LUNAR_DIR_OUT, "WRITE SAME(10)" },
	{ 0x42, LUNAR_DIR_OUT, "UNMAP" },
	{ 0x4c, LUNAR_DIR_OUT, "LOG SELECT" },
	{ 0x4d, LUNAR_DIR_IN, "LOG SENSE" },
	{ 0x55, LUNAR_DIR_OUT, "MODE SELECT(10)" },
	{ 0x56, LUNAR_DIR_OUT, "RESERVE(10)" },
	{ 0x57, LUNAR_DIR_NONE, "RELEASE(10)" },
	{ 0x5a, LUNAR_DIR_IN, "MODE SENSE(10)" },
	{ 0x5e, LUNAR_DIR_IN, "PERSISTENT RESERVE IN" },
	{ 0x5f, LUNAR_DIR_OUT, "PERSISTENT RESERVE OUT" },
	{ 0x83, LUNAR_DIR_OUT, "EXTENDED COPY" },
	{ 0x84, LUNAR_DIR_IN, "RECEIVE COPY RESULTS" },
	{ 0x88, LUNAR_DIR_IN, "READ(16)" },
	{ 0x89, LUNAR_DIR_OUT, "COMPARE AND WRITE" },
	{ 0x8a, LUNAR_DIR_OUT, "WRITE(16)" },
	{ 0x8e, LUNAR_DIR_OUT, "WRITE AND VERIFY(16)" },
	{ 0x8f, LUNAR_DIR_OUT, "VERIFY(16)" },
	{ 0x91, LUNAR_DIR_NONE, "SYNCHRONIZE CACHE(16)" },
	{ 0x93, LUNAR_DIR_OUT, "WRITE SAME(16)" },
	{ 0x9e, LUNAR_DIR_IN, "SERVICE ACTION IN(16)" },
	{ 0x9f, LUNAR_DIR_OUT, "SERVICE ACTION OUT(16)" },
	{ 0xa0, LUNAR_DIR_IN, "REPORT LUNS" },
	{ 0xa3, LUNAR_DIR_IN, "MAINTENANCE IN" },
	{ 0xa4, LUNAR_DIR_OUT, "MAINTENANCE OUT" },
	{ 0xa8, LUNAR_DIR_IN, "READ(12)" },
	{ 0xaa, LUNAR_DIR_OUT, "WRITE(12)" },
	{ 0xae, LUNAR_DIR_OUT, "WRITE AND VERIFY(12)" },
	{ 0xaf, LUNAR_DIR_OUT, "VERIFY(12)" },
	{ 0xb7, LUNAR_DIR_IN, "READ DEFECT DATA(12)" },
};

static const struct op *find(uint8_t op)
{
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return &ops[i];
	return 0;
}

int lunar_cdb_dir(const uint8_t *cdb, uint32_t cdb_len)
{
	const struct op *o;

	if (cdb[0] == 0x7f && cdb_len >= 10) {
		uint16_t sa = (uint16_t)(cdb[8] << 8 | cdb[9]);

		if (sa == 0x0009)
			return LUNAR_DIR_IN;		/* READ(32) */
		if (sa >= 0x000a && sa <= 0x000d)
			return LUNAR_DIR_OUT;		/* VERIFY, WRITE, W&V, WS(32) */
		return LUNAR_DIR_UNKNOWN;
	}
	o = find(cdb[0]);
	if (!o || o->dir == LUNAR_DIR_NONE)
		return LUNAR_DIR_UNKNOWN;	/* a buffer where none belongs */
	return o->dir;
}

const char *lunar_cdb_name(const uint8_t *cdb, uint32_t cdb_len)
{
	const struct op *o;

	if (cdb_len >= 2 && cdb[0] == 0x9e && (cdb[1] & 0x1f) == 0x10)
		return "READ CAPACITY(16)";
	if (cdb_len >= 2 && cdb[0] == 0xa3 && (cdb[1] & 0x1f) == 0x0c)
		return "REPORT SUPPORTED OPERATION CODES";
	o = find(cdb[0]);
	return o ? o->name : 0;
}
