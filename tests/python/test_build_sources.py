"""The builds agree on what they compile.

csrc/sources.mk is the one list of the core's sources: the Makefile (and
lua/lua.mk) include it and setup.py reads it. luarocks' builtin backend cannot
read it, so the rockspec writes the files out; these tests fail when that copy
drifts from the list, or the list from the files in csrc/.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROCKSPEC = ROOT / "lua" / "rusted_ring-0.1.0-1.rockspec"


def make_vars(path):
    """The `NAME := words` lines of a make fragment (as setup.py reads them)."""
    text = path.read_text().replace("\\\n", " ")
    return {m.group(1): m.group(2).split()
            for m in re.finditer(r"^([A-Z_]+)\s*:=(.*)$", text, re.M)}


def rockspec_sources():
    block = re.search(r"\bsources\s*=\s*\{(.*?)\}", ROCKSPEC.read_text(), re.S)
    assert block, f"{ROCKSPEC} has no `sources = {{ ... }}` list"
    return re.findall(r'"([^"]+)"', block.group(1))


def test_sources_mk_lists_every_c_file_of_the_core_once():
    listed = make_vars(ROOT / "csrc" / "sources.mk")["CORE_SRC"]
    assert len(listed) == len(set(listed)), f"duplicates in CORE_SRC: {listed}"
    on_disk = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "csrc").glob("*.c"))
    assert sorted(listed) == on_disk


def test_sources_mk_lists_every_header_of_the_core():
    listed = make_vars(ROOT / "csrc" / "sources.mk")["CORE_HDR"]
    on_disk = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "csrc").glob("*.h"))
    assert sorted(listed) == on_disk


def test_the_rockspec_compiles_exactly_the_core_sources_of_sources_mk():
    core = sorted(make_vars(ROOT / "csrc" / "sources.mk")["CORE_SRC"])
    in_rockspec = sorted(s for s in rockspec_sources() if s.startswith("csrc/"))
    missing = sorted(set(core) - set(in_rockspec))
    extra = sorted(set(in_rockspec) - set(core))
    assert not missing and not extra, (
        f"{ROCKSPEC.name} drifted from csrc/sources.mk: add {missing}, remove {extra}")
    assert len(in_rockspec) == len(set(in_rockspec))


def test_the_rockspec_compiles_every_c_file_of_the_lua_binding():
    in_rockspec = sorted(s for s in rockspec_sources() if s.startswith("lua/"))
    on_disk = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "lua").glob("*.c"))
    assert in_rockspec == on_disk



def test_the_extension_under_test_is_the_build_asked_for():
    """RR_LIMITED_API=1 (make test-python RR_LIMITED_API=1) tests the limited-API
    build, =0 or unset the full API's: the other build's file must not be the
    one imported (an interpreter prefers its own suffix to .abi3.so)."""
    import os
    import sysconfig

    import rusted_ring._core as core
    limited = os.environ.get("RR_LIMITED_API") == "1"
    suffix = ".abi3.so" if limited else sysconfig.get_config_var("EXT_SUFFIX")
    assert core.__file__.endswith(suffix), f"RR_LIMITED_API={limited:d} but imported {core.__file__}"


def test_a_build_removes_the_other_kinds_extension_from_its_folder(tmp_path):
    """After a limited-API build (_core.abi3.so) a full-API build into the same
    folder (or the reverse) leaves its own file only: with both there, the
    interpreter imports its own suffix, and a wheel would pack both.

    The build's own file is there already, newer than every source, so
    build_ext takes the extension as up to date and compiles nothing (the
    removal comes first; `make python` checks the compiling itself): the test
    takes a second, not the ten a compile of the core does."""
    import os
    import subprocess
    import sys
    import sysconfig

    if not (ROOT / "setup.py").exists():
        pytest.skip("no setup.py: the tests run without the source tree (make test-wheels)")
    pytest.importorskip("setuptools")
    pkg = tmp_path / "lib" / "rusted_ring"
    pkg.mkdir(parents=True)
    (pkg / "_core.abi3.so").write_bytes(b"left by a limited-API build")
    own = pkg / ("_core" + sysconfig.get_config_var("EXT_SUFFIX"))
    own.write_bytes(b"built just now")
    env = {k: v for k, v in os.environ.items() if k != "RR_LIMITED_API"}
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
                    "--build-temp", str(tmp_path / "temp")],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    assert sorted(p.name for p in pkg.iterdir()) == [own.name]
