/*
 * reader.c — registering readers and handing them events.
 *
 * A reader owns one entry of the reader table. `pos` is the next sequence it
 * reads; events handed out by its last call, and events it holds explicitly,
 * stay pinned: in backpressure mode the entry's `gate` (what writers look at)
 * stays at the oldest of them until the reader moves on or releases them.
 *
 * Backpressure reads are in place: the stamp says the slot holds event pos,
 * and no writer may reuse the slot before the gate passes it. With a single
 * producer, `published` says so for every event below it at once: such a
 * reader looks at it once per batch, not at a stamp per event (below).
 *
 * A follower (pipeline.c) reads in place below its leaders' limit, the
 * lowest gate of the readers it follows (`lim`, RR_READ_FOLLOW): no writer
 * refills a slot below it (the follower's own gate is lower). With one
 * producer every such slot holds its event complete (a leader's gate is at
 * most `published`), so it takes the fast path a single producer's reader
 * takes below `published` (`avail` = `lim`). With several it still looks at
 * each stamp (rr__follow_take): a plain leader opened at RR_START_LATEST has
 * its gate at `claim`, above claims no producer has published yet. It looks
 * at the leaders' gates again only when it reaches the limit, and waits on
 * the `writable` queue, which releases notify (and, with several producers,
 * publishes too).
 *
 * Overwrite reads are a seqlock: load the stamp, copy the payload, fence, load
 * the stamp again. The copy is kept only if both stamps say "event pos,
 * complete". A stamp for a later event means the writer lapped the reader: it
 * skips to the oldest event that can still be intact and counts every
 * sequence it skipped in `lost`. Abandoned claims (several producers) are
 * passed over and counted in `skipped`, so delivered + lost + skipped always
 * equals the sequences a reader passed.
 *
 * Durable readers (rr_reader_options.durable) keep their place when their
 * handle closes or their process dies: the entry is PARKED (owner word
 * RR_OWNER_PARKED, layout.h) instead of freed. Everything is done holding
 * the pipeline word (a durable reader is named; pipeline.c says why that
 * orders every park, resume and drop). The place:
 *   - gate: the released position. It is not touched by a park or a
 *     resume, so the writer's scans (A3, S2) see one reader all along and
 *     never need to register it again; the resumed handle starts at it, and
 *     everything above it (the last call's events, held ones) is handed out
 *     again: at least once. An overwrite ring has no gates: there the place
 *     is `position`, the cursor after the last call, and the first read of
 *     the resumed handle counts in `lost` what was overwritten meanwhile.
 *   - position, lost, skipped: stored (relaxed) by the parker before its
 *     R22, the CAS of the owner word to RR_OWNER_PARKED (rr__park_entry);
 *     the resumer's CAS taking that word (A22, rr__resume) reads them. A
 *     park by a dead process's evictor: the dead process's stores came
 *     before its death, which the evictor learnt of from the kernel before
 *     its R22 (proc.c makes the same argument for every eviction).
 *   - name, after mask, flags, followers' masks: unchanged; the state stays
 *     ACTIVE, so a resumer that dies half way leaves an ACTIVE durable entry
 *     of a dead word, which the next evictor parks again. An opener that
 *     dies before its entry went ACTIVE is evicted, not parked.
 * A durable opener looks for a parked place of its name before it claims an
 * entry (rr__pipe_find_parked): a resume takes no new entry, so it succeeds
 * with the table full, and it is allowed on a closed ring, whose events the
 * parked reader has yet to drain (a new reader is refused there). A live
 * holder of the name is the duplicate-name error there, whatever the table
 * or the ring's close would say.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"

#define RR_SCRATCH_BYTES (32u * 1024)    /* overwrite: verified copies per batch call */

/* RR_OK when this process may use the reader: it opened it, or (a heap
 * ring) adopts it with its entry (proc.c rr__handle_forked). */
static inline rr_status rr__reader_mine(rr_reader *r)
{
    return rr__check_process(r->ring, &r->fork_gen, &r->owner, &r->entry->owner, "reader");
}

/* ---- opening and closing ------------------------------------------------------ */

static rr_status rr__reader_alloc(rr_ring *ring, rr_reader **out)
{
    rr_reader *r = calloc(1, sizeof *r);
    if (!r)
        return rr__fail(RR_NO_MEMORY, "cannot allocate a reader");
    r->ring = ring;
    if (ring->overwrite) {
        size_t n = RR_SCRATCH_BYTES / ring->stride;
        r->scratch_events = n == 0 ? 1 : n > ring->capacity ? ring->capacity : n;
        /* the copies, then each copy's length and type (block.c); zeroed, as
         * a block shows whole slots, past each event's length too */
        r->scratch = calloc(r->scratch_events, ring->stride + RR_SCRATCH_META_BYTES);
    } else {
        r->holds = calloc(ring->capacity, sizeof *r->holds);
    }
    if (!r->scratch && !r->holds) {
        free(r);
        return rr__fail(RR_NO_MEMORY, "cannot allocate the reader's buffers");
    }
    *out = r;
    return RR_OK;
}

static void rr__reader_free(rr_reader *r)
{
    free(r->holds);
    free(r->scratch);
    free(r);
}

/* Take a free entry (owner word 0) for this process; see layout.h. */
static rr_reader_entry *rr__claim_entry(rr_ring *ring, uint64_t me, uint32_t *index)
{
    for (uint32_t i = 0; i < RR_MAX_READERS; i++) {
        uint64_t expect = 0;
        /* R7/A7: the entry passes with what its last holder wrote */
        if (atomic_compare_exchange_strong_explicit(&ring->readers[i].owner, &expect, me,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            atomic_store_explicit(&ring->readers[i].state, RR_ENTRY_CLAIMED,
                                  memory_order_relaxed);
            *index = i;
            return &ring->readers[i];
        }
    }
    return NULL;
}

/* seq_cst (S2 in layout.h): raised before the gate is stored, so a writer
 * that sees the gate's generation also scans its entry. */
static void rr__raise_hw(rr_layout *L, uint32_t hw)
{
    uint32_t cur = atomic_load_explicit(&L->gating.reader_hw, memory_order_seq_cst);
    while (cur < hw &&
           !atomic_compare_exchange_weak_explicit(&L->gating.reader_hw, &cur, hw,
                                                  memory_order_seq_cst, memory_order_seq_cst)) {
    }
}

/* Backpressure: publish the gate, then make sure it is not below what a writer
 * may already overwrite (see the protocol at the top of writer.c). Every
 * access is seq_cst: a store (gate, gen) followed by loads of other locations
 * (limit, proposed), S2 in layout.h, against writer.c rr__gate_refresh. */
static uint64_t rr__register_gate(rr_ring *ring, rr_reader_entry *e, uint64_t start)
{
    rr_layout *L = ring->L;
    atomic_store_explicit(&e->gate, start, memory_order_seq_cst);
    atomic_fetch_add_explicit(&L->gating.gen, 1, memory_order_seq_cst);
    uint64_t lim = atomic_load_explicit(&L->gating.limit, memory_order_seq_cst);
    uint64_t prop = atomic_load_explicit(&L->gating.proposed, memory_order_seq_cst);
    if (prop > lim)
        lim = prop;
    uint64_t floor = lim > ring->capacity ? lim - ring->capacity : 0;
    if (start < floor) {
        start = floor;
        atomic_store_explicit(&e->gate, start, memory_order_seq_cst);
        /* a writer may have seen the provisional gate and gone to sleep */
        rr__notify(ring, &L->writable);
    }
    return start;
}

/* Park entry i (layout.h): the caller, `holder`, holds it and the pipeline
 * word. Backpressure: its cursor (stats) becomes its gate, where a resumer
 * starts; its lost and skipped counts are in the entry already. */
void rr__park_entry(const rr_ring *ring, uint32_t i, uint64_t holder)
{
    rr_reader_entry *e = &ring->readers[i];
    if (!ring->overwrite) {
        /* relaxed: the gate's only writer was the holder (or the dead
         * process whose word it took over); position before gate would be
         * pos < gate for stats.c's A3 load, so the gate is not moved */
        uint64_t g = atomic_load_explicit(&e->gate, memory_order_relaxed);
        atomic_store_explicit(&e->position, g, memory_order_relaxed);
    }
    /* R22, pairs with A22 in rr__resume and rr_ring_reader_drop: the stores
     * above (and the holder's earlier ones) before the parked word */
    atomic_compare_exchange_strong_explicit(&e->owner, &holder, RR_OWNER_PARKED,
                                            memory_order_acq_rel, memory_order_relaxed);
}

/* Resume the parked entry j (rr__pipe_join found it) into handle r, holding
 * the pipeline word. RR_INVALID (the duplicate-name error) if its word is no
 * longer parked, which only a process that scribbled on the ring can make
 * happen: every taker of a parked word holds the pipeline word. */
static rr_status rr__resume(rr_ring *ring, rr_reader *r, uint32_t j,
                            const rr_reader_options *o, uint64_t me)
{
    rr_reader_entry *e = &ring->readers[j];
    uint64_t parked = RR_OWNER_PARKED;
    /* A22, pairs with R22 in rr__park_entry: position, lost and skipped are
     * the parker's */
    if (!atomic_compare_exchange_strong_explicit(&e->owner, &parked, me, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return rr__fail(RR_INVALID, "the ring already has a reader named '%s' (entry %u, "
                        "process %u); names are unique in a ring", o->name, j,
                        rr__owner_pid(parked));
    /* stats only; the entry stays ACTIVE */
    atomic_store_explicit(&e->wait, (uint32_t)o->wait, memory_order_relaxed);
    uint64_t pos;
    if (ring->overwrite) {
        pos = atomic_load_explicit(&e->position, memory_order_relaxed);   /* after A22 */
    } else {
        /* A3: the released position; unchanged since the park, and only the
         * holder (now us) moves it */
        pos = atomic_load_explicit(&e->gate, memory_order_acquire);
        atomic_store_explicit(&e->position, pos, memory_order_relaxed);
    }
    /* the word orders masks and flags (R17/A17): relaxed */
    uint64_t mask = atomic_load_explicit(&e->after, memory_order_relaxed);
    uint32_t flags = atomic_load_explicit(&e->flags, memory_order_relaxed);
    if (!mask && (flags & RR_ENTRY_F_GATE_WAIT))   /* its leaders left while it was parked */
        atomic_fetch_and_explicit(&e->flags, ~(uint32_t)RR_ENTRY_F_GATE_WAIT,
                                  memory_order_relaxed);
    r->entry = e;
    r->index = j;
    r->pos = r->gate = r->cur_lo = r->avail = r->lim = pos;
    r->idx = pos % ring->capacity;
    r->direct = mask ? RR_READ_FOLLOW
              : ring->overwrite || ring->multi ? RR_READ_STAMPED : RR_READ_DIRECT;
    r->writable = (flags & RR_ENTRY_F_WRITABLE) != 0;
    r->lost = atomic_load_explicit(&e->lost, memory_order_relaxed);
    r->skipped = atomic_load_explicit(&e->skipped, memory_order_relaxed);
    return RR_OK;
}

/* A durable opener's look for its name, holding the pipeline word
 * (rr__pipe_find_parked): a parked place of it is resumed into r (*resumed);
 * a live reader of it is the duplicate-name RR_INVALID; RR_OK and not
 * *resumed when no reader has it. */
static rr_status rr__resume_named(rr_ring *ring, rr_reader *r, const rr_reader_options *opts,
                                  uint64_t me, bool *resumed)
{
    int j = -1;
    rr_status st = rr__pipe_find_parked(ring, opts->name, &j);
    if (st == RR_OK && j >= 0) {
        st = rr__resume(ring, r, (uint32_t)j, opts, me);
        *resumed = st == RR_OK;
    }
    return st;
}

rr_status rr_reader_open_opts(rr_ring *ring, const rr_reader_options *opts, rr_reader **out)
{
    static const rr_reader_options defaults = RR_READER_OPTIONS_INIT;
    if (!opts)
        opts = &defaults;
    rr_start start = opts->start;
    if (!ring || !out || (start != RR_START_OLDEST && start != RR_START_LATEST))
        return rr__fail(RR_INVALID, "rr_reader_open needs a ring, a start and a place for the reader");
    rr_status wst = rr__wait_strategy_check(opts->wait, "rr_reader_open_opts");
    if (wst != RR_OK)
        return wst;
    if (opts->durable && !(opts->name && opts->name[0]))
        return rr__fail(RR_INVALID, "a durable reader needs a name: its place is found again "
                        "by it");
    bool piped = (opts->name && opts->name[0]) || opts->after_count ||
                 opts->after_names_count || opts->writable || opts->durable;
    if (piped && (wst = rr__pipe_check(ring, opts)) != RR_OK)
        return wst;
    rr_reader *r = NULL;
    rr_status st = rr__reader_alloc(ring, &r);
    if (st != RR_OK)
        return st;
    r->wait = opts->wait;
    uint32_t index;
    uint64_t me = rr__self_owner();
    bool closed;
    if (opts->durable) {
        /* A parked place of that name is resumed before any entry is
         * claimed: a resume needs none (the table may be full), and it may
         * drain a closed ring (its reads say RR_CLOSED once it is drained).
         * A live reader of that name: the duplicate-name error, before a
         * full table or a closed ring could say otherwise (the loser of a
         * resume race). No reader of that name: the ring's closed flag is
         * read still holding the word, so no reader of the name parked
         * since the look (a park holds the word too: R17/A17): RR_CLOSED then is
         * right. One parked after this look is resumed by rr__pipe_join, or
         * below if the claim fails. */
        bool resumed = false;
        rr__pipe_lock(ring, RR_PIPE_TAKE);
        st = rr__resume_named(ring, r, opts, me, &resumed);
        closed = st == RR_OK && !resumed && rr__closed(ring);
        rr__pipe_unlock(ring);
        if (resumed)
            goto opened;
        if (st != RR_OK) {
            rr__reader_free(r);
            return st;
        }
    } else {
        closed = rr__closed(ring);
    }
    if (closed) {
        rr__reader_free(r);
        return rr__fail(RR_CLOSED, "cannot open a reader: the ring is closed");
    }
    rr_reader_entry *e = rr__claim_entry(ring, me, &index);
    if (!e && !ring->private_mem && rr__evict_dead_readers(ring, false) > 0)
        e = rr__claim_entry(ring, me, &index);   /* entries of dead processes came free */
    if (!e && opts->durable) {
        /* a reader of that name may have parked since the look above (its
         * entry may have been the last one): look again, holding the word,
         * before the table is said to be full */
        bool resumed = false;
        rr__pipe_lock(ring, RR_PIPE_TAKE);
        st = rr__resume_named(ring, r, opts, me, &resumed);
        rr__pipe_unlock(ring);
        if (resumed)
            goto opened;
        if (st != RR_OK) {
            rr__reader_free(r);
            return st;
        }
    }
    if (!e) {
        rr__reader_free(r);
        return rr__fail(RR_TOO_MANY_READERS, "all %d reader entries of the ring are in use",
                        RR_MAX_READERS);
    }
    atomic_store_explicit(&e->lost, 0, memory_order_relaxed);
    atomic_store_explicit(&e->skipped, 0, memory_order_relaxed);
    /* published with the entry by R6 below */
    atomic_store_explicit(&e->wait, (uint32_t)opts->wait, memory_order_relaxed);
    /* A plain reader's second line: no name, follows nobody, no flags (a
     * follower's flag may outlive a close that had nothing to rewrite) */
    static const uint64_t unnamed[4] = { 0 };
    rr__name_store(e, unnamed);   /* R19: a reader of names may be looking */
    atomic_store_explicit(&e->after, 0, memory_order_relaxed);
    atomic_store_explicit(&e->flags, 0, memory_order_relaxed);
    uint64_t follows = 0;
    if (piped) {
        /* names, the readers it follows and writable conflicts are decided
         * holding the pipeline word, until the entry is ACTIVE (pipeline.c) */
        rr__pipe_lock(ring, RR_PIPE_TAKE);
        int resume = -1;
        st = rr__pipe_join(ring, index, opts, &follows, &resume);
        if (st == RR_OK && resume >= 0) {
            /* a parked durable reader of that name: the entry taken above
             * goes back (it was never written: no gate, no name), and the
             * handle takes the parked one's place instead */
            atomic_store_explicit(&e->state, RR_ENTRY_FREE, memory_order_release);   /* R6 */
            uint64_t mine = me;
            atomic_compare_exchange_strong_explicit(&e->owner, &mine, 0, memory_order_acq_rel,
                                                    memory_order_relaxed);            /* R7 */
            st = rr__resume(ring, r, (uint32_t)resume, opts, me);
            rr__pipe_unlock(ring);
            if (st != RR_OK) {
                rr__reader_free(r);
                return st;
            }
            goto opened;
        }
        if (st != RR_OK) {
            rr__pipe_unlock(ring);
            atomic_store_explicit(&e->state, RR_ENTRY_FREE, memory_order_release);   /* R6 */
            atomic_compare_exchange_strong_explicit(&e->owner, &me, 0, memory_order_acq_rel,
                                                    memory_order_relaxed);            /* R7 */
            rr__notify(ring, &ring->L->writable);   /* a reader of a dead process may be gone */
            rr__reader_free(r);
            return st;
        }
    }
    rr__raise_hw(ring->L, index + 1);
    uint64_t head = rr__head(ring);
    uint64_t pos = start == RR_START_LATEST ? head
                 : head > ring->capacity ? head - ring->capacity : 0;
    if (follows) {
        /* no further than its leaders released, their gates read holding the
         * word (none leaves meanwhile): so its gate is at or below every
         * leader's, and its own followers' limits stay below theirs
         * (pipeline.c); a follower opened at RR_START_LATEST starts at the
         * latest event its leaders are done with */
        uint64_t mask;
        uint64_t lim = rr__follow_limit(ring, e, &mask);
        if (pos > lim)
            pos = lim;
    }
    if (!ring->overwrite)
        pos = rr__register_gate(ring, e, pos);
    atomic_store_explicit(&e->position, pos, memory_order_relaxed);
    /* R6, pairs with A6 in stats.c (and pipeline.c): position, gate, name
     * and flags are the new reader's */
    atomic_store_explicit(&e->state, RR_ENTRY_ACTIVE, memory_order_release);
    if (piped) {
        rr__pipe_unlock(ring);
        rr__notify(ring, &ring->L->writable);   /* a reader of a dead process may be gone */
    }
    r->entry = e;
    r->index = index;
    r->pos = r->gate = r->cur_lo = r->avail = r->lim = pos;
    r->idx = pos % ring->capacity;
    r->direct = ring->overwrite || ring->multi ? RR_READ_STAMPED : RR_READ_DIRECT;
    if (follows)
        r->direct = RR_READ_FOLLOW;
    r->writable = opts->writable;
opened:
    atomic_init(&r->owner, me);
    atomic_init(&r->fork_gen, rr__fork_watch());
    r->durable = opts->durable;
    if (opts->name)
        strncpy(r->name, opts->name, RR_NAME_MAX);
    /* R12 here and at close, pairs with A12 in ring.c rr_ring_destroy */
    atomic_fetch_add_explicit(&ring->handles, 1, memory_order_acq_rel);
    rr__wait_init();
    *out = r;
    return RR_OK;
}

rr_status rr_reader_open(rr_ring *ring, rr_start start, rr_reader **out)
{
    rr_reader_options opts = RR_READER_OPTIONS_INIT;
    opts.start = start;
    return rr_reader_open_opts(ring, &opts, out);
}

rr_wait_strategy rr_reader_wait_strategy(const rr_reader *r)
{
    return r ? r->wait : RR_WAIT_BLOCK;
}

void rr_reader_close(rr_reader *r)
{
    if (!r)
        return;
    rr_ring *ring = r->ring;
    rr_reader_entry *e = r->entry;
    /* A heap ring's reader closed in a forked child is the child's, as is
     * the child's copy of the ring: adopted now if the child never used it. */
    if (ring->private_mem)
        (void)rr__reader_mine(r);
    /* Give the entry up only from the process that took it (a child that
     * inherited a shared ring's handle through fork() only frees its
     * memory), and only while the entry still names that process (A7). */
    uint64_t me = atomic_load_explicit(&r->owner, memory_order_relaxed);
    bool mine = me == rr__self_owner() &&
                atomic_load_explicit(&e->owner, memory_order_acquire) == me;
    rr__reader_poll_close(r, mine);   /* its pollfd first: the entry is still ours */
    if (mine) {
        /* named, followed, following or writable: its followers follow what
         * it followed, before its gate is freed (pipeline.c) */
        bool piped = rr__pipe_involved(e);
        if (piped)
            rr__pipe_lock(ring, RR_PIPE_TAKE);
        if (r->durable && piped) {
            /* parked, not freed: its gate, name, mask and flags stay (the
             * top); its pollfd's count went back above, and this thread is
             * not asleep in it */
            rr__park_entry(ring, r->index, me);
            rr__pipe_unlock(ring);
            goto freed;
        }
        if (piped)
            rr__pipe_leave(ring, r->index);
        if (!ring->overwrite) {
            /* R3: our reads (and writes) are done before a writer reuses the
             * slots, and the rewrite above before a follower sees the gate */
            atomic_store_explicit(&e->gate, RR_GATE_FREE, memory_order_release);
        }
        /* R6 */
        atomic_store_explicit(&e->state, RR_ENTRY_FREE, memory_order_release);
        /* last: the entry is free for the next reader (R7) */
        atomic_compare_exchange_strong_explicit(&e->owner, &me, 0, memory_order_acq_rel,
                                                memory_order_relaxed);
        if (piped)
            rr__pipe_unlock(ring);
        if (!ring->overwrite)   /* writers, and followers (their masks changed) */
            rr__notify(ring, &ring->L->writable);
    }
freed:
    atomic_fetch_sub_explicit(&ring->handles, 1, memory_order_acq_rel);
    rr__reader_free(r);
}

/* ---- releasing ------------------------------------------------------------------ */

/* The first held sequence in [g, upto), or upto (kept out of the hot path). */
static __attribute__((noinline)) uint64_t rr__first_held(const rr_reader *r, uint64_t g,
                                                        uint64_t upto)
{
    while (g < upto && r->holds[rr__mod(r->ring, g)] == 0)
        g++;
    return g;
}

/* Let writers reuse every slot below `upto` that is not held. */
static inline void rr__release_to(rr_reader *r, uint64_t upto)
{
    uint64_t g = r->nholds == 0 ? upto : rr__first_held(r, r->gate, upto);
    if (g == r->gate)
        return;
    r->gate = g;
    /* R3, pairs with A3 in writer.c rr__gate_refresh: our reads of those
     * slots happen before a writer refills them */
    atomic_store_explicit(&r->entry->gate, g, memory_order_release);
    rr__notify(r->ring, &r->ring->L->writable);
}

/* ---- fetching one event ------------------------------------------------------------ */

static inline void rr__advance(rr_reader *r)
{
    r->pos++;
    if (++r->idx == r->ring->capacity)
        r->idx = 0;
}

static void rr__skip_abandoned(rr_reader *r)
{
    rr__advance(r);
    r->skipped++;
    atomic_store_explicit(&r->entry->skipped, r->skipped, memory_order_relaxed);
}

/* Multi producer: the oldest sequence >= pos that is not provably gone. A
 * slot holding (or being filled with) q proves every earlier sequence of its
 * residue gone; a slot still behind pos proves nothing. Writers fill slots out
 * of order, so only the stamps can tell, and all of them are read. */
static uint64_t rr__oldest_possible(const rr_ring *ring, uint64_t pos)
{
    uint64_t cap = ring->capacity, best = UINT64_MAX;
    uint64_t base = pos - pos % cap;              /* first sequence of pos's lap */
    for (uint64_t r = 0; r < cap; r++) {
        /* A1 */
        uint64_t stamp = atomic_load_explicit(&rr__meta(ring, r)->stamp, memory_order_acquire);
        uint64_t q = stamp ? (stamp - 1) / 2 : 0; /* the sequence in slot r */
        uint64_t first = base + r < pos ? base + r + cap : base + r; /* residue r, >= pos */
        uint64_t cand = stamp && q >= pos ? q : first;
        if (cand < best)
            best = cand;
    }
    return best;
}

/* The writer lapped us: the slot holds a later event (its stamp says which).
 * Jump to the oldest event that can still be intact and count every
 * sequence jumped over in `lost`.
 *
 * The oldest intact event is the one a running writer overwrites next, so a
 * reader slower than the writer that always resumes there is lapped again at
 * once and delivers almost nothing. A reader lapped again before it caught
 * up therefore resumes `lap_margin` events later, doubling up to half a lap;
 * the margin goes back to 0 once the reader catches up with the writer. */
static void rr__skip_lapped(rr_reader *r, uint64_t stamp)
{
    rr_ring *ring = r->ring;
    uint64_t cap = ring->capacity;
    uint64_t target, head = rr__head(ring);
    if (ring->multi) {
        target = rr__oldest_possible(ring, r->pos);
    } else {
        /* one writer, in order: writing q touched nothing after q - cap */
        uint64_t in_slot = (stamp - 1) / 2;
        target = in_slot - cap + 1;
        if (head > cap && head - cap > target)
            target = head - cap;
    }
    uint64_t resume = target + r->lap_margin;
    if (resume > head)
        resume = head > target ? head : target;
    if (ring->multi) {
        /* below the claim cursor a sequence may be claimed and not yet
         * published: never pass one of those on purpose (A1) */
        uint64_t q = target;
        while (q < resume && atomic_load_explicit(&rr__meta(ring, q % cap)->stamp,
                                                  memory_order_acquire) >= rr__stamp_done(q))
            q++;
        resume = q;
    }
    target = resume;
    r->lap_margin = r->lap_margin ? r->lap_margin * 2 : 1;
    if (r->lap_margin > cap / 2)
        r->lap_margin = cap / 2;
    if (target <= r->pos)
        target = r->pos + 1;
    r->lost += target - r->pos;
    r->pos = target;
    r->idx = target % cap;
    atomic_store_explicit(&r->entry->lost, r->lost, memory_order_relaxed);
}

/* The seqlock's copy (layout.h rr__overwrite_copy): ThreadSanitizer builds
 * copy byte by byte here, without instrumentation, so the race is not
 * reported while every other access still is (tests/c/tsan.supp names it
 * too, as a second guard). */
#if defined(__SANITIZE_THREAD__)
__attribute__((noinline, no_sanitize_thread, optimize("no-tree-loop-distribute-patterns")))
void rr__overwrite_copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}
#endif

static rr_status rr__fetch_overwrite(rr_reader *r, rr_event *ev, unsigned char *dst)
{
    rr_ring *ring = r->ring;
    for (;;) {
        rr_slot_meta *m = rr__meta(ring, r->idx);
        uint64_t want = rr__stamp_done(r->pos);
        /* A1, pairs with R1 in writer.c */
        uint64_t s1 = atomic_load_explicit(&m->stamp, memory_order_acquire);
        if (s1 < want) {
            r->lap_margin = 0;             /* caught up with the writer */
            return RR_EMPTY;               /* not published yet (or being written) */
        }
        if (s1 > want) {
            rr__skip_lapped(r, s1);
            continue;
        }
        /* part of the racy copy: a claim view (block.c) writes them plainly */
        uint32_t len, type;
        rr__overwrite_copy(&len, &m->len, sizeof len);
        rr__overwrite_copy(&type, &m->type, sizeof type);
        rr__overwrite_copy(dst, rr__slot(ring, r->idx), len <= ring->slot_size ? len : 0);
        /* A5, pairs with R5 in writer.c rr__mark_writing: a copy that saw
         * a new byte re-reads a newer stamp */
        atomic_thread_fence(memory_order_acquire);   /* the copy happens before the re-check */
        uint64_t s2 = atomic_load_explicit(&m->stamp, memory_order_relaxed);
        if (s2 != s1) {
            rr__skip_lapped(r, s2);
            continue;
        }
        if (len > ring->slot_size) {       /* abandoned (multi producer): not an event */
            rr__skip_abandoned(r);
            continue;
        }
        *ev = (rr_event){ .sequence = r->pos, .len = len, .event_type = type, .data = dst };
        rr__advance(r);
        r->delivered++;
        return RR_OK;
    }
}

/* ---- reading in place with one producer ---------------------------------------------
 *
 * A single producer publishes in order: `published` (R2, after the stamps
 * and so after each slot's bytes) says every event below it is complete, and
 * in backpressure mode none of those slots is refilled while this reader's
 * gate is below it. So a reader that has seen `published` once (A2) reads
 * every event below it in place without looking at their stamps: its `avail`.
 * A reader that has caught up waits on the stamp of its next slot
 * (rr__fetch_in_place), not on `published`: the stamp sits in the line it
 * reads next (a small slot's payload too), so the event reaches it in one
 * transfer between the cores, not two (or three) - ping-pong round trips
 * measured ~30% shorter than waiting on `published`. The stamps stay for the
 * other modes too, for writers taking over from a dead one, and for a
 * length no writer stores (a block some process scribbled over), which the
 * stamp decides. */

/* Single producer, backpressure: events after pos are there to read now. */
static inline bool rr__direct_ready(rr_reader *r)
{
    if (r->pos < r->avail)
        return true;
    if (!(r->direct & RR_READ_DIRECT))   /* one test of a bit: STAMPED and FOLLOW lack it */
        return false;
    /* A2, pairs with R2 in writer.c: the events below it are complete */
    r->avail = atomic_load_explicit(&r->ring->L->published, memory_order_acquire);
    return r->pos < r->avail;
}

/* Hand out event pos (below avail) in place, or false when its length is
 * not one a writer stores (a block some process scribbled over): the
 * general path, which looks at the stamp, decides what it is. */
static inline bool rr__direct_take(rr_reader *r, rr_event *ev, const rr_ring *ring)
{
    const rr_slot_meta *m = rr__meta(ring, r->idx);
    uint32_t len = atomic_load_explicit(&m->len, memory_order_relaxed);
    if (__builtin_expect(len > ring->slot_size, 0))
        return false;
    *ev = (rr_event){ .sequence = r->pos, .len = len,
                      .event_type = atomic_load_explicit(&m->type, memory_order_relaxed),
                      .data = rr__slot(ring, r->idx) };
    r->pos++;
    if (++r->idx == ring->capacity)
        r->idx = 0;
    return true;
}

/* Several producers, backpressure: hand out event pos in place if its stamp
 * says it is there (A1, pairs with R1: its bytes are complete), as
 * rr__fetch_in_place does, without the general path's layers; false for
 * anything else (not yet published, an abandoned claim's slot), which the
 * general path sorts out. */
static inline bool rr__stamped_take(rr_reader *r, rr_event *ev, const rr_ring *ring)
{
    const rr_slot_meta *m = rr__meta(ring, r->idx);
    if (atomic_load_explicit(&m->stamp, memory_order_acquire) != rr__stamp_done(r->pos))
        return false;
    return rr__direct_take(r, ev, ring);
}

/* A follower's take below its limit: with several producers, a leader's
 * gate may sit above a claim not yet published (see the top). */
static inline bool rr__follow_take(rr_reader *r, rr_event *ev, const rr_ring *ring)
{
    return ring->multi ? rr__stamped_take(r, ev, ring) : rr__direct_take(r, ev, ring);
}

static inline bool rr__direct_usable(rr_reader *r)
{
    return atomic_load_explicit(&rr__fork_gen, memory_order_relaxed) ==
           atomic_load_explicit(&r->fork_gen, memory_order_relaxed);
}

/* ---- following (pipeline.c) --------------------------------------------------------- */

/* A follower whose mask became empty (every reader it followed left, and
 * they followed nobody) reads as a plain reader from now on; `avail` stays a
 * valid bound (`lim` with one producer, at most `pos` with several). Its
 * sleeper, if any, is now counted in readable.waiters. */
static void rr__follow_end(rr_reader *r)
{
    r->direct = r->ring->multi ? RR_READ_STAMPED : RR_READ_DIRECT;
    atomic_fetch_and_explicit(&r->entry->flags, ~(uint32_t)RR_ENTRY_F_GATE_WAIT,
                              memory_order_relaxed);   /* published by R10 before it sleeps */
}

/* A follower at its limit: look at its leaders' gates again. True when
 * there is more to read below them, or it no longer follows anybody (the
 * caller then reads as a plain reader). */
static bool rr__follow_more(rr_reader *r)
{
    uint64_t mask;
    uint64_t lim = rr__follow_limit(r->ring, r->entry, &mask);
    if (mask == 0) {
        rr__follow_end(r);
        return true;
    }
    if (lim > r->lim)
        r->lim = lim;
    if (!r->ring->multi)
        r->avail = r->lim;   /* the fast path's bound: every event below is there */
    return r->pos < r->lim;
}

/* A follower of a shared ring waiting behind its leaders: every
 * RR_SHM_LIVENESS_NS, evict those whose processes died (their followers then
 * follow what they followed). True when one was. */
static bool rr__follow_dead_gone(rr_reader *r)
{
    int64_t now = rr__now_ns();
    if (r->follow_look_at != 0 && now - r->follow_look_at < RR_SHM_LIVENESS_NS)
        return false;
    r->follow_look_at = now;
    return rr__follow_evict_dead(r->ring,
                                 atomic_load_explicit(&r->entry->after,
                                                      memory_order_acquire)) > 0;   /* A18 */
}

static rr_status rr__fetch_in_place(rr_reader *r, rr_event *ev)
{
    rr_ring *ring = r->ring;
    for (;;) {
        if (r->direct == RR_READ_FOLLOW && r->pos >= r->lim && !rr__follow_more(r))
            return RR_EMPTY;   /* not yet released by every reader it follows */
        rr_slot_meta *m = rr__meta(ring, r->idx);
        uint64_t want = rr__stamp_done(r->pos);
        /* A1, pairs with R1 in writer.c: the payload is complete */
        uint64_t s = atomic_load_explicit(&m->stamp, memory_order_acquire);
        if (s != want) {
            if (s < want)
                return RR_EMPTY;
            rr__skip_lapped(r, s);         /* cannot happen while we gate; never hide it */
            continue;
        }
        uint32_t len = atomic_load_explicit(&m->len, memory_order_relaxed);
        if (len > ring->slot_size) {       /* abandoned (multi producer): not an event */
            rr__skip_abandoned(r);
            continue;
        }
        *ev = (rr_event){ .sequence = r->pos, .len = len,
                          .event_type = atomic_load_explicit(&m->type, memory_order_relaxed),
                          .data = rr__slot(ring, r->idx) };
        rr__advance(r);
        r->delivered++;
        return RR_OK;
    }
}

static inline rr_status rr__fetch(rr_reader *r, rr_event *ev, unsigned char *dst)
{
    return r->ring->overwrite ? rr__fetch_overwrite(r, ev, dst) : rr__fetch_in_place(r, ev);
}

/* ---- waiting ------------------------------------------------------------------------ */

struct rr_pending_read {
    rr_reader *r;
    rr_event  *ev;
    bool       behind;   /* the last look waited behind an open claim, or (a follower
                            of a shared ring) behind its leaders: poll (wait.c) */
    bool       requeue;  /* a follower waiting on `writable` stopped following: wait
                            on `readable` instead */
};

/* One event, or RR_EMPTY, or RR_CLOSED once the ring is closed and drained.
 * With several producers, drained means every claimed sequence was read: a
 * claim still open when the ring closed holds the reader up (until its
 * timeout) rather than letting it skip the events behind it.
 *
 * Several producers, shared ring: a reader waiting at a sequence below
 * `claim` waits behind an open claim whose producer may have died
 * (claims.c), and nobody would wake it for that; so while it waits there it
 * looks again every RR_SHM_LIVENESS_NS (`behind`), and a look may recover
 * the claim. A reader waiting at `claim` itself, for a sequence nobody has
 * claimed yet, sleeps until woken, so an idle ring costs its readers
 * nothing. It is woken whenever there is something for it: its sequence
 * becomes an event only when a producer publishes it, and a skipped one
 * only when a producer abandons it or a finder recovers it, and each of
 * these wakes readers (writer.c rr__notify_published, claims.c L2), as the
 * ring's close does. A producer that claims it and dies wakes nobody, but a
 * dead claim never becomes an event to hand out: the reader learns of it at
 * its next wake-up (the publish of a later claim, a writer's recovery of
 * the dead one when it needs its slots, the close), or at its deadline, and
 * that look finds it behind the claim and polls from then on. Until then
 * the dead claim's skipped and recovered counts (and its claim record) wait
 * for that activity: a reader with no timeout on a ring where nothing else
 * happens never accounts them, which costs it nothing it could have read. */
static rr_status rr__read_ready(void *ctx)
{
    struct rr_pending_read *p = ctx;
    rr_ring *ring = p->r->ring;
    bool follower = p->r->direct == RR_READ_FOLLOW;
    rr_status st = rr__fetch(p->r, p->ev, p->r->scratch);
    p->behind = false;
    if (follower && st == RR_EMPTY && !ring->private_mem) {
        if (p->r->direct == RR_READ_FOLLOW) {
            p->behind = true;   /* a leader's process may die: look now and then */
            if (rr__follow_dead_gone(p->r))
                st = rr__fetch(p->r, p->ev, p->r->scratch);
        }
    }
    if (follower && st == RR_EMPTY && p->r->direct != RR_READ_FOLLOW && !rr__closed(ring)) {
        p->requeue = true;      /* it follows nobody now: wait for the writer */
        return RR_OK;
    }
    /* Several producers, shared ring: the event we wait for is claimed but
     * not there; its producer may have died (claims.c). A4 */
    if (st == RR_EMPTY && ring->claims &&
        p->r->pos < atomic_load_explicit(&ring->L->claim, memory_order_acquire)) {
        p->behind = true;
        if (rr__claims_recover_due(ring))
            st = rr__fetch(p->r, p->ev, p->r->scratch);
    }
    if (st == RR_EMPTY && !ring->overwrite && p->r->cur_lo != p->r->pos) {
        /* The fetch passed over abandoned slots and nothing is handed out
         * yet: release them, or a writer needing them waits for us while we
         * wait for it. */
        rr__release_to(p->r, p->r->pos);
        p->r->cur_lo = p->r->pos;
    }
    if (st != RR_EMPTY || !rr__closed(ring))
        return st;
    st = rr__fetch(p->r, p->ev, p->r->scratch);   /* published just before the close */
    if (st != RR_EMPTY)
        return st;
    /* A4 */
    if (ring->multi && p->r->pos < atomic_load_explicit(&ring->L->claim, memory_order_acquire))
        return RR_EMPTY;
    if (p->r->direct == RR_READ_FOLLOW && p->r->pos < rr__head(ring))
        return RR_EMPTY;   /* the readers it follows still hold events */
    return RR_CLOSED;
}

/* The queue a reader waits on: a follower's for gates to move, which
 * releases announce on `writable` (pipeline.c); every other reader's for
 * events, on `readable`. */
static inline rr_waitq *rr__read_queue(const rr_reader *r)
{
    return r->direct == RR_READ_FOLLOW ? &r->ring->L->writable : &r->ring->L->readable;
}

/* The reader has a pollfd and found nothing: stop the fd polling readable
 * and arm it on the queue the reader waits on (poll.c); if it was armed
 * anew, look again, and a look that finds something (an event, the close)
 * tells the fd. A follower that stops following meanwhile arms again, on
 * `readable`. */
static __attribute__((noinline)) rr_status rr__read_rearm(struct rr_pending_read *p)
{
    rr_reader *r = p->r;
    rr_reader_entry *e = r->entry;
    for (;;) {
        rr_waitq *q = rr__read_queue(r);
        if (!rr__poller_rearm(r->ring, &r->poll, q, &e->poll_owner, &e->poll_addr))
            return RR_EMPTY;   /* armed still, on that queue */
        rr_status st = rr__read_ready(p);
        if (p->requeue) {      /* it follows nobody now */
            p->requeue = false;
            continue;
        }
        if (st != RR_EMPTY)
            rr__poller_fire(r->ring, &e->poll_owner, &e->poll_addr);
        return st;
    }
}

static rr_status rr__read_first(rr_reader *r, rr_event *ev, int64_t timeout_ns)
{
    struct rr_pending_read p = { r, ev, false, false };
    rr_status st = rr__read_ready(&p);
    if (p.requeue) {             /* it follows nobody now: look as a plain reader */
        p.requeue = false;
        st = rr__read_ready(&p);
    }
    if (st == RR_EMPTY && atomic_load_explicit(&r->poll.addr, memory_order_relaxed))
        st = rr__read_rearm(&p);
    if (st != RR_EMPTY || timeout_ns == 0)
        return st;
    int64_t deadline = rr__deadline(timeout_ns);
    for (;;) {
        st = rr__wait(r->ring, rr__read_queue(r),
                      rr__read_ready, &p, deadline,
                      r->ring->private_mem ? NULL : &r->entry->sleeping, &p.behind,
                      r->wait);
        if (!p.requeue)
            return st == RR_EMPTY ? RR_TIMEOUT : st;
        p.requeue = false;       /* wait on `readable` from now on */
    }
}

/* Moving on: release what the last call handed out (unless held). */
static inline void rr__move_on(rr_reader *r)
{
    if (!r->ring->overwrite)
        rr__release_to(r, r->pos);
    r->cur_lo = r->pos;
}

static __attribute__((noinline)) rr_status rr__next_slow(rr_reader *r, rr_event *ev,
                                                        int64_t timeout_ns);
static __attribute__((noinline)) rr_status rr__next_batch_slow(rr_reader *r, rr_event *evs,
                                                              size_t max, size_t *n_out,
                                                              int64_t timeout_ns);

/* Overwrite and several producers: an event there now, taken without the
 * general path's layers (the seqlock fetch; a stamp that says it is there),
 * else the general path; a follower at its limit goes there at once. */
static __attribute__((noinline)) rr_status rr__next_other(rr_reader *r, rr_event *ev,
                                                         int64_t timeout_ns)
{
    if (r->ring->overwrite) {
        rr__move_on(r);   /* the general path's first step too: it does nothing twice */
        if (rr__fetch_overwrite(r, ev, r->scratch) == RR_OK) {
            atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
            return RR_OK;
        }
    } else if (!r->direct) {
        rr__move_on(r);
        if (rr__stamped_take(r, ev, r->ring)) {
            r->delivered++;
            atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
            return RR_OK;
        }
    }
    return rr__next_slow(r, ev, timeout_ns);
}

/* The wake-up call of a release, out of rr_reader_next's code. */
static __attribute__((noinline, cold)) rr_status rr__wake_writers(const rr_reader *r)
{
    rr__wake_all(r->ring, &r->ring->L->writable);
    return RR_OK;
}

rr_status rr_reader_next(rr_reader *r, rr_event *ev, int64_t timeout_ns)
{
    if (__builtin_expect(r && ev && rr__direct_usable(r), 1)) {
        if (__builtin_expect(r->nholds == 0 && rr__direct_ready(r), 1)) {
            uint64_t last = r->pos;   /* what the last call handed out ends here */
            if (__builtin_expect(rr__direct_take(r, ev, r->ring), 1)) {
                r->delivered++;
                r->cur_lo = last;
                atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
                if (r->gate == last)
                    return RR_OK;
                /* release it (rr__move_on with no holds): R3, pairs with A3
                 * in writer.c rr__gate_refresh, after our reads of it */
                r->gate = last;
                atomic_store_explicit(&r->entry->gate, last, memory_order_release);
                /* S1's notifier side, as rr__notify */
                if (atomic_load_explicit(&rr__asym_fences, memory_order_relaxed))
                    atomic_signal_fence(memory_order_seq_cst);
                else
                    atomic_thread_fence(memory_order_seq_cst);
                if (__builtin_expect(atomic_load_explicit(&r->ring->L->writable.waiters,
                                                          memory_order_relaxed) != 0, 0))
                    return rr__wake_writers(r);
                return RR_OK;
            }
        } else if (!(r->direct & RR_READ_DIRECT)) {   /* as rr__direct_ready's test */
            return rr__next_other(r, ev, timeout_ns);
        }
    }
    return rr__next_slow(r, ev, timeout_ns);
}

rr_status rr_reader_next_batch(rr_reader *r, rr_event *evs, size_t max, size_t *n_out,
                               int64_t timeout_ns)
{
    if (r && evs && n_out && max && rr__direct_usable(r) && !r->direct && !r->ring->overwrite) {
        /* several producers, backpressure: each event's stamp says it is there */
        const rr_ring *ring = r->ring;
        rr__move_on(r);
        size_t n = 0;
        while (n < max && rr__stamped_take(r, &evs[n], ring))
            n++;
        if (n > 0) {
            r->delivered += n;
            *n_out = n;
            atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
            return RR_OK;
        }
    }
    if (__builtin_expect(r && evs && n_out && max && rr__direct_usable(r) &&
                         r->direct == RR_READ_DIRECT, 1)) {
        /* A2: the newest published, so the batch is all there is */
        r->avail = atomic_load_explicit(&r->ring->L->published, memory_order_acquire);
        if (r->pos < r->avail) {
            const rr_ring *ring = r->ring;
            rr__move_on(r);   /* the last batch, released with one store (R3) */
            size_t most = r->avail - r->pos < max ? (size_t)(r->avail - r->pos) : max, n = 0;
            while (n < most && rr__direct_take(r, &evs[n], ring))
                n++;
            if (__builtin_expect(n == 0, 0))
                return rr__next_batch_slow(r, evs, max, n_out, timeout_ns);
            r->delivered += n;
            *n_out = n;
            atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
            return RR_OK;
        }
    }
    return rr__next_batch_slow(r, evs, max, n_out, timeout_ns);
}

static rr_status rr__next_slow(rr_reader *r, rr_event *ev, int64_t timeout_ns)
{
    if (!r || !ev)
        return rr__fail(RR_INVALID, "rr_reader_next needs a reader and an event");
    rr_status forked = rr__reader_mine(r);
    if (forked != RR_OK)
        return forked;
    rr__move_on(r);
    rr_status st = rr__read_first(r, ev, timeout_ns);
    atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
    return st;
}

static rr_status rr__next_batch_slow(rr_reader *r, rr_event *evs, size_t max, size_t *n_out,
                                     int64_t timeout_ns)
{
    if (!r || !evs || !n_out || max == 0)
        return rr__fail(RR_INVALID, "rr_reader_next_batch needs a reader, room for events and a count");
    *n_out = 0;
    rr_status forked = rr__reader_mine(r);
    if (forked != RR_OK)
        return forked;
    rr__move_on(r);
    if (!r->ring->overwrite && r->direct == RR_READ_FOLLOW &&   /* (rr__move_on's test) */
        (r->pos < r->lim || rr__follow_more(r)) && r->direct == RR_READ_FOLLOW) {
        /* a follower: every event below its leaders' limit is released by
         * them (a claim not yet published, or an abandoned claim's slot,
         * stops the run: rr__follow_take) */
        size_t most = r->lim - r->pos < max ? (size_t)(r->lim - r->pos) : max, n = 0;
        while (n < most && rr__follow_take(r, &evs[n], r->ring))
            n++;
        if (n > 0) {
            r->delivered += n;
            *n_out = n;
            atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
            return RR_OK;
        }
    }
    size_t limit = r->ring->overwrite && max > r->scratch_events ? r->scratch_events : max;
    rr_status st = rr__read_first(r, &evs[0], timeout_ns);
    size_t n = st == RR_OK ? 1 : 0;
    while (n > 0 && n < limit &&
           rr__fetch(r, &evs[n], r->scratch ? r->scratch + n * r->ring->stride : NULL) == RR_OK)
        n++;
    *n_out = n;
    atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
    return st;
}

size_t rr_reader_batch_limit(const rr_reader *r)
{
    if (!r)
        return 0;
    return r->ring->overwrite ? r->scratch_events : RR_MAX_CLAIM;
}

/* ---- holds ------------------------------------------------------------------------------ */

static rr_status rr__check_hold(rr_reader *r, uint64_t seq, const char *what)
{
    if (!r)
        return rr__fail(RR_INVALID, "no reader given");
    rr_status forked = rr__reader_mine(r);
    if (forked != RR_OK)
        return forked;
    if (r->ring->overwrite)
        return rr__fail(RR_INVALID,
                        "cannot %s in an overwrite ring: its events are copies", what);
    if (seq < r->gate || seq >= r->pos)
        return rr__fail(RR_INVALID, "cannot %s event %llu: the reader holds [%llu, %llu)",
                        what, (unsigned long long)seq, (unsigned long long)r->gate,
                        (unsigned long long)r->pos);
    return RR_OK;
}

rr_status rr_reader_hold(rr_reader *r, uint64_t sequence)
{
    rr_status st = rr__check_hold(r, sequence, "hold");
    if (st != RR_OK)
        return st;
    r->holds[rr__mod(r->ring, sequence)]++;
    r->nholds++;
    return RR_OK;
}

rr_status rr_reader_release(rr_reader *r, uint64_t sequence)
{
    rr_status st = rr__check_hold(r, sequence, "release");
    if (st != RR_OK)
        return st;
    uint32_t *h = &r->holds[rr__mod(r->ring, sequence)];
    if (*h == 0)
        return rr__fail(RR_INVALID, "event %llu is not held", (unsigned long long)sequence);
    (*h)--;
    r->nholds--;
    rr__release_to(r, r->cur_lo);   /* never past what the last call handed out */
    return RR_OK;
}

/* ---- giving events back ----------------------------------------------------------------
 *
 * A handler loop (the bindings' process()) reads a batch and hands its events
 * to a handler one by one; a handler that stops the loop leaves the rest of
 * the batch unhandled, and those must come again at the next call. They were
 * counted when read, so giving them back takes back exactly what their read
 * counted: `delivered` for the events, and for the sequences passed over
 * between them `skipped` (an abandoned claim's slot) or `lost` (lapped), which
 * the next read counts again.
 *
 * Backpressure: every slot of [cur_lo, pos) is still pinned (the gate is at or
 * below cur_lo), so each slot still says what it held: a length above the
 * slot size is an abandoned claim's, anything else an event handed out. The
 * gate does not move. Overwrite: one producer never leaves abandoned slots,
 * so every gap was lost; with several, a slot that still holds that very
 * sequence abandoned (a seqlock read of it) was skipped, any other gap lost,
 * never taking back more of either than the reader counted. */

/* Several producers, overwrite: whether slot q % capacity holds sequence q
 * as an abandoned claim's (stamp done, length above the slot size), read as
 * rr__fetch_overwrite reads a slot. */
static bool rr__holds_abandoned(const rr_ring *ring, uint64_t q)
{
    rr_slot_meta *m = rr__meta(ring, rr__mod(ring, q));
    /* A1, pairs with R1 in writer.c / claims.c */
    uint64_t s1 = atomic_load_explicit(&m->stamp, memory_order_acquire);
    if (s1 != rr__stamp_done(q))
        return false;
    uint32_t len;
    rr__overwrite_copy(&len, &m->len, sizeof len);
    /* A5, pairs with R5: a length a writer was changing re-reads a newer stamp */
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&m->stamp, memory_order_relaxed) == s1 && len > ring->slot_size;
}

rr_status rr_reader_unread(rr_reader *r, uint64_t sequence, uint64_t count)
{
    if (!r)
        return rr__fail(RR_INVALID, "no reader given");
    rr_status forked = rr__reader_mine(r);
    if (forked != RR_OK)
        return forked;
    rr_ring *ring = r->ring;
    uint64_t pos = r->pos;
    if (sequence < r->cur_lo || sequence > pos || count > pos - sequence)
        return rr__fail(RR_INVALID, "cannot give back %llu events from %llu: the reader's last "
                        "call handed out events in [%llu, %llu)", (unsigned long long)count,
                        (unsigned long long)sequence, (unsigned long long)r->cur_lo,
                        (unsigned long long)pos);
    uint64_t gaps = pos - sequence - count, skipped = 0;
    if (!ring->overwrite) {
        for (uint64_t q = sequence; q < pos; q++) {
            uint64_t i = rr__mod(ring, q);
            if (r->holds[i] != 0)
                return rr__fail(RR_INVALID, "cannot give back event %llu: it is held "
                                "(release it first)", (unsigned long long)q);
            skipped += atomic_load_explicit(&rr__meta(ring, i)->len, memory_order_relaxed) >
                       ring->slot_size;
        }
        if (skipped != gaps)
            return rr__fail(RR_INVALID, "cannot give back %llu events from %llu: the last call "
                            "handed out %llu there", (unsigned long long)count,
                            (unsigned long long)sequence, (unsigned long long)(pos - sequence - skipped));
    } else if (ring->multi) {
        for (uint64_t q = sequence; q < pos && skipped < gaps && skipped < r->skipped; q++)
            skipped += rr__holds_abandoned(ring, q);
    }
    uint64_t lost = gaps - skipped;
    if (lost > r->lost) {             /* never take back more than was counted */
        lost = r->lost;
        skipped = gaps - lost;
    }
    if (count > r->delivered || skipped > r->skipped)
        return rr__fail(RR_INVALID, "cannot give back %llu events: the reader counted fewer",
                        (unsigned long long)count);
    r->pos = sequence;
    r->idx = rr__mod(ring, sequence);
    r->delivered -= count;
    if (skipped) {
        r->skipped -= skipped;
        atomic_store_explicit(&r->entry->skipped, r->skipped, memory_order_relaxed);
    }
    if (lost) {
        r->lost -= lost;
        atomic_store_explicit(&r->entry->lost, r->lost, memory_order_relaxed);
    }
    atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
    return RR_OK;
}

/* ---- figures -------------------------------------------------------------------------------- */

uint64_t rr_reader_cursor(const rr_reader *r) { return r ? r->pos : 0; }
uint64_t rr_reader_lost(const rr_reader *r) { return r ? r->lost : 0; }
uint64_t rr_reader_delivered(const rr_reader *r) { return r ? r->delivered : 0; }
uint64_t rr_reader_skipped(const rr_reader *r) { return r ? r->skipped : 0; }

/* Events to read (with several producers: claimed, maybe not yet
 * published), or the ring closed. Consumes nothing. */
bool rr__reader_has_events(const rr_reader *r)
{
    return rr__closed(r->ring) || rr__head(r->ring) > r->pos;
}

uint64_t rr_reader_lag(const rr_reader *r)
{
    return r ? rr__lag(rr__head(r->ring), r->pos) : 0;
}

/* [gate, pos): read, and still kept from writers (see rr__pinned). */
uint64_t rr_reader_pinned(const rr_reader *r)
{
    return r ? rr__pinned(r->ring, r->gate, r->pos) : 0;
}

double rr_reader_backpressure_ratio(const rr_reader *r)
{
    return r ? rr__ratio(r->ring, rr_reader_lag(r) + rr_reader_pinned(r)) : 0.0;
}

bool rr_reader_is_under_pressure(const rr_reader *r)
{
    return rr_ratio_is_under_pressure(rr_reader_backpressure_ratio(r));
}

bool rr_reader_should_throttle(const rr_reader *r)
{
    return rr_ratio_should_throttle(rr_reader_backpressure_ratio(r));
}

/* ---- pipelines (pipeline.c) -------------------------------------------------------------- */

const char *rr_reader_name(const rr_reader *r) { return r ? r->name : ""; }
uint32_t rr_reader_index(const rr_reader *r) { return r ? r->index : 0; }
bool rr_reader_writable(const rr_reader *r) { return r && r->writable; }
bool rr_reader_durable(const rr_reader *r) { return r && r->durable; }

uint64_t rr_reader_after(const rr_reader *r)
{
    /* A18: rewritten when a reader it follows leaves */
    return r ? atomic_load_explicit(&r->entry->after, memory_order_acquire) : 0;
}

rr_status rr_reader_writable_data(rr_reader *r, uint64_t sequence, void **data_out)
{
    if (!r || !data_out)
        return rr__fail(RR_INVALID, "rr_reader_writable_data needs a reader and a place for "
                        "the pointer");
    if (!r->writable)
        return rr__fail(RR_INVALID, "the reader %s%s%sis not writable: open it with writable "
                        "set to write into its events", r->name[0] ? "'" : "", r->name,
                        r->name[0] ? "' " : "");
    rr_status st = rr__reader_mine(r);
    if (st != RR_OK)
        return st;
    /* handed out by its last call, [cur_lo, pos), or held: [gate, pos) */
    if (sequence < r->gate || sequence >= r->pos ||
        (sequence < r->cur_lo && r->holds[rr__mod(r->ring, sequence)] == 0))
        return rr__fail(RR_INVALID, "cannot write event %llu: the reader was handed [%llu, "
                        "%llu) by its last call and holds no other", (unsigned long long)sequence,
                        (unsigned long long)r->cur_lo, (unsigned long long)r->pos);
    *data_out = rr__slot(r->ring, rr__mod(r->ring, sequence));
    return RR_OK;
}

/* ---- what block.c builds on ------------------------------------------------------------- */

/* The start of rr_reader_next: release what the last call handed out, then
 * the first event (waiting up to timeout_ns), copied to the scratch's first
 * row in an overwrite ring. */
rr_status rr__reader_begin(rr_reader *r, rr_event *first, int64_t timeout_ns)
{
    rr_status st = rr__reader_mine(r);
    if (st != RR_OK)
        return st;
    rr__move_on(r);
    return rr__read_first(r, first, timeout_ns);
}

void rr__reader_release_upto(rr_reader *r, uint64_t upto)
{
    rr__release_to(r, upto);
}

rr_status rr__reader_check(rr_reader *r)
{
    return rr__reader_mine(r);
}
