/*
 * test_dead_claims.c — claims of multi-producer processes that die, stop, or
 * run on (claims.c), one situation at a time.
 *
 * A producer process killed while it holds a claim costs exactly that claim:
 * readers pass over it (counted in `skipped`) within a bounded time, and the
 * ring counts it in `claims_recovered`. A producer killed asleep on a full ring
 * leaves no waiter count behind. A producer that is alive but stopped keeps
 * its claim however long it takes. A dead process holding every claim record
 * does not stop anyone claiming. Children meet the test only through the
 * shared segment and a shared page of flags; every wait has a deadline.
 * The tests whose handles open with check_reader_open / check_writer_open
 * run under every wait strategy (RR_TEST_WAIT, check.h; `make test-c`):
 * a waiter that never sleeps finds dead producers as a sleeping one does.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "procs.h"
#include "layout.h"   /* the claim records and wait queues the tests look at */

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define MP RR_PRODUCERS_MULTI

/* Flags shared with the children (a MAP_SHARED page made before they fork). */
typedef struct flags {
    _Atomic uint32_t claimed;   /* the child holds its claim */
    _Atomic uint32_t go;        /* the child may publish */
    _Atomic uint64_t first;     /* the child's claim's first sequence */
} flags;

static flags *fl;

/* After every test: no child left, and the shared flags cleared. */
static void reset_test(void)
{
    reap_children();
    memset(fl, 0, sizeof *fl);
}

static rr_status add_seq(rr_writer *w, uint64_t seq, int64_t timeout)
{
    unsigned char buf[64];
    payload_fill(buf, sizeof buf, seq, 7);
    return rr_writer_add(w, buf, sizeof buf, 1, NULL, timeout);
}

static uint32_t records_held(rr_ring *ring)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
        n += atomic_load(&ring->claims[i].owner) != 0;
    return n;
}

static char proc_state(pid_t pid)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    fclose(f);
    char *p = strrchr(buf, ')');
    return p && p[1] ? p[2] : 0;
}

/* Child: open `name`, claim `n` events (type 1), fill them with sequences
 * 1000 + i, say so, and publish once told to (never, unless told). */
static void claim_and_hold(const char *name, uint32_t n)
{
    rr_ring *ring;
    rr_writer *w;
    rr_claim c;
    if (rr_shm_open(name, &ring) != RR_OK || rr_writer_open(ring, &w) != RR_OK ||
        rr_writer_claim(w, n, 1, &c, 0) != RR_OK)
        _exit(2);
    for (uint32_t i = 0; i < n; i++) {
        payload_fill(rr_claim_data(&c, i), 64, 1000 + i, 7);
        rr_claim_set(&c, i, 64, 1);
    }
    atomic_store(&fl->first, c.sequence);
    atomic_store(&fl->claimed, 1);
    while (!atomic_load(&fl->go))
        sched_yield();
    _exit(rr_writer_publish(w, &c) == RR_OK ? 0 : 3);
}

/* ---- a producer killed holding a claim ------------------------------------------- */

static void killed_claim_is_skipped(rr_mode mode)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = mode, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK(ring->claims != NULL);
    CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(check_writer_open(ring, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);                       /* sequence 0 */
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0)
        claim_and_hold(name, 3);                             /* sequences 1 .. 3 */
    CHECK(WAIT_UNTIL(atomic_load(&fl->claimed), 10.0));
    CHECK_EQ(atomic_load(&fl->first), 1);
    CHECK_EQ(records_held(ring), 1);
    CHECK_ST(add_seq(w, 4, 0), RR_OK);                       /* sequence 4 */
    rr_event ev;
    uint64_t seq;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(rr_reader_next(r, &ev, MS(300)), RR_TIMEOUT);   /* alive: its claim stands */
    CHECK(kill(pid, SIGKILL) == 0);   /* left unreaped: a zombie is dead too */
    double t0 = check_now();
    CHECK_ST(rr_reader_next(r, &ev, SEC(10)), RR_OK);
    double took = check_now() - t0;
    CHECK(took < 3.0);
    CHECK_EQ(ev.sequence, 4);
    CHECK(payload_ok(ev.data, ev.len, 7, &seq));
    CHECK_EQ(seq, 4);
    CHECK_EQ(rr_reader_skipped(r), 3);
    CHECK_EQ(rr_reader_delivered(r) + rr_reader_skipped(r) + rr_reader_lost(r),
             rr_reader_cursor(r));
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.claims_recovered, 3);
    CHECK_EQ(st.abandoned, 3);
    CHECK_EQ(st.published, 2);
    CHECK_EQ(st.readers[0].skipped, 3);
    CHECK_EQ(records_held(ring), 0);
    /* the ring goes on: sequences go on after the recovered ones */
    uint64_t at = 0;
    unsigned char buf[64];
    payload_fill(buf, sizeof buf, 5, 7);
    CHECK_ST(rr_writer_add(w, buf, sizeof buf, 1, &at, 0), RR_OK);
    CHECK_EQ(at, 5);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 5);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

TEST(test_a_killed_producers_claim_is_skipped_by_readers_backpressure)
{
    killed_claim_is_skipped(BP);
}

TEST(test_a_killed_producers_claim_is_skipped_by_readers_overwrite)
{
    killed_claim_is_skipped(OW);
}

/* ---- a producer killed asleep --------------------------------------------------- */

/* A producer process killed while it sleeps waiting for room leaves no waiter
 * count: publishing and releasing go back to making no wake-up call. */
TEST(test_a_producer_killed_asleep_on_a_full_ring_leaves_no_waiter_behind)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 4, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);   /* gates the child */
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_writer *cw;
        if (rr_shm_open(name, &mine) != RR_OK || rr_writer_open(mine, &cw) != RR_OK)
            _exit(2);
        for (uint64_t i = 0; i < 4; i++)
            if (add_seq(cw, i, 0) != RR_OK)
                _exit(3);
        add_seq(cw, 4, RR_FOREVER);   /* the ring is full: sleeps */
        _exit(4);
    }
    CHECK(WAIT_UNTIL(({
        bool asleep = false;
        for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
            asleep |= atomic_load(&ring->claims[i].sleeping) != 0;
        asleep && atomic_load(&ring->L->writable.waiters) == 1;
    }), 10.0));
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 1);   /* the dead sleeper's count */
    CHECK_EQ(records_held(ring), 1);
    /* Reading releases slots, and with a waiter counted every release makes a
     * wake-up call; the caller finds the sleeper dead, takes its count back
     * and frees its record. */
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    rr_event ev;
    uint64_t i = 4;
    CHECK(WAIT_UNTIL(({
        if (add_seq(w, i, 0) == RR_OK)
            i++;
        rr_reader_next(r, &ev, 0);
        atomic_load(&ring->L->writable.waiters) == 0 && records_held(ring) == 0;
    }), 10.0));
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.claims_recovered, 0);   /* it held no claim while it waited */
    CHECK_EQ(rr_reader_skipped(r), 0);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* ---- producers that live ---------------------------------------------------------- */

/* A producer stopped (SIGSTOP) far longer than the liveness interval is alive:
 * readers wait for its claim, and get its events once it goes on. */
TEST(test_a_stopped_producers_claim_is_waited_for)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(check_writer_open(ring, &w), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0)
        claim_and_hold(name, 2);                             /* sequences 0, 1 */
    CHECK(WAIT_UNTIL(atomic_load(&fl->claimed), 10.0));
    CHECK(kill(pid, SIGSTOP) == 0);
    CHECK(WAIT_UNTIL(proc_state(pid) == 'T', 10.0));
    CHECK_ST(add_seq(w, 2, 0), RR_OK);                       /* sequence 2, behind it */
    rr_event ev;
    /* five liveness intervals, each one a look at the claim records */
    CHECK_ST(rr_reader_next(r, &ev, 5 * RR_SHM_LIVENESS_NS), RR_TIMEOUT);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.claims_recovered, 0);
    CHECK_EQ(rr_reader_skipped(r), 0);
    CHECK_EQ(rr_reader_cursor(r), 0);
    atomic_store(&fl->go, 1);
    CHECK(kill(pid, SIGCONT) == 0);
    uint64_t seq;
    for (uint64_t i = 0; i < 3; i++) {
        CHECK_ST(rr_reader_next(r, &ev, SEC(10)), RR_OK);
        CHECK_EQ(ev.sequence, i);
        CHECK(payload_ok(ev.data, ev.len, 7, &seq));
        CHECK_EQ(seq, i < 2 ? 1000 + i : 2);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(rr_reader_skipped(r), 0);
    CHECK_EQ(records_held(ring), 0);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A process that calls exec() keeps its process id and start time, so a
 * claim it held is a live process's claim until the new program exits
 * (rusted_ring.h says so); then it is skipped like any dead producer's. */
TEST(test_a_producers_claim_stands_across_exec_until_the_program_exits)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(check_writer_open(ring, &w), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_writer *cw;
        rr_claim c;
        if (rr_shm_open(name, &mine) != RR_OK || rr_writer_open(mine, &cw) != RR_OK ||
            rr_writer_claim(cw, 1, 1, &c, 0) != RR_OK)
            _exit(2);
        atomic_store(&fl->claimed, 1);
        execl("/bin/sleep", "sleep", "60", (char *)NULL);
        execlp("sleep", "sleep", "60", (char *)NULL);
        _exit(3);
    }
    CHECK(WAIT_UNTIL(atomic_load(&fl->claimed), 10.0));
    CHECK(WAIT_UNTIL(proc_state(pid) == 'S', 10.0));   /* sleeping in the new program */
    CHECK_ST(add_seq(w, 1, 0), RR_OK);                       /* sequence 1, behind it */
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 3 * RR_SHM_LIVENESS_NS), RR_TIMEOUT);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.claims_recovered, 0);
    CHECK_EQ(records_held(ring), 1);
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK_ST(rr_reader_next(r, &ev, SEC(10)), RR_OK);
    CHECK_EQ(ev.sequence, 1);
    CHECK_EQ(rr_reader_skipped(r), 1);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* The claims of this very process are never taken, however long they stay
 * open, and a reader waiting behind one looks at the records all the while. */
TEST(test_an_open_claim_of_a_live_process_is_never_abandoned)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = OW, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(check_writer_open(ring, &w), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 2, 1, &c, 0), RR_OK);
    CHECK_ST(add_seq(w, 2, 0), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 3 * RR_SHM_LIVENESS_NS), RR_TIMEOUT);
    for (uint32_t i = 0; i < 2; i++) {
        payload_fill(rr_claim_data(&c, i), 64, i, 7);
        CHECK_ST(rr_claim_set(&c, i, 64, 1), RR_OK);
    }
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    for (uint64_t i = 0; i < 3; i++) {
        uint64_t seq;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK(payload_ok(ev.data, ev.len, 7, &seq));
        CHECK_EQ(seq, i);
    }
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.claims_recovered, 0);
    CHECK_EQ(records_held(ring), 0);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* ---- threads cancelled in the middle ------------------------------------------------ */

/* A thread of this process that calls into the ring with a cancellation
 * request already pending (pthread_cancel), so the request acts at the first
 * cancellation point the call reaches: the look at a process in /proc that
 * a recovery or an eviction makes, holding shared state. */
typedef struct cancelled_call {
    rr_reader       *r;        /* reads one event, or */
    rr_writer       *w;        /* adds event `seq` */
    uint64_t         seq;
    rr_event         ev;
    rr_status        st;
    _Atomic uint32_t started;
    _Atomic uint32_t cancelled;   /* pthread_cancel has been called */
    _Atomic uint32_t returned;    /* the call came back */
    _Atomic uint32_t ended;       /* the thread is ending (cancelled, in any case) */
} cancelled_call;

static void call_ended(void *arg)
{
    atomic_store(&((cancelled_call *)arg)->ended, 1);
}

static void *cancelled_call_thread(void *arg)
{
    cancelled_call *c = arg;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_cleanup_push(call_ended, c);
    atomic_store(&c->started, 1);
    while (!atomic_load(&c->cancelled))
        sched_yield();
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);   /* pending from here */
    c->st = c->r ? rr_reader_next(c->r, &c->ev, SEC(20)) : add_seq(c->w, c->seq, SEC(20));
    atomic_store(&c->returned, 1);
    pthread_testcancel();   /* the request acts here, after the call */
    pthread_cleanup_pop(1);
    return NULL;
}

/* Start the thread, cancel it, let it call, and wait until it has ended. */
static bool run_cancelled_call(cancelled_call *c)
{
    pthread_t t;
    if (pthread_create(&t, NULL, cancelled_call_thread, c) != 0)
        return false;
    bool ok = WAIT_UNTIL(atomic_load(&c->started), 10.0) && pthread_cancel(t) == 0;
    atomic_store(&c->cancelled, 1);
    ok = ok && WAIT_UNTIL(atomic_load(&c->ended), 30.0);
    void *result = NULL;
    if (ok)
        ok = pthread_join(t, &result) == 0 && result == PTHREAD_CANCELED;
    return ok;
}

/* A reader thread cancelled while it recovers a dead producer's claim
 * finishes the recovery (it runs with cancellation off): the recovery word
 * is given back, and every other reader gets past the dead claim. Were the
 * thread cancelled in the middle, its live process would keep the recovery
 * word, and no recovery could run until it exits. */
TEST(test_a_reader_cancelled_while_it_recovers_leaves_no_recovery_held)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *finder, *other;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &finder), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &other), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);                       /* sequence 0 */
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0)
        claim_and_hold(name, 2);                             /* sequences 1, 2 */
    CHECK(WAIT_UNTIL(atomic_load(&fl->claimed), 10.0));
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_ST(add_seq(w, 3, 0), RR_OK);                       /* sequence 3 */
    rr_event ev;
    CHECK_ST(rr_reader_next(finder, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(rr_reader_next(other, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    /* the finder's first look behind the dead claim is the ring's first
     * recovery: it takes the recovery word, then asks /proc about the child */
    static cancelled_call c;
    memset(&c, 0, sizeof c);
    c.r = finder;
    CHECK(run_cancelled_call(&c));
    double t0 = check_now();
    CHECK_ST(rr_reader_next(other, &ev, SEC(10)), RR_OK);
    CHECK(check_now() - t0 < 5.0);
    CHECK_EQ(ev.sequence, 3);
    CHECK_EQ(rr_reader_skipped(other), 2);
    CHECK_EQ(atomic_load(&ring->L->recovery.owner), 0);
    CHECK(atomic_load(&c.returned));   /* the cancelled call itself came back with it */
    CHECK_ST(c.st, RR_OK);
    CHECK_EQ(c.ev.sequence, 3);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.claims_recovered, 2);
    CHECK_EQ(records_held(ring), 0);
    rr_writer_close(w);
    rr_reader_close(other);
    rr_reader_close(finder);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A producer thread cancelled while it waits for room keeps waiting (its
 * looks at other processes' readers run with cancellation off), publishes
 * once room comes, and gives its claim record back: were it cancelled in
 * the middle, its live process would keep the record, and its waiter count
 * and sleeper word, until it exits. */
TEST(test_a_producer_cancelled_while_it_waits_for_room_keeps_no_claim_record)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 4, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {   /* a reader in another process that reads nothing: it gates */
        rr_ring *mine;
        rr_reader *cr;
        if (rr_shm_open(name, &mine) != RR_OK ||
            rr_reader_open(mine, RR_START_OLDEST, &cr) != RR_OK)
            _exit(2);
        atomic_store(&fl->claimed, 1);
        for (;;)
            pause();
    }
    CHECK(WAIT_UNTIL(atomic_load(&fl->claimed), 10.0));
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_ST(add_seq(w, i, 0), RR_OK);
    CHECK_ST(add_seq(w, 4, 0), RR_FULL);
    /* the thread's wait looks at the child's reader (a /proc read) at once;
     * only once the child is dead does that look make room */
    static cancelled_call c;
    memset(&c, 0, sizeof c);
    c.w = w;
    c.seq = 4;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, cancelled_call_thread, &c) == 0);
    CHECK(WAIT_UNTIL(atomic_load(&c.started), 10.0));
    CHECK(pthread_cancel(t) == 0);
    atomic_store(&c.cancelled, 1);
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == 1 ||
                     atomic_load(&c.ended), 10.0));
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WAIT_UNTIL(atomic_load(&c.ended), 30.0));
    void *result = NULL;
    CHECK(pthread_join(t, &result) == 0);
    CHECK(result == PTHREAD_CANCELED);
    CHECK(atomic_load(&c.returned));
    CHECK_ST(c.st, RR_OK);
    CHECK_EQ(records_held(ring), 0);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
        CHECK_EQ(atomic_load(&ring->claims[i].sleeping), 0);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.published, 5);
    CHECK_EQ(st.readers_evicted, 1);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* ---- readers that wait for nothing ------------------------------------------------- */

/* Times the calling thread went to sleep (blocked) so far. A yield is no
 * such switch: only a sleep counts. */
static long sleeps_so_far(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : -1;
}

static void *read_one_thread(void *arg)
{
    cancelled_call *c = arg;
    c->st = rr_reader_next(c->r, &c->ev, SEC(20));
    atomic_store(&c->returned, 1);
    return NULL;
}

/* A reader of a shared multi-producer ring that waits with nothing claimed
 * sleeps until woken: it wakes every liveness interval only while it waits
 * behind an open claim (whose producer may die). Then it is woken by the
 * first event, and still gets past a dead claim it finds itself behind. */
TEST(test_an_idle_reader_of_a_shared_multi_producer_ring_sleeps_until_woken)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK(ring->claims != NULL);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    rr_event ev;
    long before = sleeps_so_far();
    CHECK(before >= 0);
    /* ten liveness intervals with nothing claimed: one sleep, give or take */
    CHECK_ST(rr_reader_next(r, &ev, 10 * RR_SHM_LIVENESS_NS), RR_TIMEOUT);
    long slept = sleeps_so_far() - before;
    CHECK(slept <= 3);
    /* behind an open claim of this (live) process it looks every interval */
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 1, &c, 0), RR_OK);
    before = sleeps_so_far();
    CHECK_ST(rr_reader_next(r, &ev, 10 * RR_SHM_LIVENESS_NS), RR_TIMEOUT);
    slept = sleeps_so_far() - before;
    CHECK(slept >= 3);
    payload_fill(rr_claim_data(&c, 0), 64, 0, 7);
    CHECK_ST(rr_claim_set(&c, 0, 64, 1), RR_OK);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    /* asleep with nothing claimed, then a producer claims, dies, and another
     * publishes after it: the reader is woken and gets past the dead claim */
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        while (atomic_load(&ring->L->readable.waiters) == 0)   /* the reader sleeps */
            sched_yield();
        claim_and_hold(name, 2);                             /* sequences 1, 2 */
    }
    static cancelled_call reading;   /* not cancelled: a thread that reads one event */
    memset(&reading, 0, sizeof reading);
    reading.r = r;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, read_one_thread, &reading) == 0);
    CHECK(WAIT_UNTIL(atomic_load(&fl->claimed), 10.0));
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_ST(add_seq(w, 3, 0), RR_OK);                       /* sequence 3 */
    CHECK(WAIT_UNTIL(atomic_load(&reading.returned), 10.0));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_ST(reading.st, RR_OK);
    CHECK_EQ(reading.ev.sequence, 3);
    CHECK_EQ(rr_reader_skipped(r), 2);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* ---- claim records ------------------------------------------------------------------ */

/* A thread of this process that adds event `seq` (a claim and a publish),
 * waiting up to 20 s for a record and for room. */
static void *add_one_thread(void *arg)
{
    cancelled_call *c = arg;
    atomic_store(&c->started, 1);
    c->st = add_seq(c->w, c->seq, SEC(20));
    atomic_store(&c->returned, 1);
    return NULL;
}

static uint32_t sleeper_words_held(rr_ring *ring)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
        n += atomic_load(&ring->claims[i].sleeping) != 0;
    return n;
}

/* Live claims hold every record: a further claim sleeps (a handful of
 * wake-ups a second, to look for records of dead producers), counted as a
 * waiter on `writable`, and the first record given up wakes it. */
TEST(test_a_producer_waiting_for_a_claim_record_sleeps_until_one_is_given_up)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 1024, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    static rr_claim held[RR_MAX_CLAIMS];
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++) {
        CHECK_ST(rr_writer_claim(w, 1, 1, &held[i], 0), RR_OK);
        CHECK_EQ(held[i].sequence, i);
        payload_fill(rr_claim_data(&held[i], 0), 64, i, 7);
        CHECK_ST(rr_claim_set(&held[i], 0, 64, 1), RR_OK);
    }
    rr_claim extra;
    long before = sleeps_so_far();
    CHECK(before >= 0);
    CHECK_ST(rr_writer_claim(w, 1, 1, &extra, SEC(1)), RR_TIMEOUT);
    CHECK(strstr(rr_last_error(), "claim records") != NULL);
    long slept = sleeps_so_far() - before;
    CHECK(slept < 100);   /* about ten: one a liveness interval */
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    CHECK_EQ(sleeper_words_held(ring), 0);
    static cancelled_call adding;   /* not cancelled: a thread that adds one event */
    memset(&adding, 0, sizeof adding);
    adding.w = w;
    adding.seq = RR_MAX_CLAIMS;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, add_one_thread, &adding) == 0);
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == 1 &&
                     sleeper_words_held(ring) == 1, 10.0));
    CHECK(!atomic_load(&adding.returned));
    CHECK_ST(rr_writer_publish(w, &held[0]), RR_OK);   /* gives a record up */
    CHECK(WAIT_UNTIL(atomic_load(&adding.returned), 10.0));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_ST(adding.st, RR_OK);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    CHECK_EQ(sleeper_words_held(ring), 0);
    for (uint32_t i = 1; i < RR_MAX_CLAIMS; i++)
        CHECK_ST(rr_writer_publish(w, &held[i]), RR_OK);
    rr_event ev;
    for (uint64_t i = 0; i <= RR_MAX_CLAIMS; i++) {
        uint64_t seq;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, i);
        CHECK(payload_ok(ev.data, ev.len, 7, &seq));
        CHECK_EQ(seq, i);
    }
    CHECK_EQ(records_held(ring), 0);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A thread of this process that claims `seq` events (there is no room for
 * them) with a 3 s timeout. */
static void *claim_no_room_thread(void *arg)
{
    cancelled_call *c = arg;
    rr_claim claim;
    atomic_store(&c->started, 1);
    c->st = rr_writer_claim(c->w, (uint32_t)c->seq, 1, &claim, SEC(3));
    atomic_store(&c->returned, 1);
    return NULL;
}

/* A producer whose wait for room fails gives its record up, and wakes a
 * producer asleep waiting for one (the wake-up bumps the futex word, and
 * nothing else here wakes anybody). */
TEST(test_a_record_given_up_after_a_failed_wait_for_room_wakes_a_producer_waiting_for_one)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = RR_MAX_CLAIMS, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);   /* gates at 0 */
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    static rr_claim held[RR_MAX_CLAIMS - 1];
    for (uint32_t i = 0; i < RR_MAX_CLAIMS - 1; i++) {
        CHECK_ST(rr_writer_claim(w, 1, 1, &held[i], 0), RR_OK);
        payload_fill(rr_claim_data(&held[i], 0), 64, i, 7);
        CHECK_ST(rr_claim_set(&held[i], 0, 64, 1), RR_OK);
    }
    static cancelled_call waiting_room, waiting_record;
    memset(&waiting_room, 0, sizeof waiting_room);
    memset(&waiting_record, 0, sizeof waiting_record);
    waiting_room.w = w;
    waiting_room.seq = 2;   /* events: one slot is left */
    pthread_t room_thread, record_thread;
    CHECK(pthread_create(&room_thread, NULL, claim_no_room_thread, &waiting_room) == 0);
    CHECK(WAIT_UNTIL(records_held(ring) == RR_MAX_CLAIMS &&
                     atomic_load(&ring->L->writable.waiters) == 1, 10.0));
    waiting_record.w = w;
    waiting_record.seq = RR_MAX_CLAIMS - 1;
    CHECK(pthread_create(&record_thread, NULL, add_one_thread, &waiting_record) == 0);
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == 2, 10.0));
    uint32_t futex = atomic_load(&ring->L->writable.futex);
    CHECK(!atomic_load(&waiting_room.returned));   /* both asleep before its timeout */
    CHECK(WAIT_UNTIL(atomic_load(&waiting_room.returned), 10.0));
    CHECK(pthread_join(room_thread, NULL) == 0);
    CHECK_ST(waiting_room.st, RR_TIMEOUT);
    CHECK(atomic_load(&ring->L->writable.futex) != futex);   /* woken at the give-up */
    CHECK(WAIT_UNTIL(atomic_load(&waiting_record.returned), 10.0));
    CHECK(pthread_join(record_thread, NULL) == 0);
    CHECK_ST(waiting_record.st, RR_OK);
    for (uint32_t i = 0; i < RR_MAX_CLAIMS - 1; i++)
        CHECK_ST(rr_writer_publish(w, &held[i]), RR_OK);
    rr_event ev;
    for (uint64_t i = 0; i < RR_MAX_CLAIMS; i++) {
        uint64_t seq;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, i);
        CHECK(payload_ok(ev.data, ev.len, 7, &seq));
        CHECK_EQ(seq, i);
    }
    CHECK_EQ(records_held(ring), 0);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    CHECK_EQ(sleeper_words_held(ring), 0);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* More producers asleep than there are records (and so sleeper words):
 * the ones without a word sleep uncounted, looking every interval, and every
 * one of them gets a record in the end; no waiter count is left behind. */
TEST(test_more_producers_asleep_than_claim_records_all_get_one)
{
    enum { N = RR_MAX_CLAIMS + 2 };
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 1024, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    static rr_claim held[RR_MAX_CLAIMS];
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++) {
        CHECK_ST(rr_writer_claim(w, 1, 1, &held[i], 0), RR_OK);
        payload_fill(rr_claim_data(&held[i], 0), 64, i, 7);
        CHECK_ST(rr_claim_set(&held[i], 0, 64, 1), RR_OK);
    }
    static cancelled_call adding[N];
    static pthread_t threads[N];
    memset(adding, 0, sizeof adding);
    for (uint32_t i = 0; i < N; i++) {
        adding[i].w = w;
        adding[i].seq = 1000 + i;   /* payloads say which thread added them */
        CHECK(pthread_create(&threads[i], NULL, add_one_thread, &adding[i]) == 0);
    }
    CHECK(WAIT_UNTIL(sleeper_words_held(ring) == RR_MAX_CLAIMS, 20.0));
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == RR_MAX_CLAIMS, 20.0));
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
        CHECK_ST(rr_writer_publish(w, &held[i]), RR_OK);
    for (uint32_t i = 0; i < N; i++) {
        CHECK(WAIT_UNTIL(atomic_load(&adding[i].returned), 20.0));
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK_ST(adding[i].st, RR_OK);
    }
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    CHECK_EQ(sleeper_words_held(ring), 0);
    CHECK_EQ(records_held(ring), 0);
    /* every event once: the held claims' in order, then one per thread */
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    rr_event ev;
    for (uint64_t i = 0; i < RR_MAX_CLAIMS + N; i++) {
        uint64_t seq;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.sequence, i);
        CHECK(payload_ok(ev.data, ev.len, 7, &seq));
        if (i < RR_MAX_CLAIMS) {
            CHECK_EQ(seq, i);
        } else {
            CHECK(seq >= 1000 && seq < 1000 + N && !seen[seq - 1000]);
            seen[seq - 1000] = true;
        }
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A process holding a claim in every record cannot claim more (RR_FULL, which
 * says why); once it is dead, a new claim waits for its records to be taken
 * back, and readers skip all of its claims. */
TEST(test_a_dead_process_holding_every_claim_record_does_not_stop_claims)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 128, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_reader *r;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_writer *cw;
        rr_claim c;
        if (rr_shm_open(name, &mine) != RR_OK || check_writer_open(mine, &cw) != RR_OK)
            _exit(2);
        for (int i = 0; i < RR_MAX_CLAIMS; i++)
            if (rr_writer_claim(cw, 1, 1, &c, 0) != RR_OK)
                _exit(3);
        if (rr_writer_claim(cw, 1, 1, &c, 0) != RR_FULL ||
            !strstr(rr_last_error(), "claim records"))
            _exit(4);
        if (rr_writer_claim(cw, 1, 1, &c, MS(50)) != RR_TIMEOUT)
            _exit(5);
        _exit(0);   /* exits holding them all */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(records_held(ring), RR_MAX_CLAIMS);
    rr_writer *w;
    CHECK_ST(check_writer_open(ring, &w), RR_OK);
    uint64_t at = 0;
    unsigned char buf[64];
    payload_fill(buf, sizeof buf, 64, 7);
    CHECK_ST(rr_writer_add(w, buf, sizeof buf, 1, &at, SEC(10)), RR_OK);
    CHECK_EQ(at, RR_MAX_CLAIMS);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, SEC(10)), RR_OK);
    CHECK_EQ(ev.sequence, RR_MAX_CLAIMS);
    CHECK_EQ(rr_reader_skipped(r), RR_MAX_CLAIMS);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.claims_recovered, RR_MAX_CLAIMS);
    CHECK_EQ(records_held(ring), 0);
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A claim record names the process that claims: a child cannot claim
 * through a writer handle inherited by fork() (RR_FORKED), so no record ever
 * names a parent for a child's claim, and the parent's death could never cost
 * the child a live claim. The child's own handle claims in its own name. */
TEST(test_a_claim_record_names_the_process_that_claims)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_writer *w;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 1, &c, 0), RR_OK);   /* the parent's own claim */
    uint64_t parent = atomic_load(&ring->claims[c._rec - 1].owner);
    CHECK(parent != 0 && (uint32_t)parent == (uint32_t)getpid());
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_claim inherited, mine;
        rr_writer *own;
        if (rr_writer_claim(w, 1, 1, &inherited, 0) != RR_FORKED || records_held(ring) != 1)
            _exit(2);
        if (rr_writer_open(ring, &own) != RR_OK || rr_writer_claim(own, 1, 1, &mine, 0) != RR_OK)
            _exit(3);
        uint64_t owner = atomic_load(&ring->claims[mine._rec - 1].owner);
        _exit(owner != parent && (uint32_t)owner == (uint32_t)getpid() ? 0 : 4);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* An in-process ring has no claim records: nothing about a claim changes. */
TEST(test_a_private_ring_keeps_no_claim_records)
{
    rr_config cfg = { .slot_size = 64, .capacity = 16, .mode = BP, .producers = MP };
    rr_ring *ring;
    rr_writer *w;
    CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
    CHECK(ring->claims == NULL);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 2, 1, &c, 0), RR_OK);
    CHECK_EQ(c._rec, 0);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

int main(void)
{
    alarm(300);   /* a hang fails the suite instead of stalling CI */
    fl = mmap(NULL, sizeof *fl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (fl == MAP_FAILED)
        return 2;
    /* Under every wait strategy (RR_TEST_WAIT, check.h): readers and writers
     * that wait behind a dead producer's claim, or a live one's. */
    RUN(test_a_killed_producers_claim_is_skipped_by_readers_backpressure);
    reset_test();
    RUN(test_a_killed_producers_claim_is_skipped_by_readers_overwrite);
    reset_test();
    RUN(test_a_stopped_producers_claim_is_waited_for);
    reset_test();
    RUN(test_a_producers_claim_stands_across_exec_until_the_program_exits);
    reset_test();
    RUN(test_an_open_claim_of_a_live_process_is_never_abandoned);
    reset_test();
    RUN(test_a_dead_process_holding_every_claim_record_does_not_stop_claims);
    reset_test();
    if (check_wait() != RR_WAIT_BLOCK)
        return check_report();
    /* The rest are about sleeping waiters (RR_WAIT_BLOCK) or no wait at all. */
    RUN(test_a_producer_killed_asleep_on_a_full_ring_leaves_no_waiter_behind);
    reset_test();
    RUN(test_a_reader_cancelled_while_it_recovers_leaves_no_recovery_held);
    reset_test();
    RUN(test_a_producer_cancelled_while_it_waits_for_room_keeps_no_claim_record);
    reset_test();
    RUN(test_an_idle_reader_of_a_shared_multi_producer_ring_sleeps_until_woken);
    reset_test();
    RUN(test_a_producer_waiting_for_a_claim_record_sleeps_until_one_is_given_up);
    reset_test();
    RUN(test_a_record_given_up_after_a_failed_wait_for_room_wakes_a_producer_waiting_for_one);
    reset_test();
    RUN(test_more_producers_asleep_than_claim_records_all_get_one);
    reset_test();
    RUN(test_a_claim_record_names_the_process_that_claims);
    reset_test();
    RUN(test_a_private_ring_keeps_no_claim_records);
    reset_test();
    return check_report();
}
