/*
 * pool.c — the rusted-ring crate's T-shirt sized pools: XS 64 B, S 256 B, M 1 KiB,
 * L 4 KiB, XL 16 KiB payloads.
 *
 * The process-wide default pools are the library's only global mutable
 * state. They are created together on first use, under a mutex, with the
 * configured capacities (the production preset unless rr_pools_configure ran
 * first), in overwrite mode (the crate's semantics) with multiple producers, so
 * any thread may write to them. Each pool keeps one shared writer for rr_emit.
 * They live until the process ends.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"

static const size_t rr__pool_sizes[RR_POOL_COUNT] = { 64, 256, 1024, 4096, 16384 };
static const char *const rr__pool_names[RR_POOL_COUNT] = { "XS", "S", "M", "L", "XL" };
static const rr_pool_config rr__presets[] = {
    [RR_PRESET_PRODUCTION]      = { { 2000, 1000, 300, 60, 15 } },
    [RR_PRESET_MOBILE]          = { { 500, 250, 100, 20, 5 } },
    [RR_PRESET_HIGH_THROUGHPUT] = { { 4000, 2000, 600, 120, 30 } },
};

static pthread_mutex_t rr__pools_lock = PTHREAD_MUTEX_INITIALIZER;
static rr_pool_config rr__pools_cfg = { { 2000, 1000, 300, 60, 15 } };
static rr_ring *rr__pools[RR_POOL_COUNT];
static rr_writer *rr__emitters[RR_POOL_COUNT];
static _Atomic bool rr__pools_ready;   /* set, with release, once all exist */

size_t rr_pool_slot_size(rr_pool_id id)
{
    return (unsigned)id < RR_POOL_COUNT ? rr__pool_sizes[id] : 0;
}

const char *rr_pool_name(rr_pool_id id)
{
    return (unsigned)id < RR_POOL_COUNT ? rr__pool_names[id] : NULL;
}

rr_status rr_pool_id_from_name(const char *name, rr_pool_id *out)
{
    for (int i = 0; name && i < RR_POOL_COUNT; i++)
        if (strcmp(name, rr__pool_names[i]) == 0) {
            if (out)
                *out = (rr_pool_id)i;
            return RR_OK;
        }
    return rr__fail(RR_INVALID, "unknown pool %s%s%s (expected XS, S, M, L or XL)",
                    name ? "\"" : "", name ? name : "(none)", name ? "\"" : "");
}

const char *rr_event_size_name(rr_event_size size)
{
    if (size == RR_SIZE_XXL)
        return "XXL";
    return rr_pool_name((rr_pool_id)size);
}

rr_event_size rr_estimate_size(size_t len)
{
    for (int i = 0; i < RR_POOL_COUNT; i++)
        if (len <= rr__pool_sizes[i])
            return (rr_event_size)i;
    return RR_SIZE_XXL;
}

rr_status rr_estimate_pool_id(size_t len, rr_pool_id *out)
{
    rr_event_size size = rr_estimate_size(len);
    if (size == RR_SIZE_XXL)
        return rr__fail(RR_TOO_LARGE, "payload of %zu bytes exceeds the largest pool's %zu bytes",
                        len, rr__pool_sizes[RR_POOL_XL]);
    if (out)
        *out = (rr_pool_id)size;
    return RR_OK;
}

rr_status rr_preset_config(rr_preset preset, rr_pool_config *out)
{
    if ((unsigned)preset > RR_PRESET_HIGH_THROUGHPUT || !out)
        return rr__fail(RR_INVALID, "unknown pool preset %d", (int)preset);
    *out = rr__presets[preset];
    return RR_OK;
}

rr_status rr_preset_from_name(const char *name, rr_preset *out)
{
    static const char *const names[] = { "production", "mobile", "high_throughput" };
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            if (out)
                *out = (rr_preset)i;
            return RR_OK;
        }
    return rr__fail(RR_INVALID, "unknown preset %s%s%s (expected production, mobile or "
                    "high_throughput)", name ? "\"" : "", name ? name : "(none)", name ? "\"" : "");
}

rr_status rr_pools_configure(const rr_pool_config *cfg)
{
    if (!cfg)
        return rr__fail(RR_INVALID, "no pool configuration given");
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        rr_config probe = { rr__pool_sizes[i], cfg->capacity[i], RR_MODE_OVERWRITE,
                            RR_PRODUCERS_MULTI };
        if (rr_ring_footprint(&probe) == 0)
            return rr__fail(RR_INVALID, "pool %s capacity %llu is invalid (must be >= 1)",
                            rr__pool_names[i], (unsigned long long)cfg->capacity[i]);
    }
    pthread_mutex_lock(&rr__pools_lock);
    /* A13 */
    bool ready = atomic_load_explicit(&rr__pools_ready, memory_order_acquire);
    if (!ready)
        rr__pools_cfg = *cfg;
    pthread_mutex_unlock(&rr__pools_lock);
    if (ready)
        return rr__fail(RR_IN_USE, "the default pools already exist; configure them before first use");
    return RR_OK;
}

void rr_pools_config(rr_pool_config *out)
{
    if (!out)
        return;
    pthread_mutex_lock(&rr__pools_lock);
    *out = rr__pools_cfg;
    pthread_mutex_unlock(&rr__pools_lock);
}

static void rr__pools_teardown(int upto)
{
    for (int i = 0; i < upto; i++) {
        rr_writer_close(rr__emitters[i]);
        rr_ring_destroy(rr__pools[i]);
        rr__emitters[i] = NULL;
        rr__pools[i] = NULL;
    }
}

/* Create all pools once; later calls see them through the acquire load
 * (A13, pairs with R13 below; the other loads of rr__pools_ready are A13 too). */
static rr_status rr__pools_get(void)
{
    if (atomic_load_explicit(&rr__pools_ready, memory_order_acquire))
        return RR_OK;
    rr_status st = RR_OK;
    pthread_mutex_lock(&rr__pools_lock);
    if (!atomic_load_explicit(&rr__pools_ready, memory_order_relaxed)) {
        for (int i = 0; i < RR_POOL_COUNT && st == RR_OK; i++) {
            rr_config cfg = { rr__pool_sizes[i], rr__pools_cfg.capacity[i], RR_MODE_OVERWRITE,
                              RR_PRODUCERS_MULTI };
            st = rr_ring_create(&cfg, &rr__pools[i]);
            if (st == RR_OK)
                st = rr_writer_open(rr__pools[i], &rr__emitters[i]);
            if (st != RR_OK)
                rr__pools_teardown(i + 1);
        }
        /* R13: the pools are made before anyone sees them ready */
        if (st == RR_OK)
            atomic_store_explicit(&rr__pools_ready, true, memory_order_release);
    }
    pthread_mutex_unlock(&rr__pools_lock);
    return st;
}

static rr_status rr__pool_check(rr_pool_id id)
{
    if ((unsigned)id >= RR_POOL_COUNT)
        return rr__fail(RR_INVALID, "unknown pool id %d (XS=0 .. XL=4)", (int)id);
    return rr__pools_get();
}

rr_status rr_pool_ring(rr_pool_id id, rr_ring **out)
{
    rr_status st = out ? rr__pool_check(id) : rr__fail(RR_INVALID, "no place for the ring");
    if (st == RR_OK)
        *out = rr__pools[id];
    return st;
}

rr_status rr_pool_writer(rr_pool_id id, rr_writer **out)
{
    rr_status st = out ? rr__pool_check(id) : rr__fail(RR_INVALID, "no place for the writer");
    return st == RR_OK ? rr_writer_open(rr__pools[id], out) : st;
}

rr_status rr_pool_reader(rr_pool_id id, rr_start start, rr_reader **out)
{
    rr_status st = out ? rr__pool_check(id) : rr__fail(RR_INVALID, "no place for the reader");
    return st == RR_OK ? rr_reader_open(rr__pools[id], start, out) : st;
}

rr_status rr_emit(const void *data, size_t len, uint32_t event_type, int64_t timeout_ns,
                  rr_pool_id *pool_out)
{
    rr_pool_id id;
    rr_status st = rr_estimate_pool_id(len, &id);
    if (st == RR_OK)
        st = rr__pools_get();
    if (st != RR_OK)
        return st;
    if (pool_out)
        *pool_out = id;
    return rr_writer_add(rr__emitters[id], data, len, event_type, NULL, timeout_ns);
}

void rr_pool_stats_collect(rr_pool_stats out[RR_POOL_COUNT])
{
    /* A13, pairs with R13 in rr__pools_get */
    bool ready = atomic_load_explicit(&rr__pools_ready, memory_order_acquire);
    rr_pool_config cfg;
    rr_pools_config(&cfg);
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        out[i] = (rr_pool_stats){ .id = (rr_pool_id)i, .capacity = cfg.capacity[i],
                                  .slot_size = rr__pool_sizes[i] };
        if (!ready)
            continue;
        rr_ring_stats rs;
        rr_ring_stats_get(rr__pools[i], &rs);
        out[i].capacity = rs.capacity;
        out[i].memory_bytes = rs.memory_bytes;
        out[i].published = rs.published;
        out[i].reader_count = rs.reader_count;
        out[i].current_backpressure = rs.max_backpressure;
    }
}

int rr_pool_stats_format(const rr_pool_stats *s, char *buf, size_t len)
{
    const char *name = s ? rr_pool_name(s->id) : NULL;
    if (!name)
        return snprintf(buf, len, "Pool ?: invalid");
    return snprintf(buf, len, "Pool %s: capacity=%llu, backpressure=%.1f%%", name,
                    (unsigned long long)s->capacity, s->current_backpressure * 100.0);
}
