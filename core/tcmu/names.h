/* SPDX-License-Identifier: MIT */
#ifndef LUNAR_TCMU_NAMES_H
#define LUNAR_TCMU_NAMES_H

/*
 * How lunar names things in the kernel.  A user backstore is lunar's when
 * its dev_config is "lunar/<LUN name>": the kernel shows it as the uio
 * device name tcm-user/<hba>/<device>/lunar/<LUN name>, which is how a
 * daemon finds the LUN a device belongs to.  Pure functions: no I/O.
 */

#include <stdbool.h>
#include <stddef.h>

#define LUNAR_TCMU_SUBTYPE "lunar"

struct lunar_tcmu_uio_name {
	unsigned hba;			/* configfs core/user_<hba> */
	char dev[256];			/* configfs core/user_<hba>/<dev> */
	char subtype[64];		/* dev_config up to the first '/' */
	char cfg[256];			/* dev_config after it ("" if none) */
};

/* Splits a uio name "tcm-user/<hba>/<dev>[/<subtype>[/<cfg>]]": 0, or -1
 * when it is not a well-formed TCMU device name. */
int lunar_tcmu_parse_uio_name(const char *s, struct lunar_tcmu_uio_name *n);

/* The LUN a device serves, or NULL when its subtype is not lunar's. */
const char *lunar_tcmu_lun_of(const struct lunar_tcmu_uio_name *n);

/* "naa.5001405" + 9 hex digits, stable for a seed string: the tcm_loop
 * target WWN of a LUN (seed "target:<name>") and its initiator ("nexus:"). */
void lunar_tcmu_wwn(const char *seed, char out[21]);

/* The iSCSI target name of a LUN without an iqn: in the YAML:
 * iqn.2003-01.org.linux-iscsi.lunar:<name>, lowercased, '_' as '-'. */
void lunar_tcmu_iqn(const char *lun, char *out, size_t len);

/* An IQN the kernel takes and a path holds: [a-z0-9.:-], at most 223. */
bool lunar_tcmu_iqn_ok(const char *iqn);

#endif
