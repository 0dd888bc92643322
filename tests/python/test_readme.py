"""The README's Python quick start runs as written."""
import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def python_blocks():
    text = README.read_text()
    section = text.split("## Python quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_python_quick_start_runs_and_prints_every_event():
    blocks = python_blocks()
    assert blocks, "the README lost its Python example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {})
    assert out.getvalue().splitlines() == [
        "0 7 b'stroke 1'",
        "1 8 b'cursor 3,4'",
        "2 8 b'cursor 5,6'",
        "3 9 b'hello'",
    ]


def shared_blocks():
    text = README.read_text()
    section = text.split("## Shared memory", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def large_capacity():
    """Slots of 64 bytes for a ring of about 1 GiB, or a quarter of /dev/shm's free space if less."""
    import os
    vfs = os.statvfs("/dev/shm")
    size = min(1 << 30, vfs.f_bavail * vfs.f_frsize // 4)
    return size // (64 + 16)


@pytest.mark.parametrize("size", ["as written", "about 1 GiB"])
@pytest.mark.parametrize("first", ["reader", "writer"])
def test_readme_shared_memory_example_runs_in_two_processes(first, size):
    """The two scripts of the README's shared-memory section, as written
    (under a name of their own), in two processes, started in either order
    ("start either first"): the reader prints every event and ends at the
    close; the writer removes the name. With a ring of about a gigabyte, the
    writer-first run starts the reader as soon as the segment appears, while
    the writer is still laying the ring out."""
    import os
    import subprocess
    import sys
    import tempfile
    import uuid

    from fresh import PACKAGE_ROOT
    from payloads import wait_until

    writer, reader = shared_blocks()[:2]
    assert "create_shared" in writer and "open_shared" in reader
    if size != "as written":
        assert "capacity=1024" in writer, "the README's writer no longer says capacity=1024"
        writer = writer.replace("capacity=1024", f"capacity={large_capacity()}")
    name = f"rr-readme-{uuid.uuid4().hex[:12]}"
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for role, code in (("writer", writer), ("reader", reader)):
            paths[role] = os.path.join(tmp, f"{role}.py")
            with open(paths[role], "w") as f:
                f.write(code.replace('"strokes"', repr(name)))

        def start(role):
            return subprocess.Popen([sys.executable, paths[role]], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env, cwd=tmp)

        procs = {}
        try:
            if first == "reader":                  # it waits for the ring to appear
                procs["reader"] = start("reader")
                procs["writer"] = start("writer")
            else:
                procs["writer"] = start("writer")
                wait_until(lambda: os.path.exists(f"/dev/shm/{name}") or procs["writer"].poll() is not None,
                           60, "the writer to take the name")
                procs["reader"] = start("reader")
            outs = {role: p.communicate(timeout=120) for role, p in procs.items()}
        finally:
            for p in procs.values():
                p.kill()
            if os.path.exists(f"/dev/shm/{name}"):
                os.unlink(f"/dev/shm/{name}")
    for role, p in procs.items():
        assert p.returncode == 0, (role, outs[role][1])
    assert outs["reader"][0].splitlines() == ["0 7 stroke 0", "1 7 stroke 1", "2 7 stroke 2"]
    assert not os.path.exists(f"/dev/shm/{name}"), "the writer did not unlink the ring"


def test_readme_workers_example_hands_the_ring_to_spawned_children():
    """The shared-memory section's multiprocessing example, run as a script (spawn
    imports the script's functions in each child), under a name of its own."""
    import os
    import subprocess
    import sys
    import tempfile
    import uuid

    from fresh import PACKAGE_ROOT

    workers = shared_blocks()[2]
    assert 'mp.get_context("spawn")' in workers and 'create_shared("jobs"' in workers
    name = f"rr-readme-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "workers.py")
        with open(path, "w") as f:
            f.write(workers.replace('"jobs"', repr(name)))
        done = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, PYTHONPATH=PACKAGE_ROOT), cwd=tmp)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [repr(sorted(f"worker {w} event {i}" for w in (1, 2)
                                                    for i in range(3)))]
    assert not os.path.exists(f"/dev/shm/{name}")


def test_readme_durable_reader_example_resumes_where_it_released():
    """The shared-memory section's durable-reader example, under a name of its own."""
    import contextlib
    import io
    import uuid

    block = next(b for b in shared_blocks() if "durable=True" in b)
    name = f"rr-readme-{uuid.uuid4().hex[:12]}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.replace('"orders"', repr(name)), "README-durable", "exec"), {})
    assert out.getvalue().splitlines() == ["True", "['order 3', 'order 4']"]


def pipeline_blocks():
    text = README.read_text()
    section = text.split("\n## Pipelines\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_pipelines_run_both_ways_and_agree():
    """The Pipelines section's two Python blocks, in one namespace as a reader
    would paste them: the one-ring pipeline (after=, process) and the RingPipe
    chain print the same squares."""
    blocks = pipeline_blocks()
    assert len(blocks) == 2, "the README's Pipelines section lost an example"
    assert "after=" in blocks[0] and "RingPipe" in blocks[1]
    out = io.StringIO()
    namespace = {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)
    assert out.getvalue().splitlines() == [
        "[1, 4, 9, 16, 25]",
        "['parse', 'enrich', 'store']",
        "('enrich',)",
        "[1, 4, 9, 16, 25]",
    ]


def asyncio_blocks():
    text = README.read_text()
    section = text.split("## asyncio and event loops", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_asyncio_example_runs_and_prints_what_the_readme_says():
    blocks = asyncio_blocks()
    assert blocks, "the README lost its asyncio example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
    assert out.getvalue().splitlines() == [
        "0 b'tick 0'",
        "5 b'tick 5'",
        "10 b'tick 10'",
        "15 b'tick 15'",
        "None",
    ]
