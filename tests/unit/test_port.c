/* SPDX-License-Identifier: MIT */
/*
 * The TCMU port between a ring and a LUN's slots, driven without Lua: the
 * test plays the handler by filling slots.  What it checks is what an
 * initiator would see: short reads carry a residual, and bytes a handler
 * did not write are never stale data-area contents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lun.h"
#include "sim/sim.h"
#include "sim/transport.h"
#include "tcmu/tcmu_abi.h"

struct fx {
	struct lunar_lun *lun;
	struct lunar_sim *sim;
	struct lunar_port *port;
};

/* caps: the mailbox capabilities the sim offers (0xffff: its default) */
static struct fx *make(uint16_t caps)
{
	struct lunar_lun_config c = {
		.name = "t", .transport = LUNAR_TRANSPORT_SIM, .handler = "/dev/null",
		.size = 1 << 20, .block_size = 512, .queue_depth = 8,
		.lua_memory_limit = 1 << 20,
	};
	struct lunar_sim_params p = { .caps = caps == 0xffff ? 0 : caps, .no_caps = caps == 0 };
	struct fx *f = calloc(1, sizeof(*f));
	char err[128];

	f->lun = lunar_lun_create(&c, NULL);
	assert_non_null(f->lun);
	assert_int_equal(lunar_sim_transport_open_with(f->lun, &p, err, sizeof(err)), 0);
	f->sim = lunar_sim_of(f->lun);
	f->port = f->lun->port;
	return f;
}

static void destroy(struct fx *f)
{
	lunar_sim_transport_close(f->lun);
	lunar_lun_destroy(f->lun);
	free(f);
}

static struct lunar_cmd *drain_one(struct fx *f)
{
	f->lun->nbatch = 0;
	assert_int_equal(f->port->ops->drain(f->port), 1);
	assert_int_equal(f->lun->nbatch, 1);
	return &f->lun->slots[f->lun->batch[0]];
}

static void answer(struct fx *f, struct lunar_cmd *c)
{
	c->state = LUNAR_CMD_DONE;
	f->port->ops->complete(f->port, c);
	lunar_lun_slot_put(f->lun, c);
	f->port->ops->flush(f->port);
}

static void fill_iov(struct lunar_cmd *c, uint8_t byte, uint64_t len)
{
	for (uint32_t i = 0; i < c->iovcnt && len; i++) {
		uint64_t n = c->iov[i].iov_len < len ? c->iov[i].iov_len : len;

		memset(c->iov[i].iov_base, byte, n);
		len -= n;
	}
}

/* Leave 0xAA in the first data blocks, as an earlier WRITE would. */
static void dirty_data_area(struct fx *f)
{
	static uint8_t pattern[8192];
	struct lunar_sim_io w = { .cdb = { 0x2a }, .data_out = pattern, .data_out_len = sizeof(pattern) };
	struct lunar_cmd *c;

	memset(pattern, 0xaa, sizeof(pattern));
	lunar_sim_submit(f->sim, &w);
	c = drain_one(f);
	assert_int_equal(c->dir, LUNAR_DIR_OUT);
	assert_int_equal(c->length, sizeof(pattern));
	c->status = 0;
	answer(f, c);
	assert_int_equal(w.status, 0);
}

static void test_short_read_has_a_residual(void **state)
{
	struct fx *f = make(0xffff);
	uint8_t in[4096];
	struct lunar_sim_io r = { .cdb = { 0x28, [8] = 8 }, .data_in = in, .data_in_len = sizeof(in) };
	struct lunar_cmd *c;

	dirty_data_area(f);
	lunar_sim_submit(f->sim, &r);
	c = drain_one(f);
	assert_int_equal(c->dir, LUNAR_DIR_IN);
	fill_iov(c, 0x5a, 100);
	c->xfer = 100;
	c->status = 0;
	answer(f, c);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.data_in_xfer, 100);
	assert_int_equal(r.residual, 3996);
	for (int i = 0; i < 100; i++)
		assert_int_equal(in[i], 0x5a);
	destroy(f);
}

static void test_unwritten_read_is_zeros_not_stale(void **state)
{
	struct fx *f = make(0xffff);
	uint8_t in[4096];
	struct lunar_sim_io r = { .cdb = { 0x28, [8] = 8 }, .data_in = in, .data_in_len = sizeof(in) };
	struct lunar_cmd *c;

	dirty_data_area(f);
	lunar_sim_submit(f->sim, &r);
	c = drain_one(f);
	/* GOOD without writing a byte: READ_LEN cannot say 0, so zeros */
	c->status = 0;
	answer(f, c);
	assert_int_equal(r.data_in_xfer, 4096);
	for (int i = 0; i < 4096; i++)
		if (in[i] != 0)
			fail_msg("byte %d is 0x%02x: stale data area leaked", i, in[i]);
	destroy(f);
}

static void test_check_condition_sense_is_clean(void **state)
{
	struct fx *f = make(0xffff);
	struct lunar_sim_io t = { .cdb = { 0x00 } };
	struct lunar_cmd *c;

	lunar_sim_submit(f->sim, &t);
	c = drain_one(f);
	assert_int_equal(c->dir, LUNAR_DIR_NONE);
	/* a slot reused after a long descriptor sense: old bytes beyond */
	memset(c->sense, 0x77, sizeof(c->sense));
	lunar_cmd_set_sense(c, 5, 0x20, 0);
	answer(f, c);
	assert_int_equal(t.status, 2);
	assert_int_equal(t.sense[0], 0x70);
	assert_int_equal(t.sense[12], 0x20);
	for (int i = 18; i < 96; i++)
		assert_int_equal(t.sense[i], 0);
	destroy(f);
}

static void test_tmr_marks_and_queues(void **state)
{
	struct fx *f = make(0xffff);
	struct lunar_sim_io a = { .cdb = { 0x00 } }, b = { .cdb = { 0x00 } };
	struct lunar_sim_io *ab[1] = { &b };

	lunar_sim_submit(f->sim, &a);
	lunar_sim_submit(f->sim, &b);
	f->lun->nbatch = 0;
	assert_int_equal(f->port->ops->drain(f->port), 2);
	lunar_sim_tmr(f->sim, LUNAR_TCMU_TMR_ABORT_TASK, ab, 1);
	assert_int_equal(f->port->ops->drain(f->port), 0);
	assert_non_null(f->lun->tmrs);
	for (uint32_t i = 0; i < f->lun->nslots; i++) {
		struct lunar_cmd *c = &f->lun->slots[i];

		if (c->state == LUNAR_CMD_NEW)
			assert_int_equal(c->flags & LUNAR_CMDF_ABORTED, c->tag == b.cmd_id);
	}
	lunar_lun_drop_tmrs(f->lun);
	destroy(f);
}

static void test_run_without_handler_is_not_ready(void **state)
{
	struct fx *f = make(0xffff);
	struct lunar_sim_io t = { .cdb = { 0x00 } };

	lunar_sim_submit(f->sim, &t);
	lunar_lun_run(f->lun);	/* no generation: the LUN is not serving */
	assert_int_equal(t.status, 2);
	assert_int_equal(t.sense[2], 2);
	assert_int_equal(t.sense[12], 0x04);
	assert_int_equal(t.sense[13], 0x03);
	assert_int_equal(f->lun->stats.commands, 1);
	assert_int_equal(f->lun->stats.errors, 1);
	assert_int_equal(f->lun->nfree, f->lun->nslots);
	destroy(f);
}

static void test_slots_run_out_and_come_back(void **state)
{
	struct fx *f = make(0xffff);
	struct lunar_sim_io io[12] = { 0 };
	int first;

	for (int i = 0; i < 12; i++)
		lunar_sim_submit(f->sim, &io[i]);
	/* 8 slots: the rest stay in the ring, untouched */
	f->lun->nbatch = 0;
	first = f->port->ops->drain(f->port);
	assert_int_equal(first, 8);
	assert_int_equal(f->port->ops->drain(f->port), 0);
	for (uint32_t i = 0; i < f->lun->nbatch; i++) {
		struct lunar_cmd *c = &f->lun->slots[f->lun->batch[i]];

		c->status = 0;
		c->state = LUNAR_CMD_DONE;
		f->port->ops->complete(f->port, c);
		lunar_lun_slot_put(f->lun, c);
	}
	f->port->ops->flush(f->port);
	f->lun->nbatch = 0;
	assert_int_equal(f->port->ops->drain(f->port), 4);
	destroy(f);
}

static void test_without_read_len_the_rest_is_zeroed(void **state)
{
	struct fx *f = make(LUNAR_TCMU_CAP_OOOC);
	uint8_t in[4096];
	struct lunar_sim_io r = { .cdb = { 0x28, [8] = 8 }, .data_in = in, .data_in_len = sizeof(in) };
	struct lunar_cmd *c;

	dirty_data_area(f);
	lunar_sim_submit(f->sim, &r);
	c = drain_one(f);
	fill_iov(c, 0x5a, 100);
	c->xfer = 100;
	c->status = 0;
	answer(f, c);
	/* an old kernel returns the whole buffer: ours, then zeros */
	assert_int_equal(r.data_in_xfer, 4096);
	assert_int_equal(r.residual, 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(in[i], i < 100 ? 0x5a : 0);
	destroy(f);
}

static void count_done(struct lunar_sim_io *io)
{
	(*(int *)io->priv)++;
}

static void test_without_oooc_completions_wait_their_turn(void **state)
{
	struct fx *f = make(LUNAR_TCMU_CAP_READ_LEN);
	int a_done = 0, b_done = 0;
	struct lunar_sim_io a = { .cdb = { 0x00 }, .done = count_done, .priv = &a_done };
	struct lunar_sim_io b = { .cdb = { 0x00 }, .done = count_done, .priv = &b_done };
	struct lunar_cmd *ca, *cb;

	lunar_sim_submit(f->sim, &a);
	lunar_sim_submit(f->sim, &b);
	f->lun->nbatch = 0;
	assert_int_equal(f->port->ops->drain(f->port), 2);
	ca = &f->lun->slots[f->lun->batch[0]];
	cb = &f->lun->slots[f->lun->batch[1]];
	assert_int_equal(ca->tag, a.cmd_id);
	cb->status = 0x08;
	answer(f, cb);			/* the younger one first */
	assert_int_equal(b_done, 0);	/* held back */
	ca->status = 0;
	answer(f, ca);
	assert_int_equal(a_done, 1);
	assert_int_equal(b_done, 1);
	assert_int_equal(a.status, 0);
	assert_int_equal(b.status, 0x08);
	destroy(f);
}

/*
 * A wedged handler's command is answered (BUSY) at once, but its data
 * blocks stay the handler's: a late write from the abandoned thread must
 * not land in the next command's buffer, and the blocks come back only
 * on release().
 */
static void abandon_then_late_write(struct fx *f, uint8_t *in2)
{
	uint8_t in1[4096];
	struct lunar_sim_io r1 = { .cdb = { 0x28, [8] = 8 }, .data_in = in1, .data_in_len = 4096 };
	struct lunar_sim_io r2 = { .cdb = { 0x28, [8] = 8 }, .data_in = in2, .data_in_len = 4096 };
	struct lunar_cmd *c1, *c2;

	lunar_sim_submit(f->sim, &r1);
	c1 = drain_one(f);
	c1->status = LUNAR_BUSY;
	c1->state = LUNAR_CMD_DONE;
	f->port->ops->abandon(f->port, c1);
	f->port->ops->flush(f->port);
	assert_int_equal(r1.status, LUNAR_BUSY);	/* the initiator is not kept waiting */
	lunar_sim_submit(f->sim, &r2);
	c2 = drain_one(f);
	fill_iov(c2, 0x11, 4096);
	fill_iov(c1, 0xee, 4096);	/* the wedged thread wakes up and writes */
	c2->xfer = 4096;
	c2->status = 0;
	answer(f, c2);
	assert_int_equal(r2.status, 0);
	f->port->ops->release(f->port, c1);
	lunar_lun_slot_put(f->lun, c1);
}

static void test_abandoned_buffers_stay_kept_until_release(void **state)
{
	struct fx *f = make(0xffff);
	uint8_t in2[4096];

	abandon_then_late_write(f, in2);
	for (int i = 0; i < 4096; i++)
		if (in2[i] != 0x11)
			fail_msg("byte %d is 0x%02x: an abandoned command wrote into another's buffer",
				 i, in2[i]);
	assert_int_equal(lunar_sim_kept(f->sim), 0);	/* released */
	destroy(f);
}

/* The initiator gets BUSY at once; `kept` blocks are held until release. */
static void abandon_and_release(uint16_t caps, uint32_t kept)
{
	struct fx *f = make(caps);
	uint8_t in[4096];
	struct lunar_sim_io r = { .cdb = { 0x28, [8] = 8 }, .data_in = in, .data_in_len = 4096 };
	struct lunar_cmd *c;

	lunar_sim_submit(f->sim, &r);
	c = drain_one(f);
	c->status = LUNAR_BUSY;
	c->state = LUNAR_CMD_DONE;
	f->port->ops->abandon(f->port, c);
	f->port->ops->flush(f->port);
	assert_int_equal(r.status, LUNAR_BUSY);
	assert_int_equal(lunar_sim_kept(f->sim), kept);
	f->port->ops->release(f->port, c);
	lunar_lun_slot_put(f->lun, c);
	assert_int_equal(lunar_sim_kept(f->sim), 0);
	destroy(f);
}

static void test_abandon_holds_blocks_until_release(void **state)
{
	abandon_and_release(0xffff, 1);
}

/* A kernel without KEEP_BUF: abandon is a plain completion, release a no-op. */
static void test_abandon_without_keep_buf_completes(void **state)
{
	abandon_and_release(LUNAR_TCMU_CAP_OOOC | LUNAR_TCMU_CAP_READ_LEN, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_read_has_a_residual),
		cmocka_unit_test(test_unwritten_read_is_zeros_not_stale),
		cmocka_unit_test(test_check_condition_sense_is_clean),
		cmocka_unit_test(test_tmr_marks_and_queues),
		cmocka_unit_test(test_run_without_handler_is_not_ready),
		cmocka_unit_test(test_slots_run_out_and_come_back),
		cmocka_unit_test(test_without_read_len_the_rest_is_zeroed),
		cmocka_unit_test(test_without_oooc_completions_wait_their_turn),
		cmocka_unit_test(test_abandon_holds_blocks_until_release),
		cmocka_unit_test(test_abandoned_buffers_stay_kept_until_release),
		cmocka_unit_test(test_abandon_without_keep_buf_completes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
