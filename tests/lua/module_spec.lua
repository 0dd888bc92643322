-- module_spec.lua — loading: luaopen_rusted_ring twice in one state, the
-- module's fields, one metatable per type.
describe("module", function()
  it("loads twice in one state; objects from the first load keep working", function()
    local rr1 = require "rusted_ring"
    local ring = rr1.ring{ slot_size = 8, capacity = 4 }
    local w, r = ring:writer(), ring:reader()
    package.loaded.rusted_ring = nil
    local rr2 = require "rusted_ring"
    assert.are_not.equal(rr1, rr2)
    assert.are.equal(0, w:add("a"))
    assert.are.equal("a", r:next():data())
    local ring2 = rr2.ring{ slot_size = 8, capacity = 4 }
    assert.are.equal(getmetatable(ring), getmetatable(ring2))
    -- the loader itself, called again directly
    local open = package.loadlib(package.searchpath("rusted_ring", package.cpath), "luaopen_rusted_ring")
    local rr3 = open()
    assert.are.equal(1, rr3.ring{ slot_size = 8, capacity = 4 }:writer():add("x") + 1)
    assert.are.equal(getmetatable(ring), getmetatable(rr3.ring{ slot_size = 1, capacity = 1 }))
  end)

  it("exports the documented names", function()
    local rr = require "rusted_ring"
    for _, name in ipairs({ "ring", "configure_pools", "pool_config", "estimate_size",
                            "estimate_pool_id", "emit", "pool_stats" }) do
      assert.is_function(rr[name], name)
    end
    for _, size in ipairs({ "xs", "s", "m", "l", "xl" }) do
      assert.is_function(rr.EventPoolFactory["get_" .. size .. "_writer"])
      assert.is_function(rr.EventPoolFactory["get_" .. size .. "_reader"])
    end
    assert.are.equal("0.1.0", rr.version)
    assert.are.equal(64, rr.MAX_READERS)
  end)

  it("has one metatable per type, each with __name, __index and __tostring", function()
    local rr = require "rusted_ring"
    local ring = rr.ring{ slot_size = 8, capacity = 4 }
    local w, r = ring:writer(), ring:reader()
    w:add("x")
    local ev = r:next()
    local seen = {}
    for name, obj in pairs({ ring = ring, writer = w, reader = r, event = ev }) do
      local mt = getmetatable(obj)
      assert.are.equal("rusted_ring." .. name, mt.__name)
      assert.is_table(mt.__index)
      assert.is_function(mt.__tostring)
      assert.is_nil(seen[mt])
      seen[mt] = true
      assert.are.equal(mt, debug.getregistry()["rusted_ring." .. name])
    end
  end)
end)
