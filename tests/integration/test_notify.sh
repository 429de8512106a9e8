#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# systemd's Type=notify protocol, against a stand-in notify socket:
# READY=1 once the LUNs serve, RELOADING=1 then READY=1 around a SIGHUP
# config reload (and around a failed one), STOPPING=1 on SIGTERM.
source "$(dirname "$0")/lib.sh"

cp "$LUNAR_SOURCE_DIR/examples/hello.lua" "$TESTDIR/hello.lua"
sim_lun n0 hello.lua
sock=$TESTDIR/notify.sock
out=$TESTDIR/notify.txt
"$LUNAR" lua "$LUNAR_SOURCE_DIR/tests/integration/dgram_sink.lua" "$sock" "$out" "$TESTDIR/ready" &
sink=$!
for _ in $(seq 200); do [ -f "$TESTDIR/ready" ] && break; sleep 0.05; done
[ -f "$TESTDIR/ready" ] || fail "the stand-in notify socket did not start"

# wait_lines N: until the sink has N lines
wait_lines()
{
	local deadline=$(( $(_now_ms) + 10000 ))

	until [ "$(wc -l <"$out")" -ge "$1" ]; do
		[ "$(_now_ms)" -lt "$deadline" ] || fail "notify: $(tr '\n' ' ' <"$out")(wanted $1 messages)"
		sleep 0.02
	done
}

NOTIFY_SOCKET=$sock start_lunar "$TESTDIR/lunar.yaml"
wait_lines 1
[ "$(sed -n 1p "$out")" = "READY=1" ] || fail "first message: $(sed -n 1p "$out")"
# READY=1 came after the LUN was serving: the log says so first
n_ready=$(grep -n "serving 1 LUN" "$LUNAR_LOG" | cut -d: -f1)
[ -n "$n_ready" ] || fail "no 'serving 1 LUN' in the log"
expect_lun n0 state serving

# a config reload: a second LUN
cat >>"$TESTDIR/lunar.yaml" <<'YAML'
  - name: n1
    transport: sim
    handler: hello.lua
    size: 1MiB
YAML
kill -HUP "$LUNAR_PID"
wait_lines 3
[ "$(sed -n 2p "$out")" = "RELOADING=1" ] || fail "second message: $(sed -n 2p "$out")"
[ "$(sed -n 3p "$out")" = "READY=1" ] || fail "third message: $(sed -n 3p "$out")"
expect_lun n1 state serving

# a broken config: still RELOADING=1 then READY=1, and the old one serves
echo "  - name: [" >>"$TESTDIR/lunar.yaml"
kill -HUP "$LUNAR_PID"
wait_lines 5
[ "$(sed -n 4p "$out")" = "RELOADING=1" ] || fail "fourth message: $(sed -n 4p "$out")"
[ "$(sed -n 5p "$out")" = "READY=1" ] || fail "fifth message: $(sed -n 5p "$out")"
expect_lun n1 state serving

stop_lunar
wait "$sink" || fail "the stand-in notify socket failed"
[ "$(sed -n 6p "$out")" = "STOPPING=1" ] || fail "last message: $(sed -n 6p "$out")"
[ "$(wc -l <"$out")" = 6 ] || fail "extra messages: $(tr '\n' ' ' <"$out")"
echo "READY, RELOADING/READY twice, STOPPING"
