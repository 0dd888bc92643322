-- process_spec.lua — r:process(fn, opts), the handler loop: every event once,
-- in order; end_of_batch; what is consumed when fn stops the loop (returns
-- false or raises: the events fn was called with, the stopping one included;
-- the rest of the batch comes again); timeouts; closing and reading from the
-- reader inside fn. Payloads carry their sequence and checksum (support.lua).
local rr = require "rusted_ring"
local helper = require "rr_test_helper"
local support = require "support"

local function filled(n, capacity, mode)
  local ring = rr.ring{ slot_size = 16, capacity = capacity or 64, mode = mode }
  local w = ring:writer()
  for i = 0, n - 1 do assert(w:add(support.payload(i))) end
  return ring, w, ring:reader()
end

describe("r:process", function()
  it("hands every event in order and returns the count at the close", function()
    local ring, _, r = filled(10)
    ring:close()
    local seen = {}
    assert.are.equal(10, r:process(function(ev) seen[#seen + 1] = support.check(ev:data()) end))
    assert.are.same({ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, seen)
    assert.are.equal(10, r:cursor())
    assert.are.equal(0, r:lag())
  end)

  it("says end_of_batch for exactly the last event of each batch read", function()
    local ring, _, r = filled(10)
    ring:close()
    local ends = {}
    r:process(function(ev, last)
      assert.are.equal("boolean", type(last))
      if last then ends[#ends + 1] = ev:sequence() end
    end, { max_batch = 4 })
    assert.are.same({ 3, 7, 9 }, ends)
  end)

  it("stops when fn returns false; the rest of the batch comes again", function()
    local _, _, r = filled(10)
    assert.are.equal(5, r:process(function(ev) return ev:sequence() ~= 4 end, { timeout = 0 }))
    assert.are.equal(5, r:cursor())
    assert.are.equal(5, r:delivered())
    local ev = r:next()
    assert.are.equal(5, support.check(ev:data()))
    assert.are.equal(4, r:process(function() end, { timeout = 0 }))
  end)

  it("goes on for nil and any value but false", function()
    for _, v in ipairs({ true, 0, "", {} }) do
      local ring, _, r = filled(3)
      ring:close()
      assert.are.equal(3, r:process(function() return v end))
    end
  end)

  it("propagates an error from fn; the failing event is consumed, the rest comes again", function()
    local _, _, r = filled(10)
    local ok, err = pcall(r.process, r, function(ev)
      if ev:sequence() == 3 then error({ at = ev:sequence() }) end
    end, { timeout = 0 })
    assert.is_false(ok)
    assert.are.same({ at = 3 }, err)
    assert.are.equal(4, r:cursor())
    local seen = {}
    assert.are.equal(6, r:process(function(ev) seen[#seen + 1] = support.check(ev:data()) end,
                                  { timeout = 0 }))
    assert.are.same({ 4, 5, 6, 7, 8, 9 }, seen)
  end)

  it("hands each event once when stopped again and again mid-batch", function()
    local _, _, r = filled(20)
    local seen = {}
    local function every_third(ev)
      seen[#seen + 1] = support.check(ev:data())
      return #seen % 3 ~= 0
    end
    while r:process(every_third, { timeout = 0 }) > 0 do end
    for i = 1, 20 do assert.are.equal(i - 1, seen[i]) end
    assert.are.equal(20, #seen)
  end)

  it("returns after the timeout without on_timeout, and on_timeout decides with it", function()
    local _, w, r = filled(2)
    assert.are.equal(2, r:process(function() end, { timeout = 0 }))
    local calls = 0
    local n = r:process(function(ev) assert(support.check(ev:data()) == 2) end, {
      timeout = 0.01,
      on_timeout = function()
        calls = calls + 1
        if calls == 1 then w:add(support.payload(2)) return nil end
        return false
      end,
    })
    assert.are.equal(1, n)
    assert.are.equal(2, calls)
    local ok, err = pcall(r.process, r, function() end,
                          { timeout = 0.001, on_timeout = function() error("late") end })
    assert.is_false(ok)
    assert.matches("late", err)
    assert.are.same({ nil, "empty" }, { r:next() })   -- usable after
  end)

  it("lets fn close the reader: the loop ends and the writer is free", function()
    local ring, w, r = filled(8, 8)
    assert.are.equal(3, r:process(function(ev)
      if ev:sequence() == 2 then r:close() end
    end))
    assert.matches("closed", tostring(r))
    assert.has_error(function() r:next() end, "attempt to use a closed reader")
    for _ = 1, 8 do assert(w:add("x")) end   -- nobody gates the writer any more
    assert.is_truthy(ring)
  end)

  it("refuses reads from the reader inside fn, and lets fn read its figures", function()
    local ring, _, r = filled(4)
    ring:close()
    local refused = 0
    assert.are.equal(4, r:process(function(ev)
      for _, call in ipairs({ function() r:next() end, function() r:next_block(2) end,
                              function() r:events() end,
                              function() r:process(function() end) end }) do
        local ok, err = pcall(call)
        assert.is_false(ok)
        assert.matches("in use by its process%(%) loop", err)
      end
      assert.are.equal(4, r:cursor())
      assert.is_true(r:lag() >= 0)
      refused = refused + 1
      assert.are.equal(ev:sequence() + 1, refused)
    end))
    assert.are.equal(4, refused)
  end)

  it("lets fn process another reader", function()
    local ring, _, r = filled(3)
    local other = ring:reader()
    ring:close()
    local inner = {}
    assert.are.equal(3, r:process(function(ev)
      if ev:sequence() == 0 then
        other:process(function(e) inner[#inner + 1] = e:sequence() end)
      end
    end))
    assert.are.same({ 0, 1, 2 }, inner)
  end)

  it("leaves the event stale once it returns", function()
    local ring, _, r = filled(2)
    ring:close()
    local kept
    r:process(function(ev) kept = ev end)
    assert.has_error(function() kept:data() end)
    assert.matches("stale", tostring(kept))
  end)

  it("refuses a coroutine yield from fn with an error, not a crash", function()
    local _, _, r = filled(3)
    local co = coroutine.wrap(function()
      return pcall(r.process, r, function() coroutine.yield(1) end, { timeout = 0 })
    end)
    local ok, err = co()
    assert.is_false(ok)
    assert.matches("yield", err)
    assert.are.equal(1, r:cursor())                  -- the event fn had is consumed
    assert.are.equal(2, r:process(function() end, { timeout = 0 }))
  end)

  it("rejects bad arguments clearly and stays usable", function()
    local _, _, r = filled(1)
    local function err_of(...)
      local ok, e = pcall(r.process, r, ...)
      assert.is_false(ok)
      return e
    end
    local ok, e = pcall(function() return r:process(3) end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'process' %(function expected, got number%)", e)
    assert.matches("r:process: unknown option batch", err_of(print, { batch = 3 }))
    assert.matches("r:process: max_batch must be in 1..", err_of(print, { max_batch = 0 }))
    assert.matches("r:process: timeout must be >= 0 seconds, got %-1", err_of(print, { timeout = -1 }))
    assert.matches("r:process: on_timeout must be a function, got string",
                   err_of(print, { on_timeout = "x" }))
    local callable = setmetatable({}, { __call = function() return false end })
    assert.are.equal(1, r:process(callable, { timeout = 0 }))   -- any callable will do
    r:close()
    assert.matches("attempt to use a closed reader", err_of(print))
  end)

  for _, mode in ipairs({ "backpressure", "overwrite" }) do
    it("gets a stream from another thread whole and in order (" .. mode .. ")", function()
      local N = 20000
      local ring = rr.ring{ slot_size = 16, capacity = 64, mode = mode }
      local r = ring:reader()
      local job = helper.start(ring, "stream", { count = N })
      local last, delivered = -1, 0
      r:process(function(ev)
        local seq, sum = ev:unpack("<I8I4")
        assert(sum == (seq * 2654435761) % 2^32 // 1, "torn payload")
        assert(seq == ev:sequence() and seq > last, "out of order")
        if mode == "backpressure" then assert(seq == last + 1, "missing event") end
        last, delivered = seq, delivered + 1
        if seq == N - 1 then return false end
      end, { timeout = 10 })
      assert.are.equal("ok", (job:join()))
      assert.are.equal(N - 1, last)
      assert.are.equal(N, delivered + r:lost())
    end)
  end
end)
