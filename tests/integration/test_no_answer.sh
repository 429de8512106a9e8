#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# command() must answer: returning nothing is a handler bug (4/44/00);
# returning a plain status number is an answer (BUSY, no sense).
source "$(dirname "$0")/lib.sh"

write_file lazy.lua <<'LUA'
local lunar = require "lunar"

local M = {}

function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x00 then
      return                              -- forgot to answer
   elseif op == 0x1b then
      return lunar.status.BUSY            -- 0x08
   elseif op == 0x35 then
      return 0x18                         -- RESERVATION CONFLICT
   elseif op == 0x1e then
      return lunar.GOOD
   end
   error(lunar.sense.invalid_opcode())
end

return M
LUA
write_file lunar.yaml <<'YAML'
version: 1
luns:
  - name: lazy
    transport: sim
    handler: lazy.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

cdb lazy 000000000000
expect_sense 4 44 00
expect_log 'lazy: handler error on CDB \[00 00 00 00 00 00\]: command\(\) returned without answering'

cdb lazy 1b0000000100
expect_status 0x08
expect_no_sense
expect_data ""

cdb lazy 35000000000000000000
expect_status 0x18
expect_no_sense

cdb lazy 1e0000000000
expect_good

expect_lun lazy state serving
expect_lun lazy handler_errors 1
