"""Wake-up latency of an asyncio consumer: rusted_ring's next_async against the
peers asyncio programs use today, side by side in one run.

    python bench/python/bench_async.py            # full run
    python bench/python/bench_async.py --quick    # a few seconds
    python bench/python/bench_async.py --json out.json

An asyncio task waits for the next event; a producer (a thread, or another
process) stamps time.perf_counter_ns() (CLOCK_MONOTONIC: one clock for every
process of the machine) into the payload and sends it; the latency is from
that stamp to the moment the awaiting task has the event in hand. One event
at a time: the producer waits for the consumer's acknowledgement, then lets
GAP_S pass so that the consumer is asleep in its event loop again before the
next event -- each sample is a wake-up from idle, never a queue drained in
a burst. Every sample is kept; percentiles are exact. The contenders of each kind
take turns (--rounds), so that a load coming and going on the machine
weighs on all of them alike; each turn drops its first WARMUP events.

  threads    rusted_ring: `await r.next_async()`, a Ring written by a thread
             asyncio.Queue: `await q.get()`, fed by the thread through
             loop.call_soon_threadsafe(q.put_nowait, item)
  processes  rusted_ring: `await r.next_async()`, a shared Ring written by a
             forked process
             multiprocessing.Queue: `await loop.run_in_executor(None, q.get)`
             (a thread of the default executor blocks in get)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()

PAYLOAD = 64
CAPACITY = 1024
WARMUP = 200
GAP_S = 0.0002          # the consumer is back in its loop's select() by then
STAMP = struct.Struct("<qQ")   # perf_counter_ns at the send, sequence
PAD = bytes(PAYLOAD - STAMP.size)
QUANTILES = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]
CTX = mp.get_context("fork")
JOIN = 120.0


class Failed(Exception):
    pass


def summarize(name: str, kind: str, samples: list[int]) -> dict:
    s = sorted(samples)
    n = len(s)
    q = [s[int(x * (n - 1) + 0.5)] for x in QUANTILES]
    return {"name": name, "kind": kind, "payload": PAYLOAD, "samples": n, "mean_ns": sum(s) / n,
            "p50_ns": q[QUANTILES.index(0.5)], "p99_ns": q[QUANTILES.index(0.99)],
            "p999_ns": q[QUANTILES.index(0.999)], "max_ns": q[-1], "quantiles_ns": q}


def produce(send, ack_wait, n: int) -> None:
    """The producer's side: n + WARMUP stamped events, one at a time."""
    clock, pack, sleep = time.perf_counter_ns, STAMP.pack, time.sleep
    for i in range(n + WARMUP):
        sleep(GAP_S)
        send(pack(clock(), i) + PAD)
        if not ack_wait():
            raise Failed(f"event {i} was never acknowledged")


async def consume(receive, ack, n: int) -> list[int]:
    """The asyncio side: the latency of each event, checked in order."""
    clock, unpack = time.perf_counter_ns, STAMP.unpack_from
    samples = []
    for i in range(n + WARMUP):
        data = await receive()
        t1 = clock()
        t0, seq = unpack(data)
        if seq != i:
            raise Failed(f"event {i} came as {seq}")
        samples.append(t1 - t0)
        ack()
    return samples[WARMUP:]


def thread_acks():
    done = threading.Event()

    def wait():
        ok = done.wait(JOIN)
        done.clear()
        return ok

    return done.set, wait


def run_thread(producer, consumer):
    """producer() in a thread, while consumer() runs on this thread's event loop."""
    errors = []

    def body():
        try:
            producer()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    try:
        return asyncio.run(asyncio.wait_for(consumer(), JOIN))
    finally:
        t.join(JOIN)
        if errors:
            raise Failed(f"producer: {errors[0]!r}")


# ---- threads ---------------------------------------------------------------------------------

def threads_ring(n: int) -> list[int]:
    ring = rr.Ring(PAYLOAD, CAPACITY)
    r = ring.reader()
    ack, ack_wait = thread_acks()

    async def consumer():
        return await consume(r.next_async, ack, n)   # an Event is bytes-like: no copy

    w = ring.writer()
    return run_thread(lambda: produce(w.add, ack_wait, n), consumer)


def threads_asyncio_queue(n: int) -> list[int]:
    ack, ack_wait = thread_acks()
    box = {}
    ready = threading.Event()

    async def consumer():
        box["loop"], box["q"] = asyncio.get_running_loop(), asyncio.Queue()
        ready.set()
        return await consume(box["q"].get, ack, n)

    def producer():
        if not ready.wait(JOIN):
            raise Failed("the event loop did not start")
        loop, q = box["loop"], box["q"]
        produce(lambda item: loop.call_soon_threadsafe(q.put_nowait, item), ack_wait, n)

    return run_thread(producer, consumer)


# ---- processes -------------------------------------------------------------------------------

def _stop(p):
    p.join(10)
    if p.is_alive():
        p.kill()
        p.join()


def procs_ring(n: int) -> list[int]:
    name = f"rrbench-async-{os.getpid()}-{time.monotonic_ns()}"
    ring = rr.Ring.create_shared(name, PAYLOAD, CAPACITY)
    r = ring.reader()   # registered before anything is sent
    acked = CTX.Event()

    def producer():
        w = rr.Ring.open_shared(name).writer()

        def wait():
            ok = acked.wait(JOIN)
            acked.clear()
            return ok

        produce(w.add, wait, n)

    p = CTX.Process(target=producer, daemon=True)
    p.start()
    try:
        async def consumer():
            return await consume(r.next_async, acked.set, n)

        return asyncio.run(asyncio.wait_for(consumer(), JOIN))
    finally:
        _stop(p)
        ring.close()
        rr.Ring.unlink_shared(name)


def procs_mp_queue(n: int) -> list[int]:
    q = CTX.Queue()
    acked = CTX.Event()

    def producer():
        def wait():
            ok = acked.wait(JOIN)
            acked.clear()
            return ok

        produce(q.put, wait, n)

    p = CTX.Process(target=producer, daemon=True)
    p.start()
    try:
        async def consumer():
            loop = asyncio.get_running_loop()

            async def receive():
                return await loop.run_in_executor(None, q.get)
            return await consume(receive, acked.set, n)

        return asyncio.run(asyncio.wait_for(consumer(), JOIN))
    finally:
        _stop(p)


def contenders():
    return [
        ("threads", "rusted_ring next_async", "rusted_ring", threads_ring),
        ("threads", "asyncio.Queue + call_soon_threadsafe", "asyncio.Queue", threads_asyncio_queue),
        ("processes", "rusted_ring next_async (shared Ring)", "rusted_ring", procs_ring),
        ("processes", "multiprocessing.Queue + run_in_executor", "multiprocessing.Queue",
         procs_mp_queue),
    ]


def alternate(n: int, rounds: int):
    """Each kind's contenders in turns: `rounds` runs of n / rounds events
    each, so a load that comes and goes on the machine weighs on every
    contender alike. Yields (kind, name, group, samples or the error)."""
    by_kind: dict[str, list] = {}
    for c in contenders():
        by_kind.setdefault(c[0], []).append(c)
    per_round = max(1, n // rounds)
    for kind, cs in by_kind.items():
        samples: dict[str, list[int] | str] = {name: [] for _, name, _, _ in cs}
        for _ in range(rounds):
            for _, name, _, fn in cs:
                if isinstance(samples[name], str):
                    continue
                try:
                    samples[name] += fn(per_round)
                except (Failed, asyncio.TimeoutError) as e:
                    samples[name] = str(e) or repr(e)
        for _, name, group, _ in cs:
            yield kind, name, group, samples[name]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few events")
    ap.add_argument("--events", type=int, help="events per contender (default 5000, quick 500)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="turns each contender takes, alternating with its peers (default 5)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    n = args.events or (500 if args.quick else 5000)

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}, rusted_ring {rr.__version__}")
    print(f"asyncio wake-up latency, {PAYLOAD} B events one at a time ({GAP_S * 1e6:.0f} us apart), "
          f"{n} per contender in {args.rounds} turns alternating with its peers, each after "
          f"{WARMUP} warm-up; ns\n")
    print(f"  {'':52} {'mean':>9} {'p50':>9} {'p99':>9} {'p99.9':>9} {'max':>10}")
    rows, failed = [], 0
    for kind, name, group, samples in alternate(n, args.rounds):
        label = f"{kind}: {name}"
        if isinstance(samples, str):
            rows.append({"name": name, "kind": kind, "group": group, "error": samples})
            failed += 1
            print(f"  {label:52} FAILED: {samples}")
            continue
        row = summarize(name, kind, samples)
        row["group"] = group
        rows.append(row)
        print(f"  {label:52} {row['mean_ns']:9.0f} {row['p50_ns']:9} {row['p99_ns']:9} "
              f"{row['p999_ns']:9} {row['max_ns']:10}")
    if args.json:
        doc = {"machine": info, "quick": args.quick, "events": n, "rounds": args.rounds, "warmup": WARMUP,
               "gap_s": GAP_S, "payload_bytes": PAYLOAD, "quantiles": QUANTILES, "results": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
