"""Writers and readers on several Python threads.

Every payload carries its producer, its sequence and a checksum (payloads.py);
every reader verifies each event it gets and the order it gets them in. Readers
wait with timeouts (the GIL is released while they wait), never spin. Event
counts scale with RR_STRESS_SCALE.
"""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import rusted_ring as rr
from payloads import Payloads, Workers, decode, scaled, wait_until

WAIT = 0.5          # one blocking read
STALL = 60.0        # no progress for this long is a failure
JOIN = 300.0        # a whole test's threads


def read_until_closed(ring, reader, style, check, seed):
    """Hand every event to check(ev) until the ring is closed and drained.
    style: "next" (one at a time), "batch" (next_batch) or "mixed"."""
    rnd = random.Random(seed)
    progress = time.monotonic()
    while True:
        closed_before = ring.closed
        if style == "next" or (style == "mixed" and rnd.random() < 0.3):
            ev = reader.next(timeout=WAIT)
            batch = () if ev is None else (ev,)
            ev = None
        else:
            batch = reader.next_batch(rnd.randint(1, 300) if style == "mixed" else 256,
                                      timeout=WAIT)
        if not batch:
            if closed_before:
                return
            assert time.monotonic() - progress < STALL, f"no event for {STALL} s"
            continue
        for ev in batch:
            check(ev)
        batch = ev = None   # let the slots go before asking for more
        progress = time.monotonic()


class InOrder:
    """A reader's check: one producer, every sequence once, in order, with its type."""

    def __init__(self, exact):
        self.exact = exact      # backpressure: no gaps; overwrite: only increasing
        self.count = 0
        self.last = -1

    def __call__(self, ev):
        producer, seq = decode(ev)
        assert producer == 0
        assert ev.sequence == seq, f"event {ev.sequence} carries payload {seq}"
        assert ev.event_type == seq & 0xFFFF
        if self.exact:
            assert seq == self.last + 1, f"expected {self.last + 1}, got {seq}"
        else:
            assert seq > self.last, f"{seq} after {self.last}"
        self.last = seq
        self.count += 1


def write_all(ring, n, slot_size, seed):
    """One writer: n payloads, singly and in batches of varying size, then close."""
    src = Payloads(0, slot_size, seed)
    rnd = random.Random(seed)
    w = ring.writer()
    seq = 0
    while seq < n:
        k = min(n - seq, rnd.choice((1, 1, 1, 7, 64)))
        if k == 1:
            assert w.add(src.make(seq), seq & 0xFFFF, timeout=STALL) == seq
        else:
            batch = [src.make(s) for s in range(seq, seq + k)]
            assert w.add_batch(batch, [s & 0xFFFF for s in range(seq, seq + k)],
                               timeout=STALL) == k
        seq += k
    w.close()
    ring.close()


@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
def test_one_writer_three_readers_verify_every_event(mode):
    """Backpressure: every reader gets all events, in order, intact. Overwrite: every
    reader gets intact events in increasing order and delivered + lost == published."""
    n = scaled(1_000_000)
    ring = rr.Ring(64, 1024, mode=mode)
    readers = [ring.reader() for _ in range(3)]
    checks = [InOrder(exact=mode == "backpressure") for _ in readers]
    workers = Workers()
    for i, (reader, style) in enumerate(zip(readers, ("next", "batch", "mixed"))):
        workers.start(read_until_closed, ring, reader, style, checks[i], i,
                      on_error=reader.close, name=f"reader-{style}")
    workers.start(write_all, ring, n, 64, 7, on_error=ring.close, name="writer")
    workers.join(JOIN)

    assert ring.published == n
    for reader, check in zip(readers, checks):
        assert reader.cursor == n and reader.lag == 0
        assert reader.delivered == check.count
        if mode == "backpressure":
            assert (check.count, reader.lost) == (n, 0)
        else:
            assert check.count + reader.lost == n, (check.count, reader.lost)
            assert check.count > 0
    assert sum(e["lost"] for e in ring.stats()["readers"]) == sum(r.lost for r in readers)


@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
def test_multi_producer_ring_keeps_each_producers_order(mode):
    """Three producer threads, two of them sharing one Writer, on a multi-producer
    ring; each reader sees each producer's events in the order that producer wrote them."""
    per_producer = scaled(100_000)
    ring = rr.Ring(64, 512, mode=mode, producers="multi")
    shared, own = ring.writer(), ring.writer()
    readers = [ring.reader() for _ in range(3)]
    exact = mode == "backpressure"

    def produce(writer, producer):
        src = Payloads(producer, 64, seed=3)
        for seq in range(per_producer):
            writer.add(src.make(seq), producer, timeout=STALL)

    class PerProducer:
        def __init__(self):
            self.last = [-1, -1, -1]
            self.last_sequence = -1
            self.count = 0

        def __call__(self, ev):
            producer, seq = decode(ev)
            assert ev.event_type == producer
            if exact:
                assert seq == self.last[producer] + 1, (producer, seq, self.last)
                assert ev.sequence == self.last_sequence + 1
            else:
                assert seq > self.last[producer], (producer, seq, self.last)
                assert ev.sequence > self.last_sequence
            self.last[producer] = seq
            self.last_sequence = ev.sequence
            self.count += 1

    checks = [PerProducer() for _ in readers]
    consumers = Workers()
    for i, (reader, style) in enumerate(zip(readers, ("next", "batch", "mixed"))):
        consumers.start(read_until_closed, ring, reader, style, checks[i], i,
                        on_error=reader.close, name=f"reader-{style}")
    producers = Workers()
    for producer, writer in enumerate((shared, shared, own)):
        producers.start(produce, writer, producer, on_error=ring.close, name=f"producer-{producer}")
    producers.join(JOIN)
    ring.close()
    consumers.join(JOIN)

    total = 3 * per_producer
    assert ring.published == total
    for reader, check in zip(readers, checks):
        assert reader.skipped == 0
        assert reader.cursor == total
        if exact:
            assert check.count == total and check.last == [per_producer - 1] * 3
        else:
            assert check.count + reader.lost == total, (check.count, reader.lost)


def reader_is_waiting(reader):
    """True while another thread waits in reader (its figures are then off limits)."""
    try:
        reader.cursor
    except RuntimeError:
        return True
    return False


def test_reader_blocked_without_timeout_returns_none_when_the_ring_is_closed():
    ring = rr.Ring(16, 8)
    reader = ring.reader()
    got = []
    workers = Workers()
    workers.start(lambda: got.append(reader.next(timeout=None)), name="reader")
    wait_until(lambda: reader_is_waiting(reader), 10, "the reader to block")
    ring.close()
    workers.join(10)
    assert got == [None]
    assert reader.next() is None                  # and it stays at the end of the stream


def test_reader_blocked_without_timeout_gets_the_event_published_meanwhile():
    ring = rr.Ring(16, 8)
    reader, writer = ring.reader(), ring.writer()
    got = []
    workers = Workers()
    workers.start(lambda: got.append(bytes(reader.next(timeout=None))), name="reader")
    wait_until(lambda: reader_is_waiting(reader), 10, "the reader to block")
    writer.add(b"wake up", 3)
    workers.join(10)
    assert got == [b"wake up"]


def test_writer_blocked_on_a_full_ring_wakes_with_ring_closed_when_the_ring_closes():
    ring = rr.Ring(16, 4)
    writer, reader = ring.writer(), ring.reader()   # the reader never reads: the ring fills
    for i in range(4):
        writer.add(bytes([i]))
    outcome = []

    def blocked_add():
        try:
            writer.add(b"one too many", timeout=None)
            outcome.append("added")
        except rr.RingClosed:
            outcome.append("closed")

    def writer_is_waiting():
        try:
            writer.try_add(b"")
        except RuntimeError:         # a single writer in use by the waiting thread
            return True
        return False

    workers = Workers()
    workers.start(blocked_add, name="writer")
    wait_until(writer_is_waiting, 10, "the writer to block")
    assert ring.published == 4
    ring.close()
    workers.join(10)
    assert outcome == ["closed"]
    assert ring.published == 4
    assert [bytes(ev) for ev in reader] == [bytes([i]) for i in range(4)]   # drained after close


def test_writer_blocked_on_a_full_ring_continues_when_a_reader_catches_up():
    ring = rr.Ring(16, 4)
    writer, reader = ring.writer(), ring.reader()
    for i in range(4):
        writer.add(bytes([i]))
    seqs = []
    workers = Workers()
    workers.start(lambda: seqs.append(writer.add(b"fifth", timeout=30)), name="writer")
    wait_until(lambda: ring.stats()["writer_stalls"] > 0, 10, "the writer to find the ring full")
    got = [bytes(ev) for ev in reader]       # reading frees the slots
    workers.join(30)
    assert seqs == [4]
    got += [bytes(ev) for ev in reader]
    assert got == [bytes([i]) for i in range(4)] + [b"fifth"]


def test_an_add_that_waits_then_times_out_counts_one_writer_stall():
    """writer_stalls counts the times a writer found the ring full: one add that waits
    for room is one stall, however long it waits."""
    ring = rr.Ring(8, 2)
    writer, _reader = ring.writer(), ring.reader()
    writer.add(b"a")
    writer.add(b"b")
    assert ring.stats()["writer_stalls"] == 0
    with pytest.raises(rr.RingFull):
        writer.add(b"c", timeout=0.3)
    assert ring.stats()["writer_stalls"] == 1


CHILD = textwrap.dedent("""
    import sys, threading, time
    import rusted_ring as rr
    ring = rr.Ring(16, 8)
    reader = ring.reader()

    def announce():
        # "waiting" only once the main thread is inside the blocking call
        while True:
            try:
                reader.cursor
            except RuntimeError:
                break
            time.sleep(0.001)
        print("waiting", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        reader.next(timeout=None)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    else:
        print("returned without an interrupt", flush=True)
        sys.exit(1)
    print("usable" if reader.next() is None else "not usable", flush=True)
""")


def test_ctrl_c_interrupts_a_reader_blocked_without_timeout():
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(rr.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [pkg] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    # A child inherits an ignored SIGINT (a shell's background job has one),
    # and Python then raises no KeyboardInterrupt: give it the default back.
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=pkg,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = child.stdout.readline()
        assert line == "waiting\n", (line, child.stderr.read() if child.poll() is not None else "")
        sent = time.monotonic()
        os.kill(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, (out, err)
    assert out.split() == ["interrupted", "usable"], (out, err)
    assert elapsed < 5, f"the interrupt took {elapsed:.1f} s"
