--- lunar.state: plain data across handler generations.
--
-- A reload builds a new Lua state; export(lun) in the old one returns a
-- value, import(lun, value) in the new one receives a copy.  The value
-- crosses as text: encode() writes it as a Lua table constructor and
-- decode() reads it back with no globals at all.  Functions, cdata,
-- userdata and cycles cannot cross: encode() says where they are.

local type, pairs, tostring, format = type, pairs, tostring, string.format
local concat = table.concat

local M = {}

local function enc(v, out, seen, path)
   local t = type(v)
   if t == "nil" then
      out[#out + 1] = "nil"
   elseif t == "boolean" then
      out[#out + 1] = tostring(v)
   elseif t == "number" then
      if v ~= v then
         out[#out + 1] = "0/0"
      elseif v == math.huge or v == -math.huge then
         out[#out + 1] = v > 0 and "1/0" or "-1/0"
      else
         out[#out + 1] = format("%.17g", v)
      end
   elseif t == "string" then
      out[#out + 1] = format("%q", v)
   elseif t == "table" then
      if seen[v] then error("export(): a cycle at " .. path, 0) end
      seen[v] = true
      out[#out + 1] = "{"
      for k, x in pairs(v) do
         local kt = type(k)
         if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
            error("export(): a " .. kt .. " key at " .. path, 0)
         end
         out[#out + 1] = "["
         enc(k, out, seen, path)
         out[#out + 1] = "]="
         enc(x, out, seen, path .. "." .. tostring(k))
         out[#out + 1] = ","
      end
      out[#out + 1] = "}"
      seen[v] = nil
   else
      error("export(): a " .. t .. " at " .. path .. " cannot cross a reload", 0)
   end
end

--- encode(v) -> text
function M.encode(v)
   local out = { "return " }
   enc(v, out, {}, "value")
   return concat(out)
end

--- decode(text) -> v
function M.decode(text)
   local chunk, err = loadstring(text, "=import")
   if not chunk then error("import(): " .. err, 0) end
   setfenv(chunk, {})
   return chunk()
end

function M.selftest()
   local v = { a = 1, b = { "x", "y", true, false }, [3] = 2.5, s = "q\"uote\n\0z", n = -0.1,
      big = 2 ^ 53, inf = math.huge, nested = { deeper = { k = "v" } } }
   local w = M.decode(M.encode(v))
   assert(w.a == 1 and w.b[2] == "y" and w.b[3] == true and w.b[4] == false and w[3] == 2.5)
   assert(w.s == v.s and w.n == -0.1 and w.big == 2 ^ 53 and w.inf == math.huge)
   assert(w.nested.deeper.k == "v")
   assert(M.decode(M.encode(nil)) == nil and M.decode(M.encode(42)) == 42)
   local cyc = {}
   cyc.self = cyc
   assert(not pcall(M.encode, cyc))
   assert(not pcall(M.encode, { f = print }))
   local ok, err = pcall(M.encode, { x = { y = io.stdout } })
   assert(not ok and err:find("value.x.y"), err)
   -- decoding sees no globals
   assert(not pcall(M.decode, "return os.exit()"))
end

return M
