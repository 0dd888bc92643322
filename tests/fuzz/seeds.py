"""Writes the fuzzer's hand-made inputs: tests/fuzz/corpus/*.bin and the
reproducers in tests/fuzz/regressions/*.bin.

    python tests/fuzz/seeds.py

Each input is spelled with the operations of fuzz_binding.py (this file
encodes what its decoder reads, byte for byte), so a seed says what it does and
stays right when operations are added at the end of OPS. Inputs the fuzzer
found are kept as it wrote them, next to these.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_binding as fb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def op(fn, *fields):
    return bytes([fb.OPS.index(fn), *fields])


def timeout(t):
    return fb.TIMEOUTS.index(t)


def ring(mode="backpressure", producers="single", slot=16, cap=4):
    return op(fb.op_new_ring, mode == "overwrite", producers == "multi", slot - 1, cap - 1, 23)


def writer(i):
    return op(fb.op_new_writer, i)


def reader(i, start="oldest"):
    return op(fb.op_new_reader, i, ["oldest", "latest", None, "middle"].index(start))


def payload(kind="bytes", length=8, etype=None, inner="bytes", action=None):
    """A PayloadSpec; etype: the event-like's own type, an int below 256."""
    out = bytes([fb.PAYLOAD_KINDS.index(kind), length, 0])
    if kind.startswith("event-like"):
        out += etype_of(0 if etype is None else etype)
        out += bytes([["bytes", "bytearray", "numpy", "memoryview"].index(inner), action is not None])
        out += action or b""
    return out


def etype_of(value):
    """decode_etype's bytes for a plain int type below 256."""
    return bytes([len(fb.EVENT_TYPES), value])


def add(i, p=None, how="add", t=0):
    return op(fb.op_add, i, ["add", "try_add", "add-kw"].index(how)) + (p or payload()) + bytes([0, timeout(t)])


def add_batch(i, payloads, form="list", tmode="omit", common=0, t=0):
    counts = [0, 1, 2, 3, 4, 5, 8, 9, 20]
    return (op(fb.op_add_batch, i, counts.index(len(payloads))) + b"".join(payloads)
            + bytes([["list", "tuple", "generator", "edited"].index(form),
                     ["omit", "int", "list", "short-list", "bad-item", "float", "none"].index(tmode),
                     common, timeout(t)]))


def next_(i, keep=False, t=0):
    return op(fb.op_next, i, timeout(t), keep, 0)


def next_batch(i, max_events, keep_mask=0, t=0, drain=False):
    return op(fb.op_next_batch, i, max_events - 1, timeout(t), keep_mask, drain)


def iterate(i, how=0, stop=11, keep=False):
    return op(fb.op_iterate, i, how, stop, keep)


def claim(i):
    return op(fb.op_claim, i, 0, timeout(0))


def claim_enter(i):
    return op(fb.op_claim_enter, i)


def claim_write(i, key, value, byte=0, read=False, action=None):
    return (op(fb.op_claim_write, i, fb.CLAIM_KEYS.index(key), fb.CLAIM_VALUES.index(value), read, byte)
            + (action or b""))


def claim_publish(i, length, etype=0):
    return op(fb.op_claim_publish, i, length, etype)


def close(what, i):
    return op(fb.op_close, ["ring", "writer", "reader", "writer (exit)"].index(what), i)


def look(what, i):
    return op(fb.op_look, ["ring", "reader", "writer"].index(what), i)


def finalizer(action):
    return op(fb.op_finalizer) + action


def threshold(t):
    return op(fb.op_threshold, t - 1)


def gc_():
    return op(fb.op_gc)


def check_kept():
    return op(fb.op_check_kept)


def start(gc_threshold=1):
    return bytes([gc_threshold - 1])


# Every input starts with ring 0 (backpressure, single producer, 16-byte slots,
# capacity 4) and ring 1 (overwrite, multi-producer, 24-byte slots, capacity
# 2), writer i and reader i on ring i.
CORPUS = {
    "fan_out_both_modes": start(50) + add(0) + add(0, payload("bytearray", 16)) + add(1, payload("numpy", 24))
    + add(1) + add(1, payload("memoryview", 3)) + reader(0) + next_(0, keep=True) + next_batch(2, 4)
    + iterate(1) + look("ring", 0) + look("ring", 1) + look("reader", 0) + check_kept(),
    "batches_and_claims": start(50) + add_batch(0, [payload("bytes", 4), payload("numpy", 9)], tmode="list", common=3)
    + claim(0) + claim_enter(0) + claim_write(0, "0", "byte", 7) + claim_publish(0, 12, 5)
    + next_batch(0, 8, keep_mask=0xFF) + add_batch(1, [payload("bytes", 20)] * 3, tmode="int", common=9)
    + next_batch(1, 3) + check_kept(),
    "event_likes_and_bad_payloads": start(50) + add(0, payload("event-like", 8, etype=4))
    + add(0, payload("event-like-raises", 8)) + add(0, payload("str")) + add(0, payload("numpy-strided", 8))
    + add(0, payload("released-view", 8)) + add(0, payload("bytes", 18)) + next_batch(0, 4),
    "closing_in_every_order": start(50) + add(0) + next_(0, keep=True) + close("reader", 0) + check_kept()
    + close("writer", 0) + writer(0) + add(0) + close("ring", 0) + add(0) + reader(0) + next_(2)
    + close("writer (exit)", 1) + look("ring", 1),
    "finalizer_reading_elsewhere": start(1) + add(1) + add(1) + finalizer(next_(1)) + add(0) + next_(0)
    + gc_() + next_(1),
    "data_property_adding_elsewhere": start(20) + add(0, payload("event-like", 8, action=add(1))) + next_(1)
    + next_(0),
    "data_property_adding_to_the_same_writer_in_a_batch": start(100)
    + add_batch(0, [payload("event-like", 4, action=add(0, payload("bytes", 2))), payload("bytes", 4)])
    + next_batch(0, 4),
}

# Reproducers of findings (their replays are xfail in test_regressions.py until fixed).
REGRESSIONS = {
    # Claim.__setitem__ out of range: IndexError left set while the view is released.
    "claim_setitem_out_of_range_systemerror": start(50) + claim(0) + claim_enter(0)
    + claim_write(0, "past", "byte", 1),
    # Claim.__getitem__ with a str key: TypeError left set while the view is released.
    "claim_getitem_bad_key_systemerror": start(50) + claim(0) + claim_enter(0)
    + claim_write(0, "str", "byte", read=True),
    # A finalizer run by the collector inside next_batch (at its list allocation,
    # with the free list of lists empty)
    # reads from the same reader: the outer call then hands out the inner call's
    # events again from the reused buffer, and one slot more than it made room for.
    "next_batch_reentered_from_a_finalizer": start(1) + add(0) + add(0) + add(0)
    + finalizer(next_(0, keep=True)) + next_batch(0, 1, keep_mask=1, drain=True) + check_kept(),
    # A .data property re-entering add_batch on the same single-producer writer
    # with a bigger batch: the outer call's scratch arrays are reallocated under it.
    "add_batch_reentered_through_data": start(100)
    + add_batch(0, [payload("event-like", 4, action=add_batch(0, [payload("bytes", 2)] * 3)),
                    payload("bytes", 4)]),
}


def main():
    for folder, inputs in (("corpus", CORPUS), ("regressions", REGRESSIONS)):
        os.makedirs(os.path.join(HERE, folder), exist_ok=True)
        for name, data in inputs.items():
            with open(os.path.join(HERE, folder, name + ".bin"), "wb") as f:
                f.write(data)
            print(f"{folder}/{name}.bin: {len(data)} bytes")


if __name__ == "__main__":
    main()
