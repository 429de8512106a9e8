#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# REPORT LUNS to a lunar.disk (sim and Xen send it to the handler; TCMU's
# kernel answers it): one LUN, LUN 0; SELECT REPORT 1 (well known LUNs
# only) is an empty list; the allocation length cuts it; an unknown
# SELECT REPORT is 5/24/00; a pending unit attention is not reported.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB 'power_on_ua: true'
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 a00000000000000001000000 --read 256
expect_good
expect_data 00000008000000000000000000000000
cdb d0 a00002000000000001000000 --read 256
expect_data 00000008000000000000000000000000
cdb d0 a00001000000000001000000 --read 256
expect_data 0000000000000000
cdb d0 a00000000000000000080000 --read 256
expect_data 0000000800000000
cdb d0 a00010000000000001000000 --read 256
expect_sense 5 24 00
expect_field_pointer c00002
cdb d0 000000000000
expect_sense 6 29 00
