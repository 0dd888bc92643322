-- support.lua — helpers the Lua specs share: payloads that carry their own
-- sequence number and checksum, and running a snippet in a fresh lua5.4
-- (for process-wide state such as the default pools, and for shared rings).
local M = {}

-- 16 bytes (or more): sequence (u64 LE), checksum (u32 LE), then filler bytes
-- derived from the sequence, so a torn or stale payload cannot pass check().
function M.payload(seq, size)
  size = size or 16
  local head = string.pack("<I8I4", seq, (seq * 2654435761) % 2^32 // 1)
  local fill = {}
  for i = 1, size - #head do fill[i] = string.char((seq + i) % 256) end
  return head .. table.concat(fill)
end

-- The sequence a payload carries, or nil and why when it is not intact.
function M.check(data)
  if #data < 12 then return nil, "short payload" end
  local seq, sum = string.unpack("<I8I4", data)
  if sum ~= (seq * 2654435761) % 2^32 // 1 then return nil, "bad checksum" end
  for i = 13, #data do
    if data:byte(i) ~= (seq + i - 12) % 256 then return nil, "bad filler byte " .. i end
  end
  return seq
end

-- Start `code` in a new lua5.4 process with this process's module paths; it
-- runs alongside this one. job:wait() returns true/false (exit status 0) and
-- everything it printed.
function M.spawn_lua(code)
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(code)
  f:close()
  local cmd = string.format("LUA_PATH=%q LUA_CPATH=%q %s %s 2>&1", package.path, package.cpath,
                            os.getenv("RR_LUA") or "lua5.4", file)
  local p = assert(io.popen(cmd))
  return {
    wait = function(_)
      local out = p:read("a")
      local ok = p:close()
      os.remove(file)
      return ok == true, out
    end,
  }
end

-- Run `code` in a new lua5.4 process and wait for it; as job:wait().
function M.run_lua(code)
  return M.spawn_lua(code):wait()
end

-- Seconds on a monotonic clock (the test helper's), for wait measurements.
function M.now()
  return require("rr_test_helper").now()
end

-- Wait until cond() is true, checking every few milliseconds for up to
-- `timeout` seconds; raise naming `what` if it never is. The pause between
-- checks is a wait on a ring nobody writes to (Lua has no sleep).
function M.wait_for(cond, timeout, what)
  local idle = require("rusted_ring").ring{ slot_size = 1, capacity = 1 }:reader()
  local give_up = M.now() + timeout
  while not cond() do
    if M.now() > give_up then error("gave up after " .. timeout .. " s waiting for " .. what, 2) end
    idle:next(0.002)
  end
  return true
end

-- This process's id.
function M.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

-- Whether process `pid` is asleep (state S: blocked, in a futex wait for one).
function M.asleep(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("a")
  f:close()
  return stat:match(".*%) (%a)") == "S"   -- after the last ")": comm may hold one
end

return M
