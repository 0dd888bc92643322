"""The README's Python quick start runs as written."""
import contextlib
import io
import pathlib
import re

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


def test_readme_shared_memory_example_runs_in_two_processes():
    """The two scripts of the README's shared-memory section, as written
    (under a name of their own), in two processes: the reader prints every
    event and ends at the close; the writer removes the name."""
    import os
    import subprocess
    import sys
    import tempfile
    import uuid

    from fresh import PACKAGE_ROOT

    writer, reader = shared_blocks()
    assert "create_shared" in writer and "open_shared" in reader
    name = f"rr-readme-{uuid.uuid4().hex[:12]}"
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for role, code in (("writer", writer), ("reader", reader)):
            paths[role] = os.path.join(tmp, f"{role}.py")
            with open(paths[role], "w") as f:
                f.write(code.replace('"strokes"', repr(name)))
        # the reader first: it waits for the ring to appear
        procs = [subprocess.Popen([sys.executable, paths[role]], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env, cwd=tmp)
                 for role in ("reader", "writer")]
        try:
            outs = [p.communicate(timeout=60) for p in procs]
        finally:
            for p in procs:
                p.kill()
            if os.path.exists(f"/dev/shm/{name}"):
                os.unlink(f"/dev/shm/{name}")
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert outs[0][0].splitlines() == ["0 7 stroke 0", "1 7 stroke 1", "2 7 stroke 2"]
    assert not os.path.exists(f"/dev/shm/{name}"), "the writer did not unlink the ring"
