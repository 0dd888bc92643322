-- poll_spec.lua — r:pollfd() and w:pollfd() in an event loop: luv's
-- uv.new_poll on the reader's fd takes every event a writer publishes, from
-- the loop itself or from another OS thread (the test helper's), and sees the
-- ring close; the fd goes quiet once a read finds nothing; the writer's fd
-- says when there is room. Every wait is the loop's, bounded by a timer that
-- fails the test: a wake-up that never comes cannot hang the suite.
local rr = require "rusted_ring"
local uv = require "luv"
local helper = require "rr_test_helper"

local LIMIT = 20   -- seconds; reached only when something is broken

-- Whether fd polls readable now: a uv_poll that lives for one loop turn.
local function readable(fd)
  local seen = false
  local p = uv.new_poll(fd)
  p:start("r", function() seen = true end)
  local t = uv.new_timer()
  t:start(20, 0, function() end)   -- one turn of the loop, at most 20 ms
  uv.run("once")
  p:stop(); p:close(); t:stop(); t:close()
  uv.run("nowait")                 -- let the handles close
  return seen
end

-- Run the loop until done() says so; fail after LIMIT seconds.
local function run_until(done)
  local deadline = uv.new_timer()
  local timed_out = false
  deadline:start(LIMIT * 1000, 0, function() timed_out = true; uv.stop() end)
  while not done() and not timed_out do
    uv.run("once")
  end
  deadline:stop(); deadline:close()
  uv.run("nowait")
  assert(not timed_out, "the loop waited " .. LIMIT .. " s for a wake-up that never came")
end

-- Take every event through a uv_poll on the reader's fd until the ring
-- closes; check(ev) sees each event. Returns how many came.
local function take_all(r, check)
  local fd, interval = r:pollfd()
  assert.are.equal("number", math.type(fd) and "number")
  assert.are.equal(0, interval)   -- a heap ring: nothing to look for unprompted
  local got, closed = 0, false
  local poll = uv.new_poll(fd)
  poll:start("r", function(err)
    assert(not err, err)
    while true do   -- until a read finds nothing: that quiets the fd again
      local ev, why = r:next()
      if not ev then
        if why == "closed" then closed = true; poll:stop() end
        return
      end
      check(ev)
      got = got + 1
    end
  end)
  run_until(function() return closed end)
  poll:close()
  uv.run("nowait")
  return got
end

describe("pollfd in a luv event loop", function()
  it("takes every event of a stream from another OS thread, then sees the close", function()
    local N = 20000
    local ring = rr.ring{ slot_size = 16, capacity = 64 }
    local r = ring:reader()
    local job = helper.start(ring, "stream", { count = N })
    local next_seq = 0
    local closer = uv.new_timer()
    closer:start(1, 1, function()   -- once the stream is all there, close the ring
      if r:lag() == 0 and ring:published() == N then ring:close(); closer:stop() end
    end)
    local got = take_all(r, function(ev)
      local seq, sum = ev:unpack("<I8I4")
      assert(seq == next_seq and sum == (seq * 2654435761) % 2^32 // 1,
             "event " .. next_seq .. ": seq=" .. seq)
      next_seq = next_seq + 1
    end)
    closer:close()
    assert.are.equal("ok", (job:join()))
    assert.are.equal(N, got)
  end)

  it("takes what a timer of the same loop writes, in both modes", function()
    for _, mode in ipairs({ "backpressure", "overwrite" }) do
      local ring = rr.ring{ slot_size = 16, capacity = 8, mode = mode }
      local r, w = ring:reader(), ring:writer()
      local written, N = 0, 500
      local ticker = uv.new_timer()
      ticker:start(0, 1, function()
        for _ = 1, 3 do
          if written == N then ring:close(); ticker:stop(); return end
          if not w:try_add(string.pack("<I8I4", written, written * 7 % 2^32 // 1)) then return end
          written = written + 1
        end
      end)
      local last = -1
      local got = take_all(r, function(ev)
        local seq, sum = ev:unpack("<I8I4")
        assert(sum == seq * 7 % 2^32 // 1 and seq > last, "torn or out of order")
        last = seq
      end)
      ticker:close()
      assert.are.equal(N - 1, last)
      assert.are.equal(N, got + r:lost())
    end
  end)

  it("goes quiet once a read finds nothing, and readable again when an event comes", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local r, w = ring:reader(), ring:writer()
    local fd = r:pollfd()
    assert.are.equal(fd, (r:pollfd()))   -- one fd per reader
    assert.is_false(readable(fd))
    w:add("one")
    assert.is_true(readable(fd))
    assert.are.equal("one", r:next():data())
    local ev, why = r:next()
    assert.is_nil(ev)
    assert.are.equal("empty", why)
    assert.is_false(readable(fd))
    w:add("two")
    assert.is_true(readable(fd))
    ring:close()
    assert.are.equal("two", r:next():data())
    assert.are.equal("closed", select(2, r:next()))
    assert.is_true(readable(fd))         -- a closed ring stays readable
  end)

  it("a writer's fd polls readable while it has room", function()
    local ring = rr.ring{ slot_size = 16, capacity = 2 }
    local r, w = ring:reader(), ring:writer()
    local fd, interval = w:pollfd()
    assert.are.equal(0, interval)
    assert.is_true(readable(fd))
    assert.is_truthy(w:add("a"))
    assert.is_truthy(w:add("b"))
    assert.is_false(w:try_add("c"))
    assert.is_false(readable(fd))
    r:next()
    r:next()                             -- releases "a"
    assert.is_true(readable(fd))
  end)

  it("one writer per ring may have a pollfd; a closed handle has none", function()
    local ring = rr.ring{ slot_size = 16, capacity = 4, producers = "multi" }
    local a, b = ring:writer(), ring:writer()
    a:pollfd()
    local ok, err = pcall(b.pollfd, b)
    assert.is_false(ok)
    assert.is_truthy(err:find("has a pollfd", 1, true), err)
    a:close()
    assert.is_truthy(b:pollfd())
    local r = ring:reader()
    r:close()
    assert.has_error(function() r:pollfd() end, "attempt to use a closed reader")
  end)

  it("a shared ring's writer says how often to look unprompted", function()
    local name = "rr-poll-spec-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e9))
    local ring = assert(rr.create_shared(name, { slot_size = 16, capacity = 4 }))
    local w, r = ring:writer(), ring:reader()
    local _, every = w:pollfd()
    assert.is_true(every > 0 and every <= 1)   -- a dead reader could gate it
    assert.are.equal(0, select(2, r:pollfd()))
    w:close(); r:close(); ring:close()
    rr.unlink_shared(name)
  end)
end)
