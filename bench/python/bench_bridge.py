"""The NATS JetStream bridge end to end against the naive peer.

    python bench/python/bench_bridge.py            # full run
    python bench/python/bench_bridge.py --quick    # a few seconds of each
    python bench/python/bench_bridge.py --json out.json [--nats URL] [--repeat 5]

64-byte events, one machine, loopback, a nats-server -js of its own (an
ephemeral port, a temporary store, file storage) unless --nats names one:

  bridge   a shared ring -> `python -m rusted_ring bridge out` -> JetStream ->
           `python -m rusted_ring bridge in` -> a shared ring: the bridges are
           the command-line processes, started and connected before the clock
           starts; this process writes the source ring (add_block) and reads
           the destination (next_block), checking every sequence.
  naive    the same events, one JetStream message per event with nats-py:
           a process reads the source ring event by event and publishes each
           (publish_async, up to 1000 acks pending, awaited in order); another
           fetches them (pull consumer, 256 at a time) and writes each into the
           destination ring with Writer.add, acking each.

Runs alternate (bridge, naive, bridge, ...) --repeat times; the figure is the
median events/s from the first write to the last event read, with the spread
(min..max); the ratio is of the medians. Then the bridge's latency at 10k
events/s: each payload carries time.monotonic_ns() (one clock for every
process of the machine), read at the destination reader; p50 and p99.
Targets (issue 18): >= 10x the naive peer and >= 1 M events/s.
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()
ROOT = Path(__file__).resolve().parents[2]
PY = [sys.executable]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
WIDTH = 64
LIMIT = 120.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self):
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.store = tempfile.mkdtemp(prefix="rr-bench-nats-")
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([exe, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", self.store], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("nats-server did not start")
                time.sleep(0.02)

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.store, ignore_errors=True)


async def _ready(url, stream, durable):
    import nats
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        ci = await js.consumer_info(stream, durable)
        return (ci.num_waiting or 0) > 0
    except Exception:
        return False
    finally:
        await nc.close()


async def _exists(url, stream):
    import nats
    nc = await nats.connect(url)
    try:
        await nc.jetstream().stream_info(stream)
        return True
    except Exception:
        return False
    finally:
        await nc.close()


def wait(cond, what):
    deadline = time.monotonic() + LIMIT
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def rows(first, n, stamp=False):
    a = np.zeros((n, WIDTH), np.uint8)
    a[:, :8] = np.arange(first, first + n, dtype="<u8").view(np.uint8).reshape(n, 8)
    if stamp:
        a[:, 8:16] = np.full(n, time.monotonic_ns(), "<u8").view(np.uint8).reshape(n, 8)
    return a


def pump(src_w, dst_r, n, rate=None):
    """Write n events into the source (paced at `rate` events/s if given) and read
    them from the destination; returns (seconds, latencies in ns or None)."""
    sent = got = 0
    lat = [] if rate else None
    t0 = time.perf_counter()
    deadline = time.monotonic() + LIMIT
    block = 16 if rate else 4096
    while got < n:
        if sent < n:
            k = min(block, n - sent)
            if rate is None or sent < (time.perf_counter() - t0) * rate:
                try:
                    src_w.add_block(rows(sent, k, stamp=rate is not None), timeout=0)
                    sent += k
                except rr.RingFull:
                    pass
        b = dst_r.next_block(65536, 0)
        if b is not None:
            with b:
                a = b.as_array()
                seqs = a[:, :8].copy().view("<u8").ravel()
                if seqs[0] != got or seqs[-1] != got + len(b) - 1:
                    raise SystemExit(f"out of order: expected {got}, got {seqs[0]}")
                if lat is not None:
                    now = time.monotonic_ns()
                    lat.extend((now - a[:, 8:16].copy().view("<u8").ravel()).tolist())
                del a
            got += len(b)
        elif time.monotonic() > deadline:
            raise SystemExit(f"{got} of {n} events arrived")
        elif rate is not None:
            time.sleep(0.00005)
    return time.perf_counter() - t0, lat


def trial(url, kind, n, rate=None):
    tag = uuid.uuid4().hex[:8]
    src_name, dst_name, stream = f"bb-src-{tag}", f"bb-dst-{tag}", f"BB{tag.upper()}"
    src = rr.Ring.create_shared(src_name, WIDTH, 1 << 16)
    dst = rr.Ring.create_shared(dst_name, WIDTH, 1 << 16)
    procs = []
    try:
        if kind == "bridge":
            procs.append(subprocess.Popen(PY + ["-m", "rusted_ring", "bridge", "out", "--shared",
                                                src_name, "--nats", url, "--stream", stream],
                                          env=ENV, stderr=subprocess.DEVNULL))
            wait(lambda: asyncio.run(_exists(url, stream)), "the stream")
            procs.append(subprocess.Popen(PY + ["-m", "rusted_ring", "bridge", "in", "--shared",
                                                dst_name, "--nats", url, "--stream", stream,
                                                "--durable", "rr-" + dst_name],
                                          env=ENV, stderr=subprocess.DEVNULL))
            wait(lambda: asyncio.run(_ready(url, stream, "rr-" + dst_name)), "bridge in")
        else:
            me = [sys.executable, __file__, "--naive", url, stream]
            procs.append(subprocess.Popen(me + ["out", src_name], env=ENV))
            wait(lambda: asyncio.run(_exists(url, stream)), "the stream")
            procs.append(subprocess.Popen(me + ["in", dst_name], env=ENV))
            wait(lambda: asyncio.run(_ready(url, stream, "naive")), "the naive consumer")
        dst_r = dst.reader()
        return pump(src.writer(), dst_r, n, rate)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for name in (src_name, dst_name):
            rr.Ring.unlink_shared(name)
            for f in Path("/dev/shm").glob(f"rusted_ring.bridge.{name}.*"):
                f.unlink()


# ---- the naive peer ----------------------------------------------------------------------

async def naive_out(url, stream, name):
    import nats
    from nats.js import api
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[stream.lower()], storage=api.StorageType.FILE)
    r = rr.Ring.open_shared(name).reader()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    pending = []
    while not stop.is_set():
        ev = await r.next_async(timeout=0.2)
        if ev is None:
            continue
        pending.append(await js.publish_async(stream.lower(), bytes(ev)))
        if len(pending) >= 1000:
            for f in pending[:500]:
                await f
            del pending[:500]
        elif r.lag == 0:
            for f in pending:
                await f
            pending.clear()
    await nc.close()


async def naive_in(url, stream, name):
    import nats
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(stream.lower(), durable="naive", stream=stream)
    w = rr.Ring.open_shared(name).writer()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        try:
            msgs = await sub.fetch(256, timeout=0.2)
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            continue
        for m in msgs:
            await w.add_async(m.data)
            await m.ack()
    await nc.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--nats", metavar="URL")
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--naive", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.naive:
        url, stream, side, name = args.naive
        asyncio.run((naive_out if side == "out" else naive_in)(url, stream, name))
        return
    repeat = args.repeat or (2 if args.quick else 5)
    n_bridge = 200_000 if args.quick else 1_000_000
    n_naive = 5_000 if args.quick else 20_000
    lat_n = 10_000 if args.quick else 30_000
    server = None if args.nats else Server()
    url = args.nats or server.url
    runs = {"bridge": [], "naive": []}
    try:
        for i in range(repeat):
            for kind, n in (("bridge", n_bridge), ("naive", n_naive)):
                dt, _ = trial(url, kind, n)
                runs[kind].append(n / dt)
                print(f"  run {i + 1}/{repeat} {kind:6s} {n:>9,} events  {n / dt:>12,.0f} events/s",
                      flush=True)
        _, lat = trial(url, "bridge", lat_n, rate=10_000)
    finally:
        if server is not None:
            server.close()
    med = {k: statistics.median(v) for k, v in runs.items()}
    lat_ns = np.array(lat)
    p50, p99 = np.percentile(lat_ns, 50) / 1e3, np.percentile(lat_ns, 99) / 1e3
    ratio = med["bridge"] / med["naive"]
    print(f"\nring -> bridge out -> JetStream -> bridge in -> ring, 64 B events ({repeat} "
          "alternating runs, median [min..max]):")
    for k in ("bridge", "naive"):
        print(f"  {k:7s} {med[k]:>12,.0f} events/s  [{min(runs[k]):,.0f} .. {max(runs[k]):,.0f}]")
    print(f"  ratio   {ratio:.1f}x the naive peer (target >= 10x; bridge target >= 1,000,000/s)")
    print(f"latency at 10k events/s ({lat_n:,} events): p50 {p50:,.0f} us, p99 {p99:,.0f} us")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine(), "quick": args.quick, "repeat": repeat,
            "results": [{"name": k, "events": n_bridge if k == "bridge" else n_naive,
                         "events_per_s": med[k], "runs": runs[k]} for k in runs],
            "ratio": ratio, "latency_us": {"p50": p50, "p99": p99, "rate": 10_000,
                                           "events": lat_n}}, indent=2))


if __name__ == "__main__":
    main()
