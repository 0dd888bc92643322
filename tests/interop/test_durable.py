"""Durable readers across processes and languages: a reader's place outlives
its process, and a process in the other language resumes it by name.

A Python reader process opens the durable reader "bridge" on a shared
backpressure ring, reads K events (the last in a call of its own, so it is
handed but not released) and is SIGKILLed. Its place is parked, not evicted:
the writer (a Python process) stalls behind it past the liveness period,
overwriting nothing. A Lua process then resumes "bridge" and reads to the end:
it starts at event K-1 (handed out again: at least once) and gets every event
after it, in order, each payload intact (children/lua_reader.lua checks them).
And the other way round: Lua killed, Python resumes.
"""
import rusted_ring as rr
from conftest import LIMIT, wait_until
from interop_payload import check, event_type, make

SLOT, CAPACITY, BATCH = 64, 1024, 128


def entry(ring, name):
    return next((e for e in ring.stats()["readers"] if e["name"] == name), None)


def test_a_python_durable_reader_killed_mid_stream_is_resumed_by_lua_and_nothing_is_lost(
        shm, spawn):
    n, stop = 20_000, 5_000
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY)
    victim = spawn.py("py_reader.py", name, "--stop-after", stop, "--durable", "bridge")
    assert victim.read_json() == {"pid": victim.pid, "opened": 0}
    writer = spawn.py("py_writer.py", name, n, "--batch", BATCH)
    assert victim.read_json() == {"pid": victim.pid, "stopped_at": stop}
    room = stop - 1 + CAPACITY
    wait_until(lambda: ring.published > room - BATCH, LIMIT, "the writer to fill the ring",
               ring.stats)
    victim.kill()
    # the writer's look for dead readers parks it (within the liveness period)
    wait_until(lambda: (entry(ring, "bridge") or {}).get("parked"), LIMIT,
               "the killed reader to be parked", ring.stats)
    e = entry(ring, "bridge")
    assert e["durable"] and e["parked"] and e["pid"] == 0 and e["alive"] is False
    assert e["cursor"] == stop - 1            # its last event was handed out, not released
    assert ring.published <= room, "the writer overwrote an event a parked reader holds"
    assert ring.stats()["readers_evicted"] == 0 and writer.running()

    heir = spawn.lua("lua_reader.lua", name, 0, LIMIT, "bridge")
    got = heir.finish()
    assert writer.finish()["published"] == n
    # missed counts the sequences before its first: none after it
    assert (got["first"], got["last"], got["missed"], got["lost"]) == (stop - 1, n - 1, stop - 1, 0), got
    assert got["delivered"] == n - stop + 1
    s = ring.stats()
    assert s["readers_evicted"] == 0 and s["reader_count"] == 1
    assert entry(ring, "bridge")["parked"]   # the Lua reader closed: parked again
    ring.drop_reader("bridge")
    assert ring.stats()["reader_count"] == 0


def test_a_lua_durable_reader_killed_is_resumed_by_python_at_its_released_position(shm, spawn):
    n = 1_000                                          # under the capacity: the parked
    name = shm()                                       # reader holds the writer back
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY)
    ring.reader(name="bridge", durable=True).close()   # parked at 0 before anything is written
    w = ring.writer()
    for i in range(n):
        w.add(make(i, SLOT), event_type(i))
    # a Lua process resumes it, blocks waiting for more, and is killed asleep
    victim = spawn.lua("lua_reader.lua", name, 0, LIMIT, "bridge")
    wait_until(lambda: (entry(ring, "bridge") or {}).get("cursor") == n and
               not entry(ring, "bridge")["parked"], LIMIT, "the Lua reader to read everything",
               ring.stats)
    victim.kill()
    r = ring.reader(name="bridge", durable=True)   # parks the dead one, then resumes it
    assert r.durable and r.cursor >= n - 1        # its last event may come again
    for i in range(n, n + 10):
        w.add(make(i, SLOT), event_type(i))
    seen = [check(ev, SLOT) for ev in r.next_batch(100)]
    assert seen == list(range(r.cursor - len(seen), n + 10)) and seen[-1] == n + 9
    assert ring.stats()["readers_evicted"] == 0
    r.close()
    ring.drop_reader("bridge")
    w.close()
