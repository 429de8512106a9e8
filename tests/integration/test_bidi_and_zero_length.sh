#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A raw handler sees both buffers of a bidirectional command (a vendor
# opcode echoing its Data-Out into its Data-In), and a READ(10) of zero
# blocks is GOOD with no data.
source "$(dirname "$0")/lib.sh"

write_file echo.lua <<'LUA'
local ffi = require "ffi"
local lunar = require "lunar"

local M = {}

local DIR_BIDI = 3

function M.command(lun, cmd)
   local op = cmd.cdb[0]
   if op == 0xc1 then                       -- vendor: echo
      if cmd.dir ~= DIR_BIDI then error(lunar.sense.invalid_field(0)) end
      local n = tonumber(cmd.length)
      local buf = ffi.new("uint8_t[?]", n)
      cmd:data_out(buf, n)
      cmd:data_in(buf, n)
      return cmd:good()
   elseif op == 0x2a then                   -- WRITE(10): taken, dropped
      return cmd:good()
   elseif op == 0x28 then
      local n = cmd:blocks() * lun.block_size
      if n ~= 0 or cmd.length ~= 0 then error(lunar.sense.invalid_field(7)) end
      cmd:data_in("", 0)
      return cmd:good()
   end
   error(lunar.sense.invalid_opcode())
end

return M
LUA
write_file lunar.yaml <<'YAML'
version: 1
luns:
  - name: echo
    transport: sim
    handler: echo.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

# BIDI: 16 bytes out, 16 back
cdb echo c1000000000000000000 --data-out-hex 00112233445566778899aabbccddeeff --read 16
expect_good
expect_data 00112233445566778899aabbccddeeff
expect_residual 0

# BIDI over several data area blocks (3 x 4KiB each way)
data=$(random_hex 12288)
cdb echo c1000000000000000000 --data-out-hex "$data" --read 12288
expect_good
expect_data "$data"

# a Data-In buffer larger than the echo: the rest reads as zeros, never
# as what an earlier command left in the data area
cdb echo 2a000000000000000010 --data-out-hex "$(printf 'ab%.0s' $(seq 8192))"
expect_good
cdb echo c1000000000000000000 --data-out-hex 00112233 --read 64
expect_good
expect_data "00112233$(zeros_hex 60)"

# without a Data-In buffer it is not BIDI: the handler refuses it
cdb echo c1000000000000000000 --data-out-hex 0011
expect_sense 5 24 00

# READ(10), transfer length 0, no buffer
cdb echo 28000000001000000000
expect_good
expect_data ""
expect_residual 0

# the same on hello.lua
write_file hello.yaml <<YAML
version: 1
luns:
  - name: hello
    transport: sim
    handler: $LUNAR_SOURCE_DIR/examples/hello.lua
    size: 1MiB
YAML
stop_lunar TERM
start_lunar "$TESTDIR/hello.yaml"
cdb hello 28000000001000000000
expect_good
expect_data ""
cdb hello 2a000000001000000000
expect_good
