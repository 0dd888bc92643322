"""Pickling: a shared Ring travels by name; handles, events and claims refuse, saying
what to pass instead.

multiprocessing pickles a child's arguments when it starts the child with "spawn"
or "forkserver" (the default on Linux from Python 3.14): the tests hand children a
shared Ring as an argument. The children write self-checking payloads (producer,
sequence, CRC-32; tests/python/payloads.py) and the parent reads every one.
"""
import copy
import functools
import multiprocessing
import os
import pickle
import uuid

import pytest

import rusted_ring as rr
from payloads import Payloads, decode, scaled

LIMIT = 60.0     # seconds; generous, the machine may be busy
SHM_DIR = "/dev/shm"

pytestmark = pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs POSIX shared memory in /dev/shm")


@pytest.fixture
def shm():
    """shm() -> a fresh segment name, unlinked when the test ends."""
    names = []

    def new():
        name = f"rr-test-pickle-{uuid.uuid4().hex}"
        names.append(name)
        return name

    yield new
    for name in names:
        try:
            rr.Ring.unlink_shared(name)
        except FileNotFoundError:
            pass


# ---- children (module level, so that spawn and forkserver children can import them) ----

def child_write(ring, producer, n):
    """Open a writer on the Ring this child was handed and publish n self-checking payloads."""
    assert isinstance(ring, rr.Ring) and ring.shared
    payloads = Payloads(producer, ring.slot_size)
    with ring.writer() as w:
        for seq in range(n):
            w.add(payloads.make(seq), producer, timeout=LIMIT)


def child_report(ring, results):
    """Report what this child's handle says about the ring, and whose handle it is."""
    results.put((ring.name, ring.slot_size, ring.capacity, ring.mode, ring.producers,
                 ring.published, os.getpid()))


# ---- a shared Ring ------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_children_write_to_a_shared_ring_passed_as_an_argument(shm, method):
    ctx = multiprocessing.get_context(method)
    ring = rr.Ring.create_shared(shm(), 96, 64, producers="multi")
    n, producers = scaled(3000, 100), (1, 2, 3)
    with ring.reader() as r:             # before the children start: it sees every event
        children = [ctx.Process(target=child_write, args=(ring, p, n), daemon=True) for p in producers]
        for c in children:
            c.start()
        try:
            expected = dict.fromkeys(producers, 0)
            for i in range(n * len(producers)):
                ev = r.next(timeout=LIMIT)
                assert ev is not None, f"event {i} of {n * len(producers)} did not arrive"
                producer, seq = decode(ev)
                assert ev.event_type == producer and seq == expected[producer], \
                    f"producer {producer}: got {seq}, expected {expected[producer]}"
                expected[producer] += 1
            assert expected == dict.fromkeys(producers, n)
            assert r.next(timeout=0) is None
        finally:
            for c in children:
                c.join(LIMIT)
                if c.is_alive():
                    c.kill()
        assert [c.exitcode for c in children] == [0] * len(producers)
    assert ring.published == n * len(producers)
    # Each child opened a handle of its own; the writers they closed are gone.
    assert ring.stats()["writers"] == 0


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_child_sees_the_same_ring_through_its_own_handle(shm, method):
    ctx = multiprocessing.get_context(method)
    ring = rr.Ring.create_shared(shm(), 40, 8, mode="overwrite")
    with ring.writer() as w:
        w.add(b"before the child")
    results = ctx.Queue()
    child = ctx.Process(target=child_report, args=(ring, results))
    child.start()
    got = results.get(timeout=LIMIT)
    child.join(LIMIT)
    assert child.exitcode == 0
    assert got[:6] == (ring.name, 40, 8, "overwrite", "single", 1)
    assert got[6] == child.pid != os.getpid()


def test_a_shared_ring_pickles_by_name_and_loads_as_another_handle(shm):
    ring = rr.Ring.create_shared(shm(), 32, 4)
    fn, args = ring.__reduce__()
    assert fn == rr.Ring.open_shared and args == (ring.name,)
    copied = pickle.loads(pickle.dumps(ring))
    assert copied is not ring and copied.name == ring.name and copied.shared
    with ring.writer() as w, copied.reader("latest") as r:
        w.add(b"through the original", 5)
        ev = r.next(timeout=LIMIT)
        assert (bytes(ev), ev.event_type) == (b"through the original", 5)
        del ev
    assert copy.copy(ring).name == copy.deepcopy(ring).name == ring.name


def test_a_ring_opened_with_allow_other_user_is_opened_with_it_again(shm):
    name = shm()
    rr.Ring.create_shared(name, 32, 4)
    ring = rr.Ring.open_shared(name, allow_other_user=True)
    fn, args = ring.__reduce__()
    assert isinstance(fn, functools.partial) and args == ("/" + name,)
    assert fn.func == rr.Ring.open_shared and fn.keywords == {"allow_other_user": True}
    assert pickle.loads(pickle.dumps(ring)).name == ring.name
    made = rr.Ring.create_shared(name, 32, 4, exist_ok=True, allow_other_user=True)
    assert isinstance(made.__reduce__()[0], functools.partial)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a segment to another user needs root")
def test_another_users_ring_loads_only_if_the_sender_allowed_it(shm):
    name = shm()
    mine = rr.Ring.create_shared(name, 32, 4)
    mine.writer().add(b"theirs")
    plain = pickle.dumps(mine)
    os.chown(os.path.join(SHM_DIR, name), 65534, 65534)
    allowed = pickle.dumps(rr.Ring.open_shared(name, allow_other_user=True))
    assert pickle.loads(allowed).published == 1
    with pytest.raises(rr.SharedMemoryForeignOwner):
        pickle.loads(plain)


def test_a_ring_removed_before_it_is_loaded_is_not_found(shm):
    name = shm()
    data = pickle.dumps(rr.Ring.create_shared(name, 32, 4))
    rr.Ring.unlink_shared(name)
    with pytest.raises(rr.SharedMemoryNotFound):
        pickle.loads(data)


# ---- what refuses, and what it says to pass instead ---------------------------------------

def refusal(obj):
    with pytest.raises(TypeError) as info:
        pickle.dumps(obj)
    return str(info.value)


def test_a_private_ring_refuses_saying_to_create_it_shared():
    text = refusal(rr.Ring(32, 4, name="private"))
    assert text.startswith("cannot pickle a rusted_ring.Ring: this ring is not shared")
    assert "Ring.create_shared(name, ...)" in text


def test_a_default_pool_refuses_saying_each_process_has_its_own():
    text = refusal(rr.EventPoolFactory.get_ring(0))
    assert "default pools are each process's own" in text and "EventPoolFactory.get_ring(pool_id)" in text


@pytest.mark.parametrize("kind", ["writer", "reader"])
def test_handles_of_a_shared_ring_refuse_naming_the_ring_to_pass(shm, kind):
    ring = rr.Ring.create_shared(shm(), 32, 4)
    with getattr(ring, kind)() as handle:
        text = refusal(handle)
        assert text.startswith(f"cannot pickle a rusted_ring.{kind.capitalize()}: a {kind} "
                               "belongs to the process that opened it")
        assert f"or the ring's name {ring.name!r}" in text and f"call ring.{kind}() there" in text
        with pytest.raises(TypeError, match="belongs to the process that opened it"):
            copy.copy(handle)
        assert not handle.closed      # refusing leaves the handle as it was


@pytest.mark.parametrize("kind", ["writer", "reader"])
def test_handles_of_a_private_ring_refuse_saying_to_share_the_ring(kind):
    ring = rr.Ring(32, 4)
    text = refusal(getattr(ring, kind)())
    assert "its ring is not shared" in text and "Ring.create_shared(name, ...)" in text
    assert f"call ring.{kind}() there" in text


def test_handles_of_a_default_pool_refuse_naming_the_factory():
    assert "EventPoolFactory.get_writer(pool_id)" in refusal(rr.EventPoolFactory.get_writer(0))
    assert "EventPoolFactory.get_reader(pool_id)" in refusal(rr.EventPoolFactory.get_reader(0))


def test_events_blocks_and_claims_refuse_saying_to_pass_a_copy():
    ring = rr.Ring(32, 8)
    w, r = ring.writer(), ring.reader()
    w.add(b"one", 1)
    w.add(b"two", 2)
    ev = r.next()
    assert "pass a copy of its payload, bytes(event)" in refusal(ev)
    block = r.next_block(8)
    assert "block.as_array().copy()" in refusal(block)
    block.release()
    del ev, block
    with w.claim() as slot:
        assert "publish it, and pass the bytes" in refusal(slot)
        slot.length = 0
    with w.claim_block(2) as claim:
        assert "publish them, and pass the data" in refusal(claim)
    w.add(b"still works")                # the refusals changed nothing
    assert bytes(r.next_batch(8)[-1]) == b"still works"


def test_pooled_events_pickle_as_values():
    event = rr.PooledEvent(b"stroke", 7, size=128)
    assert pickle.loads(pickle.dumps(event)) == event
    auto = rr.EventUtils.create_auto_sized_event(b"x" * 100, 3)
    loaded = pickle.loads(pickle.dumps(auto))
    assert type(loaded) is rr.AutoSizedEvent and loaded == auto and loaded.pool_id == auto.pool_id
