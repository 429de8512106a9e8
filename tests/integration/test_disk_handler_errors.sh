#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What a disk-level op raises is what the initiator gets: a lunar.sense
# error gives exactly that sense (a medium error with its LBA), cmd:check
# from the op too; any other error is 4/44/00 INTERNAL TARGET FAILURE,
# logged with the CDB; an op that defers a command the disk issued itself
# (here write, for WRITE SAME) is a bug reported the same way.  The LUN
# keeps serving.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file bad.lua <<'LUA'
local lunar = require "lunar"
local M = {}
function M.read(lun, cmd, offset, length)
   local bs = lun.block_size
   for lba = offset / bs, (offset + length) / bs - 1 do
      if lba == 7 then error(lunar.sense.read_error(7)) end
      if lba == 8 then return cmd:check(3, 0x11, 0x01, 8) end
      if lba == 9 then error("the backend fell over") end
   end
   cmd:fill_in(0x11, length)
end
function M.write(lun, cmd, offset, length)
   cmd:defer()      -- and never answers
end
return M
LUA
disk_config b0 "$TESTDIR/bad.lua" 1MiB
start_lunar "$TESTDIR/lunar.yaml"

cdb b0 "$(cdb10 0x28 7 1)" --read 512
expect_sense 3 11 00
expect_sense_data f00003000000070a00000000110000000000
cdb b0 "$(cdb10 0x28 8 1)" --read 512
expect_sense_data f00003000000080a00000000110100000000
cdb b0 "$(cdb10 0x28 9 1)" --read 512
expect_sense 4 44 00
wait_for_log "handler error on CDB \[28 00 00 00 00 09 00 00 01 00\]: .*the backend fell over"
# VERIFY reads through read(): the medium error surfaces there too
cdb b0 "$(cdb10 0x2f 5 4)"
expect_sense 3 11 00
expect_info 7
cdb b0 "$(cdb10 0x41 0 2)" --data-out-hex "$(zeros_hex 512)"
expect_sense 4 44 00
wait_for_log "write\(\) deferred a command lunar.disk issued itself"
cdb b0 "$(cdb10 0x28 1 1)" --read 512
expect_good
expect_data "$(repeat_hex 11 512)"
expect_lun b0 state serving
