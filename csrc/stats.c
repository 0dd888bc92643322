/*
 * stats.c — a snapshot of a ring, taken while writers and readers run.
 *
 * Every figure is one atomic load; the snapshot is not a single instant (a
 * reader may move between two loads), but each number is one that was true.
 * Lag is measured from the head (published events; claimed ones with multiple
 * producers) to a reader's position. A backpressure reader also pins the
 * events between its gate and its position (read, not yet released), and a
 * writer needs those slots as much as unread ones: the ratio is (lag +
 * pinned) / capacity, clamped to 0..1, so a reader that keeps the whole ring
 * reads 1.0 while the writer finds it full.
 */
#include <string.h>

#include "layout.h"

static void rr__reader_figures(const rr_ring *ring, uint32_t i, uint64_t head,
                               rr_reader_stats *out)
{
    const rr_reader_entry *e = &ring->readers[i];
    /* The gate first: A3, pairs with R3 in reader.c. The position stored
     * before that gate is then visible, so pos >= gate unless the entry was
     * freed meanwhile (rr__pinned reads that as 0). */
    uint64_t gate = atomic_load_explicit(&e->gate, memory_order_acquire);
    uint64_t pos = atomic_load_explicit(&e->position, memory_order_relaxed);
    uint64_t lag = rr__lag(head, pos);
    uint64_t pinned = rr__pinned(ring, gate, pos);
    uint64_t owner = atomic_load_explicit(&e->owner, memory_order_relaxed);
    /* a parked durable reader (reader.c): no process holds it; pid 0 */
    bool parked = owner == RR_OWNER_PARKED;
    uint32_t flags = atomic_load_explicit(&e->flags, memory_order_relaxed);
    *out = (rr_reader_stats){
        .index = i,
        .pid = parked ? 0 : rr__owner_pid(owner),
        .alive = !parked && (ring->private_mem || rr__owner_alive(owner)),
        .cursor = pos,
        .lag = lag,
        .pinned = pinned,
        .lost = atomic_load_explicit(&e->lost, memory_order_relaxed),
        .skipped = atomic_load_explicit(&e->skipped, memory_order_relaxed),
        .backpressure = rr__ratio(ring, lag + pinned),
        /* A6 (the caller's): the strategy stored before the entry went ACTIVE */
        .wait = (rr_wait_strategy)atomic_load_explicit(&e->wait, memory_order_relaxed),
        /* A18: the readers it follows now (pipeline.c) */
        .after = atomic_load_explicit(&e->after, memory_order_acquire),
        .writable = (flags & RR_ENTRY_F_WRITABLE) != 0,
        .durable = (flags & RR_ENTRY_F_DURABLE) != 0,
        .parked = parked,
    };
    rr__entry_name(ring, i, out->name);   /* "" if the entry changed hands meanwhile */
}

/* Which processes write. In-process rings: this one, while a writer is open.
 * Shared: the single producer's recorded process, or every live process in
 * the multi-producer table (one that opened a writer stays listed until it
 * exits, even after closing it). */
static void rr__writer_figures(const rr_ring *ring, rr_ring_stats *out)
{
    const rr_layout *L = ring->L;
    if (!ring->multi) {
        uint64_t owner = atomic_load_explicit(&L->control.writer_owner, memory_order_relaxed);
        out->writer_pid = rr__owner_pid(owner);
        out->writer_processes = owner != 0 && (ring->private_mem || rr__owner_alive(owner));
    } else if (ring->private_mem) {
        out->writer_processes = out->writers > 0;
    } else if (out->writers > 0) {
        for (uint32_t i = 0; i < RR_MAX_WRITER_PROCS; i++) {
            uint64_t owner = atomic_load_explicit(&L->control.writer_procs[i],
                                                  memory_order_relaxed);
            if (owner != 0 && rr__owner_alive(owner))
                out->writer_processes++;
        }
    }
    out->writer_alive = out->writer_processes > 0;
    /* stored when a writer opens; pairs with nothing */
    out->writer_wait = (rr_wait_strategy)atomic_load_explicit(&L->control.writer_wait,
                                                               memory_order_relaxed);
}

rr_status rr_ring_stats_get(const rr_ring *ring, rr_ring_stats *out)
{
    if (!ring || !out)
        return rr__fail(RR_INVALID, "rr_ring_stats_get needs a ring and a place for the stats");
    const rr_layout *L = ring->L;
    memset(out, 0, sizeof *out);
    out->name = ring->shm_name ? ring->shm_name : "";
    out->capacity = ring->capacity;
    out->slot_size = ring->slot_size;
    out->mode = rr_ring_mode(ring);
    out->producers = rr_ring_producers(ring);
    out->memory_bytes = rr_ring_memory_bytes(ring);
    /* A2 */
    out->published = atomic_load_explicit(&L->published, memory_order_acquire);
    out->writer_stalls = atomic_load_explicit(&L->counters.stalls, memory_order_relaxed);
    out->abandoned = atomic_load_explicit(&L->counters.abandoned, memory_order_relaxed);
    out->claims_recovered = atomic_load_explicit(&L->counters.recovered, memory_order_relaxed);
    out->writers = atomic_load_explicit(&L->control.writers, memory_order_relaxed);
    out->closed = rr__closed(ring);
    out->shared = ring->shm_name != NULL;
    out->readers_evicted = atomic_load_explicit(&L->counters.evicted, memory_order_relaxed);
    /* counters and the instance (ring.c): relaxed */
    out->upstream_lost = atomic_load_explicit(&L->origin.upstream_lost, memory_order_relaxed);
    if (out->upstream_lost > (uint64_t)INT64_MAX)   /* a scribbler's: never negative in Lua */
        out->upstream_lost = (uint64_t)INT64_MAX;
    out->instance = atomic_load_explicit(&L->origin.instance, memory_order_relaxed);
    rr__writer_figures(ring, out);
    uint64_t head = rr__head(ring);
    for (uint32_t i = 0; i < RR_MAX_READERS; i++) {
        /* A6, pairs with R6 in reader.c: the figures below are this reader's */
        if (atomic_load_explicit(&ring->readers[i].state, memory_order_acquire) != RR_ENTRY_ACTIVE)
            continue;
        rr_reader_stats *rs = &out->readers[out->reader_count++];
        rr__reader_figures(ring, i, head, rs);
        if (rs->backpressure > out->max_backpressure)
            out->max_backpressure = rs->backpressure;
    }
    return RR_OK;
}
