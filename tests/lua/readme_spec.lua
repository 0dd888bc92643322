-- readme_spec.lua — the README's Lua quick start runs as written and prints
-- what its comments say.
describe("the README's Lua quick start", function()
  it("runs and prints every event", function()
    local f = assert(io.open("README.md"))
    local text = f:read("a")
    f:close()
    local section = assert(text:match("\n## Lua quick start\n(.-)\n## "), "no Lua quick start")
    local code = assert(section:match("```lua\n(.-)```"), "no Lua example")
    local lines = {}
    local env = setmetatable({
      print = function(...)
        local parts = table.pack(...)
        for i = 1, parts.n do parts[i] = tostring(parts[i]) end
        lines[#lines + 1] = table.concat(parts, " ", 1, parts.n)
      end,
    }, { __index = _G })
    assert(load(code, "README.md", "t", env))()
    assert.are.same({
      "true",
      "0 7 8 stroke 1",
      "1 0 1 a",
      "2 0 1 b",
      "3 0 1 c",
      "4 0 1 d",
      "6 1 0.5",
      "7 2 2.5",
    }, lines)
  end)

  it("has a luv event-loop example that runs and prints every event", function()
    local f = assert(io.open("README.md"))
    local text = f:read("a")
    f:close()
    local section = assert(text:match("\n## asyncio and event loops\n(.-)\n## "),
                           "no asyncio and event loops section")
    local code = assert(section:match("```lua\n(.-)```"), "no Lua event-loop example")
    local lines = {}
    local env = setmetatable({
      print = function(...)
        local parts = table.pack(...)
        for i = 1, parts.n do parts[i] = tostring(parts[i]) end
        lines[#lines + 1] = table.concat(parts, " ", 1, parts.n)
      end,
    }, { __index = _G })
    assert(load(code, "README.md", "t", env))()
    assert.are.same({ "0 tick 1", "1 tick 2", "2 tick 3" }, lines)
  end)
end)

describe("the README's Pipelines section", function()
  it("runs its Lua example and prints what its comment says", function()
    local f = assert(io.open("README.md"))
    local text = f:read("a")
    f:close()
    local section = assert(text:match("\n## Pipelines\n(.-)\n## "), "no Pipelines section")
    local code = assert(section:match("```lua\n(.-)```"), "no Lua example")
    local lines = {}
    local env = setmetatable({
      print = function(...)
        local parts = table.pack(...)
        for i = 1, parts.n do parts[i] = tostring(parts[i]) end
        lines[#lines + 1] = table.concat(parts, " ", 1, parts.n)
      end,
    }, { __index = _G })
    assert(load(code, "README.md", "t", env))()
    assert.are.same({ "1 4 9 16 25 store parse" }, lines)
  end)
end)
