# SPDX-License-Identifier: MIT
#
# lib.sh: sourced by the tests/integration/test_*.sh scripts.
#
#   source "$(dirname "$0")/lib.sh"
#   start_lunar "$LUNAR_SOURCE_DIR/config.yaml"
#   cdb hello0 00000000000000
#   expect_status 0
#
# The environment (ctest sets it): LUNAR, LUNARCTL (the binaries),
# LUNAR_SOURCE_DIR, LUNAR_BUILD_DIR.  Exit 0 = pass, 77 = skip, else fail.
# LUNAR_TEST_VERBOSE=1 shows the daemon log even when the test passes.
#
# Every test gets a private $TESTDIR (handlers and configs it writes go
# there), a daemon socket $SOCK in it, and the daemon's stderr in
# $LUNAR_LOG.  On exit the daemon is killed and $TESTDIR removed; a test
# fails if a daemon's log holds a sanitizer report.

set -eu -o pipefail

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

skip()
{
	echo "SKIP: $*" >&2
	exit 77
}

# requires CMD [ARGS...]: skip the test unless the command runs.
requires()
{
	if ! "$@" >/dev/null 2>&1; then
		skip "'$*' failed: required by this test"
	fi
}

: "${LUNAR_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${LUNAR_BUILD_DIR:=$LUNAR_SOURCE_DIR/build}"
: "${LUNAR:=$LUNAR_BUILD_DIR/lunar}"
: "${LUNARCTL:=$LUNAR_BUILD_DIR/lunarctl}"
[ -x "$LUNAR" ] || fail "LUNAR=$LUNAR is not an executable (run the tests through ctest)"
[ -x "$LUNARCTL" ] || fail "LUNARCTL=$LUNARCTL is not an executable (run the tests through ctest)"
requires jq --version
requires timeout --version

# Seconds to wait for a daemon to answer, and for any one lunarctl call.
LUNAR_START_TIMEOUT=${LUNAR_START_TIMEOUT:-20}
LUNARCTL_TIMEOUT=${LUNARCTL_TIMEOUT:-30}

TESTDIR=$(mktemp -d "${TMPDIR:-/tmp}/lunar-test.XXXXXX")
SOCK=$TESTDIR/ctl.sock
LUNAR_LOG=$TESTDIR/lunar.log
LUNAR_PID=
LUNAR_EXIT=
RESULT=
_lunar_pids=()
_lunar_logs=()

# The daemon logs with sanitizer reports in them, if any.
_sanitizer_reports()
{
	local log

	for log in "${_lunar_logs[@]}"; do
		if [ -f "$log" ] && grep -qE 'ERROR: AddressSanitizer|runtime error:' "$log"; then
			echo "$log"
		fi
	done
}

_cleanup()
{
	local rc=$? pid log bad

	set +e
	for pid in "${_lunar_pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for _ in $(seq 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
	bad=$(_sanitizer_reports)
	if [ -n "$bad" ]; then
		echo "FAIL: the daemon reported sanitizer errors:" >&2
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ -n "$bad" ] || [ -n "${LUNAR_TEST_VERBOSE:-}" ]; then
		for log in "${_lunar_logs[@]}"; do
			[ -s "$log" ] || continue
			echo "---- $log" >&2
			cat "$log" >&2
		done
	fi
	rm -rf "$TESTDIR"
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

_now_ms()
{
	local t=${EPOCHREALTIME/./}

	echo $((t / 1000))
}

# lunarctl ARGS...: the client, on this test's socket.
lunarctl()
{
	local rc=0

	timeout "$LUNARCTL_TIMEOUT" "$LUNARCTL" --ctl "$SOCK" "$@" || rc=$?
	if [ "$rc" -eq 124 ]; then
		echo "lunarctl $*: no answer within ${LUNARCTL_TIMEOUT}s" >&2
	fi
	return "$rc"
}

# start_lunar CONFIG [LUNAR-RUN-OPTIONS...]: `lunar run CONFIG` in the
# background on $SOCK, stderr to $LUNAR_LOG; returns once `lunarctl status`
# answers.  Sets LUNAR_PID.
start_lunar()
{
	local config=$1 deadline

	shift
	[ -f "$config" ] || fail "start_lunar: no config file $config"
	"$LUNAR" run "$config" --ctl "$SOCK" "$@" >>"$LUNAR_LOG" 2>&1 &
	LUNAR_PID=$!
	_lunar_pids+=("$LUNAR_PID")
	[[ " ${_lunar_logs[*]} " == *" $LUNAR_LOG "* ]] || _lunar_logs+=("$LUNAR_LOG")
	deadline=$(($(_now_ms) + LUNAR_START_TIMEOUT * 1000))
	while :; do
		if ! kill -0 "$LUNAR_PID" 2>/dev/null; then
			wait "$LUNAR_PID" || LUNAR_EXIT=$?
			fail "lunar run $config exited (status ${LUNAR_EXIT:-0}) before it answered"
		fi
		if [ -S "$SOCK" ] && timeout 5 "$LUNARCTL" --ctl "$SOCK" status >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(_now_ms)" -ge "$deadline" ]; then
			fail "lunar run $config did not answer on $SOCK within ${LUNAR_START_TIMEOUT}s"
		fi
		sleep 0.05
	done
}

# stop_lunar [SIGNAL]: signals the daemon (TERM by default), waits for it
# and sets LUNAR_EXIT to its exit status.
stop_lunar()
{
	local sig=${1:-TERM} i

	[ -n "$LUNAR_PID" ] || fail "stop_lunar: no daemon running"
	kill -s "$sig" "$LUNAR_PID"
	LUNAR_EXIT=0
	wait "$LUNAR_PID" || LUNAR_EXIT=$?
	for i in "${!_lunar_pids[@]}"; do
		[ "${_lunar_pids[$i]}" != "$LUNAR_PID" ] || unset '_lunar_pids[i]'
	done
	LUNAR_PID=
}

# cdb_json LUN HEXCDB [lunarctl cdb options...]: prints the JSON answer.
cdb_json()
{
	local out

	out=$(lunarctl cdb "$@" --json) || fail "lunarctl cdb $* failed"
	jq -e 'has("status") and has("sense") and has("data") and has("residual")' \
		<<<"$out" >/dev/null || fail "lunarctl cdb $*: not the JSON expected: $out"
	echo "$out"
}

# cdb LUN HEXCDB [options...]: runs the command; the expect_* helpers then
# check its answer, $RESULT.
cdb()
{
	RESULT=$(cdb_json "$@")
	_what="cdb $*"
}

# use_result JSON WHAT: the expect_* helpers check JSON (the answer of a
# lunarctl run some other way, e.g. in the background), WHAT names it.
use_result()
{
	RESULT=$1
	_what=$2
}

_what=
_field()
{
	jq -r "$1" <<<"$RESULT"
}

_mismatch()
{
	echo "FAIL: ${_what:-the last command}: $1" >&2
	echo "      answer: $RESULT" >&2
	exit 1
}

# expect_status N: SAM status (decimal or 0x..).
expect_status()
{
	local got

	got=$(_field .status)
	[ "$got" -eq $(($1)) ] || _mismatch "status is $(printf 0x%02x "$got"), expected $(printf 0x%02x $(($1)))"
}

# _sense_kcq: "K AA QQ" (lowercase hex) from the sense data in $RESULT,
# fixed (70h/71h) or descriptor (72h/73h) format.
_sense_kcq()
{
	local s

	s=$(_field .sense)
	[ ${#s} -ge 8 ] || return 1
	case ${s:0:2} in
	70 | 71 | f0 | f1)
		[ ${#s} -ge 28 ] || return 1
		printf '%x %s %s\n' $((16#${s:4:2} & 0xf)) "${s:24:2}" "${s:26:2}"
		;;
	72 | 73)
		printf '%x %s %s\n' $((16#${s:2:2} & 0xf)) "${s:4:2}" "${s:6:2}"
		;;
	*)
		return 1
		;;
	esac
}

# expect_sense KEY ASC ASCQ (hex, as in 5 24 00): CHECK CONDITION with that
# sense key, additional sense code and qualifier.
expect_sense()
{
	local want got

	want=$(printf '%x %02x %02x' $((16#$1)) $((16#$2)) $((16#$3)))
	[ "$(_field .status)" -eq 2 ] || _mismatch "status is not CHECK CONDITION (expected sense $want)"
	got=$(_sense_kcq) || _mismatch "no valid sense data (expected sense $want)"
	[ "$got" = "$want" ] || _mismatch "sense is $got (key asc ascq), expected $want"
}

# expect_no_sense: no sense data at all.
expect_no_sense()
{
	[ -z "$(_field .sense)" ] || _mismatch "unexpected sense data"
}

_hex_norm()
{
	local h=${1//[[:space:]:]/}

	echo "${h,,}"
}

# expect_sense_data HEX: the sense data is exactly these bytes.
expect_sense_data()
{
	local s want

	s=$(_field .sense)
	want=$(_hex_norm "$1")
	[ "$s" = "$want" ] || _mismatch "sense data is '$s', expected '$want'"
}

# expect_sense_bytes OFFSET HEX: the sense data has these bytes at OFFSET.
expect_sense_bytes()
{
	local s want

	s=$(_field .sense)
	want=$(_hex_norm "$2")
	[ "${s:$(($1 * 2)):${#want}}" = "$want" ] ||
		_mismatch "sense bytes $1.. are '${s:$(($1 * 2)):${#want}}', expected '$want'"
}

# expect_data HEX: the Data-In is exactly these bytes ("" for none).
expect_data()
{
	local d want

	d=$(_field .data)
	want=$(_hex_norm "${1-}")
	[ "$d" = "$want" ] ||
		_mismatch "Data-In is $((${#d} / 2)) bytes '${d:0:64}...', expected $((${#want} / 2)) bytes '${want:0:64}...'"
}

# expect_data_bytes OFFSET HEX: the Data-In has these bytes at OFFSET.
expect_data_bytes()
{
	local d want

	d=$(_field .data)
	want=$(_hex_norm "$2")
	[ "${d:$(($1 * 2)):${#want}}" = "$want" ] ||
		_mismatch "Data-In bytes $1.. are '${d:$(($1 * 2)):${#want}}', expected '$want'"
}

# expect_data_len N: N bytes of Data-In.
expect_data_len()
{
	local d

	d=$(_field .data)
	[ $((${#d} / 2)) -eq "$1" ] || _mismatch "Data-In is $((${#d} / 2)) bytes, expected $1"
}

# expect_residual N
expect_residual()
{
	local got

	got=$(_field .residual)
	[ "$got" -eq "$1" ] || _mismatch "residual is $got, expected $1"
}

# expect_good: status GOOD, no sense.
expect_good()
{
	expect_status 0
	expect_no_sense
}

# status_json: `lunarctl status --json`.
status_json()
{
	lunarctl status --json || fail "lunarctl status --json failed"
}

# lun_field LUN FIELD: one field of a LUN in `lunarctl status --json`.
lun_field()
{
	status_json | jq -er --arg n "$1" ".luns[] | select(.name == \$n) | .$2" ||
		fail "lunarctl status --json: no field '$2' for LUN '$1'"
}

# expect_lun LUN FIELD VALUE: a field of `lunarctl status --json`.
expect_lun()
{
	local got

	got=$(lun_field "$1" "$2")
	[ "$got" = "$3" ] || fail "lunarctl status: LUN $1: $2 is '$got', expected '$3'"
}

# expect_log REGEX: the daemon log has a line matching REGEX (grep -E).
expect_log()
{
	grep -qE -- "$1" "$LUNAR_LOG" || fail "the daemon log has no line matching /$1/"
}

# wait_for_log REGEX [SECONDS]: until the daemon log has such a line.
wait_for_log()
{
	local deadline=$(($(_now_ms) + ${2:-10} * 1000))

	until grep -qE -- "$1" "$LUNAR_LOG" 2>/dev/null; do
		[ "$(_now_ms)" -lt "$deadline" ] || fail "no /$1/ in the daemon log within ${2:-10}s"
		sleep 0.02
	done
}

# hex_of FILE: the file's bytes as lowercase hex.
hex_of()
{
	od -An -v -tx1 "$1" | tr -d ' \n'
}

# random_hex N: N random bytes as hex.
random_hex()
{
	head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

# zeros_hex N: N zero bytes as hex.
zeros_hex()
{
	printf '%*s' $(($1 * 2)) '' | tr ' ' 0
}

# cdb10 OPCODE LBA BLOCKS: a 10-byte CDB (READ(10), WRITE(10)...) in hex.
cdb10()
{
	printf '%02x00%08x00%04x00' $(($1)) "$2" "$3"
}

# write_file NAME: stdin (a heredoc: a handler, a config) into
# $TESTDIR/NAME.  Handler paths in a config there are relative to $TESTDIR.
write_file()
{
	cat >"$TESTDIR/$1"
}

# sim_lun NAME HANDLER [KEY: VALUE...]: $TESTDIR/lunar.yaml with one 1 MiB
# sim LUN served by $TESTDIR/HANDLER; each further argument is one more
# key of the LUN (e.g. "deadline: 1s").
sim_lun()
{
	local name=$1 handler=$2 kv

	shift 2
	{
		printf 'luns:\n  - name: %s\n    transport: sim\n    handler: %s\n    size: 1MiB\n' \
			"$name" "$handler"
		for kv in "$@"; do
			printf '    %s\n' "$kv"
		done
	} >"$TESTDIR/lunar.yaml"
}
