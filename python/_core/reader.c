/*
 * reader.c — Reader, Event and the events() iterator, which share one hold
 * protocol.
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
 * Invariants: reader->cur[i] is the live EV_CURRENT event with idx i, or NULL;
 * nheld counts EV_HELD events; one reading call at a time is in progress
 * (`busy`, from reader_enter to reader_leave); the core reader is closed only
 * once the Reader is closed, not busy, and holds nothing (reader_finish_close).
 *
 * Re-entrancy audit: where Python code can run in the middle of a call (on
 * this thread, or on another one once that code lets the GIL go).
 *   next, next_batch, iteration, events(): signal handlers between wait
 *     slices, and raising (a collection). next_batch makes its list before it
 *     reads; wrapping events allocates nothing the collector counts (an Event
 *     is not GC-tracked, appending grows the list with PyMem), so no finalizer
 *     runs between the core handing events out and their wrapping.
 *     -> The whole call is busy: a second reading call is refused
 *     (rrpy_raise_busy) and cannot overwrite evbuf, grow `cur` or move the
 *     core reader on under the first. A close() meanwhile only sets `closed`;
 *     reader_leave then turns the call's live events into holds and closes.
 *   Event dealloc (any thread's Python code, during any call): releases its
 *     hold directly, or queues the release while a call waits with the GIL
 *     released (`waiting`: the core reader is in use). Getters and repr read
 *     the core reader, so they refuse only then.
 *   Event.data, memoryview(event): a collection while the view is made; the
 *     event's bytes stay put whatever the reader does meanwhile.
 *   close(), properties, events() (makes an iterator, not GC-tracked): none.
 */
#include "module.h"

#include <string.h>

/* Ring.reader(): a Reader on `ring`. */
PyObject *rrpy_reader_open(rr_py_state *st, RingObject *ring, rr_start start,
                           rr_wait_strategy wait)
{
    rr_reader *r;
    rr_reader_options opts = RR_READER_OPTIONS_INIT;
    opts.start = start;
    opts.wait = wait;
    rr_status s = rr_reader_open_opts(ring->ring, &opts, &r);
    if (s == RR_TOO_MANY_READERS)
        return rrpy_raise_status(st, s, "the ring already has %d live readers; close one first",
                                 RR_MAX_READERS);
    if (s != RR_OK)
        return rrpy_raise_status(st, s, NULL);
    ReaderObject *ro = (ReaderObject *)st->reader_type->tp_alloc(st->reader_type, 0);
    if (!ro) {
        rr_reader_close(r);
        return NULL;
    }
    ro->ring = (RingObject *)Py_NewRef(ring);
    ro->r = r;
    ro->event_type = (PyTypeObject *)Py_NewRef(st->event_type);
    ro->overwrite = rr_ring_mode(ring->ring) == RR_MODE_OVERWRITE;
    ro->wait = wait;
    return (PyObject *)ro;
}

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
    if (self->waiting) {
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
        /* cannot fail (handed out by the last call), except in a fork()ed child,
         * where the core refuses every call of an inherited reader */
        rr_reader_hold(self->r, ev->sequence);
        ev->state = EV_HELD;
        self->nheld++;
    }
    self->ncur = 0;
}

/* Start a reading call (every successful one is paired with reader_leave). */
static int reader_enter(ReaderObject *self)
{
    if (self->busy) {
        rrpy_raise_busy("reader", self->owner);
        return -1;
    }
    if (self->closed) {
        PyErr_SetString(state_of_type(Py_TYPE(self))->RingClosed, "the reader is closed");
        return -1;
    }
    self->busy = 1;
    self->owner = PyThread_get_thread_ident();
    return 0;
}

static void reader_leave(ReaderObject *self)
{
    self->busy = 0;
    if (self->closed) {                /* closed during the call: finish it now */
        reader_detach_current(self);   /* live events keep their slots until they go */
        reader_finish_close(self);
    }
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

/* Read up to max events into self->evbuf, inside a reading call. Returns the
 * status (RR_OK, RR_EMPTY, RR_TIMEOUT, RR_CLOSED), or -1 with an exception set. */
static int reader_read(ReaderObject *self, size_t max, int64_t timeout_ns, size_t *n)
{
    if (reader_room(self, max) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    reader_detach_current(self);
    next_ctx c = {self, self->evbuf, max, 0};
    rr_status s = next_op(&c, 0);
    if (s == RR_EMPTY && timeout_ns != 0) {
        self->waiting = 1;
        int rc = rrpy_wait_sliced(&c, next_op, next_between, timeout_ns, &s);
        reader_apply_pending(self);
        self->waiting = 0;
        /* closed (by another thread, a signal handler) while we waited: what we
         * read is dropped; reader_leave closes */
        if (self->closed && rc == 0)
            s = RR_CLOSED, c.n = 0;
        if (rc < 0)
            return -1;
    }
    *n = c.n;
    if (s != RR_OK && s != RR_EMPTY && s != RR_TIMEOUT && s != RR_CLOSED) {
        rrpy_raise_status(state_of_type(Py_TYPE(self)), s, NULL);
        return -1;
    }
    return (int)s;
}

static PyObject *reader_next_one(ReaderObject *self, int64_t timeout_ns)
{
    if (reader_enter(self) < 0)
        return NULL;
    size_t n;
    PyObject *result;
    int s = reader_read(self, 1, timeout_ns, &n);
    if (s < 0)
        result = NULL;
    else if (s != RR_OK)
        result = Py_NewRef(Py_None);
    else
        result = (PyObject *)event_make(self, &self->evbuf[0]);
    reader_leave(self);
    return result;
}

static PyObject *Reader_next(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int64_t timeout = 0;
    if (nargs == 1 && !kwnames) {
        if (rrpy_as_timeout(args[0], RR_FOREVER, &timeout) < 0)
            return NULL;
    } else if (nargs || kwnames) {
        static const char *const names[] = {"timeout"};
        PyObject *a[1];
        if (rrpy_parse_args("next", args, nargs, kwnames, names, 1, 1, 0, a) < 0 ||
            (a[0] && rrpy_as_timeout(a[0], RR_FOREVER, &timeout) < 0))
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
    if (rrpy_parse_args("next_batch", args, nargs, kwnames, names, 2, 2, 1, a) < 0 ||
        rrpy_as_u64(a[0], "max_events", UINT64_MAX >> 1, &max) < 0 ||
        (a[1] && rrpy_as_timeout(a[1], RR_FOREVER, &timeout) < 0))
        return NULL;
    if (max == 0) {
        PyErr_SetString(PyExc_ValueError, "max_events must be at least 1, got 0");
        return NULL;
    }
    /* Made before the read: allocating it may collect, and run finalizers. */
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    if (reader_enter(self) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    size_t limit = rr_reader_batch_limit(self->r), n;
    int s = reader_read(self, max > limit ? limit : (size_t)max, timeout, &n);
    for (size_t i = 0; s >= 0 && i < n; i++) {
        PyObject *ev = (PyObject *)event_make(self, &self->evbuf[i]);
        if (!ev || PyList_Append(list, ev) < 0)
            s = -1;
        Py_XDECREF(ev);
    }
    reader_leave(self);
    if (s < 0)
        Py_CLEAR(list);
    return list;
}

static PyObject *Reader_events(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    static const char *const names[] = {"timeout"};
    PyObject *a[1];
    int64_t timeout;
    if (rrpy_parse_args("events", args, nargs, kwnames, names, 1, 1, 0, a) < 0 ||
        rrpy_as_timeout(a[0], RR_FOREVER, &timeout) < 0)
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
    if (self->waiting) {
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
READER_U64_GETTER(pinned, rr_reader_pinned)
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
        Py_RETURN_NONE;                /* the call in progress finishes the close */
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
    if (self->closed || self->waiting || !self->r)
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
     "backpressure_ratio($self)\n--\n\nReturns float. (lag + pinned) / capacity, from 0.0 (caught up, "
     "keeping nothing) to 1.0 (a backpressure writer finds the ring full): the share of the ring "
     "this reader keeps from writers. The same figure as its entry in ring.stats()."},
    {"is_under_pressure", (PyCFunction)Reader_is_under_pressure, METH_NOARGS,
     "is_under_pressure($self)\n--\n\nReturns bool. backpressure_ratio() > 0.8 "
     "(PRESSURE_THRESHOLD, the core's)."},
    {"should_throttle", (PyCFunction)Reader_should_throttle, METH_NOARGS,
     "should_throttle($self)\n--\n\nReturns bool. backpressure_ratio() >= 0.9 "
     "(THROTTLE_THRESHOLD, the core's)."},
    {"close", (PyCFunction)Reader_close, METH_NOARGS,
     "close($self)\n--\n\nUnregister: the reader stops gating writers (once events you still hold from it "
     "are gone). Idempotent."},
    {"__enter__", (PyCFunction)rrpy_return_self, METH_NOARGS, "Return the reader itself."},
    {"__exit__", (PyCFunction)(void (*)(void))Reader_exit, METH_FASTCALL, "Close the reader."},
    {0}
};

/* Read-only and kept in the object: answers after the close, and while a call waits. */
static PyObject *Reader_get_wait(ReaderObject *self, void *c)
{
    (void)c;
    return Py_NewRef(state_of_type(Py_TYPE(self))->str_wait[self->wait]);
}

static PyGetSetDef Reader_getset[] = {
    {"ring", (getter)Reader_get_ring, NULL, "The ring this reader follows.", NULL},
    {"closed", (getter)Reader_get_closed, NULL, "True once the reader is closed.", NULL},
    {"lag", (getter)Reader_get_lag, NULL, "Events published and not yet read.", NULL},
    {"pinned", (getter)Reader_get_pinned, NULL,
     "Events read and still kept from writers: the last call's events, and Events you keep "
     "(backpressure mode; 0 in overwrite mode).", NULL},
    {"lost", (getter)Reader_get_lost, NULL, "Events skipped because the writer lapped this reader "
                                            "(overwrite mode).", NULL},
    {"cursor", (getter)Reader_get_cursor, NULL, "Sequence of the next event to read.", NULL},
    {"delivered", (getter)Reader_get_delivered, NULL, "Events handed out so far.", NULL},
    {"skipped", (getter)Reader_get_skipped, NULL, "Abandoned claims passed over (multi-producer).", NULL},
    {"wait", (getter)Reader_get_wait, NULL, "How it waits for events: 'block', 'yield', 'spin' or "
                                            "'sleep' (Ring.reader's wait).", NULL},
    {0}
};

PyDoc_STRVAR(Reader_doc,
"A reader of a Ring with its own cursor (from Ring.reader()).\n\n"
"Iterating yields the events available now and stops when there are none, like the\n"
"rusted-ring crate; events() waits for more. An Event is valid as long as you keep it: in\n"
"backpressure mode its payload is the ring's slot, which stays pinned (writers then\n"
"find the ring full) until the event and every buffer taken from it are gone.");

static PyType_Slot Reader_slots[] = {
    {Py_tp_doc, (void *)Reader_doc},
    {Py_tp_dealloc, RRPY_FN(Reader_dealloc)},
    {Py_tp_repr, RRPY_FN(Reader_repr)},
    {Py_tp_iter, RRPY_FN(PyObject_SelfIter)},
    {Py_tp_iternext, RRPY_FN(Reader_iternext)},
    {Py_tp_methods, Reader_methods},
    {Py_tp_getset, Reader_getset},
    {0, NULL}
};

PyType_Spec rrpy_reader_spec = {
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
    {Py_tp_dealloc, RRPY_FN(EventsIter_dealloc)},
    {Py_tp_iter, RRPY_FN(PyObject_SelfIter)},
    {Py_tp_iternext, RRPY_FN(EventsIter_next)},
    {0, NULL}
};

PyType_Spec rrpy_events_iter_spec = {
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
    {0}
};

static PyGetSetDef Event_getset[] = {
    {"event_type", (getter)Event_get_type, NULL, "The event's type (u32).", NULL},
    {"len", (getter)Event_get_len, NULL, "Payload length in bytes.", NULL},
    {"sequence", (getter)Event_get_sequence, NULL, "The event's position in the stream (0, 1, ...).", NULL},
    {"data", (getter)Event_get_data, NULL, "Read-only memoryview of the payload (no copy).", NULL},
    {0}
};

PyDoc_STRVAR(Event_doc,
"One event from a Reader: event_type, len, sequence and the payload, exported through\n"
"the buffer protocol (bytes(ev), memoryview(ev), numpy.frombuffer(ev, ...)) without\n"
"copying. Valid as long as it (or a buffer taken from it) is alive.");

static PyType_Slot Event_slots[] = {
    {Py_tp_doc, (void *)Event_doc},
    {Py_tp_dealloc, RRPY_FN(Event_dealloc)},
    {Py_tp_repr, RRPY_FN(Event_repr)},
    {Py_tp_methods, Event_methods},
    {Py_tp_getset, Event_getset},
    {Py_bf_getbuffer, RRPY_FN(Event_getbuffer)},
    {Py_bf_releasebuffer, RRPY_FN(Event_releasebuffer)},
    {Py_sq_length, RRPY_FN(Event_length)},
    {0, NULL}
};

PyType_Spec rrpy_event_spec = {
    .name = "rusted_ring.Event",
    .basicsize = offsetof(EventObject, copy),
    .itemsize = 1,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Event_slots,
};

int rrpy_event_check(PyObject *o)
{
    return Py_TYPE(o)->tp_dealloc == (destructor)Event_dealloc;
}
