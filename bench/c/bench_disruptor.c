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
 *   1p3c-pipeline OneToThreePipelineSequencedThroughputTest: three stages in a
 *                 line over one ring (readers that follow readers, csrc/
 *                 pipeline.c) of STAGE_RING slots, as the Disruptor's test has
 *                 them: the producer sets a 32-byte event's two operands (i,
 *                 and 777 counting down); stage one (writable) stores their
 *                 sum, stage two (writable, after one) that plus 3, stage
 *                 three (after two) counts the events whose result has bit 2
 *                 set, and sums operand one for the check.
 *   1p3c-diamond  OneToThreeDiamondSequencedThroughputTest: the producer sets
 *                 an 8-byte value i; fizz and buzz run in parallel (value % 3,
 *                 value % 5), fizzbuzz follows both and counts the events that
 *                 are both, and sums the values. The Disruptor's fizz and buzz
 *                 handlers write fields of the event; two rusted_ring readers
 *                 that could hold one event at once may not both write it, so
 *                 each writes its flag into a column of its own (a byte per
 *                 slot), which fizzbuzz reads once the gates say both are done
 *                 with the event: the same stores and loads, the same order.
 *                 Stages read with rr_reader_next_block (up to CONSUME_MAX
 *                 events, contiguous), a writable one asking once per block for
 *                 the block's writable address (rr_reader_writable_data).
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
#define STAGE_RING  8192u    /* the Disruptor's pipeline and diamond tests' BUFFER_SIZE (1024 * 8) */
#define OPERAND_TWO_INITIAL 777   /* OneToThreePipelineSequencedThroughputTest's */

/* OneToThreePipelineSequencedThroughputTest's FunctionEvent: 32 bytes. */
typedef struct function_event {
    int64_t operand_one, operand_two, step_one, step_two;
} function_event;

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
    static void produce_function##SUFFIX(producer *p)                                 \
    {                                                                                 \
        rr_claim c;                                                                   \
        rr_status st;                                                                 \
        uint64_t i;                                                                   \
        int64_t operand_two = OPERAND_TWO_INITIAL;                                    \
        for (i = 0; i < p->n; i++) {                                                  \
            if (past_deadline(p->run, i)) break;                                      \
            if ((st = CLAIM(p->w, 1, 1, &c, RR_FOREVER)) != RR_OK) {                  \
                producer_failed(p, #CLAIM, st);                                       \
                break;                                                                \
            }                                                                         \
            function_event *e = DATA(&c, 0);                                          \
            e->operand_one = (int64_t)i;                                              \
            e->operand_two = operand_two--;                                           \
            if ((st = PUBLISH(p->w, &c)) != RR_OK) {                                  \
                producer_failed(p, #PUBLISH, st);                                     \
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
    void (*events)(producer *);    /* 1p1c, 1p3c, 3p1c, 1p3c-diamond */
    void (*batches)(producer *);   /* 1p1c-batch10, or NULL */
    void (*functions)(producer *); /* 1p3c-pipeline, or NULL */
};

static const form FORMS[] = {
    { "claim", produce_claim, produce_batch, produce_function },
    { "add", produce_add, NULL, NULL },
#ifdef HAVE_INLINE
    { "claim-inline", produce_claim_inline, produce_batch_inline, produce_function_inline },
    { "add-inline", produce_add_inline, NULL, NULL },
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

__attribute__((format(printf, 2, 3)))
static void fail(sp_result *res, const char *fmt, ...)
{
    va_list ap;
    res->ok = false;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
}

/* ---- stages over one ring: 1p3c-pipeline, 1p3c-diamond ---------------------------------- */

enum { STEP_ONE, STEP_TWO, STEP_THREE, FIZZ, BUZZ, FIZZ_BUZZ };

typedef struct stage {
    run_ctx       *run;
    rr_reader     *r;
    int            step;
    unsigned char *fizz, *buzz;   /* the diamond's columns, a byte per slot */
    uint64_t       count;         /* events taken */
    uint64_t       counted;       /* step three, fizzbuzz: events that passed */
    uint64_t       sum;           /* operand one, or the value */
    double         t_end;
    rr_status      failed;
    const char    *call;
} stage;

/* One block of events, as the Disruptor's handlers take each event. */
static void stage_block(stage *s, unsigned char *p, size_t stride, uint64_t first, uint32_t n)
{
    size_t slot = (size_t)(first & (STAGE_RING - 1));   /* a block never wraps */
    switch (s->step) {
    case STEP_ONE:
        for (uint32_t i = 0; i < n; i++) {
            function_event *e = (function_event *)(void *)(p + i * stride);
            e->step_one = e->operand_one + e->operand_two;
        }
        break;
    case STEP_TWO:
        for (uint32_t i = 0; i < n; i++) {
            function_event *e = (function_event *)(void *)(p + i * stride);
            e->step_two = e->step_one + 3;
        }
        break;
    case STEP_THREE:
        for (uint32_t i = 0; i < n; i++) {
            const function_event *e = (const function_event *)(const void *)(p + i * stride);
            s->counted += (e->step_two & 4) == 4;
            s->sum += (uint64_t)e->operand_one;
        }
        break;
    case FIZZ:
        for (uint32_t i = 0; i < n; i++)
            s->fizz[slot + i] = *(const uint64_t *)(const void *)(p + i * stride) % 3 == 0;
        break;
    case BUZZ:
        for (uint32_t i = 0; i < n; i++)
            s->buzz[slot + i] = *(const uint64_t *)(const void *)(p + i * stride) % 5 == 0;
        break;
    default:
        for (uint32_t i = 0; i < n; i++) {
            s->counted += s->fizz[slot + i] && s->buzz[slot + i];
            s->sum += *(const uint64_t *)(const void *)(p + i * stride);
        }
        break;
    }
}

static void *stage_thread(void *arg)
{
    stage *s = arg;
    bool writable = rr_reader_writable(s->r);
    atomic_fetch_add_explicit(&s->run->started, 1, memory_order_release);
    while (s->count < s->run->expected) {
        rr_block b;
        rr_status st = rr_reader_next_block(s->r, CONSUME_MAX, &b, RR_FOREVER);
        if (st == RR_CLOSED) break;           /* the producer stopped early (capped) */
        if (st != RR_OK) {
            s->failed = st;
            s->call = "rr_reader_next_block";
            break;
        }
        unsigned char *p = (unsigned char *)(uintptr_t)b.data;   /* read-only stages read */
        if (writable && (st = rr_reader_writable_data(s->r, b.first_sequence,
                                                      (void **)&p)) != RR_OK) {
            s->failed = st;
            s->call = "rr_reader_writable_data";
            break;
        }
        stage_block(s, p, b.stride, b.first_sequence, b.count);
        s->count += b.count;
    }
    s->t_end = sp_now();
    /* the last block stays this stage's until its next call: release it for
     * the stages after it (nothing is left to take) */
    rr_block rest;
    (void)rr_reader_next_block(s->r, 1, &rest, 0);
    return NULL;
}

/* What stage three of the Disruptor's pipeline test counts over n events. */
static uint64_t pipeline_expected(uint64_t n)
{
    uint64_t count = 0;
    int64_t operand_two = OPERAND_TWO_INITIAL;
    for (uint64_t i = 0; i < n; i++) {
        int64_t step_two = (int64_t)i + operand_two-- + 3;
        count += (step_two & 4) == 4;
    }
    return count;
}

/* The line: step one (writable) -> step two (writable) -> step three. The
 * diamond: fizz, buzz -> fizzbuzz. */
static bool open_stages(run_ctx *run, stage *st, bool diamond, sp_result *res)
{
    static const char *names[2][3] = { { "step-one", "step-two", "step-three" },
                                       { "fizz", "buzz", "fizzbuzz" } };
    for (int k = 0; k < 3; k++) {
        rr_reader_options o = RR_READER_OPTIONS_INIT;
        const rr_reader *after[2] = { NULL, NULL };
        o.wait = run->wait;
        o.name = names[diamond][k];
        o.after = after;
        if (diamond && k == 2) {
            after[0] = st[0].r;
            after[1] = st[1].r;
            o.after_count = 2;
        } else if (!diamond && k > 0) {
            after[0] = st[k - 1].r;
            o.after_count = 1;
        }
        o.writable = !diamond && k < 2;
        st[k].run = run;
        st[k].step = diamond ? FIZZ + k : STEP_ONE + k;
        rr_status rs = rr_reader_open_opts(run->ring, &o, &st[k].r);
        if (rs != RR_OK) {
            fail(res, "rr_reader_open_opts (%s): %s (%s)", names[diamond][k], rr_strerror(rs),
                 rr_last_error());
            return false;
        }
    }
    return true;
}

static void run_stages(const sp_request *q, sp_result *res, run_ctx *run)
{
    bool diamond = strcmp(q->shape, "1p3c-diamond") == 0;
    producer p = { .run = run, .n = q->events };
    stage st[3] = { { 0 } };
    pthread_t th[3];
    int started = 0;
    unsigned char *columns = NULL;
    void (*produce)(producer *) = diamond ? run->form->events : run->form->functions;
    if (!produce) {
        fail(res, "form %s is not offered for %s", q->form, q->shape);
        return;
    }
    res->threads = 4;
    rr_config cfg = { diamond ? VALUE_BYTES : sizeof(function_event), STAGE_RING,
                      RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE };
    rr_status rs = rr_ring_create(&cfg, &run->ring);
    if (rs != RR_OK) {
        fail(res, "rr_ring_create: %s (%s)", rr_strerror(rs), rr_last_error());
        return;
    }
    if (diamond && !(columns = calloc(2, STAGE_RING))) {
        fail(res, "no memory for the columns");
        goto out;
    }
    for (int k = 0; k < 3; k++) {
        st[k].fizz = columns;
        st[k].buzz = columns ? columns + STAGE_RING : NULL;
    }
    if (!open_stages(run, st, diamond, res)) goto out;
    rr_writer_options wo = RR_WRITER_OPTIONS_INIT;
    wo.wait = run->wait;
    if ((rs = rr_writer_open_opts(run->ring, &wo, &p.w)) != RR_OK) {
        fail(res, "rr_writer_open_opts: %s (%s)", rr_strerror(rs), rr_last_error());
        goto out;
    }
    for (; started < 3; started++)
        if (pthread_create(&th[started], NULL, stage_thread, &st[started]) != 0) {
            fail(res, "pthread_create failed");
            break;
        }
    while (atomic_load_explicit(&run->started, memory_order_acquire) < started) sched_yield();
    double t0 = sp_now();
    run->deadline = t0 + q->cap_s;
    if (started == 3) produce(&p);
    res->capped = p.made < p.n;
    rr_ring_close(run->ring);   /* a capped run's stages drain what was published */
    double t_end = 0;
    res->done = UINT64_MAX;
    for (int k = 0; k < started; k++) {
        pthread_join(th[k], NULL);
        if (st[k].t_end > t_end) t_end = st[k].t_end;
        if (st[k].count < res->done) res->done = st[k].count;
    }
    if (started == 0) res->done = 0;
    if (!res->ok) goto out;
    res->seconds = t_end - t0;
    if (p.failed != RR_OK) {
        fail(res, "%s: %s", p.call, rr_strerror(p.failed));
        goto out;
    }
    for (int k = 0; k < 3; k++)
        if (st[k].failed != RR_OK) {
            fail(res, "%s: %s (%s)", st[k].call, rr_strerror(st[k].failed), rr_last_error());
            goto out;
        }
    if (!res->capped) {
        uint64_t want = diamond ? (q->events + 14) / 15 : pipeline_expected(q->events);
        for (int k = 0; k < 3; k++)
            if (st[k].count != q->events)
                fail(res, "stage %d took %" PRIu64 " events of %" PRIu64, k, st[k].count,
                     q->events);
        if (st[2].counted != want || st[2].sum != sp_triangle(q->events))
            fail(res, "the last stage counted %" PRIu64 " (expected %" PRIu64 ") and summed %"
                 PRIu64 " (expected %" PRIu64 ")", st[2].counted, want, st[2].sum,
                 sp_triangle(q->events));
    }
out:
    for (int k = 0; k < 3; k++) rr_reader_close(st[k].r);
    rr_writer_close(p.w);
    rr_ring_destroy(run->ring);
    free(columns);
}

/* ---- one run ------------------------------------------------------------------------- */

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
    if (strncmp(q->shape, "1p3c-", 5) == 0) {
        run.expected = q->events;
        run_stages(q, res, &run);
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
    char hello[512] = ", \"shapes\": [\"1p1c\", \"1p1c-batch10\", \"1p3c\", \"3p1c\", "
                      "\"1p3c-pipeline\", \"1p3c-diamond\"], "
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
