/*
 * shm.c — rings in POSIX shared memory, as Ring's class methods:
 * create_shared, open_shared, unlink_shared. The core (csrc/shm.c) lays out,
 * validates and maps the segment; this file converts names and permissions
 * and raises FileNotFoundError / FileExistsError the way open() would.
 *
 * Invariant: a Ring object exists for a mapping exactly when the core mapped
 * it; when wrapping fails the mapping is released, and a segment that
 * create_shared made but could hand to nobody is unlinked again.
 *
 * Re-entrancy audit (module.h): no handle state here. Names are strs read
 * through their UTF-8 cache (no Python code; the caller's str keeps it alive
 * while the GIL is released); permissions are ints. Other threads run while
 * the core lays out or maps a segment, and can touch nothing of this call.
 */
#include "module.h"

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
    RingObject *self = name ? rrpy_ring_wrap(type, ring, 1, name) : NULL;
    Py_XDECREF(name);
    if (!self)
        rr_ring_destroy(ring);
    return (PyObject *)self;
}

PyObject *rrpy_ring_create_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"name", "slot_size", "capacity", "mode", "producers",
                                        "permissions"};
    PyObject *a[6];
    const char *name;
    rr_config cfg;
    unsigned perm = 0600;
    if (rrpy_parse_args("create_shared", args, nargs, kwnames, names, 6, 3, 3, a) < 0 ||
        !(name = shm_name_arg(a[0])) || rrpy_ring_config_from(a[1], a[2], a[3], a[4], &cfg) < 0 ||
        (a[5] && as_permissions(a[5], &perm) < 0))
        return NULL;
    rr_ring *ring;
    rr_status s;
    Py_BEGIN_ALLOW_THREADS           /* lays the whole segment out */
    s = rr_shm_create(name, &cfg, perm, &ring);
    Py_END_ALLOW_THREADS
    if (s != RR_OK)
        return rrpy_raise_named(state_of_type(type), s, a[0]);
    PyObject *self = ring_shared(type, ring);
    if (!self)
        rr_shm_unlink(name);         /* nobody was handed the ring we made */
    return self;
}

PyObject *rrpy_ring_open_shared(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"name"};
    PyObject *a[1];
    const char *name;
    if (rrpy_parse_args("open_shared", args, nargs, kwnames, names, 1, 1, 1, a) < 0 ||
        !(name = shm_name_arg(a[0])))
        return NULL;
    rr_ring *ring;
    rr_status s;
    Py_BEGIN_ALLOW_THREADS
    s = rr_shm_open(name, &ring);
    Py_END_ALLOW_THREADS
    if (s != RR_OK)
        return rrpy_raise_named(state_of_type(type), s, a[0]);
    return ring_shared(type, ring);
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
        return rrpy_raise_named(state_of_type(type), s, a[0]);
    Py_RETURN_NONE;
}
