/*
 * shm.c — rings in POSIX shared memory, as Ring's class methods:
 * create_shared, open_shared, unlink_shared. The core (csrc/shm.c) lays out,
 * validates and maps the segment, checks its owner and waits for a creation
 * in progress; this file converts names, permissions, flags and timeouts,
 * waits in slices so that signal handlers run, and raises
 * FileNotFoundError / FileExistsError / TimeoutError / PermissionError (each
 * also a SharedMemoryError) the way open() would.
 *
 * Invariant: a Ring object exists for a mapping exactly when the core mapped
 * it; when wrapping fails the mapping is released, and a segment that
 * create_shared made but could hand to nobody is unlinked again.
 *
 * Re-entrancy audit (module.h): no handle state here, so nothing to mark
 * busy. Python code can run in a flag's __bool__ (argument conversion, before
 * the core is called) and in signal handlers between the slices of a wait for
 * a creation in progress; other threads run while the GIL is released. None of
 * it can reach this call's state: the name's UTF-8 lives in the caller's str,
 * the config and options on the C stack, and the Ring object is made only
 * once the core has mapped the ring. The core's message of each slice is
 * copied as the slice ends, since a handler's own failing core call would
 * overwrite the thread's last error before the wait gives up.
 */
#include "module.h"

#include <stdio.h>
#include <string.h>

/* A shared segment's mode bits, 0 .. 0o777 (the core reads 0 as 0o600). */
static int as_permissions(PyObject *o, unsigned *out)
{
    uint64_t v;
    if (rrpy_as_u64(o, "permissions", 0777, &v) == 0) {
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

/* ---- names ---- */

/* A segment name as the core takes it. Only str: the core checks the rest
 * (length, characters, '/') and says which rule a name breaks. */
static const char *shm_name_arg(PyObject *o)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s", rrpy_type_name(o));
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
    RingObject *self = name ? rrpy_ring_wrap(type, ring, 1, name) : NULL;
    Py_XDECREF(name);
    if (!self)
        rr_ring_destroy(ring);
    return (PyObject *)self;
}

/* ---- waiting for a creation in progress ---- */

/* One create_shared or open_shared call, retried in slices while another
 * process is still creating the ring, so that signal handlers (Ctrl-C) run
 * during a long wait. */
typedef struct {
    const char     *name;
    const rr_config *cfg;      /* create_shared; NULL for open_shared */
    rr_shm_options  opts;
    rr_ring        *ring;
    char            creating[1024];  /* the core's message the last slice ended with (as large as its buffer) */
} shm_call;

static rr_status shm_call_once(void *ctx, int64_t slice_ns)
{
    shm_call *c = ctx;
    c->opts.timeout_ns = slice_ns;
    rr_status s = c->cfg ? rr_shm_create_opts(c->name, c->cfg, &c->opts, &c->ring)
                         : rr_shm_open_opts(c->name, &c->opts, &c->ring);
    if (s != RR_SHM_CREATING)
        return s;
    /* Kept: signal handlers run between this slice and the end of the wait,
     * and their own failing core calls overwrite this thread's last error. */
    snprintf(c->creating, sizeof c->creating, "%s", rr_last_error());
    return RR_TIMEOUT;                               /* the next slice */
}

/* Make the call, waiting up to timeout_ns for a creation in progress:
 * RR_OK with c->ring, or -1 with the exception raised. */
static int shm_call_run(PyTypeObject *type, shm_call *c, int64_t timeout_ns, PyObject *name_o)
{
    rr_status s;
    Py_BEGIN_ALLOW_THREADS           /* create lays the whole segment out */
    s = shm_call_once(c, 0);
    Py_END_ALLOW_THREADS
    if (s == RR_TIMEOUT && timeout_ns != 0 && rrpy_wait_sliced(c, shm_call_once, NULL, timeout_ns, &s) < 0)
        return -1;
    if (s == RR_TIMEOUT) {           /* the core's message says so (last slice) */
        rrpy_raise_named(state_of_type(type), RR_SHM_CREATING, name_o,
                         c->creating[0] ? c->creating : NULL);
        return -1;
    }
    if (s != RR_OK) {
        rrpy_raise_named(state_of_type(type), s, name_o, NULL);
        return -1;
    }
    return 0;
}

static int as_flag(PyObject *o, bool *out)
{
    if (!o)
        return 0;
    int v = PyObject_IsTrue(o);
    if (v < 0)
        return -1;
    *out = v != 0;
    return 0;
}

PyObject *rrpy_ring_create_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"name", "slot_size", "capacity", "mode", "producers",
                                        "permissions", "exist_ok", "allow_other_user", "timeout"};
    PyObject *a[9];
    rr_config cfg;
    shm_call c = { .cfg = &cfg, .opts = RR_SHM_OPTIONS_INIT };
    int64_t timeout_ns;
    c.opts.permissions = 0600;
    if (rrpy_parse_args("create_shared", args, nargs, kwnames, names, 9, 3, 3, a) < 0 ||
        !(c.name = shm_name_arg(a[0])) || rrpy_ring_config_from(a[1], a[2], a[3], a[4], &cfg) < 0 ||
        (a[5] && as_permissions(a[5], &c.opts.permissions) < 0) ||
        as_flag(a[6], &c.opts.exist_ok) < 0 || as_flag(a[7], &c.opts.allow_other_user) < 0 ||
        rrpy_as_timeout(a[8], RR_FOREVER, &timeout_ns) < 0)
        return NULL;
    if (shm_call_run(type, &c, timeout_ns, a[0]) < 0)
        return NULL;
    PyObject *self = ring_shared(type, c.ring);
    if (!self && !c.opts.exist_ok)
        rr_shm_unlink(c.name);       /* nobody was handed the ring we made */
    if (self)
        ((RingObject *)self)->allow_other_user = c.opts.allow_other_user;
    return self;
}

PyObject *rrpy_ring_open_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"name", "timeout", "allow_other_user"};
    PyObject *a[3];
    shm_call c = { .cfg = NULL, .opts = RR_SHM_OPTIONS_INIT };
    int64_t timeout_ns;
    if (rrpy_parse_args("open_shared", args, nargs, kwnames, names, 3, 1, 1, a) < 0 ||
        !(c.name = shm_name_arg(a[0])) || rrpy_as_timeout(a[1], RR_FOREVER, &timeout_ns) < 0 ||
        as_flag(a[2], &c.opts.allow_other_user) < 0 || shm_call_run(type, &c, timeout_ns, a[0]) < 0)
        return NULL;
    PyObject *self = ring_shared(type, c.ring);
    if (self)
        ((RingObject *)self)->allow_other_user = c.opts.allow_other_user;
    return self;
}

PyObject *rrpy_ring_unlink_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"name"};
    PyObject *a[1];
    const char *name;
    if (rrpy_parse_args("unlink_shared", args, nargs, kwnames, names, 1, 1, 1, a) < 0 ||
        !(name = shm_name_arg(a[0])))
        return NULL;
    rr_status s = rr_shm_unlink(name);
    if (s != RR_OK)
        return rrpy_raise_named(state_of_type(type), s, a[0], NULL);
    Py_RETURN_NONE;
}
