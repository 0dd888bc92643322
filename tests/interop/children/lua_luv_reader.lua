-- lua_luv_reader.lua — a reader process with an event loop: open a shared
-- ring, register a reader at the oldest event and say so (one line), then
-- read in a luv loop through a uv_poll on r:pollfd() until the ring is
-- closed and drained, checking every payload (interop_payload.check), and
-- print one line of what it saw. The loop never blocks in the core: it
-- reads only when the fd polls readable, until a read finds nothing.
--
--   lua5.4 lua_luv_reader.lua NAME [LIMIT]
--
-- LIMIT: seconds the loop may wait without an event before it gives up.
local rr = require "rusted_ring"
local uv = require "luv"
local payload = require "interop_payload"

local name, limit = arg[1], tonumber(arg[2] or 60)
local ring = assert(rr.open_shared(name))
local slot_size = ring:slot_size()
local r = ring:reader("oldest")
print('{"ready": true}')
io.stdout:flush()

local delivered, missed, prev, wakes, closed = 0, 0, -1, 0, false
local poll = uv.new_poll((r:pollfd()))
local quiet = uv.new_timer()   -- no wake-up for `limit` seconds: fail
local function fail(msg)
  io.stderr:write(msg, "\n")
  os.exit(1)
end
quiet:start(limit * 1000, limit * 1000, function()
  fail(string.format("no wake-up for %d s after event %d", limit, prev))
end)
poll:start("r", function(err)
  if err then fail(err) end
  wakes = wakes + 1
  quiet:again()
  while true do
    local ev, why = r:next()
    if not ev then
      if why == "closed" then
        closed = true
        poll:close()
        quiet:close()
      end
      return
    end
    local seq, bad = payload.check(ev:data(), slot_size)
    if not seq then fail(bad) end
    if ev:sequence() ~= seq or ev:type() ~= payload.event_type(seq) then
      fail(string.format("event %d (type %d) carries the payload of %d", ev:sequence(), ev:type(), seq))
    end
    if seq <= prev then fail(string.format("event %d came after %d", seq, prev)) end
    missed = missed + seq - prev - 1
    prev = seq
    delivered = delivered + 1
  end
end)
uv.run()
if not closed then fail("the loop ended before the ring closed") end
print(string.format('{"delivered": %d, "missed": %d, "lost": %d, "last": %d, "wakes": %d}',
                    delivered, missed, r:lost(), prev, wakes))
r:close()
