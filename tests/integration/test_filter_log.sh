#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The log filter writes one line per command: its name, LBA and blocks
# when it has them, and the answer (GOOD, CHECK CONDITION with K/ASC/ASCQ,
# deferred); `ops` limits it to classes of commands.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file lunar.yaml <<YAML
luns:
  - name: d0
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters: [{filter: log}]
  - name: w0
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters: [{filter: log, ops: write, level: warn}]
YAML
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 "$(cdb10 0x2a 2048 8)" --data-out-hex "$(zeros_hex 4096)"
cdb d0 "$(cdb16 0x88 9 1)" --read 512
cdb d0 120183ff0000 --read 255
cdb d0 9e100000000000000000000000200000 --read 32
wait_for_log "info: d0: WRITE\(10\) lba 2048 blocks 8: CHECK CONDITION 5/21/00 \([0-9]+ us\)$"
wait_for_log "info: d0: READ\(16\) lba 9 blocks 1: GOOD \([0-9]+ us\)$"
wait_for_log "info: d0: INQUIRY VPD 0x83: GOOD"
wait_for_log "info: d0: READ CAPACITY\(16\): GOOD"

cdb w0 "$(cdb10 0x28 1 1)" --read 512
cdb w0 "$(cdb10 0x2a 1 1)" --data-out-hex "$(zeros_hex 512)"
wait_for_log "warning: w0: WRITE\(10\) lba 1 blocks 1: GOOD"
if grep -q "w0: READ" "$LUNAR_LOG"; then fail "ops: write logged a READ"; fi
