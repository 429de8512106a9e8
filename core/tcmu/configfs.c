/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "tcmu/attr.h"
#include "tcmu/configfs.h"
#include "tcmu/names.h"

extern char **environ;

void lunar_tcmu_dev_dir(unsigned hba, const char *dev, char *out, size_t len)
{
	snprintf(out, len, "%s/user_%u/%s", LUNAR_TCMU_CORE, hba, dev);
}

static int read_u32(const char *dir, const char *file, uint32_t *out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (lunar_attr_read_u64(path, UINT32_MAX, &v) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int lunar_tcmu_read_attrs(const char *dir, struct lunar_tcmu_attrs *a, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint32_t wc;

	memset(a, 0, sizeof(*a));
	snprintf(path, sizeof(path), "%s/attrib/dev_size", dir);
	if (lunar_attr_read_u64(path, UINT64_MAX, &a->size) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (read_u32(dir, "attrib/hw_block_size", &a->block_size, err, errlen) < 0 ||
	    read_u32(dir, "attrib/hw_max_sectors", &a->max_sectors, err, errlen) < 0 ||
	    read_u32(dir, "attrib/emulate_write_cache", &wc, err, errlen) < 0 ||
	    read_u32(dir, "attrib/cmd_time_out", &a->cmd_time_out, err, errlen) < 0)
		return -1;
	a->write_cache = wc != 0;
	/* older kernels have no reply protocol at all */
	snprintf(path, sizeof(path), "%s/attrib/nl_reply_supported", dir);
	if (lunar_attr_read_int(path, &a->nl_reply) < 0)
		a->nl_reply = 0;
	return 0;
}

int lunar_tcmu_dev_write(const char *dir, const char *file, const char *value, char *err,
			 size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (lunar_attr_write(path, value) == 0)
		return 0;
	snprintf(err, errlen, "cannot write '%s' to %s: %s", value, path, strerror(errno));
	return -1;
}

/* ---- modules, configfs ------------------------------------------------------------ */

int lunar_tcmu_check_privileges(char *err, size_t errlen)
{
	unsigned long long caps = 0;
	char line[128];
	FILE *f;

	if (geteuid() == 0)
		return 0;
	f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	if (f)
		fclose(f);
	if (caps & (1ull << 21))	/* CAP_SYS_ADMIN */
		return 0;
	snprintf(err, errlen, "the tcmu transport needs root (LIO's configfs, /dev/uio*, "
		 "netlink): this lunar runs as uid %u", (unsigned)geteuid());
	return -1;
}

int lunar_tcmu_load_module(const char *module, char *err, size_t errlen)
{
	char path[128], msg[256] = "", *nl;
	char *argv[] = { "modprobe", (char *)module, NULL };
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0, rc;
	ssize_t n;
	pid_t pid;

	snprintf(path, sizeof(path), "/sys/module/%s", module);
	if (access(path, F_OK) == 0)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "the %s kernel module is not loaded, and only root can load "
			 "it (run lunar as root, or modprobe %s first)", module, module);
		return -1;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	rc = posix_spawnp(&pid, "modprobe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		snprintf(err, errlen, "cannot load %s: cannot run modprobe: %s", module, strerror(rc));
		return -1;
	}
	n = read(pipefd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if ((nl = strchr(msg, '\n')))
		*nl = 0;
	snprintf(err, errlen, "cannot load the %s kernel module: %s", module,
		 msg[0] ? msg : "modprobe failed");
	return -1;
}

int lunar_tcmu_mount_configfs(char *err, size_t errlen)
{
	if (access(LUNAR_TCMU_CORE, F_OK) == 0)
		return 0;
	if (mount("configfs", "/sys/kernel/config", "configfs", 0, NULL) < 0 && errno != EBUSY) {
		snprintf(err, errlen, "configfs is not mounted at /sys/kernel/config and mounting "
			 "it failed: %s", strerror(errno));
		return -1;
	}
	if (access(LUNAR_TCMU_CORE, F_OK) < 0) {
		snprintf(err, errlen, "%s is missing: LIO (target_core_mod) is not loaded",
			 LUNAR_TCMU_CORE);
		return -1;
	}
	return 0;
}

/* ---- creating ------------------------------------------------------------------------ */

/* mkdir that records what it made; an existing directory is fine. */
static int ensure_dir(struct lunar_tcmu_journal *j, const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) == 0) {
		lunar_tcmu_journal_add(j, LUNAR_TCMU_MKDIR, path);
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return -1;
}

static int write_attr(const char *path, const char *value, char *err, size_t errlen)
{
	if (lunar_attr_write(path, value) == 0)
		return 0;
	snprintf(err, errlen, "cannot write '%s' to %s: %s", value, path, strerror(errno));
	return -1;
}

int lunar_tcmu_create_backstore(struct lunar_tcmu_journal *j, const struct lunar_lun_config *lc,
				char *dir, size_t dirlen, char *err, size_t errlen)
{
	char hba[PATH_MAX], control[512], path[PATH_MAX + 16];
	size_t n;

	/* A new HBA of our own: user_<N> for the lowest N nobody uses. */
	for (unsigned i = 0;; i++) {
		if (i == 100000) {
			snprintf(err, errlen, "no free user_N HBA in %s", LUNAR_TCMU_CORE);
			return -1;
		}
		snprintf(hba, sizeof(hba), "%s/user_%u", LUNAR_TCMU_CORE, i);
		if (mkdir(hba, 0755) == 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", hba, strerror(errno));
			return -1;
		}
	}
	lunar_tcmu_journal_add(j, LUNAR_TCMU_MKDIR, hba);
	snprintf(dir, dirlen, "%s/%s", hba, lc->name);
	if (ensure_dir(j, dir, err, errlen) < 0)
		return -1;
	n = (size_t)snprintf(control, sizeof(control),
			     "dev_config=%s/%s,dev_size=%llu,hw_block_size=%u,nl_reply_supported=-1",
			     LUNAR_TCMU_SUBTYPE, lc->name, (unsigned long long)lc->size,
			     lc->block_size);
	/* the kernel's default, 128 blocks (64 KiB), splits every large I/O
	 * into many commands: 1 MiB unless the YAML says otherwise */
	if (n < sizeof(control))
		n += (size_t)snprintf(control + n, sizeof(control) - n, ",hw_max_sectors=%u",
				      lc->tcmu.hw_max_sectors ? lc->tcmu.hw_max_sectors :
				      (1u << 20) / lc->block_size);
	if (lc->tcmu.max_data_area && n < sizeof(control))
		snprintf(control + n, sizeof(control) - n, ",max_data_area_mb=%llu",
			 (unsigned long long)((lc->tcmu.max_data_area + (1u << 20) - 1) >> 20));
	snprintf(path, sizeof(path), "%s/control", dir);
	if (write_attr(path, control, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/enable", dir);
	if (write_attr(path, "1", err, errlen) < 0)
		return -1;
	if (lc->tcmu.cmd_time_out) {
		/* only possible before the LUN is exported */
		snprintf(path, sizeof(path), "%s/attrib/cmd_time_out", dir);
		snprintf(control, sizeof(control), "%u", lc->tcmu.cmd_time_out);
		if (write_attr(path, control, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* The LUN directory (fabric/<target>/tpgt_N/lun/lun_K) through which the
 * backstore at dir is exported, or -1. */
static int find_export(const char *fabric, const char *dir, char *out, size_t len)
{
	char pattern[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
	glob_t g;
	int found = -1;

	if (!realpath(dir, want))
		return -1;
	snprintf(pattern, sizeof(pattern), "%s/%s/*/tpgt_*/lun/lun_*/*", LUNAR_TCMU_TARGET, fabric);
	if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
		return -1;
	for (size_t i = 0; i < g.gl_pathc && found < 0; i++) {
		struct stat st;
		char *slash;

		if (lstat(g.gl_pathv[i], &st) < 0 || !S_ISLNK(st.st_mode) ||
		    !realpath(g.gl_pathv[i], got) || strcmp(got, want))
			continue;
		snprintf(out, len, "%s", g.gl_pathv[i]);
		if ((slash = strrchr(out, '/')))
			*slash = 0;
		found = 0;
	}
	globfree(&g);
	return found;
}

/* Makes dir/lun/lun_<K> for the lowest free K and links the backstore
 * into it (for tcm_loop, the moment the kernel scans the new LUN). */
static int link_lun(struct lunar_tcmu_journal *j, const char *tpg, const char *dir,
		    const char *name, unsigned *lun_out, char *err, size_t errlen)
{
	char path[PATH_MAX], link[PATH_MAX + 64];
	unsigned k;

	for (k = 0; k < 65536; k++) {
		snprintf(path, sizeof(path), "%s/lun/lun_%u", tpg, k);
		if (mkdir(path, 0755) == 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
			return -1;
		}
	}
	lunar_tcmu_journal_add(j, LUNAR_TCMU_MKDIR, path);
	snprintf(link, sizeof(link), "%s/%s", path, name);
	if (symlink(dir, link) < 0) {
		snprintf(err, errlen, "cannot link %s to %s: %s", link, dir, strerror(errno));
		return -1;
	}
	lunar_tcmu_journal_add(j, LUNAR_TCMU_LINK, link);
	*lun_out = k;
	return 0;
}

static int fabric_dir(const char *fabric, const char *module, char *out, size_t len, char *err,
		      size_t errlen)
{
	snprintf(out, len, "%s/%s", LUNAR_TCMU_TARGET, fabric);
	/* the fabric's group appears on first mkdir; it stays (others may
	 * use it): it is not journaled */
	if (mkdir(out, 0755) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "cannot create %s (is %s loaded?): %s", out, module, strerror(errno));
	return -1;
}

/* Makes (or finds) FABRIC's target NAME and its tpgt_1: the path in tpg. */
static int target_tpg(struct lunar_tcmu_journal *j, const char *fabric, const char *module,
		      const char *name, char *tpg, size_t tpglen, char *err, size_t errlen)
{
	char top[PATH_MAX];

	if (fabric_dir(fabric, module, top, sizeof(top), err, errlen) < 0)
		return -1;
	snprintf(tpg, tpglen, "%s/%s", top, name);
	if (ensure_dir(j, tpg, err, errlen) < 0)
		return -1;
	snprintf(tpg, tpglen, "%s/%s/tpgt_1", top, name);
	return ensure_dir(j, tpg, err, errlen);
}

int lunar_tcmu_export_loop(struct lunar_tcmu_journal *j, const char *dir, const char *lun,
			   const char *wwn, char *where, size_t wherelen, char *err, size_t errlen)
{
	char tpg[PATH_MAX + 64], path[PATH_MAX + 96], seed[64], nexus[21], cur[64];
	unsigned k;

	if (find_export("loopback", dir, path, sizeof(path)) == 0) {
		snprintf(where, wherelen, "tcm_loop %s", path + strlen(LUNAR_TCMU_TARGET "/loopback/"));
		return 0;
	}
	if (target_tpg(j, "loopback", "tcm_loop", wwn, tpg, sizeof(tpg), err, errlen) < 0)
		return -1;
	/* the I_T nexus comes before any LUN: the LUN's link scans it */
	snprintf(path, sizeof(path), "%s/nexus", tpg);
	if (lunar_attr_read(path, cur, sizeof(cur)) < 0 || !cur[0]) {
		snprintf(seed, sizeof(seed), "nexus:%s", wwn);
		lunar_tcmu_wwn(seed, nexus);
		if (write_attr(path, nexus, err, errlen) < 0)
			return -1;
		lunar_tcmu_journal_add(j, LUNAR_TCMU_NEXUS, path);
	}
	if (link_lun(j, tpg, dir, lun, &k, err, errlen) < 0)
		return -1;
	snprintf(where, wherelen, "tcm_loop %s/tpgt_1/lun/lun_%u", wwn, k);
	return 0;
}

int lunar_tcmu_export_iscsi(struct lunar_tcmu_journal *j, const char *dir, const char *lun,
			    const char *iqn, const char *portal, char *where, size_t wherelen,
			    char *err, size_t errlen)
{
	static const char *const demo[][2] = {
		{ "attrib/authentication", "0" },
		{ "attrib/generate_node_acls", "1" },
		{ "attrib/cache_dynamic_acls", "1" },
		{ "attrib/demo_mode_write_protect", "0" },
	};
	char tpg[PATH_MAX + 256], path[PATH_MAX + 320], cur[16];
	unsigned k;

	if (!lunar_tcmu_iqn_ok(iqn)) {
		snprintf(err, errlen, "'%s' is not an iSCSI name the kernel takes (lowercase "
			 "letters, digits, '.', ':', '-')", iqn);
		return -1;
	}
	if (strpbrk(portal, "/ ,") || strlen(portal) > 64) {
		snprintf(err, errlen, "'%s' is not a portal (ADDRESS:PORT)", portal);
		return -1;
	}
	if (find_export("iscsi", dir, path, sizeof(path)) == 0) {
		snprintf(where, wherelen, "iSCSI %s", path + strlen(LUNAR_TCMU_TARGET "/iscsi/"));
		return 0;
	}
	if (target_tpg(j, "iscsi", "iscsi_target_mod", iqn, tpg, sizeof(tpg), err, errlen) < 0)
		return -1;
	if (link_lun(j, tpg, dir, lun, &k, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/np/%s", tpg, portal);
	if (ensure_dir(j, path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(demo) / sizeof(demo[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tpg, demo[i][0]);
		if (write_attr(path, demo[i][1], err, errlen) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/enable", tpg);
	if (lunar_attr_read(path, cur, sizeof(cur)) < 0 || strcmp(cur, "1")) {
		if (write_attr(path, "1", err, errlen) < 0)
			return -1;
		lunar_tcmu_journal_add(j, LUNAR_TCMU_ENABLE, path);
	}
	snprintf(where, wherelen, "iSCSI %s on %s, LUN %u", iqn, portal, k);
	return 0;
}

void lunar_tcmu_loop_disk(const char *dir, char *out, size_t len)
{
	char lundir[PATH_MAX], path[PATH_MAX + 32], addr[64], *slash;
	unsigned host, channel, target, lun;
	glob_t g;

	out[0] = 0;
	if (find_export("loopback", dir, lundir, sizeof(lundir)) < 0)
		return;
	slash = strrchr(lundir, '_');
	if (!slash || sscanf(slash + 1, "%u", &lun) != 1)
		return;
	/* .../tpgt_1/lun/lun_K -> .../tpgt_1/address: "host:channel:target" */
	snprintf(path, sizeof(path), "%s/../../address", lundir);
	if (lunar_attr_read(path, addr, sizeof(addr)) < 0 ||
	    sscanf(addr, "%u:%u:%u", &host, &channel, &target) != 3)
		return;
	snprintf(path, sizeof(path), "/sys/class/scsi_device/%u:%u:%u:%u/device/block/*", host,
		 channel, target, lun);
	if (glob(path, 0, NULL, &g) == 0 && g.gl_pathc) {
		slash = strrchr(g.gl_pathv[0], '/');
		snprintf(out, len, "/dev/%s", slash + 1);
	}
	globfree(&g);
}
