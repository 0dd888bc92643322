/*
 * module.c — the module rusted_ring._core: its state (types, exceptions,
 * interned strings, the default pools' Ring objects, the registry's head), its
 * multi-phase initialisation, the one table that maps each core status to its
 * Python exception, and the sliced wait every blocking call uses.
 *
 * Invariants: the state is the only mutable module-level data; every type and
 * exception is created per module object (no static types); a status is turned
 * into an exception only through exception_for(), a busy handle only through
 * rrpy_raise_busy().
 *
 * Re-entrancy audit (see above, in module.h): the sliced wait runs signal
 * handlers between slices (PyErr_CheckSignals) with the GIL held; its callers
 * keep their handle busy across it. Nothing else here runs Python code during
 * a call.
 */
#include "module.h"

#include <errno.h>
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
 * SharedMemoryError) with errno and filename, as opening a file would. */
PyObject *rrpy_raise_named(rr_py_state *st, rr_status s, PyObject *name)
{
    int err;
    PyObject *exc = exception_for(st, s, &err);
    if (!err)
        return rrpy_raise_status(st, s, NULL);
    PyObject *args = Py_BuildValue("(isO)", err, rr_strerror(s), name);
    if (args) {
        PyErr_SetObject(exc, args);
        Py_DECREF(args);
    }
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

PyObject *rrpy_raise_busy(const char *what, unsigned long owner)
{
    if (owner == PyThread_get_thread_ident())
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
        add_type(m, &rrpy_events_iter_spec, &st->iter_type) < 0)
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
