"""Pipelines in one ring: named readers, readers that follow readers (after=),
writable stages, and their names in stats, snapshots, alerts and metrics.

The gating tests are the Disruptor's pipeline and diamond shapes in threads:
every event carries its sequence and a CRC of it, each stage stamps its own
mark into the event (a writable reader) and checks that the marks of every
stage it follows are already there, and that no later stage's mark is. A
follower handed an event too early finds a mark missing and fails.
"""
import struct
import threading
import uuid
import zlib

import pytest

import rusted_ring as rr
from payloads import Workers, scaled, wait_until

LIMIT = 120.0
HEAD = struct.Struct("<QI")           # sequence, CRC-32 of its 8 bytes
SLOT = 32
MARKS = HEAD.size                     # stage k's mark at MARKS + k


def unique():
    return f"pipe-{uuid.uuid4().hex[:10]}"


def event(seq):
    return HEAD.pack(seq, zlib.crc32(struct.pack("<Q", seq))) + bytes(SLOT - HEAD.size)


def mark(stage, seq):
    """What stage `stage` stamps into event `seq`: never 0, different for each stage and event."""
    return (seq * 7 + stage * 31) % 255 + 1


def check(ev, expect):
    """The event's sequence, after checking its CRC and that stages `expect` (stage: stamped?)
    have (or have not) left their marks."""
    seq, crc = HEAD.unpack_from(ev)
    assert seq == ev.sequence, f"event {ev.sequence} carries sequence {seq}"
    assert crc == zlib.crc32(struct.pack("<Q", seq)), f"event {seq}: bad checksum"
    data = memoryview(ev)
    for stage, stamped in expect.items():
        want = mark(stage, seq) if stamped else 0
        assert data[MARKS + stage] == want, \
            f"event {seq}: stage {stage}'s mark is {data[MARKS + stage]}, wanted {want}"
    return seq


def stage(reader, number, follows, ahead, seen):
    """A handler that checks the marks of the stages it `follows` (there) and of those
    `ahead` of it (not yet), stamps its own (a writable reader), and records the sequence."""
    expect = {**{s: True for s in follows}, **{s: False for s in ahead}}

    def handle(ev, end):
        seq = check(ev, expect)
        if reader.writable:
            ev.data[MARKS + number] = mark(number, seq)
        seen.append(seq)
    return handle


def run_stages(ring, stages, n):
    """Write n events while each (reader, handler) processes in its own thread; wait for all."""
    workers = Workers()
    for reader, handler in stages:
        workers.start(reader.process, handler, on_error=ring.close, name=reader.name)
    w = ring.writer()
    for i in range(0, n, 64):
        w.add_batch([event(s) for s in range(i, min(i + 64, n))], timeout=LIMIT)
    ring.close()
    workers.join(LIMIT)


# ---- names ----------------------------------------------------------------------------------

def test_a_named_reader_has_its_name_everywhere():
    ring = rr.Ring(SLOT, 8)
    journal, plain = ring.reader(name="journal"), ring.reader()
    assert journal.name == "journal" and plain.name is None
    assert repr(journal).startswith("<rusted_ring.Reader name='journal' cursor=0")
    assert [e["name"] for e in ring.stats()["readers"]] == ["journal", ""]
    journal.close()
    assert journal.name == "journal"                   # kept after the close
    assert [e["name"] for e in ring.stats()["readers"]] == [""]
    assert ring.reader(name="journal").name == "journal"   # free again


def test_a_name_of_31_bytes_of_utf8_is_the_longest():
    ring = rr.Ring(SLOT, 8)
    assert ring.reader(name="é" * 15 + "x").name == "é" * 15 + "x"     # 31 bytes
    with pytest.raises(ValueError, match="name"):
        ring.reader(name="é" * 16)                                  # 32 bytes
    with pytest.raises(ValueError, match="name"):
        ring.reader(name="x" * 32)


def test_an_empty_name_is_no_name_as_in_the_core():
    ring = rr.Ring(SLOT, 8)
    a, b = ring.reader(name=""), ring.reader(name=None)
    assert a.name is None and b.name is None
    assert [e["name"] for e in ring.stats()["readers"]] == ["", ""]


@pytest.mark.parametrize("bad, exc", [("a\0b", ValueError), ("\udc80", ValueError),
                                      (b"journal", TypeError), (3, TypeError)])
def test_a_bad_name_is_refused_and_the_ring_stays_usable(bad, exc):
    ring = rr.Ring(SLOT, 8)
    with pytest.raises(exc):
        ring.reader(name=bad)
    assert ring.stats()["reader_count"] == 0
    r = ring.reader(name="ok")
    ring.writer().add(b"x")
    assert bytes(r.next()) == b"x"


def test_a_duplicate_name_is_refused_naming_it():
    ring = rr.Ring(SLOT, 8)
    journal = ring.reader(name="journal")
    with pytest.raises(ValueError, match="journal"):
        ring.reader(name="journal")
    assert ring.stats()["reader_count"] == 1


# ---- after ----------------------------------------------------------------------------------

def test_after_by_reader_or_by_name_and_what_a_follower_reports():
    ring = rr.Ring(SLOT, 8)
    a, b, anon = ring.reader(name="a"), ring.reader(name="b"), ring.reader()
    c = ring.reader(name="c", after=[a, "b", anon])
    assert c.after == ("a", "b", anon_index(ring, anon))
    assert a.after == () and not c.writable
    entry = {e["name"]: e for e in ring.stats()["readers"]}["c"]
    assert entry["after"] == sum(1 << e["index"] for e in ring.stats()["readers"] if e["name"] != "c")


def anon_index(ring, reader):
    names = [e for e in ring.stats()["readers"] if e["name"] == ""]
    assert len(names) == 1
    return names[0]["index"]


@pytest.mark.parametrize("after, exc, words", [
    (["nobody"], ValueError, "nobody"),
    ("a", TypeError, "list or tuple"),
    ([3], TypeError, "after\\[0\\] must be a Reader or a str"),
    (["a", None], TypeError, "after\\[1\\]"),
    (["x" * 40], ValueError, "after\\[0\\]"),
])
def test_bad_after_is_refused_clearly(after, exc, words):
    ring = rr.Ring(SLOT, 8)
    a = ring.reader(name="a")
    with pytest.raises(exc, match=words):
        ring.reader(after=after)
    assert ring.stats()["reader_count"] == 1 and a.name == "a"


def test_a_reader_cannot_follow_itself_a_closed_reader_or_another_rings():
    ring, other = rr.Ring(SLOT, 8), rr.Ring(SLOT, 8)
    with pytest.raises(ValueError, match="itself"):
        ring.reader(name="me", after=["me"])
    gone = ring.reader(name="gone")
    gone.close()
    with pytest.raises(ValueError, match="closed"):
        ring.reader(after=[gone])
    with pytest.raises(ValueError):
        ring.reader(after=[other.reader()])
    assert ring.stats()["reader_count"] == 0


def test_after_and_writable_are_refused_on_an_overwrite_ring():
    ring = rr.Ring(SLOT, 8, mode="overwrite")
    a = ring.reader(name="a")
    with pytest.raises(ValueError, match="overwrite"):
        ring.reader(after=[a])
    with pytest.raises(ValueError, match="overwrite"):
        ring.reader(writable=True)
    with pytest.raises(TypeError, match="writable must be a bool"):
        ring.reader(writable=1)


def test_two_writable_readers_that_could_hold_one_event_are_refused():
    ring = rr.Ring(SLOT, 8)
    first = ring.reader(name="first", writable=True)
    with pytest.raises(ValueError, match="writable"):
        ring.reader(name="second", writable=True)           # neither follows the other
    beside = ring.reader(name="reader")                      # a reader beside it is fine
    assert beside.after == ()
    then = ring.reader(name="then", after=[first], writable=True)
    assert then.writable and then.after == ("first",)
    with pytest.raises(ValueError, match="writable"):
        ring.reader(writable=True, after=["reader"])        # follows, but not the writers


def test_a_follower_sees_nothing_before_the_reader_it_follows_moves_past_it():
    ring = rr.Ring(SLOT, 8)
    lead = ring.reader(name="lead")
    follower = ring.reader(after=[lead])
    w = ring.writer()
    for i in range(3):
        w.add(event(i))
    assert follower.next() is None
    assert lead.next().sequence == 0
    assert follower.next() is None                           # still lead's
    assert lead.next().sequence == 1                         # moves past 0
    assert follower.next().sequence == 0
    assert follower.next() is None                           # 1 is still lead's


def test_an_event_the_followed_reader_keeps_holds_the_follower_back():
    ring = rr.Ring(SLOT, 8)
    lead = ring.reader(name="lead")
    follower = ring.reader(after=[lead])
    w = ring.writer()
    for i in range(4):
        w.add(event(i))
    kept = lead.next_batch(2)[1]                            # 1 kept, 0 let go
    assert len(lead.next_batch(4)) == 2
    assert [e.sequence for e in follower.next_batch(4)] == [0]
    del kept
    assert [e.sequence for e in follower.next_batch(4)] == [1]


# ---- writable events ---------------------------------------------------------------------

def test_a_writable_readers_events_are_writable_and_the_follower_reads_the_writes():
    ring = rr.Ring(SLOT, 8)
    stamp = ring.reader(name="stamp", writable=True)
    plain = ring.reader(name="plain")
    after = ring.reader(after=[stamp])
    ring.writer().add(event(0))
    ev = stamp.next()
    assert not ev.data.readonly
    ev.data[MARKS] = 99
    memoryview(ev)[MARKS + 1] = 98
    pev = plain.next()
    with pytest.raises(TypeError):
        pev.data[MARKS + 2] = 1                              # read-only memoryview
    with pytest.raises(TypeError, match="read-write"):
        struct.pack_into("B", pev, MARKS + 2, 1)            # asks for a writable buffer
    struct.pack_into("B", ev, MARKS + 2, 97)
    del ev                                                   # (kept, it would hold the follower back)
    stamp.next()                                             # moves on: the follower may see it
    fev = after.next()
    assert bytes(fev)[MARKS:MARKS + 3] == bytes([99, 98, 97])
    assert fev.data.readonly and pev.data.readonly


# ---- gating under load: the pipeline and diamond shapes ---------------------------------------

def test_a_three_stage_pipeline_in_threads_hands_every_event_to_each_stage_after_the_last():
    n = scaled(1_000_000)
    ring = rr.Ring(SLOT, 1024)
    s1 = ring.reader(name="unmarshal", writable=True)
    s2 = ring.reader(name="business", after=[s1], writable=True)
    s3 = ring.reader(name="publish", after=["business"])
    seen = [[], [], []]
    run_stages(ring, [(s1, stage(s1, 0, [], [1, 2], seen[0])),
                      (s2, stage(s2, 1, [0], [2], seen[1])),
                      (s3, stage(s3, 2, [0, 1], [2], seen[2]))], n)
    for k in range(3):
        assert len(seen[k]) == n and seen[k] == list(range(n)), f"stage {k}"


def test_a_diamond_two_stages_side_by_side_then_one_after_both():
    n = scaled(300_000)
    ring = rr.Ring(SLOT, 512)
    journal = ring.reader(name="journal", writable=True)
    replicate = ring.reader(name="replicate")
    business = ring.reader(name="business", after=["journal", replicate])
    seen = [[], [], []]
    run_stages(ring, [(journal, stage(journal, 0, [], [], seen[0])),
                      (replicate, stage(replicate, 1, [], [1], seen[1])),
                      (business, stage(business, 2, [0], [], seen[2]))], n)
    for k in range(3):
        assert seen[k] == list(range(n)), f"stage {k}"


def test_a_followed_reader_that_closes_mid_stream_hands_its_followers_to_what_it_followed():
    n = scaled(100_000)
    ring = rr.Ring(SLOT, 256)
    s1 = ring.reader(name="s1", writable=True)
    s2 = ring.reader(name="s2", after=[s1], writable=True)
    s3 = ring.reader(name="s3", after=[s2])
    seen = [[], [], []]
    stop_at = n // 3
    closed = threading.Event()
    h2 = stage(s2, 1, [0], [], seen[1])

    def s2_then_close(ev, end):
        h2(ev, end)
        if ev.sequence == stop_at:
            s2.close()
            closed.set()

    def s3_checks(ev, end):
        seq = check(ev, {0: True})
        if seq <= stop_at:
            check(ev, {1: True})                             # s2 handled it before closing
        seen[2].append(seq)

    run_stages(ring, [(s1, stage(s1, 0, [], [], seen[0])), (s2, s2_then_close), (s3, s3_checks)], n)
    assert closed.is_set() and seen[1] == list(range(stop_at + 1))
    assert seen[0] == list(range(n)) and seen[2] == list(range(n))
    assert s3.after == ("s1",)                              # it follows what s2 followed


def test_followers_of_a_closed_reader_that_followed_nobody_read_freely():
    ring = rr.Ring(SLOT, 8)
    lead = ring.reader(name="lead")
    follower = ring.reader(after=[lead])
    ring.writer().add(event(0))
    assert follower.next() is None
    lead.close()
    assert follower.after == () and follower.next().sequence == 0


# ---- names in stats, snapshots, alerts, metrics -----------------------------------------------

def test_snapshot_rows_carry_the_reader_name_and_what_it_follows():
    ring = rr.Ring(SLOT, 8, name=unique())
    a = ring.reader(name="a", writable=True)
    b = ring.reader(name="b", after=[a])
    rows = {r["reader_name"]: r for r in rr.snapshot([ring])}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["writable"] and not rows["b"]["writable"]
    assert rows["b"]["after"] == 1 << rows["a"]["reader"] and rows["a"]["after"] == 0


def test_a_monitor_alert_names_the_reader():
    ring = rr.Ring(SLOT, 10)
    r = ring.reader(name="slowpoke")
    w = ring.writer()
    for i in range(10):
        w.add(event(i))
    alerts = []
    with rr.Monitor([ring], interval=60, on_pressure=alerts.append, start=False) as mon:
        mon.sample()
    assert [a.reader_name for a in alerts] == ["slowpoke"]
    assert r.lag == 10


def test_prometheus_labels_each_reader_with_its_name():
    prometheus_client = pytest.importorskip("prometheus_client")
    from prometheus_client.core import CollectorRegistry
    from rusted_ring.prometheus import RingCollector

    ring = rr.Ring(SLOT, 8, name=unique())
    a = ring.reader(name="journal", writable=True)
    b = ring.reader(name="business", after=[a])
    registry = CollectorRegistry()
    registry.register(RingCollector([ring]))
    text = prometheus_client.generate_latest(registry).decode()
    assert 'rusted_ring_reader_lag_events{reader="0",reader_name="journal",ring=' in text
    info = [line for line in text.splitlines()
            if line.startswith("rusted_ring_reader_info") and 'reader_name="business"' in line]
    assert len(info) == 1 and 'after="journal"' in info[0] and 'writable="false"' in info[0]


def test_the_stats_command_shows_names_and_followers():
    from rusted_ring.__main__ import ring_report, ring_table

    ring = rr.Ring(SLOT, 8, name="pipeline")
    readers = [ring.reader(name="journal", writable=True)]
    readers.append(ring.reader(name="business", after=readers[:1]))
    readers.append(ring.reader(after=["business"]))
    table = ring_table(ring_report(ring))
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("READER"))
    assert "NAME" in header and "AFTER" in header and "WRITES" in header
    business = next(line for line in lines if " business " in line)
    assert "journal" in business
    last = lines[-1]
    assert " - " in last and "business" in last               # unnamed, follows business


def test_reader_repr_and_after_survive_a_waiting_thread():
    ring = rr.Ring(SLOT, 8)
    lead = ring.reader(name="lead")
    follower = ring.reader(name="f", after=[lead])
    workers = Workers()
    got = []
    workers.start(lambda: got.append(follower.next(timeout=LIMIT)))
    wait_until(lambda: ring.stats()["readers"][1]["lag"] >= 0, LIMIT, "the follower to wait")
    assert follower.after == ("lead",) and follower.name == "f"
    ring.writer().add(event(0))
    lead.next()
    lead.next(timeout=0)                                      # moves past 0
    workers.join(LIMIT)
    assert got[0].sequence == 0
