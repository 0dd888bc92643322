/*
 * test_blocking.c — blocking reads and writes across threads.
 *
 * Every wake-up is proven, never assumed from a sleep: the waiting thread
 * raises an atomic flag just before it calls into the ring, the other thread
 * waits for the flag and a settle time (so the waiter is really asleep) and
 * only then publishes, releases or closes. Waits use timeouts of several
 * seconds, and the wake must come well before them. The same holds between
 * two processes sharing one ring block (shared futexes, global barriers).
 *
 * Every reader and writer here opens with the wait strategy under test
 * (RR_TEST_WAIT, check.h), and `make test-c` runs the whole file under each:
 * a waiter that spins, yields or naps must be as prompt to see an event, a
 * released slot or the close as one that sleeps until woken, and time out
 * as exactly.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define SP RR_PRODUCERS_SINGLE
#define MP RR_PRODUCERS_MULTI

#define SETTLE 0.05   /* seconds a waiter is left alone before it is woken */
#define PROMPT 2.0    /* a wake must arrive within this many seconds */

/* ---- helpers ---------------------------------------------------------------------- */

static rr_ring *ring_new(size_t slot, uint64_t cap, rr_mode mode, rr_producers prod)
{
    rr_config c = { .slot_size = slot, .capacity = cap, .mode = mode, .producers = prod };
    rr_ring *ring = NULL;
    return rr_ring_create(&c, &ring) == RR_OK ? ring : NULL;
}

static rr_writer *writer_new(rr_ring *ring)
{
    rr_writer *w = NULL;
    return check_writer_open(ring, &w) == RR_OK ? w : NULL;
}

static rr_reader *reader_new(rr_ring *ring, rr_start start)
{
    rr_reader *r = NULL;
    return check_reader_open(ring, start, &r) == RR_OK ? r : NULL;
}

static rr_status add_seq(rr_writer *w, uint64_t seq, uint64_t *seq_out, int64_t timeout)
{
    unsigned char buf[64];
    payload_fill(buf, sizeof buf, seq, 0);
    return rr_writer_add(w, buf, sizeof buf, 0, seq_out, timeout);
}

static int event_is(const rr_event *ev, uint64_t seq)
{
    uint64_t s = UINT64_MAX;
    return ev->sequence == seq && payload_ok(ev->data, ev->len, 0, &s) && s == seq;
}

static void teardown(rr_ring *ring, rr_writer *w, rr_reader *r)
{
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
}

/* One blocking call made by a second thread. */
typedef struct {
    rr_reader *r;
    rr_writer *w;
    int64_t timeout;
    int batch;            /* reader: use rr_reader_next_batch */
    uint64_t add_seq;     /* writer: the payload's sequence */
    atomic_int entered;   /* set just before the blocking call */
    atomic_int returned;  /* set just after it */
    double t_enter, t_exit;
    rr_status st;
    rr_event evs[8];
    size_t n;
    uint64_t seq_out;
} waiter;

static void *reader_waits(void *arg)
{
    waiter *x = arg;
    x->t_enter = check_now();
    atomic_store_explicit(&x->entered, 1, memory_order_release);
    if (x->batch) {
        x->st = rr_reader_next_batch(x->r, x->evs, 8, &x->n, x->timeout);
    } else {
        x->st = rr_reader_next(x->r, &x->evs[0], x->timeout);
        x->n = x->st == RR_OK;
    }
    x->t_exit = check_now();
    atomic_store_explicit(&x->returned, 1, memory_order_release);
    return NULL;
}

static void *writer_waits(void *arg)
{
    waiter *x = arg;
    x->t_enter = check_now();
    atomic_store_explicit(&x->entered, 1, memory_order_release);
    x->st = add_seq(x->w, x->add_seq, &x->seq_out, x->timeout);
    x->t_exit = check_now();
    atomic_store_explicit(&x->returned, 1, memory_order_release);
    return NULL;
}

/* Wait until the waiter has entered its call and `settle` seconds have passed. */
static int wait_asleep(waiter *x, double settle)
{
    if (!WAIT_UNTIL(atomic_load_explicit(&x->entered, memory_order_acquire), 10.0))
        return 0;
    return WAIT_UNTIL(check_now() - x->t_enter > settle, 10.0);
}

static int still_waiting(waiter *x)
{
    return !atomic_load_explicit(&x->returned, memory_order_acquire);
}

/* ---- readers woken by a publish ------------------------------------------------------- */

/* A reader blocked in next (or next_batch) wakes when the writer publishes `seq`. */
static void reader_wakes_on_publish(rr_writer *w, rr_reader *r, uint64_t seq, int batch,
                                    int64_t timeout, double settle)
{
    waiter x = { .r = r, .timeout = timeout, .batch = batch };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, reader_waits, &x), 0);
    int asleep = wait_asleep(&x, settle);
    int blocked = still_waiting(&x);
    double t_pub = check_now();
    rr_status st = add_seq(w, seq, NULL, 0);
    pthread_join(t, NULL);
    CHECK(asleep);
    CHECK(blocked);
    CHECK_ST(st, RR_OK);
    CHECK_ST(x.st, RR_OK);
    CHECK(x.n >= 1);
    CHECK(event_is(&x.evs[0], seq));
    CHECK(x.t_exit - t_pub < PROMPT);
}

static void wake_on_publish(rr_mode mode, rr_producers prod, int batch, int64_t timeout)
{
    rr_ring *ring = ring_new(64, 16, mode, prod);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    reader_wakes_on_publish(w, r, 0, batch, timeout, SETTLE);
    teardown(ring, w, r);
}

TEST(test_blocked_reader_wakes_on_publish) { wake_on_publish(BP, SP, 0, SEC(10)); }
TEST(test_blocked_reader_wakes_on_publish_multi_producer) { wake_on_publish(BP, MP, 0, SEC(10)); }
TEST(test_blocked_reader_wakes_on_publish_overwrite) { wake_on_publish(OW, MP, 0, SEC(10)); }
TEST(test_reader_waiting_forever_wakes_on_publish) { wake_on_publish(BP, SP, 0, RR_FOREVER); }
TEST(test_blocked_batch_reader_wakes_on_publish) { wake_on_publish(BP, SP, 1, SEC(10)); }
TEST(test_blocked_batch_reader_wakes_on_publish_overwrite) { wake_on_publish(OW, SP, 1, SEC(10)); }

/* The rounds of the never-lost loops below: 200, scaled by RR_STRESS_SCALE but
 * never under 40, so each of the five settle times comes 8 times at least. The
 * settle times are what the rounds spend (about 1 s per 200), and `make test-c`
 * runs the 200 with the default strategy; its runs under the other strategies
 * and the sanitizer runs, which scale the stress sizes down, take fewer. */
static uint64_t never_lost_rounds(void)
{
    uint64_t n = check_scaled(200);
    return n < 40 ? 40 : n;
}

/* never_lost_rounds() rounds with settle times from none to 20 ms, to catch a lost
 * wake-up in every phase of the wait (spin, yield, sleep). None may end by timeout. */
static void wake_on_publish_repeatedly(rr_mode mode, rr_producers prod)
{
    static const double settles[] = { 0.0, 0.0001, 0.001, 0.005, 0.02 };
    rr_ring *ring = ring_new(64, 8, mode, prod);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    for (uint64_t i = 0, rounds = never_lost_rounds(); i < rounds; i++) {
        int before = check_failures;
        reader_wakes_on_publish(w, r, i, (int)(i % 7 == 3), SEC(5), settles[i % 5]);
        if (check_failures != before) {
            fprintf(stderr, "  (round %" PRIu64 ")\n", i);
            break;
        }
    }
    teardown(ring, w, r);
}

TEST(test_reader_wake_on_publish_is_never_lost) { wake_on_publish_repeatedly(BP, SP); }
TEST(test_reader_wake_on_publish_is_never_lost_multi_producer) { wake_on_publish_repeatedly(BP, MP); }
TEST(test_reader_wake_on_publish_is_never_lost_overwrite) { wake_on_publish_repeatedly(OW, SP); }

/* ---- readers woken by close ----------------------------------------------------------------- */

static void reader_wakes_on_close(rr_mode mode, rr_producers prod, int64_t timeout)
{
    rr_ring *ring = ring_new(64, 8, mode, prod);
    CHECK(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    waiter x = { .r = r, .timeout = timeout };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, reader_waits, &x), 0);
    int asleep = wait_asleep(&x, SETTLE);
    int blocked = still_waiting(&x);
    double t_close = check_now();
    rr_status st = rr_ring_close(ring);
    pthread_join(t, NULL);
    CHECK(asleep && blocked);
    CHECK_ST(st, RR_OK);
    CHECK_ST(x.st, RR_CLOSED);
    CHECK(x.t_exit - t_close < PROMPT);
    teardown(ring, NULL, r);
}

TEST(test_blocked_reader_wakes_closed_on_close) { reader_wakes_on_close(BP, SP, SEC(10)); }
TEST(test_blocked_reader_wakes_closed_on_close_multi_producer) { reader_wakes_on_close(BP, MP, SEC(10)); }
TEST(test_blocked_reader_wakes_closed_on_close_overwrite) { reader_wakes_on_close(OW, SP, SEC(10)); }
TEST(test_reader_waiting_forever_wakes_closed_on_close) { reader_wakes_on_close(BP, SP, RR_FOREVER); }
/* "RR_FOREVER (any negative value)": -12345 must wait too, not return at once. */
TEST(test_any_negative_timeout_waits_without_limit) { reader_wakes_on_close(OW, MP, -12345); }

/* ---- writers blocked on a full ring ------------------------------------------------------------- */

/* Capacity 4, events 0..3 published, one gating reader that has read nothing. */
static int full_ring(rr_producers prod, rr_ring **ring, rr_writer **w, rr_reader **r)
{
    *ring = ring_new(64, 4, BP, prod);
    *w = *ring ? writer_new(*ring) : NULL;
    *r = *ring ? reader_new(*ring, RR_START_OLDEST) : NULL;
    if (!*w || !*r) return 0;
    for (uint64_t s = 0; s < 4; s++)
        if (add_seq(*w, s, NULL, 0) != RR_OK) return 0;
    return add_seq(*w, 4, NULL, 0) == RR_FULL;
}

enum unblock { BY_RELEASE, BY_RING_CLOSE, BY_READER_CLOSE };

/* What the main thread does to the blocked writer; returns 1 when it went as planned. */
static int unblock_writer(enum unblock how, rr_ring *ring, rr_reader **r)
{
    rr_event ev;
    switch (how) {
    case BY_RELEASE: /* the second next releases event 0 */
        return rr_reader_next(*r, &ev, 0) == RR_OK && event_is(&ev, 0) &&
               rr_reader_next(*r, &ev, 0) == RR_OK && event_is(&ev, 1);
    case BY_RING_CLOSE:
        return rr_ring_close(ring) == RR_OK;
    case BY_READER_CLOSE:
        rr_reader_close(*r);
        *r = NULL;
        return 1;
    }
    return 0;
}

static void writer_wakes(rr_producers prod, enum unblock how, rr_status want)
{
    rr_ring *ring; rr_writer *w; rr_reader *r;
    CHECK(full_ring(prod, &ring, &w, &r));
    waiter x = { .w = w, .timeout = SEC(10), .add_seq = 4 };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, writer_waits, &x), 0);
    int asleep = wait_asleep(&x, SETTLE);
    int blocked = still_waiting(&x);
    double t_wake = check_now();
    int done = unblock_writer(how, ring, &r);
    pthread_join(t, NULL);
    CHECK(asleep && blocked && done);
    CHECK_ST(x.st, want);
    CHECK(x.t_exit - t_wake < PROMPT);
    if (want == RR_OK) CHECK_EQ(x.seq_out, 4);
    teardown(ring, w, r);
}

TEST(test_blocked_writer_wakes_when_a_reader_releases_a_slot) { writer_wakes(SP, BY_RELEASE, RR_OK); }
TEST(test_blocked_writer_wakes_when_a_reader_releases_a_slot_multi_producer)
{
    writer_wakes(MP, BY_RELEASE, RR_OK);
}
TEST(test_blocked_writer_wakes_closed_on_close) { writer_wakes(SP, BY_RING_CLOSE, RR_CLOSED); }
TEST(test_blocked_writer_wakes_closed_on_close_multi_producer)
{
    writer_wakes(MP, BY_RING_CLOSE, RR_CLOSED);
}
TEST(test_blocked_writer_wakes_when_the_gating_reader_closes) { writer_wakes(SP, BY_READER_CLOSE, RR_OK); }
TEST(test_blocked_writer_wakes_when_the_gating_reader_closes_multi_producer)
{
    writer_wakes(MP, BY_READER_CLOSE, RR_OK);
}

/* Capacity 2: the reader holds event i, event i+1 is unread, the writer blocks on
 * i+2 and the reader's next (handing out i+1, releasing i) must wake it;
 * never_lost_rounds() rounds. */
static void writer_wake_repeatedly(rr_producers prod)
{
    static const double settles[] = { 0.0, 0.0001, 0.001, 0.005, 0.02 };
    rr_ring *ring = ring_new(64, 2, BP, prod);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(w && r);
    rr_event ev;
    CHECK_ST(add_seq(w, 0, NULL, 0), RR_OK);
    CHECK_ST(add_seq(w, 1, NULL, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    for (uint64_t i = 0, rounds = never_lost_rounds(); i < rounds; i++) {
        waiter x = { .w = w, .timeout = SEC(5), .add_seq = i + 2 };
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, writer_waits, &x), 0);
        int asleep = wait_asleep(&x, settles[i % 5]);
        double t_wake = check_now();
        rr_status st = rr_reader_next(r, &ev, 0);
        pthread_join(t, NULL);
        CHECK(asleep);
        CHECK_ST(st, RR_OK);
        CHECK(event_is(&ev, i + 1));
        CHECK_ST(x.st, RR_OK);
        CHECK_EQ(x.seq_out, i + 2);
        CHECK(x.t_exit - t_wake < PROMPT);
    }
    teardown(ring, w, r);
}

TEST(test_writer_wake_on_release_is_never_lost) { writer_wake_repeatedly(SP); }
TEST(test_writer_wake_on_release_is_never_lost_multi_producer) { writer_wake_repeatedly(MP); }

/* ---- timeouts and non-blocking calls ------------------------------------------------------------ */

static void next_times_out(rr_mode mode, rr_producers prod)
{
    rr_ring *ring = ring_new(64, 8, mode, prod);
    CHECK(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    rr_event ev;
    double t0 = check_now();
    CHECK_ST(rr_reader_next(r, &ev, MS(50)), RR_TIMEOUT);
    double dt = check_now() - t0;
    CHECK(dt >= 0.045);
    CHECK(dt < 5.0);
    size_t n = 0;
    t0 = check_now();
    CHECK_ST(rr_reader_next_batch(r, &ev, 1, &n, MS(50)), RR_TIMEOUT);
    dt = check_now() - t0;
    CHECK(dt >= 0.045 && dt < 5.0);
    teardown(ring, NULL, r);
}

TEST(test_next_on_empty_ring_times_out) { next_times_out(BP, SP); }
TEST(test_next_on_empty_ring_times_out_multi_producer) { next_times_out(BP, MP); }
TEST(test_next_on_empty_ring_times_out_overwrite) { next_times_out(OW, SP); }

static void add_times_out(rr_producers prod)
{
    rr_ring *ring; rr_writer *w; rr_reader *r;
    CHECK(full_ring(prod, &ring, &w, &r));
    double t0 = check_now();
    CHECK_ST(add_seq(w, 4, NULL, MS(50)), RR_TIMEOUT);
    double dt = check_now() - t0;
    CHECK(dt >= 0.045);
    CHECK(dt < 5.0);
    rr_claim c;
    t0 = check_now();
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, MS(50)), RR_TIMEOUT);
    dt = check_now() - t0;
    CHECK(dt >= 0.045 && dt < 5.0);
    CHECK_EQ(rr_ring_published(ring), 4);
    teardown(ring, w, r);
}

TEST(test_add_on_full_ring_times_out) { add_times_out(SP); }
TEST(test_add_on_full_ring_times_out_multi_producer) { add_times_out(MP); }

static void nonblocking_next_is_immediate(rr_mode mode, rr_producers prod)
{
    rr_ring *ring = ring_new(64, 8, mode, prod);
    CHECK(ring);
    rr_reader *r = reader_new(ring, RR_START_OLDEST);
    CHECK(r);
    rr_event ev;
    size_t n = 0;
    double t0 = check_now();
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK_ST(rr_reader_next_batch(r, &ev, 1, &n, 0), RR_EMPTY);
    CHECK(check_now() - t0 < 0.1);
    teardown(ring, NULL, r);
}

TEST(test_nonblocking_next_on_empty_ring_is_empty_at_once) { nonblocking_next_is_immediate(BP, SP); }
TEST(test_nonblocking_next_on_empty_ring_is_empty_at_once_overwrite)
{
    nonblocking_next_is_immediate(OW, MP);
}

/* ---- across processes ----------------------------------------------------------------- */

/* Two rings in one shared mapping: `ping` carries the parent's events to the
 * child, `pong` the child's answers back, plus a flag page for the settle
 * handshake. The child attaches its own handles, as another process would. */
typedef struct shared_rings {
    void     *map;
    size_t    ring_bytes, total;
    rr_ring  *ping, *pong;
    _Atomic uint64_t *flag;   /* the waiter's "about to wait" counter */
} shared_rings;

static int shared_rings_make(shared_rings *s, rr_mode mode, uint64_t cap)
{
    rr_config c = { .slot_size = 64, .capacity = cap, .mode = mode,
                    .producers = RR_PRODUCERS_SINGLE };
    s->ring_bytes = (rr_ring_footprint(&c) + 4095) / 4096 * 4096;
    s->total = 2 * s->ring_bytes + 4096;
    s->map = mmap(NULL, s->total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->map == MAP_FAILED)
        return 0;
    unsigned char *base = s->map;
    s->flag = (_Atomic uint64_t *)(base + 2 * s->ring_bytes);
    return rr_ring_format(base, s->ring_bytes, &c, &s->ping) == RR_OK &&
           rr_ring_format(base + s->ring_bytes, s->ring_bytes, &c, &s->pong) == RR_OK;
}

static void shared_rings_free(shared_rings *s)
{
    rr_ring_destroy(s->ping);
    rr_ring_destroy(s->pong);
    munmap(s->map, s->total);
}

/* Child: answer each ping with a pong carrying the same sequence; raise the
 * flag before each blocking read. Exit 0 when all `rounds` went well. */
static void pong_child(shared_rings *s, uint64_t rounds)
{
    rr_ring *ping, *pong;
    rr_reader *r;
    rr_writer *w;
    unsigned char *base = s->map;
    if (rr_ring_attach(base, s->ring_bytes, &ping) != RR_OK ||
        rr_ring_attach(base + s->ring_bytes, s->ring_bytes, &pong) != RR_OK ||
        check_reader_open(ping, RR_START_OLDEST, &r) != RR_OK || check_writer_open(pong, &w) != RR_OK)
        _exit(2);
    atomic_store(s->flag, 1);                    /* registered */
    for (uint64_t i = 0; i < rounds; i++) {
        rr_event ev;
        atomic_store(s->flag, 2 * i + 2);         /* about to wait for ping i */
        if (rr_reader_next(r, &ev, SEC(10)) != RR_OK || !event_is(&ev, i))
            _exit(3);
        if (add_seq(w, i, NULL, SEC(10)) != RR_OK)
            _exit(4);
    }
    _exit(0);
}

/* Parent: ping, wait for the pong. With `settle`, first wait until the child
 * is about to block and leave it time to fall asleep, so the wake must come
 * through the shared futex. Returns the number of failed rounds. */
static uint64_t ping_rounds(shared_rings *s, uint64_t rounds, bool settle)
{
    rr_writer *w = writer_new(s->ping);
    rr_reader *r = NULL;
    uint64_t bad = 0;
    if (!w || check_reader_open(s->pong, RR_START_OLDEST, &r) != RR_OK ||
        !WAIT_UNTIL(atomic_load(s->flag) >= 1, 10.0))
        return rounds;
    for (uint64_t i = 0; i < rounds; i++) {
        if (settle) {
            if (!WAIT_UNTIL(atomic_load(s->flag) == 2 * i + 2, 10.0))
                return rounds;
            double t = check_now();
            WAIT_UNTIL(check_now() - t > SETTLE / 5, 10.0);   /* yields: the child runs */
        }
        double t0 = check_now();
        rr_event ev;
        bad += add_seq(w, i, NULL, SEC(10)) != RR_OK;
        bad += rr_reader_next(r, &ev, SEC(10)) != RR_OK || !event_is(&ev, i) ||
               check_now() - t0 > PROMPT;
        if (bad) {   /* one failed round is enough; do not wait out the rest */
            fprintf(stderr, "     round %" PRIu64 " of %" PRIu64 " failed\n", i, rounds);
            rr_ring_close(s->ping);
            break;
        }
    }
    rr_reader_close(r);
    rr_writer_close(w);
    return bad;
}

static void ping_pong_processes(rr_mode mode, uint64_t rounds, bool settle)
{
    shared_rings s;
    CHECK(shared_rings_make(&s, mode, 4));
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        pong_child(&s, rounds);
    uint64_t bad = ping_rounds(&s, rounds, settle);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    shared_rings_free(&s);
    CHECK_EQ(bad, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}

/* The reader in the other process is asleep when each event arrives. */
TEST(test_reader_in_another_process_wakes_on_publish)
{
    ping_pong_processes(BP, 40, true);
}

TEST(test_reader_in_another_process_wakes_on_publish_overwrite)
{
    ping_pong_processes(OW, 40, true);
}

/* Many quick round trips: any lost wake-up between processes would stall a
 * round for its whole 10 s timeout and fail it. */
TEST(test_wake_ups_between_processes_are_never_lost)
{
    ping_pong_processes(BP, check_scaled(20000), false);
}

/* A writer in another process, blocked on a full ring, wakes when this
 * process's reader releases a slot. */
TEST(test_writer_in_another_process_wakes_when_a_reader_releases)
{
    shared_rings s;
    CHECK(shared_rings_make(&s, BP, 4));
    rr_reader *r = reader_new(s.ping, RR_START_OLDEST);
    CHECK(r);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *ping;
        rr_writer *w;
        if (rr_ring_attach(s.map, s.ring_bytes, &ping) != RR_OK || check_writer_open(ping, &w) != RR_OK)
            _exit(2);
        for (uint64_t i = 0; i < 4; i++)
            if (add_seq(w, i, NULL, 0) != RR_OK)
                _exit(3);
        atomic_store(s.flag, 1);                 /* full; about to block */
        _exit(add_seq(w, 4, NULL, SEC(10)) == RR_OK ? 0 : 4);
    }
    CHECK(WAIT_UNTIL(atomic_load(s.flag) == 1, 10.0));
    double t = check_now();
    WAIT_UNTIL(check_now() - t > SETTLE, 10.0);        /* yields: the child runs */
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    double t0 = check_now();
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);   /* moving on releases event 0 */
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(check_now() - t0 < PROMPT);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    rr_reader_close(r);
    shared_rings_free(&s);
}

int main(void)
{
    alarm(600); /* a lost wake-up with RR_FOREVER fails the suite instead of hanging CI */
    RUN(test_blocked_reader_wakes_on_publish);
    RUN(test_reader_in_another_process_wakes_on_publish);
    RUN(test_reader_in_another_process_wakes_on_publish_overwrite);
    RUN(test_wake_ups_between_processes_are_never_lost);
    RUN(test_writer_in_another_process_wakes_when_a_reader_releases);
    RUN(test_blocked_reader_wakes_on_publish_multi_producer);
    RUN(test_blocked_reader_wakes_on_publish_overwrite);
    RUN(test_reader_waiting_forever_wakes_on_publish);
    RUN(test_blocked_batch_reader_wakes_on_publish);
    RUN(test_blocked_batch_reader_wakes_on_publish_overwrite);
    RUN(test_reader_wake_on_publish_is_never_lost);
    RUN(test_reader_wake_on_publish_is_never_lost_multi_producer);
    RUN(test_reader_wake_on_publish_is_never_lost_overwrite);
    RUN(test_blocked_reader_wakes_closed_on_close);
    RUN(test_blocked_reader_wakes_closed_on_close_multi_producer);
    RUN(test_blocked_reader_wakes_closed_on_close_overwrite);
    RUN(test_reader_waiting_forever_wakes_closed_on_close);
    RUN(test_any_negative_timeout_waits_without_limit);
    RUN(test_blocked_writer_wakes_when_a_reader_releases_a_slot);
    RUN(test_blocked_writer_wakes_when_a_reader_releases_a_slot_multi_producer);
    RUN(test_blocked_writer_wakes_closed_on_close);
    RUN(test_blocked_writer_wakes_closed_on_close_multi_producer);
    RUN(test_blocked_writer_wakes_when_the_gating_reader_closes);
    RUN(test_blocked_writer_wakes_when_the_gating_reader_closes_multi_producer);
    RUN(test_writer_wake_on_release_is_never_lost);
    RUN(test_writer_wake_on_release_is_never_lost_multi_producer);
    RUN(test_next_on_empty_ring_times_out);
    RUN(test_next_on_empty_ring_times_out_multi_producer);
    RUN(test_next_on_empty_ring_times_out_overwrite);
    RUN(test_add_on_full_ring_times_out);
    RUN(test_add_on_full_ring_times_out_multi_producer);
    RUN(test_nonblocking_next_on_empty_ring_is_empty_at_once);
    RUN(test_nonblocking_next_on_empty_ring_is_empty_at_once_overwrite);
    return check_report();
}
