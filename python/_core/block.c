/*
 * block.c — many events as one strided buffer: Block (Reader.next_block),
 * BlockClaim (Writer.claim_block) and Writer.add_block.
 *
 * A Block is the run of consecutive events one next_block call handed out
 * (csrc/block.c: contiguous in memory, never past the ring's end). Its data is
 * one 2-D buffer of shape (n, slot_size) and strides (slot stride, 1), its
 * lengths and event types uint32 buffers with the metadata's stride; NumPy
 * sees them without a copy.
 *
 * Where a Block's bytes live, and for how long:
 *   - backpressure: in the ring's slots. The core pins the slots of the
 *     reader's last call; before the reader moves on (its next call, or its
 *     close) a Block still alive and not released becomes a hold of its range
 *     (rr_reader_hold_range, rrpy_block_detach), which its release or
 *     collection gives back. The same protocol as Events (reader.c).
 *   - overwrite: the core's verified copy lives in the reader's scratch,
 *     which its next call reuses, so every Block copies it once into memory
 *     of its own when it is made. Nothing then has to happen at the next
 *     call, and every buffer taken from the Block stays valid as long as it
 *     lives: a buffer's address cannot move once exported.
 *
 * Buffers outliving release. Every buffer taken from a Block or a BlockClaim
 * (memoryview(b), b.data, b.lengths, b.event_types, b.as_array(), NumPy
 * arrays over them) counts in `exports` until released. release() with
 * exports alive raises BufferError and changes nothing, as mmap.close() and
 * memoryview.release() do, so no buffer ever shows memory the ring reuses;
 * a Block is collected only after its buffers (they reference it). A
 * BlockClaim left with a live buffer is abandoned once the last one goes,
 * as a Claim is (writer.c): a view that can still write is never published.
 *
 * Invariants: reader->block is the reader's Block of its last call, CURRENT,
 * or NULL; a HELD block's range is held once, counted `count` times in the
 * reader's nheld; `rows.open` is false once a Block is released or a claim is
 * no longer OPEN, and no buffer is exported after that.
 *
 * Re-entrancy audit: where Python code can run in the middle of a call.
 *   next_block: converting max_events (its __index__) and timeout (before
 *     the call begins, so that code finds the reader free);
 *     signal handlers between wait slices; making the Block allocates with
 *     PyObject_Malloc / PyMem (not counted by the collector). -> One reading
 *     call (rrpy_reader_enter), as next() is; the Block is registered before
 *     the call leaves, so a close meanwhile turns it into a hold.
 *   b[i], iteration: the key's __index__ runs before the item is looked up,
 *     which checks the block's state after it; taking an Event's hold is a
 *     core call on the reader, refused while another thread waits in it.
 *   data / lengths / event_types / as_array: allocating the view and NumPy's
 *     calls (a collection, which may release this very Block): the buffer is
 *     taken after, by getbuffer, which checks `open` then.
 *   release(), __exit__, dealloc: no Python code before their work is done.
 *   add_block: converting `data`, lengths and event_types (__buffer__ on
 *     3.12+, __index__, sequences) -> one writer call (rrpy_writer_enter); the
 *     writer is checked open after converting, buffers are released after the
 *     outcome is made, as add_batch does (writer.c). Lengths and types are
 *     copied (a sequence through a tuple snapshot) before the core reads
 *     them, so neither that code nor another thread changes them under it.
 *   claim_block: n's __index__, before the writer is checked usable; the
 *     BlockClaim made after holds nothing until entered.
 *   BlockClaim.__enter__: signal handlers between wait slices -> one writer
 *     call, as Claim.__enter__. __exit__, views: as for Block.
 */
#include "module.h"

#include <string.h>

/* ---- the rows a Block or a BlockClaim shows ------------------------------------- */

typedef struct {
    unsigned char *data;           /* row i at data + i * stride */
    unsigned char *lengths;        /* row i's length at lengths + i * meta_stride */
    unsigned char *types;
    Py_ssize_t     count, slot_size, stride, meta_stride;
    Py_ssize_t     exports;        /* buffers taken and not yet released */
    int            open;           /* buffers may be taken */
    int            writable;
    void         (*drained)(PyObject *owner);   /* the last buffer went while !open */
    Py_ssize_t     shape[2], strides[2];         /* the owner's own export (data) */
} rrpy_rows;

enum { VIEW_DATA = 0, VIEW_LENGTHS, VIEW_TYPES };

/* Fill `view` with one of the rows' buffers. shape/strides: arrays that live
 * as long as the exporter (the owner, or a BlockView). */
static int rows_fill(rrpy_rows *rows, PyObject *exporter, int kind, Py_ssize_t *shape,
                     Py_ssize_t *strides, Py_buffer *view, int flags, const char *closed_msg)
{
    if (!rows->open) {
        PyErr_SetString(PyExc_BufferError, closed_msg);
        return -1;
    }
    if ((flags & PyBUF_WRITABLE) && !rows->writable) {
        PyErr_SetString(PyExc_BufferError, "a block's events are read-only");
        return -1;
    }
    Py_ssize_t n = rows->count;
    if (kind == VIEW_DATA) {
        view->buf = rows->data;
        view->itemsize = 1;
        view->ndim = 2;
        shape[0] = n, shape[1] = rows->slot_size;
        strides[0] = rows->stride, strides[1] = 1;
        view->len = n * rows->slot_size;
    } else {
        view->buf = kind == VIEW_LENGTHS ? rows->lengths : rows->types;
        view->itemsize = 4;
        view->ndim = 1;
        shape[0] = n;
        strides[0] = rows->meta_stride;
        view->len = 4 * n;
    }
    view->shape = shape;
    view->strides = strides;
    view->suboffsets = NULL;
    view->internal = NULL;
    view->readonly = !rows->writable;
    view->format = kind == VIEW_DATA ? "B" : "I";
    int contiguous = PyBuffer_IsContiguous(view, 'C');
    int strided = (flags & PyBUF_STRIDES) == PyBUF_STRIDES;
    if ((!strided && !contiguous) ||
        ((flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS && !contiguous) ||
        ((flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS &&
         !PyBuffer_IsContiguous(view, 'A')) ||
        ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS && !PyBuffer_IsContiguous(view, 'F'))) {
        PyErr_SetString(PyExc_BufferError,
                        "a block's rows are strided (the slot stride, or the metadata's): "
                        "ask for a strided buffer (memoryview() and NumPy do)");
        return -1;
    }
    if (!(flags & PyBUF_FORMAT))
        view->format = NULL;
    if (!strided)
        view->strides = NULL;
    if ((flags & PyBUF_ND) != PyBUF_ND) {
        view->shape = NULL;
        view->ndim = 1;
    }
    view->obj = Py_NewRef(exporter);
    rows->exports++;
    return 0;
}

static void rows_release(rrpy_rows *rows, PyObject *owner)
{
    if (--rows->exports == 0 && !rows->open && rows->drained)
        rows->drained(owner);
}

/* ---- BlockView: the exporter of lengths and event_types ------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject  *owner;      /* a Block or a BlockClaim */
    rrpy_rows *rows;       /* inside owner */
    int        kind;
    Py_ssize_t shape[2], strides[2];
} BlockViewObject;

static int BlockView_getbuffer(BlockViewObject *self, Py_buffer *view, int flags)
{
    return rows_fill(self->rows, (PyObject *)self, self->kind, self->shape, self->strides, view,
                     flags, "the block was released, or its claim is no longer open");
}

static void BlockView_releasebuffer(BlockViewObject *self, Py_buffer *view)
{
    (void)view;
    rows_release(self->rows, self->owner);
}

static void BlockView_dealloc(BlockViewObject *self)
{
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    Py_XDECREF(self->owner);
    rrpy_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyType_Slot BlockView_slots[] = {
    {Py_tp_doc, (void *)"The exporter behind a Block's or a BlockClaim's lengths and event_types."},
    {Py_tp_dealloc, RRPY_FN(BlockView_dealloc)},
    {Py_bf_getbuffer, RRPY_FN(BlockView_getbuffer)},
    {Py_bf_releasebuffer, RRPY_FN(BlockView_releasebuffer)},
    {0, NULL}
};

static PyType_Spec BlockView_spec = {
    .name = "rusted_ring._BlockView",
    .basicsize = sizeof(BlockViewObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = BlockView_slots,
};

/* A memoryview of one of owner's buffers. */
static PyObject *rows_memoryview(PyObject *owner, rrpy_rows *rows, int kind)
{
    if (kind == VIEW_DATA)
        return PyMemoryView_FromObject(owner);
    PyTypeObject *tp = state_of_type(Py_TYPE(owner))->block_view_type;
    BlockViewObject *v = (BlockViewObject *)rrpy_alloc(tp);
    if (!v)
        return NULL;
    v->owner = Py_NewRef(owner);
    v->rows = rows;
    v->kind = kind;
    PyObject *mv = PyMemoryView_FromObject((PyObject *)v);
    Py_DECREF(v);
    return mv;
}

/* NumPy's view of the rows: uint8 (n, slot_size), or with a dtype no larger
 * than a slot, (n,) records over each slot's first bytes. No copy. */
static PyObject *rows_as_array(PyObject *owner, rrpy_rows *rows, PyObject *dtype_o)
{
    PyObject *np = PyImport_ImportModule("numpy");
    if (!np) {
        if (PyErr_ExceptionMatches(PyExc_ImportError)) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_NormalizeException(&t, &v, &tb);
            PyErr_SetString(PyExc_ImportError,
                            "as_array() needs NumPy (pip install numpy); without it, .data is a "
                            "memoryview of the same bytes");
            PyObject *t2, *v2, *tb2;
            PyErr_Fetch(&t2, &v2, &tb2);
            PyErr_NormalizeException(&t2, &v2, &tb2);
            PyException_SetCause(v2, v);       /* steals v */
            PyErr_Restore(t2, v2, tb2);
            Py_XDECREF(t);
            Py_XDECREF(tb);
        }
        return NULL;
    }
    PyObject *mv = NULL, *arr = NULL, *dt = NULL, *key = NULL, *sub = NULL, *rec = NULL,
             *result = NULL;
    mv = rows_memoryview(owner, rows, VIEW_DATA);
    if (!mv || !(arr = PyObject_CallMethod(np, "asarray", "O", mv)))
        goto done;
    if (!dtype_o || dtype_o == Py_None) {
        result = Py_NewRef(arr);
        goto done;
    }
    if (!(dt = PyObject_CallMethod(np, "dtype", "O", dtype_o)))
        goto done;
    PyObject *size_o = PyObject_GetAttrString(dt, "itemsize");
    Py_ssize_t itemsize = size_o ? PyLong_AsSsize_t(size_o) : -1;
    Py_XDECREF(size_o);
    if (itemsize < 0 && PyErr_Occurred())
        goto done;
    PyObject *obj_o = PyObject_GetAttrString(dt, "hasobject");
    int hasobject = obj_o ? PyObject_IsTrue(obj_o) : -1;
    Py_XDECREF(obj_o);
    if (hasobject < 0)
        goto done;
    if (hasobject) {
        PyErr_Format(PyExc_TypeError, "dtype %R holds Python objects; a block's bytes can only be "
                     "viewed as plain data", dt);
        goto done;
    }
    if (itemsize == 0 || itemsize > rows->slot_size) {
        PyErr_Format(PyExc_ValueError, "dtype %R has %zd bytes; it must fit a slot "
                     "(1 to %zd bytes)", dt, itemsize, rows->slot_size);
        goto done;
    }
    /* each slot's first itemsize bytes (contiguous), seen as one record:
     * arr[:, :itemsize].view(dtype)[:, 0] */
    PyObject *all = PySlice_New(NULL, NULL, NULL);
    PyObject *stop = PyLong_FromSsize_t(itemsize);
    PyObject *cols = stop ? PySlice_New(NULL, stop, NULL) : NULL;
    PyObject *zero = PyLong_FromLong(0);
    if (all && cols && zero && (key = PyTuple_Pack(2, all, cols)) &&
        (sub = PyObject_GetItem(arr, key)) && (rec = PyObject_CallMethod(sub, "view", "O", dt))) {
        Py_DECREF(key);
        if ((key = PyTuple_Pack(2, all, zero)))
            result = PyObject_GetItem(rec, key);
    }
    Py_XDECREF(all);
    Py_XDECREF(stop);
    Py_XDECREF(cols);
    Py_XDECREF(zero);
done:
    Py_XDECREF(key);
    Py_XDECREF(rec);
    Py_XDECREF(sub);
    Py_XDECREF(dt);
    Py_XDECREF(arr);
    Py_XDECREF(mv);
    Py_DECREF(np);
    return result;
}

/* ==== Block ======================================================================== */

enum { BLOCK_CURRENT = 0, BLOCK_HELD, BLOCK_OWN, BLOCK_RELEASED };

typedef struct BlockObject {
    PyObject_HEAD
    rrpy_rows     rows;
    ReaderObject *reader;
    uint64_t      first;
    int           state;
    unsigned char *copy;      /* BLOCK_OWN: payloads, then lengths and types */
} BlockObject;

static const char released_msg[] = "the block was released";

/* Give the block's slots (or its copy) back; no buffer is exported. */
static void block_let_go(BlockObject *self)
{
    ReaderObject *r = self->reader;
    if (self->state == BLOCK_CURRENT && r->block == self)
        r->block = NULL;          /* the reader's next call releases the slots */
    else if (self->state == BLOCK_HELD)
        rrpy_reader_release_range(r, self->first, (uint64_t)self->rows.count);
    PyMem_Free(self->copy);
    self->copy = NULL;
    self->state = BLOCK_RELEASED;
    self->rows.open = 0;
}

void rrpy_block_detach(ReaderObject *self)
{
    BlockObject *b = self->block;
    if (!b)
        return;
    self->block = NULL;
    /* cannot fail (the last call's events), except in a fork()ed child, where
     * the core refuses every call of an inherited reader; as for Events */
    rr_reader_hold_range(self->r, b->first, (uint64_t)b->rows.count);
    b->state = BLOCK_HELD;
    self->nheld += b->rows.count;
}

static int block_check(BlockObject *self)
{
    if (self->state == BLOCK_RELEASED) {
        PyErr_SetString(PyExc_ValueError, released_msg);
        return -1;
    }
    return 0;
}

static BlockObject *block_make(ReaderObject *reader, const rr_block *b)
{
    PyTypeObject *tp = state_of_type(Py_TYPE((PyObject *)reader))->block_type;
    BlockObject *self = (BlockObject *)rrpy_alloc(tp);
    if (!self)
        return NULL;
    rrpy_rows *rows = &self->rows;
    rows->count = b->count;
    rows->slot_size = b->slot_size;
    rows->stride = (Py_ssize_t)b->stride;
    rows->open = 1;
    if (reader->overwrite) {
        /* the reader's scratch is reused by its next call: a copy of our own */
        size_t payload = (size_t)b->count * b->stride, meta = (size_t)b->count * 8;
        self->copy = PyMem_Malloc(payload + meta);
        if (!self->copy) {
            self->state = BLOCK_RELEASED;
            Py_DECREF(self);
            return (BlockObject *)PyErr_NoMemory();
        }
        memcpy(self->copy, b->data, payload);
        for (uint32_t i = 0; i < b->count; i++) {
            memcpy(self->copy + payload + 8 * i,
                   (const char *)b->lengths + (size_t)i * b->meta_stride, 4);
            memcpy(self->copy + payload + 8 * i + 4,
                   (const char *)b->types + (size_t)i * b->meta_stride, 4);
        }
        rows->data = self->copy;
        rows->lengths = self->copy + payload;
        rows->types = self->copy + payload + 4;
        rows->meta_stride = 8;
        self->state = BLOCK_OWN;
    } else {
        rows->data = (unsigned char *)b->data;
        rows->lengths = (unsigned char *)b->lengths;
        rows->types = (unsigned char *)b->types;
        rows->meta_stride = (Py_ssize_t)b->meta_stride;
        self->state = BLOCK_CURRENT;
    }
    self->reader = (ReaderObject *)Py_NewRef((PyObject *)reader);
    self->first = b->first_sequence;
    return self;
}

typedef struct {
    ReaderObject *self;
    size_t        max;
    rr_block      b;
} block_ctx;

static rr_status block_op(void *p, int64_t slice)
{
    block_ctx *c = p;
    return rr_reader_next_block(c->self->r, c->max, &c->b, slice);
}

static rr_status block_between(void *p)
{
    ReaderObject *self = ((block_ctx *)p)->self;
    rrpy_reader_apply_pending(self);
    return self->closed ? RR_CLOSED : RR_OK;
}

PyObject *rrpy_reader_next_block(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    static const char *const names[] = {"max_events", "timeout"};
    PyObject *a[2];
    uint64_t max;
    int64_t timeout = 0;
    if (rrpy_parse_args("next_block", args, nargs, kwnames, names, 2, 2, 1, a) < 0 ||
        rrpy_as_count(a[0], "max_events", UINT64_MAX >> 1, &max) < 0 ||
        (a[1] && rrpy_as_timeout(a[1], RR_FOREVER, &timeout) < 0))
        return NULL;
    if (max == 0) {
        PyErr_SetString(PyExc_ValueError, "max_events must be at least 1, got 0");
        return NULL;
    }
    if (rrpy_reader_enter(self) < 0)
        return NULL;
    rrpy_reader_detach(self);
    block_ctx c = {self, (size_t)max, {0}};
    rr_status s = block_op(&c, 0);
    int rc = 0;
    if (s == RR_EMPTY && timeout != 0) {
        self->waiting = 1;
        rc = rrpy_wait_sliced(&c, block_op, block_between, timeout, &s);
        rrpy_reader_apply_pending(self);
        self->waiting = 0;
        /* closed while we waited: what we read is dropped; leaving closes */
        if (self->closed && rc == 0)
            s = RR_CLOSED;
    }
    PyObject *result = NULL;
    self->ended = rc == 0 && s == RR_CLOSED;
    if (rc < 0) {
        result = NULL;
    } else if (s == RR_OK) {
        BlockObject *b = block_make(self, &c.b);
        if (b && b->state == BLOCK_CURRENT)
            self->block = b;
        result = (PyObject *)b;
    } else if (s == RR_EMPTY || s == RR_TIMEOUT || s == RR_CLOSED) {
        result = Py_NewRef(Py_None);
    } else {
        rrpy_raise_status(state_of_type(Py_TYPE((PyObject *)self)), s, NULL);
    }
    rrpy_reader_leave(self);
    return result;
}

static int Block_getbuffer(BlockObject *self, Py_buffer *view, int flags)
{
    return rows_fill(&self->rows, (PyObject *)self, VIEW_DATA, self->rows.shape,
                     self->rows.strides, view, flags, released_msg);
}

static void Block_releasebuffer(BlockObject *self, Py_buffer *view)
{
    (void)view;
    rows_release(&self->rows, (PyObject *)self);
}

static PyObject *block_view(BlockObject *self, int kind)
{
    if (block_check(self) < 0)
        return NULL;
    return rows_memoryview((PyObject *)self, &self->rows, kind);
}

static PyObject *Block_get_data(BlockObject *self, void *c) { (void)c; return block_view(self, VIEW_DATA); }
static PyObject *Block_get_lengths(BlockObject *self, void *c) { (void)c; return block_view(self, VIEW_LENGTHS); }
static PyObject *Block_get_types(BlockObject *self, void *c) { (void)c; return block_view(self, VIEW_TYPES); }
static PyObject *Block_get_first(BlockObject *self, void *c) { (void)c; return PyLong_FromUnsignedLongLong(self->first); }
static PyObject *Block_get_released(BlockObject *self, void *c) { (void)c; return PyBool_FromLong(self->state == BLOCK_RELEASED); }
static PyObject *Block_get_reader(BlockObject *self, void *c) { (void)c; return Py_NewRef((PyObject *)self->reader); }
static Py_ssize_t Block_len(BlockObject *self) { return self->rows.count; }

static PyObject *Block_item(BlockObject *self, Py_ssize_t i)
{
    if (block_check(self) < 0)
        return NULL;
    if (i < 0 || i >= self->rows.count) {
        PyErr_Format(PyExc_IndexError, "block index %zd out of range (the block holds %zd events)",
                     i, self->rows.count);
        return NULL;
    }
    ReaderObject *r = self->reader;
    if (!r->overwrite && r->waiting)   /* the Event's hold is a call on the core reader */
        return rrpy_raise_busy("reader", r->owner);
    const rrpy_rows *rows = &self->rows;
    rr_event e;
    e.sequence = self->first + (uint64_t)i;
    memcpy(&e.len, rows->lengths + i * rows->meta_stride, 4);
    memcpy(&e.event_type, rows->types + i * rows->meta_stride, 4);
    e.data = rows->data + i * rows->stride;
    return rrpy_event_detached(r, &e);
}

static PyObject *Block_as_array(BlockObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"dtype"};
    PyObject *a[1];
    if (rrpy_parse_args("as_array", args, nargs, kwnames, names, 1, 1, 0, a) < 0 ||
        block_check(self) < 0)
        return NULL;
    return rows_as_array((PyObject *)self, &self->rows, a[0]);
}

static PyObject *block_release(BlockObject *self, int quiet)
{
    if (self->state == BLOCK_RELEASED)
        Py_RETURN_NONE;
    if (self->rows.exports > 0) {
        if (quiet)
            Py_RETURN_NONE;
        PyErr_Format(PyExc_BufferError,
                     "cannot release the block: %zd buffer(s) taken from it (a memoryview, a "
                     "NumPy array) are still alive; delete them, or copy what you keep "
                     "(bytes(), numpy.array()), first", self->rows.exports);
        return NULL;
    }
    block_let_go(self);
    Py_RETURN_NONE;
}

static PyObject *Block_release(BlockObject *self, PyObject *unused)
{
    (void)unused;
    return block_release(self, 0);
}

static PyObject *Block_enter(BlockObject *self, PyObject *unused)
{
    (void)unused;
    if (block_check(self) < 0)
        return NULL;
    return Py_NewRef((PyObject *)self);
}

/* Leaving a `with` releases; while an exception propagates, a block whose
 * buffers are still alive is left to be released when collected instead of
 * hiding that exception behind a BufferError. */
static PyObject *Block_exit(BlockObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int failed = nargs > 0 && args[0] != Py_None;
    PyObject *r = block_release(self, failed);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *Block_repr(BlockObject *self)
{
    if (self->state == BLOCK_RELEASED)
        return PyUnicode_FromFormat("<rusted_ring.Block first_sequence=%llu len=%zd released>",
                                    (unsigned long long)self->first, self->rows.count);
    return PyUnicode_FromFormat("<rusted_ring.Block first_sequence=%llu len=%zd slot_size=%zd>",
                                (unsigned long long)self->first, self->rows.count,
                                self->rows.slot_size);
}

static void Block_dealloc(BlockObject *self)
{
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    /* no buffer is exported: each references the block */
    if (self->reader) {
        if (self->state != BLOCK_RELEASED)
            block_let_go(self);
        Py_DECREF(self->reader);
    }
    PyMem_Free(self->copy);
    rrpy_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Block_methods[] = {
    {"as_array", (PyCFunction)(void (*)(void))Block_as_array, METH_FASTCALL | METH_KEYWORDS,
     "as_array($self, /, dtype=None)\n--\n\nReturns numpy.ndarray. The block's bytes as a "
     "read-only NumPy array without a copy: uint8 of shape (len, slot_size), or with a dtype "
     "(a structured one, say) no larger than the slot, shape (len,): one record over the "
     "first bytes of each slot. ImportError without NumPy."},
    {"release", (PyCFunction)Block_release, METH_NOARGS,
     "release($self)\n--\n\nLet the block's slots go (backpressure: writers may reuse them once "
     "the reader has also moved on). Idempotent. BufferError, changing nothing, while a buffer "
     "taken from the block is alive."},
    {"__enter__", (PyCFunction)Block_enter, METH_NOARGS, "Return the block itself."},
    RRPY_REDUCE(rrpy_block_reduce, "Refuses (TypeError): pass a copy of the data instead."),
    {"__exit__", (PyCFunction)(void (*)(void))Block_exit, METH_FASTCALL, "Release the block."},
    {0}
};

static PyGetSetDef Block_getset[] = {
    {"first_sequence", (getter)Block_get_first, NULL, "Sequence of the block's first event.", NULL},
    {"data", (getter)Block_get_data, NULL,
     "Read-only 2-D memoryview (len, slot_size) with strides (slot stride, 1): every slot of "
     "the block, no copy. Row i holds event i's payload in its first lengths[i] bytes.", NULL},
    {"lengths", (getter)Block_get_lengths, NULL,
     "Read-only uint32 memoryview of each event's length (strided, no copy).", NULL},
    {"event_types", (getter)Block_get_types, NULL,
     "Read-only uint32 memoryview of each event's type (strided, no copy).", NULL},
    {"released", (getter)Block_get_released, NULL, "True once release() was called.", NULL},
    {"reader", (getter)Block_get_reader, NULL, "The reader that handed the block out.", NULL},
    {0}
};

PyDoc_STRVAR(Block_doc,
"Consecutive events from one Reader.next_block() call, lying contiguously in memory.\n\n"
"len(b), b.first_sequence, b.data (a (len, slot_size) memoryview), b.lengths and\n"
"b.event_types (uint32 memoryviews), b.as_array(dtype) for NumPy; b[i] and iteration\n"
"give Events. No copy in backpressure mode: the block pins its slots until it is\n"
"released (b.release(), `with`) or collected, and the reader has moved on; writers find\n"
"the ring full meanwhile. In overwrite mode a block is a verified copy of its own.\n"
"Using a released block raises ValueError; releasing one with a live buffer taken from\n"
"it raises BufferError. An Event taken from a block lives on its own.");

static PyType_Slot Block_slots[] = {
    {Py_tp_doc, (void *)Block_doc},
    {Py_tp_dealloc, RRPY_FN(Block_dealloc)},
    {Py_tp_repr, RRPY_FN(Block_repr)},
    {Py_tp_methods, Block_methods},
    {Py_tp_getset, Block_getset},
    {Py_bf_getbuffer, RRPY_FN(Block_getbuffer)},
    {Py_bf_releasebuffer, RRPY_FN(Block_releasebuffer)},
    {Py_sq_length, RRPY_FN(Block_len)},
    {Py_sq_item, RRPY_FN(Block_item)},
    {0, NULL}
};

static PyType_Spec Block_spec = {
    .name = "rusted_ring.Block",
    .basicsize = sizeof(BlockObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Block_slots,
};

/* ==== integers from a buffer or a sequence ========================================= */

/* n uint32 values from o: a one-dimensional buffer of C integers (a NumPy
 * array, array.array) or a sequence of ints, always copied into memory of our
 * own before the core sees them: the core checks each length, waits for room
 * (the GIL released: other threads run) and reads them again to copy the
 * rows, so they must not change under it (rr_writer_add_rows). `local` holds
 * a block of up to RRPY_U32_LOCAL rows without an allocation; larger ones
 * (rr_ring_max_claim: 4096 at most) take PyMem. */
#define RRPY_U32_LOCAL 256

typedef struct {
    uint32_t *vals;                    /* NULL, local or PyMem */
    Py_buffer view;
    int       has_view;
    uint32_t  local[RRPY_U32_LOCAL];
} u32_list;

static void u32_list_init(u32_list *u)
{
    u->vals = NULL;
    u->has_view = 0;
}

static void u32_list_free(u32_list *u)
{
    if (u->vals != u->local)
        PyMem_Free(u->vals);
    u->vals = NULL;
    if (u->has_view) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyBuffer_Release(&u->view);
        PyErr_Restore(t, v, tb);
        u->has_view = 0;
    }
}

static int u32_list_alloc(u32_list *u, Py_ssize_t n)
{
    if (n <= RRPY_U32_LOCAL) {
        u->vals = u->local;
        return 0;
    }
    if (!(u->vals = PyMem_Malloc((size_t)n * sizeof *u->vals))) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int u32_from_buffer(u32_list *u, const char *what, Py_ssize_t n)
{
    Py_buffer *v = &u->view;
    const char *f = v->format ? v->format : "B";
    if (*f == '@' || *f == '=' || *f == '<')
        f++;
    if (v->ndim != 1 || !*f || f[1] || !strchr("bBhHiIlLqQnN", *f) ||
        (v->itemsize != 1 && v->itemsize != 2 && v->itemsize != 4 && v->itemsize != 8)) {
        PyErr_Format(PyExc_TypeError, "%s must be one-dimensional integers (uint32), not a buffer "
                     "of format '%s' with %d dimension(s)", what, v->format ? v->format : "B",
                     v->ndim);
        return -1;
    }
    if (v->shape[0] != n) {
        PyErr_Format(PyExc_ValueError, "%s has %zd entries for %zd rows", what, v->shape[0], n);
        return -1;
    }
    if (u32_list_alloc(u, n) < 0)
        return -1;
    int is_signed = *f >= 'a' && *f <= 'z';
    if (!is_signed && v->itemsize == 4 && v->strides[0] == 4) {
        memcpy(u->vals, v->buf, (size_t)n * 4);     /* every uint32 is a value */
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *p = (const char *)v->buf + i * v->strides[0];
        int64_t s = 0;
        uint64_t x = 0;
        switch (v->itemsize) {
        case 1: { int8_t a; uint8_t b; memcpy(&a, p, 1); memcpy(&b, p, 1); s = a; x = b; break; }
        case 2: { int16_t a; uint16_t b; memcpy(&a, p, 2); memcpy(&b, p, 2); s = a; x = b; break; }
        case 4: { int32_t a; uint32_t b; memcpy(&a, p, 4); memcpy(&b, p, 4); s = a; x = b; break; }
        default: { int64_t a; uint64_t b; memcpy(&a, p, 8); memcpy(&b, p, 8); s = a; x = b; break; }
        }
        if (is_signed && s < 0) {
            PyErr_Format(PyExc_ValueError, "%s[%zd] is negative (%lld)", what, i, (long long)s);
            return -1;
        }
        if (x > UINT32_MAX) {
            PyErr_Format(PyExc_ValueError, "%s[%zd] is %llu, more than 4294967295", what, i,
                         (unsigned long long)x);
            return -1;
        }
        u->vals[i] = (uint32_t)x;
    }
    return 0;
}

static int u32_list_get(PyObject *o, const char *what, Py_ssize_t n, u32_list *u)
{
    if (PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &u->view, PyBUF_RECORDS_RO) < 0)
            return -1;
        u->has_view = 1;
        return u32_from_buffer(u, what, n);
    }
    /* A tuple snapshot, as add_batch takes: an item's __index__ may change the
     * caller's list (clear it, say), and the snapshot keeps every item alive
     * and in place meanwhile. */
    PyObject *seq = PySequence_Tuple(o);
    if (!seq) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s must be a sequence or buffer of ints, not %.100s",
                         what, rrpy_type_name(o));
        }
        return -1;
    }
    int rc = -1;
    if (RRPY_TUPLE_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "%s has %zd entries for %zd rows", what,
                     RRPY_TUPLE_SIZE(seq), n);
        goto done;
    }
    if (u32_list_alloc(u, n) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = RRPY_TUPLE_ITEM(seq, i);
        PyObject *idx = PyNumber_Index(item);
        if (!idx && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError, "%s[%zd] must be an int, not %.100s", what, i,
                         rrpy_type_name(item));
            goto done;
        }
        uint64_t x;
        int bad = !idx || rrpy_as_u64(idx, what, UINT32_MAX, &x) < 0;
        Py_XDECREF(idx);
        if (bad)
            goto done;
        u->vals[i] = (uint32_t)x;
    }
    rc = 0;
done:
    Py_DECREF(seq);
    return rc;
}

/* ==== Writer.add_block ============================================================== */

typedef struct {
    WriterObject   *self;
    const void     *data;
    size_t          row_stride, row_bytes, n;
    const uint32_t *lengths, *types;
    uint32_t        type;
    rr_wait         wait;
} rows_ctx;

static rr_status rows_op(void *p, int64_t slice)
{
    rows_ctx *c = p;
    return rr_writer_add_rows_ex(c->self->w, c->data, c->row_stride, c->row_bytes, c->n,
                                 c->lengths, c->types, c->type, NULL, slice, &c->wait);
}

static rr_status rows_between(void *p)
{
    return ((rows_ctx *)p)->self->closing ? RR_CLOSED : RR_OK;
}

#define RRPY_NOGIL_BYTES (64 * 1024)   /* copies this large let other threads run */

/* A 1-D buffer is a block of records only when NumPy says it is structured
 * ("T{...}") or raw ("16x"). */
static int format_is_record(const char *f)
{
    if (!f)
        return 0;
    if (f[0] == 'T' && f[1] == '{')
        return 1;
    while (*f >= '0' && *f <= '9')
        f++;
    return f[0] == 'x' && f[1] == 0;
}

/* The rows of `view`: n, and the bytes of each (everything after the first
 * dimension). */
static int rows_of(const Py_buffer *view, size_t *n, size_t *row_bytes)
{
    if (view->ndim == 0 || (view->ndim == 1 && !format_is_record(view->format))) {
        PyErr_Format(PyExc_TypeError,
                     "add_block needs rows: a buffer of two or more dimensions (one row per "
                     "event) or a NumPy structured array, not a %d-dimensional buffer of "
                     "format '%s' (reshape it, e.g. a.reshape(n, -1))", view->ndim,
                     view->format ? view->format : "B");
        return -1;
    }
    if (!PyBuffer_IsContiguous(view, 'C')) {
        PyErr_SetString(PyExc_ValueError,
                        "add_block needs a C-contiguous buffer (rows back to back); this one is "
                        "strided: pass numpy.ascontiguousarray(a)");
        return -1;
    }
    size_t bytes = (size_t)view->itemsize;
    for (int d = 1; d < view->ndim; d++)
        bytes *= (size_t)view->shape[d];
    *n = (size_t)view->shape[0];
    *row_bytes = bytes;
    return 0;
}

/* The work of add_block once the call has begun. */
static PyObject *add_block_work(WriterObject *self, PyObject *data, PyObject *lengths_o,
                                PyObject *types_o, int64_t timeout)
{
    rr_py_state *st = state_of_type(Py_TYPE((PyObject *)self));
    Py_buffer view;
    u32_list lens, types;      /* about 1 KiB each: see RRPY_U32_LOCAL */
    u32_list_init(&lens);
    u32_list_init(&types);
    uint32_t common = 0;
    PyObject *result = NULL;
    if (PyObject_GetBuffer(data, &view, PyBUF_RECORDS_RO) < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "add_block needs a buffer (a NumPy array, say), "
                         "not %.100s", rrpy_type_name(data));
        }
        return NULL;
    }
    size_t n, row_bytes;
    size_t slot = rr_ring_slot_size(self->ring->ring);
    uint32_t most = rr_ring_max_claim(self->ring->ring);
    if (rows_of(&view, &n, &row_bytes) < 0)
        goto done;
    if (n == 0) {
        result = PyLong_FromLong(0);
        goto done;
    }
    if (n > most) {
        PyErr_Format(PyExc_ValueError, "a block holds at most %u events on this ring "
                     "(min(capacity, 4096)), got %zu rows", most, n);
        goto done;
    }
    if (row_bytes > slot) {
        PyErr_Format(st->DataTooLarge, "rows of %zu bytes are wider than the slot size of %zu "
                     "bytes", row_bytes, slot);
        goto done;
    }
    if (lengths_o && lengths_o != Py_None &&
        u32_list_get(lengths_o, "lengths", (Py_ssize_t)n, &lens) < 0)
        goto done;
    if (types_o && types_o != Py_None) {
        if (PyLong_Check(types_o)) {
            if (rrpy_as_event_type(types_o, &common) < 0)
                goto done;
        } else if (u32_list_get(types_o, "event_types", (Py_ssize_t)n, &types) < 0) {
            goto done;
        }
    }
    /* Converting may have run Python code that closed the writer. */
    if (rrpy_writer_check_open(self) < 0)
        goto done;
    rows_ctx c = {self, view.buf, row_bytes, row_bytes, n, lens.vals, types.vals, common,
                  RR_WAIT_INIT};
    rr_status s;
    if (n * row_bytes >= RRPY_NOGIL_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        s = rows_op(&c, 0);
        Py_END_ALLOW_THREADS
    } else {
        s = rows_op(&c, 0);
    }
    if ((s == RR_FULL || s == RR_TIMEOUT) && timeout != 0 &&
        rrpy_wait_sliced(&c, rows_op, rows_between, timeout, &s) < 0)
        goto done;
    if (s != RR_OK)
        rrpy_writer_fail(self, s, timeout);
    else
        result = PyLong_FromSize_t(n);
done:
    /* after the outcome is made: releasing may run Python code */
    u32_list_free(&types);
    u32_list_free(&lens);
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyBuffer_Release(&view);
    PyErr_Restore(t, v, tb);
    return result;
}

PyObject *rrpy_writer_add_block(WriterObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    static const char *const names[] = {"data", "lengths", "event_types", "timeout"};
    PyObject *a[4];
    int64_t timeout;
    if (rrpy_parse_args("add_block", args, nargs, kwnames, names, 4, 1, 1, a) < 0 ||
        rrpy_as_timeout(a[3], RR_FOREVER, &timeout) < 0 || rrpy_writer_enter(self) < 0)
        return NULL;
    PyObject *result = add_block_work(self, a[0], a[1], a[2], timeout);
    rrpy_writer_leave(self);
    return result;
}

/* ==== BlockClaim ===================================================================== */

typedef struct {
    PyObject_HEAD
    rrpy_rows     rows;
    WriterObject *writer;
    rr_claim      c;
    uint32_t      max, type;
    int64_t       timeout_ns;
    int           state;      /* CLAIM_NEW, CLAIM_WAITING, CLAIM_OPEN, CLAIM_DRAINING, CLAIM_DONE */
} BlockClaimObject;

static const char claim_closed_msg[] =
    "the block claim is not open: use its views inside `with w.claim_block(n) as c:`";

static void bclaim_end(BlockClaimObject *self)
{
    self->state = CLAIM_DONE;
    self->rows.open = 0;
    rrpy_writer_claim_ended(self->writer);
}

/* The last buffer of a claim left while it was alive went: abandon it. */
static void bclaim_drained(PyObject *owner)
{
    BlockClaimObject *self = (BlockClaimObject *)owner;
    if (self->state == CLAIM_DRAINING) {
        rr_writer_abandon(self->writer->w, &self->c);
        bclaim_end(self);
    }
}

PyObject *rrpy_writer_claim_block(WriterObject *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"n", "event_type", "timeout"};
    PyObject *a[3];
    uint64_t n;
    uint32_t type = 0;
    int64_t timeout;
    if (rrpy_parse_args("claim_block", args, nargs, kwnames, names, 3, 2, 1, a) < 0 ||
        rrpy_as_count(a[0], "n", UINT64_MAX >> 1, &n) < 0 ||
        (a[1] && rrpy_as_event_type(a[1], &type) < 0) ||
        rrpy_as_timeout(a[2], RR_FOREVER, &timeout) < 0 || rrpy_writer_usable(self) < 0)
        return NULL;
    uint32_t most = rr_ring_max_claim(self->ring->ring);
    if (n == 0 || n > most) {
        PyErr_Format(PyExc_ValueError, "claim_block claims 1 to %u events on this ring "
                     "(min(capacity, 4096)), not %llu", most, (unsigned long long)n);
        return NULL;
    }
    PyTypeObject *tp = state_of_type(Py_TYPE((PyObject *)self))->block_claim_type;
    BlockClaimObject *c = (BlockClaimObject *)rrpy_alloc(tp);
    if (!c)
        return NULL;
    c->writer = (WriterObject *)Py_NewRef((PyObject *)self);
    c->max = (uint32_t)n;
    c->type = type;
    c->timeout_ns = timeout;
    c->rows.writable = 1;
    c->rows.drained = bclaim_drained;
    return (PyObject *)c;
}

typedef struct {
    BlockClaimObject *c;
    rr_wait           wait;
} bclaim_ctx;

static rr_status bclaim_op(void *p, int64_t slice)
{
    bclaim_ctx *ctx = p;
    BlockClaimObject *c = ctx->c;
    return rr_writer_claim_block_ex(c->writer->w, c->max, c->type, &c->c, slice, &ctx->wait);
}

static rr_status bclaim_between(void *p)
{
    return ((bclaim_ctx *)p)->c->writer->closing ? RR_CLOSED : RR_OK;
}

static PyObject *BlockClaim_enter(BlockClaimObject *self, PyObject *unused)
{
    (void)unused;
    WriterObject *w = self->writer;
    if (self->state != CLAIM_NEW) {
        PyErr_SetString(PyExc_RuntimeError, "a BlockClaim can be entered only once");
        return NULL;
    }
    if (rrpy_writer_enter(w) < 0)
        return NULL;
    bclaim_ctx ctx = {self, RR_WAIT_INIT};
    self->state = CLAIM_WAITING;          /* no second __enter__ while we wait */
    rr_status s = bclaim_op(&ctx, 0);
    if ((s == RR_FULL || s == RR_TIMEOUT) && self->timeout_ns != 0) {
        int rc = rrpy_wait_sliced(&ctx, bclaim_op, bclaim_between, self->timeout_ns, &s);
        if (rc < 0)
            s = RR_STATUS_COUNT;          /* a signal handler raised */
        else if (s == RR_OK && w->closing) {
            rr_writer_abandon(w->w, &self->c);   /* closed while we waited */
            s = RR_CLOSED;
        }
    }
    PyObject *result;
    rr_claim_view v;
    if (s == RR_OK && rr_claim_view_get(&self->c, &v) != RR_OK) {
        rr_writer_abandon(w->w, &self->c);       /* cannot happen: a block claim never wraps */
        s = RR_INVALID;
    }
    if (s != RR_OK) {
        self->state = CLAIM_NEW;
        result = s == RR_STATUS_COUNT ? NULL : rrpy_writer_fail(w, s, self->timeout_ns);
    } else {
        rrpy_rows *rows = &self->rows;
        rows->data = v.data;
        rows->lengths = (unsigned char *)v.lengths;
        rows->types = (unsigned char *)v.types;
        rows->count = self->c.count;
        rows->slot_size = self->c.slot_size;
        rows->stride = (Py_ssize_t)v.stride;
        rows->meta_stride = (Py_ssize_t)v.meta_stride;
        rows->open = 1;
        self->state = CLAIM_OPEN;
        rrpy_writer_claim_begun(w);
        result = Py_NewRef((PyObject *)self);
    }
    rrpy_writer_leave(w);
    return result;
}

static PyObject *BlockClaim_exit(BlockClaimObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (self->state != CLAIM_OPEN) {
        PyErr_SetString(PyExc_RuntimeError, "the BlockClaim is not open");
        return NULL;
    }
    rr_writer *w = self->writer->w;
    int failed = nargs > 0 && args[0] != Py_None;
    self->rows.open = 0;
    if (self->rows.exports > 0) {
        /* a live view could still write: abandoned once the last one goes */
        self->state = CLAIM_DRAINING;
        if (failed)
            Py_RETURN_FALSE;
        PyErr_Format(PyExc_BufferError,
                     "%zd buffer(s) taken from the block claim are still alive at the end of the "
                     "`with` block; its events are abandoned once they are released (release "
                     "views before leaving)", self->rows.exports);
        return NULL;
    }
    if (failed) {
        rr_writer_abandon(w, &self->c);
        bclaim_end(self);
        Py_RETURN_FALSE;
    }
    rr_status s = rr_writer_publish(w, &self->c);
    if (s != RR_OK) {
        /* copy the core's message before abandoning (it may set its own) */
        PyObject *msg = PyUnicode_FromString(rr_last_error());
        rr_writer_abandon(w, &self->c);
        bclaim_end(self);
        if (msg) {
            PyErr_SetObject(s == RR_TOO_LARGE ? state_of_type(Py_TYPE((PyObject *)self))->DataTooLarge
                                              : PyExc_ValueError, msg);
            Py_DECREF(msg);
        }
        return NULL;
    }
    bclaim_end(self);
    Py_RETURN_FALSE;
}

static int BlockClaim_getbuffer(BlockClaimObject *self, Py_buffer *view, int flags)
{
    return rows_fill(&self->rows, (PyObject *)self, VIEW_DATA, self->rows.shape,
                     self->rows.strides, view, flags, claim_closed_msg);
}

static void BlockClaim_releasebuffer(BlockClaimObject *self, Py_buffer *view)
{
    (void)view;
    rows_release(&self->rows, (PyObject *)self);
}

static PyObject *bclaim_view(BlockClaimObject *self, int kind)
{
    if (self->state != CLAIM_OPEN) {
        PyErr_SetString(PyExc_ValueError, claim_closed_msg);
        return NULL;
    }
    return rows_memoryview((PyObject *)self, &self->rows, kind);
}

static PyObject *BlockClaim_get_data(BlockClaimObject *self, void *c) { (void)c; return bclaim_view(self, VIEW_DATA); }
static PyObject *BlockClaim_get_lengths(BlockClaimObject *self, void *c) { (void)c; return bclaim_view(self, VIEW_LENGTHS); }
static PyObject *BlockClaim_get_types(BlockClaimObject *self, void *c) { (void)c; return bclaim_view(self, VIEW_TYPES); }

static PyObject *BlockClaim_get_first(BlockClaimObject *self, void *c)
{
    (void)c;
    if (self->state == CLAIM_NEW || self->state == CLAIM_WAITING)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(self->c.sequence);
}

static PyObject *BlockClaim_get_slot_size(BlockClaimObject *self, void *c)
{
    (void)c;
    return PyLong_FromSize_t(rr_ring_slot_size(self->writer->ring->ring));
}

static Py_ssize_t BlockClaim_len(BlockClaimObject *self)
{
    return self->state == CLAIM_NEW || self->state == CLAIM_WAITING ? 0 : (Py_ssize_t)self->c.count;
}

static PyObject *BlockClaim_as_array(BlockClaimObject *self, PyObject *const *args,
                                     Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"dtype"};
    PyObject *a[1];
    if (rrpy_parse_args("as_array", args, nargs, kwnames, names, 1, 1, 0, a) < 0)
        return NULL;
    if (self->state != CLAIM_OPEN) {
        PyErr_SetString(PyExc_ValueError, claim_closed_msg);
        return NULL;
    }
    return rows_as_array((PyObject *)self, &self->rows, a[0]);
}

static void BlockClaim_dealloc(BlockClaimObject *self)
{
    PyTypeObject *tp = Py_TYPE((PyObject *)self);
    if (self->state == CLAIM_OPEN || self->state == CLAIM_DRAINING) {   /* never published */
        rr_writer_abandon(self->writer->w, &self->c);
        bclaim_end(self);
    }
    Py_XDECREF((PyObject *)self->writer);
    rrpy_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef BlockClaim_methods[] = {
    {"as_array", (PyCFunction)(void (*)(void))BlockClaim_as_array, METH_FASTCALL | METH_KEYWORDS,
     "as_array($self, /, dtype=None)\n--\n\nReturns numpy.ndarray. A writable NumPy view of the "
     "claimed slots, as Block.as_array. Release it before leaving the `with` block."},
    {"__enter__", (PyCFunction)BlockClaim_enter, METH_NOARGS,
     "Claim the slots (waiting for room as Writer.add does) and return the claim."},
    RRPY_REDUCE(rrpy_block_claim_reduce, "Refuses (TypeError): publish the slots and pass their data."),
    {"__exit__", (PyCFunction)(void (*)(void))BlockClaim_exit, METH_FASTCALL,
     "Publish the claimed events, or abandon them when the block raised."},
    {0}
};

static PyGetSetDef BlockClaim_getset[] = {
    {"data", (getter)BlockClaim_get_data, NULL,
     "Writable 2-D memoryview (len, slot_size), strides (slot stride, 1): the claimed slots.", NULL},
    {"lengths", (getter)BlockClaim_get_lengths, NULL,
     "Writable uint32 memoryview of each event's length (each starts at slot_size); "
     "DataTooLarge at exit, publishing nothing, when one exceeds it.", NULL},
    {"event_types", (getter)BlockClaim_get_types, NULL,
     "Writable uint32 memoryview of each event's type (each starts at the claim's event_type).", NULL},
    {"first_sequence", (getter)BlockClaim_get_first, NULL,
     "Sequence of the first claimed event once claimed, else None.", NULL},
    {"slot_size", (getter)BlockClaim_get_slot_size, NULL, "Writable bytes per event.", NULL},
    {0}
};

PyDoc_STRVAR(BlockClaim_doc,
"Up to n slots claimed for zero-copy writing (Writer.claim_block(n)). Entering claims\n"
"at most n slots that lie contiguously: fewer at the ring's end (as next_block reads),\n"
"so len(c) says how many events it holds. Leaving publishes them all; an exception\n"
"abandons them (no reader sees any).");

static PyType_Slot BlockClaim_slots[] = {
    {Py_tp_doc, (void *)BlockClaim_doc},
    {Py_tp_dealloc, RRPY_FN(BlockClaim_dealloc)},
    {Py_tp_methods, BlockClaim_methods},
    {Py_tp_getset, BlockClaim_getset},
    {Py_bf_getbuffer, RRPY_FN(BlockClaim_getbuffer)},
    {Py_bf_releasebuffer, RRPY_FN(BlockClaim_releasebuffer)},
    {Py_sq_length, RRPY_FN(BlockClaim_len)},
    {0, NULL}
};

static PyType_Spec BlockClaim_spec = {
    .name = "rusted_ring.BlockClaim",
    .basicsize = sizeof(BlockClaimObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = BlockClaim_slots,
};

/* ==== the types ====================================================================== */

int rrpy_block_types_add(PyObject *m, rr_py_state *st)
{
    st->block_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &Block_spec, NULL);
    if (!st->block_type || PyModule_AddType(m, st->block_type) < 0)
        return -1;
    st->block_claim_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &BlockClaim_spec, NULL);
    if (!st->block_claim_type || PyModule_AddType(m, st->block_claim_type) < 0)
        return -1;
    /* private: reached only as a memoryview's .obj */
    st->block_view_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &BlockView_spec, NULL);
    return st->block_view_type ? 0 : -1;
}
