# rusted_ring — one Makefile for the C core, its tests, benchmarks and demo.
#
#   make test       build and run every test suite: C, Python, Lua, interop, notebooks,
#                   the type checks, the packed Lua rock, the API reference
#   make typecheck  stubtest (the stubs against the extension) and mypy --strict over the
#                   package, the examples and tests/typing/usage.py for Python 3.10 to 3.13
#   make test-rock  luarocks lint and pack; the source rock installed offline, busted against it
#   make docs       the Python API reference (pdoc) in build/docs/index.html; any warning fails it
#   make test-bridge  the NATS JetStream bridge against a real nats-server (tests/bridge;
#                   skipped without nats-server or nats-py unless RR_REQUIRE_NATS=1)
#   make test-c     the C tests; the stress and wait tests again under each wait strategy
#   make sanitize   all C tests under ASan+UBSan and under TSan (stress tests shortened),
#                   pytest with the extension and busted with the Lua module under ASan+UBSan
#   make fuzz-python  the Python binding's fuzzer under ASan (FUZZ_SECONDS, default 60)
#   make bench      every benchmark against its peers, one result file, a summary
#   make bench-quick  the same with small counts (well under a minute)
#   make bench-c    C core benchmarks: instructions per event of the hot paths (callgrind;
#                   repeatable, skipped without valgrind), then events/s, ns/event, ratios
#   make bench-py   Python benchmarks against queue.Queue and friends
#   make bench-limited-api  what building against the limited C API (abi3) would cost
#   make wheel      the sdist and a manylinux wheel for each CPython 3.10 .. 3.13, in dist/
#   make test-wheels  install them into a fresh venv of each CPython and run the tests there
#   make bench-lua  Lua benchmarks against a pure-Lua queue
#   make demo       the seed's fan-out scenario in C, Python and Lua, and a
#                   Python process writing strokes that a Lua process reads
#   make stress     long stress runs (RR_STRESS_SCALE=10), not part of CI

# The core's sources (CORE_SRC, CORE_HDR) and the warning flags (WARN_FLAGS),
# one list for make, setup.py and (checked by a test) the Lua rockspec.
include csrc/sources.mk

CC      ?= cc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := $(WARN_FLAGS) -Werror
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -fPIC -Icsrc
LDLIBS  += -lpthread

BUILD   := build

# Each variant compiles the core and the tests with its own flags into its own folder.
#   $(1) variant name  $(2) extra CFLAGS
define variant
$(BUILD)/$(1)/lib.a: $(CORE_SRC) $(CORE_HDR) | $(BUILD)/$(1)
	@rm -f $$@ $(BUILD)/$(1)/*.o
	@for f in $(CORE_SRC); do \
	  $(CC) $(CFLAGS) $(2) -c $$$$f -o $(BUILD)/$(1)/$$$$(basename $$$$f .c).o || exit 1; done
	ar rcs $$@ $(BUILD)/$(1)/*.o

$(BUILD)/$(1)/%: tests/c/%.c tests/c/check.h tests/c/stress.h tests/c/procs.h $(BUILD)/$(1)/lib.a
	$(CC) $(CFLAGS) $(2) -Itests/c $$< $(BUILD)/$(1)/lib.a -o $$@ $$(LDLIBS)

$(BUILD)/$(1):
	@mkdir -p $$@
endef

$(eval $(call variant,release,))
# (Flags with commas go through a variable: $(call) splits its arguments at commas.)
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(eval $(call variant,asan,$(ASAN_FLAGS)))
# GCC's TSan does not model atomic_thread_fence and warns (-Wtsan) at each one.
# The core's fences order the seqlock (whose one racy copy TSan builds leave
# uninstrumented, see reader.c) and the no-membarrier fallback; the rest of
# the core synchronizes through atomics TSan does model.
$(eval $(call variant,tsan,-O1 -fsanitize=thread -Wno-tsan))

C_UNIT   := $(notdir $(basename $(wildcard tests/c/test_*.c)))
C_STRESS := $(notdir $(basename $(wildcard tests/c/stress_*.c)))
# A wait strategy changes how a handle waits, never what it gets. These run
# once more under each strategy but block (RR_TEST_WAIT, tests/c/check.h),
# shortened: STRATEGY:SCALE pairs, the RR_STRESS_SCALE of each run (and of
# the TSan runs). Spin gets the smallest: each spinning thread wants a core of
# its own, and with more of them than cores every hand-off waits for the
# scheduler to switch threads (milliseconds).
C_WAIT        := $(C_STRESS) test_blocking test_shm test_dead_claims
WAIT_RUNS     := yield:0.1 sleep:0.1 spin:0.002
WAIT_RUNS_TSAN := yield:0.01 sleep:0.01 spin:0.001
# $(call wait_runs,FOLDER,PAIRS,ENVIRONMENT): every C_WAIT program of FOLDER under each pair.
define wait_runs
	@set -e; for p in $(2); do s=$${p%%:*}; for t in $(C_WAIT); do \
	  echo "== $$t (wait=$$s, RR_STRESS_SCALE=$${p#*:})"; \
	  RR_TEST_WAIT=$$s RR_STRESS_SCALE=$${p#*:} $(3) $(1)/$$t; done; done
endef
# test_shm_faults plays a creating process, and the kernel, inside the core's own
# system calls: the linker sends the core's fcntl and fallocate through the
# test's wrappers (see the file).
$(BUILD)/%/test_shm_faults: LDLIBS += -Wl,--wrap=fcntl,--wrap=fallocate

.PHONY: all lib test test-c sanitize sanitize-c sanitize-python sanitize-lua bench-c demo demo-c stress clean distclean
all: lib
lib: $(BUILD)/release/lib.a

test: test-c test-python test-lua test-interop test-bridge test-notebooks typecheck test-rock docs

# ---- Python: the extension is built in place (python/rusted_ring/_core*.so) ----
# from the core and the binding's sources in python/_core/ (outside the package).
# Without PYTHON=, make keeps a virtual environment of its own in .venv, made
# with the system's python3 (SYSTEM_PYTHON) on first use, and installs what the
# build and the tests need into it, saying what. PYTHON=/path/to/python uses
# that interpreter: missing packages are installed into it only when it is a
# virtual environment; a system interpreter gets nothing installed (make stops
# and says what is missing). tests/py_deps.py does the checking.
SYSTEM_PYTHON ?= python3
VENV    := .venv
ifndef PYTHON
PYTHON  := $(CURDIR)/$(VENV)/bin/python
PY_OWN_VENV := 1
endif
# Asked before .venv exists: the same interpreter made it.
PY_PROBE := $(if $(PY_OWN_VENV),$(SYSTEM_PYTHON),$(PYTHON))
# The extension's file suffix: the interpreter's own, or .abi3.so for the build
# against the limited C API of CPython 3.11 that RR_LIMITED_API=1 asks for
# (setup.py says why the wheels use the full API). `make test-python
# RR_LIMITED_API=1` tests that build; each build removes the other's file
# first, so only one can be imported. The sanitizer builds follow the choice.
PY_SUFFIX := $(shell RR_LIMITED_API=$(RR_LIMITED_API) $(PY_PROBE) setup.py --ext-suffix 2>/dev/null)
PY_LIMITED := $(filter .abi3.so,$(PY_SUFFIX))
PY_EXT  := python/rusted_ring/_core$(PY_SUFFIX)
# -P (Python 3.11+): the current directory is not put on sys.path, so a Lua
# rusted_ring.so that `luarocks make` leaves at the top is never imported.
PY_SAFE := $(shell $(PY_PROBE) -P -c '' 2>/dev/null && echo -P)
PY_RUN  := PYTHONPATH=$(CURDIR)/python $(PYTHON) $(PY_SAFE)
PY_DEPS := $(PY_PROBE) $(CURDIR)/tests/py_deps.py --python $(PYTHON) $(if $(PY_OWN_VENV),--venv $(VENV))
# pyproject.toml's license = "MIT" (PEP 639) needs setuptools 77 even for build_ext.
PY_BUILD_REQS := 'setuptools>=77'
PY_TEST_REQS  := 'pytest>=7' 'hypothesis>=6' numpy 'prometheus_client>=0.17' pandas

.PHONY: python py-build-deps py-deps test-python test-python-limited bench-py bench-limited-api \
        demo-python venv
python: $(PY_EXT)
PY_BINDING := $(wildcard python/_core/*.c python/_core/*.h)
$(PY_EXT): $(CORE_SRC) $(CORE_HDR) $(PY_BINDING) csrc/sources.mk setup.py | py-build-deps
	rm -f python/rusted_ring/_core*.so
	RR_WERROR=1 RR_LIMITED_API=$(RR_LIMITED_API) $(PYTHON) setup.py -q build_ext --inplace
	@test -f $@ || { echo "setup.py built no $@"; exit 1; }

ifdef PY_OWN_VENV
# Made once with everything the build and the tests need.
$(PYTHON):
	@$(PY_DEPS) $(PY_BUILD_REQS) $(PY_TEST_REQS)
py-build-deps py-deps: | $(PYTHON)
endif
venv: py-deps

py-build-deps:
	@$(PY_DEPS) $(PY_BUILD_REQS)

# The test suite's own dependencies, installed only when missing.
py-deps:
	@$(PY_DEPS) $(PY_TEST_REQS)

# PY_TESTS narrows the run (CI runs the smoke subset on the limited-API build).
PY_TESTS ?= tests/python tests/fuzz
PY_SMOKE := tests/python/test_ring.py tests/python/test_zero_copy.py tests/python/test_shared.py \
            tests/python/test_blocks.py
test-python: py-deps python
	$(PY_RUN) -m pytest -q -p no:cacheprovider $(PY_TESTS)

# The bridge to NATS JetStream (rusted_ring.bridge) against a real nats-server -js
# (Debian's nats-server): its own suite, not under tests/python, which the
# sanitizer and wheel runs reuse. nats-py is the `bridge` extra of pyproject.toml.
PY_BRIDGE_REQS := 'nats-py>=2.9'
.PHONY: test-bridge
test-bridge: py-deps python lua
	@$(PY_DEPS) $(PY_BRIDGE_REQS)
	RR_LUA_BUILD='$(CURDIR)/$(BUILD)/lua' RR_LUA='$(LUA)' $(PY_RUN) -m pytest -q -p no:cacheprovider tests/bridge

# The limited-API build (RR_LIMITED_API=1, see setup.py) with -Werror, and the smoke
# subset on it: CI's check that the binding still compiles both ways. `make
# test-python RR_LIMITED_API=1` runs the whole suite on that build.
test-python-limited:
	$(MAKE) --no-print-directory test-python RR_LIMITED_API=1 PY_TESTS="$(PY_SMOKE)"

# The type checks (tests/typing/test_typing.py). mypy is pinned: each release adds
# checks, and a new one must not turn CI red without a change here.
PY_TYPE_REQS := 'mypy==2.4.1' 'nats-py>=2.9'
.PHONY: typecheck
typecheck: py-deps python
	@$(PY_DEPS) $(PY_TYPE_REQS)
	$(PY_RUN) -m pytest -q -p no:cacheprovider tests/typing

# The API reference (docs/build.py): pdoc is pinned as mypy is; typing_extensions,
# because the stub it reads the extension's types from imports it.
PY_DOCS_REQS := 'pdoc==16.0.0' typing_extensions 'nats-py>=2.9'
DOCS_DIR := $(BUILD)/docs
.PHONY: docs
docs: py-deps python
	@$(PY_DEPS) $(PY_DOCS_REQS)
	@rm -rf $(DOCS_DIR)
	$(PY_RUN) docs/build.py $(DOCS_DIR)

bench-py: python
	$(PY_RUN) bench/python/bench_queue.py
	$(PY_RUN) bench/python/bench_instr.py

# The limited C API's cost: both builds, callgrind counts and alternating timings.
bench-limited-api: py-build-deps
	$(PY_RUN) bench/python/bench_limited_api.py

demo-python: python
	$(PY_RUN) examples/fanout.py

# The Lua module's rules (targets lua, test-lua, bench-lua, demo-lua).
include lua/lua.mk
# The Lua module as a packed source rock, installed offline (target test-rock).
include lua/rock.mk
# Cross-process and cross-language tests (target test-interop, demo-interop).
include tests/interop/interop.mk
# The Python binding's fuzzer (target fuzz-python).
include tests/fuzz/fuzz.mk
# The sdist and the wheels, and testing them installed (targets wheel, test-wheels).
include tests/wheels/wheels.mk
# The benchmark suite and its notebooks (targets bench, bench-quick, test-notebooks).
include bench/bench.mk

test-c: $(addprefix $(BUILD)/release/,$(C_UNIT) $(C_STRESS)) $(BUILD)/examples/quickstart
	@set -e; for t in $(C_UNIT) $(C_STRESS); do echo "== $$t"; $(BUILD)/release/$$t; done
	$(call wait_runs,$(BUILD)/release,$(WAIT_RUNS),)
	@echo "== examples/quickstart"; $(BUILD)/examples/quickstart

sanitize: sanitize-c sanitize-python sanitize-lua

TSAN_OPTS := halt_on_error=1 second_deadlock_stack=1 history_size=7 suppressions=$(CURDIR)/tests/c/tsan.supp

sanitize-c: $(addprefix $(BUILD)/asan/,$(C_UNIT) $(C_STRESS)) $(addprefix $(BUILD)/tsan/,$(C_STRESS) $(C_UNIT))
	@set -e; for t in $(C_UNIT) $(C_STRESS); do echo "== asan+ubsan $$t"; \
	  RR_STRESS_SCALE=0.1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(BUILD)/asan/$$t; done
	@set -e; for t in $(C_STRESS) $(C_UNIT); do echo "== tsan $$t"; \
	  RR_STRESS_SCALE=0.02 TSAN_OPTIONS="$(TSAN_OPTS)" \
	  $(BUILD)/tsan/$$t; done
	$(call wait_runs,$(BUILD)/tsan,$(WAIT_RUNS_TSAN),TSAN_OPTIONS="$(TSAN_OPTS)")

# The Python extension under ASan+UBSan: the core and python/_core/ compiled with
# $(ASAN_FLAGS) into $(PY_ASAN_DIR)/rusted_ring/ beside a copy of the
# pure-Python package, never over the in-place build. python3 is not
# instrumented, so libasan and libubsan are preloaded; PYTHONMALLOC=malloc
# lets ASan see every allocation; leaks are not checked (the interpreter's own
# are not ours). Tests marked skip_sanitized (tests/python/test_leaks.py's
# resident-size checks: ASan's quarantine keeps freed memory resident) are
# skipped, and -rs lists them with the reason. The stress-sized tests run at
# RR_STRESS_SCALE=0.1, as the C ones do.
PY_INC      := $(shell $(PY_PROBE) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
# setup.py's flags for the extension (the limited API's version as setup.py's
# LIMITED_API); -Werror is the in-place build's to enforce (clang, for the
# fuzzer, warns about other things than gcc)
PY_EXT_CFLAGS := $(CSTD) -g -fPIC -Icsrc -I$(PY_INC) $(WARN_FLAGS) \
                 $(if $(PY_LIMITED),-DPy_LIMITED_API=0x030B0000)
PY_PKG_FILES  := $(wildcard python/rusted_ring/*.py python/rusted_ring/*.pyi) python/rusted_ring/py.typed
PY_ASAN_DIR := $(BUILD)/py-asan
PY_ASAN_EXT := $(PY_ASAN_DIR)/rusted_ring/_core$(PY_SUFFIX)
PY_ASAN_LINK := -fsanitize=address,undefined
ASAN_PRELOAD = $$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)
PY_SAN_ENV  := PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 RR_SANITIZED=1

# $(call py_ext_build,FOLDER,COMPILER AND FLAGS,LINK FLAGS): the extension, objects in FOLDER/obj.
define py_ext_build
	@rm -rf $(1)/obj $(1)/rusted_ring/_core*.so; mkdir -p $(1)/obj $(1)/rusted_ring
	@for f in $(CORE_SRC) $(filter %.c,$(PY_BINDING)); do echo "$(2) -c $$f"; \
	  $(2) $(PY_EXT_CFLAGS) -c $$f -o $(1)/obj/$$(echo $${f%.c} | tr / _).o || exit 1; done
	$(CC) -shared $(3) $(1)/obj/*.o -o $(1)/rusted_ring/_core$(PY_SUFFIX) -lpthread
endef

$(PY_ASAN_EXT): $(CORE_SRC) $(CORE_HDR) $(PY_BINDING) csrc/sources.mk
	$(call py_ext_build,$(PY_ASAN_DIR),$(CC) $(ASAN_FLAGS),$(PY_ASAN_LINK))

sanitize-python: py-deps $(PY_ASAN_EXT)
	@cp $(PY_PKG_FILES) $(PY_ASAN_DIR)/rusted_ring/
	@echo "== pytest, the extension under ASan+UBSan ($(PY_ASAN_EXT))"
	LD_PRELOAD="$(ASAN_PRELOAD)" $(PY_SAN_ENV) RR_STRESS_SCALE=0.1 PYTHONPATH=$(CURDIR)/$(PY_ASAN_DIR) \
	  $(PYTHON) $(PY_SAFE) -m pytest -q -rs -p no:cacheprovider tests/python tests/fuzz

sanitize-lua: test-lua-asan

stress: $(addprefix $(BUILD)/release/,$(C_STRESS))
	@set -e; for t in $(C_STRESS); do echo "== $$t (x10)"; RR_STRESS_SCALE=10 $(BUILD)/release/$$t; done

$(BUILD)/bench/%: bench/c/%.c $(BUILD)/release/lib.a | $(BUILD)/bench
	$(CC) $(CFLAGS) -O3 -march=native $< $(BUILD)/release/lib.a -o $@ $(LDLIBS)
# Instructions per event under callgrind, which knows no AVX-512: no -march=native.
$(BUILD)/bench/bench_instr: bench/c/bench_instr.c $(CORE_HDR) $(BUILD)/release/lib.a | $(BUILD)/bench
	$(CC) $(CFLAGS) $< $(BUILD)/release/lib.a -o $@ $(LDLIBS)
$(BUILD)/bench:
	@mkdir -p $@

# Instructions per event first (repeatable; skipped without valgrind), then the timings.
bench-c: $(BUILD)/bench/bench_instr $(BUILD)/bench/bench_core
	$(BUILD)/bench/bench_instr
	$(BUILD)/bench/bench_core

$(BUILD)/examples/%: examples/%.c $(BUILD)/release/lib.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/release/lib.a -o $@ $(LDLIBS)

demo: demo-c demo-python demo-lua demo-interop

demo-c: $(BUILD)/examples/fanout
	$(BUILD)/examples/fanout

clean:
	rm -rf $(BUILD) dist python/rusted_ring/_core*.so python/rusted_ring.egg-info

# clean, and .venv too (make makes it again when it needs it).
distclean: clean
	rm -rf $(VENV)
