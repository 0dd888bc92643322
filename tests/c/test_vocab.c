/*
 * test_vocab.c — the vocabulary both bindings take from the core, and the
 * pressure figures built on it.
 *
 * Names of modes, producers, starts and wait strategies; seconds to nanoseconds (the one
 * timeout contract of both languages); the largest claim; the pressure
 * thresholds and health bands at their exact edges; the stats field lists;
 * and slots a reader pins, which count in every pressure figure because a
 * writer cannot reuse them.
 */
#include <math.h>
#include <unistd.h>

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

static rr_status add_one(rr_writer *w, uint64_t seq)
{
    unsigned char buf[32];
    payload_fill(buf, sizeof buf, seq, 0);
    return rr_writer_add(w, buf, sizeof buf, 0, NULL, 0);
}

static void teardown(rr_ring *ring, rr_writer *w, rr_reader *r)
{
    rr_writer_close(w);
    rr_reader_close(r);
    rr_ring_destroy(ring);
}

/* ---- names ------------------------------------------------------------------------ */

TEST(test_mode_names_round_trip)
{
    rr_mode m = RR_MODE_OVERWRITE;
    CHECK(strcmp(rr_mode_name(RR_MODE_BACKPRESSURE), "backpressure") == 0);
    CHECK(strcmp(rr_mode_name(RR_MODE_OVERWRITE), "overwrite") == 0);
    CHECK_ST(rr_mode_from_name("backpressure", &m), RR_OK);
    CHECK_EQ(m, RR_MODE_BACKPRESSURE);
    CHECK_ST(rr_mode_from_name("overwrite", &m), RR_OK);
    CHECK_EQ(m, RR_MODE_OVERWRITE);
    CHECK(rr_mode_name((rr_mode)2) == NULL);
    CHECK(rr_mode_name((rr_mode)-1) == NULL);
}

TEST(test_producers_and_start_names_round_trip)
{
    rr_producers p = RR_PRODUCERS_SINGLE;
    rr_start s = RR_START_OLDEST;
    CHECK(strcmp(rr_producers_name(RR_PRODUCERS_SINGLE), "single") == 0);
    CHECK(strcmp(rr_producers_name(RR_PRODUCERS_MULTI), "multi") == 0);
    CHECK_ST(rr_producers_from_name("multi", &p), RR_OK);
    CHECK_EQ(p, RR_PRODUCERS_MULTI);
    CHECK(rr_producers_name((rr_producers)7) == NULL);
    CHECK(strcmp(rr_start_name(RR_START_OLDEST), "oldest") == 0);
    CHECK(strcmp(rr_start_name(RR_START_LATEST), "latest") == 0);
    CHECK_ST(rr_start_from_name("latest", &s), RR_OK);
    CHECK_EQ(s, RR_START_LATEST);
    CHECK(rr_start_name((rr_start)2) == NULL);
}

TEST(test_wait_strategy_names_round_trip_and_only_the_enums_values_have_one)
{
    static const char *const names[] = { "block", "yield", "spin", "sleep" };
    static const rr_wait_strategy values[] = { RR_WAIT_BLOCK, RR_WAIT_YIELD, RR_WAIT_SPIN,
                                               RR_WAIT_SLEEP };
    CHECK_EQ(RR_WAIT_STRATEGY_COUNT, 4);
    for (int i = 0; i < 4; i++) {
        rr_wait_strategy got = RR_WAIT_SLEEP;
        CHECK(strcmp(rr_wait_strategy_name(values[i]), names[i]) == 0);
        CHECK_ST(rr_wait_strategy_from_name(names[i], &got), RR_OK);
        CHECK_EQ(got, values[i]);
    }
    CHECK_EQ(RR_WAIT_BLOCK, 0);   /* a zeroed block and a zeroed options struct block */
    CHECK(rr_wait_strategy_name((rr_wait_strategy)4) == NULL);
    CHECK(rr_wait_strategy_name((rr_wait_strategy)-1) == NULL);
}

TEST(test_unknown_names_are_invalid_and_the_message_names_the_choices)
{
    rr_mode m = RR_MODE_OVERWRITE;
    CHECK_ST(rr_mode_from_name("Backpressure", &m), RR_INVALID);
    CHECK(strstr(rr_last_error(), "mode must be \"backpressure\" or \"overwrite\"") != NULL);
    CHECK(strstr(rr_last_error(), "\"Backpressure\"") != NULL);
    CHECK_EQ(m, RR_MODE_OVERWRITE);                     /* untouched */
    rr_producers p;
    CHECK_ST(rr_producers_from_name("many", &p), RR_INVALID);
    CHECK(strstr(rr_last_error(), "producers must be \"single\" or \"multi\", got \"many\"") != NULL);
    rr_start s;
    CHECK_ST(rr_start_from_name("", &s), RR_INVALID);
    CHECK(strstr(rr_last_error(), "start must be \"oldest\" or \"latest\", got \"\"") != NULL);
    CHECK_ST(rr_start_from_name(NULL, &s), RR_INVALID);
    CHECK(strstr(rr_last_error(), "got nothing") != NULL);
    rr_wait_strategy w = RR_WAIT_SPIN;
    CHECK_ST(rr_wait_strategy_from_name("busy", &w), RR_INVALID);
    CHECK(strstr(rr_last_error(),
                 "wait must be \"block\", \"yield\", \"spin\" or \"sleep\", got \"busy\"") != NULL);
    CHECK_EQ(w, RR_WAIT_SPIN);                          /* untouched */
    CHECK_ST(rr_wait_strategy_from_name("Block", &w), RR_INVALID);
    CHECK_ST(rr_wait_strategy_from_name(NULL, &w), RR_INVALID);
    CHECK(strstr(rr_last_error(), "got nothing") != NULL);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_ST(rr_mode_from_name(longname, &m), RR_INVALID);
    CHECK(strstr(rr_last_error(), "...") != NULL);     /* cut, and says so */
}

TEST(test_max_claim_is_the_smaller_of_capacity_and_rr_max_claim)
{
    rr_ring *small = ring_new(8, 10, BP, SP), *big = ring_new(8, RR_MAX_CLAIM + 5, OW, MP);
    CHECK(small && big);
    CHECK_EQ(rr_ring_max_claim(small), 10);
    CHECK_EQ(rr_ring_max_claim(big), RR_MAX_CLAIM);
    CHECK_EQ(rr_ring_max_claim(NULL), 0);
    rr_ring_destroy(small);
    rr_ring_destroy(big);
}

/* ---- seconds to nanoseconds ---------------------------------------------------------- */

/* The nanoseconds for `seconds`, or -2 when the conversion fails. */
static int64_t ns_of(double seconds)
{
    int64_t ns = -2;
    return rr_timeout_from_seconds(seconds, &ns) == RR_OK ? ns : -2;
}

TEST(test_timeout_zero_and_negative_zero_never_wait)
{
    CHECK_EQ(ns_of(0.0), 0);
    CHECK_EQ(ns_of(-0.0), 0);
}

TEST(test_timeout_positive_rounds_to_the_nearest_ns_and_a_tiny_one_still_waits)
{
    CHECK_EQ(ns_of(1e-9), 1);
    CHECK_EQ(ns_of(1e-12), 1);
    CHECK_EQ(ns_of(5e-324), 1);                 /* the smallest positive double */
    CHECK_EQ(ns_of(1.5e-9), 2);                 /* a half goes up */
    CHECK_EQ(ns_of(1.4e-9), 1);
    CHECK_EQ(ns_of(0.067), 67000000);           /* 0.067 * 1e9 is 67000000.00000001 */
    CHECK_EQ(ns_of(0.001), 1000000);
    CHECK_EQ(ns_of(0.25), 250000000);
    CHECK_EQ(ns_of(1.0), 1000000000);
    CHECK_EQ(ns_of(3600.0), INT64_C(3600000000000));
}

/* Every whole number of milliseconds up to 100 s, and of nanoseconds up to
 * 2 ms, written as the nearest double, is exactly that many nanoseconds. */
TEST(test_timeout_of_whole_milliseconds_or_nanoseconds_is_exact)
{
    for (int64_t k = 1; k <= 100000; k++) {
        int64_t ns = ns_of((double)k / 1000.0);
        if (ns != k * 1000000) {
            fprintf(stderr, "%lld ms -> %lld ns\n", (long long)k, (long long)ns);
            CHECK_EQ(ns, k * 1000000);
        }
    }
    for (int64_t k = 1; k <= 2000000; k++) {
        int64_t ns = ns_of((double)k * 1e-9);
        if (ns != k) {
            fprintf(stderr, "%lld * 1e-9 s -> %lld ns\n", (long long)k, (long long)ns);
            CHECK_EQ(ns, k);
        }
    }
}

TEST(test_timeout_beyond_the_maximum_waits_the_maximum)
{
    CHECK_EQ(ns_of(RR_TIMEOUT_MAX_S), RR_TIMEOUT_MAX_NS);
    CHECK_EQ(ns_of(1e15), RR_TIMEOUT_MAX_NS);
    CHECK_EQ(ns_of(1e300), RR_TIMEOUT_MAX_NS);
    CHECK(ns_of(RR_TIMEOUT_MAX_S / 2) > 0 && ns_of(RR_TIMEOUT_MAX_S / 2) < RR_TIMEOUT_MAX_NS);
}

TEST(test_timeout_infinity_waits_forever)
{
    CHECK_EQ(ns_of(INFINITY), RR_FOREVER);
}

TEST(test_timeout_negative_or_nan_is_invalid_and_names_the_value)
{
    int64_t ns = 42;
    CHECK_ST(rr_timeout_from_seconds(-1.0, &ns), RR_INVALID);
    CHECK(strstr(rr_last_error(), "timeout must be >= 0 seconds, got -1") != NULL);
    CHECK_EQ(ns, 42);                            /* untouched */
    CHECK_ST(rr_timeout_from_seconds(-1e-300, &ns), RR_INVALID);
    CHECK_ST(rr_timeout_from_seconds(-INFINITY, &ns), RR_INVALID);
    CHECK(strstr(rr_last_error(), "got -inf") != NULL);
    CHECK_ST(rr_timeout_from_seconds(NAN, &ns), RR_INVALID);
    CHECK(strstr(rr_last_error(), "NaN") != NULL);
    CHECK_EQ(ns, 42);
    CHECK_ST(rr_timeout_from_seconds(1.0, NULL), RR_OK);   /* a check only */
}

/* ---- thresholds and health ---------------------------------------------------------------- */

TEST(test_pressure_predicates_switch_at_their_exact_thresholds)
{
    CHECK(RR_PRESSURE_THRESHOLD == 0.8 && RR_THROTTLE_THRESHOLD == 0.9);
    CHECK(!rr_ratio_is_under_pressure(0.8));
    CHECK(rr_ratio_is_under_pressure(nextafter(0.8, 1.0)));
    CHECK(!rr_ratio_should_throttle(nextafter(0.9, 0.0)));
    CHECK(rr_ratio_should_throttle(0.9));
    CHECK(rr_ratio_should_throttle(1.0));
    CHECK(!rr_ratio_is_under_pressure(0.0) && !rr_ratio_should_throttle(0.0));
}

/* A NaN ratio (no figure to trust) is treated as the worst: under pressure,
 * throttle, CRITICAL, in agreement. Infinities fall where their sign puts them. */
TEST(test_a_nan_ratio_is_under_pressure_and_throttles_as_its_health_is_critical)
{
    CHECK(rr_ratio_is_under_pressure(NAN));
    CHECK(rr_ratio_should_throttle(NAN));
    CHECK(rr_ratio_is_under_pressure(-NAN) && rr_ratio_should_throttle(-NAN));
    CHECK_EQ(rr_health_of(NAN), RR_HEALTH_CRITICAL);
    CHECK(rr_ratio_is_under_pressure(INFINITY) && rr_ratio_should_throttle(INFINITY));
    CHECK(!rr_ratio_is_under_pressure(-INFINITY) && !rr_ratio_should_throttle(-INFINITY));
    CHECK_EQ(rr_health_of(-INFINITY), RR_HEALTH_EXCELLENT);
}

TEST(test_health_bands_agree_with_the_pressure_predicates_at_every_edge)
{
    CHECK_EQ(rr_health_of(0.0), RR_HEALTH_EXCELLENT);
    CHECK_EQ(rr_health_of(nextafter(0.5, 0.0)), RR_HEALTH_EXCELLENT);
    CHECK_EQ(rr_health_of(0.5), RR_HEALTH_GOOD);
    CHECK_EQ(rr_health_of(0.8), RR_HEALTH_GOOD);          /* not under pressure */
    CHECK_EQ(rr_health_of(nextafter(0.8, 1.0)), RR_HEALTH_WARNING);
    CHECK_EQ(rr_health_of(nextafter(0.9, 0.0)), RR_HEALTH_WARNING);
    CHECK_EQ(rr_health_of(0.9), RR_HEALTH_CRITICAL);      /* should throttle */
    CHECK_EQ(rr_health_of(1.0), RR_HEALTH_CRITICAL);
    CHECK_EQ(rr_health_of(NAN), RR_HEALTH_CRITICAL);
    /* WARNING exactly when under pressure and not throttling, CRITICAL exactly when throttling */
    for (int i = 0; i <= 1000; i++) {
        double r = i / 1000.0;
        rr_health h = rr_health_of(r);
        CHECK((h == RR_HEALTH_CRITICAL) == rr_ratio_should_throttle(r));
        CHECK((h == RR_HEALTH_WARNING) ==
              (rr_ratio_is_under_pressure(r) && !rr_ratio_should_throttle(r)));
        CHECK((h == RR_HEALTH_EXCELLENT) == (r < RR_HEALTH_GOOD_FROM));
    }
}

TEST(test_health_names_are_the_enum_names)
{
    CHECK(strcmp(rr_health_name(RR_HEALTH_EXCELLENT), "EXCELLENT") == 0);
    CHECK(strcmp(rr_health_name(RR_HEALTH_GOOD), "GOOD") == 0);
    CHECK(strcmp(rr_health_name(RR_HEALTH_WARNING), "WARNING") == 0);
    CHECK(strcmp(rr_health_name(RR_HEALTH_CRITICAL), "CRITICAL") == 0);
    CHECK(rr_health_name(RR_HEALTH_COUNT) == NULL);
}

/* ---- the stats field lists ------------------------------------------------------------------ */

/* Each KIND matches its field's C type, so a binding's converter is right. */
#define IS_U64(v)       _Generic((v), unsigned int: 1, unsigned long: 1, unsigned long long: 1, default: 0)
#define IS_BOOL(v)      _Generic((v), bool: 1, default: 0)
#define IS_RATIO(v)     _Generic((v), double: 1, default: 0)
#define IS_MODE(v)      _Generic((v), rr_mode: 1, default: 0)
#define IS_PRODUCERS(v) _Generic((v), rr_producers: 1, default: 0)
#define IS_WAIT(v)      _Generic((v), rr_wait_strategy: 1, default: 0)
#define IS_TEXT(v)      _Generic((v), const char *: 1, char *: 1, default: 0)   /* a pointer or an array */

TEST(test_stats_field_lists_match_the_structs_and_name_each_field_once)
{
    rr_ring_stats s;
    memset(&s, 0, sizeof s);
    const char *names[64];
    int n = 0;
#define KIND_OK(field, kind) CHECK(IS_##kind(s.field)); names[n++] = #field;
    RR_RING_STATS_FIELDS(KIND_OK)
#undef KIND_OK
    CHECK_EQ(n, 22);
    int ring_fields = n;
    rr_reader_stats r;
    memset(&r, 0, sizeof r);
#define KIND_OK(field, kind) CHECK(IS_##kind(r.field)); names[n++] = #field;
    RR_READER_STATS_FIELDS(KIND_OK)
#undef KIND_OK
    CHECK_EQ(n - ring_fields, 15);
    for (int i = 0; i < ring_fields; i++)
        for (int j = i + 1; j < ring_fields; j++)
            CHECK(strcmp(names[i], names[j]) != 0);
    for (int i = ring_fields; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECK(strcmp(names[i], names[j]) != 0);
    bool has_pinned = false;
    for (int i = ring_fields; i < n; i++)
        has_pinned |= strcmp(names[i], "pinned") == 0;
    CHECK(has_pinned);
}

TEST(test_stats_name_is_the_segment_name_of_a_shared_ring_and_empty_otherwise)
{
    char name[64];
    snprintf(name, sizeof name, "/rr-vocab-%d", (int)getpid());
    rr_config cfg = { .slot_size = 8, .capacity = 4, .mode = BP, .producers = SP };
    rr_ring *shared = NULL, *local = ring_new(8, 4, BP, SP);
    CHECK(local);
    rr_shm_unlink(name);
    CHECK_ST(rr_shm_create(name, &cfg, 0, &shared), RR_OK);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(shared, &st), RR_OK);
    CHECK(strcmp(st.name, name) == 0 && st.shared);
    CHECK_ST(rr_ring_stats_get(local, &st), RR_OK);
    CHECK(strcmp(st.name, "") == 0 && !st.shared);
    CHECK_ST(rr_shm_unlink(name), RR_OK);
    CHECK_ST(rr_ring_destroy(shared), RR_OK);
    CHECK_ST(rr_ring_destroy(local), RR_OK);
}

/* ---- pinned slots count in the pressure figures ---------------------------------------------- */

/* The scenario: a 4-slot ring whose 4 events its one reader keeps.
 * The writer finds it full, and every figure must say so. */
TEST(test_a_reader_keeping_the_whole_ring_shows_pinned_and_full_pressure)
{
    rr_ring *ring = ring_new(32, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_one(w, s), RR_OK);
    rr_event evs[4];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_OK);
    CHECK_EQ(n, 4);
    CHECK_ST(add_one(w, 4), RR_FULL);
    CHECK_EQ(rr_reader_lag(r), 0);
    CHECK_EQ(rr_reader_pinned(r), 4);
    CHECK(rr_reader_backpressure_ratio(r) == 1.0);
    CHECK(rr_reader_is_under_pressure(r) && rr_reader_should_throttle(r));
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.reader_count, 1);
    CHECK_EQ(st.readers[0].lag, 0);
    CHECK_EQ(st.readers[0].pinned, 4);
    CHECK(st.readers[0].backpressure == 1.0);
    CHECK(st.max_backpressure == 1.0);
    CHECK_EQ(rr_health_of(st.max_backpressure), RR_HEALTH_CRITICAL);
    CHECK_EQ(st.writer_stalls, 1);
    teardown(ring, w, r);
}

/* Held events stay pinned after the reader has moved past them, and leave
 * the figures once released. */
TEST(test_held_events_stay_pinned_until_released)
{
    rr_ring *ring = ring_new(32, 4, BP, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    rr_event ev;
    for (uint64_t s = 0; s < 4; s++) {
        CHECK_ST(add_one(w, s), RR_OK);
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_ST(rr_reader_hold(r, ev.sequence), RR_OK);
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);   /* moved on: only the holds pin */
    CHECK_ST(add_one(w, 4), RR_FULL);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.readers[0].lag, 0);
    CHECK_EQ(st.readers[0].pinned, 4);
    CHECK(st.readers[0].backpressure == 1.0);
    CHECK_EQ(rr_reader_pinned(r), 4);
    CHECK_ST(rr_reader_release(r, 0), RR_OK);
    CHECK_ST(rr_reader_release(r, 1), RR_OK);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.readers[0].pinned, 2);
    CHECK(st.readers[0].backpressure == 0.5);
    CHECK(rr_reader_backpressure_ratio(r) == 0.5);
    CHECK_ST(add_one(w, 4), RR_OK);                   /* the released slots are free */
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.readers[0].lag, 1);
    CHECK_EQ(st.readers[0].pinned, 2);
    CHECK(st.readers[0].backpressure == 0.75);
    teardown(ring, w, r);
}

/* The reader's own figures and the stats agree, and both follow the writer:
 * at ratio 1.0 it is full, below it has room. */
TEST(test_reader_ratio_and_stats_agree_and_match_what_the_writer_sees)
{
    rr_ring *ring = ring_new(32, 10, BP, MP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    rr_event evs[10];
    size_t n = 0;
    for (uint64_t s = 0; s < 10; s++) CHECK_ST(add_one(w, s), RR_OK);
    for (size_t take = 1; take <= 3; take++) {   /* kept: 1 + 9, then 2 + 7, then 3 + 5 */
        CHECK_ST(rr_reader_next_batch(r, evs, take, &n, 0), RR_OK);
        CHECK_EQ(n, take);
        rr_ring_stats st;
        CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
        CHECK_EQ(st.readers[0].pinned, rr_reader_pinned(r));
        CHECK_EQ(st.readers[0].lag, rr_reader_lag(r));
        CHECK(st.readers[0].backpressure == rr_reader_backpressure_ratio(r));
        uint64_t kept = st.readers[0].lag + st.readers[0].pinned;
        CHECK_ST(add_one(w, 100 + take), kept == 10 ? RR_FULL : RR_OK);
    }
    teardown(ring, w, r);
}

TEST(test_overwrite_readers_pin_nothing)
{
    rr_ring *ring = ring_new(32, 4, OW, SP);
    CHECK(ring);
    rr_writer *w = writer_new(ring);
    rr_reader *r = reader_new(ring);
    CHECK(w && r);
    for (uint64_t s = 0; s < 4; s++) CHECK_ST(add_one(w, s), RR_OK);
    rr_event evs[4];
    size_t n = 0;
    CHECK_ST(rr_reader_next_batch(r, evs, 4, &n, 0), RR_OK);
    CHECK_EQ(n, 4);
    CHECK_EQ(rr_reader_pinned(r), 0);
    CHECK(rr_reader_backpressure_ratio(r) == 0.0);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.readers[0].pinned, 0);
    CHECK(st.readers[0].backpressure == 0.0);
    CHECK_ST(add_one(w, 4), RR_OK);
    teardown(ring, w, r);
}

int main(void)
{
    RUN(test_mode_names_round_trip);
    RUN(test_producers_and_start_names_round_trip);
    RUN(test_wait_strategy_names_round_trip_and_only_the_enums_values_have_one);
    RUN(test_unknown_names_are_invalid_and_the_message_names_the_choices);
    RUN(test_max_claim_is_the_smaller_of_capacity_and_rr_max_claim);
    RUN(test_timeout_zero_and_negative_zero_never_wait);
    RUN(test_timeout_positive_rounds_to_the_nearest_ns_and_a_tiny_one_still_waits);
    RUN(test_timeout_of_whole_milliseconds_or_nanoseconds_is_exact);
    RUN(test_timeout_beyond_the_maximum_waits_the_maximum);
    RUN(test_timeout_infinity_waits_forever);
    RUN(test_timeout_negative_or_nan_is_invalid_and_names_the_value);
    RUN(test_pressure_predicates_switch_at_their_exact_thresholds);
    RUN(test_a_nan_ratio_is_under_pressure_and_throttles_as_its_health_is_critical);
    RUN(test_health_bands_agree_with_the_pressure_predicates_at_every_edge);
    RUN(test_health_names_are_the_enum_names);
    RUN(test_stats_field_lists_match_the_structs_and_name_each_field_once);
    RUN(test_stats_name_is_the_segment_name_of_a_shared_ring_and_empty_otherwise);
    RUN(test_a_reader_keeping_the_whole_ring_shows_pinned_and_full_pressure);
    RUN(test_held_events_stay_pinned_until_released);
    RUN(test_reader_ratio_and_stats_agree_and_match_what_the_writer_sees);
    RUN(test_overwrite_readers_pin_nothing);
    return check_report();
}
