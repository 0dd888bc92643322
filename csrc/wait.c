/*
 * wait.c — blocking waits and wake-ups.
 *
 * A waiter spins briefly, then yields, then sleeps on a futex word of an
 * rr_waitq. The side that makes progress (a writer publishing, a reader
 * releasing a slot) calls rr__notify(), which wakes sleepers only when the
 * queue's `waiters` count is non-zero: an uncontended publish makes no system
 * call.
 *
 * The lost wake-up problem is a store-load race: the notifier stores its
 * progress then loads `waiters`; the waiter increments `waiters` then loads
 * the progress. Each side needs a full fence between its store and its load.
 * We make the waiter pay for both (asymmetric fences): after incrementing
 * `waiters` it calls membarrier(), which forces every running thread of every
 * registered process through a full barrier. Afterwards either the waiter's
 * re-check sees the notifier's progress, or the notifier's later load of
 * `waiters` sees the increment. The notifier then needs only a compiler
 * barrier. Where membarrier is unavailable, notifiers use a real seq_cst fence
 * instead (rr__asym_fences is false).
 *
 * The futex word itself is bumped before each wake, and a waiter reads it
 * before its last re-check, so a wake between the re-check and the sleep makes
 * FUTEX_WAIT return at once.
 *
 * A sleeper wakes when woken or at its deadline, and no more often, unless
 * its caller asks it to look again every RR_SHM_LIVENESS_NS (`poll`), while
 * it may be waiting on a process that died where nobody would wake it: a
 * reader of another process gating a writer, a producer holding the claim a
 * reader waits behind (writer.c and reader.c say when). An idle waiter costs
 * nothing.
 *
 * Labels (layout.h): the store-load race is S1; the futex word is R9/A9; a
 * sleeper's owner word is R10/A10.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"

#define RR_SPIN_ROUNDS   256
#define RR_YIELD_ROUNDS  32
/* When this process could not register for membarrier, a waiter cannot force
 * the notifier's fence; it then sleeps in short slices so that a wake-up lost
 * to that race costs at most this long. */
#define RR_FALLBACK_SLICE_NS 1000000

_Atomic bool rr__asym_fences;         /* set at init; cleared if a forked child cannot register */
static pid_t rr__registered_pid;      /* process that holds the registration */
static pthread_once_t rr__once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rr__register_lock = PTHREAD_MUTEX_INITIALIZER;

static long rr__membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

/* Register this process for expedited membarriers (again after a fork). */
static bool rr__register(void)
{
    long private_ok = rr__membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
    long global_ok = rr__membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
    return private_ok == 0 && global_ok == 0;
}

static void rr__init_once(void)
{
    atomic_store_explicit(&rr__asym_fences, rr__register(), memory_order_relaxed);
    rr__registered_pid = getpid();
}

/* Called whenever a ring, writer or reader is opened: registers the process
 * once, and again in a child after fork(). Linux 6.x carries the registration
 * into the child, but nothing promises that, and a notifier that is not
 * registered would not take part in a waiter's barrier; registering twice is
 * harmless. */
void rr__wait_init(void)
{
    pthread_once(&rr__once, rr__init_once);
    if (!atomic_load_explicit(&rr__asym_fences, memory_order_relaxed))
        return;
    pid_t me = getpid();
    pthread_mutex_lock(&rr__register_lock);
    if (rr__registered_pid != me) {
        /* A child whose registration fails must not rely on asymmetric fences;
         * the flag is process-wide, and this child is not yet notifying. */
        if (!rr__register())
            atomic_store_explicit(&rr__asym_fences, false, memory_order_relaxed);
        rr__registered_pid = me;
    }
    pthread_mutex_unlock(&rr__register_lock);
}

static int rr__futex(_Atomic uint32_t *addr, int op, uint32_t val,
                     const struct timespec *ts, bool private_mem)
{
    if (private_mem)
        op |= FUTEX_PRIVATE_FLAG;
    return (int)syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

/* R9, pairs with A9 in rr__sleep. */
void rr__wake_all(const rr_ring *ring, rr_waitq *q)
{
    atomic_fetch_add_explicit(&q->futex, 1, memory_order_release);
    rr__futex(&q->futex, FUTEX_WAKE, INT_MAX, NULL, ring->private_mem);
    if (!ring->private_mem)
        rr__reap_dead_sleepers(ring);
}

int64_t rr__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Absolute deadline for a timeout: 0 stays 0 (never wait), negative stays
 * negative (no limit). */
int64_t rr__deadline(int64_t timeout_ns)
{
    if (timeout_ns <= 0)
        return timeout_ns;
    int64_t now = rr__now_ns();
    return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

static inline void rr__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Name the sleeper (owner word `me`) where a finder of its death looks, so
 * that it can take back the sleeper's count: R10, pairs with A10 in proc.c.
 * A reader or a single-producer writer has a word of its own. The producers
 * of a ring with claim records share the records' sleeper words (claims.c):
 * `word` is the one to try first; NULL when none is free. */
static _Atomic uint64_t *rr__sleeper_take(const rr_ring *ring, rr_waitq *q,
                                          _Atomic uint64_t *word, uint64_t me)
{
    if (ring->claims && q == &ring->L->writable)
        return rr__claims_sleeper_take(ring, word, me);
    atomic_store_explicit(word, me, memory_order_release);
    return word;
}

/* Sleep on q until ready() stops saying RR_EMPTY or the deadline passes. */
static rr_status rr__sleep(const rr_ring *ring, rr_waitq *q, rr_ready_fn ready,
                           void *ctx, int64_t deadline, _Atomic uint64_t *sleeping,
                           const bool *poll)
{
    uint64_t me = sleeping ? rr__self_owner() : 0;   /* before: it may read /proc */
    /* S1, the waiter's side: the count is stored before the re-checks below
     * load the progress; seq_cst, then the fence and membarrier(). */
    atomic_fetch_add_explicit(&q->waiters, 1, memory_order_seq_cst);
    /* after the count: a process dying between the two leaks one count
     * (spurious wake calls), never takes back a count it did not add. */
    bool counted = true;
    if (sleeping && !(sleeping = rr__sleeper_take(ring, q, sleeping, me))) {
        /* No claim record's sleeper word is free (more producers asleep on
         * this ring than it has records): a count that nobody could take
         * back should this process die would make every later publish a
         * wake-up call, so we take it back and sleep uncounted, looking
         * every interval. */
        atomic_fetch_sub_explicit(&q->waiters, 1, memory_order_release);
        counted = false;
    }
    atomic_thread_fence(memory_order_seq_cst);   /* our half of the store-load fence */
    bool sliced = !atomic_load_explicit(&rr__asym_fences, memory_order_relaxed);
    if (!sliced) {
        int cmd = ring->private_mem ? MEMBARRIER_CMD_PRIVATE_EXPEDITED
                                    : MEMBARRIER_CMD_GLOBAL_EXPEDITED;
        sliced = rr__membarrier(cmd) != 0;
    }
    rr_status st;
    for (;;) {
        /* A9, pairs with R9 in rr__wake_all */
        uint32_t seen = atomic_load_explicit(&q->futex, memory_order_acquire);
        if ((st = ready(ctx)) != RR_EMPTY)
            break;
        int64_t wait_ns = INT64_MAX;
        if (deadline > 0) {
            wait_ns = deadline - rr__now_ns();
            if (wait_ns <= 0) { st = RR_TIMEOUT; break; }
        }
        /* the caller's period, as this look left it (rr__wait) */
        int64_t slice = sliced ? RR_FALLBACK_SLICE_NS
                      : !counted || (poll && *poll) ? RR_SHM_LIVENESS_NS : 0;
        if (slice && wait_ns > slice)
            wait_ns = slice;
        struct timespec ts = { .tv_sec = wait_ns / 1000000000LL,
                               .tv_nsec = wait_ns % 1000000000LL };
        rr__futex(&q->futex, FUTEX_WAIT, seen, wait_ns == INT64_MAX ? NULL : &ts,
                  ring->private_mem);
    }
    /* The count going down pairs with nothing: a notifier reads it (relaxed)
     * only to decide whether to make the wake-up call. */
    if (sleeping)
        rr__forget_sleeper(q, sleeping, me);
    else if (counted)
        atomic_fetch_sub_explicit(&q->waiters, 1, memory_order_release);
    return st;
}

/* Whoever turns the flag from 1 to 0 takes the count back: the waiter
 * itself, or a process that found the waiter's process dead (the CAS is
 * R10/A10's second half: one of them wins). */
void rr__forget_sleeper(rr_waitq *q, _Atomic uint64_t *sleeping, uint64_t owner)
{
    if (owner != 0 &&
        atomic_compare_exchange_strong_explicit(sleeping, &owner, 0, memory_order_acq_rel,
                                                memory_order_relaxed))
        atomic_fetch_sub_explicit(&q->waiters, 1, memory_order_release);
}

/* Wait until ready() returns something other than RR_EMPTY. A deadline of 0
 * never waits (RR_EMPTY comes back as is); a negative deadline has no limit.
 * Escalates spin -> yield -> futex sleep. */
rr_status rr__wait(const rr_ring *ring, rr_waitq *q, rr_ready_fn ready, void *ctx,
                   int64_t deadline, _Atomic uint64_t *sleeping, const bool *poll)
{
    rr_status st = ready(ctx);
    if (st != RR_EMPTY || deadline == 0)
        return st;
    for (int i = 0; i < RR_SPIN_ROUNDS; i++) {
        rr__cpu_relax();
        if ((st = ready(ctx)) != RR_EMPTY)
            return st;
    }
    for (int i = 0; i < RR_YIELD_ROUNDS; i++) {
        sched_yield();
        if ((st = ready(ctx)) != RR_EMPTY)
            return st;
        if (deadline > 0 && rr__now_ns() >= deadline)
            return RR_TIMEOUT;
    }
    return rr__sleep(ring, q, ready, ctx, deadline, sleeping, poll);
}
