--- lunar.backend.file: a disk in a regular file or a block device.
--
--    args:
--      path: /var/lib/lunar/disk0.img   # required; absolute is best (relative:
--                                       # to the daemon's working directory)
--      create: true      # create it if missing, and grow it (sparse) to the LUN size
--      readonly: true    # open it read-only: the LUN is write protected
--      unmap: false      # do not offer UNMAP even where holes can be punched
--
-- Reads and writes go straight between the file and the command's iovecs
-- (preadv/pwritev, lunar.io): no copy through Lua.  SYNCHRONIZE CACHE and
-- FUA writes are fdatasync(2), so the LUN says it has a write cache (WCE).
-- UNMAP and WRITE SAME with UNMAP punch holes (fallocate PUNCH_HOLE |
-- KEEP_SIZE), which read back as zeros: LBPRZ.  Whether the file system
-- can punch is found out at open without touching the data (a punch past
-- the end of the file); a block device gets UNMAP only with `unmap: true`
-- (punching one zeroes it or fails, the kernel guarantees it).
--
-- I/O is synchronous: a slow file slows this LUN's worker, not the others.

local ffi = require "ffi"
local lunar = require "lunar"
local lio = require "lunar.io"

local C = ffi.C
local floor = math.floor
local errno = ffi.errno

local M = {}

local function fail_open(lun, what, e)
   error(string.format("file backend: %s %s: %s", what, lun.path, lio.strerror(e)), 0)
end

-- Medium errors carry the command's first LBA; a full file system is the
-- thin-provisioning answer, SPACE ALLOCATION FAILED WRITE PROTECT.
local function io_error(lun, e, off, write)
   local now = lunar.now_ns()
   if now - (lun.last_error_log or 0) > 1e9 then
      lun.last_error_log = now
      lunar.log(lun, "warn", "%s at byte %.0f of %s: %s", write and "write" or "read", off,
         lun.path, lio.strerror(e))
   end
   local lba = floor(off / lun.block_size)
   if write and (e == lio.ENOSPC or e == lio.EDQUOT) then
      error(lunar.sense.DATA_PROTECT(0x27, 0x07, lba))
   end
   error(write and lunar.sense.write_error(lba) or lunar.sense.read_error(lba))
end

-- The file must cover the LUN: grow it (sparse) when allowed.
local function cover(lun, size)
   local have = tonumber(C.lseek(lun.fd, 0, lio.SEEK_END))
   if have < 0 then fail_open(lun, "cannot size", errno()) end
   if have >= size then return end
   if not lun.file_create or lun.file_readonly then
      error(string.format("file backend: %s is %.0f bytes, the LUN is %.0f (create: true grows it)",
         lun.path, have, size), 0)
   end
   if C.ftruncate(lun.fd, size) ~= 0 then fail_open(lun, "cannot grow", errno()) end
end

function M.open(lun, args)
   if type(args.path) ~= "string" or args.path == "" then
      error("file backend: args.path (the file or block device) is required", 0)
   end
   lun.path = args.path
   lun.file_readonly = args.readonly == true
   lun.file_create = args.create == true
   local flags = lio.O_CLOEXEC + (lun.file_readonly and lio.O_RDONLY or lio.O_RDWR)
   if lun.file_create and not lun.file_readonly then flags = flags + lio.O_CREAT end
   lun.fd = C.open(lun.path, flags, ffi.new("int", 384))
   if lun.fd < 0 then fail_open(lun, "cannot open", errno()) end
   cover(lun, lun.size)
   if lun.file_readonly then
      M.write, M.flush, M.unmap = nil, nil, nil   -- the disk is write protected
      return
   end
   -- Can holes be punched?  Past the end of the file a punch changes
   -- nothing: 0 on a file system that can, EOPNOTSUPP on one that cannot,
   -- EINVAL on a block device.
   local punch = lio.FALLOC_FL_PUNCH_HOLE + lio.FALLOC_FL_KEEP_SIZE
   local size = tonumber(C.lseek(lun.fd, 0, lio.SEEK_END))
   local probe = C.fallocate(lun.fd, punch, size, lun.block_size) == 0
   if args.unmap == false or not (probe or args.unmap == true) then
      M.unmap = nil
   else
      lun.lbprz = true
   end
end

function M.read(lun, cmd, off, len)
   local e = lio.preadv(lun.fd, cmd, len, off)
   if e ~= 0 then io_error(lun, e, off, false) end
end

function M.write(lun, cmd, off, len)
   local e = lio.pwritev(lun.fd, cmd, len, off)
   if e ~= 0 then io_error(lun, e, off, true) end
end

function M.flush(lun, cmd, off, len)
   if C.fdatasync(lun.fd) ~= 0 then io_error(lun, errno(), off, true) end
end

function M.unmap(lun, cmd, off, len)
   local punch = lio.FALLOC_FL_PUNCH_HOLE + lio.FALLOC_FL_KEEP_SIZE
   if C.fallocate(lun.fd, punch, off, len) ~= 0 then io_error(lun, errno(), off, true) end
end

-- The transport reports a new size: the file must cover it.
function M.resize(lun, old)
   cover(lun, lun.size)
end

function M.close(lun)
   if lun.fd and lun.fd >= 0 then C.close(lun.fd) end
   lun.fd = -1
end

function M.selftest()
   local disk = require "lunar.disk"
   local T = disk.T
   local path = os.tmpname()
   os.remove(path)
   local bs = 512
   local lun = T.lun(256 * bs, bs)
   -- a missing file without create: an error naming it
   local ok, e = pcall(M.open, lun, { path = path })
   assert(not ok and e:find("cannot open " .. path, 1, true), e)
   M.open(lun, { path = path, create = true })
   local f = io.open(path, "rb")
   assert(f:seek("end") == 256 * bs)
   f:close()
   local d = disk.new(lun, M)
   local st, _, data = T.run(d, "2a000000000a00000400", { out = string.rep("c3", 4 * bs), seg = 700 })
   assert(st == 0)
   st, _, data = T.run(d, "28000000000900000600", { inlen = 6 * bs, seg = 1000 })
   assert(st == 0)
   assert(data == string.rep("00", bs) .. string.rep("c3", 4 * bs) .. string.rep("00", bs))
   -- the bytes are in the file
   f = io.open(path, "rb")
   f:seek("set", 10 * bs)
   assert(f:read(4 * bs) == string.rep("\xc3", 4 * bs))
   f:close()
   -- FUA and SYNCHRONIZE CACHE: fdatasync succeeds
   assert(T.run(d, "2a080000000a00000100", { out = string.rep("11", bs) }) == 0)
   assert(T.run(d, "35000000000000000000") == 0)
   -- a punched hole reads zeros (tmpfs, ext4, xfs can punch)
   local _, _, b2 = T.run(d, "1201b2ffff00")
   if b2 == "00b2000400e40200" then
      st = T.run(d, "42000000000000001800", { out = "0016001000000000" .. "000000000000000b" ..
         "0000000200000000" })
      assert(st == 0)
      st, _, data = T.run(d, "28000000000a00000400", { inlen = 4 * bs })
      assert(data == string.rep("11", bs) .. string.rep("00", 2 * bs) .. string.rep("c3", bs))
   end
   M.close(lun)
   -- read-only: no write op, the disk is write protected
   local ro = T.lun(256 * bs, bs)
   local saved = { write = M.write, flush = M.flush, unmap = M.unmap }
   M.open(ro, { path = path, readonly = true })
   local dr = disk.new(ro, M)
   st = T.run(dr, "2a000000000a00000100", { out = string.rep("00", bs) })
   assert(st == 2)
   st, _, data = T.run(dr, "28000000000d00000100", { inlen = bs })
   assert(st == 0 and data == string.rep("c3", bs))
   M.close(ro)
   M.write, M.flush, M.unmap = saved.write, saved.flush, saved.unmap
   -- a file smaller than the LUN, without create
   local big = T.lun(1024 * bs, bs)
   ok, e = pcall(M.open, big, { path = path })
   assert(not ok and e:find("is 131072 bytes, the LUN is 524288"), e)
   os.remove(path)
end

return M
