-- tape.lua: a tape drive, written at the raw level.
--
-- Not every SCSI device is a disk.  command(lun, cmd) sees every CDB, so a
-- handler can be any device type; this one is a sequential-access device
-- (SSC, peripheral device type 1) in memory, in variable-block mode:
-- WRITE(6) appends a record, WRITE FILEMARKS(6) a filemark, REWIND goes
-- back, READ(6) returns the next record, and reading a filemark or the end
-- of the data is reported the way tapes do: sense with FILEMARK, EOM, ILI
-- bits and the residue in INFORMATION.  mt(1), tar and sg_raw work on it.
--
-- The tape is lun.size bytes of C-owned memory holding records as
-- [4-byte length][data]; a filemark is a length of FFFFFFFFh.  Writing
-- anywhere ends the data there, as on a tape.

local bit = require "bit"
local ffi = require "ffi"
local lunar = require "lunar"
local scsi = lunar.scsi

local band, bor = bit.band, bit.bor
local be16, be24, put_be32 = scsi.be16, scsi.be24, scsi.put_be32
local min = math.min

local M = {}

local FILEMARK = 0xffffffff
local inquiry = ffi.new("uint8_t[36]")
local resp = ffi.new("uint8_t[32]")
local tape                     -- uint8_t *: the medium
local pos, eod, object = 0, 0, 0   -- byte position, end of data, objects before pos

local function put_ascii(buf, off, len, s)
   ffi.fill(buf + off, len, 0x20)
   ffi.copy(buf + off, s, math.min(#s, len))
end

function M.open(lun, args)
   tape = lunar.mem(lun, "tape", lun.size)
   inquiry[0] = 0x01          -- sequential-access device
   inquiry[1] = 0x80          -- removable medium
   inquiry[2] = 0x06          -- SPC-4
   inquiry[3] = 0x02
   inquiry[4] = 36 - 5
   put_ascii(inquiry, 8, 8, args.vendor or "LUNAR")
   put_ascii(inquiry, 16, 16, args.product or "lunar tape")
   put_ascii(inquiry, 32, 4, "0001")
end

local function length_at(p)
   return tape[p] * 16777216 + tape[p + 1] * 65536 + tape[p + 2] * 256 + tape[p + 3]
end

-- Sense with the SSC bits of byte 2 (FILEMARK 0x80, EOM 0x40, ILI 0x20):
-- cmd:check answers, and the sense may still be touched until command()
-- returns.
local function check(cmd, key, asc, ascq, flags, info)
   -- (a negative residue, a record longer than asked for, is written as
   -- two's complement)
   cmd:check(key, asc, ascq, info)
   if not lunar.descriptor_sense() then cmd.sense[2] = bor(cmd.sense[2], flags) end
end

local function read6(lun, cmd)
   local cdb = cmd.cdb
   if band(cdb[1], 0x03) ~= 0 then error(lunar.sense.invalid_field(1, 0)) end   -- FIXED, SILI
   local want = be24(cdb, 2)
   if pos >= eod then
      return check(cmd, scsi.key.BLANK_CHECK, 0x00, 0x05, 0x40, want)   -- END-OF-DATA DETECTED
   end
   local len = length_at(pos)
   object = object + 1
   if len == FILEMARK then
      pos = pos + 4
      return check(cmd, scsi.key.NO_SENSE, 0x00, 0x01, 0x80, want)      -- FILEMARK DETECTED
   end
   cmd:data_in(tape + pos + 4, min(len, want))
   pos = pos + 4 + len
   if len ~= want then
      return check(cmd, scsi.key.NO_SENSE, 0x00, 0x00, 0x20, want - len)  -- ILI
   end
   return cmd:good()
end

local function append(lun, cmd, len, data)
   if pos + 4 + len > lun.size then
      return check(cmd, scsi.key.VOLUME_OVERFLOW, 0x00, 0x02, 0x40, len)  -- END-OF-PARTITION
   end
   put_be32(tape, pos, data and len or FILEMARK)
   if data then cmd:data_out(tape + pos + 4, len) end
   pos = pos + 4 + (data and len or 0)
   eod = pos
   object = object + 1
end

function M.command(lun, cmd)
   local cdb = cmd.cdb
   local op = cdb[0]
   if op == 0x00 then                                 -- TEST UNIT READY
      return cmd:good()
   elseif op == 0x12 then                             -- INQUIRY
      if cdb[1] ~= 0 or cdb[2] ~= 0 then error(lunar.sense.invalid_field(cdb[1] ~= 0 and 1 or 2)) end
      cmd:data_in(inquiry, min(36, be16(cdb, 3)))
      return cmd:good()
   elseif op == 0x03 then                             -- REQUEST SENSE: nothing pending
      ffi.fill(resp, 18)
      resp[0], resp[7] = 0x70, 0x0a
      cmd:data_in(resp, min(18, cdb[4]))
      return cmd:good()
   elseif op == 0x01 then                             -- REWIND
      pos, object = 0, 0
      return cmd:good()
   elseif op == 0x05 then                             -- READ BLOCK LIMITS
      ffi.fill(resp, 6)
      resp[1], resp[2], resp[3] = 0xff, 0xff, 0xff    -- up to 16 MiB - 1 per record
      resp[5] = 1
      cmd:data_in(resp, 6)
      return cmd:good()
   elseif op == 0x08 then                             -- READ(6)
      return read6(lun, cmd)
   elseif op == 0x0a then                             -- WRITE(6)
      if band(cdb[1], 0x01) ~= 0 then error(lunar.sense.invalid_field(1, 0)) end
      local len = be24(cdb, 2)
      if tonumber(cmd.length) ~= len then error(lunar.sense.invalid_field(2)) end
      append(lun, cmd, len, true)
      if cmd:is_answered() then return end
      return cmd:good()
   elseif op == 0x10 then                             -- WRITE FILEMARKS(6)
      for _ = 1, be24(cdb, 2) do
         append(lun, cmd, 0, false)
         if cmd:is_answered() then return end
      end
      if be24(cdb, 2) == 0 then eod = pos end        -- 0 filemarks: still ends the data
      return cmd:good()
   elseif op == 0x11 then                             -- SPACE(6): forward only
      local code, count = band(cdb[1], 0x07), be24(cdb, 2)
      if code == 3 then                               -- to the end of data
         while pos < eod do
            local len = length_at(pos)
            pos = pos + 4 + (len == FILEMARK and 0 or len)
            object = object + 1
         end
         return cmd:good()
      end
      if (code ~= 0 and code ~= 1) or count >= 0x800000 then
         error(lunar.sense.invalid_field(1, 2))      -- backwards: not in this example
      end
      local left = count
      while left > 0 do
         if pos >= eod then
            return check(cmd, scsi.key.BLANK_CHECK, 0x00, 0x05, 0x40, left)
         end
         local len = length_at(pos)
         pos = pos + 4 + (len == FILEMARK and 0 or len)
         object = object + 1
         if code == 1 and len == FILEMARK then left = left - 1
         elseif code == 0 then
            if len == FILEMARK then
               return check(cmd, scsi.key.NO_SENSE, 0x00, 0x01, 0x80, left)
            end
            left = left - 1
         end
      end
      return cmd:good()
   elseif op == 0x34 then                             -- READ POSITION, short form
      if band(cdb[1], 0x1f) ~= 0 then error(lunar.sense.invalid_field(1, 4)) end
      ffi.fill(resp, 20)
      if pos == 0 then resp[0] = 0x80 end              -- BOP
      put_be32(resp, 4, object)
      put_be32(resp, 8, object)
      cmd:data_in(resp, 20)
      return cmd:good()
   elseif op == 0x1a then                             -- MODE SENSE(6): header, block descriptor
      if band(cdb[2], 0x3f) ~= 0x3f and band(cdb[2], 0x3f) ~= 0 then
         error(lunar.sense.invalid_field(2, 5))
      end
      ffi.fill(resp, 12)
      resp[0], resp[2], resp[3] = 11, 0x10, 8          -- buffered mode 1; block length 0: variable
      cmd:data_in(resp, min(12, cdb[4]))
      return cmd:good()
   elseif op == 0x1e then                             -- PREVENT ALLOW MEDIUM REMOVAL
      return cmd:good()                              -- nothing to eject
   end
   error(lunar.sense.invalid_opcode())
end

return M
