/*
 * reader.c — Reader, Event and the events() iterator, which share one hold
 * protocol.
 *
 * Event lifetime. In backpressure mode an Event's payload is the ring's slot
 * itself. The core keeps the slots of a reader's last call pinned; before the
 * reader moves on, the Events of that call still alive (someone kept them, or
 * a buffer taken from them) are pinned by a hold (rr_reader_hold) on the first
 * of them, which the last of them to go releases (reader_detach_current). So
 * an Event's bytes never change while it exists, and a reader that is closed
 * while some of its events are still held stays registered (gating writers)
 * until the last of them goes. In overwrite mode an Event owns a copy of the
 * payload, verified intact by the core.
 *
 * What it costs when nothing is kept: nothing per event but filling in fields.
 * The Reader owns a reference to every Event of its last call (EV_CURRENT,
 * `cur`), so "kept" is a reference count above the Reader's one, read at the
 * next call (reader_detach_current): a kept Event is detached -- it takes a
 * reference to its Reader and, in backpressure mode, its share of a hold --
 * and the Reader lets go of it; an Event nobody else references stays in
 * `cur` as an idle one, and the next call hands the same object out again
 * with new fields. An
 * EV_CURRENT Event borrows its Reader pointer (no cycle: only detached Events
 * own their Reader). Detached Events that go leave their memory on the
 * Reader's `freelist` (up to cur_cap of them) for Events the next calls need
 * beyond the idle ones. No allocator call per event in steady state, in
 * either case.
 *
 * A Reader whose last reference goes while Events of its last call are still
 * referenced (`del r` with an event kept): its finalizer detaches them, which
 * gives each a reference to the Reader, so the Reader lives on (is
 * resurrected, PyObject_CallFinalizerFromDealloc) until the last of them goes.
 *
 * Invariants: cur[0, ncur) are the last call's EV_CURRENT events and
 * cur[ncur, nidle) idle ones, each with one reference owned by the Reader, the
 * idle ones with no other (ncur <= nidle <= cur_cap); ncur is 0 outside a
 * call once the Reader is closed; nheld counts EV_HELD events, each with one
 * core hold, and an EV_GROUPED event keeps its leader (an EV_HELD event of
 * the same call, with an older sequence) alive; freelist holds
 * nfree <= cur_cap blocks of Event memory of copy_cap bytes of room, none of
 * them an object; a reading call is `busy` (reader_enter to reader_leave)
 * wherever Python code can run in it -- its wait, next_batch's list -- and
 * runs none elsewhere, so at most one is in progress where anything can see
 * it; the core reader is closed only once the Reader is closed, not busy,
 * and holds nothing (reader_finish_close).
 *
 * Re-entrancy audit: where Python code can run in the middle of a call (on
 * this thread, or on another one once that code lets the GIL go).
 *   next, next_batch, iteration, events(): next_batch's max_events'
 *     __index__ (before the call begins: reader_usable comes after), signal
 *     handlers between wait slices, raising (a collection), and next_batch's
 *     list, made once the events are read (a collection). Wrapping events allocates nothing the
 *     collector counts (an Event is not GC-tracked) and detaching runs no
 *     Python code (the Reader's reference to a kept Event is never its last).
 *     -> The call is busy from the first such point to its end: a second
 *     reading call is refused (rrpy_raise_busy) and cannot overwrite evbuf,
 *     change `cur` or move the core reader on under the first; the events
 *     read stay pinned by the core until the reader's next call. Before the
 *     first such point (reader_usable to the core's first attempt, and all of
 *     a call that finds its event at once) nothing can see the call, so it
 *     is not marked. A close() meanwhile only sets `closed`; reader_leave
 *     then turns the call's live events into holds and closes.
 *   Event dealloc (any thread's Python code, during any call): releases its
 *     hold directly, or queues the release while a call waits with the GIL
 *     released (`waiting`: the core reader is in use), and leaves its memory
 *     on the freelist (which no call holds a pointer into across Python code).
 *     Getters and repr read the core reader, so they refuse only then.
 *   Event.data, memoryview(event): a collection while the view is made; the
 *     event's bytes stay put whatever the reader does meanwhile.
 *   b[i] of a Block (rrpy_event_detached): an Event detached from the start,
 *     with a hold (or a copy) of its own, never in `cur`.
 *   close(), properties, events() (makes an iterator, not GC-tracked): none.
 *   Reader finalizer and dealloc: none (they let go of idle Events only, whose
 *     deallocation runs no Python code).
 */
#include "module.h"

#include <string.h>

/* An overwrite Event's payload room when the ring's slots are no larger:
 * every Event of such a reader has this much, so any can be reused. */
#define RRPY_COPY_REUSE_MAX 4096

/* Ring.reader(): a Reader on `ring` (ring.c parsed the options). */
PyObject *rrpy_reader_open(rr_py_state *st, RingObject *ring, const rr_reader_options *opts)
{
    rr_reader *r;
    PyObject *name = NULL;
    if (opts->name && opts->name[0] && !(name = PyUnicode_FromString(opts->name)))
        return NULL;
    rr_status s = rr_reader_open_opts(ring->ring, opts, &r);
    if (s != RR_OK)
        Py_XDECREF(name);
    if (s == RR_TOO_MANY_READERS)
        return rrpy_raise_status(st, s, "the ring already has %d live readers; close one first",
                                 RR_MAX_READERS);
    if (s != RR_OK)
        return rrpy_raise_status(st, s, NULL);
    ReaderObject *ro = (ReaderObject *)rrpy_alloc(st->reader_type);
    if (!ro) {
        rr_reader_close(r);
        Py_XDECREF(name);
        return NULL;
    }
    ro->name = name;
    ro->writable = rr_reader_writable(r);   /* a resumed durable reader's is its place's */
    ro->durable = opts->durable;
    ro->ring = (RingObject *)Py_NewRef((PyObject *)ring);
    ro->r = r;
    ro->event_type = (PyTypeObject *)Py_NewRef((PyObject *)st->event_type);
    ro->overwrite = rr_ring_mode(ring->ring) == RR_MODE_OVERWRITE;
    if (ro->overwrite && rr_ring_slot_size(ring->ring) <= RRPY_COPY_REUSE_MAX)
        ro->copy_cap = (Py_ssize_t)rr_ring_slot_size(ring->ring);
    ro->wait = opts->wait;
    ro->aio_fd = -1;
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

/* A durable reader closed while events of it were still held parks at the
 * place it had when close() was called: what it had not released by then
 * comes again to whoever resumes it, so events let go of after the close
 * (a program dropping the blocks it never finished with) give their holds
 * back to nobody -- the core closes it with those holds in place, and its
 * gate, which they keep back, is where it parks. */
static inline int reader_keeps_place(ReaderObject *self)
{
    return self->closed && self->r && rr_reader_durable(self->r);
}

/* An event that pinned a slot is going: release it now, or queue the release
 * for the thread waiting in this reader. */
static void reader_release(ReaderObject *self, uint64_t seq)
{
    if (reader_keeps_place(self)) {
        /* nothing to queue or release: see reader_keeps_place */
    } else if (self->waiting) {
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

/* Whether anything but its reader references an EV_CURRENT event: the caller
 * (or a buffer taken from it, which references it too). */
static inline int event_kept(EventObject *ev)
{
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030E0000
    return !PyUnstable_Object_IsUniquelyReferenced((PyObject *)ev);
#else
    return Py_REFCNT((PyObject *)ev) > 1;
#endif
}

/* Before the reader moves on: events of its last call that are still
 * referenced are detached, each with a reference to the reader, and the
 * reader lets go of them. In backpressure mode the first of them (the oldest)
 * takes a hold, which keeps the gate from passing its slot and so pins every
 * later one too; the others keep that first one alive (EV_GROUPED), so the
 * hold lasts until the last of them goes, at one core call each way for the
 * whole call's events. In overwrite mode they are copies already. Events
 * nobody kept become idle, to be handed out again. Runs no Python code: the
 * reader's reference to a kept event is never its last. */
static void reader_detach_current(ReaderObject *self)
{
    rrpy_block_detach(self);
    size_t idle = 0, n = self->ncur;
    EventObject *leader = NULL;
    for (size_t i = 0; i < n; i++) {
        EventObject *ev = self->cur[i];
        if (!event_kept(ev)) {
            self->cur[idle++] = ev;
            continue;
        }
        if (self->overwrite) {
            ev->state = EV_COPY;
        } else if (leader) {
            ev->state = EV_GROUPED;
            ev->leader = (EventObject *)Py_NewRef((PyObject *)leader);
        } else {
            /* cannot fail (handed out by the last call), except in a fork()ed
             * child, where the core refuses every call of an inherited reader */
            rr_reader_hold(self->r, ev->sequence);
            ev->state = EV_HELD;
            self->nheld++;
            leader = ev;
        }
        ev->reader = (ReaderObject *)Py_NewRef((PyObject *)self);
        Py_DECREF(ev);
    }
    if (idle < n)                      /* the older idle ones follow the new */
        memmove(&self->cur[idle], &self->cur[n], (self->nidle - n) * sizeof *self->cur);
    self->nidle -= n - idle;
    self->ncur = 0;
}

/* 0 when a reading call may start; -1 with an exception otherwise. */
static int reader_usable(ReaderObject *self)
{
    if (self->busy) {
        rrpy_raise_busy("reader", self->owner);
        return -1;
    }
    if (self->closed) {
        PyErr_SetString(state_of_type(Py_TYPE((PyObject *)self))->RingClosed, "the reader is closed");
        return -1;
    }
    return 0;
}

/* The reading call is busy from here, until reader_leave: Python code may run
 * (a wait's signal handlers, a collection). Until then a call runs none, so
 * nothing can see it. */
static void reader_enter(ReaderObject *self)
{
    self->busy = 1;
    self->owner = rrpy_thread_ident();
}

static void reader_leave(ReaderObject *self)
{
    self->busy = 0;
    if (self->closed) {                /* closed during the call: finish it now */
        reader_detach_current(self);   /* live events keep their slots until they go */
        reader_finish_close(self);
    }
}

/* A new EV_CURRENT Event with `room` payload bytes, owned by the reader: from
 * the freelist when the room is the usual one, else allocated. */
static EventObject *event_new(ReaderObject *self, Py_ssize_t room)
{
    EventObject *ev;
    if (room == self->copy_cap && self->nfree > 0)
        ev = self->freelist[--self->nfree];
    else if (!(ev = PyObject_Malloc(offsetof(EventObject, copy) + (size_t)room + 1)))
        return (EventObject *)PyErr_NoMemory();
    PyObject_InitVar((PyVarObject *)ev, self->event_type, room);
    ev->reader = self;
    ev->exports = 0;
    ev->state = EV_CURRENT;
    return ev;
}

/* The memory of an Event that went: onto the reader's freelist, or freed. */
static void event_free(ReaderObject *self, EventObject *ev)
{
    if (Py_SIZE((PyObject *)ev) == self->copy_cap && self->nfree < self->cur_cap)
        self->freelist[self->nfree++] = ev;
    else
        PyObject_Free(ev);
}

/* The payload room an Event needs for e: none in backpressure mode (it shows
 * the slot), the usual room or more in overwrite mode (a copy). */
static inline Py_ssize_t event_room(ReaderObject *self, const rr_event *e)
{
    if (!self->overwrite)
        return 0;
    return (Py_ssize_t)e->len > self->copy_cap ? (Py_ssize_t)e->len : self->copy_cap;
}

static inline void event_fill(ReaderObject *self, EventObject *ev, const rr_event *e)
{
    ev->sequence = e->sequence;
    ev->len = e->len;
    ev->type = e->event_type;
    if (self->overwrite) {
        memcpy(ev->copy, e->data, e->len);
        ev->data = ev->copy;
    } else {
        ev->data = e->data;
    }
}

/* The next event of this call as an Event (a new reference): an idle one
 * reused, or a new one. Room for it in `cur` was made by reader_room. */
static EventObject *event_make(ReaderObject *self, const rr_event *e)
{
    EventObject *ev;
    Py_ssize_t room = event_room(self, e);
    if (self->ncur < self->nidle) {
        ev = self->cur[self->ncur];
        if (Py_SIZE((PyObject *)ev) < room) {          /* too small for this payload: a new one */
            EventObject *fresh = event_new(self, room);
            if (!fresh)
                return NULL;
            self->cur[self->ncur] = fresh;
            Py_DECREF(ev);
            ev = fresh;
        }
    } else {
        if (!(ev = event_new(self, room)))
            return NULL;
        self->cur[self->nidle++] = ev;
    }
    self->ncur++;
    event_fill(self, ev, e);
    return (EventObject *)Py_NewRef((PyObject *)ev);
}

/* Room for n events in cur (ncur is 0 and nidle <= cur_cap here), the
 * freelist and evbuf. */
static int reader_room(ReaderObject *self, size_t n)
{
    if (n > self->cur_cap) {
        EventObject **c = PyMem_Realloc(self->cur, n * sizeof *c);
        if (!c)
            return -1;
        self->cur = c;
        EventObject **f = PyMem_Realloc(self->freelist, n * sizeof *f);
        if (!f)
            return -1;
        self->freelist = f;
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

/* The wait of a read whose first attempt found nothing: with the GIL
 * released, in slices, running signal handlers between them, so the reader
 * is busy meanwhile. Returns 0 with the status in *s, or -1 with an exception
 * set. */
static int reader_wait(ReaderObject *self, next_ctx *c, int64_t timeout_ns, rr_status *s)
{
    reader_enter(self);
    self->waiting = 1;
    int rc = rrpy_wait_sliced(c, next_op, next_between, timeout_ns, s);
    reader_apply_pending(self);
    self->waiting = 0;
    /* closed (by another thread, a signal handler) while we waited: what we
     * read is dropped; reader_leave closes */
    if (self->closed && rc == 0)
        *s = RR_CLOSED, c->n = 0;
    reader_leave(self);
    return rc;
}

/* A read's outcome: the status (RR_OK, RR_EMPTY, RR_TIMEOUT, RR_CLOSED), or
 * -1 with an exception set for any other. */
static int reader_outcome(ReaderObject *self, rr_status s)
{
    if (s != RR_OK && s != RR_EMPTY && s != RR_TIMEOUT && s != RR_CLOSED) {
        rrpy_raise_status(state_of_type(Py_TYPE((PyObject *)self)), s, NULL);
        return -1;
    }
    return (int)s;
}

/* Before a read: the last call's events (or Block) detached; a single event
 * that nobody kept, the usual case, simply becomes idle. */
static inline void reader_move_on(ReaderObject *self)
{
    if (self->ncur == 1 && !self->block && !event_kept(self->cur[0]))
        self->ncur = 0;
    else if (self->ncur || self->block)
        reader_detach_current(self);
}

/* Read up to max events into self->evbuf, once reader_usable said yes. Runs
 * no Python code unless it waits, and is busy only while it waits. Returns
 * the status (RR_OK, RR_EMPTY, RR_TIMEOUT, RR_CLOSED), or -1 with an
 * exception set. */
static int reader_read(ReaderObject *self, size_t max, int64_t timeout_ns, size_t *n)
{
    if ((max > self->cur_cap || max > self->evbuf_cap) && reader_room(self, max) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    reader_move_on(self);
    next_ctx c = {self, self->evbuf, max, 0};
    rr_status s = next_op(&c, 0);
    if (s == RR_EMPTY && timeout_ns != 0 && reader_wait(self, &c, timeout_ns, &s) < 0)
        return -1;
    *n = c.n;
    self->ended = s == RR_CLOSED;
    return reader_outcome(self, s);
}

/* next(), iteration, events(): one event, read straight into a local; nothing
 * in it runs Python code unless it waits. */
static inline Py_ALWAYS_INLINE PyObject *reader_next_one(ReaderObject *self, int64_t timeout_ns)
{
    if (reader_usable(self) < 0)
        return NULL;
    if (self->cur_cap == 0 && reader_room(self, 1) < 0)
        return PyErr_NoMemory();
    reader_move_on(self);
    rr_event e;
    rr_status s = rr_reader_next(self->r, &e, 0);
    if (s == RR_OK)
        return (PyObject *)event_make(self, &e);
    next_ctx c = {self, &e, 1, 0};
    if (s == RR_EMPTY && timeout_ns != 0 && reader_wait(self, &c, timeout_ns, &s) < 0)
        return NULL;
    self->ended = s == RR_CLOSED;
    if (s == RR_OK)
        return (PyObject *)event_make(self, &e);
    if (reader_outcome(self, s) < 0)
        return NULL;
    return Py_NewRef(Py_None);
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
    if (!kwnames && (nargs == 1 || nargs == 2)) {   /* positional: nothing to parse */
        a[0] = args[0];
        a[1] = nargs == 2 ? args[1] : NULL;
    } else if (rrpy_parse_args("next_batch", args, nargs, kwnames, names, 2, 2, 1, a) < 0) {
        return NULL;
    }
    if (rrpy_as_count(a[0], "max_events", UINT64_MAX >> 1, &max) < 0 ||
        (a[1] && rrpy_as_timeout(a[1], RR_FOREVER, &timeout) < 0))
        return NULL;
    if (max == 0) {
        PyErr_SetString(PyExc_ValueError, "max_events must be at least 1, got 0");
        return NULL;
    }
    if (reader_usable(self) < 0)
        return NULL;
    size_t limit = rr_reader_batch_limit(self->r), n;
    int s = reader_read(self, max > limit ? limit : (size_t)max, timeout, &n);
    if (s < 0)
        return NULL;
    /* Made once the events are read, the call busy: making it may collect,
     * and finalizers that use this reader find it busy. */
    reader_enter(self);
    PyObject *list = PyList_New(s == RR_OK ? (Py_ssize_t)n : 0);
    for (size_t i = 0; list && s == RR_OK && i < n; i++) {
        PyObject *ev = (PyObject *)event_make(self, &self->evbuf[i]);
        if (!ev)
            Py_CLEAR(list);            /* the events made so far go back to idle */
        else
            RRPY_LIST_SET(list, (Py_ssize_t)i, ev);
    }
    reader_leave(self);
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
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    EventsIterObject *it = (EventsIterObject *)rrpy_alloc(st->iter_type);
    if (!it)
        return NULL;
    it->reader = (ReaderObject *)Py_NewRef((PyObject *)self);
    it->timeout_ns = timeout;
    return (PyObject *)it;
}

/* ==== process(): the handler loop ===================================================
 *
 * The LMAX Disruptor's BatchEventProcessor in C: read a batch (waiting with
 * the GIL released), call handler(event, end_of_batch) for each event, read
 * the next batch. The reader is busy from the first handler call of a batch
 * to the last, so a handler (or another thread) cannot read from it meanwhile
 * (RuntimeError), and what it can do -- close the reader, keep events, raise
 * -- is looked at after each call.
 *
 * Consumed events. The events the handler was called with are consumed, the
 * one that stopped the loop (returned False, or raised) included; the rest of
 * that batch is given back to the core (rr_reader_unread) and the reader's
 * next call hands it out again. Until then the batch's slots stay pinned, as
 * after any call, so a follower sees none of the unhandled events early.
 *
 * Events. One Event object serves every event nobody keeps: once the handler
 * has returned and dropped it, the next event refills it (its reference count
 * says so, as reader_move_on's does). An event the handler keeps (the object,
 * a buffer of it, a traceback's frame) stays in `cur` as the call's, and the
 * next event gets an Event of its own; the next call detaches the kept ones
 * with a hold (reader_detach_current), as for next_batch. */

/* handler(a, b), by vectorcall where the API version has it. */
static inline PyObject *call2(PyObject *fn, PyObject *a, PyObject *b)
{
#if !defined(Py_LIMITED_API) || Py_LIMITED_API + 0 >= 0x030C0000
    PyObject *args[3] = {NULL, a, b};
    return PyObject_Vectorcall(fn, args + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
#else
    return PyObject_CallFunctionObjArgs(fn, a, b, NULL);
#endif
}

/* The Event for the next event of a process() batch (a new reference): the
 * last one refilled when nobody kept it, else one more of the call's. */
static EventObject *process_event(ReaderObject *self, const rr_event *e)
{
    if (self->ncur > 0) {
        EventObject *last = self->cur[self->ncur - 1];
        if (!event_kept(last) && Py_SIZE((PyObject *)last) >= event_room(self, e)) {
            event_fill(self, last, e);
            return (EventObject *)Py_NewRef((PyObject *)last);
        }
    }
    return event_make(self, e);
}

/* Hand the batch in evbuf[0, n) to the handler. Returns 1 to read on, 0 when
 * the handler (False) or a close stopped the loop, -1 with an exception set;
 * *handled counts the events handed to it. The rest of the batch after the
 * event that stopped the loop goes back to the core. */
static int process_batch(ReaderObject *self, PyObject *handler, size_t n, uint64_t *handled)
{
    int rc = 1;
    size_t i = 0;
    reader_enter(self);
    while (i < n) {
        EventObject *ev = process_event(self, &self->evbuf[i]);
        if (!ev) {
            rc = -1;
            break;
        }
        PyObject *res = call2(handler, (PyObject *)ev, i + 1 == n ? Py_True : Py_False);
        Py_DECREF(ev);
        i++;
        (*handled)++;
        if (!res) {
            rc = -1;
            break;
        }
        int stop = res == Py_False;
        Py_DECREF(res);
        if (stop || self->closed) {
            rc = 0;
            break;
        }
    }
    if (i < n && self->r)              /* cannot fail: the last call's own events */
        rr_reader_unread(self->r, self->evbuf[i].sequence, n - i);
    reader_leave(self);
    return rc;
}

/* on_timeout(): the reader busy, as for the handler. 1 to wait on, 0 to stop
 * (it returned False, or closed the reader), -1 with an exception set. */
static int process_timeout(ReaderObject *self, PyObject *on_timeout)
{
    reader_enter(self);
    PyObject *res = PyObject_CallNoArgs(on_timeout);
    reader_leave(self);
    if (!res)
        return -1;
    int stop = res == Py_False || self->closed;
    Py_DECREF(res);
    return !stop;
}

static PyObject *Reader_process(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"handler", "max_batch", "timeout", "on_timeout"};
    PyObject *a[4];
    uint64_t max = RR_MAX_CLAIM;
    int64_t timeout = RR_FOREVER;
    if (rrpy_parse_args("process", args, nargs, kwnames, names, 4, 1, 1, a) < 0)
        return NULL;
    PyObject *handler = a[0], *on_timeout = a[3] == Py_None ? NULL : a[3];
    if (!PyCallable_Check(handler))
        return rrpy_type_error("handler", "callable", handler);
    if (on_timeout && !PyCallable_Check(on_timeout))
        return rrpy_type_error("on_timeout", "callable or None", on_timeout);
    if ((a[1] && rrpy_as_count(a[1], "max_batch", UINT64_MAX >> 1, &max) < 0) ||
        (a[2] && rrpy_as_timeout(a[2], RR_FOREVER, &timeout) < 0))
        return NULL;
    if (max == 0) {
        PyErr_SetString(PyExc_ValueError, "max_batch must be at least 1, got 0");
        return NULL;
    }
    if (reader_usable(self) < 0)
        return NULL;
    /* the handler and on_timeout live as long as the call: a handler that
     * drops the last other reference to itself must not free its own code */
    Py_INCREF(handler);
    Py_XINCREF(on_timeout);
    size_t limit = rr_reader_batch_limit(self->r);
    if (max > limit)
        max = limit;
    uint64_t handled = 0;
    int go = 1;
    while (go > 0 && !self->closed) {
        size_t n = 0;
        int s = reader_read(self, (size_t)max, timeout, &n);
        if (s < 0)
            go = -1;
        else if (s == RR_OK)
            go = process_batch(self, handler, n, &handled);
        else if (s == RR_CLOSED)
            go = 0;
        else                           /* RR_EMPTY (timeout 0) or RR_TIMEOUT: nothing came */
            go = on_timeout ? process_timeout(self, on_timeout) : 0;
    }
    Py_DECREF(handler);
    Py_XDECREF(on_timeout);
    if (go < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(handled);
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
    if (!self->busy) {                 /* else the call in progress finishes the close */
        reader_detach_current(self);   /* live events keep their slots until they go */
        reader_finish_close(self);
    }
    rrpy_aio_closed(&self->aio, &self->aio_fd);   /* tasks awaiting it wake (aio.c) */
    Py_RETURN_NONE;
}

static PyObject *Reader_exit(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    return Reader_close(self, NULL);
}

static PyObject *Reader_get_ring(ReaderObject *self, void *c) { (void)c; return Py_NewRef((PyObject *)self->ring); }
static PyObject *Reader_get_closed(ReaderObject *self, void *c) { (void)c; return PyBool_FromLong(self->closed); }

static PyObject *Reader_repr(ReaderObject *self)
{
    if (self->closed || self->waiting || !self->r)
        return PyUnicode_FromFormat("<rusted_ring.Reader %s>", self->closed ? "closed" : "waiting");
    if (self->name)
        return PyUnicode_FromFormat("<rusted_ring.Reader name=%R cursor=%llu lag=%llu lost=%llu>",
                                    self->name, (unsigned long long)rr_reader_cursor(self->r),
                                    (unsigned long long)rr_reader_lag(self->r),
                                    (unsigned long long)rr_reader_lost(self->r));
    return PyUnicode_FromFormat("<rusted_ring.Reader cursor=%llu lag=%llu lost=%llu>",
                                (unsigned long long)rr_reader_cursor(self->r),
                                (unsigned long long)rr_reader_lag(self->r),
                                (unsigned long long)rr_reader_lost(self->r));
}

/* The last reference to the Reader went. Events of its last call that are
 * still referenced are detached now: each takes a reference to the Reader,
 * which so lives on until the last of them goes (then this runs again, with
 * nothing left to detach). */
static void Reader_finalize(ReaderObject *self)
{
    if (self->ncur || self->block)
        reader_detach_current(self);
}

/* Run the finalizer from dealloc: 0 when the Reader may go, -1 when the
 * finalizer resurrected it (events it detached reference it). The limited API
 * has no PyObject_CallFinalizerFromDealloc; the same steps by hand: a
 * temporary reference for the finalizer's duration, taken back without a
 * second dealloc. (In a release build the function does nothing more; a
 * Reader is not GC-tracked, so there is no tracking to restore.) */
static int reader_finalize_from_dealloc(ReaderObject *self)
{
#ifndef Py_LIMITED_API
    return PyObject_CallFinalizerFromDealloc((PyObject *)self);
#else
    PyObject *o = (PyObject *)self;
    Py_SET_REFCNT(o, 1);
    Reader_finalize(self);
    Py_SET_REFCNT(o, Py_REFCNT(o) - 1);
    return Py_REFCNT(o) == 0 ? 0 : -1;
#endif
}

static void Reader_dealloc(ReaderObject *self)
{
    if (reader_finalize_from_dealloc(self) < 0)
        return;                        /* kept alive by events of its last call */
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    /* Every detached event keeps its reader alive, so none is left: nothing is
     * held, and what `cur` has is idle, referenced by the reader alone. */
    while (self->nidle > 0)
        Py_DECREF(self->cur[--self->nidle]);     /* onto the freelist */
    while (self->nfree > 0)
        PyObject_Free(self->freelist[--self->nfree]);
    if (self->r)
        rr_reader_close(self->r);
    rrpy_aio_dealloc(&self->aio, &self->aio_fd);
    PyMem_Free(self->cur);
    PyMem_Free(self->freelist);
    PyMem_Free(self->evbuf);
    PyMem_Free(self->pending);
    Py_XDECREF((PyObject *)self->event_type);
    Py_XDECREF(self->name);
    Py_XDECREF((PyObject *)self->ring);
    rrpy_free((PyObject *)self);
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
    {"next_block", (PyCFunction)(void (*)(void))rrpy_reader_next_block, METH_FASTCALL | METH_KEYWORDS,
     "next_block($self, /, max_events, timeout=0)\n--\n\nReturns Block | None. Up to max_events "
     "consecutive events that lie contiguously in the ring (fewer at the ring's end), as one "
     "Block: no Python object per event. Waits as next() does for the first; None when none "
     "arrived. See Block for how long its memory stays valid."},
    {"events", (PyCFunction)(void (*)(void))Reader_events, METH_FASTCALL | METH_KEYWORDS,
     "events($self, /, timeout=None)\n--\n\nReturns iterator of Event. Waits for each event; ends when the ring is "
     "closed and drained, or when nothing arrives within `timeout` seconds."},
    {"process", (PyCFunction)(void (*)(void))Reader_process, METH_FASTCALL | METH_KEYWORDS,
     "process($self, /, handler, *, max_batch=4096, timeout=None, on_timeout=None)\n--\n\n"
     "Returns int: the events handed to the handler. The handler loop of the LMAX Disruptor's "
     "BatchEventProcessor, run in C: reads up to max_batch events at a time (waiting, with the "
     "GIL released, as next() does) and calls handler(event, end_of_batch) for each, "
     "end_of_batch True for the last event of the batch read, until the ring is closed and "
     "drained. It stops early when the handler returns False (exactly False: None and other "
     "values go on), when the handler raises (the exception propagates), or when the reader "
     "is closed (by the handler, say). The events the handler was called with are consumed, "
     "the one that stopped the loop included; the rest of its batch is handed out again by "
     "the reader's next call. timeout: seconds to wait with nothing arriving (None: without "
     "limit; 0: never wait); then on_timeout() is called (the reader busy, as in the "
     "handler), and the loop waits again unless it returns False; without on_timeout, "
     "process returns. While it runs the reader is busy: reading from it in the handler "
     "raises RuntimeError. Each Event is valid as long as you keep it, as for next(); an "
     "Event nobody keeps is refilled for the next event."},
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
     "are gone). Idempotent. Tasks awaiting it wake and get RingClosed."},
    {"fileno", (PyCFunction)rrpy_reader_fileno, METH_NOARGS,
     "fileno($self)\n--\n\nReturns int. A file descriptor that polls readable while the reader has "
     "events or the ring is closed, for loop.add_reader, selectors, trio and anyio. Once a read "
     "finds nothing it stops polling readable until an event comes: on readable, read until "
     "next(0) returns None. It may poll readable with nothing to read, never stay quiet while "
     "events wait. The reader owns it: never read from it or close it."},
    {"next_async", (PyCFunction)(void (*)(void))rrpy_reader_next_async, METH_FASTCALL | METH_KEYWORDS,
     "next_async($self, /, timeout=None)\n--\n\nReturns Awaitable[Event | None]. next() for asyncio: "
     "waits without blocking the event loop (or any thread), up to `timeout` seconds (None: "
     "until an event or the ring's close). Cancelling the await consumes no event."},
    {"next_batch_async", (PyCFunction)(void (*)(void))rrpy_reader_next_batch_async,
     METH_FASTCALL | METH_KEYWORDS,
     "next_batch_async($self, /, max_events, timeout=None)\n--\n\nReturns Awaitable[list[Event]]. "
     "next_batch() for asyncio, waiting as next_async does."},
    {"next_block_async", (PyCFunction)(void (*)(void))rrpy_reader_next_block_async,
     METH_FASTCALL | METH_KEYWORDS,
     "next_block_async($self, /, max_events, timeout=None)\n--\n\nReturns Awaitable[Block | None]. "
     "next_block() for asyncio, waiting as next_async does."},
    {"aevents", (PyCFunction)(void (*)(void))rrpy_reader_aevents, METH_FASTCALL | METH_KEYWORDS,
     "aevents($self, /, timeout=None)\n--\n\nReturns AsyncIterator[Event]. `async for ev in "
     "r.aevents():` events as they come; ends when the ring is closed and drained, or when "
     "nothing arrives within `timeout` seconds."},
    {"_aio_fd", (PyCFunction)rrpy_reader_aio_fd, METH_NOARGS, "A dup of fileno() for event loops (aio.c)."},
    {"_poll_interval", (PyCFunction)rrpy_reader_poll_interval, METH_NOARGS,
     "ns between looks when fileno() stays quiet; 0: never (aio.c)."},
    {"__enter__", (PyCFunction)rrpy_return_self, METH_NOARGS, "Return the reader itself."},
    RRPY_REDUCE(rrpy_reader_reduce, "Refuses (TypeError): pass the shared ring or its name, and "
                                    "open a reader in the other process."),
    {"__exit__", (PyCFunction)(void (*)(void))Reader_exit, METH_FASTCALL, "Close the reader."},
    {0}
};

/* Read-only and kept in the object: answers after the close, and while a call waits. */
static PyObject *Reader_get_wait(ReaderObject *self, void *c)
{
    (void)c;
    return Py_NewRef(state_of_type(Py_TYPE((PyObject *)self))->str_wait[self->wait]);
}

static PyObject *Reader_get_name(ReaderObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->name ? self->name : Py_None);
}

static PyObject *Reader_get_writable(ReaderObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->writable);
}

static PyObject *Reader_get_durable(ReaderObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->durable);
}

/* The readers it follows now (the core's mask, which changes when one of
 * them closes or is evicted), each by its name, or by its entry index when
 * it has none, in entry order; () once closed. The names come from a stats
 * snapshot: the mask and the table are read without stopping anyone. */
static PyObject *Reader_get_after(ReaderObject *self, void *c)
{
    (void)c;
    uint64_t mask = self->r ? rr_reader_after(self->r) : 0;
    if (!mask)
        return PyTuple_New(0);
    rr_ring_stats *s = PyMem_Malloc(sizeof *s);
    if (!s)
        return PyErr_NoMemory();
    if (rr_ring_stats_get(self->ring->ring, s) != RR_OK)
        s->reader_count = 0;   /* then only indexes */
    PyObject *list = PyList_New(0);
    for (uint32_t i = 0; list && i < RR_MAX_READERS; i++) {
        if (!(mask & ((uint64_t)1 << i)))
            continue;
        const char *name = "";
        for (uint32_t k = 0; k < s->reader_count && k < RR_MAX_READERS; k++)
            if (s->readers[k].index == i)
                name = s->readers[k].name;
        PyObject *item = name[0] ? PyUnicode_FromString(name) : PyLong_FromUnsignedLong(i);
        if (!item || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    PyMem_Free(s);
    if (!list)
        return NULL;
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

static PyObject *Reader_get_aio(ReaderObject *self, void *c) { (void)c; return rrpy_aio_get(&self->aio); }
static int Reader_set_aio(ReaderObject *self, PyObject *v, void *c) { (void)c; return rrpy_aio_set(&self->aio, v); }
static PyObject *Reader_get_ended(ReaderObject *self, void *c) { (void)c; return PyBool_FromLong(self->ended); }

static PyGetSetDef Reader_getset[] = {
    {"_aio", (getter)Reader_get_aio, (setter)Reader_set_aio, "Its asyncio waiters (aio.c).", NULL},
    {"_ended", (getter)Reader_get_ended, NULL,
     "The last read found the ring closed and drained (aio.c).", NULL},
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
    {"name", (getter)Reader_get_name, NULL,
     "Its name in the ring's reader table (Ring.reader(name=...)), which every process sees in "
     "stats(); None when unnamed. Kept after the close.", NULL},
    {"after", (getter)Reader_get_after, NULL,
     "The readers it follows now, as a tuple: each by its name, or by its entry index "
     "(stats()['readers'][i]['index']) when unnamed. It changes when one of them closes or its "
     "process dies: the follower then follows what that one followed. () for a reader that "
     "follows nobody, and once closed.", NULL},
    {"writable", (getter)Reader_get_writable, NULL,
     "Whether it may write into the events it is handed (Ring.reader(writable=True)): its "
     "Events' buffers (ev.data, memoryview(ev)) are writable, for the readers that follow it.",
     NULL},
    {"durable", (getter)Reader_get_durable, NULL,
     "Whether it was opened durable (Ring.reader(name=..., durable=True)): its close, and its "
     "process's death, park its place in the ring instead of removing it, and the next durable "
     "reader of its name resumes there. Kept after the close.", NULL},
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
    {Py_tp_finalize, RRPY_FN(Reader_finalize)},
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
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    Py_XDECREF((PyObject *)self->reader);
    rrpy_free((PyObject *)self);
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
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    ReaderObject *r = self->reader;
    int detached = self->state != EV_CURRENT;    /* else its reader let go of it */
    EventObject *leader = self->state == EV_GROUPED ? self->leader : NULL;
    if (self->state == EV_HELD)
        reader_release(r, self->sequence);
    event_free(r, self);
    Py_DECREF(tp);
    Py_XDECREF((PyObject *)leader);                /* may be the last of its call: the hold goes */
    if (detached)
        Py_DECREF(r);                  /* may be the reader's last reference */
}

/* A writable reader's events are the ring's slots, which it may write into
 * (rr_reader_writable_data hands out the same address) while the event is
 * its: handed out by its last call, or held (a detached Event). Every other
 * event's buffer is read-only. */
static int Event_getbuffer(EventObject *self, Py_buffer *view, int flags)
{
    int readonly = !(self->reader->writable && self->state != EV_COPY);
    if ((flags & PyBUF_WRITABLE) && readonly) {
        PyErr_SetString(PyExc_BufferError, "an event's payload is read-only (a reader opened "
                        "with writable=True hands out writable events)");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->data, self->len, readonly,
                          flags) < 0)
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
    RRPY_REDUCE(rrpy_event_reduce, "Refuses (TypeError): pass bytes(event) instead."),
    {0}
};

static PyGetSetDef Event_getset[] = {
    {"event_type", (getter)Event_get_type, NULL, "The event's type (u32).", NULL},
    {"len", (getter)Event_get_len, NULL, "Payload length in bytes.", NULL},
    {"sequence", (getter)Event_get_sequence, NULL, "The event's position in the stream (0, 1, ...).", NULL},
    {"data", (getter)Event_get_data, NULL, "A memoryview of the payload (no copy): read-only, "
                                           "writable for a writable reader's events.", NULL},
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
#ifdef Py_LIMITED_API
    return PyType_GetSlot(Py_TYPE(o), Py_tp_dealloc) == RRPY_FN(Event_dealloc);
#else
    return Py_TYPE(o)->tp_dealloc == (destructor)Event_dealloc;
#endif
}

/* ==== for block.c ================================================================= */

int rrpy_reader_enter(ReaderObject *self)
{
    if (reader_usable(self) < 0)
        return -1;
    reader_enter(self);
    return 0;
}

void rrpy_reader_leave(ReaderObject *self) { reader_leave(self); }
void rrpy_reader_detach(ReaderObject *self) { reader_detach_current(self); }
void rrpy_reader_apply_pending(ReaderObject *self) { reader_apply_pending(self); }

/* A held range is going (n holds, counted in nheld): released now, or each
 * sequence queued for the thread waiting in this reader. */
void rrpy_reader_release_range(ReaderObject *self, uint64_t first, uint64_t n)
{
    if (reader_keeps_place(self)) {
        self->nheld -= (Py_ssize_t)n;
        reader_finish_close(self);
        return;
    }
    if (self->waiting) {
        for (uint64_t i = 0; i < n; i++)
            reader_release(self, first + i);
        return;
    }
    rr_reader_release_range(self->r, first, n);
    self->nheld -= (Py_ssize_t)n;
    reader_finish_close(self);
}

PyObject *rrpy_event_detached(ReaderObject *self, const rr_event *e)
{
    if (!self->overwrite) {
        rr_status s = rr_reader_hold(self->r, e->sequence);
        if (s != RR_OK)
            return rrpy_raise_status(state_of_type(Py_TYPE((PyObject *)self)), s, NULL);
    }
    EventObject *ev = event_new(self, event_room(self, e));
    if (!ev) {
        if (!self->overwrite)
            rr_reader_release(self->r, e->sequence);
        return NULL;
    }
    event_fill(self, ev, e);
    ev->reader = (ReaderObject *)Py_NewRef((PyObject *)self);   /* detached: it owns its reader */
    if (self->overwrite) {
        ev->state = EV_COPY;
    } else {
        ev->state = EV_HELD;
        self->nheld++;
    }
    return (PyObject *)ev;
}
