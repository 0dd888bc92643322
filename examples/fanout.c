/*
 * fanout.c — the seed's fan-out scenario on the rusted_ring C core (`make demo`).
 *
 * Part 1, overwrite mode (the seed's semantics), on the default XS pool
 * (64 B slots, 2000 of them, multi-producer):
 *   - one writer thread emits "drawing stroke" events (through a pool writer)
 *     and "cursor" events (through rr_emit, which picks the XS pool by size) at
 *     a steady EVENTS_PER_MS for RUN_MS milliseconds;
 *   - three reader threads follow the same stream at their own speed: storage
 *     keeps up, network naps now and then, analytics is the slowest: it first
 *     stalls until the writer has lapped it (a condition, not a guess), then
 *     reads slower than the writer writes, so it keeps being lapped and its
 *     `lost` grows while every event it does get is intact and in order;
 *   - every TICK_MS the main thread prints each pool's stats line
 *     (rr_pool_stats_collect + rr_pool_stats_format, the seed's
 *     "Pool XS: capacity=2000, backpressure=15.3%") and per reader its
 *     delivered, lost, lag and backpressure ratio;
 *   - at the end, for every reader delivered + lost == published ("balanced").
 *
 * Part 2, backpressure mode: a parse -> store pipeline on a small ring from
 * rr_ring_create. The store stage waits until the ring is full before it
 * starts (so the writer must stall), then stores slowly; the parse stage
 * claims each slot, parses straight into it (zero-copy) and publishes. The
 * ring's writer_stalls is > 0 and every record arrives, in order, none lost.
 *
 * Exit status 0 when every point above held, 1 otherwise.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rusted_ring.h"

#define RUN_MS        2000   /* part 1: how long the writer emits */
#define EVENTS_PER_MS 40     /* part 1: steady rate (40 000 events/s) */
#define TICK_MS       250    /* part 1: stats period */
#define PIPE_SLOTS    64     /* part 2: ring capacity */
#define PIPE_RECORDS  1000   /* part 2: records parsed and stored */

enum { EV_STROKE = 1, EV_CURSOR = 2, EV_RECORD = 3 };

typedef struct stroke_event {
    uint64_t timestamp_ns;
    uint32_t id;           /* the writer's running event number */
    float    x, y;
    float    pressure;
} stroke_event;

typedef struct cursor_event {
    uint64_t timestamp_ns;
    uint32_t id;
    float    x, y;
} cursor_event;

static int failures;

static void fail(const char *what, const char *name)
{
    printf("FAILED: %s%s%s\n", what, name ? ": " : "", name ? name : "");
    failures++;
}

static void must(rr_status st, const char *what)
{
    if (st == RR_OK) return;
    fprintf(stderr, "fanout: %s: %s (%s)\n", what, rr_strerror(st), rr_last_error());
    exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = { (time_t)(t_ns / 1000000000u), (long)(t_ns % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
}

static void nap_ms(int ms)
{
    sleep_until(now_ns() + (uint64_t)ms * 1000000u);
}

/* Where event `id` is drawn: the reader recomputes it to prove the payload intact. */
static float x_of(uint32_t id) { return (float)(id % 1920); }
static float y_of(uint32_t id) { return (float)(id % 1080) * 0.5f; }

/* ---- part 1: the writer --------------------------------------------------- */

typedef struct emitter {
    atomic_bool done;
    uint64_t    strokes, cursors;
} emitter;

static void emit_one(rr_writer *w, uint32_t id)
{
    if (id % 4 == 3) {
        cursor_event c;
        memset(&c, 0, sizeof c);   /* no stray bytes in the padding */
        c.timestamp_ns = now_ns(), c.id = id, c.x = x_of(id), c.y = y_of(id);
        rr_pool_id pool;
        /* a lone producer never waits; the timeout only bounds a stuck one */
        must(rr_emit(&c, sizeof c, EV_CURSOR, 100000000, &pool), "rr_emit");
        if (pool != RR_POOL_XS) fail("a cursor event did not go to pool XS, but to", rr_pool_name(pool));
    } else {
        stroke_event s;
        memset(&s, 0, sizeof s);
        s.timestamp_ns = now_ns(), s.id = id, s.x = x_of(id), s.y = y_of(id), s.pressure = 0.5f;
        must(rr_writer_add(w, &s, sizeof s, EV_STROKE, NULL, 0), "rr_writer_add");
    }
}

static void *writer_main(void *arg)
{
    emitter *e = arg;
    rr_writer *w;
    uint32_t id = 0;
    must(rr_pool_writer(RR_POOL_XS, &w), "rr_pool_writer");
    uint64_t t = now_ns();
    for (int ms = 0; ms < RUN_MS; ms++) {
        for (int k = 0; k < EVENTS_PER_MS; k++, id++) {
            emit_one(w, id);
            if (id % 4 == 3) e->cursors++;
            else e->strokes++;
        }
        t += 1000000u;
        sleep_until(t);   /* absolute deadlines: the rate stays steady */
    }
    rr_writer_close(w);
    atomic_store_explicit(&e->done, true, memory_order_release);
    return NULL;
}

/* ---- part 1: the readers -------------------------------------------------- */

typedef struct reader_task {
    const char  *name;
    rr_reader   *r;
    rr_ring     *ring;
    emitter     *e;
    int          nap_every;      /* nap 1 ms after this many events; 0: never */
    bool         stall_until_lapped;
    /* checks, owned by the reader thread until it is joined */
    uint64_t     strokes, cursors, bad, out_of_order;
    int64_t      last_id;
    /* a snapshot for the main thread, refreshed by the reader thread */
    _Atomic uint64_t delivered, lost, lag, ratio_ppm;
} reader_task;

static void snapshot(reader_task *t)
{
    atomic_store_explicit(&t->delivered, rr_reader_delivered(t->r), memory_order_relaxed);
    atomic_store_explicit(&t->lost, rr_reader_lost(t->r), memory_order_relaxed);
    atomic_store_explicit(&t->lag, rr_reader_lag(t->r), memory_order_relaxed);
    atomic_store_explicit(&t->ratio_ppm,
                          (uint64_t)(rr_reader_backpressure_ratio(t->r) * 1e6 + 0.5),
                          memory_order_relaxed);
}

/* Check one event: right size, intact fields, ids only ever increase. */
static void check_event(reader_task *t, const rr_event *ev)
{
    uint32_t id;
    float x, y;
    if (ev->event_type == EV_STROKE && ev->len == sizeof(stroke_event)) {
        stroke_event s;
        memcpy(&s, ev->data, sizeof s);
        id = s.id, x = s.x, y = s.y;
        t->strokes++;
    } else if (ev->event_type == EV_CURSOR && ev->len == sizeof(cursor_event)) {
        cursor_event c;
        memcpy(&c, ev->data, sizeof c);
        id = c.id, x = c.x, y = c.y;
        t->cursors++;
    } else {
        t->bad++;
        return;
    }
    if (x != x_of(id) || y != y_of(id) || id != ev->sequence) t->bad++;
    if ((int64_t)id <= t->last_id) t->out_of_order++;
    t->last_id = id;
}

/* Analytics "flushes its metrics" until the writer has lapped it. */
static void stall_until_lapped(reader_task *t)
{
    uint64_t cap = rr_ring_capacity(t->ring), deadline = now_ns() + 1500000000u;
    while (rr_ring_published(t->ring) - rr_reader_cursor(t->r) <= cap + cap / 4 &&
           now_ns() < deadline) {
        snapshot(t);
        nap_ms(1);
    }
}

static bool drained(reader_task *t)
{
    return atomic_load_explicit(&t->e->done, memory_order_acquire) &&
           rr_reader_cursor(t->r) == rr_ring_published(t->ring);
}

static void *reader_main(void *arg)
{
    reader_task *t = arg;
    rr_event ev;
    uint64_t n = 0;
    if (t->stall_until_lapped) stall_until_lapped(t);
    for (;;) {
        rr_status st = rr_reader_next(t->r, &ev, 5000000);   /* 5 ms */
        if (st == RR_TIMEOUT || st == RR_EMPTY) {
            snapshot(t);
            if (drained(t)) break;
            continue;
        }
        must(st, "rr_reader_next");
        check_event(t, &ev);
        snapshot(t);
        if (t->nap_every && ++n % (uint64_t)t->nap_every == 0) nap_ms(1);
    }
    snapshot(t);
    return NULL;
}

/* ---- part 1: monitoring and summary ---------------------------------------- */

static void print_pools(void)
{
    rr_pool_stats ps[RR_POOL_COUNT];
    char line[128];
    rr_pool_stats_collect(ps);
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        rr_pool_stats_format(&ps[i], line, sizeof line);
        printf("  %s\n", line);
    }
}

static void print_readers(reader_task *ts, int n)
{
    for (int i = 0; i < n; i++) {
        reader_task *t = &ts[i];
        printf("    %-9s delivered=%6" PRIu64 " lost=%6" PRIu64 " lag=%5" PRIu64
               " backpressure=%5.1f%%\n", t->name,
               atomic_load_explicit(&t->delivered, memory_order_relaxed),
               atomic_load_explicit(&t->lost, memory_order_relaxed),
               atomic_load_explicit(&t->lag, memory_order_relaxed),
               (double)atomic_load_explicit(&t->ratio_ppm, memory_order_relaxed) / 1e4);
    }
}

static void print_tick(rr_ring *ring, uint64_t t0, reader_task *ts, int n)
{
    printf("t=%.2fs published=%" PRIu64 "\n", (double)(now_ns() - t0) / 1e9,
           rr_ring_published(ring));
    print_pools();
    print_readers(ts, n);
}

static void summarize(rr_ring *ring, const emitter *e, reader_task *ts, int n)
{
    uint64_t published = rr_ring_published(ring);
    printf("\nsummary: published %" PRIu64 " (%" PRIu64 " strokes, %" PRIu64 " cursors)\n",
           published, e->strokes, e->cursors);
    if (published != e->strokes + e->cursors) fail("published != events emitted", NULL);
    for (int i = 0; i < n; i++) {
        reader_task *t = &ts[i];
        uint64_t d = rr_reader_delivered(t->r), l = rr_reader_lost(t->r);
        bool balanced = d + l == published && d == t->strokes + t->cursors &&
                        rr_reader_skipped(t->r) == 0;   /* nothing was abandoned */
        printf("  %-9s delivered %6" PRIu64 " + lost %6" PRIu64 " = %6" PRIu64 " %s published: %s;"
               " %" PRIu64 " torn, %" PRIu64 " out of order\n", t->name, d, l, d + l,
               d + l == published ? "==" : "!=", balanced ? "balanced" : "NOT BALANCED",
               t->bad, t->out_of_order);
        if (!balanced || t->bad || t->out_of_order) fail("a reader is not balanced and clean", t->name);
    }
    if (rr_reader_lost(ts[n - 1].r) == 0) fail("this reader was never lapped", ts[n - 1].name);
    else printf("  %s was lapped: it skipped %" PRIu64 " events it could not keep up with and was "
                "never handed a torn one\n", ts[n - 1].name, rr_reader_lost(ts[n - 1].r));
}

static void part_overwrite(void)
{
    static emitter e;
    static reader_task ts[3] = {
        { .name = "storage",   .nap_every = 0 },
        { .name = "network",   .nap_every = 60 },
        { .name = "analytics", .nap_every = 10, .stall_until_lapped = true },
    };
    pthread_t wt, rt[3];
    rr_ring *ring;
    must(rr_pool_ring(RR_POOL_XS, &ring), "rr_pool_ring");
    printf("== part 1: fan-out on the default XS pool (overwrite, %" PRIu64 " slots of %zu B), "
           "%d events/s for %.1f s\n", rr_ring_capacity(ring), rr_ring_slot_size(ring),
           EVENTS_PER_MS * 1000, RUN_MS / 1000.0);
    for (int i = 0; i < 3; i++) {   /* open before the writer starts: nothing predates them */
        ts[i].ring = ring, ts[i].e = &e, ts[i].last_id = -1;
        must(rr_pool_reader(RR_POOL_XS, RR_START_OLDEST, &ts[i].r), "rr_pool_reader");
    }
    for (int i = 0; i < 3; i++) pthread_create(&rt[i], NULL, reader_main, &ts[i]);
    uint64_t t0 = now_ns(), tick = t0;
    pthread_create(&wt, NULL, writer_main, &e);
    for (;;) {
        tick += (uint64_t)TICK_MS * 1000000u;
        sleep_until(tick);
        if (atomic_load_explicit(&e.done, memory_order_acquire)) break;
        print_tick(ring, t0, ts, 3);
    }
    pthread_join(wt, NULL);
    for (int i = 0; i < 3; i++) pthread_join(rt[i], NULL);
    printf("writer done, readers drained:\n");
    print_tick(ring, t0, ts, 3);
    summarize(ring, &e, ts, 3);
    for (int i = 0; i < 3; i++) rr_reader_close(ts[i].r);
}

/* ---- part 2: backpressure pipeline ------------------------------------------ */

typedef struct record {
    uint32_t id;
    float    x, y;
    uint32_t check;   /* id * 2654435761, to prove the record intact */
} record;

typedef struct parse_stage {
    rr_ring *ring;
    uint64_t full_seen;   /* claims that found the ring full at once */
} parse_stage;

/* Claim a slot without waiting; when the ring is full, note it and wait. */
static void claim_slot(rr_writer *w, rr_claim *c, parse_stage *p)
{
    rr_status st = rr_writer_claim(w, 1, EV_RECORD, c, 0);
    if (st == RR_FULL) {
        p->full_seen++;
        st = rr_writer_claim(w, 1, EV_RECORD, c, RR_FOREVER);
    }
    must(st, "rr_writer_claim");
}

static void *parse_main(void *arg)
{
    parse_stage *p = arg;
    rr_writer *w;
    rr_claim c;
    char line[64];
    must(rr_writer_open(p->ring, &w), "rr_writer_open");
    for (uint32_t id = 0; id < PIPE_RECORDS; id++) {
        snprintf(line, sizeof line, "stroke %" PRIu32 " x=%.1f y=%.1f", id, x_of(id), y_of(id));
        claim_slot(w, &c, p);
        record *r = rr_claim_data(&c, 0);   /* parse straight into the slot */
        if (sscanf(line, "stroke %" SCNu32 " x=%f y=%f", &r->id, &r->x, &r->y) != 3) r->id = UINT32_MAX;
        r->check = r->id * 2654435761u;
        must(rr_claim_set(&c, 0, sizeof *r, EV_RECORD), "rr_claim_set");
        must(rr_writer_publish(w, &c), "rr_writer_publish");
    }
    rr_writer_close(w);
    must(rr_ring_close(p->ring), "rr_ring_close");   /* end of stream */
    return NULL;
}

/* Store waits for a full ring (so the writer must stall), then stores slowly. */
static void wait_full(rr_ring *ring, rr_reader *r)
{
    uint64_t deadline = now_ns() + 2000000000u;
    while (rr_ring_published(ring) < PIPE_SLOTS && now_ns() < deadline) nap_ms(1);
    nap_ms(5);   /* the parse stage is now blocked on the full ring */
    printf("  store: ring full before storing starts: lag=%" PRIu64 " backpressure=%.1f%% "
           "should_throttle=%s\n", rr_reader_lag(r), rr_reader_backpressure_ratio(r) * 100,
           rr_reader_should_throttle(r) ? "yes" : "no");
}

static uint64_t store_all(rr_reader *r, uint64_t *bad)
{
    rr_event ev;
    uint64_t stored = 0;
    for (;;) {
        rr_status st = rr_reader_next(r, &ev, RR_FOREVER);
        if (st == RR_CLOSED) break;
        must(st, "rr_reader_next");
        record rec;
        memcpy(&rec, ev.data, sizeof rec);
        if (ev.len != sizeof rec || rec.id != stored || rec.check != rec.id * 2654435761u ||
            rec.x != x_of(rec.id) || rec.y != y_of(rec.id))
            (*bad)++;
        stored++;
        if (stored % 16 == 0) nap_ms(1);   /* the slow disk */
    }
    return stored;
}

static void pipeline_report(rr_ring *ring, rr_reader *r, const parse_stage *p,
                            uint64_t stored, uint64_t bad)
{
    rr_ring_stats s;
    must(rr_ring_stats_get(ring, &s), "rr_ring_stats_get");
    printf("  published=%" PRIu64 " stored=%" PRIu64 " delivered=%" PRIu64 " lost=%" PRIu64
           " writer_stalls=%" PRIu64 "\n", s.published, stored, rr_reader_delivered(r),
           rr_reader_lost(r), s.writer_stalls);
    printf("  (%" PRIu64 " non-blocking claims got RR_FULL and were retried as waiting claims;\n"
           "   writer_stalls counts every claim call that found no room)\n", p->full_seen);
    bool ok = s.published == PIPE_RECORDS && stored == PIPE_RECORDS && bad == 0 &&
              rr_reader_lost(r) == 0 && rr_reader_delivered(r) == stored;
    if (ok) printf("  nothing lost: all %d records stored, in order, intact\n", PIPE_RECORDS);
    else fail("the backpressure pipeline lost or damaged records", NULL);
    if (s.writer_stalls == 0) fail("the writer never stalled", NULL);
}

static void part_backpressure(void)
{
    rr_config cfg = { sizeof(record), PIPE_SLOTS, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE };
    parse_stage p = { NULL, 0 };
    rr_reader *r;
    pthread_t th;
    uint64_t bad = 0;
    printf("\n== part 2: parse -> store on a backpressure ring (%d slots of %zu B), %d records\n",
           PIPE_SLOTS, sizeof(record), PIPE_RECORDS);
    must(rr_ring_create(&cfg, &p.ring), "rr_ring_create");
    must(rr_reader_open(p.ring, RR_START_OLDEST, &r), "rr_reader_open");
    pthread_create(&th, NULL, parse_main, &p);
    wait_full(p.ring, r);
    uint64_t stored = store_all(r, &bad);
    pthread_join(th, NULL);
    pipeline_report(p.ring, r, &p, stored, bad);
    rr_reader_close(r);
    must(rr_ring_destroy(p.ring), "rr_ring_destroy");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t t0 = now_ns();
    part_overwrite();
    part_backpressure();
    printf("\ndemo finished in %.2f s: %s\n", (double)(now_ns() - t0) / 1e9,
           failures ? "SOME POINTS FAILED" : "every point shown");
    return failures ? 1 : 0;
}
