-- threads_spec.lua — a Lua call blocked in the core is woken by another OS
-- thread (the test helper's), and a stream written by another thread arrives
-- whole. Each wake is proven, not assumed: the helper acts only after the Lua
-- side has armed it and had time to fall asleep, and the Lua call must return
-- the helper's result long before its own (10 s) timeout.
local rr = require "rusted_ring"
local helper = require "rr_test_helper"
local support = require "support"

local LONG = 10      -- the blocking call's timeout, seconds
local PROMPT = 2     -- a wake must come this soon after the helper acted
local SETTLE = 0.05  -- how long the helper lets the Lua side sleep first

describe("blocking calls across threads", function()
  for _, mode in ipairs({ "backpressure", "overwrite" }) do
    it("next(timeout) wakes when another thread publishes (" .. mode .. ")", function()
      local ring = rr.ring{ slot_size = 32, capacity = 8, mode = mode }
      local r = ring:reader()
      local job = helper.start(ring, "publish", { payload = "from a thread", event_type = 5 })
      local t0 = support.now()
      job:arm()
      local ev, why = r:next(LONG)
      local t1 = support.now()
      local status, t_pub = job:join()
      assert.are.equal("ok", status)
      assert.is_truthy(ev, why)
      assert.are.equal("from a thread", ev:data())
      assert.are.equal(5, ev:type())
      assert.is_true(t_pub - t0 >= SETTLE * 0.9, "the helper published before the reader waited")
      assert.is_true(t1 >= t_pub, "the event came back before it was published?")
      assert.is_true(t1 - t_pub < PROMPT, "woke " .. (t1 - t_pub) .. " s after the publish")
    end)
  end

  it("next(math.huge) wakes with 'closed' when another thread closes the ring", function()
    local ring = rr.ring{ slot_size = 32, capacity = 8 }
    local r = ring:reader()
    local job = helper.start(ring, "close")
    job:arm()
    local ev, why = r:next(math.huge)
    local t1 = support.now()
    local status, t_close = job:join()
    assert.are.equal("ok", status)
    assert.is_nil(ev)
    assert.are.equal("closed", why)
    assert.is_true(t1 - t_close < PROMPT)
  end)

  it("a writer blocked on a full ring wakes when another thread reads", function()
    local ring = rr.ring{ slot_size = 32, capacity = 2 }
    local job = helper.start(ring, "drain")     -- its reader gates the writer from now on
    local w = ring:writer()
    assert(w:add("1")); assert(w:add("2"))
    assert.are.same({ nil, "full" }, { w:add("3") })
    local t0 = support.now()
    job:arm()
    local seq, why = w:add("3", 0, LONG)
    local t1 = support.now()
    local status, t_read = job:join()
    assert.are.equal("ok", status)
    assert.are.equal(2, seq, why)
    assert.is_true(t_read - t0 >= SETTLE * 0.9)
    assert.is_true(t1 - t_read < PROMPT, "woke " .. (t1 - t_read) .. " s after the read")
  end)

  it("a waiting writer wakes with 'closed' when another thread closes the ring", function()
    local ring = rr.ring{ slot_size = 32, capacity = 1 }
    local r = ring:reader()
    local w = ring:writer()
    assert(w:add("1"))
    local job = helper.start(ring, "close")
    job:arm()
    assert.are.same({ nil, "closed" }, { w:add("2", 0, LONG) })
    assert.are.equal("ok", (job:join()))
    assert.is_truthy(r)
  end)

  it("a backpressure stream from another thread arrives whole and in order", function()
    local N = 20000
    local ring = rr.ring{ slot_size = 16, capacity = 64 }
    local r = ring:reader()
    local job = helper.start(ring, "stream", { count = N })
    for i = 0, N - 1 do
      local ev, why = r:next(LONG)
      assert(ev, why)
      local seq, sum = ev:unpack("<I8I4")
      if seq ~= i or sum ~= (i * 2654435761) % 2^32 // 1 or ev:sequence() ~= i then
        error(string.format("event %d: seq=%d sum=%d", i, seq, sum))
      end
    end
    assert.are.equal("ok", (job:join()))
    assert.are.equal(0, r:lost())
  end)

  it("an overwrite stream from another thread: every delivered event intact, the rest counted lost", function()
    local N = 20000
    local ring = rr.ring{ slot_size = 16, capacity = 16, mode = "overwrite" }
    local r = ring:reader()
    local job = helper.start(ring, "stream", { count = N })
    local delivered, last = 0, -1
    while last < N - 1 do
      local ev, why = r:next(LONG)
      assert(ev, why)
      local seq, sum = ev:unpack("<I8I4")
      assert(sum == (seq * 2654435761) % 2^32 // 1, "torn payload")
      assert(seq == ev:sequence() and seq > last, "out of order")
      last, delivered = seq, delivered + 1
    end
    assert.are.equal("ok", (job:join()))
    assert.are.equal(N, delivered + r:lost())
    assert.are.equal(delivered, r:delivered())
  end)
end)
