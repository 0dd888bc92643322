"""Blocking calls release the GIL: other Python threads make progress meanwhile.

Each test waits on conditions with generous limits, never on sleeps, so a slow
machine makes them slower, not flaky. "Waiting" is observed, not assumed: a
reader that waits in another thread refuses its getters (RuntimeError), and a
writer that waits has counted a stall.
"""
import threading
import time

import rusted_ring as rr
from payloads import wait_until

LIMIT = 30.0   # seconds; only reached when something is broken


def in_thread(fn):
    """Start fn() in a thread; returns the thread and a list that receives its result."""
    result = []
    t = threading.Thread(target=lambda: result.append(fn()))
    t.start()
    return t, result


def reader_waits(r):
    """True while another thread waits inside r (its getters refuse meanwhile)."""
    try:
        r.lag
    except RuntimeError as e:
        assert "another thread" in str(e)
        return True
    return False


def writer_stalled(ring):
    return lambda: ring.stats()["writer_stalls"] > 0


def stamp_progress(stop, stamps):
    """Pure-Python work that needs the GIL for every step; notes the time every 10 000 steps."""
    n = 0
    while not stop.is_set():
        n += 1
        if n % 10_000 == 0:
            stamps.append(time.monotonic())


def progress_during(call):
    """Run call() while another thread works; return how often that thread got on
    with its work strictly inside the call (a margin of 0.1 s at both ends)."""
    stamps, stop = [], threading.Event()
    t = threading.Thread(target=stamp_progress, args=(stop, stamps))
    t.start()
    try:
        start = time.monotonic()
        call()
        end = time.monotonic()
    finally:
        stop.set()
        t.join(LIMIT)
    assert end - start >= 0.9
    # Had the call held the GIL, the other thread could not have run at all
    # between its start and its end.
    return sum(start + 0.1 < s < end - 0.1 for s in stamps)


def test_reader_blocked_in_next_lets_other_threads_run():
    ring = rr.Ring(8, 4)
    ring.writer()
    r = ring.reader()
    assert progress_during(lambda: r.next(timeout=1)) >= 10


def test_writer_blocked_in_add_lets_other_threads_run():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"full")

    def blocked_add():
        try:
            w.add(b"waits", timeout=1)
        except rr.RingFull:
            return
        raise AssertionError("add should have timed out")

    assert progress_during(blocked_add) >= 10


def test_blocked_reader_wakes_when_another_thread_publishes():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    t, got = in_thread(lambda: r.next(timeout=LIMIT))
    wait_until(lambda: reader_waits(r), LIMIT, "the reader to wait")
    start = time.monotonic()
    w.add(b"wake up", 3)
    t.join(LIMIT)
    assert not t.is_alive()
    assert got[0] is not None and bytes(got[0]) == b"wake up"
    assert time.monotonic() - start < LIMIT / 2


def test_blocked_writer_wakes_when_a_reader_frees_a_slot():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"0")
    t, done = in_thread(lambda: w.add(b"1", timeout=LIMIT))
    wait_until(writer_stalled(ring), LIMIT, "the writer to wait")
    assert bytes(r.next()) == b"0"
    # The writer needs the slot of "0", which stays pinned until the reader moves on.
    assert r.next(timeout=LIMIT) is not None
    t.join(LIMIT)
    assert done == [1]


def test_reader_in_use_by_a_waiting_thread_refuses_other_threads():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    t, result = in_thread(lambda: r.next(timeout=LIMIT))
    wait_until(lambda: reader_waits(r), LIMIT, "the reader to wait")
    try:
        r.next()
        raise AssertionError("a busy reader accepted a second thread")
    except RuntimeError:
        pass
    w.add(b"done")
    t.join(LIMIT)
    assert bytes(result[0]) == b"done"


def test_closing_a_reader_while_another_thread_waits_ends_the_wait():
    ring = rr.Ring(8, 4)
    ring.writer()
    r = ring.reader()
    t, result = in_thread(lambda: r.next(timeout=LIMIT))
    wait_until(lambda: reader_waits(r), LIMIT, "the reader to wait")
    r.close()
    t.join(LIMIT)
    assert not t.is_alive() and result == [None]
    assert ring.stats()["reader_count"] == 0


def test_event_dropped_by_another_thread_while_reader_waits_frees_the_writer():
    """A release queued while the reader waits must reach the writer."""
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"held")
    held = [r.next()]
    t, result = in_thread(lambda: r.next(timeout=LIMIT))   # moves on: `held` becomes a hold
    wait_until(lambda: reader_waits(r), LIMIT, "the reader to wait")
    assert w.try_add(b"x") is False
    held.clear()            # dropped while the reader waits: its release is queued
    # The writer can now publish (within a slice of the reader's wait), and the
    # reader receives it.
    w.add(b"after", timeout=LIMIT)
    t.join(LIMIT)
    assert bytes(result[0]) == b"after"
