"""Ring, Writer, Reader, Event and Claim: every public name and every error path.

Each test builds its own ring. After each error the ring must still work, which
`assert_usable` checks by a full round trip.
"""
import gc
import sys

import pytest

import rusted_ring as rr


def assert_usable(ring, writer, reader):
    """A payload written now is the next thing the reader sees."""
    seq = writer.add(b"ok!", 5)
    ev = reader.next()
    assert ev is not None, "ring stopped delivering after an error"
    assert (ev.sequence, ev.event_type, bytes(ev)) == (seq, 5, b"ok!")


@pytest.fixture(params=["backpressure", "overwrite"])
def mode(request):
    return request.param


# ---- Ring -----------------------------------------------------------------------------------

def test_ring_reports_its_configuration():
    ring = rr.Ring(64, 2000)
    assert (ring.slot_size, ring.capacity, ring.mode, ring.producers) == (64, 2000, "backpressure", "single")
    assert ring.published == 0 and ring.closed is False
    assert ring.memory_bytes >= 64 * 2000
    multi = rr.Ring(slot_size=256, capacity=15, mode="overwrite", producers="multi")
    assert (multi.slot_size, multi.capacity, multi.mode, multi.producers) == (256, 15, "overwrite", "multi")
    assert "capacity=2000" in repr(ring) and "backpressure" in repr(ring)


def test_ring_capacity_is_never_rounded():
    for cap in (1, 3, 15, 60, 300, 1000, 2000):
        assert rr.Ring(8, cap).capacity == cap


def test_ring_attributes_are_read_only():
    ring = rr.Ring(64, 8)
    for name in ("slot_size", "capacity", "mode", "producers", "published", "memory_bytes", "closed"):
        with pytest.raises(AttributeError):
            setattr(ring, name, 1)


@pytest.mark.parametrize("slot, cap", [(0, 8), (64, 0), (-1, 8), (64, -5)])
def test_ring_rejects_zero_or_negative_sizes(slot, cap):
    with pytest.raises(ValueError, match="slot_size|capacity"):
        rr.Ring(slot, cap)


def test_ring_rejects_slots_above_the_maximum():
    with pytest.raises(ValueError, match="slot_size must be at most"):
        rr.Ring(rr.MAX_SLOT_SIZE + 1, 1)


@pytest.mark.parametrize("slot, cap", [("64", 8), (64.0, 8), (64, None), (True, 8)])
def test_ring_rejects_sizes_of_the_wrong_type(slot, cap):
    with pytest.raises(TypeError, match="must be an int"):
        rr.Ring(slot, cap)


def test_ring_rejects_unknown_mode_and_producers():
    with pytest.raises(ValueError, match='mode must be "backpressure" or "overwrite", got "lossy"'):
        rr.Ring(64, 8, mode="lossy")
    with pytest.raises(ValueError, match='producers must be "single" or "multi"'):
        rr.Ring(64, 8, producers="many")
    with pytest.raises(TypeError):
        rr.Ring(64, 8, mode=1)
    with pytest.raises(TypeError):
        rr.Ring(64, 8, "overwrite")            # mode is keyword-only


def test_ring_that_does_not_fit_in_memory_is_a_clear_error():
    with pytest.raises((MemoryError, ValueError)):
        rr.Ring(rr.MAX_SLOT_SIZE, 2**40)


def test_ring_context_manager_closes_it():
    with rr.Ring(64, 8) as ring:
        w = ring.writer()
        w.add(b"x")
    assert ring.closed
    with pytest.raises(rr.RingClosed):
        w.add(b"y")


def test_published_counts_events():
    ring = rr.Ring(16, 4, mode="overwrite")
    w = ring.writer()
    for i in range(10):
        w.add(b"%d" % i)
    assert ring.published == 10


def test_stats_is_plain_data_with_one_entry_per_reader():
    ring = rr.Ring(32, 10)
    w = ring.writer()
    r1, r2 = ring.reader(), ring.reader()
    for i in range(4):
        w.add(b"e%d" % i)
    assert r1.next() is not None
    s = ring.stats()
    assert s["capacity"] == 10 and s["slot_size"] == 32 and s["mode"] == "backpressure"
    assert s["published"] == 4 and s["writers"] == 1 and s["closed"] is False
    assert s["reader_count"] == 2 and len(s["readers"]) == 2
    lags = sorted(r["lag"] for r in s["readers"])
    assert lags == [3, 4]
    assert s["max_backpressure"] == pytest.approx(0.4)
    assert all(isinstance(v, (int, float, str, bool, list)) for v in s.values())


# ---- Writer -----------------------------------------------------------------------------------

def test_add_returns_consecutive_sequences(mode):
    ring = rr.Ring(64, 8, mode=mode)
    w = ring.writer()
    assert [w.add(b"a"), w.add(b"b"), w.add(b"c")] == [0, 1, 2]


def test_add_accepts_every_bytes_like_object():
    import array
    np = pytest.importorskip("numpy")
    ring = rr.Ring(64, 16)
    w, r = ring.writer(), ring.reader()
    payloads = [b"bytes", bytearray(b"bytearray"), memoryview(b"memoryview"),
                array.array("i", [1, 2, 3]), np.arange(4, dtype=np.uint16), b""]
    for p in payloads:
        w.add(p)
    for p in payloads:
        assert bytes(r.next()) == bytes(p)


def test_add_accepts_an_event_like_object_and_uses_its_type():
    class Pooled:
        def __init__(self, data, event_type):
            self.data, self.event_type = data, event_type
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    w.add(Pooled(b"pooled", 42))
    w.add(Pooled(b"override", 42), 7)
    a, b = r.next_batch(2)
    assert (bytes(a), a.event_type) == (b"pooled", 42)
    assert (bytes(b), b.event_type) == (b"override", 7)


def test_add_of_an_event_republishes_it():
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    out = rr.Ring(64, 8)
    ow, orr = out.writer(), out.reader()
    w.add(b"forward me", 9)
    ow.add(r.next())
    ev = orr.next()
    assert (bytes(ev), ev.event_type) == (b"forward me", 9)


def test_oversized_payload_names_both_sizes_and_ring_stays_usable(mode):
    ring = rr.Ring(64, 8, mode=mode)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(rr.DataTooLarge, match=r"100 bytes.*64 bytes"):
        w.add(b"x" * 100)
    with pytest.raises(rr.DataTooLarge):
        w.try_add(b"x" * 65)
    assert isinstance(rr.DataTooLarge("x"), ValueError)
    assert ring.published == 0
    assert_usable(ring, w, r)


@pytest.mark.parametrize("bad", ["text", 12, None, 3.5, object(), [1, 2]])
def test_add_rejects_non_bytes_with_type_error(bad):
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(TypeError):
        w.add(bad)
    assert_usable(ring, w, r)


def test_add_rejects_non_contiguous_buffers():
    np = pytest.importorskip("numpy")
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(TypeError, match="contiguous"):
        w.add(np.arange(10)[::2])
    assert_usable(ring, w, r)


def test_a_released_memoryview_is_refused_for_what_it_is_not_for_its_layout():
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    mv = memoryview(b"payload")
    mv.release()
    for submit in (w.add, lambda p: w.add_batch([b"x", p]), rr.emit):
        with pytest.raises(ValueError, match="released"):
            submit(mv)
    assert ring.published == 0
    assert_usable(ring, w, r)


@pytest.mark.parametrize("bad", [-1, 2**32, 2**64])
def test_event_type_outside_u32_is_rejected(bad):
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises((OverflowError, ValueError), match="event_type"):
        w.add(b"x", bad)
    with pytest.raises((OverflowError, ValueError)):
        w.try_add(b"x", bad)
    assert_usable(ring, w, r)


def test_event_type_edges_round_trip():
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    w.add(b"a", 0)
    w.add(b"b", 2**32 - 1)
    assert [e.event_type for e in r.next_batch(2)] == [0, 2**32 - 1]


@pytest.mark.parametrize("bad", ["1", 1.5, True])
def test_event_type_of_the_wrong_type_is_a_type_error(bad):
    ring = rr.Ring(64, 8)
    with pytest.raises(TypeError):
        ring.writer().add(b"x", bad)


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), ("1", TypeError), (float("nan"), ValueError)])
def test_bad_timeouts_are_rejected(bad, exc):
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(exc, match="timeout"):
        w.add(b"x", timeout=bad)
    with pytest.raises(exc, match="timeout"):
        r.next(bad)
    assert_usable(ring, w, r)


def test_unknown_keyword_arguments_are_type_errors():
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(TypeError, match="unexpected keyword"):
        w.add(b"x", kind=3)
    with pytest.raises(TypeError, match="multiple values"):
        w.add(b"x", 1, event_type=2)
    with pytest.raises(TypeError, match="missing required"):
        w.add()
    with pytest.raises(TypeError):
        r.next(1, 2)


def test_try_add_reports_full_without_waiting():
    ring = rr.Ring(8, 2)
    w, r = ring.writer(), ring.reader()
    assert w.try_add(b"1") and w.try_add(b"2")
    assert w.try_add(b"3") is False
    assert ring.stats()["writer_stalls"] >= 1
    assert r.next() is not None
    assert r.next() is not None      # moving on releases the first slot
    assert w.try_add(b"3") is True


def test_add_raises_ring_full_after_its_timeout():
    ring = rr.Ring(8, 2)
    w, r = ring.writer(), ring.reader()
    w.add(b"1")
    w.add(b"2")
    with pytest.raises(rr.RingFull, match="ring full") as info:
        w.add(b"3", timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(rr.RingFull):
        w.add(b"3", timeout=0)
    r.next()
    r.next()
    assert w.add(b"3", timeout=0) == 2


def test_overwrite_writer_never_waits():
    ring = rr.Ring(8, 2, mode="overwrite")
    w = ring.writer()
    r = ring.reader()
    for i in range(100):
        assert w.try_add(b"%d" % i)
    assert w.add(b"100", timeout=0) == 100       # never RingFull, even without waiting
    assert ring.published == 101
    got = [int(bytes(e)) for e in r]
    assert got == [99, 100] and r.lost == 99       # the reader skipped, and counted, the rest


def test_second_single_writer_is_refused_until_the_first_closes():
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(rr.WriterBusy, match="already has a live writer"):
        ring.writer()
    assert_usable(ring, w, r)
    w.close()
    assert w.closed
    with pytest.raises(rr.RingClosed, match="writer is closed"):
        w.add(b"x")
    w2 = ring.writer()
    assert_usable(ring, w2, r)


def test_dropping_a_writer_frees_the_single_writer_slot():
    ring = rr.Ring(64, 8)
    ring.writer()          # dropped at once
    ring.writer().add(b"x")


def test_multi_producer_ring_allows_many_writers():
    ring = rr.Ring(64, 8, producers="multi")
    ws = [ring.writer() for _ in range(4)]
    r = ring.reader()
    for i, w in enumerate(ws):
        w.add(b"from %d" % i)
    assert sorted(bytes(e) for e in r) == [b"from %d" % i for i in range(4)]
    assert ring.stats()["writers"] == 4


def test_writer_context_manager_closes_it():
    ring = rr.Ring(64, 8)
    with ring.writer() as w:
        w.add(b"x")
    assert w.closed
    ring.writer()


def test_operations_after_ring_close_raise_ring_closed(mode):
    ring = rr.Ring(64, 8, mode=mode)
    w, r = ring.writer(), ring.reader()
    w.add(b"last")
    ring.close()
    ring.close()                        # idempotent
    assert ring.closed
    with pytest.raises(rr.RingClosed, match="ring is closed"):
        w.add(b"x")
    with pytest.raises(rr.RingClosed):
        w.try_add(b"x")
    with pytest.raises(rr.RingClosed):
        w.add_batch([b"x"])
    with pytest.raises(rr.RingClosed):
        with w.claim():
            pass
    w.close()
    with pytest.raises(rr.RingClosed):
        ring.writer()                    # not WriterBusy: the ring is closed
    assert bytes(r.next()) == b"last"    # readers drain what is left
    assert r.next() is None
    assert r.next(timeout=None) is None  # the end of the stream, not a wait
    assert list(r.events()) == []


# ---- add_batch --------------------------------------------------------------------------------

def test_add_batch_publishes_all_with_one_claim():
    ring = rr.Ring(64, 16)
    w, r = ring.writer(), ring.reader()
    assert w.add_batch([b"a", bytearray(b"bb"), memoryview(b"ccc")], 4) == 3
    evs = r.next_batch(10)
    assert [(e.sequence, e.event_type, bytes(e)) for e in evs] == [(0, 4, b"a"), (1, 4, b"bb"), (2, 4, b"ccc")]


def test_add_batch_takes_one_type_per_payload():
    ring = rr.Ring(64, 16)
    w, r = ring.writer(), ring.reader()
    w.add_batch((b"x", b"y"), [1, 2])
    assert [e.event_type for e in r.next_batch(5)] == [1, 2]
    with pytest.raises(ValueError, match="2 entries for 3 payloads"):
        w.add_batch([b"a", b"b", b"c"], [1, 2])


def test_add_batch_is_all_or_nothing_when_one_payload_is_too_large():
    ring = rr.Ring(8, 16)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(rr.DataTooLarge, match="9 bytes"):
        w.add_batch([b"ok", b"123456789", b"ok"])
    with pytest.raises(TypeError):
        w.add_batch([b"ok", "text"])
    assert ring.published == 0
    assert_usable(ring, w, r)


def test_add_batch_larger_than_the_ring_is_refused():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(ValueError, match="at most 4 events"):
        w.add_batch([b"x"] * 5)
    assert w.add_batch([]) == 0
    with pytest.raises(TypeError):
        w.add_batch(5)
    assert_usable(ring, w, r)


def test_add_batch_waits_then_raises_ring_full():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    w.add_batch([b"1", b"2", b"3"])
    with pytest.raises(rr.RingFull):
        w.add_batch([b"4", b"5"], timeout=0.02)
    assert ring.published == 3


# ---- claim ------------------------------------------------------------------------------------

def test_claim_publishes_what_was_written_in_place(mode):
    ring = rr.Ring(16, 4, mode=mode)
    w, r = ring.writer(), ring.reader()
    with w.claim(7) as slot:
        assert len(slot) == 16 and slot.slot_size == 16 and slot.sequence == 0
        slot[:5] = b"hello"
        slot[5] = ord("!")
        assert slot[0:6] == b"hello!" and slot[0] == ord("h")
        slot.length = 6
    ev = r.next()
    assert (bytes(ev), ev.event_type, ev.sequence) == (b"hello!", 7, 0)


def test_claim_defaults_to_the_whole_slot():
    ring = rr.Ring(4, 4)
    w, r = ring.writer(), ring.reader()
    with w.claim() as slot:
        with memoryview(slot) as mv:
            mv[:] = b"abcd"
    assert bytes(r.next()) == b"abcd"


def test_claim_abandoned_on_exception_is_never_seen():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(KeyError):
        with w.claim() as slot:
            slot[:3] = b"bad"
            raise KeyError("boom")
    w.add(b"good")
    assert [bytes(e) for e in r] == [b"good"]
    assert ring.stats()["abandoned"] == 1


def test_claim_length_above_the_slot_is_refused():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    with w.claim() as slot:
        with pytest.raises(rr.DataTooLarge, match="17.*16"):
            slot.length = 17
        with pytest.raises(ValueError):
            slot.length = -1
        slot[:2] = b"ok"
        slot.length = 2
    assert bytes(r.next()) == b"ok"


def test_claim_buffer_alive_at_exit_abandons_with_buffer_error():
    ring = rr.Ring(16, 4)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(BufferError, match="still alive"):
        with w.claim() as slot:
            kept = memoryview(slot)
            kept[:1] = b"x"
    kept.release()
    assert r.next() is None
    assert_usable(ring, w, r)


def test_claim_slot_is_not_writable_outside_the_block():
    ring = rr.Ring(16, 4)
    w = ring.writer()
    c = w.claim()
    with pytest.raises(BufferError):
        memoryview(c)
    with c:
        pass
    with pytest.raises(BufferError):
        memoryview(c)
    with pytest.raises(RuntimeError):
        c.__enter__()


def test_claim_waits_for_room_then_raises_ring_full():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"x")
    with pytest.raises(rr.RingFull):
        with w.claim(timeout=0.02):
            pass
    r.next()
    r.next()
    with w.claim() as slot:
        slot[:1] = b"y"
        slot.length = 1
    assert bytes(r.next()) == b"y"


def test_single_writer_holding_a_claim_cannot_add():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    with w.claim() as slot:
        slot.length = 0
        with pytest.raises(ValueError, match="claim"):
            w.add(b"x")
    assert bytes(r.next()) == b""       # the claim itself, published empty
    assert_usable(ring, w, r)


# ---- Reader -----------------------------------------------------------------------------------

def test_next_returns_none_when_empty_and_never_waits_by_default():
    ring = rr.Ring(8, 4)
    r = ring.reader()
    assert r.next() is None
    assert r.next(0) is None
    assert r.next(timeout=0.01) is None
    assert r.next_batch(4) == []


def test_iteration_yields_what_is_available_now(mode):
    ring = rr.Ring(8, 8, mode=mode)
    w, r = ring.writer(), ring.reader()
    for i in range(5):
        w.add(b"%d" % i)
    assert [bytes(e) for e in r] == [b"0", b"1", b"2", b"3", b"4"]
    assert list(r) == []
    w.add(b"5")
    assert [bytes(e) for e in r] == [b"5"]


def test_events_waits_and_ends_when_the_ring_is_closed():
    ring = rr.Ring(8, 8)
    w, r = ring.writer(), ring.reader()
    w.add(b"a")
    w.add(b"b")
    ring.close()
    assert [bytes(e) for e in r.events()] == [b"a", b"b"]


def test_events_with_a_timeout_ends_when_nothing_arrives():
    ring = rr.Ring(8, 8)
    w, r = ring.writer(), ring.reader()
    w.add(b"a")
    assert [bytes(e) for e in r.events(timeout=0.01)] == [b"a"]


def test_reader_start_latest_skips_what_was_published():
    ring = rr.Ring(8, 8)
    w = ring.writer()
    w.add(b"old")
    r_old, r_new = ring.reader("oldest"), ring.reader(start="latest")
    w.add(b"new")
    assert [bytes(e) for e in r_old] == [b"old", b"new"]
    assert [bytes(e) for e in r_new] == [b"new"]
    with pytest.raises(ValueError, match='start must be "oldest" or "latest", got "middle"'):
        ring.reader("middle")


def test_next_batch_returns_up_to_max_events(mode):
    ring = rr.Ring(8, 16, mode=mode)
    w, r = ring.writer(), ring.reader()
    w.add_batch([b"%d" % i for i in range(10)])
    first = r.next_batch(4)
    assert [e.sequence for e in first] == [0, 1, 2, 3]
    rest = r.next_batch(100)
    assert [e.sequence for e in rest] == list(range(4, 10))
    with pytest.raises(ValueError, match="max_events"):
        r.next_batch(0)
    with pytest.raises(ValueError):
        r.next_batch(-1)
    with pytest.raises(TypeError):
        r.next_batch("3")


def test_lag_cursor_and_backpressure_thresholds():
    ring = rr.Ring(8, 10)
    w, r = ring.writer(), ring.reader()
    assert (r.lag, r.cursor, r.backpressure_ratio()) == (0, 0, 0.0)
    for i in range(8):
        w.add(b"x")
    assert r.lag == 8 and r.backpressure_ratio() == pytest.approx(0.8)
    assert not r.is_under_pressure()       # > 0.8, not >=
    assert not r.should_throttle()
    w.add(b"x")
    assert r.is_under_pressure() and r.should_throttle()    # 0.9
    r.next()
    assert r.cursor == 1 and r.lag == 8 and r.delivered == 1
    assert r.lost == 0 and r.skipped == 0


def test_lapped_overwrite_reader_counts_every_lost_event():
    ring = rr.Ring(8, 4, mode="overwrite")
    w, r = ring.writer(), ring.reader()
    for i in range(20):
        w.add(b"%d" % i)
    got = [int(bytes(e)) for e in r]
    assert got == sorted(got) and got[-1] == 19
    assert r.lost + len(got) == 20 == r.delivered + r.lost
    assert r.lost > 0


def test_overwrite_events_are_copies_that_survive_the_writer():
    ring = rr.Ring(8, 2, mode="overwrite")
    w, r = ring.writer(), ring.reader()
    w.add(b"first")
    ev = r.next()
    for i in range(10):
        w.add(b"later%d" % i)
    assert bytes(ev) == b"first"


def test_too_many_readers_then_usable_after_closing_one():
    ring = rr.Ring(8, 4)
    w = ring.writer()
    readers = [ring.reader() for _ in range(rr.MAX_READERS)]
    assert rr.MAX_READERS == 64
    with pytest.raises(rr.TooManyReaders, match="64 live readers"):
        ring.reader()
    readers.pop().close()
    r = ring.reader()
    for other in readers:
        other.close()
    assert_usable(ring, w, r)


def test_closed_reader_refuses_calls_and_unregisters():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    r.close()
    r.close()
    assert r.closed
    with pytest.raises(rr.RingClosed, match="reader is closed"):
        r.next()
    with pytest.raises(rr.RingClosed):
        list(r)
    assert ring.stats()["reader_count"] == 0
    for i in range(10):
        assert w.try_add(b"x")          # no longer gates the writer


def test_reader_context_manager_and_garbage_collection_unregister():
    ring = rr.Ring(8, 4)
    with ring.reader() as r:
        assert ring.stats()["reader_count"] == 1
    assert r.closed and ring.stats()["reader_count"] == 0
    ring.reader()
    gc.collect()
    assert ring.stats()["reader_count"] == 0


def test_children_keep_their_ring_alive():
    w = rr.Ring(8, 4).writer()
    r = w.ring.reader()
    gc.collect()
    w.add(b"alive")
    assert bytes(r.next()) == b"alive"
    assert r.ring is w.ring


# ---- Event ------------------------------------------------------------------------------------

def test_event_exposes_its_fields_and_payload(mode):
    ring = rr.Ring(32, 4, mode=mode)
    w, r = ring.writer(), ring.reader()
    w.add(b"payload", 12)
    ev = r.next()
    assert (ev.event_type, ev.len, len(ev), ev.sequence) == (12, 7, 7, 0)
    assert bytes(ev) == b"payload"
    assert isinstance(ev.data, memoryview) and ev.data.readonly
    assert ev.data.tobytes() == b"payload"
    assert memoryview(ev).tobytes() == b"payload"
    assert "sequence=0" in repr(ev)
    with pytest.raises(TypeError):
        ev.data[0] = 1
    with pytest.raises(AttributeError):
        ev.sequence = 3


def test_event_payload_reads_with_numpy(mode):
    np = pytest.importorskip("numpy")
    ring = rr.Ring(64, 4, mode=mode)
    w, r = ring.writer(), ring.reader()
    w.add(np.arange(8, dtype=np.float64))
    arr = np.frombuffer(r.next(), dtype=np.float64)
    assert arr.tolist() == list(range(8))
    assert not arr.flags.writeable


def test_empty_payload_round_trips():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"", 3)
    ev = r.next()
    assert (bytes(ev), ev.len, ev.event_type) == (b"", 0, 3)


def test_types_cannot_be_built_directly():
    for t in (rr.Writer, rr.Reader, rr.Event, rr.Claim):
        with pytest.raises(TypeError):
            t()


def test_every_public_name_has_a_docstring():
    names = [rr.Ring, rr.Writer, rr.Reader, rr.Event, rr.Claim]
    for t in names:
        assert t.__doc__, t
        for attr, value in vars(t).items():
            if not attr.startswith("_"):
                assert getattr(value, "__doc__", None), f"{t.__name__}.{attr}"
    for exc in (rr.RingError, rr.DataTooLarge, rr.RingFull, rr.RingClosed, rr.TooManyReaders,
                rr.WriterBusy, rr.SharedMemoryError):
        assert issubclass(exc, rr.RingError) and exc.__doc__


def test_error_hierarchy_matches_the_api():
    assert issubclass(rr.RingFull, TimeoutError)
    assert issubclass(rr.DataTooLarge, ValueError)
    assert issubclass(rr.SharedMemoryError, OSError)


def test_refcounts_do_not_leak_on_the_hot_path():
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    payload = b"abc"
    before = sys.getrefcount(payload), sys.getrefcount(r), sys.getrefcount(ring)
    for _ in range(1000):
        w.add(payload)
        ev = r.next()
        del ev
    assert (sys.getrefcount(payload), sys.getrefcount(r), sys.getrefcount(ring)) == before
