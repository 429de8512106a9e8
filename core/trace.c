/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lun.h"
#include "scsi/cdb.h"
#include "scsi/sense.h"
#include "trace.h"

struct lunar_tracer *lunar_trace_attach(struct lunar_lun *lun)
{
	struct lunar_tracer *t = calloc(1, sizeof(*t));
	int slot = -1;

	if (!t)
		return NULL;
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_lock(&lun->trace_lock);
	for (int i = 0; i < LUNAR_MAX_TRACERS; i++) {
		if (!lun->trace.t[i]) {
			slot = i;
			break;
		}
	}
	if (slot >= 0 && t->efd >= 0) {
		lun->trace.t[slot] = t;
		__atomic_add_fetch(&lun->trace.active, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&lun->trace_lock);
	if (slot < 0 || t->efd < 0) {
		if (t->efd >= 0)
			close(t->efd);
		free(t);
		return NULL;
	}
	return t;
}

void lunar_trace_detach(struct lunar_lun *lun, struct lunar_tracer *t)
{
	pthread_mutex_lock(&lun->trace_lock);
	for (int i = 0; i < LUNAR_MAX_TRACERS; i++) {
		if (lun->trace.t[i] == t) {
			lun->trace.t[i] = NULL;
			lun->trace.pending[i] = false;
			__atomic_sub_fetch(&lun->trace.active, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&lun->trace_lock);
	close(t->efd);
	free(t);
}

bool lunar_trace_next(struct lunar_tracer *t, struct lunar_trace_rec *out)
{
	uint64_t head = __atomic_load_n(&t->head, __ATOMIC_ACQUIRE);

	if (t->tail == head)
		return false;
	*out = t->rec[t->tail % LUNAR_TRACE_RING];
	__atomic_store_n(&t->tail, t->tail + 1, __ATOMIC_RELEASE);
	return true;
}

void lunar_trace_cmd(struct lunar_lun *lun, const struct lunar_cmd *c, uint64_t latency_ns)
{
	struct lunar_trace_rec r = {
		.latency_ns = latency_ns, .length = c->length, .xfer = c->xfer,
		.cdb_len = c->cdb_len, .dir = c->dir, .status = c->status,
	};
	struct lunar_sense_info si;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	r.t_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	memcpy(r.cdb, c->cdb, sizeof(r.cdb));
	if (c->status == 0x02 && lunar_sense_decode(c->sense, c->sense_len, &si) == 0) {
		r.key = si.key;
		r.asc = si.asc;
		r.ascq = si.ascq;
	}
	pthread_mutex_lock(&lun->trace_lock);
	for (int i = 0; i < LUNAR_MAX_TRACERS; i++) {
		struct lunar_tracer *t = lun->trace.t[i];

		if (!t)
			continue;
		if (t->head - __atomic_load_n(&t->tail, __ATOMIC_ACQUIRE) >= LUNAR_TRACE_RING) {
			t->dropped++;
			continue;
		}
		t->rec[t->head % LUNAR_TRACE_RING] = r;
		__atomic_store_n(&t->head, t->head + 1, __ATOMIC_RELEASE);
		lun->trace.pending[i] = true;
	}
	pthread_mutex_unlock(&lun->trace_lock);
}

void lunar_trace_flush(struct lunar_lun *lun)
{
	uint64_t one = 1;

	pthread_mutex_lock(&lun->trace_lock);
	for (int i = 0; i < LUNAR_MAX_TRACERS; i++) {
		if (!lun->trace.pending[i] || !lun->trace.t[i])
			continue;
		lun->trace.pending[i] = false;
		if (write(lun->trace.t[i]->efd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the listener has plenty to read */
		}
	}
	pthread_mutex_unlock(&lun->trace_lock);
}

/* LBA and length for the READ/WRITE family, when the CDB has them. */
static bool rw_fields(const uint8_t *cdb, uint64_t *lba, uint64_t *len)
{
	switch (cdb[0]) {
	case 0x08: case 0x0a:
		*lba = (uint64_t)(cdb[1] & 0x1f) << 16 | cdb[2] << 8 | cdb[3];
		*len = cdb[4] ? cdb[4] : 256;
		return true;
	case 0x28: case 0x2a: case 0x2e: case 0x2f: case 0x41: case 0x34: case 0x35:
		*lba = (uint64_t)cdb[2] << 24 | cdb[3] << 16 | cdb[4] << 8 | cdb[5];
		*len = (uint64_t)cdb[7] << 8 | cdb[8];
		return true;
	case 0xa8: case 0xaa: case 0xae: case 0xaf:
		*lba = (uint64_t)cdb[2] << 24 | cdb[3] << 16 | cdb[4] << 8 | cdb[5];
		*len = (uint64_t)cdb[6] << 24 | cdb[7] << 16 | cdb[8] << 8 | cdb[9];
		return true;
	case 0x88: case 0x8a: case 0x8e: case 0x8f: case 0x93: case 0x89: case 0x91: case 0x90:
		*lba = 0;
		for (int i = 2; i < 10; i++)
			*lba = *lba << 8 | cdb[i];
		*len = cdb[0] == 0x89 ? cdb[13] :
			(uint64_t)cdb[10] << 24 | cdb[11] << 16 | cdb[12] << 8 | cdb[13];
		return true;
	}
	return false;
}

void lunar_trace_format(struct lunar_buf *b, const struct lunar_trace_rec *r, bool json)
{
	const char *name = lunar_cdb_name(r->cdb, r->cdb_len);
	time_t sec = (time_t)(r->t_ns / 1000000000u);
	char opname[48], when[32];
	const char *asc = NULL;
	struct tm tm;
	uint64_t lba, len;
	bool rw = rw_fields(r->cdb, &lba, &len);

	if (name)
		snprintf(opname, sizeof(opname), "%s", name);
	else
		snprintf(opname, sizeof(opname), "opcode 0x%02x", r->cdb[0]);
	localtime_r(&sec, &tm);
	snprintf(when, sizeof(when), "%02d:%02d:%02d.%06" PRIu64, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 r->t_ns % 1000000000u / 1000);
	if (r->status == 0x02)
		asc = lunar_asc_name(r->asc, r->ascq);
	if (json) {
		lunar_buf_printf(b, "{\"time\": \"%s\", \"command\": ", when);
		lunar_buf_json_str(b, opname);
		lunar_buf_puts(b, ", \"cdb\": \"");
		lunar_buf_hex(b, r->cdb, r->cdb_len < 16 ? r->cdb_len : 16);
		lunar_buf_puts(b, "\"");
		if (rw)
			lunar_buf_printf(b, ", \"lba\": %" PRIu64 ", \"blocks\": %" PRIu64, lba, len);
		lunar_buf_printf(b, ", \"status\": %u, \"bytes\": %" PRIu64 ", \"latency_ns\": %" PRIu64,
				 r->status, r->xfer ? r->xfer : r->length, r->latency_ns);
		if (r->status == 0x02)
			lunar_buf_printf(b, ", \"sense\": \"%x/%02x/%02x\"", r->key, r->asc, r->ascq);
		lunar_buf_puts(b, "}\n");
		return;
	}
	lunar_buf_printf(b, "%s %s", when, opname);
	if (rw)
		lunar_buf_printf(b, " lba=%" PRIu64 " len=%" PRIu64, lba, len);
	else if (r->cdb[0] == 0x12 && (r->cdb[1] & 1))
		lunar_buf_printf(b, " VPD 0x%02x", r->cdb[2]);
	else if ((r->cdb[0] == 0x1a || r->cdb[0] == 0x5a))
		lunar_buf_printf(b, " page 0x%02x", r->cdb[2] & 0x3f);
	lunar_buf_printf(b, " -> %s", lunar_status_name(r->status));
	if (r->status == 0x02) {
		lunar_buf_printf(b, " %x/%02x/%02x", r->key, r->asc, r->ascq);
		if (asc)
			lunar_buf_printf(b, " %s", asc);
	}
	if (r->xfer)
		lunar_buf_printf(b, " %" PRIu64 "B", r->xfer);
	else if (r->length && (r->dir == 2 || r->dir == 3))
		lunar_buf_printf(b, " %" PRIu64 "B", r->length);
	if (r->latency_ns < 10000)
		lunar_buf_printf(b, " %" PRIu64 "ns\n", r->latency_ns);
	else if (r->latency_ns < 10000000)
		lunar_buf_printf(b, " %" PRIu64 "us\n", r->latency_ns / 1000);
	else
		lunar_buf_printf(b, " %" PRIu64 "ms\n", r->latency_ns / 1000000);
}
