#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `lunar check CONFIG`: exit 0 and "CONFIG: N LUNs, valid" for a good file;
# exit 1, nothing on stdout and exactly the expected "FILE:LINE:COL: message"
# lines on stderr for a bad one (the handlers' Lua syntax included).
set -u

: "${LUNAR:?LUNAR must point at the lunar binary}"
: "${LUNAR_SOURCE_DIR:?LUNAR_SOURCE_DIR must point at the source tree}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lunar-test-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
real=$(cd "$tmp" && pwd -P)
failed=0

fail() {
	echo "FAIL: $*" >&2
	failed=1
}

# expect_ok CONFIG: exit 0, the one "valid" line on stdout, nothing on stderr
expect_ok() {
	local rc=0

	"$LUNAR" check "$1" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
	if [[ $rc != 0 ]]; then
		fail "check $1: exit $rc, wanted 0"
		cat "$tmp/stderr" >&2
		return
	fi
	[[ $(cat "$tmp/stdout") =~ ^"$1: "[0-9]+" LUN"s?", valid"$ ]] ||
		fail "check $1: stdout is '$(cat "$tmp/stdout")'"
	[[ ! -s $tmp/stderr ]] || fail "check $1: stderr is '$(cat "$tmp/stderr")'"
}

# expect_bad CONFIG WANTED: exit 1, nothing on stdout, stderr exactly WANTED
expect_bad() {
	local rc=0

	"$LUNAR" check "$1" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
	[[ $rc == 1 ]] || fail "check $1: exit $rc, wanted 1"
	[[ ! -s $tmp/stdout ]] || fail "check $1: stdout is '$(cat "$tmp/stdout")'"
	printf '%s\n' "$2" >"$tmp/wanted"
	diff -u "$tmp/wanted" "$tmp/stderr" >&2 || fail "check $1: stderr differs (see above)"
}

# ---- the repository's own config ------------------------------------------------
expect_ok "$LUNAR_SOURCE_DIR/config.yaml"

# ---- a good one of our own, checked from another directory ------------------------
mkdir "$tmp/etc" "$tmp/etc/handlers"
printf 'return {}\n' >"$tmp/etc/handlers/disk.lua"
cat >"$tmp/etc/good.yaml" <<'EOF'
version: 1
luns:
  - name: disk0
    transport: sim
    handler: handlers/disk.lua
    size: 1 GiB
    block_size: 4096
    args: {vendor: LUNAR, list: [1, 2]}
    sim: {ring: 1MiB, data_area: 16MiB}
  - name: disk1
    transport: tcmu
    handler: handlers/disk.lua
    size: 2TiB
    tcmu: {create: true, fabric: loop}
EOF
expect_ok "$tmp/etc/good.yaml"
(cd "$tmp" && expect_ok etc/good.yaml && exit $failed) || failed=1

# ---- bad ones ------------------------------------------------------------------------
printf 'return {}\n' >"$tmp/h.lua"

cat >"$tmp/unknown.yaml" <<'EOF'
luns:
  - name: a
    transport: sim
    handler: h.lua
    sise: 64MiB
EOF
expect_bad "$tmp/unknown.yaml" \
"$tmp/unknown.yaml:2:5: LUN 'a' is missing 'size' (e.g. size: 64MiB)
$tmp/unknown.yaml:5:5: unknown key 'sise' in LUN 'a' (did you mean 'size'?)"

cat >"$tmp/units.yaml" <<'EOF'
luns:
  - {name: a, transport: sim, handler: h.lua, size: 64MB}
  - {name: b, transport: sim, handler: h.lua, size: 1000}
  - {name: c, transport: sim, handler: h.lua, size: 99999999999TiB}
EOF
expect_bad "$tmp/units.yaml" \
"$tmp/units.yaml:2:53: 'size': ambiguous unit: write KiB, MiB, GiB or TiB (powers of 1024), not '64MB'
$tmp/units.yaml:3:53: 'size' (1000 bytes) is not a multiple of the block size 512
$tmp/units.yaml:4:53: 'size': size is too large, not '99999999999TiB'"

# every error, in file order, whatever order the checks run in
cat >"$tmp/many.yaml" <<'EOF'
version: 2
luns:
  - name: a
    size: 64MiB
    transport: scsi
    handler: nope.lua
    block_size: "512"
  - name: a
    transport: sim
    handler: h.lua
    size: 64MiB
    queue_depth: 0
    tcmu: {create: true}
EOF
expect_bad "$tmp/many.yaml" \
"$tmp/many.yaml:1:10: unsupported config version 2 (this lunar reads version 1)
$tmp/many.yaml:5:16: 'transport' must be sim, tcmu or xen, not 'scsi'
$tmp/many.yaml:6:14: handler file 'nope.lua' not found (looked at $real/nope.lua)
$tmp/many.yaml:7:17: 'block_size' must be an integer, not the quoted string '512'
$tmp/many.yaml:8:11: duplicate LUN name 'a' (first defined at line 3)
$tmp/many.yaml:12:18: 'queue_depth' must be at least 1"

cat >"$tmp/syntax.yaml" <<'EOF'
luns:
  - name: a
   transport: sim
EOF
expect_bad "$tmp/syntax.yaml" \
"$tmp/syntax.yaml:3:4: did not find expected '-' indicator (while parsing a block collection)"

printf '' >"$tmp/empty.yaml"
expect_bad "$tmp/empty.yaml" "$tmp/empty.yaml:1:1: the file is empty: expected a 'luns:' list"

expect_bad "$tmp/missing.yaml" "$tmp/missing.yaml:0:0: cannot open: No such file or directory"

# a handler that does not compile: caught by check, not left for `run`
cat >"$tmp/broken.lua" <<'EOF'
local M = {}
function M.open(lun
  return 1
end
return M
EOF
cat >"$tmp/lua.yaml" <<'EOF'
luns:
  - name: ok
    transport: sim
    handler: h.lua
    size: 64MiB
  - name: broken
    transport: sim
    handler: broken.lua
    size: 64MiB
EOF
expect_bad "$tmp/lua.yaml" \
"$tmp/lua.yaml:6:5: handler of LUN 'broken' does not compile: $real/broken.lua:3: ')' expected near 'return'"

# ---- usage ---------------------------------------------------------------------------
rc=0
"$LUNAR" check >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "check without CONFIG: exit $rc, wanted 2"

exit $failed
