"""Monitor, snapshot() and the weak registry of live rings.

Edge semantics under test (see rusted_ring/monitor.py): on_pressure fires when a
reader's level rises past 0.8 or 0.9, once per crossing; on_critical when the
health becomes CRITICAL. Most cases step a monitor by hand (start=False,
monitor.sample()) so that every sample is exactly where the test wants it;
the threaded cases wait on events with generous timeouts, never on sleeps.
"""
import gc
import logging
import os
import sys
import threading
import time
import uuid

import pytest

import rusted_ring as rr
from rusted_ring.snapshots import RECORD_FIELDS

from fresh import run_fresh  # noqa: E402

WAIT = 60  # seconds; only a broken monitor waits this long


def unique(prefix="mon"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def reader_index(ring, reader):
    """The reader-table entry of `reader`: the one stats row with its cursor."""
    [entry] = [e for e in ring.stats()["readers"] if e["cursor"] == reader.cursor]
    return entry["index"]


def drain(reader, n):
    for _ in range(n):
        assert reader.next() is not None


class Lagging:
    """A backpressure ring of 100 slots with a slow reader and a fast one."""

    def __init__(self, name=None):
        self.ring = rr.Ring(64, 100, name=name or unique())
        self.writer = self.ring.writer()
        self.slow = self.ring.reader()
        self.fast = self.ring.reader()

    def lag_to(self, lag):
        """Write until the slow reader is `lag` behind; the fast reader keeps up."""
        behind = self.ring.published - self.slow.cursor
        for _ in range(lag - behind):
            self.writer.add(b"event")
        drain(self.fast, self.ring.published - self.fast.cursor)
        assert self.slow.lag == lag and self.fast.lag == 0

    @property
    def slow_index(self):
        return reader_index(self.ring, self.slow)


class Recorder:
    """Callbacks that keep what they were given and can be waited on."""

    def __init__(self):
        self.samples, self.pressure, self.critical = [], [], []
        self.changed = threading.Condition()

    def _add(self, into, item):
        with self.changed:
            into.append(item)
            self.changed.notify_all()

    def on_sample(self, sample):
        self._add(self.samples, sample)

    def on_pressure(self, alert):
        self._add(self.pressure, alert)

    def on_critical(self, alert):
        self._add(self.critical, alert)

    def wait_for(self, predicate, what):
        with self.changed:
            assert self.changed.wait_for(predicate, timeout=WAIT), f"timed out waiting for {what}"

    def callbacks(self):
        return dict(on_sample=self.on_sample, on_pressure=self.on_pressure, on_critical=self.on_critical)


def stepped(targets, rec, **kw):
    return rr.Monitor(targets, start=False, **rec.callbacks(), **kw)


# ---- when callbacks fire --------------------------------------------------------------------

def test_pressure_fires_once_on_crossing_0_8_and_once_on_crossing_0_9():
    lag, rec = Lagging(), Recorder()
    mon = stepped([lag.ring], rec)
    lag.lag_to(80)                      # 0.8 is not "under pressure": the crate's test is > 0.8
    mon.sample()
    assert rec.pressure == [] and rec.critical == []

    lag.lag_to(85)
    mon.sample()
    [alert] = rec.pressure
    assert alert.ring is lag.ring and alert.label == lag.ring.name
    assert alert.reader == lag.slow_index and alert.reader_pid == os.getpid()
    assert (alert.level, alert.previous) == (rr.PressureLevel.UNDER_PRESSURE, rr.PressureLevel.NORMAL)
    assert alert.backpressure == 0.85 and alert.health is rr.SystemHealth.WARNING
    assert alert.record["lag"] == 85 and alert.record["under_pressure"] is True

    lag.lag_to(88)
    mon.sample()                        # still under pressure: no new alert
    assert len(rec.pressure) == 1 and rec.critical == []

    lag.lag_to(90)
    mon.sample()
    assert len(rec.pressure) == 2
    throttle = rec.pressure[1]
    assert throttle.ring is lag.ring and throttle.reader == lag.slow_index
    assert (throttle.level, throttle.previous) == (rr.PressureLevel.THROTTLE, rr.PressureLevel.UNDER_PRESSURE)
    [critical] = rec.critical
    assert critical.ring is lag.ring and critical.reader == lag.slow_index
    assert critical.health is rr.SystemHealth.CRITICAL and critical.backpressure == 0.9

    lag.lag_to(99)
    mon.sample()
    mon.sample()
    assert len(rec.pressure) == 2 and len(rec.critical) == 1
    # the health bands agree with the levels: GOOD at exactly 0.8 (not under pressure),
    # WARNING above it, CRITICAL from 0.9 (should throttle)
    assert [s.health for s in rec.samples] == \
        [rr.SystemHealth.GOOD] + [rr.SystemHealth.WARNING] * 2 + [rr.SystemHealth.CRITICAL] * 3


def test_falling_back_rearms_both_alerts():
    lag, rec = Lagging(), Recorder()
    mon = stepped([lag.ring], rec)
    lag.lag_to(95)
    mon.sample()
    assert [a.level for a in rec.pressure] == [rr.PressureLevel.THROTTLE] and len(rec.critical) == 1

    drain(lag.slow, 45)                 # lag 50, its last event pinned: 0.51, NORMAL, GOOD
    mon.sample()
    assert len(rec.pressure) == 1 and len(rec.critical) == 1
    lag.lag_to(86)
    mon.sample()
    lag.lag_to(92)
    mon.sample()
    assert [(a.previous, a.level) for a in rec.pressure[1:]] == [
        (rr.PressureLevel.NORMAL, rr.PressureLevel.UNDER_PRESSURE),
        (rr.PressureLevel.UNDER_PRESSURE, rr.PressureLevel.THROTTLE)]
    # lag 92 and the event drain() left it holding: (92 + 1) / 100
    assert len(rec.critical) == 2 and rec.critical[1].backpressure == 0.93
    assert rec.critical[1].record["pinned"] == 1


def test_a_jump_straight_to_throttle_fires_one_alert_at_the_higher_level():
    lag, rec = Lagging(), Recorder()
    mon = stepped([lag.ring], rec)
    mon.sample()
    lag.lag_to(97)
    mon.sample()
    [alert] = rec.pressure
    assert (alert.previous, alert.level) == (rr.PressureLevel.NORMAL, rr.PressureLevel.THROTTLE)


def test_alerts_name_the_lagging_ring_among_every_live_ring():
    calm, busy = Lagging(), Lagging()
    calm.lag_to(10)
    busy.lag_to(91)
    rec = Recorder()
    mon = stepped(None, rec)            # every live ring: the registry finds both
    mon.sample()
    mine = [a for a in rec.pressure if a.ring in (calm.ring, busy.ring)]
    assert [(a.ring, a.reader, a.level) for a in mine] == [
        (busy.ring, busy.slow_index, rr.PressureLevel.THROTTLE)]
    labels = {r["ring"] for r in rec.samples[0].records}
    assert {calm.ring.name, busy.ring.name} <= labels


def test_critical_names_the_worst_reader_of_all():
    a, b = Lagging(), Lagging()
    a.lag_to(91)
    b.lag_to(96)
    rec = Recorder()
    mon = stepped([a.ring, b.ring], rec)
    mon.sample()
    [critical] = rec.critical
    assert critical.ring is b.ring and critical.reader == b.slow_index and critical.backpressure == 0.96
    assert sorted(x.label for x in rec.pressure) == sorted([a.ring.name, b.ring.name])


def test_the_monitor_thread_calls_back_with_the_right_ring_and_reader():
    lag, rec = Lagging(), Recorder()
    with rr.Monitor([lag.ring], interval=0.02, **rec.callbacks()) as mon:
        rec.wait_for(lambda: len(rec.samples) >= 1, "a first sample")
        lag.lag_to(85)
        rec.wait_for(lambda: len(rec.pressure) >= 1, "the 0.8 alert")
        lag.lag_to(90)
        rec.wait_for(lambda: len(rec.pressure) >= 2 and rec.critical, "the 0.9 and CRITICAL alerts")
    assert not mon.running
    assert [(a.ring, a.reader, a.level) for a in rec.pressure] == [
        (lag.ring, lag.slow_index, rr.PressureLevel.UNDER_PRESSURE),
        (lag.ring, lag.slow_index, rr.PressureLevel.THROTTLE)]
    assert [(a.ring, a.reader, a.health) for a in rec.critical] == [
        (lag.ring, lag.slow_index, rr.SystemHealth.CRITICAL)]


def test_the_monitor_alerts_when_a_reader_keeps_the_whole_ring():
    # The scenario: 4 slots, 4 events the reader keeps, the writer full.
    # Nothing is unread (lag 0), but every slot is pinned: the monitor must see
    # backpressure 1.0 and alert, where it used to see 0.0 and stay silent.
    ring, rec = rr.Ring(16, 4, name=unique("pinned")), Recorder()
    w, r = ring.writer(), ring.reader()
    with rr.Monitor([ring], interval=0.02, **rec.callbacks()):
        rec.wait_for(lambda: len(rec.samples) >= 1, "a first sample")
        for i in range(4):
            w.add(b"%d" % i)
        kept = [r.next() for _ in range(4)]
        with pytest.raises(rr.RingFull):
            w.add(b"no room", timeout=0)
        rec.wait_for(lambda: rec.pressure and rec.critical, "the THROTTLE and CRITICAL alerts")
    assert all(ev is not None for ev in kept) and r.lag == 0 and r.pinned == 4
    [alert] = rec.critical
    assert (alert.ring, alert.level, alert.health) == (ring, rr.PressureLevel.THROTTLE,
                                                       rr.SystemHealth.CRITICAL)
    assert alert.backpressure == 1.0
    assert (alert.record["lag"], alert.record["pinned"], alert.record["should_throttle"]) == (0, 4, True)
    assert [a.level for a in rec.pressure] == [rr.PressureLevel.THROTTLE]


# ---- history -------------------------------------------------------------------------------

def test_history_keeps_only_the_latest_samples():
    lag = Lagging()
    lag.lag_to(3)
    mon = rr.Monitor([lag.ring], history=5, start=False)
    taken = [mon.sample() for _ in range(12)]
    assert mon.history == taken[-5:] and mon.samples_taken == 12 and mon.latest is taken[-1]
    assert all(len(s.records) == 2 for s in mon.history)
    nothing = rr.Monitor([lag.ring], history=0, start=False)
    nothing.sample()
    assert nothing.history == [] and nothing.samples_taken == 1


def test_history_stays_bounded_while_the_thread_samples():
    ring, rec = rr.Ring(64, 10, name=unique()), Recorder()
    with rr.Monitor([ring], interval=0.005, on_sample=rec.on_sample, history=4) as mon:
        rec.wait_for(lambda: len(rec.samples) >= 10, "ten samples")
    assert len(mon.history) == 4
    assert [s.timestamp for s in mon.history] == sorted(s.timestamp for s in mon.history)


def test_history_frame_has_a_row_per_sample_and_reader():
    pd = pytest.importorskip("pandas")
    lag = Lagging()
    mon = rr.Monitor([lag.ring], start=False)
    for n in (10, 20, 30):
        lag.lag_to(n)
        mon.sample()
    frame = mon.history_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(RECORD_FIELDS)
    assert len(frame) == 6 and set(frame["ring"]) == {lag.ring.name}
    slow = frame[frame["reader"] == lag.slow_index]
    assert list(slow["lag"]) == [10, 20, 30] and list(slow["backpressure"]) == [0.1, 0.2, 0.3]
    assert str(frame["timestamp"].dtype).startswith("datetime64")


def test_history_frame_without_pandas_says_how_to_get_it(monkeypatch):
    mon = rr.Monitor([rr.Ring(64, 4)], start=False)
    mon.sample()
    monkeypatch.setitem(sys.modules, "pandas", None)    # `import pandas` now fails
    with pytest.raises(ImportError, match="pip install pandas"):
        mon.history_frame()


# ---- stopping ------------------------------------------------------------------------------

def started(interval, rec, ring):
    mon = rr.Monitor([ring], interval=interval, on_sample=rec.on_sample)
    rec.wait_for(lambda: rec.samples, "the first sample")
    return mon


def test_stop_returns_within_two_intervals():
    rec = Recorder()
    mon = started(0.5, rec, rr.Ring(64, 4))
    t0 = time.monotonic()
    mon.stop()
    assert time.monotonic() - t0 < 2 * 0.5
    assert not mon._thread.is_alive() and not mon.running
    taken = mon.samples_taken
    mon.stop()                           # idempotent
    assert mon.samples_taken == taken


def test_stop_does_not_wait_out_a_long_interval():
    rec = Recorder()
    mon = started(600, rec, rr.Ring(64, 4))
    t0 = time.monotonic()
    mon.stop(timeout=WAIT)               # bounded, so that a sleeping monitor fails, not hangs
    assert time.monotonic() - t0 < 10, "stop() slept through the interval"
    assert not mon._thread.is_alive()


def test_stop_from_a_callback_ends_the_thread():
    ring = rr.Ring(64, 4)
    calls = []

    def stop_me(sample):
        calls.append(sample)
        mon.stop()

    mon = rr.Monitor([ring], interval=0.01, on_sample=stop_me, start=False)
    mon.start()
    mon._thread.join(WAIT)
    assert not mon._thread.is_alive() and len(calls) == 1


def test_a_stopped_monitor_cannot_restart():
    mon = rr.Monitor([], interval=0.01)
    mon.stop()
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        mon.start()


def test_the_thread_never_keeps_the_interpreter_alive():
    # A callback that never returns: a non-daemon thread would hang the child
    # until run_fresh's timeout fails the test.
    out = run_fresh("""
        import threading
        entered, never = threading.Event(), threading.Event()
        def stuck(sample):
            entered.set()
            never.wait()
        mon = rr.Monitor(interval=0.01, on_sample=stuck)
        assert entered.wait(60)
        print("leaving")
    """, timeout=120)
    assert out.strip() == "leaving"


# ---- failing callbacks ---------------------------------------------------------------------

def test_a_raising_callback_is_logged_and_sampling_goes_on(caplog):
    caplog.set_level(logging.ERROR, logger="rusted_ring")
    rec = Recorder()

    def explode(sample):
        rec.on_sample(sample)
        raise RuntimeError(f"boom {len(rec.samples)}")

    with rr.Monitor([rr.Ring(64, 4)], interval=0.01, on_sample=explode):
        rec.wait_for(lambda: len(rec.samples) >= 3, "three samples despite the exceptions")
    failures = [r for r in caplog.records if r.name == "rusted_ring" and r.exc_info]
    assert len(failures) >= 2
    assert failures[0].levelno == logging.ERROR and "on_sample" in failures[0].getMessage()
    assert isinstance(failures[0].exc_info[1], RuntimeError) and "boom 1" in str(failures[0].exc_info[1])


def test_a_raising_alert_callback_neither_repeats_nor_blocks_the_others(caplog):
    caplog.set_level(logging.ERROR, logger="rusted_ring")
    lag, rec = Lagging(), Recorder()
    attempts = []

    def broken(alert):
        attempts.append(alert)
        raise ValueError("cannot throttle")

    mon = rr.Monitor([lag.ring], start=False, on_pressure=broken, on_critical=rec.on_critical)
    lag.lag_to(93)
    mon.sample()
    mon.sample()
    assert len(attempts) == 1 and len(rec.critical) == 1
    [record] = [r for r in caplog.records if r.name == "rusted_ring"]
    assert "on_pressure" in record.getMessage() and isinstance(record.exc_info[1], ValueError)


# ---- targets, snapshot and the registry ----------------------------------------------------

def test_snapshot_has_a_row_per_reader_of_every_live_ring():
    lag = Lagging()
    lag.lag_to(25)
    lonely = rr.Ring(128, 7, mode="overwrite", name=unique())
    t0 = time.time()
    rows = rr.snapshot()
    t1 = time.time()
    mine = [r for r in rows if r["ring"] == lag.ring.name]
    assert sorted((r["reader"], r["lag"]) for r in mine) == sorted(
        (e["index"], e["lag"]) for e in lag.ring.stats()["readers"])
    assert {r["lag"] for r in mine} == {25, 0}
    row = mine[0]
    assert set(row) == set(RECORD_FIELDS) and t0 <= row["timestamp"] <= t1
    assert (row["kind"], row["pool"], row["mode"], row["capacity"], row["published"]) == (
        "ring", None, "backpressure", 100, lag.ring.published)
    assert row["memory_bytes"] == lag.ring.memory_bytes and row["readers_alive"] == 2
    [empty] = [r for r in rows if r["ring"] == lonely.name]
    assert empty["reader"] is None and empty["lag"] is None and empty["capacity"] == 7
    assert all(type(v) in (int, float, str, bool, type(None)) for r in rows for v in r.values())


def test_the_registry_holds_rings_weakly():
    ring = rr.Ring(64, 4, name=unique())
    name = ring.name
    assert any(r is ring for r in rr.live_rings())
    assert any(r["ring"] == name for r in rr.snapshot())
    mon = rr.Monitor([ring], start=False)
    del ring
    gc.collect()
    assert all(r["ring"] != name for r in rr.snapshot())
    assert mon.sample().records == ()    # a target that died is no longer followed


def test_unnamed_rings_get_distinct_labels_and_duplicate_names_are_told_apart():
    a, b = rr.Ring(64, 4), rr.Ring(64, 4)
    name = unique()
    c, d = rr.Ring(64, 4, name=name), rr.Ring(64, 4, name=name)
    labels = [r["ring"] for r in rr.snapshot([a, b, c, d])]
    assert len(set(labels)) == 4 and labels[2] == name and labels[3].startswith(name + "@")
    assert labels[0] == f"ring@{id(a):x}"


def test_snapshot_lists_the_default_pools_that_exist_and_creates_none():
    run_fresh("""
        assert [r for r in rr.snapshot() if r["kind"] == "pool"] == [] and rr.live_rings() == []
        assert rr.snapshot(["XS", rr.PoolId.M]) == []
        rr.configure_pools({"M": 50})          # still configurable: nothing was created
        r = rr.EventPoolFactory.get_m_reader()
        w = rr.EventPoolFactory.get_m_writer()
        for i in range(30):
            w.add(b"m" * 500, i)
        rows = [row for row in rr.snapshot() if row["ring"] == "pool:M"]
        assert len(rows) == 1, rows
        [m] = rows
        assert (m["kind"], m["pool"], m["capacity"], m["published"], m["lag"]) == ("pool", "M", 50, 30, 30)
        assert m["backpressure"] == 0.6 and m["mode"] == "overwrite"
        assert [row["ring"] for row in rr.snapshot("M")] == ["pool:M"]
        assert rr.EventPoolFactory.get_ring("M") in rr.live_rings()
    """)


def test_monitor_follows_a_pool_by_name():
    run_fresh("""
        rr.configure_pools({"XS": 10})
        alerts = []
        mon = rr.Monitor(["XS"], start=False, on_pressure=alerts.append)
        assert mon.sample().records == ()     # not created yet, and not created by the monitor
        r = rr.EventPoolFactory.get_xs_reader()
        w = rr.EventPoolFactory.get_xs_writer()
        for i in range(9):
            w.add(b"x")
        mon.sample()
        [a] = alerts
        assert a.label == "pool:XS" and a.ring is rr.EventPoolFactory.get_ring("XS")
        assert a.level is rr.PressureLevel.THROTTLE and a.backpressure == 0.9
    """)


@pytest.mark.parametrize("kwargs, error", [
    ({"interval": 0}, ValueError), ({"interval": float("nan")}, ValueError),
    ({"interval": "1"}, TypeError), ({"history": -1}, ValueError), ({"history": 1.5}, TypeError),
    ({"targets": ["XXL"]}, ValueError), ({"targets": [object()]}, TypeError),
    ({"on_sample": "print"}, TypeError),
])
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        rr.Monitor(start=False, **kwargs)
