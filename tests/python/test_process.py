"""Reader.process(handler): the handler loop, in C.

Which events are consumed: every event the handler was called with, the one
that stopped the loop (returned False, raised) included; the rest of that
batch is handed out again by the reader's next call. Every payload carries a
producer, a sequence and a checksum (payloads.py); each test checks what
arrived -- in order, exactly once, with its bytes.
"""
import gc
import sys
import threading

import pytest

import rusted_ring as rr
from payloads import Payloads, Workers, decode, scaled, wait_until

LIMIT = 60.0


def filled(n, capacity=64, mode="backpressure", slot=64):
    ring = rr.Ring(slot, capacity, mode=mode)
    w = ring.writer()
    p = Payloads(0, slot)
    for i in range(n):
        w.add(p.make(i))
    return ring, w, ring.reader()


def test_process_hands_every_event_in_order_and_returns_at_the_close():
    ring, w, r = filled(10)
    ring.close()
    seen = []
    assert r.process(lambda ev, end: seen.append(decode(ev)[1])) == 10
    assert seen == list(range(10))
    assert r.lag == 0 and r.cursor == 10


def test_end_of_batch_is_true_exactly_for_the_last_event_of_each_batch_read():
    ring, w, r = filled(10)
    ring.close()
    ends = []
    r.process(lambda ev, end: ends.append((ev.sequence, end)), max_batch=4)
    assert [s for s, end in ends if end] == [3, 7, 9]
    assert all(type(end) is bool for _, end in ends)


def test_returning_false_stops_and_the_rest_of_the_batch_comes_again():
    ring, w, r = filled(10)

    def stop_at_4(ev, end):
        return ev.sequence != 4

    assert r.process(stop_at_4, timeout=0) == 5       # 0..4 consumed, 4 included
    assert r.cursor == 5 and r.delivered == 5 and r.lag == 5
    ev = r.next()
    assert decode(ev)[1] == 5 and ev.sequence == 5
    assert [decode(e)[1] for e in r.next_batch(10)] == [6, 7, 8, 9]


@pytest.mark.parametrize("value", [None, 0, "", [], True, 1])
def test_any_return_value_but_false_goes_on(value):
    ring, w, r = filled(5)
    ring.close()
    assert r.process(lambda ev, end: value) == 5


def test_a_handler_that_raises_stops_the_loop_and_its_event_is_consumed():
    ring, w, r = filled(10)

    class Boom(Exception):
        pass

    def boom_at_3(ev, end):
        decode(ev)
        if ev.sequence == 3:
            raise Boom(ev.sequence)

    with pytest.raises(Boom) as info:
        r.process(boom_at_3, timeout=0)
    assert info.value.args == (3,)
    assert r.cursor == 4 and r.delivered == 4
    del info
    assert r.process(lambda ev, end: decode(ev), timeout=0) == 6
    assert r.cursor == 10


def test_process_from_the_middle_of_a_batch_stopped_twice_hands_each_event_once():
    ring, w, r = filled(20)
    seen = []

    def stop_every_third(ev, end):
        seen.append(decode(ev)[1])
        return len(seen) % 3 != 0

    while r.process(stop_every_third, timeout=0):
        pass
    assert seen == list(range(20))


def test_timeout_zero_handles_what_is_there_and_returns():
    ring, w, r = filled(3)
    assert r.process(lambda ev, end: None, timeout=0) == 3
    assert r.process(lambda ev, end: None, timeout=0) == 0
    assert not ring.closed


def test_on_timeout_is_called_when_nothing_arrives_and_false_stops():
    ring, w, r = filled(2)
    calls = []

    def on_timeout():
        calls.append(r.cursor)
        if len(calls) == 1:
            w.add(Payloads(0, 64).make(2))     # something for the next wait
            return None                        # go on
        return False

    seen = []
    n = r.process(lambda ev, end: seen.append(decode(ev)[1]), timeout=0.01, on_timeout=on_timeout)
    assert n == 3 and seen == [0, 1, 2]
    assert calls == [2, 3]


def test_on_timeout_that_raises_propagates():
    ring, w, r = filled(0)

    def on_timeout():
        raise KeyError("late")

    with pytest.raises(KeyError):
        r.process(lambda ev, end: None, timeout=0.001, on_timeout=on_timeout)
    assert r.next() is None                    # the reader is usable


def test_a_handler_that_closes_the_reader_stops_the_loop_and_unblocks_the_writer():
    ring, w, r = filled(8, capacity=8)

    def close_at_2(ev, end):
        if ev.sequence == 2:
            r.close()

    assert r.process(close_at_2) == 3
    assert r.closed
    with pytest.raises(rr.RingClosed):
        r.next()
    for i in range(8):                         # nobody gates the writer any more
        w.add(b"x", timeout=LIMIT)


def test_reading_from_the_reader_inside_its_handler_is_refused_and_the_loop_goes_on():
    ring, w, r = filled(4)
    ring.close()
    refused = []

    def reenter(ev, end):
        for call in (r.next, lambda: r.next_batch(2), lambda: r.next_block(2),
                     lambda: r.process(print), lambda: list(r)):
            with pytest.raises(RuntimeError, match="in use by an outer call"):
                call()
        refused.append(decode(ev)[1])
        assert r.lag >= 0 and r.cursor == 4    # properties answer

    assert r.process(reenter) == 4
    assert refused == [0, 1, 2, 3]


def test_another_reader_may_be_processed_inside_a_handler():
    ring, w, r = filled(3)
    other = ring.reader()
    ring.close()
    inner = []

    def outer(ev, end):
        if ev.sequence == 0:
            other.process(lambda e, end: inner.append(e.sequence))

    assert r.process(outer) == 3
    assert inner == [0, 1, 2]


def test_events_the_handler_keeps_stay_intact_and_pinned_while_the_reader_moves_on():
    ring = rr.Ring(64, 64)
    w, r = ring.writer(), ring.reader()
    p = Payloads(0, 64)
    kept = []

    def writer():
        for i in range(200):
            w.add(p.make(i), timeout=LIMIT)
        ring.close()

    def keep_some(ev, end):
        if ev.sequence % 20 == 0:
            kept.append(ev)
            if len(kept) == 3:
                return False

    workers = Workers()
    workers.start(writer, on_error=ring.close)
    assert r.process(keep_some) == 41
    # event 0 is kept: the writer fills the ring up to it and waits there
    wait_until(lambda: ring.published == 64, LIMIT, "the writer to fill the ring")
    assert r.process(lambda ev, end: decode(ev), timeout=0) == 64 - 41
    assert ring.published == 64 and r.pinned == 64      # 0 .. 63, from the kept 0 on
    assert [decode(ev)[1] for ev in kept] == [0, 20, 40]
    kept.clear()                               # the writer goes on
    assert r.process(lambda ev, end: decode(ev)) == 200 - 64
    workers.join(LIMIT)


def test_one_event_object_serves_every_event_nobody_keeps():
    ring, w, r = filled(20)
    ring.close()
    ids = set()
    r.process(lambda ev, end: ids.add(id(ev)), max_batch=7)
    assert len(ids) == 1


def test_an_event_kept_through_a_traceback_stays_valid():
    ring, w, r = filled(5)

    def boom(ev, end):
        raise ValueError(bytes(ev))

    with pytest.raises(ValueError) as info:
        r.process(boom, timeout=0)
    tb = info.value.__traceback__
    assert r.process(lambda ev, end: decode(ev), timeout=0) == 4
    while tb.tb_next:
        tb = tb.tb_next
    ev = tb.tb_frame.f_locals["ev"]
    assert decode(ev)[1] == 0 and ev.sequence == 0


def test_a_handler_that_drops_the_last_reference_to_itself_runs_to_the_end():
    ring, w, r = filled(3)
    ring.close()
    holder = {}

    class Handler:
        def __init__(self):
            self.seen = []

        def __call__(self, ev, end):
            self.seen.append(ev.sequence)
            holder.clear()
            gc.collect()

    holder["h"] = Handler()
    seen = holder["h"].seen
    assert r.process(holder["h"]) == 3
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
def test_process_in_a_thread_waits_with_the_gil_released_and_gets_every_event(mode):
    n = scaled(100_000)
    ring = rr.Ring(64, 256, mode=mode)
    r = ring.reader()
    w = ring.writer()
    p = Payloads(1, 64)
    seen = []
    result = []

    def check(ev, end):
        producer, seq = decode(ev)
        assert producer == 1
        seen.append(seq)

    workers = Workers()
    workers.start(lambda: result.append(r.process(check)), on_error=ring.close)
    for i in range(n):
        w.add(p.make(i), timeout=LIMIT)
    ring.close()
    workers.join(LIMIT)
    if mode == "backpressure":
        assert seen == list(range(n)) and result == [n]
    else:                                      # lapped readers skip, in order, and count it
        assert seen == sorted(set(seen)) and result == [len(seen)]
        assert len(seen) + r.lost == n


def test_overwrite_events_given_back_come_again():
    ring, w, r = filled(6, capacity=8, mode="overwrite")
    assert r.process(lambda ev, end: ev.sequence != 1, timeout=0) == 2
    assert [decode(e)[1] for e in r.next_batch(10)] == [2, 3, 4, 5]
    assert r.lost == 0


def test_max_batch_beyond_the_limit_is_capped_and_any_index_works():
    numpy = pytest.importorskip("numpy")
    ring, w, r = filled(5)
    ring.close()
    assert r.process(lambda ev, end: None, max_batch=numpy.int64(10**9)) == 5


def test_bad_arguments_are_clear_errors_and_leave_the_reader_usable():
    ring, w, r = filled(1)
    with pytest.raises(TypeError, match="handler must be callable, not int"):
        r.process(3)
    with pytest.raises(TypeError, match="on_timeout must be callable or None, not str"):
        r.process(print, on_timeout="x")
    with pytest.raises(ValueError, match="max_batch must be at least 1, got 0"):
        r.process(print, max_batch=0)
    with pytest.raises(ValueError, match="timeout must be >= 0 seconds, got -1 "):
        r.process(print, timeout=-1)
    with pytest.raises(TypeError):
        r.process(print, 10)                   # max_batch is keyword-only
    with pytest.raises(TypeError, match="missing required argument 'handler'"):
        r.process()
    assert decode(r.next())[1] == 0
    r.close()
    with pytest.raises(rr.RingClosed, match="the reader is closed"):
        r.process(print)


def test_a_reader_closed_from_another_thread_ends_the_loop():
    ring = rr.Ring(64, 8)
    r = ring.reader()
    started = threading.Event()
    result = []
    workers = Workers()
    workers.start(lambda: result.append(r.process(lambda ev, end: None,
                                                  on_timeout=started.set, timeout=0.001)))
    assert started.wait(LIMIT)
    r.close()
    workers.join(LIMIT)
    assert result == [0]


@pytest.mark.skipif(sys.platform != "linux", reason="signals between wait slices: Linux")
def test_a_signal_handler_that_raises_interrupts_the_wait():
    import signal

    ring = rr.Ring(64, 8)
    r = ring.reader()

    def alarm(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(KeyboardInterrupt):
            r.process(lambda ev, end: None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert r.next() is None
