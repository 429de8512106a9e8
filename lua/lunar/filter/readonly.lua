--- lunar.filter.readonly: a write-protected LUN.
--
--    filters:
--      - filter: readonly
--
-- In front of a disk-level handler the disk itself becomes write
-- protected: MODE SENSE sets WP, every write (WRITE, WRITE AND VERIFY,
-- WRITE SAME, UNMAP, COMPARE AND WRITE) gets 7/27/00 DATA PROTECT, WRITE
-- PROTECTED.  In front of a raw handler the filter answers those commands
-- (and FORMAT UNIT) with 7/27/00 itself and sets WP in the MODE SENSE
-- answers the handler gives at once.

local ffi = require "ffi"
local bit = require "bit"
local filter = require "lunar.filter"

local M = {}

local DONE = 2

function M.new(lun, inner, args)
   if inner.disk then
      inner.disk:set_readonly(true)
      return {}
   end
   local writes = filter.ops({ "write", "write_same", "unmap", "compare_and_write" }, nil,
      "readonly filter")
   writes[0x04] = true                       -- FORMAT UNIT
   local icommand = inner.command
   local byte = ffi.new("uint8_t[1]")
   local f = {}
   function f.command(l, c)
      local op = c.cdb[0]
      if writes[op] then return c:check(7, 0x27, 0x00) end
      local r = icommand(l, c)
      -- WP is bit 7 of the device-specific parameter: header byte 2 of
      -- MODE SENSE(6), byte 3 of MODE SENSE(10)
      if (op == 0x1a or op == 0x5a) and c.state == DONE and c.status == 0 then
         local off = op == 0x1a and 2 or 3
         if c.xfer > off and c:data_out(byte, 1, off) == 1 then
            byte[0] = bit.bor(byte[0], 0x80)
            c:data_in(byte, 1, off)
         end
      end
      return r
   end
   return f
end

return M
