/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_CONFIGFS_H
#define LUNAR_TCMU_CONFIGFS_H

/*
 * LIO's configfs tree: the attributes of a user backstore, its actions, and
 * the objects lunar creates for a `tcmu: {create: true}` LUN (a user
 * backstore, then a tcm_loop or iSCSI LUN on it), each recorded in the
 * LUN's journal so that exactly those are removed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "tcmu/journal.h"

#define LUNAR_TCMU_TARGET "/sys/kernel/config/target"
#define LUNAR_TCMU_CORE LUNAR_TCMU_TARGET "/core"

/* What a handler needs to know of a user backstore (its attrib/ files). */
struct lunar_tcmu_attrs {
	uint32_t block_size;		/* hw_block_size */
	uint64_t size;			/* dev_size */
	uint32_t max_sectors;		/* hw_max_sectors */
	int write_cache;		/* emulate_write_cache */
	uint32_t cmd_time_out;		/* seconds; 0: never */
	int nl_reply;			/* nl_reply_supported: > 0 waits for replies */
};

/* LUNAR_TCMU_CORE/user_<hba>/<dev> */
void lunar_tcmu_dev_dir(unsigned hba, const char *dev, char *out, size_t len);
int lunar_tcmu_read_attrs(const char *dir, struct lunar_tcmu_attrs *a, char *err, size_t errlen);
/* Writes dir/<file> (e.g. "action/block_dev", "attrib/tmr_notification"). */
int lunar_tcmu_dev_write(const char *dir, const char *file, const char *value, char *err,
			 size_t errlen);

/* LIO is configured by root (CAP_SYS_ADMIN): -1 with the reason if we
 * may not. */
int lunar_tcmu_check_privileges(char *err, size_t errlen);

/*
 * Makes sure a kernel module is loaded (modprobe when it is not) and
 * configfs is mounted with LIO's tree in it.  -1 with one line in err.
 */
int lunar_tcmu_load_module(const char *module, char *err, size_t errlen);
int lunar_tcmu_mount_configfs(char *err, size_t errlen);

/*
 * Creates and enables a user backstore for the LUN in a new HBA:
 * dev_config=lunar/<name>, its size and block size from the YAML,
 * hw_max_sectors from the YAML or 1 MiB worth of blocks, and
 * nl_reply_supported=-1 (no netlink reply is ever awaited for it, so it
 * cannot hang on a missing or foreign daemon).  dir gets its path.
 */
int lunar_tcmu_create_backstore(struct lunar_tcmu_journal *j, const struct lunar_lun_config *lc,
				char *dir, size_t dirlen, char *err, size_t errlen);

/*
 * Exports the backstore at dir through tcm_loop (target wwn; a local
 * /dev/sdX appears) or iSCSI (target iqn on portal, demo mode: any
 * initiator, no CHAP).  Linking the LUN makes the initiator scan it at
 * once: the backstore must be served already.  Nothing is done when
 * the backstore is exported through that fabric already.  where gets a
 * description of the export.
 */
int lunar_tcmu_export_loop(struct lunar_tcmu_journal *j, const char *dir, const char *lun,
			   const char *wwn, char *where, size_t wherelen, char *err, size_t errlen);
int lunar_tcmu_export_iscsi(struct lunar_tcmu_journal *j, const char *dir, const char *lun,
			    const char *iqn, const char *portal, char *where, size_t wherelen,
			    char *err, size_t errlen);

/* The block device (/dev/sdX) of a backstore exported through tcm_loop,
 * or "" (the scan may still be running). */
void lunar_tcmu_loop_disk(const char *dir, char *out, size_t len);

#endif
