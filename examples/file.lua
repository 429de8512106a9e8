-- file.lua: a disk in a file or a block device.
--
-- lunar.backend.file does the work: READ and WRITE go straight between
-- the file and the command's buffers (preadv/pwritev), SYNCHRONIZE CACHE
-- and FUA are fdatasync, UNMAP punches holes.  This handler is the
-- backend, as it is: a backend is a handler.
--
--   luns:
--     - name: disk0
--       transport: tcmu
--       handler: examples/file.lua
--       size: 10GiB
--       args:
--         path: /var/lib/lunar/disk0.img   # required
--         create: true                     # create it, sparse, if missing
--         serial: 6a0c2b0e9d4f4e7d8c1f0a9b8c7d6e5f   # the WWID follows it

return require "lunar.backend.file"
