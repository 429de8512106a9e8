#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk advertises what the handler's ops can do, and nothing more.
# Without unmap: VPD B2 all zero, B0 no unmap limits, RC16 LBPME=0, UNMAP
# 5/20/00 and absent from REPORT SUPPORTED OPERATION CODES, WRITE SAME
# with UNMAP 5/24/00 (the bit is not in its usage mask).  Without flush:
# WCE=0 and not changeable.  Without write: write protected, no COMPARE
# AND WRITE length.  With unmap but args unmap: false, the same as
# without.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file plain.lua <<'LUA'
local lunar = require "lunar"
local M = {}
function M.open(lun) lun.ram = lunar.mem(lun, "ram", lun.size) end
function M.read(lun, cmd, offset, length) cmd:data_in(lun.ram + offset, length) end
function M.write(lun, cmd, offset, length) cmd:data_out(lun.ram + offset, length) end
return M
LUA
write_file lunar.yaml <<YAML
luns:
  - {name: plain, transport: sim, handler: plain.lua, size: 1MiB}
  - {name: nounmap, transport: sim, handler: $EXAMPLES/ramdisk.lua, size: 1MiB, args: {unmap: false}}
  - {name: fortune, transport: sim, handler: $EXAMPLES/fortune.lua, size: 1MiB}
YAML
start_lunar "$TESTDIR/lunar.yaml"

for l in plain nounmap; do
	cdb $l 1201b2ff0000 --read 255
	expect_data 00b2000400000000
	cdb $l 1201b0ff0000 --read 255
	expect_data_bytes 20 "$(zeros_hex 12)"
	cdb $l 9e100000000000000000000000200000 --read 32
	expect_data_bytes 14 00
	cdb $l 42000000000000001800 --data-out-hex 001600100000000000000000000000000000000100000000
	expect_sense 5 20 00
	cdb $l "$(cdb10x 0x41 0 1 0x08)" --data-out-hex "$(zeros_hex 512)"
	expect_sense 5 24 00
	expect_field_pointer cb0001
	cdb $l a30c01420000000001000000 --read 64
	expect_data 00010000
	cdb $l a30c01410000000001000000 --read 64
	expect_data 0003000a4100ffffffff3fffff00
done
# no flush: no write cache to turn on
cdb plain 1a084800ff00 --read 255
expect_data "17001000 0812 $(zeros_hex 18)"
cdb plain 151000001800 --data-out-hex "00000000 0812 04 $(zeros_hex 17)"
expect_sense 5 26 00
expect_field_pointer 8a0006
# no write: write protected, no COMPARE AND WRITE
cdb fortune 1a003f000400 --read 4
expect_data 43009008
cdb fortune 1201b0ff0000 --read 255
expect_data_bytes 5 00
cdb fortune "$(cdb10 0x2a 0 1)" --data-out-hex "$(zeros_hex 512)"
expect_sense 7 27 00
