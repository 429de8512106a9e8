#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A handler stuck in a compiled loop cannot be interrupted: past the
# deadline the core fails the command it is stuck on (4/44/00: a retry
# would wedge again), answers the others it held BUSY, leaves the stuck
# thread, and serves the LUN again with a fresh generation; another LUN
# never notices.
# Three wedges in a row quarantine the LUN (NOT READY) until a reload.
source "$(dirname "$0")/lib.sh"

write_file spin.lua <<'LUA'
local lunar = require "lunar"
local M = {}
local held = {}
function M.command(lun, cmd)
   if cmd.cdb[0] == 0x12 then
      held[#held + 1] = cmd   -- an INQUIRY is held (innocent when the READ wedges)
      return cmd:defer()
   end
   if cmd.cdb[0] == 0x28 then
      -- stuck for 6 s in a loop the JIT compiles (no hook can stop it)
      local stop = lunar.now_ns() + 6e9
      local x = 0
      while lunar.now_ns() < stop do x = x + 1 end
      return cmd:good()
   end
   return cmd:good()
end
return M
LUA
cp "$LUNAR_SOURCE_DIR/examples/hello.lua" "$TESTDIR/hello.lua"
# wait_nth PATTERN N: the N-th log line matching PATTERN
wait_nth()
{
	local deadline=$(( $(_now_ms) + 10000 ))

	until [ "$(grep -cE -- "$1" "$LUNAR_LOG")" -ge "$2" ]; do
		[ "$(_now_ms)" -lt "$deadline" ] || fail "no ${2}th /$1/ in the daemon log within 10s"
		sleep 0.02
	done
}
write_file lunar.yaml <<'YAML'
reload_timeout: 2s
luns:
  - name: spin
    transport: sim
    handler: spin.lua
    size: 1MiB
    deadline: 1s
  - name: other
    transport: sim
    handler: hello.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

lunarctl cdb spin 120000006000 --read 96 --json >"$TESTDIR/held.json" &
holder=$!
wait_for_lua_held()
{
	local deadline=$(( $(_now_ms) + 10000 ))

	until [ "$(lunarctl stats spin --json | jq .luns[0].queue_depth)" = 1 ]; do
		[ "$(_now_ms)" -lt "$deadline" ] || fail "the INQUIRY was never held"
		sleep 0.02
	done
}
wait_for_lua_held
lunarctl cdb spin "$(cdb10 0x28 0 1)" --read 512 --json >"$TESTDIR/wedged.json" &
reader=$!
# the other LUN serves throughout
for i in $(seq 20); do
	cdb other "$(cdb10 0x28 0 1)" --read 512
	expect_good
done
wait $reader
use_result "$(cat "$TESTDIR/wedged.json")" "READ to the wedged handler"
expect_sense 4 44 00
wait $holder
use_result "$(cat "$TESTDIR/held.json")" "INQUIRY the wedged handler held"
expect_status 8
wait_for_log "spin: its handler ran past the 1.0s deadline and is wedged"
# the stuck thread still spins, but under SCHED_IDLE (policy 5): it only
# gets a CPU nobody else wants
idle=0
for t in /proc/"$LUNAR_PID"/task/*; do
	[ "$(cat "$t/comm" 2>/dev/null)" = "lunar/spin" ] || continue
	# field 41 of stat (after the ") " that ends comm) is the policy
	policy=$(sed 's/.*) //' "$t/stat" | awk '{print $39}')
	[ "$policy" = 5 ] && idle=$((idle + 1))
done
[ "$idle" = 1 ] || fail "$idle lunar/spin threads under SCHED_IDLE, expected the wedged one: $(
	for t in /proc/"$LUNAR_PID"/task/*; do
		echo "$(cat "$t/comm") $(sed 's/.*) //' "$t/stat" | awk '{print $39}')"
	done | tr '\n' ' ')"
wait_for_log "spin: reloaded \(recovering from a wedged handler\)"
cdb spin 000000000000
expect_good
expect_lun spin state serving
[ "$(lunarctl stats spin --json | jq .luns[0].faults)" = 1 ] || fail "faults not counted"
# the abandoned thread returns after its 6 s and leaves; what it held
# comes back (the slots are reclaimed as the LUN runs next)
deadline=$(( $(_now_ms) + 15000 ))
until [ "$(lunarctl stats spin --json | jq .luns[0].queue_depth)" = 0 ]; do
	[ "$(_now_ms)" -lt "$deadline" ] || fail "slots not reclaimed"
	cdb spin 000000000000
	expect_good
	sleep 0.2
done

# two more wedges: quarantine
for n in 2 3; do
	cdb spin "$(cdb10 0x28 0 1)" --read 512
	expect_sense 4 44 00
	wait_nth "spin: its handler ran past the 1.0s deadline and is wedged" "$n"
	[ "$n" = 3 ] || wait_nth "spin: reloaded \(recovering from a wedged handler\)" "$n"
	[ "$n" = 3 ] || { cdb spin 000000000000; expect_good; }
	sleep 0.2
done
wait_for_log "spin: quarantined"
cdb spin 000000000000
expect_sense 2 04 03
expect_lun spin state failed
lunarctl reload spin >/dev/null || fail "reload after quarantine failed"
cdb spin 000000000000
expect_good
cdb other 000000000000
expect_good
