#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk READ and WRITE in all four CDB sizes round-trip the data;
# READ(6)/WRITE(6) transfer length 0 means 256 blocks; the first and last
# LBA; DPO, FUA and FUA_NV are accepted (MODE SENSE says DPOFUA).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 2MiB
start_lunar "$TESTDIR/lunar.yaml"
last=4095

a=$(random_hex 1024)
cdb d0 "$(cdb6 0x0a 10 2)" --data-out-hex "$a"
expect_good
cdb d0 "$(cdb6 0x08 10 2)" --read 1024
expect_data "$a"
cdb d0 "$(cdb10 0x28 10 2)" --read 1024
expect_data "$a"
cdb d0 "$(cdb12 0xa8 10 2)" --read 1024
expect_data "$a"
cdb d0 "$(cdb16 0x88 10 2)" --read 1024
expect_data "$a"

b=$(random_hex 1536)
cdb d0 "$(cdb12 0xaa 100 3)" --data-out-hex "$b"
expect_good
cdb d0 "$(cdb16 0x88 100 3)" --read 1536
expect_data "$b"
c=$(random_hex 512)
cdb d0 "$(cdb16 0x8a 101 1)" --data-out-hex "$c"
expect_good
cdb d0 "$(cdb10 0x28 100 3)" --read 1536
expect_data "${b:0:1024}$c${b:2048}"

# 256 blocks from a 6-byte CDB with length 0
head -c $((256 * 512)) /dev/urandom >"$TESTDIR/d"
cdb d0 "$(cdb6 0x0a 1000 0)" --data-out "$TESTDIR/d"
expect_good
cdb d0 "$(cdb6 0x08 1000 0)" --read $((256 * 512))
expect_good
expect_data "$(hex_of "$TESTDIR/d")"

# the first and the last block
cdb d0 "$(cdb10 0x2a 0 1)" --data-out-hex "$c"
expect_good
cdb d0 "$(cdb16 0x8a $last 1)" --data-out-hex "${a:0:1024}"
expect_good
cdb d0 "$(cdb10 0x28 $last 1)" --read 512
expect_data "${a:0:1024}"
cdb d0 "$(cdb12 0xa8 0 1)" --read 512
expect_data "$c"

# DPO, FUA, FUA_NV
cdb d0 1a003f000400 --read 4
expect_data_bytes 2 10
for b1 in 0x10 0x08 0x02 0x1a; do
	cdb d0 "$(cdb10x 0x2a 7 1 $b1)" --data-out-hex "$c"
	expect_good
	cdb d0 "$(cdb10x 0x28 7 1 $b1)" --read 512
	expect_good
	expect_data "$c"
done
