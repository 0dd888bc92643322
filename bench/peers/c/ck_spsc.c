/*
 * ck_spsc.c — Concurrency Kit's ck_ring (Debian libck-dev) as a single-producer
 * single-consumer queue, in the 1p1c shape of bench/c/bench_disruptor.c, for
 * bench/run.py to run alternately with rusted_ring (protocol: bench/c/serve.h).
 *
 * A ck_ring of RING_SIZE entries (it holds RING_SIZE - 1) of one pointer-sized
 * value; the producer enqueues 0 .. EVENTS-1 one at a time
 * (ck_ring_enqueue_spsc), the consumer thread dequeues one at a time
 * (ck_ring_dequeue_spsc: ck_ring has no batch dequeue for SPSC), adds the
 * values up and counts them; both are checked. ck_ring never waits: on a full
 * or empty ring each side waits as WAIT says ("spin" or "yield", see
 * sp_backoff in serve.h; there is nothing to block on). The producer stops at
 * the run's cap, and the consumer then stops at what was produced.
 *
 *   ck_spsc --serve
 *   ck_spsc 1p1c yield queue 10000000 [CAP_S [REPEATS]]
 */
#include <ck_ring.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "serve.h"

#define RING_SIZE 65536u
#define CAP_CHECK 4096u

typedef struct run_ctx {
    struct ck_ring        *ring;
    struct ck_ring_buffer *buf;
    bool                   yield;
    uint64_t               n;
    uint64_t               count, sum;   /* the consumer's */
    double                 t_end;
    atomic_int             started;      /* the consumer is at its loop (release / acquire) */
    atomic_uint_fast64_t   produced;     /* events the producer made, once it stopped
                                            (release; the consumer acquires); UINT64_MAX before */
} run_ctx;

static void *consume(void *arg)
{
    run_ctx *run = arg;
    sp_backoff b = { run->yield, 0 };
    uint64_t count = 0, sum = 0;   /* in registers: ck's fences are compiler barriers */
    void *v;
    atomic_store_explicit(&run->started, 1, memory_order_release);
    while (count < run->n) {
        if (ck_ring_dequeue_spsc(run->ring, run->buf, &v)) {
            sum += (uint64_t)(uintptr_t)v;
            count++;
            b.spins = 0;
        } else {
            if (count == atomic_load_explicit(&run->produced, memory_order_acquire)) break;
            sp_backoff_wait(&b);
        }
    }
    run->count = count;
    run->sum = sum;
    run->t_end = sp_now();
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

static void run(const sp_request *q, sp_result *res)
{
    run_ctx run;
    pthread_t th;
    memset(&run, 0, sizeof run);
    if (strcmp(q->shape, "1p1c") != 0 || strcmp(q->form, "queue") != 0) {
        fail(res, "only shape 1p1c, form queue (asked for %s, %s)", q->shape, q->form);
        return;
    }
    if (strcmp(q->wait, "spin") != 0 && strcmp(q->wait, "yield") != 0) {
        fail(res, "wait %s: ck_ring offers nothing to block on (spin, yield)", q->wait);
        return;
    }
    run.yield = strcmp(q->wait, "yield") == 0;
    run.n = q->events;
    atomic_init(&run.produced, UINT64_MAX);
    atomic_init(&run.started, 0);
    run.ring = aligned_alloc(64, (sizeof *run.ring + 63) / 64 * 64);
    run.buf = aligned_alloc(64, RING_SIZE * sizeof *run.buf);
    if (!run.ring || !run.buf) {
        fail(res, "out of memory");
        goto out;
    }
    memset(run.buf, 0, RING_SIZE * sizeof *run.buf);   /* fault the pages in before the clock */
    ck_ring_init(run.ring, RING_SIZE);
    res->threads = 2;
    if (pthread_create(&th, NULL, consume, &run) != 0) {
        fail(res, "pthread_create failed");
        goto out;
    }
    while (!atomic_load_explicit(&run.started, memory_order_acquire)) sched_yield();

    double t0 = sp_now(), deadline = t0 + q->cap_s;
    sp_backoff b = { run.yield, 0 };
    uint64_t i;
    for (i = 0; i < run.n; i++) {
        if (i % CAP_CHECK == 0 && sp_now() > deadline) break;
        while (!ck_ring_enqueue_spsc(run.ring, run.buf, (void *)(uintptr_t)i)) sp_backoff_wait(&b);
        b.spins = 0;
    }
    atomic_store_explicit(&run.produced, i, memory_order_release);
    pthread_join(th, NULL);
    res->capped = i < run.n;
    res->done = run.count;
    res->seconds = run.t_end - t0;
    if (!res->capped && (run.count != run.n || run.sum != sp_triangle(run.n)))
        fail(res, "the consumer took %llu events summing to %llu; expected %llu summing to %llu",
             (unsigned long long)run.count, (unsigned long long)run.sum,
             (unsigned long long)run.n, (unsigned long long)sp_triangle(run.n));
out:
    free(run.ring);
    free(run.buf);
}

int main(int argc, char **argv)
{
    return sp_main(argc, argv, "ck_ring",
                   ", \"shapes\": [\"1p1c\"], \"waits\": [\"yield\", \"spin\"], "
                   "\"forms\": [\"queue\"], \"ring_size\": 65536, \"value_bytes\": 8", run);
}
