--- lunar.backend.zero: a read-only disk of zeros.
--
-- Every block reads as zeros; there is no write op, so the LUN is write
-- protected (MODE SENSE WP, writes get 7/27/00).  Any size costs nothing:
-- useful for probing initiators and for LUNs past 2^32 blocks in tests.

local M = {}

function M.open(lun, args)
   lun.rotation_rate = 1
end

function M.read(lun, cmd, off, len)
   cmd:fill_in(0, len)
end

function M.resize(lun, old) end

function M.selftest()
   local disk = require "lunar.disk"
   local T = disk.T
   local lun = T.lun(2 ^ 33 * 512, 512)                  -- 2^33 blocks
   M.open(lun, {})
   local d = disk.new(lun, M)
   local st, _, data = T.run(d, "88000000000100000000000000010000", { inlen = 512 })
   assert(st == 0 and data == string.rep("00", 512))
   local sense
   st, sense = T.run(d, "8a000000000000000000000000010000", { out = string.rep("00", 512) })
   assert(st == 2 and sense:sub(1, 8) == "72072700", sense)   -- descriptor: > 2^32 blocks
   local _, _, ms = T.run(d, "1a003f000400")
   assert(ms:sub(5, 6) == "90")                                -- WP, DPOFUA
   require("lunar").descriptor_sense(false)
end

return M
