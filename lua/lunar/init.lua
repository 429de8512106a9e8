--- lunar: what a handler requires.
--
--    local lunar = require "lunar"
--
-- lunar.GOOD              status GOOD (a handler may `return lunar.GOOD`)
-- lunar.PASS              returned by command(): let the disk layer answer
-- lunar.sense.*           sense errors to raise with error()
-- lunar.scsi              constants, CDB fields, sense builders
-- lunar.mem(lun, name, n) C-owned memory that survives reloads
-- lunar.log(lun, ...)     a log line tagged with the LUN

local ffi = require "ffi"
require "lunar.abi_cdef"
local scsi = require "lunar.scsi"
local cmd = require "lunar.cmd"

local C = ffi.C
local K = scsi.key
local fp = scsi.field_pointer
local new_sense = scsi.sense

local lunar = {}

lunar.scsi = scsi
lunar.status = scsi.status
lunar.GOOD = 0
lunar.PASS = setmetatable({}, { __tostring = function() return "lunar.PASS" end })

--- Sense errors.  `error(lunar.sense.lba_out_of_range())` ends the command
-- in CHECK CONDITION with that sense; so does `cmd:fail(e)`.
local sense = {}
lunar.sense = sense

-- One builder per sense key: lunar.sense.MEDIUM_ERROR(0x11, 0x00 [, info])
for name, key in pairs(K) do
   sense[name] = function(asc, ascq, info)
      return new_sense(key, asc, ascq, info)
   end
end

--- 5/20/00 INVALID COMMAND OPERATION CODE (field pointer: byte 0).
function sense.invalid_opcode()
   return new_sense(K.ILLEGAL_REQUEST, 0x20, 0x00, nil, fp(true, 0))
end

--- 5/24/00 INVALID FIELD IN CDB, pointing at CDB byte (and bit).
function sense.invalid_field(byte, bitno)
   return new_sense(K.ILLEGAL_REQUEST, 0x24, 0x00, nil, fp(true, byte, bitno))
end

--- 5/26/00 INVALID FIELD IN PARAMETER LIST, pointing at a parameter byte.
function sense.invalid_param(byte, bitno)
   return new_sense(K.ILLEGAL_REQUEST, 0x26, 0x00, nil, fp(false, byte, bitno))
end

--- 5/1A/00 PARAMETER LIST LENGTH ERROR.
function sense.param_list_length()
   return new_sense(K.ILLEGAL_REQUEST, 0x1a, 0x00)
end

--- 5/21/00 LOGICAL BLOCK ADDRESS OUT OF RANGE.
function sense.lba_out_of_range()
   return new_sense(K.ILLEGAL_REQUEST, 0x21, 0x00)
end

--- 3/11/00 UNRECOVERED READ ERROR at lba.
function sense.read_error(lba)
   return new_sense(K.MEDIUM_ERROR, 0x11, 0x00, lba)
end

--- 3/0C/00 WRITE ERROR at lba.
function sense.write_error(lba)
   return new_sense(K.MEDIUM_ERROR, 0x0c, 0x00, lba)
end

--- E/1D/00 MISCOMPARE DURING VERIFY OPERATION, offset of the first
-- differing byte.
function sense.miscompare(offset)
   return new_sense(K.MISCOMPARE, 0x1d, 0x00, offset)
end

--- 7/27/00 WRITE PROTECTED.
function sense.write_protected()
   return new_sense(K.DATA_PROTECT, 0x27, 0x00)
end

--- 2/04/ascq LOGICAL UNIT NOT READY (ascq default 0x00).
function sense.not_ready(ascq)
   return new_sense(K.NOT_READY, 0x04, ascq or 0x00)
end

--- 4/44/00 INTERNAL TARGET FAILURE.
function sense.internal_failure()
   return new_sense(K.HARDWARE_ERROR, 0x44, 0x00)
end

lunar.is_sense = scsi.is_sense

--- lunar.descriptor_sense(on) -- build descriptor-format sense (0x72)
-- instead of fixed (0x70) for this LUN; returns the current setting.
function lunar.descriptor_sense(on)
   if on ~= nil then cmd.settings.descriptor_sense = on and true or false end
   return cmd.settings.descriptor_sense
end

--- lunar.mem(lun, name, size) -- C-owned, zero-filled memory of size bytes
-- (a uint8_t pointer).  The same name gives the same memory for the life
-- of the LUN, across handler reloads; another size resizes it in place
-- (the pointer does not change, new bytes read zeros).
function lunar.mem(lun, name, size)
   local p = C.lunar_mem(lun.id, name, size)
   if p == nil then
      error(string.format("lunar.mem(%q, %d): out of memory or address space", name, size), 2)
   end
   return ffi.cast("uint8_t *", p)
end

local levels = { error = 3, warn = 4, info = 6, debug = 7 }

--- lunar.log(lun, [level,] fmt, ...) -- level is "error", "warn", "info"
-- (default) or "debug".
function lunar.log(lun, level, fmt, ...)
   local l = levels[level]
   if not l then
      return lunar.log(lun, "info", level, fmt, ...)
   end
   C.lunar_log(lun.id, l, string.format(fmt, ...))
end

--- lunar.now_ns() -- CLOCK_MONOTONIC in nanoseconds (a Lua number).
function lunar.now_ns()
   return tonumber(C.lunar_now_ns())
end

--- lunar.wake_at(lun, ns) -- call the handler's tick(lun, now_ns) at
-- CLOCK_MONOTONIC time ns (or soon after); the earliest request wins.
function lunar.wake_at(lun, ns)
   C.lunar_wake_at(lun.id, ns)
end

--- The `lun` table a handler receives: name, id, size (bytes), block_size,
-- blocks, transport, handler (path), args; a handler may add fields.
function lunar.new_lun(info)
   return {
      name = info.name,
      id = info.id,
      size = info.size,
      block_size = info.block_size,
      blocks = info.blocks,
      transport = info.transport,
      handler = info.handler,
      queue_depth = info.queue_depth,
      args = info.args,
   }
end

return lunar
