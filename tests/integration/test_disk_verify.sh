#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# VERIFY(10/12/16) on lunar.disk: BYTCHK=0 checks the medium (GOOD, no
# data); BYTCHK=1 compares the Data-Out with the blocks; BYTCHK=3
# compares one block with each block; a difference is E/1D/00
# MISCOMPARE DURING VERIFY OPERATION with the byte offset of the first
# one in INFORMATION.  WRITE AND VERIFY(10/12/16) writes, then checks.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"

head -c 2048 /dev/urandom >"$TESTDIR/four"
four=$(hex_of "$TESTDIR/four")
cdb d0 "$(cdb10 0x2a 100 4)" --data-out "$TESTDIR/four"
expect_good

cdb d0 "$(cdb10 0x2f 100 4)"
expect_good
expect_data ""
cdb d0 "$(cdb10x 0x2f 100 4 0x02)" --data-out "$TESTDIR/four"
expect_good
cdb d0 "$(cdb12 0xaf 100 4 0x02)" --data-out "$TESTDIR/four"
expect_good
cdb d0 "$(cdb16 0x8f 100 4 0x02)" --data-out "$TESTDIR/four"
expect_good

# one byte differs, at offset 1234: INFORMATION 1234 (4D2h)
bad=${four:0:2468}$(printf '%02x' $(((16#${four:2468:2} + 1) % 256)))${four:2470}
cdb d0 "$(cdb10x 0x2f 100 4 0x02)" --data-out-hex "$bad"
expect_sense e 1d 00
expect_sense_data f0000e000004d20a000000001d0000000000
cdb d0 "$(cdb16 0x8f 100 4 0x02)" --data-out-hex "$bad"
expect_info 1234

# BYTCHK=3: one block of 5Ah against each
cdb d0 "$(cdb10 0x2a 200 3)" --data-out-hex "$(repeat_hex 5a 1536)"
expect_good
cdb d0 "$(cdb10x 0x2f 200 3 0x06)" --data-out-hex "$(repeat_hex 5a 512)"
expect_good
cdb d0 "$(cdb10x 0x2f 200 4 0x06)" --data-out-hex "$(repeat_hex 5a 512)"
expect_sense e 1d 00
expect_info 1536

# WRITE AND VERIFY writes and checks
cdb d0 "$(cdb10x 0x2e 300 4 0x02)" --data-out "$TESTDIR/four"
expect_good
cdb d0 "$(cdb12 0xae 310 4)" --data-out "$TESTDIR/four"
expect_good
cdb d0 "$(cdb16 0x8e 320 4 0x02)" --data-out "$TESTDIR/four"
expect_good
for lba in 300 310 320; do
	cdb d0 "$(cdb10 0x28 $lba 4)" --read 2048
	expect_data "$four"
done
