"""asyncio: next_async, next_batch_async, next_block_async, aevents, add_async,
add_batch_async, and the fds behind them (fileno()).

Every payload carries its producer's sequence and a checksum (payloads.py).
Waits are on conditions with generous deadlines, never on sleeps: a wake-up
that never comes fails a test, it does not hang it. The writers in other
processes (Python and Lua) are in tests/interop/test_aio_interop.py.
"""
import asyncio
import gc
import os
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

import rusted_ring as rr
from payloads import Payloads, decode, scaled, wait_until

LIMIT = 60.0   # seconds; reached only when something is broken
MODES = ["backpressure", "overwrite"]


def run(coro, limit=LIMIT):
    """Run a coroutine to the end on a fresh loop, failing after `limit` seconds."""
    return asyncio.run(asyncio.wait_for(coro, limit))


def fds():
    return len(os.listdir("/proc/self/fd"))


def os_threads():
    return len(os.listdir("/proc/self/task"))


def readable(fd, timeout=0.0):
    return bool(select.select([fd], [], [], timeout)[0])


def write_in_thread(ring, n, producer=0, close=True):
    """Start a thread writing n checked payloads (waiting for room), then
    closing the ring; returns the thread and a list that receives its error."""
    errors = []

    def write():
        try:
            w = ring.writer()
            p = Payloads(producer, ring.slot_size)
            for seq in range(n):
                w.add(p.make(seq), timeout=LIMIT)
            w.close()
            if close:
                ring.close()
        except BaseException as e:  # noqa: BLE001 - re-raised by the test
            errors.append(e)
            ring.close()

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t, errors


class Checker:
    """In-order, intact delivery of one producer's payloads; in overwrite
    mode, events lost to a lapping writer are skipped but counted."""

    def __init__(self, overwrite):
        self.overwrite = overwrite
        self.next = 0
        self.got = 0

    def see(self, ev):
        _, seq = decode(ev)
        if self.overwrite:
            assert seq >= self.next, f"event {seq} after {self.next - 1}"
        else:
            assert seq == self.next, f"event {seq} where {self.next} was due"
        self.next = seq + 1
        self.got += 1


# ---- 10^5 events through an asyncio consumer ---------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_next_async_takes_every_checksummed_event_a_writer_thread_publishes(mode):
    n = scaled(100_000, 1000)
    ring = rr.Ring(64, 256, mode=mode)
    r = ring.reader()
    t, errors = write_in_thread(ring, n)
    check = Checker(mode == "overwrite")

    async def consume():
        while (ev := await r.next_async()) is not None:
            check.see(ev)

    run(consume())
    t.join(LIMIT)
    assert not errors
    assert check.next == n
    assert check.got + r.lost == n
    if mode == "backpressure":
        assert check.got == n


@pytest.mark.parametrize("mode", MODES)
def test_aevents_next_batch_async_and_next_block_async_take_every_event(mode):
    n = scaled(30_000, 1000)
    for way in ("aevents", "batch", "block"):
        ring = rr.Ring(64, 128, mode=mode)
        r = ring.reader()
        t, errors = write_in_thread(ring, n)
        check = Checker(mode == "overwrite")

        async def consume():
            if way == "aevents":
                async for ev in r.aevents():
                    check.see(ev)
            elif way == "batch":
                while evs := await r.next_batch_async(64):
                    for ev in evs:
                        check.see(ev)
            else:
                while (b := await r.next_block_async(64)) is not None:
                    for i in range(len(b)):
                        check.see(b[i])

        run(consume())
        t.join(LIMIT)
        assert not errors, way
        assert check.next == n, way
        assert check.got + r.lost == n, way


def test_add_async_waits_for_room_while_an_asyncio_reader_drains_the_ring():
    n = scaled(20_000, 1000)
    ring = rr.Ring(64, 16)
    w, r = ring.writer(), ring.reader()
    p = Payloads(3, 64)
    check = Checker(False)

    async def produce():
        for seq in range(0, n, 4):
            await w.add_async(p.make(seq))
            await w.add_batch_async([p.make(s) for s in range(seq + 1, min(seq + 4, n))])
        ring.close()

    async def consume():
        async for ev in r.aevents():
            check.see(ev)

    async def both():
        await asyncio.gather(produce(), consume())

    run(both())
    assert check.next == n
    assert ring.stats()["writer_stalls"] > 0   # it did wait for room


# ---- cancellation ----------------------------------------------------------------


def test_a_storm_of_cancelled_awaits_loses_no_event_and_leaks_no_fd_or_thread():
    cancels = scaled(10_000, 500)
    ring = rr.Ring(64, 64)
    r = ring.reader()
    r.fileno()
    ring.writer().add(b"warm-up")   # tells the fd: this process's sending socket is made
    assert bytes(r.next()) == b"warm-up"
    gc.collect()
    fd_count, thread_count = fds(), os_threads()
    n = cancels // 2
    check = Checker(False)

    async def storm():
        loop = asyncio.get_running_loop()
        p = Payloads(1, 64)
        w = ring.writer()
        written = 0
        cancelled = 0
        while cancelled < cancels:
            task = asyncio.ensure_future(r.next_async())
            await asyncio.sleep(0)              # it runs until it waits
            if cancelled % 2 == 0 and written < n:
                w.add(p.make(written))          # its wake-up is on the way ...
                written += 1
            if cancelled % 3 == 0:
                await asyncio.sleep(0)          # ... or already delivered to it
            task.cancel()                       # taken back, whatever it was doing
            try:
                ev = await task
            except asyncio.CancelledError:
                cancelled += 1
            else:
                if ev is not None:              # it had taken the event before the cancel
                    check.see(ev)
        while written < n:
            w.add(p.make(written))
            written += 1
        w.close()
        ring.close()
        while (ev := await r.next_async()) is not None:
            check.see(ev)
        dup = r._aio_fd()
        assert all(key.fd != dup for key in loop._selector.get_map().values())   # unregistered

    run(storm())
    assert check.next == n and check.got == n   # every event once, in order
    r.close()
    gc.collect()
    assert fds() == fd_count - 1   # the reader's fd closed with it; nothing else left
    assert os_threads() == thread_count


def test_a_cancelled_add_async_writes_nothing():
    ring = rr.Ring(64, 2)
    w, r = ring.writer(), ring.reader()
    w.add(b"a")
    w.add(b"b")

    async def main():
        task = asyncio.ensure_future(w.add_async(b"never"))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert [bytes(ev) for ev in r] == [b"a", b"b"]
    assert r.next() is None
    assert ring.published == 2


# ---- many waiters ----------------------------------------------------------------


def test_many_readers_awaiting_one_ring_each_take_every_event():
    n = scaled(5000, 200)
    ring = rr.Ring(64, 64)
    readers = [ring.reader() for _ in range(16)]
    t, errors = write_in_thread(ring, n)

    async def consume(r):
        check = Checker(False)
        async for ev in r.aevents():
            check.see(ev)
        return check.next

    async def main():
        return await asyncio.gather(*(consume(r) for r in readers))

    assert run(main()) == [n] * len(readers)
    t.join(LIMIT)
    assert not errors


def test_many_tasks_awaiting_one_reader_share_its_events_each_once():
    n = scaled(20_000, 1000)
    ring = rr.Ring(64, 64)
    r = ring.reader()
    t, errors = write_in_thread(ring, n)

    async def consume():
        seqs = []
        while (ev := await r.next_async()) is not None:
            seqs.append(decode(ev)[1])
            # an Event kept across an await pins its slot (and the ones after
            # it) from the writer: eight tasks keeping one each while they
            # wait could hold the whole ring
            del ev
            if len(seqs) % 7 == 0:
                await asyncio.sleep(0)   # let the other tasks take some
        return seqs

    async def main():
        return await asyncio.gather(*(consume() for _ in range(8)))

    parts = run(main())
    t.join(LIMIT)
    assert not errors
    assert sorted(s for part in parts for s in part) == list(range(n))
    assert all(part == sorted(part) for part in parts)
    assert sum(1 for part in parts if part) > 1   # shared, not all taken by one


# ---- closing --------------------------------------------------------------------------


@pytest.mark.parametrize("closer", ["loop", "thread"])
def test_closing_the_ring_wakes_every_awaiting_task(closer):
    ring = rr.Ring(64, 2)
    readers = [ring.reader() for _ in range(4)]
    idle = ring.reader()   # keeps the ring full
    w = ring.writer()
    w.add(b"x")
    w.add(b"y")
    for r in readers:
        r.next_batch(2)

    async def main():
        waiting = [asyncio.ensure_future(r.next_async()) for r in readers]
        waiting += [asyncio.ensure_future(r.next_batch_async(4)) for r in readers]
        adding = asyncio.ensure_future(w.add_async(b"z"))   # the ring is full
        await asyncio.sleep(0.01)
        assert not any(t.done() for t in waiting) and not adding.done()
        if closer == "loop":
            ring.close()
        else:
            t = threading.Thread(target=ring.close)
            t.start()
            t.join()
        results = await asyncio.gather(*waiting)
        assert results == [None] * 4 + [[]] * 4
        with pytest.raises(rr.RingClosed):
            await adding

    run(main())
    assert [bytes(ev) for ev in idle] == [b"x", b"y"]


def test_closing_a_reader_an_awaiting_task_waits_on_raises_ring_closed_in_it():
    ring = rr.Ring(64, 8)
    r = ring.reader()

    async def main():
        task = asyncio.ensure_future(r.next_async())
        await asyncio.sleep(0.01)
        r.close()
        with pytest.raises(rr.RingClosed, match="reader is closed"):
            await task

    run(main())


@pytest.mark.parametrize("side", ["reader", "writer"])
def test_a_handle_closed_by_another_thread_between_a_tasks_look_and_its_wait_wakes_it(
        side, monkeypatch):
    # The task's look (timeout 0) finds nothing; then, before its future is
    # registered, another thread closes the handle (its close finds no future
    # to wake); then the task waits on the loop's copy of the fd. That copy
    # must poll readable for good, or the task never wakes.
    from rusted_ring import _aio

    ring = rr.Ring(64, 2)
    r = ring.reader()
    w = ring.writer()
    if side == "reader":
        handle, call = r, (lambda: r.next_async())
    else:
        w.add(b"x")
        w.add(b"y")   # full: r does not read
        handle, call = w, (lambda: w.add_async(b"z"))
    add = _aio._Waiters.add

    def close_first(self, fut):
        monkeypatch.setattr(_aio._Waiters, "add", add)   # once
        t = threading.Thread(target=handle.close)
        t.start()
        t.join()
        add(self, fut)

    async def main():
        # a first wait that times out makes the handle's waiters (and its copy
        # of the fd), which a closed handle would refuse
        if side == "reader":
            assert await r.next_async(timeout=0.01) is None
        else:
            with pytest.raises(rr.RingFull):
                await w.add_async(b"z", timeout=0.01)
        monkeypatch.setattr(_aio._Waiters, "add", close_first)
        with pytest.raises(rr.RingClosed, match=f"{side} is closed"):
            await asyncio.wait_for(call(), LIMIT)

    run(main())
    assert _aio._Waiters.add is add


def test_an_event_loop_closed_with_awaits_pending_leaves_no_fd_behind():
    gc.collect()
    fd_count = fds()
    ring = rr.Ring(64, 8)
    r, idle, w = ring.reader(), ring.reader(), ring.writer()
    for _ in range(8):
        w.add(b"full")                  # `idle` keeps the ring full
    assert len(r.next_batch(8)) == 8    # `r` has nothing more to read
    loop = asyncio.new_event_loop()
    tasks = [loop.create_task(r.next_async()) for _ in range(3)]
    tasks.append(loop.create_task(w.add_async(b"no room")))
    loop.run_until_complete(asyncio.sleep(0.01))
    assert not any(t.done() for t in tasks)
    loop.close()                        # with all four waiting
    del tasks, loop
    gc.collect()
    for h in (r, idle, w):
        h.close()
    # the ring goes on: a new reader in a new loop
    r = ring.reader()
    assert bytes(run(r.next_async(timeout=LIMIT))) == b"full"
    del r, idle, w, h, ring
    gc.collect()
    assert fds() == fd_count


# ---- interruptions ------------------------------------------------------------------------


def test_ctrl_c_interrupts_an_awaiting_task():
    code = (
        "import asyncio, signal, rusted_ring as rr\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # not inherited as ignored\n"
        "r = rr.Ring(64, 8).reader()\n"
        "async def main():\n"
        "    asyncio.get_running_loop().call_soon(lambda: print('waiting', flush=True))\n"
        "    await r.next_async()\n"
        "try:\n"
        "    asyncio.run(main())\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', r.next(), flush=True)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().strip() == "waiting"
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=LIMIT)
    finally:
        p.kill()
    assert out.strip() == "interrupted None"
    assert p.returncode == 0


def test_the_loop_thread_waits_without_the_gil_and_without_spinning():
    ring = rr.Ring(64, 8)
    r = ring.reader()
    started = threading.Event()
    tid = []

    def loop_thread():
        tid.append(threading.get_native_id())

        async def main():
            started.set()
            return await r.next_async()

        return asyncio.run(main())

    t = threading.Thread(target=loop_thread, daemon=True)
    t.start()
    assert started.wait(LIMIT)

    def cpu(thread_id):
        with open(f"/proc/self/task/{thread_id}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])   # utime + stime, in ticks

    before = cpu(tid[0])
    count, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < 0.5:   # pure-Python work: needs the GIL all along
        count += 1
    assert count > 10_000
    assert cpu(tid[0]) - before <= 5     # the waiting thread took at most ~50 ms of CPU
    ring.writer().add(b"wake")
    t.join(LIMIT)
    assert not t.is_alive()


# ---- the fds ---------------------------------------------------------------------------------


def test_the_reader_fd_stays_consistent_when_the_sync_api_takes_the_events():
    ring = rr.Ring(64, 16)
    w, r = ring.writer(), ring.reader()
    fd = r.fileno()
    assert r.fileno() == fd
    assert not readable(fd)
    w.add(b"1")
    assert readable(fd, LIMIT)
    w.add(b"2")
    assert bytes(r.next()) == b"1"
    assert [bytes(ev) for ev in r.next_batch(8)] == [b"2"]
    assert r.next() is None          # a read that found nothing ...
    assert not readable(fd)          # ... quiets the fd
    w.add(b"3")
    assert readable(fd, LIMIT)
    assert [bytes(ev) for ev in r] == [b"3"]   # iteration ends on a read that finds nothing
    assert not readable(fd)
    w.add(b"4")

    async def take():
        return bytes(await r.next_async())

    assert run(take()) == b"4"
    assert r.next() is None
    assert not readable(fd)
    ring.close()
    assert readable(fd, LIMIT)


def test_the_writer_fd_polls_readable_while_there_is_room():
    ring = rr.Ring(64, 2)
    w, r = ring.writer(), ring.reader()
    fd = w.fileno()
    assert readable(fd)
    w.add(b"a")
    w.add(b"b")
    assert not w.try_add(b"c")
    assert not readable(fd)
    r.next()
    r.next()                  # releases "a"
    assert readable(fd, LIMIT)


def test_fds_of_closed_handles_are_refused():
    ring = rr.Ring(64, 2)
    w, r = ring.writer(), ring.reader()
    r.close()
    w.close()
    with pytest.raises(rr.RingClosed):
        r.fileno()
    with pytest.raises(rr.RingClosed):
        w.fileno()


def test_one_writer_per_ring_may_have_a_fileno():
    ring = rr.Ring(64, 8, producers="multi")
    a, b = ring.writer(), ring.writer()
    a.fileno()
    with pytest.raises(rr.RingError, match=f"process {os.getpid()}"):
        b.fileno()
    a.close()
    assert b.fileno() >= 0


# ---- timeouts and arguments --------------------------------------------------------------------


def test_timeouts_give_what_the_blocking_calls_give():
    ring = rr.Ring(64, 1)
    w, r = ring.writer(), ring.reader()

    async def main():
        assert await r.next_async(timeout=0) is None
        t0 = time.monotonic()
        assert await r.next_async(timeout=0.05) is None
        assert time.monotonic() - t0 >= 0.04
        assert await r.next_batch_async(4, timeout=0.01) == []
        assert await r.next_block_async(4, timeout=0.01) is None
        assert [ev async for ev in r.aevents(timeout=0.01)] == []
        await w.add_async(b"one")
        with pytest.raises(rr.RingFull):
            await w.add_async(b"two", timeout=0.02)
        with pytest.raises(rr.RingFull):
            await w.add_batch_async([b"two"], timeout=0)
        ev = await r.next_async(timeout=1)
        assert bytes(ev) == b"one" and ev.event_type == 0

    run(main())


def test_bad_arguments_are_refused_at_the_call_as_the_blocking_calls_refuse_them():
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(ValueError):
        r.next_async(timeout=-1)
    with pytest.raises(TypeError, match="timeout"):
        r.next_async(timeout="soon")
    with pytest.raises(ValueError, match="max_events must be at least 1"):
        r.next_batch_async(0)
    with pytest.raises(ValueError, match="max_events must be at least 1"):
        r.next_block_async(0)
    with pytest.raises(TypeError):
        w.add_async(b"x", 0, 1.0)        # timeout is keyword-only, as add's
    with pytest.raises(ValueError):
        w.add_async(b"x", timeout=float("nan"))

    async def main():
        with pytest.raises(rr.DataTooLarge):
            await w.add_async(b"x" * 65)
        with pytest.raises(TypeError):
            await w.add_batch_async(5)
        await w.add_batch_async((bytes([i]) for i in range(3)), [1, 2, 3])
        return [(bytes(ev), ev.event_type) for ev in await r.next_batch_async(8)]

    assert run(main()) == [(b"\0", 1), (b"\1", 2), (b"\2", 3)]


def test_one_reader_is_awaited_in_one_event_loop_at_a_time():
    ring = rr.Ring(64, 4)
    r = ring.reader()
    first_waits = threading.Event()
    done = threading.Event()

    def other_loop():
        async def main():
            task = asyncio.ensure_future(r.next_async())
            await asyncio.sleep(0.01)
            first_waits.set()
            while not done.is_set():
                await asyncio.sleep(0.005)
            task.cancel()

        asyncio.run(main())

    t = threading.Thread(target=other_loop, daemon=True)
    t.start()
    assert first_waits.wait(LIMIT)
    try:
        with pytest.raises(RuntimeError, match="another event loop"):
            run(r.next_async())
    finally:
        done.set()
        t.join(LIMIT)


def test_a_follower_awaits_until_the_stage_it_follows_lets_go():
    ring = rr.Ring(64, 16)
    w = ring.writer()
    parse = ring.reader(name="parse")
    store = ring.reader(name="store", after=["parse"])

    async def main():
        waiting = asyncio.ensure_future(store.next_async())
        w.add(b"one")
        await asyncio.sleep(0.02)
        assert not waiting.done()                # parse has not let go of it
        assert bytes(await parse.next_async()) == b"one"
        assert await parse.next_async(timeout=0) is None   # moves on: lets go
        ev = await asyncio.wait_for(waiting, LIMIT)
        return bytes(ev)

    assert run(main()) == b"one"
