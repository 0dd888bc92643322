/*
 * stress_blocks.c — writers and a reader that move every event by the block.
 *
 * Writers publish with rr_writer_add_rows (claims that may wrap) and with
 * rr_writer_claim_block filled through its view (claims that end at the
 * ring's end), and now and then fill a block claim with junk and abandon it.
 * Every payload carries its writer's own count and a checksum, and its type
 * names the writer and the count. The reader takes rr_reader_next_block with
 * a random max and verifies every event of every block: intact, of the length
 * and type written, each writer's counts in order; block sequences strictly
 * increasing, no block longer than asked, none crossing the ring's end.
 *
 * Backpressure: every event arrives exactly once, nothing is lost, and the
 * reader skips exactly the abandoned events (several producers; a single
 * producer reuses abandoned sequences). Overwrite: the reader stops now and
 * then until the writers are laps ahead, so it is lapped every run; it is
 * never handed a torn event, re-verifies each block (a copy no writer
 * touches) after the writers went on, and delivered + lost + skipped equals
 * every sequence it passed.
 */
#include <pthread.h>
#include <stdbool.h>

#include "check.h"
#include "stress.h"

#define SLOT       128u
#define MAX_ROWS   64u
#define WAIT_NS    SEC(30)
#define WAIT_S     30.0
#define MAX_WRITERS 2

static uint32_t ev_len(uint64_t i)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
    return 16u + (uint32_t)((h >> 40) % (SLOT - 15u));
}

/* The writer in the top byte, its count's low 24 bits below. */
static uint32_t ev_type(uint32_t writer, uint64_t i)
{
    return writer << 24 | (uint32_t)(i & 0xffffff);
}

static uint32_t salt_of(uint32_t writer) { return 0x51ab0000u + writer; }

typedef struct run_params {
    rr_mode      mode;
    rr_producers producers;
    uint64_t     capacity;
    uint64_t     events;        /* per writer */
    int          writers;
} run_params;

typedef struct bw {
    worker            w;
    rr_writer        *wr;
    const run_params *p;
    _Atomic uint64_t *reader_at;   /* the reader's cursor, as it last said */
    uint32_t          id;
    uint64_t          abandoned; /* events of claims given up */
} bw;

typedef struct br {
    worker            w;
    rr_reader        *r;
    const run_params *p;
    atomic_int       *writers_done;
    _Atomic uint64_t *at;          /* its cursor, for the writers */
    uint64_t          delivered, lost, skipped, blocks, pauses;
} br;

/* Rows of SLOT bytes with a length each; now and then (`narrow`) no lengths:
 * rows as wide as the longest event, every event that wide. */
static rr_status write_rows(bw *b, uint64_t i, uint32_t n, bool narrow)
{
    static _Thread_local unsigned char rows[MAX_ROWS][SLOT];
    static _Thread_local uint32_t lens[MAX_ROWS], types[MAX_ROWS];
    uint32_t row = 0;
    for (uint32_t k = 0; k < n; k++) {
        lens[k] = ev_len(i + k);
        types[k] = ev_type(b->id, i + k);
        if (lens[k] > row) row = lens[k];
    }
    for (uint32_t k = 0; k < n; k++)
        payload_fill(rows[k], narrow ? row : lens[k], i + k, salt_of(b->id));
    int64_t t = b->p->mode == RR_MODE_BACKPRESSURE || b->p->producers == RR_PRODUCERS_MULTI
                    ? WAIT_NS : 0;
    return narrow ? rr_writer_add_rows(b->wr, rows, SLOT, row, n, NULL, types, 0, NULL, t)
                  : rr_writer_add_rows(b->wr, rows, SLOT, SLOT, n, lens, types, 0, NULL, t);
}

/* A block claim of at most n, filled with events i, i + 1, ...; *done: how many. */
static rr_status write_claim(bw *b, uint64_t i, uint32_t n, bool junk, uint32_t *done)
{
    worker *w = &b->w;
    rr_claim c;
    int64_t t = b->p->mode == RR_MODE_BACKPRESSURE || b->p->producers == RR_PRODUCERS_MULTI
                    ? WAIT_NS : 0;
    rr_status st = rr_writer_claim_block(b->wr, n, 0, &c, t);
    *done = 0;
    if (st != RR_OK)
        return st;
    if (c.count < 1 || c.count > n) {
        worker_fail(w, __LINE__, "claim_block of %u gave %u", n, c.count);
        return RR_INVALID;
    }
    rr_claim_view v;
    st = rr_claim_view_get(&c, &v);
    if (st != RR_OK)
        return st;
    for (uint32_t k = 0; k < c.count; k++) {
        uint32_t *len = (uint32_t *)(void *)((char *)v.lengths + k * v.meta_stride);
        uint32_t *type = (uint32_t *)(void *)((char *)v.types + k * v.meta_stride);
        if (junk) {
            memset(v.data + k * v.stride, 0xEE, SLOT);
            *len = SLOT;
            *type = 0xEEEEEEEE;
        } else {
            payload_fill(v.data + k * v.stride, ev_len(i + k), i + k, salt_of(b->id));
            *len = ev_len(i + k);
            *type = ev_type(b->id, i + k);
        }
    }
    if (junk) {
        b->abandoned += c.count;
        return rr_writer_abandon(b->wr, &c);
    }
    *done = c.count;
    return rr_writer_publish(b->wr, &c);
}

static void bw_run(bw *b)
{
    worker *w = &b->w;
    uint64_t rng = 0x2545F4914F6CDD1Dull * (b->id + 1), i = 0;
    const uint64_t n_events = b->p->events;
    while (i < n_events) {
        uint32_t op = rng_next(&rng);
        uint32_t n = 1 + rng_next(&rng) % MAX_ROWS;
        if (n > b->p->capacity) n = (uint32_t)b->p->capacity;
        if (n > n_events - i) n = (uint32_t)(n_events - i);
        /* overwrite: lap the reader, but not so far that it reads almost nothing */
        if (b->p->mode == RR_MODE_OVERWRITE &&
            !WAIT_UNTIL(rr_ring_published(w->ring) < atomic_load(b->reader_at) +
                        6 * b->p->capacity || atomic_load(w->failed), WAIT_S))
            W_FAIL(w, "the reader is stuck at %" PRIu64, atomic_load(b->reader_at));
        rr_status st;
        uint32_t done = n;
        if (op % 2 == 0)
            st = write_rows(b, i, n, rng_next(&rng) % 4 == 0);
        else
            st = write_claim(b, i, n, op % 64 == 1, &done);
        if (st == RR_CLOSED && atomic_load(w->failed)) return;
        if (atomic_load(w->failed)) return;
        W_CHECK_OK(w, st, op % 2 == 0 ? "rr_writer_add_rows" : "a block claim", i);
        i += done;
    }
}

/* `last` (may be NULL: the payload alone is checked): each writer's last count. */
static bool event_ok(br *rd, const rr_block *b, uint32_t k, uint64_t *last)
{
    worker *w = &rd->w;
    uint32_t len = *(const uint32_t *)(const void *)((const char *)b->lengths + k * b->meta_stride);
    uint32_t type = *(const uint32_t *)(const void *)((const char *)b->types + k * b->meta_stride);
    uint32_t id = type >> 24;
    uint64_t seq = b->first_sequence + k, i = UINT64_MAX;
    if ((int)id >= rd->p->writers) {
        worker_fail(w, __LINE__, "event %" PRIu64 ": type %#x names no writer", seq, type);
        return false;
    }
    const unsigned char *data = b->data + (size_t)k * b->stride;
    if (!payload_ok(data, len, salt_of(id), &i) || i >= rd->p->events ||
        len < ev_len(i) || len > SLOT || type != ev_type(id, i)) {
        worker_fail(w, __LINE__, "event %" PRIu64 " (block of %u from %" PRIu64 "): torn or "
                    "wrong: len %u type %#x count %" PRIu64, seq, b->count, b->first_sequence,
                    len, type, i);
        return false;
    }
    bool exact = rd->p->mode == RR_MODE_BACKPRESSURE;
    if (!last)
        return true;
    if (last[id] != UINT64_MAX && (exact ? i != last[id] + 1 : i <= last[id])) {
        worker_fail(w, __LINE__, "writer %u: count %" PRIu64 " after %" PRIu64, id, i, last[id]);
        return false;
    }
    if (exact && last[id] == UINT64_MAX && i != 0) {
        worker_fail(w, __LINE__, "writer %u: first count %" PRIu64, id, i);
        return false;
    }
    last[id] = i;
    return true;
}

static void br_run(br *rd)
{
    worker *w = &rd->w;
    const run_params *p = rd->p;
    uint64_t rng = 0x9E3779B97F4A7C15ull, last[MAX_WRITERS], next_seq = 0;
    for (int k = 0; k < MAX_WRITERS; k++) last[k] = UINT64_MAX;
    rr_block b;
    for (;;) {
        if (p->mode == RR_MODE_OVERWRITE && (rd->blocks == 1 || rng_next(&rng) % 16 == 0)) {
            /* stop until the writers are laps ahead: the next block comes after a
             * lap (always after the first block, so that even a short run laps) */
            uint64_t target = rr_reader_cursor(rd->r) + 3 * p->capacity;
            if (!WAIT_UNTIL(rr_ring_published(w->ring) >= target ||
                            atomic_load(rd->writers_done), WAIT_S))
                W_FAIL(w, "writers stuck at %" PRIu64, rr_ring_published(w->ring));
            rd->pauses++;
        }
        size_t max = 1 + rng_next(&rng) % 200;
        rr_status st = rr_reader_next_block(rd->r, max, &b, WAIT_NS);
        if (st == RR_CLOSED) break;
        W_CHECK_OK(w, st, "rr_reader_next_block", next_seq);
        W_CHECK(w, b.count >= 1 && b.count <= max && b.first_sequence >= next_seq,
                "block of %u from %" PRIu64 " for max %zu after %" PRIu64, b.count,
                b.first_sequence, max, next_seq);
        W_CHECK(w, b.first_sequence % p->capacity + b.count <= p->capacity,
                "block of %u from %" PRIu64 " crosses the ring's end", b.count,
                b.first_sequence);
        for (uint32_t k = 0; k < b.count; k++)
            if (!event_ok(rd, &b, k, last)) return;
        next_seq = b.first_sequence + b.count;
        rd->delivered += b.count;
        rd->blocks++;
        /* the block stays the reader's until its next call */
        if (rng_next(&rng) % 8 == 0) {
            for (int spin = 0; spin < 200; spin++) sched_yield();
            for (uint32_t k = 0; k < b.count; k++)
                if (!event_ok(rd, &b, k, NULL)) return;
        }
        uint64_t cur = rr_reader_cursor(rd->r);
        atomic_store(rd->at, cur);
        W_CHECK(w, rr_reader_delivered(rd->r) + rr_reader_lost(rd->r) +
                   rr_reader_skipped(rd->r) == cur && cur == next_seq,
                "delivered %" PRIu64 " + lost %" PRIu64 " + skipped %" PRIu64
                " != cursor %" PRIu64 " (block ends at %" PRIu64 ")",
                rr_reader_delivered(rd->r), rr_reader_lost(rd->r), rr_reader_skipped(rd->r),
                cur, next_seq);
    }
    rd->lost = rr_reader_lost(rd->r);
    rd->skipped = rr_reader_skipped(rd->r);
    W_CHECK(w, rd->delivered == rr_reader_delivered(rd->r), "counted %" PRIu64
            ", the core says %" PRIu64, rd->delivered, rr_reader_delivered(rd->r));
    if (p->mode == RR_MODE_BACKPRESSURE)
        for (int k = 0; k < p->writers; k++)
            W_CHECK(w, last[k] == p->events - 1, "writer %d: last count %" PRIu64, k, last[k]);
}

static void *bw_main(void *a) { bw_run(a); return NULL; }
static void *br_main(void *a) { br_run(a); return NULL; }

static void blocks_run(rr_mode mode, rr_producers prod, uint64_t capacity, uint64_t events)
{
    run_params p = { mode, prod, capacity, events, prod == RR_PRODUCERS_MULTI ? 2 : 1 };
    rr_config cfg = { .slot_size = SLOT, .capacity = capacity, .mode = mode, .producers = prod };
    rr_ring *ring = NULL;
    atomic_int failed = 0, writers_done = 0;
    _Atomic uint64_t reader_at = 0;
    CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
    static const char *names[MAX_WRITERS] = { "writer 0", "writer 1" };
    bw ws[MAX_WRITERS];
    for (int k = 0; k < p.writers; k++) {
        ws[k] = (bw){ .w = { names[k], ring, &failed, "" }, .p = &p, .id = (uint32_t)k,
                      .reader_at = &reader_at };
        CHECK_ST(rr_writer_open(ring, &ws[k].wr), RR_OK);
    }
    br rd = { .w = { "reader", ring, &failed, "" }, .p = &p, .writers_done = &writers_done,
            .at = &reader_at };
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &rd.r), RR_OK);

    pthread_t tw[MAX_WRITERS], tr;
    double t0 = check_now();
    CHECK(pthread_create(&tr, NULL, br_main, &rd) == 0);
    for (int k = 0; k < p.writers; k++)
        CHECK(pthread_create(&tw[k], NULL, bw_main, &ws[k]) == 0);
    for (int k = 0; k < p.writers; k++) pthread_join(tw[k], NULL);
    atomic_store(&writers_done, 1);
    rr_ring_close(ring);
    pthread_join(tr, NULL);
    double dt = check_now() - t0;

    worker *all[1 + MAX_WRITERS] = { &rd.w };
    for (int k = 0; k < p.writers; k++) all[1 + k] = &ws[k].w;
    CHECK_WORKERS(all, 1 + p.writers);

    static rr_ring_stats stats;
    CHECK_ST(rr_ring_stats_get(ring, &stats), RR_OK);
    printf("     %s %s capacity %-4" PRIu64 " %8" PRIu64 " events in %.2f s: %" PRIu64
           " blocks, delivered %" PRIu64 " lost %" PRIu64 " skipped %" PRIu64 "\n",
           rr_mode_name(mode), rr_producers_name(prod), capacity, stats.published, dt,
           rd.blocks, rd.delivered, rd.lost, rd.skipped);
    uint64_t abandoned = 0;
    for (int k = 0; k < p.writers; k++) abandoned += ws[k].abandoned;
    CHECK_EQ(stats.abandoned, abandoned);
    CHECK_EQ(stats.published, p.events * (uint64_t)p.writers);
    /* one writer reuses abandoned sequences; several spend them */
    uint64_t passed = stats.published + (prod == RR_PRODUCERS_MULTI ? abandoned : 0);
    CHECK_EQ(rr_reader_cursor(rd.r), passed);
    CHECK_EQ(rd.delivered + rd.lost + rd.skipped, passed);
    if (mode == RR_MODE_BACKPRESSURE) {
        CHECK_EQ(rd.skipped, prod == RR_PRODUCERS_MULTI ? abandoned : 0);
        CHECK_EQ(rd.lost, 0);
        CHECK_EQ(rd.delivered, stats.published);
    } else {
        CHECK(rd.pauses > 0 && rd.lost > 0);
        CHECK(rd.skipped <= abandoned);    /* a lap may take abandoned slots with it */
    }

    for (int k = 0; k < p.writers; k++) rr_writer_close(ws[k].wr);
    rr_reader_close(rd.r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_backpressure_blocks_single_producer_deliver_every_event_once)
{
    blocks_run(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 256, check_scaled(1000000));
}

TEST(test_backpressure_blocks_two_producers_deliver_every_event_and_skip_the_abandoned)
{
    blocks_run(RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, 97, check_scaled(500000));
}

/* Overwrite runs must lap their reader to prove anything (they check that it
 * lost events): however small RR_STRESS_SCALE makes them, each writer writes
 * at least 40 laps of the ring. */
static uint64_t lapping_events(uint64_t n, uint64_t capacity)
{
    uint64_t v = check_scaled(n);
    return v < 40 * capacity ? 40 * capacity : v;
}

TEST(test_overwrite_blocks_single_producer_are_intact_and_balance_with_lost)
{
    blocks_run(RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE, 256, lapping_events(1000000, 256));
}

TEST(test_overwrite_blocks_two_producers_are_intact_and_balance)
{
    blocks_run(RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI, 97, lapping_events(500000, 97));
}

int main(void)
{
    watchdog_arm();
    RUN(test_backpressure_blocks_single_producer_deliver_every_event_once);
    watchdog_arm();
    RUN(test_backpressure_blocks_two_producers_deliver_every_event_and_skip_the_abandoned);
    watchdog_arm();
    RUN(test_overwrite_blocks_single_producer_are_intact_and_balance_with_lost);
    watchdog_arm();
    RUN(test_overwrite_blocks_two_producers_are_intact_and_balance);
    return check_report();
}
