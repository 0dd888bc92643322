/*
 * stress.h — plumbing shared by the stress tests (tests/c/stress_*.c).
 *
 * Worker threads never use CHECK (it returns from the test function, not the
 * thread): they record their first failure in their `worker`, close the ring so
 * every blocked call wakes, and the test reports the messages after joining
 * them (CHECK_WORKERS). A watchdog ends a run that hangs inside the core with
 * the name of the test instead of stalling CI.
 *
 * Every reader and writer opens with the wait strategy under test
 * (RR_TEST_WAIT, check.h): `make test-c` runs each stress program under
 * every strategy (full sizes for block, shortened for the others), and each
 * must deliver exactly what block does.
 */
#ifndef RR_TEST_STRESS_H
#define RR_TEST_STRESS_H

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#include "check.h"

typedef struct worker {
    const char *name;
    rr_ring    *ring;
    atomic_int *failed;        /* set by the first worker that fails */
    char        err[512];
} worker;

static void worker_fail(worker *w, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));   /* for tests whose workers are processes */

static void worker_fail(worker *w, int line, const char *fmt, ...)
{
    int n = snprintf(w->err, sizeof w->err, "%s (line %d): ", w->name, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err + n, sizeof w->err - (size_t)n, fmt, ap);
    va_end(ap);
    atomic_store(w->failed, 1);
    rr_ring_close(w->ring);    /* wake everyone: the test is over */
}

#define W_FAIL(w, ...) do { worker_fail((w), __LINE__, __VA_ARGS__); return; } while (0)
#define W_CHECK(w, cond, ...) do { if (!(cond)) W_FAIL((w), __VA_ARGS__); } while (0)
/* A call that returned `st` where RR_OK was wanted. */
#define W_CHECK_OK(w, st, what, i)                                             \
    W_CHECK((w), (st) == RR_OK, "%s returned %s (%s) at event %" PRIu64, (what), \
            rr_strerror(st), rr_last_error(), (uint64_t)(i))

/* Report every worker's failure, then fail the test if there was one. */
#define CHECK_WORKERS(ws, n)                                                   \
    do {                                                                       \
        int bad_ = 0;                                                          \
        for (size_t k_ = 0; k_ < (size_t)(n); k_++)                            \
            if ((ws)[k_]->err[0]) {                                            \
                fprintf(stderr, "%s: %s\n", check_current, (ws)[k_]->err);     \
                bad_ = 1;                                                      \
            }                                                                  \
        CHECK(!bad_);                                                          \
    } while (0)

/* Last resort against a hang in the core: every wait has a timeout, but a
 * deadlock inside the core must still end the run with a clear message. */
static void watchdog_fire(int sig)
{
    (void)sig;
    static const char msg[] = "\nstress watchdog: test did not finish in time: ";
    ssize_t r = write(2, msg, sizeof msg - 1);
    if (check_current) r = write(2, check_current, strlen(check_current));
    r = write(2, "\n", 1);
    (void)r;
    _exit(3);
}

static void watchdog_arm(void)
{
    double scale = (double)check_scaled(1000000) / 1e6;
    signal(SIGALRM, watchdog_fire);
    alarm(120 + (unsigned)(scale * 60));
}

static uint32_t rng_next(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return (uint32_t)(*s >> 32);
}

#endif /* RR_TEST_STRESS_H */
