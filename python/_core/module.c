/*
 * module.c — the module rusted_ring._core: its state (types, exceptions,
 * interned strings, the default pools' Ring objects, the registry's head), its
 * multi-phase initialisation, the one table that maps each core status to its
 * Python exception, and the sliced wait every blocking call uses.
 *
 * Invariants: the state is the only mutable module-level data; every type and
 * exception is created per module object (no static types); a status is turned
 * into an exception only through exception_for(), a busy handle only through
 * rrpy_raise_busy(). The thresholds, health bands and stats field names the
 * pure-Python modules use come from the core here, never from a second copy in
 * Python.
 *
 * Re-entrancy audit (see above, in module.h): the sliced wait runs signal
 * handlers between slices (PyErr_CheckSignals) with the GIL held; its callers
 * keep their handle busy across it. Nothing else here runs Python code during
 * a call.
 */
#include "module.h"

#include <errno.h>
#include <string.h>
#include <time.h>

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
    case RR_SHM_CREATING:                *err = ETIMEDOUT; return st->SharedMemoryCreating;
    case RR_SHM_FOREIGN_OWNER:           *err = EPERM; return st->SharedMemoryForeignOwner;
    case RR_FORKED:                      return st->ForkedHandle;
    case RR_SYSTEM:                      return PyExc_OSError;
    default:                             return st->RingError;
    }
}

/* Raise for status s. `detail` (printf-style, may be NULL) replaces the core's
 * message for outcomes the core reports without one (full, timeout, closed). */
PyObject *rrpy_raise_status(rr_py_state *st, rr_status s, const char *detail, ...)
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
 * SharedMemoryError), a segment still being made a TimeoutError, another
 * user's a PermissionError, each with errno and filename as opening a file
 * would, and with the core's message (which says what to do about it): `msg`,
 * or this thread's last error when NULL. The message is copied before the
 * exception's arguments are built: building them may collect, and a finalizer's
 * failing core call would overwrite the last error. */
PyObject *rrpy_raise_named(rr_py_state *st, rr_status s, PyObject *name, const char *msg)
{
    int err;
    PyObject *exc = exception_for(st, s, &err);
    PyObject *text = PyUnicode_FromString(msg ? msg : rr_last_error());
    if (!text)
        return NULL;
    if (!err) {
        PyErr_SetObject(exc, text);
    } else {
        PyObject *args = Py_BuildValue("(iOO)", err, text, name);
        if (args) {
            PyErr_SetObject(exc, args);
            Py_DECREF(args);
        }
    }
    Py_DECREF(text);
    return NULL;
}
/* ---- waiting with the GIL released ----------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* See module.h. */
int rrpy_wait_sliced(void *ctx, rrpy_wait_op op, rrpy_wait_between between, int64_t timeout_ns,
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
        /* A writer's op passes the rr_wait of its first, non-waiting attempt
         * (kept in ctx), so the slices count once in writer_stalls. */
        Py_BEGIN_ALLOW_THREADS
        s = op(ctx, slice);
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

const char *rrpy_type_name(PyObject *o)
{
#ifndef Py_LIMITED_API
    return Py_TYPE(o)->tp_name;
#else
    /* module.qualname, builtins without their module: the name 3.13's %T
     * gives, and tp_name's for every type but a class statement's. */
    static _Thread_local char name[128];
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);               /* some callers replace an exception */
    PyTypeObject *tp = Py_TYPE(o);
    PyObject *mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    PyObject *qual = PyType_GetQualName(tp);
    const char *m = mod && PyUnicode_Check(mod) ? PyUnicode_AsUTF8AndSize(mod, NULL) : NULL;
    const char *q = qual ? PyUnicode_AsUTF8AndSize(qual, NULL) : NULL;
    if (!q)
        q = "object";
    if (m && strcmp(m, "builtins") != 0)
        snprintf(name, sizeof name, "%s.%s", m, q);
    else
        snprintf(name, sizeof name, "%s", q);
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
    return name;
#endif
}

PyObject *rrpy_raise_busy(const char *what, unsigned long owner)
{
    if (owner == rrpy_thread_ident())
        PyErr_Format(PyExc_RuntimeError, "this %s is in use by an outer call on this thread "
                     "(re-entered from a finalizer or property)", what);
    else
        PyErr_Format(PyExc_RuntimeError, "this %s is in use by another thread", what);
    return NULL;
}

PyObject *rrpy_return_self(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

/* ==== vocabulary: the core's thresholds, health bands and stats fields ============== */

static int ratio_arg(PyObject *o, double *out)
{
    if (!PyFloat_Check(o) && !(PyLong_Check(o) && !PyBool_Check(o))) {
        PyErr_Format(PyExc_TypeError, "ratio must be a float, not %.100s", rrpy_type_name(o));
        return -1;
    }
    *out = PyFloat_AsDouble(o);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *mod_health_of(PyObject *m, PyObject *o)
{
    (void)m;
    double r;
    return ratio_arg(o, &r) < 0 ? NULL : PyUnicode_FromString(rr_health_name(rr_health_of(r)));
}

static PyObject *mod_is_under_pressure(PyObject *m, PyObject *o)
{
    (void)m;
    double r;
    return ratio_arg(o, &r) < 0 ? NULL : PyBool_FromLong(rr_ratio_is_under_pressure(r));
}

static PyObject *mod_should_throttle(PyObject *m, PyObject *o)
{
    (void)m;
    double r;
    return ratio_arg(o, &r) < 0 ? NULL : PyBool_FromLong(rr_ratio_should_throttle(r));
}

static PyMethodDef vocab_functions[] = {
    {"health_of", mod_health_of, METH_O,
     "health_of($module, ratio, /)\n--\n\nReturns str. The core's health band of a backpressure "
     "ratio: 'EXCELLENT' (< 0.5), 'GOOD' (<= 0.8), 'WARNING' (< 0.9) or 'CRITICAL' (>= 0.9, "
     "or NaN); WARNING exactly when under pressure and not throttling."},
    {"is_under_pressure", mod_is_under_pressure, METH_O,
     "is_under_pressure($module, ratio, /)\n--\n\nReturns bool. ratio > PRESSURE_THRESHOLD (0.8), "
     "or NaN."},
    {"should_throttle", mod_should_throttle, METH_O,
     "should_throttle($module, ratio, /)\n--\n\nReturns bool. ratio >= THROTTLE_THRESHOLD (0.9), "
     "or NaN (as health_of calls it CRITICAL)."},
    {0}
};

/* The names of the core's stats field lists, in order, as tuples. */
#define FIELD_NAME(field, kind) #field,
static const char *const ring_stats_fields[] = { RR_RING_STATS_FIELDS(FIELD_NAME) "readers" };
static const char *const reader_stats_fields[] = { RR_READER_STATS_FIELDS(FIELD_NAME) };
#undef FIELD_NAME

/* PyModule_AddObjectRef for a new reference (PyModule_Add is 3.13+). */
static int add_new(PyObject *m, const char *attr, PyObject *o)
{
    int rc = o ? PyModule_AddObjectRef(m, attr, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static int add_names(PyObject *m, const char *attr, const char *const *names, size_t n)
{
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    if (!t)
        return -1;
    for (size_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_InternFromString(names[i]);
        if (!s) {
            Py_DECREF(t);
            return -1;
        }
        RRPY_TUPLE_SET(t, (Py_ssize_t)i, s);
    }
    return add_new(m, attr, t);
}

static int add_vocabulary(PyObject *m)
{
    /* the wait strategies' names, in the enum's order (RR_WAIT_BLOCK first: the default) */
    const char *wait_names[RR_WAIT_STRATEGY_COUNT];
    for (int i = 0; i < RR_WAIT_STRATEGY_COUNT; i++)
        wait_names[i] = rr_wait_strategy_name((rr_wait_strategy)i);
    if (PyModule_AddFunctions(m, vocab_functions) < 0 ||
        add_new(m, "PRESSURE_THRESHOLD", PyFloat_FromDouble(RR_PRESSURE_THRESHOLD)) < 0 ||
        add_new(m, "THROTTLE_THRESHOLD", PyFloat_FromDouble(RR_THROTTLE_THRESHOLD)) < 0 ||
        add_new(m, "HEALTH_GOOD_FROM", PyFloat_FromDouble(RR_HEALTH_GOOD_FROM)) < 0 ||
        add_names(m, "RING_STATS_FIELDS", ring_stats_fields,
                  sizeof ring_stats_fields / sizeof *ring_stats_fields) < 0 ||
        add_names(m, "READER_STATS_FIELDS", reader_stats_fields,
                  sizeof reader_stats_fields / sizeof *reader_stats_fields) < 0 ||
        add_names(m, "WAIT_STRATEGIES", wait_names, RR_WAIT_STRATEGY_COUNT) < 0)
        return -1;
    PyObject *bands = PyTuple_New(RR_HEALTH_COUNT);
    if (!bands)
        return -1;
    for (int i = 0; i < RR_HEALTH_COUNT; i++) {
        PyObject *s = PyUnicode_InternFromString(rr_health_name((rr_health)i));
        if (!s) {
            Py_DECREF(bands);
            return -1;
        }
        RRPY_TUPLE_SET(bands, i, s);
    }
    return add_new(m, "HEALTH_NAMES", bands);
}

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
    /* The module's functions first, as m_methods would add them. */
    if (PyModule_AddFunctions(m, rrpy_pool_functions) < 0 ||
        PyModule_AddFunctions(m, rrpy_ring_functions) < 0)
        return -1;
    if (add_type(m, &rrpy_ring_spec, &st->ring_type) < 0 ||
        add_type(m, &rrpy_writer_spec, &st->writer_type) < 0 ||
        add_type(m, &rrpy_claim_spec, &st->claim_type) < 0 ||
        add_type(m, &rrpy_reader_spec, &st->reader_type) < 0 ||
        add_type(m, &rrpy_event_spec, &st->event_type) < 0 ||
        add_type(m, &rrpy_events_iter_spec, &st->iter_type) < 0 ||
        rrpy_block_types_add(m, st) < 0)
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
                 "the name).", &st->SharedMemoryExists) < 0 ||
        add_exc2(m, "SharedMemoryCreating", st->SharedMemoryError, PyExc_TimeoutError,
                 "A shared ring another process is still creating was not ready within the "
                 "timeout (errno ETIMEDOUT; filename is the name).",
                 &st->SharedMemoryCreating) < 0 ||
        add_exc2(m, "SharedMemoryForeignOwner", st->SharedMemoryError, PyExc_PermissionError,
                 "The shared ring segment belongs to another user, who could change or "
                 "truncate it under this process; pass allow_other_user=True to open it anyway "
                 "(errno EPERM; filename is the name).", &st->SharedMemoryForeignOwner) < 0 ||
        add_exc2(m, "ForkedHandle", st->RingError, PyExc_RuntimeError,
                 "A writer or reader used in a fork()ed child: it belongs to the process that "
                 "opened it. Open your own in the child (closing the inherited one is fine).",
                 &st->ForkedHandle) < 0)
        return -1;
    /* the core's names (vocab.c), made once for the mode and producers properties */
    if (!(st->str_backpressure = PyUnicode_InternFromString(rr_mode_name(RR_MODE_BACKPRESSURE))) ||
        !(st->str_overwrite = PyUnicode_InternFromString(rr_mode_name(RR_MODE_OVERWRITE))) ||
        !(st->str_single = PyUnicode_InternFromString(rr_producers_name(RR_PRODUCERS_SINGLE))) ||
        !(st->str_multi = PyUnicode_InternFromString(rr_producers_name(RR_PRODUCERS_MULTI))))
        return -1;
    for (int i = 0; i < RR_WAIT_STRATEGY_COUNT; i++)   /* and for Reader.wait, Writer.wait */
        if (!(st->str_wait[i] = PyUnicode_InternFromString(rr_wait_strategy_name((rr_wait_strategy)i))))
            return -1;
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", RR_VERSION_MAJOR, RR_VERSION_MINOR, RR_VERSION_PATCH);
    if (PyModule_AddStringConstant(m, "__version__", version) < 0 ||
        PyModule_AddIntConstant(m, "MAX_READERS", RR_MAX_READERS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SLOT_SIZE", RR_MAX_SLOT_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "MAX_CLAIM", RR_MAX_CLAIM) < 0 ||
        add_vocabulary(m) < 0)
        return -1;
    return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg)
{
    rr_py_state *st = state_of(m);
    Py_VISIT(st->ring_type); Py_VISIT(st->writer_type); Py_VISIT(st->claim_type);
    Py_VISIT(st->reader_type); Py_VISIT(st->event_type); Py_VISIT(st->iter_type);
    Py_VISIT(st->block_type); Py_VISIT(st->block_claim_type); Py_VISIT(st->block_view_type);
    Py_VISIT(st->RingError); Py_VISIT(st->DataTooLarge); Py_VISIT(st->RingFull);
    Py_VISIT(st->RingClosed); Py_VISIT(st->TooManyReaders); Py_VISIT(st->WriterBusy);
    Py_VISIT(st->SharedMemoryError); Py_VISIT(st->SharedMemoryNotFound);
    Py_VISIT(st->SharedMemoryExists); Py_VISIT(st->SharedMemoryCreating);
    Py_VISIT(st->SharedMemoryForeignOwner); Py_VISIT(st->ForkedHandle);
    for (int i = 0; i < RR_POOL_COUNT; i++)
        Py_VISIT(st->pools[i]);
    return rrpy_aio_traverse(st, visit, arg);
}

static int module_clear(PyObject *m)
{
    rr_py_state *st = state_of(m);
    Py_CLEAR(st->ring_type); Py_CLEAR(st->writer_type); Py_CLEAR(st->claim_type);
    Py_CLEAR(st->reader_type); Py_CLEAR(st->event_type); Py_CLEAR(st->iter_type);
    Py_CLEAR(st->block_type); Py_CLEAR(st->block_claim_type); Py_CLEAR(st->block_view_type);
    Py_CLEAR(st->RingError); Py_CLEAR(st->DataTooLarge); Py_CLEAR(st->RingFull);
    Py_CLEAR(st->RingClosed); Py_CLEAR(st->TooManyReaders); Py_CLEAR(st->WriterBusy);
    Py_CLEAR(st->SharedMemoryError); Py_CLEAR(st->SharedMemoryNotFound);
    Py_CLEAR(st->SharedMemoryExists); Py_CLEAR(st->SharedMemoryCreating);
    Py_CLEAR(st->SharedMemoryForeignOwner); Py_CLEAR(st->ForkedHandle);
    Py_CLEAR(st->str_backpressure); Py_CLEAR(st->str_overwrite);
    Py_CLEAR(st->str_single); Py_CLEAR(st->str_multi);
    for (int i = 0; i < RR_WAIT_STRATEGY_COUNT; i++)
        Py_CLEAR(st->str_wait[i]);
    for (int i = 0; i < RR_POOL_COUNT; i++)
        Py_CLEAR(st->pools[i]);
    rrpy_aio_clear(st);
    return 0;
}

static void module_free(void *m)
{
    module_clear((PyObject *)m);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, RRPY_FN(module_exec)},
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
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&module_def);
}
