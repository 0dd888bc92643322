"""Plumbing for the interop tests: segment names, child processes, waits.

Children are separate interpreters (python -P, lua5.4) started with
subprocess, never forked from pytest: they open the ring by name exactly as an
unrelated program would. They find the modules through PYTHONPATH, LUA_PATH
and LUA_CPATH built here from the checkout:

    RR_LUA_BUILD   folder holding the Lua rusted_ring.so (default build/lua)
    RR_LUA         the Lua 5.4 interpreter (default lua5.4)

Every segment a test names is unlinked after it, and every child still running
when a test ends (a failure) is killed, so nothing outlives the test.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import rusted_ring as rr

REPO = Path(__file__).resolve().parents[2]
CHILDREN = Path(__file__).resolve().parent / "children"
LUA_BUILD = Path(os.environ.get("RR_LUA_BUILD", "build/lua"))
if not LUA_BUILD.is_absolute():
    LUA_BUILD = REPO / LUA_BUILD
LUA = os.environ.get("RR_LUA", "lua5.4")
PYTHON = [sys.executable] + (["-P"] if sys.version_info >= (3, 11) else [])
# The tests check payloads with the same module the Python children use.
sys.path.insert(0, str(CHILDREN))

# The bound on every wait for another process. Reached only when something is
# broken; the tests themselves take a few seconds.
LIMIT = 60.0

CHILD_ENV = dict(
    os.environ,
    PYTHONPATH=os.pathsep.join([str(REPO / "python"), str(CHILDREN)]),
    LUA_PATH=f"{CHILDREN}/?.lua;;",
    LUA_CPATH=f"{LUA_BUILD}/?.so;;",
)


def pytest_configure(config):
    if not (LUA_BUILD / "rusted_ring.so").exists():
        raise pytest.UsageError(f"{LUA_BUILD}/rusted_ring.so is missing: run `make lua` (or set RR_LUA_BUILD)")


@pytest.fixture
def shm():
    """shm() -> a fresh segment name, unlinked when the test ends."""
    names = []

    def new():
        name = f"rr-interop-{uuid.uuid4().hex[:16]}"
        names.append(name)
        return name

    yield new
    for name in names:
        try:
            rr.Ring.unlink_shared(name)
        except FileNotFoundError:
            pass


class Child:
    """A child process; threads collect what it prints (stdout line by line)."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, env=CHILD_ENV, cwd=REPO, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = self.p.pid
        self.lines = queue.Queue()
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self._collect, args=(self.p.stdout, self.out, self.lines),
                                         daemon=True),
                        threading.Thread(target=self._collect, args=(self.p.stderr, self.err, None),
                                         daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _collect(stream, into, lines):
        for line in stream:
            into.append(line)
            if lines is not None:
                lines.put(line)
        if lines is not None:
            lines.put(None)

    def read_json(self, timeout=LIMIT):
        """The next line the child prints, as JSON, waiting at most `timeout` s for it."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name()} printed nothing for {timeout} s") from None
        if line is None:
            self.wait_quietly()
            raise AssertionError(f"{self.name()} exited ({self.p.returncode}) before printing a line:\n"
                                 f"{self.output()}")
        return json.loads(line)

    def finish(self, timeout=LIMIT):
        """Wait for the child to exit by itself, require success, return its last line as JSON."""
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name()} still running after {timeout} s:\n{self.output()}") from None
        self.wait_quietly()
        assert self.p.returncode == 0, f"{self.name()} failed ({self.p.returncode}):\n{self.output()}"
        assert self.out, f"{self.name()} printed nothing:\n{self.output()}"
        return json.loads(self.out[-1])

    def wait_quietly(self):
        try:
            self.p.wait(LIMIT)
        except subprocess.TimeoutExpired:
            pass
        for t in self.threads:
            t.join(LIMIT)

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        self.wait_quietly()

    def running(self):
        return self.p.poll() is None

    def output(self):
        return "".join(self.out) + "".join(self.err)

    def name(self):
        return f"child {self.pid} ({' '.join(Path(str(a)).name for a in self.argv[-5:])})"


@pytest.fixture
def spawn():
    """spawn.py(script, *args) / spawn.lua(script, *args) -> Child; any child still
    running when the test ends is killed."""
    children = []

    class Spawn:
        @staticmethod
        def py(script, *args):
            c = Child(PYTHON + [str(CHILDREN / script)] + [str(a) for a in args])
            children.append(c)
            return c

        @staticmethod
        def lua(script, *args):
            c = Child([LUA, str(CHILDREN / script)] + [str(a) for a in args])
            children.append(c)
            return c

    yield Spawn
    for c in children:
        if c.running():
            c.kill()


def wait_until(cond, timeout, what, state=None):
    """Poll `cond` (a cheap check) until it holds; fail after `timeout` seconds,
    with what `state()` says then."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                                 + (f"; {state()}" if state else ""))
        time.sleep(0.001)


def asleep(pid):
    """Whether process `pid` is blocked (state S), e.g. in a futex wait."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "S"
