/*
 * bench_instr.c — instructions per event of the core's hot paths, counted by
 * callgrind (run by `make bench-c` before bench_core).
 *
 * Wall-clock figures on a shared machine move with whatever else runs; the
 * number of instructions a call executes does not. This program runs each hot
 * path in one thread and prints the instructions it executed per event:
 *
 *   add 64 B / add 8 B        rr_writer_add into a ring nobody reads
 *   claim(1)+publish 8 B      claim one slot, write 8 B in place, publish
 *   claim(64)+publish 64 B    per event of a claim of 64, filled in place
 *   add_batch(64) 64 B        per event of rr_writer_add_batch of 64
 *   next / next_batch(64)     a reader taking events written just before
 *                             (only the reader's calls are counted)
 *   ... and the same through the inline fast path (rusted_ring_inline.h)
 *
 * Each path runs twice, N1 and N2 events on the same ring, and the figure is
 * the difference of the two counts over N2 - N1 events: what the first calls
 * cost once (a ring's first lap, the harness around the loop) cancels out.
 * N2 - N1 is a whole number of laps, so work done once a lap is included in
 * its share. The counts include the benchmark's own loop (a few instructions
 * an event); the memcpy row shows that floor for a 64 B copy.
 *
 * Run directly, the program runs itself again under
 *   valgrind --tool=callgrind --collect-atstart=no
 * which counts only between the client requests below, reads the dumps and
 * prints the table. Without valgrind (or its headers at build time) it says
 * so and exits 0: the figures are a diagnostic, not a test.
 *
 *   bench_instr [--json FILE]
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rusted_ring.h"
#include "rusted_ring_inline.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#define RUNNING_ON_VALGRIND 0
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#endif

#define SLOTS 4096u
#define BATCH 64u
#define N1    (2 * SLOTS)
#define N2    (10 * SLOTS)
#define MAX_OPS 32

static void die(const char *what, rr_status st)
{
    fprintf(stderr, "bench_instr: %s: %s (%s)\n", what, rr_strerror(st), rr_last_error());
    exit(2);
}

#define MUST(call)                                   \
    do {                                             \
        rr_status must_ = (call);                    \
        if (must_ != RR_OK) die(#call, must_);       \
    } while (0)

static inline void clobber(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* ---- the paths measured (under valgrind) ------------------------------------ */

typedef struct bench_ring {
    rr_ring   *ring;
    rr_writer *w;
    rr_reader *r;     /* NULL: write-only */
    size_t     slot;
} bench_ring;

static bench_ring open_ring(size_t slot, rr_mode mode, rr_producers prod, bool reader)
{
    bench_ring b = { NULL, NULL, NULL, slot };
    rr_config cfg = { slot, SLOTS, mode, prod };
    MUST(rr_ring_create(&cfg, &b.ring));
    MUST(rr_writer_open(b.ring, &b.w));
    if (reader)
        MUST(rr_reader_open(b.ring, RR_START_OLDEST, &b.r));
    return b;
}

static void close_ring(bench_ring *b)
{
    rr_reader_close(b->r);
    rr_writer_close(b->w);
    MUST(rr_ring_destroy(b->ring));
}

typedef void (*path_fn)(bench_ring *b, uint64_t n);

static unsigned char src[BATCH][64];
static unsigned char sink[SLOTS][64];

static void path_memcpy(bench_ring *b, uint64_t n)
{
    (void)b;
    CALLGRIND_TOGGLE_COLLECT;
    for (uint64_t i = 0, slot = 0; i < n; i++) {
        memcpy(sink[slot], src[i % BATCH], 64);
        clobber(sink);
        if (++slot == SLOTS) slot = 0;
    }
    CALLGRIND_TOGGLE_COLLECT;
}

static void path_add(bench_ring *b, uint64_t n)
{
    CALLGRIND_TOGGLE_COLLECT;
    for (uint64_t i = 0; i < n; i++)
        if (rr_writer_add(b->w, src[i % BATCH], b->slot, 1, NULL, 0) != RR_OK)
            die("rr_writer_add", RR_FULL);
    CALLGRIND_TOGGLE_COLLECT;
}

static void path_claim1(bench_ring *b, uint64_t n)
{
    rr_claim c;
    CALLGRIND_TOGGLE_COLLECT;
    for (uint64_t i = 0; i < n; i++) {
        if (rr_writer_claim(b->w, 1, 1, &c, 0) != RR_OK)
            die("rr_writer_claim", RR_FULL);
        memcpy(rr_claim_data(&c, 0), &i, sizeof i);
        if (rr_writer_publish(b->w, &c) != RR_OK)
            die("rr_writer_publish", RR_INVALID);
    }
    CALLGRIND_TOGGLE_COLLECT;
}

static void path_claim64(bench_ring *b, uint64_t n)
{
    rr_claim c;
    CALLGRIND_TOGGLE_COLLECT;
    for (uint64_t i = 0; i < n; i += BATCH) {
        if (rr_writer_claim(b->w, BATCH, 1, &c, 0) != RR_OK)
            die("rr_writer_claim", RR_FULL);
        for (uint32_t j = 0; j < BATCH; j++)
            memcpy(rr_claim_data(&c, j), src[j], 64);
        if (rr_writer_publish(b->w, &c) != RR_OK)
            die("rr_writer_publish", RR_INVALID);
    }
    CALLGRIND_TOGGLE_COLLECT;
}

static void path_add_batch(bench_ring *b, uint64_t n)
{
    rr_payload items[BATCH];
    for (uint32_t j = 0; j < BATCH; j++)
        items[j] = (rr_payload){ src[j], 64, 1 };
    CALLGRIND_TOGGLE_COLLECT;
    for (uint64_t i = 0; i < n; i += BATCH)
        if (rr_writer_add_batch(b->w, items, BATCH, NULL, 0) != RR_OK)
            die("rr_writer_add_batch", RR_FULL);
    CALLGRIND_TOGGLE_COLLECT;
}

static void path_inline_add(bench_ring *b, uint64_t n)
{
    CALLGRIND_TOGGLE_COLLECT;
    for (uint64_t i = 0; i < n; i++)
        if (rr_writer_add_inline(b->w, src[i % BATCH], b->slot, 1, NULL, 0) != RR_OK)
            die("rr_writer_add_inline", RR_FULL);
    CALLGRIND_TOGGLE_COLLECT;
}

static void path_inline_claim1(bench_ring *b, uint64_t n)
{
    rr_claim c;
    CALLGRIND_TOGGLE_COLLECT;
    for (uint64_t i = 0; i < n; i++) {
        if (rr_writer_claim_inline(b->w, 1, 1, &c, 0) != RR_OK)
            die("rr_writer_claim_inline", RR_FULL);
        memcpy(rr_claim_data_inline(&c, 0), &i, sizeof i);
        if (rr_writer_publish_inline(b->w, &c) != RR_OK)
            die("rr_writer_publish_inline", RR_INVALID);
    }
    CALLGRIND_TOGGLE_COLLECT;
}


/* Readers: write a chunk uncounted, then count the reads of it. */
#define CHUNK 1024u

static void fill(bench_ring *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (rr_writer_add(b->w, &i, sizeof i, 1, NULL, 0) != RR_OK)
            die("rr_writer_add (filling)", RR_FULL);
}

static uint64_t sum;

static void path_next(bench_ring *b, uint64_t n)
{
    rr_event ev;
    for (uint64_t done = 0; done < n; done += CHUNK) {
        fill(b, CHUNK);
        CALLGRIND_TOGGLE_COLLECT;
        for (uint32_t i = 0; i < CHUNK; i++) {
            if (rr_reader_next(b->r, &ev, 0) != RR_OK)
                die("rr_reader_next", RR_EMPTY);
            sum += *(const unsigned char *)ev.data;
        }
        CALLGRIND_TOGGLE_COLLECT;
    }
}

static void path_next_batch(bench_ring *b, uint64_t n)
{
    rr_event evs[BATCH];
    size_t k;
    for (uint64_t done = 0; done < n; done += CHUNK) {
        fill(b, CHUNK);
        CALLGRIND_TOGGLE_COLLECT;
        for (uint32_t i = 0; i < CHUNK; i += (uint32_t)k) {
            if (rr_reader_next_batch(b->r, evs, BATCH, &k, 0) != RR_OK)
                die("rr_reader_next_batch", RR_EMPTY);
            for (size_t j = 0; j < k; j++)
                sum += *(const unsigned char *)evs[j].data;
        }
        CALLGRIND_TOGGLE_COLLECT;
    }
}

typedef struct op {
    const char *name;
    path_fn     fn;
    size_t      slot;
    rr_mode     mode;
    bool        reader;
    rr_producers prod;   /* RR_PRODUCERS_SINGLE unless named */
} op;

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE
#define SP RR_PRODUCERS_SINGLE
#define MP RR_PRODUCERS_MULTI

static const op ops[] = {
    { "memcpy 64 B into a cyclic buffer (floor)", path_memcpy, 64, BP, false, SP },
    { "add 64 B", path_add, 64, BP, false, SP },
    { "add 8 B", path_add, 8, BP, false, SP },
    { "claim(1) + 8 B in place + publish", path_claim1, 8, BP, false, SP },
    { "claim(64) + 64 B in place + publish, per event", path_claim64, 64, BP, false, SP },
    { "add_batch(64) 64 B, per event", path_add_batch, 64, BP, false, SP },
    { "inline add 64 B", path_inline_add, 64, BP, false, SP },
    { "inline claim(1) + 8 B + publish", path_inline_claim1, 8, BP, false, SP },
    { "overwrite add 64 B", path_add, 64, OW, false, SP },
    { "next 8 B", path_next, 8, BP, true, SP },
    { "next_batch(64) 8 B, per event", path_next_batch, 8, BP, true, SP },
    { "overwrite next 8 B (verified copy)", path_next, 8, OW, true, SP },
    { "overwrite next_batch(64) 8 B, per event", path_next_batch, 8, OW, true, SP },
    { "multi-producer add 64 B", path_add, 64, BP, false, MP },
    { "multi-producer claim(1) + 8 B + publish", path_claim1, 8, BP, false, MP },
    { "multi-producer next_batch(64) 8 B, per event", path_next_batch, 8, BP, true, MP },
};
#define N_OPS (sizeof ops / sizeof ops[0])

/* Under valgrind: each path at N1 then N2 events, one dump each, named
 * "<op index>:<events>". */
static void run_paths(void)
{
    memset(src, 0xA5, sizeof src);
    for (size_t k = 0; k < N_OPS; k++) {
        bench_ring b = open_ring(ops[k].slot, ops[k].mode, ops[k].prod, ops[k].reader);
        for (int i = 0; i < 2; i++) {
            char label[32];
            uint64_t n = i ? N2 : N1;
            snprintf(label, sizeof label, "%zu:%" PRIu64, k, n);
            CALLGRIND_ZERO_STATS;
            ops[k].fn(&b, n);
            CALLGRIND_DUMP_STATS_AT(label);
        }
        close_ring(&b);
    }
    clobber(&sum);
}

/* ---- running itself under valgrind and reading the dumps --------------------- */

typedef struct dump {
    bool     seen;
    uint64_t ir;
} dump;

/* One callgrind dump: its trigger label and its total Ir. */
static bool read_dump(const char *path, char *label, size_t label_len, uint64_t *ir)
{
    FILE *f = fopen(path, "r");
    char line[512];
    bool have_label = false, have_ir = false;
    if (!f)
        return false;
    while (fgets(line, sizeof line, f)) {
        const char *trig = "desc: Trigger: Client Request: ";
        if (strncmp(line, trig, strlen(trig)) == 0) {
            size_t n = strcspn(line + strlen(trig), "\n");
            if (n >= label_len)
                n = label_len - 1;
            memcpy(label, line + strlen(trig), n);
            label[n] = '\0';
            have_label = true;
        } else if (strncmp(line, "summary:", 8) == 0 || strncmp(line, "totals:", 7) == 0) {
            *ir = strtoull(strchr(line, ':') + 1, NULL, 10);
            have_ir = true;
        }
    }
    fclose(f);
    return have_label && have_ir;
}

static int report(const char *dir, const char *json)
{
    dump d[MAX_OPS][2];
    memset(d, 0, sizeof d);
    DIR *dp = opendir(dir);
    struct dirent *de;
    if (!dp) { perror(dir); return 1; }
    while ((de = readdir(dp))) {
        char path[4096], label[64];
        uint64_t ir = 0;
        size_t k;
        uint64_t events;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (read_dump(path, label, sizeof label, &ir) &&
            sscanf(label, "%zu:%" SCNu64, &k, &events) == 2 && k < N_OPS)
            d[k][events == N2] = (dump){ true, ir };
        unlink(path);
    }
    closedir(dp);
    rmdir(dir);
    FILE *jf = json ? fopen(json, "w") : NULL;
    if (json && !jf) perror(json);
    if (jf) fprintf(jf, "{\n  \"events\": %u,\n  \"results\": [\n", N2 - N1);
    printf("instructions per event (callgrind; single thread, %u-slot rings, backpressure and "
           "one producer\nunless named; (count at %u events - count at %u) / %u)\n", SLOTS, N2, N1,
           N2 - N1);
    printf("-----------------------------------------------------------------\n");
    int missing = 0;
    for (size_t k = 0; k < N_OPS; k++) {
        if (!d[k][0].seen || !d[k][1].seen) {
            printf("  %-52s %8s\n", ops[k].name, "no data");
            missing++;
            continue;
        }
        double per = (double)(d[k][1].ir - d[k][0].ir) / (double)(N2 - N1);
        printf("  %-52s %8.1f\n", ops[k].name, per);
        if (jf)
            fprintf(jf, "    {\"name\": \"%s\", \"instructions_per_event\": %.2f}%s\n",
                    ops[k].name, per, k + 1 < N_OPS ? "," : "");
    }
    if (jf) { fprintf(jf, "  ]\n}\n"); fclose(jf); }
    return missing ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
        else { fprintf(stderr, "usage: bench_instr [--json FILE]\n"); return 2; }
    }
    if (!HAVE_CALLGRIND) {
        printf("bench_instr: skipped: built without valgrind/callgrind.h "
               "(install valgrind to count instructions per event)\n");
        return 0;
    }
    if (RUNNING_ON_VALGRIND) {
        run_paths();
        return 0;
    }
    char dir[] = "/tmp/rr_instr.XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char out[64], self[4096];
    snprintf(out, sizeof out, "--callgrind-out-file=%s/cg", dir);
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) { perror("readlink"); return 1; }
    self[len] = '\0';
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("valgrind", "valgrind", "-q", "--tool=callgrind", "--collect-atstart=no",
               out, self, (char *)NULL);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) { perror("bench_instr"); return 1; }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        rmdir(dir);
        printf("bench_instr: skipped: valgrind is not installed "
               "(apt-get install valgrind to count instructions per event)\n");
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_instr: the run under valgrind failed (status %d)\n", status);
        return 1;
    }
    return report(dir, json);
}
