--- lunar.scsi: SCSI constants, CDB field readers and sense data builders.
--
-- Everything here works on cdata byte pointers (a command's `cdb`, a
-- `sense` buffer, scratch buffers): no strings, no tables per call.
-- Numbers are Lua numbers (doubles): exact up to 2^53, which covers every
-- LBA and byte count a disk can have.

local ffi = require "ffi"
local bit = require "bit"

local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift
local floor = math.floor
local fill = ffi.fill

local M = {}

--- SAM status codes.
M.status = {
   GOOD = 0x00,
   CHECK_CONDITION = 0x02,
   CONDITION_MET = 0x04,
   BUSY = 0x08,
   RESERVATION_CONFLICT = 0x18,
   TASK_SET_FULL = 0x28,
   ACA_ACTIVE = 0x30,
   TASK_ABORTED = 0x40,
}

--- Sense keys.
M.key = {
   NO_SENSE = 0x0,
   RECOVERED_ERROR = 0x1,
   NOT_READY = 0x2,
   MEDIUM_ERROR = 0x3,
   HARDWARE_ERROR = 0x4,
   ILLEGAL_REQUEST = 0x5,
   UNIT_ATTENTION = 0x6,
   DATA_PROTECT = 0x7,
   BLANK_CHECK = 0x8,
   VENDOR_SPECIFIC = 0x9,
   COPY_ABORTED = 0xa,
   ABORTED_COMMAND = 0xb,
   VOLUME_OVERFLOW = 0xd,
   MISCOMPARE = 0xe,
}

--- Operation codes (SPC-4, SBC-3).
M.op = {
   TEST_UNIT_READY = 0x00,
   REQUEST_SENSE = 0x03,
   FORMAT_UNIT = 0x04,
   READ_6 = 0x08,
   WRITE_6 = 0x0a,
   INQUIRY = 0x12,
   MODE_SELECT_6 = 0x15,
   RESERVE_6 = 0x16,
   RELEASE_6 = 0x17,
   MODE_SENSE_6 = 0x1a,
   START_STOP_UNIT = 0x1b,
   SEND_DIAGNOSTIC = 0x1d,
   PREVENT_ALLOW = 0x1e,
   READ_CAPACITY_10 = 0x25,
   READ_10 = 0x28,
   WRITE_10 = 0x2a,
   WRITE_VERIFY_10 = 0x2e,
   VERIFY_10 = 0x2f,
   PRE_FETCH_10 = 0x34,
   SYNCHRONIZE_CACHE_10 = 0x35,
   WRITE_BUFFER = 0x3b,
   READ_BUFFER = 0x3c,
   WRITE_SAME_10 = 0x41,
   UNMAP = 0x42,
   LOG_SELECT = 0x4c,
   LOG_SENSE = 0x4d,
   MODE_SELECT_10 = 0x55,
   MODE_SENSE_10 = 0x5a,
   PERSISTENT_RESERVE_IN = 0x5e,
   PERSISTENT_RESERVE_OUT = 0x5f,
   VARIABLE_LENGTH = 0x7f,
   EXTENDED_COPY = 0x83,
   RECEIVE_COPY_RESULTS = 0x84,
   READ_16 = 0x88,
   COMPARE_AND_WRITE = 0x89,
   WRITE_16 = 0x8a,
   WRITE_VERIFY_16 = 0x8e,
   VERIFY_16 = 0x8f,
   PRE_FETCH_16 = 0x90,
   SYNCHRONIZE_CACHE_16 = 0x91,
   WRITE_SAME_16 = 0x93,
   SERVICE_ACTION_IN_16 = 0x9e,
   SERVICE_ACTION_OUT_16 = 0x9f,
   REPORT_LUNS = 0xa0,
   MAINTENANCE_IN = 0xa3,
   MAINTENANCE_OUT = 0xa4,
   READ_12 = 0xa8,
   WRITE_12 = 0xaa,
   WRITE_VERIFY_12 = 0xae,
   VERIFY_12 = 0xaf,
}

--- Service actions.
M.sa = {
   READ_CAPACITY_16 = 0x10,              -- SERVICE ACTION IN(16)
   GET_LBA_STATUS = 0x12,                -- SERVICE ACTION IN(16)
   REPORT_SUPPORTED_OPCODES = 0x0c,      -- MAINTENANCE IN
   REPORT_SUPPORTED_TMFS = 0x0d,         -- MAINTENANCE IN
   REPORT_TARGET_PORT_GROUPS = 0x0a,     -- MAINTENANCE IN
}

--- Peripheral device types (INQUIRY byte 0).
M.device = {
   DISK = 0x00,
   TAPE = 0x01,
   PRINTER = 0x02,
   PROCESSOR = 0x03,
   WORM = 0x04,
   CDROM = 0x05,
   OPTICAL = 0x07,
   CHANGER = 0x08,
   ENCLOSURE = 0x0d,
   NONE = 0x1f,
}

------------------------------------------------------------------------------
-- Big-endian readers and writers on byte pointers.

local function be16(p, off)
   return p[off] * 256 + p[off + 1]
end

local function be24(p, off)
   return p[off] * 65536 + p[off + 1] * 256 + p[off + 2]
end

local function be32(p, off)
   return p[off] * 16777216 + p[off + 1] * 65536 + p[off + 2] * 256 + p[off + 3]
end

local function be64(p, off)
   return be32(p, off) * 4294967296 + be32(p, off + 4)
end

local function put_be16(p, off, v)
   p[off] = band(rshift(v, 8), 0xff)
   p[off + 1] = band(v, 0xff)
end

local function put_be32(p, off, v)
   p[off] = band(rshift(v, 24), 0xff)
   p[off + 1] = band(rshift(v, 16), 0xff)
   p[off + 2] = band(rshift(v, 8), 0xff)
   p[off + 3] = band(v, 0xff)
end

local function put_be64(p, off, v)
   local hi = floor(v / 4294967296)
   put_be32(p, off, hi)
   put_be32(p, off + 4, v - hi * 4294967296)
end

M.be16, M.be24, M.be32, M.be64 = be16, be24, be32, be64
M.put_be16, M.put_be32, M.put_be64 = put_be16, put_be32, put_be64

------------------------------------------------------------------------------
-- CDB fields of the READ/WRITE family, by CDB size (opcode group).

--- Logical block address of a 6/10/12/16-byte READ/WRITE-style CDB.
function M.lba(cdb)
   local g = rshift(cdb[0], 5)
   if g == 0 then
      return band(cdb[1], 0x1f) * 65536 + cdb[2] * 256 + cdb[3]
   elseif g == 4 then
      return be64(cdb, 2)
   end
   return be32(cdb, 2)
end

--- Transfer length (in blocks) of a 6/10/12/16-byte READ/WRITE-style CDB.
-- For 6-byte CDBs the raw byte is returned: 0 means 256 only for READ(6)
-- and WRITE(6), which callers know.
function M.transfer_length(cdb)
   local g = rshift(cdb[0], 5)
   if g == 0 then
      return cdb[4]
   elseif g == 4 then
      return be32(cdb, 10)
   elseif g == 5 then
      return be32(cdb, 6)
   end
   return be16(cdb, 7)
end

--- Allocation length of INQUIRY, MODE SENSE, REPORT LUNS and friends.
function M.allocation_length(cdb)
   local op = cdb[0]
   if op == 0x12 or op == 0x1a or op == 0x03 then
      if op == 0x12 then return be16(cdb, 3) end
      return cdb[4]
   elseif op == 0x5a or op == 0x4d then
      return be16(cdb, 7)
   elseif op == 0x9e or op == 0x88 then
      return be32(cdb, 10)
   elseif op == 0xa0 or op == 0xa3 then
      return be32(cdb, 6)
   end
   return 0
end

------------------------------------------------------------------------------
-- Sense data.

--- Writes sense data into buf (at least 96 bytes) and returns its length.
-- desc: descriptor format (0x72) instead of fixed (0x70).
-- info: INFORMATION (an LBA, a byte offset) or nil.
-- sks0..2: sense-key specific bytes (sks0 has SKSV set) or nil.
function M.build_sense(buf, desc, key, asc, ascq, info, sks0, sks1, sks2)
   if desc then
      fill(buf, 8 + 12 + 8)
      buf[0] = 0x72
      buf[1] = key
      buf[2] = asc
      buf[3] = ascq
      local n = 8
      if info then
         buf[n] = 0x00
         buf[n + 1] = 0x0a
         buf[n + 2] = 0x80
         put_be64(buf, n + 4, info)
         n = n + 12
      end
      if sks0 then
         buf[n] = 0x02
         buf[n + 1] = 0x06
         buf[n + 4] = sks0
         buf[n + 5] = sks1
         buf[n + 6] = sks2
         n = n + 8
      end
      buf[7] = n - 8
      return n
   end
   fill(buf, 18)
   buf[0] = 0x70
   buf[2] = key
   -- INFORMATION has 32 bits in fixed format; VALID says it is meaningful
   if info and info < 4294967296 then
      buf[0] = 0xf0
      put_be32(buf, 3, info)
   end
   buf[7] = 0x0a
   buf[12] = asc
   buf[13] = ascq
   if sks0 then
      buf[15] = sks0
      buf[16] = sks1
      buf[17] = sks2
   end
   return 18
end

--- Sense-key specific bytes for ILLEGAL REQUEST: which byte (and bit) of
-- the CDB (cd = true) or of the parameter list (cd = false) is wrong.
function M.field_pointer(cd, byte, bitno)
   local sks0 = 0x80
   if cd then sks0 = bor(sks0, 0x40) end
   if bitno then sks0 = bor(sks0, 0x08, band(bitno, 7)) end
   return sks0, band(rshift(byte, 8), 0xff), band(byte, 0xff)
end

--- A sense error: raise it with error() from a handler and the command
-- ends in CHECK CONDITION with exactly this sense.
local Sense = {}
Sense.__index = Sense
Sense.__tostring = function(e)
   return string.format("sense %x/%02x/%02x%s", e.key, e.asc, e.ascq,
      e.info and string.format(" info=%d", e.info) or "")
end
M.Sense = Sense

function M.sense(key, asc, ascq, info, sks0, sks1, sks2)
   return setmetatable({ key = key, asc = asc or 0, ascq = ascq or 0, info = info,
      sks0 = sks0, sks1 = sks1, sks2 = sks2 }, Sense)
end

function M.is_sense(e)
   return getmetatable(e) == Sense
end

------------------------------------------------------------------------------

local function hex(p, n)
   local t = {}
   for i = 0, n - 1 do t[#t + 1] = string.format("%02x", p[i]) end
   return table.concat(t)
end
M.hex = hex

function M.selftest()
   local buf = ffi.new("uint8_t[96]")
   local K = M.key
   -- the encodings sg_decode_sense agrees with (../shared/reference)
   assert(M.build_sense(buf, false, K.ILLEGAL_REQUEST, 0x21, 0) == 18)
   assert(hex(buf, 18) == "700005000000000a00000000210000000000", hex(buf, 18))
   M.build_sense(buf, false, K.MISCOMPARE, 0x1d, 0, 0x1b)
   assert(hex(buf, 18) == "f0000e0000001b0a000000001d0000000000")
   assert(M.build_sense(buf, true, K.MISCOMPARE, 0x1d, 0, 0x1b) == 20)
   assert(hex(buf, 20) == "720e1d000000000c000a8000000000000000001b")
   M.build_sense(buf, false, K.ILLEGAL_REQUEST, 0x24, 0, nil, M.field_pointer(true, 2))
   assert(hex(buf, 18) == "700005000000000a00000000240000c00002")
   M.build_sense(buf, false, K.ILLEGAL_REQUEST, 0x24, 0, nil, M.field_pointer(true, 1, 4))
   assert(hex(buf, 18) == "700005000000000a00000000240000cc0001")
   -- a 64-bit INFORMATION does not fit fixed format: VALID stays clear
   M.build_sense(buf, false, K.MEDIUM_ERROR, 0x11, 0, 2 ^ 40)
   assert(buf[0] == 0x70 and buf[3] == 0)
   assert(M.build_sense(buf, true, K.MEDIUM_ERROR, 0x11, 0, 2 ^ 40) == 20)
   assert(M.be64(buf, 12) == 2 ^ 40)

   local cdb = ffi.new("uint8_t[16]")
   cdb[0] = 0x28; M.put_be32(cdb, 2, 0xfffffffe); M.put_be16(cdb, 7, 0x1234)
   assert(M.lba(cdb) == 0xfffffffe and M.transfer_length(cdb) == 0x1234)
   cdb[0] = 0x88; M.put_be64(cdb, 2, 2 ^ 52 + 7); M.put_be32(cdb, 10, 0x80000001)
   assert(M.lba(cdb) == 2 ^ 52 + 7 and M.transfer_length(cdb) == 0x80000001)
   cdb[0] = 0x08; cdb[1] = 0xff; cdb[2] = 0x12; cdb[3] = 0x34; cdb[4] = 0
   assert(M.lba(cdb) == 0x1f1234 and M.transfer_length(cdb) == 0)
   cdb[0] = 0xa8; M.put_be32(cdb, 2, 7); M.put_be32(cdb, 6, 65536)
   assert(M.lba(cdb) == 7 and M.transfer_length(cdb) == 65536)
   cdb[0] = 0x12; cdb[3] = 0x01; cdb[4] = 0x02
   assert(M.allocation_length(cdb) == 0x102)

   local e = M.sense(K.MEDIUM_ERROR, 0x11, 0, 5)
   assert(M.is_sense(e) and tostring(e) == "sense 3/11/00 info=5")
   assert(not M.is_sense({}))
end

return M
