/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_NOTIFY_H
#define LUNAR_NOTIFY_H

/*
 * systemd's readiness protocol (Type=notify), spoken directly: a datagram
 * to $NOTIFY_SOCKET.  Does nothing when not started by systemd.
 *   lunar_notify("READY=1"), "RELOADING=1", "STOPPING=1", "STATUS=..."
 */
void lunar_notify(const char *state);

#endif
