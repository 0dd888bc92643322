/*
 * writer.c — Writer and Claim. A Writer owns an rr_writer; a Claim is one
 * open zero-copy claim of its writer (`with w.claim() as slot:`), so the two
 * share the writer's state: `active` calls in progress, `claim_open` claims
 * between enter and exit, and `closing`.
 *
 * Invariants: the core writer is closed only once no call is in progress and
 * no claim is open (writer_finish_close); a single-producer writer serves one
 * call at a time, from writer_enter to writer_leave; a claimed slot is
 * published or abandoned exactly once, and never while a buffer exported from
 * it is alive.
 *
 * Re-entrancy audit: where Python code can run in the middle of a call (on
 * this thread, or on another one once that code lets the GIL go).
 *   add, try_add, add_batch: converting payloads (.data and .event_type
 *     properties, __buffer__ on 3.12+, iterating `payloads` and
 *     `event_types`), a collection when any of that allocates, signal
 *     handlers between wait slices, raising, and releasing the payloads'
 *     buffers (__release_buffer__, an exporter's finalizer).
 *     -> The whole call is one `active` call. A single-producer writer refuses
 *     a second (rrpy_raise_busy), so add_batch's scratch and the core's
 *     one-call-at-a-time writer are never shared; a multi-producer writer
 *     takes concurrent calls, each add_batch with its own scratch. A close()
 *     meanwhile only sets `closing`: the call checks it after converting, and
 *     the core writer is closed when the last call leaves. add_batch lets go
 *     of its snapshot of the payloads after leaving, so their finalizers find
 *     the writer free. Releasing runs after the call's outcome is made, so
 *     the exception carries the core's message for this call, not one that a
 *     failing core call of that code left in the thread's last error.
 *   add(b), try_add(b) of exact bytes with an int (or no) event type, the
 *     common call (writer_add_bytes): nothing before the core's first attempt
 *     runs Python code (no conversion, no __index__, an int made from the
 *     sequence is not GC-tracked) -> not an `active` call while nothing can
 *     see it; it becomes one only to wait, as above.
 *   claim(): none (a Claim is not GC-tracked). Claim.__enter__: signal
 *     handlers between wait slices, raising -> one `active` call, as above.
 *   slot[i], slot[i] = v: allocating the memoryview (a collection), the key's
 *     and the value's __index__, the value's __buffer__ -> the claim is busy
 *     for the access: __exit__, __enter__ or another access from that code is
 *     refused, so the slot stays claimed under the view; the view is released
 *     whatever happened, and the access's own error is the one raised.
 *   __exit__, close(), properties, dealloc: no Python code before their work
 *     is done (raising may collect, after it).
 */
#include "module.h"

#include <limits.h>
#include <stdio.h>

/* Ring.writer(): a Writer on `self`. */
PyObject *rrpy_writer_open(RingObject *self, rr_wait_strategy wait)
{
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    rr_writer *w;
    rr_writer_options opts = RR_WRITER_OPTIONS_INIT;
    opts.wait = wait;
    rr_status s = rr_writer_open_opts(self->ring, &opts, &w);
    if (s == RR_WRITER_BUSY)
        return rrpy_raise_status(st, s, "this single-producer ring already has a live writer (in this "
                                        "or another process); close it first, or create the ring with "
                                        "producers=\"multi\"");
    if (s == RR_CLOSED)
        return rrpy_raise_status(st, s, "the ring is closed");
    if (s != RR_OK)
        return rrpy_raise_status(st, s, NULL);
    WriterObject *wo = (WriterObject *)rrpy_alloc(st->writer_type);
    if (!wo) {
        rr_writer_close(w);
        return NULL;
    }
    wo->ring = (RingObject *)Py_NewRef((PyObject *)self);
    wo->w = w;
    wo->multi = rr_ring_producers(self->ring) == RR_PRODUCERS_MULTI;
    wo->wait = wait;
    wo->aio_fd = -1;
    return (PyObject *)wo;
}

static void writer_finish_close(WriterObject *self)
{
    if (self->w && self->active == 0 && !self->claim_open) {
        rr_writer_close(self->w);
        self->w = NULL;
    }
}

/* 0 while the writer is open; -1 with RingClosed once close() was asked. */
static int writer_check_open(WriterObject *self)
{
    if (!self->w || self->closing) {
        PyErr_SetString(state_of_type(Py_TYPE((PyObject *)self))->RingClosed, "the writer is closed");
        return -1;
    }
    return 0;
}

/* 0 when the writer may start a call; -1 with an exception otherwise. */
static int writer_usable(WriterObject *self)
{
    if (writer_check_open(self) < 0)
        return -1;
    if (self->active && !self->multi) {
        rrpy_raise_busy("single-producer writer", self->owner);
        return -1;
    }
    return 0;
}

/* Start a call (every successful one is paired with writer_leave). */
static int writer_enter(WriterObject *self)
{
    if (writer_usable(self) < 0)
        return -1;
    self->active++;
    self->owner = rrpy_thread_ident();
    return 0;
}

static void writer_leave(WriterObject *self)
{
    self->active--;
    if (self->closing)
        writer_finish_close(self);
}

/* One logical add: its first attempt and the slices of its wait share `wait`,
 * so the wait counts once in writer_stalls. */
typedef struct {
    WriterObject     *self;
    const rr_payload *items;
    size_t            n;
    uint64_t          seq;
    rr_wait           wait;
} add_ctx;

static rr_status add_op(void *p, int64_t slice)
{
    add_ctx *c = p;
    if (c->n == 1)
        return rr_writer_add_ex(c->self->w, c->items[0].data, c->items[0].len,
                                c->items[0].event_type, &c->seq, slice, &c->wait);
    return rr_writer_add_batch_ex(c->self->w, c->items, c->n, &c->seq, slice, &c->wait);
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
    add_ctx c = {self, items, n, 0, RR_WAIT_INIT};
    rr_status s = add_op(&c, 0);
    if ((s == RR_FULL || s == RR_TIMEOUT) && timeout_ns != 0 &&
        rrpy_wait_sliced(&c, add_op, add_between, timeout_ns, &s) < 0)
        return -1;
    *seq = c.seq;
    *out = s;
    return 0;
}

static PyObject *writer_fail(WriterObject *self, rr_status s, int64_t timeout_ns)
{
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    switch (s) {
    case RR_FULL:
        return rrpy_raise_status(st, s, "ring full: readers keep all %llu slots (unread, or read and still kept)",
                                 (unsigned long long)rr_ring_capacity(self->ring->ring));
    case RR_TIMEOUT:
    {
        char secs[32];
        snprintf(secs, sizeof secs, "%.6g", (double)timeout_ns / 1e9);
        return rrpy_raise_status(st, s, "ring full: no room among %llu slots within %s s (events readers keep pin their slots)",
                                 (unsigned long long)rr_ring_capacity(self->ring->ring), secs);
    }
    case RR_CLOSED:
        return rrpy_raise_status(st, s, self->w && !self->closing ? "the ring is closed" : "the writer is closed");
    default:
        return rrpy_raise_status(st, s, NULL);
    }
}

/* add()'s result, the event's sequence as an int. The int returned last is
 * given the new value when nobody kept it (a loop of `w.add(b)` drops each
 * one), so that loop allocates no int per event; else a new one (through the
 * signed conversion, which has CPython's fast path for one-digit values). */
static PyObject *seq_int_new(WriterObject *self, uint64_t seq)
{
    PyObject *o = seq <= (uint64_t)LLONG_MAX ? PyLong_FromLongLong((long long)seq)
                                             : PyLong_FromUnsignedLongLong(seq);
    PyObject *old = self->last_seq;
    self->last_seq = Py_XNewRef(o);
    Py_XDECREF(old);
    return o;
}

static inline PyObject *seq_int(WriterObject *self, uint64_t seq)
{
    PyObject *o = self->last_seq;
    if (o && rrpy_long_refill(o, seq))
        return Py_NewRef(o);
    return seq_int_new(self, seq);
}

/* add() and try_add() once the call has begun: convert the payload, publish
 * it. trying: never wait, and say full with False. */
static PyObject *writer_add_one(WriterObject *self, PyObject *data, PyObject *type_o,
                                int64_t timeout, int trying)
{
    rrpy_payload p;
    uint32_t type = 0;
    if (rrpy_payload_get(data, &p) < 0)
        return NULL;
    if (type_o && type_o != Py_None) {
        if (rrpy_as_event_type(type_o, &type) < 0) {
            rrpy_payload_release(&p);
            return NULL;
        }
    } else {
        type = p.has_type ? p.type : 0;
    }
    /* Converting the payload may have run Python code (a .data property) that
     * closed the writer. */
    if (writer_check_open(self) < 0) {
        rrpy_payload_release(&p);
        return NULL;
    }
    rr_payload item = {p.buf, (size_t)p.len, type};
    uint64_t seq;
    rr_status s;
    PyObject *result = NULL;
    /* The outcome, the core's message included, is made before the payload is
     * released: releasing it runs Python code (__release_buffer__, the
     * exporter's finalizer) whose own failing core call would overwrite this
     * thread's last error. */
    if (writer_publish(self, &item, 1, timeout, &seq, &s) < 0)
        result = NULL;
    else if (trying && (s == RR_FULL || s == RR_TIMEOUT))
        result = Py_NewRef(Py_False);
    else if (s != RR_OK)
        result = writer_fail(self, s, timeout);
    else
        result = trying ? Py_NewRef(Py_True) : seq_int(self, seq);
    rrpy_payload_release(&p);
    return result;
}

/* What writer_add_bytes does when the first attempt did not publish: say so
 * (try_add, or add without a timeout), or wait. Waiting runs signal handlers
 * between slices: the writer is in use from here. */
static PyObject *writer_add_bytes_rest(WriterObject *self, add_ctx *c, rr_status s,
                                       int64_t timeout, int trying)
{
    if (s != RR_FULL && s != RR_TIMEOUT)
        return writer_fail(self, s, timeout);
    if (trying)
        return Py_NewRef(Py_False);
    if (timeout == 0)
        return writer_fail(self, s, timeout);
    self->active++;
    self->owner = rrpy_thread_ident();
    PyObject *result;
    if (rrpy_wait_sliced(c, add_op, add_between, timeout, &s) < 0)
        result = NULL;
    else
        result = s == RR_OK ? seq_int(self, c->seq) : writer_fail(self, s, timeout);
    writer_leave(self);
    return result;
}

/* add() and try_add() of bytes with an int event type, the common call.
 * Nothing in it runs Python code before the core's first attempt (no
 * payload conversion, no __index__), so the writer is marked in use only if
 * the call has to wait (writer_add_bytes_rest). */
static inline Py_ALWAYS_INLINE PyObject *writer_add_bytes(WriterObject *self, PyObject *data,
                                                          PyObject *type_o, int64_t timeout,
                                                          int trying)
{
    uint32_t type = 0;
    if ((!self->w || self->closing || (self->active && !self->multi)) && writer_usable(self) < 0)
        return NULL;
    if (type_o && type_o != Py_None && rrpy_as_event_type(type_o, &type) < 0)
        return NULL;
    const char *buf;
    Py_ssize_t len;
    rrpy_bytes(data, &buf, &len);
    rr_payload item = {buf, (size_t)len, type};
    add_ctx c = {self, &item, 1, 0, RR_WAIT_INIT};
    rr_status s = rr_writer_add_ex(self->w, item.data, item.len, type, &c.seq, 0, &c.wait);
    if (s == RR_OK)
        return trying ? Py_NewRef(Py_True) : seq_int(self, c.seq);
    return writer_add_bytes_rest(self, &c, s, timeout, trying);
}

static PyObject *writer_add_call(WriterObject *self, const char *fname, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames, int trying)
{
    static const char *const names[] = {"data", "event_type", "timeout"};
    PyObject *a[3];
    int64_t timeout = trying ? 0 : RR_FOREVER;
    if (!kwnames && (nargs == 1 || nargs == 2)) {    /* positional: nothing to parse */
        a[0] = args[0];
        a[1] = nargs == 2 ? args[1] : NULL;
    } else if (rrpy_parse_args(fname, args, nargs, kwnames, names, trying ? 2 : 3, 2, 1, a) < 0 ||
               (!trying && a[2] && rrpy_as_timeout(a[2], RR_FOREVER, &timeout) < 0)) {
        return NULL;
    }
    if (PyBytes_CheckExact(a[0]) && (!a[1] || a[1] == Py_None || PyLong_CheckExact(a[1])))
        return writer_add_bytes(self, a[0], a[1], timeout, trying);
    if (writer_enter(self) < 0)
        return NULL;
    PyObject *result = writer_add_one(self, a[0], a[1], timeout, trying);
    writer_leave(self);
    return result;
}

static PyObject *Writer_add(WriterObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs == 1 && !kwnames && PyBytes_CheckExact(args[0]))     /* w.add(b) */
        return writer_add_bytes(self, args[0], NULL, RR_FOREVER, 0);
    return writer_add_call(self, "add", args, nargs, kwnames, 0);
}

static PyObject *Writer_try_add(WriterObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return writer_add_call(self, "try_add", args, nargs, kwnames, 1);
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
    if (rrpy_parse_args("add_batch", args, nargs, kwnames, names, 3, 2, 1, a) < 0 ||
        rrpy_as_timeout(a[2], RR_FOREVER, &timeout) < 0 || writer_enter(self) < 0)
        return NULL;
    PyObject *types = NULL, *result = NULL;
    size_t n = 0, nviews = 0;
    rr_payload *items = NULL;
    Py_buffer *views = NULL;
    int own_scratch = 0;
    /* A tuple snapshot: its items stay alive however Python code run during the
     * conversion (or another thread, while we wait) changes the caller's list. */
    PyObject *seq = PySequence_Tuple(a[0]);
    if (!seq) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "payloads must be an iterable of bytes-like objects, not %.100s",
                         rrpy_type_name(a[0]));
        }
        goto done;
    }
    n = (size_t)RRPY_TUPLE_SIZE(seq);
    uint64_t limit = rr_ring_max_claim(self->ring->ring);
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
        if (a[1] != Py_None && rrpy_as_event_type(a[1], &common_type) < 0)
            goto done;
    } else if (a[1]) {
        types = PySequence_Tuple(a[1]);
        if (!types) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "event_types must be an int or a sequence of ints, not %.100s",
                         rrpy_type_name(a[1]));
            goto done;
        }
        if ((size_t)RRPY_TUPLE_SIZE(types) != n) {
            PyErr_Format(PyExc_ValueError, "event_types has %zd entries for %zu payloads",
                         RRPY_TUPLE_SIZE(types), n);
            goto done;
        }
    }
    /* A single-producer handle serves one call at a time (writer_enter) and
     * keeps its scratch; a multi-producer handle may be in several calls at
     * once, from several threads or from Python code run by one of them. */
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
        rrpy_payload p;
        if (rrpy_payload_get(RRPY_TUPLE_ITEM(seq, i), &p) < 0)
            goto done;
        if (p.has_view)
            views[nviews++] = p.view;
        rr_payload *it = &items[i];
        it->data = p.buf;
        it->len = (size_t)p.len;
        it->event_type = p.has_type && !types && (!a[1] || a[1] == Py_None) ? p.type : common_type;
        if (types && rrpy_as_event_type(RRPY_TUPLE_ITEM(types, i), &it->event_type) < 0)
            goto done;
    }
    uint64_t first;
    rr_status s;
    /* Converting may have run Python code that closed the writer. */
    if (writer_check_open(self) < 0 || writer_publish(self, items, n, timeout, &first, &s) < 0)
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
    writer_leave(self);
    /* The snapshot may hold a payload's last reference: its finalizer runs
     * with the writer free again. */
    Py_XDECREF(types);
    Py_XDECREF(seq);
    return result;
}

static PyObject *Writer_claim(WriterObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"event_type", "timeout"};
    PyObject *a[2];
    uint32_t type = 0;
    int64_t timeout;
    if (rrpy_parse_args("claim", args, nargs, kwnames, names, 2, 1, 0, a) < 0 ||
        (a[0] && rrpy_as_event_type(a[0], &type) < 0) || rrpy_as_timeout(a[1], RR_FOREVER, &timeout) < 0 ||
        writer_usable(self) < 0)
        return NULL;
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    ClaimObject *c = (ClaimObject *)rrpy_alloc(st->claim_type);
    if (!c)
        return NULL;
    c->writer = (WriterObject *)Py_NewRef((PyObject *)self);
    c->type = type;
    c->timeout_ns = timeout;
    c->length = (Py_ssize_t)rr_ring_slot_size(self->ring->ring);
    return (PyObject *)c;
}

/* Writer.note_lost(n): n converted first (an __index__ is Python code,
 * which could close this writer), the handle checked after; the core call
 * is one atomic add, made holding the GIL, so no close can free the handle
 * meanwhile. A call of another thread in progress is no obstacle: the
 * counter is the ring's, not the handle's. */
static PyObject *Writer_note_lost(WriterObject *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"n"};
    PyObject *a[1];
    uint64_t n = 0;
    if (rrpy_parse_args("note_lost", args, nargs, kwnames, names, 1, 1, 1, a) < 0 ||
        rrpy_as_count(a[0], "n", UINT64_MAX, &n) < 0 || writer_check_open(self) < 0)
        return NULL;
    rr_status s = rr_writer_note_lost(self->w, n);
    if (s != RR_OK)
        return rrpy_raise_status(state_of_type(Py_TYPE((PyObject *)self)), s, NULL);
    Py_RETURN_NONE;
}

static PyObject *Writer_close(WriterObject *self, PyObject *unused)
{
    (void)unused;
    self->closing = 1;
    writer_finish_close(self);
    rrpy_aio_closed(&self->aio, &self->aio_fd);   /* tasks awaiting it wake (aio.c) */
    Py_RETURN_NONE;
}

static PyObject *Writer_exit(WriterObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    return Writer_close(self, NULL);
}

static PyObject *Writer_get_ring(WriterObject *self, void *c) { (void)c; return Py_NewRef((PyObject *)self->ring); }
static PyObject *Writer_get_closed(WriterObject *self, void *c) { (void)c; return PyBool_FromLong(!self->w || self->closing); }

static PyObject *Writer_repr(WriterObject *self)
{
    return PyUnicode_FromFormat("<rusted_ring.Writer %s on %R>",
                                !self->w || self->closing ? "closed" : "open", (PyObject *)self->ring);
}

static void Writer_dealloc(WriterObject *self)
{
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    if (self->w)
        rr_writer_close(self->w);     /* no call is active: they hold a reference */
    PyMem_Free(self->items);
    PyMem_Free(self->views);
    Py_XDECREF(self->last_seq);
    rrpy_aio_dealloc(&self->aio, &self->aio_fd);
    Py_XDECREF((PyObject *)self->ring);
    rrpy_free((PyObject *)self);
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
    {"add_block", (PyCFunction)(void (*)(void))rrpy_writer_add_block, METH_FASTCALL | METH_KEYWORDS,
     "add_block($self, /, data, *, lengths=None, event_types=0, timeout=None)\n--\n\nReturns int. "
     "Publish one event per row of `data` with one claim, all or none, and return how many: a "
     "C-contiguous buffer of two or more dimensions (a row is everything after the first; "
     "rows no wider than slot_size) or a NumPy structured array (a row is a record). lengths: "
     "None (every event is a whole row) or one length per row; event_types: one int for all, "
     "or one per row. At most min(capacity, 4096) rows; waits for room as add() does."},
    {"claim_block", (PyCFunction)(void (*)(void))rrpy_writer_claim_block, METH_FASTCALL | METH_KEYWORDS,
     "claim_block($self, /, n, event_type=0, *, timeout=None)\n--\n\nReturns BlockClaim. Zero-copy "
     "write of up to n events: `with w.claim_block(n) as c:` claims at most n slots that lie "
     "contiguously (fewer at the ring's end; len(c) says how many) and gives c.data, a writable "
     "(len(c), slot_size) view, and writable c.lengths and c.event_types. Leaving the block "
     "publishes them; an exception abandons them."},
    {"claim", (PyCFunction)(void (*)(void))Writer_claim, METH_FASTCALL | METH_KEYWORDS,
     "claim($self, /, event_type=0, *, timeout=None)\n--\n\nReturns Claim. Zero-copy write: `with w.claim() as slot:` "
     "gives a writable buffer of slot_size bytes in the ring; set slot.length to the bytes used. "
     "Leaving the block publishes; an exception abandons the event (no reader sees it)."},
    {"note_lost", (PyCFunction)(void (*)(void))Writer_note_lost, METH_FASTCALL | METH_KEYWORDS,
     "note_lost($self, /, n)\n--\n\nCount n events lost before they reached this ring (a "
     "bridge carrying an overwrite-mode source's losses, say) in the ring-wide "
     "stats()['upstream_lost'], which every process sees and which only grows (it stops at "
     "2**64 - 1). n: a non-negative int (TypeError for another type, ValueError when negative "
     "or above 2**64 - 1)."},
    {"close", (PyCFunction)Writer_close, METH_NOARGS,
     "close($self)\n--\n\nRelease the writer (a single-producer ring then accepts a new one). Idempotent. "
     "Tasks awaiting it wake and get RingClosed."},
    {"fileno", (PyCFunction)rrpy_writer_fileno, METH_NOARGS,
     "fileno($self)\n--\n\nReturns int. A file descriptor that polls readable while the writer has "
     "room for an event (always, in an overwrite ring with one producer) or the ring is closed, "
     "for loop.add_reader, selectors, trio and anyio; once an add finds no room it stops polling "
     "readable until room comes. One writer per ring at a time may have one (RingError "
     "otherwise: share that writer). The writer owns it: never read from it or close it."},
    {"add_async", (PyCFunction)(void (*)(void))rrpy_writer_add_async, METH_FASTCALL | METH_KEYWORDS,
     "add_async($self, /, data, event_type=None, *, timeout=None)\n--\n\nReturns Awaitable[int]. "
     "add() for asyncio: a backpressure ring's writer waits for room without blocking the event "
     "loop (or any thread), up to `timeout` seconds (None: without limit), then raises "
     "RingFull. Cancelling the await writes nothing."},
    {"add_batch_async", (PyCFunction)(void (*)(void))rrpy_writer_add_batch_async,
     METH_FASTCALL | METH_KEYWORDS,
     "add_batch_async($self, /, payloads, event_types=0, *, timeout=None)\n--\n\nReturns "
     "Awaitable[int]. add_batch() for asyncio, waiting for room as add_async does."},
    {"_aio_fd", (PyCFunction)rrpy_writer_aio_fd, METH_NOARGS, "A dup of fileno() for event loops (aio.c)."},
    {"_poll_interval", (PyCFunction)rrpy_writer_poll_interval, METH_NOARGS,
     "ns between looks when fileno() stays quiet; 0: never (aio.c)."},
    {"__enter__", (PyCFunction)rrpy_return_self, METH_NOARGS, "Return the writer itself."},
    RRPY_REDUCE(rrpy_writer_reduce, "Refuses (TypeError): pass the shared ring or its name, and "
                                    "open a writer in the other process."),
    {"__exit__", (PyCFunction)(void (*)(void))Writer_exit, METH_FASTCALL, "Close the writer."},
    {0}
};

static PyObject *Writer_get_wait(WriterObject *self, void *c)
{
    (void)c;
    return Py_NewRef(state_of_type(Py_TYPE((PyObject *)self))->str_wait[self->wait]);
}

static PyObject *Writer_get_aio(WriterObject *self, void *c) { (void)c; return rrpy_aio_get(&self->aio); }
static int Writer_set_aio(WriterObject *self, PyObject *v, void *c) { (void)c; return rrpy_aio_set(&self->aio, v); }

static PyGetSetDef Writer_getset[] = {
    {"_aio", (getter)Writer_get_aio, (setter)Writer_set_aio, "Its asyncio waiters (aio.c).", NULL},
    {"ring", (getter)Writer_get_ring, NULL, "The ring this writer publishes to.", NULL},
    {"closed", (getter)Writer_get_closed, NULL, "True once the writer is closed.", NULL},
    {"wait", (getter)Writer_get_wait, NULL, "How it waits for room or a slot: 'block', 'yield', "
                                            "'spin' or 'sleep' (Ring.writer's wait).", NULL},
    {0}
};

static PyType_Slot Writer_slots[] = {
    {Py_tp_doc, (void *)"A writer on a Ring (from Ring.writer()). Use as a context manager to close it."},
    {Py_tp_dealloc, RRPY_FN(Writer_dealloc)},
    {Py_tp_repr, RRPY_FN(Writer_repr)},
    {Py_tp_methods, Writer_methods},
    {Py_tp_getset, Writer_getset},
    {0, NULL}
};

PyType_Spec rrpy_writer_spec = {
    .name = "rusted_ring.Writer",
    .basicsize = sizeof(WriterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Writer_slots,
};

/* ==== Claim ======================================================================== */

typedef struct {
    ClaimObject *c;
    uint32_t     type;       /* copied: the Claim's attribute may change while we wait */
    rr_wait      wait;       /* one logical wait: counted once in writer_stalls */
} claim_ctx;

static rr_status claim_op(void *p, int64_t slice)
{
    claim_ctx *ctx = p;
    return rr_writer_claim_ex(ctx->c->writer->w, 1, ctx->type, &ctx->c->c, slice, &ctx->wait);
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
    if (self->busy)
        return rrpy_raise_busy("claimed slot", self->owner);
    if (writer_enter(w) < 0)
        return NULL;
    claim_ctx ctx = {self, self->type, RR_WAIT_INIT};
    self->state = CLAIM_WAITING;          /* no second __enter__ while we wait */
    rr_status s = claim_op(&ctx, 0);
    if ((s == RR_FULL || s == RR_TIMEOUT) && self->timeout_ns != 0) {
        int rc = rrpy_wait_sliced(&ctx, claim_op, claim_between, self->timeout_ns, &s);
        if (rc < 0)
            s = RR_STATUS_COUNT;          /* a signal handler raised */
        else if (s == RR_OK && w->closing) {
            rr_writer_abandon(w->w, &self->c);   /* closed while we waited */
            s = RR_CLOSED;
        }
    }
    PyObject *result;
    if (s != RR_OK) {
        self->state = CLAIM_NEW;
        result = s == RR_STATUS_COUNT ? NULL : writer_fail(w, s, self->timeout_ns);
    } else {
        self->state = CLAIM_OPEN;
        w->claim_open++;
        result = Py_NewRef((PyObject *)self);
    }
    writer_leave(w);
    return result;
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
    if (self->busy)
        return rrpy_raise_busy("claimed slot", self->owner);
    if (self->state != CLAIM_OPEN) {
        PyErr_SetString(PyExc_RuntimeError, "the Claim is not open");
        return NULL;
    }
    rr_writer *w = self->writer->w;
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
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
        return rrpy_raise_status(st, s, NULL);
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

/* Item access goes through a short-lived memoryview of the slot. The claim is
 * busy from before the view is made until after it is released: Python code
 * that the access runs (a collection, __index__, __buffer__) cannot leave the
 * claim or start another access under it. */
static PyObject *claim_view(ClaimObject *self)
{
    if (self->busy)
        return rrpy_raise_busy("claimed slot", self->owner);
    self->busy = 1;
    self->owner = rrpy_thread_ident();
    PyObject *mv = PyMemoryView_FromObject((PyObject *)self);
    if (!mv)
        self->busy = 0;
    return mv;
}

/* Release the view; -1 when the access (failed: its exception is set) or the
 * release failed. The access's own exception is the one that stays: release()
 * must not be called with it set. */
static int claim_view_done(ClaimObject *self, PyObject *mv, int failed)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    if (failed)
        PyErr_Fetch(&type, &value, &tb);
    PyObject *r = PyObject_CallMethod(mv, "release", NULL);
    Py_DECREF(mv);
    self->busy = 0;
    if (failed) {
        if (!r)
            PyErr_Clear();
        Py_XDECREF(r);
        PyErr_Restore(type, value, tb);
        return -1;
    }
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
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
    if (claim_view_done(self, mv, !item) < 0) {
        Py_XDECREF(item);
        return NULL;
    }
    return item;
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
    return claim_view_done(self, mv, rc < 0);
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
    if (rrpy_as_u64(v, "length", UINT64_MAX >> 1, &n) < 0)
        return -1;
    if (n > slot) {
        PyErr_Format(state_of_type(Py_TYPE((PyObject *)self))->DataTooLarge,
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
    return rrpy_as_event_type(v, &self->type);
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
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    if (self->state == CLAIM_OPEN || self->state == CLAIM_DRAINING) {   /* never published */
        rr_writer_abandon(self->writer->w, &self->c);
        claim_end(self);
    }
    Py_XDECREF((PyObject *)self->writer);
    rrpy_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Claim_methods[] = {
    {"__enter__", (PyCFunction)Claim_enter, METH_NOARGS,
     "Claim the slot (waiting for room as Writer.add does) and return it."},
    RRPY_REDUCE(rrpy_claim_reduce, "Refuses (TypeError): publish the slot and pass its data."),
    {"__exit__", (PyCFunction)(void (*)(void))Claim_exit, METH_FASTCALL,
     "Publish the slot's first `length` bytes, or abandon the event when the block raised."},
    {0}
};

static PyGetSetDef Claim_getset[] = {
    {"length", (getter)Claim_get_length, (setter)Claim_set_length,
     "Bytes to publish (default: the whole slot). DataTooLarge above slot_size.", NULL},
    {"event_type", (getter)Claim_get_type, (setter)Claim_set_type, "The event's type (u32).", NULL},
    {"sequence", (getter)Claim_get_sequence, NULL, "The event's sequence once claimed, else None.", NULL},
    {"slot_size", (getter)Claim_get_slot_size, NULL, "Writable bytes.", NULL},
    {0}
};

static PyType_Slot Claim_slots[] = {
    {Py_tp_doc, (void *)"A slot claimed for zero-copy writing; see Writer.claim()."},
    {Py_tp_dealloc, RRPY_FN(Claim_dealloc)},
    {Py_tp_methods, Claim_methods},
    {Py_tp_getset, Claim_getset},
    {Py_bf_getbuffer, RRPY_FN(Claim_getbuffer)},
    {Py_bf_releasebuffer, RRPY_FN(Claim_releasebuffer)},
    {Py_mp_subscript, RRPY_FN(Claim_getitem)},
    {Py_mp_ass_subscript, RRPY_FN(Claim_setitem)},
    {Py_mp_length, RRPY_FN(Claim_len)},
    {Py_sq_length, RRPY_FN(Claim_len)},
    {0, NULL}
};

PyType_Spec rrpy_claim_spec = {
    .name = "rusted_ring.Claim",
    .basicsize = sizeof(ClaimObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Claim_slots,
};

/* ==== for block.c ================================================================= */

int rrpy_writer_enter(WriterObject *self) { return writer_enter(self); }
void rrpy_writer_leave(WriterObject *self) { writer_leave(self); }
int rrpy_writer_usable(WriterObject *self) { return writer_usable(self); }
int rrpy_writer_check_open(WriterObject *self) { return writer_check_open(self); }

PyObject *rrpy_writer_fail(WriterObject *self, rr_status s, int64_t timeout_ns)
{
    return writer_fail(self, s, timeout_ns);
}

void rrpy_writer_claim_begun(WriterObject *self) { self->claim_open++; }

void rrpy_writer_claim_ended(WriterObject *self)
{
    self->claim_open--;
    if (self->closing)
        writer_finish_close(self);
}
