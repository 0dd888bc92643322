"""A bridge between rings and NATS JetStream (``pip install 'rusted_ring[bridge]'``).

``Out`` reads a ring and publishes its events to a JetStream stream, many
events to a message; ``In`` reads the stream through a durable consumer and
writes the events into a local ring, in order. Together they carry one
ring's stream to rings on other machines, exactly once, with the source's
losses carried along, and rebuild a ring from the stream's history (replay).

    import asyncio, rusted_ring as rr
    from rusted_ring import bridge

    async def main():
        ring = rr.Ring.open_shared("strokes")
        async with bridge.Out(ring.reader(name="bridge>STROKES", durable=True),
                              "nats://127.0.0.1:4222", "STROKES") as out:
            await out.run()            # until out.stop() (or cancellation)

The command line runs the same: ``python -m rusted_ring bridge out ...`` and
``python -m rusted_ring bridge in ...`` (see rusted_ring.__main__).

Framing: each message holds events of consecutive source sequences, packed
(docs/bridge-framing.md has the exact layout): a 40-byte little-endian header
(magic ``RRNB``, version 1, flags, header size, event count, largest event
length, source ring instance, first source sequence, events lost right
before the first one), the event types (u32 each), the lengths (u32 each),
then the payloads back to back. Messages are built and taken apart with
NumPy over whole Blocks (``Reader.next_block``, ``Writer.claim_block``): no
Python work per event.

Exactly once into the stream (``Out``). The reader should be a durable named
reader: events are released only once the message holding them has its
PubAck, so a killed bridge resumes at the first event the stream may lack.
Each message carries ``Nats-Msg-Id: <instance>:<first sequence>`` (a retried
publish within the stream's duplicate window is dropped by JetStream), its
source (``Rr-Source: <host name>/<ring name>``), and a chain of
expectations: the first message after (re)synchronising carries
``Nats-Expected-Last-Sequence`` (the stream's last message as read from the
stream), each next one ``Nats-Expected-Last-Msg-Id`` (its predecessor; JetStream
checks both across the whole stream, not per subject): a message whose
predecessor was not stored is refused, so a failed publish never leaves a hole
that a later one fills. Several messages are in flight at once; their acks
are taken in order, and a message JetStream says it already had is checked
against the one stored (same instance, first sequence and count). On start
and after any failed publish the bridge reads the stream's last message:
events of this ring instance up to its last sequence are in the stream and
are released without being published again.

One Out per stream. Out knows its own messages by ``Rr-Source`` (host name
and ring name): after the source host is renamed, start it once with
``takeover=True``. A stream whose last message comes from another source
(another host or ring) is refused at start, naming both, unless
``takeover=True`` (``--takeover``); a message of another source appearing
while the bridge runs stops it (BridgeError). The same source with another
ring instance (the ring was created again) starts a fresh chain. A refused
publish (a message too large, a full stream, a deleted stream) stops the
bridge with BridgeError naming the server's error; a refused expectation
(the chain broken by a lost publish) makes it read the stream's end again,
waiting longer each time (up to 1 s). A stream that holds no message at
its end (purged, or every message removed by its limits) goes on from its
last sequence; a publish JetStream calls a duplicate of a message it no
longer holds is sent again under ``<instance>:<first>+<count>``.

Exactly once into the ring (``In``). Messages are taken in stream order and
acked once all their events are published to the ring. Before it writes a
message's first event, the bridge writes a marker (a 96-byte file, by default
``/dev/shm/rusted_ring.bridge.<ring>.<consumer>``; ``marker=`` chooses),
locked (flock) while a bridge runs: the destination ring's instance, the
consumer's identity (a hash of the stream, the durable name, the filter and
the start options: the same after a rewind, which makes the consumer again),
the message's stream sequence M, ``ring.published`` and the ring's
``upstream_lost`` before M, the source position (source ring instance,
next source sequence) before and after M, the stream's incarnation (its
creation time) and M's events to write. After a restart, a redelivered
message before M is skipped, and of M only the events not yet in the ring
(``ring.published`` minus the marker's) are written; a consumer that is gone
(deleted by hand, or the bridge killed while it made it again) is made again
at M. A stream deleted and made again since (another incarnation) voids M
and ``ring.published``: only the source position holds, so the new stream
is read from its start (or as asked) and its events already in the ring are
skipped by source sequence, nothing counted lost that is not. This needs the
bridge to be the destination ring's only writer. A
destination ring created again (a new instance) makes the marker void;
``reset=True`` clears it.

One consumer per destination: the default durable name is
``rr-<host>-<ring>``, and a bridge refuses to start on a consumer another
bridge in runs on (each answers on ``_RR_BRIDGE.in.<stream>.<durable>``; a
killed one stops answering when its connection drops, which the server may
notice only a few seconds later: until then a restart is refused with "it
did not answer", and trying again shortly after succeeds). Two started at
the same moment both subscribe, then ask again: of those that see each
other the one with the lower (start time, random nonce) runs, one already
running always does, and the other stops with BridgeError naming it. A
deleted consumer stops a running bridge with BridgeError.

Source sequences. The bridge keeps the source position: of one source ring
instance, events at or before it are skipped (``duplicates``: a message
stored twice), and a jump past it (messages the stream no longer holds:
removed by its limits or a purge while the bridge was down) goes to
``Writer.note_lost`` and ``stats()["lost"]`` / ``["gaps"]``. A new source
instance (the source ring created again), and the first message after a
start with no marker, start the count afresh.

Losses. A lapped reader of an overwrite-mode source counts lost events; the
bridge puts each increase into the header of the next message (a gap in the
sequences always starts a new message), ``In`` passes it to
``Writer.note_lost`` (the destination's ``upstream_lost``), and both
bridges count it in ``stats()["lost"]``. A source in overwrite mode cannot
hold events for the bridge: events taken but not yet acked when the bridge is
killed are not sent again (backpressure mode sends them again).

Backpressure. A full destination ring holds ``In``: it fetches nothing more,
and the messages it holds get in-progress acks every third of the consumer's
ack wait, so JetStream does not deliver them again meanwhile.

Replay. A new durable consumer starts at the stream's first message
(``from_start``, the default), at a stream sequence (``from_sequence``: the
sequence JetStream gives each message, as ``nats stream view`` shows) or at
a time (``from_time``, the time JetStream stored the message). Starting again
with the same options resumes where the consumer is; options that differ from
an existing consumer's are an error that says to ``reset`` it (which deletes
the consumer and the marker, and starts again as asked).
"""
from __future__ import annotations

import asyncio
import datetime
import errno
import fcntl
import hashlib
import json
import os
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

try:
    import nats
    import nats.errors
    import nats.js.errors
    from nats.aio.client import Client as NatsClient
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext, api
except ImportError:  # pragma: no cover - what the message says is the test
    raise ImportError(
        "rusted_ring.bridge needs nats-py, which is not installed: "
        "pip install 'rusted_ring[bridge]' (or nats-py)") from None

from . import _aio
from ._core import MAX_CLAIM, Block, Reader, Ring, RingClosed, RingFull, Writer

__all__ = ["Out", "In", "BridgeError", "FrameError", "Frame", "encode", "decode",
           "MAGIC", "VERSION", "HEADER_SIZE", "prometheus_collector"]

MAGIC = b"RRNB"
"""The first 4 bytes of every message."""
VERSION = 1
"""The framing's version (byte 4)."""
_HEADER = struct.Struct("<4sBBHIIQQQ")
HEADER_SIZE = _HEADER.size   # 40
"""Bytes before the event types."""
_U8 = np.dtype(np.uint8)
_U32 = np.dtype("<u4")
_MARKER = struct.Struct("<8s11Q")
_MARKER_MAGIC = b"RRBMARK3"
_MARKER_V2 = struct.Struct("<8s9Q")    # (no stream incarnation: read as the same one)
_MARKER_V2_MAGIC = b"RRBMARK2"
_MAX_LOST = 2**63 - 1   # what Writer.note_lost takes at most


class BridgeError(RuntimeError):
    """The bridge cannot go on: what is wrong, and what to do about it."""


class FrameError(BridgeError, ValueError):
    """A message that is not a rusted_ring bridge message (another format,
    another version, or truncated)."""


# ---- framing -------------------------------------------------------------------------


@dataclass
class Frame:
    """One message taken apart; the arrays are views of the message's bytes."""
    instance: int               # the source ring's instance
    first_sequence: int         # the source sequence of the first event
    lost: int                   # events the source reader lost right before the first
    flags: int
    max_length: int             # the largest event's length
    event_types: npt.NDArray[np.uint32]
    lengths: npt.NDArray[np.uint32]
    payload: npt.NDArray[np.uint8]   # the payloads back to back

    def __len__(self) -> int:
        return len(self.lengths)

    def events(self) -> Iterator[tuple[int, int, bytes]]:
        """(source sequence, event type, payload) of each event: for tests and
        tools, one Python object per event (the bridge itself never does this)."""
        off = 0
        for i, (t, n) in enumerate(zip(self.event_types.tolist(), self.lengths.tolist())):
            yield self.first_sequence + i, t, self.payload[off:off + n].tobytes()
            off += n


def _packed(data: npt.NDArray[np.uint8], lengths: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    """The first lengths[i] bytes of each row of `data`, back to back (one copy)."""
    if len(lengths) == 0:
        return np.empty(0, _U8)
    first = int(lengths[0])
    if bool((lengths == first).all()):
        return np.ascontiguousarray(data[:, :first]).reshape(-1)
    mask = np.arange(data.shape[1], dtype=np.uint32)[None, :] < lengths[:, None]
    out: npt.NDArray[np.uint8] = data[mask]
    return out


def encode(instance: int, first_sequence: int, lost: int,
           parts: Iterable[tuple[Any, Any, Any]]) -> bytearray:
    """One message from `parts`: (data, lengths, event_types) of consecutive
    events, data one row per event (n x slot_size uint8, e.g. a Block's), lengths
    and event_types one uint32 per event (the first `lengths[i]` bytes of row i
    are event i)."""
    datas, lens, types = [], [], []
    for data, lengths, event_types in parts:
        lens.append(np.ascontiguousarray(lengths, dtype=_U32))
        types.append(np.ascontiguousarray(event_types, dtype=_U32))
        datas.append(np.asarray(data, dtype=_U8))
    count = sum(len(x) for x in lens)
    all_lengths = np.concatenate(lens) if len(lens) != 1 else lens[0]
    total = int(all_lengths.sum(dtype=np.uint64)) if count else 0
    max_length = int(all_lengths.max()) if count else 0
    buf = bytearray(HEADER_SIZE + 8 * count + total)
    _HEADER.pack_into(buf, 0, MAGIC, VERSION, 0, HEADER_SIZE, count, max_length,
                      instance, first_sequence, lost)
    out = np.frombuffer(buf, _U8)
    off = HEADER_SIZE
    for t in types:
        out[off:off + 4 * len(t)] = t.view(_U8)
        off += 4 * len(t)
    for n in lens:
        out[off:off + 4 * len(n)] = n.view(_U8)
        off += 4 * len(n)
    for data, n in zip(datas, lens):
        packed = _packed(data, n)
        out[off:off + len(packed)] = packed
        off += len(packed)
    return buf


def decode(message: bytes | bytearray | memoryview) -> Frame:
    """Take a message apart (FrameError, saying what is wrong, if it is not one)."""
    size = len(message)
    if size < HEADER_SIZE:
        if bytes(message[:4]) != MAGIC[:min(4, size)]:
            raise FrameError(f"not a rusted_ring bridge message: {size} bytes, starting "
                             f"{bytes(message[:8])!r} (expected magic {MAGIC!r})")
        raise FrameError(f"truncated: {size} bytes, shorter than the {HEADER_SIZE}-byte header")
    magic, version, flags, hsize, count, max_length, instance, first, lost = \
        _HEADER.unpack_from(message, 0)
    if magic == MAGIC and lost > _MAX_LOST:
        raise FrameError(f"lost: the header says {lost} events were lost; a count of lost "
                         f"events is at most 2**63-1")
    if magic != MAGIC:
        raise FrameError(f"not a rusted_ring bridge message: it starts {bytes(message[:8])!r} "
                         f"(expected magic {MAGIC!r})")
    if version != VERSION:
        raise FrameError(f"framing version {version}; this bridge reads version {VERSION}")
    if hsize != HEADER_SIZE or flags != 0:
        raise FrameError(f"header size {hsize} and flags {flags:#x}: version {VERSION} has "
                         f"{HEADER_SIZE} and 0")
    arr = np.frombuffer(message, _U8)
    if size < HEADER_SIZE + 8 * count:
        raise FrameError(f"truncated: {size} bytes, too short for the {count} events' "
                         f"types and lengths")
    types = arr[HEADER_SIZE:HEADER_SIZE + 4 * count].view(_U32)
    lengths = arr[HEADER_SIZE + 4 * count:HEADER_SIZE + 8 * count].view(_U32)
    total = int(lengths.sum(dtype=np.uint64))
    if size != HEADER_SIZE + 8 * count + total:
        raise FrameError(f"truncated or padded: {size} bytes, but the header and lengths "
                         f"say {HEADER_SIZE + 8 * count + total}")
    if count and int(lengths.max()) != max_length:
        raise FrameError(f"the header says the largest event has {max_length} bytes, the "
                         f"lengths say {int(lengths.max())}")
    return Frame(instance, first, lost, flags, max_length, types, lengths,
                 arr[HEADER_SIZE + 8 * count:])


# ---- connecting ------------------------------------------------------------------------


async def _connect(url: str, timeout: float, name: str) -> NatsClient:
    """A connection, or BridgeError within about `timeout` seconds. Once
    connected, the client reconnects by itself for as long as it takes."""
    last: list[BaseException] = []

    async def error_cb(e: Exception) -> None:
        last[:] = [e]

    async def quiet(*_: Any) -> None:
        return None

    nc = NatsClient()
    # (nats-py annotates the two times as int; it takes seconds as float)
    times: dict[str, Any] = {"connect_timeout": max(timeout / 2, 0.2),
                             "reconnect_time_wait": 0.25}
    try:
        await asyncio.wait_for(
            nc.connect(url, name=name, max_reconnect_attempts=-1, error_cb=error_cb,
                       disconnected_cb=quiet, reconnected_cb=quiet, closed_cb=quiet, **times),
            timeout)
    except (asyncio.TimeoutError, OSError, nats.errors.Error) as e:
        why = last[0] if last else e
        try:
            await nc.close()
        except Exception:
            pass
        raise BridgeError(f"cannot connect to NATS at {url} within {timeout:g} s: "
                          f"{type(why).__name__}: {why or 'timed out'}") from None
    return nc


def _check_jetstream_error(e: BaseException, url: str) -> BridgeError:
    if isinstance(e, nats.js.errors.ServiceUnavailableError) or isinstance(
            e, nats.errors.NoRespondersError):
        return BridgeError(f"the NATS server at {url} does not answer JetStream requests: "
                           "is it started with JetStream enabled (nats-server -js)?")
    return BridgeError(f"JetStream at {url}: {type(e).__name__}: {e}")


def _rate(count: int, since: float) -> float:
    dt = time.monotonic() - since
    return count / dt if dt > 0 else 0.0


_B = TypeVar("_B", bound="_Bridge")


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a last `>` one or more."""
    p, t = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(t) > i
        if i >= len(t) or (tok != "*" and tok != t[i]):
            return False
    return len(p) == len(t)


class _Bridge:
    """What Out and In share: the connection, stop(), the async context manager."""

    def __init__(self, nats_url: str, stream: str, connect_timeout: float) -> None:
        self.nats_url = nats_url
        self.stream = stream
        self.connect_timeout = connect_timeout
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._stopping: asyncio.Event | None = None
        self.started = asyncio.Event()
        """Set once run() is connected and the stream (Out) or consumer (In) is there."""
        self._started = time.monotonic()
        self._running = False

    def _stop_event(self) -> asyncio.Event:
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    async def _open(self, name: str) -> JetStreamContext:
        if self._js is None:
            self._nc = await _connect(self.nats_url, self.connect_timeout, name)
            self._js = self._nc.jetstream()
        return self._js

    async def stop(self) -> None:
        """Ask run() to finish (Out: flushes what is in flight) and wait for it."""
        self._stop_event().set()
        while self._running:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Stop, and close the connection to NATS."""
        await self.stop()
        if self._nc is not None:
            nc, self._nc, self._js = self._nc, None, None
            try:
                await nc.close()
            except Exception:
                pass

    async def __aenter__(self: _B) -> _B:
        return self

    async def __aexit__(self, t: type[BaseException] | None, v: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


# ---- Out -------------------------------------------------------------------------------


@dataclass
class _Sent:
    """A message in flight: its blocks are released once it has its PubAck."""
    msg_id: str
    first: int
    count: int
    lost: int
    payload: bytearray
    blocks: list[Block]
    future: asyncio.Future[dict[str, Any]] | None = None


class _Resync(Exception):
    pass


class _Refused(Exception):
    """JetStream's error reply to a publish."""

    def __init__(self, code: int, err_code: int, description: str) -> None:
        super().__init__(f"{description} (code {code}, err_code {err_code})")
        self.code, self.err_code, self.description = code, err_code, description


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


# err_codes of a refused expectation (Nats-Expected-Last-Msg-Id, -Last-Sequence):
# the chain was broken (a publish lost), not the message
_CHAIN_BROKEN = (10070, 10071)
# no responders (err_code 0: the stream went, or the server is not ready), JetStream
# temporarily unavailable (10008); other 503s (10077: the store refused it) stay refused
_UNAVAILABLE = (0, 10008)
_SOURCE = "Rr-Source"


class Out(_Bridge):
    """Publish a ring reader's events to a JetStream stream.

    Args:
        ring_reader: the reader the events come from; a durable named reader
            (``ring.reader(name=..., durable=True)``) makes the stream exactly
            once across restarts. Out releases events only once JetStream has
            them; the ring must hold ``max_in_flight`` messages' events.
        nats_url: e.g. ``nats://127.0.0.1:4222``.
        stream: the JetStream stream's name.
        subject: the subject published to (default ``rusted_ring.<ring name>``).
        create_stream: create the stream (file storage, the subject, a
            2-minute duplicate window) when it does not exist (BridgeError
            naming it if False).
        max_message_bytes: a message's size limit (default 512 KiB, and never
            more than the server's max_payload).
        max_events: events per message at most.
        max_in_flight: messages published and not yet acked, at most.
        ack_timeout: seconds to wait for a PubAck before publishing again,
            and for the messages in flight at stop().
        connect_timeout: seconds to connect before BridgeError.
        takeover: publish even when the stream's last message comes from
            another source (host or ring); without it that is a BridgeError
            (one Out per stream).

    ``await out.run()`` publishes until ``await out.stop()`` (which waits up to
    ``ack_timeout`` for the messages in flight; if some are not acked by
    then, Out keeps their events unreleased: see unreleased()), or until the
    ring is closed and drained;
    ``out.started`` (an asyncio.Event) is set once the stream is there.
    ``async with Out(...) as out:`` closes the connection at the end. The
    reader is the caller's to close (a durable reader then parks).
    """

    def __init__(self, ring_reader: Reader, nats_url: str, stream: str, *,
                 subject: str | None = None, create_stream: bool = True,
                 max_message_bytes: int = 512 * 1024, max_events: int = 16384,
                 max_in_flight: int = 4, ack_timeout: float = 5.0,
                 connect_timeout: float = 5.0, takeover: bool = False) -> None:
        super().__init__(nats_url, stream, connect_timeout)
        self.reader = ring_reader
        ring = ring_reader.ring
        label = (ring.name or "ring").lstrip("/")
        self.source = f"{socket.gethostname()}/{label}"
        """This bridge's source, the ``Rr-Source`` header of its messages."""
        self.takeover = takeover
        if subject is None:
            subject = "rusted_ring." + "".join(c if c.isalnum() or c in "-_" else "_"
                                               for c in label)
        self.subject = subject
        self.create_stream = create_stream
        self.max_message_bytes = max_message_bytes
        self.max_in_flight = max(1, max_in_flight)
        self.ack_timeout = ack_timeout
        self.instance = ring.instance
        slot = ring.slot_size
        self.max_events = max(1, min(max_events, (max_message_bytes - HEADER_SIZE) // (slot + 8),
                                     max(1, ring.capacity // (self.max_in_flight + 1))))
        self._in_flight: deque[_Sent] = deque()
        self._next_seq: int | None = None      # the sequence expected next from the reader
        self._last_in_stream = -1              # this instance's last sequence in the stream
        self._chain_seq = 0                    # the stream's last sequence, as known
        self._backoff = 0.0                    # the wait before the next resync
        self._inbox = ""                       # publish replies come to <inbox>.<n>
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reply_n = 0
        self._prev_id: str | None = None       # the last message published (None: resync)
        self._reader_lost = ring_reader.lost
        self._held: tuple[Block, int] | None = None
        self._unacked: list[Block] = []        # given up at stop(): never released
        self.counters: dict[str, int] = {"events": 0, "messages": 0, "bytes": 0,
                                         "duplicates": 0, "lost": 0, "resyncs": 0, "skipped": 0}

    # -- stats --------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters since the bridge started: events and messages (batches)
        acked by JetStream, bytes, duplicates (publishes JetStream said it
        already had), lost (source events lost, carried in headers), resyncs
        (failed publishes after which the stream's end was read again),
        skipped (events already in the stream when the bridge started), lag
        (events in the ring not yet read), in_flight (messages awaiting their
        ack), events_per_s (since start)."""
        c: dict[str, Any] = dict(self.counters)
        c.update(direction="out", stream=self.stream, subject=self.subject,
                 batches=c["messages"], redeliveries=0,
                 events_per_s=_rate(c["events"], self._started),
                 lag=self.reader.lag if not self.reader.closed else 0,
                 in_flight=len(self._in_flight))
        return c

    # -- running ------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish until stop() (or the ring closes and everything is acked).
        After stop(), the messages in flight get ``ack_timeout`` seconds to be
        acked; then run() returns, leaving the rest unreleased."""
        stopping = self._stop_event()
        self._running = True
        self._started = time.monotonic()
        work = asyncio.ensure_future(self._work(stopping))
        halt = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({work, halt}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                await asyncio.wait({work}, timeout=self.ack_timeout)
            if not work.done():          # the server does not answer: give up the drain
                work.cancel()            # (_work keeps what is in flight: _abandon)
                await asyncio.wait({work})
                failed = None if work.cancelled() else work.exception()
                if failed is not None:   # it failed before the cancel() reached it
                    raise failed
                return
            await work
        finally:
            halt.cancel()
            if not work.done():          # run() itself was cancelled
                work.cancel()
            self._running = False

    async def _work(self, stopping: asyncio.Event) -> None:
        try:
            await self._publishing(stopping)
        except BaseException:
            # Cancelled, or stopped by an error (BridgeError, ...): what is in
            # flight may be missing from the stream; keep it, close the reader.
            self._abandon()
            raise

    async def _publishing(self, stopping: asyncio.Event) -> None:
        js = await self._open(f"rusted_ring bridge out {self.stream}")
        await self._ensure_stream(js)
        await self._listen()
        await self._resync(js, first=True)
        self.started.set()
        while True:
            try:
                if stopping.is_set() or self.reader.closed:
                    await self._drain(js)
                    return
                room = len(self._in_flight) < self.max_in_flight
                if room and await self._publish_next(js, wait=not self._in_flight):
                    continue
                if self._in_flight:
                    await self._take_ack(js)
                elif self.reader._ended:
                    return
            except _Resync:
                await self._resync(js)

    def _abandon(self) -> None:
        """Give up the messages in flight, keeping their blocks: a block let go
        of releases its events, which the stream may lack."""
        for s in self._in_flight:
            if s.future is not None and s.future.done() and not s.future.cancelled():
                s.future.exception()
            self._unacked += s.blocks
            s.blocks = []
        if self._held is not None:
            self._unacked.append(self._held[0])
            self._held = None
        self._in_flight.clear()
        self._replies.clear()
        if any(not b.released for b in self._unacked):
            # Closed now, the reader keeps its place at the first event the
            # stream may lack (a durable one parks there); a block released
            # after its reader closed no longer moves that place, so the
            # program may drop this Out and its blocks.
            self.reader.close()

    def unreleased(self) -> int:
        """Events taken from the reader that the stream may lack, held back
        (not released) by this Out after a stop() that gave up waiting for
        their acks, or a cancelled run(). Out then closes its reader before
        anything can release them, so a durable reader parks at the first
        of them and its next run carries them."""
        held = [b for s in self._in_flight for b in s.blocks] + self._unacked
        if self._held is not None:
            held.append(self._held[0])
        return sum(len(b) for b in held if not b.released)

    async def _drain(self, js: JetStreamContext) -> None:
        while self._in_flight:
            try:
                await self._take_ack(js)
            except _Resync:
                await self._resync(js)

    async def _listen(self) -> None:
        """Take the PubAcks ourselves: nats-py's publish_async never completes
        a publish that JetStream refuses (its error goes to error_cb)."""
        assert self._nc is not None
        self._inbox = self._nc.new_inbox()
        await self._nc.subscribe(self._inbox + ".*", cb=self._on_reply)

    async def _on_reply(self, msg: Msg) -> None:
        future = self._replies.pop(msg.subject[len(self._inbox) + 1:], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":
            future.set_exception(_Refused(503, 0, f"no stream takes subject {self.subject!r}"))
            return
        try:
            reply = json.loads(msg.data)
            error = reply.get("error")
        except (ValueError, AttributeError):
            future.set_exception(_Refused(0, -1, f"not a PubAck: {bytes(msg.data[:80])!r}"))
            return
        if error:
            future.set_exception(_Refused(int(error.get("code") or 0),
                                          int(error.get("err_code") or 0),
                                          str(error.get("description") or error)))
        else:
            future.set_result(reply)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            if not self.create_stream:
                raise BridgeError(f"no JetStream stream named {self.stream!r} at "
                                  f"{self.nats_url} (create it, or let the bridge: "
                                  "create_stream=True)") from None
            try:
                await js.add_stream(name=self.stream, subjects=[self.subject],
                                    storage=api.StorageType.FILE, duplicate_window=120.0)
            except nats.js.errors.APIError as e:
                raise BridgeError(f"cannot create stream {self.stream!r} for subject "
                                  f"{self.subject!r}: {e}") from None
            return
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise _check_jetstream_error(e, self.nats_url) from None
        cfg = info.config
        subjects = list(cfg.subjects or [])
        if subjects and not any(_matches(p, self.subject) for p in subjects):
            raise BridgeError(f"stream {self.stream!r} takes the subjects {subjects}, not "
                              f"{self.subject!r}: publish to one of them (--subject)")
        limit = cfg.max_msg_size if cfg.max_msg_size and cfg.max_msg_size > 0 else None
        if limit is not None and limit < self.max_message_bytes:
            self._shrink(limit)

    def _shrink(self, limit: int) -> None:
        self.max_message_bytes = limit
        slot = self.reader.ring.slot_size
        if limit < HEADER_SIZE + slot + 8:
            raise BridgeError(f"stream {self.stream!r} takes messages of {limit} bytes at most: "
                              f"too small for one {slot}-byte event")
        self.max_events = max(1, min(self.max_events, (limit - HEADER_SIZE) // (slot + 8)))

    def _ours(self, m: api.RawStreamMsg) -> Frame | None:
        """The message's frame if this source published it (any instance)."""
        if (m.headers or {}).get(_SOURCE) != self.source or not m.data:
            return None
        try:
            return decode(m.data)
        except FrameError:
            return None

    async def _stream_end(self, js: JetStreamContext, first: bool
                          ) -> tuple[int, api.RawStreamMsg | None]:
        """The stream's last sequence and its last message (None: the stream
        holds no message there: it is empty, was purged, or its limits removed
        every message; the chain then goes on from that sequence, which
        JetStream keeps). Retried while the server does not answer, waiting
        longer each time (up to 1 s); BridgeError when the stream is gone."""
        delay = 0.05
        missing = -1
        while True:
            try:
                info = await js.stream_info(self.stream)
                last_seq = int(info.state.last_seq or 0)
                if last_seq == 0 or not info.state.messages:
                    return last_seq, None
                try:
                    return last_seq, await js.get_msg(self.stream, last_seq)
                except nats.js.errors.NotFoundError as e:
                    if e.err_code != 10037:
                        raise
                if missing != last_seq:
                    # The last message went (aged out, deleted) after stream_info:
                    # read the stream's state again, once, after a wait.
                    missing = last_seq
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                # Still gone (deleted by hand): the last message of the subject
                # tells whose the stream is; the chain goes on from last_seq.
                try:
                    return last_seq, await js.get_last_msg(self.stream, self.subject)
                except nats.js.errors.NotFoundError as e:
                    if e.err_code != 10037:
                        raise
                    return last_seq, None
            except nats.js.errors.NotFoundError as e:
                raise BridgeError(f"stream {self.stream!r} at {self.nats_url} does not exist "
                                  "any more: it was deleted while the bridge ran "
                                  f"({e.description})") from None
            except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError) as e:
                if first and not isinstance(e, (nats.errors.TimeoutError, asyncio.TimeoutError)):
                    raise _check_jetstream_error(e, self.nats_url) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _resync(self, js: JetStreamContext, first: bool = False) -> None:
        """Read the stream's last message: what of this ring the stream holds.
        Messages in flight that it holds are done; the rest go again, in order."""
        if not first:
            self.counters["resyncs"] += 1
            await asyncio.sleep(self._backoff)
            self._backoff = min(max(self._backoff * 2, 0.01), 1.0)
        last_seq, last = await self._stream_end(js, first)
        f = self._ours(last) if last is not None else None
        if first:
            if self._nc is not None:
                mp = self._nc.max_payload
                if mp and mp - 1024 < self.max_message_bytes:
                    self._shrink(mp - 1024)
            if last is not None and f is None and not self.takeover:
                other = (last.headers or {}).get(_SOURCE)
                raise BridgeError(
                    f"stream {self.stream!r} ends with a message (stream sequence {last.seq}) "
                    f"from {other or 'another publisher (no ' + _SOURCE + ' header)'}, not "
                    f"from this bridge's source {self.source}: one Out per stream (give each "
                    "ring a stream of its own, or take the stream over: takeover=True, "
                    "--takeover)")
        elif last_seq < self._chain_seq:
            raise BridgeError(f"stream {self.stream!r} at {self.nats_url} was deleted or "
                              f"created again while the bridge ran (it ends at stream "
                              f"sequence {last_seq}, after {self._chain_seq} before)")
        elif (last is not None and int(last.seq or 0) > self._chain_seq
              and (f is None or f.instance != self.instance)):
            other = (last.headers or {}).get(_SOURCE) if last is not None else None
            raise BridgeError(f"another publisher ({other or 'no ' + _SOURCE + ' header'}) "
                              f"wrote to stream {self.stream!r} (stream sequence {last_seq}) "
                              f"while this bridge ({self.source}) ran: one Out per stream")
        if f is not None and f.instance == self.instance:
            self._last_in_stream = max(self._last_in_stream, f.first_sequence + len(f) - 1)
        self._chain_seq = last_seq
        self._prev_id = None
        self._replies.clear()
        pending, self._in_flight = self._in_flight, deque()
        try:
            while pending:
                s = pending.popleft()
                if s.future is not None:
                    if not s.future.done():
                        s.future.cancel()
                    elif not s.future.cancelled():
                        s.future.exception()          # retrieved: it is handled here
                s.future = None
                if s.first + s.count - 1 <= self._last_in_stream:
                    self._done(s, duplicate=True)
                else:
                    if s.first <= self._last_in_stream:
                        self._trim(s, self._last_in_stream + 1 - s.first)
                    await self._send(js, s)
        finally:
            self._in_flight += pending    # (cancelled: their blocks stay unreleased)

    def _trim(self, s: _Sent, k: int) -> None:
        """Drop the first k events of a message (the stream has them)."""
        f = decode(s.payload)
        off = int(f.lengths[:k].sum(dtype=np.uint64))
        count = len(f) - k
        lengths = f.lengths[k:]
        buf = bytearray(HEADER_SIZE)
        _HEADER.pack_into(buf, 0, MAGIC, VERSION, 0, HEADER_SIZE, count,
                          int(lengths.max()) if count else 0, f.instance, s.first + k, 0)
        buf += f.event_types[k:].tobytes() + lengths.tobytes() + f.payload[off:].tobytes()
        s.first += k
        s.count = count
        s.lost = 0
        s.msg_id = f"{self.instance}:{s.first}"
        s.payload = buf

    async def _send(self, js: JetStreamContext, s: _Sent) -> None:
        headers = {"Nats-Msg-Id": s.msg_id, _SOURCE: self.source}
        if self._prev_id is None:
            headers["Nats-Expected-Last-Sequence"] = str(self._chain_seq)
        else:
            headers["Nats-Expected-Last-Msg-Id"] = self._prev_id
        assert self._nc is not None
        self._reply_n += 1
        token = str(self._reply_n)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)   # its error is taken in order (_take_ack), or not at all
        self._replies[token] = future
        self._in_flight.append(s)        # (before the await: never dropped unreleased)
        s.future = future
        try:
            await self._nc.publish(self.subject, s.payload,  # type: ignore[arg-type]
                                   reply=f"{self._inbox}.{token}",
                                   headers=headers)   # (any bytes-like will do)
        except (nats.errors.Error, nats.js.errors.Error):
            self._replies.pop(token, None)
            s.future = None
        self._prev_id = s.msg_id

    def _fetched(self, block: Block) -> tuple[Block, int]:
        """A block and the events lost right before it (overwrite mode)."""
        seq = block.first_sequence
        dropped = self.reader.lost - self._reader_lost
        self._reader_lost += dropped
        if not dropped and self._next_seq is not None and seq > self._next_seq:
            dropped = seq - self._next_seq
        self._next_seq = seq + len(block)
        return block, dropped

    async def _publish_next(self, js: JetStreamContext, wait: bool) -> bool:
        """Gather the events there are (waiting a while for some when `wait`)
        into one message and publish it; False if there were none."""
        parts: list[tuple[Any, Any, Any]] = []
        blocks: list[Block] = []
        first = -1
        count = 0
        lost = 0
        size = HEADER_SIZE
        slot = self.reader.ring.slot_size
        while count < self.max_events:
            if self._held is not None:
                block, before = self._held
                self._held = None
            else:
                if not blocks and wait:
                    got = await self.reader.next_block_async(self.max_events, timeout=0.25)
                else:
                    got = self.reader.next_block(self.max_events - count, 0)
                if got is None:
                    break
                block, before = self._fetched(got)
            if before and count:
                self._held = (block, before)   # a gap starts a new message
                break
            n = len(block)
            seq = block.first_sequence
            skip = 0
            if before and seq - before <= self._last_in_stream:
                # (the reader's loss counts from its released position: the
                # stream may hold events after it)
                before = max(0, seq - self._last_in_stream - 1)
            if seq <= self._last_in_stream:          # already in the stream (and its losses)
                skip = min(n, self._last_in_stream - seq + 1)
                self.counters["skipped"] += skip
                before = 0
            blocks.append(block)
            if skip == n:
                continue
            if count == 0:
                first = seq + skip
                lost = before
            parts.append((block.as_array()[skip:], np.asarray(block.lengths)[skip:],
                          np.asarray(block.event_types)[skip:]))
            count += n - skip
            size += (n - skip) * (slot + 8)
            if size + slot + 8 > self.max_message_bytes:
                break
        if count == 0:
            for b in blocks:
                self._release(b)
            return bool(blocks)
        payload = encode(self.instance, first, lost, parts)
        del parts
        s = _Sent(f"{self.instance}:{first}", first, count, lost, payload, blocks)
        await self._send(js, s)
        return True

    def _release(self, b: Block) -> None:
        try:
            b.release()
        except (BufferError, ValueError):
            pass

    def _done(self, s: _Sent, duplicate: bool) -> None:
        for b in s.blocks:
            self._release(b)
        s.blocks.clear()
        self._last_in_stream = max(self._last_in_stream, s.first + s.count - 1)
        if duplicate:
            self.counters["duplicates"] += 1
        else:
            self.counters["events"] += s.count
            self.counters["messages"] += 1
            self.counters["bytes"] += len(s.payload)
            self.counters["lost"] += s.lost

    async def _take_ack(self, js: JetStreamContext) -> None:
        s = self._in_flight[0]
        if s.future is None:
            raise _Resync()
        try:
            ack = await asyncio.wait_for(asyncio.shield(s.future), self.ack_timeout)
        except asyncio.TimeoutError:
            raise _Resync() from None
        except _Refused as e:
            if e.err_code in _CHAIN_BROKEN or e.err_code in _UNAVAILABLE:
                raise _Resync() from None   # (no responders: _resync says if the stream went)
            raise BridgeError(f"JetStream refused a message of {len(s.payload)} bytes "
                              f"({s.count} events from sequence {s.first}) to stream "
                              f"{self.stream!r}, subject {self.subject!r}: {e}") from None
        seq = int(ack.get("seq") or 0)
        if ack.get("duplicate"):
            await self._check_duplicate(js, s, seq)
            self._in_flight.popleft()
            self._done(s, duplicate=False)     # stored by an earlier try: counted once
            self.counters["duplicates"] += 1
            return
        self._in_flight.popleft()
        self._chain_seq = max(self._chain_seq, seq)
        self._backoff = 0.0
        self._done(s, duplicate=False)

    async def _check_duplicate(self, js: JetStreamContext, s: _Sent, seq: int) -> None:
        """JetStream has a message with this one's id: does it hold exactly
        these events? If it holds others of ours, resync past them."""
        try:
            m = await js.get_msg(self.stream, seq)
        except nats.js.errors.NotFoundError as e:
            if e.err_code != 10037:
                raise _Resync() from None
            # Stored, then removed (a purge, the stream's limits): what it held
            # cannot be read, and may have been fewer events. Send it again
            # under an id naming its count too (In skips what it already has).
            if "+" in s.msg_id:
                return          # that one held exactly these events
            s.msg_id = f"{self.instance}:{s.first}+{s.count}"
            raise _Resync() from None
        except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError):
            raise _Resync() from None
        f = self._ours(m)
        if f is None or f.instance != self.instance or f.first_sequence != s.first:
            raise BridgeError(f"stream {self.stream!r} holds a message with this bridge's "
                              f"message id {s.msg_id} (stream sequence {seq}) that is not "
                              f"this bridge's ({self.source}): one Out per stream")
        if len(f) != s.count:        # grouped otherwise (before a restart): it has these
            self._last_in_stream = max(self._last_in_stream, s.first + len(f) - 1)
            raise _Resync()


# ---- In --------------------------------------------------------------------------------


_DURABLE_MAX = 64   # JetStream takes longer names; a short one reads better in `nats consumer ls`


def _presence_label(who: bytes | dict[str, Any]) -> str:
    """How a refusal names the other bridge in: from its presence answer
    (JSON) or the request it sent; its raw text when that is not JSON."""
    if isinstance(who, bytes):
        try:
            o = json.loads(who)
        except ValueError:
            return who.decode(errors="replace")
        if not isinstance(o, dict):
            return who.decode(errors="replace")
        who = o
    return f"host {who.get('host')}, pid {who.get('pid')}, ring {who.get('ring')!r}"


def _consumer_name(ring_name: str | None, host: str) -> str:
    """The default durable name, ``rr-<host>-<ring name>``: one consumer per
    destination, so that readers on two machines with rings of the same name
    each get the whole stream. Only letters, digits, ``-`` and ``_``; a name
    longer than 64 characters is cut and ends with a hash of the whole."""
    label = (ring_name or "ring").lstrip("/")
    host = host.split(".")[0] or "host"     # the host's short name
    name = "rr-" + "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_"
                           for c in f"{host}-{label}")
    if len(name) > _DURABLE_MAX:
        digest = hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
        name = name[:_DURABLE_MAX - 13] + "-" + digest
    return name


def _parse_time(value: str | float | datetime.datetime) -> datetime.datetime:
    """ISO 8601 (a time without a zone is UTC) or unix seconds."""
    if isinstance(value, datetime.datetime):
        t = value
    elif isinstance(value, (int, float)):
        t = datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc)
    else:
        text = value.strip()
        try:
            t = datetime.datetime.fromtimestamp(float(text), datetime.timezone.utc)
        except ValueError:
            try:
                t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"from_time: {value!r} is neither ISO 8601 "
                                 "(2026-12-06T08:00:00Z) nor unix seconds") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc)


@dataclass
class _Mark:
    """What the marker holds: written before message `seq`'s first event."""
    instance: int                    # the destination ring's instance
    consumer: int                    # the consumer's identity (In._identity)
    seq: int                         # the message being written, M
    published: int                   # ring.published before M
    upstream: int                    # the ring's upstream_lost before M
    # Where the source is, (source ring instance, next source sequence), before M
    # and after it; None before the first message (after a --from-* start or --reset).
    before: tuple[int, int] | None
    after: tuple[int, int] | None
    # The stream's incarnation (its creation time, microseconds since the
    # epoch; 0: unknown) and the events of M to write (those not already in
    # the ring by their source sequence).
    created: int = 0
    count: int = 0


def _micros(t: datetime.datetime | None) -> int:
    """A stream's creation time in microseconds since the epoch (0: unknown)."""
    if t is None:
        return 0
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return max(0, (t - epoch) // datetime.timedelta(microseconds=1))


def _position(m: _Mark, published: int) -> tuple[int, int] | None:
    """The source position after what of the marker's message M is in the
    ring (ring.published minus the marker's): M's events to write are the
    last m.count source sequences before m.after."""
    k = published - m.published
    if k <= 0 or m.after is None:
        return m.before
    if not m.count or k >= m.count:
        return m.after
    return (m.after[0], m.after[1] - m.count + k)


class _Marker:
    """The file In writes before each message's first event (see the module's
    doc), locked (flock) while a bridge uses it."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise BridgeError(f"cannot open the marker file {path}: {e.strerror} (marker= "
                              "chooses another path)") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self.fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise BridgeError(f"the marker file {path} is locked: another bridge in on "
                                  "this machine writes this ring from this consumer; stop "
                                  "it first (or use another --durable)") from None
            raise BridgeError(f"cannot lock the marker file {path}: {e.strerror}") from None

    def read(self) -> _Mark | None:
        try:
            data = os.pread(self.fd, _MARKER.size, 0)
        except OSError as e:
            raise BridgeError(f"cannot read the marker file {self.path}: {e.strerror}") from None
        if len(data) == _MARKER.size and data[:8] == _MARKER_MAGIC:
            (_, instance, consumer, seq, published, upstream, bi, bn, ai, an, created,
             count) = _MARKER.unpack(data)
        elif len(data) == _MARKER_V2.size and data[:8] == _MARKER_V2_MAGIC:
            _, instance, consumer, seq, published, upstream, bi, bn, ai, an = \
                _MARKER_V2.unpack(data)
            created = count = 0
        else:
            return None
        return _Mark(instance, consumer, seq, published, upstream,
                     (bi, bn) if bi or bn else None, (ai, an) if ai or an else None,
                     created, count)

    def write(self, m: _Mark) -> None:
        # One pwrite of 96 bytes: a process killed anywhere leaves it done or not done.
        b, a = m.before or (0, 0), m.after or (0, 0)
        try:
            os.pwrite(self.fd, _MARKER.pack(_MARKER_MAGIC, m.instance, m.consumer, m.seq,
                                            m.published, m.upstream, b[0], b[1], a[0], a[1],
                                            m.created, m.count), 0)
        except OSError as e:
            raise BridgeError(f"cannot write the marker file {self.path}: {e.strerror}; "
                              "nothing of the message was written") from None

    def clear(self) -> None:
        """Forget the marker (reset): the file stays, locked, and empty."""
        try:
            os.ftruncate(self.fd, 0)
        except OSError as e:
            raise BridgeError(f"cannot clear the marker file {self.path}: {e.strerror}") from None

    def close(self) -> None:
        os.close(self.fd)   # (and the lock goes with it)


def _upstream_lost(ring: Ring) -> int:
    return int(ring.stats()["upstream_lost"])


class In(_Bridge):
    """Write a JetStream stream's events into a ring, in order, exactly once.

    Args:
        ring_writer: the destination ring's writer; the bridge must be the
            ring's only writer (the marker counts on ``ring.published``).
        nats_url: e.g. ``nats://127.0.0.1:4222``.
        stream: the JetStream stream's name (BridgeError naming it if missing).
        durable: the durable consumer's name (default ``rr-<host>-<ring
            name>``: one consumer per destination machine and ring).
        host: the host name in the default durable name (default
            ``socket.gethostname()``).
        from_start, from_sequence, from_time: where a new consumer starts (at
            most one; the default is the stream's first message): its first
            message, a stream sequence, or a time (ISO 8601, unix seconds or
            a datetime; a time without a zone is UTC).
        reset: delete the durable consumer and clear the marker first, to
            start again as asked.
        subject: a filter subject for the consumer (default: the whole stream).
        marker: the marker file's path (default
            ``/dev/shm/rusted_ring.bridge.<ring>.<durable>``).
        batch: messages fetched at a time.
        ack_wait: the consumer's ack wait in seconds, for a new consumer.
        connect_timeout: seconds to connect before BridgeError.

    ``await b.run()`` writes until ``await b.stop()`` (or the ring is
    closed); ``b.started`` is set once the consumer is there. The writer is
    the caller's to close. BridgeError when it cannot go on: another bridge
    in on the same consumer (on any machine) or marker (on this one), the
    consumer deleted under it, a message it cannot take, the ring closed
    in the middle of a message.
    """

    def __init__(self, ring_writer: Writer, nats_url: str, stream: str, *,
                 durable: str | None = None, from_start: bool = False,
                 from_sequence: int | None = None,
                 from_time: str | float | datetime.datetime | None = None,
                 reset: bool = False, subject: str | None = None, marker: str | None = None,
                 batch: int = 8, ack_wait: float = 30.0, connect_timeout: float = 5.0,
                 host: str | None = None) -> None:
        super().__init__(nats_url, stream, connect_timeout)
        if sum((bool(from_start), from_sequence is not None, from_time is not None)) > 1:
            raise ValueError("from_start, from_sequence and from_time: give one at most")
        if from_sequence is not None and from_sequence < 1:
            raise ValueError(f"from_sequence: {from_sequence}; stream sequences start at 1")
        self.writer = ring_writer
        ring = ring_writer.ring
        self.ring = ring
        self.durable = durable or _consumer_name(ring.name, host or socket.gethostname())
        for bad in ".*> \t":
            if bad in self.durable:
                raise ValueError(f"durable: {self.durable!r}; a consumer name has no {bad!r}")
        self.from_start = from_start
        self.from_sequence = from_sequence
        self.from_time = _parse_time(from_time) if from_time is not None else None
        self.reset = reset
        self.subject = subject
        if marker is None:
            label = (ring.name or "ring").lstrip("/")
            marker = f"/dev/shm/rusted_ring.bridge.{label}.{self.durable}"
        self.marker_path = marker
        self.batch = max(1, batch)
        self.ack_wait = ack_wait
        self.slot_size = ring.slot_size
        self._claim_max = min(ring.capacity, MAX_CLAIM)
        self._marker: _Marker | None = None
        self._recovered: _Mark | None = None   # the marker of the message to finish
        self._source: tuple[int, int] | None = None   # the source position: see _Mark
        self._presence: Any = None
        self._consumer_key = 0
        self._created = 0                  # the stream's incarnation (_micros)
        self._origin: dict[str, Any] = {}
        self._floor = 0
        self._cseq = 0
        self._done_seq = 0
        self._held: list[Msg] = []
        self._last_progress = 0.0
        self._lag = 0
        self.counters: dict[str, int] = {
                         "events": 0, "messages": 0, "bytes": 0, "duplicates": 0,
                         "lost": 0, "redeliveries": 0, "skipped": 0, "full_waits": 0,
                         "rewinds": 0, "gaps": 0, "fetch_errors": 0}

    def stats(self) -> dict[str, Any]:
        """Counters since the bridge started: events and messages (batches)
        written to the ring, bytes, redeliveries (messages JetStream delivered
        again), duplicates (messages, or their first events, already in the
        ring: by stream sequence, or by source sequence), skipped (events
        already in the ring after a restart), lost (events carried to the
        ring's upstream_lost: the source's losses, and gaps), gaps (messages
        after a gap in the source sequences: events the stream no longer held,
        removed by its limits or a purge), rewinds (the consumer made again
        to deliver in order), fetch_errors, full_waits (times the ring was
        full), lag (messages in the stream not yet delivered, as of the last
        fetch), events_per_s (since start)."""
        c: dict[str, Any] = dict(self.counters)
        c.update(direction="in", stream=self.stream, durable=self.durable,
                 batches=c["messages"], events_per_s=_rate(c["events"], self._started),
                 lag=self._lag)
        return c

    def _policy(self) -> dict[str, Any]:
        if self.from_sequence is not None:
            return {"deliver_policy": api.DeliverPolicy.BY_START_SEQUENCE,
                    "opt_start_seq": self.from_sequence}
        if self.from_time is not None:
            return {"deliver_policy": api.DeliverPolicy.BY_START_TIME,
                    "opt_start_time": self.from_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        return {"deliver_policy": api.DeliverPolicy.ALL}

    def _origin_json(self) -> dict[str, Any]:
        return {k: getattr(v, "value", v) for k, v in self._origin.items()}

    def _asked(self) -> bool:
        return self.from_start or self.from_sequence is not None or self.from_time is not None

    def _conflict(self, origin: dict[str, Any]) -> str | None:
        want = self._policy()
        have = origin.get("deliver_policy")
        have = getattr(have, "value", have)
        if have != want["deliver_policy"].value:
            return f"deliver policy {have}"
        if self.from_sequence is not None and origin.get("opt_start_seq") != self.from_sequence:
            return f"start sequence {origin.get('opt_start_seq')}"
        if self.from_time is not None:
            t = origin.get("opt_start_time")
            t = _parse_time(t) if isinstance(t, (str, datetime.datetime)) else None
            if t is None or abs((t - self.from_time).total_seconds()) > 1e-3:
                return f"start time {t}"
        return None

    def _identity(self, origin: dict[str, Any]) -> int:
        """The consumer's identity in the marker: the same stream, durable name,
        filter and start options give the same one (a rewind, which makes the
        consumer again, keeps it; --reset clears the marker instead)."""
        text = json.dumps([self.stream, self.durable, self.subject or "",
                           {k: getattr(v, "value", v) for k, v in origin.items()}],
                          sort_keys=True, default=str)
        key = hashlib.blake2b(text.encode(), digest_size=8).digest()
        return int.from_bytes(key, "little") or 1

    def _valid(self, m: _Mark | None) -> _Mark | None:
        """The marker if it is of this ring's history (any consumer)."""
        if m is None or m.instance != self.ring.instance or m.seq == 0:
            return None
        if m.published > self.ring.published:
            return None   # not this ring's history
        return m

    def _adopt(self, m: _Mark) -> None:
        self._recovered = m
        self._done_seq = m.seq - 1
        self._source = m.after

    async def _api(self, what: str, call: Any) -> Any:
        """A JetStream API call at start: its errors are BridgeError saying what."""
        try:
            return await call
        except nats.js.errors.NotFoundError:
            raise
        except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError) as e:
            raise BridgeError(f"{what} (stream {self.stream!r}, consumer {self.durable!r}) at "
                              f"{self.nats_url}: {type(e).__name__}: {e}") from None

    async def _claim(self) -> None:
        """Refuse to start when another bridge in runs on this consumer (on any
        machine): each one answers on a subject named after the consumer.
        (JetStream's own view, a consumer's waiting pulls and acks pending,
        cannot tell a live bridge that is busy or held by a full ring from a
        killed one.)"""
        assert self._nc is not None
        nc = self._nc
        subject = f"_RR_BRIDGE.in.{self.stream}.{self.durable}"
        try:
            reply = await nc.request(subject, b"", timeout=min(2.0, self.connect_timeout))
            who = _presence_label(reply.data)
        except nats.errors.NoRespondersError:
            who = None
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            who = ("it did not answer: if it was killed a moment ago, the server may not "
                   "have noticed yet; try again in a few seconds")
        except nats.errors.Error as e:
            raise BridgeError(f"NATS at {self.nats_url}: {type(e).__name__}: {e}") from None
        if who is not None:
            raise BridgeError(f"another bridge in is running on the durable consumer "
                              f"{self.durable!r} of stream {self.stream!r} ({who}): two would "
                              "split the messages between them. Each destination needs its own "
                              "consumer (--durable; the default rr-<host>-<ring> is one per "
                              "machine and ring), or stop the other one first")
        # Two started at the same moment may both have found nobody: each
        # subscribes, then asks again, and of those that see each other the
        # lower (start time, nonce) runs. One that is already running (its
        # check done) always wins; a rival also shows itself by its request.
        key = [time.time(), int.from_bytes(os.urandom(8), "little")]
        me = {"host": socket.gethostname(), "pid": os.getpid(), "ring": self.ring.name,
              "key": key}
        state: dict[str, Any] = {"running": False, "rivals": [], "mine": asyncio.Event()}

        def other(data: bytes) -> dict[str, Any] | None:
            try:
                o = json.loads(data)
            except ValueError:
                return None
            if not isinstance(o, dict) or o.get("key") == key:
                return None
            return o

        async def answer(msg: Msg) -> None:
            o = other(msg.data) if msg.data else None
            if o is not None and not state["running"]:
                state["rivals"].append(o)
            if msg.reply:
                try:
                    await nc.publish(msg.reply, json.dumps(
                        dict(me, running=state["running"])).encode())
                except nats.errors.Error:
                    pass

        async def on_reply(msg: Msg) -> None:
            o = other(msg.data)
            if o is None:
                state["mine"].set()
            else:
                state["rivals"].append(o)
        self._presence = await nc.subscribe(subject, cb=answer)
        inbox = nc.new_inbox()
        replies = await nc.subscribe(inbox, cb=on_reply)
        try:
            await nc.publish(subject, json.dumps(me).encode(), reply=inbox)
            # Our own answer has made the round trip: a rival's, sent at
            # once too, comes within moments of it.
            try:
                await asyncio.wait_for(state["mine"].wait(), min(2.0, self.connect_timeout))
            except asyncio.TimeoutError:
                pass
            await asyncio.sleep(0.2)
        except nats.errors.Error as e:
            raise BridgeError(f"NATS at {self.nats_url}: {type(e).__name__}: {e}") from None
        finally:
            try:
                await replies.unsubscribe()
            except nats.errors.Error:
                pass
        beaten = [o for o in state["rivals"]
                  if o.get("running") or (isinstance(o.get("key"), list) and o["key"] < key)]
        if beaten:
            presence, self._presence = self._presence, None
            try:
                await presence.unsubscribe()
            except nats.errors.Error:
                pass
            o = beaten[0]
            raise BridgeError(f"another bridge in started at the same time on the durable "
                              f"consumer {self.durable!r} of stream {self.stream!r} "
                              f"({_presence_label(o)}) and runs: two would split the messages "
                              "between them. Each destination needs its own consumer "
                              "(--durable)")
        state["running"] = True

    async def _consumer(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        try:
            sinfo = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            raise BridgeError(f"no JetStream stream named {self.stream!r} at {self.nats_url}: "
                              "start `bridge out` for it first (it creates the stream), "
                              "or check the name") from None
        except (nats.errors.Error, nats.js.errors.Error) as e:
            raise _check_jetstream_error(e, self.nats_url) from None
        await self._claim()
        assert self._marker is not None
        mark = self._valid(self._marker.read())
        self._created = _micros(sinfo.created)
        if mark is not None and mark.created and self._created and \
                mark.created != self._created:
            # The stream was deleted and made again since the marker: its
            # sequences and consumers are not the marker's. Only the source
            # position holds: events already in the ring are skipped by their
            # source sequences, and nothing is counted lost that is not.
            self._source = _position(mark, self.ring.published)
            mark = None
        info: api.ConsumerInfo | None
        if self.reset:
            try:
                await self._api("cannot delete the consumer to reset it",
                                js.delete_consumer(self.stream, self.durable))
            except nats.js.errors.NotFoundError:
                pass
            self._marker.clear()
            mark = None
        try:
            info = await self._api("cannot read the consumer",
                                   js.consumer_info(self.stream, self.durable))
        except nats.js.errors.NotFoundError:
            info = None
        if info is None:
            self._origin = self._policy()
            self._consumer_key = self._identity(self._origin)
            policy = self._origin
            if mark is not None and mark.consumer == self._consumer_key:
                # Made again after it was lost (killed in a rewind, or deleted):
                # from the message the marker names, and nothing before it.
                policy = {"deliver_policy": api.DeliverPolicy.BY_START_SEQUENCE,
                          "opt_start_seq": mark.seq}
                self._adopt(mark)
            elif mark is not None:
                raise BridgeError(
                    f"the durable consumer {self.durable!r} of stream {self.stream!r} is gone, "
                    f"and the marker {self.marker_path} says it fed this ring with other "
                    "start options than asked: start with the options it was started with "
                    "(it is made again where the ring is), or reset (--reset, or "
                    "In(reset=True)) to start again as asked")
            await self._api("cannot create the consumer", self._add_consumer(js, policy))
            return await js.pull_subscribe_bind(self.durable, self.stream)
        # The options the consumer was made with: in its description when this
        # bridge made it (a rewind makes it again, with the same description).
        try:
            desc = json.loads(info.config.description or "")
            origin = desc["policy"]
            if not isinstance(origin, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            origin = {"deliver_policy": getattr(info.config.deliver_policy, "value",
                                                info.config.deliver_policy),
                      "opt_start_seq": info.config.opt_start_seq,
                      "opt_start_time": (info.config.opt_start_time.isoformat()
                                         if isinstance(info.config.opt_start_time,
                                                       datetime.datetime)
                                         else info.config.opt_start_time)}
        self._origin = origin
        self._consumer_key = self._identity(origin)
        self.ack_wait = float(info.config.ack_wait or self.ack_wait)
        if self._asked():
            why = self._conflict(origin)
            if why is not None:
                raise BridgeError(
                    f"the durable consumer {self.durable!r} of stream {self.stream!r} exists "
                    f"with {why}, not what was asked; it resumes where it is when started "
                    "without --from-start/--from-sequence/--from-time. To start it again as "
                    "asked, reset it (--reset, or In(reset=True); or `nats consumer rm "
                    f"{self.stream} {self.durable}`), or use another --durable")
        if mark is not None and mark.consumer == self._consumer_key:
            self._adopt(mark)
        floor = info.ack_floor.stream_seq if info.ack_floor else 0
        self._floor = int(floor or 0)
        if info.num_ack_pending:
            # Messages a killed bridge took and did not ack would come again only
            # after the ack wait, behind newer ones: start again from the floor.
            return await self._rewind(js, None)
        return await js.pull_subscribe_bind(self.durable, self.stream)

    async def _add_consumer(self, js: JetStreamContext, policy: dict[str, Any]) -> None:
        desc = json.dumps({"rusted_ring_bridge": 2, "policy": self._origin_json()})
        cfg = api.ConsumerConfig(durable_name=self.durable, ack_policy=api.AckPolicy.EXPLICIT,
                                 ack_wait=self.ack_wait, max_deliver=-1, description=desc,
                                 max_ack_pending=max(64, 4 * self.batch),
                                 filter_subject=self.subject, **policy)
        await js.add_consumer(self.stream, config=cfg)

    async def _rewind(self, js: JetStreamContext, sub: JetStreamContext.PullSubscription | None
                      ) -> JetStreamContext.PullSubscription:
        """Make the consumer again, delivering from the first message not yet
        done: so the stream comes in order after messages went astray (a killed
        bridge's, or lost in a reconnect). Failed calls are tried again for a
        while (BridgeError then); a bridge killed in between makes the consumer
        again at start, from the marker's message."""
        done = max(self._done_seq, self._floor)
        if sub is not None:
            try:
                await sub.unsubscribe()
            except (nats.errors.Error, nats.js.errors.Error):
                pass
        policy = (self._origin if done == 0 else
                  {"deliver_policy": api.DeliverPolicy.BY_START_SEQUENCE,
                   "opt_start_seq": done + 1})
        stopping = self._stop_event()
        deadline = time.monotonic() + 2 * self.connect_timeout
        delay = 0.05
        deleted = False
        while True:
            try:
                if not deleted:
                    try:
                        await js.delete_consumer(self.stream, self.durable)
                    except nats.js.errors.NotFoundError:
                        pass
                    deleted = True
                await self._add_consumer(js, policy)
                break
            except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError) as e:
                if time.monotonic() > deadline or stopping.is_set():
                    raise BridgeError(
                        f"cannot make the durable consumer {self.durable!r} of stream "
                        f"{self.stream!r} again (to deliver from message {done + 1} on): "
                        f"{type(e).__name__}: {e}. Start bridge in again: it makes it again "
                        "from its marker") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        self._cseq = 0
        self.counters["rewinds"] += 1
        return await js.pull_subscribe_bind(self.durable, self.stream)

    async def _check_consumer(self, js: JetStreamContext) -> None:
        """BridgeError if the consumer is gone (a fetch then only times out)."""
        try:
            info = await js.consumer_info(self.stream, self.durable)
        except nats.js.errors.NotFoundError:
            raise BridgeError(f"the durable consumer {self.durable!r} of stream "
                              f"{self.stream!r} was deleted while bridge in ran (by hand, or "
                              "by a bridge in started with --reset); start bridge in again: "
                              "it makes the consumer again from its marker") from None
        except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError):
            return   # not known now: asked again later
        self._lag = int(info.num_pending or 0)

    async def run(self) -> None:
        """Fetch and write until stop() (BridgeError for a message it cannot
        take: another format, an event too large; that message is not acked)."""
        stopping = self._stop_event()
        self._running = True
        self._started = time.monotonic()
        try:
            js = await self._open(f"rusted_ring bridge in {self.stream}")
            self._marker = _Marker(self.marker_path)
            sub = await self._consumer(js)
            self.started.set()
            idle = 0
            errors = 0
            while not stopping.is_set():
                if self.ring.closed:
                    return
                try:
                    msgs = await sub.fetch(self.batch, timeout=0.5)
                except (nats.errors.TimeoutError, asyncio.TimeoutError):
                    idle += 1
                    if idle % 4 == 0:
                        await self._check_consumer(js)
                    continue
                except (nats.errors.Error, nats.js.errors.Error) as e:
                    if stopping.is_set():
                        return
                    self.counters["fetch_errors"] += 1
                    errors += 1
                    if self._nc is not None and self._nc.is_connected:
                        await self._check_consumer(js)
                        if errors >= 20:
                            raise BridgeError(
                                f"fetching from the durable consumer {self.durable!r} of "
                                f"stream {self.stream!r} failed {errors} times in a row: "
                                f"{type(e).__name__}: {e}") from None
                    await asyncio.sleep(min(0.05 * errors, 1.0))   # (or reconnecting)
                    continue
                idle = errors = 0
                self._held = list(msgs)
                while self._held:
                    msg = self._held[0]
                    cseq = msg.metadata.sequence.consumer
                    if cseq != self._cseq + 1:
                        # delivered messages went astray (a reconnect): they would
                        # come again only after the ack wait, behind these
                        self._held = []
                        sub = await self._rewind(js, sub)
                        break
                    self._cseq = cseq
                    if not await self._take(msg):
                        return   # stopped
                    self._held.pop(0)
                    try:
                        await msg.ack()
                    except (nats.errors.Error, nats.js.errors.Error):
                        pass   # delivered again later, and skipped
        finally:
            self._running = False
            if self._presence is not None:
                presence, self._presence = self._presence, None
                try:
                    await presence.unsubscribe()
                except (nats.errors.Error, nats.js.errors.Error):
                    pass
            if self._marker is not None:
                self._marker.close()
                self._marker = None

    async def _take(self, msg: Msg) -> bool:
        """One message into the ring; False if stopped before it was all written."""
        md = msg.metadata
        seq = md.sequence.stream
        self._lag = md.num_pending
        if md.num_delivered > 1:
            self.counters["redeliveries"] += 1
        if seq <= self._done_seq:
            self.counters["duplicates"] += 1
            return True
        try:
            frame = decode(msg.data)
        except FrameError as e:
            raise BridgeError(f"stream {self.stream!r}, message {seq} (subject "
                              f"{msg.subject!r}): {e}; it is not acked. Is another program "
                              "publishing to this stream?") from None
        if frame.max_length > self.slot_size:
            raise BridgeError(f"stream {self.stream!r}, message {seq}: an event of "
                              f"{frame.max_length} bytes does not fit the destination ring's "
                              f"{self.slot_size}-byte slots; nothing of it was written (create "
                              "the ring with larger slots)")
        n = len(frame)
        rec = self._recovered if (self._recovered is not None
                                  and self._recovered.seq == seq) else None
        before = rec.before if rec is not None else self._source
        # Source sequences: of one source instance, each event once and in order.
        drop = gap = 0
        first = frame.first_sequence
        if before is not None and before[0] == frame.instance:
            if first < before[1]:
                drop = min(n, before[1] - first)       # already in the ring
            elif first > before[1]:
                gap = first - before[1]                # no longer in the stream
            after = (frame.instance, max(before[1], first + n))
        else:
            after = (frame.instance, first + n)   # the first message, or a new source ring
        if drop == n:
            self.counters["duplicates"] += 1
            self._recovered = None
            self._done_seq = seq
            return True
        if drop:
            self.counters["duplicates"] += 1
        note = min((frame.lost if not drop else 0) + gap, _MAX_LOST)
        skip = drop
        if rec is not None:
            skip = drop + min(n - drop, self.ring.published - rec.published)
            if note and _upstream_lost(self.ring) > rec.upstream:
                note = 0   # noted before the restart
            self.counters["skipped"] += skip - drop
            mark = rec
        else:
            mark = _Mark(self.ring.instance, self._consumer_key, seq, self.ring.published,
                         _upstream_lost(self.ring) if note else 0, before, after,
                         self._created, n - drop)
            assert self._marker is not None
            self._marker.write(mark)
        self._recovered = None
        try:
            if note:
                self.writer.note_lost(note)
                self.counters["lost"] += note
                if gap:
                    self.counters["gaps"] += 1
            if not await self._write(frame, skip, seq):
                # stopped with the ring full: the marker lets a restart go on
                self._recovered = mark
                return False
        except RingClosed:
            raise BridgeError(f"the destination ring {self.ring.name!r} was closed while "
                              f"stream {self.stream!r}'s message {seq} was written into it; "
                              "that message is not acked") from None
        self._done_seq = seq
        self._source = after
        self.counters["events"] += n - skip
        self.counters["messages"] += 1
        self.counters["bytes"] += len(msg.data)
        return True

    async def _write(self, frame: Frame, skip: int, seq: int) -> bool:
        n = len(frame)
        lengths = frame.lengths
        types = frame.event_types
        payload = frame.payload
        fixed = n > 0 and bool((lengths == lengths[0]).all())
        ends = None if fixed else np.cumsum(lengths, dtype=np.int64)
        width = int(lengths[0]) if fixed else 0
        i = skip
        loop = asyncio.get_running_loop()
        stopping = self._stop_event()
        while i < n:
            k = 0
            try:
                with self.writer.claim_block(min(n - i, self._claim_max), timeout=0) as claim:
                    k = len(claim)
                    if k:
                        rows = claim.as_array()
                        np.asarray(claim.lengths)[:] = lengths[i:i + k]
                        np.asarray(claim.event_types)[:] = types[i:i + k]
                        if fixed:
                            rows[:, :width] = payload[i * width:(i + k) * width].reshape(k, width)
                        else:
                            assert ends is not None
                            lo = int(ends[i - 1]) if i else 0
                            hi = int(ends[i + k - 1])
                            part = lengths[i:i + k]
                            mask = (np.arange(self.slot_size, dtype=np.uint32)[None, :]
                                    < part[:, None])
                            rows[mask] = payload[lo:hi]
                        del rows
            except RingFull:
                pass
            if k:
                i += k
                continue
            # The ring is full: hold the messages, keep them ours (in progress).
            self.counters["full_waits"] += 1
            if not await self._wait_room(loop, stopping):
                return False
        return True

    async def _wait_room(self, loop: asyncio.AbstractEventLoop, stopping: asyncio.Event) -> bool:
        every = max(self.ack_wait / 3, 0.05)
        while True:
            if stopping.is_set():
                return False
            if self.ring.closed:
                raise RingClosed(f"the destination ring {self.ring.name!r} was closed")
            now = loop.time()
            if now - self._last_progress >= every:
                self._last_progress = now
                for m in self._held:
                    try:
                        await m.in_progress()
                    except (nats.errors.Error, nats.js.errors.Error):
                        pass
            try:
                await _aio._wait(self.writer, loop, min(now + every, now + 0.25))
            except RingClosed:
                raise
            # room? a claim of 1 tells without publishing anything
            return True


# ---- Prometheus ------------------------------------------------------------------------


_COUNTERS = [("events", "events carried"), ("messages", "messages (batches) carried"),
             ("bytes", "message bytes carried"),
             ("duplicates", "messages JetStream or the ring already had"),
             ("lost", "source events lost upstream, carried in headers"),
             ("redeliveries", "messages JetStream delivered again")]


class _Collector:
    """What prometheus_collector returns (a registry needs only collect())."""

    def __init__(self, bridges: tuple[Out | In, ...], namespace: str) -> None:
        self.bridges = bridges
        self.namespace = namespace

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        ns = self.namespace
        labels = ["direction", "stream"]
        fams = {k: CounterMetricFamily(f"{ns}_{k}", doc, labels=labels) for k, doc in _COUNTERS}
        lag = GaugeMetricFamily(f"{ns}_lag", "Out: ring events not yet read; "
                                "In: stream messages not yet delivered", labels=labels)
        rate = GaugeMetricFamily(f"{ns}_events_per_second",
                                 "events carried per second since start", labels=labels)
        for b in self.bridges:
            s = b.stats()
            lv = [s["direction"], s["stream"]]
            for k, _ in _COUNTERS:
                fams[k].add_metric(lv, float(s[k]))
            lag.add_metric(lv, float(s["lag"]))
            rate.add_metric(lv, float(s["events_per_s"]))
        yield from fams.values()
        yield lag
        yield rate


def prometheus_collector(*bridges: Out | In, namespace: str = "rusted_ring_bridge") -> Any:
    """A prometheus_client collector of the bridges' stats() (needs
    prometheus_client): register it (``REGISTRY.register(...)``) and serve.

    Metrics, labelled by ``direction`` (out/in) and ``stream``:
    ``<ns>_events_total``, ``<ns>_messages_total`` (batches),
    ``<ns>_bytes_total``, ``<ns>_duplicates_total``, ``<ns>_lost_total``
    (source losses carried), ``<ns>_redeliveries_total``, and the gauges
    ``<ns>_lag`` (Out: events in the ring not yet read; In: messages in the
    stream not yet delivered) and ``<ns>_events_per_second``."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ImportError("prometheus_collector needs prometheus_client: "
                          "pip install 'rusted_ring[prometheus]'") from None
    return _Collector(bridges, namespace)
