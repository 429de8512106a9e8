-- disk.lua: the disk of the hot-plug test: the file backend (lunar.disk
-- answers SPC/SBC around its read/write/flush/unmap/resize) with a raw
-- command() in front that holds one READ, and hooks that log what the
-- transport delivered, for the test to find in the daemon log:
--
--   args.path, args.create   as for the file backend
--   args.stall_lba           the first READ(10) of that LBA is held and
--                            never answered: the initiator times out and
--                            aborts it (ABORT TASK), abort() answers it
--   abort(), reset(), resize() log what they were given

local lunar = require "lunar"
local file = require "lunar.backend.file"

-- read, write, flush, unmap, close: the file backend's
local M = setmetatable({}, { __index = file })

function M.open(lun, args)
   file.open(lun, args)
   lun.stall_lba = args.stall_lba
end

function M.command(lun, cmd)
   if cmd.cdb[0] == 0x28 and lun.stall_lba and cmd:lba() == lun.stall_lba then
      lun.stall_lba = nil
      lunar.log(lun, "holding the READ of LBA %d", cmd:lba())
      return cmd:defer()
   end
   return lunar.PASS
end

function M.abort(lun, cmd, tmr_type)
   lunar.log(lun, "abort: type %d, LBA %d", tmr_type, cmd:lba())
   if cmd:is_deferred() then cmd:reply(lunar.status.TASK_ABORTED) end
end

function M.reset(lun, tmr_type)
   lunar.log(lun, "reset: type %d", tmr_type)
end

function M.resize(lun, old_size)
   lunar.log(lun, "resize: %d -> %d bytes, write cache %s", old_size, lun.size,
      tostring(lun.write_cache))
   return file.resize(lun, old_size)
end

return M
