#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A handler that defers commands and never answers them: past the deadline
# each is answered BUSY; once half the queue is held that way a fresh
# generation takes over (the old one lets its slots go); the third time
# the LUN is quarantined and answers NOT READY (2/04/03) at once, never
# hangs with its slots held; a reload brings it back.
source "$(dirname "$0")/lib.sh"

write_file forget.lua <<'LUA'
local M = {}
local held = {}
function M.command(lun, cmd)
   if cmd.cdb[0] == 0x28 then
      held[#held + 1] = cmd        -- never answered
      return cmd:defer()
   end
   return cmd:good()
end
return M
LUA
sim_lun forget forget.lua "queue_depth: 2" "deadline: 300ms"
start_lunar "$TESTDIR/lunar.yaml"

for round in 1 2 3; do
	pids=()
	for i in 1 2; do
		lunarctl cdb forget "$(cdb10 0x28 $i 1)" --read 512 --json >"$TESTDIR/r$round$i.json" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in 1 2; do
		use_result "$(cat "$TESTDIR/r$round$i.json")" "round $round READ $i"
		expect_status 8
	done
	[ "$round" = 3 ] && break
	deadline=$(( $(_now_ms) + 10000 ))
	until [ "$(grep -c "forget: reloaded (recovering from a handler that forgets" "$LUNAR_LOG")" = "$round" ]; do
		[ "$(_now_ms)" -lt "$deadline" ] || fail "round $round: no new generation"
		sleep 0.02
	done
	cdb forget 000000000000
	expect_good
done
wait_for_log "forget: quarantined \(NOT READY\) after 3 handler faults"
t0=$(_now_ms)
cdb forget 000000000000 --timeout 5000
expect_sense 2 04 03
[ $(( $(_now_ms) - t0 )) -lt 3000 ] || fail "NOT READY took $(( $(_now_ms) - t0 )) ms"
expect_lun forget state failed
lunarctl reload forget >/dev/null || fail "reload after quarantine failed"
cdb forget 000000000000
expect_good
expect_lun forget state serving
