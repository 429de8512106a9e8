/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "lun.h"
#include "tcmu/attr.h"
#include "tcmu/configfs.h"
#include "tcmu/journal.h"
#include "tcmu/names.h"
#include "tcmu/netlink.h"
#include "tcmu/port.h"
#include "tcmu/tcmu_abi.h"
#include "tcmu/uio.h"
#include "transports.h"

/*
 * The TCMU transport: LIO user backstores, served through their uio
 * devices.  A device is ours when its dev_config is "lunar/<LUN name>"
 * (names.h); devices are found by scanning /sys/class/uio at start and by
 * the TCM-USER netlink events while lunar runs.  With `create: true` the
 * LUN's backstore and fabric LUN are made here too (configfs.c), recorded
 * in its journal, and removed at a clean exit.  Everything here runs on
 * the daemon's main thread; `describe` runs on control threads.
 */

/* A uio device lunar serves. */
struct tdev {
	struct tdev *next;
	unsigned minor;
	struct lunar_tcmu_uio_name name;
	char dir[PATH_MAX];		/* its configfs directory */
	struct lunar_tcmu_uio uio;
	struct lunar_tcmu_attrs attrs;
	struct lunar_lun *lun;
};

/* lun->transport of a tcmu LUN. */
struct tlun {
	struct tdev *dev;
	struct lunar_tcmu_journal journal;	/* create: true */
	bool journaled;
	char dir[PATH_MAX];			/* the backstore lunar made */
	char export[320];			/* where the fabric shows it */
	char desc[1024];			/* the lunarctl status line */
	char loop_dir[PATH_MAX];		/* its backstore, if on tcm_loop */
};

static struct {
	struct lunar_daemon *d;
	struct lunar_tcmu_nl *nl;
	bool own;			/* tcmu_netlink: own */
	bool features_set;
	struct tdev *devs;
	pthread_mutex_t lock;		/* tlun.desc, lun->transport */
} T = { .lock = PTHREAD_MUTEX_INITIALIZER };

enum { NOT_OURS = 1 };

static struct tlun *tl_of(struct lunar_lun *lun)
{
	return lun->cfg.transport == LUNAR_TRANSPORT_TCMU ? lun->transport : NULL;
}

static struct lunar_lun *find_lun(const char *name)
{
	for (size_t i = 0; i < T.d->nluns; i++) {
		struct lunar_lun *lun = T.d->luns[i];

		if (lun->cfg.transport == LUNAR_TRANSPORT_TCMU && !strcmp(lun->cfg.name, name))
			return lun;
	}
	return NULL;
}

static struct tdev *find_dev(unsigned minor)
{
	for (struct tdev *v = T.devs; v; v = v->next)
		if (v->minor == minor)
			return v;
	return NULL;
}

/* The status line: where the LUN's device is, or what it waits for. */
static void update_desc(struct lunar_lun *lun)
{
	struct tlun *tl = tl_of(lun);
	char desc[sizeof(tl->desc)];
	struct tdev *v;

	if (!tl)
		return;
	v = tl->dev;
	if (!v)
		snprintf(desc, sizeof(desc), "no TCMU device yet (waiting for one with "
			 "dev_config=%s/%s)", LUNAR_TCMU_SUBTYPE, lun->cfg.name);
	else
		snprintf(desc, sizeof(desc), "uio%u user_%u/%s%s%s", v->minor, v->name.hba,
			 v->name.dev, tl->export[0] ? ", " : "", tl->export);
	pthread_mutex_lock(&T.lock);
	memcpy(tl->desc, desc, sizeof(desc));
	/* the disk shows up when the initiator's scan is done: looked up
	 * at each describe */
	if (v && !strncmp(tl->export, "tcm_loop", 8))
		snprintf(tl->loop_dir, sizeof(tl->loop_dir), "%s", v->dir);
	else
		tl->loop_dir[0] = 0;
	pthread_mutex_unlock(&T.lock);
}

/* A device that claims a LUN but cannot serve it. */
static int __attribute__((format(printf, 3, 4)))
refuse(struct lunar_lun *lun, int status, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_err("%s: %s", lun->cfg.name, why);
	/* a LUN that serves another device keeps serving */
	if (!tl_of(lun)->dev)
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "%s", why);
	return status;
}

static void release(struct tdev *v)
{
	struct tdev **pp;

	lunar_tcmu_uio_close(&v->uio);
	for (pp = &T.devs; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	free(v);
}

/*
 * Serves uio<minor> when its name says it is one of our LUNs.  reopen:
 * the device existed before this lunar started, so a lunar that died may
 * have left commands in its ring.  Those are failed back to the initiator
 * as BUSY (it retries them) by resetting the ring before we read it: a
 * command that was half done is redone, never acknowledged unseen.
 * Returns 0, NOT_OURS, or -errno (the netlink answer).
 */
static int serve(unsigned minor, const char *uio_name, bool reopen)
{
	struct lunar_lun_device ld;
	struct lunar_port *port;
	struct lunar_lun *lun;
	struct tdev *v;
	const char *name;
	bool busy = false;
	char err[512];

	if (find_dev(minor))
		return 0;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->minor = minor;
	v->uio.fd = -1;
	if (lunar_tcmu_parse_uio_name(uio_name, &v->name) < 0 ||
	    !(name = lunar_tcmu_lun_of(&v->name))) {
		free(v);
		return NOT_OURS;
	}
	lun = find_lun(name);
	if (!lun) {
		log_info("tcmu: uio%u (%s) is for LUN '%s', which this configuration does not "
			 "have: left alone", minor, uio_name, name);
		free(v);
		return NOT_OURS;
	}
	if (tl_of(lun)->dev) {
		free(v);
		return refuse(lun, -EBUSY, "uio%u (%s) is a second device for this LUN, which "
			      "uio%u serves: left alone", minor, uio_name, tl_of(lun)->dev->minor);
	}
	lunar_tcmu_dev_dir(v->name.hba, v->name.dev, v->dir, sizeof(v->dir));
	if (lunar_tcmu_read_attrs(v->dir, &v->attrs, err, sizeof(err)) < 0) {
		free(v);
		return refuse(lun, -EIO, "uio%u: %s", minor, err);
	}
	if (v->attrs.size != lun->cfg.size || v->attrs.block_size != lun->cfg.block_size) {
		int rc = refuse(lun, -EINVAL, "uio%u (user_%u/%s) is %llu bytes in %u-byte blocks, "
				"but the configuration says %llu bytes in %u-byte blocks: not served",
				minor, v->name.hba, v->name.dev, (unsigned long long)v->attrs.size,
				v->attrs.block_size, (unsigned long long)lun->cfg.size,
				lun->cfg.block_size);

		free(v);
		return rc;
	}
	if (lunar_tcmu_uio_open(&v->uio, minor, err, sizeof(err)) < 0) {
		free(v);
		return refuse(lun, -EBUSY, "%s", err);
	}
	v->uio.dir = v->dir;	/* open() cleared it: for free_kept_buf */
	if (lunar_tcmu_uio_map(&v->uio, err, sizeof(err)) < 0)
		goto fail;
	if (reopen) {
		const struct lunar_tcmu_mailbox *mb = v->uio.map;

		/* one look (for the log) at what the previous owner left */
		busy = __atomic_load_n(&mb->cmd_head, __ATOMIC_ACQUIRE) !=
		       __atomic_load_n(&mb->cmd_tail, __ATOMIC_ACQUIRE);
		if (lunar_tcmu_dev_write(v->dir, "action/block_dev", "1", err, sizeof(err)) < 0 ||
		    lunar_tcmu_dev_write(v->dir, "action/reset_ring", "1", err, sizeof(err)) < 0)
			goto fail;
	}
	/* TMR entries in the ring (ABORT TASK, LUN RESET...): kernels >= 5.9 */
	if (lunar_tcmu_dev_write(v->dir, "attrib/tmr_notification", "1", err, sizeof(err)) < 0)
		log_info("%s: %s (this kernel does not tell handlers about aborts)", lun->cfg.name,
			 err);
	port = lunar_tcmu_port_create(lun, v->uio.map, v->uio.map_size, v->uio.fd,
				      &lunar_tcmu_uio_notify, &v->uio, err, sizeof(err));
	if (!port)
		goto fail;
	ld = (struct lunar_lun_device){
		.size = v->attrs.size, .max_sectors = v->attrs.max_sectors,
		.write_cache = (int8_t)v->attrs.write_cache, .cmd_time_out = v->attrs.cmd_time_out,
	};
	lunar_lun_set_device(lun, &ld);
	if (lunar_lun_attach(lun, port) < 0) {
		port->ops->destroy(port);
		snprintf(err, sizeof(err), "cannot start the LUN's worker");
		goto fail;
	}
	if (reopen)
		lunar_tcmu_dev_write(v->dir, "action/block_dev", "0", err, sizeof(err));
	v->lun = lun;
	v->next = T.devs;
	T.devs = v;
	tl_of(lun)->dev = v;
	if (lun->gen)
		lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "%s", "");
	log_info("%s: serving uio%u (user_%u/%s%s): %llu bytes, %u-byte blocks, up to %u "
		 "blocks per command, cmd_time_out %us", lun->cfg.name, minor, v->name.hba,
		 v->name.dev, !reopen ? "" : busy ? ", ring reset: commands in flight are retried" :
		 ", ring reset: it was idle",
		 (unsigned long long)v->attrs.size, v->attrs.block_size, v->attrs.max_sectors,
		 v->attrs.cmd_time_out);
	update_desc(lun);
	return 0;
fail:
	if (reopen) {
		char why[256];

		lunar_tcmu_dev_write(v->dir, "action/block_dev", "0", why, sizeof(why));
	}
	lunar_tcmu_uio_close(&v->uio);
	free(v);
	return refuse(lun, -EIO, "uio%u: %s", minor, err);
}

/* The LUN lets go of its device: its worker stops, the ring is unmapped. */
static void unserve(struct tdev *v, const char *why)
{
	struct lunar_lun *lun = v->lun;

	lunar_lun_detach(lun);
	tl_of(lun)->dev = NULL;
	release(v);
	if (why) {
		log_info("%s: uio device %s: no longer served", lun->cfg.name, why);
		if (lun->gen)
			lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "its TCMU device %s", why);
	}
	update_desc(lun);
}

/* Attaches every lunar device not served yet, and lets go of those that
 * vanished (at start, and when netlink events were lost). */
static void rescan(void)
{
	unsigned *minors = NULL;
	size_t n = 0;
	char name[512];

	for (struct tdev *v = T.devs, *next; v; v = next) {
		next = v->next;
		if (lunar_tcmu_uio_name(v->minor, name, sizeof(name)) < 0)
			unserve(v, "was removed");
	}
	if (lunar_tcmu_uio_list(&minors, &n) < 0) {
		log_err("tcmu: cannot list /sys/class/uio: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!find_dev(minors[i]) && lunar_tcmu_uio_name(minors[i], name, sizeof(name)) == 0)
			serve(minors[i], name, true);
	free(minors);
}

/* ---- netlink ------------------------------------------------------------------------ */

static int reconfig(struct tdev *v, const struct lunar_tcmu_nl_event *e)
{
	struct lunar_lun *lun = v->lun;
	struct lunar_lun_device ld;

	if (e->has_size) {
		if (!e->size || e->size % lun->cfg.block_size) {
			log_err("%s: uio%u: new size %llu is not a multiple of the %u-byte block: "
				"refused", lun->cfg.name, v->minor, (unsigned long long)e->size,
				lun->cfg.block_size);
			return -EINVAL;
		}
		log_info("%s: uio%u is now %llu bytes (was %llu)", lun->cfg.name, v->minor,
			 (unsigned long long)e->size, (unsigned long long)v->attrs.size);
		v->attrs.size = e->size;
	}
	if (e->write_cache >= 0) {
		log_info("%s: uio%u: write cache %s", lun->cfg.name, v->minor,
			 e->write_cache ? "on" : "off");
		v->attrs.write_cache = e->write_cache;
	}
	if (e->has_cfg) {
		struct lunar_tcmu_uio_name n = v->name;
		const char *slash = strchr(e->cfg, '/');

		snprintf(n.subtype, sizeof(n.subtype), "%.*s",
			 (int)(slash ? slash - e->cfg : (ptrdiff_t)strlen(e->cfg)), e->cfg);
		snprintf(n.cfg, sizeof(n.cfg), "%s", slash ? slash + 1 : "");
		if (!lunar_tcmu_lun_of(&n) || strcmp(lunar_tcmu_lun_of(&n), lun->cfg.name)) {
			log_err("%s: uio%u: dev_config changed to '%s': lunar keeps serving it as "
				"LUN '%s' until the device is added again", lun->cfg.name, v->minor,
				e->cfg, lun->cfg.name);
			return -EINVAL;
		}
	}
	ld = (struct lunar_lun_device){
		.size = v->attrs.size, .max_sectors = v->attrs.max_sectors,
		.write_cache = (int8_t)v->attrs.write_cache, .cmd_time_out = v->attrs.cmd_time_out,
	};
	lunar_lun_set_device(lun, &ld);
	return 0;
}

/*
 * Whether the kernel waits for our answer to e: only for devices whose
 * nl_reply_supported came out > 0 at their enable (an answer nobody waits
 * for is only a line in the kernel log, but a missing one is a hung
 * configfs writer: when in doubt, answer).
 */
static bool awaits_reply(const struct lunar_tcmu_nl_event *e, const struct tdev *v)
{
	struct lunar_tcmu_uio_name n;
	char path[PATH_MAX + 32];
	int reply;

	if (v)
		return v->attrs.nl_reply > 0;
	if (lunar_tcmu_parse_uio_name(e->device, &n) < 0)
		return true;
	lunar_tcmu_dev_dir(n.hba, n.dev, path, PATH_MAX);
	strcat(path, "/attrib/nl_reply_supported");
	return lunar_attr_read_int(path, &reply) < 0 || reply > 0;
}

static void on_event(void *ctx, const struct lunar_tcmu_nl_event *e)
{
	struct tdev *v = find_dev(e->minor);
	bool answer = T.own && awaits_reply(e, v);
	int status = 0;

	switch (e->cmd) {
	case LUNAR_TCMU_NL_ADDED:
		status = serve(e->minor, e->device, false);
		if (status == NOT_OURS)
			status = -ENOENT;	/* nobody here serves it */
		break;
	case LUNAR_TCMU_NL_REMOVED:
		if (v)
			unserve(v, "was removed");
		break;
	case LUNAR_TCMU_NL_RECONFIG:
		status = v ? reconfig(v, e) : -ENOENT;
		if (v && status == 0)
			update_desc(v->lun);
		break;
	}
	/* only the owner of the family answers (tcmu_netlink: own) */
	if (answer)
		lunar_tcmu_nl_reply(T.nl, e, status == NOT_OURS ? 0 : status);
}

/* ---- create: true ----------------------------------------------------------------- */

/* The uio device the kernel made for a backstore we created. */
static int find_uio_of(const char *dir, unsigned *minor, char *name, size_t len)
{
	char want[PATH_MAX];
	unsigned *minors = NULL;
	size_t n = 0;
	int rc = -1;

	if (lunar_tcmu_uio_list(&minors, &n) < 0)
		return -1;
	for (size_t i = 0; i < n && rc < 0; i++) {
		struct lunar_tcmu_uio_name u;

		if (lunar_tcmu_uio_name(minors[i], name, len) < 0 ||
		    lunar_tcmu_parse_uio_name(name, &u) < 0)
			continue;
		lunar_tcmu_dev_dir(u.hba, u.dev, want, sizeof(want));
		if (!strcmp(want, dir)) {
			*minor = minors[i];
			rc = 0;
		}
	}
	free(minors);
	return rc;
}

static int export(struct lunar_lun *lun, char *err, size_t errlen)
{
	const struct lunar_lun_config *lc = &lun->cfg;
	struct tlun *tl = tl_of(lun);
	char id[256], seed[300];

	if (lc->tcmu.fabric && !strcmp(lc->tcmu.fabric, "iscsi")) {
		if (lc->tcmu.iqn)
			snprintf(id, sizeof(id), "%s", lc->tcmu.iqn);
		else
			lunar_tcmu_iqn(lc->name, id, sizeof(id));
		return lunar_tcmu_export_iscsi(&tl->journal, tl->dev->dir, lc->name, id,
					       lc->tcmu.portal ? lc->tcmu.portal : "127.0.0.1:3260",
					       tl->export, sizeof(tl->export), err, errlen);
	}
	if (lc->tcmu.wwn) {
		snprintf(id, sizeof(id), "%s", lc->tcmu.wwn);
	} else {
		snprintf(seed, sizeof(seed), "target:%s", lc->name);
		lunar_tcmu_wwn(seed, id);
	}
	return lunar_tcmu_export_loop(&tl->journal, tl->dev->dir, lc->name, id, tl->export,
				      sizeof(tl->export), err, errlen);
}

/*
 * create: true.  What exists already (made by an earlier lunar, whose
 * journal this one takes over, or by targetcli) is used as it is; what is
 * missing is made: the backstore, served at once, then the fabric LUN.
 */
static void create(struct lunar_lun *lun)
{
	const struct lunar_lun_config *lc = &lun->cfg;
	struct tlun *tl = tl_of(lun);
	char err[512] = "", name[512];
	unsigned minor;

	if (lunar_tcmu_journal_open(&tl->journal, lc->name, err, sizeof(err)) < 0) {
		refuse(lun, 0, "%s", err);
		return;
	}
	tl->journaled = true;
	if (tl->journal.n)
		log_info("%s: takes over %zu configfs objects an earlier lunar made", lc->name,
			 tl->journal.n);
	if (!tl->dev) {
		if (lunar_tcmu_create_backstore(&tl->journal, lc, tl->dir, sizeof(tl->dir), err,
						sizeof(err)) < 0)
			goto fail;
		if (find_uio_of(tl->dir, &minor, name, sizeof(name)) < 0) {
			snprintf(err, sizeof(err), "the kernel made no uio device for %.400s", tl->dir);
			goto fail;
		}
		if (serve(minor, name, false) != 0)
			goto undo;	/* serve() said why */
	}
	if (export(lun, err, sizeof(err)) < 0)
		goto fail;
	log_info("%s: exported through %s", lc->name, tl->export);
	update_desc(lun);
	return;
fail:
	refuse(lun, 0, "cannot create its TCMU device: %s", err);
undo:
	/* all or nothing: what this attempt made goes again */
	lunar_tcmu_journal_undo(&tl->journal, LUNAR_TCMU_CORE "/");
	if (tl->dev && lunar_tcmu_journal_has(&tl->journal, tl->dev->dir))
		unserve(tl->dev, NULL);
	lunar_tcmu_journal_undo(&tl->journal, NULL);
	tl->export[0] = 0;
	if (tl->dev && err[0])
		lunar_lun_set_state(lun, LUNAR_LUN_SERVING, "served, but not exported: %.200s", err);
	else if (err[0])
		lunar_lun_set_state(lun, LUNAR_LUN_FAILED, "cannot create its TCMU device: %.200s", err);
	update_desc(lun);
}

/* ---- as a transport ------------------------------------------------------------------ */

static void tcmu_stop(struct lunar_daemon *d);

static int tcmu_start(struct lunar_daemon *d, char *err, size_t errlen)
{
	bool loop = false, iscsi = false;

	T.d = d;
	T.own = d->cfg->tcmu_netlink_own;
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *lun = d->luns[i];
		struct tlun *tl;

		if (lun->cfg.transport != LUNAR_TRANSPORT_TCMU)
			continue;
		tl = calloc(1, sizeof(*tl));
		if (!tl) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		tl->journal.fd = -1;
		pthread_mutex_lock(&T.lock);
		lun->transport = tl;
		pthread_mutex_unlock(&T.lock);
		if (lun->cfg.tcmu.create) {
			iscsi |= lun->cfg.tcmu.fabric && !strcmp(lun->cfg.tcmu.fabric, "iscsi");
			loop |= !lun->cfg.tcmu.fabric || !strcmp(lun->cfg.tcmu.fabric, "loop");
		}
	}
	if (lunar_tcmu_check_privileges(err, errlen) < 0 ||
	    lunar_tcmu_load_module("target_core_user", err, errlen) < 0 ||
	    (loop && lunar_tcmu_load_module("tcm_loop", err, errlen) < 0) ||
	    (iscsi && lunar_tcmu_load_module("iscsi_target_mod", err, errlen) < 0) ||
	    lunar_tcmu_mount_configfs(err, errlen) < 0)
		goto fail;
	/* listening before looking: a device added meanwhile is seen twice,
	 * never missed */
	T.nl = lunar_tcmu_nl_open(on_event, NULL, err, errlen);
	if (!T.nl)
		goto fail;
	if (T.own) {
		char why[256];

		/* configfs writers still waiting on a daemon that died */
		if (lunar_tcmu_nl_reset_waiters(why, sizeof(why)) < 0)
			log_warn("tcmu: %s", why);
		if (lunar_tcmu_nl_set_features(true, err, errlen) < 0)
			goto fail;
		T.features_set = true;
		log_info("tcmu: lunar owns the TCM-USER netlink family: it answers every device "
			 "event");
	}
	rescan();
	for (size_t i = 0; i < d->nluns; i++) {
		struct lunar_lun *lun = d->luns[i];

		if (!tl_of(lun))
			continue;
		if (lun->cfg.tcmu.create)
			create(lun);
		else if (!tl_of(lun)->dev)
			log_info("%s: waiting for a TCMU device with dev_config=%s/%s",
				 lun->cfg.name, LUNAR_TCMU_SUBTYPE, lun->cfg.name);
		update_desc(lun);
	}
	return 0;
fail:
	/* the daemon calls stop only for a transport that started */
	tcmu_stop(d);
	return -1;
}

static int tcmu_fd(struct lunar_daemon *d)
{
	return T.nl ? lunar_tcmu_nl_fd(T.nl) : -1;
}

static void tcmu_event(struct lunar_daemon *d)
{
	if (lunar_tcmu_nl_recv(T.nl) < 0) {
		log_warn("tcmu: netlink events were lost: rescanning the uio devices");
		rescan();
	}
}

/*
 * Phase one: the fabric LUNs lunar made go first, while their backstores
 * are still served (the initiator flushes and lets go of the disk through
 * them), then every LUN lets go of its device.
 */
static void tcmu_quiesce(struct lunar_daemon *d)
{
	for (size_t i = 0; i < d->nluns; i++) {
		struct tlun *tl = tl_of(d->luns[i]);

		if (tl && tl->journaled)
			lunar_tcmu_journal_undo(&tl->journal, LUNAR_TCMU_CORE "/");
	}
	while (T.devs)
		unserve(T.devs, NULL);
}

/* The backstore lunar made for the LUN (its fabric LUN and its device
 * are gone already), and the LUN's transport state. */
static void forget(struct lunar_lun *lun)
{
	struct tlun *tl = tl_of(lun);

	if (!tl)
		return;
	if (tl->journaled) {
		lunar_tcmu_journal_undo(&tl->journal, NULL);
		lunar_tcmu_journal_close(&tl->journal);
	}
	pthread_mutex_lock(&T.lock);
	lun->transport = NULL;
	pthread_mutex_unlock(&T.lock);
	free(tl);
}

/* Phase two: the backstores lunar made, and netlink. */
static void tcmu_stop(struct lunar_daemon *d)
{
	char err[256];

	for (size_t i = 0; i < d->nluns; i++)
		forget(d->luns[i]);
	/* the reply flag outlives us: left set, the next device anyone
	 * enables would wait forever for an answer nobody sends */
	if (T.features_set && lunar_tcmu_nl_set_features(false, err, sizeof(err)) < 0)
		log_warn("tcmu: %s", err);
	T.features_set = false;
	lunar_tcmu_nl_close(T.nl);
	T.nl = NULL;
}

/* A config reload added a LUN: as at start, for this one. */
static int tcmu_add(struct lunar_daemon *d, struct lunar_lun *lun, char *err, size_t errlen)
{
	const char *fabric = lun->cfg.tcmu.fabric ? lun->cfg.tcmu.fabric : "loop";
	struct tlun *tl;

	if (!T.nl) {
		snprintf(err, errlen, "the tcmu transport is not running (it had no LUN when lunar "
			 "started, or it failed): restart lunar");
		return -1;
	}
	if (lun->cfg.tcmu.create &&
	    lunar_tcmu_load_module(strcmp(fabric, "iscsi") ? "tcm_loop" : "iscsi_target_mod", err,
				   errlen) < 0)
		return -1;
	tl = calloc(1, sizeof(*tl));
	if (!tl) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	tl->journal.fd = -1;
	pthread_mutex_lock(&T.lock);
	lun->transport = tl;
	pthread_mutex_unlock(&T.lock);
	rescan();
	if (lun->cfg.tcmu.create)
		create(lun);
	else if (!tl->dev)
		log_info("%s: waiting for a TCMU device with dev_config=%s/%s", lun->cfg.name,
			 LUNAR_TCMU_SUBTYPE, lun->cfg.name);
	update_desc(lun);
	return 0;
}

/* A config reload removed a LUN: what lunar made for it goes, as at exit. */
static void tcmu_remove(struct lunar_daemon *d, struct lunar_lun *lun)
{
	struct tlun *tl = tl_of(lun);

	if (!tl)
		return;
	if (tl->journaled)
		lunar_tcmu_journal_undo(&tl->journal, LUNAR_TCMU_CORE "/");
	if (tl->dev)
		unserve(tl->dev, NULL);
	forget(lun);
}

static void tcmu_describe(struct lunar_lun *lun, char *buf, size_t len)
{
	char dir[PATH_MAX] = "", disk[64] = "";
	struct tlun *tl;
	size_t n;

	pthread_mutex_lock(&T.lock);
	tl = tl_of(lun);
	snprintf(buf, len, "%s", tl ? tl->desc : "");
	if (tl)
		memcpy(dir, tl->loop_dir, sizeof(dir));
	pthread_mutex_unlock(&T.lock);
	if (dir[0])
		lunar_tcmu_loop_disk(dir, disk, sizeof(disk));
	n = strlen(buf);
	if (disk[0] && n + 1 < len)
		snprintf(buf + n, len - n, " %s", disk);
}

const struct lunar_transport_ops lunar_tcmu_transport = {
	.name = "tcmu",
	.type = LUNAR_TRANSPORT_TCMU,
	.start = tcmu_start,
	.fd = tcmu_fd,
	.event = tcmu_event,
	.quiesce = tcmu_quiesce,
	.stop = tcmu_stop,
	.add = tcmu_add,
	.remove = tcmu_remove,
	.describe = tcmu_describe,
};
