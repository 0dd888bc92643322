"""Builds rusted_ring._core: the C core (csrc/*.c) and its CPython binding in one extension."""
from glob import glob

from setuptools import Extension, setup

core = Extension(
    "rusted_ring._core",
    sources=sorted(glob("csrc/*.c")) + ["python/rusted_ring/_core.c"],
    depends=sorted(glob("csrc/*.h")),
    include_dirs=["csrc"],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                        "-Wno-cast-function-type"],
    libraries=["pthread"],
)

setup(ext_modules=[core])
