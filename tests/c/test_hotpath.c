/*
 * test_hotpath.c — the hot paths (add, add_batch, claim/publish, next,
 * next_batch, and the inline add, claim and publish of rusted_ring_inline.h)
 * make no system call and allocate nothing when uncontended.
 *
 * System calls: a forked child sets up its rings, then installs a seccomp
 * filter that traps every system call but the few needed to return from the
 * trap handler and to exit, runs the hot paths in both modes and with one and
 * several producers (also in caller memory, where several producers take a
 * claim record each claim), and exits with the number of traps. The filter is the
 * proof: not a single futex, membarrier, sched_yield or clock call slips by.
 *
 * Allocations: this binary interposes malloc and friends and counts calls
 * made while the hot paths run.
 *
 * Sanitizer builds skip both: their runtimes bring their own allocator and
 * make system calls of their own (even inside signal delivery). The claim is
 * about the release build, which `make test` runs.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rusted_ring_inline.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RR_SANITIZED 1
#else
#define RR_SANITIZED 0
#endif

#define ROUNDS 2000

/* ---- the work under test ---------------------------------------------------- */

typedef struct hot_ring {
    rr_ring   *ring;
    rr_writer *w;
    rr_reader *r;
    void      *mem;   /* a ring in caller memory (shareable), else NULL */
} hot_ring;

static int hot_open(hot_ring *h, rr_mode mode, rr_producers prod, bool caller_memory)
{
    rr_config cfg = { .slot_size = 64, .capacity = 256, .mode = mode, .producers = prod };
    h->mem = NULL;
    if (caller_memory) {
        size_t len = rr_ring_footprint(&cfg);
        h->mem = aligned_alloc(64, (len + 63) / 64 * 64);
        if (!h->mem || rr_ring_format(h->mem, len, &cfg, &h->ring) != RR_OK)
            return 0;
    } else if (rr_ring_create(&cfg, &h->ring) != RR_OK) {
        return 0;
    }
    return rr_writer_open(h->ring, &h->w) == RR_OK &&
           rr_reader_open(h->ring, RR_START_OLDEST, &h->r) == RR_OK;
}


/* Every hot call, uncontended: one thread writes, then reads what it wrote.
 * Returns the number of calls that did not do what they should. */
static int hot_work(hot_ring *h)
{
    unsigned char buf[64] = { 1, 2, 3 };
    rr_payload items[8];
    rr_event evs[8];
    int bad = 0;
    for (int i = 0; i < 8; i++)
        items[i] = (rr_payload){ buf, sizeof buf, (uint32_t)i };
    for (int round = 0; round < ROUNDS; round++) {
        rr_event ev;
        size_t n = 0;
        rr_claim c;
        bad += rr_writer_add(h->w, buf, sizeof buf, 1, NULL, 0) != RR_OK;
        bad += rr_reader_next(h->r, &ev, 0) != RR_OK;
        bad += rr_writer_add_batch(h->w, items, 8, NULL, 0) != RR_OK;
        bad += rr_reader_next_batch(h->r, evs, 8, &n, 0) != RR_OK || n != 8;
        bad += rr_writer_claim(h->w, 4, 2, &c, 0) != RR_OK;
        for (uint32_t i = 0; i < 4; i++)
            memcpy(rr_claim_data(&c, i), buf, 16);
        bad += rr_writer_publish(h->w, &c) != RR_OK;
        bad += rr_reader_next_batch(h->r, evs, 8, &n, 0) != RR_OK || n != 4;
        bad += rr_writer_add_inline(h->w, buf, sizeof buf, 1, NULL, 0) != RR_OK;
        bad += rr_writer_claim_inline(h->w, 2, 2, &c, 0) != RR_OK;
        for (uint32_t i = 0; i < 2; i++)
            memcpy(rr_claim_data_inline(&c, i), buf, 16);
        bad += rr_writer_publish_inline(h->w, &c) != RR_OK;
        bad += rr_reader_next_batch(h->r, evs, 8, &n, 0) != RR_OK || n != 3;
        bad += rr_reader_next(h->r, &ev, 0) != RR_EMPTY;
        bad += rr_reader_lag(h->r) != 0;
    }
    return bad;
}

static const struct { rr_mode mode; rr_producers prod; bool caller_memory; } hot_kinds[] = {
    { RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, false },
    { RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, false },
    { RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE, false },
    { RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI, false },
    { RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI, true },
    { RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI, true },
};
#define HOT_KINDS (sizeof hot_kinds / sizeof hot_kinds[0])

/* ---- system calls ---------------------------------------------------------------- */

static volatile sig_atomic_t traps;

static void on_sigsys(int sig)
{
    (void)sig;
    if (++traps > 1000)   /* something traps in a loop: stop, do not spin */
        syscall(__NR_exit_group, 97);
}

/* Trap every system call except returning from the handler and exiting. */
static int trap_all_syscalls(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
    struct sigaction sa = { .sa_handler = on_sigsys };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* Child: exit 0 when no call failed and no system call was made; 100 + bad
 * calls, or the number of traps, otherwise; 99 when seccomp is unavailable. */
static void syscall_child(void)
{
    hot_ring rings[HOT_KINDS];
    for (size_t k = 0; k < HOT_KINDS; k++)
        if (!hot_open(&rings[k], hot_kinds[k].mode, hot_kinds[k].prod,
                      hot_kinds[k].caller_memory))
            _exit(98);
    for (size_t k = 0; k < HOT_KINDS; k++)   /* warm up: first touches may fault in pages */
        hot_work(&rings[k]);
    if (trap_all_syscalls() != 0)
        _exit(99);
    int bad = 0;
    for (size_t k = 0; k < HOT_KINDS; k++)
        bad += hot_work(&rings[k]);
    if (bad)
        _exit(100 + (bad > 100 ? 100 : bad));
    _exit(traps > 97 ? 97 : (int)traps);
}

TEST(test_uncontended_hot_paths_make_no_system_call)
{
    if (RR_SANITIZED) {
        printf("     (sanitizer build: system calls not checked)\n");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        syscall_child();
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    int code = WEXITSTATUS(status);
    if (code == 99) {
        printf("     (seccomp unavailable here: system calls not checked)\n");
        return;
    }
    if (code >= 100)
        fprintf(stderr, "     %d hot calls did not do what they should\n", code - 100);
    else if (code > 0)
        fprintf(stderr, "     the hot paths made %d system call(s)\n", code);
    CHECK_EQ(code, 0);
}

/* ---- allocations ------------------------------------------------------------------- */

#if !RR_SANITIZED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;

static void hot_close(hot_ring *h)
{
    rr_reader_close(h->r);
    rr_writer_close(h->w);
    rr_ring_destroy(h->ring);
    free(h->mem);
}

void *malloc(size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add(&allocations, 1);
    return __libc_memalign(align, n);
}
#endif

TEST(test_hot_paths_do_not_allocate)
{
#if !RR_SANITIZED
    hot_ring rings[HOT_KINDS];
    for (size_t k = 0; k < HOT_KINDS; k++)
        CHECK(hot_open(&rings[k], hot_kinds[k].mode, hot_kinds[k].prod,
                       hot_kinds[k].caller_memory));
    long before = atomic_load(&allocations);
    int bad = 0;
    for (size_t k = 0; k < HOT_KINDS; k++)
        bad += hot_work(&rings[k]);
    long during = atomic_load(&allocations) - before;
    for (size_t k = 0; k < HOT_KINDS; k++)
        hot_close(&rings[k]);
    CHECK_EQ(bad, 0);
    CHECK_EQ(during, 0);
    /* The counter itself works: opening a ring allocates. */
    hot_ring h;
    CHECK(hot_open(&h, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE, false));
    CHECK(atomic_load(&allocations) > before);
    hot_close(&h);
#else
    printf("     (sanitizer build: allocations not counted)\n");
#endif
}

int main(void)
{
    alarm(600);
    RUN(test_uncontended_hot_paths_make_no_system_call);
    RUN(test_hot_paths_do_not_allocate);
    return check_report();
}
