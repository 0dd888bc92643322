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
 *   block.c   Block (Reader.next_block), BlockClaim (Writer.claim_block) and
 *             Writer.add_block: many events as one strided buffer
 *   pools.c   the process-wide default pools and emit()
 *   aio.c     event loops: fileno(), and the async methods, whose coroutines are
 *             rusted_ring/_aio.py's
 *
 * Objects and what they own:
 *   Ring    an rr_ring (owned, or one of the process-wide pools, borrowed):
 *           on the heap, or mapped from a named shared segment. Dropping a
 *           shared Ring unmaps it; only Ring.unlink_shared removes the name.
 *   Writer  an rr_writer; keeps its Ring alive.
 *   Claim   one open claim of a Writer (`with w.claim() as slot:`).
 *   Reader  an rr_reader; keeps its Ring alive.
 *   Event   one event handed out by a Reader; keeps the Reader alive once the
 *           Reader moves on (until then the Reader owns it: reader.c).
 *   Block   consecutive events handed out by one next_block call; keeps the
 *           Reader alive.
 *   BlockClaim  one open block claim of a Writer (`with w.claim_block(n)`).
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

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>               /* snprintf: the limited API's Python.h leaves it out */
#include <unistd.h>

#include "rusted_ring.h"

#define RR_PY_SLICE_NS   50000000LL          /* longest wait without the GIL: 50 ms */

/* A function as a PyType_Slot's or PyModuleDef_Slot's `void *`. ISO C has no
 * conversion from a function pointer to `void *` (-Wpedantic says so); through
 * uintptr_t it is implementation-defined, and what CPython's slot API relies on. */
#define RRPY_FN(f) ((void *)(uintptr_t)(f))

/* ---- module state --------------------------------------------------------------- */

/* The coroutines of rusted_ring._aio behind the async methods (aio.c). */
enum { RRPY_AIO_NEXT, RRPY_AIO_NEXT_BATCH, RRPY_AIO_NEXT_BLOCK, RRPY_AIO_EVENTS,
       RRPY_AIO_ADD, RRPY_AIO_ADD_BATCH, RRPY_AIO_COUNT };

typedef struct RingObject RingObject;

typedef struct {
    PyTypeObject *ring_type, *writer_type, *claim_type, *reader_type, *event_type, *iter_type;
    PyTypeObject *block_type, *block_claim_type, *block_view_type;   /* block.c */
    PyObject *RingError, *DataTooLarge, *RingFull, *RingClosed, *TooManyReaders, *WriterBusy,
             *SharedMemoryError, *SharedMemoryNotFound, *SharedMemoryExists,
             *SharedMemoryCreating, *SharedMemoryForeignOwner, *ForkedHandle;
    PyObject *str_backpressure, *str_overwrite, *str_single, *str_multi;
    PyObject *str_wait[RR_WAIT_STRATEGY_COUNT];   /* "block" .. "sleep", by rr_wait_strategy */
    PyObject *pools[RR_POOL_COUNT];          /* Ring objects of the default pools, lazily */
    RingObject *live;                        /* every other Ring alive, borrowed (see below) */
    PyObject *aio_fn[RRPY_AIO_COUNT];        /* rusted_ring._aio's functions, on first use (aio.c) */
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
    int         allow_other_user;   /* shared: opened with it, and a pickled copy asks for it too */
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
    PyObject   *last_seq;    /* the int add() returned last, rewritten if nobody kept it */
    PyObject   *aio;         /* a weak reference to its asyncio waiters, or NULL (aio.c) */
    int         aio_fd;      /* a dup of its pollfd that event loops register, or -1 */
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

/* A Reader owns a reference to each Event of its last call and to its idle
 * Events (see reader.c, "Event lifetime"): cur[0, ncur) are the last call's,
 * cur[ncur, nidle) idle ones, referenced by nothing else, reused by the next
 * call. `freelist` keeps the memory of detached Events that went, for reuse. */
typedef struct {
    PyObject_HEAD
    RingObject   *ring;
    rr_reader    *r;         /* NULL once closed in the core */
    PyTypeObject *event_type;
    rr_wait_strategy wait;   /* how it waits for events (Reader.wait) */
    PyObject     *name;      /* its name (str), or NULL when unnamed; kept after the close */
    int           writable;  /* its events' buffers are writable (ring.reader(writable=True)) */
    int           durable;   /* its close parks its place (ring.reader(durable=True)) */
    int           overwrite;
    int           closed;    /* closed for Python; the core may wait for held events */
    int           busy;      /* a call is in progress ... */
    unsigned long owner;     /* ... started by this thread ... */
    int           waiting;   /* ... and waits with the GIL released: the core reader is in use */
    Py_ssize_t    nheld;     /* events turned into holds, not yet released */
    EventObject **cur;       /* events of the last call, then idle ones (owned references) */
    size_t        ncur, nidle, cur_cap;
    EventObject **freelist;  /* memory of Events gone (not objects: no references) */
    size_t        nfree;     /* ... up to cur_cap of them */
    Py_ssize_t    copy_cap;  /* overwrite: the payload room of a reusable Event; else 0 */
    rr_event     *evbuf;     /* next_batch scratch */
    size_t        evbuf_cap;
    uint64_t     *pending;   /* releases queued while waiting */
    size_t        npending, pending_cap;
    struct BlockObject *block; /* backpressure: the Block of the last call, while alive and
                                  not released (borrowed; block.c) */
    int           ended;     /* the last read found the ring closed and drained */
    PyObject     *aio;       /* a weak reference to its asyncio waiters, or NULL (aio.c) */
    int           aio_fd;    /* a dup of its pollfd that event loops register, or -1 */
} ReaderObject;

/* EV_CURRENT: owned by its reader (an event of the last call, or idle); the
 * reader pointer is borrowed. EV_HELD, EV_GROUPED (backpressure) and EV_COPY
 * (overwrite): detached, it owns a reference to its reader; EV_HELD also a
 * core hold, EV_GROUPED a reference to the EV_HELD event of its call whose
 * hold pins it (`leader`). */
enum { EV_COPY = 0, EV_CURRENT, EV_HELD, EV_GROUPED };

struct EventObject {
    PyObject_VAR_HEAD        /* ob_size: the room in copy[] */
    ReaderObject *reader;
    const char   *data;
    uint64_t      sequence;
    uint32_t      len;
    uint32_t      type;
    Py_ssize_t    exports;
    EventObject  *leader;    /* EV_GROUPED: the event whose hold pins this one */
    int           state;
    char          copy[1];   /* overwrite: the payload */
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
int  rrpy_as_count(PyObject *o, const char *what, uint64_t max, uint64_t *out);
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
/* TypeError "<what> must be <expected>, not <type of o>"; returns NULL. */
PyObject *rrpy_type_error(const char *what, const char *expected, PyObject *o);

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

/* ---- the limited API ------------------------------------------------------------------
 *
 * The binding compiles two ways: against the full C API (the wheels), and
 * against the limited API of CPython 3.11 (Py_LIMITED_API 0x030B0000: heap
 * types from PyType_Spec, METH_FASTCALL, the buffer protocol), an abi3 build
 * that RR_LIMITED_API=1 asks setup.py for (which says why the wheels do not
 * use it). Where the full API has a faster form -- a macro instead of a call,
 * a struct field instead of PyType_GetSlot, rrpy_long_refill -- the helpers
 * use it, and the limited build calls the stable-ABI function that does the
 * same. Every other line of the binding is limited-API code: new code must
 * compile both ways (make test-python RR_LIMITED_API=1). Object structs are
 * passed to Py_TYPE, Py_NewRef, Py_XDECREF, ... cast to PyObject *: the
 * limited API's, from 3.11, take nothing else. */

#ifdef Py_LIMITED_API
# define RRPY_TUPLE_SIZE(t)         PyTuple_Size(t)
# define RRPY_TUPLE_ITEM(t, i)      PyTuple_GetItem(t, i)
/* set the item of a new tuple or list (steals o; cannot fail for an index in range) */
# define RRPY_TUPLE_SET(t, i, o)    ((void)PyTuple_SetItem(t, i, o))
# define RRPY_LIST_SET(l, i, o)     ((void)PyList_SetItem(l, i, o))
#else
# define RRPY_TUPLE_SIZE(t)         PyTuple_GET_SIZE(t)
# define RRPY_TUPLE_ITEM(t, i)      PyTuple_GET_ITEM(t, i)
# define RRPY_TUPLE_SET(t, i, o)    PyTuple_SET_ITEM(t, i, o)
# define RRPY_LIST_SET(l, i, o)     PyList_SET_ITEM(l, i, o)
#endif

/* The bytes of an exact bytes object. */
static inline void rrpy_bytes(PyObject *o, const char **buf, Py_ssize_t *len)
{
#ifdef Py_LIMITED_API
    char *b = NULL;
    *len = 0;
    (void)PyBytes_AsStringAndSize(o, &b, len);    /* cannot fail for a bytes object */
    *buf = b;
#else
    *buf = PyBytes_AS_STRING(o);
    *len = PyBytes_GET_SIZE(o);
#endif
}

/* A new object of one of the binding's types, and freeing one: the type's
 * tp_alloc and tp_free (the limited API reads them with PyType_GetSlot). */
static inline PyObject *rrpy_alloc(PyTypeObject *tp)
{
#ifdef Py_LIMITED_API
    allocfunc alloc = (allocfunc)(uintptr_t)PyType_GetSlot(tp, Py_tp_alloc);
    return alloc(tp, 0);
#else
    return tp->tp_alloc(tp, 0);
#endif
}

static inline void rrpy_free(PyObject *o)
{
#ifdef Py_LIMITED_API
    freefunc free_fn = (freefunc)(uintptr_t)PyType_GetSlot(Py_TYPE(o), Py_tp_free);
    free_fn(o);
#else
    Py_TYPE(o)->tp_free(o);
#endif
}

/* The name of o's type for an error message ("not %.100s"): tp_name, or in the
 * limited API (which has no tp_name to read) the type's __name__, copied into
 * a buffer of this thread's that the next call overwrites -- good for one
 * PyErr_Format. Sets no exception. */
const char *rrpy_type_name(PyObject *o);

/* ---- version shims ---------------------------------------------------------------- */

/* Inlined even where the compiler would not: the few functions of the
 * per-event path that several entry points share (3.10 lacks the macro). */
#ifndef Py_ALWAYS_INLINE
# define Py_ALWAYS_INLINE __attribute__((always_inline))
#endif

/* Whether rrpy_long_refill may write into an int: only on the CPython
 * versions whose int layout it was written for and tested with (3.11 to
 * 3.13), with the GIL, outside the limited API. A new version is added here
 * once the tests run on it (tests/python/test_event_reuse.py). */
#if !defined(PYPY_VERSION) && !defined(Py_LIMITED_API) && !defined(Py_GIL_DISABLED) && \
    PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000
# define RRPY_LONG_REFILL 1
#else
# define RRPY_LONG_REFILL 0
#endif

/* Give an int that nobody but its owner references (a reference count of 1:
 * nobody else can see it) the value v, the way CPython's own zip() and
 * enumerate() refill a result tuple nobody kept, instead of allocating a new
 * one. Only a one-digit positive int beyond the small-int cache takes a
 * one-digit value beyond it. Returns 1 when o now has the value v, 0 (o left
 * alone) for anything else, and always 0 without RRPY_LONG_REFILL: builds
 * whose int layout this does not know, or where a reference count of 1 does
 * not prove it (free-threaded). */
static inline int rrpy_long_refill(PyObject *o, uint64_t v)
{
#if !RRPY_LONG_REFILL
    (void)o; (void)v;
    return 0;
#else
    if (Py_REFCNT(o) != 1 || !PyLong_CheckExact(o) || v <= 256 || v >= ((uint64_t)1 << PyLong_SHIFT))
        return 0;
    PyLongObject *l = (PyLongObject *)o;
# if PY_VERSION_HEX >= 0x030C0000
    if (!_PyLong_IsCompact(l) || _PyLong_CompactValue(l) <= 256)
        return 0;
    l->long_value.ob_digit[0] = (digit)v;
# else
    if (Py_SIZE(l) != 1 || l->ob_digit[0] <= 256)
        return 0;
    l->ob_digit[0] = (digit)v;
# endif
    return 1;
#endif
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

/* The calling thread as PyThread_get_thread_ident() names it -- pthread_self()
 * on every POSIX build of CPython -- without its two calls: every reading and
 * writing call records its owner. */
static inline unsigned long rrpy_thread_ident(void)
{
    return (unsigned long)pthread_self();
}

/* __enter__ of every handle: the handle itself. */
PyObject *rrpy_return_self(PyObject *self, PyObject *unused);

/* pickle.c: __reduce__ of each type. A shared Ring pickles by name; the rest
 * refuse, saying what to pass instead. */
PyObject *rrpy_ring_reduce(PyObject *self, PyObject *unused);
PyObject *rrpy_writer_reduce(PyObject *self, PyObject *unused);
PyObject *rrpy_reader_reduce(PyObject *self, PyObject *unused);
PyObject *rrpy_event_reduce(PyObject *self, PyObject *unused);
PyObject *rrpy_block_reduce(PyObject *self, PyObject *unused);
PyObject *rrpy_claim_reduce(PyObject *self, PyObject *unused);
PyObject *rrpy_block_claim_reduce(PyObject *self, PyObject *unused);
#define RRPY_REDUCE(fn, doc) {"__reduce__", (PyCFunction)(fn), METH_NOARGS, doc}

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
PyObject *rrpy_reader_open(rr_py_state *st, RingObject *ring, const rr_reader_options *opts);
int rrpy_event_check(PyObject *o);

/* block.c: its types (called by module_exec), the methods it gives Reader and
 * Writer, and the step before a reader moves on: the last call's Block, if
 * alive and not released, becomes a hold of its range. */
int rrpy_block_types_add(PyObject *m, rr_py_state *st);
PyObject *rrpy_reader_next_block(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames);
PyObject *rrpy_writer_add_block(WriterObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames);
PyObject *rrpy_writer_claim_block(WriterObject *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames);
void rrpy_block_detach(ReaderObject *self);

/* reader.c, for block.c: a reading call's steps (enter, detach what the last
 * call handed out, apply queued releases, leave), releasing a held range
 * (queued while the reader waits), and an Event of one event of a block that
 * lives on its own (a copy, or a hold of its own). */
int  rrpy_reader_enter(ReaderObject *self);
void rrpy_reader_leave(ReaderObject *self);
void rrpy_reader_detach(ReaderObject *self);
void rrpy_reader_apply_pending(ReaderObject *self);
void rrpy_reader_release_range(ReaderObject *self, uint64_t first, uint64_t n);
PyObject *rrpy_event_detached(ReaderObject *self, const rr_event *e);

/* writer.c, for block.c: a writer call's steps, and its error for a status. */
int  rrpy_writer_enter(WriterObject *self);
void rrpy_writer_leave(WriterObject *self);
int  rrpy_writer_usable(WriterObject *self);
int  rrpy_writer_check_open(WriterObject *self);
PyObject *rrpy_writer_fail(WriterObject *self, rr_status s, int64_t timeout_ns);
void rrpy_writer_claim_begun(WriterObject *self);   /* a claim is between enter and exit */
void rrpy_writer_claim_ended(WriterObject *self);

/* aio.c: the methods it gives Reader and Writer (fileno, the async calls and
 * what rusted_ring._aio uses of them), the step close() takes (waiting tasks
 * are woken), what a dealloc lets go of, and the module state's part. */
#define RRPY_FASTCALL_KW(name, T) \
    PyObject *name(T *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
RRPY_FASTCALL_KW(rrpy_reader_next_async, ReaderObject);
RRPY_FASTCALL_KW(rrpy_reader_next_batch_async, ReaderObject);
RRPY_FASTCALL_KW(rrpy_reader_next_block_async, ReaderObject);
RRPY_FASTCALL_KW(rrpy_reader_aevents, ReaderObject);
RRPY_FASTCALL_KW(rrpy_writer_add_async, WriterObject);
RRPY_FASTCALL_KW(rrpy_writer_add_batch_async, WriterObject);
PyObject *rrpy_reader_fileno(ReaderObject *self, PyObject *unused);
PyObject *rrpy_writer_fileno(WriterObject *self, PyObject *unused);
PyObject *rrpy_reader_aio_fd(ReaderObject *self, PyObject *unused);
PyObject *rrpy_writer_aio_fd(WriterObject *self, PyObject *unused);
PyObject *rrpy_reader_poll_interval(ReaderObject *self, PyObject *unused);
PyObject *rrpy_writer_poll_interval(WriterObject *self, PyObject *unused);
PyObject *rrpy_aio_get(PyObject **aio);
int  rrpy_aio_set(PyObject **aio, PyObject *value);
void rrpy_aio_closed(PyObject **aio, int *aio_fd);
void rrpy_aio_dealloc(PyObject **aio, int *aio_fd);
int  rrpy_aio_traverse(rr_py_state *st, visitproc visit, void *arg);
void rrpy_aio_clear(rr_py_state *st);

PyMODINIT_FUNC PyInit__core(void);

#endif /* RRPY_MODULE_H */
