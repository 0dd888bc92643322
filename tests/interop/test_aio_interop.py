"""asyncio and event loops across processes and languages: an asyncio task in
this process takes a stream another process writes (Python or Lua, in both
modes), and a luv event loop in a Lua process reads what an asyncio writer
here adds, the writer waiting for room without blocking its loop. Every
payload is checked (interop_payload); every wait is bounded by LIMIT.
"""
import asyncio

import pytest

import rusted_ring as rr
from conftest import LIMIT
from interop_payload import check, event_type, make

SLOT = 64


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, LIMIT))


@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
@pytest.mark.parametrize("writer_lang", ["python", "lua"])
def test_an_asyncio_reader_takes_every_event_a_writer_process_publishes(shm, spawn, writer_lang, mode):
    n = 100_000
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, 256, mode=mode)
    r = ring.reader()   # registered before the writer starts
    writer = spawn.py("py_writer.py", name, n) if writer_lang == "python" else \
        spawn.lua("lua_writer.lua", name, n)
    seen = {"delivered": 0, "last": -1}

    async def consume():
        async for ev in r.aevents():
            seq = check(ev, SLOT)
            assert ev.sequence == seq and ev.event_type == event_type(seq), f"event {ev.sequence}"
            assert seq > seen["last"], f"event {seq} came after {seen['last']}"
            seen["last"] = seq
            seen["delivered"] += 1

    run(consume())
    assert writer.finish()["published"] == n
    assert seen["last"] == n - 1
    assert seen["delivered"] + r.lost == n
    if mode == "backpressure":
        assert seen["delivered"] == n


def test_a_luv_loop_in_a_lua_process_reads_what_an_asyncio_writer_adds(shm, spawn):
    n = 20_000
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, 16)   # small: the writer waits for room
    lua = spawn.lua("lua_luv_reader.lua", name, LIMIT)
    assert lua.read_json()["ready"]
    w = ring.writer()

    async def produce():
        seq = 0
        while seq < n:
            if seq % 3:
                await w.add_async(make(seq, SLOT), event_type(seq))
                seq += 1
            else:
                stop = min(n, seq + 5)
                await w.add_batch_async([make(s, SLOT) for s in range(seq, stop)],
                                        [event_type(s) for s in range(seq, stop)])
                seq = stop
        ring.close()

    run(produce())
    out = lua.finish()
    assert out["delivered"] == n and out["missed"] == 0 and out["last"] == n - 1
    assert ring.stats()["writer_stalls"] > 0   # the asyncio writer did wait for room
