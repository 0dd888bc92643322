"""Builds rusted_ring._core: the C core (csrc/) and its CPython binding (python/_core/) in one extension.

The core's sources and the warning flags come from csrc/sources.mk, the list the
Makefile and the Lua build use too. RR_WERROR=1 (set by `make python`) turns
warnings into errors; a plain `pip install .` only shows them.

The limited API. The binding also compiles against the limited C API of
CPython 3.11 (Py_LIMITED_API=0x030B0000), which would allow one cp311-abi3
wheel for every CPython from 3.11 on. The project ships version-specific
wheels instead (cp310 to cp313, `make wheel`): measured with
bench/python/bench_limited_api.py (`make bench-limited-api`), the limited
build costs 20.6% more instructions on add + next (add() allocates an int
per call where the full API refills the last one, and reads bytes through a
call), over the 5% the project allows; next_block 0.6% (README,
"Installing"). RR_LIMITED_API=1 builds for the limited API all the same (an
abi3 wheel, on CPython 3.11+ with the GIL; an error elsewhere), and
`make test-python RR_LIMITED_API=1` runs the suite on that build.
"""
import os
import platform
import re
import sys
import sysconfig
from glob import escape as glob_escape, glob


def make_vars(path):
    """The `NAME := words` lines of a make fragment, continuation lines joined."""
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    return {m.group(1): m.group(2).split()
            for m in re.finditer(r"^([A-Z_]+)\s*:=(.*)$", text, re.M)}


# The limited API's version: the oldest CPython the abi3 wheel runs on.
LIMITED_API = (3, 11)


def limited_api():
    """Whether this build uses the limited API: only when RR_LIMITED_API=1 asks."""
    choice = os.environ.get("RR_LIMITED_API", "")
    if choice not in ("", "0", "1"):
        sys.exit(f"RR_LIMITED_API must be 0, 1 or unset (0), not {choice!r}")
    possible = (platform.python_implementation() == "CPython"
                and sys.version_info[:2] >= LIMITED_API
                and not sysconfig.get_config_var("Py_GIL_DISABLED"))
    if choice == "1" and not possible:
        sys.exit(f"RR_LIMITED_API=1: no limited-API build on {platform.python_implementation()} "
                 f"{platform.python_version()} (CPython {LIMITED_API[0]}.{LIMITED_API[1]}+, "
                 "with the GIL, has one)")
    return choice == "1"


if sys.argv[1:] == ["--ext-suffix"]:    # for the Makefile: the extension's file name
    print(".abi3.so" if limited_api() else sysconfig.get_config_var("EXT_SUFFIX"))
    sys.exit(0)

from setuptools import Extension, setup  # noqa: E402 (not needed for --ext-suffix)
from setuptools.command.build_ext import build_ext  # noqa: E402


class BuildExt(build_ext):
    """Removes the other build's file beside the one it builds (_core.abi3.so
    beside _core.cpython-3XX-....so, or the reverse): a folder with both, after
    builds of both kinds, would import the interpreter's own and pack both into
    a wheel."""

    def build_extension(self, ext):
        target = self.get_ext_fullpath(ext.name)
        stem = os.path.basename(target).split(".", 1)[0]
        for other in glob(os.path.join(glob_escape(os.path.dirname(target)), stem + ".*so")):
            if os.path.abspath(other) != os.path.abspath(target):
                os.remove(other)
        super().build_extension(ext)

LIMITED = limited_api()
build = make_vars("csrc/sources.mk")
binding = sorted(glob("python/_core/*.c"))
warnings = list(build["WARN_FLAGS"])
if os.environ.get("RR_WERROR") == "1":
    warnings.append("-Werror")

core = Extension(
    "rusted_ring._core",
    sources=build["CORE_SRC"] + binding,
    depends=build["CORE_HDR"] + sorted(glob("python/_core/*.h")) + ["csrc/sources.mk"],
    include_dirs=["csrc"],
    define_macros=[("_GNU_SOURCE", None)]
    + ([("Py_LIMITED_API", "0x%02X%02X0000" % LIMITED_API)] if LIMITED else []),
    py_limited_api=LIMITED,
    extra_compile_args=["-std=c11", "-O2"] + warnings,
    libraries=["pthread"],
)

setup(ext_modules=[core],
      cmdclass={"build_ext": BuildExt},
      options={"bdist_wheel": {"py_limited_api": "cp%d%d" % LIMITED_API}} if LIMITED else {})
