"""The bridge's benchmark still runs: a quick pass of bench_bridge.py against
the test's server, so a change to the bridge's options or defaults cannot leave
`make bench`'s py_bridge group broken (it once waited for a consumer name the
bridge no longer used by default). Timings are printed, never checked."""
import subprocess

from conftest import CHILD_ENV, LIMIT, PYTHON, REPO


def test_the_bridge_benchmark_runs_its_quick_pass_end_to_end(server):
    r = subprocess.run(PYTHON + [str(REPO / "bench/python/bench_bridge.py"), "--quick",
                                 "--nats", server.url],
                       env=CHILD_ENV, capture_output=True, text=True, timeout=4 * LIMIT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "x the naive peer" in r.stdout and "latency at 10k events/s" in r.stdout, r.stdout
