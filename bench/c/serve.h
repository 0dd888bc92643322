/*
 * serve.h — the line protocol between bench/run.py and the programs whose
 * throughput it measures in alternating runs (bench_disruptor.c here, and the
 * queue peers in bench/peers/c). Header-only, C11 and C++ alike, so that a
 * peer needs nothing of rusted_ring to speak it.
 *
 * A program is started once with --serve and kept alive for a whole group, so
 * that every run after the first finds warm code and warm caches, as the
 * Java peer's JIT-compiled code is (it speaks the same protocol):
 *
 *   program --serve
 *     -> {"ready": true, "worker": NAME, "cpus": N, ...}       one line first
 *   run SHAPE WAIT FORM EVENTS CAP_S                            a request line
 *     -> {"shape": ..., "events_per_s": ..., "ok": true, ...}   one line back
 *   quit (or end of input)                                      exit status 1 when any
 *                                                                run failed a check
 *
 * Only JSON lines go to standard output; anything else goes to standard error.
 * A run's fields: `done` is the number of events the slowest consumer took;
 * `ok` is false when a count or a sum came out wrong (or the run could not be
 * made, with `error` saying why); `capped` is true when the producers stopped
 * at the CAP_S deadline before the end (the figure is then events done per
 * second until the deadline, and the sums are not checked).
 *
 * Without --serve a program does one kind of run and prints its line (a human
 * at a terminal):  program SHAPE WAIT FORM EVENTS [CAP_S [REPEATS]]
 */
#ifndef RR_BENCH_SERVE_H
#define RR_BENCH_SERVE_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sp_request {
    char     shape[24];   /* "1p1c", "1p1c-batch10", "1p3c", "3p1c", "1p3c-pipeline", ... */
    char     wait[16];    /* "yield", "spin", "block", "sleep" */
    char     form[16];    /* what the producer calls: "claim", "add", "queue" ... */
    uint64_t events;      /* events each consumer takes in all */
    double   cap_s;       /* producers stop at this many seconds */
} sp_request;

typedef struct sp_result {
    uint64_t done;        /* events the slowest consumer took */
    double   seconds;     /* first event produced -> last event consumed */
    bool     ok;
    bool     capped;
    int      threads;     /* producer + consumer threads of the run */
    char     error[240];
} sp_result;

typedef void (*sp_run_fn)(const sp_request *req, sp_result *res);

static inline double sp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPUs this process may run on. */
static inline int sp_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* The producer and consumer threads of each shape (1p3c-pipeline and
 * 1p3c-diamond: three stages over one ring, see bench_disruptor.c). */
static inline bool sp_shape_threads(const char *shape, int *producers, int *consumers)
{
    bool stages = strcmp(shape, "1p3c-pipeline") == 0 || strcmp(shape, "1p3c-diamond") == 0;
    *producers = strcmp(shape, "3p1c") == 0 ? 3 : 1;
    *consumers = strcmp(shape, "1p3c") == 0 || stages ? 3 : 1;
    return strcmp(shape, "1p1c") == 0 || strcmp(shape, "1p1c-batch10") == 0 ||
           strcmp(shape, "1p3c") == 0 || strcmp(shape, "3p1c") == 0 || stages;
}

/* How the queue peers wait when their queue is empty or full (they have no
 * wait strategies of their own): "spin" spins with the CPU's pause
 * instruction; "yield" spins SP_YIELD_SPINS times and then calls sched_yield()
 * at every further try, as the Disruptor's YieldingWaitStrategy does. */
#define SP_YIELD_SPINS 100u

typedef struct sp_backoff {
    bool     yield;
    unsigned spins;
} sp_backoff;

static inline void sp_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

static inline void sp_backoff_wait(sp_backoff *b)
{
    if (b->yield && ++b->spins > SP_YIELD_SPINS) sched_yield();
    else sp_pause();
}

/* n events of value 0 .. n-1 add up to n(n-1)/2. */
static inline uint64_t sp_triangle(uint64_t n)
{
    return n == 0 ? 0 : n * (n - 1) / 2;
}

static inline void sp_print(const sp_request *q, const sp_result *r)
{
    double rate = r->seconds > 0 ? (double)r->done / r->seconds : 0;
    char err[sizeof r->error * 2];
    size_t k = 0;
    for (const char *p = r->error; *p && k + 2 < sizeof err; p++) {   /* JSON-escape */
        if (*p == '"' || *p == '\\') err[k++] = '\\';
        err[k++] = (*p < 0x20) ? ' ' : *p;
    }
    err[k] = 0;
    printf("{\"shape\": \"%s\", \"wait\": \"%s\", \"form\": \"%s\", \"events\": %llu, "
           "\"done\": %llu, \"seconds\": %.6f, \"events_per_s\": %.1f, \"ok\": %s, "
           "\"capped\": %s, \"threads\": %d, \"cpus\": %d%s%s%s}\n",
           q->shape, q->wait, q->form, (unsigned long long)q->events,
           (unsigned long long)r->done, r->seconds, rate, r->ok ? "true" : "false",
           r->capped ? "true" : "false", r->threads, sp_cpus(),
           err[0] ? ", \"error\": \"" : "", err, err[0] ? "\"" : "");
    fflush(stdout);
}

static inline bool sp_copy(char *dst, size_t cap, const char *src)
{
    if (strlen(src) >= cap) return false;
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

static inline bool sp_parse(sp_request *q, const char *shape, const char *wait, const char *form,
                            const char *events, const char *cap)
{
    char *end;
    memset(q, 0, sizeof *q);
    if (!sp_copy(q->shape, sizeof q->shape, shape) || !sp_copy(q->wait, sizeof q->wait, wait) ||
        !sp_copy(q->form, sizeof q->form, form))
        return false;
    q->events = strtoull(events, &end, 10);
    if (*end || q->events == 0) return false;
    q->cap_s = cap ? strtod(cap, &end) : 60.0;
    return !(cap && (*end || q->cap_s <= 0));
}

/* One run: the program's function, with the protocol's bookkeeping. */
static inline bool sp_run_one(sp_run_fn fn, const sp_request *q)
{
    sp_result r;
    memset(&r, 0, sizeof r);
    r.ok = true;
    fn(q, &r);
    sp_print(q, &r);
    if (!r.ok) fprintf(stderr, "%s %s %s: FAILED: %s\n", q->shape, q->wait, q->form, r.error);
    return r.ok;
}

/* main() of a program that speaks the protocol. hello_extra: more JSON
 * members for the ready line (", \"forms\": [...]"), or "". */
static inline int sp_main(int argc, char **argv, const char *worker, const char *hello_extra,
                          sp_run_fn fn)
{
    bool all_ok = true;
    if (argc == 2 && strcmp(argv[1], "--serve") == 0) {
        char line[512], shape[64], wait[64], form[64], events[64], cap[64];
        printf("{\"ready\": true, \"worker\": \"%s\", \"cpus\": %d%s}\n", worker, sp_cpus(),
               hello_extra);
        fflush(stdout);
        while (fgets(line, sizeof line, stdin)) {
            sp_request q;
            if (strncmp(line, "quit", 4) == 0) break;
            if (strspn(line, " \t\r\n") == strlen(line)) continue;   /* a blank line */
            if (sscanf(line, "run %63s %63s %63s %63s %63s", shape, wait, form, events, cap) != 5 ||
                !sp_parse(&q, shape, wait, form, events, cap)) {
                printf("{\"ok\": false, \"error\": \"bad request line\"}\n");
                fflush(stdout);
                all_ok = false;
                continue;
            }
            all_ok = sp_run_one(fn, &q) && all_ok;
        }
        return all_ok ? 0 : 1;
    }
    if (argc >= 5 && argc <= 7) {
        sp_request q;
        long repeats = argc == 7 ? strtol(argv[6], NULL, 10) : 1;
        if (sp_parse(&q, argv[1], argv[2], argv[3], argv[4], argc >= 6 ? argv[5] : NULL) &&
            repeats >= 1) {
            for (long i = 0; i < repeats; i++) all_ok = sp_run_one(fn, &q) && all_ok;
            return all_ok ? 0 : 1;
        }
    }
    fprintf(stderr, "usage: %s SHAPE WAIT FORM EVENTS [CAP_S [REPEATS]]\n"
                    "       %s --serve   (the protocol of bench/c/serve.h; bench/run.py uses it)\n"
                    "what this program offers:%s\n", argv[0], argv[0], hello_extra);
    return 2;
}

#endif
