/*
 * pipeline.c — readers that follow readers: names, `after` masks and
 * writable readers, the LMAX Disruptor's dependency graph over one ring.
 *
 * What lives where. Each reader entry's second (cold) line holds its name
 * (NUL-padded UTF-8, all zero: unnamed), its `after` mask (bit i: it follows
 * entry i) and its flags (layout.h: WRITABLE, FOLLOWED, GATE_WAIT). A
 * follower reads only events below every followed reader's `gate` (its
 * leaders' limit, rr__follow_limit): the gate is what a reader has released,
 * so a follower never sees an event before its leaders are done with it,
 * writes included. Its own gate stays at or below its position, so the
 * writer, gated by every gate, never needs to know about followers: the
 * writer's and the plain readers' paths are unchanged.
 *
 * Invariants:
 *   - Every change to names, masks and the WRITABLE / FOLLOWED flags is made
 *     by the holder of the ring's pipeline word (`pipeline.owner`, an owner
 *     word as proc.c's: taken by CAS from 0, given back by storing 0; a word
 *     naming a dead process is taken over, R17/A17). Holders do no waiting
 *     while they hold it, so it is held for microseconds. They may make a
 *     wake-up call (an opener whose gate rr__register_gate moved up wakes
 *     writers) and look whether processes run (/proc); a wake-up's look for
 *     dead sleepers only tries the word (RR_PIPE_TRY), so it fails at once
 *     while its own thread holds it, and never waits for it. Evicting a
 *     plain reader needs no word (proc.c rr__evict_dead_in), so a ring
 *     without named, following, followed or writable readers never takes
 *     it.
 *   - A name is unique among the entries whose owner word is not 0: an
 *     opener checks, and writes its name, while it holds the word; a closer
 *     (or evictor) clears it while it holds the word.
 *   - A name is read without the word (rr_ring_reader_find, stats) as a
 *     seqlock: its writer (the entry's holder) makes `name_seq` odd, stores
 *     the words, makes it even again (R19, rr__name_store); a reader loads
 *     it (A19), the words, then it again after an acquire fence, and keeps
 *     the words only if both loads are equal and even. The owner word
 *     cannot tell: a process that reopens the entry it closed writes the
 *     same owner word. A writer that died between its two stores leaves it
 *     odd until its entry's evictor (rr__pipe_leave) clears the name; a
 *     reader gives up after RR_NAME_TRIES looks and reads "".
 *   - A mask names only entries that went ACTIVE before the mask was written
 *     (an opener follows ACTIVE readers; a rewrite copies a leader's mask,
 *     whose readers went ACTIVE before the leader did). So masks form a DAG
 *     in the order readers opened, a reader cannot follow itself, and an
 *     entry's new occupant is never in the masks of readers older than it.
 *   - A follower's gate is at or below every leader's gate. An opener
 *     registers its gate holding the word, at or below the limit its
 *     leaders' gates set then (reader.c clamps its start, RR_START_LATEST
 *     included); afterwards it reads, and so releases, only below that
 *     limit, and gates only grow. By induction a reader's gate is at or
 *     below the gate of every reader it follows through others too.
 *   - An entry leaves (close, eviction) while holding the word, in this
 *     order: every mask naming it is rewritten to name what it followed
 *     instead (rr__pipe_leave), then its gate is freed (R3 or S3), its state
 *     and owner word cleared (R6, R7). Its leaders' gates are at or above its
 *     own (the invariant above), so the rewrite never lowers a follower's
 *     limit: a limit a follower cached (reader.c `lim`) stays valid across
 *     it. Rewrites keep "follows, directly or through others" between the
 *     readers that stay, so two writable readers never become able to hold
 *     one event at once.
 *   - A gate says what its reader released, not that the events below it
 *     were published: a plain reader of a multi-producer ring opened at
 *     RR_START_LATEST has its gate at `claim`, above claims still open. So
 *     a follower of such a ring still looks at each event's stamp.
 *
 * The follower's limit, concurrent with a leader leaving (rr__follow_limit):
 * load the mask (A18), each named entry's gate (A3), then the mask again; a
 * limit counts only if the mask did not change. A gate value that came from
 * after the leader left (its freed gate, RR_GATE_FREE, or the gate of a new
 * reader in the entry) was stored after the rewrite: the free by the leaver
 * after its rewrite (R3/S3 release), a new occupant's gate after its owner
 * CAS (R7/A7) that followed the leaver's. The acquire load of that gate
 * makes the rewrite visible to the second load of the mask, which then
 * differs (a mask never gets a bit back: see the DAG above), and the
 * follower looks again. Any gate value read from the leader itself is one it
 * really released, and gates only grow, so a stale value only holds the
 * follower back. The first load is an acquire (A18) of the mask's release
 * (R18): the gates then read are those of the readers it names, never a
 * previous occupant's freed gate.
 *
 * Waiting. A follower waits for gates to move, which readers announce on
 * the `writable` queue (their releases notify writers): so it sleeps there,
 * and the flag GATE_WAIT tells a finder of its death which queue its sleeper
 * count is in. When the mask becomes empty it reads as a plain reader and
 * waits on `readable` again. On shared rings it looks every
 * RR_SHM_LIVENESS_NS whether its leaders' processes run and evicts the dead
 * ones (nobody else would: the writer evicts only when the ring is full).
 *
 * Durable readers (reader.c opens, closes and resumes them; proc.c parks
 * those of dead processes; rr_ring_reader_drop here removes them). A durable
 * reader is named, so its entry is always involved: every move of its owner
 * word between a holder and RR_OWNER_PARKED (a park by its closer or by the
 * evictor of its dead process, a resume, a drop) is made holding this word.
 * So two resumers, a resumer and a dropper, a parker and a resumer never
 * interleave: the second sees the first's outcome (R17/A17), and finds
 * either the parked word (then it takes it: A22, pairs with R22) or a live
 * holder's (the duplicate-name error; RR_IN_USE for a dropper). A parked
 * entry stays ACTIVE, keeps its name, mask, flags and gate: to followers
 * (rr__follow_limit) and writers (rr__gate_refresh) it is the reader it
 * was, so neither takes the word nor notices a park or a resume; only the
 * liveness looks (rr__gone_locked, rr__follow_evict_dead, proc.c) skip the
 * parked word, which names no process, instead of evicting it.
 *
 * Writable readers: two writable readers that could hold the same event at
 * once (neither follows the other, directly or through others) are refused
 * when the second opens, under the word. A writable reader's writes are
 * plain stores before its release (R3); a follower's A3 load of that gate
 * makes them visible.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"

/* ---- the pipeline word --------------------------------------------------------- */

#define RR_PIPE_LOOK_EVERY 64   /* yields between two looks at the holder's process */

/* The holder's process no longer runs. A ring only this process maps, copied
 * into a fork()ed child while another thread held the word, names the parent. */
static bool rr__pipe_holder_dead(const rr_ring *ring, uint64_t holder)
{
    if (ring->private_mem)
        return rr__owner_pid(holder) != rr__owner_pid(rr__self_owner());
    return !rr__owner_alive(holder);
}

bool rr__pipe_lock(const rr_ring *ring, int how)
{
    _Atomic uint64_t *word = &ring->L->pipeline.owner;
    uint64_t me = rr__self_owner();
    for (uint32_t round = 1;; round++) {
        uint64_t cur = 0;
        /* R17/A17: the word passes with every change its last holder made */
        if (atomic_compare_exchange_strong_explicit(word, &cur, me, memory_order_acq_rel,
                                                    memory_order_acquire))
            return true;
        if (how == RR_PIPE_TRY)
            return false;
        if (round % RR_PIPE_LOOK_EVERY == 0) {
            if (cur != me && rr__pipe_holder_dead(ring, cur) &&
                atomic_compare_exchange_strong_explicit(word, &cur, me, memory_order_acq_rel,
                                                        memory_order_acquire))
                return true;   /* its holder died holding it: what it left is made
                                  whole by whoever evicts the entries it changed */
            if (how == RR_PIPE_BRIEF)
                return false;  /* a live holder (or a stopped one): another time */
        }
        sched_yield();         /* no cancellation point (layout.h) */
    }
}

void rr__pipe_unlock(const rr_ring *ring)
{
    uint64_t me = rr__self_owner();
    /* R17 */
    atomic_compare_exchange_strong_explicit(&ring->L->pipeline.owner, &me, 0,
                                            memory_order_acq_rel, memory_order_relaxed);
}

/* ---- names ------------------------------------------------------------------------- */

/* Where the first byte that breaks UTF-8 is, or len (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t rr__utf8_bad_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) { n = 2; lo = 0xA0; }
        else if (c >= 0xE1 && c <= 0xEC) n = 2;
        else if (c == 0xED) { n = 2; hi = 0x9F; }
        else if (c >= 0xEE && c <= 0xEF) n = 2;
        else if (c == 0xF0) { n = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) { n = 3; hi = 0x8F; }
        else return i;
        if (len - i <= n)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return i;
        i += n + 1;
    }
    return len;
}

rr_status rr_reader_name_check(const char *name, size_t len)
{
    if (!name && len)
        return rr__fail(RR_INVALID, "no reader name given");
    if (len > RR_NAME_MAX)
        return rr__fail(RR_INVALID, "the reader name is %zu bytes long; names hold at most "
                        "%d bytes of UTF-8", len, RR_NAME_MAX);
    const char *nul = len ? memchr(name, '\0', len) : NULL;
    if (nul)
        return rr__fail(RR_INVALID, "the reader name holds a NUL byte (at byte %zu)",
                        (size_t)(nul - name));
    size_t bad = rr__utf8_bad_at((const unsigned char *)name, len);
    if (bad != len)
        return rr__fail(RR_INVALID, "the reader name is not valid UTF-8 (byte %zu is 0x%02x)",
                        bad, (unsigned)(unsigned char)name[bad]);
    return RR_OK;
}

/* A name as the 4 words of an entry (NUL-padded). */
static void rr__name_words(const char *name, uint64_t w[4])
{
    char buf[4 * sizeof(uint64_t)] = { 0 };
    if (name)
        memcpy(buf, name, strnlen(name, RR_NAME_MAX));
    memcpy(w, buf, sizeof buf);
}

static void rr__name_load(const rr_reader_entry *e, uint64_t w[4])
{
    for (int k = 0; k < 4; k++)   /* relaxed: the caller holds the word */
        w[k] = atomic_load_explicit(&e->name[k], memory_order_relaxed);
}

void rr__name_store(rr_reader_entry *e, const uint64_t w[4])
{
    uint64_t cur[4];
    rr__name_load(e, cur);   /* only its holder writes it */
    if (memcmp(cur, w, sizeof cur) == 0)
        return;
    /* odd (it may be already: a writer died half way) */
    uint32_t seq = atomic_load_explicit(&e->name_seq, memory_order_relaxed) | 1u;
    atomic_store_explicit(&e->name_seq, seq, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);   /* the odd store before the words */
    for (int k = 0; k < 4; k++)
        atomic_store_explicit(&e->name[k], w[k], memory_order_relaxed);
    /* R19, pairs with A19 in rr__entry_name: the words before the even store */
    atomic_store_explicit(&e->name_seq, seq + 1, memory_order_release);
}

static bool rr__name_is(const rr_reader_entry *e, const uint64_t want[4])
{
    uint64_t w[4];
    rr__name_load(e, w);
    return memcmp(w, want, sizeof w) == 0;
}

void (*rr__name_read_hook)(const rr_ring *ring, uint32_t i);

#define RR_NAME_TRIES 1024   /* looks at a name that keeps changing, then "" */

void rr__entry_name(const rr_ring *ring, uint32_t i, char out[RR_NAME_MAX + 1])
{
    const rr_reader_entry *e = &ring->readers[i];
    out[0] = '\0';
    for (int t = 0; t < RR_NAME_TRIES; t++) {
        /* A19, pairs with R19 in rr__name_store: even, the words below are
         * those of that change or a later one (then the re-check differs) */
        uint32_t seq = atomic_load_explicit(&e->name_seq, memory_order_acquire);
        if (seq & 1u) {
            sched_yield();   /* its holder is writing it: microseconds */
            continue;
        }
        uint64_t w[4];
        for (int k = 0; k < 4; k++) {
            w[k] = atomic_load_explicit(&e->name[k], memory_order_relaxed);
            if (k == 0 && rr__name_read_hook)
                rr__name_read_hook(ring, i);
        }
        /* the loads above before the re-check: a word stored after the odd
         * store (release fence) makes the re-check see that store or later */
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&e->name_seq, memory_order_relaxed) == seq) {
            memcpy(out, w, RR_NAME_MAX);
            out[RR_NAME_MAX] = '\0';
            return;
        }
    }
}

/* The in-use entry named by w (all zero: none), or -1. The caller holds the word. */
static int rr__find_locked(const rr_ring *ring, const uint64_t w[4], uint32_t skip)
{
    if ((w[0] | w[1] | w[2] | w[3]) == 0)
        return -1;
    for (uint32_t j = 0; j < RR_MAX_READERS; j++) {
        const rr_reader_entry *e = &ring->readers[j];
        if (j != skip && atomic_load_explicit(&e->owner, memory_order_acquire) != 0 &&
            rr__name_is(e, w))
            return (int)j;
    }
    return -1;
}

rr_status rr_ring_reader_find(const rr_ring *ring, const char *name, uint32_t *index_out)
{
    if (!ring || !name || !index_out)
        return rr__fail(RR_INVALID, "rr_ring_reader_find needs a ring, a name and a place "
                        "for the index");
    uint64_t w[4];
    rr__name_words(name, w);
    for (uint32_t j = 0; name[0] && strlen(name) <= RR_NAME_MAX && j < RR_MAX_READERS; j++) {
        const rr_reader_entry *e = &ring->readers[j];
        /* A6: an ACTIVE entry's name is the reader's (written before R6) */
        if (atomic_load_explicit(&e->state, memory_order_acquire) != RR_ENTRY_ACTIVE)
            continue;
        char got[RR_NAME_MAX + 1];
        rr__entry_name(ring, j, got);
        /* A6 again: the name read is that of a reader that finished opening
         * (an opener writes its name while CLAIMED) */
        if (strcmp(got, name) == 0 &&
            atomic_load_explicit(&e->state, memory_order_acquire) == RR_ENTRY_ACTIVE) {
            *index_out = j;
            return RR_OK;
        }
    }
    return rr__fail(RR_INVALID, "the ring has no reader named '%.*s'", RR_NAME_MAX + 8, name);
}

/* ---- opening a reader with pipeline options ------------------------------------------ */

static bool rr__has_name(const char *name)
{
    return name && name[0];
}

rr_status rr__pipe_check(const rr_ring *ring, const rr_reader_options *o)
{
    if (rr__has_name(o->name)) {
        rr_status st = rr_reader_name_check(o->name, strnlen(o->name, RR_NAME_MAX + 1));
        if (st != RR_OK)
            return st;
    }
    bool follows = o->after_count > 0 || o->after_names_count > 0;
    if (follows && ring->overwrite)
        return rr__fail(RR_INVALID, "a reader of an overwrite ring cannot follow other readers "
                        "(after): the writer never waits for them, so nothing could hold "
                        "an event for the follower; use a backpressure ring");
    if (o->writable && ring->overwrite)
        return rr__fail(RR_INVALID, "a reader of an overwrite ring cannot be writable: it is "
                        "handed copies; use a backpressure ring");
    if ((o->after_count && !o->after) || (o->after_names_count && !o->after_names))
        return rr__fail(RR_INVALID, "after_count / after_names_count given without the list");
    for (size_t k = 0; k < o->after_count; k++) {
        const rr_reader *lead = o->after[k];
        if (!lead)
            return rr__fail(RR_INVALID, "after[%zu] is NULL, not a reader", k);
        if (lead->ring != ring && lead->ring->L != ring->L)
            return rr__fail(RR_INVALID, "after[%zu] is a reader of another ring; a reader can "
                            "follow only readers of its own ring (name one to follow it from "
                            "another mapping)", k);
    }
    for (size_t k = 0; k < o->after_names_count; k++) {
        const char *n = o->after_names[k];
        if (!rr__has_name(n))
            return rr__fail(RR_INVALID, "after_names[%zu] is empty, not a reader's name", k);
        if (strnlen(n, RR_NAME_MAX + 1) > RR_NAME_MAX)
            return rr__fail(RR_INVALID, "after_names[%zu] is longer than %d bytes: no reader "
                            "has that name", k, RR_NAME_MAX);
        if (rr__has_name(o->name) && strcmp(n, o->name) == 0)
            return rr__fail(RR_INVALID, "reader '%s' cannot follow itself (after_names[%zu]): "
                            "that would be a cycle", n, k);
    }
    return RR_OK;
}

/* Entry j is taken by a process that no longer runs: evict it now (the
 * caller holds the word). True when it was (or is now) gone. */
static bool rr__gone_locked(const rr_ring *ring, uint32_t j)
{
    uint64_t owner = atomic_load_explicit(&ring->readers[j].owner, memory_order_acquire);
    if (owner == 0)
        return true;
    /* a parked durable reader is there (reader.c); a durable reader of a
     * dead process is parked by the eviction below, not freed */
    if (owner == RR_OWNER_PARKED || ring->private_mem || rr__owner_alive(owner))
        return false;
    rr__evict_dead_in(ring, UINT64_C(1) << j, false, RR_PIPE_HELD);
    return atomic_load_explicit(&ring->readers[j].owner, memory_order_acquire) == 0;
}

/* The duplicate-name error: entry `dup`, found holding the word, is a live
 * reader named `name`. */
static rr_status rr__name_taken(const rr_ring *ring, const char *name, int dup)
{
    /* relaxed: the owner's pid is only told, nothing is read after it */
    return rr__fail(RR_INVALID, "the ring already has a reader named '%s' (entry %d, "
                    "process %u); names are unique in a ring", name, dup,
                    rr__owner_pid(atomic_load_explicit(&ring->readers[dup].owner,
                                                       memory_order_relaxed)));
}

/* Where the name `name` stands; the caller holds the word. RR_OK and
 * *parked: the parked durable reader of that name, or -1 when no reader has
 * it; the duplicate-name RR_INVALID (rr__pipe_join's) when a live reader
 * has it. A durable reader of a dead process is parked first
 * (rr__gone_locked), so it is found too. reader.c looks here before it
 * claims an entry: a resume needs none, and may drain a closed ring; and
 * the loser of a resume race is told the name is taken, not that the table
 * is full or the ring closed. */
rr_status rr__pipe_find_parked(const rr_ring *ring, const char *name, int *parked)
{
    uint64_t w[4];
    rr__name_words(name, w);
    *parked = -1;
    int j = rr__find_locked(ring, w, RR_MAX_READERS);
    if (j < 0 || rr__gone_locked(ring, (uint32_t)j))
        return RR_OK;
    /* relaxed: a parked word is stored and taken only under the word we hold */
    if (atomic_load_explicit(&ring->readers[j].owner, memory_order_relaxed) != RR_OWNER_PARKED)
        return rr__name_taken(ring, name, j);
    *parked = j;
    return RR_OK;
}

/* Every reader that `mask` follows, directly or through others. */
static uint64_t rr__ancestors(const rr_ring *ring, uint64_t mask)
{
    uint64_t all = mask, seen = 0;
    while (all != seen) {
        uint64_t fresh = all & ~seen;
        seen = all;
        for (uint64_t b = fresh; b; b &= b - 1)
            all |= atomic_load_explicit(&ring->readers[__builtin_ctzll(b)].after,
                                        memory_order_relaxed);   /* the word orders it */
    }
    return all;
}

/* What follows `after_names[k]`, resolved, into *mask. */
static rr_status rr__resolve_name(const rr_ring *ring, uint32_t self, const char *n, size_t k,
                                  uint64_t *mask)
{
    uint64_t w[4];
    rr__name_words(n, w);
    int j = rr__find_locked(ring, w, self);
    if (j >= 0 && rr__gone_locked(ring, (uint32_t)j))
        j = -1;
    /* A6: only a reader that finished opening (an opener that died half way
     * holds its name until it is evicted) */
    if (j >= 0 && atomic_load_explicit(&ring->readers[j].state, memory_order_acquire) !=
                      RR_ENTRY_ACTIVE)
        j = -1;
    if (j < 0)
        return rr__fail(RR_INVALID, "after_names[%zu]: the ring has no reader named '%s'",
                        k, n);
    *mask |= UINT64_C(1) << j;
    return RR_OK;
}

/* A writable reader following `mask` would share events with a writable
 * reader it does not follow: refuse. */
static rr_status rr__writable_conflict(const rr_ring *ring, uint32_t self, uint64_t mask)
{
    uint64_t anc = rr__ancestors(ring, mask);
    for (uint32_t j = 0; j < RR_MAX_READERS; j++) {
        const rr_reader_entry *e = &ring->readers[j];
        if (j == self || (anc >> j & 1) ||
            !(atomic_load_explicit(&e->flags, memory_order_relaxed) & RR_ENTRY_F_WRITABLE) ||
            rr__gone_locked(ring, j))
            continue;
        char other[RR_NAME_MAX + 1];
        rr__entry_name(ring, j, other);
        return rr__fail(RR_INVALID, "reader %s%s%s(entry %u) is writable too, and this one "
                        "does not follow it (directly or through others): both could hold "
                        "the same event at once; a writable reader must follow every other "
                        "writable reader", other[0] ? "'" : "", other, other[0] ? "' " : "",
                        j);
    }
    return RR_OK;
}

rr_status rr__pipe_join(const rr_ring *ring, uint32_t index, const rr_reader_options *o,
                        uint64_t *mask_out, int *resume_out)
{
    rr_reader_entry *e = &ring->readers[index];
    uint64_t w[4];
    *resume_out = -1;
    rr__name_words(rr__has_name(o->name) ? o->name : NULL, w);
    int dup = rr__find_locked(ring, w, index);
    bool there = dup >= 0 && !rr__gone_locked(ring, (uint32_t)dup);
    /* relaxed: a parked word is stored and taken only under the word we hold */
    if (there && atomic_load_explicit(&ring->readers[dup].owner, memory_order_relaxed) ==
                     RR_OWNER_PARKED) {
        if (o->durable) {
            *resume_out = dup;   /* the caller resumes it (reader.c rr__resume) */
            return RR_OK;
        }
        return rr__fail(RR_INVALID, "reader '%s' is a parked durable reader (entry %d); open "
                        "it with durable set to resume it where it stopped, or drop it "
                        "(drop_reader) to use the name for another reader", o->name, dup);
    }
    if (there)
        return rr__name_taken(ring, o->name, dup);
    uint64_t mask = 0;
    for (size_t k = 0; k < o->after_count; k++) {
        const rr_reader *lead = o->after[k];
        /* A6: a handle of this process, open (the caller's thread rules) */
        if (atomic_load_explicit(&ring->readers[lead->index].state, memory_order_acquire) !=
            RR_ENTRY_ACTIVE)
            return rr__fail(RR_INVALID, "after[%zu] was evicted from the ring", k);
        mask |= UINT64_C(1) << lead->index;
    }
    for (size_t k = 0; k < o->after_names_count; k++) {
        rr_status st = rr__resolve_name(ring, index, o->after_names[k], k, &mask);
        if (st != RR_OK)
            return st;
    }
    if (o->writable) {
        rr_status st = rr__writable_conflict(ring, index, mask);
        if (st != RR_OK)
            return st;
    }
    /* Nothing refused: write it all. The name and flags go with the entry's
     * R6; the mask is R18, after the leaders went ACTIVE (A6 above). */
    rr__name_store(e, w);
    uint32_t flags = (o->writable ? RR_ENTRY_F_WRITABLE : 0) | (mask ? RR_ENTRY_F_GATE_WAIT : 0) |
                     (o->durable ? RR_ENTRY_F_DURABLE : 0);
    atomic_store_explicit(&e->flags, flags, memory_order_relaxed);
    atomic_store_explicit(&e->after, mask, memory_order_release);
    for (uint64_t b = mask; b; b &= b - 1)
        atomic_fetch_or_explicit(&ring->readers[__builtin_ctzll(b)].flags, RR_ENTRY_F_FOLLOWED,
                                 memory_order_release);
    atomic_fetch_add_explicit(&ring->L->pipeline.changes, 1, memory_order_relaxed);
    *mask_out = mask;
    return RR_OK;
}

/* ---- leaving ------------------------------------------------------------------------------ */

bool rr__pipe_involved(const rr_reader_entry *e)
{
    /* the entry's own fields; FOLLOWED is set (release) by a follower's
     * opener, whose open happened before this close (handles' thread rules)
     * or which named this reader (then it has a name, and the close locks) */
    uint64_t any = atomic_load_explicit(&e->name[0], memory_order_relaxed) |
                   atomic_load_explicit(&e->after, memory_order_relaxed) |
                   (atomic_load_explicit(&e->flags, memory_order_acquire) &
                    (RR_ENTRY_F_WRITABLE | RR_ENTRY_F_FOLLOWED));
    return any != 0;
}

void rr__pipe_leave(const rr_ring *ring, uint32_t i)
{
    rr_reader_entry *e = &ring->readers[i];
    uint64_t bit = UINT64_C(1) << i;
    uint64_t up = atomic_load_explicit(&e->after, memory_order_relaxed);   /* the word orders */
    bool changed = false;
    for (uint32_t j = 0; j < RR_MAX_READERS; j++) {
        _Atomic uint64_t *a = &ring->readers[j].after;
        uint64_t m = atomic_load_explicit(a, memory_order_relaxed);
        if (j == i || !(m & bit))
            continue;
        /* R18: its followers now follow what it followed; before its gate is
         * freed (the caller's next step) */
        atomic_store_explicit(a, (m & ~bit) | up, memory_order_release);
        changed = true;
    }
    static const uint64_t none[4] = { 0 };
    rr__name_store(e, none);
    atomic_store_explicit(&e->after, 0, memory_order_relaxed);
    atomic_store_explicit(&e->flags, 0, memory_order_relaxed);
    if (changed || up)
        atomic_fetch_add_explicit(&ring->L->pipeline.changes, 1, memory_order_relaxed);
}

/* ---- dropping a parked durable reader --------------------------------------------------- */

rr_status rr_ring_reader_drop(rr_ring *ring, const char *name)
{
    if (!ring || !name)
        return rr__fail(RR_INVALID, "rr_ring_reader_drop needs a ring and a reader's name");
    size_t len = strnlen(name, RR_NAME_MAX + 1);
    if (len == 0)
        return rr__fail(RR_INVALID, "drop_reader needs a reader's name, not an empty one");
    rr_status st = rr_reader_name_check(name, len);
    if (st != RR_OK)
        return st;
    uint64_t w[4];
    rr__name_words(name, w);
    uint64_t me = rr__self_owner();
    /* every move of a parked entry (park, resume, drop) is made holding the
     * word, so none of them happens while we look */
    rr__pipe_lock(ring, RR_PIPE_TAKE);
    int j = rr__find_locked(ring, w, RR_MAX_READERS);
    if (j >= 0 && rr__gone_locked(ring, (uint32_t)j))   /* a dead durable one parks */
        j = -1;
    /* A6: a reader that finished opening (an opener's name is there before) */
    if (j >= 0 && atomic_load_explicit(&ring->readers[j].state, memory_order_acquire) !=
                      RR_ENTRY_ACTIVE)
        j = -1;
    if (j < 0) {
        rr__pipe_unlock(ring);
        return rr__fail(RR_INVALID, "the ring has no reader named '%s' to drop", name);
    }
    rr_reader_entry *e = &ring->readers[j];
    /* relaxed: flags change under the word we hold */
    if (!(atomic_load_explicit(&e->flags, memory_order_relaxed) & RR_ENTRY_F_DURABLE)) {
        rr__pipe_unlock(ring);
        return rr__fail(RR_INVALID, "reader '%s' is not durable: only a parked durable reader "
                        "can be dropped (a plain reader leaves when it is closed)", name);
    }
    uint64_t parked = RR_OWNER_PARKED;
    /* A22, pairs with R22 (reader.c rr__park_entry): the place is ours now */
    if (!atomic_compare_exchange_strong_explicit(&e->owner, &parked, me, memory_order_acq_rel,
                                                 memory_order_relaxed)) {
        rr__pipe_unlock(ring);
        return rr__fail(RR_IN_USE, "reader '%s' is held by a live handle (process %u); close "
                        "it first (a closed durable reader is parked, and can then be "
                        "dropped)", name, rr__owner_pid(parked));
    }
    /* Not durable from here: if we die before the end, the evictor of our
     * word frees it instead of parking it again. Then it leaves as a
     * closing reader does (the top): masks rewritten, its gate freed (seq_cst:
     * the store before the notify's load of the waiters, S3 then S1), its
     * state (R6) and owner word (R7). */
    atomic_fetch_and_explicit(&e->flags, ~(uint32_t)RR_ENTRY_F_DURABLE, memory_order_relaxed);
    rr__pipe_leave(ring, (uint32_t)j);
    atomic_store_explicit(&e->gate, RR_GATE_FREE, memory_order_seq_cst);
    atomic_store_explicit(&e->state, RR_ENTRY_FREE, memory_order_release);
    atomic_compare_exchange_strong_explicit(&e->owner, &me, 0, memory_order_acq_rel,
                                            memory_order_relaxed);
    rr__pipe_unlock(ring);
    rr__notify(ring, &ring->L->writable);   /* writers, and followers (their masks changed) */
    return RR_OK;
}

/* ---- following ------------------------------------------------------------------------------ */

uint64_t rr__follow_limit(const rr_ring *ring, const rr_reader_entry *e, uint64_t *mask_out)
{
    for (;;) {
        /* A18, pairs with R18: the gates below are those of the readers it names */
        uint64_t m = atomic_load_explicit(&e->after, memory_order_acquire);
        uint64_t lim = UINT64_MAX;
        for (uint64_t b = m; b; b &= b - 1) {
            /* A3, pairs with R3 in reader.c: the leader's reads and writes of
             * every event below its gate happen before ours */
            uint64_t g = atomic_load_explicit(&ring->readers[__builtin_ctzll(b)].gate,
                                              memory_order_acquire);
            if (g < lim)
                lim = g;
        }
        /* the same mask: no gate above came from after a leader left (see
         * the top); relaxed, as the acquire loads above order it */
        if (atomic_load_explicit(&e->after, memory_order_relaxed) == m) {
            *mask_out = m;
            return lim;
        }
    }
}

uint32_t rr__follow_evict_dead(const rr_ring *ring, uint64_t mask)
{
    uint64_t dead = 0;
    for (uint64_t b = mask; b; b &= b - 1) {
        uint32_t j = (uint32_t)__builtin_ctzll(b);
        uint64_t owner = atomic_load_explicit(&ring->readers[j].owner, memory_order_acquire);
        /* a parked leader is not dead: it gates its followers (reader.c) */
        if (owner != 0 && owner != RR_OWNER_PARKED && !rr__owner_alive(owner))
            dead |= UINT64_C(1) << j;
    }
    return dead ? rr__evict_dead_in(ring, dead, false, RR_PIPE_BRIEF) : 0;
}
