#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# COMPARE AND WRITE on lunar.disk (emulated over read and write, atomic in
# the LUN's worker): the Data-Out is NoLB blocks to compare, then NoLB to
# write.  Equal: written.  Different: E/1D/00 with the offset of the first
# differing byte in INFORMATION, and nothing written.  NoLB 0 is GOOD
# (with data, 5/24/00 at byte 13: libiscsi's 256 blocks wrap to 0);
# over MAXIMUM COMPARE AND WRITE LENGTH 5/24/00 (byte 13); past the end
# 5/21/00; a Data-Out of the wrong size is an error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB 'max_compare_and_write: 2'
start_lunar "$TESTDIR/lunar.yaml"
A=$(repeat_hex 41 1024)
B=$(repeat_hex 42 1024)
caw() { printf '8900%016x000000%02x0000' "$1" "$2"; }

cdb d0 1201b0ff0000 --read 64
expect_data_bytes 5 02
cdb d0 "$(cdb10 0x2a 50 2)" --data-out-hex "$A"
expect_good
cdb d0 "$(caw 50 2)" --data-out-hex "$A$B"
expect_good
cdb d0 "$(cdb10 0x28 50 2)" --read 1024
expect_data "$B"

# byte 600 differs: miscompare at 600, the blocks stay B
for off in 0 27 600 1023; do
	X=${B:0:$((off * 2))}43${B:$((off * 2 + 2))}
	cdb d0 "$(caw 50 2)" --data-out-hex "$X$A"
	expect_sense e 1d 00
	expect_info $off
done
cdb d0 "$(cdb10 0x28 50 2)" --read 1024
expect_data "$B"

cdb d0 "$(caw 50 0)"
expect_good
cdb d0 "$(caw 50 0)" --data-out-hex "$A$A"
expect_sense 5 24 00
expect_field_pointer c0000d
cdb d0 "$(caw 50 3)" --data-out-hex "$A$A$A"
expect_sense 5 24 00
expect_field_pointer c0000d
cdb d0 "$(caw 2047 2)" --data-out-hex "$A$B"
expect_sense 5 21 00
cdb d0 "$(caw 50 2)" --data-out-hex "$A"
expect_sense 5 0e 03
