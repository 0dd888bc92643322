/*
 * block.c — events by the block: runs of consecutive events that lie
 * contiguously in memory, read and written as one unit.
 *
 * A block never wraps: event s lives in slot s % capacity, so consecutive
 * events are contiguous up to the ring's last slot and a block ends there
 * (the next starts at slot 0). That is what lets a binding show a block as
 * one strided array (rows of the slot stride) with no copy.
 *
 * Reading. rr_reader_next_block begins as rr_reader_next does (reader.c:
 * release what the last call handed out, wait for the first event, pass over
 * abandoned claims and, in overwrite rings, recover from a lap), then extends
 * the block with the events already there, without waiting, up to `max`:
 *   - backpressure: in place. Each further slot's stamp must say "event s,
 *     complete" (A1); the reader's gate keeps every one of them from writers
 *     until its next call moves on, as for rr_reader_next_batch.
 *   - overwrite: a seqlock over the whole run. Every stamp, length and type
 *     is loaded first (A1), then the payloads are copied in one go, then an
 *     acquire fence (A5, pairing with R5 of writer.c rr__mark_writing), then
 *     every stamp again; the block is the prefix whose stamps did not move.
 *     A slot the writer refilled meanwhile ends the block; the next call sees
 *     its newer stamp and counts what the lap cost in `lost` (reader.c).
 * The block also ends before a slot of an abandoned claim (several
 * producers), which the next call passes over and counts in `skipped`. So
 * delivered + lost + skipped = cursor - start still holds.
 *
 * Holding ranges. hold_range / release_range are rr_reader_hold / release for
 * a run of sequences, all or none: every sequence is checked before any count
 * changes.
 *
 * Writing. A claim of a block takes at most the slots left before the ring's
 * end from where the claim lands (writer.c rr__reserve, `contiguous`), so its
 * view is one strided array. rr_writer_add_rows copies rows into one claim
 * that may wrap, like rr_writer_add_batch, and checks every length first;
 * rows as far apart as the slots are copied in one go.
 * rr_writer_publish checks every length of a claim (a view writes them
 * directly), so nothing larger than a slot is ever published.
 */
#include <string.h>

#include "layout.h"

/* ---- reading ----------------------------------------------------------------- */

/* Backpressure: how many of the slots [idx, idx + n) hold events pos, pos + 1,
 * ... complete, from the start, stopping at the first that does not (not yet
 * published, or abandoned). */
static uint32_t rr__run_in_place(const rr_ring *ring, uint64_t pos, uint64_t idx, uint32_t n)
{
    uint32_t k = 0;
    while (k < n) {
        const rr_slot_meta *m = rr__meta(ring, idx + k);
        /* A1, pairs with R1 in writer.c: the payload is complete */
        if (atomic_load_explicit(&m->stamp, memory_order_acquire) != rr__stamp_done(pos + k))
            break;
        if (atomic_load_explicit(&m->len, memory_order_relaxed) > ring->slot_size)
            break;    /* abandoned: the next call passes over it */
        k++;
    }
    return k;
}

/* Overwrite: copy up to n events pos, pos + 1, ... from slots [idx, idx + n)
 * into the scratch rows [row, row + n), verified as reader.c's fetch does one
 * event; returns how many, from the start, are intact. */
static uint32_t rr__run_copied(rr_reader *r, uint64_t pos, uint64_t idx, size_t row, uint32_t n)
{
    const rr_ring *ring = r->ring;
    uint32_t *meta = rr__scratch_meta(r) + 2 * row;
    uint64_t stamps[64];
    uint32_t k = 0;
    if (n > 64)
        n = 64;       /* one pass verifies at most 64; the caller goes on */
    while (k < n) {
        const rr_slot_meta *m = rr__meta(ring, idx + k);
        /* A1 */
        uint64_t s = atomic_load_explicit(&m->stamp, memory_order_acquire);
        /* length and type are part of the racy copy (a writer refilling the
         * slot, or one writing them plainly through a claim view, may be
         * storing them); the stamps' re-check below vouches for them */
        uint32_t len;
        rr__overwrite_copy(&len, &m->len, sizeof len);
        if (s != rr__stamp_done(pos + k) || len > ring->slot_size)
            break;    /* not there yet, lapped (the next call counts it), or abandoned */
        stamps[k] = s;
        meta[2 * k] = len;
        rr__overwrite_copy(&meta[2 * k + 1], &m->type, sizeof meta[2 * k + 1]);
        k++;
    }
    if (k == 0)
        return 0;
    rr__overwrite_copy(r->scratch + row * ring->stride, rr__slot(ring, idx),
                       (size_t)(k - 1) * ring->stride + meta[2 * (k - 1)]);
    /* A5, pairs with R5 in writer.c rr__mark_writing: a copy that saw a new
     * byte of a slot re-reads that slot's newer stamp */
    atomic_thread_fence(memory_order_acquire);
    for (uint32_t i = 0; i < k; i++)
        if (atomic_load_explicit(&rr__meta(ring, idx + i)->stamp, memory_order_relaxed) !=
            stamps[i])
            return i;
    return k;
}

rr_status rr_reader_next_block(rr_reader *r, size_t max, rr_block *b, int64_t timeout_ns)
{
    if (!r || !b || max == 0)
        return rr__fail(RR_INVALID, "rr_reader_next_block needs a reader, a block and "
                                    "max >= 1");
    b->count = 0;
    rr_event first;
    rr_status st = rr__reader_begin(r, &first, timeout_ns);
    if (st != RR_OK) {
        if (st != RR_FORKED)   /* as rr_reader_next: passed-over slots moved it */
            atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
        return st;
    }
    rr_ring *ring = r->ring;
    uint64_t cap = ring->capacity;
    /* the first event is at r->pos - 1; the block may reach the ring's end */
    uint64_t idx0 = r->idx == 0 ? cap - 1 : r->idx - 1;
    uint64_t most = cap - idx0;
    if (ring->overwrite && most > r->scratch_events)
        most = r->scratch_events;
    if (most > max)
        most = max;
    /* a follower: no further than its leaders released (reader.c) */
    if (r->direct == RR_READ_FOLLOW && most > r->lim - r->pos + 1)
        most = r->lim - r->pos + 1;
    if (most > UINT32_MAX)
        most = UINT32_MAX;
    uint32_t n = 1;
    if (ring->overwrite) {
        uint32_t *meta = rr__scratch_meta(r);
        meta[0] = first.len;
        meta[1] = first.event_type;
        while (n < most) {
            uint32_t k = rr__run_copied(r, r->pos, r->idx, n, (uint32_t)(most - n));
            r->pos += k;
            r->idx += k;
            n += k;
            if (k < 64)
                break;
        }
        *b = (rr_block){ .data = r->scratch, .stride = ring->stride,
                         .lengths = meta, .types = meta + 1,
                         .meta_stride = RR_SCRATCH_META_BYTES };
    } else {
        if (n < most) {
            uint32_t k = rr__run_in_place(ring, r->pos, r->idx, (uint32_t)(most - 1));
            r->pos += k;
            r->idx += k;
            n += k;
        }
        const rr_slot_meta *m = rr__meta(ring, idx0);
        *b = (rr_block){ .data = first.data, .stride = ring->stride,
                         .lengths = (const uint32_t *)(const void *)&m->len,
                         .types = (const uint32_t *)(const void *)&m->type,
                         .meta_stride = rr__meta_stride(ring) };
    }
    if (r->idx == cap)
        r->idx = 0;
    r->delivered += n - 1;    /* the first was counted by rr__reader_begin */
    b->first_sequence = first.sequence;
    b->count = n;
    b->slot_size = ring->slot_size;
    atomic_store_explicit(&r->entry->position, r->pos, memory_order_relaxed);
    return RR_OK;
}

/* ---- holding ranges ------------------------------------------------------------ */

static rr_status rr__check_range(rr_reader *r, uint64_t first, uint64_t n, const char *what)
{
    if (!r)
        return rr__fail(RR_INVALID, "no reader given");
    rr_status st = rr__reader_check(r);
    if (st != RR_OK)
        return st;
    if (r->ring->overwrite)
        return rr__fail(RR_INVALID,
                        "cannot %s in an overwrite ring: its events are copies", what);
    if (n == 0 || first < r->gate || first >= r->pos || n > r->pos - first)
        return rr__fail(RR_INVALID, "cannot %s %llu events from %llu: the reader holds "
                        "[%llu, %llu)", what, (unsigned long long)n,
                        (unsigned long long)first, (unsigned long long)r->gate,
                        (unsigned long long)r->pos);
    return RR_OK;
}

rr_status rr_reader_hold_range(rr_reader *r, uint64_t first, uint64_t n)
{
    rr_status st = rr__check_range(r, first, n, "hold");
    if (st != RR_OK)
        return st;
    uint64_t cap = r->ring->capacity, idx = first % cap;
    for (uint64_t i = 0; i < n; i++) {
        if (r->holds[idx] == UINT32_MAX)
            return rr__fail(RR_INVALID, "event %llu is held too many times",
                            (unsigned long long)(first + i));
        if (++idx == cap)
            idx = 0;
    }
    idx = first % cap;
    for (uint64_t i = 0; i < n; i++) {
        r->holds[idx]++;
        if (++idx == cap)
            idx = 0;
    }
    r->nholds += n;
    return RR_OK;
}

rr_status rr_reader_release_range(rr_reader *r, uint64_t first, uint64_t n)
{
    rr_status st = rr__check_range(r, first, n, "release");
    if (st != RR_OK)
        return st;
    uint64_t cap = r->ring->capacity, idx = first % cap;
    for (uint64_t i = 0; i < n; i++) {
        if (r->holds[idx] == 0)
            return rr__fail(RR_INVALID, "event %llu is not held; nothing was released",
                            (unsigned long long)(first + i));
        if (++idx == cap)
            idx = 0;
    }
    idx = first % cap;
    for (uint64_t i = 0; i < n; i++) {
        r->holds[idx]--;
        if (++idx == cap)
            idx = 0;
    }
    r->nholds -= n;
    rr__reader_release_upto(r, r->cur_lo);   /* never past what the last call handed out */
    return RR_OK;
}

/* ---- writing ---------------------------------------------------------------------- */

rr_status rr_writer_claim_block_ex(rr_writer *w, uint32_t max, uint32_t event_type, rr_claim *c,
                                   int64_t timeout_ns, rr_wait *wait)
{
    return rr__writer_claim_run(w, max, true, event_type, c, timeout_ns, wait);
}

rr_status rr_writer_claim_block(rr_writer *w, uint32_t max, uint32_t event_type, rr_claim *c,
                                int64_t timeout_ns)
{
    return rr__writer_claim_run(w, max, true, event_type, c, timeout_ns, NULL);
}

rr_status rr_claim_view_get(const rr_claim *c, rr_claim_view *out)
{
    if (!c || !out || !c->_ring || c->count == 0 || !rr_claim_data(c, 0))
        return rr__fail(RR_INVALID, "rr_claim_view_get needs an open claim and a view");
    const rr_ring *ring = c->_ring;
    if (c->_idx + c->count > ring->capacity)
        return rr__fail(RR_INVALID, "the claim of %u events from slot %llu wraps around the "
                        "ring's end (capacity %llu): claim it with rr_writer_claim_block",
                        c->count, (unsigned long long)c->_idx,
                        (unsigned long long)ring->capacity);
    rr_slot_meta *m = rr__meta(ring, c->_idx);
    *out = (rr_claim_view){ .data = rr__slot(ring, c->_idx), .stride = ring->stride,
                            .lengths = (uint32_t *)(void *)&m->len,
                            .types = (uint32_t *)(void *)&m->type,
                            .meta_stride = rr__meta_stride(ring) };
    return RR_OK;
}

static rr_status rr__check_rows(const rr_writer *w, const void *data, size_t row_bytes, size_t n,
                                const uint32_t *lengths)
{
    if (!w)
        return rr__fail(RR_INVALID, "rr_writer_add_rows needs a writer");
    uint32_t most = rr_ring_max_claim(w->ring);
    if (n == 0 || n > most)
        return rr__fail(RR_INVALID, "a block of rows holds 1 to %u events on this ring, "
                        "not %zu", most, n);
    if (row_bytes > w->ring->slot_size)
        return rr__fail(RR_TOO_LARGE, "rows of %zu bytes are wider than the slot size of "
                        "%u bytes", row_bytes, w->ring->slot_size);
    if (!data && row_bytes)
        return rr__fail(RR_INVALID, "rr_writer_add_rows needs data for rows of %zu bytes",
                        row_bytes);
    for (size_t i = 0; lengths && i < n; i++)
        if (lengths[i] > row_bytes)
            return rr__fail(lengths[i] > w->ring->slot_size ? RR_TOO_LARGE : RR_INVALID,
                            "length %u of row %zu is more than the row's %zu bytes "
                            "(slot size %u)", lengths[i], i, row_bytes, w->ring->slot_size);
    return RR_OK;
}

rr_status rr_writer_add_rows_ex(rr_writer *w, const void *data, size_t row_stride,
                                size_t row_bytes, size_t n, const uint32_t *lengths,
                                const uint32_t *types, uint32_t event_type,
                                uint64_t *first_seq_out, int64_t timeout_ns, rr_wait *wait)
{
    rr_status st = rr__check_rows(w, data, row_bytes, n, lengths);
    if (st != RR_OK)
        return st;
    rr_claim c;
    st = rr__writer_reserve(w, (uint32_t)n, &c, timeout_ns, wait);
    if (st != RR_OK)
        return st;
    rr_ring *ring = w->ring;
    const unsigned char *src = data;
    uint64_t idx = c._idx;
    /* one pass over the metadata (relaxed: the stamps publish them, R1) */
    for (size_t i = 0; i < n; i++) {
        rr_slot_meta *m = rr__meta(ring, idx);
        atomic_store_explicit(&m->len, lengths ? lengths[i] : (uint32_t)row_bytes,
                              memory_order_relaxed);
        atomic_store_explicit(&m->type, types ? types[i] : event_type, memory_order_relaxed);
        if (++idx == ring->capacity)
            idx = 0;
    }
    if (row_stride == ring->stride && row_bytes && rr__payload_gaps_free(ring)) {
        /* rows as far apart as the slots: one copy per run of slots (two where
         * the claim wraps), each ending with its last row's bytes; not where
         * the gaps between payloads hold metadata (small slots, layout.h) */
        size_t first = (size_t)(ring->capacity - c._idx);
        size_t run = n < first ? n : first;
        memcpy(rr__slot(ring, c._idx), src, (run - 1) * row_stride + row_bytes);
        if (run < n)
            memcpy(rr__slot(ring, 0), src + run * row_stride, (n - run - 1) * row_stride + row_bytes);
    } else {
        idx = c._idx;
        for (size_t i = 0; i < n; i++) {
            uint32_t len = lengths ? lengths[i] : (uint32_t)row_bytes;
            if (len)
                memcpy(rr__slot(ring, idx), src + i * row_stride, len);
            if (++idx == ring->capacity)
                idx = 0;
        }
    }
    if (first_seq_out)
        *first_seq_out = c.sequence;
    return rr__writer_publish_sized(w, &c);
}

rr_status rr_writer_add_rows(rr_writer *w, const void *data, size_t row_stride, size_t row_bytes,
                             size_t n, const uint32_t *lengths, const uint32_t *types,
                             uint32_t event_type, uint64_t *first_seq_out, int64_t timeout_ns)
{
    return rr_writer_add_rows_ex(w, data, row_stride, row_bytes, n, lengths, types, event_type,
                                 first_seq_out, timeout_ns, NULL);
}
