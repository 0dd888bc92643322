/*
 * test_wait.c — wait strategies: how a reader or writer waits (block, yield,
 * spin, sleep) is chosen when it opens, shown in the stats (of this process
 * and of another), refused with the choices named when it is not one of
 * them, and never changes what is delivered: every strategy hands over the
 * same checksummed stream, honours timeouts and wakes at the close.
 *
 * Timing bounds are generous (seconds) and every wait for another thread is
 * a condition with a deadline. The stress programs, test_blocking and the
 * liveness tests of test_shm and test_dead_claims also run whole under each
 * strategy (RR_TEST_WAIT, check.h); test_hotpath proves that nobody makes a
 * wake-up call for a waiter that spins, yields or naps.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "procs.h"

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define SP RR_PRODUCERS_SINGLE
#define MP RR_PRODUCERS_MULTI

static const rr_wait_strategy all[] = { RR_WAIT_BLOCK, RR_WAIT_YIELD, RR_WAIT_SPIN,
                                        RR_WAIT_SLEEP };
#define ALL (sizeof all / sizeof all[0])

static rr_ring *ring_new(uint64_t cap, rr_mode mode, rr_producers prod)
{
    rr_config c = { .slot_size = 64, .capacity = cap, .mode = mode, .producers = prod };
    rr_ring *ring = NULL;
    return rr_ring_create(&c, &ring) == RR_OK ? ring : NULL;
}

static rr_reader *reader_with(rr_ring *ring, rr_wait_strategy wait)
{
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.wait = wait;
    rr_reader *r = NULL;
    return rr_reader_open_opts(ring, &o, &r) == RR_OK ? r : NULL;
}

static rr_writer *writer_with(rr_ring *ring, rr_wait_strategy wait)
{
    rr_writer_options o = RR_WRITER_OPTIONS_INIT;
    o.wait = wait;
    rr_writer *w = NULL;
    return rr_writer_open_opts(ring, &o, &w) == RR_OK ? w : NULL;
}

static rr_status add_seq(rr_writer *w, uint64_t seq, int64_t timeout)
{
    unsigned char buf[64];
    size_t len = 16 + seq % 49;   /* 16 .. 64 bytes */
    payload_fill(buf, len, seq, 3);
    return rr_writer_add(w, buf, len, (uint32_t)(seq & 0xffff), NULL, timeout);
}

/* ---- choosing a strategy ------------------------------------------------------------ */

TEST(test_options_choose_the_strategy_and_null_options_are_the_defaults)
{
    rr_ring *ring = ring_new(8, BP, MP);
    CHECK(ring);
    rr_reader_options ro = RR_READER_OPTIONS_INIT;
    rr_writer_options wo = RR_WRITER_OPTIONS_INIT;
    CHECK_EQ(ro.start, RR_START_OLDEST);
    CHECK_EQ(ro.wait, RR_WAIT_BLOCK);
    CHECK_EQ(wo.wait, RR_WAIT_BLOCK);
    rr_reader *r[ALL], *dflt = NULL, *plain = NULL;
    rr_writer *w[ALL], *wdflt = NULL;
    for (size_t i = 0; i < ALL; i++) {
        r[i] = reader_with(ring, all[i]);
        w[i] = writer_with(ring, all[i]);
        CHECK(r[i] && w[i]);
        CHECK_EQ(rr_reader_wait_strategy(r[i]), all[i]);
        CHECK_EQ(rr_writer_wait_strategy(w[i]), all[i]);
    }
    CHECK_ST(rr_reader_open_opts(ring, NULL, &dflt), RR_OK);
    CHECK_ST(rr_writer_open_opts(ring, NULL, &wdflt), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_LATEST, &plain), RR_OK);
    CHECK_EQ(rr_reader_wait_strategy(dflt), RR_WAIT_BLOCK);
    CHECK_EQ(rr_writer_wait_strategy(wdflt), RR_WAIT_BLOCK);
    CHECK_EQ(rr_reader_wait_strategy(plain), RR_WAIT_BLOCK);
    CHECK_EQ(rr_reader_wait_strategy(NULL), RR_WAIT_BLOCK);
    CHECK_EQ(rr_writer_wait_strategy(NULL), RR_WAIT_BLOCK);
    /* the start of the options is honoured as rr_reader_open's is */
    CHECK_ST(add_seq(w[0], 0, 0), RR_OK);
    rr_reader *latest = NULL;
    ro.start = RR_START_LATEST;
    ro.wait = RR_WAIT_SPIN;
    CHECK_ST(rr_reader_open_opts(ring, &ro, &latest), RR_OK);
    CHECK_EQ(rr_reader_cursor(latest), 1);
    CHECK_EQ(rr_reader_cursor(dflt), 0);
    for (size_t i = 0; i < ALL; i++) {
        rr_reader_close(r[i]);
        rr_writer_close(w[i]);
    }
    rr_reader_close(dflt);
    rr_reader_close(plain);
    rr_reader_close(latest);
    rr_writer_close(wdflt);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_a_strategy_that_is_not_one_is_refused_naming_the_choices_and_nothing_is_taken)
{
    rr_ring *ring = ring_new(8, BP, SP);
    CHECK(ring);
    rr_reader_options ro = RR_READER_OPTIONS_INIT;
    rr_writer_options wo = RR_WRITER_OPTIONS_INIT;
    rr_reader *r = NULL;
    rr_writer *w = NULL;
    ro.wait = (rr_wait_strategy)4;
    CHECK_ST(rr_reader_open_opts(ring, &ro, &r), RR_INVALID);
    CHECK(strstr(rr_last_error(), "RR_WAIT_BLOCK, RR_WAIT_YIELD, RR_WAIT_SPIN, RR_WAIT_SLEEP"));
    CHECK(strstr(rr_last_error(), "wait strategy 4"));
    CHECK(r == NULL);
    ro.wait = (rr_wait_strategy)-1;
    CHECK_ST(rr_reader_open_opts(ring, &ro, &r), RR_INVALID);
    wo.wait = (rr_wait_strategy)9;
    CHECK_ST(rr_writer_open_opts(ring, &wo, &w), RR_INVALID);
    CHECK(strstr(rr_last_error(), "block, yield, spin, sleep"));
    CHECK(w == NULL);
    ro.wait = RR_WAIT_YIELD;
    ro.start = (rr_start)5;
    CHECK_ST(rr_reader_open_opts(ring, &ro, &r), RR_INVALID);
    /* nothing was taken: no reader entry, and the single writer's role is free */
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.reader_count, 0);
    CHECK_EQ(st.writers, 0);
    CHECK(w = writer_with(ring, RR_WAIT_SLEEP));
    CHECK(r = reader_with(ring, RR_WAIT_YIELD));
    CHECK_ST(add_seq(w, 0, 0), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, SEC(5)), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* ---- stats ------------------------------------------------------------------------------ */

TEST(test_stats_show_each_readers_strategy_and_the_last_opened_writers)
{
    rr_ring *ring = ring_new(8, OW, MP);
    CHECK(ring);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_wait, RR_WAIT_BLOCK);   /* nobody opened one yet */
    rr_reader *r[ALL];
    for (size_t i = 0; i < ALL; i++)
        CHECK(r[i] = reader_with(ring, all[ALL - 1 - i]));
    rr_writer *a = writer_with(ring, RR_WAIT_SPIN);
    CHECK(a);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_wait, RR_WAIT_SPIN);
    CHECK_EQ(st.reader_count, ALL);
    for (size_t i = 0; i < ALL; i++)
        CHECK_EQ(st.readers[i].wait, all[ALL - 1 - i]);
    rr_writer *b = writer_with(ring, RR_WAIT_SLEEP);
    CHECK(b);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_wait, RR_WAIT_SLEEP);
    rr_writer_close(b);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_wait, RR_WAIT_SLEEP);   /* the last opened, after it closed */
    /* an entry reused by a new reader shows the new reader's strategy */
    rr_reader_close(r[0]);
    CHECK(r[0] = reader_with(ring, RR_WAIT_YIELD));
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.readers[0].wait, RR_WAIT_YIELD);
    for (size_t i = 0; i < ALL; i++)
        rr_reader_close(r[i]);
    rr_writer_close(a);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* The strategies live in the shared block: this process sees the ones a
 * child opened its reader and writer with. */
TEST(test_stats_of_another_process_show_its_strategies)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 8, .mode = BP, .producers = SP };
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    _Atomic uint32_t *ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(ready != MAP_FAILED);
    atomic_store(ready, 0);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        if (rr_shm_open(name, &mine) != RR_OK || !reader_with(mine, RR_WAIT_SLEEP) ||
            !writer_with(mine, RR_WAIT_YIELD))
            _exit(2);
        atomic_store(ready, 1);
        for (;;)
            pause();   /* until killed */
    }
    CHECK(WAIT_UNTIL(atomic_load(ready) == 1, 10.0));
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.reader_count, 1);
    CHECK_EQ(st.readers[0].pid, pid);
    CHECK_EQ(st.readers[0].wait, RR_WAIT_SLEEP);
    CHECK_EQ(st.writer_pid, pid);
    CHECK_EQ(st.writer_wait, RR_WAIT_YIELD);
    reap_children();
    munmap((void *)ready, 4096);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* ---- what is delivered ------------------------------------------------------------------ */

#define STREAM_EVENTS 20000

typedef struct stream {
    rr_ring         *ring;
    rr_wait_strategy wait;
    uint64_t         events;
    uint64_t         sum;        /* reader: checksum of every payload, in order */
    uint64_t         bad;
    rr_status        st;
} stream;

static void *stream_writer(void *arg)
{
    stream *s = arg;
    rr_writer *w = writer_with(s->ring, s->wait);
    if (!w) {
        s->st = RR_INVALID;
        return NULL;
    }
    for (uint64_t i = 0; i < s->events && s->st == RR_OK; i++)
        s->st = add_seq(w, i, SEC(30));
    rr_writer_close(w);
    rr_ring_close(s->ring);
    return NULL;
}

/* One writer and one reader of strategy `wait` pass `events` checksummed
 * events through a ring of 8 slots; the reader's running checksum of the
 * payloads it got, in order, comes back in *sum. */
static void stream_through(rr_mode mode, rr_wait_strategy wait, uint64_t events, uint64_t *sum,
                           uint64_t *bad)
{
    static stream s;
    s = (stream){ .ring = ring_new(8, mode, SP), .wait = wait, .events = events };
    *bad = 1;
    CHECK(s.ring);
    rr_reader *r = reader_with(s.ring, wait);
    CHECK(r);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, stream_writer, &s), 0);
    uint64_t got = 0, want = 0, h = 1469598103934665603ull;
    rr_event evs[4];
    size_t n = 0;
    rr_status st;
    /* alternate next and next_batch: both wait by the reader's strategy */
    while ((st = (got & 1) ? rr_reader_next_batch(r, evs, 4, &n, SEC(30))
                           : (n = 1, rr_reader_next(r, &evs[0], SEC(30)))) == RR_OK) {
        for (size_t i = 0; i < n; i++, got++) {
            uint64_t seq = UINT64_MAX;
            if (!payload_ok(evs[i].data, evs[i].len, 3, &seq) || seq != evs[i].sequence ||
                evs[i].event_type != (uint32_t)(seq & 0xffff) || (mode == BP && seq != want))
                s.bad++;
            want = seq + 1;
            h = (h ^ seq ^ ((uint64_t)evs[i].len << 40)) * 1099511628211ull;
        }
    }
    pthread_join(t, NULL);
    CHECK_ST(st, RR_CLOSED);
    CHECK_ST(s.st, RR_OK);
    if (mode == BP)
        CHECK_EQ(got, events);
    else
        CHECK_EQ(rr_reader_delivered(r) + rr_reader_lost(r), events);
    *sum = h;
    *bad = s.bad;
    rr_reader_close(r);
    CHECK_ST(rr_ring_destroy(s.ring), RR_OK);
}

TEST(test_every_strategy_delivers_the_stream_block_delivers)
{
    uint64_t events = check_scaled(STREAM_EVENTS);
    uint64_t want = 0, bad = 0;
    for (size_t i = 0; i < ALL; i++) {
        uint64_t sum = 0;
        int before = check_failures;
        stream_through(BP, all[i], all[i] == RR_WAIT_SPIN ? events / 10 + 1 : events, &sum,
                       &bad);
        if (check_failures != before) {
            fprintf(stderr, "     (wait %s)\n", rr_wait_strategy_name(all[i]));
            return;
        }
        CHECK_EQ(bad, 0);
        if (all[i] == RR_WAIT_SPIN) {   /* fewer events: compare with block's own */
            uint64_t block_sum = 0;
            stream_through(BP, RR_WAIT_BLOCK, events / 10 + 1, &block_sum, &bad);
            CHECK(sum == block_sum);
        } else if (i == 0) {
            want = sum;
        } else {
            CHECK(sum == want);
        }
    }
}

TEST(test_every_overwrite_reader_strategy_gets_only_intact_events)
{
    uint64_t events = check_scaled(STREAM_EVENTS);
    for (size_t i = 0; i < ALL; i++) {
        uint64_t sum = 0, bad = 0;
        stream_through(OW, all[i], all[i] == RR_WAIT_SPIN ? events / 10 + 1 : events, &sum,
                       &bad);
        CHECK_EQ(bad, 0);
    }
}

/* ---- timeouts and the close ----------------------------------------------------------------- */

/* Every wait of every strategy ends at its timeout: not before, and not
 * much after (generous: a loaded machine may not run the waiter for a while). */
TEST(test_every_strategy_honours_the_timeout_of_each_wait)
{
    for (size_t i = 0; i < ALL; i++) {
        rr_ring *ring = ring_new(2, BP, MP);
        CHECK(ring);
        rr_reader *r = reader_with(ring, all[i]);
        rr_writer *w = writer_with(ring, all[i]);
        CHECK(r && w);
        rr_event ev;
        size_t n = 0;
        double t0 = check_now();
        CHECK_ST(rr_reader_next(r, &ev, MS(60)), RR_TIMEOUT);
        double next_took = check_now() - t0;
        t0 = check_now();
        CHECK_ST(rr_reader_next_batch(r, &ev, 1, &n, MS(60)), RR_TIMEOUT);
        double batch_took = check_now() - t0;
        CHECK_ST(add_seq(w, 0, 0), RR_OK);
        CHECK_ST(add_seq(w, 1, 0), RR_OK);
        t0 = check_now();
        CHECK_ST(add_seq(w, 2, MS(60)), RR_TIMEOUT);   /* full: the reader gates */
        double add_took = check_now() - t0;
        rr_claim c;
        t0 = check_now();
        CHECK_ST(rr_writer_claim(w, 1, 0, &c, MS(60)), RR_TIMEOUT);
        double claim_took = check_now() - t0;
        if (!(next_took >= 0.06 && batch_took >= 0.06 && add_took >= 0.06 && claim_took >= 0.06 &&
              next_took < 5 && batch_took < 5 && add_took < 5 && claim_took < 5))
            fprintf(stderr, "     wait %s: next %.3f s, batch %.3f s, add %.3f s, claim %.3f s\n",
                    rr_wait_strategy_name(all[i]), next_took, batch_took, add_took, claim_took);
        CHECK(next_took >= 0.06 && next_took < 5.0);
        CHECK(batch_took >= 0.06 && batch_took < 5.0);
        CHECK(add_took >= 0.06 && add_took < 5.0);
        CHECK(claim_took >= 0.06 && claim_took < 5.0);
        /* a timeout of 0 never waits, whatever the strategy */
        CHECK_ST(add_seq(w, 2, 0), RR_FULL);
        rr_reader_close(r);
        rr_writer_close(w);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
    }
}

typedef struct closer_wait {
    rr_reader  *r;
    rr_writer  *w;
    atomic_int  entered;
    atomic_int  returned;
    rr_status   st;
} closer_wait;

static void *read_forever(void *arg)
{
    closer_wait *x = arg;
    rr_event ev;
    atomic_store(&x->entered, 1);
    x->st = rr_reader_next(x->r, &ev, RR_FOREVER);
    atomic_store(&x->returned, 1);
    return NULL;
}

static void *write_forever(void *arg)
{
    closer_wait *x = arg;
    atomic_store(&x->entered, 1);
    x->st = add_seq(x->w, 99, RR_FOREVER);
    atomic_store(&x->returned, 1);
    return NULL;
}

/* A reader and a writer of every strategy, all waiting without limit at once
 * (the readers for an event, the writers for room), wake at the close. */
TEST(test_the_close_wakes_waiting_readers_and_writers_of_every_strategy)
{
    rr_ring *ring = ring_new(2, BP, MP);
    CHECK(ring);
    rr_writer *filler = writer_with(ring, RR_WAIT_BLOCK);
    rr_reader *gate = reader_with(ring, RR_WAIT_BLOCK);   /* reads nothing: the ring fills */
    CHECK(filler && gate);
    CHECK_ST(add_seq(filler, 0, 0), RR_OK);
    CHECK_ST(add_seq(filler, 1, 0), RR_OK);
    static closer_wait readers[ALL], writers[ALL];
    pthread_t rt[ALL], wt[ALL];
    for (size_t i = 0; i < ALL; i++) {
        readers[i] = (closer_wait){ .r = reader_with(ring, all[i]) };
        writers[i] = (closer_wait){ .w = writer_with(ring, all[i]) };
        CHECK(readers[i].r && writers[i].w);
        rr_event ev;   /* the readers take what there is, then wait */
        CHECK_ST(rr_reader_next(readers[i].r, &ev, 0), RR_OK);
        CHECK_ST(rr_reader_next(readers[i].r, &ev, 0), RR_OK);
    }
    for (size_t i = 0; i < ALL; i++) {
        CHECK_EQ(pthread_create(&rt[i], NULL, read_forever, &readers[i]), 0);
        CHECK_EQ(pthread_create(&wt[i], NULL, write_forever, &writers[i]), 0);
    }
    for (size_t i = 0; i < ALL; i++)
        CHECK(WAIT_UNTIL(atomic_load(&readers[i].entered) && atomic_load(&writers[i].entered),
                         10.0));
    double t = check_now();
    WAIT_UNTIL(check_now() - t > 0.05, 1.0);   /* well into their waits */
    for (size_t i = 0; i < ALL; i++)
        CHECK(!atomic_load(&readers[i].returned) && !atomic_load(&writers[i].returned));
    double t_close = check_now();
    CHECK_ST(rr_ring_close(ring), RR_OK);
    for (size_t i = 0; i < ALL; i++) {
        CHECK(WAIT_UNTIL(atomic_load(&readers[i].returned) && atomic_load(&writers[i].returned),
                         10.0));
        pthread_join(rt[i], NULL);
        pthread_join(wt[i], NULL);
        CHECK_ST(readers[i].st, RR_CLOSED);
        CHECK_ST(writers[i].st, RR_CLOSED);
    }
    CHECK(check_now() - t_close < 5.0);
    for (size_t i = 0; i < ALL; i++) {
        rr_reader_close(readers[i].r);
        rr_writer_close(writers[i].w);
    }
    rr_reader_close(gate);
    rr_writer_close(filler);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

int main(void)
{
    alarm(600);   /* a waiter that never wakes fails the suite instead of hanging CI */
    RUN(test_options_choose_the_strategy_and_null_options_are_the_defaults);
    RUN(test_a_strategy_that_is_not_one_is_refused_naming_the_choices_and_nothing_is_taken);
    RUN(test_stats_show_each_readers_strategy_and_the_last_opened_writers);
    RUN(test_stats_of_another_process_show_its_strategies);
    reap_children();
    RUN(test_every_strategy_delivers_the_stream_block_delivers);
    RUN(test_every_overwrite_reader_strategy_gets_only_intact_events);
    RUN(test_every_strategy_honours_the_timeout_of_each_wait);
    RUN(test_the_close_wakes_waiting_readers_and_writers_of_every_strategy);
    return check_report();
}
