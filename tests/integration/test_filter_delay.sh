#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The delay filter defers selected commands and hands them to the handler
# from tick() when their time comes: a WRITE and a READ delayed by 1 s take
# that long, with the right data, while a TEST UNIT READY sent meanwhile
# (not selected) is answered before the READ: the worker is never blocked.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB '' '    filters: [{filter: delay, ms: 1000, ops: [read, write]}]'
start_lunar "$TESTDIR/lunar.yaml"
data=$(random_hex 512)

t0=$(_now_ms)
cdb d0 "$(cdb10 0x2a 5 1)" --data-out-hex "$data"
expect_good
t_write=$(($(_now_ms) - t0))
[ "$t_write" -ge 1000 ] || fail "the WRITE came back after $t_write ms"

t0=$(_now_ms)
lunarctl cdb d0 "$(cdb10 0x28 5 1)" --read 512 --json >"$TESTDIR/read.json" &
pid=$!
sleep 0.1
cdb d0 000000000000
expect_good
t_tur=$(($(_now_ms) - t0))
kill -0 $pid 2>/dev/null || fail "TEST UNIT READY came back after the READ ($t_tur ms)"
wait $pid || fail "the READ was never answered"
t_read=$(($(_now_ms) - t0))
use_result "$(cat "$TESTDIR/read.json")" "delayed READ"
expect_good
expect_data "$data"
[ "$t_read" -ge 1000 ] || fail "the READ came back after $t_read ms, before its 1000 ms"
echo "TUR $t_tur ms, delayed READ $t_read ms"
