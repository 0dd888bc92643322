"""Re-entrancy: Python code that runs in the middle of a binding call, on the
calling thread, and uses the same handle.

Such code runs when the call allocates (CPython <= 3.11 collects garbage on
allocation: finalizers and gc callbacks), converts a payload (a `.data`
property, `__buffer__` on 3.12+), converts an index (`__index__`) or waits (a
signal handler between slices). It must find the handle busy (RuntimeError,
and the outer call's state left intact) or the outer call's work not yet begun
or already done. A close() is never refused: it takes effect when the outer
call ends.

Every payload carries a producer, a sequence and a checksum (payloads.py); each
test checks what arrived -- in order, exactly once, with its bytes -- and that
the handles stay usable, not only that nothing crashed.
"""
import gc
import signal
import sys
import uuid

import pytest

import rusted_ring as rr
from payloads import Payloads, decode

LIMIT = 30.0
OUTER = "in use by an outer call on this thread"

# 3.12+ collects only at the interpreter's eval-breaker checks, never inside a C call.
collects_on_allocation = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="CPython 3.12+ does not collect garbage on allocation")
has_buffer_protocol_in_python = pytest.mark.skipif(
    sys.version_info < (3, 12), reason="__buffer__ is called by the buffer protocol on 3.12+")


class _Garbage:
    """A reference cycle: only the collector frees it, running `action` as it does."""

    def __init__(self, action):
        self.action = action
        self.cycle = self

    def __del__(self):
        self.action()


def during_collection(hook, action, call):
    """call()'s result, with the collector armed so that the first allocation it counts
    collects, and the collection runs action() once, from a finalizer (hook="finalizer")
    or a gc callback (hook="gc_callback"). Returns (result, whether action ran)."""
    fired = []

    def once():
        if not fired:
            fired.append(True)
            action()

    def callback(phase, info):
        if phase == "start":
            once()

    was_enabled, threshold = gc.isenabled(), gc.get_threshold()
    gc.collect()
    gc.disable()
    if hook == "finalizer":
        _Garbage(once)
    else:
        gc.callbacks.append(callback)
    # Lists are reused from a free list before the allocator counts one: take
    # them all, so that the next list the call makes is counted and collects.
    ballast = [[] for _ in range(200)]
    gc.set_threshold(1)
    gc.enable()
    try:
        result = call()
    finally:
        gc.disable()
        gc.set_threshold(*threshold)
        if hook == "gc_callback":
            gc.callbacks.remove(callback)
        if was_enabled:
            gc.enable()
        del ballast
    return result, bool(fired)


def published(ring, w, gen, n, first=0):
    for s in range(first, first + n):
        w.add(gen.make(s))


def drain(r):
    out = []
    while (ev := r.next()) is not None:
        out.append(decode(ev)[1])
    return out


def snapshot(events):
    """What the live events hold now: their (sequence, bytes)."""
    return [(decode(ev)[1], bytes(ev)) for ev in events]


# ---- Reader ---------------------------------------------------------------------------------------

@collects_on_allocation
@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
@pytest.mark.parametrize("hook", ["finalizer", "gc_callback"])
@pytest.mark.parametrize("inner", ["next", "next_batch", "iterate"])
def test_a_collection_inside_next_batch_reading_the_same_reader_loses_and_repeats_nothing(
        mode, hook, inner):
    ring = rr.Ring(64, 16, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(1, 64)
    published(ring, w, gen, 12)
    inner_got = []

    def reenter():
        try:
            if inner == "next":
                got = [r.next()]
            elif inner == "next_batch":
                got = r.next_batch(3)
            else:
                got = [next(iter(r))]
            inner_got.extend(got)
        except RuntimeError as e:
            assert OUTER in str(e)

    batch, fired = during_collection(hook, reenter, lambda: r.next_batch(8))
    assert fired, "no collection ran inside next_batch"
    # Whether the inner call ran before the outer one read or was refused, each
    # event arrives once, in order, intact.
    delivered = inner_got + batch
    assert [decode(ev)[1] for ev in delivered] == list(range(len(delivered)))
    assert len(batch) == 8
    before = snapshot(delivered)
    # Live events keep their bytes while the writer goes on (backpressure: they
    # pin their slots; overwrite: they are copies).
    for s in range(12, 12 + 32):
        w.try_add(gen.make(s))
    assert snapshot(delivered) == before
    rest = drain(r)
    if mode == "backpressure":
        assert rest == list(range(len(delivered), ring.published))
    else:
        assert rest == sorted(set(rest)) and len(delivered) + len(rest) + r.lost == ring.published
    assert r.skipped == 0


@collects_on_allocation
@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
@pytest.mark.parametrize("hook", ["finalizer", "gc_callback"])
def test_a_collection_inside_next_batch_closing_the_same_reader_leaves_its_events_intact(mode, hook):
    ring = rr.Ring(64, 16, mode=mode)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(2, 64)
    published(ring, w, gen, 12)
    try:
        batch, fired = during_collection(hook, r.close, lambda: r.next_batch(8))
    except rr.RingClosed:
        batch, fired = [], True           # the close came before the read
    assert fired, "no collection ran inside next_batch"
    assert r.closed
    assert [decode(ev)[1] for ev in batch] == list(range(len(batch)))
    before = snapshot(batch)
    # A closed reader gates nothing, but events still alive keep their slots.
    for s in range(12, 12 + 32):
        w.try_add(gen.make(s))
    assert snapshot(batch) == before
    with pytest.raises(rr.RingClosed):
        r.next()
    del batch, before
    assert ring.stats()["reader_count"] == 0
    # The ring goes on for a new reader: intact, consecutive, up to the last event.
    seqs = [decode(ev)[1] for ev in ring.reader().next_batch(64)]
    assert seqs and seqs == list(range(seqs[0], ring.published))


def test_a_signal_handler_inside_a_readers_wait_finds_the_reader_busy():
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(3, 64)
    seen = []

    def handler(signum, frame):
        try:
            seen.append(r.next())
        except RuntimeError as e:
            seen.append(e)
        w.add(gen.make(0))                # what the outer wait then reads

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        ev = r.next(timeout=LIMIT)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert len(seen) == 1 and isinstance(seen[0], RuntimeError) and OUTER in str(seen[0])
    assert decode(ev) == (3, 0)
    assert r.next() is None and ring.published == 1


# ---- Writer ---------------------------------------------------------------------------------------

def _reenter_writer(w, gen, inner, outcome):
    """Use writer w from Python code inside one of its own calls; note what happened."""
    try:
        if inner == "add":
            w.add(gen.make(1000), timeout=LIMIT)
        elif inner == "try_add":
            w.try_add(gen.make(1000))
        elif inner == "add_batch":
            # more payloads than the outer batch: the writer's scratch would have to grow
            w.add_batch([gen.make(1000 + i) for i in range(10)], timeout=LIMIT)
        else:
            with w.claim(timeout=LIMIT) as slot:
                p = gen.make(1000)
                slot[:len(p)] = p
                slot.length = len(p)
        outcome.append("ran")
    except RuntimeError as e:
        outcome.append(e)


def _check_writer_outcome(ring, w, r, gen, outcome, n):
    """Every re-entry was refused; the outer call published exactly its n payloads."""
    assert outcome and all(isinstance(o, RuntimeError) and OUTER in str(o) for o in outcome), outcome
    assert [decode(ev) for ev in r.next_batch(64)] == [(gen.producer, s) for s in range(n)]
    assert ring.published == n
    w.add(gen.make(n))                    # the writer is free again
    assert decode(r.next()) == (gen.producer, n)


@pytest.mark.parametrize("outer", ["add", "add_batch"])
@pytest.mark.parametrize("inner", ["add", "try_add", "add_batch", "claim"])
def test_a_data_property_using_the_same_single_producer_writer_is_refused(outer, inner):
    ring = rr.Ring(128, 64)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(4, 128)
    outcome = []

    class Reentering:
        event_type = 9

        def __init__(self, seq):
            self.seq = seq

        @property
        def data(self):
            _reenter_writer(w, gen, inner, outcome)
            return gen.make(self.seq)

    if outer == "add":
        w.add(Reentering(0))
        n = 1
    else:
        assert w.add_batch((gen.make(0), Reentering(1), gen.make(2), gen.make(3))) == 4
        n = 4
    _check_writer_outcome(ring, w, r, gen, outcome, n)


@collects_on_allocation
@pytest.mark.parametrize("hook", ["finalizer", "gc_callback"])
@pytest.mark.parametrize("outer", ["add", "add_batch"])
@pytest.mark.parametrize("inner", ["add", "add_batch", "claim"])
def test_a_collection_inside_a_single_producer_writers_call_using_it_is_refused(hook, outer, inner):
    ring = rr.Ring(128, 64)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(5, 128)
    outcome = []

    class Allocating:
        """An event whose .data allocates: the collection runs inside the writer's call."""
        event_type = 3

        def __init__(self, seq):
            self.seq = seq

        @property
        def data(self):
            _ = [self.seq]
            return gen.make(self.seq)

    # Made before the collector is armed; a tuple is used as it is, so the
    # first allocation inside the call is the property's.
    one = Allocating(0)
    batch = (gen.make(0), Allocating(1), gen.make(2), gen.make(3))

    def call():
        if outer == "add":
            w.add(one)
            return 1
        return w.add_batch(batch)

    n, fired = during_collection(hook, lambda: _reenter_writer(w, gen, inner, outcome), call)
    assert fired, "no collection ran inside the writer's call"
    _check_writer_outcome(ring, w, r, gen, outcome, n)


def test_a_payloads_finalizer_run_by_add_batch_itself_finds_the_writer_free_again():
    ring = rr.Ring(128, 64)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(6, 128)
    outcome = []

    class Dropped(bytes):
        def __del__(self):
            _reenter_writer(w, gen, "add", outcome)

    class Dropping:
        """Empties the caller's list: add_batch's own snapshot keeps the last references."""
        event_type = 0

        @property
        def data(self):
            payloads.clear()
            return gen.make(1)

    payloads = [Dropped(gen.make(0)), Dropping()]
    assert w.add_batch(payloads) == 2
    assert outcome == ["ran"]             # run as add_batch let go of its snapshot
    assert [decode(ev) for ev in r.next_batch(8)] == [(6, 0), (6, 1), (6, 1000)]


@has_buffer_protocol_in_python
@pytest.mark.parametrize("where", ["__buffer__", "__release_buffer__"])
@pytest.mark.parametrize("inner", ["add", "add_batch", "claim"])
def test_a_buffer_export_using_the_same_single_producer_writer_is_refused(where, inner):
    ring = rr.Ring(128, 64)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(7, 128)
    outcome = []

    class Exporting:
        def __init__(self, seq):
            self.payload = bytearray(gen.make(seq))

        def __buffer__(self, flags):
            if where == "__buffer__":
                _reenter_writer(w, gen, inner, outcome)
            return memoryview(self.payload)

        def __release_buffer__(self, view):
            if where == "__release_buffer__":
                _reenter_writer(w, gen, inner, outcome)
            view.release()

    assert w.add_batch([gen.make(0), Exporting(1), Exporting(2), gen.make(3)]) == 4
    assert len(outcome) == 2
    _check_writer_outcome(ring, w, r, gen, outcome, 4)


class _Refusing:
    """A buffer exporter (3.12+) whose __buffer__ raises `exc`."""

    def __init__(self, exc):
        self.exc = exc

    def __buffer__(self, flags):
        raise self.exc


class _EventOf:
    """An event-like payload whose .data is `data`."""
    event_type = 4

    def __init__(self, data):
        self.data = data


_SUBMITS = {
    "add": lambda w, p: w.add(p),
    "try_add": lambda w, p: w.try_add(p),
    "add-event-like": lambda w, p: w.add(_EventOf(p)),
    "add_batch": lambda w, p: w.add_batch([b"first", p]),
    "emit": lambda w, p: rr.emit(p),
}


@has_buffer_protocol_in_python
@pytest.mark.parametrize("call", sorted(_SUBMITS))
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), MemoryError(), ZeroDivisionError("boom"),
                                 RuntimeError("in use elsewhere"), BufferError("not now")],
                         ids=lambda e: type(e).__name__)
def test_what_a_buffer_export_raises_comes_out_of_the_call_unchanged(call, exc):
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    with pytest.raises(type(exc)) as info:
        _SUBMITS[call](w, _Refusing(exc))
    assert info.value is exc              # not a TypeError about contiguity
    assert ring.published == 0 and r.next() is None
    w.add(b"after")                       # the writer is free again
    assert bytes(r.next()) == b"after"


@has_buffer_protocol_in_python
def test_a_busy_refusal_raised_inside_a_buffer_export_reaches_the_caller():
    ring = rr.Ring(128, 64)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(11, 128)

    class Reentering:
        def __buffer__(self, flags):
            w.add_batch([gen.make(100), gen.make(101)])   # refused: not caught here
            return memoryview(gen.make(1))

    with pytest.raises(RuntimeError, match=OUTER):
        w.add_batch([gen.make(0), Reentering()])
    assert ring.published == 0
    w.add(gen.make(2))
    assert [decode(ev) for ev in r.next_batch(8)] == [(11, 2)]


@has_buffer_protocol_in_python
def test_a_non_contiguous_buffer_from_a_buffer_export_is_still_a_type_error():
    ring = rr.Ring(64, 8)
    w = ring.writer()

    class Strided:
        def __buffer__(self, flags):
            return memoryview(b"abcdef")[::2]

    with pytest.raises(TypeError, match="contiguous"):
        w.add(Strided())
    with pytest.raises(TypeError, match="contiguous"):
        w.add(_EventOf(Strided()))
    assert ring.published == 0


def test_a_multi_producer_writer_serves_a_data_property_that_uses_it():
    ring = rr.Ring(128, 64, producers="multi")
    w, r = ring.writer(), ring.reader()
    gen = Payloads(8, 128)

    class Reentering:
        event_type = 0

        @property
        def data(self):
            # a batch larger than the outer one, from the same handle
            assert w.add_batch([gen.make(100 + i) for i in range(40)]) == 40
            return gen.make(1)

    assert w.add_batch((gen.make(0), Reentering(), gen.make(2))) == 3
    got = [decode(ev)[1] for ev in r.next_batch(64)]
    # The inner batch completes while the outer one converts its payloads.
    assert got == list(range(100, 140)) + [0, 1, 2]


# ---- The core's message: read before any Python code runs ----------------------------------------

class _FailingElsewhere(bytearray):
    """A payload's bytes whose finalizer makes a core call that fails with a message of
    its own (an oversized add to another ring), overwriting this thread's last error."""

    def __del__(self):
        try:
            _OTHER_WRITER.add(b"z" * 30)
        except rr.DataTooLarge:
            pass


_OTHER_RING = rr.Ring(4, 4)
_OTHER_WRITER = _OTHER_RING.writer()
_ELSEWHERE = "30 bytes"


class _Dropping:
    """An event-like payload whose .data is made on access: the binding's view holds
    its only reference, so releasing the view runs its finalizer."""
    event_type = 2

    def __init__(self, size):
        self.size = size

    @property
    def data(self):
        return _FailingElsewhere(b"y" * self.size)


@pytest.mark.parametrize("call", ["add", "try_add", "add_batch"])
def test_a_failed_add_reports_its_own_error_whatever_releasing_the_payload_runs(call):
    ring = rr.Ring(8, 4)
    w, r = ring.writer(), ring.reader()
    submit = {"add": w.add, "try_add": w.try_add, "add_batch": lambda p: w.add_batch([p])}[call]
    with pytest.raises(rr.DataTooLarge) as info:
        submit(_Dropping(20))
    assert "20 bytes" in str(info.value) and "slot size of 8 bytes" in str(info.value)
    assert _ELSEWHERE not in str(info.value)
    assert ring.published == 0
    w.add(b"ok")
    assert bytes(r.next()) == b"ok"


def test_a_failed_emit_reports_its_own_error_whatever_releasing_the_payload_runs():
    too_large = rr.PoolId.XL.slot_size + 1
    with pytest.raises(rr.DataTooLarge) as info:
        rr.emit(_Dropping(too_large))
    assert f"{too_large} bytes" in str(info.value) and _ELSEWHERE not in str(info.value)


@has_buffer_protocol_in_python
@pytest.mark.parametrize("call", ["add", "try_add", "emit"])
def test_a_failed_add_reports_its_own_error_whatever_release_buffer_runs(call):
    ring = rr.Ring(8, 4)
    w = ring.writer()
    size = 20 if call != "emit" else rr.PoolId.XL.slot_size + 1

    class Exporting:
        def __buffer__(self, flags):
            return memoryview(b"y" * size)

        def __release_buffer__(self, view):
            view.release()
            try:
                _OTHER_WRITER.add(b"z" * 30)
            except rr.DataTooLarge:
                pass

    submit = {"add": w.add, "try_add": w.try_add, "emit": rr.emit}[call]
    with pytest.raises(rr.DataTooLarge) as info:
        submit(Exporting())
    assert f"{size} bytes" in str(info.value) and _ELSEWHERE not in str(info.value)


@collects_on_allocation
def test_a_finalizer_run_while_a_shared_memory_error_is_built_leaves_its_message_alone():
    name = f"rr-test-missing-{uuid.uuid4().hex}"
    unlink = rr.Ring.unlink_shared            # bound now: the call itself allocates nothing tracked

    def fail_elsewhere():
        try:
            _OTHER_WRITER.add(b"z" * 30)
        except rr.DataTooLarge:
            pass

    def call():
        try:
            unlink(name)
        except FileNotFoundError as e:
            return e
        return None

    e, fired = during_collection("finalizer", fail_elsewhere, call)
    assert fired, "no collection ran inside unlink_shared"
    assert isinstance(e, FileNotFoundError) and e.filename == name
    assert name in str(e) and _ELSEWHERE not in str(e)


# ---- Claim ----------------------------------------------------------------------------------------

def _set(key, value):
    def op(slot):
        slot[key] = value
    return op


@pytest.mark.parametrize("op, exc", [
    (lambda slot: slot[100], IndexError),
    (lambda slot: slot[-100], IndexError),
    (lambda slot: slot["k"], TypeError),
    (_set(100, 1), IndexError),
    (_set("k", 1), TypeError),
    (_set(0, 300), ValueError),
    (_set(0, -1), ValueError),
    (_set(0, "x"), TypeError),
    (_set(slice(0, 4), b"abc"), ValueError),
    (_set(slice(0, 2), "ab"), TypeError),
], ids=["get-past-end", "get-before-start", "get-str-key", "set-past-end", "set-str-key",
        "set-300", "set-negative", "set-str-value", "set-short-slice", "set-str-slice"])
def test_bad_indexing_of_a_claimed_slot_raises_its_error_and_the_claim_stays_usable(op, exc):
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(9, 64)
    p = gen.make(0)
    with w.claim() as slot:
        with pytest.raises(exc):
            op(slot)
        slot[:len(p)] = p
        slot[0] = p[0]
        assert slot[1] == p[1] and slot[2:6] == p[2:6]
        slot.length = len(p)
    assert decode(r.next()) == (9, 0)
    w.add(gen.make(1))
    assert decode(r.next()) == (9, 1)
    assert ring.stats()["abandoned"] == 0


@pytest.mark.parametrize("at", ["key", "value"])
@pytest.mark.parametrize("inner", ["exit", "get", "set"])
def test_an_index_that_uses_the_claim_it_indexes_is_refused(at, inner):
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(10, 64)
    p = gen.make(0)
    outcome = []

    class Index:
        def __init__(self, n):
            self.n = n

        def __index__(self):
            try:
                if inner == "exit":
                    slot.__exit__(None, None, None)
                elif inner == "get":
                    slot[0]
                else:
                    slot[0] = 0
                outcome.append("ran")
            except RuntimeError as e:
                outcome.append(e)
            return self.n

    with w.claim() as slot:
        slot[:len(p)] = p
        if at == "key":
            slot[Index(5)] = p[5]
        else:
            slot[5] = Index(p[5])
        slot.length = len(p)
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError) and "claimed slot" in str(outcome[0])
    assert decode(r.next()) == (10, 0)
    assert ring.stats()["abandoned"] == 0
    w.add(gen.make(1))
    assert decode(r.next()) == (10, 1)
