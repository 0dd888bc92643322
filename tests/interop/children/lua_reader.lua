-- lua_reader.lua — a reader process: open a shared ring, register a reader at
-- the oldest event, read until the ring is closed and drained, checking
-- every payload (interop_payload.check), and print one line of what it saw.
--
--   lua5.4 lua_reader.lua NAME [HOLD [LIMIT [DURABLE]]]
--
-- DURABLE: open (or resume) the durable reader of that name instead of a
-- plain one at the oldest event.
-- HOLD: register, then wait until HOLD events are published before reading
-- (in overwrite mode, the writer laps this reader first). Every payload must
-- be intact, carry the event's own sequence and type, and come after the
-- previous one; gaps between sequences are counted as missed, to be compared
-- with what the ring says this reader lost.
local rr = require "rusted_ring"
local payload = require "interop_payload"

local name, hold, limit, durable = arg[1], tonumber(arg[2] or 0), tonumber(arg[3] or 60), arg[4]
local ring = assert(rr.open_shared(name))
local slot_size = ring:slot_size()
local r = durable and ring:reader{ name = durable, durable = true } or ring:reader("oldest")
payload.wait_for(function() return ring:published() >= hold end, limit,
                 "the writer to publish " .. hold .. " events")

local delivered, missed, prev, first = 0, 0, -1, -1
while true do
  local ev, why = r:next(limit)
  if not ev then
    if why == "closed" then break end
    error(string.format("nothing arrived for %d s after event %d: %s", limit, prev, why))
  end
  local seq, bad = payload.check(ev:data(), slot_size)
  if not seq then error(bad) end
  if ev:sequence() ~= seq or ev:type() ~= payload.event_type(seq) then
    error(string.format("event %d (type %d) carries the payload of %d", ev:sequence(), ev:type(), seq))
  end
  if seq <= prev then error(string.format("event %d came after %d", seq, prev)) end
  if first < 0 then first = seq end
  missed = missed + seq - prev - 1
  prev = seq
  delivered = delivered + 1
end
print(string.format('{"delivered": %d, "missed": %d, "lost": %d, "first": %d, "last": %d, ' ..
                    '"published": %d, "closed": %s}', delivered, missed, r:lost(), first, prev,
                    ring:published(), tostring(ring:closed())))
r:close()
