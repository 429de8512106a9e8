#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A lunar.disk with args readonly: true: MODE SENSE sets WP; WRITE(6-16),
# WRITE AND VERIFY, WRITE SAME (with UNMAP and no Data-Out too: write
# protection is checked first, as LIO does), UNMAP and COMPARE AND WRITE
# get 7/27/00 DATA PROTECT, WRITE PROTECTED; reads, VERIFY and
# SYNCHRONIZE CACHE work.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB 'readonly: true'
start_lunar "$TESTDIR/lunar.yaml"
blk=$(zeros_hex 512)

cdb d0 1a003f000400 --read 4
expect_data 43009008
cdb d0 5a003f00000000000400 --read 4
expect_data_bytes 3 90

for c in "$(cdb6 0x0a 0 1)" "$(cdb10 0x2a 0 1)" "$(cdb12 0xaa 0 1)" "$(cdb16 0x8a 0 1)" \
	"$(cdb10x 0x2e 0 1 0x02)" "$(cdb12 0xae 0 1)" "$(cdb16 0x8e 0 1)" "$(cdb10 0x41 0 1)" \
	"$(cdb16 0x93 0 1)"; do
	cdb d0 "$c" --data-out-hex "$blk"
	expect_sense 7 27 00
	expect_sense_data 700007000000000a00000000270000000000
done
cdb d0 "$(cdb10x 0x41 0 1 0x08)"
expect_sense 7 27 00
cdb d0 "$(cdb16 0x93 0 1 0x08)"
expect_sense 7 27 00
cdb d0 42000000000000001800 --data-out-hex 001600100000000000000000000000000000000100000000
expect_sense 7 27 00
cdb d0 89000000000000000000000000010000 --data-out-hex "$blk$blk"
expect_sense 7 27 00

cdb d0 "$(cdb10 0x28 0 1)" --read 512
expect_good
cdb d0 "$(cdb10 0x2f 0 1)"
expect_good
cdb d0 "$(cdb10 0x35 0 0)"
expect_good
