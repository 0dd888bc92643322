/*
 * stress_fanout.c — gated fan-out: one writer, three readers, backpressure mode.
 *
 * The writer publishes every event index once (payload_fill: sequence = index,
 * a fixed salt, a length that varies between 16 and 64 bytes, event_type =
 * index & 0xffff), alternating rr_writer_add, rr_writer_add_batch and
 * claim/fill/publish, and now and then filling a claim with junk and
 * abandoning it (its sequences are reused; no reader may see the junk). Each reader proves it got every event exactly once, in
 * order and intact, with nothing lost, then RR_CLOSED after the writer closes.
 * One reader uses rr_reader_next, one rr_reader_next_batch, and one holds an
 * event across a few later calls: while it is held the writer fills every slot
 * it may, and the held bytes must not change (no overwrite of a pinned slot).
 *
 * Worker threads never use CHECK (it returns from the test): they record their
 * first failure, close the ring so every blocked call wakes, and the test
 * reports the messages after joining them.
 */
#include <pthread.h>
#include <stdbool.h>

#include "check.h"
#include "stress.h"

#define SLOT       64u
#define SALT       0x5eedfa11u
#define WAIT_NS    SEC(30)     /* a blocking call that waits this long has failed */
#define WAIT_S     30.0

/* ---- the events ----------------------------------------------------------- */

/* Length of event i: 16 .. 64 bytes, a function of the index alone. */
static uint32_t ev_len(uint64_t i)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
    return 16u + (uint32_t)((h >> 40) % (SLOT - 15u));
}

static uint32_t ev_type(uint64_t i) { return (uint32_t)(i & 0xffff); }

/* Every property of a delivered event; records the failure and returns false. */
static bool event_ok(worker *w, const rr_event *ev, uint64_t want)
{
    uint64_t ps = 0;
    if (ev->sequence != want) {
        worker_fail(w, __LINE__, "got sequence %" PRIu64 ", wanted %" PRIu64,
                    ev->sequence, want);
        return false;
    }
    if (ev->len != ev_len(want) || ev->event_type != ev_type(want)) {
        worker_fail(w, __LINE__, "event %" PRIu64 ": len %u type %u, wanted %u %u",
                    want, ev->len, ev->event_type, ev_len(want), ev_type(want));
        return false;
    }
    if (!payload_ok(ev->data, ev->len, SALT, &ps) || ps != want) {
        worker_fail(w, __LINE__, "event %" PRIu64 ": payload corrupt (carries %" PRIu64 ")",
                    want, ps);
        return false;
    }
    return true;
}

/* ---- one run ---------------------------------------------------------------- */

typedef struct fan_params {
    uint64_t capacity;
    uint64_t events;
    uint32_t max_batch;   /* largest writer batch: min(64, capacity / 2), >= 1 */
    uint32_t max_span;    /* most later calls an event is held across */
} fan_params;

typedef struct fan_writer {
    worker            w;
    rr_writer        *wr;
    const fan_params *p;
    uint64_t          abandoned;   /* claims given up (single producer: reused) */
} fan_writer;

enum { READ_NEXT, READ_BATCH, READ_HOLD };

typedef struct fan_reader {
    worker            w;
    rr_reader        *r;
    const fan_params *p;
    int               kind;
    uint64_t          seed;
    uint64_t          holds;   /* holds that spanned later calls */
} fan_reader;

static void fan_write(fan_writer *fw)
{
    worker *w = &fw->w;
    const uint64_t n_events = fw->p->events;
    uint64_t rng = 0x1234567887654321ull;
    unsigned char one[SLOT];
    unsigned char bufs[64][SLOT];
    rr_payload items[64];
    uint64_t i = 0;

    while (i < n_events) {
        uint32_t op = rng_next(&rng) % 3;
        uint64_t n = 1 + rng_next(&rng) % fw->p->max_batch;
        if (n > n_events - i) n = n_events - i;
        rr_status st;

        if (op == 0) {                          /* one copy-in add */
            uint64_t seq = UINT64_MAX;
            payload_fill(one, ev_len(i), i, SALT);
            st = rr_writer_add(fw->wr, one, ev_len(i), ev_type(i), &seq, WAIT_NS);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_add", i);
            W_CHECK(w, seq == i, "rr_writer_add gave sequence %" PRIu64 " for event %" PRIu64,
                    seq, i);
            i++;
        } else if (op == 1) {                   /* a copy-in batch */
            uint64_t first = UINT64_MAX;
            for (uint64_t k = 0; k < n; k++) {
                payload_fill(bufs[k], ev_len(i + k), i + k, SALT);
                items[k] = (rr_payload){ bufs[k], ev_len(i + k), ev_type(i + k) };
            }
            st = rr_writer_add_batch(fw->wr, items, n, &first, WAIT_NS);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_add_batch", i);
            W_CHECK(w, first == i, "rr_writer_add_batch gave sequence %" PRIu64
                    " for event %" PRIu64, first, i);
            i += n;
        } else if (rng_next(&rng) % 512 == 0) { /* a claim given up: never seen */
            rr_claim c;
            st = rr_writer_claim(fw->wr, (uint32_t)n, 0xDEAD, &c, WAIT_NS);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_claim", i);
            W_CHECK(w, c.sequence == i, "claim at %" PRIu64 " got sequence %" PRIu64,
                    i, c.sequence);
            for (uint32_t k = 0; k < n; k++)
                payload_fill(rr_claim_data(&c, k), SLOT, ~(i + k), ~SALT);
            st = rr_writer_abandon(fw->wr, &c);
            W_CHECK_OK(w, st, "rr_writer_abandon", i);
            fw->abandoned++;
        } else {                                /* claim, fill in place, publish */
            rr_claim c;
            bool probe = rng_next(&rng) % 16 == 0;
            st = rr_writer_claim(fw->wr, (uint32_t)n, ev_type(i), &c, WAIT_NS);
            if (st == RR_CLOSED && atomic_load(w->failed)) return;
            W_CHECK_OK(w, st, "rr_writer_claim", i);
            W_CHECK(w, c.sequence == i && c.count == n && c.slot_size == SLOT,
                    "claim of %" PRIu64 " at %" PRIu64 ": sequence %" PRIu64
                    " count %u slot_size %u", n, i, c.sequence, c.count, c.slot_size);
            for (uint32_t k = 0; k < n; k++) {
                uint32_t len = ev_len(i + k);
                payload_fill(rr_claim_data(&c, k), len, i + k, SALT);
                if (probe) {   /* too large: refused, the event keeps its length */
                    st = rr_claim_set(&c, k, SLOT + 1, 7);
                    W_CHECK(w, st == RR_TOO_LARGE, "rr_claim_set(len %u) returned %s",
                            SLOT + 1, rr_strerror(st));
                }
                /* Event 0 starts with length slot_size and the claim's type. */
                if (k == 0 && len == SLOT) continue;
                st = rr_claim_set(&c, k, len, ev_type(i + k));
                W_CHECK_OK(w, st, "rr_claim_set", i + k);
            }
            st = rr_writer_publish(fw->wr, &c);
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

/* The hold reader keeps event `seq` pinned while it reads on. */
typedef struct held_event {
    bool          active;
    uint64_t      seq;
    uint32_t      len;
    uint32_t      calls_left;   /* later calls before the release */
    const void   *data;         /* the slot itself (backpressure: zero copy) */
    unsigned char copy[SLOT];
} held_event;

/* Finish a hold: let the writer fill every slot it may, then prove it never
 * took the pinned one. With the hold on `seq`, the writer may publish up to
 * sequence seq + capacity - 1; a batch of up to max_batch events that does not
 * fit waits whole, so it gets at least to seq + capacity - max_batch + 1. */
static bool hold_finish(fan_reader *fr, held_event *h)
{
    worker *w = &fr->w;
    const uint64_t cap = fr->p->capacity;
    uint64_t target = h->seq + cap - fr->p->max_batch + 1;
    if (target > fr->p->events) target = fr->p->events;
    if (!WAIT_UNTIL(rr_ring_published(w->ring) >= target || atomic_load(w->failed), WAIT_S)) {
        worker_fail(w, __LINE__, "holding %" PRIu64 ": writer stuck at published %" PRIu64
                    ", expected it to reach %" PRIu64, h->seq,
                    rr_ring_published(w->ring), target);
        return false;
    }
    uint64_t pub = rr_ring_published(w->ring);
    if (pub > h->seq + cap) {
        worker_fail(w, __LINE__, "holding %" PRIu64 " but published reached %" PRIu64
                    " (capacity %" PRIu64 "): the pinned slot was reused",
                    h->seq, pub, cap);
        return false;
    }
    uint64_t ps = 0;
    if (memcmp(h->data, h->copy, h->len) != 0 || !payload_ok(h->data, h->len, SALT, &ps) ||
        ps != h->seq) {
        worker_fail(w, __LINE__, "held event %" PRIu64 " changed under the hold "
                    "(now carries %" PRIu64 ")", h->seq, ps);
        return false;
    }
    rr_status st = rr_reader_release(fr->r, h->seq);
    if (st != RR_OK) {
        worker_fail(w, __LINE__, "rr_reader_release(%" PRIu64 ") returned %s (%s)", h->seq,
                    rr_strerror(st), rr_last_error());
        return false;
    }
    h->active = false;
    fr->holds++;
    return true;
}

/* Start holding the event just handed out. */
static bool hold_start(fan_reader *fr, held_event *h, const rr_event *ev, uint64_t *rng)
{
    rr_status st = rr_reader_hold(fr->r, ev->sequence);
    if (st != RR_OK) {
        worker_fail(&fr->w, __LINE__, "rr_reader_hold(%" PRIu64 ") returned %s (%s)",
                    ev->sequence, rr_strerror(st), rr_last_error());
        return false;
    }
    if (fr->p->max_span == 0) {   /* capacity 1: no room to read on while holding */
        st = rr_reader_release(fr->r, ev->sequence);
        if (st != RR_OK) {
            worker_fail(&fr->w, __LINE__, "rr_reader_release(%" PRIu64 ") returned %s",
                        ev->sequence, rr_strerror(st));
            return false;
        }
        return true;
    }
    h->active = true;
    h->seq = ev->sequence;
    h->len = ev->len;
    h->data = ev->data;
    memcpy(h->copy, ev->data, ev->len);
    h->calls_left = 1 + rng_next(rng) % fr->p->max_span;
    return true;
}

static void fan_read(fan_reader *fr)
{
    worker *w = &fr->w;
    const uint64_t n_events = fr->p->events;
    uint64_t rng = fr->seed, want = 0;
    held_event held = { .active = false };
    rr_event evs[100];
    rr_status st;

    for (;;) {
        if (fr->kind == READ_BATCH) {
            size_t max = 1 + rng_next(&rng) % 100, n = 0;
            st = rr_reader_next_batch(fr->r, evs, max, &n, WAIT_NS);
            if (st == RR_CLOSED) break;
            W_CHECK_OK(w, st, "rr_reader_next_batch", want);
            W_CHECK(w, n >= 1 && n <= max, "rr_reader_next_batch: %zu events for max %zu",
                    n, max);
            for (size_t k = 0; k < n; k++)
                if (!event_ok(w, &evs[k], want++)) return;
            continue;
        }
        st = rr_reader_next(fr->r, &evs[0], WAIT_NS);
        if (st == RR_CLOSED) break;
        W_CHECK_OK(w, st, "rr_reader_next", want);
        if (!event_ok(w, &evs[0], want++)) return;
        if (fr->kind != READ_HOLD) continue;
        if (held.active) {
            if (--held.calls_left == 0 && !hold_finish(fr, &held)) return;
        } else if (rng_next(&rng) % 2048 == 0) {
            if (!hold_start(fr, &held, &evs[0], &rng)) return;
        }
    }
    if (atomic_load(w->failed)) return;     /* someone else failed and closed the ring */
    if (held.active && !hold_finish(fr, &held)) return;
    W_CHECK(w, want == n_events, "RR_CLOSED after %" PRIu64 " of %" PRIu64 " events",
            want, n_events);
    st = rr_reader_next(fr->r, &evs[0], 0);
    W_CHECK(w, st == RR_CLOSED, "a drained reader of a closed ring got %s, not closed",
            rr_strerror(st));
    W_CHECK(w, rr_reader_lost(fr->r) == 0, "backpressure reader lost %" PRIu64,
            rr_reader_lost(fr->r));
    /* Single producer: abandoned sequences are reused, never skipped. */
    W_CHECK(w, rr_reader_skipped(fr->r) == 0, "single-producer reader skipped %" PRIu64,
            rr_reader_skipped(fr->r));
    W_CHECK(w, rr_reader_cursor(fr->r) == n_events, "drained reader's cursor is %" PRIu64,
            rr_reader_cursor(fr->r));
    W_CHECK(w, rr_reader_delivered(fr->r) == n_events, "rr_reader_delivered %" PRIu64
            ", read %" PRIu64, rr_reader_delivered(fr->r), n_events);
}

static void *fan_writer_main(void *arg) { fan_write(arg); return NULL; }
static void *fan_reader_main(void *arg) { fan_read(arg); return NULL; }

static void fanout_run(uint64_t capacity, uint64_t events)
{
    fan_params p = { .capacity = capacity, .events = events };
    p.max_batch = (uint32_t)(capacity / 2 > 64 ? 64 : capacity / 2);
    if (p.max_batch == 0) p.max_batch = 1;
    /* A hold across k calls plus a writer batch of b must fit: k + b <= capacity. */
    p.max_span = (uint32_t)(capacity - p.max_batch > 4 ? 4 : capacity - p.max_batch);

    rr_config cfg = { .slot_size = SLOT, .capacity = capacity,
                      .mode = RR_MODE_BACKPRESSURE, .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring = NULL;
    atomic_int failed = 0;
    CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);

    fan_writer fw = { .w = { "writer", ring, &failed, "" }, .p = &p };
    CHECK_ST(check_writer_open(ring, &fw.wr), RR_OK);
    static const char *names[3] = { "reader(next)", "reader(next_batch)", "reader(hold)" };
    fan_reader fr[3];
    for (int k = 0; k < 3; k++) {
        fr[k] = (fan_reader){ .w = { names[k], ring, &failed, "" }, .p = &p, .kind = k,
                              .seed = 0x9E3779B97F4A7C15ull * (uint64_t)(k + 1) };
        CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &fr[k].r), RR_OK);
    }

    pthread_t tw, tr[3];
    double t0 = check_now();
    for (int k = 0; k < 3; k++)
        CHECK(pthread_create(&tr[k], NULL, fan_reader_main, &fr[k]) == 0);
    CHECK(pthread_create(&tw, NULL, fan_writer_main, &fw) == 0);
    pthread_join(tw, NULL);
    for (int k = 0; k < 3; k++) pthread_join(tr[k], NULL);
    double dt = check_now() - t0;

    worker *ws[4] = { &fw.w, &fr[0].w, &fr[1].w, &fr[2].w };
    CHECK_WORKERS(ws, 4);
    printf("     capacity %-5" PRIu64 " %9" PRIu64 " events x 3 readers in %.2f s: "
           "%.2f M events/s published, %" PRIu64 " holds, %" PRIu64 " claims abandoned\n",
           capacity, events, dt, (double)events / dt / 1e6, fr[2].holds, fw.abandoned);

    rr_writer_close(fw.wr);
    for (int k = 0; k < 3; k++) rr_reader_close(fr[k].r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_fanout_three_readers_get_every_event_once_in_order)
{
    fanout_run(1024, check_scaled(10000000));
}

TEST(test_fanout_capacity_15_not_a_power_of_two)
{
    fanout_run(15, check_scaled(300000));
}

TEST(test_fanout_capacity_1_hands_off_every_event)
{
    fanout_run(1, check_scaled(30000));
}

int main(void)
{
    watchdog_arm();
    RUN(test_fanout_three_readers_get_every_event_once_in_order);
    watchdog_arm();
    RUN(test_fanout_capacity_15_not_a_power_of_two);
    watchdog_arm();
    RUN(test_fanout_capacity_1_hands_off_every_event);
    return check_report();
}
