"""A pipeline over one shared ring, one stage per process and language.

Stage 0 is a Python process, stage 1 a Lua process that follows it by name,
stage 2 a Python process that follows stage 1: each stamps its mark into every
event (writable readers; children/pipe_stage.py and .lua) and checks that the
marks of the stages before it are there and its own is not yet, so a stage
handed an event before the one it follows had finished with it fails. This
process writes N events carrying their sequence and its CRC-32.

With stage 1 killed (SIGKILL) mid-stream, its entry is evicted and stage 2
follows stage 0 from then on: it still gets every event, stage 1's marks are
a prefix of the stream (each one correct), and stage 0's are on every event.
"""
import struct
import threading
import zlib

import pytest

import rusted_ring as rr
from conftest import LIMIT, wait_until

N = 100_000
SLOT, CAPACITY = 32, 256


def event(seq):
    return struct.pack("<QI", seq, zlib.crc32(struct.pack("<Q", seq))) + bytes(SLOT - 12)


def write(ring, n):
    w = ring.writer()
    for i in range(0, n, 64):
        w.add_batch([event(s) for s in range(i, min(i + 64, n))], timeout=LIMIT)
    ring.close()


def started(child):
    line = child.read_json()
    assert line.get("ready"), line
    return line


@pytest.mark.parametrize("middle", ["lua", "python"])
def test_three_stages_in_three_processes_stamp_and_check_every_event(shm, spawn, middle):
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY)
    first = spawn.py("pipe_stage.py", name, "unmarshal", "-", 0, "-")
    started(first)
    if middle == "lua":
        second = spawn.lua("pipe_stage.lua", name, "business", "unmarshal", 1, "0")
    else:
        second = spawn.py("pipe_stage.py", name, "business", "unmarshal", 1, "0")
    started(second)
    third = spawn.py("pipe_stage.py", name, "publish", "business", -1, "0,1")
    assert started(third)["after"] == ["business"]
    names = sorted(e["name"] for e in ring.stats()["readers"])
    assert names == ["business", "publish", "unmarshal"]
    write(ring, N)
    for child in (first, second, third):
        got = child.finish()
        assert (got["handled"], got["first"], got["last"]) == (N, 0, N - 1), got
        assert got["sum"] == N * (N - 1) // 2 and got["closed"], got
    assert ring.stats()["readers_evicted"] == 0


def test_a_killed_middle_stage_is_evicted_and_the_last_follows_the_first(shm, spawn):
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY)
    first = spawn.py("pipe_stage.py", name, "unmarshal", "-", 0, "-")
    started(first)
    report = N // 4
    second = spawn.lua("pipe_stage.lua", name, "business", "unmarshal", 1, "0", report)
    started(second)
    third = spawn.py("pipe_stage.py", name, "publish", "business", -1, "0", 1)
    started(third)
    writer = threading.Thread(target=write, args=(ring, N), daemon=True)
    writer.start()
    assert second.read_json()["handled"] == report
    second.kill()                                    # SIGKILL, mid-stream
    writer.join(LIMIT)
    assert not writer.is_alive(), "the writer is still blocked behind the killed stage"
    got = first.finish()
    assert (got["handled"], got["last"]) == (N, N - 1), got
    got = third.finish()
    assert (got["handled"], got["first"], got["last"]) == (N, 0, N - 1), got
    assert got["sum"] == N * (N - 1) // 2
    assert report <= got["late_marked"] < N, got      # its marks: a prefix, at least what it reported
    wait_until(lambda: ring.stats()["readers_evicted"] >= 1, LIMIT, "the killed stage's eviction")
