#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk checks every CDB against the usage mask it reports in REPORT
# SUPPORTED OPERATION CODES: a bit outside it is 5/24/00 INVALID FIELD IN
# CDB with the sense-key specific field pointer at that byte and bit.
# RDPROTECT/WRPROTECT/VRPROTECT (no protection information), reserved
# bits, NACA in the control byte, BYTCHK 10b, an unknown POWER CONDITION.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"
blk=$(zeros_hex 512)

# RDPROTECT=1 on READ(10): byte 1 bit 5 (the field's top bit is 7: 100b)
cdb d0 "$(cdb10x 0x28 0 1 0x20)" --read 512
expect_sense 5 24 00
expect_sense_data 700005000000000a00000000240000cd0001
cdb d0 "$(cdb10x 0x28 0 1 0xe0)" --read 512
expect_field_pointer cf0001
# WRPROTECT on WRITE(16), VRPROTECT on VERIFY(12)
cdb d0 "$(cdb16 0x8a 0 1 0x40)" --data-out-hex "$blk"
expect_sense 5 24 00
expect_field_pointer ce0001
cdb d0 "$(cdb12 0xaf 0 1 0x80)"
expect_field_pointer cf0001
# a reserved bit (READ(10) byte 1 bit 2), the obsolete RELADR (bit 0)
cdb d0 "$(cdb10x 0x28 0 1 0x04)" --read 512
expect_field_pointer ca0001
cdb d0 "$(cdb10x 0x28 0 1 0x01)" --read 512
expect_field_pointer c80001
# group number bits 7:6 of READ(10) byte 6 are reserved
cdb d0 28000000000040000100 --read 512
expect_field_pointer ce0006
# NACA in the control byte
cdb d0 28000000000000000104 --read 512
expect_sense 5 24 00
expect_field_pointer ca0009
cdb d0 000000000004
expect_field_pointer ca0005
# VERIFY BYTCHK 10b is reserved: byte 1 bit 2
cdb d0 "$(cdb10x 0x2f 0 1 0x04)"
expect_sense 5 24 00
expect_field_pointer ca0001
# START STOP UNIT with POWER CONDITION 4 (no such condition): byte 4 bit 7
cdb d0 1b0000004000
expect_sense 5 24 00
expect_field_pointer cf0004
# the command is not carried out: the block is still zero
cdb d0 "$(cdb10x 0x2a 5 1 0x04)" --data-out-hex "$(repeat_hex ff 512)"
expect_sense 5 24 00
cdb d0 "$(cdb10 0x28 5 1)" --read 512
expect_data "$blk"
