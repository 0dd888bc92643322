-- writer_spec.lua — add, try_add, add_batch and close: outcomes returned as
-- nil, word; misuse raised with the sizes or the value in the message; the
-- ring stays usable after every error.
local rr = require "rusted_ring"
local support = require "support"

local function bp_ring(cap, slot)
  return rr.ring{ slot_size = slot or 16, capacity = cap or 4, mode = "backpressure" }
end

describe("writer", function()
  it("add returns each event's sequence", function()
    local ring = bp_ring()
    local w = ring:writer()
    assert.are.equal(0, w:add("a"))
    assert.are.equal(1, w:add("b", 7))
    assert.are.equal(2, w:add("", 4294967295))
    local r = ring:reader()
    local ev = r:next()
    assert.are.same({ "a", 0 }, { ev:data(), ev:type() })
    ev = r:next()
    assert.are.same({ "b", 7 }, { ev:data(), ev:type() })
    ev = r:next()
    assert.are.same({ "", 4294967295, 0 }, { ev:data(), ev:type(), ev:len() })
  end)

  it("a gated writer gets nil, 'full' at once, and 'timeout' after its timeout", function()
    local ring = bp_ring(2)
    local w, r = ring:writer(), ring:reader()
    assert(w:add("1")); assert(w:add("2"))
    assert.are.same({ nil, "full" }, { w:add("3") })
    assert.are.same({ nil, "full" }, { w:add("3", 0, 0) })
    assert.are.same({ nil, "full" }, { w:add("3", 0, nil) })  -- nil: the default, don't wait
    local t0 = support.now()
    assert.are.same({ nil, "timeout" }, { w:add("3", 0, 0.05) })
    assert.is_true(support.now() - t0 >= 0.045)
    assert.are.same({ false, "full" }, { w:try_add("3") })
    assert.is_true(ring:stats().writer_stalls >= 1)
    -- the ring is still usable: the reader frees a slot when it moves past
    -- the event it was handed (backpressure events are read in place)
    assert.are.equal("1", r:next():data())
    assert.are.same({ false, "full" }, { w:try_add("3") })
    assert.are.equal("2", r:next():data())
    assert.is_true(w:try_add("3"))
    assert.are.equal(1, ring:stats().readers[1].lag)
  end)

  it("an overwrite writer never reports full", function()
    local ring = rr.ring{ slot_size = 8, capacity = 2, mode = "overwrite" }
    local w, r = ring:writer(), ring:reader()
    for i = 1, 10 do assert.are.equal(i - 1, w:add("e" .. i)) end
    assert.is_truthy(r)
  end)

  it("raises on an oversized payload with both sizes; nothing is published", function()
    local ring = bp_ring(4, 16)
    local w = ring:writer()
    local ok, err = pcall(function() return w:add(string.rep("x", 17)) end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'add' %(payload of 17 bytes exceeds the slot size of 16 bytes%)", err)
    ok, err = pcall(function() return w:try_add(string.rep("x", 100)) end)
    assert.is_false(ok)
    assert.matches("payload of 100 bytes exceeds the slot size of 16 bytes", err)
    assert.are.equal(0, ring:published())
    assert.are.equal(0, w:add(string.rep("y", 16)))   -- exactly slot_size fits
  end)

  local bad_args = {
    { function(w) return w:add(42) end, "bad argument #1 to 'add' %(string expected, got number%)" },
    { function(w) return w:add(nil) end, "string expected, got nil" },
    { function(w) return w:add({}) end, "string expected, got table" },
    { function(w) return w:add("x", 1.5) end, "event type must be an integer, got 1.5" },
    { function(w) return w:add("x", -1) end, "event type must be in 0..4294967295, got %-1" },
    { function(w) return w:add("x", 4294967296) end, "event type must be in 0..4294967295, got 4294967296" },
    { function(w) return w:add("x", "7") end, "event type must be an integer, got string" },
    { function(w) return w:add("x", 0, "soon") end, "number of seconds expected, got string" },
    { function(w) return w:add("x", 0, 0/0) end, "timeout must be a number of seconds, not NaN" },
    { function(w) return w:add("x", 0, -1) end, "bad argument #3 to 'add' %(timeout must be >= 0 seconds, got %-1" },
    { function(w) return w:add_batch({ "x" }, 0, -0.001) end, "timeout must be >= 0 seconds, got %-0.001" },
    { function(w) return w:try_add(true) end, "bad argument #1 to 'try_add' %(string expected, got boolean%)" },
    { function(w) return w:add_batch("x") end, "bad argument #1 to 'add_batch' %(table expected, got string%)" },
    { function(w) return w:add_batch({ "a", 2 }) end, "item 2 is number, not a string" },
    { function(w) return w:add_batch({ "a", string.rep("z", 40) }) end, "item 2 has 40 bytes; the slot size is 16 bytes" },
    { function(w) return w:add_batch({ "a", "b" }, { 1 }) end, "event type 2 must be an integer, got nil" },
    { function(w) return w:add_batch({ "a" }, { -3 }) end, "event type 1 must be in 0..4294967295, got %-3" },
    { function(w) return w:add_batch({ "a", "b", "c", "d", "e" }) end, "a batch holds 1 to 4 events here, not 5" },
  }
  for i, case in ipairs(bad_args) do
    it("raises a clear error for bad arguments (" .. i .. ")", function()
      local ring = bp_ring(4, 16)
      local w, r = ring:writer(), ring:reader()
      local ok, err = pcall(case[1], w)
      assert.is_false(ok)
      assert.matches(case[2], err)
      -- nothing half-done, and the ring still works
      assert.are.equal(0, ring:published())
      assert.are.equal(0, w:add("ok"))
      assert.are.equal("ok", r:next():data())
    end)
  end

  it("add_batch publishes all items with one claim, with one type or a list", function()
    local ring = bp_ring(8)
    local w, r = ring:writer(), ring:reader()
    assert.are.same({ 3, 0 }, { w:add_batch({ "a", "b", "c" }, 5) })
    assert.are.same({ 2, 3 }, { w:add_batch({ "d", "e" }, { 1, 2 }) })
    assert.are.same({ 0 }, { w:add_batch({}) })
    local got = {}
    for ev in r:events() do got[#got + 1] = ev:data() .. ev:type() end
    assert.are.same({ "a5", "b5", "c5", "d1", "e2" }, got)
  end)

  it("add_batch is all or none when the ring is full", function()
    local ring = bp_ring(4)
    local w, r = ring:writer(), ring:reader()
    assert(w:add_batch({ "1", "2", "3" }))
    assert.are.same({ nil, "full" }, { w:add_batch({ "4", "5" }) })
    assert.are.same({ nil, "timeout" }, { w:add_batch({ "4", "5" }, 0, 0.01) })
    assert.are.equal(3, ring:published())
    r:next(); r:next()   -- moving past the first event frees its slot: two free now
    assert.are.same({ nil, "full" }, { w:add_batch({ "4", "5", "6" }) })
    assert.are.equal(3, ring:published())
    assert.are.same({ 2, 3 }, { w:add_batch({ "4", "5" }) })
  end)

  it("add_batch takes more items than fit on the C stack", function()
    local ring = bp_ring(1000, 16)
    local w, r = ring:writer(), ring:reader()
    local items = {}
    for i = 1, 700 do items[i] = support.payload(i) end
    assert.are.equal(700, (w:add_batch(items)))
    for i = 1, 700 do assert.are.equal(i, support.check(r:next():data())) end
  end)

  it("a single-producer ring refuses a second live writer, and accepts one after close", function()
    local ring = bp_ring()
    local w = ring:writer()
    local ok, err = pcall(ring.writer, ring)
    assert.is_false(ok)
    assert.matches("writer", err)
    w:close()
    local w2 = ring:writer()
    assert.are.equal(0, w2:add("x"))
  end)

  it("a dropped single-producer writer is collected to make room for a new one", function()
    local ring = bp_ring()
    do local _ = ring:writer() end
    local w = ring:writer()   -- no collectgarbage() here: ring:writer() does it when needed
    assert.are.equal(0, w:add("x"))
  end)

  it("a multi-producer ring accepts many writers", function()
    local ring = rr.ring{ slot_size = 8, capacity = 8, producers = "multi" }
    local a, b = ring:writer(), ring:writer()
    assert.are.equal(0, a:add("a"))
    assert.are.equal(1, b:add("b"))
  end)

  it("close is idempotent; a closed writer raises and prints closed", function()
    local ring = bp_ring()
    local w = ring:writer()
    assert.matches("^rusted_ring.writer %(", tostring(w))
    w:close()
    w:close()
    assert.are.equal("rusted_ring.writer (closed)", tostring(w))
    local ok, err = pcall(w.add, w, "x")
    assert.is_false(ok)
    assert.matches("attempt to use a closed writer", err)
    assert.are.equal(0, ring:stats().writers)
  end)

  it("a <close> variable closes the writer", function()
    local ring = bp_ring()
    do
      local w <close> = ring:writer()
      w:add("x")
      assert.are.equal(1, ring:stats().writers)
    end
    assert.are.equal(0, ring:stats().writers)
    local mt = getmetatable(ring:writer())
    assert.are.equal(mt.__gc, mt.__close)
    assert.are.equal("rusted_ring.writer", mt.__name)
  end)

  it("a writer keeps its ring alive", function()
    local w = bp_ring():writer()
    collectgarbage(); collectgarbage()
    assert.are.equal(0, w:add("still here"))
  end)

  it("a write to a closed ring returns nil, 'closed'", function()
    local ring = bp_ring()
    local w = ring:writer()
    ring:close()
    assert.are.same({ nil, "closed" }, { w:add("x") })
    assert.are.same({ false, "closed" }, { w:try_add("x") })
    assert.are.same({ nil, "closed" }, { w:add_batch({ "x" }) })
  end)
end)
