"""The coroutines behind the async methods of Reader and Writer.

python/_core/aio.c checks each call's arguments and returns one of these;
use the methods (``await r.next_async()``, ``async for ev in r.aevents()``,
``await w.add_async(data)``), not this module.

How a task waits. A handle's ``fileno()`` (the core's pollfd, csrc/poll.c)
polls readable while the reader has events (the writer has room) or the
ring is closed, and stops once a call finds nothing. A task first makes the
call without waiting (timeout 0); when it finds nothing, it waits for that
fd through its event loop's ``add_reader``: one registration per handle,
shared by every task waiting on it (``_Waiters``), and a future per task.
When the fd polls readable the registration is taken down and every waiting
future is resolved with nothing; each task then makes its call again and
takes what it finds, or waits again. So an event is taken only by a task
that is running: a task cancelled while it waits takes nothing, and no
thread ever blocks for it (the loop's own select() waits, with the GIL
released, as it does for sockets).

A wait with a timeout, or on a handle that must look now and then even
when the fd stays quiet (``_poll_interval()``: a shared ring where a process
that died could hang the wait), also resolves its future from a timer.

Lifetimes. ``_Waiters`` holds the handle, the loop and the futures; the
handle holds it only weakly (``_aio``), so the tasks and their waiters make
no cycle through a handle the collector cannot see. The loop registers
``_aio_fd()``, a dup of ``fileno()`` that the handle keeps until it is
deallocated, so closing the handle, from any thread at any time, never
closes an fd a loop still watches. ``close()`` wakes the waiting tasks
(``handle_closed``), whose calls then raise RingClosed; a task that had
looked but not yet waited when the close came is woken by the fd itself:
the core's close sends the handle's socket a last byte that nobody drains,
so the copy polls readable for good. An event loop closed
while tasks wait leaves nothing behind once the collector takes those
tasks: the registration went with the loop's selector, the dup goes with
the handle.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ._core import Block, Event, Reader, RingFull, Writer

__all__: list[str] = []   # nothing public: see the methods of Reader and Writer

_FOREVER = -1   # a timeout of None, as aio.c passes it (in ns)


class _Waiters:
    """The tasks of one event loop waiting on one handle's fd.

    Registered with the loop while tasks wait, and kept registered from one
    wait to the next (a task that takes its events and waits again in the
    same step keeps it): no epoll_ctl per wait. Once nobody waits, the
    next look (_idle) takes the registration down, so it never keeps the
    handle alive, nor a loop spinning on an fd nobody drains."""

    __slots__ = ("handle", "loop", "fd", "interval", "futures", "registered", "idle_soon",
                 "__weakref__")

    def __init__(self, handle: Reader | Writer, loop: asyncio.AbstractEventLoop) -> None:
        self.handle = handle
        self.loop = loop
        self.fd = handle._aio_fd()
        self.interval = handle._poll_interval() / 1e9   # 0.0: never look unprompted
        self.futures: list[asyncio.Future[None]] = []
        self.registered = False
        self.idle_soon = False

    def add(self, fut: asyncio.Future[None]) -> None:
        self.futures.append(fut)
        if not self.registered:
            self.loop.add_reader(self.fd, self._readable)
            self.registered = True

    def discard(self, fut: asyncio.Future[None]) -> None:
        """A task stops waiting by itself (timed out, cancelled)."""
        try:
            self.futures.remove(fut)
        except ValueError:
            pass
        self._idle_later()

    def _idle_later(self) -> None:
        if not self.futures and self.registered and not self.idle_soon:
            if self.loop.is_closed():   # its selector, and the registration, went with it
                self.registered = False
                return
            self.idle_soon = True
            self.loop.call_soon(self._idle)

    def _idle(self) -> None:
        """After the tasks woken last had their turn: nobody waits, unregister."""
        self.idle_soon = False
        if not self.futures and self.registered:
            self.registered = False
            if not self.loop.is_closed():
                self.loop.remove_reader(self.fd)

    def _readable(self) -> None:
        """The fd polls readable (or the handle closed): every task looks.
        (It may be the news a task has already taken: it looks again and
        waits again, which costs it one step.)"""
        futures, self.futures = self.futures, []
        for fut in futures:
            if not fut.done():
                fut.set_result(None)
        self._idle_later()

    def handle_closed(self) -> None:
        """close() of the handle, from any thread: wake every waiting task."""
        if self.futures and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self._readable)
            except RuntimeError:   # the loop closed meanwhile: nobody will resume
                pass


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _wait(handle: Reader | Writer, loop: asyncio.AbstractEventLoop,
                deadline: float | None) -> None:
    """Until the handle's fd polls readable, the loop's clock reaches
    `deadline` (None: no deadline), or the handle's poll interval passes."""
    w = handle._aio
    if w is None or w.loop is not loop:
        if w is not None and w.futures and not w.loop.is_closed():
            raise RuntimeError(f"this {type(handle).__name__} is awaited in another event loop; "
                               "a handle waits in one loop at a time")
        w = _Waiters(handle, loop)
        handle._aio = w
    fut = loop.create_future()
    w.add(fut)
    at = deadline
    if w.interval:
        look = loop.time() + w.interval
        at = look if at is None or look < at else at
    timer = loop.call_at(at, _wake, fut) if at is not None else None
    try:
        await fut
    finally:
        if timer is not None:
            timer.cancel()
        if w.futures:   # else _readable let go of every future, this one too
            w.discard(fut)


def _deadline(loop: asyncio.AbstractEventLoop, timeout_ns: int) -> float | None:
    return None if timeout_ns < 0 else loop.time() + timeout_ns / 1e9


def _passed(loop: asyncio.AbstractEventLoop, deadline: float | None) -> bool:
    return deadline is not None and loop.time() >= deadline


# ---- Reader ------------------------------------------------------------------------


async def _next_waiting(reader: Reader, timeout_ns: int) -> Event | None:
    """next() once the first look found nothing."""
    loop = asyncio.get_running_loop()
    deadline = _deadline(loop, timeout_ns)
    while True:
        await _wait(reader, loop, deadline)
        ev = reader.next(0)
        if ev is not None or reader._ended or _passed(loop, deadline):
            return ev


async def reader_next(reader: Reader, timeout_ns: int) -> Event | None:
    ev = reader.next(0)
    if ev is not None or timeout_ns == 0 or reader._ended:
        return ev
    return await _next_waiting(reader, timeout_ns)


async def reader_next_batch(reader: Reader, max_events: int, timeout_ns: int) -> list[Event]:
    evs = reader.next_batch(max_events, 0)
    if evs or timeout_ns == 0 or reader._ended:
        return evs
    loop = asyncio.get_running_loop()
    deadline = _deadline(loop, timeout_ns)
    while True:
        await _wait(reader, loop, deadline)
        evs = reader.next_batch(max_events, 0)
        if evs or reader._ended or _passed(loop, deadline):
            return evs


async def reader_next_block(reader: Reader, max_events: int, timeout_ns: int) -> Block | None:
    b = reader.next_block(max_events, 0)
    if b is not None or timeout_ns == 0 or reader._ended:
        return b
    loop = asyncio.get_running_loop()
    deadline = _deadline(loop, timeout_ns)
    while True:
        await _wait(reader, loop, deadline)
        b = reader.next_block(max_events, 0)
        if b is not None or reader._ended or _passed(loop, deadline):
            return b


async def reader_events(reader: Reader, timeout_ns: int) -> AsyncIterator[Event]:
    next_ = reader.next
    while True:
        ev = next_(0)
        if ev is None:
            if timeout_ns == 0 or reader._ended:
                return
            ev = await _next_waiting(reader, timeout_ns)
            if ev is None:
                return
        yield ev
        ev = None   # not kept while the consumer works: the reader reuses it


# ---- Writer ------------------------------------------------------------------------


async def _add_retrying(writer: Writer, add: Any, timeout_ns: int) -> int:
    """add() (a call with timeout=0) now, or each time the writer's fd says
    there may be room, until it succeeds or the deadline passes."""
    try:
        return int(add())
    except RingFull:
        if timeout_ns == 0:
            raise
    loop = asyncio.get_running_loop()
    deadline = _deadline(loop, timeout_ns)
    while True:
        await _wait(writer, loop, deadline)
        try:
            return int(add())
        except RingFull:
            if _passed(loop, deadline):
                raise


async def writer_add(writer: Writer, data: Any, event_type: int | None, timeout_ns: int) -> int:
    return await _add_retrying(writer, lambda: writer.add(data, event_type, timeout=0), timeout_ns)


async def writer_add_batch(writer: Writer, payloads: Any, event_types: Any, timeout_ns: int) -> int:
    if event_types is None:
        event_types = 0
    if not isinstance(payloads, (list, tuple)):   # a retry must see them again
        try:
            payloads = list(payloads)
        except TypeError:
            pass   # add_batch says what is wrong with them
    return await _add_retrying(
        writer, lambda: writer.add_batch(payloads, event_types, timeout=0), timeout_ns)
