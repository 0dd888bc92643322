"""The fuzzer's inputs as tests: every file in tests/fuzz/corpus/ (seeds) and
tests/fuzz/regressions/ (findings) replayed through fuzz_binding.py.

Each runs in its own interpreter (`fuzz_binding.py --replay`), so an input that
crashes the process, or that ASan stops under `make sanitize-python`, fails
its test instead of ending the run. No atheris needed.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rusted_ring as rr

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "fuzz_binding.py"
PACKAGE_ROOT = str(Path(rr.__file__).resolve().parent.parent)
INPUTS = sorted(HERE.glob("corpus/*.bin")) + sorted(HERE.glob("regressions/*.bin"))

# Findings whose fix is not in this tree yet: each replay is expected to fail
# (not strictly: a fixed binding makes it pass, and then the entry goes).
PENDING: dict[str, str] = {}


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fuzz_input_replays_without_a_finding(path, request):
    if path.name in PENDING:
        request.applymarker(pytest.mark.xfail(reason=PENDING[path.name], strict=False))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(HARNESS), "--replay", str(path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"


def test_every_pending_finding_has_its_input():
    missing = [name for name in PENDING if not (HERE / "regressions" / name).exists()]
    assert not missing, f"PENDING names inputs that are not in tests/fuzz/regressions/: {missing}"
