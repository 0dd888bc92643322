"""One writer process -> one reader process: rusted_ring shared rings against
multiprocessing.Queue, faster-fifo and pyzmq, side by side in one run.

    python bench/python/bench_procs.py            # full run
    python bench/python/bench_procs.py --quick    # a few seconds
    python bench/python/bench_procs.py --json out.json

Every contender moves the same 64-byte payloads (built once, before any
timing, and inherited by the forked processes) from a writer process to a
reader process, one at a time and in batches of 64 where the contender has a
batch call:

  rusted_ring     Ring.create_shared(name, 64, 4096) in backpressure mode:
                  add / next(None), and add_batch / next_batch(64, None)
  multiprocessing multiprocessing.Queue: put / get, and put / get of lists
                  of 64 payloads (one pickled list per batch)
  faster-fifo     faster_fifo.Queue (PyPI): put / get, and put_many /
                  get_many(max_messages_to_get=64), with its default pickling
                  and with dumps/loads that pass the bytes through
  pyzmq           PUSH -> PULL over ipc://: send / recv, and one message
                  per batch of 64 payloads joined (faster here than
                  send_multipart of 64 frames)
  Python -> Lua   the rusted_ring writer process above with a Lua 5.4 reader
                  process (bench/lua/shm_reader.lua) calling r:next, or
                  r:next_block(512) and reading each event in place

Every payload starts with its sequence number (8 bytes, little-endian) and
every reader checks that the sequences arrive complete and in order, so a run
that loses or reorders anything fails instead of reporting a figure. The clock
starts when both processes are ready (the reader subscribed or registered)
and stops when the reader has checked the last event. Figures are the best of
--repeat runs; the worst is printed beside it.

The machine's core count matters: with 2 cores, the writer and the reader
each have one, and anything else running on the machine takes from them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, import_rusted_ring, machine  # noqa: E402

rr = import_rusted_ring()

PAYLOAD = 64
BATCH = 64
CAPACITY = 4096
SEQ = struct.Struct("<Q")
PAD = bytes(PAYLOAD - SEQ.size)
JOIN = 300.0
CTX = mp.get_context("fork")

try:
    import faster_fifo
except ImportError:
    faster_fifo = None
try:
    import zmq
except ImportError:
    zmq = None

HAS_SHARED = hasattr(rr.Ring, "create_shared")

# The payloads, built by main() before any process starts (inherited by fork).
DATA: list[bytes] = []


def payloads(n: int) -> list[bytes]:
    return [SEQ.pack(seq) + PAD for seq in range(n)]


def check_batch(items, expected: int) -> bool:
    """True when items (bytes-like, 64 B each) carry expected, expected + 1, ..."""
    k = len(items)
    seqs = memoryview(b"".join(items)).cast("Q")[:: PAYLOAD // 8].tolist()
    return seqs == list(range(expected, expected + k))


class Failed(Exception):
    pass


# ---- the harness: a writer process, a reader process, a start line -------------------------

def _reader_main(setup, consume, n, ready, out):
    try:
        state = setup()
        ready.wait()
        got = consume(state, n)
        out.send(("ok", got, time.perf_counter()))
    except BaseException:  # report, never hang the parent
        out.send(("error", traceback.format_exc(), 0.0))
    finally:
        out.close()


def _writer_main(setup, produce, n, ready):
    state = setup()
    ready.wait()
    produce(state, n)


def two_processes(name: str, n: int, reader_setup, consume, writer_setup, produce) -> float:
    """Run produce in one process and consume in another; events/s."""
    ready = CTX.Barrier(3)
    rx, tx = CTX.Pipe(duplex=False)
    reader = CTX.Process(target=_reader_main, args=(reader_setup, consume, n, ready, tx),
                         name=f"{name}-reader", daemon=True)
    writer = CTX.Process(target=_writer_main, args=(writer_setup, produce, n, ready),
                         name=f"{name}-writer", daemon=True)
    reader.start()
    writer.start()
    tx.close()
    try:
        ready.wait(timeout=60)
        t0 = time.perf_counter()
        if not rx.poll(JOIN):
            raise Failed(f"{name}: no result in {JOIN} s")
        status, got, t_end = rx.recv()
    finally:
        writer.join(10)
        reader.join(10)
        for p in (writer, reader):
            if p.is_alive():
                p.kill()
                p.join()
    if status != "ok":
        raise Failed(f"{name}: reader failed:\n{got}")
    if got != n:
        raise Failed(f"{name}: reader saw {got} of {n} events in order")
    if writer.exitcode != 0:
        raise Failed(f"{name}: writer exited with {writer.exitcode}")
    return n / (t_end - t0)


# ---- rusted_ring shared rings ----------------------------------------------------------------

def ring_name() -> str:
    return f"rrbench-{os.getpid()}-{time.monotonic_ns()}"


def ring_shared(n: int, batched: bool) -> float:
    name = ring_name()
    ring = rr.Ring.create_shared(name, PAYLOAD, CAPACITY, mode="backpressure")

    def reader_setup():
        r = rr.Ring.open_shared(name)
        return r, r.reader()  # registered before the barrier: sees everything

    def consume_one(state, n):
        _, r = state
        nxt, unpack = r.next, SEQ.unpack_from
        expected = 0
        while True:
            ev = nxt(None)
            if ev is None:
                return expected
            if unpack(ev)[0] != expected:
                return expected
            expected += 1

    def consume_batch(state, n):
        _, r = state
        nb = r.next_batch
        expected = 0
        while True:
            batch = nb(BATCH, None)
            if not batch:
                return expected
            if not check_batch(batch, expected):
                return expected
            expected += len(batch)

    def writer_setup():
        w_ring = rr.Ring.open_shared(name)
        return w_ring, w_ring.writer()

    def produce_one(state, n):
        w_ring, w = state
        add = w.add
        for item in DATA[:n]:
            add(item)
        w_ring.close()  # end of stream for the reader process

    def produce_batch(state, n):
        w_ring, w = state
        add_batch = w.add_batch
        for start in range(0, n, BATCH):
            add_batch(DATA[start:min(start + BATCH, n)])
        w_ring.close()

    try:
        return two_processes("ring", n, reader_setup, consume_batch if batched else consume_one,
                             writer_setup, produce_batch if batched else produce_one)
    finally:
        ring.close()
        rr.Ring.unlink_shared(name)


# ---- multiprocessing.Queue --------------------------------------------------------------------

def mp_queue(n: int, batched: bool) -> float:
    q = CTX.Queue()

    def consume_one(_, n):
        get, unpack = q.get, SEQ.unpack_from
        expected = 0
        while True:
            item = get()
            if item is None:
                return expected
            if unpack(item)[0] != expected:
                return expected
            expected += 1

    def consume_batch(_, n):
        get = q.get
        expected = 0
        while True:
            items = get()
            if items is None:
                return expected
            if not check_batch(items, expected):
                return expected
            expected += len(items)

    def produce_one(_, n):
        put = q.put
        for item in DATA[:n]:
            put(item)
        put(None)

    def produce_batch(_, n):
        put = q.put
        for start in range(0, n, BATCH):
            put(DATA[start:min(start + BATCH, n)])
        put(None)

    try:
        return two_processes("mp.Queue", n, lambda: None, consume_batch if batched else consume_one,
                             lambda: None, produce_batch if batched else produce_one)
    finally:
        q.close()
        q.join_thread()


# ---- faster-fifo -------------------------------------------------------------------------------

def fifo_queue(n: int, batched: bool, raw: bool = False) -> float:
    # faster-fifo pickles each message by default; 64 B payloads take ~100 B
    # each. A buffer of CAPACITY such messages (~0.5 MB) bounds it like the
    # ring. raw: no pickling, the payload bytes go through as they are.
    kw = {"dumps": lambda x: x, "loads": bytes} if raw else {}
    q = faster_fifo.Queue(max_size_bytes=CAPACITY * 128, **kw)

    def consume_one(_, n):
        get, unpack = q.get, SEQ.unpack_from
        expected = 0
        while True:
            item = get(timeout=JOIN)
            if item is None or item == b"":
                return expected
            if unpack(item)[0] != expected:
                return expected
            expected += 1

    def consume_batch(_, n):
        get_many = q.get_many
        expected = 0
        while True:
            items = get_many(timeout=JOIN, max_messages_to_get=BATCH)
            done = items[-1] in (None, b"")
            if done:
                items = items[:-1]
            if items and not check_batch(items, expected):
                return expected
            expected += len(items)
            if done:
                return expected

    def produce_one(_, n):
        put = q.put
        for item in DATA[:n]:
            put(item, timeout=JOIN)
        put(b"" if raw else None, timeout=JOIN)

    def produce_batch(_, n):
        put_many = q.put_many
        for start in range(0, n, BATCH):
            put_many(DATA[start:min(start + BATCH, n)], timeout=JOIN)
        q.put(b"" if raw else None, timeout=JOIN)

    try:
        return two_processes("faster-fifo", n, lambda: None, consume_batch if batched else consume_one,
                             lambda: None, produce_batch if batched else produce_one)
    finally:
        q.close()


# ---- pyzmq PUSH / PULL over ipc ----------------------------------------------------------------

def zmq_pushpull(n: int, batched: bool) -> float:
    tmp = tempfile.mkdtemp(prefix="rrbench-zmq-")
    endpoint = f"ipc://{tmp}/pushpull"

    def reader_setup():
        ctx = zmq.Context()
        s = ctx.socket(zmq.PULL)
        s.bind(endpoint)
        return s

    def writer_setup():
        ctx = zmq.Context()
        s = ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, -1)
        s.connect(endpoint)
        return s

    def consume_one(s, n):
        recv, unpack = s.recv, SEQ.unpack_from
        expected = 0
        while True:
            item = recv(copy=True)
            if not item:
                return expected
            if unpack(item)[0] != expected:
                return expected
            expected += 1

    def consume_batch(s, n):
        recv = s.recv
        words = PAYLOAD // 8
        expected = 0
        while True:
            msg = recv(copy=True)
            if not msg:
                return expected
            k = len(msg) // PAYLOAD
            if memoryview(msg).cast("Q")[::words].tolist() != list(range(expected, expected + k)):
                return expected
            expected += k

    def produce_one(s, n):
        send = s.send
        for item in DATA[:n]:
            send(item)
        send(b"")
        s.close()  # LINGER -1: waits until everything is delivered

    def produce_batch(s, n):
        send, join = s.send, b"".join
        for start in range(0, n, BATCH):
            send(join(DATA[start:min(start + BATCH, n)]))  # one message per batch
        s.send(b"")
        s.close()

    try:
        return two_processes("pyzmq", n, reader_setup, consume_batch if batched else consume_one,
                             writer_setup, produce_batch if batched else produce_one)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- Python writer process -> Lua reader process -----------------------------------------------

def lua_command() -> list[str] | None:
    lua = os.environ.get("LUA", "lua5.4")
    module = ROOT / "build" / "lua" / "rusted_ring.so"
    if not shutil.which(lua) or not module.exists():
        return None
    return [lua, str(ROOT / "bench" / "lua" / "shm_reader.lua")]


LUA_BLOCK = 512


def python_to_lua(n: int, batched: bool, blocks: bool = False) -> float:
    """A Python writer process (add or add_batch) -> a Lua reader process
    (r:next, or r:next_block(LUA_BLOCK) with blocks)."""
    name = ring_name()
    ring = rr.Ring.create_shared(name, PAYLOAD, CAPACITY, mode="backpressure")
    env = dict(os.environ, LUA_CPATH=f"{ROOT / 'build' / 'lua'}/?.so;;")
    how = ["block", str(LUA_BLOCK)] if blocks else ["next"]
    lua = subprocess.Popen(lua_command() + [name, str(n)] + how, stdout=subprocess.PIPE, text=True, env=env)
    writer = None
    try:
        line = lua.stdout.readline().split()
        if line != ["ready"]:
            raise Failed(f"Lua reader did not start: {line}")
        go = CTX.Event()

        def write():
            w_ring = rr.Ring.open_shared(name)
            w = w_ring.writer()
            go.wait()
            if batched:
                for start in range(0, n, BATCH):
                    w.add_batch(DATA[start:min(start + BATCH, n)])
            else:
                add = w.add
                for item in DATA[:n]:
                    add(item)
            w_ring.close()

        writer = CTX.Process(target=write, name="py-writer", daemon=True)
        writer.start()
        time.sleep(0.05)  # the writer has opened the ring and waits
        t0 = time.perf_counter()
        go.set()
        line = lua.stdout.readline().split()
        t_end = time.perf_counter()
        if len(line) != 3 or line[0] != "done":
            raise Failed(f"Lua reader: {line}")
        got, bad = int(line[1]), int(line[2])
        if got != n or bad:
            raise Failed(f"Lua reader saw {got} of {n} events, {bad} out of order")
        return n / (t_end - t0)
    finally:
        if writer is not None:
            writer.join(10)
            if writer.is_alive():
                writer.kill()
        try:
            lua.wait(10)
        except subprocess.TimeoutExpired:
            lua.kill()
            lua.wait()
        ring.close()
        rr.Ring.unlink_shared(name)


# ---- running and reporting ----------------------------------------------------------------------

def contenders(n_fast: int, n_slow: int):
    """(name, peer group, batched, events, function or skip reason)."""
    shared = None if HAS_SHARED else "rusted_ring has no Ring.create_shared yet (shared-memory rings)"
    fifo = None if faster_fifo else "faster_fifo is not installed (pip install faster-fifo)"
    zq = None if zmq else "pyzmq is not installed (pip install pyzmq)"
    lua = shared or (None if lua_command() else "lua5.4 or build/lua/rusted_ring.so is missing (make lua)")
    return [
        ("rusted_ring add / next", "rusted_ring", False, n_fast, shared or (lambda n: ring_shared(n, False))),
        ("rusted_ring add_batch / next_batch (64)", "rusted_ring", True, n_fast,
         shared or (lambda n: ring_shared(n, True))),
        ("multiprocessing.Queue put / get", "multiprocessing.Queue", False, n_slow, lambda n: mp_queue(n, False)),
        ("multiprocessing.Queue lists of 64", "multiprocessing.Queue", True, n_slow, lambda n: mp_queue(n, True)),
        ("faster-fifo put / get", "faster-fifo", False, n_slow, fifo or (lambda n: fifo_queue(n, False))),
        ("faster-fifo put_many / get_many (64)", "faster-fifo", True, n_slow,
         fifo or (lambda n: fifo_queue(n, True))),
        ("faster-fifo put_many / get_many (64), raw bytes", "faster-fifo", True, n_slow,
         fifo or (lambda n: fifo_queue(n, True, raw=True))),
        ("pyzmq PUSH/PULL ipc send / recv", "pyzmq", False, n_slow, zq or (lambda n: zmq_pushpull(n, False))),
        ("pyzmq PUSH/PULL ipc, 64 per message", "pyzmq", True, n_slow, zq or (lambda n: zmq_pushpull(n, True))),
        ("Python writer -> Lua reader, add / next", "rusted_ring", False, n_fast,
         lua or (lambda n: python_to_lua(n, False))),
        ("Python writer -> Lua reader, add_batch / next", "rusted_ring", True, n_fast,
         lua or (lambda n: python_to_lua(n, True))),
        (f"Python writer -> Lua reader, add_batch / next_block ({LUA_BLOCK})", "rusted_ring", True, n_fast,
         lua or (lambda n: python_to_lua(n, True, blocks=True))),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small counts, one repetition")
    ap.add_argument("--events", type=int, help="events per run (default 1000000, quick 50000)")
    ap.add_argument("--repeat", type=int, help="repetitions, best kept (default 3, quick 1)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    global JOIN
    if args.quick:
        JOIN = 60.0   # a stuck run fails its row well inside run.py's group timeout
    n_fast = args.events or (50_000 if args.quick else 1_000_000)
    n_slow = args.events or (50_000 if args.quick else 300_000)
    repeat = args.repeat or (1 if args.quick else 3)

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}, rusted_ring {rr.__version__}")
    print(f"one writer process -> one reader process, {PAYLOAD} B payloads, ring capacity {CAPACITY}, "
          f"batch {BATCH}, best of {repeat}\n")
    DATA[:] = payloads(max(n_fast, n_slow))

    rows = []
    failed = 0
    print(f"  {'':48} {'events':>9} {'events/s':>12} {'ns/event':>9}  {'worst run':>10}")
    for name, group, batched, n, fn in contenders(n_fast, n_slow):
        row = {"name": name, "group": group, "batched": batched, "events": n}
        if isinstance(fn, str):
            row["skipped"] = fn
            print(f"  {name:48} skipped: {fn}")
        else:
            try:
                runs = [fn(n) for _ in range(repeat)]
            except Failed as e:
                # A rusted_ring row that fails fails the run; a peer that fails
                # (a pyzmq run once never finished here) is reported in its row.
                row["error"] = str(e)
                failed += group == "rusted_ring"
                print(f"  {name:48} FAILED: {e}")
            else:
                row.update(events_per_s=max(runs), runs=runs)
                print(f"  {name:48} {n:9} {max(runs):12,.0f} {1e9 / max(runs):9.1f}  {min(runs):10,.0f}")
        rows.append(row)

    rate = {r["name"]: r.get("events_per_s") for r in rows}
    ratios = []
    for ours, peer in [("rusted_ring add / next", "multiprocessing.Queue put / get"),
                       ("rusted_ring add_batch / next_batch (64)", "multiprocessing.Queue put / get"),
                       ("rusted_ring add_batch / next_batch (64)", "multiprocessing.Queue lists of 64"),
                       ("rusted_ring add / next", "faster-fifo put / get"),
                       ("rusted_ring add_batch / next_batch (64)", "faster-fifo put_many / get_many (64)"),
                       ("rusted_ring add_batch / next_batch (64)",
                        "faster-fifo put_many / get_many (64), raw bytes"),
                       ("rusted_ring add / next", "pyzmq PUSH/PULL ipc send / recv"),
                       ("rusted_ring add_batch / next_batch (64)", "pyzmq PUSH/PULL ipc, 64 per message"),
                       # the same Python writer: a Lua reader with blocks against a Python reader
                       (f"Python writer -> Lua reader, add_batch / next_block ({LUA_BLOCK})",
                        "rusted_ring add_batch / next_batch (64)")]:
        if rate.get(ours) and rate.get(peer):
            ratios.append({"ours": ours, "peer": peer, "ratio": rate[ours] / rate[peer]})
    if ratios:
        print("\n  rusted_ring / peer (events/s, same run):")
        for r in ratios:
            print(f"  {r['ours']:40} / {r['peer']:47} {r['ratio']:7.1f}x")

    if args.json:
        doc = {"machine": info, "quick": args.quick, "repeat": repeat, "payload_bytes": PAYLOAD,
               "capacity": CAPACITY, "batch": BATCH, "results": rows, "ratios": ratios}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
