#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar new NAME [--level disk|raw] [--dir DIR]: the handler, YAML and test
# it writes pass their own test unchanged at both levels; as generated, the
# disk-level handler answers every command exactly as a handler with only
# open/read/write does (each written-out op behaves as if absent); the
# generated test fails on a broken handler; a lunar source tree gets
# examples/ and tests/integration/; names are checked and nothing is ever
# overwritten.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

new() { (cd "$TESTDIR" && "$LUNAR" new "$@"); }

# ---- both levels, into a directory, their tests unchanged ---------------------------
out=$(new demo --dir gen) || fail "lunar new demo --dir gen failed: $out"
grep -qx "wrote gen/demo.lua (a disk-level handler)" <<<"$out" || fail "unexpected output: $out"
grep -qx "wrote gen/demo.yaml (a sim LUN serving it)" <<<"$out" || fail "unexpected output: $out"
grep -qx "wrote gen/test_demo.sh (its test)" <<<"$out" || fail "unexpected output: $out"
[ -x "$TESTDIR/gen/test_demo.sh" ] || fail "the test is not executable"
new tape1 --level raw --dir gen >/dev/null || fail "lunar new tape1 --level raw failed"
grep -q "^function M.command(lun, cmd)" "$TESTDIR/gen/tape1.lua" || fail "the raw handler has no command()"
! grep -q "^function M.read" "$TESTDIR/gen/tape1.lua" || fail "the raw handler has disk ops"
for f in demo tape1; do
	"$LUNAR" check "$TESTDIR/gen/$f.yaml" >/dev/null || fail "lunar check $f.yaml: not valid"
	res=$(bash "$TESTDIR/gen/test_$f.sh" 2>&1) || fail "the generated test_$f.sh failed: $res"
	[ "$res" = "test_$f: pass" ] || fail "test_$f.sh said: $res"
done

# every op of the disk level is in the handler, each with its comment
for op in open read write flush unmap write_same compare_and_write tick abort reset resize \
	close check export import; do
	grep -q "^--- $op(lun" "$TESTDIR/gen/demo.lua" || fail "demo.lua: no comment for $op"
	grep -q "^function M.$op(lun" "$TESTDIR/gen/demo.lua" || fail "demo.lua: no $op"
done
for op in open command tick abort reset resize close check export import; do
	grep -q "^function M.$op(lun" "$TESTDIR/gen/tape1.lua" || fail "tape1.lua: no $op"
done

# ---- as generated, the same answers as a handler without the optional ops ----------
write_file plain.lua <<'LUA'
local lunar = require "lunar"
local M = {}
function M.open(lun, args) lun.ram = lunar.mem(lun, "ram", lun.size) end
function M.read(lun, cmd, offset, length) cmd:data_in(lun.ram + offset, length) end
function M.write(lun, cmd, offset, length) cmd:data_out(lun.ram + offset, length) end
return M
LUA
write_file twins.yaml <<YAML
luns:
  - {name: gen, transport: sim, handler: gen/demo.lua, size: 4MiB, args: {serial: twin, product: twin}}
  - {name: plain, transport: sim, handler: plain.lua, size: 4MiB, args: {serial: twin, product: twin}}
YAML
start_lunar "$TESTDIR/twins.yaml"
blk=$(repeat_hex ab 512)
caw_old=$(repeat_hex 00 512)
caw_new=$(random_hex 512)
miss=$(repeat_hex 00 7)ff$(repeat_hex 00 504)
unmap=0016001000000000$(printf '%016x%08x00000000' 16 8)   # 8 blocks at LBA 16
steps=(
	"120000006000 --read 96"                       # standard INQUIRY
	"12010000ff00 --read 255"                        # VPD pages: supported
	"12018000ff00 --read 255"                        #   unit serial number
	"12018300ff00 --read 255"                        #   device identification
	"1201b000ff00 --read 255"                        #   block limits
	"1201b100ff00 --read 255"                        #   block device characteristics
	"1201b200ff00 --read 255"                        #   logical block provisioning
	"9e10000000000000000000000020 0000 --read 32"  # READ CAPACITY(16)
	"1a003f00ff00 --read 255"                      # MODE SENSE(6), current
	"5a007f00000000010000 --read 256"              # MODE SENSE(10), changeable
	"5a00bf00000000010000 --read 256"              # MODE SENSE(10), default
	"a30c0000000000001000 0000 --read 4096"        # REPORT SUPPORTED OPERATION CODES
	"4100000000640001 2c00 --data-out-hex $blk"    # WRITE SAME(10): 300 blocks of ab
	"$(cdb10 0x28 100 300) --read 153600"          # read them back
	"93010000000000000096 0000000a0000"            # WRITE SAME(16) NDOB: zeros
	"$(cdb10 0x28 148 4) --read 2048"
	"41080000006400000100 --data-out-hex $blk"    # WRITE SAME with UNMAP: 5/24/00
	"42000000000000001800 --data-out-hex $unmap"                     # UNMAP
	"89000000000000000200000000010000 --data-out-hex $caw_old$caw_new"  # COMPARE AND WRITE
	"$(cdb10 0x28 512 1) --read 512"
	"89000000000000000200000000010000 --data-out-hex $miss$caw_new"     # miscompare at byte 7
	"35000000000000000000"                         # SYNCHRONIZE CACHE(10)
	"$(cdb10x 0x2a 600 1 0x08) --data-out-hex $blk" # WRITE(10) FUA
	"4d000000000000000000"                         # LOG SENSE: not implemented
)
for s in "${steps[@]}"; do
	read -r -a words <<<"$s"
	hexcdb=
	args=()
	for w in "${words[@]}"; do
		if [ ${#args[@]} -eq 0 ] && [[ $w != --* ]]; then hexcdb+=$w; else args+=("$w"); fi
	done
	a=$(cdb_json gen "$hexcdb" "${args[@]}")
	b=$(cdb_json plain "$hexcdb" "${args[@]}")
	[ "$a" = "$b" ] || fail "CDB $hexcdb: the generated handler answers $a, one without the optional ops $b"
done
# (and those answers are the ones expected: not two identical failures)
cdb gen "$(cdb10 0x28 140 10)" --read 5120
expect_data "$(repeat_hex ab $((10 * 512)))"
cdb gen "$(cdb10 0x28 150 10)" --read 5120
expect_data "$(repeat_hex 00 $((10 * 512)))"
cdb gen "$(cdb10 0x28 512 1)" --read 512
expect_data "$caw_new"
cdb gen 89000000000000000200000000010000 --data-out-hex "$miss$caw_new"
expect_sense e 1d 00
cdb gen 1201b200ff00 --read 255
expect_data_bytes 5 00          # no LBPU, no LBPWS: not thin
stop_lunar

# ---- the generated test can fail --------------------------------------------------------
new broken --dir gen >/dev/null
sed -i 's/^   cmd:data_out(lun.ram + offset, length)$/   -- forgotten/' "$TESTDIR/gen/broken.lua"
grep -q "^   -- forgotten" "$TESTDIR/gen/broken.lua" || fail "could not break broken.lua"
if res=$(bash "$TESTDIR/gen/test_broken.sh" 2>&1); then
	fail "the generated test passed on a handler whose writes are lost: $res"
fi
grep -q "FAIL: READ(10): the data read back is not the data written" <<<"$res" ||
	fail "the generated test failed for another reason: $res"

# ---- nothing is overwritten; names are checked -------------------------------------------
sum=$(md5sum "$TESTDIR"/gen/demo.* "$TESTDIR"/gen/test_demo.sh)
rc=0
err=$(new demo --dir gen 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] || fail "lunar new over existing files exited $rc"
[ "$err" = "lunar new: gen/demo.lua already exists: not overwriting it" ] || fail "message: $err"
[ "$(md5sum "$TESTDIR"/gen/demo.* "$TESTDIR"/gen/test_demo.sh)" = "$sum" ] || fail "files were changed"
# one existing file of three: refused, and the other two are not written either
mkdir "$TESTDIR/part"
touch "$TESTDIR/part/test_part.sh"
rc=0
err=$(new part --dir part 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] && [ "$err" = "lunar new: part/test_part.sh already exists: not overwriting it" ] ||
	fail "a partly existing scaffold: exit $rc, $err"
[ ! -e "$TESTDIR/part/part.lua" ] && [ ! -e "$TESTDIR/part/part.yaml" ] || fail "files written beside an existing one"
for bad in 9lives a.b ../up "with space" "$(printf 'x%.0s' {1..65})" -; do
	rc=0
	err=$(new "$bad" --dir bad 2>&1 >/dev/null) || rc=$?
	if [ "$bad" = - ]; then
		[ "$rc" = 2 ] || fail "lunar new -: exit $rc (a usage error)"
		continue
	fi
	[ "$rc" = 1 ] || fail "lunar new '$bad': exit $rc"
	[ "$(wc -l <<<"$err")" = 1 ] && grep -q "is not a valid name" <<<"$err" || fail "lunar new '$bad': $err"
done
[ ! -e "$TESTDIR/bad" ] || fail "a refused name created files: $(ls -R "$TESTDIR/bad")"
rc=0
err=$(new ok --level tape --dir bad 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] && [ "$err" = "lunar new: --level must be disk or raw, not 'tape'" ] || fail "--level tape: $rc $err"
rc=0
new >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "lunar new without a name: exit $rc"

# ---- in a lunar source tree: examples/ and tests/integration/ ---------------------------
tree=$TESTDIR/clone
mkdir -p "$tree/lua/lunar" "$tree/tests/integration" "$tree/examples/sub"
touch "$tree/lua/lunar/dispatch.lua" "$tree/tests/integration/lib.sh"
out=$(cd "$tree/examples/sub" && "$LUNAR" new demo) || fail "lunar new in a tree failed: $out"
[ -f "$tree/examples/demo.lua" ] && [ -f "$tree/examples/demo.yaml" ] &&
	[ -x "$tree/tests/integration/test_demo.sh" ] || fail "in a tree: $out"
grep -q "^next: scripts/test -R test_demo" <<<"$out" || fail "in a tree: $out"
res=$(bash "$tree/tests/integration/test_demo.sh" 2>&1) || fail "the in-tree test failed: $res"
# outside any tree, without --dir: the current directory
mkdir "$TESTDIR/plaindir"
(cd "$TESTDIR/plaindir" && "$LUNAR" new here >/dev/null) || fail "lunar new here failed"
[ -f "$TESTDIR/plaindir/here.lua" ] && [ -f "$TESTDIR/plaindir/test_here.sh" ] || fail "not in the current directory"
