"""Self-checking payloads for the interop tests, as interop_payload.lua writes them.

A payload of sequence `seq` in a ring of `slot_size`-byte slots is

    bytes 0..7    seq, u64 little-endian
    bytes 8..11   CRC-32 (zlib's, IEEE) of bytes 0..7 followed by the body
    bytes 12..    the body: body_len(seq) bytes, byte i being (seq + i) mod 256

so its length, its sequence and its checksum all depend on `seq`: a payload that
is torn, cut short, stale (another lap's) or delivered out of order fails
`check` or the caller's order check. The event type is seq mod 251.
"""
import struct
import sys
import time
import zlib

HEAD = struct.Struct("<QI")
HEAD_BYTES = HEAD.size                       # 12
SEQ = struct.Struct("<Q")
PATTERN = bytes(range(256)) * 3              # body of seq: PATTERN[seq % 256 :][:n]
MAX_BODY = 256                               # so slot_size <= 268


def body_len(seq, slot_size):
    """The body length of event `seq`: varies from 0 to slot_size - 12."""
    return seq * 7 % (min(slot_size - HEAD_BYTES, MAX_BODY) + 1)


def event_type(seq):
    return seq % 251


def make(seq, slot_size):
    start = seq & 0xFF
    body = PATTERN[start:start + body_len(seq, slot_size)]
    s = SEQ.pack(seq)
    return s + struct.pack("<I", zlib.crc32(body, zlib.crc32(s))) + body


def check(data, slot_size):
    """The sequence an intact payload carries; ValueError saying what is wrong otherwise.

    `data` is any bytes-like object (an Event, read in place)."""
    mv = memoryview(data)
    if len(mv) < HEAD_BYTES:
        raise ValueError(f"payload of {len(mv)} bytes is shorter than its header")
    seq, crc = HEAD.unpack_from(mv)
    want = HEAD_BYTES + body_len(seq, slot_size)
    if len(mv) != want:
        raise ValueError(f"payload of seq {seq}: {len(mv)} bytes, expected {want}")
    if zlib.crc32(mv[HEAD_BYTES:], zlib.crc32(mv[:8])) != crc:
        raise ValueError(f"payload of seq {seq}: checksum mismatch")
    return seq


def open_reader_after(name, hold, limit):
    """Open the shared ring `name` and a reader from its oldest event, once the
    writer has published `hold` events (so that a test can make the reader start
    behind); exits with a message if that does not happen within `limit` s."""
    import rusted_ring as rr
    ring = rr.Ring.open_shared(name)
    r = ring.reader("oldest")
    deadline = time.monotonic() + limit
    while ring.published < hold:
        if time.monotonic() > deadline:
            sys.exit(f"the writer never published {hold} events")
        time.sleep(0.001)
    return ring, r
