-- block_spec.lua — r:next_block(max [, timeout]): up to max consecutive events
-- read in place through one block object per reader. #b, b:data/len/type/
-- sequence(i), and b:byte / b:sub / b:unpack checked against string.byte /
-- string.sub / string.unpack on b:data(i); the block's lifetime (the reader's
-- one block object holds its latest block: refilled by each next_block, stale
-- after next, an empty next_block and close), bad input, both modes, the ring's
-- end, abandoned claims of several producers, and checksummed streams from
-- other threads read through blocks.
local rr = require "rusted_ring"
local helper = require "rr_test_helper"
local support = require "support"

local LONG = 10   -- seconds: a generous bound on waits for another thread

-- Call f and return "ok", results... or "error" (messages are not compared).
local function outcome(f, ...)
  local res = table.pack(pcall(f, ...))
  if not res[1] then return { "error" } end
  return { "ok", table.unpack(res, 2, res.n) }
end

-- The error message of f(...), which must raise.
local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

-- The error message of obj:m(...) called with method syntax (so that
-- errors name the method and number arguments as the caller wrote them).
local function method_error(obj, m, ...)
  return error_of(load(("return function(o, ...) return o:%s(...) end"):format(m))(), obj, ...)
end

-- Everything a block holds, as plain values.
local function contents(b)
  local t = {}
  for i = 1, #b do t[i] = { b:sequence(i), b:type(i), b:len(i), b:data(i) } end
  return t
end

for _, mode in ipairs({ "backpressure", "overwrite" }) do
  describe("next_block (" .. mode .. ")", function()
    local ring, w, r
    before_each(function()
      ring = rr.ring{ slot_size = 16, capacity = 16, mode = mode }
      w, r = ring:writer(), ring:reader()
    end)

    it("reads consecutive events in place: #b, data, len, type, sequence", function()
      for i = 1, 5 do assert(w:add(("event %d"):format(i):rep(i % 2 + 1):sub(1, 16), i * 10)) end
      local b = assert(r:next_block(10))
      assert.are.equal(5, #b)
      for i = 1, 5 do
        local want = ("event %d"):format(i):rep(i % 2 + 1):sub(1, 16)
        assert.are.same({ i - 1, i * 10, #want, want }, { b:sequence(i), b:type(i), b:len(i), b:data(i) })
      end
      assert.are.equal("rusted_ring.block (first_sequence=0, count=5)", tostring(b))
      assert.are.equal("rusted_ring.block", getmetatable(b).__name)
      assert.are.same({ nil, "empty" }, { r:next_block(10) })
    end)

    it("hands out at most max events, and the rest in the next calls", function()
      for i = 1, 7 do assert(w:add("e" .. i)) end
      local got = {}
      for _, max in ipairs({ 2, 1, 3, 5 }) do
        local b = assert(r:next_block(max))
        assert.are.equal(math.min(max, 7 - #got), #b)
        for i = 1, #b do got[#got + 1] = b:data(i) end
      end
      assert.are.same({ "e1", "e2", "e3", "e4", "e5", "e6", "e7" }, got)
      assert.are.equal(7, r:delivered())
    end)

    it("mixes with next: each call takes up where the other left off", function()
      for i = 1, 6 do assert(w:add("e" .. i)) end
      assert.are.equal("e1", r:next():data())
      local b = assert(r:next_block(2))
      assert.are.same({ "e2", "e3" }, { b:data(1), b:data(2) })
      assert.are.equal("e4", r:next():data())
      b = assert(r:next_block(100))
      assert.are.same({ "e5", "e6" }, { b:data(1), b:data(2) })
    end)

    it("handles empty payloads", function()
      assert(w:add(""))
      assert(w:add("x"))
      local b = assert(r:next_block(2))
      assert.are.same({ "", 0, "x", 1 }, { b:data(1), b:len(1), b:data(2), b:len(2) })
      assert.are.same({}, { b:byte(1) })
      assert.are.equal("", b:sub(1, 1))
      assert.are.same(outcome(string.unpack, "z", ""), outcome(b.unpack, b, 1, "z"))
    end)

    it("byte and sub follow string.byte / string.sub on b:data(i) for every index pair", function()
      local s = "\0\1abc\255xyz"
      assert(w:add("other"))
      assert(w:add(s))
      local b = assert(r:next_block(2))
      local idx = { -20, -10, -9, -8, -3, -1, 0, 1, 2, 5, 9, 10, 11, 30,
                    math.mininteger, math.maxinteger }
      for _, j in ipairs(idx) do
        assert.are.same({ s:byte(j) }, { b:byte(2, j) }, "byte " .. j)
        assert.are.equal(s:sub(j), b:sub(2, j), "sub " .. j)
        for _, k in ipairs(idx) do
          assert.are.same({ s:byte(j, k) }, { b:byte(2, j, k) }, "byte " .. j .. "," .. k)
          assert.are.equal(s:sub(j, k), b:sub(2, j, k), "sub " .. j .. "," .. k)
        end
      end
      assert.are.same({ s:byte() }, { b:byte(2) })
      assert.are.same({ ("other"):byte(1, -1) }, { b:byte(1, 1, -1) })
      for _, bad in ipairs({ 1.5, "x", {} }) do
        assert.are.same(outcome(string.byte, s, bad), outcome(b.byte, b, 2, bad))
        assert.are.same(outcome(string.sub, s, bad), outcome(b.sub, b, 2, bad))
      end
      assert.matches("bad argument #2 to 'sub' %(number expected, got no value%)",
                     method_error(b, "sub", 2))
    end)

    it("unpack follows string.unpack on b:data(i), in place", function()
      local data = string.pack("<i4 >I2 b d", -7, 513, -2, 3.25)   -- 15 bytes
      assert(w:add("x"))
      assert(w:add(data))
      local b = assert(r:next_block(2))
      for _, fmt in ipairs({ "<i4 >I2 b d", "<i4", ">i4", "<I4", "i3", "j", "d", "s1", "z", "c0", "c15",
                             "c16", "x", "<!4 b i4", "b Xi4 b", "y", "i17", "b%" }) do
        for _, pos in ipairs({ 1, 2, 3, -1, -5, -200, 0, #data, #data + 1, #data + 2 }) do
          assert.are.same(outcome(string.unpack, fmt, data, pos), outcome(b.unpack, b, 2, fmt, pos),
                          fmt .. " @" .. pos)
        end
        assert.are.same(outcome(string.unpack, fmt, data), outcome(b.unpack, b, 2, fmt), fmt)
      end
      assert.are.same({ string.unpack("c1", "x") }, { b:unpack(1, "c1") })
      assert.matches("data string too short", error_of(b.unpack, b, 1, "i4"))
      assert.matches("bad argument #3 to 'unpack' %(initial position out of string%)",
                     method_error(b, "unpack", 2, "b", 17))
    end)

    it("is the reader's one block object, refilled by every next_block", function()
      for i = 1, 4 do assert(w:add("e" .. i)) end
      local b1 = assert(r:next_block(2))
      local b2 = assert(r:next_block(2))
      assert.is_true(rawequal(b1, b2))
      assert.are.same({ "e3", "e4" }, { b1:data(1), b1:data(2) })
      local other = ring:reader()
      assert(w:add("e5"))
      assert.is_false(rawequal(b1, assert(other:next_block(1))), "each reader has its own block")
    end)

    it("raises once stale: after the reader's next call of any kind, and after close", function()
      local methods = { "data", "len", "type", "sequence", "byte", "sub", "unpack" }
      local function assert_stale(b, why)
        for _, m in ipairs(methods) do
          local err = error_of(b[m], b, 1, m == "unpack" and "b" or 1)
          assert.matches("stale block: its reader has moved on %(the block object belongs to "
                         .. "the reader and holds its latest block; after a next%(%), a "
                         .. "next_block%(%) that returned nil, or close it holds none%)",
                         err, why .. ": " .. m)
        end
        assert.matches("stale block", error_of(function() return #b end), why .. ": #")
        assert.are.equal("rusted_ring.block (stale)", tostring(b), why)
      end
      for i = 1, 6 do assert(w:add("e" .. i)) end
      local b = assert(r:next_block(1))
      assert(r:next_block(1))
      assert.are.equal("e2", b:data(1), "refilled, not stale")
      local ev = assert(r:next())
      assert_stale(b, "after next")
      b = assert(r:next_block(1))
      assert.are.equal("e4", b:data(1))
      assert.matches("stale event", error_of(ev.data, ev), "the event, after next_block")
      assert(r:next_block(10))
      assert.are.same({ "e5", "e6" }, { b:data(1), b:data(2) })
      assert.are.same({ nil, "empty" }, { r:next_block(1) })
      assert_stale(b, "after an empty next_block")
      assert(w:add("e7"))
      assert.is_true(rawequal(b, r:next_block(1)))
      assert.are.equal("e7", b:data(1))
      r:close()
      assert_stale(b, "after close")
      assert.matches("attempt to use a closed reader", error_of(r.next_block, r, 1))
    end)

    it("bad indices raise naming the index and the block's size", function()
      for i = 1, 3 do assert(w:add("e" .. i)) end
      local b = assert(r:next_block(3))
      for _, m in ipairs({ "data", "len", "type", "sequence", "byte", "sub", "unpack" }) do
        local extra = m == "unpack" and "b" or 1
        for _, bad in ipairs({ 0, 4, -1, math.maxinteger, math.mininteger }) do
          local want = ("bad argument #1 to '%s' (event index %d is out of range: the block holds "
                        .. "3 events (1..3))"):format(m, bad)
          assert.is_truthy(method_error(b, m, bad, extra):find(want, 1, true), m .. " " .. bad)
        end
        assert.matches("bad argument #1 to '" .. m .. "' %(event index must be an integer, got 1.5%)",
                       method_error(b, m, 1.5, extra))
        assert.matches("event index must be an integer, got string", method_error(b, m, "1", extra))
        assert.matches("event index must be an integer, got no value", method_error(b, m))
        -- called as a plain function (pcall(b.data, b, i)) the method still has its name,
        -- and the index is argument #2
        assert.are.equal(("bad argument #2 to '%s' (event index 4 is out of range: the block "
                          .. "holds 3 events (1..3))"):format(m), error_of(b[m], b, 4, extra))
        assert.are.equal(("bad argument #2 to '%s' (event index must be an integer, got string)")
                         :format(m), error_of(b[m], b, "1", extra))
      end
      assert.are.same({ "e1", "e3" }, { b:data(1), b:data(3) }, "the block is still usable")
    end)

    it("refuses a bad max or timeout, and the reader stays usable", function()
      assert(w:add("e1"))
      for _, bad in ipairs({ 0, -1, math.mininteger }) do
        local want = "bad argument #1 to 'next_block' (max must be >= 1 (the most events the block "
                     .. "may hold), got " .. bad .. ")"
        assert.is_truthy(method_error(r, "next_block", bad):find(want, 1, true), bad)
      end
      assert.matches("bad argument #1 to 'next_block' %(max must be an integer, got 1.5%)",
                     method_error(r, "next_block", 1.5))
      assert.matches("bad argument #1 to 'next_block' %(max must be an integer, got string%)",
                     method_error(r, "next_block", "2"))
      assert.matches("bad argument #1 to 'next_block' %(max must be an integer, got no value%)",
                     method_error(r, "next_block"))
      assert.matches("bad argument #2 to 'next_block' %(timeout must be >= 0 seconds",
                     method_error(r, "next_block", 1, -1))
      assert.matches("bad argument #2 to 'next_block' %(number of seconds expected",
                     method_error(r, "next_block", 1, "soon"))
      assert.are.equal("e1", assert(r:next_block(1)):data(1))
    end)

    it("returns nil, 'timeout' after its timeout, and nil, 'closed' once the ring is closed and "
       .. "drained", function()
      local t0 = support.now()
      assert.are.same({ nil, "timeout" }, { r:next_block(4, 0.02) })
      assert.is_true(support.now() - t0 >= 0.015)
      assert.are.same({ nil, "empty" }, { r:next_block(4, nil) })
      assert(w:add("last"))
      ring:close()
      assert.are.equal("last", assert(r:next_block(4, math.huge)):data(1))
      assert.are.same({ nil, "closed" }, { r:next_block(4, math.huge) })
    end)

    it("ends at the ring's end; the next block starts at slot 0", function()
      for i = 1, 12 do assert(w:add("a" .. i)) end
      for _ = 1, 12 do assert(r:next()) end
      for i = 1, 8 do assert(w:add("b" .. i, i)) end   -- slots 12..15, then 0..3
      local b = assert(r:next_block(8))
      assert.are.equal(4, #b)
      assert.are.same({ { 12, 1, 2, "b1" }, { 13, 2, 2, "b2" }, { 14, 3, 2, "b3" }, { 15, 4, 2, "b4" } },
                      contents(b))
      b = assert(r:next_block(8))
      assert.are.same({ { 16, 5, 2, "b5" }, { 17, 6, 2, "b6" }, { 18, 7, 2, "b7" }, { 19, 8, 2, "b8" } },
                      contents(b))
    end)

    it("keeps its reader alive", function()
      local b
      do
        local ring2 = rr.ring{ slot_size = 8, capacity = 2, mode = mode }
        ring2:writer():add("alive")
        b = ring2:reader():next_block(2)
      end
      collectgarbage(); collectgarbage()
      assert.are.equal("alive", b:data(1))
    end)

    it("of a reader closed by the collector raises, even when a finalizer kept it", function()
      local kept
      do
        local ring2 = rr.ring{ slot_size = 8, capacity = 2, mode = mode }
        ring2:writer():add("gone")
        local b = ring2:reader():next_block(2)
        setmetatable({}, { __gc = function() kept = b end })
      end
      collectgarbage(); collectgarbage(); collectgarbage()
      assert.is_not_nil(kept)
      assert.matches("stale block", error_of(kept.data, kept, 1))
    end)

    it("a wrong self is refused", function()
      assert(w:add("x"))
      local b = assert(r:next_block(1))
      assert.matches("rusted_ring.block expected, got table", error_of(b.data, {}, 1))
      assert.matches("rusted_ring.block expected, got rusted_ring.reader", error_of(b.len, r, 1))
    end)

    it("closes in a to-be-closed variable, like every other handle", function()
      assert(w:add("closable"))
      do
        local b <close> = r:next_block(1)
        assert.are.equal("closable", b:data(1))
      end
      do
        local nothing <close> = r:next_block(1)
        assert.is_nil(nothing)
      end
    end)
  end)
end

describe("next_block under each wait strategy", function()
  for _, wait in ipairs({ "block", "yield", "spin", "sleep" }) do
    it("times out, reads what is there, and ends at the close (" .. wait .. ")", function()
      local ring = rr.ring{ slot_size = 16, capacity = 16 }
      local w, r = ring:writer(), ring:reader{ wait = wait }
      assert.are.same({ nil, "timeout" }, { r:next_block(4, 0.005) })
      for i = 1, 3 do assert(w:add("e" .. i)) end
      local b = assert(r:next_block(4, 0.005))
      assert.are.same({ "e1", "e2", "e3" }, { b:data(1), b:data(2), b:data(3) })
      ring:close()
      assert.are.same({ nil, "closed" }, { r:next_block(4, math.huge) })
    end)
  end
end)

describe("next_block with several producers", function()
  it("ends a block before an abandoned claim; the next call skips and counts it", function()
    local ring = rr.ring{ slot_size = 16, capacity = 32, producers = "multi" }
    local w, r = ring:writer(), ring:reader()
    for i = 1, 3 do assert(w:add("a" .. i)) end
    assert.are.equal(3, helper.abandon(ring, 2))   -- sequences 3 and 4
    for i = 1, 3 do assert(w:add("b" .. i)) end
    local b = assert(r:next_block(32))
    assert.are.same({ { 0, 0, 2, "a1" }, { 1, 0, 2, "a2" }, { 2, 0, 2, "a3" } }, contents(b))
    b = assert(r:next_block(32))
    assert.are.same({ { 5, 0, 2, "b1" }, { 6, 0, 2, "b2" }, { 7, 0, 2, "b3" } }, contents(b))
    assert.are.equal(2, r:skipped())
    assert.are.same({ nil, "empty" }, { r:next_block(32) })
  end)

  for _, mode in ipairs({ "backpressure", "overwrite" }) do
    it("delivers every producer's checksummed stream through blocks, abandoned claims skipped ("
       .. mode .. ")", function()
      local N, PRODUCERS, EVERY = 20000, 3, 97
      local ring = rr.ring{ slot_size = 16, capacity = 64, mode = mode, producers = "multi" }
      local r = ring:reader()
      local jobs = {}
      for id = 1, PRODUCERS do
        jobs[id] = helper.start(ring, "stream", { count = N, id = id, abandon_every = EVERY })
      end
      -- every sequence is claimed once: N events and one abandoned claim
      -- before every EVERY-th of them, per producer
      local total = PRODUCERS * (N + (N - 1) // EVERY + 1)
      local next_of, delivered, prev_seq = {}, 0, -1
      for id = 1, PRODUCERS do next_of[id] = 0 end
      while r:cursor() < total do
        local b, why = r:next_block(64, LONG)
        assert(b, why)
        for i = 1, #b do
          assert(b:len(i) == 16, "length")
          local seq, sum, id = b:unpack(i, "<I8I4I4")
          if sum ~= (seq * 2654435761) % 2^32 // 1 or not next_of[id] then
            error(("torn payload at sequence %d: %q"):format(b:sequence(i), b:data(i)))
          end
          assert(b:sequence(i) > prev_seq, "ring sequences out of order")
          prev_seq = b:sequence(i)
          if mode == "backpressure" then
            assert(seq == next_of[id], ("producer %d: %d after %d"):format(id, seq, next_of[id] - 1))
          else
            assert(seq >= next_of[id], ("producer %d: %d after %d"):format(id, seq, next_of[id] - 1))
          end
          next_of[id] = seq + 1
          delivered = delivered + 1
        end
      end
      for id = 1, PRODUCERS do assert.are.equal("ok", (jobs[id]:join())) end
      assert.are.same({ nil, "empty" }, { r:next_block(64) })
      assert.are.equal(delivered, r:delivered())
      assert.are.equal(total, delivered + r:lost() + r:skipped())
      if mode == "backpressure" then
        assert.are.equal(PRODUCERS * N, delivered)
        assert.are.same({ N, N, N }, next_of)
        assert.are.equal(0, r:lost())
      end
    end)
  end
end)
