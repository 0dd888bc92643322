-- lua_contract.lua — one call of the timeout contract, or the vocabulary, in
-- Lua; prints JSON lines. The same commands as py_contract.py:
--
--   lua5.4 lua_contract.lua NAME next|add VALUE
--   lua5.4 lua_contract.lua NAME stats
--   lua5.4 lua_contract.lua NAME wait R W
--   lua5.4 lua_contract.lua - badwait NAME
--   lua5.4 lua_contract.lua - bands R1 R2 ...
--   lua5.4 lua_contract.lua NAME durable
--
-- VALUE: none (nil), 0, 0.001, inf, -1, nan, -0.0. Outcome: "event" |
-- "nothing" | "ok" | "full" | "error", with the word after nil ("empty",
-- "timeout", "full") or the error's text in "message".
local rr = require "rusted_ring"
io.stdout:setvbuf("line")

local TOKENS = { none = nil, ["0"] = 0, ["0.001"] = 0.001, inf = math.huge, ["-1"] = -1,
                 nan = 0 / 0, ["-0.0"] = -0.0 }

-- Just enough JSON: strings, numbers, booleans, nil (null), lists and records.
local function json(v)
  local t = type(v)
  if v == nil then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then return math.type(v) == "integer" and tostring(v) or string.format("%.17g", v)
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  end
  local out = {}
  if v[1] ~= nil or next(v) == nil then
    for i = 1, #v do out[i] = json(v[i]) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  for k, x in pairs(v) do out[#out + 1] = json(k) .. ":" .. json(x) end
  return "{" .. table.concat(out, ",") .. "}"
end

local function say(record) print(json(record)) end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local name, op = arg[1], arg[2]
if op == "next" or op == "add" then
  local ring = assert(rr.open_shared(name))
  local handle = op == "next" and ring:reader() or ring:writer()
  local value = TOKENS[arg[3]]
  say({ ready = true })
  local ok, got, word = pcall(function()
    if op == "next" then return handle:next(value) end
    return handle:add("contract", 0, value)
  end)
  if not ok then
    say({ outcome = "error", message = tostring(got) })
  elseif got == nil then
    say({ outcome = op == "next" and "nothing" or "full", message = word })
  else
    say({ outcome = op == "next" and "event" or "ok" })
  end
elseif op == "stats" then
  local s = assert(rr.open_shared(name)):stats()
  local readers, pinned = {}, {}
  for i, e in ipairs(s.readers) do readers[i], pinned[i] = keys(e), e.pinned end
  say({ ring = keys(s), reader = readers, pinned = pinned, name = s.name })
elseif op == "wait" then
  local ring = assert(rr.open_shared(name))
  local r, w = ring:reader{ wait = arg[3] }, ring:writer{ wait = arg[4] }
  say({ ready = true, reader = r:wait(), writer = w:wait() })
  local ev = r:next(60)
  say({ outcome = ev and ev:data() or nil })
elseif op == "badwait" then
  local ring = rr.ring{ slot_size = 16, capacity = 4 }
  local messages = {}
  for i, open_one in ipairs({ ring.reader, ring.writer }) do
    local ok, err = pcall(open_one, ring, { wait = arg[3] })
    messages[i] = not ok and tostring(err) or "opened"
  end
  say({ messages = messages })
elseif op == "durable" then
  -- the parked reader "parked" and the live plain reader "plain" are the test's
  local ring = assert(rr.open_shared(name))
  local w = ring:writer()
  w:note_lost(7)
  local messages = {}
  for i, attempt in ipairs({
      function() return ring:reader{ durable = true } end,
      function() return ring:reader{ name = "parked" } end,
      function() return ring:reader{ name = "plain", durable = true } end,
      function() return ring:drop_reader("nobody") end,
      function() return ring:drop_reader("plain") end,
      function() return w:note_lost(-1) end }) do
    local ok, err = pcall(attempt)
    messages[i] = not ok and tostring(err) or "opened"
  end
  local r = ring:reader{ name = "parked", durable = true }
  say({ messages = messages, instance = ring:instance(), durable = r:durable(),
        cursor = r:cursor() })
elseif op == "bands" then
  local bands = {}
  for i = 3, #arg do
    local r = arg[i] == "nan" and 0 / 0 or tonumber(arg[i])
    bands[#bands + 1] = { rr.is_under_pressure(r), rr.should_throttle(r), rr.health_of(r) }
  end
  say({ bands = bands })
else
  error("unknown op " .. tostring(op))
end
