"""Blocks: Reader.next_block, Writer.add_block and Writer.claim_block.

A block is many consecutive events as one strided buffer, without a Python object
per event. These tests check what a block shows (its shape, strides, lengths,
types and bytes), that it is the ring's memory and not a copy (backpressure) or a
copy of its own (overwrite), how long that memory stays put (pinning, holds,
release with live buffers), bad input, re-entrancy, and checksummed streams
through blocks between threads and processes in both modes.
"""
import gc
import multiprocessing
import os
import signal
import sys
import threading
import uuid

import numpy as np
import pytest

import rusted_ring as rr
from fresh import run_fresh
from payloads import HEADER, Payloads, Workers, decode, scaled, wait_until

LIMIT = 30.0
OUTER = "in use by an outer call on this thread"
MODES = ["backpressure", "overwrite"]


# ---- helpers ---------------------------------------------------------------------------------

def address(obj):
    """Where a buffer's first byte lies."""
    arr = np.asarray(memoryview(obj)) if not isinstance(obj, np.ndarray) else obj
    return arr.__array_interface__["data"][0]


def rows_of(payloads, width):
    """A (n, width) uint8 array with payload i in row i, and the lengths."""
    arr = np.zeros((len(payloads), width), np.uint8)
    for i, p in enumerate(payloads):
        arr[i, :len(p)] = np.frombuffer(p, np.uint8)
    return arr, np.array([len(p) for p in payloads], np.uint32)


def block_events(b):
    """[(sequence, event_type, bytes)] of every event of a block, read from its views."""
    arr = b.as_array()
    lengths, types = b.lengths.tolist(), b.event_types.tolist()
    return [(b.first_sequence + i, types[i], arr[i, :lengths[i]].tobytes()) for i in range(len(b))]


def reader_waits(r):
    """True while another thread waits in r (its figures are refused meanwhile)."""
    try:
        r.lag
    except RuntimeError:
        return True
    return False


def shm_mapping(name):
    """(start, end) of this process's mapping of shared segment `name`."""
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("/dev/shm/" + name.lstrip("/")):
                lo, hi = line.split()[0].split("-")
                return int(lo, 16), int(hi, 16)
    raise AssertionError(f"segment {name} is not mapped")


@pytest.fixture
def shm():
    names = []

    def new():
        names.append(f"rr-blocks-{uuid.uuid4().hex}")
        return names[-1]

    yield new
    for name in names:
        try:
            rr.Ring.unlink_shared(name)
        except FileNotFoundError:
            pass


# ---- what a block shows ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_next_block_hands_out_consecutive_events_as_one_strided_buffer(mode):
    ring = rr.Ring(48, 16, mode=mode)
    w, r = ring.writer(), ring.reader()
    written = [(s, s * 3 + 1, bytes([s]) * (s + 1)) for s in range(10)]
    for s, t, p in written:
        w.add(p, t)
    b = r.next_block(100)
    assert isinstance(b, rr.Block)
    assert (len(b), b.first_sequence) == (10, 0)
    data = b.data
    assert (data.shape, data.strides, data.readonly, data.format) == ((10, 48), (64, 1), True, "B")
    assert b.lengths.format == "I" and b.lengths.readonly and b.lengths.shape == (10,)
    assert b.lengths.tolist() == [s + 1 for s in range(10)]
    assert b.event_types.tolist() == [s * 3 + 1 for s in range(10)]
    assert block_events(b) == written
    assert r.delivered == 10 and r.cursor == 10
    assert r.next_block(100) is None


def test_max_events_limits_the_block_and_the_next_call_goes_on():
    ring = rr.Ring(16, 32)
    w, r = ring.writer(), ring.reader()
    for s in range(20):
        w.add(bytes([s]))
    sizes = []
    while (b := r.next_block(7)) is not None:
        sizes.append((b.first_sequence, len(b)))
    assert sizes == [(0, 7), (7, 7), (14, 6)]


def test_a_block_ends_at_the_ring_end_and_the_next_starts_at_slot_zero():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    for s in range(6):
        w.add(bytes([s]))
    assert len(r.next_block(6)) == 6
    assert r.next_block(6) is None                 # moves on: the slots are free
    for s in range(6, 12):
        w.add(bytes([s]))
    b = r.next_block(100)
    assert (b.first_sequence, len(b)) == (6, 2)    # slots 6 and 7
    stride = b.data.strides[0]                     # 32: a 16-byte slot shares its line
    end = address(b.data) + 2 * stride
    b2 = r.next_block(100)
    assert (b2.first_sequence, len(b2)) == (8, 4)
    assert address(b2.data) == end - 8 * stride    # slot 0
    assert [e[2] for e in block_events(b2)] == [bytes([s]) for s in range(8, 12)]


def test_block_items_and_iteration_are_events():
    ring = rr.Ring(32, 8)
    w, r = ring.writer(), ring.reader()
    for s in range(5):
        w.add(b"event %d" % s, s)
    b = r.next_block(8)
    events = list(b)
    assert [(e.sequence, e.event_type, bytes(e)) for e in events] == \
        [(s, s, b"event %d" % s) for s in range(5)]
    assert bytes(b[-1]) == b"event 4" and b[2].sequence == 2
    with pytest.raises(IndexError, match="holds 5 events"):
        b[5]
    with pytest.raises(TypeError):
        b["0"]


def test_an_event_taken_from_a_block_outlives_the_block():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    for s in range(4):
        w.add(b"kept %d" % s)
    b = r.next_block(4)
    ev = b[1]
    b.release()
    del b
    assert r.next_block(4) is None                 # the reader moves on: ev holds slot 1
    assert w.try_add(b"x") is True                 # slot 0 is free ...
    assert w.try_add(b"y") is False                # ... slot 1 is ev's
    assert bytes(ev) == b"kept 1"
    del ev
    assert w.try_add(b"y") is True


def test_the_block_data_lies_inside_the_shared_ring_segment(shm):
    """Zero copy, proved: the block's bytes and metadata are in the ring's mapping."""
    name = shm()
    ring = rr.Ring.create_shared(name, 64, 64)
    w, r = ring.writer(), ring.reader()
    w.add_block(np.full((40, 64), 7, np.uint8))
    b = r.next_block(64)
    lo, hi = shm_mapping(name)
    for view in (b.data, b.lengths, b.event_types, b.as_array(), b.as_array([("x", "<u4")])):
        at = address(view)
        assert lo <= at < hi, f"{at:#x} is not in the ring's mapping [{lo:#x}, {hi:#x})"
        del view
    assert lo <= address(b.data) + 39 * 64 + 63 < hi


def test_an_overwrite_block_is_a_copy_of_its_own(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 64, 16, mode="overwrite")
    w, r = ring.writer(), ring.reader()
    for s in range(8):
        w.add(b"%d" % s, s)
    b = r.next_block(16)
    lo, hi = shm_mapping(name)
    assert not lo <= address(b.data) < hi
    before = block_events(b)
    assert [e[0] for e in before] == list(range(8))
    # the reader's next call and the writer's laps leave the block as it was
    assert r.next_block(16) is None
    for s in range(8, 60):
        w.add(b"%d" % s, s)
    assert len(r.next_block(16)) > 0
    assert block_events(b) == before


# ---- pinning ---------------------------------------------------------------------------------------

def test_a_kept_block_keeps_its_bytes_while_the_writer_fills_the_ring_and_release_frees_it():
    ring = rr.Ring(32, 8)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(1, 32)
    for s in range(8):
        w.add(gen.make(s))
    b = r.next_block(8)
    arr = b.as_array()
    before = block_events(b)
    assert r.next_block(8) is None                 # moves on: the block becomes a hold
    assert r.pinned == 8 and w.try_add(gen.make(8)) is False
    assert block_events(b) == before and decode(arr[3, :b.lengths[3]]) == (1, 3)
    with pytest.raises(BufferError, match="still alive"):
        b.release()                                # arr is a buffer taken from it
    assert not b.released and block_events(b) == before
    del arr
    b.release()
    assert b.released and r.pinned == 0
    for s in range(8, 16):
        assert w.try_add(gen.make(s)) is True      # the writer continues


def test_a_collected_block_releases_its_slots():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    for s in range(4):
        w.add(b"x")
    b = r.next_block(4)
    assert r.next_block(4) is None
    assert w.try_add(b"y") is False
    del b
    assert r.pinned == 0 and w.try_add(b"y") is True


def test_releasing_the_current_block_lets_the_next_call_move_on_without_a_hold():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    for s in range(4):
        w.add(b"x")
    b = r.next_block(4)
    b.release()
    assert r.pinned == 4                           # the last call's slots, until the next
    assert r.next_block(4) is None
    assert r.pinned == 0 and w.try_add(b"y") is True


def test_with_releases_the_block_and_a_view_outliving_it_is_refused():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"abc")
    with r.next_block(4) as b:
        assert bytes(b[0]) == b"abc"
    assert b.released
    w.add(b"def")
    with pytest.raises(BufferError, match="still alive"):
        with r.next_block(4) as b:
            view = b.data
    assert not b.released
    del view
    b.release()


def test_an_exception_in_with_is_not_hidden_by_a_live_view():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"abc")
    with pytest.raises(KeyError):
        with r.next_block(4) as b:
            view = b.lengths
            raise KeyError("mine")
    assert not b.released and view.tolist() == [3]
    del view, b
    assert r.next_block(4) is None and r.pinned == 0


def test_a_released_block_refuses_every_use_with_a_clear_error():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"abc")
    b = r.next_block(4)
    b.release()
    b.release()                                    # idempotent
    for use in (lambda: b.data, lambda: b.lengths, lambda: b.event_types, lambda: b[0],
                lambda: list(b), lambda: b.as_array(), lambda: b.__enter__()):
        with pytest.raises(ValueError, match="released"):
            use()
    with pytest.raises(BufferError, match="released"):
        memoryview(b)
    assert len(b) == 1 and b.first_sequence == 0 and "released" in repr(b)


def test_a_buffer_taken_before_release_keeps_the_block_and_its_view_valid():
    """A memoryview that outlives release(): release is refused, the bytes never go."""
    ring = rr.Ring(16, 2)
    w, r = ring.writer(), ring.reader()
    w.add(b"one")
    w.add(b"two")
    b = r.next_block(2)
    mv = memoryview(b)
    lengths = b.lengths
    with pytest.raises(BufferError):
        b.release()
    del b
    gc.collect()                                   # the views keep the block alive
    assert r.next_block(2) is None
    assert w.try_add(b"three") is False            # still pinned through the views
    assert mv.tobytes()[:3] == b"one" and lengths.tolist() == [3, 3]
    mv.release()
    del mv
    assert w.try_add(b"three") is False
    del lengths
    assert w.try_add(b"three") is True


def test_closing_the_reader_keeps_a_live_blocks_slots_until_it_goes():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    for s in range(4):
        w.add(b"%d" % s)
    b = r.next_block(4)
    r.close()
    assert ring.stats()["reader_count"] == 1       # still registered: b pins its slots
    assert w.try_add(b"x") is False
    assert [e[2] for e in block_events(b)] == [b"0", b"1", b"2", b"3"]
    del b
    assert ring.stats()["reader_count"] == 0 and w.try_add(b"x") is True


# ---- as_array -----------------------------------------------------------------------------------

def test_as_array_views_records_without_copying():
    ring = rr.Ring(64, 16)
    w, r = ring.writer(), ring.reader()
    dt = np.dtype([("id", "<u4"), ("x", "<f8"), ("tag", "S4")])
    recs = np.zeros(10, dt)
    recs["id"] = np.arange(10)
    recs["x"] = np.arange(10) * 0.5
    recs["tag"] = b"abcd"
    assert w.add_block(recs, event_types=7) == 10
    b = r.next_block(16)
    assert b.lengths.tolist() == [dt.itemsize] * 10 and b.event_types.tolist() == [7] * 10
    got = b.as_array(dt)
    assert got.shape == (10,) and got.dtype == dt and not got.flags.writeable
    assert (got == recs).all()
    assert address(got) == address(b.data)
    assert got.strides == (64,)
    u8 = b.as_array()
    assert u8.shape == (10, 64) and u8.dtype == np.uint8 and u8.strides == (64, 1)
    assert b.as_array("<u4")[3] == 3


def test_as_array_refuses_dtypes_that_do_not_fit_a_slot():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"x" * 16)
    b = r.next_block(4)
    with pytest.raises(ValueError, match="fit a slot"):
        b.as_array(np.dtype([("a", "<u8"), ("b", "<u8"), ("c", "u1")]))
    with pytest.raises(TypeError, match="Python objects"):
        b.as_array(np.dtype([("o", "O")]))
    with pytest.raises(TypeError):
        b.as_array("not a dtype")


def test_as_array_without_numpy_raises_a_clear_import_error():
    run_fresh("""
        import sys
        sys.modules["numpy"] = None          # as if it were not installed
        ring = rr.Ring(16, 4)
        w, r = ring.writer(), ring.reader()
        w.add(b"abc")
        b = r.next_block(4)
        try:
            b.as_array()
        except ImportError as e:
            assert "needs NumPy" in str(e) and ".data" in str(e), e
        else:
            raise AssertionError("no ImportError")
        assert b.data.tobytes()[:3] == b"abc"
        b.release()
    """)


# ---- add_block ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_add_block_publishes_one_event_per_row(mode):
    ring = rr.Ring(64, 64, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(3, 64)
    payloads = [gen.make(s) for s in range(20)]
    arr, lengths = rows_of(payloads, 64)
    assert w.add_block(arr, lengths=lengths, event_types=np.arange(20, dtype=np.int64)) == 20
    assert w.add_block(arr[:5], lengths=lengths[:5].tolist(), event_types=[9] * 5) == 5
    assert w.add_block(np.ones((3, 4), np.float64)) == 3          # rows of 32 bytes
    assert w.add_block(np.zeros((0, 64), np.uint8)) == 0
    got = []
    while (b := r.next_block(64)) is not None:
        got += block_events(b)
        del b
    assert [g[0] for g in got] == list(range(28))
    assert [decode(g[2]) for g in got[:25]] == [(3, s) for s in range(20)] + [(3, s) for s in range(5)]
    assert [g[1] for g in got[:25]] == list(range(20)) + [9] * 5
    assert got[25][2] == np.ones(4).tobytes() and got[25][1] == 0


def test_add_block_is_all_or_nothing_when_the_ring_has_no_room():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    w.add_block(np.zeros((5, 16), np.uint8))
    with pytest.raises(rr.RingFull):
        w.add_block(np.zeros((4, 16), np.uint8), timeout=0)
    assert ring.published == 5
    assert w.add_block(np.zeros((3, 16), np.uint8), timeout=0) == 3


@pytest.mark.parametrize("data, lengths, types, exc, words", [
    (np.zeros((6, 16), np.uint8)[::2], None, 0, ValueError, "C-contiguous"),
    (np.zeros((16, 6), np.uint8).T, None, 0, ValueError, "C-contiguous"),
    (np.zeros((2, 17), np.uint8), None, 0, rr.DataTooLarge, "17"),
    (np.zeros((2, 3), np.float64), None, 0, rr.DataTooLarge, "24 bytes"),
    (np.zeros(8, np.uint8), None, 0, TypeError, "rows"),
    (b"sixteen bytes!!!", None, 0, TypeError, "rows"),
    ("text", None, 0, TypeError, "buffer"),
    (np.zeros((2, 8), np.uint8), [1, 2, 3], 0, ValueError, "3 entries for 2 rows"),
    (np.zeros((2, 8), np.uint8), [1, 9], 0, ValueError, "more than the row"),
    (np.zeros((2, 8), np.uint8), [1, -1], 0, ValueError, "negative"),
    (np.zeros((2, 8), np.uint8), np.zeros(2, np.float32), 0, TypeError, "integers"),
    (np.zeros((2, 8), np.uint8), np.zeros((2, 1), np.uint32), 0, TypeError, "one-dimensional"),
    (np.zeros((2, 8), np.uint8), "ab", 0, TypeError, r"lengths\[0\] must be an int"),
    (np.zeros((2, 8), np.uint8), 5, 0, TypeError, "sequence or buffer of ints"),
    (np.zeros((2, 8), np.uint8), None, [1], ValueError, "1 entries for 2 rows"),
    (np.zeros((2, 8), np.uint8), None, [1, 2**32], ValueError, "4294967295"),
    (np.zeros((2, 8), np.uint8), None, np.array([1, -3], np.int8), ValueError, "negative"),
    (np.zeros((2, 8), np.uint8), None, -1, OverflowError, "event_type"),
    (np.zeros((9, 8), np.uint8), None, 0, ValueError, "at most 8"),
])
def test_add_block_with_bad_input_raises_a_clear_error_and_publishes_nothing(
        data, lengths, types, exc, words):
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(exc, match=words):
        w.add_block(data, lengths=lengths, event_types=types)
    assert ring.published == 0 and r.next_block(8) is None
    assert w.add_block(np.ones((2, 16), np.uint8)) == 2    # the writer is still usable


@pytest.mark.parametrize("n", [1, 256, 257, 4096])
@pytest.mark.parametrize("kind", ["list", "uint32", "int16"])
def test_add_block_publishes_every_length_and_type_of_blocks_of_any_size(n, kind):
    ring = rr.Ring(16, 4096)
    w, r = ring.writer(), ring.reader()
    lengths = [i % 17 for i in range(n)]
    types = [i * 7 for i in range(n)]
    as_arg = list if kind == "list" else (lambda v: np.array(v, np.dtype(kind)))
    assert w.add_block(np.zeros((n, 16), np.uint8), lengths=as_arg(lengths),
                       event_types=as_arg(types)) == n
    b = r.next_block(4096)
    assert b.lengths.tolist() == lengths and b.event_types.tolist() == types

def test_add_block_takes_keywords_only_after_data():
    ring = rr.Ring(16, 8)
    w = ring.writer()
    with pytest.raises(TypeError):
        w.add_block(np.zeros((2, 8), np.uint8), [1, 2])
    assert w.add_block(data=np.zeros((2, 8), np.uint8)) == 2


# ---- claim_block --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_claim_block_publishes_what_is_written_through_its_views(mode):
    ring = rr.Ring(32, 8, mode=mode)
    w, r = ring.writer(), ring.reader()
    for s in range(6):
        w.add(b"%d" % s)
    assert len(r.next_block(8)) == 6
    assert r.next_block(8) is None
    with w.claim_block(5, event_type=4) as c:
        assert len(c) == 2 and c.first_sequence == 6     # slots 6, 7: the ring's end
        assert c.lengths.tolist() == [32, 32] and c.event_types.tolist() == [4, 4]
        arr = c.as_array()
        assert arr.flags.writeable and arr.shape == (2, 32)
        arr[0, :5] = np.frombuffer(b"hello", np.uint8)
        arr[1, :3] = np.frombuffer(b"bye", np.uint8)
        del arr
        lengths, types = c.lengths, c.event_types
        lengths[0], lengths[1] = 5, 3
        types[1] = 99
        del lengths, types
    with w.claim_block(5) as c2:
        assert len(c2) == 5 and c2.first_sequence == 8
        np.asarray(c2)[:, 0] = np.arange(5, dtype=np.uint8)
    b = r.next_block(8)
    assert [(e[0], e[1], e[2]) for e in block_events(b)] == [(6, 4, b"hello"), (7, 99, b"bye")]
    b2 = r.next_block(8)
    assert len(b2) == 5 and b2.as_array()[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_an_exception_abandons_a_block_claim():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(KeyError):
        with w.claim_block(4) as c:
            np.asarray(c)[:] = 1
            raise KeyError("no")
    assert ring.published == 0 and ring.stats()["abandoned"] == 4
    w.add(b"after")
    assert bytes(r.next_block(8)[0]) == b"after"


def test_a_length_larger_than_the_slot_publishes_nothing():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(rr.DataTooLarge, match="event 1 .* length 17; the slot size is 16"):
        with w.claim_block(3) as c:
            lengths = c.lengths
            lengths[1] = 17
            del lengths
    assert ring.published == 0 and r.next_block(8) is None
    with w.claim_block(3) as c:                   # the writer goes on
        pass
    assert ring.published == 3


def test_a_view_alive_at_the_end_of_a_block_claim_is_refused_and_abandons_it_when_released():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(BufferError, match="still alive"):
        with w.claim_block(2) as c:
            view = c.data
    assert ring.published == 0
    with pytest.raises(ValueError, match="holds a claim"):
        w.add(b"x")                               # the claim is still the writer's
    view[0, 0] = 1                                # still writable: never published
    del view
    assert ring.stats()["abandoned"] == 2
    w.add(b"x")
    assert r.next_block(8)[0].sequence == 0


def test_block_claim_views_outside_the_with_block_are_refused():
    ring = rr.Ring(16, 8)
    w = ring.writer()
    c = w.claim_block(2)
    assert len(c) == 0 and c.first_sequence is None
    with pytest.raises(ValueError, match="not open"):
        c.data
    with c:
        pass
    for use in (lambda: c.data, lambda: c.lengths, lambda: c.event_types, lambda: c.as_array()):
        with pytest.raises(ValueError, match="not open"):
            use()
    with pytest.raises(BufferError):
        memoryview(c)
    with pytest.raises(RuntimeError, match="only once"):
        c.__enter__()


@pytest.mark.parametrize("n", [0, 9, -1])
def test_claim_block_of_a_bad_size_is_refused(n):
    ring = rr.Ring(16, 8)
    w = ring.writer()
    with pytest.raises(ValueError):
        w.claim_block(n)


def test_a_full_ring_makes_claim_block_raise_ring_full():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add_block(np.zeros((4, 16), np.uint8))
    with pytest.raises(rr.RingFull):
        with w.claim_block(2, timeout=0):
            pass
    assert ring.published == 4


# ---- re-entrancy -------------------------------------------------------------------------------------

class Index:
    def __init__(self, value, action):
        self.value, self.action = value, action

    def __index__(self):
        self.action()
        return self.value


def test_an_index_that_releases_the_block_it_indexes_gets_value_error():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"abc")
    b = r.next_block(4)
    with pytest.raises(ValueError, match="released"):
        b[Index(0, b.release)]
    assert b.released


def test_an_index_that_moves_the_reader_on_still_gets_the_event_intact():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    for s in range(4):
        w.add(b"%d" % s)
    b = r.next_block(4)
    ev = b[Index(2, lambda: r.next_block(4))]     # the block becomes a hold meanwhile
    assert bytes(ev) == b"2"
    assert r.pinned == 4 and w.try_add(b"x") is False
    del b
    assert r.pinned == 2                           # ev keeps slot 2 (and 3 behind it)
    del ev
    assert r.pinned == 0


def test_a_signal_handler_inside_a_next_block_wait_finds_the_reader_busy():
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    seen = []

    def handler(signum, frame):
        try:
            seen.append(r.next_block(4))
        except RuntimeError as e:
            seen.append(e)
        w.add(b"late")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        b = r.next_block(4, timeout=LIMIT)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert len(seen) == 1 and isinstance(seen[0], RuntimeError) and OUTER in str(seen[0])
    assert bytes(b[0]) == b"late"


def test_a_block_dropped_while_its_reader_waits_in_another_thread_is_released_after():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    for s in range(4):
        w.add(b"%d" % s)
    b = r.next_block(4)
    got = []
    t = threading.Thread(target=lambda: got.append(r.next_block(4, timeout=LIMIT)))
    t.start()                                      # moves on: b becomes a hold; then waits
    wait_until(lambda: reader_waits(r), LIMIT, "the reader to wait")
    with pytest.raises(RuntimeError, match="another thread"):
        b[0]                                       # an Event's hold would use the waiting reader
    del b                                          # its release is queued for the waiter
    wait_until(lambda: w.try_add(b"x"), LIMIT, "the queued release to be applied")
    t.join(LIMIT)
    assert not t.is_alive() and got[0] is not None and bytes(got[0][0]) == b"x"


def test_counts_take_any_integer_with_index_such_as_numpy_integers():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with w.claim_block(np.int64(3)) as c:
        assert len(c) == 3
    b = r.next_block(np.uint16(2))
    assert len(b) == 2 and b.first_sequence == 0
    assert [e.sequence for e in r.next_batch(np.int32(5))] == [2]
    for bad, exc, words in [(np.float64(2.0), TypeError, "must be an int, not numpy.float64"),
                            (True, TypeError, "must be an int, not bool"),
                            (np.int64(-1), ValueError, "must not be negative"),
                            (np.int64(0), ValueError, "(at least 1|1 to 8).* 0"),
                            (Index(1, lambda: 1 / 0), ZeroDivisionError, None)]:
        for call in (r.next_block, r.next_batch, w.claim_block):
            with pytest.raises(exc, match=words):
                call(bad)
    w.add(b"still usable")
    assert bytes(r.next_block(np.int8(1))[0]) == b"still usable"


@pytest.mark.parametrize("call", ["next_block", "next_batch"])
def test_a_max_events_whose_index_closes_the_reader_finds_it_closed(call):
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    w.add(b"abc")
    with pytest.raises(rr.RingClosed, match="reader is closed"):
        getattr(r, call)(Index(2, r.close))
    assert r.closed
    w.add_block(np.zeros((7, 16), np.uint8))        # the closed reader gates nothing
    r2 = ring.reader(start="latest")
    w.add(b"def")
    assert bytes(r2.next_block(Index(4, lambda: None))[0]) == b"def"


@pytest.mark.parametrize("call", ["next_block", "next_batch"])
def test_a_max_events_whose_index_reads_from_the_same_reader_runs_before_the_call(call):
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    for s in range(4):
        w.add(b"%d" % s)
    inner = []
    got = getattr(r, call)(Index(2, lambda: inner.append(bytes(r.next_block(1)[0]))))
    assert inner == [b"0"] and [bytes(e) for e in got] == [b"1", b"2"]
    assert bytes(r.next(timeout=0)) == b"3"


def test_a_claim_block_size_whose_index_closes_the_writer_finds_it_closed():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(rr.RingClosed):
        w.claim_block(Index(2, w.close))
    assert ring.published == 0
    with ring.writer().claim_block(2) as c:           # the ring has no writer left behind
        c.lengths[0] = 0
    assert ring.published == 2


def test_a_claim_block_size_whose_index_writes_with_the_same_writer_runs_before_the_claim():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with w.claim_block(Index(2, lambda: w.add(b"first"))) as c:
        c.as_array()[:, :4] = np.frombuffer(b"nextNEXT", np.uint8).reshape(2, 4)
        c.lengths[0] = c.lengths[1] = 4
    assert [bytes(e) for e in r.next_batch(8)] == [b"first", b"next", b"NEXT"]

def test_lengths_whose_index_closes_the_writer_publish_nothing():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(rr.RingClosed):
        w.add_block(np.zeros((2, 8), np.uint8), lengths=[Index(1, w.close), 2])
    assert ring.published == 0


def test_event_types_whose_index_uses_the_same_single_producer_writer_are_refused():
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    seen = []

    def inner():
        try:
            w.add_block(np.zeros((1, 8), np.uint8))
        except RuntimeError as e:
            seen.append(e)

    assert w.add_block(np.zeros((2, 8), np.uint8), event_types=[Index(5, inner), 6]) == 2
    assert len(seen) == 1 and OUTER in str(seen[0])
    assert ring.published == 2 and r.next_block(8).event_types.tolist() == [5, 6]


@pytest.mark.parametrize("change", ["clear", "shrink", "grow"])
@pytest.mark.parametrize("arg", ["lengths", "event_types"])
def test_a_list_changed_by_its_own_items_index_is_read_as_it_was_when_passed(arg, change):
    ring = rr.Ring(16, 8)
    w, r = ring.writer(), ring.reader()
    actions = {"clear": lambda: lst.clear(), "shrink": lambda: lst.__setitem__(slice(None), [1]),
               "grow": lambda: lst.extend(range(100))}
    # every item an object of its own, so a change that drops them frees them
    lst = [Index(3, actions[change])] + [Index(v, lambda: None) for v in range(1, 8)]
    assert w.add_block(np.zeros((8, 8), np.uint8), **{arg: lst}) == 8
    b = r.next_block(8)
    assert getattr(b, arg).tolist() == [3, 1, 2, 3, 4, 5, 6, 7]


def writer_waits(w):
    """True while another thread is in a call of the single-producer writer w (a
    call of ours is refused meanwhile); False, and nothing written, else."""
    try:
        return w.try_add(b"") and False
    except RuntimeError:
        return True


@pytest.mark.parametrize("dtype", [np.uint32, np.int64])
def test_lengths_and_types_changed_while_add_block_waits_for_room_publish_the_values_passed(dtype):
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    for s in range(8):
        w.add(b"full %d" % s)                        # no room: add_block waits
    data = np.arange(4 * 16, dtype=np.uint8).reshape(4, 16)
    lengths = np.array([4, 16, 0, 9], dtype)
    types = np.array([7, 8, 9, 10], dtype)
    got = []
    t = threading.Thread(target=lambda: got.append(
        w.add_block(data, lengths=lengths, event_types=types, timeout=LIMIT)))
    t.start()
    wait_until(lambda: writer_waits(w), LIMIT, "add_block to wait for room")
    lengths[:] = 60 if dtype is np.uint32 else 2**32 - 1   # past the rows (and the slots)
    types[:] = 99
    assert len(r.next_batch(8)) == 8
    b = r.next_block(8, timeout=LIMIT)               # moves on (room), then reads the rows
    t.join(LIMIT)
    assert not t.is_alive() and got == [4]
    assert b.lengths.tolist() == [4, 16, 0, 9] and b.event_types.tolist() == [7, 8, 9, 10]
    assert block_events(b) == [(8 + i, 7 + i, data[i, :n].tobytes())
                               for i, n in enumerate([4, 16, 0, 9])]


def test_a_dtype_that_releases_the_block_while_as_array_views_it_is_refused():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"abcd")
    b = r.next_block(4)
    outcome = []

    class Sneaky:
        @property
        def dtype(self):
            try:
                b.release()
            except BufferError as e:
                outcome.append(e)
            return np.dtype("<u4")

    arr = b.as_array(Sneaky())
    assert len(outcome) == 1 and not b.released    # the view was already exported
    assert arr[0] == int.from_bytes(b"abcd", "little")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ does not collect on allocation")
def test_a_collection_releasing_the_block_while_its_view_is_made_never_exposes_it():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"abcd")
    b = r.next_block(4)

    class Garbage:
        def __init__(self):
            self.cycle = self

        def __del__(self):
            b.release()

    gc.collect()
    gc.disable()
    Garbage()
    ballast = [[] for _ in range(200)]
    old = gc.get_threshold()
    gc.set_threshold(1)
    gc.enable()
    try:
        view = b.data
    except (BufferError, ValueError) as e:
        assert "released" in str(e)
        view = None
    finally:
        gc.set_threshold(*old)
        del ballast
    if view is None:
        assert b.released
    else:
        assert view.tobytes()[:4] == b"abcd"


# ---- streams through blocks ----------------------------------------------------------------------

def write_blocks(w, producer, n, slot, seed, claim=False, timeout=LIMIT):
    """n self-checking payloads by add_block (or claim_block) of random sizes."""
    import random
    gen = Payloads(producer, slot, seed)
    rnd = random.Random(seed)
    s = 0
    while s < n:
        k = min(rnd.randrange(1, 200), n - s)
        if claim and rnd.random() < 0.5:
            with w.claim_block(k, timeout=timeout) as c:
                arr = c.as_array()
                lengths = c.lengths
                for i in range(len(c)):
                    p = gen.make(s + i)
                    arr[i, :len(p)] = np.frombuffer(p, np.uint8)
                    lengths[i] = len(p)
                k = len(c)
                del arr, lengths
        else:
            arr, lengths = rows_of([gen.make(s + i) for i in range(k)], slot)
            assert w.add_block(arr, lengths=lengths, event_types=producer, timeout=timeout) == k
        s += k


def read_blocks(r, mode, timeout=LIMIT):
    """Every payload until the ring is closed: [(producer, seq)], checked as it comes."""
    out = []
    last = -1
    while (b := r.next_block(512, timeout=timeout)) is not None:
        assert b.first_sequence > last
        arr, lengths = b.as_array(), b.lengths.tolist()
        for i in range(len(b)):
            out.append(decode(arr[i, :lengths[i]]))
        last = b.first_sequence + len(b) - 1
        assert len(b) <= 512
        del arr, b
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("claim", [False, True])
def test_a_checksummed_stream_through_blocks_between_threads(mode, claim):
    n = scaled(60000, 2000)
    ring = rr.Ring(128, 1024, mode=mode)
    w, r = ring.writer(), ring.reader()
    got = []
    workers = Workers()
    workers.start(lambda: got.extend(read_blocks(r, mode)), name="reader",
                  on_error=ring.close)

    def produce():
        write_blocks(w, 1, n, 128, seed=7, claim=claim)
        ring.close()

    workers.start(produce, name="writer", on_error=ring.close)
    workers.join(LIMIT * 4)
    seqs = [s for _, s in got]
    assert all(p == 1 for p, _ in got)
    if mode == "backpressure":
        assert seqs == list(range(n)) and r.lost == 0
    else:
        assert seqs == sorted(set(seqs)) and len(seqs) + r.lost == n == r.cursor
    assert r.delivered == len(seqs)


# ---- across processes --------------------------------------------------------------------------

def child_write_blocks(name, n, claim, go):
    ring = rr.Ring.open_shared(name)
    assert go.wait(LIMIT)
    with ring.writer() as w:
        write_blocks(w, 2, n, ring.slot_size, seed=11, claim=claim)
    ring.close()


def child_read_blocks(name, mode, ready, results):
    ring = rr.Ring.open_shared(name)
    with ring.reader() as r:
        ready.set()
        got = read_blocks(r, mode)
        results.put((len(got), [s for _, s in got][:5], all(p == 3 for p, _ in got),
                     [s for _, s in got] == list(range(len(got))), r.lost, r.cursor))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("claim", [False, True])
def test_blocks_written_in_another_process_arrive_intact(shm, mode, claim):
    name = shm()
    n = scaled(20000, 1000)
    ring = rr.Ring.create_shared(name, 96, 256, mode=mode)
    r = ring.reader()
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    p = ctx.Process(target=child_write_blocks, args=(name, n, claim, go), daemon=True)
    p.start()
    go.set()
    got = read_blocks(r, mode)
    p.join(LIMIT)
    assert p.exitcode == 0
    seqs = [s for _, s in got]
    assert all(pr == 2 for pr, _ in got)
    if mode == "backpressure":
        assert seqs == list(range(n))
    else:
        assert seqs == sorted(set(seqs)) and len(seqs) + r.lost == n


@pytest.mark.parametrize("mode", MODES)
def test_blocks_written_here_are_read_in_another_process(shm, mode):
    name = shm()
    n = scaled(20000, 1000)
    ring = rr.Ring.create_shared(name, 96, 256, mode=mode)
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    p = ctx.Process(target=child_read_blocks, args=(name, mode, ready, results), daemon=True)
    p.start()
    assert ready.wait(LIMIT)
    with ring.writer() as w:
        write_blocks(w, 3, n, 96, seed=5)
    ring.close()
    count, first, mine, in_order, lost, cursor = results.get(timeout=LIMIT)
    p.join(LIMIT)
    assert p.exitcode == 0 and mine
    if mode == "backpressure":
        assert count == n and in_order and lost == 0
    else:
        assert count + lost == n == cursor


# ---- the README's example ---------------------------------------------------------------------------

def test_the_readme_block_example_runs_as_written():
    import contextlib
    import io
    import pathlib
    import re
    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    section = readme.read_text().split("## Blocks: many events at a time, for NumPy", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    assert code, "the README lost its block example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code[0], "README.md", "exec"), {})
    assert out.getvalue().splitlines() == ["0 1024 5023 {3, 4}"]


# ---- leaks ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_block_cycles_leave_memory_flat_and_nothing_pinned(mode):
    from test_leaks import assert_flat, skip_sanitized
    if skip_sanitized.mark.args[0]:
        pytest.skip(skip_sanitized.mark.kwargs["reason"])
    ring = rr.Ring(64, 256, mode=mode)
    w, r = ring.writer(), ring.reader()
    rows = np.zeros((64, 64), np.uint8)
    lengths, types = np.full(64, 40, np.uint32), list(range(64))
    dt = np.dtype([("a", "<u4"), ("b", "<f8")])

    def run(n):
        for _ in range(n):
            w.add_block(rows, lengths=lengths, event_types=types)
            b = r.next_block(64)
            recs, ev, lv = b.as_array(dt), b[3], b.lengths
            del recs, lv
            b.release()
            del b, ev
            with w.claim_block(8) as c:
                view = c.lengths
                view[0] = 1
                del view
            with r.next_block(64) as b:
                list(b)
            try:
                with w.claim_block(4):
                    raise KeyError
            except KeyError:
                pass

    assert_flat(run, scaled(20000, 2000))
    assert r.next_block(64) is None               # moves on from the last call's slots
    assert r.pinned == 0 and ring.stats()["reader_count"] == 1
