/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "tcmu/attr.h"
#include "tcmu/uio.h"

/* Bigger than any map0 the kernel makes (8 MiB ring + data area, whose
 * configurable maximum is far below this). */
#define MAP_MAX (1ull << 40)

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int lunar_tcmu_uio_list(unsigned **out, size_t *n)
{
	DIR *dir = opendir("/sys/class/uio");
	unsigned *v = NULL;
	size_t cap = 0;
	struct dirent *e;

	*out = NULL;
	*n = 0;
	if (!dir)
		return errno == ENOENT ? 0 : -1;	/* no uio module: no devices */
	while ((e = readdir(dir))) {
		char *end;
		unsigned long m;

		if (strncmp(e->d_name, "uio", 3) || !e->d_name[3])
			continue;
		m = strtoul(e->d_name + 3, &end, 10);
		if (*end || m > 0xffffff)
			continue;
		if (*n == cap) {
			unsigned *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(dir);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[(*n)++] = (unsigned)m;
	}
	closedir(dir);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_unsigned);
	*out = v;
	return 0;
}

int lunar_tcmu_uio_name(unsigned minor, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/uio/uio%u/name", minor);
	return lunar_attr_read(path, buf, len);
}

int lunar_tcmu_uio_open(struct lunar_tcmu_uio *u, unsigned minor, char *err, size_t errlen)
{
	char path[64];

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	u->minor = minor;
	snprintf(path, sizeof(path), "/dev/uio%u", minor);
	u->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (u->fd >= 0)
		return 0;
	if (errno == EBUSY)
		snprintf(err, errlen, "%s is open in another process (another lunar, or "
			 "tcmu-runner, serves it)", path);
	else
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	return -1;
}

int lunar_tcmu_uio_map(struct lunar_tcmu_uio *u, char *err, size_t errlen)
{
	char path[80];
	uint64_t size;

	snprintf(path, sizeof(path), "/sys/class/uio/uio%u/maps/map0/size", u->minor);
	if (lunar_attr_read_u64(path, MAP_MAX, &size) < 0 || size < 4096 || size % 4096) {
		snprintf(err, errlen, "%s: no usable map size", path);
		return -1;
	}
	/* Not MAP_POPULATE: data pages exist only while a command uses them;
	 * touching any other page is a SIGBUS. */
	u->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, u->fd, 0);
	if (u->map == MAP_FAILED) {
		u->map = NULL;
		snprintf(err, errlen, "cannot map /dev/uio%u (%llu bytes): %s", u->minor,
			 (unsigned long long)size, strerror(errno));
		return -1;
	}
	u->map_size = size;
	return 0;
}

void lunar_tcmu_uio_close(struct lunar_tcmu_uio *u)
{
	if (u->map)
		munmap(u->map, u->map_size);
	if (u->fd >= 0)
		close(u->fd);
	u->map = NULL;
	u->fd = -1;
}

static int uio_ack(void *ctx)
{
	struct lunar_tcmu_uio *u = ctx;
	uint32_t events;

	/* EAGAIN: no new event, the ring is read anyway; EIO: the device
	 * was unregistered under us */
	if (read(u->fd, &events, sizeof(events)) < 0 && errno == EIO)
		return -1;
	return 0;
}

static void uio_kick(void *ctx)
{
	struct lunar_tcmu_uio *u = ctx;
	uint32_t one = 1;

	/* The kernel collects our completions inside this write. */
	if (write(u->fd, &one, sizeof(one)) < 0 && errno != EIO)
		log_err("uio%u: kick failed: %s", u->minor, strerror(errno));
}

/* The kernel reuses a kept command's data blocks once told. */
static void uio_free_kept(void *ctx, uint16_t cmd_id)
{
	struct lunar_tcmu_uio *u = ctx;
	char path[PATH_MAX], id[16];
	int fd, n;

	if (!u->dir)
		return;
	snprintf(path, sizeof(path), "%s/action/free_kept_buf", u->dir);
	n = snprintf(id, sizeof(id), "%u", cmd_id);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, id, (size_t)n) != n)
		log_err("uio%u: free_kept_buf %u: %s", u->minor, cmd_id, strerror(errno));
	if (fd >= 0)
		close(fd);
}

const struct lunar_tcmu_notify lunar_tcmu_uio_notify = {
	.ack = uio_ack,
	.kick = uio_kick,
	.free_kept = uio_free_kept,
};
