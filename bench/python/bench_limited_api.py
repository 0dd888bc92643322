"""What the limited C API costs the binding: the same extension built twice,
against the full C API and against the limited API of CPython 3.11
(RR_LIMITED_API=0 and =1, see setup.py), compared on the per-event paths.

    python bench/python/bench_limited_api.py            # about three minutes
    python bench/python/bench_limited_api.py --quick    # fewer iterations and rounds
    make bench-limited-api                              # the same, with make's Python

Two measures, for add + next (w.add(b); r.next(), 64-byte payloads) and for
add_block + next_block (64 rows of 64 bytes a call, per event):
  - instructions per event under callgrind (bench_instr.py's cases ring and
    ring_block): repeatable, the figure the decision rests on;
  - wall-clock ns per event, the two builds timed in alternating child
    processes (A B B A ...), the median of each: the check that the
    instruction counts tell the same story on a real CPU. A loaded machine
    makes these noisy; the instruction counts are not.
The project ships abi3 wheels only if the limited build costs at most 5% more
on both paths (README, "Installing"); the script prints that verdict.

The builds go to build/limited-api/{full,limited}/ (the package's .py files
copied beside each extension); the checkout's own in-place build is untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
OUT = ROOT / "build" / "limited-api"
VARIANTS = {"full": "0", "limited": "1"}
PAYLOAD, BATCH, CAPACITY = 64, 64, 4096
# bench_instr.py's case for each path, and its name here
PATHS = {"ring": "add + next", "ring_block": "add_block(64) + next_block(64)"}
ALLOWED = 0.05


def build(variant: str) -> Path:
    """The extension of one variant, with the package beside it."""
    dest = OUT / variant
    shutil.rmtree(dest, ignore_errors=True)
    pkg = dest / "rusted_ring"
    pkg.mkdir(parents=True)
    for f in (ROOT / "python" / "rusted_ring").iterdir():
        if f.suffix in (".py", ".pyi") or f.name == "py.typed":
            shutil.copy(f, pkg)
    env = dict(os.environ, RR_LIMITED_API=VARIANTS[variant], RR_WERROR="1")
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(dest),
                    "--build-temp", str(OUT / f"{variant}-tmp")],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    built = [p.name for p in pkg.glob("_core*.so")]
    want_abi3 = variant == "limited"
    if len(built) != 1 or built[0].endswith(".abi3.so") != want_abi3:
        raise SystemExit(f"{variant}: setup.py built {built}")
    return dest


def child_time(case: str, n: int) -> None:
    """Print the best of three timed runs of n iterations, in ns per event."""
    import rusted_ring as rr
    best = float("inf")
    for _ in range(3):
        ring = rr.Ring(PAYLOAD, CAPACITY)
        w, r = ring.writer(), ring.reader()
        if case == "ring":
            add, nxt, data = w.add, r.next, bytes(PAYLOAD)
            t0 = time.perf_counter_ns()
            for _ in range(n):
                add(data)
                nxt()
            per = (time.perf_counter_ns() - t0) / n
        else:
            add_block, nb = w.add_block, r.next_block
            rows = memoryview(bytearray(BATCH * PAYLOAD)).cast("B", (BATCH, PAYLOAD))
            t0 = time.perf_counter_ns()
            for _ in range(n):
                add_block(rows)
                nb(BATCH)
            per = (time.perf_counter_ns() - t0) / (n * BATCH)
        assert r.delivered > 0
        best = min(best, per)
    print(best)


def run_child(dest: Path, case: str, n: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(dest))
    out = subprocess.run([sys.executable, str(HERE), "--child-time", case, str(n)], env=env,
                         cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def instructions(dest: Path, quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "instr.json"
        env = dict(os.environ, PYTHONPATH=str(dest))
        cmd = [sys.executable, str(HERE.parent / "bench_instr.py"), "--cases", ",".join(PATHS),
               "--json", str(out)] + (["--quick"] if quick else [])
        subprocess.run(cmd, env=env, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        data = json.loads(out.read_text())
    if "skipped" in data:
        return {}
    return {case: res["instructions_per_event"] for case, res in zip(PATHS, data["results"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations and rounds")
    ap.add_argument("--rounds", type=int, help="alternating timing rounds (default 10, --quick 4)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--child-time", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_time:
        child_time(args.child_time[0], int(args.child_time[1]))
        return 0
    if sys.version_info < (3, 11):
        print("bench_limited_api: the limited-API build needs CPython 3.11+; nothing measured")
        return 0
    dirs = {v: build(v) for v in VARIANTS}
    print(f"the limited API's cost, CPython {sys.version.split()[0]}, {PAYLOAD} B payloads")

    instr = {v: instructions(d, args.quick) for v, d in dirs.items()}
    results = {"python": sys.version, "instructions": instr, "ns": {}}
    if instr["full"]:
        print("  instructions per event (callgrind)      full    limited   cost")
        for case, name in PATHS.items():
            a, b = instr["full"][case], instr["limited"][case]
            print(f"    {name:34} {a:8.0f} {b:8.0f} {100 * (b / a - 1):+7.1f}%")
    else:
        print("  instructions: valgrind is not installed, skipped")

    rounds = args.rounds or (4 if args.quick else 10)
    n = {"ring": 20_000 if args.quick else 200_000, "ring_block": 2_000 if args.quick else 20_000}
    ns = {v: {c: [] for c in PATHS} for v in VARIANTS}
    order = list(VARIANTS)
    for _ in range(rounds):
        for v in order:
            for case in PATHS:
                ns[v][case].append(run_child(dirs[v], case, n[case]))
        order.reverse()                  # A B, B A, A B, ...: drift falls on both alike
    print(f"  ns per event, median of {rounds} alternating runs  full    limited   cost")
    verdict = []
    for case, name in PATHS.items():
        a, b = (statistics.median(ns[v][case]) for v in VARIANTS)
        results["ns"][case] = {v: ns[v][case] for v in VARIANTS}
        print(f"    {name:34} {a:8.1f} {b:8.1f} {100 * (b / a - 1):+7.1f}%")
        cost = instr["limited"][case] / instr["full"][case] - 1 if instr["full"] else b / a - 1
        verdict.append((name, cost))
    worst = max(c for _, c in verdict)
    basis = "instructions" if instr["full"] else "timings"
    print(f"  verdict ({basis}): the limited API costs {100 * worst:+.1f}% at most; "
          + ("within" if worst <= ALLOWED else "over") + f" the {100 * ALLOWED:.0f}% allowed")
    results["worst_cost"] = worst
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
