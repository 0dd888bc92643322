/*
 * bench_latency.c — latency of the rusted_ring C core between two threads
 * (run by `make bench`, see bench/run.py).
 *
 *   a. ping-pong: thread A adds an event to ring "ping" and waits for it to
 *      come back on ring "pong"; thread B reads each ping and adds it to pong.
 *      One round trip is two hand-offs; every round trip is timed.
 *   b. timestamped events: a writer paced at a fixed rate (10k, 100k and 1M
 *      events/s, for at most RATE_S seconds each) stamps each event
 *      with the time it is added; the reader subtracts that from the time it
 *      receives it (one-way latency, the same clock on both sides).
 *
 * Rings are backpressure rings of 1024 slots (the Disruptor's ping-pong test
 * uses 1024 too), 8 B (its event is one long) and 64 B for ping-pong, 64 B
 * for timestamped events; readers wait with
 * RR_FOREVER, that is the core's own wait (spin, then yield, then a futex
 * the writer wakes only when someone sleeps on it), which is what a user
 * gets. Percentiles are exact (every sample is kept and sorted). The first
 * WARMUP samples of each run are dropped.
 *
 *   bench_latency [--quick] [--json FILE]
 *
 * Exit status: 0, or 1 when an event came back wrong (a core bug).
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rusted_ring.h"

#define PAYLOAD   64
#define SLOTS     1024
#define WARMUP    1000
#define N_FULL    200000
#define N_QUICK   20000
#define MAX_RUNS  8
#define RATE_S    2.0    /* seconds of paced events per rate, at most */
#define RATE_S_QUICK 0.3

static int failures;

static const double quantiles[] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
                                    0.95, 0.99, 0.995, 0.999, 0.9999, 1.0 };
#define N_Q (sizeof quantiles / sizeof quantiles[0])

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, rr_status st)
{
    fprintf(stderr, "bench_latency: %s: %s (%s)\n", what, rr_strerror(st), rr_last_error());
    exit(2);
}

#define MUST(call)                                   \
    do {                                             \
        rr_status must_ = (call);                    \
        if (must_ != RR_OK) die(#call, must_);       \
    } while (0)

static rr_ring *make_ring(size_t slot_size)
{
    rr_config cfg = { slot_size, SLOTS, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE };
    rr_ring *ring;
    MUST(rr_ring_create(&cfg, &ring));
    return ring;
}

typedef struct run_result {
    char     name[64];
    const char *kind;      /* "rtt" or "one_way" */
    double   rate;         /* paced events/s, 0 for ping-pong */
    size_t   payload;
    size_t   n;
    double   mean_ns;
    uint64_t q[N_Q];
} run_result;

static run_result runs[MAX_RUNS];
static int n_runs;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void summarize(run_result *r, uint64_t *s, size_t n)
{
    double sum = 0;
    qsort(s, n, sizeof *s, cmp_u64);
    for (size_t i = 0; i < n; i++) sum += (double)s[i];
    r->n = n;
    r->mean_ns = sum / (double)n;
    for (size_t k = 0; k < N_Q; k++) {
        size_t i = (size_t)(quantiles[k] * (double)(n - 1) + 0.5);
        r->q[k] = s[i];
    }
}

static uint64_t q_at(const run_result *r, double q)
{
    for (size_t k = 0; k < N_Q; k++)
        if (quantiles[k] == q) return r->q[k];
    return 0;
}

static void print_row(const run_result *r)
{
    printf("  %-40s %9zu %9.0f %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10" PRIu64 "\n", r->name,
           r->n, r->mean_ns, q_at(r, 0.5), q_at(r, 0.99), q_at(r, 0.999), q_at(r, 1.0));
}

static void print_head(void)
{
    printf("  %-40s %9s %9s %9s %9s %9s %10s\n", "ns", "samples", "mean", "p50", "p99", "p99.9",
           "max");
}

/* ---- a. ping-pong ------------------------------------------------------------ */

typedef struct pong_ctx {
    rr_ring *ping, *pong;
    rr_reader *r;
} pong_ctx;

/* Thread B: hand every ping back until the ping ring closes. */
static void *ponger(void *arg)
{
    pong_ctx *c = arg;
    rr_writer *w;
    rr_event ev;
    MUST(rr_writer_open(c->pong, &w));
    for (;;) {
        rr_status st = rr_reader_next(c->r, &ev, RR_FOREVER);
        if (st == RR_CLOSED) break;
        if (st != RR_OK) die("rr_reader_next", st);
        st = rr_writer_add(w, ev.data, ev.len, ev.event_type, NULL, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_add", st);
    }
    rr_writer_close(w);
    return NULL;
}

static void ping_pong(size_t n, size_t payload)
{
    rr_ring *ping = make_ring(payload), *pong = make_ring(payload);
    rr_writer *w;
    rr_reader *back;
    pong_ctx c = { ping, pong, NULL };
    pthread_t th;
    unsigned char buf[PAYLOAD];
    uint64_t *s = malloc((n + WARMUP) * sizeof *s);
    if (!s) { fprintf(stderr, "bench_latency: out of memory\n"); exit(2); }
    memset(buf, 0x5A, sizeof buf);
    MUST(rr_writer_open(ping, &w));
    MUST(rr_reader_open(ping, RR_START_OLDEST, &c.r));
    MUST(rr_reader_open(pong, RR_START_OLDEST, &back));
    pthread_create(&th, NULL, ponger, &c);
    for (uint64_t i = 0; i < n + WARMUP; i++) {
        rr_event ev;
        memcpy(buf, &i, sizeof i);
        uint64_t t0 = now_ns();
        rr_status st = rr_writer_add(w, buf, payload, 1, NULL, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_add", st);
        st = rr_reader_next(back, &ev, RR_FOREVER);
        uint64_t t1 = now_ns();
        if (st != RR_OK) die("rr_reader_next", st);
        uint64_t got;
        memcpy(&got, ev.data, sizeof got);
        if (got != i || ev.len != payload) {
            fprintf(stderr, "bench_latency: ping %" PRIu64 " came back as %" PRIu64 "\n", i, got);
            failures++;
        }
        s[i] = t1 - t0;
    }
    MUST(rr_ring_close(ping));
    pthread_join(th, NULL);
    run_result *r = &runs[n_runs++];
    snprintf(r->name, sizeof r->name, "ping-pong round trip, %zu B", payload);
    r->kind = "rtt";
    r->payload = payload;
    r->rate = 0;
    summarize(r, s + WARMUP, n);
    print_row(r);
    rr_reader_close(back);
    rr_reader_close(c.r);
    rr_writer_close(w);
    MUST(rr_ring_destroy(ping));
    MUST(rr_ring_destroy(pong));
    free(s);
}

/* ---- b. timestamped events at a fixed rate ------------------------------------ */

typedef struct stamp_ctx {
    rr_reader *r;
    uint64_t  *s;
    size_t     n, seen;
    uint64_t   bad;
} stamp_ctx;

static void *stamp_reader(void *arg)
{
    stamp_ctx *c = arg;
    rr_event ev;
    for (;;) {
        rr_status st = rr_reader_next(c->r, &ev, RR_FOREVER);
        uint64_t t = now_ns();
        if (st == RR_CLOSED) break;
        if (st != RR_OK) die("rr_reader_next", st);
        uint64_t stamp, seq;
        memcpy(&seq, ev.data, sizeof seq);
        memcpy(&stamp, (const unsigned char *)ev.data + 8, sizeof stamp);
        if (seq != c->seen) c->bad++;
        if (c->seen < c->n) c->s[c->seen] = t - stamp;
        c->seen++;
    }
    return NULL;
}

static void timestamped(size_t n, double rate)
{
    rr_ring *ring = make_ring(PAYLOAD);
    rr_writer *w;
    stamp_ctx c;
    pthread_t th;
    unsigned char buf[PAYLOAD];
    size_t total = n + WARMUP;
    memset(&c, 0, sizeof c);
    memset(buf, 0x5A, sizeof buf);
    c.n = total;
    c.s = malloc(total * sizeof *c.s);
    if (!c.s) { fprintf(stderr, "bench_latency: out of memory\n"); exit(2); }
    MUST(rr_writer_open(ring, &w));
    MUST(rr_reader_open(ring, RR_START_OLDEST, &c.r));
    pthread_create(&th, NULL, stamp_reader, &c);
    double gap = 1e9 / rate;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < total; i++) {
        uint64_t due = start + (uint64_t)(gap * (double)i), t;
        while ((t = now_ns()) < due) {}   /* pace: spin until the event is due */
        memcpy(buf, &i, sizeof i);
        memcpy(buf + 8, &t, sizeof t);
        rr_status st = rr_writer_add(w, buf, PAYLOAD, 1, NULL, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_add", st);
    }
    MUST(rr_ring_close(ring));
    pthread_join(th, NULL);
    if (c.bad || c.seen != total) {
        fprintf(stderr, "bench_latency: reader saw %zu of %zu events, %" PRIu64 " out of order\n",
                c.seen, total, c.bad);
        failures++;
    }
    run_result *r = &runs[n_runs++];
    snprintf(r->name, sizeof r->name, "one way, %.0fk events/s, 64 B", rate / 1000);
    r->kind = "one_way";
    r->payload = PAYLOAD;
    r->rate = rate;
    summarize(r, c.s + WARMUP, n);
    print_row(r);
    rr_reader_close(c.r);
    rr_writer_close(w);
    MUST(rr_ring_destroy(ring));
    free(c.s);
}

/* ---- JSON and main ------------------------------------------------------------- */

static void write_json(const char *path, bool quick)
{
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); failures++; return; }
    fprintf(f, "{\n  \"quick\": %s, \"payload\": %d, \"slots\": %d, \"warmup\": %d,\n"
            "  \"quantiles\": [", quick ? "true" : "false", PAYLOAD, SLOTS, WARMUP);
    for (size_t k = 0; k < N_Q; k++) fprintf(f, "%s%g", k ? ", " : "", quantiles[k]);
    fprintf(f, "],\n  \"results\": [\n");
    for (int i = 0; i < n_runs; i++) {
        const run_result *r = &runs[i];
        fprintf(f, "    {\"name\": \"%s\", \"kind\": \"%s\", \"rate\": %.0f, \"payload\": %zu, \"samples\": %zu, "
                "\"mean_ns\": %.1f, \"p50_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
                ", \"p999_ns\": %" PRIu64 ", \"max_ns\": %" PRIu64 ", \"quantiles_ns\": [",
                r->name, r->kind, r->rate, r->payload, r->n, r->mean_ns, q_at(r, 0.5), q_at(r, 0.99),
                q_at(r, 0.999), q_at(r, 1.0));
        for (size_t k = 0; k < N_Q; k++) fprintf(f, "%s%" PRIu64, k ? ", " : "", r->q[k]);
        fprintf(f, "]}%s\n", i + 1 < n_runs ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("\nwrote %s\n", path);
}

int main(int argc, char **argv)
{
    const char *json = NULL;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
        else { fprintf(stderr, "usage: bench_latency [--quick] [--json FILE]\n"); return 2; }
    }
    size_t n = quick ? N_QUICK : N_FULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("rusted_ring %d.%d.%d C core latency, %ld cores online; %zu samples per run after "
           "%d warm-up\n", RR_VERSION_MAJOR, RR_VERSION_MINOR, RR_VERSION_PATCH,
           sysconf(_SC_NPROCESSORS_ONLN), n, WARMUP);
    printf("backpressure rings of %d slots; readers wait with RR_FOREVER (spin, yield, futex)\n\n",
           SLOTS);
    print_head();
    ping_pong(n, 8);
    ping_pong(n, PAYLOAD);
    static const double rates[] = { 10000, 100000, 1000000 };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        /* at most RATE_S seconds of events per rate */
        double cap = rates[i] * (quick ? RATE_S_QUICK : RATE_S);
        timestamped(n < cap ? n : (size_t)cap, rates[i]);
    }
    if (json) write_json(json, quick);
    if (failures) printf("\n%d check(s) FAILED\n", failures);
    return failures ? 1 : 0;
}
