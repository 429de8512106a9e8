#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Filters stack in the YAML's order, the first closest to the initiator:
# log in front of error logs the injected failure; error in front of log
# keeps the failed command from ever reaching log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file lunar.yaml <<YAML
luns:
  - name: outer
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters:
      - {filter: log}
      - {filter: error, ops: read, lba: 7}
  - name: inner
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters:
      - {filter: error, ops: read, lba: 7}
      - {filter: log}
YAML
start_lunar "$TESTDIR/lunar.yaml"

for l in outer inner; do
	cdb $l "$(cdb10 0x28 7 1)" --read 512
	expect_sense 3 11 00
	cdb $l "$(cdb10 0x28 8 1)" --read 512
	expect_good
done
wait_for_log "outer: READ\(10\) lba 7 blocks 1: CHECK CONDITION 3/11/00"
wait_for_log "inner: READ\(10\) lba 8 blocks 1: GOOD"
if grep -q "inner: READ(10) lba 7" "$LUNAR_LOG"; then fail "the error filter let lba 7 reach log"; fi
