/*
 * pickle.c — what pickles and what does not: the __reduce__ of every type.
 *
 * A shared Ring pickles by name: unpickling calls Ring.open_shared(name), so a
 * multiprocessing child started by spawn or forkserver, which gets its
 * arguments pickled, maps the ring itself and has a handle of its own (a
 * fork()ed child inherits the parent's objects and pickles nothing). A ring
 * opened with allow_other_user=True is opened with it again. Unpickling
 * needs the name to exist still: a ring removed by unlink_shared meanwhile
 * raises SharedMemoryNotFound there.
 *
 * Everything else refuses with a TypeError that says what to pass instead:
 *   - a Ring that is not shared (Ring(...)): its memory is this process's;
 *     make it with Ring.create_shared to hand it on. The default pools' Rings
 *     are each process's own (EventPoolFactory in the other process).
 *   - a Writer or a Reader: a handle belongs to the process that opened it
 *     (the core records its pid for eviction and liveness); pass its shared
 *     Ring, or the ring's name, and open one there.
 *   - an Event, a Block: views of slots this process's reader holds; pass a
 *     copy of the data.
 *   - a Claim, a BlockClaim: slots this process's writer has claimed and must
 *     publish itself.
 * Without these, pickle would say only "cannot pickle 'rusted_ring.Writer'
 * object". The same methods make copy.copy and copy.deepcopy of a shared Ring
 * open a new handle of the same ring, and refuse for the rest.
 *
 * Re-entrancy audit (module.h): nothing here changes a handle, and no Python
 * code runs before the handle's fields are read (the name is an exact str
 * made by the binding; functools.partial runs only on the values given).
 */
#include "module.h"

#include <string.h>

/* TypeError: "cannot pickle a rusted_ring.WHAT: WHY". Returns NULL. */
static PyObject *refuse(const char *what, const char *why)
{
    PyErr_Format(PyExc_TypeError, "cannot pickle a rusted_ring.%s: %s", what, why);
    return NULL;
}

/* How to hand `ring`'s events to another process, for a handle of it (`opener`:
 * "writer" or "reader"). */
static PyObject *refuse_handle(const char *what, const char *opener, RingObject *ring)
{
    if (!ring->owned)
        return PyErr_Format(PyExc_TypeError,
                            "cannot pickle a rusted_ring.%s: a %s belongs to the process that "
                            "opened it, and the default pools are each process's own; call "
                            "EventPoolFactory.get_%s(pool_id) in the other process", what, opener,
                            opener);
    if (!rr_ring_shm_name(ring->ring))
        return PyErr_Format(PyExc_TypeError,
                            "cannot pickle a rusted_ring.%s: a %s belongs to the process that "
                            "opened it, and its ring is not shared (Ring(...) lives in this "
                            "process's memory); make the ring with Ring.create_shared(name, ...), "
                            "pass that Ring (it pickles by name) or its name to the other "
                            "process, and call ring.%s() there", what, opener, opener);
    return PyErr_Format(PyExc_TypeError,
                        "cannot pickle a rusted_ring.%s: a %s belongs to the process that opened "
                        "it; pass its ring (.ring, which pickles by name) or the ring's name %R to "
                        "the other process and call ring.%s() there", what, opener, ring->name,
                        opener);
}

PyObject *rrpy_ring_reduce(PyObject *self_o, PyObject *unused)
{
    (void)unused;
    RingObject *self = (RingObject *)self_o;
    if (!self->owned)
        return refuse("Ring", "the default pools are each process's own; call "
                              "EventPoolFactory.get_ring(pool_id) in the other process");
    if (!rr_ring_shm_name(self->ring))
        return refuse("Ring", "this ring is not shared: it lives in this process's memory. "
                              "Make it with Ring.create_shared(name, ...) to hand it to other "
                              "processes: a shared Ring pickles by name");
    PyObject *open = PyObject_GetAttrString((PyObject *)Py_TYPE(self_o), "open_shared");
    if (!open)
        return NULL;
    if (self->allow_other_user) {           /* open_shared(name, allow_other_user=True) */
        PyObject *functools = PyImport_ImportModule("functools");
        PyObject *partial = functools ? PyObject_GetAttrString(functools, "partial") : NULL;
        PyObject *args = partial ? PyTuple_Pack(1, open) : NULL;
        PyObject *kwargs = args ? Py_BuildValue("{sO}", "allow_other_user", Py_True) : NULL;
        PyObject *bound = kwargs ? PyObject_Call(partial, args, kwargs) : NULL;
        Py_XDECREF(kwargs);
        Py_XDECREF(args);
        Py_XDECREF(partial);
        Py_XDECREF(functools);
        Py_DECREF(open);
        if (!bound)
            return NULL;
        open = bound;
    }
    PyObject *r = Py_BuildValue("(O(O))", open, self->name);
    Py_DECREF(open);
    return r;
}

PyObject *rrpy_writer_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    return refuse_handle("Writer", "writer", ((WriterObject *)self)->ring);
}

PyObject *rrpy_reader_reduce(PyObject *self, PyObject *unused)
{
    (void)unused;
    return refuse_handle("Reader", "reader", ((ReaderObject *)self)->ring);
}

PyObject *rrpy_event_reduce(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return refuse("Event", "it is a view of a slot that its reader reuses; pass a copy of its "
                           "payload, bytes(event), and event.event_type if it matters");
}

PyObject *rrpy_block_reduce(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return refuse("Block", "it is a view of slots that its reader holds until release(); pass "
                           "a copy of what you need: block.as_array().copy(), bytes(block.data), "
                           "or [bytes(e) for e in block]");
}

PyObject *rrpy_claim_reduce(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return refuse("Claim", "it is a slot this process's writer claimed and must publish "
                           "itself; publish it, and pass the bytes, or the shared ring the "
                           "event goes to, to the other process");
}

PyObject *rrpy_block_claim_reduce(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return refuse("BlockClaim", "it is slots this process's writer claimed and must publish "
                                "itself; publish them, and pass the data, or the shared ring "
                                "they go to, to the other process");
}
