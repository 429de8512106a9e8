#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# UNMAP on lunar.disk (ram, LBPRZ): the listed ranges read zeros, others
# keep their data.  A parameter list length of 0 is GOOD; under 8 is
# 5/1A/00; more descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT or a
# range over MAXIMUM UNMAP LBA COUNT 5/26/00; a range past the end
# 5/21/00 and nothing is unmapped; ANCHOR 5/24/00; zero-length
# descriptors and an empty list are GOOD.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB 'max_unmap_descriptors: 2, max_unmap: 1000'
start_lunar "$TESTDIR/lunar.yaml"
ff=$(repeat_hex ff 512)
zero=$(zeros_hex 512)

# desc LBA COUNT: one 16-byte block descriptor
desc() { printf '%016x%08x00000000' "$1" "$2"; }
# ulist DESC...: the parameter list
ulist() { local d; d=$(printf '%s' "$@"); printf '%04x%04x00000000%s' $((6 + ${#d} / 2)) $((${#d} / 2)) "$d"; }

cdb d0 "$(cdb10 0x2a 10 10)" --data-out-hex "$(repeat_hex ff 5120)"
expect_good
l=$(ulist "$(desc 11 2)" "$(desc 15 1)")
cdb d0 "42000000000000$(printf %04x $((${#l} / 2)))00" --data-out-hex "$l"
expect_good
cdb d0 "$(cdb10 0x28 10 7)" --read 3584
expect_data "$ff$zero$zero$ff$ff$zero$ff"

cdb d0 42000000000000000000
expect_good
cdb d0 42000000000000000700 --data-out-hex 00060000000000
expect_sense 5 1a 00
l=$(ulist "$(desc 1 1)" "$(desc 2 1)" "$(desc 3 1)")
cdb d0 42000000000000003800 --data-out-hex "$l"
expect_sense 5 26 00
expect_field_pointer 800002
l=$(ulist "$(desc 1 1001)")
cdb d0 42000000000000001800 --data-out-hex "$l"
expect_sense 5 26 00
expect_field_pointer 800010
# past the end: nothing unmapped, not even the first range
l=$(ulist "$(desc 10 1)" "$(desc 2047 2)")
cdb d0 42000000000000002800 --data-out-hex "$l"
expect_sense 5 21 00
cdb d0 "$(cdb10 0x28 10 1)" --read 512
expect_data "$ff"
cdb d0 42010000000000001800 --data-out-hex "$(ulist "$(desc 10 1)")"
expect_sense 5 24 00
expect_field_pointer c80001
# zero-length descriptors, an empty list: nothing to do
cdb d0 42000000000000001800 --data-out-hex "$(ulist "$(desc 10 0)")"
expect_good
cdb d0 42000000000000000800 --data-out-hex 0006000000000000
expect_good
cdb d0 "$(cdb10 0x28 10 1)" --read 512
expect_data "$ff"
# the last block
cdb d0 "$(cdb10 0x2a 2047 1)" --data-out-hex "$ff"
cdb d0 42000000000000001800 --data-out-hex "$(ulist "$(desc 2047 1)")"
expect_good
cdb d0 "$(cdb10 0x28 2047 1)" --read 512
expect_data "$zero"
