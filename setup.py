"""Builds rusted_ring._core: the C core (csrc/) and its CPython binding (python/_core/) in one extension.

The core's sources and the warning flags come from csrc/sources.mk, the list the
Makefile and the Lua build use too. RR_WERROR=1 (set by `make python`) turns
warnings into errors; a plain `pip install .` only shows them.
"""
import os
import re
from glob import glob

from setuptools import Extension, setup


def make_vars(path):
    """The `NAME := words` lines of a make fragment, continuation lines joined."""
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    return {m.group(1): m.group(2).split()
            for m in re.finditer(r"^([A-Z_]+)\s*:=(.*)$", text, re.M)}


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
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-O2"] + warnings,
    libraries=["pthread"],
)

setup(ext_modules=[core])
