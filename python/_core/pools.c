/*
 * pools.c — the process-wide default pools (the rusted-ring crate's XS .. XL
 * T-shirt sizes) as module functions: sizes and presets, configure_pools,
 * pool_ring, emit and pool_stats. The core creates the pools lazily and owns
 * them; this file keeps one Ring object per pool in the module state.
 *
 * Invariant: a pool's Ring object is made once per module and never closed
 * (owned = 0); configure_pools succeeds only before the pools exist.
 *
 * Re-entrancy audit (module.h): the pools are the core's (multi-producer,
 * safe for any caller); the binding keeps only their Ring objects, each stored
 * once the core returned and never replaced. emit(): the payload's .data
 * property or __buffer__ runs before the core call; the buffer stays exported
 * while the core copies it with the GIL released, and is released (Python code
 * again) only once the outcome, with the core's message, is made. configure_pools() iterates
 * its argument (Python code) before it calls the core. pool_stats(): the
 * core's figures are collected before the dicts are built.
 */
#include "module.h"

static int as_pool_id(PyObject *o, rr_pool_id *out)
{
    uint64_t v;
    if (rrpy_as_u64(o, "pool_id", RR_POOL_COUNT - 1, &v) < 0)
        return -1;
    *out = (rr_pool_id)v;
    return 0;
}

static PyObject *mod_pool_slot_size(PyObject *m, PyObject *arg)
{
    (void)m;
    rr_pool_id id;
    if (as_pool_id(arg, &id) < 0)
        return NULL;
    return PyLong_FromSize_t(rr_pool_slot_size(id));
}

static PyObject *mod_estimate_size(PyObject *m, PyObject *arg)
{
    (void)m;
    uint64_t n;
    if (rrpy_as_u64(arg, "size", UINT64_MAX >> 1, &n) < 0)
        return NULL;
    return PyLong_FromLong(rr_estimate_size((size_t)n));
}

static PyObject *mod_estimate_pool_id(PyObject *m, PyObject *arg)
{
    (void)m;
    uint64_t n;
    rr_pool_id id;
    if (rrpy_as_u64(arg, "size", UINT64_MAX >> 1, &n) < 0)
        return NULL;
    if (rr_estimate_pool_id((size_t)n, &id) != RR_OK)
        Py_RETURN_NONE;
    return PyLong_FromLong(id);
}

static PyObject *config_tuple(const rr_pool_config *c)
{
    return Py_BuildValue("(KKKKK)", (unsigned long long)c->capacity[0], (unsigned long long)c->capacity[1],
                         (unsigned long long)c->capacity[2], (unsigned long long)c->capacity[3],
                         (unsigned long long)c->capacity[4]);
}

static PyObject *mod_preset_config(PyObject *m, PyObject *arg)
{
    (void)m;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "preset must be a str, not %.100s", rrpy_type_name(arg));
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8AndSize(arg, NULL);
    rr_preset preset;
    if (!name)
        return NULL;
    if (rr_preset_from_name(name, &preset) != RR_OK) {
        PyErr_SetString(PyExc_ValueError, rr_last_error());
        return NULL;
    }
    rr_pool_config c;
    rr_preset_config(preset, &c);
    return config_tuple(&c);
}

static PyObject *mod_configure_pools(PyObject *m, PyObject *arg)
{
    PyObject *seq = PySequence_Fast(arg, "capacities must be a sequence of 5 ints (XS .. XL)");
    if (!seq)
        return NULL;
    rr_pool_config c;
    PyObject *result = NULL;
    Py_ssize_t n = PySequence_Size(seq);           /* a list or a tuple */
    if (n != RR_POOL_COUNT) {
        if (n >= 0)
            PyErr_Format(PyExc_ValueError, "capacities must have 5 entries (XS .. XL), got %zd", n);
        goto done;
    }
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        PyObject *item = PySequence_GetItem(seq, i);
        int bad = !item || rrpy_as_u64(item, "capacity", UINT64_MAX >> 1, &c.capacity[i]) < 0;
        Py_XDECREF(item);
        if (bad)
            goto done;
        if (c.capacity[i] == 0) {
            PyErr_Format(PyExc_ValueError, "capacity of pool %s must be at least 1, got 0",
                         rr_pool_name((rr_pool_id)i));
            goto done;
        }
    }
    rr_status s = rr_pools_configure(&c);
    if (s == RR_IN_USE)
        rrpy_raise_status(state_of(m), s, "the default pools already exist; configure them before first use");
    else if (s != RR_OK)
        rrpy_raise_status(state_of(m), s, NULL);
    else
        result = Py_NewRef(Py_None);
done:
    Py_DECREF(seq);
    return result;
}

static PyObject *mod_pools_config(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    rr_pool_config c;
    rr_pools_config(&c);
    return config_tuple(&c);
}

static PyObject *pool_ring_obj(PyObject *m, rr_pool_id id)
{
    rr_py_state *st = state_of(m);
    if (!st->pools[id]) {
        rr_ring *ring;
        rr_status s = rr_pool_ring(id, &ring);
        if (s != RR_OK)
            return rrpy_raise_status(st, s, NULL);
        st->pools[id] = (PyObject *)rrpy_ring_wrap(st->ring_type, ring, 0, NULL);
        if (!st->pools[id])
            return NULL;
    }
    return Py_NewRef(st->pools[id]);
}

static PyObject *mod_pool_ring(PyObject *m, PyObject *arg)
{
    rr_pool_id id;
    if (as_pool_id(arg, &id) < 0)
        return NULL;
    return pool_ring_obj(m, id);
}

static PyObject *mod_emit(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"data", "event_type", "timeout"};
    PyObject *a[3];
    rrpy_payload p;
    uint32_t type = 0;
    int64_t timeout;
    if (rrpy_parse_args("emit", args, nargs, kwnames, names, 3, 2, 1, a) < 0 ||
        rrpy_as_timeout(a[2], RR_FOREVER, &timeout) < 0)
        return NULL;
    if (!a[2])
        timeout = 0;
    if (rrpy_payload_get(a[0], &p) < 0)
        return NULL;
    if (a[1] && a[1] != Py_None) {
        if (rrpy_as_event_type(a[1], &type) < 0) {
            rrpy_payload_release(&p);
            return NULL;
        }
    } else if (p.has_type) {
        type = p.type;
    }
    rr_pool_id id = RR_POOL_XS;
    rr_status s;
    Py_BEGIN_ALLOW_THREADS          /* may wait for another producer a lap behind */
    s = rr_emit(p.buf, (size_t)p.len, type, timeout, &id);
    Py_END_ALLOW_THREADS
    /* The outcome (with the core's message) first: releasing the payload runs
     * Python code that may make a failing core call of its own. */
    PyObject *result;
    if (s == RR_FULL || s == RR_TIMEOUT)
        result = rrpy_raise_status(state_of(m), s, "pool %s busy: another producer is still filling the "
                                   "slot a lap behind", rr_pool_name(id));
    else if (s != RR_OK)
        result = rrpy_raise_status(state_of(m), s, NULL);
    else
        result = PyLong_FromLong(id);
    rrpy_payload_release(&p);
    return result;
}

static PyObject *mod_pool_stats(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    rr_pool_stats s[RR_POOL_COUNT];
    rr_pool_stats_collect(s);
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        char text[128];
        rr_pool_stats_format(&s[i], text, sizeof text);
        PyObject *d = Py_BuildValue("{s:i,s:K,s:n,s:n,s:K,s:I,s:d,s:s}",
                                    "pool_id", (int)s[i].id,
                                    "capacity", (unsigned long long)s[i].capacity,
                                    "slot_size", (Py_ssize_t)s[i].slot_size,
                                    "memory_bytes", (Py_ssize_t)s[i].memory_bytes,
                                    "published", (unsigned long long)s[i].published,
                                    "reader_count", (unsigned int)s[i].reader_count,
                                    "current_backpressure", s[i].current_backpressure,
                                    "text", text);
        if (!d || PyList_Append(list, d) < 0) {
            Py_XDECREF(d);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(d);
    }
    return list;
}

PyMethodDef rrpy_pool_functions[] = {
    {"pool_slot_size", mod_pool_slot_size, METH_O, "pool_slot_size($module, pool_id, /)\n--\n\nReturns int: 64, 256, 1024, 4096 or 16384."},
    {"estimate_size", mod_estimate_size, METH_O,
     "estimate_size($module, n, /)\n--\n\nReturns int: the T-shirt size for n bytes, 0 (XS) .. 4 (XL), 5 (XXL) above 16384."},
    {"estimate_pool_id", mod_estimate_pool_id, METH_O,
     "estimate_pool_id($module, n, /)\n--\n\nReturns int | None: the smallest pool whose slot fits n bytes."},
    {"preset_config", mod_preset_config, METH_O,
     "preset_config($module, name, /)\n--\n\nReturns tuple: capacities (XS .. XL) of 'production', 'mobile' or 'high_throughput'."},
    {"configure_pools", mod_configure_pools, METH_O,
     "configure_pools($module, capacities, /)\n--\n\nSet the 5 default pools' capacities (XS .. XL) before their "
     "first use; RingError once they exist."},
    {"pools_config", mod_pools_config, METH_NOARGS,
     "pools_config($module)\n--\n\nReturns tuple: the capacities in force (or to be used when the pools appear)."},
    {"pool_ring", mod_pool_ring, METH_O,
     "pool_ring($module, pool_id, /)\n--\n\nReturns Ring. The process-wide default pool (overwrite mode, multi-producer), "
     "created on first use."},
    {"emit", (PyCFunction)(void (*)(void))mod_emit, METH_FASTCALL | METH_KEYWORDS,
     "emit($module, /, data, event_type=None, *, timeout=0)\n--\n\nReturns int. Publish into the smallest default pool that "
     "fits and return its id. DataTooLarge above 16384 bytes."},
    {"pool_stats", mod_pool_stats, METH_NOARGS,
     "pool_stats($module)\n--\n\nReturns list[dict]. One entry per default pool (pool_id, capacity, slot_size, "
     "memory_bytes, published, reader_count, current_backpressure, text); creates no pool."},
    {0}
};
