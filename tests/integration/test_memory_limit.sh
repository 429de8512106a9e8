#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lua_memory_limit caps one LUN's Lua state: a handler that allocates
# without bound fails that command with 4/44/00, not the daemon; the LUN
# still answers, and another LUN in the same daemon is not affected.
source "$(dirname "$0")/lib.sh"

write_file hog.lua <<'LUA'
local lunar = require "lunar"

local M = {}

local hoard = {}   -- kept by the handler: never collected

function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x00 then
      return cmd:good()
   elseif op == 0x28 then
      local chunk = string.rep("x", 256 * 1024)
      while true do
         hoard[#hoard + 1] = chunk .. #hoard   -- a new string each time
      end
   end
   error(lunar.sense.invalid_opcode())
end

return M
LUA
write_file lunar.yaml <<YAML
version: 1
luns:
  - name: hog
    transport: sim
    handler: hog.lua
    size: 1MiB
    lua_memory_limit: 8MiB
  - name: disk
    transport: sim
    handler: $LUNAR_SOURCE_DIR/examples/hello.lua
    size: 4MiB
    args:
      vendor: LUNAR
      product: bystander
YAML
start_lunar "$TESTDIR/lunar.yaml"

data=$(random_hex 4096)
cdb disk 2a000000001000000800 --data-out-hex "$data"
expect_good

cdb hog 28000000000000000100 --read 512
expect_sense 4 44 00
expect_data ""
kill -0 "$LUNAR_PID" || fail "the daemon died"
expect_log 'hog: .*(lua_memory_limit|not enough memory)'

# the other LUN serves the data it was given
cdb disk 28000000001000000800 --read 4096
expect_good
expect_data "$data"
cdb disk 120000002400 --read 36
expect_good
expect_data_bytes 16 "$(printf '%-16s' bystander | od -An -v -tx1)"

# the runaway LUN still answers; it fails again, the same way
cdb hog 000000000000
expect_good
cdb hog 28000000000000000100 --read 512
expect_sense 4 44 00
cdb hog 000000000000
expect_good
expect_lun hog state serving
expect_lun disk state serving
expect_lun disk errors 0
[ "$(lun_field hog lua_memory)" -le $((8 << 20)) ] || fail "hog uses more than its lua_memory_limit"
