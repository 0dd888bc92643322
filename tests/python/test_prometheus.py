"""rusted_ring.prometheus.RingCollector, scraped over HTTP like Prometheus would.

Each test registers the collector in its own CollectorRegistry, serves it with
prometheus_client.start_http_server on 127.0.0.1 and an ephemeral port, and
parses the scrape with prometheus_client.parser; the values must equal what the
rings report about themselves after a known sequence of writes and reads.
"""
import gc
import importlib
import sys
import socket
import urllib.request
import uuid

import pytest

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client import CollectorRegistry, start_http_server  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import rusted_ring as rr  # noqa: E402
from rusted_ring.prometheus import RingCollector  # noqa: E402

from fresh import run_fresh  # noqa: E402


def unique(prefix="prom"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def serve(registry):
    """Start an exporter on 127.0.0.1; return (port, shutdown)."""
    started = start_http_server(0, addr="127.0.0.1", registry=registry)
    if started is not None:                       # prometheus_client >= 0.17: (server, thread)
        server, thread = started
        port = server.server_address[1]

        def shutdown():
            server.shutdown()
            server.server_close()
            thread.join(30)
        return port, shutdown
    with socket.socket() as s:                    # older: find a free port ourselves
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return port, lambda: None


def scrape(registry):
    """{family name: family} parsed from one HTTP scrape of `registry`."""
    port, shutdown = serve(registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as resp:
            assert resp.status == 200
            text = resp.read().decode()
    finally:
        shutdown()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families, family, sample_name, **labels):
    """The value of the one sample of `family` named `sample_name` with exactly these labels."""
    found = [s.value for s in families[family].samples
             if s.name == sample_name and s.labels == labels]
    assert len(found) == 1, (family, labels, families[family].samples)
    return found[0]


def test_a_scrape_shows_a_reader_that_keeps_the_whole_ring_as_pinned_and_full():
    # The scenario: a 4-slot ring whose 4 events its reader keeps; the
    # writer is full though nothing is unread.
    ring = rr.Ring(16, 4, name=unique())
    w, r = ring.writer(), ring.reader()
    for i in range(4):
        w.add(b"%d" % i)
    kept = [r.next() for _ in range(4)]
    assert not w.try_add(b"no room")
    registry = CollectorRegistry()
    registry.register(RingCollector([ring]))
    families = scrape(registry)
    [entry] = ring.stats()["readers"]
    labels = {"ring": ring.name, "reader": str(entry["index"]), "reader_name": ""}
    assert families["rusted_ring_reader_pinned_events"].type == "gauge"
    assert value(families, "rusted_ring_reader_pinned_events", "rusted_ring_reader_pinned_events",
                 **labels) == entry["pinned"] == len(kept) == 4
    assert value(families, "rusted_ring_reader_lag_events", "rusted_ring_reader_lag_events",
                 **labels) == 0
    assert value(families, "rusted_ring_reader_backpressure_ratio",
                 "rusted_ring_reader_backpressure_ratio", **labels) == 1.0
    assert value(families, "rusted_ring_max_backpressure_ratio", "rusted_ring_max_backpressure_ratio",
                 ring=ring.name) == 1.0


def test_a_scrape_reports_what_the_rings_report():
    # Backpressure ring of 10: fill it, fail one try_add (a writer stall),
    # the fast reader reads everything, the slow one 3 events.
    bp = rr.Ring(64, 10, name=unique())
    w, slow, fast = bp.writer(), bp.reader(), bp.reader()
    for i in range(10):
        w.add(b"event %d" % i, i)
    assert w.try_add(b"no room") is False
    for _ in range(10):
        assert fast.next() is not None
    for _ in range(3):
        assert slow.next() is not None
    # Overwrite ring of 4: the writer laps the reader, which loses 6 of 10 events.
    ow = rr.Ring(64, 4, mode="overwrite", name=unique())
    lapped = ow.reader()
    ow_w = ow.writer()
    for i in range(10):
        ow_w.add(b"x")
    assert len([ev for ev in lapped]) == 4 and lapped.lost == 6

    registry = CollectorRegistry()
    registry.register(RingCollector())            # every live ring: ours among them
    families = scrape(registry)

    stats = bp.stats()
    ring = {"ring": bp.name}
    assert families["rusted_ring_events_published"].type == "counter"
    assert value(families, "rusted_ring_events_published",
                 "rusted_ring_events_published_total", **ring) == stats["published"] == 10
    assert value(families, "rusted_ring_writer_stalls",
                 "rusted_ring_writer_stalls_total", **ring) == stats["writer_stalls"] >= 1
    assert value(families, "rusted_ring_memory_bytes", "rusted_ring_memory_bytes", **ring) \
        == stats["memory_bytes"] == bp.memory_bytes
    assert value(families, "rusted_ring_readers_alive", "rusted_ring_readers_alive", **ring) == 2
    assert value(families, "rusted_ring_readers", "rusted_ring_readers", **ring) == 2
    assert value(families, "rusted_ring_capacity_events", "rusted_ring_capacity_events", **ring) == 10
    # the slow reader: 7 unread and its last event, which it keeps until its next call
    assert value(families, "rusted_ring_max_backpressure_ratio",
                 "rusted_ring_max_backpressure_ratio", **ring) == 0.8
    for entry in stats["readers"]:
        reader = {"ring": bp.name, "reader": str(entry["index"]), "reader_name": ""}
        assert value(families, "rusted_ring_reader_lag_events",
                     "rusted_ring_reader_lag_events", **reader) == entry["lag"]
        assert value(families, "rusted_ring_reader_pinned_events",
                     "rusted_ring_reader_pinned_events", **reader) == entry["pinned"] == 1
        assert value(families, "rusted_ring_reader_backpressure_ratio",
                     "rusted_ring_reader_backpressure_ratio", **reader) == entry["backpressure"]
        assert value(families, "rusted_ring_lost_events",
                     "rusted_ring_lost_events_total", **reader) == 0
    assert sorted(e["lag"] for e in stats["readers"]) == [0, 7]

    [ow_reader] = ow.stats()["readers"]
    lapped_labels = {"ring": ow.name, "reader": str(ow_reader["index"]), "reader_name": ""}
    assert value(families, "rusted_ring_lost_events", "rusted_ring_lost_events_total",
                 **lapped_labels) == ow_reader["lost"] == 6
    assert value(families, "rusted_ring_info", "rusted_ring_info", ring=ow.name, kind="ring",
                 pool="", mode="overwrite", producers="single") == 1


def test_abandoned_claims_are_counted_and_dead_producers_recoveries_beside_them():
    ring = rr.Ring(64, 8, producers="multi", name=unique())
    w, r = ring.writer(), ring.reader()
    with pytest.raises(ZeroDivisionError):
        with w.claim():
            1 / 0                                  # the claim is given up, never seen
    w.add(b"after")
    assert bytes(r.next()) == b"after"
    registry = CollectorRegistry()
    registry.register(RingCollector([ring]))
    families = scrape(registry)
    stats = ring.stats()
    labels = {"ring": ring.name}
    assert value(families, "rusted_ring_events_abandoned", "rusted_ring_events_abandoned_total",
                 **labels) == stats["abandoned"] == 1
    # no producer process died: the recovered count is the ring's own, 0
    assert value(families, "rusted_ring_claims_recovered", "rusted_ring_claims_recovered_total",
                 **labels) == stats["claims_recovered"] == 0


def test_metric_families_follow_prometheus_conventions():
    ring = rr.Ring(64, 8, name=unique())
    ring.reader()
    registry = CollectorRegistry()
    registry.register(RingCollector([ring]))
    families = scrape(registry)
    kinds = {name: f.type for name, f in families.items()}
    counters = {"rusted_ring_events_published", "rusted_ring_writer_stalls",
                "rusted_ring_lost_events", "rusted_ring_readers_evicted",
                "rusted_ring_events_abandoned", "rusted_ring_claims_recovered",
                "rusted_ring_upstream_lost"}
    assert {n for n, k in kinds.items() if k == "counter"} == counters
    assert all(s.name == n + "_total" for n in counters for s in families[n].samples)
    assert kinds["rusted_ring_reader_lag_events"] == kinds["rusted_ring_memory_bytes"] == "gauge"
    assert kinds["rusted_ring_reader_backpressure_ratio"] == "gauge"
    assert all(n.startswith("rusted_ring_") for n in kinds)
    assert all(f.documentation for f in families.values())


def test_a_collector_follows_only_its_targets_while_they_live():
    mine, other = rr.Ring(64, 8, name=unique()), rr.Ring(64, 8, name=unique())
    mine.writer().add(b"one")
    registry = CollectorRegistry()
    registry.register(RingCollector([mine]))
    get = registry.get_sample_value
    assert get("rusted_ring_events_published_total", {"ring": mine.name}) == 1
    assert get("rusted_ring_events_published_total", {"ring": other.name}) is None
    name = mine.name
    del mine
    gc.collect()
    assert get("rusted_ring_events_published_total", {"ring": name}) is None


def test_describe_lets_a_registry_refuse_a_second_collector():
    registry = CollectorRegistry()
    registry.register(RingCollector([]))
    with pytest.raises(ValueError, match="Duplicated"):
        registry.register(RingCollector([]))


def test_default_pools_are_labelled_by_pool():
    run_fresh("""
        from prometheus_client import CollectorRegistry
        from rusted_ring.prometheus import RingCollector
        registry = CollectorRegistry()
        registry.register(RingCollector())
        assert registry.get_sample_value("rusted_ring_events_published_total", {"ring": "pool:XS"}) is None
        r = rr.EventPoolFactory.get_xs_reader()
        for i in range(5):
            rr.EventUtils.create_auto_sized_event(b"tiny", i).emit_to_ring()
        get = registry.get_sample_value
        assert get("rusted_ring_events_published_total", {"ring": "pool:XS"}) == 5
        assert get("rusted_ring_reader_lag_events", {"ring": "pool:XS", "reader": "0", "reader_name": ""}) == 5
        assert get("rusted_ring_info", {"ring": "pool:XS", "kind": "pool", "pool": "XS",
                                        "mode": "overwrite", "producers": "multi"}) == 1
    """)


def test_without_prometheus_client_the_import_says_how_to_install_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "rusted_ring.prometheus")
    monkeypatch.setitem(sys.modules, "prometheus_client", None)   # `import prometheus_client` fails
    monkeypatch.setitem(sys.modules, "prometheus_client.core", None)
    with pytest.raises(ImportError, match=r"pip install 'rusted_ring\[prometheus\]'"):
        importlib.import_module("rusted_ring.prometheus")
