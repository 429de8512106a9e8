#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk with 4096-byte blocks: READ CAPACITY, the MODE SENSE block
# descriptor, READ/WRITE in blocks of 4096, WRITE SAME of one 4 KiB
# block, COMPARE AND WRITE of 2 x 4 KiB, the last LBA, offsets in
# INFORMATION counted in bytes of the block size.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 8MiB '' '' 4096
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 25000000000000000000 --read 8
expect_data 000007ff00001000
cdb d0 9e100000000000000000000000200000 --read 32
expect_data_bytes 0 00000000000007ff00001000
cdb d0 1a000800ff00 --read 255
expect_data_bytes 4 0000080000001000

head -c 8192 /dev/urandom >"$TESTDIR/two"
cdb d0 "$(cdb10 0x2a 2046 2)" --data-out "$TESTDIR/two"
expect_good
cdb d0 "$(cdb16 0x88 2046 2)" --read 8192
expect_data "$(hex_of "$TESTDIR/two")"
cdb d0 "$(cdb10 0x2a 2047 2)" --data-out "$TESTDIR/two"
expect_sense 5 21 00
# 512 bytes is not a 4096-byte block
cdb d0 "$(cdb10 0x2a 0 1)" --data-out-hex "$(zeros_hex 512)"
expect_sense 5 0e 03

cdb d0 "$(cdb10 0x41 10 3)" --data-out-hex "$(repeat_hex 77 4096)"
expect_good
cdb d0 "$(cdb10 0x28 10 3)" --read 12288
expect_data "$(repeat_hex 77 12288)"

X=$(repeat_hex 77 8192)
Y=$(repeat_hex 88 8192)
cdb d0 8900000000000000000a000000020000 --data-out-hex "${X:0:8194}00${X:8196}$Y"
expect_sense e 1d 00
expect_info 4097
cdb d0 8900000000000000000a000000020000 --data-out-hex "$X$Y"
expect_good
cdb d0 "$(cdb10 0x28 10 2)" --read 8192
expect_data "$Y"
