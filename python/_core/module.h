/*
 * module.h — what the files of the CPython binding (rusted_ring._core) share:
 * the module state, the object structs, and the helpers more than one file
 * calls. Nothing else is shared: every other function is static to its file.
 *
 * Translation only: argument checking, object lifetime and error mapping. Every
 * ring behaviour lives in csrc/. Multi-phase init, module state, heap types.
 *
 * The files, by what each owns (the way CPython's Modules/_sqlite/ splits):
 *   module.c  the module: state, types and exceptions, the one table from core
 *             status to Python exception, waiting with the GIL released, and
 *             the core's vocabulary (thresholds, health bands, stats fields)
 *   args.c    argument helpers: positional/keyword parsing, ints, timeouts, payloads
 *   ring.c    Ring: creation, properties, stats, the registry of live rings
 *   shm.c     Ring.create_shared / open_shared / unlink_shared
 *   writer.c  Writer and Claim (a claim is one open call of its writer)
 *   reader.c  Reader, Event and the events() iterator: one hold protocol
 *   pools.c   the process-wide default pools and emit()
 *
 * Objects and what they own:
 *   Ring    an rr_ring (owned, or one of the process-wide pools, borrowed):
 *           on the heap, or mapped from a named shared segment. Dropping a
 *           shared Ring unmaps it; only Ring.unlink_shared removes the name.
 *   Writer  an rr_writer; keeps its Ring alive.
 *   Claim   one open claim of a Writer (`with w.claim() as slot:`).
 *   Reader  an rr_reader; keeps its Ring alive.
 *   Event   one event handed out by a Reader; keeps the Reader alive.
 *
 * Threads. The GIL serialises every call here except the waits: a blocking call
 * releases the GIL and waits in slices, checking for signals between them.
 * While a reader waits, events other threads drop queue their release for the
 * waiting thread to apply between slices.
 *
 * Re-entrancy. Python code can also run in the middle of a call, on the
 * calling thread: a finalizer or gc callback when the call allocates (CPython
 * <= 3.11 collects on allocation), a payload's .data property or __buffer__
 * (3.12+), an __index__, a signal handler between wait slices -- and another
 * thread whenever that code lets the GIL go. A handle that keeps state across
 * such a point is busy for the whole call (a Reader, a single-producer Writer,
 * a Claim's item access): a second call on it raises RuntimeError
 * (rrpy_raise_busy) and leaves the first call's state as it was. close() is
 * never refused: a handle closed during a call is really closed when the call
 * ends. Each file's audit says where its calls can run Python code and how
 * they stay safe.
 *
 * Shared names start with rrpy_; the type specs are rrpy_<type>_spec.
 */
#ifndef RRPY_MODULE_H
#define RRPY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <unistd.h>

#include "rusted_ring.h"

#define RR_PY_SLICE_NS   50000000LL          /* longest wait without the GIL: 50 ms */

/* A function as a PyType_Slot's or PyModuleDef_Slot's `void *`. ISO C has no
 * conversion from a function pointer to `void *` (-Wpedantic says so); through
 * uintptr_t it is implementation-defined, and what CPython's slot API relies on. */
#define RRPY_FN(f) ((void *)(uintptr_t)(f))

/* ---- module state --------------------------------------------------------------- */

typedef struct RingObject RingObject;

typedef struct {
    PyTypeObject *ring_type, *writer_type, *claim_type, *reader_type, *event_type, *iter_type;
    PyObject *RingError, *DataTooLarge, *RingFull, *RingClosed, *TooManyReaders, *WriterBusy,
             *SharedMemoryError, *SharedMemoryNotFound, *SharedMemoryExists,
             *SharedMemoryCreating, *SharedMemoryForeignOwner, *ForkedHandle;
    PyObject *str_backpressure, *str_overwrite, *str_single, *str_multi;
    PyObject *str_wait[RR_WAIT_STRATEGY_COUNT];   /* "block" .. "sleep", by rr_wait_strategy */
    PyObject *pools[RR_POOL_COUNT];          /* Ring objects of the default pools, lazily */
    RingObject *live;                        /* every other Ring alive, borrowed (see below) */
} rr_py_state;

static inline rr_py_state *state_of(PyObject *module)
{
    return (rr_py_state *)PyModule_GetState(module);
}

static inline rr_py_state *state_of_type(PyTypeObject *t)
{
    return (rr_py_state *)PyType_GetModuleState(t);
}
/* ---- objects -------------------------------------------------------------------- */

/* Every Ring but the pools' is on its module's `live` list from creation to
 * deallocation, which unlinks it. The list holds no references: monitoring
 * (`_live_rings()`) sees the rings that exist without keeping any alive. The
 * GIL guards it. */
struct RingObject {
    PyObject_HEAD
    rr_ring    *ring;
    int         owned;       /* 0 for the process-wide pools */
    PyObject   *name;        /* shared: the segment's name ("/strokes"); else a label or NULL */
    PyObject   *weakrefs;
    RingObject *live_next;
    RingObject **live_prev;  /* NULL while not on the list */
    long        pid;         /* the process that made or opened it (see Ring_exit) */
};

typedef struct {
    PyObject_HEAD
    RingObject *ring;
    rr_writer  *w;           /* NULL once closed */
    rr_wait_strategy wait;   /* how it waits for room (Writer.wait) */
    int         multi;
    int         active;      /* calls in progress (single producer: at most one) */
    unsigned long owner;     /* the thread that started the last of them */
    int         closing;     /* close() asked while calls were active */
    int         claim_open;  /* a Claim of this writer is between enter and exit */
    rr_payload *items;       /* single producer: add_batch scratch, grown on demand */
    Py_buffer  *views;
    size_t      items_cap;
} WriterObject;

typedef struct {
    PyObject_HEAD
    WriterObject *writer;
    rr_claim      c;
    int           state;     /* CLAIM_NEW, CLAIM_OPEN, CLAIM_DONE */
    int           busy;      /* an item access is in progress ... */
    unsigned long owner;     /* ... started by this thread */
    Py_ssize_t    exports;
    Py_ssize_t    length;
    uint32_t      type;
    int64_t       timeout_ns;
} ClaimObject;

/* NEW -> WAITING (claiming) -> OPEN (writable) -> DONE, or OPEN -> DRAINING
 * (left while a buffer of the slot was still alive: the event is abandoned
 * once the last buffer goes, so the slot is never reused under it). */
enum { CLAIM_NEW = 0, CLAIM_WAITING, CLAIM_OPEN, CLAIM_DRAINING, CLAIM_DONE };

typedef struct EventObject EventObject;

typedef struct {
    PyObject_HEAD
    RingObject   *ring;
    rr_reader    *r;         /* NULL once closed in the core */
    PyTypeObject *event_type;
    rr_wait_strategy wait;   /* how it waits for events (Reader.wait) */
    int           overwrite;
    int           closed;    /* closed for Python; the core may wait for held events */
    int           busy;      /* a call is in progress ... */
    unsigned long owner;     /* ... started by this thread ... */
    int           waiting;   /* ... and waits with the GIL released: the core reader is in use */
    Py_ssize_t    nheld;     /* events turned into holds, not yet released */
    EventObject **cur;       /* backpressure: events of the last call (borrowed; NULL = gone) */
    size_t        ncur, cur_cap;
    rr_event     *evbuf;     /* next_batch scratch */
    size_t        evbuf_cap;
    uint64_t     *pending;   /* releases queued while waiting */
    size_t        npending, pending_cap;
} ReaderObject;

enum { EV_COPY = 0, EV_CURRENT, EV_HELD };

struct EventObject {
    PyObject_VAR_HEAD
    ReaderObject *reader;
    const char   *data;
    uint64_t      sequence;
    uint32_t      len;
    uint32_t      type;
    Py_ssize_t    exports;
    Py_ssize_t    idx;       /* EV_CURRENT: index in reader->cur */
    int           state;
    char          copy[1];   /* EV_COPY: the payload (ob_size bytes) */
};

typedef struct {
    PyObject_HEAD
    ReaderObject *reader;
    int64_t       timeout_ns;
    int           ended;
} EventsIterObject;
/* ---- arguments (args.c) ---------------------------------------------------------- */

/* A payload: any C-contiguous bytes-like object, or an event-like object with
 * `data` and `event_type` (PooledEvent, AutoSizedEvent, or an Event). */
typedef struct {
    const char *buf;
    Py_ssize_t  len;
    Py_buffer   view;
    int         has_view;
    int         has_type;    /* the object carried its own event_type */
    uint32_t    type;
} rrpy_payload;

int  rrpy_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, const char *const *names, int nnames, int npos,
                     int nreq, PyObject **out);
int  rrpy_as_u64(PyObject *o, const char *what, uint64_t max, uint64_t *out);
int  rrpy_as_event_type(PyObject *o, uint32_t *out);
int  rrpy_as_timeout(PyObject *o, int64_t none_ns, int64_t *out);
/* The core's names: rrpy_as_name(o, "mode", rrpy_parse_mode, &v). */
typedef rr_status (*rrpy_name_parser)(const char *name, int *out);
int  rrpy_as_name(PyObject *o, const char *what, rrpy_name_parser parse, int *out);
rr_status rrpy_parse_mode(const char *name, int *out);
rr_status rrpy_parse_producers(const char *name, int *out);
rr_status rrpy_parse_start(const char *name, int *out);
rr_status rrpy_parse_wait(const char *name, int *out);
int  rrpy_payload_get(PyObject *o, rrpy_payload *p);

/* Release the payload's view. That may run Python code (__release_buffer__,
 * the exporter's finalizer), so a call reads the core's last error before,
 * and an exception already set stays the one raised. */
static inline void rrpy_payload_release(rrpy_payload *p)
{
    if (!p->has_view)
        return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyBuffer_Release(&p->view);
    p->has_view = 0;
    PyErr_Restore(type, value, tb);
}

/* ---- errors and waiting (module.c) --------------------------------------------- */

PyObject *rrpy_raise_status(rr_py_state *st, rr_status s, const char *detail, ...);
/* msg: the core's message for s, or NULL for this thread's last error. */
PyObject *rrpy_raise_named(rr_py_state *st, rr_status s, PyObject *name, const char *msg);

/* One blocking operation, retried in slices. `op` runs without the GIL;
 * `between` runs with it after each slice that timed out and may stop the wait
 * (returning a status other than RR_OK). Returns the op's status, or -1 with an
 * exception set when a signal handler raised. */
typedef rr_status (*rrpy_wait_op)(void *ctx, int64_t slice_ns);
typedef rr_status (*rrpy_wait_between)(void *ctx);
int rrpy_wait_sliced(void *ctx, rrpy_wait_op op, rrpy_wait_between between, int64_t timeout_ns,
                     rr_status *out);

/* RuntimeError for a call on a handle (`what`: "reader", ...) that a call
 * started by thread `owner` is using. Returns NULL. */
PyObject *rrpy_raise_busy(const char *what, unsigned long owner);

/* __enter__ of every handle: the handle itself. */
PyObject *rrpy_return_self(PyObject *self, PyObject *unused);

/* ---- types and the calls between them ------------------------------------------ */

extern PyType_Spec rrpy_ring_spec, rrpy_writer_spec, rrpy_claim_spec, rrpy_reader_spec,
                   rrpy_event_spec, rrpy_events_iter_spec;
extern PyMethodDef rrpy_ring_functions[], rrpy_pool_functions[];

/* ring.c */
RingObject *rrpy_ring_wrap(PyTypeObject *type, rr_ring *ring, int owned, PyObject *name);
int rrpy_ring_config_from(PyObject *slot_o, PyObject *cap_o, PyObject *mode_o, PyObject *prod_o,
                          rr_config *cfg);
/* shm.c: Ring's class methods */
PyObject *rrpy_ring_create_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames);
PyObject *rrpy_ring_open_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames);
PyObject *rrpy_ring_unlink_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames);
/* writer.c: Ring.writer() */
PyObject *rrpy_writer_open(RingObject *ring, rr_wait_strategy wait);
/* reader.c: Ring.reader(); whether o is an Event (of any interpreter's module) */
PyObject *rrpy_reader_open(rr_py_state *st, RingObject *ring, rr_start start,
                           rr_wait_strategy wait);
int rrpy_event_check(PyObject *o);

PyMODINIT_FUNC PyInit__core(void);

#endif /* RRPY_MODULE_H */
