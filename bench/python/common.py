"""Helpers shared by the Python benchmarks: the package under test and the
machine they ran on."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def import_rusted_ring():
    """The installed rusted_ring, or the checkout's python/ when it is not installed."""
    try:
        import rusted_ring
    except ImportError:  # run from a source checkout without installing
        sys.path.insert(0, str(ROOT / "python"))
        import rusted_ring
    return rusted_ring


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model, core counts, Python and rusted_ring versions."""
    try:
        import rusted_ring
        version = rusted_ring.__version__
    except ImportError:
        version = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable,
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": platform.platform(), "rusted_ring": version}
