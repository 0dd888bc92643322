-- pipeline_spec.lua — pipelines in one ring, in Lua: named readers, readers
-- that follow readers (after), writable readers (ev:write, b:write), and the
-- same errors as Python for names, after and writable. The gating runs with a
-- writer in another OS thread (the test helper's stream) and three stages in
-- this state taking turns: each stamps its mark into every event and checks
-- the marks of the stages it follows.
local rr = require "rusted_ring"
local helper = require "rr_test_helper"
local support = require "support"

local function err_of(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok)
  return e
end

describe("pipelines", function()
  it("names a reader, in r:name() and in stats", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local journal, plain = ring:reader{ name = "journal" }, ring:reader()
    assert.are.equal("journal", journal:name())
    assert.is_nil(plain:name())
    local names = {}
    for _, e in ipairs(ring:stats().readers) do names[#names + 1] = e.name end
    assert.are.same({ "journal", "" }, names)
    journal:close()
    assert.are.equal("journal", journal:name())            -- kept after the close
    assert.are.equal("journal", ring:reader{ name = "journal" }:name())
  end)

  it("refuses bad names with the core's message, as Python does", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local keep = { ring:reader{ name = "journal" } }
    assert.matches("journal", err_of(ring.reader, ring, { name = "journal" }))
    assert.matches("name", err_of(ring.reader, ring, { name = string.rep("x", 32) }))
    assert.matches("name", err_of(ring.reader, ring, { name = string.rep("é", 16) }))
    keep[2] = ring:reader{ name = string.rep("é", 15) .. "x" }      -- 31 bytes
    assert.are.equal(string.rep("é", 15) .. "x", keep[2]:name())
    assert.matches("name", err_of(ring.reader, ring, { name = "a\0b" }))
    assert.matches("name", err_of(ring.reader, ring, { name = "\xff" }))
    keep[3] = ring:reader{ name = "" }
    assert.is_nil(keep[3]:name())                            -- "": no name, as in the core
    assert.matches("name must be a string, got number", err_of(ring.reader, ring, { name = 3 }))
    assert.are.equal(3, ring:stats().reader_count)
  end)

  it("follows readers given as handles or names; r:after() lists them", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local a, b, anon = ring:reader{ name = "a" }, ring:reader{ name = "b" }, ring:reader()
    local c = ring:reader{ name = "c", after = { a, "b", anon } }
    local anon_index
    for _, e in ipairs(ring:stats().readers) do if e.name == "" then anon_index = e.index end end
    assert.are.same({ "a", "b", anon_index }, c:after())
    assert.are.same({}, a:after())
    assert.is_false(c:writable())
  end)

  it("refuses bad after lists clearly", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local a = ring:reader{ name = "a" }
    assert.matches("nobody", err_of(ring.reader, ring, { after = { "nobody" } }))
    assert.matches("after must be a list", err_of(ring.reader, ring, { after = "a" }))
    assert.matches("after%[1%] must be a reader or a string", err_of(ring.reader, ring, { after = { 3 } }))
    assert.matches("itself", err_of(ring.reader, ring, { name = "me", after = { "me" } }))
    local gone = ring:reader{ name = "gone" }
    gone:close()
    assert.matches("closed", err_of(ring.reader, ring, { after = { gone } }))
    local other = rr.ring{ slot_size = 16, capacity = 8 }:reader()
    err_of(ring.reader, ring, { after = { other } })
    assert.are.equal(1, ring:stats().reader_count)
    assert.are.equal("a", a:name())
  end)

  it("refuses after and writable on an overwrite ring, and two writers side by side", function()
    local ow = rr.ring{ slot_size = 16, capacity = 8, mode = "overwrite" }
    local a = ow:reader{ name = "a" }
    assert.matches("overwrite", err_of(ow.reader, ow, { after = { a } }))
    assert.matches("overwrite", err_of(ow.reader, ow, { writable = true }))
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local first = ring:reader{ name = "first", writable = true }
    assert.matches("writable", err_of(ring.reader, ring, { writable = true }))
    assert.matches("writable must be a boolean", err_of(ring.reader, ring, { writable = 1 }))
    local next_one = ring:reader{ after = { first }, writable = true }
    assert.is_true(next_one:writable())
  end)

  it("hands a follower nothing before the reader it follows has moved past it", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local lead = ring:reader{ name = "lead" }
    local follower = ring:reader{ after = { lead } }
    local w = ring:writer()
    for i = 0, 2 do w:add(support.payload(i)) end
    assert.are.same({ nil, "empty" }, { follower:next() })
    assert.are.equal(0, lead:next():sequence())
    assert.are.same({ nil, "empty" }, { follower:next() })   -- still lead's
    lead:next()
    assert.are.equal(0, follower:next():sequence())
    lead:close()                                              -- it followed nobody
    assert.are.same({}, follower:after())
    assert.are.equal(1, follower:next():sequence())
  end)

  it("lets a writable reader write into its events; followers read the writes", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local stamp = ring:reader{ name = "stamp", writable = true }
    local plain = ring:reader{ name = "plain" }
    local after = ring:reader{ after = { stamp } }
    ring:writer():add(string.rep("\0", 12))
    local ev = stamp:next()
    assert.are.equal(4, ev:write(1, "abc"))                  -- the position after the bytes
    assert.are.equal(13, ev:write(-1, "z"))
    assert.matches("do not fit in the event's 12 bytes", err_of(ev.write, ev, 11, "xyz"))
    assert.matches("do not fit", err_of(ev.write, ev, 0, "x"))
    assert.matches("do not fit", err_of(ev.write, ev, 14, ""))
    assert.are.equal(13, ev:write(13, ""))                   -- nothing, at the very end
    local pev = plain:next()
    assert.matches("not writable", err_of(pev.write, pev, 1, "x"))
    stamp:next()
    local fev = after:next()
    assert.are.equal("abc" .. string.rep("\0", 8) .. "z", fev:data())
    assert.are.equal(12, fev:len())                           -- lengths never change
  end)

  it("lets a writable reader write into the events of a block", function()
    local ring = rr.ring{ slot_size = 16, capacity = 8 }
    local stamp = ring:reader{ writable = true }
    local after = ring:reader{ after = { stamp } }
    local w = ring:writer()
    for _ = 1, 3 do w:add("........") end
    local b = stamp:next_block(3)
    assert.are.equal(3, #b)
    for i = 1, 3 do b:write(i, i, tostring(i)) end
    stamp:next()
    local got = {}
    for ev in after:events() do got[#got + 1] = ev:data() end
    assert.are.same({ "1.......", ".2......", "..3....." }, got)
  end)

  it("runs three stages against a writer thread, each after the last", function()
    local N = 20000
    local ring = rr.ring{ slot_size = 16, capacity = 64 }
    local s1 = ring:reader{ name = "unmarshal", writable = true }
    local s2 = ring:reader{ name = "business", after = { s1 }, writable = true }
    local s3 = ring:reader{ name = "publish", after = { "business" } }
    local function mark(k, seq) return (seq * 7 + k * 31) % 255 + 1 end
    local last = { -1, -1, -1 }
    local function stage(k, follows, write)
      return function(ev)
        local seq, sum = ev:unpack("<I8I4")
        assert(sum == (seq * 2654435761) % 2^32 // 1 and seq == ev:sequence(), "bad event")
        assert(seq == last[k] + 1, "out of order")
        for _, f in ipairs(follows) do
          assert(ev:byte(13 + f) == mark(f, seq), "a stage's mark is missing")
        end
        if write then
          assert(ev:byte(13 + k) == 0, "marked too early")
          ev:write(13 + k, string.char(mark(k, seq)))
        end
        last[k] = seq
      end
    end
    local h = { stage(1, {}, true), stage(2, { 1 }, true), stage(3, { 1, 2 }, false) }
    local stages = { s1, s2, s3 }
    local job = helper.start(ring, "stream", { count = N })
    local deadline = support.now() + 60
    while last[3] < N - 1 do
      for k = 1, 3 do stages[k]:process(h[k], { timeout = 0 }) end
      assert(support.now() < deadline, "the stages stalled at " .. table.concat(last, ","))
    end
    assert.are.equal("ok", (job:join()))
    assert.are.same({ N - 1, N - 1, N - 1 }, last)
  end)
end)
