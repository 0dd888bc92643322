/*
 * claims.c — multi-producer claims in shared rings, and taking back the
 * claims of producers whose process died.
 *
 * A multi-producer claim [s, s + n) is taken with a compare-and-swap of the
 * ring's `claim` cursor from s to s + n (writer.c), and each of its slots is
 * published by its own stamp. A process killed between the two used to stop
 * every reader at s for good. So in a ring shared between processes every
 * claim is covered by a claim record (layout.h): {owner, first, count,
 * sleeping}, one cache line each, RR_MAX_CLAIMS of them. Private rings
 * (rr_ring_create) have no records at all: a process cannot outlive itself,
 * so their claims cost what they always did.
 *
 * A producer (C: claimer):
 *   C1  takes a free record: compare-and-swap owner 0 -> its owner word
 *       (acq_rel). Each thread starts at its own record, so the line is
 *       normally already in its cache and nobody else's. When every record
 *       is held it sleeps on `writable`, which every give-up (C5, F5) wakes,
 *       looking every RR_SHM_LIVENESS_NS for records of dead producers.
 *   C2  before every attempt at the claim cursor, proposes the range it will
 *       try, storing count then first (release each). While it waits for
 *       room it withdraws the proposal (first = RR_SEQ_NONE, count = 0), so
 *       a live producer that waits covers nothing.
 *   C3  claims: compare-and-swap of `claim` from first to first + count
 *       (acq_rel). So every sequence a producer has claimed lies in its own
 *       record's proposal, stored before the claim.
 *   C4  publishes or abandons: stores every stamp (release, writer.c).
 *   C5  gives the record up: withdraws (release) and stores owner 0
 *       (release), after the stamps; then wakes `writable`, where producers
 *       may wait for a record.
 *   While it sleeps on `writable`, for room or for a record, its owner word
 *   sits in a record's `sleeping` word, so whoever finds it dead takes back
 *   its count in writable.waiters (rr__forget_dead_sleeper, proc.c). The
 *   sleeper words are a pool, not the records': a sleeper takes any free one
 *   (compare-and-swap 0 -> its owner word), its own record's first, since a
 *   producer waiting for a record has none; a finder takes back the count of
 *   any dead sleeper it finds in one, whoever holds the record. (Should more
 *   producers sleep than there are records, the others sleep uncounted,
 *   looking every interval: wait.c.)
 *
 * A finder (F): a reader waiting at a sequence below `claim`, a producer
 * waiting for room or for a record — each at most once per
 * RR_SHM_LIVENESS_NS for the whole ring (`recovery.at`), since a look reads
 * /proc. It runs one recovery:
 *   F0  takes the recovery word: compare-and-swap 0 -> its owner word, or a
 *       dead finder's word -> its own (acq_rel; L2 below releases it). One
 *       finder at a time: nothing else may write an abandoned slot. So a
 *       finder stopped in the middle (SIGSTOP, a debugger, a cgroup
 *       freezer) holds every process's recovery up for as long as it is
 *       stopped. That is inherent: a stopped process is alive, it may go on
 *       with the slot it was abandoning, and so nobody may take its word
 *       over. A recovery takes microseconds and never waits, so nothing but
 *       a stop holds it up; and it runs with thread cancellation off
 *       (layout.h), since a thread cancelled in the middle would hold it up
 *       until its process exits.
 *   F1  loads `claim` (acquire): A.
 *   F2  reads every record (owner, first, count; acquire each), then asks
 *       which owners are alive.
 *   F3  loads `claim` again (acquire): B.
 *   F4  for each record of a dead process, reads it again (a dead process's
 *       record no longer changes) and, for each sequence s of its range with
 *       s < A that no record of a live process covers in F2's reading, loads
 *       s's stamp (acquire); below "done" the sequence is abandoned (only in
 *       the last lap below A: any older s is done already, since s + capacity
 *       was claimed, so a stamp saying otherwise is damage): as a
 *       writer would (overwrite: odd stamp, release fence), length
 *       RR_LEN_ABANDONED, then the done stamp (release; readers skip it and
 *       count it in `skipped`). It counts in `abandoned` and `recovered`.
 *   F5  frees the dead record once it holds nothing unfinished: after taking
 *       back the count of a dead sleeper in its sleeper word (a live one
 *       stays), withdraws it (release) and swaps its owner for 0 (acq_rel).
 *       It holds nothing when its range is empty, when first >= B, or when
 *       first < B < first + count: a claim that had
 *       succeeded would have moved `claim` to first + count, and a dead
 *       process's last claim is visible by the time /proc says it is dead
 *       (the kernel's exit path orders its stores, as for reader eviction).
 *       Otherwise it is freed once every stamp of its range is done. (A
 *       reader evictor first swaps in its own word; here F0 already makes the
 *       finder the only one, and a record left half reset by a finder that
 *       died still names the dead producer.)
 *   L2  gives the recovery word back (compare-and-swap to 0, release), then
 *       wakes readers if anything was abandoned, and writers if anything was
 *       abandoned or freed.
 *
 * Why a live claim is never abandoned. Let F abandon s, and let C be the
 * producer whose C3 took s. F1 read a value above s; `claim` only grows and
 * only by compare-and-swap, and every value above s was written by C's C3 or
 * by a later one, so F1 synchronizes with C3 (pair C3/F1) and F2 reads C's
 * record at least as new as C's last C2. Every newer value in that record
 * was stored by a release (C1, C2, C5, F5) that comes after s's done stamp
 * in happens-before order: by C after its C4 (C5, then its next C1 and C2);
 * by a later owner, whose C1 read C's C5 or a later free (C1 is acq_rel); or
 * by a finder's F5, which frees C's record only once s is done (C's claim
 * moved `claim` past s before C died, so the record does not "hold
 * nothing"). So had F2 read a newer value, F's later stamp load in F4 would
 * see s done (stamps only grow), and F would not abandon s. F4 found s not
 * done, so F2 read C's record exactly: owner C, covering s. F abandons only
 * sequences no live record covers, so C was dead when F asked — and a dead
 * process never publishes. Hence: (a) a live producer's claim is never
 * abandoned, whatever stale proposals or garbage other records hold; (b) F's
 * writes to s's slot race with nobody: not with C (dead), not with another
 * finder (F0), not with the producer of s + capacity (it needs s's done
 * stamp first, rr__slots_free).
 *
 * Why a dead claim is always abandoned. Once C is dead, its record covers its
 * claim until a finder frees it (F5 never frees a record that holds unfinished
 * sequences), and the first recovery whose A is past the claim abandons
 * every sequence of it that no live record covers. A live record covers a sequence
 * it does not hold only while its producer is between C2 and its claim
 * attempt (a moment) — or stopped there by a signal: then recovery waits for
 * it. A finder killed in the middle leaves the recovery word naming a dead
 * process, and the next finder takes it over (F0) and redoes what is left;
 * one killed between a done stamp and its count loses that count. A producer
 * killed while it stamps a claim leaves the events it stamped to readers
 * (the rest are abandoned) but never counted them in `published`.
 *
 * Ordering, by the labels of layout.h's table: every store to a record (C1,
 * C2, C5, F5) is R15, and a finder's loads (F2, F4's re-read) and a taker's
 * CAS (C1) are A15: a newer record value carries the stamps stored before
 * it, and a taker sees the record's reset. C3 is R4 and F1, F3 are A4. C4's
 * and F4's done stamps are R1, paired with readers' and producers' A1 loads
 * and with F4's own stamp load (A1); F4's odd stamp and fence are R5, as in
 * rr__mark_writing. F0 and L2 are R16/A16: the next finder sees every stamp
 * the last one stored. A sleeper's take of a sleeper word is R10, paired
 * with a finder's A10 (proc.c). No store here is followed by a load of
 * another location that it must precede, so nothing needs seq_cst; the
 * sleeper count's store-load ordering is wait.c's (S1).
 */
#include <time.h>

#include "layout.h"

/* ---- a producer's record ------------------------------------------------------ */

/* The record a thread tried first last time, and for which process. */
static _Thread_local uint64_t rr__hint_owner;
static _Thread_local uint32_t rr__hint;
static _Atomic uint32_t rr__threads;   /* spreads this process's threads over the table */

static uint32_t rr__first_try(uint64_t me)
{
    if (rr__hint_owner != me) {   /* this thread's first claim, or a forked child */
        uint32_t t = atomic_fetch_add_explicit(&rr__threads, 1, memory_order_relaxed);
        rr__hint = (uint32_t)((me * UINT64_C(0x9E3779B97F4A7C15)) >> 40) + t * 7u;
        rr__hint %= RR_MAX_CLAIMS;
        rr__hint_owner = me;
    }
    return rr__hint;
}

struct rr_record_wait {
    const rr_ring *ring;
    uint64_t       me;      /* the claimer's owner word */
    uint32_t       start;   /* the record it tries first */
    uint32_t       index;   /* the record it took */
};

/* C1 over every record, from the thread's own. */
static bool rr__record_try(struct rr_record_wait *rw)
{
    uint32_t i = rw->start;
    for (uint32_t k = 0; k < RR_MAX_CLAIMS; k++) {
        rr_claim_record *rec = &rw->ring->claims[i];
        uint64_t free_word = 0;
        /* C1, R15/A15: the taker sees the writes of whoever freed it (C5, F5) */
        if (atomic_load_explicit(&rec->owner, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&rec->owner, &free_word, rw->me,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            rr__hint = i;
            rw->index = i;
            return true;
        }
        if (++i == RR_MAX_CLAIMS)
            i = 0;
    }
    return false;
}

static rr_status rr__record_ready(void *ctx)
{
    struct rr_record_wait *rw = ctx;
    if (rr__record_try(rw))
        return RR_OK;
    if (rr__closed(rw->ring))
        return RR_CLOSED;
    /* records of dead processes may have come free */
    return rr__claims_recover_due(rw->ring) && rr__record_try(rw) ? RR_OK : RR_EMPTY;
}

rr_status rr__claim_record_take(rr_ring *ring, const rr_writer *w, int64_t deadline,
                                uint32_t *index)
{
    /* the handle's process: a child that inherited the handle through fork()
     * got RR_FORKED before it could claim (rr__check_process) */
    struct rr_record_wait rw = { ring, w->owner, rr__first_try(w->owner), 0 };
    /* Every record held: sleep on writable, where every give-up wakes us
     * (C5, F5), and look every interval for records of dead producers,
     * which nobody else would free for us. */
    bool poll = true;
    rr_status st = rr__record_try(&rw) ? RR_OK
                 : rr__wait(ring, &ring->L->writable, rr__record_ready, &rw, deadline,
                            &ring->claims[rw.start].sleeping, &poll, w->wait);
    if (st == RR_OK) {
        *index = rw.index;
        return RR_OK;
    }
    if (st == RR_CLOSED)
        return rr__fail(RR_CLOSED, "the ring was closed while the writer waited for a claim record");
    if (st == RR_EMPTY)
        return rr__fail(RR_FULL, "all %d claim records of the shared ring are held by "
                        "open claims", RR_MAX_CLAIMS);
    return rr__fail(RR_TIMEOUT, "all %d claim records of the shared ring stayed held "
                    "by open claims until the timeout", RR_MAX_CLAIMS);
}

/* A producer about to sleep on writable, for room or for a record (wait.c),
 * names itself in a free sleeper word of any record, `mine` first: CAS 0 ->
 * its owner word (R10, pairs with A10 in proc.c). NULL when none is free. */
_Atomic uint64_t *rr__claims_sleeper_take(const rr_ring *ring, _Atomic uint64_t *mine,
                                          uint64_t me)
{
    for (uint32_t i = 0; i <= RR_MAX_CLAIMS; i++) {
        _Atomic uint64_t *word = i == 0 ? mine : &ring->claims[i - 1].sleeping;
        uint64_t none = 0;
        if (atomic_load_explicit(word, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(word, &none, me, memory_order_release,
                                                    memory_order_relaxed))
            return word;
    }
    return NULL;
}

void rr__claim_record_propose(rr_claim_record *rec, uint64_t first, uint32_t count)
{
    /* C2, R15: releases, so a finder that reads them also sees the stamps of
     * the record's previous claims (see the opening comment) */
    atomic_store_explicit(&rec->count, count, memory_order_release);
    atomic_store_explicit(&rec->first, first, memory_order_release);
}

void rr__claim_record_withdraw(rr_claim_record *rec)
{
    /* R15 */
    atomic_store_explicit(&rec->first, RR_SEQ_NONE, memory_order_release);
    atomic_store_explicit(&rec->count, 0, memory_order_release);
}

void rr__claim_record_give(rr_claim_record *rec)
{
    /* C5, R15: after the stamps (C4); pairs with F2 and with the next C1 (A15) */
    rr__claim_record_withdraw(rec);
    atomic_store_explicit(&rec->owner, 0, memory_order_release);
}

/* ---- recovering dead producers' claims ------------------------------------------ */

typedef struct rr_seen_record {
    uint64_t owner, first, count;
    bool     alive;
} rr_seen_record;

/* A record's count as a range length: a real claim is never longer than
 * this, and a damaged record must not make a finder walk for ever. */
static uint64_t rr__count_bound(const rr_ring *ring, uint64_t count)
{
    uint64_t most = ring->capacity < RR_MAX_CLAIM ? ring->capacity : RR_MAX_CLAIM;
    return count > most ? most : count;
}

static bool rr__covers(uint64_t first, uint64_t count, uint64_t s)
{
    return count != 0 && first <= s && s - first < count;
}

static bool rr__live_covers(const rr_seen_record *seen, uint64_t s)
{
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
        if (seen[i].alive && rr__covers(seen[i].first, seen[i].count, s))
            return true;
    return false;
}

/* F2 (A15): every record, then whether each owner runs (a /proc read per process). */
static void rr__read_records(const rr_ring *ring, rr_seen_record *seen)
{
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++) {
        const rr_claim_record *rec = &ring->claims[i];
        seen[i].owner = atomic_load_explicit(&rec->owner, memory_order_acquire);
        seen[i].first = atomic_load_explicit(&rec->first, memory_order_acquire);
        seen[i].count = rr__count_bound(ring, atomic_load_explicit(&rec->count,
                                                                   memory_order_acquire));
    }
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++) {
        seen[i].alive = false;
        if (seen[i].owner == 0)
            continue;
        uint32_t j = 0;
        while (j < i && seen[j].owner != seen[i].owner)
            j++;
        seen[i].alive = j < i ? seen[j].alive : rr__owner_alive(seen[i].owner);
    }
}

/* F4 for one sequence of a dead producer's claim. */
static void rr__abandon_dead(const rr_ring *ring, uint64_t s)
{
    rr_layout *L = ring->L;
    rr_slot_meta *m = rr__meta(ring, s % ring->capacity);
    if (ring->overwrite) {
        /* R5, as rr__mark_writing: a reader copying the slot's previous
         * event sees the stamp change before it can see the new length */
        atomic_store_explicit(&m->stamp, rr__stamp_writing(s), memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
    }
    atomic_store_explicit(&m->len, RR_LEN_ABANDONED, memory_order_relaxed);
    /* R1: pairs with the A1 loads of readers (rr__fetch_*) and of producers
     * waiting for the slot (rr__slots_free) */
    atomic_store_explicit(&m->stamp, rr__stamp_done(s), memory_order_release);
    atomic_fetch_add_explicit(&L->counters.abandoned, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&L->counters.recovered, 1, memory_order_relaxed);
}

/* F4 and F5 for the record of a dead process: adds the sequences abandoned
 * to *abandoned; true when the record was freed. */
static bool rr__recover_record(const rr_ring *ring, rr_claim_record *rec, uint64_t dead,
                               const rr_seen_record *seen, uint64_t a, uint64_t b,
                               uint64_t *abandoned)
{
    /* A15: a dead process's record no longer changes */
    if (atomic_load_explicit(&rec->owner, memory_order_acquire) != dead)
        return false;   /* damaged meanwhile: leave it to the next look */
    rr__forget_dead_sleeper(&ring->L->writable, &rec->sleeping);
    uint64_t first = atomic_load_explicit(&rec->first, memory_order_acquire);
    uint64_t count = rr__count_bound(ring, atomic_load_explicit(&rec->count,
                                                                memory_order_acquire));
    bool unfinished = false;
    if (count != 0 && first < b && b - first >= count) {   /* it may hold [first, first + count) */
        for (uint64_t s = first; s - first < count; s++) {
            if (s >= a || rr__live_covers(seen, s)) {
                unfinished = true;   /* undecided this time */
                continue;
            }
            /* s + capacity < A was claimed, so s is done already (rr__slots_free);
             * a stamp saying otherwise is damage: leave it */
            if (a - s > ring->capacity)
                continue;
            /* A1, after F2: see the opening comment */
            uint64_t stamp = atomic_load_explicit(&rr__meta(ring, s % ring->capacity)->stamp,
                                                  memory_order_acquire);
            if (stamp >= rr__stamp_done(s))
                continue;            /* published, abandoned, or already recovered */
            rr__abandon_dead(ring, s);
            (*abandoned)++;
        }
    }
    if (unfinished)
        return false;
    rr__claim_record_withdraw(rec);   /* F5, R15 */
    uint64_t expect = dead;
    return atomic_compare_exchange_strong_explicit(&rec->owner, &expect, 0,
                                                   memory_order_acq_rel, memory_order_relaxed);
}

/* F0: one finder at a time; a dead finder's word is taken over. */
static bool rr__recovery_take(rr_layout *L, uint64_t me)
{
    uint64_t cur = 0;
    /* R16/A16: the last finder's stamps are seen */
    if (atomic_compare_exchange_strong_explicit(&L->recovery.owner, &cur, me,
                                                memory_order_acq_rel, memory_order_acquire))
        return true;
    return cur != me && !rr__owner_alive(cur) &&
           atomic_compare_exchange_strong_explicit(&L->recovery.owner, &cur, me,
                                                   memory_order_acq_rel, memory_order_relaxed);
}

/* F0 to L2, once; true when it abandoned sequences or freed records. */
static bool rr__claims_recover_once(const rr_ring *ring)
{
    rr_layout *L = ring->L;
    uint64_t me = rr__self_owner();
    if (!rr__recovery_take(L, me))
        return false;   /* another finder is at it */
    rr_seen_record seen[RR_MAX_CLAIMS];
    uint64_t a = atomic_load_explicit(&L->claim, memory_order_acquire);   /* F1, A4 */
    rr__read_records(ring, seen);                                         /* F2, A15 */
    uint64_t b = atomic_load_explicit(&L->claim, memory_order_acquire);   /* F3, A4 */
    uint64_t abandoned = 0;
    uint32_t freed = 0;
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)
        if (seen[i].owner != 0 && !seen[i].alive &&
            rr__recover_record(ring, &ring->claims[i], seen[i].owner, seen, a, b, &abandoned))
            freed++;
    /* L2, R16: pairs with the next finder's F0 */
    atomic_compare_exchange_strong_explicit(&L->recovery.owner, &me, 0, memory_order_release,
                                            memory_order_relaxed);
    if (abandoned)
        rr__notify(ring, &L->readable);
    if (abandoned || freed)   /* slots, or records, came free */
        rr__notify(ring, &L->writable);
    return abandoned > 0 || freed > 0;
}

/* One recovery; true when it abandoned sequences or freed records. A
 * thread cancelled in the middle would leave the recovery word to its live
 * process, and no recovery could run until that process exits: the whole
 * recovery runs with cancellation off (layout.h). */
static bool rr__claims_recover(const rr_ring *ring)
{
    int cancel = rr__cancel_off();
    bool changed = rr__claims_recover_once(ring);
    rr__cancel_restore(cancel);
    return changed;
}

/* A clock for the period alone: a reader that waits behind a claim asks at
 * every poll, and the coarse clock (a few ms resolution) costs a few ns. */
static uint64_t rr__coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool rr__claims_recover_due(const rr_ring *ring)
{
    if (!ring->claims)
        return false;
    rr_layout *L = ring->L;
    uint64_t now = rr__coarse_now_ns();
    int64_t seen = atomic_load_explicit(&L->recovery.at, memory_order_relaxed);
    /* unsigned: a damaged time in the future does not stop recovery */
    if (now - (uint64_t)seen < RR_SHM_LIVENESS_NS ||
        !atomic_compare_exchange_strong_explicit(&L->recovery.at, &seen, (int64_t)now,
                                                 memory_order_relaxed, memory_order_relaxed))
        return false;
    return rr__claims_recover(ring);
}

/* The sleeper reaper (proc.c), at most every RR_SHM_LIVENESS_NS: producers
 * killed while asleep waiting for room. Their records are freed too (a
 * recovery), or nothing might ever look at them again: such a producer held
 * no claim, so nobody waits for it. */
void rr__claims_reap_sleepers(const rr_ring *ring)
{
    if (!ring->claims)
        return;
    bool sleepers = false;
    for (uint32_t i = 0; i < RR_MAX_CLAIMS && !sleepers; i++)
        sleepers = atomic_load_explicit(&ring->claims[i].sleeping, memory_order_relaxed) != 0;
    if (!sleepers)
        return;
    rr__claims_recover(ring);
    for (uint32_t i = 0; i < RR_MAX_CLAIMS; i++)   /* if another finder was at it */
        if (atomic_load_explicit(&ring->claims[i].sleeping, memory_order_relaxed) != 0)
            rr__forget_dead_sleeper(&ring->L->writable, &ring->claims[i].sleeping);
}
