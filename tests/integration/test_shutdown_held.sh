#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A command the handler holds forever does not hold up shutdown: SIGTERM
# stops the workers, cancels what is still outstanding (the waiting
# lunarctl gets TASK ABORTED at once, not after its timeout) and exits 0.
source "$(dirname "$0")/lib.sh"

write_file hold.lua <<'LUA'
local lunar = require "lunar"
local M = {}
local held = {}
function M.command(lun, cmd)
   held[#held + 1] = cmd
   cmd:defer()
   lunar.log(lun, "holding %s", cmd:cdb_hex())
end
return M
LUA
write_file lunar.yaml <<'YAML'
luns:
  - name: hold
    transport: sim
    handler: hold.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

lunarctl cdb hold 000000000000 --timeout 60000 --json >"$TESTDIR/tur.json" &
tur=$!
wait_for_log 'holding 000000000000'
t0=$(_now_ms)
stop_lunar TERM
[ "$LUNAR_EXIT" = 0 ] || fail "lunar exited $LUNAR_EXIT on SIGTERM"
wait $tur
elapsed=$(( $(_now_ms) - t0 ))
[ "$elapsed" -lt 5000 ] || fail "shutdown took ${elapsed} ms with a held command"
use_result "$(cat "$TESTDIR/tur.json")" "held TEST UNIT READY at shutdown"
expect_status 64
echo "shutdown with a held command: ${elapsed} ms"
