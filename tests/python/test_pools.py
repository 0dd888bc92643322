"""The seed's pool names: sizes, presets, configure_pools, the factory, pooled events, emit.

The default pools are process-wide and cannot be resized once they exist, so
every test that touches them runs its body in a fresh interpreter
(`run_fresh`); the rest use rings of their own.
"""


import pytest

import rusted_ring as rr

from fresh import run_fresh  # noqa: E402




PRODUCTION = {"XS": 2000, "S": 1000, "M": 300, "L": 60, "XL": 15}
MOBILE = {"XS": 500, "S": 250, "M": 100, "L": 20, "XL": 5}
HIGH_THROUGHPUT = {"XS": 4000, "S": 2000, "M": 600, "L": 120, "XL": 30}


# ---- sizes -----------------------------------------------------------------------------

def test_event_size_and_pool_id_number_the_tshirt_sizes_from_zero():
    assert [(s.name, int(s)) for s in rr.EventSize] == [
        ("XS", 0), ("S", 1), ("M", 2), ("L", 3), ("XL", 4), ("XXL", 5)]
    assert [(p.name, int(p)) for p in rr.PoolId] == [
        ("XS", 0), ("S", 1), ("M", 2), ("L", 3), ("XL", 4)]


def test_pool_slot_sizes_are_the_seeds():
    assert [p.slot_size for p in rr.PoolId] == [64, 256, 1024, 4096, 16384]
    assert [s.slot_size for s in rr.EventSize] == [64, 256, 1024, 4096, 16384, None]
    assert rr.EventSize.M.pool_id is rr.PoolId.M
    assert rr.EventSize.XXL.pool_id is None


@pytest.mark.parametrize("n, size", [
    (0, "XS"), (1, "XS"), (64, "XS"), (65, "S"), (256, "S"), (257, "M"), (1024, "M"),
    (1025, "L"), (4096, "L"), (4097, "XL"), (16384, "XL"), (16385, "XXL"), (10**9, "XXL"),
])
def test_estimate_size_picks_the_smallest_size_that_fits(n, size):
    assert rr.EventPoolFactory.estimate_size(n) is rr.EventSize[size]
    assert rr.estimate_size(n) is rr.EventSize[size]
    expected_pool = None if size == "XXL" else rr.PoolId[size]
    assert rr.EventPoolFactory.estimate_pool_id(n) is expected_pool
    assert rr.estimate_pool_id(n) is expected_pool


def test_estimate_rejects_negative_and_non_int_lengths():
    with pytest.raises(ValueError, match="-1"):
        rr.estimate_size(-1)
    with pytest.raises(ValueError):
        rr.estimate_pool_id(-5)
    with pytest.raises(TypeError):
        rr.estimate_size(1.5)
    with pytest.raises(TypeError):
        rr.estimate_pool_id("64")


def test_pool_id_coerce_accepts_ids_ints_and_names_and_rejects_the_rest():
    assert rr.PoolId.coerce(rr.PoolId.L) is rr.PoolId.L
    assert rr.PoolId.coerce(2) is rr.PoolId.M
    assert rr.PoolId.coerce("xl") is rr.PoolId.XL
    with pytest.raises(ValueError, match="0..4"):
        rr.PoolId.coerce(5)
    with pytest.raises(ValueError, match="XXL"):
        rr.PoolId.coerce("XXL")
    with pytest.raises(TypeError):
        rr.PoolId.coerce(1.0)
    with pytest.raises(TypeError):
        rr.PoolId.coerce(True)


# ---- PooledEvent / EventUtils -------------------------------------------------------------

def test_pooled_event_keeps_a_copy_of_its_data_type_and_slot_size():
    src = bytearray(b"stroke")
    ev = rr.EventUtils.create_pooled_event(src, 7, 256)
    src[0:1] = b"X"
    assert ev.data == b"stroke" and isinstance(ev.data, bytes)
    assert (ev.event_type, ev.size, ev.len, len(ev), bytes(ev)) == (7, 256, 6, 6, b"stroke")
    assert isinstance(ev, rr.PooledEvent)


def test_pooled_event_defaults_to_a_64_byte_slot_and_accepts_exactly_that_much():
    ev = rr.EventUtils.create_pooled_event(b"x" * 64, 1)
    assert ev.size == 64 and ev.len == 64
    rr.PooledEvent(memoryview(b"y" * 64), 1)


def test_pooled_event_larger_than_its_slot_raises_data_too_large_naming_both_sizes():
    with pytest.raises(rr.DataTooLarge) as info:
        rr.EventUtils.create_pooled_event(b"x" * 65, 1)
    assert "65" in str(info.value) and "64" in str(info.value)
    assert isinstance(info.value, rr.RingError) and isinstance(info.value, ValueError)
    with pytest.raises(rr.DataTooLarge, match="1025.*1024"):
        rr.PooledEvent(b"z" * 1025, 1, size=1024)


def test_pooled_event_rejects_bad_types_and_values():
    with pytest.raises(TypeError, match="str"):
        rr.PooledEvent("text", 1)
    with pytest.raises(TypeError):
        rr.PooledEvent(12345, 1)
    with pytest.raises(TypeError):
        rr.PooledEvent(b"x", 1.0)
    with pytest.raises(ValueError):
        rr.PooledEvent(b"x", -1)
    with pytest.raises(ValueError):
        rr.PooledEvent(b"x", 2**32)
    assert rr.PooledEvent(b"x", 2**32 - 1).event_type == 2**32 - 1
    with pytest.raises(ValueError):
        rr.PooledEvent(b"x", 1, size=0)
    with pytest.raises(ValueError):
        rr.PooledEvent(b"x", 1, size=-64)
    with pytest.raises(TypeError):
        rr.PooledEvent(b"x", 1, size="64")


def test_pooled_event_is_immutable_and_compares_by_value():
    ev = rr.PooledEvent(b"abc", 3, 64)
    with pytest.raises(AttributeError):
        ev.event_type = 4
    with pytest.raises(AttributeError):
        ev.data = b"zzz"
    assert ev == rr.PooledEvent(b"abc", 3, 64)
    assert ev != rr.PooledEvent(b"abc", 4, 64)
    assert len({ev, rr.PooledEvent(b"abc", 3, 64)}) == 1
    assert "len=3" in repr(ev) and "event_type=3" in repr(ev)


def test_writer_add_takes_a_pooled_event_with_its_type():
    ring = rr.Ring(64, 8)
    w, r = ring.writer(), ring.reader()
    w.add(rr.EventUtils.create_pooled_event(b"cursor", 42))
    w.add(rr.PooledEvent(b"beat", 9), 10)  # an explicit type wins
    first, second = r.next(), r.next()
    assert (bytes(first), first.event_type) == (b"cursor", 42)
    assert (bytes(second), second.event_type) == (b"beat", 10)


@pytest.mark.parametrize("n, pool", [(0, "XS"), (64, "XS"), (200, "S"), (1000, "M"),
                                     (4096, "L"), (16384, "XL")])
def test_auto_sized_event_goes_to_the_smallest_pool_that_fits(n, pool):
    auto = rr.EventUtils.create_auto_sized_event(b"a" * n, 5)
    assert isinstance(auto, rr.AutoSizedEvent) and isinstance(auto, rr.PooledEvent)
    assert auto.pool_id is rr.PoolId[pool]
    assert (auto.len, auto.event_type, auto.size) == (n, 5, rr.PoolId[pool].slot_size)
    assert auto.data == b"a" * n


def test_auto_sized_event_above_16384_bytes_raises_data_too_large_naming_both_sizes():
    with pytest.raises(rr.DataTooLarge) as info:
        rr.EventUtils.create_auto_sized_event(b"a" * 16385, 5)
    assert "16385" in str(info.value) and "16384" in str(info.value)


# ---- configure_pools ----------------------------------------------------------------------

def test_presets_are_the_seeds_three():
    assert rr.PRESETS == ("production", "mobile", "high_throughput")


@pytest.mark.parametrize("bad, error, text", [
    ("enormous", ValueError, "production"),
    ({"XXL": 10}, ValueError, "XXL"),
    ({"XS": 0}, ValueError, ">= 1"),
    ({"S": -3}, ValueError, ">= 1"),
    ({"XS": "4000"}, TypeError, "int"),
    ({"XS": 40.0}, TypeError, "int"),
    ({"XS": True}, TypeError, "int"),
    ({3.5: 10}, TypeError, "pool"),
    ([1, 2, 3], ValueError, "5"),
    (4000, TypeError, "preset"),
    (None, TypeError, "preset"),
])
def test_configure_pools_rejects_bad_configurations_with_a_clear_message(bad, error, text):
    before = rr.pools_config()
    with pytest.raises(error, match=text):
        rr.configure_pools(bad)
    assert rr.pools_config() == before


def test_pools_default_to_the_production_preset():
    out = run_fresh("""
        assert rr.pools_config() == %r, rr.pools_config()
        assert rr.EventPoolFactory.get_xs_writer().ring.capacity == 2000
        print("ok")
    """ % PRODUCTION)
    assert out.strip() == "ok"


@pytest.mark.parametrize("preset, expected", [("production", PRODUCTION), ("mobile", MOBILE),
                                              ("high_throughput", HIGH_THROUGHPUT)])
def test_configure_pools_with_a_preset_sizes_every_pool(preset, expected):
    run_fresh(f"""
        assert rr.configure_pools({preset!r}) == {expected!r}
        F = rr.EventPoolFactory
        rings = [F.get_xs_writer().ring, F.get_s_writer().ring, F.get_m_writer().ring,
                 F.get_l_writer().ring, F.get_xl_writer().ring]
        assert [r.capacity for r in rings] == {list(expected.values())!r}
        assert [r.slot_size for r in rings] == [64, 256, 1024, 4096, 16384]
    """)


def test_configure_pools_with_a_dict_keeps_the_pools_it_does_not_name():
    run_fresh("""
        cfg = rr.configure_pools({"XS": 4000, rr.PoolId.L: 7, 4: 3})
        assert cfg == {"XS": 4000, "S": 1000, "M": 300, "L": 7, "XL": 3}, cfg
        cfg = rr.configure_pools({"s": 11})
        assert cfg == {"XS": 4000, "S": 11, "M": 300, "L": 7, "XL": 3}, cfg
        assert rr.EventPoolFactory.get_l_reader().ring.capacity == 7
        assert rr.EventPoolFactory.get_writer("S").ring.capacity == 11
    """)


def test_configure_pools_accepts_five_capacities_and_round_trips_pools_config():
    run_fresh("""
        rr.configure_pools([1, 2, 3, 4, 5])
        assert rr.pools_config() == {"XS": 1, "S": 2, "M": 3, "L": 4, "XL": 5}
        rr.configure_pools(rr.pools_config())
        assert rr.EventPoolFactory.get_m_writer().ring.capacity == 3
    """)


def test_configure_pools_after_the_pools_exist_raises_and_changes_nothing():
    run_fresh("""
        rr.EventPoolFactory.get_xs_writer()
        try:
            rr.configure_pools("mobile")
        except rr.RingError as e:
            assert str(e), "the error should say why"
        else:
            raise AssertionError("configure_pools succeeded on live pools")
        assert rr.pools_config()["XS"] == 2000
        assert rr.EventPoolFactory.get_s_writer().ring.capacity == 1000
    """)


# ---- the factory ---------------------------------------------------------------------------

def test_factory_rings_are_overwrite_mode_multi_producer_and_shared():
    run_fresh("""
        F = rr.EventPoolFactory
        for pool in rr.PoolId:
            ring = F.get_ring(pool)
            assert (ring.mode, ring.producers) == ("overwrite", "multi"), (pool, ring.mode)
            assert ring.slot_size == pool.slot_size
        w1, w2 = F.get_xs_writer(), F.get_xs_writer()   # no WriterBusy: multi-producer
        w1.add(b"one", 1); w2.add(b"two", 2)
        r = F.get_xs_reader()
        assert [(bytes(e), e.event_type) for e in r] == [(b"one", 1), (b"two", 2)]
    """)


def test_factory_getters_reach_the_pool_of_their_size():
    run_fresh("""
        F = rr.EventPoolFactory
        getters = [(F.get_xs_writer, F.get_xs_reader), (F.get_s_writer, F.get_s_reader),
                   (F.get_m_writer, F.get_m_reader), (F.get_l_writer, F.get_l_reader),
                   (F.get_xl_writer, F.get_xl_reader)]
        for pool, (gw, gr) in zip(rr.PoolId, getters):
            r = gr()
            gw().add(b"p" * pool.slot_size, int(pool))
            ev = r.next()
            assert ev is not None and ev.event_type == int(pool) and len(ev) == pool.slot_size
            try:
                gw().add(b"p" * (pool.slot_size + 1))
            except rr.DataTooLarge:
                pass
            else:
                raise AssertionError("oversized payload accepted by pool %s" % pool.name)
            assert F.get_writer(pool).ring.slot_size == F.get_reader(int(pool)).ring.slot_size
    """)


def test_pool_reader_starts_at_the_oldest_retained_event_or_latest_on_request():
    run_fresh("""
        rr.configure_pools({"XS": 4})
        F = rr.EventPoolFactory
        early = F.get_xs_reader()
        w = F.get_xs_writer()
        for i in range(10):
            w.add(bytes([i]), i)
        # A reader made now sees what the pool still holds: the last 4 events.
        late = F.get_xs_reader()
        assert [e.event_type for e in late] == [6, 7, 8, 9]
        assert [e.event_type for e in F.get_reader("XS")] == [6, 7, 8, 9]
        latest = F.get_xs_reader(start="latest")
        assert latest.next() is None
        w.add(b"new", 10)
        assert latest.next().event_type == 10
        # The reader made before the writes was lapped: it skips and counts what it lost.
        seen = [e.event_type for e in early]
        assert seen == sorted(seen) and seen[-1] == 10, seen
        assert early.delivered + early.lost == 11, (early.delivered, early.lost)
        assert early.lost >= 6
    """)


def test_factory_rejects_unknown_pools():
    with pytest.raises(ValueError):
        rr.EventPoolFactory.get_writer(7)
    with pytest.raises(ValueError):
        rr.EventPoolFactory.get_reader("XXL")
    with pytest.raises(TypeError):
        rr.EventPoolFactory.get_ring(None)


def test_pool_writers_from_many_threads_lose_nothing_that_fits():
    run_fresh("""
        import struct, threading
        rr.configure_pools({"XS": 40000})
        r = rr.EventPoolFactory.get_xs_reader()
        N, T = 5000, 4
        def produce(t):
            w = rr.EventPoolFactory.get_xs_writer()
            for i in range(N):
                w.add(struct.pack("<II", t, i), t)
        threads = [threading.Thread(target=produce, args=(t,)) for t in range(T)]
        for th in threads: th.start()
        for th in threads: th.join(60)
        assert not any(th.is_alive() for th in threads)
        nxt = [0] * T
        for ev in r:
            t, i = struct.unpack("<II", bytes(ev))
            assert ev.event_type == t and i == nxt[t], (t, i, nxt[t])
            nxt[t] += 1
        assert nxt == [N] * T and r.lost == 0, (nxt, r.lost)
    """)


# ---- emit ----------------------------------------------------------------------------------

def test_emit_publishes_into_the_smallest_pool_and_returns_its_id():
    run_fresh("""
        F = rr.EventPoolFactory
        readers = [F.get_reader(p) for p in rr.PoolId]
        assert rr.emit(b"a" * 10, 1) is rr.PoolId.XS
        assert rr.emit(b"b" * 100, 2) is rr.PoolId.S
        assert rr.emit(bytearray(b"c" * 5000), 3) is rr.PoolId.XL
        assert rr.emit(rr.PooledEvent(b"d" * 2000, 4, 4096)) is rr.PoolId.L
        got = [[(len(e), e.event_type) for e in r] for r in readers]
        assert got == [[(10, 1)], [(100, 2)], [], [(2000, 4)], [(5000, 3)]], got
        try:
            rr.emit(b"x" * 16385, 1)
        except rr.DataTooLarge as e:
            assert "16385" in str(e) and "16384" in str(e), str(e)
        else:
            raise AssertionError("oversized emit accepted")
    """)


def test_emit_to_ring_returns_the_sequence_in_its_pool():
    run_fresh("""
        r = rr.EventPoolFactory.get_s_reader()
        U = rr.EventUtils
        seqs = [U.create_auto_sized_event(b"s" * 100, i).emit_to_ring() for i in range(3)]
        assert seqs == [0, 1, 2], seqs
        assert [(e.sequence, e.event_type, bytes(e)) for e in r] == [
            (i, i, b"s" * 100) for i in range(3)]
        assert rr.EventPoolFactory.get_xs_writer().ring.published == 0
    """)
