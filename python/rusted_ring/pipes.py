"""Small building blocks for ring-to-ring pipelines (the rusted-ring crate's RingSource/RingSink/RingPipe).

A pipeline such as parse -> enrich -> store is a chain of rings with one
`RingPipe` per stage::

    raw, parsed = rr.Ring(256, 1024), rr.Ring(1024, 1024)
    stage = rr.RingPipe(rr.RingSource(raw), parse, rr.RingSink(parsed))
    thread = stage.start()          # runs until `raw` is closed and drained,
    ...                             # then closes `parsed` for the next stage
    raw.close(); thread.join()

End of stream travels down the chain as `Ring.close()`: a stage stops when its
source ring is closed and drained, then closes its sink's ring, so the next
stage drains and stops in turn.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, Union

from . import _core

__all__ = ["RingSource", "RingSink", "RingPipe", "PipeStats"]

# What a transform may return: None (drop the event), a payload (bytes-like or
# a PooledEvent), or a (payload, event_type) pair.
Output = Union[None, Any, "tuple[Any, int]"]


class RingSource:
    """The events of one reader, as an iterable that ends with the stream.

    ``RingSource(ring_or_reader, timeout=None, start="oldest")``: given a Ring,
    the source makes (and owns) a reader starting at `start`; given a Reader,
    it uses that one. Iterating waits for each event (the GIL is released
    while waiting) and ends when the ring is closed and every event read, or,
    if `timeout` is a number, when no event arrives within `timeout` seconds.
    `ended` tells the two apart afterwards.

    Each event is valid until the next one is taken, as with `Reader.next`.
    A source belongs to one thread at a time.
    """

    def __init__(self, source: _core.Ring | _core.Reader, timeout: float | None = None,
                 *, start: Literal["oldest", "latest"] = "oldest") -> None:
        if isinstance(source, _core.Ring):
            self.reader = source.reader(start)
            self._owns_reader = True
        elif isinstance(source, _core.Reader):
            self.reader = source
            self._owns_reader = False
        else:
            raise TypeError(f"RingSource needs a Ring or a Reader, not {type(source).__name__}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout}")
        self.timeout = timeout
        self.ended = False

    @property
    def ring(self) -> _core.Ring:
        """The ring being read."""
        return self.reader.ring

    def next(self) -> _core.Event | None:
        """The next event, or None at the end of the stream or after `timeout` seconds idle."""
        try:
            ev = self.reader.next(self.timeout)
        except _core.RingClosed:
            ev = None
        if ev is None and self.reader.ring.closed and self.reader.lag == 0:
            self.ended = True
        return ev

    def __iter__(self) -> Iterator[_core.Event]:
        while True:
            ev = self.next()
            if ev is None:
                return
            yield ev

    def close(self) -> None:
        """Close the reader if this source made it (a reader passed in is left open)."""
        if self._owns_reader:
            self.reader.close()

    def __enter__(self) -> RingSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RingSource(ring={self.reader.ring!r}, timeout={self.timeout!r}, ended={self.ended})"


class RingSink:
    """A writer with a send/close vocabulary.

    ``RingSink(ring_or_writer, timeout=None)``: given a Ring, the sink makes
    (and owns) a writer; given a Writer, it uses that one. `timeout` bounds
    each send's wait for space in a backpressure ring (None: wait as long as
    it takes; RingFull when it runs out).
    """

    def __init__(self, sink: _core.Ring | _core.Writer, timeout: float | None = None) -> None:
        if isinstance(sink, _core.Ring):
            self.writer = sink.writer()
            self._owns_writer = True
        elif isinstance(sink, _core.Writer):
            self.writer = sink
            self._owns_writer = False
        else:
            raise TypeError(f"RingSink needs a Ring or a Writer, not {type(sink).__name__}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout}")
        self.timeout = timeout

    @property
    def ring(self) -> _core.Ring:
        """The ring being written."""
        return self.writer.ring

    def send(self, data: Any, event_type: int | None = None) -> int:
        """Publish one payload (bytes-like or PooledEvent); return its sequence.

        `event_type` defaults to the PooledEvent's own type, else 0.
        """
        return self.writer.add(data, event_type, timeout=self.timeout)

    def send_many(self, payloads: Iterable[Any], event_type: int = 0) -> int:
        """Publish payloads in batches (one claim per batch); return how many were sent.

        Batches are at most 64 events and at most half the ring, because a
        batch waits until all its slots are free at once and readers keep
        slots of the events they still hold.
        """
        chunk = max(1, min(64, self.writer.ring.capacity // 2, _core.MAX_CLAIM))
        batch: list[Any] = []
        sent = 0
        for payload in payloads:
            batch.append(payload)
            if len(batch) == chunk:
                sent += self.writer.add_batch(batch, event_type, timeout=self.timeout)
                batch = []
        if batch:
            sent += self.writer.add_batch(batch, event_type, timeout=self.timeout)
        return sent

    def close(self, close_ring: bool = False) -> None:
        """Close the writer if this sink made it; with `close_ring`, also end the ring's stream."""
        if self._owns_writer:
            self.writer.close()
        if close_ring:
            self.writer.ring.close()

    def __enter__(self) -> RingSink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RingSink(ring={self.writer.ring!r}, timeout={self.timeout!r})"


@dataclasses.dataclass
class PipeStats:
    """What a RingPipe has done: events read (`events_in`), published (`events_out`), dropped."""

    events_in: int = 0
    events_out: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain data: {"in": ..., "out": ..., "dropped": ...}."""
        return {"in": self.events_in, "out": self.events_out, "dropped": self.dropped}


class RingPipe:
    """One pipeline stage: read from a source, transform, write to a sink.

    ``RingPipe(source, transform, sink, *, close_sink=True)``. `source` is a
    RingSource (or a Ring/Reader, wrapped in one), `sink` a RingSink (or a
    Ring/Writer). ``transform(event)`` returns what to publish:

    * None: drop the event (counted in ``stats.dropped``);
    * a bytes-like object or PooledEvent: published with the event's own
      type (a PooledEvent's type wins);
    * a ``(payload, event_type)`` pair.

    The event passed to `transform` is valid only during the call: copy what
    you keep (``bytes(event)``). `transform` defaults to passing the payload on.

    With `close_sink`, the sink's ring is closed when the source's stream
    ends, and also when the stage fails, so the next stage never waits for
    events that will not come.
    """

    def __init__(self, source: RingSource | _core.Ring | _core.Reader,
                 transform: Callable[[_core.Event], Output] | None,
                 sink: RingSink | _core.Ring | _core.Writer, *, close_sink: bool = True) -> None:
        self.source = source if isinstance(source, RingSource) else RingSource(source)
        self.sink = sink if isinstance(sink, RingSink) else RingSink(sink)
        self.transform = transform if transform is not None else bytes
        self.close_sink = close_sink
        self.stats = PipeStats()
        #: The exception that stopped the stage, when it ran in `start()`'s thread.
        self.error: BaseException | None = None

    def _publish(self, out: Output, event_type: int) -> None:
        if isinstance(out, tuple):
            payload, out_type = out
            self.sink.send(payload, out_type)
        elif hasattr(out, "event_type") and hasattr(out, "data"):
            self.sink.send(out)
        else:
            self.sink.send(out, event_type)

    def run(self, limit: int | None = None) -> PipeStats:
        """Process events until the source ends or `limit` events were read; return the stats.

        When the source ring is closed and drained (not when `limit` or an idle
        timeout stops the run) and `close_sink` is set, the sink's ring is
        closed. An exception from `transform` or the sink closes it too (with
        `close_sink`) and propagates.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit}")
        stats, transform, source = self.stats, self.transform, self.source
        taken = 0
        try:
            while limit is None or taken < limit:
                ev = source.next()
                if ev is None:
                    break
                taken += 1
                stats.events_in += 1
                out = transform(ev)
                if out is None:
                    stats.dropped += 1
                else:
                    self._publish(out, ev.event_type)
                    stats.events_out += 1
                # Let go of the event (and any view of it) before asking for the next.
                ev = out = None
        except BaseException:
            if self.close_sink:
                self.sink.close(close_ring=True)
            raise
        if source.ended and self.close_sink:
            self.sink.close(close_ring=True)
        return stats

    def start(self, limit: int | None = None, name: str | None = None) -> threading.Thread:
        """Run `run(limit)` in a new daemon thread and return the (started) thread.

        An exception in the thread is kept in `error` (and reported by
        threading's excepthook); `join()` the thread, then check `error`.
        """
        def target() -> None:
            try:
                self.run(limit)
            except BaseException as exc:
                self.error = exc
                raise

        thread = threading.Thread(target=target, name=name or "RingPipe", daemon=True)
        thread.start()
        return thread

    def __repr__(self) -> str:
        return f"RingPipe({self.source!r} -> {self.sink!r}, stats={self.stats})"
