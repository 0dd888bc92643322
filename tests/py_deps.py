"""Makes sure a Python interpreter has what the build and the test suites need.

    python3 tests/py_deps.py --python PY [--venv DIR] REQUIREMENT...

Each REQUIREMENT is a pip requirement, a name with an optional `>=VERSION` or
`==VERSION` (a pin: a tool whose checks change between releases, e.g. mypy); the
name is also the distribution that importlib.metadata looks up. Nothing is
printed and nothing installed when PY already has them all.

--venv DIR: PY is DIR/bin/python, a virtual environment this script owns. It is
made with the interpreter running this script (`python3 -m venv DIR`) when it
does not exist yet, and what is missing is installed into it, saying what.

Without --venv, PY is the interpreter the caller chose (make's PYTHON=). When it
is a virtual environment (sys.prefix != sys.base_prefix) what is missing is
installed into it. Any other interpreter -- a system or global one, which on
Debian refuses pip anyway (PEP 668) -- gets nothing installed: the script says
what is missing and how to make a virtual environment, and fails.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

# Run by PY: prints "venv" or "base", then each requirement's installed
# version, or "-" when the distribution is not there.
PROBE = r"""
import sys, importlib.metadata as md
print("venv" if sys.prefix != sys.base_prefix else "base")
for name in sys.argv[1:]:
    try:
        print(md.version(name))
    except md.PackageNotFoundError:
        print("-")
"""


def parse(requirement):
    """(name, (operator, version as a tuple) or None)."""
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(?:(>=|==)\s*([0-9][0-9.]*))?", requirement.strip())
    if not m:
        sys.exit(f"py_deps: cannot read the requirement {requirement!r} "
                 "(NAME, NAME>=VERSION or NAME==VERSION)")
    bound = (m.group(2), tuple(int(p) for p in m.group(3).split("."))) if m.group(3) else None
    return m.group(1), bound


def version_tuple(text):
    parts = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def probe(python, names):
    """(is a venv, installed version or None for each name), or None when PY does not run."""
    try:
        out = subprocess.run([python, "-c", PROBE, *names], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    lines = out.split()
    return lines[0] == "venv", [None if v == "-" else v for v in lines[1:]]


def missing_of(versions, wanted):
    missing = []
    for (name, bound), have in zip(wanted, versions):
        if have is None or (bound and bound[0] == ">=" and version_tuple(have) < bound[1]) or \
                (bound and bound[0] == "==" and version_tuple(have) != bound[1]):
            missing.append((name, bound, have))
    return missing


def describe(missing):
    return " ".join(name if have is None else f"{name}{bound[0]}{'.'.join(map(str, bound[1]))} (has {have})"
                    for name, bound, have in missing)


def pip_install(python, requirements):
    rc = subprocess.run([python, "-m", "pip", "install", "--quiet", *requirements]).returncode
    if rc != 0:
        sys.exit(f"py_deps: `{python} -m pip install {' '.join(requirements)}` failed (exit {rc})")


def make_venv(folder):
    rc = subprocess.run([sys.executable, "-m", "venv", folder]).returncode
    if rc != 0 or not os.path.exists(os.path.join(folder, "bin", "python")):
        shutil.rmtree(folder, ignore_errors=True)
        sys.exit(f"py_deps: `{sys.executable} -m venv {folder}` failed; on Debian/Ubuntu the venv module "
                 "comes with: sudo apt-get install python3-venv")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", required=True, help="the interpreter that needs the requirements")
    ap.add_argument("--venv", help="PY is DIR/bin/python, a virtual environment made here when missing")
    ap.add_argument("requirements", nargs="+")
    args = ap.parse_args()
    wanted = [parse(r) for r in args.requirements]
    names = [name for name, _ in wanted]

    if args.venv:
        if not os.path.exists(os.path.join(args.venv, "bin", "python")):
            print(f"creating {args.venv} and installing {' '.join(names)}", flush=True)
            make_venv(args.venv)
            pip_install(args.python, args.requirements)
            return
        found = probe(args.python, names)
        if found is None:
            sys.exit(f"py_deps: {args.python} does not run; remove {args.venv} and run make again")
        missing = missing_of(found[1], wanted)
        if missing:
            print(f"installing into {args.venv}: {describe(missing)}", flush=True)
            pip_install(args.python, [r for r, w in zip(args.requirements, wanted) if w[0] in
                                      {m[0] for m in missing}])
        return

    found = probe(args.python, names)
    if found is None:
        sys.exit(f"py_deps: the interpreter {args.python} (PYTHON=) does not run")
    is_venv, versions = found
    missing = missing_of(versions, wanted)
    if not missing:
        return
    todo = [r for r, w in zip(args.requirements, wanted) if w[0] in {m[0] for m in missing}]
    if is_venv:
        print(f"installing into the virtual environment of {args.python}: {describe(missing)}", flush=True)
        pip_install(args.python, todo)
        return
    quoted = " ".join(f"'{r}'" if ">" in r or "=" in r else r for r in todo)
    sys.exit(f"{args.python} lacks {describe(missing)}, and it is not a virtual environment: make installs\n"
             f"nothing into it. Run make without PYTHON= (make then makes and uses .venv), or install\n"
             f"them yourself, or use a virtual environment:\n"
             f"    python3 -m venv .venv && .venv/bin/pip install {quoted}\n"
             f"    make test PYTHON=.venv/bin/python")


if __name__ == "__main__":
    main()
