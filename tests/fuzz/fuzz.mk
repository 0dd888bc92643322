# tests/fuzz/fuzz.mk — the CPython binding's fuzzer; included by the top
# Makefile after the Python rules (PYTHON, PY_DEPS, PY_SAFE, py_ext_build,
# ASAN_FLAGS, PY_SAN_ENV, PY_PKG_FILES, PY_ASAN_DIR and its build).
#
#   make fuzz-python                    tests/fuzz/fuzz_binding.py for FUZZ_SECONDS (60)
#   make fuzz-python FUZZ_SECONDS=3600  the long run
#
# The harness runs under atheris (installed into the virtual environment when
# missing), the pure-Python package instrumented by atheris. With clang, the
# extension is compiled with -fsanitize=address,undefined,fuzzer-no-link so
# libFuzzer also sees the C code's coverage; it is linked without a sanitizer
# runtime (cc -shared) and atheris's asan_with_fuzzer.so, preloaded, provides
# ASan, UBSan and libFuzzer. Without clang (FUZZ_CC= to force that) the gcc
# ASan build of `make sanitize-python` is used, uninstrumented for coverage,
# with libasan and libubsan preloaded. New inputs go to build/fuzz/corpus
# (seeded from tests/fuzz/corpus); a finding stops the run and leaves
# build/fuzz/crash-*: `python tests/fuzz/fuzz_binding.py --describe FILE`
# decodes it; copy it to tests/fuzz/regressions/ to keep it as a test.

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= $(shell command -v clang 2>/dev/null)
FUZZ_FLAGS   ?=
PY_FUZZ_DIR  := $(BUILD)/py-fuzz
PY_FUZZ_EXT  := $(PY_FUZZ_DIR)/rusted_ring/_core$(PY_SUFFIX)
FUZZ_RUNTIME  = $$($(PYTHON) -c 'import atheris, os; print(os.path.join(atheris.path(), "asan_with_fuzzer.so"))')

.PHONY: fuzz-python fuzz-deps

fuzz-deps:
	@$(PY_DEPS) numpy atheris

$(PY_FUZZ_EXT): $(CORE_SRC) $(CORE_HDR) $(PY_BINDING) csrc/sources.mk
	$(call py_ext_build,$(PY_FUZZ_DIR),$(FUZZ_CC) $(ASAN_FLAGS) -g -fsanitize=fuzzer-no-link,)

ifneq ($(FUZZ_CC),)
FUZZ_EXT := $(PY_FUZZ_EXT)
FUZZ_ENV  = LD_PRELOAD="$(FUZZ_RUNTIME)" PYTHONPATH=$(CURDIR)/$(PY_FUZZ_DIR)
FUZZ_WHAT := the extension built by $(FUZZ_CC) with ASan+UBSan and libFuzzer coverage
else
FUZZ_EXT := $(PY_ASAN_EXT)
FUZZ_ENV  = LD_PRELOAD="$(ASAN_PRELOAD)" PYTHONPATH=$(CURDIR)/$(PY_ASAN_DIR)
FUZZ_WHAT := the gcc ASan+UBSan build, without C coverage (no clang)
endif

fuzz-python: fuzz-deps $(FUZZ_EXT)
	@cp $(PY_PKG_FILES) $(dir $(FUZZ_EXT))
	@mkdir -p $(BUILD)/fuzz/corpus
	@echo "== fuzzing the Python binding for $(FUZZ_SECONDS) s: $(FUZZ_WHAT)"
	$(FUZZ_ENV) $(PY_SAN_ENV) $(PYTHON) $(PY_SAFE) tests/fuzz/fuzz_binding.py \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
	  -artifact_prefix=$(BUILD)/fuzz/ $(FUZZ_FLAGS) $(BUILD)/fuzz/corpus tests/fuzz/corpus
