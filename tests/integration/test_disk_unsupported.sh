#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What lunar.disk does not implement is 5/20/00 INVALID COMMAND OPERATION
# CODE (field pointer: byte 0), never 5/24/00 (initiators read that as a
# broken command): PRE-FETCH, LOG SENSE, FORMAT UNIT, PERSISTENT RESERVE,
# RESERVE, PREVENT ALLOW (the disk is not removable), XCOPY, 32-byte
# CDBs, vendor opcodes.  An unknown service action of SERVICE ACTION IN /
# MAINTENANCE IN points at the service action field (5/24/00, byte 1).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"

for c in 34000000000000000000 4d000000000000000000 040000000000 5e000000000000000000 \
	160000000000 1e0000000100 1d0000000000 83000000000000000000000000000000 \
	90000000000000000000000000000000 c0000000000000000000 7f00000000000018000900000000000000000000000000000000000000000000; do
	cdb d0 "$c" --read 512
	expect_sense 5 20 00
	expect_sense_data 700005000000000a00000000200000c00000
done
# GET LBA STATUS (9E/12), REPORT SUPPORTED TMFs (A3/0D)
cdb d0 9e120000000000000000000000200000 --read 32
expect_sense 5 24 00
expect_sense_data 700005000000000a00000000240000cc0001
cdb d0 a30d00000000000000200000 --read 32
expect_sense 5 24 00
expect_field_pointer cc0001
