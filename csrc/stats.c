/*
 * stats.c — a snapshot of a ring, taken while writers and readers run.
 *
 * Every figure is one atomic load; the snapshot is not a single instant (a
 * reader may move between two loads), but each number is one that was true.
 * Lag is measured from the head (published events; claimed ones with multiple
 * producers) to a reader's position, and the ratio is clamped to 0..1.
 */
#include <string.h>

#include "layout.h"

static void rr__reader_figures(const rr_ring *ring, uint32_t i, uint64_t head,
                               rr_reader_stats *out)
{
    const rr_reader_entry *e = &ring->readers[i];
    uint64_t pos = atomic_load_explicit(&e->position, memory_order_relaxed);
    uint64_t lag = rr__lag(head, pos);
    *out = (rr_reader_stats){
        .index = i,
        .pid = atomic_load_explicit(&e->pid, memory_order_relaxed),
        .cursor = pos,
        .lag = lag,
        .lost = atomic_load_explicit(&e->lost, memory_order_relaxed),
        .skipped = atomic_load_explicit(&e->skipped, memory_order_relaxed),
        .backpressure = rr__ratio(ring, lag),
    };
}

rr_status rr_ring_stats_get(const rr_ring *ring, rr_ring_stats *out)
{
    if (!ring || !out)
        return rr__fail(RR_INVALID, "rr_ring_stats_get needs a ring and a place for the stats");
    const rr_layout *L = ring->L;
    memset(out, 0, sizeof *out);
    out->capacity = ring->capacity;
    out->slot_size = ring->slot_size;
    out->mode = rr_ring_mode(ring);
    out->producers = rr_ring_producers(ring);
    out->memory_bytes = rr_ring_memory_bytes(ring);
    out->published = atomic_load_explicit(&L->published, memory_order_acquire);
    out->writer_stalls = atomic_load_explicit(&L->counters.stalls, memory_order_relaxed);
    out->abandoned = atomic_load_explicit(&L->counters.abandoned, memory_order_relaxed);
    out->writers = atomic_load_explicit(&L->control.writers, memory_order_relaxed);
    out->closed = rr__closed(ring);
    uint64_t head = rr__head(ring);
    for (uint32_t i = 0; i < RR_MAX_READERS; i++) {
        if (atomic_load_explicit(&ring->readers[i].state, memory_order_acquire) != RR_ENTRY_ACTIVE)
            continue;
        rr_reader_stats *rs = &out->readers[out->reader_count++];
        rr__reader_figures(ring, i, head, rs);
        if (rs->backpressure > out->max_backpressure)
            out->max_backpressure = rs->backpressure;
    }
    return RR_OK;
}
