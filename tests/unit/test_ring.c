/* SPDX-License-Identifier: MIT */
/*
 * The TCMU ring consumer against rings laid out by hand, byte by byte, as
 * the kernel lays them out (independently of core/sim).  The map is sized
 * exactly, so under ASan any read past it fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tcmu/ring.h"

#define RING 4096			/* command ring bytes (multiple of 8) */
#define DATA (64 * 1024)
#define DATA_OFF (LUNAR_TCMU_CMDR_OFF + RING)
#define MAP (DATA_OFF + DATA)

struct fx {
	uint8_t *map;
	struct lunar_tcmu_mailbox *mb;
	uint8_t *ring;
	struct lunar_tcmu_ring r;
	uint32_t head;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->map = calloc(1, MAP);
	f->mb = (void *)f->map;
	f->ring = f->map + LUNAR_TCMU_CMDR_OFF;
	f->mb->version = 2;
	f->mb->flags = LUNAR_TCMU_CAP_OOOC | LUNAR_TCMU_CAP_READ_LEN | LUNAR_TCMU_CAP_TMR;
	f->mb->cmdr_off = LUNAR_TCMU_CMDR_OFF;
	f->mb->cmdr_size = RING;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->map);
	free(f);
	return 0;
}

static void start(struct fx *f, uint32_t at)
{
	f->mb->cmd_head = f->mb->cmd_tail = at;
	f->head = at;
	assert_int_equal(lunar_tcmu_ring_init(&f->r, f->map, MAP), 0);
}

static void publish(struct fx *f)
{
	f->mb->cmd_head = f->head;
}

static void put_pad(struct fx *f)
{
	struct lunar_tcmu_hdr *h = (void *)(f->ring + f->head);

	h->len_op = (RING - f->head) | LUNAR_TCMU_OP_PAD;
	h->cmd_id = 0;
	f->head = 0;
}

/* A CMD the way queue_cmd_ring builds it; iovs are (offset in the data area, len). */
static uint32_t put_cmd(struct fx *f, uint16_t id, const uint8_t *cdb, uint32_t cdb_len,
			const uint64_t (*iov)[2], uint32_t n, uint32_t bidi)
{
	uint32_t base = 48 + 16 * (n + bidi), len, at = f->head;
	struct lunar_tcmu_cmd_entry *e = (void *)(f->ring + at);

	if (base < 112)
		base = 112;
	len = base + ((cdb_len + 7) & ~7u);
	assert_true(at + len <= RING);
	memset(e, 0, len);
	e->hdr.len_op = len | LUNAR_TCMU_OP_CMD;
	e->hdr.cmd_id = id;
	e->req.iov_cnt = n;
	e->req.iov_bidi_cnt = bidi;
	for (uint32_t i = 0; i < n + bidi; i++) {
		struct iovec v = { (void *)(uintptr_t)(DATA_OFF + iov[i][0]), iov[i][1] };

		memcpy((uint8_t *)e + 48 + 16 * i, &v, sizeof(v));
	}
	e->req.cdb_off = LUNAR_TCMU_CMDR_OFF + at + base;
	memcpy(f->map + e->req.cdb_off, cdb, cdb_len);
	f->head = (at + len) % RING;
	return at;
}

static const uint8_t READ10[10] = { 0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0 };
static const uint8_t TUR[6] = { 0 };

/* ---- init ------------------------------------------------------------------------ */

static void test_init_checks_the_mailbox(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_ring r;

	f->mb->version = 1;
	assert_int_equal(lunar_tcmu_ring_init(&r, f->map, MAP), -1);
	assert_non_null(strstr(r.why, "version 1"));
	f->mb->version = 2;
	f->mb->cmdr_size = MAP;		/* does not fit */
	assert_int_equal(lunar_tcmu_ring_init(&r, f->map, MAP), -1);
	f->mb->cmdr_size = RING;
	f->mb->cmdr_off = 64;		/* inside the mailbox */
	assert_int_equal(lunar_tcmu_ring_init(&r, f->map, MAP), -1);
	f->mb->cmdr_off = LUNAR_TCMU_CMDR_OFF;
	f->mb->cmd_tail = RING + 8;	/* outside the ring */
	assert_int_equal(lunar_tcmu_ring_init(&r, f->map, MAP), -1);
	f->mb->cmd_tail = 12;		/* unaligned */
	assert_int_equal(lunar_tcmu_ring_init(&r, f->map, MAP), -1);
	assert_int_equal(lunar_tcmu_ring_init(&r, f->map, 100), -1);
	f->mb->cmd_tail = 0;
	assert_int_equal(lunar_tcmu_ring_init(&r, f->map, MAP), 0);
	assert_int_equal(r.data_off, DATA_OFF);
}

/* ---- decoding ---------------------------------------------------------------------- */

static void test_empty_ring(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_entry e;

	start(f, 0);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 0);
}

static void test_read10_decodes(void **state)
{
	struct fx *f = *state;
	const uint64_t iov[2][2] = { { 0, 4096 }, { 8192, 1024 } };
	struct lunar_tcmu_entry e;
	struct iovec out[2];

	start(f, 0);
	put_cmd(f, 7, READ10, 10, iov, 2, 0);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_CMD);
	assert_int_equal(e.cmd_id, 7);
	assert_int_equal(e.cdb_len, 10);
	assert_memory_equal(e.cdb, READ10, 10);
	assert_int_equal(e.iov_cnt, 2);
	assert_int_equal(e.bidi_cnt, 0);
	assert_int_equal(e.length, 5120);
	lunar_tcmu_ring_iov(&f->r, &e, out);
	assert_ptr_equal(out[0].iov_base, f->map + DATA_OFF);
	assert_int_equal(out[0].iov_len, 4096);
	assert_ptr_equal(out[1].iov_base, f->map + DATA_OFF + 8192);
	assert_int_equal(f->r.pending, 1);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 0);
}

static void test_zero_iov_command(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_entry e;

	start(f, 0);
	put_cmd(f, 1, TUR, 6, NULL, 0, 0);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_CMD);
	assert_int_equal(e.iov_cnt, 0);
	assert_int_equal(e.length, 0);
	assert_int_equal(e.len, 112 + 8);	/* minimum entry + 6-byte CDB */
	assert_int_equal(e.cdb_len, 6);
}

static void test_bidi(void **state)
{
	struct fx *f = *state;
	const uint64_t iov[3][2] = { { 0, 4096 }, { 4096, 512 }, { 16384, 2048 } };
	const uint8_t xdwriteread[10] = { 0x53 };
	struct lunar_tcmu_entry e;
	struct iovec out[3];

	start(f, 0);
	put_cmd(f, 3, xdwriteread, 10, iov, 2, 1);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.iov_cnt, 2);
	assert_int_equal(e.bidi_cnt, 1);
	assert_int_equal(e.length, 4608);
	assert_int_equal(e.bidi_length, 2048);
	lunar_tcmu_ring_iov(&f->r, &e, out);
	assert_ptr_equal(out[2].iov_base, f->map + DATA_OFF + 16384);
}

static void test_variable_length_cdb(void **state)
{
	struct fx *f = *state;
	uint8_t cdb32[32] = { 0x7f, 0, 0, 0, 0, 0, 0, 24, 0x00, 0x09 };	/* READ(32) */
	uint8_t cdb48[48] = { 0x7f, 0, 0, 0, 0, 0, 0, 40 };
	struct lunar_tcmu_entry e;

	start(f, 0);
	put_cmd(f, 1, cdb32, 32, NULL, 0, 0);
	put_cmd(f, 2, cdb48, 48, NULL, 0, 0);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_CMD);
	assert_int_equal(e.cdb_len, 32);
	/* 48 bytes do not fit a slot: answered by the transport, not the handler */
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_BAD_CMD);
	assert_int_equal(e.bad, LUNAR_TCMU_BAD_CDB);
	assert_int_equal(e.cmd_id, 2);
}

/* ---- wrap ---------------------------------------------------------------------------- */

static void test_wrap_with_pad(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_entry e;
	struct lunar_tcmu_done d = { .cmd_id = 9 };

	/* 64 bytes before the end: a 120-byte TUR entry does not fit there */
	start(f, RING - 64);
	put_pad(f);
	put_cmd(f, 9, TUR, 6, NULL, 0, 0);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.cmd_id, 9);
	assert_ptr_equal(e.cdb, f->map + LUNAR_TCMU_CMDR_OFF + 112);
	assert_int_equal(f->r.ctail, 120);
	/* the completion skips the PAD and lands in the CMD at offset 0 */
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), 0);
	assert_int_equal(f->mb->cmd_tail, 120);
	assert_int_equal(((struct lunar_tcmu_cmd_entry *)f->ring)->rsp.scsi_status, 0);
	/* the PAD header was left alone */
	assert_int_equal(((struct lunar_tcmu_hdr *)(f->ring + RING - 64))->len_op, 64);
}

static void test_cdb_at_exact_ring_end(void **state)
{
	struct fx *f = *state;
	const uint64_t iov[1][2] = { { 0, 512 } };
	struct lunar_tcmu_entry e;
	struct lunar_tcmu_done d = { .cmd_id = 4 };
	uint8_t cdb16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0x77 };

	/* entry length 112 + 16 = 128: start it 128 bytes before the end so
	 * its last CDB byte is the last byte of the ring */
	start(f, RING - 128);
	put_cmd(f, 4, cdb16, 16, iov, 1, 0);
	assert_int_equal(f->head, 0);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_CMD);
	assert_int_equal(e.cdb_len, 16);
	assert_ptr_equal(e.cdb + 15, f->ring + RING - 1);
	assert_int_equal(e.cdb[15], 0x77);
	assert_int_equal(f->r.ctail, 0);
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), 0);
	assert_int_equal(f->mb->cmd_tail, 0);
}

/* ---- completion ------------------------------------------------------------------------ */

static void consume(struct fx *f, int n)
{
	struct lunar_tcmu_entry e;

	for (int i = 0; i < n; i++) {
		assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
		assert_int_equal(e.kind, LUNAR_TCMU_CMD);
	}
}

static void test_out_of_order_completion(void **state)
{
	struct fx *f = *state;
	const uint64_t iov[1][2] = { { 0, 4096 } };
	uint8_t sense[96] = { 0x70, 0, 0x05 };
	uint32_t a, b, c;
	struct lunar_tcmu_cmd_entry *ea, *eb, *ec;

	start(f, 0);
	a = put_cmd(f, 11, READ10, 10, iov, 1, 0);
	b = put_cmd(f, 12, TUR, 6, NULL, 0, 0);
	c = put_cmd(f, 13, READ10, 10, iov, 1, 0);
	publish(f);
	consume(f, 3);
	ea = (void *)(f->ring + a);
	eb = (void *)(f->ring + b);
	ec = (void *)(f->ring + c);

	/* C finishes first: it takes A's slot (the oldest) */
	struct lunar_tcmu_done dc = { .cmd_id = 13, .status = 0, .read_len = 100 };
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &dc), 0);
	assert_int_equal(ea->hdr.cmd_id, 13);
	assert_int_equal(ea->hdr.uflags, LUNAR_TCMU_UFLAG_READ_LEN);
	assert_int_equal(ea->rsp.read_len, 100);
	assert_int_equal(f->mb->cmd_tail, b);
	/* then A, CHECK CONDITION: into B's slot, with sense */
	struct lunar_tcmu_done da = { .cmd_id = 11, .status = 2, .sense = sense };
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &da), 0);
	assert_int_equal(eb->hdr.cmd_id, 11);
	assert_int_equal(eb->rsp.scsi_status, 2);
	assert_memory_equal(eb->rsp.sense_buffer, sense, 96);
	assert_int_equal(f->mb->cmd_tail, c);
	/* then B */
	struct lunar_tcmu_done db = { .cmd_id = 12, .status = 0x08 };
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &db), 0);
	assert_int_equal(ec->hdr.cmd_id, 12);
	assert_int_equal(ec->rsp.scsi_status, 0x08);
	assert_int_equal(ec->hdr.uflags, 0);
	assert_int_equal(f->mb->cmd_tail, f->head);
	/* nothing left to complete */
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &db), -1);
}

static void test_in_order_without_oooc(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_done d2 = { .cmd_id = 2 }, d1 = { .cmd_id = 1 };

	f->mb->flags = LUNAR_TCMU_CAP_READ_LEN;
	start(f, 0);
	put_cmd(f, 1, TUR, 6, NULL, 0, 0);
	put_cmd(f, 2, TUR, 6, NULL, 0, 0);
	publish(f);
	consume(f, 2);
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d2), -2);
	assert_false(f->r.broken);
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d1), 0);
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d2), 0);
	assert_int_equal(f->mb->cmd_tail, f->head);
}

static void test_read_len_needs_the_capability(void **state)
{
	struct fx *f = *state;
	const uint64_t iov[1][2] = { { 0, 4096 } };
	struct lunar_tcmu_done d = { .cmd_id = 5, .read_len = 36 };
	struct lunar_tcmu_cmd_entry *e;

	f->mb->flags = LUNAR_TCMU_CAP_OOOC;
	start(f, 0);
	e = (void *)(f->ring + put_cmd(f, 5, READ10, 10, iov, 1, 0));
	publish(f);
	consume(f, 1);
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), 0);
	assert_int_equal(e->hdr.uflags, 0);
	assert_int_equal(e->rsp.read_len, 0);
}

static void test_unknown_op_and_unknown_flag(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_entry e;
	struct lunar_tcmu_hdr *h;
	struct lunar_tcmu_done d = { .cmd_id = 6, .unknown_op = true, .status = 2 };
	uint32_t cmd;

	start(f, 0);
	/* an entry type from the future (op 3), 32 bytes, then a command */
	h = (void *)f->ring;
	h->len_op = 32 | 3;
	f->head = 32;
	cmd = put_cmd(f, 6, TUR, 6, NULL, 0, 0);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.cmd_id, 6);
	assert_int_equal(h->uflags, LUNAR_TCMU_UFLAG_UNKNOWN_OP);
	/* completion steps over it too */
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), 0);
	assert_int_equal(((struct lunar_tcmu_hdr *)(f->ring + cmd))->uflags,
			 LUNAR_TCMU_UFLAG_UNKNOWN_OP);
	assert_int_equal(f->mb->cmd_tail, f->head);
}

static void test_tmr_entry(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_entry e;
	struct lunar_tcmu_tmr_entry *t;
	struct lunar_tcmu_done d = { .cmd_id = 21 };

	start(f, 0);
	put_cmd(f, 21, TUR, 6, NULL, 0, 0);
	t = (void *)(f->ring + f->head);
	memset(t, 0, 40);
	t->hdr.len_op = 40 | LUNAR_TCMU_OP_TMR;
	t->tmr_type = LUNAR_TCMU_TMR_ABORT_TASK;
	t->cmd_cnt = 2;
	t->cmd_ids[0] = 21;
	t->cmd_ids[1] = 99;
	f->head += 40;
	publish(f);
	consume(f, 1);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_TMR);
	assert_int_equal(e.tmr_type, LUNAR_TCMU_TMR_ABORT_TASK);
	assert_int_equal(e.tmr_cnt, 2);
	assert_int_equal(lunar_tcmu_tmr_id(&e, 0), 21);
	assert_int_equal(lunar_tcmu_tmr_id(&e, 1), 99);
	/* completing the command also steps over the TMR behind it */
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), 0);
	assert_int_equal(f->mb->cmd_tail, f->head);
}

static void test_tmr_ids_past_the_entry_are_clipped(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_entry e;
	struct lunar_tcmu_tmr_entry *t = (void *)f->ring;

	start(f, 0);
	memset(t, 0, 40);
	t->hdr.len_op = 40 | LUNAR_TCMU_OP_TMR;
	t->cmd_cnt = 1000000;
	f->head = 40;
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.tmr_cnt, 4);
	assert_non_null(e.why);
}

/* ---- malformed rings --------------------------------------------------------------------- */

static void expect_broken(struct fx *f, const char *why)
{
	struct lunar_tcmu_entry e;

	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), -1);
	assert_true(f->r.broken);
	if (!strstr(f->r.why, why))
		fail_msg("why = '%s', expected it to mention '%s'", f->r.why, why);
	/* and it stays refused */
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), -1);
}

static void test_length_zero(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	((struct lunar_tcmu_hdr *)f->ring)->len_op = 0 | LUNAR_TCMU_OP_CMD;
	f->head = 128;
	publish(f);
	expect_broken(f, "length 0");
}

static void test_length_beyond_ring(void **state)
{
	struct fx *f = *state;

	start(f, RING - 128);
	((struct lunar_tcmu_hdr *)(f->ring + RING - 128))->len_op = 256 | LUNAR_TCMU_OP_PAD;
	f->head = 64;
	publish(f);
	expect_broken(f, "past the ring end");
}

static void test_length_beyond_head(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	put_cmd(f, 1, TUR, 6, NULL, 0, 0);
	f->head = 64;		/* head says only 64 bytes were published */
	publish(f);
	expect_broken(f, "past cmd_head");
}

static void test_head_outside_ring(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	f->head = RING + 64;
	publish(f);
	expect_broken(f, "cmd_head");
}

static void test_head_back_into_held_entries(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_entry e;
	uint32_t second;

	start(f, 0);
	put_cmd(f, 1, TUR, 6, NULL, 0, 0);
	second = f->head;
	put_cmd(f, 2, TUR, 6, NULL, 0, 0);
	publish(f);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	/* both held, none completed: a head that went back is a producer
	 * writing over them */
	f->mb->cmd_head = second;
	expect_broken(f, "not yet completed");
}

static void test_short_command_entry(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	((struct lunar_tcmu_hdr *)f->ring)->len_op = 64 | LUNAR_TCMU_OP_CMD;
	((struct lunar_tcmu_hdr *)f->ring)->cmd_id = 1;
	f->head = 64;
	publish(f);
	expect_broken(f, "only 64 bytes");
}

static void test_cmd_id_zero(void **state)
{
	struct fx *f = *state;

	start(f, 0);
	put_cmd(f, 0, TUR, 6, NULL, 0, 0);
	publish(f);
	expect_broken(f, "cmd_id 0");
}

static void expect_bad(struct fx *f, uint16_t id, const char *why)
{
	struct lunar_tcmu_entry e;
	struct lunar_tcmu_done d = { .cmd_id = id, .status = 2 };

	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_BAD_CMD);
	assert_int_equal(e.bad, LUNAR_TCMU_BAD_ENTRY);
	assert_int_equal(e.cmd_id, id);
	if (!strstr(e.why, why))
		fail_msg("why = '%s', expected '%s'", e.why, why);
	/* it can be answered, and the ring goes on */
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), 0);
	assert_false(f->r.broken);
	assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_CMD);
}

static void test_iov_beyond_data_area(void **state)
{
	struct fx *f = *state;
	const uint64_t past_end[1][2] = { { DATA - 512, 1024 } };
	const uint64_t huge[1][2] = { { 0, UINT64_MAX } };

	start(f, 0);
	put_cmd(f, 1, READ10, 10, past_end, 1, 0);
	put_cmd(f, 2, TUR, 6, NULL, 0, 0);
	put_cmd(f, 3, READ10, 10, huge, 1, 0);
	put_cmd(f, 4, TUR, 6, NULL, 0, 0);
	publish(f);
	expect_bad(f, 1, "outside the data area");
	expect_bad(f, 3, "outside the data area");
}

static void test_iov_into_the_command_ring(void **state)
{
	struct fx *f = *state;
	const uint64_t iov[1][2] = { { 0, 512 } };
	struct lunar_tcmu_cmd_entry *e;

	start(f, 0);
	e = (void *)(f->ring + put_cmd(f, 1, READ10, 10, iov, 1, 0));
	/* point the iovec at the ring itself: the handler would write there */
	struct iovec v = { (void *)(uintptr_t)LUNAR_TCMU_CMDR_OFF, 512 };
	memcpy((uint8_t *)e + 48, &v, sizeof(v));
	put_cmd(f, 2, TUR, 6, NULL, 0, 0);
	publish(f);
	expect_bad(f, 1, "outside the data area");
}

static void test_iov_count_beyond_entry(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_cmd_entry *e;

	start(f, 0);
	e = (void *)(f->ring + put_cmd(f, 1, TUR, 6, NULL, 0, 0));
	e->req.iov_cnt = 0xffffffff;
	e->req.iov_bidi_cnt = 0xffffffff;
	put_cmd(f, 2, TUR, 6, NULL, 0, 0);
	publish(f);
	expect_bad(f, 1, "iovec array");
}

static void test_cdb_outside_entry(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_cmd_entry *e;

	start(f, 0);
	e = (void *)(f->ring + put_cmd(f, 1, TUR, 6, NULL, 0, 0));
	e->req.cdb_off = MAP + 4096;
	put_cmd(f, 2, TUR, 6, NULL, 0, 0);
	publish(f);
	expect_bad(f, 1, "CDB offset");
}

static void test_cdb_runs_past_entry(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_cmd_entry *e;
	uint32_t at;

	start(f, 0);
	at = put_cmd(f, 1, TUR, 6, NULL, 0, 0);
	e = (void *)(f->ring + at);
	/* a 16-byte opcode in room for 8 */
	f->map[e->req.cdb_off] = 0x88;
	put_cmd(f, 2, TUR, 6, NULL, 0, 0);
	publish(f);
	expect_bad(f, 1, "CDB runs past");
}

static void test_more_completions_than_commands(void **state)
{
	struct fx *f = *state;
	struct lunar_tcmu_done d = { .cmd_id = 1 };

	start(f, 0);
	assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), -1);
	assert_non_null(strstr(f->r.why, "no command outstanding"));
}

/* A long run through a small ring: every offset, every wrap. */
static void test_many_wraps(void **state)
{
	struct fx *f = *state;
	const uint64_t iov[3][2] = { { 0, 4096 }, { 8192, 4096 }, { 20480, 100 } };
	const uint8_t cdb16[16] = { 0x88, [13] = 1 };
	struct lunar_tcmu_entry e;
	uint16_t id = 1;

	start(f, 0);
	for (int round = 0; round < 2000; round++) {
		uint32_t n = (uint32_t)(round % 4);
		uint32_t len = (48 + 16 * n < 112 ? 112 : 48 + 16 * n) + 16;
		uint16_t ids[3];
		int k = 0;

		for (int j = 0; j < 3; j++) {
			if (RING - f->head < len)
				put_pad(f);
			ids[k++] = id;
			put_cmd(f, id, cdb16, 16, iov, n, 0);
			id = (uint16_t)(id % 0xffff + 1);
		}
		publish(f);
		for (int j = 0; j < k; j++) {
			assert_int_equal(lunar_tcmu_ring_next(&f->r, &e), 1);
			assert_int_equal(e.cmd_id, ids[j]);
		}
		/* complete newest first */
		for (int j = k - 1; j >= 0; j--) {
			struct lunar_tcmu_done d = { .cmd_id = ids[j] };

			assert_int_equal(lunar_tcmu_ring_complete(&f->r, &d), 0);
		}
		assert_int_equal(f->mb->cmd_tail, f->head);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_checks_the_mailbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read10_decodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_iov_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bidi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_variable_length_cdb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_with_pad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdb_at_exact_ring_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_order_without_oooc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_len_needs_the_capability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_op_and_unknown_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmr_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmr_ids_past_the_entry_are_clipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_beyond_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_beyond_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_outside_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_back_into_held_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_command_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_id_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iov_beyond_data_area, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iov_into_the_command_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iov_count_beyond_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdb_outside_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdb_runs_past_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_completions_than_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_wraps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
