"""rusted_ring against Python's own queues, side by side in one run.

    python bench/python/bench_queue.py            # full run (about a minute)
    python bench/python/bench_queue.py --quick    # CI smoke run (a few seconds)
    python bench/python/bench_queue.py --json out.json

(a) one thread: an add followed by a next, ns per pair (target <= 150 ns).
(c) fan-out, the seed's scenario: one writer thread -> three reader threads that
    each see every event: one Ring with three readers against one queue per
    reader (the writer puts each event three times).
(b) one writer thread -> one reader thread, 64-byte payloads, events/s for a
    backpressure Ring one event at a time, the same with add_batch/next_batch
    of 64, queue.Queue, queue.SimpleQueue and collections.deque guarded by a
    threading.Condition; ratios against queue.Queue (targets >= 10x one at a
    time, >= 50x batched).

Every payload starts with its sequence number; every reader checks that the
sequences arrive complete and in order, so a run that loses or reorders
anything fails instead of reporting a figure. The payloads are built once,
before any timing, and every contender moves the same bytes objects, so the
figures measure handing events from one thread to another and checking them,
not building them (that costs about 100 ns per payload, for every contender
alike). The batched reader checks a batch's sequences in one step (joining
its events and reading every eighth 8-byte word); the others unpack each one.
Each figure is the best of --repeat runs; the worst is printed beside it,
since queue.Queue's rate swings by about 3x from one run to another
(depending on how often its reader has to block), and so does every ratio.
"""

from __future__ import annotations

import argparse
import collections
import json
import queue
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()

PAYLOAD = 64
BATCH = 64
CAPACITY = 4096
SEQ = struct.Struct("=Q")  # native order, as memoryview.cast("Q") reads it
PAD = bytes(PAYLOAD - SEQ.size)
JOIN = 600.0


def payload(seq: int) -> bytes:
    """A 64-byte payload carrying its sequence number."""
    return SEQ.pack(seq) + PAD


def payloads(n: int) -> list[bytes]:
    """Payloads 0 .. n-1, built before timing and shared by every contender."""
    return [payload(seq) for seq in range(n)]


def check(name: str, got: int, n: int) -> None:
    if got != n:
        raise SystemExit(f"{name}: reader saw {got} of {n} events in order")


# ---- (a) one thread ------------------------------------------------------------------------

def single_thread_ring(n: int) -> float:
    """ns per add+next pair on a backpressure ring, one thread."""
    ring = rr.Ring(PAYLOAD, CAPACITY)
    w, r = ring.writer(), ring.reader()
    add, nxt = w.add, r.next
    data = payload(0)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        add(data)
        nxt()
    elapsed = time.perf_counter_ns() - t0
    check("single thread", r.delivered, n)
    return elapsed / n


def single_thread_queue(n: int) -> float:
    """ns per put+get pair on a queue.Queue, one thread (for scale)."""
    q = queue.Queue()
    put, get = q.put, q.get_nowait
    data = payload(0)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        put(data)
        get()
    return (time.perf_counter_ns() - t0) / n


def single_thread_deque(n: int) -> float:
    """ns per append+popleft pair on a bare deque, one thread (no locking, for scale)."""
    dq = collections.deque()
    append, popleft = dq.append, dq.popleft
    data = payload(0)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        append(data)
        popleft()
    return (time.perf_counter_ns() - t0) / n


# ---- (b) writer thread -> reader thread ----------------------------------------------------

def two_threads(name: str, n: int, produce, consume) -> float:
    """Run produce(n) and consume(n) -> count in two threads; return events/s."""
    result = []
    reader = threading.Thread(target=lambda: result.append(consume(n)), name=f"{name}-reader")
    writer = threading.Thread(target=produce, args=(n,), name=f"{name}-writer")
    t0 = time.perf_counter()
    reader.start()
    writer.start()
    writer.join(JOIN)
    reader.join(JOIN)
    elapsed = time.perf_counter() - t0
    if writer.is_alive() or reader.is_alive():
        raise SystemExit(f"{name}: did not finish in {JOIN} s")
    check(name, result[0] if result else -1, n)
    return n / elapsed


def ring_one_at_a_time(data: list[bytes]) -> float:
    ring = rr.Ring(PAYLOAD, CAPACITY)
    r = ring.reader()  # registered before the writer starts: sees everything

    def produce(n):
        add = ring.writer().add
        for item in data:
            add(item)  # waits (GIL released) while the ring is full
        ring.close()

    def consume(n):
        nxt, unpack = r.next, SEQ.unpack_from
        expected = 0
        while True:
            ev = nxt(None)  # waits (GIL released); None once closed and drained
            if ev is None:
                return expected
            if unpack(ev)[0] != expected:
                return expected
            expected += 1

    return two_threads("ring", len(data), produce, consume)


def ring_batched(data: list[bytes]) -> float:
    ring = rr.Ring(PAYLOAD, CAPACITY)
    r = ring.reader()
    words = PAYLOAD // SEQ.size  # a payload's sequence is every `words`-th 8-byte word

    def produce(n):
        add_batch = ring.writer().add_batch
        for start in range(0, n, BATCH):
            add_batch(data[start:start + BATCH])  # one claim for the batch
        ring.close()

    def consume(n):
        nb, join = r.next_batch, b"".join
        expected = 0
        while True:
            batch = nb(BATCH, None)
            if not batch:
                return expected
            k = len(batch)
            seqs = memoryview(join(batch)).cast("Q")[::words].tolist()
            if seqs != list(range(expected, expected + k)):
                return expected
            expected += k

    return two_threads("ring batched", len(data), produce, consume)


def std_queue(data: list[bytes], q) -> float:
    def produce(n):
        put = q.put
        for item in data:
            put(item)
        put(None)

    def consume(n):
        get, unpack = q.get, SEQ.unpack_from
        expected = 0
        while True:
            item = get()
            if item is None:
                return expected
            if unpack(item)[0] != expected:
                return expected
            expected += 1

    return two_threads(type(q).__name__, len(data), produce, consume)


def deque_condition(data: list[bytes]) -> float:
    dq = collections.deque()
    cond = threading.Condition()

    def produce(n):
        append = dq.append
        for item in data:
            with cond:
                append(item)
                cond.notify()
        with cond:
            append(None)
            cond.notify()

    def consume(n):
        popleft, unpack = dq.popleft, SEQ.unpack_from
        expected = 0
        while True:
            with cond:
                while not dq:
                    cond.wait()
                item = popleft()
            if item is None:
                return expected
            if unpack(item)[0] != expected:
                return expected
            expected += 1

    return two_threads("deque+Condition", len(data), produce, consume)


def fan_out(name: str, n: int, produce, consumers) -> float:
    """One writer thread and len(consumers) reader threads; events/s delivered to each."""
    results = []
    readers = [threading.Thread(target=lambda c=c: results.append(c(n)), name=f"{name}-reader")
               for c in consumers]
    writer = threading.Thread(target=produce, args=(n,), name=f"{name}-writer")
    t0 = time.perf_counter()
    for t in readers:
        t.start()
    writer.start()
    for t in [writer, *readers]:
        t.join(JOIN)
    elapsed = time.perf_counter() - t0
    if writer.is_alive() or any(t.is_alive() for t in readers):
        raise SystemExit(f"{name}: did not finish in {JOIN} s")
    for got in results:
        check(name, got, n)
    if len(results) != len(consumers):
        raise SystemExit(f"{name}: a reader failed")
    return n / elapsed


def ring_fan_out(data: list[bytes], readers: int) -> float:
    ring = rr.Ring(PAYLOAD, CAPACITY)
    rs = [ring.reader() for _ in range(readers)]   # all registered before the writer starts
    words = PAYLOAD // SEQ.size

    def produce(n):
        add_batch = ring.writer().add_batch
        for start in range(0, n, BATCH):
            add_batch(data[start:start + BATCH])
        ring.close()

    def consumer(r):
        def consume(n):
            nb, join = r.next_batch, b"".join
            expected = 0
            while True:
                batch = nb(BATCH, None)
                if not batch:
                    return expected
                k = len(batch)
                if memoryview(join(batch)).cast("Q")[::words].tolist() != list(range(expected, expected + k)):
                    return expected
                expected += k
        return consume

    return fan_out("ring fan-out", len(data), produce, [consumer(r) for r in rs])


def queues_fan_out(data: list[bytes], make, readers: int) -> float:
    qs = [make() for _ in range(readers)]

    def produce(n):
        puts = [q.put for q in qs]
        for item in data:
            for put in puts:
                put(item)
        for put in puts:
            put(None)

    def consumer(q):
        def consume(n):
            get, unpack = q.get, SEQ.unpack_from
            expected = 0
            while True:
                item = get()
                if item is None:
                    return expected
                if unpack(item)[0] != expected:
                    return expected
                expected += 1
        return consume

    return fan_out(type(qs[0]).__name__, len(data), produce, [consumer(q) for q in qs])


# ---- reporting -----------------------------------------------------------------------------

def best(fn, repeat: int, better) -> float:
    return better(fn() for _ in range(repeat))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts, one repetition (CI smoke)")
    ap.add_argument("--events", type=int, help="events per threaded run (default 500000, quick 20000)")
    ap.add_argument("--repeat", type=int, help="repetitions, best kept (default 3, quick 1)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    n = args.events or (20_000 if args.quick else 500_000)
    repeat = args.repeat or (1 if args.quick else 3)
    pairs = n * 2

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
          f"{info['python']}, rusted_ring {info['rusted_ring']}")
    print(f"payload {PAYLOAD} B, ring capacity {CAPACITY}, batch {BATCH}, "
          f"{n} events per threaded run, best of {repeat}\n")

    single = [
        ("Ring add + next", best(lambda: single_thread_ring(pairs), repeat, min), "<= 150 ns"),
        ("queue.Queue put + get_nowait", best(lambda: single_thread_queue(pairs), repeat, min), ""),
        ("deque append + popleft (no lock)", best(lambda: single_thread_deque(pairs), repeat, min), ""),
    ]
    print("(a) one thread, ns per pair")
    print(f"  {'':36} {'ns/pair':>10}  target")
    for name, ns, target in single:
        print(f"  {name:36} {ns:10.1f}  {target}")

    data = payloads(n)
    threaded = [
        ("Ring add / next, one at a time", lambda: ring_one_at_a_time(data), ">= 10x"),
        ("Ring add_batch / next_batch (64)", lambda: ring_batched(data), ">= 50x"),
        ("queue.Queue put / get", lambda: std_queue(data, queue.Queue()), "baseline"),
        ("queue.SimpleQueue put / get", lambda: std_queue(data, queue.SimpleQueue()), ""),
        ("deque + Condition", lambda: deque_condition(data), ""),
    ]
    runs = [(name, [fn() for _ in range(repeat)], target) for name, fn, target in threaded]
    rates = [(name, max(r), target) for name, r, target in runs]
    base = rates[2][1]
    print("\n(b) 1 writer thread -> 1 reader thread, 64 B payloads, order checked")
    print(f"  {'':36} {'events/s':>12} {'ns/event':>9} {'vs Queue':>9}  {'worst run':>10}  target")
    for (name, rate, target), (_, r, _) in zip(rates, runs):
        print(f"  {name:36} {rate:12,.0f} {1e9 / rate:9.1f} {rate / base:8.1f}x  {min(r):10,.0f}  {target}")

    fan = [
        ("Ring, 3 readers, batches of 64", [ring_fan_out(data, 3) for _ in range(repeat)]),
        ("3 x queue.Queue", [queues_fan_out(data, queue.Queue, 3) for _ in range(repeat)]),
        ("3 x queue.SimpleQueue", [queues_fan_out(data, queue.SimpleQueue, 3) for _ in range(repeat)]),
    ]
    fan_base = max(fan[1][1])
    print("\n(c) fan-out: 1 writer thread -> 3 reader threads, each reader checks every event")
    print(f"  {'':36} {'events/s':>12} {'ns/event':>9} {'vs Queue':>9}  {'worst run':>10}")
    for name, r in fan:
        rate = max(r)
        print(f"  {name:36} {rate:12,.0f} {1e9 / rate:9.1f} {rate / fan_base:8.1f}x  {min(r):10,.0f}")

    if args.json:
        doc = {"machine": info, "events": n, "repeat": repeat, "payload_bytes": PAYLOAD,
               "capacity": CAPACITY, "batch": BATCH,
               "single_thread_ns_per_pair": {name: ns for name, ns, _ in single},
               "threaded_events_per_s": {name: rate for name, rate, _ in rates},
               "threaded_events_per_s_all_runs": {name: r for name, r, _ in runs},
               "ratio_vs_queue": {name: rate / base for name, rate, _ in rates},
               "fan_out_3_readers_events_per_s_all_runs": {name: r for name, r in fan}}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
