/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_XEN_XSUTIL_H
#define LUNAR_XEN_XSUTIL_H

/* Small xenstore helpers shared by the backend and `lunar xen`. */

struct lunar_xenops;

/* dir/node, malloc'ed, or NULL. */
char *lunar_xs_read(struct lunar_xenops *x, const char *dir, const char *node);
/*
 * dir/node as a decimal number 0..2^31-1; def when the node is missing or
 * is anything else (a guest may write what it likes into its nodes).
 */
long lunar_xs_read_int(struct lunar_xenops *x, const char *dir, const char *node, long def);
/* "h:c:t:l", each 0..65535.  Returns 0 or -1. */
int lunar_xs_parse_hctl(const char *s, unsigned *h, unsigned *c, unsigned *t, unsigned *l);

#endif
