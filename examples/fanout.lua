-- fanout.lua — the seed's fan-out scenario in Lua (`make demo-lua`).
--
-- Lua runs one thread here, so the actors are coroutines taking turns: one
-- writer, three readers at their own speed, and a monitor that prints the
-- pools' stats lines. Exit status 0 when every point checked below held.
--
-- Part 1, overwrite mode (the seed's semantics), on the default XS pool
-- (64 B slots, 2000 of them): the writer emits "drawing stroke" events
-- through a pool writer and "cursor" events through rr.emit (which picks the
-- XS pool by size). Storage reads everything each turn, network up to 600
-- events but naps every fourth turn (it keeps up, with a swinging lag), analytics first stalls until the writer has lapped it and then
-- reads fewer events than the writer writes, so it keeps being lapped. Every
-- event a reader does get is checked intact (ev:unpack, in place) and in
-- order, and for every reader delivered + lost == published.
--
-- Part 2, backpressure mode: parse -> store on a 64-slot ring. Store waits
-- until the ring is full before it starts, so the parser meets "full" and
-- yields; every record arrives, in order, none lost.
local rr = require "rusted_ring"

local TICKS, PER_TICK = 500, 400      -- part 1: the writer's turns and events per turn
local REPORT_EVERY = 100              -- ticks between stats prints
local PIPE_SLOTS, PIPE_RECORDS = 64, 2000
local STROKE, CURSOR, RECORD = 1, 2, 3

local failures = 0
local function check(ok, what)
  if not ok then
    failures = failures + 1
    print("FAILED: " .. what)
  end
end

-- Where event `id` is drawn: readers recompute it to prove the payload intact.
local function x_of(id) return id % 1920 end
local function y_of(id) return (id % 1080) * 0.5 end

------------------------------------------------------------------ part 1 --

local function writer_actor()
  local w = rr.EventPoolFactory.get_xs_writer()
  local id = 0
  for _ = 1, TICKS do
    for _ = 1, PER_TICK do
      if id % 4 == 3 then
        local pool = rr.emit(string.pack("<I4ff", id, x_of(id), y_of(id)), CURSOR)
        check(pool == rr.PoolId.XS, "a cursor event went to pool " .. tostring(pool))
      else
        assert(w:add(string.pack("<I4fff", id, x_of(id), y_of(id), 0.5), STROKE))
      end
      id = id + 1
    end
    coroutine.yield()
  end
  w:close()
  return id
end

local function new_reader(name, per_turn, nap_every, stall_until_lapped)
  return { name = name, per_turn = per_turn, nap_every = nap_every, stall = stall_until_lapped,
           r = rr.EventPoolFactory.get_xs_reader("oldest"),
           last = -1, bad = 0, out_of_order = 0, strokes = 0, cursors = 0 }
end

-- Check one event: right size for its type, fields intact, ids increasing.
local function check_event(t, ev)
  local kind, id, x, y = ev:type()
  if kind == STROKE and #ev == 16 then
    id, x, y = ev:unpack("<I4ff")
    t.strokes = t.strokes + 1
  elseif kind == CURSOR and #ev == 12 then
    id, x, y = ev:unpack("<I4ff")
    t.cursors = t.cursors + 1
  else
    t.bad = t.bad + 1
    return
  end
  if x ~= x_of(id) or y ~= y_of(id) or id ~= ev:sequence() then t.bad = t.bad + 1 end
  if id <= t.last then t.out_of_order = t.out_of_order + 1 end
  t.last = id
end

local function reader_actor(t, writer_done)
  local cap = rr.pool_stats()[1].capacity
  while t.stall and t.r:lag() <= cap + cap // 4 and not writer_done() do
    coroutine.yield()   -- "flushing its metrics" until the writer has lapped it
  end
  local turn = 0
  repeat
    turn = turn + 1
    local n = turn % t.nap_every == 0 and t.per_turn or 0   -- a nap: nothing read this turn
    while n < t.per_turn do
      local ev = t.r:next()
      if not ev then break end
      check_event(t, ev)
      n = n + 1
    end
    coroutine.yield()
  until writer_done() and t.r:lag() == 0
end

local function print_tick(tick, readers)
  print(string.format("tick %d: published=%d", tick, rr.pool_stats()[1].published))
  for _, s in ipairs(rr.pool_stats()) do print("  " .. tostring(s)) end
  for _, t in ipairs(readers) do
    print(string.format("    %-9s delivered=%7d lost=%7d lag=%5d backpressure=%5.1f%%", t.name,
                        t.r:delivered(), t.r:lost(), t.r:lag(), t.r:backpressure_ratio() * 100))
  end
end

local function summarize(readers, emitted, published)
  print(string.format("\nsummary: published %d (%d emitted)", published, emitted))
  check(published == emitted, "published ~= events emitted")
  for _, t in ipairs(readers) do
    local d, l = t.r:delivered(), t.r:lost()
    local balanced = d + l == published and d == t.strokes + t.cursors
    print(string.format("  %-9s delivered %7d + lost %7d = %7d %s published: %s; %d torn, %d out of order",
                        t.name, d, l, d + l, d + l == published and "==" or "~=",
                        balanced and "balanced" or "NOT BALANCED", t.bad, t.out_of_order))
    check(balanced and t.bad == 0 and t.out_of_order == 0, t.name .. " is not balanced and clean")
  end
  local slow = readers[#readers]
  check(slow.r:lost() > 0, slow.name .. " was never lapped")
  print(string.format("  %s was lapped: it skipped %d events it could not keep up with and was "
                      .. "never handed a torn one", slow.name, slow.r:lost()))
end

local function part_overwrite()
  local base = rr.pool_stats()[1].published
  local readers = { new_reader("storage", math.huge, math.huge),
                    new_reader("network", 600, 4),
                    new_reader("analytics", 40, math.huge, true) }
  print(string.format("== part 1: fan-out on the default XS pool (overwrite, %d slots of %d B), "
                      .. "%d events", rr.pool_stats()[1].capacity, rr.pool_stats()[1].slot_size,
                      TICKS * PER_TICK))
  local writer, emitted = coroutine.create(writer_actor), nil
  local function writer_done() return emitted ~= nil end
  local actors = {}
  for i, t in ipairs(readers) do actors[i] = coroutine.create(reader_actor) end
  local t0, tick = os.clock(), 0
  while true do
    local live = false
    if coroutine.status(writer) ~= "dead" then
      local ok, n = assert(coroutine.resume(writer))
      if coroutine.status(writer) == "dead" then emitted = n end
      live, tick = true, tick + (ok and 1 or 0)
      if tick % REPORT_EVERY == 0 then print_tick(tick, readers) end
    end
    for i, co in ipairs(actors) do
      if coroutine.status(co) ~= "dead" then
        assert(coroutine.resume(co, readers[i], writer_done))
        live = true
      end
    end
    if not live then break end
  end
  local elapsed = os.clock() - t0
  local published = rr.pool_stats()[1].published - base
  local delivered = 0
  for _, t in ipairs(readers) do delivered = delivered + t.r:delivered() end
  print(string.format("writer done, readers drained in %.2f s of CPU: %.0f events/s published, "
                      .. "%.0f events/s delivered to the three readers", elapsed,
                      published / elapsed, delivered / elapsed))
  summarize(readers, emitted, published)
  for _, t in ipairs(readers) do t.r:close() end
end

------------------------------------------------------------------ part 2 --

local function part_backpressure()
  print(string.format("\n== part 2: parse -> store on a backpressure ring (%d slots), %d records",
                      PIPE_SLOTS, PIPE_RECORDS))
  local ring <close> = rr.ring{ slot_size = 16, capacity = PIPE_SLOTS, mode = "backpressure" }
  local r <close> = ring:reader()
  local full_seen, stored, bad = 0, 0, 0
  local parse = coroutine.wrap(function()
    local w <close> = ring:writer()
    for id = 0, PIPE_RECORDS - 1 do
      local line = string.format("stroke %d x=%.1f y=%.1f", id, x_of(id), y_of(id))
      local n, x, y = line:match("stroke (%d+) x=(%S+) y=(%S+)")
      local rec = string.pack("<I4ffI4", tonumber(n), tonumber(x), tonumber(y),
                              tonumber(n) * 2654435761 % 2^32 // 1)
      while not w:add(rec, RECORD) do   -- nil, "full": let the store stage run
        full_seen = full_seen + 1
        coroutine.yield()
      end
    end
    ring:close()   -- end of stream
  end)
  parse()   -- runs until the ring is full
  print(string.format("  store: ring full before storing starts: lag=%d backpressure=%.1f%% "
                      .. "should_throttle=%s", r:lag(), r:backpressure_ratio() * 100,
                      tostring(r:should_throttle())))
  check(r:lag() == PIPE_SLOTS, "the ring was not full")
  while true do
    local ev, why = r:next()
    if not ev and why == "closed" then break end
    if not ev then
      parse()
    else
      local id, x, y, sum = ev:unpack("<I4ffI4")
      if id ~= stored or sum ~= id * 2654435761 % 2^32 // 1 or x ~= x_of(id) or y ~= y_of(id) then
        bad = bad + 1
      end
      stored = stored + 1
      if stored % 16 == 0 and not ring:closed() then parse() end   -- the slow disk
    end
  end
  local s = ring:stats()
  print(string.format("  published=%d stored=%d delivered=%d lost=%d writer_stalls=%d "
                      .. "(the parser met \"full\" %d times and yielded)",
                      s.published, stored, r:delivered(), r:lost(), s.writer_stalls, full_seen))
  local ok = s.published == PIPE_RECORDS and stored == PIPE_RECORDS and bad == 0 and r:lost() == 0
  check(ok, "the backpressure pipeline lost or damaged records")
  check(s.writer_stalls > 0, "the writer never stalled")
  if ok then print(string.format("  nothing lost: all %d records stored, in order, intact", PIPE_RECORDS)) end
end

local t0 = os.clock()
part_overwrite()
part_backpressure()
print(string.format("\ndemo finished in %.2f s of CPU: %s", os.clock() - t0,
                    failures > 0 and "SOME POINTS FAILED" or "every point shown"))
os.exit(failures == 0 and 0 or 1)
