"""Statistics and health of the default pools (the rusted-ring crate's PoolStats and health_check).

A pool's backpressure is the largest backpressure ratio among its live readers
(0.0 with no reader, 1.0 when a reader is a whole lap behind). The figures come
from `rusted_ring._core.pool_stats()`, a snapshot taken without stopping
writers or readers and without creating pools that do not exist yet.

The health bands are the C core's (`_core.health_of`), the same in Lua
(`rr.health_of`); they agree with `Reader.is_under_pressure` and
`Reader.should_throttle` at every edge.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any

from . import _core
from .pools import PoolId

__all__ = ["PoolStats", "SystemHealth", "health_check"]


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """A snapshot of one default pool.

    Fields:
        pool_id: which pool (PoolId.XS ... PoolId.XL).
        capacity: slots in the pool (the configured capacity if not created yet).
        slot_size: payload bytes per slot.
        memory_bytes: bytes the pool occupies; 0 until the pool exists.
        published: events written into the pool so far.
        reader_count: live readers of the pool.
        current_backpressure: the largest backpressure ratio among its readers, 0.0 ... 1.0.
        text: the core's formatted line (what ``str(stat)`` returns; formatted
            from the fields when empty).

    ``str(stat)`` reads ``"Pool XS: capacity=2000, backpressure=15.3%"``.
    """

    pool_id: PoolId
    capacity: int
    slot_size: int
    memory_bytes: int
    published: int
    reader_count: int
    current_backpressure: float
    text: str = dataclasses.field(default="", repr=False, compare=False)

    @classmethod
    def collect_all(cls) -> list[PoolStats]:
        """One PoolStats per default pool, XS to XL. Creates no pool."""
        return [cls.from_dict(d) for d in _core.pool_stats()]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PoolStats:
        """Build a PoolStats from one entry of `_core.pool_stats()` (or `as_dict()`)."""
        return cls(
            pool_id=PoolId(d["pool_id"]),
            capacity=int(d["capacity"]),
            slot_size=int(d["slot_size"]),
            memory_bytes=int(d["memory_bytes"]),
            published=int(d["published"]),
            reader_count=int(d["reader_count"]),
            current_backpressure=float(d["current_backpressure"]),
            text=str(d.get("text", "")),
        )

    @property
    def exists(self) -> bool:
        """Whether the pool has been created (its memory is allocated)."""
        return self.memory_bytes > 0

    @property
    def health(self) -> SystemHealth:
        """This pool's health, by the thresholds of `health_check`."""
        return SystemHealth.from_backpressure(self.current_backpressure)

    def as_dict(self) -> dict[str, Any]:
        """Plain data: field name to int/float/str (pool_id as its name, e.g. "XS")."""
        return {
            "pool_id": self.pool_id.name,
            "capacity": self.capacity,
            "slot_size": self.slot_size,
            "memory_bytes": self.memory_bytes,
            "published": self.published,
            "reader_count": self.reader_count,
            "current_backpressure": self.current_backpressure,
        }

    def __str__(self) -> str:
        if self.text:
            return self.text
        return (f"Pool {self.pool_id.name}: capacity={self.capacity}, "
                f"backpressure={self.current_backpressure * 100:.1f}%")


class SystemHealth(enum.Enum):
    """Overall health from the largest backpressure ratio b (the core's bands).

    EXCELLENT: b < 0.5; GOOD: 0.5 <= b <= 0.8 (not under pressure); WARNING:
    0.8 < b < 0.9 (under pressure, not throttling); CRITICAL: b >= 0.9 (should
    throttle), or NaN. So exactly 0.8 is GOOD and exactly 0.9 CRITICAL.
    """

    EXCELLENT = "excellent"
    GOOD = "good"
    WARNING = "warning"
    CRITICAL = "critical"

    @classmethod
    def from_backpressure(cls, ratio: float) -> SystemHealth:
        """The health for a backpressure ratio (see the class docstring for the bands)."""
        return cls[_core.health_of(float(ratio))]

    def __str__(self) -> str:
        return self.name


def health_check(stats: Iterable[PoolStats] | None = None) -> SystemHealth:
    """The system's health from the worst pool backpressure.

    `stats` defaults to `PoolStats.collect_all()`; any objects with a
    ``current_backpressure`` attribute will do. No stats at all is EXCELLENT.
    """
    if stats is None:
        stats = PoolStats.collect_all()
    worst = max((float(s.current_backpressure) for s in stats), default=0.0)
    return SystemHealth.from_backpressure(worst)
