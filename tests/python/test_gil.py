"""Blocking calls release the GIL: other Python threads make progress meanwhile.

Each test waits on conditions (events, counters) with generous limits, never on
sleeps, so a slow machine makes them slower, not flaky.
"""
import threading
import time

import rusted_ring as rr

LIMIT = 30.0   # seconds; only reached when something is broken


def spin_counter(stop, counter):
    """Pure-Python work that needs the GIL for every step."""
    while not stop.is_set():
        counter[0] += 1


def test_reader_blocked_in_next_lets_other_threads_run():
    ring = rr.Ring(8, 4)
    ring.writer()
    r = ring.reader()
    counter, stop = [0], threading.Event()
    t = threading.Thread(target=spin_counter, args=(stop, counter))
    t.start()
    try:
        start = time.monotonic()
        assert r.next(timeout=1) is None
        waited = time.monotonic() - start
    finally:
        stop.set()
        t.join(LIMIT)
    assert waited >= 0.9
    # Had the wait held the GIL, the counter thread would have had at most a few
    # switch intervals (5 ms each) of the second; it gets most of it instead.
    assert counter[0] > 100_000, f"only {counter[0]} steps while the reader waited"


def test_writer_blocked_in_add_lets_other_threads_run():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"full")
    counter, stop = [0], threading.Event()
    t = threading.Thread(target=spin_counter, args=(stop, counter))
    t.start()
    try:
        try:
            w.add(b"waits", timeout=1)
            raise AssertionError("add should have timed out")
        except rr.RingFull:
            pass
    finally:
        stop.set()
        t.join(LIMIT)
    assert counter[0] > 100_000, f"only {counter[0]} steps while the writer waited"


def test_blocked_reader_wakes_when_another_thread_publishes():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    got, entered = [], threading.Event()

    def read():
        entered.set()
        got.append(r.next(timeout=LIMIT))

    t = threading.Thread(target=read)
    t.start()
    assert entered.wait(LIMIT)
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
    done, entered = [], threading.Event()

    def write():
        entered.set()
        done.append(w.add(b"1", timeout=LIMIT))

    t = threading.Thread(target=write)
    t.start()
    assert entered.wait(LIMIT)
    assert bytes(r.next()) == b"0"
    # The writer needs the slot of "0", which stays pinned until the reader moves on.
    assert r.next(timeout=LIMIT) is not None
    t.join(LIMIT)
    assert done == [1]


def test_reader_in_use_by_a_waiting_thread_refuses_other_threads():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    entered, result = threading.Event(), []

    def read():
        entered.set()
        result.append(r.next(timeout=LIMIT))

    t = threading.Thread(target=read)
    t.start()
    assert entered.wait(LIMIT)
    # Wait until the reader thread really is inside the wait (it marks the reader busy).
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        try:
            r.lag
        except RuntimeError as e:
            assert "another thread" in str(e)
            break
        time.sleep(0)   # let the reader thread run; not a timing assumption
    else:
        raise AssertionError("the reader never became busy")
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
    entered, result = threading.Event(), []

    def read():
        entered.set()
        result.append(r.next(timeout=LIMIT))

    t = threading.Thread(target=read)
    t.start()
    assert entered.wait(LIMIT)
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
    entered, result = threading.Event(), []

    def read():
        entered.set()
        result.append(r.next(timeout=LIMIT))    # moves on: `held` becomes a hold

    t = threading.Thread(target=read)
    t.start()
    assert entered.wait(LIMIT)
    assert w.try_add(b"x") is False
    held.clear()            # dropped while the reader waits
    # The writer can now publish (within a slice of the reader's wait), and the
    # reader receives it.
    w.add(b"after", timeout=LIMIT)
    t.join(LIMIT)
    assert bytes(result[0]) == b"after"
