/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_NETLINK_H
#define LUNAR_TCMU_NETLINK_H

/*
 * The kernel's generic netlink family TCM-USER: it multicasts (group
 * "config") when a user backstore is added, removed or reconfigured.  A
 * daemon that announced reply support (SET_FEATURES) must answer every
 * event with a *_DONE carrying a status, and the kernel waits for that
 * answer (uninterruptibly): see docs/transports.md for who should.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	LUNAR_TCMU_NL_ADDED = 1,
	LUNAR_TCMU_NL_REMOVED = 2,
	LUNAR_TCMU_NL_RECONFIG = 3,
};

struct lunar_tcmu_nl_event {
	int cmd;
	char device[512];		/* the uio name */
	uint32_t minor;			/* /dev/uio<minor> */
	bool has_dev_id;		/* kernels with the reply protocol */
	uint32_t dev_id;
	/* RECONFIG: what changed (one of them) */
	bool has_cfg;
	char cfg[256];
	bool has_size;
	uint64_t size;
	int write_cache;		/* -1: not in this event */
};

struct lunar_tcmu_nl;
typedef void (*lunar_tcmu_nl_fn)(void *ctx, const struct lunar_tcmu_nl_event *e);

/* Subscribes to the family's events; fn gets each from lunar_tcmu_nl_recv. */
struct lunar_tcmu_nl *lunar_tcmu_nl_open(lunar_tcmu_nl_fn fn, void *ctx, char *err, size_t errlen);
int lunar_tcmu_nl_fd(const struct lunar_tcmu_nl *nl);
/* Handles every pending event: 0, or -1 when events were lost (socket
 * overrun: the caller rescans the devices). */
int lunar_tcmu_nl_recv(struct lunar_tcmu_nl *nl);
/* The *_DONE answer to event e (needs CAP_NET_ADMIN). */
int lunar_tcmu_nl_reply(struct lunar_tcmu_nl *nl, const struct lunar_tcmu_nl_event *e, int status);
void lunar_tcmu_nl_close(struct lunar_tcmu_nl *nl);

/* SET_FEATURES: whether the kernel should wait for replies (module-wide,
 * and sticky: it outlives the daemon that set it). */
int lunar_tcmu_nl_set_features(bool reply, char *err, size_t errlen);
/* Fails whatever configfs writer still waits for a reply from a daemon
 * that is gone (block_netlink, reset_netlink, unblock). */
int lunar_tcmu_nl_reset_waiters(char *err, size_t errlen);

#endif
