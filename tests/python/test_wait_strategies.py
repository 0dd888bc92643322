"""Wait strategies: ring.reader(wait=...) and ring.writer(wait=...).

"block" (the default) sleeps until woken; "yield", "spin" and "sleep" never
sleep on the ring, so the other side never pays for a wake-up. A strategy
changes how a handle waits, never what it gets: every strategy is checked
here across threads with self-checking payloads (payloads.py), for its
timeouts and for the close. Event counts scale with RR_STRESS_SCALE; "spin"
gets a tenth of them, since each spinning thread keeps a core busy and this
machine may have fewer cores than threads.
"""
import time

import pytest

import rusted_ring as rr
from payloads import Payloads, Workers, decode, scaled, wait_until

STRATEGIES = ("block", "yield", "spin", "sleep")
STALL = 60.0        # a wait that lasts this long has failed
JOIN = 300.0


def events_for(wait, n):
    return scaled(n // 10 if wait == "spin" else n)


def test_the_strategies_are_the_cores_names_block_first():
    assert rr.WAIT_STRATEGIES == STRATEGIES
    assert rr._core.WAIT_STRATEGIES is rr.WAIT_STRATEGIES


# ---- across threads ------------------------------------------------------------------------

def read_all(reader, check):
    """Every event until the ring is closed and drained, alternating next and next_batch."""
    i = 0
    while True:
        if i % 2:
            batch = reader.next_batch(7, timeout=STALL)
        else:
            ev = reader.next(timeout=STALL)
            batch = [] if ev is None else [ev]
        if not batch:
            return
        for ev in batch:
            check(ev)
        batch = ev = None
        i += 1


class InOrder:
    def __init__(self, exact):
        self.exact = exact
        self.last = -1
        self.count = 0

    def __call__(self, ev):
        producer, seq = decode(ev)
        assert producer == 0 and ev.sequence == seq and ev.event_type == seq & 0xFFFF
        assert seq == self.last + 1 if self.exact else seq > self.last, (seq, self.last)
        self.last = seq
        self.count += 1


@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
@pytest.mark.parametrize("wait", STRATEGIES)
def test_every_strategy_delivers_every_event_intact_across_threads(wait, mode):
    n = events_for(wait, 100_000)
    ring = rr.Ring(64, 16, mode=mode)
    readers = [ring.reader(wait=wait) for _ in range(2)]
    assert [r.wait for r in readers] == [wait, wait]
    checks = [InOrder(exact=mode == "backpressure") for _ in readers]

    def write():
        src = Payloads(0, 64, seed=11)
        with ring.writer(wait=wait) as w:
            assert w.wait == wait
            for seq in range(n):
                assert w.add(src.make(seq), seq & 0xFFFF, timeout=STALL) == seq
        ring.close()

    workers = Workers()
    for i, (reader, check) in enumerate(zip(readers, checks)):
        workers.start(read_all, reader, check, on_error=reader.close, name=f"reader-{i}")
    workers.start(write, on_error=ring.close, name="writer")
    workers.join(JOIN)
    assert ring.published == n
    for reader, check in zip(readers, checks):
        if mode == "backpressure":
            assert (check.count, check.last, reader.lost) == (n, n - 1, 0)
        else:
            assert check.count + reader.lost == n and check.count > 0


@pytest.mark.parametrize("wait", STRATEGIES)
def test_every_strategy_of_several_producers_keeps_each_producers_order(wait):
    per = events_for(wait, 20_000)
    ring = rr.Ring(64, 32, producers="multi")
    reader = ring.reader(wait=wait)
    last = [-1, -1]

    def check(ev):
        producer, seq = decode(ev)
        assert ev.event_type == producer and seq == last[producer] + 1
        last[producer] = seq

    def produce(producer):
        src = Payloads(producer, 64, seed=5)
        w = ring.writer(wait=wait)
        for seq in range(per):
            w.add(src.make(seq), producer, timeout=STALL)
        w.close()

    consumer = Workers()
    consumer.start(read_all, reader, check, on_error=reader.close, name="reader")
    producers = Workers()
    for p in range(2):
        producers.start(produce, p, on_error=ring.close, name=f"producer-{p}")
    producers.join(JOIN)
    ring.close()
    consumer.join(JOIN)
    assert last == [per - 1, per - 1]


# ---- properties and stats ------------------------------------------------------------------

def test_block_is_the_default_and_the_properties_say_each_handles_strategy():
    ring = rr.Ring(16, 8, producers="multi")
    assert ring.reader().wait == "block" and ring.writer().wait == "block"
    assert ring.reader("latest").wait == "block"
    readers = {w: ring.reader(wait=w) for w in STRATEGIES}
    writers = {w: ring.writer(wait=w) for w in STRATEGIES}
    for w in STRATEGIES:
        assert readers[w].wait == w and writers[w].wait == w
    latest = ring.reader(start="latest", wait="sleep")
    assert latest.wait == "sleep"
    readers["spin"].close()
    writers["yield"].close()
    assert readers["spin"].wait == "spin" and writers["yield"].wait == "yield"   # after close too


def test_stats_show_each_readers_strategy_and_the_last_opened_writers():
    ring = rr.Ring(16, 8, producers="multi")
    assert ring.stats()["writer_wait"] == "block"        # no writer yet
    readers = [ring.reader(wait=w) for w in STRATEGIES]
    ring.writer(wait="spin")
    w = ring.writer(wait="sleep")
    s = ring.stats()
    assert s["writer_wait"] == "sleep"
    assert [e["wait"] for e in s["readers"]] == list(STRATEGIES)
    assert "writer_wait" in rr._core.RING_STATS_FIELDS and "wait" in rr._core.READER_STATS_FIELDS
    rows = rr.snapshot([ring])
    assert [row["wait"] for row in rows] == list(STRATEGIES)
    assert {row["writer_wait"] for row in rows} == {"sleep"}
    assert readers and w


def test_the_default_pools_readers_and_writers_block():
    ring = rr.EventPoolFactory.get_ring(rr.PoolId.XS)
    reader, writer = ring.reader(), ring.writer()
    try:
        assert reader.wait == "block" and writer.wait == "block"
        factory_reader = rr.EventPoolFactory.get_reader(rr.PoolId.XS)
        factory_writer = rr.EventPoolFactory.get_writer(rr.PoolId.XS)
        assert factory_reader.wait == "block" and factory_writer.wait == "block"
        factory_reader.close()
        factory_writer.close()
    finally:
        reader.close()
        writer.close()


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["busy", "Block", "", "block ", "spinning"])
def test_an_unknown_strategy_is_a_value_error_naming_the_choices(bad):
    ring = rr.Ring(16, 8)
    with pytest.raises(ValueError, match='wait must be "block", "yield", "spin" or "sleep"'):
        ring.reader(wait=bad)
    with pytest.raises(ValueError, match='"block", "yield", "spin" or "sleep"'):
        ring.writer(wait=bad)
    # nothing was taken: the reader table is empty and the single writer's role is free
    assert ring.stats()["reader_count"] == 0
    with ring.writer(wait="yield") as w, ring.reader(wait="yield") as r:
        w.add(b"x")
        assert bytes(r.next(timeout=5)) == b"x"


@pytest.mark.parametrize("bad", [1, None, b"block", ["block"], 0.5])
def test_a_strategy_that_is_not_a_str_is_a_type_error(bad):
    ring = rr.Ring(16, 8)
    with pytest.raises(TypeError, match="wait must be a str"):
        ring.reader(wait=bad)
    with pytest.raises(TypeError, match="wait must be a str"):
        ring.writer(wait=bad)


def test_wait_is_keyword_only():
    ring = rr.Ring(16, 8)
    with pytest.raises(TypeError):
        ring.reader("oldest", "yield")
    with pytest.raises(TypeError):
        ring.writer("yield")


# ---- timeouts and the close ----------------------------------------------------------------

@pytest.mark.parametrize("wait", STRATEGIES)
def test_every_strategy_honours_the_timeout(wait):
    ring = rr.Ring(16, 2)
    reader, writer = ring.reader(wait=wait), ring.writer(wait=wait)
    t0 = time.monotonic()
    assert reader.next(timeout=0.05) is None
    assert 0.05 <= time.monotonic() - t0 < 5
    t0 = time.monotonic()
    assert reader.next_batch(4, timeout=0.05) == []
    assert 0.05 <= time.monotonic() - t0 < 5
    writer.add(b"a")
    writer.add(b"b")
    t0 = time.monotonic()
    with pytest.raises(rr.RingFull):
        writer.add(b"c", timeout=0.05)          # the reader gates: full
    assert 0.05 <= time.monotonic() - t0 < 5
    assert not writer.try_add(b"c")             # a try never waits, whatever the strategy


def reader_is_waiting(reader):
    try:
        reader.cursor
    except RuntimeError:
        return True
    return False


@pytest.mark.parametrize("wait", STRATEGIES)
def test_the_close_wakes_a_reader_and_a_writer_waiting_without_limit(wait):
    ring = rr.Ring(16, 1)
    gate = ring.reader()                         # reads nothing: the writer finds the ring full
    reader, writer = ring.reader(wait=wait), ring.writer(wait=wait)
    writer.add(b"first")
    assert bytes(reader.next()) == b"first"
    got, raised = [], []

    def add_forever():
        try:
            writer.add(b"second", timeout=None)
        except rr.RingClosed as e:
            raised.append(e)

    workers = Workers()
    workers.start(lambda: got.append(reader.next(timeout=None)), name="reader")
    workers.start(add_forever, name="writer")
    wait_until(lambda: reader_is_waiting(reader), 10, "the reader to wait")
    wait_until(lambda: ring.stats()["writer_stalls"] == 1, 10, "the writer to find the ring full")
    ring.close()
    workers.join(10)
    assert got == [None] and len(raised) == 1
    assert gate.cursor == 0
