#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# SIGTERM and SIGINT stop `lunar run` cleanly (exit 0, socket removed); a
# second daemon on a live socket is refused; lunarctl without a daemon
# says so.
source "$(dirname "$0")/lib.sh"

config=$LUNAR_SOURCE_DIR/config.yaml

for sig in TERM INT; do
	start_lunar "$config"
	cdb hello0 000000000000
	expect_good
	stop_lunar $sig
	[ "$LUNAR_EXIT" -eq 0 ] || fail "SIG$sig: lunar run exited $LUNAR_EXIT, expected 0"
	[ ! -e "$SOCK" ] || fail "SIG$sig: lunar run left its socket $SOCK behind"
	expect_log 'shutting down'
done

# a second lunar on the socket of a live one
start_lunar "$config"
rc=0
timeout 20 "$LUNAR" run "$config" --ctl "$SOCK" >"$TESTDIR/second.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "a second lunar run on a live socket exited $rc, expected 1"
grep -q "another lunar is already serving this socket" "$TESTDIR/second.log" ||
	fail "a second lunar run did not say why: $(cat "$TESTDIR/second.log")"
grep -q "$SOCK" "$TESTDIR/second.log" || fail "the refusal does not name the socket"
# the first one is unharmed and still owns the socket
[ -S "$SOCK" ] || fail "the refused lunar removed the live socket"
cdb hello0 000000000000
expect_good
stop_lunar TERM
[ "$LUNAR_EXIT" -eq 0 ] || fail "lunar run exited $LUNAR_EXIT"

# a stale socket file (no daemon behind it) is replaced
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK" 2>/dev/null ||
	skip "cannot make a stale socket"
[ -S "$SOCK" ] || fail "no stale socket made"
start_lunar "$config"
cdb hello0 000000000000
expect_good
stop_lunar INT
[ "$LUNAR_EXIT" -eq 0 ] || fail "lunar run exited $LUNAR_EXIT"

# lunarctl with no daemon
rc=0
"$LUNARCTL" --ctl "$SOCK" status >"$TESTDIR/ctl.out" 2>"$TESTDIR/ctl.err" || rc=$?
[ "$rc" -ne 0 ] || fail "lunarctl status with no daemon succeeded"
[ ! -s "$TESTDIR/ctl.out" ] || fail "lunarctl printed to stdout: $(cat "$TESTDIR/ctl.out")"
grep -q "cannot reach lunar at $SOCK" "$TESTDIR/ctl.err" ||
	fail "lunarctl with no daemon said: $(cat "$TESTDIR/ctl.err")"
rc=0
"$LUNARCTL" --ctl "$SOCK" cdb hello0 000000000000 --json >"$TESTDIR/ctl.out" 2>"$TESTDIR/ctl.err" || rc=$?
[ "$rc" -ne 0 ] || fail "lunarctl cdb with no daemon succeeded"
grep -q "is \`lunar run\` running?" "$TESTDIR/ctl.err" ||
	fail "lunarctl cdb with no daemon said: $(cat "$TESTDIR/ctl.err")"
