--- lunar.backend.null: writes vanish, reads are zeros.
--
-- A sink, as nbdkit's null plugin: for measuring the transport and
-- lunar.disk without a medium, and for LUNs of any size (nothing is
-- stored).  UNMAP and WRITE SAME are free; unmapped blocks read zeros,
-- as every block does (LBPRZ).

local M = {}

function M.open(lun, args)
   lun.lbprz = true
   lun.rotation_rate = 1
end

function M.read(lun, cmd, off, len)
   cmd:fill_in(0, len)
end

function M.write(lun, cmd, off, len) end

function M.unmap(lun, cmd, off, len) end

function M.write_same(lun, cmd, off, len) end

function M.resize(lun, old) end

function M.selftest()
   local disk = require "lunar.disk"
   local T = disk.T
   local lun = T.lun(2 ^ 40, 4096)                       -- 1 TiB, nothing stored
   M.open(lun, {})
   local d = disk.new(lun, M)
   assert(T.run(d, "2a000000000000000100", { out = string.rep("ff", 4096) }) == 0)
   local st, _, data = T.run(d, "28000000000000000100", { inlen = 4096 })
   assert(st == 0 and data == string.rep("00", 4096))
   -- WRITE SAME over 65535 blocks goes to write_same, not 65535 writes
   assert(T.run(d, "41000000000000ffff00", { out = string.rep("ff", 4096) }) == 0)
   local _, _, b2 = T.run(d, "1201b2ffff00")
   assert(b2 == "00b2000400e40200")
end

return M
