#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunarctl reload LUN: the edited handler serves the next command; data in
# C-owned memory (lunar.mem) is still there; broken edits (a syntax error,
# open() raising, open() that never returns) are refused with a reason
# while the previous generation keeps serving.
source "$(dirname "$0")/lib.sh"

sed 's/LUNAR/VERSION1/' "$LUNAR_SOURCE_DIR/examples/hello.lua" >"$TESTDIR/disk.lua"
write_file lunar.yaml <<'YAML'
reload_timeout: 2s
luns:
  - name: disk
    transport: sim
    handler: disk.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"
vendor() { cdb disk 120000002400 --read 36; jq -r .data <<<"$RESULT" | cut -c17-32 | xxd -r -p; }

data=$(random_hex 512)
cdb disk "$(cdb10 0x2a 5 1)" --data-out-hex "$data"
expect_good
[ "$(vendor)" = "VERSION1" ] || fail "before: vendor $(vendor)"

# a good edit
sed -i 's/VERSION1/VERSION2/' "$TESTDIR/disk.lua"
out=$(lunarctl reload disk) || fail "lunarctl reload failed: $out"
grep -q "disk: reloaded" <<<"$out" || fail "unexpected report: $out"
[ "$(vendor)" = "VERSION2" ] || fail "after reload: vendor $(vendor)"
cdb disk "$(cdb10 0x28 5 1)" --read 512
expect_data "$data"
expect_lun disk state serving

# broken edits: each refused, VERSION2 keeps serving
cp "$TESTDIR/disk.lua" "$TESTDIR/good.lua"
for broken in 'syntax' 'raise' 'loop'; do
	cp "$TESTDIR/good.lua" "$TESTDIR/disk.lua"
	case $broken in
	syntax) printf '\nthis is not lua (\n' >>"$TESTDIR/disk.lua" ;;
	raise) sed -i 's/^function M.open(lun, args)$/function M.open(lun, args) error("open refused")/' "$TESTDIR/disk.lua" ;;
	loop) sed -i 's/^function M.open(lun, args)$/function M.open(lun, args) while true do end/' "$TESTDIR/disk.lua" ;;
	esac
	if out=$(lunarctl reload disk 2>&1); then fail "a $broken edit was accepted: $out"; fi
	case $broken in
	syntax) grep -q "disk.lua:[0-9]*:" <<<"$out" || fail "no syntax error position: $out" ;;
	raise) grep -q "open refused" <<<"$out" || fail "no open() error: $out" ;;
	loop) grep -q "did not return within 2000 ms" <<<"$out" || fail "no timeout report: $out" ;;
	esac
	[ "$(vendor)" = "VERSION2" ] || fail "after a $broken edit: vendor $(vendor)"
	cdb disk "$(cdb10 0x28 5 1)" --read 512
	expect_data "$data"
done
expect_lun disk state serving
reload=$(status_json | jq -r '.luns[0].reload')
grep -q "reload failed" <<<"$reload" || fail "status does not report the failed reload: $reload"
[ "$(lunarctl stats disk --json | jq .luns[0].reloads)" = 1 ] || fail "reloads counter"
