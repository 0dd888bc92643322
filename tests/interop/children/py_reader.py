"""A reader process: open a shared ring, register a reader at the oldest event,
read until the ring is closed and drained, checking every payload, and print
one JSON line of what it saw.

    py_reader.py NAME [--hold H] [--stop-after K] [--limit S] [--durable READER]

--hold H        register, then wait until H events are published before reading
                (in overwrite mode this makes the writer lap this reader)
--stop-after K  read K events, the last one in a call of its own (so exactly
                event K-1 stays pinned), then keep the reader registered and do
                nothing until killed (the reader that is SIGKILLed mid-stream)
--durable READER  open (or resume) the durable reader named READER instead of a
                plain one at the oldest event
Every payload must be intact (interop_payload.check), carry the event's own
sequence and type, and come after the previous one; a gap between sequences is
counted as missed, and must equal what the ring says this reader lost.
"""
import argparse
import json
import os
import sys
import time

from interop_payload import check, event_type, open_reader_after


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--hold", type=int, default=0)
    ap.add_argument("--stop-after", type=int, default=0)
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--durable", default=None)
    args = ap.parse_args()

    if args.durable:
        import rusted_ring as rr
        ring = rr.Ring.open_shared(args.name)
        r = ring.reader(name=args.durable, durable=True)
        print(json.dumps({"pid": os.getpid(), "opened": r.cursor}), flush=True)
    else:
        ring, r = open_reader_after(args.name, args.hold, args.limit)
    slot_size = ring.slot_size

    delivered = missed = 0
    prev = first = -1
    while True:
        want = 256
        if args.stop_after:
            # The binding keeps the slots of the last call pinned: the last
            # event comes in a call of its own, so exactly one stays pinned.
            left = args.stop_after - delivered
            want = 1 if left == 1 else min(256, left - 1)
        events = r.next_batch(want, timeout=args.limit)
        if not events:
            if not ring.closed:
                sys.exit(f"nothing arrived for {args.limit} s after event {prev}")
            events = r.next_batch(want, timeout=0)   # closed: drain what is left, if anything
            if not events:
                break
        for ev in events:
            seq = check(ev, slot_size)
            if ev.sequence != seq or ev.event_type != event_type(seq):
                sys.exit(f"event {ev.sequence} (type {ev.event_type}) carries the payload of {seq}")
            if seq <= prev:
                sys.exit(f"event {seq} came after {prev}")
            if first < 0:
                first = seq
            missed += seq - prev - 1
            prev = seq
        delivered += len(events)
        del events, ev
        if args.stop_after and delivered >= args.stop_after:
            print(json.dumps({"pid": os.getpid(), "stopped_at": delivered}), flush=True)
            time.sleep(args.limit)                   # until killed; registered all along
            sys.exit("was not killed")

    print(json.dumps({"pid": os.getpid(), "delivered": delivered, "missed": missed, "lost": r.lost,
                      "first": first, "last": prev, "published": ring.published,
                      "closed": ring.closed}), flush=True)
    r.close()


if __name__ == "__main__":
    main()
