"""Nothing leaks: Python objects, core handles, reader-table entries, pins.

Memory is measured after a warm-up, by tracemalloc (every Python allocation,
events included), by the C heap's bytes in use (glibc's mallinfo2: the core's
own mallocs, which tracemalloc does not see) and by the process's resident
size. The first two are exact, so the bounds are small and a run of a few
thousand calls catches a leak of one object (16 bytes) per call;
test_the_checks_catch_one_small_object_kept_per_cycle proves it at the
smallest count a test here runs. Counts grow with RR_STRESS_SCALE above 1 and
never shrink below that.
"""
import ctypes
import gc
import os
import tracemalloc

import pytest

import rusted_ring as rr
from payloads import Payloads, decode, scaled

PAGE = os.sysconf("SC_PAGE_SIZE")
PY_BOUND = 8 * 1024              # traced Python bytes half a run may keep (seen: < 300)
HEAP_BOUND = 32 * 1024           # C heap bytes half a run may keep (seen: < 2 KiB)
RSS_BOUND = 16 * 1024 * 1024     # resident bytes a whole run may add
# The fewest calls of each kind half of a test's run makes: one 16-byte object
# kept per call is then 4 times PY_BOUND, one 16-byte malloc (a 32-byte chunk)
# twice HEAP_BOUND.
LEAST_CALLS = 2048
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


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


_libc = ctypes.CDLL(None)
_mallinfo2 = getattr(_libc, "mallinfo2", None)   # glibc 2.33+
if _mallinfo2 is not None:
    _mallinfo2.restype = _Mallinfo2


def heap():
    """Bytes the C heap has handed out and not had back (None without mallinfo2, or
    under ASan, whose allocator glibc's statistics do not see)."""
    if _mallinfo2 is None or UNDER_ASAN:
        return None
    m = _mallinfo2()
    return m.uordblks + m.hblkhd


def cycles_of(n):
    """n cycles, more with RR_STRESS_SCALE above 1, never fewer: the bounds above
    are sized for n."""
    return scaled(n, least=n)


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
        grown, heap_grown = [], []
        for _ in range(2):
            before, heap_before = tracemalloc.get_traced_memory()[0], heap()
            run(cycles // 2)
            gc.collect()
            grown.append(tracemalloc.get_traced_memory()[0] - before)
            if heap_before is not None:
                heap_grown.append(heap() - heap_before)
        rss_grown = rss() - rss_before
    finally:
        tracemalloc.stop()
    # A longer run may keep more of the interpreter's and NumPy's own slow-filling
    # caches (13-20 KiB seen over 10^4 block cycles with as_array, in either build),
    # so its bound grows with it, staying a quarter of what one 16-byte object kept
    # per cycle would add: such a leak is still 4 times the bound.
    py_bound = max(PY_BOUND, (cycles // 2) * 16 // 4)
    assert min(grown) < py_bound, f"Python bytes kept by each half of {cycles} cycles: {grown}"
    assert not heap_grown or min(heap_grown) < HEAP_BOUND, \
        f"C heap bytes kept by each half of {cycles} cycles: {heap_grown}"
    assert UNDER_ASAN or rss_grown < RSS_BOUND, \
        f"resident size grew by {rss_grown} bytes over {cycles} cycles"


MODES = ["backpressure", "overwrite"]


# ---- the checks themselves -------------------------------------------------------------------

def test_the_checks_catch_one_small_object_kept_per_cycle():
    kept = []

    def run(cycles):
        for _ in range(cycles):
            kept.append(object())        # 16 bytes, the smallest Python object

    with pytest.raises(AssertionError, match="Python bytes kept"):
        assert_flat(run, 2 * LEAST_CALLS)


@pytest.mark.skipif(heap() is None, reason="no mallinfo2 (glibc 2.33+), or under ASan")
def test_the_checks_catch_one_small_malloc_kept_per_cycle():
    _libc.malloc.restype = ctypes.c_void_p
    _libc.malloc.argtypes = [ctypes.c_size_t]
    _libc.free.argtypes = [ctypes.c_void_p]
    cycles = 2 * LEAST_CALLS
    kept = (ctypes.c_void_p * (cycles + cycles // 20))()   # C words: no Python object kept
    state = {"n": 0}

    def run(n):
        i = state["n"]
        for _ in range(n):
            kept[i] = _libc.malloc(16)
            i += 1
        state["n"] = i

    try:
        with pytest.raises(AssertionError, match="C heap bytes kept"):
            assert_flat(run, cycles)
    finally:
        for i in range(state["n"]):
            _libc.free(kept[i])


# ---- add / next cycles ---------------------------------------------------------------------

@skip_sanitized
@pytest.mark.parametrize("mode", MODES)
def test_add_next_cycles_leave_memory_flat_and_the_table_empty(mode):
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

    assert_flat(run, cycles_of(2 * LEAST_CALLS))
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

    assert_flat(run, cycles_of(2 * LEAST_CALLS * 32))   # 32 events a call
    del reader
    assert ring.stats()["reader_count"] == 0


# ---- reader create / drop cycles --------------------------------------------------------

@skip_sanitized
@pytest.mark.parametrize("mode", MODES)
def test_reader_lifetimes_leave_memory_flat_and_the_table_empty(mode):
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

    assert_flat(run, cycles_of(2 * LEAST_CALLS * 4))    # 4 cycles a round
    assert ring.stats()["reader_count"] == 0


@skip_sanitized
def test_writer_lifetimes_leave_memory_flat():
    ring = rr.Ring(16, 4, mode="overwrite")

    def run(cycles):
        for _ in range(cycles):
            ring.writer().add(b"w")              # a single-writer slot, freed on drop
            with ring.writer() as w:
                w.add(b"w")

    assert_flat(run, cycles_of(2 * LEAST_CALLS))
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
