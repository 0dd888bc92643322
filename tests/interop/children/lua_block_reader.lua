-- lua_block_reader.lua — a reader process that reads through blocks: open a
-- shared ring, register a reader at the oldest event, read with
-- r:next_block(MAX) until the ring is closed and drained, check every event
-- of every block (interop_payload.check on b:data(i), and the in-place
-- accessors against it), and print one line of what it saw, as
-- lua_reader.lua does.
--
--   lua5.4 lua_block_reader.lua NAME [HOLD [LIMIT [MAX]]]
--
-- HOLD: register, then wait until HOLD events are published before reading.
local rr = require "rusted_ring"
local payload = require "interop_payload"

local name, hold = arg[1], tonumber(arg[2] or 0)
local limit, max = tonumber(arg[3] or 60), tonumber(arg[4] or 100)
local ring = assert(rr.open_shared(name))
local slot_size = ring:slot_size()
local r = ring:reader("oldest")
payload.wait_for(function() return ring:published() >= hold end, limit,
                 "the writer to publish " .. hold .. " events")

local delivered, missed, prev, first, blocks, largest = 0, 0, -1, -1, 0, 0
while true do
  local b, why = r:next_block(max, limit)
  if not b then
    if why == "closed" then break end
    error(string.format("nothing arrived for %d s after event %d: %s", limit, prev, why))
  end
  blocks = blocks + 1
  if #b > largest then largest = #b end
  for i = 1, #b do
    local data = b:data(i)
    local seq, bad = payload.check(data, slot_size)
    if not seq then error(bad) end
    if b:sequence(i) ~= seq or b:type(i) ~= payload.event_type(seq) then
      error(string.format("event %d (type %d) carries the payload of %d", b:sequence(i), b:type(i), seq))
    end
    if b:len(i) ~= #data or b:unpack(i, "<I8") ~= seq or b:sub(i, 9, 12) ~= data:sub(9, 12)
       or b:byte(i, -1) ~= data:byte(-1) then
      error(string.format("event %d: the in-place accessors disagree with b:data()", seq))
    end
    if seq <= prev then error(string.format("event %d came after %d", seq, prev)) end
    if first < 0 then first = seq end
    missed = missed + seq - prev - 1
    prev = seq
    delivered = delivered + 1
  end
end
print(string.format('{"delivered": %d, "missed": %d, "lost": %d, "first": %d, "last": %d, ' ..
                    '"published": %d, "closed": %s, "blocks": %d, "largest": %d}', delivered, missed,
                    r:lost(), first, prev, ring:published(), tostring(ring:closed()), blocks, largest))
r:close()
