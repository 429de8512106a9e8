#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunarctl stats: counts by status, errors by sense (key/ASC/ASCQ with a
# name), latency per opcode class with percentiles, bytes, queue depth.
source "$(dirname "$0")/lib.sh"

start_lunar "$LUNAR_SOURCE_DIR/config.yaml"
for lba in 0 8 16; do
	cdb hello0 "$(cdb10 0x28 "$lba" 8)" --read 4096
	expect_good
done
cdb hello0 "$(cdb10 0x2a 0 1)" --data-out-hex "$(zeros_hex 512)"
expect_good
cdb hello0 a00000000000000000000000 --read 64
expect_sense 5 20 00
cdb hello0 a00000000000000000000000 --read 64
cdb hello0 000000000000
expect_good

stats=$(lunarctl stats hello0 --json) || fail "lunarctl stats failed"
check() {
	local what=$1 filter=$2 want=$3 got
	got=$(jq -r ".luns[0] | $filter" <<<"$stats")
	[ "$got" = "$want" ] || fail "stats $what: got '$got', expected '$want'"
}
check commands .commands 7
check errors .errors 2
check good .status.good 5
check check_condition .status.check_condition 2
check "sense 5/20/00" '.sense[] | select(.key == 5 and .asc == 32) | .count' 2
check "sense text" '.sense[0].text' "5/20/00 INVALID COMMAND OPERATION CODE"
check "read count" .latency.read.count 3
check "write count" .latency.write.count 1
check "other count" .latency.other.count 3
check "bytes in" .bytes_in 12288
check "bytes out" .bytes_out 512
check "queue now" .queue_depth 0
check "read p50 > 0" '.latency.read.p50_ns > 0' true
check "read p50 <= p99" '.latency.read.p50_ns <= .latency.read.p99_ns' true
check "p99 <= p999" '.latency.read.p99_ns <= .latency.read.p999_ns' true

text=$(lunarctl stats) || fail "lunarctl stats (text) failed"
grep -q "5/20/00 INVALID COMMAND OPERATION CODE x2" <<<"$text" || fail "text stats lack the sense line: $text"
grep -qE "^  read +3 " <<<"$text" || fail "text stats lack the read latency row: $text"
lunarctl stats nosuchlun >/dev/null 2>&1 && fail "stats of an unknown LUN succeeded"
echo "$text"
