-- reader_spec.lua — next / events in both modes, lag / lost / pressure
-- figures, lapped readers' exact accounting, start positions, the reader
-- table under garbage collection, close and <close>.
local rr = require "rusted_ring"
local support = require "support"

describe("reader", function()
  it("next returns events in order and nil, 'empty' without waiting", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local w, r = ring:writer(), ring:reader()
    assert.are.same({ nil, "empty" }, { r:next() })
    assert.are.same({ nil, "empty" }, { r:next(0) })
    assert.are.same({ nil, "empty" }, { r:next(-0.0) })
    for i = 1, 5 do w:add(support.payload(i)) end
    for i = 1, 5 do
      local ev = r:next()
      assert.are.equal(i - 1, ev:sequence())
      assert.are.equal(i, support.check(ev:data()))
    end
    assert.are.same({ nil, "empty" }, { r:next() })
  end)

  it("next(timeout) waits that long and then says 'timeout'", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local r = ring:reader()
    local t0 = support.now()
    assert.are.same({ nil, "timeout" }, { r:next(0.05) })
    local waited = support.now() - t0
    assert.is_true(waited >= 0.045, "waited only " .. waited)
    assert.is_true(waited < 5)
  end)

  it("rejects a bad timeout clearly", function()
    local r = rr.ring{ slot_size = 16, capacity = 8 }:reader()
    local ok, err = pcall(function() return r:next("1") end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'next' %(number of seconds expected, got string%)", err)
    ok, err = pcall(function() return r:next(0/0) end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'next' %(timeout must be a number of seconds, not NaN", err)
    -- a negative timeout is a mistake, as in Python; it used to mean "don't wait"
    ok, err = pcall(function() return r:next(-1) end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'next' %(timeout must be >= 0 seconds, got %-1", err)
    ok, err = pcall(function() return r:next(-math.huge) end)
    assert.is_false(ok)
    assert.matches("got %-inf", err)
    ok, err = pcall(function() return r:events(-0.5) end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'events' %(timeout must be >= 0 seconds, got %-0.5", err)
  end)

  it("events() iterates over what is available now", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local w, r = ring:writer(), ring:reader()
    for i = 1, 3 do w:add("e" .. i) end
    local got = {}
    for ev in r:events() do got[#got + 1] = ev:data() end
    assert.are.same({ "e1", "e2", "e3" }, got)
    w:add("e4")
    got = {}
    for ev in r:events(0.01) do got[#got + 1] = ev:data() end   -- waits 10 ms for more, then ends
    assert.are.same({ "e4" }, got)
  end)

  it("events() ends at the close after draining", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local w, r = ring:writer(), ring:reader()
    w:add("a"); w:add("b")
    ring:close()
    local n = 0
    for _ in r:events(math.huge) do n = n + 1 end   -- would hang if the close were not seen
    assert.are.equal(2, n)
  end)

  it("starts at the oldest retained event or at the latest", function()
    local ring = rr.ring{ slot_size = 16, capacity = 4, mode = "overwrite" }
    local w = ring:writer()
    for i = 1, 10 do w:add(support.payload(i)) end
    local oldest, latest = ring:reader("oldest"), ring:reader("latest")
    assert.are.equal(7, support.check(oldest:next():data()))   -- the last 4 of 10
    assert.are.same({ nil, "empty" }, { latest:next() })
    w:add(support.payload(11))
    assert.are.equal(11, support.check(latest:next():data()))
    local ok, err = pcall(ring.reader, ring, "newest")
    assert.is_false(ok)
    assert.matches('start must be "oldest" or "latest", got "newest"', err)
    ok, err = pcall(ring.reader, ring, 1)
    assert.is_false(ok)
    assert.matches('start must be "oldest" or "latest", got number', err)
  end)

  it("reports lag and backpressure ratios at the rusted-ring crate's thresholds", function()
    local ring = rr.ring{ slot_size = 8, capacity = 10 }
    local w, r = ring:writer(), ring:reader()
    local function fill_to(n) while ring:published() - r:cursor() < n do w:add("x") end end
    fill_to(8)
    assert.are.equal(8, r:lag())
    assert.are.equal(0.8, r:backpressure_ratio())
    assert.is_false(r:is_under_pressure())   -- > 0.8
    assert.is_false(r:should_throttle())
    fill_to(9)
    assert.is_true(r:is_under_pressure())
    assert.is_true(r:should_throttle())      -- >= 0.9
    fill_to(10)
    assert.are.equal(1.0, r:backpressure_ratio())
    r:next()
    assert.are.equal(9, r:lag())
    assert.are.equal(1, r:pinned())          -- event 0 stays the reader's until its next call
    assert.are.equal(1.0, r:backpressure_ratio())
    assert.are.equal(0, r:lost())
    assert.are.equal(1, r:delivered())
    assert.are.equal(0, r:skipped())
    assert.are.equal(1, r:cursor())
  end)

  for _, cap in ipairs({ 1, 7, 64 }) do
    it("a lapped reader counts exactly what it lost (capacity " .. cap .. ")", function()
      local ring = rr.ring{ slot_size = 32, capacity = cap, mode = "overwrite" }
      local w, r = ring:writer(), ring:reader()
      local published, delivered, last = 0, 0, -1
      for round = 1, 50 do
        for _ = 1, (round * 7) % (3 * cap) + 1 do
          w:add(support.payload(published, 32))
          published = published + 1
        end
        for _ = 1, round % 4 do           -- read a little, fall behind a lot
          local ev = r:next()
          if not ev then break end
          local seq = assert(support.check(ev:data()))
          assert.are.equal(ev:sequence(), seq)
          assert.is_true(seq > last)
          last, delivered = seq, delivered + 1
        end
      end
      for ev in r:events() do
        local seq = assert(support.check(ev:data()))
        assert.is_true(seq > last)
        last, delivered = seq, delivered + 1
      end
      assert.are.equal(published - 1, last)
      assert.are.equal(published, ring:published())
      assert.are.equal(delivered, r:delivered())
      assert.is_true(r:lost() > 0)
      assert.are.equal(published, delivered + r:lost())
    end)
  end

  it("a backpressure reader loses nothing", function()
    local ring = rr.ring{ slot_size = 32, capacity = 5 }
    local w, r = ring:writer(), ring:reader()
    local sent, got = 0, 0
    while sent < 1000 do
      while sent < 1000 and w:try_add(support.payload(sent, 32)) do sent = sent + 1 end
      for ev in r:events() do
        assert.are.equal(got, support.check(ev:data()))
        got = got + 1
      end
    end
    assert.are.equal(1000, got)
    assert.are.equal(0, r:lost())
  end)

  it("readers the GC collects unregister: 10^4 create/drop cycles leave the table empty", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local w = ring:writer()
    for i = 1, 10000 do
      local r = ring:reader()
      if i % 100 == 0 then w:try_add("x"); r:next() end
    end
    collectgarbage(); collectgarbage()
    local s = ring:stats()
    assert.are.equal(0, s.reader_count)
    -- and they no longer gate the writer
    for _ = 1, 4 do assert.is_true(w:try_add("y")) end
  end)

  it("the 65th live reader is refused clearly; the ring stays usable", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local keep = {}
    for i = 1, rr.MAX_READERS do keep[i] = ring:reader() end
    local ok, err = pcall(ring.reader, ring)
    assert.is_false(ok)
    assert.matches("all 64 reader entries of the ring are in use", err)
    keep[1]:close()
    assert.is_truthy(ring:reader())
  end)

  it("close unregisters, is idempotent, and a closed reader raises", function()
    local ring = rr.ring{ slot_size = 8, capacity = 2 }
    local w, r = ring:writer(), ring:reader()
    w:add("a"); w:add("b")
    assert.are.same({ nil, "full" }, { w:add("c") })
    assert.matches("^rusted_ring.reader %(cursor=0, lag=2%)", tostring(r))
    r:close()
    r:close()
    assert.are.equal("rusted_ring.reader (closed)", tostring(r))
    assert.are.equal(2, w:add("c"))   -- no longer gated
    for _, m in ipairs({ "next", "events", "lag", "lost", "backpressure_ratio",
                         "is_under_pressure", "should_throttle", "cursor" }) do
      local ok, err = pcall(r[m], r)
      assert.is_false(ok, m)
      assert.matches("attempt to use a closed reader", err)
    end
  end)

  it("a <close> variable closes the reader", function()
    local ring = rr.ring{ slot_size = 8, capacity = 2 }
    do
      local r <close> = ring:reader()
      assert.are.equal(1, ring:stats().reader_count)
    end
    assert.are.equal(0, ring:stats().reader_count)
    local mt = getmetatable(ring:reader())
    assert.are.equal(mt.__gc, mt.__close)
    assert.are.equal(mt.__gc, mt.__index.close)
    assert.are.equal("rusted_ring.reader", mt.__name)
  end)

  it("a reader keeps its ring alive and frees it when it closes last", function()
    local r
    do
      local ring = rr.ring{ slot_size = 8, capacity = 2 }
      ring:writer():add("x")
      r = ring:reader("oldest")
    end
    collectgarbage(); collectgarbage()
    assert.are.equal("x", r:next():data())
    r:close()
    collectgarbage()
  end)
end)
