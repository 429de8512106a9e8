#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# READ CAPACITY(10) and (16) of a lunar.disk: last LBA and block length;
# RC16 also LBPME and LBPRZ (a thin RAM disk); an allocation length under
# 32 cuts RC16 without error, 0 gives no data; an LBA without PMI is
# 5/24/00 (byte 2).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 8MiB
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 25000000000000000000 --read 8
expect_good
expect_data 00003fff00000200

cdb d0 9e100000000000000000000000200000 --read 32
expect_good
expect_data "0000000000003fff00000200 0000c000 $(zeros_hex 16)"

cdb d0 9e1000000000000000000000000c0000 --read 32
expect_good
expect_data 0000000000003fff00000200
expect_residual 20

cdb d0 9e100000000000000000000000000000
expect_good
expect_data ""

# PMI: the LBA field is only for PMI=1
cdb d0 25000000000100000000 --read 8
expect_sense 5 24 00
expect_field_pointer c00002
cdb d0 25000000000100000100 --read 8
expect_good
expect_data 00003fff00000200
