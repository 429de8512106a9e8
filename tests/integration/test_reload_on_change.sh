#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# reload: on-change: saving the handler (or a module it requires) reloads
# the LUN by itself; a broken save is reported and the old one serves.
source "$(dirname "$0")/lib.sh"

mkdir -p "$TESTDIR/lib"
echo 'return { vendor = "ONE" }' >"$TESTDIR/lib/ident.lua"
sed 's/args.vendor or "LUNAR"/require("lib.ident").vendor/' "$LUNAR_SOURCE_DIR/examples/hello.lua" \
	>"$TESTDIR/disk.lua"
write_file lunar.yaml <<'YAML'
luns:
  - name: disk
    transport: sim
    handler: disk.lua
    size: 1MiB
    reload: on-change
YAML
start_lunar "$TESTDIR/lunar.yaml"
vendor() { cdb disk 120000002400 --read 36; jq -r .data <<<"$RESULT" | cut -c17-32 | xxd -r -p | tr -d ' '; }
[ "$(vendor)" = ONE ] || fail "vendor before: $(vendor)"

# an editor's save: write a new file and rename it over the old
echo 'return { vendor = "TWO" }' >"$TESTDIR/lib/ident.lua.new"
mv "$TESTDIR/lib/ident.lua.new" "$TESTDIR/lib/ident.lua"
wait_for_log "disk: reloaded \\(a Lua file changed\\)"
[ "$(vendor)" = TWO ] || fail "vendor after the module changed: $(vendor)"

echo 'return { vendor = ' >"$TESTDIR/lib/ident.lua"
wait_for_log "disk: reload failed \\(a Lua file changed\\)"
[ "$(vendor)" = TWO ] || fail "a broken save changed the LUN"
