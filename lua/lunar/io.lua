--- lunar.io: file I/O straight on a command's iovecs.
--
--    local io = require "lunar.io"
--    local err = io.preadv(fd, cmd, length, offset)   -- into Data-In
--    local err = io.pwritev(fd, cmd, length, offset)  -- from Data-Out
--
-- A command's buffer is a list of iovecs pointing into the transport's
-- memory (the TCMU data area, a guest's granted pages).  These functions
-- hand that list to preadv(2)/pwritev(2) as it is: no bounce buffer, no
-- Lua string.  They move exactly `length` bytes (which may be less than
-- the buffer: the disk passes what the CDB asks for), retry EINTR and
-- short transfers, and read zeros past the end of a file.  They return 0
-- or an errno; they never raise, so a backend chooses the sense.
--
-- Also the libc declarations the backends and lunar.disk share (memcmp,
-- fallocate, fdatasync...), declared once here so two modules never
-- redeclare the same function.

local ffi = require "ffi"
require "lunar.abi_cdef"

local C = ffi.C
local cast, fill, errno = ffi.cast, ffi.fill, ffi.errno
local tonumber, min = tonumber, math.min

-- One declaration per call: a handler may have declared some of these
-- already, and LuaJIT refuses a redeclaration.
local decls = {
   "ssize_t pread(int fd, void *buf, size_t count, int64_t offset);",
   "ssize_t pwrite(int fd, const void *buf, size_t count, int64_t offset);",
   "ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, int64_t offset);",
   "ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, int64_t offset);",
   "int open(const char *path, int flags, ...);",
   "int close(int fd);",
   "int fdatasync(int fd);",
   "int fallocate(int fd, int mode, int64_t offset, int64_t len);",
   "int64_t lseek(int fd, int64_t offset, int whence);",
   "int ftruncate(int fd, int64_t length);",
   "int unlink(const char *path);",
   "char *strerror(int errnum);",
   "int memcmp(const void *a, const void *b, size_t n);",
   "int madvise(void *addr, size_t length, int advice);",
}
for _, d in ipairs(decls) do pcall(ffi.cdef, d) end

local M = {}

-- Linux values (the same on x86-64 and aarch64).
M.O_RDONLY, M.O_RDWR, M.O_CREAT, M.O_CLOEXEC = 0, 2, 0x40, 0x80000
M.SEEK_END = 2
M.MADV_DONTNEED = 4
M.FALLOC_FL_KEEP_SIZE, M.FALLOC_FL_PUNCH_HOLE = 1, 2
M.EINTR, M.EIO, M.EINVAL, M.ENOSPC, M.EDQUOT, M.EOPNOTSUPP = 4, 5, 22, 28, 122, 95

-- preadv/pwritev take at most IOV_MAX iovecs per call.
local IOV_MAX = 1024

local u8p = ffi.typeof("uint8_t *")

-- One iovec's worth, with pread/pwrite, until done or an error.  Returns
-- the bytes moved before an error (or len) and the errno (0).
local function move_one(fd, base, len, off, write)
   local done = 0
   while done < len do
      local r
      if write then
         r = tonumber(C.pwrite(fd, base + done, len - done, off + done))
      else
         r = tonumber(C.pread(fd, base + done, len - done, off + done))
      end
      if r < 0 then
         local e = errno()
         if e ~= M.EINTR then return done, e end
      elseif r == 0 then
         if write then return done, M.EIO end
         fill(base + done, len - done)   -- past the end of the file
         return len, 0
      else
         done = done + r
      end
   end
   return len, 0
end

-- The slow path: iovec by iovec, clipped to len.  Also finishes what a
-- short preadv/pwritev left.
local function move_each(fd, c, len, off, write)
   local iov = c.iov
   local done = 0
   for i = 0, c.iovcnt - 1 do
      if done >= len then break end
      local v = iov[i]
      local n = min(tonumber(v.iov_len), len - done)
      local _, e = move_one(fd, cast(u8p, v.iov_base), n, off + done, write)
      if e ~= 0 then return e end
      done = done + n
   end
   if done < len then return M.EIO end   -- the buffer is shorter than len
   return 0
end

local function move(fd, c, len, off, write)
   local cnt = c.iovcnt
   if len == tonumber(c.length) and cnt <= IOV_MAX then
      local r
      if write then
         r = tonumber(C.pwritev(fd, c.iov, cnt, off))
      else
         r = tonumber(C.preadv(fd, c.iov, cnt, off))
      end
      if r == len then return 0 end
      -- short (EOF, a signal) or an error: redo it the careful way; both
      -- directions are idempotent
   end
   return move_each(fd, c, len, off, write)
end

--- io.preadv(fd, cmd, length, offset) -- reads length bytes at file
-- offset into cmd's Data-In buffer (from its byte 0).  Returns 0 or errno.
function M.preadv(fd, c, len, off)
   return move(fd, c, len, off, false)
end

--- io.pwritev(fd, cmd, length, offset) -- writes the first length bytes of
-- cmd's Data-Out buffer at file offset.  Returns 0 or errno.
function M.pwritev(fd, c, len, off)
   return move(fd, c, len, off, true)
end

--- io.strerror(errno) -- the message (allocates: errors and logs only).
function M.strerror(e)
   return ffi.string(C.strerror(e))
end

function M.selftest()
   local path = os.tmpname()
   local fd = C.open(path, M.O_RDWR + M.O_CLOEXEC, ffi.new("int", 384))
   assert(fd >= 0)
   local buf = ffi.new("uint8_t[8192]")
   local iov = ffi.new("struct iovec[3]")
   local c = ffi.new("struct lunar_cmd")
   -- three uneven iovecs: 100 + 1000 + 3000 bytes
   iov[0].iov_base, iov[0].iov_len = buf, 100
   iov[1].iov_base, iov[1].iov_len = buf + 100, 1000
   iov[2].iov_base, iov[2].iov_len = buf + 1100, 3000
   c.iov, c.iovcnt, c.length = iov, 3, 4100
   for i = 0, 4099 do buf[i] = i % 251 end
   -- the fast path (length == buffer) at an offset
   assert(M.pwritev(fd, c, 4100, 512) == 0)
   fill(buf, 8192)
   assert(M.preadv(fd, c, 4100, 512) == 0)
   for i = 0, 4099 do assert(buf[i] == i % 251, i) end
   -- the clipped path: 150 bytes only, the rest of the buffer untouched
   fill(buf, 8192, 0xee)
   assert(M.preadv(fd, c, 150, 512) == 0)
   for i = 0, 149 do assert(buf[i] == i % 251) end
   assert(buf[150] == 0xee)
   -- past the end of the file: zeros, no error
   fill(buf, 8192, 0xee)
   assert(M.preadv(fd, c, 4100, 4096) == 0)
   for i = 0, 515 do assert(buf[i] == (i + 3584) % 251) end
   for i = 516, 4099 do assert(buf[i] == 0, i) end
   -- more than the buffer holds is an error, not an overrun
   assert(M.preadv(fd, c, 5000, 0) == M.EIO)
   -- a bad descriptor comes back as EBADF
   assert(M.preadv(-1, c, 100, 0) == 9)
   C.close(fd)
   os.remove(path)
   assert(M.strerror(M.ENOSPC):find("space"))
end

return M
