"""bridge In against what goes wrong around it: two destinations, a second
bridge on one consumer, a rewind cut short, a consumer deleted under it,
messages the stream lost or holds twice, a destination closed under it."""
import asyncio
import os

import numpy as np
import pytest

import rusted_ring as rr
from conftest import LIMIT, Collector, check_rows, payloads
from test_bridge import run

try:
    from rusted_ring import bridge
    import nats
    import nats.js.errors
    from nats.js import api
except ImportError:   # skipped by conftest, with the reason
    pass

INSTANCE = 0x5EED


async def publish_frames(url, stream, frames, subject=None):
    """Publish hand-made messages: each (first source sequence, count[, lost[, instance]])
    of checksummed 64-byte events. The stream is made when missing."""
    subject = subject or stream.lower()
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        await js.add_stream(name=stream, subjects=[subject])
    for f in frames:
        first, n, lost, instance = list(f) + [0, INSTANCE][len(f) - 2:]
        rows = payloads(first, n)
        msg = bridge.encode(instance, first, lost,
                            [(rows, np.full(n, 64, np.uint32), np.zeros(n, np.uint32))])
        await js.publish(subject, bytes(msg))
    await nc.close()


async def consumer(url, stream, durable):
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().consumer_info(stream, durable)
    except nats.js.errors.NotFoundError:
        return None
    finally:
        await nc.close()


async def started(inn):
    """Run inn until it is started (its task) or has failed (raises what it raised)."""
    task = asyncio.ensure_future(inn.run())
    ready = asyncio.ensure_future(inn.started.wait())
    await asyncio.wait([task, ready], timeout=LIMIT, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if task.done():
        task.result()
    assert inn.started.is_set(), "bridge in did not start"
    return task


async def until(cond, what, tasks=()):
    deadline = asyncio.get_running_loop().time() + LIMIT
    while not cond():
        for t in tasks:
            if t.done():
                t.result()
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def read_all(ring_reader):
    rows = []
    while True:
        b = ring_reader.next_block(65536, 0)
        if b is None:
            break
        rows.append(b.as_array()[:, :64].copy())
        b.release()
    return np.concatenate(rows) if rows else np.empty((0, 64), np.uint8)


# ---- one consumer per destination ----------------------------------------------------------


def test_the_default_consumer_is_named_after_the_host_and_the_ring_in_jetstreams_characters():
    name = bridge._consumer_name
    assert name("strokes", "reader1.example.com") == "rr-reader1-strokes"
    assert name("/a.b c>*", "h") == "rr-h-a_b_c__"
    long = name("x" * 300, "host")
    assert len(long) == 64 and long.startswith("rr-host-xxx")
    assert long != name("x" * 299, "host"), "a cut name keeps a hash of the whole"


def test_two_destinations_with_the_same_ring_name_on_two_hosts_each_get_the_whole_stream(server):
    async def main():
        await publish_frames(server.url, "TWO", [(i * 100, 100) for i in range(20)])
        rings = [rr.Ring(64, 4096, name="copy") for _ in range(2)]
        readers = [r.reader() for r in rings]
        ins = [bridge.In(r.writer(), server.url, "TWO", host=h, marker=f"{server.store}/m-{h}")
               for r, h in zip(rings, ("alpha", "beta"))]
        tasks = [await started(b) for b in ins]
        await until(lambda: all(r.published >= 2000 for r in rings), "2000 events in each",
                    tasks)
        for b in ins:
            await b.close()
        return ([b.durable for b in ins], [read_all(r) for r in readers],
                [await consumer(server.url, "TWO", b.durable) for b in ins])

    names, rows, infos = run(main())
    assert names == ["rr-alpha-copy", "rr-beta-copy"]
    for r in rows:
        assert len(r) == 2000
        check_rows(r, 0)
    assert all(i.ack_floor.stream_seq == 20 for i in infos)


def test_a_second_bridge_in_on_the_same_consumer_is_refused_saying_why(server):
    async def main():
        await publish_frames(server.url, "SAME", [(0, 100)])
        a = bridge.In(rr.Ring(64, 4096).writer(), server.url, "SAME", durable="one",
                      marker=f"{server.store}/m-a")
        ta = await started(a)
        b = bridge.In(rr.Ring(64, 4096).writer(), server.url, "SAME", durable="one",
                      marker=f"{server.store}/m-b")
        try:
            with pytest.raises(bridge.BridgeError, match="another bridge in is running on the "
                                                         "durable consumer 'one'"):
                await asyncio.wait_for(started(b), LIMIT)
        finally:
            await b.close()
        assert not ta.done()
        await a.close()
        await ta
        # once the first one stopped, the second one may start
        c = bridge.In(rr.Ring(64, 4096).writer(), server.url, "SAME", durable="one",
                      marker=f"{server.store}/m-b")
        await started(c)
        await c.close()
    run(main())


def test_two_bridges_in_started_at_the_same_moment_on_one_consumer_leave_one_running(server):
    async def main():
        await publish_frames(server.url, "TWIN", [(0, 100)])
        outcomes = []
        for round_ in range(3):
            ins = [bridge.In(rr.Ring(64, 4096, name=f"twin-{round_}-{side}").writer(),
                             server.url, "TWIN", durable=f"twin{round_}",
                             marker=f"{server.store}/m-twin{round_}{side}") for side in "ab"]
            got = await asyncio.gather(*(started(i) for i in ins), return_exceptions=True)
            outcomes.append([g if isinstance(g, BaseException) else None for g in got])
            for i, g in zip(ins, got):
                if not isinstance(g, BaseException):
                    assert not g.done()
                    await until(lambda: i.stats()["events"] == 100, "the winner's events", [g])
                await i.close()
                if not isinstance(g, BaseException):
                    await g
        return outcomes

    for a, b in run(main()):
        errors = [e for e in (a, b) if e is not None]
        assert len(errors) == 1, (a, b)
        assert isinstance(errors[0], bridge.BridgeError), errors
        says = str(errors[0])
        assert "another bridge in" in says and "ring 'twin-" in says, says
        loser = "a" if a is not None else "b"
        assert f"-{loser}'" not in says, says


def test_a_second_bridge_in_on_the_same_marker_is_refused_by_its_lock(server):
    async def main():
        await publish_frames(server.url, "LOCK", [(0, 100)])
        marker = f"{server.store}/m"
        a = bridge.In(rr.Ring(64, 4096).writer(), server.url, "LOCK", durable="x",
                      marker=marker)
        await started(a)
        b = bridge.In(rr.Ring(64, 4096).writer(), server.url, "LOCK", durable="y",
                      marker=marker)
        with pytest.raises(bridge.BridgeError, match=f"the marker file {marker} is locked"):
            await asyncio.wait_for(started(b), LIMIT)
        await b.close()
        await a.close()
        bad = bridge.In(rr.Ring(64, 64).writer(), server.url, "LOCK",
                        marker=f"{server.store}/no/such/folder/m")
        with pytest.raises(bridge.BridgeError, match="cannot open the marker file .*no/such"):
            await bad.run()
        await bad.close()
    run(main())


# ---- rewinds ------------------------------------------------------------------------------


def test_a_rewind_cut_short_between_delete_and_add_resumes_from_the_marker_without_replay(server):
    """A bridge stopped with messages taken and not acked makes the next one
    rewind (delete the consumer, add it again); that one fails between the two;
    the third makes the consumer again where the marker says: every event once."""
    async def main():
        await publish_frames(server.url, "RW", [(i * 100, 100) for i in range(20)])
        dst = rr.Ring(64, 256)
        col = Collector(dst)
        marker = f"{server.store}/m"
        first = bridge.In(dst.writer(), server.url, "RW", marker=marker, batch=4)
        t1 = await started(first)
        await until(lambda: first.stats()["full_waits"] > 0, "a full destination", [t1])
        t1.cancel()                    # "killed": messages taken, not acked
        await asyncio.gather(t1, return_exceptions=True)
        await first.close()
        first.writer.close()
        assert (await consumer(server.url, "RW", first.durable)).num_ack_pending > 0

        second = bridge.In(dst.writer(), server.url, "RW", marker=marker, connect_timeout=0.5)

        async def refused(js, policy):
            raise nats.js.errors.APIError(code=500, description="injected: add refused")
        second._add_consumer = refused
        with pytest.raises(bridge.BridgeError, match="cannot make the durable consumer .* "
                                                     "again .*injected"):
            await second.run()
        await second.close()
        second.writer.close()
        assert await consumer(server.url, "RW", second.durable) is None

        third = bridge.In(dst.writer(), server.url, "RW", marker=marker)
        t3 = await started(third)
        info = await consumer(server.url, "RW", third.durable)
        await until(lambda: col.poll() >= 0 and col.count >= 2000, "2000 events", [t3])
        await until(lambda: third.stats()["lag"] == 0 and col.poll() == 0,
                    "the rest of the stream", [t3])
        await third.close()
        return dst.published, col.count, info.config.opt_start_seq

    published, count, start = run(main())
    assert published == count == 2000, "each event once"
    assert start > 1, "made again at the marker's message, not at the stream's start"


def test_a_consumer_deleted_under_a_running_bridge_in_is_an_error_not_a_silent_loop(server):
    async def main():
        await publish_frames(server.url, "DEL", [(0, 100)])
        inn = bridge.In(rr.Ring(64, 4096).writer(), server.url, "DEL",
                        marker=f"{server.store}/m")
        task = await started(inn)
        await until(lambda: inn.stats()["events"] == 100, "100 events", [task])
        nc = await nats.connect(server.url)
        await nc.jetstream().delete_consumer("DEL", inn.durable)
        await nc.close()
        with pytest.raises(bridge.BridgeError, match="was deleted while bridge in ran"):
            await asyncio.wait_for(task, 20)
        await inn.close()
    run(main())


def test_reset_clears_the_marker_and_starts_again_as_asked(server):
    async def main():
        await publish_frames(server.url, "RST", [(0, 100), (100, 100)])
        dst = rr.Ring(64, 4096)
        marker = f"{server.store}/m"
        sizes = []
        for kw, events in ((dict(from_start=True), 200), (dict(from_sequence=3, reset=True), 0),
                           (dict(from_sequence=3), 100)):
            inn = bridge.In(dst.writer(), server.url, "RST", marker=marker, **kw)
            task = await started(inn)
            if events == 100:
                await publish_frames(server.url, "RST", [(200, 100)])
            await until(lambda: inn.stats()["events"] == events, f"{events} events", [task])
            await inn.close()
            inn.writer.close()
            sizes.append(os.path.getsize(marker))
        return dst.published, sizes
    published, sizes = run(main())
    assert published == 300
    assert sizes[1] == 0, "reset clears the marker"
    assert sizes[0] == sizes[2] > 0


# ---- source sequences ---------------------------------------------------------------------


def test_messages_the_stream_dropped_while_in_was_down_are_carried_as_lost(server):
    async def main():
        await publish_frames(server.url, "GAP", [(0, 100), (100, 100)])
        dst = rr.Ring(64, 4096)
        r = dst.reader()
        marker = f"{server.store}/m"
        inn = bridge.In(dst.writer(), server.url, "GAP", marker=marker)
        task = await started(inn)
        await until(lambda: inn.stats()["events"] == 200, "200 events", [task])
        await inn.close()
        inn.writer.close()
        # while In is down: three more messages, and a purge of the first two of them
        await publish_frames(server.url, "GAP", [(200, 100), (300, 100), (400, 100, 7)])
        nc = await nats.connect(server.url)
        await nc.jetstream().purge_stream("GAP", seq=5)
        await nc.close()
        inn = bridge.In(dst.writer(), server.url, "GAP", marker=marker)
        task = await started(inn)
        await until(lambda: inn.stats()["events"] == 100, "100 more events", [task])
        await inn.close()
        rows = read_all(r)
        # a replay from a sequence on a ring of its own starts there: no gap
        other = rr.Ring(64, 4096)
        replay = bridge.In(other.writer(), server.url, "GAP", durable="later",
                           from_sequence=5, marker=f"{server.store}/m2")
        task = await started(replay)
        await until(lambda: replay.stats()["events"] == 100, "the replay", [task])
        await replay.close()
        return rows, inn.stats(), dst.stats(), other.stats()

    rows, si, ds, other = run(main())
    check_rows(rows[:200], 0)
    check_rows(rows[200:], 400)
    assert len(rows) == 300
    assert si["lost"] == 200 + 7 and si["gaps"] == 1
    assert ds["upstream_lost"] == 207
    assert other["upstream_lost"] == 7


def test_a_stream_deleted_and_made_again_while_in_was_down_is_read_from_its_start_by_source_sequence(
        server):
    # The new stream's sequences mean nothing of the old one's: In skips what
    # the ring has by source sequence, writes the rest once, counts nothing lost.
    async def main():
        await publish_frames(server.url, "AGAIN", [(0, 100), (100, 100), (200, 100)])
        dst = rr.Ring(64, 4096)
        r = dst.reader()
        marker = f"{server.store}/m-again"
        inn = bridge.In(dst.writer(), server.url, "AGAIN", marker=marker)
        task = await started(inn)
        await until(lambda: inn.stats()["events"] == 300, "300 events", [task])
        await inn.close()
        inn.writer.close()
        nc = await nats.connect(server.url)
        await nc.jetstream().delete_stream("AGAIN")
        await nc.close()
        await publish_frames(server.url, "AGAIN", [(200, 100), (300, 100), (400, 100),
                                                   (500, 100)])
        inn = bridge.In(dst.writer(), server.url, "AGAIN", marker=marker)
        task = await started(inn)
        await until(lambda: dst.published == 600, "600 events in the ring", [task])
        await until(lambda: inn.stats()["duplicates"] == 1, "the duplicate counted", [task])
        await inn.close()
        return read_all(r), inn.stats(), dst.stats()

    rows, si, ds = run(main())
    assert len(rows) == 600
    check_rows(rows, 0)
    assert si["lost"] == 0 and si["gaps"] == 0 and si["events"] == 300, si
    assert ds["upstream_lost"] == 0


def test_messages_the_stream_holds_twice_are_written_once_and_counted(server):
    async def main():
        await publish_frames(server.url, "DUP", [
            (0, 100), (100, 100), (100, 100), (150, 100), (250, 50),
            (0, 30, 0, INSTANCE + 1)])        # a new source ring starts again at 0
        dst = rr.Ring(64, 4096)
        r = dst.reader()
        inn = bridge.In(dst.writer(), server.url, "DUP", marker=f"{server.store}/m")
        task = await started(inn)
        await until(lambda: dst.published >= 330 and inn.stats()["lag"] == 0
                    and inn.stats()["messages"] + inn.stats()["duplicates"] >= 6,
                    "every message", [task])
        await inn.close()
        return read_all(r), inn.stats(), dst.stats()

    rows, si, ds = run(main())
    check_rows(rows[:300], 0)
    check_rows(rows[300:], 0)
    assert len(rows) == 330
    assert si["duplicates"] == 2 and si["lost"] == 0 and ds["upstream_lost"] == 0


def test_a_header_lost_count_beyond_what_note_lost_takes_is_refused_naming_it():
    msg = bridge.encode(1, 0, 2**63, [(np.zeros((1, 8), np.uint8), [8], [0])])
    with pytest.raises(bridge.FrameError, match="lost"):
        bridge.decode(msg)
    ok = bridge.encode(1, 0, 2**63 - 1, [(np.zeros((1, 8), np.uint8), [8], [0])])
    assert bridge.decode(ok).lost == 2**63 - 1


# ---- the destination -----------------------------------------------------------------------


def test_a_destination_closed_in_the_middle_of_a_message_is_a_bridge_error(server):
    async def main():
        await publish_frames(server.url, "CLOSE", [(i * 100, 100) for i in range(10)])
        dst = rr.Ring(64, 256)
        held = dst.reader()      # noqa: F841 (the reader that keeps the ring full)
        inn = bridge.In(dst.writer(), server.url, "CLOSE", marker=f"{server.store}/m")
        task = await started(inn)
        await until(lambda: inn.stats()["full_waits"] > 0, "a full destination", [task])
        dst.close()
        with pytest.raises(bridge.BridgeError, match="destination ring .* was closed while "
                                                     "stream 'CLOSE'"):
            await asyncio.wait_for(task, LIMIT)
        await inn.close()
    run(main())
