/*
 * stress_durable.c — a durable reader over shared memory, SIGKILLed again
 * and again mid-stream, resumed by a new process each time: nothing lost.
 *
 * A writer process writes 10^6 events (RR_STRESS_SCALE scales it) into a
 * backpressure ring, each carrying its sequence and a checksum (check.h
 * payload_fill). A reader process opens the durable reader "bridge", reads
 * in batches of random sizes and commits each event to a log the test maps
 * shared: `next`, the first sequence not yet seen, moved by one store per
 * event. The test kills the reader about ten times at random points of the
 * stream: the reader is told to stop once it has committed a random mark
 * (`stop_at`), and is killed there (in the middle of a batch), or, every
 * other time, let go a little further just before the kill, which then
 * lands wherever it has got to; the test then starts another reader, which
 * resumes "bridge" where the dead one had released: events the dead one was
 * handed but had not released come again. The reader checks every event's
 * checksum; one below `next` is a duplicate (dropped, counted); one above
 * it is a gap and fails the run; within one process the sequences run one
 * by one. At the end every sequence was delivered at least once, and after
 * the drop of duplicates exactly once, in order.
 *
 * The test's own process runs no thread, so the forks are plain.
 */
#include <stdbool.h>
#include <sys/mman.h>

#include "check.h"
#include "procs.h"
#include "stress.h"

#define SLOT     32u
#define CAP      1024u
#define SALT     0xd0ab1e5u
#define WAIT_NS  SEC(30)
#define WAIT_S   60.0
#define KILLS    10
#define MAX_READ 64u

typedef struct shared_log {
    _Atomic uint64_t next;         /* first sequence not yet seen (the commit) */
    _Atomic uint64_t deliveries;   /* events handed to readers, duplicates included */
    _Atomic uint64_t duplicates;
    _Atomic uint64_t stop_at;      /* a reader that committed this far spins (until killed) */
    _Atomic uint32_t readers;      /* reader processes started */
    _Atomic int      failed;
    char             err[256];
} shared_log;

static void log_fail(shared_log *lg, const char *what, uint64_t a, uint64_t b)
{
    if (atomic_exchange(&lg->failed, 1) == 0)
        snprintf(lg->err, sizeof lg->err, "%s (%" PRIu64 ", %" PRIu64 "): %s", what, a, b,
                 rr_last_error());
}

static void writer_process(const char *name, uint64_t total, shared_log *lg)
{
    rr_ring *ring = NULL;
    rr_writer *w = NULL;
    if (rr_shm_open(name, &ring) != RR_OK || check_writer_open(ring, &w) != RR_OK) {
        log_fail(lg, "writer open", 0, 0);
        _exit(2);
    }
    unsigned char buf[SLOT];
    for (uint64_t i = 0; i < total; i++) {
        payload_fill(buf, sizeof buf, i, SALT);
        uint64_t seq = 0;
        rr_status st = rr_writer_add(w, buf, sizeof buf, 0, &seq, WAIT_NS);
        if (st != RR_OK || seq != i) {
            log_fail(lg, "writer add", i, seq);
            _exit(3);
        }
    }
    rr_writer_close(w);
    _exit(0);
}

static void reader_process(const char *name, uint64_t total, shared_log *lg, uint64_t seed)
{
    rr_ring *ring = NULL;
    rr_reader *r = NULL;
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.name = "bridge";
    o.durable = true;
    o.wait = check_wait();
    if (rr_shm_open(name, &ring) != RR_OK || rr_reader_open_opts(ring, &o, &r) != RR_OK) {
        log_fail(lg, "reader open", 0, 0);
        _exit(2);
    }
    rr_event evs[MAX_READ];
    uint64_t prev = UINT64_MAX;   /* the last sequence this process was handed */
    while (atomic_load(&lg->next) < total) {
        size_t want = 1 + rng_next(&seed) % MAX_READ, n = 0;
        rr_status st = rr_reader_next_batch(r, evs, want, &n, WAIT_NS);
        if (st != RR_OK) {
            log_fail(lg, "reader next_batch", atomic_load(&lg->next), st);
            _exit(3);
        }
        for (size_t k = 0; k < n; k++) {
            uint64_t s = UINT64_MAX, next = atomic_load(&lg->next);
            if (!payload_ok(evs[k].data, evs[k].len, SALT, &s) || s != evs[k].sequence) {
                log_fail(lg, "a torn or foreign payload", evs[k].sequence, s);
                _exit(4);
            }
            if (prev != UINT64_MAX && s != prev + 1) {
                log_fail(lg, "out of order within one reader", prev, s);
                _exit(5);
            }
            prev = s;
            atomic_fetch_add(&lg->deliveries, 1);
            if (s < next) {
                atomic_fetch_add(&lg->duplicates, 1);   /* handed out again after a kill */
            } else if (s == next) {
                atomic_store(&lg->next, s + 1);         /* the commit */
                while (s + 1 >= atomic_load(&lg->stop_at))
                    sched_yield();                      /* mid-batch, until killed */
            } else {
                log_fail(lg, "a gap: sequences never delivered", next, s);
                _exit(6);
            }
        }
    }
    rr_reader_close(r);   /* parked: the test drops it */
    _exit(0);
}

/* Where the reader stops before kill k: a random point of the k-th of
 * KILLS + 2 stretches of the stream. */
static uint64_t mark_of(uint64_t total, int k, uint64_t *seed)
{
    return total * (uint64_t)(k + 1) / (KILLS + 2) + rng_next(seed) % (total / (2 * (KILLS + 2)) + 1);
}

static pid_t start_reader(const char *name, uint64_t total, shared_log *lg, uint64_t seed)
{
    atomic_fetch_add(&lg->readers, 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        reader_process(name, total, lg, seed);
    return pid;
}

TEST(test_a_durable_reader_killed_ten_times_mid_stream_misses_nothing)
{
    const char *name = fresh_name();
    uint64_t total = check_scaled(1000000);
    rr_config cfg = { .slot_size = SLOT, .capacity = CAP, .mode = RR_MODE_BACKPRESSURE,
                      .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring = NULL;
    CHECK_ST(rr_shm_create(name, &cfg, 0600, &ring), RR_OK);
    shared_log *lg = mmap(NULL, sizeof *lg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                          -1, 0);
    CHECK(lg != MAP_FAILED);
    memset(lg, 0, sizeof *lg);
    uint64_t seed = 0x5eed ^ (uint64_t)getpid() << 20 ^ (uint64_t)(check_now() * 1e6);
    atomic_store(&lg->stop_at, mark_of(total, 0, &seed));   /* before any process starts */
    /* the reader first, so that its place gates the writer from event 0 */
    pid_t reader = start_reader(name, total, lg, rng_next(&seed) | 1);
    CHECK(reader > 0);
    CHECK(WAIT_UNTIL(atomic_load(&lg->failed) ||
                     rr_ring_reader_find(ring, "bridge", &(uint32_t){ 0 }) == RR_OK, WAIT_S));
    fflush(NULL);
    pid_t writer = fork();
    if (writer == 0)
        writer_process(name, total, lg);
    CHECK(writer > 0);
    int kills = 0;
    for (int k = 0; k < KILLS; k++) {
        CHECK(WAIT_UNTIL(atomic_load(&lg->failed) ||
                         atomic_load(&lg->next) >= atomic_load(&lg->stop_at), WAIT_S));
        if (atomic_load(&lg->failed) || atomic_load(&lg->next) >= total)
            break;
        if (k % 2 == 1)   /* running again for a little: killed anywhere on the way */
            atomic_store(&lg->stop_at, atomic_load(&lg->next) + 1 + rng_next(&seed) % 64);
        kill(reader, SIGKILL);
        CHECK(waitpid(reader, NULL, 0) == reader);
        kills++;
        /* the next mark is set before the next reader starts, so it cannot pass it */
        atomic_store(&lg->stop_at, k + 1 < KILLS ? mark_of(total, k + 1, &seed) : UINT64_MAX);
        reader = start_reader(name, total, lg, rng_next(&seed) | 1);
        CHECK(reader > 0);
    }
    int status = 0;
    CHECK(waitpid(reader, &status, 0) == reader);
    bool reader_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CHECK(waitpid(writer, &status, 0) == writer);
    bool writer_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (atomic_load(&lg->failed))
        fprintf(stderr, "%s: %s\n", check_current, lg->err);
    CHECK(!atomic_load(&lg->failed));
    CHECK(reader_ok && writer_ok);
    CHECK_EQ(atomic_load(&lg->next), total);   /* every one, in order, after dedup */
    /* a reader killed between its count and its commit is handed the event again */
    CHECK(atomic_load(&lg->deliveries) >= total + atomic_load(&lg->duplicates));
    CHECK_EQ(kills, KILLS);
    printf("  %" PRIu64 " events, %d kills, %" PRIu64 " handed out again\n", total, kills,
           (uint64_t)atomic_load(&lg->duplicates));
    rr_ring_stats *s = malloc(sizeof *s);
    CHECK(s);
    CHECK_ST(rr_ring_stats_get(ring, s), RR_OK);
    /* parked where it released: its last batch was handed out, not released */
    bool parked = s->reader_count == 1 && s->readers[0].parked && s->readers[0].durable &&
                  s->readers[0].cursor <= total && s->readers[0].cursor + MAX_READ >= total;
    uint64_t evicted = s->readers_evicted;
    free(s);
    CHECK(parked);
    CHECK_EQ(evicted, 0);
    CHECK_ST(rr_ring_reader_drop(ring, "bridge"), RR_OK);
    munmap(lg, sizeof *lg);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

int main(void)
{
    watchdog_arm();
    RUN(test_a_durable_reader_killed_ten_times_mid_stream_misses_nothing);
    reap_children();
    return check_report();
}
