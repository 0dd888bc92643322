"""A coverage-guided fuzzer for the CPython binding (rusted_ring._core).

Each input is decoded into a sequence of operations on a few small rings and
their writers, readers, claims and events: both modes, one or several
producers, capacities 1..8, slots of 1..128 bytes. Payloads come as bytes,
bytearray, memoryview, NumPy arrays (contiguous or not), forwarded events and
objects with `.data` and `.event_type` properties that re-enter the handle the
call is working on (add, next, close ...) or edit the batch being copied;
claimed slots are written in range and out of it, with keys and values of the
wrong type and with `__index__` objects that re-enter; objects whose
`__del__` re-enters are left in reference cycles for a collector run with a
threshold as low as 1, so they run inside the binding's own allocations.

The only acceptable outcome of each call is a result or one of the documented
exceptions (RingError and its subclasses, TypeError, ValueError,
OverflowError, IndexError, BufferError, RuntimeError for a handle that is busy
or a claim entered twice), or the exception a payload raised on purpose. A
SystemError, any other exception, a crash or a sanitizer report is a finding.
After every step the fuzzer also checks what it can cheaply:
- every payload written carries a token and a checksum (tokens unique in the
  run); each event a reader returns is one that was written to its ring, with
  the event type it was written with, and the one written at that sequence
  where the writer learnt it (add, claim);
- each reader's sequences only grow;
- for each open reader: cursor - start == delivered + lost + skipped, the
  events the harness received == delivered, lost == 0 in backpressure mode,
  skipped == 0 with one producer;
- an event kept past later calls still reads as it did when it came.
After each input every handle is dropped, and the number of live rings must be
back where it was.

    python tests/fuzz/fuzz_binding.py [libFuzzer flags] [CORPUS_DIR...]   fuzz (needs atheris)
    python tests/fuzz/fuzz_binding.py --replay FILE...                    run inputs once, no atheris
    python tests/fuzz/fuzz_binding.py --describe FILE                     print the decoded operations

`make fuzz-python` runs it under ASan (see the Makefile); crash inputs worth
keeping go to tests/fuzz/regressions/, replayed by tests/fuzz/test_regressions.py.
"""
import gc
import struct
import sys
import traceback
import zlib

try:
    import numpy as np
except ImportError:             # the NumPy payloads are then left out
    np = None

rr = None                       # rusted_ring, imported by main() (instrumented when fuzzing)

MAX_RINGS, MAX_WRITERS, MAX_READERS, MAX_CLAIMS, MAX_KEPT, MAX_VIEWS = 3, 4, 6, 4, 16, 4
MAX_DEPTH = 2                   # nested (re-entrant) operations within operations
MAX_STEPS = 400
SHORT_WAIT = 0.001              # the only waiting timeout used: nothing else runs to end a wait


class Planted(Exception):
    """Raised on purpose by a payload's `.data`: it must come out of the call as it is."""


class Finding(AssertionError):
    """Something the binding must never do."""


def accepted():
    return (rr.RingError, TypeError, ValueError, OverflowError, IndexError, BufferError,
            RuntimeError, Planted)


# ---- decoding the input ---------------------------------------------------------------

class Input:
    def __init__(self, data):
        self.data = data
        self.i = 0

    def u8(self):
        if self.i >= len(self.data):
            return 0
        self.i += 1
        return self.data[self.i - 1]

    def below(self, n):
        return self.u8() % n

    def flag(self):
        return self.u8() & 1

    @property
    def done(self):
        return self.i >= len(self.data)


class Action:
    """A decoded operation: `run(world)`; `text` says what it does."""

    def __init__(self, text, run):
        self.text = text
        self.run = run

    def __repr__(self):
        return self.text


def pick(items, index):
    return items[index % len(items)] if items else None


def content(token, n):
    """n bytes that name the token and check themselves."""
    head = struct.pack("<II", token, zlib.crc32(struct.pack("<II", token, n)))
    return (head * (n // 8 + 1))[:n]


# ---- the world: handles and what was written -----------------------------------------

class RingState:
    def __init__(self, ring, mode, multi):
        self.ring = ring
        self.mode = mode
        self.multi = multi
        self.slot = ring.slot_size
        self.sent = {}          # payload bytes -> event types it was written with
        self.by_seq = {}        # sequence -> (bytes, type) where the writer learnt it

    def register(self, data, etype):
        if etype is not None:
            self.sent.setdefault(bytes(data), set()).add(etype)


class ReaderState:
    def __init__(self, rs, reader):
        self.rs = rs
        self.reader = reader
        self.start = reader.cursor
        self.last = -1
        self.received = 0


class World:
    def __init__(self):
        self.rings, self.writers, self.readers = [], [], []
        self.claims, self.kept, self.views = [], [], []
        self.token = 0
        self.findings = []
        self.batches = []       # the payload lists of the add_batch calls in progress

    def populate(self):
        """What every input starts with: two rings, a writer and a reader on each."""
        for mode, producers, slot, cap in (("backpressure", "single", 16, 4), ("overwrite", "multi", 24, 2)):
            ring = rr.Ring(slot, cap, mode=mode, producers=producers)
            rs = RingState(ring, mode, producers == "multi")
            self.rings.append(rs)
            self.writers.append((rs, ring.writer()))
            self.readers.append(ReaderState(rs, ring.reader()))

    def fresh(self, n):
        self.token += 1
        return content(self.token, n)

    def nested(self, action):
        """Run an operation from inside a call (a property, __index__, __del__)."""
        try:
            action.run(self)
        except accepted():
            pass
        except BaseException:  # noqa: BLE001 - reported after the step
            self.findings.append(f"inside a call, {action!r} raised:\n{traceback.format_exc()}")

    # Events are checked as soon as a call returns them, with the collector
    # off: a finalizer must not read from the same reader in between.
    def receive(self, rds, ev):
        seq, etype, data = ev.sequence, ev.event_type, bytes(ev)
        where = f"reader on ring {self.rings.index(rds.rs) if rds.rs in self.rings else '?'}"
        if seq <= rds.last:
            raise Finding(f"{where}: sequence {seq} came after {rds.last}")
        if len(data) != len(ev) or ev.len != len(data):
            raise Finding(f"{where}: event {seq} has len {ev.len}, len() {len(ev)}, {len(data)} bytes")
        types = rds.rs.sent.get(data)
        if types is None:
            raise Finding(f"{where}: event {seq} carries bytes never written to this ring: {data[:16]!r}")
        if etype not in types:
            raise Finding(f"{where}: event {seq} has type {etype}, written with {sorted(types)}")
        if seq in rds.rs.by_seq and rds.rs.by_seq[seq] != (data, etype):
            raise Finding(f"{where}: event {seq} is {(data[:16], etype)!r}, "
                          f"written as {(rds.rs.by_seq[seq][0][:16], rds.rs.by_seq[seq][1])!r}")
        rds.last = seq
        rds.received += 1
        return data, etype

    def check(self):
        """The invariants that hold between steps."""
        if self.findings:
            raise Finding("\n".join(self.findings))
        for rds in list(self.readers):
            r = rds.reader
            if r.closed:
                continue
            cursor, delivered, lost, skipped = r.cursor, r.delivered, r.lost, r.skipped
            if cursor - rds.start != delivered + lost + skipped:
                raise Finding(f"reader: cursor {cursor} - start {rds.start} != delivered {delivered} "
                              f"+ lost {lost} + skipped {skipped}")
            if delivered != rds.received:
                raise Finding(f"reader: delivered says {delivered}, the caller received {rds.received}")
            if rds.rs.mode == "backpressure" and lost:
                raise Finding(f"reader: lost {lost} events in backpressure mode")
            if not rds.rs.multi and skipped:
                raise Finding(f"reader: skipped {skipped} with a single producer")
        for ke in list(self.kept):
            self.check_kept(ke)

    def check_kept(self, ke):
        ev, data, etype = ke
        now = bytes(ev)
        if now != data or ev.event_type != etype or bytes(ev.data) != data:
            raise Finding(f"a kept event {ev.sequence} changed: {data[:16]!r} -> {now[:16]!r}")


def quiet():
    """Stop the collector (finalizers) until resume(); returns whether it ran.

    Called right after a call returns, before anything allocates: a `with`
    block would allocate its bound __enter__ first, and a finalizer run there
    could read from the reader whose events are about to be checked."""
    was = gc.isenabled()
    gc.disable()
    return was


def resume(was):
    if was:
        gc.enable()


def drain_free_lists():
    """Lists enough to empty CPython's free list of list objects (80 in 3.11)."""
    return [[] for _ in range(128)]


def bounded_append(items, item, limit):
    if len(items) >= limit:
        del items[0]
    items.append(item)


# ---- payloads ------------------------------------------------------------------------

class EventLike:
    """An object with .data and .event_type, whose properties may run an operation."""

    def __init__(self, data, etype, action=None, raises=False):
        self._data, self._etype, self._action, self._raises = data, etype, action, raises
        self._runs = 0

    @property
    def data(self):
        if self._action is not None and self._runs < 2:
            self._runs += 1
            WORLD.nested(self._action)
        if self._raises:
            raise Planted("a .data property that raises")
        return self._data

    @property
    def event_type(self):
        return self._etype


class IndexLike:
    """An __index__ that runs an operation first."""

    def __init__(self, value, action):
        self.value, self.action = value, action

    def __index__(self):
        if self.action is not None:
            WORLD.nested(self.action)
        return self.value


class Finalizer:
    """Left in a reference cycle: its __del__ runs whenever the collector runs."""

    def __init__(self, action):
        self.action = action
        self.cycle = self

    def __del__(self):
        if WORLD is not None:
            WORLD.nested(self.action)


EVENT_TYPES = [None, 0, 7, 0xFFFFFFFF, -1, 2**32, True, 1.5, "3", "index"]


def decode_etype(inp, depth):
    """(how to make it, the type a valid one stands for, or None for one the call must refuse)."""
    k = inp.below(len(EVENT_TYPES) + 4)
    if k >= len(EVENT_TYPES):
        v = inp.u8()
        return (lambda: v), v, f"{v}"
    spec = EVENT_TYPES[k]
    if spec is None:
        return (lambda: None), "none", "None"
    if spec == "index":
        value = inp.u8()
        action = decode_action(inp, depth + 1) if depth < MAX_DEPTH and inp.flag() else None
        # A type that is not an int is refused (TypeError) without calling __index__.
        return (lambda: IndexLike(value, action)), None, f"IndexLike({value}, {action!r})"
    valid = spec if type(spec) is int and 0 <= spec <= 0xFFFFFFFF else None
    return (lambda: spec), valid, repr(spec)


PAYLOAD_KINDS = ["bytes", "bytearray", "memoryview", "mv-bytearray", "numpy", "numpy-strided",
                 "numpy-i32", "event-like", "event-like-raises", "event-like-not-buffer", "kept-event",
                 "str", "int", "none", "released-view"]


class PayloadSpec:
    def __init__(self, inp, depth):
        self.kind = PAYLOAD_KINDS[inp.below(len(PAYLOAD_KINDS))]
        self.length = inp.u8()
        self.index = inp.u8()
        self.etype = None
        self.action = None
        self.inner = None
        if self.kind.startswith("event-like"):
            self.etype = decode_etype(inp, depth)
            self.inner = ["bytes", "bytearray", "numpy", "memoryview"][inp.below(4)]
            if depth < MAX_DEPTH and inp.flag():
                self.action = decode_action(inp, depth + 1)

    def __repr__(self):
        extra = f", type {self.etype[2]}, .data runs {self.action!r}" if self.kind.startswith("event-like") else ""
        return f"{self.kind}(len%{self.length}{extra})"

    def make(self, world, rs, explicit):
        """(payload object, its bytes, the type a reader should see or None) for ring rs.

        explicit: the type a valid event_type argument gives, "none" when the call
        passes None or nothing, or None for an argument the call must refuse."""
        n = self.length % (rs.slot + 3)          # now and then too large
        data = world.fresh(n)
        kind = self.kind
        default = 0
        if kind == "bytes":
            obj = data
        elif kind == "bytearray":
            obj = bytearray(data)
        elif kind == "memoryview":
            obj = memoryview(data)
        elif kind == "mv-bytearray":
            obj = memoryview(bytearray(data))[0:n]
        elif kind == "numpy" and np is not None:
            obj = np.frombuffer(data, dtype=np.uint8).copy()
        elif kind == "numpy-strided" and np is not None:
            wide = np.zeros(2 * n + 1, dtype=np.uint8)
            wide[0:2 * n:2] = np.frombuffer(data, dtype=np.uint8)
            obj = wide[0:2 * n:2]
            if n < 2:
                obj = obj.copy()                 # one item is contiguous anyway
        elif kind == "numpy-i32" and np is not None:
            n -= n % 4
            data = data[:n]
            obj = np.frombuffer(data, dtype="<i4")
        elif kind.startswith("event-like"):
            make_type, valid, _ = self.etype
            inner = {"bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data),
                     "numpy": np.frombuffer(data, dtype=np.uint8) if np is not None else data}[self.inner]
            if kind == "event-like-not-buffer":
                inner = 12345
            obj = EventLike(inner, make_type(), self.action, raises=kind == "event-like-raises")
            default = valid
        elif kind == "kept-event" and world.kept:
            ev, data, default = pick(world.kept, self.index)
            obj = ev
        elif kind == "str":
            obj = "text"
        elif kind == "int":
            obj = 5
        elif kind == "none":
            obj = None
        elif kind == "released-view":
            obj = memoryview(data)
            obj.release()
        else:
            obj = data
        etype = default if explicit == "none" else explicit
        return obj, data, etype


def decode_payload(inp, depth):
    return PayloadSpec(inp, depth)


TIMEOUTS = [0, 0, 0, SHORT_WAIT, -1, "soon", float("nan"), 0.0]


def decode_timeout(inp):
    return TIMEOUTS[inp.below(len(TIMEOUTS))]


def explicit_type(spec):
    """make(), and what it means for PayloadSpec.make's `explicit`."""
    return ((lambda: None), "none", "None") if spec is None else spec


# ---- operations ----------------------------------------------------------------------

def op_new_ring(inp, depth):
    mode = ["backpressure", "overwrite"][inp.flag()]
    producers = ["single", "multi"][inp.flag()]
    slot, cap = 1 + inp.below(128), 1 + inp.below(8)
    bad = inp.below(24)
    args = {0: (0, cap), 1: (slot, 0), 2: (-1, cap), 3: (slot, "8")}.get(bad, (slot, cap))

    def run(w):
        ring = rr.Ring(*args, mode=mode, producers=producers)
        bounded_append(w.rings, RingState(ring, mode, producers == "multi"), MAX_RINGS)
    return Action(f"Ring{args} {mode} {producers}", run)


def op_new_writer(inp, depth):
    i = inp.u8()

    def run(w):
        rs = pick(w.rings, i)
        if rs:
            bounded_append(w.writers, (rs, rs.ring.writer()), MAX_WRITERS)
    return Action(f"writer on ring #{i}", run)


def op_new_reader(inp, depth):
    i = inp.u8()
    start = ["oldest", "latest", None, "middle"][inp.below(4)]

    def run(w):
        rs = pick(w.rings, i)
        if rs:
            r = rs.ring.reader() if start is None else rs.ring.reader(start)
            was = quiet()
            try:
                bounded_append(w.readers, ReaderState(rs, r), MAX_READERS)
            finally:
                resume(was)
    return Action(f"reader({start}) on ring #{i}", run)


def op_add(inp, depth):
    i = inp.u8()
    how = ["add", "try_add", "add-kw"][inp.below(3)]
    spec = decode_payload(inp, depth)
    etype = explicit_type(decode_etype(inp, depth) if inp.flag() else None)
    timeout = decode_timeout(inp)

    def run(w):
        ws = pick(w.writers, i)
        if not ws:
            return
        rs, writer = ws
        obj, data, expect = spec.make(w, rs, etype[1])
        rs.register(data, expect)
        t = etype[0]()
        if how == "add":
            seq = writer.add(obj, t, timeout=timeout)
        elif how == "add-kw":
            seq = writer.add(data=obj, event_type=t, timeout=timeout)
        else:
            writer.try_add(obj, t)
            return
        if expect is None:
            raise Finding(f"add accepted a payload with a bad event type ({etype[2]}); sequence {seq}")
        rs.by_seq[seq] = (bytes(data), expect)
    return Action(f"{how}(writer #{i}, {spec!r}, type {etype[2]}, timeout {timeout!r})", run)


def op_add_batch(inp, depth):
    i = inp.u8()
    count = [0, 1, 2, 3, 4, 5, 8, 9, 20][inp.below(9)]
    specs = [decode_payload(inp, depth) for _ in range(min(count, 9))]
    form = ["list", "tuple", "generator", "edited"][inp.below(4)]
    tmode = ["omit", "int", "list", "short-list", "bad-item", "float", "none"][inp.below(7)]
    common = inp.u8()
    timeout = decode_timeout(inp)

    def run(w):
        ws = pick(w.writers, i)
        if not ws:
            return
        rs, writer = ws
        items, expected = [], []
        per_item = [(k * 7 + common) & 0xFF for k in range(len(specs))]
        for k, spec in enumerate(specs):
            explicit = {"int": common, "list": per_item[k]}.get(tmode, "none")
            if tmode in ("short-list", "bad-item", "float"):
                explicit = None
            obj, data, expect = spec.make(w, rs, explicit)
            rs.register(data, expect)
            items.append(obj)
            expected.append(expect)
        if count > len(specs):           # more than the capacity: refused
            items += [b"x"] * (count - len(specs))
        types = {"omit": (), "int": (common,), "list": (per_item,), "short-list": (per_item[:-1],),
                 "bad-item": ([-1] * len(items),), "float": (1.5,), "none": (None,)}[tmode]
        payloads = {"list": items, "tuple": tuple(items), "generator": (x for x in items),
                    "edited": items}[form]
        w.batches.append(items)
        try:
            n = writer.add_batch(payloads, *types, timeout=timeout)
        finally:
            w.batches.pop()
        if n and None in expected:
            raise Finding(f"add_batch accepted a payload with a bad event type ({tmode})")
    return Action(f"add_batch(writer #{i}, {form} of {count}: {specs!r}, types {tmode}, "
                  f"timeout {timeout!r})", run)


def op_edit_batch(inp, depth):
    how = inp.below(3)

    def run(w):
        if w.batches:
            items = w.batches[-1]
            if how == 0:
                items.clear()
            elif how == 1:
                items.append(b"late")
            else:
                items[:] = [None] * len(items)
    return Action(f"edit the batch being copied ({['clear', 'append', 'replace'][how]})", run)


CLAIM_KEYS = ["0", "last", "past", "-1", "huge", "slice", "slice-past", "str", "float", "index"]
CLAIM_VALUES = ["byte", "256", "-1", "bytes-fit", "bytes-long", "str", "index"]


def op_claim(inp, depth):
    i = inp.u8()
    etype = decode_etype(inp, depth) if inp.flag() else None
    timeout = decode_timeout(inp)

    def run(w):
        ws = pick(w.writers, i)
        if not ws:
            return
        c = ws[1].claim(etype[0](), timeout=timeout) if etype else ws[1].claim(timeout=timeout)
        bounded_append(w.claims, [ws[0], c, etype[1] if etype else 0], MAX_CLAIMS)
    return Action(f"claim(writer #{i}, type {etype[2] if etype else 'default'}, timeout {timeout!r})", run)


def op_claim_enter(inp, depth):
    i = inp.u8()

    def run(w):
        cs = pick(w.claims, i)
        if cs:
            cs[1].__enter__()
    return Action(f"enter claim #{i}", run)


def op_claim_write(inp, depth):
    i = inp.u8()
    key = CLAIM_KEYS[inp.below(len(CLAIM_KEYS))]
    value = CLAIM_VALUES[inp.below(len(CLAIM_VALUES))]
    read = inp.flag()
    byte = inp.u8()
    action = decode_action(inp, depth + 1) if depth < MAX_DEPTH and (key == "index" or value == "index") else None

    def run(w):
        cs = pick(w.claims, i)
        if not cs:
            return
        rs, c = cs[0], cs[1]
        k = {"0": 0, "last": rs.slot - 1, "past": rs.slot, "-1": -1, "huge": 2**70,
             "slice": slice(0, 2), "slice-past": slice(rs.slot - 1, rs.slot + 5), "str": "a",
             "float": 1.0, "index": IndexLike(byte % (rs.slot + 2), action)}[key]
        if read:
            c[k]
            return
        width = len(range(*k.indices(rs.slot))) if isinstance(k, slice) else 1
        v = {"byte": byte, "256": 256, "-1": -1, "bytes-fit": bytes([byte]) * width,
             "bytes-long": bytes(width + 3), "str": "a", "index": IndexLike(byte, action)}[value]
        c[k] = v
    return Action(f"claim #{i}[{key}] {'read' if read else '= ' + value} ({action!r})", run)


def op_claim_length(inp, depth):
    i = inp.u8()
    how = inp.below(6)
    n = inp.u8()

    def run(w):
        cs = pick(w.claims, i)
        if cs:
            cs[1].length = [n % (cs[0].slot + 1), cs[0].slot + 1, -1, 2**70, "3", 2.0][how]
            _ = cs[1].length, cs[1].sequence, cs[1].slot_size, len(cs[1])
    return Action(f"claim #{i}.length ({how}, {n})", run)


def op_claim_publish(inp, depth):
    """Write a fresh payload into the slot, set length and type, leave the block."""
    i = inp.u8()
    n = inp.u8()
    etype = inp.u8()

    def run(w):
        cs = pick(w.claims, i)
        if not cs:
            return
        rs, c = cs[0], cs[1]
        length = n % (rs.slot + 1)
        data = w.fresh(length)
        if length:
            c[0:length] = data
        c.length = length
        c.event_type = etype
        rs.register(data, etype)
        seq = c.sequence
        c.__exit__(None, None, None)
        if seq is not None:
            rs.by_seq[seq] = (data, etype)
    return Action(f"publish claim #{i} ({n} bytes, type {etype})", run)


def op_claim_abort(inp, depth):
    i = inp.u8()

    def run(w):
        cs = pick(w.claims, i)
        if cs:
            cs[1].__exit__(ValueError, ValueError("abandon"), None)
    return Action(f"abandon claim #{i}", run)


def op_claim_view(inp, depth):
    i = inp.u8()

    def run(w):
        cs = pick(w.claims, i)
        if cs:
            bounded_append(w.views, memoryview(cs[1]), MAX_VIEWS)
    return Action(f"keep a view of claim #{i}", run)


def op_release_view(inp, depth):
    i = inp.u8()

    def run(w):
        if w.views:
            w.views.pop(i % len(w.views)).release()
    return Action(f"release view #{i}", run)


def keep(w, rds, ev, got, keep_it):
    if keep_it:
        bounded_append(w.kept, (ev, got[0], got[1]), MAX_KEPT)


def op_next(inp, depth):
    i = inp.u8()
    timeout = decode_timeout(inp)
    keep_it = inp.flag()
    positional = inp.flag()

    def run(w):
        rds = pick(w.readers, i)
        if not rds:
            return
        ev = rds.reader.next(timeout) if positional else rds.reader.next(timeout=timeout)
        was = quiet()
        try:
            if ev is not None:
                keep(w, rds, ev, w.receive(rds, ev), keep_it)
        finally:
            resume(was)
    return Action(f"next(reader #{i}, timeout {timeout!r}){' kept' if keep_it else ''}", run)


def op_next_batch(inp, depth):
    i = inp.u8()
    maxsel = inp.u8()
    timeout = decode_timeout(inp)
    keep_mask = inp.u8()
    drain = inp.flag()

    def run(w):
        rds = pick(w.readers, i)
        if not rds:
            return
        m = [0, -1, 2**70, "3", 1.0][maxsel % 5] if maxsel >= 240 else 1 + maxsel % 10
        # With the list free list drained, the call's own list is a new
        # collected object, so the collector (and any finalizer) may run there.
        was = quiet()
        hog = drain_free_lists() if drain else None
        resume(was)
        evs = rds.reader.next_batch(m, timeout)
        del hog
        was = quiet()
        try:
            for k, ev in enumerate(evs):
                keep(w, rds, ev, w.receive(rds, ev), keep_mask >> (k % 8) & 1)
        finally:
            resume(was)
    return Action(f"next_batch(reader #{i}, max sel {maxsel}, timeout {timeout!r}, keep {keep_mask:#x})"
                  f"{' with the list free list drained' if drain else ''}", run)


def op_iterate(inp, depth):
    i = inp.u8()
    how = inp.below(3)
    stop = inp.below(12)
    keep_it = inp.flag()

    def run(w):
        rds = pick(w.readers, i)
        if not rds:
            return
        it = {0: lambda: iter(rds.reader), 1: lambda: rds.reader.events(timeout=0),
              2: lambda: rds.reader.events(0)}[how]()
        for k, ev in enumerate(it):
            was = quiet()
            try:
                keep(w, rds, ev, w.receive(rds, ev), keep_it)
            finally:
                resume(was)
            if k >= stop:
                break
    return Action(f"iterate reader #{i} ({['iter', 'events(timeout=0)', 'events(0)'][how]}, "
                  f"stop after {stop}){' kept' if keep_it else ''}", run)


def op_close(inp, depth):
    what = inp.below(4)
    i = inp.u8()

    def run(w):
        if what == 0 and w.rings:
            pick(w.rings, i).ring.close()
        elif what == 1 and w.writers:
            pick(w.writers, i)[1].close()
        elif what == 2 and w.readers:
            pick(w.readers, i).reader.close()
        elif what == 3 and w.writers:
            pick(w.writers, i)[1].__exit__(None, None, None)
    return Action(f"close {['ring', 'writer', 'reader', 'writer (exit)'][what]} #{i}", run)


def op_drop(inp, depth):
    what = inp.below(6)
    i = inp.u8()

    def run(w):
        items = [w.rings, w.writers, w.readers, w.claims, w.kept, w.views][what]
        if items:
            del items[i % len(items)]
    return Action(f"drop {['ring', 'writer', 'reader', 'claim', 'kept event', 'view'][what]} #{i}", run)


def op_look(inp, depth):
    what = inp.below(3)
    i = inp.u8()

    def run(w):
        if what == 0 and w.rings:
            rs = pick(w.rings, i)
            ring = rs.ring
            s = ring.stats()
            _ = (ring.slot_size, ring.capacity, ring.mode, ring.producers, ring.published,
                 ring.memory_bytes, ring.closed, ring.shared, ring.name, repr(ring))
            if s["reader_count"] != len(s["readers"]):
                raise Finding(f"stats: reader_count {s['reader_count']} with {len(s['readers'])} readers listed")
            for entry in s["readers"]:
                if rs.mode == "backpressure" and entry["lost"]:
                    raise Finding(f"stats: a reader lost {entry['lost']} in backpressure mode")
        elif what == 1 and w.readers:
            r = pick(w.readers, i).reader
            _ = (r.lag, r.lost, r.cursor, r.delivered, r.skipped, r.closed, r.ring,
                 r.backpressure_ratio(), r.is_under_pressure(), r.should_throttle(), repr(r))
        elif what == 2 and w.writers:
            writer = pick(w.writers, i)[1]
            _ = (writer.ring, writer.closed, repr(writer))
    return Action(f"look at {['ring', 'reader', 'writer'][what]} #{i}", run)


def op_gc(inp, depth):
    def run(w):
        gc.collect()
    return Action("gc.collect()", run)


def op_threshold(inp, depth):
    t = 1 + inp.below(64)

    def run(w):
        gc.set_threshold(t, 1, 1)
    return Action(f"gc.set_threshold({t}, 1, 1)", run)


def op_finalizer(inp, depth):
    action = decode_action(inp, depth + 1) if depth < MAX_DEPTH else None

    def run(w):
        if action is not None:
            Finalizer(action)           # unreachable at once; the collector runs it
    return Action(f"leave a finalizer that runs {action!r}", run)


def op_check_kept(inp, depth):
    def run(w):
        was = quiet()
        try:
            for ke in list(w.kept):
                w.check_kept(ke)
        finally:
            resume(was)
    return Action("re-read the kept events", run)


OPS = [op_new_ring, op_new_writer, op_new_reader, op_add, op_add, op_add_batch, op_claim,
       op_claim_enter, op_claim_write, op_claim_length, op_claim_publish, op_claim_abort,
       op_claim_view, op_release_view, op_next, op_next, op_next_batch, op_iterate, op_close,
       op_drop, op_look, op_gc, op_threshold, op_finalizer, op_check_kept, op_edit_batch]


def decode_action(inp, depth=0):
    return OPS[inp.below(len(OPS))](inp, depth)


def decode(data):
    inp = Input(data)
    threshold = 1 + inp.below(100)
    steps = []
    while not inp.done and len(steps) < MAX_STEPS:
        steps.append(decode_action(inp))
    return threshold, steps


# ---- running one input ---------------------------------------------------------------

WORLD = None


def run_one(data):
    """Run one input; raises Finding (or lets an unexpected exception out) on a finding."""
    global WORLD
    threshold, steps = decode(data)
    gc.collect()
    baseline = len(rr._core._live_rings())
    old = gc.get_threshold()
    world = WORLD = World()
    world.populate()
    unraisable = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    gc.set_threshold(threshold, 1, 1)
    # The collector runs only inside the operations: what they leave for it
    # (a finalizer in a cycle) is then collected inside the next one, at its
    # first allocation, which is often the binding's own.
    gc.disable()
    try:
        for n, step in enumerate(steps):
            error = None
            gc.enable()
            try:
                step.run(world)
            except BaseException as e:  # noqa: BLE001 - sorted below, with the collector off
                error = e
            gc.disable()
            if isinstance(error, Finding):
                raise Finding(f"step {n}: {step!r}: {error}") from None
            if error is not None and not isinstance(error, accepted()):
                raise Finding(f"step {n}: {step!r} raised {type(error).__name__}: {error}") from error
            error = None
            world.check()
            if unraisable:
                u = unraisable[0]
                raise Finding(f"step {n}: unraisable {u.exc_type.__name__}: {u.exc_value} in {u.object!r}")
    finally:
        gc.enable()
        gc.set_threshold(*old)
        sys.unraisablehook = old_hook
        WORLD = None
        world.__dict__.clear()
        del world
        gc.collect()
    left = len(rr._core._live_rings()) - baseline
    if left:
        raise Finding(f"{left} rings still alive after every handle was dropped")


def describe(data):
    threshold, steps = decode(data)
    print(f"gc threshold {threshold}")
    for n, step in enumerate(steps):
        print(f"{n:3}: {step!r}")


def fuzz_target(data):
    run_one(data)


def settle():
    """Move everything imported so far out of the collector's way: the low
    thresholds make it run often, and a full collection then sees only the
    objects of the input being run."""
    gc.collect()
    gc.freeze()


def main(argv):
    global rr
    if argv[1:2] in (["--replay"], ["--describe"]):
        import rusted_ring
        rr = rusted_ring
        settle()
        for path in argv[2:]:
            with open(path, "rb") as f:
                data = f.read()
            if argv[1] == "--describe":
                describe(data)
            else:
                run_one(data)
                print(f"{path}: no finding")
        return
    import atheris
    with atheris.instrument_imports(include=["rusted_ring"]):
        import rusted_ring
    rr = rusted_ring
    atheris.Setup(argv, fuzz_target)
    settle()
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
