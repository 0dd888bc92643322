/*
 * test_inline.c — rusted_ring_inline.h's calls do what the library calls they
 * stand for do: the same events, the same statuses, in every mode, whether
 * the fast path takes the call or hands it to the library.
 *
 * Every payload carries its sequence and a checksum (check.h), and every
 * reader checks both.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rusted_ring_inline.h"

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define SP RR_PRODUCERS_SINGLE
#define MP RR_PRODUCERS_MULTI

static rr_ring *ring_new(size_t slot, uint64_t cap, rr_mode mode, rr_producers prod)
{
    rr_config c = { slot, cap, mode, prod };
    rr_ring *ring = NULL;
    return rr_ring_create(&c, &ring) == RR_OK ? ring : NULL;
}

static rr_writer *writer_new(rr_ring *ring)
{
    rr_writer *w = NULL;
    return rr_writer_open(ring, &w) == RR_OK ? w : NULL;
}

static rr_reader *reader_new(rr_ring *ring)
{
    rr_reader *r = NULL;
    return rr_reader_open(ring, RR_START_OLDEST, &r) == RR_OK ? r : NULL;
}

static void teardown(rr_ring *ring, rr_writer *w, rr_reader *r)
{
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
}

static rr_status add_inline_seq(rr_writer *w, size_t len, uint64_t seq)
{
    unsigned char buf[256];
    payload_fill(buf, len, seq, 0);
    return rr_writer_add_inline(w, buf, len, (uint32_t)seq, NULL, 0);
}

static rr_status add_seq_lib(rr_writer *w, uint64_t seq)
{
    unsigned char buf[64];
    payload_fill(buf, sizeof buf, seq, 0);
    return rr_writer_add(w, buf, sizeof buf, 0, NULL, 0);
}

/* Claim n inline, fill each event in place with its sequence, publish inline. */
static rr_status claim_inline_seq(rr_writer *w, uint32_t n, size_t len, uint64_t first)
{
    rr_claim c;
    rr_status st = rr_writer_claim_inline(w, n, 7, &c, 0);
    if (st != RR_OK)
        return st;
    if (c.sequence != first)
        return RR_INVALID;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char *d = rr_claim_data_inline(&c, i);
        if (!d || d != rr_claim_data(&c, i))
            return RR_INVALID;
        payload_fill(d, len, first + i, 0);
        if (len != c.slot_size && rr_claim_set(&c, i, len, 7) != RR_OK)
            return RR_INVALID;
    }
    return rr_writer_publish_inline(w, &c);
}

/* Read `n` events: sequences first .. first+n-1, intact, each `len` long. */
static int read_seqs(rr_reader *r, uint64_t first, uint64_t n, size_t len)
{
    for (uint64_t s = first; s < first + n; s++) {
        rr_event ev;
        uint64_t got = UINT64_MAX;
        if (rr_reader_next(r, &ev, 0) != RR_OK || ev.sequence != s || ev.len != len ||
            !payload_ok(ev.data, ev.len, 0, &got) || got != s)
            return 0;
    }
    return 1;
}

/* ---- the same events ------------------------------------------------------------- */

TEST(test_inline_adds_and_claims_deliver_every_event_in_order_across_the_ring_end)
{
    rr_ring *ring = ring_new(64, 7, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    uint64_t seq = 0;
    for (int round = 0; round < 40; round++) {   /* claims of 1..5 wrap at every offset */
        uint32_t n = (uint32_t)(round % 5) + 1;
        CHECK_ST(claim_inline_seq(w, n, round % 2 ? 64 : 40, seq), RR_OK);
        CHECK(read_seqs(r, seq, n, round % 2 ? 64 : 40));
        seq += n;
        CHECK_ST(add_inline_seq(w, 16 + (size_t)round, seq), RR_OK);
        CHECK_ST(add_seq_lib(w, seq + 1), RR_OK);
        CHECK(read_seqs(r, seq, 1, 16 + (size_t)round));
        CHECK(read_seqs(r, seq + 1, 1, 64));
        seq += 2;
    }
    CHECK_EQ(rr_ring_published(ring), seq);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    teardown(ring, w, r);
}

TEST(test_inline_add_returns_the_sequence_and_stores_the_event_type)
{
    rr_ring *ring = ring_new(16, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    uint64_t seq = 99;
    CHECK_ST(rr_writer_add_inline(w, "abc", 3, 42, &seq, 0), RR_OK);
    CHECK_EQ(seq, 0);
    CHECK_ST(rr_writer_add_inline(w, NULL, 0, 43, &seq, 0), RR_OK);   /* an empty event */
    CHECK_EQ(seq, 1);
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(ev.len == 3 && ev.event_type == 42 && memcmp(ev.data, "abc", 3) == 0);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(ev.len == 0 && ev.event_type == 43 && ev.sequence == 1);
    teardown(ring, w, r);
}

/* ---- the same statuses --------------------------------------------------------------- */

TEST(test_inline_calls_report_full_too_large_invalid_and_closed_as_the_library_does)
{
    rr_ring *ring = ring_new(64, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    unsigned char big[65] = { 0 };
    rr_claim c;
    CHECK_ST(rr_writer_add_inline(w, big, 65, 0, NULL, 0), RR_TOO_LARGE);
    CHECK_ST(rr_writer_add_inline(NULL, big, 1, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_add_inline(w, NULL, 1, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_claim_inline(w, 0, 0, &c, 0), RR_INVALID);
    CHECK_ST(rr_writer_claim_inline(w, 5, 0, &c, 0), RR_INVALID);   /* beyond capacity */
    CHECK_ST(rr_writer_claim_inline(w, 1, 0, NULL, 0), RR_INVALID);
    CHECK_ST(rr_writer_publish_inline(w, NULL), RR_INVALID);
    CHECK(rr_claim_data_inline(NULL, 0) == NULL);
    CHECK_EQ(rr_ring_published(ring), 0);
    /* a claim open: no second claim, no add; the claim's events only */
    CHECK_ST(rr_writer_claim_inline(w, 2, 0, &c, 0), RR_OK);
    rr_claim other;
    CHECK_ST(rr_writer_claim_inline(w, 1, 0, &other, 0), RR_INVALID);
    CHECK_ST(add_inline_seq(w, 64, 0), RR_INVALID);
    CHECK(rr_claim_data_inline(&c, 2) == NULL);
    rr_claim copy = c;
    copy.count = 1;
    CHECK_ST(rr_writer_publish_inline(w, &copy), RR_INVALID);
    for (uint32_t i = 0; i < 2; i++) payload_fill(rr_claim_data_inline(&c, i), 64, i, 0);
    CHECK_ST(rr_writer_publish_inline(w, &c), RR_OK);
    CHECK_ST(rr_writer_publish_inline(w, &c), RR_INVALID);   /* published already */
    CHECK(rr_claim_data_inline(&c, 0) == NULL);
    /* full: the reader has read nothing */
    CHECK_ST(add_inline_seq(w, 64, 2), RR_OK);
    CHECK_ST(add_inline_seq(w, 64, 3), RR_OK);
    CHECK_ST(add_inline_seq(w, 64, 4), RR_FULL);
    CHECK_ST(rr_writer_claim_inline(w, 1, 0, &c, 0), RR_FULL);
    CHECK_ST(rr_writer_claim_inline(w, 1, 0, &c, MS(1)), RR_TIMEOUT);
    CHECK(read_seqs(r, 0, 2, 64));   /* the second read releases event 0 */
    CHECK_ST(add_inline_seq(w, 64, 4), RR_OK);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_stalls, 3);
    CHECK_ST(rr_ring_close(ring), RR_OK);
    CHECK_ST(add_inline_seq(w, 64, 5), RR_CLOSED);
    CHECK_ST(rr_writer_claim_inline(w, 1, 0, &c, 0), RR_CLOSED);
    CHECK(read_seqs(r, 2, 3, 64));
    rr_event ev;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_CLOSED);
    teardown(ring, w, r);
}

/* A claim view writes lengths directly: the inline publish, as the
 * library's, publishes nothing when one is larger than the slot. */
TEST(test_inline_publish_refuses_a_length_larger_than_the_slot_and_publishes_nothing)
{
    rr_ring *ring = ring_new(64, 8, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    for (uint32_t n = 1; n <= 3; n++) {
        rr_claim c;
        rr_claim_view v;
        CHECK_ST(rr_writer_claim_inline(w, n, 0, &c, 0), RR_OK);
        CHECK_ST(rr_claim_view_get(&c, &v), RR_OK);
        for (uint32_t i = 0; i < n; i++) payload_fill(v.data + i * v.stride, 64, c.sequence + i, 0);
        uint32_t *last = (uint32_t *)(void *)((unsigned char *)v.lengths + (n - 1) * v.meta_stride);
        *last = 65;
        CHECK_ST(rr_writer_publish_inline(w, &c), RR_TOO_LARGE);
        CHECK_EQ(rr_ring_published(ring), (uint64_t)(n - 1) * n / 2);
        *last = 64;
        CHECK_ST(rr_writer_publish_inline(w, &c), RR_OK);
        CHECK(read_seqs(r, c.sequence, n, 64));
    }
    teardown(ring, w, r);
}

/* ---- every mode ------------------------------------------------------------------------ */

/* Overwrite: the inline writer never waits and marks each slot while it
 * writes it, so a lapped reader counts what it lost and reads only intact
 * events. */
TEST(test_inline_writes_to_an_overwrite_ring_lap_a_reader_that_counts_its_losses)
{
    rr_ring *ring = ring_new(32, 8, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    uint64_t seq = 0;
    for (int i = 0; i < 10; i++, seq++) CHECK_ST(add_inline_seq(w, 32, seq), RR_OK);
    for (int i = 0; i < 3; i++, seq += 3) CHECK_ST(claim_inline_seq(w, 3, 32, seq), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 19);
    rr_event ev;
    uint64_t next = 0, got = 0;
    while (rr_reader_next(r, &ev, 0) == RR_OK) {
        uint64_t s = UINT64_MAX;
        CHECK(payload_ok(ev.data, ev.len, 0, &s) && s == ev.sequence && s >= next);
        next = s + 1;
        got++;
    }
    CHECK_EQ(next, 19);
    CHECK_EQ(got + rr_reader_lost(r), 19);
    CHECK(rr_reader_lost(r) > 0);
    teardown(ring, w, r);
}

/* Several producers: every inline call is the library's. */
TEST(test_inline_calls_on_a_multi_producer_ring_deliver_every_event)
{
    rr_ring *ring = ring_new(64, 8, BP, MP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    uint64_t seq = 0;
    for (int round = 0; round < 10; round++) {
        CHECK_ST(add_inline_seq(w, 64, seq), RR_OK);
        CHECK_ST(claim_inline_seq(w, 3, 64, seq + 1), RR_OK);
        CHECK(read_seqs(r, seq, 4, 64));
        seq += 4;
    }
    teardown(ring, w, r);
}

/* A heap ring's writer used in a fork()ed child is the child's (the library
 * adopts it on the first call): the inline calls go on there. */
TEST(test_inline_calls_in_a_forked_child_adopt_a_heap_rings_writer)
{
    rr_ring *ring = ring_new(64, 16, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    CHECK_ST(add_inline_seq(w, 64, 0), RR_OK);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int ok = add_inline_seq(w, 64, 1) == RR_OK && claim_inline_seq(w, 2, 64, 2) == RR_OK &&
                 add_inline_seq(w, 64, 4) == RR_OK && read_seqs(r, 0, 5, 64) &&
                 rr_ring_published(ring) == 5;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(rr_ring_published(ring), 1);   /* the parent's ring is its own */
    CHECK(read_seqs(r, 0, 1, 64));
    teardown(ring, w, r);
}

int main(void)
{
    RUN(test_inline_adds_and_claims_deliver_every_event_in_order_across_the_ring_end);
    RUN(test_inline_add_returns_the_sequence_and_stores_the_event_type);
    RUN(test_inline_calls_report_full_too_large_invalid_and_closed_as_the_library_does);
    RUN(test_inline_publish_refuses_a_length_larger_than_the_slot_and_publishes_nothing);
    RUN(test_inline_writes_to_an_overwrite_ring_lap_a_reader_that_counts_its_losses);
    RUN(test_inline_calls_on_a_multi_producer_ring_deliver_every_event);
    RUN(test_inline_calls_in_a_forked_child_adopt_a_heap_rings_writer);
    return check_report();
}
