#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The readonly filter write-protects any LUN.  In front of a disk-level
# handler the disk itself turns WP on (MODE SENSE, 7/27/00 for writes);
# in front of a raw handler (hello.lua) the filter answers writes with
# 7/27/00 and sets WP in the handler's MODE SENSE answer.  Reads work.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file raw.lua <<'LUA'
local lunar = require "lunar"
local M = {}
function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x1a then                       -- MODE SENSE(6): header only, WP clear
      cmd:data_in("\3\0\0\0", 4)
      return cmd:good()
   elseif op == 0x28 then
      cmd:fill_in(0x61, tonumber(cmd.length))
      return cmd:good()
   elseif op == 0x2a then
      error("the readonly filter let a WRITE through")
   end
   error(lunar.sense.invalid_opcode())
end
return M
LUA
write_file lunar.yaml <<YAML
luns:
  - {name: d0, transport: sim, handler: $EXAMPLES/ramdisk.lua, size: 1MiB, filters: [{filter: readonly}]}
  - {name: r0, transport: sim, handler: raw.lua, size: 1MiB, filters: [{filter: readonly}]}
YAML
start_lunar "$TESTDIR/lunar.yaml"
blk=$(zeros_hex 512)

cdb d0 1a003f000400 --read 4
expect_data 43009008
cdb d0 "$(cdb10 0x2a 0 1)" --data-out-hex "$blk"
expect_sense 7 27 00
cdb d0 42000000000000001800 --data-out-hex 001600100000000000000000000000000000000100000000
expect_sense 7 27 00
cdb d0 "$(cdb10 0x28 0 1)" --read 512
expect_good

cdb r0 1a003f000400 --read 4
expect_good
expect_data 03008000
cdb r0 "$(cdb10 0x2a 0 1)" --data-out-hex "$blk"
expect_sense 7 27 00
cdb r0 "$(cdb16 0x93 0 1 0x01)"
expect_sense 7 27 00
cdb r0 "$(cdb10 0x28 0 1)" --read 512
expect_good
expect_data "$(repeat_hex 61 512)"
