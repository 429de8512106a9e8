#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk standard INQUIRY: 96 bytes (ADDITIONAL LENGTH 91), VERSION 6
# (SPC-4), HISUP + response data format 2, CMDQUE, the YAML's vendor,
# product and revision, version descriptors SAM-5/SPC-4/SBC-3, zeros
# after; the allocation length cuts it (0 = no data, 511 and 512 give the
# same); EVPD=0 with a page code, and CMDDT, are 5/24/00 with the field.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB 'vendor: ACME, product: test disk, revision: "0042"'
start_lunar "$TESTDIR/lunar.yaml"

ascii() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
want=000006125b000002$(ascii "ACME    ")$(ascii "test disk       ")$(ascii 0042)
want=$want$(zeros_hex 22)00a0046004c0$(zeros_hex 32)

cdb d0 120000006000 --read 96
expect_good
expect_data "$want"

# the full length is in the answer: a 36-byte INQUIRY says 91 more exist
cdb d0 120000002400 --read 36
expect_good
expect_data "${want:0:72}"
cdb d0 120000000000
expect_good
expect_data ""
cdb d0 12000001ff00 --read 511
expect_data "$want"
cdb d0 120000020000 --read 512
expect_data "$want"
expect_residual 416

# EVPD=0 with a page code: INVALID FIELD IN CDB, byte 2
cdb d0 120080006000 --read 96
expect_sense 5 24 00
expect_sense_data 700005000000000a00000000240000c00002
# CMDDT (obsolete): byte 1, bit 1
cdb d0 120200006000 --read 96
expect_sense 5 24 00
expect_field_pointer c90001
