"""One call of the timeout contract, or the vocabulary, in Python; prints JSON lines.

    py_contract.py NAME next|add VALUE   open the shared ring NAME, print {"ready": true},
                                         make one next() (a reader at "oldest") or add()
                                         (a writer) with timeout VALUE, print the outcome
    py_contract.py NAME stats            the keys of NAME's stats() and of its readers
    py_contract.py NAME wait R W         open NAME's reader with wait=R and a writer with
                                         wait=W, print {"ready", "reader", "writer"} (their
                                         .wait), then wait for one event; print its payload
    py_contract.py - badwait NAME        the errors of reader(wait=NAME) and writer(wait=NAME)
    py_contract.py - bands R1 R2 ...     is_under_pressure / should_throttle / health_of

VALUE is a token both children read the same way: none (Python's None), 0,
0.001, inf, -1, nan, -0.0. Outcome: {"outcome": "event" | "nothing" | "ok" |
"full" | "error", "message": the error's text, "elapsed": seconds the call took}.
"""
import json
import math
import sys
import time

import rusted_ring as rr
from rusted_ring import _core

TOKENS = {"none": None, "0": 0, "0.001": 0.001, "inf": math.inf, "-1": -1, "nan": math.nan,
          "-0.0": -0.0}


def say(**kw):
    print(json.dumps(kw), flush=True)


def call(name, op, token):
    ring = rr.Ring.open_shared(name)
    handle = ring.reader() if op == "next" else ring.writer()
    value = TOKENS[token]
    say(ready=True)
    t0 = time.monotonic()
    try:
        if op == "next":
            got = handle.next(timeout=value)
            outcome = "nothing" if got is None else "event"
        else:
            handle.add(b"contract", timeout=value)
            outcome = "ok"
        message = None
    except rr.RingFull as e:
        outcome, message = "full", str(e)
    except ValueError as e:
        outcome, message = "error", str(e)
    say(outcome=outcome, message=message, elapsed=time.monotonic() - t0)


def main():
    name, op = sys.argv[1], sys.argv[2]
    if op in ("next", "add"):
        call(name, op, sys.argv[3])
    elif op == "stats":
        s = rr.Ring.open_shared(name).stats()
        say(ring=list(s), reader=[list(e) for e in s["readers"]],
            pinned=[e["pinned"] for e in s["readers"]], name=s["name"])
    elif op == "wait":
        ring = rr.Ring.open_shared(name)
        r, w = ring.reader(wait=sys.argv[3]), ring.writer(wait=sys.argv[4])
        say(ready=True, reader=r.wait, writer=w.wait)
        ev = r.next(timeout=60)
        say(outcome=None if ev is None else bytes(ev).decode())
    elif op == "badwait":
        ring = rr.Ring(16, 4)
        messages = []
        for open_one in (lambda: ring.reader(wait=sys.argv[3]), lambda: ring.writer(wait=sys.argv[3])):
            try:
                open_one()
                messages.append(None)
            except ValueError as e:
                messages.append(str(e))
        say(messages=messages)
    elif op == "durable":
        # the parked reader "parked" and the live plain reader "plain" are the test's
        ring = rr.Ring.open_shared(name)
        w = ring.writer()
        w.note_lost(7)
        messages = []
        for attempt in (lambda: ring.reader(durable=True),
                        lambda: ring.reader(name="parked"),
                        lambda: ring.reader(name="plain", durable=True),
                        lambda: ring.drop_reader("nobody"),
                        lambda: ring.drop_reader("plain"),
                        lambda: w.note_lost(-1)):
            try:
                attempt()
                messages.append(None)
            except (ValueError, rr.RingError) as e:
                messages.append(str(e))
        r = ring.reader(name="parked", durable=True)
        say(messages=messages, instance=ring.instance, durable=r.durable, cursor=r.cursor)
    elif op == "bands":
        ratios = [float(a) for a in sys.argv[3:]]
        say(bands=[[_core.is_under_pressure(r), _core.should_throttle(r), _core.health_of(r)]
                   for r in ratios])
    else:
        raise SystemExit(f"unknown op {op}")


if __name__ == "__main__":
    main()
