#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk REQUEST SENSE with nothing to report: NO SENSE, fixed format
# (18 bytes, 70h) or, with DESC=1, descriptor format (8 bytes, 72h); the
# allocation length cuts it.  A stopped unit reports 2/04/02.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 030000001200 --read 18
expect_good
expect_data 700000000000000a00000000000000000000
cdb d0 030100001200 --read 18
expect_good
expect_data 7200000000000000
expect_residual 10
cdb d0 030000000800 --read 18
expect_data 700000000000000a

cdb d0 1b0000000000
expect_good
cdb d0 030000001200 --read 18
expect_data 700002000000000a00000000040200000000
cdb d0 030100001200 --read 18
expect_data 7202040200000000
