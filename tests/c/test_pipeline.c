/*
 * test_pipeline.c — named readers, followers (`after`) and writable readers
 * (csrc/pipeline.c), one process. Every test builds its own ring.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "check.h"
#include "layout.h"
#include "procs.h"

static rr_ring *ring_of(uint64_t capacity, rr_mode mode, rr_producers producers)
{
    rr_config cfg = { .slot_size = 32, .capacity = capacity, .mode = mode,
                      .producers = producers };
    rr_ring *ring = NULL;
    if (rr_ring_create(&cfg, &ring) != RR_OK)
        return NULL;
    return ring;
}

static rr_ring *bp_ring(uint64_t capacity)
{
    return ring_of(capacity, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE);
}

static rr_status open_named(rr_ring *ring, const char *name, rr_reader **out)
{
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.name = name;
    return rr_reader_open_opts(ring, &o, out);
}

static rr_status open_after(rr_ring *ring, const char *name, rr_reader *lead, bool writable,
                            rr_reader **out)
{
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.name = name;
    o.after = (const rr_reader *const *)&lead;
    o.after_count = lead ? 1 : 0;
    o.writable = writable;
    return rr_reader_open_opts(ring, &o, out);
}

static rr_status open_after_names(rr_ring *ring, const char *name, const char *const *names,
                                  size_t n, bool writable, rr_reader **out)
{
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.name = name;
    o.after_names = names;
    o.after_names_count = n;
    o.writable = writable;
    return rr_reader_open_opts(ring, &o, out);
}

static bool message_has(const char *part)
{
    return strstr(rr_last_error(), part) != NULL;
}

static void add_values(rr_writer *w, uint64_t from, uint64_t n)
{
    for (uint64_t v = from; v < from + n; v++)
        rr_writer_add(w, &v, sizeof v, 0, NULL, 0);
}

static uint64_t value_of(const rr_event *ev)
{
    uint64_t v;
    memcpy(&v, ev->data, sizeof v);
    return v;
}

/* ---- names ---------------------------------------------------------------------- */

/* rr__name_read_hook: the reader named `hook_from` closes, and one named
 * `hook_to` opens in the same entry (the same process: the same owner word),
 * between rr__entry_name's loads of the name's first and second words. */
static const char *hook_from = "aaaaaaaabbbbbbbbccccccccddddddd";
static const char *hook_to = "eeeeeeeeffffffffgggggggghhhhhhh";
static rr_reader *hook_reader;
static int hook_calls;

static void rename_in_the_middle(const rr_ring *ring, uint32_t i)
{
    if (hook_calls++ > 0 || i != rr_reader_index(hook_reader))
        return;
    rr_reader_close(hook_reader);
    hook_reader = NULL;
    CHECK_ST(open_named((rr_ring *)ring, hook_to, &hook_reader), RR_OK);
    CHECK_EQ(rr_reader_index(hook_reader), i);
}

TEST(test_a_name_that_changes_while_it_is_read_is_read_whole_or_not_at_all)
{
    rr_ring *ring = bp_ring(8);
    CHECK_ST(open_named(ring, hook_from, &hook_reader), RR_OK);
    /* the first word of one name, the rest of the other: no reader's */
    hook_calls = 0;
    rr__name_read_hook = rename_in_the_middle;
    uint32_t idx = 99;
    rr_status st = rr_ring_reader_find(ring, "aaaaaaaaffffffffgggggggghhhhhhh", &idx);
    rr__name_read_hook = NULL;
    CHECK(hook_calls >= 1);   /* the rename happened mid-read */
    CHECK_ST(st, RR_INVALID);
    CHECK_EQ(idx, 99);
    /* and the new name, read while it changes, is found whole */
    rr_reader_close(hook_reader);
    CHECK_ST(open_named(ring, hook_from, &hook_reader), RR_OK);
    hook_calls = 0;
    rr__name_read_hook = rename_in_the_middle;
    st = rr_ring_reader_find(ring, hook_to, &idx);
    rr__name_read_hook = NULL;
    CHECK_ST(st, RR_OK);
    CHECK_EQ(idx, rr_reader_index(hook_reader));
    /* the stats read the same way */
    rr_reader_close(hook_reader);
    CHECK_ST(open_named(ring, hook_from, &hook_reader), RR_OK);
    hook_calls = 0;
    rr__name_read_hook = rename_in_the_middle;
    static rr_ring_stats stats;
    st = rr_ring_stats_get(ring, &stats);
    rr__name_read_hook = NULL;
    CHECK_ST(st, RR_OK);
    CHECK(hook_calls >= 1);   /* the rename happened mid-read */
    CHECK_EQ(stats.reader_count, 1);
    CHECK(strcmp(stats.readers[0].name, hook_to) == 0);
    rr_reader_close(hook_reader);
    rr_ring_destroy(ring);
}


TEST(test_a_named_reader_keeps_its_name_in_the_handle_the_stats_and_the_table)
{
    rr_ring *ring = bp_ring(8);
    rr_reader *r = NULL, *plain = NULL;
    CHECK_ST(open_named(ring, "journal", &r), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &plain), RR_OK);
    CHECK(strcmp(rr_reader_name(r), "journal") == 0);
    CHECK(strcmp(rr_reader_name(plain), "") == 0);
    uint32_t at = 99;
    CHECK_ST(rr_ring_reader_find(ring, "journal", &at), RR_OK);
    CHECK_EQ(at, rr_reader_index(r));
    CHECK_ST(rr_ring_reader_find(ring, "nobody", &at), RR_INVALID);
    CHECK(message_has("no reader named 'nobody'"));
    rr_ring_stats s;
    CHECK_ST(rr_ring_stats_get(ring, &s), RR_OK);
    CHECK_EQ(s.reader_count, 2);
    bool seen = false;
    for (uint32_t i = 0; i < s.reader_count; i++) {
        if (s.readers[i].index == rr_reader_index(r)) {
            CHECK(strcmp(s.readers[i].name, "journal") == 0);
            seen = true;
        } else {
            CHECK(strcmp(s.readers[i].name, "") == 0);
        }
        CHECK_EQ(s.readers[i].after, 0);
        CHECK(!s.readers[i].writable);
    }
    CHECK(seen);
    rr_reader_close(r);
    rr_reader_close(plain);
    rr_ring_destroy(ring);
}

TEST(test_a_duplicate_name_is_refused_and_the_name_is_free_again_after_close)
{
    rr_ring *ring = bp_ring(8);
    rr_reader *a = NULL, *b = NULL;
    CHECK_ST(open_named(ring, "stage", &a), RR_OK);
    CHECK_ST(open_named(ring, "stage", &b), RR_INVALID);
    CHECK(message_has("already has a reader named 'stage'"));
    CHECK(b == NULL);
    rr_ring_stats s;
    rr_ring_stats_get(ring, &s);
    CHECK_EQ(s.reader_count, 1);   /* the refused one left no entry behind */
    rr_reader_close(a);
    CHECK_ST(open_named(ring, "stage", &b), RR_OK);
    rr_reader_close(b);
    rr_ring_destroy(ring);
}

TEST(test_names_that_are_too_long_hold_nul_or_are_not_utf8_are_refused)
{
    rr_ring *ring = bp_ring(8);
    rr_reader *r = NULL;
    char longest[RR_NAME_MAX + 1], too_long[RR_NAME_MAX + 2];
    memset(longest, 'a', RR_NAME_MAX);
    longest[RR_NAME_MAX] = '\0';
    memset(too_long, 'b', RR_NAME_MAX + 1);
    too_long[RR_NAME_MAX + 1] = '\0';
    CHECK_ST(open_named(ring, longest, &r), RR_OK);
    rr_reader_close(r);
    CHECK_ST(open_named(ring, too_long, &r), RR_INVALID);
    CHECK(message_has("32 bytes long; names hold at most 31"));
    CHECK_ST(open_named(ring, "bad\xff", &r), RR_INVALID);
    CHECK(message_has("not valid UTF-8 (byte 3 is 0xff)"));
    CHECK_ST(open_named(ring, "\xc0\xaf", &r), RR_INVALID);      /* overlong '/' */
    CHECK(message_has("not valid UTF-8"));
    CHECK_ST(open_named(ring, "\xed\xa0\x80", &r), RR_INVALID);  /* a surrogate */
    CHECK_ST(open_named(ring, "caf\xc3", &r), RR_INVALID);       /* cut short */
    CHECK_ST(open_named(ring, "caf\xc3\xa9 \xe2\x82\xac", &r), RR_OK);   /* "café €" */
    rr_reader_close(r);
    CHECK_ST(rr_reader_name_check("a\0b", 3), RR_INVALID);
    CHECK(message_has("NUL byte (at byte 1)"));
    CHECK_ST(rr_reader_name_check("ok", 2), RR_OK);
    CHECK_ST(rr_reader_name_check("", 0), RR_OK);
    CHECK_ST(rr_reader_name_check(too_long, RR_NAME_MAX + 1), RR_INVALID);
    rr_ring_destroy(ring);
}

/* ---- following: refusals --------------------------------------------------------------- */

TEST(test_an_unknown_name_in_after_names_is_refused_naming_it)
{
    rr_ring *ring = bp_ring(8);
    rr_reader *lead = NULL, *f = NULL;
    CHECK_ST(open_named(ring, "journal", &lead), RR_OK);
    const char *names[] = { "journal", "replicate" };
    CHECK_ST(open_after_names(ring, "business", names, 2, false, &f), RR_INVALID);
    CHECK(message_has("after_names[1]: the ring has no reader named 'replicate'"));
    const char *empty[] = { "" };
    CHECK_ST(open_after_names(ring, NULL, empty, 1, false, &f), RR_INVALID);
    CHECK(message_has("after_names[0] is empty"));
    rr_reader_close(lead);
    rr_ring_destroy(ring);
}

TEST(test_a_reader_naming_itself_in_after_names_is_refused_as_a_cycle)
{
    rr_ring *ring = bp_ring(8);
    rr_reader *r = NULL;
    const char *names[] = { "loop" };
    CHECK_ST(open_after_names(ring, "loop", names, 1, false, &r), RR_INVALID);
    CHECK(message_has("'loop' cannot follow itself"));
    CHECK(message_has("cycle"));
    rr_ring_destroy(ring);
}

TEST(test_after_refuses_null_handles_and_readers_of_another_ring)
{
    rr_ring *ring = bp_ring(8), *other = bp_ring(8);
    rr_reader *stranger = NULL, *f = NULL;
    CHECK_ST(rr_reader_open(other, RR_START_OLDEST, &stranger), RR_OK);
    CHECK_ST(open_after(ring, NULL, stranger, false, &f), RR_INVALID);
    CHECK(message_has("after[0] is a reader of another ring"));
    const rr_reader *none[] = { NULL };
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.after = none;
    o.after_count = 1;
    CHECK_ST(rr_reader_open_opts(ring, &o, &f), RR_INVALID);
    CHECK(message_has("after[0] is NULL"));
    rr_reader_close(stranger);
    rr_ring_destroy(other);
    rr_ring_destroy(ring);
}

TEST(test_an_overwrite_ring_refuses_followers_and_writable_readers_but_takes_names)
{
    rr_ring *ring = ring_of(8, RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE);
    rr_reader *lead = NULL, *f = NULL;
    CHECK_ST(open_named(ring, "tap", &lead), RR_OK);
    CHECK_ST(open_after(ring, NULL, lead, false, &f), RR_INVALID);
    CHECK(message_has("overwrite ring cannot follow other readers"));
    const char *names[] = { "tap" };
    CHECK_ST(open_after_names(ring, NULL, names, 1, false, &f), RR_INVALID);
    CHECK(message_has("overwrite ring cannot follow"));
    CHECK_ST(open_after(ring, "w", NULL, true, &f), RR_INVALID);
    CHECK(message_has("overwrite ring cannot be writable"));
    rr_reader_close(lead);
    rr_ring_destroy(ring);
}

/* ---- following: gating ------------------------------------------------------------------ */

TEST(test_a_follower_is_handed_no_event_before_its_leader_released_it)
{
    rr_ring *ring = bp_ring(8);
    rr_writer *w = NULL;
    rr_reader *lead = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_named(ring, "journal", &lead), RR_OK);
    CHECK_ST(open_after(ring, "business", lead, false, &f), RR_OK);
    CHECK_EQ(rr_reader_after(f), UINT64_C(1) << rr_reader_index(lead));
    add_values(w, 0, 4);
    rr_event ev;
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);       /* the leader has read nothing */
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);       /* handed 0, not yet released */
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);       /* releases 0, handed 1 */
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_OK);
    CHECK_EQ(value_of(&ev), 0);
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    CHECK_ST(rr_reader_hold(lead, 1), RR_OK);             /* a held event stays unreleased */
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);       /* handed 2 */
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);       /* handed 3 */
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    CHECK_ST(rr_reader_release(lead, 1), RR_OK);          /* releases 1 and 2 */
    size_t n = 0;
    rr_event evs[8];
    CHECK_ST(rr_reader_next_batch(f, evs, 8, &n, 0), RR_OK);
    CHECK_EQ(n, 2);
    CHECK_EQ(value_of(&evs[0]), 1);
    CHECK_EQ(value_of(&evs[1]), 2);
    CHECK_ST(rr_reader_next_batch(f, evs, 8, &n, 0), RR_EMPTY);
    rr_reader_close(f);
    rr_reader_close(lead);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_follower_of_two_readers_waits_for_the_slower)
{
    rr_ring *ring = bp_ring(16);
    rr_writer *w = NULL;
    rr_reader *a = NULL, *b = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_named(ring, "journal", &a), RR_OK);
    CHECK_ST(open_named(ring, "replicate", &b), RR_OK);
    const char *names[] = { "journal", "replicate" };
    CHECK_ST(open_after_names(ring, "business", names, 2, false, &f), RR_OK);
    add_values(w, 0, 10);
    rr_event evs[16];
    size_t n;
    CHECK_ST(rr_reader_next_batch(a, evs, 16, &n, 0), RR_OK);   /* a: handed 0..9 */
    CHECK_ST(rr_reader_next_batch(a, evs, 16, &n, 0), RR_EMPTY); /* a: released 0..9 */
    CHECK_ST(rr_reader_next_batch(b, evs, 3, &n, 0), RR_OK);     /* b: handed 0..2 */
    CHECK_ST(rr_reader_next_batch(b, evs, 3, &n, 0), RR_OK);     /* b: released 0..2 */
    CHECK_ST(rr_reader_next_batch(f, evs, 16, &n, 0), RR_OK);
    CHECK_EQ(n, 3);
    CHECK_EQ(value_of(&evs[2]), 2);
    CHECK_ST(rr_reader_next_batch(f, evs, 16, &n, 0), RR_EMPTY);
    rr_reader_close(f);
    rr_reader_close(a);
    rr_reader_close(b);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_followers_block_ends_where_its_leader_stopped)
{
    rr_ring *ring = bp_ring(16);
    rr_writer *w = NULL;
    rr_reader *lead = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &lead), RR_OK);
    CHECK_ST(open_after(ring, NULL, lead, false, &f), RR_OK);
    add_values(w, 0, 12);
    rr_block b;
    CHECK_ST(rr_reader_next_block(lead, 5, &b, 0), RR_OK);
    CHECK_ST(rr_reader_next_block(f, 16, &b, 0), RR_EMPTY);
    CHECK_ST(rr_reader_next_block(lead, 5, &b, 0), RR_OK);   /* releases 0..4 */
    CHECK_ST(rr_reader_next_block(f, 16, &b, 0), RR_OK);
    CHECK_EQ(b.first_sequence, 0);
    CHECK_EQ(b.count, 5);
    CHECK_ST(rr_reader_next_block(f, 16, &b, 0), RR_EMPTY);
    rr_reader_close(f);
    rr_reader_close(lead);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_follower_on_a_multi_producer_ring_is_gated_too)
{
    rr_ring *ring = ring_of(8, RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI);
    rr_writer *w = NULL;
    rr_reader *lead = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_named(ring, "first", &lead), RR_OK);
    CHECK_ST(open_after(ring, NULL, lead, false, &f), RR_OK);
    add_values(w, 0, 3);
    rr_event ev;
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_OK);
    CHECK_EQ(value_of(&ev), 0);
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    rr_reader_close(f);
    rr_reader_close(lead);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

static rr_status open_latest_after(rr_ring *ring, const char *name, rr_reader *lead,
                                   bool writable, rr_reader **out)
{
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.name = name;
    o.start = RR_START_LATEST;
    o.after = (const rr_reader *const *)&lead;
    o.after_count = lead ? 1 : 0;
    o.writable = writable;
    return rr_reader_open_opts(ring, &o, out);
}

typedef struct waiting_follower {
    rr_reader *f;
    rr_event   ev;
    rr_status  st;
    _Atomic int done;
} waiting_follower;

static void *follower_waits(void *arg)
{
    waiting_follower *wf = arg;
    wf->st = rr_reader_next(wf->f, &wf->ev, SEC(60));
    atomic_store(&wf->done, 1);
    return NULL;
}


TEST(test_a_follower_of_a_latest_reader_on_a_multi_producer_ring_is_handed_no_unpublished_claim)
{
    rr_ring *ring = ring_of(8, RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI);
    rr_writer *w = NULL;
    rr_reader *lead = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, sizeof(uint64_t), &c, 0), RR_OK);   /* seq 0, open */
    uint64_t v = 77;
    memcpy(rr_claim_data(&c, 0), &v, sizeof v);
    /* the leader's gate is at `claim` (1), above the open claim */
    rr_reader_options lo = RR_READER_OPTIONS_INIT;
    lo.name = "latest";
    lo.start = RR_START_LATEST;
    CHECK_ST(rr_reader_open_opts(ring, &lo, &lead), RR_OK);
    CHECK_ST(open_after(ring, NULL, lead, false, &f), RR_OK);
    CHECK_EQ(rr_reader_cursor(f), 0);
    rr_event ev[4];
    size_t n = 9;
    rr_block b;
    for (int k = 0; k < 2; k++) {
        CHECK_ST(rr_reader_next(f, &ev[0], 0), RR_EMPTY);
        CHECK_ST(rr_reader_next_batch(f, ev, 4, &n, 0), RR_EMPTY);
        CHECK_EQ(n, 0);
        CHECK_ST(rr_reader_next_block(f, 4, &b, 0), RR_EMPTY);
    }
    CHECK_EQ(rr_reader_cursor(f), 0);
    /* asleep behind the claim, it wakes when the claim is published */
    waiting_follower wf = { .f = f };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, follower_waits, &wf) == 0);
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == 1, 10.0));
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    pthread_join(t, NULL);
    CHECK_ST(wf.st, RR_OK);
    CHECK_EQ(wf.ev.sequence, 0);
    CHECK_EQ(value_of(&wf.ev), 77);
    CHECK_ST(rr_reader_next(f, &ev[0], 0), RR_EMPTY);   /* the leader released only 0 */
    rr_reader_close(f);
    rr_reader_close(lead);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_follower_opened_at_latest_starts_where_its_leaders_stopped_so_no_writable_readers_share_an_event)
{
    rr_ring *ring = bp_ring(16);
    rr_writer *w = NULL;
    rr_reader *k = NULL, *l = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_after(ring, "K", NULL, true, &k), RR_OK);
    add_values(w, 0, 10);
    rr_event ek, ev[16];
    CHECK_ST(rr_reader_next(k, &ek, 0), RR_OK);   /* K has event 0 */
    CHECK_EQ(ek.sequence, 0);
    const char *kn[1] = { "K" }, *ln[1] = { "L" };
    rr_reader_options lo = RR_READER_OPTIONS_INIT;
    lo.name = "L";
    lo.start = RR_START_LATEST;
    lo.after_names = kn;
    lo.after_names_count = 1;
    CHECK_ST(rr_reader_open_opts(ring, &lo, &l), RR_OK);
    CHECK_EQ(rr_reader_cursor(l), 0);             /* K released nothing yet */
    CHECK_ST(open_after_names(ring, "F", ln, 1, true, &f), RR_OK);
    size_t n = 9;
    CHECK_ST(rr_reader_next_batch(f, ev, 16, &n, 0), RR_EMPTY);
    CHECK_EQ(n, 0);
    CHECK_ST(rr_reader_next(l, &ev[0], 0), RR_EMPTY);
    /* K moves on: L gets event 0, then F, once L moved on */
    CHECK_ST(rr_reader_next(k, &ek, 0), RR_OK);
    CHECK_ST(rr_reader_next(l, &ev[0], 0), RR_OK);
    CHECK_EQ(ev[0].sequence, 0);
    CHECK_ST(rr_reader_next_batch(f, ev, 16, &n, 0), RR_EMPTY);
    CHECK_ST(rr_reader_next(l, &ev[0], 0), RR_EMPTY);   /* releases 0 */
    CHECK_ST(rr_reader_next_batch(f, ev, 16, &n, 0), RR_OK);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].sequence, 0);
    rr_reader_close(f);
    rr_reader_close(l);
    rr_reader_close(k);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_when_a_latest_follower_closes_its_follower_reads_no_further_than_the_leader_left)
{
    rr_ring *ring = bp_ring(16);
    rr_writer *w = NULL;
    rr_reader *k = NULL, *l = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_named(ring, "K", &k), RR_OK);
    add_values(w, 0, 10);
    CHECK_ST(open_latest_after(ring, NULL, k, false, &l), RR_OK);
    CHECK_ST(open_after(ring, NULL, l, false, &f), RR_OK);
    rr_event ev;
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    rr_reader_close(l);
    CHECK_EQ(rr_reader_after(f), UINT64_C(1) << rr_reader_index(k));
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    for (int i = 0; i < 3; i++)
        CHECK_ST(rr_reader_next(k, &ev, 0), RR_OK);   /* K released 0 and 1 */
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 1);
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);
    rr_reader_close(f);
    rr_reader_close(k);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_follower_of_a_closed_ring_drains_only_what_its_leader_released)
{
    rr_ring *ring = bp_ring(8);
    rr_writer *w = NULL;
    rr_reader *lead = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &lead), RR_OK);
    CHECK_ST(open_after(ring, NULL, lead, false, &f), RR_OK);
    add_values(w, 0, 2);
    rr_ring_close(ring);
    rr_event ev;
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);      /* not CLOSED: the leader holds 0, 1 */
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_CLOSED);  /* released both */
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_CLOSED);
    rr_reader_close(f);
    rr_reader_close(lead);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

/* ---- a followed reader leaving ---------------------------------------------------------- */

TEST(test_when_a_followed_reader_closes_its_followers_follow_what_it_followed)
{
    rr_ring *ring = bp_ring(16);
    rr_writer *w = NULL;
    rr_reader *k = NULL, *l = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_named(ring, "k", &k), RR_OK);
    CHECK_ST(open_after(ring, "l", k, false, &l), RR_OK);
    CHECK_ST(open_after(ring, "f", l, false, &f), RR_OK);
    add_values(w, 0, 6);
    rr_event evs[16];
    size_t n;
    CHECK_ST(rr_reader_next_batch(k, evs, 4, &n, 0), RR_OK);
    CHECK_ST(rr_reader_next_batch(k, evs, 16, &n, 0), RR_OK);   /* k released 0..3 */
    CHECK_ST(rr_reader_next_batch(l, evs, 1, &n, 0), RR_OK);    /* l holds 0 */
    CHECK_ST(rr_reader_next_batch(f, evs, 16, &n, 0), RR_EMPTY);
    rr_reader_close(l);
    CHECK_EQ(rr_reader_after(f), UINT64_C(1) << rr_reader_index(k));
    rr_ring_stats s;
    rr_ring_stats_get(ring, &s);
    for (uint32_t i = 0; i < s.reader_count; i++)
        if (strcmp(s.readers[i].name, "f") == 0)
            CHECK_EQ(s.readers[i].after, UINT64_C(1) << rr_reader_index(k));
    CHECK_ST(rr_reader_next_batch(f, evs, 16, &n, 0), RR_OK);   /* what k released */
    CHECK_EQ(n, 4);
    CHECK_EQ(value_of(&evs[3]), 3);
    CHECK_ST(rr_reader_next_batch(f, evs, 16, &n, 0), RR_EMPTY);
    rr_reader_close(k);                                         /* k followed nobody */
    CHECK_EQ(rr_reader_after(f), 0);
    CHECK_ST(rr_reader_next_batch(f, evs, 16, &n, 0), RR_OK);   /* a plain reader now */
    CHECK_EQ(n, 2);
    CHECK_EQ(value_of(&evs[1]), 5);
    rr_reader_close(f);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_followers_entry_is_plain_for_the_next_reader_that_takes_it)
{
    rr_ring *ring = bp_ring(8);
    rr_reader *lead = NULL, *f = NULL, *next = NULL;
    CHECK_ST(open_named(ring, "lead", &lead), RR_OK);
    CHECK_ST(open_after(ring, "f", lead, true, &f), RR_OK);
    uint32_t at = rr_reader_index(f);
    rr_reader_close(f);
    rr_reader_close(lead);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &next), RR_OK);
    rr_reader *again = NULL;
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &again), RR_OK);
    rr_ring_stats s;
    rr_ring_stats_get(ring, &s);
    for (uint32_t i = 0; i < s.reader_count; i++) {
        CHECK(s.readers[i].name[0] == '\0');
        CHECK_EQ(s.readers[i].after, 0);
        CHECK(!s.readers[i].writable);
    }
    CHECK(rr_reader_index(next) == at || rr_reader_index(again) == at);
    rr_reader_close(next);
    rr_reader_close(again);
    rr_ring_destroy(ring);
}

/* ---- writable readers -------------------------------------------------------------------- */

TEST(test_a_writable_readers_writes_are_what_its_follower_reads)
{
    rr_ring *ring = bp_ring(8);
    rr_writer *w = NULL;
    rr_reader *unmarshal = NULL, *business = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_after(ring, "unmarshal", NULL, true, &unmarshal), RR_OK);
    CHECK(rr_reader_writable(unmarshal));
    CHECK_ST(open_after(ring, "business", unmarshal, false, &business), RR_OK);
    CHECK(!rr_reader_writable(business));
    add_values(w, 10, 3);
    rr_event evs[4];
    size_t n;
    CHECK_ST(rr_reader_next_batch(unmarshal, evs, 4, &n, 0), RR_OK);
    CHECK_EQ(n, 3);
    for (size_t i = 0; i < n; i++) {
        void *p = NULL;
        CHECK_ST(rr_reader_writable_data(unmarshal, evs[i].sequence, &p), RR_OK);
        CHECK(p == evs[i].data);
        uint64_t v = value_of(&evs[i]) * 100;
        memcpy(p, &v, sizeof v);
    }
    void *p = NULL;
    CHECK_ST(rr_reader_writable_data(unmarshal, 3, &p), RR_INVALID);   /* not handed out */
    CHECK(message_has("cannot write event 3"));
    CHECK_ST(rr_reader_writable_data(business, 0, &p), RR_INVALID);
    CHECK(message_has("'business' is not writable"));
    CHECK_ST(rr_reader_next_batch(unmarshal, evs, 4, &n, 0), RR_EMPTY);   /* releases */
    CHECK_ST(rr_reader_writable_data(unmarshal, 0, &p), RR_INVALID);      /* released */
    CHECK_ST(rr_reader_next_batch(business, evs, 4, &n, 0), RR_OK);
    CHECK_EQ(n, 3);
    CHECK_EQ(value_of(&evs[0]), 1000);
    CHECK_EQ(value_of(&evs[2]), 1200);
    rr_reader_close(business);
    rr_reader_close(unmarshal);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_writable_reader_may_write_an_event_it_holds)
{
    rr_ring *ring = bp_ring(8);
    rr_writer *w = NULL;
    rr_reader *r = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_after(ring, NULL, NULL, true, &r), RR_OK);
    add_values(w, 0, 2);
    rr_event ev;
    void *p;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_hold(r, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_writable_data(r, 0, &p), RR_OK);   /* held */
    CHECK_ST(rr_reader_writable_data(r, 1, &p), RR_OK);   /* handed out */
    CHECK_ST(rr_reader_release(r, 0), RR_OK);
    CHECK_ST(rr_reader_writable_data(r, 0, &p), RR_INVALID);
    rr_reader_close(r);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_two_writable_readers_that_could_hold_one_event_at_once_are_refused)
{
    rr_ring *ring = bp_ring(8);
    rr_reader *w1 = NULL, *w2 = NULL, *mid = NULL, *w3 = NULL, *plain = NULL;
    CHECK_ST(open_after(ring, "w1", NULL, true, &w1), RR_OK);
    CHECK_ST(open_after(ring, "w2", NULL, true, &w2), RR_INVALID);
    CHECK(message_has("reader 'w1' (entry"));
    CHECK(message_has("writable too"));
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &plain), RR_OK);
    CHECK_ST(open_after(ring, "w2", plain, true, &w2), RR_INVALID);   /* plain does not follow w1 */
    CHECK_ST(open_after(ring, "mid", w1, false, &mid), RR_OK);
    CHECK_ST(open_after(ring, "w3", mid, true, &w3), RR_OK);   /* follows w1 through mid */
    rr_reader_close(mid);                                      /* w3 now follows w1 */
    CHECK_EQ(rr_reader_after(w3), UINT64_C(1) << rr_reader_index(w1));
    const char *after_w3[] = { "w3" };
    CHECK_ST(open_after_names(ring, "w4", after_w3, 1, true, &w2), RR_OK);
    rr_reader_close(w2);
    rr_reader_close(w3);
    rr_reader_close(plain);
    rr_reader_close(w1);
    CHECK_ST(open_after(ring, "w2", NULL, true, &w2), RR_OK);  /* alone now */
    rr_reader_close(w2);
    rr_ring_destroy(ring);
}

/* ---- waking ------------------------------------------------------------------------------ */

TEST(test_a_follower_asleep_when_its_last_leader_closes_wakes_for_the_writers_next_event)
{
    rr_ring *ring = bp_ring(8);
    rr_writer *w = NULL;
    rr_reader *lead = NULL;
    waiting_follower wf = { 0 };
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &lead), RR_OK);
    CHECK_ST(open_after(ring, NULL, lead, false, &wf.f), RR_OK);
    pthread_t t;
    pthread_create(&t, NULL, follower_waits, &wf);
    /* asleep on the writable queue (gates moving), counted there */
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == 1, 10.0));
    rr_reader_close(lead);        /* it followed nobody: the follower is plain now */
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->readable.waiters) == 1 || atomic_load(&wf.done),
                     10.0));
    CHECK(!atomic_load(&wf.done));   /* still waiting, now for the writer */
    add_values(w, 42, 1);
    CHECK(WAIT_UNTIL(atomic_load(&wf.done), 10.0));   /* woken by the publish, not its 60 s */
    pthread_join(t, NULL);
    CHECK_ST(wf.st, RR_OK);
    CHECK_EQ(value_of(&wf.ev), 42);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    rr_reader_close(wf.f);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_a_sleeping_follower_is_woken_by_its_leaders_release)
{
    rr_ring *ring = bp_ring(8);
    rr_writer *w = NULL;
    rr_reader *lead = NULL;
    waiting_follower wf = { 0 };
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &lead), RR_OK);
    CHECK_ST(open_after(ring, NULL, lead, false, &wf.f), RR_OK);
    add_values(w, 7, 2);
    pthread_t t;
    pthread_create(&t, NULL, follower_waits, &wf);
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == 1, 10.0));
    rr_event ev;
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(lead, &ev, 0), RR_OK);   /* releases 7: the follower wakes */
    CHECK(WAIT_UNTIL(atomic_load(&wf.done), 10.0));
    pthread_join(t, NULL);
    CHECK_ST(wf.st, RR_OK);
    CHECK_EQ(value_of(&wf.ev), 7);
    rr_reader_close(wf.f);
    rr_reader_close(lead);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

/* ---- across processes ------------------------------------------------------------------------ */

static rr_ring *shm_ring(const char *name)
{
    rr_config cfg = { .slot_size = 32, .capacity = 8, .mode = RR_MODE_BACKPRESSURE,
                      .producers = RR_PRODUCERS_SINGLE };
    rr_ring *ring = NULL;
    return rr_shm_create(name, &cfg, 0600, &ring) == RR_OK ? ring : NULL;
}

/* A child that opens a reader named `rname` (following `after`, if any) and
 * exits: 0 after `then` (0: exit at once without closing it, 1: wait for the
 * ring's close, 2: block in rr_reader_next until killed). */
static pid_t spawn_reader(const char *ring_name, const char *rname, const char *after,
                          bool writable, int then)
{
    pid_t pid = spawn();
    if (pid != 0)
        return pid;
    rr_ring *ring = NULL;
    rr_reader *r = NULL;
    const char *a[] = { after };
    if (rr_shm_open(ring_name, &ring) != RR_OK ||
        open_after_names(ring, rname, after ? a : NULL, after ? 1 : 0, writable, &r) != RR_OK)
        _exit(2);
    rr_event ev;
    if (then == 1)
        while (rr_reader_next(r, &ev, RR_FOREVER) == RR_OK) {
        }
    if (then == 2)
        rr_reader_next(r, &ev, RR_FOREVER);
    _exit(0);
}

static bool has_reader(rr_ring *ring, const char *name)
{
    uint32_t at;
    return rr_ring_reader_find(ring, name, &at) == RR_OK;
}

TEST(test_names_are_seen_and_followed_across_processes)
{
    const char *name = fresh_name();
    rr_ring *ring = shm_ring(name);
    CHECK(ring);
    rr_writer *w = NULL;
    rr_reader *f = NULL, *dup = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    pid_t pid = spawn_reader(name, "journal", NULL, true, 1);   /* reads until closed */
    CHECK(WAIT_UNTIL(has_reader(ring, "journal"), 10.0));
    CHECK_ST(open_named(ring, "journal", &dup), RR_INVALID);
    CHECK(message_has("already has a reader named 'journal'"));
    char want[64];
    snprintf(want, sizeof want, "process %d", (int)pid);
    CHECK(message_has(want));
    const char *after[] = { "journal" };
    CHECK_ST(open_after_names(ring, "business", after, 1, false, &f), RR_OK);
    add_values(w, 0, 5);
    rr_event ev;
    uint64_t got = 0;
    CHECK(WAIT_UNTIL(rr_reader_next(f, &ev, 0) == RR_OK && value_of(&ev) == got && ++got == 4,
                     10.0));   /* the child released 0..3 (it holds 4 until its next call) */
    rr_ring_close(ring);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_ST(rr_reader_next(f, &ev, SEC(10)), RR_OK);
    CHECK_EQ(value_of(&ev), 4);
    CHECK_ST(rr_reader_next(f, &ev, SEC(10)), RR_CLOSED);
    rr_reader_close(f);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

TEST(test_a_dead_processs_reader_gives_up_its_name_and_cannot_be_followed)
{
    const char *name = fresh_name();
    rr_ring *ring = shm_ring(name);
    CHECK(ring);
    pid_t pid = spawn_reader(name, "journal", NULL, true, 0);   /* exits without closing */
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(has_reader(ring, "journal"));            /* its entry is still there... */
    rr_reader *f = NULL, *again = NULL, *w2 = NULL;
    const char *after[] = { "journal" };
    CHECK_ST(open_after_names(ring, NULL, after, 1, false, &f), RR_INVALID);
    CHECK(message_has("no reader named 'journal'"));   /* ...but its process is dead */
    CHECK(!has_reader(ring, "journal"));
    pid = spawn_reader(name, "journal", NULL, true, 0);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_ST(open_named(ring, "journal", &again), RR_OK);   /* the name is taken over */
    rr_reader_close(again);
    pid = spawn_reader(name, "w1", NULL, true, 0);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_ST(open_after(ring, "w2", NULL, true, &w2), RR_OK);   /* a dead writable one is gone */
    rr_reader_close(w2);
    rr_ring_stats s;
    rr_ring_stats_get(ring, &s);
    CHECK_EQ(s.readers_evicted, 3);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* Whether a reader entry names a sleeper (its `sleeping` owner word). */
static bool some_sleeper_named(const rr_ring *ring)
{
    for (size_t i = 0; i < RR_MAX_READERS; i++)
        if (atomic_load(&ring->readers[i].sleeping) != 0)
            return true;
    return false;
}

TEST(test_a_follower_killed_asleep_gives_back_its_count_in_the_writable_queue)
{
    const char *name = fresh_name();
    rr_ring *ring = shm_ring(name);
    CHECK(ring);
    rr_reader *lead = NULL;
    CHECK_ST(open_named(ring, "journal", &lead), RR_OK);
    pid_t pid = spawn_reader(name, NULL, "journal", false, 2);   /* sleeps behind journal */
    /* Counted in the queue, and named as its sleeper (a count seen before
     * the name would let the kill land between them). */
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->writable.waiters) == 1 && some_sleeper_named(ring),
                     10.0));
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK(waitpid(pid, NULL, 0) == pid);
    CHECK_EQ(rr__evict_dead_readers(ring, false), 1);
    CHECK_EQ(atomic_load(&ring->L->writable.waiters), 0);   /* taken back where it was */
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 0);
    rr_reader_close(lead);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

TEST(test_a_followed_readers_process_dying_hands_its_follower_to_what_it_followed)
{
    const char *name = fresh_name();
    rr_ring *ring = shm_ring(name);
    CHECK(ring);
    rr_writer *w = NULL;
    rr_reader *k = NULL, *f = NULL;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(open_named(ring, "k", &k), RR_OK);
    pid_t pid = spawn_reader(name, "l", "k", false, 2);   /* blocks behind k */
    CHECK(WAIT_UNTIL(has_reader(ring, "l"), 10.0));
    const char *after[] = { "l" };
    CHECK_ST(open_after_names(ring, "f", after, 1, false, &f), RR_OK);
    add_values(w, 0, 3);
    rr_event ev;
    CHECK_ST(rr_reader_next(k, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(k, &ev, 0), RR_OK);           /* k released 0 */
    CHECK(kill(pid, SIGKILL) == 0);                        /* l dies holding 0 (or nothing) */
    CHECK(waitpid(pid, NULL, 0) == pid);
    /* f, waiting behind l, looks at l's process within RR_SHM_LIVENESS_NS */
    CHECK_ST(rr_reader_next(f, &ev, SEC(10)), RR_OK);
    CHECK_EQ(value_of(&ev), 0);
    CHECK_EQ(rr_reader_after(f), UINT64_C(1) << rr_reader_index(k));
    CHECK_ST(rr_reader_next(f, &ev, 0), RR_EMPTY);         /* k holds 1 */
    rr_reader_close(f);
    rr_reader_close(k);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

TEST(test_a_dead_plain_reader_is_evicted_while_a_live_process_holds_the_pipeline_word)
{
    const char *name = fresh_name();
    rr_ring *ring = shm_ring(name);
    CHECK(ring);
    pid_t pid = spawn_reader(name, NULL, NULL, false, 0);   /* plain; exits without closing */
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid = spawn_reader(name, "named", NULL, false, 0);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(rr__pipe_lock(ring, RR_PIPE_TAKE));   /* a live holder: this process */
    CHECK_EQ(rr__evict_dead_readers(ring, false), 1);   /* the plain one, without the word */
    CHECK(has_reader(ring, "named"));                  /* the named one waits for it */
    rr__pipe_unlock(ring);
    CHECK_EQ(rr__evict_dead_readers(ring, false), 1);
    CHECK(!has_reader(ring, "named"));
    rr_ring_stats s;
    rr_ring_stats_get(ring, &s);
    CHECK_EQ(s.readers_evicted, 2);
    CHECK_EQ(s.reader_count, 0);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

TEST(test_a_pipeline_word_left_by_a_dead_process_is_taken_over)
{
    const char *name = fresh_name();
    rr_ring *ring = shm_ring(name);
    CHECK(ring);
    pid_t pid = spawn();
    if (pid == 0) {   /* takes the word and dies holding it */
        rr_ring *mine = NULL;
        if (rr_shm_open(name, &mine) != RR_OK || !rr__pipe_lock(mine, RR_PIPE_TAKE))
            _exit(2);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(atomic_load(&ring->L->pipeline.owner) != 0);
    rr_reader *r = NULL;
    CHECK_ST(open_named(ring, "after-a-crash", &r), RR_OK);
    CHECK_EQ(atomic_load(&ring->L->pipeline.owner), 0);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

int main(void)
{
    RUN(test_a_named_reader_keeps_its_name_in_the_handle_the_stats_and_the_table);
    RUN(test_a_duplicate_name_is_refused_and_the_name_is_free_again_after_close);
    RUN(test_names_that_are_too_long_hold_nul_or_are_not_utf8_are_refused);
    RUN(test_a_name_that_changes_while_it_is_read_is_read_whole_or_not_at_all);
    RUN(test_an_unknown_name_in_after_names_is_refused_naming_it);
    RUN(test_a_reader_naming_itself_in_after_names_is_refused_as_a_cycle);
    RUN(test_after_refuses_null_handles_and_readers_of_another_ring);
    RUN(test_an_overwrite_ring_refuses_followers_and_writable_readers_but_takes_names);
    RUN(test_a_follower_is_handed_no_event_before_its_leader_released_it);
    RUN(test_a_follower_of_two_readers_waits_for_the_slower);
    RUN(test_a_followers_block_ends_where_its_leader_stopped);
    RUN(test_a_follower_on_a_multi_producer_ring_is_gated_too);
    RUN(test_a_follower_of_a_latest_reader_on_a_multi_producer_ring_is_handed_no_unpublished_claim);
    RUN(test_a_follower_opened_at_latest_starts_where_its_leaders_stopped_so_no_writable_readers_share_an_event);
    RUN(test_when_a_latest_follower_closes_its_follower_reads_no_further_than_the_leader_left);
    RUN(test_a_follower_of_a_closed_ring_drains_only_what_its_leader_released);
    RUN(test_when_a_followed_reader_closes_its_followers_follow_what_it_followed);
    RUN(test_a_followers_entry_is_plain_for_the_next_reader_that_takes_it);
    RUN(test_a_writable_readers_writes_are_what_its_follower_reads);
    RUN(test_a_writable_reader_may_write_an_event_it_holds);
    RUN(test_two_writable_readers_that_could_hold_one_event_at_once_are_refused);
    RUN(test_a_follower_asleep_when_its_last_leader_closes_wakes_for_the_writers_next_event);
    RUN(test_a_sleeping_follower_is_woken_by_its_leaders_release);
    RUN(test_names_are_seen_and_followed_across_processes);
    reap_children();
    RUN(test_a_dead_processs_reader_gives_up_its_name_and_cannot_be_followed);
    reap_children();
    RUN(test_a_follower_killed_asleep_gives_back_its_count_in_the_writable_queue);
    reap_children();
    RUN(test_a_followed_readers_process_dying_hands_its_follower_to_what_it_followed);
    reap_children();
    RUN(test_a_dead_plain_reader_is_evicted_while_a_live_process_holds_the_pipeline_word);
    reap_children();
    RUN(test_a_pipeline_word_left_by_a_dead_process_is_taken_over);
    reap_children();
    return check_report();
}
