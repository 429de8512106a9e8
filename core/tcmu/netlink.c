/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "log.h"
#include "tcmu/attr.h"
#include "tcmu/netlink.h"

/* include/uapi/linux/target_core_user.h */
enum {
	TCMU_CMD_SET_FEATURES = 7,
	TCMU_NL_REPLY_OFFSET = 3,	/* ADDED_DEVICE 1 -> ADDED_DEVICE_DONE 4 ... */
	TCMU_NL_VERSION = 2,
};
enum {
	TCMU_ATTR_DEVICE = 1,
	TCMU_ATTR_MINOR = 2,
	TCMU_ATTR_DEV_CFG = 4,
	TCMU_ATTR_DEV_SIZE = 5,
	TCMU_ATTR_WRITECACHE = 6,
	TCMU_ATTR_CMD_STATUS = 7,
	TCMU_ATTR_DEVICE_ID = 8,
	TCMU_ATTR_SUPP_KERN_CMD_REPLY = 9,
	TCMU_ATTR_MAX = 9,
};

#define PARAMS "/sys/module/target_core_user/parameters/"

struct lunar_tcmu_nl {
	struct nl_sock *sk;
	struct nl_cb *cb;
	int family;
	lunar_tcmu_nl_fn fn;
	void *ctx;
};

static struct nla_policy policy[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE] = { .type = NLA_STRING },
	[TCMU_ATTR_MINOR] = { .type = NLA_U32 },
	[TCMU_ATTR_DEV_CFG] = { .type = NLA_STRING },
	[TCMU_ATTR_DEV_SIZE] = { .type = NLA_U64 },
	[TCMU_ATTR_WRITECACHE] = { .type = NLA_U8 },
	[TCMU_ATTR_DEVICE_ID] = { .type = NLA_U32 },
};

/* A string attribute that fits buf whole (a cut name would name another
 * device); the policy already checked its NUL. */
static bool get_str(struct nlattr *a, char *buf, size_t len)
{
	if (!a || (size_t)nla_len(a) > len)
		return false;
	nla_strlcpy(buf, a, len);
	return true;
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct lunar_tcmu_nl *nl = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *a[TCMU_ATTR_MAX + 1];
	struct lunar_tcmu_nl_event e;
	struct genlmsghdr *g;

	if (h->nlmsg_type != nl->family)
		return NL_SKIP;
	if (genlmsg_parse(h, 0, a, TCMU_ATTR_MAX, policy) < 0) {
		log_warn("tcmu: a malformed TCM-USER netlink message was ignored");
		return NL_SKIP;
	}
	g = genlmsg_hdr(h);
	memset(&e, 0, sizeof(e));
	e.cmd = g->cmd;
	e.write_cache = -1;
	if (e.cmd < LUNAR_TCMU_NL_ADDED || e.cmd > LUNAR_TCMU_NL_RECONFIG)
		return NL_SKIP;
	if (!get_str(a[TCMU_ATTR_DEVICE], e.device, sizeof(e.device)) || !a[TCMU_ATTR_MINOR]) {
		log_warn("tcmu: a TCM-USER event without a usable device name was ignored");
		return NL_SKIP;
	}
	e.minor = nla_get_u32(a[TCMU_ATTR_MINOR]);
	/* version 1 kernels have no DEVICE_ID, and no replies either */
	if (a[TCMU_ATTR_DEVICE_ID] && g->version > 1) {
		e.has_dev_id = true;
		e.dev_id = nla_get_u32(a[TCMU_ATTR_DEVICE_ID]);
	}
	if (a[TCMU_ATTR_DEV_CFG])
		e.has_cfg = get_str(a[TCMU_ATTR_DEV_CFG], e.cfg, sizeof(e.cfg));
	if (a[TCMU_ATTR_DEV_SIZE]) {
		e.has_size = true;
		e.size = nla_get_u64(a[TCMU_ATTR_DEV_SIZE]);
	}
	if (a[TCMU_ATTR_WRITECACHE])
		e.write_cache = nla_get_u8(a[TCMU_ATTR_WRITECACHE]) != 0;
	nl->fn(nl->ctx, &e);
	return NL_OK;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *err, void *arg)
{
	log_warn("tcmu: the kernel refused a TCM-USER netlink message: %s", strerror(-err->error));
	return NL_SKIP;
}

struct lunar_tcmu_nl *lunar_tcmu_nl_open(lunar_tcmu_nl_fn fn, void *ctx, char *err, size_t errlen)
{
	struct lunar_tcmu_nl *nl = calloc(1, sizeof(*nl));
	int grp, rc;

	if (!nl || !(nl->sk = nl_socket_alloc())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	nl->fn = fn;
	nl->ctx = ctx;
	/* events carry sequence number 0, replies want no ACK back */
	nl_socket_disable_seq_check(nl->sk);
	nl_socket_disable_auto_ack(nl->sk);
	nl_socket_modify_cb(nl->sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, nl);
	nl_socket_modify_err_cb(nl->sk, NL_CB_CUSTOM, on_error, nl);
	if ((rc = genl_connect(nl->sk)) < 0) {
		snprintf(err, errlen, "generic netlink: %s", nl_geterror(rc));
		goto fail;
	}
	nl->family = genl_ctrl_resolve(nl->sk, "TCM-USER");
	grp = genl_ctrl_resolve_grp(nl->sk, "TCM-USER", "config");
	if (nl->family < 0 || grp < 0) {
		snprintf(err, errlen, "the kernel has no TCM-USER netlink family (is target_core_user "
			 "loaded?)");
		goto fail;
	}
	if ((rc = nl_socket_add_membership(nl->sk, grp)) < 0) {
		snprintf(err, errlen, "cannot join the TCM-USER netlink group: %s", nl_geterror(rc));
		goto fail;
	}
	nl_socket_set_buffer_size(nl->sk, 1 << 20, 0);
	nl_socket_set_nonblocking(nl->sk);
	nl->cb = nl_socket_get_cb(nl->sk);
	return nl;
fail:
	lunar_tcmu_nl_close(nl);
	return NULL;
}

int lunar_tcmu_nl_fd(const struct lunar_tcmu_nl *nl)
{
	return nl_socket_get_fd(nl->sk);
}

int lunar_tcmu_nl_recv(struct lunar_tcmu_nl *nl)
{
	int rc;

	do
		rc = nl_recvmsgs_report(nl->sk, nl->cb);
	while (rc > 0);
	if (rc == 0 || rc == -NLE_AGAIN)
		return 0;
	if (rc != -NLE_NOMEM)	/* ENOBUFS: the kernel dropped events */
		log_warn("tcmu: netlink: %s", nl_geterror(rc));
	return -1;
}

int lunar_tcmu_nl_reply(struct lunar_tcmu_nl *nl, const struct lunar_tcmu_nl_event *e, int status)
{
	struct nl_msg *m;
	int rc = -1;

	if (!e->has_dev_id)
		return 0;
	m = nlmsg_alloc();
	if (!m)
		return -1;
	if (genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0,
			(uint8_t)(e->cmd + TCMU_NL_REPLY_OFFSET), TCMU_NL_VERSION) &&
	    nla_put_s32(m, TCMU_ATTR_CMD_STATUS, status) == 0 &&
	    nla_put_u32(m, TCMU_ATTR_DEVICE_ID, e->dev_id) == 0)
		rc = nl_send_auto(nl->sk, m);
	nlmsg_free(m);
	if (rc < 0)
		log_err("tcmu: cannot answer the kernel about uio%u: %s", e->minor,
			nl_geterror(rc));
	return rc < 0 ? -1 : 0;
}

void lunar_tcmu_nl_close(struct lunar_tcmu_nl *nl)
{
	if (!nl)
		return;
	if (nl->cb)
		nl_cb_put(nl->cb);
	if (nl->sk)
		nl_socket_free(nl->sk);
	free(nl);
}

int lunar_tcmu_nl_set_features(bool reply, char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *m = NULL;
	int family, rc = -NLE_NOMEM;

	if (!sk)
		goto out;
	if ((rc = genl_connect(sk)) < 0 || (rc = family = genl_ctrl_resolve(sk, "TCM-USER")) < 0)
		goto out;
	rc = -NLE_NOMEM;
	if (!(m = nlmsg_alloc()) ||
	    !genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, TCMU_CMD_SET_FEATURES,
			 TCMU_NL_VERSION) ||
	    nla_put_u8(m, TCMU_ATTR_SUPP_KERN_CMD_REPLY, reply) < 0)
		goto out;
	rc = nl_send_sync(sk, m);	/* frees m */
	m = NULL;
out:
	nlmsg_free(m);
	nl_socket_free(sk);
	if (rc < 0) {
		snprintf(err, errlen, "TCM-USER SET_FEATURES: %s", nl_geterror(rc));
		return -1;
	}
	return 0;
}

int lunar_tcmu_nl_reset_waiters(char *err, size_t errlen)
{
	int rc = 0;

	if (lunar_attr_write(PARAMS "block_netlink", "1") < 0) {
		snprintf(err, errlen, "cannot write " PARAMS "block_netlink: %s", strerror(errno));
		return -1;
	}
	if (lunar_attr_write(PARAMS "reset_netlink", "1") < 0) {
		snprintf(err, errlen, "cannot write " PARAMS "reset_netlink: %s", strerror(errno));
		rc = -1;
	}
	if (lunar_attr_write(PARAMS "block_netlink", "0") < 0 && rc == 0) {
		snprintf(err, errlen, "cannot write " PARAMS "block_netlink: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}
