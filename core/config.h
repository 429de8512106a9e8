/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_CONFIG_H
#define LUNAR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "yaml_tree.h"

enum lunar_transport {
	LUNAR_TRANSPORT_SIM,
	LUNAR_TRANSPORT_TCMU,
	LUNAR_TRANSPORT_XEN,
};

const char *lunar_transport_name(enum lunar_transport t);

/* sim: the in-process TCMU ring */
struct lunar_sim_config {
	uint64_t ring_size;		/* command ring incl. mailbox */
	uint64_t data_size;		/* data area */
};

/* tcmu: a LIO user backstore served through uio */
struct lunar_tcmu_config {
	bool create;			/* lunar creates (and removes) the objects */
	char *fabric;			/* "loop" or "iscsi" */
	char *wwn;			/* tcm_loop WWN, naa.* */
	char *iqn;			/* iSCSI target name */
	char *portal;			/* ip:port */
	uint32_t hw_max_sectors;	/* 0: kernel default */
	uint32_t cmd_time_out;		/* seconds, 0: kernel default */
	uint64_t max_data_area;		/* 0: kernel default */
};

/* xen: a vscsiif backend */
struct lunar_xen_config {
	char *p_dev;			/* what toolstacks write as p-dev */
	char *backend_type;		/* xenstore backend/<type>: NULL = vscsi-lunar */
};

struct lunar_lun_config {
	char *name;
	enum lunar_transport transport;
	char *handler;			/* absolute path */
	uint64_t size;			/* bytes */
	uint32_t block_size;
	uint64_t lua_memory_limit;
	uint32_t queue_depth;		/* slots: commands in flight at once */
	const struct lunar_value *args;	/* NULL or the YAML mapping/value */
	const struct lunar_value *filters;	/* NULL or the YAML list of filters */
	bool reload_on_change;		/* reload: on-change */
	uint64_t deadline_ns;		/* a command older than this is answered by the core */
	char *worker;			/* LUNs naming the same worker share its thread; NULL: own */
	struct lunar_sim_config sim;
	struct lunar_tcmu_config tcmu;
	struct lunar_xen_config xen;
	int line, col;
};

struct lunar_config {
	char *path;
	char *dir;			/* handler paths are relative to it */
	struct lunar_lun_config *luns;
	size_t nluns;
	struct lunar_value *root;	/* owns the args trees */
	bool tcmu_netlink_own;		/* tcmu_netlink: own (see docs/transports.md) */
	char *metrics_listen;		/* metrics: {listen: ADDRESS:PORT} */
	uint64_t reload_timeout_ns;	/* a new handler's open() must finish in it */
};

enum {
	LUNAR_DEFAULT_BLOCK_SIZE = 512,
	LUNAR_DEFAULT_QUEUE_DEPTH = 128,
	LUNAR_MAX_QUEUE_DEPTH = 4096,
	LUNAR_MAX_LUNS = 1024,
};
#define LUNAR_DEFAULT_LUA_MEMORY_LIMIT (64ull << 20)
/* Below the kernel's default TCMU cmd_time_out (30 s): lunar answers first. */
#define LUNAR_DEFAULT_DEADLINE_NS (20ull * 1000000000u)

/*
 * Loads and validates path.  On any problem, returns -1 with every problem
 * found in d ("path:line:col: message" lines, in file order) and *out
 * untouched.
 */
int lunar_config_load(const char *path, struct lunar_config **out, struct lunar_diag *d);
void lunar_config_free(struct lunar_config *c);

#endif
