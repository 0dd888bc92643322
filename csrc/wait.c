/*
 * wait.c — waits and wake-ups.
 *
 * How a handle waits is its wait strategy (rusted_ring.h), chosen when it is
 * opened and passed to rr__wait at the start of each wait; the hot paths
 * never look at it. Only RR_WAIT_BLOCK sleeps on a futex, and what follows
 * up to the strategies at the end is about that one.
 *
 * A blocking waiter spins briefly, then yields, then sleeps on a futex word of an
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
 * The other strategies (rr__wait_unwoken) never add themselves to
 * `waiters`, so a notifier that has only such waiters never makes the
 * wake-up call, and they never sleep where a wake-up would be needed: they
 * look at the condition again and again, spinning (RR_WAIT_SPIN), yielding
 * the CPU (RR_WAIT_YIELD, and RR_WAIT_SLEEP for a while) or sleeping a fixed
 * RR_WAIT_SLEEP_NS (RR_WAIT_SLEEP). With no count there is no store-load race
 * to lose: each look runs ready(), which reads the progress with the same
 * acquire loads as a blocking waiter's re-check. Every look is a full
 * ready(), so the close, and the liveness polls that ready() makes on its
 * own clock (dead readers gating a writer, dead producers' claims), are seen
 * as a blocking waiter sees them, sooner if anything. The deadline is read
 * from the clock once every RR_SPIN_CLOCK_EVERY spins, or at every yield or
 * sleep (a system call anyway).
 *
 * A pollfd (poll.c) waits as a sleeper does, counted in `waiters` (as
 * RR_POLLER_COUNT, a sleeper as 1: layout.h), and rr__wake_all tells it
 * instead of, or after, the futex wake; its arming takes the waiter's half
 * of S1 from rr__waiter_barrier, as rr__sleep does.
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
/* RR_WAIT_SPIN: spins between two looks at the clock (a pause is some tens of
 * ns, a vDSO clock read about as long: a few percent of the loop). */
#define RR_SPIN_CLOCK_EVERY 64
/* RR_WAIT_SLEEP, as the Disruptor's SleepingWaitStrategy: spins, then
 * yields, then sleeps of RR_WAIT_SLEEP_NS (rusted_ring.h). */
#define RR_SLEEP_SPIN_ROUNDS  100
#define RR_SLEEP_YIELD_ROUNDS 100
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

/* R9, pairs with A9 in rr__sleep; the futex wake only when a sleeper is
 * counted, and the pollers armed on q (poll.c) only when one is. The count
 * is read after the caller's half of S1 (rr__notify's, or the close's
 * fence), and after any load of it the caller made: what a waiter counted
 * before its re-check missed the progress is seen here. */
void rr__wake_all(const rr_ring *ring, rr_waitq *q)
{
    uint32_t counted = atomic_load_explicit(&q->waiters, memory_order_relaxed);
    atomic_fetch_add_explicit(&q->futex, 1, memory_order_release);
    if (counted % RR_POLLER_COUNT != 0)
        rr__futex(&q->futex, FUTEX_WAKE, INT_MAX, NULL, ring->private_mem);
    if (counted >= RR_POLLER_COUNT)
        rr__poll_notify(ring, q);
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

bool rr__waiter_barrier(const rr_ring *ring)
{
    atomic_thread_fence(memory_order_seq_cst);   /* our half of the store-load fence */
    /* Without membarrier this process's notifiers fence themselves
     * (rr__notify): a ring only this process maps has no others, so the
     * fence is the whole barrier. A shared ring's notifiers in processes
     * that can make membarrier calls do not fence: not assured. */
    if (!atomic_load_explicit(&rr__asym_fences, memory_order_relaxed))
        return ring->private_mem;
    int cmd = ring->private_mem ? MEMBARRIER_CMD_PRIVATE_EXPEDITED
                                : MEMBARRIER_CMD_GLOBAL_EXPEDITED;
    return rr__membarrier(cmd) == 0;
}

/* A ring only this process maps has only notifiers of this process, which
 * fence themselves when it cannot make membarrier calls. */
int64_t rr__waiter_slice_ns(const rr_ring *ring)
{
    return ring->private_mem || atomic_load_explicit(&rr__asym_fences, memory_order_relaxed)
               ? 0 : RR_FALLBACK_SLICE_NS;
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
    bool sliced = !rr__waiter_barrier(ring);
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

/* Sleep `ns`, at most until the deadline; through syscall(), which is no
 * cancellation point (layout.h), as nanosleep() is. */
static void rr__nap(int64_t ns, int64_t deadline)
{
    if (deadline > 0) {
        int64_t left = deadline - rr__now_ns();
        if (left < ns)
            ns = left > 0 ? left : 0;
    }
    if (ns <= 0)
        return;
    struct timespec ts = { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
}

/* The strategies that nobody wakes (RR_WAIT_YIELD, RR_WAIT_SPIN,
 * RR_WAIT_SLEEP): look at ready() until it says something other than
 * RR_EMPTY or the deadline (> 0, or none if negative) passes. Never counted
 * in any queue's waiters, never named in a sleeper word. */
static rr_status rr__wait_unwoken(rr_ready_fn ready, void *ctx, int64_t deadline,
                                  rr_wait_strategy how)
{
    rr_status st;
    int spins = how == RR_WAIT_SPIN ? -1 /* for ever */
              : how == RR_WAIT_SLEEP ? RR_SLEEP_SPIN_ROUNDS : RR_SPIN_ROUNDS;
    int yields = how == RR_WAIT_SLEEP ? RR_SLEEP_YIELD_ROUNDS : -1;
    for (uint32_t i = 1; spins < 0 || i <= (uint32_t)spins; i++) {
        rr__cpu_relax();
        if ((st = ready(ctx)) != RR_EMPTY)
            return st;
        if (deadline > 0 && i % RR_SPIN_CLOCK_EVERY == 0 && rr__now_ns() >= deadline)
            return RR_TIMEOUT;
    }
    for (int i = 0; yields < 0 || i < yields; i++) {
        sched_yield();   /* no cancellation point */
        if ((st = ready(ctx)) != RR_EMPTY)
            return st;
        if (deadline > 0 && rr__now_ns() >= deadline)
            return RR_TIMEOUT;
    }
    for (;;) {   /* RR_WAIT_SLEEP */
        rr__nap(RR_WAIT_SLEEP_NS, deadline);
        if ((st = ready(ctx)) != RR_EMPTY)
            return st;
        if (deadline > 0 && rr__now_ns() >= deadline)
            return RR_TIMEOUT;
    }
}

/* Wait until ready() returns something other than RR_EMPTY. A deadline of 0
 * never waits (RR_EMPTY comes back as is); a negative deadline has no limit.
 * RR_WAIT_BLOCK escalates spin -> yield -> futex sleep; the others, see
 * rr__wait_unwoken. */
rr_status rr__wait(const rr_ring *ring, rr_waitq *q, rr_ready_fn ready, void *ctx,
                   int64_t deadline, _Atomic uint64_t *sleeping, const bool *poll,
                   rr_wait_strategy how)
{
    rr_status st = ready(ctx);
    if (st != RR_EMPTY || deadline == 0)
        return st;
    if (how != RR_WAIT_BLOCK)
        return rr__wait_unwoken(ready, ctx, deadline, how);
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
