"""RingSource, RingSink, RingPipe and PipeStats, each test on rings of its own."""

import struct
import threading

import pytest

import rusted_ring as rr

JOIN = 60  # seconds: generous, only reached when something hangs


def fill(ring, payloads, event_type=0):
    w = ring.writer()
    for p in payloads:
        w.add(p, event_type)
    w.close()


# ---- RingSource ----------------------------------------------------------------------------

def test_source_yields_every_event_then_ends_when_the_ring_is_closed_and_drained():
    ring = rr.Ring(64, 16)
    fill(ring, [bytes([i]) for i in range(10)], 3)
    src = rr.RingSource(ring)  # starts at the oldest event the ring holds
    ring.close()
    got = [(bytes(ev), ev.event_type) for ev in src]
    assert got == [(bytes([i]), 3) for i in range(10)]
    assert src.ended


def test_source_waits_for_events_from_another_thread_until_close():
    ring = rr.Ring(64, 4)
    src = rr.RingSource(ring)          # made before the writer starts: sees everything
    def produce():
        w = ring.writer()
        for i in range(1000):
            w.add(struct.pack("<I", i))
        ring.close()
    t = threading.Thread(target=produce, daemon=True)
    t.start()
    seqs = [struct.unpack("<I", bytes(ev))[0] for ev in src]
    t.join(JOIN)
    assert seqs == list(range(1000)) and src.ended


def test_source_with_a_timeout_stops_when_idle_without_claiming_the_end():
    ring = rr.Ring(64, 8)
    fill(ring, [b"a", b"b"])
    src = rr.RingSource(ring, timeout=0.01)
    assert [bytes(ev) for ev in src] == [b"a", b"b"]
    assert not src.ended
    assert src.next() is None and not src.ended


def test_source_over_a_reader_leaves_it_open_and_over_a_ring_owns_its_reader():
    ring = rr.Ring(64, 8)
    reader = ring.reader()
    with rr.RingSource(reader) as src:
        assert src.reader is reader and src.ring is ring
    assert not reader.closed
    with rr.RingSource(ring, start="latest") as own:
        assert own.reader is not reader
    assert own.reader.closed


def test_source_latest_start_skips_what_was_written_before():
    ring = rr.Ring(64, 8)
    w = ring.writer()
    w.add(b"old")
    src = rr.RingSource(ring, timeout=0, start="latest")
    w.add(b"new")
    assert [bytes(ev) for ev in src] == [b"new"]


def test_source_and_sink_reject_what_is_not_a_ring_handle():
    ring = rr.Ring(64, 8)
    with pytest.raises(TypeError):
        rr.RingSource(ring.writer())
    with pytest.raises(TypeError):
        rr.RingSink(ring.reader())
    with pytest.raises(TypeError):
        rr.RingSource(b"bytes")
    with pytest.raises(ValueError):
        rr.RingSource(ring, timeout=-1)
    with pytest.raises(ValueError):
        rr.RingSink(rr.Ring(64, 8), timeout=-1)


def test_source_over_a_closed_reader_ends_without_claiming_the_stream_ended():
    ring = rr.Ring(64, 8)
    fill(ring, [b"unread"])
    reader = ring.reader()
    reader.close()
    src = rr.RingSource(reader)
    assert list(src) == [] and not src.ended


# ---- RingSink ------------------------------------------------------------------------------

def test_sink_send_returns_sequences_and_keeps_a_pooled_events_type():
    ring = rr.Ring(64, 8)
    r = ring.reader()
    sink = rr.RingSink(ring)
    assert sink.send(b"a") == 0
    assert sink.send(b"b", 5) == 1
    assert sink.send(rr.PooledEvent(b"c", 9)) == 2
    assert [(bytes(e), e.event_type) for e in r] == [(b"a", 0), (b"b", 5), (b"c", 9)]


def test_sink_send_many_publishes_in_order_past_the_ring_capacity():
    ring = rr.Ring(64, 16)
    r = ring.reader()
    got = []
    def consume():
        for ev in r.events():
            got.append((struct.unpack("<I", bytes(ev))[0], ev.event_type))
    t = threading.Thread(target=consume, daemon=True)
    t.start()
    with rr.RingSink(ring, timeout=JOIN) as sink:
        assert sink.send_many((struct.pack("<I", i) for i in range(1000)), 7) == 1000
        assert sink.send_many([]) == 0
    ring.close()
    t.join(JOIN)
    assert not t.is_alive()
    assert got == [(i, 7) for i in range(1000)]


def test_sink_with_a_timeout_raises_ring_full_when_no_reader_makes_room():
    ring = rr.Ring(64, 2)
    r = ring.reader()
    sink = rr.RingSink(ring, timeout=0.01)
    sink.send(b"1")
    sink.send(b"2")
    with pytest.raises(rr.RingFull):
        sink.send(b"3")
    # Taking a second event hands the first one's slot back to the writer.
    assert r.next() is not None
    assert r.next() is not None
    assert sink.send(b"3") == 2


def test_sink_close_ends_the_stream_only_when_asked():
    ring = rr.Ring(64, 8)
    writer = ring.writer()
    sink = rr.RingSink(writer)
    sink.close()
    assert not writer.closed and not ring.closed
    sink.close(close_ring=True)
    assert ring.closed
    own = rr.RingSink(rr.Ring(64, 8))
    own.close()
    assert own.writer.closed and not own.ring.closed


def test_sink_send_after_the_ring_closed_raises_ring_closed():
    ring = rr.Ring(64, 8)
    sink = rr.RingSink(ring.writer())
    assert sink.send(b"early") == 0
    ring.close()
    with pytest.raises(rr.RingClosed):
        sink.send(b"late")
    with pytest.raises(rr.RingClosed):
        sink.send_many([b"later"])


# ---- RingPipe ------------------------------------------------------------------------------

def test_pipe_publishes_what_the_transform_returns_and_counts_in_out_dropped():
    src, dst = rr.Ring(64, 16), rr.Ring(64, 16)
    out = dst.reader()
    fill(src, [b"keep", b"drop", b"pair", b"pooled"], 4)

    def transform(ev):
        data = bytes(ev)
        if data == b"drop":
            return None
        if data == b"pair":
            return (b"PAIR", 8)
        if data == b"pooled":
            return rr.PooledEvent(b"POOLED", 9)
        return data.upper()

    pipe = rr.RingPipe(src, transform, dst)
    src.close()
    stats = pipe.run()
    assert stats is pipe.stats
    assert stats.as_dict() == {"in": 4, "out": 3, "dropped": 1}
    assert [(bytes(e), e.event_type) for e in out] == [(b"KEEP", 4), (b"PAIR", 8), (b"POOLED", 9)]
    assert dst.closed  # the source ended, so the next stage is told


def test_pipe_publishes_an_empty_payload_rather_than_dropping_it():
    src, dst = rr.Ring(64, 8), rr.Ring(64, 8)
    out = dst.reader()
    fill(src, [b"x", b"y"])
    pipe = rr.RingPipe(src, lambda ev: b"", dst)
    src.close()
    assert pipe.run().as_dict() == {"in": 2, "out": 2, "dropped": 0}
    assert [len(e) for e in out] == [0, 0]


def test_pipe_without_close_sink_leaves_the_next_ring_open():
    src, dst = rr.Ring(64, 8), rr.Ring(64, 8)
    fill(src, [b"x"])
    pipe = rr.RingPipe(src, None, dst, close_sink=False)
    src.close()
    pipe.run()
    assert not dst.closed and dst.published == 1


def test_pipe_run_with_a_limit_stops_there_and_keeps_the_sink_open():
    src, dst = rr.Ring(64, 16), rr.Ring(64, 16)
    fill(src, [bytes([i]) for i in range(10)])
    pipe = rr.RingPipe(src, None, dst)
    assert pipe.run(limit=4).events_in == 4
    assert not dst.closed and dst.published == 4
    assert pipe.run(limit=0).events_in == 4
    src.close()
    assert pipe.run().as_dict() == {"in": 10, "out": 10, "dropped": 0}
    assert dst.closed
    with pytest.raises(ValueError):
        pipe.run(limit=-1)


def test_pipe_default_transform_passes_payload_and_type_through():
    src, dst = rr.Ring(64, 8), rr.Ring(64, 8)
    out = dst.reader()
    fill(src, [b"same"], 12)
    pipe = rr.RingPipe(rr.RingSource(src), None, rr.RingSink(dst))
    src.close()
    pipe.run()
    assert [(bytes(e), e.event_type) for e in out] == [(b"same", 12)]


def test_pipe_that_fails_closes_its_sink_and_reports_the_error():
    src, dst = rr.Ring(64, 8), rr.Ring(64, 8)
    fill(src, [b"ok", b"boom", b"never"])

    def transform(ev):
        if bytes(ev) == b"boom":
            raise RuntimeError("bad record")
        return bytes(ev)

    with pytest.raises(RuntimeError, match="bad record"):
        rr.RingPipe(src, transform, dst).run()
    assert dst.closed and dst.published == 1

    dst2 = rr.Ring(64, 8)
    pipe = rr.RingPipe(rr.RingSource(src.reader()), transform, dst2)
    seen = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_type)
    try:
        thread = pipe.start()
        thread.join(JOIN)
    finally:
        threading.excepthook = old_hook
    assert not thread.is_alive()
    assert isinstance(pipe.error, RuntimeError) and seen == [RuntimeError]
    assert dst2.closed


def test_pipe_start_runs_in_a_daemon_thread_until_the_source_closes():
    src, dst = rr.Ring(64, 8), rr.Ring(64, 8)
    out = dst.reader()
    pipe = rr.RingPipe(src, lambda ev: bytes(ev) * 2, dst)
    thread = pipe.start(name="doubler")
    assert thread.daemon and thread.name == "doubler"
    fill(src, [b"ab", b"cd"])
    src.close()
    got = [bytes(ev) for ev in out.events(timeout=JOIN)]  # ends when the pipe closes dst
    thread.join(JOIN)
    assert not thread.is_alive() and pipe.error is None and dst.closed
    assert got == [b"abab", b"cdcd"]


def test_pipe_stats_start_at_zero():
    assert rr.PipeStats().as_dict() == {"in": 0, "out": 0, "dropped": 0}
