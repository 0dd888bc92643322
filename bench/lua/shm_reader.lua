-- shm_reader.lua NAME N — the Lua reader process of bench/python/bench_procs.py.
-- Opens the shared ring NAME, registers a reader, says "ready", then reads
-- until the writer closes the ring, checking that each payload's first 8
-- bytes (little-endian) carry its sequence; says "done <events> <bad>".
local rr = require "rusted_ring"

local name = assert(arg[1], "usage: shm_reader.lua NAME N")
local ring = assert(rr.open_shared(name))
local r = ring:reader()
io.write("ready\n")
io.flush()

local seen, bad = 0, 0
while true do
  local ev = r:next(math.huge)
  if not ev then break end          -- nil, "closed": the writer is done
  if ev:unpack("<I8") ~= seen then bad = bad + 1 end
  seen = seen + 1
end
r:close()
io.write(string.format("done %d %d\n", seen, bad))
io.flush()
