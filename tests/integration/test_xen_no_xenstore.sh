#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A xen LUN on a machine that is not a Xen domain (no xenstore) is "failed"
# with the reason in `lunarctl status`, and the daemon's other LUNs serve
# normally.  (Skipped inside a Xen domain, where xenstore may be there.)
source "$(dirname "$0")/lib.sh"

[ -e /proc/xen/capabilities ] || [ -e /dev/xen/xenbus ] && skip "this is a Xen domain"

write_file lunar.yaml <<YAML
luns:
  - name: guestdisk
    transport: xen
    handler: $LUNAR_SOURCE_DIR/examples/hello.lua
    size: 1MiB
  - name: fine
    transport: sim
    handler: $LUNAR_SOURCE_DIR/examples/hello.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

expect_lun guestdisk state failed
msg=$(lun_field guestdisk message)
grep -qE "cannot reach xenstore|built without the xen transport" <<<"$msg" ||
	fail "status of LUN guestdisk does not say why: '$msg'"
expect_lun fine state serving
cdb fine 000000000000
expect_good
