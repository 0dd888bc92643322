/*
 * writer.c — claim, fill in place, publish.
 *
 * Single producer: the writer keeps its next sequence and slot index in its
 * handle; publishing is a release store of each slot's stamp and of
 * `published`. The handle starts with the state the common add, claim and
 * publish need (rr_writer_hot), and those run as the fast paths of
 * rusted_ring_inline.h, which every call here tries first: one combined test
 * (room below `limit`, which is 0 while a claim is open; this process; ring
 * open), no division, no call. Everything else takes the general path below.
 *
 * Multi producer: sequences are claimed from `claim` with an atomic, and each
 * slot is published by its own stamp. A multi-producer writer claims a run of
 * slots only once each holds its previous lap's event complete (stamps only
 * grow, so the check stays true), so two writers never fill one slot and a
 * claim never has to wait after it is taken. Even an
 * overwrite ring can then make a writer wait, or report full: when another
 * producer has held a claim for a whole lap.
 *
 * Overwrite mode marks a slot "being written" (odd stamp) before touching it,
 * so a reader copying the old event notices the change (see reader.c).
 *
 * Multi producer, shared rings: each claim also holds a claim record naming
 * its process, taken before the claim and given back after the stamps, so
 * that a claim whose producer died is abandoned by whoever finds it, and a
 * claim whose producer lives never is (claims.c says how, and why). The claim
 * cursor moves by compare-and-swap, not fetch-and-add, so a producer knows
 * the sequences it tries for before it takes them and its record can say so
 * first. Private rings have no records: their claims cost what they did.
 *
 * Backpressure gating. A writer may claim sequences below `gating.limit`. To
 * raise it, a writer scans the reader table for the smallest gate m and
 * proposes m + capacity. A reader registering concurrently could be missed by
 * that scan, so registration bumps `gating.gen` after publishing its gate, and
 * a limit is confirmed only if `gen` did not move during the scan. A new
 * reader starts no lower than max(limit, proposed) - capacity, the oldest
 * event no writer can have overwritten. So every confirmed limit stays valid.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"

enum { RR_CLAIM_NONE = 0, RR_CLAIM_OPEN = RR__CLAIM_OPEN };

/* RR_OK when this process may use the writer: it opened it, or (a heap
 * ring) adopts it with the single writer's role (proc.c rr__handle_forked). */
static inline rr_status rr__writer_mine(rr_writer *w)
{
    return rr__check_process(w->ring, &w->hot.fork_gen, &w->owner,
                             w->single ? &w->ring->L->control.writer_owner : NULL, "writer");
}

/* The fast paths' limit (rusted_ring_inline.h): 0 while a claim is open,
 * else the writer's room. */
static inline void rr__hot_limit(rr_writer *w)
{
    w->hot.limit = w->hot.pending ? 0 : w->hot.room;
}

void rr__writer_wake(const rr_writer *w)
{
    rr__wake_all(w->ring, &w->ring->L->readable);
}

uint64_t rr__gate_refresh(rr_ring *ring, uint64_t head)
{
    rr_layout *L = ring->L;
    for (;;) {
        /* S2 (layout.h): gen, the high-water mark, the gates and `proposed`
         * in one total order with readers registering (reader.c) */
        uint64_t gen = atomic_load_explicit(&L->gating.gen, memory_order_seq_cst);
        uint32_t hw = atomic_load_explicit(&L->gating.reader_hw, memory_order_seq_cst);
        if (hw > RR_MAX_READERS)
            hw = RR_MAX_READERS;
        uint64_t min = RR_GATE_FREE;
        for (uint32_t i = 0; i < hw; i++) {
            /* A3, pairs with R3 in reader.c: its reads of a slot happen
             * before we overwrite that slot */
            uint64_t g = atomic_load_explicit(&ring->readers[i].gate, memory_order_seq_cst);
            if (g < min)
                min = g;
        }
        if (min == RR_GATE_FREE)
            min = head;          /* nobody gates: one lap ahead of the writer */
        uint64_t lim = min + ring->capacity;
        rr__store_max(&L->gating.proposed, lim);
        if (atomic_load_explicit(&L->gating.gen, memory_order_seq_cst) == gen) {
            rr__store_max(&L->gating.limit, lim);
            return atomic_load_explicit(&L->gating.limit, memory_order_seq_cst);
        }
    }
}

/* ---- opening and closing ---------------------------------------------------- */

/* Single producer, taking over from a writer whose process died: events it
 * stamped complete but did not count in `published` are published now, so
 * the next sequence is never one a reader may already have been handed. */
static void rr__recover_published(rr_ring *ring)
{
    /* A2 and A1: what the dead writer published and stamped is complete */
    uint64_t pub = atomic_load_explicit(&ring->L->published, memory_order_acquire);
    uint64_t next = pub;
    while (next - pub < ring->capacity &&
           atomic_load_explicit(&rr__meta(ring, next % ring->capacity)->stamp,
                                memory_order_acquire) == rr__stamp_done(next))
        next++;
    if (next != pub) {
        /* R2 */
        atomic_store_explicit(&ring->L->published, next, memory_order_release);
        rr__notify(ring, &ring->L->readable);
    }
}

/* Single producer: make this process the ring's writer. A writer of a dead
 * process (shared rings only) is replaced. */
static rr_status rr__take_writer(rr_ring *ring)
{
    rr_layout *L = ring->L;
    uint64_t me = rr__self_owner(), cur = 0;
    /* R11/A11: the writer role passes with what its last holder wrote */
    if (atomic_compare_exchange_strong_explicit(&L->control.writer_owner, &cur, me,
                                                memory_order_acq_rel, memory_order_acquire)) {
        /* events a writer stamped but never counted, if it died (see below) */
        if (!ring->private_mem)
            rr__recover_published(ring);
        return RR_OK;
    }
    while (!ring->private_mem && cur != 0 && cur != me && !rr__owner_alive(cur)) {
        if (atomic_compare_exchange_strong_explicit(&L->control.writer_owner, &cur, me,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            rr__drop_dead_writer(L);
            rr__recover_published(ring);
            return RR_OK;
        }
    }
    if (cur == 0)   /* the writer closed meanwhile: try again */
        return rr__take_writer(ring);
    return rr__fail(RR_WRITER_BUSY,
                    "the ring already has a writer (process %u); a single-producer "
                    "ring allows one at a time", rr__owner_pid(cur));
}

static void rr__give_writer(rr_ring *ring)
{
    uint64_t me = rr__self_owner();
    /* only while it is still ours (a process taken for dead has lost it); R11 */
    atomic_compare_exchange_strong_explicit(&ring->L->control.writer_owner, &me, 0,
                                            memory_order_acq_rel, memory_order_relaxed);
}

rr_status rr_writer_open_opts(rr_ring *ring, const rr_writer_options *opts, rr_writer **out)
{
    static const rr_writer_options defaults = RR_WRITER_OPTIONS_INIT;
    if (!opts)
        opts = &defaults;
    if (!ring || !out)
        return rr__fail(RR_INVALID, "rr_writer_open needs a ring and a place for the writer");
    rr_status wst = rr__wait_strategy_check(opts->wait, "rr_writer_open_opts");
    if (wst != RR_OK)
        return wst;
    if (rr__closed(ring))
        return rr__fail(RR_CLOSED, "cannot open a writer: the ring is closed");
    rr_layout *L = ring->L;
    if (!ring->multi) {
        rr_status st = rr__take_writer(ring);
        if (st != RR_OK)
            return st;
    }
    /* the hot prefix in as few cache lines as it can be */
    rr_writer *w = aligned_alloc(RR_CACHE_LINE, (sizeof *w + RR_CACHE_LINE - 1) /
                                                    RR_CACHE_LINE * RR_CACHE_LINE);
    if (w)
        memset(w, 0, sizeof *w);
    if (!w) {
        if (!ring->multi)
            rr__give_writer(ring);
        return rr__fail(RR_NO_MEMORY, "cannot allocate a writer");
    }
    if (ring->multi && !ring->private_mem)
        rr__writer_proc_register(ring);
    w->ring = ring;
    w->wait = opts->wait;
    atomic_init(&w->owner, rr__self_owner());
    atomic_init(&w->hot.fork_gen, rr__fork_watch());
    w->single = !ring->multi;
    /* A2; the limit needs no pair: every confirmed limit stays valid (S2) */
    w->hot.next = atomic_load_explicit(&L->published, memory_order_acquire);
    w->hot.idx = w->hot.next % ring->capacity;
    w->hot.capacity = ring->capacity;
    w->hot.payload = rr__slot(ring, 0);
    w->hot.meta = (unsigned char *)rr__meta(ring, 0);
    w->hot.stride = ring->stride;
    w->hot.meta_stride = (uint32_t)rr__meta_stride(ring);
    w->hot.slot_size = ring->slot_size;
    w->hot.published = &L->published;
    w->hot.closed = &L->control.closed;
    w->hot.waiters = &L->readable.waiters;
    w->hot.max_claim = ring->capacity < RR_MAX_CLAIM ? (uint32_t)ring->capacity : RR_MAX_CLAIM;
    w->hot.overwrite = ring->overwrite;
    w->hot.ring = ring;
    w->hot.room = ring->multi ? 0 : ring->overwrite ? UINT64_MAX
                : atomic_load_explicit(&L->gating.limit, memory_order_acquire);
    rr__hot_limit(w);
    atomic_fetch_add_explicit(&L->control.writers, 1, memory_order_relaxed);
    /* shown by stats only: pairs with nothing */
    atomic_store_explicit(&L->control.writer_wait, (uint32_t)opts->wait, memory_order_relaxed);
    /* R12 here and at close, pairs with A12 in ring.c rr_ring_destroy */
    atomic_fetch_add_explicit(&ring->handles, 1, memory_order_acq_rel);
    rr__wait_init();
    *out = w;
    return RR_OK;
}

rr_status rr_writer_open(rr_ring *ring, rr_writer **out)
{
    return rr_writer_open_opts(ring, NULL, out);
}

rr_wait_strategy rr_writer_wait_strategy(const rr_writer *w)
{
    return w ? w->wait : RR_WAIT_BLOCK;
}

void rr_writer_close(rr_writer *w)
{
    if (!w)
        return;
    rr_ring *ring = w->ring;
    rr_layout *L = ring->L;
    /* A heap ring's writer closed in a forked child is the child's, as is
     * the child's copy of the ring: adopted now if the child never used it. */
    if (ring->private_mem)
        (void)rr__writer_mine(w);
    bool mine = atomic_load_explicit(&w->owner, memory_order_relaxed) == rr__self_owner();
    rr__writer_poll_close(w, mine);
    if (!mine) {
        /* a shared ring's writer inherited through fork(): still the parent's (R12) */
        atomic_fetch_sub_explicit(&ring->handles, 1, memory_order_acq_rel);
        free(w);
        return;
    }
    if (w->single) {
        if (w->hot.pending)   /* an open claim dies with its writer */
            atomic_fetch_add_explicit(&L->counters.abandoned, w->hot.pending,
                                      memory_order_relaxed);
        rr__give_writer(ring);
    }
    atomic_fetch_sub_explicit(&L->control.writers, 1, memory_order_relaxed);
    /* R12 */
    atomic_fetch_sub_explicit(&ring->handles, 1, memory_order_acq_rel);
    free(w);
}

rr_status rr_writer_note_lost(rr_writer *w, uint64_t n)
{
    if (!w)
        return rr__fail(RR_INVALID, "rr_writer_note_lost needs a writer");
    rr_status st = rr__writer_mine(w);
    if (st != RR_OK)
        return st;
    /* a counter (ring.c): relaxed, ordered with nothing; it stops at
     * INT64_MAX (2^63-1) instead of wrapping to a smaller count, so Lua's
     * integers (and Python's, the same number) show it as it is. It never
     * goes down: one already at or above the top (only a scribbler puts it
     * above; stats.c shows that as the top) is left as it is. */
    const uint64_t top = (uint64_t)INT64_MAX;
    _Atomic uint64_t *c = &w->ring->L->origin.upstream_lost;
    uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
    uint64_t next;
    do {
        if (cur >= top)
            break;
        next = n >= top - cur ? top : cur + n;
    } while (next != cur &&
             !atomic_compare_exchange_weak_explicit(c, &cur, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return RR_OK;
}

/* ---- waiting for room --------------------------------------------------------- */

/* Multi producer: may [s, s + n) be claimed? Each slot must hold its previous
 * lap's event, complete, or never have been used. */
static bool rr__slots_free(const rr_ring *ring, uint64_t s, uint32_t n)
{
    uint64_t cap = ring->capacity;
    if (s + n <= cap)
        return true;
    uint64_t idx = rr__mod(ring, s);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t seq = s + i;
        /* A1: the previous writer's bytes are done before we refill */
        if (seq >= cap && atomic_load_explicit(&rr__meta(ring, idx)->stamp, memory_order_acquire) <
                              rr__stamp_done(seq - cap))
            return false;
        if (++idx == cap)
            idx = 0;
    }
    return true;
}

/* Multi producer: may `count` events be claimed at s right now? Any
 * confirmed limit read stays valid (S2), so its load pairs with nothing. */
static bool rr__multi_room(rr_ring *ring, uint64_t s, uint32_t count)
{
    if (!ring->overwrite &&
        s + count > atomic_load_explicit(&ring->L->gating.limit, memory_order_acquire) &&
        s + count > rr__gate_refresh(ring, s))
        return false;
    return rr__slots_free(ring, s, count);
}

struct rr_room {
    rr_writer *w;
    uint64_t   need;   /* single: claim must reach below this limit */
    uint32_t   count;  /* multi: events wanted at the current claim cursor */
    bool       contiguous;   /* multi: of those, only the ones before the ring's end
                                from wherever the cursor is when room is looked for */
};

static inline uint32_t rr__contiguous(const rr_ring *ring, uint64_t s, uint32_t n);

/* Readers releasing slots and (with several producers) writers publishing
 * both notify the `writable` queue that this waits on. */
static bool rr__room_now(struct rr_room *r)
{
    rr_ring *ring = r->w->ring;
    if (r->w->single) {
        r->w->hot.room = rr__gate_refresh(ring, r->w->hot.next);
        rr__hot_limit(r->w);
        return r->need <= r->w->hot.room;
    }
    /* A4 */
    uint64_t head = atomic_load_explicit(&ring->L->claim, memory_order_acquire);
    /* a block claim needs fewer slots where the cursor has since come near
     * the ring's end: room for the count at the old cursor may never come */
    uint32_t n = r->contiguous ? rr__contiguous(ring, head, r->count) : r->count;
    return rr__multi_room(ring, head, n);
}

/* Shared backpressure rings: a reader whose process died would gate the
 * writers forever. While a writer finds no room, it looks for such readers
 * at most every RR_SHM_LIVENESS_NS (the look costs system calls). */
static bool rr__dead_readers_gone(rr_writer *w)
{
    rr_ring *ring = w->ring;
    if (ring->private_mem || ring->overwrite)
        return false;
    int64_t now = rr__now_ns();
    int64_t last = atomic_load_explicit(&w->liveness_at, memory_order_relaxed);
    /* a multi-producer handle may be shared: one thread per period looks */
    if ((last != 0 && now - last < RR_SHM_LIVENESS_NS) ||
        !atomic_compare_exchange_strong_explicit(&w->liveness_at, &last, now,
                                                 memory_order_relaxed, memory_order_relaxed))
        return false;
    return rr__evict_dead_readers(ring, false) > 0;
}

static rr_status rr__room_ready(void *ctx)
{
    struct rr_room *r = ctx;
    if (rr__closed(r->w->ring))
        return RR_CLOSED;
    if (rr__room_now(r))
        return RR_OK;
    bool freed = rr__dead_readers_gone(r->w);
    /* several producers: a slot (or a reader) may wait for a dead one's claim */
    if (!r->w->single && rr__claims_recover_due(r->w->ring))
        freed = true;
    return freed && rr__room_now(r) ? RR_OK : RR_EMPTY;
}

/* The writer has a pollfd and found no room: stop the fd polling readable
 * and arm it (poll.c); if it was armed anew, look again, and a look that
 * finds room (or the close) tells the fd. */
static __attribute__((noinline)) rr_status rr__room_rearm(struct rr_room *room)
{
    rr_writer *w = room->w;
    rr_layout *L = w->ring->L;
    if (!rr__poller_rearm(w->ring, &w->poll, &L->writable, &L->control.writer_poll_owner,
                          &L->control.writer_poll_addr))
        return RR_EMPTY;   /* armed still */
    rr_status st = rr__room_ready(room);
    if (st != RR_EMPTY)
        rr__poller_fire(w->ring, &L->control.writer_poll_owner, &L->control.writer_poll_addr);
    return st;
}

/* Room for an event now (with one producer: in overwrite mode, always), or
 * the ring closed. A single producer's handle refreshes its limit. */
bool rr__writer_has_room(rr_writer *w)
{
    if (rr__closed(w->ring) || (w->single && (w->ring->overwrite || w->hot.pending)))
        return true;
    struct rr_room room = { w, w->hot.next + 1, 1, false };
    return rr__room_now(&room);
}

rr_status rr__writer_check(rr_writer *w)
{
    return rr__writer_mine(w);
}

/* The ring had no room for the claim: count the stall (once per logical
 * wait, which the caller's rr_wait spans), then report full or wait until the
 * deadline for a reader to release slots. `rec`: a multi-producer writer's
 * claim record in a shared ring (its sleeper word), or NULL. */
static rr_status rr__wait_room(rr_writer *w, uint64_t need, uint32_t count, bool contiguous,
                               int64_t deadline, rr_wait *wait, rr_claim_record *rec)
{
    rr_ring *ring = w->ring;
    struct rr_room room = { w, need, count, contiguous };
    if (rr__room_ready(&room) == RR_OK)
        return RR_OK;
    if (atomic_load_explicit(&w->poll.addr, memory_order_relaxed) &&
        rr__room_rearm(&room) == RR_OK)
        return RR_OK;
    if (!wait->stalled) {
        wait->stalled = true;
        atomic_fetch_add_explicit(&ring->L->counters.stalls, 1, memory_order_relaxed);
    }
    _Atomic uint64_t *sleeping = rec ? &rec->sleeping
                               : w->single && !ring->private_mem
                                     ? &ring->L->control.writer_sleeping : NULL;
    /* A writer of a shared backpressure ring looks now and then for readers
     * of dead processes (rr__dead_readers_gone), and with several producers
     * for claims of dead producers that hold the slots it needs (claims.c):
     * nobody else would wake it. */
    bool poll = !ring->private_mem && (!ring->overwrite || ring->multi);
    rr_status st = rr__wait(ring, &ring->L->writable, rr__room_ready, &room, deadline,
                            sleeping, &poll, w->wait);
    if (st == RR_EMPTY)
        return RR_FULL;
    if (st == RR_CLOSED)
        return rr__fail(RR_CLOSED, "the ring was closed while the writer waited for room");
    return st;
}

/* ---- claiming ------------------------------------------------------------------ */

/* Overwrite mode: mark the claimed slots "being written" before any byte of
 * them changes, so a reader copying an old event there sees the change. */
static inline void rr__mark_writing(rr_ring *ring, uint64_t seq, uint64_t idx, uint32_t n)
{
    if (!ring->overwrite)
        return;
    for (uint32_t i = 0; i < n; i++) {
        atomic_store_explicit(&rr__meta(ring, idx)->stamp, rr__stamp_writing(seq + i),
                              memory_order_relaxed);
        if (++idx == ring->capacity)
            idx = 0;
    }
    /* R5, pairs with A5 in reader.c: the odd stamps are seen before any
     * byte of the new events */
    atomic_thread_fence(memory_order_release);
}

static rr_status rr__too_large(size_t len, const rr_ring *ring)
{
    return rr__fail(RR_TOO_LARGE, "payload of %zu bytes exceeds the slot size of %u bytes",
                    len, ring->slot_size);
}

static inline void rr__set_meta(rr_slot_meta *m, uint32_t len, uint32_t type)
{
    atomic_store_explicit(&m->len, len, memory_order_relaxed);
    atomic_store_explicit(&m->type, type, memory_order_relaxed);
}

static rr_status rr__claim_single(rr_writer *w, uint32_t n, int64_t timeout_ns, uint64_t *seq,
                                  rr_wait *wait)
{
    if (w->hot.pending)
        return rr__fail(RR_INVALID, "this writer already holds a claim; publish or abandon it first");
    uint64_t need = w->hot.next + n;
    if (!w->ring->overwrite && need > w->hot.room) {
        rr_status st = rr__wait_room(w, need, n, false, rr__deadline(timeout_ns), wait, NULL);
        if (st != RR_OK)
            return st;
    }
    *seq = w->hot.next;
    return RR_OK;
}

/* Of n events wanted at s, how many lie before the ring's end (block.c). */
static inline uint32_t rr__contiguous(const rr_ring *ring, uint64_t s, uint32_t n)
{
    uint64_t left = ring->capacity - s % ring->capacity;
    return left < n ? (uint32_t)left : n;
}

/* Several producers. In a shared ring the claim holds a claim record
 * (claims.c): *rec_out is its index + 1, or 0 when the ring has none.
 * `contiguous`: claim only as many of the *n_io wanted as lie before the
 * ring's end from wherever the claim lands (*n_io says how many). */
static rr_status rr__claim_multi(rr_writer *w, uint32_t *n_io, bool contiguous,
                                 int64_t timeout_ns, uint64_t *seq, rr_wait *wait,
                                 uint32_t *rec_out)
{
    uint32_t want = *n_io, n = want;
    rr_ring *ring = w->ring;
    rr_layout *L = ring->L;
    int64_t deadline = rr__deadline(timeout_ns);
    rr_claim_record *rec = NULL;
    uint32_t index = 0;
    if (ring->claims) {
        rr_status st = rr__claim_record_take(ring, w, deadline, &index);
        if (st != RR_OK)
            return st;
        rec = &ring->claims[index];
    }
    uint64_t s = atomic_load_explicit(&L->claim, memory_order_relaxed);
    for (;;) {
        if (contiguous)
            n = rr__contiguous(ring, s, want);
        if (!rr__multi_room(ring, s, n)) {
            if (rec)   /* a producer that waits covers nothing (claims.c, C2) */
                rr__claim_record_withdraw(rec);
            rr_status st = rr__wait_room(w, 0, contiguous ? want : n, contiguous, deadline,
                                         wait, rec);
            if (st != RR_OK) {
                if (rec) {   /* C5, and a producer may wait for a record */
                    rr__claim_record_give(rec);
                    rr__notify(ring, &L->writable);
                }
                return st;
            }
            /* room seen; another writer may take it first, so look again */
            s = atomic_load_explicit(&L->claim, memory_order_relaxed);
            continue;
        }
        if (rec)   /* C2: the range this attempt may take, before it takes it */
            rr__claim_record_propose(rec, s, n);
        /* R4; for claims.c it is C3, pairing with a finder's F1 */
        if (atomic_compare_exchange_weak_explicit(&L->claim, &s, s + n, memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    *seq = s;
    *n_io = n;
    *rec_out = rec ? index + 1 : 0;
    return RR_OK;
}

/* The claim's record, if it holds one (shared multi-producer rings). */
static inline rr_claim_record *rr__record_of(const rr_claim *c)
{
    const rr_ring *ring = c->_ring;
    return c->_rec && ring->claims && c->_rec <= RR_MAX_CLAIMS ? &ring->claims[c->_rec - 1]
                                                               : NULL;
}

static rr_status rr__check_claim_args(rr_writer *w, uint32_t count, rr_claim *c)
{
    if (!w || !c)
        return rr__fail(RR_INVALID, "rr_writer_claim needs a writer and a claim");
    rr_status st = rr__writer_mine(w);
    if (st != RR_OK)
        return st;
    uint64_t most = w->ring->capacity < RR_MAX_CLAIM ? w->ring->capacity : RR_MAX_CLAIM;
    if (count == 0 || count > most)
        return rr__fail(RR_INVALID, "cannot claim %u events: between 1 and %llu at a time",
                        count, (unsigned long long)most);
    if (rr__closed(w->ring))
        return rr__fail(RR_CLOSED, "cannot write: the ring is closed");
    return RR_OK;
}

/* Take `count` slots (waiting for room as the ring's mode says) and mark
 * them; the caller fills them and sets each slot's length and type.
 * `contiguous` (block.c): only as many as lie before the ring's end (c->count
 * says how many). */
static rr_status rr__reserve(rr_writer *w, uint32_t count, bool contiguous, int64_t timeout_ns,
                             rr_claim *c, rr_wait *wait)
{
    rr_ring *ring = w->ring;
    uint64_t seq = 0;
    uint32_t rec = 0;
    if (contiguous && w->single)
        count = rr__contiguous(ring, w->hot.next, count);
    rr_status st = w->single ? rr__claim_single(w, count, timeout_ns, &seq, wait)
                             : rr__claim_multi(w, &count, contiguous, timeout_ns, &seq, wait,
                                               &rec);
    if (st != RR_OK)
        return st;
    uint64_t idx = w->single ? w->hot.idx : rr__mod(ring, seq);
    rr__mark_writing(ring, seq, idx, count);
    if (w->single) {   /* a multi-producer handle is shared: never written here */
        w->hot.pending = count;
        rr__hot_limit(w);
    }
    uint64_t contig = ring->capacity - idx;
    *c = (rr_claim){ .sequence = seq, .count = count, .slot_size = ring->slot_size,
                     ._ring = ring, ._idx = idx, ._state = RR_CLAIM_OPEN, ._rec = rec,
                     ._fork_gen = atomic_load_explicit(&w->hot.fork_gen, memory_order_relaxed),
                     ._stride = ring->stride, ._data = rr__slot(ring, idx),
                     ._contig = contig < count ? (uint32_t)contig : count };
    return RR_OK;
}

rr_status rr__writer_reserve(rr_writer *w, uint32_t count, rr_claim *c, int64_t timeout_ns,
                             rr_wait *wait)
{
    rr_wait own = RR_WAIT_INIT;
    rr_status st = rr__check_claim_args(w, count, c);
    if (st == RR_OK)
        st = rr__reserve(w, count, false, timeout_ns, c, wait ? wait : &own);
    return st;
}

rr_status rr__writer_claim_run(rr_writer *w, uint32_t count, bool contiguous,
                               uint32_t event_type, rr_claim *c, int64_t timeout_ns,
                               rr_wait *wait)
{
    rr_wait own = RR_WAIT_INIT;
    rr_status st = rr__check_claim_args(w, count, c);
    if (st == RR_OK)
        st = rr__reserve(w, count, contiguous, timeout_ns, c, wait ? wait : &own);
    if (st != RR_OK)
        return st;
    rr_ring *ring = w->ring;
    uint64_t idx = c->_idx;
    for (uint32_t i = 0; i < c->count; i++) {
        rr__set_meta(rr__meta(ring, idx), ring->slot_size, event_type);
        if (++idx == ring->capacity)
            idx = 0;
    }
    return RR_OK;
}

/* A claim of several events: rr__claim_fast, else the general path. */
static __attribute__((noinline)) rr_status rr__claim_many(rr_writer *w, uint32_t count,
                                                         uint32_t event_type, rr_claim *c,
                                                         int64_t timeout_ns, rr_wait *wait)
{
    if (rr__claim_fast(w, count, event_type, c))
        return RR_OK;
    return rr__writer_claim_run(w, count, false, event_type, c, timeout_ns, wait);
}

/* rr__claim_fast (rusted_ring_inline.h) first: a single producer's claim
 * with room. A claim of one event (the Disruptor's next()) is inlined here
 * with its count known, so it keeps no loop and saves no register. */
rr_status rr_writer_claim_ex(rr_writer *w, uint32_t count, uint32_t event_type, rr_claim *c,
                             int64_t timeout_ns, rr_wait *wait)
{
    if (count == 1 && rr__claim_fast(w, 1, event_type, c))
        return RR_OK;
    return rr__claim_many(w, count, event_type, c, timeout_ns, wait);
}

rr_status rr_writer_claim(rr_writer *w, uint32_t count, uint32_t event_type, rr_claim *c,
                          int64_t timeout_ns)
{
    if (count == 1 && rr__claim_fast(w, 1, event_type, c))
        return RR_OK;
    return rr__claim_many(w, count, event_type, c, timeout_ns, NULL);
}

/* ---- filling a claim --------------------------------------------------------------- */

static uint64_t rr__claim_slot(const rr_claim *c, uint32_t i)
{
    const rr_ring *ring = c->_ring;
    uint64_t idx = c->_idx + i;
    return idx >= ring->capacity ? idx - ring->capacity : idx;
}

void *rr_claim_data(const rr_claim *c, uint32_t i)
{
    if (!c || c->_state != RR_CLAIM_OPEN || i >= c->count)
        return NULL;
    if (i < c->_contig)
        return c->_data + (size_t)i * c->_stride;
    return rr__slot(c->_ring, rr__claim_slot(c, i));
}

rr_status rr_claim_set(rr_claim *c, uint32_t i, size_t len, uint32_t event_type)
{
    if (!c || c->_state != RR_CLAIM_OPEN || i >= c->count)
        return rr__fail(RR_INVALID, "no open claim with an event %u", i);
    const rr_ring *ring = c->_ring;
    /* made before a fork (as rr__check_process, one relaxed load) */
    uint32_t gen = atomic_load_explicit(&rr__fork_gen, memory_order_relaxed);
    if (__builtin_expect(c->_fork_gen != gen, 0)) {
        if (!ring->private_mem)
            return rr__fail(RR_FORKED, "this claim was made by the process this one was "
                                       "fork()ed from, and is that process's to finish; "
                                       "claim your own in the child");
        c->_fork_gen = gen;   /* a heap ring: the child's copy, and its claim */
    }
    if (len > ring->slot_size)
        return rr__too_large(len, ring);
    rr__set_meta(rr__meta(ring, rr__claim_slot(c, i)), (uint32_t)len, event_type);
    return RR_OK;
}

static rr_status rr__check_open_claim(rr_writer *w, rr_claim *c)
{
    if (!w || !c || c->_state != RR_CLAIM_OPEN || c->_ring != w->ring)
        return rr__fail(RR_INVALID, "not an open claim of this writer");
    rr_status st = rr__writer_mine(w);
    if (st != RR_OK)
        return st;
    if (w->single && (!w->hot.pending || c->sequence != w->hot.next ||
                      c->count != w->hot.pending))
        return rr__fail(RR_INVALID, "not the claim this writer holds");
    return RR_OK;
}

/* Slots became complete: readers may go on, and other producers waiting for
 * a slot's previous lap may claim. */
static void rr__notify_published(rr_ring *ring)
{
    rr__notify(ring, &ring->L->readable);
    if (ring->multi)
        rr__notify(ring, &ring->L->writable);
}

/* Publish each stamp in order; release makes the slot's bytes visible first
 * (R1, pairs with A1 in reader.c). */
static void rr__stamp_all(rr_ring *ring, const rr_claim *c)
{
    uint64_t idx = c->_idx;
    for (uint32_t i = 0; i < c->count; i++) {
        atomic_store_explicit(&rr__meta(ring, idx)->stamp, rr__stamp_done(c->sequence + i),
                              memory_order_release);
        if (++idx == ring->capacity)
            idx = 0;
    }
}

/* A claim's lengths may have been written through a claim view (block.c),
 * bypassing rr_claim_set: none may pass for more than a slot holds (nor for
 * RR_LEN_ABANDONED). Relaxed: this writer stored them. */
static rr_status rr__check_lengths(const rr_ring *ring, const rr_claim *c)
{
    uint64_t idx = c->_idx;
    for (uint32_t i = 0; i < c->count; i++) {
        uint32_t len = atomic_load_explicit(&rr__meta(ring, idx)->len, memory_order_relaxed);
        if (len > ring->slot_size)
            return rr__fail(RR_TOO_LARGE, "event %u of the claim (sequence %llu) has length "
                            "%u; the slot size is %u bytes; nothing was published", i,
                            (unsigned long long)(c->sequence + i), len, ring->slot_size);
        if (++idx == ring->capacity)
            idx = 0;
    }
    return RR_OK;
}

static __attribute__((noinline)) rr_status rr__publish_slow(rr_writer *w, rr_claim *c);
static rr_status rr__publish_checked(rr_writer *w, rr_claim *c);

/* rr__publish_fast (rusted_ring_inline.h) first: a single producer's claim
 * whose lengths all fit. */
rr_status rr_writer_publish(rr_writer *w, rr_claim *c)
{
    if (rr__publish_fast(w, c))
        return RR_OK;
    return rr__publish_slow(w, c);
}

/* rr_writer_publish of a claim whose lengths its writer set through the
 * core (rr_claim_set, the copying adds, block.c's add_rows): checked then. */
rr_status rr__writer_publish_sized(rr_writer *w, rr_claim *c)
{
    rr_status st = rr__check_open_claim(w, c);
    return st == RR_OK ? rr__publish_checked(w, c) : st;
}

/* Publish a claim known to be this writer's open one, every length within
 * the slot (the checks are the caller's). */
static rr_status rr__publish_checked(rr_writer *w, rr_claim *c)
{
    rr_ring *ring = w->ring;
    rr__stamp_all(ring, c);
    if (w->single) {
        w->hot.next += c->count;
        w->hot.idx += c->count;   /* count <= capacity: one lap at most */
        if (w->hot.idx >= ring->capacity)
            w->hot.idx -= ring->capacity;
        w->hot.pending = 0;
        rr__hot_limit(w);
        /* R2, pairs with A2 (rr__head, stats) */
        atomic_store_explicit(&ring->L->published, w->hot.next, memory_order_release);
    } else {
        /* R2 */
        atomic_fetch_add_explicit(&ring->L->published, c->count, memory_order_release);
        rr_claim_record *rec = rr__record_of(c);
        if (rec)   /* C5: after the stamps */
            rr__claim_record_give(rec);
    }
    c->_state = RR_CLAIM_NONE;
    rr__notify_published(ring);
    return RR_OK;
}

static rr_status rr__publish_slow(rr_writer *w, rr_claim *c)
{
    rr_status st = rr__check_open_claim(w, c);
    if (st == RR_OK)
        st = rr__check_lengths(w->ring, c);
    return st == RR_OK ? rr__publish_checked(w, c) : st;
}

rr_status rr_writer_abandon(rr_writer *w, rr_claim *c)
{
    rr_status st = rr__check_open_claim(w, c);
    if (st != RR_OK)
        return st;
    rr_ring *ring = w->ring;
    atomic_fetch_add_explicit(&ring->L->counters.abandoned, c->count, memory_order_relaxed);
    c->_state = RR_CLAIM_NONE;
    if (w->single) {
        /* The sequence is reused by the next claim. In overwrite mode the odd
         * stamps stay: the old events there were already given up. */
        w->hot.pending = 0;
        rr__hot_limit(w);
        return RR_OK;
    }
    /* Multi producer: the sequences are spent; mark them so readers skip them. */
    uint64_t idx = c->_idx;
    for (uint32_t i = 0; i < c->count; i++) {
        atomic_store_explicit(&rr__meta(ring, idx)->len, RR_LEN_ABANDONED, memory_order_relaxed);
        if (++idx == ring->capacity)
            idx = 0;
    }
    rr__stamp_all(ring, c);
    rr_claim_record *rec = rr__record_of(c);
    if (rec)   /* C5: after the stamps */
        rr__claim_record_give(rec);
    rr__notify_published(ring);
    return RR_OK;
}

/* ---- copying writes -------------------------------------------------------------------- */

/* The single-producer add, kept in one piece: claim, copy, publish. */
static rr_status rr__add_single(rr_writer *w, const void *data, size_t len, uint32_t type,
                                uint64_t *seq_out, int64_t timeout_ns, rr_wait *wait)
{
    rr_ring *ring = w->ring;
    uint64_t seq = w->hot.next;
    if (w->hot.pending)
        return rr__fail(RR_INVALID, "this writer holds a claim; publish or abandon it first");
    if (!ring->overwrite && seq + 1 > w->hot.room) {
        rr_wait own = RR_WAIT_INIT;
        rr_status st = rr__wait_room(w, seq + 1, 1, false, rr__deadline(timeout_ns),
                                     wait ? wait : &own, NULL);
        if (st != RR_OK)
            return st;
    }
    uint64_t idx = w->hot.idx;
    rr_slot_meta *m = rr__meta(ring, idx);
    rr__mark_writing(ring, seq, idx, 1);
    rr__set_meta(m, (uint32_t)len, type);
    rr__copy_in(rr__slot(ring, idx), data, len);
    /* R1, pairs with A1 in reader.c; then R2 */
    atomic_store_explicit(&m->stamp, rr__stamp_done(seq), memory_order_release);
    w->hot.next = seq + 1;
    w->hot.idx = idx + 1 == ring->capacity ? 0 : idx + 1;
    atomic_store_explicit(&ring->L->published, seq + 1, memory_order_release);
    rr__notify(ring, &ring->L->readable);
    if (seq_out)
        *seq_out = seq;
    return RR_OK;
}

static __attribute__((noinline)) rr_status rr__add_slow(rr_writer *w, const void *data,
                                                       size_t len, uint32_t event_type,
                                                       uint64_t *seq_out, int64_t timeout_ns,
                                                       rr_wait *wait)
{
    if (!w || (!data && len))
        return rr__fail(RR_INVALID, "rr_writer_add needs a writer and data");
    rr_ring *ring = w->ring;
    rr_status forked = rr__writer_mine(w);
    if (forked != RR_OK)
        return forked;
    if (len > ring->slot_size)
        return rr__too_large(len, ring);
    if (atomic_load_explicit(&ring->L->control.closed, memory_order_relaxed))
        return rr__fail(RR_CLOSED, "cannot write: the ring is closed");
    if (w->single)
        return rr__add_single(w, data, len, event_type, seq_out, timeout_ns, wait);
    rr_wait own = RR_WAIT_INIT;
    rr_claim c;
    rr_status st = rr__reserve(w, 1, false, timeout_ns, &c, wait ? wait : &own);
    if (st != RR_OK)
        return st;
    rr__set_meta(rr__meta(ring, c._idx), (uint32_t)len, event_type);
    rr__copy_in(rr__slot(ring, c._idx), data, len);
    if (seq_out)
        *seq_out = c.sequence;
    return rr__publish_checked(w, &c);   /* the claim just made */
}

/* rr__add_fast (rusted_ring_inline.h) first: a single producer with room. */
rr_status rr_writer_add_ex(rr_writer *w, const void *data, size_t len, uint32_t event_type,
                           uint64_t *seq_out, int64_t timeout_ns, rr_wait *wait)
{
    if (rr__add_fast(w, data, len, event_type, seq_out))
        return RR_OK;
    return rr__add_slow(w, data, len, event_type, seq_out, timeout_ns, wait);
}

rr_status rr_writer_add(rr_writer *w, const void *data, size_t len, uint32_t event_type,
                        uint64_t *seq_out, int64_t timeout_ns)
{
    if (rr__add_fast(w, data, len, event_type, seq_out))
        return RR_OK;
    return rr__add_slow(w, data, len, event_type, seq_out, timeout_ns, NULL);
}

rr_status rr_writer_add_batch_ex(rr_writer *w, const rr_payload *items, size_t n,
                                 uint64_t *first_seq_out, int64_t timeout_ns, rr_wait *wait)
{
    if (!w || !items)
        return rr__fail(RR_INVALID, "rr_writer_add_batch needs a writer and items");
    rr_status forked = rr__writer_mine(w);
    if (forked != RR_OK)
        return forked;
    if (n == 0 || n > RR_MAX_CLAIM)
        return rr__fail(RR_INVALID, "a batch holds 1 to %u events, not %zu", RR_MAX_CLAIM, n);
    for (size_t i = 0; i < n; i++) {
        if (items[i].len > w->ring->slot_size)
            return rr__fail(RR_TOO_LARGE,
                            "payload %zu of the batch has %zu bytes; the slot size is %u bytes",
                            i, items[i].len, w->ring->slot_size);
        if (!items[i].data && items[i].len)
            return rr__fail(RR_INVALID, "payload %zu of the batch has no data", i);
    }
    rr_wait own = RR_WAIT_INIT;
    rr_claim c;
    rr_status st = rr__check_claim_args(w, (uint32_t)n, &c);
    if (st == RR_OK)
        st = rr__reserve(w, (uint32_t)n, false, timeout_ns, &c, wait ? wait : &own);
    if (st != RR_OK)
        return st;
    rr_ring *ring = w->ring;
    uint64_t idx = c._idx;
    for (uint32_t i = 0; i < c.count; i++) {
        rr__set_meta(rr__meta(ring, idx), (uint32_t)items[i].len, items[i].event_type);
        rr__copy_in(rr__slot(ring, idx), items[i].data, items[i].len);
        if (++idx == ring->capacity)
            idx = 0;
    }
    if (first_seq_out)
        *first_seq_out = c.sequence;
    return rr__publish_checked(w, &c);   /* the claim just made */
}

rr_status rr_writer_add_batch(rr_writer *w, const rr_payload *items, size_t n,
                              uint64_t *first_seq_out, int64_t timeout_ns)
{
    return rr_writer_add_batch_ex(w, items, n, first_seq_out, timeout_ns, NULL);
}
