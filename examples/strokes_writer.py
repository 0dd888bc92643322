"""Pen strokes from a Python process to a Lua process through one shared ring
(`make demo-interop`).

This process creates a backpressure ring in shared memory, starts
examples/strokes_reader.lua in lua5.4 with the ring's name, waits until the
Lua reader has registered, then draws strokes into the ring for DURATION
seconds: each stroke is POINTS points (event type 1: stroke id, point index,
x, y, pressure, packed with struct) followed by an end marker (event type 2:
stroke id, number of points). It then closes the ring, which ends the stream
for the Lua process, and both print their stats. The segment is unlinked
whatever happens.

The Lua reader checks every point (strokes and points in order, each end
marker counting its stroke's points) and exits with status 1 if anything was
missing or out of place; this script exits with the reader's status.

    RR_LUA        the Lua interpreter (default lua5.4)
    LUA_CPATH     must find rusted_ring.so (make sets it to build/lua/?.so)
"""
from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

try:
    import rusted_ring as rr
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import rusted_ring as rr

POINT = struct.Struct("<IHfff")      # stroke id, point index, x, y, pressure (18 bytes)
END = struct.Struct("<IH")           # stroke id, number of points
EV_POINT, EV_END = 1, 2
SLOT_SIZE, CAPACITY = 32, 1024
POINTS = 64                          # points per stroke
DURATION = 1.5                       # seconds of drawing
LIMIT = 30.0                         # seconds: the bound on every wait for the reader


def stroke(sid: int) -> list[bytes]:
    """Stroke `sid`: an arc around a point of a 1920x1080 canvas, pressure rising and falling."""
    cx, cy, radius = sid * 37 % 1920, sid * 23 % 1080, 20 + sid % 80
    points = []
    for i in range(POINTS):
        t = i / (POINTS - 1)
        angle = math.pi * t
        points.append(POINT.pack(sid, i, cx + radius * math.cos(angle), cy + radius * math.sin(angle),
                                 math.sin(math.pi * t)))
    return points + [END.pack(sid, POINTS)]


TYPES = [EV_POINT] * POINTS + [EV_END]


def main() -> int:
    name = f"rusted_ring-strokes-{os.getpid()}"
    lua = os.environ.get("RR_LUA", "lua5.4")
    script = Path(__file__).resolve().with_name("strokes_reader.lua")
    ring = rr.Ring.create_shared(name, SLOT_SIZE, CAPACITY, mode="backpressure")
    reader = None
    try:
        print(f"writer (Python, pid {os.getpid()}): created {ring.name}: {CAPACITY} slots of "
              f"{SLOT_SIZE} bytes, {ring.mode}; starting {lua} {script.name}", flush=True)
        reader = subprocess.Popen([lua, str(script), name])
        deadline = time.monotonic() + LIMIT
        while ring.stats()["reader_count"] < 1:          # the reader registers before we draw
            if reader.poll() is not None or time.monotonic() > deadline:
                print("writer: the Lua reader never registered", file=sys.stderr)
                return 1
            time.sleep(0.001)

        strokes = 0
        max_backpressure = 0.0
        start = time.monotonic()
        with ring.writer() as w:
            while time.monotonic() - start < DURATION:
                w.add_batch(stroke(strokes), TYPES, timeout=LIMIT)
                strokes += 1
                max_backpressure = max(max_backpressure, ring.stats()["max_backpressure"])
        elapsed = time.monotonic() - start
        ring.close()                                     # end of stream, in the Lua process too
        status = reader.wait(LIMIT)

        s = ring.stats()
        print(f"writer (Python, pid {os.getpid()}): published {s['published']} events "
              f"({strokes} strokes of {POINTS} points + end markers) in {elapsed:.2f} s, "
              f"{s['published'] / elapsed:,.0f} events/s; writer stalls (ring full) {s['writer_stalls']}; "
              f"max backpressure {max_backpressure:.1%}", flush=True)
        if s["published"] != strokes * (POINTS + 1):
            print("writer: published count does not match the strokes drawn", file=sys.stderr)
            return 1
        return status
    finally:
        if reader is not None and reader.poll() is None:
            reader.kill()
            reader.wait()
        rr.Ring.unlink_shared(name)
        print(f"writer: unlinked {ring.name}")


if __name__ == "__main__":
    sys.exit(main())
