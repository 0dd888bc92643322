/*
 * ring.c — laying out a ring block, attaching handles to it, closing it.
 *
 * The block's geometry is written once by rr_ring_format and checked in full
 * by rr_ring_attach before any other byte of the block is trusted: magic,
 * layout version, sizes, offsets recomputed from capacity and slot size, the
 * total against the length the caller has, and a checksum of the geometry.
 *
 * The origin line (layout.h): the ring's instance, a random id in 1 ..
 * 2^63-1 (so that Python and Lua integers show the same number), is stored
 * at format before the magic, whose release store publishes it with the
 * geometry; a process that attaches loads the magic (acquire) first, so it
 * reads it relaxed. It never changes. upstream_lost (rr_writer_note_lost) is
 * a counter: relaxed, ordered with nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"

static size_t rr__round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* Offsets of each region and the total, or 0 when the sizes do not fit. */
size_t rr__footprint(uint64_t capacity, size_t slot_size, bool multi, size_t *readers_off,
                     size_t *meta_off, size_t *payload_off)
{
    if (capacity == 0 || capacity > RR_MAX_CAPACITY || slot_size == 0 ||
        slot_size > RR_MAX_SLOT_SIZE)
        return 0;
    size_t stride = rr__slot_stride(slot_size);
    size_t readers = rr__round_up(sizeof(rr_layout), RR_CACHE_LINE);
    size_t meta = rr__claims_off(readers) + (multi ? RR_MAX_CLAIMS * sizeof(rr_claim_record) : 0);
    size_t meta_bytes, payload_bytes, total;
    size_t meta_each = rr__meta_beside(slot_size) ? 0 : sizeof(rr_slot_meta);   /* in the slot */
    if (__builtin_mul_overflow((size_t)capacity, meta_each, &meta_bytes) ||
        __builtin_mul_overflow((size_t)capacity, stride, &payload_bytes))
        return 0;
    size_t payload = meta + rr__round_up(meta_bytes, RR_CACHE_LINE);
    /* whole cache lines (small slots' strides are 32 bytes): aligned_alloc's rule too */
    if (payload_bytes > SIZE_MAX - RR_CACHE_LINE ||
        __builtin_add_overflow(payload, rr__round_up(payload_bytes, RR_CACHE_LINE), &total))
        return 0;
    if (readers_off) *readers_off = readers;
    if (meta_off) *meta_off = meta;
    if (payload_off) *payload_off = payload;
    return total;
}

static bool rr__config_valid(const rr_config *cfg)
{
    return cfg && (cfg->mode == RR_MODE_BACKPRESSURE || cfg->mode == RR_MODE_OVERWRITE) &&
           (cfg->producers == RR_PRODUCERS_SINGLE || cfg->producers == RR_PRODUCERS_MULTI) &&
           rr__footprint(cfg->capacity, cfg->slot_size, cfg->producers == RR_PRODUCERS_MULTI,
                         NULL, NULL, NULL) != 0;
}

size_t rr_ring_footprint(const rr_config *cfg)
{
    return rr__config_valid(cfg)
        ? rr__footprint(cfg->capacity, cfg->slot_size, cfg->producers == RR_PRODUCERS_MULTI,
                        NULL, NULL, NULL)
        : 0;
}

static rr_status rr__config_error(const rr_config *cfg)
{
    if (!cfg)
        return rr__fail(RR_INVALID, "no configuration given");
    if (cfg->capacity == 0)
        return rr__fail(RR_INVALID, "capacity must be at least 1");
    if (cfg->capacity > RR_MAX_CAPACITY)
        return rr__fail(RR_INVALID, "capacity %llu exceeds the maximum of %llu",
                        (unsigned long long)cfg->capacity, (unsigned long long)RR_MAX_CAPACITY);
    if (cfg->slot_size == 0)
        return rr__fail(RR_INVALID, "slot size must be at least 1 byte");
    if (cfg->slot_size > RR_MAX_SLOT_SIZE)
        return rr__fail(RR_INVALID, "slot size %zu exceeds the maximum of %u bytes",
                        cfg->slot_size, (unsigned)RR_MAX_SLOT_SIZE);
    if (cfg->mode != RR_MODE_BACKPRESSURE && cfg->mode != RR_MODE_OVERWRITE)
        return rr__fail(RR_INVALID, "unknown mode %d", (int)cfg->mode);
    if (cfg->producers != RR_PRODUCERS_SINGLE && cfg->producers != RR_PRODUCERS_MULTI)
        return rr__fail(RR_INVALID, "unknown producers value %d", (int)cfg->producers);
    return rr__fail(RR_INVALID, "capacity %llu x slot size %zu does not fit in memory",
                    (unsigned long long)cfg->capacity, cfg->slot_size);
}

static uint64_t rr__geometry_checksum(const rr_geometry *g)
{
    const unsigned char *p = (const unsigned char *)g;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < offsetof(rr_geometry, checksum); i++) {
        h ^= p[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* Fill a process-local handle from a trusted copy of the block's geometry.
 * The handle never reads the geometry from the block again, so a process
 * scribbling over a shared header later cannot move the handle's pointers. */
static rr_status rr__handle(unsigned char *base, const rr_geometry *g, bool owns,
                            bool private_mem, rr_ring **out)
{
    rr_ring *ring = calloc(1, sizeof *ring);
    if (!ring)
        return rr__fail(RR_NO_MEMORY, "cannot allocate a ring handle");
    ring->L = (rr_layout *)base;
    ring->base = base;
    ring->readers = (rr_reader_entry *)(base + g->readers_off);
    if (rr__meta_beside(g->slot_size)) {   /* [metadata | payload] in each slot */
        ring->meta = base + g->payload_off;
        ring->payload = base + g->payload_off + sizeof(rr_slot_meta);
        ring->meta_stride = g->slot_stride;
    } else {
        ring->meta = base + g->meta_off;
        ring->payload = base + g->payload_off;
        ring->meta_stride = sizeof(rr_slot_meta);
    }
    ring->capacity = g->capacity;
    ring->slot_size = g->slot_size;
    ring->stride = g->slot_stride;
    ring->memory_bytes = g->total_bytes;
    ring->overwrite = g->mode == RR_MODE_OVERWRITE;
    ring->multi = g->producers == RR_PRODUCERS_MULTI;
    ring->owns_block = owns;
    ring->private_mem = private_mem;
    /* a process cannot outlive itself: only a shared ring tracks claims */
    if (ring->multi && !private_mem)
        ring->claims = (rr_claim_record *)(base + rr__claims_off(g->readers_off));
    rr__mod_init(ring);
    atomic_init(&ring->wproc_index, -1);
    atomic_init(&ring->poll_tx, -1);
    rr__wait_init();
    *out = ring;
    return RR_OK;
}

/* splitmix64's finalizer: the fallback's mixing */
static uint64_t rr__mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* A new ring's instance: 63 random bits, never 0. getrandom() without
 * blocking; where it fails (an old kernel, a seccomp filter, entropy not yet
 * there at boot), the clock, the process id and an address, mixed. */
static uint64_t rr__new_instance(const void *mem)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        static _Atomic uint64_t made;   /* two rings made in one tick differ */
        v = rr__mix64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
            rr__mix64((uint64_t)getpid() << 20 ^ (uint64_t)(uintptr_t)mem ^
                      atomic_fetch_add_explicit(&made, 1, memory_order_relaxed));
    }
    v &= INT64_MAX;
    return v ? v : 1;
}

static void rr__write_geometry(unsigned char *mem, const rr_config *cfg, rr_geometry *out)
{
    size_t readers_off, meta_off, payload_off;
    size_t total = rr__footprint(cfg->capacity, cfg->slot_size,
                                 cfg->producers == RR_PRODUCERS_MULTI, &readers_off, &meta_off,
                                 &payload_off);
    rr_layout *L = (rr_layout *)mem;
    rr_geometry g = {
        .magic = RR_MAGIC,
        .version = RR_LAYOUT_VERSION,
        .header_bytes = (uint32_t)sizeof(rr_layout),
        .total_bytes = total,
        .capacity = cfg->capacity,
        .slot_size = (uint32_t)cfg->slot_size,
        .slot_stride = (uint32_t)rr__slot_stride(cfg->slot_size),
        .mode = (uint32_t)cfg->mode,
        .producers = (uint32_t)cfg->producers,
        .max_readers = RR_MAX_READERS,
        .readers_off = readers_off,
        .meta_off = meta_off,
        .payload_off = payload_off,
    };
    g.checksum = rr__geometry_checksum(&g);
    rr_reader_entry *entries = (rr_reader_entry *)(mem + readers_off);
    for (size_t i = 0; i < RR_MAX_READERS; i++)
        atomic_init(&entries[i].gate, RR_GATE_FREE);
    /* published with the geometry by the magic's release below */
    atomic_store_explicit(&L->origin.instance, rr__new_instance(mem), memory_order_relaxed);
    atomic_store_explicit(&L->origin.upstream_lost, 0, memory_order_relaxed);
    /* The magic goes in last, with release: a process that opens the block
     * by name and sees the magic sees a complete ring (see rr__read_magic). */
    memcpy((unsigned char *)&L->geo + sizeof g.magic, (const unsigned char *)&g + sizeof g.magic,
           sizeof g - sizeof g.magic);
    __atomic_store_n(&L->geo.magic, RR_MAGIC, __ATOMIC_RELEASE);
    *out = g;
}

uint64_t rr__read_magic(const void *mem)
{
    return __atomic_load_n(&((const rr_layout *)mem)->geo.magic, __ATOMIC_ACQUIRE);
}

static rr_status rr__format(void *mem, size_t len, const rr_config *cfg, bool owns,
                            bool private_mem, bool zeroed, rr_ring **out)
{
    if (!out)
        return rr__fail(RR_INVALID, "no place for the ring handle");
    if (!rr__config_valid(cfg))
        return rr__config_error(cfg);
    size_t need = rr_ring_footprint(cfg);
    if (!mem || ((uintptr_t)mem % RR_CACHE_LINE) != 0)
        return rr__fail(RR_INVALID, "ring memory must be non-NULL and 64-byte aligned");
    if (len < need)
        return rr__fail(RR_INVALID, "ring memory of %zu bytes is smaller than the %zu needed",
                        len, need);
    if (!zeroed)
        memset(mem, 0, need);   /* every counter, stamp and cursor starts at 0 */
    rr_geometry g;   /* the handle is built from our copy, never read back */
    rr__write_geometry(mem, cfg, &g);
    return rr__handle(mem, &g, owns, private_mem, out);
}

rr_status rr_ring_format(void *mem, size_t len, const rr_config *cfg, rr_ring **out)
{
    return rr__format(mem, len, cfg, false, false, false, out);
}

rr_status rr__format_zeroed(void *mem, size_t len, const rr_config *cfg, rr_ring **out)
{
    return rr__format(mem, len, cfg, false, false, true, out);
}

rr_status rr_ring_create(const rr_config *cfg, rr_ring **out)
{
    if (!out)
        return rr__fail(RR_INVALID, "no place for the ring handle");
    if (!rr__config_valid(cfg))
        return rr__config_error(cfg);
    size_t need = rr_ring_footprint(cfg);
    void *mem = aligned_alloc(RR_CACHE_LINE, need);
    if (!mem)
        return rr__fail(RR_NO_MEMORY, "cannot allocate %zu bytes for the ring", need);
    rr_status st = rr__format(mem, need, cfg, true, true, false, out);
    if (st != RR_OK)
        free(mem);
    return st;
}

/* Check every field of a copy of the geometry against what format would
 * have written for its capacity and slot size. */
static rr_status rr__validate(const rr_geometry *g, size_t len)
{
    if (g->magic != RR_MAGIC)
        return rr__fail(RR_SHM_INVALID, "not a rusted_ring block (bad magic)");
    if (g->version != RR_LAYOUT_VERSION || g->header_bytes != sizeof(rr_layout) ||
        g->max_readers != RR_MAX_READERS)
        return rr__fail(RR_SHM_INCOMPATIBLE,
                        "ring layout version %u (header %u bytes, %u readers); "
                        "this library reads version %u",
                        g->version, g->header_bytes, g->max_readers, RR_LAYOUT_VERSION);
    if (g->checksum != rr__geometry_checksum(g))
        return rr__fail(RR_SHM_INVALID, "ring header is corrupted (checksum mismatch)");
    size_t readers_off, meta_off, payload_off;
    size_t total = rr__footprint(g->capacity, g->slot_size,
                                 g->producers == RR_PRODUCERS_MULTI, &readers_off, &meta_off,
                                 &payload_off);
    if (total == 0 || g->total_bytes != total || g->readers_off != readers_off ||
        g->meta_off != meta_off || g->payload_off != payload_off ||
        g->slot_stride != rr__slot_stride(g->slot_size) ||
        g->mode > RR_MODE_OVERWRITE || g->producers > RR_PRODUCERS_MULTI)
        return rr__fail(RR_SHM_INVALID, "ring header is inconsistent");
    if (total > len)
        return rr__fail(RR_SHM_INVALID, "ring needs %zu bytes but only %zu are mapped",
                        total, len);
    return RR_OK;
}

rr_status rr_ring_attach(void *mem, size_t len, rr_ring **out)
{
    if (!out)
        return rr__fail(RR_INVALID, "no place for the ring handle");
    if (!mem || ((uintptr_t)mem % RR_CACHE_LINE) != 0)
        return rr__fail(RR_INVALID, "ring memory must be non-NULL and 64-byte aligned");
    if (len < sizeof(rr_layout))
        return rr__fail(RR_SHM_INVALID, "%zu bytes cannot hold a ring header of %zu bytes",
                        len, sizeof(rr_layout));
    rr_geometry g;
    g.magic = rr__read_magic(mem);   /* acquire: the rest was written before it */
    memcpy((unsigned char *)&g + sizeof g.magic,
           (const unsigned char *)&((const rr_layout *)mem)->geo + sizeof g.magic,
           sizeof g - sizeof g.magic);   /* validate the copy we use */
    rr_status st = rr__validate(&g, len);
    if (st != RR_OK)
        return st;
    return rr__handle(mem, &g, false, false, out);
}

rr_status rr_ring_destroy(rr_ring *ring)
{
    if (!ring)
        return RR_OK;
    /* A12, pairs with R12 (reader.c, writer.c): closed handles are done with the block */
    uint32_t open = atomic_load_explicit(&ring->handles, memory_order_acquire);
    if (open != 0)
        return rr__fail(RR_IN_USE, "ring still has %u open writer/reader handle(s)", open);
    rr__poll_ring_destroy(ring);
    if (ring->owns_block)
        free(ring->base);
    if (ring->map_len)
        munmap(ring->base, ring->map_len);
    free(ring->shm_name);
    free(ring);
    return RR_OK;
}

rr_status rr_ring_close(rr_ring *ring)
{
    if (!ring)
        return rr__fail(RR_INVALID, "no ring given");
    /* R8, pairs with A8 (rr__closed); the wake-ups below bump the futex words
     * (R9), so a sleeper re-checks and sees the close */
    atomic_store_explicit(&ring->L->control.closed, 1, memory_order_seq_cst);
    /* S1's notifier half before rr__wake_all reads who waits */
    atomic_thread_fence(memory_order_seq_cst);
    rr__wake_all(ring, &ring->L->readable);
    rr__wake_all(ring, &ring->L->writable);
    return RR_OK;
}

bool rr_ring_closed(const rr_ring *ring) { return ring ? rr__closed(ring) : true; }
size_t rr_ring_slot_size(const rr_ring *ring) { return ring ? ring->slot_size : 0; }
uint64_t rr_ring_capacity(const rr_ring *ring) { return ring ? ring->capacity : 0; }
rr_mode rr_ring_mode(const rr_ring *ring)
{
    return ring && ring->overwrite ? RR_MODE_OVERWRITE : RR_MODE_BACKPRESSURE;
}
rr_producers rr_ring_producers(const rr_ring *ring)
{
    return ring && ring->multi ? RR_PRODUCERS_MULTI : RR_PRODUCERS_SINGLE;
}
const char *rr_ring_shm_name(const rr_ring *ring)
{
    return ring ? ring->shm_name : NULL;
}

size_t rr_ring_memory_bytes(const rr_ring *ring)
{
    return ring ? ring->memory_bytes : 0;
}
uint64_t rr_ring_published(const rr_ring *ring)
{
    /* A2 */
    return ring ? atomic_load_explicit(&ring->L->published, memory_order_acquire) : 0;
}

uint64_t rr_ring_instance(const rr_ring *ring)
{
    /* written before the magic's release, read after the attach's acquire of it */
    return ring ? atomic_load_explicit(&ring->L->origin.instance, memory_order_relaxed) : 0;
}
