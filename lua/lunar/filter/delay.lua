--- lunar.filter.delay: latency, without blocking the worker.
--
--    filters:
--      - filter: delay
--        ms: 10          # every selected command waits this long
--        max_ms: 50      # with max_ms: uniformly between ms and max_ms
--        ops: [read]     # classes (lunar.filter.CLASSES) or all (default)
--        seed: 42        # repeatable random delays
--
-- A selected command is deferred, and handed to the handler behind when
-- its time comes, from tick() (lunar.wake_at): meanwhile the worker serves
-- the other commands, so a slow READ does not hold up a TEST UNIT READY.
-- Commands that are due together go in the order they became due.

local ffi = require "ffi"
local lunar = require "lunar"
local filter = require "lunar.filter"
local set_status = require("lunar.cmd").methods.reply

local C = ffi.C
local random, tonumber = math.random, tonumber
local TASK_ABORTED = lunar.status.TASK_ABORTED

local M = {}

function M.new(lun, inner, args)
   local who = "delay filter"
   local ops = filter.ops(args.ops, "all", who)
   local ms = filter.number(args, "ms", 0, 0, 3600e3, who)
   local max_ms = filter.number(args, "max_ms", ms, ms, 3600e3, who)
   if args.seed ~= nil then math.randomseed(filter.number(args, "seed", 0, 0, 2 ^ 31, who)) end
   -- held commands by slot: at most queue_depth at once, arrays made now
   local nslots = lun.queue_depth or 128
   local held, due = {}, {}
   for s = 0, nslots - 1 do held[s], due[s] = false, 0 end
   local nheld = 0
   local icommand, itick, iabort = inner.command, inner.tick, inner.abort
   local run_held = filter.run_held

   local f = {}
   function f.command(l, c)
      if not ops[c.cdb[0]] then return icommand(l, c) end
      local wait = ms
      if max_ms > ms then wait = ms + random() * (max_ms - ms) end
      if wait <= 0 then return icommand(l, c) end
      local s = c.slot
      local t = tonumber(C.lunar_now_ns()) + wait * 1e6
      held[s], due[s] = c, t
      nheld = nheld + 1
      C.lunar_wake_at(l.id, t)
      c:defer()
   end

   function f.tick(l, now)
      while nheld > 0 do
         -- the earliest held command; run it if due
         local best, when = -1, 0
         for s = 0, nslots - 1 do
            if held[s] and (best < 0 or due[s] < when) then best, when = s, due[s] end
         end
         if when > now then
            C.lunar_wake_at(l.id, when)
            break
         end
         local c = held[best]
         held[best] = false
         nheld = nheld - 1
         run_held(icommand, l, c)
      end
      if itick then itick(l, now) end
   end

   function f.abort(l, c, tmr)
      local s = c.slot
      if held[s] == c then
         held[s] = false
         nheld = nheld - 1
         return set_status(c, TASK_ABORTED)
      end
      if iabort then iabort(l, c, tmr) end
   end

   return f
end

return M
