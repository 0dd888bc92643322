-- interop_payload.lua — the interop tests' self-checking payloads, exactly as
-- interop_payload.py makes them (see there): seq (u64 LE), CRC-32 (zlib's)
-- of the seq bytes and the body, then body_len(seq) bytes, byte i being
-- (seq + i) mod 256. Also wait_for and now, for child processes.
local M = {}

local HEAD = 12
local MAX_BODY = 256

local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then c = 0xEDB88320 ~ (c >> 1) else c = c >> 1 end
  end
  CRC[i] = c
end

-- Continue a CRC-32 over bytes i..j of s (crc: a previous result, or 0).
local function crc32(crc, s, i, j)
  local c = crc ~ 0xFFFFFFFF
  local byte = string.byte
  for k = i, j do c = CRC[(c ~ byte(s, k)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end
M.crc32 = crc32

function M.body_len(seq, slot_size)
  return seq * 7 % (math.min(slot_size - HEAD, MAX_BODY) + 1)
end

function M.event_type(seq) return seq % 251 end

local BODY = {}
for i = 0, 3 * 256 - 1 do BODY[#BODY + 1] = string.char(i % 256) end
local PATTERN = table.concat(BODY)

function M.make(seq, slot_size)
  local start = seq % 256
  local body = PATTERN:sub(start + 1, start + M.body_len(seq, slot_size))
  local s = string.pack("<I8", seq)
  local crc = crc32(crc32(0, s, 1, 8), body, 1, #body)
  return s .. string.pack("<I4", crc) .. body
end

-- The sequence an intact payload (a string) carries, or nil and what is wrong.
function M.check(data, slot_size)
  if #data < HEAD then return nil, "payload of " .. #data .. " bytes is shorter than its header" end
  local seq, crc = string.unpack("<I8I4", data)
  local want = HEAD + M.body_len(seq, slot_size)
  if #data ~= want then
    return nil, string.format("payload of seq %d: %d bytes, expected %d", seq, #data, want)
  end
  if crc32(crc32(0, data, 1, 8), data, HEAD + 1, #data) ~= crc then
    return nil, string.format("payload of seq %d: checksum mismatch", seq)
  end
  return seq
end

-- Wall-clock seconds (whole seconds: only for generous limits).
M.now = os.time

-- Wait until cond() holds, for at most `timeout` seconds; raise naming
-- `what` if it never does. Between checks it waits on a ring nobody
-- writes to (Lua has no sleep).
local idle
function M.wait_for(cond, timeout, what)
  idle = idle or require("rusted_ring").ring{ slot_size = 1, capacity = 1 }:reader()
  local give_up = os.time() + timeout + 1
  while not cond() do
    if os.time() > give_up then error("gave up after " .. timeout .. " s waiting for " .. what, 2) end
    idle:next(0.001)
  end
end

return M
