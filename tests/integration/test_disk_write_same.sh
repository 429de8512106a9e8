#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# WRITE SAME(10/16) on lunar.disk (ram, thin, LBPRZ): one block repeated
# over the range; with UNMAP and a zero block the range is unmapped and
# reads zeros; UNMAP with data that is not zeros writes it; NDOB writes
# zeros.  WSNZ: 0 blocks is 5/24/00; more than MAXIMUM WRITE SAME LENGTH
# (65535) 5/24/00; ANCHOR 5/24/00; a Data-Out that is not one block is an
# error; past the end 5/21/00.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 64MiB
start_lunar "$TESTDIR/lunar.yaml"
a5=$(repeat_hex a5 512)
zero=$(zeros_hex 512)

cdb d0 "$(cdb10 0x41 1000 300)" --data-out-hex "$a5"
expect_good
cdb d0 "$(cdb10 0x28 999 302)" --read $((302 * 512))
expect_data "$zero$(repeat_hex a5 $((300 * 512)))$zero"

# UNMAP=1 with zeros: unmapped, reads zeros (LBPRZ)
cdb d0 "$(cdb16 0x93 1000 300 0x08)" --data-out-hex "$zero"
expect_good
cdb d0 "$(cdb10 0x28 1000 300)" --read $((300 * 512))
expect_data "$(zeros_hex $((300 * 512)))"
# UNMAP=1 with data: written, not unmapped
cdb d0 "$(cdb10x 0x41 1000 2 0x08)" --data-out-hex "$a5"
expect_good
cdb d0 "$(cdb10 0x28 1000 2)" --read 1024
expect_data "$a5$a5"
# NDOB: zeros, no Data-Out
cdb d0 "$(cdb16 0x93 1000 2 0x01)"
expect_good
cdb d0 "$(cdb10 0x28 1000 2)" --read 1024
expect_data "$zero$zero"

# 65535 blocks (the limit) in one command; 65536 is one too many
cdb d0 "$(cdb16 0x93 0 65535)" --data-out-hex "$a5"
expect_good
cdb d0 "$(cdb10 0x28 65534 2)" --read 1024
expect_data "$a5$zero"
cdb d0 "$(cdb16 0x93 0 65536)" --data-out-hex "$a5"
expect_sense 5 24 00
expect_field_pointer c0000a

cdb d0 "$(cdb10 0x41 1000 0)" --data-out-hex "$a5"
expect_sense 5 24 00
expect_field_pointer c00007
cdb d0 "$(cdb10x 0x41 1000 1 0x10)" --data-out-hex "$zero"
expect_sense 5 24 00
expect_field_pointer cc0001
cdb d0 "$(cdb10 0x41 1000 1)" --data-out-hex "$a5$a5"
expect_sense 5 0e 03
cdb d0 "$(cdb10 0x41 1000 1)" --data-out-hex "${a5:0:512}"
expect_sense 5 0e 03
cdb d0 "$(cdb10 0x41 131071 2)" --data-out-hex "$a5"
expect_sense 5 21 00
cdb d0 "$(cdb16 0x93 x8000000000000000 1)" --data-out-hex "$a5"
expect_sense 5 21 00
