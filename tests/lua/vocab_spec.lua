-- vocab_spec.lua — the contract the Lua binding shares with Python through the
-- C core: what a timeout value means, the thresholds and health bands, the
-- stats fields, and pinned slots in every pressure figure.
-- (tests/interop/test_contract.py runs the same tables in both languages.)
local rr = require "rusted_ring"
local helper = require "rr_test_helper"
local support = require "support"

-- The keys of ring:stats() and of each reader entry: the core's field lists
-- (RR_RING_STATS_FIELDS, RR_READER_STATS_FIELDS), as Python's Ring.stats() has them.
local RING_KEYS = { "name", "capacity", "slot_size", "mode", "producers", "memory_bytes", "published",
                    "writer_stalls", "abandoned", "claims_recovered", "writers", "writer_pid", "writer_processes",
                    "writer_alive", "writer_wait", "shared", "closed", "readers_evicted", "upstream_lost",
                    "instance", "reader_count", "max_backpressure", "readers" }
local READER_KEYS = { "index", "pid", "alive", "cursor", "lag", "pinned", "lost", "skipped",
                      "backpressure", "wait", "name", "after", "writable", "durable", "parked" }

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function sorted(list)
  local out = { table.unpack(list) }
  table.sort(out)
  return out
end

describe("timeouts", function()
  it("0 and -0.0 never wait; nil is the default, which never waits either", function()
    local ring = rr.ring{ slot_size = 8, capacity = 1 }
    local w, r = ring:writer(), ring:reader()
    for _, t in ipairs({ 0, 0.0, -0.0 }) do
      assert.are.same({ nil, "empty" }, { r:next(t) })
    end
    assert.are.same({ nil, "empty" }, { r:next(nil) })
    assert.are.same({ nil, "empty" }, { r:next() })
    assert(w:add("a"))
    for _, t in ipairs({ 0, -0.0 }) do
      assert.are.same({ nil, "full" }, { w:add("b", 0, t) })
    end
    assert.are.same({ nil, "full" }, { w:add("b") })
  end)

  it("a positive timeout waits at least that long, however small", function()
    local ring = rr.ring{ slot_size = 8, capacity = 1 }
    local w, r = ring:writer(), ring:reader()
    for _, t in ipairs({ 0.001, 1e-9, 5e-324 }) do
      local t0 = support.now()
      assert.are.same({ nil, "timeout" }, { r:next(t) })
      assert.is_true(support.now() - t0 >= t)
    end
    assert(w:add("a"))
    local t0 = support.now()
    assert.are.same({ nil, "timeout" }, { w:add("b", 0, 0.001) })
    assert.is_true(support.now() - t0 >= 0.001)
  end)

  it("math.huge waits without limit: the call returns what another thread publishes", function()
    local ring = rr.ring{ slot_size = 32, capacity = 4 }
    local r = ring:reader()
    local job = helper.start(ring, "publish", { payload = "after a while", event_type = 3 })
    job:arm()
    local ev, why = r:next(math.huge)
    assert.are.equal("ok", (job:join()))
    assert.is_truthy(ev, why)
    assert.are.equal("after a while", ev:data())
  end)

  it("huge finite timeouts are accepted as long waits", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local w, r = ring:writer(), ring:reader()
    assert.are.equal(0, w:add("x", 0, 1e300))
    assert.are.equal(1, w:add("y", 0, math.maxinteger))
    assert.are.equal("x", r:next(1e300):data())
    assert.are.equal("y", r:next(math.maxinteger):data())
  end)

  local bad = {
    { -1, "timeout must be >= 0 seconds, got %-1 %(0: don't wait, inf: wait without limit%)" },
    { -0.001, "timeout must be >= 0 seconds, got %-0.001 " },
    { -math.huge, "timeout must be >= 0 seconds, got %-inf " },
    { math.mininteger, "timeout must be >= 0 seconds, got %-9.22337e%+18 " },
    { 0 / 0, "timeout must be a number of seconds, not NaN " },
  }
  for _, case in ipairs(bad) do
    it("a negative or NaN timeout raises: " .. tostring(case[1]), function()
      local ring = rr.ring{ slot_size = 8, capacity = 1 }
      local w, r = ring:writer(), ring:reader()
      local calls = {
        function() return r:next(case[1]) end,
        function() return r:events(case[1]) end,
        function() return w:add("x", 0, case[1]) end,
        function() return w:add_batch({ "x" }, 0, case[1]) end,
        function() return rr.emit("x", 0, case[1]) end,
      }
      for _, call in ipairs(calls) do
        local ok, err = pcall(call)
        assert.is_false(ok)
        assert.matches("bad argument #%d+ to '[%w_]+' %(" .. case[2], err)
      end
      assert.are.equal(0, ring:published())   -- nothing half done
      assert.are.equal(0, w:add("ok"))
    end)
  end
end)

describe("thresholds and health bands", function()
  it("come from the core", function()
    assert.are.equal(0.8, rr.PRESSURE_THRESHOLD)
    assert.are.equal(0.9, rr.THROTTLE_THRESHOLD)
  end)

  -- Exactly 0.8 is GOOD (not under pressure), exactly 0.9 CRITICAL (throttle).
  local edges = {
    { 0.0, false, false, "EXCELLENT" }, { 0.4999, false, false, "EXCELLENT" },
    { 0.5, false, false, "GOOD" }, { 0.8, false, false, "GOOD" },
    { 0.8000001, true, false, "WARNING" }, { 0.8999999, true, false, "WARNING" },
    { 0.9, true, true, "CRITICAL" }, { 1.0, true, true, "CRITICAL" }, { 0 / 0, true, true, "CRITICAL" },
  }
  for _, e in ipairs(edges) do
    it("agree at " .. tostring(e[1]), function()
      assert.are.equal(e[2], rr.is_under_pressure(e[1]))
      assert.are.equal(e[3], rr.should_throttle(e[1]))
      assert.are.equal(e[4], rr.health_of(e[1]))
    end)
  end

  it("a reader at exactly a threshold agrees with its stats and the bands", function()
    for _, case in ipairs({ { 5, false, false, "GOOD" }, { 8, false, false, "GOOD" },
                            { 9, true, true, "CRITICAL" } }) do
      local ring = rr.ring{ slot_size = 8, capacity = 10 }
      local w, r = ring:writer(), ring:reader()
      for _ = 1, case[1] do assert(w:add("x")) end
      local entry = ring:stats().readers[1]
      assert.are.equal(case[1] / 10, entry.backpressure)
      assert.are.equal(entry.backpressure, r:backpressure_ratio())
      assert.are.equal(case[2], r:is_under_pressure())
      assert.are.equal(case[3], r:should_throttle())
      assert.are.equal(case[4], rr.health_of(ring:stats().max_backpressure))
    end
  end)

  it("rejects a ratio that is not a number", function()
    assert.has_error(function() rr.health_of("0.5") end)
    assert.has_error(function() rr.is_under_pressure(nil) end)
  end)

  it("health_check judges the default pools by the same bands", function()
    local ok, out = support.run_lua([[
      local rr = require "rusted_ring"
      rr.configure_pools{ S = 20 }
      local r, w = rr.EventPoolFactory.get_s_reader(), rr.EventPoolFactory.get_s_writer()
      local seen = { rr.health_check() }
      for _, lag in ipairs({ 10, 16, 17, 18 }) do
        while r:lag() < lag do assert(w:add("m")) end
        seen[#seen + 1] = rr.health_check()
      end
      print(table.concat(seen, " "))
    ]])
    assert.is_true(ok, out)
    assert.are.equal("EXCELLENT GOOD GOOD WARNING CRITICAL", out:match("[%u ]+[%u]"))
  end)
end)

describe("stats fields", function()
  it("are the core's lists, the same keys as Python's", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local r = ring:reader()
    local s = ring:stats()
    assert.are.same(sorted(RING_KEYS), keys(s))
    assert.are.same(sorted(READER_KEYS), keys(s.readers[1]))
    assert.are.equal("", s.name)
    assert.are.equal(0, r:pinned())
  end)
end)

describe("pinned slots", function()
  -- The issue's scenario in Lua, where a reader keeps its last event: a
  -- 4-slot ring, the reader has read one event and the writer filled the rest.
  -- The writer is full; lag alone said 0.75 and WARNING.
  it("count in the ratio, so a full writer reads 1.0 and CRITICAL", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local w, r = ring:writer(), ring:reader()
    assert(w:add("0"))
    assert.are.equal("0", r:next():data())
    for i = 1, 3 do assert(w:add(tostring(i))) end
    assert.are.same({ nil, "full" }, { w:add("4") })
    assert.are.equal(3, r:lag())
    assert.are.equal(1, r:pinned())
    assert.are.equal(1.0, r:backpressure_ratio())
    assert.is_true(r:should_throttle())
    local s = ring:stats()
    local entry = s.readers[1]
    assert.are.same({ 3, 1, 1.0 }, { entry.lag, entry.pinned, entry.backpressure })
    assert.are.equal(1.0, s.max_backpressure)
    assert.are.equal("CRITICAL", rr.health_of(s.max_backpressure))
    assert.are.equal(1, s.writer_stalls)
    -- moving on releases event 0: room for one more
    assert.are.equal("1", r:next():data())
    assert.are.same({ 2, 1 }, { r:lag(), r:pinned() })
    assert.are.equal(4, w:add("4"))
  end)

  it("a capacity-1 ring is full while its reader keeps the one event", function()
    local ring = rr.ring{ slot_size = 8, capacity = 1 }
    local w, r = ring:writer(), ring:reader()
    assert(w:add("only"))
    local ev = r:next()
    assert.are.equal("only", ev:data())
    assert.are.same({ nil, "full" }, { w:add("next") })
    local entry = ring:stats().readers[1]
    assert.are.same({ 0, 1, 1.0 }, { entry.lag, entry.pinned, entry.backpressure })
  end)

  it("overwrite readers pin nothing", function()
    local ring = rr.ring{ slot_size = 8, capacity = 2, mode = "overwrite" }
    local w, r = ring:writer(), ring:reader()
    assert(w:add("a")); assert(w:add("b"))
    assert(r:next()); assert(r:next())
    assert.are.equal(0, r:pinned())
    assert.are.equal(0.0, r:backpressure_ratio())
    assert.are.equal(0, ring:stats().readers[1].pinned)
  end)
end)
