-- readme_shared_spec.lua — the README's two Lua shared-memory scripts, as
-- written (under a name of their own), run in two lua5.4 processes; once as
-- they are, and once making a ring of about a gigabyte, which the writer
-- opens while the reader is still laying it out.
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

-- The capacity of a ring of 64-byte slots of about 1 GiB, or of a quarter of
-- what /dev/shm has free when that is less.
local function large_capacity()
  local p = assert(io.popen("df -k --output=avail /dev/shm"))
  p:read("l")
  local free = (p:read("n") or 0) * 1024
  p:close()
  local bytes = math.min(1 << 30, free // 4)
  return bytes // (64 + 16), bytes
end

-- Run the two scripts, the reader (which creates the ring) first; `edit`
-- may change the reader's code.
local function run(edit)
  local scripts = blocks()
  assert.are.equal(2, #scripts)
  local reader, writer = scripts[1], scripts[2]
  assert.truthy(reader:find("create_shared", 1, true))
  assert.truthy(writer:find("open_shared", 1, true))
  local name = string.format("rr-readme-lua-%d-%d", support.pid(), math.random(1 << 30))
  local function named(code) return (code:gsub('"strokes"', '"' .. name .. '"')) end
  local shm = "/dev/shm/" .. name
  -- A person starts writer.lua once reader.lua waits; the test starts it as
  -- soon as the segment appears (to open it while it is being made), so the
  -- writer could write and close before the reader has registered, and a new
  -- reader of a closed ring is refused. The test's copy of the writer first
  -- waits (up to 60 s) for the reader to be registered.
  local closing, n = writer:gsub("ring:close%(%)", [[
local idle = rr.ring{ slot_size = 1, capacity = 1 }:reader()
for _ = 1, 30000 do
  if ring:stats().reader_count > 0 then break end
  idle:next(0.002)
end
ring:close()]], 1)
  assert.are.equal(1, n, "the README's writer no longer ends with ring:close()")
  writer = closing
  local job = support.spawn_lua(named(edit and edit(reader) or reader))
  support.wait_for(function()
    local f = io.open(shm)
    if f then f:close() end
    return f ~= nil
  end, 20, "the reader to create the ring")
  local wok, wout = support.run_lua(named(writer))
  local rok, rout = job:wait()
  local left = io.open(shm)
  if left then left:close(); os.remove(shm) end
  assert.is_true(wok, wout)
  assert.is_true(rok, rout)
  assert.are.equal("0\t7\tstroke 1\n1\t7\tstroke 2\n2\t7\tstroke 3\nclosed\n", rout)
  assert.is_nil(left, "the reader did not unlink the ring")
end

describe("the README's Lua shared-memory example", function()
  it("streams three strokes from one process to another and removes the name", function()
    run()
  end)

  it("works as well with a ring of a gigabyte, opened while it is being made", function()
    local capacity, bytes = large_capacity()
    print(string.format("\n  (a ring of %d MiB)", bytes >> 20))
    run(function(code)
      local edited, n = code:gsub("capacity = 1024", "capacity = " .. capacity)
      assert.are.equal(1, n, "the README's reader no longer says capacity = 1024")
      return edited
    end)
  end)
end)
