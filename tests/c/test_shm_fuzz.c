/*
 * test_shm_fuzz.c — a shared segment can hold anything: another program's
 * data, a ring of another version, a ring cut short, or a ring some process
 * scribbled over. Attaching must refuse every header that does not describe
 * the memory it is given, and a ring whose header is good but whose body is
 * garbage must still never make the core read or write outside the block.
 *
 * Each round damages a copy of a good ring in one of five ways, attaches it,
 * and, when the attach succeeds, opens a reader and a writer and runs every
 * non-blocking call on it. The fifth fills a multi-producer ring's claim
 * records (claims.c) with garbage: owners alive, dead or made up, ranges
 * anywhere, a recovery word held, a claim cursor far ahead; recovering them
 * must stay inside the block and never wait. The suite is meant for AddressSanitizer and
 * UndefinedBehaviorSanitizer (make sanitize); a plain build checks the
 * verdicts: a header the core accepted describes a block that fits.
 */
#include <unistd.h>

#include "check.h"
#include "layout.h"

#define ROUNDS 100000

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t fnv64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static void reseal(unsigned char *mem)
{
    rr_geometry *g = &((rr_layout *)mem)->geo;
    g->checksum = fnv64(g, offsetof(rr_geometry, checksum));
}

/* A value likely to find an edge: small, near a power of two, huge, random. */
static uint64_t edgy(uint64_t near)
{
    switch (rnd() % 8) {
    case 0: return 0;
    case 1: return 1;
    case 2: return near + 1;
    case 3: return near ? near - 1 : 0;
    case 4: return UINT64_MAX - rnd() % 4;
    case 5: return (uint64_t)1 << (rnd() % 64);
    case 6: return near * 2;
    default: return rnd();
    }
}

/* Set one geometry field to an edge value and fix the checksum, so the
 * mutation gets past the checksum to the consistency checks. */
static void mutate_field(unsigned char *mem)
{
    rr_geometry *g = &((rr_layout *)mem)->geo;
    switch (rnd() % 12) {
    case 0: g->version = (uint32_t)edgy(g->version); break;
    case 1: g->header_bytes = (uint32_t)edgy(g->header_bytes); break;
    case 2: g->total_bytes = edgy(g->total_bytes); break;
    case 3: g->capacity = edgy(g->capacity); break;
    case 4: g->slot_size = (uint32_t)edgy(g->slot_size); break;
    case 5: g->slot_stride = (uint32_t)edgy(g->slot_stride); break;
    case 6: g->mode = (uint32_t)edgy(g->mode); break;
    case 7: g->producers = (uint32_t)edgy(g->producers); break;
    case 8: g->max_readers = (uint32_t)edgy(g->max_readers); break;
    case 9: g->readers_off = edgy(g->readers_off); break;
    case 10: g->meta_off = edgy(g->meta_off); break;
    default: g->payload_off = edgy(g->payload_off); break;
    }
    reseal(mem);
}

/* Garbage in a multi-producer ring's claim records and the words around them. */
static void scribble_claims(unsigned char *mem)
{
    rr_layout *L = (rr_layout *)mem;
    rr_claim_record *recs = (rr_claim_record *)(mem + rr__claims_off(L->geo.readers_off));
    uint64_t owners[] = { rr__self_owner(), (uint64_t)getpid(), UINT64_C(0xFFFFFFFF00000001),
                          UINT64_C(0x7FFFFFFF), rnd() };
    int n = 1 + (int)(rnd() % 4);
    for (int k = 0; k < n; k++) {
        rr_claim_record *rec = &recs[rnd() % RR_MAX_CLAIMS];
        atomic_store(&rec->owner, owners[rnd() % (sizeof owners / sizeof *owners)]);
        atomic_store(&rec->first, edgy(atomic_load(&L->claim)));
        atomic_store(&rec->count, edgy(2));
        atomic_store(&rec->sleeping, rnd() % 2 ? 0 : owners[rnd() % 3]);
    }
    switch (rnd() % 4) {
    case 0: atomic_store(&L->claim, edgy(8)); break;
    case 1: atomic_store(&L->recovery.owner, owners[rnd() % (sizeof owners / sizeof *owners)]); break;
    case 2: atomic_store(&L->recovery.at, (int64_t)rnd()); break;
    default: atomic_store(&L->counters.reaped_at, (int64_t)rnd()); break;
    }
}

/* Everything a process might do with a ring it opened, none of it waiting. */
static void exercise(rr_ring *ring)
{
    static rr_ring_stats st;
    rr_ring_stats_get(ring, &st);
    rr_reader *r = NULL, *r2 = NULL;
    rr_writer *w = NULL;
    rr_reader_open(ring, RR_START_OLDEST, &r);
    rr_reader_open(ring, RR_START_LATEST, &r2);
    rr_writer_open(ring, &w);
    unsigned char buf[64];
    memset(buf, 0xab, sizeof buf);
    if (w) {
        for (int i = 0; i < 3; i++)
            rr_writer_add(w, buf, (size_t)(rnd() % 65), 1, NULL, 0);
        rr_claim c;
        if (rr_writer_claim(w, 2, 3, &c, 0) == RR_OK) {
            memset(rr_claim_data(&c, 0), 1, c.slot_size);
            rr_claim_set(&c, 1, 5, 4);
            if (rnd() % 2)
                rr_writer_publish(w, &c);
            else
                rr_writer_abandon(w, &c);
        }
    }
    rr_event evs[8];
    size_t n = 0;
    for (int i = 0; r && i < 12; i++) {
        if (rr_reader_next(r, &evs[0], 0) == RR_OK) {
            volatile unsigned char sum = 0;
            const unsigned char *p = evs[0].data;
            for (uint32_t k = 0; k < evs[0].len; k++)   /* every byte handed out is readable */
                sum ^= p[k];
            (void)sum;
            if (i == 0 && !rr_ring_mode(ring))
                rr_reader_hold(r, evs[0].sequence);
        }
    }
    if (r2)
        rr_reader_next_batch(r2, evs, 8, &n, 0);
    if (r) {
        rr_reader_lag(r);
        rr_reader_backpressure_ratio(r);
    }
    rr_ring_stats_get(ring, &st);
    rr_reader_close(r);
    rr_reader_close(r2);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

TEST(test_damaged_segments_never_crash_the_core)
{
    const rr_config cfgs[] = {
        { 64, 4, RR_MODE_BACKPRESSURE, RR_PRODUCERS_SINGLE },
        { 64, 4, RR_MODE_BACKPRESSURE, RR_PRODUCERS_MULTI },
        { 100, 3, RR_MODE_OVERWRITE, RR_PRODUCERS_SINGLE },
        { 8, 5, RR_MODE_OVERWRITE, RR_PRODUCERS_MULTI },
    };
    enum { NCFG = sizeof cfgs / sizeof *cfgs };
    unsigned char *good[NCFG], *buf[NCFG];
    size_t len[NCFG];
    for (int i = 0; i < NCFG; i++) {
        len[i] = rr_ring_footprint(&cfgs[i]);
        good[i] = aligned_alloc(64, len[i]);
        buf[i] = aligned_alloc(64, len[i]);
        CHECK(good[i] && buf[i]);
        rr_ring *r;
        CHECK_ST(rr_ring_format(good[i], len[i], &cfgs[i], &r), RR_OK);
        rr_ring_destroy(r);
    }
    uint64_t rounds = ROUNDS;
#if defined(__SANITIZE_THREAD__)
    rounds /= 10;   /* TSan adds nothing single-threaded; keep it short */
#endif
    uint64_t accepted = 0, refused = 0, bodies = 0;
    for (uint64_t round = 0; round < rounds; round++) {
        int c = (int)(rnd() % NCFG);
        unsigned char *b = buf[c];
        memcpy(b, good[c], len[c]);
        size_t have = len[c];
        int kind = (int)(rnd() % 5);
        if (kind == 4 && cfgs[c].producers != RR_PRODUCERS_MULTI)
            kind = 3;
        if (kind == 0) {                       /* flip bytes anywhere in the geometry */
            int flips = 1 + (int)(rnd() % 4);
            for (int f = 0; f < flips; f++)
                b[rnd() % sizeof(rr_geometry)] ^= (unsigned char)(1 + rnd() % 255);
        } else if (kind == 1) {                /* a resealed edge value in one field */
            mutate_field(b);
        } else if (kind == 2) {                /* cut short */
            have = (size_t)(rnd() % len[c]);
        } else if (kind == 4) {                /* good header, garbage claim records */
            scribble_claims(b);
            bodies++;
        } else {                               /* good header, garbage body */
            size_t hdr = sizeof(rr_geometry);
            /* mostly the counters, reader table and slot metadata */
            size_t hot = ((rr_layout *)b)->geo.payload_off;
            int scribbles = 1 + (int)(rnd() % 64);
            for (int f = 0; f < scribbles; f++) {
                size_t span = rnd() % 4 ? hot - hdr : len[c] - hdr;
                size_t at = hdr + (size_t)(rnd() % span);
                if (rnd() % 2)
                    b[at] = (unsigned char)rnd();
                else if (at + 8 <= len[c])
                    memset(b + at, rnd() % 2 ? 0xff : 0x00, 8);
            }
            bodies++;
        }
        rr_ring *ring;
        rr_status st = rr_ring_attach(b, have, &ring);
        if (st != RR_OK) {
            CHECK(st == RR_SHM_INVALID || st == RR_SHM_INCOMPATIBLE);
            CHECK(kind < 3);                   /* a good header is never refused */
            refused++;
            continue;
        }
        accepted++;
        CHECK(rr_ring_memory_bytes(ring) <= have);
        CHECK(rr_ring_capacity(ring) >= 1);
        CHECK(rr_ring_slot_size(ring) >= 1);
        exercise(ring);
    }
    printf("     %llu rounds: %llu attached (%llu with garbage bodies), %llu refused\n",
           (unsigned long long)rounds, (unsigned long long)accepted,
           (unsigned long long)bodies, (unsigned long long)refused);
    CHECK(refused > rounds / 4);
    CHECK(accepted >= bodies);
    for (int i = 0; i < NCFG; i++) {
        free(good[i]);
        free(buf[i]);
    }
}

int main(void)
{
    alarm(600);
    RUN(test_damaged_segments_never_crash_the_core);
    return check_report();
}
