#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk MODE SENSE, byte for byte: all pages (R/W error recovery,
# caching, control, informational exceptions) with the 8-byte block
# descriptor, DPOFUA in the header; one page, DBD, the allocation length;
# PC=1 changeable masks (D_SENSE and SWP; no WCE without a flush op),
# PC=2 defaults, PC=3 5/39/00 SAVING PARAMETERS NOT SUPPORTED; an unknown
# page or subpage 5/24/00; MODE SENSE(10) with LLBAA gives the 16-byte
# descriptor.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"

rwer=010a$(zeros_hex 10)
caching=0812$(zeros_hex 18)
control=0a0a021000000000ffff0000
iec=1c0a08$(zeros_hex 9)
bd=0000080000000200

cdb d0 1a003f00ff00 --read 255
expect_good
expect_data "43001008 $bd $rwer $caching $control $iec"
cdb d0 1a003f000400 --read 255
expect_data 43001008
cdb d0 1a000a00ff00 --read 255
expect_data "17001008 $bd $control"
cdb d0 1a080800ff00 --read 255
expect_data "17001000 $caching"
# subpage FFh: the page and its subpages (it has none)
cdb d0 1a080aff4000 --read 255
expect_good
expect_data "0f001000 $control"

# changeable: D_SENSE (byte 2 bit 2) and SWP (byte 4 bit 3) of Control
cdb d0 1a084a00ff00 --read 255
expect_data "0f0010000a0a040008$(zeros_hex 7)"
cdb d0 1a087f00ff00 --read 255
expect_data "3b001000 010a$(zeros_hex 10) 0812$(zeros_hex 18) 0a0a040008$(zeros_hex 7) 1c0a$(zeros_hex 10)"
cdb d0 1a008a00ff00 --read 255
expect_data "17001008 $bd $control"
cdb d0 1a08ca00ff00 --read 255
expect_sense 5 39 00

cdb d0 1a080200ff00 --read 255
expect_sense 5 24 00
expect_field_pointer cd0002
cdb d0 1a080a05ff00 --read 255
expect_sense 5 24 00
expect_field_pointer c00003

# MODE SENSE(10): LLBAA, long descriptor; without: 8-byte one
cdb d0 5a100a00000000010000 --read 256
expect_good
expect_data "002200100100 0010 0000000000000800 00000000 00000200 $control"
cdb d0 5a000a00000000010000 --read 256
expect_data "001a001000000008 $bd $control"
