"""What the notebooks share: finding the repository, loading a result file of
bench/run.py, or running the benchmarks they need in quick mode.

The result file is $RR_BENCH_RESULTS if set, else bench/results/results.json
(what `make bench` writes). When it is missing, or lacks a group a notebook
plots, the notebook runs those groups with `bench/run.py --quick` instead
(a few seconds to a minute) and says so. $RR_BENCH_ARGS, when set, adds
options to that run (tests/notebooks sets "--runs 1 --waits yield,block":
the notebooks' code is what it tests, not the figures' spread).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "results.json"

if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))


def import_rusted_ring():
    """rusted_ring, from the installed package or the checkout's python/ folder."""
    try:
        import rusted_ring
    except ImportError:
        sys.path.insert(0, str(ROOT / "python"))
        import rusted_ring
    return rusted_ring


def results_path() -> Path:
    return Path(os.environ.get("RR_BENCH_RESULTS") or RESULTS)


def load(groups: list[str]) -> dict:
    """A result document holding `groups`: loaded, or measured now in quick mode."""
    path = results_path()
    if path.exists():
        doc = json.loads(path.read_text())
        missing = [g for g in groups if g not in doc.get("groups", {})]
        if not missing:
            print(f"loaded {path}: {'quick' if doc.get('quick') else 'full'} run of {doc.get('started')}")
            return doc
        print(f"{path} has no {', '.join(missing)}: running the quick benchmarks instead")
    else:
        print(f"no result file at {path}: running the quick benchmarks")
    out = Path(tempfile.mkdtemp(prefix="rr-notebook-")) / "results.json"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", ",".join(groups),
           "--out", str(out), *shlex.split(os.environ.get("RR_BENCH_ARGS", ""))]
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if not out.exists():
        raise RuntimeError(f"bench/run.py wrote no results (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    doc = json.loads(out.read_text())
    for name, g in doc["groups"].items():
        print(f"  {name}: {g['status']}{': ' + g['reason'] if g.get('reason') else ''} ({g.get('seconds')} s)")
    return doc


def data(doc: dict, group: str) -> dict | None:
    """A group's figures, or None (with the reason printed) when it did not run."""
    g = doc["groups"].get(group)
    if g is None:
        print(f"{group}: not in this result file")
        return None
    if g.get("status") != "ok":
        print(f"{group}: {g.get('status')}: {g.get('reason')}")
        return None
    return g["data"]


def machine_table(doc: dict):
    """The machine and the run, as a one-column pandas DataFrame."""
    import pandas as pd
    m = dict(doc.get("machine", {}))
    m["command"] = doc.get("command")
    m["started"] = doc.get("started")
    m["quick"] = doc.get("quick")
    return pd.DataFrame({"value": {k: v for k, v in m.items() if v is not None}})


def summary_table(doc: dict, sections: list[str] | None = None):
    """The run's summary rows (rusted_ring beside each peer) as a DataFrame."""
    import pandas as pd
    from run import summary   # bench/run.py: recompute with this checkout's rows
    rows = summary(doc)
    out = []
    for r in rows:
        if sections and not any(r["section"].startswith(s) for s in sections):
            continue
        out.append({"section": r["section"], "workload": r["what"], "rusted_ring": r["ours"],
                    "peer": r["peer"], "unit": r["unit"],
                    "x (>1: rusted_ring better)": round(r["speedup"], 2) if "speedup" in r else None,
                    "peer is": r["peer_label"], "note": r.get("note") or r.get("missing", "")})
    return pd.DataFrame(out)
