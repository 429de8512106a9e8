-- mdblocks.lua: the fenced blocks of a Markdown page, run by lunar itself
-- (`lunar lua tests/labs/mdblocks.lua ...`) for tests/labs/mdrun.sh.
--
--   extract PAGE.md DIR MODE [SRCDIR]
--                              one DIR/NNN.sh per ```sh block of MODE (sim,
--                              vm), DIR/NNN.expect for the ```text expect
--                              block after it, DIR/NNN.where ("page:line")
--   match EXPECT OUTPUT        does OUTPUT show what EXPECT says?
--
-- A page marks its blocks in the fence's info string, after the language
-- (renderers only look at the first word):
--
--   ```sh            run by the sim test (tests/labs, no root, no VM)
--   ```sh vm         run in the VM test (tests/vm/test_docs_*.sh), as root
--   ```sh host       not run as written: commands for the reader's own
--                    machine (building, scripts/lab, scripts/xenlab); in
--                    MODE vm a `scripts/lab [--shell] [CONFIG]` block is
--                    extracted too (NNN.host marks it), for mdrun.sh to
--                    stand in for it with scripts/lab's guest half
--   ```text expect   the output of the ```sh block just before it
--   ```lua file=P    shows file P of the source tree: it must be exactly
--                    that file (checked when SRCDIR is given)
--
-- Matching: every non-blank line of the expect block appears in the
-- output, in that order (the output may have more lines between them).
-- Whitespace runs count as one space; `...` in a line stands for any text;
-- clock times (10:54:04.283901) and latencies (850ns, 24us, 3ms) match any
-- other clock time and latency.

local cmd = arg[1]

local function die(fmt, ...)
   io.stderr:write(string.format(fmt, ...), "\n")
   os.exit(2)
end

local function lines(path)
   local f = io.open(path, "r")
   if not f then die("mdblocks: cannot read %s", path) end
   local t = {}
   for l in f:lines() do t[#t + 1] = l end
   f:close()
   return t
end

local function write(path, text)
   local f = io.open(path, "w")
   if not f then die("mdblocks: cannot write %s", path) end
   f:write(text)
   f:close()
end

local function words(s)
   local t = {}
   for w in s:gmatch("%S+") do t[#t + 1] = w end
   return t
end

local function has(t, w)
   for _, x in ipairs(t) do
      if x == w then return true end
   end
   return false
end

-- Every fenced block: { info = words, first = line, text = "..." }.
local function blocks(page)
   local out, cur, fence, indent = {}, nil, nil, nil
   for n, l in ipairs(lines(page)) do
      if not cur then
         local ind, ticks, info = l:match("^(%s*)(```+)%s*(.-)%s*$")
         if ticks then
            cur = { info = words(info), first = n, body = {} }
            fence, indent = ticks, #ind
         end
      else
         local ind, ticks = l:match("^(%s*)(```+)%s*$")
         if ticks and #ticks >= #fence then
            cur.text = table.concat(cur.body, "\n") .. (#cur.body > 0 and "\n" or "")
            out[#out + 1] = cur
            cur = nil
         else
            -- a block in a list item is indented: so are its lines
            local strip = l:match("^%s*") and math.min(indent, #l:match("^%s*")) or 0
            cur.body[#cur.body + 1] = l:sub(strip + 1)
         end
      end
   end
   if cur then die("%s:%d: a fenced block that is never closed", page, cur.first) end
   return out
end

local function block_mode(b)
   if b.info[1] ~= "sh" then return nil end
   if has(b.info, "host") then return "host" end
   if has(b.info, "vm") then return "vm" end
   return "sim"
end

-- A block that shows a file of the tree must be that file.
local function check_file(page, b, srcdir)
   for _, w in ipairs(b.info) do
      local path = w:match("^file=(.+)$")
      if path then
         local f = io.open(srcdir .. "/" .. path, "r")
         if not f then die("%s:%d: shows %s, which does not exist", page, b.first, path) end
         local text = f:read("*a")
         f:close()
         if text ~= b.text then
            die("%s:%d: the block is not what %s holds: copy the file into the page", page,
               b.first, path)
         end
      end
   end
end

local function extract(page, dir, mode, srcdir)
   local n, prev = 0, nil
   for _, b in ipairs(blocks(page)) do
      local m = block_mode(b)
      if srcdir then check_file(page, b, srcdir) end
      if b.info[1] == "text" and has(b.info, "expect") then
         if not prev then
            die("%s:%d: a ```text expect block that follows no ```sh block", page, b.first)
         end
         if prev.mode == mode then write(prev.path .. ".expect", b.text) end
         prev = nil
      elseif m then
         prev = { mode = m }
         local lab = m == "host" and mode == "vm" and b.text:match("^%s*scripts/lab[%s]") ~= nil
         if lab then prev.mode = "vm" end
         if m == mode or lab then
            n = n + 1
            prev.path = string.format("%s/%03d", dir, n)
            write(prev.path .. ".sh", b.text)
            write(prev.path .. ".where", string.format("%s:%d\n", page, b.first))
            if lab then write(prev.path .. ".host", "") end
         end
      else
         prev = nil
      end
   end
   print(n)
   return 0
end

------------------------------------------------------------------------------

local function norm(s)
   s = s:gsub("\27%[[%d;]*%a", "")                          -- terminal colours
   s = s:gsub("%d%d:%d%d:%d%d%.%d+", "\1")                -- clock times
   s = s:gsub("%f[%w]%d+%.?%d*[num]s%f[%W]", "\2")         -- latencies
   s = s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
   return s
end

-- Does the (normalized) output line o match the expected line e?
local function line_matches(e, o)
   local parts, from = {}, 1
   while true do
      local a, b = e:find("...", from, true)
      if not a then break end
      parts[#parts + 1] = e:sub(from, a - 1)
      from = b + 1
   end
   parts[#parts + 1] = e:sub(from)
   if #parts == 1 then return e == o end
   -- first part anchored at the start, last at the end, the rest in order
   if o:sub(1, #parts[1]) ~= parts[1] then return false end
   local pos = #parts[1] + 1
   for i = 2, #parts - 1 do
      local a, b = o:find(parts[i], pos, true)
      if not a then return false end
      pos = b + 1
   end
   local last = parts[#parts]
   return #o - #last + 1 >= pos and o:sub(#o - #last + 1) == last
end

local function match(expect_path, output_path)
   local exp, out = lines(expect_path), lines(output_path)
   local o = 1
   for i, raw in ipairs(exp) do
      local e = norm(raw)
      if e ~= "" then
         local found
         for j = o, #out do
            if line_matches(e, norm(out[j])) then
               found = j
               break
            end
         end
         if not found then
            io.stderr:write(string.format("expected line %d not in the output%s:\n   %s\n", i,
               o > 1 and string.format(" after its line %d", o - 1) or "", raw))
            return 1
         end
         o = found + 1
      end
   end
   return 0
end

if cmd == "extract" then
   return extract(arg[2], arg[3], arg[4] or "sim", arg[5])
elseif cmd == "match" then
   return match(arg[2], arg[3])
end
die("usage: lunar lua mdblocks.lua extract PAGE.md DIR MODE | match EXPECT OUTPUT")
