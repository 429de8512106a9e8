-- SPDX-License-Identifier: MIT
--
-- dgram_sink.lua SOCKET OUT READY [STOP]: a stand-in for journald or
-- systemd's notify socket.  Binds a datagram socket at SOCKET, creates
-- READY once bound, writes each datagram received to OUT followed by a
-- newline if it lacks one, and exits when a datagram holds STOP (default
-- "STOPPING=1") or nothing came for 10 s.  Run with `lunar lua`.
local ffi = require "ffi"

ffi.cdef [[
struct lunar_test_sockaddr_un { unsigned short family; char path[108]; };
struct lunar_test_timeval { long sec; long usec; };
int socket(int, int, int);
int bind(int, const void *, unsigned);
int setsockopt(int, int, int, const void *, unsigned);
long recv(int, void *, unsigned long, int);
]]

local AF_UNIX, SOCK_DGRAM, SOL_SOCKET, SO_RCVTIMEO = 1, 2, 1, 20
local path, out_path, ready, stop = arg[1], arg[2], arg[3], arg[4] or "STOPPING=1"
local out = assert(io.open(out_path, "wb"))
local fd = ffi.C.socket(AF_UNIX, SOCK_DGRAM, 0)
local sa = ffi.new("struct lunar_test_sockaddr_un", AF_UNIX, path)
assert(ffi.C.bind(fd, sa, ffi.sizeof(sa)) == 0, "cannot bind " .. path)
local tv = ffi.new("struct lunar_test_timeval", 10, 0)
ffi.C.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, ffi.sizeof(tv))
assert(io.open(ready, "w")):close()
local buf = ffi.new("char[65536]")
while true do
   local n = tonumber(ffi.C.recv(fd, buf, 65536, 0))
   if n <= 0 then break end
   local d = ffi.string(buf, n)
   out:write(d, d:sub(-1) == "\n" and "" or "\n")
   out:flush()
   if d:find(stop, 1, true) then break end
end
out:close()
