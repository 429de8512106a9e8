/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_CTL_H
#define LUNAR_CTL_H

#include <stddef.h>

struct lunar_daemon;

/*
 * The control socket (what lunarctl talks to).  A request is the client's
 * arguments, each NUL-terminated, then EOF (shutdown of its write side).
 * The answer is one byte of exit status followed by the output text, then
 * EOF.  Each connection is served on its own short-lived thread.
 */
int lunar_ctl_listen(const char *path, char *err, size_t errlen);
void lunar_ctl_accept(struct lunar_daemon *d, int listen_fd);
/* Stops accepting and removes the socket. */
void lunar_ctl_close(struct lunar_daemon *d);
/* Waits for the requests in progress to finish. */
void lunar_ctl_drain(void);

enum {
	LUNAR_CTL_MAX_REQUEST = 64 << 20,	/* data-out as hex, mostly */
};

#endif
