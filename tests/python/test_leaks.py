"""Nothing leaks: Python objects, core handles, reader-table entries, pins.

Memory is measured after a warm-up, by tracemalloc (every Python allocation,
events included) and by the process's resident size (the core's own mallocs),
with generous bounds: a leak of a few bytes per cycle over 10^6 cycles is tens
of megabytes. Cycle counts scale with RR_STRESS_SCALE.
"""
import gc
import os
import tracemalloc

import pytest

import rusted_ring as rr
from payloads import Payloads, decode, scaled

PAGE = os.sysconf("SC_PAGE_SIZE")
PY_BOUND = 64 * 1024             # traced Python bytes half a run may keep
RSS_BOUND = 16 * 1024 * 1024     # resident bytes a whole run may add
# Under AddressSanitizer (its runtime preloaded into this interpreter) freed memory
# waits in a quarantine of up to 256 MiB before it is reused, so the resident size
# measures the sanitizer, not the binding; the traced Python bytes are still checked.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

# `make sanitize-python` (RR_SANITIZED=1) runs the suite with the extension under
# ASan, whose quarantine keeps freed memory resident: the resident size grows
# whatever the binding does, so the memory checks run in the normal build only.
skip_sanitized = pytest.mark.skipif(
    os.environ.get("RR_SANITIZED") == "1",
    reason="resident size is meaningless under ASan (its quarantine keeps freed memory resident)")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def assert_flat(run, cycles):
    """run(n) does n cycles; after a warm-up, `cycles` more must not grow memory.

    The run is measured in two halves and the smaller growth must stay under the
    bound: a leak grows both, while the interpreter's own one-off growth (a cache or
    table of its own resized once, a few hundred KiB seen at unpredictable points)
    lands in one at most."""
    run(max(1, cycles // 20))
    gc.collect()
    tracemalloc.start()
    try:
        rss_before = rss()
        grown = []
        for _ in range(2):
            before = tracemalloc.get_traced_memory()[0]
            run(cycles // 2)
            gc.collect()
            grown.append(tracemalloc.get_traced_memory()[0] - before)
        rss_grown = rss() - rss_before
    finally:
        tracemalloc.stop()
    assert min(grown) < PY_BOUND, f"Python bytes kept by each half of {cycles} cycles: {grown}"
    assert UNDER_ASAN or rss_grown < RSS_BOUND, \
        f"resident size grew by {rss_grown} bytes over {cycles} cycles"


MODES = ["backpressure", "overwrite"]


# ---- add / next cycles ---------------------------------------------------------------------

@skip_sanitized
@pytest.mark.parametrize("mode", MODES)
def test_a_million_add_next_cycles_leave_memory_flat_and_the_table_empty(mode):
    ring = rr.Ring(64, 256, mode=mode)
    src = Payloads(0, 64)
    payloads = [src.make(i) for i in range(251)]
    writer = ring.writer()
    readers = [ring.reader(), ring.reader()]
    state = {"n": 0, "kept": None}

    def run(cycles):
        r0, r1 = readers
        add, next0, next1 = writer.add, r0.next, r1.next
        n = state["n"]
        for _ in range(cycles):
            assert add(payloads[n % 251], 1) == n
            ev = next0()                  # dropped at once
            assert ev.sequence == n
            kept, state["kept"] = state["kept"], next1()   # kept one cycle: a hold
            n += 1
        kept = ev = None
        state["n"] = n

    assert_flat(run, scaled(1_000_000))
    assert decode(state["kept"]) == (0, (state["n"] - 1) % 251)
    state["kept"] = None
    assert ring.stats()["reader_count"] == 2
    del readers[:]
    assert ring.stats()["reader_count"] == 0
    assert ring.published == state["n"]


@skip_sanitized
@pytest.mark.parametrize("mode", MODES)
def test_batched_add_next_cycles_leave_memory_flat(mode):
    ring = rr.Ring(64, 256, mode=mode)
    batch = [bytes([i]) * i for i in range(32)]
    writer, reader = ring.writer(), ring.reader()

    def run(cycles):
        for _ in range(max(1, cycles // 32)):
            assert writer.add_batch(batch, 9) == 32
            events = reader.next_batch(64)
            assert [bytes(ev) for ev in events] == batch
            events = None

    assert_flat(run, scaled(1_000_000))
    del reader
    assert ring.stats()["reader_count"] == 0


# ---- reader create / drop cycles --------------------------------------------------------

@skip_sanitized
@pytest.mark.parametrize("mode", MODES)
def test_ten_thousand_reader_lifetimes_leave_memory_flat_and_the_table_empty(mode):
    """Readers dropped unused, after reading, after a closed read, and while one of
    their events is still held: each leaves the table once nothing needs it."""
    ring = rr.Ring(32, 16, mode=mode)
    writer = ring.writer()

    def run(cycles):
        for i in range(max(1, cycles // 4)):
            ring.reader()                           # dropped unused
            r = ring.reader("oldest")               # dropped after reading
            assert len(r.next_batch(16)) <= 16      # what the ring still holds
            assert r.next() is None                 # moving on lets the writer reuse it
            writer.add(b"%d" % i, 2, timeout=5)
            assert bytes(r.next()) == b"%d" % i
            r = None
            with ring.reader("latest") as r:        # closed, not dropped
                writer.add(b"x", timeout=5)
                assert bytes(r.next()) == b"x"
            r = ring.reader("latest")               # dropped while its event lives on
            writer.add(b"kept %d" % i, timeout=5)
            ev = r.next()
            r = None
            assert ring.stats()["reader_count"] == 1
            assert bytes(ev) == b"kept %d" % i
            ev = None
            assert ring.stats()["reader_count"] == 0

    assert_flat(run, scaled(10_000) * 4)
    assert ring.stats()["reader_count"] == 0


@skip_sanitized
def test_ten_thousand_writer_lifetimes_leave_memory_flat():
    ring = rr.Ring(16, 4, mode="overwrite")

    def run(cycles):
        for _ in range(cycles):
            ring.writer().add(b"w")              # a single-writer slot, freed on drop
            with ring.writer() as w:
                w.add(b"w")

    assert_flat(run, scaled(10_000))
    assert ring.stats()["writers"] == 0


# ---- events outliving their reader ----------------------------------------------------------

@pytest.mark.parametrize("how", ["close", "drop"])
def test_backpressure_events_outliving_their_reader_keep_their_slots_until_each_goes(how):
    ring = rr.Ring(16, 4)
    writer = ring.writer()
    for i in range(4):
        writer.add(b"event %d" % i, i)
    reader = ring.reader()
    events = [reader.next() for _ in range(4)]
    if how == "close":
        reader.close()
    del reader
    assert ring.stats()["reader_count"] == 1             # still pinning its slots
    assert writer.try_add(b"overwrite?") is False
    assert [(bytes(ev), ev.event_type, ev.sequence) for ev in events] == \
        [(b"event %d" % i, i, i) for i in range(4)]

    events[0] = None                                      # frees slot 0 only
    assert writer.try_add(b"e4") is True
    assert writer.try_add(b"e5") is False
    events[2] = None                                      # out of order: event 1 still pins
    assert writer.try_add(b"e5") is False
    events[1] = None                                      # slots 1 and 2 free; 3 still pinned
    assert (writer.try_add(b"e5"), writer.try_add(b"e6"), writer.try_add(b"e7")) == \
        (True, True, False)
    assert bytes(events[3]) == b"event 3"
    assert ring.stats()["reader_count"] == 1
    events[3] = None                                      # the last one: the reader goes
    assert ring.stats()["reader_count"] == 0
    assert writer.try_add(b"e7") is True


@pytest.mark.parametrize("how", ["close", "drop"])
def test_overwrite_events_outliving_their_reader_stay_intact(how):
    ring = rr.Ring(16, 4, mode="overwrite")
    writer = ring.writer()
    for i in range(4):
        writer.add(b"event %d" % i, i)
    reader = ring.reader()
    events = reader.next_batch(4)
    if how == "close":
        reader.close()
    del reader
    # copies pin nothing: a closed reader leaves at once, a dropped one with its last event
    assert ring.stats()["reader_count"] == (0 if how == "close" else 1)
    for i in range(12):
        writer.add(b"later %d" % i)
    assert [(bytes(ev), ev.event_type, ev.sequence) for ev in events] == \
        [(b"event %d" % i, i, i) for i in range(4)]
    del events
    assert ring.stats()["reader_count"] == 0


@pytest.mark.parametrize("mode", MODES)
def test_memoryview_of_an_event_outliving_reader_and_event_reads_correctly(mode):
    ring = rr.Ring(16, 2, mode=mode)
    writer = ring.writer()
    reader = ring.reader()
    writer.add(b"payload")
    view = reader.next().data
    reader.close()
    del reader
    for _ in range(4):
        writer.try_add(b"other")
    assert view.tobytes() == b"payload"
    assert ring.stats()["reader_count"] == (1 if mode == "backpressure" else 0)
    view.release()
    assert ring.stats()["reader_count"] == 0


# ---- claims and writers ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("producers", ["single", "multi"])
def test_claim_entered_and_dropped_without_exit_is_abandoned(mode, producers):
    ring = rr.Ring(16, 4, mode=mode, producers=producers)
    writer, reader = ring.writer(), ring.reader()
    claim = writer.claim(5)
    slot = claim.__enter__()
    slot[:6] = b"ghost!"
    slot.length = 6
    slot = claim = None                       # never exited
    assert ring.stats()["abandoned"] == 1
    assert reader.next() is None              # no reader ever sees it
    seq = writer.add(b"real", 6)
    ev = reader.next()
    assert (bytes(ev), ev.event_type, ev.sequence) == (b"real", 6, seq)
    assert reader.next() is None
    if producers == "single":
        assert seq == 0                        # the sequence is reused
    else:
        assert seq == 1 and reader.skipped == 1


def test_dropping_a_writer_frees_the_single_writer_slot():
    ring = rr.Ring(16, 4)
    writer = ring.writer()
    with pytest.raises(rr.WriterBusy):
        ring.writer()
    del writer
    writer = ring.writer()
    assert writer.add(b"again") == 0
    assert ring.stats()["writers"] == 1


def test_writer_closed_or_dropped_with_an_open_claim_is_released_when_the_claim_goes():
    ring = rr.Ring(16, 4)
    writer, reader = ring.writer(), ring.reader()
    claim = writer.claim()
    claim.__enter__()
    writer.close()
    writer = None
    with pytest.raises(rr.WriterBusy):          # the claim keeps the writer open
        ring.writer()
    claim = None                                # abandons it and releases the writer
    assert ring.stats()["abandoned"] == 1
    writer = ring.writer()
    writer.add(b"next")
    assert [bytes(ev) for ev in reader] == [b"next"]
