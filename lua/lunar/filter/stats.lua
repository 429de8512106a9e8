--- lunar.filter.stats: counts per class of command, in the log.
--
--    filters:
--      - filter: stats
--        interval: 60      # seconds between summaries (default 0: at close only)
--
--    disk0: stats: read 120 cmds 960 blocks 0 errors; write 80 cmds 640 blocks 1 errors; ...
--
-- Counts commands, blocks and errors (CHECK CONDITION or another non-GOOD
-- status given at once) per class (lunar.filter.CLASSES), and the
-- handler's time for the commands it answers at once.  lun.stats holds the
-- numbers (lun.stats.read.commands...).  Counting allocates nothing.

local ffi = require "ffi"
local lunar = require "lunar"
local filter = require "lunar.filter"

local C = ffi.C
local tonumber, xpcall, error = tonumber, xpcall, error

local M = {}

local DONE = 2

--- One line: the classes that saw commands, in lunar.filter.CLASSES order.
function M.summary(stats)
   local parts = {}
   for _, k in ipairs(filter.CLASSES) do
      local s = stats[k]
      if s.commands > 0 then
         parts[#parts + 1] = string.format("%s %d cmds %d blocks %d errors", k, s.commands,
            s.blocks, s.errors)
      end
   end
   if #parts == 0 then return "no commands" end
   local t = stats.answered > 0 and stats.busy_ns / stats.answered / 1000 or 0
   return table.concat(parts, "; ") .. string.format("; %.1f us per command answered at once", t)
end

function M.new(lun, inner, args)
   local interval = filter.number(args, "interval", 0, 0, 86400 * 365, "stats filter")
   local stats = { answered = 0, busy_ns = 0 }
   for _, k in ipairs(filter.CLASSES) do stats[k] = { commands = 0, blocks = 0, errors = 0 } end
   lun.stats = stats
   local by_op = {}
   for op = 0, 255 do by_op[op] = stats[filter.CLASS[op]] end
   local icommand, itick, iclose = inner.command, inner.tick, inner.close
   local range, msgh = filter.range, filter.msgh
   -- The first report is scheduled by the first command: a wake-up asked
   -- for while the LUN is being set up is dropped when its worker starts.
   local next_report = 0

   local f = {}
   function f.command(l, c)
      local s = by_op[c.cdb[0]]
      local t0 = C.lunar_now_ns()
      if next_report == 0 and interval > 0 then
         next_report = tonumber(t0) + interval * 1e9
         C.lunar_wake_at(l.id, next_report)
      end
      local ok, r = xpcall(icommand, msgh, l, c)
      s.commands = s.commands + 1
      local _, n = range(c.cdb)
      if n then s.blocks = s.blocks + n end
      if not ok then
         -- a raised sense is a CHECK CONDITION to the initiator too
         s.errors = s.errors + 1
         error(r, 0)
      end
      if c.state == DONE then
         stats.answered = stats.answered + 1
         stats.busy_ns = stats.busy_ns + tonumber(C.lunar_now_ns() - t0)
         if c.status ~= 0 then s.errors = s.errors + 1 end
      end
      return r
   end
   function f.tick(l, now)
      if next_report > 0 then
         if now >= next_report then
            lunar.log(l, "info", "stats: %s", M.summary(stats))
            next_report = now + interval * 1e9
         end
         -- every tick asks again: one tick answers all requests, so an
         -- earlier one (another filter's) consumed ours
         C.lunar_wake_at(l.id, next_report)
      end
      if itick then itick(l, now) end
   end
   function f.close(l)
      lunar.log(l, "info", "stats: %s", M.summary(stats))
      if iclose then iclose(l) end
   end
   return f
end

return M
