# bench/: the benchmark suite against the peers, and its notebooks.
.PHONY: bench bench-quick test-notebooks
test-notebooks: python
