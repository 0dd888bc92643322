/*
 * args.c — argument helpers shared by every method: positional-or-keyword
 * parsing for METH_FASTCALL, non-negative ints, event types, timeouts in
 * seconds and the core's names (both through the core's vocabulary, so they
 * mean what they mean in Lua), and payloads (bytes-like objects or
 * event-like objects).
 *
 * Each helper either fills its output and returns 0, or sets an exception that
 * names the argument and what was wrong with it and returns -1.
 */
#include <limits.h>

#include "module.h"

#include <float.h>

/* Positional-or-keyword parsing for METH_FASTCALL | METH_KEYWORDS: names[0..npos)
 * may come by position, the rest only by keyword. Unset entries stay NULL. */
int rrpy_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
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
    Py_ssize_t nkw = kwnames ? RRPY_TUPLE_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = RRPY_TUPLE_ITEM(kwnames, k);
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
int rrpy_as_u64(PyObject *o, const char *what, uint64_t max, uint64_t *out)
{
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, rrpy_type_name(o));
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
    if (overflow > 0 && max > (uint64_t)LLONG_MAX) {   /* above 2**63 - 1: unsigned */
        unsigned long long u = PyLong_AsUnsignedLongLong(o);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred()) && u <= max) {
            *out = u;
            return 0;
        }
        PyErr_Clear();   /* above 2**64 - 1: OverflowError becomes the message below */
    }
    if (overflow > 0 || (uint64_t)v > max) {
        PyErr_Format(PyExc_ValueError, "%s must be at most %llu, got %R", what,
                     (unsigned long long)max, o);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* rrpy_as_u64 of an int or of any object with __index__ (numpy.int64, say),
 * for the counts of a call (max_events, n). The __index__ is Python code:
 * callers convert before they mark a handle busy, and check it usable after. */
int rrpy_as_count(PyObject *o, const char *what, uint64_t max, uint64_t *out)
{
    if (PyLong_Check(o) || PyBool_Check(o) || !PyIndex_Check(o))
        return rrpy_as_u64(o, what, max, out);
    PyObject *i = PyNumber_Index(o);
    if (!i)
        return -1;
    int rc = rrpy_as_u64(i, what, max, out);
    Py_DECREF(i);
    return rc;
}

int rrpy_as_event_type(PyObject *o, uint32_t *out)
{
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "event_type must be an int, not %.100s", rrpy_type_name(o));
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

/* Seconds (an int or a float) to nanoseconds by the core's contract
 * (rr_timeout_from_seconds: 0 never waits, > 0 waits up to that long, inf
 * without limit, negative or NaN is a ValueError saying so); None means
 * `none_ns`, the call's documented meaning of None. */
int rrpy_as_timeout(PyObject *o, int64_t none_ns, int64_t *out)
{
    if (!o || o == Py_None) {
        *out = none_ns;
        return 0;
    }
    double s;
    if (PyLong_Check(o) && !PyBool_Check(o)) {
        s = PyLong_AsDouble(o);
        if (s == -1.0 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            /* An int beyond any double: a finite wait, the longest there is,
             * or (negative) the same error as any negative timeout. */
            PyErr_Clear();
            s = PyObject_RichCompareBool(o, Py_False, Py_LT) ? -DBL_MAX : DBL_MAX;
        }
    } else if (PyFloat_Check(o)) {
        s = PyFloat_AsDouble(o);
        if (s == -1.0 && PyErr_Occurred())
            return -1;
    } else {
        PyErr_Format(PyExc_TypeError, "timeout must be a number of seconds or None, not %.100s",
                     rrpy_type_name(o));
        return -1;
    }
    if (rr_timeout_from_seconds(s, out) != RR_OK) {
        PyErr_SetString(PyExc_ValueError, rr_last_error());
        return -1;
    }
    return 0;
}

/* One of the core's names (mode, producers, start): a str that `parse`
 * accepts; `what` names the argument in a TypeError. */
int rrpy_as_name(PyObject *o, const char *what, rrpy_name_parser parse, int *out)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what, rrpy_type_name(o));
        return -1;
    }
    const char *name = PyUnicode_AsUTF8AndSize(o, NULL);
    if (!name)
        return -1;
    if (parse(name, out) != RR_OK) {
        PyErr_SetString(PyExc_ValueError, rr_last_error());
        return -1;
    }
    return 0;
}

rr_status rrpy_parse_mode(const char *name, int *out)
{
    rr_mode v = RR_MODE_BACKPRESSURE;
    rr_status st = rr_mode_from_name(name, &v);
    *out = (int)v;
    return st;
}

rr_status rrpy_parse_producers(const char *name, int *out)
{
    rr_producers v = RR_PRODUCERS_SINGLE;
    rr_status st = rr_producers_from_name(name, &v);
    *out = (int)v;
    return st;
}

rr_status rrpy_parse_start(const char *name, int *out)
{
    rr_start v = RR_START_OLDEST;
    rr_status st = rr_start_from_name(name, &v);
    *out = (int)v;
    return st;
}

rr_status rrpy_parse_wait(const char *name, int *out)
{
    rr_wait_strategy v = RR_WAIT_BLOCK;
    rr_status st = rr_wait_strategy_from_name(name, &v);
    *out = (int)v;
    return st;
}

/* A C-contiguous view of o. The view is asked for with everything an
 * exporter may describe (shape, strides, suboffsets; no format: only the
 * bytes count) and contiguity is judged here, so that an exporter's own
 * failure passes through unchanged: whatever a __buffer__ method raises on
 * 3.12+ (KeyboardInterrupt, MemoryError, a busy handle's RuntimeError), a
 * released memoryview's ValueError. Returns 0 with the view, -1 with the
 * exporter's exception set, or 1 (nothing set) for a buffer that is not
 * C-contiguous, which the caller reports as a TypeError. */
static int contiguous_view(PyObject *o, Py_buffer *view)
{
    if (PyObject_GetBuffer(o, view, PyBUF_INDIRECT) < 0)
        return -1;
    if (!PyBuffer_IsContiguous(view, 'C')) {
        PyBuffer_Release(view);
        return 1;
    }
    return 0;
}

int rrpy_payload_get(PyObject *o, rrpy_payload *p)
{
    p->has_view = 0;
    p->has_type = 0;
    if (PyBytes_CheckExact(o)) {
        rrpy_bytes(o, &p->buf, &p->len);
        return 0;
    }
    if (rrpy_event_check(o)) {   /* forwarding an Event */
        EventObject *ev = (EventObject *)o;
        p->buf = ev->data;
        p->len = ev->len;
        p->has_type = 1;
        p->type = ev->type;
        return 0;
    }
    if (PyObject_CheckBuffer(o)) {
        int rc = contiguous_view(o, &p->view);
        if (rc > 0)
            PyErr_Format(PyExc_TypeError,
                         "data must be a C-contiguous bytes-like object; this %.100s is not contiguous",
                         rrpy_type_name(o));
        if (rc != 0)
            return -1;
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
                         "not %.100s (encode text first)", rrpy_type_name(o));
        }
        return -1;
    }
    PyObject *et = PyObject_GetAttrString(o, "event_type");
    if (!et) {
        Py_DECREF(data);
        return -1;
    }
    int rc = rrpy_as_event_type(et, &p->type);
    Py_DECREF(et);
    if (rc == 0) {
        rc = PyObject_CheckBuffer(data) ? contiguous_view(data, &p->view) : 1;
        if (rc > 0)
            PyErr_Format(PyExc_TypeError, "the event's data must be a contiguous bytes-like object, not %.100s",
                         rrpy_type_name(data));
    }
    Py_DECREF(data);             /* the view keeps what it exports alive */
    if (rc != 0)
        return -1;
    p->has_view = 1;
    p->has_type = 1;
    p->buf = p->view.buf;
    p->len = p->view.len;
    return 0;
}

/* TypeError "<what> must be <expected>, not <o's type name>", the name as
 * every message of the binding gives it (rrpy_type_name). Returns NULL. */
PyObject *rrpy_type_error(const char *what, const char *expected, PyObject *o)
{
    PyErr_Format(PyExc_TypeError, "%s must be %s, not %.100s", what, expected, rrpy_type_name(o));
    return NULL;
}
