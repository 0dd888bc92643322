"""Plumbing for the bridge tests: a real nats-server with JetStream, shared
ring names, bridge processes, checksummed payloads, waits with deadlines.

The server is Debian's `nats-server -js` on 127.0.0.1, an ephemeral port and a
store folder of its own; `restart()` starts it again on the same port and
store. Without nats-server or nats-py the tests are skipped saying which is
missing, unless RR_REQUIRE_NATS=1 (CI), which makes that a failure.

    RR_LUA_BUILD   folder holding the Lua rusted_ring.so (default build/lua)
    RR_LUA         the Lua 5.4 interpreter (default lua5.4)
    RR_STRESS_SCALE  scales the event counts (default 1)
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import rusted_ring as rr

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LUA_BUILD = Path(os.environ.get("RR_LUA_BUILD", "build/lua"))
if not LUA_BUILD.is_absolute():
    LUA_BUILD = REPO / LUA_BUILD
LUA = os.environ.get("RR_LUA", "lua5.4")
PYTHON = [sys.executable] + (["-P"] if sys.version_info >= (3, 11) else [])
SCALE = float(os.environ.get("RR_STRESS_SCALE", "1"))
LIMIT = 60.0      # the bound on every wait; reached only when something is broken
CHILD_ENV = dict(os.environ, PYTHONPATH=str(REPO / "python"),
                 LUA_CPATH=f"{LUA_BUILD}/?.so;;",
                 LUA_PATH=f"{REPO}/tests/interop/children/?.lua;;")

NATS_SERVER = shutil.which("nats-server") or ("/usr/sbin/nats-server"
                                              if os.path.exists("/usr/sbin/nats-server") else None)
try:
    import nats  # noqa: F401
    HAVE_NATS_PY = True
except ImportError:
    HAVE_NATS_PY = False


def pytest_collection_modifyitems(config, items):
    missing = [what for what, ok in (("nats-server", NATS_SERVER), ("nats-py", HAVE_NATS_PY))
               if not ok]
    if not missing:
        return
    why = (f"{' and '.join(missing)} not installed (apt install nats-server; "
           "pip install 'rusted_ring[bridge]')")
    if os.environ.get("RR_REQUIRE_NATS") == "1":
        raise pytest.UsageError(f"RR_REQUIRE_NATS=1 but {why}")
    for item in items:
        item.add_marker(pytest.mark.skip(reason=why))


def need_lua():
    """Skip (saying what is missing) without the Lua interpreter or the built Lua
    module (`make lua`); a failure instead under RR_REQUIRE_NATS=1 (CI)."""
    missing = [what for what, ok in ((f"the Lua interpreter {LUA!r}", shutil.which(LUA)),
                                     (f"the Lua module {LUA_BUILD / 'rusted_ring.so'} "
                                      "(make lua)", (LUA_BUILD / "rusted_ring.so").exists()))
               if not ok]
    if not missing:
        return
    why = " and ".join(missing) + " not found"
    if os.environ.get("RR_REQUIRE_NATS") == "1":
        pytest.fail(f"RR_REQUIRE_NATS=1 but {why}")
    pytest.skip(why)


def scaled(n, least=1):
    return max(least, int(n * SCALE))


def wait_until(cond, timeout=LIMIT, what="the condition", state=None):
    """Poll cond() until true; fail after `timeout` saying what, and state()."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}"
                        + (f": {state()}" if state else ""))
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NatsServer:
    def __init__(self):
        self.store = tempfile.mkdtemp(prefix="rr-nats-")
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = None
        self.log = open(os.path.join(self.store, "server.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p",
                                      str(self.port), "-sd", self.store],
                                     stdout=self.log, stderr=self.log)
        wait_until(self._ready, 20, f"nats-server on port {self.port}", self._tail)

    def _tail(self):
        with open(os.path.join(self.store, "server.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def _ready(self):
        if self.proc.poll() is not None:
            pytest.fail(f"nats-server exited {self.proc.returncode}: {self._tail()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                return s.recv(4).startswith(b"INFO")
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.store, ignore_errors=True)


@pytest.fixture
def server():
    s = NatsServer()
    s.start()
    yield s
    s.cleanup()


@pytest.fixture
def shm():
    """shm() -> a fresh shared ring name; the ring and bridge markers are removed after."""
    names = []

    def new(prefix="br"):
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        names.append(name)
        return name
    yield new
    for name in names:
        try:
            rr.Ring.unlink_shared(name)
        except (FileNotFoundError, rr.SharedMemoryError):
            pass
        for f in Path("/dev/shm").glob(f"rusted_ring.bridge.{name}.*"):
            f.unlink(missing_ok=True)


class Bridge:
    """`python -m rusted_ring bridge ...` as a child process."""

    def __init__(self, *args):
        self.argv = PYTHON + ["-m", "rusted_ring", "bridge"] + [str(a) for a in args]
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, env=CHILD_ENV, stdout=subprocess.DEVNULL,
                                     stderr=self.errfile)

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(LIMIT)

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read().decode(errors="replace")

    def finish(self, timeout=LIMIT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"{self.argv} did not end within {timeout} s: {self.stderr()}")
        return rc, self.stderr()

    def running(self):
        return self.proc.poll() is None


@pytest.fixture
def bridges():
    made = []

    def start(*args):
        b = Bridge(*args)
        made.append(b)
        return b
    yield start
    for b in made:
        if b.running():
            b.kill()


# ---- checksummed payloads ------------------------------------------------------------
# Each event: u64 sequence, u64 checksum of it, then filler up to `width` bytes.

def checksum(seqs):
    x = (np.asarray(seqs, np.uint64) + np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xBF58476D1CE4E5B9)
    return x ^ (x >> np.uint64(31))


def payloads(first, n, width=64):
    rows = np.zeros((n, width), np.uint8)
    seqs = np.arange(first, first + n, dtype=np.uint64)
    rows[:, 0:8] = seqs.view(np.uint8).reshape(n, 8)
    rows[:, 8:16] = checksum(seqs).view(np.uint8).reshape(n, 8)
    return rows


def check_rows(rows, first):
    """The sequences in rows (n x >=16 uint8) are first, first+1, ... with their checksums."""
    rows = np.ascontiguousarray(rows[:, :16])
    seqs = rows[:, 0:8].copy().view(np.uint64).ravel()
    sums = rows[:, 8:16].copy().view(np.uint64).ravel()
    want = np.arange(first, first + len(rows), dtype=np.uint64)
    bad = np.nonzero(seqs != want)[0]
    assert not len(bad), f"event {first + bad[0]}: got sequence {seqs[bad[0]]}"
    assert (sums == checksum(seqs)).all(), "a checksum does not match"


class Collector:
    """Reads a ring and checks every event: sequence order from 0, checksums."""

    def __init__(self, ring, name=None):
        self.reader = ring.reader(name=name) if name else ring.reader()
        self.count = 0

    def poll(self, n=65536):
        b = self.reader.next_block(n, 0)
        if b is None:
            return 0
        with b:
            a = b.as_array()
            check_rows(a, self.count)
            del a
        self.count += len(b)
        return len(b)

    def until(self, total, timeout=LIMIT, state=None):
        deadline = time.monotonic() + timeout
        while self.count < total:
            if not self.poll() and time.monotonic() > deadline:
                pytest.fail(f"{self.count} of {total} events arrived"
                            + (f": {state()}" if state else ""))
            if self.count < total:
                time.sleep(0.0005)


class Feeder:
    """Writes `total` checksummed events into a ring, a block at a time, without waiting."""

    def __init__(self, writer, total, block=1024, width=64):
        self.writer, self.total, self.block, self.width = writer, total, block, width
        self.sent = 0

    def step(self):
        if self.sent >= self.total:
            return 0
        k = min(self.block, self.total - self.sent)
        try:
            self.writer.add_block(payloads(self.sent, k, self.width), timeout=0)
        except rr.RingFull:
            return 0
        self.sent += k
        return k
