/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lun.h"
#include "mem.h"

/*
 * Memory a handler asks for by name.  It lives in the LUN, not in a Lua
 * state, so a RAM disk survives a handler reload.  Anonymous mappings are
 * zero-filled and take memory only where they are written.
 *
 * A region can grow and shrink (a resized LUN) without moving: address
 * space for twice the size (at least 1 GiB more) is reserved up front and
 * only the part in use is accessible.  A generation that was replaced but
 * still answers deferred commands keeps a valid pointer.
 */
struct lunar_mem_region {
	struct lunar_mem_region *next;
	char *name;
	uint8_t *base;
	uint64_t size;		/* accessible */
	uint64_t reserved;	/* mapped (the rest PROT_NONE) */
};

static uint64_t page_up(uint64_t n)
{
	return (n + 4095) & ~4095ull;
}

/* Makes [0, size) of r usable and the rest not (its pages dropped). */
static int resize(struct lunar_mem_region *r, uint64_t size)
{
	uint64_t old = page_up(r->size), want = page_up(size);

	if (want > r->reserved)
		return -1;
	if (want > old && mprotect(r->base + old, want - old, PROT_READ | PROT_WRITE) < 0)
		return -1;
	if (want < old) {
		/* what lies beyond reads as zeros if it grows back */
		madvise(r->base + want, old - want, MADV_DONTNEED);
		mprotect(r->base + want, old - want, PROT_NONE);
	}
	r->size = size;
	return 0;
}

void *lunar_mem(int lun_id, const char *name, uint64_t size)
{
	struct lunar_lun *lun = lunar_lun_get(lun_id);
	struct lunar_mem_region *r;
	void *p = NULL;

	if (!lun || !name)
		return NULL;
	pthread_mutex_lock(&lun->lock);
	for (r = lun->mem; r; r = r->next) {
		if (strcmp(r->name, name))
			continue;
		if (size == 0 || size == r->size || resize(r, size) == 0)
			p = r->base;
		goto out;
	}
	if (size == 0 || size > (1ull << 46))
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	r->name = strdup(name);
	r->reserved = page_up(size) + (size > (1ull << 30) ? page_up(size) : (1ull << 30));
	r->base = mmap(NULL, r->reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!r->name || r->base == MAP_FAILED || resize(r, size) < 0) {
		if (r->base != MAP_FAILED)
			munmap(r->base, r->reserved);
		free(r->name);
		free(r);
		goto out;
	}
	r->next = lun->mem;
	lun->mem = r;
	p = r->base;
out:
	pthread_mutex_unlock(&lun->lock);
	return p;
}

void lunar_mem_free_all(struct lunar_lun *lun)
{
	while (lun->mem) {
		struct lunar_mem_region *r = lun->mem;

		lun->mem = r->next;
		munmap(r->base, r->reserved);
		free(r->name);
		free(r);
	}
}
