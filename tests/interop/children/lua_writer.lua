-- lua_writer.lua — a writer process: open a shared ring, publish N
-- self-checking payloads (interop_payload.make) in batches, then close the
-- ring (end of stream for every reader, in every process). Prints one line.
--
--   lua5.4 lua_writer.lua NAME N [HOLD [READERS [LIMIT]]]
--
-- HOLD: publish HOLD events, then wait until READERS readers have all read
-- up to HOLD before publishing the rest (see py_writer.py).
local rr = require "rusted_ring"
local payload = require "interop_payload"

local name, n = arg[1], tonumber(arg[2])
local hold, readers, limit = tonumber(arg[3] or 0), tonumber(arg[4] or 1), tonumber(arg[5] or 60)
local BATCH = 32
local ring = assert(rr.open_shared(name))
local slot_size = ring:slot_size()
local w = ring:writer()
local seq = 0

local function publish_until(stop)
  while seq < stop do
    local last = math.min(stop, seq + BATCH) - 1
    local data, types = {}, {}
    for s = seq, last do
      data[#data + 1] = payload.make(s, slot_size)
      types[#types + 1] = payload.event_type(s)
    end
    local count, first = w:add_batch(data, types, limit)
    assert(count == #data and first == seq, "add_batch: " .. tostring(first))
    seq = last + 1
  end
end

publish_until(math.min(hold, n))
if hold > 0 then
  payload.wait_for(function()
    local stats = ring:stats()
    if #stats.readers < readers then return false end
    for _, e in ipairs(stats.readers) do if e.cursor < hold then return false end end
    return true
  end, limit, "the readers to catch up with event " .. hold)
end
publish_until(n)
w:close()
ring:close()
print(string.format('{"published": %d}', ring:published()))
