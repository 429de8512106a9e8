#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The error filter fails chosen commands before they reach the handler:
# reads touching an LBA range get 3/11/00 with the first bad LBA in
# INFORMATION, others pass; `after` lets N matching commands through,
# `count` stops after N failures; `status` answers a SAM status (BUSY)
# without sense; `sense` picks the sense.  It stands in front of a raw
# handler as well as a disk one.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file lunar.yaml <<YAML
luns:
  - name: d0
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters:
      - filter: error
        ops: read
        lba: [100, 109]
  - name: d1
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    filters:
      - {filter: error, ops: [write], after: 2, count: 2, sense: 4/44/00}
  - name: d2
    transport: sim
    handler: $EXAMPLES/hello.lua
    size: 1MiB
    filters:
      - {filter: error, ops: other, status: 0x08}
YAML
start_lunar "$TESTDIR/lunar.yaml"
blk=$(zeros_hex 512)

cdb d0 "$(cdb10 0x28 95 10)" --read 5120
expect_sense 3 11 00
expect_sense_data f00003000000640a00000000110000000000
cdb d0 "$(cdb10 0x28 105 1)" --read 512
expect_info 105
cdb d0 "$(cdb10 0x28 90 10)" --read 5120
expect_good
cdb d0 "$(cdb10 0x28 110 1)" --read 512
expect_good
cdb d0 "$(cdb10 0x2a 100 1)" --data-out-hex "$blk"
expect_good

# writes 3 and 4 fail, the rest pass
for i in 1 2 3 4 5 6; do
	cdb d1 "$(cdb10 0x2a $i 1)" --data-out-hex "$blk"
	if [ "$i" -eq 3 ] || [ "$i" -eq 4 ]; then
		expect_sense 4 44 00
	else
		expect_good
	fi
done
cdb d1 "$(cdb10 0x28 3 1)" --read 512
expect_good

# a raw handler: BUSY for everything but READ/WRITE
cdb d2 000000000000
expect_status 0x08
expect_no_sense
cdb d2 "$(cdb10 0x28 0 1)" --read 512
expect_good
