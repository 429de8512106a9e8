#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk range checks: past the last LBA, a transfer running over it,
# LBAs that overflow (2^31 and 2^32-1 on READ(10), 2^63 and 2^64-1 on
# READ(16)) are 5/21/00 LOGICAL BLOCK ADDRESS OUT OF RANGE, for reads,
# writes, verifies and synchronize cache alike; a zero-length transfer at
# the capacity is GOOD (LIO's rule), one past it is 5/21/00.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"
blocks=2048

for c in "$(cdb10 0x28 $blocks 1)" "$(cdb10 0x28 $((blocks - 1)) 2)" "$(cdb10 0x28 2147483648 1)" \
	"$(cdb10 0x28 4294967295 1)" "$(cdb16 0x88 x8000000000000000 1)" "$(cdb16 0x88 xffffffffffffffff 1)" \
	"$(cdb12 0xa8 $blocks 1)" "$(cdb6 0x08 $blocks 1)"; do
	cdb d0 "$c" --read 1024
	expect_sense 5 21 00
	expect_sense_data 700005000000000a00000000210000000000
	expect_data ""
done
cdb d0 "$(cdb10 0x2a $blocks 1)" --data-out-hex "$(zeros_hex 512)"
expect_sense 5 21 00
cdb d0 "$(cdb16 0x8a xffffffffffffffff 2)" --data-out-hex "$(zeros_hex 1024)"
expect_sense 5 21 00
cdb d0 "$(cdb10 0x2f $((blocks - 1)) 2)"
expect_sense 5 21 00
cdb d0 "$(cdb10 0x35 $((blocks + 1)) 0)"
expect_sense 5 21 00

# zero blocks: checked all the same
cdb d0 "$(cdb10 0x28 0 0)"
expect_good
cdb d0 "$(cdb10 0x28 $blocks 0)"
expect_good
cdb d0 "$(cdb10 0x28 $((blocks + 1)) 0)"
expect_sense 5 21 00
cdb d0 "$(cdb16 0x8a x8000000000000000 0)"
expect_sense 5 21 00
cdb d0 "$(cdb16 0x8a xffffffffffffffff 0)"
expect_sense 5 21 00
