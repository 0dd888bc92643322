"""rusted_ring: LMAX-Disruptor-style ring buffers for event systems.

One writer (or several) and many readers with their own cursors, in two delivery
modes: "backpressure" (nothing is lost; readers see payloads in place) and
"overwrite" (the writer never waits; lapped readers count what they lost).

    import rusted_ring as rr
    ring = rr.Ring(64, 2000)
    w, r = ring.writer(), ring.reader()
    w.add(b"stroke 1", event_type=7)
    for ev in r:
        print(ev.sequence, ev.event_type, bytes(ev))

Rings in shared memory are opened by name from any process, in Python or Lua:

    ring = rr.Ring.create_shared("strokes", 64, 2000)   # another process:
    ring = rr.Ring.open_shared("strokes")               # ... then writer()/reader()

The names of the rusted-ring crate (the Rust library this package follows:
EventPoolFactory, EventUtils, PoolStats, health_check, ...) work on process-wide
default pools in overwrite mode.
"""
from ._core import (
    Block,
    BlockClaim,
    Claim,
    DataTooLarge,
    Event,
    ForkedHandle,
    Reader,
    Ring,
    RingClosed,
    RingError,
    RingFull,
    SharedMemoryCreating,
    SharedMemoryError,
    SharedMemoryExists,
    SharedMemoryForeignOwner,
    SharedMemoryNotFound,
    TooManyReaders,
    Writer,
    WriterBusy,
    __version__,
    MAX_CLAIM,
    MAX_READERS,
    MAX_SLOT_SIZE,
    WAIT_STRATEGIES,
)

__all__ = [
    "Ring", "Writer", "Reader", "Event", "Claim", "Block", "BlockClaim",
    "RingError", "DataTooLarge", "RingFull", "RingClosed", "TooManyReaders", "WriterBusy",
    "SharedMemoryError", "SharedMemoryNotFound", "SharedMemoryExists", "MAX_CLAIM", "MAX_READERS", "MAX_SLOT_SIZE", "__version__",
    "SharedMemoryCreating", "SharedMemoryForeignOwner", "ForkedHandle", "WAIT_STRATEGIES",
]

# Named one by one (not `import *`) so that type checkers see the same __all__
# as the interpreter; tests/typing checks that each module's __all__ is here.
from .pools import (  # noqa: E402
    PRESETS,
    AutoSizedEvent,
    EventPoolFactory,
    EventSize,
    EventUtils,
    PooledEvent,
    PoolId,
    configure_pools,
    emit,
    estimate_pool_id,
    estimate_size,
    pools_config,
)
from .stats import PoolStats, SystemHealth, health_check  # noqa: E402
from .pipes import PipeStats, RingPipe, RingSink, RingSource  # noqa: E402

__all__ += [
    "EventSize", "PoolId", "PRESETS", "configure_pools", "pools_config", "estimate_size",
    "estimate_pool_id", "EventPoolFactory", "PooledEvent", "AutoSizedEvent", "EventUtils", "emit",
    "PoolStats", "SystemHealth", "health_check",
    "RingSource", "RingSink", "RingPipe", "PipeStats",
]

# Monitoring: live rings (weak registry), snapshots, a background Monitor.
# (rusted_ring.prometheus needs prometheus_client and is imported on its own.)
from .monitor import Alert, Monitor, PressureLevel, Sample  # noqa: E402
from .registry import live_rings  # noqa: E402
from .snapshots import snapshot  # noqa: E402

__all__ += ["Monitor", "Sample", "Alert", "PressureLevel", "snapshot", "live_rings"]
