/*
 * check.h — the small test harness shared by tests/c.
 *
 * TEST(name) defines a test; RUN(name) runs it and counts failures; CHECK and
 * CHECK_EQ record a failure with file and line and return from the test.
 * Payload helpers put a sequence and a checksum in every event so a reader can
 * prove it got exactly what was written. Waiting helpers poll a condition with a
 * generous deadline, never a bare sleep.
 */
#ifndef RR_TEST_CHECK_H
#define RR_TEST_CHECK_H

#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rusted_ring.h"

static int check_failures;
static int check_ran;
static const char *check_current;

#define TEST(name) static void name(void)

#define RUN(name)                                                   \
    do {                                                            \
        int before_ = check_failures;                               \
        check_current = #name;                                      \
        check_ran++;                                                \
        name();                                                     \
        printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #name); \
        fflush(stdout);                                             \
    } while (0)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,       \
                    __LINE__, check_current, #cond);                         \
            check_failures++;                                                \
            return;                                                          \
        }                                                                    \
    } while (0)

/* Compare two integers and print both on failure. */
#define CHECK_EQ(a, b)                                                       \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_) {                                                      \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld != %lld\n",    \
                    __FILE__, __LINE__, check_current, #a, #b, a_, b_);      \
            check_failures++;                                                \
            return;                                                          \
        }                                                                    \
    } while (0)

/* A status check that prints the status name on failure. */
#define CHECK_ST(expr, want)                                                 \
    do {                                                                     \
        rr_status got_ = (expr);                                             \
        if (got_ != (want)) {                                                \
            fprintf(stderr, "%s:%d: %s: %s returned %s (%s), wanted %s\n",   \
                    __FILE__, __LINE__, check_current, #expr,                \
                    rr_strerror(got_), rr_last_error(), rr_strerror(want));  \
            check_failures++;                                                \
            return;                                                          \
        }                                                                    \
    } while (0)

static inline int check_report(void)
{
    printf("%d tests, %d failed\n", check_ran, check_failures);
    fflush(stdout); /* before LeakSanitizer may abort at exit */
    return check_failures ? 1 : 0;
}

/* ---- time ---------------------------------------------------------------- */

static inline double check_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define MS(x) ((int64_t)(x) * 1000000LL)
#define SEC(x) ((int64_t)(x) * 1000000000LL)

/* Poll `cond` (an expression) until true or `seconds` pass; evaluates to the
 * final truth value. Yields between polls so a 2-core machine makes progress. */
#define WAIT_UNTIL(cond, seconds)                                            \
    __extension__ ({                                                         \
        double deadline_ = check_now() + (seconds);                          \
        int ok_;                                                             \
        while (!(ok_ = !!(cond)) && check_now() < deadline_)                 \
            sched_yield();                                                   \
        ok_;                                                                 \
    })

/* ---- stress scale ---------------------------------------------------------- */

/* RR_STRESS_SCALE multiplies stress sizes (0.02 under TSan, 10 for long runs). */
static inline uint64_t check_scaled(uint64_t n)
{
    const char *s = getenv("RR_STRESS_SCALE");
    double f = s ? atof(s) : 1.0;
    if (f <= 0) f = 1.0;
    uint64_t v = (uint64_t)((double)n * f);
    return v ? v : 1;
}

/* ---- the wait strategy under test --------------------------------------------- */

/* RR_TEST_WAIT names the wait strategy ("block", "yield", "spin" or "sleep";
 * block when unset or empty) with which the tests that run under every
 * strategy open their readers and writers: the stress programs,
 * test_blocking, and the liveness tests of test_shm and test_dead_claims
 * (`make test-c` runs them once per strategy). A bad name stops the program. */
static inline rr_wait_strategy check_wait(void)
{
    const char *name = getenv("RR_TEST_WAIT");
    rr_wait_strategy w = RR_WAIT_BLOCK;
    if (name && *name && rr_wait_strategy_from_name(name, &w) != RR_OK) {
        fprintf(stderr, "RR_TEST_WAIT: %s\n", rr_last_error());
        exit(2);
    }
    return w;
}

/* rr_reader_open / rr_writer_open with the strategy under test. */
static inline rr_status check_reader_open(rr_ring *ring, rr_start start, rr_reader **out)
{
    rr_reader_options o = RR_READER_OPTIONS_INIT;
    o.start = start;
    o.wait = check_wait();
    return rr_reader_open_opts(ring, &o, out);
}

static inline rr_status check_writer_open(rr_ring *ring, rr_writer **out)
{
    rr_writer_options o = RR_WRITER_OPTIONS_INIT;
    o.wait = check_wait();
    return rr_writer_open_opts(ring, &o, out);
}

/* ---- payloads that prove themselves ------------------------------------------ */

/* FNV-1a over a byte range. */
static inline uint32_t check_fnv(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
    return h;
}

/* Fill `len` (>= 16) bytes: [0..8) the writer's own sequence, [8..12) a
 * checksum of everything from byte 12 on, the rest a pattern derived from the
 * sequence and `salt` (e.g. the writer's id). */
static inline void payload_fill(void *buf, size_t len, uint64_t seq, uint32_t salt)
{
    unsigned char *p = buf;
    memcpy(p, &seq, 8);
    uint64_t x = seq * 0x9E3779B97F4A7C15ull ^ salt;
    for (size_t i = 12; i < len; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = (unsigned char)x;
    }
    uint32_t h = check_fnv(p + 12, len - 12) ^ (uint32_t)seq ^ salt;
    memcpy(p + 8, &h, 4);
}

/* 1 when the payload is intact; stores its sequence in *seq. */
static inline int payload_ok(const void *buf, size_t len, uint32_t salt, uint64_t *seq)
{
    const unsigned char *p = buf;
    if (len < 16) return 0;
    uint64_t s; uint32_t h;
    memcpy(&s, p, 8);
    memcpy(&h, p + 8, 4);
    if (seq) *seq = s;
    return h == (check_fnv(p + 12, len - 12) ^ (uint32_t)s ^ salt);
}

#endif /* RR_TEST_CHECK_H */
