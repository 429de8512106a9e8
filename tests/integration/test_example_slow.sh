#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples/slow.lua: disk-level ops that defer: READ and WRITE are
# answered ms later from tick(), with the right data, while other
# commands are answered at once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config s0 slow.lua 1MiB 'ms: 1000'
start_lunar "$TESTDIR/lunar.yaml"
data=$(random_hex 1024)

t0=$(_now_ms)
cdb s0 "$(cdb10 0x2a 10 2)" --data-out-hex "$data"
expect_good
[ $(($(_now_ms) - t0)) -ge 1000 ] || fail "the WRITE was answered before 1000 ms"

t0=$(_now_ms)
lunarctl cdb s0 "$(cdb10 0x28 10 2)" --read 1024 --json >"$TESTDIR/read.json" &
pid=$!
sleep 0.1
cdb s0 25000000000000000000 --read 8
expect_good
kill -0 $pid 2>/dev/null || fail "READ CAPACITY came back after the READ: the worker waited"
wait $pid || fail "the READ was never answered"
t_read=$(($(_now_ms) - t0))
use_result "$(cat "$TESTDIR/read.json")" "slow READ"
expect_good
expect_data "$data"
[ "$t_read" -ge 1000 ] || fail "the READ came back after $t_read ms"
