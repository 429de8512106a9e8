--- lunar.disk: a SCSI disk (SPC-4/SBC-3) over a handler's read and write.
--
-- A handler that has `read` (and usually `write`) instead of `command` is
-- run through this module by lunar.dispatch: it answers INQUIRY and its
-- VPD pages, READ CAPACITY, MODE SENSE/SELECT, REQUEST SENSE, unit
-- attentions, REPORT LUNS, REPORT SUPPORTED OPERATION CODES, range and
-- field checks, and calls the handler's ops with byte offsets:
--
--    read(lun, cmd, offset, length)                 required
--    write(lun, cmd, offset, length, durable)       none: write protected
--    flush(lun, cmd, offset, length)                none: no volatile cache
--    unmap(lun, cmd, offset, length)                none: not thin
--    write_same(lun, cmd, offset, length)           none: emulated with write
--    compare_and_write(lun, cmd, offset, length, durable)  none: emulated
--
-- What the handler has is what the LUN advertises (docs/disk.md).
--
-- One table, SPEC below, lists every command with its CDB usage mask: it
-- drives REPORT SUPPORTED OPERATION CODES and the reserved-bit checks, so
-- the two cannot disagree.  Responses are built at open or into buffers
-- allocated at open: per command nothing allocates.

local ffi = require "ffi"
local bit = require "bit"
require "lunar.abi_cdef"
local lunar = require "lunar"
local scsi = require "lunar.scsi"
local lio = require "lunar.io"
local set_status = require("lunar.cmd").methods.reply

local C = ffi.C
local band, bor, bxor, bnot, rshift, lshift = bit.band, bit.bor, bit.bxor, bit.bnot, bit.rshift,
   bit.lshift
local copy, fill, cast = ffi.copy, ffi.fill, ffi.cast
local min, max, floor = math.min, math.max, math.floor
local tonumber, tostring, type, error, ipairs = tonumber, tostring, type, error, ipairs
local unpack, rawset = unpack, rawset
local be16, be24, be32, be64 = scsi.be16, scsi.be24, scsi.be32, scsi.be64
local put_be16, put_be32, put_be64 = scsi.put_be16, scsi.put_be32, scsi.put_be64
local fp = scsi.field_pointer
local build_sense = scsi.build_sense

local u8p = ffi.typeof("uint8_t *")
local u8arr = ffi.typeof("uint8_t[?]")
local cmd_t = ffi.typeof("struct lunar_cmd")
local iov_t = ffi.typeof("struct iovec[1]")

local NEW, DONE, DEFERRED = 1, 2, 3
local DIR_NONE, DIR_IN, DIR_OUT = 0, 1, 2
local K = scsi.key
local NO_SENSE, NOT_READY, ILLEGAL = K.NO_SENSE, K.NOT_READY, K.ILLEGAL_REQUEST
local UNIT_ATTENTION, DATA_PROTECT, MISCOMPARE = K.UNIT_ATTENTION, K.DATA_PROTECT, K.MISCOMPARE
local TWO32 = 4294967296

local M = {}

------------------------------------------------------------------------------
-- Answers.  cmd:check with a field pointer builds the sense in place: no
-- error object, no table.

local function invalid_field(c, byte, bitno)
   return c:check(ILLEGAL, 0x24, 0x00, nil, fp(true, byte, bitno))
end

local function invalid_param(c, byte, bitno)
   return c:check(ILLEGAL, 0x26, 0x00, nil, fp(false, byte, bitno))
end

local function lba_out_of_range(c)
   return c:check(ILLEGAL, 0x21, 0x00)
end

local function param_list_length(c)
   return c:check(ILLEGAL, 0x1a, 0x00)
end

-- The Data-Out buffer does not match what the CDB says: LIO's answer
-- (INVALID FIELD IN COMMAND INFORMATION UNIT).  TCMU passes such commands
-- through (iSCSI's expected length is the buffer), and cannot report a
-- Data-Out residual back, so the command is refused rather than cut.
local function bad_data_length(c)
   return c:check(ILLEGAL, 0x0e, 0x03)
end

local function miscompare(c, offset)
   return c:check(MISCOMPARE, 0x1d, 0x00, offset)
end

-- Most significant set bit of a byte: the bit pointer of a bad field.
local function top_bit(v)
   local b = 7
   while band(v, lshift(1, b)) == 0 do b = b - 1 end
   return b
end

-- True when [lba, lba + n) is not all on the medium.  LBAs are doubles:
-- above 2^53 they lose precision but stay far beyond any capacity.
local function out_of_range(d, lba, n)
   return lba > d.blocks or n > d.blocks - lba
end

------------------------------------------------------------------------------
-- Data-Out comparisons, straight on the iovecs.

-- First byte where Data-Out [off, off + len) differs from p, or -1.
local function iov_compare(c, off, p, len)
   local iov = c.iov
   local done = 0
   for i = 0, c.iovcnt - 1 do
      if done >= len then break end
      local v = iov[i]
      local vl = tonumber(v.iov_len)
      if off >= vl then
         off = off - vl
      else
         local n = min(vl - off, len - done)
         local base = cast(u8p, v.iov_base) + off
         if C.memcmp(base, p + done, n) ~= 0 then
            for j = 0, n - 1 do
               if base[j] ~= p[done + j] then return done + j end
            end
         end
         done = done + n
         off = 0
      end
   end
   return -1
end

------------------------------------------------------------------------------
-- The disk's own command.  To emulate a command with the handler's ops
-- (WRITE SAME with write, COMPARE AND WRITE with read and write, VERIFY
-- with read) the disk calls them with this scratch command, whose buffer
-- is the disk's bounce buffer (or the real command's iovecs).  It must be
-- completed at once: an op that defers it is a bug the disk reports.

local function scratch(d, c, dir, p, len)
   local s = d.s
   copy(s.cdb, c.cdb, 32)
   s.cdb_len, s.dir, s.state, s.status, s.sense_len = c.cdb_len, dir, NEW, 0, 0
   s.lun_id, s.tag, s.xfer = c.lun_id, c.tag, 0
   s.iov, s.iovcnt, s.length = d.s_iov, 1, len
   d.s_iov[0].iov_base = p
   d.s_iov[0].iov_len = len
   return s
end

-- After an op ran on the scratch command: true to go on; false when the
-- op failed it (its status and sense are now the real command's).
local function scratch_ok(d, c, what)
   local s = d.s
   local st = s.state
   if st == NEW or (st == DONE and s.status == 0) then return true end
   if st == DONE then
      copy(c.sense, s.sense, s.sense_len)
      c.sense_len = s.sense_len
      set_status(c, s.status)
      return false
   end
   error(what .. "() deferred a command lunar.disk issued itself to emulate " ..
      scsi.hex(c.cdb, 1) .. "h: such calls must complete at once (docs/disk.md)", 0)
end

local function scratch_read(d, lun, c, off, len)
   scratch(d, c, DIR_IN, d.bounce, len)
   d.read(lun, d.s, off, len)
   return scratch_ok(d, c, "read")
end

-- Writes len bytes from p (the bounce buffer) at off.
local function scratch_write(d, lun, c, p, off, len, durable)
   scratch(d, c, DIR_OUT, p, len)
   d.write(lun, d.s, off, len, durable)
   return scratch_ok(d, c, "write")
end

-- The real command's Data-Out, through the scratch command (so the real
-- one stays the disk's to finish).
local function scratch_write_through(d, lun, c, off, len)
   local s = scratch(d, c, DIR_OUT, nil, len)
   s.iov, s.iovcnt, s.length = c.iov, c.iovcnt, c.length
   d.write(lun, s, off, len, true)
   s.iov = d.s_iov
   return scratch_ok(d, c, "write")
end

local function scratch_flush(d, lun, c, off, len)
   scratch(d, c, DIR_NONE, nil, 0)
   d.flush(lun, d.s, off, len)
   return scratch_ok(d, c, "flush")
end

-- The end of a command that wrote: flush when it must be durable, answer
-- GOOD unless an op already answered or deferred it.
local function finish(d, lun, c, off, len, durable)
   if durable and d.flush and c.state == NEW then d.flush(lun, c, off, len) end
   if c.state == NEW then c:good() end
end

------------------------------------------------------------------------------
-- Unit attentions: a short queue, reported one per command (except
-- INQUIRY, REPORT LUNS and REQUEST SENSE) and cleared when reported.

local UA_MAX = 8

local function queue_ua(d, asc, ascq)
   if asc == 0x29 then d.ua_n = 0 end   -- a reset supersedes the rest
   for i = 1, d.ua_n do
      if d.ua_asc[i] == asc and d.ua_ascq[i] == ascq then return end
   end
   if d.ua_n == UA_MAX then return end
   d.ua_n = d.ua_n + 1
   d.ua_asc[d.ua_n], d.ua_ascq[d.ua_n] = asc, ascq
end

local function pop_ua(d)
   local asc, ascq = d.ua_asc[1], d.ua_ascq[1]
   for i = 2, d.ua_n do
      d.ua_asc[i - 1], d.ua_ascq[i - 1] = d.ua_asc[i], d.ua_ascq[i]
   end
   d.ua_n = d.ua_n - 1
   return asc, ascq
end

------------------------------------------------------------------------------
-- READ, WRITE, VERIFY, WRITE AND VERIFY.

local function do_read(d, lun, c, lba, n, lenbyte)
   if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   if d.max_transfer > 0 and n > d.max_transfer then return invalid_field(c, lenbyte) end
   -- a shorter Data-In buffer gets what fits; a longer one a residual
   local len = min(n * d.bs, tonumber(c.length))
   if len == 0 then return c:good() end
   c.xfer = len
   d.read(lun, c, lba * d.bs, len)
   if c.state == NEW then c:good() end
end

local function do_write(d, lun, c, lba, n, fua, lenbyte)
   if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   if d.max_transfer > 0 and n > d.max_transfer then return invalid_field(c, lenbyte) end
   local len = n * d.bs
   if tonumber(c.length) ~= len then return bad_data_length(c) end
   if len == 0 then return c:good() end
   local off = lba * d.bs
   local durable = fua or not d.wce
   d.write(lun, c, off, len, durable)
   if c.state ~= NEW then return end
   return finish(d, lun, c, off, len, durable)
end

-- Reads [lba, lba + n) in bounce-sized pieces; bytchk 1 compares them with
-- the Data-Out, 3 compares each block with the one Data-Out block, 0 only
-- reads (a medium check: a bad block fails the command).
local function verify_range(d, lun, c, lba, n, bytchk)
   local bs = d.bs
   local done = 0
   while done < n do
      local k = min(d.chunk_blocks, n - done)
      if not scratch_read(d, lun, c, (lba + done) * bs, k * bs) then return false end
      if bytchk == 1 then
         local m = iov_compare(c, done * bs, d.bounce, k * bs)
         if m >= 0 then
            miscompare(c, done * bs + m)
            return false
         end
      elseif bytchk == 3 then
         for j = 0, k - 1 do
            local m = iov_compare(c, 0, d.bounce + j * bs, bs)
            if m >= 0 then
               miscompare(c, (done + j) * bs + m)
               return false
            end
         end
      end
      done = done + k
   end
   return true
end

local function do_verify(d, lun, c, lba, n, lenbyte)
   local bytchk = band(rshift(c.cdb[1], 1), 3)
   if bytchk == 2 then return invalid_field(c, 1, 2) end
   if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   if d.max_transfer > 0 and n > d.max_transfer then return invalid_field(c, lenbyte) end
   local want = 0
   if n > 0 and bytchk == 1 then want = n * d.bs elseif n > 0 and bytchk == 3 then want = d.bs end
   if tonumber(c.length) ~= want then return bad_data_length(c) end
   if n > 0 and not verify_range(d, lun, c, lba, n, bytchk) then return end
   c:good()
end

local function do_write_verify(d, lun, c, lba, n, lenbyte)
   local bytchk = band(rshift(c.cdb[1], 1), 3)
   if bytchk > 1 then return invalid_field(c, 1, 2) end
   if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   if d.max_transfer > 0 and n > d.max_transfer then return invalid_field(c, lenbyte) end
   local len = n * d.bs
   if tonumber(c.length) ~= len then return bad_data_length(c) end
   if len == 0 then return c:good() end
   local off = lba * d.bs
   -- the data must be on the medium before it is verified
   if not scratch_write_through(d, lun, c, off, len) then return end
   if d.flush and d.wce and not scratch_flush(d, lun, c, off, len) then return end
   if not verify_range(d, lun, c, lba, n, bytchk) then return end
   c:good()
end

local function rw6(c)
   local cdb = c.cdb
   local n = cdb[4]
   if n == 0 then n = 256 end
   return band(cdb[1], 0x1f) * 65536 + cdb[2] * 256 + cdb[3], n
end

local function exec_read6(d, lun, c)
   local lba, n = rw6(c)
   return do_read(d, lun, c, lba, n, 4)
end

local function exec_read10(d, lun, c)
   local cdb = c.cdb
   return do_read(d, lun, c, be32(cdb, 2), be16(cdb, 7), 7)
end

local function exec_read12(d, lun, c)
   local cdb = c.cdb
   return do_read(d, lun, c, be32(cdb, 2), be32(cdb, 6), 6)
end

local function exec_read16(d, lun, c)
   local cdb = c.cdb
   return do_read(d, lun, c, be64(cdb, 2), be32(cdb, 10), 10)
end

local function exec_write6(d, lun, c)
   local lba, n = rw6(c)
   return do_write(d, lun, c, lba, n, false, 4)
end

local function exec_write10(d, lun, c)
   local cdb = c.cdb
   return do_write(d, lun, c, be32(cdb, 2), be16(cdb, 7), band(cdb[1], 0x08) ~= 0, 7)
end

local function exec_write12(d, lun, c)
   local cdb = c.cdb
   return do_write(d, lun, c, be32(cdb, 2), be32(cdb, 6), band(cdb[1], 0x08) ~= 0, 6)
end

local function exec_write16(d, lun, c)
   local cdb = c.cdb
   return do_write(d, lun, c, be64(cdb, 2), be32(cdb, 10), band(cdb[1], 0x08) ~= 0, 10)
end

local function exec_verify10(d, lun, c)
   local cdb = c.cdb
   return do_verify(d, lun, c, be32(cdb, 2), be16(cdb, 7), 7)
end

local function exec_verify12(d, lun, c)
   local cdb = c.cdb
   return do_verify(d, lun, c, be32(cdb, 2), be32(cdb, 6), 6)
end

local function exec_verify16(d, lun, c)
   local cdb = c.cdb
   return do_verify(d, lun, c, be64(cdb, 2), be32(cdb, 10), 10)
end

local function exec_wv10(d, lun, c)
   local cdb = c.cdb
   return do_write_verify(d, lun, c, be32(cdb, 2), be16(cdb, 7), 7)
end

local function exec_wv12(d, lun, c)
   local cdb = c.cdb
   return do_write_verify(d, lun, c, be32(cdb, 2), be32(cdb, 6), 6)
end

local function exec_wv16(d, lun, c)
   local cdb = c.cdb
   return do_write_verify(d, lun, c, be64(cdb, 2), be32(cdb, 10), 10)
end

------------------------------------------------------------------------------
-- SYNCHRONIZE CACHE, WRITE SAME, UNMAP, COMPARE AND WRITE.

local function do_sync(d, lun, c, lba, n)
   if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   if n == 0 then n = d.blocks - lba end   -- 0: to the end of the medium
   -- with the write cache off every write was flushed when it was made
   if d.flush and d.wce then d.flush(lun, c, lba * d.bs, n * d.bs) end
   if c.state == NEW then c:good() end
end

local function exec_sync10(d, lun, c)
   local cdb = c.cdb
   return do_sync(d, lun, c, be32(cdb, 2), be16(cdb, 7))
end

local function exec_sync16(d, lun, c)
   local cdb = c.cdb
   return do_sync(d, lun, c, be64(cdb, 2), be32(cdb, 10))
end

-- unmap() once per range, with the real command: it must complete at
-- once (it may be called several times for one UNMAP).  False when it
-- answered the command itself (an error).
local function call_unmap(d, lun, c, off, len)
   d.unmap(lun, c, off, len)
   local st = c.state
   if st == NEW then return true end
   if st == DEFERRED then
      error("unmap() deferred the command: unmap must complete at once (docs/disk.md)", 0)
   end
   return false
end

local function do_write_same(d, lun, c, lba, n, unmap, ndob, numbyte)
   if n == 0 then return invalid_field(c, numbyte) end   -- WSNZ=1
   if d.max_write_same > 0 and n > d.max_write_same then return invalid_field(c, numbyte) end
   local bs = d.bs
   if tonumber(c.length) ~= (ndob and 0 or bs) then return bad_data_length(c) end
   if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   local off, len = lba * bs, n * bs
   local zeros = ndob or iov_compare(c, 0, d.zero, bs) < 0
   -- Unmapping is writing only when unmapped blocks read back as this
   -- block: zeros with LBPRZ.  Otherwise the data is written.
   if unmap and zeros and d.lbprz then
      if not call_unmap(d, lun, c, off, len) then return end
      return finish(d, lun, c, off, len, false)
   end
   local durable = not d.wce
   if d.write_same then
      local src = c
      if ndob then src = scratch(d, c, DIR_OUT, d.zero, bs) end
      d.write_same(lun, src, off, len)
      if ndob then
         if not scratch_ok(d, c, "write_same") then return end
      elseif c.state ~= NEW then
         return
      end
      return finish(d, lun, c, off, len, durable)
   end
   -- emulated: the block repeated across the bounce buffer, written in
   -- bounce-sized pieces
   local b = d.bounce
   local chunk = min(d.chunk_blocks, n) * bs
   if ndob then
      fill(b, chunk)
   else
      c:data_out(b, bs)
      local have = bs
      while have < chunk do
         local k = min(have, chunk - have)
         copy(b + have, b, k)
         have = have + k
      end
   end
   local done = 0
   while done < len do
      local k = min(chunk, len - done)
      if not scratch_write(d, lun, c, b, off + done, k, false) then return end
      done = done + k
   end
   return finish(d, lun, c, off, len, durable)
end

local function exec_ws10(d, lun, c)
   local cdb = c.cdb
   return do_write_same(d, lun, c, be32(cdb, 2), be16(cdb, 7), band(cdb[1], 0x08) ~= 0,
      false, 7)
end

local function exec_ws16(d, lun, c)
   local cdb = c.cdb
   return do_write_same(d, lun, c, be64(cdb, 2), be32(cdb, 10), band(cdb[1], 0x08) ~= 0,
      band(cdb[1], 0x01) ~= 0, 10)
end

local function exec_unmap(d, lun, c)
   local pll = be16(c.cdb, 7)
   if pll == 0 then return c:good() end
   if pll < 8 then return param_list_length(c) end
   if tonumber(c.length) < pll then return invalid_field(c, 7) end
   local p = d.param
   c:data_out(p, pll)
   -- a BLOCK DESCRIPTOR DATA LENGTH past the list is ignored (as LIO
   -- does); an incomplete last descriptor is ignored (SBC-3)
   local bdl = min(be16(p, 2), pll - 8)
   local nd = floor(bdl / 16)
   if nd > d.max_unmap_descriptors then return invalid_param(c, 2) end
   -- every descriptor is checked before any is carried out
   for i = 0, nd - 1 do
      local o = 8 + 16 * i
      local lba, n = be64(p, o), be32(p, o + 8)
      if n > d.max_unmap then return invalid_param(c, o + 8) end
      if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   end
   local bs = d.bs
   for i = 0, nd - 1 do
      local o = 8 + 16 * i
      local n = be32(p, o + 8)
      if n > 0 and not call_unmap(d, lun, c, be64(p, o) * bs, n * bs) then return end
   end
   if c.state == NEW then c:good() end
end

local function exec_caw(d, lun, c)
   local cdb = c.cdb
   local lba, n = be64(cdb, 2), cdb[13]
   if n > d.max_compare_and_write then return invalid_field(c, 13) end
   if out_of_range(d, lba, n) then return lba_out_of_range(c) end
   local bs = d.bs
   local len = n * bs
   -- NoLB 0 with data: the field disagrees with what was sent (libiscsi
   -- asks for 256 blocks, which a byte holds as 0, and expects 5/24/00)
   if n == 0 then
      if tonumber(c.length) ~= 0 then return invalid_field(c, 13) end
      return c:good()
   end
   if tonumber(c.length) ~= 2 * len then return bad_data_length(c) end
   local off = lba * bs
   local durable = band(cdb[1], 0x08) ~= 0 or not d.wce
   if d.compare_and_write then
      d.compare_and_write(lun, c, off, len, durable)
      if c.state ~= NEW then return end
      return finish(d, lun, c, off, len, durable)
   end
   -- Emulated: read, compare, write, all before this call returns.  The
   -- LUN's worker runs one command at a time, so nothing else touches
   -- these blocks meanwhile (for ops that complete at once).
   if not scratch_read(d, lun, c, off, len) then return end
   local m = iov_compare(c, 0, d.bounce, len)
   if m >= 0 then return miscompare(c, m) end
   c:data_out(d.bounce, len, len)
   if not scratch_write(d, lun, c, d.bounce, off, len, durable) then return end
   return finish(d, lun, c, off, len, durable)
end

------------------------------------------------------------------------------
-- TEST UNIT READY, REQUEST SENSE, START STOP UNIT, READ CAPACITY,
-- REPORT LUNS, INQUIRY.

local function exec_tur(d, lun, c)
   if d.stopped then return c:check(NOT_READY, 0x04, 0x02) end
   c:good()
end

local function exec_request_sense(d, lun, c)
   local desc = band(c.cdb[1], 1) ~= 0
   local buf = d.resp
   local n
   if d.ua_n > 0 then
      local asc, ascq = pop_ua(d)
      n = build_sense(buf, desc, UNIT_ATTENTION, asc, ascq)
   elseif d.stopped then
      n = build_sense(buf, desc, NOT_READY, 0x04, 0x02)
   else
      n = build_sense(buf, desc, NO_SENSE, 0x00, 0x00)
   end
   c:data_in(buf, min(c.cdb[4], n))
   c:good()
end

-- POWER CONDITION values a disk without power condition pages may take
-- as no-ops: ACTIVE, IDLE, STANDBY, LU_CONTROL, FORCE_IDLE_0, FORCE_STANDBY_0.
local POWER_NOOP = { [1] = true, [2] = true, [3] = true, [7] = true, [0xa] = true, [0xb] = true }

local function exec_start_stop(d, lun, c)
   local b4 = c.cdb[4]
   local pc = rshift(b4, 4)
   if pc ~= 0 then
      if not POWER_NOOP[pc] then return invalid_field(c, 4, 7) end
      return c:good()
   end
   if band(b4, 1) == 1 then
      d.stopped = false
   else
      -- LOEJ means nothing to a fixed disk; stopping flushes unless NO_FLUSH
      d.stopped = true
      if band(b4, 4) == 0 and d.flush and d.wce then d.flush(lun, c, 0, d.blocks * d.bs) end
   end
   if c.state == NEW then c:good() end
end

-- PMI=0 with an LBA is invalid (SBC-3: the LBA field is only for PMI=1).
local function exec_rc10(d, lun, c)
   local cdb = c.cdb
   if band(cdb[8], 1) == 0 and be32(cdb, 2) ~= 0 then return invalid_field(c, 2) end
   local buf = d.resp
   local last = d.blocks - 1
   put_be32(buf, 0, last >= TWO32 and 0xffffffff or last)
   put_be32(buf, 4, d.bs)
   c:data_in(buf, 8)
   c:good()
end

local function exec_rc16(d, lun, c)
   local cdb = c.cdb
   if band(cdb[14], 1) == 0 and be64(cdb, 2) ~= 0 then return invalid_field(c, 2) end
   local buf = d.resp
   fill(buf, 32)
   put_be64(buf, 0, d.blocks - 1)
   put_be32(buf, 8, d.bs)
   if d.unmap then buf[14] = d.lbprz and 0xc0 or 0x80 end   -- LBPME, LBPRZ
   c:data_in(buf, min(be32(cdb, 10), 32))
   c:good()
end

-- One LUN, LUN 0 (the transport maps it): under TCMU the kernel answers
-- REPORT LUNS itself; sim and Xen send it here.
local function exec_report_luns(d, lun, c)
   local cdb = c.cdb
   local sel = cdb[2]
   if sel > 2 then return invalid_field(c, 2) end
   local buf = d.resp
   fill(buf, 16)
   local n = 8
   if sel ~= 1 then   -- 1: well known logical units only (none)
      put_be32(buf, 0, 8)
      n = 16
   end
   c:data_in(buf, min(be32(cdb, 6), n))
   c:good()
end

local function build_b0(d)
   local b = d.resp
   fill(b, 64)
   b[1], b[3] = 0xb0, 0x3c
   b[4] = 0x01                                       -- WSNZ
   if not d.wp_fixed then b[5] = d.max_compare_and_write end
   -- the transport's limit (TCMU hw_max_sectors) when the YAML sets none
   put_be32(b, 8, d.max_transfer > 0 and d.max_transfer or d.lun.max_sectors or 0)
   if d.unmap then
      put_be32(b, 20, d.max_unmap)
      put_be32(b, 24, d.max_unmap_descriptors)
      put_be32(b, 28, d.unmap_granularity)
   end
   put_be64(b, 36, d.max_write_same)
   return b, 64
end

local function exec_inquiry(d, lun, c)
   local cdb = c.cdb
   local alloc = be16(cdb, 3)
   if band(cdb[1], 1) == 0 then
      if cdb[2] ~= 0 then return invalid_field(c, 2) end
      c:data_in(d.inq, min(alloc, 96))
      return c:good()
   end
   local page = cdb[2]
   local b, n
   if page == 0xb0 then
      -- built per request: lun.max_sectors may arrive from the transport
      b, n = build_b0(d)
   else
      b, n = d.vpd_buf[page], d.vpd_len[page]
      if not b then return invalid_field(c, 2) end
   end
   c:data_in(b, min(alloc, n))
   c:good()
end

------------------------------------------------------------------------------
-- MODE SENSE and MODE SELECT.  Pages live as byte arrays (header
-- included): current values, changeable masks, defaults.

local PAGES = { 0x01, 0x08, 0x0a, 0x1c }   -- in the order all-pages returns them

local function apply_mode(d)
   local caching, control = d.mode_cur[0x08], d.mode_cur[0x0a]
   d.wce = band(caching[2], 0x04) ~= 0
   d.dsense = band(control[2], 0x04) ~= 0
   d.swp = band(control[4], 0x08) ~= 0
   d.wp = d.wp_fixed or d.swp
   lunar.descriptor_sense(d.dsense)
end

local function put_page(d, buf, n, page, pc)
   local src = (pc == 0 and d.mode_cur or pc == 1 and d.mode_chg or d.mode_def)[page]
   local len = src[1] + 2
   copy(buf + n, src, len)
   return n + len
end

local function mode_sense(d, c, ten)
   local cdb = c.cdb
   local dbd = band(cdb[1], 0x08) ~= 0
   local llbaa = ten and band(cdb[1], 0x10) ~= 0
   local pc, page, sub = rshift(cdb[2], 6), band(cdb[2], 0x3f), cdb[3]
   if pc == 3 then return c:check(ILLEGAL, 0x39, 0x00) end   -- no saved pages
   if page ~= 0x3f and not d.mode_cur[page] then return invalid_field(c, 2, 5) end
   if sub ~= 0 and sub ~= 0xff then return invalid_field(c, 3) end   -- no subpages
   local buf = d.resp
   fill(buf, 128)
   local n = ten and 8 or 4
   local bdl = 0
   if not dbd then
      bdl = llbaa and 16 or 8
      if pc ~= 1 then   -- nothing in it is changeable
         if llbaa then
            put_be64(buf, n, d.blocks)
            put_be32(buf, n + 12, d.bs)
         else
            put_be32(buf, n, d.blocks >= TWO32 and 0xffffffff or d.blocks)
            put_be32(buf, n + 4, d.bs)   -- byte 4 is reserved: bs < 2^24
         end
      end
      n = n + bdl
   end
   if page == 0x3f then
      for i = 1, #PAGES do n = put_page(d, buf, n, PAGES[i], pc) end
   else
      n = put_page(d, buf, n, page, pc)
   end
   local dsp = 0x10                      -- DPOFUA: DPO and FUA are honoured
   if d.wp then dsp = 0x90 end           -- WP
   if ten then
      put_be16(buf, 0, n - 2)
      buf[3] = dsp
      if bdl == 16 then buf[4] = 0x01 end   -- LONGLBA
      put_be16(buf, 6, bdl)
      c:data_in(buf, min(be16(cdb, 7), n))
   else
      buf[0] = n - 1
      buf[2] = dsp
      buf[3] = bdl
      c:data_in(buf, min(cdb[4], n))
   end
   c:good()
end

local function exec_mode_sense6(d, lun, c)
   return mode_sense(d, c, false)
end

local function exec_mode_sense10(d, lun, c)
   return mode_sense(d, c, true)
end

-- Checks every page of the list (hl: header length, o: first page) and
-- applies them only if all are valid.
local function mode_select(d, lun, c, ten)
   local cdb = c.cdb
   if band(cdb[1], 0x10) == 0 then return invalid_field(c, 1, 4) end   -- PF=0: vendor format
   if band(cdb[1], 0x01) ~= 0 then return c:check(ILLEGAL, 0x39, 0x00) end   -- SP: no saving
   local pll = ten and be16(cdb, 7) or cdb[4]
   if pll == 0 then return c:good() end
   local hl = ten and 8 or 4
   if pll < hl then return param_list_length(c) end
   if tonumber(c.length) < pll then return invalid_field(c, ten and 7 or 4) end
   local p = d.param
   c:data_out(p, pll)
   local bdl = ten and be16(p, 6) or p[3]
   if hl + bdl > pll then return param_list_length(c) end
   if bdl ~= 0 then
      -- one descriptor that must describe the medium as it is
      local long = ten and band(p[4], 0x01) ~= 0
      if bdl ~= (long and 16 or 8) then return invalid_param(c, ten and 6 or 3) end
      local nb = long and be64(p, hl) or be32(p, hl)
      local cap = long and d.blocks or min(d.blocks, 0xffffffff)
      if nb ~= 0 and nb ~= cap then return invalid_param(c, hl) end
      local bl = long and be32(p, hl + 12) or be24(p, hl + 5)
      if bl ~= d.bs then return invalid_param(c, long and hl + 12 or hl + 5) end
   end
   local first = hl + bdl
   local o = first
   while o < pll do
      if pll - o < 2 then return param_list_length(c) end
      if band(p[o], 0x40) ~= 0 then return invalid_param(c, o, 6) end   -- SPF: no subpages
      local page = band(p[o], 0x3f)
      local cur, chg = d.mode_cur[page], d.mode_chg[page]
      if not cur then return invalid_param(c, o, 5) end
      local plen = p[o + 1]
      if plen ~= cur[1] then return invalid_param(c, o + 1) end
      if o + 2 + plen > pll then return param_list_length(c) end
      for i = 2, plen + 1 do
         local diff = band(bxor(p[o + i], cur[i]), bnot(chg[i]))
         if diff ~= 0 then return invalid_param(c, o + i, top_bit(diff)) end
      end
      o = o + 2 + plen
   end
   local was_wce, changed = d.wce, false
   o = first
   while o < pll do
      local page = band(p[o], 0x3f)
      local cur, chg = d.mode_cur[page], d.mode_chg[page]
      for i = 2, cur[1] + 1 do
         local v = bor(band(cur[i], bnot(chg[i])), band(p[o + i], chg[i]))
         if v ~= cur[i] then
            cur[i] = v
            changed = true
         end
      end
      o = o + 2 + cur[1]
   end
   if changed then
      apply_mode(d)
      -- SPC-4 gives 2A/01 to the *other* I_T nexuses; the disk cannot tell
      -- them apart, so it is posted only when asked for (mode_change_ua)
      if d.mode_change_ua then queue_ua(d, 0x2a, 0x01) end
      -- turning the cache off writes back what it held
      if was_wce and not d.wce and d.flush then d.flush(lun, c, 0, d.blocks * d.bs) end
   end
   if c.state == NEW then c:good() end
end

local function exec_mode_select6(d, lun, c)
   return mode_select(d, lun, c, false)
end

local function exec_mode_select10(d, lun, c)
   return mode_select(d, lun, c, true)
end

------------------------------------------------------------------------------
-- REPORT SUPPORTED OPERATION CODES.

local function put_timeouts(buf, n)
   fill(buf + n, 12)
   put_be16(buf, n, 0x0a)   -- nominal and recommended timeouts 0: not specified
   return n + 12
end

local function exec_rsoc(d, lun, c)
   local cdb = c.cdb
   local rctd = band(cdb[2], 0x80) ~= 0
   local opt = band(cdb[2], 0x07)
   local alloc = be32(cdb, 6)
   if opt == 0 then
      if rctd then
         c:data_in(d.rsoc_t, min(alloc, d.rsoc_t_len))
      else
         c:data_in(d.rsoc, min(alloc, d.rsoc_len))
      end
      return c:good()
   end
   if opt > 3 then return invalid_field(c, 2, 2) end
   local e = d.ops[cdb[3]]
   local by_sa = e and e.by_sa
   -- 001b is for opcodes without service actions, 010b for those with
   if (opt == 1 and by_sa) or (opt == 2 and e and not by_sa) then
      return invalid_field(c, 2, 2)
   end
   if by_sa then e = by_sa[be16(cdb, 4)] end
   local buf = d.resp
   fill(buf, 4)
   local n = 4
   if e then
      buf[1] = 0x03                      -- supported as the standard says
      put_be16(buf, 2, e.len)
      local u = e.usage
      buf[4] = e.op
      for i = 1, e.len - 1 do buf[4 + i] = u[i] end
      n = 4 + e.len
      if rctd then
         buf[1] = 0x83                   -- CTDP
         n = put_timeouts(buf, n)
      end
   else
      buf[1] = 0x01                      -- not supported
   end
   c:data_in(buf, min(alloc, n))
   c:good()
end

------------------------------------------------------------------------------
-- The command table.  usage: CDB USAGE DATA bytes 1..n-1 (byte 0 is the
-- opcode): a set bit is a bit this disk evaluates; a CDB with a bit set
-- outside it gets 5/24/00 pointing at that bit.  PROTECT fields are not
-- in the masks (no protection information): non-zero is invalid.  The
-- control byte is 0: NACA and LINK are not supported.
--
-- flags: W a write (7/27/00 when write protected, checked first as LIO
-- does), M needs the medium (2/04/02 when stopped).  needs: "medium"
-- (a read op), "unmap".

local RW10 = { 0x18 + 0x02, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00 }
local RW12 = { 0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 }
local RW16 = { 0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
   0x3f, 0x00 }
local V10 = { 0x16, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00 }
local V12 = { 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 }
local V16 = { 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
   0x3f, 0x00 }

local SPEC = {
   { 0x00, nil, 6, "TEST UNIT READY", exec_tur, "M", nil, { 0, 0, 0, 0, 0 } },
   { 0x03, nil, 6, "REQUEST SENSE", exec_request_sense, "", nil, { 0x01, 0, 0, 0xff, 0 } },
   { 0x08, nil, 6, "READ(6)", exec_read6, "M", "medium", { 0x1f, 0xff, 0xff, 0xff, 0 } },
   { 0x0a, nil, 6, "WRITE(6)", exec_write6, "WM", "medium", { 0x1f, 0xff, 0xff, 0xff, 0 } },
   { 0x12, nil, 6, "INQUIRY", exec_inquiry, "", nil, { 0x01, 0xff, 0xff, 0xff, 0 } },
   { 0x15, nil, 6, "MODE SELECT(6)", exec_mode_select6, "", nil, { 0x11, 0, 0, 0xff, 0 } },
   { 0x1a, nil, 6, "MODE SENSE(6)", exec_mode_sense6, "", nil, { 0x08, 0xff, 0xff, 0xff, 0 } },
   { 0x1b, nil, 6, "START STOP UNIT", exec_start_stop, "", nil, { 0x01, 0, 0x0f, 0xf7, 0 } },
   { 0x25, nil, 10, "READ CAPACITY(10)", exec_rc10, "", nil,
      { 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0 } },
   { 0x28, nil, 10, "READ(10)", exec_read10, "M", "medium", RW10 },
   { 0x2a, nil, 10, "WRITE(10)", exec_write10, "WM", "medium", RW10 },
   { 0x2e, nil, 10, "WRITE AND VERIFY(10)", exec_wv10, "WM", "medium", V10 },
   { 0x2f, nil, 10, "VERIFY(10)", exec_verify10, "M", "medium", V10 },
   { 0x35, nil, 10, "SYNCHRONIZE CACHE(10)", exec_sync10, "M", "medium",
      { 0x06, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0 } },
   { 0x41, nil, 10, "WRITE SAME(10)", exec_ws10, "WM", "medium",
      { 0x08, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0 } },
   { 0x42, nil, 10, "UNMAP", exec_unmap, "WM", "unmap", { 0, 0, 0, 0, 0, 0x3f, 0xff, 0xff, 0 } },
   { 0x55, nil, 10, "MODE SELECT(10)", exec_mode_select10, "", nil,
      { 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
   { 0x5a, nil, 10, "MODE SENSE(10)", exec_mode_sense10, "", nil,
      { 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
   { 0x88, nil, 16, "READ(16)", exec_read16, "M", "medium", RW16 },
   { 0x89, nil, 16, "COMPARE AND WRITE", exec_caw, "WM", "medium",
      { 0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x3f, 0 } },
   { 0x8a, nil, 16, "WRITE(16)", exec_write16, "WM", "medium", RW16 },
   { 0x8e, nil, 16, "WRITE AND VERIFY(16)", exec_wv16, "WM", "medium", V16 },
   { 0x8f, nil, 16, "VERIFY(16)", exec_verify16, "M", "medium", V16 },
   { 0x91, nil, 16, "SYNCHRONIZE CACHE(16)", exec_sync16, "M", "medium",
      { 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0 } },
   { 0x93, nil, 16, "WRITE SAME(16)", exec_ws16, "WM", "medium",
      { 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0 } },
   { 0x9e, 0x10, 16, "READ CAPACITY(16)", exec_rc16, "", nil,
      { 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0 } },
   { 0xa0, nil, 12, "REPORT LUNS", exec_report_luns, "", nil,
      { 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
   { 0xa3, 0x0c, 12, "REPORT SUPPORTED OPERATION CODES", exec_rsoc, "", nil,
      { 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
   { 0xa8, nil, 12, "READ(12)", exec_read12, "M", "medium", RW12 },
   { 0xaa, nil, 12, "WRITE(12)", exec_write12, "WM", "medium", RW12 },
   { 0xae, nil, 12, "WRITE AND VERIFY(12)", exec_wv12, "WM", "medium", V12 },
   { 0xaf, nil, 12, "VERIFY(12)", exec_verify12, "M", "medium", V12 },
}
M.SPEC = SPEC

-- Commands that report no unit attention (SPC-4 5.14).
local UA_EXEMPT = { [0x12] = true, [0xa0] = true, [0x03] = true }

------------------------------------------------------------------------------
-- Per command.  Order: unit attention, opcode (and service action), write
-- protection, reserved bits, stopped, then the command's own checks.

-- The first CDB bit set outside the usage mask: 5/24/00 pointing at it.
local function reserved_bits(c, e)
   local cdb, u = c.cdb, e.usage
   for i = 1, e.len - 1 do
      local bad = band(cdb[i], bnot(u[i]))
      if bad ~= 0 then return invalid_field(c, i, top_bit(bad)) end
   end
end

local function command(d, lun, c)
   local cdb = c.cdb
   local op = cdb[0]
   if d.ua_n > 0 and not UA_EXEMPT[op] then
      return c:check(UNIT_ATTENTION, pop_ua(d))
   end
   local e = d.ops[op]
   if not e then return c:check(ILLEGAL, 0x20, 0x00, nil, fp(true, 0)) end
   if e.by_sa then
      e = e.by_sa[band(cdb[1], 0x1f)]
      if not e then return invalid_field(c, 1, 4) end
   end
   if e.write and d.wp then return c:check(DATA_PROTECT, 0x27, 0x00) end
   -- Straight-line, not a loop: a loop here would be its own trace, and
   -- the cdata it shares with the rest (cdb) would be boxed per command.
   local x = e.inv
   if band(cdb[1], x[1]) + band(cdb[2], x[2]) + band(cdb[3], x[3]) + band(cdb[4], x[4]) +
      band(cdb[5], x[5]) + band(cdb[6], x[6]) + band(cdb[7], x[7]) + band(cdb[8], x[8]) +
      band(cdb[9], x[9]) + band(cdb[10], x[10]) + band(cdb[11], x[11]) +
      band(cdb[12], x[12]) + band(cdb[13], x[13]) + band(cdb[14], x[14]) +
      band(cdb[15], x[15]) ~= 0 then
      return reserved_bits(c, e)
   end
   if e.medium and d.stopped then return c:check(NOT_READY, 0x04, 0x02) end
   return e.run(d, lun, c)
end

------------------------------------------------------------------------------
-- Building a disk.

local function put_ascii(buf, off, len, s)
   fill(buf + off, len, 0x20)
   copy(buf + off, s, min(#s, len))
end

local function want(v, kind, name)
   if v ~= nil and type(v) ~= kind then
      error(string.format("args.%s must be a %s, not %s", name, kind, type(v)), 0)
   end
   return v
end

local function ascii_arg(args, name, default, maxlen)
   local s = want(args[name], "string", name)
   if s == nil then return default end
   if #s == 0 or #s > maxlen or s:find("[^\32-\126]") then
      error(string.format("args.%s must be 1 to %d printable ASCII characters, not %q",
         name, maxlen, s), 0)
   end
   return s
end

local function int_arg(args, name, default, lo, hi)
   local v = want(args[name], "number", name)
   if v == nil then return default end
   if v ~= floor(v) or v < lo or v > hi then
      error(string.format("args.%s must be an integer from %d to %d, not %s", name, lo, hi,
         tostring(v)), 0)
   end
   return v
end

local function bool_arg(args, name, default)
   local v = want(args[name], "boolean", name)
   if v == nil then return default end
   return v
end

-- 25 nibbles for the NAA 6 VENDOR SPECIFIC IDENTIFIER.  A serial with at
-- least 25 hex digits (a UUID, as LIO's vpd_unit_serial is) gives LIO's
-- own identifier (spc_parse_naa_6h_vendor_specific), so a LUN moved
-- between LIO and lunar keeps its WWID; any other serial is hashed
-- (FNV-1a 64 twice, each finalized) so that "disk0" and "disk1" differ.
-- MurmurHash3's 64-bit finalizer: short names differ in every nibble.
local function fmix64(h)
   h = bxor(h, rshift(h, 33)) * 0xff51afd7ed558ccdULL
   h = bxor(h, rshift(h, 33)) * 0xc4ceb9fe1a85ec53ULL
   return bxor(h, rshift(h, 33))
end

local function naa_nibbles(serial)
   local hex = serial:gsub("[^%x]", "")
   local t = {}
   if #hex >= 25 then
      for i = 1, 25 do t[i] = tonumber(hex:sub(i, i), 16) end
      return t
   end
   local prime = 0x100000001b3ULL
   local h1, h2 = 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL
   for i = 1, #serial do
      local b = serial:byte(i)
      h1 = bxor(h1, b) * prime
      h2 = bxor(h2, b + 0x5a) * prime
   end
   h1, h2 = fmix64(h1), fmix64(h2)
   for i = 1, 16 do t[i] = tonumber(band(rshift(h1, (i - 1) * 4), 0xf)) end
   for i = 17, 25 do t[i] = tonumber(band(rshift(h2, (i - 17) * 4), 0xf)) end
   return t
end

local function page(n)
   return u8arr(n)
end

local function build_inquiry(d)
   local b = page(96)
   b[0] = 0x00                 -- connected, direct access block device
   b[2] = 0x06                 -- SPC-4
   b[3] = 0x12                 -- HISUP, response data format 2
   b[4] = 96 - 5               -- additional length (91, as LIO)
   b[7] = 0x02                 -- CMDQUE
   put_ascii(b, 8, 8, d.vendor)
   put_ascii(b, 16, 16, d.product)
   put_ascii(b, 32, 4, d.revision)
   put_be16(b, 58, 0x00a0)     -- SAM-5
   put_be16(b, 60, 0x0460)     -- SPC-4
   put_be16(b, 62, 0x04c0)     -- SBC-3
   d.inq = b
end

local function build_vpd(d)
   local bufs, lens = {}, {}
   local function add(code, b, n)
      bufs[code], lens[code] = b, n
   end
   -- 0x00: the pages, ascending (0xb0 is built per request)
   local list = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 }
   local b = page(4 + #list)
   b[3] = #list
   for i, code in ipairs(list) do b[3 + i] = code end
   add(0x00, b, 4 + #list)
   -- 0x80: unit serial number
   local s = d.serial
   b = page(4 + #s)
   b[1], b[3] = 0x80, #s
   copy(b + 4, s, #s)
   add(0x80, b, 4 + #s)
   -- 0x83: NAA 6 (IEEE registered extended, OUI 00-14-05 as LIO) and a
   -- T10 vendor ID designator (vendor + serial), both for the LU
   local n = 4 + (4 + 16) + (4 + 8 + #s)
   b = page(n)
   b[1] = 0x83
   put_be16(b, 2, n - 4)
   b[4], b[5], b[7] = 0x01, 0x03, 16                -- binary, LU, NAA
   b[8], b[9], b[10] = 0x60, 0x01, 0x40             -- NAA 6, OUI 001405
   local t = naa_nibbles(s)
   b[11] = 0x50 + t[1]
   for i = 1, 12 do b[11 + i] = t[2 * i] * 16 + t[2 * i + 1] end
   b[24], b[25], b[27] = 0x02, 0x01, 8 + #s         -- ASCII, LU, T10 vendor ID
   put_ascii(b, 28, 8, d.vendor)
   copy(b + 36, s, #s)
   add(0x83, b, n)
   -- 0xb1: block device characteristics
   b = page(64)
   b[1], b[3] = 0xb1, 0x3c
   put_be16(b, 4, d.rotation_rate)
   add(0xb1, b, 64)
   -- 0xb2: logical block provisioning, exactly what is implemented
   b = page(8)
   b[1], b[3] = 0xb2, 0x04
   if d.unmap then
      b[5] = 0xe0                                  -- LBPU, LBPWS, LBPWS10
      if d.lbprz then b[5] = 0xe4 end              -- LBPRZ
      b[6] = 0x02                                  -- thin provisioned
   end
   add(0xb2, b, 8)
   d.vpd_buf, d.vpd_len = bufs, lens
   d.vpd_buf[0xb0] = true   -- listed; built per request
end

local function build_mode(d)
   local cur, chg, def = {}, {}, {}
   local function pg(code, len)
      local a, m, f = page(len + 2), page(len + 2), page(len + 2)
      a[0], a[1], m[0], m[1], f[0], f[1] = code, len, code, len, code, len
      cur[code], chg[code], def[code] = a, m, f
      return a, m, f
   end
   pg(0x01, 0x0a)                               -- read-write error recovery
   local a, m, f = pg(0x08, 0x12)               -- caching
   if d.wce_default then a[2], f[2] = 0x04, 0x04 end
   if d.flush then m[2] = 0x04 end              -- WCE changeable with a real flush
   a, m, f = pg(0x0a, 0x0a)                     -- control
   local b2 = 0x02                              -- GLTSD: no log pages to save
   if d.dsense_default then b2 = b2 + 0x04 end  -- D_SENSE
   a[2], f[2] = b2, b2
   a[3], f[3] = 0x10, 0x10                      -- QUEUE ALGORITHM MODIFIER 1: unrestricted
   a[8], a[9], f[8], f[9] = 0xff, 0xff, 0xff, 0xff   -- busy timeout: unlimited
   m[2], m[4] = 0x04, 0x08                      -- D_SENSE, SWP changeable
   a, m, f = pg(0x1c, 0x0a)                     -- informational exceptions
   a[2], f[2] = 0x08, 0x08                      -- DEXCPT: none reported
   d.mode_cur, d.mode_chg, d.mode_def = cur, chg, def
end

local function build_ops(d)
   local ops = {}
   for i = 0, 255 do ops[i] = false end
   local list = {}
   for _, s in ipairs(SPEC) do
      local op, sa, len, name, run, flags, needs, usage = unpack(s)
      local have = needs == nil or (needs == "medium" and d.read) or
         (needs == "unmap" and d.unmap)
      if have then
         local u = {}
         for i = 1, len - 1 do u[i] = usage[i] end
         -- the UNMAP bit of WRITE SAME only with unmap (LBPWS, LBPWS10)
         if (op == 0x41 or op == 0x93) and not d.unmap then u[1] = band(u[1], bnot(0x08)) end
         -- inverse masks for bytes 1..15, 0 past the CDB
         local inv = {}
         for i = 1, 15 do inv[i] = i < len and band(bnot(u[i]), 0xff) or 0 end
         local e = { op = op, sa = sa, len = len, name = name, run = run, usage = u, inv = inv,
            write = flags:find("W") ~= nil, medium = flags:find("M") ~= nil }
         if sa then
            if not ops[op] then ops[op] = { by_sa = {} } end
            ops[op].by_sa[sa] = e
         else
            ops[op] = e
         end
         list[#list + 1] = e
      end
   end
   table.sort(list, function(a, b)
      return a.op < b.op or (a.op == b.op and (a.sa or 0) < (b.sa or 0))
   end)
   d.ops, d.op_list = ops, list
   -- the all-commands answers, with and without timeouts descriptors
   for _, rctd in ipairs({ false, true }) do
      local dl = rctd and 20 or 8
      local n = 4 + dl * #list
      local b = page(n)
      put_be32(b, 0, n - 4)
      for i, e in ipairs(list) do
         local o = 4 + dl * (i - 1)
         b[o] = e.op
         if e.sa then
            put_be16(b, o + 2, e.sa)
            b[o + 5] = 0x01                         -- SERVACTV
         end
         put_be16(b, o + 6, e.len)
         if rctd then
            b[o + 5] = bor(b[o + 5], 0x02)         -- CTDP
            put_timeouts(b, o + 8)
         end
      end
      if rctd then d.rsoc_t, d.rsoc_t_len = b, n else d.rsoc, d.rsoc_len = b, n end
   end
end

local Disk = {}

-- Methods, and the big buffers made when first asked for.
local LAZY = {
   param = function(d) return page(65536) end,
   bounce = function(d) return page(d.chunk_blocks * d.bs) end,
}
Disk.__index = function(d, k)
   local m = Disk[k]
   if m ~= nil then return m end
   local make = LAZY[k]
   if make then
      local b = make(d)
      rawset(d, k, b)
      return b
   end
end

--- disk.new(lun, h) -- a disk over handler h's ops (called after h.open).
-- Settings come from lun.args (docs/disk.md) and from what open left in
-- lun: lun.lbprz (unmapped blocks read zeros), lun.rotation_rate,
-- lun.unmap_granularity.  Returns the disk; d.command(lun, cmd) is its
-- command().
function M.new(lun, h, raw)
   local args = lun.args or {}
   local d = setmetatable({ lun = lun, h = h }, Disk)
   d.bs, d.blocks = lun.block_size, lun.blocks
   -- false, not nil, for an op that is not there: a nil field would go to
   -- the metatable's __index on every command that tests it
   d.read = h.read or false
   d.write = h.write or false
   d.flush = h.flush or false
   d.unmap = h.unmap or false
   d.write_same = h.write_same or false
   d.compare_and_write = h.compare_and_write or false
   if bool_arg(args, "unmap", true) == false then d.unmap = false end
   d.readonly = bool_arg(args, "readonly", false)
   d.wp_fixed = d.readonly or not d.write
   d.lbprz = d.unmap and lun.lbprz == true
   d.vendor = ascii_arg(args, "vendor", "LUNAR", 8)
   d.product = ascii_arg(args, "product", "lunar disk", 16)
   d.revision = ascii_arg(args, "revision", "0001", 4)
   d.serial = ascii_arg(args, "serial", lun.name, 64)
   d.rotation_rate = int_arg(args, "rotation_rate", lun.rotation_rate or 0, 0, 0xfffe)
   d.wce_default = d.flush and bool_arg(args, "write_cache", true)
   -- LIO's rule: descriptor sense when 64-bit LBAs need it
   local dsense = bool_arg(args, "descriptor_sense", d.blocks > 0xffffffff)
   if raw then dsense = lunar.descriptor_sense() end   -- a raw handler chose already
   d.dsense_default = dsense
   d.max_transfer = int_arg(args, "max_transfer", 0, 0, 0xffffffff)
   d.max_write_same = int_arg(args, "max_write_same", 0xffff, 1, 0xffffffff)
   d.max_unmap = int_arg(args, "max_unmap", 0x100000, 1, 0x100000)
   d.max_unmap_descriptors = int_arg(args, "max_unmap_descriptors", 256, 1, 4095)
   d.unmap_granularity = int_arg(args, "unmap_granularity", lun.unmap_granularity or 0, 0,
      0xffffffff)
   d.max_compare_and_write = int_arg(args, "max_compare_and_write", 255, 1, 255)
   d.mode_change_ua = bool_arg(args, "mode_change_ua", false)
   -- Under TCMU the kernel reports nexus events; elsewhere, and only for
   -- disk handlers (a raw handler answers most commands itself), the
   -- first command after open may learn of the power on.
   local power_on = bool_arg(args, "power_on_ua", lun.transport == "xen" and not raw)

   d.ua_asc, d.ua_ascq, d.ua_n = {}, {}, 0
   for i = 1, UA_MAX do d.ua_asc[i], d.ua_ascq[i] = 0, 0 end
   if power_on then queue_ua(d, 0x29, 0x00) end
   d.stopped = false

   -- buffers: responses; parameter lists and the bounce buffer for
   -- emulation come on first use (Disk.__index), so that a LUN that never
   -- needs them (a raw handler's, most of all) does not carry 1 MiB
   d.resp = page(256)
   d.chunk_blocks = max(floor(1048576 / d.bs), d.max_compare_and_write)
   d.zero = page(d.bs)
   d.s = cmd_t()
   d.s_iov = iov_t()
   d.s.slot = 0xffffffff

   build_inquiry(d)
   build_vpd(d)
   build_mode(d)
   build_ops(d)
   apply_mode(d)
   d.command = function(l, c) return command(d, l, c) end
   return d
end

--- d:capacity_changed() -- the medium is now lun.size bytes (lun.blocks
-- blocks): READ CAPACITY and the mode block descriptor say so, and the
-- next command gets 6/2A/09 CAPACITY DATA HAS CHANGED.
function Disk:capacity_changed()
   self.blocks = self.lun.blocks
   queue_ua(self, 0x2a, 0x09)
end

--- d:set_capacity(bytes) -- resize the medium (a multiple of the block
-- size) and announce it (6/2A/09).  The handler's ops must serve it.
function Disk:set_capacity(bytes)
   local bs = self.bs
   if bytes <= 0 or bytes % bs ~= 0 then
      error(string.format("set_capacity(%s): not a positive multiple of %d", tostring(bytes), bs), 2)
   end
   self.lun.size, self.lun.blocks = bytes, bytes / bs
   self:capacity_changed()
end

--- d:unit_attention(asc, ascq) -- post a unit attention (6/asc/ascq).
function Disk:unit_attention(asc, ascq)
   queue_ua(self, asc, ascq)
end

--- d:set_readonly(on) -- write protect the medium (MODE SENSE WP, 7/27/00).
function Disk:set_readonly(on)
   self.readonly = on and true or false
   self.wp_fixed = self.readonly or not self.write
   self.wp = self.wp_fixed or self.swp
end

--- d:reset() -- a LUN reset: pending unit attentions are dropped and, off
-- TCMU (whose kernel reports it), 6/29/03 is posted.
function Disk:reset()
   self.ua_n = 0
   if self.lun.transport ~= "tcmu" then queue_ua(self, 0x29, 0x03) end
end

--- d:export() -- what an initiator set with MODE SELECT (the changeable
-- bits of each mode page) and the unit attentions not yet reported, as
-- plain data: a reload carries them to the next generation.
function Disk:export()
   local mode = {}
   for _, code in ipairs(PAGES) do
      local cur = self.mode_cur[code]
      if cur then mode[code] = ffi.string(cur, cur[1] + 2) end
   end
   local ua = {}
   for i = 1, self.ua_n do ua[i] = { self.ua_asc[i], self.ua_ascq[i] } end
   return { mode = mode, ua = ua }
end

--- d:import(t) -- takes what export() gave, as far as it fits this disk:
-- only the bits this disk lets an initiator change, pages of the same
-- length.
function Disk:import(t)
   if type(t) ~= "table" then return end
   for code, bytes in pairs(type(t.mode) == "table" and t.mode or {}) do
      local cur, chg = self.mode_cur[code], self.mode_chg[code]
      if cur and type(bytes) == "string" and #bytes == cur[1] + 2 then
         for i = 2, #bytes - 1 do
            local b = bytes:byte(i + 1)
            cur[i] = bor(band(cur[i], bnot(chg[i])), band(b, chg[i]))
         end
      end
   end
   apply_mode(self)
   for _, v in ipairs(type(t.ua) == "table" and t.ua or {}) do
      if type(v) == "table" and type(v[1]) == "number" and type(v[2]) == "number" then
         queue_ua(self, v[1], v[2])
      end
   end
end

-- Is h a disk-level handler (ops) rather than a raw one (command)?
function M.is_disk_handler(h)
   return type(h.command) ~= "function" and type(h.read) == "function"
end

--- disk.wrap(lun, h) -- the handler dispatch runs: for a disk-level h, the
-- disk; for a raw h, its command() with lunar.PASS falling through to a
-- disk built from whatever ops h also has.  lun.disk is the disk either
-- way.  Returns { command, tick, abort, reset, close, resize, disk? }.
function M.wrap(lun, h)
   local raw = type(h.command) == "function"
   local d = M.new(lun, h, raw)
   lun.disk = d
   local top = { tick = h.tick, abort = h.abort, close = h.close }
   local hreset, hresize = h.reset, h.resize
   if raw then
      local rcommand, dcommand, PASS = h.command, d.command, lunar.PASS
      top.command = function(l, c)
         local r = rcommand(l, c)
         if r == PASS then return dcommand(l, c) end
         return r
      end
      top.reset = hreset
   else
      top.command = d.command
      top.disk = d
      top.reset = function(l, tmr)
         d:reset()
         if hreset then hreset(l, tmr) end
      end
   end
   -- a resize is taken only by a handler that can serve it
   if hresize then
      top.resize = function(l, old)
         hresize(l, old)
         d:capacity_changed()
      end
   end
   return top
end

------------------------------------------------------------------------------
-- Selftest: a RAM handler, fake commands with their own iovecs.

local T = {}

function T.ram(size, opts)
   opts = opts or {}
   local mem = u8arr(size)
   local h = { mem = mem, flushes = 0, unmaps = 0 }
   function h.read(lun, c, off, len) c:data_in(mem + off, len) end
   if not opts.readonly then
      function h.write(lun, c, off, len) c:data_out(mem + off, len) end
   end
   if opts.flush then
      function h.flush(lun, c, off, len) h.flushes = h.flushes + 1 end
   end
   if opts.unmap then
      function h.unmap(lun, c, off, len)
         h.unmaps = h.unmaps + 1
         fill(mem + off, len)
      end
   end
   return h
end

function T.lun(size, bs, args)
   return { name = "t0", id = -1, size = size, block_size = bs, blocks = size / bs,
      transport = "sim", args = args or {} }
end

-- A command with a buffer of n bytes split in iovecs of at most seg bytes.
function T.cmd(n, seg)
   local c = cmd_t()
   local buf = u8arr(math.max(n, 1))
   seg = seg or 4096
   local cnt = math.max(1, math.ceil(n / seg))
   local iov = ffi.new("struct iovec[?]", cnt)
   for i = 0, cnt - 1 do
      iov[i].iov_base = buf + i * seg
      iov[i].iov_len = min(seg, n - i * seg)
   end
   c.iov, c.iovcnt, c.length = iov, n > 0 and cnt or 0, n
   return { c = c, buf = buf, iov = iov }
end

-- Commands that return data: they get a 4 KiB Data-In buffer by default.
T.DATA_IN = { [0x03] = true, [0x12] = true, [0x1a] = true, [0x5a] = true, [0x25] = true,
   [0x9e] = true, [0xa0] = true, [0xa3] = true }

local function unhex(s)
   s = s:gsub("%s", "")
   local t = {}
   for i = 1, #s, 2 do t[#t + 1] = tonumber(s:sub(i, i + 1), 16) end
   return t
end

-- Runs one CDB: data_out (hex or a byte count of pattern), in_len.
-- Returns status, sense hex, Data-In hex (xfer bytes), the cmd.
function T.run(d, cdbhex, opt)
   opt = opt or {}
   local out = opt.out
   local cb = unhex(cdbhex)
   local n = opt.len or (out and #out / 2) or opt.inlen or (T.DATA_IN[cb[1]] and 4096) or 0
   local x = T.cmd(n, opt.seg)
   local c = x.c
   for i = 1, #cb do c.cdb[i - 1] = cb[i] end
   c.cdb_len = #cb
   c.state = NEW
   if out then
      local ob = unhex(out)
      for i = 1, #ob do x.buf[i - 1] = ob[i] end
      c.dir = DIR_OUT
   elseif n > 0 then
      c.dir = DIR_IN
   end
   d.command(d.lun, c)
   assert(c.state == DONE, "the command was not answered")
   local xfer = tonumber(c.xfer)
   return c.status, scsi.hex(c.sense, c.sense_len), (c.dir == DIR_IN and scsi.hex(x.buf, xfer) or ""),
      x
end

local function expect_sense(d, cdb, opt, k, asc, ascq)
   local st, sense = T.run(d, cdb, opt)
   assert(st == 2, cdb .. ": status " .. st .. ", expected CHECK CONDITION")
   local got
   if sense:sub(1, 2) == "72" then
      got = sense:sub(3, 8)
   else
      got = sense:sub(5, 6) .. sense:sub(25, 28)
   end
   local want = string.format("%02x%02x%02x", k, asc, ascq)
   assert(got == want, cdb .. ": sense " .. sense .. ", expected " .. want)
   return sense
end

local function expect_good(d, cdb, opt)
   local st, sense, data, x = T.run(d, cdb, opt)
   assert(st == 0, cdb .. ": status " .. st .. " sense " .. sense)
   return data, x
end

local function cdb10(op, lba, n, b1)
   return string.format("%02x%02x%08x00%04x00", op, b1 or 0, lba, n)
end

local function cdb16(op, lba, n, b1)
   local hi = floor(lba / TWO32)
   return string.format("%02x%02x%08x%08x%08x0000", op, b1 or 0, hi, lba - hi * TWO32, n)
end

M.T = T

function M.selftest()
   local bs = 512
   local h = T.ram(1024 * bs, { flush = true, unmap = true })
   local lun = T.lun(1024 * bs, bs, { serial = "selftest" })
   lun.lbprz = true
   local d = M.new(lun, h)
   lun.disk = d

   -- GC first: as in a LUN, where a few probe commands come before the
   -- I/O, the READ/WRITE path is the first that gets hot.  100k
   -- commands, as lunar.dispatch makes them, allocate nothing.
   local xpcall, traceback = xpcall, debug.traceback
   local x8 = T.cmd(8 * bs, 4096)
   local c = x8.c
   local cdb = c.cdb
   local function go(n)
      for i = 1, n do
         local write = i % 2 == 0
         cdb[0] = write and 0x2a or 0x28
         local lba = (i * 8) % 1000
         cdb[2], cdb[3], cdb[4], cdb[5] = 0, 0, rshift(lba, 8), band(lba, 0xff)
         cdb[7], cdb[8] = 0, 8
         c.dir = write and DIR_OUT or DIR_IN
         c.state, c.status, c.xfer = NEW, 0, 0
         -- called as lunar.dispatch calls it
         local ok, err = xpcall(d.command, traceback, lun, c)
         if not ok or c.status ~= 0 then error(tostring(err) .. " status " .. c.status) end
      end
   end
   go(20000)
   collectgarbage()
   collectgarbage("stop")
   local before = collectgarbage("count")
   go(100000)
   local grown = (collectgarbage("count") - before) * 1024
   collectgarbage("restart")
   M.gc_bytes_per_command = grown / 100000
   assert(grown / 100000 < 0.05, string.format("%.3f bytes allocated per command", grown / 100000))
   print(string.format("lunar.disk: %.4f GC bytes per READ/WRITE (100000 commands)",
      grown / 100000))

   -- INQUIRY: 96 bytes, versions, descriptors; allocation lengths
   local data = expect_good(d, "120000ffff00")
   assert(#data == 192 and data:sub(1, 10) == "000006125b", data)
   assert(data:sub(117, 128) == "00a0046004c0")
   assert(expect_good(d, "120000002400") == data:sub(1, 72))
   assert(expect_good(d, "120000000000") == "")
   assert(expect_good(d, "12000001ff00") == expect_good(d, "120000020000"))
   expect_sense(d, "120080006000", nil, 5, 0x24, 0)     -- EVPD=0, page code
   expect_sense(d, "120200006000", nil, 5, 0x24, 0)     -- CMDDT
   -- VPD
   assert(expect_good(d, "120100ffff00") == "00000006008083b0b1b2")
   assert(expect_good(d, "120180ffff00") == "00800008" .. scsi.hex(ffi.cast(u8p, "selftest"), 8))
   local vpd83 = expect_good(d, "120183ffff00")
   assert(vpd83:sub(1, 22) == "0083002801030010600140" and vpd83:sub(23, 23) == "5", vpd83)
   assert(vpd83:sub(49, 56) == "02010010")
   local b0 = expect_good(d, "1201b0ffff00")
   assert(#b0 == 128 and b0:sub(1, 12) == "00b0003c01ff", b0)
   assert(b0:sub(41, 56) == "0010000000000100")     -- max unmap 1M, 256 descriptors
   assert(b0:sub(73, 88) == "000000000000ffff")     -- max write same
   assert(expect_good(d, "1201b2ffff00") == "00b2000400e40200")
   expect_sense(d, "120187ffff00", nil, 5, 0x24, 0)

   -- READ CAPACITY
   assert(expect_good(d, "250000000000000000000000") == "000003ff00000200")
   assert(expect_good(d, "9e10000000000000000000000020" .. "0000") ==
      "00000000000003ff00000200" .. "0000c000" .. string.rep("00", 16))
   assert(expect_good(d, "9e10000000000000000000000008" .. "0000") == "00000000000003ff")
   assert(expect_good(d, "9e10000000000000000000000000" .. "0000") == "")
   expect_sense(d, "250000000001000000000000"--[[PMI=0, LBA 1]], nil, 5, 0x24, 0)

   -- WRITE / READ round trip over many iovecs, all CDB sizes
   local pat = {}
   for i = 1, 8 * bs do pat[i] = string.format("%02x", (i * 7) % 256) end
   pat = table.concat(pat)
   expect_good(d, cdb10(0x2a, 100, 8), { out = pat, seg = 100 })
   assert(expect_good(d, cdb10(0x28, 100, 8), { inlen = 8 * bs, seg = 300 }) == pat)
   assert(expect_good(d, string.format("a800%08x%08x0000", 100, 8), { inlen = 8 * bs }) == pat)
   assert(expect_good(d, cdb16(0x88, 100, 8), { inlen = 8 * bs }) == pat)
   assert(expect_good(d, "080000640800", { inlen = 8 * bs }) == pat)   -- READ(6)
   -- READ(6) length 0 is 256 blocks
   local _, x = expect_good(d, "080000000000", { inlen = 256 * bs })
   assert(tonumber(x.c.xfer) == 256 * bs)
   -- the last block; one past; overflow; zero length at the end and past it
   expect_good(d, cdb10(0x28, 1023, 1), { inlen = bs })
   expect_sense(d, cdb10(0x28, 1024, 1), { inlen = bs }, 5, 0x21, 0)
   expect_sense(d, cdb10(0x28, 1020, 8), { inlen = 8 * bs }, 5, 0x21, 0)
   expect_sense(d, cdb16(0x88, 2 ^ 64 - 1, 1), { inlen = bs }, 5, 0x21, 0)
   expect_sense(d, "88000fffffffffffffff0000000100" .. "00", { inlen = bs }, 5, 0x21, 0)
   expect_good(d, cdb10(0x28, 1024, 0))
   expect_sense(d, cdb10(0x28, 1025, 0), nil, 5, 0x21, 0)
   -- a longer Data-In buffer: a residual; a shorter one: what fits
   _, x = expect_good(d, cdb10(0x28, 100, 1), { inlen = 2 * bs })
   assert(tonumber(x.c.xfer) == bs)
   assert(expect_good(d, cdb10(0x28, 100, 8), { inlen = 100 }) == pat:sub(1, 200))
   -- DPO, FUA, FUA_NV accepted; FUA writes flush; RDPROTECT, reserved bits not
   local f0 = h.flushes
   expect_good(d, cdb10(0x2a, 5, 1, 0x08), { out = pat:sub(1, 2 * bs) })
   assert(h.flushes == f0 + 1)
   expect_good(d, cdb10(0x28, 5, 1, 0x1a), { inlen = bs })
   local sense = expect_sense(d, cdb10(0x28, 5, 1, 0x20), { inlen = bs }, 5, 0x24, 0)
   assert(sense:sub(31, 36) == "cd0001", sense)          -- byte 1 bit 5
   sense = expect_sense(d, cdb10(0x28, 5, 1, 0x04), { inlen = bs }, 5, 0x24, 0)
   assert(sense:sub(31, 36) == "ca0001", sense)          -- byte 1 bit 2
   sense = expect_sense(d, "28000000000500000104", { inlen = bs }, 5, 0x24, 0)
   assert(sense:sub(31, 36) == "ca0009", sense)          -- NACA
   -- a write whose Data-Out is not what the CDB says
   expect_sense(d, cdb10(0x2a, 5, 2), { out = pat:sub(1, 2 * bs) }, 5, 0x0e, 0x03)
   expect_good(d, cdb10(0x2a, 5, 0))

   -- 4096-byte blocks, and a LUN past 2^32 blocks (descriptor sense)
   local d4 = M.new(T.lun(64 * 4096, 4096), T.ram(64 * 4096))
   assert(expect_good(d4, "250000000000000000000000") == "0000003f00001000")
   assert(expect_good(d4, "1a003f00ff00"):sub(1, 24) == "430010080000004000001000")
   assert(lunar.descriptor_sense() == false)
   local big = T.lun(2 ^ 33 * 512, 512)
   local dbig = M.new(big, { read = function() end })
   assert(lunar.descriptor_sense() == true)
   sense = expect_sense(dbig, cdb16(0x88, 2 ^ 33, 1), { inlen = 512 }, 5, 0x21, 0)
   assert(sense:sub(1, 2) == "72")
   assert(expect_good(dbig, "250000000000000000000000") == "ffffffff00000200")
   lunar.descriptor_sense(false)
   d = M.new(lun, h)   -- back to the 512-byte disk (fixed sense)

   -- MODE SENSE: all pages, one page, DBD, changeable, saved, unknown
   local ms = expect_good(d, "1a003f00ff00")
   assert(ms == "4300100800000400000002000" .. "10a00000000000000000000" ..
      "081204" .. string.rep("00", 17) .. "0a0a021000000000ffff0000" ..
      "1c0a08000000000000000000", ms)
   assert(expect_good(d, "1a003f000400") == "43001008")
   assert(expect_good(d, "1a0808001400") == "1700100008120400000000000000000000000000")
   assert(expect_good(d, "1a084a00ff00") == "0f0010000a0a04000800000000000000")
   expect_sense(d, "1a08c8000400", nil, 5, 0x39, 0)
   expect_sense(d, "1a0802000400", nil, 5, 0x24, 0)
   expect_sense(d, "1a0808050400", nil, 5, 0x24, 0)
   assert(expect_good(d, "5a1008000000000100" .. "00"):sub(1, 48) ==
      "002a00100100001000000000000004000000000000000200")
   -- MODE SELECT: WCE off then on; D_SENSE; SWP; bad changes
   local caching_off = "00000000" .. "08120000000000000000000000000000000000000000"
   expect_good(d, "151000001800", { out = caching_off })
   assert(d.wce == false)
   f0 = h.flushes
   expect_good(d, cdb10(0x2a, 5, 1), { out = pat:sub(1, 2 * bs) })
   assert(h.flushes == f0 + 1)                            -- write-through now
   expect_good(d, "151000001800", { out = caching_off:gsub("^(000000000812)00", "%104") })
   assert(d.wce == true)
   expect_sense(d, "151000001700", { out = caching_off:sub(1, 46) }, 5, 0x1a, 0)
   expect_sense(d, "150000001800", { out = caching_off }, 5, 0x24, 0)   -- PF=0
   expect_sense(d, "151100001800", { out = caching_off }, 5, 0x39, 0)   -- SP=1
   sense = expect_sense(d, "151000001800",
      { out = "00000000" .. "08120100000000000000000000000000000000000000" }, 5, 0x26, 0)
   assert(sense:sub(31, 36) == "880006", sense)          -- RCD is not changeable
   expect_good(d, "151000001000", { out = "00000000" .. "0a0a061000000000ffff0000" })
   assert(lunar.descriptor_sense() == true)
   sense = expect_sense(d, cdb10(0x28, 2000, 1), { inlen = bs }, 5, 0x21, 0)
   assert(sense:sub(1, 2) == "72")
   expect_good(d, "151000001000", { out = "00000000" .. "0a0a021008000000ffff0000" })
   assert(lunar.descriptor_sense() == false and d.wp)
   assert(expect_good(d, "1a003f000400") == "43009008")
   expect_sense(d, cdb10(0x2a, 5, 1), { out = pat:sub(1, 2 * bs) }, 7, 0x27, 0)
   expect_good(d, "151000001000", { out = "00000000" .. "0a0a021000000000ffff0000" })
   expect_good(d, cdb10(0x2a, 5, 1), { out = pat:sub(1, 2 * bs) })

   -- REQUEST SENSE, unit attentions, START STOP UNIT
   assert(expect_good(d, "030000001200") == "700000000000000a00000000000000000000")
   d:set_capacity(2048 * bs)
   assert(expect_good(d, "120000002400") ~= "")          -- INQUIRY does not report it
   assert(expect_good(d, "030100001200") == "72062a0900000000")
   assert(expect_good(d, "250000000000000000000000") == "000007ff00000200")
   d:set_capacity(1024 * bs)
   expect_sense(d, "000000000000", nil, 6, 0x2a, 0x09)
   expect_good(d, "000000000000")
   expect_good(d, "1b0000000000")                        -- stop
   expect_sense(d, "000000000000", nil, 2, 0x04, 0x02)
   expect_sense(d, cdb10(0x28, 0, 1), { inlen = bs }, 2, 0x04, 0x02)
   expect_good(d, "120000002400")
   assert(expect_good(d, "030000001200"):sub(1, 6) == "700002")
   expect_good(d, "1b0000000100")                        -- start
   expect_good(d, "000000000000")
   expect_sense(d, "1b0000004000", nil, 5, 0x24, 0)      -- POWER CONDITION 4

   -- VERIFY: BYTCHK 0, 1 (match, miscompare offset), 3
   expect_good(d, cdb10(0x2f, 100, 8))
   expect_good(d, cdb10(0x2f, 100, 8, 0x02), { out = pat })
   local bad = pat:sub(1, 2 * 700) .. "ff" .. pat:sub(2 * 701 + 1)
   if pat:sub(1401, 1402) == "ff" then bad = pat:sub(1, 1400) .. "00" .. pat:sub(1403) end
   sense = expect_sense(d, cdb10(0x2f, 100, 8, 0x02), { out = bad }, 0xe, 0x1d, 0)
   assert(sense:sub(1, 14) == "f0000e000002bc", sense)   -- INFORMATION = 700
   expect_good(d, cdb10(0x2a, 300, 4), { out = string.rep("5a", 4 * bs) })
   expect_good(d, cdb10(0x2f, 300, 4, 0x06), { out = string.rep("5a", bs) })
   expect_sense(d, cdb10(0x2f, 300, 5, 0x06), { out = string.rep("5a", bs) }, 0xe, 0x1d, 0)
   expect_sense(d, cdb10(0x2f, 300, 4, 0x04), nil, 5, 0x24, 0)   -- BYTCHK 2
   -- WRITE AND VERIFY
   expect_good(d, cdb10(0x2e, 400, 8, 0x02), { out = pat })
   assert(expect_good(d, cdb10(0x28, 400, 8), { inlen = 8 * bs }) == pat)

   -- WRITE SAME: pattern, WSNZ, UNMAP of zeros, NDOB, sizes
   expect_good(d, cdb10(0x41, 500, 20), { out = string.rep("a5", bs) })
   assert(expect_good(d, cdb10(0x28, 519, 1), { inlen = bs }) == string.rep("a5", bs))
   expect_sense(d, cdb10(0x41, 500, 0), { out = string.rep("a5", bs) }, 5, 0x24, 0)
   expect_sense(d, cdb10(0x41, 500, 2), { out = string.rep("a5", 2 * bs) }, 5, 0x0e, 3)
   local u0 = h.unmaps
   expect_good(d, cdb10(0x41, 500, 20, 0x08), { out = string.rep("00", bs) })
   assert(h.unmaps == u0 + 1)
   assert(expect_good(d, cdb10(0x28, 519, 1), { inlen = bs }) == string.rep("00", bs))
   expect_good(d, cdb10(0x41, 500, 20, 0x08), { out = string.rep("11", bs) })   -- written
   assert(h.unmaps == u0 + 1)
   expect_good(d, cdb16(0x93, 500, 20, 0x01))            -- NDOB
   assert(expect_good(d, cdb10(0x28, 510, 1), { inlen = bs }) == string.rep("00", bs))
   expect_sense(d, cdb10(0x41, 500, 20, 0x10), { out = string.rep("00", bs) }, 5, 0x24, 0)
   expect_sense(d, cdb10(0x41, 1020, 20), { out = string.rep("00", bs) }, 5, 0x21, 0)

   -- UNMAP: parameter lists
   expect_good(d, cdb10(0x2a, 600, 2), { out = string.rep("77", 2 * bs) })
   local ul = "0016001000000000" .. "0000000000000258" .. "0000000200000000"
   expect_good(d, "42000000000000001800", { out = ul })
   assert(expect_good(d, cdb10(0x28, 600, 2), { inlen = 2 * bs }) == string.rep("00", 2 * bs))
   expect_good(d, "420000000000000000" .. "00")
   expect_sense(d, "42000000000000000700", { out = ul:sub(1, 14) }, 5, 0x1a, 0)
   expect_sense(d, "42010000000000001800", { out = ul }, 5, 0x24, 0)   -- ANCHOR
   expect_sense(d, "42000000000000001800",
      { out = "0016001000000000" .. "00000000000003ff" .. "0000000200000000" },
      5, 0x21, 0)
   expect_good(d, "42000000000000001800",
      { out = "0016001000000000" .. "00000000000003ff" .. "0000000000000000" })

   -- COMPARE AND WRITE: match, miscompare (data unchanged), NoLB
   local a, b = string.rep("41", bs), string.rep("42", bs)
   expect_good(d, cdb10(0x2a, 700, 1), { out = a })
   expect_good(d, "89000000000000000" .. "2bc000000010000", { out = a .. b })
   assert(expect_good(d, cdb10(0x28, 700, 1), { inlen = bs }) == b)
   local b2 = b:sub(1, 2 * 27) .. "43" .. b:sub(2 * 28 + 1)
   sense = expect_sense(d, "89000000000000000" .. "2bc000000010000", { out = b2 .. a }, 0xe, 0x1d, 0)
   assert(sense:sub(1, 14) == "f0000e0000001b", sense)
   assert(expect_good(d, cdb10(0x28, 700, 1), { inlen = bs }) == b)
   expect_good(d, "89000000000000000" .. "2bc000000000000")
   -- SYNCHRONIZE CACHE
   f0 = h.flushes
   expect_good(d, cdb10(0x35, 0, 0))
   assert(h.flushes == f0 + 1)
   expect_sense(d, cdb10(0x35, 1025, 0), nil, 5, 0x21, 0)

   -- REPORT LUNS, RSOC, unsupported commands
   assert(expect_good(d, "a00000000000000000ff0000") == "00000008000000000000000000000000")
   assert(expect_good(d, "a00001000000000000ff0000") == "0000000000000000")
   local all = expect_good(d, "a30c00000000ffffffff0000")
   assert(all:sub(1, 8) == string.format("%08x", #d.op_list * 8))
   local one = expect_good(d, "a30c01280000ffffffff0000")
   assert(one == "0003000a28" .. "1affffffff3fffff00", one)
   expect_sense(d, "a30c019e0000ffffffff0000", nil, 5, 0x24, 0)   -- 9E has service actions
   expect_sense(d, "a30c02280000ffffffff0000", nil, 5, 0x24, 0)   -- 28 has none
   assert(expect_good(d, "a30c029e0010ffffffff0000"):sub(1, 10) == "000300109e")
   assert(expect_good(d, "a30c01340000ffffffff0000") == "00010000")  -- PRE-FETCH: no
   local t = expect_good(d, "a30c81280000ffffffff0000")
   assert(t:sub(1, 4) == "0083" and t:sub(29, 32) == "000a" and #t == 52, t)
   expect_sense(d, "340000000000000000" .. "00", nil, 5, 0x20, 0)
   expect_sense(d, "5e0000000000000000" .. "00", nil, 5, 0x20, 0)
   expect_sense(d, "1e0000000100", nil, 5, 0x20, 0)
   expect_sense(d, "9e12000000000000000000000000" .. "0000", nil, 5, 0x24, 0)

   -- no unmap: not advertised, not answered
   local dn = M.new(T.lun(64 * bs, bs), T.ram(64 * bs))
   assert(expect_good(dn, "1201b2ffff00") == "00b2000400000000")
   assert(expect_good(dn, "9e10000000000000000000000020" .. "0000"):sub(29, 30) == "00")
   expect_sense(dn, "42000000000000001800", { out = ul }, 5, 0x20, 0)
   expect_sense(dn, cdb10(0x41, 0, 1, 0x08), { out = string.rep("00", bs) }, 5, 0x24, 0)
   assert(expect_good(dn, "1a0808001400"):sub(9, 12) == "0812")
   -- no write: write protected
   local dr = M.new(T.lun(64 * bs, bs), T.ram(64 * bs, { readonly = true }))
   assert(expect_good(dr, "1a003f000400") == "43009008")
   expect_sense(dr, cdb10(0x2a, 0, 1), { out = string.rep("00", bs) }, 7, 0x27, 0)
   expect_sense(dr, cdb10(0x41, 0, 1, 0x08), nil, 7, 0x27, 0)   -- before the data check

   -- power-on unit attention, cleared by REQUEST SENSE
   local dp = M.new(T.lun(64 * bs, bs, { power_on_ua = true }), T.ram(64 * bs))
   expect_good(dp, "120000002400")
   assert(expect_good(dp, "030000001200"):sub(1, 28) == "70000600000000" .. "0a000000002900")
   expect_good(dp, "000000000000")

end

return M
