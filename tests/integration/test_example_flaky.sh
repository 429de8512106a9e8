#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples/flaky.lua: reads touching a bad block fail with 3/11/00 and the
# first bad LBA in INFORMATION; VERIFY finds them too; a write to a bad block heals it,
# unless repair: false.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file lunar.yaml <<YAML
luns:
  - {name: fl0, transport: sim, handler: $EXAMPLES/flaky.lua, size: 1MiB, args: {bad: [[100, 103], 500]}}
  - {name: fl1, transport: sim, handler: $EXAMPLES/flaky.lua, size: 1MiB, args: {bad: [7], repair: false}}
YAML
start_lunar "$TESTDIR/lunar.yaml"
blk=$(repeat_hex 99 512)

cdb fl0 "$(cdb10 0x28 96 8)" --read 4096
expect_sense 3 11 00
expect_sense_data f00003000000640a00000000110000000000
cdb fl0 "$(cdb16 0x88 500 1)" --read 512
expect_info 500
cdb fl0 "$(cdb10 0x28 104 8)" --read 4096
expect_good
cdb fl0 "$(cdb10 0x2f 0 1000)"
expect_sense 3 11 00
expect_info 100

# md's repair: rewrite the block
cdb fl0 "$(cdb10 0x2a 100 4)" --data-out-hex "$blk$blk$blk$blk"
expect_good
cdb fl0 "$(cdb10 0x28 100 4)" --read 2048
expect_good
expect_data "$blk$blk$blk$blk"
cdb fl0 "$(cdb10 0x2f 0 1000)"
expect_info 500

cdb fl1 "$(cdb10 0x2a 7 1)" --data-out-hex "$blk"
expect_good
cdb fl1 "$(cdb10 0x28 7 1)" --read 512
expect_sense 3 11 00
