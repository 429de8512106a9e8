#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples/tape.lua, a raw-level tape drive: INQUIRY says sequential
# access; records written with WRITE(6) read back in order; a filemark
# reads as NO SENSE with FILEMARK and the residue in INFORMATION; a record
# longer than asked for sets ILI (the data of a CHECK CONDITION does not
# reach the initiator: LIO and sim drop it); the end of data is BLANK
# CHECK 8/00/05 with EOM; REWIND, SPACE to a filemark, READ POSITION.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config t0 tape.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"
r1=$(random_hex 100)
r2=$(random_hex 300)
r3=$(random_hex 50)

cdb t0 120000002400 --read 36
expect_data_bytes 0 01800602
cdb t0 0a0000006400 --data-out-hex "$r1"
expect_good
cdb t0 0a0000012c00 --data-out-hex "$r2"
expect_good
cdb t0 100000000100                       # a filemark
expect_good
cdb t0 0a0000003200 --data-out-hex "$r3"
expect_good
cdb t0 34000000000000000000 --read 20
expect_data_bytes 4 0000000400000004

cdb t0 010000000000                       # REWIND
expect_good
cdb t0 34000000000000000000 --read 20
expect_data_bytes 0 80
cdb t0 080000006400 --read 100
expect_good
expect_data "$r1"
# asking for 200 bytes of a 300-byte record: ILI, residue -100 (two's
# complement), and the tape is past the record
cdb t0 08000000c800 --read 200
expect_sense_data f00020ffffff9c0a00000000000000000000
# the filemark
cdb t0 080000006400 --read 100
expect_sense_data f00080000000640a00000000000100000000
cdb t0 080000003200 --read 50
expect_good
expect_data "$r3"
# end of data: BLANK CHECK, EOM
cdb t0 080000003200 --read 50
expect_sense 8 00 05
expect_sense_bytes 2 48

# SPACE over one filemark from the start, then read what follows it
cdb t0 010000000000
cdb t0 110100000100
expect_good
cdb t0 080000003200 --read 50
expect_data "$r3"
