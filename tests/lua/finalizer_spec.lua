-- finalizer_spec.lua — a finalizer (arbitrary Lua code run by a collection step
-- inside any allocation) must never leave the binding holding a pointer it no
-- longer owns: an event made while its reader closes is stale, an unpack that
-- loses its reader midway raises, add_batch copies what the list held when it
-- checked it, and a reader opened after a collection that released its ring
-- raises instead of touching freed memory.
--
-- Each case runs in a fresh lua5.4 (a small heap, so an aggressive collector
-- finishes cycles inside the call) and counts how often the finalizer really ran
-- inside the call, so the spec fails if it stops exercising the window.
local rr = require "rusted_ring"
local support = require "support"

-- Run `code` in a fresh process; it prints "key=value" lines; return them as a table.
local function run(code)
  local ok, out = support.run_lua('local rr = require "rusted_ring"\n'
                                  .. 'collectgarbage("incremental", 1, 1000)\n' .. code)
  assert(ok, out)
  local t = {}
  for k, v in out:gmatch("(%w+)=(%d+)") do t[k] = tonumber(v) end
  return t
end

describe("finalizers run inside a call", function()
  it("make an event stale when they close its reader during next()", function()
    local t = run [[
      local current, inside, ran, holes = nil, false, 0, 0
      local mt = { __gc = function()
        if current then if inside then ran = ran + 1 end; current:close(); current = nil end
      end }
      local ring = rr.ring{ slot_size = 4096, capacity = 4, mode = "overwrite" }
      local w = ring:writer()
      local payload = string.rep("x", 4000)
      for _ = 1, 2000 do
        local r = ring:reader("latest")
        w:add(payload)
        for _ = 1, 3 do setmetatable({}, mt) end
        current, inside = r, true
        local ok, ev = pcall(r.next, r)
        inside, current = false, nil
        if ok and ev and tostring(r):find("closed") and pcall(ev.data, ev) then holes = holes + 1 end
        r:close()
      end
      print("ran=" .. ran, "holes=" .. holes)
    ]]
    assert.are.equal(0, t.holes)
    assert.is_true(t.ran > 0, "the finalizer never ran inside next(); the case tests nothing")
  end)

  it("make unpack raise when they close the reader between two items", function()
    local t = run [[
      local current, inside, ran, bad, stale = nil, false, 0, 0, 0
      local mt = { __gc = function()
        if current then if inside then ran = ran + 1 end; current:close(); current = nil end
      end }
      local ring = rr.ring{ slot_size = 4096, capacity = 4, mode = "overwrite" }
      local w = ring:writer()
      local payload, fmt = string.rep("\3abc", 1000), string.rep("s1", 1000)
      for _ = 1, 300 do
        local r = ring:reader("latest")
        w:add(payload)
        local ev = r:next()
        setmetatable({}, mt)
        current, inside = r, true
        local ok, err = pcall(ev.unpack, ev, fmt)
        inside, current = false, nil
        if tostring(r):find("closed") then
          if ok then bad = bad + 1 elseif tostring(err):find("stale event") then stale = stale + 1 end
        end
        r:close()
      end
      print("ran=" .. ran, "bad=" .. bad, "stale=" .. stale)
    ]]
    assert.are.equal(0, t.bad)
    assert.is_true(t.ran > 0, "the finalizer never ran inside unpack; the case tests nothing")
    assert.are.equal(t.ran, t.stale)
  end)

  it("cannot change what add_batch copies after it checked the list", function()
    local t = run [[
      local list, inside, ran, corrupted = nil, false, 0, 0
      local mt = { __gc = function()
        if list then
          if inside then ran = ran + 1 end
          for i = 1, #list do list[i] = "replacement " .. i end
          list = nil
        end
      end }
      -- 100 items: more than the binding describes on the C stack, so add_batch
      -- allocates and a finalizer can run inside it.
      local ring = rr.ring{ slot_size = 256, capacity = 512 }
      local w, r = ring:writer(), ring:reader()
      for iter = 1, 300 do
        local l, types = {}, {}
        for i = 1, 100 do l[i] = ("payload %d %d "):format(iter, i) .. string.rep("q", 100); types[i] = i end
        setmetatable({}, mt)
        list, inside = l, true
        local count = assert(w:add_batch(l, types))
        inside, list = false, nil
        for i = 1, count do
          local ev = assert(r:next())
          local d = ev:data()
          if not (d == ("payload %d %d "):format(iter, i) .. string.rep("q", 100)
                  or d == "replacement " .. i) or ev:type() ~= i then
            corrupted = corrupted + 1
          end
        end
      end
      print("ran=" .. ran, "corrupted=" .. corrupted)
    ]]
    assert.are.equal(0, t.corrupted)
    assert.is_true(t.ran > 0, "the finalizer never ran inside add_batch; the case tests nothing")
  end)

  it("releasing the ring during reader()'s collection raises instead of using it", function()
    collectgarbage("stop")
    local ring = rr.ring{ slot_size = 64, capacity = 4 }
    for _ = 1, rr.MAX_READERS do ring:reader() end     -- dropped, not yet collected
    local release = getmetatable(ring).__close
    local released = false
    setmetatable({}, { __gc = function() release(ring); released = true end })
    local ok, err = pcall(ring.reader, ring)
    collectgarbage("restart")
    assert.is_true(released)
    assert.is_false(ok)
    assert.matches("released ring", err)
  end)
end)
