#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# SIGHUP (and lunarctl reload with no LUN) re-read the configuration:
# a new LUN starts, a removed one stops, changed args take effect, a
# changed size reaches the disk as CAPACITY DATA HAS CHANGED, and a broken
# file changes nothing.
source "$(dirname "$0")/lib.sh"

cp "$LUNAR_SOURCE_DIR/examples/hello.lua" "$TESTDIR/hello.lua"
echo 'return require "lunar.backend.ram"' >"$TESTDIR/disk.lua"
write_file lunar.yaml <<'YAML'
luns:
  - name: a
    transport: sim
    handler: hello.lua
    size: 1MiB
    args: { vendor: FIRST }
  - name: gone
    transport: sim
    handler: hello.lua
    size: 1MiB
  - name: disk
    transport: sim
    handler: disk.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"
vendor() { cdb "$1" 120000002400 --read 36; jq -r .data <<<"$RESULT" | cut -c17-32 | xxd -r -p | tr -d ' '; }
[ "$(vendor a)" = FIRST ] || fail "vendor before"
cdb disk 000000000000   # the power-on unit attention goes first
cdb disk 000000000000
expect_good

write_file lunar.yaml <<'YAML'
luns:
  - name: a
    transport: sim
    handler: hello.lua
    size: 1MiB
    args: { vendor: SECOND }
  - name: new
    transport: sim
    handler: hello.lua
    size: 2MiB
  - name: disk
    transport: sim
    handler: disk.lua
    size: 2MiB
YAML
kill -HUP "$LUNAR_PID"
wait_for_log "configuration reloaded \\(SIGHUP\\)"
[ "$(vendor a)" = SECOND ] || fail "args did not change: $(vendor a)"
lunarctl status --json | jq -e '[.luns[].name] | sort == ["a", "disk", "new"]' >/dev/null \
	|| fail "LUN set after reload: $(lunarctl status --json | jq -c '[.luns[].name]')"
cdb new 000000000000
expect_good
lunarctl cdb gone 000000000000 >/dev/null 2>&1 && fail "the removed LUN still answers"
cdb disk 000000000000
expect_sense 6 2a 09
cdb disk 25000000000000000000 --read 8
expect_data_bytes 0 "00000fff00000200"

# a broken file: every problem reported, nothing changed
printf 'luns:\n  - name: a\n    transport: sim\n    sise: 1MiB\n' >"$TESTDIR/lunar.yaml"
if out=$(lunarctl reload 2>&1); then fail "a broken config was accepted: $out"; fi
grep -q "lunar.yaml:4:5: unknown key 'sise'" <<<"$out" || fail "no diagnostic: $out"
[ "$(vendor a)" = SECOND ] || fail "a broken config changed LUN a"
cdb new 000000000000
expect_good
