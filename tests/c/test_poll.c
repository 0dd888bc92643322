/*
 * test_poll.c — pollfds (poll.c): a reader's fd polls readable while it has
 * events or the ring is closed, a writer's while it has room; quiet once a
 * call finds nothing; told by writers in other threads and processes; an
 * armed fd is one waiter, and the first wake-up takes it back; dead pollers
 * and closed handles leave no count behind; one writer pollfd per ring.
 *
 * The waits here are poll() on the fd with generous deadlines: a wake-up
 * that never comes fails the test instead of hanging it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "layout.h"   /* the queues' waiter counts and the entries' poller words */
#include "procs.h"

#define PAYLOAD 64

/* Whether fd polls readable within `ms` milliseconds. */
static int readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR) {
    }
    return n == 1 && (p.revents & POLLIN);
}

static rr_ring *ring_of(rr_mode mode, rr_producers prod, uint64_t cap)
{
    rr_config cfg = { .slot_size = PAYLOAD, .capacity = cap, .mode = mode, .producers = prod };
    rr_ring *ring = NULL;
    return rr_ring_create(&cfg, &ring) == RR_OK ? ring : NULL;
}

static rr_status add_seq(rr_writer *w, uint64_t seq)
{
    unsigned char buf[PAYLOAD];
    payload_fill(buf, sizeof buf, seq, 7);
    return rr_writer_add(w, buf, sizeof buf, 1, NULL, 0);
}

TEST(test_a_reader_pollfd_polls_readable_while_events_wait_and_goes_quiet_once_a_read_finds_none)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 16);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    int fd = -1, again = -1;
    CHECK_ST(rr_reader_pollfd(r, &fd), RR_OK);
    CHECK_ST(rr_reader_pollfd(r, &again), RR_OK);
    CHECK_EQ(again, fd);                       /* one fd per reader */
    CHECK(!readable(fd, 0));                   /* nothing yet */
    for (int round = 0; round < 3; round++) {
        CHECK_ST(add_seq(w, 2 * (uint64_t)round), RR_OK);
        CHECK(readable(fd, 5000));
        CHECK_ST(add_seq(w, 2 * (uint64_t)round + 1), RR_OK);
        rr_event ev;
        for (int i = 0; i < 2; i++) {
            CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
            uint64_t seq;
            CHECK(payload_ok(ev.data, ev.len, 7, &seq));
            CHECK_EQ(seq, 2 * (uint64_t)round + (uint64_t)i);
        }
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
        CHECK(!readable(fd, 0));               /* quiet once a read found none */
    }
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_a_pollfd_made_while_events_wait_polls_readable_at_once)
{
    rr_ring *ring = ring_of(RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE, 16);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(add_seq(w, 0), RR_OK);
    int fd;
    CHECK_ST(rr_reader_pollfd(r, &fd), RR_OK);
    CHECK(readable(fd, 0));
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);   /* told, not armed */
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    CHECK(!readable(fd, 0));
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* next_batch and next_block stop the fd polling readable as next does. */
TEST(test_batch_and_block_reads_that_find_nothing_quiet_the_fd_too)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, 16);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    int fd;
    CHECK_ST(rr_reader_pollfd(r, &fd), RR_OK);
    rr_event evs[8];
    size_t n;
    CHECK_ST(add_seq(w, 0), RR_OK);
    CHECK(readable(fd, 5000));
    CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_OK);
    CHECK_EQ(n, 1);
    CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_EMPTY);
    CHECK(!readable(fd, 0));
    CHECK_ST(add_seq(w, 1), RR_OK);
    CHECK(readable(fd, 5000));
    rr_block b;
    CHECK_ST(rr_reader_next_block(r, 8, &b, 0), RR_OK);
    CHECK_ST(rr_reader_next_block(r, 8, &b, 0), RR_EMPTY);
    CHECK(!readable(fd, 0));
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_an_armed_pollfd_is_one_waiter_and_the_first_wake_up_takes_it_back)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 16);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    rr_waitq *q = &ring->L->readable;
    int fd;
    CHECK_ST(rr_reader_pollfd(r, &fd), RR_OK);
    CHECK_EQ(atomic_load(&q->waiters), RR_POLLER_COUNT);
    CHECK(atomic_load(&r->entry->poll_owner) != 0);
    CHECK_ST(add_seq(w, 0), RR_OK);
    CHECK_EQ(atomic_load(&q->waiters), 0);      /* fired: later publishes cost nothing */
    CHECK_EQ(atomic_load(&r->entry->poll_owner), 0);
    CHECK_ST(add_seq(w, 1), RR_OK);
    CHECK(readable(fd, 5000));
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);   /* armed again */
    CHECK_EQ(atomic_load(&q->waiters), RR_POLLER_COUNT);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);   /* armed still: counted once */
    CHECK_EQ(atomic_load(&q->waiters), RR_POLLER_COUNT);
    rr_reader_close(r);                              /* takes the count back */
    CHECK_EQ(atomic_load(&q->waiters), 0);
    CHECK(fcntl(fd, F_GETFD) < 0);                   /* and closes the fd */
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_closing_the_ring_makes_every_pollfd_readable)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 4);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r1, *r2;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r1), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r2), RR_OK);
    for (uint64_t s = 0; s < 4; s++)
        CHECK_ST(add_seq(w, s), RR_OK);
    CHECK_ST(add_seq(w, 4), RR_FULL);
    int f1, f2, fw;
    CHECK_ST(rr_reader_pollfd(r1, &f1), RR_OK);
    CHECK_ST(rr_reader_pollfd(r2, &f2), RR_OK);
    CHECK_ST(rr_writer_pollfd(w, &fw), RR_OK);
    rr_event ev;
    while (rr_reader_next(r1, &ev, 0) == RR_OK) {
    }
    while (rr_reader_next(r2, &ev, 0) == RR_OK) {
    }
    /* the readers released everything: the writer has room again */
    CHECK(readable(fw, 5000));
    CHECK(!readable(f1, 0));
    CHECK(!readable(f2, 0));
    CHECK_ST(rr_ring_close(ring), RR_OK);
    CHECK(readable(f1, 5000));
    CHECK(readable(f2, 5000));
    CHECK(readable(fw, 5000));
    CHECK_ST(rr_reader_next(r1, &ev, 0), RR_CLOSED);
    CHECK(readable(f1, 0));                   /* a closed ring stays readable */
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    rr_reader_close(r1);
    rr_reader_close(r2);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_a_writer_pollfd_polls_readable_while_it_has_room)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 4);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    int fd;
    CHECK_ST(rr_writer_pollfd(w, &fd), RR_OK);
    CHECK(readable(fd, 0));                   /* room */
    for (uint64_t s = 0; s < 4; s++)
        CHECK_ST(add_seq(w, s), RR_OK);
    CHECK_ST(add_seq(w, 4), RR_FULL);
    CHECK(!readable(fd, 0));                  /* quiet once an add found no room */
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), RR_POLLER_COUNT);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);   /* holds event 0 */
    CHECK(!readable(fd, 0));
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);   /* releases event 0 */
    CHECK(readable(fd, 5000));
    CHECK_ST(add_seq(w, 4), RR_OK);
    CHECK_ST(add_seq(w, 5), RR_FULL);
    CHECK(!readable(fd, 0));
    rr_writer_close(w);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    CHECK_EQ(atomic_load(&ring->L->control.writer_poll_addr), 0);
    rr_reader_close(r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_a_single_producer_overwrite_writer_pollfd_is_always_readable)
{
    rr_ring *ring = ring_of(RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE, 4);
    CHECK(ring);
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    int fd;
    CHECK_ST(rr_writer_pollfd(w, &fd), RR_OK);
    for (uint64_t s = 0; s < 20; s++)
        CHECK_ST(add_seq(w, s), RR_OK);
    CHECK(readable(fd, 0));
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* A follower (pipelines) waits for the readers it follows to let go of
 * events, which releases announce on `writable`: its fd is armed there, and
 * goes back to `readable` once it follows nobody. */
TEST(test_a_followers_pollfd_polls_readable_once_the_reader_it_follows_lets_go)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 16);
    CHECK(ring);
    rr_writer *w;
    rr_reader *lead, *follow;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &lead), RR_OK);
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.after = (const rr_reader *const *)&lead;
    o.after_count = 1;
    CHECK_ST(rr_reader_open_opts(ring, &o, &follow), RR_OK);
    int fd;
    CHECK_ST(rr_reader_pollfd(follow, &fd), RR_OK);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), RR_POLLER_COUNT);   /* armed there */
    CHECK_ST(add_seq(w, 0), RR_OK);
    rr_event ev;
    CHECK(!readable(fd, 0));                           /* nothing let go of yet */
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);     /* holds event 0 */
    CHECK(!readable(fd, 0));
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_EMPTY);  /* lets go of it */
    CHECK(readable(fd, 5000));
    CHECK_ST(rr_reader_next(follow, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(rr_reader_next(follow, &ev, 0), RR_EMPTY);
    CHECK(!readable(fd, 0));
    rr_reader_close(lead);                             /* it follows nobody now */
    CHECK_ST(rr_reader_next(follow, &ev, 0), RR_EMPTY);  /* re-armed, on `readable` */
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), RR_POLLER_COUNT);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    CHECK(!readable(fd, 0));
    CHECK_ST(add_seq(w, 1), RR_OK);
    CHECK(readable(fd, 5000));
    CHECK_ST(rr_reader_next(follow, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 1);
    rr_reader_close(follow);
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* ---- writers in other threads and processes --------------------------------- */

typedef struct feed {
    rr_ring *ring;
    uint64_t n;
    int      burst;   /* events between pauses for the reader to catch up */
    _Atomic uint64_t read;
} feed;

static void *feed_writer(void *arg)
{
    feed *f = arg;
    rr_writer *w;
    if (rr_writer_open(f->ring, &w) != RR_OK)
        return (void *)1;
    unsigned char buf[PAYLOAD];
    for (uint64_t s = 0; s < f->n; s++) {
        payload_fill(buf, sizeof buf, s, 7);
        if (rr_writer_add(w, buf, sizeof buf, 1, NULL, SEC(10)) != RR_OK)
            return (void *)2;
        /* every so often, let the reader drain and arm again */
        if (f->burst && s % (uint64_t)f->burst == 0)
            WAIT_UNTIL(atomic_load(&f->read) > s, 10.0);
    }
    rr_writer_close(w);
    return NULL;
}

/* Read n events through poll() on the reader's fd; 0 when every event came,
 * in order and intact, and no wait for the fd ran out. */
static int read_by_poll(rr_reader *r, uint64_t n, _Atomic uint64_t *read)
{
    int fd;
    if (rr_reader_pollfd(r, &fd) != RR_OK)
        return -1;
    uint64_t next = 0;
    while (next < n) {
        if (!readable(fd, 10000))
            return -2;   /* a lost wake-up */
        rr_event ev;
        rr_status st;
        while ((st = rr_reader_next(r, &ev, 0)) == RR_OK) {
            uint64_t seq;
            if (!payload_ok(ev.data, ev.len, 7, &seq) || seq != next)
                return -3;
            next++;
            if (read)
                atomic_store(read, next);
        }
        if (st != RR_EMPTY)
            return -4;
    }
    return 0;
}

TEST(test_a_writer_thread_wakes_a_poll_on_the_reader_fd_for_every_event)
{
    for (int burst = 0; burst <= 1; burst++) {
        rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 64);
        CHECK(ring);
        rr_reader *r;
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
        feed f = { .ring = ring, .n = check_scaled(20000), .burst = burst ? 7 : 0 };
        pthread_t t;
        CHECK(pthread_create(&t, NULL, feed_writer, &f) == 0);
        int rc = read_by_poll(r, f.n, &f.read);
        void *res;
        pthread_join(t, &res);
        CHECK_EQ(rc, 0);
        CHECK(res == NULL);
        rr_reader_close(r);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
    }
}

TEST(test_a_writer_in_another_process_wakes_the_reader_fd)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = PAYLOAD, .capacity = 32, .mode = RR_MODE_BACKPRESSURE,
                      .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    rr_reader *r;
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    int fd;
    CHECK_ST(rr_reader_pollfd(r, &fd), RR_OK);   /* armed before the child writes */
    uint64_t n = check_scaled(5000);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *cr;
        rr_writer *w;
        if (rr_shm_open(name, &cr) != RR_OK || rr_writer_open(cr, &w) != RR_OK)
            _exit(2);
        unsigned char buf[PAYLOAD];
        for (uint64_t s = 0; s < n; s++) {
            payload_fill(buf, sizeof buf, s, 7);
            if (rr_writer_add(w, buf, sizeof buf, 1, NULL, SEC(10)) != RR_OK)
                _exit(3);
        }
        _exit(0);
    }
    CHECK_EQ(read_by_poll(r, n, NULL), 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rr_reader_close(r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    rr_shm_unlink(name);
}

/* ---- dead pollers ---------------------------------------------------------------- */

/* A child arms a pollfd on the shared ring (a reader that found nothing),
 * then dies. Returns the child's pid after it died, or -1. */
static pid_t armed_and_killed(const char *name)
{
    pid_t pid = spawn();
    if (pid == 0) {
        rr_ring *cr;
        rr_reader *r;
        rr_event ev;
        int fd;
        if (rr_shm_open(name, &cr) != RR_OK || rr_reader_open(cr, RR_START_LATEST, &r) != RR_OK ||
            rr_reader_pollfd(r, &fd) != RR_OK || rr_reader_next(r, &ev, 0) != RR_EMPTY)
            _exit(2);
        kill(getpid(), SIGKILL);   /* armed to the end */
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status))
        return -1;
    return pid;
}

TEST(test_a_poller_killed_while_armed_costs_writers_one_wake_up_call)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = PAYLOAD, .capacity = 32, .mode = RR_MODE_OVERWRITE,
                      .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK(armed_and_killed(name) > 0);
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), RR_POLLER_COUNT);   /* the dead poller's count */
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(add_seq(w, 0), RR_OK);                          /* fires it: its send fails */
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    rr_shm_unlink(name);
}

TEST(test_evicting_a_dead_reader_forgets_its_armed_poller)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = PAYLOAD, .capacity = 32, .mode = RR_MODE_BACKPRESSURE,
                      .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK(armed_and_killed(name) > 0);
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), RR_POLLER_COUNT);
    CHECK_EQ(rr__evict_dead_readers(ring, true), 1);   /* as the reaper finds it */
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    for (uint32_t i = 0; i < RR_MAX_READERS; i++) {
        CHECK_EQ(atomic_load(&ring->readers[i].poll_owner), 0);
        CHECK_EQ(atomic_load(&ring->readers[i].poll_addr), 0);
    }
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    rr_shm_unlink(name);
}

/* ---- one writer pollfd per ring ------------------------------------------------------ */

TEST(test_a_second_writer_pollfd_is_refused_naming_the_holder_until_it_closes)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, 8);
    CHECK(ring);
    rr_writer *a, *b;
    CHECK_ST(rr_writer_open(ring, &a), RR_OK);
    CHECK_ST(rr_writer_open(ring, &b), RR_OK);
    int fa, fb;
    CHECK_ST(rr_writer_pollfd(a, &fa), RR_OK);
    CHECK_ST(rr_writer_pollfd(b, &fb), RR_IN_USE);
    char pid[32];
    snprintf(pid, sizeof pid, "process %d", (int)getpid());
    CHECK(strstr(rr_last_error(), pid) != NULL);
    rr_writer_close(a);
    CHECK_ST(rr_writer_pollfd(b, &fb), RR_OK);
    CHECK(readable(fb, 0));
    rr_writer_close(b);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_the_writer_pollfd_of_a_process_that_died_is_taken_over)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = PAYLOAD, .capacity = 8, .mode = RR_MODE_BACKPRESSURE,
                      .producers = RR_PRODUCERS_MULTI };
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *cr;
        rr_writer *w;
        int fd;
        if (rr_shm_open(name, &cr) != RR_OK || rr_writer_open(cr, &w) != RR_OK ||
            rr_writer_pollfd(w, &fd) != RR_OK)
            _exit(2);
        kill(getpid(), SIGKILL);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    CHECK(atomic_load(&ring->L->control.writer_poll_addr) != 0);
    rr_writer *w;
    int fd;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_writer_pollfd(w, &fd), RR_OK);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
    rr_shm_unlink(name);
}

/* ---- how often to look anyway ------------------------------------------------------- */

TEST(test_poll_intervals_are_nonzero_only_where_a_dead_process_could_hang_the_wait)
{
    rr_ring *heap = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, 8);
    CHECK(heap);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(heap, &w), RR_OK);
    CHECK_ST(rr_reader_open(heap, RR_START_OLDEST, &r), RR_OK);
    CHECK_EQ(rr_reader_poll_interval(r), 0);
    CHECK_EQ(rr_writer_poll_interval(w), 0);
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(heap), RR_OK);
    static const struct { rr_mode mode; rr_producers prod; int64_t reader, writer; } kinds[] = {
        { RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 0, RR_SHM_LIVENESS_NS },
        { RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE, 0, 0 },
        { RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, RR_SHM_LIVENESS_NS, RR_SHM_LIVENESS_NS },
        { RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI, RR_SHM_LIVENESS_NS, RR_SHM_LIVENESS_NS },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *name = fresh_name();
        rr_config cfg = { .slot_size = PAYLOAD, .capacity = 8, .mode = kinds[k].mode,
                          .producers = kinds[k].prod };
        rr_ring *ring;
        CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
        CHECK_ST(rr_writer_open(ring, &w), RR_OK);
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
        CHECK_EQ(rr_reader_poll_interval(r), kinds[k].reader);
        CHECK_EQ(rr_writer_poll_interval(w), kinds[k].writer);
        rr_reader_close(r);
        rr_writer_close(w);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
        rr_shm_unlink(name);
    }
}

/* A process that cannot make membarrier calls (as one on an old kernel, or
 * under a seccomp filter, finds at its first open: rr__asym_fences false).
 * Its pollfds go quiet all the same once a look finds nothing, or an event
 * loop would spin on them: a private ring's notifiers fence, so the arming
 * is as sure as with membarrier; a shared ring's arming may miss a notifier
 * of another process, and its poll interval says to look again now and
 * then. A publish still makes the reader's fd readable. */
TEST(test_without_membarrier_a_pollfd_still_goes_quiet_once_a_look_finds_nothing)
{
    CHECK(atomic_load(&rr__asym_fences));   /* this machine has membarrier */
    atomic_store(&rr__asym_fences, false);
    for (int shared = 0; shared < 2; shared++) {
        const char *name = fresh_name();
        rr_config cfg = { .slot_size = PAYLOAD, .capacity = 2, .mode = RR_MODE_BACKPRESSURE,
                          .producers = RR_PRODUCERS_SINGLE };
        rr_ring *ring = NULL;
        CHECK_ST(shared ? rr_shm_create(name, &cfg, 0, &ring) : rr_ring_create(&cfg, &ring),
                 RR_OK);
        rr_writer *w;
        rr_reader *r, *stuck;
        CHECK_ST(rr_writer_open(ring, &w), RR_OK);
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &stuck), RR_OK);
        CHECK_EQ(rr_reader_poll_interval(r) > 0, shared);   /* wait.c RR_FALLBACK_SLICE_NS */
        int rfd, wfd;
        CHECK_ST(rr_reader_pollfd(r, &rfd), RR_OK);
        CHECK(!readable(rfd, 0));              /* made on an empty ring */
        rr_event ev;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
        CHECK(!readable(rfd, 0));              /* a look that found nothing */
        CHECK_ST(add_seq(w, 0), RR_OK);
        CHECK(readable(rfd, 5000));
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
        CHECK(!readable(rfd, 0));
        CHECK_ST(add_seq(w, 1), RR_OK);        /* `stuck` holds both slots */
        CHECK_ST(add_seq(w, 2), RR_FULL);
        CHECK_ST(rr_writer_pollfd(w, &wfd), RR_OK);
        CHECK(!readable(wfd, 0));
        CHECK_ST(add_seq(w, 2), RR_FULL);
        CHECK(!readable(wfd, 0));
        CHECK_ST(rr_reader_next(stuck, &ev, 0), RR_OK);
        CHECK_ST(rr_reader_next(stuck, &ev, 0), RR_OK);   /* lets go of the first: room */
        CHECK(readable(wfd, 5000));
        rr_reader_close(stuck);
        rr_reader_close(r);
        rr_writer_close(w);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
        if (shared)
            rr_shm_unlink(name);
    }
    atomic_store(&rr__asym_fences, true);
}

/* The interleaving a notifier can meet: its swap takes an armed writer
 * poller's word, then the writer's close clears the slot's address before
 * the notifier reads it. Replayed in order: the address cleared while the
 * word is armed, then the notifier's step. The count goes back to the queue
 * the poller was counted in (`writable`), not to the one an address of 0
 * would name, and `readable`'s count does not wrap below 0. */
TEST(test_a_poller_fired_while_its_address_changes_gives_its_count_back_to_its_own_queue)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 2);
    CHECK(ring);
    rr_layout *L = ring->L;
    rr_writer *w;
    rr_reader *stuck;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &stuck), RR_OK);
    CHECK_ST(add_seq(w, 0), RR_OK);
    CHECK_ST(add_seq(w, 1), RR_OK);
    int wfd;
    CHECK_ST(rr_writer_pollfd(w, &wfd), RR_OK);
    CHECK_EQ(atomic_load(&L->writable.waiters), RR_POLLER_COUNT);   /* armed */
    uint64_t addr = atomic_load(&L->control.writer_poll_addr);
    atomic_store(&L->control.writer_poll_addr, 0);   /* the closing writer's CAS */
    rr__poller_fire(ring, &L->control.writer_poll_owner, &L->control.writer_poll_addr);
    CHECK_EQ(atomic_load(&L->control.writer_poll_owner), 0);
    CHECK_EQ(atomic_load(&L->writable.waiters), 0);
    CHECK_EQ(atomic_load(&L->readable.waiters), 0);
    atomic_store(&L->control.writer_poll_addr, addr);
    rr_writer_close(w);
    rr_reader_close(stuck);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* A notifier that cannot make its socket (every descriptor in use) leaves
 * the poller armed and counted, and the next notifier that can tells it: a
 * poller is never disarmed without being told. */
TEST(test_a_notifier_out_of_descriptors_leaves_the_poller_armed_for_the_next_one)
{
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 16);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    int fd;
    CHECK_ST(rr_reader_pollfd(r, &fd), RR_OK);
    CHECK_EQ(atomic_load(&ring->poll_tx), -1);   /* no notifier socket yet */
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), RR_POLLER_COUNT);
    struct rlimit was;
    CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
    int lowest = dup(0);                         /* every descriptor below it is in use */
    CHECK(lowest >= 0);
    close(lowest);
    struct rlimit none = { .rlim_cur = (rlim_t)lowest, .rlim_max = was.rlim_max };
    CHECK(setrlimit(RLIMIT_NOFILE, &none) == 0);
    rr_status st = add_seq(w, 0);
    int armed = atomic_load(&ring->L->readable.waiters) == RR_POLLER_COUNT;
    CHECK(setrlimit(RLIMIT_NOFILE, &was) == 0);
    CHECK_ST(st, RR_OK);
    CHECK(armed);                                /* not disarmed untold */
    CHECK(!readable(fd, 0));
    CHECK_ST(add_seq(w, 1), RR_OK);              /* this one can tell it */
    CHECK(readable(fd, 5000));
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* An event loop may watch a copy of the fd (Python's asyncio does): once the
 * handle is closed, by any thread, the copy polls readable for good, so a
 * task that started waiting on it around the close wakes and finds it
 * closed. Both copies were quiet before the close. */
TEST(test_a_copy_of_a_pollfd_polls_readable_for_good_once_its_handle_is_closed)
{
    /* a reader with nothing to read: its fd quiet */
    rr_ring *ring = ring_of(RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, 2);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r, *stuck;
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    int rfd;
    CHECK_ST(rr_reader_pollfd(r, &rfd), RR_OK);
    int rcopy = dup(rfd);
    CHECK(rcopy >= 0);
    CHECK(!readable(rcopy, 0));
    rr_reader_close(r);
    CHECK(readable(rcopy, 5000));
    CHECK(readable(rcopy, 0));                     /* nobody drains it */
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    close(rcopy);

    /* a writer with no room (a reader that does not read): its fd quiet */
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &stuck), RR_OK);
    CHECK_ST(add_seq(w, 0), RR_OK);
    CHECK_ST(add_seq(w, 1), RR_OK);
    CHECK_ST(add_seq(w, 2), RR_FULL);
    int wfd;
    CHECK_ST(rr_writer_pollfd(w, &wfd), RR_OK);
    int wcopy = dup(wfd);
    CHECK(wcopy >= 0);
    CHECK(!readable(wcopy, 0));
    rr_writer_close(w);
    CHECK(readable(wcopy, 5000));
    CHECK(readable(wcopy, 0));
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    close(wcopy);
    rr_reader_close(stuck);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_pollfd_calls_without_a_handle_are_refused)
{
    int fd;
    CHECK_ST(rr_reader_pollfd(NULL, &fd), RR_INVALID);
    CHECK_ST(rr_writer_pollfd(NULL, &fd), RR_INVALID);
    CHECK_EQ(rr_reader_poll_interval(NULL), 0);
    CHECK_EQ(rr_writer_poll_interval(NULL), 0);
}

int main(void)
{
    alarm(600);
    RUN(test_a_reader_pollfd_polls_readable_while_events_wait_and_goes_quiet_once_a_read_finds_none);
    RUN(test_a_pollfd_made_while_events_wait_polls_readable_at_once);
    RUN(test_batch_and_block_reads_that_find_nothing_quiet_the_fd_too);
    RUN(test_an_armed_pollfd_is_one_waiter_and_the_first_wake_up_takes_it_back);
    RUN(test_closing_the_ring_makes_every_pollfd_readable);
    RUN(test_a_writer_pollfd_polls_readable_while_it_has_room);
    RUN(test_a_single_producer_overwrite_writer_pollfd_is_always_readable);
    RUN(test_a_followers_pollfd_polls_readable_once_the_reader_it_follows_lets_go);
    RUN(test_a_writer_thread_wakes_a_poll_on_the_reader_fd_for_every_event);
    reap_children();
    RUN(test_a_writer_in_another_process_wakes_the_reader_fd);
    reap_children();
    RUN(test_a_poller_killed_while_armed_costs_writers_one_wake_up_call);
    reap_children();
    RUN(test_evicting_a_dead_reader_forgets_its_armed_poller);
    reap_children();
    RUN(test_a_second_writer_pollfd_is_refused_naming_the_holder_until_it_closes);
    RUN(test_the_writer_pollfd_of_a_process_that_died_is_taken_over);
    reap_children();
    RUN(test_poll_intervals_are_nonzero_only_where_a_dead_process_could_hang_the_wait);
    RUN(test_without_membarrier_a_pollfd_still_goes_quiet_once_a_look_finds_nothing);
    RUN(test_a_poller_fired_while_its_address_changes_gives_its_count_back_to_its_own_queue);
    RUN(test_a_notifier_out_of_descriptors_leaves_the_poller_armed_for_the_next_one);
    RUN(test_a_copy_of_a_pollfd_polls_readable_for_good_once_its_handle_is_closed);
    RUN(test_pollfd_calls_without_a_handle_are_refused);
    return check_report();
}
