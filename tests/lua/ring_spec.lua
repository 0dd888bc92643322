-- ring_spec.lua — rr.ring: options and their validation, figures, stats,
-- close / release, to-be-closed variables and __tostring.
local rr = require "rusted_ring"

describe("rr.ring", function()
  it("creates a ring with the documented defaults", function()
    local ring = rr.ring{ slot_size = 64, capacity = 2000 }
    assert.are.equal(64, ring:slot_size())
    assert.are.equal(2000, ring:capacity())
    assert.are.equal("backpressure", ring:mode())
    assert.are.equal("single", ring:producers())
    assert.are.equal(0, ring:published())
    assert.is_true(ring:memory_bytes() >= 64 * 2000)
    assert.is_false(ring:closed())
  end)

  it("accepts every mode and producers value", function()
    local ring = rr.ring{ slot_size = 8, capacity = 3, mode = "overwrite", producers = "multi" }
    assert.are.equal("overwrite", ring:mode())
    assert.are.equal("multi", ring:producers())
    assert.are.equal(3, ring:capacity())   -- never rounded
  end)

  it("accepts integral floats for sizes", function()
    assert.are.equal(16, rr.ring{ slot_size = 16.0, capacity = 2 }:slot_size())
  end)

  local bad = {
    { { slot_size = 0, capacity = 1 }, "slot_size must be in 1..67108864, got 0" },
    { { slot_size = -5, capacity = 1 }, "slot_size must be in 1..67108864, got %-5" },
    { { slot_size = 64 * 1024 * 1024 + 1, capacity = 1 }, "slot_size must be in" },
    { { slot_size = 8, capacity = 0 }, "capacity must be in 1..%d+, got 0" },
    { { slot_size = 8, capacity = -1 }, "capacity must be in 1..%d+, got %-1" },
    { { slot_size = 8, capacity = 2.5 }, "capacity must be an integer, got 2.5" },
    { { slot_size = "8", capacity = 2 }, "slot_size must be an integer, got string" },
    { { capacity = 2 }, "option 'slot_size' is required" },
    { { slot_size = 8 }, "option 'capacity' is required" },
    { { slot_size = 8, capacity = 2, mode = "fast" }, 'mode must be "backpressure" or "overwrite", got "fast"' },
    { { slot_size = 8, capacity = 2, producers = 2 }, 'producers must be "single" or "multi", got 2' },
    { { slot_size = 8, capacity = 2, slotsize = 8 }, "unknown option slotsize" },
    { { slot_size = 1024, capacity = 2^53 }, "capacity 9007199254740992 exceeds the maximum of" },
    { { slot_size = 64 * 1024 * 1024, capacity = 2^40 }, "does not fit in memory" },
  }
  for _, case in ipairs(bad) do
    it("refuses " .. case[2]:gsub("%%", ""), function()
      local ok, err = pcall(rr.ring, case[1])
      assert.is_false(ok)
      assert.matches(case[2], err)
    end)
  end

  it("refuses a non-table argument", function()
    local ok, err = pcall(rr.ring, 64)
    assert.is_false(ok)
    assert.matches("table expected, got number", err)
  end)

  it("counts published events", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local w = ring:writer()
    w:add("a"); w:add("b")
    assert.are.equal(2, ring:published())
  end)

  it("reports stats as plain data, one entry per reader", function()
    local ring = rr.ring{ slot_size = 32, capacity = 10, mode = "backpressure" }
    local w, r1, r2 = ring:writer(), ring:reader(), ring:reader()
    for i = 1, 4 do assert(w:add("x" .. i)) end
    r1:next(); r1:next()
    local s = ring:stats()
    assert.are.equal(10, s.capacity)
    assert.are.equal(32, s.slot_size)
    assert.are.equal("backpressure", s.mode)
    assert.are.equal("single", s.producers)
    assert.are.equal(ring:memory_bytes(), s.memory_bytes)
    assert.are.equal(4, s.published)
    assert.are.equal(0, s.writer_stalls)
    assert.are.equal(1, s.writers)
    assert.is_false(s.closed)
    assert.are.equal(2, s.reader_count)
    assert.are.equal(2, #s.readers)
    local lags = { s.readers[1].lag, s.readers[2].lag }
    table.sort(lags)
    assert.are.same({ 2, 4 }, lags)
    assert.are.equal(0.4, s.max_backpressure)
    for _, rs in ipairs(s.readers) do
      assert.are.equal(0, rs.lost)
      assert.is_number(rs.index)
      assert.is_number(rs.pid)
      -- r1 still has event 1 (its last): pinned, so a writer cannot reuse it
      assert.are.equal(rs.lag == 2 and 1 or 0, rs.pinned)
      assert.are.equal((rs.lag + rs.pinned) / 10, rs.backpressure)
    end
    assert.are.equal("", s.name)                 -- an in-process ring has no name
  end)

  it("close ends the stream: readers drain, writers see closed, figures stay readable", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local w, r = ring:writer(), ring:reader()
    w:add("last")
    ring:close()
    ring:close()   -- idempotent
    assert.is_true(ring:closed())
    assert.are.same({ nil, "closed" }, { w:add("more") })
    assert.are.equal("last", r:next():data())
    assert.are.same({ nil, "closed" }, { r:next() })
    assert.are.equal(1, ring:published())
    assert.is_true(ring:stats().closed)
    assert.matches("closed", tostring(ring))
  end)

  it("refuses new handles on a closed ring with a clear error", function()
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    ring:close()
    local ok, err = pcall(ring.writer, ring)
    assert.is_false(ok)
    assert.matches("cannot open a writer: the ring is closed", err)
    ok, err = pcall(ring.reader, ring)
    assert.is_false(ok)
    assert.matches("cannot open a reader: the ring is closed", err)
  end)

  it("a <close> variable releases the ring; its readers still drain", function()
    local r, ring_ref
    do
      local ring <close> = rr.ring{ slot_size = 8, capacity = 4 }
      ring_ref = ring
      ring:writer():add("kept")
      r = ring:reader("oldest")
    end
    assert.is_true(ring_ref:closed())
    assert.matches("closed", tostring(ring_ref))
    local ok, err = pcall(ring_ref.published, ring_ref)
    assert.is_false(ok)
    assert.matches("attempt to use a released ring", err)
    assert.are.equal("kept", r:next():data())
    assert.are.same({ nil, "closed" }, { r:next() })
    r:close()
  end)

  it("__gc and __close are the same function, safe to call twice", function()
    local mt = getmetatable(rr.ring{ slot_size = 8, capacity = 1 })
    assert.are.equal(mt.__gc, mt.__close)
    local ring = rr.ring{ slot_size = 8, capacity = 1 }
    mt.__close(ring)
    mt.__gc(ring)
    assert.is_true(ring:closed())
  end)

  it("prints its shape, and says closed", function()
    local ring = rr.ring{ slot_size = 8, capacity = 3, mode = "overwrite" }
    assert.matches("^rusted_ring.ring %(slot_size=8, capacity=3, overwrite, single%)", tostring(ring))
    ring:close()
    assert.are.equal("rusted_ring.ring (closed)", tostring(ring))
  end)

  it("has a __name and raises on a wrong self", function()
    local ring = rr.ring{ slot_size = 8, capacity = 1 }
    assert.are.equal("rusted_ring.ring", getmetatable(ring).__name)
    local ok, err = pcall(ring.capacity, {})
    assert.is_false(ok)
    assert.matches("rusted_ring.ring expected, got table", err)
    local w = ring:writer()
    ok, err = pcall(ring.capacity, w)
    assert.is_false(ok)
    assert.matches("rusted_ring.ring expected, got rusted_ring.writer", err)
  end)

  it("gives C code its handle", function()
    local ring = rr.ring{ slot_size = 8, capacity = 1 }
    assert.are.equal("userdata", type(ring:handle()))
    assert.are_not.equal(ring, ring:handle())
  end)
end)
