"""Run every rusted_ring benchmark and its peers in one go; write one result
file and print a summary of ratios (`make bench`, `make bench-quick`).

    python bench/run.py                  # full run, several minutes
    python bench/run.py --quick          # well under a minute (CI, notebooks)
    python bench/run.py --only c_core,rust_seed --out /tmp/r.json
    python bench/run.py --list           # the benchmark groups
    python bench/run.py --summary FILE   # print the summary of an earlier run
    python bench/run.py --readme FILE    # the README's Performance table from a run
    python bench/run.py --only disruptor_tests --runs 7   # more alternating runs
    python bench/run.py --only disruptor_tests --shapes 1p3c-pipeline,1p3c-diamond   # some shapes

Most groups are one program (C, Rust, Java, Python or Lua) that writes its own
JSON. The alternating groups (disruptor_tests, spsc_queues) are driven from
here: each contender is a program kept running for the whole group (the
protocol of bench/c/serve.h), and for each workload this runner asks ours and
the peers for one run each in turn, --runs times (the first contender changes
every round), after unmeasured warm-up runs; it keeps every run and reports
the median and the range of each side and the ratio of the medians, because
two-thread figures on a small virtual machine swing several-fold from one
second to the next. This runner builds what it needs, runs the groups one
after another with a progress line, keeps each program's output in a log next
to the result file, and merges everything into one JSON document with the
machine's CPU, core count, tool versions, the date and the git commit.

A peer that cannot be built here (no cargo, no Maven, no network for its
dependencies, a Python package missing) is skipped with the reason, never
replaced by anything else. Every ratio in the summary compares two figures
from the same run of this script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import re
import statistics
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DEFAULT_OUT = RESULTS / "results.json"
DEFAULT_QUICK_OUT = RESULTS / "results-quick.json"
PY = [sys.executable] + (["-P"] if sys.version_info >= (3, 11) else [])
LUA = os.environ.get("LUA", "lua5.4")


# ---- the groups ------------------------------------------------------------------------------

class Skip(Exception):
    """A group that cannot run on this machine, and why."""


def _need(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise Skip(f"{tool} not found ({hint})")
    return path


def _build(cmd: list[str], log, timeout: float, what: str) -> None:
    log.write(f"$ {shlex.join(cmd)}\n")
    log.flush()
    try:
        p = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Skip(f"{what} did not build within {timeout:.0f} s") from None
    if p.returncode != 0:
        raise Skip(f"{what} did not build (exit {p.returncode}; see the log)")


def c_core(quick, out, log, timeout):
    cmd = [str(ROOT / "build/bench/bench_core"), "--json", str(out)]
    return cmd + (["--quick", "--repeats", "1"] if quick else []), None


def c_latency(quick, out, log, timeout):
    return [str(ROOT / "build/bench/bench_latency"), "--json", str(out)] + (["--quick"] if quick else []), None


def rust_seed(quick, out, log, timeout):
    cargo = _need("cargo", "install Rust from https://rustup.rs to measure the seed crate")
    manifest = BENCH / "peers/rust/Cargo.toml"
    _build([cargo, "build", "--release", "--quiet", "--manifest-path", str(manifest)], log, timeout,
           "the Rust peer (bench/peers/rust, rusted-ring 0.5.6 from crates.io)")
    exe = BENCH / "peers/rust/target/release/seed_peer"
    return [str(exe), "--json", str(out)] + (["--quick", "--repeats", "1"] if quick else []), None


_java_built: list = []   # the Java peer's command, once built in this run


def _java_peer(log, timeout) -> list[str]:
    """The command that starts the Java peer (built with Maven once per run of this script)."""
    if _java_built:
        return list(_java_built)
    mvn = _need("mvn", "install Maven and a JDK >= 11 to measure the LMAX Disruptor")
    java = _need("java", "install a JDK >= 11 to measure the LMAX Disruptor")
    pom = BENCH / "peers/java/pom.xml"
    cp_file = BENCH / "peers/java/target/classpath.txt"
    _build([mvn, "-q", "-B", "-f", str(pom), "compile", "dependency:build-classpath",
            f"-Dmdep.outputFile={cp_file}"], log, timeout,
           "the Java peer (bench/peers/java, com.lmax:disruptor 4.0.0 from Maven Central)")
    cp = f"{BENCH / 'peers/java/target/classes'}{os.pathsep}{cp_file.read_text().strip()}"
    _java_built[:] = [java, "-cp", cp, "rusted_ring.bench.DisruptorPeer"]
    return list(_java_built)


def java_disruptor(quick, out, log, timeout):
    cmd = _java_peer(log, timeout) + ["--latency", "--json", str(out)]
    return cmd + (["--quick"] if quick else []), None


def _py(script):
    def group(quick, out, log, timeout):
        return PY + [str(BENCH / "python" / script), "--json", str(out)] + (["--quick"] if quick else []), None
    return group


def py_bridge(quick, out, log, timeout):
    """The NATS JetStream bridge: needs nats-server and nats-py (the `bridge` extra)."""
    if not (shutil.which("nats-server") or Path("/usr/sbin/nats-server").exists()):
        raise Skip("nats-server not installed (apt install nats-server)")
    try:
        import nats  # noqa: F401
    except ImportError:
        raise Skip("nats-py not installed (pip install 'rusted_ring[bridge]')") from None
    return _py("bench_bridge.py")(quick, out, log, timeout)


def py_instr(quick, out, log, timeout):
    _need("valgrind", "install valgrind (apt-get install valgrind)")
    return _py("bench_instr.py")(quick, out, log, timeout)


def lua(quick, out, log, timeout):
    _need(LUA, "install Lua 5.4 (apt-get install lua5.4 liblua5.4-dev)")
    if not (ROOT / "build/lua/rusted_ring.so").exists():
        raise Skip("build/lua/rusted_ring.so is missing (make lua)")
    env = {"RR_BENCH_JSON": str(out), "LUA_CPATH": f"{ROOT / 'build/lua'}/?.so;;"}
    if quick:
        env.update(RR_BENCH_N="200000", RR_BENCH_REPEAT="2")
    return [LUA, str(BENCH / "lua/bench.lua")], env


# ---- alternating runs: ours and the peers in turn -------------------------------------------------

class Driven:
    """A group that this runner drives itself (several programs, alternating
    runs) instead of one program: fn(out, log) writes the group's JSON to
    `out` and returns an exit status."""

    def __init__(self, command: str, fn):
        self.command, self.fn = command, fn


class Worker:
    """A program that speaks bench/c/serve.h's protocol, started once and
    asked for one run per request. A run that gets no answer in time stops
    the program; the next request starts it again."""

    def __init__(self, name: str, cmd: list[str], log, hello_timeout: float = 120.0):
        self.name, self.cmd, self.log, self.hello_timeout = name, cmd, log, hello_timeout
        self.proc = None
        self.hello = None
        self._start()

    def _start(self):
        self.log.write(f"$ {shlex.join(self.cmd)} --serve   ({self.name})\n")
        self.log.flush()
        self.proc = subprocess.Popen(self.cmd + ["--serve"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc, self.lines), daemon=True).start()
        self.hello = self._answer(self.hello_timeout)
        if not self.hello or not self.hello.get("ready"):
            rc = self._stop()
            raise Skip(f"{self.name} did not start (exit status {rc}; see the log)")

    @staticmethod
    def _pump(proc, lines):
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _answer(self, timeout: float):
        """The next JSON line, or None when the program exits or says nothing in time."""
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return None
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    pass
            if line:
                self.log.write(f"  ({self.name} said: {line})\n")

    def run(self, shape, wait, form, events, cap_s, timeout) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write(f"run {shape} {wait} {form} {events} {cap_s:g}\n")
            self.proc.stdin.flush()
        except OSError as e:
            self._stop()
            return {"ok": False, "error": f"{self.name} went away: {e}"}
        ans = self._answer(timeout)
        if ans is None:
            rc = self._stop()
            why = (f"no answer within {timeout:.0f} s; the program was stopped" if rc is None or rc < 0
                   else f"the program exited (status {rc})")
            return {"ok": False, "error": why}
        return ans

    def _stop(self):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> int | None:
        """Ask the program to quit: its exit status (1 when a check failed in it)."""
        if self.proc is None or self.proc.poll() is not None:
            return self._stop()
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            return self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return self._stop()


# The shapes of the Disruptor's throughput tests (bench/c/bench_disruptor.c and
# bench/peers/java/.../Shapes.java have them): name, the Disruptor test, events
# per run (full, quick; divisible by 3 and 10), and how they read in a summary.
SHAPES = {
    "1p1c": ("OneToOneSequencedThroughputTest", 20_000_000, 1_500_000, "1P1C"),
    "1p1c-batch10": ("OneToOneSequencedBatchThroughputTest", 20_000_000, 1_500_000, "1P1C batch 10"),
    "1p3c": ("OneToThreeSequencedThroughputTest", 6_000_000, 600_000, "1P3C multicast"),
    "3p1c": ("ThreeToOneSequencedThroughputTest", 6_000_000, 600_000, "3P1C"),
    # three stages over one ring (readers that follow readers), 8192 slots
    "1p3c-pipeline": ("OneToThreePipelineSequencedThroughputTest", 6_000_000, 600_000, "1P3C pipeline"),
    "1p3c-diamond": ("OneToThreeDiamondSequencedThroughputTest", 6_000_000, 600_000, "1P3C diamond"),
}
# What each shape's events are, for a summary row (the rest: 8 B values, 65536 slots).
SHAPE_EVENTS = {"1p3c-pipeline": "32 B events, 8192 slots", "1p3c-diamond": "8 B values, 8192 slots"}
# rusted_ring's wait strategy and the Disruptor's that matches it.
WAITS = {"yield": "Yielding", "spin": "BusySpin", "block": "Blocking"}
RUNS, RUNS_QUICK = 5, 2          # measured runs of each contender, per workload
CAP_S, CAP_QUICK = 10.0, 3.0     # a run's producers stop at this many seconds
ALT = {"runs": None, "cap": None, "shapes": None, "waits": None}   # --runs / --cap / --shapes / --waits


def _contender(key, worker, form, label, warmups=1):
    return {"key": key, "worker": worker, "form": form, "label": label, "warmups": warmups}


RR_CLAIM = _contender("rr_claim", "rusted_ring", "claim", "rusted_ring claim/publish")
RR_ADD = _contender("rr_add", "rusted_ring", "add", "rusted_ring rr_writer_add (8 B)")
# The same through rusted_ring_inline.h's static inline fast path, where the core has it.
RR_CLAIM_INLINE = _contender("rr_claim_inline", "rusted_ring", "claim-inline",
                             "rusted_ring claim/publish, inline")
RR_ADD_INLINE = _contender("rr_add_inline", "rusted_ring", "add-inline", "rusted_ring rr_writer_add, inline")
# Each of ours, with how a summary row names it.
OURS = (("rr_claim", "claim/publish"), ("rr_add", "rr_writer_add"),
        ("rr_claim_inline", "claim/publish inline"), ("rr_add_inline", "rr_writer_add inline"))


def _ours(workers, *contenders):
    """Those of our contenders that this build of bench_disruptor offers (its ready line's forms)."""
    forms = (workers["rusted_ring"].hello or {}).get("forms", [])
    return [c for c in contenders if c["form"] in forms]
DISRUPTOR = _contender("disruptor", "disruptor", "claim", "Disruptor next/publish", warmups=2)
CK = _contender("ck_ring", "ck_ring", "queue", "ck_ring enqueue/dequeue_spsc")
BOOST = _contender("boost", "boost", "queue", "boost spsc_queue push/consume_all")


def _stats(rates: list[float]) -> dict:
    if not rates:
        return {}
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "n": len(rates)}


def alternate(workers: dict, workloads: list[dict], quick: bool, log,
              unavailable: dict | None = None) -> tuple[list[dict], bool]:
    """Every workload's contenders, one run each in turn, ALT runs times;
    unavailable: why a worker that is not in `workers` could not start."""
    runs = ALT["runs"] or (RUNS_QUICK if quick else RUNS)
    cap = ALT["cap"] or (CAP_QUICK if quick else CAP_S)
    ok = True
    out = []
    for wl in workloads:
        shape, wait, events = wl["shape"], wl["wait"], wl["events"]
        present = [c for c in wl["contenders"] if c["worker"] in workers]
        entry = {k: v for k, v in wl.items() if k != "contenders"}
        entry.update(load_before=load_now(), contenders=[])
        log.write(f"== {shape} ({wl['test']}), wait {wait}: {events:,} events, {wl['threads']} threads on "
                  f"{wl['cpus']} CPUs{' (oversubscribed)' if wl['oversubscribed'] else ''}; "
                  f"{', '.join(c['label'] for c in present)}\n")
        states = {c["key"]: {**{k: c[k] for k in ("key", "worker", "form", "label")},
                             "status": "ok", "runs": []} for c in present}
        for c in wl["contenders"]:
            if c not in present:
                entry["contenders"].append({**{k: c[k] for k in ("key", "worker", "form", "label")},
                                            "status": "skipped", "reason": (unavailable or {}).get(
                                                c["worker"], f"{c['worker']} is not available")})

        def one(c, rnd, warmup):
            st = states[c["key"]]
            res = workers[c["worker"]].run(shape, wait, c["form"], events, cap, timeout=2 * cap + 60)
            res.update(round=rnd, warmup=warmup)
            st["runs"].append(res)
            rate = res.get("events_per_s") or 0
            mark = "ok" if res.get("ok") and not res.get("capped") else \
                   ("CAPPED" if res.get("ok") else f"FAILED: {res.get('error')}")
            log.write(f"{shape} {wait} {c['label']:38} {'warm-up' if warmup else f'run {rnd + 1}':8} "
                      f"{rate / 1e6:10.2f} M/s  {mark}\n")
            log.flush()
            if not res.get("ok"):
                st.update(status="failed", reason=res.get("error", "a check failed"))
            elif res.get("capped"):
                st.update(status="capped", reason=f"stopped at the {cap:g} s cap after "
                                                  f"{res.get('done', 0):,} of {events:,} events")

        for c in present:
            for _ in range(c["warmups"]):
                if states[c["key"]]["status"] == "ok":
                    one(c, -1, True)
        for rnd in range(runs):
            for k in range(len(present)):
                c = present[(rnd + k) % len(present)]
                if states[c["key"]]["status"] == "ok":
                    one(c, rnd, False)
        for c in present:
            st = states[c["key"]]
            measured = [r for r in st["runs"] if not r["warmup"] and r.get("ok")]
            st.update(_stats([r["events_per_s"] for r in measured if not r.get("capped")]))
            if st["status"] == "capped" and "median" not in st:
                st.update(_stats([r["events_per_s"] for r in measured]))
            ok = ok and st["status"] != "failed"
            entry["contenders"].append(st)
        entry["load_after"] = load_now()
        out.append(entry)
    return out, ok


def _threads(shape):
    return (3 if shape == "3p1c" else 1) + (3 if shape.startswith("1p3c") else 1)


def _workload(shape, wait, quick, contenders):
    test, full, small, _ = SHAPES[shape]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = _threads(shape)
    return {"shape": shape, "test": test, "wait": wait, "disruptor_wait": WAITS.get(wait),
            "events": small if quick else full, "threads": threads, "cpus": cpus,
            "oversubscribed": threads > cpus, "contenders": contenders}


def _driven(quick, out, log, workloads_fn, peers):
    """Start rusted_ring's worker and the peers' ([(name, starter)]), run the
    workloads alternately, write the group's JSON."""
    workers, status = {}, {}
    ours = str(ROOT / "build/bench/bench_disruptor")
    if not Path(ours).exists():
        raise Skip("build/bench/bench_disruptor is missing (make build/bench/bench_disruptor)")
    for name, starter in [("rusted_ring", lambda: [ours])] + peers:
        try:
            workers[name] = Worker(name, starter(), log)
            status[name] = {"status": "ok", "command": shlex.join(workers[name].cmd + ["--serve"]),
                            "hello": workers[name].hello}
        except Skip as e:
            status[name] = {"status": "skipped", "reason": str(e)}
            log.write(f"{name}: skipped: {e}\n")
            if name == "rusted_ring":
                raise
    log.flush()
    try:
        unavailable = {n: st["reason"] for n, st in status.items() if st["status"] == "skipped"}
        results, ok = alternate(workers, workloads_fn(workers), quick, log, unavailable)
    finally:
        for name, w in workers.items():
            rc = w.close()
            status[name]["exit_status"] = rc
            if rc != 0:
                log.write(f"{name}: exit status {rc}\n")
    ok = ok and all(s.get("exit_status", 0) == 0 for s in status.values() if s["status"] == "ok")
    doc = {"schema": "rusted_ring-alternating/1", "quick": quick,
           "runs": ALT["runs"] or (RUNS_QUICK if quick else RUNS),
           "cap_s": ALT["cap"] or (CAP_QUICK if quick else CAP_S),
           "ring_size": 65536, "value_bytes": 8, "workers": status, "results": results}
    Path(out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if ok else 1


def disruptor_tests(quick, out, log, timeout):
    def java():
        return _java_peer(log, timeout)

    def workloads(workers):
        wl = []
        for shape in ALT["shapes"] or SHAPES:
            for wait in ALT["waits"] or WAITS:
                ours = {"1p1c": (RR_CLAIM, RR_ADD, RR_CLAIM_INLINE, RR_ADD_INLINE),
                        "1p1c-batch10": (RR_CLAIM, RR_CLAIM_INLINE),
                        "1p3c-pipeline": (RR_CLAIM, RR_CLAIM_INLINE),
                        "1p3c-diamond": (RR_CLAIM, RR_CLAIM_INLINE)}.get(shape, (RR_CLAIM,))
                wl.append(_workload(shape, wait, quick, _ours(workers, *ours) + [DISRUPTOR]))
        return wl

    return Driven("bench_disruptor --serve beside DisruptorPeer --serve",
                  lambda o, lg: _driven(quick, o, lg, workloads, [("disruptor", java)])), None


def _native_peer(name, header, lang, target, package, log, timeout):
    """A C/C++ queue peer of bench/peers/c, built by make when its header is installed."""
    cc = os.environ.get("CXX", "c++") if lang == "c++" else os.environ.get("CC", "cc")
    probe = subprocess.run([cc, "-E", "-x", lang, "-"], input=f"#include <{header}>\n", text=True,
                           capture_output=True)
    if probe.returncode != 0:
        raise Skip(f"{header} not found (apt-get install {package})")
    _build(["make", "-s", "--no-print-directory", f"build/bench/{target}"], log, timeout,
           f"{name} (bench/peers/c)")
    return [str(ROOT / "build/bench" / target)]


def spsc_queues(quick, out, log, timeout):
    peers = [("ck_ring", lambda: _native_peer("ck_ring", "ck_ring.h", "c", "ck_spsc", "libck-dev", log, timeout)),
             ("boost", lambda: _native_peer("boost::lockfree::spsc_queue", "boost/lockfree/spsc_queue.hpp",
                                            "c++", "boost_spsc", "libboost-dev", log, timeout))]

    def workloads(workers):
        if not {"ck_ring", "boost"} & set(workers):
            raise Skip("neither ck_ring nor boost::lockfree::spsc_queue could be built (see the log)")
        ours = _ours(workers, RR_CLAIM, RR_ADD, RR_CLAIM_INLINE, RR_ADD_INLINE)
        return [_workload("1p1c", wait, quick, ours + [CK, BOOST]) for wait in ("yield", "spin")]

    return Driven("bench_disruptor --serve beside ck_spsc --serve and boost_spsc --serve",
                  lambda o, lg: _driven(quick, o, lg, workloads, peers)), None


GROUPS = {
    "c_core": ("C core: throughput, memory, scaling (bench_core)", c_core),
    "c_latency": ("C core: latency (bench_latency)", c_latency),
    "rust_seed": ("peer: Rust seed crate rusted-ring 0.5.6 (cargo)", rust_seed),
    "java_disruptor": ("peer: LMAX Disruptor 4.0.0 ping-pong latency (Maven)", java_disruptor),
    "disruptor_tests": ("C vs LMAX Disruptor 4.0.0: its 6 throughput tests x 3 wait strategies, "
                        "alternating runs", disruptor_tests),
    "spsc_queues": ("C vs ck_ring and boost::lockfree::spsc_queue, 1P1C, alternating runs", spsc_queues),
    "py_threads": ("Python threads vs queue.Queue & co (bench_queue.py)", _py("bench_queue.py")),
    "py_instr": ("Python per-event path, callgrind instructions vs SimpleQueue (bench_instr.py)", py_instr),
    "py_latency": ("Python ping-pong latency (bench_latency.py)", _py("bench_latency.py")),
    "py_async": ("Python asyncio wake-up latency vs asyncio.Queue, mp.Queue (bench_async.py)",
                 _py("bench_async.py")),
    "py_procs": ("Python processes vs mp.Queue, faster-fifo, pyzmq (bench_procs.py)", _py("bench_procs.py")),
    "py_pressure": ("writer outrunning its reader, sampled (bench_pressure.py)", _py("bench_pressure.py")),
    "py_blocks": ("Python blocks + NumPy vs SimpleQueue, mp.Queue (bench_blocks.py)", _py("bench_blocks.py")),
    "py_pipeline": ("Python 3-stage pipeline: one ring vs SimpleQueue chain vs RingPipe, alternating runs "
                    "(bench_pipeline.py)", _py("bench_pipeline.py")),
    "py_bridge": ("NATS JetStream bridge end to end vs one message per event with nats-py "
                  "(bench_bridge.py)", py_bridge),
    "lua": ("Lua vs a pure-Lua table queue (bench.lua)", lua),
}


# ---- the machine -------------------------------------------------------------------------------

def _first_line(cmd: list[str]) -> str | None:
    """The first line a command prints (java -version and lua -v use stderr)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    text = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout or p.stderr).strip()   # mvn colours its banner
    return text.splitlines()[0].strip() if text else None


def machine() -> dict:
    sys.path.insert(0, str(BENCH / "python"))
    from common import cpu_model
    info = {"cpu": cpu_model(), "cores": os.cpu_count()}
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_gib"] = round(int(mem[1]) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    info["os"] = platform.platform()
    try:
        info["distro"] = platform.freedesktop_os_release().get("PRETTY_NAME")
    except (OSError, AttributeError):
        pass
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["lua"] = _first_line([LUA, "-v"])
    info["cc"] = _first_line([os.environ.get("CC", "cc"), "--version"])
    info["rustc"] = _first_line(["rustc", "--version"])
    info["cargo"] = _first_line(["cargo", "--version"])
    info["java"] = _first_line(["java", "-version"])
    info["maven"] = _first_line(["mvn", "-B", "--version"])
    for pkg in ("libck-dev", "libboost-dev"):   # the C/C++ queue peers' Debian packages
        v = _first_line(["dpkg-query", "-W", "-f=${Version}\\n", pkg]) if shutil.which("dpkg-query") else None
        if v:
            info[pkg] = v
    for mod, attr in (("faster_fifo", None), ("zmq", "pyzmq_version"), ("zmq", "zmq_version"),
                      ("rusted_ring", "__version__")):
        try:
            m = __import__(mod)
            key = {"pyzmq_version": "pyzmq", "zmq_version": "libzmq"}.get(attr, mod)
            if attr is None:
                from importlib.metadata import version
                info[key] = version(mod.replace("_", "-"))
            else:
                v = getattr(m, attr)
                info[key] = v() if callable(v) else v
        except Exception:  # noqa: BLE001 - a missing module is just not reported
            pass
    git = lambda *a: _first_line(["git", "-C", str(ROOT), *a])  # noqa: E731
    info["git_commit"] = git("rev-parse", "HEAD")
    try:
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        info["git_dirty"] = bool(dirty)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info


def load_now() -> dict:
    """How busy the machine is: load averages and the share of the last 10 s
    in which some runnable task waited for a CPU (Linux PSI)."""
    out = {}
    try:
        out["loadavg"] = [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        pass
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        out["cpu_pressure_avg10"] = float(some[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return out


# ---- progress ----------------------------------------------------------------------------------

class Progress:
    """One line per group; on a terminal the line shows the elapsed time and
    the program's latest output while it runs."""

    def __init__(self, total: int):
        self.total = total
        self.tty = sys.stdout.isatty()
        self._stop = None

    def start(self, i: int, title: str, log: Path):
        self.head = f"[{i}/{self.total}] {title}"
        self.t0 = time.monotonic()
        if not self.tty:
            print(f"{self.head} ...", flush=True)
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, args=(log,), daemon=True)
        self._thread.start()

    def _spin(self, log: Path):
        width = shutil.get_terminal_size((100, 20)).columns
        while not self._stop.wait(0.25):
            last = ""
            try:
                with open(log, "rb") as f:
                    f.seek(max(0, f.seek(0, 2) - 400))
                    lines = [x for x in f.read().decode(errors="replace").splitlines() if x.strip()]
                    last = lines[-1].strip() if lines else ""
            except OSError:
                pass
            line = f"{self.head}  {time.monotonic() - self.t0:5.1f} s  {last}"
            sys.stdout.write("\r" + line[: width - 1].ljust(width - 1))
            sys.stdout.flush()

    def done(self, status: str):
        elapsed = time.monotonic() - self.t0
        if self._stop:
            self._stop.set()
            self._thread.join()
            sys.stdout.write("\r" + " " * (shutil.get_terminal_size((100, 20)).columns - 1) + "\r")
        print(f"{self.head}: {status} ({elapsed:.1f} s)", flush=True)
        return elapsed


# ---- running -------------------------------------------------------------------------------------

def build(quick: bool) -> None:
    """The C benchmark programs, the Python extension and the Lua module."""
    targets = ["build/bench/bench_core", "build/bench/bench_latency", "build/bench/bench_disruptor",
               "python", "lua"]
    cmd = ["make", "-s", "--no-print-directory", f"PYTHON={sys.executable}", *targets]
    print(f"building: {shlex.join(cmd)}", flush=True)
    p = subprocess.run(cmd, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(f"run.py: the build failed ({shlex.join(cmd)})")


def run_group(name: str, quick: bool, part: Path, log_path: Path, timeout: float) -> dict:
    title, fn = GROUPS[name]
    entry = {"title": title, "log": str(log_path.relative_to(ROOT)) if log_path.is_relative_to(ROOT)
             else str(log_path)}
    with open(log_path, "w") as log:
        try:
            cmd, env = fn(quick, part, log, timeout)
        except Skip as e:
            entry.update(status="skipped", reason=str(e))
            log.write(f"skipped: {e}\n")
            return entry
        if isinstance(cmd, Driven):
            entry["command"] = cmd.command
            part.unlink(missing_ok=True)
            try:
                rc = cmd.fn(part, log)
            except Skip as e:
                entry.update(status="skipped", reason=str(e))
                log.write(f"skipped: {e}\n")
                return entry
            return _finish(entry, part, rc, timeout)
        entry["command"] = shlex.join(cmd)
        log.write(f"$ {entry['command']}\n")
        log.flush()
        child_env = dict(os.environ)
        pp = str(ROOT / "python")
        child_env["PYTHONPATH"] = pp + (os.pathsep + child_env["PYTHONPATH"] if child_env.get("PYTHONPATH") else "")
        child_env.update(env or {})
        part.unlink(missing_ok=True)
        try:
            p = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=child_env,
                               timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = None
        except OSError as e:
            entry.update(status="failed", reason=f"could not start: {e}")
            return entry
    return _finish(entry, part, rc, timeout)


def _finish(entry: dict, part: Path, rc: int | None, timeout: float) -> dict:
    """A group's status from its exit status and the JSON it wrote."""
    if part.exists():
        try:
            entry["data"] = json.loads(part.read_text())
        except json.JSONDecodeError as e:
            entry.update(status="failed", reason=f"bad JSON from the program: {e}")
            return entry
    if rc is None:
        entry.update(status="failed", reason=f"timed out after {timeout:.0f} s")
    elif rc != 0:
        entry.update(status="failed", reason=f"exit status {rc} (a check failed; see the log)")
    elif "data" not in entry:
        entry.update(status="failed", reason="the program wrote no results")
    else:
        entry["status"] = "ok"
    return entry


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts, one repetition: well under a minute")
    ap.add_argument("--only", help="comma-separated groups to run (see --list)")
    ap.add_argument("--out", type=Path, help=f"result file (default {DEFAULT_OUT.relative_to(ROOT)}, "
                                             f"quick: {DEFAULT_QUICK_OUT.relative_to(ROOT)})")
    ap.add_argument("--no-build", action="store_true", help="do not run make first (make bench already did)")
    ap.add_argument("--as", dest="as_command", metavar="COMMAND",
                    help="the command to record as having made the results (make bench says 'make bench')")
    ap.add_argument("--list", action="store_true", help="list the groups and exit")
    ap.add_argument("--summary", type=Path, metavar="FILE", help="print the summary of a result file and exit")
    ap.add_argument("--readme", type=Path, metavar="FILE",
                    help="print the README's Performance table (markdown) from a result file and exit")
    ap.add_argument("--runs", type=int, metavar="N",
                    help=f"alternating groups: measured runs of each side per workload "
                         f"(default {RUNS}, quick: {RUNS_QUICK})")
    ap.add_argument("--cap", type=float, metavar="SECONDS",
                    help=f"alternating groups: a run's producers stop at this many seconds "
                         f"(default {CAP_S:g}, quick: {CAP_QUICK:g})")
    ap.add_argument("--shapes", metavar="LIST",
                    help=f"disruptor_tests: only these shapes (comma-separated: {', '.join(SHAPES)})")
    ap.add_argument("--waits", metavar="LIST",
                    help=f"disruptor_tests: only these wait strategies ({', '.join(WAITS)})")
    args = ap.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.cap is not None and args.cap <= 0:
        ap.error("--cap must be positive")
    picked = {}
    for opt, known in (("shapes", SHAPES), ("waits", WAITS)):
        given = getattr(args, opt)
        if given is not None:
            picked[opt] = [x.strip() for x in given.split(",") if x.strip()]
            bad = [x for x in picked[opt] if x not in known]
            if bad or not picked[opt]:
                ap.error(f"--{opt}: unknown {', '.join(bad) or '(none given)'}; choose from {', '.join(known)}")
    ALT.update(runs=args.runs, cap=args.cap, shapes=picked.get("shapes"), waits=picked.get("waits"))

    if args.list:
        for name, (title, _) in GROUPS.items():
            print(f"  {name:15} {title}")
        return 0
    if args.summary or args.readme:
        doc = json.loads((args.summary or args.readme).read_text())
        doc["summary"] = summary(doc)   # with this version's rows
        if args.readme:
            print(readme_table(doc), end="")
        else:
            print_summary(doc)
        return 0
    names = list(GROUPS) if not args.only else [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")

    out = (args.out or (DEFAULT_QUICK_OUT if args.quick else DEFAULT_OUT)).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    logs = out.parent / (out.stem + "-logs")
    logs.mkdir(exist_ok=True)
    timeout = 240.0 if args.quick else 900.0

    t_start = time.monotonic()
    if not args.no_build:
        build(args.quick)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores; {info['python']}; {info.get('lua') or 'no lua'}; "
          f"{info.get('cc') or 'no cc'}; {info.get('rustc') or 'no rustc'}; {info.get('java') or 'no java'}")
    print(f"git {(info.get('git_commit') or '?')[:12]}{' (uncommitted changes)' if info.get('git_dirty') else ''}; "
          f"{'quick' if args.quick else 'full'} run of {len(names)} group(s); logs in {logs}\n", flush=True)
    args_given = sys.argv[1:] if argv is None else argv
    doc = {"schema": "rusted_ring-bench/1",
           "command": args.as_command or shlex.join(["python", "bench/run.py", *args_given]),
           "quick": args.quick,
           "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": info, "load_before": load_now(), "groups": {}}
    progress = Progress(len(names))
    for i, name in enumerate(names, 1):
        log_path = logs / f"{name}.log"
        progress.start(i, GROUPS[name][0], log_path)
        before = load_now()
        entry = run_group(name, args.quick, logs / f"{name}.json", log_path, timeout)
        entry["load_before"], entry["load_after"] = before, load_now()
        status = entry["status"] + (f": {entry['reason']}" if entry.get("reason") else "")
        entry["seconds"] = round(progress.done(status), 2)
        doc["groups"][name] = entry
    doc["load_after"] = load_now()
    doc["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    doc["duration_s"] = round(time.monotonic() - t_start, 1)
    doc["summary"] = summary(doc)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out)
    print()
    print_summary(doc)
    print(f"\nwrote {out} ({doc['duration_s']} s)")
    failed = [n for n, g in doc["groups"].items() if g["status"] == "failed"]
    if failed:
        print(f"FAILED: {', '.join(failed)} (see the logs in {logs})")
    return 1 if failed else 0


# ---- the summary ----------------------------------------------------------------------------------

def _data(doc, group):
    g = doc["groups"].get(group)
    return g.get("data") if g and g.get("status") == "ok" else None


def _find(rows, **match):
    for r in rows or []:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def _why(doc, *groups):
    for g in groups:
        e = doc["groups"].get(g)
        if e is None:
            return f"{g} not run"
        if e.get("status") != "ok":
            return f"{g} {e.get('status')}: {e.get('reason', '')}"
    return "no figure"


def _code(form: str) -> str:
    """"`claim(1)/publish`, inline" for a README row."""
    call, inline = (form[: -len(" inline")], True) if form.endswith(" inline") else (form, False)
    return f"`{call}`" + (", inline" if inline else "")


def alternating_rows(doc: dict, add) -> None:
    """Rows of the alternating groups: the ratio of the medians, each side's range."""
    # issue 13's and 16's targets against the Disruptor; other shapes and the queues: 1.0
    targets = {"1p1c": 1.5, "1p3c-pipeline": 1.5, "1p3c-diamond": 1.5}

    def row(section, what, ours, peer, note, group, wl, target, readme):
        spread = {"stat": "median", "readme": readme, "ours_min": ours.get("min"), "ours_max": ours.get("max"),
                  "ours_runs": ours.get("n", 0), "peer_min": peer.get("min"), "peer_max": peer.get("max"),
                  "peer_runs": peer.get("n", 0), "target": target}
        notes = [note, f"target >= {spread['target']:g}x"]
        if wl.get("oversubscribed"):
            spread["oversubscribed"] = True
            notes.append(f"{wl['threads']} threads on {wl['cpus']} CPUs: oversubscribed")
        missing = None
        for who, c in (("ours", ours), ("peer", peer)):
            if c.get("status") == "capped":
                spread[f"{who}_capped"] = True
                notes.append(f"{who} capped ({c.get('reason')}): the figure is the rate until the cap")
            elif c.get("status") in ("failed", "skipped") or c.get("median") is None:
                missing = missing or f"{c.get('label', who)}: {c.get('status', 'no figure')}: {c.get('reason', '')}"
        add(section, what, ours.get("label", ""), ours.get("median"), peer.get("label", ""), peer.get("median"),
            "events/s", "higher", "; ".join(n for n in notes if n), (group,), spread=spread, missing=missing)

    data = _data(doc, "disruptor_tests")
    if "disruptor_tests" in doc["groups"]:
        runs = (data or {}).get("runs", RUNS)
        section = f"C vs the LMAX Disruptor 4.0.0, its throughput tests (median of {runs} alternating runs)"
        if not data:
            add(section, "the Disruptor's throughput tests", "rusted_ring", None, "Disruptor", None,
                "events/s", "higher", "", ("disruptor_tests",))
        for wl in (data or {}).get("results", []):
            cs = {c["key"]: c for c in wl["contenders"]}
            peer = cs.get("disruptor", {})
            label = SHAPES.get(wl["shape"], (None, 0, 0, wl["shape"]))[3]
            claim = "claim(10)/publish" if wl["shape"] == "1p1c-batch10" else "claim(1)/publish"
            for key, form in OURS:
                form = form.replace("claim/publish", claim)
                if key in cs:
                    events = SHAPE_EVENTS.get(wl["shape"], f"8 B values, {data.get('ring_size', 65536)} slots")
                    row(section, f"{label}, {wl.get('disruptor_wait')} / {wl['wait']}: {form}", cs[key], peer,
                        f"{wl['test']}, {events}, {wl['events']:,} events",
                        "disruptor_tests", wl, targets.get(wl["shape"], 1.0),
                        f"C, {label}, {events.split(',')[0].replace(' values', '').replace(' events', '')}: "
                        f"{_code(form)} vs LMAX Disruptor 4.0.0 ({wl.get('disruptor_wait')} / `{wl['wait']}`)")

    data = _data(doc, "spsc_queues")
    if "spsc_queues" in doc["groups"]:
        runs = (data or {}).get("runs", RUNS)
        section = f"C vs ck_ring and boost::lockfree::spsc_queue, 1P1C (median of {runs} alternating runs)"
        if not data:
            add(section, "1P1C 8 B values", "rusted_ring", None, "ck_ring, spsc_queue", None,
                "events/s", "higher", "", ("spsc_queues",))
        for wl in (data or {}).get("results", []):
            cs = {c["key"]: c for c in wl["contenders"]}
            for pkey, pname in (("ck_ring", "ck_ring"), ("boost", "boost spsc_queue")):
                for key, form in OURS:
                    form = form.replace("claim/publish", "claim(1)/publish")
                    if key in cs and pkey in cs:
                        row(section, f"1P1C 8 B, {wl['wait']}: {form} vs {pname}", cs[key], cs[pkey],
                            f"{wl['events']:,} events, {data.get('ring_size', 65536)} slots; the queues wait "
                            f"by {'spinning' if wl['wait'] == 'spin' else 'spinning, then sched_yield'}",
                            "spsc_queues", wl, 1.0, f"C, 1P1C 8 B: {_code(form)} vs {pname} (`{wl['wait']}`)")


def summary(doc: dict) -> list[dict]:
    """Rows of rusted_ring's figure beside a peer's from the same run."""
    rows = []

    def add(section, what, ours_label, ours, peer_label, peer, unit, better, note="", groups=(),
            reference=False, spread=None, missing=None):
        if groups and not any(g in doc["groups"] for g in groups):
            return   # a partial run (--only) without these groups
        row = {"section": section, "what": what, "ours_label": ours_label, "ours": ours,
               "peer_label": peer_label, "peer": peer, "unit": unit, "better": better, "note": note}
        if reference:   # both figures are rusted_ring's: a ratio, not a contest
            row["reference"] = True
        if spread:      # medians of alternating runs: each side's range and run count
            row.update(spread)
        if missing and (ours is None or peer is None):
            row["missing"] = missing
            rows.append(row)
            return
        if ours is not None and peer is not None and ours > 0 and peer > 0:
            row["speedup"] = ours / peer if better == "higher" else peer / ours
        elif ours is None or peer is None:
            row["missing"] = _why(doc, *groups)
            if row["missing"] == "no figure":
                # The program ran but skipped a contender: say why.
                for g in groups:
                    for r in (_data(doc, g) or {}).get("results", []):
                        if r.get("skipped") and r.get("name") in (ours_label, peer_label):
                            row["missing"] = r["skipped"]
                        elif r.get("error") and r.get("name") in (ours_label, peer_label):
                            row["missing"] = r["error"]
        rows.append(row)

    core, seed, lmax = _data(doc, "c_core"), _data(doc, "rust_seed"), _data(doc, "java_disruptor")
    clat = _data(doc, "c_latency")
    cres = (core or {}).get("results", [])
    sres = (seed or {}).get("results", [])

    def c_rate(name):
        r = _find(cres, name=name)
        return r["events_per_s"] if r else None

    def s_rate(name):
        r = _find(sres, name=name)
        return r["events_per_s"] if r and r.get("ok") else None

    g = ("c_core", "rust_seed")
    add("C vs the Rust seed", "1 thread, write-only, 64 B, one at a time", "rr_writer_add (backpressure)",
        c_rate("backpressure add (one at a time)"), "create_pooled_event + Writer::add",
        s_rate("write-only create_pooled_event + add (one at a time)"), "events/s", "higher",
        "the seed's add has no checks and no waiting; ours checks size/closed/readers", g)
    add("C vs the Rust seed", "1 thread, write-only, 64 B, in place", "claim 64 / fill / publish",
        c_rate("backpressure claim/publish(64), fill in place"), "Writer::add of a prebuilt event",
        s_rate("write-only add of a prebuilt PooledEvent"), "events/s", "higher", "", g)
    seed_rr = _find(sres, section="spsc")
    note = ""
    if seed_rr and seed_rr.get("ok"):
        bad = seed_rr["stale"] + seed_rr["torn"]
        note = (f"seed handed out {seed_rr['stale']:,} stale and {seed_rr['torn']:,} torn of "
                f"{seed_rr['delivered']:,} events ({100 * bad / max(seed_rr['delivered'], 1):.0f}%); ours never does")
    ow = _find(cres, name="overwrite   64 B add/next")
    if ow and ow.get("delivered") is not None:
        note += f"; ours (overwrite) delivered {ow['delivered']:,}, counted {ow['lost']:,} lost"
    add("C vs the Rust seed", "1 writer -> 1 reader thread, 64 B", "overwrite add/next",
        c_rate("overwrite   64 B add/next"), "Writer::add / Reader::next",
        s_rate("1 writer -> 1 reader thread, 64 B add/next"), "events/s", "higher", note.lstrip("; "), g)
    add("C vs the Rust seed", "1 writer -> 1 reader thread, 64 B, nothing lost", "backpressure add/next",
        c_rate("backpressure   64 B add/next"), "Writer::add / Reader::next (loses events)",
        s_rate("1 writer -> 1 reader thread, 64 B add/next"), "events/s", "higher",
        "the seed cannot keep a slow reader's events", g)

    alternating_rows(doc, add)
    ours_pp = _find((clat or {}).get("results", []), name="ping-pong round trip, 8 B")
    for strat in ("YieldingWaitStrategy", "BlockingWaitStrategy"):
        peer_pp = _find((lmax or {}).get("latency", []), name=f"ping-pong round trip, {strat}")
        for q, key in (("p50", "p50_ns"), ("p99", "p99_ns")):
            add("C vs the LMAX Disruptor, ping-pong latency",
                f"ping-pong round trip, 8 B, {q}, vs {strat.replace('WaitStrategy', '')}",
                "two rings, rr_reader_next(RR_FOREVER) (spin, yield, futex)",
                ours_pp and ours_pp[key], f"Disruptor ring pair, {strat}", peer_pp and peer_pp[key], "ns",
                "lower", "", ("c_latency", "java_disruptor"))

    py = _data(doc, "py_threads")
    rates = (py or {}).get("threaded_events_per_s", {})
    fan = {k: max(v) for k, v in (py or {}).get("fan_out_3_readers_events_per_s_all_runs", {}).items()}
    g = ("py_threads",)
    for ours in ("Ring add / next, one at a time", "Ring add_batch / next_batch (64)"):
        for peer in ("queue.Queue put / get", "queue.SimpleQueue put / get", "deque + Condition"):
            add("Python, 1 writer thread -> 1 reader thread, 64 B", f"{ours} vs {peer.split(' put')[0]}",
                ours, rates.get(ours), peer, rates.get(peer), "events/s", "higher", "", g)
    for peer in ("3 x queue.Queue", "3 x queue.SimpleQueue"):
        add("Python, 1 writer thread -> 3 reader threads, 64 B", f"one Ring, 3 readers vs {peer}",
            "Ring, 3 readers, batches of 64", fan.get("Ring, 3 readers, batches of 64"), peer, fan.get(peer),
            "events/s", "higher", "each reader sees every event", g)

    pi = (_data(doc, "py_instr") or {}).get("results", [])
    for ours, peer, note in (("Ring add + next", "SimpleQueue put + get_nowait", "target: no more than the peer"),
                             ("Ring add + ev = next (kept one call)", "SimpleQueue put + item = get_nowait", "")):
        o, p = _find(pi, name=ours), _find(pi, name=peer)
        add("Python, one thread, callgrind instructions per event", f"{ours} vs {peer}", ours,
            o and o["instructions_per_event"], peer, p and p["instructions_per_event"], "instructions",
            "lower", note, ("py_instr",))
    o, p = (_find(pi, name="Ring add_batch(64) + process(handler)"),
            _find(pi, name="Ring add_batch(64) + next_batch loop + handler"))
    add("Python, one thread, callgrind instructions per event", "process(handler) vs the same loop over "
        "next_batch", "add_batch(64) + process(handler)", o and o["instructions_per_event"],
        "add_batch(64) + for i, ev in enumerate(next_batch(64)): handler(ev, i == last)",
        p and p["instructions_per_event"], "instructions", "lower",
        "both rusted_ring: x is what running the handler loop in C saves", ("py_instr",), reference=True)

    pl = (_data(doc, "py_latency") or {}).get("results", [])
    for kind, ours_name, peers in (("threads", "rusted_ring Ring", ("queue.Queue", "queue.SimpleQueue")),
                                   ("processes", "rusted_ring shared Ring",
                                    ("multiprocessing.Queue", "faster-fifo", "pyzmq PUSH/PULL ipc"))):
        o = _find(pl, kind=kind, name=ours_name)
        for peer in peers:
            p = _find(pl, kind=kind, name=peer)
            for q, key in (("p50", "p50_ns"), ("p99", "p99_ns")):
                add(f"Python ping-pong latency, {kind}, 64 B", f"round trip {q} vs {peer}", ours_name,
                    o.get(key) if o else None, peer, p.get(key) if p else None, "ns", "lower", "",
                    ("py_latency",))

    pa = (_data(doc, "py_async") or {}).get("results", [])
    for kind, ours_name, peer in (("threads", "rusted_ring next_async",
                                   "asyncio.Queue + call_soon_threadsafe"),
                                  ("processes", "rusted_ring next_async (shared Ring)",
                                   "multiprocessing.Queue + run_in_executor")):
        o, p = _find(pa, kind=kind, name=ours_name), _find(pa, kind=kind, name=peer)
        for q, key, target in (("p50", "p50_ns", "p50 <= 50 us, below the peer"),
                               ("p99", "p99_ns", "below the peer")):
            add(f"Python asyncio wake-up latency, writer in another "
                f"{'thread' if kind == 'threads' else 'process'}, 64 B",
                f"{q} vs {peer}", ours_name, o.get(key) if o else None, peer,
                p.get(key) if p else None, "ns", "lower", target, ("py_async",))

    pp = (_data(doc, "py_procs") or {}).get("results", [])

    def p_rate(name):
        r = _find(pp, name=name)
        return r.get("events_per_s") if r else None

    one, bat = "rusted_ring add / next", "rusted_ring add_batch / next_batch (64)"
    short = {one: "add/next", bat: "add_batch/next_batch(64)",
             "multiprocessing.Queue put / get": "mp.Queue put/get",
             "multiprocessing.Queue lists of 64": "mp.Queue lists of 64",
             "faster-fifo put / get": "faster-fifo put/get",
             "faster-fifo put_many / get_many (64)": "faster-fifo put_many/get_many(64)",
             "faster-fifo put_many / get_many (64), raw bytes": "faster-fifo put_many/get_many(64) raw",
             "pyzmq PUSH/PULL ipc send / recv": "pyzmq PUSH/PULL send/recv",
             "pyzmq PUSH/PULL ipc, 64 per message": "pyzmq PUSH/PULL 64 per message"}
    g = ("py_procs",)
    sec = "Python, 1 writer process -> 1 reader process, 64 B"
    for ours, peer, target in ((one, "multiprocessing.Queue put / get", ">= 10x"),
                               (bat, "multiprocessing.Queue put / get", ">= 10x"),
                               (bat, "multiprocessing.Queue lists of 64", ""),
                               (one, "faster-fifo put / get", ""),
                               (bat, "faster-fifo put_many / get_many (64)", ">= 3x"),
                               (bat, "faster-fifo put_many / get_many (64), raw bytes", ">= 3x"),
                               (one, "pyzmq PUSH/PULL ipc send / recv", ""),
                               (bat, "pyzmq PUSH/PULL ipc, 64 per message", "")):
        add(sec, f"{short[ours]} vs {short[peer]}", ours, p_rate(ours), peer, p_rate(peer),
            "events/s", "higher", f"target {target}" if target else "", g)
    for mode in ("add / next", "add_batch / next", "add_batch / next_block (512)"):
        name = f"Python writer -> Lua reader, {mode}"
        py_name = one if mode == "add / next" else bat
        add(sec, f"Python -> Lua reader ({mode.replace(' ', '')}) vs Python reader", name, p_rate(name),
            py_name.replace("rusted_ring", "Python reader,"), p_rate(py_name), "events/s", "higher",
            "both rusted_ring: x is what reading in Lua costs against reading in Python", g, reference=True)

    _blocks_rows(doc, add)
    _pipeline_rows(doc, add)
    _bridge_rows(doc, add)

    lu = _data(doc, "lua")
    lua_targets = {"interleaved": "target >= 1.0x", "bursts_block": "target >= 1.5x"}
    for r in (lu or {}).get("queue_vs_ring", []) or [{"name": "interleaved", "what": "one in, one out"}]:
        peer = "pure-Lua table queue push + pop" + (" + string.unpack" if r["name"].endswith("decode") else "")
        add("Lua, one state", r.get("what", r["name"]), r.get("ring_what", "w:add + r:next"), r.get("ring_ns"),
            peer, r.get("queue_ns"), "ns/event", "lower", lua_targets.get(r["name"], ""), ("lua",))

    mem = _find((core or {}).get("memory", []), preset="production", pool="total")
    xs = _find((core or {}).get("memory", []), preset="production", pool="XS")
    add("memory", "production preset, 5 pools", "rusted_ring", mem and mem["ours_bytes"],
        "the seed's layout", mem and mem["seed_bytes"], "bytes", "lower",
        f"payload {mem['payload_bytes']:,} B; XS pool: ours {xs['ours_bytes']:,} B, seed {xs['seed_bytes']:,} B"
        if mem and xs else "", ("c_core",))
    return rows


def _bridge_rows(doc: dict, add) -> None:
    """The NATS JetStream bridge end to end (bench_bridge.py) against one message per event."""
    data = _data(doc, "py_bridge") or {}
    res = {r["name"]: r for r in data.get("results", [])}
    if not res:
        return
    ours, peer = res.get("bridge", {}), res.get("naive", {})
    runs = ours.get("runs") or []
    prs = peer.get("runs") or []
    spread = {"stat": "median", "ours_min": min(runs, default=None), "ours_max": max(runs, default=None),
              "ours_runs": len(runs), "peer_min": min(prs, default=None), "peer_max": max(prs, default=None),
              "peer_runs": len(prs), "target": 10.0,
              "readme": "ring -> bridge out -> JetStream -> bridge in -> ring vs nats-py one message per event"}
    lat = data.get("latency_us", {})
    add(f"NATS JetStream bridge, 64 B, loopback (median of {data.get('repeat', '?')} alternating runs)",
        "ring -> bridge out -> JetStream -> bridge in -> ring", "rusted_ring.bridge (CLI processes)",
        ours.get("events_per_s"), "nats-py, one message per event", peer.get("events_per_s"),
        "events/s", "higher",
        f"target >= 10x and >= 1 M events/s; latency at 10k/s p50 {lat.get('p50', 0):,.0f} us, "
        f"p99 {lat.get('p99', 0):,.0f} us", ("py_bridge",), spread=spread)


def _pipeline_rows(doc: dict, add) -> None:
    """Three pipeline stages in threads (bench_pipeline.py): one ring whose readers follow each
    other, run by Reader.process, against a SimpleQueue chain and a RingPipe chain; medians of
    alternating runs, with each side's range."""
    data = _data(doc, "py_pipeline") or {}
    res = {r["key"]: r for r in data.get("results", [])}
    ours = res.get("one_ring", {})
    runs = data.get("runs", "?")
    section = f"Python, 3 pipeline stages in threads, 64 B (median of {runs} alternating runs)"
    for key, label, target in (("simple_queue", "one ring, process() vs SimpleQueue chain", 2.0),
                               ("ring_pipe", "one ring, process() vs RingPipe chain", 1.0)):
        peer = res.get(key, {})
        spread = {"stat": "median", "ours_min": ours.get("min"), "ours_max": ours.get("max"),
                  "ours_runs": ours.get("n", 0), "peer_min": peer.get("min"),
                  "peer_max": peer.get("max"), "peer_runs": peer.get("n", 0), "target": target,
                  "readme": f"Python, 3 stages: one ring + `process()` vs {label.split(' vs ')[1]}"}
        add(section, label, ours.get("name", "one ring, 3 process() stages (after=)"), ours.get("median"),
            peer.get("name", key), peer.get("median"), "events/s", "higher",
            f"{data.get('events', 0):,} events; target >= {target:g}x", ("py_pipeline",), spread=spread)


def _blocks_rows(doc: dict, add) -> None:
    """The block API's rows (bench_blocks.py): 64 B events in blocks of 4096 with a NumPy
    reduction per block, against one event per put and against pickled NumPy arrays."""
    rows = (_data(doc, "py_blocks") or {}).get("results", [])

    def rate(name):
        r = _find(rows, name=name)
        return r.get("events_per_s") if r else None

    ours_t = "rusted_ring add_block / next_block (4096) + NumPy"
    ours_p = "rusted_ring shared add_block / next_block (4096) + NumPy"
    g = ("py_blocks",)
    for sec, ours, peer, label, target in (
            ("Python blocks, 1 writer thread -> 1 reader thread, 64 B", ours_t,
             "queue.SimpleQueue put / get", "blocks vs SimpleQueue put/get",
             "target >= 10x and >= 50 M events/s"),
            ("Python blocks, 1 writer process -> 1 reader process, 64 B", ours_p,
             "multiprocessing.Queue put / get", "blocks vs mp.Queue put/get", "target >= 100x"),
            ("Python blocks, 1 writer process -> 1 reader process, 64 B", ours_p,
             "multiprocessing.Queue 4096-row arrays + NumPy", "blocks vs mp.Queue of 4096-row arrays",
             "target >= 3x")):
        add(sec, label, ours, rate(ours), peer, rate(peer), "events/s", "higher", target, g)


def _fmt(v, unit):
    if v is None:
        return "-"
    if unit == "events/s":
        return f"{v / 1e6:,.2f} M/s" if v >= 1e5 else f"{v / 1e3:,.1f} k/s"
    if unit in ("ns", "ns/event"):
        return f"{v / 1e3:,.1f} us" if v >= 1e4 else f"{v:,.0f} ns"
    if unit == "bytes":
        return f"{v:,} B"
    if unit == "instructions":
        return f"{v:,.0f}"
    return f"{v}"


def _range(lo, hi, unit, dash):
    """"120.10..150.30 M/s": both ends in one unit where they share it."""
    if lo is None or hi is None:
        return "-"
    a, b = _fmt(lo, unit), _fmt(hi, unit)
    ua, ub = a.rsplit(" ", 1), b.rsplit(" ", 1)
    if len(ua) == 2 and len(ub) == 2 and ua[1] == ub[1]:
        return f"{ua[0]}{dash}{b}"
    return f"{a}{dash}{b}"


def _versions(m: dict) -> str:
    """The tools of a run, as the README lists them."""
    lua = (m.get("lua") or "").split("  ")[0] or None               # "Lua 5.4.4  Copyright ..."
    java = re.sub(r'^openjdk version "([^"]+)".*', r"OpenJDK \1", m.get("java") or "") or None
    cc = re.sub(r"^cc \(.*\) ", "gcc ", m.get("cc") or "") or None    # "cc (Debian 12.2.0-14) 12.2.0"
    parts = [m.get("distro") or m.get("os"), cc, m.get("python"), lua, m.get("rustc"), java]
    parts += [f"{k} {m[k]}" for k in ("libck-dev", "libboost-dev", "faster_fifo", "pyzmq") if m.get(k)]
    return ", ".join(p for p in parts if p)


def readme_table(doc: dict) -> str:
    """The README's Performance section, from one result file: what ran where,
    then one markdown row per summary row."""
    m = doc.get("machine", {})
    started = (doc.get("started") or "?")[:10]
    commit = str(m.get("git_commit") or "?")[:7] + (" with uncommitted changes" if m.get("git_dirty") else "")
    runs = {g["data"].get("runs") for n, g in doc.get("groups", {}).items()
            if g.get("status") == "ok" and isinstance(g.get("data"), dict) and "runs" in g["data"]
            and n in ("disruptor_tests", "spsc_queues")}
    out = [f"Every figure below comes from one {'quick ' if doc.get('quick') else ''}run of "
           f"`{doc.get('command', 'python bench/run.py')}` at commit {commit} on {started} "
           f"({doc.get('duration_s', '?')} s), on a machine with {m.get('cores', '?')} CPUs ({m.get('cpu', '?')}) "
           f"and {m.get('memory_gib', '?')} GiB: {_versions(m)}. Each row sets rusted_ring beside a peer "
           f"measured in the same run; × is how many times better rusted_ring is (events/s: ours ÷ peer; "
           f"ns and bytes: peer ÷ ours), so **below 1 the peer wins**."]
    if runs:
        out[0] += (f" The Disruptor's throughput tests and the 1P1C queues ran ours and the peer alternately, "
                   f"{' / '.join(str(r) for r in sorted(runs))} times each: their rows give the median and, in "
                   f"parentheses, the range (min–max) of those runs, and × is the ratio of the medians.")
    out += ["", "| workload | rusted_ring | peer | × |", "|---|---:|---:|---:|"]
    notes = []

    def cell(r, who):
        v = _fmt(r[who], r["unit"])
        if r.get("stat") == "median" and r[who] is not None and r.get(who + "_runs", 0) > 1:
            span = _range(r.get(who + "_min"), r.get(who + "_max"), r["unit"], "–")
            unit = v.rsplit(" ", 1)[-1]
            v += f" ({span[: -len(unit) - 1] if span.endswith(' ' + unit) else span})"
            if r.get(who + "_capped"):
                v += " capped"
        return "–" if v == "-" else v

    for r in doc.get("summary", []):
        what = r.get("readme") or f"{r['section']}: {r['what']}"
        if r.get("oversubscribed"):
            what += " †"
        if "speedup" in r:
            x = f"{r['speedup']:.2f}"
            x = f"({x}, both rusted_ring)" if r.get("reference") else (f"**{x}**" if r["speedup"] < 1 else x)
        else:
            x = "–"
            if r.get("missing"):
                notes.append(f"- {what}: not measured ({r['missing']})")
        out.append(f"| {what.replace('|', '/')} | {cell(r, 'ours')} | {cell(r, 'peer')} | {x} |")
    if any(r.get("oversubscribed") for r in doc.get("summary", [])):
        notes.insert(0, "- †: more threads than CPUs (the shape's producers and consumers share the "
                        "machine's CPUs); busy-spinning waits then take turns with the threads they wait for.")
    if any(r.get("ours_capped") or r.get("peer_capped") for r in doc.get("summary", [])):
        notes.insert(0, "- capped: the run's producers stopped at the run's time cap; the figure is the rate "
                        "until then.")
    if notes:
        out += [""] + notes
    out.append("")
    out.append(f"Regenerate with `python bench/run.py --readme {RESULTS.relative_to(ROOT) / 'results.json'}` "
               f"after `make bench`.")
    return "\n".join(out) + "\n"


def print_summary(doc: dict) -> None:
    m = doc.get("machine", {})
    print(f"summary of `{doc.get('command', 'bench/run.py')}` ({'quick' if doc.get('quick') else 'full'} run, "
          f"{doc.get('started', '?')}, git {str(m.get('git_commit'))[:12]}"
          f"{'+changes' if m.get('git_dirty') else ''}; {m.get('cpu')}, {m.get('cores')} cores)")
    print("x: how many times better rusted_ring's figure is than the peer's from the same run "
          "(events/s: ours / peer; ns and bytes: peer / ours). Above 1 rusted_ring wins, below 1 the peer wins.")
    section = None
    for r in doc.get("summary", []):
        if r["section"] != section:
            section = r["section"]
            print(f"\n  {section}")
            print(f"    {'workload':66} {'rusted_ring':>12} {'peer':>12} {'x':>7}  winner")
        if "speedup" in r:
            x = f"{r['speedup']:.2f}"
            win = "rusted_ring" if r["speedup"] > 1.05 else ("peer" if r["speedup"] < 0.95 else "even")
            if r.get("reference"):
                win = "(both rusted_ring)"
        else:
            x, win = "-", "n/a"
        print(f"    {r['what'][:66]:66} {_fmt(r['ours'], r['unit']):>12} {_fmt(r['peer'], r['unit']):>12} "
              f"{x:>7}  {win}")
        detail = f"ours: {r['ours_label']}; peer: {r['peer_label']}"
        if r.get("stat") == "median":
            detail += (f"; medians of {r.get('ours_runs', 0)} / {r.get('peer_runs', 0)} runs, range ours "
                       f"{_range(r.get('ours_min'), r.get('ours_max'), r['unit'], '..')}, peer "
                       f"{_range(r.get('peer_min'), r.get('peer_max'), r['unit'], '..')}")
        for extra in (r.get("note"), r.get("missing") and f"missing: {r['missing']}"):
            if extra:
                detail += f"; {extra}"
        print(f"      {detail}")
    cores = m.get("cores") or 1
    busy = [n for n, g in doc.get("groups", {}).items()
            if (g.get("load_before", {}).get("loadavg") or [0])[0] > cores]
    if busy:
        print(f"\n  note: the 1-minute load average exceeded the {cores} cores when these groups started: "
              f"{', '.join(busy)}; other work on the machine was competing with them")
    skipped = {n: g["reason"] for n, g in doc.get("groups", {}).items() if g.get("status") != "ok"}
    for n, why in skipped.items():
        print(f"\n  {n}: {doc['groups'][n]['status']}: {why}")


if __name__ == "__main__":
    sys.exit(main())
