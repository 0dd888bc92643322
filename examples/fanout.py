"""The seed's fan-out scenario in Python (`make demo-python`).

Part 1, a backpressure Ring: one writer thread (a drawing UI sending strokes
and cursor moves) and three reader threads following the same stream at their
own pace: storage, network (which watches should_throttle, as the seed's
network actor does) and analytics (which also decodes each stroke). Every payload carries its sequence number and a crc32 of its
body; every reader checks both for every event. In backpressure mode nothing
is lost: the writer waits for the slowest reader.

Part 2, the default pools (overwrite mode, the seed's semantics): every
cursor move is also emitted as an auto-sized event into the XS pool, an audit
reader follows that pool, and then the seed's monitoring loop prints each
pool's stats line and the overall health.

Exit status 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

try:
    import rusted_ring as rr
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import rusted_ring as rr

EVENTS = 300_000
STROKE, CURSOR = 1, 2
HEADER = struct.Struct("<QI")          # sequence, crc32 of the body
STROKE_BODY = struct.Struct("<fff")    # x, y, pressure
CURSOR_BODY = struct.Struct("<ff")     # x, y
SAMPLE_EVERY = 1024                    # readers sample their backpressure this often

failures: list[str] = []


def make_event(seq: int) -> tuple[bytes, int]:
    """The UI's seq-th event: 3 strokes for every cursor move."""
    x, y = float(seq % 1920), float(seq % 1080)
    if seq % 4:
        body, kind = STROKE_BODY.pack(x, y, (seq % 100) / 100.0), STROKE
    else:
        body, kind = CURSOR_BODY.pack(x, y), CURSOR
    return HEADER.pack(seq, zlib.crc32(body)) + body, kind


class Follower(threading.Thread):
    """A reader thread that checks every event's sequence and checksum."""

    def __init__(self, name: str, reader: rr.Reader,
                 work: Callable[[Follower, int, bytes], None]) -> None:
        super().__init__(name=name)
        self.reader, self.work = reader, work
        self.delivered = self.strokes = self.cursors = self.torn = self.out_of_order = 0
        self.throttle_hits = 0
        self.max_backpressure = 0.0
        self.total_pressure = 0.0     # analytics: the sum of the strokes' pressures

    def run(self) -> None:
        reader, work = self.reader, self.work
        expected = 0
        for ev in reader.events():  # waits; ends when the ring is closed and drained
            data = ev.data
            seq, crc = HEADER.unpack_from(data)
            body = bytes(data[HEADER.size:])
            if zlib.crc32(body) != crc:
                self.torn += 1
            if seq != expected:
                self.out_of_order += 1
            expected = seq + 1
            if ev.event_type == STROKE:
                self.strokes += 1
            else:
                self.cursors += 1
            work(self, ev.event_type, body)
            self.delivered += 1
            if self.delivered % SAMPLE_EVERY == 0:
                self.max_backpressure = max(self.max_backpressure, reader.backpressure_ratio())
                if reader.should_throttle():
                    self.throttle_hits += 1   # the seed sleeps 1 ms here; we only count


def store(f: Follower, kind: int, body: bytes) -> None:
    pass  # a database write would go here


def sync(f: Follower, kind: int, body: bytes) -> None:
    pass  # a send to peers would go here


def analyse(f: Follower, kind: int, body: bytes) -> None:
    if kind == STROKE:
        x, y, pressure = STROKE_BODY.unpack(body)
        f.total_pressure += pressure


def part1() -> None:
    ring = rr.Ring(64, 2048)  # backpressure, single producer
    followers = [Follower("storage", ring.reader(), store),
                 Follower("network", ring.reader(), sync),
                 Follower("analytics", ring.reader(), analyse)]
    audit = rr.EventPoolFactory.get_xs_reader()  # follows the XS pool (part 2)
    cursors_emitted = 0

    def ui() -> None:
        nonlocal cursors_emitted
        writer = ring.writer()
        for seq in range(EVENTS):
            payload, kind = make_event(seq)
            writer.add(payload, kind)            # waits for the slowest reader
            if kind == CURSOR:                   # mirrored into the default pools
                rr.EventUtils.create_auto_sized_event(payload, kind).emit_to_ring()
                cursors_emitted += 1
        ring.close()                             # end of stream for the readers

    print(f"== part 1: fan-out of {EVENTS} events on a backpressure ring "
          f"({ring.capacity} slots of {ring.slot_size} B), 1 writer, 3 readers")
    t0 = time.perf_counter()
    for f in followers:
        f.start()
    writer = threading.Thread(target=ui, name="ui")
    writer.start()
    writer.join(120)
    for f in followers:
        f.join(120)
    elapsed = time.perf_counter() - t0
    if writer.is_alive() or any(f.is_alive() for f in followers):
        failures.append("a thread did not finish within 120 s")
        return

    stats = ring.stats()
    print(f"  {stats['published']} events in {elapsed:.2f} s: {stats['published'] / elapsed:,.0f} events/s "
          f"written, {3 * stats['published'] / elapsed:,.0f} deliveries/s; writer stalls: {stats['writer_stalls']}")
    for f in followers:
        print(f"  {f.name:9} delivered={f.delivered:7} strokes={f.strokes:6} cursors={f.cursors:6} "
              f"lost={f.reader.lost} torn={f.torn} out_of_order={f.out_of_order} "
              f"max backpressure={f.max_backpressure:6.1%} throttle hits={f.throttle_hits}")
        if (f.delivered, f.reader.lost, f.torn, f.out_of_order) != (EVENTS, 0, 0, 0):
            failures.append(f"{f.name}: not every event arrived intact and in order")
    pressure = followers[2].total_pressure / max(1, followers[2].strokes)
    print(f"  analytics: mean stroke pressure {pressure:.3f}")

    # Part 2 continues with the audit reader of the XS pool.
    part2(audit, cursors_emitted)


def part2(audit: rr.Reader, cursors_emitted: int) -> None:
    print("\n== part 2: the default pools (overwrite mode)")
    seen = sum(1 for _ in audit)  # what the XS pool still holds for us
    print(f"  audit reader of the XS pool: {cursors_emitted} cursor events emitted, "
          f"{seen} delivered + {audit.lost} lost (lapped) = {seen + audit.lost}")
    if seen + audit.lost != cursors_emitted:
        failures.append("XS pool: delivered + lost != emitted")
    # 306 more heartbeats the audit reader has not read yet: 306 / 2000 = 15.3%.
    for i in range(306):
        rr.emit(struct.pack("<I", i), 3)
    for stat in rr.PoolStats.collect_all():
        print(f"  {stat}")
        if stat.pool_id is rr.PoolId.XS and stat.current_backpressure > 0.8:
            print(f"  warn: XS pool under pressure: {stat.current_backpressure:.1%}")
    health = rr.health_check()
    print(f"  health_check(): {health.name}")
    if health is not rr.SystemHealth.EXCELLENT:
        failures.append(f"health {health.name}, expected EXCELLENT at 15.3% backpressure")


def main() -> int:
    t0 = time.perf_counter()
    part1()
    print(f"\ndemo finished in {time.perf_counter() - t0:.2f} s: "
          + ("every check held" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
