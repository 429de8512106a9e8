#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk and a handler with flush: the LUN has a write cache (WCE=1);
# SYNCHRONIZE CACHE(10/16) call flush with the range (NUMBER OF BLOCKS 0:
# to the end); a WRITE with FUA is flushed before it is answered, one
# without is not; IMMED is accepted; a range past the end is 5/21/00.  A
# handler without flush has no cache: WCE=0 and SYNCHRONIZE CACHE is GOOD.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

cache_handler cache.lua
write_file lunar.yaml <<YAML
luns:
  - {name: c0, transport: sim, handler: cache.lua, size: 1MiB}
  - {name: r0, transport: sim, handler: $EXAMPLES/ramdisk.lua, size: 1MiB}
YAML
start_lunar "$TESTDIR/lunar.yaml"

cdb c0 "$(cdb10 0x35 16 8)"
expect_good
expect_log ": flush 8192 4096$"
cdb c0 "$(cdb16 0x91 100 0 0x02)"
expect_good
expect_log ": flush 51200 997376$"
cdb c0 "$(cdb10 0x35 2049 0)"
expect_sense 5 21 00

n=$(flushes)
cdb c0 "$(cdb10 0x2a 3 2)" --data-out-hex "$(zeros_hex 1024)"
expect_good
[ "$(flushes)" -eq "$n" ] || fail "a WRITE without FUA was flushed"
cdb c0 "$(cdb16 0x8a 3 2 0x08)" --data-out-hex "$(zeros_hex 1024)"
expect_good
[ "$(flushes)" -eq $((n + 1)) ] || fail "a WRITE with FUA was not flushed"
expect_log ": flush 1536 1024$"

cdb r0 1a000800ff00 --read 255
expect_data_bytes 12 081200
cdb r0 "$(cdb10 0x35 0 0)"
expect_good
