/* SPDX-License-Identifier: MIT */
/*
 * The vscsiif back ring and request checks (core/xen/ring.c), fed by a
 * test that plays the frontend on a page of its own: what a well-behaved
 * frontend sends is decoded intact, through index wrap; what a hostile one
 * sends (req_prod far ahead or behind, nr_segments 255, a segment past its
 * page, cmd_len 200, too many indirect descriptors) is refused with a
 * reason, without reading or writing outside the page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#ifdef LUNAR_HAVE_XEN
#include "xen/ring.h"

struct fx {
	uint8_t page[LUNAR_VSCSI_PAGE] __attribute__((aligned(4096)));
	struct lunar_vscsi_ring r;
	uint32_t prod;
};

static struct lunar_vscsi_sring *sring(struct fx *f)
{
	return (struct lunar_vscsi_sring *)f->page;
}

static struct fx *make(void)
{
	struct fx *f = aligned_alloc(4096, sizeof(*f));

	memset(f, 0, sizeof(*f));
	sring(f)->req_event = sring(f)->rsp_event = 1;
	lunar_vscsi_ring_init(&f->r, f->page);
	return f;
}

static struct lunar_vscsi_wire_req read10(uint16_t rqid, uint8_t nseg)
{
	struct lunar_vscsi_wire_req w = { .rqid = rqid, .act = LUNAR_VSCSI_ACT_CDB, .cmd_len = 10,
					  .cdb = { 0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0 },
					  .dir = LUNAR_VSCSI_DMA_FROM_DEVICE, .nr_segments = nseg };

	for (int i = 0; i < nseg && i < LUNAR_VSCSI_SEGS; i++)
		w.seg[i] = (struct lunar_vscsi_seg){ .gref = 100u + (uint32_t)i, .offset = 0,
						     .length = 4096 };
	return w;
}

static void produce(struct fx *f, const struct lunar_vscsi_wire_req *w)
{
	memcpy(sring(f)->ring + (f->prod % LUNAR_VSCSI_RING_SIZE) * LUNAR_VSCSI_ENTRY, w, sizeof(*w));
	sring(f)->req_prod = ++f->prod;
}

static void answer(struct fx *f, uint16_t rqid)
{
	struct lunar_vscsi_wire_rsp rsp;

	lunar_vscsi_rsp_fill(&rsp, rqid, 0, 0, NULL, 0, 0);
	assert_int_equal(lunar_vscsi_ring_respond(&f->r, &rsp), 0);
}

static const char *parse_why(const struct lunar_vscsi_wire_req *w, uint32_t sg_max)
{
	struct lunar_vscsi_req r;
	const char *why = NULL;

	if (lunar_vscsi_req_parse(w, sg_max, &r, &why) == 0)
		return NULL;
	assert_non_null(why);
	return why;
}

static void test_requests_arrive_intact_through_wrap(void **state)
{
	struct fx *f = make();

	/* 40 requests through a 16-entry ring: indices wrap twice */
	for (uint16_t i = 0; i < 40; i++) {
		struct lunar_vscsi_wire_req w = read10(i, 2), got;
		struct lunar_vscsi_req r;
		const char *why;

		produce(f, &w);
		assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 1);
		assert_memory_equal(&got, &w, sizeof(w));
		assert_int_equal(lunar_vscsi_req_parse(&got, 0, &r, &why), 0);
		assert_int_equal(r.rqid, i);
		assert_int_equal(r.cdb_len, 10);
		assert_int_equal(r.nseg, 2);
		assert_int_equal(r.length, 8192);
		assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 0);
		answer(f, i);
		lunar_vscsi_ring_push(&f->r);
		assert_int_equal(sring(f)->rsp_prod, i + 1);
	}
	free(f);
}

static void test_responses_carry_host_and_status_only(void **state)
{
	struct fx *f = make();
	struct lunar_vscsi_wire_req w = read10(7, 1), got;
	struct lunar_vscsi_wire_rsp *rsp;
	uint8_t sense[200];

	memset(sense, 0x70, sizeof(sense));
	produce(f, &w);
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 1);
	{
		struct lunar_vscsi_wire_rsp out;

		/* a sense longer than the ring's 96 bytes is cut to 96 */
		lunar_vscsi_rsp_fill(&out, 7, 1, 0x02, sense, sizeof(sense), 512);
		assert_int_equal(lunar_vscsi_ring_respond(&f->r, &out), 0);
	}
	lunar_vscsi_ring_push(&f->r);
	rsp = (struct lunar_vscsi_wire_rsp *)sring(f)->ring;
	assert_int_equal(rsp->rqid, 7);
	assert_int_equal(rsp->rslt, 0x00010002);
	assert_int_equal(rsp->sense_len, 96);
	assert_int_equal(rsp->residual_len, 512);
	free(f);
}

static void test_no_response_without_a_request(void **state)
{
	struct fx *f = make();
	struct lunar_vscsi_wire_rsp rsp;

	lunar_vscsi_rsp_fill(&rsp, 0, 0, 0, NULL, 0, 0);
	assert_int_equal(lunar_vscsi_ring_respond(&f->r, &rsp), -1);
	free(f);
}

static void test_notify_only_when_the_frontend_asked(void **state)
{
	struct fx *f = make();
	struct lunar_vscsi_wire_req w = read10(0, 0), got;

	w.dir = LUNAR_VSCSI_DMA_NONE;
	produce(f, &w);
	produce(f, &w);
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 1);
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 1);
	answer(f, 0);
	/* rsp_event 1: the frontend wants to hear of the first response */
	assert_true(lunar_vscsi_ring_push(&f->r));
	answer(f, 0);
	/* and not of the second: it did not move rsp_event on */
	assert_false(lunar_vscsi_ring_push(&f->r));
	free(f);
}

static void test_final_check_asks_for_the_next_event(void **state)
{
	struct fx *f = make();
	struct lunar_vscsi_wire_req w = read10(0, 1), got;

	assert_false(lunar_vscsi_ring_final_check(&f->r));
	assert_int_equal(sring(f)->req_event, 1);
	produce(f, &w);
	assert_true(lunar_vscsi_ring_final_check(&f->r));
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 1);
	assert_false(lunar_vscsi_ring_final_check(&f->r));
	assert_int_equal(sring(f)->req_event, 2);
	free(f);
}

static void test_prod_far_ahead_is_hostile(void **state)
{
	struct fx *f = make();
	struct lunar_vscsi_wire_req got;

	sring(f)->req_prod = 0x7fffffff;
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), -1);
	assert_non_null(f->r.why);
	/* one more than the ring holds is already too far */
	lunar_vscsi_ring_init(&f->r, f->page);
	sring(f)->req_prod = LUNAR_VSCSI_RING_SIZE + 1;
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), -1);
	free(f);
}

static void test_prod_going_backwards_is_hostile(void **state)
{
	struct fx *f = make();
	struct lunar_vscsi_wire_req w = read10(0, 1), got;

	for (int i = 0; i < 3; i++) {
		produce(f, &w);
		assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 1);
	}
	answer(f, 0);
	sring(f)->req_prod = 2;	/* behind the 3 we consumed */
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), -1);
	free(f);
}

static void test_a_full_ring_of_unanswered_requests_stops_consumption(void **state)
{
	struct fx *f = make();
	struct lunar_vscsi_wire_req w = read10(0, 1), got;

	for (int i = 0; i < LUNAR_VSCSI_RING_SIZE; i++) {
		produce(f, &w);
		assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 1);
	}
	assert_int_equal(lunar_vscsi_ring_inflight(&f->r), LUNAR_VSCSI_RING_SIZE);
	/* nothing more can be published without a response: more is hostile */
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), 0);
	sring(f)->req_prod++;
	assert_int_equal(lunar_vscsi_ring_next(&f->r, &got), -1);
	free(f);
}

static void test_cmd_len_200_is_refused(void **state)
{
	struct lunar_vscsi_wire_req w = read10(1, 1);

	w.cmd_len = 200;
	assert_string_equal(parse_why(&w, 0), "cmd_len is not 1..16");
	w.cmd_len = 0;
	assert_non_null(parse_why(&w, 0));
	w.cmd_len = 16;
	assert_null(parse_why(&w, 0));
}

static void test_nr_segments_255_is_refused(void **state)
{
	struct lunar_vscsi_wire_req w = read10(1, 1);

	w.nr_segments = 255;	/* indirect bit with 127 pages */
	assert_non_null(parse_why(&w, LUNAR_VSCSI_SG_MAX));
	w.nr_segments = 27;
	assert_string_equal(parse_why(&w, LUNAR_VSCSI_SG_MAX), "nr_segments above 26");
	w = read10(1, 26);
	assert_null(parse_why(&w, 0));
}

static void test_segment_past_its_page_is_refused(void **state)
{
	struct lunar_vscsi_wire_req w = read10(1, 1);

	w.seg[0].offset = 4095;
	w.seg[0].length = 2;
	assert_string_equal(parse_why(&w, 0), "a segment does not lie within its page");
	w.seg[0].length = 1;
	assert_null(parse_why(&w, 0));
	w.seg[0].offset = 0xffff;
	w.seg[0].length = 0xffff;
	assert_non_null(parse_why(&w, 0));
	w.seg[0].offset = 0;
	w.seg[0].length = 0;
	assert_non_null(parse_why(&w, 0));
}

static void test_direction_and_act_are_checked(void **state)
{
	struct lunar_vscsi_wire_req w = read10(1, 1);

	w.dir = 4;
	assert_string_equal(parse_why(&w, 0), "unknown sc_data_direction");
	w.dir = LUNAR_VSCSI_DMA_NONE;
	assert_string_equal(parse_why(&w, 0), "segments on a request without data");
	w = read10(1, 0);
	w.act = 4;	/* SG_PRESET: gone from the protocol */
	assert_string_equal(parse_why(&w, 0), "unknown act");
	w.act = 0;
	assert_non_null(parse_why(&w, 0));
	/* ABORT and RESET carry nothing else to check */
	w.act = LUNAR_VSCSI_ACT_ABORT;
	w.cmd_len = 200;
	w.nr_segments = 255;
	assert_null(parse_why(&w, 0));
}

static void test_indirect_needs_the_feature_and_bounds(void **state)
{
	struct lunar_vscsi_wire_req w = read10(1, 0);

	w.nr_segments = LUNAR_VSCSI_SG_GRANT | 1;
	w.seg[0] = (struct lunar_vscsi_seg){ .gref = 9, .offset = 0, .length = 8 * 16 };
	assert_string_equal(parse_why(&w, 0), "indirect segments without feature-sg-grant");
	assert_null(parse_why(&w, LUNAR_VSCSI_SG_MAX));
	w.seg[0].length = 12;	/* not whole descriptors */
	assert_non_null(parse_why(&w, LUNAR_VSCSI_SG_MAX));
	/* 2 pages of 512 descriptors: more than advertised */
	w.nr_segments = LUNAR_VSCSI_SG_GRANT | 2;
	w.seg[0].length = 4096;
	w.seg[1] = w.seg[0];
	assert_string_equal(parse_why(&w, LUNAR_VSCSI_SG_MAX),
			    "more indirect descriptors than feature-sg-grant allows");
	w.nr_segments = LUNAR_VSCSI_SG_GRANT;	/* no pages at all */
	assert_non_null(parse_why(&w, LUNAR_VSCSI_SG_MAX));
}

static void test_indirect_descriptors_are_checked(void **state)
{
	static uint8_t page[2][LUNAR_VSCSI_PAGE];
	const uint8_t *pages[2] = { page[0], page[1] };
	struct lunar_vscsi_seg *d = (struct lunar_vscsi_seg *)(page[0] + 16);
	struct lunar_vscsi_seg out[LUNAR_VSCSI_SG_MAX];
	struct lunar_vscsi_wire_req w = read10(1, 0);
	struct lunar_vscsi_req r;
	const char *why;

	w.nr_segments = LUNAR_VSCSI_SG_GRANT | 2;
	w.seg[0] = (struct lunar_vscsi_seg){ .gref = 9, .offset = 16, .length = 3 * 8 };
	w.seg[1] = (struct lunar_vscsi_seg){ .gref = 10, .offset = 4096 - 8, .length = 8 };
	d[0] = (struct lunar_vscsi_seg){ 100, 512, 3584 };
	d[1] = (struct lunar_vscsi_seg){ 101, 0, 4096 };
	d[2] = (struct lunar_vscsi_seg){ 102, 0, 4096 };
	*(struct lunar_vscsi_seg *)(page[1] + 4096 - 8) = (struct lunar_vscsi_seg){ 103, 0, 100 };
	assert_int_equal(lunar_vscsi_req_parse(&w, LUNAR_VSCSI_SG_MAX, &r, &why), 0);
	assert_int_equal(r.ndesc, 4);
	assert_int_equal(lunar_vscsi_req_indirect(&r, pages, out, &why), 3584 + 4096 + 4096 + 100);
	assert_int_equal(out[3].gref, 103);
	/* a descriptor past its page */
	d[1].offset = 4095;
	d[1].length = 2;
	assert_int_equal(lunar_vscsi_req_indirect(&r, pages, out, &why), -1);
	assert_string_equal(why, "an indirect descriptor does not lie within its page");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_arrive_intact_through_wrap),
		cmocka_unit_test(test_responses_carry_host_and_status_only),
		cmocka_unit_test(test_no_response_without_a_request),
		cmocka_unit_test(test_notify_only_when_the_frontend_asked),
		cmocka_unit_test(test_final_check_asks_for_the_next_event),
		cmocka_unit_test(test_prod_far_ahead_is_hostile),
		cmocka_unit_test(test_prod_going_backwards_is_hostile),
		cmocka_unit_test(test_a_full_ring_of_unanswered_requests_stops_consumption),
		cmocka_unit_test(test_cmd_len_200_is_refused),
		cmocka_unit_test(test_nr_segments_255_is_refused),
		cmocka_unit_test(test_segment_past_its_page_is_refused),
		cmocka_unit_test(test_direction_and_act_are_checked),
		cmocka_unit_test(test_indirect_needs_the_feature_and_bounds),
		cmocka_unit_test(test_indirect_descriptors_are_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void)
{
	puts("built without the xen transport: nothing to test");
	return 0;
}
#endif
