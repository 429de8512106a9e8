#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# error(lunar.sense.X(...)) ends the command with exactly that sense:
# read_error(1234) is 3/11/00 with INFORMATION 1234 (VALID set);
# invalid_field(2) is 5/24/00 with a field pointer to CDB byte 2.
source "$(dirname "$0")/lib.sh"

write_file sense.lua <<'LUA'
local lunar = require "lunar"

local M = {}

function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0x28 then
      error(lunar.sense.read_error(1234))
   elseif op == 0x12 then
      error(lunar.sense.invalid_field(2))
   elseif op == 0x00 then
      return cmd:good()
   end
   error(lunar.sense.invalid_opcode())
end

return M
LUA
write_file lunar.yaml <<'YAML'
version: 1
luns:
  - name: sense
    transport: sim
    handler: sense.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

cdb sense 28000000000000000100 --read 512
expect_sense 3 11 00
expect_sense_bytes 0 f0            # fixed format, VALID
expect_sense_bytes 3 000004d2      # INFORMATION = 1234
expect_sense_bytes 7 0a            # additional length
expect_data ""
expect_residual 0
read_result=$RESULT

cdb sense 120100800000 --read 128
expect_sense 5 24 00
expect_sense_bytes 0 70            # fixed format, no INFORMATION
expect_sense_bytes 15 c00002       # SKSV, C/D = CDB, byte 2
expect_data ""

# byte for byte: 18 bytes of fixed-format sense each
use_result "$read_result" "READ(10) (the first command)"
expect_sense_data f00003000004d20a00000000110000000000
cdb sense 120100800000 --read 128
expect_sense_data 700005000000000a00000000240000c00002

# sense errors are the handler's answer, not handler failures
cdb sense 000000000000
expect_good
expect_lun sense state serving
expect_lun sense handler_errors 0
expect_lun sense errors 3
if grep -q 'handler error' "$LUNAR_LOG"; then
	fail "a sense error was logged as a handler error"
fi
