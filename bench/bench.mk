# bench/bench.mk — the benchmark suite against its peers, and its notebooks;
# included by the top Makefile, which defines BUILD, PYTHON, PY_RUN, PY_DEPS and the
# `python` and `lua` targets and builds $(BUILD)/bench/% from bench/c/%.c.
#
#   make bench           every benchmark and peer, one result file
#                        (bench/results/results.json) and a summary of ratios
#   make bench-quick     the same with small counts: well under a minute
#   make test-notebooks  run bench/notebooks/*.ipynb headlessly in quick mode
#
#   make bench-c-peers   the C/C++ queue peers of bench/peers/c whose headers
#                        are installed (ck_ring: libck-dev, boost::lockfree:
#                        libboost-dev); says which it skipped
#
# bench/run.py --help says more (running one group, printing a summary again,
# the README's Performance table from a result file).
# The peers build themselves when their tools are there: cargo for the Rust
# seed crate (bench/peers/rust), Maven and a JDK for the LMAX Disruptor
# (bench/peers/java), the headers for the queues of bench/peers/c; a peer that
# cannot be built is skipped and says why.

.PHONY: bench bench-quick bench-deps bench-c-peers test-notebooks

BENCH_BIN := $(BUILD)/bench/bench_core $(BUILD)/bench/bench_latency $(BUILD)/bench/bench_disruptor

# bench_disruptor speaks bench/c/serve.h's protocol (built by the top Makefile's
# $(BUILD)/bench/% rule); so do the queue peers, which need nothing of rusted_ring.
$(BUILD)/bench/bench_disruptor: bench/c/serve.h
PEER_FLAGS := -O3 -march=native -g -D_GNU_SOURCE -Ibench/c -Wall -Wextra -Wpedantic -Wshadow -Werror
$(BUILD)/bench/ck_spsc: bench/peers/c/ck_spsc.c bench/c/serve.h | $(BUILD)/bench
	$(CC) -std=c11 $(PEER_FLAGS) $< -o $@ -lpthread
$(BUILD)/bench/boost_spsc: bench/peers/c/boost_spsc.cpp bench/c/serve.h | $(BUILD)/bench
	$(CXX) -std=c++17 $(PEER_FLAGS) $< -o $@ -lpthread

# Each peer whose header the compiler finds; the others are named, with the package.
bench-c-peers: | $(BUILD)/bench
	@if printf '#include <ck_ring.h>\n' | $(CC) -E -x c - >/dev/null 2>&1; \
	then $(MAKE) --no-print-directory $(BUILD)/bench/ck_spsc; \
	else echo "bench-c-peers: ck_ring.h not found, ck_ring skipped (apt-get install libck-dev)"; fi
	@if printf '#include <boost/lockfree/spsc_queue.hpp>\n' | $(CXX) -E -x c++ - >/dev/null 2>&1; \
	then $(MAKE) --no-print-directory $(BUILD)/bench/boost_spsc; \
	else echo "bench-c-peers: boost/lockfree/spsc_queue.hpp not found, boost skipped (apt-get install libboost-dev)"; fi

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
