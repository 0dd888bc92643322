"""A reader process that reads through blocks: open a shared ring, register a
reader at the oldest event, read with Reader.next_block until the ring is
closed and drained, check every event of every block, and print one JSON line
of what it saw (as py_reader.py does).

    py_block_reader.py NAME [--hold H] [--max M] [--limit S]

Each event is checked twice: as the Event b[i] (interop_payload.check) and
through the block's zero-copy views, b.lengths / b.event_types and the row of
b.data cut to its length, which must hold the same bytes.
"""
import argparse
import json
import os
import sys

from interop_payload import check, event_type, open_reader_after


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--hold", type=int, default=0)
    ap.add_argument("--max", type=int, default=100)
    ap.add_argument("--limit", type=float, default=60.0)
    args = ap.parse_args()

    ring, r = open_reader_after(args.name, args.hold, args.limit)
    slot_size = ring.slot_size

    delivered = missed = blocks = largest = 0
    prev = first = -1
    while True:
        b = r.next_block(args.max, timeout=args.limit)
        if b is None:
            if not ring.closed:
                sys.exit(f"nothing arrived for {args.limit} s after event {prev}")
            b = r.next_block(args.max, timeout=0)   # closed: drain what is left, if anything
            if b is None:
                break
        with b:
            n = len(b)
            blocks += 1
            largest = max(largest, n)
            # the views pin the block: release them before it is released
            with b.data as rows, b.lengths as lv, b.event_types as tv:
                lengths, types = lv.tolist(), tv.tolist()
                if rows.shape != (n, slot_size):
                    sys.exit(f"block data has shape {rows.shape}, expected {(n, slot_size)}")
                raw = rows.tobytes()        # rows of slot_size bytes (the test's copy)
            for i, ev in enumerate(b):
                seq = check(ev, slot_size)
                if ev.sequence != seq or ev.sequence != b.first_sequence + i or ev.event_type != event_type(seq):
                    sys.exit(f"event {ev.sequence} (type {ev.event_type}) carries the payload of {seq}")
                if (lengths[i], types[i]) != (len(ev), ev.event_type) or \
                        raw[i * slot_size:i * slot_size + lengths[i]] != bytes(ev):
                    sys.exit(f"event {seq}: the block's views disagree with its Event")
                if seq <= prev:
                    sys.exit(f"event {seq} came after {prev}")
                if first < 0:
                    first = seq
                missed += seq - prev - 1
                prev = seq
                del ev
            delivered += n

    print(json.dumps({"pid": os.getpid(), "delivered": delivered, "missed": missed, "lost": r.lost,
                      "first": first, "last": prev, "published": ring.published, "closed": ring.closed,
                      "blocks": blocks, "largest": largest}), flush=True)
    r.close()


if __name__ == "__main__":
    main()
