-- @NAME@.lua: a raw-level lunar handler, made by `lunar new @NAME@ --level raw`.
--
-- At the raw level command(lun, cmd) sees every CDB, as a device does: it
-- is how to write another device type than a disk (examples/tape.lua), or
-- to answer a command differently.  As generated this is a small disk
-- (peripheral device type 0) in RAM answering TEST UNIT READY, REQUEST
-- SENSE, INQUIRY, READ CAPACITY(10), READ(10) and WRITE(10) itself; every
-- other opcode gets 5/20/00 INVALID COMMAND OPERATION CODE.  Add an opcode
-- by adding a function to `answer` below.
--
-- Every other op of the level is written out too, each doing exactly what
-- lunar does when the op is left out: tick, abort, reset, close, check,
-- export, import do nothing; resize, whose presence alone makes the LUN
-- take a new size, is set to false (the same as absent) at the end of this
-- file.
--
-- Each op: when it is called, its cmd fields, its valid completions, in
-- docs/handlers.md and lunar-lua(3).  The test next to the YAML
-- (test_@NAME@.sh) runs this LUN over sim.

local bit = require "bit"
local ffi = require "ffi"
local lunar = require "lunar"
local scsi = lunar.scsi

local band = bit.band
local min = math.min
local be16, put_be32 = scsi.be16, scsi.put_be32
local op = scsi.op

local M = {}

-- Answers built once in open() and copied per command: nothing is
-- allocated per command.
local inquiry = ffi.new("uint8_t[36]")
local capacity = ffi.new("uint8_t[8]")
local sense = ffi.new("uint8_t[18]")

local function put_ascii(buf, off, len, s)
   ffi.fill(buf + off, len, 0x20)
   ffi.copy(buf + off, s, min(#s, len))
end

--- open(lun, args): the LUN starts (before any command; on every reload).
-- args is the YAML's `args:` mapping.
-- Valid completions: return; error("why") fails the LUN (NOT READY 2/04/03,
-- `lunarctl status` shows why) and leaves the other LUNs serving.
function M.open(lun, args)
   -- C-owned memory: zero-filled, it survives a handler reload and does
   -- not count against lua_memory_limit
   lun.ram = lunar.mem(lun, "ram", lun.size)
   inquiry[0] = scsi.device.DISK      -- peripheral device type
   inquiry[2] = 0x06                  -- SPC-4
   inquiry[3] = 0x02                  -- response data format 2
   inquiry[4] = 36 - 5                -- additional length
   inquiry[7] = 0x02                  -- CMDQUE
   put_ascii(inquiry, 8, 8, args.vendor or "LUNAR")
   put_ascii(inquiry, 16, 16, args.product or "@PRODUCT@")
   put_ascii(inquiry, 32, 4, "0001")
   put_be32(capacity, 0, min(lun.blocks - 1, 0xffffffff))
   put_be32(capacity, 4, lun.block_size)
   sense[0], sense[7] = 0x70, 10      -- fixed format, NO SENSE
end

-- One function per opcode.  Each answers: cmd:good(), cmd:check(...),
-- error(lunar.sense.X(...)), cmd:reply(status), or cmd:defer() and later.
local answer = {}

answer[op.TEST_UNIT_READY] = function(lun, cmd)
   return cmd:good()
end

answer[op.REQUEST_SENSE] = function(lun, cmd)
   -- nothing pending: NO SENSE (a device with deferred errors keeps them)
   cmd:data_in(sense, min(18, cmd.cdb[4]))
   return cmd:good()
end

answer[op.INQUIRY] = function(lun, cmd)
   local cdb = cmd.cdb
   -- no VPD pages here: EVPD or a page code is 5/24/00 on that field
   if band(cdb[1], 0x01) ~= 0 then error(lunar.sense.invalid_field(1, 0)) end
   if cdb[2] ~= 0 then error(lunar.sense.invalid_field(2)) end
   cmd:data_in(inquiry, min(36, be16(cdb, 3)))
   return cmd:good()
end

answer[op.READ_CAPACITY_10] = function(lun, cmd)
   cmd:data_in(capacity, 8)
   return cmd:good()
end

-- READ(10) and WRITE(10): the range is checked, the data is copied
-- between the command's buffer and the RAM.
local function range(lun, cmd)
   local lba, n = cmd:lba(), cmd:blocks()
   if lba + n > lun.blocks then error(lunar.sense.lba_out_of_range()) end
   return lba * lun.block_size, n * lun.block_size
end

answer[op.READ_10] = function(lun, cmd)
   local off, len = range(lun, cmd)
   cmd:data_in(lun.ram + off, len)
   return cmd:good()
end

answer[op.WRITE_10] = function(lun, cmd)
   local off, len = range(lun, cmd)
   cmd:data_out(lun.ram + off, len)
   return cmd:good()
end

--- command(lun, cmd): required.  Every command, in arrival order, on the
-- LUN's worker; cmd is its slot (cmd.cdb[0..cdb_len), cmd.dir,
-- cmd.length, cmd.iov...).  Every call answers the command or defers it.
-- Valid completions: return cmd:good([n]); return cmd:check(key, asc, ascq
-- [, info]); error(lunar.sense.X(...)); return cmd:reply(status) (BUSY,
-- TASK SET FULL...); cmd:defer() and answer later (from tick); return
-- lunar.PASS to let lunar.disk answer it from the disk ops this file has
-- (none as generated).  Any other error, or returning without an answer,
-- is 4/44/00 and a log line with the CDB and a traceback.
function M.command(lun, cmd)
   local f = answer[cmd.cdb[0]]
   if f then return f(lun, cmd) end
   error(lunar.sense.invalid_opcode())
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

--- reset(lun, tmr_type): a LUN or target reset (tmr_type 5, 6, 7 or 128).
-- Drop volatile state: reservations, pending unit attentions.  Absent or
-- empty: nothing.
function M.reset(lun, tmr_type)
end

--- resize(lun, old_size): the transport's device changed size (TCMU
-- attrib/dev_size); lun.size and lun.blocks are new already.  A raw handler
-- posts its own unit attention (6/2A/09).  Absent (as generated): the LUN
-- keeps its old size.
function M.resize(lun, old_size)
   lun.ram = lunar.mem(lun, "ram", lun.size)   -- grows or shrinks in place
   put_be32(capacity, 0, min(lun.blocks - 1, 0xffffffff))
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

-- Off until you want it (false is the same as absent; see the top).
M.resize = false

return M
