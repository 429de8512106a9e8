--- lunar.dispatch: the core-owned loop between the C worker and a handler.
--
-- C calls new() once per generation (protected), keeps the functions of
-- the table it returns, and then makes exactly one lua_pcall of batch(n) per ring
-- wakeup.  batch() walks the slot indices C left in the batch vector and
-- calls the handler for each under its own xpcall, so one failing command
-- never takes the rest of the batch down.  Nothing here allocates per
-- command: slots are reached through a table of pointers built once.

local ffi = require "ffi"
local abi = require "lunar.abi_cdef"
local lunar = require "lunar"
local scsi = require "lunar.scsi"
local disk = require "lunar.disk"
local filter = require "lunar.filter"
local state = require "lunar.state"

local C = ffi.C
local xpcall, type, tostring, error = xpcall, type, tostring, error
local traceback = debug.traceback
local is_sense = scsi.is_sense

local NEW, DONE, DEFERRED, EXPIRED = 1, 2, 3, 4
local HARDWARE_ERROR = scsi.key.HARDWARE_ERROR
local CHECK_CONDITION = 2
local RESETS = { [5] = true, [6] = true, [7] = true, [128] = true }

local M = {}

-- xpcall message handler: sense errors pass unchanged, anything else gets
-- a traceback for the log.  In LuaJIT level 1 is the function that raised
-- the error (msgh itself is not on the stack it walks).
local function msgh(e)
   if is_sense(e) then return e end
   return traceback(tostring(e), 1)
end

local function load_handler(info)
   local chunk, err = loadfile(info.handler)
   if not chunk then error(err, 0) end
   local h = chunk(info.name)
   if type(h) ~= "table" then
      error(info.handler .. ": a handler must return a table of functions, got " .. type(h), 0)
   end
   if type(h.command) ~= "function" and type(h.read) ~= "function" then
      error(info.handler .. ": the handler has neither command(lun, cmd) (raw level) nor " ..
         "read(lun, cmd, offset, length) (disk level)", 0)
   end
   return h
end

function M.new(lun_id, info, cmd_size)
   if abi.cmd_size ~= cmd_size then
      error(string.format("ABI mismatch: Lua sees struct lunar_cmd of %d bytes, C %d: rebuild",
         abi.cmd_size, cmd_size), 0)
   end
   local slots = C.lunar_slots(lun_id)
   local nslots = C.lunar_slot_count(lun_id)
   local batchv = C.lunar_batch(lun_id)
   local cmds = {}
   for i = 0, nslots - 1 do cmds[i] = slots + i end

   local h = load_handler(info)
   local handler = h             -- the handler's own table (check/export/import)
   local lun = lunar.new_lun(info)
   if h.open then h.open(lun, info.args) end
   -- lunar.disk around the handler's ops (or behind its lunar.PASS), the
   -- YAML's filters in front: from here on h is that whole stack
   h = filter.chain(lun, disk.wrap(lun, h), info.filters)
   local command = h.command
   local abort, reset = h.abort, h.reset

   local function fail(c, e)
      if is_sense(e) then
         c:fail(e)
         return
      end
      if e == "not enough memory" then
         collectgarbage()
         e = "not enough memory: lua_memory_limit reached"
      end
      C.lunar_log_cmd(lun_id, c, tostring(e))
      if c.state == NEW or c.state == DEFERRED then
         c:check(HARDWARE_ERROR, 0x44, 0x00)
      end
   end

   local function batch(n)
      for k = 0, n - 1 do
         local c = cmds[batchv[k]]
         if c.state == NEW then   -- the transport may have answered it already
            local ok, r = xpcall(command, msgh, lun, c)
            if not ok then
               fail(c, r)
            elseif c.state == NEW then
               if type(r) == "number" and r ~= CHECK_CONDITION then
                  c.status = r
                  c.state = DONE
               else
                  fail(c, "command() returned without answering: use cmd:good(), " ..
                     "cmd:check(), error(lunar.sense...), cmd:defer() or return a status")
               end
            end
         end
      end
   end

   -- A task management function: abort(lun, cmd, type) for each command
   -- still held, then reset(lun, type) for the reset kinds.
   local function tmr(tmr_type, n)
      if abort then
         for k = 0, n - 1 do
            local c = cmds[batchv[k]]
            -- answered since the core listed it: nothing left to abort
            -- (EXPIRED: the core answered it, the handler still holds it)
            if c.state == DEFERRED or c.state == EXPIRED then
               local ok, e = xpcall(abort, msgh, lun, c, tmr_type)
               if not ok then C.lunar_log_cmd(lun_id, c, "abort(): " .. tostring(e)) end
            end
         end
      end
      if reset and RESETS[tmr_type] then
         local ok, e = xpcall(reset, msgh, lun, tmr_type)
         if not ok then C.lunar_log(lun_id, 3, "reset(): " .. tostring(e)) end
      end
   end

   local tick_fn = h.tick
   local function tick(now)
      if tick_fn then
         local ok, e = xpcall(tick_fn, msgh, lun, now)
         if not ok then C.lunar_log(lun_id, 3, "tick(): " .. tostring(e)) end
      end
   end

   local function close()
      if h.close then h.close(lun) end
   end

   -- The transport's view of the device (TCMU configfs attributes), given
   -- between batches: at attach and on a reconfiguration.  0 / -1: not
   -- known.  A size change reaches the handler's resize(lun, old_size)
   -- with lun.size and lun.blocks already updated; a handler without
   -- resize() keeps its size (its buffers were sized for it).  Returns
   -- true when the new size was taken.
   local resize = h.resize
   local function device(size, max_sectors, write_cache, cmd_time_out)
      if max_sectors > 0 then lun.max_sectors = max_sectors end
      if write_cache >= 0 then lun.write_cache = write_cache == 1 end
      if cmd_time_out > 0 then lun.cmd_time_out = cmd_time_out end
      if size <= 0 or size == lun.size then return false end
      if not resize then
         C.lunar_log(lun_id, 4, string.format("the device is now %d bytes, but the handler " ..
            "has no resize(lun, old_size): it keeps serving %d", size, lun.size))
         return false
      end
      local old = lun.size
      lun.size = size
      lun.blocks = math.floor(size / lun.block_size)
      local ok, e = xpcall(resize, msgh, lun, old)
      if not ok then C.lunar_log(lun_id, 3, "resize(): " .. tostring(e)) end
      return true
   end

   -- Reload: check(lun) may refuse a generation before it serves;
   -- export(lun) -> value and import(lun, value) carry state across
   -- generations (plain data: tables, strings, numbers, booleans).
   local function check()
      if handler.check then handler.check(lun) end
   end

   -- The disk's mode settings and pending unit attentions go across too:
   -- an initiator's MODE SELECT (write cache off, say) must survive an edit
   -- of the handler.
   local function export()
      local t = { disk = lun.disk and lun.disk:export() }
      if handler.export then t.handler = handler.export(lun) end
      return state.encode(t)
   end

   local function import(text)
      if not text then return end
      local t = state.decode(text)
      if lun.disk and t.disk then lun.disk:import(t.disk) end
      if handler.import and t.handler ~= nil then handler.import(lun, t.handler) end
   end

   -- The Lua files this generation runs: a change to any of them reloads
   -- a LUN with `reload: on-change`.
   local function files()
      local out, seen = { info.handler }, { [info.handler] = true }
      for name in pairs(package.loaded) do
         local path = type(name) == "string" and package.searchpath(name, package.path)
         if path and not seen[path] then
            seen[path] = true
            out[#out + 1] = path
         end
      end
      return out
   end

   return { batch = batch, tmr = tmr, close = close, tick = tick, device = device,
      check = check, export = export, import = import, files = files }
end

return M
