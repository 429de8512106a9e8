-- hello.lua: a disk written at the raw level, in one screen.
--
-- command(lun, cmd) sees every CDB.  This one answers INQUIRY with its own
-- vendor and product, TEST UNIT READY, READ CAPACITY(10), and READ(10) /
-- WRITE(10) on a RAM buffer held in C-owned memory (it survives a handler
-- reload).  Everything else gets 5/20/00 INVALID COMMAND OPERATION CODE.
--
-- args (config.yaml): vendor (8 chars), product (16 chars)

local bit = require "bit"
local ffi = require "ffi"
local lunar = require "lunar"
local scsi = lunar.scsi

local M = {}

local inquiry = ffi.new("uint8_t[36]")   -- built once, copied per INQUIRY
local capacity = ffi.new("uint8_t[8]")

local function put_ascii(buf, off, len, s)
   ffi.fill(buf + off, len, 0x20)
   ffi.copy(buf + off, s, math.min(#s, len))
end

function M.open(lun, args)
   lun.ram = lunar.mem(lun, "ram", lun.size)
   inquiry[0] = 0x00          -- direct access block device
   inquiry[2] = 0x06          -- SPC-4
   inquiry[3] = 0x02          -- response data format 2
   inquiry[4] = 36 - 5        -- additional length
   inquiry[7] = 0x02          -- CMDQUE
   put_ascii(inquiry, 8, 8, args.vendor or "LUNAR")
   put_ascii(inquiry, 16, 16, args.product or "hello disk")
   put_ascii(inquiry, 32, 4, "0001")
   scsi.put_be32(capacity, 0, math.min(lun.blocks - 1, 0xffffffff))
   scsi.put_be32(capacity, 4, lun.block_size)
end

local op = scsi.op

function M.command(lun, cmd)
   local code = cmd.cdb[0]
   if code == op.TEST_UNIT_READY then
      return cmd:good()
   elseif code == op.INQUIRY then
      if bit.band(cmd.cdb[1], 1) == 1 or cmd.cdb[2] ~= 0 then
         error(lunar.sense.invalid_field(cmd.cdb[1] ~= 0 and 1 or 2))  -- no VPD pages here
      end
      cmd:data_in(inquiry, math.min(36, scsi.be16(cmd.cdb, 3)))
      return cmd:good()
   elseif code == op.READ_CAPACITY_10 then
      cmd:data_in(capacity, 8)
      return cmd:good()
   elseif code == op.READ_10 or code == op.WRITE_10 then
      local lba, n = cmd:lba(), cmd:blocks()
      if lba + n > lun.blocks then error(lunar.sense.lba_out_of_range()) end
      local off, len = lba * lun.block_size, n * lun.block_size
      if code == op.READ_10 then
         cmd:data_in(lun.ram + off, len)
      else
         cmd:data_out(lun.ram + off, len)
      end
      return cmd:good()
   end
   error(lunar.sense.invalid_opcode())
end

return M
