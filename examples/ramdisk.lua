-- ramdisk.lua: a disk in memory, written at the disk level.
--
-- read and write are all a disk needs: lunar.disk answers INQUIRY, READ
-- CAPACITY, MODE SENSE, REQUEST SENSE, VERIFY, WRITE SAME, COMPARE AND
-- WRITE... and calls these with byte offsets into the medium.  Adding
-- unmap makes the LUN thin provisioned (UNMAP, WRITE SAME with UNMAP).
--
-- args (YAML): vendor, product, serial... (docs/disk.md)

local ffi = require "ffi"
local lunar = require "lunar"

local M = {}

function M.open(lun, args)
   lun.ram = lunar.mem(lun, "ram", lun.size)   -- C-owned: survives a reload
   lun.lbprz = true                            -- unmapped blocks read zeros
end

function M.read(lun, cmd, offset, length)
   cmd:data_in(lun.ram + offset, length)
end

function M.write(lun, cmd, offset, length)
   cmd:data_out(lun.ram + offset, length)
end

function M.unmap(lun, cmd, offset, length)
   ffi.fill(lun.ram + offset, length)
end

return M
