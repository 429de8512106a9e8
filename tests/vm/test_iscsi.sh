#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A LUN lunar creates and exports over iSCSI on 127.0.0.1 (demo mode):
# libiscsi logs in and sees the handler's INQUIRY and READ CAPACITY(16);
# a second LUN with an IQN of its own from the YAML; a clean exit removes
# both targets.
source "$(dirname "$0")/lib.sh"
vm_setup

write_config iscsi.yaml <<EOF2
version: 1
luns:
  - name: disk2
    transport: tcmu
    handler: $LUNAR_SOURCE_DIR/examples/ramdisk.lua
    size: 48MiB
    tcmu: { create: true, fabric: iscsi }
  - name: disk3
    transport: tcmu
    handler: $LUNAR_SOURCE_DIR/examples/ramdisk.lua
    size: 16MiB
    block_size: 4096
    tcmu: { create: true, fabric: iscsi, iqn: iqn.2025-01.test.lunar:third, portal: 127.0.0.1:3261 }
EOF2
start_lunar "$T/iscsi.yaml"
iqn=iqn.2003-01.org.linux-iscsi.lunar:disk2
check "lunarctl status: the device line names the target and portal" \
	grep -q "iSCSI $iqn on 127.0.0.1:3260, LUN 0" <<<"$(lun_json disk2 device)"
url=iscsi://127.0.0.1/$iqn/0
check "iscsi-inq: standard INQUIRY through a login" bash -c "iscsi-inq $url | grep -q 'Vendor:LUNAR'"
check "iscsi-inq -e 1 -c 128: the unit serial number" bash -c "iscsi-inq -e 1 -c 128 $url | grep -qF 'Unit Serial Number:[disk2]'"
check "iscsi-readcapacity16: last LBA 98303, 512-byte blocks" bash -c \
	"iscsi-readcapacity16 $url | grep -q 'LOGICAL BLOCK LENGTH IN BYTES:512' && iscsi-readcapacity16 $url | grep -q 'RETURNED LOGICAL BLOCK ADDRESS:98303'"
url3=iscsi://127.0.0.1:3261/iqn.2025-01.test.lunar:third/0
check "the second target, from the YAML's iqn and portal, 4096-byte blocks" bash -c \
	"iscsi-readcapacity16 $url3 | grep -q 'LOGICAL BLOCK LENGTH IN BYTES:4096'"
check "iscsi-ls lists both targets" bash -c \
	"iscsi-ls iscsi://127.0.0.1 | grep -q $iqn && iscsi-ls iscsi://127.0.0.1:3261 | grep -q third"

stop_lunar TERM
check "lunar run exits 0" test "$LUNAR_EXIT" -eq 0
check "configfs holds nothing lunar made" configfs_empty
finish
