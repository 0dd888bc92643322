"""The package's types: the stubs against the runtime (stubtest), and `mypy --strict`
over the package, the examples and tests/typing/usage.py for every Python from 3.10
to 3.13 (`make typecheck`, part of `make test`).

usage.py marks each line that must be a type error with `# E: CODE` (mypy's error
code); the run for each version must report exactly those, nothing else anywhere.
mypy checks the other versions without their interpreters (--python-version), so
one run of this file covers them all; stubtest imports the extension and so checks
the interpreter running it (`make test-wheels` runs it under each).
"""
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="make typecheck installs mypy")

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
USAGE = HERE / "usage.py"
CONFIG = ROOT / "pyproject.toml"
VERSIONS = ["3.10", "3.11", "3.12", "3.13"]
# Every Python example the README and `make demo` run.
EXAMPLES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.py"))

MARK = re.compile(r"#\s*E:\s*([\w-]+(?:\s*,\s*[\w-]+)*)\s*$")
ERROR = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+): error: (?P<msg>.*?)\s+\[(?P<code>[\w-]+)\]$")


def expected_errors():
    """{(path, line, code)} from usage.py's `# E: CODE` marks."""
    out = set()
    for n, text in enumerate(USAGE.read_text().splitlines(), 1):
        m = MARK.search(text)
        if m:
            out |= {("tests/typing/usage.py", n, c.strip()) for c in m.group(1).split(",")}
    return out


@lru_cache(maxsize=None)
def mypy_strict(version):
    """mypy --strict for Python `version` over the package, the examples and usage.py:
    (its errors as {(path, line, code)}, {(path, line): message}, the whole report)."""
    cache = ROOT / "build" / "mypy-cache"
    args = ["--strict", "--config-file", str(CONFIG), "--python-version", version,
            "--cache-dir", str(cache), "--no-color-output", "--no-error-summary",
            "--show-error-codes", "--hide-error-context", "--no-pretty",
            "python/rusted_ring", *EXAMPLES, "tests/typing/usage.py"]
    cwd = os.getcwd()
    os.chdir(ROOT)                       # paths in the report relative to the checkout
    try:
        report, errors, status = mypy_api.run(args)
    finally:
        os.chdir(cwd)
    assert status in (0, 1), f"mypy failed to run (exit {status}):\n{errors}{report}"
    found, messages = set(), {}
    for line in report.splitlines():
        m = ERROR.match(line)
        if m:
            key = (m["path"], int(m["line"]))
            found.add((*key, m["code"]))
            messages[key] = m["msg"]
        elif ": error:" in line:
            found.add((line, 0, "?"))     # an error line this file cannot read: show it
    return found, messages, report


@pytest.mark.parametrize("version", VERSIONS)
def test_mypy_strict_reports_exactly_the_marked_errors(version):
    found, _, report = mypy_strict(version)
    expected = expected_errors()
    assert found == expected, (
        f"Python {version}: unexpected errors {sorted(found - expected)}, "
        f"missing errors {sorted(expected - found)}\n{report}")


@pytest.mark.parametrize("version", VERSIONS)
def test_adding_an_int_to_a_writer_is_a_type_error(version):
    _, messages, report = mypy_strict(version)
    line = next(n for n, text in enumerate(USAGE.read_text().splitlines(), 1)
                if text.strip().startswith("w.add(123)"))
    message = messages.get(("tests/typing/usage.py", line), "")
    assert 'Argument 1 to "add" of "Writer" has incompatible type "int"' in message, report


def test_every_line_marked_as_an_error_is_code():
    # A mark on a comment or a blank line would expect an error mypy can never report.
    for n, text in enumerate(USAGE.read_text().splitlines(), 1):
        if MARK.search(text):
            assert text.split("#")[0].strip(), f"usage.py:{n} marks a line without code"


def test_the_stubs_match_the_runtime():
    allowlists = [HERE / "stubtest_allowlist.txt"]
    if sys.version_info < (3, 12):
        allowlists.append(HERE / "stubtest_allowlist_before_3_12.txt")
    cmd = [sys.executable, "-m", "mypy.stubtest", "rusted_ring", "--mypy-config-file", str(CONFIG)]
    for path in allowlists:
        cmd += ["--allowlist", str(path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_exports_every_name_of_its_modules():
    # __init__.py names them one by one so that type checkers see them: none may be missed.
    import rusted_ring
    from rusted_ring import pipes, pools, stats
    for module in (pools, stats, pipes):
        missing = set(module.__all__) - set(rusted_ring.__all__)
        assert not missing, f"rusted_ring/__init__.py does not export {sorted(missing)} of {module.__name__}"
        for name in module.__all__:
            assert getattr(rusted_ring, name) is getattr(module, name)
