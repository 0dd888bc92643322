"""A claimed slot's item access: bad indexes and values raise their own errors
(IndexError, TypeError, ValueError), and the claim and the ring stay usable.

Every payload carries a producer, a sequence and a checksum (payloads.py).
"""
import pytest

import rusted_ring as rr
from payloads import Payloads, decode


def _set(key, value):
    def op(slot):
        slot[key] = value
    return op


@pytest.mark.parametrize("op, exc", [
    (lambda slot: slot[100], IndexError),
    (lambda slot: slot[-100], IndexError),
    (lambda slot: slot["k"], TypeError),
    (_set(100, 1), IndexError),
    (_set("k", 1), TypeError),
    (_set(0, 300), ValueError),
    (_set(0, -1), ValueError),
    (_set(0, "x"), TypeError),
    (_set(slice(0, 4), b"abc"), ValueError),
    (_set(slice(0, 2), "ab"), TypeError),
], ids=["get-past-end", "get-before-start", "get-str-key", "set-past-end", "set-str-key",
        "set-300", "set-negative", "set-str-value", "set-short-slice", "set-str-slice"])
def test_bad_indexing_of_a_claimed_slot_raises_its_error_and_the_claim_stays_usable(op, exc):
    ring = rr.Ring(64, 4)
    w, r = ring.writer(), ring.reader()
    gen = Payloads(9, 64)
    p = gen.make(0)
    with w.claim() as slot:
        with pytest.raises(exc):
            op(slot)
        slot[:len(p)] = p
        slot[0] = p[0]
        assert slot[1] == p[1] and slot[2:6] == p[2:6]
        slot.length = len(p)
    assert decode(r.next()) == (9, 0)
    w.add(gen.make(1))
    assert decode(r.next()) == (9, 1)
    assert ring.stats()["abandoned"] == 0
