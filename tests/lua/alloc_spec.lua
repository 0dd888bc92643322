-- alloc_spec.lua — reading allocates nothing in steady state: r:next(), the
-- r:events() step and r:next_block() hand out the reader's one event (block)
-- object, refilled, so a program that reads 10^5 events with the collector
-- stopped ends with exactly the memory it started with. One userdata, table
-- or string made per event would add at least 10^5 * 16 bytes.
local rr = require "rusted_ring"

local N = 100000

-- The Lua heap (bytes) that body() leaves behind, run once to warm up (the
-- words "empty" etc., the event's first fill) and then measured with the
-- collector stopped, so nothing allocated can be freed and hidden.
local function growth(body)
  body()
  collectgarbage("collect")
  collectgarbage("stop")
  local before = collectgarbage("count")
  body()
  local after = collectgarbage("count")
  collectgarbage("restart")
  return (after - before) * 1024
end

for _, mode in ipairs({ "backpressure", "overwrite" }) do
  describe("reading (" .. mode .. ") allocates nothing", function()
    local ring, w, r, payload
    before_each(function()
      ring = rr.ring{ slot_size = 64, capacity = 1024, mode = mode }
      w, r = ring:writer(), ring:reader()
      payload = string.rep("p", 64)
    end)

    it("over 10^5 add + next calls, reading each event's fields in place", function()
      local sum = 0
      local bytes = growth(function()
        for i = 1, N do
          assert(w:add(payload, i % 7))
          local ev = r:next()
          sum = sum + ev:sequence() + ev:len() + ev:type() + ev:byte(1) + #ev
          sum = sum + ev:unpack("<I4")
        end
      end)
      assert.are.equal(0, bytes)
      assert.is_true(sum > 0)
    end)

    it("over 10^5 events read through r:events() in bursts", function()
      local seen = 0
      local bytes = growth(function()
        for _ = 1, N // 512 do
          for _ = 1, 512 do w:add(payload) end
          for ev in r:events() do seen = seen + #ev end
        end
      end)
      assert.are.equal(0, bytes)
      assert.are.equal(2 * (N // 512) * 512 * 64, seen)
    end)

    it("over 10^5 events read through next_block in bursts, field by field", function()
      local sum = 0
      local bytes = growth(function()
        for _ = 1, N // 512 do
          for _ = 1, 512 do w:add(payload, 3) end
          while true do
            local b = r:next_block(100)
            if not b then break end
            for i = 1, #b do
              sum = sum + b:len(i) + b:type(i) + b:sequence(i) + b:byte(i, 1) + b:unpack(i, "<I4")
            end
          end
        end
      end)
      assert.are.equal(0, bytes)
      assert.is_true(sum > 0)
    end)

    it("over 10^5 polls of an empty ring", function()
      local bytes = growth(function()
        for _ = 1, N do
          local ev, why = r:next()
          if ev or why ~= "empty" then error("not empty") end
        end
      end)
      assert.are.equal(0, bytes)
    end)
  end)
end
