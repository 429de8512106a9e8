#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunarctl top: per-LUN IOPS, MiB/s, latency and queue depth, refreshed;
# rates are over the interval (not since start).
source "$(dirname "$0")/lib.sh"

start_lunar "$LUNAR_SOURCE_DIR/config.yaml"
for i in $(seq 20); do cdb hello0 "$(cdb10 0x28 0 8)" --read 4096; done
# nothing happens during this interval: rates must be zero
out=$(lunarctl top --json --count 1 --interval 300) || fail "lunarctl top failed"
jq -e '.luns[0].name == "hello0" and .luns[0].iops == 0 and .luns[0].queue_depth == 0' <<<"$out" >/dev/null \
	|| fail "idle interval not idle: $out"
# commands during the interval show up as a rate
lunarctl top --json --count 1 --interval 1500 >"$TESTDIR/top.json" &
top=$!
sleep 0.3
for i in $(seq 10); do cdb hello0 "$(cdb10 0x28 0 8)" --read 4096; done
wait $top || fail "lunarctl top failed"
jq -e '.luns[0].iops > 0 and .luns[0].mib_s > 0 and .luns[0].latency_us > 0' "$TESTDIR/top.json" >/dev/null \
	|| fail "busy interval shows no rate: $(cat "$TESTDIR/top.json")"
text=$(lunarctl top --count 1 --interval 100) || fail "lunarctl top (text) failed"
grep -q "hello0" <<<"$text" || fail "text top lacks the LUN: $text"
