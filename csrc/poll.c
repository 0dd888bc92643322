/*
 * poll.c — file descriptors that event loops wait on: a reader's polls
 * readable while the reader has events or the ring is closed, a writer's
 * while it has room (rusted_ring.h, "event loops").
 *
 * The fd. An AF_UNIX datagram socket bound to an abstract address,
 * "\0rusted_ring.poll.<16 hex digits>", the digits being a number the
 * process picks (`addr`: its pid above a counter; never 0). Any process
 * sharing the ring and the network namespace reaches it by that name. A
 * datagram waiting in it is what makes it poll readable; only its handle
 * reads them, and drains them all.
 *
 * Naming a poller. A handle with a pollfd stores its address in the ring
 * when it makes the fd: a reader in its entry's `poll_addr`, a writer in
 * the control's `writer_poll_addr`, which one writer at a time may hold (a
 * holder whose socket is gone, dead or closed, is replaced: whether anybody
 * is bound to an address is asked with connect(), which sends nothing).
 *
 * Arming. An armed poller is a waiter, counted as a sleeping handle is
 * (wait.c), but RR_POLLER_COUNT where a sleeper counts 1 (layout.h): it
 * adds itself to its queue's `waiters` (readable for a reader, writable
 * for a writer), then swaps its process's owner word into
 * `poll_owner` (R20), then takes the waiter's half of S1
 * (rr__waiter_barrier: a fence and membarrier()) and looks at its
 * condition again: the caller's own second look, which fires the poller
 * itself if it finds something. The notifier's half is the rr__notify every
 * publish and release makes already: a load of `waiters`, and the wake-up
 * call only when it is not 0. So the hot paths gain nothing, and make no
 * system call while nobody sleeps or polls. A process that cannot make
 * membarrier calls fences on both sides of a private ring (wait.c); on a
 * shared ring its arming is not assured, and the handle's poll interval
 * (rr_reader_poll_interval, rr__waiter_slice_ns) has its caller look again
 * now and then. The poller never fires itself for that: the fd would poll
 * readable for good and an event loop would spin on it.
 *
 * Firing. rr__wake_all (wait.c) calls rr__poll_notify when `waiters`
 * counts a poller (and makes the futex wake only when it counts a
 * sleeper: a publish that tells a poller costs one system call, the send).
 * It makes its sending socket, then swaps the owner word of every armed
 * poller of that queue for 0; a swap that finds it armed (A20; R21 for the
 * progress before it) takes the poller's count back from the `waiters` of
 * the queue that word names and sends it one byte
 * (MSG_DONTWAIT: a full socket buffer polls readable already). A fired
 * poller is no longer counted, so later publishes cost nothing until it is
 * armed again: one wake-up call per wait, not per event.
 *
 * Re-arming. A reading call that finds its reader empty while it has a
 * pollfd (a writing call that finds no room) drains the socket -- one
 * recv that finds nothing, or the bytes of earlier fires, whose news that
 * call has just looked at -- and arms it unless it is armed still. The
 * load that finds it fired (A21) comes before the call's second look, which
 * so sees what fired it. Hence the contract: the fd stops polling readable
 * once a call found nothing, and polls readable again when something comes;
 * a wake may be spurious (a second look that finds something fires the fd
 * though the call may take the last event), never lost.
 *
 * Dead pollers. A poller whose process died while armed leaves its count in
 * `waiters`; the next wake-up call fires it like any other (the datagram
 * goes nowhere) and so takes the count back. A dead reader's entry is
 * evicted with its poller (proc.c rr__evict_dead_readers forgets it; the
 * reaper also looks at entries whose poller is armed), a dead writer's
 * poller is reaped like a dead writer's sleeper (proc.c).
 *
 * Closing. A handle closed with a pollfd sends its own socket one byte
 * before it closes its fd (rr__poll_last_word): a copy of the fd that an
 * event loop watches keeps the socket alive, undrained, so the copy polls
 * readable for good and whoever waits on it looks and finds the handle
 * closed, even one that started waiting after the close.
 *
 * Ordering (labels of layout.h, where every pair is listed):
 *   S1   the arming's count (seq_cst add) and rr__waiter_barrier against the
 *        notifier's store of its progress and its load of `waiters`
 *        (rr__notify, rusted_ring_inline.h rr__hot_notify, rr_ring_close's
 *        fence): either the arming's look sees the progress, or the
 *        notifier sees the count and looks for pollers; the owner word and
 *        address, stored before the barrier, are seen with the count.
 *   R20  rr__poller_arm's swap of the owner word (release, after the address
 *        and the count)  ->  A20 rr__poller_fire's swap (acquire): the
 *        address the notifier sends to is the armed poller's (or a later
 *        one); the queue it takes the count from is named by the swapped
 *        word itself, never read after the swap.
 *   R21  rr__poller_fire's swap (release, after the notifier's publish or
 *        release)  ->  A21 rr__poller_rearm's acquire load that finds it 0:
 *        the poller's next look sees what fired it.
 *   The count's decrements pair with nothing: a notifier reads `waiters`
 *   only to decide whether to call. Process-local: a handle's rr_poller
 *   stores its fd before its address (release) and is read address first
 *   (acquire); the ring's `poll_tx` is taken by a CAS (acq_rel).
 *
 * Each process tells pollers through a socket of its own per ring handle
 * (`poll_tx`), made on first need and closed with the handle. System calls
 * here go through syscall() where libc's wrapper is a cancellation point
 * (sendto, recvfrom, close): the core has none (layout.h).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "layout.h"

#define RR_POLL_NAME "rusted_ring.poll."

/* The abstract address of `addr`; returns its length. (Written out by
 * hand: a notifier makes one per send.) */
static socklen_t rr__poll_sockaddr(uint64_t addr, struct sockaddr_un *sa)
{
    static const char hex[] = "0123456789abcdef";
    char *p = sa->sun_path;
    sa->sun_family = AF_UNIX;
    *p++ = '\0';                                  /* the abstract namespace */
    memcpy(p, RR_POLL_NAME, sizeof RR_POLL_NAME - 1);
    p += sizeof RR_POLL_NAME - 1;
    for (int shift = 60; shift >= 0; shift -= 4)
        *p++ = hex[(addr >> shift) & 15];
    return (socklen_t)(p - (char *)sa);
}

static void rr__poll_close_fd(int fd)
{
    if (fd >= 0)
        syscall(SYS_close, fd);   /* close() is a cancellation point */
}

static _Atomic uint32_t rr__poll_counter;

/* A socket bound to a fresh address: RR_OK with *fd and *addr. */
static rr_status rr__poll_socket(int *fd, uint64_t *addr)
{
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return rr__fail(RR_SYSTEM, "cannot make a pollfd: socket: %s", strerror(errno));
    uint64_t pid = (uint32_t)getpid();
    for (int tries = 0; tries < 64; tries++) {
        uint64_t a = pid << 32 | atomic_fetch_add_explicit(&rr__poll_counter, 1,
                                                          memory_order_relaxed);
        if (a == 0)
            continue;
        struct sockaddr_un sa;
        socklen_t len = rr__poll_sockaddr(a, &sa);
        if (bind(s, (struct sockaddr *)&sa, len) == 0) {
            *fd = s;
            *addr = a;
            return RR_OK;
        }
        if (errno != EADDRINUSE)   /* in use: another namespace's process of our pid */
            break;
    }
    int err = errno;
    rr__poll_close_fd(s);
    return rr__fail(RR_SYSTEM, "cannot make a pollfd: bind: %s", strerror(err));
}

/* Whether a socket is bound to `addr` now (its holder lives and keeps it). */
static bool rr__poll_bound(uint64_t addr)
{
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return true;   /* cannot tell: assume it is */
    struct sockaddr_un sa;
    socklen_t len = rr__poll_sockaddr(addr, &sa);
    /* connect() sends nothing; through syscall(): it is a cancellation point */
    bool bound = syscall(SYS_connect, s, (struct sockaddr *)&sa, len) == 0 ||
                 errno != ECONNREFUSED;
    rr__poll_close_fd(s);
    return bound;
}

/* This process's socket for telling pollers of `ring`, made on first need
 * (-1 when it cannot be: out of descriptors; the poller is then not told).
 * Two threads may make one at once: the first stored stays. The handle is
 * const to the wake-up path; the word is the one field it may set. */
static int rr__poll_sender(const rr_ring *ring)
{
    _Atomic int *tx = &((rr_ring *)(uintptr_t)ring)->poll_tx;
    int fd = atomic_load_explicit(tx, memory_order_acquire);
    if (fd >= 0)
        return fd;
    int mine = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (mine < 0)
        return -1;
    int none = -1;
    if (atomic_compare_exchange_strong_explicit(tx, &none, mine, memory_order_acq_rel,
                                                memory_order_acquire))
        return mine;
    rr__poll_close_fd(mine);
    return none;
}

/* One byte through socket tx to the poller at `addr`. */
static void rr__poll_send_on(int tx, uint64_t addr)
{
    struct sockaddr_un sa;
    socklen_t len = rr__poll_sockaddr(addr, &sa);
    const char one = 1;
    syscall(SYS_sendto, tx, &one, (size_t)1, MSG_DONTWAIT | MSG_NOSIGNAL, &sa, len);
}

/* One byte to the poller at `addr`. */
static void rr__poll_send(const rr_ring *ring, uint64_t addr)
{
    int tx = rr__poll_sender(ring);
    if (tx >= 0 && addr != 0)
        rr__poll_send_on(tx, addr);
}

/* A closing handle's last word to its own socket: one byte to its own
 * address, from itself, before its fd is closed. A copy of the fd (dup(),
 * as an event loop may watch one: python/rusted_ring/_aio.py) keeps the
 * socket open, and nobody drains it any more, so the copy polls readable
 * from now on and a task that waits on it wakes, looks and finds the handle
 * closed, however its wait and the close interleave. (A full buffer polls
 * readable already.) */
static void rr__poll_last_word(int fd, uint64_t addr)
{
    if (fd < 0 || addr == 0)
        return;
    struct sockaddr_un sa;
    socklen_t len = rr__poll_sockaddr(addr, &sa);
    const char one = 1;
    syscall(SYS_sendto, fd, &one, (size_t)1, MSG_DONTWAIT | MSG_NOSIGNAL, &sa, len);
}

void rr__poll_ring_destroy(rr_ring *ring)
{
    rr__poll_close_fd(atomic_exchange_explicit(&ring->poll_tx, -1, memory_order_acq_rel));
}

/* ---- arming and firing --------------------------------------------------------- */

/* The address word says which queue its poller waits on, in its top bit (a
 * process's address never has it: pids are below 2^31): a reader that
 * follows others (pipeline.c) waits on `writable`, every other reader on
 * `readable`, a writer on `writable`. The owner word says the same in bit
 * 31 (a pid's, never set: pids are below 2^22), and it is the owner word
 * that says which queue counts the poller: whoever swaps an armed word for
 * 0 takes the count back from the queue that word names. The address may
 * change while the word is armed -- a closing writer clears the slot's, a
 * closing reader its entry's, a follower that stops following moves its
 * entry's to the other queue, a writer taking over a dead one's slot writes
 * its own -- so a notifier that read the address after its swap could
 * take the count from the wrong queue (one count wrapping below 0, the
 * other never going back to 0). The address only says where the byte goes:
 * one read a moment late sends it to the poller's next address, to its
 * successor (a spurious wake) or to nobody (0: it is closing). */
#define RR_POLL_ON_WRITABLE (UINT64_C(1) << 63)
#define RR_POLL_OWNER_ON_WRITABLE (UINT64_C(1) << 31)

static inline rr_waitq *rr__poll_queue(const rr_ring *ring, uint64_t word)
{
    return word & RR_POLL_ON_WRITABLE ? &ring->L->writable : &ring->L->readable;
}

static inline uint64_t rr__poll_word(const rr_ring *ring, const rr_waitq *q, uint64_t addr)
{
    return q == &ring->L->writable ? addr | RR_POLL_ON_WRITABLE : addr;
}

/* The queue that counts the poller whose armed owner word is `owner`. */
static inline rr_waitq *rr__poll_owner_queue(const rr_ring *ring, uint64_t owner)
{
    return owner & RR_POLL_OWNER_ON_WRITABLE ? &ring->L->writable : &ring->L->readable;
}

/* The owner word of `me` armed on q; and the process's own word back. */
static inline uint64_t rr__poll_owner_word(const rr_ring *ring, const rr_waitq *q, uint64_t me)
{
    return q == &ring->L->writable ? me | RR_POLL_OWNER_ON_WRITABLE : me;
}

static inline uint64_t rr__poll_owner_of(uint64_t owner)
{
    return owner & ~RR_POLL_OWNER_ON_WRITABLE;
}

void rr__poller_fire(const rr_ring *ring, _Atomic uint64_t *owner, _Atomic uint64_t *addr)
{
    if (atomic_load_explicit(owner, memory_order_relaxed) == 0)
        return;
    /* The socket first: a notifier that cannot make one (out of
     * descriptors) leaves the poller armed and counted, for the next
     * notifier to tell, rather than disarm it without telling it. */
    int tx = rr__poll_sender(ring);
    if (tx < 0)
        return;
    /* A20 (the address below is the armed poller's, or a later one) and R21
     * (our progress before it, for the poller's A21) */
    uint64_t was = atomic_exchange_explicit(owner, 0, memory_order_acq_rel);
    if (was == 0)
        return;   /* another notifier fired it */
    /* pairs with nothing: a notifier reads the count only to decide to call */
    atomic_fetch_sub_explicit(&rr__poll_owner_queue(ring, was)->waiters, RR_POLLER_COUNT,
                              memory_order_release);
    uint64_t to = atomic_load_explicit(addr, memory_order_relaxed) & ~RR_POLL_ON_WRITABLE;
    if (to != 0)
        rr__poll_send_on(tx, to);
}

void rr__poll_notify(const rr_ring *ring, rr_waitq *q)
{
    rr_layout *L = ring->L;
    if (q == &L->writable)
        rr__poller_fire(ring, &L->control.writer_poll_owner, &L->control.writer_poll_addr);
    /* An armed poller's entry is below the high-water mark, raised when it
     * opened, before it armed; S1 makes its words visible with its count.
     * A poller counted in the other queue is skipped (a word read while it
     * moves from one queue to the other may fire it anyway: spurious, and
     * the count goes back to the queue the swapped word names). */
    uint32_t hw = atomic_load_explicit(&L->gating.reader_hw, memory_order_relaxed);
    if (hw > RR_MAX_READERS)
        hw = RR_MAX_READERS;
    for (uint32_t i = 0; i < hw; i++) {
        rr_reader_entry *e = &ring->readers[i];
        uint64_t armed = atomic_load_explicit(&e->poll_owner, memory_order_relaxed);
        if (armed != 0 && rr__poll_owner_queue(ring, armed) == q)
            rr__poller_fire(ring, &e->poll_owner, &e->poll_addr);
    }
}

/* Count the poller in q->waiters and name it (S1's stores, then R20); a
 * word that named a poller already -- the same handle's, armed by another
 * thread sharing it (a multi-producer writer), or a dead writer's -- hands
 * its count, in the queue it names, to us. Where the waiter's fence cannot be assured
 * (no membarrier, a shared ring) a wake-up may be lost: the handle's poll
 * interval (rr__waiter_slice_ns) then has its caller look again now and
 * then. Firing the poller at once instead would leave the fd readable for
 * good, and an event loop spinning on it. */
static void rr__poller_arm(const rr_ring *ring, rr_waitq *q, _Atomic uint64_t *owner,
                           _Atomic uint64_t *addr, uint64_t me, uint64_t my_addr)
{
    /* published by R20 */
    atomic_store_explicit(addr, rr__poll_word(ring, q, my_addr), memory_order_relaxed);
    atomic_fetch_add_explicit(&q->waiters, RR_POLLER_COUNT, memory_order_seq_cst);   /* S1 */
    /* R20, pairs with A20 in rr__poller_fire */
    uint64_t was = atomic_exchange_explicit(owner, rr__poll_owner_word(ring, q, me),
                                            memory_order_acq_rel);
    if (was != 0)
        atomic_fetch_sub_explicit(&rr__poll_owner_queue(ring, was)->waiters, RR_POLLER_COUNT,
                                  memory_order_release);
    (void)rr__waiter_barrier(ring);
}

static void rr__poller_drain(int fd)
{
    char buf[16];
    for (int i = 0; i < 1024; i++) {   /* bounded: a flood of stray datagrams */
        long n = syscall(SYS_recvfrom, fd, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL);
        if (n < 0 && errno != EINTR)
            return;
    }
}

bool rr__poller_rearm(const rr_ring *ring, rr_poller *p, rr_waitq *q, _Atomic uint64_t *owner,
                      _Atomic uint64_t *addr)
{
    rr__poller_drain(atomic_load_explicit(&p->fd, memory_order_acquire));
    uint64_t me = rr__self_owner();
    /* A21, pairs with R21 in rr__poller_fire */
    uint64_t armed = atomic_load_explicit(owner, memory_order_acquire);
    if (armed != 0 && rr__poll_owner_of(armed) == me) {
        if (rr__poll_owner_queue(ring, armed) == q)
            return false;   /* armed still: nothing came since it was */
        rr__poller_forget(ring, owner, addr, false);   /* armed on the other queue */
    }
    rr__poller_arm(ring, q, owner, addr, me, atomic_load_explicit(&p->addr, memory_order_relaxed));
    return true;
}

void rr__poller_forget(const rr_ring *ring, _Atomic uint64_t *owner, _Atomic uint64_t *addr,
                       bool dead_only)
{
    (void)addr;
    uint64_t was = atomic_load_explicit(owner, memory_order_acquire);
    if (was == 0 || (dead_only && rr__owner_alive(rr__poll_owner_of(was))))
        return;
    /* whoever swaps it for 0 takes the count back (the notifier's swap too),
     * from the queue the word it swapped names */
    if (atomic_compare_exchange_strong_explicit(owner, &was, 0, memory_order_acq_rel,
                                                memory_order_relaxed))
        atomic_fetch_sub_explicit(&rr__poll_owner_queue(ring, was)->waiters, RR_POLLER_COUNT,
                                  memory_order_release);
}

/* ---- the handles' pollfds ------------------------------------------------------- */

/* Making a pollfd is rare, and a multi-producer writer's handle may be
 * shared by threads: one lock for all. (No cancellation point.) */
static pthread_mutex_t rr__poll_lock = PTHREAD_MUTEX_INITIALIZER;

/* Make p's socket unless it has one: *made says whether this call did.
 * `reserve` (may be NULL) must say RR_OK for the new address first. */
static rr_status rr__poller_open(rr_poller *p, bool *made,
                                 rr_status (*reserve)(void *ctx, uint64_t addr), void *ctx)
{
    *made = false;
    if (atomic_load_explicit(&p->addr, memory_order_acquire) != 0)
        return RR_OK;
    int fd = -1;
    uint64_t addr = 0;
    rr_status st = rr__poll_socket(&fd, &addr);
    if (st != RR_OK)
        return st;
    pthread_mutex_lock(&rr__poll_lock);
    if (atomic_load_explicit(&p->addr, memory_order_acquire) == 0 &&
        (!reserve || (st = reserve(ctx, addr)) == RR_OK)) {
        atomic_store_explicit(&p->fd, fd, memory_order_relaxed);
        atomic_store_explicit(&p->addr, addr, memory_order_release);   /* after the fd */
        *made = true;
    }
    pthread_mutex_unlock(&rr__poll_lock);
    if (!*made)
        rr__poll_close_fd(fd);
    return st;
}

/* A new pollfd: told at once when `ready` says there is something (its
 * address named, not armed); else armed, then the caller's look. */
static void rr__poller_start(const rr_ring *ring, rr_poller *p, rr_waitq *q,
                             _Atomic uint64_t *owner, _Atomic uint64_t *addr,
                             bool (*ready)(void *), void *ctx)
{
    uint64_t my_addr = atomic_load_explicit(&p->addr, memory_order_relaxed);
    if (ready(ctx)) {
        atomic_store_explicit(addr, rr__poll_word(ring, q, my_addr), memory_order_relaxed);
        rr__poll_send(ring, my_addr);
        return;
    }
    rr__poller_arm(ring, q, owner, addr, rr__self_owner(), my_addr);
    if (ready(ctx))
        rr__poller_fire(ring, owner, addr);
}

static bool rr__reader_ready(void *r) { return rr__reader_has_events(r); }

/* The queue a reader's poller counts in: a follower's `writable`. */
static rr_waitq *rr__reader_queue(const rr_reader *r)
{
    return r->direct == RR_READ_FOLLOW ? &r->ring->L->writable : &r->ring->L->readable;
}
static bool rr__writer_ready(void *w) { return rr__writer_has_room(w); }

rr_status rr_reader_pollfd(rr_reader *r, int *fd)
{
    if (!r || !fd)
        return rr__fail(RR_INVALID, "rr_reader_pollfd needs a reader and a place for the fd");
    rr_status st = rr__reader_check(r);
    if (st != RR_OK)
        return st;
    bool made;
    if ((st = rr__poller_open(&r->poll, &made, NULL, NULL)) != RR_OK)
        return st;
    if (made)
        rr__poller_start(r->ring, &r->poll, rr__reader_queue(r), &r->entry->poll_owner,
                         &r->entry->poll_addr, rr__reader_ready, r);
    *fd = atomic_load_explicit(&r->poll.fd, memory_order_acquire);
    return RR_OK;
}

/* Hold the ring's writer poller slot for w: free, or its holder's socket
 * gone. */
static rr_status rr__writer_poll_reserve(void *ctx, uint64_t mine)
{
    rr_writer *w = ctx;
    _Atomic uint64_t *slot = &w->ring->L->control.writer_poll_addr;
    uint64_t cur = atomic_load_explicit(slot, memory_order_acquire);
    mine |= RR_POLL_ON_WRITABLE;
    for (;;) {
        uint64_t held = cur & ~RR_POLL_ON_WRITABLE;
        if (held != 0 && rr__poll_bound(held))
            return rr__fail(RR_IN_USE, "another writer of this ring (process %u) has a pollfd; "
                            "one writer at a time may poll a ring for room (share that "
                            "writer, or close it first)", (unsigned)(held >> 32));
        if (atomic_compare_exchange_strong_explicit(slot, &cur, mine, memory_order_acq_rel,
                                                    memory_order_acquire))
            return RR_OK;
    }
}

rr_status rr_writer_pollfd(rr_writer *w, int *fd)
{
    if (!w || !fd)
        return rr__fail(RR_INVALID, "rr_writer_pollfd needs a writer and a place for the fd");
    rr_status st = rr__writer_check(w);
    if (st != RR_OK)
        return st;
    bool made;
    if ((st = rr__poller_open(&w->poll, &made, rr__writer_poll_reserve, w)) != RR_OK)
        return st;
    if (made) {
        rr_layout *L = w->ring->L;
        rr__poller_start(w->ring, &w->poll, &L->writable, &L->control.writer_poll_owner,
                         &L->control.writer_poll_addr, rr__writer_ready, w);
    }
    *fd = atomic_load_explicit(&w->poll.fd, memory_order_acquire);
    return RR_OK;
}

void rr__reader_poll_close(rr_reader *r, bool entry_mine)
{
    if (atomic_load_explicit(&r->poll.addr, memory_order_acquire) == 0)
        return;
    if (entry_mine) {   /* before the entry is freed: the next reader's starts clean */
        rr_reader_entry *e = r->entry;
        rr__poller_forget(r->ring, &e->poll_owner, &e->poll_addr, false);
        atomic_store_explicit(&e->poll_addr, 0, memory_order_relaxed);
    }
    int fd = atomic_exchange_explicit(&r->poll.fd, -1, memory_order_relaxed);
    rr__poll_last_word(fd, atomic_load_explicit(&r->poll.addr, memory_order_relaxed));
    rr__poll_close_fd(fd);
}

void rr__writer_poll_close(rr_writer *w, bool mine)
{
    uint64_t addr = atomic_load_explicit(&w->poll.addr, memory_order_acquire);
    if (addr == 0)
        return;
    rr_layout *L = w->ring->L;
    uint64_t word = addr | RR_POLL_ON_WRITABLE;
    if (mine && atomic_load_explicit(&L->control.writer_poll_addr, memory_order_acquire) == word) {
        rr__poller_forget(w->ring, &L->control.writer_poll_owner, &L->control.writer_poll_addr,
                          false);
        atomic_compare_exchange_strong_explicit(&L->control.writer_poll_addr, &word, 0,
                                                memory_order_acq_rel, memory_order_relaxed);
    }
    int fd = atomic_exchange_explicit(&w->poll.fd, -1, memory_order_relaxed);
    rr__poll_last_word(fd, addr);
    rr__poll_close_fd(fd);
}

/* ---- how often to look anyway ---------------------------------------------------- */

int64_t rr_reader_poll_interval(const rr_reader *r)
{
    if (!r)
        return 0;
    int64_t slice = rr__waiter_slice_ns(r->ring);
    if (slice)
        return slice;
    /* several producers, shared: a claim whose producer died (reader.c); a
     * follower of a shared ring: a leader whose process died (pipeline.c) */
    return r->ring->claims || (!r->ring->private_mem && r->direct == RR_READ_FOLLOW)
               ? RR_SHM_LIVENESS_NS : 0;
}

int64_t rr_writer_poll_interval(const rr_writer *w)
{
    if (!w)
        return 0;
    const rr_ring *ring = w->ring;
    int64_t slice = rr__waiter_slice_ns(ring);
    if (slice)
        return slice;
    /* as a blocking writer's `poll` (writer.c rr__wait_room): dead readers
     * gating it, dead producers' claims holding its slots */
    return !ring->private_mem && (!ring->overwrite || ring->multi) ? RR_SHM_LIVENESS_NS : 0;
}
