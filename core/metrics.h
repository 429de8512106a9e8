/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_METRICS_H
#define LUNAR_METRICS_H

#include <stddef.h>

#include "util.h"

struct lunar_daemon;

/* Serves GET /metrics (Prometheus text format) on ADDRESS:PORT. */
int lunar_metrics_start(struct lunar_daemon *d, const char *listen_at, char *err, size_t errlen);
void lunar_metrics_stop(void);
/* The exposition text (also what tests read without HTTP). */
void lunar_metrics_render(struct lunar_daemon *d, struct lunar_buf *b);

#endif
