/*
 * rusted_ring_inline.h — the single producer's add, claim and publish as
 * static inline functions, for C code that calls them in a tight loop.
 *
 * rr_writer_add, rr_writer_claim and rr_writer_publish are calls into the
 * library: each pays for the call, its checks and the registers it saves. The
 * functions here do the common case in the caller's own code and call the
 * library for every other case, so each takes the same arguments, returns the
 * same statuses and has the same effect as the call it stands for:
 *
 *   rr_writer_add_inline      as rr_writer_add
 *   rr_writer_claim_inline    as rr_writer_claim
 *   rr_claim_data_inline      as rr_claim_data
 *   rr_writer_publish_inline  as rr_writer_publish
 *
 * The common case: a single-producer writer, used in the process that opened
 * it, on an open ring; add and claim: no claim open and room for the events
 * (overwrite: always; backpressure: below the limit the writer last confirmed
 * from the readers' gates); publish: that writer's open claim. It allocates
 * nothing, takes no lock and makes no system call, unless a reader sleeps
 * waiting for events: then the one wake-up call the library makes too.
 * Writers of several producers always take the library's path. The library's
 * own rr_writer_add, rr_writer_claim and rr_writer_publish run this same code
 * first (writer.c), so there is one fast path.
 *
 * Everything here whose name starts with rr__ is the library's private state,
 * laid out in this header only so that the functions above can be inlined:
 * the first bytes of every writer handle (rr_writer_hot) and a slot's
 * metadata. Use the four functions, never the fields. The layout changes with
 * the library: code compiled with this header must be linked with the library
 * built from the same sources (the static library, or the extension it is
 * compiled into), never with a shared library of another version.
 *
 * Memory ordering: the labels (R1, R2, R5, S1) are those of csrc/layout.h,
 * where each release is matched with its acquire.
 *
 * C11 (stdatomic.h); not for C++.
 */
#ifndef RUSTED_RING_INLINE_H
#define RUSTED_RING_INLINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rusted_ring.h"

/* ---- the library's private state, laid out for the functions below ---------- */

/* A slot's metadata (csrc/layout.h pins its size and offsets). A slot's
 * stamp is 0 before its first event, 2s+1 while event s is being written
 * (overwrite mode), 2s+2 once event s is published or abandoned. */
typedef struct rr_slot_meta {
    _Atomic uint64_t stamp;
    _Atomic uint32_t len;     /* UINT32_MAX: an abandoned claim's slot */
    _Atomic uint32_t type;
} rr_slot_meta;

/* The first bytes of every rr_writer: a single producer's hot state, and
 * copies of the ring's geometry and of pointers into its block, so that the
 * fast paths read nothing else. */
typedef struct rr_writer_hot {
    uint64_t          next;        /* next sequence to claim */
    uint64_t          idx;         /* its slot: next % capacity */
    uint64_t          limit;       /* claims end at or below this; 0: never here
                                      (several producers, a claim open) */
    uint64_t          room;        /* `limit` while no claim is open: the limit confirmed
                                      from the gates (overwrite: UINT64_MAX; several
                                      producers: 0) */
    uint64_t          capacity;
    unsigned char    *payload;     /* slot 0's payload */
    unsigned char    *meta;        /* slot 0's metadata */
    const void       *ring;        /* the rr_ring, as a claim names it */
    _Atomic uint64_t *published;   /* the ring's count of events made visible */
    _Atomic uint32_t *closed;      /* the ring's closed flag */
    _Atomic uint32_t *waiters;     /* readers that may sleep waiting for events */
    uint32_t          stride;      /* bytes from one slot's payload to the next's */
    uint32_t          meta_stride; /* bytes from one slot's metadata to the next's */
    uint32_t          slot_size;
    uint32_t          max_claim;   /* min(capacity, RR_MAX_CLAIM) */
    uint32_t          pending;     /* events of the open claim; 0: none */
    uint32_t          overwrite;   /* overwrite mode: slots are marked while written */
    _Atomic uint32_t  fork_gen;    /* rr__fork_gen when the writer was opened */
} rr_writer_hot;

/* rr_claim._state of an open claim. */
#define RR__CLAIM_OPEN 0x436c6d31u   /* "Clm1" */

/* Forks this process descends from (bumped in each child): a handle used in
 * a process other than its own takes the library's path. */
extern _Atomic uint32_t rr__fork_gen;
/* True where waiters pay for the store-load fence of S1 (csrc/wait.c). */
extern _Atomic bool rr__asym_fences;
/* Wake the readers sleeping on the writer's ring (csrc/writer.c). */
void rr__writer_wake(const rr_writer *w);

static inline rr_writer_hot *rr__hot(rr_writer *w)
{
    return (rr_writer_hot *)(void *)w;
}

static inline uint64_t rr__stamp_done(uint64_t seq) { return 2 * seq + 2; }
static inline uint64_t rr__stamp_writing(uint64_t seq) { return 2 * seq + 1; }

static inline rr_slot_meta *rr__hot_meta(const rr_writer_hot *h, uint64_t idx)
{
    return (rr_slot_meta *)(void *)(h->meta + idx * h->meta_stride);
}

/* This process opened the writer (one relaxed load and a compare: the
 * counter changes only in a fork's child handler) and the ring is open. */
static inline bool rr__hot_usable(const rr_writer_hot *h)
{
    return atomic_load_explicit(&rr__fork_gen, memory_order_relaxed) ==
               atomic_load_explicit(&h->fork_gen, memory_order_relaxed) &&
           !atomic_load_explicit(h->closed, memory_order_relaxed);
}

/* Copy a payload into a slot. Payloads up to 64 bytes (the common event) are
 * copied with two overlapping fixed-size moves instead of a call to memcpy;
 * neither move reads outside [src, src + n). */
static inline void rr__copy_in(unsigned char *dst, const unsigned char *src, size_t n)
{
    if (n > 64) {
        memcpy(dst, src, n);
    } else if (n >= 32) {
        memcpy(dst, src, 32);
        memcpy(dst + n - 32, src + n - 32, 32);
    } else if (n >= 16) {
        memcpy(dst, src, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n > 0) {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/* Overwrite mode: mark n slots from idx "being written" before any byte of
 * them changes, so a reader copying an old event there sees the change. */
static inline void rr__hot_mark_writing(const rr_writer_hot *h, uint64_t seq, uint64_t idx,
                                        uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        atomic_store_explicit(&rr__hot_meta(h, idx)->stamp, rr__stamp_writing(seq + i),
                              memory_order_relaxed);
        if (++idx == h->capacity)
            idx = 0;
    }
    /* R5, pairs with A5 (the reader's seqlock): the odd stamps are seen
     * before any byte of the new events */
    atomic_thread_fence(memory_order_release);
}

/* After `published` moved: wake readers if any may sleep. S1's notifier
 * side: with asymmetric fences the waiter pays for the store-load ordering
 * (membarrier), so this is a compiler barrier and one load. */
static inline void rr__hot_notify(const rr_writer *w, const rr_writer_hot *h)
{
    if (atomic_load_explicit(&rr__asym_fences, memory_order_relaxed))
        atomic_signal_fence(memory_order_seq_cst);   /* keep the load after the store */
    else
        atomic_thread_fence(memory_order_seq_cst);   /* store-load fence */
    if (__builtin_expect(atomic_load_explicit(h->waiters, memory_order_relaxed) != 0, 0))
        rr__writer_wake(w);
}

/* ---- the fast paths: each does the whole call, or nothing and says false ----- */

/* Each copies what it needs from the handle into locals first: the compiler
 * keeps no field in a register across an atomic store. A claim of one event
 * (the Disruptor's next / publish) has a path of its own. */

#define RR__FAST static inline __attribute__((always_inline))

RR__FAST bool rr__add_fast(rr_writer *w, const void *data, size_t len, uint32_t event_type,
                                uint64_t *seq_out)
{
    rr_writer_hot *h = rr__hot(w);
    if (__builtin_expect(!(w && h->next < h->limit && len <= h->slot_size && (data || !len) &&
                           rr__hot_usable(h)), 0))
        return false;
    const uint64_t seq = h->next, idx = h->idx;
    rr_slot_meta *m = rr__hot_meta(h, idx);
    unsigned char *slot = h->payload + idx * h->stride;
    _Atomic uint64_t *published = h->published;
    h->next = seq + 1;
    h->idx = idx + 1 == h->capacity ? 0 : idx + 1;
    if (seq_out)
        *seq_out = seq;
    if (h->overwrite)
        rr__hot_mark_writing(h, seq, idx, 1);
    atomic_store_explicit(&m->len, (uint32_t)len, memory_order_relaxed);
    atomic_store_explicit(&m->type, event_type, memory_order_relaxed);
    rr__copy_in(slot, (const unsigned char *)data, len);
    /* R1: the slot's bytes, length and type before its stamp */
    atomic_store_explicit(&m->stamp, rr__stamp_done(seq), memory_order_release);
    /* R2: the stamp (and so the event) before `published` counts it */
    atomic_store_explicit(published, seq + 1, memory_order_release);
    rr__hot_notify(w, h);
    return true;
}

/* count - 1 < max_claim is 1 <= count <= max_claim; next + count <= limit
 * says there is room and no claim is open (limit is 0 then). */
RR__FAST bool rr__claim_fast(rr_writer *w, uint32_t count, uint32_t event_type, rr_claim *c)
{
    rr_writer_hot *h = rr__hot(w);
    if (__builtin_expect(!(w && c && count - 1u < h->max_claim && h->next + count <= h->limit &&
                           rr__hot_usable(h)), 0))
        return false;
    const uint64_t seq = h->next, first = h->idx, cap = h->capacity;
    const uint32_t slot_size = h->slot_size;
    const size_t meta_stride = h->meta_stride;
    unsigned char *meta = h->meta + first * meta_stride;
    const uint64_t contig = cap - first;
    h->pending = count;
    h->limit = 0;   /* a claim is open */
    c->sequence = seq;
    c->count = count;
    c->slot_size = slot_size;
    c->_ring = (void *)(uintptr_t)h->ring;
    c->_idx = first;
    c->_state = RR__CLAIM_OPEN;
    c->_rec = 0;
    c->_fork_gen = atomic_load_explicit(&h->fork_gen, memory_order_relaxed);
    c->_stride = h->stride;
    c->_data = h->payload + first * h->stride;
    c->_contig = contig < count ? (uint32_t)contig : count;
    if (h->overwrite)
        rr__hot_mark_writing(h, seq, first, count);
    if (count == 1) {
        rr_slot_meta *m = (rr_slot_meta *)(void *)meta;
        atomic_store_explicit(&m->len, slot_size, memory_order_relaxed);
        atomic_store_explicit(&m->type, event_type, memory_order_relaxed);
        return true;
    }
    for (uint32_t i = 0; i < count; i++) {
        rr_slot_meta *m = (rr_slot_meta *)(void *)meta;
        atomic_store_explicit(&m->len, slot_size, memory_order_relaxed);
        atomic_store_explicit(&m->type, event_type, memory_order_relaxed);
        meta = i + 1 == contig ? meta - (cap - 1) * meta_stride : meta + meta_stride;
    }
    return true;
}

RR__FAST bool rr__publish_fast(rr_writer *w, rr_claim *c)
{
    rr_writer_hot *h = rr__hot(w);
    /* the writer's open claim, as it made it, in the process that made it */
    if (__builtin_expect(!(w && c && h->pending && c->_state == RR__CLAIM_OPEN &&
                           c->sequence == h->next && c->count == h->pending &&
                           c->_ring == h->ring &&
                           atomic_load_explicit(&rr__fork_gen, memory_order_relaxed) ==
                               atomic_load_explicit(&h->fork_gen, memory_order_relaxed)), 0))
        return false;
    const uint32_t n = h->pending;
    const uint64_t seq = h->next, first = h->idx, cap = h->capacity;
    const size_t meta_stride = h->meta_stride;
    unsigned char *meta = h->meta + first * meta_stride;
    _Atomic uint64_t *published = h->published;
    const uint64_t contig = cap - first;
    /* Every length within the slot: a claim view (rr_claim_view_get) writes
     * them directly; for one that is not, the library's publish says which
     * and publishes nothing. This writer stored them: relaxed. */
    const uint32_t slot_size = h->slot_size;
    if (__builtin_expect(atomic_load_explicit(&((const rr_slot_meta *)(const void *)meta)->len,
                                              memory_order_relaxed) > slot_size, 0))
        return false;
    for (uint32_t i = 1; i < n; i++) {   /* the others, when there are */
        const rr_slot_meta *m = (const rr_slot_meta *)(const void *)(h->meta +
            (i < contig ? first + i : first + i - cap) * meta_stride);
        if (__builtin_expect(atomic_load_explicit(&m->len, memory_order_relaxed) > slot_size, 0))
            return false;
    }
    h->idx = n < contig ? first + n : first + n - cap;
    h->next = seq + n;
    h->pending = 0;
    h->limit = h->room;
    c->_state = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* R1: each slot's bytes, length and type before its stamp */
        atomic_store_explicit(&((rr_slot_meta *)(void *)meta)->stamp, rr__stamp_done(seq + i),
                              memory_order_release);
        if (n == 1)   /* the common claim: no step to take */
            break;
        meta = i + 1 == contig ? meta - (cap - 1) * meta_stride : meta + meta_stride;
    }
    /* R2: the stamps before `published` counts them */
    atomic_store_explicit(published, seq + n, memory_order_release);
    rr__hot_notify(w, h);
    return true;
}

/* ---- the inline calls ---------------------------------------------------------- */

static inline rr_status rr_writer_add_inline(rr_writer *w, const void *data, size_t len,
                                             uint32_t event_type, uint64_t *seq_out,
                                             int64_t timeout_ns)
{
    if (rr__add_fast(w, data, len, event_type, seq_out))
        return RR_OK;
    return rr_writer_add(w, data, len, event_type, seq_out, timeout_ns);
}

static inline rr_status rr_writer_claim_inline(rr_writer *w, uint32_t count, uint32_t event_type,
                                               rr_claim *c, int64_t timeout_ns)
{
    if (rr__claim_fast(w, count, event_type, c))
        return RR_OK;
    return rr_writer_claim(w, count, event_type, c, timeout_ns);
}

static inline void *rr_claim_data_inline(const rr_claim *c, uint32_t i)
{
    if (__builtin_expect(c && c->_state == RR__CLAIM_OPEN && i < c->_contig, 1))
        return c->_data + (size_t)i * c->_stride;
    return rr_claim_data(c, i);
}

static inline rr_status rr_writer_publish_inline(rr_writer *w, rr_claim *c)
{
    if (rr__publish_fast(w, c))
        return RR_OK;
    return rr_writer_publish(w, c);
}

#endif /* RUSTED_RING_INLINE_H */
