"""A writer outrunning its reader, in both delivery modes, sampled over time
(the data behind bench/notebooks/pools_and_backpressure.ipynb).

    python bench/python/bench_pressure.py            # 3 s per mode
    python bench/python/bench_pressure.py --quick    # 1.2 s per mode
    python bench/python/bench_pressure.py --json out.json

A reader thread consumes at most READER_RATE events/s (it reads what its
budget allows, then sleeps a millisecond). A writer thread offers 64-byte
events at a rate that steps up in three equal phases: below the reader's
rate, a little above it, then twice it. A sampler reads `ring.stats()` every
SAMPLE_S seconds: published events, the reader's lag, backpressure ratio and
lost count, and the writer's stalls.

  overwrite     the process-wide XS pool (the seed's semantics: 2000 slots,
                overwrite, any number of writers), read by a pool reader. The
                writer never waits; once the reader is a lap behind it skips
                ahead and counts what it missed in `lost`. Also sampled:
                PoolStats' current_backpressure and health_check().
  backpressure  a Ring(64, 2000, mode="backpressure"). Nothing is lost; the
                writer waits for room (add_batch with a timeout) and every
                time it finds the ring full counts as a writer stall. The
                writer's backlog (offered - published) grows instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()

PAYLOAD = 64
CAPACITY = 2000            # the XS pool's production capacity
READER_RATE = 50_000       # events/s the reader can take
PHASES = (0.5, 1.1, 2.0)   # writer's offered rate, as multiples of READER_RATE
SAMPLE_S = 0.01
TICK_S = 0.001
CHUNK = 256                # the writer's largest add_batch


def run(mode: str, duration: float) -> dict:
    if mode == "overwrite":
        ring = rr.EventPoolFactory.get_ring(rr.PoolId.XS)
        writer = rr.EventPoolFactory.get_xs_writer()
        reader = rr.EventPoolFactory.get_xs_reader(start="latest")
    else:
        ring = rr.Ring(PAYLOAD, CAPACITY, mode="backpressure")
        writer = ring.writer()
        reader = ring.reader()
    base_published = ring.published
    base_stalls = ring.stats()["writer_stalls"]
    payload = bytes(PAYLOAD)
    stop = threading.Event()
    counts = {"offered": 0, "consumed": 0}
    t_start = time.perf_counter()

    def offered_by(t: float) -> int:
        """Events the writer has been asked for by time t (piecewise-linear)."""
        phase_len = duration / len(PHASES)
        total = 0.0
        for i, mult in enumerate(PHASES):
            span = min(max(t - i * phase_len, 0.0), phase_len)
            total += span * mult * READER_RATE
        return int(total)

    def write():
        while not stop.is_set():
            due = offered_by(time.perf_counter() - t_start)
            while counts["offered"] < due and not stop.is_set():
                k = min(due - counts["offered"], CHUNK)
                try:
                    writer.add_batch([payload] * k, timeout=0.05)
                except rr.RingFull:
                    continue          # waited 50 ms for room; try again
                counts["offered"] += k
            time.sleep(TICK_S)

    def read():
        # A budget of READER_RATE events/s that does not pile up while there
        # is nothing to read (at most 10 ms worth).
        allowance, last = 0.0, time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            allowance = min(allowance + (now - last) * READER_RATE, READER_RATE * 0.01)
            last = now
            if allowance >= 1:
                got = reader.next_batch(int(allowance), 0)
                counts["consumed"] += len(got)
                allowance -= len(got)
                del got
            time.sleep(TICK_S)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    keys = ("t", "offered", "published", "consumed", "lag", "backpressure", "lost", "writer_stalls",
            "pool_backpressure", "health")
    samples = {k: [] for k in keys}
    next_t = 0.0
    try:
        while (now := time.perf_counter() - t_start) < duration:
            if now >= next_t:
                st = ring.stats()
                # This process's only reader of the ring is ours.
                rd = max(st["readers"], key=lambda r: r["lag"], default={"lag": 0, "backpressure": 0.0, "lost": 0})
                samples["t"].append(round(now, 4))
                samples["offered"].append(offered_by(now))
                samples["published"].append(st["published"] - base_published)
                samples["consumed"].append(counts["consumed"])
                samples["lag"].append(rd["lag"])
                samples["backpressure"].append(rd["backpressure"])
                samples["lost"].append(rd["lost"])
                samples["writer_stalls"].append(st["writer_stalls"] - base_stalls)
                if mode == "overwrite":
                    pool = rr.PoolStats.collect_all()[int(rr.PoolId.XS)]
                    samples["pool_backpressure"].append(pool.current_backpressure)
                    samples["health"].append(str(rr.health_check()))
                next_t += SAMPLE_S
            time.sleep(SAMPLE_S / 4)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    lost = reader.lost
    reader.close()
    if mode != "overwrite":
        writer.close()
        ring.close()
    else:
        writer.close()
    return {"mode": mode, "capacity": ring.capacity, "reader_rate": READER_RATE, "duration_s": duration,
            "phases": [m * READER_RATE for m in PHASES], "final_lost": lost,
            "samples": {k: v for k, v in samples.items() if v}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1.2 s per mode instead of 3")
    ap.add_argument("--json", metavar="FILE", help="also write the samples as JSON")
    args = ap.parse_args(argv)
    duration = 1.2 if args.quick else 3.0
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}, rusted_ring {rr.__version__}")
    print(f"reader takes at most {READER_RATE} events/s; writer offers "
          + ", ".join(f"{m * READER_RATE:.0f}" for m in PHASES)
          + f" events/s in three phases of {duration / 3:.1f} s; ring of {CAPACITY} x {PAYLOAD} B\n")
    runs = {}
    for mode in ("overwrite", "backpressure"):
        r = runs[mode] = run(mode, duration)
        s = r["samples"]
        print(f"  {mode:12}  published {s['published'][-1]:8}  consumed {s['consumed'][-1]:8}  "
              f"lost {s['lost'][-1]:8}  writer stalls {s['writer_stalls'][-1]:6}  "
              f"backpressure at the end {s['backpressure'][-1]:.2f}  "
              f"backlog {s['offered'][-1] - s['published'][-1]}")
    if args.json:
        doc = {"machine": info, "quick": args.quick, "payload_bytes": PAYLOAD, "runs": runs}
        Path(args.json).write_text(json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
