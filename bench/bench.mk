# bench/bench.mk — the benchmark suite against its peers, and its notebooks;
# included by the top Makefile, which defines BUILD, PYTHON, PY_RUN, PY_DEPS and the
# `python` and `lua` targets and builds $(BUILD)/bench/% from bench/c/%.c.
#
#   make bench           every benchmark and peer, one result file
#                        (bench/results/results.json) and a summary of ratios
#   make bench-quick     the same with small counts: well under a minute
#   make test-notebooks  run bench/notebooks/*.ipynb headlessly in quick mode
#
# bench/run.py --help says more (running one group, printing a summary again).
# The peers build themselves when their tools are there: cargo for the Rust
# seed crate (bench/peers/rust), Maven and a JDK for the LMAX Disruptor
# (bench/peers/java); a peer that cannot be built is skipped and says why.

.PHONY: bench bench-quick bench-deps test-notebooks

BENCH_BIN := $(BUILD)/bench/bench_core $(BUILD)/bench/bench_latency

bench: $(BENCH_BIN) python lua
	$(PY_RUN) bench/run.py --no-build --as "make bench"

bench-quick: $(BENCH_BIN) python lua
	$(PY_RUN) bench/run.py --no-build --quick --as "make bench-quick"

# What the notebooks need (the `bench` extra of pyproject.toml without the
# peers, which are skipped when missing), installed only when missing.
bench-deps:
	@$(PY_DEPS) matplotlib nbclient nbformat ipykernel pandas

# Each notebook runs its benchmarks in quick mode (RR_BENCH_RESULTS names a
# file that does not exist, so nothing is loaded from an earlier run).
test-notebooks: py-deps bench-deps $(BENCH_BIN) python lua
	MPLBACKEND=Agg $(PY_RUN) -m pytest -q -p no:cacheprovider tests/notebooks
