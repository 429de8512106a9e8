#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A lunar.disk past 2^32 blocks (4 TiB of 512-byte blocks, the zero
# backend: nothing stored): READ CAPACITY(10) says FFFFFFFFh (use RC16),
# RC16 the real last LBA; the mode block descriptor caps the count; the
# sense is in descriptor format from the start (64-bit INFORMATION; LIO's
# rule), and the Control page says D_SENSE; READ(16) reaches blocks past
# 2^32.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file zero.lua <<'LUA'
return require "lunar.backend.zero"
LUA
disk_config big "$TESTDIR/zero.lua" 4TiB
start_lunar "$TESTDIR/lunar.yaml"

cdb big 25000000000000000000 --read 8
expect_data ffffffff00000200
cdb big 9e100000000000000000000000200000 --read 32
expect_data_bytes 0 00000001ffffffff00000200
cdb big 1a000a00ff00 --read 255
expect_data_bytes 4 "ffffffff00000200 0a0a06"
cdb big "$(cdb16 0x88 0x100000005 2)" --read 1024
expect_good
expect_data "$(zeros_hex 1024)"
cdb big "$(cdb16 0x88 0x200000000 1)" --read 512
expect_sense 5 21 00
expect_sense_data 7205210000000000
# a write-protected disk (no write op), in descriptor format
cdb big "$(cdb16 0x8a 0x100000005 1)" --data-out-hex "$(zeros_hex 512)"
expect_sense_data 7207270000000000
