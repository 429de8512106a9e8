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
 */
struct lunar_mem_region {
	struct lunar_mem_region *next;
	char *name;
	void *base;
	uint64_t size;
};

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
		p = (size == 0 || size == r->size) ? r->base : NULL;
		goto out;
	}
	if (size == 0 || size > (1ull << 46))
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	r->name = strdup(name);
	r->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (!r->name || r->base == MAP_FAILED) {
		free(r->name);
		free(r);
		goto out;
	}
	r->size = size;
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
		munmap(r->base, r->size);
		free(r->name);
		free(r);
	}
}
