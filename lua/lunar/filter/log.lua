--- lunar.filter.log: one log line per command, decoded.
--
--    filters:
--      - filter: log
--        level: info        # error, warn, info (default), debug
--        ops: all           # classes (lunar.filter.CLASSES) or all (default)
--
--    disk0: WRITE(10) lba 2048 blocks 8: GOOD (21 us)
--    disk0: READ(16) lba 9000 blocks 1: CHECK CONDITION 5/21/00 (8 us)
--    disk0: UNMAP: deferred
--
-- The line is written when the handler behind returns: a command it
-- defers is logged as deferred.  Building a line per command allocates:
-- this filter is for looking, not for benchmarks.

local ffi = require "ffi"
local bit = require "bit"
local lunar = require "lunar"
local filter = require "lunar.filter"
local scsi = require "lunar.scsi"

local C = ffi.C
local format, tonumber, tostring, xpcall, error = string.format, tonumber, tostring, xpcall,
   error

local M = {}

local LEVELS = { error = true, warn = true, info = true, debug = true }
local STATUS = { [0] = "GOOD", [2] = "CHECK CONDITION", [4] = "CONDITION MET", [8] = "BUSY",
   [0x18] = "RESERVATION CONFLICT", [0x28] = "TASK SET FULL", [0x30] = "ACA ACTIVE",
   [0x40] = "TASK ABORTED" }

--- The command's name and what it addresses, e.g. "READ(10) lba 8 blocks 1".
function M.describe(c)
   local cdb = c.cdb
   local op = cdb[0]
   local name = filter.NAME[op]
   if op == 0x9e and bit.band(cdb[1], 0x1f) == 0x10 then
      name = "READ CAPACITY(16)"
   elseif op == 0xa3 and bit.band(cdb[1], 0x1f) == 0x0c then
      name = "REPORT SUPPORTED OPERATION CODES"
   end
   name = name or format("opcode 0x%02x", op)
   local lba, n = filter.range(cdb)
   if lba then return format("%s lba %.0f blocks %d", name, lba, n) end
   if op == 0x12 and bit.band(cdb[1], 1) == 1 then return format("%s VPD 0x%02x", name, cdb[2]) end
   return name
end

--- The answer, e.g. "CHECK CONDITION 5/24/00" (fixed or descriptor sense).
function M.outcome(c)
   local st = STATUS[c.status] or format("status 0x%02x", c.status)
   if c.status ~= 2 or c.sense_len < 4 then return st end
   local s = c.sense
   if bit.band(s[0], 0x7f) >= 0x72 then
      return format("%s %x/%02x/%02x", st, bit.band(s[1], 0xf), s[2], s[3])
   end
   return format("%s %x/%02x/%02x", st, bit.band(s[2], 0xf), s[12], s[13])
end

function M.new(lun, inner, args)
   local who = "log filter"
   local level = args.level or "info"
   if not LEVELS[level] then error(who .. ": 'level' must be error, warn, info or debug", 0) end
   local ops = filter.ops(args.ops, "all", who)
   local icommand = inner.command
   local msgh = filter.msgh
   local f = {}
   function f.command(l, c)
      if not ops[c.cdb[0]] then return icommand(l, c) end
      local t0 = C.lunar_now_ns()
      local ok, r = xpcall(icommand, msgh, l, c)
      local us = tonumber(C.lunar_now_ns() - t0) / 1000
      local what = M.describe(c)
      if not ok then
         lunar.log(l, level, "%s: raised %s", what, scsi.is_sense(r) and tostring(r) or "an error")
         error(r, 0)
      end
      if c.state == 1 then
         lunar.log(l, level, "%s: not answered", what)
      elseif c.state == 3 then
         lunar.log(l, level, "%s: deferred", what)
      else
         lunar.log(l, level, "%s: %s (%.0f us)", what, M.outcome(c), us)
      end
      return r
   end
   return f
end

return M
