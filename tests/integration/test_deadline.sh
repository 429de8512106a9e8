#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A command the handler holds past the LUN's deadline is answered BUSY by
# the core (the initiator retries it), once; the handler's late answer only
# gives the slot back; the LUN serves on.
source "$(dirname "$0")/lib.sh"

write_file forget.lua <<'LUA'
local lunar = require "lunar"
local M = {}
local held = {}
function M.command(lun, cmd)
   if cmd.cdb[0] == 0x28 then
      held[#held + 1] = cmd        -- forgotten ...
      cmd:defer()
      return
   end
   for i = #held, 1, -1 do         -- ... until a TEST UNIT READY: a late answer
      held[i]:good()
      held[i] = nil
   end
   return cmd:good()
end
return M
LUA
sim_lun forget forget.lua "queue_depth: 4" "deadline: 500ms"
start_lunar "$TESTDIR/lunar.yaml"

t0=$(_now_ms)
cdb forget "$(cdb10 0x28 0 1)" --read 512
elapsed=$(( $(_now_ms) - t0 ))
expect_status 8
expect_no_sense
[ "$elapsed" -ge 400 ] || fail "answered after ${elapsed} ms, before the deadline"
wait_for_log "held past the 0.5s deadline: answered BUSY"
# the late answer frees the slot, nothing is sent twice
cdb forget 000000000000
expect_good
# all 4 slots usable again: 4 more forgotten READs, each BUSY in turn
pids=()
for i in 1 2 3 4; do
	lunarctl cdb forget "$(cdb10 0x28 $i 1)" --read 512 --json >"$TESTDIR/r$i.json" &
	pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4; do
	use_result "$(cat "$TESTDIR/r$i.json")" "READ $i"
	expect_status 8
done
cdb forget 000000000000
expect_good
stats=$(lunarctl stats forget --json)
[ "$(jq .luns[0].commands <<<"$stats")" = 7 ] || fail "commands: $(jq -c .luns[0] <<<"$stats")"
[ "$(jq .luns[0].status.busy <<<"$stats")" = 5 ] || fail "busy count"
