"""The bridge against a real nats-server: ring -> Out -> JetStream -> In -> ring."""
import asyncio
import json
import random
import signal
import time

import numpy as np
import pytest

import rusted_ring as rr
from conftest import (LIMIT, LUA, PYTHON, CHILD_ENV, REPO, Collector, Feeder, payloads,
                      check_rows, scaled, wait_until)

bridge = pytest.importorskip("rusted_ring.bridge") if False else None
try:
    from rusted_ring import bridge
except ImportError:   # skipped by conftest, with the reason
    pass


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, LIMIT * 2))


async def pump(feeder, collector, total, tasks=(), timeout=LIMIT, state=None):
    """Feed and collect in this loop until `total` events arrived."""
    deadline = time.monotonic() + timeout
    while collector.count < total:
        for t in tasks:
            if t.done() and t.exception() is not None:
                raise t.exception()
        moved = feeder.step() if feeder else 0
        moved += collector.poll()
        if time.monotonic() > deadline:
            pytest.fail(f"{collector.count} of {total} events arrived"
                        + (f": {state()}" if state else ""))
        await asyncio.sleep(0 if moved else 0.001)


async def stream_sequences(url, stream):
    """Every source sequence in the stream, in stream order (each message decoded)."""
    import nats
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info(stream)
    seqs = []
    for s in range(info.state.first_seq, info.state.last_seq + 1):
        m = await js.get_msg(stream, s)
        f = bridge.decode(m.data)
        seqs.append(np.arange(f.first_sequence, f.first_sequence + len(f)))
    await nc.close()
    return np.concatenate(seqs) if seqs else np.empty(0, np.int64)


async def stream_exists(url, stream):
    import nats
    nc = await nats.connect(url)
    try:
        await nc.jetstream().stream_info(stream)
        return True
    except Exception:
        return False
    finally:
        await nc.close()


def default_durable(ring_name):
    """The consumer `bridge in` uses on this machine by default."""
    import socket
    return bridge._consumer_name(ring_name, socket.gethostname())


async def consumer_idle(url, stream, durable):
    import nats
    nc = await nats.connect(url)
    ci = await nc.jetstream().consumer_info(stream, durable)
    await nc.close()
    return ci.num_pending == 0 and ci.num_ack_pending == 0 and (ci.num_waiting or 0) > 0


# ---- framing ----------------------------------------------------------------------------


def test_a_message_holds_each_events_type_length_and_bytes_and_decodes_to_the_same():
    rng = np.random.default_rng(1)
    n, slot = 300, 48
    data = rng.integers(0, 256, (n, slot), dtype=np.uint8)
    lengths = rng.integers(0, slot + 1, n).astype(np.uint32)
    types = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    msg = bridge.encode(77, 1000, 5, [(data[:100], lengths[:100], types[:100]),
                                      (data[100:], lengths[100:], types[100:])])
    assert len(msg) == bridge.HEADER_SIZE + 8 * n + int(lengths.sum())
    assert bytes(msg[:4]) == b"RRNB" and msg[4] == 1
    f = bridge.decode(bytes(msg))
    assert (f.instance, f.first_sequence, f.lost, len(f)) == (77, 1000, 5, n)
    assert f.max_length == lengths.max()
    for i, (seq, t, body) in enumerate(f.events()):
        assert seq == 1000 + i and t == types[i] and body == data[i, :lengths[i]].tobytes()
    fixed = bridge.encode(1, 0, 0, [(data, np.full(n, 16, np.uint32), types)])
    g = bridge.decode(fixed)
    assert g.payload.reshape(n, 16).tolist() == data[:, :16].tolist()


@pytest.mark.parametrize("message, says", [
    (b'{"json": true, "not": "ours"}' * 2, "not a rusted_ring bridge message"),
    (b"RRNB", "truncated"),
    (b"RRNB\x02" + bytes(35), "version 2"),
])
def test_a_message_of_another_format_is_refused_saying_what_is_wrong(message, says):
    with pytest.raises(bridge.FrameError, match=says):
        bridge.decode(message)


def test_a_truncated_message_is_refused():
    msg = bridge.encode(1, 0, 0, [(payloads(0, 10), np.full(10, 64, np.uint32),
                                   np.zeros(10, np.uint32))])
    with pytest.raises(bridge.FrameError, match="truncated"):
        bridge.decode(bytes(msg[:-1]))


# ---- end to end, in one process ----------------------------------------------------------


def test_a_million_checksummed_events_arrive_once_in_order(server):
    total = scaled(1_000_000, 10_000)

    async def main():
        src, dst = rr.Ring(64, 1 << 16), rr.Ring(64, 1 << 16)
        out = bridge.Out(src.reader(name="bridge>E2E"), server.url, "E2E")
        inn = bridge.In(dst.writer(), server.url, "E2E", marker=server.store + "/m")
        col = Collector(dst)
        feeder = Feeder(src.writer(), total, block=4096)
        to = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        ti = asyncio.ensure_future(inn.run())
        t0 = time.perf_counter()
        await pump(feeder, col, total, (to, ti), state=lambda: (out.stats(), inn.stats()))
        dt = time.perf_counter() - t0
        await out.close()
        await inn.close()
        return out.stats(), inn.stats(), dt

    so, si, dt = run(main())
    print(f"{total} events in {dt:.2f} s: {total / dt:,.0f} events/s")
    assert so["events"] == total and si["events"] == total
    assert so["messages"] == si["messages"] < total / 100
    assert so["duplicates"] == si["duplicates"] == si["redeliveries"] == 0


def test_the_stream_survives_a_broker_restart_mid_stream_with_nothing_lost(server):
    total = scaled(300_000, 30_000)

    async def main():
        src, dst = rr.Ring(64, 1 << 15), rr.Ring(64, 1 << 15)
        out = bridge.Out(src.reader(name="bridge>R"), server.url, "R", ack_timeout=1.0)
        inn = bridge.In(dst.writer(), server.url, "R", marker=server.store + "/m", ack_wait=2)
        col = Collector(dst)
        feeder = Feeder(src.writer(), total)
        to = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        while feeder.sent < total // 10:
            feeder.step()
            await asyncio.sleep(0.001)
        ti = asyncio.ensure_future(inn.run())
        await pump(feeder, col, total // 3, (to, ti))
        server.stop()                           # mid-stream, in flight both ways
        for _ in range(50):
            feeder.step()
            col.poll()
            await asyncio.sleep(0.002)
        await asyncio.get_running_loop().run_in_executor(None, server.start)
        await pump(feeder, col, total, (to, ti), state=lambda: (out.stats(), inn.stats()))
        await out.close()
        await inn.close()
        return out.stats(), inn.stats()

    so, si = run(main())
    assert si["events"] == total
    seqs = run(stream_sequences(server.url, "R"))
    assert (seqs == np.arange(total)).all(), "the stream holds each event once, in order"


def test_an_overwrite_mode_sources_losses_reach_the_destination_and_the_bridges_stats(server):
    async def main():
        src, dst = rr.Ring(64, 256, mode="overwrite"), rr.Ring(64, 4096)
        reader = src.reader(name="bridge>L")
        w = src.writer()
        for first in range(0, 1000, 200):        # laps the reader: 744 lost
            w.add_block(payloads(first, 200))
        out = bridge.Out(reader, server.url, "L")
        inn = bridge.In(dst.writer(), server.url, "L", marker=server.store + "/m")
        to = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        ti = asyncio.ensure_future(inn.run())
        dr = dst.reader()
        got = []
        while len(got) < 256:
            b = await dr.next_block_async(4096, timeout=LIMIT)
            assert b is not None
            got += [int.from_bytes(bytes(ev)[:8], "little") for ev in b]
            b.release()
        await out.close()
        await inn.close()
        return reader.lost, out.stats(), inn.stats(), dst.stats(), got

    lost, so, si, ds, got = run(main())
    assert lost == 744 and got == list(range(744, 1000))
    assert so["lost"] == si["lost"] == 744
    assert ds["upstream_lost"] == 744


# ---- replay -----------------------------------------------------------------------------


def _publish(server, stream, n, gap_after=None):
    """n events through Out into `stream` (two batches when gap_after: a time between)."""
    async def main():
        src = rr.Ring(64, 4096)
        w = src.writer()
        out = bridge.Out(src.reader(name="r"), server.url, stream, max_events=100)
        to = asyncio.ensure_future(out.run())
        stamp = None
        first = gap_after or n
        w.add_block(payloads(0, min(first, 4000)))
        sent = min(first, 4000)
        while out.stats()["events"] < first:
            if sent < first:
                k = min(1000, first - sent)
                try:
                    w.add_block(payloads(sent, k), timeout=0)
                    sent += k
                except rr.RingFull:
                    pass
            await asyncio.sleep(0.002)
        if gap_after:
            await asyncio.sleep(0.05)
            stamp = time.time()
            await asyncio.sleep(0.05)
            w.add_block(payloads(first, n - first))
            while out.stats()["events"] < n:
                await asyncio.sleep(0.002)
        await out.close()
        assert not to.done() or to.exception() is None
        return stamp
    return run(main())


def _replay(server, stream, total, **kw):
    async def main():
        dst = rr.Ring(64, 8192)
        inn = bridge.In(dst.writer(), server.url, stream, marker=server.store + "/m-" +
                        kw.get("durable", "x"), **kw)
        ti = asyncio.ensure_future(inn.run())
        r = dst.reader()
        await asyncio.wait([ti, asyncio.ensure_future(inn.started.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        if ti.done():
            await inn.close()
            ti.result()
        rows = []
        deadline = time.monotonic() + LIMIT
        while sum(len(x) for x in rows) < total and time.monotonic() < deadline:
            b = await r.next_block_async(4096, timeout=0.5)
            if b is not None:
                rows.append(b.as_array().copy())
                b.release()
            if ti.done():
                ti.result()
        await inn.close()
        return np.concatenate(rows) if rows else np.empty((0, 64), np.uint8), inn
    return run(main())


def test_replay_from_start_rebuilds_a_fresh_ring_from_the_stream(server):
    _publish(server, "RP", 1000)
    rows, _ = _replay(server, "RP", 1000, from_start=True, durable="a")
    check_rows(rows, 0)
    assert len(rows) == 1000


def test_replay_from_a_stream_sequence_starts_at_that_message(server):
    _publish(server, "RS", 1000)      # 10 messages of 100 events: sequences 1..10
    rows, _ = _replay(server, "RS", 700, from_sequence=4, durable="b")
    assert len(rows) == 700
    check_rows(rows, 300)


def test_replay_from_a_time_starts_at_the_first_message_stored_after_it(server):
    stamp = _publish(server, "RT", 1000, gap_after=600)
    rows, _ = _replay(server, "RT", 400, from_time=stamp, durable="c")
    assert len(rows) == 400
    check_rows(rows, 600)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e6):06d}Z"
    rows, _ = _replay(server, "RT", 400, from_time=iso, durable="d")
    check_rows(rows, 600)


def test_a_consumer_started_again_with_other_replay_options_says_how_to_reset_it(server):
    _publish(server, "RC", 300)
    _replay(server, "RC", 300, from_start=True, durable="e")
    with pytest.raises(bridge.BridgeError, match="reset"):
        _replay(server, "RC", 0, from_sequence=2, durable="e")
    rows, _ = _replay(server, "RC", 200, from_sequence=2, durable="e", reset=True)
    check_rows(rows, 100)


# ---- errors and backpressure -------------------------------------------------------------


def test_a_stream_of_another_format_stops_in_naming_the_stream_and_sequence(server):
    async def main():
        import nats
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="FOREIGN", subjects=["foreign"])
        await js.publish("foreign", b'{"price": 12.5}')
        await nc.close()
        inn = bridge.In(rr.Ring(64, 64).writer(), server.url, "FOREIGN",
                        marker=server.store + "/m")
        with pytest.raises(bridge.BridgeError) as e:
            await inn.run()
        await inn.close()
        return str(e.value)

    text = run(main())
    assert "'FOREIGN'" in text and "message 1" in text and "not a rusted_ring bridge message" in text


def test_an_event_larger_than_the_destination_slots_is_an_error_not_a_truncation(server):
    _publish(server, "BIG", 10)
    with pytest.raises(bridge.BridgeError, match="64 bytes does not fit .* 32-byte slots"):
        async def main():
            inn = bridge.In(rr.Ring(32, 64).writer(), server.url, "BIG",
                            marker=server.store + "/m")
            try:
                await inn.run()
            finally:
                await inn.close()
        run(main())


@pytest.mark.parametrize("url, says", [
    ("nats://127.0.0.1:{closed}", "cannot connect to NATS at nats://127.0.0.1:"),
    ("nats://192.0.2.1:4222", "cannot connect to NATS at nats://192.0.2.1:4222 within 1 s"),
])
def test_a_wrong_or_unreachable_server_is_a_clear_error_within_the_timeout(url, says):
    from conftest import free_port
    url = url.format(closed=free_port())

    async def main():
        out = bridge.Out(rr.Ring(64, 64).reader(), url, "S", connect_timeout=1)
        t0 = time.monotonic()
        with pytest.raises(bridge.BridgeError, match=says):
            await out.run()
        return time.monotonic() - t0
    assert run(main()) < 5


def test_out_refuses_a_stream_that_does_not_take_its_subject(server):
    async def main():
        import nats
        nc = await nats.connect(server.url)
        await nc.jetstream().add_stream(name="OTHER", subjects=["orders.*"])
        await nc.close()
        out = bridge.Out(rr.Ring(64, 64).reader(), server.url, "OTHER", subject="strokes")
        with pytest.raises(bridge.BridgeError, match=r"takes the subjects \['orders.\*'\], not "
                                                     "'strokes'"):
            await out.run()
        await out.close()
        out = bridge.Out(rr.Ring(64, 64).reader(), server.url, "OTHER", subject="orders.x")
        t = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        await out.close()
        await t
    run(main())


def test_in_names_a_missing_stream(server):
    async def main():
        inn = bridge.In(rr.Ring(64, 64).writer(), server.url, "NOPE", marker=server.store + "/m")
        with pytest.raises(bridge.BridgeError, match="no JetStream stream named 'NOPE'"):
            await inn.run()
        await inn.close()
    run(main())


def test_a_full_destination_holds_the_consumer_without_redeliveries_or_drops(server):
    _publish(server, "FULL", 2000)

    async def main():
        dst = rr.Ring(64, 256)
        r = dst.reader()
        inn = bridge.In(dst.writer(), server.url, "FULL", marker=server.store + "/m",
                        ack_wait=1.0, batch=4)
        ti = asyncio.ensure_future(inn.run())
        while inn.stats()["full_waits"] == 0:
            await asyncio.sleep(0.01)
            assert not ti.done()
        held_at = dst.published
        # hold it full for three ack waits: in-progress acks keep the messages ours
        t_end = time.monotonic() + 3.5
        while time.monotonic() < t_end:
            await asyncio.sleep(0.1)
            assert dst.published == held_at
        assert inn.stats()["redeliveries"] == 0
        rows = []
        while sum(len(x) for x in rows) < 2000:
            b = await r.next_block_async(256, timeout=LIMIT)
            rows.append(b.as_array().copy())
            b.release()
        await inn.close()
        return np.concatenate(rows), inn.stats()

    rows, si = run(main())
    check_rows(rows, 0)
    assert len(rows) == 2000 and si["redeliveries"] == 0 and si["events"] == 2000


def test_stats_are_exposed_for_prometheus(server):
    prometheus_client = pytest.importorskip("prometheus_client")
    _publish(server, "PM", 500)

    async def main():
        inn = bridge.In(rr.Ring(64, 1024).writer(), server.url, "PM", marker=server.store + "/m")
        ti = asyncio.ensure_future(inn.run())
        while inn.stats()["events"] < 500:
            await asyncio.sleep(0.01)
            assert not ti.done()
        reg = prometheus_client.CollectorRegistry()
        reg.register(bridge.prometheus_collector(inn))
        text = prometheus_client.generate_latest(reg).decode()
        await inn.close()
        return text
    text = run(main())
    assert 'rusted_ring_bridge_events_total{direction="in",stream="PM"} 500.0' in text
    for name in ("messages_total", "lost_total", "redeliveries_total", "lag", "events_per_second"):
        assert f"rusted_ring_bridge_{name}" in text
