-- @NAME@.lua: a disk-level lunar handler, made by `lunar new @NAME@`.
--
-- At the disk level a handler has `read` (and usually `write`); lunar.disk
-- answers every other command a disk must (INQUIRY and its VPD pages, READ
-- CAPACITY, MODE SENSE/SELECT, REQUEST SENSE, unit attentions, VERIFY,
-- WRITE SAME, UNMAP, COMPARE AND WRITE, REPORT SUPPORTED OPERATION CODES)
-- and calls the ops below with byte offsets into the medium.  The ops a
-- handler has are what the LUN advertises.
--
-- Every op of the level is written out here.  As generated, the medium is
-- RAM and each op does exactly what lunar does when the op is left out:
--  * open, read, write: a RAM disk (without write it would be write
--    protected);
--  * write_same, compare_and_write: what lunar.disk's emulation does with
--    read and write, on the same RAM;
--  * tick, abort, reset, close, check, export, import: nothing;
--  * flush, unmap, resize: their presence alone changes what the LUN
--    advertises or accepts (a write cache, thin provisioning, a new size),
--    so the end of this file sets them to false, which lunar treats as
--    absent.  Delete such a line to turn the op on.
--
-- Each op: when it is called, its cmd fields, its valid completions, in
-- docs/handlers.md and lunar-lua(3); what the disk answers: docs/disk.md.
-- The test next to the YAML (test_@NAME@.sh) runs this LUN over sim.

local ffi = require "ffi"
local lunar = require "lunar"

local copy, fill = ffi.copy, ffi.fill
local min = math.min

local M = {}

--- open(lun, args): the LUN starts (before any command; on every reload).
-- args is the YAML's `args:` mapping; lunar.disk reads its own settings
-- there too (vendor, product, serial, readonly, write_cache...).
-- Valid completions: return; error("why") fails the LUN (NOT READY 2/04/03,
-- `lunarctl status` shows why) and leaves the other LUNs serving.
function M.open(lun, args)
   -- C-owned memory: zero-filled, it survives a handler reload and does
   -- not count against lua_memory_limit
   lun.ram = lunar.mem(lun, "ram", lun.size)
   -- with unmap on: unmapped blocks read zeros (LBPRZ)
   lun.lbprz = true
end

--- read(lun, cmd, offset, length): required.  Fill the first length bytes
-- of the Data-In buffer with the medium's bytes at offset.  The disk has
-- checked the CDB, the range and the buffer; cmd.xfer is set already.
-- Valid completions: return (GOOD); error(lunar.sense.read_error(lba)) or
-- any lunar.sense error (that CHECK CONDITION); cmd:defer() and answer later
-- (cmd:good() / cmd:check()), not when the disk calls read itself (VERIFY,
-- COMPARE AND WRITE: those must complete at once).
function M.read(lun, cmd, offset, length)
   cmd:data_in(lun.ram + offset, length)
end

--- write(lun, cmd, offset, length, durable): store length bytes of the
-- Data-Out buffer at offset.  durable: FUA or write cache off; when write
-- returns the disk calls flush for it, so a write that completes at once
-- may ignore it.  Absent: the LUN is write protected (7/27/00).
-- Valid completions: as read (lunar.sense.write_error(lba) for a bad block).
function M.write(lun, cmd, offset, length, durable)
   cmd:data_out(lun.ram + offset, length)
end

--- flush(lun, cmd, offset, length): make the writes in the range durable
-- (SYNCHRONIZE CACHE, FUA, write cache turned off, STOP).  Present: the
-- Caching mode page says WCE=1 (changeable).  Absent (as generated): no
-- volatile cache, WCE=0, SYNCHRONIZE CACHE is GOOD at once.
-- Valid completions: as write; may defer.
function M.flush(lun, cmd, offset, length)
   -- RAM has nothing to make durable; a file would fdatasync(2) here
end

--- unmap(lun, cmd, offset, length): deallocate the range (UNMAP, WRITE SAME
-- with UNMAP).  Present: the LUN is thin provisioned (VPD B2 LBPU/LBPWS,
-- READ CAPACITY(16) LBPME, B0 unmap limits).  Absent (as generated): UNMAP
-- is 5/20/00 and WRITE SAME's UNMAP bit 5/24/00.  May be called several
-- times for one UNMAP.
-- Valid completions: return, or raise a sense error; never defer.
function M.unmap(lun, cmd, offset, length)
   fill(lun.ram + offset, length)
end

--- write_same(lun, cmd, offset, length): write the one block of the Data-Out
-- buffer over the whole range.  lunar.disk's default (op absent) repeats
-- the block and writes it with write(), 1 MiB at a time; this does the
-- same to the RAM in one go.
-- Valid completions: as write; may defer.
function M.write_same(lun, cmd, offset, length)
   local bs = lun.block_size
   local p = lun.ram + offset
   cmd:data_out(p, bs)
   local have = bs
   while have < length do
      local n = min(have, length - have)
      copy(p + have, p, n)
      have = have + n
   end
end

--- compare_and_write(lun, cmd, offset, length, durable): the Data-Out holds
-- 2 * length bytes: if the first half equals the medium at offset, write
-- the second half there; if not, error(lunar.sense.miscompare(n)) with n
-- the offset of the first byte that differs, and write nothing.  Must be
-- atomic with respect to other writes.  lunar.disk's default (op absent)
-- reads with read(), compares and writes with write(); this is the same
-- on the RAM.
-- Valid completions: as write, plus the miscompare; may defer only if it
-- stays atomic.
function M.compare_and_write(lun, cmd, offset, length, durable)
   local cur = lun.ram + offset
   local buf = lun.caw
   if not buf or lun.caw_len < length then
      -- at most 255 blocks: made once, on the first such command
      lun.caw_len = 255 * lun.block_size
      buf = ffi.new("uint8_t[?]", lun.caw_len)
      lun.caw = buf
   end
   cmd:data_out(buf, length)
   for i = 0, length - 1 do
      if buf[i] ~= cur[i] then error(lunar.sense.miscompare(i)) end
   end
   cmd:data_out(cur, length, length)
end

--- tick(lun, now): lunar.wake_at(lun, ns) asked for it; now is
-- CLOCK_MONOTONIC in ns.  Where deferred commands are answered later
-- (examples/slow.lua).  Absent or empty: nothing happens.
function M.tick(lun, now)
end

--- abort(lun, cmd, tmr_type): a task management function (ABORT TASK, LUN
-- RESET...) aborted cmd, a command this handler deferred and still holds.
-- Answer it soon (cmd:reply(lunar.status.TASK_ABORTED) or any answer).
-- Absent or empty: nothing (this handler never defers).
function M.abort(lun, cmd, tmr_type)
end

--- reset(lun, tmr_type): a LUN or target reset.  lunar.disk has already
-- dropped its unit attentions (and posted 6/29/03 off TCMU); drop any
-- volatile state of your own.  Absent or empty: nothing more.
function M.reset(lun, tmr_type)
end

--- resize(lun, old_size): the transport's device changed size (TCMU
-- attrib/dev_size); lun.size and lun.blocks are new already and lunar.disk
-- posts 6/2A/09.  Absent (as generated): the LUN keeps its old size.
function M.resize(lun, old_size)
   lun.ram = lunar.mem(lun, "ram", lun.size)   -- grows or shrinks in place
end

--- close(lun): the LUN goes away (lunar exits, or the LUN left the YAML).
-- Make durable what must be.  Absent or empty: nothing.
function M.close(lun)
end

--- check(lun): on a reload, after open() of the new generation: raise an
-- error to refuse it (the old handler keeps serving).  Absent or empty:
-- every generation that opens is taken.
function M.check(lun)
end

--- export(lun) -> value: on a reload, the old generation's state for the
-- new one, as plain data (tables, strings, numbers, booleans; no cdata, no
-- functions).  lunar.mem memory needs no export: it stays.  Absent, or
-- returning nil: nothing is carried.
function M.export(lun)
   return nil
end

--- import(lun, value): on a reload, in the new generation (after open),
-- the old one's export() value.  Absent or empty: nothing is taken.
function M.import(lun, value)
end

-- Off until you want them (false is the same as absent; see the top).
M.flush = false
M.unmap = false
M.resize = false

return M
