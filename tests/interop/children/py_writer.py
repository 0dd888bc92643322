"""A writer process: open a shared ring and publish N self-checking payloads
(interop_payload.make) in batches, then close the ring (end of stream for
every reader, in every process). Prints one JSON line.

    py_writer.py NAME N [--hold H] [--readers R] [--batch B] [--no-close] [--limit S]

--hold H     publish H events, then wait until R readers have all read up to H
             before publishing the rest (with readers that hold back until H
             are published, an overwrite ring laps them first, then they read
             alongside the writer)
"""
import argparse
import json
import os
import sys
import time

import rusted_ring as rr
from interop_payload import event_type, make


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("n", type=int)
    ap.add_argument("--hold", type=int, default=0)
    ap.add_argument("--readers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--no-close", action="store_true")
    ap.add_argument("--limit", type=float, default=60.0)
    args = ap.parse_args()

    ring = rr.Ring.open_shared(args.name)
    slot_size = ring.slot_size
    w = ring.writer()
    seq = 0

    def publish_until(end):
        nonlocal seq
        while seq < end:
            stop = min(end, seq + args.batch)
            payloads = [make(s, slot_size) for s in range(seq, stop)]
            assert w.add_batch(payloads, [event_type(s) for s in range(seq, stop)],
                               timeout=args.limit) == stop - seq
            seq = stop

    publish_until(min(args.hold, args.n))
    if args.hold:
        deadline = time.monotonic() + args.limit
        while True:
            readers = ring.stats()["readers"]
            if len(readers) >= args.readers and all(e["cursor"] >= args.hold for e in readers):
                break
            if time.monotonic() > deadline:
                sys.exit(f"the readers did not catch up with event {args.hold}: {readers}")
            time.sleep(0.001)
    publish_until(args.n)
    stats = ring.stats()
    w.close()
    if not args.no_close:
        ring.close()
    print(json.dumps({"pid": os.getpid(), "published": ring.published, "writer_stalls": stats["writer_stalls"]}),
          flush=True)


if __name__ == "__main__":
    main()
