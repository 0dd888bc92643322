"""The wheels and the installed package, as a user gets them.

Run by `make test-wheels` (tests/wheels/wheels.py) in each CPython's fresh
virtual environment, beside the test suite, with RR_WHEEL_DIST (the folder of
the sdist and the wheels), RR_WHEEL_PYTHONS (the CPython versions tested) and
RR_WHEEL_INSTALLED ("wheel", or "sdist" where pip built rusted_ring from the
sdist). Skipped anywhere else.
"""
import os
import platform
import re
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

DIST = os.environ.get("RR_WHEEL_DIST")
TESTED = os.environ.get("RR_WHEEL_PYTHONS", "").split()
INSTALLED = os.environ.get("RR_WHEEL_INSTALLED")

pytestmark = pytest.mark.skipif(not DIST, reason="run by make test-wheels (RR_WHEEL_DIST)")

THIS = "cp%d%d" % sys.version_info[:2]
MACHINE = platform.machine()


def wheel_tags(name):
    """The (python, abi, platform) tags of a wheel's file name (PEP 427/425:
    name-version[-build]-python-abi-platform.whl, each part maybe dotted)."""
    parts = name[:-len(".whl")].split("-")
    assert len(parts) in (5, 6), f"not a wheel file name: {name}"
    py, abi, plat = parts[-3:]
    return {(p, a, pl) for p in py.split(".") for a in abi.split(".") for pl in plat.split(".")}


def is_manylinux(plat):
    return re.fullmatch(rf"manylinux(_\d+_\d+|1|2010|2014)_{MACHINE}", plat) is not None


def test_rusted_ring_is_imported_from_the_environment_it_was_installed_into():
    import rusted_ring
    import rusted_ring._core as core

    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    platsite = Path(sysconfig.get_paths()["platlib"]).resolve()
    for f in (rusted_ring.__file__, core.__file__):
        where = Path(f).resolve()
        assert where.is_relative_to(site) or where.is_relative_to(platsite), \
            f"{f} is not in this environment's site-packages ({site})"
    dist = metadata.distribution("rusted_ring")
    files = {str(f) for f in dist.files or ()}
    assert any(re.fullmatch(r"rusted_ring/_core\..*so", f) for f in files), sorted(files)
    assert "rusted_ring/py.typed" in files and "rusted_ring/_core.pyi" in files
    assert rusted_ring.__version__ == dist.version


def test_the_installed_wheel_is_this_cpythons_own_and_manylinux_unless_built_from_the_sdist():
    text = metadata.distribution("rusted_ring").read_text("WHEEL")
    tags = {tuple(line.split(":", 1)[1].strip().split("-"))
            for line in text.splitlines() if line.startswith("Tag:")}
    assert tags, text
    for py, abi, plat in tags:
        assert (py, abi) == (THIS, THIS), f"a {py}-{abi} wheel installed on {THIS}"
        if INSTALLED == "sdist":          # built here by pip: not repaired, so no manylinux
            assert plat == f"linux_{MACHINE}", tags
        else:
            assert is_manylinux(plat), f"the installed wheel's platform tag {plat} is not manylinux"


def test_dist_holds_the_sdist_and_one_manylinux_wheel_for_each_cpython_tested():
    """Version-specific wheels, not abi3: the limited API costs more than the 5%
    the project allows (setup.py, README "Installing")."""
    folder = Path(DIST)
    sdists = sorted(p.name for p in folder.glob("rusted_ring-*.tar.gz"))
    assert len(sdists) == 1, sdists
    wheels = sorted(p.name for p in folder.glob("rusted_ring-*.whl"))
    by_python = {}
    for name in wheels:
        tags = wheel_tags(name)
        pys = {py for py, _, _ in tags}
        assert len(pys) == 1, f"{name}: one CPython per wheel, got {pys}"
        (py,) = pys
        assert re.fullmatch(r"cp3\d+", py), name
        for _, abi, plat in tags:
            assert abi == py, f"{name}: the ABI tag is {abi}, not the version-specific {py}"
            assert is_manylinux(plat), f"{name}: the platform tag {plat} is not manylinux"
        assert py not in by_python, f"two wheels for {py}: {by_python[py]}, {name}"
        by_python[py] = name
    tested = {"cp" + v.replace(".", "") for v in TESTED}
    assert set(by_python) == tested, f"wheels for {sorted(by_python)}, CPythons tested {sorted(tested)}"


def test_the_classifiers_list_exactly_the_cpythons_tested_and_requires_python_the_oldest():
    md = metadata.metadata("rusted_ring")
    classifiers = md.get_all("Classifier") or []
    claimed = sorted((c.rsplit(" :: ", 1)[1] for c in classifiers
                      if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)),
                     key=lambda v: tuple(map(int, v.split("."))))
    assert claimed, classifiers
    if os.environ.get("ALLOW_MISSING_PYTHONS") == "1":
        assert set(TESTED) <= set(claimed), (TESTED, claimed)
    else:
        assert claimed == TESTED, f"the classifiers claim {claimed}, make test-wheels tested {TESTED}"
    assert "%d.%d" % sys.version_info[:2] in claimed
    assert md["Requires-Python"] == f">={claimed[0]}"
    assert "Programming Language :: Python :: Implementation :: CPython" in classifiers


def test_the_sdist_holds_every_file_the_build_and_the_package_need():
    """What MANIFEST.in must bring: the core (csrc/sources.mk's lists and the list
    itself), the binding's sources, the package with its stubs and py.typed, the
    license. (make test-wheels also builds a wheel from the sdist alone.)"""
    import tarfile

    root = Path(__file__).resolve().parents[2]      # the test material's copy of the checkout
    text = (root / "csrc" / "sources.mk").read_text().replace("\\\n", " ")
    lists = dict(re.findall(r"^([A-Z_]+)\s*:=(.*)$", text, re.M))
    needed = set(lists["CORE_SRC"].split()) | set(lists["CORE_HDR"].split()) | {"csrc/sources.mk"}
    needed |= {p.relative_to(root).as_posix() for p in (root / "python" / "_core").iterdir()
               if p.suffix in (".c", ".h")}
    needed |= {"python/rusted_ring/__init__.py", "python/rusted_ring/_core.pyi",
               "python/rusted_ring/py.typed", "LICENSE", "README.md", "setup.py", "pyproject.toml"}
    (sdist,) = Path(DIST).glob("rusted_ring-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert not needed - names, f"{sdist.name} lacks {sorted(needed - names)} (MANIFEST.in)"
    assert not any(n.endswith((".so", ".o")) for n in names), "build outputs in the sdist"
