-- cache.lua: a disk with a volatile write cache (docs/labs/06-cache.md).
--
-- The medium and the cache are C-owned memory (lunar.mem): they survive a
-- reload.  Which blocks of the cache are newer than the medium is a Lua
-- table: a reload loses it, as a power cut loses a cache's SRAM.
local ffi = require "ffi"
local lunar = require "lunar"
local M = {}
local dirty, ndirty = {}, 0      -- LBA -> true: in the cache, not on the medium yet

function M.open(lun, args)
   lun.medium = lunar.mem(lun, "medium", lun.size)
   lun.cache = lunar.mem(lun, "cache", lun.size)
end

function M.read(lun, cmd, offset, length)
   local bs = lun.block_size
   for lba = offset / bs, (offset + length) / bs - 1 do
      local src = dirty[lba] and lun.cache or lun.medium
      cmd:data_in(src + lba * bs, bs, lba * bs - offset)
   end
end

function M.write(lun, cmd, offset, length, durable)
   local bs = lun.block_size
   cmd:data_out(lun.cache + offset, length)
   for lba = offset / bs, (offset + length) / bs - 1 do
      if not dirty[lba] then dirty[lba], ndirty = true, ndirty + 1 end
   end
   if durable then
      lunar.log(lun, "durable write of %d blocks at LBA %d", length / bs, offset / bs)
   end
end

function M.flush(lun, cmd, offset, length)
   local bs = lun.block_size
   local first, last, n = offset / bs, (offset + length) / bs - 1, 0
   for lba in pairs(dirty) do
      if lba >= first and lba <= last then
         ffi.copy(lun.medium + lba * bs, lun.cache + lba * bs, bs)
         dirty[lba], n = nil, n + 1
      end
   end
   ndirty = ndirty - n
   lunar.log(lun, "flush: %d blocks to the medium, %d still in the cache", n, ndirty)
end

return M
