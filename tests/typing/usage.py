"""What a type checker must accept, and what it must reject, in code that uses rusted_ring.

Never run: tests/typing/test_typing.py hands this file to `mypy --strict` for each
Python version from 3.10 to 3.13. A line that ends in `# E: CODE` must get exactly
that mypy error (CODE is its error code, e.g. arg-type); every other line must get
none. So the stubs are checked both ways: correct code type-checks without casts,
and mistakes a user could make are caught.
"""
from __future__ import annotations

import array
import pickle
import sys
from typing import Any

import numpy as np
from typing_extensions import assert_type

import rusted_ring as rr


def payloads(w: rr.Writer, ev: rr.Event) -> None:
    # Anything bytes-like is a payload, and so is an event-like object.
    assert_type(w.add(b"stroke"), int)
    w.add(bytearray(b"x"), event_type=7)
    w.add(memoryview(b"x"), 7, timeout=0.5)
    w.add(array.array("B", [1, 2]))
    w.add(rr.PooledEvent(b"x", 1))
    w.add(ev)                                   # an Event read from another ring
    assert_type(w.try_add(b"x"), bool)
    w.add_batch([b"a", bytearray(b"b"), rr.PooledEvent(b"c", 2)], [1, 2, 3], timeout=None)
    w.add_block(bytearray(32), lengths=[8, 8, 8, 8], event_types=3)
    # NumPy's own stubs make an ndarray a Buffer only from Python 3.12 (PEP 688);
    # on 3.10 and 3.11 a type checker rejects it wherever a Buffer is wanted, and
    # its .data (a memoryview of the same memory) is what the README says to pass.
    rows = np.zeros((4, 8), dtype=np.uint8)
    w.add(rows[0].data)
    w.add_block(rows.data, event_types=np.ones(4, dtype=np.uint32).data)
    if sys.version_info >= (3, 12):
        w.add(np.zeros(4, dtype=np.uint8))
        w.add_block(np.zeros((4, 8), dtype=np.uint8), event_types=np.ones(4, dtype=np.uint32))


def payload_mistakes(w: rr.Writer) -> None:
    w.add(123)  # E: arg-type
    w.add("text")  # E: arg-type
    w.add(b"x", event_type="stroke")  # E: arg-type
    w.add(b"x", timeout="soon")  # E: arg-type
    w.add_batch(b"abc")  # E: arg-type
    w.add_batch([b"abc"], event_types=[1.5])  # E: list-item
    w.try_add(None)  # E: arg-type


def rings() -> None:
    ring = rr.Ring(64, 1024, mode="overwrite", producers="multi", name="strokes")
    assert_type(ring, rr.Ring)
    assert_type(ring.mode, "rr._core.Mode")
    assert_type(ring.name, "str | None")
    shared = rr.Ring.create_shared("strokes", 64, 1024, permissions=0o640, exist_ok=True)
    again = rr.Ring.open_shared("/strokes", timeout=1.0, allow_other_user=False)
    assert_type(pickle.loads(pickle.dumps(shared)), Any)
    with again as r:
        assert_type(r, rr.Ring)
    stats = ring.stats()
    assert_type(stats["readers"], Any)
    rr.Ring.unlink_shared("strokes")


def ring_mistakes() -> None:
    rr.Ring(64, 1024, mode="fast")  # E: arg-type
    rr.Ring(64, 1024, producers=2)  # E: arg-type
    rr.Ring("64", 1024)  # E: arg-type
    ring = rr.Ring(64, 1024)
    ring.writer(wait="busy")  # E: arg-type
    ring.reader("newest")  # E: arg-type
    ring.slot_size = 32  # E: misc
    rr.Ring.open_shared("strokes", 1.0)  # E: call-arg


def reading(ring: rr.Ring) -> None:
    with ring.writer(wait="spin") as w, ring.reader("latest", wait="sleep") as r:
        assert_type(w, rr.Writer)
        assert_type(r, rr.Reader)
        ev = r.next(timeout=None)
        assert_type(ev, "rr.Event | None")
        if ev is not None:
            assert_type(ev.sequence, int)
            assert_type(bytes(ev), bytes)
            assert_type(ev.data, memoryview)
            assert_type(memoryview(ev), memoryview)
        for e in r.events(timeout=1.0):
            assert_type(e, rr.Event)
        for e in r:
            assert_type(e.event_type, int)
        assert_type(r.next_batch(64), "list[rr.Event]")
        block = r.next_block(256)
        if block is not None:
            with block:
                assert_type(block[0], rr.Event)
                for e in block:
                    assert_type(e, rr.Event)
                assert_type(block.as_array(), Any)
                assert_type(block.lengths.tolist(), "list[int]")
        with w.claim(event_type=3) as slot:
            slot[0:2] = b"ok"
            slot.length = 2
            memoryview(slot)[2] = 1
        with w.claim_block(16) as c:
            c.data[0, 0] = 1
        assert_type(r.backpressure_ratio(), float)


def reading_mistakes(ring: rr.Reader) -> None:
    ring.next().sequence  # E: union-attr
    ring.next_batch("all")  # E: arg-type
    ring.lag = 0  # E: misc


def pools() -> None:
    assert_type(rr.estimate_size(100), rr.EventSize)
    assert_type(rr.estimate_pool_id(100), "rr.PoolId | None")
    assert_type(rr.EventPoolFactory.get_writer(rr.PoolId.S), rr.Writer)
    auto = rr.EventUtils.create_auto_sized_event(b"stroke", 1)
    assert_type(auto.emit_to_ring(), int)
    rr.emit(b"x", 1)
    health = rr.health_check()
    assert_type(health, rr.SystemHealth)


def pool_mistakes() -> None:
    rr.estimate_size(b"abc")  # E: arg-type
    rr.PooledEvent(b"x", 1).data = b"y"  # E: misc


def monitoring(ring: rr.Ring) -> None:
    with rr.Monitor(ring, interval=0.1) as monitor:
        latest = monitor.latest
        assert_type(latest, "rr.Sample | None")
    rows = rr.snapshot([ring])
    assert_type(rows, "list[dict[str, Any]]")
    assert_type(rr.live_rings(), "list[rr.Ring]")
