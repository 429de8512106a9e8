--- lunar.filter.error: fail chosen commands with a chosen sense.
--
--    filters:
--      - filter: error
--        ops: [read, write]     # classes (lunar.filter.CLASSES) or all; default read, write
--        lba: [1000, 1999]      # only commands touching these LBAs (or one LBA)
--        sense: 3/11/00         # K/ASC/ASCQ or [3, 0x11, 0]; default by class
--        status: 0x08           # or a SAM status without sense (BUSY, TASK SET FULL)
--        rate: 0.01             # probability per matching command (default 1)
--        after: 1000            # let the first N matching commands through
--        count: 5               # fail at most N commands
--        seed: 42               # repeatable rate draws
--
-- A failed command never reaches the handler.  The default sense is what
-- a failing disk reports: 3/11/00 UNRECOVERED READ ERROR for reads and
-- verifies, 3/0C/00 WRITE ERROR for writes, 4/44/00 otherwise; medium
-- errors carry the first bad LBA in INFORMATION (Linux then completes the
-- blocks before it).

local filter = require "lunar.filter"
local scsi = require "lunar.scsi"
local set_status = require("lunar.cmd").methods.reply

local max, random = math.max, math.random

local M = {}

local DEFAULT = {
   read = { 3, 0x11, 0x00 }, verify = { 3, 0x11, 0x00 }, write = { 3, 0x0c, 0x00 },
   write_same = { 3, 0x0c, 0x00 }, compare_and_write = { 3, 0x0c, 0x00 },
   unmap = { 3, 0x0c, 0x00 }, flush = { 3, 0x0c, 0x00 }, other = { 4, 0x44, 0x00 },
}

local function parse_sense(v)
   if type(v) == "string" then
      local k, a, q = v:match("^(%x+)/(%x+)/(%x+)$")
      if k then return { tonumber(k, 16), tonumber(a, 16), tonumber(q, 16) } end
   elseif type(v) == "table" and #v == 3 then
      local ok = true
      for i = 1, 3 do ok = ok and type(v[i]) == "number" and v[i] >= 0 and v[i] <= 255 end
      if ok and v[1] <= 15 then return { v[1], v[2], v[3] } end
   end
   error("error filter: 'sense' must be K/ASC/ASCQ in hex (3/11/00) or [K, ASC, ASCQ]", 0)
end

function M.new(lun, inner, args)
   local who = "error filter"
   local ops = filter.ops(args.ops, { "read", "write" }, who)
   local sense = args.sense ~= nil and parse_sense(args.sense) or nil
   local status = args.status ~= nil and filter.number(args, "status", 0, 1, 255, who) or nil
   local rate = filter.number(args, "rate", 1, 0, 1, who)
   local after = filter.number(args, "after", 0, 0, 2 ^ 53, who)
   local count = filter.number(args, "count", 2 ^ 53, 0, 2 ^ 53, who)
   if args.seed ~= nil then math.randomseed(filter.number(args, "seed", 0, 0, 2 ^ 31, who)) end
   local first, last
   if type(args.lba) == "number" then
      first, last = args.lba, args.lba
   elseif type(args.lba) == "table" and #args.lba == 2 and type(args.lba[1]) == "number" and
      type(args.lba[2]) == "number" and args.lba[1] <= args.lba[2] then
      first, last = args.lba[1], args.lba[2]
   elseif args.lba ~= nil then
      error(who .. ": 'lba' must be an LBA or [first, last]", 0)
   end
   -- the sense per opcode, resolved now
   local key, asc, ascq = {}, {}, {}
   for op = 0, 255 do
      local s = sense or DEFAULT[filter.CLASS[op]]
      key[op], asc[op], ascq[op] = s[1], s[2], s[3]
   end

   local icommand = inner.command
   local range = filter.range
   local seen, injected = 0, 0
   local f = {}
   function f.command(l, c)
      local op = c.cdb[0]
      if not ops[op] then return icommand(l, c) end
      local lba, n = range(c.cdb)
      if first and (not lba or n == 0 or lba > last or lba + n <= first) then
         return icommand(l, c)
      end
      seen = seen + 1
      if seen <= after or injected >= count or (rate < 1 and random() >= rate) then
         return icommand(l, c)
      end
      injected = injected + 1
      if status then return set_status(c, status) end
      local k = key[op]
      local info
      if k == 3 and lba then info = first and max(lba, first) or lba end
      return c:check(k, asc[op], ascq[op], info)
   end
   return f
end

return M
