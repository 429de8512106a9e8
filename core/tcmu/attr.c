/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcmu/attr.h"

int lunar_attr_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

int lunar_attr_read_u64(const char *path, uint64_t max, uint64_t *out)
{
	char buf[64], *end;
	uint64_t v;

	if (lunar_attr_read(path, buf, sizeof(buf)) < 0)
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno || end == buf || *end || buf[0] == '-' || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int lunar_attr_read_int(const char *path, int *out)
{
	char buf[64], *end;
	long v;

	if (lunar_attr_read(path, buf, sizeof(buf)) < 0)
		return -1;
	errno = 0;
	v = strtol(buf, &end, 0);
	if (errno || end == buf || *end || v < -1000000000 || v > 1000000000) {
		errno = ERANGE;
		return -1;
	}
	*out = (int)v;
	return 0;
}

int lunar_attr_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(s);
	ssize_t n;
	int e;

	if (fd < 0)
		return -1;
	n = write(fd, s, len);
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int lunar_attr_printf(const char *path, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return lunar_attr_write(path, buf);
}
