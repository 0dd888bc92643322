-- shm_reader.lua NAME N [next | block [MAX]] — the Lua reader process of
-- bench/python/bench_procs.py. Opens the shared ring NAME, registers a
-- reader, says "ready", then reads until the writer closes the ring, checking
-- that each payload's first 8 bytes (little-endian) carry its sequence; says
-- "done <events> <bad>". `next` (the default) reads one event per r:next();
-- `block` reads r:next_block(MAX) (default 512) and each event in place.
local rr = require "rusted_ring"

local name = assert(arg[1], "usage: shm_reader.lua NAME N [next | block [MAX]]")
local how = arg[3] or "next"
local max = tonumber(arg[4]) or 512
assert(how == "next" or how == "block", "read with next or block, not " .. how)
local ring = assert(rr.open_shared(name))
local r = ring:reader()
io.write("ready\n")
io.flush()

local seen, bad = 0, 0
if how == "next" then
  while true do
    local ev = r:next(math.huge)
    if not ev then break end          -- nil, "closed": the writer is done
    if ev:unpack("<I8") ~= seen then bad = bad + 1 end
    seen = seen + 1
  end
else
  while true do
    local b = r:next_block(max, math.huge)
    if not b then break end           -- nil, "closed"
    for i = 1, #b do
      if b:unpack(i, "<I8") ~= seen then bad = bad + 1 end
      seen = seen + 1
    end
  end
end
r:close()
io.write(string.format("done %d %d\n", seen, bad))
io.flush()
