-- readme_shared_spec.lua — the README's two Lua shared-memory scripts, as
-- written (under a name of their own), run in two lua5.4 processes.
local support = require "support"

local function blocks()
  local f = assert(io.open("README.md"))
  local text = f:read("a")
  f:close()
  local section = assert(text:match("\n## Shared memory\n(.-)\n## "), "no shared-memory section")
  local found = {}
  for code in section:gmatch("```lua\n(.-)```") do found[#found + 1] = code end
  return found
end

describe("the README's Lua shared-memory example", function()
  it("streams three strokes from one process to another and removes the name", function()
    local scripts = blocks()
    assert.are.equal(2, #scripts)
    local reader, writer = scripts[1], scripts[2]
    assert.truthy(reader:find("create_shared", 1, true))
    assert.truthy(writer:find("open_shared", 1, true))
    local name = string.format("rr-readme-lua-%d-%d", support.pid(), math.random(1 << 30))
    local function named(code) return (code:gsub('"strokes"', '"' .. name .. '"')) end
    local shm = "/dev/shm/" .. name
    local job = support.spawn_lua(named(reader))
    support.wait_for(function()
      local f = io.open(shm)
      if f then f:close() end
      return f ~= nil
    end, 20, "the reader to create the ring")
    local wok, wout = support.run_lua(named(writer))
    local rok, rout = job:wait()
    assert.is_true(wok, wout)
    assert.is_true(rok, rout)
    assert.are.equal("0\t7\tstroke 1\n1\t7\tstroke 2\n2\t7\tstroke 3\nclosed\n", rout)
    local left = io.open(shm)
    if left then left:close(); os.remove(shm) end
    assert.is_nil(left, "the reader did not unlink the ring")
  end)
end)
