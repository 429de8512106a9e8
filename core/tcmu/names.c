/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmu/names.h"

/* Copies the next '/'-separated field; -1 if it does not fit or is empty. */
static int field(const char **s, char *out, size_t len, bool rest)
{
	size_t n = rest ? strlen(*s) : strcspn(*s, "/");

	if (n == 0 || n >= len)
		return -1;
	memcpy(out, *s, n);
	out[n] = 0;
	*s += n;
	if (**s == '/')
		(*s)++;
	return 0;
}

int lunar_tcmu_parse_uio_name(const char *s, struct lunar_tcmu_uio_name *n)
{
	char hba[16], *end;
	unsigned long v;

	memset(n, 0, sizeof(*n));
	if (strncmp(s, "tcm-user/", 9))
		return -1;
	s += 9;
	if (field(&s, hba, sizeof(hba), false) < 0 || !isdigit((unsigned char)hba[0]))
		return -1;
	v = strtoul(hba, &end, 10);
	if (*end || v > 0xffffffffu)
		return -1;
	n->hba = (unsigned)v;
	if (field(&s, n->dev, sizeof(n->dev), false) < 0)
		return -1;
	if (*s && field(&s, n->subtype, sizeof(n->subtype), false) < 0)
		return -1;
	if (*s && field(&s, n->cfg, sizeof(n->cfg), true) < 0)
		return -1;
	return 0;
}

const char *lunar_tcmu_lun_of(const struct lunar_tcmu_uio_name *n)
{
	return strcmp(n->subtype, LUNAR_TCMU_SUBTYPE) ? NULL : n->cfg;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

void lunar_tcmu_wwn(const char *seed, char out[21])
{
	/* 5 = NAA IEEE Registered, 001405 = the OUI LIO's tools use */
	snprintf(out, 21, "naa.5001405%09" PRIx64, (uint64_t)(fnv1a(seed) & 0xfffffffffull));
}

void lunar_tcmu_iqn(const char *lun, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "iqn.2003-01.org.linux-iscsi.lunar:%s", lun);

	for (char *p = strchr(out, ':') + 1; *p && p < out + (n < len ? n : len); p++)
		*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
}

bool lunar_tcmu_iqn_ok(const char *iqn)
{
	size_t n = strlen(iqn);

	return n > 4 && n <= 223 && strspn(iqn, "abcdefghijklmnopqrstuvwxyz0123456789.:-") == n;
}
