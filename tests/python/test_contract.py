"""One contract with the Lua binding, taken from the C core.

- Timeouts: 0 never waits, > 0 waits up to that long (at least that long),
  inf waits without limit, a negative number or NaN is a ValueError with the
  core's message; None is the call's documented default (for next(): wait
  without limit). tests/interop/test_contract.py runs the same table in Lua.
- Stats: the keys of Ring.stats() and of each reader entry are the core's
  field lists, in order; Lua's ring:stats() builds its table from the same lists.
- Pressure: the thresholds and health bands are the core's, and agree at every
  edge; a reader's own methods and the stats use the same figure.
- Pinned slots: a backpressure reader that keeps events keeps their slots from
  the writer, and every pressure figure says so.
"""
import math
import time
import uuid

import pytest

import rusted_ring as rr
from rusted_ring import _core
from rusted_ring.__main__ import ring_report, ring_table
from rusted_ring.snapshots import READER_FIELDS, THROTTLE, UNDER_PRESSURE, snapshot

LIMIT = 60  # seconds; only a broken build waits this long


def unique():
    return f"contract-{uuid.uuid4().hex[:10]}"


# ---- timeouts -------------------------------------------------------------------------------

TIMEOUT_ERRORS = [
    (-1, "timeout must be >= 0 seconds, got -1 "),
    (-0.001, "timeout must be >= 0 seconds, got -0.001 "),
    (-math.inf, "timeout must be >= 0 seconds, got -inf "),
    (-10**400, "timeout must be >= 0 seconds, got -1.79769e+308 "),
    (math.nan, "timeout must be a number of seconds, not NaN "),
]


@pytest.mark.parametrize("bad, message", TIMEOUT_ERRORS)
def test_a_negative_or_nan_timeout_is_a_value_error_with_the_cores_message(bad, message):
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    for call in (lambda: r.next(timeout=bad), lambda: r.next_batch(2, timeout=bad),
                 lambda: r.events(timeout=bad), lambda: w.add(b"x", timeout=bad),
                 lambda: w.add_batch([b"x"], timeout=bad), lambda: w.claim(timeout=bad)):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value).startswith(message)
        assert "(0: don't wait, inf: wait without limit)" in str(info.value)
    assert ring.published == 0 and w.add(b"ok") == 0       # nothing half done


@pytest.mark.parametrize("zero", [0, 0.0, -0.0])
def test_zero_and_negative_zero_never_wait(zero):
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    assert r.next(timeout=zero) is None
    w.add(b"a")
    with pytest.raises(rr.RingFull):
        w.add(b"b", timeout=zero)
    assert bytes(r.next(timeout=zero)) == b"a"


@pytest.mark.parametrize("timeout", [0.001, 1e-9, 5e-324])
def test_a_positive_timeout_waits_at_least_that_long(timeout):
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    t0 = time.monotonic()
    assert r.next(timeout=timeout) is None
    assert time.monotonic() - t0 >= timeout
    w.add(b"a")
    t0 = time.monotonic()
    with pytest.raises(rr.RingFull, match="within"):       # it waited: "within ... s"
        w.add(b"b", timeout=timeout)
    assert time.monotonic() - t0 >= timeout


@pytest.mark.parametrize("forever", [math.inf, None, 10**400, 1e300])
def test_infinity_none_and_huge_timeouts_are_accepted_as_long_waits(forever):
    ring = rr.Ring(8, 2)
    w, r = ring.writer(), ring.reader()
    w.add(b"x", timeout=forever)                         # room: returns at once
    assert bytes(r.next(timeout=forever)) == b"x"        # an event: returns at once


def test_none_means_the_documented_default_of_each_call():
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    assert r.next() is None                               # next: default 0, never waits
    assert r.next_batch(4) == []
    ring.close()
    assert r.next(timeout=None) is None                   # None: until an event or the close


# ---- one wait, one stall ----------------------------------------------------------------------

def test_a_wait_in_many_slices_counts_one_writer_stall():
    # The binding waits in slices of 50 ms (to run signal handlers); the core
    # counts the logical wait once, through the rr_wait each slice passes on.
    ring = rr.Ring(8, 1)
    w, r = ring.writer(), ring.reader()
    w.add(b"a")
    with pytest.raises(rr.RingFull):
        w.add(b"b", timeout=0.16)                         # at least 4 slices
    assert ring.stats()["writer_stalls"] == 1
    with pytest.raises(rr.RingFull):
        w.add_batch([b"b"], timeout=0.11)
    assert ring.stats()["writer_stalls"] == 2
    with pytest.raises(rr.RingFull):
        with w.claim(timeout=0.11):
            pass
    assert ring.stats()["writer_stalls"] == 3
    assert not w.try_add(b"b")
    assert ring.stats()["writer_stalls"] == 4
    assert r is not None


# ---- stats keys ------------------------------------------------------------------------------

def test_stats_keys_are_the_cores_field_lists_in_order():
    ring = rr.Ring(8, 4)
    r = ring.reader()
    s = ring.stats()
    assert tuple(s) == _core.RING_STATS_FIELDS
    assert _core.RING_STATS_FIELDS[0] == "name" and _core.RING_STATS_FIELDS[-1] == "readers"
    [entry] = s["readers"]
    assert tuple(entry) == _core.READER_STATS_FIELDS
    assert "pinned" in _core.READER_STATS_FIELDS
    assert s["name"] == "" and r.pinned == 0


def test_the_name_in_stats_is_the_label_or_the_segment_name():
    assert rr.Ring(8, 4, name="journal").stats()["name"] == "journal"
    name = unique()
    shared = rr.Ring.create_shared(name, 8, 4)
    try:
        assert shared.stats()["name"] == f"/{name}"
    finally:
        rr.Ring.unlink_shared(name)


def test_snapshot_rows_carry_every_reader_field_of_the_core():
    names = {"index": "reader", "pid": "reader_pid", "alive": "reader_alive", "name": "reader_name"}
    assert [names.get(f, f) for f in _core.READER_STATS_FIELDS] == \
        [f for f in READER_FIELDS if f not in ("under_pressure", "should_throttle")]


# ---- thresholds and health bands -----------------------------------------------------------------

def test_thresholds_come_from_the_core():
    assert (_core.PRESSURE_THRESHOLD, _core.THROTTLE_THRESHOLD, _core.HEALTH_GOOD_FROM) == (0.8, 0.9, 0.5)
    assert (UNDER_PRESSURE, THROTTLE) == (0.8, 0.9)
    assert _core.HEALTH_NAMES == tuple(h.name for h in rr.SystemHealth)


@pytest.mark.parametrize("ratio, under, throttle, health", [
    (0.0, False, False, "EXCELLENT"), (math.nextafter(0.5, 0), False, False, "EXCELLENT"),
    (0.5, False, False, "GOOD"), (0.8, False, False, "GOOD"),
    (math.nextafter(0.8, 1), True, False, "WARNING"), (math.nextafter(0.9, 0), True, False, "WARNING"),
    (0.9, True, True, "CRITICAL"), (1.0, True, True, "CRITICAL"),
    (math.nan, True, True, "CRITICAL"),               # no figure to trust: the worst, in all three
])
def test_pressure_and_health_agree_at_every_edge(ratio, under, throttle, health):
    assert (_core.is_under_pressure(ratio), _core.should_throttle(ratio)) == (under, throttle)
    assert _core.health_of(ratio) == health
    assert rr.SystemHealth.from_backpressure(ratio) is rr.SystemHealth[health]
    assert rr.PressureLevel.of(ratio) is (rr.PressureLevel.THROTTLE if throttle else
                                          rr.PressureLevel.UNDER_PRESSURE if under else
                                          rr.PressureLevel.NORMAL)


@pytest.mark.parametrize("behind, under, throttle, health", [
    (5, False, False, "GOOD"), (8, False, False, "GOOD"), (9, True, True, "CRITICAL"),
])
def test_a_reader_at_exactly_a_threshold_agrees_with_its_stats(behind, under, throttle, health):
    ring = rr.Ring(8, 10)
    w, r = ring.writer(), ring.reader()
    for _ in range(behind):
        w.add(b"x")
    [entry] = ring.stats()["readers"]
    assert entry["backpressure"] == r.backpressure_ratio() == behind / 10
    assert (r.is_under_pressure(), r.should_throttle()) == (under, throttle)
    [row] = snapshot([ring])
    assert (row["under_pressure"], row["should_throttle"], row["health"]) == (under, throttle, health)


# ---- pinned slots -------------------------------------------------------------------------------

def test_a_reader_keeping_the_whole_ring_shows_pinned_full_pressure_and_critical_health():
    # The scenario: a 4-slot ring whose 4 events its reader keeps. The
    # writer finds it full; stats, snapshots and health used to say lag 0,
    # backpressure 0.0 and EXCELLENT.
    ring = rr.Ring(16, 4, name=unique())
    w, r = ring.writer(), ring.reader()
    for i in range(4):
        w.add(b"%d" % i)
    kept = [r.next() for _ in range(4)]
    with pytest.raises(rr.RingFull):
        w.add(b"no room", timeout=0)
    assert r.next() is None                               # moved on: the kept Events stay pinned
    assert (r.lag, r.pinned, r.backpressure_ratio()) == (0, 4, 1.0)
    assert r.is_under_pressure() and r.should_throttle()

    stats = ring.stats()
    [entry] = stats["readers"]
    assert (entry["lag"], entry["pinned"], entry["backpressure"]) == (0, 4, 1.0)
    assert stats["max_backpressure"] == 1.0 and stats["writer_stalls"] == 1
    assert rr.SystemHealth.from_backpressure(stats["max_backpressure"]) is rr.SystemHealth.CRITICAL
    assert rr.health_check([rr.PoolStats(rr.PoolId.XS, 4, 16, 0, 4, 1, stats["max_backpressure"])]) \
        is rr.SystemHealth.CRITICAL

    [row] = snapshot([ring])
    assert (row["lag"], row["pinned"], row["backpressure"], row["health"]) == (0, 4, 1.0, "CRITICAL")
    assert row["should_throttle"] is True

    report = ring_report(ring)
    assert report["health"] == "CRITICAL" and report["readers"][0]["level"] == "THROTTLE"
    assert "PINNED" in ring_table(report)

    del kept                                              # let them go: the slots come back
    assert (r.lag, r.pinned, r.backpressure_ratio()) == (0, 0, 0.0)
    assert w.add(b"room", timeout=0) == 4


def test_an_event_kept_from_an_earlier_call_stays_pinned_after_the_reader_moves_on():
    ring = rr.Ring(16, 10)
    w, r = ring.writer(), ring.reader()
    for i in range(6):
        w.add(b"%d" % i)
    first = r.next()
    for _ in range(3):
        r.next()
    # events 1 and 2 were let go; the reader keeps event 0 (held) and event 3 (its last)
    assert (r.cursor, r.lag, r.pinned) == (4, 2, 4)      # [0, 4) cannot be reused yet
    assert r.backpressure_ratio() == ring.stats()["readers"][0]["backpressure"] == 0.6
    del first
    assert (r.lag, r.pinned, r.backpressure_ratio()) == (2, 1, 0.3)


def test_overwrite_readers_pin_nothing():
    ring = rr.Ring(16, 4, mode="overwrite")
    w, r = ring.writer(), ring.reader()
    for i in range(4):
        w.add(b"%d" % i)
    kept = [r.next() for _ in range(4)]
    assert (r.pinned, r.backpressure_ratio()) == (0, 0.0)
    assert ring.stats()["readers"][0]["pinned"] == 0
    assert len(kept) == 4 and w.add(b"x", timeout=0) == 4
