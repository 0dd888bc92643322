/*
 * ring.c — the Ring type: rings made in this process (Ring(...)), their
 * properties, close, stats(), and the registry of live rings that
 * monitoring reads (_live_rings()). Shared rings are made in shm.c, the
 * default pools' Ring objects in pools.c; all come from rrpy_ring_wrap.
 *
 * Invariants: a Ring's rr_ring never changes; an owned Ring is on its module's
 * `live` list from rrpy_ring_wrap to Ring_dealloc; the pools' Rings (owned = 0)
 * are never on it and cannot be closed.
 *
 * Re-entrancy audit (module.h): a Ring keeps no state across Python code, so
 * it needs no busy flag. Ring(): arguments are type-checked ints and strs (no
 * __index__), and the object, not GC-tracked, is made after the core's ring.
 * writer(), reader(): the core handle is opened, then wrapped (not GC-tracked).
 * stats(): the core's snapshot is complete before the dicts are built (which
 * may collect). repr(): a str subclass's __repr__ may run for the name; only
 * the ring's own figures are read after. close(), properties: none.
 * _live_rings(): the list is made before the walk, and appending does not
 * collect, so no Ring leaves the registry during it. Dealloc: weakref
 * callbacks run after the Ring has left the registry.
 */
#include "module.h"

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
RingObject *rrpy_ring_wrap(PyTypeObject *type, rr_ring *ring, int owned, PyObject *name)
{
    RingObject *self = (RingObject *)rrpy_alloc(type);
    if (!self)
        return NULL;
    self->ring = ring;
    self->owned = owned;
    self->pid = (long)getpid();
    self->name = Py_XNewRef(name);
    if (owned)
        ring_register(state_of_type(type), self);
    return self;
}

/* slot_size, capacity, mode and producers as Ring() and create_shared() take them
 * (mode_o and prod_o may be NULL: the defaults). */
int rrpy_ring_config_from(PyObject *slot_o, PyObject *cap_o, PyObject *mode_o, PyObject *prod_o,
                          rr_config *cfg)
{
    uint64_t slot, cap;
    int mode = RR_MODE_BACKPRESSURE, prod = RR_PRODUCERS_SINGLE;
    if (rrpy_as_u64(slot_o, "slot_size", RR_MAX_SLOT_SIZE, &slot) < 0 ||
        rrpy_as_u64(cap_o, "capacity", UINT64_MAX >> 1, &cap) < 0)
        return -1;
    if (slot == 0 || cap == 0) {
        PyErr_Format(PyExc_ValueError, "%s must be at least 1, got 0", slot == 0 ? "slot_size" : "capacity");
        return -1;
    }
    if ((mode_o && rrpy_as_name(mode_o, "mode", rrpy_parse_mode, &mode) < 0) ||
        (prod_o && rrpy_as_name(prod_o, "producers", rrpy_parse_producers, &prod) < 0))
        return -1;
    *cfg = (rr_config){.slot_size = (size_t)slot, .capacity = cap,
                       .mode = (rr_mode)mode, .producers = (rr_producers)prod};
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
    if (rrpy_ring_config_from(slot_o, cap_o, mode_o, prod_o, &cfg) < 0)
        return NULL;
    if (name == Py_None)
        name = NULL;
    if (name && !PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "name must be a str or None, not %.100s", rrpy_type_name(name));
        return NULL;
    }
    rr_ring *ring;
    rr_status s = rr_ring_create(&cfg, &ring);
    if (s != RR_OK)
        return rrpy_raise_status(state_of_type(type), s, NULL);
    RingObject *self = rrpy_ring_wrap(type, ring, 1, name);
    if (!self)
        rr_ring_destroy(ring);
    return (PyObject *)self;
}
static void Ring_dealloc(RingObject *self)
{
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    ring_unregister(self);           /* first: weakref callbacks must not find it */
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    /* Writers and readers keep their Ring alive, so none is open here. A
     * shared ring is unmapped; its segment stays until unlink_shared. */
    if (self->owned && self->ring)
        rr_ring_destroy(self->ring);
    Py_XDECREF(self->name);
    rrpy_free((PyObject *)self);
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
                                       rr_mode_name(rr_ring_mode(self->ring)),
                                       rr_producers_name(rr_ring_producers(self->ring)),
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
static PyObject *Ring_get_instance(RingObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(rr_ring_instance(self->ring)); }
static PyObject *Ring_get_name(RingObject *self, void *c) { (void)c; return Py_NewRef(self->name ? self->name : Py_None); }

static PyObject *Ring_get_mode(RingObject *self, void *c)
{
    (void)c;
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    return Py_NewRef(rr_ring_mode(self->ring) == RR_MODE_OVERWRITE ? st->str_overwrite : st->str_backpressure);
}

static PyObject *Ring_get_producers(RingObject *self, void *c)
{
    (void)c;
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    return Py_NewRef(rr_ring_producers(self->ring) == RR_PRODUCERS_MULTI ? st->str_multi : st->str_single);
}

static PyObject *Ring_writer(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"wait"};
    PyObject *a[1];
    if (rrpy_parse_args("writer", args, nargs, kwnames, names, 1, 0, 0, a) < 0)
        return NULL;
    int wait = RR_WAIT_BLOCK;
    if (a[0] && rrpy_as_name(a[0], "wait", rrpy_parse_wait, &wait) < 0)
        return NULL;
    return rrpy_writer_open(self, (rr_wait_strategy)wait);
}

/* A reader's name as UTF-8 (valid while `o` lives), checked by the core: a
 * str of 1 .. RR_NAME_MAX bytes of UTF-8 without NUL. `what` names the
 * argument ("name", "after[2]"). */
static const char *reader_name_arg(PyObject *o, const char *what)
{
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(o, &len);
    if (!s)
        return NULL;   /* a lone surrogate: UnicodeEncodeError, naming it */
    if (rr_reader_name_check(s, (size_t)len) != RR_OK) {
        PyErr_Format(PyExc_ValueError, "%s: %s", what, rr_last_error());
        return NULL;
    }
    return s;
}

/* The readers of `after` (a list or tuple of Readers and names): Readers'
 * handles in *readers, names in *names (the items kept alive by `keep`),
 * counted in opts. The arrays are PyMem_Malloc'd (NULL when empty). */
static int reader_after_arg(rr_py_state *st, PyObject *after, PyObject *keep,
                            rr_reader_options *opts, const rr_reader ***readers,
                            const char ***names)
{
    if (!PyList_Check(after) && !PyTuple_Check(after)) {
        rrpy_type_error("after", "a list or tuple of Readers and reader names", after);
        return -1;
    }
    PyObject *items = PySequence_List(after);   /* a list of our own: iterating runs no code */
    if (!items)
        return -1;
    Py_ssize_t n = PyList_Size(items);
    *readers = n ? PyMem_Calloc((size_t)n, sizeof **readers) : NULL;
    *names = n ? PyMem_Calloc((size_t)n, sizeof **names) : NULL;
    if (n && (!*readers || !*names)) {
        Py_DECREF(items);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GetItem(items, i);
        char what[32];
        snprintf(what, sizeof what, "after[%zd]", i);
        if (Py_TYPE(item) == st->reader_type) {
            ReaderObject *ro = (ReaderObject *)item;
            if (ro->closed || !ro->r) {
                PyErr_Format(PyExc_ValueError, "%s: the reader is closed", what);
                goto fail;
            }
            if (PyList_Append(keep, item) < 0)
                goto fail;
            (*readers)[opts->after_count++] = ro->r;
        } else if (PyUnicode_Check(item)) {
            const char *s = reader_name_arg(item, what);
            if (!s || PyList_Append(keep, item) < 0)
                goto fail;
            (*names)[opts->after_names_count++] = s;
        } else {
            rrpy_type_error(what, "a Reader or a str (a reader's name)", item);
            goto fail;
        }
    }
    Py_DECREF(items);
    opts->after = *readers;
    opts->after_names = *names;
    return 0;
fail:
    Py_DECREF(items);
    return -1;
}

static PyObject *Ring_reader(RingObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"start", "wait", "name", "after", "writable", "durable"};
    PyObject *a[6];
    if (rrpy_parse_args("reader", args, nargs, kwnames, names, 6, 1, 0, a) < 0)
        return NULL;
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    int start = RR_START_OLDEST, wait = RR_WAIT_BLOCK;
    if (a[0] && rrpy_as_name(a[0], "start", rrpy_parse_start, &start) < 0)
        return NULL;
    if (a[1] && rrpy_as_name(a[1], "wait", rrpy_parse_wait, &wait) < 0)
        return NULL;
    rr_reader_options opts = RR_READER_OPTIONS_INIT;
    opts.start = (rr_start)start;
    opts.wait = (rr_wait_strategy)wait;
    if (a[2] && a[2] != Py_None) {
        if (!PyUnicode_Check(a[2]))
            return rrpy_type_error("name", "a str or None", a[2]);
        if (!(opts.name = reader_name_arg(a[2], "name")))
            return NULL;
    }
    if (a[4] && a[4] != Py_None) {
        if (!PyBool_Check(a[4]))
            return rrpy_type_error("writable", "a bool", a[4]);
        opts.writable = a[4] == Py_True;
    }
    if (a[5] && a[5] != Py_None) {
        if (!PyBool_Check(a[5]))
            return rrpy_type_error("durable", "a bool", a[5]);
        opts.durable = a[5] == Py_True;
    }
    const rr_reader **readers = NULL;
    const char **after_names = NULL;
    PyObject *keep = PyList_New(0), *r = NULL;   /* the names' str objects, while they are used */
    if (keep && (!a[3] || a[3] == Py_None ||
                 reader_after_arg(st, a[3], keep, &opts, &readers, &after_names) == 0))
        r = rrpy_reader_open(st, self, &opts);
    PyMem_Free(readers);
    PyMem_Free(after_names);
    Py_XDECREF(keep);
    return r;
}

/* Ring.drop_reader(name): the core's rr_ring_reader_drop. The name is
 * converted first (no Python code runs after it); the core call holds the
 * ring's pipeline word for microseconds, with the GIL (the RingObject and
 * the str stay alive: the caller holds them). */
static PyObject *Ring_drop_reader(RingObject *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"name"};
    PyObject *a[1];
    if (rrpy_parse_args("drop_reader", args, nargs, kwnames, names, 1, 1, 1, a) < 0)
        return NULL;
    if (!PyUnicode_Check(a[0]))
        return rrpy_type_error("name", "a str", a[0]);
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(a[0], &len);
    if (!s)
        return NULL;
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    if (rr_reader_name_check(s, (size_t)len) != RR_OK) {
        PyErr_Format(PyExc_ValueError, "name: %s", rr_last_error());
        return NULL;
    }
    rr_status rc = rr_ring_reader_drop(self->ring, s);
    if (rc != RR_OK)
        return rrpy_raise_status(st, rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *Ring_close(RingObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->owned) {
        PyErr_SetString(state_of_type(Py_TYPE((PyObject *)self))->RingError,
                        "the default pools are shared by the whole process and cannot be closed");
        return NULL;
    }
    rr_ring_close(self->ring);
    Py_RETURN_NONE;
}

/* Leaving a `with` block closes the ring, except a shared ring in a process
 * other than the one that made or opened this Ring: a fork()ed child
 * unwinding through its parent's block must not end the stream for every
 * process (an in-process ring is the child's own copy, and closes). An
 * explicit close() is never refused. */
static PyObject *Ring_exit(RingObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    if (self->owned && (!rr_ring_shm_name(self->ring) || self->pid == (long)getpid()))
        rr_ring_close(self->ring);
    Py_RETURN_NONE;
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

/* One stats field as a Python object, by its kind in the core's field lists. */
static PyObject *from_U64(uint64_t v) { return PyLong_FromUnsignedLongLong(v); }
static PyObject *from_BOOL(bool v) { return PyBool_FromLong(v); }
static PyObject *from_RATIO(double v) { return PyFloat_FromDouble(v); }
static PyObject *from_TEXT(const char *v) { return PyUnicode_FromString(v ? v : ""); }
static PyObject *from_MODE(rr_mode v) { return from_TEXT(rr_mode_name(v)); }
static PyObject *from_PRODUCERS(rr_producers v) { return from_TEXT(rr_producers_name(v)); }
static PyObject *from_WAIT(rr_wait_strategy v) { return from_TEXT(rr_wait_strategy_name(v)); }

#define PUT_FIELD(field, kind) || put(d, #field, from_##kind(s->field)) < 0

/* The ring's figures, RR_RING_STATS_FIELDS in order (keys as Lua's ring:stats()). */
static int put_ring_stats(PyObject *d, const rr_ring_stats *s)
{
    return 0 RR_RING_STATS_FIELDS(PUT_FIELD) ? -1 : 0;
}

static int put_reader_stats(PyObject *d, const rr_reader_stats *s)
{
    return 0 RR_READER_STATS_FIELDS(PUT_FIELD) ? -1 : 0;
}

static PyObject *Ring_stats(RingObject *self, PyObject *unused)
{
    (void)unused;
    rr_ring_stats *s = PyMem_Malloc(sizeof *s);
    if (!s)
        return PyErr_NoMemory();
    rr_ring_stats_get(self->ring, s);
    PyObject *d = PyDict_New(), *readers = NULL;
    if (!d || put_ring_stats(d, s) < 0)
        goto fail;
    /* An in-process ring's label (Ring(..., name=...)) is its name here; a
     * shared ring's name is its segment's, as the core says. */
    if (self->name && PyDict_SetItemString(d, "name", self->name) < 0)
        goto fail;
    readers = PyList_New(0);
    if (!readers)
        goto fail;
    for (uint32_t i = 0; i < s->reader_count; i++) {
        PyObject *e = PyDict_New();
        if (!e || PyList_Append(readers, e) < 0) {
            Py_XDECREF(e);
            goto fail;
        }
        Py_DECREF(e);
        if (put_reader_stats(e, &s->readers[i]) < 0)
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
    {"writer", (PyCFunction)(void (*)(void))Ring_writer, METH_FASTCALL | METH_KEYWORDS,
     "writer($self, /, *, wait='block')\n--\n\nReturns Writer. Open a writer. A single-producer ring allows one live writer "
     "(WriterBusy for a second); a multi-producer ring any number, each usable from any thread. "
     "wait: how it waits for room (backpressure) or for a slot, one of WAIT_STRATEGIES: 'block' "
     "(spin, yield, then sleep until woken; the default), 'yield' (spin, then sched_yield; "
     "never sleeps), 'spin' (busy spin: a core while it waits) or 'sleep' (spin, yield, then "
     "short naps); none changes what is written, each honours timeouts and the close. "
     "ValueError naming the choices for another name, TypeError for a non-str."},
    {"reader", (PyCFunction)(void (*)(void))Ring_reader, METH_FASTCALL | METH_KEYWORDS,
     "reader($self, /, start='oldest', *, wait='block', name=None, after=None, writable=False, "
     "durable=False)\n--\n\nReturns Reader. Register a reader with its own cursor, starting at the "
     "oldest event the ring still holds ('oldest') or at the next one published ('latest'). "
     "TooManyReaders when the ring's 64-entry reader table is full. wait: how next(), "
     "next_batch() and events() wait, one of WAIT_STRATEGIES, as for writer(); the writer "
     "never makes a wake-up call for a 'yield', 'spin' or 'sleep' reader. Pipelines "
     "(backpressure rings): name, a str of 1 to 31 bytes of UTF-8, unique among the ring's "
     "readers and seen by every process in stats(); after, a list of the readers it follows, "
     "as Readers of this ring or by name (any process, any language): it is never handed an "
     "event before each of them has finished with it, and when one of them closes or its "
     "process dies it follows what that one followed; writable=True, its events' buffers "
     "are writable, for the readers that follow it to read (two writable readers of which "
     "neither follows the other are refused). ValueError, with the core's message, for a "
     "name that is too long, has a NUL or is taken, an unknown name in after, a reader of "
     "another ring, after or writable on an overwrite ring, and a second writable reader "
     "that could hold the same events; TypeError for arguments of the wrong type. "
     "durable=True (needs a name): its place outlives the Reader and its process. close(), "
     "and the process's death, park it: it keeps holding the writer back (a backpressure "
     "writer waits for it, RingFull when the wait runs out) and its followers behind it. The "
     "next durable reader of that name, in any process, resumes where it had released: "
     "events it was handed but had not released come again (at least once: drop sequences "
     "you have seen); start, after and writable are then those of the place. Of two racing "
     "to resume it one wins, the other gets the taken-name ValueError; a reader of that name "
     "that is not durable gets a ValueError saying to open it durable or drop it "
     "(drop_reader). Overwrite rings: a parked reader holds nothing back; on resume, lost "
     "counts what was overwritten meanwhile."},
    {"drop_reader", (PyCFunction)(void (*)(void))Ring_drop_reader, METH_FASTCALL | METH_KEYWORDS,
     "drop_reader($self, /, name)\n--\n\nRemove the parked durable reader `name` (any process's, "
     "any language's) for good: it stops holding the writer back, its name is free again, and "
     "the readers that followed it follow what it followed. ValueError when the ring has no "
     "reader of that name or it is not durable; RingError when a live reader holds it (close "
     "it first: a closed durable reader is parked). A durable reader whose process died is "
     "parked first, then dropped."},
    {"close", (PyCFunction)Ring_close, METH_NOARGS,
     "close($self)\n--\n\nEnd the stream: writers get RingClosed, readers drain what is left and then see "
     "the end, and every blocked call wakes, in every process that maps a shared ring (a "
     "fork()ed child included: leaving the parent's `with` block there does not close a "
     "shared ring, this does). Idempotent."},
    {"stats", (PyCFunction)Ring_stats, METH_NOARGS,
     "stats($self)\n--\n\nReturns dict. A snapshot as plain data, taken without stopping anyone, with "
     "the same keys in the same order as Lua's ring:stats() (RING_STATS_FIELDS): name ('' for a "
     "ring without one), capacity, slot_size, mode, producers, memory_bytes, published, "
     "writer_stalls, abandoned (events of claims given up), claims_recovered (of those, claims of "
     "dead producer processes), writers (open writer handles, a dead process's included), "
     "writer_pid (single producer: the writer's process, 0 when none), writer_processes (live "
     "processes with a writer), writer_alive (writer_processes > 0), writer_wait (the wait "
     "strategy of the writer opened last), shared, closed, "
     "readers_evicted (readers of dead processes taken out of the table), upstream_lost "
     "(events lost before they reached the ring: Writer.note_lost), instance (Ring.instance), "
     "reader_count, "
     "max_backpressure and 'readers', one dict per reader (READER_STATS_FIELDS: index, pid, "
     "alive, cursor, lag, pinned, lost, skipped, backpressure, wait, name, after, writable, "
     "durable, parked). "
     "pinned: events the reader has "
     "read and still keeps (its current events and held ones; backpressure rings); "
     "backpressure: (lag + pinned) / capacity, 1.0 when the writer finds the ring full; name: "
     "the reader's name ('' when unnamed); after: the readers it follows, bit i for the reader "
     "whose index is i (0: none); writable: whether it may write into its events; "
     "durable: opened durable=True; parked: durable and held by no Reader (pid 0, alive "
     "False; cursor: where it resumes)."},
    {"create_shared", (PyCFunction)(void (*)(void))rrpy_ring_create_shared,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "create_shared($type, /, name, slot_size, capacity, *, mode='backpressure', "
     "producers='single', permissions=0o600, exist_ok=False, allow_other_user=False, "
     "timeout=None)\n--\n\n"
     "Returns Ring. Create a ring in POSIX shared memory under `name` (one optional leading "
     "'/', then 1 to 200 printable ASCII characters other than '/'; 'strokes' and '/strokes' "
     "are the same ring) that any process can open with open_shared, in Python or Lua. "
     "permissions: the segment's mode bits, applied exactly, whatever the umask (0 means "
     "0o600). Every page is reserved at once: OSError ('no room in /dev/shm') when it does "
     "not fit. FileExistsError (a SharedMemoryError) when the name is taken, saying how to "
     "remove a ring left by a crashed process; with exist_ok=True, the ring of that name is "
     "opened instead (allow_other_user and timeout as for open_shared) if its slot_size, "
     "capacity, mode and producers are the ones asked for, and FileExistsError names both "
     "if not. ValueError for a bad name. The segment stays until unlink_shared, however many "
     "handles are dropped."},
    {"open_shared", (PyCFunction)(void (*)(void))rrpy_ring_open_shared,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "open_shared($type, /, name, *, timeout=None, allow_other_user=False)\n--\n\n"
     "Returns Ring. Map the shared ring `name`, made by create_shared in any process. Before "
     "anything in it is used: a segment owned by another user (who could change or truncate "
     "it under this process) raises SharedMemoryForeignOwner, a PermissionError, unless "
     "allow_other_user=True; a ring another process is still creating is waited for (GIL "
     "released) up to `timeout` seconds (None, the default: as long as that process lives and "
     "creates it; 0: not at all; math.inf: without limit), then SharedMemoryCreating, a "
     "TimeoutError; its pages are reserved (OSError 'no room in /dev/shm' rather than a crash "
     "later); and its header is checked: FileNotFoundError (a SharedMemoryError) when there is "
     "no such segment, SharedMemoryError when it is not a ring, is damaged, was left half made "
     "by a creator that died, or has another layout version. Dropping the handle unmaps the "
     "ring; close() ends the stream for every process."},
    {"unlink_shared", (PyCFunction)(void (*)(void))rrpy_ring_unlink_shared,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "unlink_shared($type, /, name)\n--\n\n"
     "Remove the name of a shared ring. Processes that have it open keep using it; the memory "
     "goes when the last one lets go. FileNotFoundError (a SharedMemoryError) when there is "
     "no such segment."},
    {"__enter__", (PyCFunction)rrpy_return_self, METH_NOARGS, "Return the ring itself."},
    RRPY_REDUCE(rrpy_ring_reduce,
                "A shared ring pickles by name: unpickling opens it with Ring.open_shared, so a "
                "multiprocessing child (spawn, forkserver) gets a handle of its own. Other rings "
                "refuse (TypeError)."),
    {"__exit__", (PyCFunction)(void (*)(void))Ring_exit, METH_FASTCALL,
     "Close the ring; in a fork()ed child, a shared ring made or opened by the parent is left "
     "open (close() closes it)."},
    {0}
};

static PyGetSetDef Ring_getset[] = {
    {"slot_size", (getter)Ring_get_slot_size, NULL, "Largest payload of one event, in bytes.", NULL},
    {"capacity", (getter)Ring_get_capacity, NULL, "Number of slots (never rounded).", NULL},
    {"mode", (getter)Ring_get_mode, NULL, "'backpressure' or 'overwrite'.", NULL},
    {"producers", (getter)Ring_get_producers, NULL, "'single' or 'multi'.", NULL},
    {"published", (getter)Ring_get_published, NULL, "Events published so far.", NULL},
    {"instance", (getter)Ring_get_instance, NULL,
     "A random int, 1 to 2**63 - 1, chosen when the ring was made: the same in every process "
     "and language that maps it; a shared ring unlinked and created again under the same name "
     "gets a new one.", NULL},
    {"memory_bytes", (getter)Ring_get_memory_bytes, NULL, "Bytes the ring occupies.", NULL},
    {"closed", (getter)Ring_get_closed, NULL, "True once close() was called.", NULL},
    {"shared", (getter)Ring_get_shared, NULL,
     "True for a ring mapped from a named shared segment (create_shared, open_shared).", NULL},
    {"name", (getter)Ring_get_name, NULL,
     "A shared ring's segment name with its leading '/' ('/strokes'); otherwise the label "
     "given to Ring(..., name=...), or None.", NULL},
    {0}
};

static PyMemberDef Ring_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(RingObject, weakrefs), READONLY, NULL},
    {0}
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
    {Py_tp_new, RRPY_FN(Ring_new)},
    {Py_tp_dealloc, RRPY_FN(Ring_dealloc)},
    {Py_tp_repr, RRPY_FN(Ring_repr)},
    {Py_tp_methods, Ring_methods},
    {Py_tp_getset, Ring_getset},
    {Py_tp_members, Ring_members},
    {0, NULL}
};

PyType_Spec rrpy_ring_spec = {
    .name = "rusted_ring.Ring",
    .basicsize = sizeof(RingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Ring_slots,
};

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

PyMethodDef rrpy_ring_functions[] = {
    {"_live_rings", mod_live_rings, METH_NOARGS,
     "_live_rings($module)\n--\n\nReturns list[Ring]. Every Ring object alive in this interpreter, "
     "in-process and shared, oldest first; not the default pools (see pool_stats). The registry "
     "keeps no ring alive: a Ring leaves it when it is deallocated."},
    {0}
};
