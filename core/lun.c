/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lun.h"
#include "luavm.h"
#include "mem.h"
#include "scsi/sense.h"
#include "util.h"
#include "worker.h"

/* A Lua call of the worker, bracketed for the watchdog. */
#define LUA_CALL(lun, call) do { \
	struct lunar_lua_watch *w_ = lunar_lun_lua_enter(lun); \
	call; \
	lunar_lun_lua_leave(lun, w_); \
} while (0)

/*
 * LUNs by id.  Lua reaches its LUN's slots through this table (an integer,
 * never a pointer, crosses the boundary).  Entries are set before a LUN's
 * worker starts and cleared after it stopped.
 */
static struct lunar_lun *_Atomic registry[LUNAR_MAX_LUNS];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

struct lunar_lun *lunar_lun_get(int id)
{
	if (id < 0 || id >= LUNAR_MAX_LUNS)
		return NULL;
	return atomic_load_explicit(&registry[id], memory_order_acquire);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct lunar_lun *lunar_lun_create(const struct lunar_lun_config *cfg, const struct lunar_value *args)
{
	struct lunar_lun *lun = calloc(1, sizeof(*lun));
	uint32_t n = cfg->queue_depth;

	if (!lun)
		return NULL;
	lun->id = -1;
	lun->wake_fd = lun->timer_fd = -1;
	lun->cfg = *cfg;
	lun->cfg.name = dup_or_null(cfg->name);
	lun->cfg.handler = dup_or_null(cfg->handler);
	lun->cfg.worker = dup_or_null(cfg->worker);
	lun->cfg.tcmu.fabric = dup_or_null(cfg->tcmu.fabric);
	lun->cfg.tcmu.wwn = dup_or_null(cfg->tcmu.wwn);
	lun->cfg.tcmu.iqn = dup_or_null(cfg->tcmu.iqn);
	lun->cfg.tcmu.portal = dup_or_null(cfg->tcmu.portal);
	lun->cfg.xen.p_dev = dup_or_null(cfg->xen.p_dev);
	lun->cfg.xen.backend_type = dup_or_null(cfg->xen.backend_type);
	lun->cfg.args = NULL;
	lun->args = args;
	lun->handler = lun->cfg.handler;
	pthread_mutex_init(&lun->lock, NULL);
	pthread_mutex_init(&lun->trace_lock, NULL);
	pthread_mutex_init(&lun->worker_lock, NULL);
	atomic_store(&lun->watch, &lun->watch0);
	lun->log_rl = (struct lunar_ratelimit)LUNAR_RATELIMIT_INIT(5000000000ull, 10);
	lun->nslots = n;
	lun->slots = calloc(n, sizeof(*lun->slots));
	lun->free_stack = calloc(n, sizeof(uint32_t));
	lun->batch = calloc(n, sizeof(int32_t));
	lun->done = calloc(n, sizeof(uint32_t));
	lun->tmr_mine = calloc(n, sizeof(uint32_t));
	lun->slot_gen = calloc(n, sizeof(*lun->slot_gen));
	lun->slot_held = calloc(n, sizeof(*lun->slot_held));
	lun->slot_iov = calloc(n, sizeof(*lun->slot_iov));
	lun->slot_iov_cap = calloc(n, sizeof(uint32_t));
	if (!lun->cfg.name || !lun->slots || !lun->free_stack || !lun->batch || !lun->done ||
	    !lun->tmr_mine ||
	    !lun->slot_gen || !lun->slot_held ||
	    !lun->slot_iov || !lun->slot_iov_cap)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		lun->slots[i].slot = i;
		lun->free_stack[lun->nfree++] = n - 1 - i;
	}
	atomic_store(&lun->state, LUNAR_LUN_STARTING);
	pthread_mutex_lock(&registry_lock);
	for (int id = 0; id < LUNAR_MAX_LUNS; id++) {
		if (atomic_load(&registry[id]))
			continue;
		lun->id = id;
		for (uint32_t i = 0; i < n; i++)
			lun->slots[i].lun_id = (uint16_t)id;
		atomic_store_explicit(&registry[id], lun, memory_order_release);
		break;
	}
	pthread_mutex_unlock(&registry_lock);
	if (lun->id < 0)
		goto fail;
	return lun;
fail:
	lunar_lun_destroy(lun);
	return NULL;
}

void lunar_lun_ref(struct lunar_lun *lun)
{
	atomic_fetch_add(&lun->refs, 1);
}

void lunar_lun_put(struct lunar_lun *lun)
{
	atomic_fetch_sub(&lun->refs, 1);
}

void lunar_lun_destroy(struct lunar_lun *lun)
{
	if (!lun)
		return;
	if (atomic_load(&lun->zombies) > 0) {
		/* A wedged handler thread may still run and reach this LUN
		 * through its id: the memory and the id stay. */
		lun_warn(lun->cfg.name,
			 "a wedged handler thread still runs: the LUN's memory is kept");
		atomic_store(&lun->gone, true);
		return;
	}
	atomic_store(&lun->gone, true);
	/* streams poll at least once a second */
	while (atomic_load(&lun->refs) > 0)
		usleep(10000);
	if (lun->id >= 0) {
		pthread_mutex_lock(&registry_lock);
		atomic_store(&registry[lun->id], NULL);
		pthread_mutex_unlock(&registry_lock);
	}
	for (uint32_t i = 0; lun->slot_iov && i < lun->nslots; i++)
		free(lun->slot_iov[i]);
	lunar_mem_free_all(lun);
	lunar_lun_drop_tmrs(lun);
	free(lun->slot_iov);
	free(lun->slot_iov_cap);
	free(lun->slots);
	free(lun->free_stack);
	free(lun->batch);
	free(lun->done);
	free(lun->tmr_mine);
	lunar_gen_destroy(atomic_exchange(&lun->next_gen, NULL));
	for (unsigned i = 0; i < lun->nretiring; i++)
		lunar_gen_destroy(lun->retiring[i]);
	free(lun->retiring);
	free(lun->slot_gen);
	free(lun->slot_held);
	free(lun->cfg.name);
	free(lun->cfg.handler);
	free(lun->cfg.worker);
	free(lun->cfg.tcmu.fabric);
	free(lun->cfg.tcmu.wwn);
	free(lun->cfg.tcmu.iqn);
	free(lun->cfg.tcmu.portal);
	free(lun->cfg.xen.p_dev);
	free(lun->cfg.xen.backend_type);
	pthread_mutex_destroy(&lun->lock);
	pthread_mutex_destroy(&lun->trace_lock);
	pthread_mutex_destroy(&lun->worker_lock);
	while (lun->watches) {
		struct lunar_lua_watch *w = lun->watches;

		lun->watches = w->next;
		free(w);
	}
	free(lun);
}

/* ---- slots ------------------------------------------------------------------------ */

struct lunar_cmd *lunar_lun_slot_get(struct lunar_lun *lun)
{
	struct lunar_cmd *c;

	if (!lun->nfree)
		return NULL;
	c = &lun->slots[lun->free_stack[--lun->nfree]];
	c->cdb_len = 0;
	c->dir = LUNAR_DIR_NONE;
	c->state = LUNAR_CMD_NEW;
	c->status = LUNAR_GOOD;
	c->sense_len = 0;
	c->flags = 0;
	c->iovcnt = c->bidi_iovcnt = 0;
	c->iov = NULL;
	c->length = c->bidi_length = 0;
	c->tag = 0;
	c->xfer = 0;
	c->seq++;
	c->start_ns = 0;
	return c;
}

struct iovec *lunar_lun_slot_iov(struct lunar_lun *lun, struct lunar_cmd *c, uint32_t n)
{
	uint32_t i = c->slot;

	if (n > lun->slot_iov_cap[i]) {
		/* grows to the largest command seen, then stays: steady state
		 * allocates nothing */
		uint32_t cap = n < 16 ? 16 : n;
		struct iovec *v = realloc(lun->slot_iov[i], cap * sizeof(*v));

		if (!v)
			return NULL;
		lun->slot_iov[i] = v;
		lun->slot_iov_cap[i] = cap;
	}
	return lun->slot_iov[i];
}

void lunar_lun_queue(struct lunar_lun *lun, struct lunar_cmd *c)
{
	uint64_t q;

	if (!lun->nbatch)
		lun->batch_ns = lunar_now_ns();	/* one clock read per batch */
	c->start_ns = lun->batch_ns;
	lun->batch[lun->nbatch++] = (int32_t)c->slot;
	q = lun->nslots - lun->nfree;
	if (q > lun->stats.queue_max)
		lunar_stat_add(&lun->stats.queue_max, q - lun->stats.queue_max);
}

void lunar_lun_slot_put(struct lunar_lun *lun, struct lunar_cmd *c)
{
	c->state = LUNAR_CMD_FREE;
	lun->free_stack[lun->nfree++] = c->slot;
}

struct lunar_cmd *lunar_lun_find_tag(struct lunar_lun *lun, uint64_t tag)
{
	for (uint32_t i = 0; i < lun->nslots; i++) {
		struct lunar_cmd *c = &lun->slots[i];

		if (c->state != LUNAR_CMD_FREE && c->tag == tag)
			return c;
	}
	return NULL;
}

void lunar_cmd_set_sense(struct lunar_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	c->status = LUNAR_CHECK_CONDITION;
	memset(c->sense, 0, sizeof(c->sense));
	c->sense_len = (uint8_t)lunar_sense_fixed(c->sense, key, asc, ascq);
	c->xfer = 0;
}

/* ---- state -------------------------------------------------------------------------- */

const char *lunar_lun_state_name(int st)
{
	switch (st) {
	case LUNAR_LUN_STARTING: return "starting";
	case LUNAR_LUN_SERVING: return "serving";
	case LUNAR_LUN_FAILED: return "failed";
	case LUNAR_LUN_STOPPED: return "stopped";
	}
	return "?";
}

void lunar_lun_set_state(struct lunar_lun *lun, enum lunar_lun_state st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lun->lock);
	va_start(ap, fmt);
	vsnprintf(lun->state_msg, sizeof(lun->state_msg), fmt, ap);
	va_end(ap);
	atomic_store(&lun->state, st);
	pthread_mutex_unlock(&lun->lock);
}

/* ---- the batch ---------------------------------------------------------------------- */

/* Functions Lua calls (abi.h). */

struct lunar_cmd *lunar_slots(int lun_id)
{
	struct lunar_lun *lun = lunar_lun_get(lun_id);

	return lun ? lun->slots : NULL;
}

uint32_t lunar_slot_count(int lun_id)
{
	struct lunar_lun *lun = lunar_lun_get(lun_id);

	return lun ? lun->nslots : 0;
}

int32_t *lunar_batch(int lun_id)
{
	struct lunar_lun *lun = lunar_lun_get(lun_id);

	return lun ? lun->batch : NULL;
}

static void unhold(struct lunar_lun *lun, struct lunar_cmd *c);

int lunar_cmd_complete(struct lunar_cmd *cmd)
{
	struct lunar_lun *lun = cmd ? lunar_lun_get(cmd->lun_id) : NULL;

	if (!lun || cmd < lun->slots || cmd >= lun->slots + lun->nslots)
		return -1;
	if (cmd->state == LUNAR_CMD_EXPIRED) {
		/* answered by the core already: the slot comes back */
		unhold(lun, cmd);
		lunar_lun_slot_put(lun, cmd);
		return 0;
	}
	if (cmd->state != LUNAR_CMD_DEFERRED)
		return -1;
	cmd->state = LUNAR_CMD_DONE;
	lun->done[lun->ndone++] = cmd->slot;
	return 0;
}

static void account(struct lunar_lun *lun, const struct lunar_cmd *c, uint64_t now)
{
	lunar_stats_command(&lun->stats, c->cdb[0], c->status, c->sense, c->sense_len,
			    now - c->start_ns);
	if (lunar_tracing(&lun->trace))
		lunar_trace_cmd(lun, c, now - c->start_ns);
	if (c->dir == LUNAR_DIR_OUT || c->dir == LUNAR_DIR_BIDI)
		lunar_stat_add(&lun->stats.bytes_out, c->length);
	if (c->xfer)
		lunar_stat_add(&lun->stats.bytes_in, c->xfer);
}

/* A retired generation that holds nothing more is closed. */
static void retire_check(struct lunar_lun *lun, struct lunar_gen *g)
{
	if (g == lun->gen)
		return;
	if (lunar_gen_holding(g)) {
		/* what a retired handler held past its deadline was answered
		 * by the core: do not keep the generation for it */
		for (uint32_t i = 0; i < lun->nslots; i++)
			if (lun->slot_gen[i] == g && lun->slots[i].state != LUNAR_CMD_EXPIRED)
				return;
		for (uint32_t i = 0; i < lun->nslots; i++) {
			if (lun->slot_gen[i] != g)
				continue;
			lun->slot_gen[i] = NULL;
			lun->slot_held[i] = false;
			lunar_gen_hold(g, -1);
			lunar_lun_slot_put(lun, &lun->slots[i]);
		}
	}
	for (unsigned i = 0; i < lun->nretiring; i++) {
		if (lun->retiring[i] != g)
			continue;
		lun->retiring[i] = lun->retiring[--lun->nretiring];
		LUA_CALL(lun, lunar_gen_destroy(g));	/* its close() */
		return;
	}
}

/* A slot leaves the generation that deferred it. */
static void unhold(struct lunar_lun *lun, struct lunar_cmd *c)
{
	struct lunar_gen *g = lun->slot_gen[c->slot];

	lun->slot_gen[c->slot] = NULL;
	if (!lun->slot_held[c->slot])
		return;
	lun->slot_held[c->slot] = false;
	lunar_gen_hold(g, -1);
	retire_check(lun, g);
}

static void finish(struct lunar_lun *lun, struct lunar_cmd *c, uint64_t now)
{
	unhold(lun, c);
	account(lun, c, now);
	lun->port->ops->complete(lun->port, c);
	lunar_lun_slot_put(lun, c);
}

/* Answers a whole batch without Lua: NOT READY when the handler did not
 * load (or the LUN is quarantined), BUSY while a new generation is being
 * built after a fault. */
static void fail_batch(struct lunar_lun *lun)
{
	bool busy = atomic_load(&lun->recovering);

	for (uint32_t i = 0; i < lun->nbatch; i++) {
		struct lunar_cmd *c = &lun->slots[lun->batch[i]];

		if (busy) {
			c->status = LUNAR_BUSY;
			c->sense_len = 0;
		} else {
			lunar_cmd_set_sense(c, LUNAR_SK_NOT_READY, 0x04, 0x03);
		}
		c->state = LUNAR_CMD_DONE;
	}
}

/* After Lua returned: every slot of the batch is DONE, DEFERRED, or (if
 * the dispatcher itself failed) still NEW. */
static uint32_t finish_batch(struct lunar_lun *lun)
{
	uint64_t now = lunar_now_ns();	/* once per batch, not per command */
	uint32_t n = 0;

	for (uint32_t i = 0; i < lun->nbatch; i++) {
		struct lunar_cmd *c = &lun->slots[lun->batch[i]];

		if (c->state == LUNAR_CMD_DEFERRED) {
			struct lunar_gen *g = lun->slot_gen[c->slot];

			if (g && !lun->slot_held[c->slot]) {
				lun->slot_held[c->slot] = true;
				lunar_gen_hold(g, 1);
			}
			continue;
		}
		if (c->state != LUNAR_CMD_DONE) {
			lunar_cmd_set_sense(c, LUNAR_SK_HARDWARE_ERROR, 0x44, 0x00);
			c->state = LUNAR_CMD_DONE;
		}
		finish(lun, c, now);
		n++;
	}
	/* Deferred commands completed during this Lua call; a slot may be in
	 * both lists if it was deferred and completed within the call. */
	for (uint32_t i = 0; i < lun->ndone; i++) {
		struct lunar_cmd *c = &lun->slots[lun->done[i]];

		if (c->state != LUNAR_CMD_DONE)
			continue;	/* already finished above */
		finish(lun, c, now);
		n++;
	}
	lun->ndone = 0;
	if (n && lunar_tracing(&lun->trace))
		lunar_trace_flush(lun);
	return n;
}

struct lunar_tmr {
	struct lunar_tmr *next;
	uint8_t type;
	bool cancel;
	uint32_t n;
	uint32_t slots[];
};

static void add_tmr(struct lunar_lun *lun, uint8_t type, struct lunar_cmd **cmds, uint32_t n,
		    bool cancel);

void lunar_lun_tmr(struct lunar_lun *lun, uint8_t type, struct lunar_cmd **cmds, uint32_t n)
{
	add_tmr(lun, type, cmds, n, false);
}

void lunar_lun_tmr_cancel(struct lunar_lun *lun, uint8_t type, struct lunar_cmd **cmds, uint32_t n)
{
	add_tmr(lun, type, cmds, n, true);
}

static void add_tmr(struct lunar_lun *lun, uint8_t type, struct lunar_cmd **cmds, uint32_t n,
		    bool cancel)
{
	struct lunar_tmr *t = malloc(sizeof(*t) + n * sizeof(uint32_t)), **pp;

	lunar_stat_add(&lun->stats.tmrs, 1);
	for (uint32_t i = 0; i < n; i++)
		cmds[i]->flags |= LUNAR_CMDF_ABORTED;
	if (!t) {
		/* the handler does not hear of it; what it holds of these
		 * commands is still ended, so the function can complete */
		lun_err(lun->cfg.name, "out of memory: task management function not passed on");
		lun->tmr_lost |= cancel;
		return;
	}
	/* Delivered after the batch being drained reached the handler, so a
	 * handler always meets a command before its abort. */
	t->next = NULL;
	t->type = type;
	t->cancel = cancel;
	t->n = n;
	for (uint32_t i = 0; i < n; i++)
		t->slots[i] = cmds[i]->slot;
	for (pp = &lun->tmrs; *pp; pp = &(*pp)->next)
		;
	*pp = t;
}

/* The handler heard of the abort and kept the command: the core answers
 * it, so the transport can answer the function itself. */
static void cancel_one(struct lunar_lun *lun, struct lunar_cmd *c)
{
	if (c->state != LUNAR_CMD_DEFERRED || !(c->flags & LUNAR_CMDF_ABORTED))
		return;
	c->status = LUNAR_TASK_ABORTED;
	c->sense_len = 0;
	c->xfer = 0;
	c->state = LUNAR_CMD_DONE;
	lun->done[lun->ndone++] = c->slot;
}

static void cancel_held(struct lunar_lun *lun, const struct lunar_tmr *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		cancel_one(lun, &lun->slots[t->slots[i]]);
}

/* Each aborted command goes to the generation that holds it; a reset with
 * no command goes to the serving one. */
static void tmr_to_owners(struct lunar_lun *lun, struct lunar_tmr *t)
{
	uint32_t *mine = lun->tmr_mine;		/* t->n <= nslots */
	struct lunar_gen *gens[64];
	unsigned ng = 0;

	if (lun->gen)
		gens[ng++] = lun->gen;
	for (unsigned i = 0; i < lun->nretiring && ng < 64; i++)
		gens[ng++] = lun->retiring[i];
	for (unsigned k = 0; k < ng; k++) {
		uint32_t n = 0;

		for (uint32_t i = 0; i < t->n; i++)
			if (lun->slot_gen[t->slots[i]] == gens[k] ||
			    (!lun->slot_gen[t->slots[i]] && gens[k] == lun->gen))
				mine[n++] = t->slots[i];
		if (n || (gens[k] == lun->gen && t->n == 0))
			LUA_CALL(lun, lunar_gen_tmr(gens[k], t->type, mine, n));
	}
}

static uint32_t deliver_tmrs(struct lunar_lun *lun)
{
	uint32_t n = 0;

	if (lun->tmr_lost) {
		lun->tmr_lost = false;
		for (uint32_t i = 0; i < lun->nslots; i++)
			cancel_one(lun, &lun->slots[i]);
		lun->nbatch = 0;
		n += finish_batch(lun);
	}

	while (lun->tmrs) {
		struct lunar_tmr *t = lun->tmrs;

		lun->tmrs = t->next;
		if (atomic_load(&lun->state) == LUNAR_LUN_SERVING)
			tmr_to_owners(lun, t);
		if (t->cancel)
			cancel_held(lun, t);
		free(t);
		lun->nbatch = 0;
		n += finish_batch(lun);
	}
	return n;
}

void lunar_lun_drop_tmrs(struct lunar_lun *lun)
{
	while (lun->tmrs) {
		struct lunar_tmr *t = lun->tmrs;

		lun->tmrs = t->next;
		free(t);
	}
}

void lunar_wake_at(int lun_id, uint64_t ns)
{
	struct lunar_lun *lun = lunar_lun_get(lun_id);

	if (!lun)
		return;
	if (ns == 0)
		ns = 1;
	if (!lun->wake_ns || ns < lun->wake_ns)
		lun->wake_ns = ns;
}

void lunar_lun_set_next_gen(struct lunar_lun *lun, struct lunar_gen *g)
{
	/* one that was handed over and never swapped in is simply dropped */
	lunar_gen_destroy(atomic_exchange(&lun->next_gen, g));
	if (lun->thread_started)
		lunar_worker_wake(lun);
}

void lunar_lun_reload_msg(struct lunar_lun *lun, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lun->lock);
	va_start(ap, fmt);
	vsnprintf(lun->reload_msg, sizeof(lun->reload_msg), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&lun->lock);
}

/* Worker, between batches: a reload's generation takes over. */
/* A generation that no longer serves: kept while it holds commands. */
static void retire(struct lunar_lun *lun, struct lunar_gen *old)
{
	struct lunar_gen **r;

	if (!lunar_gen_holding(old)) {
		LUA_CALL(lun, lunar_gen_destroy(old));	/* its close() */
		return;
	}
	r = realloc(lun->retiring, (lun->nretiring + 1) * sizeof(*r));
	if (r) {
		lun->retiring = r;
		lun->retiring[lun->nretiring++] = old;
		retire_check(lun, old);	/* holding only expired ones? */
	} else {
		lun_err(lun->cfg.name, "out of memory: the old handler's held commands are lost");
	}
}

static void swap_gen(struct lunar_lun *lun)
{
	struct lunar_gen *g = atomic_exchange(&lun->next_gen, NULL), *old = lun->gen;
	char err[512];

	if (!g)
		return;
	int moved = 0;

	if (old)
		LUA_CALL(lun, moved = lunar_gen_transfer(old, g, err, sizeof(err)));
	if (moved < 0)
		lun_warn(lun->cfg.name,
			 "export()/import() failed, the new handler starts afresh: %s", err);
	lun->gen = g;
	if (old)
		retire(lun, old);
	lunar_stat_add(&lun->stats.reloads, 1);
	atomic_store(&lun->recovering, false);
	atomic_store(&lun->forgetful, false);
	lun->quarantined = false;
	if (lun->handler_failed) {
		lun->handler_failed = false;
		lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "%s", "");
	}
	/* the new state learns the device as the old one knew it */
	atomic_store(&lun->dev_changed, true);
}

void lunar_lun_tick(struct lunar_lun *lun)
{
	uint64_t now = lunar_now_ns();

	swap_gen(lun);
	if (lun->gen && atomic_load(&lun->state) == LUNAR_LUN_SERVING)
		LUA_CALL(lun, lunar_gen_tick(lun->gen, now));
	/* old generations answer what they deferred from their ticks */
	for (unsigned i = 0; i < lun->nretiring; i++)
		LUA_CALL(lun, lunar_gen_tick(lun->retiring[i], now));
	lun->nbatch = 0;
	finish_batch(lun);
	/* answered commands freed slots: take what waited in the ring */
	lunar_lun_run(lun);
}

int lunar_lun_attach(struct lunar_lun *lun, struct lunar_port *port)
{
	lun->port = port;
	if (lunar_worker_start(lun) < 0) {
		lun->port = NULL;
		return -1;
	}
	return 0;
}

void lunar_lun_detach(struct lunar_lun *lun)
{
	lunar_worker_stop(lun);
	for (uint32_t i = 0; i < lun->nslots; i++) {
		struct lunar_cmd *c = &lun->slots[i];

		if (c->state == LUNAR_CMD_FREE)
			continue;
		c->seq++;
		unhold(lun, c);
		lunar_lun_slot_put(lun, c);
	}
	lun->ndone = 0;
	lun->nbatch = 0;
	lun->wake_ns = lun->armed_ns = 0;
	lunar_lun_drop_tmrs(lun);
	if (lun->port)
		lun->port->ops->destroy(lun->port);
	lun->port = NULL;
}

void lunar_lun_set_device(struct lunar_lun *lun, const struct lunar_lun_device *dev)
{
	pthread_mutex_lock(&lun->lock);
	lun->dev_next = *dev;
	pthread_mutex_unlock(&lun->lock);
	atomic_store(&lun->dev_changed, true);
	lunar_worker_wake(lun);
}

/* Worker: hands new device attributes to the handler between batches, so
 * a command never meets a size its handler has not seen. */
static void apply_device(struct lunar_lun *lun)
{
	struct lunar_lun_device dev;

	if (!atomic_exchange(&lun->dev_changed, false))
		return;
	pthread_mutex_lock(&lun->lock);
	dev = lun->dev_next;
	pthread_mutex_unlock(&lun->lock);
	if (!lun->gen || atomic_load(&lun->state) != LUNAR_LUN_SERVING)
		return;
	bool took = false;

	LUA_CALL(lun, took = lunar_gen_device(lun->gen, &dev));
	if (took && dev.size)
		__atomic_store_n(&lun->cfg.size, dev.size, __ATOMIC_RELAXED);
}

/* ---- fault containment ------------------------------------------------------------------ */

struct lunar_lua_watch *lunar_lun_lua_enter(struct lunar_lun *lun)
{
	struct lunar_lua_watch *w = atomic_load(&lun->watch);
	uint64_t now = lunar_now_ns();

	atomic_store(&w->busy, now > 1 ? now : 2);
	return w;
}

void lunar_lun_lua_leave(struct lunar_lun *lun, struct lunar_lua_watch *w)
{
	uint64_t began = atomic_load(&w->busy);

	if (began > 1 && atomic_compare_exchange_strong(&w->busy, &began, 0))
		return;
	/*
	 * The watchdog gave up on this call while it ran: another worker
	 * serves the LUN now and answered this call's commands.  This thread
	 * must not touch anything: it leaves, and the worker reclaims what it
	 * kept once no wedged thread is left.
	 */
	atomic_fetch_sub(&lun->zombies, 1);
	lunar_worker_wake(lun);
	pthread_exit(NULL);
}


/* Answers c BUSY past its deadline; its buffers are cut off from the
 * handler, which still holds the slot (EXPIRED) until it answers. */
static void expire(struct lunar_lun *lun, struct lunar_cmd *c, uint64_t now)
{
	c->status = LUNAR_BUSY;
	c->sense_len = 0;
	c->xfer = 0;
	account(lun, c, now);
	lun->port->ops->complete(lun->port, c);
	c->iov = NULL;
	c->iovcnt = c->bidi_iovcnt = 0;
	c->length = c->bidi_length = 0;
	c->state = LUNAR_CMD_EXPIRED;
}

static void expire_held(struct lunar_lun *lun)
{
	uint64_t now = lunar_now_ns();
	unsigned n = 0, suppressed;

	if (!atomic_exchange(&lun->expire_due, false))
		return;
	for (uint32_t i = 0; i < lun->nslots; i++) {
		struct lunar_cmd *c = &lun->slots[i];

		if (c->state == LUNAR_CMD_DEFERRED && now - c->start_ns > lun->cfg.deadline_ns) {
			expire(lun, c, now);
			n++;
		}
	}
	/* a retired generation left holding only what just expired goes */
	for (unsigned i = lun->nretiring; n && i-- > 0;)
		if (i < lun->nretiring)
			retire_check(lun, lun->retiring[i]);
	if (n && lunar_ratelimit(&lun->log_rl, now, &suppressed))
		lun_warn(lun->cfg.name,
			 "%u command%s held past the %.1fs deadline: answered BUSY", n,
			 n == 1 ? "" : "s", (double)lun->cfg.deadline_ns / 1e9);
}

/*
 * The first thing a worker replacing a wedged one does: answer every
 * command the wedged generation had, keep their slots (and, if the port
 * can, their buffers) until the wedged thread is gone.  The command the
 * handler was running when it wedged (the first unanswered one of the
 * stuck batch) fails 4/44/00: retried, it would wedge the next generation
 * too.  What the handler had answered keeps its answer; the rest are
 * innocent and answered BUSY, to be retried.
 */
static void take_over(struct lunar_lun *lun)
{
	struct lunar_gen *w = lun->wedged;
	uint64_t now = lunar_now_ns();
	uint32_t guilty = UINT32_MAX;
	unsigned n = 0;

	lun->recover = false;
	for (uint32_t i = 0; i < lun->nbatch; i++) {
		if (lun->slots[lun->batch[i]].state == LUNAR_CMD_NEW) {
			guilty = lun->batch[i];
			break;
		}
	}
	for (uint32_t i = 0; i < lun->nslots; i++) {
		struct lunar_cmd *c = &lun->slots[i];

		if (lun->slot_gen[i] != w || c->state == LUNAR_CMD_FREE)
			continue;
		if (c->state != LUNAR_CMD_EXPIRED) {
			if (i == guilty) {
				lunar_cmd_set_sense(c, LUNAR_SK_HARDWARE_ERROR, 0x44, 0x00);
				c->xfer = 0;
			} else if (c->state != LUNAR_CMD_DONE) {
				c->status = LUNAR_BUSY;
				c->sense_len = 0;
				c->xfer = 0;
				n++;
			}
			account(lun, c, now);
			if (lun->port->ops->abandon)
				lun->port->ops->abandon(lun->port, c);
			else
				lun->port->ops->complete(lun->port, c);
		}
		c->state = LUNAR_CMD_QUARANTINED;
		lun->slot_held[i] = false;
	}
	lun->nbatch = 0;
	lun->ndone = 0;
	lun->port->ops->flush(lun->port);
	if (guilty != UINT32_MAX)
		lun_warn(lun->cfg.name, "the command the handler wedged on (CDB %02x...) answered "
			 "4/44/00; %u other%s BUSY", lun->slots[guilty].cdb[0], n, n == 1 ? "" : "s");
	else
		lun_warn(lun->cfg.name, "%u command%s of the wedged handler answered BUSY", n,
			 n == 1 ? "" : "s");
}

/* Once no wedged thread runs, what it held is given back. */
static void reclaim(struct lunar_lun *lun)
{
	if (!lun->wedged || atomic_load(&lun->zombies) > 0)
		return;
	for (uint32_t i = 0; i < lun->nslots; i++) {
		struct lunar_cmd *c = &lun->slots[i];

		if (c->state != LUNAR_CMD_QUARANTINED)
			continue;
		if (lun->port->ops->release)
			lun->port->ops->release(lun->port, c);
		lun->slot_gen[i] = NULL;
		lunar_lun_slot_put(lun, c);
	}
	lunar_gen_discard(lun->wedged);
	lun->wedged = NULL;
}

bool lunar_lun_fault(struct lunar_lun *lun, uint64_t now, unsigned limit, uint64_t window_ns)
{
	unsigned n = LUNAR_ARRAY_SIZE(lun->faults_at), recent = 0;

	__atomic_fetch_add(&lun->stats.faults, 1, __ATOMIC_RELAXED);
	memmove(lun->faults_at + 1, lun->faults_at, sizeof(lun->faults_at[0]) * (n - 1));
	lun->faults_at[0] = now;
	for (unsigned i = 0; i < n; i++)
		recent += lun->faults_at[i] && now - lun->faults_at[i] < window_ns;
	if (recent < limit)
		return false;
	lun->quarantined = true;
	atomic_store(&lun->recovering, false);
	lun->handler_failed = true;
	lunar_lun_set_state(lun, LUNAR_LUN_FAILED,
			    "quarantined: its handler failed %u times in %.0f s (lunarctl reload %s to try again)",
			    recent, (double)window_ns / 1e9, lun->cfg.name);
	atomic_store(&lun->drop_gen, true);
	lunar_worker_wake(lun);
	return true;
}

enum lunar_watch lunar_lun_watch(struct lunar_lun *lun, uint64_t now)
{
	struct lunar_lua_watch *w = atomic_load(&lun->watch);
	uint64_t began = atomic_load(&w->busy);
	uint32_t expired = 0;
	bool late = false;

	if (began > 1 && now > began && now - began > lun->cfg.deadline_ns &&
	    atomic_compare_exchange_strong(&w->busy, &began, 1)) {
		lunar_worker_replace(lun);
		return LUNAR_WATCH_WEDGED;
	}
	/* a cheap look at the held commands: the worker does the work */
	for (uint32_t i = 0; i < lun->nslots; i++) {
		const struct lunar_cmd *c = &lun->slots[i];
		uint8_t st = __atomic_load_n(&c->state, __ATOMIC_RELAXED);

		late |= st == LUNAR_CMD_DEFERRED &&
			now - __atomic_load_n(&c->start_ns, __ATOMIC_RELAXED) > lun->cfg.deadline_ns;
		/* only the serving generation's: a retired one's are let go */
		expired += st == LUNAR_CMD_EXPIRED &&
			   __atomic_load_n(&lun->slot_gen[i], __ATOMIC_RELAXED) ==
			   __atomic_load_n(&lun->gen, __ATOMIC_RELAXED);
	}
	if (late && !atomic_exchange(&lun->expire_due, true))
		lunar_worker_wake(lun);
	/*
	 * A handler that never answers what it deferred keeps the slots (its
	 * Lua holds their pointers): with half the queue gone that way, only
	 * a new generation (the old one then lets go) gives them back.
	 */
	if (expired && expired >= (lun->nslots + 1) / 2 && !atomic_exchange(&lun->forgetful, true))
		return LUNAR_WATCH_FORGETFUL;
	return LUNAR_WATCH_OK;
}

int lunar_lun_run(struct lunar_lun *lun)
{
	for (;;) {
		uint32_t progressed;
		int n;

		if (lun->recover)
			take_over(lun);
		reclaim(lun);
		/* quarantined: the handler that kept forgetting commands lets
		 * its slots go, so NOT READY can be answered */
		if (atomic_exchange(&lun->drop_gen, false) && lun->gen) {
			struct lunar_gen *old = lun->gen;

			lun->gen = NULL;
			retire(lun, old);
		}
		swap_gen(lun);
		apply_device(lun);
		expire_held(lun);
		lun->nbatch = 0;
		n = lun->port->ops->drain(lun->port);
		if (n < 0) {
			lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "transport stopped");
			return -1;
		}
		if (lun->nbatch) {
			lunar_stat_add(&lun->stats.batches, 1);
			if (lun->native)
				lun->native(lun, lun->nbatch);
			else if (lun->gen && atomic_load(&lun->state) == LUNAR_LUN_SERVING) {
				for (uint32_t i = 0; i < lun->nbatch; i++)
					lun->slot_gen[lun->batch[i]] = lun->gen;
				LUA_CALL(lun, lunar_gen_dispatch(lun->gen, lun->nbatch));
			}
			else
				fail_batch(lun);
		}
		progressed = finish_batch(lun);
		progressed += deliver_tmrs(lun);
		if (!lun->nbatch && !progressed)
			break;
		lun->port->ops->flush(lun->port);
	}
	lun->port->ops->flush(lun->port);
	/* for readers on other threads, who may not touch lun->gen: the
	 * worker swaps and closes generations under them */
	__atomic_store_n(&lun->stats.lua_memory, lun->gen ? lunar_gen_mem_used(lun->gen) : 0,
			 __ATOMIC_RELAXED);
	return 0;
}

/* ---- logging from Lua ------------------------------------------------------------ */

void lunar_log(int lun_id, int level, const char *msg)
{
	struct lunar_lun *lun = lunar_lun_get(lun_id);

	lunar_logf_lun(level, lun ? lun->cfg.name : "?", "%s", msg);
}

void lunar_log_cmd(int lun_id, const struct lunar_cmd *cmd, const char *msg)
{
	struct lunar_lun *lun = lunar_lun_get(lun_id);
	struct lunar_buf cdb = { 0 };
	unsigned suppressed;

	if (!lun || !cmd)
		return;
	lunar_stat_add(&lun->stats.handler_errors, 1);
	if (!lunar_ratelimit(&lun->log_rl, lunar_now_ns(), &suppressed))
		return;
	for (unsigned i = 0; i < cmd->cdb_len && i < LUNAR_CDB_MAX; i++)
		lunar_buf_printf(&cdb, "%s%02x", i ? " " : "", cmd->cdb[i]);
	lun_err(lun->cfg.name, "handler error on CDB [%s]: %s%s", cdb.data ? cdb.data : "",
		msg, suppressed ? " (earlier messages suppressed)" : "");
	lunar_buf_free(&cdb);
}
