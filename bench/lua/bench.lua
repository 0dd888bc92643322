-- bench.lua — the Lua module against the queue a Lua program would otherwise
-- write (`make bench-lua`). One run measures, best of REPEAT rounds each:
--   1. add + next per event against a pure-Lua table queue's push + pop of
--      the same strings, interleaved (one in, one out) and in bursts of 512;
--      then the bursts read through r:next_block(512): the block call alone
--      (as pop hands over each string, the block hands over all 512 events),
--      then touching each event once (b:len(i)), and decoding each event's
--      first 8 bytes as an integer (b:unpack(i, "<I8") against string.unpack
--      on the popped string);
--   2. reading a 1 KiB payload's header: next + ev:unpack (in place) against
--      next + ev:data() (+ string.unpack on the copy).
-- Times are os.clock() CPU seconds of this single thread, garbage collection
-- included (reading allocates nothing: next() and next_block() refill the
-- reader's one event and block objects; the queue allocates nothing either).
--
-- Environment: RR_BENCH_N events per round (default 2000000), RR_BENCH_REPEAT
-- rounds (default 5), RR_BENCH_JSON a file to write the figures to as JSON
-- (bench/run.py uses it).
local rr = require "rusted_ring"

local N = tonumber(os.getenv("RR_BENCH_N")) or 2000000
local REPEAT = tonumber(os.getenv("RR_BENCH_REPEAT")) or 5
local BURST = 512

-- The peer: a FIFO on a table with head and tail indices, used through
-- methods as the ring is.
local Queue = {}
Queue.__index = Queue
function Queue.new() return setmetatable({ head = 1, tail = 0 }, Queue) end
function Queue:push(v)
  local t = self.tail + 1
  self.tail = t
  self[t] = v
end
function Queue:pop()
  local h = self.head
  if h > self.tail then return nil end
  local v = self[h]
  self[h] = nil
  self.head = h + 1
  return v
end

-- 256 distinct 64-byte strings, cycled, so neither side sees one constant.
local strings = {}
for i = 1, 256 do strings[i] = string.format("%-64s", "event " .. i):sub(1, 64) end

local function best_of(f)
  local best = math.huge
  for _ = 1, REPEAT do
    collectgarbage(); collectgarbage()
    local t0 = os.clock()
    f()
    local dt = os.clock() - t0
    if dt < best then best = dt end
  end
  return best / N * 1e9   -- ns per event
end

local function queue_interleaved()
  local q, sink = Queue.new(), nil
  for i = 1, N do
    q:push(strings[i % 256 + 1])
    sink = q:pop()
  end
  return sink
end

local function queue_bursts()
  local q, sink = Queue.new(), nil
  for i = 1, N, BURST do
    for k = 0, BURST - 1 do q:push(strings[(i + k) % 256 + 1]) end
    for _ = 1, BURST do sink = q:pop() end
  end
  return sink
end

local function queue_bursts_header()
  local q, sum = Queue.new(), 0
  local unpack = string.unpack
  for i = 1, N, BURST do
    for k = 0, BURST - 1 do q:push(strings[(i + k) % 256 + 1]) end
    for _ = 1, BURST do sum = sum + unpack("<I8", q:pop()) end
  end
  return sum
end

-- A ring of 1024 slots: 512-event bursts never wrap inside a block, so each
-- next_block(512) returns the whole burst (asserted below).
local function ring_for(slot)
  local ring = rr.ring{ slot_size = slot, capacity = 1024, mode = "backpressure" }
  return ring, ring:writer(), ring:reader()
end

local function ring_interleaved()
  local _, w, r = ring_for(64)
  local ev
  for i = 1, N do
    w:add(strings[i % 256 + 1])
    ev = r:next()
  end
  return ev
end

local function ring_bursts()
  local _, w, r = ring_for(64)
  local ev
  for i = 1, N, BURST do
    for k = 0, BURST - 1 do w:add(strings[(i + k) % 256 + 1]) end
    for _ = 1, BURST do ev = r:next() end
  end
  return ev
end

local function ring_blocks_only()
  local _, w, r = ring_for(64)
  local n = 0
  for i = 1, N, BURST do
    for k = 0, BURST - 1 do w:add(strings[(i + k) % 256 + 1]) end
    n = n + #r:next_block(BURST)
  end
  return n
end

local function ring_blocks()
  local _, w, r = ring_for(64)
  local sink
  for i = 1, N, BURST do
    for k = 0, BURST - 1 do w:add(strings[(i + k) % 256 + 1]) end
    local b = r:next_block(BURST)
    for j = 1, #b do sink = b:len(j) end
  end
  return sink
end

local function ring_blocks_header()
  local _, w, r = ring_for(64)
  local sum = 0
  for i = 1, N, BURST do
    for k = 0, BURST - 1 do w:add(strings[(i + k) % 256 + 1]) end
    local b = r:next_block(BURST)
    for j = 1, #b do sum = sum + b:unpack(j, "<I8") end
  end
  return sum
end

-- 1 KiB payloads whose first 20 bytes are a header: id (u64), kind (u32), value (double).
local big = {}
for i = 1, 16 do big[i] = string.pack("<I8I4d", i, i % 7, i * 0.5) .. string.rep("p", 1024 - 20) end

local function read_unpack()
  local _, w, r = ring_for(1024)
  local sum = 0
  for i = 1, N do
    w:add(big[i % 16 + 1])
    local id, kind, value = r:next():unpack("<I8I4d")
    sum = sum + id + kind + value
  end
  return sum
end

local function read_data()
  local _, w, r = ring_for(1024)
  local sum = 0
  for i = 1, N do
    w:add(big[i % 16 + 1])
    local id, kind, value = string.unpack("<I8I4d", r:next():data())
    sum = sum + id + kind + value
  end
  return sum
end

local function machine()
  local f = io.open("/proc/cpuinfo")
  local model = f and f:read("a"):match("model name%s*:%s*([^\n]+)") or "unknown CPU"
  if f then f:close() end
  return model
end

print(string.format("rusted_ring %s, %s, %s; N=%d events, best of %d rounds",
                    rr.version, _VERSION, machine(), N, REPEAT))
print()
do   -- every burst comes back as one block
  local _, w, r = ring_for(64)
  for k = 1, BURST do w:add(strings[k % 256 + 1]) end
  assert(#r:next_block(BURST) == BURST, "a burst did not come back as one block")
end

print("1. one event in and out (64-byte strings)")
local qi, ri = best_of(queue_interleaved), best_of(ring_interleaved)
local qb, rb = best_of(queue_bursts), best_of(ring_bursts)
local ro, rk = best_of(ring_blocks_only), best_of(ring_blocks)
local qh, rh = best_of(queue_bursts_header), best_of(ring_blocks_header)
print(string.format("   %-46s %8s %8s %8s", "", "queue", "ring", "x"))
local function row(what, q, r) print(string.format("   %-46s %8.1f %8.1f %8.2f", what, q, r, q / r)) end
row("interleaved: push+pop / add+next", qi, ri)
row("bursts of 512: push+pop / add+next", qb, rb)
row("bursts of 512: push+pop / add+next_block", qb, ro)
row("bursts of 512: push+pop / add+next_block+b:len", qb, rk)
row("bursts of 512, decode 8 B: +string.unpack / b:unpack", qh, rh)
print("   (ns per event; x = queue / ring, above 1 the ring is faster;")
print("    targets: add+next >= 1.0x, add+next_block in bursts of 512 >= 1.5x)")
print()
print("2. 1 KiB payload, read its 20-byte header")
local ru, rd = best_of(read_unpack), best_of(read_data)
print(string.format("   %-34s %8.1f ns/event", "add + next + ev:unpack", ru))
print(string.format("   %-34s %8.1f ns/event", "add + next + ev:data() + unpack", rd))
print(string.format("   %-34s %8.2fx", "data() / unpack", rd / ru))

local json_path = os.getenv("RR_BENCH_JSON")
if json_path then
  local rows = {
    { "interleaved", "one in, one out: push+pop / add+next, 64-byte strings", qi, ri, "w:add + r:next" },
    { "bursts", "bursts of 512 in, then 512 out", qb, rb, "w:add + r:next" },
    { "bursts_block", "bursts of 512 in, then one next_block(512)", qb, ro, "w:add + r:next_block(512)" },
    { "bursts_block_len", "bursts of 512 in, then one next_block(512), b:len(i) per event", qb, rk,
      "w:add + r:next_block(512) + b:len(i)" },
    { "bursts_block_decode", "bursts of 512, each event's first 8 bytes decoded as an integer", qh, rh,
      "w:add + r:next_block(512) + b:unpack(i, '<I8')" },
  }
  local out = {}
  out[#out + 1] = string.format('{\n  "lua": "%s", "rusted_ring": "%s", "events": %d, "repeat": %d,\n',
                                _VERSION, rr.version, N, REPEAT)
  out[#out + 1] = '  "queue_vs_ring": [\n'
  for i, r in ipairs(rows) do
    out[#out + 1] = string.format('    {"name": "%s", "what": "%s", "queue_ns": %.3f, "ring_ns": %.3f, '
                                  .. '"ring_what": "%s"}%s\n', r[1], r[2], r[3], r[4], r[5],
                                  i < #rows and "," or "")
  end
  out[#out + 1] = string.format('  ],\n  "header_1k": {"unpack_ns": %.3f, "data_ns": %.3f}\n}\n', ru, rd)
  local f = assert(io.open(json_path, "w"))
  f:write(table.concat(out))
  f:close()
  print("\nwrote " .. json_path)
end
