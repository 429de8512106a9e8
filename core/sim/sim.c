/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "scsi/cdb.h"
#include "scsi/sense.h"
#include "sim/sim.h"
#include "tcmu/tcmu_abi.h"

#define LUNAR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_IDS 0x10000

static inline uint32_t LUNAR_MIN_U32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

struct lunar_sim {
	pthread_mutex_t lock;		/* the kernel's cmdr_lock */
	uint8_t *map;
	uint64_t map_size;
	struct lunar_tcmu_mailbox *mb;
	uint8_t *cmdr;
	uint32_t cmdr_size;
	uint64_t data_off;
	uint32_t blk_size;
	uint32_t max_blocks;
	uint64_t *bitmap;		/* data blocks in use */
	uint32_t free_blocks;
	uint64_t *id_map;		/* cmd_ids in use; bit 0 always set */
	struct lunar_sim_io **by_id;
	struct kept {			/* KEEP_BUF: blocks held past completion */
		uint32_t *dbi;
		uint32_t n;
	} *kept;
	uint32_t last_cleaned;
	uint32_t inflight;
	struct lunar_sim_io *qhead, *qtail;	/* waiting for ring/data space */
	uint32_t queued;
	int efd;
	bool broken;
	char why[128];
};

/* ---- small helpers ------------------------------------------------------------ */

static uint32_t spc_used(uint32_t head, uint32_t tail, uint32_t size)
{
	return head >= tail ? head - tail : size - tail + head;
}

static uint32_t spc_free(uint32_t head, uint32_t tail, uint32_t size)
{
	/* one byte stays unused so that full and empty differ */
	return size - spc_used(head, tail, size) - 1;
}

static long first_zero(const uint64_t *bm, uint32_t nbits, uint32_t from)
{
	for (uint32_t i = from; i < nbits; i++) {
		if (!(i & 63) && bm[i >> 6] == ~0ull) {
			i += 63;
			continue;
		}
		if (!(bm[i >> 6] & (1ull << (i & 63))))
			return i;
	}
	return -1;
}

static void bit_set(uint64_t *bm, uint32_t i)
{
	bm[i >> 6] |= 1ull << (i & 63);
}

static void bit_clear(uint64_t *bm, uint32_t i)
{
	bm[i >> 6] &= ~(1ull << (i & 63));
}

static uint32_t blocks_for(uint32_t len, uint32_t blk)
{
	return (uint32_t)(((uint64_t)len + blk - 1) / blk);
}

static void io_fail(struct lunar_sim_io *io, int result, uint8_t status, uint8_t key,
		    uint8_t asc, uint8_t ascq)
{
	io->result = result;
	io->status = status;
	memset(io->sense, 0, sizeof(io->sense));
	if (status == LUNAR_CHECK_CONDITION)
		lunar_sense_fixed(io->sense, key, asc, ascq);
	io->data_in_xfer = 0;
	io->residual = 0;
}

/* ---- create / destroy ----------------------------------------------------------- */

struct lunar_sim *lunar_sim_create(const struct lunar_sim_params *p, char *err, size_t errlen)
{
	struct lunar_sim *s = calloc(1, sizeof(*s));
	uint32_t cmdr = p->cmdr_size ? p->cmdr_size : (1u << 20) - LUNAR_TCMU_CMDR_OFF;
	uint64_t data = p->data_size ? p->data_size : 64ull << 20;
	uint32_t blk = p->data_blk_size ? p->data_blk_size : 4096;

	if (!s)
		goto oom;
	if (cmdr % LUNAR_TCMU_ALIGN || cmdr < 1024 || (cmdr + LUNAR_TCMU_CMDR_OFF) % 4096) {
		snprintf(err, errlen, "sim ring size %u: must be N*4096-128 bytes, at least 1 KiB",
			 cmdr);
		free(s);
		return NULL;
	}
	if (blk % 4096 || data % blk || data / blk > (1u << 26) || data == 0) {
		snprintf(err, errlen, "sim data area of %llu bytes in %u-byte blocks is invalid",
			 (unsigned long long)data, blk);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->cmdr_size = cmdr;
	s->blk_size = blk;
	s->max_blocks = (uint32_t)(data / blk);
	s->free_blocks = s->max_blocks;
	s->data_off = LUNAR_TCMU_CMDR_OFF + (uint64_t)cmdr;
	s->map_size = s->data_off + data;
	/* Like the kernel's data pages, untouched blocks cost no memory. */
	s->map = mmap(NULL, s->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		goto oom;
	}
	s->mb = (void *)s->map;
	s->cmdr = s->map + LUNAR_TCMU_CMDR_OFF;
	s->bitmap = calloc((s->max_blocks + 63) / 64, 8);
	s->id_map = calloc(MAX_IDS / 64, 8);
	s->by_id = calloc(MAX_IDS, sizeof(*s->by_id));
	s->kept = calloc(MAX_IDS, sizeof(*s->kept));
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->bitmap || !s->id_map || !s->by_id || !s->kept || s->efd < 0)
		goto oom;
	bit_set(s->id_map, 0);
	s->mb->version = LUNAR_TCMU_MAILBOX_VERSION;
	s->mb->flags = p->no_caps ? 0 : p->caps ? p->caps :
		LUNAR_TCMU_CAP_OOOC | LUNAR_TCMU_CAP_READ_LEN | LUNAR_TCMU_CAP_TMR |
		LUNAR_TCMU_CAP_KEEP_BUF;
	s->mb->cmdr_off = LUNAR_TCMU_CMDR_OFF;
	s->mb->cmdr_size = cmdr;
	return s;
oom:
	snprintf(err, errlen, "sim: out of memory");
	lunar_sim_destroy(s);
	return NULL;
}

static void run_done(struct lunar_sim_io *list)
{
	while (list) {
		struct lunar_sim_io *io = list;

		list = io->next;
		io->next = NULL;
		if (io->done)
			io->done(io);
	}
}

static void release_blocks(struct lunar_sim *s, struct lunar_sim_io *io)
{
	for (uint32_t i = 0; i < io->dbi_cnt; i++)
		bit_clear(s->bitmap, io->dbi[i]);
	s->free_blocks += io->dbi_cnt;
	if (io->dbi != io->dbi_small)
		free(io->dbi);
	io->dbi = NULL;
	io->dbi_cnt = io->dbi_bidi_cnt = 0;
}

/* Fails every outstanding command with -ECANCELED (the consumer is gone). */
static struct lunar_sim_io *cancel_all(struct lunar_sim *s)
{
	struct lunar_sim_io *done = NULL;

	if (s->by_id) {
		for (uint32_t id = 1; id < MAX_IDS; id++) {
			struct lunar_sim_io *io = s->by_id[id];

			if (!io)
				continue;
			s->by_id[id] = NULL;
			bit_clear(s->id_map, id);
			release_blocks(s, io);
			io_fail(io, -ECANCELED, LUNAR_TASK_ABORTED, 0, 0, 0);
			io->next = done;
			done = io;
		}
	}
	while (s->qhead) {
		struct lunar_sim_io *io = s->qhead;

		s->qhead = io->next;
		io_fail(io, -ECANCELED, LUNAR_TASK_ABORTED, 0, 0, 0);
		io->next = done;
		done = io;
	}
	s->qtail = NULL;
	s->queued = 0;
	s->inflight = 0;
	/* nothing on the ring is answered any more */
	s->broken = true;
	snprintf(s->why, sizeof(s->why), "the consumer went away");
	return done;
}

void lunar_sim_cancel(struct lunar_sim *s)
{
	struct lunar_sim_io *done;

	pthread_mutex_lock(&s->lock);
	done = cancel_all(s);
	pthread_mutex_unlock(&s->lock);
	run_done(done);
}

void lunar_sim_destroy(struct lunar_sim *s)
{
	if (!s)
		return;
	if (s->by_id)
		lunar_sim_cancel(s);
	if (s->map)
		munmap(s->map, s->map_size);
	if (s->efd >= 0)
		close(s->efd);
	free(s->bitmap);
	free(s->id_map);
	free(s->by_id);
	for (uint32_t i = 0; s->kept && i < MAX_IDS; i++)
		free(s->kept[i].dbi);
	free(s->kept);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void *lunar_sim_map(struct lunar_sim *s, uint64_t *size)
{
	*size = s->map_size;
	return s->map;
}

int lunar_sim_fd(struct lunar_sim *s)
{
	return s->efd;
}

static void notify(struct lunar_sim *s)
{
	uint64_t one = 1;

	if (write(s->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice; nothing to do */
	}
}

/* ---- queue_cmd_ring -------------------------------------------------------------- */

static uint32_t head_now(struct lunar_sim *s)
{
	return s->mb->cmd_head % s->cmdr_size;
}

static bool ring_space(struct lunar_sim *s, uint32_t cmd_size)
{
	uint32_t head = head_now(s), to_end = s->cmdr_size - head;
	uint32_t needed = to_end >= cmd_size ? cmd_size : cmd_size + to_end;

	return spc_free(head, s->last_cleaned, s->cmdr_size) >= needed;
}

static void publish_head(struct lunar_sim *s, uint32_t len)
{
	__atomic_store_n(&s->mb->cmd_head, (head_now(s) + len) % s->cmdr_size,
			 __ATOMIC_RELEASE);
}

/* A PAD to the ring end if the entry does not fit there: entries never wrap. */
static uint32_t insert_padding(struct lunar_sim *s, uint32_t cmd_size)
{
	uint32_t head = head_now(s);

	if (s->cmdr_size - head < cmd_size) {
		struct lunar_tcmu_hdr *h = (void *)(s->cmdr + head);

		h->len_op = (s->cmdr_size - head) | LUNAR_TCMU_OP_PAD;
		h->cmd_id = 0;
		h->kflags = 0;
		h->uflags = 0;
		publish_head(s, s->cmdr_size - head);
		head = head_now(s);
	}
	return head;
}

/* Takes blocks lowest-first; counts iovecs the way new_block_to_iov merges
 * neighbours. */
static int alloc_blocks(struct lunar_sim *s, struct lunar_sim_io *io, uint32_t len,
			uint32_t *iov_cnt)
{
	long prev = -2;

	for (; len; len -= LUNAR_MIN_U32(len, s->blk_size)) {
		long dbi = first_zero(s->bitmap, s->max_blocks, 0);

		if (dbi < 0)
			return -1;
		bit_set(s->bitmap, (uint32_t)dbi);
		s->free_blocks--;
		io->dbi[io->dbi_cnt++] = (uint32_t)dbi;
		if (dbi != prev + 1)
			(*iov_cnt)++;
		prev = dbi;
	}
	return 0;
}

/* Lays out iovecs (at iov_bytes, in the entry) over blocks [first, ...) of
 * io covering len bytes, merging neighbours; copies from src if given. */
static uint32_t setup_iovs(struct lunar_sim *s, struct lunar_sim_io *io, uint32_t first,
			   uint32_t len, const uint8_t *src, uint8_t *iov_bytes)
{
	struct iovec cur = { 0 };
	uint32_t n = 0;
	long prev = -2;

	for (uint32_t b = first; len; b++) {
		uint32_t dbi = io->dbi[b], chunk = LUNAR_MIN_U32(len, s->blk_size);
		uint64_t off = s->data_off + (uint64_t)dbi * s->blk_size;

		if ((long)dbi != prev + 1) {
			if (n)
				memcpy(iov_bytes + 16 * (n - 1), &cur, sizeof(cur));
			cur.iov_base = (void *)(uintptr_t)off;
			cur.iov_len = 0;
			n++;
		}
		cur.iov_len += chunk;
		if (src) {
			memcpy(s->map + off, src, chunk);
			src += chunk;
		}
		len -= chunk;
		prev = dbi;
	}
	if (n)
		memcpy(iov_bytes + 16 * (n - 1), &cur, sizeof(cur));
	return n;
}

/*
 * Returns 0 when on the ring, 1 when it must wait for space, -1 when it can
 * never be queued (io failed).
 */
static int queue_cmd_ring(struct lunar_sim *s, struct lunar_sim_io *io)
{
	uint32_t out_len = io->data_out_len, in_len = io->data_in_len;
	bool bidi = out_len && in_len;
	uint32_t first_len = out_len ? out_len : in_len;
	uint32_t nblk = blocks_for(first_len, s->blk_size) + (bidi ? blocks_for(in_len, s->blk_size) : 0);
	uint32_t iov_cnt = 0, bidi_cnt = 0, base, cmd_size, head, id;
	struct lunar_tcmu_cmd_entry *e;

	if (s->broken) {
		/* TCM_LOGICAL_UNIT_COMMUNICATION_FAILURE */
		io_fail(io, -EIO, LUNAR_CHECK_CONDITION, LUNAR_SK_NOT_READY, 0x08, 0x00);
		return -1;
	}
	if (nblk > s->max_blocks) {
		io_fail(io, -EINVAL, LUNAR_CHECK_CONDITION, LUNAR_SK_ILLEGAL_REQUEST, 0x24, 0);
		return -1;
	}
	if (nblk > s->free_blocks)
		return 1;
	io->dbi = nblk <= LUNAR_ARRAY_LEN(io->dbi_small) ? io->dbi_small :
		malloc(sizeof(uint32_t) * nblk);
	if (!io->dbi) {
		io_fail(io, -ENOMEM, LUNAR_TASK_SET_FULL, 0, 0, 0);
		return -1;
	}
	io->dbi_cnt = 0;
	if (alloc_blocks(s, io, first_len, &iov_cnt) < 0)
		goto requeue;
	if (bidi && alloc_blocks(s, io, in_len, &bidi_cnt) < 0)
		goto requeue;
	io->dbi_bidi_cnt = bidi ? io->dbi_cnt - blocks_for(first_len, s->blk_size) : 0;

	base = 48 + 16 * (iov_cnt + bidi_cnt);
	if (base < LUNAR_TCMU_ENTRY_MIN)
		base = LUNAR_TCMU_ENTRY_MIN;
	cmd_size = base + ((io->cdb_len + 7) & ~7u);
	if (cmd_size > s->cmdr_size / 2) {
		release_blocks(s, io);
		io_fail(io, -EINVAL, LUNAR_CHECK_CONDITION, LUNAR_SK_ILLEGAL_REQUEST, 0x24, 0);
		return -1;
	}
	if (!ring_space(s, cmd_size))
		goto requeue;
	long free_id = first_zero(s->id_map, MAX_IDS, 1);

	if (free_id < 0) {
		release_blocks(s, io);
		io_fail(io, -ENOSPC, LUNAR_TASK_SET_FULL, 0, 0, 0);
		return -1;
	}
	id = (uint32_t)free_id;
	bit_set(s->id_map, id);
	s->by_id[id] = io;
	io->cmd_id = (uint16_t)id;

	head = insert_padding(s, cmd_size);
	e = (void *)(s->cmdr + head);
	memset(e, 0, cmd_size);
	e->hdr.len_op = LUNAR_TCMU_OP_CMD;
	/* The kernel copies Data-Out in (scatter_data_area) and lays Data-In
	 * out without touching it: a READ buffer holds whatever was there. */
	setup_iovs(s, io, 0, first_len, out_len ? io->data_out : NULL, (uint8_t *)e + 48);
	e->req.iov_cnt = iov_cnt;
	if (bidi) {
		setup_iovs(s, io, io->dbi_cnt - io->dbi_bidi_cnt, in_len, NULL,
			   (uint8_t *)e + 48 + 16 * iov_cnt);
		e->req.iov_bidi_cnt = bidi_cnt;
	}
	e->hdr.cmd_id = (uint16_t)id;
	e->hdr.len_op = cmd_size | LUNAR_TCMU_OP_CMD;
	e->req.cdb_off = LUNAR_TCMU_CMDR_OFF + head + base;
	memcpy(s->map + e->req.cdb_off, io->cdb, io->cdb_len);
	s->inflight++;
	publish_head(s, cmd_size);
	notify(s);
	return 0;
requeue:
	release_blocks(s, io);
	return 1;
}

static void enqueue(struct lunar_sim *s, struct lunar_sim_io *io)
{
	io->next = NULL;
	if (s->qtail)
		s->qtail->next = io;
	else
		s->qhead = io;
	s->qtail = io;
	s->queued++;
}

/* run_qfull_queue: FIFO, nothing overtakes a waiting command. */
static void run_queue(struct lunar_sim *s, struct lunar_sim_io **done)
{
	while (s->qhead) {
		struct lunar_sim_io *io = s->qhead;
		int r = queue_cmd_ring(s, io);

		if (r > 0)
			break;
		s->qhead = io->next;
		if (!s->qhead)
			s->qtail = NULL;
		s->queued--;
		if (r < 0) {
			io->next = *done;
			*done = io;
		}
	}
}

int lunar_sim_submit(struct lunar_sim *s, struct lunar_sim_io *io)
{
	struct lunar_sim_io *done = NULL;
	int len = lunar_cdb_length(io->cdb, sizeof(io->cdb));

	io->result = 0;
	io->status = 0;
	io->data_in_xfer = 0;
	io->residual = 0;
	io->cmd_id = 0;
	io->next = NULL;
	io->dbi = NULL;
	io->dbi_cnt = io->dbi_bidi_cnt = 0;
	io->cdb_len = len > 0 ? (uint32_t)len : 0;
	pthread_mutex_lock(&s->lock);
	if (len <= 0) {
		io_fail(io, -EINVAL, LUNAR_CHECK_CONDITION, LUNAR_SK_ILLEGAL_REQUEST, 0x24, 0);
		done = io;
	} else if (s->qhead) {
		enqueue(s, io);
	} else {
		int r = queue_cmd_ring(s, io);

		if (r > 0)
			enqueue(s, io);
		else if (r < 0)
			done = io;
	}
	pthread_mutex_unlock(&s->lock);
	run_done(done);
	return 0;
}

/* ---- tcmu_handle_completions --------------------------------------------------- */

static void gather(struct lunar_sim *s, struct lunar_sim_io *io, uint32_t first, uint32_t len)
{
	uint8_t *dst = io->data_in;

	io->data_in_xfer = len;
	for (uint32_t b = first; len; b++) {
		uint32_t chunk = LUNAR_MIN_U32(len, s->blk_size);

		memcpy(dst, s->map + s->data_off + (uint64_t)io->dbi[b] * s->blk_size, chunk);
		dst += chunk;
		len -= chunk;
	}
}

static void complete_one(struct lunar_sim *s, struct lunar_sim_io *io,
			 const struct lunar_tcmu_cmd_entry *e)
{
	bool bidi = io->data_out_len && io->data_in_len;
	bool from_dev = io->data_in_len && !bidi;
	uint32_t read_len = io->data_in_len;
	bool read_len_valid = false;

	io->result = 0;
	io->status = e->rsp.scsi_status;
	memset(io->sense, 0, sizeof(io->sense));
	if (e->hdr.uflags & LUNAR_TCMU_UFLAG_UNKNOWN_OP) {
		/* LIO completes it CHECK CONDITION without sense or data */
		io->status = LUNAR_CHECK_CONDITION;
		return;
	}
	if (from_dev && (e->hdr.uflags & LUNAR_TCMU_UFLAG_READ_LEN) && e->rsp.read_len) {
		read_len_valid = true;
		if (e->rsp.read_len < read_len)
			read_len = e->rsp.read_len;
	}
	if (io->status == LUNAR_CHECK_CONDITION) {
		memcpy(io->sense, e->rsp.sense_buffer, sizeof(io->sense));
		if (!read_len_valid)
			return;
	}
	if (bidi)
		gather(s, io, io->dbi_cnt - io->dbi_bidi_cnt, io->data_in_len);
	else if (from_dev)
		gather(s, io, 0, read_len);
	if (read_len_valid)
		io->residual = io->data_in_len - read_len;
}

/* Moves io's blocks to the kept list of id (io itself goes back). */
static int keep(struct lunar_sim *s, uint16_t id, struct lunar_sim_io *io)
{
	struct kept *k = &s->kept[id];

	k->dbi = malloc(sizeof(uint32_t) * (io->dbi_cnt ? io->dbi_cnt : 1));
	if (!k->dbi)
		return -1;
	memcpy(k->dbi, io->dbi, sizeof(uint32_t) * io->dbi_cnt);
	k->n = io->dbi_cnt;
	if (io->dbi != io->dbi_small)
		free(io->dbi);
	io->dbi = NULL;
	io->dbi_cnt = io->dbi_bidi_cnt = 0;
	return 0;
}

void lunar_sim_free_kept(struct lunar_sim *s, uint16_t id)
{
	struct kept *k;
	struct lunar_sim_io *done = NULL;

	pthread_mutex_lock(&s->lock);
	k = &s->kept[id];
	if (k->dbi) {
		for (uint32_t i = 0; i < k->n; i++)
			bit_clear(s->bitmap, k->dbi[i]);
		s->free_blocks += k->n;
		free(k->dbi);
		k->dbi = NULL;
		k->n = 0;
		bit_clear(s->id_map, id);
		run_queue(s, &done);
	}
	pthread_mutex_unlock(&s->lock);
	run_done(done);
}

uint32_t lunar_sim_kept(struct lunar_sim *s)
{
	uint32_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < MAX_IDS; i++)
		n += s->kept[i].dbi != NULL;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void lunar_sim_kick(struct lunar_sim *s)
{
	struct lunar_sim_io *done = NULL;
	uint32_t tail;

	pthread_mutex_lock(&s->lock);
	tail = __atomic_load_n(&s->mb->cmd_tail, __ATOMIC_ACQUIRE);
	if (!s->broken && (tail >= s->cmdr_size || tail % LUNAR_TCMU_ALIGN)) {
		s->broken = true;
		snprintf(s->why, sizeof(s->why), "cmd_tail %u is outside the ring", tail);
	}
	while (!s->broken && s->last_cleaned != tail) {
		struct lunar_tcmu_cmd_entry *e = (void *)(s->cmdr + s->last_cleaned);
		uint32_t len = e->hdr.len_op & ~(uint32_t)LUNAR_TCMU_OP_MASK;
		uint32_t op = e->hdr.len_op & LUNAR_TCMU_OP_MASK;
		struct lunar_sim_io *io;

		if (op != LUNAR_TCMU_OP_CMD) {
			s->last_cleaned = (s->last_cleaned + len) % s->cmdr_size;
			continue;
		}
		io = s->by_id[e->hdr.cmd_id];
		if (!io) {
			s->broken = true;
			snprintf(s->why, sizeof(s->why), "cmd_id %u not found, ring is broken",
				 e->hdr.cmd_id);
			break;
		}
		complete_one(s, io, e);
		s->by_id[e->hdr.cmd_id] = NULL;
		if ((e->hdr.uflags & LUNAR_TCMU_UFLAG_KEEP_BUF) && keep(s, e->hdr.cmd_id, io) == 0) {
			/* answered, but the id and the blocks stay the consumer's
			 * until lunar_sim_free_kept() */
		} else {
			bit_clear(s->id_map, e->hdr.cmd_id);
			release_blocks(s, io);
		}
		s->inflight--;
		io->next = done;
		done = io;
		s->last_cleaned = (s->last_cleaned + len) % s->cmdr_size;
	}
	run_queue(s, &done);
	pthread_mutex_unlock(&s->lock);
	run_done(done);
}

/* ---- synchronous helper -------------------------------------------------------- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void wake(struct lunar_sim_io *io)
{
	struct waiter *w = io->priv;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int lunar_sim_exec(struct lunar_sim *s, struct lunar_sim_io *io, int timeout_ms)
{
	struct waiter w = { .done = false };
	struct timespec ts;
	int rc = 0;

	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	io->done = wake;
	io->priv = &w;
	lunar_sim_submit(s, io);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w.lock);
	while (!w.done && rc == 0)
		rc = pthread_cond_timedwait(&w.cond, &w.lock, &ts);
	pthread_mutex_unlock(&w.lock);
	if (!w.done) {
		/*
		 * The io is still owned by the sim and may complete later: the
		 * caller's memory must outlive the sim.  Callers (lunarctl)
		 * keep timed-out ios alive for exactly that reason.
		 */
		return -ETIMEDOUT;
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return 0;
}

/* ---- task management ---------------------------------------------------------- */

int lunar_sim_tmr(struct lunar_sim *s, uint8_t tmr_type, struct lunar_sim_io **ios, uint32_t n)
{
	struct lunar_sim_io *done = NULL;
	uint32_t cnt = 0, cmd_size, head;
	struct lunar_tcmu_tmr_entry *t;
	uint16_t *ids = calloc(n ? n : 1, sizeof(uint16_t));

	if (!ids)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < n; i++) {
		struct lunar_sim_io *io = ios[i], **pp;

		if (io->cmd_id && s->by_id[io->cmd_id] == io) {
			ids[cnt++] = io->cmd_id;
			continue;
		}
		/* still waiting for ring space: complete it TASK ABORTED now */
		for (pp = &s->qhead; *pp; pp = &(*pp)->next) {
			if (*pp != io)
				continue;
			*pp = io->next;
			s->queued--;
			s->qtail = NULL;
			for (struct lunar_sim_io *q = s->qhead; q; q = q->next)
				s->qtail = q;
			io_fail(io, -ECANCELED, LUNAR_TASK_ABORTED, 0, 0, 0);
			io->next = done;
			done = io;
			break;
		}
	}
	if (!(s->mb->flags & LUNAR_TCMU_CAP_TMR) || s->broken)
		goto out;
	cmd_size = (uint32_t)((sizeof(*t) + 2 * cnt + 7) & ~7u);
	if (!ring_space(s, cmd_size))
		goto out;	/* the kernel queues it; the sim drops it */
	head = insert_padding(s, cmd_size);
	t = (void *)(s->cmdr + head);
	memset(t, 0, cmd_size);
	t->hdr.len_op = cmd_size | LUNAR_TCMU_OP_TMR;
	t->tmr_type = tmr_type;
	t->cmd_cnt = cnt;
	memcpy(t->cmd_ids, ids, 2 * (size_t)cnt);
	publish_head(s, cmd_size);
	notify(s);
out:
	pthread_mutex_unlock(&s->lock);
	free(ids);
	run_done(done);
	return 0;
}

void lunar_sim_counts(struct lunar_sim *s, uint32_t *inflight, uint32_t *queued)
{
	pthread_mutex_lock(&s->lock);
	*inflight = s->inflight;
	*queued = s->queued;
	pthread_mutex_unlock(&s->lock);
}

const char *lunar_sim_broken(struct lunar_sim *s)
{
	const char *w;

	pthread_mutex_lock(&s->lock);
	w = s->broken ? s->why : NULL;
	pthread_mutex_unlock(&s->lock);
	return w;
}
