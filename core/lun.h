/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_LUN_H
#define LUNAR_LUN_H

#include <pthread.h>
#include <sys/types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "lunar/abi.h"
#include "stats.h"
#include "trace.h"

struct lunar_lun;
struct lunar_gen;
struct lunar_port;

/*
 * What a transport implements.  A port produces slots (drain) and takes
 * them back (complete); everything it touches in the LUN goes through the
 * lunar_lun_* functions below.  All calls come from the LUN's worker.
 */
struct lunar_port_ops {
	const char *name;
	/* fd the worker polls; readable when the other side published work */
	int (*fd)(struct lunar_port *p);
	/*
	 * Decode new requests into free slots (lunar_lun_slot_get, then
	 * lunar_lun_queue).  Returns how many were queued, or -1 when the port
	 * is dead (it logged why).  Stops early when slots run out.
	 */
	int (*drain)(struct lunar_port *p);
	/* A slot is answered (state DONE): write its completion. */
	void (*complete)(struct lunar_port *p, struct lunar_cmd *c);
	/* End of a batch: publish completions, one notification. */
	void (*flush)(struct lunar_port *p);
	/*
	 * Optional, for a wedged handler's commands: answer c like complete(),
	 * but keep its buffers where the transport put them until release(c):
	 * the wedged thread may still write into them.
	 */
	void (*abandon)(struct lunar_port *p, struct lunar_cmd *c);
	void (*release)(struct lunar_port *p, struct lunar_cmd *c);
	void (*destroy)(struct lunar_port *p);
};

struct lunar_port {
	const struct lunar_port_ops *ops;
	struct lunar_lun *lun;
};

enum lunar_lun_state {
	LUNAR_LUN_STARTING,
	LUNAR_LUN_SERVING,
	LUNAR_LUN_FAILED,	/* handler did not load: NOT READY */
	LUNAR_LUN_STOPPED,
};

struct lunar_mem_region;
struct lunar_tmr;

/*
 * What a transport knows of the device behind a LUN (TCMU: its configfs
 * attributes).  0 (or -1 for write_cache) is "not known".
 */
struct lunar_lun_device {
	uint64_t size;			/* bytes */
	uint32_t max_sectors;		/* largest transfer, in blocks */
	int8_t write_cache;		/* the device advertises a write cache */
	uint32_t cmd_time_out;		/* seconds the kernel waits for an answer */
};

/*
 * One per worker thread a LUN ever had: when its Lua call began (ns), 0
 * outside Lua, 1 once the watchdog gave up on the call.  Per thread, not
 * per LUN, so the wedged thread's late return can never be mistaken for
 * its replacement's call (nor clear the replacement's clock).
 */
struct lunar_worker;

struct lunar_lua_watch {
	_Atomic uint64_t busy;
	struct lunar_lua_watch *next;
};

struct lunar_lun {
	int id;
	struct lunar_lun_config cfg;		/* a copy; strings owned */
	char *handler;
	const struct lunar_value *args;		/* owned by the config */

	/* slots */
	struct lunar_cmd *slots;
	uint32_t nslots;
	uint32_t *free_stack;
	uint32_t nfree;
	int32_t *batch;				/* slot indices of this batch */
	uint32_t nbatch;
	uint32_t *done;				/* deferred completions queued */
	uint32_t *tmr_mine;			/* a TMR's slots for one generation */
	bool tmr_lost;				/* out of memory: a cancelling TMR unqueued */
	uint32_t ndone;
	struct iovec **slot_iov;		/* per-slot iovec storage */
	uint32_t *slot_iov_cap;

	struct lunar_tmr *tmrs;			/* waiting for the batch to pass */

	struct lunar_port *port;
	struct lunar_gen *gen;			/* serving (the worker swaps it) */
	struct lunar_gen *_Atomic next_gen;	/* a reload's, to swap in */
	struct lunar_gen **retiring;		/* replaced, still holding commands */
	unsigned nretiring;
	struct lunar_gen **slot_gen;		/* the generation a slot went to */
	bool *slot_held;			/* counted in its generation's holds */
	bool handler_failed;			/* FAILED because of the handler */

	/* fault containment (watchdog.c and the worker) */
	struct lunar_lua_watch watch0;		/* the first worker's */
	struct lunar_lua_watch *_Atomic watch;	/* the serving worker's */
	struct lunar_lua_watch *watches;	/* replacements', freed with the LUN */
	atomic_bool expire_due;			/* held commands are past the deadline */
	atomic_bool recovering;			/* answering BUSY until a new generation */
	atomic_int zombies;			/* wedged threads that may still run */
	bool recover;				/* the new worker takes over the wedged */
	struct lunar_gen *wedged;		/* the generation that wedged */
	pthread_mutex_t worker_lock;		/* worker thread replacement */
	uint64_t faults_at[4];			/* when the last faults happened */
	bool quarantined;			/* too many faults: NOT READY until reload */
	atomic_bool forgetful;			/* a new generation was asked for */
	atomic_bool drop_gen;			/* quarantined: the serving one goes */
	char reload_msg[256];			/* lock: the last reload's outcome */
	/* A handler written in C instead of Lua: the benchmark's reference
	 * ceiling.  Answers lun->batch[0..n) like the Lua dispatcher does. */
	void (*native)(struct lunar_lun *lun, uint32_t n);
	void *transport;			/* e.g. the sim */

	/* worker (worker.c): the thread serving this LUN, maybe others too */
	struct lunar_worker *worker;
	bool thread_started;
	int wake_fd;				/* written: run now */
	int timer_fd;
	uint64_t wake_ns;			/* tick wanted at (0: none) */
	uint64_t armed_ns;			/* timer_fd armed for */
	atomic_bool stopping;

	atomic_int state;
	atomic_int refs;			/* control streams holding it */
	atomic_bool gone;			/* being removed: streams let go */
	char state_msg[256];
	pthread_mutex_t lock;			/* state_msg, mem regions */
	struct lunar_mem_region *mem;

	struct lunar_stats stats;		/* written by the worker only */
	struct lunar_trace_set trace;		/* lunarctl trace listeners */
	pthread_mutex_t trace_lock;
	uint64_t batch_ns;			/* when the current batch was drained */
	struct lunar_ratelimit log_rl;

	struct lunar_lun_device dev_next;	/* lock; for the worker to apply */
	atomic_bool dev_changed;
};

/* Creates the LUN (slots, registry entry) without starting anything. */
struct lunar_lun *lunar_lun_create(const struct lunar_lun_config *cfg, const struct lunar_value *args);
/* Marks the LUN gone and waits for every reference to be dropped. */
void lunar_lun_destroy(struct lunar_lun *lun);
struct lunar_lun *lunar_lun_get(int id);
/* A reference for a long-lived reader (trace, top): the LUN stays
 * allocated until put; the reader stops when lun->gone is set. */
void lunar_lun_ref(struct lunar_lun *lun);
void lunar_lun_put(struct lunar_lun *lun);

/* Transports: slots. */
struct lunar_cmd *lunar_lun_slot_get(struct lunar_lun *lun);
/* Makes sure slot c can hold n iovecs; returns the array or NULL. */
struct iovec *lunar_lun_slot_iov(struct lunar_lun *lun, struct lunar_cmd *c, uint32_t n);
/* Puts a decoded slot in the current batch. */
void lunar_lun_queue(struct lunar_lun *lun, struct lunar_cmd *c);
/* Returns a completed slot to the free list. */
void lunar_lun_slot_put(struct lunar_lun *lun, struct lunar_cmd *c);
/*
 * A task management function from the transport: the commands are marked
 * ABORTED now; the handler hears of it (tmr hook) once the current batch
 * was dispatched.
 */
void lunar_lun_tmr(struct lunar_lun *lun, uint8_t type, struct lunar_cmd **cmds, uint32_t n);
/*
 * The same, for a transport that must answer the function itself (vscsiif
 * ABORT/RESET): once the handler's abort/reset ran, commands it still
 * holds are answered TASK ABORTED by the core.
 */
void lunar_lun_tmr_cancel(struct lunar_lun *lun, uint8_t type, struct lunar_cmd **cmds, uint32_t n);
void lunar_lun_drop_tmrs(struct lunar_lun *lun);
/* Finds the slot holding a live command with this transport tag. */
struct lunar_cmd *lunar_lun_find_tag(struct lunar_lun *lun, uint64_t tag);

/* Fills c with CHECK CONDITION and fixed-format sense. */
void lunar_cmd_set_sense(struct lunar_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq);

void lunar_lun_set_state(struct lunar_lun *lun, enum lunar_lun_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *lunar_lun_state_name(int st);

/*
 * A new generation for the LUN (a reload): the worker swaps it in between
 * batches, carries export()/import() state across, and keeps the old one
 * until the commands it deferred are answered.  A generation handed over
 * earlier and not swapped in yet is dropped.  Any thread.
 */
void lunar_lun_set_next_gen(struct lunar_lun *lun, struct lunar_gen *g);
/*
 * Fault containment.  The worker brackets each Lua call with enter/leave;
 * the watchdog thread calls watch() periodically.  A call that runs past
 * the LUN's deadline is declared wedged: its thread is abandoned (leave()
 * does not return to it), a new worker answers its commands BUSY and
 * serves on, and the reload thread builds a fresh generation.  Too many
 * faults in a row quarantine the LUN (NOT READY) until a reload.  Commands
 * a healthy handler held past the deadline are answered BUSY by the
 * worker.  watch() returns true when the LUN just wedged.
 */
struct lunar_lua_watch *lunar_lun_lua_enter(struct lunar_lun *lun);
void lunar_lun_lua_leave(struct lunar_lun *lun, struct lunar_lua_watch *w);

enum lunar_watch {
	LUNAR_WATCH_OK,
	LUNAR_WATCH_WEDGED,	/* its worker was replaced */
	LUNAR_WATCH_FORGETFUL,	/* half its slots expired: a new generation, please */
};
enum lunar_watch lunar_lun_watch(struct lunar_lun *lun, uint64_t now);
/* Counts a fault; quarantines the LUN (returns true) at the limit-th fault
 * within window_ns. */
bool lunar_lun_fault(struct lunar_lun *lun, uint64_t now, unsigned limit, uint64_t window_ns);

/* Records a reload's outcome for lunarctl status. */
void lunar_lun_reload_msg(struct lunar_lun *lun, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The transport learned (new) device attributes.  The handler sees them
 * (lun.size, lun.max_sectors, lun.write_cache, lun.cmd_time_out; resize()
 * when the size changed) before the next batch reaches it: the worker is
 * woken for it.  Main thread.
 */
void lunar_lun_set_device(struct lunar_lun *lun, const struct lunar_lun_device *dev);

/* Runs everything that is ready: drain, dispatch, complete, flush.
 * Returns -1 once the port is dead (stop polling it), else 0. */
int lunar_lun_run(struct lunar_lun *lun);
/* The tick the handler asked for (lunar_wake_at) is due. */
void lunar_lun_tick(struct lunar_lun *lun);

/*
 * A transport gives the LUN a port (its device exists now) and the LUN's
 * worker starts on it; detach stops the worker and frees the port.
 * Commands the handler still held are forgotten: their slots are freed and
 * their seq bumped, so a late answer to one goes nowhere.  Main thread.
 */
int lunar_lun_attach(struct lunar_lun *lun, struct lunar_port *port);
void lunar_lun_detach(struct lunar_lun *lun);

#endif
