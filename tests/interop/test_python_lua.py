"""One shared ring between a Python process and a Lua process, either way round.

Streams: a writer in one language publishes N self-checking payloads
(children/interop_payload.py and .lua make the same bytes), a reader process
in the other language checks every one it receives (sequence, length,
CRC-32, event type, order) and reports what it got, missed and lost.

- backpressure: the reader registers before the writer starts, so it must get
  all N, in order, none missed or lost.
- overwrite: the reader registers, then holds back until HOLD events are
  published, so the writer certainly laps it; the writer then waits until the
  reader has caught up with HOLD and publishes the rest at full speed. Every
  payload delivered must be intact and in order, the gaps between the
  sequences it saw must be exactly what the ring says it lost, and
  delivered + lost == published.

Geometry and close: a ring made in one language opens in the other with the
same slot size, capacity, mode, producers and size, carries the events
already in it, and closing it in one language ends the stream in the other.
"""
import time

import pytest

import rusted_ring as rr
from conftest import LIMIT, asleep, wait_until
from interop_payload import check, event_type, make

N = 200_000
SLOT, CAPACITY = 64, 256
HOLD = 4 * CAPACITY

DIRECTIONS = [("python", "lua"), ("lua", "python")]


def start_reader(spawn, lang, name, hold):
    if lang == "python":
        return spawn.py("py_reader.py", name, "--hold", hold)
    return spawn.lua("lua_reader.lua", name, hold)


def start_writer(spawn, lang, name, n, hold):
    if lang == "python":
        return spawn.py("py_writer.py", name, n, "--hold", hold)
    return spawn.lua("lua_writer.lua", name, n, hold)


@pytest.mark.parametrize("writer_lang, reader_lang", DIRECTIONS, ids=["python-to-lua", "lua-to-python"])
def test_backpressure_stream_arrives_whole_and_in_order(shm, spawn, writer_lang, reader_lang):
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY, mode="backpressure")
    reader = start_reader(spawn, reader_lang, name, 0)
    wait_until(lambda: ring.stats()["reader_count"] == 1, LIMIT, "the reader process to register")
    writer = start_writer(spawn, writer_lang, name, N, 0)
    assert writer.finish()["published"] == N
    got = reader.finish()
    assert (got["delivered"], got["missed"], got["lost"]) == (N, 0, 0), got
    assert (got["first"], got["last"], got["published"], got["closed"]) == (0, N - 1, N, True), got
    s = ring.stats()
    assert (s["published"], s["closed"], s["reader_count"], s["readers_evicted"]) == (N, True, 0, 0)


@pytest.mark.parametrize("writer_lang, reader_lang", DIRECTIONS, ids=["python-to-lua", "lua-to-python"])
def test_overwrite_stream_delivers_intact_events_and_counts_the_rest_as_lost(shm, spawn, writer_lang,
                                                                             reader_lang):
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY, mode="overwrite")
    reader = start_reader(spawn, reader_lang, name, HOLD)
    wait_until(lambda: ring.stats()["reader_count"] == 1, LIMIT, "the reader process to register")
    writer = start_writer(spawn, writer_lang, name, N, HOLD)
    assert writer.finish()["published"] == N
    got = reader.finish()
    assert got["published"] == N and got["closed"] is True, got
    assert got["delivered"] + got["lost"] == N, got
    assert got["missed"] == got["lost"], f"the gaps the reader saw are not what the ring counted: {got}"
    # It held back while the writer lapped it, then read what was left of the
    # first HOLD events before the writer went on; the last events survive the close.
    assert HOLD - CAPACITY <= got["first"] < HOLD, got
    assert got["lost"] >= HOLD - CAPACITY and got["delivered"] > HOLD - got["first"], got
    assert got["last"] == N - 1, got


GEOMETRIES = [(40, 24, "backpressure", "single"), (72, 7, "overwrite", "multi"),
              (268, 3, "backpressure", "multi"), (13, 100, "overwrite", "single")]


def geometry_of(ring):
    return {"name": ring.name, "slot_size": ring.slot_size, "capacity": ring.capacity, "mode": ring.mode,
            "producers": ring.producers, "memory_bytes": ring.memory_bytes, "published": ring.published}


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "-".join(map(str, g)))
def test_a_ring_made_in_lua_opens_in_python_and_closing_it_there_ends_the_lua_stream(shm, spawn, geometry):
    slot, capacity, mode, producers = geometry
    count = capacity // 2 + 1
    name = shm()
    lua = spawn.lua("lua_create_and_wait.lua", name, slot, capacity, mode, producers, count)
    made = lua.read_json()
    ring = rr.Ring.open_shared(name)
    assert geometry_of(ring) == made
    assert (made["name"], made["slot_size"], made["capacity"], made["mode"], made["producers"],
            made["published"]) == ("/" + name, slot, capacity, mode, producers, count)

    r = ring.reader("oldest")
    for seq in range(count):
        ev = r.next(timeout=LIMIT)
        assert ev is not None, f"event {seq} of {count} is missing"
        assert (check(ev, slot), ev.sequence, ev.event_type) == (seq, seq, event_type(seq))
    assert r.next() is None

    wait_until(lambda: ring.stats()["reader_count"] == 2 and asleep(lua.pid), LIMIT,
               "the Lua process to block on its reader")
    ring.close()
    closed_at = time.monotonic()
    assert lua.finish() == {"event": False, "ended": "closed", "closed": True}
    assert time.monotonic() - closed_at < LIMIT / 4, "the Lua reader was not woken by the close"


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "-".join(map(str, g)))
def test_a_ring_made_in_python_opens_in_lua_and_closing_it_there_ends_the_python_stream(shm, spawn, geometry):
    slot, capacity, mode, producers = geometry
    count = capacity // 2 + 1
    more = capacity - count
    name = shm()
    ring = rr.Ring.create_shared(name, slot, capacity, mode=mode, producers=producers)
    r = ring.reader("oldest")
    with ring.writer() as w:
        for seq in range(count):
            assert w.add(make(seq, slot), event_type(seq)) == seq

    expected = dict(geometry_of(ring), closed=False)
    assert expected["published"] == count
    lua = spawn.lua("lua_open_write_close.lua", name, count, more)
    assert lua.read_json() == expected
    start = time.monotonic()
    got = []
    for ev in r.events(timeout=LIMIT):
        seq = check(ev, slot)
        assert (ev.sequence, ev.event_type) == (seq, event_type(seq))
        got.append(seq)
    assert got == list(range(count + more))
    assert ring.closed, "the stream ended without the ring being closed"
    assert time.monotonic() - start < LIMIT / 4, "events() ended by its timeout, not by the close"
    assert lua.finish() == {"published": count + more, "closed": True}
