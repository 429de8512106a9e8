#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk VPD pages of a thin RAM disk, byte for byte: 00 lists 00, 80,
# 83, B0, B1, B2 in order; 80 is the serial; 83 has an NAA 6 designator
# (OUI 00-14-05) and a T10 vendor ID one; B0 the limits that are
# implemented (WSNZ, COMPARE AND WRITE 255, UNMAP 1M blocks / 256
# descriptors, WRITE SAME 65535); B1 the block device characteristics; B2
# LBPU, LBPWS, LBPWS10, LBPRZ, thin.  An unlisted page is 5/24/00, byte 2.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB 'serial: t0'
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 120100ff0000 --read 255
expect_good
expect_data 00000006008083b0b1b2

cdb d0 120180ff0000 --read 255
expect_data 008000027430

# NAA 6 from the serial's hash (lua/lunar/disk.lua naa_nibbles), then
# "LUNAR   t0"
cdb d0 120183ff0000 --read 255
expect_good
expect_data 00830022010300106001405d445a527dce4227fa7387c34e0201000a4c554e41522020207430
cdb d0 120183000800 --read 255
expect_data 0083002201030010

cdb d0 1201b0ff0000 --read 255
expect_good
expect_data 00b0003c01ff$(zeros_hex 14)0010000000000100$(zeros_hex 8)000000000000ffff$(zeros_hex 20)

cdb d0 1201b1ff0000 --read 255
expect_data 00b1003c$(zeros_hex 60)

cdb d0 1201b2ff0000 --read 255
expect_data 00b2000400e40200

# the allocation length cuts a page; the page length says how long it is
cdb d0 1201b0000400 --read 255
expect_data 00b0003c

cdb d0 120187ff0000 --read 255
expect_sense 5 24 00
expect_field_pointer c00002
