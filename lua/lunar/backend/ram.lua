--- lunar.backend.ram: a disk in memory.
--
--    handler: ram.lua      # return require "lunar.backend.ram"
--
-- The bytes live in C-owned memory (lunar.mem), not in the Lua state: they
-- survive a handler reload and do not count against lua_memory_limit.
-- The mapping is anonymous and sparse: memory is taken where written, and
-- UNMAP gives whole pages back (unmapped blocks read zeros: LBPRZ).

local ffi = require "ffi"
local lunar = require "lunar"
local lio = require "lunar.io"

local C = ffi.C
local fill, cast = ffi.fill, ffi.cast
local floor, min = math.floor, math.min

local M = {}

local PAGE = 4096

function M.open(lun, args)
   lun.ram = lunar.mem(lun, "ram", lun.size)
   lun.lbprz = true
   lun.rotation_rate = 1          -- non-rotating
end

-- A resized LUN: the region grows or shrinks where it is (lunar.mem).
function M.resize(lun, old)
   lun.ram = lunar.mem(lun, "ram", lun.size)
end

function M.read(lun, cmd, off, len)
   cmd:data_in(lun.ram + off, len)
end

function M.write(lun, cmd, off, len)
   cmd:data_out(lun.ram + off, len)
end

-- Zero the range; the whole pages inside it go back to the kernel (an
-- anonymous private mapping reads zeros after MADV_DONTNEED).
function M.unmap(lun, cmd, off, len)
   local base = lun.ram
   local first = floor((off + PAGE - 1) / PAGE) * PAGE
   local last = floor((off + len) / PAGE) * PAGE
   if last - first >= 16 * PAGE then
      fill(base + off, first - off)
      fill(base + last, off + len - last)
      if C.madvise(base + first, last - first, lio.MADV_DONTNEED) == 0 then return end
      fill(base + first, last - first)
   else
      fill(base + off, len)
   end
end

function M.selftest()
   local disk = require "lunar.disk"
   local T = disk.T
   -- no LUN in a selftest: lunar.mem's memory, page aligned, from mmap
   local size = 1024 * 1024
   pcall(ffi.cdef, "void *mmap(void *a, size_t n, int prot, int flags, int fd, int64_t off);")
   local p = ffi.cast("uint8_t *", C.mmap(nil, size, 3, 0x22, -1, 0))
   local lun = T.lun(size, 512)
   local mem = lunar.mem
   lunar.mem = function() return p end
   M.open(lun, {})
   lunar.mem = mem
   local d = disk.new(lun, M)
   -- 256 blocks of 0xab, then UNMAP of blocks 16..143 (64 KiB: the
   -- whole pages inside go back with MADV_DONTNEED)
   local st, _, data = T.run(d, "2a000000000000010000", { out = string.rep("ab", 131072) })
   assert(st == 0)
   st = T.run(d, "42000000000000001800", { out = "0016001000000000" .. "0000000000000010" ..
      "0000008000000000" })
   assert(st == 0)
   st, _, data = T.run(d, "28000000000000010000", { inlen = 131072 })
   assert(st == 0)
   assert(data == string.rep("ab", 16 * 512) .. string.rep("00", 128 * 512) ..
      string.rep("ab", 112 * 512))
   local _, _, b2 = T.run(d, "1201b2ffff00")
   assert(b2 == "00b2000400e40200")
   local _, _, b1 = T.run(d, "1201b1ffff00")
   assert(b1:sub(9, 12) == "0001")                -- non-rotating
end

return M
