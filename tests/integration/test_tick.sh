#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.wake_at + tick(): a handler defers every READ and answers it from
# its tick a second later, without blocking its worker: a TEST UNIT READY
# sent while the READ is held is answered first.
source "$(dirname "$0")/lib.sh"

write_file slow.lua <<'LUA'
local lunar = require "lunar"
local M = {}
local due, held = {}, {}
function M.command(lun, cmd)
   if cmd.cdb[0] == 0x28 then
      held[#held + 1] = cmd
      due[#due + 1] = lunar.now_ns() + 1000e6
      lunar.wake_at(lun, due[#due])
      cmd:defer()
      lunar.log(lun, "holding a READ")
      return
   end
   return cmd:good()
end
function M.tick(lun, now)
   local i = 1
   while i <= #held do
      if due[i] <= now then
         held[i]:fill_in(0x5a, tonumber(held[i].length))
         held[i]:good()
         table.remove(held, i)
         table.remove(due, i)
      else
         lunar.wake_at(lun, due[i])
         i = i + 1
      end
   end
end
return M
LUA
sim_lun slow slow.lua
start_lunar "$TESTDIR/lunar.yaml"

t0=$(_now_ms)
lunarctl cdb slow 28000000000000000100 --read 512 --json >"$TESTDIR/read.json" &
read_pid=$!
wait_for_log "slow: holding a READ"
cdb slow 000000000000
expect_good
t_tur=$(( $(_now_ms) - t0 ))
wait $read_pid || fail "the READ was never answered"
t_read=$(( $(_now_ms) - t0 ))
use_result "$(cat "$TESTDIR/read.json")" "READ answered from tick()"
expect_good
expect_data "$(printf '5a%.0s' $(seq 512))"
[ "$t_read" -ge 1000 ] || fail "the READ came back after ${t_read} ms, before its 1000 ms"
[ "$t_tur" -lt "$t_read" ] || fail "TEST UNIT READY (${t_tur} ms) waited for the READ (${t_read} ms)"
expect_lun slow state serving
echo "TUR ${t_tur} ms, deferred READ ${t_read} ms"
