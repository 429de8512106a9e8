/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "scsi/sense.h"

size_t lunar_sense_fixed(uint8_t *buf, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(buf, 0, 18);
	buf[0] = 0x70;
	buf[2] = key & 0x0f;
	buf[7] = 10;
	buf[12] = asc;
	buf[13] = ascq;
	return 18;
}

int lunar_sense_decode(const uint8_t *b, size_t max, struct lunar_sense_info *s)
{
	uint8_t rc;

	memset(s, 0, sizeof(*s));
	if (max < 8)
		return -1;
	rc = b[0] & 0x7f;
	if (rc < 0x70 || rc > 0x73)
		return -1;
	s->valid = true;
	s->descriptor = rc >= 0x72;
	s->deferred = rc == 0x71 || rc == 0x73;
	s->len = (size_t)b[7] + 8;
	if (s->len > max)
		s->len = max;
	if (!s->descriptor) {
		s->key = b[2] & 0x0f;
		if (s->len >= 14) {
			s->asc = b[12];
			s->ascq = b[13];
		}
		s->info_valid = b[0] & 0x80;
		s->info = (uint64_t)b[3] << 24 | (uint64_t)b[4] << 16 | (uint64_t)b[5] << 8 | b[6];
		if (s->len >= 18 && (b[15] & 0x80)) {
			s->sks_valid = true;
			memcpy(s->sks, b + 15, 3);
		}
		return 0;
	}
	s->key = b[1] & 0x0f;
	s->asc = b[2];
	s->ascq = b[3];
	for (size_t off = 8; off + 2 <= s->len;) {
		uint8_t type = b[off], dlen = b[off + 1];

		if (off + 2 + dlen > s->len)
			break;
		if (type == 0x00 && dlen >= 0x0a) {
			s->info_valid = b[off + 2] & 0x80;
			s->info = 0;
			for (int i = 0; i < 8; i++)
				s->info = s->info << 8 | b[off + 4 + i];
		} else if (type == 0x02 && dlen >= 6 && (b[off + 4] & 0x80)) {
			s->sks_valid = true;
			memcpy(s->sks, b + off + 4, 3);
		}
		off += 2 + (size_t)dlen;
	}
	return 0;
}
