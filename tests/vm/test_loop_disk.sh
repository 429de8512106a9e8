#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A LUN lunar creates itself (create: true) and exports through tcm_loop,
# served by examples/ramdisk.lua: Linux attaches it as /dev/sdX, sg3_utils
# see the handler's answers (and the kernel's hw_max_sectors in VPD B0),
# data written reads back, ext4 lives on it, fio's verified random writes
# pass, a short read returns no stale bytes, and a clean exit removes
# exactly what lunar created.
source "$(dirname "$0")/lib.sh"
vm_setup

write_config loop.yaml <<EOF
version: 1
luns:
  - name: disk0
    transport: tcmu
    handler: $LUNAR_SOURCE_DIR/examples/ramdisk.lua
    size: 96MiB
    args: { vendor: LUNAR, product: vm ramdisk }
    tcmu: { create: true, fabric: loop, hw_max_sectors: 256 }
EOF
start_lunar "$T/loop.yaml"
dev=$(wait_disk disk0) || { fail "no /dev/sdX appeared for disk0"; finish; }
say "disk0 is $dev"
check "lunarctl status: serving" test "$(lun_json disk0 state)" = serving
check "lunarctl status: the device line names uio, tcm_loop and the disk" \
	grep -qE "^uio[0-9]+ user_[0-9]+/disk0, tcm_loop naa\.5001405[0-9a-f]{9}/tpgt_1/lun/lun_0 $dev\$" \
	<<<"$(lun_json disk0 device)"
check "the journal of what lunar made is in /run" test -s /run/lunar/tcmu/disk0.journal

# ---- what sg3_utils see ----------------------------------------------------------
check "sg_inq: standard INQUIRY from the handler" \
	bash -c "sg_inq $dev | grep -q 'Vendor identification: LUNAR'"
check "sg_vpd 0x00: lists pages 0x80 and 0x83" \
	bash -c "sg_vpd -p 0x00 $dev | grep -q 'Unit serial number' && sg_vpd -p 0x00 $dev | grep -q 'Device identification'"
check "sg_vpd 0x80: the serial is the LUN name" bash -c "sg_vpd -p 0x80 $dev | grep -q 'disk0'"
check "sg_vpd 0x83: NAA and T10 vendor id designators" \
	bash -c "sg_vpd -p 0x83 $dev | grep -q 'designator type: NAA' && sg_vpd -p 0x83 $dev | grep -q 'vendor id: LUNAR'"
check "sg_vpd 0xb0: the maximum transfer is the kernel's hw_max_sectors (256)" \
	bash -c "sg_vpd -p 0xb0 $dev | grep -q 'Maximum transfer length: 256 blocks'"
check "sg_readcap -l: 196608 blocks of 512 bytes, thin provisioned" \
	bash -c "sg_readcap -l $dev | grep -q 'Number of logical blocks=196608' && sg_readcap -l $dev | grep -q 'Logical block length=512 bytes' && sg_readcap -l $dev | grep -q 'lbpme=1'"
check "sg_turs" sg_turs "$dev"

# ---- data ------------------------------------------------------------------------------
head -c 4M /dev/urandom >"$T/rand"
check "dd oflag=direct: 4 MiB of random data written at 8 MiB" \
	dd if="$T/rand" of="$dev" bs=1M seek=8 oflag=direct status=none
check "dd iflag=direct: the same bytes read back" \
	cmp "$T/rand" <(dd if="$dev" bs=1M skip=8 count=4 iflag=direct status=none)

# A short Data-In (96 bytes of INQUIRY for 4 KiB asked) right after reads
# that left 0xaa in the data area: the initiator gets 96 bytes and a
# residual (READ_LEN), never the rest of a reused data block.
tr '\0' '\252' </dev/zero | head -c 1M >"$T/aa"
dd if="$T/aa" of="$dev" bs=1M seek=1 oflag=direct status=none
dd if="$dev" of=/dev/null bs=64k skip=16 count=16 iflag=direct status=none
check "short read: INQUIRY for 4096 bytes returns the 96 the handler wrote" \
	bash -c "sg_raw -o $T/inq.bin -r 4096 $dev 12 00 00 10 00 00 && test \$(stat -c %s $T/inq.bin) -eq 96"
check "short read: no stale data-area bytes" bash -c "! od -An -tx1 -v $T/inq.bin | grep -q aa"
check "blkdiscard (UNMAP): the discarded MiB reads zeros" bash -c \
	"blkdiscard -o 1048576 -l 1048576 $dev && cmp <(head -c 1M /dev/zero) <(dd if=$dev bs=1M skip=1 count=1 iflag=direct status=none)"

# ---- a filesystem --------------------------------------------------------------------
mnt=$T/mnt
mkdir -p "$mnt"
need "mkfs.ext4" mkfs.ext4 -q -F "$dev"
need "mount" mount "$dev" "$mnt"
cp -r "$LUNAR_SOURCE_DIR/core" "$mnt/core"
head -c 8M /dev/urandom >"$mnt/blob"
(cd "$mnt" && find . -type f ! -name sums -exec md5sum {} + >"$T/sums")
check "umount" umount "$mnt"
check "fsck.ext4 -fn: clean" fsck.ext4 -fn "$dev"
check "mount again" mount "$dev" "$mnt"
check "every file's md5 after the remount" bash -c "cd $mnt && md5sum --quiet -c $T/sums"
umount "$mnt"

# ---- fio: random writes at depth 16, each block verified --------------------------------
check "fio randwrite iodepth 16 verify=crc32c" \
	fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
	--bs=4k --iodepth=16 --size=32M --verify=crc32c --verify_fatal=1 \
	--eta=never --output="$T/fio.txt"
say "     $(grep -E 'write: IOPS' "$T/fio.txt" | head -n 1 | sed 's/^ *//')"

# ---- a LUN added and removed by a config reload (SIGHUP) ---------------------------------
cat >>"$T/loop.yaml" <<EOF
  - name: disk1
    transport: tcmu
    handler: $LUNAR_SOURCE_DIR/examples/ramdisk.lua
    size: 16MiB
    tcmu: { create: true }
EOF
kill -HUP "$LUNAR_PID"
if dev1=$(wait_disk disk1); then
	check "a LUN added by a reload gets its disk" sg_turs "$dev1"
else
	fail "a LUN added by a reload gets its disk"
fi
check "disk0 serves on" sg_turs "$dev"
sed -i '/name: disk1/,$d' "$T/loop.yaml"
kill -HUP "$LUNAR_PID"
check "a LUN removed by a reload: its backstore goes" \
	wait_until 30 bash -c "! ls -d $CFS/core/user_*/disk1"
check "and its journal" test ! -e /run/lunar/tcmu/disk1.journal
check "disk0 still serves" sg_turs "$dev"

# ---- a clean exit removes what lunar made, and only that -------------------------------
stop_lunar TERM
check "lunar run exits 0 on SIGTERM" test "$LUNAR_EXIT" -eq 0
check "the disk is gone" bash -c "! test -b $dev || ! sg_turs $dev"
check "configfs holds nothing lunar made" configfs_empty
check "the journal is gone" test ! -e /run/lunar/tcmu/disk0.journal
finish
