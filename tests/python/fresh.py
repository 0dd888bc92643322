"""Running a snippet in a new interpreter, for tests of process-wide state.

The default pools are created once per process and cannot be reconfigured
afterwards, so tests that configure them, or need them untouched, run in a
child process.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import rusted_ring as rr

PACKAGE_ROOT = str(Path(rr.__file__).resolve().parent.parent)


def run_fresh(body: str, timeout: float = 180) -> str:
    """Run `body` (with `rr` imported) in a new interpreter; fail with its output if it fails."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    code = "import rusted_ring as rr\n" + textwrap.dedent(body)
    # Run from the package's folder: `-c` puts the current directory first on
    # sys.path, and the checkout's top may hold a Lua rusted_ring.so.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=PACKAGE_ROOT)
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
