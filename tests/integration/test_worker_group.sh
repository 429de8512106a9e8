#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# worker: NAME puts LUNs on one shared thread (lunar/NAME); the others keep
# a thread each.  Shared LUNs serve independently (each its own handler
# state); a LUN leaves and joins a worker on a config reload without the
# others noticing; a handler stuck in a shared worker stalls its
# neighbours only until the watchdog replaces the thread.
source "$(dirname "$0")/lib.sh"

cp "$LUNAR_SOURCE_DIR/examples/ramdisk.lua" "$TESTDIR/ramdisk.lua"
write_file spin.lua <<'LUA'
local lunar = require "lunar"
local M = {}
function M.command(lun, cmd)
   if cmd.cdb[0] == 0x28 then
      local stop = lunar.now_ns() + 4e9
      while lunar.now_ns() < stop do end
   end
   return cmd:good()
end
return M
LUA
config()	# the LUNs; $1: b's worker line (or nothing)
{
	cat >"$TESTDIR/lunar.yaml" <<YAML
luns:
  - name: a
    transport: sim
    handler: ramdisk.lua
    size: 1MiB
    worker: pair
  - name: b
    transport: sim
    handler: ramdisk.lua
    size: 1MiB
$1
  - name: c
    transport: sim
    handler: ramdisk.lua
    size: 1MiB
  - name: s
    transport: sim
    handler: spin.lua
    size: 1MiB
    worker: pair
    deadline: 1s
YAML
}
threads()	# the daemon's thread names, sorted, one line
{
	cat /proc/"$LUNAR_PID"/task/*/comm | grep '^lunar/' | grep -v -e reload -e watchdog -e ctl |
		sort | tr '\n' ' '
}
config "    worker: pair"
start_lunar "$TESTDIR/lunar.yaml"
[ "$(threads)" = "lunar/c lunar/pair " ] || fail "threads: $(threads)"

# each LUN its own data, though a and b share a thread
cdb a "$(cdb10 0x2a 0 1)" --data-out-hex "$(printf 'aa%.0s' $(seq 512))"
expect_good
cdb b "$(cdb10 0x2a 0 1)" --data-out-hex "$(printf 'bb%.0s' $(seq 512))"
expect_good
cdb a "$(cdb10 0x28 0 1)" --read 512
expect_data "$(printf 'aa%.0s' $(seq 512))"
cdb b "$(cdb10 0x28 0 1)" --read 512
expect_data "$(printf 'bb%.0s' $(seq 512))"

# b leaves the shared worker (its own thread now), then comes back
config ""
kill -HUP "$LUNAR_PID"
wait_for_log "configuration reloaded"
[ "$(threads)" = "lunar/b lunar/c lunar/pair " ] || fail "after b left: $(threads)"
cdb b "$(cdb10 0x28 0 1)" --read 512
expect_data "$(printf 'bb%.0s' $(seq 512))"
cdb a "$(cdb10 0x28 0 1)" --read 512
expect_data "$(printf 'aa%.0s' $(seq 512))"
config "    worker: pair"
: >"$LUNAR_LOG.mark"
kill -HUP "$LUNAR_PID"
deadline=$(( $(_now_ms) + 10000 ))
until [ "$(grep -c "configuration reloaded" "$LUNAR_LOG")" = 2 ]; do
	[ "$(_now_ms)" -lt "$deadline" ] || fail "the second reload did not happen"
	sleep 0.05
done
[ "$(threads)" = "lunar/c lunar/pair " ] || fail "after b came back: $(threads)"
cdb b "$(cdb10 0x28 0 1)" --read 512
expect_data "$(printf 'bb%.0s' $(seq 512))"

# s wedges the shared thread: a waits until the watchdog replaces it (1 s),
# c (its own thread) never waits
lunarctl cdb s "$(cdb10 0x28 0 1)" --read 512 --json >"$TESTDIR/spin.json" &
spinner=$!
sleep 0.3
t0=$(_now_ms)
cdb c 000000000000
expect_good
t_c=$(( $(_now_ms) - t0 ))
cdb a 000000000000
expect_good
t_a=$(( $(_now_ms) - t0 ))
wait $spinner
use_result "$(cat "$TESTDIR/spin.json")" "the READ s wedged on"
expect_sense 4 44 00
[ "$t_c" -lt 500 ] || fail "c waited ${t_c} ms on another worker's stuck handler"
[ "$t_a" -lt 5000 ] || fail "a waited ${t_a} ms: the stuck shared thread was not replaced"
wait_for_log "s: reloaded \(recovering from a wedged handler\)"
cdb s 000000000000
expect_good
cdb a "$(cdb10 0x28 0 1)" --read 512
expect_data "$(printf 'aa%.0s' $(seq 512))"
echo "c answered in ${t_c} ms, a (sharing the stuck thread) in ${t_a} ms"
