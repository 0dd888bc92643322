"""The rusted-ring crate's names for the process-wide default pools.

Five T-shirt sized pools (XS 64, S 256, M 1024, L 4096, XL 16384 payload bytes)
live in the C core. They are created on first use, with the "production"
preset unless `configure_pools` was called before, and cannot be resized once
they exist. Every pool is in overwrite mode (a writer never waits for readers;
a reader that falls a whole lap behind skips ahead and counts what it lost in
`Reader.lost`) and accepts writers from any number of threads.

This module only translates: sizes, presets, pool creation and emitting are
done by `rusted_ring._core`.

The rusted-ring crate is the Rust library (rusted-ring 0.5.4) whose names and
behaviour this package keeps. Differences from it, on purpose:

* A pool reader starts at the *oldest event the pool still holds* (the crate's
  reader starts at sequence 0, which after the first wrap means stale slots).
  Before anything was written that is the first event ever written, which is
  what the crate's examples rely on. Pass ``start="latest"`` to see only events
  written after the reader was made.
* `AutoSizedEvent.emit_to_ring()` returns the event's sequence in its pool and
  raises on failure, instead of returning a success flag.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from . import _core

__all__ = [
    "EventSize",
    "PoolId",
    "PRESETS",
    "configure_pools",
    "pools_config",
    "estimate_size",
    "estimate_pool_id",
    "EventPoolFactory",
    "PooledEvent",
    "AutoSizedEvent",
    "EventUtils",
    "emit",
]

#: The preset names `configure_pools` accepts.
PRESETS = ("production", "mobile", "high_throughput")

_U32_MAX = 0xFFFFFFFF


class EventSize(enum.IntEnum):
    """The T-shirt size a payload needs: XS (<= 64 bytes) ... XL (<= 16384), XXL (larger).

    XXL means "fits no pool"; every other size names the pool of the same name.
    """

    XS = 0
    S = 1
    M = 2
    L = 3
    XL = 4
    XXL = 5

    @property
    def slot_size(self) -> int | None:
        """The largest payload of this size in bytes, or None for XXL."""
        if self is EventSize.XXL:
            return None
        return _core.pool_slot_size(int(self))

    @property
    def pool_id(self) -> PoolId | None:
        """The pool that holds events of this size, or None for XXL."""
        if self is EventSize.XXL:
            return None
        return PoolId(int(self))


class PoolId(enum.IntEnum):
    """One of the five default pools, XS=0 ... XL=4."""

    XS = 0
    S = 1
    M = 2
    L = 3
    XL = 4

    @property
    def slot_size(self) -> int:
        """The pool's payload slot size in bytes: 64, 256, 1024, 4096 or 16384."""
        return _core.pool_slot_size(int(self))

    @classmethod
    def coerce(cls, value: PoolIdLike) -> PoolId:
        """Turn a PoolId, an int 0..4 or a name ("XS", "xs", ...) into a PoolId.

        Raises TypeError for other types and ValueError for unknown ids or names.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise ValueError(
                    f"unknown pool {value!r}; expected one of {', '.join(cls.__members__)}"
                ) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"pool id must be a PoolId, an int or a name, not {type(value).__name__}")
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"pool id must be 0..{len(cls) - 1}, got {value}") from None


PoolIdLike = Union[PoolId, int, str]
Start = Literal["oldest", "latest"]


# ---- configuration -------------------------------------------------------------------

def pools_config() -> dict[str, int]:
    """The pool capacities in force, or that will be used when the pools appear.

    Returns ``{"XS": 2000, "S": 1000, "M": 300, "L": 60, "XL": 15}`` for the
    production preset. The dict is a copy; pass it (changed) to `configure_pools`.
    """
    return {p.name: int(c) for p, c in zip(PoolId, _core.pools_config())}


def _check_capacity(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"capacity of pool {name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"capacity of pool {name} must be >= 1, got {value}")
    return value


def configure_pools(config: str | Mapping[PoolIdLike, int] | Sequence[int]) -> dict[str, int]:
    """Set the capacities of the default pools before they are first used.

    `config` is one of

    * a preset name: "production" (XS..XL = 2000/1000/300/60/15), "mobile"
      (500/250/100/20/5) or "high_throughput" (4000/2000/600/120/30);
    * a mapping from pool ("XS" ... "XL", a PoolId or 0..4) to capacity, e.g.
      ``{"XS": 4000}``; pools it does not name keep their current capacity;
    * a sequence of five capacities, XS first (what `_core.pools_config()` returns).

    Returns the configuration now in force, as `pools_config()` would.

    Raises ValueError for an unknown preset or pool name or a capacity below 1,
    TypeError for a value of the wrong type, and rusted_ring.RingError once any
    default pool exists (they are process-wide and cannot be resized; configure
    them at start-up, before the first get_*_writer/get_*_reader/emit).
    """
    if isinstance(config, str):
        # The core knows the presets and names them in its error.
        capacities = list(_core.preset_config(config.replace("-", "_").lower()))
    elif isinstance(config, Mapping):
        capacities = list(_core.pools_config())
        for key, value in config.items():
            try:
                pool = PoolId.coerce(key)
            except TypeError:
                raise TypeError(f"pool names must be str, PoolId or int, not {type(key).__name__}") from None
            capacities[pool] = _check_capacity(pool.name, value)
    elif isinstance(config, Sequence) and not isinstance(config, (bytes, bytearray)):
        if len(config) != len(PoolId):
            raise ValueError(f"expected {len(PoolId)} capacities (XS..XL), got {len(config)}")
        capacities = [_check_capacity(p.name, v) for p, v in zip(PoolId, config)]
    else:
        raise TypeError(
            "configure_pools expects a preset name, a mapping of pool to capacity or "
            f"a sequence of {len(PoolId)} capacities, not {type(config).__name__}"
        )
    _core.configure_pools(capacities)
    return pools_config()


# ---- sizes ---------------------------------------------------------------------------

def _check_length(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"size must be an int, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"size must be >= 0, got {n}")
    return n


def estimate_size(n: int) -> EventSize:
    """The T-shirt size of an `n`-byte payload: XS for 0..64 bytes ... XL up to 16384, else XXL."""
    return EventSize(_core.estimate_size(_check_length(n)))


def estimate_pool_id(n: int) -> PoolId | None:
    """The smallest pool whose slots fit an `n`-byte payload, or None above 16384 bytes."""
    pool = _core.estimate_pool_id(_check_length(n))
    return None if pool is None else PoolId(pool)


class EventPoolFactory:
    """Writers and readers of the process-wide default pools (the rusted-ring crate's factory).

    All methods are static. The first call that touches a pool creates it with
    the configured capacity (see `configure_pools`). Writers may be made and
    used from any number of threads at once: the pools are multi-producer.
    Each reader has its own cursor and belongs to one thread at a time.

    Readers start at the oldest event the pool still holds (``start="oldest"``),
    so a reader made before the writers start sees every event, and a reader
    made later sees the retained history first; ``start="latest"`` sees only
    what is written afterwards. Pools are in overwrite mode: a reader lapped by
    the writers skips ahead and counts the skipped events in `Reader.lost`.
    """

    @staticmethod
    def estimate_size(n: int) -> EventSize:
        """The T-shirt size of an `n`-byte payload (see `rusted_ring.estimate_size`)."""
        return estimate_size(n)

    @staticmethod
    def estimate_pool_id(n: int) -> PoolId | None:
        """The smallest pool that fits an `n`-byte payload, or None (see `rusted_ring.estimate_pool_id`)."""
        return estimate_pool_id(n)

    @staticmethod
    def get_ring(pool_id: PoolIdLike) -> _core.Ring:
        """The Ring of a default pool, created on first use."""
        return _core.pool_ring(int(PoolId.coerce(pool_id)))

    @staticmethod
    def get_writer(pool_id: PoolIdLike) -> _core.Writer:
        """A new writer into a default pool (multi-producer; never waits for readers)."""
        return EventPoolFactory.get_ring(pool_id).writer()

    @staticmethod
    def get_reader(pool_id: PoolIdLike, start: Start = "oldest") -> _core.Reader:
        """A new reader of a default pool, starting at the oldest retained event by default."""
        return EventPoolFactory.get_ring(pool_id).reader(start)

    @staticmethod
    def get_xs_writer() -> _core.Writer:
        """A writer into the XS pool (64-byte payloads)."""
        return EventPoolFactory.get_writer(PoolId.XS)

    @staticmethod
    def get_s_writer() -> _core.Writer:
        """A writer into the S pool (256-byte payloads)."""
        return EventPoolFactory.get_writer(PoolId.S)

    @staticmethod
    def get_m_writer() -> _core.Writer:
        """A writer into the M pool (1024-byte payloads)."""
        return EventPoolFactory.get_writer(PoolId.M)

    @staticmethod
    def get_l_writer() -> _core.Writer:
        """A writer into the L pool (4096-byte payloads)."""
        return EventPoolFactory.get_writer(PoolId.L)

    @staticmethod
    def get_xl_writer() -> _core.Writer:
        """A writer into the XL pool (16384-byte payloads)."""
        return EventPoolFactory.get_writer(PoolId.XL)

    @staticmethod
    def get_xs_reader(start: Start = "oldest") -> _core.Reader:
        """A reader of the XS pool, from the oldest retained event unless start="latest"."""
        return EventPoolFactory.get_reader(PoolId.XS, start)

    @staticmethod
    def get_s_reader(start: Start = "oldest") -> _core.Reader:
        """A reader of the S pool, from the oldest retained event unless start="latest"."""
        return EventPoolFactory.get_reader(PoolId.S, start)

    @staticmethod
    def get_m_reader(start: Start = "oldest") -> _core.Reader:
        """A reader of the M pool, from the oldest retained event unless start="latest"."""
        return EventPoolFactory.get_reader(PoolId.M, start)

    @staticmethod
    def get_l_reader(start: Start = "oldest") -> _core.Reader:
        """A reader of the L pool, from the oldest retained event unless start="latest"."""
        return EventPoolFactory.get_reader(PoolId.L, start)

    @staticmethod
    def get_xl_reader(start: Start = "oldest") -> _core.Reader:
        """A reader of the XL pool, from the oldest retained event unless start="latest"."""
        return EventPoolFactory.get_reader(PoolId.XL, start)


# ---- events --------------------------------------------------------------------------

def _check_event_type(event_type: Any) -> int:
    if isinstance(event_type, bool) or not isinstance(event_type, int):
        raise TypeError(f"event_type must be an int, not {type(event_type).__name__}")
    if not 0 <= event_type <= _U32_MAX:
        raise ValueError(f"event_type must be in 0..{_U32_MAX} (an unsigned 32-bit int), got {event_type}")
    return event_type


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        raise TypeError("data must be a bytes-like object, not str (encode it first)")
    try:
        with memoryview(data) as view:
            return view.tobytes()
    except TypeError:
        raise TypeError(f"data must be a bytes-like object, not {type(data).__name__}") from None


class PooledEvent:
    """An event payload checked against a slot size (the rusted-ring crate's ``PooledEvent<SIZE>``).

    Attributes: ``data`` (bytes, a copy of what was given), ``event_type``
    (unsigned 32-bit int), ``size`` (the slot size it must fit), and ``len``
    (``len(data)``, also ``len(event)``). Immutable.

    Pass it straight to ``Writer.add(event)`` / ``add_batch``: the writer takes
    its ``data`` and ``event_type``. Creating one whose data exceeds ``size``
    raises rusted_ring.DataTooLarge naming both sizes.
    """

    __slots__ = ("_data", "_event_type", "_size")
    _data: bytes
    _event_type: int
    _size: int

    def __init__(self, data: Any, event_type: int = 0, size: int = 64) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"size must be an int, not {type(size).__name__}")
        if not 1 <= size <= _core.MAX_SLOT_SIZE:
            raise ValueError(f"size must be in 1..{_core.MAX_SLOT_SIZE}, got {size}")
        payload = _as_bytes(data)
        event_type = _check_event_type(event_type)
        if len(payload) > size:
            raise _core.DataTooLarge(
                f"payload of {len(payload)} bytes exceeds the slot size of {size} bytes"
            )
        object.__setattr__(self, "_data", payload)
        object.__setattr__(self, "_event_type", event_type)
        object.__setattr__(self, "_size", size)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        # Immutable, so pickle makes it anew from its arguments (multiprocessing
        # hands events to other processes this way).
        return (type(self), (self._data, self._event_type, self._size))

    @property
    def data(self) -> bytes:
        """The payload bytes."""
        return self._data

    @property
    def event_type(self) -> int:
        """The event's type tag, 0..2**32-1."""
        return self._event_type

    @property
    def size(self) -> int:
        """The slot size the payload was checked against."""
        return self._size

    @property
    def len(self) -> int:
        """The payload length in bytes."""
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> bytes:
        return self._data

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self._data, self._event_type, self._size) == (other._data, other._event_type, other._size)

    def __hash__(self) -> int:
        return hash((type(self), self._data, self._event_type, self._size))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(len={len(self._data)}, event_type={self._event_type}, size={self._size})"


# One shared writer per pool for emit_to_ring: pool writers are multi-producer,
# so every thread may use the same handle.
_pool_writers: dict[PoolId, _core.Writer] = {}


def _pool_writer(pool: PoolId) -> _core.Writer:
    writer = _pool_writers.get(pool)
    if writer is None:
        # Two threads may race here; the loser's writer is simply dropped.
        writer = _pool_writers.setdefault(pool, EventPoolFactory.get_writer(pool))
    return writer


class AutoSizedEvent(PooledEvent):
    """A PooledEvent sized to the smallest default pool that fits its payload.

    ``pool_id`` names that pool and ``size`` is its slot size. Made by
    `EventUtils.create_auto_sized_event`; send it with `emit_to_ring()`.
    """

    __slots__ = ("_pool_id",)
    _pool_id: PoolId

    def __init__(self, data: Any, event_type: int = 0) -> None:
        payload = _as_bytes(data)
        pool = estimate_pool_id(len(payload))
        if pool is None:
            largest = PoolId.XL.slot_size
            raise _core.DataTooLarge(
                f"payload of {len(payload)} bytes exceeds the largest pool slot size of {largest} bytes"
            )
        super().__init__(payload, event_type, pool.slot_size)
        object.__setattr__(self, "_pool_id", pool)

    @property
    def pool_id(self) -> PoolId:
        """The pool this event goes to."""
        return self._pool_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._data, self._event_type))

    def emit_to_ring(self, timeout: float | None = 0) -> int:
        """Publish the event into its default pool and return its sequence there.

        The pools never wait for readers, so this normally returns at once. It
        waits (up to `timeout` seconds; 0 never waits, None without limit) only
        when another thread is still filling, a whole lap behind, the slot this
        event needs; if that does not clear in time it raises rusted_ring.RingFull.
        """
        return _pool_writer(self._pool_id).add(self, timeout=timeout)

    def __repr__(self) -> str:
        return f"AutoSizedEvent(len={len(self._data)}, event_type={self._event_type}, pool_id=PoolId.{self._pool_id.name})"


class EventUtils:
    """The rusted-ring crate's event constructors (static methods)."""

    @staticmethod
    def create_pooled_event(data: Any, event_type: int, size: int = 64) -> PooledEvent:
        """A PooledEvent for a `size`-byte slot; DataTooLarge if `data` is longer."""
        return PooledEvent(data, event_type, size)

    @staticmethod
    def create_auto_sized_event(data: Any, event_type: int) -> AutoSizedEvent:
        """An AutoSizedEvent in the smallest pool that fits; DataTooLarge above 16384 bytes."""
        return AutoSizedEvent(data, event_type)


def emit(data: Any, event_type: int | None = None, *, timeout: float | None = 0) -> PoolId:
    """Publish `data` into the smallest default pool that fits it; return that pool's id.

    `data` is a bytes-like object or a PooledEvent (whose event_type is used
    unless `event_type` is given; otherwise the type defaults to 0). Raises
    DataTooLarge above 16384 bytes. Waits only as `AutoSizedEvent.emit_to_ring`
    describes, raising RingFull after `timeout` seconds (0: never waits).
    """
    return PoolId(_core.emit(data, event_type, timeout=timeout))
