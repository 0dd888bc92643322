/*
 * test_blocks.c — unit tests of the block API (csrc/block.c): next_block,
 * hold_range / release_range, claim_block and its view, add_rows.
 *
 * Each test builds its own ring (in caller memory where it must prove that a
 * block lies inside the ring) and checks one behaviour, error paths included.
 */
#include <pthread.h>
#include <unistd.h>

#include "check.h"

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define SP RR_PRODUCERS_SINGLE
#define MP RR_PRODUCERS_MULTI
#define SLOT 64u

/* ---- helpers ------------------------------------------------------------------ */

typedef struct fixture {
    rr_ring   *ring;
    rr_writer *w;
    rr_reader *r;
    void      *mem;   /* the ring's block (caller memory) */
    size_t     len;
} fixture;

/* A ring in caller memory with a writer and a reader (from the oldest). */
static int fx_open(fixture *f, uint64_t cap, rr_mode mode, rr_producers prod)
{
    rr_config cfg = { .slot_size = SLOT, .capacity = cap, .mode = mode, .producers = prod };
    memset(f, 0, sizeof *f);
    f->len = rr_ring_footprint(&cfg);
    f->mem = aligned_alloc(64, (f->len + 63) / 64 * 64);
    return f->mem && rr_ring_format(f->mem, f->len, &cfg, &f->ring) == RR_OK &&
           rr_writer_open(f->ring, &f->w) == RR_OK &&
           rr_reader_open(f->ring, RR_START_OLDEST, &f->r) == RR_OK;
}

static void fx_close(fixture *f)
{
    rr_reader_close(f->r);
    rr_writer_close(f->w);
    rr_ring_destroy(f->ring);
    free(f->mem);
}

static int inside_ring(const fixture *f, const void *p, size_t n)
{
    const unsigned char *b = f->mem, *q = p;
    return q >= b && q + n <= b + f->len;
}

/* Length of event s: 16 .. SLOT bytes. */
static uint32_t len_of(uint64_t s) { return 16u + (uint32_t)(s * 7 % (SLOT - 15u)); }
static uint32_t type_of(uint64_t s) { return (uint32_t)(s * 3 + 1); }

/* Publish events [from, to) one at a time, each carrying its sequence. */
static int add_range(rr_writer *w, uint64_t from, uint64_t to)
{
    unsigned char buf[SLOT];
    for (uint64_t s = from; s < to; s++) {
        payload_fill(buf, len_of(s), s, 0);
        uint64_t got = UINT64_MAX;
        if (rr_writer_add(w, buf, len_of(s), type_of(s), &got, 0) != RR_OK || got != s)
            return 0;
    }
    return 1;
}

static uint32_t blen(const rr_block *b, uint32_t i)
{
    return *(const uint32_t *)(const void *)((const char *)b->lengths + i * b->meta_stride);
}

static uint32_t btype(const rr_block *b, uint32_t i)
{
    return *(const uint32_t *)(const void *)((const char *)b->types + i * b->meta_stride);
}

/* 1 when every event of the block is intact, carries its sequence, and has
 * the length and type it was written with. */
static int block_ok(const rr_block *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        uint64_t seq = b->first_sequence + i, got = UINT64_MAX;
        if (blen(b, i) != len_of(seq) || btype(b, i) != type_of(seq) ||
            !payload_ok(b->data + i * b->stride, blen(b, i), 0, &got) || got != seq)
            return 0;
    }
    return 1;
}

/* ---- reading ------------------------------------------------------------------------ */

TEST(test_next_block_hands_out_consecutive_events_in_place)
{
    fixture f;
    CHECK(fx_open(&f, 16, BP, SP));
    CHECK(add_range(f.w, 0, 10));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 6, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 0);
    CHECK_EQ(b.count, 6);
    CHECK_EQ(b.slot_size, SLOT);
    CHECK(b.stride >= SLOT);
    CHECK(block_ok(&b));
    CHECK(inside_ring(&f, b.data, b.count * b.stride));
    CHECK(inside_ring(&f, b.lengths, 4));
    CHECK(inside_ring(&f, (const char *)b.types + 5 * b.meta_stride, 4));
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 6);
    CHECK_EQ(b.count, 4);
    CHECK(block_ok(&b));
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_EMPTY);
    CHECK_EQ(b.count, 0);
    CHECK_EQ(rr_reader_delivered(f.r), 10);
    CHECK_EQ(rr_reader_cursor(f.r), 10);
    fx_close(&f);
}

TEST(test_next_block_ends_at_the_ring_end_and_goes_on_at_slot_zero)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK(add_range(f.w, 0, 6));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 6, &b, 0), RR_OK);
    CHECK_EQ(b.count, 6);
    CHECK_ST(rr_reader_next_block(f.r, 6, &b, 0), RR_EMPTY);   /* moves on: room */
    CHECK(add_range(f.w, 6, 12));          /* slots 6, 7, then 0 .. 3 */
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 6);
    CHECK_EQ(b.count, 2);                  /* 6 and 7: the ring ends there */
    CHECK(block_ok(&b));
    const unsigned char *end = b.data + b.count * b.stride;
    CHECK(inside_ring(&f, b.data, b.count * b.stride));
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 8);
    CHECK_EQ(b.count, 4);
    CHECK(block_ok(&b));
    CHECK(b.data + 8 * b.stride == end);   /* slot 0: a full ring of slots before */
    fx_close(&f);
}

TEST(test_next_block_of_one_slot_at_the_ring_end)
{
    fixture f;
    CHECK(fx_open(&f, 4, BP, SP));
    CHECK(add_range(f.w, 0, 3));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 3, &b, 0), RR_OK);
    CHECK_ST(rr_reader_next_block(f.r, 3, &b, 0), RR_EMPTY);
    CHECK(add_range(f.w, 3, 6));
    CHECK_ST(rr_reader_next_block(f.r, 10, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 3);
    CHECK_EQ(b.count, 1);
    CHECK_ST(rr_reader_next_block(f.r, 10, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 4);
    CHECK_EQ(b.count, 2);
    CHECK(block_ok(&b));
    fx_close(&f);
}

TEST(test_abandoned_claims_end_a_block_and_are_counted_in_skipped)
{
    fixture f;
    CHECK(fx_open(&f, 16, BP, MP));
    CHECK(add_range(f.w, 0, 3));
    rr_claim c;
    CHECK_ST(rr_writer_claim(f.w, 2, 0, &c, 0), RR_OK);     /* 3 and 4 */
    CHECK_ST(rr_writer_abandon(f.w, &c), RR_OK);
    unsigned char buf[SLOT];
    for (uint64_t s = 5; s < 8; s++) {
        payload_fill(buf, len_of(s), s, 0);
        CHECK_ST(rr_writer_add(f.w, buf, len_of(s), type_of(s), NULL, 0), RR_OK);
    }
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 0);
    CHECK_EQ(b.count, 3);                  /* ends before the abandoned slot */
    CHECK_EQ(rr_reader_skipped(f.r), 0);
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 5);
    CHECK_EQ(b.count, 3);
    CHECK(block_ok(&b));
    CHECK_EQ(rr_reader_skipped(f.r), 2);
    CHECK_EQ(rr_reader_delivered(f.r) + rr_reader_skipped(f.r) + rr_reader_lost(f.r),
             rr_reader_cursor(f.r));
    fx_close(&f);
}

TEST(test_overwrite_blocks_are_verified_copies_outside_the_ring)
{
    fixture f;
    CHECK(fx_open(&f, 16, OW, SP));
    CHECK(add_range(f.w, 0, 10));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 0);
    CHECK_EQ(b.count, 10);
    CHECK(block_ok(&b));
    CHECK(!inside_ring(&f, b.data, 1));
    CHECK(!inside_ring(&f, b.lengths, 4));
    /* the copy stays as it was while the writer refills the slots */
    CHECK(add_range(f.w, 10, 26));
    CHECK(block_ok(&b));
    CHECK_EQ(b.first_sequence, 0);
    fx_close(&f);
}

TEST(test_overwrite_block_is_at_most_the_batch_limit)
{
    rr_config cfg = { .slot_size = 4096, .capacity = 64, .mode = OW, .producers = SP };
    rr_ring *ring;
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    size_t limit = rr_reader_batch_limit(r);
    CHECK(limit >= 1 && limit < 64);
    static unsigned char buf[4096];
    for (int i = 0; i < 64; i++)
        CHECK_ST(rr_writer_add(w, buf, sizeof buf, 0, NULL, 0), RR_OK);
    rr_block b;
    CHECK_ST(rr_reader_next_block(r, 1000, &b, 0), RR_OK);
    CHECK_EQ(b.count, limit);
    rr_reader_close(r);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_lapped_overwrite_block_counts_what_it_lost)
{
    fixture f;
    CHECK(fx_open(&f, 8, OW, SP));
    CHECK(add_range(f.w, 0, 4));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 2, &b, 0), RR_OK);    /* 0, 1 */
    CHECK(add_range(f.w, 4, 30));          /* laps the reader at 2 */
    CHECK_ST(rr_reader_next_block(f.r, 100, &b, 0), RR_OK);
    CHECK(b.first_sequence > 2);
    CHECK(b.first_sequence >= 30 - 8);     /* only what the ring still holds */
    CHECK(block_ok(&b));
    CHECK_EQ(rr_reader_lost(f.r), b.first_sequence - 2);
    uint64_t delivered = 2 + b.count;
    while (rr_reader_next_block(f.r, 100, &b, 0) == RR_OK) {
        CHECK(block_ok(&b));
        delivered += b.count;
    }
    CHECK_EQ(rr_reader_cursor(f.r), 30);
    CHECK_EQ(rr_reader_delivered(f.r), delivered);
    CHECK_EQ(rr_reader_delivered(f.r) + rr_reader_lost(f.r), 30);
    fx_close(&f);
}

TEST(test_next_block_waits_for_the_first_event_and_reports_timeout_and_close)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 4, &b, 0), RR_EMPTY);
    CHECK_ST(rr_reader_next_block(f.r, 4, &b, MS(5)), RR_TIMEOUT);
    CHECK(add_range(f.w, 0, 2));
    CHECK_ST(rr_ring_close(f.ring), RR_OK);
    CHECK_ST(rr_reader_next_block(f.r, 4, &b, MS(5)), RR_OK);   /* drains first */
    CHECK_EQ(b.count, 2);
    CHECK_ST(rr_reader_next_block(f.r, 4, &b, MS(5)), RR_CLOSED);
    fx_close(&f);
}

TEST(test_next_block_with_bad_arguments_is_invalid)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK(add_range(f.w, 0, 2));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 0, &b, 0), RR_INVALID);
    CHECK(strstr(rr_last_error(), "max") != NULL);
    CHECK_ST(rr_reader_next_block(f.r, 4, NULL, 0), RR_INVALID);
    CHECK_ST(rr_reader_next_block(NULL, 4, &b, 0), RR_INVALID);
    CHECK_ST(rr_reader_next_block(f.r, 4, &b, 0), RR_OK);    /* nothing was consumed */
    CHECK_EQ(b.count, 2);
    fx_close(&f);
}

TEST(test_moving_on_from_a_block_releases_its_slots_to_the_writer)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK(add_range(f.w, 0, 8));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(rr_reader_pinned(f.r), 8);
    CHECK(!add_range(f.w, 8, 9));          /* the block pins every slot */
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_EMPTY);
    CHECK_EQ(rr_reader_pinned(f.r), 0);
    CHECK(add_range(f.w, 8, 16));
    fx_close(&f);
}

/* ---- holding ranges ---------------------------------------------------------------- */

TEST(test_hold_range_keeps_a_block_pinned_until_release_range)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK(add_range(f.w, 0, 8));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_ST(rr_reader_hold_range(f.r, 2, 4), RR_OK);       /* 2 .. 5 */
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_EMPTY);
    CHECK_EQ(rr_reader_pinned(f.r), 6);    /* 2 .. 7: the gate stays at 2 */
    CHECK(add_range(f.w, 8, 10));          /* slots 0, 1 came free */
    CHECK(!add_range(f.w, 10, 11));
    CHECK_ST(rr_reader_release_range(f.r, 2, 4), RR_OK);
    CHECK_EQ(rr_reader_pinned(f.r), 0);
    CHECK(add_range(f.w, 10, 16));
    fx_close(&f);
}

TEST(test_hold_range_and_release_range_are_all_or_none)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK(add_range(f.w, 0, 6));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);    /* 0 .. 5 */
    CHECK_ST(rr_reader_hold_range(f.r, 4, 3), RR_INVALID);   /* 6 was never handed out */
    CHECK(strstr(rr_last_error(), "holds [0, 6)") != NULL);
    CHECK_ST(rr_reader_hold_range(f.r, 0, 0), RR_INVALID);
    CHECK_ST(rr_reader_hold_range(f.r, 1, 2), RR_OK);        /* 1, 2 */
    CHECK_ST(rr_reader_release_range(f.r, 1, 3), RR_INVALID); /* 3 is not held */
    CHECK(strstr(rr_last_error(), "event 3 is not held") != NULL);
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_EMPTY);
    CHECK_EQ(rr_reader_pinned(f.r), 5);    /* 1 .. 5: both holds still stand */
    CHECK_ST(rr_reader_release_range(f.r, 1, 1), RR_OK);
    CHECK_EQ(rr_reader_pinned(f.r), 4);
    CHECK_ST(rr_reader_release_range(f.r, 2, 1), RR_OK);
    CHECK_EQ(rr_reader_pinned(f.r), 0);
    CHECK_ST(rr_reader_release_range(f.r, 2, 1), RR_INVALID);
    fx_close(&f);
}

TEST(test_hold_range_in_an_overwrite_ring_is_invalid)
{
    fixture f;
    CHECK(fx_open(&f, 8, OW, SP));
    CHECK(add_range(f.w, 0, 4));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_ST(rr_reader_hold_range(f.r, 0, 2), RR_INVALID);
    CHECK(strstr(rr_last_error(), "copies") != NULL);
    CHECK_ST(rr_reader_release_range(f.r, 0, 2), RR_INVALID);
    CHECK_ST(rr_reader_hold_range(NULL, 0, 2), RR_INVALID);
    fx_close(&f);
}

/* ---- claiming blocks ----------------------------------------------------------------- */

/* Fill the claim through its view: event i carries sequence c->sequence + i. */
static int fill_view(const rr_claim *c, const rr_claim_view *v)
{
    for (uint32_t i = 0; i < c->count; i++) {
        uint64_t s = c->sequence + i;
        payload_fill(v->data + i * v->stride, len_of(s), s, 0);
        *(uint32_t *)(void *)((char *)v->lengths + i * v->meta_stride) = len_of(s);
        *(uint32_t *)(void *)((char *)v->types + i * v->meta_stride) = type_of(s);
    }
    return 1;
}

static void claim_block_stops_at_the_ring_end(rr_producers prod)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, prod));
    CHECK(add_range(f.w, 0, 6));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim_block(f.w, 5, 9, &c, 0), RR_OK);
    CHECK_EQ(c.sequence, 6);
    CHECK_EQ(c.count, 2);                  /* slots 6 and 7 */
    rr_claim_view v;
    CHECK_ST(rr_claim_view_get(&c, &v), RR_OK);
    CHECK(v.data == rr_claim_data(&c, 0));
    CHECK(v.data + v.stride == rr_claim_data(&c, 1));
    CHECK(inside_ring(&f, v.data, 2 * v.stride));
    CHECK_EQ(*v.lengths, SLOT);            /* a claimed slot starts full length ... */
    CHECK_EQ(*v.types, 9);                 /* ... with the claim's type */
    CHECK(fill_view(&c, &v));
    CHECK_ST(rr_writer_publish(f.w, &c), RR_OK);
    CHECK_ST(rr_reader_next_block(f.r, 2, &b, 0), RR_OK);   /* 6, 7; releases 0 .. 5 */
    CHECK_EQ(b.first_sequence, 6);
    CHECK_EQ(b.count, 2);
    CHECK(block_ok(&b));
    CHECK_ST(rr_writer_claim_block(f.w, 5, 0, &c, 0), RR_OK);
    CHECK_EQ(c.sequence, 8);
    CHECK_EQ(c.count, 5);                  /* from slot 0: as many as asked */
    CHECK_ST(rr_claim_view_get(&c, &v), RR_OK);
    CHECK(fill_view(&c, &v));
    CHECK_ST(rr_writer_publish(f.w, &c), RR_OK);
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 8);
    CHECK_EQ(b.count, 5);
    CHECK(block_ok(&b));
    fx_close(&f);
}

TEST(test_claim_block_stops_at_the_ring_end_single_producer) { claim_block_stops_at_the_ring_end(SP); }
TEST(test_claim_block_stops_at_the_ring_end_multi_producer) { claim_block_stops_at_the_ring_end(MP); }

/* A producer waiting in claim_block for room at one claim cursor, while
 * another producer moves the cursor near the ring's end: the block it can
 * take there is shorter, and it takes it as soon as that fits, rather than
 * waiting for room for the longer block it could have had before. */
struct blocked_claim {
    rr_writer *w;
    rr_claim   c;
    rr_status  st;
};

static void *claim_block_of_six(void *arg)
{
    struct blocked_claim *a = arg;
    a->st = rr_writer_claim_block(a->w, 6, 7, &a->c, 30 * 1000000000LL);
    return NULL;
}

TEST(test_a_waiting_multi_producer_claim_block_takes_the_shorter_block_left_at_a_moved_cursor)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, MP));
    rr_writer *wb;
    CHECK_ST(rr_writer_open(f.ring, &wb), RR_OK);
    CHECK(add_range(wb, 0, 8));
    rr_event ev[8];
    size_t n;
    CHECK_ST(rr_reader_next_batch(f.r, ev, 8, &n, 0), RR_OK);
    CHECK_EQ(n, 8);
    CHECK_ST(rr_reader_hold(f.r, 5), RR_OK);
    CHECK_ST(rr_reader_next(f.r, ev, 0), RR_EMPTY);      /* gate 5: room up to 13 */
    /* A wants 6 at 8, up to 14: it waits */
    struct blocked_claim a = { .w = f.w };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, claim_block_of_six, &a) == 0);
    rr_ring_stats s;
    CHECK(WAIT_UNTIL(rr_ring_stats_get(f.ring, &s) == RR_OK && s.writer_stalls > 0, 30));
    /* B takes 8..12: the cursor is 13, slot 5, three slots before the end */
    CHECK(add_range(wb, 8, 13));
    CHECK_ST(rr_reader_next_batch(f.r, ev, 8, &n, 0), RR_OK);
    CHECK_EQ(n, 5);
    CHECK_ST(rr_reader_hold(f.r, 8), RR_OK);
    CHECK_ST(rr_reader_release(f.r, 5), RR_OK);        /* gate 8: room up to 16 */
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_ST(a.st, RR_OK);
    CHECK_EQ(a.c.sequence, 13);
    CHECK_EQ(a.c.count, 3);
    CHECK_ST(rr_writer_abandon(f.w, &a.c), RR_OK);
    CHECK_ST(rr_reader_release(f.r, 8), RR_OK);
    rr_writer_close(wb);
    fx_close(&f);
}

TEST(test_publish_refuses_a_length_larger_than_the_slot_and_publishes_nothing)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    rr_claim c;
    CHECK_ST(rr_writer_claim_block(f.w, 4, 0, &c, 0), RR_OK);
    rr_claim_view v;
    CHECK_ST(rr_claim_view_get(&c, &v), RR_OK);
    CHECK(fill_view(&c, &v));
    uint32_t *len2 = (uint32_t *)(void *)((char *)v.lengths + 2 * v.meta_stride);
    *len2 = SLOT + 1;
    CHECK_ST(rr_writer_publish(f.w, &c), RR_TOO_LARGE);
    CHECK(strstr(rr_last_error(), "event 2") != NULL);
    CHECK(strstr(rr_last_error(), "65") != NULL);
    CHECK_EQ(rr_ring_published(f.ring), 0);
    *len2 = UINT32_MAX;                    /* nor may a length pass for "abandoned" */
    CHECK_ST(rr_writer_publish(f.w, &c), RR_TOO_LARGE);
    CHECK_EQ(rr_ring_published(f.ring), 0);
    *len2 = len_of(2);                     /* the claim stayed open: fix it, publish */
    CHECK_ST(rr_writer_publish(f.w, &c), RR_OK);
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(b.count, 4);
    CHECK(block_ok(&b));
    fx_close(&f);
}

TEST(test_claim_view_of_a_wrapping_or_finished_claim_is_invalid)
{
    fixture f;
    CHECK(fx_open(&f, 8, OW, SP));
    CHECK(add_range(f.w, 0, 6));
    rr_claim c;
    rr_claim_view v;
    CHECK_ST(rr_writer_claim(f.w, 4, 0, &c, 0), RR_OK);     /* slots 6, 7, 0, 1 */
    CHECK_ST(rr_claim_view_get(&c, &v), RR_INVALID);
    CHECK(strstr(rr_last_error(), "wraps") != NULL);
    CHECK_ST(rr_writer_abandon(f.w, &c), RR_OK);
    CHECK_ST(rr_claim_view_get(&c, &v), RR_INVALID);        /* no longer open */
    CHECK_ST(rr_claim_view_get(NULL, &v), RR_INVALID);
    CHECK_ST(rr_writer_claim_block(f.w, 0, 0, &c, 0), RR_INVALID);
    CHECK_ST(rr_writer_claim_block(f.w, 9, 0, &c, 0), RR_INVALID);   /* > capacity */
    fx_close(&f);
}

/* ---- adding rows --------------------------------------------------------------------- */

/* n rows of `row` bytes, each carrying sequence first + i at length len_of. */
static unsigned char *rows_make(uint64_t first, size_t n, size_t row, uint32_t *lens,
                                uint32_t *types)
{
    unsigned char *m = calloc(n, row);
    for (size_t i = 0; m && i < n; i++) {
        lens[i] = len_of(first + i);
        types[i] = type_of(first + i);
        payload_fill(m + i * row, lens[i], first + i, 0);
    }
    return m;
}

TEST(test_add_rows_publishes_every_row_and_wraps_around_the_ring_end)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK(add_range(f.w, 0, 6));
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_EMPTY);
    uint32_t lens[5], types[5];
    unsigned char *rows = rows_make(6, 5, SLOT, lens, types);
    CHECK(rows);
    uint64_t first = 0;
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT, SLOT, 5, lens, types, 0, &first, 0), RR_OK);
    CHECK_EQ(first, 6);
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(b.count, 2);
    CHECK(block_ok(&b));
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 8);
    CHECK_EQ(b.count, 3);
    CHECK(block_ok(&b));
    free(rows);
    fx_close(&f);
}

TEST(test_add_rows_without_lengths_or_types_uses_the_row_width_and_event_type)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, MP));
    unsigned char rows[3][40];
    for (int i = 0; i < 3; i++)
        memset(rows[i], 'a' + i, sizeof rows[i]);
    CHECK_ST(rr_writer_add_rows(f.w, rows, 40, 24, 3, NULL, NULL, 77, NULL, 0), RR_OK);
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(b.count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(blen(&b, i), 24);
        CHECK_EQ(btype(&b, i), 77);
        CHECK(memcmp(b.data + i * b.stride, rows[i], 24) == 0);
    }
    fx_close(&f);
}

TEST(test_add_rows_is_all_or_none_when_the_ring_has_no_room)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK(add_range(f.w, 0, 5));
    uint32_t lens[4], types[4];
    unsigned char *rows = rows_make(5, 4, SLOT, lens, types);
    CHECK(rows);
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT, SLOT, 4, lens, types, 0, NULL, 0), RR_FULL);
    CHECK_EQ(rr_ring_published(f.ring), 5);
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT, SLOT, 3, lens, types, 0, NULL, 0), RR_OK);
    CHECK_EQ(rr_ring_published(f.ring), 8);
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(b.count, 8);
    CHECK(block_ok(&b));
    free(rows);
    fx_close(&f);
}

TEST(test_add_rows_with_bad_input_is_refused_and_publishes_nothing)
{
    fixture f;
    CHECK(fx_open(&f, 8, OW, SP));
    unsigned char rows[4][SLOT + 8];
    memset(rows, 1, sizeof rows);
    uint32_t lens[4] = { 8, 8, SLOT, 8 };
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT + 8, SLOT + 8, 4, NULL, NULL, 0, NULL, 0),
             RR_TOO_LARGE);
    CHECK(strstr(rr_last_error(), "72") && strstr(rr_last_error(), "64"));
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT + 8, 16, 4, lens, NULL, 0, NULL, 0), RR_INVALID);
    CHECK(strstr(rr_last_error(), "row 2") != NULL);
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT, SLOT, 0, NULL, NULL, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT, SLOT, 9, NULL, NULL, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_add_rows(f.w, NULL, SLOT, SLOT, 2, NULL, NULL, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_add_rows(NULL, rows, SLOT, SLOT, 2, NULL, NULL, 0, NULL, 0), RR_INVALID);
    CHECK_EQ(rr_ring_published(f.ring), 0);
    CHECK_ST(rr_writer_add_rows(f.w, rows, SLOT + 8, SLOT, 4, NULL, NULL, 0, NULL, 0), RR_OK);
    CHECK_EQ(rr_ring_published(f.ring), 4);
    fx_close(&f);
}

TEST(test_add_rows_of_empty_rows_publishes_empty_events)
{
    fixture f;
    CHECK(fx_open(&f, 8, BP, SP));
    CHECK_ST(rr_writer_add_rows(f.w, NULL, 0, 0, 3, NULL, NULL, 5, NULL, 0), RR_OK);
    rr_block b;
    CHECK_ST(rr_reader_next_block(f.r, 8, &b, 0), RR_OK);
    CHECK_EQ(b.count, 3);
    CHECK_EQ(blen(&b, 2), 0);
    CHECK_EQ(btype(&b, 2), 5);
    fx_close(&f);
}

/* Rows as far apart as the ring's slots are copied in one run, except where
 * the gaps between payloads are not padding: a small slot's metadata sits in
 * the gap before its payload (layout.h), and a run copy across it would
 * overwrite the stamps, lengths and types of the events it writes. */
TEST(test_add_rows_at_the_slot_stride_keeps_every_small_slots_metadata)
{
    static const size_t slots[] = { 8, 16, 40, 48, 64, 100 };
    for (size_t k = 0; k < sizeof slots / sizeof slots[0]; k++) {
        rr_config cfg = { .slot_size = slots[k], .capacity = 6, .mode = BP, .producers = SP };
        rr_ring *ring;
        rr_writer *w;
        rr_reader *r;
        CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
        CHECK_ST(rr_writer_open(ring, &w), RR_OK);
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
        rr_claim c;   /* the ring's stride, from a claim's view */
        rr_claim_view v;
        CHECK_ST(rr_writer_claim_block(w, 1, 0, &c, 0), RR_OK);
        CHECK_ST(rr_claim_view_get(&c, &v), RR_OK);
        CHECK_ST(rr_writer_abandon(w, &c), RR_OK);
        size_t stride = v.stride;
        for (int round = 0; round < 3; round++) {   /* 4 rows: the second and third wrap */
            unsigned char rows[4 * 128];
            memset(rows, 0xA5, sizeof rows);   /* the gaps: what a run copy would spread */
            for (uint64_t i = 0; i < 4; i++) {
                uint64_t s = (uint64_t)round * 4 + i;
                memcpy(rows + i * stride, &s, slots[k] < 8 ? slots[k] : 8);
            }
            uint64_t first = 0;
            CHECK_ST(rr_writer_add_rows(w, rows, stride, slots[k], 4, NULL, NULL, 9, &first, 0),
                     RR_OK);
            CHECK_EQ(first, (uint64_t)round * 4);
            for (uint64_t i = 0; i < 4; i++) {
                rr_event ev;
                uint64_t got = 0;
                CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
                memcpy(&got, ev.data, 8);
                CHECK(ev.sequence == first + i && ev.len == slots[k] && ev.event_type == 9);
                CHECK_EQ(got, first + i);
            }
        }
        rr_reader_close(r);
        rr_writer_close(w);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
    }
}

int main(void)
{
    alarm(300); /* a call that never returns fails the suite instead of hanging CI */
    RUN(test_next_block_hands_out_consecutive_events_in_place);
    RUN(test_next_block_ends_at_the_ring_end_and_goes_on_at_slot_zero);
    RUN(test_next_block_of_one_slot_at_the_ring_end);
    RUN(test_abandoned_claims_end_a_block_and_are_counted_in_skipped);
    RUN(test_overwrite_blocks_are_verified_copies_outside_the_ring);
    RUN(test_overwrite_block_is_at_most_the_batch_limit);
    RUN(test_a_lapped_overwrite_block_counts_what_it_lost);
    RUN(test_next_block_waits_for_the_first_event_and_reports_timeout_and_close);
    RUN(test_next_block_with_bad_arguments_is_invalid);
    RUN(test_moving_on_from_a_block_releases_its_slots_to_the_writer);
    RUN(test_hold_range_keeps_a_block_pinned_until_release_range);
    RUN(test_hold_range_and_release_range_are_all_or_none);
    RUN(test_hold_range_in_an_overwrite_ring_is_invalid);
    RUN(test_claim_block_stops_at_the_ring_end_single_producer);
    RUN(test_claim_block_stops_at_the_ring_end_multi_producer);
    RUN(test_a_waiting_multi_producer_claim_block_takes_the_shorter_block_left_at_a_moved_cursor);
    RUN(test_publish_refuses_a_length_larger_than_the_slot_and_publishes_nothing);
    RUN(test_claim_view_of_a_wrapping_or_finished_claim_is_invalid);
    RUN(test_add_rows_publishes_every_row_and_wraps_around_the_ring_end);
    RUN(test_add_rows_without_lengths_or_types_uses_the_row_width_and_event_type);
    RUN(test_add_rows_is_all_or_none_when_the_ring_has_no_room);
    RUN(test_add_rows_with_bad_input_is_refused_and_publishes_nothing);
    RUN(test_add_rows_of_empty_rows_publishes_empty_events);
    RUN(test_add_rows_at_the_slot_stride_keeps_every_small_slots_metadata);
    return check_report();
}
