# SPDX-License-Identifier: MIT
#
# lib.sh: sourced by the tests/vm/test_*.sh scripts, which run as root
# inside the VM (tests/vm/vm.sh boots it once per script).  One boot runs
# many checks: `check` records a failure and goes on, `need` stops the
# script when what follows depends on it.  The script ends with `finish`.
#
#   source "$(dirname "$0")/lib.sh"
#   vm_setup
#   write_config disk.yaml <<'EOF' ... EOF
#   start_lunar "$T/disk.yaml"
#   check "TEST UNIT READY" sg_turs /dev/sda
#   finish
#
# Environment (ctest sets it): LUNAR, LUNARCTL, LUNAR_SOURCE_DIR.  Waits
# are deadlines on /proc/uptime, never counted iterations: under TCG a
# fork costs tens of milliseconds.

set -u -o pipefail

: "${LUNAR_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${LUNAR:=$LUNAR_SOURCE_DIR/build/lunar}"
: "${LUNARCTL:=$LUNAR_SOURCE_DIR/build/lunarctl}"
VM_DIR=$LUNAR_SOURCE_DIR/tests/vm
T=/tmp/lunar-vm-test
SOCK=$T/ctl.sock
LUNAR_LOG=$T/lunar.log
CFS=/sys/kernel/config/target
LUNAR_PID=
FAILED=0
PASSED=0
mkdir -p "$T"
: >"$LUNAR_LOG"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

say()
{
	printf '%s\n' "$*"
}

# the guest's seconds since boot, in hundredths
_now()
{
	local up

	read -r up _ </proc/uptime
	echo "${up/./}"
}

# check WHAT CMD...: runs CMD; "ok" or "FAIL" with its output.
check()
{
	local what=$1 out rc=0

	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		PASSED=$((PASSED + 1))
		say "ok   $what"
	else
		FAILED=$((FAILED + 1))
		say "FAIL $what (exit $rc): $*"
		[ -n "$out" ] && printf '%s\n' "$out" | tail -n 20 | sed 's/^/     | /'
	fi
	return "$rc"
}

# need WHAT CMD...: check, and stop here when it fails.
need()
{
	check "$@" || finish
}

# fail WHAT: a failed expectation found by hand.
fail()
{
	FAILED=$((FAILED + 1))
	say "FAIL $*"
	return 1
}

# wait_until SECONDS CMD...: until CMD succeeds; 1 when the time is up.
wait_until()
{
	local deadline=$(($(_now) + $1 * 100))

	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(_now)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

vm_setup()
{
	# no udev here: load what it would (sd for /dev/sdX, sg for sg_*)
	modprobe -a target_core_user tcm_loop iscsi_target_mod sd_mod sg || {
		say "FAIL cannot load the LIO modules"
		exit 1
	}
}

# write_config NAME: stdin into $T/NAME.
write_config()
{
	cat >"$T/$1"
}

lunarctl()
{
	timeout 60 "$LUNARCTL" --ctl "$SOCK" "$@"
}

# start_lunar CONFIG: `lunar run` in the background until it answers.
start_lunar()
{
	"$LUNAR" run "$1" --ctl "$SOCK" >>"$LUNAR_LOG" 2>&1 &
	LUNAR_PID=$!
	if ! wait_until 60 lunarctl status; then
		say "FAIL lunar run $1 did not answer"
		finish
	fi
}

# stop_lunar [SIGNAL]: stops it and waits; LUNAR_EXIT is its status.
stop_lunar()
{
	kill -s "${1:-TERM}" "$LUNAR_PID" 2>/dev/null
	LUNAR_EXIT=0
	{ wait "$LUNAR_PID"; } 2>/dev/null || LUNAR_EXIT=$?
	LUNAR_PID=
}

# lun_json LUN FIELD: a field of `lunarctl status --json`.
lun_json()
{
	lunarctl status --json | jq -r --arg n "$1" ".luns[] | select(.name == \$n) | .$2"
}

# disk_of LUN: the /dev/sdX lunarctl status shows for a tcm_loop LUN.
disk_of()
{
	lun_json "$1" device | grep -o '/dev/sd[a-z]*'
}

# wait_disk LUN: until the LUN's /dev/sdX is there; prints it.
wait_disk()
{
	local d

	wait_until 30 disk_of "$1" || return 1
	d=$(disk_of "$1")
	wait_until 10 test -b "$d" || return 1
	echo "$d"
}

# log_has REGEX: the daemon log has such a line.
log_has()
{
	grep -qE -- "$1" "$LUNAR_LOG"
}

# configfs_empty: no user backstore HBA, tcm_loop or iSCSI target left.
configfs_empty()
{
	local left

	left=$(ls -d "$CFS"/core/user_* "$CFS"/loopback/naa.* "$CFS"/iscsi/iqn.* 2>/dev/null)
	[ -z "$left" ] || { echo "left in configfs: $left"; return 1; }
}

# what `check "..." bash -c "..."` may use
export LUNAR LUNARCTL SOCK LUNAR_LOG T CFS
export -f _now wait_until lunarctl lun_json disk_of log_has

# finish: the verdict; the daemon log and the kernel's when something failed.
finish()
{
	[ -n "$LUNAR_PID" ] && stop_lunar TERM
	if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$LUNAR_LOG"; then
		fail "the daemon reported sanitizer errors"
	fi
	if [ "$FAILED" -ne 0 ] || [ -n "${LUNAR_TEST_VERBOSE:-}" ]; then
		say "---- lunar log"
		tail -n 80 "$LUNAR_LOG"
		say "---- kernel log"
		dmesg | tail -n 40
	fi
	say "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit
}
