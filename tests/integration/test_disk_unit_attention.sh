#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk unit attentions.  With power_on_ua (the default on Xen) the
# first command after start gets 6/29/00 POWER ON, RESET, OR BUS DEVICE
# RESET OCCURRED, once; INQUIRY, REPORT LUNS and REQUEST SENSE do not
# report it, REQUEST SENSE returns and clears it.  A resize through
# lun.disk:set_capacity() (here from a raw handler's vendor command that
# passes the rest to the disk) posts 6/2A/09 CAPACITY DATA HAS CHANGED and
# READ CAPACITY shows the new size.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file grow.lua <<'LUA'
local lunar = require "lunar"
local ram = require "lunar.backend.ram"
local M = setmetatable({}, { __index = ram })
function M.open(lun, args)
   lun.ram = lunar.mem(lun, "ram", 2 * lun.size)   -- room to grow
end
-- vendor command C0h: the medium doubles
function M.command(lun, cmd)
   if cmd.cdb[0] == 0xc0 then
      lun.disk:set_capacity(2 * lun.size)
      return cmd:good()
   end
   return lunar.PASS
end
return M
LUA
write_file lunar.yaml <<YAML
luns:
  - name: d0
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    args: { power_on_ua: true }
  - name: g0
    transport: sim
    handler: grow.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 120000002400 --read 36
expect_good
cdb d0 a00000000000000001000000 --read 256
expect_good
cdb d0 000000000000
expect_sense 6 29 00
expect_sense_data 700006000000000a00000000290000000000
cdb d0 000000000000
expect_good

# REQUEST SENSE takes it instead
stop_lunar
start_lunar "$TESTDIR/lunar.yaml"
cdb d0 030000001200 --read 18
expect_good
expect_data 700006000000000a00000000290000000000
cdb d0 "$(cdb10 0x28 0 1)" --read 512
expect_good

# a raw handler's resize reaches the disk behind it
cdb g0 25000000000000000000 --read 8
expect_data 000007ff00000200
cdb g0 c0000000000000000000
expect_good
cdb g0 "$(cdb10 0x28 0 1)" --read 512
expect_sense 6 2a 09
expect_sense_data 700006000000000a000000002a0900000000
cdb g0 25000000000000000000 --read 8
expect_good
expect_data 00000fff00000200
cdb g0 "$(cdb10 0x28 4095 1)" --read 512
expect_good
