#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Commands a generation deferred are answered by that generation after a
# reload swapped in the next one: each command is answered exactly once,
# by the handler that took it, and export()/import() carry state across.
source "$(dirname "$0")/lib.sh"

write_file later.lua <<'LUA'
local lunar = require "lunar"
local M = {}
local GEN = "A"
local held, due = {}, {}
local served = 0
function M.command(lun, cmd)
   served = served + 1
   if cmd.cdb[0] == 0x28 then
      held[#held + 1] = cmd
      due[#due + 1] = lunar.now_ns() + 400e6
      lunar.wake_at(lun, due[#due])
      cmd:defer()
      return
   end
   return cmd:good()
end
function M.tick(lun, now)
   for i = #held, 1, -1 do
      if due[i] <= now then
         held[i]:data_in(GEN .. string.rep(" ", 511), 512)
         held[i]:good()
         table.remove(held, i); table.remove(due, i)
      else
         lunar.wake_at(lun, due[i])
      end
   end
end
function M.export(lun) return { served = served } end
function M.import(lun, s) served = s.served; lunar.log(lun, "imported served=%d", served) end
return M
LUA
write_file lunar.yaml <<'YAML'
luns:
  - name: later
    transport: sim
    handler: later.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

# two READs held by generation A ...
lunarctl cdb later "$(cdb10 0x28 1 1)" --read 512 --json >"$TESTDIR/r1.json" &
p1=$!
lunarctl cdb later "$(cdb10 0x28 2 1)" --read 512 --json >"$TESTDIR/r2.json" &
p2=$!
sleep 0.2
# ... while generation B takes over
sed -i 's/local GEN = "A"/local GEN = "B"/' "$TESTDIR/later.lua"
lunarctl reload later >/dev/null || fail "reload failed"
wait_for_log "later: imported served=2"
lunarctl cdb later "$(cdb10 0x28 3 1)" --read 512 --json >"$TESTDIR/r3.json" &
p3=$!
wait $p1 $p2 $p3 || fail "a deferred READ was not answered"
for r in r1 r2; do
	use_result "$(cat "$TESTDIR/$r.json")" "READ held across the reload ($r)"
	expect_good
	[ "$(jq -r .data <"$TESTDIR/$r.json" | cut -c1-2)" = 41 ] || fail "$r answered by the new generation"
done
use_result "$(cat "$TESTDIR/r3.json")" "READ after the reload"
expect_good
[ "$(jq -r .data <"$TESTDIR/r3.json" | cut -c1-2)" = 42 ] || fail "r3 not answered by generation B"
[ "$(lunarctl stats later --json | jq .luns[0].commands)" = 3 ] || fail "a command was lost or answered twice"
