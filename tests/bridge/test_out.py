"""Out against a real nats-server: one Out per stream, refused publishes, a
deleted stream, stop() while the server is down, losses after a restart."""
import asyncio
import gc
import signal
import time

import numpy as np
import pytest

import rusted_ring as rr
from conftest import LIMIT, payloads, wait_until
from test_bridge import run, stream_exists, stream_sequences

try:
    from rusted_ring import bridge
except ImportError:   # skipped by conftest, with the reason
    pass


async def _js(url):
    import nats
    nc = await nats.connect(url)
    return nc, nc.jetstream()


async def _until(cond, what, timeout=LIMIT, state=None):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}"
                        + (f": {state()}" if state else ""))
        await asyncio.sleep(0.005)


async def _stream_events(url, stream):
    """(Rr-Source, instance, source sequence) of every event in the stream, in order."""
    nc, js = await _js(url)
    info = await js.stream_info(stream)
    got = []
    for s in range(info.state.first_seq, info.state.last_seq + 1):
        m = await js.get_msg(stream, s)
        f = bridge.decode(m.data)
        src = (m.headers or {}).get("Rr-Source")
        got += [(src, f.instance, f.first_sequence + i) for i in range(len(f))]
    await nc.close()
    return got


async def _publish_by_hand(url, stream, subject, source, instance, first, n, create=True):
    """A message as an Out of `source` would have published it, e.g. before a restart."""
    nc, js = await _js(url)
    if create:
        await js.add_stream(name=stream, subjects=[subject], duplicate_window=120.0)
    data = payloads(first, n)
    msg = bridge.encode(instance, first, 0, [(data, np.full(n, 64, np.uint32),
                                              np.zeros(n, np.uint32))])
    await js.publish(subject, bytes(msg), headers={"Nats-Msg-Id": f"{instance}:{first}",
                                                   "Rr-Source": source})
    await nc.close()


async def _publish(out, writer, first, n):
    """n events into the ring and, through `out` (running), into the stream."""
    want = out.stats()["events"] + n
    writer.add_block(payloads(first, n))
    await _until(lambda: out.stats()["events"] >= want, f"{want} events acked",
                 state=out.stats)


# ---- one Out per stream ----------------------------------------------------------------


def test_a_second_out_of_another_ring_on_the_same_stream_is_refused_naming_both(server, shm):
    async def main():
        a, b = rr.Ring.create_shared(shm(), 64, 1024), rr.Ring.create_shared(shm(), 64, 1024)
        out = bridge.Out(a.reader(name="bridge>S1", durable=True), server.url, "S1",
                         subject="rusted_ring.shared")
        task = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        await _publish(out, a.writer(), 0, 100)
        await out.close()
        await task
        second = bridge.Out(b.reader(name="bridge>S1", durable=True), server.url, "S1",
                            subject="rusted_ring.shared")
        with pytest.raises(bridge.BridgeError) as e:
            await asyncio.wait_for(second.run(), LIMIT)
        await second.close()
        return out.source, second.source, str(e.value)

    first, second, says = run(main())
    assert first != second
    assert first in says and second in says and "one Out per stream" in says
    assert "takeover" in says


def test_a_restarted_out_after_another_sources_message_takes_over_and_stores_each_event_once(
        server, shm):
    # Before the restart, this ring's events 0..99 went out in one message; then another
    # source wrote to the stream. The restarted Out groups 30 a message: JetStream says
    # its first one (msg id instance:0) is a duplicate, but the stored one holds 100
    # events: they are not published again, and none of 100..999 is lost.
    async def main():
        ring = rr.Ring.create_shared(shm(), 64, 1024)
        reader = ring.reader(name="bridge>T", durable=True)
        out = bridge.Out(reader, server.url, "T", max_events=30, takeover=True)
        await _publish_by_hand(server.url, "T", out.subject, out.source, out.instance, 0, 100)
        await _publish_by_hand(server.url, "T", out.subject, "elsewhere/other", 7, 0, 5,
                               create=False)
        refused = bridge.Out(reader, server.url, "T")
        with pytest.raises(bridge.BridgeError, match="elsewhere/other"):
            await asyncio.wait_for(refused.run(), LIMIT)
        await refused.close()
        w = ring.writer()
        w.add_block(payloads(0, 1000))
        task = asyncio.ensure_future(out.run())
        await _until(lambda: out.stats()["events"] >= 900 or task.done(), "900 events acked",
                     state=out.stats)
        await out.close()
        await task
        return out.source, out.instance, await _stream_events(server.url, "T"), out.stats()

    source, instance, events, stats = run(main())
    ours = [seq for src, inst, seq in events if (src, inst) == (source, instance)]
    assert ours == list(range(1000)), stats
    assert len(events) == 1005


# ---- refusals, a deleted stream --------------------------------------------------------


def test_a_publish_jetstream_refuses_stops_out_with_its_error_without_waiting_for_the_ack_timeout(
        server):
    # A stream of 2 messages at most that refuses new ones: the third message is refused.
    # With an ack timeout of 30 s, only the refusal itself can end run() this early.
    async def main():
        nc, js = await _js(server.url)
        from nats.js import api
        await js.add_stream(name="FULL", subjects=["full"], max_msgs=2,
                            discard=api.DiscardPolicy.NEW)
        await nc.close()
        ring = rr.Ring(64, 1024)
        out = bridge.Out(ring.reader(name="r"), server.url, "FULL", subject="full",
                         max_events=10, max_in_flight=1, ack_timeout=30.0)
        task = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        ring.writer().add_block(payloads(0, 100))
        t0 = time.monotonic()
        with pytest.raises(bridge.BridgeError) as e:
            await asyncio.wait_for(task, 25)
        took = time.monotonic() - t0
        await out.close()
        return str(e.value), took, out.stats()

    says, took, stats = run(main())
    assert "maximum messages" in says and "'FULL'" in says, says
    assert took < 25 and stats["events"] == 20


def test_out_stopped_by_a_refused_publish_closes_its_reader_keeping_what_was_not_stored(
        server):
    # As a drain that gives up: the blocks of the refused message are kept,
    # never released, and the durable reader parks at its first event.
    ring = rr.Ring(64, 1024)

    async def main():
        nc, js = await _js(server.url)
        from nats.js import api
        await js.add_stream(name="FULL2", subjects=["full2"], max_msgs=2,
                            discard=api.DiscardPolicy.NEW)
        await nc.close()
        out = bridge.Out(ring.reader(name="r", durable=True), server.url, "FULL2",
                         subject="full2", max_events=10, max_in_flight=1, ack_timeout=30.0)
        task = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        ring.writer().add_block(payloads(0, 100))
        with pytest.raises(bridge.BridgeError):
            await asyncio.wait_for(task, 25)
        return out.reader.closed, out.unreleased(), out.stats()["events"]

    closed, unreleased, events = run(main())
    assert closed and unreleased == 10 and events == 20, (closed, unreleased, events)
    gc.collect()
    resumed = ring.reader(name="r", durable=True)
    block = resumed.next_block(1000)
    assert block is not None and block.first_sequence == 20, block


def test_an_error_of_the_work_raised_as_stop_gives_up_its_drain_is_not_swallowed(server):
    # The drain's deadline passes; the cancel() that follows finds the work
    # already failed: run() raises that error instead of returning.
    async def main():
        ring = rr.Ring(64, 1024)
        out = bridge.Out(ring.reader(name="r"), server.url, "NEVER", ack_timeout=0.05)

        async def work(stopping):
            await stopping.wait()
            try:
                await asyncio.sleep(LIMIT)
            except asyncio.CancelledError:
                raise bridge.BridgeError("failed while the drain was given up") from None
        out._work = work
        task = asyncio.ensure_future(out.run())
        await _until(lambda: out._running, "run() started")
        await out.stop()
        with pytest.raises(bridge.BridgeError, match="drain was given up"):
            await asyncio.wait_for(task, LIMIT)

    run(main())


async def _purge_and_restart(server, stream, running):
    ring = rr.Ring(64, 1024)
    w = ring.writer()
    out = bridge.Out(ring.reader(name="r", durable=True), server.url, stream, ack_timeout=5.0)
    task = asyncio.ensure_future(out.run())
    await asyncio.wait_for(out.started.wait(), LIMIT)
    await _publish(out, w, 0, 100)
    if not running:
        await out.close()
        await task
        out.reader.close()    # parks: the next one resumes at event 100
    nc, js = await _js(server.url)
    await js.purge_stream(stream)
    info = await js.stream_info(stream)
    assert info.state.messages == 0 and info.state.last_seq >= 1
    await nc.close()
    if not running:
        out = bridge.Out(ring.reader(name="r", durable=True), server.url, stream,
                         ack_timeout=5.0)
        task = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
    await _publish(out, w, 100, 100)
    await out.stop()
    await asyncio.wait_for(task, LIMIT)
    await out.close()
    return [s for _, _, s in await _stream_events(server.url, stream)]


def test_out_restarted_on_a_purged_stream_starts_and_carries_the_new_events(server):
    assert run(_purge_and_restart(server, "PURGED", running=False)) == list(range(100, 200))


def test_a_running_out_goes_on_after_its_stream_is_purged(server):
    assert run(_purge_and_restart(server, "PURGED2", running=True)) == list(range(100, 200))


def test_a_stream_deleted_under_a_running_out_stops_it_with_a_bridge_error(server):
    async def main():
        ring = rr.Ring(64, 1024)
        w = ring.writer()
        out = bridge.Out(ring.reader(name="r"), server.url, "GONE", ack_timeout=30.0)
        task = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        await _publish(out, w, 0, 100)
        nc, js = await _js(server.url)
        await js.delete_stream("GONE")
        await nc.close()
        w.add_block(payloads(100, 100))
        with pytest.raises(bridge.BridgeError) as e:
            await asyncio.wait_for(task, 25)
        await out.close()
        return str(e.value), out.stats()

    says, stats = run(main())
    assert "'GONE'" in says and "deleted" in says, says
    assert stats["resyncs"] <= 5, stats


# ---- stop while the server is down -----------------------------------------------------


def test_stop_returns_while_the_server_is_down_keeping_what_was_not_acked_unreleased(
        server):
    ring = rr.Ring(64, 1024)

    async def main():
        w = ring.writer()
        out = bridge.Out(ring.reader(name="r", durable=True), server.url, "D", ack_timeout=1.0)
        task = asyncio.ensure_future(out.run())
        await asyncio.wait_for(out.started.wait(), LIMIT)
        await _publish(out, w, 0, 100)
        server.stop()
        w.add_block(payloads(100, 100))
        await _until(lambda: out.stats()["in_flight"] > 0, "a message in flight",
                     state=out.stats)
        t0 = time.monotonic()
        await asyncio.wait_for(out.stop(), 20)   # the drain's deadline is ack_timeout
        took = time.monotonic() - t0
        await asyncio.wait_for(out.close(), 20)
        assert task.done() and task.exception() is None
        return took, out.unreleased(), out.stats()

    took, unreleased, stats = run(main())
    assert took < 20
    assert unreleased == 100 and stats["events"] == 100, stats
    # The Out and the blocks it kept are gone: its reader, closed when the
    # drain gave up, parked at the first event the stream lacks.
    gc.collect()
    resumed = ring.reader(name="r", durable=True)
    block = resumed.next_block(1000)
    assert block is not None and block.first_sequence == 100 and len(block) == 100


def test_a_bridge_out_stopped_twice_while_the_server_is_down_exits_and_its_restart_stores_each_event_once(
        server, shm, bridges):
    name = shm()
    ring = rr.Ring.create_shared(name, 64, 1024)
    w = ring.writer()
    args = ["out", "--shared", name, "--nats", server.url, "--stream", "P"]

    def lag():
        return [r["lag"] for r in ring.stats()["readers"] if r["name"] == "bridge>P"]

    def stored(n):
        return lambda: (run(stream_exists(server.url, "P"))
                        and len(run(stream_sequences(server.url, "P"))) >= n)

    out = bridges(*args)
    wait_until(lambda: lag() == [0], LIMIT, "bridge out's reader")
    w.add_block(payloads(0, 100))
    wait_until(stored(100), LIMIT, "100 events in the stream")
    server.stop()
    w.add_block(payloads(100, 100))
    wait_until(lambda: lag() == [0], LIMIT, "bridge out taking events 100..199")
    out.proc.send_signal(signal.SIGTERM)   # waits a while for acks that cannot come ...
    out.proc.send_signal(signal.SIGINT)    # ... and is cancelled at once
    rc, err = out.finish(LIMIT)
    assert rc == 1, err
    assert "second signal" in err and "100 events were not acked" in err, err
    assert "Traceback" not in err, err
    server.start()
    again = bridges(*args)
    w.add_block(payloads(200, 100))
    wait_until(stored(300), LIMIT, "300 events in the stream",
               lambda: (again.running(), again.stderr()))
    again.kill(signal.SIGTERM)
    rc, err = again.finish(LIMIT)
    assert rc == 0, err
    assert run(stream_sequences(server.url, "P")).tolist() == list(range(300))


# ---- losses after a restart ------------------------------------------------------------


def test_an_overwrite_mode_restart_counts_as_lost_only_what_the_stream_lacks(server):
    # The stream holds events 0..99 (sent before a restart, their release lost); the
    # reader, still at 0, was lapped: it lost 744 events, 100 of which the stream has.
    async def main():
        ring = rr.Ring(64, 256, mode="overwrite")
        reader = ring.reader(name="bridge>O")
        out = bridge.Out(reader, server.url, "O")
        await _publish_by_hand(server.url, "O", out.subject, out.source, out.instance, 0, 100)
        w = ring.writer()
        for first in range(0, 1000, 200):
            w.add_block(payloads(first, 200))
        task = asyncio.ensure_future(out.run())
        await _until(lambda: out.stats()["events"] >= 256 or task.done(), "256 events acked",
                     state=out.stats)
        await out.close()
        await task
        return reader.lost, out.stats(), await stream_sequences(server.url, "O")

    lost, stats, seqs = run(main())
    assert lost == 744
    assert stats["lost"] == 644, stats
    assert seqs.tolist() == list(range(100)) + list(range(744, 1000))


# ---- the command line's errors ---------------------------------------------------------


@pytest.mark.parametrize("error", [rr.RingClosed("the ring is closed"),
                                   OSError(24, "Too many open files"),
                                   "nats"])
def test_the_command_line_ends_an_error_of_the_ring_nats_or_the_system_with_one_line(
        server, shm, monkeypatch, capsys, error):
    import nats.errors
    from rusted_ring import __main__ as cli
    if error == "nats":
        error = nats.errors.ConnectionClosedError()

    async def fails(self):
        raise error
    monkeypatch.setattr(bridge.Out, "run", fails)
    name = shm()
    rr.Ring.create_shared(name, 64, 1024)
    rc = cli.main(["bridge", "out", "--shared", name, "--nats", server.url, "--stream", "E"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert "bridge out: " in err[0]
    assert type(error).__name__ in err[0]


def test_a_metrics_port_in_use_is_a_one_line_error(server, shm, bridges):
    import socket
    name = shm()
    rr.Ring.create_shared(name, 64, 1024)
    with socket.socket() as s:
        s.bind(("", 0))
        s.listen()
        port = s.getsockname()[1]
        b = bridges("out", "--shared", name, "--nats", server.url, "--stream", "M",
                    "--metrics-port", port)
        rc, err = b.finish(LIMIT)
    assert rc == 1 and f"cannot serve metrics on port {port}" in err, err
    assert "Traceback" not in err, err
