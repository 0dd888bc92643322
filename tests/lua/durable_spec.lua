-- durable_spec.lua — durable readers in Lua: ring:reader{ name = ..., durable =
-- true }, r:durable(), ring:drop_reader(name), w:note_lost(n), ring:instance(),
-- and the stats fields durable, parked, upstream_lost and instance. A durable
-- reader's place outlives its handle and its process: close and death park
-- it, and the next durable reader of its name resumes where it had released.
-- Payloads carry their sequence and checksum (support.lua); waits on other
-- processes are for conditions, with deadlines.
local rr = require "rusted_ring"
local support = require "support"

local LONG = 60

local function entry(ring, name)
  for _, e in ipairs(ring:stats().readers) do
    if e.name == name then return e end
  end
  return nil
end

local function seqs(r, n)
  local out = {}
  for i = 1, n do
    local ev = r:next(0)
    if not ev then break end
    out[i] = support.check(ev:data())
    assert.are.equal(ev:sequence(), out[i])
  end
  return out
end

describe("durable readers", function()
  it("park on close and resume at the released position", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local w = ring:writer()
    local r = ring:reader{ name = "bridge", durable = true }
    assert.is_true(r:durable())
    local plain = ring:reader()
    assert.is_false(plain:durable())
    plain:close()
    for i = 0, 5 do assert(w:add(support.payload(i))) end
    assert.are.same({ 0, 1, 2 }, seqs(r, 3))   -- 0 and 1 released, 2 handed out
    r:close()
    assert.is_true(r:durable())
    local e = entry(ring, "bridge")
    assert.are.same({ true, true, false, 0, 2 }, { e.durable, e.parked, e.alive, e.pid, e.cursor })
    for i = 6, 9 do assert(w:add(support.payload(i))) end
    assert.is_nil(w:add(support.payload(10)))   -- full: the parked reader holds it back
    r = ring:reader{ name = "bridge", durable = true, start = "latest" }   -- start ignored
    assert.are.equal(2, r:cursor())
    assert.are.same({ 2, 3, 4, 5, 6, 7, 8, 9 }, seqs(r, 100))
    r:close()
    ring:drop_reader("bridge")
    assert.is_nil(entry(ring, "bridge"))
    assert(w:add(support.payload(10)))
  end)

  it("refuse what is wrong with the core's messages", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local function err(f, ...)
      local ok, e = pcall(f, ...)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.matches("a durable reader needs a name", err(ring.reader, ring, { durable = true }))
    assert.matches("durable must be a boolean",
                   err(ring.reader, ring, { name = "x", durable = 1 }))
    ring:reader{ name = "parked", durable = true }:close()
    assert.matches("'parked' is a parked durable reader.*durable set to resume.*drop",
                   err(ring.reader, ring, { name = "parked" }))
    local plain = ring:reader{ name = "plain" }
    assert.matches("already has a reader named 'plain'",
                   err(ring.reader, ring, { name = "plain", durable = true }))
    local live = ring:reader{ name = "parked", durable = true }
    assert.matches("already has a reader named 'parked'",
                   err(ring.reader, ring, { name = "parked", durable = true }))
    assert.matches("'parked' is held by a live handle", err(ring.drop_reader, ring, "parked"))
    assert.matches("no reader named 'nobody'", err(ring.drop_reader, ring, "nobody"))
    assert.matches("'plain' is not durable", err(ring.drop_reader, ring, "plain"))
    assert.matches("31 bytes", err(ring.drop_reader, ring, string.rep("x", 40)))
    assert.matches("NUL", err(ring.drop_reader, ring, "a\0b"))
    assert.matches("string expected", err(ring.drop_reader, ring, {}))
    live:close()
    plain:close()
    ring:drop_reader("parked")
    ring:reader{ name = "parked" }:close()   -- the name is free again
  end)

  it("note_lost counts upstream losses and refuses bad values", function()
    local ring = rr.ring{ slot_size = 16, capacity = 4 }
    local w = ring:writer()
    assert.are.equal(0, ring:stats().upstream_lost)
    w:note_lost(0)
    w:note_lost(5)
    assert.are.equal(5, ring:stats().upstream_lost)
    for _, bad in ipairs({ -1, 1.5, "3", true }) do
      local ok, e = pcall(w.note_lost, w, bad)
      assert.is_false(ok)
      assert.matches("n must be", tostring(e))
    end
    assert.are.equal(5, ring:stats().upstream_lost)
    w:close()
    assert.has_error(function() w:note_lost(1) end, "attempt to use a closed writer")
  end)

  it("ring:instance() is random, nonzero, the same for every handle, new for a new ring",
     function()
    local a, b = rr.ring{ slot_size = 16, capacity = 4 }, rr.ring{ slot_size = 16, capacity = 4 }
    assert.is_true(math.type(a:instance()) == "integer" and a:instance() > 0)
    assert.are_not.equal(a:instance(), b:instance())
    assert.are.equal(a:instance(), a:stats().instance)
    local name = string.format("rr-lua-durable-%d", support.pid())
    pcall(rr.unlink_shared, name)
    local ring = rr.create_shared(name, { slot_size = 16, capacity = 4 })
    local first = ring:instance()
    assert.are.equal(first, rr.open_shared(name):instance())
    rr.unlink_shared(name)
    ring = rr.create_shared(name, { slot_size = 16, capacity = 4 })
    assert.are_not.equal(first, ring:instance())
    rr.unlink_shared(name)
  end)

  it("a durable reader killed in another process is resumed with what it had not released",
     function()
    local name = string.format("rr-lua-durable-kill-%d", support.pid())
    pcall(rr.unlink_shared, name)
    local ring = rr.create_shared(name, { slot_size = 16, capacity = 8 })
    local w = ring:writer()
    for i = 0, 5 do assert(w:add(support.payload(i))) end
    local job = support.spawn_lua(string.format([[
      local rr = require "rusted_ring"
      local ring = assert(rr.open_shared(%q))
      local r = ring:reader{ name = "bridge", durable = true }
      for _ = 1, 3 do assert(r:next(60)) end   -- 0, 1 released; 2 handed out
      local idle = rr.ring{ slot_size = 1, capacity = 1 }:reader()
      while true do idle:next(1) end           -- until killed, holding 2
    ]], name))
    support.wait_for(function()
      local e = entry(ring, "bridge")
      return e and e.cursor == 3 and e.pid ~= 0
    end, LONG, "the child to read three events")
    local pid = entry(ring, "bridge").pid
    assert(os.execute("kill -KILL " .. pid))
    job:wait()
    local r = ring:reader{ name = "bridge", durable = true }   -- parks the dead one, resumes
    assert.are.equal(2, r:cursor())
    assert.are.same({ 2, 3, 4, 5 }, seqs(r, 100))
    assert.are.equal(0, ring:stats().readers_evicted)
    r:close()
    ring:drop_reader("bridge")
    rr.unlink_shared(name)
  end)
end)
