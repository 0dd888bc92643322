/*
 * stress_pipeline.c — stages over one ring (csrc/pipeline.c): readers that
 * follow readers, writable stages, and followed stages that leave mid-stream.
 *
 * Every event is SLOT bytes: [0, BASE) the writer's payload (payload_fill: its
 * sequence, a checksum, a pattern), then one 8-byte mark per writable stage
 * at BASE + 8 * k, zero as written. A writable stage checks, for every event,
 * its sequence (every event once, in order), the writer's checksum, that the
 * mark of every stage it follows (directly or not) is there and right, and
 * that its own mark and those of the stages after it are still zero; then it
 * stamps its own. A read-only stage cannot stamp the payload (two readers
 * that could hold one event at once may not both write it), so it publishes
 * its progress instead (`done`, the sequence after the last event it
 * finished, stored before it moves on and so before it releases the
 * events); a stage after it checks that the progress covers each event it
 * gets. So a follower that was ever handed an event before a stage it
 * follows was done with it fails the run.
 *
 *   line      writer -> s0 -> s1 -> s2, all writable, each reading with
 *             another call (next, next_batch, next_block)
 *   diamond   writer -> s0 (writable) -> s1, s2 (read-only, in parallel)
 *             -> s3 (writable, after s1 and s2 by name)
 *   closing   the line, with s1 closing mid-stream: s2 then follows s0; an
 *             event s2 gets without s1's mark must come after s1's last
 *   churn     s0 -> m1 -> ... -> m6 -> f, the m's closing one after another
 *             in a shuffled order while a thread opens and closes plain
 *             readers (from the latest event) in the entries they free: f
 *             must never get an event before s0 stamped it, whichever
 *             entry's gate it was looking at when its mask changed
 *   killed    the line over shared memory, s0 and s1 each in a process of
 *             their own, s2 a thread of the test's process; s1's process is
 *             SIGKILLed mid-stream, s1 is evicted (by s2's look at its
 *             leaders, or the writer's when the ring is full) and s2 follows
 *             s0, with the same checks
 *
 * 10^6 events (RR_STRESS_SCALE scales it; the killed run uses a fifth).
 */
#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "check.h"
#include "procs.h"
#include "stress.h"

#define SLOT     64u
#define BASE     32u           /* the writer's bytes; marks after them */
#define MARKS    4
#define CAP      1024u
#define SALT     0x9a7e11e5u
#define WAIT_NS  SEC(30)       /* a blocking call that waits this long has failed */
#define WAIT_S   30.0
#define MAX_READ 97u           /* an odd batch size: runs end anywhere in the ring */

static uint64_t mark_of(uint64_t seq, int stage)
{
    return ((seq + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(stage + 1) << 56) | 1;
}

static uint64_t mark_at(const void *data, int k)
{
    uint64_t m;
    memcpy(&m, (const unsigned char *)data + BASE + 8 * k, sizeof m);
    return m;
}

/* ---- the writer ---------------------------------------------------------------------- */

typedef struct pipe_writer {
    worker      w;
    rr_writer  *wr;
    uint64_t    events;
    uint64_t    pause_at;   /* wait for *resume after this many events (0: never) */
    atomic_int *resume;
} pipe_writer;

static void write_all(pipe_writer *pw)
{
    worker *w = &pw->w;
    uint64_t rng = 0xfeedbeefcafef00dull, i = 0;
    unsigned char bufs[16][SLOT];
    rr_payload items[16];
    memset(bufs, 0, sizeof bufs);
    while (i < pw->events) {
        uint32_t op = rng_next(&rng) % 3;
        uint64_t n = 1 + rng_next(&rng) % 16;
        if (n > pw->events - i)
            n = pw->events - i;
        if (pw->pause_at && i < pw->pause_at && i + n >= pw->pause_at) {
            n = pw->pause_at - i;   /* the run is mid-stream here: until *resume */
            W_CHECK(w, WAIT_UNTIL(atomic_load(pw->resume) || atomic_load(w->failed),
                                  WAIT_S * 4), "nobody resumed the writer");
        }
        rr_status st;
        if (op == 0) {
            payload_fill(bufs[0], BASE, i, SALT);
            st = rr_writer_add(pw->wr, bufs[0], SLOT, 0, NULL, WAIT_NS);
            n = 1;
        } else if (op == 1) {
            for (uint64_t k = 0; k < n; k++) {
                payload_fill(bufs[k], BASE, i + k, SALT);
                items[k] = (rr_payload){ bufs[k], SLOT, 0 };
            }
            st = rr_writer_add_batch(pw->wr, items, n, NULL, WAIT_NS);
        } else {
            rr_claim c;
            st = rr_writer_claim(pw->wr, (uint32_t)n, 0, &c, WAIT_NS);
            for (uint32_t k = 0; st == RR_OK && k < n; k++) {
                unsigned char *p = rr_claim_data(&c, k);
                payload_fill(p, BASE, i + k, SALT);
                memset(p + BASE, 0, SLOT - BASE);   /* the slot held an old event's marks */
            }
            if (st == RR_OK)
                st = rr_writer_publish(pw->wr, &c);
        }
        if (st == RR_CLOSED && atomic_load(w->failed))
            return;
        W_CHECK_OK(w, st, "writing", i);
        i += n;
    }
    rr_ring_close(w->ring);   /* the stages drain, then see RR_CLOSED */
}

static void *writer_thread(void *arg)
{
    write_all(arg);
    return NULL;
}

/* ---- a stage ---------------------------------------------------------------------------- */

enum { READ_NEXT, READ_BATCH, READ_BLOCK };

typedef struct stage stage;
struct stage {
    worker       w;
    rr_reader   *r;
    int          mark;          /* its mark's index, or -1: read-only */
    int          how;           /* READ_* */
    uint64_t     marked;        /* marks that must be there */
    uint64_t     blank;         /* marks that must still be zero (its own included) */
    stage       *waits[2];      /* read-only stages it follows: their `done` covers it */
    stage       *leaver;        /* a stage it follows that may leave mid-stream */
    uint64_t     events;        /* how many it must see (0: it leaves early) */
    uint64_t     leave_after;   /* leave (close) after this many events, 0: never */
    uint64_t     seen;
    _Atomic uint64_t done;      /* sequence after the last event it finished */
    _Atomic int  left;          /* it closed (or its process was killed) */
};

/* The left stage's `done` when it left: events after it carry no mark of it. */
static bool leaver_ok(const stage *s, uint64_t seq, uint64_t m)
{
    const stage *l = s->leaver;
    if (m == mark_of(seq, l->mark))
        return true;
    return m == 0 && atomic_load(&l->left) && seq >= atomic_load(&l->done);
}

static bool check_event(stage *s, const void *data, uint32_t len, uint64_t seq)
{
    worker *w = &s->w;
    uint64_t ps = 0;
    if (seq != s->seen) {
        worker_fail(w, __LINE__, "got event %" PRIu64 ", wanted %" PRIu64, seq, s->seen);
        return false;
    }
    if (len != SLOT || !payload_ok(data, BASE, SALT, &ps) || ps != seq) {
        worker_fail(w, __LINE__, "event %" PRIu64 ": the writer's payload is corrupt", seq);
        return false;
    }
    for (int k = 0; k < MARKS; k++) {
        uint64_t m = mark_at(data, k);
        if (s->leaver && k == s->leaver->mark) {
            if (!leaver_ok(s, seq, m)) {
                worker_fail(w, __LINE__, "event %" PRIu64 ": stage %d's mark is %#" PRIx64
                            " (it left: %d, at %" PRIu64 ")", seq, k, m,
                            atomic_load(&s->leaver->left), atomic_load(&s->leaver->done));
                return false;
            }
        } else if ((s->marked >> k & 1) && m != mark_of(seq, k)) {
            worker_fail(w, __LINE__, "event %" PRIu64 " came before stage %d stamped it "
                        "(mark %#" PRIx64 ")", seq, k, m);
            return false;
        } else if ((s->blank >> k & 1) && m != 0) {
            worker_fail(w, __LINE__, "event %" PRIu64 " was stamped by stage %d, which "
                        "follows this one, before this one saw it", seq, k);
            return false;
        }
    }
    for (int k = 0; k < 2 && s->waits[k]; k++)
        if (atomic_load_explicit(&s->waits[k]->done, memory_order_acquire) <= seq) {
            worker_fail(w, __LINE__, "event %" PRIu64 " came before read-only stage %s "
                        "was done with it (done to %" PRIu64 ")", seq, s->waits[k]->w.name,
                        atomic_load(&s->waits[k]->done));
            return false;
        }
    return true;
}

/* One event: check it, then stamp it (a writable stage). */
static bool take(stage *s, const void *data, uint32_t len, uint64_t seq)
{
    if (!check_event(s, data, len, seq))
        return false;
    if (s->mark >= 0) {
        void *p = NULL;
        rr_status st = rr_reader_writable_data(s->r, seq, &p);
        if (st != RR_OK || p != data) {
            worker_fail(&s->w, __LINE__, "rr_reader_writable_data(%" PRIu64 ") returned %s "
                        "(%s)", seq, rr_strerror(st), rr_last_error());
            return false;
        }
        uint64_t m = mark_of(seq, s->mark);
        memcpy((unsigned char *)p + BASE + 8 * s->mark, &m, sizeof m);
    }
    s->seen++;
    return true;
}

static void run_stage(stage *s)
{
    worker *w = &s->w;
    rr_event evs[MAX_READ];
    for (;;) {
        size_t n = 0;
        rr_status st;
        if (s->how == READ_NEXT) {
            st = rr_reader_next(s->r, &evs[0], WAIT_NS);
            n = st == RR_OK;
            if (n && !take(s, evs[0].data, evs[0].len, evs[0].sequence))
                return;
        } else if (s->how == READ_BATCH) {
            st = rr_reader_next_batch(s->r, evs, MAX_READ, &n, WAIT_NS);
            for (size_t i = 0; st == RR_OK && i < n; i++)
                if (!take(s, evs[i].data, evs[i].len, evs[i].sequence))
                    return;
        } else {
            rr_block b;
            st = rr_reader_next_block(s->r, MAX_READ, &b, WAIT_NS);
            n = st == RR_OK ? b.count : 0;
            for (size_t i = 0; i < n; i++) {
                uint32_t len = *(const uint32_t *)(const void *)((const char *)b.lengths +
                                                                 i * b.meta_stride);
                if (!take(s, b.data + i * b.stride, len, b.first_sequence + i))
                    return;
            }
        }
        if (st == RR_CLOSED)
            break;
        if (st != RR_OK && atomic_load(w->failed))
            return;
        W_CHECK_OK(w, st, "reading", s->seen);
        /* finished with them: before the next call releases them (R3) */
        atomic_store_explicit(&s->done, s->seen, memory_order_release);
        if (s->leave_after && s->seen >= s->leave_after) {
            atomic_store(&s->left, 1);   /* before the close rewrites its followers' masks */
            rr_reader_close(s->r);
            s->r = NULL;
            return;
        }
    }
    W_CHECK(w, s->seen == s->events, "saw %" PRIu64 " events of %" PRIu64, s->seen, s->events);
}

static void *stage_thread(void *arg)
{
    run_stage(arg);
    return NULL;
}

static rr_status open_stage(rr_ring *ring, stage *s, const char *name, const char *const *after,
                            size_t n_after)
{
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.wait = check_wait();
    o.name = name;
    o.after_names = after;
    o.after_names_count = n_after;
    o.writable = s->mark >= 0;
    return rr_reader_open_opts(ring, &o, &s->r);
}

/* ---- in one process ----------------------------------------------------------------------- */

/* Runs the writer and the stages (their readers already open) in threads. */
static void run_threads(rr_ring *ring, pipe_writer *pw, stage *st, size_t n, atomic_int *failed)
{
    pthread_t tw, ts[8];
    pw->w = (worker){ .name = "writer", .ring = ring, .failed = failed };
    for (size_t i = 0; i < n; i++) {
        st[i].w.ring = ring;
        st[i].w.failed = failed;
        pthread_create(&ts[i], NULL, stage_thread, &st[i]);
    }
    pthread_create(&tw, NULL, writer_thread, pw);
    pthread_join(tw, NULL);
    for (size_t i = 0; i < n; i++)
        pthread_join(ts[i], NULL);
}

static rr_ring *pipe_ring(void)
{
    rr_config cfg = { SLOT, CAP, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE };
    rr_ring *ring = NULL;
    return rr_ring_create(&cfg, &ring) == RR_OK ? ring : NULL;
}

static void close_stages(stage *st, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rr_reader_close(st[i].r);
}

TEST(test_a_line_of_three_writable_stages_sees_every_earlier_mark_and_no_later_one)
{
    uint64_t n_events = check_scaled(1000000);
    rr_ring *ring = pipe_ring();
    CHECK(ring);
    atomic_int failed = 0;
    pipe_writer pw = { .events = n_events };
    stage st[3] = {
        { .w.name = "s0", .mark = 0, .how = READ_BATCH, .blank = 0x7, .events = n_events },
        { .w.name = "s1", .mark = 1, .how = READ_NEXT, .marked = 0x1, .blank = 0x6,
          .events = n_events },
        { .w.name = "s2", .mark = 2, .how = READ_BLOCK, .marked = 0x3, .blank = 0x4,
          .events = n_events },
    };
    const char *a0[] = { "s0" }, *a1[] = { "s1" };
    CHECK_ST(open_stage(ring, &st[0], "s0", NULL, 0), RR_OK);
    CHECK_ST(open_stage(ring, &st[1], "s1", a0, 1), RR_OK);
    CHECK_ST(open_stage(ring, &st[2], "s2", a1, 1), RR_OK);
    CHECK_ST(check_writer_open(ring, &pw.wr), RR_OK);
    run_threads(ring, &pw, st, 3, &failed);
    worker *ws[] = { &pw.w, &st[0].w, &st[1].w, &st[2].w };
    CHECK_WORKERS(ws, 4);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(st[i].seen, n_events);
    rr_writer_close(pw.wr);
    close_stages(st, 3);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_a_diamond_joins_two_parallel_stages_before_the_last)
{
    uint64_t n_events = check_scaled(1000000);
    rr_ring *ring = pipe_ring();
    CHECK(ring);
    atomic_int failed = 0;
    pipe_writer pw = { .events = n_events };
    stage st[4] = {
        { .w.name = "unmarshal", .mark = 0, .how = READ_BLOCK, .blank = 0x3,
          .events = n_events },
        { .w.name = "journal", .mark = -1, .how = READ_BATCH, .marked = 0x1, .blank = 0x2,
          .events = n_events },
        { .w.name = "replicate", .mark = -1, .how = READ_NEXT, .marked = 0x1, .blank = 0x2,
          .events = n_events },
        { .w.name = "business", .mark = 1, .how = READ_BATCH, .marked = 0x1, .blank = 0x2,
          .events = n_events },
    };
    st[3].waits[0] = &st[1];
    st[3].waits[1] = &st[2];
    const char *a0[] = { "unmarshal" }, *a3[] = { "journal", "replicate" };
    CHECK_ST(open_stage(ring, &st[0], "unmarshal", NULL, 0), RR_OK);
    CHECK_ST(open_stage(ring, &st[1], "journal", a0, 1), RR_OK);
    CHECK_ST(open_stage(ring, &st[2], "replicate", a0, 1), RR_OK);
    CHECK_ST(open_stage(ring, &st[3], "business", a3, 2), RR_OK);
    CHECK_ST(check_writer_open(ring, &pw.wr), RR_OK);
    run_threads(ring, &pw, st, 4, &failed);
    worker *ws[] = { &pw.w, &st[0].w, &st[1].w, &st[2].w, &st[3].w };
    CHECK_WORKERS(ws, 5);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(st[i].seen, n_events);
    rr_writer_close(pw.wr);
    close_stages(st, 4);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_a_stage_closing_mid_stream_hands_its_follower_to_the_stage_before_it)
{
    uint64_t n_events = check_scaled(1000000);
    rr_ring *ring = pipe_ring();
    CHECK(ring);
    atomic_int failed = 0;
    pipe_writer pw = { .events = n_events };
    stage st[3] = {
        { .w.name = "s0", .mark = 0, .how = READ_NEXT, .blank = 0x7, .events = n_events },
        { .w.name = "s1", .mark = 1, .how = READ_BATCH, .marked = 0x1, .blank = 0x6,
          .leave_after = n_events / 3 + 1 },
        { .w.name = "s2", .mark = 2, .how = READ_BATCH, .marked = 0x1, .blank = 0x4,
          .events = n_events },
    };
    st[2].leaver = &st[1];
    const char *a0[] = { "s0" }, *a1[] = { "s1" };
    CHECK_ST(open_stage(ring, &st[0], "s0", NULL, 0), RR_OK);
    CHECK_ST(open_stage(ring, &st[1], "s1", a0, 1), RR_OK);
    CHECK_ST(open_stage(ring, &st[2], "s2", a1, 1), RR_OK);
    CHECK_ST(check_writer_open(ring, &pw.wr), RR_OK);
    uint32_t s0_index = rr_reader_index(st[0].r);
    run_threads(ring, &pw, st, 3, &failed);
    worker *ws[] = { &pw.w, &st[0].w, &st[1].w, &st[2].w };
    CHECK_WORKERS(ws, 4);
    CHECK(atomic_load(&st[1].left));
    CHECK_EQ(rr_reader_after(st[2].r), UINT64_C(1) << s0_index);
    CHECK_EQ(st[2].seen, n_events);
    rr_writer_close(pw.wr);
    rr_reader_close(st[0].r);
    rr_reader_close(st[2].r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* Opens and closes plain readers until told to stop: they take the entries
 * the leaving stages free, with gates far ahead of the stages' own. */
typedef struct churner {
    worker     w;
    _Atomic int stop;
    uint64_t   opened;
} churner;

static void *churn_thread(void *arg)
{
    churner *c = arg;
    while (!atomic_load(&c->stop) && !atomic_load(c->w.failed)) {
        rr_reader *r = NULL;
        rr_status st = check_reader_open(c->w.ring, RR_START_LATEST, &r);
        if (st == RR_CLOSED)
            break;
        if (st != RR_OK) {
            worker_fail(&c->w, __LINE__, "open: %s", rr_last_error());
            break;
        }
        c->opened++;
        rr_reader_close(r);
        sched_yield();
    }
    return NULL;
}

TEST(test_stages_leaving_one_after_another_while_new_readers_take_their_entries_never_let_a_follower_overtake)
{
    enum { MIDS = 6 };
    uint64_t n_events = check_scaled(1000000);
    rr_ring *ring = pipe_ring();
    CHECK(ring);
    atomic_int failed = 0;
    pipe_writer pw = { .events = n_events };
    /* s0 -> m1 -> ... -> m6 -> f; the m's leave in a shuffled order */
    stage st[MIDS + 2];
    memset(st, 0, sizeof st);
    static const uint64_t leave_at[MIDS] = { 5, 2, 6, 1, 4, 3 };
    static const char *names[MIDS + 2] = { "s0", "m1", "m2", "m3", "m4", "m5", "m6", "f" };
    st[0] = (stage){ .w.name = "s0", .mark = 0, .how = READ_BATCH, .blank = 0x1,
                     .events = n_events };
    CHECK_ST(open_stage(ring, &st[0], names[0], NULL, 0), RR_OK);
    for (int k = 1; k <= MIDS + 1; k++) {
        st[k] = (stage){ .w.name = names[k], .mark = -1, .how = k % 2 ? READ_BATCH : READ_NEXT,
                         .marked = 0x1, .events = n_events };
        if (k <= MIDS)
            st[k].leave_after = n_events * leave_at[k - 1] / (MIDS + 2) + 1;
        const char *after[] = { names[k - 1] };
        CHECK_ST(open_stage(ring, &st[k], names[k], after, 1), RR_OK);
    }
    st[MIDS + 1].how = READ_BLOCK;
    CHECK_ST(check_writer_open(ring, &pw.wr), RR_OK);
    churner ch = { .w = { .name = "churner", .ring = ring, .failed = &failed } };
    pthread_t tc;
    pthread_create(&tc, NULL, churn_thread, &ch);
    run_threads(ring, &pw, st, MIDS + 2, &failed);
    atomic_store(&ch.stop, 1);
    pthread_join(tc, NULL);
    worker *ws[MIDS + 4] = { &pw.w, &ch.w };
    for (int k = 0; k < MIDS + 2; k++)
        ws[k + 2] = &st[k].w;
    CHECK_WORKERS(ws, MIDS + 4);
    CHECK_EQ(st[MIDS + 1].seen, n_events);
    CHECK_EQ(rr_reader_after(st[MIDS + 1].r), UINT64_C(1) << rr_reader_index(st[0].r));
    CHECK(ch.opened > 0);
    rr_writer_close(pw.wr);
    rr_reader_close(st[0].r);
    rr_reader_close(st[MIDS + 1].r);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

/* ---- across processes, a stage killed ----------------------------------------------------- */

/* Shared with the stage processes: their stage records (errors, progress). */
typedef struct shared_run {
    atomic_int failed;
    stage      st[3];
} shared_run;

static shared_run *sh;

/* A stage process: open the ring by name, run, exit 0 when every check held. */
static void stage_process(const char *ring_name, int k, const char *name, const char *after)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    stage *s = &sh->st[k];
    rr_ring *ring = NULL;
    const char *a[] = { after };
    if (rr_shm_open(ring_name, &ring) != RR_OK ||
        open_stage(ring, s, name, after ? a : NULL, after ? 1 : 0) != RR_OK) {
        fprintf(stderr, "%s: cannot open: %s\n", name, rr_last_error());
        _exit(2);
    }
    atomic_store(&s->left, 0);
    s->w.ring = ring;
    s->w.failed = &sh->failed;
    run_stage(s);
    _exit(s->w.err[0] ? 1 : 0);
}

/* The reader named `name` in the ring's stats: its cursor, or 0. */
static uint64_t cursor_of(rr_ring *ring, const char *name)
{
    rr_ring_stats s;
    if (rr_ring_stats_get(ring, &s) != RR_OK)
        return 0;
    for (uint32_t i = 0; i < s.reader_count; i++)
        if (strcmp(s.readers[i].name, name) == 0)
            return s.readers[i].cursor;
    return 0;
}

TEST(test_a_stage_whose_process_is_killed_mid_stream_is_evicted_and_its_follower_goes_on)
{
    uint64_t n_events = check_scaled(200000);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(sh != MAP_FAILED);
    memset(sh, 0, sizeof *sh);
    const char *name = fresh_name();
    rr_config cfg = { SLOT, CAP, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE };
    rr_ring *ring = NULL;
    CHECK_ST(rr_shm_create(name, &cfg, 0600, &ring), RR_OK);
    sh->st[0] = (stage){ .w.name = "s0", .mark = 0, .how = READ_BATCH, .blank = 0x7,
                         .events = n_events };
    sh->st[1] = (stage){ .w.name = "s1", .mark = 1, .how = READ_NEXT, .marked = 0x1,
                         .blank = 0x6, .events = n_events };
    sh->st[2] = (stage){ .w.name = "s2", .mark = 2, .how = READ_BLOCK, .marked = 0x1,
                         .blank = 0x4, .events = n_events };
    sh->st[2].leaver = &sh->st[1];
    pid_t p0 = spawn();
    if (p0 == 0)
        stage_process(name, 0, "s0", NULL);
    CHECK(WAIT_UNTIL(rr_ring_reader_find(ring, "s0", &(uint32_t){ 0 }) == RR_OK, WAIT_S));
    pid_t p1 = spawn();
    if (p1 == 0)
        stage_process(name, 1, "s1", "s0");
    CHECK(WAIT_UNTIL(rr_ring_reader_find(ring, "s1", &(uint32_t){ 0 }) == RR_OK, WAIT_S));
    stage *s2 = &sh->st[2];
    const char *a2[] = { "s1" };
    CHECK_ST(open_stage(ring, s2, "s2", a2, 1), RR_OK);
    s2->w.ring = ring;
    s2->w.failed = &sh->failed;
    /* the writer stops half way until s1's process is killed: mid-stream at
     * any scale */
    atomic_int killed = 0;
    pipe_writer pw = { .events = n_events, .pause_at = n_events / 2, .resume = &killed };
    pw.w = (worker){ .name = "writer", .ring = ring, .failed = &sh->failed };
    CHECK_ST(check_writer_open(ring, &pw.wr), RR_OK);
    uint32_t s0_index = 0;
    CHECK_ST(rr_ring_reader_find(ring, "s0", &s0_index), RR_OK);
    pthread_t tw, t2;
    pthread_create(&t2, NULL, stage_thread, s2);
    pthread_create(&tw, NULL, writer_thread, &pw);
    /* mid-stream: s1 has read a third (the writer waits at half) */
    bool reached = WAIT_UNTIL(cursor_of(ring, "s1") >= n_events / 3 || atomic_load(&sh->failed),
                              WAIT_S * 4);
    atomic_store(&sh->st[1].left, 1);   /* before the kill: s2 may see unmarked events after it */
    kill(p1, SIGKILL);
    int status = 0;
    waitpid(p1, &status, 0);
    atomic_store(&killed, 1);
    pthread_join(tw, NULL);
    pthread_join(t2, NULL);
    int st0 = 0;
    waitpid(p0, &st0, 0);
    CHECK(reached);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);   /* killed, not finished */
    worker *ws[] = { &pw.w, &s2->w };
    CHECK_WORKERS(ws, 2);
    CHECK(WIFEXITED(st0) && WEXITSTATUS(st0) == 0);   /* s0's own checks held */
    CHECK_EQ(s2->seen, n_events);
    CHECK_EQ(rr_reader_after(s2->r), UINT64_C(1) << s0_index);
    rr_ring_stats rs;
    CHECK_ST(rr_ring_stats_get(ring, &rs), RR_OK);
    CHECK(rs.readers_evicted >= 1);
    rr_writer_close(pw.wr);
    rr_reader_close(s2->r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
    munmap(sh, sizeof *sh);
}

int main(void)
{
    watchdog_arm();
    RUN(test_a_line_of_three_writable_stages_sees_every_earlier_mark_and_no_later_one);
    RUN(test_a_diamond_joins_two_parallel_stages_before_the_last);
    RUN(test_a_stage_closing_mid_stream_hands_its_follower_to_the_stage_before_it);
    RUN(test_stages_leaving_one_after_another_while_new_readers_take_their_entries_never_let_a_follower_overtake);
    RUN(test_a_stage_whose_process_is_killed_mid_stream_is_evicted_and_its_follower_goes_on);
    reap_children();
    return check_report();
}
