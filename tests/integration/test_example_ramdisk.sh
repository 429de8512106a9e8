#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples/ramdisk.lua: read, write and unmap in 30 lines make a disk that
# Linux would take: INQUIRY, READ CAPACITY(16), the VPD pages it reads,
# MODE SENSE, data round trip, UNMAP reading back zeros.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config ram0 ramdisk.lua 16MiB 'product: example ramdisk'
start_lunar "$TESTDIR/lunar.yaml"

cdb ram0 120000002400 --read 36
expect_good
expect_data_bytes 16 "$(printf 'example ramdisk ' | od -An -tx1 | tr -d ' \n')"
cdb ram0 9e100000000000000000000000200000 --read 32
expect_data_bytes 0 0000000000007fff00000200
expect_data_bytes 14 c0
for p in 00 80 83 b0 b1 b2; do
	cdb ram0 1201${p}ff0000 --read 255
	expect_good
done
cdb ram0 1a003f00ff00 --read 255
expect_good

head -c 65536 /dev/urandom >"$TESTDIR/data"
cdb ram0 "$(cdb16 0x8a 32000 128)" --data-out "$TESTDIR/data"
expect_good
cdb ram0 "$(cdb10 0x28 32000 128)" --read 65536
expect_data "$(hex_of "$TESTDIR/data")"
cdb ram0 42000000000000001800 --data-out-hex "0016001000000000 0000000000007d00 0000008000000000"
expect_good
cdb ram0 "$(cdb10 0x28 32000 128)" --read 65536
expect_data "$(zeros_hex 65536)"
