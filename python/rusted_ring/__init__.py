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

from .pools import *  # noqa: E402,F401,F403
from .pools import __all__ as _pools_all  # noqa: E402
from .stats import *  # noqa: E402,F401,F403
from .stats import __all__ as _stats_all  # noqa: E402
from .pipes import *  # noqa: E402,F401,F403
from .pipes import __all__ as _pipes_all  # noqa: E402

__all__ += _pools_all + _stats_all + _pipes_all

# Monitoring: live rings (weak registry), snapshots, a background Monitor.
# (rusted_ring.prometheus needs prometheus_client and is imported on its own.)
from .monitor import Alert, Monitor, PressureLevel, Sample  # noqa: E402
from .registry import live_rings  # noqa: E402
from .snapshots import snapshot  # noqa: E402

__all__ += ["Monitor", "Sample", "Alert", "PressureLevel", "snapshot", "live_rings"]
