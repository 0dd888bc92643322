/*
 * proc.c — who owns a reader entry or a writer, and whether it still runs.
 *
 * A ring shared between processes records, for each reader and writer, an
 * owner word: the process id in the low 32 bits and the low 32 bits of the
 * process's start time (field 22 of /proc/<pid>/stat, in clock ticks since
 * boot) above. A process whose id was reused after it died then no longer
 * matches its word. Where /proc cannot be read the start part is 0 and only
 * the process id is checked.
 *
 * A process counts as dead when it no longer exists or is a zombie (killed,
 * not yet reaped by its parent) with no thread left: a zombie can never touch
 * the ring again. (A process whose main thread has exited while others run
 * also shows as a zombie, but with more than one thread: alive.)
 *
 * Evicting a dead reader (layout.h): the evictor swaps the dead word for its
 * own, resets the entry and stores 0 last; the one whose swap succeeds does
 * it. A live reader's entry is never swapped, since its word belongs to a
 * running process. Processes sharing a ring must share a PID namespace (and
 * a time namespace, since the start time is read through /proc) for this to
 * hold; handles belong to the process that opened them, not to a child that
 * inherits them through fork().
 *
 * Durable readers (reader.c) are parked, not evicted: the evictor takes
 * the dead word as above (holding the pipeline word, as a durable reader is
 * named), takes back the sleeper and poller counts exactly as an eviction
 * does, and gives the entry to RR_OWNER_PARKED (R22) instead of 0, leaving
 * its gate, name, mask and flags: the writer stays gated by it, its
 * followers keep following it, and a durable opener of its name resumes it.
 * The parked word names no process (pid 0): every look for dead owners here
 * and in pipeline.c skips it, so it is never evicted and costs no /proc read.
 *
 * Forks: a child that goes on using an inherited handle would act as its
 * parent (a single-producer child would reuse the parent's next sequence, a
 * child reader would move the parent's cursor). A pthread_atfork child
 * handler, registered once, bumps rr__fork_gen in every child; handles
 * record the generation they were opened in, and their hot paths compare it
 * (no getpid() per call). A child using an inherited handle of a ring other
 * processes can map gets RR_FORKED; with a ring only this process maps (a
 * heap ring, such as the default pools), the child has its own copy of the
 * ring and adopts the handle in full, owner words included, when it first
 * uses or closes it (rr__handle_forked).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"

/* Read the state letter, thread count and start time of process `pid` from
 * one read of /proc/<pid>/stat. False when it cannot be read or parsed.
 * open, read and close are cancellation points, and the callers hold shared
 * state (a recovery word, a claim record, an entry they evict, a sleeper
 * word): cancellation is off around them (layout.h). */
static bool rr__proc_stat(uint32_t pid, char *state, unsigned long *threads, uint64_t *start)
{
    char path[48], buf[1024];
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    int cancel = rr__cancel_off();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = -1;
    if (fd >= 0) {
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
    }
    rr__cancel_restore(cancel);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses, so the
     * fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == '\0')
        return false;
    *state = p[2];
    p += 3;
    /* field 3 was the state; walk to 20 (threads) and 22 (the start time):
     * after step k, p is the space before field k + 1 */
    for (int field = 4; field <= 21; field++) {
        p = strchr(p + 1, ' ');
        if (!p || p[1] == '\0')
            return false;
        if (field == 19 && sscanf(p + 1, "%lu", threads) != 1)
            return false;
    }
    unsigned long long t;
    if (sscanf(p + 1, "%llu", &t) != 1)
        return false;
    *start = t;
    return true;
}

static uint64_t rr__owner_of(uint32_t pid)
{
    char state;
    unsigned long threads;
    uint64_t start = 0;
    if (!rr__proc_stat(pid, &state, &threads, &start))
        start = 0;
    return (start & UINT32_MAX) << 32 | pid;
}

static _Atomic uint64_t rr__self;   /* cached owner word of this process */

uint64_t rr__self_owner(void)
{
    uint32_t pid = (uint32_t)getpid();
    uint64_t me = atomic_load_explicit(&rr__self, memory_order_relaxed);
    if (rr__owner_pid(me) != pid) {   /* first call, or a forked child */
        me = rr__owner_of(pid);
        atomic_store_explicit(&rr__self, me, memory_order_relaxed);
    }
    return me;
}

bool rr__owner_alive(uint64_t owner)
{
    uint32_t pid = rr__owner_pid(owner);
    if (pid == 0 || pid > INT32_MAX)   /* no process (a damaged word, say) */
        return false;
    if (pid == (uint32_t)getpid())
        return owner == rr__self_owner();
    char state;
    unsigned long threads = 0;
    uint64_t start;
    if (rr__proc_stat(pid, &state, &threads, &start)) {
        /* a zombie whose other threads still run is alive */
        if ((state == 'Z' || state == 'X') && threads <= 1)
            return false;
        uint32_t recorded = (uint32_t)(owner >> 32);
        return recorded == 0 || recorded == (uint32_t)start;
    }
    /* no /proc: ask the kernel whether the id exists (EPERM: it does) */
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/* Take back the count of whoever sleeps in `sleeping` if its process is dead.
 * That need not be the process the caller found dead: an evictor or a new
 * writer that died before doing this leaves the first sleeper's word. */
void rr__forget_dead_sleeper(rr_waitq *q, _Atomic uint64_t *sleeping)
{
    /* A10, pairs with R10 in wait.c */
    uint64_t slept = atomic_load_explicit(sleeping, memory_order_acquire);
    if (slept != 0 && !rr__owner_alive(slept))
        rr__forget_sleeper(q, sleeping, slept);
}

/* Entry i's owner word names `owner`, a dead process: evict it. The caller
 * holds the pipeline word (pipeline.c) if `piped`, which it must when the
 * entry is named, follows, is followed or is writable. False when another
 * process evicted it first. */
static bool rr__evict_entry(const rr_ring *ring, uint32_t i, uint64_t owner, uint64_t me,
                            bool piped)
{
    rr_layout *L = ring->L;
    rr_reader_entry *e = &ring->readers[i];
    if (!atomic_compare_exchange_strong_explicit(&e->owner, &owner, me, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;   /* another process evicted it first */
    /* A10 first: a follower's GATE_WAIT flag, stored before it named itself
     * in `sleeping` (R10), says which queue counts it (pipeline.c) */
    uint64_t slept = atomic_load_explicit(&e->sleeping, memory_order_acquire);
    rr_waitq *q = atomic_load_explicit(&e->flags, memory_order_relaxed) & RR_ENTRY_F_GATE_WAIT
                ? &L->writable : &L->readable;
    /* the entry is ours now: its followers follow what it followed (before
     * its gate is freed, pipeline.c), then it stops gating, a sleeper's
     * count is taken back, and it is freed for new readers. The free gate is
     * seq_cst: a store followed by the notify's load of the waiters (S3,
     * then S1); the state is R6 and the owner word's return R7. */
    if (piped && rr__entry_parks(e)) {
        /* a durable reader: its counts back as below, its place kept (R22);
         * no room came of it, so it counts as no eviction */
        if (slept != 0 && !rr__owner_alive(slept))
            rr__forget_sleeper(q, &e->sleeping, slept);
        rr__poller_forget(ring, &e->poll_owner, &e->poll_addr, false);
        atomic_store_explicit(&e->poll_addr, 0, memory_order_relaxed);
        rr__park_entry(ring, i, me);
        return false;
    }
    if (piped)
        rr__pipe_leave(ring, i);
    atomic_store_explicit(&e->gate, RR_GATE_FREE, memory_order_seq_cst);
    atomic_store_explicit(&e->state, RR_ENTRY_FREE, memory_order_release);
    if (slept != 0 && !rr__owner_alive(slept))
        rr__forget_sleeper(q, &e->sleeping, slept);
    rr__poller_forget(ring, &e->poll_owner, &e->poll_addr, false);   /* an armed pollfd's count */
    atomic_store_explicit(&e->poll_addr, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&L->counters.evicted, 1, memory_order_relaxed);
    uint64_t mine = me;   /* 0 last, and only if nobody took the eviction over */
    atomic_compare_exchange_strong_explicit(&e->owner, &mine, 0, memory_order_acq_rel,
                                            memory_order_relaxed);
    return true;
}

/* Evictions change masks and names (pipeline.c), so they hold the pipeline
 * word, taken at the first dead entry found that is named, follows, is
 * followed or is writable (rr__pipe_involved). A plain reader's entry needs
 * no word: nobody can come to follow it (it has no name, and a handle to
 * follow it by lives in its dead process), and no mask names it (it is not
 * FOLLOWED), so a ring without pipelines never takes the word. The word is
 * taken briefly (a writer waiting for
 * room, an opener finding the table full, a follower waiting for its
 * leaders: each looks again later, so a word that a live process keeps, even
 * a stopped one or one some process scribbled there, never makes them wait
 * for it), or only if it is free (RR_PIPE_TRY: a wake-up's look for dead
 * sleepers), or already held by the caller (RR_PIPE_HELD). */
uint32_t rr__evict_dead_in(const rr_ring *ring, uint64_t mask, bool sleepers_only, int lock)
{
    uint64_t me = rr__self_owner();
    uint32_t evicted = 0;
    bool locked = lock == RR_PIPE_HELD;
    for (uint64_t b = mask; b; b &= b - 1) {
        uint32_t i = (uint32_t)__builtin_ctzll(b);
        rr_reader_entry *e = &ring->readers[i];
        if (sleepers_only && !atomic_load_explicit(&e->sleeping, memory_order_relaxed) &&
            !atomic_load_explicit(&e->poll_owner, memory_order_relaxed))
            continue;
        /* any step of taking, using, giving up or evicting an entry leaves a
         * word naming the process that did it (layout.h); A7, then the CAS R7 */
        uint64_t owner = atomic_load_explicit(&e->owner, memory_order_acquire);
        if (owner == 0 || owner == RR_OWNER_PARKED || rr__owner_alive(owner))
            continue;   /* free, parked (a durable reader's place) or alive */
        /* a dead closer (or evictor) clears the entry's own name, mask
         * and flags last, after every rewrite (pipeline.c rr__pipe_leave):
         * it is involved until its leaving is complete */
        if (!locked && rr__pipe_involved(e)) {
            if (!rr__pipe_lock(ring, lock))
                break;
            locked = true;
        }
        evicted += rr__evict_entry(ring, i, owner, me, locked);
    }
    if (locked && lock != RR_PIPE_HELD)
        rr__pipe_unlock(ring);
    if (evicted && lock != RR_PIPE_HELD)
        rr__notify(ring, &ring->L->writable);   /* after the word is given back */
    return evicted;
}

uint32_t rr__evict_dead_readers(const rr_ring *ring, bool sleepers_only)
{
    return rr__evict_dead_in(ring, UINT64_MAX, sleepers_only,
                             sleepers_only ? RR_PIPE_TRY : RR_PIPE_BRIEF);
}

/* The single writer's process died and a new writer took
 * its role: the dead handle no longer counts, and a count it left in the
 * writable queue's waiters is taken back. */
void rr__drop_dead_writer(rr_layout *L)
{
    uint32_t n = atomic_load_explicit(&L->control.writers, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak_explicit(&L->control.writers, &n, n - 1,
                                                           memory_order_relaxed,
                                                           memory_order_relaxed)) {
    }
    rr__forget_dead_sleeper(&L->writable, &L->control.writer_sleeping);
}

/* A process killed while it slept on a queue (or while its pollfd was
 * armed: poll.c) stays counted in its waiters, and every later publish or
 * release would make a wake-up system call for nobody. Whoever makes such a call looks, at most every RR_SHM_LIVENESS_NS
 * per ring, for sleepers of dead processes (only those that sleep: a /proc
 * read each). A dead writer keeps its role until a new writer takes it. */
void rr__reap_dead_sleepers(const rr_ring *ring)
{
    rr_layout *L = ring->L;
    uint64_t now = (uint64_t)rr__now_ns();
    int64_t seen = atomic_load_explicit(&L->counters.reaped_at, memory_order_relaxed);
    if (now - (uint64_t)seen < RR_SHM_LIVENESS_NS ||
        !atomic_compare_exchange_strong_explicit(&L->counters.reaped_at, &seen, (int64_t)now,
                                                 memory_order_relaxed, memory_order_relaxed))
        return;
    rr__forget_dead_sleeper(&L->writable, &L->control.writer_sleeping);
    rr__poller_forget(ring, &L->control.writer_poll_owner, &L->control.writer_poll_addr,
                      true);   /* poll.c */
    rr__claims_reap_sleepers(ring);   /* multi-producer writers (claims.c) */
    rr__evict_dead_readers(ring, true);
}

/* R14/A14 (layout.h): this process's entry, recorded in its handle. */
void rr__writer_proc_register(rr_ring *ring)
{
    uint64_t me = rr__self_owner();
    if (atomic_load_explicit(&ring->wproc_index, memory_order_acquire) >= 0 &&
        atomic_load_explicit(&ring->wproc_owner, memory_order_acquire) == me)
        return;
    _Atomic uint64_t *procs = ring->L->control.writer_procs;
    int32_t found = -1;
    for (int32_t i = 0; i < RR_MAX_WRITER_PROCS && found < 0; i++)
        if (atomic_load_explicit(&procs[i], memory_order_acquire) == me)
            found = i;   /* another handle of this process took one */
    for (int32_t i = 0; i < RR_MAX_WRITER_PROCS && found < 0; i++) {
        uint64_t cur = atomic_load_explicit(&procs[i], memory_order_acquire);
        if ((cur == 0 || !rr__owner_alive(cur)) &&
            atomic_compare_exchange_strong_explicit(&procs[i], &cur, me, memory_order_acq_rel,
                                                    memory_order_relaxed))
            found = i;
    }
    /* Entries stay until their process dies (then the next process reuses
     * them); a full table leaves this process untracked. */
    atomic_store_explicit(&ring->wproc_owner, me, memory_order_release);
    atomic_store_explicit(&ring->wproc_index, found, memory_order_release);
}

/* ---- forks -------------------------------------------------------------------------- */

_Atomic uint32_t rr__fork_gen;
static pthread_once_t rr__fork_once = PTHREAD_ONCE_INIT;

static void rr__forked_child(void)
{
    /* the child's only thread, before it runs anything else */
    atomic_fetch_add_explicit(&rr__fork_gen, 1, memory_order_relaxed);
}

static void rr__fork_watch_once(void)
{
    pthread_atfork(NULL, NULL, rr__forked_child);
}

uint32_t rr__fork_watch(void)
{
    pthread_once(&rr__fork_once, rr__fork_watch_once);
    return atomic_load_explicit(&rr__fork_gen, memory_order_relaxed);
}

/* A handle used (or closed) in a process other than the one it was opened
 * in. A ring others can map: RR_FORKED. A ring only this process maps: the
 * child has its own copy, so the handle becomes the child's in full. The word
 * it holds in the copy (`held`: a reader's entry owner, the single writer's
 * writer_owner; NULL where there is none) is swapped from the handle's old
 * owner to the child's, then the handle's own word, then its generation: a
 * reader closed in the child then frees its entry and stops gating the
 * child's writers, and a writer closed there gives up the writer role. A
 * multi-producer handle may be adopted by several of the child's threads at
 * once; they store the same words. */
rr_status rr__handle_forked(const rr_ring *ring, _Atomic uint32_t *gen, _Atomic uint64_t *owner,
                            _Atomic uint64_t *held, const char *what)
{
    uint64_t was = atomic_load_explicit(owner, memory_order_relaxed);
    if (!ring->private_mem)
        return rr__fail(RR_FORKED, "this %s belongs to process %u; open your own in the child",
                        what, rr__owner_pid(was));
    uint64_t me = rr__self_owner();
    if (held && was != me)   /* R7/A7, R11/A11: the word passes as a take does */
        atomic_compare_exchange_strong_explicit(held, &was, me, memory_order_acq_rel,
                                                memory_order_relaxed);
    atomic_store_explicit(owner, me, memory_order_relaxed);
    atomic_store_explicit(gen, atomic_load_explicit(&rr__fork_gen, memory_order_relaxed),
                          memory_order_relaxed);
    return RR_OK;
}
