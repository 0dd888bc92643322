"""Backpressure events are the ring's slots, read in place, and stay intact while alive.

The contract: an event (or any buffer taken from it) pins its slot; a writer that
would need the slot finds the ring full instead of overwriting it; letting go
lets the writer continue.
"""
import gc

import pytest

import rusted_ring as rr


def fill(writer, tag):
    """Publish until the ring is full; returns how many went in."""
    n = 0
    while writer.try_add(tag):
        n += 1
    return n


def address(buffer) -> int:
    """Where a buffer's bytes live (the view taken to ask is released at once)."""
    np = pytest.importorskip("numpy")
    with memoryview(buffer) as mv:
        arr = np.frombuffer(mv, np.uint8)
        at = arr.__array_interface__["data"][0]
        del arr
    return at


def test_event_data_points_into_the_ring_without_copying():
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    with w.claim() as slot:              # where the ring keeps event 0
        slot[:] = b"A" * 64
        slot_at = address(slot)
    a = r.next()
    assert address(a) == slot_at, "the event's payload is a copy, not the slot"
    assert address(a.data) == slot_at
    assert r.next() is None              # `a` is still alive: it becomes a hold, still in place
    assert address(a) == slot_at and bytes(a) == b"A" * 64


def test_overwrite_events_are_copies_not_the_slot():
    ring = rr.Ring(64, 4, mode="overwrite")
    w, r = ring.writer(), ring.reader()
    with w.claim() as slot:
        slot[:] = b"B" * 64
        slot_at = address(slot)
    assert address(r.next()) != slot_at


def test_held_view_keeps_its_bytes_while_the_writer_fills_the_ring():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"keep me intact!!")
    view = memoryview(r.next())          # the event itself is dropped; the view keeps it
    gc.collect()
    # Read everything else and keep trying to write: the writer must stop at the
    # held slot instead of overwriting it.
    written = 0
    for round_ in range(10):
        written += fill(w, b"overwrite?%06d" % round_)
        for ev in r:
            pass
        assert view.tobytes() == b"keep me intact!!"
    assert written == ring.capacity - 1, "the writer got past a held slot"
    assert w.try_add(b"blocked") is False
    view.release()
    for ev in r:
        pass
    del ev
    assert r.next() is None
    assert w.try_add(b"free again"), "releasing the view did not free the slot"


def test_held_event_object_pins_its_slot_like_a_view():
    ring = rr.Ring(8, 3)
    w, r = ring.writer(), ring.reader()
    w.add(b"first")
    kept = r.next()
    w.add(b"2")
    w.add(b"3")
    assert [bytes(e) for e in r] == [b"2", b"3"]
    assert w.try_add(b"4") is False          # slot of `kept` is pinned
    assert bytes(kept) == b"first"
    del kept
    assert w.try_add(b"4") is True


def test_numpy_array_over_an_event_pins_the_slot():
    np = pytest.importorskip("numpy")
    ring = rr.Ring(32, 2)
    w, r = ring.writer(), ring.reader()
    w.add(np.arange(4, dtype=np.int64))
    arr = np.frombuffer(r.next(), dtype=np.int64)
    w.add(b"x" * 32)
    list(r)
    assert w.try_add(b"y" * 32) is False
    assert arr.tolist() == [0, 1, 2, 3]
    del arr
    list(r)
    assert w.try_add(b"y" * 32) is True


def test_events_of_a_batch_pin_their_slots_individually():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    w.add_batch([b"a", b"b", b"c", b"d"])
    batch = r.next_batch(4)
    keep = batch[1]
    del batch
    assert r.next() is None        # moving on turns `keep` into a hold
    assert w.try_add(b"e") is True     # slot of "a" is free
    assert w.try_add(b"f") is False    # slot of "b" is held
    assert bytes(keep) == b"b"
    del keep
    assert w.try_add(b"f") is True


def test_closing_a_reader_with_held_events_keeps_them_valid_then_unregisters():
    ring = rr.Ring(8, 2)
    w, r = ring.writer(), ring.reader()
    w.add(b"held")
    ev = r.next()
    r.close()
    assert ring.stats()["reader_count"] == 1     # still gating: `ev` pins its slot
    w.add(b"1")
    assert w.try_add(b"2") is False
    assert bytes(ev) == b"held"
    del ev
    assert ring.stats()["reader_count"] == 0
    assert w.try_add(b"2") is True


def test_event_outlives_its_dropped_reader():
    ring = rr.Ring(8, 2)
    w = ring.writer()
    r = ring.reader()
    w.add(b"orphan")
    ev = r.next()
    del r
    gc.collect()
    w.add(b"1")
    assert w.try_add(b"2") is False
    assert bytes(ev) == b"orphan"
    del ev
    assert ring.stats()["reader_count"] == 0
    assert w.try_add(b"2") is True


def test_event_buffers_are_read_only():
    ring = rr.Ring(8, 2)
    w, r = ring.writer(), ring.reader()
    w.add(b"ro")
    ev = r.next()
    with pytest.raises(TypeError):
        memoryview(ev)[0] = 0
    import ctypes
    with pytest.raises(TypeError):
        (ctypes.c_char * 2).from_buffer(ev)
