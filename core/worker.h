/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_WORKER_H
#define LUNAR_WORKER_H

struct lunar_lun;

/*
 * One thread per LUN, or per group of LUNs naming the same `worker:` in
 * the YAML: it polls their ports, runs their batches and ticks.  A LUN
 * that is slow, failing or stuck never stalls a LUN of another worker; in
 * a shared worker a stuck handler stalls the others until the watchdog
 * replaces the thread (the LUN's deadline).
 */
int lunar_worker_start(struct lunar_lun *lun);
/* The LUN leaves its worker (the last one out stops the thread); when it
 * returns no thread touches the LUN. */
void lunar_worker_stop(struct lunar_lun *lun);
/* Makes a running worker run the LUN now (lunar_lun_run). */
void lunar_worker_wake(struct lunar_lun *lun);
/*
 * The watchdog declared the worker's Lua call wedged: the stuck thread is
 * left to itself and a new one takes over its LUNs (its first act for
 * this one is to answer the wedged generation's commands).  Any thread.
 */
void lunar_worker_replace(struct lunar_lun *lun);

#endif
