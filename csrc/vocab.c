/*
 * vocab.c — the words and numbers both bindings use, defined once.
 *
 * Names of modes, producer counts, reader starts and wait strategies; the
 * largest claim; seconds to nanoseconds; the pressure thresholds and health bands. A binding
 * translates a value of its language through these functions and never
 * repeats a name, a threshold or a rounding rule, so the same value means the
 * same thing in Python and in Lua.
 *
 * Invariants: every *_from_name accepts exactly the strings its *_name
 * returns; rr_health_of agrees with rr_ratio_is_under_pressure and
 * rr_ratio_should_throttle at every ratio (WARNING exactly when under
 * pressure and not throttling, CRITICAL exactly when throttling).
 */
#include <math.h>
#include <string.h>

#include "layout.h"

/* ---- names ------------------------------------------------------------------ */

static const char *const rr__mode_names[] = {
    [RR_MODE_BACKPRESSURE] = "backpressure", [RR_MODE_OVERWRITE] = "overwrite",
};
static const char *const rr__producers_names[] = {
    [RR_PRODUCERS_SINGLE] = "single", [RR_PRODUCERS_MULTI] = "multi",
};
static const char *const rr__start_names[] = {
    [RR_START_OLDEST] = "oldest", [RR_START_LATEST] = "latest",
};
static const char *const rr__wait_names[RR_WAIT_STRATEGY_COUNT] = {
    [RR_WAIT_BLOCK] = "block", [RR_WAIT_YIELD] = "yield",
    [RR_WAIT_SPIN] = "spin", [RR_WAIT_SLEEP] = "sleep",
};
static const char *const rr__health_names[RR_HEALTH_COUNT] = {
    [RR_HEALTH_EXCELLENT] = "EXCELLENT", [RR_HEALTH_GOOD] = "GOOD",
    [RR_HEALTH_WARNING] = "WARNING", [RR_HEALTH_CRITICAL] = "CRITICAL",
};

/* Index of `name` among the two choices, or RR_INVALID naming them. */
static rr_status rr__choice(const char *what, const char *const names[2], const char *name,
                            int *out)
{
    for (int i = 0; name && i < 2; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return RR_OK;
        }
    }
    if (!name)
        return rr__fail(RR_INVALID, "%s must be \"%s\" or \"%s\", got nothing", what,
                        names[0], names[1]);
    return rr__fail(RR_INVALID, "%s must be \"%s\" or \"%s\", got \"%.64s\"%s", what,
                    names[0], names[1], name, strlen(name) > 64 ? "..." : "");
}

const char *rr_mode_name(rr_mode mode)
{
    return (unsigned)mode < 2 ? rr__mode_names[mode] : NULL;
}

rr_status rr_mode_from_name(const char *name, rr_mode *out)
{
    int i = 0;
    rr_status st = rr__choice("mode", rr__mode_names, name, &i);
    if (st == RR_OK && out)
        *out = (rr_mode)i;
    return st;
}

const char *rr_producers_name(rr_producers producers)
{
    return (unsigned)producers < 2 ? rr__producers_names[producers] : NULL;
}

rr_status rr_producers_from_name(const char *name, rr_producers *out)
{
    int i = 0;
    rr_status st = rr__choice("producers", rr__producers_names, name, &i);
    if (st == RR_OK && out)
        *out = (rr_producers)i;
    return st;
}

const char *rr_start_name(rr_start start)
{
    return (unsigned)start < 2 ? rr__start_names[start] : NULL;
}

rr_status rr_start_from_name(const char *name, rr_start *out)
{
    int i = 0;
    rr_status st = rr__choice("start", rr__start_names, name, &i);
    if (st == RR_OK && out)
        *out = (rr_start)i;
    return st;
}

const char *rr_wait_strategy_name(rr_wait_strategy s)
{
    return (unsigned)s < RR_WAIT_STRATEGY_COUNT ? rr__wait_names[s] : NULL;
}

rr_status rr_wait_strategy_from_name(const char *name, rr_wait_strategy *out)
{
    for (int i = 0; name && i < RR_WAIT_STRATEGY_COUNT; i++) {
        if (strcmp(name, rr__wait_names[i]) == 0) {
            if (out)
                *out = (rr_wait_strategy)i;
            return RR_OK;
        }
    }
    if (!name)
        return rr__fail(RR_INVALID, "wait must be \"block\", \"yield\", \"spin\" or \"sleep\", "
                                    "got nothing");
    return rr__fail(RR_INVALID, "wait must be \"block\", \"yield\", \"spin\" or \"sleep\", "
                                "got \"%.64s\"%s", name, strlen(name) > 64 ? "..." : "");
}

/* RR_OK for one of the enum's strategies; RR_INVALID naming the choices. */
rr_status rr__wait_strategy_check(rr_wait_strategy s, const char *who)
{
    if ((unsigned)s < RR_WAIT_STRATEGY_COUNT)
        return RR_OK;
    return rr__fail(RR_INVALID, "%s: wait strategy %d is not one of RR_WAIT_BLOCK, "
                                "RR_WAIT_YIELD, RR_WAIT_SPIN, RR_WAIT_SLEEP (block, yield, "
                                "spin, sleep)", who, (int)s);
}

uint32_t rr_ring_max_claim(const rr_ring *ring)
{
    if (!ring)
        return 0;
    return ring->capacity < RR_MAX_CLAIM ? (uint32_t)ring->capacity : RR_MAX_CLAIM;
}

/* ---- timeouts ------------------------------------------------------------------ */

/* A positive count of nanoseconds below RR_TIMEOUT_MAX_NS, rounded to the
 * nearest (a half up), and at least 1: a positive wait is never 0 ns.
 * Rounding up instead turned a product a hair above a whole number, as
 * 0.067 * 1e9 is (67000000.00000001), into one nanosecond more. Below 2^53
 * the fraction ns - whole is exact; above, ns is whole. (No round(): the
 * core needs no libm.) */
static int64_t rr__ns_rounded(double ns)
{
    int64_t whole = (int64_t)ns;
    if (ns - (double)whole >= 0.5)
        whole++;
    return whole > 0 ? whole : 1;
}

rr_status rr_timeout_from_seconds(double seconds, int64_t *ns_out)
{
    if (isnan(seconds))
        return rr__fail(RR_INVALID, "timeout must be a number of seconds, not NaN "
                                    "(0: don't wait, inf: wait without limit)");
    if (seconds < 0)
        return rr__fail(RR_INVALID, "timeout must be >= 0 seconds, got %g "
                                    "(0: don't wait, inf: wait without limit)", seconds);
    int64_t ns;
    if (seconds == 0)                     /* -0.0 too */
        ns = 0;
    else if (isinf(seconds))
        ns = RR_FOREVER;
    else if (seconds >= RR_TIMEOUT_MAX_S)
        ns = RR_TIMEOUT_MAX_NS;
    else
        ns = rr__ns_rounded(seconds * 1e9);
    if (ns_out)
        *ns_out = ns;
    return RR_OK;
}

/* ---- pressure and health ---------------------------------------------------------- */

/* Written as "not below" so that NaN, a ratio nobody can vouch for, counts
 * as under pressure and as throttle, as rr_health_of calls it CRITICAL. */
bool rr_ratio_is_under_pressure(double ratio) { return !(ratio <= RR_PRESSURE_THRESHOLD); }
bool rr_ratio_should_throttle(double ratio) { return !(ratio < RR_THROTTLE_THRESHOLD); }

rr_health rr_health_of(double ratio)
{
    if (rr_ratio_should_throttle(ratio))   /* NaN too */
        return RR_HEALTH_CRITICAL;
    if (rr_ratio_is_under_pressure(ratio))
        return RR_HEALTH_WARNING;
    return ratio < RR_HEALTH_GOOD_FROM ? RR_HEALTH_EXCELLENT : RR_HEALTH_GOOD;
}

const char *rr_health_name(rr_health health)
{
    return (unsigned)health < RR_HEALTH_COUNT ? rr__health_names[health] : NULL;
}
