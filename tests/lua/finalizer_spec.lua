-- finalizer_spec.lua — a finalizer (arbitrary Lua code run by a collection step
-- inside any allocation) must never leave the binding holding a pointer it no
-- longer owns: reading allocates nothing, so no finalizer runs between a read
-- and its result; an unpack whose reader moves on or closes midway raises,
-- add_batch copies what the list held when it
-- checked it, ring:reader{after} holds the values of its list while it opens,
-- and a reader opened after a collection that released its ring
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

-- Prepended to a case run by run_lines: at_first_allocation(action, f, ...) is pcall(f, ...)
-- with the collector stopped in its finalizer phase, finalizers still pending and no debt
-- left, so that the first allocation inside f runs a collection step, and that step a
-- finalizer that calls action() once (`fired` counts it). No timing is involved: with a step
-- size of 2 bytes collectgarbage("step", 0) is one basic step, and a step of the finalizer
-- phase calls at most 10 finalizers, so 50 leave plenty for the call's first allocation.
local AT_FIRST_ALLOCATION = [[
  local support = require "support"
  collectgarbage("incremental", 100, 100, 1)
  local armed, started, action = false, false, nil
  fired = 0
  local mt = { __gc = function()
    started = true
    if armed then armed = false; fired = fired + 1; action() end
  end }
  function at_first_allocation(act, f, ...)
    collectgarbage("collect")
    collectgarbage("stop")
    for _ = 1, 50 do setmetatable({}, mt) end
    started = false
    repeat collectgarbage("step", 0) until started
    action, fired = act, 0
    collectgarbage("restart")
    armed = true
    local ok, a, b = pcall(f, ...)
    armed = false
    return ok, a, b
  end
  function clean(err) return (tostring(err):gsub("^[^:]*:%d+: ", "")) end
  function seq_of(ev)
    local ok, d = pcall(ev.data, ev)
    if not ok then return clean(d) end
    return assert(support.check(d))
  end
]]

-- Run AT_FIRST_ALLOCATION .. code in a fresh process; it prints "key=value" lines (any
-- text up to the end of the line); return them as a table of strings.
local function run_lines(code)
  local ok, out = support.run_lua('local rr = require "rusted_ring"\n' .. AT_FIRST_ALLOCATION .. code)
  assert(ok, out)
  local t = {}
  for k, v in out:gmatch("(%w+)=([^\n]*)") do t[k] = v end
  return t
end

describe("finalizers run inside a call", function()
  it("make unpack raise when they move the reader on between two items", function()
    -- The finalizer's next() refills the very event being unpacked (the event
    -- object is the reader's), so the event looks current again: unpack must
    -- notice that the reader moved, not only that the event went stale.
    local t = run [[
      local current, inside, ran, bad, stale = nil, false, 0, 0, 0
      local mt = { __gc = function()
        if current then if inside then ran = ran + 1 end; current:next(); current = nil end
      end }
      local ring = rr.ring{ slot_size = 4096, capacity = 4, mode = "overwrite" }
      local w = ring:writer()
      local payload, fmt = string.rep("\3abc", 1000), string.rep("s1", 1000)
      local other = string.rep("\3xyz", 1000)
      for _ = 1, 300 do
        local r = ring:reader("latest")
        w:add(payload)
        w:add(other)
        local ev = r:next()
        setmetatable({}, mt)
        current, inside = r, true
        local moved_from = ev:sequence()
        local ok, err = pcall(ev.unpack, ev, fmt)
        inside, current = false, nil
        if ev:sequence() ~= moved_from then
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

  for _, how in ipairs{ "next", "events" } do
    it(how .. " allocates nothing, so no finalizer runs between its read and the event it "
       .. "returns", function()
      local t = run_lines(("local how = %q\n"):format(how) .. [[
        local ring = rr.ring{ slot_size = 64, capacity = 16 }
        local w, r = ring:writer(), ring:reader()
        for i = 1, 4 do assert(w:add(support.payload(i))) end
        assert(r:next())                 -- makes the words and the event's first fill
        local nested = "none"
        local function read_nested() nested = seq_of(assert(r:next())) end
        local ok, ev
        if how == "next" then
          ok, ev = at_first_allocation(read_nested, r.next, r)
        else
          local step, state = r:events()
          ok, ev = at_first_allocation(read_nested, step, state)
        end
        print("fired=" .. fired)
        print("ok=" .. tostring(ok))
        print("nested=" .. nested)
        print("outer=" .. seq_of(ev))
        local rest = {}
        for e in r:events() do rest[#rest + 1] = seq_of(e) end
        print("rest=" .. table.concat(rest, ","))
      ]])
      assert.are.equal("0", t.fired, "a finalizer ran inside the call: it allocated")
      assert.are.same({ "true", "none", "2", "3,4" }, { t.ok, t.nested, t.outer, t.rest })
    end)
  end

  it("polling an empty ring allocates nothing: the event is the reader's", function()
    local ring = rr.ring{ slot_size = 64, capacity = 4 }
    local w, r = ring:writer(), ring:reader()
    assert.is_nil(r:next())           -- makes the word "empty" once
    collectgarbage("stop")
    local before = collectgarbage("count")
    for _ = 1, 1000 do
      if r:next() ~= nil then error("an event from an empty ring") end
    end
    local after = collectgarbage("count")
    collectgarbage("restart")
    assert.are.equal(before, after)
    -- the next event comes in the same object
    assert(w:add(support.payload(7)))
    assert.are.equal(7, support.check(r:next():data()))
    assert.is_nil(r:next())
  end)

  for _, m in ipairs{ "stats", "writer", "reader" } do
    it("a finalizer releasing the ring while ring:" .. m .. "() allocates makes it raise "
       .. "as for a released ring", function()
      local t = run_lines(("local m = %q\n"):format(m) .. [[
        local ring = rr.ring{ slot_size = 64, capacity = 4 }
        local ok, err = at_first_allocation(function() getmetatable(ring).__close(ring) end,
                                            ring[m], ring)
        print("fired=" .. fired)
        print("ok=" .. tostring(ok))
        print("err=" .. clean(err))
      ]])
      assert.are.equal("1", t.fired, "the finalizer did not run inside the call; the case tests nothing")
      assert.are.same({ "false", "attempt to use a released ring" }, { t.ok, t.err })
    end)
  end

  it("a finalizer closing the writer while add_batch allocates makes it raise as for a "
     .. "closed writer, and publishes nothing", function()
    local t = run_lines [[
      local ring = rr.ring{ slot_size = 64, capacity = 256 }
      local w, r = ring:writer(), ring:reader()
      local list = {}
      for i = 1, 100 do list[i] = support.payload(i) end   -- more than described on the C stack
      local ok, err = at_first_allocation(function() w:close() end, w.add_batch, w, list)
      print("fired=" .. fired)
      print("ok=" .. tostring(ok))
      print("err=" .. clean(err))
      print("published=" .. ring:published())
      assert(ring:writer():add_batch(list))                 -- the ring takes a new writer
      local seqs = {}
      for ev in r:events() do seqs[#seqs + 1] = seq_of(ev) end
      print("read=" .. #seqs .. " first=" .. seqs[1] .. " last=" .. seqs[#seqs])
    ]]
    assert.are.equal("1", t.fired, "the finalizer did not run inside add_batch; the case tests nothing")
    assert.are.same({ "false", "attempt to use a closed writer", "0", "100 first=1 last=100" },
                    { t.ok, t.err, t.published, t.read })
  end)

  it("a finalizer releasing a shared ring while tostring formats it leaves the text true",
     function()
    local t = run_lines [[
      local name = ("/rr-test-fin-%d-%d"):format(os.time(), math.random(1, 1e9))
      local ring = assert(rr.create_shared(name, { slot_size = 64, capacity = 4 }))
      assert(rr.unlink_shared(name))
      local ok, text = at_first_allocation(function() getmetatable(ring).__close(ring) end,
                                           getmetatable(ring).__tostring, ring)
      print("fired=" .. fired)
      print("ok=" .. tostring(ok))
      print("text=" .. tostring(text):gsub("%(0x%x+%)", ""):gsub(name:gsub("%p", "%%%0"), "NAME"))
    ]]
    assert.are.equal("1", t.fired, "the finalizer did not run inside __tostring; the case tests nothing")
    assert.are.same({ "true", "rusted_ring.ring 'NAME' (slot_size=64, capacity=4, backpressure, single) " },
                    { t.ok, t.text })
  end)

  it("an error carries the core's message for the failed call, whatever a finalizer run "
     .. "while raising does", function()
    local t = run_lines [[
      -- the finalizer's own failing core call: an oversized add to another ring
      local other = rr.ring{ slot_size = 4, capacity = 4 }:writer()
      local function fail_elsewhere() assert(not pcall(other.add, other, string.rep("z", 30))) end
      local ring = rr.ring{ slot_size = 8, capacity = 4 }
      local w = ring:writer()
      local cases = {
        add = { w.add, w, string.rep("y", 20) },
        start = { ring.reader, ring, "sideways" },
        emit = { rr.emit, string.rep("y", 20000) },
        preset = { rr.configure_pools, "nope" },
      }
      for name, c in pairs(cases) do
        local ok, err = at_first_allocation(fail_elsewhere, table.unpack(c))
        print(name .. "=" .. fired .. " " .. tostring(ok) .. " " .. clean(err))
      end
    ]]
    assert.are.equal("1 false bad argument #2 to '?' (payload of 20 bytes exceeds the slot size "
                     .. "of 8 bytes)", (t.add:gsub("'add'", "'?'")))
    assert.matches("^1 false .*start must be \"oldest\" or \"latest\", got \"sideways\"", t.start)
    assert.matches("^1 false .*payload of 20000 bytes exceeds the largest pool's", t.emit)
    assert.matches("^1 false .*unknown preset \"nope\"", t.preset)
  end)

  it("releasing the ring during writer()'s collection raises instead of using it", function()
    collectgarbage("stop")
    local ring = rr.ring{ slot_size = 64, capacity = 4 }
    ring:writer()                                       -- dropped, not yet collected
    local release = getmetatable(ring).__close
    local released = false
    setmetatable({}, { __gc = function() release(ring); released = true end })
    local ok, err = pcall(ring.writer, ring)
    collectgarbage("restart")
    assert.is_true(released)
    assert.is_false(ok)
    assert.matches("attempt to use a released ring", err)
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
  for _, kind in ipairs{ "reader", "name" } do
    it("ring:reader{after} keeps each " .. kind .. " its list held while it opens: a finalizer "
       .. "that takes it out of the list midway frees nothing the call reads", function()
      -- A chain of finalizers, one link per collection cycle (each allocation runs a whole
      -- cycle here): link k takes the value out of the user's list, so the next cycle frees
      -- it unless the call holds it itself; that next link then makes strings of the name's
      -- size, which take the freed memory, so a kept pointer reads another name (ASan, which
      -- does not reuse memory at once, calls the read itself). Whatever k, the call either
      -- sees the value gone (the link ran before it read the list) or follows the lead.
      local t = run_lines(("local kind = %q\n"):format(kind) .. [[
        for k = 1, 8 do
          local ring = rr.ring{ slot_size = 16, capacity = 8 }
          local lead = ring:reader{ name = string.rep("q", 20) }   -- the core keeps the name
          -- a value only the list references
          local opts = { after = { kind == "name" and string.rep("q", 20) or ring:reader() } }
          local links, taken, sprayed = 0, 0, {}
          local mt
          mt = { __gc = function()
            links = links + 1
            if links == k then taken = 1; opts.after[1] = nil; setmetatable({}, mt)
            elseif links == k + 1 then
              for i = 1, 64 do sprayed[i] = string.rep("r", 18) .. ("%02d"):format(i) end
            elseif links < k then setmetatable({}, mt) end
          end }
          collectgarbage("incremental", 1, 1000, 1)
          collectgarbage("collect")
          setmetatable({}, mt)
          local ok, r = pcall(ring.reader, ring, opts)
          local freed_inside = #sprayed > 0   -- the cycle after the link's ran inside the call
          collectgarbage("incremental", 100, 100, 13)
          collectgarbage("stop")   -- the listed reader, out of the list, must not close yet
          local got = ok and ("follows " .. table.concat(r:after(), ",")) or clean(r)
          collectgarbage("restart")
          print(("k%d=%d %s %s"):format(k, taken, tostring(freed_inside), got))
          if r and ok then r:close() end
          lead:close()
        end
      ]])
      local window = 0
      for k = 1, 8 do
        local taken, freed, got = t["k" .. k]:match("^(%d) (%a+) (.*)$")
        local lead = kind == "name" and string.rep("q", 20) or "1"   -- or its entry index
        if got == "follows " .. lead then
          if taken == "1" and freed == "true" then window = window + 1 end
        else
          assert.are.equal("ring:reader: after[1] must be a reader or a string (a reader's "
                           .. "name), got nil", got, "k=" .. k)
        end
      end
      assert.is_true(window > 0, "no case took the value out of the list and collected it "
                     .. "inside the call after it read the list; the case tests nothing")
    end)
  end
  it("closing a reader of after during reader()'s collection raises instead of following it",
     function()
    collectgarbage("stop")
    local ring = rr.ring{ slot_size = 64, capacity = 4 }
    local lead = ring:reader()
    for _ = 2, rr.MAX_READERS do ring:reader() end     -- dropped, not yet collected
    local closed = false
    setmetatable({}, { __gc = function() lead:close(); closed = true end })
    local ok, err = pcall(ring.reader, ring, { after = { lead } })
    collectgarbage("restart")
    assert.is_true(closed)
    assert.is_false(ok)
    assert.matches("ring:reader: after: a reader listed is closed", err, 1, true)
    assert.are.same({}, ring:reader():after())         -- the ring is usable
  end)
  -- ev:write(pos, 12345) and b:write(i, pos, 12345): the number becomes a string, an
  -- allocation, after the event (block) was checked; a finalizer run there moves the reader
  -- on or closes it. The write must raise as for a stale event, and change no slot.
  for _, c in ipairs{
    { "ev:write", "next", "stale event" }, { "ev:write", "close", "stale event" },
    { "ev:write", "close inside process", "stale event" },
    { "b:write", "next", "stale block" }, { "b:write", "next_block", "stale block" },
  } do
    local method, action, word = c[1], c[2], c[3]
    it("a finalizer that runs " .. action .. " while " .. method .. " converts its number "
       .. "makes it raise as for a " .. word .. ", writing nothing", function()
      local t = run_lines(("local method, action = %q, %q\n"):format(method, action) .. [[
        local ring = rr.ring{ slot_size = 16, capacity = 8 }
        local w, r = ring:writer(), ring:reader{ writable = true }
        for i = 1, 4 do assert(w:add(support.payload(i))) end
        local check = ring:reader()                     -- sees what lands in the slots
        local move = ({ next = function() r:next() end, close = function() r:close() end,
                        next_block = function() r:next_block(2) end,
                        ["close inside process"] = function() r:close() end })[action]
        local ok, err
        if method == "b:write" then
          local b = assert(r:next_block(2))
          ok, err = at_first_allocation(move, b.write, b, 1, 1, 12345)
        elseif action == "close inside process" then
          r:process(function(ev)
            ok, err = at_first_allocation(move, ev.write, ev, 1, 12345)
            return false
          end, { timeout = 0 })
        else
          local ev = assert(r:next())
          ok, err = at_first_allocation(move, ev.write, ev, 1, 12345)
        end
        print("fired=" .. fired)
        print("ok=" .. tostring(ok))
        print("err=" .. clean(err))
        local seqs = {}
        for ev in check:events() do seqs[#seqs + 1] = seq_of(ev) end
        print("slots=" .. table.concat(seqs, ","))
      ]])
      assert.are.equal("1", t.fired, "the finalizer did not run inside the write; the case "
                       .. "tests nothing")
      assert.are.same({ "false", "1,2,3,4" }, { t.ok, t.slots })
      assert.matches("^" .. word .. ": its reader has moved on", t.err)
    end)
  end
  for _, c in ipairs{ { "closes a reader it follows", "a" },
                      { "closes it inside its process()", "" } } do
    it("r:after() reads the list after its allocations: a finalizer run there that "
       .. c[1] .. " leaves it out", function()
      local t = run_lines(("local case = %q\n"):format(c[1]) .. [[
        local ring = rr.ring{ slot_size = 16, capacity = 8 }
        local w = ring:writer()
        local a, b = ring:reader{ name = "a" }, ring:reader{ name = "b" }
        local f = ring:reader{ after = { a, b } }
        assert(w:add(support.payload(1)))
        for _, lead in ipairs{ a, b } do assert(lead:next()); assert(not lead:next()) end
        local ok, list
        if case == "closes a reader it follows" then
          ok, list = at_first_allocation(function() b:close() end, f.after, f)
        else
          f:process(function()
            ok, list = at_first_allocation(function() f:close() end, f.after, f)
            return false
          end, { timeout = 0 })
        end
        print("fired=" .. fired)
        print("ok=" .. tostring(ok))
        print("after=" .. table.concat(list, ","))
      ]])
      assert.are.equal("1", t.fired, "the finalizer did not run inside r:after(); the case "
                       .. "tests nothing")
      assert.are.same({ "true", c[2] }, { t.ok, t.after })
    end)
  end
end)
