"""A pipeline stage process: a reader of a shared ring that follows other
readers by name, checks the marks of the stages before it, stamps its own,
and reports what it handled (as pipe_stage.lua does, in Lua).

    python pipe_stage.py RING NAME AFTER MARK CHECKS [EXPECT_LATE]

AFTER: the names it follows, comma-separated ("-": none). MARK: the stage
number whose mark it writes (a writable reader), or -1 to write nothing.
CHECKS: the stage numbers whose marks must be there ("-": none). EXPECT_LATE:
a stage number whose marks may stop (its process is killed mid-stream): they
must be a prefix of the stream, and each one correct.

An event is 32 bytes: its sequence (u64 LE), the CRC-32 of those 8 bytes
(u32 LE), then one byte per stage from offset 12: stage k's mark is
(seq * 7 + k * 31) % 255 + 1. The stage prints {"ready": true} once its
reader is registered, {"handled": K} once it has handled `--report` events,
and at the close one line of JSON: handled, first, last, sum of sequences,
and for EXPECT_LATE the number of events that carried its mark.
"""
import json
import struct
import sys
import zlib

import rusted_ring as rr

HEAD = struct.Struct("<QI")
MARKS = HEAD.size


def mark(stage, seq):
    return (seq * 7 + stage * 31) % 255 + 1


def main():
    ring_name, name, after, own, checks = sys.argv[1:6]
    late = int(sys.argv[6]) if len(sys.argv) > 6 else None
    own = int(own)
    after = [] if after == "-" else after.split(",")
    checks = [] if checks == "-" else [int(c) for c in checks.split(",")]
    ring = rr.Ring.open_shared(ring_name)
    r = ring.reader(name=name, after=after, writable=own >= 0)
    print(json.dumps({"ready": True, "after": list(r.after)}), flush=True)
    seen = {"handled": 0, "first": None, "last": -1, "sum": 0, "late_marked": 0, "late_ended": False}

    def handle(ev, end):
        seq, crc = HEAD.unpack_from(ev)
        if seq != ev.sequence or crc != zlib.crc32(struct.pack("<Q", seq)):
            raise AssertionError(f"event {ev.sequence}: sequence {seq}, bad header")
        if seq != seen["last"] + 1:
            raise AssertionError(f"event {seq} came after {seen['last']}")
        data = ev.data
        for k in checks:
            if data[MARKS + k] != mark(k, seq):
                raise AssertionError(f"event {seq}: stage {k}'s mark is {data[MARKS + k]}")
        if late is not None:
            m = data[MARKS + late]
            if m == mark(late, seq) and not seen["late_ended"]:
                seen["late_marked"] += 1
            elif m == 0:
                seen["late_ended"] = True
            else:
                raise AssertionError(f"event {seq}: stage {late}'s mark is {m} (after its end: "
                                     f"{seen['late_ended']})")
        if own >= 0:
            if data[MARKS + own] != 0:
                raise AssertionError(f"event {seq}: marked by stage {own} before it was handed it")
            data[MARKS + own] = mark(own, seq)
        if seen["first"] is None:
            seen["first"] = seq
        seen["last"] = seq
        seen["sum"] += seq
        seen["handled"] += 1

    r.process(handle, timeout=60)
    print(json.dumps({**seen, "closed": ring.closed}), flush=True)


if __name__ == "__main__":
    main()
