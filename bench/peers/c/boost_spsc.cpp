/*
 * boost_spsc.cpp — boost::lockfree::spsc_queue (Debian libboost-dev) in the
 * 1p1c shape of bench/c/bench_disruptor.c, for bench/run.py to run
 * alternately with rusted_ring (protocol: bench/c/serve.h).
 *
 * An spsc_queue<uint64_t> with a compile-time capacity of RING_SIZE (it holds
 * RING_SIZE - 1); the producer pushes 0 .. EVENTS-1 one at a time, the
 * consumer thread takes whatever is there with consume_all (its batch read),
 * adds the values up and counts them; both are checked. The queue never
 * waits: on a full or empty queue each side waits as WAIT says ("spin" or
 * "yield", see sp_backoff in serve.h; there is nothing to block on). The
 * producer stops at the run's cap, and the consumer then stops at what was
 * produced.
 *
 *   boost_spsc --serve
 *   boost_spsc 1p1c yield queue 10000000 [CAP_S [REPEATS]]
 */
#include <boost/lockfree/spsc_queue.hpp>
#include <boost/version.hpp>

#include <atomic>
#include <cstdarg>
#include <memory>
#include <thread>

#include "serve.h"

namespace {

constexpr size_t RING_SIZE = 65536;
constexpr uint64_t CAP_CHECK = 4096;

using queue = boost::lockfree::spsc_queue<uint64_t, boost::lockfree::capacity<RING_SIZE>>;

struct run_ctx {
    queue                 q;
    bool                  yield = false;
    uint64_t              n = 0;
    uint64_t              count = 0, sum = 0;   // the consumer's
    double                t_end = 0;
    std::atomic<int>      started{0};           // the consumer is at its loop (release / acquire)
    std::atomic<uint64_t> produced{UINT64_MAX}; // events made, once the producer stopped
                                                // (release; the consumer acquires)
};

void consume(run_ctx *run)
{
    sp_backoff b = {run->yield, 0};
    uint64_t sum = 0, count = 0;
    run->started.store(1, std::memory_order_release);
    while (count < run->n) {
        size_t k = run->q.consume_all([&sum](uint64_t v) { sum += v; });
        if (k) {
            count += k;
            b.spins = 0;
        } else {
            if (count == run->produced.load(std::memory_order_acquire)) break;
            sp_backoff_wait(&b);
        }
    }
    run->sum = sum;
    run->count = count;
    run->t_end = sp_now();
}

__attribute__((format(printf, 2, 3)))
void fail(sp_result *res, const char *fmt, ...)
{
    va_list ap;
    res->ok = false;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
}

void run(const sp_request *rq, sp_result *res)
{
    if (strcmp(rq->shape, "1p1c") != 0 || strcmp(rq->form, "queue") != 0) {
        fail(res, "only shape 1p1c, form queue (asked for %s, %s)", rq->shape, rq->form);
        return;
    }
    if (strcmp(rq->wait, "spin") != 0 && strcmp(rq->wait, "yield") != 0) {
        fail(res, "wait %s: spsc_queue offers nothing to block on (spin, yield)", rq->wait);
        return;
    }
    std::unique_ptr<run_ctx> run(new run_ctx);   // the queue's array is inline: 512 KiB
    run->yield = strcmp(rq->wait, "yield") == 0;
    run->n = rq->events;
    res->threads = 2;
    std::thread th(consume, run.get());
    while (!run->started.load(std::memory_order_acquire)) sched_yield();

    double t0 = sp_now(), deadline = t0 + rq->cap_s;
    sp_backoff b = {run->yield, 0};
    uint64_t i;
    for (i = 0; i < run->n; i++) {
        if (i % CAP_CHECK == 0 && sp_now() > deadline) break;
        while (!run->q.push(i)) sp_backoff_wait(&b);
        b.spins = 0;
    }
    run->produced.store(i, std::memory_order_release);
    th.join();
    res->capped = i < run->n;
    res->done = run->count;
    res->seconds = run->t_end - t0;
    if (!res->capped && (run->count != run->n || run->sum != sp_triangle(run->n)))
        fail(res, "the consumer took %llu events summing to %llu; expected %llu summing to %llu",
             (unsigned long long)run->count, (unsigned long long)run->sum,
             (unsigned long long)run->n, (unsigned long long)sp_triangle(run->n));
}

}  // namespace

int main(int argc, char **argv)
{
    char extra[256];
    snprintf(extra, sizeof extra,
             ", \"shapes\": [\"1p1c\"], \"waits\": [\"yield\", \"spin\"], \"forms\": [\"queue\"], "
             "\"ring_size\": %zu, \"value_bytes\": 8, \"boost\": \"%d.%d.%d\"",
             RING_SIZE, BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
    return sp_main(argc, argv, "boost::lockfree::spsc_queue", extra, run);
}
