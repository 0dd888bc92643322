"""PoolStats, SystemHealth and health_check.

Tests that read the process-wide default pools run in a fresh interpreter
(`run_fresh`), so that no other test's readers or events are counted.
"""

import dataclasses
from types import SimpleNamespace

import pytest

import rusted_ring as rr

from fresh import run_fresh  # noqa: E402




def make_stat(pool="XS", capacity=2000, backpressure=0.153, text=""):
    return rr.PoolStats(pool_id=rr.PoolId[pool], capacity=capacity, slot_size=rr.PoolId[pool].slot_size,
                        memory_bytes=0, published=0, reader_count=0,
                        current_backpressure=backpressure, text=text)


# ---- PoolStats -----------------------------------------------------------------------------

def test_collect_all_reports_every_pool_without_creating_any():
    run_fresh("""
        stats = rr.PoolStats.collect_all()
        assert [s.pool_id for s in stats] == list(rr.PoolId)
        assert [s.capacity for s in stats] == [2000, 1000, 300, 60, 15]
        assert [s.slot_size for s in stats] == [64, 256, 1024, 4096, 16384]
        assert all(s.memory_bytes == 0 and not s.exists for s in stats)
        assert all(s.published == 0 and s.reader_count == 0 for s in stats)
        assert all(s.current_backpressure == 0.0 for s in stats)
        # Nothing was created, so the pools can still be configured.
        rr.configure_pools("mobile")
        assert [s.capacity for s in rr.PoolStats.collect_all()] == [500, 250, 100, 20, 5]
    """)


def test_collect_all_follows_a_live_pool_with_the_worst_reader_backpressure():
    run_fresh("""
        rr.configure_pools({"M": 100})
        F = rr.EventPoolFactory
        slow, fast = F.get_m_reader(), F.get_m_reader()
        w = F.get_m_writer()
        for i in range(30):
            w.add(b"m" * 1000, i)
        for _ in range(20):
            assert fast.next() is not None
        m = rr.PoolStats.collect_all()[rr.PoolId.M]
        assert m.exists and m.memory_bytes >= 100 * 1024, m.memory_bytes
        assert (m.published, m.reader_count, m.capacity) == (30, 2, 100), m
        assert m.current_backpressure == 0.3, m.current_backpressure
        assert str(m) == "Pool M: capacity=100, backpressure=30.0%", str(m)
        assert m.health is rr.SystemHealth.EXCELLENT
        del slow
        import gc; gc.collect()
        m = rr.PoolStats.collect_all()[rr.PoolId.M]
        assert m.reader_count == 1 and m.current_backpressure == 0.1, m
    """)


def test_pool_stats_prints_like_the_seed():
    out = run_fresh("""
        r = rr.EventPoolFactory.get_xs_reader()
        w = rr.EventPoolFactory.get_xs_writer()
        for i in range(306):
            w.add(b"x", 1)
        for stat in rr.PoolStats.collect_all():
            print(stat)
    """)
    lines = out.splitlines()
    assert lines[0] == "Pool XS: capacity=2000, backpressure=15.3%"
    assert lines[1:] == ["Pool S: capacity=1000, backpressure=0.0%",
                         "Pool M: capacity=300, backpressure=0.0%",
                         "Pool L: capacity=60, backpressure=0.0%",
                         "Pool XL: capacity=15, backpressure=0.0%"]


def test_pool_stats_formats_its_own_fields_when_it_has_no_core_text():
    assert str(make_stat()) == "Pool XS: capacity=2000, backpressure=15.3%"
    assert str(make_stat("XL", 15, 1.0)) == "Pool XL: capacity=15, backpressure=100.0%"
    assert str(make_stat(text="from the core")) == "from the core"


def test_pool_stats_as_dict_is_plain_data_and_from_dict_reads_it_back():
    stat = make_stat("L", 60, 0.25)
    d = stat.as_dict()
    assert d == {"pool_id": "L", "capacity": 60, "slot_size": 4096, "memory_bytes": 0,
                 "published": 0, "reader_count": 0, "current_backpressure": 0.25}
    assert all(type(v) in (int, float, str) for v in d.values())
    assert rr.PoolStats.from_dict({**d, "pool_id": 3}) == stat


def test_pool_stats_is_a_frozen_snapshot():
    stat = make_stat()
    with pytest.raises(dataclasses.FrozenInstanceError):
        stat.capacity = 1


def test_pool_stats_has_useful_help():
    assert "backpressure" in rr.PoolStats.__doc__
    assert rr.PoolStats.collect_all.__doc__ and rr.health_check.__doc__


# ---- SystemHealth / health_check -----------------------------------------------------------

# The core's bands, which agree with is_under_pressure (> 0.8) and should_throttle
# (>= 0.9): exactly 0.8 is GOOD, not WARNING (it was, before the bands came from
# the core, while the same reader was "not under pressure").
@pytest.mark.parametrize("ratio, health", [
    (0.0, "EXCELLENT"), (0.4999, "EXCELLENT"), (0.5, "GOOD"), (0.7999, "GOOD"),
    (0.8, "GOOD"), (0.8001, "WARNING"), (0.8999, "WARNING"), (0.9, "CRITICAL"), (1.0, "CRITICAL"),
    (float("nan"), "CRITICAL"),
])
def test_health_thresholds_are_the_seeds(ratio, health):
    assert rr.SystemHealth.from_backpressure(ratio) is rr.SystemHealth[health]
    assert rr.health_check([make_stat(backpressure=ratio)]) is rr.SystemHealth[health]


def test_health_check_takes_the_worst_pool():
    stats = [make_stat("XS", backpressure=0.1), make_stat("M", backpressure=0.85),
             SimpleNamespace(current_backpressure=0.6)]
    assert rr.health_check(stats) is rr.SystemHealth.WARNING
    assert rr.health_check(iter(stats[:1])) is rr.SystemHealth.EXCELLENT


def test_health_check_with_no_stats_is_excellent():
    assert rr.health_check([]) is rr.SystemHealth.EXCELLENT


def test_system_health_members_are_the_seeds():
    assert [h.name for h in rr.SystemHealth] == ["EXCELLENT", "GOOD", "WARNING", "CRITICAL"]
    assert str(rr.SystemHealth.GOOD) == "GOOD"


def test_health_check_defaults_to_the_live_pools():
    run_fresh("""
        assert rr.health_check() is rr.SystemHealth.EXCELLENT
        rr.configure_pools({"L": 10})
        r = rr.EventPoolFactory.get_l_reader()
        w = rr.EventPoolFactory.get_l_writer()
        for _ in range(9):
            w.add(b"l")
        assert rr.health_check() is rr.SystemHealth.CRITICAL
        r.next()
        assert rr.health_check() is rr.SystemHealth.GOOD     # exactly 0.8: not under pressure
        w.add(b"l")
        assert rr.health_check() is rr.SystemHealth.CRITICAL
    """)
