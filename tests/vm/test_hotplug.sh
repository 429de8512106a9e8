#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Devices made by someone else (here by hand in configfs, as targetcli
# would) while lunar runs: a new lunar/<LUN> backstore is picked up and
# served; a size change reaches the handler and the initiator; ABORT TASK
# and LUN RESET reach the handler; a device whose size disagrees with the
# YAML is refused; a removed device is let go of and a new one served
# again; at exit lunar leaves what it did not make.  Then, with
# `tcmu_netlink: own`, lunar answers the kernel's netlink events (a
# foreign subtype is refused) and leaves no reply flag behind.
source "$(dirname "$0")/lib.sh"
vm_setup

write_config hot.yaml <<EOF
version: 1
luns:
  - name: hot0
    transport: tcmu
    handler: $VM_DIR/disk.lua
    size: 32MiB
    args: { path: $T/hot0.img, create: true, stall_lba: 4242 }
  - name: bad0
    transport: tcmu
    handler: $VM_DIR/disk.lua
    size: 32MiB
    args: { path: $T/bad0.img, create: true }
EOF

# make_backstore HBA NAME SIZE [CONTROL...]: a user backstore, by hand
make_backstore()
{
	local d=$CFS/core/user_$1/$2

	mkdir -p "$d" &&
		printf '%s' "dev_config=lunar/$2,dev_size=$3${4:+,$4}" >"$d/control" &&
		echo 1 >"$d/enable"
}

# export_loop HBA NAME WWN: a tcm_loop LUN on it; prints the /dev/sdX
export_loop()
{
	local t=$CFS/loopback/$3/tpgt_1 addr

	mkdir -p "$t/lun/lun_0" &&
		echo -n naa.5001405fffffffff >"$t/nexus" &&
		ln -s "$CFS/core/user_$1/$2" "$t/lun/lun_0/$2" || return 1
	addr=$(cat "$t/address")
	wait_until 20 ls "/sys/class/scsi_device/$addr:0/device/block/" || return 1
	echo "/dev/$(ls "/sys/class/scsi_device/$addr:0/device/block/")"
}

unexport_loop()
{
	local t=$CFS/loopback/$1/tpgt_1

	find "$t/lun/lun_0" -maxdepth 1 -type l -delete && rmdir "$t/lun/lun_0" && echo NULL >"$t/nexus" &&
		rmdir "$t" "$CFS/loopback/$1"
}

start_lunar "$T/hot.yaml"
check "hot0 waits for its device" \
	grep -q 'waiting for one with dev_config=lunar/hot0' <<<"$(lun_json hot0 device)"

# ---- hot add -----------------------------------------------------------------------------
need "a lunar/hot0 backstore made by hand" make_backstore 9 hot0 33554432
check "lunar picks it up (netlink ADDED)" wait_until 20 log_has 'hot0: serving uio[0-9]+ \(user_9/hot0\)'
dev=$(export_loop 9 hot0 naa.5001405aaaaaaaaa) || { fail "no disk for hot0"; finish; }
say "hot0 is $dev"
head -c 1M /dev/urandom >"$T/rand"
check "write and read back through it" bash -c \
	"dd if=$T/rand of=$dev bs=1M oflag=direct status=none && cmp $T/rand <(dd if=$dev bs=1M count=1 iflag=direct status=none)"

# ---- a size change (netlink RECONFIG) ---------------------------------------------------
check "dev_size 32 MiB -> 64 MiB" bash -c "echo 67108864 >$CFS/core/user_9/hot0/attrib/dev_size"
check "the handler's resize() hears of it" wait_until 10 log_has 'hot0: resize: 33554432 -> 67108864 bytes'
check "lunarctl status: 64 MiB" wait_until 10 bash -c "test \"\$(lun_json hot0 size)\" = 67108864"
check "the next command gets UNIT ATTENTION: capacity data has changed" \
	bash -c "sg_turs $dev 2>&1 | grep -q 'Capacity data has changed'"
scsi=$(basename "$(readlink -f "/sys/block/${dev#/dev/}/device")")
echo 1 >"/sys/class/scsi_device/$scsi/device/rescan"
check "after a rescan the initiator sees 131072 blocks" \
	bash -c "sg_readcap $dev | grep -q 'Number of logical blocks=131072'"
check "emulate_write_cache=1 reaches lunar" bash -c \
	"echo 1 >$CFS/core/user_9/hot0/attrib/emulate_write_cache"
check "lunar logs the write cache change" wait_until 10 log_has 'hot0: uio[0-9]+: write cache on'

# ---- task management --------------------------------------------------------------------
# The handler holds the first READ of LBA 4242; after the 3 s timeout the
# initiator aborts it (ABORT TASK in the ring), the handler answers it
# TASK ABORTED, the retried READ is served.
echo 3 >"/sys/block/${dev#/dev/}/device/timeout"
check "a held READ: aborted, retried, served" \
	cmp <(dd if="$dev" bs=512 skip=4242 count=1 iflag=direct status=none) \
	<(dd if="$T/hot0.img" bs=512 skip=4242 count=1 status=none)
check "the handler's abort() got ABORT TASK for it" log_has 'hot0: abort: type 1, LBA 4242'
check "sg_reset: LUN reset" sg_reset -d "$dev"
check "the handler's reset() got LUN RESET" wait_until 10 log_has 'hot0: reset: type 5'
# (the first command after it may get the reset's unit attention)
check "the LUN serves after the reset" bash -c "sg_turs $dev || sg_turs $dev"

# ---- a device that disagrees with the YAML ---------------------------------------------
need "a 16 MiB lunar/bad0 backstore" make_backstore 10 bad0 16777216
check "lunar refuses it" wait_until 10 log_has 'bad0: uio[0-9]+ \(user_10/bad0\) is 16777216 bytes'
check "bad0 is failed, and says why" bash -c \
	"test \"\$(lun_json bad0 state)\" = failed && lun_json bad0 message | grep -q 'the configuration says 33554432 bytes'"
check "hot0 serves on" sg_turs "$dev"

# ---- hot remove, and add again -----------------------------------------------------------
check "unexport and remove hot0" bash -c \
	"$(declare -f unexport_loop); CFS=$CFS; unexport_loop naa.5001405aaaaaaaaa && rmdir $CFS/core/user_9/hot0"
check "lunar lets go of it (netlink REMOVED)" wait_until 10 log_has 'hot0: uio device was removed: no longer served'
check "hot0 waits again" bash -c "lun_json hot0 device | grep -q 'waiting for one'"
need "hot0 made again" make_backstore 9 hot0 67108864
check "served again" wait_until 20 bash -c "test \"\$(grep -cE 'hot0: serving uio' $LUNAR_LOG)\" -eq 2"
dev=$(export_loop 9 hot0 naa.5001405aaaaaaaaa) || fail "no disk for hot0 the second time"
check "the data is still there" cmp "$T/rand" <(dd if="$dev" bs=1M count=1 iflag=direct status=none)

# ---- lunar leaves what it did not make ---------------------------------------------------
stop_lunar TERM
check "lunar run exits 0" test "$LUNAR_EXIT" -eq 0
check "hot0's backstore and tcm_loop LUN are still there" \
	test -L "$CFS/loopback/naa.5001405aaaaaaaaa/tpgt_1/lun/lun_0/hot0"
unexport_loop naa.5001405aaaaaaaaa
rmdir "$CFS/core/user_9/hot0" "$CFS/core/user_10/bad0" "$CFS/core/user_9" "$CFS/core/user_10"
check "all cleaned up" configfs_empty

# ---- tcmu_netlink: own ---------------------------------------------------------------------
# enable_bg DIR: enable in the background (it waits for a netlink answer);
# the exit status lands in $T/enable.rc
enable_bg()
{
	rm -f "$T/enable.rc"
	(echo 1 2>/dev/null >"$1/enable"; echo $? >"$T/enable.rc") &
}

sed -i '1a tcmu_netlink: own' "$T/hot.yaml"
: >"$LUNAR_LOG"
start_lunar "$T/hot.yaml"
check "own: lunar says it owns the family" log_has 'lunar owns the TCM-USER netlink family'
mkdir -p "$CFS/core/user_11/hot0"
printf 'dev_config=lunar/hot0,dev_size=67108864' >"$CFS/core/user_11/hot0/control"
enable_bg "$CFS/core/user_11/hot0"
check "own: a device that disagrees with the YAML fails its enable" \
	bash -c "wait_until 20 test -s $T/enable.rc && test \$(cat $T/enable.rc) -ne 0"
rmdir "$CFS/core/user_11/hot0"
mkdir -p "$CFS/core/user_11/hot0"
printf 'dev_config=lunar/hot0,dev_size=33554432' >"$CFS/core/user_11/hot0/control"
enable_bg "$CFS/core/user_11/hot0"
check "own: enable of a lunar device returns once lunar answered" wait_until 20 test -s "$T/enable.rc"
check "own: it succeeded" test "$(cat "$T/enable.rc" 2>/dev/null)" = 0
check "own: the device waited for the answer (nl_reply_supported 1)" \
	test "$(cat "$CFS/core/user_11/hot0/attrib/nl_reply_supported")" = 1
check "own: hot0 is served" wait_until 10 log_has 'hot0: serving uio'
mkdir -p "$CFS/core/user_12/other"
printf 'dev_config=qcow//tmp/x.img,dev_size=1048576' >"$CFS/core/user_12/other/control"
enable_bg "$CFS/core/user_12/other"
check "own: a foreign subtype is refused by lunar's answer" \
	bash -c "wait_until 20 test -s $T/enable.rc && test \$(cat $T/enable.rc) -ne 0"
stop_lunar TERM
check "own: lunar run exits 0" test "$LUNAR_EXIT" -eq 0
rmdir "$CFS/core/user_11/hot0" "$CFS/core/user_12/other" 2>/dev/null
# with nobody left to answer, an enable must not wait: lunar cleared the flag
mkdir -p "$CFS/core/user_13/late"
printf 'dev_config=lunar/late,dev_size=1048576' >"$CFS/core/user_13/late/control"
enable_bg "$CFS/core/user_13/late"
if ! check "own: after lunar exits, enable does not wait for an answer" wait_until 20 test -s "$T/enable.rc"; then
	# release the stuck writer, or the VM cannot finish
	echo 1 >/sys/module/target_core_user/parameters/block_netlink
	echo 1 >/sys/module/target_core_user/parameters/reset_netlink
	echo 0 >/sys/module/target_core_user/parameters/block_netlink
fi
finish
