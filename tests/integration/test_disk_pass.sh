#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A raw handler's command() sees every CDB first and returns lunar.PASS
# for what lunar.disk should answer: here the handler answers INQUIRY
# itself (its own vendor) and a vendor command, and passes the rest, so
# READ CAPACITY, MODE SENSE, READ and WRITE come from the disk over the
# handler's own read/write ops.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file mixed.lua <<'LUA'
local lunar = require "lunar"
local ffi = require "ffi"
local M = {}
local inquiry = ffi.new("uint8_t[36]")
function M.open(lun, args)
   lun.ram = lunar.mem(lun, "ram", lun.size)
   inquiry[2], inquiry[3], inquiry[4] = 6, 2, 31
   ffi.copy(inquiry + 8, "MIXED   raw inquiry     0001", 28)
end
function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x12 and cmd.cdb[1] == 0 then
      cmd:data_in(inquiry, math.min(36, cmd.cdb[4]))
      return cmd:good()
   elseif op == 0xc1 then
      cmd:fill_in(0xc1, tonumber(cmd.length))
      return cmd:good()
   end
   return lunar.PASS
end
function M.read(lun, cmd, offset, length) cmd:data_in(lun.ram + offset, length) end
function M.write(lun, cmd, offset, length) cmd:data_out(lun.ram + offset, length) end
return M
LUA
disk_config m0 "$TESTDIR/mixed.lua" 1MiB
start_lunar "$TESTDIR/lunar.yaml"

cdb m0 120000002400 --read 36
expect_good
expect_data_bytes 8 "$(printf 'MIXED   raw inquiry     ' | od -An -tx1 | tr -d ' \n')"
cdb m0 c1000000000000000000 --read 4
expect_data c1c1c1c1
# VPD pages: the handler passes them
cdb m0 120100ff0000 --read 255
expect_data 00000006008083b0b1b2
cdb m0 25000000000000000000 --read 8
expect_data 000007ff00000200
cdb m0 "$(cdb10 0x2a 9 1)" --data-out-hex "$(repeat_hex 3c 512)"
expect_good
cdb m0 "$(cdb16 0x88 9 1)" --read 512
expect_data "$(repeat_hex 3c 512)"
cdb m0 5e000000000000000000 --read 8
expect_sense 5 20 00
