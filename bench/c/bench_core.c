/*
 * bench_core.c — benchmarks of the rusted_ring C core (run by `make bench-c`).
 *
 *   a. one thread, write-only, 64 B payloads into a ring nobody reads, in both
 *      modes: rr_writer_add one at a time, rr_writer_add_batch of 64, and
 *      claim/publish of 64 filled in place; and the add and claim/publish of
 *      rusted_ring_inline.h, inlined into the loop;
 *   b. in the same run, a plain memcpy of the same payloads into a buffer laid
 *      out like the ring's payload (capacity * 64 B, walked cyclically): the
 *      ceiling, and write-only / ceiling as a ratio (target >= 0.5);
 *   c. one writer thread -> one reader thread, 8 B / 64 B / 1 KiB payloads, both
 *      modes, one at a time and batches of 64; every payload carries its
 *      sequence and the reader checks it, and the counts are verified;
 *   d. memory per preset: rr_ring_footprint against the payload bytes and
 *      against the seed's layout (PooledEvent<N> is round_up(N + 8, 64) bytes);
 *   e. one writer -> 1, 2 and 3 readers (backpressure);
 *   f. the LMAX Disruptor's OneToOneSequencedThroughputTest shape: one
 *      producer thread -> one consumer thread, an 8-byte value per event,
 *      65536 slots, the producer claims and publishes one event at a time and
 *      the consumer takes whatever is available and sums the values (the Java
 *      peer in bench/peers/java runs the same in the same benchmark run);
 *      through the library calls and through rusted_ring_inline.h's;
 *   g. 1 writer -> 1 reader against payload size, 8 B .. 16 KiB;
 *   h. 1 writer -> 1 reader against batch size, 1 .. 1024.
 *
 * Every figure is the best of REPEATS runs of a fixed event count, chosen by a
 * short calibration so that one run takes about TARGET_S seconds.
 *
 * Payloads: event i carries i in its first 8 bytes. Writers copy event i from
 * a rotating set of source buffers in which i was stamped SRC_AHEAD events
 * earlier. Stamping a buffer right before copying it would make every copy
 * wait on a store-to-load forwarding stall (an 8-byte store read back by a
 * wider load), about 3.5 ns here, which would dominate a 64 B copy and hide
 * what the ring itself costs. The ceiling and the ring use the same sources.
 *
 *   bench_core [--quick] [--repeats N] [--only SECTIONS] [--json FILE]
 *
 * SECTIONS is a list of letters (for example "acf"); the memcpy ceiling is
 * measured whenever section a is.
 *
 * Exit status: 0, or 1 when a count or payload check failed (a core bug). The
 * PASS/MISS marks are informative and never fail the run.
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
#include "rusted_ring_inline.h"

#define SLOTS        4096u   /* ring capacity for sections a, b, c, e, h */
#define BATCH        64u     /* events per batch */
#define MAX_BATCH    1024u   /* largest batch of section h */
#define SRC_AHEAD    32      /* one at a time: stamp this many events ahead */
#define REPEATS      3
#define DISRUPTOR_SLOTS 65536u  /* section f: the Disruptor test's BUFFER_SIZE */
#define SCALE_BYTES  (4u << 20) /* section g: ring payload bytes, at most 4096 slots */
#define TARGET_S     0.4     /* seconds per measured run */
#define TARGET_QUICK 0.06
#define MAX_READERS  3
#define MAX_RESULTS  128
#define WRITE_TARGET 0.5     /* write-only / ceiling target */
#define MEM_TARGET   1.25    /* ours / payload target per preset */

#ifndef __VERSION__
#define __VERSION__ "unknown"
#endif

/* ---- plumbing -------------------------------------------------------------- */

static double target_s = TARGET_S;
static int repeats = REPEATS;
static int failures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, rr_status st)
{
    fprintf(stderr, "bench_core: %s: %s (%s)\n", what, rr_strerror(st), rr_last_error());
    exit(2);
}

#define MUST(call)                                   \
    do {                                             \
        rr_status must_ = (call);                    \
        if (must_ != RR_OK) die(#call, must_);       \
    } while (0)

/* Keep the compiler from dropping stores it cannot see anyone read. */
static inline void clobber(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static rr_ring *make_ring(size_t slot_size, uint64_t capacity, rr_mode mode)
{
    rr_config cfg = { slot_size, capacity, mode, RR_PRODUCERS_SINGLE };
    rr_ring *ring;
    MUST(rr_ring_create(&cfg, &ring));
    return ring;
}

static void put_seq(void *payload, uint64_t seq)
{
    memcpy(payload, &seq, sizeof seq);
}

static uint64_t get_seq(const void *payload)
{
    uint64_t v;
    memcpy(&v, payload, sizeof v);
    return v;
}

/* ---- payload sources (see the top of the file) ------------------------------- */

typedef struct source {
    unsigned char *buf;      /* n buffers of `stride` bytes: two banks of a batch */
    size_t         stride;
    uint64_t       n;
} source;

static unsigned char *src_at(const source *s, uint64_t k)
{
    return s->buf + (k % s->n) * s->stride;
}

/* Buffers for batches of up to `batch` (at least BATCH) events, stamped with
 * events 0 .. batch-1, ready for src_one / src_batch. */
static void src_init(source *s, size_t payload, uint32_t batch)
{
    uint64_t bank = batch > BATCH ? batch : BATCH;
    s->stride = (payload + 63) / 64 * 64;
    s->n = 2 * bank;
    s->buf = aligned_alloc(64, s->n * s->stride);
    if (!s->buf) { fprintf(stderr, "bench_core: out of memory\n"); exit(2); }
    memset(s->buf, 0xA5, s->n * s->stride);
    for (uint64_t k = 0; k < bank; k++) put_seq(src_at(s, k), k);
}

static void src_free(source *s)
{
    free(s->buf);
}

/* Event i's payload; stamps event i + SRC_AHEAD for later. */
static inline const unsigned char *src_one(const source *s, uint64_t i)
{
    put_seq(src_at(s, i + SRC_AHEAD), i + SRC_AHEAD);
    return src_at(s, i);
}

/* Events i .. i+batch-1 (one bank) into items; stamps the next batch's
 * buffers. */
static inline void src_batch(const source *s, uint64_t i, rr_payload *items, size_t len,
                             uint32_t batch)
{
    for (uint32_t j = 0; j < batch; j++) {
        put_seq(src_at(s, i + batch + j), i + batch + j);
        items[j].data = src_at(s, i + j);
        items[j].len = len;
        items[j].event_type = 1;
    }
}

static const char *mode_name(rr_mode m)
{
    return m == RR_MODE_OVERWRITE ? "overwrite" : "backpressure";
}

/* ---- workloads and results ------------------------------------------------- */

typedef struct run_out {
    double   seconds;
    uint64_t delivered;   /* summed over readers */
    uint64_t lost;        /* summed over readers */
    uint64_t bad;         /* payloads whose sequence did not match */
    bool     ok;          /* the run's counts verified */
} run_out;

typedef struct workload workload;
typedef void (*run_fn)(const workload *wl, uint64_t n, run_out *out);

struct workload {
    const char *section;
    char        name[64];
    run_fn      run;
    rr_mode     mode;
    size_t      payload;  /* bytes per event */
    uint32_t    batch;    /* writer: 1 (add or claim of 1) or add_batch of this many */
    uint32_t    rbatch;   /* reader: 1 (next) or next_batch of up to this many */
    uint64_t    capacity; /* ring slots */
    bool        claim;    /* writer: claim 1 / fill in place / publish instead of add */
    bool        inl;      /* writer: rusted_ring_inline.h's calls instead of the library's */
    int         readers;
};

typedef struct result {
    workload wl;
    uint64_t events;
    run_out  best;
} result;

static result results[MAX_RESULTS];
static int n_results;
static const result *ceiling;   /* the memcpy ceiling, once measured */

static double rate(const result *r) { return (double)r->events / r->best.seconds; }
static double ns_per(const result *r) { return r->best.seconds * 1e9 / (double)r->events; }

/* Pick an event count (a multiple of the batch) that takes about target_s. */
static uint64_t calibrate(const workload *wl)
{
    uint64_t unit = wl->batch > BATCH ? wl->batch : BATCH;
    uint64_t n = 16 * unit;
    run_out o;
    for (;;) {
        memset(&o, 0, sizeof o);
        wl->run(wl, n, &o);
        if (o.seconds >= target_s / 10 || n >= (UINT64_C(1) << 36)) break;
        n *= 4;
    }
    double scaled = (double)n * target_s / (o.seconds > 1e-9 ? o.seconds : 1e-9);
    uint64_t m = (uint64_t)scaled / unit * unit;
    return m < unit ? unit : m;
}

/* Calibrate, run REPEATS times, keep the fastest; any failed check counts. */
static const result *measure(const workload *wl)
{
    if (n_results == MAX_RESULTS) { fprintf(stderr, "bench_core: too many results\n"); exit(2); }
    result *r = &results[n_results++];
    r->wl = *wl;
    r->events = calibrate(wl);
    bool all_ok = true;
    for (int i = 0; i < repeats; i++) {
        run_out o;
        memset(&o, 0, sizeof o);
        wl->run(wl, r->events, &o);
        if (!o.ok) failures++;
        all_ok = all_ok && o.ok;
        if (i == 0 || o.seconds < r->best.seconds) r->best = o;
    }
    r->best.ok = all_ok;
    return r;
}

/* ---- a/b. single-thread write-only ------------------------------------------ */

static void finish_write(rr_ring *ring, rr_writer *w, uint64_t n, run_out *out)
{
    out->ok = rr_ring_published(ring) == n;
    if (!out->ok)
        fprintf(stderr, "bench_core: published %" PRIu64 ", expected %" PRIu64 "\n",
                rr_ring_published(ring), n);
    rr_writer_close(w);
    MUST(rr_ring_destroy(ring));
}

static void run_memcpy_ceiling(const workload *wl, uint64_t n, run_out *out)
{
    unsigned char *buf = aligned_alloc(64, (size_t)SLOTS * wl->payload);
    source src;
    if (!buf) { fprintf(stderr, "bench_core: out of memory\n"); exit(2); }
    memset(buf, 0, (size_t)SLOTS * wl->payload);
    src_init(&src, 64, 1);
    size_t slot = 0;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        memcpy(buf + slot * 64, src_one(&src, i), 64);
        if (++slot == SLOTS) slot = 0;
        clobber(buf);
    }
    out->seconds = now_s() - t0;
    out->ok = get_seq(buf + ((n - 1) % SLOTS) * 64) == n - 1;
    src_free(&src);
    free(buf);
}

static void run_write_add(const workload *wl, uint64_t n, run_out *out)
{
    rr_ring *ring = make_ring(64, SLOTS, wl->mode);
    rr_writer *w;
    source src;
    src_init(&src, 64, 1);
    MUST(rr_writer_open(ring, &w));
    double t0 = now_s();
    if (wl->inl) {
        for (uint64_t i = 0; i < n; i++) {
            rr_status st = rr_writer_add_inline(w, src_one(&src, i), 64, 1, NULL, 0);
            if (st != RR_OK) die("rr_writer_add_inline", st);
        }
    } else {
        for (uint64_t i = 0; i < n; i++) {
            rr_status st = rr_writer_add(w, src_one(&src, i), 64, 1, NULL, 0);
            if (st != RR_OK) die("rr_writer_add", st);
        }
    }
    out->seconds = now_s() - t0;
    finish_write(ring, w, n, out);
    src_free(&src);
}

static void run_write_batch(const workload *wl, uint64_t n, run_out *out)
{
    rr_ring *ring = make_ring(64, SLOTS, wl->mode);
    rr_writer *w;
    source src;
    rr_payload items[BATCH];
    src_init(&src, 64, BATCH);
    MUST(rr_writer_open(ring, &w));
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i += BATCH) {
        src_batch(&src, i, items, 64, BATCH);
        rr_status st = rr_writer_add_batch(w, items, BATCH, NULL, 0);
        if (st != RR_OK) die("rr_writer_add_batch", st);
    }
    out->seconds = now_s() - t0;
    finish_write(ring, w, n, out);
    src_free(&src);
}

static void run_write_claim(const workload *wl, uint64_t n, run_out *out)
{
    rr_ring *ring = make_ring(64, SLOTS, wl->mode);
    rr_writer *w;
    rr_claim c;
    source src;
    src_init(&src, 64, BATCH);
    MUST(rr_writer_open(ring, &w));
    double t0 = now_s();
    if (wl->inl) {
        for (uint64_t i = 0; i < n; i += BATCH) {
            rr_status st = rr_writer_claim_inline(w, BATCH, 1, &c, 0);
            if (st != RR_OK) die("rr_writer_claim_inline", st);
            for (uint32_t j = 0; j < BATCH; j++) {   /* build each payload in its slot */
                unsigned char *d = rr_claim_data_inline(&c, j);
                put_seq(d, i + j);
                memcpy(d + 8, src_at(&src, j) + 8, 56);
            }
            st = rr_writer_publish_inline(w, &c);
            if (st != RR_OK) die("rr_writer_publish_inline", st);
        }
    } else {
        for (uint64_t i = 0; i < n; i += BATCH) {
            rr_status st = rr_writer_claim(w, BATCH, 1, &c, 0);
            if (st != RR_OK) die("rr_writer_claim", st);
            for (uint32_t j = 0; j < BATCH; j++) {   /* build each payload in its slot */
                unsigned char *d = rr_claim_data(&c, j);
                put_seq(d, i + j);
                memcpy(d + 8, src_at(&src, j) + 8, 56);
            }
            st = rr_writer_publish(w, &c);
            if (st != RR_OK) die("rr_writer_publish", st);
        }
    }
    out->seconds = now_s() - t0;
    finish_write(ring, w, n, out);
    src_free(&src);
}

/* ---- c/e. one writer thread -> reader threads -------------------------------- */

typedef struct reader_ctx {
    rr_reader     *r;
    atomic_int    *go;
    uint32_t       rbatch;   /* next_batch of up to this many */
    double         t_end;
    uint64_t       seen, bad, sum;
} reader_ctx;

static void wait_go(atomic_int *go)
{
    while (!atomic_load_explicit(go, memory_order_acquire)) sched_yield();
}

/* Touch the payload: read its sequence, add it up, check it. */
static inline void consume(reader_ctx *c, const rr_event *ev)
{
    uint64_t v = get_seq(ev->data);
    c->sum += v;
    c->bad += v != ev->sequence;
    c->seen++;
}

static void *reader_one(void *arg)
{
    reader_ctx *c = arg;
    rr_event ev;
    wait_go(c->go);
    for (;;) {
        rr_status st = rr_reader_next(c->r, &ev, RR_FOREVER);
        if (st == RR_CLOSED) break;
        if (st != RR_OK) die("rr_reader_next", st);
        consume(c, &ev);
    }
    c->t_end = now_s();
    return NULL;
}

static void *reader_batch(void *arg)
{
    reader_ctx *c = arg;
    rr_event evs[MAX_BATCH];
    size_t k;
    wait_go(c->go);
    for (;;) {
        rr_status st = rr_reader_next_batch(c->r, evs, c->rbatch, &k, RR_FOREVER);
        if (st == RR_CLOSED) break;
        if (st != RR_OK) die("rr_reader_next_batch", st);
        for (size_t i = 0; i < k; i++) consume(c, &evs[i]);
    }
    c->t_end = now_s();
    return NULL;
}

static void write_one(rr_writer *w, const source *src, size_t len, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        rr_status st = rr_writer_add(w, src_one(src, i), len, 1, NULL, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_add", st);
    }
}

static void write_one_inline(rr_writer *w, const source *src, size_t len, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        rr_status st = rr_writer_add_inline(w, src_one(src, i), len, 1, NULL, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_add_inline", st);
    }
}

/* The Disruptor's producer loop: next() / set the value / publish(). */
static void write_claim_one(rr_writer *w, uint64_t n)
{
    rr_claim c;
    for (uint64_t i = 0; i < n; i++) {
        rr_status st = rr_writer_claim(w, 1, 1, &c, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_claim", st);
        put_seq(rr_claim_data(&c, 0), i);
        st = rr_writer_publish(w, &c);
        if (st != RR_OK) die("rr_writer_publish", st);
    }
}

static void write_claim_one_inline(rr_writer *w, uint64_t n)
{
    rr_claim c;
    for (uint64_t i = 0; i < n; i++) {
        rr_status st = rr_writer_claim_inline(w, 1, 1, &c, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_claim_inline", st);
        put_seq(rr_claim_data_inline(&c, 0), i);
        st = rr_writer_publish_inline(w, &c);
        if (st != RR_OK) die("rr_writer_publish_inline", st);
    }
}

static void write_batch(rr_writer *w, const source *src, size_t len, uint64_t n,
                        uint32_t batch)
{
    rr_payload items[MAX_BATCH];
    for (uint64_t i = 0; i < n; i += batch) {
        src_batch(src, i, items, len, batch);
        rr_status st = rr_writer_add_batch(w, items, batch, NULL, RR_FOREVER);
        if (st != RR_OK) die("rr_writer_add_batch", st);
    }
}

/* Backpressure: every reader got every event. Overwrite: delivered + lost
 * accounts for every event. Always: no payload carried a wrong sequence. */
static bool verify_readers(const workload *wl, reader_ctx *cs, uint64_t n, run_out *out)
{
    bool ok = true;
    for (int i = 0; i < wl->readers; i++) {
        uint64_t d = rr_reader_delivered(cs[i].r), l = rr_reader_lost(cs[i].r);
        /* Backpressure: the values 0 .. n-1 all arrived, so they add up. */
        bool good = cs[i].bad == 0 && d == cs[i].seen && d + l == n &&
                    (wl->mode == RR_MODE_OVERWRITE || (l == 0 && cs[i].sum == n * (n - 1) / 2));
        if (!good)
            fprintf(stderr, "bench_core: %s reader %d: delivered %" PRIu64 " (seen %" PRIu64
                    ") lost %" PRIu64 " bad %" PRIu64 " of %" PRIu64 "\n",
                    wl->name, i, d, cs[i].seen, l, cs[i].bad, n);
        ok = ok && good;
        out->delivered += d;
        out->lost += l;
        out->bad += cs[i].bad;
    }
    return ok;
}

static void run_threads(const workload *wl, uint64_t n, run_out *out)
{
    rr_ring *ring = make_ring(wl->payload, wl->capacity, wl->mode);
    rr_writer *w;
    reader_ctx cs[MAX_READERS];
    pthread_t th[MAX_READERS];
    atomic_int go = 0;
    source src;
    src_init(&src, wl->payload, wl->batch);
    MUST(rr_writer_open(ring, &w));
    for (int i = 0; i < wl->readers; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].go = &go;
        cs[i].rbatch = wl->rbatch;
        MUST(rr_reader_open(ring, RR_START_OLDEST, &cs[i].r));
        pthread_create(&th[i], NULL, wl->rbatch > 1 ? reader_batch : reader_one, &cs[i]);
    }
    double t0 = now_s();
    atomic_store_explicit(&go, 1, memory_order_release);
    if (wl->claim) (wl->inl ? write_claim_one_inline : write_claim_one)(w, n);
    else if (wl->batch > 1) write_batch(w, &src, wl->payload, n, wl->batch);
    else if (wl->inl) write_one_inline(w, &src, wl->payload, n);
    else write_one(w, &src, wl->payload, n);
    MUST(rr_ring_close(ring));
    double t_end = t0;
    for (int i = 0; i < wl->readers; i++) {
        pthread_join(th[i], NULL);
        if (cs[i].t_end > t_end) t_end = cs[i].t_end;
    }
    out->seconds = t_end - t0;
    out->ok = verify_readers(wl, cs, n, out);
    for (int i = 0; i < wl->readers; i++) rr_reader_close(cs[i].r);
    rr_writer_close(w);
    MUST(rr_ring_destroy(ring));
    src_free(&src);
}

/* ---- printing ---------------------------------------------------------------- */

static void print_rule(void)
{
    puts("--------------------------------------------------------------------------------------------");
}

static void print_row(const result *r, bool show_counts)
{
    printf("  %-48s %13.0f %9.2f", r->wl.name, rate(r), ns_per(r));
    if (show_counts)
        printf(" %13" PRIu64 " %11" PRIu64, r->best.delivered, r->best.lost);
    printf("  %s\n", r->best.ok ? "ok" : "CHECK FAILED");
}

static void print_head(bool show_counts)
{
    printf("  %-48s %13s %9s", "workload", "events/s", "ns/event");
    if (show_counts) printf(" %13s %11s", "delivered", "lost");
    printf("  %s\n", "check");
}

/* Other work on the machine skews the threaded figures: say how busy it is. */
static void print_load(const char *when)
{
    double load = -1;
    char pressure[128] = "n/a";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) { if (fscanf(f, "%lf", &load) != 1) load = -1; fclose(f); }
    f = fopen("/proc/pressure/cpu", "r");
    if (f) {
        if (fgets(pressure, sizeof pressure, f)) pressure[strcspn(pressure, "\n")] = '\0';
        fclose(f);
    }
    printf("%s: loadavg(1 min) %.2f, cpu pressure: %s\n", when, load, pressure);
}

static void print_machine(void)
{
    char line[256], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) snprintf(model, sizeof model, "%s", v + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f) fclose(f);
    printf("rusted_ring %d.%d.%d C core benchmarks\n", RR_VERSION_MAJOR, RR_VERSION_MINOR,
           RR_VERSION_PATCH);
    printf("cpu: %s, %ld cores online; compiler: %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
           __VERSION__);
    printf("each figure: best of %d runs, events per run calibrated to ~%.2f s; ring %u slots\n",
           repeats, target_s, SLOTS);
    print_load("load before the run");
}

/* ---- sections ----------------------------------------------------------------- */

static workload wl_make(const char *section, run_fn run, rr_mode mode, size_t payload,
                        uint32_t batch, int readers)
{
    workload wl;
    memset(&wl, 0, sizeof wl);
    wl.section = section;
    wl.run = run;
    wl.mode = mode;
    wl.payload = payload;
    wl.batch = batch;
    wl.rbatch = batch;
    wl.capacity = SLOTS;
    wl.readers = readers;
    return wl;
}

static void print_ratio(const char *what, const result *r, bool target)
{
    double ratio = rate(r) / rate(ceiling);
    printf("  %-48s %6.2f", what, ratio);
    if (target) printf("  %s (target >= %.2f)", ratio >= WRITE_TARGET ? "PASS" : "MISS", WRITE_TARGET);
    printf("\n");
}

static void section_write_only(void)
{
    static const run_fn fns[3] = { run_write_add, run_write_batch, run_write_claim };
    static const char *const api[3] = { "add (one at a time)", "add_batch(64)", "claim/publish(64), fill in place" };
    const result *rs[2][3];
    printf("\na/b. one thread, write-only, 64 B payloads, %u slots, no readers\n", SLOTS);
    print_rule();
    print_head(false);
    workload wl = wl_make("write", run_memcpy_ceiling, RR_MODE_BACKPRESSURE, 64, 1, 0);
    snprintf(wl.name, sizeof wl.name, "memcpy ceiling (%u x 64 B, cyclic)", SLOTS);
    ceiling = measure(&wl);
    print_row(ceiling, false);
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 3; k++) {
            wl = wl_make("write", fns[k], (rr_mode)m, 64, k ? BATCH : 1, 0);
            snprintf(wl.name, sizeof wl.name, "%s %s", mode_name((rr_mode)m), api[k]);
            rs[m][k] = measure(&wl);
            print_row(rs[m][k], false);
        }
    }
    const result *ri[2];
    for (int k = 0; k < 2; k++) {   /* rusted_ring_inline.h: add, claim/publish(64) */
        wl = wl_make("write", k ? run_write_claim : run_write_add, RR_MODE_BACKPRESSURE, 64,
                     k ? BATCH : 1, 0);
        wl.inl = true;
        snprintf(wl.name, sizeof wl.name, "backpressure %s, inline",
                 k ? "claim/publish(64)" : "add (one at a time)");
        ri[k] = measure(&wl);
        print_row(ri[k], false);
    }
    printf("  write-only / memcpy ceiling (events/s):\n");
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 3; k++)
            print_ratio(rs[m][k]->wl.name, rs[m][k], k == 0);
    for (int k = 0; k < 2; k++)
        print_ratio(ri[k]->wl.name, ri[k], k == 0);
}

static void section_threads(void)
{
    static const size_t sizes[3] = { 8, 64, 1024 };
    printf("\nc. 1 writer thread -> 1 reader thread, %u slots; the reader reads and checks each "
           "payload's sequence\n", SLOTS);
    print_rule();
    print_head(true);
    for (int m = 0; m < 2; m++) {
        for (int s = 0; s < 3; s++) {
            for (int b = 0; b < 2; b++) {
                workload wl = wl_make("spsc", run_threads, (rr_mode)m, sizes[s], b ? BATCH : 1, 1);
                snprintf(wl.name, sizeof wl.name, "%s %4zu B %s", mode_name((rr_mode)m), sizes[s],
                         b ? "add_batch/next_batch(64)" : "add/next");
                print_row(measure(&wl), true);
            }
        }
    }
    printf("  (events/s counts published events; in overwrite mode delivered + lost = published)\n");
}

static void section_fanout(void)
{
    printf("\ne. 1 writer -> N reader threads, backpressure, 64 B, %u slots "
           "(%ld cores: N + 1 threads share them)\n", SLOTS, sysconf(_SC_NPROCESSORS_ONLN));
    print_rule();
    print_head(true);
    for (int n = 1; n <= MAX_READERS; n++) {
        for (int b = 0; b < 2; b++) {
            workload wl = wl_make("fanout", run_threads, RR_MODE_BACKPRESSURE, 64, b ? BATCH : 1, n);
            snprintf(wl.name, sizeof wl.name, "1 -> %d reader%s %s", n, n > 1 ? "s" : "",
                     b ? "add_batch/next_batch(64)" : "add/next");
            print_row(measure(&wl), true);
        }
    }
    printf("  (delivered is summed over the readers)\n");
}

static void section_disruptor(void)
{
    printf("\nf. the Disruptor's OneToOneSequencedThroughputTest shape: 1 producer -> 1 consumer "
           "thread,\n   8-byte value, %u slots, backpressure; the consumer takes what is "
           "available (up to %u) and sums the values\n", DISRUPTOR_SLOTS, MAX_BATCH);
    print_rule();
    print_head(true);
    for (int k = 0; k < 4; k++) {   /* the library's calls, then the inline ones */
        workload wl = wl_make("disruptor", run_threads, RR_MODE_BACKPRESSURE, 8, 1, 1);
        wl.rbatch = MAX_BATCH;
        wl.capacity = DISRUPTOR_SLOTS;
        wl.claim = k % 2 == 0;
        wl.inl = k >= 2;
        snprintf(wl.name, sizeof wl.name, "1P1C 8 B %s%s / next_batch",
                 k % 2 == 0 ? "claim(1)+publish" : "add (copy 8 B)", wl.inl ? " inline" : "");
        print_row(measure(&wl), true);
    }
    printf("  (the sum of the values is checked, as the Disruptor's test does)\n");
}

/* Section g's ring: at most SCALE_BYTES of payload, at most SLOTS slots. */
static uint64_t scale_capacity(size_t payload)
{
    uint64_t cap = SCALE_BYTES / payload;
    return cap > SLOTS ? SLOTS : cap;
}

static void section_payload(void)
{
    static const size_t sizes[] = { 8, 64, 256, 1024, 4096, 16384 };
    printf("\ng. 1 writer -> 1 reader thread against payload size, backpressure; ring of "
           "min(%u, %u KiB / size) slots\n", SLOTS, SCALE_BYTES >> 10);
    print_rule();
    print_head(true);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int b = 0; b < 2; b++) {
            workload wl = wl_make("payload", run_threads, RR_MODE_BACKPRESSURE, sizes[s],
                                  b ? BATCH : 1, 1);
            wl.capacity = scale_capacity(sizes[s]);
            snprintf(wl.name, sizeof wl.name, "%5zu B x %4" PRIu64 " slots %s", sizes[s],
                     wl.capacity, b ? "add_batch/next_batch(64)" : "add/next");
            print_row(measure(&wl), true);
        }
    }
}

static void section_batch(void)
{
    static const uint32_t batches[] = { 1, 4, 16, 64, 256, 1024 };
    printf("\nh. 1 writer -> 1 reader thread against batch size, backpressure, 64 B, %u slots\n",
           SLOTS);
    print_rule();
    print_head(true);
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        workload wl = wl_make("batch", run_threads, RR_MODE_BACKPRESSURE, 64, batches[b], 1);
        snprintf(wl.name, sizeof wl.name, "batch %4u: %s", batches[b],
                 batches[b] > 1 ? "add_batch/next_batch" : "add/next");
        print_row(measure(&wl), true);
    }
}

/* ---- d. memory per preset ------------------------------------------------------ */

typedef struct mem_row {
    const char *preset;
    int         pool;     /* -1: the preset's total */
    uint64_t    capacity;
    size_t      slot;
    uint64_t    payload, ours, seed;
} mem_row;

static mem_row mem_rows[3 * (RR_POOL_COUNT + 1)];
static int n_mem_rows;

/* The seed: a 64 B line for its cursor, then PooledEvent<N> = round_up(N + 8, 64). */
static uint64_t seed_bytes(size_t slot, uint64_t capacity)
{
    return 64 + capacity * ((slot + 8 + 63) / 64 * 64);
}

static void print_mem_row(const mem_row *r)
{
    char label[16];
    if (r->pool >= 0) snprintf(label, sizeof label, "%s", rr_pool_name((rr_pool_id)r->pool));
    else snprintf(label, sizeof label, "total");
    char slot[16] = "", cap[24] = "";
    if (r->pool >= 0) {
        snprintf(slot, sizeof slot, "%zu", r->slot);
        snprintf(cap, sizeof cap, "%" PRIu64, r->capacity);
    }
    printf("  %-16s %-5s %6s %6s %12" PRIu64 " %12" PRIu64 " %9.3f %12" PRIu64 " %9.2f",
           r->pool >= 0 ? r->preset : "", label, slot, cap, r->payload, r->ours,
           (double)r->ours / (double)r->payload, r->seed, (double)r->seed / (double)r->ours);
    if (r->pool < 0)
        printf("  %s", (double)r->ours / (double)r->payload <= MEM_TARGET ? "PASS" : "MISS");
    printf("\n");
}

static void memory_preset(rr_preset p, const char *name)
{
    rr_pool_config pc;
    mem_row total = { name, -1, 0, 0, 0, 0, 0 };
    MUST(rr_preset_config(p, &pc));
    for (int id = 0; id < RR_POOL_COUNT; id++) {
        size_t slot = rr_pool_slot_size((rr_pool_id)id);
        rr_config cfg = { slot, pc.capacity[id], RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI };
        mem_row r = { name, id, pc.capacity[id], slot, slot * pc.capacity[id],
                      rr_ring_footprint(&cfg), seed_bytes(slot, pc.capacity[id]) };
        if (r.ours == 0) { fprintf(stderr, "bench_core: footprint 0 for %s %d\n", name, id); failures++; }
        total.payload += r.payload;
        total.ours += r.ours;
        total.seed += r.seed;
        mem_rows[n_mem_rows++] = r;
        print_mem_row(&r);
    }
    mem_rows[n_mem_rows++] = total;
    print_mem_row(&total);
}

static void section_memory(void)
{
    printf("\nd. memory per preset (pools: overwrite, multi-producer; target ours/payload <= %.2f)\n",
           MEM_TARGET);
    print_rule();
    printf("  %-16s %-5s %6s %6s %12s %12s %9s %12s %9s\n", "preset", "pool", "slot", "cap",
           "payload B", "ours B", "ours/pay", "seed B", "seed/ours");
    memory_preset(RR_PRESET_PRODUCTION, "production");
    memory_preset(RR_PRESET_MOBILE, "mobile");
    memory_preset(RR_PRESET_HIGH_THROUGHPUT, "high-throughput");
    printf("  (seed B = 64 B cursor line + capacity x round_up(N + 8, 64): its PooledEvent<N>)\n");
}

/* ---- JSON ------------------------------------------------------------------------ */

static void json_result(FILE *f, const result *r, bool last)
{
    bool is_ceiling = r == ceiling;
    char ratio[32] = "null";
    if (ceiling && !is_ceiling && strcmp(r->wl.section, "write") == 0)
        snprintf(ratio, sizeof ratio, "%.4f", rate(r) / rate(ceiling));
    fprintf(f, "    {\"section\": \"%s\", \"name\": \"%s\", \"mode\": \"%s\", "
            "\"payload\": %zu, \"batch\": %u, \"reader_batch\": %u, \"capacity\": %" PRIu64
            ", \"writer_api\": \"%s\", \"readers\": %d, \"events\": %" PRIu64
            ", \"seconds\": %.6f, \"events_per_s\": %.1f, \"ns_per_event\": %.3f, "
            "\"delivered\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"ratio_to_ceiling\": %s, "
            "\"ok\": %s}%s\n",
            r->wl.section, r->wl.name, is_ceiling ? "none" : mode_name(r->wl.mode),
            r->wl.payload, r->wl.batch, r->wl.rbatch, r->wl.capacity,
            r->wl.claim ? (r->wl.inl ? "claim_inline" : "claim")
                        : r->wl.batch > 1 ? "add_batch" : r->wl.inl ? "add_inline" : "add",
            r->wl.readers, r->events, r->best.seconds, rate(r),
            ns_per(r), r->best.delivered, r->best.lost, ratio, r->best.ok ? "true" : "false",
            last ? "" : ",");
}

static void json_results(FILE *f)
{
    fprintf(f, "  \"results\": [\n");
    for (int i = 0; i < n_results; i++) json_result(f, &results[i], i + 1 == n_results);
    fprintf(f, "  ],\n");
}

static void json_memory(FILE *f)
{
    fprintf(f, "  \"memory\": [\n");
    for (int i = 0; i < n_mem_rows; i++) {
        const mem_row *r = &mem_rows[i];
        fprintf(f, "    {\"preset\": \"%s\", \"pool\": \"%s\", \"slot_size\": %zu, "
                "\"capacity\": %" PRIu64 ", \"payload_bytes\": %" PRIu64 ", \"ours_bytes\": %"
                PRIu64 ", \"seed_bytes\": %" PRIu64 ", \"ours_over_payload\": %.4f, "
                "\"seed_over_ours\": %.4f}%s\n",
                r->preset, r->pool >= 0 ? rr_pool_name((rr_pool_id)r->pool) : "total", r->slot,
                r->capacity, r->payload, r->ours, r->seed, (double)r->ours / (double)r->payload,
                (double)r->seed / (double)r->ours, i + 1 < n_mem_rows ? "," : "");
    }
    fprintf(f, "  ]\n");
}

static void write_json(const char *path, bool quick)
{
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); failures++; return; }
    fprintf(f, "{\n  \"version\": \"%d.%d.%d\", \"compiler\": \"%s\", \"cores\": %ld, "
            "\"quick\": %s, \"repeats\": %d, \"slots\": %u, \"write_target\": %.2f, "
            "\"memory_target\": %.2f,\n", RR_VERSION_MAJOR,
            RR_VERSION_MINOR, RR_VERSION_PATCH, __VERSION__, sysconf(_SC_NPROCESSORS_ONLN),
            quick ? "true" : "false", repeats, SLOTS, WRITE_TARGET, MEM_TARGET);
    json_results(f);
    json_memory(f);
    fprintf(f, "}\n");
    fclose(f);
    printf("\nwrote %s\n", path);
}

/* ---- main ------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_core [--quick] [--repeats N] [--only SECTIONS] [--json FILE]\n"
            "  SECTIONS: letters of a (write-only), c (1 -> 1), d (memory), e (readers),\n"
            "  f (Disruptor shape), g (payload size), h (batch size); default all\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *json = NULL, *only = "acdefgh";
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = atoi(argv[++i]);
        else usage();
    }
    if (repeats < 1 || only[strspn(only, "abcdefgh")] != '\0') usage();
    if (quick) target_s = TARGET_QUICK;
    setvbuf(stdout, NULL, _IOLBF, 0);
    print_machine();
    if (strpbrk(only, "ab")) section_write_only();
    if (strchr(only, 'c')) section_threads();
    if (strchr(only, 'd')) section_memory();
    if (strchr(only, 'e')) section_fanout();
    if (strchr(only, 'f')) section_disruptor();
    if (strchr(only, 'g')) section_payload();
    if (strchr(only, 'h')) section_batch();
    printf("\n");
    print_load("load after the run (includes this benchmark)");
    if (json) write_json(json, quick);
    if (failures) printf("\n%d check(s) FAILED\n", failures);
    return failures ? 1 : 0;
}
