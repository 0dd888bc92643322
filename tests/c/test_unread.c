/*
 * test_unread.c — rr_reader_unread: a handler loop gives the rest of a batch
 * back, and the next call hands exactly those events out again, with every
 * count (delivered, skipped, lost) as if they had never been read.
 *
 * Every payload carries its sequence and a checksum (check.h), and each test
 * checks the reader's identity cursor - start == delivered + lost + skipped.
 */
#include "check.h"

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define SP RR_PRODUCERS_SINGLE
#define MP RR_PRODUCERS_MULTI

static rr_ring *ring_new(size_t slot, uint64_t cap, rr_mode mode, rr_producers prod)
{
    rr_config c = { .slot_size = slot, .capacity = cap, .mode = mode, .producers = prod };
    rr_ring *ring = NULL;
    return rr_ring_create(&c, &ring) == RR_OK ? ring : NULL;
}

static rr_status add_seq(rr_writer *w, uint64_t seq)
{
    unsigned char buf[32];
    payload_fill(buf, sizeof buf, seq, 0);
    return rr_writer_add(w, buf, sizeof buf, 0, NULL, 0);
}

static int event_ok(const rr_event *ev)
{
    uint64_t s = UINT64_MAX;
    return payload_ok(ev->data, ev->len, 0, &s) && s == ev->sequence;
}

static int counts_add_up(const rr_reader *r, uint64_t start)
{
    return rr_reader_cursor(r) - start ==
           rr_reader_delivered(r) + rr_reader_lost(r) + rr_reader_skipped(r);
}

TEST(test_events_given_back_are_handed_out_again_in_order)
{
    rr_ring *ring = ring_new(32, 16, BP, SP);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    for (uint64_t i = 0; i < 10; i++)
        CHECK_ST(add_seq(w, i), RR_OK);
    rr_event evs[16];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 16, &n, 0), RR_OK);
    CHECK_EQ(n, 10);
    CHECK_ST(rr_reader_unread(r, 4, 6), RR_OK);      /* 0..3 handled, 4..9 given back */
    CHECK_EQ(rr_reader_cursor(r), 4);
    CHECK_EQ(rr_reader_delivered(r), 4);
    CHECK_EQ(rr_reader_lag(r), 6);
    CHECK(counts_add_up(r, 0));
    CHECK_ST(rr_reader_next_batch(r, evs, 16, &n, 0), RR_OK);
    CHECK_EQ(n, 6);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(evs[i].sequence, 4 + i);
        CHECK(event_ok(&evs[i]));
    }
    CHECK_EQ(rr_reader_delivered(r), 10);
    CHECK(counts_add_up(r, 0));
    CHECK_ST(rr_reader_next(r, &evs[0], 0), RR_EMPTY);
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_events_given_back_stay_pinned_and_the_handled_ones_go_at_the_next_call)
{
    rr_ring *ring = ring_new(32, 4, BP, SP);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_ST(add_seq(w, i), RR_OK);
    rr_event evs[4];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_OK);
    CHECK_EQ(n, 4);
    CHECK_ST(rr_reader_unread(r, 2, 2), RR_OK);
    CHECK_ST(add_seq(w, 4), RR_FULL);                 /* the whole batch is still pinned */
    CHECK_ST(rr_reader_next(r, &evs[0], 0), RR_OK);   /* moves on: 0 and 1 go */
    CHECK_EQ(evs[0].sequence, 2);
    CHECK(event_ok(&evs[0]));
    CHECK_ST(add_seq(w, 4), RR_OK);
    CHECK_ST(add_seq(w, 5), RR_OK);
    CHECK_ST(add_seq(w, 6), RR_FULL);                 /* 2 is the reader's, 3 unread */
    CHECK(counts_add_up(r, 0));
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_unread_outside_the_last_call_or_with_a_wrong_count_is_invalid_and_changes_nothing)
{
    rr_ring *ring = ring_new(32, 16, BP, SP);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    for (uint64_t i = 0; i < 6; i++)
        CHECK_ST(add_seq(w, i), RR_OK);
    rr_event evs[16];
    size_t n = 0;
    CHECK_ST(rr_reader_next(r, &evs[0], 0), RR_OK);            /* 0: an earlier call */
    CHECK_ST(rr_reader_next_batch(r, evs, 3, &n, 0), RR_OK);   /* 1, 2, 3 */
    CHECK_ST(rr_reader_unread(NULL, 1, 1), RR_INVALID);
    CHECK_ST(rr_reader_unread(r, 0, 4), RR_INVALID);           /* before the last call */
    CHECK(strstr(rr_last_error(), "[1, 4)") != NULL);
    CHECK_ST(rr_reader_unread(r, 5, 0), RR_INVALID);           /* after it */
    CHECK_ST(rr_reader_unread(r, 2, 3), RR_INVALID);           /* only 2 from there */
    CHECK_ST(rr_reader_unread(r, 2, 1), RR_INVALID);           /* 2 were handed out from there */
    CHECK_ST(rr_reader_hold(r, 3), RR_OK);
    CHECK_ST(rr_reader_unread(r, 2, 2), RR_INVALID);           /* 3 is held */
    CHECK(strstr(rr_last_error(), "held") != NULL);
    CHECK_ST(rr_reader_release(r, 3), RR_OK);
    CHECK_EQ(rr_reader_cursor(r), 4);
    CHECK_EQ(rr_reader_delivered(r), 4);
    CHECK_ST(rr_reader_unread(r, 4, 0), RR_OK);                /* nothing: a no-op */
    CHECK_EQ(rr_reader_cursor(r), 4);
    CHECK_ST(rr_reader_unread(r, 3, 1), RR_OK);
    CHECK_ST(rr_reader_next_batch(r, evs, 16, &n, 0), RR_OK);
    CHECK_EQ(n, 3);
    CHECK_EQ(evs[0].sequence, 3);
    CHECK(counts_add_up(r, 0));
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_abandoned_slots_among_events_given_back_are_skipped_once)
{
    rr_ring *ring = ring_new(32, 16, BP, MP);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(add_seq(w, 0), RR_OK);
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 0, &c, 0), RR_OK);         /* sequence 1, given up */
    CHECK_ST(rr_writer_abandon(w, &c), RR_OK);
    CHECK_ST(add_seq(w, 2), RR_OK);
    CHECK_ST(add_seq(w, 3), RR_OK);
    rr_event evs[16];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 16, &n, 0), RR_OK);   /* 0: a batch ends at a gap */
    CHECK_EQ(n, 1);
    CHECK_ST(rr_reader_next_batch(r, evs, 16, &n, 0), RR_OK);   /* passes 1 over: 2, 3 */
    CHECK_EQ(n, 2);
    CHECK_EQ(evs[0].sequence, 2);
    CHECK_EQ(rr_reader_skipped(r), 1);
    CHECK_ST(rr_reader_unread(r, 1, 2), RR_OK);                 /* back over the skipped slot */
    CHECK_EQ(rr_reader_skipped(r), 0);
    CHECK_EQ(rr_reader_cursor(r), 1);
    CHECK_EQ(rr_reader_delivered(r), 1);
    CHECK(counts_add_up(r, 0));
    CHECK_ST(rr_reader_next_batch(r, evs, 16, &n, 0), RR_OK);
    CHECK_EQ(n, 2);
    CHECK_EQ(evs[0].sequence, 2);
    CHECK_EQ(evs[1].sequence, 3);
    CHECK(event_ok(&evs[0]) && event_ok(&evs[1]));
    CHECK_EQ(rr_reader_skipped(r), 1);
    CHECK(counts_add_up(r, 0));
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

TEST(test_overwrite_events_given_back_are_read_again_or_counted_lost)
{
    rr_ring *ring = ring_new(32, 4, OW, SP);
    CHECK(ring);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_ST(add_seq(w, i), RR_OK);
    rr_event evs[8];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_OK);
    CHECK_EQ(n, 4);
    CHECK_ST(rr_reader_unread(r, 1, 3), RR_OK);
    CHECK_EQ(rr_reader_cursor(r), 1);
    CHECK(counts_add_up(r, 0));
    CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_OK);   /* nothing overwritten: again */
    CHECK_EQ(n, 3);
    CHECK_EQ(evs[0].sequence, 1);
    CHECK(event_ok(&evs[0]) && event_ok(&evs[2]));
    CHECK_EQ(rr_reader_lost(r), 0);
    /* give two back, then let the writer overwrite them: the reread counts them lost */
    CHECK_ST(rr_reader_unread(r, 2, 2), RR_OK);
    for (uint64_t i = 4; i < 10; i++)
        CHECK_ST(add_seq(w, i), RR_OK);
    CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_OK);
    CHECK(evs[0].sequence >= 6);
    for (size_t i = 0; i < n; i++)
        CHECK(event_ok(&evs[i]));
    CHECK(rr_reader_lost(r) >= 4);
    CHECK(counts_add_up(r, 0));
    /* a batch with a lapped gap inside: giving back across it takes the loss back too */
    for (uint64_t i = 10; i < 20; i++)
        CHECK_ST(add_seq(w, i), RR_OK);
    uint64_t lost_before = rr_reader_lost(r), from = rr_reader_cursor(r);
    CHECK_ST(rr_reader_next_batch(r, evs, 8, &n, 0), RR_OK);
    CHECK(n >= 1);
    uint64_t lost_in_batch = rr_reader_lost(r) - lost_before;
    CHECK(lost_in_batch > 0);
    CHECK_ST(rr_reader_unread(r, evs[0].sequence, n), RR_OK);
    CHECK(counts_add_up(r, 0));
    CHECK_EQ(rr_reader_lost(r), lost_before + (evs[0].sequence - from));
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(ring), RR_OK);
}

int main(void)
{
    RUN(test_events_given_back_are_handed_out_again_in_order);
    RUN(test_events_given_back_stay_pinned_and_the_handled_ones_go_at_the_next_call);
    RUN(test_unread_outside_the_last_call_or_with_a_wrong_count_is_invalid_and_changes_nothing);
    RUN(test_abandoned_slots_among_events_given_back_are_skipped_once);
    RUN(test_overwrite_events_given_back_are_read_again_or_counted_lost);
    return check_report();
}
