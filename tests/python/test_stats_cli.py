"""`python -m rusted_ring stats`, run as a subprocess.

The shared-ring cases read a ring that another process created and writes:
that process publishes 30 events, one of its readers reads all of them and the
other 10, then it holds the ring until the test lets it go. Its writer waits
by "sleep", the slow reader by "yield" and the fast one by "spin": the
strategies are in the shared ring, so this process's view shows them.
"""
import json
import os
import queue
import select
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from contextlib import contextmanager

import pytest

import rusted_ring as rr

from fresh import PACKAGE_ROOT  # noqa: E402

WAIT = 120  # seconds; generous, the machine may be busy

WRITER = textwrap.dedent("""
    import os, sys
    import rusted_ring as rr
    ring = rr.Ring.create_shared(sys.argv[1], 64, 100, mode="backpressure")
    w = ring.writer(wait="sleep")
    slow, fast = ring.reader(wait="yield", name="slow"), ring.reader("oldest", wait="spin")
    for i in range(30):
        w.add(b"event %d" % i, i)
    for _ in range(30):
        assert fast.next() is not None
    for _ in range(10):
        assert slow.next() is not None
    print("ready", os.getpid(), flush=True)
    sys.stdin.readline()                  # hold the ring until the test is done
""")


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, e.get("PYTHONPATH")]))
    return e


def python(*args, **kw):
    """Popen of the test's Python in the package's folder (see fresh.py for why there)."""
    return subprocess.Popen([sys.executable, *args], cwd=PACKAGE_ROOT, env=env(), text=True, **kw)


def stats(*args):
    """Run `python -m rusted_ring stats ARGS`; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "rusted_ring", "stats", *args], cwd=PACKAGE_ROOT,
                          env=env(), text=True, capture_output=True, timeout=WAIT)


def unique():
    return f"rr-cli-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@contextmanager
def shared_writer():
    """A process that wrote to a new shared ring; yields (name, its pid)."""
    name = unique()
    proc = python("-c", WRITER, name, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready "), f"writer failed: {line}{proc.stderr.read()}"
        yield name, int(line.split()[1])
    finally:
        proc.stdin.close()
        proc.wait(WAIT)
        try:
            rr.Ring.unlink_shared(name)
        except rr.SharedMemoryNotFound:
            pass


def test_table_of_a_shared_ring_written_by_another_process():
    with shared_writer() as (name, pid):
        done = stats("--shared", name)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"ring /{name} ") and "backpressure, single producer" in lines[0]
    assert f"writer pid {pid} (alive)" in lines[0] and "writer wait sleep" in lines[0]
    assert "capacity 100 x 64 bytes" in lines[1] and "published 30" in lines[1]
    # the slow reader: 20 unread and its last event, which it keeps: 21 of 100
    assert "readers 2" in lines[2] and "max backpressure 21.0%" in lines[2]
    assert "health EXCELLENT" in lines[2]
    header = lines.index(next(line for line in lines if line.startswith("READER")))
    assert lines[header].split() == ["READER", "NAME", "PID", "ALIVE", "CURSOR", "LAG", "PINNED",
                                     "LOST", "BACKPRESSURE", "STATE", "WAIT", "AFTER", "WRITES",
                                     "DURABLE"]
    rows = sorted(line.split() for line in lines[header + 1:])
    assert [row[1:] for row in rows] == [
        ["slow", str(pid), "yes", "10", "20", "1", "0", "21.0%", "ok", "yield", "-", "-", "-"],
        ["-", str(pid), "yes", "30", "0", "1", "0", "1.0%", "ok", "spin", "-", "-", "-"]]


def test_json_of_a_shared_ring_written_by_another_process():
    with shared_writer() as (name, pid):
        done = stats("--shared", name, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["name"], report["shared"], report["mode"]) == (f"/{name}", True, "backpressure")
    assert (report["published"], report["capacity"], report["slot_size"]) == (30, 100, 64)
    assert (report["writer_pid"], report["writer_alive"], report["closed"]) == (pid, True, False)
    assert report["writer_wait"] == "sleep"
    assert report["health"] == "EXCELLENT" and report["max_backpressure"] == 0.21
    readers = sorted(report["readers"], key=lambda r: r["cursor"])
    assert [(r["cursor"], r["lag"], r["pinned"], r["lost"], r["pid"], r["alive"], r["level"],
             r["wait"], r["name"], r["after"], r["writable"]) for r in readers] == [
        (10, 20, 1, 0, pid, True, "NORMAL", "yield", "slow", 0, False),
        (30, 0, 1, 0, pid, True, "NORMAL", "spin", "", 0, False)]
    assert isinstance(report["timestamp"], float)


def test_the_viewer_leaves_the_ring_as_it_was():
    # The command must never close() a shared ring: that would end the stream for everyone.
    with shared_writer() as (name, _):
        assert stats("--shared", name).returncode == 0
        ring = rr.Ring.open_shared(name)
        s = ring.stats()
        assert not s["closed"] and s["reader_count"] == 2 and s["writer_alive"]


def test_watch_refreshes_until_its_count():
    with shared_writer() as (name, _):
        done = stats("--shared", name, "--watch", "--interval", "0.05", "--count", "3")
        lines = stats("--shared", name, "--watch", "--json", "-i", "0.05", "-n", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("python -m rusted_ring stats") == 3
    assert done.stdout.count(f"ring /{name} ") == 3
    assert "\x1b[" not in done.stdout           # no screen control when not on a terminal
    reports = [json.loads(line) for line in lines.stdout.splitlines()]
    assert len(reports) == 2 and all(r["published"] == 30 for r in reports)


def test_watch_on_a_terminal_redraws_in_place():
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    proc = python("-m", "rusted_ring", "stats", "--pools", "--watch", "-i", "0.05", "-n", "2",
                  stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], WAIT)
            assert ready, f"no output from the command within {WAIT} s"
            try:
                chunk = os.read(master, 65536)
            except OSError:                         # EIO: the child has exited
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(WAIT) == 0, proc.stderr.read()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    text = out.decode()
    assert text.count("\x1b[H\x1b[2J") == 2 and text.count("default pools of process") == 2


def test_watch_exits_cleanly_on_ctrl_c():
    # A child inherits an ignored SIGINT (a shell's background job has one),
    # and Python then raises no KeyboardInterrupt: give it the default back.
    proc = python("-m", "rusted_ring", "stats", "--pools", "--watch", "--interval", "0.05",
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        while "default pools" not in lines.get(timeout=WAIT):
            pass
        proc.send_signal(signal.SIGINT)
        assert proc.wait(WAIT) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)


def test_missing_shared_ring_is_a_clear_error():
    name = unique()
    done = stats("--shared", name)
    assert done.returncode == 1 and done.stdout == ""
    assert f"no shared ring named {name!r}" in done.stderr and "Traceback" not in done.stderr


def test_a_segment_that_is_not_a_ring_is_refused():
    shared_memory = pytest.importorskip("multiprocessing.shared_memory")
    name = unique()
    foreign = shared_memory.SharedMemory(name=name, create=True, size=4096)
    try:
        foreign.buf[:16] = b"not a ring at al"
        done = stats("--shared", name, "--json")
    finally:
        foreign.close()
        foreign.unlink()
    assert done.returncode == 1 and done.stdout == ""
    assert f"cannot open shared ring {name!r}" in done.stderr and "not a rusted_ring" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_names_and_arguments_exit_non_zero():
    bad = stats("--shared", "a/b")
    assert bad.returncode == 1 and "bad shared ring name" in bad.stderr
    assert stats("--interval", "0", "--watch").returncode == 2
    assert stats("--count", "zero").returncode == 2
    assert stats("--pools", "--shared", "strokes").returncode == 2


def test_default_pools_table_and_json():
    done = stats("--pools")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("default pools of process") and "health EXCELLENT" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert list(rows) == ["XS", "S", "M", "L", "XL"]
    assert [rows[p][1:3] for p in rows] == [["64", "2000"], ["256", "1000"], ["1024", "300"],
                                            ["4096", "60"], ["16384", "15"]]
    assert all("not created" in line for line in lines[3:])
    report = json.loads(stats("--pools", "--json").stdout)
    assert [p["pool_id"] for p in report["pools"]] == ["XS", "S", "M", "L", "XL"]
    assert [p["capacity"] for p in report["pools"]] == [2000, 1000, 300, 60, 15]
    assert report["health"] == "EXCELLENT" and not any(p["exists"] for p in report["pools"])


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a segment to another user needs root")
def test_a_ring_of_another_user_is_shown_only_with_allow_other_user():
    name = unique()
    ring = rr.Ring.create_shared(name, 64, 10)
    try:
        os.chown(f"/dev/shm/{name}", 65534, 65534)
        refused = stats("--shared", name)
        assert refused.returncode == 1 and refused.stdout == ""
        assert "belongs to user 65534" in refused.stderr and "--allow-other-user" in refused.stderr
        shown = stats("--shared", name, "--allow-other-user", "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["capacity"] == 10
    finally:
        del ring
        rr.Ring.unlink_shared(name)


# ---- the listing of /dev/shm (no --shared, no --pools) ------------------------------------------

@contextmanager
def foreign_files():
    """Files in /dev/shm that are not rings: another program's segment, an empty one, the
    first page of a real ring (a truncated ring), a folder and a FIFO. Yields their names."""
    made = {kind: f"{unique()}-{kind}" for kind in ("foreign", "empty", "truncated", "folder", "fifo")}
    paths = {kind: f"/dev/shm/{name}" for kind, name in made.items()}
    ring = rr.Ring.create_shared(made["truncated"] + "-whole", 64, 100)
    try:
        with open(paths["foreign"], "wb") as f:
            f.write(b"another program's shared memory, not a ring" * 100)
        open(paths["empty"], "wb").close()
        with open(f"/dev/shm/{made['truncated']}-whole", "rb") as whole, open(paths["truncated"], "wb") as f:
            f.write(whole.read(4096))
        os.mkdir(paths["folder"])
        os.mkfifo(paths["fifo"])
        yield made
    finally:
        del ring
        rr.Ring.unlink_shared(made["truncated"] + "-whole")
        for kind, path in paths.items():
            if kind == "folder":
                os.rmdir(path)
            elif os.path.lexists(path):
                os.unlink(path)


def test_the_listing_shows_a_ring_another_process_created_and_skips_foreign_files():
    with shared_writer() as (name, pid), foreign_files() as foreign:
        table = stats()
        listing = stats("--json")
    assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SLOT", "CAPACITY", "MODE", "PRODUCERS", "WRITER", "READERS",
                                "PUBLISHED", "MEMORY", "HEALTH", "STATE"]
    row = next(line.split() for line in lines if line.startswith(f"/{name} "))
    # NAME SLOT CAPACITY MODE PRODUCERS WRITER ("pid N") READERS PUBLISHED MEMORY ("x KiB") ...
    assert row[:9] == [f"/{name}", "64", "100", "backpressure", "single", "pid", str(pid), "2", "30"]
    assert row[10:] == ["KiB", "EXCELLENT", "open"]
    listed = {line.split()[0] for line in table.stdout.split("\n\n")[0].splitlines()[1:]}
    assert not listed & {f"/{f}" for f in foreign.values()}
    assert "skipped: not rusted_ring rings, or not readable here (--json says why)" in lines[-1]

    assert listing.returncode == 0, listing.stderr
    report = json.loads(listing.stdout)
    ring = next(r for r in report["rings"] if r["name"] == f"/{name}")
    assert ring == {**ring, "slot_size": 64, "capacity": 100, "mode": "backpressure",
                    "producers": "single", "published": 30, "writer_alive": True, "writer_pid": pid,
                    "reader_count": 2, "closed": False, "health": "EXCELLENT"}
    skipped = {s["name"]: s["reason"] for s in report["skipped"]}
    assert not {f"/{f}" for f in foreign.values()} & {r["name"] for r in report["rings"]}
    assert set(foreign.values()) <= set(skipped), "a foreign file was neither listed nor skipped"
    assert "not a rusted_ring" in skipped[foreign["foreign"]]
    assert skipped[foreign["folder"]] == skipped[foreign["fifo"]] == "not a regular file"
    assert "only 4096 are mapped" in skipped[foreign["truncated"]]
    # Empty, it may be a ring whose creator has not locked it yet (for half a second
    # after it appears; the listing never waits), or nobody's.
    assert "being created" in skipped[foreign["empty"]] or "is not a ring" in skipped[foreign["empty"]]
    assert report["folder"] == "/dev/shm" and isinstance(report["timestamp"], float)


def test_the_listing_names_a_bridge_in_marker_for_what_it_is():
    path = f"/dev/shm/rusted_ring.bridge.cli-{uuid.uuid4().hex[:8]}.rr-host-ring"
    with open(path, "wb") as f:
        f.write(b"RRBMARK3" + bytes(88))
    try:
        listing = stats("--json")
    finally:
        os.unlink(path)
    assert listing.returncode == 0, listing.stderr
    report = json.loads(listing.stdout)
    reason = {s["name"]: s["reason"] for s in report["skipped"]}[os.path.basename(path)]
    assert reason.startswith("the marker of a bridge in"), reason


def test_the_listing_leaves_the_rings_as_they_were():
    with shared_writer() as (name, _):
        assert stats().returncode == 0
        s = rr.Ring.open_shared(name).stats()
        assert not s["closed"] and s["reader_count"] == 2 and s["writer_alive"]


def test_the_listing_watches_like_top():
    with shared_writer() as (name, _):
        done = stats("--watch", "--json", "-i", "0.05", "-n", "2")
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(reports) == 2
    assert all(any(r["name"] == f"/{name}" and r["published"] == 30 for r in rep["rings"])
               for rep in reports)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a segment to another user needs root")
def test_the_listing_shows_another_users_ring_only_with_allow_other_user():
    name = unique()
    ring = rr.Ring.create_shared(name, 64, 10)
    try:
        os.chown(f"/dev/shm/{name}", 65534, 65534)
        mine = json.loads(stats("--json").stdout)
        assert f"/{name}" not in {r["name"] for r in mine["rings"]}
        reason = {s["name"]: s["reason"] for s in mine["skipped"]}[name]
        assert "belongs to user 65534" in reason and "--allow-other-user" in reason
        everyone = json.loads(stats("--json", "--allow-other-user").stdout)
        assert {r["name"]: r["capacity"] for r in everyone["rings"]}[f"/{name}"] == 10
    finally:
        del ring
        rr.Ring.unlink_shared(name)
