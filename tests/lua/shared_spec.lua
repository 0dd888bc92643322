-- shared_spec.lua — rings in named shared memory (rr.create_shared,
-- rr.open_shared, rr.unlink_shared): round trips by name, one stream seen
-- through several handles and several processes, blocking waits and close
-- across processes, readers and writers whose process died, foreign
-- segments and bad names refused without harm, the segment's permissions,
-- segments of other users, exist_ok, rings still being created, and handles
-- a forked child inherits.
--
-- Every test uses names of its own (this process's id and a counter) and
-- removes its segments afterwards. The other processes are lua5.4 children
-- (support.spawn_lua); every wait on them is for a condition, bounded by a
-- generous timeout, never a sleep.
local rr = require "rusted_ring"
local support = require "support"

local LONG = 10    -- seconds: the bound on every wait for another process
local PROMPT = 2   -- a wake must come this soon after the other process acted
local SHM = "/dev/shm/"

-- Where csrc/layout.h's rr_geometry, at the start of a ring, puts three of
-- its fields (byte offsets).
local MAGIC_AT, VERSION_AT, CAPACITY_AT = 0, 8, 24

local used = {}
local serial = 0

-- A segment name no other test or run uses; removed after the test.
local function fresh_name()
  serial = serial + 1
  local name = string.format("rr-lua-spec-%d-%d", support.pid(), serial)
  used[#used + 1] = name
  return name
end

-- Start `code` in a child lua5.4 that has `rr`, `support`, NAME, LONG,
-- PARENT (this process's id) and each of `vars` as locals.
local function child(name, code, vars)
  local head = { 'local rr = require "rusted_ring"', 'local support = require "support"',
                 string.format("local NAME, LONG, PARENT = %q, %d, %d", name, LONG, support.pid()) }
  for k, v in pairs(vars or {}) do head[#head + 1] = string.format("local %s = %q", k, v) end
  return support.spawn_lua(table.concat(head, "\n") .. "\n" .. code)
end

-- The pid a child printed as "pid=N".
local function printed_pid(out)
  local pid = assert(out:match("pid=(%d+)"), out)
  return tonumber(pid)
end

local function read_segment(name)
  local f = assert(io.open(SHM .. name, "rb"))
  local bytes = f:read("a")
  f:close()
  return bytes
end

local function write_segment(name, bytes)
  local f = assert(io.open(SHM .. name, "wb"))
  f:write(bytes)
  f:close()
end

-- The segment's mode bits as `stat` prints them ("600").
local function permissions(name)
  local p = assert(io.popen("stat -c %a " .. SHM .. name))
  local bits = p:read("l")
  p:close()
  return bits
end

-- A new shared ring carries an event from one handle to another.
local function assert_shared_rings_work()
  local name = fresh_name()
  local ring = assert(rr.create_shared(name, { slot_size = 16, capacity = 4 }))
  local r = assert(rr.open_shared(name)):reader()
  assert.are.equal(0, ring:writer():add("still works"))
  assert.are.equal("still works", assert(r:next()):data())
end

-- The bytes of a fresh shared ring of `capacity` slots of 64 bytes.
local function ring_image(capacity)
  local name = fresh_name()
  assert(rr.create_shared(name, { slot_size = 64, capacity = capacity }))
  return read_segment(name)
end

local function replace(bytes, at, with)
  return bytes:sub(1, at) .. with .. bytes:sub(at + #with + 1)
end

describe("shared rings", function()
  after_each(function()
    for _, name in ipairs(used) do os.remove(SHM .. name) end
    used = {}
  end)

  for _, mode in ipairs({ "backpressure", "overwrite" }) do
    it("are created, opened and unlinked by name (" .. mode .. ")", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 48, capacity = 16, mode = mode,
                                                   producers = "multi" }))
      assert.is_true(ring:shared())
      assert.are.equal("/" .. name, ring:name())
      local again = assert(rr.open_shared("/" .. name))   -- "x" and "/x" name one ring
      assert.are.equal("/" .. name, again:name())
      assert.are.equal(48, again:slot_size())
      assert.are.equal(16, again:capacity())
      assert.are.equal(mode, again:mode())
      assert.are.equal("multi", again:producers())
      assert.are.equal(ring:memory_bytes(), again:memory_bytes())
      assert.is_true(#read_segment(name) >= ring:memory_bytes())

      assert.is_true(rr.unlink_shared(name))
      local none, why = rr.open_shared(name)
      assert.is_nil(none)
      assert.matches("not found", why)
      -- handles opened before the unlink keep using the ring
      local r, w = again:reader(), ring:writer()
      assert.are.equal(0, w:add("after unlink", 3))
      local ev = assert(r:next())
      assert.are.equal("after unlink", ev:data())
      assert.are.equal(3, ev:type())
      -- and the name can be taken again, by a new ring
      local fresh = assert(rr.create_shared(name, { slot_size = 8, capacity = 2, mode = mode }))
      assert.are.equal(0, fresh:published())
    end)

    it("carry events written through one handle to a reader on another (" .. mode .. ")", function()
      local name = fresh_name()
      local a = assert(rr.create_shared(name, { slot_size = 64, capacity = 8, mode = mode }))
      local b = assert(rr.open_shared(name))
      local r, w = b:reader(), a:writer()
      for seq = 0, 39 do   -- five laps
        assert.are.equal(seq, w:add(support.payload(seq, 64), seq % 5))
        local ev = assert(r:next())
        assert.are.equal(seq, support.check(ev:data()))
        assert.are.equal(seq, ev:sequence())
        assert.are.equal(seq % 5, ev:type())
      end
      assert.are.equal(40, a:published())
      assert.are.equal(40, b:published())
      local stats = a:stats()
      assert.are.equal(1, stats.writers)
      assert.are.equal(1, stats.reader_count)
      assert.are.equal(40, stats.readers[1].cursor)
    end)
  end

  it("print their name", function()
    local name = fresh_name()
    local ring = assert(rr.create_shared(name, { slot_size = 8, capacity = 2 }))
    assert.matches("^rusted_ring.ring '/" .. name:gsub("%-", "%%-") .. "' %(slot_size=8, capacity=2,",
                   tostring(ring))
    ring:close()
    assert.are.equal("rusted_ring.ring (closed)", tostring(ring))
  end)

  it("accept a name of SHM_NAME_MAX characters, with or without the leading '/'", function()
    local name = fresh_name()
    name = name .. string.rep("n", rr.SHM_NAME_MAX - #name)
    used[#used + 1] = name
    assert(rr.create_shared("/" .. name, { slot_size = 8, capacity = 2 }))
    assert.are.equal("/" .. name, assert(rr.open_shared(name)):name())
    assert.is_true(rr.unlink_shared(name))
  end)

  it("are the same ring type as rr.ring, which is not shared", function()
    local local_ring = rr.ring{ slot_size = 8, capacity = 2 }
    local name = fresh_name()
    local ring = assert(rr.create_shared(name, { slot_size = 8, capacity = 2 }))
    assert.are.equal(getmetatable(local_ring), getmetatable(ring))
    assert.is_false(local_ring:shared())
    assert.is_nil(local_ring:name())
    assert.is_false(local_ring:stats().shared)
    assert.is_true(ring:stats().shared)
  end)

  it("stay open, and keep their name, when a handle is closed or collected", function()
    local name = fresh_name()
    local ring = assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
    do
      local other <close> = assert(rr.open_shared(name))
    end
    assert(rr.open_shared(name))   -- collected below
    collectgarbage()
    collectgarbage()
    assert.is_false(ring:closed())
    local last <close> = assert(rr.open_shared(name))
    local r = last:reader()
    assert.are.equal(0, ring:writer():add("open"))
    assert.are.equal("open", assert(r:next()):data())
  end)

  it("end the stream for every handle when one closes it", function()
    local name = fresh_name()
    local a = assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
    local b = assert(rr.open_shared(name))
    local r, w = b:reader(), b:writer()
    assert(w:add("last"))
    a:close()
    assert.is_true(b:closed())
    assert.are.same({ nil, "closed" }, { w:add("more") })
    assert.are.equal("last", assert(r:next()):data())
    assert.are.same({ nil, "closed" }, { r:next(LONG) })
    assert.is_true(assert(rr.open_shared(name)):closed())
  end)

  describe("stats", function()
    it("report liveness, the writer's process and that the ring is shared", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
      local r = ring:reader()
      local stats = ring:stats()
      assert.are.equal(0, stats.writer_pid)
      local w = ring:writer()
      stats = ring:stats()
      assert.is_true(stats.shared)
      assert.are.equal(support.pid(), stats.writer_pid)
      assert.are.equal(1, stats.writer_processes)
      assert.is_true(stats.writer_alive)
      assert.are.equal(0, stats.readers_evicted)
      assert.are.equal(support.pid(), stats.readers[1].pid)
      assert.is_true(stats.readers[1].alive)
      w:close()
      stats = ring:stats()
      assert.are.equal(0, stats.writer_pid)
      assert.are.equal(0, stats.writer_processes)
      assert.is_false(stats.writer_alive)
      assert.is_truthy(r)
    end)

    it("report the same for an in-process ring, which is not shared", function()
      local ring = rr.ring{ slot_size = 8, capacity = 4 }
      local r, w = ring:reader(), ring:writer()
      local stats = ring:stats()
      assert.is_false(stats.shared)
      assert.are.equal(support.pid(), stats.writer_pid)
      assert.is_true(stats.writer_alive)
      assert.are.equal(0, stats.readers_evicted)
      assert.is_true(stats.readers[1].alive)
      assert.is_truthy(r and w)
    end)
  end)

  describe("across processes", function()
    it("deliver a stream another process writes whole and in order", function()
      local N = 20000
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 32, capacity = 64 }))
      local r = ring:reader()   -- registered first, so it gates the writer from event 0
      local job = child(name, [[
        local ring = assert(rr.open_shared(NAME))
        local w = ring:writer()
        for seq = 0, N - 1 do assert(w:add(support.payload(seq, 32), seq % 7, LONG)) end
        ring:close()
      ]], { N = N })
      local got, problem = 0, nil
      while not problem do
        local ev, why = r:next(LONG)
        if not ev then
          if why ~= "closed" then problem = "the stream stopped: " .. why end
          break
        end
        local seq, bad = support.check(ev:data())
        if seq ~= got or ev:sequence() ~= got or ev:type() ~= got % 7 then
          problem = string.format("event %d: payload %s (%s), sequence %d, type %d", got,
                                  tostring(seq), tostring(bad), ev:sequence(), ev:type())
        end
        got = got + 1
      end
      r:close()   -- after a problem, lets the writer finish instead of waiting out LONG
      local ok, out = job:wait()
      assert.is_nil(problem)
      assert.is_true(ok, out)
      assert.are.equal(N, got)
    end)

    it("deliver a stream this process writes to a reader in another", function()
      local N = 20000
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 32, capacity = 64 }))
      local job = child(name, [[
        local ring = assert(rr.open_shared(NAME))
        local r = ring:reader()
        local got = 0
        while true do
          local ev, why = r:next(LONG)
          if not ev then assert(why == "closed", why) break end
          assert(support.check(ev:data()) == got, "event " .. got .. " out of order or torn")
          got = got + 1
        end
        print("read=" .. got)
      ]])
      support.wait_for(function() return ring:stats().reader_count == 1 end, LONG,
                       "the child's reader")
      local w = ring:writer()
      local added = 0
      while added < N and w:add(support.payload(added, 32), 0, LONG) do added = added + 1 end
      ring:close()
      local ok, out = job:wait()
      assert.is_true(ok, out)
      assert.are.equal(N, added)
      assert.matches("read=" .. N, out)
    end)

    it("merge the streams of writers in two processes, each in order", function()
      local N = 5000
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 24, capacity = 32,
                                                   producers = "multi" }))
      local r = ring:reader()
      local code = [[
        local w = assert(rr.open_shared(NAME)):writer()
        for seq = 0, N - 1 do assert(w:add(support.payload(seq, 24), ID, LONG)) end
      ]]
      local jobs = { child(name, code, { N = N, ID = 1 }), child(name, code, { N = N, ID = 2 }) }
      local next_of, problem = { [1] = 0, [2] = 0 }, nil
      for _ = 1, 2 * N do
        local ev, why = r:next(LONG)
        if not ev then problem = "the stream stopped: " .. why break end
        local id = ev:type()
        if support.check(ev:data()) ~= next_of[id] then
          problem = string.format("writer %d: expected event %s", id, tostring(next_of[id]))
          break
        end
        next_of[id] = next_of[id] + 1
      end
      r:close()   -- after a problem, lets the writers finish instead of waiting out LONG
      local outs = {}
      for i, job in ipairs(jobs) do outs[i] = { job:wait() } end
      assert.is_nil(problem)
      for _, result in ipairs(outs) do assert.is_true(result[1], result[2]) end
      assert.are.same({ [1] = N, [2] = N }, next_of)
      assert.are.equal(0, ring:stats().writer_processes)   -- both have exited
    end)

    it("wake next(timeout) when another process publishes", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 32, capacity = 8 }))
      local r = ring:reader()
      local job = child(name, [[
        local w = assert(rr.open_shared(NAME)):writer()
        support.wait_for(function() return support.asleep(PARENT) end, LONG, "the parent to block")
        print(string.format("published=%.6f", support.now()))
        assert(w:add("from another process", 5))
      ]])
      local ev, why = r:next(LONG)
      local woke = support.now()
      local ok, out = job:wait()
      assert.is_true(ok, out)
      assert.is_truthy(ev, why)
      assert.are.equal("from another process", ev:data())
      assert.are.equal(5, ev:type())
      local published = tonumber(out:match("published=([%d.]+)"))
      assert.is_true(woke >= published, "the event came back before it was published?")
      assert.is_true(woke - published < PROMPT, "woke " .. (woke - published) .. " s after it")
    end)

    it("end the stream in this process when another closes the ring", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 32, capacity = 8 }))
      local r = ring:reader()
      local job = child(name, [[
        local ring = assert(rr.open_shared(NAME))
        local w = ring:writer()
        assert(w:add("one")); assert(w:add("two"))
        support.wait_for(function()
          return ring:stats().readers[1].cursor == 2 and support.asleep(PARENT)
        end, LONG, "the parent to read both events and block")
        print(string.format("closed=%.6f", support.now()))
        ring:close()
      ]])
      local seen = {}
      for _ = 1, 2 do
        local ev = r:next(LONG)
        seen[#seen + 1] = ev and ev:data()
      end
      local last = { r:next(LONG) }
      local woke = support.now()
      local ok, out = job:wait()
      assert.is_true(ok, out)
      assert.are.same({ "one", "two" }, seen)
      assert.are.same({ nil, "closed" }, last)
      assert.is_true(ring:closed())
      assert.is_true(woke - tonumber(out:match("closed=([%d.]+)")) < PROMPT)
    end)

    it("wake a writer blocked on a full ring when a reader in another process reads", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 8, capacity = 2 }))
      local job = child(name, [[
        local ring = assert(rr.open_shared(NAME))
        local r = ring:reader()
        support.wait_for(function()
          return ring:published() == 2 and support.asleep(PARENT)
        end, LONG, "the parent to fill the ring and block")
        print(string.format("read=%.6f", support.now()))
        local seen = {}
        for i = 1, 3 do seen[i] = assert(r:next(LONG)):data() end
        print("seen=" .. table.concat(seen, ","))
      ]])
      support.wait_for(function() return ring:stats().reader_count == 1 end, LONG,
                       "the child's reader")
      local w = ring:writer()
      assert(w:add("1")); assert(w:add("2"))
      local full = { w:add("3") }
      local seq, why = w:add("3", 0, LONG)
      local woke = support.now()
      local ok, out = job:wait()
      assert.is_true(ok, out)
      assert.are.same({ nil, "full" }, full)
      assert.are.equal(2, seq, why)
      assert.matches("seen=1,2,3", out)
      assert.is_true(woke - tonumber(out:match("read=([%d.]+)")) < PROMPT)
    end)

    it("stop counting a reader whose process died, so it cannot stall the writer", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
      local ok, out = child(name, [[
        local r = assert(rr.open_shared(NAME)):reader()
        print("pid=" .. support.pid())
        os.exit(0)   -- without closing the state: the reader stays registered
      ]]):wait()
      assert.is_true(ok, out)
      local stats = ring:stats()
      assert.are.equal(1, stats.reader_count)
      assert.are.equal(printed_pid(out), stats.readers[1].pid)
      assert.is_false(stats.readers[1].alive)
      local w = ring:writer()
      for i = 1, 4 do assert(w:add(tostring(i))) end
      assert.are.equal(4, w:add("5", 0, LONG))   -- evicts the dead reader instead of waiting
      stats = ring:stats()
      assert.are.equal(1, stats.readers_evicted)
      assert.are.equal(0, stats.reader_count)
    end)

    it("let a new writer replace a single producer whose process died", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 16, capacity = 4 }))
      local r = ring:reader()
      local ok, out = child(name, [[
        local w = assert(rr.open_shared(NAME)):writer()
        assert(w:add("last words"))
        print("pid=" .. support.pid())
        os.exit(0)   -- without closing the state: the writer stays registered
      ]]):wait()
      assert.is_true(ok, out)
      local stats = ring:stats()
      assert.are.equal(printed_pid(out), stats.writer_pid)
      assert.are.equal(1, stats.writers)   -- its handle was never closed
      assert.are.equal(0, stats.writer_processes)
      assert.is_false(stats.writer_alive)
      local w = ring:writer()
      assert.are.equal(1, w:add("next"))
      assert.are.equal(support.pid(), ring:stats().writer_pid)
      assert.are.equal("last words", assert(r:next()):data())
      assert.are.equal("next", assert(r:next()):data())
    end)
  end)

  describe("refuse", function()
    it("a missing ring: nil and 'not found' naming it", function()
      local name = fresh_name()
      local ring, why = rr.open_shared(name)
      assert.is_nil(ring)
      assert.matches("not found", why)
      assert.matches("/" .. name:gsub("%-", "%%-"), why)
      local done, why2 = rr.unlink_shared(name)
      assert.is_nil(done)
      assert.matches("not found", why2)
    end)

    it("a name already taken: nil and 'exists', leaving that ring alone", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
      local r, w = ring:reader(), ring:writer()
      assert(w:add("kept"))
      local again, why = rr.create_shared(name, { slot_size = 8, capacity = 4 })
      assert.is_nil(again)
      assert.matches("exists", why)
      assert.are.equal("kept", assert(r:next()):data())
      assert.are.equal(1, assert(rr.open_shared(name)):published())
    end)

    -- Segments put straight into /dev/shm that are not a usable ring, and
    -- what the core's message must say about each.
    local foreign = {
      { "random bytes", "bad magic", function()
          local t = {}
          for i = 1, 4096 do t[i] = string.char(math.random(0, 255)) end
          return table.concat(t)
        end },
      { "an empty segment", "0 bytes cannot hold a ring header", function() return "" end },
      { "a ring cut inside its header", "100 bytes cannot hold a ring header", function()
          return ring_image(8):sub(1, 100)
        end },
      { "a ring cut in half", "needs %d+ bytes but only %d+ are mapped", function()
          local image = ring_image(8)
          return image:sub(1, #image // 2)
        end },
      { "a ring with a flipped magic number", "bad magic", function()
          local image = ring_image(8)
          return replace(image, MAGIC_AT, string.char(image:byte(MAGIC_AT + 1) ~ 0xFF))
        end },
      { "a ring of another layout version", "layout version", function()
          local image = ring_image(8)
          local version = string.unpack("<I4", image, VERSION_AT + 1)
          return replace(image, VERSION_AT, string.pack("<I4", version + 1))
        end },
      { "a ring whose capacity was changed in place", "checksum mismatch", function()
          local image = ring_image(8)
          return replace(image, CAPACITY_AT, string.pack("<I8", 64))
        end },
      { "a ring whose capacity is larger than the segment", "needs %d+ bytes but only %d+ are mapped",
        function()
          -- a 64-slot ring's header (valid, checksum and all) over an 8-slot ring's length
          return ring_image(64):sub(1, #ring_image(8))
        end },
    }
    for _, case in ipairs(foreign) do
      local what, says, bytes = case[1], case[2], case[3]
      it(what .. ": nil and the core's message, and the module keeps working", function()
        local name = fresh_name()
        write_segment(name, bytes())
        local ring, why = rr.open_shared(name)
        assert.is_nil(ring)
        assert.matches("'/" .. name:gsub("%-", "%%-") .. "'", why)
        assert.matches(says, why)
        assert.is_nil(rr.create_shared(name, { slot_size = 8, capacity = 2 }))   -- still taken
        assert.is_true(rr.unlink_shared(name))
        assert_shared_rings_work()
      end)
    end

    local bad_names = { "", "/", "a/b", "/a/b", ".", "..", "/..",
                        string.rep("n", rr.SHM_NAME_MAX + 1), "a\0b" }
    local calls = {
      create_shared = function(name) return rr.create_shared(name, { slot_size = 8, capacity = 2 }) end,
      open_shared = rr.open_shared,
      unlink_shared = rr.unlink_shared,
    }
    for fname, call in pairs(calls) do
      it("bad names in " .. fname .. " by raising", function()
        for _, name in ipairs(bad_names) do
          local ok, err = pcall(call, name)
          assert.is_false(ok, string.format("%q was accepted", name))
          assert.is_string(err)
        end
        for _, not_a_name in ipairs({ 42, {}, true }) do
          local ok, err = pcall(call, not_a_name)
          assert.is_false(ok)
          assert.matches("string expected", err)
        end
        local ok, err = pcall(call)
        assert.is_false(ok)
        assert.matches("string expected", err)
        assert_shared_rings_work()
      end)
    end

    local bad_options = {
      { nil, "table expected, got nil" },
      { "slot_size=8", "table expected, got string" },
      { { capacity = 2 }, "option 'slot_size' is required" },
      { { slot_size = 0, capacity = 2 }, "slot_size must be in 1..67108864, got 0" },
      { { slot_size = 8, capacity = 2.5 }, "capacity must be an integer, got 2.5" },
      { { slot_size = 8, capacity = 2, mode = "fast" }, 'mode must be "backpressure" or "overwrite"' },
      { { slot_size = 8, capacity = 2, producers = 2 }, 'producers must be "single" or "multi"' },
      { { slot_size = 8, capacity = 2, perms = 384 }, "unknown option perms" },
      { { slot_size = 8, capacity = 2, permissions = -1 }, "permissions must be file mode bits" },
      { { slot_size = 8, capacity = 2, permissions = 0x200 }, "permissions must be file mode bits" },
      { { slot_size = 8, capacity = 2, permissions = "0640" }, "permissions must be file mode bits" },
      { { slot_size = 8, capacity = 2, permissions = 416.5 }, "permissions must be file mode bits" },
      { { slot_size = 64 * 1024 * 1024, capacity = 2^40 }, "does not fit" },
    }
    for i, case in ipairs(bad_options) do
      it("bad options by raising (" .. i .. ": " .. case[2] .. ")", function()
        local name = fresh_name()
        local ok, err = pcall(rr.create_shared, name, case[1])
        assert.is_false(ok)
        assert.matches(case[2], err, 1, true)
        assert.is_nil(io.open(SHM .. name), "a segment was left behind")
      end)
    end
  end)

  describe("owned by another user", function()
    local function root() local p = io.popen("id -u"); local id = p:read("n"); p:close(); return id == 0 end

    it("are refused, naming the owner, unless allow_other_user is given", function()
      if not root() then return pending("giving a segment to another user needs root") end
      local name = fresh_name()
      local mine = assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
      assert(mine:writer():add("theirs"))
      assert.is_true(os.execute("chown 65534:65534 " .. SHM .. name))
      local ring, why = rr.open_shared(name)
      assert.is_nil(ring)
      assert.matches("belongs to user 65534 %(nobody%)", why)
      assert.matches("allow_other_user", why)
      assert.matches("'/" .. name:gsub("%-", "%%-") .. "'", why)
      local opts = { slot_size = 8, capacity = 4, exist_ok = true }
      assert.is_nil(rr.create_shared(name, opts))
      ring = assert(rr.open_shared(name, { allow_other_user = true }))
      assert.are.equal(1, ring:published())
      opts.allow_other_user = true
      assert.are.equal(1, assert(rr.create_shared(name, opts)):published())
    end)
  end)

  describe("exist_ok", function()
    it("opens a ring of the geometry asked for, and makes one when there is none", function()
      local name = fresh_name()
      local opts = { slot_size = 8, capacity = 4, exist_ok = true }
      local a = assert(rr.create_shared(name, opts))
      assert(a:writer():add("first"))
      local b = assert(rr.create_shared(name, opts))
      assert.are.equal(1, b:published())
      assert.are.equal("first", assert(b:reader("oldest"):next()):data())
    end)

    it("refuses a ring of another geometry, naming both", function()
      local name = fresh_name()
      assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
      local ring, why = rr.create_shared(name, { slot_size = 16, capacity = 4, mode = "overwrite",
                                                 exist_ok = true })
      assert.is_nil(ring)
      assert.matches("slot_size=8, capacity=4, backpressure, single producer", why, 1, true)
      assert.matches("slot_size=16, capacity=4, overwrite, single producer", why, 1, true)
    end)

    it("is what a taken name's message suggests, with how to remove a stale segment", function()
      local name = fresh_name()
      assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
      local ring, why = rr.create_shared(name, { slot_size = 8, capacity = 4 })
      assert.is_nil(ring)
      assert.matches("exist_ok", why, 1, true)
      assert.matches("crashed", why, 1, true)
      assert.matches("rr.unlink_shared", why, 1, true)
      assert.matches("python -m rusted_ring unlink " .. name, why, 1, true)
    end)
  end)

  describe("still being created", function()
    local helper = require "rr_test_helper"

    it("are waited for up to the timeout, then reported as such, not as foreign", function()
      local name = fresh_name()
      local fd = helper.begin_creation("/" .. name, 1 << 20)
      local ring, why = rr.open_shared(name, { timeout = 0 })
      assert.is_nil(ring)
      assert.matches("still being created", why)
      local t0 = support.now()
      ring, why = rr.open_shared(name, { timeout = 0.2 })
      assert.is_nil(ring)
      assert.matches("still being created", why)
      assert.is_true(support.now() - t0 >= 0.19)
      -- the creator dies half way: nobody is making it, and nobody waits for it
      helper.drop_creation(fd)
      ring, why = rr.open_shared(name)
      assert.is_nil(ring)
      assert.matches("no process is creating it", why)
    end)

    it("take the timeout as seconds: nil, 0, > 0 or math.huge; negative or NaN raise", function()
      local name = fresh_name()
      assert(rr.create_shared(name, { slot_size = 8, capacity = 4 }))
      for _, t in ipairs({ 0, 0.5, math.huge }) do
        assert.truthy(rr.open_shared(name, { timeout = t }))
      end
      assert.truthy(rr.open_shared(name, {}))
      assert.truthy(rr.open_shared(name, nil))
      for _, bad in ipairs({ -1, -math.huge, 0 / 0 }) do
        assert.has_error(function() rr.open_shared(name, { timeout = bad }) end)
      end
      assert.has_error(function() rr.open_shared(name, { timeout = "1" }) end)
      assert.has_error(function() rr.open_shared(name, { allow_other_user = "yes" }) end)
      assert.has_error(function() rr.open_shared(name, { timout = 1 }) end, "rr.open_shared: unknown option timout")
      assert.has_error(function() rr.open_shared(name, 5) end)
    end)
  end)

  describe("handles inherited by a forked child", function()
    local helper = require "rr_test_helper"

    it("raise in the child, naming the process they belong to, and leave the parent's stream alone", function()
      local name = fresh_name()
      local ring = assert(rr.create_shared(name, { slot_size = 16, capacity = 8 }))
      local r, w = ring:reader(), ring:writer()
      assert.are.equal(0, w:add(support.payload(0)))
      assert(r:next())
      local parent = support.pid()
      local pid = helper.fork()
      if pid == 0 then
        local bad = 0
        local want_w = "this writer belongs to process " .. parent .. "; open your own in the child"
        local want_r = "this reader belongs to process " .. parent .. "; open your own in the child"
        local function raises(bit, want, f, ...)
          local ok, err = pcall(f, ...)
          if ok or not tostring(err):find(want, 1, true) then bad = bad | bit end
        end
        raises(1, want_w, w.add, w, "child")
        raises(2, want_w, w.try_add, w, "child")
        raises(4, want_w, w.add_batch, w, { "a", "b" })
        raises(8, want_r, r.next, r)
        raises(16, want_r, function() for _ in r:events() do end end)
        w:close()   -- closing what it inherited works, and takes nothing from the parent
        r:close()
        local own = rr.open_shared(name)   -- its own handles work
        local rd = own and own:reader("oldest")
        local ev = rd and rd:next()
        if not ev or ev:sequence() ~= 0 then bad = bad | 32 end
        if rd then rd:close() end
        helper.exit(bad)
      end
      assert.are.equal(0, helper.wait(pid))
      for i = 1, 3 do assert.are.equal(i, w:add(support.payload(i))) end
      for i = 1, 3 do
        local ev = assert(r:next())
        assert.are.equal(i, ev:sequence())
        assert.are.equal(i, support.check(ev:data()))
      end
      assert.are.same({ nil, "empty" }, { r:next() })
      local stats = ring:stats()
      assert.are.equal(parent, stats.writer_pid)
      assert.are.equal(1, stats.reader_count)
    end)

    it("a shared ring the child lets go of (<close>, as a block it leaves does) stays open", function()
      local name = fresh_name()
      local w
      do
        local ring <close> = assert(rr.create_shared(name, { slot_size = 16, capacity = 8 }))
        w = ring:writer()
        local pid = helper.fork()
        if pid == 0 then
          local ok = pcall(function()
            local inherited <close> = ring   -- released in the child when this ends
          end)
          helper.exit(ok and 0 or 1)
        end
        assert.are.equal(0, helper.wait(pid))
        assert.is_false(ring:closed())
        assert.are.equal(0, w:add(support.payload(0)))
      end
      -- the parent's own release does not end a shared ring's stream either
      assert.are.equal(1, w:add(support.payload(1)))
      local again = assert(rr.open_shared(name))
      assert.is_false(again:closed())
    end)
  end)

  describe("permissions", function()
    it("default to 0600 (also asked for as 0)", function()
      local name = fresh_name()
      assert(rr.create_shared(name, { slot_size = 8, capacity = 2 }))
      assert.are.equal("600", permissions(name))
      local zero = fresh_name()
      assert(rr.create_shared(zero, { slot_size = 8, capacity = 2, permissions = 0 }))
      assert.are.equal("600", permissions(zero))
    end)

    it("are applied as given (0640)", function()
      local name = fresh_name()
      assert(rr.create_shared(name, { slot_size = 8, capacity = 2, permissions = tonumber("640", 8) }))
      assert.are.equal("640", permissions(name))
      local other = fresh_name()
      assert(rr.create_shared(other, { slot_size = 8, capacity = 2, permissions = 0x1A0 }))
      assert.are.equal("640", permissions(other))
    end)
  end)
end)
