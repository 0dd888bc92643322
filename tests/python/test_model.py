"""Random interleavings of writes and reads checked step by step against a model.

`RingModel` is a plain-Python statement of the documented contract
(csrc/rusted_ring.h, python/_core/reader.c's notes on event lifetime):

backpressure  Each registered reader has a gate: the first event of its last
              call (the reader keeps those pinned until it asks again), or an
              older event it still holds because a Python Event from an earlier
              call is alive. A writer may publish sequence s only below its
              limit, min(gates) + capacity (head + capacity when no reader is
              registered), refreshed only when it runs out, and limits never
              shrink. A reader opened at "oldest" starts at the slowest reader,
              or, with none registered, no earlier than limit - capacity: the
              writer may be a lap ahead of what was published.
overwrite     The writer never waits. Each slot holds the last event written to
              it (or is marked "being written" by a claim given up). A reader
              that finds its slot refilled skips to the oldest intact event plus
              a margin that doubles each time it is lapped again before catching
              up (at most half a lap), and counts every sequence skipped in
              `lost`; delivered + lost == cursor - start always.

blocks        next_block hands out consecutive events from the reader's next one
              (fetched as next() does, skipping a lap) up to max_events, ending at
              the ring's last slot and before any event not there yet (overwrite:
              a slot whose stamp is not that event's, done); a kept block pins
              its events as kept Events do. add_block is add_batch of rows;
              claim_block claims min(n, slots left before the ring's end).

Every returned event is compared with what was written (sequence, type, bytes),
and after every step the ring's figures (published, stats(), each reader's
cursor, lag, pinned, lost, delivered, backpressure) must equal the model's. Events
the test keeps are modelled as pins; all others are dropped as soon as they are
checked. A backpressure reader pins [gate, pos): its ratio is (lag + pinned) /
capacity, so it reads 1.0 exactly when the writer would find the ring full.
"""
import contextlib
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule)

import rusted_ring as rr

U32_MAX = 2**32 - 1
MAX_READERS = 64
SCALE = float(os.environ.get("RR_STRESS_SCALE", "1"))

event_types = st.one_of(st.sampled_from([0, 1, U32_MAX - 1, U32_MAX]),
                        st.integers(0, U32_MAX))
bad_event_types = st.one_of(st.sampled_from([-1, 2**32, 2**64, -(2**63)]),
                            st.integers(max_value=-1), st.integers(min_value=2**32))
buffer_kinds = st.sampled_from([bytes, bytearray, memoryview])


def names_size(message, n):
    return re.search(rf"(?<!\d){n}(?!\d)", message) is not None


# ---- the model -------------------------------------------------------------------------

class ModelReader:
    def __init__(self, index, start):
        self.index = index
        self.start = start
        self.pos = start          # next sequence to read
        self.cur_lo = start       # first sequence of the last call
        self.held = []            # sequences pinned by events kept past their call
        self.current = []         # kept events of the last call
        self.lost = 0
        self.delivered = 0
        self.margin = 0           # overwrite: extra skip after repeated laps
        self.open = True          # not closed (nor dropped) from Python
        self.dropped = False      # the last reference went without close()
        self.registered = True    # has an entry in the ring's reader table

    @property
    def gate(self):
        return min(self.held + [self.cur_lo])


class RingModel:
    def __init__(self, slot_size, capacity, mode):
        self.slot_size = slot_size
        self.capacity = capacity
        self.overwrite = mode == "overwrite"
        self.events = []                      # (event_type, payload) by sequence
        self.stamps = [None] * capacity       # overwrite: ("done" | "writing", sequence)
        self.limit = 0                        # backpressure: confirmed writer limit
        self.writer_limit = 0                 # the open writer's copy of it
        self.stalls = 0
        self.abandoned = 0
        self.closed = False
        self.table = [None] * MAX_READERS
        stride = -(-slot_size // 64) * 64
        self.batch_limit = min(max(32768 // stride, 1), capacity) if self.overwrite else 4096

    @property
    def head(self):
        return len(self.events)

    # writers

    def writer_opened(self):
        self.writer_limit = self.limit

    def room_for(self, n):
        """Backpressure: may the writer publish n more events now? Counts a stall if not."""
        if self.overwrite:
            return True
        need = self.head + n
        if need > self.writer_limit:
            gates = [r.gate for r in self.table if r is not None]
            lowest = min(gates) if gates else self.head
            self.limit = max(self.limit, lowest + self.capacity)
            self.writer_limit = self.limit
            if need > self.writer_limit:
                self.stalls += 1
                return False
        return True

    def publish(self, event_type, payload):
        seq = self.head
        self.events.append((event_type, bytes(payload)))
        self.stamps[seq % self.capacity] = ("done", seq)
        return seq

    def abandon(self, n=1):
        """A single writer's claim of n given up: its sequences are reused by the next claim."""
        self.abandoned += n
        if self.overwrite:
            for seq in range(self.head, self.head + n):
                self.stamps[seq % self.capacity] = ("writing", seq)

    # readers

    def pinned(self, r):
        """Backpressure: events r has read and keeps from the writer, [gate, pos)."""
        return 0 if self.overwrite else r.pos - r.gate

    def ratio(self, r):
        """What r keeps from the writer, unread or pinned, as a share of the ring."""
        return min((max(self.head - r.pos, 0) + self.pinned(r)) / self.capacity, 1.0)

    def open_reader(self, start):
        index = self.table.index(None)
        head, cap = self.head, self.capacity
        if start == "latest":
            pos = head
        else:
            pos = max(head - cap, 0)
            if not self.overwrite:
                pos = max(pos, self.limit - cap)
        r = ModelReader(index, pos)
        self.table[index] = r
        return r

    def unregister_if_unpinned(self, r):
        """A reader closed (or dropped) from Python leaves the table once nothing keeps it:
        in backpressure mode, no kept event pins one of its slots; a dropped reader, in
        either mode, lives as long as an event taken from it."""
        pinned = (r.held or r.current) and (not self.overwrite or r.dropped)
        if r.registered and not r.open and not pinned:
            r.registered = False
            self.table[r.index] = None

    def _stamp_value(self, slot):
        s = self.stamps[slot]
        if s is None:
            return 0
        return 2 * s[1] + (2 if s[0] == "done" else 1)

    def _fetch(self, r):
        """One event for r, or None (the core's fetch, in either mode)."""
        cap = self.capacity
        while True:
            if not self.overwrite:
                assert r.pos >= self.head - cap, "model: a gated reader was lapped"
                if r.pos >= self.head:
                    return None
                break
            want = 2 * r.pos + 2
            s = self._stamp_value(r.pos % cap)
            if s < want:
                r.margin = 0
                return None
            if s == want:
                break
            in_slot = (s - 1) // 2                # lapped: skip to the oldest intact event
            head = self.head
            target = in_slot - cap + 1
            if head > cap and head - cap > target:
                target = head - cap
            resume = target + r.margin
            if resume > head:
                resume = head if head > target else target
            r.margin = min(1 if r.margin == 0 else 2 * r.margin, cap // 2)
            resume = max(resume, r.pos + 1)
            r.lost += resume - r.pos
            r.pos = resume
        seq = r.pos
        r.pos += 1
        r.delivered += 1
        return seq

    def read(self, r, max_events):
        """One next()/next_batch() call: the sequences it hands out."""
        r.held += r.current                     # kept events of the last call become holds
        r.current = []
        r.cur_lo = r.pos
        first = self._fetch(r)
        if first is None:
            return []
        out = [first]
        while len(out) < min(max_events, self.batch_limit):
            seq = self._fetch(r)
            if seq is None:
                break
            out.append(seq)
        return out

    def read_block(self, r, max_events):
        """One next_block() call: the sequences of the block it hands out."""
        r.held += r.current
        r.current = []
        r.cur_lo = r.pos
        first = self._fetch(r)
        if first is None:
            return []
        out = [first]
        limit = min(max_events, self.batch_limit) if self.overwrite else max_events
        while len(out) < limit and r.pos % self.capacity != 0:
            if self.overwrite:
                if self._stamp_value(r.pos % self.capacity) != 2 * r.pos + 2:
                    break
            elif r.pos >= self.head:
                break
            out.append(r.pos)
            r.pos += 1
            r.delivered += 1
        return out

    def drop_kept(self, r, seq):
        if seq in r.current:
            r.current.remove(seq)
        else:
            r.held.remove(seq)
        self.unregister_if_unpinned(r)

    def close_reader(self, r, dropped):
        r.open = False
        r.dropped = dropped
        r.held += r.current
        r.current = []
        self.unregister_if_unpinned(r)


# ---- the machine -------------------------------------------------------------------------

class RingMachine(RuleBasedStateMachine):
    mode = "backpressure"

    def __init__(self):
        super().__init__()
        self.ring = None

    @initialize(slot_size=st.integers(1, 48), capacity=st.integers(1, 8),
                laps=st.integers(0, 3), data=st.data())
    def make_ring(self, slot_size, capacity, laps, data):
        """A ring, possibly written to (up to three laps) before any reader exists."""
        self.ring = rr.Ring(slot_size, capacity, mode=self.mode)
        self.model = RingModel(slot_size, capacity, self.mode)
        self.writer = self.ring.writer()
        self.model.writer_opened()
        self.readers = []        # (Reader | None, ModelReader); None once dropped
        self.kept = []           # (Event, ModelReader)
        self.kept_blocks = []    # (Block, ModelReader, sequences)
        if laps:
            self.burst(data, data.draw(st.integers(1, laps * capacity), label="prefill"))

    def burst(self, data, n):
        """Up to n payloads by try_add, stopping at the first refusal."""
        for i in range(n):
            payload = data.draw(self.payload(), label="payload")
            event_type = data.draw(event_types, label="event_type")
            ok = self.model.room_for(1)
            assert self.writer.try_add(payload, event_type) is ok
            if not ok:
                break
            self.model.publish(event_type, payload)

    # -- helpers

    def payload(self):
        return st.binary(max_size=self.model.slot_size)

    def check_event(self, ev, seq):
        event_type, payload = self.model.events[seq]
        assert ev.sequence == seq
        assert ev.event_type == event_type
        assert ev.len == len(ev) == len(payload)
        assert bytes(ev) == payload
        with ev.data as view:
            assert view.readonly and view.tobytes() == payload

    def check_block(self, b, seqs):
        assert (b.first_sequence, len(b)) == (seqs[0], len(seqs))
        arr = b.as_array()
        assert arr.shape == (len(seqs), self.model.slot_size) and not arr.flags.writeable
        lengths, types = b.lengths.tolist(), b.event_types.tolist()
        for i, seq in enumerate(seqs):
            event_type, payload = self.model.events[seq]
            assert (types[i], arr[i, :lengths[i]].tobytes()) == (event_type, payload)
        del arr

    def kept_count(self):
        return len(self.kept) + len(self.kept_blocks)

    def live_readers(self):
        return [(i, r, m) for i, (r, m) in enumerate(self.readers) if r is not None]

    def pick_reader(self, data):
        live = self.live_readers()
        return live[data.draw(st.integers(0, len(live) - 1), label="reader")]

    def has_readers(self):
        return bool(self.live_readers())

    def assert_unchanged(self, before):
        assert (self.ring.published, self.ring.stats()["writer_stalls"]) == before

    def figures(self):
        return (self.ring.published, self.ring.stats()["writer_stalls"])

    # -- writes

    @rule(data=st.data(), event_type=event_types, kind=buffer_kinds)
    def add(self, data, event_type, kind):
        payload = data.draw(self.payload(), label="payload")
        m = self.model
        if m.closed:
            with pytest.raises(rr.RingClosed):
                self.writer.add(kind(payload), event_type, timeout=0)
            return
        if m.room_for(1):
            seq = self.writer.add(kind(payload), event_type, timeout=0)
            assert seq == m.publish(event_type, payload)
        else:
            with pytest.raises(rr.RingFull):
                self.writer.add(kind(payload), event_type, timeout=0)

    @rule(data=st.data(), event_type=event_types)
    def try_add(self, data, event_type):
        payload = data.draw(self.payload(), label="payload")
        m = self.model
        if m.closed:
            with pytest.raises(rr.RingClosed):
                self.writer.try_add(payload, event_type)
            return
        ok = m.room_for(1)
        assert self.writer.try_add(payload, event_type) is ok
        if ok:
            m.publish(event_type, payload)

    @precondition(lambda self: not self.model.closed)
    @rule(data=st.data(), laps=st.integers(1, 3))
    def add_many(self, data, laps):
        """Enough events to lap a slow reader (overwrite) or fill the ring (backpressure)."""
        self.burst(data, data.draw(st.integers(1, laps * self.model.capacity), label="n"))

    @rule(data=st.data(), default_type=st.booleans())
    def add_batch(self, data, default_type):
        m = self.model
        n = data.draw(st.integers(1, m.capacity), label="batch size")
        payloads = data.draw(st.lists(self.payload(), min_size=n, max_size=n), label="payloads")
        types = [0] * n if default_type else data.draw(
            st.lists(event_types, min_size=n, max_size=n), label="types")
        call = (lambda: self.writer.add_batch(payloads, timeout=0)) if default_type else (
            lambda: self.writer.add_batch(payloads, types, timeout=0))
        if m.closed:
            with pytest.raises(rr.RingClosed):
                call()
        elif m.room_for(n):
            assert call() == n
            for t, p in zip(types, payloads):
                m.publish(t, p)
        else:
            with pytest.raises(rr.RingFull):
                call()

    @rule(data=st.data(), event_type=event_types, give_up=st.booleans())
    def claim(self, data, event_type, give_up):
        """A zero-copy write: published on a clean exit, abandoned (unseen) on an exception."""
        payload = data.draw(self.payload(), label="payload")
        m = self.model
        if m.closed:
            with pytest.raises(rr.RingClosed):
                with self.writer.claim(event_type, timeout=0):
                    pass
            return
        if not m.room_for(1):
            with pytest.raises(rr.RingFull):
                with self.writer.claim(event_type, timeout=0):
                    pass
            return

        class GiveUp(Exception):
            pass

        with pytest.raises(GiveUp) if give_up else contextlib.nullcontext():
            with self.writer.claim(event_type, timeout=0) as slot:
                slot[:len(payload)] = payload
                slot.length = len(payload)
                if give_up:
                    raise GiveUp
        if give_up:
            m.abandon()
        else:
            m.publish(event_type, payload)

    @rule(data=st.data(), event_type=event_types, per_row=st.booleans(), width=st.booleans())
    def add_block(self, data, event_type, per_row, width):
        """Rows of a NumPy array: add_batch's all-or-nothing, one call."""
        m = self.model
        n = data.draw(st.integers(1, m.capacity), label="rows")
        payloads = data.draw(st.lists(self.payload(), min_size=n, max_size=n), label="payloads")
        row = m.slot_size if width else max(len(p) for p in payloads)
        arr = np.zeros((n, row), np.uint8)
        for i, p in enumerate(payloads):
            arr[i, :len(p)] = np.frombuffer(p, np.uint8)
        types = data.draw(st.lists(event_types, min_size=n, max_size=n), label="types") \
            if per_row else [event_type] * n
        call = lambda: self.writer.add_block(  # noqa: E731
            arr, lengths=[len(p) for p in payloads],
            event_types=types if per_row else event_type, timeout=0)
        if m.closed:
            with pytest.raises(rr.RingClosed):
                call()
        elif m.room_for(n):
            assert call() == n
            for t, p in zip(types, payloads):
                m.publish(t, p)
        else:
            with pytest.raises(rr.RingFull):
                call()

    @rule(data=st.data(), event_type=event_types, give_up=st.booleans())
    def claim_block(self, data, event_type, give_up):
        """Up to n contiguous slots written through their views; all published, or all
        abandoned on an exception."""
        m = self.model
        n = data.draw(st.integers(1, m.capacity), label="n")
        count = min(n, m.capacity - m.head % m.capacity)
        if m.closed:
            with pytest.raises(rr.RingClosed):
                with self.writer.claim_block(n, event_type, timeout=0):
                    pass
            return
        if not m.room_for(count):
            with pytest.raises(rr.RingFull):
                with self.writer.claim_block(n, event_type, timeout=0):
                    pass
            return
        payloads = data.draw(st.lists(self.payload(), min_size=count, max_size=count),
                             label="payloads")

        class GiveUp(Exception):
            pass

        with pytest.raises(GiveUp) if give_up else contextlib.nullcontext():
            with self.writer.claim_block(n, event_type, timeout=0) as c:
                assert (len(c), c.first_sequence) == (count, m.head)
                arr, lengths = c.as_array(), c.lengths
                for i, p in enumerate(payloads):
                    arr[i, :len(p)] = np.frombuffer(p, np.uint8)
                    lengths[i] = len(p)
                del arr, lengths
                if give_up:
                    raise GiveUp
        if give_up:
            m.abandon(count)
        else:
            for p in payloads:
                m.publish(event_type, p)

    @rule(data=st.data(), event_type=event_types, extra=st.integers(1, 40))
    def oversized_payload_is_refused_and_changes_nothing(self, data, event_type, extra):
        m = self.model
        size = m.slot_size + extra
        before = self.figures()
        for call in (lambda: self.writer.add(b"x" * size, event_type, timeout=0),
                     lambda: self.writer.try_add(bytearray(size), event_type)):
            with pytest.raises(rr.DataTooLarge) as info:
                call()
            assert names_size(str(info.value), size) and names_size(str(info.value), m.slot_size)
        self.assert_unchanged(before)

    @rule(data=st.data(), event_type=bad_event_types)
    def event_type_outside_u32_is_refused_and_changes_nothing(self, data, event_type):
        payload = data.draw(self.payload(), label="payload")
        before = self.figures()
        with pytest.raises((OverflowError, ValueError)):
            self.writer.add(payload, event_type, timeout=0)
        with pytest.raises((OverflowError, ValueError)):
            self.writer.try_add(payload, event_type=event_type)
        self.assert_unchanged(before)

    @precondition(lambda self: not self.model.closed)
    @rule()
    def replace_writer(self):
        """A single-producer ring refuses a second writer until the first is closed."""
        with pytest.raises(rr.WriterBusy):
            self.ring.writer()
        self.writer.close()
        self.writer = self.ring.writer()
        self.model.writer_opened()

    # -- reads

    @precondition(lambda self: sum(m.registered for _, m in self.readers) < 6
                  and not self.model.closed)
    @rule(start=st.sampled_from(["oldest", "latest"]))
    def open_reader(self, start):
        reader = self.ring.reader(start)
        m = self.model.open_reader(start)
        self.readers.append((reader, m))
        assert reader.cursor == m.start

    @precondition(has_readers)
    @rule(data=st.data(), keep=st.booleans())
    def next(self, data, keep):
        _, reader, m = self.pick_reader(data)
        seqs = self.model.read(m, 1)
        ev = reader.next()
        if not seqs:
            assert ev is None
            return
        self.check_event(ev, seqs[0])
        if keep and self.kept_count() < 4:
            self.kept.append((ev, m))
            m.current.append(seqs[0])

    @precondition(has_readers)
    @rule(data=st.data(), max_events=st.integers(1, 10), keep=st.booleans())
    def next_batch(self, data, max_events, keep):
        _, reader, m = self.pick_reader(data)
        seqs = self.model.read(m, max_events)
        batch = reader.next_batch(max_events)
        assert [ev.sequence for ev in batch] == seqs
        for ev, seq in zip(batch, seqs):
            self.check_event(ev, seq)
        if keep and batch and self.kept_count() < 4:
            i = data.draw(st.integers(0, len(batch) - 1), label="kept event")
            self.kept.append((batch[i], m))
            m.current.append(seqs[i])

    @precondition(has_readers)
    @rule(data=st.data(), max_events=st.integers(1, 10), keep=st.booleans(),
          how=st.sampled_from(["release", "with", "drop"]), item=st.booleans())
    def next_block(self, data, max_events, keep, how, item):
        _, reader, m = self.pick_reader(data)
        seqs = self.model.read_block(m, max_events)
        b = reader.next_block(max_events)
        if not seqs:
            assert b is None
            return
        self.check_block(b, seqs)
        if item:          # an Event taken from the block lives on its own; dropped at once
            i = data.draw(st.integers(0, len(seqs) - 1), label="item")
            self.check_event(b[i], seqs[i])
        if keep and self.kept_count() < 4:
            self.kept_blocks.append((b, m, seqs))
            m.current += seqs
        elif how == "release":
            b.release()
        elif how == "with":
            with b:
                pass

    @precondition(lambda self: self.kept_blocks)
    @rule(data=st.data(), how=st.sampled_from(["release", "with", "drop"]))
    def drop_kept_block(self, data, how):
        """A kept block still shows what was written, then its pins go with it."""
        i = data.draw(st.integers(0, len(self.kept_blocks) - 1), label="kept block")
        b, m, seqs = self.kept_blocks.pop(i)
        self.check_block(b, seqs)
        if how == "release":
            b.release()
        elif how == "with":
            with b:
                pass
        del b
        for seq in seqs:
            self.model.drop_kept(m, seq)

    @precondition(lambda self: self.kept)
    @rule(data=st.data())
    def drop_kept_event(self, data):
        """A kept event still reads what was written, then its pin goes with it."""
        i = data.draw(st.integers(0, len(self.kept) - 1), label="kept")
        ev, m = self.kept.pop(i)
        seq = ev.sequence
        self.check_event(ev, seq)
        del ev
        self.model.drop_kept(m, seq)

    @precondition(has_readers)
    @rule(data=st.data(), how=st.sampled_from(["close", "drop", "with"]))
    def close_reader(self, data, how):
        i, reader, m = self.pick_reader(data)
        self.readers[i] = (None, m)
        if how == "close":
            reader.close()
            with pytest.raises(rr.RingClosed):
                reader.next()
        elif how == "with":
            with reader:
                pass
        del reader          # "drop": the last reference goes (kept events keep it alive)
        self.model.close_reader(m, dropped=how == "drop")

    @precondition(lambda self: not self.model.closed)
    @rule()
    def close_ring(self):
        self.ring.close()
        self.model.closed = True
        with pytest.raises(rr.RingClosed):
            self.ring.reader()

    # -- after every step

    @invariant()
    def figures_match_the_model(self):
        if self.ring is None:
            return
        m = self.model
        assert self.ring.published == m.head
        assert self.ring.closed == m.closed
        stats = self.ring.stats()
        registered = [r for r in m.table if r is not None]
        assert stats["published"] == m.head
        assert stats["writer_stalls"] == m.stalls
        assert stats["abandoned"] == m.abandoned
        assert stats["writers"] == 1
        assert stats["closed"] == m.closed
        assert stats["reader_count"] == len(registered)
        expected = [(r.index, r.pos, max(m.head - r.pos, 0), m.pinned(r), r.lost) for r in registered]
        got = [(e["index"], e["cursor"], e["lag"], e["pinned"], e["lost"]) for e in stats["readers"]]
        assert got == expected
        ratios = [m.ratio(r) for r in registered]
        assert [e["backpressure"] for e in stats["readers"]] == pytest.approx(ratios)
        assert stats["max_backpressure"] == pytest.approx(max(ratios, default=0.0))
        for _, reader, r in self.live_readers():
            lag = max(m.head - r.pos, 0)
            assert (reader.cursor, reader.lag, reader.pinned, reader.lost, reader.delivered) == \
                (r.pos, lag, m.pinned(r), r.lost, r.delivered)
            assert reader.backpressure_ratio() == pytest.approx(m.ratio(r))
            # the accounting identity of the header: nothing is passed over uncounted
            assert r.delivered + r.lost == r.pos - r.start
            if not m.overwrite:
                assert r.lost == 0

    def teardown(self):
        self.kept_blocks.clear()
        self.kept.clear()
        self.readers.clear()


class BackpressureMachine(RingMachine):
    mode = "backpressure"


class OverwriteMachine(RingMachine):
    mode = "overwrite"


_settings = settings(max_examples=max(10, int(60 * SCALE)), stateful_step_count=40,
                     deadline=None, suppress_health_check=[HealthCheck.too_slow])

TestBackpressureRingMatchesTheModel = BackpressureMachine.TestCase
TestBackpressureRingMatchesTheModel.settings = _settings
TestOverwriteRingMatchesTheModel = OverwriteMachine.TestCase
TestOverwriteRingMatchesTheModel.settings = _settings


# ---- the model's corner cases, stated directly -------------------------------------------

def test_oldest_reader_with_nobody_registered_may_start_up_to_a_lap_late():
    """The writer refreshed its limit with no reader registered, so it may overwrite
    up to a lap past what was published; an "oldest" reader starts after that."""
    ring = rr.Ring(8, 4)
    w = ring.writer()
    w.add(b"a")                        # limit becomes head + capacity = 4
    r = ring.reader("oldest")
    assert r.cursor == 0                # limit - capacity == 0: nothing lost yet
    r.close()
    for _ in range(3):
        w.add(b"b")                     # within the limit: no refresh
    assert w.try_add(b"c") is True      # refresh with no reader: limit = 4 + 4
    r = ring.reader("oldest")
    assert r.cursor == 4 and r.lag == 1
    assert bytes(r.next()) == b"c"


def test_kept_backpressure_event_pins_its_slot_until_dropped():
    ring = rr.Ring(8, 2)
    w, r = ring.writer(), ring.reader()
    w.add(b"first")
    w.add(b"second")
    kept = r.next()
    assert r.next().sequence == 1
    assert r.next() is None              # the reader moved on; `kept` is held
    assert w.try_add(b"third") is False  # slot 0 is still `kept`'s
    assert bytes(kept) == b"first"
    del kept
    assert w.try_add(b"third") is True
    assert w.try_add(b"fourth") is True
    assert w.try_add(b"fifth") is False


def test_lapped_overwrite_reader_skips_further_each_time_it_is_lapped_again():
    ring = rr.Ring(8, 8, mode="overwrite")
    w, r = ring.writer(), ring.reader()
    for i in range(20):
        w.add(bytes([i]))
    ev = r.next()                      # lapped: resumes at the oldest intact event
    assert (ev.sequence, r.lost) == (12, 12)
    del ev
    for i in range(20, 40):
        w.add(bytes([i]))
    ev = r.next()                      # lapped again before catching up: one further
    assert (ev.sequence, r.lost) == (33, 12 + 20)
    assert r.delivered + r.lost == r.cursor
