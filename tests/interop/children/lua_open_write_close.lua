-- lua_open_write_close.lua — open a shared ring another process made, print
-- its geometry as JSON, read the COUNT events already in it (each checked),
-- publish MORE self-checking payloads after them, then close the ring: the
-- end of the stream for readers in every process.
--
--   lua5.4 lua_open_write_close.lua NAME COUNT MORE [LIMIT]
local rr = require "rusted_ring"
local payload = require "interop_payload"

local name, count, more, limit = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4] or 60)
io.stdout:setvbuf("line")

local ring = assert(rr.open_shared(name))
local slot_size = ring:slot_size()
print(string.format('{"name": "%s", "slot_size": %d, "capacity": %d, "mode": "%s", "producers": "%s", ' ..
                    '"memory_bytes": %d, "published": %d, "closed": %s}', ring:name(), slot_size,
                    ring:capacity(), ring:mode(), ring:producers(), ring:memory_bytes(), ring:published(),
                    tostring(ring:closed())))
local r = ring:reader("oldest")
for expect = 0, count - 1 do
  local ev, why = r:next(limit)
  assert(ev, why)
  local seq, bad = payload.check(ev:data(), slot_size)
  assert(seq == expect and ev:sequence() == expect and ev:type() == payload.event_type(expect),
         bad or ("expected event " .. expect .. ", got " .. tostring(seq)))
end
r:close()
local w = ring:writer()
for seq = count, count + more - 1 do
  assert(w:add(payload.make(seq, slot_size), payload.event_type(seq), limit) == seq)
end
w:close()
ring:close()
print(string.format('{"published": %d, "closed": %s}', ring:published(), tostring(ring:closed())))
