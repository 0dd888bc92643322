-- event_spec.lua — events: data, len, #, type, sequence; byte / sub / unpack
-- checked against string.byte / string.sub / string.unpack on ev:data(),
-- index by index and format by format; the event object is the reader's,
-- refilled by each next, and raises when it holds no event.
local rr = require "rusted_ring"

-- One event holding `payload`, from a ring of the given mode.
local function event_of(payload, mode, slot)
  local ring = rr.ring{ slot_size = slot or math.max(#payload, 1), capacity = 2, mode = mode }
  local w, r = ring:writer(), ring:reader()
  assert(w:add(payload, 3))
  return assert(r:next()), r, w, ring
end

-- Call f and return "ok", results... or "error" (its message is not compared:
-- ours names the method, string.*'s the function).
local function outcome(f, ...)
  local res = table.pack(pcall(f, ...))
  if not res[1] then return { "error" } end
  for i = 2, res.n do
    if res[i] ~= res[i] then res[i] = "NaN" end   -- NaN ~= NaN would fail the comparison
  end
  return { "ok", table.unpack(res, 2, res.n) }
end

for _, mode in ipairs({ "backpressure", "overwrite" }) do
  describe("event (" .. mode .. ")", function()
    it("exposes data, len, #, type and sequence", function()
      local ev = event_of("hello", mode, 16)
      assert.are.equal("hello", ev:data())
      assert.are.equal(5, ev:len())
      assert.are.equal(5, #ev)
      assert.are.equal(3, ev:type())
      assert.are.equal(0, ev:sequence())
      assert.are.equal("rusted_ring.event (sequence=0, len=5, type=3)", tostring(ev))
      assert.are.equal("rusted_ring.event", getmetatable(ev).__name)
    end)

    it("handles an empty payload", function()
      local ev = event_of("", mode, 8)
      assert.are.equal("", ev:data())
      assert.are.equal(0, #ev)
      assert.are.same({}, { ev:byte() })
      assert.are.equal("", ev:sub(1))
      assert.are.same(outcome(string.unpack, "z", ""), outcome(ev.unpack, ev, "z"))
    end)

    it("byte and sub follow string.byte / string.sub for every index pair", function()
      local s = "\0\1abc\255xyz"
      local ev = event_of(s, mode)
      local idx = { -20, -10, -9, -8, -3, -1, 0, 1, 2, 5, 9, 10, 11, 30,
                    math.mininteger, math.maxinteger }
      for _, i in ipairs(idx) do
        assert.are.same({ s:byte(i) }, { ev:byte(i) }, "byte " .. i)
        assert.are.equal(s:sub(i), ev:sub(i), "sub " .. i)
        for _, j in ipairs(idx) do
          assert.are.same({ s:byte(i, j) }, { ev:byte(i, j) }, "byte " .. i .. "," .. j)
          assert.are.equal(s:sub(i, j), ev:sub(i, j), "sub " .. i .. "," .. j)
        end
      end
      assert.are.same({ s:byte() }, { ev:byte() })
      assert.are.same({ s:byte(2.0) }, { ev:byte(2.0) })
    end)

    it("byte and sub reject bad indices like string.* does", function()
      local ev = event_of("abc", mode)
      for _, bad in ipairs({ 1.5, "x", {} }) do
        assert.are.same(outcome(string.byte, "abc", bad), outcome(ev.byte, ev, bad))
        assert.are.same(outcome(string.sub, "abc", bad), outcome(ev.sub, ev, bad))
      end
      local ok, err = pcall(function() return ev:sub() end)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'sub' %(number expected, got no value%)", err)
    end)

    it("unpack follows string.unpack, format by format", function()
      local data = string.pack("<i4 >I2 b B h j d f n s1 z", -7, 513, -2, 250, -300,
                               math.mininteger, 3.25, -1.5, 1e300, "str", "zs")
          .. "\0\0\0\0\0\0\0\1\255\255\255\255\255\255\255\255\255\128xyz"
      local ev = event_of(data, mode)
      local formats = {
        "<i4 >I2 b B h j d f n s1 z", "<i4", ">i4", "=i4", "<I4", "i3", "I3", "<i16", ">i16",
        "<I9", "<i9", "i17", "i0", "j", "J", "T", "l", "L", "H", "b", "B", "f", "d", "n",
        "s", "s1", "s2", "s4", "z", "zz", "c0", "c1", "c5", "c", "c100", "x", "xx", "<!4 b i4",
        "<!8 b d", "!2 b h", "!3 b i3", "b Xi4 b", "b X", "b Xz", "b Xc1", "<!4 b Xi8 b",
        "!17", "  b  ", "y", "b%", "i4 i4 i4 i4 i4 i4 i4 i4 i4 i4 i4 i4 i4 i4 i4 i4 i4",
        ">s2", "<s8", "!16 b j", "<I16", "<i12",
      }
      for _, fmt in ipairs(formats) do
        for _, pos in ipairs({ 1, 2, 3, 17, -1, -5, -200, 0, #data, #data + 1, #data + 2 }) do
          assert.are.same(outcome(string.unpack, fmt, data, pos), outcome(ev.unpack, ev, fmt, pos),
                          fmt .. " @" .. pos)
        end
        assert.are.same(outcome(string.unpack, fmt, data), outcome(ev.unpack, ev, fmt), fmt)
      end
    end)

    it("unpack reads integers wider than 8 bytes as string.unpack does", function()
      for _, v in ipairs({ 0, 1, -1, math.maxinteger, math.mininteger, 12345, -98765 }) do
        for _, fmt in ipairs({ "<i16", ">i16", "<i9", ">i12", "<I16" }) do
          local ok, data = pcall(string.pack, fmt, v)
          if ok then
            local ev = event_of(data, mode)
            assert.are.same({ string.unpack(fmt, data) }, { ev:unpack(fmt) }, fmt .. " " .. v)
          end
        end
      end
      -- sign bytes that are not pure extension do not fit
      local ev = event_of("\0\0\0\0\0\0\0\128\0", mode)
      local ok, err = pcall(ev.unpack, ev, "<i9")
      assert.is_false(ok)
      assert.matches("9%-byte integer does not fit into Lua Integer", err)
    end)

    it("unpack errors name the problem", function()
      local ev = event_of("abc", mode)
      local cases = {
        { "i4", "data string too short" },
        { "y", "invalid format option 'y'" },
        { "i17", "integral size %(17%) out of limits %[1,16%]" },
        { "c", "missing size for format option 'c'" },
        { "z", "unfinished string for format 'z'" },
        { "!3 b i3", "format asks for alignment not power of 2" },
        { "b X", "invalid next option for option 'X'" },
      }
      for _, c in ipairs(cases) do
        local ok, err = pcall(function() return ev:unpack(c[1]) end)
        assert.is_false(ok, c[1])
        assert.matches(c[2], err)
      end
      local ok, err = pcall(function() return ev:unpack("b", 5) end)
      assert.is_false(ok)
      assert.matches("bad argument #2 to 'unpack' %(initial position out of string%)", err)
    end)

    it("is the reader's one event object, refilled by every next", function()
      local ev, r, w, ring = event_of("one", mode, 8)
      w:add("two", 5)
      local ev2 = r:next()
      assert.is_true(rawequal(ev, ev2))
      -- what a variable kept from an earlier next() holds is the latest event
      assert.are.same({ "two", 1, 5 }, { ev:data(), ev:sequence(), ev:type() })
      local other = ring:reader()
      w:add("three")
      assert.is_false(rawequal(ev, assert(other:next())), "each reader has its own event object")
      assert.are.equal("two", ev:data(), "another reader's next leaves this event alone")
    end)

    it("raises once it holds no event: after a next that returned nil, and after close",
       function()
      local ev, r, w = event_of("one", mode, 8)
      assert.are.same({ nil, "empty" }, { r:next() })
      for _, m in ipairs({ "data", "len", "type", "sequence", "byte", "sub", "unpack" }) do
        local ok, err = pcall(ev[m], ev, m == "unpack" and "b" or 1)
        assert.is_false(ok, m)
        assert.matches("stale event: its reader has moved on", err)
      end
      assert.has_error(function() return #ev end)
      assert.are.equal("rusted_ring.event (stale)", tostring(ev))
      w:add("two")
      assert.is_true(rawequal(ev, r:next()))
      assert.are.equal("two", ev:data())
      r:close()
      local ok, err = pcall(ev.data, ev)
      assert.is_false(ok)
      assert.matches("stale event", err)
      assert.are.equal("rusted_ring.event (stale)", tostring(ev))
    end)

    it("of a reader closed by the collector raises, even when a finalizer kept it", function()
      local kept
      do
        local ring = rr.ring{ slot_size = 8, capacity = 2, mode = mode }
        ring:writer():add("gone")
        local r = ring:reader()
        local ev = r:next()
        -- collected with the reader and the event: its finalizer keeps the event
        setmetatable({}, { __gc = function() kept = ev end })
      end
      collectgarbage(); collectgarbage(); collectgarbage()
      assert.is_not_nil(kept)
      local ok, err = pcall(kept.data, kept)
      assert.is_false(ok)
      assert.matches("stale event", err)
      assert.are.equal("rusted_ring.event (stale)", tostring(kept))
    end)

    it("an event keeps its reader alive", function()
      local ev
      do
        local ring = rr.ring{ slot_size = 8, capacity = 2, mode = mode }
        ring:writer():add("alive")
        ev = ring:reader():next()
      end
      collectgarbage(); collectgarbage()
      assert.are.equal("alive", ev:data())
    end)

    it("a wrong self is refused", function()
      local ev = event_of("x", mode)
      local ok, err = pcall(ev.data, {})
      assert.is_false(ok)
      assert.matches("rusted_ring.event expected, got table", err)
    end)
  end)
end

describe("an event in a to-be-closed variable", function()
  it("closes without error, like every other handle", function()
    local ring = rr.ring{ slot_size = 16, capacity = 4 }
    local w, r = ring:writer(), ring:reader()
    w:add("closable", 2)
    do
      local ev <close> = r:next()
      assert.are.equal("closable", ev:data())
    end
    do
      local nothing <close> = r:next()   -- nil: nothing to close
      assert.is_nil(nothing)
    end
    w:add("again")
    local ev = r:next()
    assert.has_error(function() getmetatable(ev).__close(ring) end)   -- not an event
  end)
end)
