"""One shared backpressure ring, a Python writer process and Python reader processes.

The test process only creates the segment, starts the children and watches the
ring's stats; the writer and the readers are separate interpreters that open
the ring by name. Readers register before the writer starts (the test waits
for reader_count to say so), so on a backpressure ring every one of them must
receive every event, in order, each payload intact (children/py_reader.py
checks sequence, length, CRC-32 and event type of every one).
"""
import rusted_ring as rr

from conftest import LIMIT, wait_until

SLOT, CAPACITY, BATCH = 64, 1024, 128


def readers_registered(ring, n):
    wait_until(lambda: ring.stats()["reader_count"] == n, LIMIT, f"{n} reader processes to register")


def assert_got_everything(result, n):
    assert (result["delivered"], result["missed"], result["lost"]) == (n, 0, 0), result
    assert (result["first"], result["last"], result["published"], result["closed"]) == (0, n - 1, n, True), result


def test_a_million_events_reach_two_reader_processes_in_order(shm, spawn):
    n = 1_000_000
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY)
    readers = [spawn.py("py_reader.py", name) for _ in range(2)]
    readers_registered(ring, 2)
    writer = spawn.py("py_writer.py", name, n, "--batch", BATCH)
    wrote = writer.finish()
    assert wrote["published"] == n
    for r in readers:
        assert_got_everything(r.finish(), n)
    s = ring.stats()
    assert (s["published"], s["closed"], s["reader_count"], s["readers_evicted"]) == (n, True, 0, 0)
    assert s["writer_alive"] is False and s["writer_processes"] == 0


def test_a_reader_killed_mid_stream_stops_gating_and_the_other_gets_everything(shm, spawn):
    n, stop = 200_000, 50_000
    name = shm()
    ring = rr.Ring.create_shared(name, SLOT, CAPACITY)
    survivor = spawn.py("py_reader.py", name)
    victim = spawn.py("py_reader.py", name, "--stop-after", stop)
    readers_registered(ring, 2)
    writer = spawn.py("py_writer.py", name, n, "--batch", BATCH)

    # The victim reads `stop` events and then sits on its reader, keeping event
    # stop-1 pinned (its last call handed out that one event): the writer, adding
    # BATCH events at a time, must fill the ring up to it and stall there.
    assert victim.read_json() == {"pid": victim.pid, "stopped_at": stop}

    def entry(pid):
        return next(e for e in ring.stats()["readers"] if e["pid"] == pid)

    room = stop - 1 + CAPACITY
    wait_until(lambda: ring.published > room - BATCH, LIMIT, "the writer to fill the ring", ring.stats)
    assert entry(victim.pid)["cursor"] == stop and entry(victim.pid)["alive"] is True
    assert ring.published <= room, "the writer overwrote an event a live reader holds"
    assert writer.running()

    victim.kill()
    assert victim.p.returncode == -9
    wait_until(lambda: ring.published > room, 5.0,
               "the writer to get past the dead reader (DESIGN: about 1 s)", ring.stats)

    assert writer.finish()["published"] == n
    assert_got_everything(survivor.finish(), n)
    s = ring.stats()
    assert (s["published"], s["readers_evicted"], s["reader_count"]) == (n, 1, 0), s
