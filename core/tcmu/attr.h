/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_ATTR_H
#define LUNAR_TCMU_ATTR_H

/*
 * One-value files of sysfs and configfs.  Every function returns 0 or -1
 * with errno set (reads never fail silently: the caller names the file).
 */

#include <stddef.h>
#include <stdint.h>

/* The file's text without its trailing newline. */
int lunar_attr_read(const char *path, char *buf, size_t len);
/* A decimal or 0x-hex number, bounded by max. */
int lunar_attr_read_u64(const char *path, uint64_t max, uint64_t *out);
int lunar_attr_read_int(const char *path, int *out);
/* Writes exactly s (no newline: configfs stores what it is given). */
int lunar_attr_write(const char *path, const char *s);
int lunar_attr_printf(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
