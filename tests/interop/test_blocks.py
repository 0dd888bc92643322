"""Blocks across processes and languages: a writer in one language, a reader in
the other that reads through next_block (Lua r:next_block, Python
Reader.next_block), checking every event of every block (sequence, length,
CRC-32, event type, order) and reporting what it got, missed and lost.

- backpressure: the reader registers before the writer starts, so it must get
  all N, in order, none missed or lost, and its blocks held more than one
  event (the ring's end, a slow writer and max end a block early, but a block
  of max events is within reach: the reader waits before reading).
- overwrite: the reader holds back until HOLD events are published, so the
  writer laps it; every event delivered must be intact and in order, the
  gaps between sequences must be exactly what the ring counted as lost, and
  delivered + lost == published.

The Python reader needs Reader.next_block; without it (a build of the binding
from before blocks) its tests are skipped, saying so.
"""
import pytest

import rusted_ring as rr
from conftest import LIMIT, wait_until

N = 200_000
SLOT, CAPACITY = 64, 256
HOLD = 4 * CAPACITY
MAX = 100

PY_BLOCKS = hasattr(rr.Reader, "next_block")
needs_py_blocks = pytest.mark.skipif(not PY_BLOCKS, reason="rusted_ring.Reader has no next_block yet")

DIRECTIONS = [pytest.param("python", "lua", id="python-to-lua"),
              pytest.param("lua", "python", id="lua-to-python", marks=needs_py_blocks)]


def start_block_reader(spawn, lang, name, hold):
    if lang == "python":
        return spawn.py("py_block_reader.py", name, "--hold", hold, "--max", MAX, "--limit", LIMIT)
    return spawn.lua("lua_block_reader.lua", name, hold, LIMIT, MAX)


def start_writer(spawn, lang, name, n, hold):
    if lang == "python":
        return spawn.py("py_writer.py", name, n, "--hold", hold)
    return spawn.lua("lua_writer.lua", name, n, hold)


@pytest.mark.parametrize("writer_lang, reader_lang", DIRECTIONS)
def test_backpressure_stream_read_through_blocks_arrives_whole_and_in_order(shm, spawn, writer_lang,
                                                                            reader_lang):
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY, mode="backpressure")
    reader = start_block_reader(spawn, reader_lang, name, 0)
    wait_until(lambda: ring.stats()["reader_count"] == 1, LIMIT, "the reader process to register")
    writer = start_writer(spawn, writer_lang, name, N, 0)
    assert writer.finish()["published"] == N
    got = reader.finish()
    assert (got["delivered"], got["missed"], got["lost"]) == (N, 0, 0), got
    assert (got["first"], got["last"], got["published"], got["closed"]) == (0, N - 1, N, True), got
    assert got["blocks"] <= N and 1 <= got["largest"] <= MAX, got
    s = ring.stats()
    assert (s["published"], s["closed"], s["reader_count"], s["readers_evicted"]) == (N, True, 0, 0)


@pytest.mark.parametrize("writer_lang, reader_lang", DIRECTIONS)
def test_backpressure_blocks_hold_many_events_when_the_reader_waits(shm, spawn, writer_lang, reader_lang):
    # The reader starts reading only once HOLD >= CAPACITY events are waiting
    # (the writer blocks on the full ring meanwhile), so its first block is a
    # run of MAX events: blocks really are read whole across the languages.
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY, mode="backpressure")
    reader = start_block_reader(spawn, reader_lang, name, CAPACITY)
    wait_until(lambda: ring.stats()["reader_count"] == 1, LIMIT, "the reader process to register")
    writer = start_writer(spawn, writer_lang, name, 20 * CAPACITY, 0)
    assert writer.finish()["published"] == 20 * CAPACITY
    got = reader.finish()
    assert (got["delivered"], got["missed"], got["lost"]) == (20 * CAPACITY, 0, 0), got
    assert got["largest"] == MAX, got


@pytest.mark.parametrize("writer_lang, reader_lang", DIRECTIONS)
def test_overwrite_stream_read_through_blocks_delivers_intact_events_and_counts_the_rest_as_lost(
        shm, spawn, writer_lang, reader_lang):
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY, mode="overwrite")
    reader = start_block_reader(spawn, reader_lang, name, HOLD)
    wait_until(lambda: ring.stats()["reader_count"] == 1, LIMIT, "the reader process to register")
    writer = start_writer(spawn, writer_lang, name, N, HOLD)
    assert writer.finish()["published"] == N
    got = reader.finish()
    assert got["published"] == N and got["closed"] is True, got
    assert got["delivered"] + got["lost"] == N, got
    assert got["missed"] == got["lost"], f"the gaps the reader saw are not what the ring counted: {got}"
    assert HOLD - CAPACITY <= got["first"] < HOLD, got
    assert got["lost"] >= HOLD - CAPACITY and got["delivered"] > HOLD - got["first"], got
    assert got["last"] == N - 1, got
