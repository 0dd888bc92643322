"""Rings in shared memory: made and opened by name, used from several handles and processes.

Every test makes its own segment names (a uuid each) through the `shm` fixture,
which unlinks them afterwards whatever happened. Children are started with
multiprocessing ("spawn" and "fork") and open the ring by name; they report
through multiprocessing queues and events. Waits are on conditions with
generous limits, never on sleeps; LIMIT is only reached when something is broken.

The foreign-segment tests write files into /dev/shm directly. To damage one
header field at a time they read the header as csrc/layout.h lays it out
(`rr_geometry`), and first check that reading against a real ring, so a change
of layout fails them loudly instead of making them test nothing.
"""
import errno
import fcntl
import gc
import multiprocessing
import os
import random
import signal
import stat
import struct
import threading
import time
import uuid
import weakref

import pytest

import rusted_ring as rr
from fresh import run_fresh
from payloads import Payloads, decode, wait_until

LIMIT = 30.0
SHM_DIR = "/dev/shm"
START_METHODS = ["spawn", "fork"]

pytestmark = pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs POSIX shared memory in /dev/shm")


@pytest.fixture
def shm():
    """shm() -> a fresh segment name, unlinked when the test ends."""
    names = []

    def new():
        name = f"rr-test-{uuid.uuid4().hex}"
        names.append(name)
        return name

    yield new
    for name in names:
        try:
            rr.Ring.unlink_shared(name)
        except FileNotFoundError:
            pass


def seg_path(name):
    return os.path.join(SHM_DIR, name.lstrip("/"))


def assert_round_trip(writer_ring, reader_ring, payload=b"round trip", event_type=9):
    """A payload written through one handle is the next thing a new reader on the other sees."""
    r = reader_ring.reader("latest")
    w = writer_ring.writer()
    try:
        seq = w.add(payload, event_type, timeout=LIMIT)
        ev = r.next(timeout=LIMIT)
        assert ev is not None, "nothing arrived through the other handle"
        assert (ev.sequence, ev.event_type, bytes(ev)) == (seq, event_type, payload)
        del ev
    finally:
        w.close()
        r.close()


def assert_process_still_works(shm):
    """After a refusal: a new shared ring works end to end."""
    name = shm()
    ring = rr.Ring.create_shared(name, 64, 8)
    assert_round_trip(ring, rr.Ring.open_shared(name))


def start(method, target, *args):
    ctx = multiprocessing.get_context(method)
    p = ctx.Process(target=target, args=args, daemon=True)
    p.start()
    return p


def finish(p):
    """Join a child that should end by itself, and require that it succeeded."""
    p.join(LIMIT)
    if p.is_alive():
        p.kill()
        p.join(LIMIT)
        raise AssertionError(f"child {p.pid} still running after {LIMIT} s")
    assert p.exitcode == 0, f"child {p.pid} failed with exit code {p.exitcode} (its traceback is in stderr)"


def kill(p):
    os.kill(p.pid, signal.SIGKILL)
    p.join(LIMIT)
    assert p.exitcode == -signal.SIGKILL


def ctx_of(method):
    return multiprocessing.get_context(method)


# ---- children (module level, so that "spawn" can import them) ---------------------------------

def child_read_checked(name, n, ready, results):
    """Register a reader, then read n self-checking payloads in order and report."""
    ring = rr.Ring.open_shared(name)
    with ring.reader() as r:
        ready.set()
        for i in range(n):
            ev = r.next(timeout=LIMIT)
            assert ev is not None, f"event {i} did not arrive"
            assert decode(ev) == (1, i) and ev.sequence == i and ev.event_type == i % 7
        results.put(("read", n, os.getpid()))


def child_write_checked(name, n, go):
    """Write n self-checking payloads once told to."""
    ring = rr.Ring.open_shared(name)
    payloads = Payloads(2, ring.slot_size)
    with ring.writer() as w:
        assert go.wait(LIMIT)
        for i in range(n):
            assert w.add(payloads.make(i), i % 5, timeout=LIMIT) == i


def child_add_when_told(name, go, payload):
    ring = rr.Ring.open_shared(name)
    with ring.writer() as w:
        assert go.wait(LIMIT)
        w.add(payload, 4, timeout=LIMIT)


def child_iterate_until_closed(name, ready, results):
    """Iterate events() until the stream ends; report how many and how it ended."""
    ring = rr.Ring.open_shared(name)
    with ring.reader() as r:
        ready.set()
        began = time.monotonic()
        got = [bytes(ev) for ev in r.events(timeout=LIMIT)]
        results.put((got, ring.closed, time.monotonic() - began))


def child_read_some_and_wait(name, k, results, release):
    """Read k events, report this process's view of the stats, keep the reader until released."""
    ring = rr.Ring.open_shared(name)
    r = ring.reader()
    for _ in range(k):
        assert r.next(timeout=LIMIT) is not None
    results.put((os.getpid(), ring.stats()))
    assert release.wait(LIMIT)
    r.close()


def child_reader_then_hang(name, ready, never):
    """Register a reader at the oldest event and sit on it until killed."""
    ring = rr.Ring.open_shared(name)
    r = ring.reader()
    ready.set()
    never.wait(LIMIT)
    r.close()


def child_writer_then_hang(name, n, ready, never):
    """Take the single-producer writer, publish n events and sit on the writer until killed."""
    ring = rr.Ring.open_shared(name)
    w = ring.writer()
    for i in range(n):
        w.add(b"from the doomed writer %d" % i)
    ready.set()
    never.wait(LIMIT)
    w.close()


# ---- create, open, unlink -----------------------------------------------------------------------

@pytest.mark.parametrize("producers", ["single", "multi"])
@pytest.mark.parametrize("mode", ["backpressure", "overwrite"])
def test_create_open_unlink_round_trip(shm, mode, producers):
    name = shm()
    made = rr.Ring.create_shared(name, 48, 16, mode=mode, producers=producers)
    opened = rr.Ring.open_shared(name)
    for ring in (made, opened):
        assert (ring.slot_size, ring.capacity, ring.mode, ring.producers) == (48, 16, mode, producers)
        assert ring.shared is True and ring.name == "/" + name and not ring.closed
        assert ring.memory_bytes == made.memory_bytes >= 48 * 16
        assert "shared" in repr(ring) and name in repr(ring)
    assert os.path.exists(seg_path(name))
    assert_round_trip(made, opened)
    assert_round_trip(opened, made, b"the other way", 3)
    assert made.published == opened.published == 2

    rr.Ring.unlink_shared(name)
    assert not os.path.exists(seg_path(name))
    with pytest.raises(FileNotFoundError):
        rr.Ring.open_shared(name)
    assert_round_trip(made, opened, b"still mapped after unlink", 1)


def test_leading_slash_names_the_same_ring(shm):
    name = shm()
    made = rr.Ring.create_shared("/" + name, 16, 4)
    assert made.name == "/" + name
    assert_round_trip(made, rr.Ring.open_shared(name))
    with pytest.raises(FileExistsError):
        rr.Ring.create_shared(name, 16, 4)
    rr.Ring.unlink_shared("/" + name)
    with pytest.raises(FileNotFoundError):
        rr.Ring.unlink_shared(name)


def test_arguments_may_come_by_keyword(shm):
    name = shm()
    made = rr.Ring.create_shared(name=name, slot_size=8, capacity=2, mode="overwrite", producers="multi",
                                 permissions=0o600)
    assert (made.mode, made.producers) == ("overwrite", "multi")
    assert rr.Ring.open_shared(name=name).capacity == 2
    rr.Ring.unlink_shared(name=name)
    assert not os.path.exists(seg_path(name))


def test_shared_ring_validates_its_configuration_like_ring(shm):
    name = shm()
    for args, kwargs, exc in [((0, 8), {}, ValueError), ((8, 0), {}, ValueError),
                              ((rr.MAX_SLOT_SIZE + 1, 1), {}, ValueError),
                              ((8, 8), {"mode": "fast"}, ValueError),
                              ((8, 8), {"producers": 2}, TypeError),
                              ((8, 8), {"colour": "red"}, TypeError)]:
        with pytest.raises(exc):
            rr.Ring.create_shared(name, *args, **kwargs)
        assert not os.path.exists(seg_path(name)), "a refused ring left its segment behind"
    with pytest.raises(TypeError):
        rr.Ring.create_shared(name, 8)


def test_open_missing_name_raises_file_not_found(shm):
    name = shm()
    for call in (rr.Ring.open_shared, rr.Ring.unlink_shared):
        with pytest.raises(FileNotFoundError) as info:
            call(name)
        e = info.value
        assert e.errno == errno.ENOENT and e.filename == name and name in str(e)
        assert isinstance(e, rr.SharedMemoryNotFound)
        assert isinstance(e, rr.SharedMemoryError) and isinstance(e, rr.RingError)


def test_create_taken_name_raises_file_exists_and_leaves_the_ring_alone(shm):
    name = shm()
    first = rr.Ring.create_shared(name, 32, 4)
    first.writer().add(b"first")
    with pytest.raises(FileExistsError) as info:
        rr.Ring.create_shared(name, 64, 8, mode="overwrite")
    e = info.value
    assert e.errno == errno.EEXIST and e.filename == name and name in str(e)
    assert isinstance(e, rr.SharedMemoryExists) and isinstance(e, rr.SharedMemoryError)
    again = rr.Ring.open_shared(name)
    assert (again.slot_size, again.capacity, again.mode, again.published) == (32, 4, "backpressure", 1)


def test_a_name_taken_by_a_foreign_file_is_not_overwritten(shm):
    name = shm()
    with open(seg_path(name), "wb") as f:
        f.write(b"someone else's data")
    with pytest.raises(FileExistsError):
        rr.Ring.create_shared(name, 8, 8)
    with open(seg_path(name), "rb") as f:
        assert f.read() == b"someone else's data"


def test_dropping_every_handle_never_unlinks_the_segment(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 4)
    with ring.writer() as w:
        w.add(b"kept", 2)
    gone = weakref.ref(ring)
    del ring, w
    gc.collect()
    assert gone() is None
    assert os.path.exists(seg_path(name))
    again = rr.Ring.open_shared(name)
    assert again.published == 1
    ev = again.reader("oldest").next()
    assert ev is not None and bytes(ev) == b"kept" and ev.event_type == 2


def test_close_through_one_handle_ends_the_stream_for_every_handle(shm):
    name = shm()
    a = rr.Ring.create_shared(name, 16, 4)
    b = rr.Ring.open_shared(name)
    r = b.reader()
    a.writer().add(b"last")
    a.close()
    assert b.closed and a.closed
    with pytest.raises(rr.RingClosed):
        b.writer()
    assert bytes(r.next(timeout=LIMIT)) == b"last"
    assert r.next(timeout=LIMIT) is None            # drained and closed: no wait
    assert rr.Ring.open_shared(name).closed


def test_with_block_closes_the_shared_ring(shm):
    name = shm()
    with rr.Ring.create_shared(name, 16, 4) as ring:
        assert not ring.closed
    assert rr.Ring.open_shared(name).closed


# ---- names and permissions --------------------------------------------------------------------

@pytest.mark.parametrize("bad, rule", [
    ("", "empty"),
    ("/", "empty"),
    ("a/b", "'/'"),
    ("x" * 300, "longer than 200"),
    ("x" * 201, "longer than 200"),
    (".", "cannot be"),
    ("..", "cannot be"),
    ("two words", "printable ASCII"),
    ("caf\u00e9", "printable ASCII"),
    ("tab\there", "printable ASCII"),
    ("nul\0byte", "NUL"),
])
def test_bad_names_raise_value_error_naming_the_rule(bad, rule):
    for call in (lambda: rr.Ring.create_shared(bad, 8, 8), lambda: rr.Ring.open_shared(bad),
                 lambda: rr.Ring.unlink_shared(bad)):
        with pytest.raises(ValueError, match=rule):
            call()


@pytest.mark.parametrize("bad", [None, 42, b"bytes-name", bytearray(b"x"), ["x"]])
def test_names_must_be_str(bad):
    for call in (lambda: rr.Ring.create_shared(bad, 8, 8), lambda: rr.Ring.open_shared(bad),
                 lambda: rr.Ring.unlink_shared(bad)):
        with pytest.raises(TypeError, match="name must be a str"):
            call()


def test_a_name_of_200_characters_is_accepted(shm):
    name = shm()
    long_name = (name + "-" + "n" * 200)[:200]
    try:
        ring = rr.Ring.create_shared(long_name, 16, 2)
        assert ring.name == "/" + long_name
        assert_round_trip(ring, rr.Ring.open_shared("/" + long_name))
    finally:
        rr.Ring.unlink_shared(long_name)


def mode_bits(name):
    return stat.S_IMODE(os.stat(seg_path(name)).st_mode)


def test_default_permissions_are_owner_only(shm):
    name = shm()
    rr.Ring.create_shared(name, 8, 2)
    assert mode_bits(name) == 0o600


@pytest.mark.parametrize("perm", [0o640, 0o644, 0o660, 0o400, 0o777])
def test_permissions_are_applied_exactly_whatever_the_umask(shm, perm):
    name = shm()
    old = os.umask(0o077)
    try:
        rr.Ring.create_shared(name, 8, 2, permissions=perm)
    finally:
        os.umask(old)
    assert mode_bits(name) == perm


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (0o1000, ValueError), (2**70, ValueError),
                                      ("0600", TypeError), (0o600 + 0.0, TypeError), (True, TypeError),
                                      (None, TypeError)])
def test_bad_permissions_are_refused_before_anything_is_created(shm, bad, exc):
    name = shm()
    with pytest.raises(exc, match="permissions"):
        rr.Ring.create_shared(name, 8, 2, permissions=bad)
    assert not os.path.exists(seg_path(name))


# ---- foreign and damaged segments --------------------------------------------------------------

# rr_geometry, the first bytes of every ring (csrc/layout.h): magic, version,
# header_bytes, total_bytes, capacity, slot_size, slot_stride, mode, producers,
# max_readers, reserved, readers_off, meta_off, payload_off, checksum (FNV-1a
# of every byte before it).
GEOMETRY = struct.Struct("<QIIQQIIIIIIQQQQ")
FIELDS = ("magic version header_bytes total_bytes capacity slot_size slot_stride mode producers "
          "max_readers reserved readers_off meta_off payload_off checksum").split()


def fnv1a(data):
    h = 14695981039346656037
    for byte in data:
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def header_of(blob):
    return dict(zip(FIELDS, GEOMETRY.unpack_from(blob)))


def with_header(blob, fix_checksum=True, **changes):
    """blob with header fields changed (and the checksum made to match them again)."""
    g = header_of(blob)
    g.update(changes)
    packed = bytearray(GEOMETRY.pack(*(g[f] for f in FIELDS)))
    if fix_checksum:
        packed[-8:] = struct.pack("<Q", fnv1a(packed[:-8]))
    return bytes(packed) + blob[GEOMETRY.size:]


@pytest.fixture
def good_ring_bytes(shm):
    """The bytes of a real ring (capacity 8, slot 40, backpressure) with two events in it."""
    name = shm()
    ring = rr.Ring.create_shared(name, 40, 8)
    with ring.writer() as w:
        w.add(b"one")
        w.add(b"two")
    with open(seg_path(name), "rb") as f:
        blob = f.read()
    g = header_of(blob)
    # The reading of the layout above must hold, or the damage below misses its field.
    assert (g["capacity"], g["slot_size"], g["total_bytes"], g["mode"]) == (8, 40, len(blob), 0), g
    assert g["checksum"] == fnv1a(blob[:GEOMETRY.size - 8]), "checksum is not FNV-1a of the fields"
    assert with_header(blob) == blob
    return blob


def grow_capacity(blob, factor=4):
    """A self-consistent header (offsets, total, checksum) for a ring `factor` times larger."""
    g = header_of(blob)
    cap = g["capacity"] * factor
    # slots of at most 48 bytes carry their 16 bytes of metadata beside the payload
    meta_bytes = 0 if g["slot_size"] <= 48 else -(-cap * 16 // 64) * 64
    payload_off = g["meta_off"] + meta_bytes
    return with_header(blob, capacity=cap, payload_off=payload_off,
                       total_bytes=payload_off + cap * g["slot_stride"])


DAMAGE = {
    "random bytes": (lambda good: random.Random(7).randbytes(len(good)), "magic"),
    "empty file": (lambda good: b"", "not a ring"),
    "zero bytes": (lambda good: bytes(len(good)), "magic|not a ring"),
    "header only, cut short": (lambda good: good[:GEOMETRY.size], "not a ring"),
    "truncated to half": (lambda good: good[:len(good) // 2], "needs"),
    "one byte short": (lambda good: good[:-1], "needs"),
    "magic byte flipped": (lambda good: bytes([good[0] ^ 0x40]) + good[1:], "magic"),
    "version changed": (lambda good: with_header(good, version=header_of(good)["version"] + 1), "version"),
    "version changed, checksum stale": (lambda good: with_header(good, fix_checksum=False, version=99),
                                        "version"),
    "capacity enlarged beyond the segment": (grow_capacity, "needs"),
    "capacity changed, checksum stale": (lambda good: with_header(good, fix_checksum=False, capacity=9),
                                         "checksum"),
    "checksum broken": (lambda good: with_header(good, fix_checksum=False,
                                                 checksum=header_of(good)["checksum"] ^ 1), "checksum"),
    "offsets inconsistent": (lambda good: with_header(good, payload_off=header_of(good)["payload_off"] + 64),
                             "inconsistent"),
    "unknown mode": (lambda good: with_header(good, mode=7), "inconsistent"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_foreign_or_damaged_segments_are_refused_with_shared_memory_error(shm, good_ring_bytes, damage):
    make, why = DAMAGE[damage]
    name = shm()
    with open(seg_path(name), "wb") as f:
        f.write(make(good_ring_bytes))
    with pytest.raises(rr.SharedMemoryError, match=why) as info:
        rr.Ring.open_shared(name)
    assert type(info.value) is rr.SharedMemoryError   # neither "not found" nor "exists"
    assert name in str(info.value)
    assert os.path.exists(seg_path(name)), "a refused segment must be left where it is"
    assert_process_still_works(shm)


def test_an_undamaged_copy_of_a_ring_opens(shm, good_ring_bytes):
    """The control for the damage cases: the same bytes, undamaged, are a working ring."""
    name = shm()
    with open(seg_path(name), "wb") as f:
        f.write(good_ring_bytes)
    ring = rr.Ring.open_shared(name)
    assert (ring.capacity, ring.slot_size, ring.published) == (8, 40, 2)
    assert [bytes(ev) for ev in ring.reader("oldest")] == [b"one", b"two"]


# ---- handles in one process ---------------------------------------------------------------------

def test_stats_report_shared_and_name(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 4)
    w, r = ring.writer(), rr.Ring.open_shared(name).reader()
    w.add(b"x")
    s = ring.stats()
    assert s["shared"] is True and s["name"] == "/" + name
    assert (s["writer_pid"], s["writer_processes"], s["writer_alive"], s["writers"]) == (os.getpid(), 1, True, 1)
    assert s["readers_evicted"] == 0 and s["reader_count"] == 1
    (entry,) = s["readers"]
    assert (entry["pid"], entry["alive"], entry["cursor"], entry["lag"]) == (os.getpid(), True, 0, 1)
    del r


def test_in_process_rings_are_not_shared_and_take_an_optional_label():
    plain = rr.Ring(8, 2)
    assert plain.shared is False and plain.name is None
    s = plain.stats()
    assert s["shared"] is False and s["name"] == "" and s["readers_evicted"] == 0
    assert s["writer_pid"] == 0 and s["writer_alive"] is False and s["writer_processes"] == 0
    w = plain.writer()
    s = plain.stats()
    assert (s["writer_pid"], s["writer_processes"], s["writer_alive"]) == (os.getpid(), 1, True)
    w.close()
    labelled = rr.Ring(8, 2, name="strokes")
    assert labelled.name == "strokes" and labelled.stats()["name"] == "strokes"
    assert "name='strokes'" in repr(labelled) and "shared" not in repr(labelled)
    assert rr.Ring(8, 2, name=None).name is None
    with pytest.raises(TypeError, match="name must be a str"):
        rr.Ring(8, 2, name=b"strokes")
    with pytest.raises(AttributeError):
        labelled.name = "other"
    with pytest.raises(AttributeError):
        labelled.shared = True


def test_a_reader_waiting_on_a_shared_ring_is_woken_by_another_handle(shm):
    name = shm()
    w = rr.Ring.create_shared(name, 16, 4).writer()
    r = rr.Ring.open_shared(name).reader()
    got = []
    t = threading.Thread(target=lambda: got.append(r.next(timeout=LIMIT)))
    t.start()
    wait_until(lambda: reader_waits(r), LIMIT, "the reader to wait")
    w.add(b"wake", 1)
    t.join(LIMIT)
    assert not t.is_alive() and bytes(got[0]) == b"wake"


def test_a_wait_on_a_shared_ring_runs_signal_handlers(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 4)
    r = ring.reader()

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        start = time.monotonic()
        with pytest.raises(Interrupted):
            r.next(timeout=None)
        assert time.monotonic() - start < LIMIT
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    ring.writer().add(b"after")
    assert bytes(r.next(timeout=LIMIT)) == b"after"


def reader_waits(r):
    """True while another thread waits inside r (its getters refuse meanwhile)."""
    try:
        r.lag
    except RuntimeError:
        return True
    return False


# ---- other processes ------------------------------------------------------------------------------

@pytest.mark.parametrize("method", START_METHODS)
def test_events_written_here_are_read_by_another_process(shm, method):
    name = shm()
    n = 500
    ring = rr.Ring.create_shared(name, 96, 16)          # far fewer slots than events: the child gates us
    ctx = ctx_of(method)
    ready, results = ctx.Event(), ctx.Queue()
    p = start(method, child_read_checked, name, n, ready, results)
    assert ready.wait(LIMIT), "the child did not register its reader"
    payloads = Payloads(1, 96)
    with ring.writer() as w:
        for i in range(n):
            assert w.add(payloads.make(i), i % 7, timeout=LIMIT) == i
    assert results.get(timeout=LIMIT) == ("read", n, p.pid)
    finish(p)
    wait_until(lambda: ring.stats()["reader_count"] == 0, LIMIT, "the child's reader to go")


@pytest.mark.parametrize("method", START_METHODS)
def test_events_written_by_another_process_are_read_here(shm, method):
    name = shm()
    n = 500
    ring = rr.Ring.create_shared(name, 80, 16, producers="multi")
    r = ring.reader()
    go = ctx_of(method).Event()
    p = start(method, child_write_checked, name, n, go)
    go.set()
    for i in range(n):
        ev = r.next(timeout=LIMIT)
        assert ev is not None, f"event {i} did not arrive"
        assert decode(ev) == (2, i) and ev.sequence == i and ev.event_type == i % 5
    finish(p)
    assert ring.published == n and r.next() is None


def test_a_blocked_next_is_woken_by_an_add_in_another_process(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 4)
    r = ring.reader()
    go = ctx_of("spawn").Event()
    p = start("spawn", child_add_when_told, name, go, b"from afar")
    got = []
    t = threading.Thread(target=lambda: got.append(r.next(timeout=LIMIT)))
    t.start()
    wait_until(lambda: reader_waits(r), LIMIT, "the reader to wait")
    start_wait = time.monotonic()
    go.set()
    t.join(LIMIT)
    assert not t.is_alive()
    assert got[0] is not None and (bytes(got[0]), got[0].event_type) == (b"from afar", 4)
    assert time.monotonic() - start_wait < LIMIT / 2
    finish(p)


@pytest.mark.parametrize("method", START_METHODS)
def test_close_in_one_process_ends_events_iteration_in_another(shm, method):
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 8)
    ctx = ctx_of(method)
    ready, results = ctx.Event(), ctx.Queue()
    p = start(method, child_iterate_until_closed, name, ready, results)
    assert ready.wait(LIMIT)
    sent = [b"event %d" % i for i in range(20)]
    with ring.writer() as w:
        for payload in sent:
            w.add(payload, timeout=LIMIT)
    ring.close()
    got, closed, elapsed = results.get(timeout=LIMIT)
    assert got == sent and closed is True
    assert elapsed < LIMIT / 2, "events() ended by its timeout, not by the close"
    finish(p)


@pytest.mark.parametrize("method", START_METHODS)
def test_stats_are_the_same_seen_from_another_process(shm, method):
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 8)
    w = ring.writer()
    for i in range(6):
        w.add(b"e%d" % i)
    ctx = ctx_of(method)
    results, release = ctx.Queue(), ctx.Event()
    p = start(method, child_read_some_and_wait, name, 4, results, release)
    child_pid, theirs = results.get(timeout=LIMIT)
    mine = ring.stats()
    for s in (mine, theirs):
        assert (s["shared"], s["name"], s["published"], s["reader_count"]) == (True, "/" + name, 6, 1)
        assert (s["writer_pid"], s["writer_alive"], s["writers"]) == (os.getpid(), True, 1)
        (entry,) = s["readers"]
        assert (entry["pid"], entry["alive"], entry["cursor"], entry["lag"]) == (child_pid, True, 4, 2)
    release.set()
    finish(p)
    wait_until(lambda: ring.stats()["reader_count"] == 0, LIMIT, "the child's reader to close")
    assert ring.stats()["readers_evicted"] == 0, "a reader that closed itself is not evicted"


def test_a_killed_reader_stops_gating_a_backpressure_writer(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 8)
    ctx = ctx_of("spawn")
    ready, never = ctx.Event(), ctx.Event()
    p = start("spawn", child_reader_then_hang, name, ready, never)
    assert ready.wait(LIMIT)
    w = ring.writer()
    for i in range(8):
        w.add(b"fill %d" % i, timeout=LIMIT)
    assert w.try_add(b"no room") is False             # the child's reader gates us
    (entry,) = ring.stats()["readers"]
    assert (entry["pid"], entry["alive"]) == (p.pid, True)

    kill(p)
    s = ring.stats()
    assert [(e["pid"], e["alive"]) for e in s["readers"]] == [(p.pid, False)]
    start_add = time.monotonic()
    w.add(b"after the kill", timeout=10)
    assert time.monotonic() - start_add < 5
    s = ring.stats()
    assert (s["readers_evicted"], s["reader_count"], s["published"]) == (1, 0, 9)
    for i in range(20):                               # nobody gates the writer any more
        w.add(b"more %d" % i, timeout=LIMIT)


def test_a_killed_writer_is_seen_dead_and_its_place_can_be_taken(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 8)
    r = ring.reader()
    ctx = ctx_of("spawn")
    ready, never = ctx.Event(), ctx.Event()
    p = start("spawn", child_writer_then_hang, name, 3, ready, never)
    assert ready.wait(LIMIT)
    got = [bytes(r.next(timeout=LIMIT)) for _ in range(3)]
    assert got == [b"from the doomed writer %d" % i for i in range(3)]
    s = ring.stats()
    assert (s["writer_pid"], s["writer_alive"], s["writer_processes"]) == (p.pid, True, 1)
    with pytest.raises(rr.WriterBusy):
        ring.writer()

    kill(p)
    assert r.next(timeout=0.5) is None                # a timeout, as with any quiet ring
    s = ring.stats()
    assert (s["writer_alive"], s["writer_processes"], s["closed"]) == (False, 0, False)
    with ring.writer() as w:                          # the dead writer's place is free
        assert w.add(b"successor", timeout=LIMIT) == 3
    assert bytes(r.next(timeout=LIMIT)) == b"successor"


def test_pythons_resource_tracker_never_sees_our_segments(shm):
    """A child interpreter that opens a ring and exits leaves the segment in place.

    multiprocessing.shared_memory registers every segment a process attaches
    with that process's resource tracker, which unlinks it when the process
    exits. The control segment shows this harness catches that: the child
    attaches it with SharedMemory and it disappears. run_fresh returns only
    once the child's stderr is closed, so after any tracker it started.
    """
    name, control = shm(), shm()
    ring = rr.Ring.create_shared(name, 32, 4)
    with open(seg_path(control), "wb") as f:
        f.write(bytes(4096))
    run_fresh(f"""
        from multiprocessing import shared_memory
        ring = rr.Ring.open_shared({name!r})
        ring.writer().add(b"from the child", 8)
        shared_memory.SharedMemory(name={control!r}).close()
    """)
    assert not os.path.exists(seg_path(control)), "the control was not unlinked: the harness proves nothing"
    assert os.path.exists(seg_path(name))
    again = rr.Ring.open_shared(name)
    ev = again.reader("oldest").next()
    assert ev is not None and (bytes(ev), ev.event_type) == (b"from the child", 8)
    assert_round_trip(ring, again)


def test_a_forked_child_dropping_inherited_handles_leaves_the_parents_reader_registered(shm):
    """Handles a child inherits through fork belong to the parent: a child that
    closes them (or exits normally, deallocating them) must not unregister the
    parent's reader or give up the parent's writer."""
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 4)
    w, r = ring.writer(), ring.reader()
    pid = os.fork()
    if pid == 0:                                      # the child: close what it inherited
        try:
            r.close()
            w.close()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    s = ring.stats()
    assert [e["pid"] for e in s["readers"]] == [os.getpid()], "the child's close unregistered our reader"
    assert (s["writer_pid"], s["writers"]) == (os.getpid(), 1)
    for i in range(4):
        w.add(b"%d" % i)
    assert w.try_add(b"full") is False, "our reader no longer gates the writer"
    assert [bytes(ev) for ev in r] == [b"0", b"1", b"2", b"3"]


# ---- segments of other users, names left behind, rings still being created -----------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a segment to another user needs root")


@needs_root
def test_open_shared_refuses_another_users_segment_unless_allowed(shm):
    """Its owner could rewrite the ring or truncate it under us (SIGBUS): refused by
    default, naming the owner; opened only when the caller says so."""
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 4)
    ring.writer().add(b"theirs")
    os.chown(seg_path(name), 65534, 65534)
    with pytest.raises(PermissionError) as info:
        rr.Ring.open_shared(name)
    e = info.value
    assert isinstance(e, rr.SharedMemoryForeignOwner) and isinstance(e, rr.SharedMemoryError)
    assert e.errno == errno.EPERM and e.filename == name
    assert "belongs to user 65534 (nobody)" in str(e) and "allow_other_user" in str(e)
    with pytest.raises(rr.SharedMemoryForeignOwner):
        rr.Ring.create_shared(name, 32, 4, exist_ok=True)
    assert rr.Ring.open_shared(name, allow_other_user=True).published == 1
    assert rr.Ring.create_shared(name, 32, 4, exist_ok=True, allow_other_user=True).published == 1


def test_a_taken_name_says_how_to_remove_a_ring_left_by_a_crash(shm):
    name = shm()
    rr.Ring.create_shared(name, 32, 4)
    with pytest.raises(rr.SharedMemoryExists) as info:
        rr.Ring.create_shared(name, 32, 4)
    message = str(info.value)
    assert "exist_ok" in message and "crashed" in message
    assert f"python -m rusted_ring unlink {name}" in message and "unlink_shared" in message


def test_exist_ok_opens_a_ring_of_the_same_geometry_or_makes_one(shm):
    name = shm()
    made = rr.Ring.create_shared(name, 32, 4, mode="overwrite", producers="multi", exist_ok=True)
    made.writer().add(b"first")
    again = rr.Ring.create_shared(name, 32, 4, mode="overwrite", producers="multi", exist_ok=True)
    assert again.published == 1
    assert [bytes(ev) for ev in again.reader("oldest")] == [b"first"]


@pytest.mark.parametrize("other", [dict(slot_size=64), dict(capacity=8), dict(mode="overwrite"),
                                   dict(producers="multi")])
def test_exist_ok_refuses_a_ring_of_another_geometry_naming_both(shm, other):
    name = shm()
    rr.Ring.create_shared(name, 32, 4)
    asked = dict(dict(slot_size=32, capacity=4, mode="backpressure", producers="single"), **other)
    with pytest.raises(rr.SharedMemoryExists) as info:
        rr.Ring.create_shared(name, exist_ok=True, **asked)
    message = str(info.value)
    assert "slot_size=32, capacity=4, backpressure, single producer" in message
    assert (f"asked for slot_size={asked['slot_size']}, capacity={asked['capacity']}, "
            f"{asked['mode']}, {asked['producers']} producer") in message


FLOCK = struct.Struct("hhqqi4x")   # struct flock on Linux x86-64 / aarch64


def begin_creation(name, size):
    """Take the name and the creator's lock as create_shared does, and stop there."""
    fd = os.open(seg_path(name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
    os.ftruncate(fd, size)
    return fd


def finish_creation(fd, image):
    """Lay the bytes of a ring out, the magic last, and drop the lock."""
    os.pwrite(fd, bytes(8) + image[8:], 0)
    os.pwrite(fd, image[:8], 0)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, FLOCK.pack(fcntl.F_UNLCK, os.SEEK_SET, 0, 0, 0))
    os.close(fd)


def test_open_shared_waits_for_a_ring_still_being_created(shm, good_ring_bytes):
    """A ring another process is still laying out is waited for: not at all with
    timeout=0, up to `timeout` seconds, and by default for as long as it takes;
    it is never taken for a foreign segment."""
    name = shm()
    fd = begin_creation(name, len(good_ring_bytes))
    with pytest.raises(TimeoutError) as info:
        rr.Ring.open_shared(name, timeout=0)
    e = info.value
    assert isinstance(e, rr.SharedMemoryCreating) and isinstance(e, rr.SharedMemoryError)
    assert e.errno == errno.ETIMEDOUT and e.filename == name and "still being created" in str(e)
    began = time.monotonic()
    with pytest.raises(rr.SharedMemoryCreating):
        rr.Ring.open_shared(name, timeout=0.3)
    assert time.monotonic() - began >= 0.29
    got = []
    t = threading.Thread(target=lambda: got.append(rr.Ring.open_shared(name)))
    began = time.monotonic()
    t.start()
    # the opener is still waiting a second later (it used to give up after 200 ms)
    wait_until(lambda: not t.is_alive() or time.monotonic() - began > 1.0, LIMIT, "a second")
    assert t.is_alive(), "open_shared did not wait for the creation"
    finish_creation(fd, good_ring_bytes)
    t.join(LIMIT)
    assert not t.is_alive() and got[0].published == 2


def test_a_signal_handler_failing_at_the_end_of_a_wait_for_a_creation_leaves_its_message_alone(shm):
    """The wait gives up after a handler ran; the handler's own failing call must not
    replace the message of the last slice (which says the ring is still being made)."""
    name = shm()
    fd = begin_creation(name, 1 << 16)
    timeout = 0.1
    ran = []

    def handler(signum, frame):
        try:
            rr.Ring.open_shared(shm(), timeout=0)      # fails: no such ring
        except FileNotFoundError as e:
            ran.append(str(e))
        # Past the wait's deadline, so that no slice runs after this handler.
        time.sleep(max(0.0, began + timeout + 1.0 - time.monotonic()))

    old = signal.signal(signal.SIGALRM, handler)
    try:
        began = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, timeout / 4)
        with pytest.raises(rr.SharedMemoryCreating) as info:
            rr.Ring.open_shared(name, timeout=timeout)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        os.close(fd)
    assert len(ran) == 1
    e = info.value
    assert e.errno == errno.ETIMEDOUT and e.filename == name
    assert "still being created" in str(e) and ran[0] not in str(e)


def test_a_creation_whose_creator_died_is_not_waited_for(shm):
    name = shm()
    fd = begin_creation(name, 1 << 20)
    os.close(fd)                                      # the creator is gone, the lock with it
    began = time.monotonic()
    with pytest.raises(rr.SharedMemoryError, match="no process is creating it") as info:
        rr.Ring.open_shared(name)
    assert type(info.value) is rr.SharedMemoryError
    assert time.monotonic() - began < LIMIT / 2


@pytest.mark.parametrize("timeout", [-1, -0.5, float("nan"), float("-inf")])
def test_open_shared_refuses_a_negative_or_nan_timeout(shm, timeout):
    name = shm()
    rr.Ring.create_shared(name, 8, 2)
    with pytest.raises(ValueError, match="timeout"):
        rr.Ring.open_shared(name, timeout=timeout)


@pytest.mark.parametrize("timeout", [None, 0, 0.5, 3, float("inf")])
def test_open_shared_takes_a_timeout_in_seconds(shm, timeout):
    name = shm()
    rr.Ring.create_shared(name, 8, 2)
    assert rr.Ring.open_shared(name, timeout=timeout).capacity == 2


def test_open_shared_options_are_keyword_only(shm):
    name = shm()
    rr.Ring.create_shared(name, 8, 2)
    with pytest.raises(TypeError):
        rr.Ring.open_shared(name, 1.0)


# ---- handles a forked child inherits ---------------------------------------------------------------

def in_forked_child(body):
    """Run body() in a fork()ed child; return what it returned (through a pipe)."""
    import json
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            try:
                result = body()
            except BaseException as e:                # report, never run the parent's tests
                result = {"child failed": repr(e)}
            os.write(wfd, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(out)


def test_a_forked_child_using_inherited_handles_gets_forked_handle(shm):
    """A child publishing through its parent's single-producer writer would reuse the
    parent's next sequence, and one of the two events would be lost; reading through
    the parent's reader would move the parent's cursor. Each raises instead, naming the
    owner, and the parent's stream goes on whole."""
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 8)
    w, r = ring.writer(), ring.reader()
    w.add(b"0")
    assert bytes(r.next()) == b"0"
    parent = os.getpid()

    def child():
        calls = {
            "add": lambda: w.add(b"child"),
            "try_add": lambda: w.try_add(b"child"),
            "add_batch": lambda: w.add_batch([b"a", b"b"]),
            "claim": lambda: w.claim().__enter__(),
            "next": lambda: r.next(),
            "next_batch": lambda: r.next_batch(2),
            "iterate": lambda: list(r),
        }
        seen = {}
        for what, call in calls.items():
            try:
                call()
                seen[what] = "no error"
            except rr.ForkedHandle as e:
                seen[what] = [isinstance(e, rr.RingError), isinstance(e, RuntimeError), str(e)]
        w.close()                                     # closing what it inherited is fine
        r.close()
        with rr.Ring.open_shared(name).reader("oldest") as own:   # its own handles work
            seen["own reader"] = bytes(own.next())
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in seen.items()}

    seen = in_forked_child(child)
    own = seen.pop("own reader")
    assert own == "0", seen
    for what, got in seen.items():
        owner = "reader" if what in ("next", "next_batch", "iterate") else "writer"
        assert got == [True, True, f"this {owner} belongs to process {parent}; open your own in the child"], what
    assert [w.add(b"%d" % i) for i in (1, 2, 3)] == [1, 2, 3]
    assert [bytes(ev) for ev in r] == [b"1", b"2", b"3"]
    s = ring.stats()
    assert (s["writer_pid"], s["reader_count"], s["published"]) == (parent, 1, 4)


def test_a_forked_child_using_an_inherited_block_or_block_calls_gets_forked_handle(shm):
    """A Block inherited across fork() is the parent's: taking an Event from it
    (a hold on the parent's reader), the next block and the writer's block calls
    all raise ForkedHandle in the child; the parent's stream goes on whole."""
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 8)
    w, r = ring.writer(), ring.reader()
    for i in range(4):
        w.add(b"%d" % i)
    b = r.next_block(2)
    parent = os.getpid()

    def child():
        calls = {
            "b[0]": lambda: b[0],
            "next_block": lambda: r.next_block(2),
            "add_block": lambda: w.add_block(memoryview(bytearray(8)).cast("B", (2, 4))),
            "claim_block": lambda: w.claim_block(2).__enter__(),
        }
        seen = {}
        for what, call in calls.items():
            try:
                call()
                seen[what] = "no error"
            except rr.ForkedHandle as e:
                seen[what] = str(e)
        return seen

    seen = in_forked_child(child)
    for what, got in seen.items():
        owner = "writer" if what in ("add_block", "claim_block") else "reader"
        assert got == f"this {owner} belongs to process {parent}; open your own in the child", what
    assert [bytes(ev) for ev in b] == [b"0", b"1"]
    del b
    assert [bytes(ev) for ev in r] == [b"2", b"3"]
    assert w.add_block(memoryview(bytearray(8)).cast("B", (2, 4))) == 2 and ring.published == 6

def test_a_forked_child_cannot_finish_the_parents_open_claim(shm):
    """A claim open across fork() is the parent's to finish: a child leaving the
    `with w.claim()` block it inherited raises ForkedHandle and leaves the parent's
    event as the parent set it (length and type included)."""
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 8)
    w, r = ring.writer(), ring.reader()
    with w.claim(7) as slot:
        with memoryview(slot) as mv:
            mv[:14] = b"parent's event"
        slot.length = 14

        def child():
            slot.length, slot.event_type = 3, 99
            try:
                slot.__exit__(None, None, None)       # as leaving the block does
                return "no error"
            except rr.ForkedHandle as e:
                return str(e)

        assert "in the child" in in_forked_child(child)
    ev = r.next()
    assert (bytes(ev), ev.event_type) == (b"parent's event", 7)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "in-process"])
def test_a_forked_child_leaving_its_parents_with_block_leaves_the_ring_open(shm, shared):
    """A child that unwinds through its parent's `with` block (here by returning)
    must not end a shared ring's stream for every process; an in-process ring is
    the child's own copy, so the parent's stays open either way."""
    name = shm()
    parent = os.getpid()

    def block():
        with (rr.Ring.create_shared(name, 32, 8) if shared else rr.Ring(32, 8)) as ring:
            w = ring.writer()
            pid = os.fork()
            if pid == 0:
                return None                   # the child leaves the block: __exit__ runs
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            assert not ring.closed, "the child leaving the block closed the ring"
            assert w.add(b"after the child") == 0
            return ring, w

    try:
        out = block()
    except BaseException:
        if os.getpid() != parent:
            os._exit(1)
        raise
    if os.getpid() != parent:
        os._exit(0)
    ring, w = out
    assert ring.closed                        # the parent's own leaving closes it
    with pytest.raises(rr.RingClosed):
        w.add(b"after the block")


def test_a_forked_child_may_close_a_shared_ring_explicitly(shm):
    name = shm()
    ring = rr.Ring.create_shared(name, 32, 8)
    assert in_forked_child(lambda: ring.close()) is None
    assert ring.closed


def test_a_forked_child_goes_on_with_its_copy_of_an_in_process_ring_and_the_pools():
    """Rings only this process maps are the child's own copy after fork(): inherited
    handles keep working there, and the parent's ring does not change."""
    ring = rr.Ring(32, 8)
    w, r = ring.writer(), ring.reader()
    w.add(b"before")
    pool_writer = rr.EventPoolFactory.get_xs_writer()

    def child():
        w.add(b"in the child")
        pool_writer.add(b"pooled")
        return [bytes(ev).decode() for ev in r]

    assert in_forked_child(child) == ["before", "in the child"]
    assert ring.published == 1
    assert [bytes(ev) for ev in r] == [b"before"]


@pytest.mark.parametrize("use_first", [False, True], ids=["closed at once", "used, then closed"])
def test_a_forked_child_closing_an_in_process_rings_handles_frees_them_in_its_copy(use_first):
    """The child's copy of an in-process ring is its own, and so are the handles it
    inherited: closing the reader there stops it gating the child's writer, and closing
    the writer frees the single-producer role there. The parent's ring keeps both."""
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    w.add(b"before")

    def child():
        if use_first:
            w.add(b"in the child")
            r.next()
        r.close()
        readers = ring.stats()["reader_count"]
        added = [w.try_add(b"%d" % i) for i in range(8)]   # twice the capacity
        writer_pid = ring.stats()["writer_pid"]
        w.close()
        with ring.writer() as again:                      # the role is free in the copy
            again.add(b"again")
        return {"readers": readers, "added": added, "writer is the child": writer_pid == os.getpid()}

    assert in_forked_child(child) == {"readers": 0, "added": [True] * 8, "writer is the child": True}
    s = ring.stats()
    assert (s["reader_count"], s["writer_pid"], ring.published) == (1, os.getpid(), 1)
    with pytest.raises(rr.WriterBusy):
        ring.writer()
    assert [w.try_add(b"%d" % i) for i in range(4)] == [True, True, True, False]   # ours still gates


# ---- the registry of live rings (for monitoring) -------------------------------------------------

def test_live_rings_lists_every_ring_alive_and_keeps_none_alive(shm):
    name = shm()
    plain, labelled = rr.Ring(8, 2), rr.Ring(8, 2, name="label")
    made = rr.Ring.create_shared(name, 8, 2)
    opened = rr.Ring.open_shared(name)
    mine = [plain, labelled, made, opened]
    live = rr._core._live_rings()
    positions = [next(i for i, ring in enumerate(live) if ring is m) for m in mine]
    assert positions == sorted(positions), "oldest first"
    refs = [weakref.ref(ring) for ring in mine]
    del live, mine, plain, labelled, made, opened
    assert all(ref() is None for ref in refs), "the registry kept a ring alive"
    assert not any(ring.name in ("label", "/" + name) for ring in rr._core._live_rings())


def test_live_rings_leaves_out_the_default_pools():
    pool = rr._core.pool_ring(0)
    assert all(ring is not pool for ring in rr._core._live_rings())


def test_live_rings_drops_a_ring_before_its_weakref_callbacks_run():
    seen = []
    ring = rr.Ring(8, 2, name="dying")
    ref = weakref.ref(ring, lambda _: seen.append([r.name for r in rr._core._live_rings()]))
    del ring
    assert ref() is None and seen and "dying" not in seen[0]


def test_a_ring_kept_by_its_writer_stays_listed_until_the_writer_goes():
    w = rr.Ring(8, 2, name="kept by its writer").writer()
    assert any(ring.name == "kept by its writer" for ring in rr._core._live_rings())
    del w
    assert not any(ring.name == "kept by its writer" for ring in rr._core._live_rings())
