/*
 * stress_overwrite.c — overwrite mode: a fast writer laps deliberately slow readers.
 *
 * The writer never waits (every call uses timeout 0 and must succeed); now and
 * then it fills a claim with junk and abandons it (single producer: the
 * sequences are reused, and no reader may see the junk). Each
 * reader works in rounds: it waits until the writer is ten laps ahead of it,
 * then reads a burst while re-verifying every payload several times. So it is
 * lapped in every round at every scale, and must be handed only intact events
 * (payload_ok, payload sequence == rr_event.sequence, length and type as
 * written), in strictly increasing order, with `lost` counting exactly what it
 * skipped. After the writer closes the ring and the reader drains to
 * RR_CLOSED: delivered + lost == published, and lost > 0.
 *
 * Worker threads never use CHECK (it returns from the test): they record their
 * first failure, close the ring so every blocked call wakes, and the test
 * reports the messages after joining them.
 */
#include <pthread.h>
#include <stdbool.h>

#include "check.h"
#include "stress.h"

#define SLOT       256u
#define SALT       0x0badcafeu
#define WAIT_NS    SEC(30)     /* a blocking call that waits this long has failed */
#define WAIT_S     30.0
#define LAPS       10          /* laps the writer gets ahead before each read round */

/* ---- the events ----------------------------------------------------------- */

/* Length of event i: 16 .. SLOT bytes, a function of the index alone. */
static uint32_t ev_len(uint64_t i)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
    return 16u + (uint32_t)((h >> 40) % (SLOT - 15u));
}

static uint32_t ev_type(uint64_t i) { return (uint32_t)(i & 0xffff); }

/* ---- one run ---------------------------------------------------------------- */

typedef struct ow_params {
    uint64_t capacity;
    uint64_t events;
} ow_params;

typedef struct ow_writer {
    worker           w;
    rr_writer       *wr;
    const ow_params *p;
} ow_writer;

typedef struct ow_reader {
    worker           w;
    rr_reader       *r;
    const ow_params *p;
    int              work;      /* times each payload is re-verified: the slowness */
    uint64_t         burst;     /* events read per round */
    bool             batch;     /* rr_reader_next_batch instead of rr_reader_next */
    uint64_t         seed;
    /* results */
    uint64_t         delivered;
    uint64_t         lost;
    uint64_t         rounds;
} ow_reader;

static void ow_write(ow_writer *ow)
{
    worker *w = &ow->w;
    const uint64_t n_events = ow->p->events;
    const uint64_t max_batch = ow->p->capacity < 16 ? ow->p->capacity : 16;
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    unsigned char bufs[16][SLOT];
    rr_payload items[16];
    uint64_t i = 0;

    while (i < n_events) {
        uint32_t op = rng_next(&rng) % 4;
        uint64_t n = 1 + rng_next(&rng) % max_batch;
        if (n > n_events - i) n = n_events - i;
        rr_status st;

        if (op <= 1) {                         /* mostly single adds */
            uint64_t seq = UINT64_MAX;
            payload_fill(bufs[0], ev_len(i), i, SALT);
            st = rr_writer_add(ow->wr, bufs[0], ev_len(i), ev_type(i), &seq, 0);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_add (overwrite writers never wait)", i);
            W_CHECK(w, seq == i, "rr_writer_add gave sequence %" PRIu64 " for event %" PRIu64,
                    seq, i);
            i++;
        } else if (op == 2) {
            uint64_t first = UINT64_MAX;
            for (uint64_t k = 0; k < n; k++) {
                payload_fill(bufs[k], ev_len(i + k), i + k, SALT);
                items[k] = (rr_payload){ bufs[k], ev_len(i + k), ev_type(i + k) };
            }
            st = rr_writer_add_batch(ow->wr, items, n, &first, 0);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_add_batch (overwrite writers never wait)", i);
            W_CHECK(w, first == i, "rr_writer_add_batch gave sequence %" PRIu64
                    " for event %" PRIu64, first, i);
            i += n;
        } else if (rng_next(&rng) % 512 == 0) { /* a claim given up: never seen */
            rr_claim c;
            st = rr_writer_claim(ow->wr, (uint32_t)n, 0xDEAD, &c, 0);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_claim (overwrite writers never wait)", i);
            W_CHECK(w, c.sequence == i, "claim at %" PRIu64 " got sequence %" PRIu64,
                    i, c.sequence);
            for (uint32_t k = 0; k < n; k++)
                payload_fill(rr_claim_data(&c, k), SLOT, ~(i + k), ~SALT);
            st = rr_writer_abandon(ow->wr, &c);
            W_CHECK_OK(w, st, "rr_writer_abandon", i);
        } else {
            rr_claim c;
            st = rr_writer_claim(ow->wr, (uint32_t)n, ev_type(i), &c, 0);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_claim (overwrite writers never wait)", i);
            W_CHECK(w, c.sequence == i && c.count == n && c.slot_size == SLOT,
                    "claim of %" PRIu64 " at %" PRIu64 ": sequence %" PRIu64
                    " count %u slot_size %u", n, i, c.sequence, c.count, c.slot_size);
            for (uint32_t k = 0; k < n; k++) {
                payload_fill(rr_claim_data(&c, k), ev_len(i + k), i + k, SALT);
                st = rr_claim_set(&c, k, ev_len(i + k), ev_type(i + k));
                W_CHECK_OK(w, st, "rr_claim_set", i + k);
            }
            st = rr_writer_publish(ow->wr, &c);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_publish", i);
            i += n;
        }
    }
    W_CHECK(w, rr_ring_published(w->ring) == n_events,
            "published %" PRIu64 " after writing %" PRIu64,
            rr_ring_published(w->ring), n_events);
    rr_ring_close(w->ring);
}

/* Verify one delivered event `work` times over; records a failure and returns
 * false. `last` is the previous delivered sequence (UINT64_MAX before any). */
static bool ow_event_ok(ow_reader *rd, const rr_event *ev, uint64_t last)
{
    worker *w = &rd->w;
    uint64_t s = ev->sequence, ps = 0;
    if (last != UINT64_MAX && s <= last) {
        worker_fail(w, __LINE__, "sequence %" PRIu64 " delivered after %" PRIu64, s, last);
        return false;
    }
    if (s >= rd->p->events) {
        worker_fail(w, __LINE__, "sequence %" PRIu64 " was never written", s);
        return false;
    }
    if (ev->len != ev_len(s) || ev->event_type != ev_type(s)) {
        worker_fail(w, __LINE__, "event %" PRIu64 ": len %u type %u, wanted %u %u (torn)",
                    s, ev->len, ev->event_type, ev_len(s), ev_type(s));
        return false;
    }
    for (int k = 0; k < rd->work; k++) {
        if (!payload_ok(ev->data, ev->len, SALT, &ps) || ps != s) {
            worker_fail(w, __LINE__, "event %" PRIu64 ": payload torn or stale on check %d "
                        "(carries %" PRIu64 ")", s, k, ps);
            return false;
        }
    }
    return true;
}

static void ow_read(ow_reader *rd)
{
    worker *w = &rd->w;
    const uint64_t cap = rd->p->capacity;
    uint64_t rng = rd->seed, last = UINT64_MAX, delivered = 0;
    rr_event evs[64];
    rr_status st;

    for (;;) {
        /* A round starts once the writer is LAPS laps past where we stand: the
         * oldest slots we have not read are certainly overwritten. */
        uint64_t next = last == UINT64_MAX ? 0 : last + 1;
        uint64_t target = next + LAPS * cap;
        if (!WAIT_UNTIL(rr_ring_published(w->ring) >= target || rr_ring_closed(w->ring),
                        WAIT_S))
            W_FAIL(w, "writer stuck at published %" PRIu64 ", waiting for %" PRIu64,
                   rr_ring_published(w->ring), target);
        rd->rounds++;
        for (uint64_t got = 0; got < rd->burst;) {
            size_t n = 1;
            if (rd->batch) {
                size_t max = 1 + rng_next(&rng) % 64;
                st = rr_reader_next_batch(rd->r, evs, max, &n, WAIT_NS);
                if (st == RR_OK)
                    W_CHECK(w, n >= 1 && n <= max && n <= rr_reader_batch_limit(rd->r),
                            "rr_reader_next_batch: %zu events for max %zu (limit %zu)",
                            n, max, rr_reader_batch_limit(rd->r));
            } else {
                st = rr_reader_next(rd->r, &evs[0], WAIT_NS);
            }
            if (st == RR_CLOSED) goto drained;
            W_CHECK_OK(w, st, rd->batch ? "rr_reader_next_batch" : "rr_reader_next", next);
            for (size_t k = 0; k < n; k++) {
                if (!ow_event_ok(rd, &evs[k], last)) return;
                last = evs[k].sequence;
                delivered++;
            }
            /* Every copy of the call stays the reader's until its next call. */
            if (n > 1 && !ow_event_ok(rd, &evs[0], evs[0].sequence - 1)) return;
            /* Every sequence the reader has passed was delivered or lost. A batch
             * may end on a lap it has already skipped, so the cursor can be past
             * the last delivered event; rr_reader_next cannot. */
            uint64_t lost = rr_reader_lost(rd->r), cursor = rr_reader_cursor(rd->r);
            W_CHECK(w, lost + delivered == cursor && cursor > last &&
                    (rd->batch || cursor == last + 1),
                    "after event %" PRIu64 ": delivered %" PRIu64 " + lost %" PRIu64
                    " != cursor %" PRIu64, last, delivered, lost, cursor);
            got += n;
        }
    }
drained:
    if (atomic_load(w->failed)) return;     /* someone else failed and closed the ring */
    rd->delivered = delivered;
    rd->lost = rr_reader_lost(rd->r);
    const uint64_t n_events = rd->p->events;
    W_CHECK(w, delivered + rd->lost == n_events,
            "delivered %" PRIu64 " + lost %" PRIu64 " != published %" PRIu64,
            delivered, rd->lost, n_events);
    W_CHECK(w, delivered == rr_reader_delivered(rd->r),
            "counted %" PRIu64 " deliveries, rr_reader_delivered says %" PRIu64,
            delivered, rr_reader_delivered(rd->r));
    W_CHECK(w, rd->lost > 0, "a reader kept %d laps behind was never lapped", LAPS);
    /* Single producer: abandoned sequences are reused, never skipped. */
    W_CHECK(w, rr_reader_skipped(rd->r) == 0, "single-producer reader skipped %" PRIu64,
            rr_reader_skipped(rd->r));
    W_CHECK(w, rr_reader_cursor(rd->r) == n_events, "drained reader's cursor is %" PRIu64,
            rr_reader_cursor(rd->r));
    W_CHECK(w, last == n_events - 1, "drained at %" PRIu64 ", the last event is %" PRIu64,
            last, n_events - 1);
    W_CHECK(w, rr_reader_lag(rd->r) == 0, "drained reader reports lag %" PRIu64,
            rr_reader_lag(rd->r));
    st = rr_reader_next(rd->r, &evs[0], 0);
    W_CHECK(w, st == RR_CLOSED, "a drained reader of a closed ring got %s, not closed",
            rr_strerror(st));
}

static void *ow_writer_main(void *arg) { ow_write(arg); return NULL; }
static void *ow_reader_main(void *arg) { ow_read(arg); return NULL; }

typedef struct reader_spec {
    int      work;
    uint64_t burst;
    bool     batch;
} reader_spec;

#define MAX_READERS 2

static void overwrite_run(uint64_t capacity, uint64_t events, const reader_spec *specs,
                          int n_readers)
{
    ow_params p = { .capacity = capacity, .events = events };
    if (p.events < 40 * capacity) p.events = 40 * capacity;  /* laps at every scale */

    rr_config cfg = { .slot_size = SLOT, .capacity = capacity,
                      .mode = RR_MODE_OVERWRITE, .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring = NULL;
    atomic_int failed = 0;
    CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);

    ow_writer ow = { .w = { "writer", ring, &failed, "" }, .p = &p };
    CHECK_ST(check_writer_open(ring, &ow.wr), RR_OK);
    static const char *names[MAX_READERS] = { "reader 0", "reader 1" };
    ow_reader rd[MAX_READERS];
    for (int k = 0; k < n_readers; k++) {
        rd[k] = (ow_reader){ .w = { names[k], ring, &failed, "" }, .p = &p,
                             .work = specs[k].work, .burst = specs[k].burst,
                             .batch = specs[k].batch,
                             .seed = 0x9E3779B97F4A7C15ull * (uint64_t)(k + 1) };
        CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &rd[k].r), RR_OK);
    }

    pthread_t tw, tr[MAX_READERS];
    double t0 = check_now();
    for (int k = 0; k < n_readers; k++)
        CHECK(pthread_create(&tr[k], NULL, ow_reader_main, &rd[k]) == 0);
    CHECK(pthread_create(&tw, NULL, ow_writer_main, &ow) == 0);
    pthread_join(tw, NULL);
    for (int k = 0; k < n_readers; k++) pthread_join(tr[k], NULL);
    double dt = check_now() - t0;

    worker *ws[1 + MAX_READERS] = { &ow.w };
    for (int k = 0; k < n_readers; k++) ws[1 + k] = &rd[k].w;
    CHECK_WORKERS(ws, 1 + n_readers);
    printf("     capacity %-3" PRIu64 " %8" PRIu64 " events in %.2f s: %.2f M events/s;",
           capacity, p.events, dt, (double)p.events / dt / 1e6);
    for (int k = 0; k < n_readers; k++)
        printf(" %s%s delivered %" PRIu64 " lost %" PRIu64 " (%" PRIu64 " rounds);",
               names[k], rd[k].batch ? " (batch)" : "", rd[k].delivered, rd[k].lost,
               rd[k].rounds);
    printf("\n");

    rr_writer_close(ow.wr);
    for (int k = 0; k < n_readers; k++) rr_reader_close(rd[k].r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_overwrite_slow_reader_balances_delivered_and_lost)
{
    reader_spec s[] = { { .work = 4, .burst = 32 } };
    overwrite_run(64, check_scaled(2000000), s, 1);
}

TEST(test_overwrite_capacity_1_never_delivers_a_torn_event)
{
    reader_spec s[] = { { .work = 4, .burst = 4 } };
    overwrite_run(1, check_scaled(2000000), s, 1);
}

TEST(test_overwrite_capacity_7_next_and_batch_readers_balance)
{
    reader_spec s[] = { { .work = 4, .burst = 8 }, { .work = 2, .burst = 16, .batch = true } };
    overwrite_run(7, check_scaled(2000000), s, 2);
}

TEST(test_overwrite_two_readers_at_different_speeds_each_balance)
{
    reader_spec s[] = { { .work = 2, .burst = 128 }, { .work = 12, .burst = 16 } };
    overwrite_run(64, check_scaled(2000000), s, 2);
}

TEST(test_overwrite_batch_reader_balances_delivered_and_lost)
{
    reader_spec s[] = { { .work = 4, .burst = 48, .batch = true } };
    overwrite_run(64, check_scaled(2000000), s, 1);
}

int main(void)
{
    watchdog_arm();
    RUN(test_overwrite_slow_reader_balances_delivered_and_lost);
    watchdog_arm();
    RUN(test_overwrite_capacity_1_never_delivers_a_torn_event);
    watchdog_arm();
    RUN(test_overwrite_capacity_7_next_and_batch_readers_balance);
    watchdog_arm();
    RUN(test_overwrite_two_readers_at_different_speeds_each_balance);
    watchdog_arm();
    RUN(test_overwrite_batch_reader_balances_delivered_and_lost);
    return check_report();
}
