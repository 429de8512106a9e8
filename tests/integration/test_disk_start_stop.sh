#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# START STOP UNIT on a lunar.disk: after a stop, TEST UNIT READY and the
# medium commands get 2/04/02 LOGICAL UNIT NOT READY, INITIALIZING COMMAND
# REQUIRED (Linux then sends START); INQUIRY, READ CAPACITY and MODE SENSE
# still answer; START makes it ready.  Power conditions are accepted as
# no-ops.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 1b0100000000          # IMMED, stop
expect_good
cdb d0 000000000000
expect_sense 2 04 02
expect_sense_data 700002000000000a00000000040200000000
for c in "$(cdb10 0x28 0 1)" "$(cdb10 0x35 0 0)" "$(cdb10 0x2f 0 1)"; do
	cdb d0 "$c" --read 512
	expect_sense 2 04 02
done
cdb d0 120000002400 --read 36
expect_good
cdb d0 25000000000000000000 --read 8
expect_good
cdb d0 1a003f00ff00 --read 255
expect_good

cdb d0 1b0100000100          # start
expect_good
cdb d0 000000000000
expect_good
cdb d0 "$(cdb10 0x28 0 1)" --read 512
expect_good

# POWER CONDITION ACTIVE, IDLE, STANDBY: accepted, the unit stays ready
for pc in 10 20 30; do
	cdb d0 1b000000${pc}00
	expect_good
done
cdb d0 000000000000
expect_good
