/*
 * layout.h — the ring's memory block and the process-local handles (private).
 *
 * One block, addressed by offsets only, so it works on the heap, in caller
 * memory or mapped by several processes:
 *
 *   +--------------------+  rr_layout: geometry (read-only after format), then
 *   | header             |  one cache line per group of hot fields
 *   +--------------------+  readers_off
 *   | reader table       |  RR_MAX_READERS entries, two cache lines each
 *   +--------------------+  (multi producer only)
 *   | claim records      |  RR_MAX_CLAIMS records, one cache line each (claims.c)
 *   +--------------------+  meta_off
 *   | slot metadata      |  capacity x 16 B: stamp, len, type (none for small slots)
 *   +--------------------+  payload_off (64-byte aligned)
 *   | payload slots      |  capacity x slot_stride (slot_size rounded up to 64)
 *   +--------------------+  total_bytes
 *
 * A slot of at most RR_SMALL_SLOT (48) bytes carries its metadata beside
 * its payload instead, in a stride of 32 or 64 bytes (the metadata's 16,
 * then the payload, rounded up to a power of two), so that a small event
 * moves one part of a cache line, not a line of payload and a quarter line
 * of metadata elsewhere; no slot straddles two lines. Its payload is 16-byte
 * aligned; every other payload is 64-byte aligned. rr__slot, rr__meta and
 * rr__meta_stride hide which.
 *
 * Invariants:
 *   - Event s lives in slot s % capacity. A slot's stamp is 0 before its first
 *     event, 2s+1 while event s is being written (overwrite mode only), and
 *     2s+2 once event s is published or abandoned. Stamps only grow.
 *   - `published` only grows; it counts events made visible.
 *   - A reader entry's `gate` says every event below it is released by that
 *     reader; RR_GATE_FREE marks an unused entry. Gates only grow while a
 *     reader is registered.
 *   - Writers may claim sequences below `gating.limit` without looking at the
 *     readers; every confirmed limit stays valid forever (see writer.c).
 *   - Processes are named by an owner word (proc.c): pid in the low 32 bits,
 *     the low 32 bits of its start time above. 0 is nobody. A reader entry
 *     is free exactly when its owner word is 0: a reader takes it by swapping
 *     0 for its process's word and gives it back by storing 0 last, after
 *     its gate and state. An evictor swaps a dead process's word for its own
 *     word, resets the entry and stores 0 last, so an entry abandoned at any
 *     step by a dying process names a dead process and can be evicted.
 *   - Durable readers (reader.c): an entry whose owner word is
 *     RR_OWNER_PARKED is held by no process and is not free: it stays ACTIVE
 *     and keeps gating. It is taken from that word (a resume, a drop) and
 *     given to it (a park) only by CAS holding the pipeline word (R22/A22);
 *     it is never evicted.
 *   - Multi producer, shared: a claimed sequence not yet published or
 *     abandoned lies in the range of a claim record naming its producer's
 *     process (claims.c); a record is free exactly when its owner word is 0.
 *   - Pipelines (pipeline.c): a reader entry's name, `after` mask and flags
 *     change only while the changer holds `pipeline.owner`; a mask names
 *     only entries that went ACTIVE before it was written, and an entry that
 *     leaves has every mask naming it rewritten before its gate is freed. A
 *     follower reads only below every gate its mask names.
 */
#ifndef RR_LAYOUT_H
#define RR_LAYOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rusted_ring.h"
#include "rusted_ring_inline.h"

#define RR_CACHE_LINE      64
#define RR_LINE            _Alignas(RR_CACHE_LINE)
#define RR_MAGIC           UINT64_C(0x474E495254535552) /* "RUSTRING" */
#define RR_LAYOUT_VERSION  8u   /* 2: owner and sleeper words in the reader table and control;
                                   3: claim records (multi producer), the recovery word and
                                      counter;
                                   4: wait strategies: a reader entry's `wait`, the
                                      control's `writer_wait`;
                                   5: small slots' metadata beside their payload;
                                   6: a reader entry's second (cold) line: name, the
                                      readers it follows, flags, its poller; the
                                      control's writer poller;
                                   7: the pipeline word (pipeline.c);
                                   8: the origin line (instance, upstream_lost) and
                                      durable readers (a parked entry's owner word
                                      RR_OWNER_PARKED, the flag DURABLE) */
#define RR_GATE_FREE       UINT64_MAX
#define RR_LEN_ABANDONED   UINT32_MAX   /* slot of a multi-producer claim given up */
#define RR_MAX_CAPACITY    (UINT64_C(1) << 40)
#define RR_MAX_WRITER_PROCS 16          /* multi producer: processes tracked */
#define RR_MAX_CLAIMS      64           /* multi producer: claim records (claims.c) */
#define RR_SEQ_NONE        UINT64_MAX   /* a claim record's `first` when it covers nothing */
/* The owner word of a parked durable reader's entry (reader.c, proc.c): no
 * handle holds it, yet it is not free. Process id 0 names no process, so no
 * live process's word is ever this. */
#define RR_OWNER_PARKED    UINT64_C(0xFFFFFFFF00000000)

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

enum { RR_ENTRY_FREE = 0, RR_ENTRY_CLAIMED = 1, RR_ENTRY_ACTIVE = 2 };

/* rr_slot_meta (a slot's stamp, len and type) is in rusted_ring_inline.h. */

typedef struct rr_reader_entry {
    RR_LINE _Atomic uint64_t gate;  /* events < gate released (backpressure) */
    _Atomic uint64_t position;      /* next sequence it reads */
    _Atomic uint64_t lost;
    _Atomic uint64_t skipped;       /* abandoned sequences passed over */
    _Atomic uint64_t owner;         /* process owner word (proc.c), 0: free */
    _Atomic uint32_t state;         /* RR_ENTRY_* */
    _Atomic uint32_t wait;          /* the reader's rr_wait_strategy (stats only) */
    _Atomic uint64_t sleeping;      /* owner word of a reader counted in readable.waiters */
    /* The second line is cold: written when a reader opens or closes, by
     * pipelines (the readers it follows) and by a poller arming its fd. */
    RR_LINE _Atomic uint64_t name[4];   /* its name, NUL-padded UTF-8, at most 31 bytes
                                           (all zero: unnamed) */
    _Atomic uint64_t after;         /* bit i: this reader follows entry i (pipelines) */
    _Atomic uint32_t flags;         /* RR_ENTRY_F_* */
    _Atomic uint32_t name_seq;      /* odd while `name` changes (pipeline.c, R19/A19) */
    _Atomic uint64_t poll_owner;    /* owner word of an armed poller, bit 31 set if
                                       counted in `writable`; 0: none (poll.c) */
    _Atomic uint64_t poll_addr;     /* where that poller is told (poll.c) */
} rr_reader_entry;

/* rr_reader_entry.flags (pipeline.c):
 *   WRITABLE   the reader may write into the events it is handed
 *   FOLLOWED   some reader follows it, or did: its close rewrites masks
 *   GATE_WAIT  its sleeper (`sleeping`) is counted in writable.waiters, not
 *              readable.waiters: a follower waits for gates to move
 *   DURABLE    a durable reader (reader.c): its close and its process's death
 *              park it (owner word RR_OWNER_PARKED) instead of freeing it */
enum { RR_ENTRY_F_WRITABLE = 1u, RR_ENTRY_F_FOLLOWED = 2u, RR_ENTRY_F_GATE_WAIT = 4u,
       RR_ENTRY_F_DURABLE = 8u };

/* Multi producer, shared rings: one open claim (claims.c). */
typedef struct rr_claim_record {
    RR_LINE _Atomic uint64_t owner; /* process owner word (proc.c), 0: free */
    _Atomic uint64_t first;         /* first sequence claimed, or about to be; RR_SEQ_NONE */
    _Atomic uint64_t count;         /* events from `first`; 0 when it covers nothing */
    _Atomic uint64_t sleeping;      /* owner word of a claimer (any: claims.c) counted in
                                       writable.waiters */
} rr_claim_record;

/* A futex word and who may wait on it: `waiters` counts each sleeping
 * thread 1 and each armed pollfd (poll.c) RR_POLLER_COUNT, so a notifier
 * that finds it 0 knows nobody waits, and rr__wake_all knows from its low
 * bits whether to call FUTEX_WAKE and from its high bits whether to tell
 * pollers. */
typedef struct rr_waitq {
    RR_LINE _Atomic uint32_t futex;
    _Atomic uint32_t waiters;
} rr_waitq;
#define RR_POLLER_COUNT (UINT32_C(1) << 16)   /* sleepers: fewer than this at once */

typedef struct rr_geometry {
    uint64_t magic;
    uint32_t version;
    uint32_t header_bytes;
    uint64_t total_bytes;
    uint64_t capacity;
    uint32_t slot_size;
    uint32_t slot_stride;
    uint32_t mode;
    uint32_t producers;
    uint32_t max_readers;
    uint32_t reserved;
    uint64_t readers_off;
    uint64_t meta_off;
    uint64_t payload_off;
    uint64_t checksum;          /* FNV-1a of every field above */
} rr_geometry;

typedef struct rr_layout {
    RR_LINE rr_geometry geo;                 /* read-only after format */
    RR_LINE _Atomic uint64_t claim;          /* multi: next sequence to claim */
    RR_LINE _Atomic uint64_t published;      /* events made visible */
    RR_LINE struct {
        _Atomic uint64_t limit;              /* confirmed: claim below this */
        _Atomic uint64_t proposed;           /* highest limit ever proposed */
        _Atomic uint64_t gen;                /* bumped by each reader registration */
        _Atomic uint32_t reader_hw;          /* entries [0, hw) may be in use */
    } gating;
    rr_waitq readable;                       /* readers wait for events */
    rr_waitq writable;                       /* writers wait for space */
    RR_LINE struct {
        _Atomic uint32_t closed;
        _Atomic uint32_t writers;            /* open writer handles */
        _Atomic uint64_t writer_owner;       /* single producer: owner word or 0 */
        _Atomic uint64_t writer_sleeping;    /* single producer: owner word of a writer
                                                counted in writable.waiters, or 0 */
        /* multi producer: owner words of processes that opened a writer */
        _Atomic uint64_t writer_procs[RR_MAX_WRITER_PROCS];
        _Atomic uint32_t writer_wait;        /* rr_wait_strategy of the writer opened last
                                                (stats only) */
        _Atomic uint64_t writer_poll_owner;  /* owner word of an armed writer poller
                                                (bit 31 set: `writable`), 0: none
                                                (poll.c) */
        _Atomic uint64_t writer_poll_addr;   /* where that poller is told (poll.c) */
    } control;
    RR_LINE struct {
        _Atomic uint64_t stalls;             /* times a writer found the ring full */
        _Atomic uint64_t abandoned;          /* events of claims given up */
        _Atomic uint64_t evicted;            /* readers of dead processes removed */
        _Atomic int64_t  reaped_at;          /* last look for dead sleepers (proc.c) */
        _Atomic uint64_t recovered;          /* events of dead producers' claims abandoned */
    } counters;
    RR_LINE struct {                         /* multi producer, shared (claims.c) */
        _Atomic uint64_t owner;              /* owner word of the process recovering, or 0 */
        _Atomic int64_t  at;                 /* when a recovery last began (coarse clock) */
    } recovery;
    RR_LINE struct {                         /* pipelines: names, followers (pipeline.c) */
        _Atomic uint64_t owner;              /* owner word of the process changing them, 0 */
        _Atomic uint64_t changes;            /* bumped by every change (stats only) */
    } pipeline;
    RR_LINE struct {                         /* where the events come from (ring.c) */
        _Atomic uint64_t instance;           /* random, 1 .. 2^63-1, chosen at format;
                                                published with the magic (release) */
        _Atomic uint64_t upstream_lost;      /* events lost before they reached this ring
                                                (rr_writer_note_lost; stats only) */
    } origin;
} rr_layout;

/* ---- the layout, pinned --------------------------------------------------------
 *
 * Every process that maps a ring must agree on these bytes, and the header
 * check on attach compares only RR_LAYOUT_VERSION. So each size and offset is
 * asserted here: a change to any of them fails to compile until the version
 * is bumped and these numbers are updated with it. */
#define RR_PIN(cond, what) _Static_assert(cond, what " changed: bump RR_LAYOUT_VERSION")

RR_PIN(sizeof(rr_slot_meta) == 16 && _Alignof(rr_slot_meta) == 8, "rr_slot_meta size");
RR_PIN(RR_CACHE_LINE == 64, "the cache line the strides are made of");
RR_PIN(offsetof(rr_slot_meta, stamp) == 0 && offsetof(rr_slot_meta, len) == 8 &&
       offsetof(rr_slot_meta, type) == 12, "rr_slot_meta fields");

RR_PIN(sizeof(rr_reader_entry) == 2 * RR_CACHE_LINE && _Alignof(rr_reader_entry) == RR_CACHE_LINE,
       "rr_reader_entry size (two cache lines)");
RR_PIN(offsetof(rr_reader_entry, name) == 64 && offsetof(rr_reader_entry, after) == 96 &&
       offsetof(rr_reader_entry, flags) == 104 && offsetof(rr_reader_entry, name_seq) == 108 &&
       offsetof(rr_reader_entry, poll_owner) == 112 && offsetof(rr_reader_entry, poll_addr) == 120,
       "rr_reader_entry second line");
RR_PIN(offsetof(rr_reader_entry, gate) == 0 && offsetof(rr_reader_entry, position) == 8 &&
       offsetof(rr_reader_entry, lost) == 16 && offsetof(rr_reader_entry, skipped) == 24 &&
       offsetof(rr_reader_entry, owner) == 32 && offsetof(rr_reader_entry, state) == 40 &&
       offsetof(rr_reader_entry, wait) == 44 && offsetof(rr_reader_entry, sleeping) == 48,
       "rr_reader_entry fields");

RR_PIN(sizeof(rr_waitq) == RR_CACHE_LINE && _Alignof(rr_waitq) == RR_CACHE_LINE,
       "rr_waitq size (one cache line)");
RR_PIN(offsetof(rr_waitq, futex) == 0 && offsetof(rr_waitq, waiters) == 4, "rr_waitq fields");

RR_PIN(sizeof(rr_geometry) == 88 && _Alignof(rr_geometry) == 8, "rr_geometry size");
RR_PIN(offsetof(rr_geometry, magic) == 0 && offsetof(rr_geometry, version) == 8 &&
       offsetof(rr_geometry, header_bytes) == 12 && offsetof(rr_geometry, total_bytes) == 16 &&
       offsetof(rr_geometry, capacity) == 24 && offsetof(rr_geometry, slot_size) == 32 &&
       offsetof(rr_geometry, slot_stride) == 36 && offsetof(rr_geometry, mode) == 40 &&
       offsetof(rr_geometry, producers) == 44 && offsetof(rr_geometry, max_readers) == 48 &&
       offsetof(rr_geometry, reserved) == 52 && offsetof(rr_geometry, readers_off) == 56 &&
       offsetof(rr_geometry, meta_off) == 64 && offsetof(rr_geometry, payload_off) == 72 &&
       offsetof(rr_geometry, checksum) == 80, "rr_geometry fields");

RR_PIN(sizeof(rr_claim_record) == RR_CACHE_LINE && _Alignof(rr_claim_record) == RR_CACHE_LINE,
       "rr_claim_record size (one cache line)");
RR_PIN(offsetof(rr_claim_record, owner) == 0 && offsetof(rr_claim_record, first) == 8 &&
       offsetof(rr_claim_record, count) == 16 && offsetof(rr_claim_record, sleeping) == 24,
       "rr_claim_record fields");

/* rr_layout, one cache-line group at a time (the geometry takes two lines). */
RR_PIN(sizeof(rr_layout) == 896 && _Alignof(rr_layout) == RR_CACHE_LINE, "rr_layout size");
RR_PIN(offsetof(rr_layout, geo) == 0, "rr_layout geometry group");
RR_PIN(offsetof(rr_layout, claim) == 128, "rr_layout claim line");
RR_PIN(offsetof(rr_layout, published) == 192, "rr_layout published line");
RR_PIN(offsetof(rr_layout, gating) == 256 && sizeof(((rr_layout *)0)->gating) == 32 &&
       offsetof(rr_layout, gating.limit) == 256 && offsetof(rr_layout, gating.proposed) == 264 &&
       offsetof(rr_layout, gating.gen) == 272 && offsetof(rr_layout, gating.reader_hw) == 280,
       "rr_layout gating group");
RR_PIN(offsetof(rr_layout, readable) == 320 && offsetof(rr_layout, writable) == 384,
       "rr_layout wait queues");
RR_PIN(offsetof(rr_layout, control) == 448 && sizeof(((rr_layout *)0)->control) == 176 &&
       offsetof(rr_layout, control.closed) == 448 && offsetof(rr_layout, control.writers) == 452 &&
       offsetof(rr_layout, control.writer_owner) == 456 &&
       offsetof(rr_layout, control.writer_sleeping) == 464 &&
       offsetof(rr_layout, control.writer_procs) == 472 && RR_MAX_WRITER_PROCS == 16 &&
       offsetof(rr_layout, control.writer_wait) == 600 &&
       offsetof(rr_layout, control.writer_poll_owner) == 608 &&
       offsetof(rr_layout, control.writer_poll_addr) == 616, "rr_layout control group");
RR_PIN(offsetof(rr_layout, counters) == 640 && sizeof(((rr_layout *)0)->counters) == 40 &&
       offsetof(rr_layout, counters.stalls) == 640 &&
       offsetof(rr_layout, counters.abandoned) == 648 &&
       offsetof(rr_layout, counters.evicted) == 656 &&
       offsetof(rr_layout, counters.reaped_at) == 664 &&
       offsetof(rr_layout, counters.recovered) == 672, "rr_layout counters group");
RR_PIN(offsetof(rr_layout, recovery) == 704 && sizeof(((rr_layout *)0)->recovery) == 16 &&
       offsetof(rr_layout, recovery.owner) == 704 && offsetof(rr_layout, recovery.at) == 712,
       "rr_layout recovery group");
RR_PIN(offsetof(rr_layout, pipeline) == 768 && sizeof(((rr_layout *)0)->pipeline) == 16 &&
       offsetof(rr_layout, pipeline.owner) == 768 && offsetof(rr_layout, pipeline.changes) == 776,
       "rr_layout pipeline group");
RR_PIN(offsetof(rr_layout, origin) == 832 && sizeof(((rr_layout *)0)->origin) == 16 &&
       offsetof(rr_layout, origin.instance) == 832 &&
       offsetof(rr_layout, origin.upstream_lost) == 840, "rr_layout origin group");
RR_PIN(RR_OWNER_PARKED == UINT64_C(0xFFFFFFFF00000000), "the parked owner word");
RR_PIN(RR_MAX_READERS == 64 && RR_GATE_FREE == UINT64_MAX && RR_LEN_ABANDONED == UINT32_MAX &&
       RR_MAX_CLAIMS == 64 && RR_SEQ_NONE == UINT64_MAX, "a constant stored in the block");

/* The process-local handle on a block. */
struct rr_ring {
    rr_layout       *L;
    unsigned char   *base;
    rr_reader_entry *readers;
    rr_claim_record *claims;       /* multi producer, shared: the claim records; else NULL */
    unsigned char   *meta;         /* slot 0's metadata (rr__meta) */
    unsigned char   *payload;
    uint64_t         capacity;
    uint64_t         cap_magic;    /* rr__mod: capacity's multiplier (0: a power of two) */
    uint32_t         cap_shift;    /* rr__mod: its shift */
    bool             cap_add;      /* rr__mod: the 65-bit multiplier's extra step */
    uint32_t         slot_size;
    uint32_t         stride;       /* bytes from one slot's payload to the next's */
    uint32_t         meta_stride;  /* bytes from one slot's metadata to the next's */
    size_t           memory_bytes;
    bool             overwrite;
    bool             multi;
    bool             owns_block;   /* rr_ring_create: free the block on destroy */
    bool             private_mem;  /* only this process maps it: private futexes */
    _Atomic uint32_t handles;      /* open writers and readers */
    /* multi producer: this process's entry in control.writer_procs */
    _Atomic uint64_t wproc_owner;  /* owner word it was taken for (a forked child differs) */
    _Atomic int32_t  wproc_index;  /* -1 none yet */
    size_t           map_len;      /* shared segment: bytes mapped, 0 otherwise */
    char            *shm_name;     /* shared segment: "/name", NULL otherwise */
    _Atomic int      poll_tx;      /* poll.c: the socket this process tells pollers
                                      through, made on first need; -1 until then */
};

/* A handle's pollfd (poll.c): its socket and the address it is bound to.
 * addr 0: none yet. fd is stored before addr (release), read after it. */
typedef struct rr_poller {
    _Atomic int      fd;
    _Atomic uint64_t addr;
} rr_poller;

struct rr_writer {
    rr_writer_hot hot;    /* first: rusted_ring_inline.h reads it there */
    rr_ring  *ring;
    rr_wait_strategy wait; /* how it waits for room, a claim record or a slot */
    _Atomic uint64_t owner; /* owner word of the process that opened (or adopted) it */
    bool      single;
    _Atomic int64_t liveness_at; /* shared backpressure: when readers were last checked */
    rr_poller poll;       /* its pollfd, if asked for (poll.c) */
};
_Static_assert(offsetof(struct rr_writer, hot) == 0, "rusted_ring_inline.h: the hot prefix");

struct rr_reader {
    rr_ring         *ring;
    rr_wait_strategy wait;       /* how it waits for events */
    rr_reader_entry *entry;
    _Atomic uint64_t owner;      /* owner word the entry was taken (or adopted) with */
    _Atomic uint32_t fork_gen;   /* rr__fork_gen when it was opened (proc.c) */
    uint64_t         pos;        /* next sequence to read */
    uint64_t         idx;        /* pos % capacity */
    uint64_t         avail;      /* [pos, avail) is readable in place (reader.c): single
                                    producer, backpressure: `published` as last seen; a
                                    follower of such a ring: `lim` */
    uint8_t          direct;     /* how it reads in place: RR_READ_* (reader.c) */
    uint64_t         gate;       /* last value stored in entry->gate */
    uint64_t         cur_lo;     /* first sequence handed out by the last call */
    uint64_t         lost;
    uint64_t         skipped;    /* abandoned sequences passed over */
    uint64_t         lap_margin; /* overwrite: how far past the oldest to resume */
    uint64_t         delivered;
    uint32_t        *holds;      /* backpressure: hold counts by slot */
    uint64_t         nholds;
    unsigned char   *scratch;    /* overwrite: verified copies */
    size_t           scratch_events;
    uint32_t         index;      /* its entry in the reader table */
    bool             writable;   /* pipelines: may write into its events */
    bool             durable;    /* its close parks its entry (reader.c) */
    int64_t          follow_look_at; /* follower, shared ring: when it last looked
                                        whether its leaders' processes run */
    uint64_t         lim;        /* a follower: the limit its leaders' gates set, as
                                    last seen (pipeline.c rr__follow_limit) */
    char             name[RR_NAME_MAX + 1];
    rr_poller        poll;       /* its pollfd, if asked for (poll.c) */
};

/* rr_reader.direct: how a backpressure reader reads in place.
 *   STAMPED  each event's stamp says it is there (several producers; overwrite
 *            readers copy instead)
 *   DIRECT   one producer: every event below `published` is there (`avail`)
 *   FOLLOW   a follower: every event below its leaders' gates (`lim`,
 *            pipeline.c rr__follow_limit) is released by them; with one
 *            producer it is there too (`avail` = `lim`), with several its
 *            stamp still says so (a plain leader opened at RR_START_LATEST
 *            has its gate at `claim`, above claims not yet published) */
enum { RR_READ_STAMPED = 0, RR_READ_DIRECT = 1, RR_READ_FOLLOW = 2 };

/* ---- synchronization: every release/acquire pair, by label -----------------
 *
 * Each site in the core carries its label (as DPDK's rte_ring_c11_pvt.h does),
 * so a reader can match every release to the acquire that depends on it. The
 * release side is Rn, the acquire side An:
 *
 *   1 stamp     R1 writer.c and rusted_ring_inline.h (the fast paths): a slot's
 *                  stamp, after its payload, len and type (claims.c: after the
 *                  len of a dead producer's abandoned slot)
 *               A1 reader.c (fetch, lap recovery), writer.c (a multi-producer
 *                  slot's previous lap; single-producer takeover), claims.c:
 *                  the bytes of the event the stamp names are complete
 *   2 published R2 writer.c, rusted_ring_inline.h: `published`, after the stamps
 *                  it counts
 *               A2 rr__head, ring.c rr_ring_published, stats.c, writer.c (a
 *                  new writer's next sequence, takeover), reader.c (a single
 *                  producer's backpressure reader: every event below it)
 *   3 gate      R3 reader.c: a reader's gate (and its close), after its last
 *                  read of the slots below it
 *               A3 writer.c rr__gate_refresh (seq_cst: S2), stats.c: no writer
 *                  refills a slot before the reader is done with it
 *   4 claim     R4 writer.c: the multi-producer claim CAS (acq_rel)
 *               A4 rr__head, writer.c rr__room_now, reader.c rr__read_ready,
 *                  claims.c (a finder's look at the cursor)
 *   5 seqlock   R5 writer.c rr__mark_writing, rusted_ring_inline.h
 *                  rr__hot_mark_writing (and claims.c, abandoning a dead
 *                  producer's slot): release fence after the odd stamps
 *               A5 reader.c rr__fetch_overwrite: acquire fence after the copy;
 *                  a copy that saw any new byte re-reads a newer stamp
 *   6 entry     R6 reader.c: state ACTIVE after position and gate (and FREE on
 *                  close; proc.c eviction)
 *               A6 stats.c: an ACTIVE entry's figures are the new reader's
 *   7 owner     R7/A7 the owner word's CAS (reader.c take and give back, proc.c
 *                  eviction; acq_rel) and its acquire loads (reader.c close,
 *                  proc.c): whoever holds the word sees the last holder's writes
 *   8 closed    R8 ring.c rr_ring_close (seq_cst)
 *               A8 rr__closed: what happened before the close is visible to
 *                  whoever sees the ring closed
 *   9 futex     R9 wait.c rr__wake_all: the futex word's bump before FUTEX_WAKE
 *               A9 wait.c rr__sleep: the word read before the last re-check, so
 *                  a wake between re-check and sleep makes FUTEX_WAIT return
 *  10 sleeper   R10 wait.c: the sleeper's owner word in `sleeping` (claims.c:
 *                  the CAS taking a free sleeper word of the claim records)
 *               A10 proc.c: a finder of its death (then the CAS, acq_rel)
 *  11 writer    R11/A11 single producer: writer_owner's CAS (writer.c, acq_rel)
 *  12 handles   R12 reader.c, writer.c: the handle count (acq_rel)
 *               A12 ring.c rr_ring_destroy: no handle still uses the block
 *  13 pools     R13 pool.c: rr__pools_ready, after the pools are made
 *               A13 pool.c: a caller that sees it ready sees the pools
 *  14 wproc     R14 proc.c: this process's writer_procs entry (process-local)
 *               A14 proc.c: a second writer handle of the process reuses it
 *  15 record    R15 claims.c: every store to a claim record (the owner's CAS,
 *                  acq_rel; proposals, withdrawals, the free), each after the
 *                  stamps of the record's earlier claims
 *               A15 claims.c: a finder's loads of every record (after an A4
 *                  load of `claim`, which pairs with the producer's R4), and
 *                  a producer's CAS taking a free record: a record value newer
 *                  than a claim's proposal carries that claim's stamps
 *  16 recovery  R16/A16 claims.c: the recovery word's CAS (a finder's take,
 *                  acq_rel; its give back, release): the next finder sees
 *                  every stamp the last one stored
 *  17 pipeline  R17/A17 pipeline.c: the pipeline word's CAS (a take, acq_rel;
 *                  the give back, release): the next holder sees every name,
 *                  mask and flag the last one wrote
 *  18 after     R18 pipeline.c: a reader's `after` mask (its open, a rewrite
 *                  when a reader it follows leaves), after the entries it
 *                  names went ACTIVE
 *               A18 pipeline.c rr__follow_limit: the gates it then loads
 *                  (A3) are those of the readers the mask names, or later
 *  19 name      R19 pipeline.c rr__name_store: a name's sequence word made
 *                  even again (release) after the name's words, which a
 *                  release fence after the odd store keeps after that store
 *               A19 pipeline.c rr__entry_name: the first load of the sequence
 *                  word (acquire), then the words, an acquire fence and the
 *                  sequence word again: equal and even, the words are one
 *                  name, as it stood between two changes
 *  20 poller    R20 poll.c rr__poller_arm: a poller's owner word (the swap
 *                  naming it), after its address and its count in `waiters`
 *               A20 poll.c rr__poller_fire: the notifier's swap of the word
 *                  for 0 (acq_rel): the word names the queue that counts
 *                  the poller, the address it then reads is the one that
 *                  poller stored or a later one
 *  21 fired     R21 poll.c rr__poller_fire: the same swap, after the
 *                  notifier's progress (the publish or release it tells of)
 *               A21 poll.c rr__poller_rearm: the poller's load that finds
 *                  the word 0: its next look sees that progress
 *  22 parked    R22 reader.c rr__park (a durable reader's close; proc.c, for
 *                  a dead process's): the owner word's CAS to RR_OWNER_PARKED
 *                  (acq_rel), after the entry's position, lost and skipped
 *               A22 reader.c rr__resume, rr_ring_reader_drop: the CAS taking
 *                  RR_OWNER_PARKED (acq_rel): the parked place is the one the
 *                  parker left; the gate is not among them (it never
 *                  changes while parked; A3 as ever)
 *
 * Where a store must be ordered before a load of another location, release
 * and acquire are not enough: both sides could read the other's old value.
 * Those places use seq_cst, and say which of these they are:
 *
 *   S1 wake-up  a notifier stores its progress, then loads q->waiters
 *               (rr__notify; rusted_ring_inline.h rr__hot_notify); a waiter adds itself to q->waiters, then
 *               re-checks the progress (wait.c rr__sleep). Without a full
 *               fence on each side the waiter may sleep on progress already
 *               made while the notifier sees nobody to wake. The waiter pays
 *               for both sides with membarrier() where it can (see wait.c);
 *               otherwise both sides fence.
 *   S2 gating   a registering reader stores its gate, bumps gating.gen, then
 *               loads gating.limit / proposed (reader.c rr__register_gate); a
 *               writer loads gen and every gate, stores proposed, then loads
 *               gen again (writer.c rr__gate_refresh). In one total order
 *               either the writer's scan sees the new gate (or gen moved and
 *               it scans again), or the reader sees the proposed limit and
 *               starts no lower than what a writer may overwrite.
 *               gating.reader_hw is raised the same way before the gate.
 *   S3 eviction proc.c stores a dead reader's gate as free, then notifies
 *               writers (S1).
 *
 * A poller (poll.c) takes the waiter's side of S1 as a sleeper does: it
 * counts itself in q->waiters (seq_cst) and names itself (R20), then the
 * waiter's fence (wait.c rr__waiter_barrier), then looks at the progress.
 */

/* ---- helpers shared by the core's files ------------------------------------ */

/* pipeline.c — names, followers and writable readers; see its opening comment. */
/* How to take the pipeline word: TAKE waits while its holder lives; TRY
 * gives up at once if it is busy; BRIEF yields a while, takes it over from a
 * dead holder, and gives up if a live one still holds it (evictions, which
 * are tried again later); HELD (rr__evict_dead_in): the caller holds it. */
enum { RR_PIPE_TAKE = 0, RR_PIPE_TRY = 1, RR_PIPE_BRIEF = 2, RR_PIPE_HELD = 3 };
bool      rr__pipe_lock(const rr_ring *ring, int how);
void      rr__pipe_unlock(const rr_ring *ring);
/* Arguments alone (before an entry is taken): names, handles, the mode. */
rr_status rr__pipe_check(const rr_ring *ring, const rr_reader_options *opts);
/* Under the lock: resolve names, refuse conflicts, write the name, mask and
 * flags into entry `index` (CLAIMED). *mask_out: the readers it follows.
 * A durable opener (opts->durable) of a parked reader's name resumes it
 * instead: nothing is written, and *resume_out is that entry (else -1). */
rr_status rr__pipe_join(const rr_ring *ring, uint32_t index, const rr_reader_options *opts,
                        uint64_t *mask_out, int *resume_out);
/* Under the lock: RR_OK and *parked, the parked durable reader named
 * `name` or -1 when no reader has it (a dead process's durable reader of
 * that name is parked first); the duplicate-name RR_INVALID when a live
 * reader has it. */
rr_status rr__pipe_find_parked(const rr_ring *ring, const char *name, int *parked);
/* Whether entry e's close must take the lock and rewrite masks. */
bool      rr__pipe_involved(const rr_reader_entry *e);
/* Under the lock: entry i leaves; its followers follow what it followed;
 * its name, mask and flags are cleared. Before its gate is freed. */
void      rr__pipe_leave(const rr_ring *ring, uint32_t i);
/* Followers: the first sequence some reader of its mask has not released
 * (UINT64_MAX for an empty mask), and the mask (A18, then A3). */
uint64_t  rr__follow_limit(const rr_ring *ring, const rr_reader_entry *e, uint64_t *mask_out);
/* Followers of a shared ring: evict the readers of `mask` whose processes died. */
uint32_t  rr__follow_evict_dead(const rr_ring *ring, uint64_t mask);
/* Entry e's name becomes w (all zero: none). Its writer holds the entry:
 * its owner (opening, or closing holding the word) or an evictor. */
void      rr__name_store(rr_reader_entry *e, const uint64_t w[4]);
/* The name of entry i (a consistent copy, without the word), or "". */
void      rr__entry_name(const rr_ring *ring, uint32_t i, char out[RR_NAME_MAX + 1]);
/* Tests only (tests/c/test_pipeline.c): when set, rr__entry_name calls it
 * between its loads of a name's first and second words, so a test can
 * change the name there. NULL otherwise. */
extern void (*rr__name_read_hook)(const rr_ring *ring, uint32_t i);

/* reader.c — durable readers. Whether entry e parks instead of leaving: a
 * durable reader that finished opening (one whose opener died before it went
 * ACTIVE was never a reader: it is evicted). The caller holds the entry (its
 * owner word) and the pipeline word: both only change under them. */
static inline bool rr__entry_parks(const rr_reader_entry *e)
{
    return (atomic_load_explicit(&e->flags, memory_order_relaxed) & RR_ENTRY_F_DURABLE) &&
           atomic_load_explicit(&e->state, memory_order_relaxed) == RR_ENTRY_ACTIVE;
}
/* Park entry i, which `holder` holds (its closer, or the evictor of its dead
 * process, with the pipeline word, its sleeper and poller counts already
 * taken back): its cursor becomes its released position, then the owner
 * word RR_OWNER_PARKED (R22). */
void      rr__park_entry(const rr_ring *ring, uint32_t i, uint64_t holder);

/* rr__stamp_writing and rr__stamp_done are in rusted_ring_inline.h. */

/* ---- where a slot lives (see the picture at the top) ----------------------- */

#define RR_SMALL_SLOT (RR_CACHE_LINE - sizeof(rr_slot_meta))   /* 48 */

/* A slot of this size carries its metadata beside its payload. */
static inline bool rr__meta_beside(size_t slot_size)
{
    return slot_size <= RR_SMALL_SLOT;
}

/* Bytes from one slot to the next: metadata and payload in a power of two
 * (32 or 64) for small slots, else the payload rounded up to a cache line. */
static inline size_t rr__slot_stride(size_t slot_size)
{
    if (rr__meta_beside(slot_size))
        return slot_size + sizeof(rr_slot_meta) <= RR_CACHE_LINE / 2 ? RR_CACHE_LINE / 2
                                                                     : RR_CACHE_LINE;
    return (slot_size + RR_CACHE_LINE - 1) / RR_CACHE_LINE * RR_CACHE_LINE;
}

/* Nothing but padding lies between one slot's payload and the next's (the
 * metadata has its own array): a run of payloads may then be written by one
 * copy across the gaps. Not so for small slots, whose gaps hold the next
 * slot's metadata. */
static inline bool rr__payload_gaps_free(const rr_ring *ring)
{
    return !rr__meta_beside(ring->slot_size);
}

static inline unsigned char *rr__slot(const rr_ring *ring, uint64_t idx)
{
    return ring->payload + idx * ring->stride;
}

/* The metadata (stamp, length, type) of slot idx. Every access goes through
 * this, so where the metadata lives can change in one place. */
static inline rr_slot_meta *rr__meta(const rr_ring *ring, uint64_t idx)
{
    return (rr_slot_meta *)(void *)(ring->meta + idx * ring->meta_stride);
}

/* Bytes from one slot's metadata to the next's. */
static inline size_t rr__meta_stride(const rr_ring *ring)
{
    return ring->meta_stride;
}

/* ---- n % capacity without a divide instruction ------------------------------------
 *
 * A 64-bit divide takes tens of cycles; a claim with several producers needs
 * the slot of its sequence at every call. n / capacity is instead a
 * multiplication by a precomputed reciprocal and a shift (Granlund and
 * Montgomery's method, as libdivide's unsigned 64-bit divider does it; the
 * reciprocal of some divisors needs 65 bits: `add` takes the extra bit's
 * step), and the remainder follows. rr__mod_init makes the constants; a
 * power of two is a mask. test_unit checks it against % for many divisors. */
__extension__ typedef unsigned __int128 rr__u128;

static inline void rr__mod_init(rr_ring *ring)
{
    uint64_t d = ring->capacity;
    uint32_t log2 = 63 - (uint32_t)__builtin_clzll(d);
    ring->cap_magic = 0;
    ring->cap_shift = log2;
    ring->cap_add = false;
    if ((d & (d - 1)) == 0)
        return;
    rr__u128 num = (rr__u128)1 << (64 + log2);
    uint64_t m = (uint64_t)(num / d), rem = (uint64_t)(num % d);
    if (d - rem >= (UINT64_C(1) << log2)) {   /* this power is not enough: 65 bits */
        uint64_t twice = rem + rem;
        m += m;
        if (twice >= d || twice < rem)
            m += 1;
        ring->cap_add = true;
    }
    ring->cap_magic = m + 1;
}

static inline uint64_t rr__mod(const rr_ring *ring, uint64_t n)
{
    if (ring->cap_magic == 0)
        return n & (ring->capacity - 1);
    uint64_t q = (uint64_t)(((rr__u128)n * ring->cap_magic) >> 64);
    if (ring->cap_add)
        q = (((n - q) >> 1) + q) >> ring->cap_shift;
    else
        q >>= ring->cap_shift;
    return n - q * ring->capacity;
}

static inline bool rr__closed(const rr_ring *ring)
{
    return atomic_load_explicit(&ring->L->control.closed, memory_order_acquire) != 0;   /* A8 */
}

/* Where the writers have got to: the first sequence not yet claimed. */
static inline uint64_t rr__head(const rr_ring *ring)
{
    return ring->multi
        ? atomic_load_explicit(&ring->L->claim, memory_order_acquire)        /* A4 */
        : atomic_load_explicit(&ring->L->published, memory_order_acquire);   /* A2 */
}

/* How far a reader at `pos` is behind `head`, and that as a share of the
 * capacity, clamped to 0..1 (a lapped overwrite reader can be further). */
static inline uint64_t rr__lag(uint64_t head, uint64_t pos)
{
    return head > pos ? head - pos : 0;
}

/* Backpressure rings: the events a reader has read but not released, [gate,
 * pos) (handed out by its last call, or held); writers cannot reuse their
 * slots, so they count against the room as much as unread events do.
 * Overwrite readers pin nothing. */
static inline uint64_t rr__pinned(const rr_ring *ring, uint64_t gate, uint64_t pos)
{
    return !ring->overwrite && pos > gate ? pos - gate : 0;
}

static inline double rr__ratio(const rr_ring *ring, uint64_t lag)
{
    double ratio = (double)lag / (double)ring->capacity;
    return ratio > 1.0 ? 1.0 : ratio;
}

/* Raise an atomic to at least v (seq_cst: gating.limit and proposed, S2). */
static inline void rr__store_max(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(a, memory_order_seq_cst);
    while (cur < v &&
           !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_seq_cst,
                                                  memory_order_seq_cst)) {
    }
}

/* status.c */
rr_status rr__fail(rr_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* vocab.c: RR_OK for one of the enum's strategies, else RR_INVALID naming them. */
rr_status rr__wait_strategy_check(rr_wait_strategy s, const char *who);

/* wait.c — see the comment at its top for the wake-up protocol. */
void      rr__wait_init(void);
void      rr__wake_all(const rr_ring *ring, rr_waitq *q);
int64_t   rr__deadline(int64_t timeout_ns);
typedef rr_status (*rr_ready_fn)(void *ctx);   /* RR_EMPTY: not yet */
/* `sleeping` (may be NULL): a word in the ring that holds the waiter's owner
 * word while it is counted in q->waiters, so that whoever finds that process
 * dead can take the count back (proc.c). `poll` (may be NULL): while *poll
 * is true (ready() may change it at each look), a sleeping waiter wakes at
 * least every RR_SHM_LIVENESS_NS to look again, for a process that died
 * where nobody would wake it; otherwise it sleeps until woken. `how`: the
 * waiter's strategy; only RR_WAIT_BLOCK ever sleeps on q (and uses
 * `sleeping` and `poll`): the others never count themselves in q->waiters,
 * so nobody makes a wake-up call for them. */
rr_status rr__wait(const rr_ring *ring, rr_waitq *q, rr_ready_fn ready, void *ctx,
                   int64_t deadline, _Atomic uint64_t *sleeping, const bool *poll,
                   rr_wait_strategy how);
/* Take back the waiter count that `sleeping` holds for `owner`: whoever
 * swaps that word for 0 (the waiter itself, or a finder of its death) does. */
void      rr__forget_sleeper(rr_waitq *q, _Atomic uint64_t *sleeping, uint64_t owner);
/* The waiter's half of S1, once it is counted in a queue's waiters and
 * before it looks at the progress again: a full fence, and membarrier()
 * for the notifiers that rely on it (none but the fence for a private ring
 * whose process cannot make membarrier calls: its notifiers fence). False
 * when that could not be assured (the waiter must then look again now and
 * then: rr__waiter_slice_ns says how often). */
bool      rr__waiter_barrier(const rr_ring *ring);
/* How often a waiter of this ring that cannot count on membarrier() must
 * look again, in ns; 0 when it need not. */
int64_t   rr__waiter_slice_ns(const rr_ring *ring);
extern _Atomic bool rr__asym_fences;

/* Tell sleepers on q that their condition may have changed. Call after the
 * store that changed it. This is the notifier's half of S1: with asymmetric
 * fences (wait.c) the waiter pays for the store-load ordering with
 * membarrier(), so this costs one plain load. */
static inline void rr__notify(const rr_ring *ring, rr_waitq *q)
{
    if (atomic_load_explicit(&rr__asym_fences, memory_order_relaxed))
        atomic_signal_fence(memory_order_seq_cst);   /* keep the load after the store */
    else
        atomic_thread_fence(memory_order_seq_cst);   /* store-load fence */
    if (atomic_load_explicit(&q->waiters, memory_order_relaxed) != 0)
        rr__wake_all(ring, q);
}

/* The seqlock's copy (reader.c, block.c): it may race with a writer
 * refilling the slot (or with a claim view's plain stores of a length); the
 * caller throws the copy away unless the stamp is unchanged afterwards. This
 * is the core's one deliberate data race. Inline memcpy (a 4-byte length is
 * one load); ThreadSanitizer builds call an uninstrumented byte loop in
 * reader.c instead. */
#if defined(__SANITIZE_THREAD__)
void rr__overwrite_copy(void *dst, const void *src, size_t n);
#else
static inline void rr__overwrite_copy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}
#endif

/* writer.c */
uint64_t  rr__gate_refresh(rr_ring *ring, uint64_t head);
/* rr_writer_claim_ex; `contiguous` (block.c): at most `count`, as many as lie
 * before the ring's end from where the claim lands (c->count). */
rr_status rr__writer_claim_run(rr_writer *w, uint32_t count, bool contiguous,
                               uint32_t event_type, rr_claim *c, int64_t timeout_ns,
                               rr_wait *wait);
/* The same without setting the slots' lengths and types: the caller sets
 * every one before it publishes. */
rr_status rr__writer_reserve(rr_writer *w, uint32_t count, rr_claim *c, int64_t timeout_ns,
                             rr_wait *wait);
/* rr_writer_publish without checking the lengths: the caller set them
 * through the core, and checked them. */
rr_status rr__writer_publish_sized(rr_writer *w, rr_claim *c);

/* reader.c, for block.c. rr__reader_begin: the start of rr_reader_next (the
 * process check, releasing what the last call handed out, the first event,
 * waited for). rr__reader_release_upto: let writers reuse the slots below
 * `upto` that are not held. rr__reader_check: the process check alone. */
rr_status rr__reader_begin(rr_reader *r, rr_event *first, int64_t timeout_ns);
void      rr__reader_release_upto(rr_reader *r, uint64_t upto);
rr_status rr__reader_check(rr_reader *r);

/* An overwrite reader's scratch: scratch_events payload copies of the slot
 * stride, then (block.c) each copy's length and type, 8 bytes a copy. */
#define RR_SCRATCH_META_BYTES (2 * sizeof(uint32_t))
static inline uint32_t *rr__scratch_meta(const rr_reader *r)
{
    return (uint32_t *)(void *)(r->scratch + r->scratch_events * r->ring->stride);
}

/* proc.c — which process owns an entry, and whether it still runs. */
uint64_t  rr__self_owner(void);
bool      rr__owner_alive(uint64_t owner);
static inline uint32_t rr__owner_pid(uint64_t owner) { return (uint32_t)owner; }
/* Take readers of dead processes out of the table; returns how many. */
uint32_t  rr__evict_dead_readers(const rr_ring *ring, bool sleepers_only);
/* The same for the entries of `mask`; `lock`: how to get the pipeline word
 * (RR_PIPE_*, pipeline.c). */
uint32_t  rr__evict_dead_in(const rr_ring *ring, uint64_t mask, bool sleepers_only, int lock);
void      rr__reap_dead_sleepers(const rr_ring *ring);
/* Take back the count of whoever sleeps in `sleeping` if its process is dead. */
void      rr__forget_dead_sleeper(rr_waitq *q, _Atomic uint64_t *sleeping);
void      rr__drop_dead_writer(rr_layout *L);
/* Multi producer: record this process in control.writer_procs. */
void      rr__writer_proc_register(rr_ring *ring);

/* Thread cancellation (pthread_cancel). A thread cancelled inside the core
 * would keep whatever it held there for as long as its process lives: a
 * claim record while it waits for room, the recovery word (claims.c), a
 * sleeper word and its waiter count (wait.c), a reader entry half evicted,
 * the writer role half taken, the pools' lock. So the core never reaches a
 * cancellation point with cancellation on while it holds one of them: its
 * waits sleep with futex and membarrier through syscall() (no cancellation
 * point, nor is sched_yield), and its reads of /proc (proc.c
 * rr__proc_stat), a recovery as a whole (claims.c) and a shared segment's
 * creation (shm.c) turn cancellation off with these, restoring the caller's
 * state after. A request that comes meanwhile takes effect at the caller's
 * next cancellation point after the call. (Asynchronous cancellation allows
 * no library call at all.) */
static inline int rr__cancel_off(void)
{
    int old = PTHREAD_CANCEL_ENABLE;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    return old;
}

static inline void rr__cancel_restore(int old)
{
    int off;
    pthread_setcancelstate(old, &off);
}

/* Handles inherited through fork(): rr__fork_gen counts the forks this
 * process descends from (bumped in each child); a handle records it when it
 * is opened, and every call that moves a cursor or publishes compares. */
extern _Atomic uint32_t rr__fork_gen;
uint32_t  rr__fork_watch(void);   /* the generation to record in a new handle */
rr_status rr__handle_forked(const rr_ring *ring, _Atomic uint32_t *gen, _Atomic uint64_t *owner,
                            _Atomic uint64_t *held, const char *what);

/* RR_OK when the handle was opened in this process; else RR_FORKED (or, for
 * a ring only this process maps, the child adopts the handle: its `owner`
 * word, and the word `held` in the child's copy that names the handle's
 * process, become the child's; see proc.c). One relaxed load and a compare:
 * the counter changes only in a fork's child handler, before the child runs
 * anything else. */
static inline rr_status rr__check_process(const rr_ring *ring, _Atomic uint32_t *gen,
                                          _Atomic uint64_t *owner, _Atomic uint64_t *held,
                                          const char *what)
{
    if (__builtin_expect(atomic_load_explicit(&rr__fork_gen, memory_order_relaxed) ==
                         atomic_load_explicit(gen, memory_order_relaxed), 1))
        return RR_OK;
    return rr__handle_forked(ring, gen, owner, held, what);
}
int64_t   rr__now_ns(void);

/* claims.c — multi-producer claims of shared rings; see its opening comment. */
rr_status rr__claim_record_take(rr_ring *ring, const rr_writer *w, int64_t deadline,
                                uint32_t *index);
void      rr__claim_record_propose(rr_claim_record *rec, uint64_t first, uint32_t count);
void      rr__claim_record_withdraw(rr_claim_record *rec);
void      rr__claim_record_give(rr_claim_record *rec);
/* A producer going to sleep on writable: a free sleeper word of the claim
 * records (`mine` first) now naming it, or NULL (wait.c). */
_Atomic uint64_t *rr__claims_sleeper_take(const rr_ring *ring, _Atomic uint64_t *mine,
                                          uint64_t me);
/* Recover dead producers' claims if nobody did for RR_SHM_LIVENESS_NS; true
 * when sequences were abandoned (readers and writers were woken) or claim
 * records freed (writers were woken). */
bool      rr__claims_recover_due(const rr_ring *ring);
void      rr__claims_reap_sleepers(const rr_ring *ring);

/* poll.c — pollable fds for event loops; see its opening comment. */
/* Every armed poller of q is told (rr__wake_all calls this). */
void      rr__poll_notify(const rr_ring *ring, rr_waitq *q);
/* The poller named in *owner, if armed, is told now (its count taken back
 * from the queue its address word names). */
void      rr__poller_fire(const rr_ring *ring, _Atomic uint64_t *owner, _Atomic uint64_t *addr);
/* A consuming call found nothing while the handle has a pollfd: drain it,
 * and arm it if it is not armed. True when it armed it now: the caller
 * looks again, and fires it if that look finds something. */
bool      rr__poller_rearm(const rr_ring *ring, rr_poller *p, rr_waitq *q,
                           _Atomic uint64_t *owner, _Atomic uint64_t *addr);
/* Take back the count of the poller armed in *owner (a closing or evicted
 * handle); with `dead_only`, only when its process is dead. */
void      rr__poller_forget(const rr_ring *ring, _Atomic uint64_t *owner, _Atomic uint64_t *addr,
                            bool dead_only);
/* A handle closes: its socket goes, and the ring forgets its poller. */
void      rr__reader_poll_close(rr_reader *r, bool entry_mine);
void      rr__writer_poll_close(rr_writer *w, bool mine);
void      rr__poll_ring_destroy(rr_ring *ring);   /* the ring's sending socket */
/* reader.c, writer.c: whether the handle has something now (events, room)
 * or the ring is closed; a look that consumes nothing. */
bool      rr__reader_has_events(const rr_reader *r);
bool      rr__writer_has_room(rr_writer *w);
rr_status rr__writer_check(rr_writer *w);   /* the process check alone */

/* ring.c */
rr_status rr__format_zeroed(void *mem, size_t len, const rr_config *cfg, rr_ring **out);
uint64_t  rr__read_magic(const void *mem);
/* Offsets of each region and the total (claim records only with `multi`). */
size_t    rr__footprint(uint64_t capacity, size_t slot_size, bool multi, size_t *readers_off,
                        size_t *meta_off, size_t *payload_off);
static inline size_t rr__claims_off(size_t readers_off)
{
    return readers_off + RR_MAX_READERS * sizeof(rr_reader_entry);
}

#endif /* RR_LAYOUT_H */
