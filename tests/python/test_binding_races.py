"""Regressions for the binding's own races: Python code that runs in the middle of a
call (a `.data` property, another thread while the GIL is released) must never let a
handle be used twice at once, free a payload under the core, or let a slot change
while an Event or a buffer of it is alive.

Threads here synchronise on threading.Event with generous limits, not on sleeps;
where a wait must already be in progress, the test polls for its visible effect.
"""
import threading

import pytest

import rusted_ring as rr
from payloads import wait_until

LIMIT = 30.0


def test_add_batch_keeps_payloads_alive_when_a_data_property_mutates_the_list():
    ring = rr.Ring(256, 16)
    w, r = ring.writer(), ring.reader()
    items = [bytes(bytearray(b"A" * 200)), None]

    class Mutating:
        event_type = 1

        @property
        def data(self):
            items[0] = None                      # drops the list's reference to the first payload
            _ = [bytes([66]) * 200 for _ in range(100)]
            items.clear()
            return b"zz"

    items[1] = Mutating()
    assert w.add_batch(items) == 2
    assert bytes(r.next()) == b"A" * 200
    assert bytes(r.next()) == b"zz"


def test_threads_sharing_a_multi_producer_writer_publish_their_own_batches():
    ring = rr.Ring(32, 8, producers="multi")
    w, r = ring.writer(), ring.reader()
    per_thread, batch = 200, 4
    errors = []

    def produce(tag):
        try:
            for i in range(per_thread):
                w.add_batch([b"%s%d.%d" % (tag, i, k) for k in range(batch)], timeout=LIMIT)
        except Exception as e:       # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=produce, args=(t,)) for t in (b"A", b"B")]
    for t in threads:
        t.start()
    seen = {b"A": [], b"B": []}
    total = 2 * per_thread * batch
    got = 0
    while got < total:
        ev = r.next(timeout=LIMIT)
        assert ev is not None, "a producer's batch went missing"
        payload = bytes(ev)
        seen[payload[:1]].append(payload[1:])
        got += 1
        del ev
    for t in threads:
        t.join(LIMIT)
    assert not errors
    for tag in (b"A", b"B"):
        expected = [b"%d.%d" % (i, k) for i in range(per_thread) for k in range(batch)]
        assert seen[tag] == expected


def test_single_writer_is_not_entered_twice_while_a_data_property_runs():
    ring = rr.Ring(16, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"first")                               # the ring is full
    in_property, b_tried = threading.Event(), threading.Event()
    results = []

    class Slow:
        event_type = 7

        @property
        def data(self):
            in_property.set()
            b_tried.wait(LIMIT)                   # thread B tries the writer meanwhile
            return b"from-A"

    def a():
        results.append(("A", w.add(Slow(), timeout=LIMIT)))

    def b():
        try:
            results.append(("B", w.add(b"from-B", timeout=LIMIT)))
        except RuntimeError as e:
            results.append(("B", e))
        b_tried.set()

    ta = threading.Thread(target=a)
    ta.start()
    assert in_property.wait(LIMIT)
    tb = threading.Thread(target=b)
    tb.start()
    tb.join(LIMIT)
    # A's call holds the writer from its start, its .data property included.
    refused = dict(results)["B"]
    assert isinstance(refused, RuntimeError) and "another thread" in str(refused)
    assert bytes(r.next()) == b"first"
    ev = r.next(timeout=LIMIT)                    # moving on frees the slot A waits for
    assert bytes(ev) == b"from-A" and ev.event_type == 7
    ta.join(LIMIT)
    assert dict(results)["A"] == 1 and ring.published == 2


def test_claim_view_kept_past_the_block_keeps_the_slot_until_released():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(BufferError):
        with w.claim() as slot:
            kept = memoryview(slot)
            kept[:5] = b"stale"
    # The claim is not given back while `kept` can still write into the slot.
    with pytest.raises(ValueError, match="claim"):
        w.add(b"hello")
    kept.release()
    w.add(b"hello")
    ev = r.next()
    assert bytes(ev) == b"hello"
    assert ring.stats()["abandoned"] == 1


def test_claim_view_kept_past_a_failing_block_is_handled_the_same_way():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(KeyError):
        with w.claim() as slot:
            kept = memoryview(slot)
            raise KeyError("boom")
    with pytest.raises(ValueError, match="claim"):
        w.add(b"x")
    del kept
    w.add(b"x")
    assert bytes(r.next()) == b"x"


def test_closing_the_writer_while_a_claim_waits_abandons_it():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"full")
    c = w.claim(timeout=LIMIT)
    out = []
    started = threading.Event()

    def enter():
        started.set()
        try:
            out.append(c.__enter__())
        except Exception as e:
            out.append(e)

    t = threading.Thread(target=enter)
    t.start()
    assert started.wait(LIMIT)
    wait_until(lambda: ring.stats()["writer_stalls"] > 0, LIMIT, "the claim to wait")
    w.close()                        # deferred: the claim is waiting in the writer
    assert bytes(r.next()) == b"full"
    r.next()                         # frees the slot: the claim may now succeed
    t.join(LIMIT)
    assert isinstance(out[0], rr.RingClosed)
    assert ring.stats()["writers"] == 0
    with pytest.raises(BufferError):
        memoryview(c)
    w2 = ring.writer()
    w2.add(b"after")
    assert bytes(r.next(timeout=LIMIT)) == b"after"


def test_a_claim_cannot_be_entered_by_two_threads():
    ring = rr.Ring(64, 2, producers="multi")
    w, r = ring.writer(), ring.reader()
    w.add(b"x")
    w.add(b"y")                      # full
    c = w.claim(timeout=LIMIT)
    results, started = [], threading.Event()

    def enter():
        started.set()
        try:
            results.append(c.__enter__())
        except RuntimeError as e:
            results.append(e)

    t1 = threading.Thread(target=enter)
    t1.start()
    assert started.wait(LIMIT)
    wait_until(lambda: ring.stats()["writer_stalls"] > 0, LIMIT, "the first enter to wait")
    with pytest.raises(RuntimeError, match="entered only once"):
        c.__enter__()
    assert [bytes(e) for e in r.next_batch(2)] == [b"x", b"y"]
    r.next()
    t1.join(LIMIT)
    assert results == [c]
    c.length = 1
    c[0] = 0x5A
    c.__exit__(None, None, None)
    assert bytes(r.next(timeout=LIMIT)) == b"Z"
    w.close()
    assert ring.stats()["writers"] == 0


@pytest.mark.parametrize("timeout", [10**20, 1e20])
def test_huge_timeouts_mean_wait_without_limit(timeout):
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"x", timeout=timeout)
    assert bytes(r.next(timeout)) == b"x"


@pytest.mark.parametrize("bad, exc", [(-10**20, ValueError), (True, TypeError)])
def test_timeout_edges_are_rejected_clearly(bad, exc):
    ring = rr.Ring(8, 4)
    with pytest.raises(exc, match="timeout"):
        ring.reader().next(bad)
