#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The systemd unit the build installs: systemd-analyze accepts it, it is
# Type=notify with ExecReload sending SIGHUP, and its ExecStart, run as
# written (the paths swapped for the test's), serves and says READY=1.
source "$(dirname "$0")/lib.sh"

unit=$LUNAR_BUILD_DIR/lunar.service
[ -f "$unit" ] || fail "the build has no lunar.service"
grep -q "@" "$unit" && fail "an unconfigured @VAR@ is left in the unit: $(grep @ "$unit")"
if command -v systemd-analyze >/dev/null; then
	# verify wants the binary where the unit says it is: a copy of the unit
	# that names this build's binary
	sed "s|^ExecStart=[^ ]*/lunar |ExecStart=$LUNAR |" "$unit" >"$TESTDIR/lunar.service"
	systemd-analyze verify --man=no "$TESTDIR/lunar.service" >"$TESTDIR/verify" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$TESTDIR/verify")"
else
	echo "systemd-analyze not installed: the unit is checked by hand only"
fi
grep -qx "Type=notify" "$unit" || fail "not Type=notify"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "ExecReload does not send SIGHUP"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[[ "$exec_start" == */bin/lunar\ run\ * ]] || fail "ExecStart: $exec_start"

cp "$LUNAR_SOURCE_DIR/examples/hello.lua" "$TESTDIR/hello.lua"
write_file lunar.yaml <<'YAML'
luns:
  - name: unit0
    transport: sim
    handler: hello.lua
    size: 1MiB
YAML
# ExecStart's arguments, with its config and socket paths moved here
read -r -a argv <<<"$exec_start"
args=()
for a in "${argv[@]:1}"; do
	case $a in
	/etc/lunar/lunar.yaml) args+=("$TESTDIR/lunar.yaml") ;;
	/run/lunar/ctl.sock) args+=("$SOCK") ;;
	*) args+=("$a") ;;
	esac
done
[ "${args[0]}" = run ] || fail "ExecStart does not run the daemon: $exec_start"
"$LUNAR" lua "$LUNAR_SOURCE_DIR/tests/integration/dgram_sink.lua" "$TESTDIR/notify.sock" \
	"$TESTDIR/notify.txt" "$TESTDIR/ready" &
sink=$!
for _ in $(seq 200); do [ -f "$TESTDIR/ready" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$TESTDIR/notify.sock "$LUNAR" "${args[@]}" >>"$LUNAR_LOG" 2>&1 &
LUNAR_PID=$!
_lunar_pids+=("$LUNAR_PID")
_lunar_logs+=("$LUNAR_LOG")
deadline=$(( $(_now_ms) + 20000 ))
until grep -qx "READY=1" "$TESTDIR/notify.txt" 2>/dev/null; do
	kill -0 "$LUNAR_PID" 2>/dev/null || fail "the unit's command line exited: $(cat "$LUNAR_LOG")"
	[ "$(_now_ms)" -lt "$deadline" ] || fail "no READY=1 from the unit's command line"
	sleep 0.05
done
cdb unit0 000000000000
expect_good
kill -HUP "$LUNAR_PID"      # what ExecReload does
wait_for_log "configuration reloaded"
stop_lunar
[ "$LUNAR_EXIT" = 0 ] || fail "exit status $LUNAR_EXIT on SIGTERM"
wait "$sink"
echo "unit verified; its command line served and reloaded"
