-- fortune.lua: a read-only disk whose blocks are made up when read.
--
-- Block N reads as a line of text naming its LBA, then one of a few
-- sayings, padded with spaces to the block size and ending in a newline:
--
--    $ dd if=/dev/sdX bs=512 skip=7 count=1 status=none
--    block 0000000007: Any sufficiently advanced technology is ...
--
-- For labs: every block is known without storing any.  There is no write
-- op, so the disk is write protected.  Nothing is allocated per read: the
-- blocks are built from templates made at open, the LBA's digits patched
-- into a scratch block.
--
--   args: { fortunes: ["...", "..."] }   # optional: your own

local ffi = require "ffi"

local copy, floor, min = ffi.copy, math.floor, math.min

local M = {}

local SAYINGS = {
   "Any sufficiently advanced technology is indistinguishable from magic.",
   "The best way to predict the future is to invent it.",
   "Simple things should be simple, complex things should be possible.",
   "There is no place like 127.0.0.1.",
   "A SCSI target is a very patient listener.",
   "Premature optimization is the root of all evil.",
   "In theory, there is no difference between theory and practice.",
}

local templates, scratch
local DIGITS = 10           -- "block 0000000007: "
local PREFIX = 6            -- where the digits start

function M.open(lun, args)
   local bs = lun.block_size
   local list = args.fortunes or SAYINGS
   if type(list) ~= "table" or #list == 0 then
      error("fortune: args.fortunes must be a list of strings", 0)
   end
   templates = {}
   for i, s in ipairs(list) do
      local t = ffi.new("uint8_t[?]", bs)
      ffi.fill(t, bs, 0x20)
      local line = "block 0000000000: " .. tostring(s)
      copy(t, line, math.min(#line, bs - 1))
      t[bs - 1] = 0x0a
      templates[i] = t
   end
   scratch = ffi.new("uint8_t[?]", bs)
   lun.rotation_rate = 1
end

function M.read(lun, cmd, offset, length)
   local bs = lun.block_size
   local n = #templates
   local done = 0
   while done < length do
      local lba = (offset + done) / bs
      copy(scratch, templates[lba % n + 1], bs)
      local v = lba
      for i = PREFIX + DIGITS - 1, PREFIX, -1 do
         scratch[i] = 0x30 + v % 10
         v = floor(v / 10)
      end
      local k = cmd:data_in(scratch, min(bs, length - done), done)
      if k == 0 then break end
      done = done + k
   end
end

return M
