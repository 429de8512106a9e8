/* SPDX-License-Identifier: MIT */
/*
 * The in-process kernel side (core/sim) against the real consumer
 * (core/tcmu/ring.c): what an initiator sends arrives intact, what the
 * consumer answers comes back, through wraps, PADs, a full data area and a
 * full ring, in order and out of order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim.h"
#include "tcmu/ring.h"

struct done_log {
	int count;
};

static void on_done(struct lunar_sim_io *io)
{
	struct done_log *l = io->priv;

	l->count++;
}

static struct lunar_sim *make(uint32_t ring, uint64_t data, uint16_t caps, struct lunar_tcmu_ring *r)
{
	struct lunar_sim_params p = { .cmdr_size = ring, .data_size = data, .caps = caps };
	char err[128];
	struct lunar_sim *s = lunar_sim_create(&p, err, sizeof(err));
	uint64_t size;
	void *map;

	assert_non_null(s);
	map = lunar_sim_map(s, &size);
	assert_int_equal(lunar_tcmu_ring_init(r, map, size), 0);
	return s;
}

static void read10(uint8_t *cdb, uint32_t lba, uint16_t n)
{
	memset(cdb, 0, 10);
	cdb[0] = 0x28;
	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[7] = (uint8_t)(n >> 8);
	cdb[8] = (uint8_t)n;
}

/* Copies the request's Data-Out into buf through the iovecs. */
static uint64_t gather_out(const struct iovec *iov, uint32_t n, uint8_t *buf)
{
	uint64_t off = 0;

	for (uint32_t i = 0; i < n; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return off;
}

static void scatter_in(const struct iovec *iov, uint32_t n, const uint8_t *buf, uint64_t len)
{
	uint64_t off = 0;

	for (uint32_t i = 0; i < n && off < len; i++) {
		uint64_t m = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;

		memcpy(iov[i].iov_base, buf + off, m);
		off += m;
	}
}

static void test_write_arrives_and_read_returns(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(0, 1 << 20, 0, &r);
	struct done_log log = { 0 };
	struct lunar_sim_io w = { .done = on_done, .priv = &log }, rd = w;
	struct lunar_tcmu_entry e;
	struct iovec iov[64];
	uint8_t out[10000], got[10000], back[10000];

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	w.cdb[0] = 0x2a;
	w.data_out = out;
	w.data_out_len = sizeof(out);
	assert_int_equal(lunar_sim_submit(s, &w), 0);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_CMD);
	assert_int_equal(e.cmd_id, 1);
	assert_int_equal(e.length, sizeof(out));
	/* three 4 KiB blocks, lowest first: one merged iovec */
	assert_int_equal(e.iov_cnt, 1);
	lunar_tcmu_ring_iov(&r, &e, iov);
	assert_int_equal(gather_out(iov, e.iov_cnt, got), sizeof(out));
	assert_memory_equal(got, out, sizeof(out));
	struct lunar_tcmu_done dw = { .cmd_id = e.cmd_id };
	assert_int_equal(lunar_tcmu_ring_complete(&r, &dw), 0);
	assert_int_equal(log.count, 0);
	lunar_sim_kick(s);
	assert_int_equal(log.count, 1);
	assert_int_equal(w.result, 0);
	assert_int_equal(w.status, 0);

	/* a READ of 10000 bytes answered with 6000: READ_LEN gives a residual */
	read10(rd.cdb, 0, 20);
	rd.data_in = back;
	rd.data_in_len = sizeof(back);
	memset(back, 0xee, sizeof(back));
	assert_int_equal(lunar_sim_submit(s, &rd), 0);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	assert_int_equal(e.cmd_id, 1);		/* reused, lowest free */
	lunar_tcmu_ring_iov(&r, &e, iov);
	scatter_in(iov, e.iov_cnt, out, 6000);
	struct lunar_tcmu_done dr = { .cmd_id = e.cmd_id, .read_len = 6000 };
	assert_int_equal(lunar_tcmu_ring_complete(&r, &dr), 0);
	lunar_sim_kick(s);
	assert_int_equal(log.count, 2);
	assert_int_equal(rd.data_in_xfer, 6000);
	assert_int_equal(rd.residual, 4000);
	assert_memory_equal(back, out, 6000);
	assert_int_equal(back[6000], 0xee);	/* nothing beyond read_len */
	lunar_sim_destroy(s);
}

static void test_check_condition_carries_sense_not_data(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(0, 1 << 20, 0, &r);
	struct lunar_sim_io io = { 0 };
	struct lunar_tcmu_entry e;
	uint8_t in[512], sense[96] = { 0x70, 0, 0x03, 0, 0, 0, 0, 10, [12] = 0x11 };

	read10(io.cdb, 5, 1);
	io.data_in = in;
	io.data_in_len = sizeof(in);
	memset(in, 0xab, sizeof(in));
	lunar_sim_submit(s, &io);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	struct lunar_tcmu_done d = { .cmd_id = e.cmd_id, .status = 2, .sense = sense };
	lunar_tcmu_ring_complete(&r, &d);
	lunar_sim_kick(s);
	assert_int_equal(io.status, 2);
	assert_memory_equal(io.sense, sense, 96);
	assert_int_equal(io.data_in_xfer, 0);
	assert_int_equal(in[0], 0xab);
	lunar_sim_destroy(s);
}

static void test_unknown_op_flag(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(0, 1 << 20, 0, &r);
	struct lunar_sim_io io = { .cdb = { 0xc0 } };
	struct lunar_tcmu_entry e;

	lunar_sim_submit(s, &io);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	assert_int_equal(e.cdb_len, 10);	/* group 6: 10 bytes, as the kernel says */
	struct lunar_tcmu_done d = { .cmd_id = e.cmd_id, .unknown_op = true };
	lunar_tcmu_ring_complete(&r, &d);
	lunar_sim_kick(s);
	/* LIO completes it CHECK CONDITION without sense */
	assert_int_equal(io.status, 2);
	lunar_sim_destroy(s);
}

static void test_refused_before_the_ring(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(8192 - 128, 64 * 1024, 0, &r);
	struct done_log log = { 0 };
	struct lunar_sim_io big = { .done = on_done, .priv = &log };
	struct lunar_tcmu_entry e;
	static uint8_t buf[128 * 1024];

	/* more data than the whole data area: refused, as TCM_INVALID_CDB_FIELD */
	big.cdb[0] = 0x2a;
	big.data_out = buf;
	big.data_out_len = sizeof(buf);
	lunar_sim_submit(s, &big);
	assert_int_equal(log.count, 1);
	assert_int_equal(big.result, -EINVAL);
	assert_int_equal(big.status, 2);
	assert_int_equal(big.sense[2], 5);
	assert_int_equal(big.sense[12], 0x24);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 0);
	lunar_sim_destroy(s);
}

/* ---- the stress test ------------------------------------------------------------------- */

enum { NIO = 300, MAXLEN = 40000 };

struct stress {
	struct lunar_sim_io io[NIO];
	uint8_t *out[NIO], *in[NIO];
	uint32_t answered_len[NIO];
	int done;
};

static void stress_done(struct lunar_sim_io *io)
{
	((struct stress *)io->priv)->done++;
}

static uint32_t rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return (*seed >> 8) & 0xffffff;
}

static void run_stress(uint16_t caps, uint32_t seed)
{
	struct lunar_tcmu_ring r;
	/* a ring of 8 KiB and a data area of 128 KiB: wraps, PADs and waits */
	struct lunar_sim *s = make(8192 - 128, 128 * 1024, caps, &r);
	struct stress *st = calloc(1, sizeof(*st));
	struct { uint16_t id; struct lunar_tcmu_entry e; } held[NIO];
	int nheld = 0, submitted = 0, inflight = 0, max_inflight = 0;
	struct iovec iov[64];
	uint8_t *tmp = malloc(MAXLEN);

	while (st->done < NIO) {
		/* submit a few */
		for (int k = rnd(&seed) % 6; k > 0 && submitted < NIO; k--) {
			int i = submitted++;
			struct lunar_sim_io *io = &st->io[i];
			uint32_t kind = rnd(&seed) % 3, len = rnd(&seed) % MAXLEN;

			io->done = stress_done;
			io->priv = st;
			io->cdb[0] = kind == 0 ? 0x2a : kind == 1 ? 0x28 : 0x00;
			/* tag the CDB (bytes 2-3 exist in 6- and 10-byte CDBs) */
			io->cdb[2] = (uint8_t)(i >> 8);
			io->cdb[3] = (uint8_t)i;
			if (kind == 0) {
				st->out[i] = malloc(len + 1);
				for (uint32_t b = 0; b < len; b++)
					st->out[i][b] = (uint8_t)(i + b * 31);
				io->data_out = st->out[i];
				io->data_out_len = len;
			} else if (kind == 1) {
				st->in[i] = malloc(len + 1);
				io->data_in = st->in[i];
				io->data_in_len = len;
			}
			lunar_sim_submit(s, io);
		}
		/* consume everything published */
		for (;;) {
			struct lunar_tcmu_entry e;
			int rc = lunar_tcmu_ring_next(&r, &e);

			assert_int_not_equal(rc, -1);
			if (rc == 0)
				break;
			assert_int_equal(e.kind, LUNAR_TCMU_CMD);
			assert_true(e.cmd_id >= 1);
			held[nheld].id = e.cmd_id;
			held[nheld].e = e;
			nheld++;
			inflight++;
		}
		if (inflight > max_inflight)
			max_inflight = inflight;
		/* answer some: out of order with OOOC, oldest first without */
		for (int k = rnd(&seed) % 5 + (submitted == NIO); k > 0 && nheld; k--) {
			int pick = (caps & LUNAR_TCMU_CAP_OOOC) ? (int)(rnd(&seed) % (uint32_t)nheld) : 0;
			struct lunar_tcmu_entry *e = &held[pick].e;
			int i = e->cdb[2] << 8 | e->cdb[3];
			struct lunar_sim_io *io = &st->io[i];
			struct lunar_tcmu_done d = { .cmd_id = e->cmd_id };

			/* which io is it?  the CDB said, and the ids must agree */
			assert_int_equal(io->cmd_id, e->cmd_id);
			lunar_tcmu_ring_iov(&r, e, iov);
			if (io->cdb[0] == 0x2a) {
				assert_int_equal(e->length, io->data_out_len);
				assert_int_equal(gather_out(iov, e->iov_cnt, tmp), io->data_out_len);
				assert_memory_equal(tmp, io->data_out, io->data_out_len);
			} else if (io->cdb[0] == 0x28) {
				uint32_t n = io->data_in_len ? rnd(&seed) % io->data_in_len + 1 : 0;

				assert_int_equal(e->length, io->data_in_len);
				for (uint32_t b = 0; b < n; b++)
					tmp[b] = (uint8_t)(i ^ b);
				scatter_in(iov, e->iov_cnt, tmp, n);
				d.read_len = n;
				st->answered_len[i] = n;
			} else {
				assert_int_equal(e->iov_cnt, 0);
			}
			assert_int_equal(lunar_tcmu_ring_complete(&r, &d), 0);
			if (caps & LUNAR_TCMU_CAP_OOOC)
				held[pick] = held[--nheld];
			else
				memmove(&held[0], &held[1], sizeof(held[0]) * (size_t)--nheld);
			inflight--;
		}
		lunar_sim_kick(s);
	}
	assert_null(lunar_sim_broken(s));
	for (int i = 0; i < NIO; i++) {
		struct lunar_sim_io *io = &st->io[i];

		assert_int_equal(io->result, 0);
		assert_int_equal(io->status, 0);
		if (io->cdb[0] == 0x28) {
			uint32_t n = st->answered_len[i];

			assert_int_equal(io->data_in_xfer, n ? n : io->data_in_len);
			for (uint32_t b = 0; b < n; b++)
				assert_int_equal(st->in[i][b], (uint8_t)(i ^ b));
		}
		free(st->in[i]);
		free(st->out[i]);
	}
	/* the small data area must have made commands wait */
	assert_true(max_inflight > 1);
	free(tmp);
	free(st);
	lunar_sim_destroy(s);
}

static void test_stress_out_of_order(void **state)
{
	for (uint32_t seed = 1; seed <= 5; seed++)
		run_stress(LUNAR_TCMU_CAP_OOOC | LUNAR_TCMU_CAP_READ_LEN, seed);
}

static void test_stress_in_order(void **state)
{
	for (uint32_t seed = 11; seed <= 13; seed++)
		run_stress(LUNAR_TCMU_CAP_READ_LEN, seed);
}

/* ---- ids, queueing, TMR ------------------------------------------------------------- */

static void test_cmd_ids_are_reused_lowest_first(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(0, 1 << 20, 0, &r);
	struct lunar_sim_io io[4] = { 0 };
	struct lunar_tcmu_entry e;

	for (int i = 0; i < 4; i++)
		lunar_sim_submit(s, &io[i]);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
		assert_int_equal(e.cmd_id, i + 1);
	}
	/* finish 2 and 3 (in the slots of 1 and 2) */
	struct lunar_tcmu_done d2 = { .cmd_id = 2 }, d3 = { .cmd_id = 3 };
	lunar_tcmu_ring_complete(&r, &d2);
	lunar_tcmu_ring_complete(&r, &d3);
	lunar_sim_kick(s);
	assert_int_equal(io[1].cmd_id, 2);
	struct lunar_sim_io again = { 0 };
	lunar_sim_submit(s, &again);
	assert_int_equal(again.cmd_id, 2);
	lunar_sim_destroy(s);
}

static void test_full_ring_queues_in_order(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(8192 - 128, 64 * 1024, 0, &r);
	struct lunar_sim_io io[100] = { 0 };
	uint32_t inflight, queued;
	struct lunar_tcmu_entry e;
	int seen = 0;

	for (int i = 0; i < 100; i++) {
		io[i].cdb[2] = (uint8_t)i;
		lunar_sim_submit(s, &io[i]);
	}
	lunar_sim_counts(s, &inflight, &queued);
	assert_int_equal(inflight + queued, 100);
	assert_true(queued > 0);		/* 8 KiB of ring holds ~67 TURs */
	while (seen < 100) {
		int rc = lunar_tcmu_ring_next(&r, &e);

		assert_int_not_equal(rc, -1);
		if (rc == 0) {
			lunar_sim_kick(s);
			continue;
		}
		assert_int_equal(e.cdb[2], seen);	/* FIFO: nothing overtakes */
		seen++;
		struct lunar_tcmu_done d = { .cmd_id = e.cmd_id };
		lunar_tcmu_ring_complete(&r, &d);
	}
	lunar_sim_kick(s);
	lunar_sim_counts(s, &inflight, &queued);
	assert_int_equal(inflight + queued, 0);
	lunar_sim_destroy(s);
}

static void test_tmr_reaches_the_consumer(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(0, 1 << 20, 0, &r);
	struct lunar_sim_io a = { 0 }, b = { 0 };
	struct lunar_sim_io *abort[1] = { &b };
	struct lunar_tcmu_entry e;

	lunar_sim_submit(s, &a);
	lunar_sim_submit(s, &b);
	lunar_sim_tmr(s, LUNAR_TCMU_TMR_ABORT_TASK, abort, 1);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	assert_int_equal(e.kind, LUNAR_TCMU_TMR);
	assert_int_equal(e.tmr_type, LUNAR_TCMU_TMR_ABORT_TASK);
	assert_int_equal(e.tmr_cnt, 1);
	assert_int_equal(lunar_tcmu_tmr_id(&e, 0), b.cmd_id);
	lunar_sim_destroy(s);
	assert_int_equal(b.result, -ECANCELED);
}

static void test_bad_completion_breaks_the_ring(void **state)
{
	struct lunar_tcmu_ring r;
	struct lunar_sim *s = make(0, 1 << 20, 0, &r);
	struct lunar_sim_io a = { 0 }, b = { 0 };
	struct lunar_tcmu_entry e;

	lunar_sim_submit(s, &a);
	assert_int_equal(lunar_tcmu_ring_next(&r, &e), 1);
	/* a completion for an id the kernel never issued */
	struct lunar_tcmu_done d = { .cmd_id = 4242 };
	lunar_tcmu_ring_complete(&r, &d);
	lunar_sim_kick(s);
	assert_non_null(lunar_sim_broken(s));
	assert_non_null(strstr(lunar_sim_broken(s), "4242 not found"));
	/* like the kernel: later commands fail, LU communication failure */
	lunar_sim_submit(s, &b);
	assert_int_equal(b.result, -EIO);
	assert_int_equal(b.sense[2], 2);
	assert_int_equal(b.sense[12], 0x08);
	lunar_sim_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_arrives_and_read_returns),
		cmocka_unit_test(test_check_condition_carries_sense_not_data),
		cmocka_unit_test(test_unknown_op_flag),
		cmocka_unit_test(test_refused_before_the_ring),
		cmocka_unit_test(test_stress_out_of_order),
		cmocka_unit_test(test_stress_in_order),
		cmocka_unit_test(test_cmd_ids_are_reused_lowest_first),
		cmocka_unit_test(test_full_ring_queues_in_order),
		cmocka_unit_test(test_tmr_reaches_the_consumer),
		cmocka_unit_test(test_bad_completion_breaks_the_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
