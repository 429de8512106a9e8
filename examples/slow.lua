-- slow.lua: a disk in memory that takes its time, without blocking.
--
-- Each READ and WRITE moves its data at once but is answered args.ms
-- milliseconds later: the op defers the command and tick() answers it.
-- Meanwhile the LUN's worker serves other commands: latency, not a stall.
-- (The delay filter does the same in front of any handler; this shows how
-- a disk-level op defers.)
--
--   args: { ms: 20 }

local lunar = require "lunar"

local M = {}

local held, due = {}, {}       -- by slot: the command, when it is due
local nheld, nslots, ms = 0, 0, 20

function M.open(lun, args)
   lun.ram = lunar.mem(lun, "ram", lun.size)
   ms = args.ms or 20
   nslots = lun.queue_depth
   for s = 0, nslots - 1 do held[s], due[s] = false, 0 end
end

-- The op returns without answering: the disk leaves a deferred command to
-- whoever deferred it.  (A read's Data-In length is already set.)
local function hold(lun, cmd)
   local s = cmd.slot
   held[s], due[s] = cmd, lunar.now_ns() + ms * 1e6
   nheld = nheld + 1
   lunar.wake_at(lun, due[s])
   cmd:defer()
end

function M.read(lun, cmd, offset, length)
   cmd:data_in(lun.ram + offset, length)
   hold(lun, cmd)
end

function M.write(lun, cmd, offset, length)
   cmd:data_out(lun.ram + offset, length)
   hold(lun, cmd)
end

function M.tick(lun, now)
   local next_due
   for s = 0, nslots - 1 do
      local cmd = held[s]
      if cmd then
         if due[s] <= now then
            held[s] = false
            nheld = nheld - 1
            cmd:good()
         elseif not next_due or due[s] < next_due then
            next_due = due[s]
         end
      end
   end
   if next_due then lunar.wake_at(lun, next_due) end
end

return M
