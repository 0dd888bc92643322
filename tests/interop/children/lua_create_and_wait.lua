-- lua_create_and_wait.lua — create a shared ring in Lua, publish COUNT
-- self-checking payloads, print the ring's geometry as JSON, then wait on a
-- reader (at "latest": it sees nothing new) until another process closes the
-- ring, and print how the wait ended.
--
--   lua5.4 lua_create_and_wait.lua NAME SLOT_SIZE CAPACITY MODE PRODUCERS COUNT [LIMIT]
local rr = require "rusted_ring"
local payload = require "interop_payload"

local name, slot_size, capacity, mode, producers, count, limit =
  arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4], arg[5], tonumber(arg[6]), tonumber(arg[7] or 60)
io.stdout:setvbuf("line")

local ring = assert(rr.create_shared(name, { slot_size = slot_size, capacity = capacity, mode = mode,
                                             producers = producers }))
local w = ring:writer()
for seq = 0, count - 1 do assert(w:add(payload.make(seq, slot_size), payload.event_type(seq)) == seq) end
w:close()
local r = ring:reader("latest")
print(string.format('{"name": "%s", "slot_size": %d, "capacity": %d, "mode": "%s", "producers": "%s", ' ..
                    '"memory_bytes": %d, "published": %d}', ring:name(), ring:slot_size(), ring:capacity(),
                    ring:mode(), ring:producers(), ring:memory_bytes(), ring:published()))
local ev, why = r:next(limit)
print(string.format('{"event": %s, "ended": "%s", "closed": %s}', tostring(ev ~= nil), tostring(why),
                    tostring(ring:closed())))
