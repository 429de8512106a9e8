#!/usr/bin/env bash
# test_@NAME@.sh: @NAME@.lua over the in-process sim transport, made by
# `lunar new @NAME@`.  Starts `lunar run @NAME@.yaml` on a private socket
# and checks what an initiator sees, with lunarctl: INQUIRY, READ
# CAPACITY(10), a WRITE(10) read back by READ(10), a READ past the end
# (5/21/00) and an opcode the handler does not implement (5/20/00).
#
#   bash test_@NAME@.sh
#
# Uses $LUNAR and $LUNARCTL when set (ctest sets them for the tests in
# tests/integration/), else lunar and lunarctl from PATH.  Needs jq.
# Exit 0: pass, 1: fail, 77: skipped.  Add your own checks at the end.
set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
yaml=$(cd "$here/@YAMLDIR@" && pwd)/@NAME@.yaml
lun=@NAME@
LUNAR=${LUNAR:-lunar}
LUNARCTL=${LUNARCTL:-lunarctl}

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null || { echo "SKIP: jq is not installed" >&2; exit 77; }
command -v "$LUNAR" >/dev/null || fail "no lunar binary ($LUNAR): set LUNAR or PATH"
command -v "$LUNARCTL" >/dev/null || fail "no lunarctl binary ($LUNARCTL): set LUNARCTL or PATH"
[ -f "$yaml" ] || fail "no $yaml"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_$lun.XXXXXX")
sock=$tmp/ctl.sock
pid=
cleanup()
{
	local rc=$?

	[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	if [ "$rc" -ne 0 ] && [ -s "$tmp/lunar.log" ]; then
		echo "---- lunar log" >&2
		cat "$tmp/lunar.log" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT

ctl() { timeout 30 "$LUNARCTL" --ctl "$sock" "$@"; }

"$LUNAR" run "$yaml" --ctl "$sock" 2>"$tmp/lunar.log" &
pid=$!
for _ in $(seq 400); do
	ctl status >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || fail "lunar run $yaml exited before it answered"
	sleep 0.05
done
ctl status >/dev/null || fail "lunar run $yaml did not answer within 20 s"
[ "$(ctl status --json | jq -r ".luns[] | select(.name == \"$lun\") | .state")" = serving ] ||
	fail "LUN $lun is not serving: $(ctl status)"

# cdb HEXCDB [lunarctl cdb options]: the answer as JSON in $r
cdb() { r=$(ctl cdb "$lun" "$@" --json) || fail "lunarctl cdb $lun $*: $r"; }
field() { jq -r ".$1" <<<"$r"; }
expect_good() { [ "$(field status)" = 0 ] || fail "$1: status $(field status), sense $(field sense)"; }
# expect_sense WHAT KEY ASC ASCQ (hex, fixed-format sense)
expect_sense()
{
	local s

	s=$(field sense)
	[ "$(field status)" = 2 ] || fail "$1: status $(field status), expected CHECK CONDITION"
	[ "$((16#${s:4:2} & 15))/${s:24:2}/${s:26:2}" = "$2/$3/$4" ] ||
		fail "$1: sense $s, expected $2/$3/$4"
}
hex() { od -An -v -tx1 | tr -d ' \n'; }
# cdb10 OPCODE LBA BLOCKS: READ(10)/WRITE(10) in hex
cdb10() { printf '%02x00%08x00%04x00' "$1" "$2" "$3"; }

# INQUIRY: 36 bytes, a disk (device type 0), vendor and product from the YAML
cdb 120000002400 --read 36
expect_good INQUIRY
d=$(field data)
[ "${#d}" = 72 ] || fail "INQUIRY: $((${#d} / 2)) bytes, expected 36"
[ "${d:0:2}" = 00 ] || fail "INQUIRY: peripheral device type ${d:0:2}, expected 00 (disk)"
[ "${d:16:16}" = "$(printf '%-8s' LUNAR | hex)" ] || fail "INQUIRY: vendor ${d:16:16}"
[ "${d:32:32}" = "$(printf '%-16s' "@PRODUCT@" | hex)" ] || fail "INQUIRY: product ${d:32:32}"

# READ CAPACITY(10): the last LBA and the block size of the YAML's LUN
size=$(ctl status --json | jq ".luns[] | select(.name == \"$lun\") | .size")
bs=$(ctl status --json | jq ".luns[] | select(.name == \"$lun\") | .block_size")
blocks=$((size / bs))
cdb 25000000000000000000 --read 8
expect_good "READ CAPACITY(10)"
[ "$(field data)" = "$(printf '%08x%08x' $((blocks - 1)) "$bs")" ] ||
	fail "READ CAPACITY(10): $(field data), expected $blocks blocks of $bs bytes"

# WRITE(10) 8 blocks at LBA 16, READ(10) them back
data=$(head -c $((8 * bs)) /dev/urandom | hex)
cdb "$(cdb10 0x2a 16 8)" --data-out-hex "$data"
expect_good "WRITE(10)"
cdb "$(cdb10 0x28 16 8)" --read $((8 * bs))
expect_good "READ(10)"
[ "$(field data)" = "$data" ] || fail "READ(10): the data read back is not the data written"

# READ(10) of the last block, then one past the end
cdb "$(cdb10 0x28 $((blocks - 1)) 1)" --read "$bs"
expect_good "READ(10) of the last block"
cdb "$(cdb10 0x28 "$blocks" 1)" --read "$bs"
expect_sense "READ(10) past the end" 5 21 00

# an opcode the handler does not implement: LOG SENSE
cdb 4d000000000000000000
expect_sense "LOG SENSE" 5 20 00

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "lunar run exited with status $rc on SIGTERM"
! grep -qE 'ERROR: AddressSanitizer|runtime error:' "$tmp/lunar.log" ||
	fail "lunar reported memory errors"
echo "test_$lun: pass"
