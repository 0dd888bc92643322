-- pipe_stage.lua — a pipeline stage process in Lua, as pipe_stage.py (see
-- there for the arguments, the events' layout and what it prints):
--
--   lua5.4 pipe_stage.lua RING NAME AFTER MARK CHECKS [REPORT]
--
-- REPORT: print {"handled": REPORT} once that many events are handled (a test
-- waits for it to kill this process mid-stream).
local rr = require "rusted_ring"

local ring_name, name, after_arg, own, checks_arg, report =
  arg[1], arg[2], arg[3], tonumber(arg[4]), arg[5], tonumber(arg[6] or -1)

local function list(s, conv)
  local t = {}
  if s ~= "-" then for item in s:gmatch("[^,]+") do t[#t + 1] = conv(item) end end
  return t
end
local after = list(after_arg, tostring)
local checks = list(checks_arg, tonumber)

local function mark(stage, seq) return (seq * 7 + stage * 31) % 255 + 1 end

local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then c = 0xEDB88320 ~ (c >> 1) else c = c >> 1 end
  end
  CRC[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for k = 1, #s do c = CRC[(c ~ s:byte(k)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end

local ring = assert(rr.open_shared(ring_name))
local r = ring:reader{ name = name, after = after, writable = own >= 0 }
print('{"ready": true}')
io.stdout:flush()

local handled, first, last, sum = 0, -1, -1, 0
r:process(function(ev)
  local seq, crc = ev:unpack("<I8I4")
  if seq ~= ev:sequence() or crc ~= crc32(ev:sub(1, 8)) then
    error(string.format("event %d: sequence %d, bad header", ev:sequence(), seq))
  end
  if seq ~= last + 1 then error(string.format("event %d came after %d", seq, last)) end
  for _, k in ipairs(checks) do
    local m = ev:byte(13 + k)
    if m ~= mark(k, seq) then error(string.format("event %d: stage %d's mark is %d", seq, k, m)) end
  end
  if own >= 0 then
    if ev:byte(13 + own) ~= 0 then
      error(string.format("event %d: marked by stage %d before it was handed it", seq, own))
    end
    ev:write(13 + own, string.char(mark(own, seq)))
  end
  if first < 0 then first = seq end
  last, sum, handled = seq, sum + seq, handled + 1
  if handled == report then
    print(string.format('{"handled": %d}', handled))
    io.stdout:flush()
  end
end, { timeout = 60 })
print(string.format('{"handled": %d, "first": %d, "last": %d, "sum": %d, "closed": %s}',
                    handled, first, last, sum, tostring(ring:closed())))
