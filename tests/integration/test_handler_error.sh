#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A plain Lua error in command() fails that command with 4/44/00 INTERNAL
# TARGET FAILURE; the LUN keeps serving, the error is counted, and the log
# names the CDB and has the traceback.
source "$(dirname "$0")/lib.sh"

write_file oops.lua <<'LUA'
local ffi = require "ffi"
local lunar = require "lunar"

local M = {}

local function read_block(lun, cmd)
   local t = nil
   return t.missing_field          -- a plain Lua error
end

function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x00 then
      return cmd:good()
   elseif op == 0x28 then
      return read_block(lun, cmd)
   elseif op == 0x2a then
      local buf = ffi.new("uint8_t[?]", cmd.length)
      cmd:data_out(buf, cmd.length)
      return cmd:good()
   end
   error(lunar.sense.invalid_opcode())
end

return M
LUA
write_file lunar.yaml <<'YAML'
version: 1
luns:
  - name: oops
    transport: sim
    handler: oops.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

cdb oops 28000000000700000100 --read 512
expect_sense 4 44 00
expect_data ""

cdb oops 000000000000
expect_good
cdb oops 2a000000000700000100 --data-out-hex "$(random_hex 512)"
expect_good

# again, and the LUN still serves
cdb oops 28000000000700000100 --read 512
expect_sense 4 44 00
cdb oops 000000000000
expect_good

expect_lun oops state serving
expect_lun oops commands 5
expect_lun oops errors 2
expect_lun oops handler_errors 2

# the log: which CDB, what went wrong, and where
expect_log 'oops: handler error on CDB \[28 00 00 00 00 07 00 00 01 00\]'
expect_log "attempt to index local 't'"
expect_log 'stack traceback:'
expect_log 'oops\.lua:[0-9]+: in function'
