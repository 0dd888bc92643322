-- pools_spec.lua — the seed's names: configure_pools, EventPoolFactory,
-- estimate_size, PoolId, pool_stats, emit. The default pools are process-wide,
-- so everything that configures them runs in a fresh lua5.4 process.
local rr = require "rusted_ring"
local support = require "support"

-- Run a snippet that starts with `local rr = require "rusted_ring"`.
local function fresh(code)
  return support.run_lua('local rr = require "rusted_ring"\n' .. code)
end

describe("pools", function()
  it("PoolId numbers the pools XS = 0 .. XL = 4", function()
    assert.are.same({ XS = 0, S = 1, M = 2, L = 3, XL = 4 }, rr.PoolId)
  end)

  it("estimate_size names the smallest pool that fits, XXL beyond 16 KiB", function()
    local cases = { [0] = "XS", [1] = "XS", [64] = "XS", [65] = "S", [256] = "S", [257] = "M",
                    [1024] = "M", [4096] = "L", [4097] = "XL", [16384] = "XL", [16385] = "XXL" }
    for n, want in pairs(cases) do
      assert.are.equal(want, rr.estimate_size(n), n)
      assert.are.equal(want, rr.EventPoolFactory.estimate_size(n), n)
    end
    assert.are.equal(2, rr.estimate_pool_id(1000))
    assert.is_nil(rr.estimate_pool_id(20000))
    assert.has_error(function() rr.estimate_size(-1) end, "bad argument #1 to 'estimate_size' (size must be in 0..9223372036854775807, got -1)")
    assert.has_error(function() rr.estimate_size("big") end)
  end)

  it("configure_pools takes a preset before first use and refuses after", function()
    local ok, out = fresh([[
      assert(rr.pool_config().XS == 2000, "production is the default")
      assert(rr.configure_pools("mobile") == true)
      local c = rr.pool_config()
      assert(c.XS == 500 and c.S == 250 and c.M == 100 and c.L == 20 and c.XL == 5)
      assert(rr.configure_pools("high_throughput"))
      assert(rr.pool_stats()[1].capacity == 4000, "stats show the configured capacity")
      local w = rr.EventPoolFactory.get_xs_writer()   -- the pools now exist
      local ok, err = pcall(rr.configure_pools, "production")
      assert(not ok and err:find("already in use"), err)
      assert(rr.pool_config().XS == 4000)
      print("done")
    ]])
    assert.is_true(ok, out)
    assert.matches("done", out)
  end)

  it("configure_pools takes a table, keeping sizes it does not name", function()
    local ok, out = fresh([[
      assert(rr.configure_pools({ XS = 10, M = 3 }))
      local c = rr.pool_config()
      assert(c.XS == 10 and c.S == 1000 and c.M == 3 and c.L == 60 and c.XL == 15)
      local r = rr.EventPoolFactory.get_xs_reader()
      local w = rr.EventPoolFactory.get_xs_writer()
      for i = 1, 25 do w:add("e" .. i) end
      local n = 0
      for _ in r:events() do n = n + 1 end
      assert(n == 10 and r:lost() == 15, "overwrite pool of 10: " .. n .. " " .. r:lost())
      print("done")
    ]])
    assert.is_true(ok, out)
  end)

  it("configure_pools refuses bad input clearly", function()
    local ok, out = fresh([[
      local function err(...) local ok, e = pcall(rr.configure_pools, ...); assert(not ok); print(e) end
      err("huge")
      err({ XXL = 5 })
      err({ XS = 0 })
      err({ S = 2.5 })
      err(42)
      assert(rr.configure_pools("mobile"), "still configurable after the errors")
    ]])
    assert.is_true(ok, out)
    assert.matches('unknown preset "huge" %(expected production, mobile or high_throughput%)', out)
    assert.matches("unknown pool XXL %(expected XS, S, M, L or XL%)", out)
    assert.matches("pool XS capacity must be in 1..%d+, got 0", out)
    assert.matches("pool S capacity must be an integer, got 2.5", out)
    assert.matches("table expected, got number", out)
  end)

  it("EventPoolFactory hands out writers and readers for every size", function()
    for i, name in ipairs({ "xs", "s", "m", "l", "xl" }) do
      local r = rr.EventPoolFactory["get_" .. name .. "_reader"]("latest")
      local w = rr.EventPoolFactory["get_" .. name .. "_writer"]()
      local w2 = rr.EventPoolFactory["get_" .. name .. "_writer"]()   -- multi-producer
      local slot = ({ 64, 256, 1024, 4096, 16384 })[i]
      assert(w:add(string.rep("p", slot), 9))
      assert(w2:add("second"))
      local ev = r:next()
      assert.are.equal(slot, #ev)
      assert.are.equal(9, ev:type())
      assert.are.equal("second", r:next():data())
      assert.has_error(function() w:add(string.rep("p", slot + 1)) end)
      r:close(); w:close(); w2:close()
    end
  end)

  it("pool_stats items print as the seed's line", function()
    local stats = rr.pool_stats()
    assert.are.equal(5, #stats)
    for i, s in ipairs(stats) do
      assert.are.equal(i - 1, s.pool_id)
      assert.are.equal(({ "XS", "S", "M", "L", "XL" })[i], s.name)
      assert.are.equal(({ 64, 256, 1024, 4096, 16384 })[i], s.slot_size)
      assert.matches("^Pool " .. s.name .. ": capacity=%d+, backpressure=%d+%.%d%%$", tostring(s))
    end
  end)

  it("pool_stats shows a reader's backpressure", function()
    local ok, out = fresh([[
      rr.configure_pools({ XS = 2000 })
      local r = rr.EventPoolFactory.get_xs_reader("latest")
      local w = rr.EventPoolFactory.get_xs_writer()
      for i = 1, 306 do w:add("x") end
      print(rr.pool_stats()[1])
      print(rr.pool_stats()[2])
    ]])
    assert.is_true(ok, out)
    assert.matches("Pool XS: capacity=2000, backpressure=15.3%%", out)
    assert.matches("Pool S: capacity=1000, backpressure=0.0%%", out)
  end)

  it("emit publishes into the smallest pool that fits", function()
    local r = rr.EventPoolFactory.get_m_reader("latest")
    assert.are.equal(rr.PoolId.M, rr.emit(string.rep("m", 1000), 4))
    local ev = r:next()
    assert.are.equal(1000, #ev)
    assert.are.equal(4, ev:type())
    local ok, err = pcall(rr.emit, string.rep("x", 16385))
    assert.is_false(ok)
    assert.matches("16385 bytes", err)
    assert.has_error(function() rr.emit(5) end)
  end)
end)
