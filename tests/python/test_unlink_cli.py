"""`python -m rusted_ring unlink NAME...`, run as a subprocess: the remedy that
SharedMemoryExists names for a ring left behind by a process that crashed."""
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

import rusted_ring as rr

from fresh import PACKAGE_ROOT

WAIT = 120  # seconds; generous, the machine may be busy


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, e.get("PYTHONPATH")]))
    return e


def unlink(*names):
    """Run `python -m rusted_ring unlink NAMES`; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "rusted_ring", "unlink", *names], cwd=PACKAGE_ROOT,
                          env=env(), text=True, capture_output=True, timeout=WAIT)


@pytest.fixture
def names():
    made = []

    def new():
        made.append(f"rr-unlink-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield new
    for name in made:
        try:
            rr.Ring.unlink_shared(name)
        except rr.SharedMemoryNotFound:
            pass


def exists(name):
    return os.path.exists(f"/dev/shm/{name}")


def test_a_ring_left_by_a_crashed_writer_is_named_as_such_and_removed(names):
    name = names()
    crashed = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        import rusted_ring as rr
        ring = rr.Ring.create_shared({name!r}, 64, 16)
        ring.writer().add(b"last words")
        os.kill(os.getpid(), signal.SIGKILL)
    """)], cwd=PACKAGE_ROOT, env=env())
    assert crashed.wait(WAIT) == -signal.SIGKILL
    with pytest.raises(rr.SharedMemoryExists) as info:
        rr.Ring.create_shared(name, 64, 16)
    assert f"python -m rusted_ring unlink {name}" in str(info.value)
    done = unlink(name)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"removed shared ring {name!r}\n", "")
    assert not exists(name)
    assert rr.Ring.create_shared(name, 64, 16).published == 0


def test_several_names_and_a_leading_slash(names):
    a, b = names(), names()
    rr.Ring.create_shared(a, 8, 2)
    rr.Ring.create_shared(b, 8, 2)
    done = unlink(a, "/" + b)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"removed shared ring {a!r}", f"removed shared ring {'/' + b!r}"]
    assert not exists(a) and not exists(b)


def test_a_missing_name_is_one_line_on_stderr_and_exit_status_1(names):
    there, missing = names(), names()
    rr.Ring.create_shared(there, 8, 2)
    done = unlink(missing, there)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"python -m rusted_ring unlink: no shared ring named {missing!r}"]
    assert done.stdout.splitlines() == [f"removed shared ring {there!r}"]   # the others still go
    assert not exists(there)


def test_a_bad_name_says_which_rule_it_breaks():
    done = unlink("a/b")
    assert done.returncode == 1
    assert "'/' after its first character" in done.stderr and len(done.stderr.splitlines()) == 1


def test_no_name_is_a_usage_error():
    done = unlink()
    assert done.returncode == 2 and "NAME" in done.stderr
