-- flaky.lua: a disk with bad blocks, for testing file systems and RAID.
--
-- A read that touches a bad block fails with 3/11/00 UNRECOVERED READ
-- ERROR and the first bad LBA in INFORMATION: Linux retries the blocks
-- before it and fails the rest, md reconstructs the block from the other
-- disks and writes it back.  A write to a bad block remaps it, as a drive
-- does with a pending sector, so that repair works.  VERIFY (BYTCHK=0,
-- a RAID scrub) reads through read() and finds the same bad blocks.
--
--   args:
--     bad: [[1000, 1007], 5000]   # LBAs, or [first, last] ranges
--     repair: false               # writes do not heal (default true)

local lunar = require "lunar"

local min, max, floor, huge = math.min, math.max, math.floor, math.huge

local M = {}

-- bad[lba] = true; lo..hi bounds them all, so most commands check nothing
local bad, lo, hi = {}, huge, -1

function M.open(lun, args)
   lun.ram = lunar.mem(lun, "ram", lun.size)
   lun.repair = args.repair ~= false
   local list = args.bad or {}
   if type(list) ~= "table" then error("flaky: args.bad must be a list", 0) end
   for _, v in ipairs(list) do
      local first, last = v, v
      if type(v) == "table" then first, last = v[1], v[2] end
      if type(first) ~= "number" or type(last) ~= "number" or first > last or
         last >= lun.blocks or last - first >= 1048576 then
         error("flaky: each entry of args.bad must be an LBA or [first, last] on the disk", 0)
      end
      for lba = first, last do bad[lba] = true end
      lo, hi = min(lo, first), max(hi, last)
   end
end

function M.read(lun, cmd, offset, length)
   local bs = lun.block_size
   local first = offset / bs
   local last = (offset + length - 1) / bs
   if last >= lo and first <= hi then
      for lba = max(first, lo), min(floor(last), hi) do
         if bad[lba] then error(lunar.sense.read_error(lba)) end
      end
   end
   cmd:data_in(lun.ram + offset, length)
end

function M.write(lun, cmd, offset, length)
   if lun.repair then
      local bs = lun.block_size
      for lba = max(offset / bs, lo), min((offset + length) / bs - 1, hi) do
         bad[lba] = nil
      end
   end
   cmd:data_out(lun.ram + offset, length)
end

return M
