-- wait_spec.lua — wait strategies: ring:reader{wait = ...} and
-- ring:writer{wait = ...}, the same names and meaning as Python's
-- ring.reader(wait=...) and ring.writer(wait=...).
--
-- "block" (the default) sleeps until woken; "yield", "spin" and "sleep" never
-- sleep on the ring. A strategy changes how a handle waits, never what it
-- gets: every strategy reads a checksummed stream from another thread (the
-- test helper's) whole, honours timeouts, gets room when another thread
-- reads, and wakes at the close. "spin" reads a shorter stream: a spinning
-- reader keeps a core busy, and this machine may have fewer cores than threads.
local rr = require "rusted_ring"
local helper = require "rr_test_helper"
local support = require "support"

local LONG = 10      -- seconds: a blocking call's timeout
local PROMPT = 2     -- a wake must come this soon after the helper acted
local STRATEGIES = { "block", "yield", "spin", "sleep" }

describe("wait strategies", function()
  it("are the core's names, block first", function()
    assert.are.same(STRATEGIES, rr.WAIT_STRATEGIES)
  end)

  describe("choosing one", function()
    it("block is the default, and r:wait() / w:wait() say each handle's", function()
      local ring = rr.ring{ slot_size = 16, capacity = 8, producers = "multi" }
      assert.are.equal("block", ring:reader():wait())
      assert.are.equal("block", ring:reader("latest"):wait())
      assert.are.equal("block", ring:reader{}:wait())
      assert.are.equal("block", ring:writer():wait())
      assert.are.equal("block", ring:writer{}:wait())
      for _, w in ipairs(STRATEGIES) do
        assert.are.equal(w, ring:reader{ wait = w }:wait())
        assert.are.equal(w, ring:writer{ wait = w }:wait())
      end
      local r, w = ring:reader{ wait = "spin" }, ring:writer{ wait = "sleep" }
      r:close(); w:close()
      assert.are.equal("spin", r:wait())      -- also once closed
      assert.are.equal("sleep", w:wait())
    end)

    it("the positional start stays, and the table's start is honoured", function()
      local ring = rr.ring{ slot_size = 16, capacity = 8 }
      assert(ring:writer():add("one"))
      assert.are.equal(1, ring:reader("latest"):cursor())
      assert.are.equal(0, ring:reader("oldest"):cursor())
      local latest = ring:reader{ start = "latest", wait = "yield" }
      assert.are.equal(1, latest:cursor())
      assert.are.equal("yield", latest:wait())
      assert.are.equal(0, ring:reader{ wait = "yield" }:cursor())
    end)

    it("the default pools' readers and writers block", function()
      local r = rr.EventPoolFactory.get_xs_reader()
      local w = rr.EventPoolFactory.get_xs_writer()
      assert.are.equal("block", r:wait())
      assert.are.equal("block", w:wait())
      r:close(); w:close()
    end)
  end)

  describe("bad input", function()
    it("an unknown name is an error naming the choices, and nothing is taken", function()
      local ring = rr.ring{ slot_size = 16, capacity = 8 }
      for _, bad in ipairs({ "busy", "Block", "", "spinning" }) do
        local ok, err = pcall(ring.reader, ring, { wait = bad })
        assert.is_false(ok)
        assert.matches('ring:reader: wait must be "block", "yield", "spin" or "sleep", got "'
                       .. bad .. '"', err, 1, true)
        ok, err = pcall(ring.writer, ring, { wait = bad })
        assert.is_false(ok)
        assert.matches('ring:writer: wait must be "block", "yield", "spin" or "sleep"', err, 1, true)
      end
      assert.are.equal(0, ring:stats().reader_count)
      local w = ring:writer{ wait = "yield" }      -- the single writer's role is free
      local r = ring:reader{ wait = "yield" }
      assert(w:add("x"))
      assert.are.equal("x", r:next(LONG):data())
    end)

    it("a name that is not a string, an unknown option or options that are not a table are errors", function()
      local ring = rr.ring{ slot_size = 16, capacity = 8 }
      local ok, err = pcall(ring.reader, ring, { wait = 1 })
      assert.is_false(ok)
      assert.matches('wait must be "block", "yield", "spin" or "sleep", got 1', err, 1, true)
      ok, err = pcall(ring.writer, ring, { wait = true })
      assert.is_false(ok)
      assert.matches('got true', err, 1, true)
      ok, err = pcall(ring.reader, ring, { wiat = "yield" })
      assert.is_false(ok)
      assert.matches("ring:reader: unknown option wiat", err, 1, true)
      ok, err = pcall(ring.writer, ring, { start = "oldest" })
      assert.is_false(ok)
      assert.matches("ring:writer: unknown option start", err, 1, true)
      ok, err = pcall(ring.writer, ring, "yield")
      assert.is_false(ok)
      assert.matches("table of options", err, 1, true)
      ok, err = pcall(ring.reader, ring, { start = "newest" })
      assert.is_false(ok)
      assert.matches('start must be "oldest" or "latest"', err, 1, true)
    end)
  end)

  describe("stats", function()
    it("show each reader's strategy and that of the writer opened last", function()
      local ring = rr.ring{ slot_size = 16, capacity = 8, producers = "multi" }
      assert.are.equal("block", ring:stats().writer_wait)
      local readers = {}
      for i, w in ipairs(STRATEGIES) do readers[i] = ring:reader{ wait = w } end
      local a = ring:writer{ wait = "spin" }
      assert.are.equal("spin", ring:stats().writer_wait)
      local b = ring:writer{ wait = "sleep" }
      local s = ring:stats()
      assert.are.equal("sleep", s.writer_wait)
      for i, w in ipairs(STRATEGIES) do assert.are.equal(w, s.readers[i].wait) end
      assert(a and b and #readers == 4)
    end)

    it("of another process show its reader's and writer's strategies", function()
      local name = string.format("rr-lua-wait-%d", support.pid())
      rr.unlink_shared(name)
      local ring = assert(rr.create_shared(name, { slot_size = 16, capacity = 8, producers = "multi" }))
      local job = support.spawn_lua(string.format([[
        local rr = require "rusted_ring"
        local ring = assert(rr.open_shared(%q))
        local r, w = ring:reader{ wait = "sleep" }, ring:writer{ wait = "yield" }
        local ev, why = r:next(%d)            -- waits by "sleep" for the parent's event
        print("got=" .. (ev and ev:data() or why))
        assert(w:add("back"))
      ]], name, LONG))
      local ok, err = pcall(support.wait_for, function()
        local s = ring:stats()
        return s.reader_count == 1 and s.writers == 1
      end, LONG, "the child to open its reader and writer")
      if ok then
        local s = ring:stats()
        assert.are.equal("sleep", s.readers[1].wait)
        assert.are.equal("yield", s.writer_wait)
        assert.is_true(s.readers[1].pid ~= support.pid())
      end
      assert(ring:writer():add("go"))
      local done, out = job:wait()
      rr.unlink_shared(name)
      assert(ok, err)
      assert.is_true(done, out)
      assert.matches("got=go", out, 1, true)
    end)
  end)

  for _, wait in ipairs(STRATEGIES) do
    describe("a " .. wait .. " handle", function()
      it("reads a stream from another thread whole and in order", function()
        local N = wait == "spin" and 2000 or 20000
        local ring = rr.ring{ slot_size = 16, capacity = 64 }
        local r = ring:reader{ wait = wait }
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
        assert.are.same({ nil, "empty" }, { r:next() })
      end)

      it("honours its timeouts", function()
        local ring = rr.ring{ slot_size = 16, capacity = 2 }
        local r, w = ring:reader{ wait = wait }, ring:writer{ wait = wait }
        local t0 = support.now()
        assert.are.same({ nil, "timeout" }, { r:next(0.05) })
        local took = support.now() - t0
        assert.is_true(took >= 0.05 and took < 5, "next waited " .. took .. " s")
        assert(w:add("1")); assert(w:add("2"))
        t0 = support.now()
        assert.are.same({ nil, "timeout" }, { w:add("3", 0, 0.05) })
        took = support.now() - t0
        assert.is_true(took >= 0.05 and took < 5, "add waited " .. took .. " s")
        assert.are.same({ nil, "full" }, { w:add("3") })     -- no timeout: no wait
      end)

      it("writer gets room when another thread reads", function()
        local ring = rr.ring{ slot_size = 32, capacity = 2 }
        local job = helper.start(ring, "drain")     -- its reader gates the writer from now on
        local w = ring:writer{ wait = wait }
        assert(w:add("1")); assert(w:add("2"))
        job:arm()
        local seq, why = w:add("3", 0, LONG)
        local t1 = support.now()
        local status, t_read = job:join()
        assert.are.equal("ok", status)
        assert.are.equal(2, seq, why)
        assert.is_true(t1 - t_read < PROMPT, "got room " .. (t1 - t_read) .. " s after the read")
      end)

      it("reader waiting without limit wakes with 'closed' at the close", function()
        local ring = rr.ring{ slot_size = 32, capacity = 8 }
        local r = ring:reader{ wait = wait }
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

      it("writer waiting for room wakes with 'closed' at the close", function()
        local ring = rr.ring{ slot_size = 32, capacity = 1 }
        local r = ring:reader()
        local w = ring:writer{ wait = wait }
        assert(w:add("1"))
        local job = helper.start(ring, "close")
        job:arm()
        assert.are.same({ nil, "closed" }, { w:add("2", 0, LONG) })
        assert.are.equal("ok", (job:join()))
        assert.is_truthy(r)
      end)
    end)
  end
end)
