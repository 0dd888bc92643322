"""Self-checking payloads and thread plumbing for the concurrency and leak tests.

A payload is a 20-byte header -- producer id (u32), the producer's own sequence
(u64), the body's length (u32) and a CRC-32 of the body seeded with producer and
sequence -- followed by a pseudo-random body of varying length. A payload that
is torn, stale, from another slot or delivered twice fails `decode` or the
caller's order check.
"""
import os
import random
import struct
import threading
import time
import zlib

HEADER = struct.Struct("<IQII")
SCALE = float(os.environ.get("RR_STRESS_SCALE", "1"))


def scaled(n, least=1):
    """An event count scaled by RR_STRESS_SCALE."""
    return max(least, int(n * SCALE))


class Payloads:
    """Payloads of one producer, `max_size` bytes at most."""

    def __init__(self, producer, max_size, seed=0):
        assert max_size >= HEADER.size
        rnd = random.Random(seed * 1000003 + producer)
        self.producer = producer
        self.bodies = [rnd.randbytes(rnd.randrange(0, max_size - HEADER.size + 1))
                       for _ in range(251)]

    def make(self, seq):
        body = self.bodies[seq % len(self.bodies)]
        crc = zlib.crc32(body, (seq * 2654435761 + self.producer) & 0xFFFFFFFF)
        return HEADER.pack(self.producer, seq, len(body), crc) + body


def decode(data):
    """(producer, seq) of an intact payload; AssertionError for anything else."""
    data = bytes(data)
    assert len(data) >= HEADER.size, f"payload of {len(data)} bytes has no header"
    producer, seq, n, crc = HEADER.unpack_from(data)
    assert n == len(data) - HEADER.size, f"producer {producer} seq {seq}: length {n} != {len(data) - HEADER.size}"
    body = data[HEADER.size:]
    assert zlib.crc32(body, (seq * 2654435761 + producer) & 0xFFFFFFFF) == crc, \
        f"producer {producer} seq {seq}: checksum mismatch"
    return producer, seq


class Workers:
    """Threads whose failures are collected and re-raised by `join`. A thread that
    fails runs its `on_error` (to close a reader that would otherwise gate the
    writer forever)."""

    def __init__(self):
        self.threads = []
        self.errors = []

    def start(self, target, *args, on_error=None, name=None):
        def run():
            try:
                target(*args)
            except BaseException as e:  # noqa: BLE001 - reported by join
                self.errors.append((name or target.__name__, e))
                if on_error is not None:
                    on_error()

        t = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(t)
        t.start()
        return t

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        if self.errors:
            name, e = self.errors[0]
            raise AssertionError(f"thread {name} failed: {e!r}") from e
        assert not stuck, f"threads still running after {timeout} s: {stuck}"


def wait_until(cond, timeout, what):
    """Poll `cond` (a cheap check) until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)
