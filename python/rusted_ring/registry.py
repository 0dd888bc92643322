"""Every ring of this process, found without bookkeeping, and how to label it.

The core keeps a list of the Ring objects that are alive (`_core._live_rings()`).
The list holds weak references: being listed keeps no ring alive, and a ring
drops out when its last reference goes. The default pools join it once they
exist (they live as long as the process).

`collect` is what the monitor, the Prometheus collector, `snapshot` and the
``stats`` command share: for each target, one `RingView` (the ring, its label,
what kind of ring it is) and the ring's stats dict, read without stopping
writers or readers.

Labels. A ring is labelled by its ``name`` (``Ring(..., name="strokes")``, or a
shared ring's segment name), a default pool by ``"pool:XS"`` ... ``"pool:XL"``,
and an unnamed ring by ``"ring@<hex id>"``, which is unique while the ring
lives. Two live rings with the same name get their id appended to the second
one's label, so labels stay unique within one collection.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterable
from typing import Any, Literal, Union

from . import _core
from .pools import PoolId, PoolIdLike
from .stats import PoolStats

__all__ = ["RingView", "Targets", "live_rings", "ring_label", "collect", "TargetSet"]

Kind = Literal["pool", "shared", "ring"]
#: What a monitor, collector or snapshot may be pointed at: None for every live
#: ring and every default pool that exists, or Rings and pools ("XS", PoolId.M, 2).
Targets = Union[None, _core.Ring, PoolIdLike, Iterable[Union[_core.Ring, PoolIdLike]]]


@dataclasses.dataclass(frozen=True)
class RingView:
    """One ring as a monitor sees it.

    Fields:
        ring: the Ring object.
        label: its label (see the module docstring), unique within one collection.
        kind: "pool" for a default pool, "shared" for a named shared-memory ring,
            "ring" for any other.
        pool: the PoolId of a default pool, else None.
    """

    ring: _core.Ring
    label: str
    kind: Kind
    pool: PoolId | None = None


def live_rings() -> list[_core.Ring]:
    """Every Ring alive in this process: the default pools that exist (XS first), then the rest.

    Creates nothing and keeps nothing alive: the list is built at the moment
    of the call from the core's weak registry (oldest ring first).
    """
    return _pool_rings(_existing_pools()) + list(_core._live_rings())


def _existing_pools() -> dict[int, PoolId]:
    """id(ring) -> PoolId for the default pools that exist, XS first; creates no pool."""
    pools = {}
    for stat in PoolStats.collect_all():
        if stat.exists:
            ring = _core.pool_ring(int(stat.pool_id))   # exists already: nothing is created
            pools[id(ring)] = stat.pool_id
    return pools


def _pool_rings(pools: dict[int, PoolId], wanted: Iterable[PoolId] = tuple(PoolId)) -> list[_core.Ring]:
    return [_core.pool_ring(int(p)) for p in pools.values() if p in wanted]


def _is_shared(ring: _core.Ring) -> bool:
    return bool(ring.shared)


def ring_label(ring: _core.Ring, pool: PoolId | None = None) -> str:
    """The label of `ring`: its name, "pool:XS" for a default pool, else "ring@<hex id>"."""
    if pool is not None:
        return f"pool:{pool.name}"
    name = ring.name
    if name:
        return str(name)
    return f"ring@{id(ring):x}"


class TargetSet:
    """The rings a monitor or collector follows, resolved again at each collection.

    ``TargetSet(None)`` follows every live ring and every default pool that
    exists, including rings made later. Otherwise it follows the given Rings
    (through weak references, so a ring that its owner drops stops being
    followed) and the given pools once they exist (naming a pool never
    creates it).
    """

    def __init__(self, targets: Targets = None) -> None:
        self._everything = targets is None
        self._rings: list[weakref.ref[_core.Ring]] = []
        self._pools: list[PoolId] = []
        if targets is None:
            return
        if isinstance(targets, (_core.Ring, PoolId, int, str)):
            targets = [targets]
        for target in targets:
            if isinstance(target, _core.Ring):
                self._rings.append(weakref.ref(target))
            else:
                try:
                    self._pools.append(PoolId.coerce(target))
                except TypeError:
                    raise TypeError(
                        "monitor targets must be Rings or default pools (PoolId, 0..4, 'XS'..'XL'), "
                        f"not {type(target).__name__}") from None

    def resolve(self) -> list[RingView]:
        """The rings to read now, each once, with unique labels."""
        pools = _existing_pools()
        # The pools first (XS .. XL), then the other rings in the registry's order.
        if self._everything:
            rings = _pool_rings(pools) + list(_core._live_rings())
        else:
            rings = _pool_rings(pools, self._pools)
            rings += [r for r in (ref() for ref in self._rings) if r is not None]
        views: list[RingView] = []
        seen: set[int] = set()
        labels: set[str] = set()
        for ring in rings:
            if id(ring) in seen:
                continue
            seen.add(id(ring))
            pool = pools.get(id(ring))
            label = ring_label(ring, pool)
            if label in labels:
                label = f"{label}@{id(ring):x}"
            labels.add(label)
            kind: Kind = "pool" if pool is not None else "shared" if _is_shared(ring) else "ring"
            views.append(RingView(ring, label, kind, pool))
        return views


def collect(targets: Targets | TargetSet = None) -> list[tuple[RingView, dict[str, Any]]]:
    """Each target ring with its stats dict (`Ring.stats()`), read now."""
    target_set = targets if isinstance(targets, TargetSet) else TargetSet(targets)
    return [(view, view.ring.stats()) for view in target_set.resolve()]
