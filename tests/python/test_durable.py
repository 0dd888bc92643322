"""Durable readers, Ring.drop_reader, Ring.instance and Writer.note_lost.

A durable reader's place (its released position, its name, what it follows and
what follows it) outlives the Reader and its process: close() and the
process's death park it, the writer stays held back by it, and the next
durable reader of its name resumes where it had released. Payloads carry their
sequence and a checksum; cross-process waits are on conditions with deadlines.
"""
import gc
import os
import signal
import struct
import sys
import time
import uuid
import zlib

import pytest

import rusted_ring as rr

LIMIT = 60.0


def unique():
    return f"durable-{uuid.uuid4().hex[:10]}"


def payload(seq):
    body = struct.pack("<Q", seq)
    return body + struct.pack("<I", zlib.crc32(body))


def seq_of(ev):
    data = bytes(ev.data)
    seq, crc = struct.unpack("<QI", data[:12])
    assert zlib.crc32(data[:8]) == crc, "a torn payload"
    assert seq == ev.sequence
    return seq


def entry(ring, name):
    return next((e for e in ring.stats()["readers"] if e["name"] == name), None)


def wait_until(cond, what):
    deadline = time.monotonic() + LIMIT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def test_a_closed_durable_reader_is_parked_and_resumed_at_its_released_position():
    ring = rr.Ring(16, 8)
    w = ring.writer()
    r = ring.reader(name="bridge", durable=True)
    assert r.durable is True and ring.reader().durable is False
    for i in range(6):
        w.add(payload(i))
    assert [seq_of(ev) for ev in r.next_batch(3)] == [0, 1, 2]
    assert [seq_of(ev) for ev in r.next_batch(2)] == [3, 4]   # 0..2 released, 3 and 4 not
    r.close()
    assert r.durable is True                                   # kept after the close
    e = entry(ring, "bridge")
    assert (e["durable"], e["parked"], e["alive"], e["pid"], e["cursor"]) == (True, True, False, 0, 3)
    for i in range(6, 11):                                     # it still holds the writer back
        w.add(payload(i))
    with pytest.raises(rr.RingFull):
        w.add(payload(11), timeout=0)
    r = ring.reader("latest", name="bridge", durable=True)    # start is ignored on resume
    assert r.cursor == 3
    assert [seq_of(ev) for ev in r.next_batch(100)] == list(range(3, 11))
    r.close()
    ring.drop_reader("bridge")
    assert entry(ring, "bridge") is None
    w.add(payload(11), timeout=0)


def test_events_and_blocks_let_go_of_after_close_do_not_move_a_durable_readers_place():
    # close() is the moment that counts: what was not released by then comes
    # again, even if the program drops the blocks and events it kept afterwards
    # (their holds keep the slots until then, and then go back to nobody)
    ring = rr.Ring(16, 32)
    w = ring.writer()
    for i in range(20):
        w.add(payload(i))
    r = ring.reader(name="d", durable=True)
    done = r.next_block(5)            # 0..4, released before the close
    done.release()
    kept = r.next_block(5)            # 5..9, still referenced at the close
    ev = r.next()                     # 10, kept too
    r.close()
    assert r.closed and ring.stats()["reader_count"] == 1   # pinned until they go
    del kept, ev
    gc.collect()
    assert ring.stats()["readers"][0]["parked"]
    resumed = ring.reader(name="d", durable=True)
    assert [seq_of(e) for e in resumed.next_batch(100)] == list(range(5, 20))
    # a plain reader's held events still release as they go
    plain = ring.reader()
    block = plain.next_block(4)
    plain.close()
    del block
    gc.collect()
    assert ring.stats()["reader_count"] == 1


def test_a_parked_reader_drains_a_closed_ring_and_a_new_durable_name_is_refused_there():
    ring = rr.Ring(16, 8)
    w = ring.writer()
    r = ring.reader(name="consumer", durable=True)
    for i in range(5):
        w.add(payload(i))
    assert seq_of(r.next()) == 0                 # took 0, then parked
    r.close()
    ring.close()
    with pytest.raises(rr.RingClosed):
        ring.reader(name="another", durable=True)
    r = ring.reader(name="consumer", durable=True)
    assert [seq_of(ev) for ev in r] == [0, 1, 2, 3, 4]   # then the end
    r.close()
    assert entry(ring, "consumer")["parked"]
    ring.drop_reader("consumer")


def test_durable_reader_errors_name_what_was_wrong():
    ring = rr.Ring(16, 8)
    w = ring.writer()
    with pytest.raises(ValueError, match="a durable reader needs a name"):
        ring.reader(durable=True)
    with pytest.raises(TypeError, match="durable"):
        ring.reader(name="x", durable=1)
    ring.reader(name="parked", durable=True).close()
    with pytest.raises(ValueError, match="'parked' is a parked durable reader.*durable set to "
                                         "resume.*drop"):
        ring.reader(name="parked")
    plain = ring.reader(name="plain")
    with pytest.raises(ValueError, match="already has a reader named 'plain'"):
        ring.reader(name="plain", durable=True)
    live = ring.reader(name="parked", durable=True)
    with pytest.raises(ValueError, match="already has a reader named 'parked'"):
        ring.reader(name="parked", durable=True)
    with pytest.raises(rr.RingError, match="'parked' is held by a live handle"):
        ring.drop_reader("parked")
    with pytest.raises(ValueError, match="no reader named 'nobody'"):
        ring.drop_reader("nobody")
    with pytest.raises(ValueError, match="'plain' is not durable"):
        ring.drop_reader("plain")
    with pytest.raises(ValueError, match="name: .*31 bytes"):
        ring.drop_reader("x" * 40)
    with pytest.raises(ValueError, match="NUL"):
        ring.drop_reader("a\0b")
    with pytest.raises(TypeError, match="name must be a str"):
        ring.drop_reader(7)
    with pytest.raises(TypeError):
        ring.drop_reader()
    live.close()
    plain.close()
    ring.drop_reader("parked")
    ring.reader(name="parked").close()   # the name is free again
    w.add(b"still usable")


def test_note_lost_counts_upstream_losses_and_refuses_bad_values_clearly():
    ring = rr.Ring(16, 4)
    w = ring.writer()
    assert ring.stats()["upstream_lost"] == 0
    w.note_lost(0)
    w.note_lost(5)
    w.note_lost(n=2)

    class Index:
        def __index__(self):
            return 3

    w.note_lost(Index())
    assert ring.stats()["upstream_lost"] == 10
    for bad, exc, text in ((-1, ValueError, "must not be negative"), (2**63, ValueError, "at most"),
                           (2**64, ValueError, "at most"),
                           (1.5, TypeError, "must be an int"), (True, TypeError, "must be an int"),
                           ("3", TypeError, "must be an int"), (None, TypeError, "must be an int")):
        with pytest.raises(exc, match=text):
            w.note_lost(bad)
    w.note_lost(2**63 - 12)                      # up to 2**63 - 1, like every count
    assert ring.stats()["upstream_lost"] == 2**63 - 2
    w.note_lost(2**63 - 1)                       # stops at 2**63 - 1, the top Lua shares
    assert ring.stats()["upstream_lost"] == 2**63 - 1
    w.note_lost(1)
    assert ring.stats()["upstream_lost"] == 2**63 - 1
    w.close()
    with pytest.raises(rr.RingClosed):
        w.note_lost(1)


def test_note_lost_converts_its_argument_before_it_looks_at_the_writer():
    ring = rr.Ring(16, 4)
    w = ring.writer()

    class ClosesTheWriter:
        def __index__(self):
            w.close()
            return 1

    with pytest.raises(rr.RingClosed):
        w.note_lost(ClosesTheWriter())
    assert ring.stats()["upstream_lost"] == 0
    ring.writer().add(b"usable")


def test_the_instance_is_random_nonzero_below_2_63_and_shared_by_every_handle():
    a, b = rr.Ring(16, 4), rr.Ring(16, 4)
    assert 0 < a.instance < 2**63 and a.instance != b.instance
    assert a.stats()["instance"] == a.instance
    name = unique()
    ring = rr.Ring.create_shared(name, 16, 4)
    try:
        again = rr.Ring.open_shared(name)
        assert again.instance == ring.instance
        first = ring.instance
        rr.Ring.unlink_shared(name)
        ring = rr.Ring.create_shared(name, 16, 4)
        assert ring.instance != first
    finally:
        rr.Ring.unlink_shared(name)


def test_snapshots_prometheus_and_the_cli_show_durable_parked_and_upstream_lost():
    from prometheus_client import CollectorRegistry, generate_latest

    from rusted_ring.__main__ import ring_report, ring_table
    from rusted_ring.prometheus import RingCollector
    from rusted_ring.snapshots import snapshot

    ring = rr.Ring(16, 8, name=unique())
    w = ring.writer()
    w.note_lost(4)
    ring.reader(name="bridge", durable=True).close()
    rows = snapshot([ring])
    assert len(rows) == 1
    row = rows[0]
    assert (row["durable"], row["parked"], row["readers_parked"], row["upstream_lost"]) == \
        (True, True, 1, 4)
    assert row["instance"] == ring.instance
    registry = CollectorRegistry()
    registry.register(RingCollector([ring]))
    text = generate_latest(registry).decode()
    assert f'rusted_ring_upstream_lost_total{{ring="{ring.name}"}} 4.0' in text
    assert f'rusted_ring_readers_parked{{ring="{ring.name}"}} 1.0' in text
    table = ring_table(ring_report(ring))
    assert "upstream lost 4" in table
    row_line = next(line for line in table.splitlines() if "bridge" in line)
    assert "parked" in row_line.split() and row_line.split()[-1] == "yes"
    ring.drop_reader("bridge")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_durable_reader_killed_in_another_process_is_resumed_with_what_it_had_not_released():
    name = unique()
    ring = rr.Ring.create_shared(name, 16, 8)
    try:
        w = ring.writer()
        for i in range(6):
            w.add(payload(i))
        pid = os.fork()
        if pid == 0:   # takes 0..3 in one call (none released) and dies without closing
            try:
                child = rr.Ring.open_shared(name)
                r = child.reader(name="bridge", durable=True)
                evs = r.next_batch(4)
                assert [seq_of(ev) for ev in evs] == [0, 1, 2, 3]
                os.kill(os.getpid(), signal.SIGSTOP)
            finally:
                os._exit(3)
        wait_until(lambda: (entry(ring, "bridge") or {}).get("cursor") == 4, "the child's read")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        r = ring.reader(name="bridge", durable=True)   # parks the dead one, resumes it
        assert r.cursor == 0
        assert [seq_of(ev) for ev in r.next_batch(100)] == [0, 1, 2, 3, 4, 5]
        assert ring.stats()["readers_evicted"] == 0
        r.close()
        ring.drop_reader("bridge")
    finally:
        rr.Ring.unlink_shared(name)
