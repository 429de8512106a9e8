/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xenops.h"
#include "xen/xsutil.h"

char *lunar_xs_read(struct lunar_xenops *x, const char *dir, const char *node)
{
	char p[512];

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, node) >= sizeof(p))
		return NULL;
	return x->vt->xs_read(x, LUNAR_XS_NULL, p);
}

/* Digits only, no sign, no spaces, at most 10 of them. */
static int parse_num(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

long lunar_xs_read_int(struct lunar_xenops *x, const char *dir, const char *node, long def)
{
	char *s = lunar_xs_read(x, dir, node);
	unsigned long v;
	long r = def;

	if (s && parse_num(s, strlen(s), 0x7fffffff, &v) == 0)
		r = (long)v;
	free(s);
	return r;
}

int lunar_xs_parse_hctl(const char *s, unsigned *h, unsigned *c, unsigned *t, unsigned *l)
{
	unsigned *out[4] = { h, c, t, l };

	for (int i = 0; i < 4; i++) {
		size_t n = strcspn(s, ":");
		unsigned long v;

		if (parse_num(s, n, 65535, &v) < 0)
			return -1;
		*out[i] = (unsigned)v;
		s += n;
		if (i < 3) {
			if (*s != ':')
				return -1;
			s++;
		}
	}
	return *s ? -1 : 0;
}
