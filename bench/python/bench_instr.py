"""Instructions per event under callgrind: rusted_ring's per-event Python path
against queue.SimpleQueue, counted instead of timed.

    python bench/python/bench_instr.py            # full run (about a minute)
    python bench/python/bench_instr.py --quick    # add + next against put + get_nowait only
    python bench/python/bench_instr.py --json out.json

Wall-clock figures swing with the machine's load; instruction counts do not,
so this is the figure to compare before and after a change to the binding.
Each case runs twice under `valgrind --tool=callgrind`, with N1 and N2 loop
iterations; (instructions of the N2 run - those of the N1 run) / (N2 - N1)
is the cost of one iteration, without the interpreter's start-up and the
case's setup. The loop itself is part of every case alike (the "empty loop"
row says how much that is).

Cases (64-byte payloads, one thread, nothing waits):
  Ring add + next            w.add(b); r.next()
  SimpleQueue put + get      q.put(b); q.get_nowait()      (target: >= the ring's)
  Ring add + ev = next       w.add(b); ev = r.next(): the last event is still
                             referenced while the next is read (a hold)
  SimpleQueue ... item = get q.put(b); item = q.get_nowait()
  Ring add_batch/next_batch  w.add_batch(64 payloads); r.next_batch(64), per event
  ... batch = next_batch     the same, the last batch still referenced while the
                             next is read
  Ring add_block/next_block  w.add_block(64 rows); r.next_block(64), per event
  Ring process(handler)      w.add_batch(64 payloads); r.process(handler, timeout=0):
                             the handler loop in C, per event
  next_batch loop + handler  w.add_batch(64 payloads); the same loop in Python:
                             for i, ev in enumerate(r.next_batch(64)):
                             handler(ev, i == last), per event (the handler does nothing)
  empty loop                 for _ in range(n): pass

Without valgrind on PATH the script says so and exits 0 (nothing measured).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
PAYLOAD = 64
BATCH = 64
CAPACITY = 4096

CASES = {
    "ring": ("Ring add + next", 1),
    "queue": ("SimpleQueue put + get_nowait", 1),
    "ring_kept": ("Ring add + ev = next (kept one call)", 1),
    "queue_kept": ("SimpleQueue put + item = get_nowait", 1),
    "ring_batch": ("Ring add_batch(64) + next_batch(64)", BATCH),
    "ring_batch_kept": ("Ring add_batch(64) + batch = next_batch(64)", BATCH),
    "ring_block": ("Ring add_block(64) + next_block(64)", BATCH),
    "ring_process": ("Ring add_batch(64) + process(handler)", BATCH),
    "ring_batch_loop": ("Ring add_batch(64) + next_batch loop + handler", BATCH),
    "empty": ("empty loop", 1),
}


def child(case: str, n: int) -> None:
    """Set the case up, then run its loop n times (runs under callgrind)."""
    sys.path.insert(0, str(HERE.parent))
    from common import import_rusted_ring
    rr = import_rusted_ring()
    import queue
    data = bytes(PAYLOAD)
    if case == "ring":
        ring = rr.Ring(PAYLOAD, CAPACITY)
        w, r = ring.writer(), ring.reader()
        add, nxt = w.add, r.next
        for _ in range(n):
            add(data)
            nxt()
        assert r.delivered == n
    elif case == "queue":
        q = queue.SimpleQueue()
        put, get = q.put, q.get_nowait
        for _ in range(n):
            put(data)
            get()
    elif case == "ring_kept":
        ring = rr.Ring(PAYLOAD, CAPACITY)
        w, r = ring.writer(), ring.reader()
        add, nxt = w.add, r.next
        ev = None
        for _ in range(n):
            add(data)
            ev = nxt()
        assert r.delivered == n and ev is not None
    elif case == "queue_kept":
        q = queue.SimpleQueue()
        put, get = q.put, q.get_nowait
        item = None
        for _ in range(n):
            put(data)
            item = get()
        assert item is data
    elif case == "ring_batch":
        ring = rr.Ring(PAYLOAD, CAPACITY)
        w, r = ring.writer(), ring.reader()
        add_batch, nb = w.add_batch, r.next_batch
        batch = [data] * BATCH
        for _ in range(n):
            add_batch(batch)
            nb(BATCH)
        assert r.delivered == n * BATCH
    elif case == "ring_batch_kept":
        ring = rr.Ring(PAYLOAD, CAPACITY)
        w, r = ring.writer(), ring.reader()
        add_batch, nb = w.add_batch, r.next_batch
        batch = [data] * BATCH
        got = None
        for _ in range(n):
            add_batch(batch)
            got = nb(BATCH)
        assert r.delivered == n * BATCH and len(got) == BATCH
    elif case == "ring_block":
        ring = rr.Ring(PAYLOAD, CAPACITY)
        w, r = ring.writer(), ring.reader()
        add_block, nb = w.add_block, r.next_block
        rows = memoryview(bytearray(BATCH * PAYLOAD)).cast("B", (BATCH, PAYLOAD))
        for _ in range(n):
            add_block(rows)
            nb(BATCH)
        assert r.delivered == n * BATCH
    elif case in ("ring_process", "ring_batch_loop"):
        ring = rr.Ring(PAYLOAD, CAPACITY)
        w, r = ring.writer(), ring.reader()
        add_batch, nb, process = w.add_batch, r.next_batch, r.process
        batch = [data] * BATCH

        def handler(ev, end_of_batch):
            pass

        if case == "ring_process":
            for _ in range(n):
                add_batch(batch)
                process(handler, timeout=0)
        else:
            for _ in range(n):
                add_batch(batch)
                events = nb(BATCH)
                last = len(events) - 1
                for i, ev in enumerate(events):
                    handler(ev, i == last)
        assert r.delivered == n * BATCH
    elif case == "empty":
        for _ in range(n):
            pass
    else:
        raise SystemExit(f"unknown case {case!r}")


def instructions(case: str, n: int, tmp: str) -> int:
    """Instructions callgrind counts for the whole child process."""
    out = os.path.join(tmp, f"cg.{case}.{n}")
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           "--dump-line=no", "--dump-instr=no", "--compress-strings=no",
           sys.executable, str(HERE), "--child", case, str(n)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{case}: callgrind run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    text = Path(out).read_text()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if not m:
        raise SystemExit(f"{case}: no totals in {out}")
    return int(m.group(1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations, the two headline cases")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--child", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--cases", help="comma-separated, of: " + ", ".join(CASES)
                    + " (default: all; --quick: ring,queue)")
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    if not shutil.which("valgrind"):
        print("bench_instr: valgrind is not installed; instruction counts skipped "
              "(apt-get install valgrind)")
        if args.json:
            Path(args.json).write_text(json.dumps({"skipped": "valgrind is not installed"}) + "\n")
        return 0
    n1, n2 = (1_000, 6_000) if args.quick else (10_000, 60_000)
    cases = (args.cases or ("ring,queue" if args.quick else ",".join(CASES))).split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    results = {}
    print(f"instructions per event under callgrind, {PAYLOAD} B payloads, "
          f"({n2} - {n1} iterations), {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            name, per = CASES[case]
            a = instructions(case, n1, tmp)
            b = instructions(case, n2, tmp)
            results[case] = {"name": name, "instructions_per_event": (b - a) / ((n2 - n1) * per)}
            print(f"  {name:40} {results[case]['instructions_per_event']:10.0f}")
    for ours, peer, target in (("ring", "queue", " (target <= 1.0x)"), ("ring_kept", "queue_kept", ""),
                               ("ring_process", "ring_batch_loop", " (target < 1.0x)")):
        if ours in results and peer in results:
            ratio = results[ours]["instructions_per_event"] / results[peer]["instructions_per_event"]
            print(f"  {results[ours]['name']} / {results[peer]['name']}: {ratio:.2f}x{target}")
    if args.json:
        Path(args.json).write_text(json.dumps({"n1": n1, "n2": n2, "python": sys.version,
                                               "results": list(results.values())}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
