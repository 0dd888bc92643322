"""Ring statistics as plain records, for notebooks, pandas and JSON.

`snapshot()` reads every target ring once and returns one flat dict per ring
and reader: the ring's figures repeated on each of its readers' rows, so that
``pandas.DataFrame(rr.snapshot())`` needs no reshaping. A ring without readers
still has one row, its reader fields None.

Row fields (in `RECORD_FIELDS` order):

    timestamp          seconds since the epoch (time.time()) when the snapshot was taken
    ring               the ring's label (see rusted_ring.registry)
    kind               "pool", "shared" or "ring"
    pool               "XS" .. "XL" for a default pool, else None
    mode, producers    as Ring.mode / Ring.producers
    capacity, slot_size, memory_bytes, published, writer_stalls, writers,
    writer_alive, writer_pid, writer_wait, shared, closed, reader_count,
    readers_evicted, upstream_lost, instance, max_backpressure   as in Ring.stats()
    readers_alive      readers whose process still runs
    readers_parked     durable readers no Reader holds (closed, or their process died)
    health             "EXCELLENT" .. "CRITICAL" from max_backpressure (SystemHealth)
    reader             the reader's entry in the ring's reader table (None: no reader)
    reader_pid, reader_alive, cursor, lag, pinned, lost, skipped
    backpressure       (lag + pinned) / capacity, 0.0 .. 1.0: what the reader keeps
                       from writers (1.0: a backpressure writer finds the ring full)
    wait               the reader's wait strategy: "block", "yield", "spin" or "sleep"
    reader_name        the reader's name (ring.reader(name=...)), "" when unnamed
    after              the readers it follows (pipelines), bit i for the reader of entry i
                       (0: none), as in Ring.stats()
    writable           whether it may write into the events it is handed
    durable            opened durable (ring.reader(durable=True)): close and death park it
    parked             durable, and no Reader holds it (reader_pid 0, reader_alive False)
    under_pressure     backpressure > 0.8 (Reader.is_under_pressure)
    should_throttle    backpressure >= 0.9 (Reader.should_throttle)

pinned counts the events a backpressure reader has read and still keeps (its
last call's events, Events the program holds on to): their slots are as
unavailable to a writer as unread ones. The thresholds and health bands are
the C core's, the same in Lua.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from . import _core
from .registry import RingView, Targets, TargetSet, collect
from .stats import SystemHealth

__all__ = ["snapshot", "records", "to_frame", "followed", "RECORD_FIELDS", "UNDER_PRESSURE",
           "THROTTLE"]

#: The rusted-ring crate's thresholds, from the C core: a reader is under pressure above
#: 0.8 and should throttle from 0.9.
UNDER_PRESSURE: float = _core.PRESSURE_THRESHOLD
THROTTLE: float = _core.THROTTLE_THRESHOLD

RING_FIELDS = (
    "timestamp", "ring", "kind", "pool", "mode", "producers", "capacity", "slot_size",
    "memory_bytes", "published", "writer_stalls", "abandoned", "claims_recovered", "writers",
    "writer_alive", "writer_pid", "writer_wait",
    "shared", "closed", "reader_count", "readers_alive", "readers_parked", "readers_evicted",
    "upstream_lost", "instance", "max_backpressure", "health",
)
READER_FIELDS = (
    "reader", "reader_pid", "reader_alive", "cursor", "lag", "pinned", "lost", "skipped",
    "backpressure", "wait", "reader_name", "after", "writable", "durable", "parked",
    "under_pressure", "should_throttle",
)
#: The keys of every record, in order (the columns of `to_frame`).
RECORD_FIELDS = RING_FIELDS + READER_FIELDS


def _ring_part(view: RingView, stats: dict[str, Any], timestamp: float) -> dict[str, Any]:
    readers = stats["readers"]
    return {
        "timestamp": timestamp,
        "ring": view.label,
        "kind": view.kind,
        "pool": None if view.pool is None else view.pool.name,
        "mode": stats["mode"],
        "producers": stats["producers"],
        "capacity": stats["capacity"],
        "slot_size": stats["slot_size"],
        "memory_bytes": stats["memory_bytes"],
        "published": stats["published"],
        "writer_stalls": stats["writer_stalls"],
        "abandoned": stats["abandoned"],
        "claims_recovered": stats["claims_recovered"],
        "writers": stats["writers"],
        "writer_alive": stats["writer_alive"],
        "writer_pid": stats["writer_pid"],
        "writer_wait": stats["writer_wait"],
        "shared": stats["shared"],
        "closed": stats["closed"],
        "reader_count": stats["reader_count"],
        "readers_alive": sum(1 for r in readers if r["alive"]),
        "readers_parked": sum(1 for r in readers if r["parked"]),
        "readers_evicted": stats["readers_evicted"],
        "upstream_lost": stats["upstream_lost"],
        "instance": stats["instance"],
        "max_backpressure": stats["max_backpressure"],
        "health": SystemHealth.from_backpressure(stats["max_backpressure"]).name,
    }


def _reader_part(reader: dict[str, Any] | None) -> dict[str, Any]:
    if reader is None:
        return dict.fromkeys(READER_FIELDS)
    ratio = reader["backpressure"]
    return {
        "reader": reader["index"],
        "reader_pid": reader["pid"],
        "reader_alive": reader["alive"],
        "cursor": reader["cursor"],
        "lag": reader["lag"],
        "pinned": reader["pinned"],
        "lost": reader["lost"],
        "skipped": reader["skipped"],
        "backpressure": ratio,
        "wait": reader["wait"],
        "reader_name": reader["name"],
        "after": reader["after"],
        "writable": reader["writable"],
        "durable": reader["durable"],
        "parked": reader["parked"],
        "under_pressure": _core.is_under_pressure(ratio),
        "should_throttle": _core.should_throttle(ratio),
    }


def followed(after: int, names: Mapping[int, str]) -> list[str | int]:
    """The readers of an ``after`` mask (of ``Ring.stats()`` or a snapshot row) in entry
    order, each by its name or, unnamed, by its entry index. `names`: the ring's readers,
    entry index to name ("" when unnamed), from the same stats or snapshot."""
    return [names.get(i) or i for i in range(_core.MAX_READERS) if after >> i & 1]


def records(view: RingView, stats: dict[str, Any], timestamp: float) -> list[dict[str, Any]]:
    """The rows of one ring: one per reader, or a single row with reader fields None."""
    ring = _ring_part(view, stats, timestamp)
    return [{**ring, **_reader_part(r)} for r in stats["readers"] or [None]]


def snapshot(targets: Targets | TargetSet = None) -> list[dict[str, Any]]:
    """One plain dict per ring and reader, read now (see the module docstring).

    `targets` is None for every live ring and every default pool that exists
    (a pool that was never used is not created, and not listed), or Rings and
    pools (PoolId, 0..4, "XS".."XL"). Values are ints, floats, bools, strs or
    None, so the rows go straight to json.dumps or pandas.DataFrame.
    """
    timestamp = time.time()
    rows: list[dict[str, Any]] = []
    for view, stats in collect(targets):
        rows += records(view, stats, timestamp)
    return rows


def to_frame(rows: list[dict[str, Any]]) -> Any:
    """A pandas DataFrame of snapshot rows, one column per field, timestamp as UTC datetimes.

    Raises ImportError, saying how to install it, when pandas is missing.
    """
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(
            "rusted_ring needs pandas for DataFrames, and pandas is not installed: "
            "pip install pandas (or rusted_ring[pandas]); the plain records work without it"
        ) from e
    frame = pd.DataFrame.from_records(rows, columns=list(RECORD_FIELDS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    return frame
