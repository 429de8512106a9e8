-- readonly-image.lua: serve a disk image read-only.
--
-- A disk-level handler without write is a write-protected disk: MODE
-- SENSE sets WP, and WRITE, WRITE SAME, UNMAP, COMPARE AND WRITE get
-- 7/27/00 DATA PROTECT.  This one opens the image read-only whatever the
-- YAML says, and offers only read.
--
--   args: { path: /srv/images/debian.iso }

local file = require "lunar.backend.file"

local M = {}

function M.open(lun, args)
   args.readonly = true
   file.open(lun, args)
end

M.read = file.read
M.close = file.close

return M
