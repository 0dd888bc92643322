"""Three pipeline stages in Python threads: one ring whose readers follow each
other (Reader.process), against a chain of queue.SimpleQueue with a thread per
stage, and against RingPipe (a ring per stage, each event copied on).

    python bench/python/bench_pipeline.py              # full run (about a minute)
    python bench/python/bench_pipeline.py --quick      # a few seconds
    python bench/python/bench_pipeline.py --json out.json --runs 7

The shape is the LMAX Disruptor's OneToThreePipelineSequencedThroughputTest:
one producer thread publishes N 64-byte events, stage 1 handles each, stage 2
handles it after stage 1, stage 3 after stage 2. Every contender's stage calls
a handler function per event (a count), and the last one also takes the sequence out of each
payload and checks, at the end, that the sum and count of the sequences are
the stream's, so a contender that loses, repeats or reorders events fails
instead of reporting a figure. The producer publishes prebuilt payloads the
way each library offers: w.add_batch of 64 into a ring, q.put one at a time
into a SimpleQueue (which has no batch put); a second one-ring row publishes
one event per w.add, as a producer that gets its events one by one would.

  one ring, process()   a backpressure Ring of 4096 slots; stage k is
                        ring.reader(name=..., after=[stage k-1]) running
                        r.process(handler) in its thread: events are never
                        copied, and a stage never sees an event before the
                        one it follows has finished with it.
  ... w.add per event   the same, the producer calling w.add per event.
  SimpleQueue chain     queue.SimpleQueue between the stages: each stage
                        thread get()s, handles and put()s the item on.
  RingPipe chain        three rings of 4096 slots, a RingPipe per stage (the
                        package's building block before one-ring pipelines):
                        every stage copies each event into the next ring.

Figures are events per second from the first publish to the last stage's last
event. Runs alternate between the contenders (the first changes every round)
after one unmeasured warm-up run each; the median and the range of --runs
runs are reported, and the ratio of the medians (target: one ring >= 2x the
SimpleQueue chain).
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()

PAYLOAD = 64
CAPACITY = 4096
SEQ = struct.Struct("<Q")
LIMIT = 600.0   # seconds; only a broken build waits this long


def payloads(n: int) -> list[bytes]:
    """n 64-byte payloads, each starting with its sequence."""
    filler = bytes(PAYLOAD - SEQ.size)
    return [SEQ.pack(i) + filler for i in range(n)]


class Tally:
    """What a stage saw: how many events and (the last stage) the sum of their sequences."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def check(self, n: int) -> None:
        if self.count != n or self.total != n * (n - 1) // 2:
            raise AssertionError(f"the last stage saw {self.count} events (sum {self.total}), "
                                 f"not {n} (sum {n * (n - 1) // 2})")


def _threads(targets) -> list[threading.Thread]:
    errors: list[BaseException] = []

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as e:   # noqa: BLE001 - re-raised by _join
                errors.append(e)
        return run

    threads = [threading.Thread(target=guard(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    threads.append(errors)   # type: ignore[arg-type]
    return threads


def _join(threads) -> None:
    errors = threads.pop()
    deadline = time.monotonic() + LIMIT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    if any(t.is_alive() for t in threads):
        raise AssertionError(f"a stage is still running after {LIMIT} s")


def publish_batches(w, data: list[bytes]) -> None:
    add_batch = w.add_batch
    for i in range(0, len(data), 64):
        add_batch(data[i:i + 64])


def publish_each(w, data: list[bytes]) -> None:
    add = w.add
    for p in data:
        add(p)


def one_ring(data: list[bytes], publish=publish_batches) -> float:
    """Three process() stages over one ring; seconds for the whole stream."""
    ring = rr.Ring(PAYLOAD, CAPACITY)
    s1 = ring.reader(name="stage1")
    s2 = ring.reader(name="stage2", after=[s1])
    s3 = ring.reader(name="stage3", after=[s2])
    w = ring.writer()
    counts, last = [0, 0], Tally()

    def h1(ev, end):
        counts[0] += 1

    def h2(ev, end):
        counts[1] += 1

    unpack = SEQ.unpack_from

    def h3(ev, end):
        last.count += 1
        last.total += unpack(ev)[0]

    threads = _threads([lambda: s1.process(h1), lambda: s2.process(h2), lambda: s3.process(h3)])
    t0 = time.perf_counter()
    publish(w, data)
    ring.close()
    _join(threads)
    elapsed = time.perf_counter() - t0
    last.check(len(data))
    return elapsed


def simple_queues(data: list[bytes]) -> float:
    """Three stage threads joined by queue.SimpleQueue; seconds for the whole stream."""
    q1, q2, q3 = queue.SimpleQueue(), queue.SimpleQueue(), queue.SimpleQueue()
    counts, last = [0, 0], Tally()
    end = None

    def h1(item):
        counts[0] += 1

    def h2(item):
        counts[1] += 1

    unpack = SEQ.unpack_from

    def h3(item):
        last.count += 1
        last.total += unpack(item)[0]

    def stage(src, dst, handler):
        get, put = src.get, dst.put
        while True:
            item = get()
            if item is end:
                put(end)
                return
            handler(item)
            put(item)

    def stage3():
        get = q3.get
        while True:
            item = get()
            if item is end:
                return
            h3(item)

    threads = _threads([lambda: stage(q1, q2, h1), lambda: stage(q2, q3, h2), stage3])
    put = q1.put
    t0 = time.perf_counter()
    for p in data:
        put(p)
    put(end)
    _join(threads)
    elapsed = time.perf_counter() - t0
    last.check(len(data))
    return elapsed


def ring_pipes(data: list[bytes]) -> float:
    """Three RingPipe stages, a ring each (events copied on); seconds for the whole stream."""
    rings = [rr.Ring(PAYLOAD, CAPACITY) for _ in range(4)]
    counts, last = [0, 0], Tally()

    def t1(ev):
        counts[0] += 1
        return ev

    def t2(ev):
        counts[1] += 1
        return ev

    unpack = SEQ.unpack_from

    def t3(ev):
        last.count += 1
        last.total += unpack(ev)[0]
        return None                  # the last stage publishes nothing

    pipes = [rr.RingPipe(rings[0], t1, rings[1]), rr.RingPipe(rings[1], t2, rings[2]),
             rr.RingPipe(rings[2], t3, rings[3])]
    threads = _threads([p.run for p in pipes])
    w = rings[0].writer()
    t0 = time.perf_counter()
    publish_batches(w, data)
    rings[0].close()
    _join(threads)
    elapsed = time.perf_counter() - t0
    last.check(len(data))
    return elapsed


CONTENDERS = {
    "one_ring": ("one ring, 3 process() stages (after=)", one_ring),
    "one_ring_add": ("... the producer calling w.add per event",
                     lambda data: one_ring(data, publish_each)),
    "simple_queue": ("3 stage threads, queue.SimpleQueue chain", simple_queues),
    "ring_pipe": ("3 RingPipe stages, a ring each", ring_pipes),
}


def alternate(keys: list[str], n: int, runs: int, log=print) -> dict[str, list[float]]:
    """Events/s of each contender over `runs` alternating rounds, after a warm-up each."""
    data = payloads(n)
    warm = payloads(min(n, 20_000))
    for k in keys:
        CONTENDERS[k][1](warm)
    rates: dict[str, list[float]] = {k: [] for k in keys}
    for rnd in range(runs):
        order = keys[rnd % len(keys):] + keys[:rnd % len(keys)]
        for k in order:
            rates[k].append(n / CONTENDERS[k][1](data))
        log(f"  round {rnd + 1}/{runs}: " + ", ".join(f"{k} {rates[k][-1] / 1e3:,.0f} k/s" for k in keys))
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts, three runs")
    ap.add_argument("--events", type=int, help="events per run (default 300000; quick 30000)")
    ap.add_argument("--runs", type=int, help="alternating runs (default 7; quick 3)")
    ap.add_argument("--only", help="comma-separated contenders: " + ", ".join(CONTENDERS))
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = ap.parse_args(argv)
    n = args.events or (30_000 if args.quick else 300_000)
    runs = args.runs or (3 if args.quick else 7)
    keys = args.only.split(",") if args.only else list(CONTENDERS)
    for k in keys:
        if k not in CONTENDERS:
            ap.error(f"unknown contender {k!r}; choose from {', '.join(CONTENDERS)}")
    print(f"three pipeline stages, {n:,} events of {PAYLOAD} B, {runs} alternating runs")
    rates = alternate(keys, n, runs)
    results = []
    for k in keys:
        r = rates[k]
        results.append({"key": k, "name": CONTENDERS[k][0], "median": statistics.median(r),
                        "min": min(r), "max": max(r), "n": len(r), "events_per_s_all_runs": r})
    for res in results:
        print(f"{res['name']:<44} median {res['median'] / 1e3:9,.1f} k/s   "
              f"range {res['min'] / 1e3:,.1f}..{res['max'] / 1e3:,.1f} k/s")
    by = {res["key"]: res for res in results}
    if "one_ring" in by:
        for peer in ("simple_queue", "ring_pipe", "one_ring_add"):
            if peer in by:
                print(f"one ring / {peer}: {by['one_ring']['median'] / by[peer]['median']:.2f}x "
                      f"(ratio of the medians{'; target >= 2x' if peer == 'simple_queue' else ''})")
    if args.json:
        doc = {"machine": machine(), "events": n, "payload_bytes": PAYLOAD, "capacity": CAPACITY,
               "runs": runs, "results": results}
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
