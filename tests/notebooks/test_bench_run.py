"""bench/run.py's alternating runs and its README table, driven with stand-in
workers (small Python programs that speak bench/c/serve.h's protocol and
answer with made-up figures), so nothing here depends on timing.

Run by `make test-notebooks`, beside the notebooks that plot these results.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import run  # noqa: E402  (bench/run.py)

# A worker whose answer depends on the request's form: "rateN" answers N
# events/s (N, N+1, N+2 ... on successive runs of that form), "capped" stops at the cap,
# "wrong" fails its check, "hang" never answers, "die" exits.
FAKE = textwrap.dedent('''
    import json, sys, time
    name = sys.argv[1]
    print(json.dumps({"ready": True, "worker": name, "cpus": 2}), flush=True)
    runs = {}
    for line in sys.stdin:
        w = line.split()
        if w[0] == "quit":
            break
        shape, wait, form, events, cap = w[1], w[2], w[3], int(w[4]), float(w[5])
        res = {"shape": shape, "wait": wait, "form": form, "events": events, "done": events,
               "seconds": 1.0, "ok": True, "capped": False, "threads": 2, "cpus": 2, "worker": name}
        if form.startswith("rate"):
            res["events_per_s"] = float(form[4:]) + runs.get(form, 0)
        elif form == "capped":
            res.update(done=events // 2, events_per_s=5.0, capped=True)
        elif form == "wrong":
            res.update(ok=False, error="consumer 0 took 3 events summing to 4", events_per_s=1.0)
        elif form == "hang":
            time.sleep(3600)
        elif form == "die":
            sys.exit(3)
        runs[form] = runs.get(form, 0) + 1
        print("a line that is not JSON", flush=True)
        print(json.dumps(res), flush=True)
''')


@pytest.fixture
def workers(tmp_path):
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE)
    log = open(tmp_path / "group.log", "w+")   # the workers' stderr goes here too
    made = {}

    def make(*names):
        for name in names:
            made[name] = run.Worker(name, [sys.executable, str(script), name], log, hello_timeout=60)
        return made

    yield make, log
    for w in made.values():
        w.close()
    log.close()


def text(log) -> str:
    log.flush()
    return Path(log.name).read_text()


def contender(key, worker, form, warmups=1):
    return run._contender(key, worker, form, f"{worker} {form}", warmups)


def workload(*contenders, shape="1p1c", wait="yield"):
    return run._workload(shape, wait, True, list(contenders))


@pytest.fixture(autouse=True)
def three_runs():
    run.ALT.update(runs=3, cap=2.0)
    yield
    run.ALT.update(runs=None, cap=None)


def test_each_contender_runs_in_turn_and_every_run_is_kept(workers):
    make, log = workers
    ws = make("ours", "peer")
    wl = workload(contender("a", "ours", "rate100", warmups=1), contender("b", "peer", "rate10", warmups=2))
    (entry,), ok = run.alternate(ws, [wl], True, log)
    assert ok
    a, b = entry["contenders"]
    assert [r["warmup"] for r in a["runs"]] == [True, False, False, False]
    assert [r["warmup"] for r in b["runs"]] == [True, True, False, False, False]
    # Warm-ups are kept but not counted: ours answered 100 (warm-up), then 101, 102, 103.
    assert (a["median"], a["min"], a["max"], a["n"]) == (102.0, 101.0, 103.0, 3)
    assert (b["median"], b["min"], b["max"], b["n"]) == (13.0, 12.0, 14.0, 3)
    # Round r starts with contender r mod 2: a b, b a, a b (the log has them in order).
    order = [line.split()[2] for line in text(log).splitlines()
             if line.startswith("1p1c yield ") and " run " in line]
    assert order == ["ours", "peer", "peer", "ours", "ours", "peer"]
    assert "a line that is not JSON" in text(log)


def test_a_capped_contender_stops_repeating_and_says_so(workers):
    make, log = workers
    ws = make("ours", "peer")
    wl = workload(contender("a", "ours", "rate100"), contender("b", "peer", "capped", warmups=0),
                  shape="1p3c", wait="spin")
    (entry,), ok = run.alternate(ws, [wl], True, log)
    assert ok
    b = entry["contenders"][1]
    assert b["status"] == "capped" and len(b["runs"]) == 1
    assert "stopped at the 2 s cap" in b["reason"]
    assert entry["oversubscribed"] and entry["threads"] == 4


def test_a_failed_check_fails_the_group_and_a_hung_worker_is_stopped_and_restarted(workers, monkeypatch):
    make, log = workers
    ws = make("ours", "peer")
    monkeypatch.setitem(run.ALT, "cap", 0.5)   # answer timeout: 2 * cap + 60 s
    real_run = run.Worker.run
    monkeypatch.setattr(run.Worker, "run", lambda self, *a, timeout: real_run(self, *a, timeout=1.0))
    wls = [workload(contender("a", "ours", "rate100"), contender("b", "peer", "wrong", warmups=0)),
           workload(contender("a", "ours", "rate100"), contender("b", "peer", "hang", warmups=0)),
           workload(contender("a", "ours", "rate100"), contender("b", "peer", "rate7", warmups=0))]
    entries, ok = run.alternate(ws, wls, True, log)
    assert not ok
    wrong, hung, after = (e["contenders"][1] for e in entries)
    assert wrong["status"] == "failed" and "summing to 4" in wrong["reason"] and len(wrong["runs"]) == 1
    assert hung["status"] == "failed" and "no answer within 1 s" in hung["reason"]
    assert after["status"] == "ok" and after["n"] == 3   # a fresh program answered


def test_a_missing_peer_leaves_ours_measured_and_the_row_says_why(workers):
    make, log = workers
    ws = make("ours")
    wl = workload(contender("rr_claim", "ours", "rate100"), contender("disruptor", "disruptor", "claim"))
    entries, ok = run.alternate(ws, [wl], True, log, {"disruptor": "mvn not found (install Maven)"})
    assert ok
    doc = {"groups": {"disruptor_tests": {"status": "ok", "data": {"runs": 3, "results": entries}}}}
    (row,) = run.summary(doc)
    assert row["ours"] == 102.0 and row["peer"] is None and "speedup" not in row
    assert "skipped: mvn not found (install Maven)" in row["missing"]


def test_summary_and_readme_give_medians_ranges_and_the_ratio_of_medians(workers):
    make, log = workers
    ws = make("ours", "peer")
    wls = [workload(contender("rr_claim", "ours", "rate200000000"), contender("rr_add", "ours", "rate300000000"),
                    contender("disruptor", "peer", "rate100000000", warmups=2)),
           workload(contender("rr_claim", "ours", "rate5000000"), contender("disruptor", "peer", "rate10000000"),
                    shape="3p1c", wait="block")]
    entries, ok = run.alternate(ws, wls, True, log)
    doc = {"command": "make bench", "started": "2026-01-02T03:04:05+00:00", "duration_s": 99.0,
           "machine": {"cores": 2, "cpu": "Test CPU", "git_commit": "abcdef123456"},
           "groups": {"disruptor_tests": {"status": "ok", "data": {"runs": 3, "ring_size": 65536,
                                                                    "results": entries}}}}
    doc["summary"] = run.summary(doc)
    claim, add, mp = doc["summary"]
    assert claim["ours"] == 200000002.0 and claim["peer"] == 100000003.0   # warm-ups not counted
    assert claim["speedup"] == pytest.approx(200000002.0 / 100000003.0)
    assert add["ours"] == 300000002.0 and add["peer"] == claim["peer"]
    assert (claim["ours_min"], claim["ours_max"], claim["ours_runs"]) == (200000001.0, 200000003.0, 3)
    assert claim["target"] == 1.5 and mp["target"] == 1.0 and mp.get("oversubscribed")
    table = run.readme_table(doc)
    assert "`make bench` at commit abcdef1 on 2026-01-02" in table
    assert "| C, 1P1C, 8 B: `claim(1)/publish` vs LMAX Disruptor 4.0.0 (Yielding / `yield`) | " \
           "200.00 M/s (200.00–200.00) | 100.00 M/s (100.00–100.00) | 2.00 |" in table
    assert "| C, 3P1C, 8 B: `claim(1)/publish` vs LMAX Disruptor 4.0.0 (Blocking / `block`) † | " \
           "5.00 M/s (5.00–5.00) | 10.00 M/s (10.00–10.00) | **0.50** |" in table
    assert "†: more threads than CPUs" in table
    json.dumps(doc)   # the result file stays plain JSON
