#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# cmd:defer(): a handler keeps each READ and answers it when the next
# command arrives.  The READ's lunarctl blocks until then, so the two run
# concurrently; both get their own answer.
source "$(dirname "$0")/lib.sh"

write_file later.lua <<'LUA'
local lunar = require "lunar"

local M = {}

local held = {}

-- answers the held READs: each block filled with its LBA's low byte
local function release(lun)
   for i = 1, #held do
      local c = held[i]
      local n = c:blocks() * lun.block_size
      c:fill_in(c:lba() % 256, n)
      c:good()
      held[i] = nil
   end
end

function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x28 then
      release(lun)
      held[#held + 1] = cmd
      cmd:defer()
      lunar.log(lun, "deferred READ of LBA %d", cmd:lba())
      return
   end
   release(lun)
   if op == 0x00 then
      return cmd:good()
   end
   error(lunar.sense.invalid_opcode())
end

return M
LUA
write_file lunar.yaml <<'YAML'
version: 1
luns:
  - name: later
    transport: sim
    handler: later.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

# READ of LBA 0x2a: held by the handler until the TEST UNIT READY
lunarctl cdb later 28000000002a00000100 --read 512 --timeout 5000 --json >"$TESTDIR/read.json" &
read_pid=$!
wait_for_log 'later: deferred READ of LBA 42'
kill -0 $read_pid 2>/dev/null || fail "the deferred READ was answered before the next command"
lunarctl cdb later 000000000000 --json >"$TESTDIR/tur.json" &
tur_pid=$!
wait $tur_pid || fail "lunarctl cdb (TEST UNIT READY) failed"
wait $read_pid || fail "lunarctl cdb (READ) failed: the deferred READ was never answered"

use_result "$(cat "$TESTDIR/tur.json")" "TEST UNIT READY"
expect_good
use_result "$(cat "$TESTDIR/read.json")" "deferred READ(10) of LBA 42"
expect_good
expect_data "$(printf '2a%.0s' $(seq 512))"
expect_residual 0

# a READ answered by the READ after it, both in flight together
lunarctl cdb later 28000000000700000200 --read 1024 --timeout 5000 --json >"$TESTDIR/r1.json" &
r1=$!
wait_for_log 'deferred READ of LBA 7'
lunarctl cdb later 28000000000800000100 --read 512 --timeout 5000 --json >"$TESTDIR/r2.json" &
r2=$!
wait $r1 || fail "the first READ was not answered"
wait_for_log 'deferred READ of LBA 8'
cdb later 000000000000
expect_good
wait $r2 || fail "the second READ was not answered"
use_result "$(cat "$TESTDIR/r1.json")" "deferred READ(10) of LBA 7"
expect_good
expect_data "$(printf '07%.0s' $(seq 1024))"
use_result "$(cat "$TESTDIR/r2.json")" "deferred READ(10) of LBA 8"
expect_good
expect_data "$(printf '08%.0s' $(seq 512))"

expect_lun later commands 5
expect_lun later errors 0
expect_lun later handler_errors 0
