"""Ping-pong latency in Python: rusted_ring against Python's queues, between
two threads and between two processes, side by side in one run.

    python bench/python/bench_latency.py            # full run
    python bench/python/bench_latency.py --quick    # a few seconds
    python bench/python/bench_latency.py --json out.json

A pinger sends a 64-byte payload carrying its sequence number, a ponger
sends it straight back on a second channel, and the pinger times the round
trip with time.perf_counter_ns() and checks the sequence. Every round trip is
kept; percentiles are exact. The first WARMUP round trips are dropped.

  threads    rusted_ring (two Rings, next(None) waits with the GIL
             released), queue.Queue, queue.SimpleQueue
  processes  rusted_ring (two shared rings), multiprocessing.Queue,
             faster-fifo, pyzmq PUSH/PULL over ipc (one pair each way)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import shutil
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()

PAYLOAD = 64
CAPACITY = 1024
WARMUP = 500
SEQ = struct.Struct("<Q")
PAD = bytes(PAYLOAD - SEQ.size)
QUANTILES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0]
CTX = mp.get_context("fork")
JOIN = 120.0

try:
    import faster_fifo
except ImportError:
    faster_fifo = None
try:
    import zmq
except ImportError:
    zmq = None

HAS_SHARED = hasattr(rr.Ring, "create_shared")


class Failed(Exception):
    pass


def summarize(name: str, kind: str, samples: list[int]) -> dict:
    s = sorted(samples)
    n = len(s)
    q = [s[int(x * (n - 1) + 0.5)] for x in QUANTILES]
    return {"name": name, "kind": kind, "payload": PAYLOAD, "samples": n, "mean_ns": sum(s) / n,
            "p50_ns": q[QUANTILES.index(0.5)], "p99_ns": q[QUANTILES.index(0.99)],
            "p999_ns": q[QUANTILES.index(0.999)], "max_ns": q[-1], "quantiles_ns": q}


def ping_loop(send, recv, n: int) -> list[int]:
    """n + WARMUP timed round trips; the samples after the warm-up."""
    clock, pack, unpack = time.perf_counter_ns, SEQ.pack, SEQ.unpack_from
    samples = []
    for i in range(n + WARMUP):
        msg = pack(i) + PAD
        t0 = clock()
        send(msg)
        back = recv()
        t1 = clock()
        if unpack(back)[0] != i:
            raise Failed(f"ping {i} came back as {unpack(back)[0]}")
        samples.append(t1 - t0)
    return samples[WARMUP:]


# ---- channels: (send, recv, close) on each side ----------------------------------------------

class RingChannel:
    """One direction: a ring, its writer on one side and a reader on the other."""

    def __init__(self, ring):
        self.ring = ring
        self.reader = ring.reader()   # registered before anything is sent

    def sender(self):
        add = self.ring.writer().add
        return add

    def receiver(self):
        nxt = self.reader.next
        return lambda: nxt(None)


def threads_ring(n: int) -> list[int]:
    ping = RingChannel(rr.Ring(PAYLOAD, CAPACITY))
    pong = RingChannel(rr.Ring(PAYLOAD, CAPACITY))

    def ponger():
        recv, send = ping.receiver(), pong.sender()
        while (ev := recv()) is not None:
            send(ev)   # an Event is a bytes-like object: no copy to Python bytes

    t = threading.Thread(target=ponger)
    t.start()
    try:
        return ping_loop(ping.sender(), pong.receiver(), n)
    finally:
        ping.ring.close()
        t.join(JOIN)


def threads_queue(make, n: int) -> list[int]:
    a, b = make(), make()

    def ponger():
        get, put = a.get, b.put
        while (msg := get()) is not None:
            put(msg)

    t = threading.Thread(target=ponger)
    t.start()
    try:
        return ping_loop(a.put, b.get, n)
    finally:
        a.put(None)
        t.join(JOIN)


def _in_process(ponger, *args):
    p = CTX.Process(target=ponger, args=args, daemon=True)
    p.start()
    return p


def _stop(p):
    p.join(10)
    if p.is_alive():
        p.kill()
        p.join()


def procs_ring(n: int) -> list[int]:
    base = f"rrbench-lat-{os.getpid()}-{time.monotonic_ns()}"
    names = (base + "-ping", base + "-pong")
    rings = [rr.Ring.create_shared(name, PAYLOAD, CAPACITY, mode="backpressure") for name in names]
    ready = CTX.Event()

    def ponger():
        ping, pong = (rr.Ring.open_shared(name) for name in names)
        r, w = ping.reader(), pong.writer()
        ready.set()
        nxt, add = r.next, w.add
        while (ev := nxt(None)) is not None:
            add(ev)

    back = rings[1].reader()
    p = _in_process(ponger)
    try:
        if not ready.wait(30):
            raise Failed("ponger process did not start")
        nxt = back.next
        return ping_loop(rings[0].writer().add, lambda: nxt(None), n)
    finally:
        rings[0].close()
        _stop(p)
        for ring, name in zip(rings, names):
            ring.close()
            rr.Ring.unlink_shared(name)


def procs_queue(make, n: int) -> list[int]:
    a, b = make(), make()

    def ponger():
        get, put = a.get, b.put
        while (msg := get()) is not None:
            put(msg)

    p = _in_process(ponger)
    try:
        return ping_loop(a.put, b.get, n)
    finally:
        a.put(None)
        _stop(p)


def procs_zmq(n: int) -> list[int]:
    tmp = tempfile.mkdtemp(prefix="rrbench-zmq-")
    ping_ep, pong_ep = f"ipc://{tmp}/ping", f"ipc://{tmp}/pong"
    ready = CTX.Event()

    def ponger():
        ctx = zmq.Context()
        pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
        pull.bind(ping_ep)
        push.connect(pong_ep)
        ready.set()
        recv, send = pull.recv, push.send
        while msg := recv():
            send(msg)

    p = _in_process(ponger)   # forked before this process starts zmq's threads
    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    pull.bind(pong_ep)        # the ponger's PUSH connects and retries until it is there
    try:
        if not ready.wait(30):
            raise Failed("ponger process did not start")
        push.connect(ping_ep)
        return ping_loop(push.send, pull.recv, n)
    finally:
        push.send(b"")
        _stop(p)
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()
        shutil.rmtree(tmp, ignore_errors=True)


def contenders():
    shared = None if HAS_SHARED else "rusted_ring has no Ring.create_shared yet (shared-memory rings)"
    fifo = None if faster_fifo else "faster_fifo is not installed"
    zq = None if zmq else "pyzmq is not installed"
    return [
        ("threads", "rusted_ring Ring", "rusted_ring", threads_ring),
        ("threads", "queue.Queue", "queue.Queue", lambda n: threads_queue(queue.Queue, n)),
        ("threads", "queue.SimpleQueue", "queue.SimpleQueue", lambda n: threads_queue(queue.SimpleQueue, n)),
        ("processes", "rusted_ring shared Ring", "rusted_ring", shared or procs_ring),
        ("processes", "multiprocessing.Queue", "multiprocessing.Queue", lambda n: procs_queue(CTX.Queue, n)),
        ("processes", "faster-fifo", "faster-fifo",
         fifo or (lambda n: procs_queue(lambda: faster_fifo.Queue(max_size_bytes=1 << 20), n))),
        ("processes", "pyzmq PUSH/PULL ipc", "pyzmq", zq or procs_zmq),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few round trips")
    ap.add_argument("--events", type=int, help="round trips per contender (default 20000, quick 2000)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    n = args.events or (2000 if args.quick else 20000)

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}, rusted_ring {rr.__version__}")
    print(f"ping-pong round trips of {PAYLOAD} B, {n} per contender after {WARMUP} warm-up; ns\n")
    print(f"  {'':34} {'mean':>9} {'p50':>9} {'p99':>9} {'p99.9':>9} {'max':>10}")
    rows, failed = [], 0
    for kind, name, group, fn in contenders():
        label = f"{kind}: {name}"
        if isinstance(fn, str):
            rows.append({"name": name, "kind": kind, "group": group, "skipped": fn})
            print(f"  {label:34} skipped: {fn}")
            continue
        try:
            row = summarize(name, kind, fn(n))
        except Failed as e:
            rows.append({"name": name, "kind": kind, "group": group, "error": str(e)})
            failed += 1
            print(f"  {label:34} FAILED: {e}")
            continue
        row["group"] = group
        rows.append(row)
        print(f"  {label:34} {row['mean_ns']:9.0f} {row['p50_ns']:9} {row['p99_ns']:9} "
              f"{row['p999_ns']:9} {row['max_ns']:10}")
    if args.json:
        doc = {"machine": info, "quick": args.quick, "round_trips": n, "warmup": WARMUP,
               "payload_bytes": PAYLOAD, "capacity": CAPACITY, "quantiles": QUANTILES, "results": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
