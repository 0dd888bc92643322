/*
 * test_unit.c — unit tests for every public function of rusted_ring.h.
 *
 * Each test builds its own ring and checks one behaviour of the header's
 * contract, error paths included. Single-threaded except where a test needs a
 * second thread to show that rr_last_error() is per thread.
 */
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "layout.h"

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define SP RR_PRODUCERS_SINGLE
#define MP RR_PRODUCERS_MULTI

/* ---- helpers ---------------------------------------------------------------- */

static rr_config config(size_t slot, uint64_t cap, rr_mode mode, rr_producers prod)
{
    rr_config c = { .slot_size = slot, .capacity = cap, .mode = mode, .producers = prod };
    return c;
}

/* A heap ring, or NULL when creation fails. */
static rr_ring *ring_new(size_t slot, uint64_t cap, rr_mode mode, rr_producers prod)
{
    rr_config c = config(slot, cap, mode, prod);
    rr_ring *ring = NULL;
    if (rr_ring_create(&c, &ring) != RR_OK) return NULL;
    return ring;
}

static rr_writer *writer_new(rr_ring *ring)
{
    rr_writer *w = NULL;
    return rr_writer_open(ring, &w) == RR_OK ? w : NULL;
}

static rr_reader *reader_new(rr_ring *ring, rr_start start)
{
    rr_reader *r = NULL;
    return rr_reader_open(ring, start, &r) == RR_OK ? r : NULL;
}

/* Publish a self-checking payload of `len` (16..256) bytes that carries `seq`. */
static rr_status add_seq(rr_writer *w, size_t len, uint64_t seq, int64_t timeout)
{
    unsigned char buf[256];
    payload_fill(buf, len, seq, 0);
    return rr_writer_add(w, buf, len, 0, NULL, timeout);
}

/* 1 when `ev` is intact and carries its own sequence. */
static int event_ok(const rr_event *ev)
{
    uint64_t s = UINT64_MAX;
    return payload_ok(ev->data, ev->len, 0, &s) && s == ev->sequence;
}

static void teardown(rr_ring *ring, rr_writer *w, rr_reader *r)
{
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ---- footprint ------------------------------------------------------------------ */

TEST(test_footprint_is_zero_for_invalid_configs)
{
    rr_config c = config(64, 0, BP, SP);
    CHECK_EQ(rr_ring_footprint(&c), 0);
    c = config(0, 16, BP, SP);
    CHECK_EQ(rr_ring_footprint(&c), 0);
    c = config((size_t)RR_MAX_SLOT_SIZE + 1, 16, BP, SP);
    CHECK_EQ(rr_ring_footprint(&c), 0);
    c = config(64, 16, (rr_mode)2, SP);
    CHECK_EQ(rr_ring_footprint(&c), 0);
    c = config(64, 16, BP, (rr_producers)2);
    CHECK_EQ(rr_ring_footprint(&c), 0);
}

TEST(test_footprint_covers_every_payload_slot)
{
    rr_config small = config(64, 16, BP, SP), big = config(64, 2000, OW, MP);
    size_t fs = rr_ring_footprint(&small), fb = rr_ring_footprint(&big);
    CHECK(fs >= 16 * 64);
    CHECK(fb >= 2000 * 64);
    CHECK(fb > fs);
    rr_config one = config(1, 1, BP, SP);
    CHECK(rr_ring_footprint(&one) > 0);
    rr_config max = config(RR_MAX_SLOT_SIZE, 1, BP, SP);
    CHECK(rr_ring_footprint(&max) >= RR_MAX_SLOT_SIZE);
}

/* Slots of up to 48 bytes carry their metadata beside the payload, in a
 * stride of 32 or 64 bytes: a payload filled to its last byte must leave its
 * own and its neighbours' length, type and stamp alone, at every size around
 * the boundaries, in both modes, across the ring's end. */
TEST(test_small_slots_keep_payload_and_metadata_apart_at_every_size)
{
    static const size_t sizes[] = { 1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int m = 0; m < 2; m++) {
            size_t slot = sizes[k];
            rr_ring *ring = ring_new(slot, 5, m ? OW : BP, SP);
            CHECK(ring);
            rr_writer *w = writer_new(ring);
            rr_reader *r = reader_new(ring, RR_START_OLDEST);
            CHECK(w && r);
            for (uint64_t s = 0; s < 12; s++) {
                unsigned char buf[65];
                memset(buf, 0xFF, sizeof buf);
                memcpy(buf, &s, slot < 8 ? slot : 8);
                CHECK_ST(rr_writer_add(w, buf, slot, (uint32_t)(1000 + s), NULL, 0), RR_OK);
                rr_event ev;
                CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
                uint64_t got = 0;
                memcpy(&got, ev.data, slot < 8 ? slot : 8);
                uint64_t want = slot < 8 ? s & ((UINT64_C(1) << (8 * slot)) - 1) : s;
                CHECK(ev.sequence == s && ev.len == slot && ev.event_type == 1000 + s);
                CHECK_EQ(got, want);
                for (size_t i = 8; i < slot; i++) CHECK_EQ(((const unsigned char *)ev.data)[i], 0xFF);
            }
            rr_config c = config(slot, 5, m ? OW : BP, SP);
            size_t stride = slot + 16 <= 32 ? 32 : slot + 16 <= 64 ? 64 : (slot + 63) / 64 * 64;
            size_t meta = slot <= 48 ? 0 : round64(5 * 16);   /* its own array, or none */
            /* the header (896 B) and the reader table (64 entries of two lines),
             * then the slots, in whole cache lines */
            CHECK_EQ(rr_ring_footprint(&c), 896 + 64 * 128 + meta + round64(5 * stride));
            teardown(ring, w, r);
        }
    }
}

/* rr__mod (layout.h) finds a sequence's slot by a multiplication: it must be
 * n % capacity exactly, for capacities of every shape (powers of two, their
 * neighbours, the pools' 2000 / 300 / 15, primes, the largest allowed) and
 * sequences of every size up to 2^64 - 1. */
TEST(test_slot_index_without_division_is_the_remainder_for_every_capacity)
{
    uint64_t caps[200];
    size_t nc = 0;
    for (uint64_t d = 1; d <= 70; d++) caps[nc++] = d;
    static const uint64_t more[] = { 300, 1000, 2000, 4095, 4096, 4097, 65535, 65537,
                                     1000003, UINT64_C(0xFFFFFFFF), UINT64_C(0x100000001),
                                     RR_MAX_CAPACITY - 1, RR_MAX_CAPACITY, 6700417,
                                     UINT64_C(1) << 39 | 12345 };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) caps[nc++] = more[i];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t k = 0; k < nc; k++) {
        rr_ring fake;
        memset(&fake, 0, sizeof fake);
        fake.capacity = caps[k];
        rr__mod_init(&fake);
        uint64_t d = caps[k];
        const uint64_t edges[] = { 0, 1, d - 1, d, d + 1, 2 * d - 1, 2 * d, UINT64_MAX,
                                   UINT64_MAX - 1, UINT64_MAX / d * d, UINT64_MAX / d * d - 1,
                                   UINT64_C(1) << 63, (UINT64_C(1) << 63) - 1 };
        for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
            CHECK_EQ(rr__mod(&fake, edges[e]), edges[e] % d);
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            uint64_t n = i % 3 == 0 ? x : i % 3 == 1 ? x >> (x % 64) : x % (d * 4 + 1);
            if (rr__mod(&fake, n) != n % d) {
                fprintf(stderr, "capacity %" PRIu64 ", n %" PRIu64 ": %" PRIu64 " != %" PRIu64 "\n",
                        d, n, rr__mod(&fake, n), n % d);
                CHECK(0);
            }
        }
    }
}

TEST(test_capacity_is_never_rounded)
{
    static const uint64_t caps[] = { 2000, 15, 1, 3 };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        rr_ring *ring = ring_new(64, caps[i], i % 2 ? OW : BP, SP);
        CHECK(ring);
        CHECK_EQ(rr_ring_capacity(ring), caps[i]);
        rr_ring_stats st;
        CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
        CHECK_EQ(st.capacity, caps[i]);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
    }
}

/* Capacity 15 is not a power of two: slot indexing must still be s mod 15. */
TEST(test_odd_capacity_overwrite_ring_keeps_every_payload_intact)
{
    rr_ring *ring = ring_new(64, 15, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < 40; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    rr_event ev;
    for (uint64_t s = 25; s < 40; s++) {
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, s);
        CHECK(event_ok(&ev));
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_one_byte_slot_carries_one_byte)
{
    rr_ring *ring = ring_new(1, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    CHECK_EQ(rr_ring_slot_size(ring), 1);
    CHECK_ST(rr_writer_add(w, "x", 1, 3, NULL, 0), RR_OK);
    CHECK_ST(rr_writer_add(w, "xy", 2, 3, NULL, 0), RR_TOO_LARGE);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.len, 1);
    CHECK_EQ(ev.event_type, 3);
    CHECK_EQ(((const char *)ev.data)[0], 'x');
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

static void one_mib_round_trip(rr_mode mode)
{
    const size_t mib = 1u << 20;
    rr_ring *ring = ring_new(mib, 2, mode, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    unsigned char *buf = malloc(mib);
    CHECK(w && r && buf);
    payload_fill(buf, mib, 7, 99);
    uint64_t seq = 1;
    CHECK_ST(rr_writer_add(w, buf, mib, 5, &seq, 0), RR_OK);
    CHECK_EQ(seq, 0);
    memset(buf, 0, mib); /* the ring must hold its own copy */
    rr_event ev;
    uint64_t got = 0;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.len, mib);
    CHECK(payload_ok(ev.data, ev.len, 99, &got));
    CHECK_EQ(got, 7);
    free(buf);
    teardown(ring, w, r);
}

TEST(test_one_mib_slot_round_trips_a_full_payload_backpressure) { one_mib_round_trip(BP); }
TEST(test_one_mib_slot_round_trips_a_full_payload_overwrite) { one_mib_round_trip(OW); }

/* ---- create --------------------------------------------------------------------- */

TEST(test_capacity_zero_is_invalid)
{
    rr_config c = config(64, 0, BP, SP);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_create(&c, &ring), RR_INVALID);
    CHECK(ring == NULL);
    const char *msg = rr_last_error();
    CHECK(msg && msg[0]);
    CHECK(strstr(msg, "capacity"));
}

TEST(test_slot_size_zero_is_invalid)
{
    rr_config c = config(0, 8, BP, SP);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_create(&c, &ring), RR_INVALID);
    const char *msg = rr_last_error();
    CHECK(msg && msg[0]);
    CHECK(strstr(msg, "slot"));
}

TEST(test_slot_size_above_maximum_is_invalid)
{
    rr_config c = config((size_t)RR_MAX_SLOT_SIZE + 1, 1, BP, SP);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_create(&c, &ring), RR_INVALID);
    CHECK(rr_last_error()[0]);
}

TEST(test_bad_mode_or_producers_is_invalid)
{
    rr_config c = config(64, 8, (rr_mode)7, SP);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_create(&c, &ring), RR_INVALID);
    c = config(64, 8, BP, (rr_producers)7);
    CHECK_ST(rr_ring_create(&c, &ring), RR_INVALID);
}

TEST(test_create_with_null_arguments_is_invalid)
{
    rr_config c = config(64, 8, BP, SP);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_create(NULL, &ring), RR_INVALID);
    CHECK_ST(rr_ring_create(&c, NULL), RR_INVALID);
}

/* ---- format / attach ------------------------------------------------------------- */

TEST(test_format_on_caller_memory_gives_a_working_ring)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_format(mem, fp, &c, &ring), RR_OK);
    CHECK_EQ(rr_ring_memory_bytes(ring), fp);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(event_ok(&ev));
    rr_writer_close(w);
    rr_reader_close(r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    free(mem);
}

TEST(test_format_with_short_length_is_invalid)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_format(mem, fp - 1, &c, &ring), RR_INVALID);
    CHECK_ST(rr_ring_format(mem, 0, &c, &ring), RR_INVALID);
    free(mem);
}

TEST(test_format_on_misaligned_memory_is_invalid)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    unsigned char *mem = aligned_alloc(64, round64(fp + 64));
    CHECK(mem);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_format(mem + 8, fp, &c, &ring), RR_INVALID);
    free(mem);
}

TEST(test_format_with_bad_arguments_is_invalid)
{
    rr_config c = config(64, 8, BP, SP), bad = config(64, 0, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_format(NULL, fp, &c, &ring), RR_INVALID);
    CHECK_ST(rr_ring_format(mem, fp, NULL, &ring), RR_INVALID);
    CHECK_ST(rr_ring_format(mem, fp, &c, NULL), RR_INVALID);
    CHECK_ST(rr_ring_format(mem, fp, &bad, &ring), RR_INVALID);
    free(mem);
}

TEST(test_attached_handle_sees_the_same_events)
{
    rr_config c = config(64, 8, OW, MP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    rr_ring *a = NULL, *b = NULL;
    CHECK_ST(rr_ring_format(mem, fp, &c, &a), RR_OK);
    CHECK_ST(rr_ring_attach(mem, fp, &b), RR_OK);
    CHECK(a != b);
    CHECK_EQ(rr_ring_capacity(b), 8);
    CHECK_EQ(rr_ring_slot_size(b), 64);
    CHECK_EQ(rr_ring_mode(b), OW);
    CHECK_EQ(rr_ring_producers(b), MP);
    rr_writer *wa = writer_new(a), *wb = writer_new(b);
    rr_reader *ra = reader_new(a, RR_START_OLDEST), *rb = reader_new(b, RR_START_OLDEST);
    CHECK(wa && wb && ra && rb);
    CHECK_ST(add_seq(wa, 64, 0, 0), RR_OK);
    CHECK_ST(add_seq(wb, 64, 1, 0), RR_OK);
    CHECK_EQ(rr_ring_published(b), 2);
    rr_event ev;
    for (uint64_t s = 0; s < 2; s++) {
        CHECK_ST(rr_reader_next(rb, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, s);
        CHECK(event_ok(&ev));
        CHECK_ST(rr_reader_next(ra, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, s);
        CHECK(event_ok(&ev));
    }
    CHECK_ST(rr_ring_close(a), RR_OK);
    CHECK(rr_ring_closed(b));
    CHECK_ST(add_seq(wb, 64, 2, 0), RR_CLOSED);
    CHECK_ST(rr_reader_next(rb, &ev, 0), RR_CLOSED);
    rr_writer_close(wa); rr_writer_close(wb);
    rr_reader_close(ra); rr_reader_close(rb);
    CHECK_ST(rr_ring_destroy(b), RR_OK);
    CHECK_ST(rr_ring_destroy(a), RR_OK);
    free(mem);
}

TEST(test_attach_on_zeroed_memory_is_shm_invalid)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    memset(mem, 0, round64(fp));
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_attach(mem, fp, &ring), RR_SHM_INVALID);
    CHECK(rr_last_error()[0]);
    free(mem);
}

TEST(test_attach_on_garbage_is_shm_invalid)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    unsigned char *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    uint32_t x = 0x12345678u;
    for (size_t i = 0; i < round64(fp); i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        mem[i] = (unsigned char)x;
    }
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_attach(mem, fp, &ring), RR_SHM_INVALID);
    memset(mem, 0xA5, round64(fp));
    CHECK_ST(rr_ring_attach(mem, fp, &ring), RR_SHM_INVALID);
    free(mem);
}

TEST(test_attach_with_short_length_is_shm_invalid)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    rr_ring *a = NULL, *b = NULL;
    CHECK_ST(rr_ring_format(mem, fp, &c, &a), RR_OK);
    CHECK_ST(rr_ring_attach(mem, fp - 1, &b), RR_SHM_INVALID);
    CHECK_ST(rr_ring_attach(mem, 8, &b), RR_SHM_INVALID);
    CHECK_ST(rr_ring_attach(mem, 0, &b), RR_SHM_INVALID);
    CHECK_ST(rr_ring_destroy(a), RR_OK);
    free(mem);
}

TEST(test_attach_with_null_arguments_is_invalid)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    rr_ring *a = NULL, *b = NULL;
    CHECK_ST(rr_ring_format(mem, fp, &c, &a), RR_OK);
    CHECK_ST(rr_ring_attach(NULL, fp, &b), RR_INVALID);
    CHECK_ST(rr_ring_attach(mem, fp, NULL), RR_INVALID);
    CHECK_ST(rr_ring_destroy(a), RR_OK);
    free(mem);
}

/* The block outlives the handle: re-attaching finds the events; free() is ours. */
TEST(test_destroy_of_formatted_ring_leaves_caller_memory_alone)
{
    rr_config c = config(64, 8, BP, SP);
    size_t fp = rr_ring_footprint(&c);
    void *mem = aligned_alloc(64, round64(fp));
    CHECK(mem);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_format(mem, fp, &c, &ring), RR_OK);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < 3; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    CHECK_ST(rr_ring_attach(mem, fp, &ring), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 3);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK(event_ok(&ev));
    rr_reader_close(r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    free(mem);
}

/* ---- destroy ----------------------------------------------------------------------- */

TEST(test_destroy_with_open_writer_is_in_use_and_ring_still_works)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    CHECK_ST(rr_ring_destroy(ring), RR_IN_USE);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 1);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_destroy_with_open_reader_is_in_use_and_ring_still_works)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    CHECK_ST(rr_ring_destroy(ring), RR_IN_USE);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    rr_writer_close(w);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(event_ok(&ev));
    CHECK_ST(rr_ring_destroy(ring), RR_IN_USE);
    rr_reader_close(r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_destroy_null_is_ok)
{
    CHECK_ST(rr_ring_destroy(NULL), RR_OK);
}

/* ---- getters ------------------------------------------------------------------------ */

TEST(test_getters_report_the_configuration)
{
    rr_config c = config(48, 12, OW, MP);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_create(&c, &ring), RR_OK);
    CHECK_EQ(rr_ring_slot_size(ring), 48);
    CHECK_EQ(rr_ring_capacity(ring), 12);
    CHECK_EQ(rr_ring_mode(ring), OW);
    CHECK_EQ(rr_ring_producers(ring), MP);
    CHECK_EQ(rr_ring_memory_bytes(ring), rr_ring_footprint(&c));
    CHECK_EQ(rr_ring_published(ring), 0);
    CHECK(!rr_ring_closed(ring));
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    c = config(64, 5, BP, SP);
    CHECK_ST(rr_ring_create(&c, &ring), RR_OK);
    CHECK_EQ(rr_ring_mode(ring), BP);
    CHECK_EQ(rr_ring_producers(ring), SP);
    CHECK_EQ(rr_ring_memory_bytes(ring), rr_ring_footprint(&c));
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_published_counts_every_visible_event)
{
    rr_ring *ring = ring_new(64, 16, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < 5; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 5);
    rr_payload items[3] = { { "a", 1, 0 }, { "b", 1, 0 }, { "c", 1, 0 } };
    CHECK_ST(rr_writer_add_batch(w, items, 3, NULL, 0), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 8);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 2, 0, &c, 0), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 8); /* claimed is not visible */
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 10);
    teardown(ring, w, NULL);
}

/* ---- oversized payloads ------------------------------------------------------------- */

TEST(test_oversized_add_is_too_large_and_names_both_sizes)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    unsigned char big[65] = { 0 };
    CHECK_ST(rr_writer_add(w, big, 65, 1, NULL, 0), RR_TOO_LARGE);
    const char *msg = rr_last_error();
    CHECK(strstr(msg, "65"));
    CHECK(strstr(msg, "64"));
    CHECK_EQ(rr_ring_published(ring), 0);
    uint64_t seq = 99;
    unsigned char ok[64];
    payload_fill(ok, 64, 0, 0);
    CHECK_ST(rr_writer_add(w, ok, 64, 2, &seq, 0), RR_OK);
    CHECK_EQ(seq, 0);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_EQ(ev.len, 64);
    CHECK_EQ(ev.event_type, 2);
    CHECK(event_ok(&ev));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_claim_set_beyond_slot_is_too_large_and_keeps_the_length)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 4, &c, 0), RR_OK);
    memset(rr_claim_data(&c, 0), 'z', 64);
    CHECK_ST(rr_claim_set(&c, 0, 65, 4), RR_TOO_LARGE);
    CHECK(strstr(rr_last_error(), "65"));
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.len, 64);
    teardown(ring, w, r);
}

TEST(test_batch_with_one_oversized_item_publishes_nothing)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    unsigned char buf[65] = { 0 };
    rr_payload items[3] = { { buf, 10, 1 }, { buf, 65, 2 }, { buf, 5, 3 } };
    CHECK_ST(rr_writer_add_batch(w, items, 3, NULL, 0), RR_TOO_LARGE);
    CHECK(strstr(rr_last_error(), "65"));
    CHECK_EQ(rr_ring_published(ring), 0);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    uint64_t seq = 99;
    CHECK_ST(rr_writer_add(w, buf, 3, 0, &seq, 0), RR_OK);
    CHECK_EQ(seq, 0);
    teardown(ring, w, r);
}

/* ---- writers ---------------------------------------------------------------------------- */

TEST(test_second_single_writer_is_busy)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w1 = writer_new(ring), *w2 = NULL;
    CHECK(w1);
    CHECK_ST(rr_writer_open(ring, &w2), RR_WRITER_BUSY);
    CHECK(rr_last_error()[0]);
    rr_writer_close(w1);
    CHECK_ST(rr_writer_open(ring, &w2), RR_OK);
    CHECK_ST(add_seq(w2, 64, 0, 0), RR_OK);
    teardown(ring, w2, NULL);
}

TEST(test_multi_producer_ring_opens_many_writers)
{
    rr_ring *ring = ring_new(64, 16, BP, MP);
    CHECK(ring);
    rr_writer *ws[8];
    for (int i = 0; i < 8; i++) CHECK_ST(rr_writer_open(ring, &ws[i]), RR_OK);
    for (int i = 0; i < 8; i++) CHECK_ST(add_seq(ws[i], 64, (uint64_t)i, 0), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 8);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writers, 8);
    for (int i = 0; i < 8; i++) rr_writer_close(ws[i]);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writers, 0);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* ---- readers ------------------------------------------------------------------------------ */

TEST(test_reader_beyond_the_table_is_too_many_readers)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_reader *rs[RR_MAX_READERS], *extra = NULL;
    for (int i = 0; i < RR_MAX_READERS; i++)
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &rs[i]), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &extra), RR_TOO_MANY_READERS);
    CHECK(rr_last_error()[0]);
    rr_reader_close(rs[17]);
    CHECK_ST(rr_reader_open(ring, RR_START_LATEST, &rs[17]), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &extra), RR_TOO_MANY_READERS);
    for (int i = 0; i < RR_MAX_READERS; i++) rr_reader_close(rs[i]);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_reader_open_close_cycles_leave_no_readers)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    for (int i = 0; i < 10000; i++) {
        rr_reader *r = NULL;
        CHECK_ST(rr_reader_open(ring, i % 2 ? RR_START_LATEST : RR_START_OLDEST, &r), RR_OK);
        rr_reader_close(r);
    }
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.reader_count, 0);
    rr_reader *rs[RR_MAX_READERS];
    for (int i = 0; i < RR_MAX_READERS; i++)
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &rs[i]), RR_OK);
    for (int i = 0; i < RR_MAX_READERS; i++) rr_reader_close(rs[i]);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_reader_open_with_bad_arguments_is_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_reader *r = NULL;
    CHECK_ST(rr_reader_open(NULL, RR_START_OLDEST, &r), RR_INVALID);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, NULL), RR_INVALID);
    CHECK_ST(rr_reader_open(ring, (rr_start)9, &r), RR_INVALID);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* ---- closed rings ------------------------------------------------------------------------------ */

TEST(test_writes_on_a_closed_ring_are_closed)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    CHECK_ST(rr_ring_close(ring), RR_OK);
    CHECK(rr_ring_closed(ring));
    CHECK_ST(add_seq(w, 64, 0, 0), RR_CLOSED);
    CHECK_ST(add_seq(w, 64, 0, MS(20)), RR_CLOSED);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, 0), RR_CLOSED);
    rr_payload item = { "a", 1, 0 };
    CHECK_ST(rr_writer_add_batch(w, &item, 1, NULL, 0), RR_CLOSED);
    CHECK_EQ(rr_ring_published(ring), 0);
    teardown(ring, w, NULL);
}

static void drain_then_closed(rr_mode mode)
{
    rr_ring *ring = ring_new(64, 8, mode, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 3; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(rr_ring_close(ring), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(rr_reader_next(r, &ev, MS(500)), RR_OK);
    CHECK_EQ(ev.sequence, 1);
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, &ev, 1, &n, 0), RR_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev.sequence, 2);
    CHECK(event_ok(&ev));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_CLOSED);
    CHECK_ST(rr_reader_next(r, &ev, MS(100)), RR_CLOSED);
    CHECK_ST(rr_reader_next(r, &ev, RR_FOREVER), RR_CLOSED);
    CHECK_ST(rr_reader_next_batch(r, &ev, 1, &n, MS(100)), RR_CLOSED);
    teardown(ring, w, r);
}

TEST(test_reader_drains_a_closed_backpressure_ring_then_gets_closed) { drain_then_closed(BP); }
TEST(test_reader_drains_a_closed_overwrite_ring_then_gets_closed) { drain_then_closed(OW); }

TEST(test_close_twice_is_ok)
{
    rr_ring *ring = ring_new(64, 8, OW, MP);
    CHECK(ring);
    CHECK(!rr_ring_closed(ring));
    CHECK_ST(rr_ring_close(ring), RR_OK);
    CHECK_ST(rr_ring_close(ring), RR_OK);
    CHECK(rr_ring_closed(ring));
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_opening_handles_on_a_closed_ring_is_closed)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    CHECK_ST(rr_ring_close(ring), RR_OK);
    rr_writer *w = NULL;
    rr_reader *r = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_CLOSED);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_CLOSED);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* ---- claim / publish / abandon ---------------------------------------------------------------- */

/* A single-producer backpressure reader reads what `published` counts in
 * place: never an event claimed and not yet published, and whatever was
 * published since it last looked, across the ring's end. */
TEST(test_a_reader_hands_out_published_events_only_and_sees_each_new_publish)
{
    rr_ring *ring = ring_new(64, 5, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_event ev, evs[8];
    size_t n = 0;
    uint64_t next = 0;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 3; i++) CHECK_ST(add_seq(w, 64, next + (uint64_t)i, 0), RR_OK);
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK(event_ok(&ev) && ev.sequence == next);
        rr_claim c;
        CHECK_ST(rr_writer_claim(w, 2, 0, &c, 0), RR_OK);
        for (uint32_t i = 0; i < 2; i++)
            payload_fill(rr_claim_data(&c, i), 64, next + 3 + i, 0);
        CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_OK);
        CHECK_EQ(n, 2);   /* the claim is not there yet */
        CHECK(event_ok(&evs[0]) && event_ok(&evs[1]) && evs[1].sequence == next + 2);
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
        CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_EMPTY);
        CHECK_ST(rr_writer_publish(w, &c), RR_OK);
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK(event_ok(&ev) && ev.sequence == next + 3);
        CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_OK);
        CHECK(n == 1 && event_ok(&evs[0]) && evs[0].sequence == next + 4);
        next += 5;
        CHECK_EQ(rr_reader_delivered(r), next);
    }
    teardown(ring, w, r);
}

TEST(test_claim_fill_set_publish_delivers_in_order)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 3, 7, &c, 0), RR_OK);
    CHECK_EQ(c.sequence, 0);
    CHECK_EQ(c.count, 3);
    CHECK_EQ(c.slot_size, 64);
    for (uint32_t i = 0; i < 3; i++) {
        void *d = rr_claim_data(&c, i);
        CHECK(d);
        memset(d, 'a' + (int)i, 64);
    }
    CHECK_ST(rr_claim_set(&c, 1, 10, 9), RR_OK);
    CHECK_ST(rr_claim_set(&c, 2, 5, 11), RR_OK);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    static const uint32_t lens[3] = { 64, 10, 5 }, types[3] = { 7, 9, 11 };
    for (uint32_t i = 0; i < 3; i++) {
        rr_event ev;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, i);
        CHECK_EQ(ev.len, lens[i]);
        CHECK_EQ(ev.event_type, types[i]);
        for (uint32_t b = 0; b < ev.len; b++)
            CHECK_EQ(((const unsigned char *)ev.data)[b], 'a' + i);
    }
    teardown(ring, w, r);
}

TEST(test_claim_set_with_bad_index_is_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 2, 0, &c, 0), RR_OK);
    CHECK_ST(rr_claim_set(&c, 2, 1, 0), RR_INVALID);
    CHECK_ST(rr_claim_set(NULL, 0, 1, 0), RR_INVALID);
    CHECK_ST(rr_writer_abandon(w, &c), RR_OK);
    teardown(ring, w, NULL);
}

TEST(test_abandoned_claim_is_never_seen_and_its_sequence_is_reused)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 2, 0, &c, 0), RR_OK);
    CHECK_EQ(c.sequence, 0);
    memset(rr_claim_data(&c, 0), 0xEE, 64);
    CHECK_ST(rr_writer_abandon(w, &c), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK_EQ(rr_ring_published(ring), 0);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.abandoned, 2);   /* events of abandoned claims */
    uint64_t seq = 99;
    unsigned char buf[64];
    payload_fill(buf, 64, 0, 0);
    CHECK_ST(rr_writer_add(w, buf, 64, 0, &seq, 0), RR_OK);
    CHECK_EQ(seq, 0);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK(event_ok(&ev));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_closing_a_writer_with_a_pending_claim_gives_it_up)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, 0), RR_OK);
    memset(rr_claim_data(&c, 0), 0xEE, 64);
    rr_writer_close(w);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    w = writer_new(ring);
    CHECK(w);
    uint64_t seq = 99;
    unsigned char buf[64];
    payload_fill(buf, 64, 0, 0);
    CHECK_ST(rr_writer_add(w, buf, 64, 0, &seq, 0), RR_OK);
    CHECK_EQ(seq, 0);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(event_ok(&ev));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_second_pending_claim_on_single_producer_is_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    rr_claim c1, c2;
    CHECK_ST(rr_writer_claim(w, 1, 0, &c1, 0), RR_OK);
    CHECK_ST(rr_writer_claim(w, 1, 0, &c2, 0), RR_INVALID);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_INVALID);
    CHECK_ST(rr_writer_publish(w, &c1), RR_OK);
    CHECK_ST(rr_writer_claim(w, 1, 0, &c2, 0), RR_OK);
    CHECK_EQ(c2.sequence, 1);
    CHECK_ST(rr_writer_publish(w, &c2), RR_OK);
    teardown(ring, w, NULL);
}

/* A claim's count is a public field: a publish of a single producer's claim
 * whose count no longer says what was claimed would stamp slots nobody filled. */
TEST(test_publishing_a_claim_whose_count_was_changed_is_invalid_and_publishes_nothing)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 2, 0, &c, 0), RR_OK);
    for (uint32_t i = 0; i < 2; i++) payload_fill(rr_claim_data(&c, i), 64, i, 0);
    c.count = 3;
    CHECK_ST(rr_writer_publish(w, &c), RR_INVALID);
    CHECK_EQ(rr_ring_published(ring), 0);
    c.count = 1;
    CHECK_ST(rr_writer_publish(w, &c), RR_INVALID);
    CHECK_EQ(rr_ring_published(ring), 0);
    c.count = 2;
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 2);
    rr_event ev;
    for (uint64_t s = 0; s < 2; s++) {
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK(event_ok(&ev) && ev.sequence == s);
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK_ST(add_seq(w, 64, 2, 0), RR_OK);   /* the writer goes on from the claim's end */
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(event_ok(&ev) && ev.sequence == 2);
    teardown(ring, w, r);
}

TEST(test_claim_count_zero_or_beyond_capacity_is_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 0, 0, &c, 0), RR_INVALID);
    CHECK_ST(rr_writer_claim(w, 9, 0, &c, 0), RR_INVALID);
    CHECK_ST(rr_writer_claim(w, 8, 0, &c, 0), RR_OK);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    teardown(ring, w, NULL);
    ring = ring_new(8, RR_MAX_CLAIM + 10, OW, SP);
    CHECK(ring);
    w = writer_new(ring);
    CHECK(w);
    CHECK_ST(rr_writer_claim(w, RR_MAX_CLAIM + 1, 0, &c, 0), RR_INVALID);
    CHECK_ST(rr_writer_claim(w, RR_MAX_CLAIM, 0, &c, 0), RR_OK);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    CHECK_EQ(rr_ring_published(ring), RR_MAX_CLAIM);
    teardown(ring, w, NULL);
}

TEST(test_publishing_or_abandoning_a_finished_claim_is_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    rr_claim c, never;
    memset(&never, 0, sizeof never);
    CHECK_ST(rr_writer_publish(w, &never), RR_INVALID);
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, 0), RR_OK);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    CHECK_ST(rr_writer_publish(w, &c), RR_INVALID);
    CHECK_ST(rr_writer_abandon(w, &c), RR_INVALID);
    CHECK_EQ(rr_ring_published(ring), 1);
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, 0), RR_OK);
    CHECK_ST(rr_writer_abandon(w, &c), RR_OK);
    CHECK_ST(rr_writer_abandon(w, &c), RR_INVALID);
    CHECK_ST(rr_writer_publish(w, &c), RR_INVALID);
    CHECK_EQ(rr_ring_published(ring), 1);
    teardown(ring, w, NULL);
}

/* Sequence 1 is claimed by w1, 2 added by w2; readers wait at 1 until w1 gives up. */
TEST(test_multi_producer_abandoned_claim_is_skipped_by_readers)
{
    rr_ring *ring = ring_new(64, 8, BP, MP);
    CHECK(ring);
    rr_writer *w1 = writer_new(ring), *w2 = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w1 && w2 && r);
    CHECK_ST(add_seq(w1, 64, 0, 0), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w1, 1, 0, &c, 0), RR_OK);
    CHECK_EQ(c.sequence, 1);
    CHECK_ST(add_seq(w2, 64, 2, 0), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY); /* 1 still pending */
    CHECK_ST(rr_writer_abandon(w1, &c), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 2);
    CHECK(event_ok(&ev));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK_EQ(rr_reader_delivered(r), 2);
    CHECK_EQ(rr_reader_lost(r), 0);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.abandoned, 1);
    rr_writer_close(w2);
    teardown(ring, w1, r);
}

/* ---- backpressure --------------------------------------------------------------------------- */

TEST(test_full_backpressure_ring_reports_full_until_a_slot_is_released)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_FULL);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 1);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_FULL); /* event 0 is still the reader's */
    CHECK(event_ok(&ev));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 1);
    uint64_t seq = 0;
    unsigned char buf[64];
    payload_fill(buf, 64, 4, 0);
    CHECK_ST(rr_writer_add(w, buf, 64, 0, &seq, 0), RR_OK);
    CHECK_EQ(seq, 4);
    CHECK_ST(add_seq(w, 64, 5, 0), RR_FULL);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 3);
    teardown(ring, w, r);
}

/* A logical wait split into slices (as the bindings do) passes one rr_wait
 * to every slice; add, add_batch and claim each count such a wait once. */
static void sliced_wait_counts_one_stall(rr_producers prod)
{
    rr_ring *ring = ring_new(64, 2, BP, prod);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 2; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_ring_stats st;
    unsigned char buf[64] = { 0 };
    rr_payload item = { buf, sizeof buf, 0 };
    rr_claim c;
    rr_wait wait = RR_WAIT_INIT;
    CHECK(!wait.stalled);
    CHECK_ST(rr_writer_add_ex(w, buf, 64, 0, NULL, 0, &wait), RR_FULL);   /* the first slice */
    CHECK(wait.stalled);
    CHECK_ST(rr_writer_add_ex(w, buf, 64, 0, NULL, 1000, &wait), RR_TIMEOUT); /* later slices */
    CHECK_ST(rr_writer_add_batch_ex(w, &item, 1, NULL, 0, &wait), RR_FULL);
    CHECK_ST(rr_writer_claim_ex(w, 1, 0, &c, 1000, &wait), RR_TIMEOUT);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 1);
    rr_wait next = RR_WAIT_INIT;                          /* a new wait counts again */
    CHECK_ST(rr_writer_claim_ex(w, 1, 0, &c, 0, &next), RR_FULL);
    CHECK_ST(rr_writer_add_batch_ex(w, &item, 1, NULL, 0, NULL), RR_FULL);   /* one of its own */
    CHECK_ST(add_seq(w, 64, 2, 0), RR_FULL);                                 /* and the plain call */
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 4);
    teardown(ring, w, r);
}

TEST(test_a_wait_resumed_in_slices_counts_one_stall) { sliced_wait_counts_one_stall(SP); }
TEST(test_a_multi_producer_wait_resumed_in_slices_counts_one_stall)
{
    sliced_wait_counts_one_stall(MP);
}

/* The explicit wait state belongs to the wait, not to the thread: two waits
 * interleaved on one thread each count once. */
TEST(test_two_interleaved_waits_on_one_thread_count_two_stalls)
{
    rr_ring *a = ring_new(64, 1, BP, SP), *b = ring_new(64, 1, BP, SP);
    CHECK(a && b);
    rr_writer *wa = writer_new(a), *wb = writer_new(b);
    rr_reader *ra = reader_new(a, RR_START_OLDEST), *rb = reader_new(b, RR_START_OLDEST);
    CHECK(wa && wb && ra && rb);
    CHECK_ST(add_seq(wa, 64, 0, 0), RR_OK);
    CHECK_ST(add_seq(wb, 64, 0, 0), RR_OK);
    unsigned char buf[64] = { 0 };
    rr_wait on_a = RR_WAIT_INIT, on_b = RR_WAIT_INIT;
    CHECK_ST(rr_writer_add_ex(wa, buf, 64, 0, NULL, 0, &on_a), RR_FULL);
    CHECK_ST(rr_writer_add_ex(wb, buf, 64, 0, NULL, 0, &on_b), RR_FULL);
    CHECK_ST(rr_writer_add_ex(wa, buf, 64, 0, NULL, 0, &on_a), RR_FULL);
    CHECK_ST(rr_writer_add_ex(wb, buf, 64, 0, NULL, 0, &on_b), RR_FULL);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(a, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 1);
    CHECK_ST(rr_ring_stats_get(b, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 1);
    rr_reader_close(rb);
    teardown(b, wb, NULL);
    teardown(a, wa, ra);
}

TEST(test_claim_and_batch_on_full_ring_are_full_and_all_or_none)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 3; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 2, 0, &c, 0), RR_FULL);
    rr_payload items[2] = { { "a", 1, 0 }, { "b", 1, 0 } };
    CHECK_ST(rr_writer_add_batch(w, items, 2, NULL, 0), RR_FULL);
    CHECK_EQ(rr_ring_published(ring), 3);
    CHECK_ST(rr_writer_add_batch(w, items, 1, NULL, 0), RR_OK);
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, 0), RR_FULL);
    teardown(ring, w, r);
}

TEST(test_backpressure_ring_without_readers_never_fills)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < 100; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 100);
    teardown(ring, w, NULL);
}

TEST(test_closed_reader_stops_gating_the_writer)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_FULL);
    rr_reader_close(r);
    for (uint64_t s = 4; s < 12; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    teardown(ring, w, NULL);
}

TEST(test_add_with_timeout_on_full_ring_times_out)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    double t0 = check_now();
    CHECK_ST(add_seq(w, 64, 4, MS(20)), RR_TIMEOUT);
    double dt = check_now() - t0;
    CHECK(dt >= 0.019);
    CHECK(dt < 5.0);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, MS(20)), RR_TIMEOUT);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK(st.writer_stalls >= 2);
    teardown(ring, w, r);
}

/* "The event stays the reader's until its next call" — even an empty one. */
TEST(test_capacity_one_ring_releases_the_event_on_the_next_call)
{
    rr_ring *ring = ring_new(64, 1, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 1, 0), RR_FULL);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 1, 0), RR_FULL);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK_ST(add_seq(w, 64, 1, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 1);
    CHECK(event_ok(&ev));
    teardown(ring, w, r);
}

/* ---- overwrite -------------------------------------------------------------------------------- */

TEST(test_lapped_reader_counts_every_lost_event)
{
    rr_ring *ring = ring_new(64, 8, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 20; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    double ratio = rr_reader_backpressure_ratio(r);
    CHECK(ratio >= 0.9 && ratio <= 1.0);
    rr_event ev;
    rr_status st;
    uint64_t first = UINT64_MAX, prev = 0, delivered = 0;
    while ((st = rr_reader_next(r, &ev, 0)) == RR_OK) {
        CHECK(event_ok(&ev));
        if (first == UINT64_MAX) first = ev.sequence;
        else CHECK_EQ(ev.sequence, prev + 1);
        prev = ev.sequence;
        delivered++;
    }
    CHECK_ST(st, RR_EMPTY);
    CHECK(first >= 12);
    CHECK_EQ(prev, 19);
    CHECK_EQ(rr_reader_lost(r), first);
    CHECK_EQ(rr_reader_delivered(r), delivered);
    CHECK_EQ(delivered + rr_reader_lost(r), 20);
    CHECK_EQ(rr_reader_cursor(r), 20);
    CHECK_EQ(rr_reader_lag(r), 0);
    teardown(ring, w, r);
}

TEST(test_lapped_batch_reader_counts_every_lost_event)
{
    rr_ring *ring = ring_new(64, 8, OW, MP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 20; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_event evs[16];
    size_t n = 0;
    uint64_t first = UINT64_MAX, next = 0, delivered = 0;
    rr_status st;
    while ((st = rr_reader_next_batch(r, evs, 16, &n, 0)) == RR_OK) {
        for (size_t i = 0; i < n; i++, delivered++) {
            CHECK(event_ok(&evs[i]));
            if (first == UINT64_MAX) first = next = evs[i].sequence;
            CHECK_EQ(evs[i].sequence, next);
            next++;
        }
    }
    CHECK_ST(st, RR_EMPTY);
    CHECK(first >= 12);
    CHECK_EQ(next, 20);
    CHECK_EQ(rr_reader_lost(r), first);
    CHECK_EQ(delivered + rr_reader_lost(r), 20);
    teardown(ring, w, r);
}

TEST(test_overwrite_writer_never_reports_full)
{
    rr_ring *ring = ring_new(64, 4, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_event ev;
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK); /* the reader holds an event */
    for (uint64_t s = 1; s < 1000; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 4, 0, &c, 0), RR_OK);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 0);
    CHECK_EQ(st.published, 1004);
    teardown(ring, w, r);
}

/* ---- reader start ------------------------------------------------------------------------------ */

TEST(test_reader_from_oldest_sees_retained_events)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < 3; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    CHECK_EQ(rr_reader_cursor(r), 0);
    CHECK_EQ(rr_reader_lag(r), 3);
    rr_event ev;
    for (uint64_t s = 0; s < 3; s++) {
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, s);
        CHECK(event_ok(&ev));
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_reader_from_latest_sees_only_new_events)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < 3; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_reader *r = reader_new(ring, RR_START_LATEST);
    CHECK(r);
    CHECK_EQ(rr_reader_cursor(r), 3);
    CHECK_EQ(rr_reader_lag(r), 0);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK_ST(add_seq(w, 64, 3, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 3);
    CHECK(event_ok(&ev));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_latest_reader_does_not_gate_older_events)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_reader *r = reader_new(ring, RR_START_LATEST);
    CHECK(r);
    for (uint64_t s = 4; s < 8; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 8, 0), RR_FULL);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 4);
    CHECK(event_ok(&ev));
    teardown(ring, w, r);
}

static void oldest_on_wrapped_ring(rr_mode mode, uint64_t cap, uint64_t published)
{
    rr_ring *ring = ring_new(64, cap, mode, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    for (uint64_t s = 0; s < published; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    /* Overwrite rings keep the last `cap` events for a new reader. A
     * backpressure writer with nobody to gate it may run a lap ahead, so a
     * new reader starts no earlier than published - cap, possibly later
     * (see rr_reader_open in rusted_ring.h). */
    uint64_t first = rr_reader_cursor(r);
    if (mode == RR_MODE_OVERWRITE)
        CHECK_EQ(first, published - cap);
    CHECK(first >= published - cap && first <= published);
    rr_event ev;
    for (uint64_t s = first; s < published; s++) {
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, s);
        CHECK(event_ok(&ev));
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK_EQ(rr_reader_lost(r), 0);
    teardown(ring, w, r);
}

TEST(test_reader_from_oldest_on_wrapped_overwrite_ring_starts_at_published_minus_capacity)
{
    oldest_on_wrapped_ring(OW, 8, 20);
}

TEST(test_reader_from_oldest_on_wrapped_backpressure_ring_starts_at_retained_events)
{
    oldest_on_wrapped_ring(BP, 3, 10);
}

/* ---- next_batch ------------------------------------------------------------------------------------ */

static void batch_in_order(rr_mode mode)
{
    rr_ring *ring = ring_new(64, 16, mode, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    CHECK(rr_reader_batch_limit(r) >= 1);
    rr_event evs[4];
    size_t n = 99, got = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_EMPTY);
    for (uint64_t s = 0; s < 10; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    while (got < 10) {
        CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_OK);
        CHECK(n >= 1 && n <= 4);
        CHECK(n <= rr_reader_batch_limit(r) || mode == BP);
        for (size_t i = 0; i < n; i++, got++) {
            CHECK_EQ(evs[i].sequence, got);
            CHECK(event_ok(&evs[i]));
        }
    }
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_EMPTY);
    CHECK_EQ(rr_reader_delivered(r), 10);
    teardown(ring, w, r);
}

TEST(test_next_batch_returns_up_to_max_in_order_backpressure) { batch_in_order(BP); }
TEST(test_next_batch_returns_up_to_max_in_order_overwrite) { batch_in_order(OW); }

TEST(test_next_batch_with_bad_arguments_is_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    rr_event evs[2];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(NULL, evs, 2, &n, 0), RR_INVALID);
    CHECK_ST(rr_reader_next_batch(r, NULL, 2, &n, 0), RR_INVALID);
    CHECK_ST(rr_reader_next_batch(r, evs, 2, NULL, 0), RR_INVALID);
    CHECK_ST(rr_reader_next_batch(r, evs, 0, &n, 0), RR_INVALID);
    teardown(ring, NULL, r);
}

/* Batch views point into the slots; the writer must not reuse them until the next call. */
TEST(test_backpressure_batch_views_stay_valid_until_next_call)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_event evs[4];
    unsigned char saved[4][64];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_OK);
    CHECK(n >= 1 && n <= 4);
    for (size_t i = 0; i < n; i++) memcpy(saved[i], evs[i].data, 64);
    for (uint64_t s = 4; s < 8; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 8, 0), RR_FULL);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(evs[i].sequence, i);
        CHECK(memcmp(evs[i].data, saved[i], 64) == 0);
        CHECK(event_ok(&evs[i]));
    }
    size_t m = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &m, 0), RR_OK);
    CHECK_EQ(evs[0].sequence, n);
    CHECK_ST(add_seq(w, 64, 8, 0), RR_OK); /* slot 0 was released by that call */
    teardown(ring, w, r);
}

/* ---- hold / release --------------------------------------------------------------------------------- */

/* Capacity 4, events 0..3 published, reader handed 0; returns the ring's parts. */
static int hold_setup(rr_ring **ring, rr_writer **w, rr_reader **r, rr_event *ev)
{
    *ring = ring_new(64, 4, BP, SP);
    if (!*ring) return 0;
    *w = writer_new(*ring);
    *r = reader_new(*ring, RR_START_OLDEST);
    if (!*w || !*r) return 0;
    for (uint64_t s = 0; s < 4; s++)
        if (add_seq(*w, 64, s, 0) != RR_OK) return 0;
    return rr_reader_next(*r, ev, 0) == RR_OK && ev->sequence == 0;
}

TEST(test_held_event_is_not_overwritten_after_the_reader_moves_on)
{
    rr_ring *ring; rr_writer *w; rr_reader *r;
    rr_event e0, e1;
    CHECK(hold_setup(&ring, &w, &r, &e0));
    unsigned char saved[64];
    memcpy(saved, e0.data, 64);
    CHECK_ST(rr_reader_hold(r, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &e1, 0), RR_OK);
    CHECK_EQ(e1.sequence, 1);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_FULL); /* slot 0 is held */
    CHECK(memcmp(e0.data, saved, 64) == 0);
    CHECK(event_ok(&e0));
    CHECK_EQ(rr_reader_cursor(r), 2);
    CHECK_ST(rr_reader_release(r, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 5, 0), RR_FULL); /* slot 1 is still the reader's */
    teardown(ring, w, r);
}

TEST(test_hold_works_on_any_event_of_the_current_batch)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_event evs[4];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_OK);
    CHECK(n >= 1);
    uint64_t last = evs[n - 1].sequence;
    CHECK_ST(rr_reader_hold(r, last), RR_OK);
    for (uint64_t s = n; s < 4; s++) {           /* move past the batch */
        rr_event ev;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    }
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);  /* the reader owns nothing now */
    for (uint64_t s = 4; s < 4 + last; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 4 + last, 0), RR_FULL); /* the held slot */
    CHECK(event_ok(&evs[n - 1]));
    CHECK_ST(rr_reader_release(r, last), RR_OK);
    CHECK_ST(add_seq(w, 64, 4 + last, 0), RR_OK);
    teardown(ring, w, r);
}

TEST(test_hold_of_a_sequence_not_handed_out_is_invalid)
{
    rr_ring *ring; rr_writer *w; rr_reader *r;
    rr_event ev;
    CHECK(hold_setup(&ring, &w, &r, &ev));
    CHECK_ST(rr_reader_hold(r, 1), RR_INVALID);  /* published, not handed out */
    CHECK_ST(rr_reader_hold(r, 50), RR_INVALID); /* never published */
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_hold(r, 0), RR_INVALID);  /* already moved past */
    CHECK_ST(rr_reader_hold(r, 1), RR_OK);
    CHECK_ST(rr_reader_release(r, 1), RR_OK);
    CHECK_ST(rr_reader_hold(NULL, 1), RR_INVALID);
    teardown(ring, w, r);
}

TEST(test_release_without_hold_is_invalid)
{
    rr_ring *ring; rr_writer *w; rr_reader *r;
    rr_event ev;
    CHECK(hold_setup(&ring, &w, &r, &ev));
    CHECK_ST(rr_reader_release(r, 0), RR_INVALID);
    CHECK_ST(rr_reader_release(r, 3), RR_INVALID);
    CHECK_ST(rr_reader_release(NULL, 0), RR_INVALID);
    teardown(ring, w, r);
}

TEST(test_hold_on_an_overwrite_ring_is_invalid)
{
    rr_ring *ring = ring_new(64, 4, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_hold(r, 0), RR_INVALID);
    CHECK_ST(rr_reader_release(r, 0), RR_INVALID);
    teardown(ring, w, r);
}

TEST(test_nested_holds_need_two_releases)
{
    rr_ring *ring; rr_writer *w; rr_reader *r;
    rr_event ev;
    CHECK(hold_setup(&ring, &w, &r, &ev));
    CHECK_ST(rr_reader_hold(r, 0), RR_OK);
    CHECK_ST(rr_reader_hold(r, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_release(r, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_FULL);
    CHECK_ST(rr_reader_release(r, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_OK);
    CHECK_ST(rr_reader_release(r, 0), RR_INVALID);
    teardown(ring, w, r);
}

/* ---- reader accessors ------------------------------------------------------------------------------ */

TEST(test_reader_accessors_track_cursor_lag_and_delivered)
{
    rr_ring *ring = ring_new(64, 10, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    CHECK_EQ(rr_reader_cursor(r), 0);
    CHECK_EQ(rr_reader_lag(r), 0);
    CHECK_EQ(rr_reader_lost(r), 0);
    CHECK_EQ(rr_reader_delivered(r), 0);
    CHECK(rr_reader_backpressure_ratio(r) == 0.0);
    for (uint64_t s = 0; s < 3; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_EQ(rr_reader_lag(r), 3);
    CHECK(rr_reader_backpressure_ratio(r) == 0.3);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(rr_reader_cursor(r), 1);
    CHECK_EQ(rr_reader_lag(r), 2);
    CHECK_EQ(rr_reader_delivered(r), 1);
    CHECK_EQ(rr_reader_pinned(r), 1);       /* event 0 is the reader's until its next call */
    CHECK(rr_reader_backpressure_ratio(r) == 0.3);
    CHECK_EQ(rr_reader_lost(r), 0);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);   /* moving on released event 2 */
    CHECK_EQ(rr_reader_lag(r), 0);
    CHECK_EQ(rr_reader_pinned(r), 0);
    CHECK(rr_reader_backpressure_ratio(r) == 0.0);
    teardown(ring, w, r);
}

TEST(test_pressure_flags_switch_at_exact_boundaries)
{
    rr_ring *ring = ring_new(64, 10, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 8; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK(rr_reader_backpressure_ratio(r) == 0.8);
    CHECK(!rr_reader_is_under_pressure(r));
    CHECK(!rr_reader_should_throttle(r));
    CHECK_ST(add_seq(w, 64, 8, 0), RR_OK);
    CHECK(rr_reader_backpressure_ratio(r) == 0.9);
    CHECK(rr_reader_is_under_pressure(r));
    CHECK(rr_reader_should_throttle(r));
    CHECK_ST(add_seq(w, 64, 9, 0), RR_OK);
    CHECK(rr_reader_backpressure_ratio(r) == 1.0);
    CHECK(rr_reader_should_throttle(r));
    teardown(ring, w, r);
}

/* ---- statistics ----------------------------------------------------------------------------------------- */

/* The entry among the first reader_count whose cursor is `cursor`, or NULL. */
static const rr_reader_stats *stats_reader_at(const rr_ring_stats *st, uint64_t cursor)
{
    for (uint32_t i = 0; i < st->reader_count && i < RR_MAX_READERS; i++)
        if (st->readers[i].cursor == cursor) return &st->readers[i];
    return NULL;
}

TEST(test_stats_snapshot_reports_ring_and_readers)
{
    rr_ring *ring = ring_new(32, 10, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r1 = reader_new(ring, RR_START_OLDEST), *r2 = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r1 && r2);
    for (uint64_t s = 0; s < 10; s++) CHECK_ST(add_seq(w, 32, s, 0), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r1, &ev, 0), RR_OK);
    CHECK_ST(add_seq(w, 32, 10, 0), RR_FULL);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.capacity, 10);
    CHECK_EQ(st.slot_size, 32);
    CHECK_EQ(st.mode, BP);
    CHECK_EQ(st.producers, SP);
    CHECK_EQ(st.memory_bytes, rr_ring_memory_bytes(ring));
    CHECK_EQ(st.published, 10);
    CHECK_EQ(st.writer_stalls, 1);
    CHECK_EQ(st.abandoned, 0);
    CHECK_EQ(st.writers, 1);
    CHECK(!st.closed);
    CHECK_EQ(st.reader_count, 2);
    CHECK(st.max_backpressure == 1.0);
    const rr_reader_stats *a = stats_reader_at(&st, 1), *b = stats_reader_at(&st, 0);
    CHECK(a && b && a != b);
    CHECK_EQ(a->lag, 9);
    CHECK_EQ(a->pinned, 1);                 /* event 0 is still r1's: the writer is full */
    CHECK(a->backpressure == 1.0);
    CHECK_EQ(b->lag, 10);
    CHECK_EQ(b->pinned, 0);
    CHECK(b->backpressure == 1.0);
    CHECK(st.name != NULL && st.name[0] == '\0');   /* not a named shared segment */
    CHECK_EQ(a->lost + b->lost, 0);
    CHECK(a->index < RR_MAX_READERS && b->index < RR_MAX_READERS && a->index != b->index);
    CHECK_EQ(a->pid, getpid());
    CHECK_ST(rr_ring_close(ring), RR_OK);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK(st.closed);
    rr_reader_close(r2);
    teardown(ring, w, r1);
}

TEST(test_stats_of_a_lapped_overwrite_reader_report_lost_and_clamped_pressure)
{
    rr_ring *ring = ring_new(64, 8, OW, MP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t s = 0; s < 20; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(event_ok(&ev));
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.mode, OW);
    CHECK_EQ(st.producers, MP);
    CHECK_EQ(st.reader_count, 1);
    CHECK_EQ(st.readers[0].cursor, rr_reader_cursor(r));
    CHECK_EQ(st.readers[0].lost, rr_reader_lost(r));
    CHECK_EQ(st.readers[0].lost, ev.sequence);
    CHECK(st.readers[0].backpressure >= 0.0 && st.readers[0].backpressure <= 1.0);
    CHECK(st.max_backpressure >= 0.0 && st.max_backpressure <= 1.0);
    teardown(ring, w, r);
}

TEST(test_stats_with_null_arguments_is_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(NULL, &st), RR_INVALID);
    CHECK_ST(rr_ring_stats_get(ring, NULL), RR_INVALID);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* ---- errors ---------------------------------------------------------------------------------------------- */

TEST(test_strerror_names_every_status_distinctly)
{
    for (int i = RR_OK; i < RR_STATUS_COUNT; i++) {
        const char *a = rr_strerror((rr_status)i);
        CHECK(a && a[0]);
        for (int j = RR_OK; j < i; j++) CHECK(strcmp(a, rr_strerror((rr_status)j)) != 0);
    }
}

TEST(test_strerror_out_of_range_is_not_null)
{
    CHECK(rr_strerror(RR_STATUS_COUNT) != NULL);
    CHECK(rr_strerror((rr_status)1000) != NULL);
}

typedef struct { char msg[256]; int fresh_ok; rr_status st; } error_probe;

static void *fail_in_thread(void *arg)
{
    error_probe *p = arg;
    p->fresh_ok = rr_last_error() != NULL;
    rr_config c = config(64, 0, BP, SP);
    rr_ring *ring = NULL;
    p->st = rr_ring_create(&c, &ring);
    snprintf(p->msg, sizeof p->msg, "%s", rr_last_error());
    return NULL;
}

TEST(test_last_error_is_per_thread)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    unsigned char big[65] = { 0 };
    CHECK_ST(rr_writer_add(w, big, 65, 0, NULL, 0), RR_TOO_LARGE);
    error_probe p;
    memset(&p, 0, sizeof p);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, fail_in_thread, &p), 0);
    pthread_join(t, NULL);
    CHECK(p.fresh_ok);
    CHECK_ST(p.st, RR_INVALID);
    CHECK(strstr(p.msg, "capacity"));
    CHECK(strstr(rr_last_error(), "65"));
    teardown(ring, w, NULL);
}

TEST(test_last_error_survives_successful_calls)
{
    rr_config bad = config(64, 0, BP, SP);
    rr_ring *ring = NULL;
    CHECK_ST(rr_ring_create(&bad, &ring), RR_INVALID);
    char before[256];
    snprintf(before, sizeof before, "%s", rr_last_error());
    ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    CHECK(strcmp(rr_last_error(), before) == 0);
    teardown(ring, w, NULL);
}

/* ---- NULL handles ------------------------------------------------------------------------------------------- */

TEST(test_null_ring_and_writer_handles_are_invalid)
{
    rr_writer *w = NULL;
    rr_claim c;
    memset(&c, 0, sizeof c);
    rr_payload item = { "a", 1, 0 };
    CHECK_ST(rr_ring_close(NULL), RR_INVALID);
    CHECK_ST(rr_writer_open(NULL, &w), RR_INVALID);
    CHECK_ST(rr_writer_claim(NULL, 1, 0, &c, 0), RR_INVALID);
    CHECK_ST(rr_writer_publish(NULL, &c), RR_INVALID);
    CHECK_ST(rr_writer_abandon(NULL, &c), RR_INVALID);
    CHECK_ST(rr_writer_add(NULL, "a", 1, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_add_batch(NULL, &item, 1, NULL, 0), RR_INVALID);
    rr_writer_close(NULL);
    rr_reader_close(NULL);
}

TEST(test_null_arguments_on_live_handles_are_invalid)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_event ev;
    CHECK_ST(rr_writer_open(ring, NULL), RR_INVALID);
    CHECK_ST(rr_writer_claim(w, 1, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_publish(w, NULL), RR_INVALID);
    CHECK_ST(rr_writer_abandon(w, NULL), RR_INVALID);
    CHECK_ST(rr_writer_add(w, NULL, 10, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_add_batch(w, NULL, 1, NULL, 0), RR_INVALID);
    CHECK_ST(rr_reader_next(NULL, &ev, 0), RR_INVALID);
    CHECK_ST(rr_reader_next(r, NULL, 0), RR_INVALID);
    CHECK_EQ(rr_ring_published(ring), 0);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK); /* still healthy */
    teardown(ring, w, r);
}

/* ---- add_batch -------------------------------------------------------------------------------------------- */

TEST(test_add_batch_publishes_all_in_order_with_their_types)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    CHECK_ST(add_seq(w, 64, 0, 0), RR_OK);
    CHECK_ST(add_seq(w, 64, 1, 0), RR_OK);
    static const char *texts[4] = { "one", "two!", "three", "" };
    rr_payload items[4];
    for (int i = 0; i < 4; i++)
        items[i] = (rr_payload){ texts[i], strlen(texts[i]), 100u + (uint32_t)i };
    uint64_t first = 0;
    CHECK_ST(rr_writer_add_batch(w, items, 4, &first, 0), RR_OK);
    CHECK_EQ(first, 2);
    rr_event ev;
    for (int i = 0; i < 2; i++) CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    for (uint32_t i = 0; i < 4; i++) {
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, 2 + i);
        CHECK_EQ(ev.event_type, 100 + i);
        CHECK_EQ(ev.len, strlen(texts[i]));
        CHECK(memcmp(ev.data, texts[i], ev.len) == 0);
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_add_batch_of_zero_or_beyond_capacity_is_invalid)
{
    rr_ring *ring = ring_new(64, 4, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    CHECK(w);
    rr_payload items[5];
    for (int i = 0; i < 5; i++) items[i] = (rr_payload){ "x", 1, 0 };
    CHECK_ST(rr_writer_add_batch(w, items, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_add_batch(w, items, 5, NULL, 0), RR_INVALID);
    CHECK_EQ(rr_ring_published(ring), 0);
    CHECK_ST(rr_writer_add_batch(w, items, 4, NULL, 0), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 4);
    teardown(ring, w, NULL);
}

/* A reader lapped again before it caught up resumes further past the oldest
 * event (1, 2, 4 ... up to half a lap), so a writer that never pauses cannot
 * keep it at the one slot it overwrites next; catching up resets that. */
TEST(test_repeatedly_lapped_reader_backs_off_and_counts_every_skip)
{
    rr_ring *ring = ring_new(64, 8, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    uint64_t s = 0;
    rr_event ev;
    for (; s < 20; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 12);                       /* first lap: the oldest intact */
    CHECK(event_ok(&ev));
    for (; s < 40; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 33);                       /* lapped again: oldest (32) + 1 */
    for (; s < 60; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 54);                       /* and again: oldest (52) + 2 */
    CHECK(event_ok(&ev));
    uint64_t delivered = 3;
    while (rr_reader_next(r, &ev, 0) == RR_OK) {     /* catch up: the margin resets */
        CHECK(event_ok(&ev));
        delivered++;
    }
    for (; s < 80; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 72);                       /* the oldest intact again */
    delivered++;
    while (rr_reader_next(r, &ev, 0) == RR_OK) delivered++;
    CHECK_EQ(delivered, rr_reader_delivered(r));
    CHECK_EQ(rr_reader_delivered(r) + rr_reader_lost(r), 80);
    CHECK_EQ(rr_reader_cursor(r), 80);
    teardown(ring, w, r);
}

/* A backpressure reader that passes over abandoned claims must release those
 * slots even when its call then finds nothing: otherwise a writer needing
 * them waits for the reader while the reader waits for the writer. */
TEST(test_abandoned_slots_passed_over_are_released_to_writers)
{
    rr_ring *ring = ring_new(64, 4, BP, RR_PRODUCERS_MULTI);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 4, 0, &c, 0), RR_OK);
    CHECK_ST(rr_writer_abandon(w, &c), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);     /* passes 0..3, nothing to hand out */
    CHECK_EQ(rr_reader_cursor(r), 4);
    CHECK_EQ(rr_reader_skipped(r), 4);
    CHECK_ST(add_seq(w, 64, 4, 0), RR_OK);             /* room: the slots were released */
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 4);
    CHECK(event_ok(&ev));
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.readers[0].skipped, 4);
    teardown(ring, w, r);
}

/* With several producers a sequence below the claim cursor may be claimed and
 * not yet published; a lapped reader backing off must stop there rather than
 * count as lost an event that is published afterwards. */
TEST(test_lap_back_off_never_passes_an_unpublished_claim)
{
    rr_ring *ring = ring_new(64, 8, OW, RR_PRODUCERS_MULTI);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_event ev;
    uint64_t s = 0;
    for (; s < 16; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 8);                           /* lapped once: margin now 1 */
    for (; s < 18; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    rr_claim open;
    CHECK_ST(rr_writer_claim(w, 1, 0, &open, 0), RR_OK);
    CHECK_EQ(open.sequence, 18);
    for (s = 19; s < 26; s++) CHECK_ST(add_seq(w, 64, s, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);      /* lapped; stops at 18, unpublished */
    CHECK_EQ(rr_reader_cursor(r), 18);
    payload_fill(rr_claim_data(&open, 0), 64, 18, 0);
    CHECK_ST(rr_writer_publish(w, &open), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 18);
    CHECK(event_ok(&ev));
    while (rr_reader_next(r, &ev, 0) == RR_OK) CHECK(event_ok(&ev));
    CHECK_EQ(rr_reader_delivered(r) + rr_reader_lost(r), 26);
    CHECK_EQ(rr_reader_cursor(r), 26);
    teardown(ring, w, r);
}

int main(void)
{
    alarm(600); /* a call that never returns fails the suite instead of hanging CI */
    RUN(test_footprint_is_zero_for_invalid_configs);
    RUN(test_footprint_covers_every_payload_slot);
    RUN(test_small_slots_keep_payload_and_metadata_apart_at_every_size);
    RUN(test_slot_index_without_division_is_the_remainder_for_every_capacity);
    RUN(test_capacity_is_never_rounded);
    RUN(test_odd_capacity_overwrite_ring_keeps_every_payload_intact);
    RUN(test_one_byte_slot_carries_one_byte);
    RUN(test_one_mib_slot_round_trips_a_full_payload_backpressure);
    RUN(test_one_mib_slot_round_trips_a_full_payload_overwrite);
    RUN(test_capacity_zero_is_invalid);
    RUN(test_slot_size_zero_is_invalid);
    RUN(test_slot_size_above_maximum_is_invalid);
    RUN(test_bad_mode_or_producers_is_invalid);
    RUN(test_create_with_null_arguments_is_invalid);
    RUN(test_format_on_caller_memory_gives_a_working_ring);
    RUN(test_format_with_short_length_is_invalid);
    RUN(test_format_on_misaligned_memory_is_invalid);
    RUN(test_format_with_bad_arguments_is_invalid);
    RUN(test_attached_handle_sees_the_same_events);
    RUN(test_attach_on_zeroed_memory_is_shm_invalid);
    RUN(test_attach_on_garbage_is_shm_invalid);
    RUN(test_attach_with_short_length_is_shm_invalid);
    RUN(test_attach_with_null_arguments_is_invalid);
    RUN(test_destroy_of_formatted_ring_leaves_caller_memory_alone);
    RUN(test_destroy_with_open_writer_is_in_use_and_ring_still_works);
    RUN(test_destroy_with_open_reader_is_in_use_and_ring_still_works);
    RUN(test_destroy_null_is_ok);
    RUN(test_getters_report_the_configuration);
    RUN(test_published_counts_every_visible_event);
    RUN(test_oversized_add_is_too_large_and_names_both_sizes);
    RUN(test_claim_set_beyond_slot_is_too_large_and_keeps_the_length);
    RUN(test_batch_with_one_oversized_item_publishes_nothing);
    RUN(test_second_single_writer_is_busy);
    RUN(test_multi_producer_ring_opens_many_writers);
    RUN(test_reader_beyond_the_table_is_too_many_readers);
    RUN(test_reader_open_close_cycles_leave_no_readers);
    RUN(test_reader_open_with_bad_arguments_is_invalid);
    RUN(test_writes_on_a_closed_ring_are_closed);
    RUN(test_reader_drains_a_closed_backpressure_ring_then_gets_closed);
    RUN(test_reader_drains_a_closed_overwrite_ring_then_gets_closed);
    RUN(test_close_twice_is_ok);
    RUN(test_opening_handles_on_a_closed_ring_is_closed);
    RUN(test_a_reader_hands_out_published_events_only_and_sees_each_new_publish);
    RUN(test_claim_fill_set_publish_delivers_in_order);
    RUN(test_claim_set_with_bad_index_is_invalid);
    RUN(test_abandoned_claim_is_never_seen_and_its_sequence_is_reused);
    RUN(test_closing_a_writer_with_a_pending_claim_gives_it_up);
    RUN(test_second_pending_claim_on_single_producer_is_invalid);
    RUN(test_publishing_a_claim_whose_count_was_changed_is_invalid_and_publishes_nothing);
    RUN(test_claim_count_zero_or_beyond_capacity_is_invalid);
    RUN(test_publishing_or_abandoning_a_finished_claim_is_invalid);
    RUN(test_multi_producer_abandoned_claim_is_skipped_by_readers);
    RUN(test_full_backpressure_ring_reports_full_until_a_slot_is_released);
    RUN(test_claim_and_batch_on_full_ring_are_full_and_all_or_none);
    RUN(test_backpressure_ring_without_readers_never_fills);
    RUN(test_closed_reader_stops_gating_the_writer);
    RUN(test_add_with_timeout_on_full_ring_times_out);
    RUN(test_capacity_one_ring_releases_the_event_on_the_next_call);
    RUN(test_lapped_reader_counts_every_lost_event);
    RUN(test_lapped_batch_reader_counts_every_lost_event);
    RUN(test_overwrite_writer_never_reports_full);
    RUN(test_repeatedly_lapped_reader_backs_off_and_counts_every_skip);
    RUN(test_abandoned_slots_passed_over_are_released_to_writers);
    RUN(test_lap_back_off_never_passes_an_unpublished_claim);
    RUN(test_reader_from_oldest_sees_retained_events);
    RUN(test_reader_from_latest_sees_only_new_events);
    RUN(test_latest_reader_does_not_gate_older_events);
    RUN(test_reader_from_oldest_on_wrapped_overwrite_ring_starts_at_published_minus_capacity);
    RUN(test_reader_from_oldest_on_wrapped_backpressure_ring_starts_at_retained_events);
    RUN(test_next_batch_returns_up_to_max_in_order_backpressure);
    RUN(test_next_batch_returns_up_to_max_in_order_overwrite);
    RUN(test_next_batch_with_bad_arguments_is_invalid);
    RUN(test_backpressure_batch_views_stay_valid_until_next_call);
    RUN(test_held_event_is_not_overwritten_after_the_reader_moves_on);
    RUN(test_hold_works_on_any_event_of_the_current_batch);
    RUN(test_hold_of_a_sequence_not_handed_out_is_invalid);
    RUN(test_release_without_hold_is_invalid);
    RUN(test_hold_on_an_overwrite_ring_is_invalid);
    RUN(test_nested_holds_need_two_releases);
    RUN(test_reader_accessors_track_cursor_lag_and_delivered);
    RUN(test_pressure_flags_switch_at_exact_boundaries);
    RUN(test_stats_snapshot_reports_ring_and_readers);
    RUN(test_stats_of_a_lapped_overwrite_reader_report_lost_and_clamped_pressure);
    RUN(test_stats_with_null_arguments_is_invalid);
    RUN(test_strerror_names_every_status_distinctly);
    RUN(test_strerror_out_of_range_is_not_null);
    RUN(test_last_error_is_per_thread);
    RUN(test_last_error_survives_successful_calls);
    RUN(test_null_ring_and_writer_handles_are_invalid);
    RUN(test_null_arguments_on_live_handles_are_invalid);
    RUN(test_add_batch_publishes_all_in_order_with_their_types);
    RUN(test_add_batch_of_zero_or_beyond_capacity_is_invalid);
    RUN(test_a_wait_resumed_in_slices_counts_one_stall);
    RUN(test_a_multi_producer_wait_resumed_in_slices_counts_one_stall);
    RUN(test_two_interleaved_waits_on_one_thread_count_two_stalls);
    return check_report();
}
