"""Event objects are reused, never while anyone can still see them.

A reader owns its last call's events; at its next call, an event nobody else
references is handed out again with new fields, and one that is still
referenced (a variable, a list, a buffer taken from it) is left alone, valid
for as long as it lives. In steady state reading allocates nothing per event,
and add() of bytes allocates no int when nobody keeps the sequence it returned.

Every payload carries a producer, a sequence and a checksum (payloads.py), so a
reused object that was still someone's shows up as the wrong bytes.
"""
import gc
import re
import shutil
import subprocess
import sys
import sysconfig
import tracemalloc
from pathlib import Path

import pytest

import rusted_ring as rr
from payloads import Payloads, decode

MODES = ["backpressure", "overwrite"]


def read_all(r):
    out = []
    while (ev := r.next()) is not None:
        out.append(ev)
    return out


@pytest.mark.parametrize("mode", MODES)
def test_an_event_you_keep_is_never_handed_out_again_and_keeps_its_bytes(mode):
    ring = rr.Ring(64, 64, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(1, 64)
    kept, seen = [], 0
    for s in range(600):
        w.add(gen.make(s))
        ev = r.next()
        assert decode(ev) == (1, s)
        assert all(ev is not k for k, _ in kept)
        if s % 7 == 0 and len(kept) < 8:
            kept.append((ev, bytes(ev)))      # a slot each in backpressure mode
        seen += 1
        del ev
        # let go of what the writer is about to need again (backpressure: it
        # would wait for those slots), and of some more now and then
        kept = [(k, b) for k, b in kept if s - k.sequence < 32]
        if s % 50 == 0:
            kept = kept[len(kept) // 2:]
        for k, b in kept:
            assert bytes(k) == b
    assert seen == 600
    assert len({id(k) for k, _ in kept}) == len(kept)


@pytest.mark.parametrize("mode", MODES)
def test_an_event_kept_across_many_next_calls_keeps_its_bytes(mode):
    ring = rr.Ring(64, 16, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(2, 64)
    w.add(gen.make(0))
    kept = r.next()
    want = bytes(kept)
    published = 1
    for i in range(2000):
        if w.try_add(gen.make(published)):    # backpressure: full once it laps `kept`
            published += 1
        if i % 3 == 0:
            r.next_batch(5)
        else:
            r.next()
        assert bytes(kept) == want and kept.sequence == 0
    assert decode(kept) == (2, 0)
    if mode == "backpressure":
        assert published == ring.capacity     # the kept slot held the writer back
        del kept
        assert w.try_add(gen.make(published)) is True
    else:
        assert published == 2001


@pytest.mark.parametrize("mode", MODES)
def test_a_buffer_from_a_dropped_event_keeps_the_event_from_reuse(mode):
    ring = rr.Ring(64, 8, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(3, 64)
    w.add(gen.make(0))
    view = memoryview(r.next())               # the event itself is dropped at once
    want = bytes(view)
    for s in range(1, 40):
        w.try_add(gen.make(s))
        ev = r.next()
        if ev is not None:
            assert ev is not view.obj
            decode(ev)
        assert bytes(view) == want
    assert decode(view) == (3, 0)
    view.release()


@pytest.mark.parametrize("mode", MODES)
def test_events_of_a_batch_you_keep_are_left_out_of_the_next_batch(mode):
    ring = rr.Ring(64, 64, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(4, 64)
    for s in range(8):
        w.add(gen.make(s))
    batch = r.next_batch(8)
    kept = [(batch[i], bytes(batch[i])) for i in (2, 5)]
    del batch
    for s in range(8, 24):
        w.add(gen.make(s))
    again = r.next_batch(16)
    assert [decode(ev)[1] for ev in again] == list(range(8, 24))
    for k, b in kept:
        assert all(ev is not k for ev in again)
        assert bytes(k) == b
    assert [decode(k)[1] for k, _ in kept] == [2, 5]


@pytest.mark.parametrize("slot", [100, 4096, 8192])
def test_reused_overwrite_events_hold_payloads_of_every_length(slot):
    ring = rr.Ring(slot, 32, mode="overwrite")
    w, r = ring.writer(), ring.reader()
    lengths = [0, 1, slot, 17, slot - 1, slot // 2, 3, slot, 0, 64]
    kept = []
    for round_ in range(20):
        for i, n in enumerate(lengths):
            w.add(bytes([(round_ + i) % 251]) * n)
        batch = r.next_batch(4) if round_ % 2 else read_all(r)
        batch += read_all(r)
        got = [bytes(ev) for ev in batch]
        assert got == [bytes([(round_ + i) % 251]) * n for i, n in enumerate(lengths)]
        kept.append((batch[round_ % len(batch)], got[round_ % len(batch)]))
        del batch
        for k, b in kept:
            assert bytes(k) == b


@pytest.mark.parametrize("mode", MODES)
def test_events_kept_past_their_readers_end_stay_valid_then_let_it_go(mode):
    ring = rr.Ring(64, 8, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(5, 64)
    for s in range(6):
        w.add(gen.make(s))
    batch = r.next_batch(6)
    kept = batch[1], batch[4]
    del batch, r                              # the reader's last reference goes
    gc.collect()
    assert ring.stats()["reader_count"] == 1  # kept alive by the events it handed out
    for s in range(6, 12):
        w.try_add(gen.make(s))
    assert [decode(k) for k in kept] == [(5, 1), (5, 4)]
    del kept
    assert ring.stats()["reader_count"] == 0


# ---- allocations --------------------------------------------------------------------------

def peak_growth(run, turns):
    """Bytes the traced Python allocator went above where it started while run()
    ran, beyond what the same loop doing nothing takes."""
    def idle():
        for _ in turns:
            pass

    def peak(fn):
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            fn()
            return tracemalloc.get_traced_memory()[1] - start
        finally:
            tracemalloc.stop()

    return peak(run) - peak(idle)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["dropped", "kept one call", "iterated"])
def test_reading_allocates_no_object_per_event_in_steady_state(mode, how):
    ring = rr.Ring(64, 4096, mode=mode)
    w, r = ring.writer(), ring.reader()
    payload = bytes(range(64))
    n = 1000
    turns = [None] * n                        # a loop that allocates nothing itself
    nxt = r.next

    def read():
        if how == "dropped":
            for _ in turns:
                nxt()
        elif how == "kept one call":
            ev = None
            for _ in turns:
                ev = nxt()
            assert ev is not None
        else:
            for ev in r:
                pass

    w.add(payload)
    event_size = sys.getsizeof(r.next())
    for _ in range(2):                        # the first round warms the reader up
        w.add_batch([payload] * n)
        grown = peak_growth(read, turns)
    assert r.lag == 0 and r.delivered == 2 * n + 1
    # One object per event would be n objects at once or, freed as it goes, at
    # least one above the start.
    assert grown < event_size, f"reading {n} events took {grown} bytes at peak"


@pytest.mark.parametrize("mode", MODES)
def test_next_batch_allocates_its_list_and_no_object_per_event(mode):
    ring = rr.Ring(64, 4096, mode=mode)
    w, r = ring.writer(), ring.reader()
    payload = bytes(64)
    w.add_batch([payload] * 64)
    event_size = sys.getsizeof(r.next_batch(64)[0])
    for _ in range(4):                        # warm up
        w.add_batch([payload] * 64)
        r.next_batch(64)
    for _ in range(32):
        w.add_batch([payload] * 64)
    turns = [None] * 32
    nb = r.next_batch

    def read():
        for _ in turns:
            assert len(nb(64)) == 64

    grown = peak_growth(read, turns)
    # The list (64 pointers) and nothing per event: 64 events would be 64 objects.
    assert grown < 64 * 8 + 8 * event_size, f"a batch of 64 took {grown} bytes at peak"


refills_ints = pytest.mark.skipif(
    sys.version_info >= (3, 14) or bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    or rr._core.__file__.endswith(".abi3.so"),
    reason="add() refills its last int only on the GIL builds of CPython 3.11-3.13, "
           "against the full C API (not the limited API's abi3 build)")


def refill_built(minor, *defines):
    """RRPY_LONG_REFILL (python/_core/module.h) as the C preprocessor sees it
    for CPython 3.`minor` with `defines`."""
    text = (Path(__file__).resolve().parents[2] / "python" / "_core" / "module.h").read_text()
    guard = re.search(r"^#if (?:.*\\\n)*.*\n# define RRPY_LONG_REFILL 1\n#else\n"
                      r"# define RRPY_LONG_REFILL 0\n#endif\n", text, re.M)
    assert guard, "module.h has no #if ... # define RRPY_LONG_REFILL 1/0 ... #endif"
    flags = [f"-DPY_VERSION_HEX=0x03{minor:02X}00F0"] + [f"-D{d}" for d in defines]
    out = subprocess.run([shutil.which("cc") or "gcc", "-E", "-P", "-x", "c", *flags, "-"],
                         input=guard.group(0) + "RRPY_LONG_REFILL\n", capture_output=True,
                         text=True, check=True).stdout
    return int(out.split()[-1])


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="needs a C compiler")
def test_add_refills_ints_only_on_the_gil_builds_of_the_cpython_versions_tested():
    for minor, built in [(10, 0), (11, 1), (12, 1), (13, 1), (14, 0), (15, 0)]:
        assert refill_built(minor) == built, f"3.{minor}"
    for define in ["Py_GIL_DISABLED", "Py_LIMITED_API=0x030B0000", "PYPY_VERSION=\"7.3\""]:
        assert refill_built(12, define) == 0, define


@refills_ints
def test_add_allocates_no_int_when_nobody_keeps_the_sequence():
    ring = rr.Ring(64, 4096)
    w, r = ring.writer(), ring.reader()
    payload = bytes(64)
    add = w.add
    for _ in range(300):                      # past the small ints
        add(payload)
    r.next_batch(300)
    turns = [None] * 1000

    def write():
        for _ in turns:
            add(payload)

    grown = peak_growth(write, turns)
    assert ring.published == 1300
    assert grown < sys.getsizeof(2 ** 20), f"1000 adds took {grown} bytes at peak"


def test_add_returns_each_sequence_whether_or_not_the_last_one_was_kept():
    ring = rr.Ring(16, 4096)
    w = ring.writer()
    kept = {}
    for s in range(3000):
        seq = w.add(b"x", s % 3)
        assert seq == s
        if s % 5 == 0:
            kept[s] = seq                      # kept ints keep their values
        del seq
    assert all(k == v for k, v in kept.items())
    assert sum(kept.values()) == sum(range(0, 3000, 5))
    last = w.add(b"y")
    assert last == 3000 and w.add(b"z") == 3001 and last == 3000


@pytest.mark.parametrize("order", [(2, 1, 0), (0, 1, 2), (1, 0, 2)])
def test_events_kept_from_one_batch_stay_intact_until_each_goes_and_free_the_ring_after(order):
    ring = rr.Ring(32, 8)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(6, 32)
    for s in range(8):
        w.add(gen.make(s))
    batch = r.next_batch(8)
    kept = {i: batch[i] for i in (2, 3, 6)}
    del batch
    assert r.next() is None            # moving on: the kept three stay, 0 and 1 are free
    assert r.pinned == 6               # from the first kept one on
    assert w.try_add(gen.make(8)) and w.try_add(gen.make(9))
    assert w.try_add(gen.make(10)) is False    # slot 2 is kept
    left = sorted(kept)
    for k in order:
        del kept[left[k]]
        # whatever went before, the others are intact while the writer tries
        assert all(decode(kept[i]) == (6, i) for i in kept)
        for _ in range(3):
            w.try_add(gen.make(ring.published))
        assert all(decode(kept[i]) == (6, i) for i in kept)
    assert r.pinned == 0               # the last one gone: nothing of the batch is pinned
    assert [decode(ev)[1] for ev in r] == list(range(8, ring.published))
    assert w.try_add(gen.make(ring.published)) is True


@pytest.mark.parametrize("then", ["next", "next_batch", "iterate"])
def test_a_block_kept_past_the_readers_next_event_call_keeps_its_slots(then):
    ring = rr.Ring(32, 8)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(7, 32)
    for s in range(4):
        w.add(gen.make(s))
    block = r.next_block(4)

    def rows():                            # the block's payloads, read through its own view
        with block.data as view:
            raw = view.tobytes()
        n = ring.slot_size
        return [raw[i * n:i * n + block.lengths[i]] for i in range(len(block))]

    want = rows()
    assert [decode(p) for p in want] == [(7, s) for s in range(4)]
    w.add(gen.make(4))
    ev = {"next": lambda: r.next(), "next_batch": lambda: r.next_batch(8)[0],
          "iterate": lambda: next(iter(r))}[then]()
    assert decode(ev) == (7, 4)
    del ev
    for s in range(5, 20):                 # the writer must not reuse the block's slots
        w.try_add(gen.make(s))
    assert ring.published == 8
    assert rows() == want
    block.release()
    assert w.try_add(gen.make(8)) is True
