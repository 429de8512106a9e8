#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# MODE SELECT(6)/(10) on lunar.disk changes what is changeable: WCE off
# (the cache is flushed, then every write is flushed) and on again;
# D_SENSE (sense becomes descriptor format); SWP (writes get 7/27/00, MODE
# SENSE sets WP).  Errors: PF=0 5/24/00; SP=1 5/39/00; a list shorter than
# its header or page 5/1A/00; a change to a bit that is not changeable,
# a wrong page length, an unknown page, a different block length 5/26/00
# with the parameter pointer.  With mode_change_ua the next command gets
# 6/2A/01 (off by default: SPC sends it only to the other initiators,
# which the disk cannot tell apart).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

cache_handler cache.lua
disk_config d0 "$TESTDIR/cache.lua" 1MiB
start_lunar "$TESTDIR/lunar.yaml"
blk=$(repeat_hex 5a 512)

cdb d0 1a080800ff00 --read 255
expect_data "17001000 0812 04 $(zeros_hex 17)"
cdb d0 1a084800ff00 --read 255
expect_data "17001000 0812 04 $(zeros_hex 17)"

# WCE off: flushed now, then each write on its own
n=$(flushes)
cdb d0 151000001800 --data-out-hex "00000000 0812 $(zeros_hex 18)"
expect_good
[ "$(flushes)" -eq $((n + 1)) ] || fail "turning WCE off did not flush"
cdb d0 1a080800ff00 --read 255
expect_data "17001000 0812 $(zeros_hex 18)"
cdb d0 "$(cdb10 0x2a 8 1)" --data-out-hex "$blk"
expect_good
[ "$(flushes)" -eq $((n + 2)) ] || fail "a write with WCE=0 was not flushed"
# and on again (MODE SELECT(10)): writes are not flushed, SYNCHRONIZE CACHE is
cdb d0 55100000000000001c00 --data-out-hex "0000000000000000 0812 04 $(zeros_hex 17)"
expect_good
cdb d0 "$(cdb10 0x2a 8 1)" --data-out-hex "$blk"
expect_good
[ "$(flushes)" -eq $((n + 2)) ] || fail "a write with WCE=1 was flushed"
cdb d0 "$(cdb10 0x35 0 0)"
expect_good
[ "$(flushes)" -eq $((n + 3)) ] || fail "SYNCHRONIZE CACHE did not flush"

# D_SENSE: descriptor format sense
cdb d0 151000001000 --data-out-hex "00000000 0a0a 06 10 00000000 ffff 0000"
expect_good
cdb d0 "$(cdb10 0x28 99999 1)" --read 512
expect_sense 5 21 00
expect_sense_data 7205210000000000
cdb d0 151000001000 --data-out-hex "00000000 0a0a 02 10 00000000 ffff 0000"
expect_good
cdb d0 "$(cdb10 0x28 99999 1)" --read 512
expect_sense_data 700005000000000a00000000210000000000

# SWP: software write protect
cdb d0 151000001000 --data-out-hex "00000000 0a0a 02 10 08000000 ffff 0000"
expect_good
cdb d0 1a003f000400 --read 4
expect_data 43009008
cdb d0 "$(cdb10 0x2a 8 1)" --data-out-hex "$blk"
expect_sense 7 27 00
cdb d0 "$(cdb10 0x28 8 1)" --read 512
expect_good
expect_data "$blk"
cdb d0 151000001000 --data-out-hex "00000000 0a0a 02 10 00000000 ffff 0000"
expect_good
cdb d0 "$(cdb10 0x2a 8 1)" --data-out-hex "$blk"
expect_good

# errors
cdb d0 150000001000 --data-out-hex "00000000 0a0a 02 10 00000000 ffff 0000"
expect_sense 5 24 00
expect_field_pointer cc0001
cdb d0 151100001000 --data-out-hex "00000000 0a0a 02 10 00000000 ffff 0000"
expect_sense 5 39 00
cdb d0 151000000300 --data-out-hex 000000
expect_sense 5 1a 00
cdb d0 151000000c00 --data-out-hex "00000000 0a0a 02 10 00000000"
expect_sense 5 1a 00
# RCD (caching byte 2 bit 0) is not changeable: parameter byte 6, bit 0
cdb d0 151000001800 --data-out-hex "00000000 0812 05 $(zeros_hex 17)"
expect_sense 5 26 00
expect_sense_data 700005000000000a00000000260000880006
# QUEUE ALGORITHM MODIFIER: byte 7, bits 7:4 -> bit 4
cdb d0 151000001000 --data-out-hex "00000000 0a0a 02 00 00000000 ffff 0000"
expect_sense 5 26 00
expect_field_pointer 8c0007
cdb d0 151000000e00 --data-out-hex "00000000 0a08 02 10 00000000 ffff"
expect_sense 5 26 00
expect_field_pointer 800005
cdb d0 151000000e00 --data-out-hex "00000000 0208 $(zeros_hex 8)"
expect_sense 5 26 00
expect_field_pointer 8d0004
# a block descriptor must describe the medium as it is
cdb d0 151000000c00 --data-out-hex "00000008 00000800 00000400"
expect_sense 5 26 00
expect_field_pointer 800009
cdb d0 151000000c00 --data-out-hex "00000008 00000000 00000200"
expect_good
# nothing was changed by the failed ones
cdb d0 1a003f00ff00 --read 255
expect_data_bytes 2 10
expect_data_bytes 24 081204

stop_lunar
disk_config d0 "$TESTDIR/cache.lua" 1MiB 'mode_change_ua: true'
start_lunar "$TESTDIR/lunar.yaml"
cdb d0 151000001800 --data-out-hex "00000000 0812 $(zeros_hex 18)"
expect_good
cdb d0 000000000000
expect_sense 6 2a 01
cdb d0 000000000000
expect_good
