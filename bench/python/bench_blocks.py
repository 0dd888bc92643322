"""Blocks for NumPy users: Writer.add_block -> Reader.next_block + a NumPy
reduction per block, against what a Python or NumPy user does without them.

    python bench/python/bench_blocks.py            # full run (about a minute)
    python bench/python/bench_blocks.py --quick    # a few seconds
    python bench/python/bench_blocks.py --json out.json
    python bench/python/bench_blocks.py --sizes 64,4096   # the block-size sweep's sizes

Every event is 64 bytes, a record of DTYPE: its sequence (u8), a value (f8)
and padding. Every reader checks every block: its first sequence, and the sum
of its sequences (the NumPy reduction per block, over the strided field), so a
run that loses or reorders anything fails instead of reporting a figure.
NumPy's BLAS threads are limited to one (OPENBLAS_NUM_THREADS, unless set): no
contender uses BLAS, and idle BLAS threads that spin take a core from a
2-core machine.

Threads (one writer thread -> one reader thread):
  blocks          rusted_ring backpressure Ring of 16384 slots: the writer
                  stamps the sequences of one 4096-row structured array
                  (np.add into its `seq` field) and add_block()s it; the
                  reader calls next_block(4096, None), as_array(DTYPE) and
                  reduces it. No Python object per event on either side.
  SimpleQueue     queue.SimpleQueue, one 64-byte bytes per put, built before
                  timing (the same shape as bench_queue.py's row), the reader
                  unpacking each sequence.

Processes (one writer process -> one reader process, forked):
  blocks          the same through Ring.create_shared
  mp.Queue        multiprocessing.Queue, one 64-byte bytes per put
  mp.Queue arrays multiprocessing.Queue carrying the same 4096-row arrays
                  (what a NumPy user does today): the writer puts a copy of
                  each block (put() pickles later, in a feeder thread, so the
                  array it was handed must not change), the reader reduces
                  what it gets exactly as the blocks reader does.

Each figure is the best of --repeat runs; the worst is printed beside it. A
sweep of block sizes between threads (one run each) closes the run: the curve
bench/notebooks/blocks.ipynb draws beside SimpleQueue.
Targets (issue 14): threads >= 50 M events/s and >= 10x SimpleQueue;
processes >= 100x mp.Queue one per put and >= 3x mp.Queue with arrays.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import struct
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()

PAYLOAD = 64
BLOCK = 4096
CAPACITY = 16384
DTYPE = np.dtype([("seq", "<u8"), ("value", "<f8"), ("pad", "V48")])
assert DTYPE.itemsize == PAYLOAD
SEQ = struct.Struct("<Q")
PAD = bytes(PAYLOAD - SEQ.size)
JOIN = 600.0
CTX = mp.get_context("fork")


class Failed(Exception):
    pass


# ---- one block: made by the writer, checked and reduced by the reader ----------------------------

def produce_blocks(put, n: int, block: int) -> None:
    """Hand n events to put() in arrays of `block` records, each stamped with its sequences."""
    arr = np.zeros(block, DTYPE)
    arr["value"] = 1.0
    seq = arr["seq"]
    iota = np.arange(block, dtype=np.uint64)
    for base in range(0, n, block):
        k = min(block, n - base)
        np.add(iota[:k], base, out=seq[:k])
        put(arr[:k])


def reduce_block(rec, expected: int) -> int:
    """Check one block of records (sequences expected, expected + 1, ...) by its sum,
    the reduction; Failed when anything is missing or out of order."""
    k = len(rec)
    total = int(rec["seq"].sum())
    if total != k * expected + k * (k - 1) // 2 or rec["seq"][0] != expected:
        raise Failed(f"block at {expected}: sequences out of order")
    return total


def consume_ring(r, block: int) -> tuple[int, int]:
    """Read blocks until the ring is closed: (events, sum of their sequences)."""
    nb = r.next_block
    expected, total = 0, 0
    while (b := nb(block, None)) is not None:
        if b.first_sequence != expected:
            raise Failed(f"block starts at {b.first_sequence}, expected {expected}")
        rec = b.as_array(DTYPE)
        total += reduce_block(rec, expected)
        expected += len(rec)
        del rec
        b.release()
    return expected, total


def _checked(name: str, got: tuple[int, int], n: int) -> None:
    if got != (n, n * (n - 1) // 2):
        raise Failed(f"{name}: reader saw {got[0]} of {n} events (sequences summing to {got[1]})")


# ---- threads ------------------------------------------------------------------------------------

def _two_threads(name: str, n: int, produce, consume) -> float:
    out, errors = [], []

    def run(fn, keep):
        try:
            r = fn()
            if keep:
                out.append((r, time.perf_counter()))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    reader = threading.Thread(target=run, args=(consume, True), name=f"{name}-reader")
    writer = threading.Thread(target=run, args=(produce, False), name=f"{name}-writer")
    t0 = time.perf_counter()
    reader.start()
    writer.start()
    writer.join(JOIN)
    reader.join(JOIN)
    if errors:
        raise Failed(f"{name}: {errors[0]!r}")
    if not out:
        raise Failed(f"{name}: no result in {JOIN} s")
    (got, t1) = out[0]
    if isinstance(got, tuple):
        _checked(name, got, n)
    elif got != n:
        raise Failed(f"{name}: reader saw {got} of {n} events in order")
    return n / (t1 - t0)


def blocks_threads(n: int, block: int = BLOCK) -> float:
    ring = rr.Ring(PAYLOAD, CAPACITY)
    w, r = ring.writer(), ring.reader()

    def produce():
        produce_blocks(lambda a: w.add_block(a), n, block)
        ring.close()

    return _two_threads("blocks", n, produce, lambda: consume_ring(r, block))


def simple_queue_threads(data: list[bytes]) -> float:
    q = queue.SimpleQueue()

    def produce():
        put = q.put
        for item in data:
            put(item)
        put(None)

    def consume():
        get, unpack = q.get, SEQ.unpack_from
        expected = 0
        while (item := get()) is not None:
            if unpack(item)[0] != expected:
                return expected
            expected += 1
        return expected

    return _two_threads("SimpleQueue", len(data), produce, consume)


# ---- processes -----------------------------------------------------------------------------------

def _two_processes(name: str, n: int, reader_setup, consume, produce) -> float:
    """A forked writer process runs produce(); this process reads (after reader_setup,
    before the fork, so nothing is missed). events/s from the start line to the last check."""
    state = reader_setup()
    go = CTX.Event()

    def writer():
        go.wait()
        produce()

    p = CTX.Process(target=writer, name=f"{name}-writer", daemon=True)
    p.start()
    try:
        t0 = time.perf_counter()
        go.set()
        got = consume(state)
        t1 = time.perf_counter()
    finally:
        p.join(JOIN)
        if p.is_alive():
            p.kill()
            p.join()
    if p.exitcode != 0:
        raise Failed(f"{name}: writer exited with {p.exitcode}")
    if isinstance(got, tuple):
        _checked(name, got, n)
    elif got != n:
        raise Failed(f"{name}: reader saw {got} of {n} events in order")
    return n / (t1 - t0)


def blocks_processes(n: int, block: int = BLOCK) -> float:
    name = f"rrblocks-{os.getpid()}-{time.monotonic_ns()}"
    ring = rr.Ring.create_shared(name, PAYLOAD, CAPACITY)

    def produce():
        w_ring = rr.Ring.open_shared(name)
        with w_ring.writer() as w:
            produce_blocks(lambda a: w.add_block(a), n, block)
        w_ring.close()

    try:
        return _two_processes("blocks", n, ring.reader, lambda r: consume_ring(r, block), produce)
    finally:
        ring.close()
        rr.Ring.unlink_shared(name)


def mp_queue_one(data: list[bytes]) -> float:
    q = CTX.Queue()

    def produce():
        put = q.put
        for item in data:
            put(item)
        put(None)

    def consume(_):
        get, unpack = q.get, SEQ.unpack_from
        expected = 0
        while (item := get()) is not None:
            if unpack(item)[0] != expected:
                return expected
            expected += 1
        return expected

    try:
        return _two_processes("mp.Queue", len(data), lambda: None, consume, produce)
    finally:
        q.close()
        q.join_thread()


def mp_queue_arrays(n: int, block: int = BLOCK) -> float:
    q = CTX.Queue()

    def produce():
        produce_blocks(lambda a: q.put(a.copy()), n, block)
        q.put(None)

    def consume(_):
        get = q.get
        expected, total = 0, 0
        while (rec := get()) is not None:
            total += reduce_block(rec, expected)
            expected += len(rec)
        return expected, total

    try:
        return _two_processes("mp.Queue arrays", n, lambda: None, consume, produce)
    finally:
        q.close()
        q.join_thread()


# ---- the run ---------------------------------------------------------------------------------------

def payloads(n: int) -> list[bytes]:
    return [SEQ.pack(s) + PAD for s in range(n)]


def best(fn, repeat: int) -> tuple[float, float]:
    runs = [fn() for _ in range(repeat)]
    return max(runs), min(runs)


def block_size_sweep(sizes, n: int, repeat: int = 1) -> list[dict]:
    """events/s of blocks between threads for each block size (the notebook's curve)."""
    return [{"block": s, "events_per_s": best(lambda s=s: blocks_threads(n, s), repeat)[0]}
            for s in sizes]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts, one repetition")
    ap.add_argument("--events", type=int, help="events per blocks run (default 20000000, quick 1000000)")
    ap.add_argument("--slow-events", type=int,
                    help="events per one-per-put run (default 500000, quick 50000)")
    ap.add_argument("--repeat", type=int, help="repetitions, best kept (default 3, quick 1)")
    ap.add_argument("--sizes", default="16,64,256,1024,4096",
                    help="block sizes of the sweep between threads (comma-separated; '' for none)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    n = args.events or (1_000_000 if args.quick else 20_000_000)
    n_slow = args.slow_events or (50_000 if args.quick else 500_000)
    repeat = args.repeat or (1 if args.quick else 3)

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
          f"{info['python']}, NumPy {np.__version__}, rusted_ring {rr.__version__}")
    print(f"{PAYLOAD} B events, blocks of {BLOCK}, ring capacity {CAPACITY}, best of {repeat}\n")
    data = payloads(n_slow)
    rows = []
    contenders = [
        ("threads", "rusted_ring add_block / next_block (4096) + NumPy", n,
         lambda: blocks_threads(n)),
        ("threads", "queue.SimpleQueue put / get", n_slow, lambda: simple_queue_threads(data)),
        ("processes", "rusted_ring shared add_block / next_block (4096) + NumPy", n,
         lambda: blocks_processes(n)),
        ("processes", "multiprocessing.Queue put / get", n_slow, lambda: mp_queue_one(data)),
        ("processes", "multiprocessing.Queue 4096-row arrays + NumPy", n,
         lambda: mp_queue_arrays(n)),
    ]
    failed = 0
    print(f"  {'':10} {'':58} {'events':>10} {'events/s':>14} {'ns/event':>9} {'worst run':>14}")
    for kind, name, events, fn in contenders:
        row = {"kind": kind, "name": name, "events": events}
        try:
            rate, worst = best(fn, repeat)
        except Failed as e:
            row["error"] = str(e)
            failed += name.startswith("rusted_ring")
            print(f"  {kind:10} {name:58} FAILED: {e}")
        else:
            row.update(events_per_s=rate, worst_events_per_s=worst)
            print(f"  {kind:10} {name:58} {events:10} {rate:14,.0f} {1e9 / rate:9.2f} {worst:14,.0f}")
        rows.append(row)

    rate = {r["name"]: r.get("events_per_s") for r in rows}
    ratios = []
    print()
    for ours, peer, target in [
            (contenders[0][1], contenders[1][1], ">= 10x (and >= 50 M events/s)"),
            (contenders[2][1], contenders[3][1], ">= 100x"),
            (contenders[2][1], contenders[4][1], ">= 3x")]:
        if rate.get(ours) and rate.get(peer):
            x = rate[ours] / rate[peer]
            ratios.append({"ours": ours, "peer": peer, "ratio": x, "target": target})
            print(f"  {ours} vs {peer}: {x:.1f}x (target {target})")

    sweep = []
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        sweep = block_size_sweep(sizes, max(n // 8, max(sizes) * 16))
        print("\n  events/s against block size, threads (one run each; SimpleQueue one per put: "
              f"{rate.get(contenders[1][1]) or 0:,.0f}):")
        for s in sweep:
            print(f"    {s['block']:6} {s['events_per_s']:14,.0f}")

    if args.json:
        doc = {"machine": info, "numpy": np.__version__, "payload_bytes": PAYLOAD, "block": BLOCK,
               "capacity": CAPACITY, "repeat": repeat, "results": rows, "ratios": ratios,
               "sweep": sweep}
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
