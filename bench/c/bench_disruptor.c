/*
 * bench_disruptor.c — rusted_ring in the shapes of the LMAX Disruptor's own
 * throughput tests, for bench/run.py to run alternately with the Java peer
 * (bench/peers/java, the same shapes on com.lmax:disruptor 4.0.0) and the
 * queue peers (bench/peers/c). It speaks the line protocol of serve.h.
 *
 * Every shape: a backpressure ring of RING_SIZE slots of 8 bytes, each event
 * one 8-byte value; each consumer takes whatever is available (next_batch of
 * up to CONSUME_MAX, as the Disruptor's BatchEventProcessor does), adds the
 * values up and counts them; the run ends when every consumer has taken every
 * event, and each consumer's count and sum are checked.
 *
 *   1p1c          OneToOneSequencedThroughputTest: one producer thread, one
 *                 consumer; event i carries i.
 *   1p1c-batch10  OneToOneSequencedBatchThroughputTest: the producer claims 10
 *                 slots at a time, writes its iteration number into each and
 *                 publishes the 10 at once (EVENTS / 10 iterations).
 *   1p3c          OneToThreeSequencedThroughputTest: one producer, three
 *                 consumers each taking every event (multicast).
 *   3p1c          ThreeToOneSequencedThroughputTest: three producer threads on
 *                 a multi-producer ring, each publishing 0 .. EVENTS/3 - 1, one
 *                 consumer.
 *
 * WAIT is the wait strategy of every reader and writer (RR_WAIT_*, by name:
 * yield, spin, block, sleep), the match of the Disruptor's Yielding, BusySpin,
 * Blocking and Sleeping wait strategies.
 *
 * FORM is what the producer calls per event: "claim" (rr_writer_claim(1) /
 * write the value in place / rr_writer_publish: the Disruptor's next / get /
 * publish; 1p1c-batch10 claims 10) or "add" (rr_writer_add of the 8 bytes;
 * not for 1p1c-batch10); with a core that has rusted_ring_inline.h also
 * "claim-inline" and "add-inline", the same through its static inline fast
 * path, as a C caller compiled against that header gets it. The ready line
 * lists the forms this build offers.
 *
 * The producers look at the clock every CAP_CHECK events and stop at the
 * run's cap (see serve.h): with more threads than CPUs and busy-spinning
 * waits a run can crawl, and a capped run says so instead of hanging.
 *
 *   bench_disruptor --serve
 *   bench_disruptor 1p1c yield claim 10000000 [CAP_S [REPEATS]]
 *
 * Exit status 1 when a count or a sum came out wrong.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "rusted_ring.h"
#include "serve.h"

/* The core's inline fast path for C callers, where it has one: forms
 * claim-inline and add-inline call it instead of the library's functions. */
#if defined(__has_include)
#if __has_include("rusted_ring_inline.h")
#include "rusted_ring_inline.h"
#define HAVE_INLINE 1
#endif
#endif

#define RING_SIZE   65536u   /* the Disruptor tests' BUFFER_SIZE (1024 * 64) */
#define VALUE_BYTES 8u
#define BATCH       10u      /* OneToOneSequencedBatchThroughputTest's BATCH_SIZE */
#define CONSUME_MAX 1024u    /* events per rr_reader_next_batch */
#define CAP_CHECK   4096u    /* producers read the clock once per this many events */
#define MAX_THREADS 3

typedef struct run_ctx run_ctx;
typedef struct form form;

typedef struct consumer {
    run_ctx   *run;
    rr_reader *r;
    uint64_t   count, sum;
    double     t_end;        /* when it took its last event */
    rr_status  failed;       /* RR_OK, or what next_batch returned */
} consumer;

typedef struct producer {
    run_ctx   *run;
    rr_writer *w;
    uint64_t   n;            /* iterations (events, or batches of BATCH) */
    uint64_t   made;         /* iterations done */
    rr_status  failed;
    const char *call;        /* the call that failed */
} producer;

struct run_ctx {
    rr_ring          *ring;
    rr_wait_strategy  wait;
    const form       *form;
    bool              batch;     /* 1p1c-batch10 */
    uint64_t          expected;  /* events each consumer must take */
    double            deadline;
    atomic_int        started;   /* threads ready (release; the main thread acquires) */
    atomic_int        go;        /* producer threads may start (release; they acquire) */
};

/* ---- consumers ------------------------------------------------------------------ */

static void *consume(void *arg)
{
    consumer *c = arg;
    rr_event evs[CONSUME_MAX];
    atomic_fetch_add_explicit(&c->run->started, 1, memory_order_release);
    while (c->count < c->run->expected) {
        size_t k;
        rr_status st = rr_reader_next_batch(c->r, evs, CONSUME_MAX, &k, RR_FOREVER);
        if (st == RR_CLOSED) break;           /* the producers stopped early (capped) */
        if (st != RR_OK) {
            c->failed = st;
            break;
        }
        for (size_t i = 0; i < k; i++) {
            uint64_t v;
            memcpy(&v, evs[i].data, sizeof v);
            c->sum += v;
        }
        c->count += k;
    }
    c->t_end = sp_now();
    return NULL;
}

/* ---- producers -------------------------------------------------------------------- */

static bool past_deadline(const run_ctx *run, uint64_t i)
{
    return (i % CAP_CHECK) == 0 && sp_now() > run->deadline;
}

static void producer_failed(producer *p, const char *call, rr_status st)
{
    p->failed = st;
    p->call = call;
}

/* The producer loops, once for each set of writer calls (SUFFIX names it):
 *   produce_claim  next() / set the value / publish(): event i carries i;
 *   produce_add    add(value): event i carries i;
 *   produce_batch  next(10) / set each value to the iteration / publish(lo, hi). */
#define DEFINE_PRODUCERS(SUFFIX, ADD, CLAIM, DATA, PUBLISH)                          \
    static void produce_claim##SUFFIX(producer *p)                                    \
    {                                                                                 \
        rr_claim c;                                                                   \
        rr_status st;                                                                 \
        uint64_t i;                                                                   \
        for (i = 0; i < p->n; i++) {                                                  \
            if (past_deadline(p->run, i)) break;                                      \
            if ((st = CLAIM(p->w, 1, 1, &c, RR_FOREVER)) != RR_OK) {                  \
                producer_failed(p, #CLAIM, st);                                       \
                break;                                                                \
            }                                                                         \
            memcpy(DATA(&c, 0), &i, sizeof i);                                        \
            if ((st = PUBLISH(p->w, &c)) != RR_OK) {                                  \
                producer_failed(p, #PUBLISH, st);                                     \
                break;                                                                \
            }                                                                         \
        }                                                                             \
        p->made = i;                                                                  \
    }                                                                                 \
    static void produce_add##SUFFIX(producer *p)                                      \
    {                                                                                 \
        rr_status st;                                                                 \
        uint64_t i;                                                                   \
        for (i = 0; i < p->n; i++) {                                                  \
            if (past_deadline(p->run, i)) break;                                      \
            if ((st = ADD(p->w, &i, VALUE_BYTES, 1, NULL, RR_FOREVER)) != RR_OK) {    \
                producer_failed(p, #ADD, st);                                         \
                break;                                                                \
            }                                                                         \
        }                                                                             \
        p->made = i;                                                                  \
    }                                                                                 \
    static void produce_batch##SUFFIX(producer *p)                                    \
    {                                                                                 \
        rr_claim c;                                                                   \
        rr_status st;                                                                 \
        uint64_t i;                                                                   \
        for (i = 0; i < p->n; i++) {                                                  \
            if (past_deadline(p->run, i * BATCH)) break;                              \
            if ((st = CLAIM(p->w, BATCH, 1, &c, RR_FOREVER)) != RR_OK) {              \
                producer_failed(p, #CLAIM, st);                                       \
                break;                                                                \
            }                                                                         \
            for (uint32_t j = 0; j < BATCH; j++) memcpy(DATA(&c, j), &i, sizeof i);   \
            if ((st = PUBLISH(p->w, &c)) != RR_OK) {                                  \
                producer_failed(p, #PUBLISH, st);                                     \
                break;                                                                \
            }                                                                         \
        }                                                                             \
        p->made = i;                                                                  \
    }

DEFINE_PRODUCERS(, rr_writer_add, rr_writer_claim, rr_claim_data, rr_writer_publish)
#ifdef HAVE_INLINE
DEFINE_PRODUCERS(_inline, rr_writer_add_inline, rr_writer_claim_inline, rr_claim_data_inline,
                 rr_writer_publish_inline)
#endif

struct form {
    const char *name;
    void (*events)(producer *);    /* 1p1c, 1p3c, 3p1c */
    void (*batches)(producer *);   /* 1p1c-batch10, or NULL */
};

static const form FORMS[] = {
    { "claim", produce_claim, produce_batch },
    { "add", produce_add, NULL },
#ifdef HAVE_INLINE
    { "claim-inline", produce_claim_inline, produce_batch_inline },
    { "add-inline", produce_add_inline, NULL },
#endif
};
#define N_FORMS (sizeof FORMS / sizeof FORMS[0])

static void *produce_thread(void *arg)
{
    producer *p = arg;
    atomic_fetch_add_explicit(&p->run->started, 1, memory_order_release);
    while (!atomic_load_explicit(&p->run->go, memory_order_acquire)) sched_yield();
    p->run->form->events(p);
    return NULL;
}

/* ---- one run ------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static void fail(sp_result *res, const char *fmt, ...)
{
    va_list ap;
    res->ok = false;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
}

static bool open_handles(run_ctx *run, producer *ps, int np, consumer *cs, int nc, sp_result *res)
{
    rr_reader_options ro = RR_READER_OPTIONS_INIT;
    rr_writer_options wo = RR_WRITER_OPTIONS_INIT;
    ro.wait = run->wait;
    wo.wait = run->wait;
    for (int k = 0; k < nc; k++) {
        rr_status st = rr_reader_open_opts(run->ring, &ro, &cs[k].r);
        if (st != RR_OK) {
            fail(res, "rr_reader_open_opts: %s (%s)", rr_strerror(st), rr_last_error());
            return false;
        }
    }
    for (int k = 0; k < np; k++) {
        rr_status st = rr_writer_open_opts(run->ring, &wo, &ps[k].w);
        if (st != RR_OK) {
            fail(res, "rr_writer_open_opts: %s (%s)", rr_strerror(st), rr_last_error());
            return false;
        }
    }
    return true;
}

/* Counts and sums: every consumer took every event, and the values add up. */
static void check(const run_ctx *run, const producer *ps, int np, const consumer *cs, int nc,
                  sp_result *res)
{
    uint64_t want = 0;
    for (int k = 0; k < np; k++)
        want += run->batch ? BATCH * sp_triangle(ps[k].n) : sp_triangle(ps[k].n);
    for (int k = 0; k < np; k++)
        if (ps[k].failed != RR_OK) {
            fail(res, "%s: %s", ps[k].call, rr_strerror(ps[k].failed));
            return;
        }
    for (int k = 0; k < nc; k++) {
        if (cs[k].failed != RR_OK) {
            fail(res, "rr_reader_next_batch: %s", rr_strerror(cs[k].failed));
            return;
        }
        if (res->capped) continue;   /* a partial stream: its sum is not known */
        if (cs[k].count != run->expected || cs[k].sum != want) {
            fail(res, "consumer %d took %" PRIu64 " events summing to %" PRIu64
                 "; expected %" PRIu64 " summing to %" PRIu64,
                 k, cs[k].count, cs[k].sum, run->expected, want);
            return;
        }
    }
}

static void run(const sp_request *q, sp_result *res)
{
    int np, nc;
    run_ctx run = { 0 };
    producer ps[MAX_THREADS] = { { 0 } };
    consumer cs[MAX_THREADS] = { { 0 } };
    pthread_t pth[MAX_THREADS], cth[MAX_THREADS];
    int pstarted = 0, cstarted = 0;
    double t0 = 0;

    if (!sp_shape_threads(q->shape, &np, &nc)) {
        fail(res, "unknown shape %s", q->shape);
        return;
    }
    if (rr_wait_strategy_from_name(q->wait, &run.wait) != RR_OK) {
        fail(res, "unknown wait strategy %s (%s)", q->wait, rr_last_error());
        return;
    }
    run.batch = strcmp(q->shape, "1p1c-batch10") == 0;
    for (size_t k = 0; k < N_FORMS; k++)
        if (strcmp(q->form, FORMS[k].name) == 0) run.form = &FORMS[k];
    if (!run.form) {
        fail(res, "unknown form %s (see the ready line's forms)", q->form);
        return;
    }
    if (run.batch && !run.form->batches) {
        fail(res, "form %s is not offered for %s", q->form, q->shape);
        return;
    }
    unsigned per = run.batch ? BATCH : (unsigned)np;
    if (q->events % per != 0) {
        fail(res, "%s needs an event count divisible by %u", q->shape, per);
        return;
    }
    res->threads = np + nc;
    run.expected = q->events;
    for (int k = 0; k < np; k++) {
        ps[k].run = &run;
        ps[k].n = run.batch ? q->events / BATCH : q->events / (uint64_t)np;
    }
    for (int k = 0; k < nc; k++) cs[k].run = &run;

    rr_config cfg = { VALUE_BYTES, RING_SIZE, RR_MODE_BACKPRESSURE,
                      np > 1 ? RR_PRODUCERS_MULTI : RR_PRODUCERS_SINGLE };
    rr_status st = rr_ring_create(&cfg, &run.ring);
    if (st != RR_OK) {
        fail(res, "rr_ring_create: %s (%s)", rr_strerror(st), rr_last_error());
        return;
    }
    if (!open_handles(&run, ps, np, cs, nc, res)) goto out;

    for (; cstarted < nc; cstarted++)
        if (pthread_create(&cth[cstarted], NULL, consume, &cs[cstarted]) != 0) {
            fail(res, "pthread_create failed");
            goto stop;
        }
    if (np > 1)
        for (; pstarted < np; pstarted++)
            if (pthread_create(&pth[pstarted], NULL, produce_thread, &ps[pstarted]) != 0) {
                fail(res, "pthread_create failed");
                goto stop;
            }
    /* Every thread is at its loop before the clock starts. */
    while (atomic_load_explicit(&run.started, memory_order_acquire) < cstarted + pstarted)
        sched_yield();

    t0 = sp_now();
    run.deadline = t0 + q->cap_s;
    if (np > 1) {
        atomic_store_explicit(&run.go, 1, memory_order_release);
        for (int k = 0; k < pstarted; k++) pthread_join(pth[k], NULL);
        pstarted = 0;
    } else if (run.batch) {
        run.form->batches(&ps[0]);
    } else {
        run.form->events(&ps[0]);
    }
    for (int k = 0; k < np; k++) res->capped = res->capped || ps[k].made < ps[k].n;
stop:
    atomic_store_explicit(&run.go, 1, memory_order_release);
    /* Consumers of a capped run drain what was published, then see the close. */
    rr_ring_close(run.ring);
    for (int k = 0; k < pstarted; k++) pthread_join(pth[k], NULL);
    double t_end = 0;
    res->done = UINT64_MAX;
    for (int k = 0; k < cstarted; k++) {
        pthread_join(cth[k], NULL);
        if (cs[k].t_end > t_end) t_end = cs[k].t_end;
        if (cs[k].count < res->done) res->done = cs[k].count;
    }
    if (cstarted == 0) res->done = 0;
    if (res->ok) {
        res->seconds = t_end - t0;
        check(&run, ps, np, cs, nc, res);
    }
out:
    for (int k = 0; k < nc; k++) rr_reader_close(cs[k].r);
    for (int k = 0; k < np; k++) rr_writer_close(ps[k].w);
    rr_ring_destroy(run.ring);
}

int main(int argc, char **argv)
{
    char hello[512] = ", \"shapes\": [\"1p1c\", \"1p1c-batch10\", \"1p3c\", \"3p1c\"], "
                      "\"waits\": [\"yield\", \"spin\", \"block\", \"sleep\"], "
                      "\"ring_size\": 65536, \"value_bytes\": 8, \"forms\": [";
    for (size_t k = 0; k < N_FORMS; k++) {
        strcat(hello, k ? ", \"" : "\"");
        strcat(hello, FORMS[k].name);
        strcat(hello, "\"");
    }
    strcat(hello, "]");
    return sp_main(argc, argv, "rusted_ring", hello, run);
}
