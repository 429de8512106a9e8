#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `lunar check` validates the filters of a LUN with file:line:col
# messages (unknown filter, unknown key, a bad value); a valid stack
# checks clean.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file bad.yaml <<YAML
luns:
  - name: d0
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters:
      - filter: eror
      - {filter: delay, ms: soon}
      - {filter: error, rate: 2, lba: [9, 1]}
YAML
rc=0
out=$("$LUNAR" check "$TESTDIR/bad.yaml" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "lunar check exited $rc"
want="$TESTDIR/bad.yaml:7:17: unknown filter 'eror' (did you mean 'error'?)
$TESTDIR/bad.yaml:8:29: 'ms' must be a number from 0 to 3600000, not 'soon'
$TESTDIR/bad.yaml:9:31: 'rate' must be a number from 0 to 1, not '2'
$TESTDIR/bad.yaml:9:39: 'lba' must be [FIRST, LAST] with FIRST <= LAST"
[ "$out" = "$want" ] || fail "lunar check said:
$out
expected:
$want"

write_file good.yaml <<YAML
luns:
  - name: d0
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters:
      - {filter: log, level: debug}
      - {filter: stats}
      - {filter: delay, ms: 1, max_ms: 2, seed: 1}
      - {filter: error, ops: [read, verify], rate: 0.5, lba: [9, 10], sense: [3, 0x11, 0]}
      - {filter: readonly}
YAML
"$LUNAR" check "$TESTDIR/good.yaml" >/dev/null || fail "a valid filter stack did not check clean"
start_lunar "$TESTDIR/good.yaml"
expect_lun d0 state serving
