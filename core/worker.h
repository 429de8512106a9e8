/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_WORKER_H
#define LUNAR_WORKER_H

struct lunar_lun;

/* One thread per LUN: polls the port, runs batches.  A LUN that is slow,
 * failing or stuck never stalls another LUN. */
int lunar_worker_start(struct lunar_lun *lun);
void lunar_worker_stop(struct lunar_lun *lun);
/* Makes a running worker run the LUN now (lunar_lun_run). */
void lunar_worker_wake(struct lunar_lun *lun);
/*
 * The watchdog declared the worker's Lua call wedged: the stuck thread is
 * left to itself and a new one takes over the LUN (its first act is to
 * answer the wedged generation's commands).  Any thread.
 */
void lunar_worker_replace(struct lunar_lun *lun);

#endif
