"""The seed README's examples, written in Python, run as tests.

Every payload carries its own sequence number and a checksum of its body, and
every reader verifies both, so a lost, repeated, reordered or torn event fails
the test. Threads wait on the ring (blocking reads, close as end of stream),
never on sleeps. Examples that use the process-wide default pools run in a
fresh interpreter (`run_fresh`).
"""

import struct
import threading
import zlib

import pytest

import rusted_ring as rr

from fresh import run_fresh  # noqa: E402
JOIN = 120  # seconds: generous, only reached when something hangs

HEADER = struct.Struct("<QI")  # sequence, crc32 of the body




def make_payload(seq: int, size: int) -> bytes:
    """`size` bytes: the sequence, a crc32 of the body, and a body derived from the sequence."""
    body = (seq.to_bytes(8, "little") * (size // 8 + 1))[: size - HEADER.size]
    return HEADER.pack(seq, zlib.crc32(body)) + body


def check_payload(data) -> int:
    """The payload's sequence, after checking its checksum."""
    seq, crc = HEADER.unpack_from(data)
    body = bytes(data[HEADER.size:])
    assert zlib.crc32(body) == crc, f"torn payload at sequence {seq}"
    return seq


# ---- Single writer, multiple readers: fan-out ------------------------------------------------

STROKE, CURSOR = 1, 2


def test_fan_out_delivers_every_event_to_storage_network_and_analytics_in_order():
    n = 100_000
    ring = rr.Ring(64, 1024)  # backpressure: the writer waits for the slowest reader
    readers = {name: ring.reader() for name in ("storage", "network", "analytics")}
    results = {}

    def consume(name, reader):
        expected, strokes, throttled = 0, 0, 0
        for ev in reader.events():  # waits; ends when the ring is closed and drained
            seq = check_payload(ev.data)
            assert seq == expected and ev.sequence == seq, (name, seq, expected)
            expected += 1
            if ev.event_type == STROKE:
                strokes += 1
            if name == "network" and reader.should_throttle():
                throttled += 1  # the seed sleeps here; counting is enough
        results[name] = (expected, strokes, reader.lost)

    threads = [threading.Thread(target=consume, args=item, daemon=True) for item in readers.items()]
    for t in threads:
        t.start()
    writer = ring.writer()
    for seq in range(n):
        writer.add(make_payload(seq, 16 + seq % 48), STROKE if seq % 4 else CURSOR, timeout=JOIN)
    ring.close()
    for t in threads:
        t.join(JOIN)
    assert not any(t.is_alive() for t in threads)
    assert results == {name: (n, n - n // 4, 0) for name in readers}


def test_fan_out_from_the_default_pools_counts_what_lapped_readers_lose():
    # The seed's own example: M pool readers, overwrite mode. A reader that falls
    # behind loses events, but never sees a torn, repeated or reordered one, and
    # delivered + lost accounts for every published event.
    out = run_fresh("""
        import struct, threading, zlib
        HEADER = struct.Struct("<QI")
        rr.configure_pools({"M": 64})
        F = rr.EventPoolFactory
        readers = {name: F.get_m_reader() for name in ("storage", "network", "analytics")}
        n = 50_000
        done = threading.Event()
        results = {}

        def consume(name, reader):
            last, delivered = -1, 0
            while True:
                ev = reader.next(timeout=0.05)
                if ev is None:
                    if done.is_set() and reader.lag == 0:
                        break
                    continue
                seq, crc = HEADER.unpack_from(ev.data)
                assert zlib.crc32(bytes(ev.data[HEADER.size:])) == crc, (name, seq)
                assert seq > last and ev.sequence == seq, (name, seq, last)
                last, delivered = seq, delivered + 1
            results[name] = (delivered, reader.lost, reader.delivered)

        threads = [threading.Thread(target=consume, args=kv) for kv in readers.items()]
        for t in threads: t.start()
        w = F.get_m_writer()
        for seq in range(n):
            body = bytes([seq % 251]) * (100 + seq % 900)
            w.add(HEADER.pack(seq, zlib.crc32(body)) + body, 1)
        done.set()
        for t in threads: t.join(120)
        assert not any(t.is_alive() for t in threads)
        for name, (delivered, lost, counted) in results.items():
            assert delivered == counted and delivered + lost == n, (name, delivered, lost)
        print(sum(lost for _, lost, _ in results.values()))
    """)
    assert int(out.strip()) >= 0


# ---- High-throughput pipeline: input -> transform -> output ----------------------------------

RAW, TRANSFORMED = 10, 20


def transform_data(data) -> bytes:
    """Stage 2 of the seed's pipeline: parse, validate, enrich 256 B into 1 KiB."""
    seq = check_payload(data)
    enriched = bytes(data) * 4
    return HEADER.pack(seq, zlib.crc32(enriched)) + enriched


def test_three_stage_pipeline_with_threads_transforms_every_event_in_order():
    n = 20_000
    small = rr.Ring(256, 256)   # the seed's S pool shape
    large = rr.Ring(1024, 256)  # the seed's M pool shape
    input_reader, output_reader = small.reader(), large.reader()
    finals = []

    def input_processor():
        writer = small.writer()
        for seq in range(n):
            event = rr.EventUtils.create_pooled_event(make_payload(seq, 200), RAW, 256)
            writer.add(event)
        small.close()

    def transformer():
        output_writer = large.writer()
        for input_event in input_reader.events():
            transformed = transform_data(input_event.data)
            output_event = rr.EventUtils.create_pooled_event(transformed, TRANSFORMED, 1024)
            output_writer.add(output_event)
        large.close()

    def output_processor():
        for event in output_reader.events():
            seq, crc = HEADER.unpack_from(event.data)
            enriched = bytes(event.data[HEADER.size:])
            assert zlib.crc32(enriched) == crc and event.event_type == TRANSFORMED
            assert check_payload(enriched[:200]) == seq
            finals.append(seq)

    threads = [threading.Thread(target=f, daemon=True) for f in (input_processor, transformer, output_processor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN)
    assert not any(t.is_alive() for t in threads)
    assert finals == list(range(n))


def test_three_stage_pipeline_with_ring_pipes_parse_enrich_store():
    n = 20_000
    raw, parsed, enriched = rr.Ring(256, 128), rr.Ring(256, 128), rr.Ring(1024, 128)
    store = enriched.reader()
    parse = rr.RingPipe(raw, lambda ev: (bytes(ev.data), TRANSFORMED) if ev.sequence % 10 else None,
                        parsed)
    enrich = rr.RingPipe(parsed, lambda ev: transform_data(ev.data), enriched)
    stages = [parse.start(name="parse"), enrich.start(name="enrich")]

    stored = []
    def storer():
        for ev in store.events():
            seq, _ = HEADER.unpack_from(ev.data)
            stored.append(seq)
    st = threading.Thread(target=storer, daemon=True)
    st.start()
    sink = rr.RingSink(raw, timeout=JOIN)  # RingFull rather than a hang if a stage dies
    sink.send_many((make_payload(seq, 200) for seq in range(n)), RAW)
    sink.close(close_ring=True)  # end of stream flows down the chain
    for t in stages + [st]:
        t.join(JOIN)
    assert not any(t.is_alive() for t in stages + [st])
    assert parse.error is None and enrich.error is None
    assert stored == [s for s in range(n) if s % 10]
    assert parse.stats.as_dict() == {"in": n, "out": n - n // 10, "dropped": n // 10}
    assert enrich.stats.as_dict() == {"in": n - n // 10, "out": n - n // 10, "dropped": 0}


# ---- Backpressure handling ------------------------------------------------------------------

@pytest.mark.parametrize("lag, ratio, under_pressure, throttle", [
    (0, 0.0, False, False), (50, 0.5, False, False), (80, 0.8, False, False),
    (81, 0.81, True, False), (89, 0.89, True, False), (90, 0.9, True, True),
    (100, 1.0, True, True),
])
def test_backpressure_checks_use_the_seeds_thresholds(lag, ratio, under_pressure, throttle):
    ring = rr.Ring(64, 100)
    reader = ring.reader()
    writer = ring.writer()
    for i in range(lag):
        writer.add(struct.pack("<I", i))
    assert reader.lag == lag
    assert reader.backpressure_ratio() == pytest.approx(ratio, abs=1e-12)
    assert reader.is_under_pressure() is under_pressure   # ratio > 0.8
    assert reader.should_throttle() is throttle           # ratio >= 0.9


def test_backpressure_falls_as_the_reader_catches_up():
    ring = rr.Ring(64, 10)
    reader, writer = ring.reader(), ring.writer()
    for i in range(10):
        writer.add(bytes([i]))
    assert reader.should_throttle() and not writer.try_add(b"full")
    for _ in range(3):
        ev = reader.next()  # each slot is free once we move past it
    del ev
    # 7 unread, and the last event read stays the reader's until its next call
    assert (reader.lag, reader.pinned) == (7, 1) and reader.backpressure_ratio() == 0.8
    assert not reader.is_under_pressure()
    assert writer.try_add(b"room again") and writer.try_add(b"and again")
    assert not writer.try_add(b"full again") and reader.backpressure_ratio() == 1.0


# ---- Example 1: the FFI entry point with auto-sized events ----------------------------------

def test_emit_drawing_stroke_returns_the_seeds_status_codes():
    run_fresh("""
        def emit_drawing_stroke(data, event_type):
            try:
                auto_event = rr.EventUtils.create_auto_sized_event(data, event_type)
            except rr.DataTooLarge:
                return -2
            try:
                auto_event.emit_to_ring()
            except rr.RingFull:
                return -1
            return 0

        storage = rr.EventPoolFactory.get_m_reader()
        assert emit_drawing_stroke(b"s" * 700, 1) == 0
        assert emit_drawing_stroke(b"s" * 20000, 1) == -2
        ev = storage.next()
        assert ev is not None and (len(ev), ev.event_type) == (700, 1)
        assert storage.next() is None
    """)


# ---- Example 3: monitoring and pool statistics ----------------------------------------------

def test_monitor_prints_pool_stats_and_reacts_to_pressure():
    out = run_fresh("""
        rr.configure_pools({"XS": 100, "M": 100})
        F = rr.EventPoolFactory
        xs_reader, m_reader = F.get_xs_reader(), F.get_m_reader()
        xs, m = F.get_xs_writer(), F.get_m_writer()
        for _ in range(85): xs.add(b"cursor")
        for _ in range(95): m.add(b"edit" * 100)
        for stat in rr.PoolStats.collect_all():
            print(stat)
            if stat.pool_id is rr.PoolId.XS and stat.current_backpressure > 0.8:
                print(f"warn: XS pool under pressure: {stat.current_backpressure * 100:.1f}%")
            elif stat.pool_id is rr.PoolId.M and stat.current_backpressure > 0.9:
                print(f"error: M pool critical: {stat.current_backpressure * 100:.1f}%")
    """)
    assert out.splitlines() == [
        "Pool XS: capacity=100, backpressure=85.0%",
        "warn: XS pool under pressure: 85.0%",
        "Pool S: capacity=1000, backpressure=0.0%",
        "Pool M: capacity=100, backpressure=95.0%",
        "error: M pool critical: 95.0%",
        "Pool L: capacity=60, backpressure=0.0%",
        "Pool XL: capacity=15, backpressure=0.0%",
    ]


# The core's bands (the same in Lua): exactly 0.8 is GOOD (not under pressure),
# WARNING above it, CRITICAL from 0.9 (should throttle).
@pytest.mark.parametrize("lag, health", [(0, "EXCELLENT"), (9, "EXCELLENT"), (10, "GOOD"),
                                         (16, "GOOD"), (17, "WARNING"), (18, "CRITICAL"),
                                         (20, "CRITICAL")])
def test_health_check_reaches_each_state_at_known_lags(lag, health):
    out = run_fresh(f"""
        rr.configure_pools({{"S": 20}})
        reader = rr.EventPoolFactory.get_s_reader()
        writer = rr.EventPoolFactory.get_s_writer()
        for _ in range({lag}):
            writer.add(b"message")
        assert reader.lag == {lag}
        print(rr.health_check().name)
    """)
    assert out.strip() == health
