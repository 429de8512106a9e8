#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk when the buffer and the CDB disagree: a Data-In buffer longer
# than the transfer gets the transfer and a residual; a shorter one gets
# what fits; a Data-Out of another size than the CDB says is rejected
# (5/0E/03 INVALID FIELD IN COMMAND INFORMATION UNIT, as LIO) and nothing
# is written.  (Under TCMU the kernel sorts these out first.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"

head -c 2048 /dev/urandom >"$TESTDIR/four"
four=$(hex_of "$TESTDIR/four")
cdb d0 "$(cdb10 0x2a 0 4)" --data-out "$TESTDIR/four"
expect_good

cdb d0 "$(cdb10 0x28 0 2)" --read 4096
expect_good
expect_data "${four:0:2048}"
expect_residual 3072
cdb d0 "$(cdb10 0x28 0 4)" --read 1000
expect_good
expect_data "${four:0:2000}"

cdb d0 "$(cdb10 0x2a 0 2)" --data-out "$TESTDIR/four"
expect_sense 5 0e 03
cdb d0 "$(cdb10 0x2a 0 4)" --data-out-hex "$(repeat_hex ee 1024)"
expect_sense 5 0e 03
cdb d0 "$(cdb10 0x2a 0 1)"
expect_sense 5 0e 03
cdb d0 "$(cdb10 0x28 0 4)" --read 2048
expect_data "$four"
