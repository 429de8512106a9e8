#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A handler that writes Data-In into a WRITE's buffer (the initiator's
# data; on Xen, guest pages mapped read-only) gets a Lua error, not a
# crash: the command fails 4/44/00 and the log says why.
source "$(dirname "$0")/lib.sh"

write_file wrong.lua <<'LUA'
local M = {}
function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x2a then                   -- WRITE(10): answers as if a READ
      cmd:fill_in(0xee, cmd.length)
      return cmd:good()
   elseif op == 0x2e then               -- WRITE AND VERIFY(10): data_in
      cmd:data_in("xxxx", 4)
      return cmd:good()
   end
   return cmd:good()
end
return M
LUA
sim_lun wrong wrong.lua
start_lunar "$TESTDIR/lunar.yaml"

cdb wrong "$(cdb10 0x2a 0 1)" --data-out-hex "$(printf '5a%.0s' $(seq 512))"
expect_sense 4 44 00
wait_for_log "wrong.lua:[0-9]+: Data-In for a command that has only a Data-Out buffer \(CDB 2a0000"
cdb wrong "$(cdb10 0x2e 0 1)" --data-out-hex "$(printf '5a%.0s' $(seq 512))"
expect_sense 4 44 00
cdb wrong 000000000000
expect_good
expect_lun wrong state serving
