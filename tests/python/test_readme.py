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
