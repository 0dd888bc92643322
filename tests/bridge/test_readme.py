"""The README's "Across machines" example, as written, against a real server:
terminal 1's writer and `bridge out`, terminal 2's `bridge in` and reader."""
import re
import shlex
import subprocess
import sys
import uuid

from conftest import CHILD_ENV, LIMIT, REPO, wait_until

import rusted_ring as rr


def section():
    text = (REPO / "README.md").read_text()
    return text.split("## Across machines", 1)[1].split("\n## ", 1)[0]


def test_the_readme_two_terminal_example_runs_as_written(server, shm, bridges, tmp_path):
    text = section()
    name = shm("strokes")
    stream = "S" + uuid.uuid4().hex[:8].upper()
    text = text.replace("nats://127.0.0.1:4222", server.url).replace("STROKES", stream)
    text = re.sub(r"\bstrokes(?=[-\"' ])", name, text)
    shm_copy = f"{name}-copy"
    pys = re.findall(r"```python\n(.*?)```", text, re.S)
    shs = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert len(pys) == 2 and len(shs) == 2, "the README's example lost a block"
    writer, reader = tmp_path / "strokes_writer.py", tmp_path / "strokes_reader.py"
    writer.write_text(pys[0])
    reader.write_text(pys[1])
    try:
        procs = []
        for block in shs:
            for line in block.strip().splitlines():
                argv = shlex.split(line.split("#", 1)[0])
                if argv[:2] == ["python", "strokes_writer.py"]:
                    subprocess.run([sys.executable, str(writer)], env=CHILD_ENV, check=True,
                                   timeout=LIMIT)
                    continue
                assert argv[:4] == ["python", "-m", "rusted_ring", "bridge"], line
                procs.append(bridges(*argv[4:]))
            if len(procs) == 1:   # terminal 2 starts once the stream is there
                from test_bridge import run, stream_exists
                wait_until(lambda: run(stream_exists(server.url, stream)), LIMIT, "the stream")
        wait_until(lambda: _exists(shm_copy), LIMIT, "bridge in to create the ring")
        out = subprocess.run([sys.executable, str(reader)], env=CHILD_ENV, capture_output=True,
                             text=True, timeout=LIMIT)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "1000 strokes; the last: b'stroke 999'"
        for p in procs:
            p.kill(15)
            rc, err = p.finish()
            assert rc == 0, err
    finally:
        for n in (shm_copy,):
            try:
                rr.Ring.unlink_shared(n)
            except Exception:
                pass


def _exists(name):
    try:
        rr.Ring.open_shared(name, timeout=0)
        return True
    except rr.SharedMemoryError:
        return False
