--- lunar.cmd: the methods of a command (`struct lunar_cmd` cdata).
--
-- A handler gets `cmd`, a pointer to a C-owned slot.  Its fields (see
-- core/include/lunar/abi.h) are plain cdata fields: `cmd.cdb[0]`,
-- `cmd.cdb_len`, `cmd.dir`, `cmd.length`, `cmd.iovcnt`, `cmd.iov[i]`.
-- The methods below answer it and move data in and out of its buffers
-- without copying anything else: the iovecs point straight into the
-- transport's memory (the TCMU data area, a Xen guest's pages).

local ffi = require "ffi"
local bit = require "bit"
require "lunar.abi_cdef"
local scsi = require "lunar.scsi"

local C = ffi.C
local copy, fill, cast = ffi.copy, ffi.fill, ffi.cast
local band = bit.band
local min, tonumber, type = math.min, tonumber, type

local u8p = ffi.typeof("uint8_t *")
local cu8p = ffi.typeof("const uint8_t *")

local NEW, DONE, DEFERRED = 1, 2, 3
local DIR_OUT, DIR_BIDI = 2, 3
local CHECK_CONDITION = 2
local build_sense = scsi.build_sense

local M = {}

-- Sense format for sense this state builds: one state serves one LUN, so
-- this is the LUN's D_SENSE setting (lunar.disk keeps it in step).
local settings = { descriptor_sense = false }
M.settings = settings

local Cmd = {}
M.methods = Cmd

-- The answer is complete: a fresh command becomes DONE for the dispatcher;
-- a deferred one (or one the core already answered past its deadline)
-- goes back to the core.
local function answered(c)
   if c.state == NEW then
      c.state = DONE
   else
      C.lunar_cmd_complete(c)
   end
end

--- cmd:good([nbytes]) -- GOOD.  nbytes: Data-In bytes returned, when the
-- handler filled the buffer without cmd:data_in().
function Cmd.good(c, nbytes)
   c.status = 0
   if nbytes then c.xfer = nbytes end
   answered(c)
end

--- cmd:reply(st) -- any SAM status without sense (BUSY, TASK SET FULL,
-- RESERVATION CONFLICT...).
function Cmd.reply(c, st)
   c.status = st
   answered(c)
end

--- cmd:check(key, asc, ascq [, info [, sks0, sks1, sks2]]) -- CHECK
-- CONDITION with sense in the LUN's current format.
function Cmd.check(c, key, asc, ascq, info, sks0, sks1, sks2)
   c.sense_len = build_sense(c.sense, settings.descriptor_sense, key, asc, ascq, info,
      sks0, sks1, sks2)
   c.status = CHECK_CONDITION
   answered(c)
end

--- cmd:fail(e) -- CHECK CONDITION from a sense error object
-- (lunar.sense.*), the same as raising it.
function Cmd.fail(c, e)
   Cmd.check(c, e.key, e.asc, e.ascq, e.info, e.sks0, e.sks1, e.sks2)
end

--- cmd:defer() -- answer later: the slot stays valid until
-- cmd:good()/check()/status() is called (from a later batch or tick).
function Cmd.defer(c)
   c.state = DEFERRED
end

function Cmd.is_deferred(c)
   return c.state == DEFERRED
end

function Cmd.is_answered(c)
   return c.state == DONE
end

--- cmd:aborted() -- a task management function aborted this command.
function Cmd.aborted(c)
   return band(c.flags, 1) ~= 0
end

function Cmd.opcode(c)
   return c.cdb[0]
end

function Cmd.lba(c)
   return scsi.lba(c.cdb)
end

function Cmd.blocks(c)
   return scsi.transfer_length(c.cdb)
end

-- Copies between ptr and the iovecs [first, first+cnt) starting at byte
-- off of that buffer; returns the bytes copied.
local function iov_copy(c, first, cnt, ptr, len, off, into_iov)
   local iov = c.iov
   local done = 0
   for i = first, first + cnt - 1 do
      local v = iov[i]
      local vl = tonumber(v.iov_len)
      if off >= vl then
         off = off - vl
      else
         local n = min(vl - off, len - done)
         local base = cast(u8p, v.iov_base) + off
         if into_iov then
            copy(base, ptr + done, n)
         else
            copy(ptr + done, base, n)
         end
         done = done + n
         off = 0
         if done >= len then break end
      end
   end
   return done
end

local function iov_fill(c, first, cnt, byte, len, off)
   local iov = c.iov
   local done = 0
   for i = first, first + cnt - 1 do
      local v = iov[i]
      local vl = tonumber(v.iov_len)
      if off >= vl then
         off = off - vl
      else
         local n = min(vl - off, len - done)
         fill(cast(u8p, v.iov_base) + off, n, byte)
         done = done + n
         off = 0
         if done >= len then break end
      end
   end
   return done
end

-- The Data-In buffer: the whole buffer for a READ, the second part of a
-- BIDI command.  A Data-Out buffer is the initiator's data (on Xen, pages
-- mapped read-only): writing it is a handler bug, answered 4/44/00.
local function data_in_span(c)
   local dir = c.dir
   if dir == DIR_BIDI then
      return c.iovcnt, c.bidi_iovcnt, tonumber(c.bidi_length)
   elseif dir == DIR_OUT then
      error("Data-In for a command that has only a Data-Out buffer (CDB " ..
         scsi.hex(c.cdb, c.cdb_len) .. ")", 3)
   end
   return 0, c.iovcnt, tonumber(c.length)
end

--- cmd:data_in(src, len [, off]) -- copies len bytes from src (a pointer
-- or a string) into the Data-In buffer at byte off (default 0).  Data
-- beyond the buffer is dropped (the initiator asked for less).  Returns
-- the bytes copied.  Advances cmd.xfer, the Data-In length returned.
-- Raises an error for a command with only a Data-Out buffer.
function Cmd.data_in(c, src, len, off)
   -- len and off may be cdata (cmd.length is a uint64_t)
   len, off = tonumber(len), tonumber(off or 0)
   local first, cnt, total = data_in_span(c)
   if type(src) == "string" then src = cast(cu8p, src) end
   local n = iov_copy(c, first, cnt, src, min(len, total - off), off, true)
   if off + n > tonumber(c.xfer) then c.xfer = off + n end
   return n
end

--- cmd:fill_in(byte, len [, off]) -- like data_in with a constant byte.
function Cmd.fill_in(c, byte, len, off)
   -- len and off may be cdata (cmd.length is a uint64_t)
   len, off = tonumber(len), tonumber(off or 0)
   local first, cnt, total = data_in_span(c)
   local n = iov_fill(c, first, cnt, byte, min(len, total - off), off)
   if off + n > tonumber(c.xfer) then c.xfer = off + n end
   return n
end

--- cmd:data_out(dst, len [, off]) -- copies len bytes of the Data-Out
-- buffer, from byte off, into dst.  Returns the bytes copied (fewer when
-- the initiator sent less).  On a READ it reads back the Data-In buffer
-- (a filter checking what its handler answered).
function Cmd.data_out(c, dst, len, off)
   -- len and off may be cdata (cmd.length is a uint64_t)
   len, off = tonumber(len), tonumber(off or 0)
   local total = tonumber(c.length)
   if off >= total then return 0 end
   return iov_copy(c, 0, c.iovcnt, dst, min(len, total - off), off, false)
end

--- cmd:cdb_hex() -- the CDB as hex (for logs; allocates).
function Cmd.cdb_hex(c)
   return scsi.hex(c.cdb, c.cdb_len)
end

ffi.metatype("struct lunar_cmd", { __index = Cmd })

return M
