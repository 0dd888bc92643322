-- strokes_reader.lua — the Lua half of `make demo-interop`: read the pen
-- strokes examples/strokes_writer.py draws into a shared ring.
--
--   lua5.4 examples/strokes_reader.lua NAME
--
-- Opens the ring by name, registers a reader, and reads until the writer
-- closes the ring. Each event is unpacked in place with ev:unpack (no string
-- is built for the payload): a point (type 1) is stroke id, point index, x,
-- y, pressure; an end marker (type 2) is stroke id and its number of points.
-- Checks that strokes and points arrive in order, that every end marker
-- counts its stroke's points, that pressures lie in 0..1, and that nothing was
-- lost; prints its stats and exits with status 1 if any check failed.
local rr = require "rusted_ring"

local POINT, END = 1, 2
local LIMIT = 30   -- seconds without an event before giving up

local name = assert(arg[1], "usage: lua5.4 strokes_reader.lua NAME")
local ring = assert(rr.open_shared(name))
local r = ring:reader()

local delivered, strokes, points, problems = 0, 0, 0, 0
local stroke, next_point = 0, 0          -- the stroke being drawn, its next point
local max_backpressure = 0

local function problem(what)
  problems = problems + 1
  if problems <= 5 then io.stderr:write("reader: ", what, "\n") end
end

while true do
  local ev, why = r:next(LIMIT)
  if not ev then
    if why ~= "closed" then problem("the stream stopped: " .. why) end
    break
  end
  delivered = delivered + 1
  if ev:type() == POINT then
    local sid, i, _, _, pressure = ev:unpack("<I4I2fff")
    if sid ~= stroke or i ~= next_point then
      problem(string.format("point %d of stroke %d arrived, expected point %d of stroke %d",
                            i, sid, next_point, stroke))
    end
    if pressure < 0 or pressure > 1 then problem("pressure " .. pressure .. " out of 0..1") end
    next_point, points = i + 1, points + 1
  elseif ev:type() == END then
    local sid, count = ev:unpack("<I4I2")
    if sid ~= stroke or count ~= next_point then
      problem(string.format("stroke %d ended with %d points, saw %d of stroke %d",
                            sid, count, next_point, stroke))
    end
    stroke, next_point, strokes = sid + 1, 0, strokes + 1
  else
    problem("unknown event type " .. ev:type())
  end
  if delivered % 256 == 0 then
    max_backpressure = math.max(max_backpressure, r:backpressure_ratio())
  end
end

if delivered ~= ring:published() or r:lost() ~= 0 then
  problem(string.format("delivered %d + lost %d of %d published", delivered, r:lost(), ring:published()))
end
print(string.format("reader (Lua, pid %s): delivered %d events, lost %d, of %d published; %d strokes, " ..
                    "%d points, %s; max backpressure %.1f%%",
                    io.open("/proc/self/stat"):read("n") or "?", delivered, r:lost(), ring:published(),
                    strokes, points, problems == 0 and "all in order" or problems .. " PROBLEMS",
                    max_backpressure * 100))
r:close()
os.exit(problems == 0 and 0 or 1)
