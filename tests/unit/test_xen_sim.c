/* SPDX-License-Identifier: MIT */
/*
 * The Xen transport end to end without Xen: `lunar xen attach` writes the
 * nodes, the backend (core/xen) follows xenstore and serves the ring, a
 * simulated guest frontend (core/xen/front_sim.c, behaving like Linux
 * xen-scsifront) connects, and real Lua handlers answer.  What is checked
 * is what a guest sees: its disks appear and go, data written comes back,
 * an unknown LUN is DID_NO_CONNECT, ABORT and RESET end held commands
 * and answer RESET_SUCCESS, every grant is unmapped before its response,
 * and a hostile ring stops its own vhost and nothing else.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#ifdef LUNAR_HAVE_XEN
#include "luavm.h"
#include "lun.h"
#include "xen/attach.h"
#include "xen/backend.h"
#include "xen/front_sim.h"
#include "xen/xenops.h"
#include "xen/xenops_sim.h"
#include "xen/xsutil.h"

enum { GUEST = 1, NLUNS = 3, DISK = 16 << 20 };

struct fx {
	struct lunar_xen_sim *sim;
	struct lunar_xenops *be_xs;	/* lunar's connection (dom0) */
	struct lunar_xenops *tool_xs;	/* the toolstack's (lunar xen attach) */
	struct lunar_lun *luns[NLUNS];
	struct lunar_xen_backend *b;
	struct lunar_xen_front *fronts[2];
	char handler_dir[64];
};

/* A handler that keeps opcode 0xC0 until it is aborted, and never answers
 * the abort itself: the core must. */
static const char *held_handler =
	"local lunar = require 'lunar'\n"
	"local M = {}\n"
	"function M.command(lun, cmd)\n"
	"   if cmd.cdb[0] == 0xC0 then cmd:defer() return end\n"
	"   if cmd.cdb[0] == 0x00 then return cmd:good() end\n"
	"   error(lunar.sense.invalid_opcode())\n"
	"end\n"
	"function M.abort(lun, cmd, t) end\n"
	"return M\n";

static struct lunar_lun *make_lun(const char *name, const char *handler)
{
	struct lunar_lun_config c = {
		.name = (char *)name, .transport = LUNAR_TRANSPORT_XEN, .handler = (char *)handler,
		.size = DISK, .block_size = 512, .queue_depth = 4,
		.lua_memory_limit = 64 << 20,
	};
	struct lunar_lun *lun = lunar_lun_create(&c, NULL);
	char err[512];

	assert_non_null(lun);
	lun->gen = lunar_gen_create(lun, err, sizeof(err));
	if (!lun->gen)
		fail_msg("%s: %s", name, err);
	lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "%s", "");
	return lun;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *src = getenv("LUNAR_SOURCE_DIR");
	char hello[512], held[128], err[256];
	FILE *h;

	snprintf(hello, sizeof(hello), "%s/examples/hello.lua", src ? src : ".");
	snprintf(f->handler_dir, sizeof(f->handler_dir), "/tmp/lunar-xen-test-XXXXXX");
	assert_non_null(mkdtemp(f->handler_dir));
	snprintf(held, sizeof(held), "%s/held.lua", f->handler_dir);
	h = fopen(held, "w");
	assert_non_null(h);
	fputs(held_handler, h);
	fclose(h);
	f->sim = lunar_xen_sim_create(16 + 8 * 1024 + 64);
	assert_non_null(f->sim);
	f->be_xs = lunar_xenops_sim_open(f->sim, 0);
	f->tool_xs = lunar_xenops_sim_open(f->sim, 0);
	f->luns[0] = make_lun("disk0", hello);
	f->luns[1] = make_lun("disk1", hello);
	f->luns[2] = make_lun("held", held);
	f->b = lunar_xen_backend_create(f->be_xs, f->luns, NLUNS, err, sizeof(err));
	assert_non_null(f->b);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	lunar_xen_backend_quiesce(f->b);
	lunar_xen_backend_destroy(f->b);
	for (int i = 0; i < 2; i++)
		lunar_xen_front_destroy(f->fronts[i]);
	for (int i = 0; i < NLUNS; i++) {
		lunar_lun_detach(f->luns[i]);
		lunar_gen_destroy(f->luns[i]->gen);
		lunar_lun_destroy(f->luns[i]);
	}
	/* every mapping the backend made is gone */
	assert_int_equal(lunar_xen_sim_mapped(f->sim), 0);
	f->be_xs->vt->close(f->be_xs);
	f->tool_xs->vt->close(f->tool_xs);
	lunar_xen_sim_destroy(f->sim);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->handler_dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", f->handler_dir);
	free(f);
	return 0;
}

/* ---- driving both sides --------------------------------------------------------- */

typedef bool (*cond_fn)(struct fx *f, void *arg);

/*
 * Runs the backend's and the frontends' event handling until cond holds.
 * The bound only keeps a broken build from hanging: nothing is timed.
 */
static bool pump(struct fx *f, cond_fn cond, void *arg)
{
	for (int i = 0; i < 3000; i++) {
		struct pollfd p[3] = { { .fd = lunar_xen_backend_fd(f->b), .events = POLLIN } };
		int n = 1;

		if (cond(f, arg))
			return true;
		for (int k = 0; k < 2; k++)
			if (f->fronts[k])
				p[n++] = (struct pollfd){ .fd = lunar_xen_front_fd(f->fronts[k]),
							  .events = POLLIN };
		poll(p, (nfds_t)n, 10);
		lunar_xen_backend_event(f->b);
		for (int k = 0; k < 2; k++)
			if (f->fronts[k])
				lunar_xen_front_step(f->fronts[k]);
	}
	return cond(f, arg);
}

/* Lets both sides run a while (to see that something does NOT happen). */
static void settle(struct fx *f)
{
	for (int i = 0; i < 5; i++) {
		struct pollfd p = { .fd = lunar_xen_backend_fd(f->b), .events = POLLIN };

		poll(&p, 1, 10);
		lunar_xen_backend_event(f->b);
		for (int k = 0; k < 2; k++)
			if (f->fronts[k])
				lunar_xen_front_step(f->fronts[k]);
	}
}

static bool io_done(struct fx *f, void *arg)
{
	return ((struct lunar_xen_front_io *)arg)->done;
}

struct st {
	const char *dir;
	const char *node;
	long want;
};

static bool node_is(struct fx *f, void *arg)
{
	struct st *s = arg;

	return lunar_xs_read_int(f->tool_xs, s->dir, s->node, -1) == s->want;
}

struct disk {
	int front;
	uint16_t t;
	bool present;
};

static bool disk_is(struct fx *f, void *arg)
{
	struct disk *d = arg;

	return lunar_xen_front_has(f->fronts[d->front], 0, d->t, 0) == d->present;
}

static bool front_state_is(struct fx *f, void *arg)
{
	struct st *s = arg;

	return lunar_xen_front_state(f->fronts[s->want >> 8]) == (s->want & 0xff);
}

static void be_path(char *out, size_t len, const char *vhost)
{
	snprintf(out, len, "/local/domain/0/backend/%s/%d/%s", LUNAR_XEN_DEFAULT_TYPE, GUEST, vhost);
}

static struct lunar_xen_target target(const char *vhost)
{
	return (struct lunar_xen_target){ .domid = GUEST, .vhost = vhost,
					  .type = LUNAR_XEN_DEFAULT_TYPE, .be_domid = 0 };
}

/* Attaches p_dev at 0:0:t:0 on vhost and brings frontend k up. */
static void connect_front(struct fx *f, int k, const char *vhost, const char *p_dev, unsigned t)
{
	struct lunar_xen_target tg = target(vhost);
	struct lunar_xen_dev_spec d = { .p_dev = p_dev, .t = t };
	struct disk want = { .front = k, .t = (uint16_t)t, .present = true };
	char err[256], be[160], dev[200];

	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d, 1, err, sizeof(err)), 0);
	f->fronts[k] = lunar_xen_front_create(f->sim, GUEST, vhost);
	assert_non_null(f->fronts[k]);
	assert_null(lunar_xen_front_error(f->fronts[k]));
	assert_true(pump(f, disk_is, &want));
	be_path(be, sizeof(be), vhost);
	{
		struct st s = { be, "state", 4 };

		assert_true(pump(f, node_is, &s));
	}
	snprintf(dev, sizeof(dev), "%s/vscsi-devs/dev-0", be);
	{
		struct st s = { dev, "state", 4 };

		assert_true(pump(f, node_is, &s));
	}
}

/* Grant mappings the backend holds beyond the ring pages of connected
 * frontends. */
static uint32_t data_mapped(struct fx *f)
{
	uint32_t rings = 0;

	for (int k = 0; k < 2; k++)
		rings += f->fronts[k] && lunar_xen_front_state(f->fronts[k]) == 4;
	return lunar_xen_sim_mapped(f->sim) - rings;
}

static void run(struct fx *f, int k, struct lunar_xen_front_io *io)
{
	assert_int_equal(lunar_xen_front_submit(f->fronts[k], io), 0);
	assert_true(pump(f, io_done, io));
	/* it could end every grant of the request when the answer came */
	assert_null(lunar_xen_front_error(f->fronts[k]));
	assert_int_equal(data_mapped(f), 0);
}

static void rw10(struct lunar_xen_front_io *io, uint8_t op, uint32_t lba, void *buf, uint32_t len,
		 uint16_t t)
{
	uint32_t n = len / 512;

	memset(io, 0, sizeof(*io));
	io->cdb[0] = op;
	io->cdb[2] = (uint8_t)(lba >> 24);
	io->cdb[3] = (uint8_t)(lba >> 16);
	io->cdb[4] = (uint8_t)(lba >> 8);
	io->cdb[5] = (uint8_t)lba;
	io->cdb[7] = (uint8_t)(n >> 8);
	io->cdb[8] = (uint8_t)n;
	io->cdb_len = 10;
	io->buf = buf;
	io->len = len;
	io->tgt = t;
	io->dma = op == 0x2a ? LUNAR_VSCSI_DMA_TO_DEVICE : LUNAR_VSCSI_DMA_FROM_DEVICE;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_guest_sees_the_lun_and_its_inquiry(void **state)
{
	struct fx *f = *state;
	uint8_t buf[96];
	struct lunar_xen_front_io io = { .cdb = { 0x12, 0, 0, 0, 96, 0 }, .cdb_len = 6,
					 .dma = LUNAR_VSCSI_DMA_FROM_DEVICE, .buf = buf,
					 .len = sizeof(buf) };
	char be[160];

	connect_front(f, 0, "0", "disk0", 0);
	be_path(be, sizeof(be), "0");
	/* what the backend announced */
	assert_int_equal(lunar_xs_read_int(f->tool_xs, be, "feature-sg-grant", -1), LUNAR_VSCSI_SG_MAX);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	assert_memory_equal(buf + 8, "LUNAR   ", 8);
	/* 36 bytes of INQUIRY data in a 96-byte buffer */
	assert_int_equal(io.residual, 96 - 36);
}

static void test_written_data_reads_back_direct_and_indirect(void **state)
{
	struct fx *f = *state;
	static uint8_t out[1 << 20], in[1 << 20];
	struct lunar_xen_front_io io;
	const uint32_t sizes[] = { 4096, 65536, 1 << 20 };

	connect_front(f, 0, "0", "disk0", 0);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 131 + (i >> 12));
	for (size_t k = 0; k < 3; k++) {
		for (int indirect = 0; indirect < 2; indirect++) {
			uint32_t len = sizes[k], lba = (uint32_t)(k * 4096 + indirect * 2048);

			rw10(&io, 0x2a, lba, out, len, 0);
			io.indirect = indirect;
			/* segments off page start, where the pages suffice */
			io.page_off = indirect || len == sizes[2] ? 0 : 512;
			run(f, 0, &io);
			assert_int_equal(io.rslt, 0);
			memset(in, 0, len);
			rw10(&io, 0x28, lba, in, len, 0);
			io.indirect = indirect;
			io.page_off = indirect && len != sizes[2] ? 1024 : 0;
			run(f, 0, &io);
			assert_int_equal(io.rslt, 0);
			assert_int_equal(io.residual, 0);
			assert_memory_equal(in, out, len);
		}
	}
}

static void test_unknown_lun_is_no_connect_and_unknown_opcode_is_5_20_00(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	struct lunar_xen_front_io io = { .cdb = { 0x00 }, .cdb_len = 6,
					 .dma = LUNAR_VSCSI_DMA_NONE, .tgt = 5 };

	connect_front(f, 0, "0", "disk0", 0);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 1 << 16);	/* DID_NO_CONNECT */
	memset(&io, 0, sizeof(io));
	io.cdb[0] = 0xa0;	/* REPORT LUNS: hello.lua does not know it */
	io.cdb[9] = 64;
	io.cdb_len = 12;
	io.dma = LUNAR_VSCSI_DMA_FROM_DEVICE;
	io.buf = buf;
	io.len = sizeof(buf);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 2);	/* CHECK CONDITION, host OK */
	assert_true(io.sense_len >= 14);
	assert_int_equal(io.sense[2] & 0xf, 5);
	assert_int_equal(io.sense[12], 0x20);
	assert_int_equal(io.residual, sizeof(buf));
}

static void test_abort_ends_a_held_command_then_answers(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_front_io held = { .cdb = { 0xc0 }, .cdb_len = 6,
					   .dma = LUNAR_VSCSI_DMA_NONE };
	struct lunar_xen_front_io ab;

	connect_front(f, 0, "0", "held", 0);
	assert_int_equal(lunar_xen_front_submit(f->fronts[0], &held), 0);
	/* the handler holds it */
	settle(f);
	assert_false(held.done);
	assert_int_equal(lunar_xen_front_abort(f->fronts[0], &held, &ab), 0);
	assert_true(pump(f, io_done, &ab));
	/* the command was answered before the abort was */
	assert_true(held.done);
	assert_int_equal(held.rslt, 0x40);	/* TASK ABORTED */
	assert_int_equal(ab.rslt, LUNAR_VSCSI_RESET_SUCCESS);
	assert_null(lunar_xen_front_error(f->fronts[0]));
	/* an abort of what is already answered succeeds at once */
	assert_int_equal(lunar_xen_front_abort(f->fronts[0], &held, &ab), 0);
	assert_true(pump(f, io_done, &ab));
	assert_int_equal(ab.rslt, LUNAR_VSCSI_RESET_SUCCESS);
}

static void test_reset_ends_every_held_command(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_front_io held[6], rs, tur = { .cdb = { 0 }, .cdb_len = 6,
						      .dma = LUNAR_VSCSI_DMA_NONE };

	connect_front(f, 0, "0", "held", 0);
	/* 6 held commands for a LUN with 4 slots: 2 wait in the port */
	for (int i = 0; i < 6; i++) {
		held[i] = (struct lunar_xen_front_io){ .cdb = { 0xc0 }, .cdb_len = 6,
						       .dma = LUNAR_VSCSI_DMA_NONE };
		assert_int_equal(lunar_xen_front_submit(f->fronts[0], &held[i]), 0);
	}
	settle(f);
	assert_false(held[0].done);
	assert_int_equal(lunar_xen_front_reset(f->fronts[0], 0, 0, 0, &rs), 0);
	assert_true(pump(f, io_done, &rs));
	assert_int_equal(rs.rslt, LUNAR_VSCSI_RESET_SUCCESS);
	for (int i = 0; i < 6; i++) {
		assert_true(held[i].done);
		assert_int_equal(held[i].rslt, 0x40);
	}
	/* the LUN serves on */
	run(f, 0, &tur);
	assert_int_equal(tur.rslt, 0);
	/* a reset of a LUN that is not there fails */
	assert_int_equal(lunar_xen_front_reset(f->fronts[0], 0, 9, 0, &rs), 0);
	assert_true(pump(f, io_done, &rs));
	assert_int_equal(rs.rslt, LUNAR_VSCSI_RESET_FAILED);
}

static void test_reset_spares_commands_sent_after_it(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_front_io before = { .cdb = { 0xc0 }, .cdb_len = 6,
					     .dma = LUNAR_VSCSI_DMA_NONE };
	struct lunar_xen_front_io after = before, rs, ab;

	connect_front(f, 0, "0", "held", 0);
	assert_int_equal(lunar_xen_front_submit(f->fronts[0], &before), 0);
	settle(f);
	/* the reset and a new command in the same batch of the ring */
	assert_int_equal(lunar_xen_front_reset(f->fronts[0], 0, 0, 0, &rs), 0);
	assert_int_equal(lunar_xen_front_submit(f->fronts[0], &after), 0);
	assert_true(pump(f, io_done, &rs));
	assert_int_equal(rs.rslt, LUNAR_VSCSI_RESET_SUCCESS);
	assert_true(before.done);
	assert_int_equal(before.rslt, 0x40);
	settle(f);
	assert_false(after.done);
	/* the later one is still the handler's, until it is aborted itself */
	assert_int_equal(lunar_xen_front_abort(f->fronts[0], &after, &ab), 0);
	assert_true(pump(f, io_done, &ab));
	assert_true(after.done);
	assert_int_equal(after.rslt, 0x40);
}

static void test_hot_add_and_remove_a_lun(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_target tg = target("0");
	struct lunar_xen_dev_spec d = { .p_dev = "disk1", .t = 1 };
	struct disk added = { .front = 0, .t = 1, .present = true };
	struct disk gone = { .front = 0, .t = 1, .present = false };
	const char *names[] = { "disk1" };
	struct lunar_xen_front_io io = { .cdb = { 0 }, .cdb_len = 6, .dma = LUNAR_VSCSI_DMA_NONE,
					 .tgt = 1 };
	char err[256], be[160];

	connect_front(f, 0, "0", "disk0", 0);
	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d, 1, err, sizeof(err)), 0);
	assert_true(pump(f, disk_is, &added));
	be_path(be, sizeof(be), "0");
	{
		struct st s = { be, "state", 4 };

		assert_true(pump(f, node_is, &s));
	}
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	assert_int_equal(lunar_xen_detach(f->tool_xs, &tg, names, 1, err, sizeof(err)), 0);
	assert_true(pump(f, disk_is, &gone));
	{
		char dev[200];
		struct st s = { dev, "state", 6 };

		snprintf(dev, sizeof(dev), "%s/vscsi-devs/dev-1", be);
		assert_true(pump(f, node_is, &s));
		s = (struct st){ be, "state", 4 };
		assert_true(pump(f, node_is, &s));
	}
	assert_int_equal(lunar_xen_detach_cleanup(f->tool_xs, &tg, false, false), 1);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 1 << 16);
	/* disk0 is still there */
	io.tgt = 0;
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	/* and disk1 can come back */
	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d, 1, err, sizeof(err)), 0);
	assert_true(pump(f, disk_is, &added));
	io.tgt = 1;
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
}

static void test_attach_without_v_dev_takes_the_next_target(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_target tg = target("0");
	struct lunar_xen_dev_spec d0 = { .p_dev = "disk0", .auto_vdev = true };
	struct lunar_xen_dev_spec d1 = { .p_dev = "disk1", .auto_vdev = true };
	struct disk first = { .front = 0, .t = 0, .present = true };
	struct disk second = { .front = 0, .t = 1, .present = true };
	char err[256];

	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d0, 1, err, sizeof(err)), 0);
	f->fronts[0] = lunar_xen_front_create(f->sim, GUEST, "0");
	assert_true(pump(f, disk_is, &first));
	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d1, 1, err, sizeof(err)), 0);
	assert_true(pump(f, disk_is, &second));
	/* a p-dev no LUN has: the device fails, the vhost goes on */
	d1.p_dev = "nosuch";
	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d1, 1, err, sizeof(err)), 0);
	{
		char dev[200];
		struct st s = { dev, "state", 6 };

		be_path(dev, sizeof(dev), "0");
		strcat(dev, "/vscsi-devs/dev-2");
		assert_true(pump(f, node_is, &s));
	}
	assert_false(lunar_xen_front_has(f->fronts[0], 0, 2, 0));
	assert_true(lunar_xen_front_has(f->fronts[0], 0, 1, 0));
	/* a LUN serves one vhost at a time: disk0 on a second vhost fails */
	{
		struct lunar_xen_target tg1 = target("1");
		char dev[200];
		struct st s = { dev, "state", 6 };

		d0.auto_vdev = true;
		assert_int_equal(lunar_xen_attach(f->tool_xs, &tg1, &d0, 1, err, sizeof(err)), 0);
		f->fronts[1] = lunar_xen_front_create(f->sim, GUEST, "1");
		be_path(dev, sizeof(dev), "1");
		strcat(dev, "/vscsi-devs/dev-0");
		assert_true(pump(f, node_is, &s));
		assert_false(lunar_xen_front_has(f->fronts[1], 0, 0, 0));
	}
}

static void test_close_detach_and_attach_again(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_target tg = target("0");
	struct lunar_xen_front_io io = { .cdb = { 0 }, .cdb_len = 6, .dma = LUNAR_VSCSI_DMA_NONE };
	struct st closed = { NULL, "state", 6 };
	char err[256], be[160];

	connect_front(f, 0, "0", "disk0", 0);
	be_path(be, sizeof(be), "0");
	closed.dir = be;
	/* the toolstack takes the vhost away: the guest closes, then the backend */
	assert_int_equal(lunar_xen_detach(f->tool_xs, &tg, NULL, 0, err, sizeof(err)), 0);
	assert_true(pump(f, node_is, &closed));
	assert_int_equal(lunar_xen_front_state(f->fronts[0]), 6);
	assert_int_equal(lunar_xen_detach_cleanup(f->tool_xs, &tg, true, false), 1);
	{
		struct st gone = { be, "state", -1 };

		assert_true(pump(f, node_is, &gone));
	}
	lunar_xen_front_destroy(f->fronts[0]);
	f->fronts[0] = NULL;
	/* the LUN is free again: a new vhost serves it */
	connect_front(f, 0, "0", "disk0", 0);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	/* the guest unloads its driver: Closing, the backend follows */
	lunar_xen_front_close(f->fronts[0]);
	{
		struct st s = { be, "state", 5 };
		struct st fe6 = { NULL, NULL, 6 };

		assert_true(pump(f, node_is, &s));
		assert_true(pump(f, front_state_is, &fe6));
	}
}

static void test_a_restarted_backend_closes_what_it_did_not_set_up(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_target tg = target("0");
	struct lunar_xen_front_io io = { .cdb = { 0 }, .cdb_len = 6, .dma = LUNAR_VSCSI_DMA_NONE };
	char err[256], be[160];

	connect_front(f, 0, "0", "disk0", 0);
	be_path(be, sizeof(be), "0");
	/* lunar goes away without a word to xenstore (as if killed), and
	 * starts again */
	lunar_xen_backend_destroy(f->b);
	f->b = lunar_xen_backend_create(f->be_xs, f->luns, NLUNS, err, sizeof(err));
	assert_non_null(f->b);
	{
		/* it tells the frontend to close, the frontend does */
		struct st s = { be, "state", 6 };

		assert_true(pump(f, node_is, &s));
		assert_int_equal(lunar_xen_front_state(f->fronts[0]), 6);
	}
	/* detach and attach: connected again, and serving */
	assert_int_equal(lunar_xen_detach(f->tool_xs, &tg, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(lunar_xen_detach_cleanup(f->tool_xs, &tg, true, false), 1);
	lunar_xen_front_destroy(f->fronts[0]);
	f->fronts[0] = NULL;
	connect_front(f, 0, "0", "disk0", 0);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
}

/* A vhost whose frontend turns hostile stops; another keeps serving. */
typedef void (*build_fn)(struct fx *f, struct lunar_vscsi_wire_req *w, uint32_t *prod);

static void hostile(struct fx *f, build_fn build)
{
	struct lunar_xen_front_io io = { .cdb = { 0 }, .cdb_len = 6, .dma = LUNAR_VSCSI_DMA_NONE };
	struct lunar_vscsi_wire_req w = { .rqid = 3, .act = LUNAR_VSCSI_ACT_CDB, .cmd_len = 6,
					  .dir = LUNAR_VSCSI_DMA_NONE };
	uint32_t prod = 0;
	char be[160];
	struct st closing = { be, "state", 5 };

	connect_front(f, 0, "0", "disk0", 0);
	connect_front(f, 1, "1", "disk1", 0);
	build(f, &w, &prod);
	if (prod)
		lunar_xen_front_raw_prod(f->fronts[0], prod);
	else
		lunar_xen_front_raw(f->fronts[0], &w, NULL);
	be_path(be, sizeof(be), "0");
	assert_true(pump(f, node_is, &closing));
	/* only the other vhost's ring is still mapped */
	assert_int_equal(lunar_xen_sim_mapped(f->sim), 1);
	/* the other vhost of the guest is untouched */
	run(f, 1, &io);
	assert_int_equal(io.rslt, 0);
	assert_int_equal(atomic_load(&f->luns[1]->state), LUNAR_LUN_SERVING);
}

static void prod_far_ahead(struct fx *f, struct lunar_vscsi_wire_req *w, uint32_t *prod)
{
	*prod = 0x40000000;
}

static void cmd_len_200(struct fx *f, struct lunar_vscsi_wire_req *w, uint32_t *prod)
{
	w->cmd_len = 200;
}

static void nr_segments_255(struct fx *f, struct lunar_vscsi_wire_req *w, uint32_t *prod)
{
	w->dir = LUNAR_VSCSI_DMA_FROM_DEVICE;
	w->nr_segments = 255;
}

static void offset_4095_length_2(struct fx *f, struct lunar_vscsi_wire_req *w, uint32_t *prod)
{
	w->dir = LUNAR_VSCSI_DMA_FROM_DEVICE;
	w->nr_segments = 1;
	w->seg[0] = (struct lunar_vscsi_seg){ .gref = 9, .offset = 4095, .length = 2 };
}

static void descriptor_past_its_page(struct fx *f, struct lunar_vscsi_wire_req *w, uint32_t *prod)
{
	struct lunar_vscsi_seg *d;
	uint8_t *mem;

	w->dir = LUNAR_VSCSI_DMA_FROM_DEVICE;
	w->nr_segments = LUNAR_VSCSI_SG_GRANT | 1;
	w->seg[0].gref = lunar_xen_front_grant_page(f->fronts[0], true, &mem);
	w->seg[0].length = 16;
	d = (struct lunar_vscsi_seg *)mem;
	d[0] = (struct lunar_vscsi_seg){ .gref = 9, .offset = 0, .length = 4096 };
	d[1] = (struct lunar_vscsi_seg){ .gref = 9, .offset = 4000, .length = 200 };
}

static void test_hostile_prod_far_ahead(void **state)
{
	hostile(*state, prod_far_ahead);
}

static void test_hostile_cmd_len_200(void **state)
{
	hostile(*state, cmd_len_200);
}

static void test_hostile_nr_segments_255(void **state)
{
	hostile(*state, nr_segments_255);
}

static void test_hostile_segment_offset_4095_length_2(void **state)
{
	hostile(*state, offset_4095_length_2);
}

static void test_hostile_indirect_descriptor_past_its_page(void **state)
{
	hostile(*state, descriptor_past_its_page);
}

/* The guest's own xenstore nodes are untrusted too. */
static void test_hostile_ring_ref_and_event_channel(void **state)
{
	struct fx *f = *state;
	struct lunar_xenops *guest = lunar_xenops_sim_open(f->sim, GUEST);
	const char *bad[][2] = { { "ring-ref", "junk" }, { "ring-ref", "99999999999" },
				 { "ring-ref", "60000" }, { "event-channel", "-1" },
				 { "event-channel", "63" } };
	struct lunar_xen_front_io io = { .cdb = { 0 }, .cdb_len = 6, .dma = LUNAR_VSCSI_DMA_NONE };

	assert_non_null(guest);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lunar_xen_target tg = target("0");
		struct lunar_xen_dev_spec d = { .p_dev = "disk0" };
		char err[256], be[160], node[200];
		struct st closing = { be, "state", 5 };

		assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d, 1, err, sizeof(err)), 0);
		f->fronts[0] = lunar_xen_front_create(f->sim, GUEST, "0");
		assert_non_null(f->fronts[0]);
		/* the guest rewrites a node before the backend looked */
		snprintf(node, sizeof(node), "/local/domain/%d/device/vscsi/0/%s", GUEST, bad[i][0]);
		assert_int_equal(guest->vt->xs_write(guest, LUNAR_XS_NULL, node, bad[i][1]), 0);
		be_path(be, sizeof(be), "0");
		assert_true(pump(f, node_is, &closing));
		assert_int_equal(lunar_xen_sim_mapped(f->sim), 0);
		/* gone again, for the next round */
		lunar_xen_detach(f->tool_xs, &tg, NULL, 0, err, sizeof(err));
		lunar_xen_detach_cleanup(f->tool_xs, &tg, true, true);
		{
			struct st gone = { be, "state", -1 };

			assert_true(pump(f, node_is, &gone));
		}
		lunar_xen_front_destroy(f->fronts[0]);
		f->fronts[0] = NULL;
	}
	guest->vt->close(guest);
	/* and a good guest still gets its disk */
	connect_front(f, 0, "0", "disk0", 0);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
}

static struct lunar_vscsi_wire_req tur_req(uint16_t rqid)
{
	return (struct lunar_vscsi_wire_req){ .rqid = rqid, .act = LUNAR_VSCSI_ACT_CDB,
					      .cmd_len = 6, .dir = LUNAR_VSCSI_DMA_NONE };
}

static void test_grants_that_do_not_map_are_refused_cleanly(void **state)
{
	struct fx *f = *state;
	struct lunar_vscsi_wire_req w = tur_req(15);
	struct lunar_xen_front_io io, tur = { .cdb = { 0 }, .cdb_len = 6,
					      .dma = LUNAR_VSCSI_DMA_NONE };
	uint8_t *mem;

	connect_front(f, 0, "0", "disk0", 0);
	/* a grant reference nobody granted */
	w.cdb[0] = 0x28;
	w.cdb[8] = 1;
	w.cmd_len = 10;
	w.dir = LUNAR_VSCSI_DMA_FROM_DEVICE;
	w.nr_segments = 1;
	w.seg[0] = (struct lunar_vscsi_seg){ .gref = 60000, .offset = 0, .length = 512 };
	lunar_xen_front_raw(f->fronts[0], &w, &io);
	assert_true(pump(f, io_done, &io));
	assert_int_equal(io.rslt, 7 << 16);	/* DID_ERROR */
	/* a read into a page granted read-only */
	w.rqid = 14;
	w.seg[0].gref = lunar_xen_front_grant_page(f->fronts[0], true, &mem);
	lunar_xen_front_raw(f->fronts[0], &w, &io);
	assert_true(pump(f, io_done, &io));
	assert_int_equal(io.rslt, 7 << 16);
	/* READ with a Data-Out buffer: the handler would write a read-only page */
	w.rqid = 13;
	w.dir = LUNAR_VSCSI_DMA_TO_DEVICE;
	lunar_xen_front_raw(f->fronts[0], &w, &io);
	assert_true(pump(f, io_done, &io));
	assert_int_equal(io.rslt, 7 << 16);
	assert_int_equal(data_mapped(f), 0);
	/* and the vhost serves on */
	run(f, 0, &tur);
	assert_int_equal(tur.rslt, 0);
}

/*
 * Requests go through the vhost's bounce buffers by grant copy (up to
 * LUNAR_XEN_COPY_MAX bytes, every request by default), larger ones are
 * mapped; a Xen that cannot copy gets every request mapped.  The guest
 * sees the same bytes either way, and a Data-In shorter than its buffer
 * leaves the rest of the buffer as the guest had it.
 */
static void roundtrip(struct fx *f, uint32_t len, uint32_t lba)
{
	static uint8_t out[1 << 20], in[1 << 20];
	struct lunar_xen_front_io io;

	for (uint32_t i = 0; i < len; i++)
		out[i] = (uint8_t)(i * 7 + lba);
	rw10(&io, 0x2a, lba, out, len, 0);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	memset(in, 0, len);
	rw10(&io, 0x28, lba, in, len, 0);
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	assert_int_equal(io.residual, 0);
	assert_memory_equal(in, out, len);
}

static void short_inquiry_keeps_the_rest(struct fx *f)
{
	uint8_t buf[96];
	struct lunar_xen_front_io io = { .cdb = { 0x12, 0, 0, 0, 96, 0 }, .cdb_len = 6,
					 .dma = LUNAR_VSCSI_DMA_FROM_DEVICE, .buf = buf,
					 .len = sizeof(buf) };

	memset(buf, 0xa5, sizeof(buf));
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	assert_int_equal(io.residual, 96 - 36);
	assert_memory_equal(buf + 8, "LUNAR   ", 8);
	for (int i = 36; i < 96; i++)
		assert_int_equal(buf[i], 0xa5);
}

static void test_requests_by_grant_copy_up_to_copy_max(void **state)
{
	struct fx *f = *state;
	uint64_t c0, c1, c2, fails;

	connect_front(f, 0, "0", "disk0", 0);
	c0 = lunar_xen_sim_copies(f->sim, &fails);
	roundtrip(f, 4096, 100);
	c1 = lunar_xen_sim_copies(f->sim, &fails);
	/* a page each way */
	assert_int_equal(c1 - c0, 2);
	roundtrip(f, 1 << 20, 400);
	c2 = lunar_xen_sim_copies(f->sim, &fails);
	/* 256 pages each way, and the indirect descriptor pages */
	assert_true(c2 - c1 >= 2 * 256);
	assert_int_equal(fails, 0);
	short_inquiry_keeps_the_rest(f);
}

static void test_requests_past_copy_max_are_mapped(void **state)
{
	struct fx *f = *state;
	uint64_t c1, c2, fails;

	/* read when the vhost connects */
	setenv("LUNAR_XEN_COPY_MAX", "65536", 1);
	connect_front(f, 0, "0", "disk0", 0);
	unsetenv("LUNAR_XEN_COPY_MAX");
	c1 = lunar_xen_sim_copies(f->sim, &fails);
	roundtrip(f, 64 << 10, 200);
	c2 = lunar_xen_sim_copies(f->sim, &fails);
	/* 16 pages each way (and the indirect descriptor pages) */
	assert_true(c2 - c1 >= 2 * 16);
	roundtrip(f, 1 << 20, 400);
	/* mapped: only its descriptor page (one per request) is copied */
	assert_int_equal(lunar_xen_sim_copies(f->sim, &fails), c2 + 2);
	assert_int_equal(fails, 0);
	short_inquiry_keeps_the_rest(f);
}

static void test_a_xen_without_grant_copy_maps_everything(void **state)
{
	struct fx *f = *state;
	uint64_t c0, fails;

	lunar_xen_sim_no_copy(f->sim, true);
	connect_front(f, 0, "0", "disk0", 0);
	c0 = lunar_xen_sim_copies(f->sim, &fails);
	roundtrip(f, 4096, 100);
	roundtrip(f, 64 << 10, 200);
	short_inquiry_keeps_the_rest(f);
	assert_int_equal(lunar_xen_sim_copies(f->sim, &fails), c0);
}

/*
 * A config reload removes a LUN a guest uses: the guest loses the disk
 * (the LUN can be destroyed at once), the vhost and its other LUNs go on;
 * a LUN a reload adds can be attached like any other.
 */
static void test_config_reload_removes_and_adds_luns(void **state)
{
	struct fx *f = *state;
	struct lunar_xen_target tg = target("0");
	struct lunar_xen_dev_spec d1 = { .p_dev = "disk1", .t = 1 };
	struct lunar_xen_dev_spec d9 = { .p_dev = "disk9", .t = 2 };
	struct disk has1 = { .front = 0, .t = 1, .present = true };
	struct disk gone1 = { .front = 0, .t = 1, .present = false };
	struct disk has9 = { .front = 0, .t = 2, .present = true };
	struct lunar_xen_front_io io = { .cdb = { 0 }, .cdb_len = 6, .dma = LUNAR_VSCSI_DMA_NONE };
	struct lunar_lun *lun9, *dup;
	char err[256], be[160], hello[512];
	const char *src = getenv("LUNAR_SOURCE_DIR");

	connect_front(f, 0, "0", "disk0", 0);
	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d1, 1, err, sizeof(err)), 0);
	assert_true(pump(f, disk_is, &has1));
	be_path(be, sizeof(be), "0");
	{
		struct st s = { be, "state", 4 };

		assert_true(pump(f, node_is, &s));
	}
	io.tgt = 1;
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);

	/* disk1 leaves the configuration */
	lunar_xen_backend_remove_lun(f->b, f->luns[1]);
	assert_null(f->luns[1]->port);
	assert_true(pump(f, disk_is, &gone1));
	{
		struct st s = { be, "state", 4 };

		/* Reconfiguring, Reconfigured, Connected again */
		assert_true(pump(f, node_is, &s));
	}
	assert_null(lunar_xen_front_error(f->fronts[0]));
	run(f, 0, &io);
	assert_int_equal(io.rslt, 1 << 16);	/* DID_NO_CONNECT */
	io.tgt = 0;
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	/* attaching it again finds no such LUN */
	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d1, 1, err, sizeof(err)), 0);
	settle(f);
	assert_false(lunar_xen_front_has(f->fronts[0], 0, 1, 0));

	/* disk9 joins it */
	snprintf(hello, sizeof(hello), "%s/examples/hello.lua", src ? src : ".");
	lun9 = make_lun("disk9", hello);
	assert_int_equal(lunar_xen_backend_add_lun(f->b, lun9, err, sizeof(err)), 0);
	/* a second LUN with the same p-dev is refused */
	dup = make_lun("disk9", hello);
	assert_int_equal(lunar_xen_backend_add_lun(f->b, dup, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "disk9"));
	assert_int_equal(lunar_xen_attach(f->tool_xs, &tg, &d9, 1, err, sizeof(err)), 0);
	assert_true(pump(f, disk_is, &has9));
	io.tgt = 2;
	run(f, 0, &io);
	assert_int_equal(io.rslt, 0);
	lunar_xen_backend_remove_lun(f->b, lun9);
	for (int i = 0; i < 2; i++) {
		struct lunar_lun *l = i ? dup : lun9;

		lunar_lun_detach(l);
		lunar_gen_destroy(l->gen);
		lunar_lun_destroy(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guest_sees_the_lun_and_its_inquiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_written_data_reads_back_direct_and_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_lun_is_no_connect_and_unknown_opcode_is_5_20_00, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_ends_a_held_command_then_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_ends_every_held_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_spares_commands_sent_after_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hot_add_and_remove_a_lun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_without_v_dev_takes_the_next_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_detach_and_attach_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_restarted_backend_closes_what_it_did_not_set_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_prod_far_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_cmd_len_200, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_nr_segments_255, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_segment_offset_4095_length_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_indirect_descriptor_past_its_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants_that_do_not_map_are_refused_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_ring_ref_and_event_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_by_grant_copy_up_to_copy_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_past_copy_max_are_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_xen_without_grant_copy_maps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_reload_removes_and_adds_luns, setup, teardown),
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
