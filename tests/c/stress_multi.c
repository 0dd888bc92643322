/*
 * stress_multi.c — multi-producer rings: several writer threads, one or two readers.
 *
 * Writer t puts its id in event_type, uses salt = t and numbers its own events
 * 0, 1, 2, ... in the payload (payload_fill), mixing rr_writer_add,
 * rr_writer_add_batch and claim/fill/publish. Every claim numbered 7 mod 1000
 * is filled with a distinctive payload (type ABANDON_TYPE, salt ABANDON_SALT)
 * and abandoned: no reader may ever see it. Readers check every payload,
 * global sequences strictly increasing and each writer's own sequence strictly
 * increasing; in backpressure mode each writer's events arrive exactly once
 * with no gaps, and for every reader delivered + lost + skipped (abandoned
 * sequences passed over) == every sequence claimed.
 * In overwrite mode one reader is slow: it reads in rounds, each starting once
 * the writers are LAPS laps further on, so it is lapped at every scale while
 * writers may be refilling the very slots it copies.
 * One variant has two threads share a single writer handle. Rings in caller
 * memory (rr_ring_format: shareable between processes) take a claim record
 * per claim, and readers waiting behind an open claim look at the records
 * while live writers hold them: none may be taken for dead.
 *
 * Worker threads never use CHECK (it returns from the test): they record their
 * first failure, close the ring so every blocked call wakes, and the test
 * reports the messages after joining them.
 */
#include <pthread.h>
#include <stdbool.h>

#include "check.h"
#include "stress.h"

#define SLOT_BP       128u        /* payload slot, backpressure rings */
#define SLOT_OW       512u        /* overwrite rings: long copies, more chances to tear */
#define ABANDON_TYPE  0xDEADu
#define ABANDON_SALT  0xABADC0DEu
#define ABANDON_EVERY 1000u       /* claim k is abandoned when k % 1000 == 7 */
#define WAIT_NS       SEC(30)     /* a blocking call that waits this long has failed */
#define MAX_WRITERS   3
#define MAX_READERS   2
#define LAPS          10          /* a slow reader lets the writers get this many laps ahead */
#define SLOW_WORK     8           /* and verifies each payload this many times */
#define SLOW_BURST    32          /* calls per round */

/* ---- the events ----------------------------------------------------------- */

/* Length of writer t's event q: 16 .. slot bytes. */
static uint32_t ev_len(uint32_t t, uint64_t q, uint32_t slot)
{
    uint64_t h = ((q << 2 | t) + 1) * 0x9E3779B97F4A7C15ull;
    return 16u + (uint32_t)((h >> 40) % (slot - 15u));
}

/* ---- one run ---------------------------------------------------------------- */

typedef struct mp_params {
    rr_mode  mode;
    uint32_t slot;           /* slot size: SLOT_BP or SLOT_OW by mode */
    uint64_t capacity;
    uint32_t writers;        /* writer threads */
    bool     shared;         /* all writer threads share one handle */
    uint32_t readers;
    uint32_t slow;           /* overwrite: bit k makes reader k slow (see mp_read) */
    uint64_t events;         /* total over all writers */
    bool     abandon;        /* abandon claim 7 mod 1000 of each writer */
    bool     caller_memory;  /* rr_ring_format instead of rr_ring_create */
} mp_params;

typedef struct mp_writer {
    worker           w;
    rr_writer       *wr;
    const mp_params *p;
    uint32_t         id;
    uint64_t         count;  /* events it publishes */
    uint64_t         seed;
    /* results */
    uint64_t         claims, abandoned_claims, abandoned_events;
} mp_writer;

typedef struct mp_reader {
    worker           w;
    rr_reader       *r;
    const mp_params *p;
    const uint64_t  *counts; /* events each writer publishes */
    bool             batch;
    bool             slow;   /* reads in rounds, each LAPS laps behind, re-verifying */
    uint64_t         seed;
    /* results */
    uint64_t         delivered, lost, skipped, cursor;
    uint64_t         per_writer[MAX_WRITERS];
} mp_reader;

static void mp_write(mp_writer *mw)
{
    worker *w = &mw->w;
    const uint32_t id = mw->id;
    const uint64_t max_batch = mw->p->capacity / 4 < 32 ? mw->p->capacity / 4 : 32;
    /* Overwrite writers never wait for readers, but with several producers one
     * may wait for another still filling the slot it needs a lap behind. */
    const int64_t tmo = WAIT_NS;
    uint64_t rng = mw->seed, q = 0, last_seq = 0;
    bool any = false;
    const uint32_t slot = mw->p->slot;
    unsigned char bufs[32][SLOT_OW];
    rr_payload items[32];
    rr_status st;

/* This thread's global sequences only grow. */
#define SEQ_GROWS(first, n)                                                        \
    do {                                                                           \
        W_CHECK(w, !any || (first) > last_seq, "writer %u got sequence %" PRIu64   \
                " after %" PRIu64, id, (uint64_t)(first), last_seq);               \
        last_seq = (first) + (n) - 1;                                              \
        any = true;                                                                \
    } while (0)

    while (q < mw->count) {
        uint32_t op = rng_next(&rng) % 3;
        uint64_t n = 1 + rng_next(&rng) % (max_batch ? max_batch : 1);
        if (op == 2 && mw->p->abandon && ++mw->claims % ABANDON_EVERY == 7) {
            rr_claim c;
            st = rr_writer_claim(mw->wr, (uint32_t)n, ABANDON_TYPE, &c, tmo);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK(w, st == RR_OK, "rr_writer_claim returned %s (%s)",
                    rr_strerror(st), rr_last_error());
            SEQ_GROWS(c.sequence, n);
            for (uint32_t k = 0; k < n; k++) {
                payload_fill(rr_claim_data(&c, k), slot, 0xDEAD0000ull + k, ABANDON_SALT);
                st = rr_claim_set(&c, k, slot, ABANDON_TYPE);
                W_CHECK_OK(w, st, "rr_claim_set", q);
            }
            st = rr_writer_abandon(mw->wr, &c);
            W_CHECK_OK(w, st, "rr_writer_abandon", q);
            mw->abandoned_claims++;
            mw->abandoned_events += n;
            continue;
        }
        if (n > mw->count - q) n = mw->count - q;

        if (op == 0) {
            uint64_t seq = 0;
            payload_fill(bufs[0], ev_len(id, q, slot), q, id);
            st = rr_writer_add(mw->wr, bufs[0], ev_len(id, q, slot), id, &seq, tmo);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK(w, st == RR_OK, "rr_writer_add returned %s (%s) at %" PRIu64,
                    rr_strerror(st), rr_last_error(), q);
            SEQ_GROWS(seq, 1);
            q++;
        } else if (op == 1) {
            uint64_t first = 0;
            for (uint64_t k = 0; k < n; k++) {
                payload_fill(bufs[k], ev_len(id, q + k, slot), q + k, id);
                items[k] = (rr_payload){ bufs[k], ev_len(id, q + k, slot), id };
            }
            st = rr_writer_add_batch(mw->wr, items, n, &first, tmo);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK(w, st == RR_OK, "rr_writer_add_batch returned %s (%s) at %" PRIu64,
                    rr_strerror(st), rr_last_error(), q);
            SEQ_GROWS(first, n);
            q += n;
        } else {
            rr_claim c;
            st = rr_writer_claim(mw->wr, (uint32_t)n, id, &c, tmo);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK(w, st == RR_OK, "rr_writer_claim returned %s (%s) at %" PRIu64,
                    rr_strerror(st), rr_last_error(), q);
            W_CHECK(w, c.count == n && c.slot_size == slot, "claim of %" PRIu64
                    ": count %u slot_size %u", n, c.count, c.slot_size);
            SEQ_GROWS(c.sequence, n);
            for (uint32_t k = 0; k < n; k++) {
                payload_fill(rr_claim_data(&c, k), ev_len(id, q + k, slot), q + k, id);
                st = rr_claim_set(&c, k, ev_len(id, q + k, slot), id);
                W_CHECK_OK(w, st, "rr_claim_set", q + k);
            }
            st = rr_writer_publish(mw->wr, &c);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_publish", q);
            q += n;
        }
    }
#undef SEQ_GROWS
}

/* Every property of a delivered event; records a failure and returns false. */
static bool mp_event_ok(mp_reader *mr, const rr_event *ev, uint64_t *next_q)
{
    worker *w = &mr->w;
    const uint32_t t = ev->event_type;
    uint64_t q = 0;
    if (t == ABANDON_TYPE || payload_ok(ev->data, ev->len, ABANDON_SALT, NULL)) {
        worker_fail(w, __LINE__, "event %" PRIu64 " of an abandoned claim was delivered "
                    "(type %#x, len %u)", ev->sequence, t, ev->len);
        return false;
    }
    if (t >= mr->p->writers) {
        worker_fail(w, __LINE__, "event %" PRIu64 " has type %u: no such writer",
                    ev->sequence, t);
        return false;
    }
    for (int k = 0; k < (mr->slow ? SLOW_WORK : 1); k++) {
        if (!payload_ok(ev->data, ev->len, t, &q) || q >= mr->counts[t] ||
            ev->len != ev_len(t, q, mr->p->slot)) {
            worker_fail(w, __LINE__, "event %" PRIu64 " (writer %u, len %u): payload torn "
                        "on check %d (carries %" PRIu64 ")", ev->sequence, t, ev->len, k, q);
            return false;
        }
    }
    if (mr->p->mode == RR_MODE_BACKPRESSURE ? q != next_q[t] : q < next_q[t]) {
        worker_fail(w, __LINE__, "writer %u: event %" PRIu64 " (global %" PRIu64
                    ") arrived when %" PRIu64 " was next", t, q, ev->sequence, next_q[t]);
        return false;
    }
    next_q[t] = q + 1;
    mr->per_writer[t]++;
    return true;
}

static void mp_read(mp_reader *mr)
{
    worker *w = &mr->w;
    uint64_t rng = mr->seed, last = 0, next_q[MAX_WRITERS] = { 0 };
    bool any = false;
    uint64_t calls = 0, round_start = 0;
    rr_event evs[64];
    rr_status st;

    for (;;) {
        /* A slow reader starts each round once LAPS laps more were published:
         * the slots it has not read are certainly being overwritten. */
        if (mr->slow && calls++ % SLOW_BURST == 0) {
            uint64_t target = round_start + LAPS * mr->p->capacity;
            if (!WAIT_UNTIL(rr_ring_published(w->ring) >= target || rr_ring_closed(w->ring),
                            30.0))
                W_FAIL(w, "writers stuck at published %" PRIu64 ", waiting for %" PRIu64,
                       rr_ring_published(w->ring), target);
            round_start = rr_ring_published(w->ring);
        }
        size_t n = 1;
        if (mr->batch) {
            size_t max = 1 + rng_next(&rng) % 64;
            st = rr_reader_next_batch(mr->r, evs, max, &n, WAIT_NS);
            if (st == RR_OK)
                W_CHECK(w, n >= 1 && n <= max, "rr_reader_next_batch: %zu events for max %zu",
                        n, max);
        } else {
            st = rr_reader_next(mr->r, &evs[0], WAIT_NS);
        }
        if (st == RR_CLOSED) break;
        W_CHECK_OK(w, st, mr->batch ? "rr_reader_next_batch" : "rr_reader_next", mr->delivered);
        for (size_t k = 0; k < n; k++) {
            W_CHECK(w, !any || evs[k].sequence > last, "sequence %" PRIu64
                    " delivered after %" PRIu64, evs[k].sequence, last);
            if (!mp_event_ok(mr, &evs[k], next_q)) return;
            last = evs[k].sequence;
            any = true;
            mr->delivered++;
        }
    }
    if (atomic_load(w->failed)) return;     /* someone else failed and closed the ring */
    mr->lost = rr_reader_lost(mr->r);
    mr->skipped = rr_reader_skipped(mr->r);
    mr->cursor = rr_reader_cursor(mr->r);
    W_CHECK(w, mr->delivered == rr_reader_delivered(mr->r),
            "counted %" PRIu64 " deliveries, rr_reader_delivered says %" PRIu64,
            mr->delivered, rr_reader_delivered(mr->r));
    st = rr_reader_next(mr->r, &evs[0], 0);
    W_CHECK(w, st == RR_CLOSED, "a drained reader of a closed ring got %s, not closed",
            rr_strerror(st));
    if (mr->slow)
        W_CHECK(w, mr->lost > 0, "a reader kept %d laps behind was never lapped", LAPS);
    if (mr->p->mode == RR_MODE_BACKPRESSURE) {
        W_CHECK(w, mr->lost == 0, "backpressure reader lost %" PRIu64, mr->lost);
        for (uint32_t t = 0; t < mr->p->writers; t++)
            W_CHECK(w, mr->per_writer[t] == mr->counts[t], "writer %u: delivered %" PRIu64
                    " of its %" PRIu64 " events", t, mr->per_writer[t], mr->counts[t]);
    }
}

static void *mp_writer_main(void *arg) { mp_write(arg); return NULL; }
static void *mp_reader_main(void *arg) { mp_read(arg); return NULL; }

static void multi_run(mp_params p)
{
    CHECK(p.writers <= MAX_WRITERS && p.readers <= MAX_READERS);
    p.slot = p.mode == RR_MODE_OVERWRITE ? SLOT_OW : SLOT_BP;
    rr_config cfg = { .slot_size = p.slot, .capacity = p.capacity, .mode = p.mode,
                      .producers = RR_PRODUCERS_MULTI };
    rr_ring *ring = NULL;
    atomic_int failed = 0;
    void *mem = NULL;
    if (p.caller_memory) {
        size_t len = rr_ring_footprint(&cfg);
        mem = aligned_alloc(64, (len + 63) / 64 * 64);
        CHECK(mem);
        CHECK_ST(rr_ring_format(mem, len, &cfg, &ring), RR_OK);
    } else {
        CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
    }

    static const char *wnames[MAX_WRITERS] = { "writer 0", "writer 1", "writer 2" };
    static const char *rnames[MAX_READERS] = { "reader(next)", "reader(next_batch)" };
    uint64_t counts[MAX_WRITERS] = { 0 };
    mp_writer mw[MAX_WRITERS];
    mp_reader mr[MAX_READERS];
    for (uint32_t t = 0; t < p.writers; t++) {
        counts[t] = p.events / p.writers + (t < p.events % p.writers);
        mw[t] = (mp_writer){ .w = { wnames[t], ring, &failed, "" }, .p = &p, .id = t,
                             .count = counts[t],
                             .seed = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 11) };
        if (p.shared && t > 0)
            mw[t].wr = mw[0].wr;
        else
            CHECK_ST(check_writer_open(ring, &mw[t].wr), RR_OK);
    }
    for (uint32_t k = 0; k < p.readers; k++) {
        mr[k] = (mp_reader){ .w = { rnames[k], ring, &failed, "" }, .p = &p,
                             .counts = counts, .batch = k == 1,
                             .slow = p.mode == RR_MODE_OVERWRITE && (p.slow >> k & 1),
                             .seed = 0x2545F4914F6CDD1Dull * (uint64_t)(k + 1) };
        CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &mr[k].r), RR_OK);
    }

    pthread_t tw[MAX_WRITERS], tr[MAX_READERS];
    double t0 = check_now();
    for (uint32_t k = 0; k < p.readers; k++)
        CHECK(pthread_create(&tr[k], NULL, mp_reader_main, &mr[k]) == 0);
    for (uint32_t t = 0; t < p.writers; t++)
        CHECK(pthread_create(&tw[t], NULL, mp_writer_main, &mw[t]) == 0);
    for (uint32_t t = 0; t < p.writers; t++) pthread_join(tw[t], NULL);
    rr_ring_close(ring);           /* every writer is done: end the stream */
    for (uint32_t k = 0; k < p.readers; k++) pthread_join(tr[k], NULL);
    double dt = check_now() - t0;

    worker *ws[MAX_WRITERS + MAX_READERS];
    for (uint32_t t = 0; t < p.writers; t++) ws[t] = &mw[t].w;
    for (uint32_t k = 0; k < p.readers; k++) ws[p.writers + k] = &mr[k].w;
    CHECK_WORKERS(ws, p.writers + p.readers);

    uint64_t ab_claims = 0, ab_events = 0;
    for (uint32_t t = 0; t < p.writers; t++) {
        ab_claims += mw[t].abandoned_claims;
        ab_events += mw[t].abandoned_events;
    }
    if (p.abandon) CHECK(ab_claims > 0);   /* the abandon path really ran */
    rr_ring_stats stats;
    CHECK_ST(rr_ring_stats_get(ring, &stats), RR_OK);
    CHECK_EQ(stats.abandoned, ab_events);  /* events of claims given up */
    CHECK_EQ(stats.claims_recovered, 0);   /* every writer lives */
    CHECK_EQ(rr_ring_published(ring), p.events);

    /* Every claimed sequence was delivered, lost to a lap, or passed over as
     * abandoned: cursor - start == delivered + lost + skipped, start 0. An
     * abandoned sequence inside a lapped stretch counts as lost. */
    const uint64_t claimed = p.events + ab_events;
    for (uint32_t k = 0; k < p.readers; k++) {
        CHECK_EQ(mr[k].cursor, claimed);
        CHECK_EQ(mr[k].delivered + mr[k].lost + mr[k].skipped, claimed);
        CHECK(mr[k].skipped <= ab_events);
        if (p.mode == RR_MODE_BACKPRESSURE)
            CHECK_EQ(mr[k].skipped, ab_events);
    }

    printf("     %s %u writers%s%s %u readers capacity %" PRIu64 ": %" PRIu64
           " events in %.2f s, %.2f M events/s;", p.mode == RR_MODE_OVERWRITE ?
           "overwrite" : "backpressure", p.writers, p.shared ? " (one shared handle)" : "",
           p.caller_memory ? " (caller memory)" : "", p.readers, p.capacity, p.events, dt, (double)p.events / dt / 1e6);
    for (uint32_t k = 0; k < p.readers; k++)
        printf(" reader %u%s delivered %" PRIu64 " lost %" PRIu64 " skipped %" PRIu64 ";",
               k, mr[k].slow ? " (slow)" : "", mr[k].delivered, mr[k].lost, mr[k].skipped);
    printf(" %" PRIu64 " claims abandoned\n", ab_claims);

    for (uint32_t t = 0; t < p.writers; t++)
        if (!(p.shared && t > 0)) rr_writer_close(mw[t].wr);
    for (uint32_t k = 0; k < p.readers; k++) rr_reader_close(mr[k].r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    free(mem);
}

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE

TEST(test_multi_backpressure_two_writers_one_reader_each_event_once)
{
    multi_run((mp_params){ .mode = BP, .capacity = 256, .writers = 2, .readers = 1,
                           .events = check_scaled(2000000), .abandon = true });
}

TEST(test_multi_backpressure_three_writers_two_readers_each_event_once)
{
    multi_run((mp_params){ .mode = BP, .capacity = 256, .writers = 3, .readers = 2,
                           .events = check_scaled(2000000), .abandon = true });
}

TEST(test_multi_backpressure_two_threads_share_one_handle)
{
    multi_run((mp_params){ .mode = BP, .capacity = 100, .writers = 2, .shared = true,
                           .readers = 2, .events = check_scaled(2000000), .abandon = true });
}

TEST(test_multi_overwrite_two_writers_one_reader_balance_exactly)
{
    multi_run((mp_params){ .mode = OW, .capacity = 64, .writers = 2, .readers = 1, .slow = 1,
                           .events = check_scaled(2000000), .abandon = false });
}

TEST(test_multi_overwrite_three_writers_two_readers_never_torn)
{
    multi_run((mp_params){ .mode = OW, .capacity = 64, .writers = 3, .readers = 2, .slow = 2,
                           .events = check_scaled(2000000), .abandon = true });
}

TEST(test_multi_overwrite_two_threads_share_one_handle)
{
    multi_run((mp_params){ .mode = OW, .capacity = 60, .writers = 2, .shared = true,
                           .readers = 2, .slow = 2, .events = check_scaled(2000000), .abandon = true });
}

/* Tiny rings: every claim needs the slot a lap back finished and released,
 * and a reader passing an abandoned claim must release it before it waits. */
TEST(test_multi_backpressure_capacity_one_and_three_with_abandoned_claims)
{
    multi_run((mp_params){ .mode = BP, .capacity = 1, .writers = 3, .readers = 2,
                           .events = check_scaled(100000), .abandon = true });
    multi_run((mp_params){ .mode = BP, .capacity = 3, .writers = 2, .shared = true,
                           .readers = 2, .events = check_scaled(200000), .abandon = true });
}

TEST(test_multi_overwrite_capacity_two_with_abandoned_claims)
{
    multi_run((mp_params){ .mode = OW, .capacity = 2, .writers = 3, .readers = 2, .slow = 1,
                           .events = check_scaled(400000), .abandon = true });
}

/* Claim records: the same runs in caller memory, where every claim takes one. */
TEST(test_multi_in_caller_memory_live_claims_are_never_taken)
{
    multi_run((mp_params){ .mode = BP, .capacity = 64, .writers = 3, .readers = 2,
                           .events = check_scaled(1000000), .abandon = true,
                           .caller_memory = true });
    multi_run((mp_params){ .mode = OW, .capacity = 16, .writers = 2, .shared = true,
                           .readers = 2, .slow = 2, .events = check_scaled(1000000),
                           .abandon = true, .caller_memory = true });
}

int main(void)
{
    watchdog_arm();
    RUN(test_multi_backpressure_two_writers_one_reader_each_event_once);
    watchdog_arm();
    RUN(test_multi_backpressure_three_writers_two_readers_each_event_once);
    watchdog_arm();
    RUN(test_multi_backpressure_two_threads_share_one_handle);
    watchdog_arm();
    RUN(test_multi_overwrite_two_writers_one_reader_balance_exactly);
    watchdog_arm();
    RUN(test_multi_overwrite_three_writers_two_readers_never_torn);
    watchdog_arm();
    RUN(test_multi_overwrite_two_threads_share_one_handle);
    watchdog_arm();
    RUN(test_multi_backpressure_capacity_one_and_three_with_abandoned_claims);
    watchdog_arm();
    RUN(test_multi_overwrite_capacity_two_with_abandoned_claims);
    watchdog_arm();
    RUN(test_multi_in_caller_memory_live_claims_are_never_taken);
    return check_report();
}
