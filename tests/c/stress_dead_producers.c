/*
 * stress_dead_producers.c — producer processes of one shared multi-producer
 * ring are SIGKILLed at random points, claims open included, while the others
 * and the readers run on.
 *
 * PRODUCERS producer processes write into one shared ring with rr_writer_add,
 * rr_writer_add_batch and claim/fill/publish; three in four of their claims
 * pause (busy, up to PAUSE_US) between claim and publish. Every event carries
 * its producer's id (event type and checksum salt) and that producer's own
 * sequence 0, 1, 2, ... (payload_fill). A controller kills a random producer
 * check_scaled(100) times and starts a replacement with a new id each time:
 * every other kill at a random moment, the others once the victim is between
 * a claim and its publish (or after AIM_S if it does not get there: the ring
 * may be waiting for an earlier dead claim). Two reader processes
 * verify every payload and each producer's order, every wait with a deadline.
 *
 * At the end: no reader or producer hung or failed; in a backpressure ring
 * every reader got exactly what each surviving producer published, and of a
 * killed one everything it published and nothing after its open call (all
 * of a batch it was publishing, or its first events), its `skipped` equals
 * the ring's claims_recovered, and delivered + skipped == its cursor == every
 * sequence claimed; in an overwrite ring each producer's events arrive in
 * order, intact, and delivered + lost + skipped == cursor. In both, every
 * claimed sequence was published or recovered (a producer killed between
 * its stamps and its count in `published` leaves events delivered but not
 * counted), every claim record is free and no dead producer is left counted
 * as a sleeper.
 *
 * The controller's random delays between kills only choose when to kill:
 * nothing waits on them. Everything that waits for a condition has a deadline.
 */
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "check.h"
#include "layout.h"   /* the claim records and the claim cursor, checked at the end */
#include "stress.h"

#define PRODUCERS   3
#define READERS     2
#define SLOT        64u
#define CAPACITY    64u
#define PAUSE_US    1000      /* longest pause between claim and publish */
#define KILL_GAP_US 20000     /* longest random gap between two kills */
#define AIM_S       0.05      /* longest wait for a victim to be inside a claim */
#define WAIT_NS     SEC(20)   /* a blocking call that waits this long has failed */

/* ---- what the processes share ---------------------------------------------- */

enum { PHASE_IDLE = 0, PHASE_CLAIMED = 1, PHASE_PUBLISHED = 2 };

typedef struct producer_state {
    _Atomic uint64_t published;   /* events it published, stored after each publish */
    _Atomic uint64_t attempt;     /* events of the call it is in */
    _Atomic uint32_t phase;       /* PHASE_CLAIMED: between a claim and its publish */
    _Atomic uint32_t finished;    /* exited normally */
} producer_state;

typedef struct shared {
    _Atomic uint32_t stop;        /* producers: finish the call and exit */
    _Atomic uint32_t failed;
    char             err[512];
    uint32_t         ids;         /* producer ids in use: PRODUCERS + KILLS */
    producer_state   prod[];      /* then READERS x ids delivered counts */
} shared;

static shared *sh;

static uint64_t *delivered_of(uint32_t reader)
{
    return (uint64_t *)&sh->prod[sh->ids] + (size_t)reader * sh->ids;
}

typedef struct reader_result {
    uint64_t delivered, lost, skipped, cursor;
    uint32_t done;
} reader_result;

static reader_result *results;   /* READERS entries, shared too */

static void child_fail(rr_ring *ring, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void child_fail(rr_ring *ring, const char *fmt, ...)
{
    uint32_t expect = 0;
    if (atomic_compare_exchange_strong(&sh->failed, &expect, 1)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->err, sizeof sh->err, fmt, ap);
        va_end(ap);
    }
    if (ring)
        rr_ring_close(ring);   /* wake everyone: the test is over */
    _exit(1);
}

/* Length of producer id's event q: 16 .. SLOT bytes. */
static uint32_t ev_len(uint32_t id, uint64_t q)
{
    uint64_t h = ((q << 8 | (id & 0xff)) + 1) * 0x9E3779B97F4A7C15ull;
    return 16u + (uint32_t)((h >> 40) % (SLOT - 15u));
}

static void busy_us(uint32_t us)
{
    double until = check_now() + us * 1e-6;
    while (check_now() < until) {
    }
}

/* ---- producers ------------------------------------------------------------------ */

static void produce(const char *name, uint32_t id, uint64_t seed)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rr_ring *ring;
    rr_writer *w;
    if (rr_shm_open(name, &ring) != RR_OK || check_writer_open(ring, &w) != RR_OK)
        child_fail(NULL, "producer %u: cannot open the ring: %s", id, rr_last_error());
    producer_state *me = &sh->prod[id];
    uint64_t rng = seed | 1, q = 0;
    unsigned char bufs[4][SLOT];
    rr_payload items[4];
    while (!atomic_load(&sh->stop)) {
        uint32_t op = rng_next(&rng) % 4;
        uint32_t n = op == 0 ? 1 : 1 + rng_next(&rng) % 4;
        atomic_store(&me->attempt, n);
        rr_status st;
        if (op == 0) {
            payload_fill(bufs[0], ev_len(id, q), q, id);
            st = rr_writer_add(w, bufs[0], ev_len(id, q), id, NULL, WAIT_NS);
        } else if (op == 1) {
            for (uint32_t k = 0; k < n; k++) {
                payload_fill(bufs[k], ev_len(id, q + k), q + k, id);
                items[k] = (rr_payload){ bufs[k], ev_len(id, q + k), id };
            }
            st = rr_writer_add_batch(w, items, n, NULL, WAIT_NS);
        } else {
            rr_claim c;
            st = rr_writer_claim(w, n, id, &c, WAIT_NS);
            if (st == RR_OK) {
                atomic_store(&me->phase, PHASE_CLAIMED);
                for (uint32_t k = 0; k < n; k++) {
                    payload_fill(rr_claim_data(&c, k), ev_len(id, q + k), q + k, id);
                    rr_claim_set(&c, k, ev_len(id, q + k), id);
                }
                if (rng_next(&rng) % 4)
                    busy_us(rng_next(&rng) % PAUSE_US);
                st = rr_writer_publish(w, &c);
            }
        }
        if (st == RR_CLOSED && atomic_load(&sh->failed))
            _exit(1);
        if (st != RR_OK)
            child_fail(ring, "producer %u: call %u of %u events at %" PRIu64 " returned %s (%s)",
                       id, op, n, q, rr_strerror(st), rr_last_error());
        atomic_store(&me->phase, PHASE_PUBLISHED);
        q += n;
        atomic_store(&me->published, q);
        atomic_store(&me->phase, PHASE_IDLE);
    }
    rr_writer_close(w);
    rr_ring_destroy(ring);
    atomic_store(&me->finished, 1);
    _exit(0);
}

/* ---- readers -------------------------------------------------------------------- */

static void consume(const char *name, uint32_t index, bool overwrite)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rr_ring *ring;
    rr_reader *r;
    if (rr_shm_open(name, &ring) != RR_OK || check_reader_open(ring, RR_START_OLDEST, &r) != RR_OK)
        child_fail(NULL, "reader %u: cannot open: %s", index, rr_last_error());
    uint64_t *next = calloc(sh->ids, sizeof *next);
    uint64_t *got = delivered_of(index);
    if (!next)
        child_fail(ring, "reader %u: no memory", index);
    rr_event ev;
    rr_status st;
    while ((st = rr_reader_next(r, &ev, WAIT_NS)) == RR_OK) {
        uint32_t id = ev.event_type;
        uint64_t q = 0;
        if (id >= sh->ids)
            child_fail(ring, "reader %u: event %" PRIu64 " has type %u: no such producer",
                       index, ev.sequence, id);
        if (!payload_ok(ev.data, ev.len, id, &q) || ev.len != ev_len(id, q))
            child_fail(ring, "reader %u: event %" PRIu64 " of producer %u is torn (len %u)",
                       index, ev.sequence, id, ev.len);
        /* backpressure: each producer's events, all of them, in order;
         * overwrite: in order, with gaps where the reader was lapped */
        if (overwrite ? q < next[id] : q != next[id])
            child_fail(ring, "reader %u: producer %u's event %" PRIu64 " came after %" PRIu64
                       " (at sequence %" PRIu64 ")", index, id, q, next[id], ev.sequence);
        next[id] = q + 1;
        got[id]++;
    }
    if (st != RR_CLOSED)
        child_fail(ring, "reader %u: rr_reader_next returned %s (%s) at cursor %" PRIu64,
                   index, rr_strerror(st), rr_last_error(), rr_reader_cursor(r));
    results[index] = (reader_result){ rr_reader_delivered(r), rr_reader_lost(r),
                                      rr_reader_skipped(r), rr_reader_cursor(r), 1 };
    free(next);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    _exit(0);
}

/* ---- the controller --------------------------------------------------------------- */

/* Children of the running test, killed and reaped after it (a failing check
 * returns before the test reaps them). */
static pid_t children[PRODUCERS + READERS];

static pid_t fork_child(pid_t *slot)
{
    fflush(NULL);
    return *slot = fork();
}

static void reap_children(void)
{
    for (size_t i = 0; i < sizeof children / sizeof *children; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);   /* ECHILD when the test reaped it */
        }
        children[i] = 0;
    }
}

static uint32_t reader_count(rr_ring *ring)
{
    static rr_ring_stats st;
    return rr_ring_stats_get(ring, &st) == RR_OK ? st.reader_count : UINT32_MAX;
}

static bool records_free_and_no_sleepers(rr_ring *ring)
{
    rr__claims_recover_due(ring);   /* frees records of dead producers, once per period */
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
        if (atomic_load(&ring->claims[i].owner) != 0)
            return false;
    return atomic_load(&ring->L->writable.waiters) == 0 &&
           atomic_load(&ring->L->readable.waiters) == 0;
}

static void kill_producers(rr_mode mode)
{
    const bool ow = mode == RR_MODE_OVERWRITE;
    const uint32_t kills = (uint32_t)check_scaled(100);
    char name[64];
    snprintf(name, sizeof name, "/rr-dead-producers-%d-%d", (int)getpid(), (int)mode);
    rr_shm_unlink(name);
    rr_config cfg = { .slot_size = SLOT, .capacity = CAPACITY, .mode = mode,
                      .producers = RR_PRODUCERS_MULTI };
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);

    uint32_t ids = PRODUCERS + kills;
    size_t bytes = sizeof(shared) + ids * sizeof(producer_state) +
                   (size_t)READERS * ids * sizeof(uint64_t) + READERS * sizeof(reader_result);
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    sh = mem;
    sh->ids = ids;
    results = (reader_result *)(delivered_of(READERS - 1) + ids);

    pid_t *readers = children, *producers = children + READERS;
    uint32_t running[PRODUCERS];   /* the id each producer slot runs */
    for (uint32_t k = 0; k < READERS; k++) {
        fork_child(&readers[k]);
        CHECK(readers[k] >= 0);
        if (readers[k] == 0)
            consume(name, k, ow);
    }
    CHECK(WAIT_UNTIL(reader_count(ring) == READERS, 10.0));   /* they start at sequence 0 */
    uint64_t rng = 0x5DEECE66Dull ^ (uint64_t)mode;
    uint32_t next_id = 0;
    for (uint32_t k = 0; k < PRODUCERS; k++) {
        running[k] = next_id++;
        fork_child(&producers[k]);
        CHECK(producers[k] >= 0);
        if (producers[k] == 0)
            produce(name, running[k], rng_next(&rng));
    }

    uint32_t in_claim = 0, after_publish = 0;
    double t0 = check_now();
    for (uint32_t k = 0; k < kills && !atomic_load(&sh->failed); k++) {
        struct timespec gap = { 0, (long)(rng_next(&rng) % KILL_GAP_US) * 1000 };
        nanosleep(&gap, NULL);
        uint32_t victim = rng_next(&rng) % PRODUCERS;
        if (k % 2)
            WAIT_UNTIL(atomic_load(&sh->prod[running[victim]].phase) == PHASE_CLAIMED, AIM_S);
        CHECK(kill(producers[victim], SIGKILL) == 0);
        int status;
        CHECK(waitpid(producers[victim], &status, 0) == producers[victim]);
        producer_state *dead = &sh->prod[running[victim]];
        CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && atomic_load(&sh->failed)));
        uint32_t phase = atomic_load(&dead->phase);
        in_claim += phase == PHASE_CLAIMED;
        after_publish += phase == PHASE_PUBLISHED;
        running[victim] = next_id++;
        fork_child(&producers[victim]);
        CHECK(producers[victim] >= 0);
        if (producers[victim] == 0)
            produce(name, running[victim], rng_next(&rng));
    }
    double killing = check_now() - t0;

    atomic_store(&sh->stop, 1);
    for (uint32_t k = 0; k < PRODUCERS; k++) {
        int status;
        CHECK(waitpid(producers[k], &status, 0) == producers[k]);
        CHECK(WIFEXITED(status));
    }
    rr_ring_close(ring);   /* readers drain every claimed sequence, then end */
    for (uint32_t k = 0; k < READERS; k++) {
        int status;
        CHECK(waitpid(readers[k], &status, 0) == readers[k]);
        CHECK(WIFEXITED(status));
    }
    if (atomic_load(&sh->failed))
        fprintf(stderr, "%s: %s\n", check_current, sh->err);
    CHECK(!atomic_load(&sh->failed));

    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    uint64_t claimed = atomic_load(&ring->L->claim);
    printf("     %s: %u kills in %.2f s, %u inside an open claim, %u just after a publish; "
           "%" PRIu64 " events published, %" PRIu64 " of dead producers' claims recovered\n",
           ow ? "overwrite" : "backpressure", kills, killing, in_claim, after_publish,
           st.published, st.claims_recovered);
    CHECK(st.published + st.claims_recovered <= claimed);    /* see the top */
    CHECK(claimed - st.published - st.claims_recovered < 4 * (uint64_t)kills);
    CHECK_EQ(st.abandoned, st.claims_recovered);             /* nobody gave one up */
    for (uint32_t k = 0; k < READERS; k++) {
        reader_result *rr = &results[k];
        CHECK(rr->done);
        printf("     reader %u: delivered %" PRIu64 " lost %" PRIu64 " skipped %" PRIu64 "\n",
               k, rr->delivered, rr->lost, rr->skipped);
        CHECK_EQ(rr->cursor, claimed);
        CHECK_EQ(rr->delivered + rr->lost + rr->skipped, rr->cursor);
        if (ow) {
            CHECK(rr->skipped <= st.claims_recovered);
            continue;
        }
        CHECK_EQ(rr->lost, 0);
        CHECK_EQ(rr->skipped, st.claims_recovered);
        CHECK_EQ(rr->delivered, claimed - st.claims_recovered);
        uint64_t *got = delivered_of(k);
        for (uint32_t id = 0; id < next_id; id++) {
            uint64_t pub = atomic_load(&sh->prod[id].published);
            uint64_t attempt = atomic_load(&sh->prod[id].attempt);
            if (atomic_load(&sh->prod[id].finished)) {
                CHECK_EQ(got[id], pub);   /* a survivor: every event, once */
            } else {
                /* killed: everything it published, and of the call it was in
                 * a first part (the events it stamped before it died) */
                CHECK(got[id] >= pub && got[id] <= pub + attempt);
            }
            CHECK_EQ(got[id], delivered_of(0)[id]);   /* every reader the same */
        }
    }
    CHECK(WAIT_UNTIL(records_free_and_no_sleepers(ring), 10.0));
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
    munmap(mem, bytes);
}

TEST(test_killed_producers_cost_only_their_open_claims_backpressure)
{
    kill_producers(RR_MODE_BACKPRESSURE);
}

TEST(test_killed_producers_cost_only_their_open_claims_overwrite)
{
    kill_producers(RR_MODE_OVERWRITE);
}

int main(void)
{
    watchdog_arm();
    RUN(test_killed_producers_cost_only_their_open_claims_backpressure);
    reap_children();
    RUN(test_killed_producers_cost_only_their_open_claims_overwrite);
    reap_children();
    return check_report();
}
