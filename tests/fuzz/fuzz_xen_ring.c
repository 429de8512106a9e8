/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the vscsiif back ring and request checks (core/xen/
 * ring.c) fed whatever a hostile frontend can put in shared memory.
 *
 * Input: 4096 bytes of ring page, then 64 req_prod values the "frontend"
 * writes between our steps (little-endian u32 each, used when its top bit
 * is set), then the indirect descriptor pages.  Each step
 * consumes what the ring offers, checks it, reads indirect descriptors out
 * of the pages, and answers it, as the backend does.  Anything read or
 * written outside the page, the descriptors or the output arrays is a bug
 * the sanitizers report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen/ring.h"

enum { PAGE = LUNAR_VSCSI_PAGE, STEPS = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t page[PAGE] __attribute__((aligned(4096)));
	static uint8_t pool[LUNAR_VSCSI_SEGS][PAGE];
	static struct lunar_vscsi_seg desc[LUNAR_VSCSI_SG_MAX];
	const uint8_t *pages[LUNAR_VSCSI_SEGS];
	const uint8_t *script = size > PAGE ? data + PAGE : NULL;
	size_t nscript = script ? (size - PAGE < STEPS * 4 ? (size - PAGE) / 4 : STEPS) : 0;
	size_t rest = size > PAGE + STEPS * 4 ? size - PAGE - STEPS * 4 : 0;
	struct lunar_vscsi_wire_req w = { 0 };
	struct lunar_vscsi_ring r;

	memset(page, 0, sizeof(page));
	memcpy(page, data, size < PAGE ? size : PAGE);
	memset(pool, 0, sizeof(pool));
	if (rest)
		memcpy(pool, data + PAGE + STEPS * 4, rest < sizeof(pool) ? rest : sizeof(pool));
	for (int i = 0; i < LUNAR_VSCSI_SEGS; i++)
		pages[i] = pool[i];
	lunar_vscsi_ring_init(&r, page);
	for (size_t step = 0; step < STEPS; step++) {
		struct lunar_vscsi_req req;
		struct lunar_vscsi_wire_rsp rsp;
		const char *why = NULL;
		int rc;

		if (step < nscript) {
			uint32_t prod;

			memcpy(&prod, script + step * 4, 4);
			if (prod & 0x80000000u)
				((struct lunar_vscsi_sring *)page)->req_prod = prod & 0x7fffffff;
		}
		rc = lunar_vscsi_ring_next(&r, &w);
		if (rc < 0) {
			if (!r.why)
				abort();
			break;
		}
		if (rc == 0) {
			(void)lunar_vscsi_ring_final_check(&r);
			if (lunar_vscsi_ring_inflight(&r) == 0)
				break;
		} else if (lunar_vscsi_req_parse(&w, LUNAR_VSCSI_SG_MAX, &req, &why) < 0) {
			if (!why)
				abort();
			break;	/* the backend stops the vhost here */
		} else if (req.act == LUNAR_VSCSI_ACT_CDB && req.indirect) {
			int64_t len;

			if (req.ndesc > LUNAR_VSCSI_SG_MAX || req.nseg > LUNAR_VSCSI_SEGS)
				abort();
			len = lunar_vscsi_req_indirect(&req, pages, desc, &why);
			if (len > (int64_t)LUNAR_VSCSI_SG_MAX * PAGE)
				abort();
		} else if (req.length > (uint64_t)LUNAR_VSCSI_SEGS * PAGE) {
			abort();
		}
		/* answer the oldest unanswered request, as a completion would */
		if (lunar_vscsi_ring_inflight(&r)) {
			lunar_vscsi_rsp_fill(&rsp, w.rqid, 0, w.cdb[0], w.cdb, w.cmd_len, 0);
			if (lunar_vscsi_ring_respond(&r, &rsp) < 0)
				abort();
			(void)lunar_vscsi_ring_push(&r);
		}
	}
	return 0;
}
