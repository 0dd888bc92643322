/*
 * _core.c — the CPython binding of the rusted_ring C core (csrc/).
 *
 * Translation only: argument checking, object lifetime and error mapping. Every
 * ring behaviour lives in csrc/. Multi-phase init, module state, heap types.
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
 * Event lifetime. In backpressure mode an Event's payload is the ring's slot
 * itself. The core keeps the slots of a reader's last call pinned; before the
 * reader moves on, every Event of that call still alive (someone kept it, or a
 * buffer taken from it) is turned into a hold (rr_reader_hold) that its
 * deallocation releases. So an Event's bytes never change while it exists, and a
 * reader that is closed while some of its events are still held stays registered
 * (gating writers) until the last of them goes. In overwrite mode an Event owns
 * a copy of the payload, verified intact by the core.
 *
 * Threads. The GIL serialises every call here except the waits: a blocking call
 * marks its handle busy, releases the GIL and waits in slices, checking for
 * signals between them. While a reader is busy, other threads cannot use it
 * (RuntimeError) and events they drop queue their release for the waiting thread
 * to apply between slices; a handle closed meanwhile is really closed when the
 * wait ends.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "rusted_ring.h"

#define RR_PY_SLICE_NS   50000000LL          /* longest wait without the GIL: 50 ms */
#define RR_PY_MAX_WAIT_S 1.0e9               /* longer timeouts mean "forever" */

/* ---- module state --------------------------------------------------------------- */

typedef struct RingObject RingObject;

typedef struct {
    PyTypeObject *ring_type, *writer_type, *claim_type, *reader_type, *event_type, *iter_type;
    PyObject *RingError, *DataTooLarge, *RingFull, *RingClosed, *TooManyReaders, *WriterBusy,
             *SharedMemoryError, *SharedMemoryNotFound, *SharedMemoryExists;
    PyObject *str_backpressure, *str_overwrite, *str_single, *str_multi;
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
};

typedef struct {
    PyObject_HEAD
    RingObject *ring;
    rr_writer  *w;           /* NULL once closed */
    int         multi;
    int         active;      /* calls waiting with the GIL released */
    int         closing;     /* close() asked while calls were active */
    int         claim_open;  /* a Claim of this writer is between enter and exit */
    rr_payload *items;       /* add_batch scratch, grown on demand */
    Py_buffer  *views;
    size_t      items_cap;
} WriterObject;

typedef struct {
    PyObject_HEAD
    WriterObject *writer;
    rr_claim      c;
    int           state;     /* CLAIM_NEW, CLAIM_OPEN, CLAIM_DONE */
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
    int           overwrite;
    int           closed;    /* closed for Python; the core may wait for held events */
    int           busy;      /* a call is waiting with the GIL released */
    Py_ssize_t    nheld;     /* events turned into holds, not yet released */
    EventObject **cur;       /* backpressure: events of the last call (borrowed; NULL = gone) */
    size_t        ncur, cur_cap;
    rr_event     *evbuf;     /* next_batch scratch */
    size_t        evbuf_cap;
    uint64_t     *pending;   /* releases queued while busy */
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

/* ---- errors: one table from core status to Python exception ------------------- */

/* The exception for status s, and the errno that goes with it for the
 * statuses that raise an OSError subclass the way open() would (0: none). */
static PyObject *exception_for(rr_py_state *st, rr_status s, int *err)
{
    *err = 0;
    switch (s) {
    case RR_FULL: case RR_TIMEOUT:       return st->RingFull;
    case RR_CLOSED:                      return st->RingClosed;
    case RR_TOO_LARGE:                   return st->DataTooLarge;
    case RR_INVALID:                     return PyExc_ValueError;
    case RR_TOO_MANY_READERS:            return st->TooManyReaders;
    case RR_WRITER_BUSY:                 return st->WriterBusy;
    case RR_NO_MEMORY:                   return PyExc_MemoryError;
    case RR_SHM_NOT_FOUND:               *err = ENOENT; return st->SharedMemoryNotFound;
    case RR_SHM_EXISTS:                  *err = EEXIST; return st->SharedMemoryExists;
    case RR_SHM_INVALID: case RR_SHM_INCOMPATIBLE:
                                         return st->SharedMemoryError;
    case RR_SYSTEM:                      return PyExc_OSError;
    default:                             return st->RingError;
    }
}

/* Raise for status s. `detail` (printf-style, may be NULL) replaces the core's
 * message for outcomes the core reports without one (full, timeout, closed). */
static PyObject *raise_status(rr_py_state *st, rr_status s, const char *detail, ...)
{
    int err;
    PyObject *exc = exception_for(st, s, &err);
    if (detail) {
        va_list ap;
        va_start(ap, detail);
        PyObject *msg = PyUnicode_FromFormatV(detail, ap);
        va_end(ap);
        if (msg) {
            PyErr_SetObject(exc, msg);
            Py_DECREF(msg);
        }
    } else {
        PyErr_SetString(exc, rr_last_error());
    }
    return NULL;
}

/* Raise for status s of a call on the shared segment `name`. A missing or
 * taken name raises FileNotFoundError / FileExistsError (also
 * SharedMemoryError) with errno and filename, as opening a file would. */
static PyObject *raise_named(rr_py_state *st, rr_status s, PyObject *name)
{
    int err;
    PyObject *exc = exception_for(st, s, &err);
    if (!err)
        return raise_status(st, s, NULL);
    PyObject *args = Py_BuildValue("(isO)", err, rr_strerror(s), name);
    if (args) {
        PyErr_SetObject(exc, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* ---- argument helpers ------------------------------------------------------------ */

/* Positional-or-keyword parsing for METH_FASTCALL | METH_KEYWORDS: names[0..npos)
 * may come by position, the rest only by keyword. Unset entries stay NULL. */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames, const char *const *names, int nnames, int npos,
                      int nreq, PyObject **out)
{
    for (int i = 0; i < nnames; i++)
        out[i] = NULL;
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional arguments (%zd given)",
                     fname, npos, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < nnames && PyUnicode_CompareWithASCIIString(key, names[i]) != 0)
            i++;
        if (i == nnames) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, key);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < nreq; i++)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    return 0;
}

/* A non-negative integer (bool excluded). what: the argument's name. */
static int as_u64(PyObject *o, const char *what, uint64_t max, uint64_t *out)
{
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (overflow == 0 && v < 0)) {
        PyErr_Format(PyExc_ValueError, "%s must not be negative, got %R", what, o);
        return -1;
    }
    if (overflow > 0 || (uint64_t)v > max) {
        PyErr_Format(PyExc_ValueError, "%s must be at most %llu, got %R", what,
                     (unsigned long long)max, o);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int as_event_type(PyObject *o, uint32_t *out)
{
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "event_type must be an int, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < 0 || v > (long long)UINT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "event_type must be in 0..4294967295, got %R", o);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Seconds (int or float, >= 0) to nanoseconds; None means `none_ns`. */
static int as_timeout(PyObject *o, int64_t none_ns, int64_t *out)
{
    if (!o || o == Py_None) {
        *out = none_ns;
        return 0;
    }
    if (PyLong_Check(o) && !PyBool_Check(o)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (overflow < 0 || (overflow == 0 && v < 0))
            goto negative;
        *out = overflow > 0 || v > (long long)RR_PY_MAX_WAIT_S ? RR_FOREVER : (int64_t)v * 1000000000LL;
        return 0;
    }
    if (!PyFloat_Check(o)) {
        PyErr_Format(PyExc_TypeError, "timeout must be a number of seconds or None, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    double s = PyFloat_AsDouble(o);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (isnan(s)) {
        PyErr_SetString(PyExc_ValueError, "timeout must be a number of seconds, not NaN");
        return -1;
    }
    if (s < 0)
        goto negative;
    *out = s > RR_PY_MAX_WAIT_S ? RR_FOREVER : (int64_t)(s * 1e9);
    return 0;
negative:
    PyErr_Format(PyExc_ValueError, "timeout must be >= 0 seconds or None, got %R", o);
    return -1;
}

/* A shared segment's mode bits, 0 .. 0o777 (the core reads 0 as 0o600). */
static int as_permissions(PyObject *o, unsigned *out)
{
    uint64_t v;
    if (as_u64(o, "permissions", 0777, &v) == 0) {
        *out = (unsigned)v;
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_ValueError)) {   /* say it in octal */
        PyErr_Clear();
        PyObject *oct = PyNumber_ToBase(o, 8);
        if (oct) {
            PyErr_Format(PyExc_ValueError, "permissions must be mode bits from 0o0 to 0o777, got %U", oct);
            Py_DECREF(oct);
        }
    }
    return -1;
}

/* A payload: any C-contiguous bytes-like object, or an event-like object with
 * `data` and `event_type` (PooledEvent, AutoSizedEvent, or an Event). */
typedef struct {
    const char *buf;
    Py_ssize_t  len;
    Py_buffer   view;
    int         has_view;
    int         has_type;    /* the object carried its own event_type */
    uint32_t    type;
} payload;

static void Event_dealloc(EventObject *self);

static int payload_get(PyObject *o, payload *p)
{
    p->has_view = 0;
    p->has_type = 0;
    if (Py_TYPE(o)->tp_dealloc == (destructor)Event_dealloc) {   /* forwarding an Event */
        EventObject *ev = (EventObject *)o;
        p->buf = ev->data;
        p->len = ev->len;
        p->has_type = 1;
        p->type = ev->type;
        return 0;
    }
    if (PyBytes_CheckExact(o)) {
        p->buf = PyBytes_AS_STRING(o);
        p->len = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &p->view, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "data must be a C-contiguous bytes-like object; this %.100s is not contiguous",
                         Py_TYPE(o)->tp_name);
            return -1;
        }
        p->has_view = 1;
        p->buf = p->view.buf;
        p->len = p->view.len;
        return 0;
    }
    PyObject *data = PyUnicode_Check(o) ? NULL : PyObject_GetAttrString(o, "data");
    if (!data) {
        if (PyUnicode_Check(o) || PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "data must be a bytes-like object or an event with .data and .event_type, "
                         "not %.100s (encode text first)", Py_TYPE(o)->tp_name);
        }
        return -1;
    }
    PyObject *et = PyObject_GetAttrString(o, "event_type");
    if (!et) {
        Py_DECREF(data);
        return -1;
    }
    int rc = as_event_type(et, &p->type);
    Py_DECREF(et);
    if (rc == 0 && (!PyObject_CheckBuffer(data) || PyObject_GetBuffer(data, &p->view, PyBUF_SIMPLE) < 0)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "the event's data must be a contiguous bytes-like object, not %.100s",
                     Py_TYPE(data)->tp_name);
        rc = -1;
    }
    Py_DECREF(data);             /* the view keeps what it exports alive */
    if (rc < 0)
        return -1;
    p->has_view = 1;
    p->has_type = 1;
    p->buf = p->view.buf;
    p->len = p->view.len;
    return 0;
}

static inline void payload_release(payload *p)
{
    if (p->has_view)
        PyBuffer_Release(&p->view);
}

/* ---- waiting with the GIL released ----------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One blocking operation, retried in slices. `op` runs without the GIL;
 * `between` runs with it after each slice that timed out and may stop the wait
 * (returning a status other than RR_OK). Returns the op's status, or -1 with an
 * exception set when a signal handler raised. */
typedef rr_status (*wait_op)(void *ctx, int64_t slice_ns);
typedef rr_status (*wait_between)(void *ctx);

static int wait_sliced(void *ctx, wait_op op, wait_between between, int64_t timeout_ns,
                       rr_status *out)
{
    int64_t deadline = timeout_ns < 0 ? 0 : now_ns() + timeout_ns;
    for (;;) {
        int64_t slice = RR_PY_SLICE_NS;
        if (timeout_ns >= 0) {
            int64_t left = deadline - now_ns();
            if (left <= 0) {
                *out = RR_TIMEOUT;
                return 0;
            }
            if (left < slice)
                slice = left;
        }
        rr_status s;
        Py_BEGIN_ALLOW_THREADS
        /* The caller made the first, non-waiting attempt: the slices resume
         * that one wait, which counts once in writer_stalls. */
        rr_writer_wait_resumed(true);
        s = op(ctx, slice);
        rr_writer_wait_resumed(false);
        Py_END_ALLOW_THREADS
        if (s != RR_TIMEOUT) {
            *out = s;
            return 0;
        }
        if (PyErr_CheckSignals() < 0)
            return -1;
        if (between && (s = between(ctx)) != RR_OK) {
            *out = s;
            return 0;
        }
    }
}

/* ==== Ring ========================================================================= */

static const char *mode_name(rr_mode m) { return m == RR_MODE_OVERWRITE ? "overwrite" : "backpressure"; }
static const char *producers_name(rr_producers p) { return p == RR_PRODUCERS_MULTI ? "multi" : "single"; }

static int parse_choice(PyObject *o, const char *what, const char *a, const char *b, int *out)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (PyUnicode_CompareWithASCIIString(o, a) == 0)
        *out = 0;
    else if (PyUnicode_CompareWithASCIIString(o, b) == 0)
        *out = 1;
    else {
        PyErr_Format(PyExc_ValueError, "%s must be '%s' or '%s', not %R", what, a, b, o);
        return -1;
    }
    return 0;
}

/* The registry of live rings: a doubly linked list through the Ring objects. */
static void ring_register(rr_py_state *st, RingObject *self)
{
    self->live_next = st->live;
    if (st->live)
        st->live->live_prev = &self->live_next;
    st->live = self;
    self->live_prev = &st->live;
}

static void ring_unregister(RingObject *self)
{
    if (!self->live_prev)
        return;
    *self->live_prev = self->live_next;
    if (self->live_next)
        self->live_next->live_prev = self->live_prev;
    self->live_prev = NULL;
    self->live_next = NULL;
}

/* A Ring object for `ring`. Owned rings go on the registry; the pools
 * (owned = 0) do not. On failure the caller still owns `ring`. */
static RingObject *ring_wrap(PyTypeObject *type, rr_ring *ring, int owned, PyObject *name)
{
    RingObject *self = (RingObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->ring = ring;
    self->owned = owned;
    self->name = Py_XNewRef(name);
    if (owned)
        ring_register(state_of_type(type), self);
    return self;
}

/* slot_size, capacity, mode and producers as Ring() and create_shared() take them
 * (mode_o and prod_o may be NULL: the defaults). */
static int config_from(PyObject *slot_o, PyObject *cap_o, PyObject *mode_o, PyObject *prod_o,
                       rr_config *cfg)
{
    uint64_t slot, cap;
    int mode = 0, prod = 0;
    if (as_u64(slot_o, "slot_size", RR_MAX_SLOT_SIZE, &slot) < 0 ||
        as_u64(cap_o, "capacity", UINT64_MAX >> 1, &cap) < 0)
        return -1;
    if (slot == 0 || cap == 0) {
        PyErr_Format(PyExc_ValueError, "%s must be at least 1, got 0", slot == 0 ? "slot_size" : "capacity");
        return -1;
    }
    if ((mode_o && parse_choice(mode_o, "mode", "backpressure", "overwrite", &mode) < 0) ||
        (prod_o && parse_choice(prod_o, "producers", "single", "multi", &prod) < 0))
        return -1;
    *cfg = (rr_config){.slot_size = (size_t)slot, .capacity = cap,
                       .mode = mode ? RR_MODE_OVERWRITE : RR_MODE_BACKPRESSURE,
                       .producers = prod ? RR_PRODUCERS_MULTI : RR_PRODUCERS_SINGLE};
    return 0;
}

static PyObject *Ring_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"slot_size", "capacity", "mode", "producers", "name", NULL};
    PyObject *slot_o, *cap_o, *mode_o = NULL, *prod_o = NULL, *name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$OOO:Ring", kwlist, &slot_o, &cap_o,
                                     &mode_o, &prod_o, &name))
        return NULL;
    rr_config cfg;
    if (config_from(slot_o, cap_o, mode_o, prod_o, &cfg) < 0)
        return NULL;
    if (name == Py_None)
        name = NULL;
    if (name && !PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "name must be a str or None, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    rr_ring *ring;
    rr_status s = rr_ring_create(&cfg, &ring);
    if (s != RR_OK)
        return raise_status(state_of_type(type), s, NULL);
    RingObject *self = ring_wrap(type, ring, 1, name);
    if (!self)
        rr_ring_destroy(ring);
    return (PyObject *)self;
}

/* ---- shared memory ---- */

/* A segment name as the core takes it. Only str: the core checks the rest
 * (length, characters, '/') and says which rule a name breaks. */
static const char *shm_name_arg(PyObject *o)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *name = PyUnicode_AsUTF8AndSize(o, &n);
    if (name && strlen(name) != (size_t)n) {
        PyErr_SetString(PyExc_ValueError, "a shared ring's name must not contain NUL characters");
        return NULL;
    }
    return name;
}

/* A Ring object for a ring the core just mapped; NULL (ring released) on failure. */
static PyObject *ring_shared(PyTypeObject *type, rr_ring *ring)
{
    PyObject *name = PyUnicode_FromString(rr_ring_shm_name(ring));
    RingObject *self = name ? ring_wrap(type, ring, 1, name) : NULL;
    Py_XDECREF(name);
    if (!self)
        rr_ring_destroy(ring);
    return (PyObject *)self;
}

static PyObject *Ring_create_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    static const char *const names[] = {"name", "slot_size", "capacity", "mode", "producers",
                                        "permissions"};
    PyObject *a[6];
    const char *name;
    rr_config cfg;
    unsigned perm = 0600;
    if (parse_args("create_shared", args, nargs, kwnames, names, 6, 3, 3, a) < 0 ||
        !(name = shm_name_arg(a[0])) || config_from(a[1], a[2], a[3], a[4], &cfg) < 0 ||
        (a[5] && as_permissions(a[5], &perm) < 0))
        return NULL;
    rr_ring *ring;
    rr_status s;
    Py_BEGIN_ALLOW_THREADS           /* lays the whole segment out */
    s = rr_shm_create(name, &cfg, perm, &ring);
    Py_END_ALLOW_THREADS
    if (s != RR_OK)
        return raise_named(state_of_type(type), s, a[0]);
    PyObject *self = ring_shared(type, ring);
    if (!self)
        rr_shm_unlink(name);         /* nobody was handed the ring we made */
    return self;
}

static PyObject *Ring_open_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"name"};
    PyObject *a[1];
    const char *name;
    if (parse_args("open_shared", args, nargs, kwnames, names, 1, 1, 1, a) < 0 ||
        !(name = shm_name_arg(a[0])))
        return NULL;
    rr_ring *ring;
    rr_status s;
    Py_BEGIN_ALLOW_THREADS
    s = rr_shm_open(name, &ring);
    Py_END_ALLOW_THREADS
    if (s != RR_OK)
        return raise_named(state_of_type(type), s, a[0]);
    return ring_shared(type, ring);
}

static PyObject *Ring_unlink_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    static const char *const names[] = {"name"};
    PyObject *a[1];
    const char *name;
    if (parse_args("unlink_shared", args, nargs, kwnames, names, 1, 1, 1, a) < 0 ||
        !(name = shm_name_arg(a[0])))
        return NULL;
    rr_status s = rr_shm_unlink(name);
    if (s != RR_OK)
        return raise_named(state_of_type(type), s, a[0]);
    Py_RETURN_NONE;
}

static void Ring_dealloc(RingObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    ring_unregister(self);           /* first: weakref callbacks must not find it */
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    /* Writers and readers keep their Ring alive, so none is open here. A
     * shared ring is unmapped; its segment stays until unlink_shared. */
    if (self->owned && self->ring)
        rr_ring_destroy(self->ring);
    Py_XDECREF(self->name);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *Ring_repr(RingObject *self)
{
    PyObject *label = self->name ? PyUnicode_FromFormat(" name=%R", self->name)
                                 : PyUnicode_FromString("");
    if (!label)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("<rusted_ring.Ring%s%U slot_size=%zu capacity=%llu mode=%s "
                                       "producers=%s%s>",
                                       rr_ring_shm_name(self->ring) ? " shared" : "", label,
                                       rr_ring_slot_size(self->ring),
                                       (unsigned long long)rr_ring_capacity(self->ring),
                                       mode_name(rr_ring_mode(self->ring)),
                                       producers_name(rr_ring_producers(self->ring)),
                                       rr_ring_closed(self->ring) ? " closed" : "");
    Py_DECREF(label);
    return r;
}

static PyObject *Ring_get_slot_size(RingObject *self, void *c) { (void)c; return PyLong_FromSize_t(rr_ring_slot_size(self->ring)); }
static PyObject *Ring_get_capacity(RingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(rr_ring_capacity(self->ring)); }
static PyObject *Ring_get_published(RingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(rr_ring_published(self->ring)); }
static PyObject *Ring_get_memory_bytes(RingObject *self, void *c) { (void)c; return PyLong_FromSize_t(rr_ring_memory_bytes(self->ring)); }
static PyObject *Ring_get_closed(RingObject *self, void *c) { (void)c; return PyBool_FromLong(rr_ring_closed(self->ring)); }
static PyObject *Ring_get_shared(RingObject *self, void *c) { (void)c; return PyBool_FromLong(rr_ring_shm_name(self->ring) != NULL); }
static PyObject *Ring_get_name(RingObject *self, void *c) { (void)c; return Py_NewRef(self->name ? self->name : Py_None); }

static PyObject *Ring_get_mode(RingObject *self, void *c)
{
    (void)c;
    rr_py_state *st = state_of_type(Py_TYPE(self));
    return Py_NewRef(rr_ring_mode(self->ring) == RR_MODE_OVERWRITE ? st->str_overwrite : st->str_backpressure);
}

static PyObject *Ring_get_producers(RingObject *self, void *c)
{
    (void)c;
    rr_py_state *st = state_of_type(Py_TYPE(self));
    return Py_NewRef(rr_ring_producers(self->ring) == RR_PRODUCERS_MULTI ? st->str_multi : st->str_single);
}

static PyObject *Ring_writer(RingObject *self, PyObject *unused)
{
    (void)unused;
    rr_py_state *st = state_of_type(Py_TYPE(self));
    rr_writer *w;
    rr_status s = rr_writer_open(self->ring, &w);
    if (s == RR_WRITER_BUSY)
        return raise_status(st, s, "this single-producer ring already has a live writer (in this "
                                   "or another process); close it first, or create the ring with "
                                   "producers=\"multi\"");
    if (s == RR_CLOSED)
        return raise_status(st, s, "the ring is closed");
    if (s != RR_OK)
        return raise_status(st, s, NULL);
    WriterObject *wo = (WriterObject *)st->writer_type->tp_alloc(st->writer_type, 0);
    if (!wo) {
        rr_writer_close(w);
        return NULL;
    }
    wo->ring = (RingObject *)Py_NewRef(self);
    wo->w = w;
    wo->multi = rr_ring_producers(self->ring) == RR_PRODUCERS_MULTI;
    return (PyObject *)wo;
}

static PyObject *reader_new(rr_py_state *st, RingObject *ring, rr_start start)
{
    rr_reader *r;
    rr_status s = rr_reader_open(ring->ring, start, &r);
    if (s == RR_TOO_MANY_READERS)
        return raise_status(st, s, "the ring already has %d live readers; close one first",
                            RR_MAX_READERS);
    if (s != RR_OK)
        return raise_status(st, s, NULL);
    ReaderObject *ro = (ReaderObject *)st->reader_type->tp_alloc(st->reader_type, 0);
    if (!ro) {
        rr_reader_close(r);
        return NULL;
    }
    ro->ring = (RingObject *)Py_NewRef(ring);
    ro->r = r;
    ro->event_type = (PyTypeObject *)Py_NewRef(st->event_type);
    ro->overwrite = rr_ring_mode(ring->ring) == RR_MODE_OVERWRITE;
    return (PyObject *)ro;
}

static PyObject *Ring_reader(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"start"};
    PyObject *a[1];
    if (parse_args("reader", args, nargs, kwnames, names, 1, 1, 0, a) < 0)
        return NULL;
    int latest = 0;
    if (a[0] && parse_choice(a[0], "start", "oldest", "latest", &latest) < 0)
        return NULL;
    return reader_new(state_of_type(Py_TYPE(self)), self, latest ? RR_START_LATEST : RR_START_OLDEST);
}

static PyObject *Ring_close(RingObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->owned) {
        PyErr_SetString(state_of_type(Py_TYPE(self))->RingError,
                        "the default pools are shared by the whole process and cannot be closed");
        return NULL;
    }
    rr_ring_close(self->ring);
    Py_RETURN_NONE;
}

static PyObject *Ring_exit(RingObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    if (self->owned)
        rr_ring_close(self->ring);
    Py_RETURN_NONE;
}

static PyObject *Ring_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

/* Add key = value (a new reference, stolen) to dict d. */
static int put(PyObject *d, const char *key, PyObject *value)
{
    if (!value)
        return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *Ring_stats(RingObject *self, PyObject *unused)
{
    (void)unused;
    rr_ring_stats *s = PyMem_Malloc(sizeof *s);
    if (!s)
        return PyErr_NoMemory();
    rr_ring_stats_get(self->ring, s);
    PyObject *d = PyDict_New(), *readers = NULL;
    if (!d)
        goto fail;
    if (put(d, "capacity", PyLong_FromUnsignedLongLong(s->capacity)) < 0 ||
        put(d, "slot_size", PyLong_FromSize_t(s->slot_size)) < 0 ||
        put(d, "mode", PyUnicode_FromString(mode_name(s->mode))) < 0 ||
        put(d, "producers", PyUnicode_FromString(producers_name(s->producers))) < 0 ||
        put(d, "memory_bytes", PyLong_FromSize_t(s->memory_bytes)) < 0 ||
        put(d, "published", PyLong_FromUnsignedLongLong(s->published)) < 0 ||
        put(d, "writer_stalls", PyLong_FromUnsignedLongLong(s->writer_stalls)) < 0 ||
        put(d, "abandoned", PyLong_FromUnsignedLongLong(s->abandoned)) < 0 ||
        put(d, "writers", PyLong_FromUnsignedLong(s->writers)) < 0 ||
        put(d, "writer_pid", PyLong_FromUnsignedLong(s->writer_pid)) < 0 ||
        put(d, "writer_processes", PyLong_FromUnsignedLong(s->writer_processes)) < 0 ||
        put(d, "writer_alive", PyBool_FromLong(s->writer_alive)) < 0 ||
        put(d, "closed", PyBool_FromLong(s->closed)) < 0 ||
        put(d, "shared", PyBool_FromLong(s->shared)) < 0 ||
        put(d, "name", self->name ? Py_NewRef(self->name) : PyUnicode_FromString("")) < 0 ||
        put(d, "readers_evicted", PyLong_FromUnsignedLongLong(s->readers_evicted)) < 0 ||
        put(d, "reader_count", PyLong_FromUnsignedLong(s->reader_count)) < 0 ||
        put(d, "max_backpressure", PyFloat_FromDouble(s->max_backpressure)) < 0)
        goto fail;
    readers = PyList_New(0);
    if (!readers)
        goto fail;
    for (uint32_t i = 0; i < s->reader_count; i++) {
        const rr_reader_stats *rs = &s->readers[i];
        PyObject *e = PyDict_New();
        if (!e || PyList_Append(readers, e) < 0) {
            Py_XDECREF(e);
            goto fail;
        }
        Py_DECREF(e);
        if (put(e, "index", PyLong_FromUnsignedLong(rs->index)) < 0 ||
            put(e, "pid", PyLong_FromUnsignedLong(rs->pid)) < 0 ||
            put(e, "alive", PyBool_FromLong(rs->alive)) < 0 ||
            put(e, "cursor", PyLong_FromUnsignedLongLong(rs->cursor)) < 0 ||
            put(e, "lag", PyLong_FromUnsignedLongLong(rs->lag)) < 0 ||
            put(e, "lost", PyLong_FromUnsignedLongLong(rs->lost)) < 0 ||
            put(e, "skipped", PyLong_FromUnsignedLongLong(rs->skipped)) < 0 ||
            put(e, "backpressure", PyFloat_FromDouble(rs->backpressure)) < 0)
            goto fail;
    }
    if (PyDict_SetItemString(d, "readers", readers) < 0)
        goto fail;
    Py_DECREF(readers);
    PyMem_Free(s);
    return d;
fail:
    Py_XDECREF(readers);
    Py_XDECREF(d);
    PyMem_Free(s);
    return NULL;
}

static PyMethodDef Ring_methods[] = {
    {"writer", (PyCFunction)Ring_writer, METH_NOARGS,
     "writer($self)\n--\n\nReturns Writer. Open a writer. A single-producer ring allows one live writer "
     "(WriterBusy for a second); a multi-producer ring any number, each usable from any thread."},
    {"reader", (PyCFunction)(void (*)(void))Ring_reader, METH_FASTCALL | METH_KEYWORDS,
     "reader($self, /, start='oldest')\n--\n\nReturns Reader. Register a reader with its own cursor, starting at the "
     "oldest event the ring still holds ('oldest') or at the next one published ('latest'). "
     "TooManyReaders when the ring's 64-entry reader table is full."},
    {"close", (PyCFunction)Ring_close, METH_NOARGS,
     "close($self)\n--\n\nEnd the stream: writers get RingClosed, readers drain what is left and then see "
     "the end, and every blocked call wakes. Idempotent."},
    {"stats", (PyCFunction)Ring_stats, METH_NOARGS,
     "stats($self)\n--\n\nReturns dict. A snapshot as plain data, taken without stopping anyone: capacity, "
     "slot_size, mode, producers, memory_bytes, published, writer_stalls, abandoned, writers "
     "(open writer handles, a dead process's included), writer_pid (single producer: the "
     "writer's process, 0 when none), writer_processes (live processes with a writer), "
     "writer_alive (writer_processes > 0), closed, shared, name ('' for a ring without one), readers_evicted (readers of "
     "dead processes taken out of the table), reader_count, max_backpressure and 'readers', "
     "one dict per reader (index, pid, alive, cursor, lag, lost, skipped, backpressure)."},
    {"create_shared", (PyCFunction)(void (*)(void))Ring_create_shared,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "create_shared($type, /, name, slot_size, capacity, *, mode='backpressure', "
     "producers='single', permissions=0o600)\n--\n\n"
     "Returns Ring. Create a ring in POSIX shared memory under `name` (one optional leading "
     "'/', then 1 to 200 printable ASCII characters other than '/'; 'strokes' and '/strokes' "
     "are the same ring) that any process can open with open_shared, in Python or Lua. "
     "permissions: the segment's mode bits, applied exactly, whatever the umask (0 means "
     "0o600). FileExistsError (a SharedMemoryError) when the name is taken; ValueError for a "
     "bad name. The segment stays until unlink_shared, however many handles are dropped."},
    {"open_shared", (PyCFunction)(void (*)(void))Ring_open_shared,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "open_shared($type, /, name)\n--\n\n"
     "Returns Ring. Map the shared ring `name`, made by create_shared in any process. Its "
     "header is checked before anything else in it is used: FileNotFoundError (a "
     "SharedMemoryError) when there is no such segment, SharedMemoryError when it is not a "
     "ring, is damaged, or has another layout version. Dropping the handle unmaps the ring; "
     "close() ends the stream for every process."},
    {"unlink_shared", (PyCFunction)(void (*)(void))Ring_unlink_shared,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "unlink_shared($type, /, name)\n--\n\n"
     "Remove the name of a shared ring. Processes that have it open keep using it; the memory "
     "goes when the last one lets go. FileNotFoundError (a SharedMemoryError) when there is "
     "no such segment."},
    {"__enter__", (PyCFunction)Ring_enter, METH_NOARGS, "Return the ring itself."},
    {"__exit__", (PyCFunction)(void (*)(void))Ring_exit, METH_FASTCALL, "Close the ring."},
    {NULL}
};

static PyGetSetDef Ring_getset[] = {
    {"slot_size", (getter)Ring_get_slot_size, NULL, "Largest payload of one event, in bytes.", NULL},
    {"capacity", (getter)Ring_get_capacity, NULL, "Number of slots (never rounded).", NULL},
    {"mode", (getter)Ring_get_mode, NULL, "'backpressure' or 'overwrite'.", NULL},
    {"producers", (getter)Ring_get_producers, NULL, "'single' or 'multi'.", NULL},
    {"published", (getter)Ring_get_published, NULL, "Events published so far.", NULL},
    {"memory_bytes", (getter)Ring_get_memory_bytes, NULL, "Bytes the ring occupies.", NULL},
    {"closed", (getter)Ring_get_closed, NULL, "True once close() was called.", NULL},
    {"shared", (getter)Ring_get_shared, NULL,
     "True for a ring mapped from a named shared segment (create_shared, open_shared).", NULL},
    {"name", (getter)Ring_get_name, NULL,
     "A shared ring's segment name with its leading '/' ('/strokes'); otherwise the label "
     "given to Ring(..., name=...), or None.", NULL},
    {NULL}
};

static PyMemberDef Ring_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(RingObject, weakrefs), READONLY, NULL},
    {NULL}
};

PyDoc_STRVAR(Ring_doc,
"Ring(slot_size, capacity, *, mode='backpressure', producers='single', name=None)\n--\n\n"
"A ring of `capacity` slots of at most `slot_size` payload bytes, with one writer\n"
"(or several, producers='multi') and up to 64 readers, each with its own cursor.\n\n"
"mode='backpressure': the writer waits for the slowest reader; nothing is lost and\n"
"  readers see payloads in place, without copying.\n"
"mode='overwrite': the writer never waits; a reader it laps skips to the oldest\n"
"  intact event and counts what it missed in `lost`.\n\n"
"name: an optional label (a str) that stats() and monitoring report.\n"
"Ring.create_shared() and Ring.open_shared() make a ring that several processes\n"
"share. Use as a context manager to close it on exit (for a shared ring: for\n"
"every process).");

static PyType_Slot Ring_slots[] = {
    {Py_tp_doc, (void *)Ring_doc},
    {Py_tp_new, Ring_new},
    {Py_tp_dealloc, Ring_dealloc},
    {Py_tp_repr, Ring_repr},
    {Py_tp_methods, Ring_methods},
    {Py_tp_getset, Ring_getset},
    {Py_tp_members, Ring_members},
    {0, NULL}
};

static PyType_Spec Ring_spec = {
    .name = "rusted_ring.Ring",
    .basicsize = sizeof(RingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Ring_slots,
};

/* ==== Writer ======================================================================= */

static void writer_finish_close(WriterObject *self)
{
    if (self->w && self->active == 0 && !self->claim_open) {
        rr_writer_close(self->w);
        self->w = NULL;
    }
}

/* 0 when the writer may start a call; -1 with an exception otherwise. */
static int writer_usable(WriterObject *self)
{
    if (!self->w || self->closing) {
        PyErr_SetString(state_of_type(Py_TYPE(self))->RingClosed, "the writer is closed");
        return -1;
    }
    if (self->active && !self->multi) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this single-producer writer is in use by another thread");
        return -1;
    }
    return 0;
}

typedef struct {
    WriterObject     *self;
    const rr_payload *items;
    size_t            n;
    uint64_t          seq;
} add_ctx;

static rr_status add_op(void *p, int64_t slice)
{
    add_ctx *c = p;
    if (c->n == 1)
        return rr_writer_add(c->self->w, c->items[0].data, c->items[0].len, c->items[0].event_type,
                             &c->seq, slice);
    return rr_writer_add_batch(c->self->w, c->items, c->n, &c->seq, slice);
}

static rr_status add_between(void *p)
{
    add_ctx *c = p;
    return c->self->closing ? RR_CLOSED : RR_OK;
}

/* Publish items; waits (GIL released) up to timeout_ns. Returns the status, or
 * -1 with an exception set. */
static int writer_publish(WriterObject *self, const rr_payload *items, size_t n, int64_t timeout_ns,
                          uint64_t *seq, rr_status *out)
{
    add_ctx c = {self, items, n, 0};
    rr_status s = add_op(&c, 0);
    if ((s == RR_FULL || s == RR_TIMEOUT) && timeout_ns != 0) {
        self->active++;
        int rc = wait_sliced(&c, add_op, add_between, timeout_ns, &s);
        self->active--;
        if (self->closing)
            writer_finish_close(self);
        if (rc < 0)
            return -1;
    }
    *seq = c.seq;
    *out = s;
    return 0;
}

static PyObject *writer_fail(WriterObject *self, rr_status s, int64_t timeout_ns)
{
    rr_py_state *st = state_of_type(Py_TYPE(self));
    switch (s) {
    case RR_FULL:
        return raise_status(st, s, "ring full: all %llu slots are unread by some reader",
                            (unsigned long long)rr_ring_capacity(self->ring->ring));
    case RR_TIMEOUT:
    {
        char secs[32];
        snprintf(secs, sizeof secs, "%.6g", (double)timeout_ns / 1e9);
        return raise_status(st, s, "ring full: no room among %llu slots within %s s (events readers keep pin their slots)",
                            (unsigned long long)rr_ring_capacity(self->ring->ring), secs);
    }
    case RR_CLOSED:
        return raise_status(st, s, self->w && !self->closing ? "the ring is closed" : "the writer is closed");
    default:
        return raise_status(st, s, NULL);
    }
}

static int writer_args(WriterObject *self, const char *fname, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames, int with_timeout, payload *p, uint32_t *type, int64_t *timeout)
{
    static const char *const names[] = {"data", "event_type", "timeout"};
    PyObject *a[3];
    if (parse_args(fname, args, nargs, kwnames, names, with_timeout ? 3 : 2, 2, 1, a) < 0)
        return -1;
    *timeout = RR_FOREVER;
    if (with_timeout && as_timeout(a[2], RR_FOREVER, timeout) < 0)
        return -1;
    if (writer_usable(self) < 0 || payload_get(a[0], p) < 0)
        return -1;
    if (a[1] && a[1] != Py_None) {
        if (as_event_type(a[1], type) < 0) {
            payload_release(p);
            return -1;
        }
    } else {
        *type = p->has_type ? p->type : 0;
    }
    /* Converting the payload may have run Python code (a .data property) that
     * closed the writer or let another thread start waiting in it. */
    if (writer_usable(self) < 0) {
        payload_release(p);
        return -1;
    }
    return 0;
}

static PyObject *Writer_add(WriterObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    payload p;
    uint32_t type;
    int64_t timeout;
    if (writer_args(self, "add", args, nargs, kwnames, 1, &p, &type, &timeout) < 0)
        return NULL;
    rr_payload item = {p.buf, (size_t)p.len, type};
    uint64_t seq;
    rr_status s;
    int rc = writer_publish(self, &item, 1, timeout, &seq, &s);
    payload_release(&p);
    if (rc < 0)
        return NULL;
    if (s != RR_OK)
        return writer_fail(self, s, timeout);
    return PyLong_FromUnsignedLongLong(seq);
}

static PyObject *Writer_try_add(WriterObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    payload p;
    uint32_t type;
    int64_t timeout;
    if (writer_args(self, "try_add", args, nargs, kwnames, 0, &p, &type, &timeout) < 0)
        return NULL;
    rr_status s = rr_writer_add(self->w, p.buf, (size_t)p.len, type, NULL, 0);
    payload_release(&p);
    if (s == RR_OK)
        Py_RETURN_TRUE;
    if (s == RR_FULL || s == RR_TIMEOUT)
        Py_RETURN_FALSE;
    return writer_fail(self, s, 0);
}

static int writer_grow(WriterObject *self, size_t n)
{
    if (n <= self->items_cap)
        return 0;
    rr_payload *items = PyMem_Realloc(self->items, n * sizeof *items);
    if (!items)
        return -1;
    self->items = items;
    Py_buffer *views = PyMem_Realloc(self->views, n * sizeof *views);
    if (!views)
        return -1;
    self->views = views;
    self->items_cap = n;
    return 0;
}

static PyObject *Writer_add_batch(WriterObject *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"payloads", "event_types", "timeout"};
    PyObject *a[3];
    int64_t timeout;
    if (parse_args("add_batch", args, nargs, kwnames, names, 3, 2, 1, a) < 0 ||
        as_timeout(a[2], RR_FOREVER, &timeout) < 0 || writer_usable(self) < 0)
        return NULL;
    /* A tuple snapshot: its items stay alive however Python code run during the
     * conversion (or another thread, while we wait) changes the caller's list. */
    PyObject *seq = PySequence_Tuple(a[0]);
    if (!seq) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "payloads must be an iterable of bytes-like objects, not %.100s",
                         Py_TYPE(a[0])->tp_name);
        }
        return NULL;
    }
    PyObject *types = NULL, *result = NULL;
    size_t n = (size_t)PyTuple_GET_SIZE(seq), nviews = 0;
    rr_payload *items = NULL;
    Py_buffer *views = NULL;
    int own_scratch = 0;
    uint64_t limit = rr_ring_capacity(self->ring->ring);
    if (limit > RR_MAX_CLAIM)
        limit = RR_MAX_CLAIM;
    uint32_t common_type = 0;
    if (n == 0) {
        result = PyLong_FromLong(0);
        goto done;
    }
    if (n > limit) {
        PyErr_Format(PyExc_ValueError, "a batch holds at most %llu events on this ring, got %zu",
                     (unsigned long long)limit, n);
        goto done;
    }
    if (a[1] && (PyLong_Check(a[1]) || a[1] == Py_None)) {
        if (a[1] != Py_None && as_event_type(a[1], &common_type) < 0)
            goto done;
    } else if (a[1]) {
        types = PySequence_Tuple(a[1]);
        if (!types) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "event_types must be an int or a sequence of ints, not %.100s",
                         Py_TYPE(a[1])->tp_name);
            goto done;
        }
        if ((size_t)PyTuple_GET_SIZE(types) != n) {
            PyErr_Format(PyExc_ValueError, "event_types has %zd entries for %zu payloads",
                         PyTuple_GET_SIZE(types), n);
            goto done;
        }
    }
    /* A single-producer handle serves one call at a time and keeps its scratch;
     * a shared multi-producer handle may be in several calls at once. */
    if (self->multi) {
        items = PyMem_Malloc(n * sizeof *items);
        views = PyMem_Malloc(n * sizeof *views);
        own_scratch = 1;
    } else if (writer_grow(self, n) == 0) {
        items = self->items;
        views = self->views;
    }
    if (!items || !views) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        payload p;
        if (payload_get(PyTuple_GET_ITEM(seq, i), &p) < 0)
            goto done;
        if (p.has_view)
            views[nviews++] = p.view;
        rr_payload *it = &items[i];
        it->data = p.buf;
        it->len = (size_t)p.len;
        it->event_type = p.has_type && !types && (!a[1] || a[1] == Py_None) ? p.type : common_type;
        if (types && as_event_type(PyTuple_GET_ITEM(types, i), &it->event_type) < 0)
            goto done;
    }
    uint64_t first;
    rr_status s;
    if (writer_usable(self) < 0 || writer_publish(self, items, n, timeout, &first, &s) < 0)
        goto done;
    if (s != RR_OK) {
        writer_fail(self, s, timeout);
        goto done;
    }
    result = PyLong_FromSize_t(n);
done:
    while (nviews > 0)
        PyBuffer_Release(&views[--nviews]);
    if (own_scratch) {
        PyMem_Free(items);
        PyMem_Free(views);
    }
    Py_XDECREF(types);
    Py_DECREF(seq);
    return result;
}

static PyObject *Writer_claim(WriterObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"event_type", "timeout"};
    PyObject *a[2];
    uint32_t type = 0;
    int64_t timeout;
    if (parse_args("claim", args, nargs, kwnames, names, 2, 1, 0, a) < 0 ||
        (a[0] && as_event_type(a[0], &type) < 0) || as_timeout(a[1], RR_FOREVER, &timeout) < 0 ||
        writer_usable(self) < 0)
        return NULL;
    rr_py_state *st = state_of_type(Py_TYPE(self));
    ClaimObject *c = (ClaimObject *)st->claim_type->tp_alloc(st->claim_type, 0);
    if (!c)
        return NULL;
    c->writer = (WriterObject *)Py_NewRef(self);
    c->type = type;
    c->timeout_ns = timeout;
    c->length = (Py_ssize_t)rr_ring_slot_size(self->ring->ring);
    return (PyObject *)c;
}

static PyObject *Writer_close(WriterObject *self, PyObject *unused)
{
    (void)unused;
    self->closing = 1;
    writer_finish_close(self);
    Py_RETURN_NONE;
}

static PyObject *Writer_exit(WriterObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    return Writer_close(self, NULL);
}

static PyObject *Writer_get_ring(WriterObject *self, void *c) { (void)c; return Py_NewRef(self->ring); }
static PyObject *Writer_get_closed(WriterObject *self, void *c) { (void)c; return PyBool_FromLong(!self->w || self->closing); }

static PyObject *Writer_repr(WriterObject *self)
{
    return PyUnicode_FromFormat("<rusted_ring.Writer %s on %R>",
                                !self->w || self->closing ? "closed" : "open", (PyObject *)self->ring);
}

static void Writer_dealloc(WriterObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->w)
        rr_writer_close(self->w);     /* no call is active: they hold a reference */
    PyMem_Free(self->items);
    PyMem_Free(self->views);
    Py_XDECREF(self->ring);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Writer_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Writer_add, METH_FASTCALL | METH_KEYWORDS,
     "add($self, /, data, event_type=None, *, timeout=None)\n--\n\nReturns int. Copy one payload into the ring and "
     "publish it; returns its sequence. data: any C-contiguous bytes-like object, or an event "
     "with .data and .event_type (a PooledEvent), whose type is used unless event_type is given. "
     "Backpressure rings wait for a free slot with the GIL released, up to `timeout` seconds "
     "(None: without limit), then raise RingFull. DataTooLarge when the payload exceeds slot_size."},
    {"try_add", (PyCFunction)(void (*)(void))Writer_try_add, METH_FASTCALL | METH_KEYWORDS,
     "try_add($self, /, data, event_type=None)\n--\n\nReturns bool. Like add, but never waits: False when the ring is full."},
    {"add_batch", (PyCFunction)(void (*)(void))Writer_add_batch, METH_FASTCALL | METH_KEYWORDS,
     "add_batch($self, /, payloads, event_types=0, *, timeout=None)\n--\n\nReturns int. Publish a sequence of payloads "
     "with one claim, all or none, and return how many. event_types: one int for all, or one per "
     "payload. Every size is checked before anything is claimed. At most min(capacity, 4096) payloads. "
     "The batch needs that many free slots at once: events readers still keep (a kept Event or "
     "buffer pins its slot, in backpressure mode) count against it, so keep batches well below "
     "the capacity."},
    {"claim", (PyCFunction)(void (*)(void))Writer_claim, METH_FASTCALL | METH_KEYWORDS,
     "claim($self, /, event_type=0, *, timeout=None)\n--\n\nReturns Claim. Zero-copy write: `with w.claim() as slot:` "
     "gives a writable buffer of slot_size bytes in the ring; set slot.length to the bytes used. "
     "Leaving the block publishes; an exception abandons the event (no reader sees it)."},
    {"close", (PyCFunction)Writer_close, METH_NOARGS,
     "close($self)\n--\n\nRelease the writer (a single-producer ring then accepts a new one). Idempotent."},
    {"__enter__", (PyCFunction)Ring_enter, METH_NOARGS, "Return the writer itself."},
    {"__exit__", (PyCFunction)(void (*)(void))Writer_exit, METH_FASTCALL, "Close the writer."},
    {NULL}
};

static PyGetSetDef Writer_getset[] = {
    {"ring", (getter)Writer_get_ring, NULL, "The ring this writer publishes to.", NULL},
    {"closed", (getter)Writer_get_closed, NULL, "True once the writer is closed.", NULL},
    {NULL}
};

static PyType_Slot Writer_slots[] = {
    {Py_tp_doc, (void *)"A writer on a Ring (from Ring.writer()). Use as a context manager to close it."},
    {Py_tp_dealloc, Writer_dealloc},
    {Py_tp_repr, Writer_repr},
    {Py_tp_methods, Writer_methods},
    {Py_tp_getset, Writer_getset},
    {0, NULL}
};

static PyType_Spec Writer_spec = {
    .name = "rusted_ring.Writer",
    .basicsize = sizeof(WriterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Writer_slots,
};

/* ==== Claim ======================================================================== */

typedef struct {
    ClaimObject *c;
    uint32_t     type;       /* copied: the Claim's attribute may change while we wait */
} claim_ctx;

static rr_status claim_op(void *p, int64_t slice)
{
    claim_ctx *ctx = p;
    return rr_writer_claim(ctx->c->writer->w, 1, ctx->type, &ctx->c->c, slice);
}

static rr_status claim_between(void *p)
{
    return ((claim_ctx *)p)->c->writer->closing ? RR_CLOSED : RR_OK;
}

static PyObject *Claim_enter(ClaimObject *self, PyObject *unused)
{
    (void)unused;
    WriterObject *w = self->writer;
    if (self->state != CLAIM_NEW) {
        PyErr_SetString(PyExc_RuntimeError, "a Claim can be entered only once");
        return NULL;
    }
    if (writer_usable(w) < 0)
        return NULL;
    claim_ctx ctx = {self, self->type};
    self->state = CLAIM_WAITING;          /* no second __enter__ while we wait */
    rr_status s = claim_op(&ctx, 0);
    if ((s == RR_FULL || s == RR_TIMEOUT) && self->timeout_ns != 0) {
        w->active++;
        int rc = wait_sliced(&ctx, claim_op, claim_between, self->timeout_ns, &s);
        w->active--;
        if (rc < 0)
            s = RR_STATUS_COUNT;          /* a signal handler raised */
        else if (s == RR_OK && w->closing) {
            rr_writer_abandon(w->w, &self->c);   /* closed while we waited */
            s = RR_CLOSED;
        }
        if (w->closing)
            writer_finish_close(w);
    }
    if (s != RR_OK) {
        self->state = CLAIM_NEW;
        return s == RR_STATUS_COUNT ? NULL : writer_fail(w, s, self->timeout_ns);
    }
    self->state = CLAIM_OPEN;
    w->claim_open++;
    return Py_NewRef(self);
}

static void claim_end(ClaimObject *self)
{
    self->state = CLAIM_DONE;
    self->writer->claim_open--;
    if (self->writer->closing)
        writer_finish_close(self->writer);
}

static PyObject *Claim_exit(ClaimObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (self->state != CLAIM_OPEN) {
        PyErr_SetString(PyExc_RuntimeError, "the Claim is not open");
        return NULL;
    }
    rr_writer *w = self->writer->w;
    rr_py_state *st = state_of_type(Py_TYPE(self));
    int failed = nargs > 0 && args[0] != Py_None;
    if (self->exports > 0) {
        /* A live view could still write into the slot: keep the claim until
         * the last view goes, then abandon it (Claim_releasebuffer). */
        self->state = CLAIM_DRAINING;
        if (failed)
            Py_RETURN_FALSE;            /* let the block's exception propagate */
        PyErr_SetString(PyExc_BufferError,
                        "a buffer taken from the claimed slot is still alive at the end of the "
                        "block; the event is abandoned once it is released (release views, e.g. "
                        "`with memoryview(slot) as mv:`, before leaving)");
        return NULL;
    }
    if (failed) {
        rr_writer_abandon(w, &self->c);
        claim_end(self);
        Py_RETURN_FALSE;                /* let the exception propagate */
    }
    rr_status s = rr_claim_set(&self->c, 0, (size_t)self->length, self->type);
    if (s == RR_OK)
        s = rr_writer_publish(w, &self->c);
    else
        rr_writer_abandon(w, &self->c);
    claim_end(self);
    if (s != RR_OK)
        return raise_status(st, s, NULL);
    Py_RETURN_FALSE;
}

static int Claim_getbuffer(ClaimObject *self, Py_buffer *view, int flags)
{
    if (self->state != CLAIM_OPEN) {
        PyErr_SetString(PyExc_BufferError, "the slot is writable only inside the `with` block");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, rr_claim_data(&self->c, 0),
                          (Py_ssize_t)self->c.slot_size, 0, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void Claim_releasebuffer(ClaimObject *self, Py_buffer *view)
{
    (void)view;
    if (--self->exports == 0 && self->state == CLAIM_DRAINING) {
        rr_writer_abandon(self->writer->w, &self->c);
        claim_end(self);
    }
}

/* Item access goes through a short-lived memoryview of the slot. */
static PyObject *claim_view(ClaimObject *self)
{
    return PyMemoryView_FromObject((PyObject *)self);
}

static PyObject *claim_view_done(PyObject *mv, PyObject *result)
{
    PyObject *r = PyObject_CallMethod(mv, "release", NULL);
    Py_XDECREF(r);
    Py_DECREF(mv);
    if (!r) {
        Py_XDECREF(result);
        return NULL;
    }
    return result;
}

static PyObject *Claim_getitem(ClaimObject *self, PyObject *key)
{
    PyObject *mv = claim_view(self);
    if (!mv)
        return NULL;
    PyObject *item = PyObject_GetItem(mv, key);
    if (item && PyMemoryView_Check(item)) {        /* a slice: hand out bytes, not a view */
        PyObject *b = PyBytes_FromObject(item);
        Py_DECREF(item);
        item = b;
    }
    return claim_view_done(mv, item);
}

static int Claim_setitem(ClaimObject *self, PyObject *key, PyObject *value)
{
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "cannot delete bytes of a slot");
        return -1;
    }
    PyObject *mv = claim_view(self);
    if (!mv)
        return -1;
    int rc = PyObject_SetItem(mv, key, value);
    PyObject *r = claim_view_done(mv, Py_NewRef(Py_None));
    if (!r)
        return -1;
    Py_DECREF(r);
    return rc;
}

static Py_ssize_t Claim_len(ClaimObject *self)
{
    return (Py_ssize_t)rr_ring_slot_size(self->writer->ring->ring);
}

static PyObject *Claim_get_length(ClaimObject *self, void *c) { (void)c; return PyLong_FromSsize_t(self->length); }

static int Claim_set_length(ClaimObject *self, PyObject *v, void *c)
{
    (void)c;
    uint64_t n;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "length cannot be deleted");
        return -1;
    }
    size_t slot = rr_ring_slot_size(self->writer->ring->ring);
    if (as_u64(v, "length", UINT64_MAX >> 1, &n) < 0)
        return -1;
    if (n > slot) {
        PyErr_Format(state_of_type(Py_TYPE(self))->DataTooLarge,
                     "length %llu exceeds the slot size of %zu bytes", (unsigned long long)n, slot);
        return -1;
    }
    self->length = (Py_ssize_t)n;
    return 0;
}

static PyObject *Claim_get_type(ClaimObject *self, void *c) { (void)c; return PyLong_FromUnsignedLong(self->type); }

static int Claim_set_type(ClaimObject *self, PyObject *v, void *c)
{
    (void)c;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "event_type cannot be deleted");
        return -1;
    }
    return as_event_type(v, &self->type);
}

static PyObject *Claim_get_sequence(ClaimObject *self, void *c)
{
    (void)c;
    if (self->state == CLAIM_NEW || self->state == CLAIM_WAITING)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(self->c.sequence);
}

static PyObject *Claim_get_slot_size(ClaimObject *self, void *c) { (void)c; return PyLong_FromSsize_t(Claim_len(self)); }

static void Claim_dealloc(ClaimObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->state == CLAIM_OPEN || self->state == CLAIM_DRAINING) {   /* never published */
        rr_writer_abandon(self->writer->w, &self->c);
        claim_end(self);
    }
    Py_XDECREF(self->writer);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Claim_methods[] = {
    {"__enter__", (PyCFunction)Claim_enter, METH_NOARGS,
     "Claim the slot (waiting for room as Writer.add does) and return it."},
    {"__exit__", (PyCFunction)(void (*)(void))Claim_exit, METH_FASTCALL,
     "Publish the slot's first `length` bytes, or abandon the event when the block raised."},
    {NULL}
};

static PyGetSetDef Claim_getset[] = {
    {"length", (getter)Claim_get_length, (setter)Claim_set_length,
     "Bytes to publish (default: the whole slot). DataTooLarge above slot_size.", NULL},
    {"event_type", (getter)Claim_get_type, (setter)Claim_set_type, "The event's type (u32).", NULL},
    {"sequence", (getter)Claim_get_sequence, NULL, "The event's sequence once claimed, else None.", NULL},
    {"slot_size", (getter)Claim_get_slot_size, NULL, "Writable bytes.", NULL},
    {NULL}
};

static PyType_Slot Claim_slots[] = {
    {Py_tp_doc, (void *)"A slot claimed for zero-copy writing; see Writer.claim()."},
    {Py_tp_dealloc, Claim_dealloc},
    {Py_tp_methods, Claim_methods},
    {Py_tp_getset, Claim_getset},
    {Py_bf_getbuffer, Claim_getbuffer},
    {Py_bf_releasebuffer, Claim_releasebuffer},
    {Py_mp_subscript, Claim_getitem},
    {Py_mp_ass_subscript, Claim_setitem},
    {Py_mp_length, Claim_len},
    {Py_sq_length, Claim_len},
    {0, NULL}
};

static PyType_Spec Claim_spec = {
    .name = "rusted_ring.Claim",
    .basicsize = sizeof(ClaimObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Claim_slots,
};

/* ==== Reader ======================================================================= */

/* Let the core close the reader once nothing pins its slots any more. */
static void reader_finish_close(ReaderObject *self)
{
    if (self->closed && self->r && !self->busy && self->nheld == 0) {
        rr_reader_close(self->r);
        self->r = NULL;
    }
}

static void reader_apply_pending(ReaderObject *self)
{
    for (size_t i = 0; i < self->npending; i++)
        rr_reader_release(self->r, self->pending[i]);
    self->npending = 0;
}

/* An event that pinned a slot is going: release it now, or queue the release
 * for the thread waiting in this reader. */
static void reader_release(ReaderObject *self, uint64_t seq)
{
    if (self->busy) {
        if (self->npending == self->pending_cap) {
            size_t cap = self->pending_cap ? 2 * self->pending_cap : 16;
            uint64_t *p = PyMem_Realloc(self->pending, cap * sizeof *p);
            if (!p) {
                /* Cannot queue: keep the hold. The reader stays pinned at this
                 * event until it is closed; nothing is overwritten. */
                PyObject *t, *v, *tb;
                PyErr_Fetch(&t, &v, &tb);
                PyErr_NoMemory();
                PyErr_WriteUnraisable((PyObject *)self);
                PyErr_Restore(t, v, tb);
                return;
            }
            self->pending = p;
            self->pending_cap = cap;
        }
        self->pending[self->npending++] = seq;
    } else {
        rr_reader_release(self->r, seq);
    }
    self->nheld--;
    reader_finish_close(self);
}

/* Before the reader moves on: events of its last call that are still alive
 * become holds, so their slots stay as they are. */
static void reader_detach_current(ReaderObject *self)
{
    for (size_t i = 0; i < self->ncur; i++) {
        EventObject *ev = self->cur[i];
        if (!ev)
            continue;
        rr_reader_hold(self->r, ev->sequence);  /* cannot fail: handed out by the last call */
        ev->state = EV_HELD;
        self->nheld++;
    }
    self->ncur = 0;
}

static int reader_usable(ReaderObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this reader is in use by another thread");
        return -1;
    }
    if (self->closed) {
        PyErr_SetString(state_of_type(Py_TYPE(self))->RingClosed, "the reader is closed");
        return -1;
    }
    return 0;
}

static EventObject *event_make(ReaderObject *self, const rr_event *e)
{
    PyTypeObject *tp = self->event_type;
    size_t extra = self->overwrite ? e->len : 0;
    EventObject *ev = PyObject_Malloc(offsetof(EventObject, copy) + extra + 1);
    if (!ev)
        return (EventObject *)PyErr_NoMemory();
    PyObject_InitVar((PyVarObject *)ev, tp, (Py_ssize_t)extra);
    ev->reader = (ReaderObject *)Py_NewRef(self);
    ev->sequence = e->sequence;
    ev->len = e->len;
    ev->type = e->event_type;
    ev->exports = 0;
    if (self->overwrite) {
        memcpy(ev->copy, e->data, e->len);
        ev->data = ev->copy;
        ev->state = EV_COPY;
    } else {
        ev->data = e->data;
        ev->state = EV_CURRENT;
        ev->idx = (Py_ssize_t)self->ncur;
        self->cur[self->ncur++] = ev;
    }
    return ev;
}

static int reader_room(ReaderObject *self, size_t n)
{
    if (n > self->cur_cap) {
        EventObject **c = PyMem_Realloc(self->cur, n * sizeof *c);
        if (!c)
            return -1;
        self->cur = c;
        self->cur_cap = n;
    }
    if (n > self->evbuf_cap) {
        rr_event *e = PyMem_Realloc(self->evbuf, n * sizeof *e);
        if (!e)
            return -1;
        self->evbuf = e;
        self->evbuf_cap = n;
    }
    return 0;
}

typedef struct {
    ReaderObject *self;
    rr_event     *evs;
    size_t        max, n;
} next_ctx;

static rr_status next_op(void *p, int64_t slice)
{
    next_ctx *c = p;
    if (c->max == 1) {
        rr_status s = rr_reader_next(c->self->r, c->evs, slice);
        c->n = s == RR_OK;
        return s;
    }
    return rr_reader_next_batch(c->self->r, c->evs, c->max, &c->n, slice);
}

static rr_status next_between(void *p)
{
    ReaderObject *self = ((next_ctx *)p)->self;
    reader_apply_pending(self);
    return self->closed ? RR_CLOSED : RR_OK;
}

/* Read up to max events into self->evbuf. Returns the status (RR_OK, RR_EMPTY,
 * RR_TIMEOUT, RR_CLOSED), or -1 with an exception set. */
static int reader_read(ReaderObject *self, size_t max, int64_t timeout_ns, size_t *n)
{
    if (reader_usable(self) < 0)
        return -1;
    if (reader_room(self, max) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    reader_detach_current(self);
    next_ctx c = {self, self->evbuf, max, 0};
    rr_status s = next_op(&c, 0);
    if (s == RR_EMPTY && timeout_ns != 0) {
        self->busy = 1;
        int rc = wait_sliced(&c, next_op, next_between, timeout_ns, &s);
        reader_apply_pending(self);
        self->busy = 0;
        if (self->closed) {
            /* closed by another thread while we waited: what we read is dropped */
            reader_finish_close(self);
            if (rc == 0)
                s = RR_CLOSED, c.n = 0;
        }
        if (rc < 0)
            return -1;
    }
    *n = c.n;
    if (s != RR_OK && s != RR_EMPTY && s != RR_TIMEOUT && s != RR_CLOSED) {
        raise_status(state_of_type(Py_TYPE(self)), s, NULL);
        return -1;
    }
    return (int)s;
}

static PyObject *reader_next_one(ReaderObject *self, int64_t timeout_ns)
{
    size_t n;
    int s = reader_read(self, 1, timeout_ns, &n);
    if (s < 0)
        return NULL;
    if (s != RR_OK)
        Py_RETURN_NONE;
    return (PyObject *)event_make(self, &self->evbuf[0]);
}

static PyObject *Reader_next(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int64_t timeout = 0;
    if (nargs == 1 && !kwnames) {
        if (as_timeout(args[0], RR_FOREVER, &timeout) < 0)
            return NULL;
    } else if (nargs || kwnames) {
        static const char *const names[] = {"timeout"};
        PyObject *a[1];
        if (parse_args("next", args, nargs, kwnames, names, 1, 1, 0, a) < 0 ||
            (a[0] && as_timeout(a[0], RR_FOREVER, &timeout) < 0))
            return NULL;
    }
    return reader_next_one(self, timeout);
}

static PyObject *Reader_iternext(ReaderObject *self)
{
    PyObject *ev = reader_next_one(self, 0);
    if (ev == Py_None) {
        Py_DECREF(ev);
        return NULL;                    /* StopIteration */
    }
    return ev;
}

static PyObject *Reader_next_batch(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    static const char *const names[] = {"max_events", "timeout"};
    PyObject *a[2];
    uint64_t max;
    int64_t timeout = 0;
    if (parse_args("next_batch", args, nargs, kwnames, names, 2, 2, 1, a) < 0 ||
        as_u64(a[0], "max_events", UINT64_MAX >> 1, &max) < 0 ||
        (a[1] && as_timeout(a[1], RR_FOREVER, &timeout) < 0))
        return NULL;
    if (max == 0) {
        PyErr_SetString(PyExc_ValueError, "max_events must be at least 1, got 0");
        return NULL;
    }
    if (self->r) {
        size_t limit = rr_reader_batch_limit(self->r);
        if (max > limit)
            max = limit;
    }
    size_t n;
    int s = reader_read(self, (size_t)max, timeout, &n);
    if (s < 0)
        return NULL;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *ev = (PyObject *)event_make(self, &self->evbuf[i]);
        if (!ev) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, ev);
    }
    return list;
}

static PyObject *Reader_events(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    static const char *const names[] = {"timeout"};
    PyObject *a[1];
    int64_t timeout;
    if (parse_args("events", args, nargs, kwnames, names, 1, 1, 0, a) < 0 ||
        as_timeout(a[0], RR_FOREVER, &timeout) < 0)
        return NULL;
    rr_py_state *st = state_of_type(Py_TYPE(self));
    EventsIterObject *it = (EventsIterObject *)st->iter_type->tp_alloc(st->iter_type, 0);
    if (!it)
        return NULL;
    it->reader = (ReaderObject *)Py_NewRef(self);
    it->timeout_ns = timeout;
    return (PyObject *)it;
}

/* Getters read the reader's own fields: not while another thread waits in it. */
static int reader_readable(ReaderObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this reader is waiting in another thread; use ring.stats() to watch it");
        return -1;
    }
    return 0;
}

#define READER_U64_GETTER(name, fn)                                               \
    static PyObject *Reader_get_##name(ReaderObject *self, void *c)               \
    {                                                                             \
        (void)c;                                                                  \
        if (reader_readable(self) < 0)                                            \
            return NULL;                                                          \
        return PyLong_FromUnsignedLongLong(self->r ? fn(self->r) : 0);            \
    }
READER_U64_GETTER(lag, rr_reader_lag)
READER_U64_GETTER(lost, rr_reader_lost)
READER_U64_GETTER(cursor, rr_reader_cursor)
READER_U64_GETTER(delivered, rr_reader_delivered)
READER_U64_GETTER(skipped, rr_reader_skipped)

static PyObject *Reader_backpressure_ratio(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    if (reader_readable(self) < 0)
        return NULL;
    return PyFloat_FromDouble(self->r ? rr_reader_backpressure_ratio(self->r) : 0.0);
}

static PyObject *Reader_is_under_pressure(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    if (reader_readable(self) < 0)
        return NULL;
    return PyBool_FromLong(self->r && rr_reader_is_under_pressure(self->r));
}

static PyObject *Reader_should_throttle(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    if (reader_readable(self) < 0)
        return NULL;
    return PyBool_FromLong(self->r && rr_reader_should_throttle(self->r));
}

static PyObject *Reader_close(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    if (self->closed)
        Py_RETURN_NONE;
    self->closed = 1;
    if (self->busy)
        Py_RETURN_NONE;                /* the waiting thread finishes the close */
    reader_detach_current(self);       /* live events keep their slots until they go */
    reader_finish_close(self);
    Py_RETURN_NONE;
}

static PyObject *Reader_exit(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    return Reader_close(self, NULL);
}

static PyObject *Reader_get_ring(ReaderObject *self, void *c) { (void)c; return Py_NewRef(self->ring); }
static PyObject *Reader_get_closed(ReaderObject *self, void *c) { (void)c; return PyBool_FromLong(self->closed); }

static PyObject *Reader_repr(ReaderObject *self)
{
    if (self->closed || self->busy || !self->r)
        return PyUnicode_FromFormat("<rusted_ring.Reader %s>", self->closed ? "closed" : "waiting");
    return PyUnicode_FromFormat("<rusted_ring.Reader cursor=%llu lag=%llu lost=%llu>",
                                (unsigned long long)rr_reader_cursor(self->r),
                                (unsigned long long)rr_reader_lag(self->r),
                                (unsigned long long)rr_reader_lost(self->r));
}

static void Reader_dealloc(ReaderObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    /* Every event keeps its reader alive, so none is left: nothing is held. */
    if (self->r)
        rr_reader_close(self->r);
    PyMem_Free(self->cur);
    PyMem_Free(self->evbuf);
    PyMem_Free(self->pending);
    Py_XDECREF(self->event_type);
    Py_XDECREF(self->ring);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Reader_methods[] = {
    {"next", (PyCFunction)(void (*)(void))Reader_next, METH_FASTCALL | METH_KEYWORDS,
     "next($self, /, timeout=0)\n--\n\nReturns Event | None. The next event, or None when none arrives within "
     "`timeout` seconds (0: never wait; None: wait until an event or the ring's close, with the "
     "GIL released) or the ring is closed and drained. Ctrl-C interrupts a wait."},
    {"next_batch", (PyCFunction)(void (*)(void))Reader_next_batch, METH_FASTCALL | METH_KEYWORDS,
     "next_batch($self, /, max_events, timeout=0)\n--\n\nReturns list[Event]. Up to max_events events in one step "
     "(waiting as next() does for the first); an empty list when none arrived."},
    {"events", (PyCFunction)(void (*)(void))Reader_events, METH_FASTCALL | METH_KEYWORDS,
     "events($self, /, timeout=None)\n--\n\nReturns iterator of Event. Waits for each event; ends when the ring is "
     "closed and drained, or when nothing arrives within `timeout` seconds."},
    {"backpressure_ratio", (PyCFunction)Reader_backpressure_ratio, METH_NOARGS,
     "backpressure_ratio($self)\n--\n\nReturns float. lag / capacity, from 0.0 (caught up) to 1.0."},
    {"is_under_pressure", (PyCFunction)Reader_is_under_pressure, METH_NOARGS,
     "is_under_pressure($self)\n--\n\nReturns bool. backpressure_ratio() > 0.8."},
    {"should_throttle", (PyCFunction)Reader_should_throttle, METH_NOARGS,
     "should_throttle($self)\n--\n\nReturns bool. backpressure_ratio() >= 0.9."},
    {"close", (PyCFunction)Reader_close, METH_NOARGS,
     "close($self)\n--\n\nUnregister: the reader stops gating writers (once events you still hold from it "
     "are gone). Idempotent."},
    {"__enter__", (PyCFunction)Ring_enter, METH_NOARGS, "Return the reader itself."},
    {"__exit__", (PyCFunction)(void (*)(void))Reader_exit, METH_FASTCALL, "Close the reader."},
    {NULL}
};

static PyGetSetDef Reader_getset[] = {
    {"ring", (getter)Reader_get_ring, NULL, "The ring this reader follows.", NULL},
    {"closed", (getter)Reader_get_closed, NULL, "True once the reader is closed.", NULL},
    {"lag", (getter)Reader_get_lag, NULL, "Events published and not yet read.", NULL},
    {"lost", (getter)Reader_get_lost, NULL, "Events skipped because the writer lapped this reader "
                                            "(overwrite mode).", NULL},
    {"cursor", (getter)Reader_get_cursor, NULL, "Sequence of the next event to read.", NULL},
    {"delivered", (getter)Reader_get_delivered, NULL, "Events handed out so far.", NULL},
    {"skipped", (getter)Reader_get_skipped, NULL, "Abandoned claims passed over (multi-producer).", NULL},
    {NULL}
};

PyDoc_STRVAR(Reader_doc,
"A reader of a Ring with its own cursor (from Ring.reader()).\n\n"
"Iterating yields the events available now and stops when there are none, like the\n"
"seed; events() waits for more. An Event is valid as long as you keep it: in\n"
"backpressure mode its payload is the ring's slot, which stays pinned (writers then\n"
"find the ring full) until the event and every buffer taken from it are gone.");

static PyType_Slot Reader_slots[] = {
    {Py_tp_doc, (void *)Reader_doc},
    {Py_tp_dealloc, Reader_dealloc},
    {Py_tp_repr, Reader_repr},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, Reader_iternext},
    {Py_tp_methods, Reader_methods},
    {Py_tp_getset, Reader_getset},
    {0, NULL}
};

static PyType_Spec Reader_spec = {
    .name = "rusted_ring.Reader",
    .basicsize = sizeof(ReaderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Reader_slots,
};

/* ==== events() iterator ============================================================ */

static PyObject *EventsIter_next(EventsIterObject *self)
{
    if (self->ended)
        return NULL;
    PyObject *ev = reader_next_one(self->reader, self->timeout_ns);
    if (ev == Py_None) {
        Py_DECREF(ev);
        self->ended = 1;
        return NULL;
    }
    return ev;
}

static void EventsIter_dealloc(EventsIterObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(self->reader);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyType_Slot EventsIter_slots[] = {
    {Py_tp_doc, (void *)"Iterator returned by Reader.events()."},
    {Py_tp_dealloc, EventsIter_dealloc},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, EventsIter_next},
    {0, NULL}
};

static PyType_Spec EventsIter_spec = {
    .name = "rusted_ring.EventsIterator",
    .basicsize = sizeof(EventsIterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = EventsIter_slots,
};

/* ==== Event ======================================================================== */

static void Event_dealloc(EventObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    ReaderObject *r = self->reader;
    if (self->state == EV_CURRENT)
        r->cur[self->idx] = NULL;
    else if (self->state == EV_HELD)
        reader_release(r, self->sequence);
    Py_DECREF(r);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static int Event_getbuffer(EventObject *self, Py_buffer *view, int flags)
{
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "an event's payload is read-only");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->data, self->len, 1, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void Event_releasebuffer(EventObject *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
}

static Py_ssize_t Event_length(EventObject *self) { return self->len; }
static PyObject *Event_get_type(EventObject *self, void *c) { (void)c; return PyLong_FromUnsignedLong(self->type); }
static PyObject *Event_get_len(EventObject *self, void *c) { (void)c; return PyLong_FromUnsignedLong(self->len); }
static PyObject *Event_get_sequence(EventObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(self->sequence); }
static PyObject *Event_get_data(EventObject *self, void *c) { (void)c; return PyMemoryView_FromObject((PyObject *)self); }

static PyObject *Event_bytes(EventObject *self, PyObject *unused)
{
    (void)unused;
    return PyBytes_FromStringAndSize(self->data, self->len);
}

static PyObject *Event_repr(EventObject *self)
{
    return PyUnicode_FromFormat("<rusted_ring.Event sequence=%llu event_type=%u len=%u>",
                                (unsigned long long)self->sequence, self->type, self->len);
}

static PyMethodDef Event_methods[] = {
    {"__bytes__", (PyCFunction)Event_bytes, METH_NOARGS, "A copy of the payload as bytes."},
    {NULL}
};

static PyGetSetDef Event_getset[] = {
    {"event_type", (getter)Event_get_type, NULL, "The event's type (u32).", NULL},
    {"len", (getter)Event_get_len, NULL, "Payload length in bytes.", NULL},
    {"sequence", (getter)Event_get_sequence, NULL, "The event's position in the stream (0, 1, ...).", NULL},
    {"data", (getter)Event_get_data, NULL, "Read-only memoryview of the payload (no copy).", NULL},
    {NULL}
};

PyDoc_STRVAR(Event_doc,
"One event from a Reader: event_type, len, sequence and the payload, exported through\n"
"the buffer protocol (bytes(ev), memoryview(ev), numpy.frombuffer(ev, ...)) without\n"
"copying. Valid as long as it (or a buffer taken from it) is alive.");

static PyType_Slot Event_slots[] = {
    {Py_tp_doc, (void *)Event_doc},
    {Py_tp_dealloc, Event_dealloc},
    {Py_tp_repr, Event_repr},
    {Py_tp_methods, Event_methods},
    {Py_tp_getset, Event_getset},
    {Py_bf_getbuffer, Event_getbuffer},
    {Py_bf_releasebuffer, Event_releasebuffer},
    {Py_sq_length, Event_length},
    {0, NULL}
};

static PyType_Spec Event_spec = {
    .name = "rusted_ring.Event",
    .basicsize = offsetof(EventObject, copy),
    .itemsize = 1,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Event_slots,
};

/* ==== pools ======================================================================== */

static int as_pool_id(PyObject *o, rr_pool_id *out)
{
    uint64_t v;
    if (as_u64(o, "pool_id", RR_POOL_COUNT - 1, &v) < 0)
        return -1;
    *out = (rr_pool_id)v;
    return 0;
}

static PyObject *mod_pool_slot_size(PyObject *m, PyObject *arg)
{
    (void)m;
    rr_pool_id id;
    if (as_pool_id(arg, &id) < 0)
        return NULL;
    return PyLong_FromSize_t(rr_pool_slot_size(id));
}

static PyObject *mod_estimate_size(PyObject *m, PyObject *arg)
{
    (void)m;
    uint64_t n;
    if (as_u64(arg, "size", UINT64_MAX >> 1, &n) < 0)
        return NULL;
    return PyLong_FromLong(rr_estimate_size((size_t)n));
}

static PyObject *mod_estimate_pool_id(PyObject *m, PyObject *arg)
{
    (void)m;
    uint64_t n;
    rr_pool_id id;
    if (as_u64(arg, "size", UINT64_MAX >> 1, &n) < 0)
        return NULL;
    if (rr_estimate_pool_id((size_t)n, &id) != RR_OK)
        Py_RETURN_NONE;
    return PyLong_FromLong(id);
}

static PyObject *config_tuple(const rr_pool_config *c)
{
    return Py_BuildValue("(KKKKK)", (unsigned long long)c->capacity[0], (unsigned long long)c->capacity[1],
                         (unsigned long long)c->capacity[2], (unsigned long long)c->capacity[3],
                         (unsigned long long)c->capacity[4]);
}

static PyObject *mod_preset_config(PyObject *m, PyObject *arg)
{
    (void)m;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "preset must be a str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(arg);
    rr_preset preset;
    if (!name)
        return NULL;
    if (rr_preset_from_name(name, &preset) != RR_OK) {
        PyErr_SetString(PyExc_ValueError, rr_last_error());
        return NULL;
    }
    rr_pool_config c;
    rr_preset_config(preset, &c);
    return config_tuple(&c);
}

static PyObject *mod_configure_pools(PyObject *m, PyObject *arg)
{
    PyObject *seq = PySequence_Fast(arg, "capacities must be a sequence of 5 ints (XS .. XL)");
    if (!seq)
        return NULL;
    rr_pool_config c;
    PyObject *result = NULL;
    if (PySequence_Fast_GET_SIZE(seq) != RR_POOL_COUNT) {
        PyErr_Format(PyExc_ValueError, "capacities must have 5 entries (XS .. XL), got %zd",
                     PySequence_Fast_GET_SIZE(seq));
        goto done;
    }
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        if (as_u64(PySequence_Fast_GET_ITEM(seq, i), "capacity", UINT64_MAX >> 1, &c.capacity[i]) < 0)
            goto done;
        if (c.capacity[i] == 0) {
            PyErr_Format(PyExc_ValueError, "capacity of pool %s must be at least 1, got 0",
                         rr_pool_name((rr_pool_id)i));
            goto done;
        }
    }
    rr_status s = rr_pools_configure(&c);
    if (s == RR_IN_USE)
        raise_status(state_of(m), s, "the default pools already exist; configure them before first use");
    else if (s != RR_OK)
        raise_status(state_of(m), s, NULL);
    else
        result = Py_NewRef(Py_None);
done:
    Py_DECREF(seq);
    return result;
}

static PyObject *mod_pools_config(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    rr_pool_config c;
    rr_pools_config(&c);
    return config_tuple(&c);
}

static PyObject *pool_ring_obj(PyObject *m, rr_pool_id id)
{
    rr_py_state *st = state_of(m);
    if (!st->pools[id]) {
        rr_ring *ring;
        rr_status s = rr_pool_ring(id, &ring);
        if (s != RR_OK)
            return raise_status(st, s, NULL);
        st->pools[id] = (PyObject *)ring_wrap(st->ring_type, ring, 0, NULL);
        if (!st->pools[id])
            return NULL;
    }
    return Py_NewRef(st->pools[id]);
}

static PyObject *mod_pool_ring(PyObject *m, PyObject *arg)
{
    rr_pool_id id;
    if (as_pool_id(arg, &id) < 0)
        return NULL;
    return pool_ring_obj(m, id);
}

static PyObject *mod_emit(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "event_type", "timeout"};
    PyObject *a[3];
    payload p;
    uint32_t type = 0;
    int64_t timeout;
    if (parse_args("emit", args, nargs, kwnames, names, 3, 2, 1, a) < 0 ||
        as_timeout(a[2], RR_FOREVER, &timeout) < 0)
        return NULL;
    if (!a[2])
        timeout = 0;
    if (payload_get(a[0], &p) < 0)
        return NULL;
    if (a[1] && a[1] != Py_None) {
        if (as_event_type(a[1], &type) < 0) {
            payload_release(&p);
            return NULL;
        }
    } else if (p.has_type) {
        type = p.type;
    }
    rr_pool_id id = RR_POOL_XS;
    rr_status s;
    Py_BEGIN_ALLOW_THREADS          /* may wait for another producer a lap behind */
    s = rr_emit(p.buf, (size_t)p.len, type, timeout, &id);
    Py_END_ALLOW_THREADS
    payload_release(&p);
    if (s == RR_FULL || s == RR_TIMEOUT)
        return raise_status(state_of(m), s, "pool %s busy: another producer is still filling the slot "
                            "a lap behind", rr_pool_name(id));
    if (s != RR_OK)
        return raise_status(state_of(m), s, NULL);
    return PyLong_FromLong(id);
}

static PyObject *mod_pool_stats(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    rr_pool_stats s[RR_POOL_COUNT];
    rr_pool_stats_collect(s);
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        char text[128];
        rr_pool_stats_format(&s[i], text, sizeof text);
        PyObject *d = Py_BuildValue("{s:i,s:K,s:n,s:n,s:K,s:I,s:d,s:s}",
                                    "pool_id", (int)s[i].id,
                                    "capacity", (unsigned long long)s[i].capacity,
                                    "slot_size", (Py_ssize_t)s[i].slot_size,
                                    "memory_bytes", (Py_ssize_t)s[i].memory_bytes,
                                    "published", (unsigned long long)s[i].published,
                                    "reader_count", (unsigned int)s[i].reader_count,
                                    "current_backpressure", s[i].current_backpressure,
                                    "text", text);
        if (!d || PyList_Append(list, d) < 0) {
            Py_XDECREF(d);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(d);
    }
    return list;
}

/* The Rings alive now, oldest first, for monitoring. */
static PyObject *mod_live_rings(PyObject *m, PyObject *unused)
{
    (void)unused;
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    /* Appending only grows the list's item array: no garbage collection, so
     * no Ring leaves the registry while we walk it. */
    for (RingObject *r = state_of(m)->live; r; r = r->live_next)
        if (PyList_Append(list, (PyObject *)r) < 0) {
            Py_DECREF(list);
            return NULL;
        }
    if (PyList_Reverse(list) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static PyMethodDef module_methods[] = {
    {"pool_slot_size", mod_pool_slot_size, METH_O, "pool_slot_size($module, pool_id, /)\n--\n\nReturns int: 64, 256, 1024, 4096 or 16384."},
    {"estimate_size", mod_estimate_size, METH_O,
     "estimate_size($module, n, /)\n--\n\nReturns int: the T-shirt size for n bytes, 0 (XS) .. 4 (XL), 5 (XXL) above 16384."},
    {"estimate_pool_id", mod_estimate_pool_id, METH_O,
     "estimate_pool_id($module, n, /)\n--\n\nReturns int | None: the smallest pool whose slot fits n bytes."},
    {"preset_config", mod_preset_config, METH_O,
     "preset_config($module, name, /)\n--\n\nReturns tuple: capacities (XS .. XL) of 'production', 'mobile' or 'high_throughput'."},
    {"configure_pools", mod_configure_pools, METH_O,
     "configure_pools($module, capacities, /)\n--\n\nSet the 5 default pools' capacities (XS .. XL) before their "
     "first use; RingError once they exist."},
    {"pools_config", mod_pools_config, METH_NOARGS,
     "pools_config($module)\n--\n\nReturns tuple: the capacities in force (or to be used when the pools appear)."},
    {"pool_ring", mod_pool_ring, METH_O,
     "pool_ring($module, pool_id, /)\n--\n\nReturns Ring. The process-wide default pool (overwrite mode, multi-producer), "
     "created on first use."},
    {"emit", (PyCFunction)(void (*)(void))mod_emit, METH_FASTCALL | METH_KEYWORDS,
     "emit($module, /, data, event_type=None, *, timeout=0)\n--\n\nReturns int. Publish into the smallest default pool that "
     "fits and return its id. DataTooLarge above 16384 bytes."},
    {"pool_stats", mod_pool_stats, METH_NOARGS,
     "pool_stats($module)\n--\n\nReturns list[dict]. One entry per default pool (pool_id, capacity, slot_size, "
     "memory_bytes, published, reader_count, current_backpressure, text); creates no pool."},
    {"_live_rings", mod_live_rings, METH_NOARGS,
     "_live_rings($module)\n--\n\nReturns list[Ring]. Every Ring object alive in this interpreter, "
     "in-process and shared, oldest first; not the default pools (see pool_stats). The registry "
     "keeps no ring alive: a Ring leaves it when it is deallocated."},
    {NULL}
};

/* ==== module ======================================================================= */

static int add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot)
{
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, NULL);
    if (!*slot)
        return -1;
    return PyModule_AddType(m, *slot);
}

static int add_exc(PyObject *m, const char *name, PyObject *bases, const char *doc, PyObject **slot)
{
    char qual[64];
    snprintf(qual, sizeof qual, "rusted_ring.%s", name);
    *slot = PyErr_NewExceptionWithDoc(qual, doc, bases, NULL);
    if (!*slot)
        return -1;
    return PyModule_AddObjectRef(m, name, *slot);
}

static int add_exc2(PyObject *m, const char *name, PyObject *b1, PyObject *b2, const char *doc,
                    PyObject **slot)
{
    PyObject *bases = b2 ? PyTuple_Pack(2, b1, b2) : PyTuple_Pack(1, b1);
    if (!bases)
        return -1;
    int rc = add_exc(m, name, bases, doc, slot);
    Py_DECREF(bases);
    return rc;
}

static int module_exec(PyObject *m)
{
    rr_py_state *st = state_of(m);
    if (add_type(m, &Ring_spec, &st->ring_type) < 0 ||
        add_type(m, &Writer_spec, &st->writer_type) < 0 ||
        add_type(m, &Claim_spec, &st->claim_type) < 0 ||
        add_type(m, &Reader_spec, &st->reader_type) < 0 ||
        add_type(m, &Event_spec, &st->event_type) < 0 ||
        add_type(m, &EventsIter_spec, &st->iter_type) < 0)
        return -1;
    if (add_exc(m, "RingError", PyExc_Exception, "Base of every rusted_ring error.", &st->RingError) < 0 ||
        add_exc2(m, "DataTooLarge", st->RingError, PyExc_ValueError,
                 "A payload larger than the ring's slot; the message names both sizes.", &st->DataTooLarge) < 0 ||
        add_exc2(m, "RingFull", st->RingError, PyExc_TimeoutError,
                 "No slot became free in time (backpressure mode).", &st->RingFull) < 0 ||
        add_exc2(m, "RingClosed", st->RingError, NULL, "The ring or handle is closed.", &st->RingClosed) < 0 ||
        add_exc2(m, "TooManyReaders", st->RingError, NULL,
                 "The ring's reader table (64 entries) is full.", &st->TooManyReaders) < 0 ||
        add_exc2(m, "WriterBusy", st->RingError, NULL,
                 "A single-producer ring already has a live writer.", &st->WriterBusy) < 0 ||
        add_exc2(m, "SharedMemoryError", st->RingError, PyExc_OSError,
                 "A shared ring segment is missing, exists already, or is not a compatible ring.",
                 &st->SharedMemoryError) < 0 ||
        add_exc2(m, "SharedMemoryNotFound", st->SharedMemoryError, PyExc_FileNotFoundError,
                 "No shared ring segment of that name (errno ENOENT; filename is the name).",
                 &st->SharedMemoryNotFound) < 0 ||
        add_exc2(m, "SharedMemoryExists", st->SharedMemoryError, PyExc_FileExistsError,
                 "A shared ring segment of that name exists already (errno EEXIST; filename is "
                 "the name).", &st->SharedMemoryExists) < 0)
        return -1;
    if (!(st->str_backpressure = PyUnicode_InternFromString("backpressure")) ||
        !(st->str_overwrite = PyUnicode_InternFromString("overwrite")) ||
        !(st->str_single = PyUnicode_InternFromString("single")) ||
        !(st->str_multi = PyUnicode_InternFromString("multi")))
        return -1;
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", RR_VERSION_MAJOR, RR_VERSION_MINOR, RR_VERSION_PATCH);
    if (PyModule_AddStringConstant(m, "__version__", version) < 0 ||
        PyModule_AddIntConstant(m, "MAX_READERS", RR_MAX_READERS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SLOT_SIZE", RR_MAX_SLOT_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "MAX_CLAIM", RR_MAX_CLAIM) < 0)
        return -1;
    return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg)
{
    rr_py_state *st = state_of(m);
    Py_VISIT(st->ring_type); Py_VISIT(st->writer_type); Py_VISIT(st->claim_type);
    Py_VISIT(st->reader_type); Py_VISIT(st->event_type); Py_VISIT(st->iter_type);
    Py_VISIT(st->RingError); Py_VISIT(st->DataTooLarge); Py_VISIT(st->RingFull);
    Py_VISIT(st->RingClosed); Py_VISIT(st->TooManyReaders); Py_VISIT(st->WriterBusy);
    Py_VISIT(st->SharedMemoryError); Py_VISIT(st->SharedMemoryNotFound);
    Py_VISIT(st->SharedMemoryExists);
    for (int i = 0; i < RR_POOL_COUNT; i++)
        Py_VISIT(st->pools[i]);
    return 0;
}

static int module_clear(PyObject *m)
{
    rr_py_state *st = state_of(m);
    Py_CLEAR(st->ring_type); Py_CLEAR(st->writer_type); Py_CLEAR(st->claim_type);
    Py_CLEAR(st->reader_type); Py_CLEAR(st->event_type); Py_CLEAR(st->iter_type);
    Py_CLEAR(st->RingError); Py_CLEAR(st->DataTooLarge); Py_CLEAR(st->RingFull);
    Py_CLEAR(st->RingClosed); Py_CLEAR(st->TooManyReaders); Py_CLEAR(st->WriterBusy);
    Py_CLEAR(st->SharedMemoryError); Py_CLEAR(st->SharedMemoryNotFound);
    Py_CLEAR(st->SharedMemoryExists);
    Py_CLEAR(st->str_backpressure); Py_CLEAR(st->str_overwrite);
    Py_CLEAR(st->str_single); Py_CLEAR(st->str_multi);
    for (int i = 0; i < RR_POOL_COUNT; i++)
        Py_CLEAR(st->pools[i]);
    return 0;
}

static void module_free(void *m)
{
    module_clear((PyObject *)m);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_USED},   /* handles rely on the GIL to serialise their calls */
#endif
    {0, NULL}
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rusted_ring._core",
    .m_doc = "The CPython binding of the rusted_ring C core; use the rusted_ring package.",
    .m_size = sizeof(rr_py_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&module_def);
}
