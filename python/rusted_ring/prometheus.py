"""Ring statistics for Prometheus, through prometheus_client (``pip install rusted_ring[prometheus]``).

    from prometheus_client import REGISTRY, start_http_server
    from rusted_ring.prometheus import RingCollector

    REGISTRY.register(RingCollector())      # every live ring and default pool
    start_http_server(9100)

Each scrape reads the rings afresh (`Ring.stats()`, without stopping anyone).
Metrics, labelled by ``ring`` (see rusted_ring.registry for labels) and, per
reader, ``reader`` (its entry in the ring's reader table) and ``reader_name``
(its name, ``ring.reader(name=...)``; "" when unnamed):

    rusted_ring_info{ring,kind,pool,mode,producers}   1 per ring (what it is)
    rusted_ring_writer_info{ring,wait}                1 per ring: the wait strategy of the
                                                      writer opened last ("block" before any)
    rusted_ring_reader_info{ring,reader,reader_name,wait,after,writable}
                                                      1 per reader: its wait strategy, the
                                                      readers it follows (names, or entry
                                                      indexes, comma-separated) and whether
                                                      it writes into its events
    rusted_ring_events_published_total{ring}          counter
    rusted_ring_writer_stalls_total{ring}             counter: a writer found the ring full
    rusted_ring_readers_evicted_total{ring}           counter: readers of dead processes removed
    rusted_ring_upstream_lost_total{ring}             counter: events lost before they reached
                                                      the ring (Writer.note_lost)
    rusted_ring_events_abandoned_total{ring}          counter: events of claims given up
    rusted_ring_claims_recovered_total{ring}          counter: of those, dead producers' claims
    rusted_ring_capacity_events{ring}                 gauge
    rusted_ring_slot_size_bytes{ring}                 gauge
    rusted_ring_memory_bytes{ring}                    gauge
    rusted_ring_readers{ring}                         gauge: registered readers
    rusted_ring_readers_alive{ring}                   gauge: readers whose process runs
    rusted_ring_readers_parked{ring}                  gauge: durable readers no Reader holds
    rusted_ring_writer_alive{ring}                    gauge: 1 while a process holds a writer
    rusted_ring_closed{ring}                          gauge: 1 once closed
    rusted_ring_max_backpressure_ratio{ring}          gauge: the worst reader's ratio
    rusted_ring_lost_events_total{ring,reader,reader_name}     counter: skipped after a lap
    rusted_ring_reader_lag_events{ring,reader,reader_name}     gauge: published, not yet read
    rusted_ring_reader_pinned_events{ring,reader,reader_name}  gauge: read and still kept
    rusted_ring_reader_backpressure_ratio{ring,reader,reader_name}
                                                      gauge: (lag + pinned) / capacity, 0..1

A reader's counters start again from 0 when its table entry is reused by a new
reader; Prometheus's rate() and increase() treat that as a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as e:
    raise ImportError(
        "rusted_ring.prometheus needs prometheus_client, which is not installed: "
        "pip install 'rusted_ring[prometheus]' (or prometheus_client)"
    ) from e

from .registry import RingView, Targets, TargetSet, collect
from .snapshots import followed, records

__all__ = ["RingCollector"]

_RING = ["ring"]
_READER = ["ring", "reader", "reader_name"]


class RingCollector(Collector):
    """A prometheus_client collector of rusted_ring ring statistics.

    Args:
        targets: None (the default) for every live ring and every default pool
            that exists at each scrape; or Rings and pools (PoolId, 0..4,
            "XS".."XL"), followed while they live.
        namespace: the prefix of every metric name.

    Register it with a registry (``REGISTRY.register(RingCollector())``); the
    module docstring lists the metrics.
    """

    def __init__(self, targets: Targets = None, *, namespace: str = "rusted_ring") -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ValueError("namespace must be a non-empty str")
        self._targets = TargetSet(targets)
        self._ns = namespace

    def describe(self) -> Iterable[Metric]:
        """The metric families without samples (lets a registry check names without a scrape)."""
        return list(self._families().values())

    def collect(self) -> Iterable[Metric]:
        """One family per metric, with a sample per ring or per reader."""
        families = self._families()
        for view, stats in collect(self._targets):
            self._add_ring(families, view, stats)
        return list(families.values())

    def _families(self) -> dict[str, Metric]:
        ns = self._ns
        spec: list[tuple[type, str, str, list[str]]] = [
            (CounterMetricFamily, "events_published", "Events published into the ring.", _RING),
            (CounterMetricFamily, "writer_stalls", "Times a writer found the ring full.", _RING),
            (CounterMetricFamily, "readers_evicted",
             "Readers of dead processes taken out of the reader table.", _RING),
            (CounterMetricFamily, "upstream_lost",
             "Events lost before they reached the ring (Writer.note_lost: a bridge's source "
             "lost them).", _RING),
            (CounterMetricFamily, "events_abandoned",
             "Events of claims given up (by their writer, or found held by a dead producer).",
             _RING),
            (CounterMetricFamily, "claims_recovered",
             "Events of claims whose producer process died, abandoned by whoever waited behind "
             "them.", _RING),
            (GaugeMetricFamily, "capacity_events", "Slots in the ring.", _RING),
            (GaugeMetricFamily, "slot_size_bytes", "Largest payload of one event.", _RING),
            (GaugeMetricFamily, "memory_bytes", "Bytes the ring occupies.", _RING),
            (GaugeMetricFamily, "readers", "Readers registered in the ring.", _RING),
            (GaugeMetricFamily, "readers_alive", "Readers whose owning process still runs.", _RING),
            (GaugeMetricFamily, "readers_parked",
             "Durable readers no Reader holds (closed, or their process died): they still hold "
             "the writer back.", _RING),
            (GaugeMetricFamily, "writer_alive", "1 while some live process holds a writer.", _RING),
            (GaugeMetricFamily, "closed", "1 once the ring was closed.", _RING),
            (GaugeMetricFamily, "max_backpressure_ratio",
             "The largest reader backpressure ((lag + pinned) / capacity) of the ring.", _RING),
            (CounterMetricFamily, "lost_events",
             "Events a reader skipped because the writer lapped it (overwrite mode).", _READER),
            (GaugeMetricFamily, "reader_lag_events", "Events published that the reader has not read.",
             _READER),
            (GaugeMetricFamily, "reader_pinned_events",
             "Events the reader has read and still keeps, so no writer can reuse their slots.",
             _READER),
            (GaugeMetricFamily, "reader_backpressure_ratio",
             "(Reader lag + pinned events) / ring capacity, 0 to 1; 1 when a backpressure "
             "writer finds the ring full.", _READER),
        ]
        families: dict[str, Metric] = {
            "info": InfoMetricFamily(ns, "What each ring is.",
                                     labels=["ring", "kind", "pool", "mode", "producers"]),
            "writer_info": InfoMetricFamily(f"{ns}_writer",
                                            "How the ring's writer opened last waits for room.",
                                            labels=["ring", "wait"]),
            "reader_info": InfoMetricFamily(f"{ns}_reader",
                                            "How each reader waits for events, the readers it "
                                            "follows and whether it writes into its events.",
                                            labels=_READER + ["wait", "after", "writable"]),
        }
        for family_type, name, doc, labels in spec:
            families[name] = family_type(f"{ns}_{name}", doc, labels=labels)
        return families

    @staticmethod
    def _add_ring(families: dict[str, Any], view: RingView, stats: dict[str, Any]) -> None:
        rows = records(view, stats, 0.0)
        ring = rows[0]
        label = [view.label]
        families["info"].add_metric([view.label, view.kind, ring["pool"] or "", ring["mode"],
                                     ring["producers"]], {})
        families["writer_info"].add_metric([view.label, ring["writer_wait"]], {})
        for name, value in (("events_published", ring["published"]),
                            ("writer_stalls", ring["writer_stalls"]),
                            ("readers_evicted", ring["readers_evicted"]),
                            ("upstream_lost", ring["upstream_lost"]),
                            ("events_abandoned", ring["abandoned"]),
                            ("claims_recovered", ring["claims_recovered"]),
                            ("capacity_events", ring["capacity"]),
                            ("slot_size_bytes", ring["slot_size"]),
                            ("memory_bytes", ring["memory_bytes"]),
                            ("readers", ring["reader_count"]),
                            ("readers_alive", ring["readers_alive"]),
                            ("readers_parked", ring["readers_parked"]),
                            ("writer_alive", int(ring["writer_alive"])),
                            ("closed", int(ring["closed"])),
                            ("max_backpressure_ratio", ring["max_backpressure"])):
            families[name].add_metric(label, value)
        readers = list(_readers(rows))
        names = {row["reader"]: row["reader_name"] for row in readers}
        for row in readers:
            reader = [view.label, str(row["reader"]), row["reader_name"]]
            after = ",".join(str(x) for x in followed(row["after"], names))
            families["reader_info"].add_metric(
                reader + [row["wait"], after, "true" if row["writable"] else "false"], {})
            families["lost_events"].add_metric(reader, row["lost"])
            families["reader_lag_events"].add_metric(reader, row["lag"])
            families["reader_pinned_events"].add_metric(reader, row["pinned"])
            families["reader_backpressure_ratio"].add_metric(reader, row["backpressure"])


def _readers(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (row for row in rows if row["reader"] is not None)

