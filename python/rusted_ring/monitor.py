"""A background monitor: periodic samples of ring stats, alerts at the rusted-ring crate's thresholds.

    def throttle(alert):
        log.warning("%s reader %d at %.0f%%", alert.label, alert.reader, alert.backpressure * 100)

    with rr.Monitor(interval=0.5, on_pressure=throttle) as monitor:
        run_the_application()
    frame = monitor.history_frame()      # pandas, one row per sample, ring and reader

What fires when (the edge semantics):

* A reader's backpressure is (lag + pinned) / capacity: the events it has not
  read and those it has read and still keeps, so a reader that keeps the whole
  ring of a full backpressure writer is at 1.0. Its pressure level is NORMAL
  (backpressure <= 0.8), UNDER_PRESSURE (> 0.8, `Reader.is_under_pressure`) or
  THROTTLE (>= 0.9, `Reader.should_throttle`), by the C core's thresholds. ``on_pressure`` fires when a reader's level
  *rises* from one sample to the next - once, with the new level, even when a
  reader jumps straight from NORMAL to THROTTLE - and not again while it stays
  there. Falling back re-arms it: a reader that drops to NORMAL and rises
  again fires again. A reader first seen already above 0.8 fires on that first
  sample. Readers and rings that disappear are forgotten.
* The monitor's health is `SystemHealth.from_backpressure` of the largest
  backpressure among all followed readers (the rusted-ring crate's
  health_check over readers, so CRITICAL means some reader is at 0.9 or more). ``on_critical``
  fires when the health *becomes* CRITICAL (including on the first sample),
  with the worst reader, and again only after the health has been below
  CRITICAL for at least one sample.
* ``on_sample`` gets every `Sample`, before the alerts of that sample.
* A callback that raises is logged (``logging.getLogger("rusted_ring")``,
  level ERROR, with the traceback) and the monitor goes on; the sample's
  other callbacks still run. When no logging is configured, Python's
  last-resort handler prints these records to stderr.

Callbacks run on the monitor's thread (or on the thread that calls
`Monitor.sample`), one sample at a time; a slow callback delays the next
sample, it never overlaps it. The thread is a daemon: it never keeps the
interpreter from exiting, and stops by itself at exit.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from . import _core
from .registry import RingView, Targets, TargetSet, collect
from .snapshots import records, to_frame
from .stats import SystemHealth

__all__ = ["Monitor", "Sample", "Alert", "PressureLevel"]

logger = logging.getLogger("rusted_ring")


class PressureLevel(enum.IntEnum):
    """How far behind a reader is, by the core's thresholds; levels compare (NORMAL < THROTTLE)."""

    NORMAL = 0           # backpressure <= 0.8
    UNDER_PRESSURE = 1   # backpressure > 0.8  (Reader.is_under_pressure)
    THROTTLE = 2         # backpressure >= 0.9 (Reader.should_throttle)

    @classmethod
    def of(cls, backpressure: float) -> PressureLevel:
        """The level of a backpressure ratio."""
        if _core.should_throttle(backpressure):
            return cls.THROTTLE
        if _core.is_under_pressure(backpressure):
            return cls.UNDER_PRESSURE
        return cls.NORMAL

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class Sample:
    """One reading of every followed ring.

    Fields:
        timestamp: seconds since the epoch (time.time()) when it was taken.
        records: one plain dict per ring and reader, as `rusted_ring.snapshot()`
            returns them (treat them as read-only: they are kept in the history).
        health: SystemHealth of the worst reader in this sample.
    """

    timestamp: float
    records: tuple[dict[str, Any], ...]
    health: SystemHealth


@dataclasses.dataclass(frozen=True)
class Alert:
    """What ``on_pressure`` and ``on_critical`` receive: one reader of one ring.

    Fields:
        ring: the Ring object (a default pool's Ring for a pool).
        label: the ring's label ("strokes", "pool:XS", "ring@7f..."; see rusted_ring.registry).
        reader: the reader's entry in the ring's reader table (the ``index`` of
            ``ring.stats()["readers"]``).
        reader_name: the reader's name (``ring.reader(name=...)``), "" when unnamed.
        reader_pid: the process that owns the reader.
        backpressure: the reader's (lag + pinned) / capacity when it was sampled.
        level: the reader's pressure level now.
        previous: its level at the sample before (NORMAL for a reader not seen before).
        health: the monitor's health in this sample (CRITICAL for ``on_critical``).
        timestamp: the sample's time (time.time()).
        record: the reader's row of the sample.
    """

    ring: _core.Ring
    label: str
    reader: int
    reader_name: str
    reader_pid: int
    backpressure: float
    level: PressureLevel
    previous: PressureLevel
    health: SystemHealth
    timestamp: float
    record: dict[str, Any] = dataclasses.field(repr=False)


SampleCallback = Callable[[Sample], Any]
AlertCallback = Callable[[Alert], Any]
_ReaderKey = tuple[int, int, int]          # id(ring), reader index, reader pid

# Monitors whose thread runs, told to stop at interpreter exit.
_running: weakref.WeakSet[Monitor] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for monitor in list(_running):
        monitor._stop.set()


class Monitor:
    """Samples ring stats on a background thread; calls back at the core's thresholds.

    Args:
        targets: None (the default) for every live ring and every default pool
            that exists, rings made later included; or Rings and pools (PoolId,
            0..4, "XS".."XL"), followed while they live (weak references).
        interval: seconds between samples (> 0). The first sample is taken at once.
        on_sample: called with every `Sample`.
        on_pressure: called with an `Alert` when a reader's `PressureLevel` rises
            (crossing 0.8, or 0.9).
        on_critical: called with an `Alert` for the worst reader when the health
            becomes CRITICAL.
        history: how many samples to keep (the oldest go first); 0 keeps none.
        start: start the thread now (the default); otherwise call `start()`, or
            step by hand with `sample()`.

    See the module docstring for exactly when callbacks fire. `stop()` (or
    leaving a ``with`` block) ends the thread; it returns as soon as a sample
    in progress finishes, with no callback started after it was called.
    """

    def __init__(self, targets: Targets = None, interval: float = 0.5,
                 on_sample: SampleCallback | None = None,
                 on_pressure: AlertCallback | None = None,
                 on_critical: AlertCallback | None = None,
                 history: int = 1000, *, start: bool = True) -> None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise TypeError(f"interval must be a number of seconds, not {type(interval).__name__}")
        if not (interval > 0 and math.isfinite(interval)):
            raise ValueError(f"interval must be a positive number of seconds, got {interval}")
        if isinstance(history, bool) or not isinstance(history, int):
            raise TypeError(f"history must be an int, not {type(history).__name__}")
        if history < 0:
            raise ValueError(f"history must be >= 0, got {history}")
        for what, fn in (("on_sample", on_sample), ("on_pressure", on_pressure),
                         ("on_critical", on_critical)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{what} must be callable or None, not {type(fn).__name__}")
        self._targets = TargetSet(targets)
        self._interval = float(interval)
        self._on_sample = on_sample
        self._on_pressure = on_pressure
        self._on_critical = on_critical
        self._history: deque[Sample] = deque(maxlen=history)
        self._history_lock = threading.Lock()     # history, latest and count
        self._tick_lock = threading.RLock()       # one sample at a time (RLock: callbacks may read)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._levels: dict[_ReaderKey, PressureLevel] = {}
        self._critical = False
        self._latest: Sample | None = None
        self._count = 0
        self._ticking: int | None = None          # ident of the thread inside _tick
        if start:
            self.start()

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> Monitor:
        """Start the sampling thread (a daemon); no-op while it runs. Returns the monitor.

        Raises RuntimeError for a monitor that was stopped: make a new one.
        """
        if self._thread is not None:
            if self._stop.is_set():
                raise RuntimeError("this Monitor was stopped; a stopped Monitor cannot be restarted")
            return self
        if self._stop.is_set():
            raise RuntimeError("this Monitor was stopped; a stopped Monitor cannot be restarted")
        self._thread = threading.Thread(target=self._run, name="rusted_ring.Monitor", daemon=True)
        _running.add(self)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop sampling; idempotent.

        Returns once the thread has ended: at once when it is waiting for the
        next sample, else when the sample in progress is done (callbacks it has
        not started yet are skipped). `timeout` bounds that wait in seconds.
        Called from a callback, it returns at once and the thread ends after it.
        """
        self._stop.set()
        _running.discard(self)
        thread = self._thread
        # From a callback (of the thread, or of sample() that the thread may be
        # waiting behind), joining would wait for ourselves.
        if (thread is not None and thread is not threading.current_thread()
                and self._ticking != threading.get_ident()):
            thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the sampling thread is alive and has not been told to stop."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    @property
    def interval(self) -> float:
        """Seconds between samples."""
        return self._interval

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped" if self._stop.is_set() else "not started"
        return f"<rusted_ring.Monitor interval={self._interval:g}s samples={self.samples_taken} {state}>"

    # ---- the samples ---------------------------------------------------------------

    @property
    def history(self) -> list[Sample]:
        """The samples kept (at most `history`), oldest first; a copy."""
        with self._history_lock:
            return list(self._history)

    @property
    def latest(self) -> Sample | None:
        """The last sample taken, or None before the first."""
        with self._history_lock:
            return self._latest

    @property
    def samples_taken(self) -> int:
        """How many samples were taken in all (the history keeps only the last ones)."""
        with self._history_lock:
            return self._count

    @property
    def health(self) -> SystemHealth | None:
        """The health at the last sample, or None before the first."""
        latest = self.latest
        return None if latest is None else latest.health

    def history_frame(self) -> Any:
        """The history as a pandas DataFrame: one row per sample, ring and reader.

        Columns are `rusted_ring.snapshots.RECORD_FIELDS`; ``timestamp`` holds
        UTC datetimes. Raises ImportError, saying how to install it, when pandas
        is missing.
        """
        return to_frame([row for sample in self.history for row in sample.records])

    def sample(self) -> Sample | None:
        """Take one sample now, on the calling thread, with its callbacks.

        Useful to step a monitor made with ``start=False``. Returns the sample,
        or None when the rings could not be read (the error is logged).
        """
        return self._tick(in_thread=False)

    # ---- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        logger.debug("rusted_ring.Monitor started, every %g s", self._interval)
        deadline = time.monotonic()
        while not self._stop.is_set():
            try:
                self._tick(in_thread=True)
            except Exception:          # a bug here must not end the monitor silently
                logger.exception("rusted_ring.Monitor: sampling failed; trying again")
            deadline += self._interval
            now = time.monotonic()
            if deadline <= now:        # fell behind: no burst of catch-up samples
                deadline = now + self._interval
            if self._stop.wait(deadline - now):
                break
        logger.debug("rusted_ring.Monitor stopped after %d samples", self.samples_taken)

    def _tick(self, in_thread: bool) -> Sample | None:
        with self._tick_lock:
            outer, self._ticking = self._ticking, threading.get_ident()
            try:
                return self._take_sample(in_thread)
            finally:
                self._ticking = outer

    def _take_sample(self, in_thread: bool) -> Sample | None:
        timestamp = time.time()
        try:
            collected = collect(self._targets)
        except Exception:
            logger.exception("rusted_ring.Monitor could not read the rings")
            return None
        rows: list[dict[str, Any]] = []
        rising: list[tuple[RingView, dict[str, Any], PressureLevel, PressureLevel]] = []
        levels: dict[_ReaderKey, PressureLevel] = {}
        worst: tuple[RingView, dict[str, Any], PressureLevel] | None = None
        for view, stats in collected:
            for row in records(view, stats, timestamp):
                rows.append(row)
                if row["reader"] is None:
                    continue
                key = (id(view.ring), row["reader"], row["reader_pid"])
                level = PressureLevel.of(row["backpressure"])
                previous = self._levels.get(key, PressureLevel.NORMAL)
                levels[key] = level
                if level > previous:
                    rising.append((view, row, level, previous))
                if worst is None or row["backpressure"] > worst[1]["backpressure"]:
                    worst = (view, row, previous)
        self._levels = levels
        health = SystemHealth.from_backpressure(0.0 if worst is None else worst[1]["backpressure"])
        sample = Sample(timestamp, tuple(rows), health)
        with self._history_lock:
            self._history.append(sample)
            self._latest = sample
            self._count += 1
        turned_critical = health is SystemHealth.CRITICAL and not self._critical
        self._critical = health is SystemHealth.CRITICAL

        self._call("on_sample", self._on_sample, sample, in_thread)
        for view, row, level, previous in rising:
            self._call("on_pressure", self._on_pressure,
                       _alert(view, row, level, previous, health), in_thread)
        if turned_critical and worst is not None:
            view, row, previous = worst
            self._call("on_critical", self._on_critical,
                       _alert(view, row, PressureLevel.of(row["backpressure"]), previous, health),
                       in_thread)
        return sample

    def _call(self, what: str, fn: Callable[[Any], Any] | None, arg: Any, in_thread: bool) -> None:
        if fn is None or (in_thread and self._stop.is_set()):
            return
        try:
            fn(arg)
        except Exception:
            logger.exception("rusted_ring.Monitor: the %s callback %r raised; sampling goes on", what, fn)


def _alert(view: RingView, row: dict[str, Any], level: PressureLevel, previous: PressureLevel,
           health: SystemHealth) -> Alert:
    return Alert(ring=view.ring, label=view.label, reader=row["reader"],
                 reader_name=row["reader_name"], reader_pid=row["reader_pid"],
                 backpressure=row["backpressure"], level=level, previous=previous, health=health,
                 timestamp=row["timestamp"], record=row)
