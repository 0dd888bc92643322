-- support.lua — helpers the Lua specs share: payloads that carry their own
-- sequence number and checksum, and running a snippet in a fresh lua5.4
-- (for process-wide state such as the default pools).
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

-- Run `code` in a new lua5.4 process with this process's module paths.
-- Returns true/false (exit status 0) and everything it printed.
function M.run_lua(code)
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(code)
  f:close()
  local cmd = string.format("LUA_PATH=%q LUA_CPATH=%q %s %s 2>&1", package.path, package.cpath,
                            os.getenv("RR_LUA") or "lua5.4", file)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  os.remove(file)
  return ok == true, out
end

-- Seconds on a monotonic clock (the test helper's), for wait measurements.
function M.now()
  return require("rr_test_helper").now()
end

return M
