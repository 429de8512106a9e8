#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunarctl trace LUN streams one decoded line per command as it completes:
# the opcode, LBA and length, the status with sense decoded, bytes, latency.
source "$(dirname "$0")/lib.sh"

start_lunar "$LUNAR_SOURCE_DIR/config.yaml"
lunarctl trace hello0 --count 4 >"$TESTDIR/trace.txt" &
tracer=$!
# the tracer attaches asynchronously: poke until it has said hello
deadline=$(( $(_now_ms) + 10000 ))
until grep -q "^tracing hello0" "$TESTDIR/trace.txt" 2>/dev/null; do
	[ "$(_now_ms)" -lt "$deadline" ] || fail "trace never started"
	sleep 0.05
done
cdb hello0 120000002400 --read 36
cdb hello0 "$(cdb10 0x28 2048 8)" --read 4096
cdb hello0 "$(cdb10 0x2a 7 1)" --data-out-hex "$(zeros_hex 512)"
cdb hello0 a00000000000000000000000 --read 64
wait $tracer || fail "lunarctl trace exited with an error"
cat "$TESTDIR/trace.txt"
grep -qE " INQUIRY -> GOOD 36B [0-9]+(ns|us|ms)$" "$TESTDIR/trace.txt" || fail "no INQUIRY line"
grep -qE " READ\(10\) lba=2048 len=8 -> GOOD 4096B " "$TESTDIR/trace.txt" || fail "no READ(10) line"
grep -qE " WRITE\(10\) lba=7 len=1 -> GOOD 512B " "$TESTDIR/trace.txt" || fail "no WRITE(10) line"
grep -qE " REPORT LUNS -> CHECK CONDITION 5/20/00 INVALID COMMAND OPERATION CODE " "$TESTDIR/trace.txt" \
	|| fail "no REPORT LUNS line with its sense"

# --json: one object per line
lunarctl trace hello0 --count 1 --json >"$TESTDIR/trace.json" &
tracer=$!
sleep 0.3
cdb hello0 000000000000
wait $tracer || fail "lunarctl trace --json failed"
jq -e '.command == "TEST UNIT READY" and .status == 0 and .latency_ns > 0' "$TESTDIR/trace.json" >/dev/null \
	|| fail "bad JSON trace line: $(cat "$TESTDIR/trace.json")"

# a tracer that goes away is noticed; the LUN goes on
lunarctl trace hello0 >/dev/null &
tracer=$!
sleep 0.3
kill $tracer; wait $tracer 2>/dev/null || true
cdb hello0 000000000000
expect_good
