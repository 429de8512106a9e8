--- lunar.filter: filters stacked in front of a handler, as nbdkit's are.
--
-- The YAML lists them per LUN, first = outermost (closest to the
-- initiator):
--
--    filters:
--      - filter: log
--      - filter: error
--        ops: [read]
--        lba: [1000, 1999]
--
-- A filter is a module lunar/filter/NAME.lua with
--
--    new(lun, inner, args) -> a table of the ops it changes
--
-- inner is what sits behind it (the next filter, or the handler as
-- lunar.dispatch runs it: command, tick, abort, reset, close, resize).
-- Whatever the returned table leaves out passes through to inner.  args
-- is the YAML item.  Filters work on commands, so they stand in front of
-- raw and disk handlers alike; inner.disk is the lunar.disk when the
-- handler is disk-level.

local ffi = require "ffi"
require "lunar.abi_cdef"
local set_status = require("lunar.cmd").methods.reply
local scsi = require "lunar.scsi"

local C = ffi.C
local xpcall, type, tostring, error = xpcall, type, tostring, error
local traceback = debug.traceback
local is_sense = scsi.is_sense
local be32, be64 = scsi.be32, scsi.be64

local NEW, DONE, DEFERRED = 1, 2, 3

local M = {}

--- The filters lunar ships (core/config.c knows the same names).
M.NAMES = { "delay", "error", "log", "readonly", "stats" }

local HOOKS = { "command", "tick", "abort", "reset", "close", "resize" }

------------------------------------------------------------------------------
-- Commands by class: what `ops:` selects, what log and stats count.

local CLASS, NAME = {}, {}
local function def(class, ops)
   for op, name in pairs(ops) do CLASS[op], NAME[op] = class, name end
end
def("read", { [0x08] = "READ(6)", [0x28] = "READ(10)", [0xa8] = "READ(12)",
   [0x88] = "READ(16)" })
def("write", { [0x0a] = "WRITE(6)", [0x2a] = "WRITE(10)", [0xaa] = "WRITE(12)",
   [0x8a] = "WRITE(16)", [0x2e] = "WRITE AND VERIFY(10)", [0xae] = "WRITE AND VERIFY(12)",
   [0x8e] = "WRITE AND VERIFY(16)" })
def("verify", { [0x2f] = "VERIFY(10)", [0xaf] = "VERIFY(12)", [0x8f] = "VERIFY(16)" })
def("flush", { [0x35] = "SYNCHRONIZE CACHE(10)", [0x91] = "SYNCHRONIZE CACHE(16)" })
def("unmap", { [0x42] = "UNMAP" })
def("write_same", { [0x41] = "WRITE SAME(10)", [0x93] = "WRITE SAME(16)" })
def("compare_and_write", { [0x89] = "COMPARE AND WRITE" })
def("other", { [0x00] = "TEST UNIT READY", [0x03] = "REQUEST SENSE", [0x04] = "FORMAT UNIT",
   [0x12] = "INQUIRY", [0x15] = "MODE SELECT(6)", [0x1a] = "MODE SENSE(6)",
   [0x1b] = "START STOP UNIT", [0x1e] = "PREVENT ALLOW MEDIUM REMOVAL",
   [0x25] = "READ CAPACITY(10)", [0x55] = "MODE SELECT(10)", [0x5a] = "MODE SENSE(10)",
   [0x5e] = "PERSISTENT RESERVE IN", [0x5f] = "PERSISTENT RESERVE OUT",
   [0x9e] = "SERVICE ACTION IN(16)", [0xa0] = "REPORT LUNS", [0xa3] = "MAINTENANCE IN" })
for op = 0, 255 do CLASS[op] = CLASS[op] or "other" end
M.CLASS, M.NAME = CLASS, NAME
M.CLASSES = { "read", "write", "verify", "flush", "unmap", "write_same",
   "compare_and_write", "other" }

--- filter.range(cdb) -- LBA and blocks of a command of a class that has
-- them (not unmap, not other); nil otherwise.
function M.range(cdb)
   local op = cdb[0]
   local class = CLASS[op]
   if class == "other" or class == "unmap" then return nil end
   if op == 0x89 then return be64(cdb, 2), cdb[13] end
   local n = scsi.transfer_length(cdb)
   if n == 0 and (op == 0x08 or op == 0x0a) then n = 256 end
   return scsi.lba(cdb), n
end

--- filter.ops(v, default, who) -- the opcodes selected by an `ops:`
-- value (a class name, a list of them, or "all"), as a [opcode] = true
-- table.
function M.ops(v, default, who)
   if v == nil then v = default end
   if type(v) == "string" then v = { v } end
   if type(v) ~= "table" then error(who .. ": 'ops' must be a class name or a list of them", 0) end
   local want = {}
   for _, name in ipairs(v) do
      local ok = name == "all"
      for _, k in ipairs(M.CLASSES) do ok = ok or k == name end
      if not ok then
         error(string.format("%s: unknown op class '%s' (all, %s)", who, tostring(name),
            table.concat(M.CLASSES, ", ")), 0)
      end
      want[name] = true
   end
   local set = {}
   for op = 0, 255 do set[op] = want.all == true or want[CLASS[op]] == true end
   return set
end

--- filter.number(args, key, default, lo, hi, who) -- a numeric argument.
function M.number(args, key, default, lo, hi, who)
   local v = args[key]
   if v == nil then return default end
   if type(v) ~= "number" or v < lo or v > hi then
      error(string.format("%s: '%s' must be a number from %s to %s, not %s", who, key,
         tostring(lo), tostring(hi), tostring(v)), 0)
   end
   return v
end

------------------------------------------------------------------------------
-- Answering a command later, as lunar.dispatch would have.

local function msgh(e)
   if is_sense(e) then return e end
   return traceback(tostring(e), 1)
end
M.msgh = msgh

--- filter.fail(lun, cmd, err) -- CHECK CONDITION for an error a handler
-- raised: the sense of a lunar.sense error, else 4/44/00 and a log line.
function M.fail(lun, c, e)
   if is_sense(e) then return c:fail(e) end
   C.lunar_log_cmd(lun.id, c, tostring(e))
   c:check(scsi.key.HARDWARE_ERROR, 0x44, 0x00)
end

--- filter.run_held(command, lun, cmd) -- runs command(lun, cmd) for a
-- command this filter deferred earlier (from tick()), with dispatch's
-- rules: an answer completes it, a deferral leaves it to the handler, an
-- error or no answer is CHECK CONDITION.
function M.run_held(command, lun, c)
   c.state = NEW
   local ok, r = xpcall(command, msgh, lun, c)
   local st = c.state
   if st == DEFERRED then return end          -- held again, by inner
   c.state = DEFERRED                         -- so the answer completes it
   if st == DONE then
      C.lunar_cmd_complete(c)
   elseif not ok then
      M.fail(lun, c, r)
   elseif type(r) == "number" and r ~= 2 then
      set_status(c, r)
   else
      M.fail(lun, c, "command() returned without answering")
   end
end

------------------------------------------------------------------------------

--- filter.chain(lun, top, list) -- wraps top in the filters of list (the
-- YAML's `filters:`), last one first, so that the first is outermost.
function M.chain(lun, top, list)
   if list == nil then return top end
   if type(list) ~= "table" then error("filters must be a list", 0) end
   for i = #list, 1, -1 do
      local spec = list[i]
      local name = type(spec) == "table" and spec.filter
      local known = false
      for _, n in ipairs(M.NAMES) do known = known or n == name end
      if not known then
         error(string.format("unknown filter '%s' (%s)", tostring(name),
            table.concat(M.NAMES, ", ")), 0)
      end
      local f = require("lunar.filter." .. name).new(lun, top, spec)
      for _, k in ipairs(HOOKS) do
         if f[k] == nil then f[k] = top[k] end
      end
      f.disk = top.disk
      top = f
   end
   return top
end

function M.selftest()
   local cmd_t = ffi.typeof("struct lunar_cmd")
   local c = cmd_t()
   -- classes and ranges
   c.cdb[0] = 0x28; scsi.put_be32(c.cdb, 2, 1000); scsi.put_be16(c.cdb, 7, 8)
   local lba, n = M.range(c.cdb)
   assert(CLASS[0x28] == "read" and lba == 1000 and n == 8)
   c.cdb[0] = 0x0a; c.cdb[1], c.cdb[2], c.cdb[3], c.cdb[4] = 0, 0, 7, 0
   lba, n = M.range(c.cdb)
   assert(lba == 7 and n == 256)
   c.cdb[0] = 0x89; scsi.put_be64(c.cdb, 2, 2 ^ 40); c.cdb[13] = 2
   lba, n = M.range(c.cdb)
   assert(lba == 2 ^ 40 and n == 2)
   c.cdb[0] = 0x12
   assert(M.range(c.cdb) == nil and NAME[0x12] == "INQUIRY" and CLASS[0xff] == "other")
   -- ops
   local s = M.ops({ "write", "unmap" }, nil, "t")
   assert(s[0x2a] and s[0x8e] and s[0x42] and not s[0x28] and not s[0x12])
   s = M.ops(nil, "all", "t")
   assert(s[0] and s[255])
   assert(not pcall(M.ops, { "wirte" }, nil, "t"))
   -- run_held: answered, deferred again, returned a status, raised
   local lun = { id = -1 }
   c.state = DEFERRED
   M.run_held(function(l, x) x:good() end, lun, c)
   assert(c.state == DEFERRED and c.status == 0)   -- completion refused: not a slot
   M.run_held(function(l, x) x:defer() end, lun, c)
   assert(c.state == DEFERRED)
   M.run_held(function() return 0x08 end, lun, c)
   assert(c.status == 0x08)
   M.run_held(function() error(scsi.sense(3, 0x11, 0, 9)) end, lun, c)
   assert(c.status == 2 and c.sense[12] == 0x11 and c.sense[6] == 9)
   M.run_held(function() error("boom") end, lun, c)
   assert(c.status == 2 and c.sense[12] == 0x44)
   -- chain: order and pass-through
   local seen = {}
   local inner = { command = function() seen[#seen + 1] = "inner" end, tick = function() end }
   package.loaded["lunar.filter.x1"] = { new = function(l, i)
      return { command = function(a, b) seen[#seen + 1] = "x1"; return i.command(a, b) end }
   end }
   local names = M.NAMES
   M.NAMES = { "x1" }
   local top = M.chain(lun, inner, { { filter = "x1" }, { filter = "x1" } })
   M.NAMES = names
   top.command(lun, c)
   assert(table.concat(seen, ",") == "x1,x1,inner" and top.tick == inner.tick)
   assert(not pcall(M.chain, lun, inner, { { filter = "nope" } }))
end

return M
