"""The notebooks in bench/notebooks run headlessly, in quick mode, from top to
bottom without an error, and draw every figure they promise.

Run by `make test-notebooks` (part of `make test`). Each notebook is executed
with nbclient in a Jupyter kernel of the interpreter running this test (a
kernel spec written to a temporary JUPYTER_PATH, so a fresh virtual
environment needs only ipykernel installed, nothing registered). Their
result file, $RR_BENCH_RESULTS, is pointed at a file that does not exist, so
every notebook measures what it plots with `bench/run.py --quick` instead of
loading an earlier run. That run is made smaller still (RR_BENCH_ARGS,
BENCH_ARGS below): one measured run per contender instead of two, and the
alternating groups without the busy-spinning waits, which on a machine with
fewer cores than threads take most of the time (the alternating cells still
draw the yield and block panels; the C tests cover the spin strategy). The
figures then show less, but every cell runs.

A code cell tagged "figure" must leave at least one image/png output. The cell
tagged "monitor" must too once rusted_ring has a Monitor.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "bench" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"throughput.ipynb", "latency.ipynb", "pools_and_backpressure.ipynb", "blocks.ipynb"}
KERNEL = "rusted-ring-bench"
BENCH_ARGS = "--runs 1 --waits yield,block"
CELL_TIMEOUT = 600   # seconds; a quick benchmark run inside a cell takes well under a minute


def has_monitor() -> bool:
    sys.path.insert(0, str(ROOT / "python"))
    try:
        import rusted_ring
    except ImportError:
        return False
    return hasattr(rusted_ring, "Monitor")


@pytest.fixture(scope="session")
def kernel(tmp_path_factory):
    """A kernel spec named KERNEL that starts this very interpreter."""
    pytest.importorskip("ipykernel", reason="needs ipykernel (pip install '.[bench]')")
    base = tmp_path_factory.mktemp("jupyter")
    spec = base / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(base) + (os.pathsep + old if old else "")
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def test_every_promised_notebook_is_there():
    assert EXPECTED <= {nb.name for nb in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode_and_draws_its_figures(path, kernel, tmp_path, monkeypatch):
    monkeypatch.setenv("RR_BENCH_RESULTS", str(tmp_path / "no-such-results.json"))
    monkeypatch.setenv("RR_BENCH_ARGS", BENCH_ARGS)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "python") + (os.pathsep + pythonpath if pythonpath else ""))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()   # raises CellExecutionError, naming the cell, when one fails

    def images(cell):
        return sum("image/png" in o.get("data", {}) for o in cell.outputs)

    figure_cells = [c for c in nb.cells if "figure" in c.metadata.get("tags", [])]
    assert figure_cells, f"{path.name} has no cell tagged 'figure'"
    missing = [c.source.splitlines()[0] for c in figure_cells if images(c) == 0]
    assert not missing, f"{path.name}: figure cells drew nothing: {missing}"
    for cell in nb.cells:
        if "monitor" in cell.metadata.get("tags", []) and has_monitor():
            assert images(cell), f"{path.name}: rusted_ring has a Monitor but its history was not plotted"
