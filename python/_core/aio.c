/*
 * aio.c — event loops: Reader.fileno() and Writer.fileno() (the core's
 * pollfds, csrc/poll.c), and the async methods (next_async,
 * next_batch_async, next_block_async, aevents, add_async, add_batch_async).
 *
 * The async methods check their arguments here, as the blocking calls do
 * (the same parsers, the same errors, raised at the call), then return the
 * coroutine (or async generator) of rusted_ring/_aio.py that does the
 * waiting: Python code, since all it does is talk to the event loop. Its
 * functions are looked up once per interpreter and kept in the module state.
 *
 * What _aio.py uses of a handle, beyond the public calls:
 *   _aio       its waiters (an _aio._Waiters), kept as a weak reference, so
 *              that a Reader, which the collector does not track, never holds
 *              a cycle through the waiting tasks; the tasks hold the waiters
 *   _aio_fd()  a dup of the pollfd, the handle's own until it is
 *              deallocated: what the loop registers, so that closing the
 *              handle (from any thread, at any time) never closes an fd a
 *              loop still watches
 *   _poll_interval()  rr_reader_poll_interval / rr_writer_poll_interval, ns
 *   _ended     (Reader) its last read found the ring closed and drained:
 *              None from next(0) then means the end, not "nothing yet"
 * close() tells the waiters (rrpy_aio_closed): every waiting task wakes and
 * makes its call, which raises RingClosed, as a blocking call on a closed
 * handle does.
 *
 * Re-entrancy audit: the methods run Python code only when they make the
 * coroutine (after every check) and when close() tells the waiters (after
 * the close is done); fileno() and _aio_fd() run none.
 */
#include "module.h"

#include <fcntl.h>

static const char *const aio_names[RRPY_AIO_COUNT] = {
    [RRPY_AIO_NEXT] = "reader_next",          [RRPY_AIO_NEXT_BATCH] = "reader_next_batch",
    [RRPY_AIO_NEXT_BLOCK] = "reader_next_block", [RRPY_AIO_EVENTS] = "reader_events",
    [RRPY_AIO_ADD] = "writer_add",            [RRPY_AIO_ADD_BATCH] = "writer_add_batch",
};

/* rusted_ring._aio's function `which` (borrowed), imported on first use. */
static PyObject *aio_fn(PyTypeObject *tp, int which)
{
    rr_py_state *st = state_of_type(tp);
    if (st->aio_fn[which])
        return st->aio_fn[which];
    PyObject *mod = PyImport_ImportModule("rusted_ring._aio");
    if (!mod)
        return NULL;
    for (int i = 0; i < RRPY_AIO_COUNT; i++) {
        PyObject *f = PyObject_GetAttrString(mod, aio_names[i]);
        if (!f) {
            Py_DECREF(mod);
            return NULL;
        }
        Py_XDECREF(st->aio_fn[i]);
        st->aio_fn[i] = f;
    }
    Py_DECREF(mod);
    return st->aio_fn[which];
}

/* The coroutine fn(self, a1, a2, a3) (NULL arguments end the list). */
static PyObject *aio_call(PyObject *self, int which, PyObject *a1, PyObject *a2, PyObject *a3)
{
    PyObject *fn = aio_fn(Py_TYPE(self), which);
    if (!fn)
        return NULL;
    return PyObject_CallFunctionObjArgs(fn, self, a1, a2, a3, NULL);
}

/* A timeout in ns as _aio.py takes it: an int, RR_FOREVER (-1) for none. */
static PyObject *aio_timeout(PyObject *o)
{
    int64_t ns;
    if (rrpy_as_timeout(o, RR_FOREVER, &ns) < 0)
        return NULL;
    return PyLong_FromLongLong(ns < 0 ? -1 : ns);
}

/* ---- Reader ---------------------------------------------------------------------- */

RRPY_FASTCALL_KW(rrpy_reader_next_async, ReaderObject)
{
    static const char *const names[] = {"timeout"};
    PyObject *a[1];
    if (rrpy_parse_args("next_async", args, nargs, kwnames, names, 1, 1, 0, a) < 0)
        return NULL;
    PyObject *t = aio_timeout(a[0]);
    if (!t)
        return NULL;
    PyObject *co = aio_call((PyObject *)self, RRPY_AIO_NEXT, t, NULL, NULL);
    Py_DECREF(t);
    return co;
}

/* next_batch_async and next_block_async: (max_events, timeout=None), checked
 * as next_batch and next_block check theirs. */
static PyObject *reader_max_async(ReaderObject *self, const char *fname, int which,
                                  PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"max_events", "timeout"};
    PyObject *a[2];
    uint64_t max;
    if (rrpy_parse_args(fname, args, nargs, kwnames, names, 2, 2, 1, a) < 0 ||
        rrpy_as_count(a[0], "max_events", UINT64_MAX >> 1, &max) < 0)
        return NULL;
    if (max == 0) {
        PyErr_SetString(PyExc_ValueError, "max_events must be at least 1, got 0");
        return NULL;
    }
    PyObject *t = aio_timeout(a[1]);
    if (!t)
        return NULL;
    PyObject *m = PyLong_FromUnsignedLongLong(max);
    PyObject *co = m ? aio_call((PyObject *)self, which, m, t, NULL) : NULL;
    Py_XDECREF(m);
    Py_DECREF(t);
    return co;
}

RRPY_FASTCALL_KW(rrpy_reader_next_batch_async, ReaderObject)
{
    return reader_max_async(self, "next_batch_async", RRPY_AIO_NEXT_BATCH, args, nargs, kwnames);
}

RRPY_FASTCALL_KW(rrpy_reader_next_block_async, ReaderObject)
{
    return reader_max_async(self, "next_block_async", RRPY_AIO_NEXT_BLOCK, args, nargs, kwnames);
}

RRPY_FASTCALL_KW(rrpy_reader_aevents, ReaderObject)
{
    static const char *const names[] = {"timeout"};
    PyObject *a[1];
    if (rrpy_parse_args("aevents", args, nargs, kwnames, names, 1, 1, 0, a) < 0)
        return NULL;
    PyObject *t = aio_timeout(a[0]);
    if (!t)
        return NULL;
    PyObject *gen = aio_call((PyObject *)self, RRPY_AIO_EVENTS, t, NULL, NULL);
    Py_DECREF(t);
    return gen;
}

/* The core reader, for fileno() and _aio_fd(): RingClosed once closed, and
 * not while another thread's call uses it. */
static rr_reader *reader_core(ReaderObject *self)
{
    if (self->closed || !self->r) {
        PyErr_SetString(state_of_type(Py_TYPE((PyObject *)self))->RingClosed, "the reader is closed");
        return NULL;
    }
    if (self->busy) {
        rrpy_raise_busy("reader", self->owner);
        return NULL;
    }
    return self->r;
}

static int reader_pollfd(ReaderObject *self)
{
    rr_reader *r = reader_core(self);
    int fd = -1;
    if (!r)
        return -1;
    rr_status s = rr_reader_pollfd(r, &fd);
    if (s != RR_OK) {
        rrpy_raise_status(state_of_type(Py_TYPE((PyObject *)self)), s, NULL);
        return -1;
    }
    return fd;
}

PyObject *rrpy_reader_fileno(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    int fd = reader_pollfd(self);
    return fd < 0 ? NULL : PyLong_FromLong(fd);
}

/* A dup of `fd` kept in *aio_fd (made once). */
static PyObject *aio_fd_of(int fd, int *aio_fd)
{
    if (fd < 0)
        return NULL;
    if (*aio_fd < 0 && (*aio_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyLong_FromLong(*aio_fd);
}

PyObject *rrpy_reader_aio_fd(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    return aio_fd_of(reader_pollfd(self), &self->aio_fd);
}

PyObject *rrpy_reader_poll_interval(ReaderObject *self, PyObject *unused)
{
    (void)unused;
    rr_reader *r = reader_core(self);
    return r ? PyLong_FromLongLong(rr_reader_poll_interval(r)) : NULL;
}

/* ---- Writer ---------------------------------------------------------------------- */

/* add_async(data, event_type=None, *, timeout=None) and
 * add_batch_async(payloads, event_types=0, *, timeout=None): the timeout is
 * checked here; the rest by add and add_batch, which the coroutine calls at
 * once (so their errors come at the first await). */
static PyObject *writer_add_async(WriterObject *self, const char *fname, int which,
                                  const char *const *names, PyObject *const *args,
                                  Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *a[3];
    if (rrpy_parse_args(fname, args, nargs, kwnames, names, 3, 2, 1, a) < 0)
        return NULL;
    PyObject *t = aio_timeout(a[2]);
    if (!t)
        return NULL;
    PyObject *co = aio_call((PyObject *)self, which, a[0], a[1] ? a[1] : Py_None, t);
    Py_DECREF(t);
    return co;
}

RRPY_FASTCALL_KW(rrpy_writer_add_async, WriterObject)
{
    static const char *const names[] = {"data", "event_type", "timeout"};
    return writer_add_async(self, "add_async", RRPY_AIO_ADD, names, args, nargs, kwnames);
}

RRPY_FASTCALL_KW(rrpy_writer_add_batch_async, WriterObject)
{
    static const char *const names[] = {"payloads", "event_types", "timeout"};
    return writer_add_async(self, "add_batch_async", RRPY_AIO_ADD_BATCH, names, args, nargs,
                            kwnames);
}

static int writer_pollfd(WriterObject *self)
{
    if (rrpy_writer_usable(self) < 0)
        return -1;
    int fd = -1;
    rr_status s = rr_writer_pollfd(self->w, &fd);
    if (s != RR_OK) {
        rrpy_raise_status(state_of_type(Py_TYPE((PyObject *)self)), s, NULL);
        return -1;
    }
    return fd;
}

PyObject *rrpy_writer_fileno(WriterObject *self, PyObject *unused)
{
    (void)unused;
    int fd = writer_pollfd(self);
    return fd < 0 ? NULL : PyLong_FromLong(fd);
}

PyObject *rrpy_writer_aio_fd(WriterObject *self, PyObject *unused)
{
    (void)unused;
    return aio_fd_of(writer_pollfd(self), &self->aio_fd);
}

PyObject *rrpy_writer_poll_interval(WriterObject *self, PyObject *unused)
{
    (void)unused;
    if (rrpy_writer_check_open(self) < 0)
        return NULL;
    return PyLong_FromLongLong(rr_writer_poll_interval(self->w));
}

/* ---- the waiters' weak reference, the close, the dealloc ----------------------------- */

PyObject *rrpy_aio_get(PyObject **aio)
{
    if (!*aio)
        Py_RETURN_NONE;
    return PyObject_CallNoArgs(*aio);   /* the referent, or None once it went */
}

int rrpy_aio_set(PyObject **aio, PyObject *value)
{
    PyObject *ref = NULL;
    if (value && value != Py_None && !(ref = PyWeakref_NewRef(value, NULL)))
        return -1;
    PyObject *old = *aio;
    *aio = ref;
    Py_XDECREF(old);
    return 0;
}

/* The handle was closed: tasks waiting on it wake (their call raises
 * RingClosed). With nobody waiting, the dup goes now. */
void rrpy_aio_closed(PyObject **aio, int *aio_fd)
{
    PyObject *w = rrpy_aio_get(aio);
    if (!w) {
        PyErr_WriteUnraisable(NULL);
        return;
    }
    if (w != Py_None) {
        PyObject *r = PyObject_CallMethod(w, "handle_closed", NULL);
        if (!r)
            PyErr_WriteUnraisable(w);
        Py_XDECREF(r);
    } else if (*aio_fd >= 0) {
        close(*aio_fd);
        *aio_fd = -1;
    }
    Py_DECREF(w);
}

/* No waiters are left once a handle goes: they hold it while they wait. */
void rrpy_aio_dealloc(PyObject **aio, int *aio_fd)
{
    Py_CLEAR(*aio);
    if (*aio_fd >= 0) {
        close(*aio_fd);
        *aio_fd = -1;
    }
}

int rrpy_aio_traverse(rr_py_state *st, visitproc visit, void *arg)
{
    for (int i = 0; i < RRPY_AIO_COUNT; i++)
        Py_VISIT(st->aio_fn[i]);
    return 0;
}

void rrpy_aio_clear(rr_py_state *st)
{
    for (int i = 0; i < RRPY_AIO_COUNT; i++)
        Py_CLEAR(st->aio_fn[i]);
}
