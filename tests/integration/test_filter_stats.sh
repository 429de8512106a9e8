#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The stats filter counts commands, blocks and errors per class and logs
# a summary every `interval` seconds and when the LUN closes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB '' '    filters: [{filter: stats, interval: 1}]'
start_lunar "$TESTDIR/lunar.yaml"

for i in 1 2 3; do
	cdb d0 "$(cdb10 0x28 $i 4)" --read 2048
done
cdb d0 "$(cdb10 0x2a 0 8)" --data-out-hex "$(zeros_hex 4096)"
cdb d0 "$(cdb10 0x28 5000 1)" --read 512
cdb d0 000000000000
wait_for_log "info: d0: stats: read 4 cmds 13 blocks 1 errors; write 1 cmds 8 blocks 0 errors; other 1 cmds 0 blocks 0 errors; [0-9.]+ us per command answered at once$" 5
cdb d0 "$(cdb10 0x2a 0 8)" --data-out-hex "$(zeros_hex 4096)"
stop_lunar
expect_log "info: d0: stats: read 4 cmds 13 blocks 1 errors; write 2 cmds 16 blocks 0 errors; other 1 cmds"
