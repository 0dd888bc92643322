/*
 * rusted_ring.h — the one public header of the rusted_ring C core.
 *
 * A ring holds `capacity` slots of at most `slot_size` payload bytes. One writer
 * (or several, with RR_PRODUCERS_MULTI) claims slots, fills them in place and
 * publishes them; any number of readers (up to RR_MAX_READERS) each follow the
 * stream with their own cursor.
 *
 * Two delivery modes, fixed when the ring is made:
 *   RR_MODE_BACKPRESSURE  readers gate the writer; nothing is ever lost; a
 *                         writer that finds the ring full says so or waits.
 *   RR_MODE_OVERWRITE     the writer never waits for readers; a reader it laps
 *                         skips to the oldest intact event and counts what it
 *                         missed in `lost`. A torn or stale payload is never
 *                         delivered. A reader lapped again before it caught
 *                         up resumes a little later each time (1, 2, 4 ...
 *                         events past the oldest, at most half a lap), since
 *                         the oldest is the slot the writer fills next; every
 *                         sequence skipped is counted. (With several
 *                         producers, a writer can wait for another producer
 *                         still filling the slot it needs a whole lap behind.)
 *
 * Conventions: every fallible call returns an rr_status; rr_strerror() names it
 * and rr_last_error() gives the calling thread's detailed message for its last
 * failure (for example both sizes of an oversized payload). Timeouts are in
 * nanoseconds: 0 never waits, RR_FOREVER (any negative value) waits without
 * limit; rr_timeout_from_seconds() is the one conversion from the seconds that
 * the bindings take. The core never aborts and never prints.
 *
 * "The rusted-ring crate" below is the Rust library (rusted-ring 0.5.4) whose
 * names and behaviour this library keeps: its T-shirt sized pools, its
 * pressure thresholds and its health bands.
 *
 * Thread rules: a ring may be used from any thread. A single-producer writer
 * handle and every reader handle belong to one thread at a time; a
 * multi-producer writer handle may be shared by any number of threads.
 * Cancellation (pthread_cancel): no call is a cancellation point, waits
 * included, but opening an existing shared ring (rr_shm_open, or
 * rr_shm_create with exist_ok), which holds nothing shared meanwhile; a
 * request that comes during any other call takes effect at the thread's
 * next cancellation point after it returns (to end a wait early, close the
 * ring or give a timeout). A claim that a thread leaves open when it exits or is
 * cancelled stands, as a held lock would, until its process exits: publish
 * or abandon it first (in a cleanup handler, say).
 */
#ifndef RUSTED_RING_H
#define RUSTED_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RR_VERSION_MAJOR 0
#define RR_VERSION_MINOR 1
#define RR_VERSION_PATCH 0

#define RR_MAX_READERS   64                /* entries in a ring's reader table */
#define RR_MAX_SLOT_SIZE (64u * 1024 * 1024) /* largest payload slot: 64 MiB */
#define RR_FOREVER       ((int64_t)-1)     /* timeout: wait without limit */
#define RR_MAX_CLAIM     4096u             /* most events claimed in one step */

/* ---- status ------------------------------------------------------------ */

typedef enum rr_status {
    RR_OK = 0,
    RR_EMPTY,             /* nothing to read now (non-blocking read) */
    RR_FULL,              /* no free slot now (non-blocking write) */
    RR_TIMEOUT,           /* the wait ran out */
    RR_CLOSED,            /* the ring (or handle) is closed; end of stream */
    RR_TOO_LARGE,         /* payload larger than the slot */
    RR_INVALID,           /* a bad argument or a call out of order */
    RR_TOO_MANY_READERS,  /* the reader table is full */
    RR_WRITER_BUSY,       /* a single-producer ring already has a live writer */
    RR_IN_USE,            /* cannot change something that is in use */
    RR_NO_MEMORY,         /* allocation failed */
    RR_SHM_NOT_FOUND,     /* no shared segment of that name */
    RR_SHM_EXISTS,        /* a shared segment of that name already exists */
    RR_SHM_INVALID,       /* a segment that is not a ring, or is corrupted */
    RR_SHM_INCOMPATIBLE,  /* a ring of another layout version */
    RR_SYSTEM,            /* an operating-system call failed (see rr_last_error) */
    RR_SHM_CREATING,      /* the shared segment is still being created (the wait ran out) */
    RR_SHM_FOREIGN_OWNER, /* the shared segment belongs to another user */
    RR_FORKED,            /* the handle belongs to another process (inherited via fork) */
    RR_STATUS_COUNT
} rr_status;

/* A static, one-line description of a status ("ring full", ...). */
const char *rr_strerror(rr_status status);

/* The calling thread's detailed message for its last failing call, for
 * example "payload of 100 bytes exceeds the slot size of 64 bytes". Valid
 * until the thread's next failing call. Never NULL. */
const char *rr_last_error(void);

/* ---- rings --------------------------------------------------------------- */

typedef enum rr_mode { RR_MODE_BACKPRESSURE = 0, RR_MODE_OVERWRITE = 1 } rr_mode;
typedef enum rr_producers { RR_PRODUCERS_SINGLE = 0, RR_PRODUCERS_MULTI = 1 } rr_producers;

typedef struct rr_config {
    size_t       slot_size;   /* payload bytes per slot, 1 .. RR_MAX_SLOT_SIZE */
    uint64_t     capacity;    /* slots, >= 1; never rounded */
    rr_mode      mode;
    rr_producers producers;
} rr_config;

typedef struct rr_ring   rr_ring;    /* a process-local handle on a ring block */
typedef struct rr_writer rr_writer;
typedef struct rr_reader rr_reader;

/* How a reader waits for events, or a writer for room (backpressure), for a
 * claim record or for a slot, as the LMAX Disruptor's wait strategies. It is
 * chosen per handle when it is opened, applies to every wait of that handle
 * and never changes what is delivered: every strategy honours the call's
 * timeout, wakes when the ring is closed, and keeps looking for readers and
 * producers of dead processes (shared rings) as often as a blocking waiter.
 *
 *   RR_WAIT_BLOCK  spin briefly, yield, then sleep on a futex until the
 *                  other side wakes it. Costs no CPU while it waits; the
 *                  other side makes a wake-up system call (only) while such
 *                  a waiter sleeps, and the wake-up takes microseconds. The
 *                  default, and the right choice unless latency matters
 *                  more than a core.
 *   RR_WAIT_YIELD  spin briefly, then sched_yield() in a loop; never sleeps,
 *                  so nobody ever makes a wake-up call for it. Low latency
 *                  while leaving the core to other runnable threads, but it
 *                  keeps one core busy (as system time) while it waits.
 *   RR_WAIT_SPIN   busy spin with a CPU pause; never sleeps or yields. The
 *                  lowest latency, at a whole core per waiter: only with a
 *                  core to spare for each spinning thread.
 *   RR_WAIT_SLEEP  spin briefly, yield a while, then sleep RR_WAIT_SLEEP_NS
 *                  at a time (plus the kernel's timer slack, 50 us by
 *                  default); no wake-up call is ever made for it. A few
 *                  percent of a core while it waits, and it notices an event
 *                  within about a tenth of a millisecond: for a background
 *                  reader where the writer must never pay for a wake-up. */
typedef enum rr_wait_strategy {
    RR_WAIT_BLOCK = 0,  /* spin -> yield -> futex sleep, woken by the other side (the default) */
    RR_WAIT_YIELD = 1,  /* spin -> sched_yield; never sleeps; no wake call is ever made for it */
    RR_WAIT_SPIN  = 2,  /* busy spin (with a CPU pause); never sleeps */
    RR_WAIT_SLEEP = 3,  /* spin -> yield -> short nanosleeps; no wake call is ever made for it */
} rr_wait_strategy;
#define RR_WAIT_STRATEGY_COUNT 4
#define RR_WAIT_SLEEP_NS 50000   /* RR_WAIT_SLEEP: one sleep, 50 us (plus timer slack) */

/* Bytes a ring of this configuration occupies (header, reader table, slot
 * metadata, payload), or 0 when the configuration is invalid. */
size_t rr_ring_footprint(const rr_config *cfg);

/* Lay a ring out in caller memory (64-byte aligned, rr_ring_footprint bytes)
 * and attach a handle to it. The block holds no pointers, so the same bytes
 * work wherever they are mapped (with several producers it records each
 * claim's process, as a ring from rr_shm_create does). rr_ring_destroy leaves
 * the memory alone. */
rr_status rr_ring_format(void *mem, size_t len, const rr_config *cfg, rr_ring **out);

/* Attach a handle to a block that rr_ring_format already laid out (in this
 * or another process). The header is validated before anything else in the
 * block is used: RR_SHM_INVALID / RR_SHM_INCOMPATIBLE when it does not match. */
rr_status rr_ring_attach(void *mem, size_t len, rr_ring **out);

/* A ring on the heap. */
rr_status rr_ring_create(const rr_config *cfg, rr_ring **out);

/* Release the handle (and the heap block of rr_ring_create). Writers and
 * readers opened on it must be closed first: RR_IN_USE otherwise, and
 * nothing is freed. NULL is accepted. */
rr_status rr_ring_destroy(rr_ring *ring);

/* End the stream: writers get RR_CLOSED, readers drain what is left and then
 * get RR_CLOSED, and every blocked call wakes. Idempotent. */
rr_status rr_ring_close(rr_ring *ring);

bool         rr_ring_closed(const rr_ring *ring);
size_t       rr_ring_slot_size(const rr_ring *ring);
uint64_t     rr_ring_capacity(const rr_ring *ring);
rr_mode      rr_ring_mode(const rr_ring *ring);
rr_producers rr_ring_producers(const rr_ring *ring);
size_t       rr_ring_memory_bytes(const rr_ring *ring);
uint64_t     rr_ring_published(const rr_ring *ring);   /* events made visible */
/* A random id, 1 .. 2^63-1, chosen when the ring was made (rr_ring_create,
 * rr_ring_format, rr_shm_create): the same in every process that maps it; a
 * shared ring unlinked and created again under the same name gets a new one.
 * A consumer that keeps its place across restarts (a durable reader's
 * sequence numbers) can tell by it that the ring it finds is not the one it
 * left. 0 for NULL. */
uint64_t     rr_ring_instance(const rr_ring *ring);

/* ---- writers ------------------------------------------------------------- */

/* rusted_ring_inline.h has rr_writer_add_inline, rr_writer_claim_inline,
 * rr_claim_data_inline and rr_writer_publish_inline: the same calls, with a
 * single producer's common case inlined into the caller's loop. */

/* A single-producer ring has at most one open writer (RR_WRITER_BUSY for a
 * second); a multi-producer ring any number, and each handle may be shared
 * between threads. rr_writer_open is rr_writer_open_opts with the defaults. */
rr_status rr_writer_open(rr_ring *ring, rr_writer **out);

typedef struct rr_writer_options {
    rr_wait_strategy wait;    /* how the writer waits for room (backpressure) or for a slot */
} rr_writer_options;
#define RR_WRITER_OPTIONS_INIT { RR_WAIT_BLOCK }

/* A writer with these options (NULL: RR_WRITER_OPTIONS_INIT). RR_INVALID,
 * naming the choices, for a wait strategy that is not one of the enum's. The
 * strategy is recorded in the ring (rr_ring_stats.writer_wait). */
rr_status rr_writer_open_opts(rr_ring *ring, const rr_writer_options *opts, rr_writer **out);
rr_wait_strategy rr_writer_wait_strategy(const rr_writer *w);   /* RR_WAIT_BLOCK for NULL */
void      rr_writer_close(rr_writer *w);            /* NULL is accepted */
/* Count n events lost before they reached this ring (a bridge carrying an
 * overwrite-mode source's losses, say), in the ring-wide
 * rr_ring_stats.upstream_lost, which every process sees and which only grows
 * (it stops at UINT64_MAX). RR_INVALID for a NULL writer, RR_FORKED for a
 * handle inherited through fork(). */
rr_status rr_writer_note_lost(rr_writer *w, uint64_t n);

/* One claim: `count` consecutive slots to fill in place. */
typedef struct rr_claim {
    uint64_t sequence;     /* sequence of the first claimed event */
    uint32_t count;        /* events claimed */
    uint32_t slot_size;    /* writable bytes per event */
    /* private to the core */
    void    *_ring;
    uint64_t _idx;         /* slot of the first event */
    uint32_t _state;
    uint32_t _rec;         /* claim record + 1 (shared multi-producer rings), or 0 */
    uint32_t _fork_gen;    /* the process it was made in (see rr_claim_set) */
    uint32_t _stride;      /* bytes from one slot's payload to the next's */
    unsigned char *_data;  /* the first event's payload */
    uint32_t _contig;      /* events from the first that lie before the ring's end */
    uint32_t _pad;
} rr_claim;

/* Claim `count` (1 .. min(capacity, RR_MAX_CLAIM)) slots. Each starts with
 * length slot_size and type `event_type`. Backpressure rings: RR_FULL when
 * there is no room and timeout_ns is 0, else wait up to timeout_ns
 * (RR_TIMEOUT). A single-producer writer holds at most one claim at a time. */
rr_status rr_writer_claim(rr_writer *w, uint32_t count, uint32_t event_type,
                          rr_claim *c, int64_t timeout_ns);

/* Writable payload of claimed event i (0 <= i < count), slot_size bytes. */
void     *rr_claim_data(const rr_claim *c, uint32_t i);

/* Set the published length and type of claimed event i. RR_TOO_LARGE when
 * len > slot_size (the event keeps its previous length). RR_FORKED in a
 * fork()ed child for a claim its parent made on a shared ring (the event is
 * the parent's to finish); a heap ring's claim is the child's, as its copy
 * of the ring is. */
rr_status rr_claim_set(rr_claim *c, uint32_t i, size_t len, uint32_t event_type);

/* Make every event of the claim visible to readers, in order. Every length
 * is checked first (a claim view lets them be written directly): one larger
 * than the slot publishes nothing, RR_TOO_LARGE naming the event, and the
 * claim stays open to be corrected or abandoned. */
rr_status rr_writer_publish(rr_writer *w, rr_claim *c);

/* Give the claim up: no reader ever sees its events. */
rr_status rr_writer_abandon(rr_writer *w, rr_claim *c);

/* Copy one payload in and publish it; *seq_out (may be NULL) receives its
 * sequence. timeout_ns as for rr_writer_claim. */
rr_status rr_writer_add(rr_writer *w, const void *data, size_t len,
                        uint32_t event_type, uint64_t *seq_out, int64_t timeout_ns);

typedef struct rr_payload {
    const void *data;
    size_t      len;
    uint32_t    event_type;
} rr_payload;

/* Publish n payloads with one claim (n <= min(capacity, RR_MAX_CLAIM)); all
 * or none. Every length is checked before anything is claimed. */
rr_status rr_writer_add_batch(rr_writer *w, const rr_payload *items, size_t n,
                              uint64_t *first_seq_out, int64_t timeout_ns);

/* One logical wait for room that a caller splits into several timed calls
 * (a binding does, to run signal handlers between them). The caller starts
 * it with RR_WAIT_INIT and passes the same rr_wait to every call of that
 * wait; a ring that has no room counts the wait in writer_stalls once, on
 * the first call that finds it full, and marks it here. A new rr_wait for the
 * next logical wait. The calls without _ex use a fresh one each time. */
typedef struct rr_wait {
    bool stalled;          /* this wait has been counted in writer_stalls */
} rr_wait;
#define RR_WAIT_INIT { false }

/* rr_writer_claim, rr_writer_add and rr_writer_add_batch as part of the
 * logical wait `wait` (NULL: a wait of its own, as the plain calls). */
rr_status rr_writer_claim_ex(rr_writer *w, uint32_t count, uint32_t event_type, rr_claim *c,
                             int64_t timeout_ns, rr_wait *wait);
rr_status rr_writer_add_ex(rr_writer *w, const void *data, size_t len, uint32_t event_type,
                           uint64_t *seq_out, int64_t timeout_ns, rr_wait *wait);
rr_status rr_writer_add_batch_ex(rr_writer *w, const rr_payload *items, size_t n,
                                 uint64_t *first_seq_out, int64_t timeout_ns, rr_wait *wait);

/* ---- writing blocks (block.c) ---------------------------------------------- */

/* A claim of up to `max` (1 .. rr_ring_max_claim) slots that lie contiguously
 * in memory: fewer at the ring's end (at least 1), never wrapping. Each slot
 * starts with length slot_size and type `event_type`. Otherwise as
 * rr_writer_claim: publish or abandon it; c->count says how many it holds. */
rr_status rr_writer_claim_block(rr_writer *w, uint32_t max, uint32_t event_type, rr_claim *c,
                                int64_t timeout_ns);

/* A writable view of an open claim that does not wrap (every claim of
 * rr_writer_claim_block): claimed event i's payload at data + i * stride
 * (slot_size bytes), its length at *(uint32_t *)((char *)lengths + i *
 * meta_stride), its type likewise. Lengths written here are checked by
 * rr_writer_publish, which publishes nothing (RR_TOO_LARGE, naming the
 * event) when one is larger than the slot. RR_INVALID for a claim that is
 * not open or wraps around the ring's end. Valid until the claim is
 * published or abandoned. Write each payload's slot_size bytes only: the
 * bytes from data + i * stride + slot_size up to the next payload belong to
 * the ring (with slots of up to 48 bytes they hold the next slot's stamp,
 * length and type), so copying or clearing whole strides corrupts the ring. */
typedef struct rr_claim_view {
    unsigned char *data;
    size_t         stride;        /* bytes from one payload to the next */
    uint32_t      *lengths;
    uint32_t      *types;
    size_t         meta_stride;   /* bytes from one length (type) to the next */
} rr_claim_view;
rr_status rr_claim_view_get(const rr_claim *c, rr_claim_view *out);

/* Publish n rows with one claim, all or none: row i is row_bytes bytes at
 * data + i * row_stride. lengths (NULL: every event is row_bytes long; else
 * each at most row_bytes) and types (NULL: every event `event_type`) give
 * each event's length and type. row_bytes <= slot_size (RR_TOO_LARGE naming
 * both), 1 <= n <= rr_ring_max_claim (RR_INVALID); everything is checked
 * before anything is claimed. The claim wraps around the ring's end as
 * rr_writer_add_batch's does. *first_seq_out (may be NULL): the first
 * event's sequence. timeout_ns as for rr_writer_claim. The call reads
 * `lengths` twice, checking them before it waits for room and copying that
 * many bytes of each row after: the caller must not change them (nor `types`)
 * until the call returns; a binding that cannot promise it passes a copy. */
rr_status rr_writer_add_rows(rr_writer *w, const void *data, size_t row_stride, size_t row_bytes,
                             size_t n, const uint32_t *lengths, const uint32_t *types,
                             uint32_t event_type, uint64_t *first_seq_out, int64_t timeout_ns);

/* The two calls above as part of the logical wait `wait` (see rr_wait). */
rr_status rr_writer_claim_block_ex(rr_writer *w, uint32_t max, uint32_t event_type, rr_claim *c,
                                   int64_t timeout_ns, rr_wait *wait);
rr_status rr_writer_add_rows_ex(rr_writer *w, const void *data, size_t row_stride,
                                size_t row_bytes, size_t n, const uint32_t *lengths,
                                const uint32_t *types, uint32_t event_type,
                                uint64_t *first_seq_out, int64_t timeout_ns, rr_wait *wait);

/* ---- readers ------------------------------------------------------------- */

typedef enum rr_start { RR_START_OLDEST = 0, RR_START_LATEST = 1 } rr_start;

typedef struct rr_event {
    uint64_t    sequence;
    uint32_t    len;
    uint32_t    event_type;
    const void *data;      /* len bytes; see rr_reader_next for how long */
} rr_event;

/* Register a reader starting at the next event published (RR_START_LATEST)
 * or at the oldest event the ring still holds for readers (RR_START_OLDEST):
 * in an overwrite ring the last `capacity` events; in a backpressure ring the
 * slowest registered reader's position, or, when no reader is registered,
 * the oldest event a writer is not already allowed to overwrite (writers with
 * nobody to gate them run up to one lap ahead without looking back, so this
 * can be later than published - capacity). RR_TOO_MANY_READERS when the table
 * is full. rr_reader_open is rr_reader_open_opts with that start and
 * RR_WAIT_BLOCK. */
rr_status rr_reader_open(rr_ring *ring, rr_start start, rr_reader **out);

#define RR_NAME_MAX 31   /* longest reader name, in bytes of UTF-8 */

typedef struct rr_reader_options {
    rr_start          start;             /* RR_START_OLDEST by default */
    rr_wait_strategy  wait;              /* RR_WAIT_BLOCK by default */
    const char       *name;              /* NULL or "": unnamed; else unique in the ring */
    const rr_reader *const *after;       /* readers (this process) it follows */
    size_t            after_count;
    const char *const *after_names;      /* readers it follows, by name (any process) */
    size_t            after_names_count;
    bool              writable;          /* may write into the events it is handed */
    bool              durable;           /* its place outlives its handle and process */
} rr_reader_options;
#define RR_READER_OPTIONS_INIT { RR_START_OLDEST, RR_WAIT_BLOCK, NULL, NULL, 0, NULL, 0, false, \
                                 false }

/* A reader with these options (NULL: RR_READER_OPTIONS_INIT). RR_INVALID,
 * naming the choices, for a start or wait strategy that is not one of the
 * enum's. The strategy is recorded in the reader's entry of the ring
 * (rr_reader_stats.wait) and applies to rr_reader_next / next_batch.
 *
 * Pipelines (pipeline.c), the LMAX Disruptor's dependency graph over one ring:
 *   name         1 .. RR_NAME_MAX bytes of UTF-8 without NUL, unique among
 *                the ring's readers (every process sees it in the ring's
 *                reader table: rr_reader_stats.name, after_names). A name held
 *                by a reader of a dead process is taken over.
 *   after,       the readers this one follows, as handles of this process
 *   after_names  (on the same ring handle) or by name (any process, any
 *                language). A follower is never handed an event before
 *                every reader it follows has released it (moved past it and
 *                not holding it), so it sees what they wrote into it.
 *                Backpressure rings only. A reader releases what its last
 *                call handed out at its next call (or close): a stage that
 *                stops reading keeps its last batch from its followers.
 *                When a reader that others follow
 *                closes, or its process dies and it is evicted, its
 *                followers follow what it followed instead (nobody, if it
 *                followed nobody: then they read as plain readers).
 *   writable     the reader may write into the payloads of the events it is
 *                handed (rr_reader_writable_data), for the readers that follow
 *                it to read. Backpressure rings only. Two writable readers
 *                that could hold the same event at once, that is where
 *                neither follows the other (directly or through others), are
 *                refused: the later one must follow the earlier. Readers
 *                that follow no writable reader may read an event while a
 *                writable one writes it.
 * Refused with RR_INVALID, the message naming what was wrong: a name too
 * long, not UTF-8 or already taken; `after` or `writable` on an overwrite
 * ring; a NULL handle, or a reader of another ring, in `after`; an unknown
 * name in after_names, or the reader's own name (a reader cannot follow
 * itself); a second writable reader that could hold events at the same
 * time as another. A follower on a shared ring that waits for the readers
 * it follows looks every RR_SHM_LIVENESS_NS whether their processes still
 * run, and evicts those that died.
 *
 * Durable readers (`durable`, which needs a name; RR_INVALID "a durable
 * reader needs a name" otherwise): the reader's place in the ring outlives
 * its handle and its process. rr_reader_close, and the death of its process,
 * PARK it instead of removing it: its entry keeps its released position (its
 * gate), its name, the readers it follows and those that follow it, its
 * writable flag, and its lost and skipped counts. A parked reader gates the
 * writer as before (backpressure: the writer waits for it, RR_FULL /
 * RR_TIMEOUT when the wait runs out; it is never evicted for being dead), and
 * its followers keep following it. Opening a durable reader by the name of a
 * parked one RESUMES it: the new handle starts at the parked reader's released
 * position, so events handed out but not released before the park (the last
 * call's, and held ones) are handed out again: at least once, not exactly
 * once (a consumer that needs exactly once drops sequences it has seen).
 * `start`, `after`, `after_names` and `writable` are ignored on resume: the
 * place keeps what it had. Of two openers racing to resume one parked reader
 * exactly one wins; the other gets the duplicate-name error (RR_INVALID), as
 * does a durable opener of a name a live reader holds. A plain (not durable)
 * opener of a parked reader's name gets RR_INVALID naming it and saying to
 * open it durable or drop it. Overwrite rings: a parked reader gates nothing
 * (no reader does); it resumes after the last event it was handed, and its
 * `lost` then counts what was overwritten meanwhile. rr_ring_reader_drop
 * removes a parked reader for good. */
rr_status rr_reader_open_opts(rr_ring *ring, const rr_reader_options *opts, rr_reader **out);
rr_wait_strategy rr_reader_wait_strategy(const rr_reader *r);   /* RR_WAIT_BLOCK for NULL */

/* RR_OK when name[0 .. len) may name a reader: at most RR_NAME_MAX bytes, no
 * NUL byte, valid UTF-8 (0 bytes: unnamed). Else RR_INVALID saying why. For
 * bindings whose strings carry a length (and may hold NUL bytes). */
rr_status rr_reader_name_check(const char *name, size_t len);
const char *rr_reader_name(const rr_reader *r);     /* "" when unnamed (or NULL) */
uint32_t  rr_reader_index(const rr_reader *r);      /* its entry in the reader table */
/* The readers it follows now, bit i for entry i (rr_reader_stats.index); 0
 * for none. It changes when one of them closes or is evicted. */
uint64_t  rr_reader_after(const rr_reader *r);
bool      rr_reader_writable(const rr_reader *r);
/* Whether it was opened durable (rr_reader_options.durable); false for NULL. */
bool      rr_reader_durable(const rr_reader *r);
/* A writable reader: the payload of event `sequence`, one it has been handed
 * by its last call (or holds), to write in place; the event's len bytes (its
 * length does not change). Readers that follow this one see the writes once
 * it releases the event. Events of one block lie `stride` bytes apart, so
 * that of the block's first event + i * stride is event i's. RR_INVALID for a
 * reader that is not writable, or a sequence it does not have. */
rr_status rr_reader_writable_data(rr_reader *r, uint64_t sequence, void **data_out);
/* The entry of the ring's reader named `name` (any process), RR_INVALID when
 * none is. */
rr_status rr_ring_reader_find(const rr_ring *ring, const char *name, uint32_t *index_out);
/* Remove the parked durable reader `name` (any process's) for good: it stops
 * gating the writer, its name is free again, and its followers follow what it
 * followed (as when a plain reader closes). RR_INVALID when the ring has no
 * reader of that name, or the reader is not durable (a plain reader leaves
 * when it closes); RR_IN_USE when a live handle holds it (close that first). A
 * durable reader whose process died is parked first, then dropped. */
rr_status rr_ring_reader_drop(rr_ring *ring, const char *name);

/* Unregister: the reader stops gating writers. NULL is accepted. */
void      rr_reader_close(rr_reader *r);

/* The next event. The event stays the reader's until its next call to
 * rr_reader_next or rr_reader_next_batch. Backpressure rings hand out the
 * slot itself (no copy), and no writer reuses it while it is the reader's or
 * held. Overwrite rings hand out the reader's private copy, verified intact.
 * RR_EMPTY (timeout_ns 0) / RR_TIMEOUT when nothing arrives; RR_CLOSED once
 * the ring is closed and everything published has been read (with several
 * producers: every claimed sequence, so a claim left open at the close makes
 * readers wait, up to their timeout, for it to be published or abandoned). */
rr_status rr_reader_next(rr_reader *r, rr_event *ev, int64_t timeout_ns);

/* Up to `max` events in one step (*n_out of them; at least one unless the
 * status is not RR_OK). Overwrite rings copy at most
 * rr_reader_batch_limit() events per call. */
rr_status rr_reader_next_batch(rr_reader *r, rr_event *evs, size_t max,
                               size_t *n_out, int64_t timeout_ns);
size_t    rr_reader_batch_limit(const rr_reader *r);

/* Backpressure rings only: keep event `sequence` (one the reader has been
 * handed and not yet moved past) pinned after the reader moves on, until a
 * matching rr_reader_release. Holds nest. */
rr_status rr_reader_hold(rr_reader *r, uint64_t sequence);
rr_status rr_reader_release(rr_reader *r, uint64_t sequence);

/* Give back `count` events that the reader's last call handed out, the
 * first of them `sequence` and the others the ones after it up to the last
 * handed out: the next call starts at `sequence` and hands them out again
 * (a handler loop's way to leave the rest of a batch unconsumed). Their
 * counts are taken back (delivered; and the sequences passed over between
 * them, skipped or lost, which the next read counts again). Backpressure
 * rings: the slots stay pinned, so the next call hands out the same events;
 * none of them may be held. Overwrite rings: the next call reads them from
 * the ring again, and any the writer has overwritten meanwhile count in
 * `lost`. RR_INVALID (naming the range) for a sequence outside the last
 * call's events or a count that is not how many it handed out from there;
 * count 0 with sequence == cursor does nothing. */
rr_status rr_reader_unread(rr_reader *r, uint64_t sequence, uint64_t count);

/* ---- reading blocks (block.c) ---------------------------------------------- */

/* Consecutive events lying contiguously in memory. */
typedef struct rr_block {
    uint64_t             first_sequence;
    uint32_t             count;        /* events in the block, >= 1 when RR_OK */
    uint32_t             slot_size;    /* bytes of each payload row */
    const unsigned char *data;         /* payload of event 0; event i's at data + i * stride */
    size_t               stride;       /* bytes from one payload to the next */
    const uint32_t      *lengths;      /* event i's length:
                                          *(uint32_t *)((char *)lengths + i * meta_stride) */
    const uint32_t      *types;        /* event i's type, same stride */
    size_t               meta_stride;  /* bytes from one length (type) to the next */
} rr_block;

/* Up to `max` (>= 1) consecutive events that lie contiguously: fewer at the
 * ring's end, and a block ends before an abandoned claim's slot (which the
 * next call passes over and counts in `skipped`). Waits for the first event
 * as rr_reader_next does; the rest are what is already there. The block is
 * the reader's until its next rr_reader_next / next_batch / next_block call,
 * as rr_reader_next_batch's events are: backpressure rings hand out the slots
 * themselves, pinned until then (rr_reader_hold_range keeps them longer);
 * overwrite rings a verified copy in the reader's scratch (at most
 * rr_reader_batch_limit events; a block ends where the writer lapped the
 * copy, and the next call counts what it skips in `lost`). */
rr_status rr_reader_next_block(rr_reader *r, size_t max, rr_block *b, int64_t timeout_ns);

/* rr_reader_hold / rr_reader_release for the n (>= 1) events [first,
 * first + n), all or none (RR_INVALID naming the first event out of range, or
 * not held, and nothing changes). Backpressure rings only. */
rr_status rr_reader_hold_range(rr_reader *r, uint64_t first, uint64_t n);
rr_status rr_reader_release_range(rr_reader *r, uint64_t first, uint64_t n);

uint64_t  rr_reader_cursor(const rr_reader *r);      /* next sequence to read */
uint64_t  rr_reader_lag(const rr_reader *r);         /* published, not yet read */
/* Backpressure rings: events read and still pinned (handed out by the last
 * call, or held), which no writer may reuse yet; 0 in overwrite rings. */
uint64_t  rr_reader_pinned(const rr_reader *r);
uint64_t  rr_reader_lost(const rr_reader *r);        /* skipped after a lap */
uint64_t  rr_reader_delivered(const rr_reader *r);   /* events handed out */
uint64_t  rr_reader_skipped(const rr_reader *r);     /* abandoned claims passed over */
/* For every reader: cursor - start == delivered + lost + skipped, and
 * skipped is 0 with a single producer (its abandoned sequences are reused). */
/* The share of the ring this reader keeps from writers: (lag + pinned) /
 * capacity, clamped to 0..1. At 1.0 a backpressure writer finds the ring
 * full. The same figure as rr_reader_stats.backpressure, and judged by the
 * same rr_ratio_is_under_pressure / rr_ratio_should_throttle. */
double    rr_reader_backpressure_ratio(const rr_reader *r);
bool      rr_reader_is_under_pressure(const rr_reader *r);  /* ratio > 0.8 */
bool      rr_reader_should_throttle(const rr_reader *r);    /* ratio >= 0.9 */

/* ---- event loops (poll.c) --------------------------------------------------- */

/* A file descriptor for poll(), epoll, select and event loops (asyncio's
 * loop.add_reader, libuv's uv_poll, trio's wait_readable) that polls
 * readable (POLLIN) while the reader has events to read or the ring is
 * closed; the writer's while it has room for an event (backpressure; with
 * one producer, always in overwrite mode) or the ring is closed. The first
 * call makes it; later calls give the same fd. The handle owns it:
 * rr_reader_close / rr_writer_close close it. Never read, write or close
 * it yourself; dup() it if your loop must own what it registers.
 *
 * Level-triggered as the caller sees it: once a reading call (next,
 * next_batch, next_block) finds the reader empty -- a writing call finds no
 * room -- the fd stops polling readable until an event is published (room
 * is released) or the ring closes. So on readable, read until a call says
 * RR_EMPTY (or RR_CLOSED). It may poll readable with nothing to read (a
 * spurious wake: the read that finds nothing re-arms it), never stay quiet
 * while events wait. A call that finds nothing costs one system call (the
 * fd's drain), and arming it again one more (membarrier).
 *
 * Costs nothing to the hot paths: an armed fd counts as a waiter, as a
 * sleeping reader does, so a writer makes a wake-up call (futex and one
 * datagram) only while some fd is armed, and the first such call disarms it.
 *
 * Any process sharing the ring can make it poll readable: it is an
 * AF_UNIX datagram socket bound to an abstract address, so the processes
 * must share a network namespace as well as a PID namespace. With several
 * producers, one writer handle per ring at a time may have a pollfd
 * (RR_IN_USE names the process of the one that has; share that handle
 * between threads). RR_SYSTEM when the socket cannot be made. */
rr_status rr_reader_pollfd(rr_reader *r, int *fd);
rr_status rr_writer_pollfd(rr_writer *w, int *fd);

/* How often, in ns, a loop waiting on the pollfd should also make a call
 * (with timeout 0) when the fd stays quiet: 0 for never. Not 0 where the
 * wait may hang on a process that died, which nobody would tell the fd of:
 * a shared ring's reader behind the claim of a dead producer (several
 * producers), a shared ring's writer gated by a dead reader -- the
 * RR_SHM_LIVENESS_NS a blocking call looks again after -- or where this
 * process cannot make the membarrier() call that keeps wake-ups from being
 * lost between processes (1 ms). */
int64_t   rr_reader_poll_interval(const rr_reader *r);
int64_t   rr_writer_poll_interval(const rr_writer *w);

/* ---- statistics ------------------------------------------------------------ */

typedef struct rr_reader_stats {
    uint32_t index;        /* entry in the reader table */
    uint32_t pid;          /* owning process */
    bool     alive;        /* the owning process still runs (always true in-process) */
    uint64_t cursor;       /* next sequence it will read */
    uint64_t lag;          /* published (claimed, with several producers), not yet read */
    uint64_t pinned;       /* backpressure: read but not yet released (handed out, held) */
    uint64_t lost;
    uint64_t skipped;      /* abandoned claims passed over */
    double   backpressure; /* (lag + pinned) / capacity, clamped to 0..1 */
    rr_wait_strategy wait; /* how it waits for events */
    char     name[RR_NAME_MAX + 1]; /* "" when unnamed */
    uint64_t after;        /* bit i: it follows the reader of entry i (pipelines) */
    bool     writable;     /* may write into the events it is handed */
    bool     durable;      /* opened durable: close and death park it */
    bool     parked;       /* durable, and no handle holds it (pid 0, not alive) */
} rr_reader_stats;

typedef struct rr_ring_stats {
    const char     *name;            /* a shared ring's segment name ("/strokes"), else "";
                                        valid while the ring handle is */
    uint64_t        capacity;
    size_t          slot_size;
    rr_mode         mode;
    rr_producers    producers;
    size_t          memory_bytes;
    uint64_t        published;
    uint64_t        writer_stalls;   /* times a writer found the ring full */
    uint64_t        abandoned;       /* events of claims given up */
    uint64_t        claims_recovered;/* of those, events of claims whose producer's process
                                        died, abandoned by whoever found them (shared
                                        multi-producer rings) */
    uint32_t        writers;         /* open writer handles (dead processes' included) */
    uint32_t        writer_pid;      /* single producer: the writer's process, 0 when none */
    uint32_t        writer_processes;/* live processes that opened a writer (multi
                                        producer, shared: until the process exits) */
    bool            writer_alive;    /* writer_processes > 0 */
    rr_wait_strategy writer_wait;    /* how the single writer waits, or (several
                                        producers) the most recently opened writer;
                                        that of the last writer after it closed */
    bool            shared;          /* mapped from a named shared segment */
    uint64_t        readers_evicted; /* readers of dead processes taken out of the table */
    uint64_t        upstream_lost;   /* events lost before they reached the ring
                                        (rr_writer_note_lost) */
    uint64_t        instance;        /* rr_ring_instance */
    bool            closed;
    uint32_t        reader_count;
    double          max_backpressure;
    rr_reader_stats readers[RR_MAX_READERS];
} rr_ring_stats;

/* A snapshot, taken without stopping writers or readers. */
rr_status rr_ring_stats_get(const rr_ring *ring, rr_ring_stats *out);

/* The figures a binding shows, in the order it shows them, as X(field, KIND)
 * over the fields of rr_ring_stats and rr_reader_stats. KIND says how to
 * convert: U64 (any unsigned integer field), BOOL, RATIO (a double, 0..1),
 * MODE / PRODUCERS / WAIT (shown by rr_mode_name / rr_producers_name /
 * rr_wait_strategy_name) and TEXT (a const char *). Both bindings build their dict / table by looping over these
 * lists, so the keys and their order are the same in Python and Lua; after
 * them each adds `readers`, a list with one RR_READER_STATS_FIELDS entry per
 * reader. */
#define RR_RING_STATS_FIELDS(X)                                               \
    X(name, TEXT) X(capacity, U64) X(slot_size, U64) X(mode, MODE)            \
    X(producers, PRODUCERS) X(memory_bytes, U64) X(published, U64)            \
    X(writer_stalls, U64) X(abandoned, U64) X(claims_recovered, U64)          \
    X(writers, U64)                                                           \
    X(writer_pid, U64) X(writer_processes, U64) X(writer_alive, BOOL)         \
    X(writer_wait, WAIT)                                                      \
    X(shared, BOOL) X(closed, BOOL) X(readers_evicted, U64)                   \
    X(upstream_lost, U64) X(instance, U64)                                    \
    X(reader_count, U64) X(max_backpressure, RATIO)
#define RR_READER_STATS_FIELDS(X)                                             \
    X(index, U64) X(pid, U64) X(alive, BOOL) X(cursor, U64) X(lag, U64)       \
    X(pinned, U64) X(lost, U64) X(skipped, U64) X(backpressure, RATIO)       \
    X(wait, WAIT) X(name, TEXT) X(after, U64) X(writable, BOOL)               \
    X(durable, BOOL) X(parked, BOOL)

/* ---- shared memory ----------------------------------------------------------- */

#define RR_SHM_NAME_MAX 200   /* longest segment name, not counting a leading '/' */

/* Options of rr_shm_create_opts / rr_shm_open_opts. Start from
 * RR_SHM_OPTIONS_INIT (the defaults; a NULL options pointer means the same):
 * a zero-filled struct has timeout_ns 0, which never waits. */
typedef struct rr_shm_options {
    /* create: the segment's mode bits, applied as given (0 means 0600) */
    unsigned permissions;
    /* create: when the name is taken, open that ring instead (as
     * rr_shm_open_opts would, with these options), if its slot size,
     * capacity, mode and producers are the ones asked for; RR_SHM_EXISTS,
     * naming both geometries, if not. permissions are then not applied. */
    bool     exist_ok;
    /* open: accept a segment owned by another user than this process's
     * effective one. Its owner can rewrite the ring's cursors and payloads,
     * or truncate it, which kills every process that has it mapped with
     * SIGBUS; by default such a segment is refused (RR_SHM_FOREIGN_OWNER). */
    bool     allow_other_user;
    /* open: how long to wait for a creation in progress to finish, in ns:
     * 0 does not wait, > 0 waits up to that long (RR_SHM_CREATING after),
     * RR_FOREVER (any negative value) waits as long as a live process is
     * creating it. A creator that dies is never waited for. */
    int64_t  timeout_ns;
} rr_shm_options;

#define RR_SHM_OPTIONS_INIT { 0, false, false, RR_FOREVER }

/* Create a ring in POSIX shared memory under `name` and attach a handle. The
 * segment holds the same block an in-process ring uses. Names: one optional
 * leading '/', then 1 .. RR_SHM_NAME_MAX printable ASCII characters other
 * than '/' and space (not "." or ".."); "strokes" and "/strokes" are the
 * same ring. Every page is reserved at once: RR_SYSTEM ("no room in
 * /dev/shm ...") when /dev/shm has no room for it. RR_SHM_EXISTS when the
 * name is taken (unless opts->exist_ok); its message says how to remove a
 * segment whose creator crashed. No other process can use the segment
 * before it is completely laid out: an opener that finds it meanwhile waits
 * (see rr_shm_options.timeout_ns).
 *
 * Processes sharing a ring must share a PID namespace and a time namespace:
 * the reader table records each reader's process (pid, and start time as
 * /proc tells it), and a backpressure writer that finds the ring full takes
 * readers of dead processes out of the table (at most every
 * RR_SHM_LIVENESS_NS while it waits), so a killed reader cannot stop the
 * stream. A single-producer writer whose process died is
 * replaced by the next rr_writer_open. Writer and reader handles belong to
 * the process that opened them: in a child that inherits one through
 * fork(), every call that writes, reads, holds or releases returns
 * RR_FORKED (closing it only frees the child's memory). With several
 * producers, each claim records its process; a claim whose process died is
 * abandoned by the first reader or writer that waits behind it (at most
 * every RR_SHM_LIVENESS_NS), so a killed producer costs only the events it
 * was writing: readers count them in `skipped`, the stats in `abandoned` and
 * `claims_recovered`, and its waiter count is taken back. A claim of a live
 * process, even a stopped one, is waited for. A process that calls exec()
 * keeps its pid and start time, and so its readers, its writer role and its
 * open claims, until the new program exits: readers wait behind a claim it
 * held until then. At most 64 claims of a shared ring are open at once; a
 * further claim waits for one (RR_FULL at once with a timeout of 0). */
rr_status rr_shm_create_opts(const char *name, const rr_config *cfg, const rr_shm_options *opts,
                             rr_ring **out);

/* rr_shm_create_opts with the default options and these permissions. */
rr_status rr_shm_create(const char *name, const rr_config *cfg, unsigned permissions,
                        rr_ring **out);

/* Map an existing shared ring. Before anything in it is used: its owner is
 * checked (RR_SHM_FOREIGN_OWNER, naming the owner, for a segment of another
 * user unless opts->allow_other_user); a creation still in progress is
 * waited for (opts->timeout_ns; RR_SHM_CREATING when the wait runs out);
 * every page is made sure to be backed (RR_SYSTEM, "no room in /dev/shm",
 * rather than a SIGBUS later); and its header (magic, layout version, sizes,
 * mode, checksum, total length against the segment's real size) is checked.
 * RR_SHM_NOT_FOUND, RR_SHM_INVALID (not a ring, truncated, corrupted, or
 * left half made by a creator that died), RR_SHM_INCOMPATIBLE (another
 * layout version), RR_INVALID for a bad name. */
rr_status rr_shm_open_opts(const char *name, const rr_shm_options *opts, rr_ring **out);

/* rr_shm_open_opts with the default options (RR_SHM_OPTIONS_INIT). */
rr_status rr_shm_open(const char *name, rr_ring **out);

/* Remove the name; processes that have the ring mapped keep using it, and the
 * memory goes when the last one lets go. RR_SHM_NOT_FOUND when there is no
 * such segment. */
rr_status rr_shm_unlink(const char *name);

/* The ring's segment name with its leading '/' ("/strokes"), or NULL for a
 * ring that is not a named shared segment. rr_ring_destroy unmaps a shared
 * ring (after its writers and readers are closed); the segment stays until
 * rr_shm_unlink. */
const char *rr_ring_shm_name(const rr_ring *ring);

#define RR_SHM_LIVENESS_NS 100000000   /* 100 ms */

/* ---- pools (the rusted-ring crate's T-shirt sizes) ----------------------- */

typedef enum rr_pool_id {
    RR_POOL_XS = 0, RR_POOL_S = 1, RR_POOL_M = 2, RR_POOL_L = 3, RR_POOL_XL = 4,
    RR_POOL_COUNT = 5
} rr_pool_id;

typedef enum rr_event_size {
    RR_SIZE_XS = 0, RR_SIZE_S, RR_SIZE_M, RR_SIZE_L, RR_SIZE_XL, RR_SIZE_XXL
} rr_event_size;

typedef enum rr_preset {
    RR_PRESET_PRODUCTION = 0, RR_PRESET_MOBILE, RR_PRESET_HIGH_THROUGHPUT
} rr_preset;

typedef struct rr_pool_config {
    uint64_t capacity[RR_POOL_COUNT];   /* XS .. XL */
} rr_pool_config;

size_t        rr_pool_slot_size(rr_pool_id id);  /* 64 256 1024 4096 16384; 0 if bad id */
const char   *rr_pool_name(rr_pool_id id);       /* "XS" .. "XL"; NULL if bad id */
/* The pool named "XS" .. "XL"; RR_INVALID (naming the choices) otherwise. */
rr_status     rr_pool_id_from_name(const char *name, rr_pool_id *out);
const char   *rr_event_size_name(rr_event_size size);   /* "XS" .. "XL", "XXL"; NULL if bad */
rr_event_size rr_estimate_size(size_t len);
/* The smallest pool whose slot fits len; RR_TOO_LARGE above 16384 bytes. */
rr_status     rr_estimate_pool_id(size_t len, rr_pool_id *out);   /* out may be NULL */
rr_status     rr_preset_config(rr_preset preset, rr_pool_config *out);
/* The preset named "production", "mobile" or "high_throughput"; RR_INVALID
 * (naming the choices) otherwise. */
rr_status     rr_preset_from_name(const char *name, rr_preset *out);

/* Configure the process-wide default pools before first use; RR_IN_USE once
 * they exist. Capacities must be >= 1. */
rr_status rr_pools_configure(const rr_pool_config *cfg);
/* The configuration in force (or that will be used when the pools appear). */
void      rr_pools_config(rr_pool_config *out);

/* The default pools: overwrite mode, multi-producer, created on first use
 * (thread-safe). The ring handle is owned by the library. */
rr_status rr_pool_ring(rr_pool_id id, rr_ring **out);
rr_status rr_pool_writer(rr_pool_id id, rr_writer **out);
rr_status rr_pool_reader(rr_pool_id id, rr_start start, rr_reader **out);

/* Auto-sized emit: publish into the smallest pool that fits (its id in
 * *pool_out, which may be NULL). The pools never wait for readers; an emit
 * waits (up to timeout_ns; 0 reports RR_FULL at once) only when another
 * producer is still filling, a whole lap behind, the slot it needs. */
rr_status rr_emit(const void *data, size_t len, uint32_t event_type, int64_t timeout_ns,
                  rr_pool_id *pool_out);

typedef struct rr_pool_stats {
    rr_pool_id id;
    uint64_t   capacity;
    size_t     slot_size;
    size_t     memory_bytes;         /* 0 until the pool exists */
    uint64_t   published;
    uint32_t   reader_count;
    double     current_backpressure; /* largest ratio among its readers */
} rr_pool_stats;

/* One entry per pool, XS .. XL. Pools not yet created report their
 * configured capacity and no pressure; this call does not create them. */
void rr_pool_stats_collect(rr_pool_stats out[RR_POOL_COUNT]);

/* "Pool XS: capacity=2000, backpressure=15.3%". Returns what snprintf would. */
int  rr_pool_stats_format(const rr_pool_stats *s, char *buf, size_t len);

/* ---- vocabulary the bindings share ------------------------------------------ */

/* Names as the bindings spell them: "backpressure" / "overwrite", "single" /
 * "multi", "oldest" / "latest", "block" / "yield" / "spin" / "sleep". A *_name of a value that is not one of the
 * enum's returns NULL; a *_from_name of an unknown name (or NULL) returns
 * RR_INVALID with a message naming the choices and what was given. */
const char *rr_mode_name(rr_mode mode);
rr_status   rr_mode_from_name(const char *name, rr_mode *out);
const char *rr_producers_name(rr_producers producers);
rr_status   rr_producers_from_name(const char *name, rr_producers *out);
const char *rr_start_name(rr_start start);
rr_status   rr_start_from_name(const char *name, rr_start *out);
const char *rr_wait_strategy_name(rr_wait_strategy s);          /* "block" "yield" "spin" "sleep" */
rr_status   rr_wait_strategy_from_name(const char *name, rr_wait_strategy *out);

/* The most events one claim (or batch) may take on this ring:
 * min(capacity, RR_MAX_CLAIM); 0 for NULL. */
uint32_t    rr_ring_max_claim(const rr_ring *ring);

/* Seconds, as both bindings take them, to the core's nanoseconds. The one
 * contract of every timeout in both languages:
 *   0 (and -0.0)  never wait                          -> 0
 *   > 0           wait up to that long, rounded to the nearest nanosecond
 *                 (0.067 -> 67000000), and at least 1 ns however tiny; at most
 *                 RR_TIMEOUT_MAX_S (longer ones wait that long)
 *   +infinity     wait without limit                  -> RR_FOREVER
 *   negative, NaN RR_INVALID, the message naming the value; *ns_out untouched
 * (A binding's None / nil stands for that call's documented default and never
 * reaches this function.) */
#define RR_TIMEOUT_MAX_S  1.0e9                   /* about 31.7 years */
#define RR_TIMEOUT_MAX_NS INT64_C(1000000000000000000)
rr_status   rr_timeout_from_seconds(double seconds, int64_t *ns_out);

/* Pressure, from a backpressure ratio (rr_reader_backpressure_ratio,
 * rr_reader_stats.backpressure, rr_ring_stats.max_backpressure), with the
 * rusted-ring crate's thresholds: under pressure above 0.8, throttle from 0.9.
 * A NaN ratio is both (as rr_health_of calls it CRITICAL). */
#define RR_PRESSURE_THRESHOLD 0.8
#define RR_THROTTLE_THRESHOLD 0.9
bool rr_ratio_is_under_pressure(double ratio);   /* ratio > RR_PRESSURE_THRESHOLD, or NaN */
bool rr_ratio_should_throttle(double ratio);     /* ratio >= RR_THROTTLE_THRESHOLD, or NaN */

/* Health bands of a ratio (the worst reader's, for a ring or a system). They
 * agree with the two predicates above at every edge:
 *   EXCELLENT  ratio < RR_HEALTH_GOOD_FROM (0.5)
 *   GOOD       0.5 <= ratio <= 0.8         (not under pressure)
 *   WARNING    0.8 < ratio < 0.9           (under pressure, not throttling)
 *   CRITICAL   ratio >= 0.9, or NaN        (should throttle)
 * So exactly 0.8 is GOOD, and exactly 0.9 is CRITICAL. */
#define RR_HEALTH_GOOD_FROM 0.5
typedef enum rr_health {
    RR_HEALTH_EXCELLENT = 0, RR_HEALTH_GOOD, RR_HEALTH_WARNING, RR_HEALTH_CRITICAL,
    RR_HEALTH_COUNT
} rr_health;
rr_health   rr_health_of(double ratio);
const char *rr_health_name(rr_health health);    /* "EXCELLENT" .. "CRITICAL"; NULL if bad */

#ifdef __cplusplus
}
#endif
#endif /* RUSTED_RING_H */
