/*
 * test_hotpath.c — the hot paths (add, add_batch, claim/publish, next,
 * next_batch, the block calls of block.c, and the inline add, claim and
 * publish of rusted_ring_inline.h) make no system call and allocate nothing
 * when uncontended, whatever the handles' wait strategy; and the other side
 * of a waiter that spins, yields or naps (RR_WAIT_SPIN, YIELD, SLEEP) makes
 * no futex call.
 *
 * System calls: a forked child sets up its rings, then installs a seccomp
 * filter that traps every system call but the few needed to return from the
 * trap handler and to exit, runs the hot paths in both modes and with one and
 * several producers (also in caller memory, where several producers take a
 * claim record each claim), and exits with the number of traps. The filter is the
 * proof: not a single futex, membarrier, sched_yield or clock call slips by.
 *
 * Allocations: this binary interposes malloc and friends and counts calls
 * made while the hot paths run.
 *
 * Waiters nobody wakes: a forked child runs a waiting reader (or writer) in
 * one thread and, in another thread under a seccomp filter that traps every
 * system call but sched_yield and the clock, the writer that publishes what
 * the reader waits for (or the reader that releases the slot the writer waits
 * for), each time after the waiter is well into its wait. The traps are
 * counted by system call: none for a yield, spin or sleep waiter; futex calls
 * for a blocking one, asleep when it is woken (the control that shows the
 * count would see them).
 *
 * Sanitizer builds skip both: their runtimes bring their own allocator and
 * make system calls of their own (even inside signal delivery). The claim is
 * about the release build, which `make test` runs.
 */
#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "layout.h"   /* the wait queues' waiter counts; rusted_ring_inline.h */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RR_SANITIZED 1
#else
#define RR_SANITIZED 0
#endif

#define ROUNDS 2000

/* ---- the work under test ---------------------------------------------------- */

typedef struct hot_ring {
    rr_ring   *ring;
    rr_writer *w;
    rr_reader *r;
    rr_reader *idle;  /* pollfds: a second reader that never reads, else NULL */
    void      *mem;   /* a ring in caller memory (shareable), else NULL */
} hot_ring;

static int hot_open(hot_ring *h, rr_mode mode, rr_producers prod, bool caller_memory,
                    rr_wait_strategy wait)
{
    h->idle = NULL;
    rr_config cfg = { .slot_size = 64, .capacity = 256, .mode = mode, .producers = prod };
    h->mem = NULL;
    if (caller_memory) {
        size_t len = rr_ring_footprint(&cfg);
        h->mem = aligned_alloc(64, (len + 63) / 64 * 64);
        if (!h->mem || rr_ring_format(h->mem, len, &cfg, &h->ring) != RR_OK)
            return 0;
    } else if (rr_ring_create(&cfg, &h->ring) != RR_OK) {
        return 0;
    }
    rr_writer_options wo = RR_WRITER_OPTIONS_INIT;
    rr_reader_options ro = RR_READER_OPTIONS_INIT;
    wo.wait = ro.wait = wait;
    return rr_writer_open_opts(h->ring, &wo, &h->w) == RR_OK &&
           rr_reader_open_opts(h->ring, &ro, &h->r) == RR_OK;
}


/* The block calls (block.c): rows in, blocks out (two where the ring ends),
 * a block claim through its view, and holding a block's range. */
static int hot_blocks(hot_ring *h, const unsigned char *buf)
{
    int bad = 0;
    rr_block b;
    rr_claim c;
    rr_claim_view v;
    bad += rr_writer_add_rows(h->w, buf, 0, 64, 8, NULL, NULL, 3, NULL, 0) != RR_OK;
    for (uint32_t got = 0; got < 8; got += b.count)
        if (rr_reader_next_block(h->r, 8 - got, &b, 0) != RR_OK)
            return bad + 1;
    bad += rr_writer_claim_block(h->w, 4, 4, &c, 0) != RR_OK;
    bad += rr_claim_view_get(&c, &v) != RR_OK;
    memcpy(v.data, buf, 16);
    bad += rr_writer_publish(h->w, &c) != RR_OK;
    bad += rr_reader_next_block(h->r, 4, &b, 0) != RR_OK || b.count != c.count;
    if (rr_ring_mode(h->ring) == RR_MODE_BACKPRESSURE) {
        bad += rr_reader_hold_range(h->r, b.first_sequence, b.count) != RR_OK;
        bad += rr_reader_release_range(h->r, b.first_sequence, b.count) != RR_OK;
    }
    return bad;
}

/* Every hot call, uncontended: one thread writes, then reads what it wrote.
 * Returns the number of calls that did not do what they should. */
static int hot_work(hot_ring *h)
{
    unsigned char buf[64] = { 1, 2, 3 };
    rr_payload items[8];
    rr_event evs[8];
    int bad = 0;
    for (int i = 0; i < 8; i++)
        items[i] = (rr_payload){ buf, sizeof buf, (uint32_t)i };
    for (int round = 0; round < ROUNDS; round++) {
        rr_event ev;
        size_t n = 0;
        rr_claim c;
        bad += rr_writer_add(h->w, buf, sizeof buf, 1, NULL, 0) != RR_OK;
        bad += rr_reader_next(h->r, &ev, 0) != RR_OK;
        bad += rr_writer_add_batch(h->w, items, 8, NULL, 0) != RR_OK;
        bad += rr_reader_next_batch(h->r, evs, 8, &n, 0) != RR_OK || n != 8;
        bad += rr_writer_claim(h->w, 4, 2, &c, 0) != RR_OK;
        for (uint32_t i = 0; i < 4; i++)
            memcpy(rr_claim_data(&c, i), buf, 16);
        bad += rr_writer_publish(h->w, &c) != RR_OK;
        bad += rr_reader_next_batch(h->r, evs, 8, &n, 0) != RR_OK || n != 4;
        bad += rr_writer_add_inline(h->w, buf, sizeof buf, 1, NULL, 0) != RR_OK;
        bad += rr_writer_claim_inline(h->w, 2, 2, &c, 0) != RR_OK;
        for (uint32_t i = 0; i < 2; i++)
            memcpy(rr_claim_data_inline(&c, i), buf, 16);
        bad += rr_writer_publish_inline(h->w, &c) != RR_OK;
        bad += rr_reader_next_batch(h->r, evs, 8, &n, 0) != RR_OK || n != 3;
        bad += rr_reader_next(h->r, &ev, 0) != RR_EMPTY;
        bad += rr_reader_lag(h->r) != 0;
        bad += hot_blocks(h, buf);
    }
    return bad;
}

static const struct { rr_mode mode; rr_producers prod; bool caller_memory; } hot_kinds[] = {
    { RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, false },
    { RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, false },
    { RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE, false },
    { RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI, false },
    { RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, true },
    { RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI, true },
};
#define HOT_KINDS (sizeof hot_kinds / sizeof hot_kinds[0])

static const rr_wait_strategy strategies[] = { RR_WAIT_BLOCK, RR_WAIT_YIELD, RR_WAIT_SPIN,
                                               RR_WAIT_SLEEP };
#define STRATEGIES (sizeof strategies / sizeof strategies[0])
#define HOT_RINGS  (HOT_KINDS * STRATEGIES)   /* every kind with every strategy */

static int hot_open_all(hot_ring rings[HOT_RINGS])
{
    for (size_t k = 0; k < HOT_RINGS; k++)
        if (!hot_open(&rings[k], hot_kinds[k % HOT_KINDS].mode, hot_kinds[k % HOT_KINDS].prod,
                      hot_kinds[k % HOT_KINDS].caller_memory, strategies[k / HOT_KINDS]))
            return 0;
    return 1;
}

/* Every kind again, with pollfds that nobody polls (poll.c): the writer's,
 * made with room to spare, so told at once and never armed (hot_work never
 * fills the ring); and in overwrite rings a second reader's, made once an
 * event waits, so told too, and never read again. An fd that exists but is
 * not armed costs the hot paths nothing. */
static int hot_open_pollfds(hot_ring rings[HOT_KINDS])
{
    unsigned char buf[64] = { 0 };
    int fd;
    for (size_t k = 0; k < HOT_KINDS; k++) {
        hot_ring *h = &rings[k];
        if (!hot_open(h, hot_kinds[k].mode, hot_kinds[k].prod, hot_kinds[k].caller_memory,
                      RR_WAIT_BLOCK) ||
            rr_writer_pollfd(h->w, &fd) != RR_OK)
            return 0;
        if (hot_kinds[k].mode != RR_MODE_OVERWRITE)
            continue;
        rr_event ev;
        if (rr_reader_open(h->ring, RR_START_LATEST, &h->idle) != RR_OK ||
            rr_writer_add(h->w, buf, sizeof buf, 0, NULL, 0) != RR_OK ||
            rr_reader_pollfd(h->idle, &fd) != RR_OK ||
            rr_reader_next(h->r, &ev, 0) != RR_OK)
            return 0;
    }
    return 1;
}

/* ---- system calls ---------------------------------------------------------------- */

static volatile sig_atomic_t traps;

static void on_sigsys(int sig)
{
    (void)sig;
    if (++traps > 1000)   /* something traps in a loop: stop, do not spin */
        syscall(__NR_exit_group, 97);
}

/* Trap every system call except returning from the handler and exiting. */
static int trap_all_syscalls(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
    struct sigaction sa = { .sa_handler = on_sigsys };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* Child: exit 0 when no call failed and no system call was made; 100 + bad
 * calls, or the number of traps, otherwise; 99 when seccomp is unavailable. */
static void syscall_child(void)
{
    static hot_ring rings[HOT_RINGS], polled[HOT_KINDS];
    if (!hot_open_all(rings) || !hot_open_pollfds(polled))
        _exit(98);
    for (size_t k = 0; k < HOT_RINGS; k++)   /* warm up: first touches may fault in pages */
        hot_work(&rings[k]);
    for (size_t k = 0; k < HOT_KINDS; k++)
        hot_work(&polled[k]);
    if (trap_all_syscalls() != 0)
        _exit(99);
    int bad = 0;
    for (size_t k = 0; k < HOT_RINGS; k++)
        bad += hot_work(&rings[k]);
    for (size_t k = 0; k < HOT_KINDS; k++)
        bad += hot_work(&polled[k]);
    if (bad)
        _exit(100 + (bad > 100 ? 100 : bad));
    _exit(traps > 97 ? 97 : (int)traps);
}

TEST(test_uncontended_hot_paths_make_no_system_call_under_every_wait_strategy_nor_with_pollfds_nobody_polls)
{
    if (RR_SANITIZED) {
        printf("     (sanitizer build: system calls not checked)\n");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        syscall_child();
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    int code = WEXITSTATUS(status);
    if (code == 99) {
        printf("     (seccomp unavailable here: system calls not checked)\n");
        return;
    }
    if (code >= 100)
        fprintf(stderr, "     %d hot calls did not do what they should\n", code - 100);
    else if (code > 0)
        fprintf(stderr, "     the hot paths made %d system call(s)\n", code);
    CHECK_EQ(code, 0);
}

/* ---- the other side of a waiter ------------------------------------------------------ */

#define WAIT_ROUNDS 20
#define WAIT_SETTLE 0.002   /* s: a yield or sleep waiter is past its spins by then */

/* What a child reports through a shared page. */
typedef struct wait_report {
    int futex_traps;    /* futex calls the filtered thread tried */
    int other_traps;    /* any other system call it tried */
    int bad;            /* calls that did not do what they should, rounds not finished */
    int counted;        /* rounds whose call found its waiter in the wait queue */
} wait_report;

static wait_report *report;
static volatile sig_atomic_t futex_traps, other_traps;

static void on_sigsys_by_call(int sig, siginfo_t *info, void *uctx)
{
    (void)sig; (void)uctx;
    if (info->si_syscall == __NR_futex)
        futex_traps++;
    else
        other_traps++;
    if (futex_traps + other_traps > 1000)
        syscall(__NR_exit_group, 97);
}

/* This thread only: trap every system call but returning from the handler,
 * exiting, sched_yield and reading the clock. The trapped call is not made
 * (it fails); the handler counts it by number. */
static int trap_this_thread_with(void (*handler)(int, siginfo_t *, void *))
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sched_yield, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
    struct sigaction sa = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static int trap_this_thread(void)
{
    return trap_this_thread_with(on_sigsys_by_call);
}

typedef struct wait_pair {
    hot_ring          h;
    rr_wait_strategy  wait;
    _Atomic uint64_t  waiting;   /* the waiter is in round n - 1's call */
    _Atomic uint64_t  done;      /* the waiter finished round n - 1 */
} wait_pair;

/* Until `cond` holds, yielding (allowed by the filter); 0 after 10 s. */
#define SPIN_UNTIL(cond) WAIT_UNTIL(cond, 10.0)

/* The waiting thread: a reader taking event i in round i (short timeouts,
 * retried: a blocking waiter's wake-up that the filter swallowed only delays
 * it). */
static void *reader_waits_each_round(void *arg)
{
    wait_pair *p = arg;
    for (uint64_t i = 0; i < WAIT_ROUNDS; i++) {
        rr_event ev;
        rr_status st;
        atomic_store(&p->waiting, i + 1);
        while ((st = rr_reader_next(p->h.r, &ev, MS(5))) == RR_TIMEOUT) {
        }
        if (st != RR_OK || ev.sequence != i)
            report->bad++;
        atomic_store(&p->done, i + 1);
    }
    return NULL;
}

/* The waiting thread: a writer adding event capacity + i in round i, the ring
 * full until the reader moves on. */
static void *writer_waits_each_round(void *arg)
{
    wait_pair *p = arg;
    unsigned char buf[16] = { 0 };
    for (uint64_t i = 0; i < WAIT_ROUNDS; i++) {
        rr_status st;
        uint64_t seq = 0;
        atomic_store(&p->waiting, i + 1);
        while ((st = rr_writer_add(p->h.w, buf, sizeof buf, 0, &seq, MS(5))) == RR_TIMEOUT) {
        }
        if (st != RR_OK || seq != rr_ring_capacity(p->h.ring) + i)
            report->bad++;
        atomic_store(&p->done, i + 1);
    }
    return NULL;
}

/* Wait until the waiter is well into round i's wait: asleep on its queue for
 * a blocking one, WAIT_SETTLE seconds in for the others. */
static int settled(wait_pair *p, uint64_t i, rr_waitq *q)
{
    if (!SPIN_UNTIL(atomic_load(&p->waiting) == i + 1))
        return 0;
    if (p->wait == RR_WAIT_BLOCK)
        return SPIN_UNTIL(atomic_load(&q->waiters) != 0);
    double t0 = check_now();
    SPIN_UNTIL(check_now() - t0 > WAIT_SETTLE);
    return 1;
}

/* Child: one ring of kind k, its waiter in a thread with strategy `wait`,
 * and this thread, filtered, the side that makes progress for it. */
static void wait_child(size_t k, rr_wait_strategy wait, bool writer_waits)
{
    static wait_pair p;
    p.wait = wait;
    if (!hot_open(&p.h, hot_kinds[k].mode, hot_kinds[k].prod, hot_kinds[k].caller_memory, wait))
        _exit(98);
    unsigned char buf[16] = { 0 };
    rr_event ev;
    if (writer_waits) {   /* full, and event 0 handed out: each next releases one */
        for (uint64_t s = 0; s < rr_ring_capacity(p.h.ring); s++)
            if (rr_writer_add(p.h.w, buf, sizeof buf, 0, NULL, 0) != RR_OK)
                _exit(98);
        if (rr_reader_next(p.h.r, &ev, 0) != RR_OK)
            _exit(98);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, writer_waits ? writer_waits_each_round : reader_waits_each_round,
                       &p) != 0)
        _exit(98);
    if (trap_this_thread() != 0)
        _exit(99);
    rr_waitq *q = writer_waits ? &p.h.ring->L->writable : &p.h.ring->L->readable;
    for (uint64_t i = 0; i < WAIT_ROUNDS; i++) {
        if (!settled(&p, i, q)) {
            report->bad++;
            break;
        }
        /* A round counts when the waiter was in the queue as this thread's
         * call looked: the call then bumps the futex word for its wake-up.
         * (On a loaded machine the waiter's 5 ms wait can run out between
         * a look from here and the call's own look at `waiters`: it was
         * rightly not woken, and the word shows it.) */
        bool queued = atomic_load(&q->waiters) != 0;
        uint32_t word = atomic_load(&q->futex);
        rr_status st = writer_waits ? rr_reader_next(p.h.r, &ev, 0)
                                    : rr_writer_add(p.h.w, buf, sizeof buf, 0, NULL, 0);
        report->counted += queued && atomic_load(&q->futex) != word;
        report->bad += st != RR_OK;
        if (!SPIN_UNTIL(atomic_load(&p.done) == i + 1)) {
            report->bad++;
            break;
        }
    }
    report->futex_traps = futex_traps;
    report->other_traps = other_traps;
    _exit(0);   /* no join: it would wait on a futex */
}

/* Runs wait_child for every kind (backpressure only when the writer waits)
 * and each strategy; 0, or -1 when seccomp is unavailable (the child says so). */
static int wait_children(const rr_wait_strategy *which, size_t n, bool writer_waits,
                         wait_report *sum)
{
    report = mmap(NULL, sizeof *report, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (report == MAP_FAILED)
        return -2;
    memset(sum, 0, sizeof *sum);
    int rc = 0;
    for (size_t s = 0; s < n && rc == 0; s++) {
        for (size_t k = 0; k < HOT_KINDS && rc == 0; k++) {
            if (writer_waits && hot_kinds[k].mode != RR_MODE_BACKPRESSURE)
                continue;
            memset(report, 0, sizeof *report);
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0)
                wait_child(k, which[s], writer_waits);
            int status = 0;
            if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                rc = -2;
            else if (WEXITSTATUS(status) == 99)
                rc = -1;
            else if (WEXITSTATUS(status) != 0)
                rc = -2;
            if (rc == 0 && (report->futex_traps || report->other_traps || report->bad) &&
                which[s] != RR_WAIT_BLOCK)
                fprintf(stderr, "     %s waits, %s: %d futex, %d other system calls, %d bad\n",
                        writer_waits ? "writer" : "reader", rr_wait_strategy_name(which[s]),
                        report->futex_traps, report->other_traps, report->bad);
            sum->futex_traps += report->futex_traps;
            sum->other_traps += report->other_traps;
            sum->bad += report->bad;
            sum->counted += report->counted;
        }
    }
    munmap(report, sizeof *report);
    return rc;
}

static const rr_wait_strategy unwoken[] = { RR_WAIT_YIELD, RR_WAIT_SPIN, RR_WAIT_SLEEP };

static void nobody_wakes(bool writer_waits)
{
    if (RR_SANITIZED) {
        printf("     (sanitizer build: system calls not checked)\n");
        return;
    }
    wait_report sum;
    int rc = wait_children(unwoken, 3, writer_waits, &sum);
    if (rc == -1) {
        printf("     (seccomp unavailable here: system calls not checked)\n");
        return;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(sum.bad, 0);
    CHECK_EQ(sum.counted, 0);       /* never counted in a wait queue... */
    CHECK_EQ(sum.futex_traps, 0);   /* ...so never woken */
    CHECK_EQ(sum.other_traps, 0);
}

TEST(test_a_reader_that_spins_yields_or_naps_costs_the_writer_no_futex_call)
{
    nobody_wakes(false);
}

TEST(test_a_writer_that_spins_yields_or_naps_costs_the_reader_no_futex_call)
{
    nobody_wakes(true);
}

/* The control: the same rounds with blocking waiters, each asleep when the
 * other side moves, cost that side a wake-up call per round. */
TEST(test_a_blocking_waiter_asleep_costs_the_other_side_futex_calls)
{
    if (RR_SANITIZED) {
        printf("     (sanitizer build: system calls not checked)\n");
        return;
    }
    static const rr_wait_strategy block[] = { RR_WAIT_BLOCK };
    for (int writer_waits = 0; writer_waits < 2; writer_waits++) {
        wait_report sum;
        int rc = wait_children(block, 1, writer_waits, &sum);
        if (rc == -1) {
            printf("     (seccomp unavailable here: system calls not checked)\n");
            return;
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(sum.bad, 0);
        CHECK(sum.counted > 0);
        CHECK(sum.futex_traps >= sum.counted);
    }
}

/* ---- an armed pollfd: one wake-up call per arming ----------------------------------- */

#define POLL_ROUNDS 20
#define POLL_BURST  5    /* events the writer adds each round */

typedef struct poll_report {
    int futex_traps, sendto_traps, other_traps;   /* by the filtered writer, per phase */
    int bad;
} poll_report;

static poll_report *preport;
static volatile sig_atomic_t p_futex, p_sendto, p_other;

static void on_sigsys_poll(int sig, siginfo_t *info, void *uctx)
{
    (void)sig; (void)uctx;
    if (info->si_syscall == __NR_futex)
        p_futex++;
    else if (info->si_syscall == __NR_sendto)
        p_sendto++;
    else
        p_other++;
    if (p_futex + p_sendto + p_other > 1000)
        syscall(__NR_exit_group, 97);
}

typedef struct poll_pair {
    hot_ring          h;
    int               rearm;     /* this phase, the reader reads until a call finds nothing */
    _Atomic uint64_t  ready;     /* the reader finished round n - 1's reading */
    _Atomic uint64_t  written;   /* the writer finished round n - 1's adds */
} poll_pair;

/* The reader, unfiltered: each round it takes the burst (and, when `rearm`,
 * reads once more, which finds nothing and arms its fd again: drain and
 * membarrier are its system calls, not the writer's). */
static void *poll_reader(void *arg)
{
    poll_pair *p = arg;
    for (uint64_t i = 0; i < 2 * POLL_ROUNDS; i++) {
        rr_event ev;
        if (i == POLL_ROUNDS)   /* phase 2: reads exactly the burst, never arms */
            p->rearm = 0;
        if (i > 0 && !SPIN_UNTIL(atomic_load(&p->written) == i))
            break;
        for (int e = 0; i > 0 && e < POLL_BURST; e++)
            preport->bad += rr_reader_next(p->h.r, &ev, 0) != RR_OK;
        if (p->rearm)
            preport->bad += rr_reader_next(p->h.r, &ev, 0) != RR_EMPTY;
        atomic_store(&p->ready, i + 1);
    }
    return NULL;
}

/* Child: a ring of kind k whose reader has a pollfd, read in a thread; this
 * thread, filtered, adds a burst each round. Phase 1: the reader's fd is
 * armed before each burst; phase 2: it is never armed again. */
static void poll_child(size_t k)
{
    static poll_pair p;
    unsigned char buf[16] = { 0 };
    int fd;
    p.rearm = 1;
    if (!hot_open(&p.h, hot_kinds[k].mode, hot_kinds[k].prod, hot_kinds[k].caller_memory,
                  RR_WAIT_BLOCK) ||
        rr_reader_pollfd(p.h.r, &fd) != RR_OK)
        _exit(98);
    /* warm up: the first fire makes this process's sending socket */
    rr_event ev;
    if (rr_writer_add(p.h.w, buf, sizeof buf, 0, NULL, 0) != RR_OK ||
        rr_reader_next(p.h.r, &ev, 0) != RR_OK)
        _exit(98);
    pthread_t t;
    if (pthread_create(&t, NULL, poll_reader, &p) != 0)
        _exit(98);
    if (trap_this_thread_with(on_sigsys_poll) != 0)
        _exit(99);
    rr_reader_entry *e = p.h.r->entry;
    rr_waitq *q = &p.h.ring->L->readable;
    for (uint64_t i = 0; i < 2 * POLL_ROUNDS; i++) {
        if (!SPIN_UNTIL(atomic_load(&p.ready) == i + 1)) {
            preport[i >= POLL_ROUNDS].bad++;
            break;
        }
        int armed = atomic_load(&e->poll_owner) != 0;
        preport[i >= POLL_ROUNDS].bad += armed != (i < POLL_ROUNDS);
        for (int b = 0; b < POLL_BURST; b++)
            preport[i >= POLL_ROUNDS].bad += rr_writer_add(p.h.w, buf, sizeof buf, 0, NULL, 0) != RR_OK;
        /* fired by the first add: disarmed, its count taken back */
        preport[i >= POLL_ROUNDS].bad += atomic_load(&e->poll_owner) != 0 ||
                                         atomic_load(&q->waiters) != 0;
        if (i + 1 == POLL_ROUNDS) {   /* the phase's traps */
            preport[0].futex_traps = p_futex;
            preport[0].sendto_traps = p_sendto;
            preport[0].other_traps = p_other;
        }
        atomic_store(&p.written, i + 1);
    }
    preport[1].futex_traps = p_futex - preport[0].futex_traps;
    preport[1].sendto_traps = p_sendto - preport[0].sendto_traps;
    preport[1].other_traps = p_other - preport[0].other_traps;
    _exit(0);   /* no join: it would wait on a futex */
}

/* A writer makes the wake-up call only while a pollfd is armed: one
 * datagram for the first add after the reader armed its fd -- and no futex
 * wake, since no thread sleeps -- nothing for the rest of the burst, and
 * nothing at all once the reader no longer arms it (it reads what came,
 * never a call that finds nothing). */
TEST(test_a_writer_makes_one_wake_up_call_per_arming_of_a_pollfd_and_none_while_none_is_armed)
{
    if (RR_SANITIZED) {
        printf("     (sanitizer build: system calls not checked)\n");
        return;
    }
    preport = mmap(NULL, 2 * sizeof *preport, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    CHECK(preport != MAP_FAILED);
    for (size_t k = 0; k < HOT_KINDS; k++) {
        memset(preport, 0, 2 * sizeof *preport);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
            poll_child(k);
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        if (WEXITSTATUS(status) == 99) {
            printf("     (seccomp unavailable here: system calls not checked)\n");
            break;
        }
        CHECK_EQ(WEXITSTATUS(status), 0);
        CHECK_EQ(preport[0].bad, 0);
        CHECK_EQ(preport[1].bad, 0);
        CHECK_EQ(preport[0].futex_traps, 0);
        CHECK_EQ(preport[0].sendto_traps, POLL_ROUNDS);
        CHECK_EQ(preport[0].other_traps, 0);
        CHECK_EQ(preport[1].futex_traps, 0);
        CHECK_EQ(preport[1].sendto_traps, 0);
        CHECK_EQ(preport[1].other_traps, 0);
    }
    munmap(preport, 2 * sizeof *preport);
}

/* ---- allocations ------------------------------------------------------------------- */

#if !RR_SANITIZED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;

static void hot_close(hot_ring *h)
{
    rr_reader_close(h->idle);
    rr_reader_close(h->r);
    rr_writer_close(h->w);
    rr_ring_destroy(h->ring);
    free(h->mem);
}

void *malloc(size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_memalign(align, n);
}
#endif

TEST(test_hot_paths_do_not_allocate_under_every_wait_strategy)
{
#if !RR_SANITIZED
    static hot_ring rings[HOT_RINGS];
    CHECK(hot_open_all(rings));
    long before = atomic_load(&allocations);
    int bad = 0;
    for (size_t k = 0; k < HOT_RINGS; k++)
        bad += hot_work(&rings[k]);
    long during = atomic_load(&allocations) - before;
    for (size_t k = 0; k < HOT_RINGS; k++)
        hot_close(&rings[k]);
    CHECK_EQ(bad, 0);
    CHECK_EQ(during, 0);
    /* The counter itself works: opening a ring allocates. */
    hot_ring h;
    CHECK(hot_open(&h, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, false, RR_WAIT_BLOCK));
    CHECK(atomic_load(&allocations) > before);
    hot_close(&h);
#else
    printf("     (sanitizer build: allocations not counted)\n");
#endif
}

int main(void)
{
    alarm(600);
    RUN(test_uncontended_hot_paths_make_no_system_call_under_every_wait_strategy_nor_with_pollfds_nobody_polls);
    RUN(test_hot_paths_do_not_allocate_under_every_wait_strategy);
    RUN(test_a_reader_that_spins_yields_or_naps_costs_the_writer_no_futex_call);
    RUN(test_a_writer_that_spins_yields_or_naps_costs_the_reader_no_futex_call);
    RUN(test_a_blocking_waiter_asleep_costs_the_other_side_futex_calls);
    RUN(test_a_writer_makes_one_wake_up_call_per_arming_of_a_pollfd_and_none_while_none_is_armed);
    return check_report();
}
