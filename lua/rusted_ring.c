/*
 * rusted_ring.c — the Lua 5.4 binding of the rusted_ring C core
 * (`local rr = require "rusted_ring"`).
 *
 * Translation only: argument checking, object lifetime and error mapping. All
 * ring behaviour lives in csrc/ behind rusted_ring.h.
 *
 * Objects are full userdata, one metatable per type (rusted_ring.ring, .writer,
 * .reader, .event). Lifetime rules:
 *   - A writer or reader keeps its ring userdata alive through its user value,
 *     and the ring counts them (`children`). The ring's block is freed only
 *     once the ring was released (its __gc or __close ran) and its last child
 *     closed, so no finalizer order can free a ring under an open handle.
 *   - The event object belongs to the reader and holds the latest event:
 *     each reader makes one event userdata when it is opened (its user value
 *     2) and every r:next() that returns an event returns that same object,
 *     refilled, so reading allocates nothing. The event records the reader's
 *     generation when it was filled; every next() (and close) bumps the
 *     generation, so the event raises ("stale event") after a next() that
 *     returned nil and after close, instead of reading a slot the reader no
 *     longer owns. A variable that kept the event from an earlier next() sees
 *     the latest event, not the one it was handed then.
 *   - Handles the program dropped close in __gc. Lua does not see the reader
 *     table fill up, so when opening a reader (or a single-producer writer)
 *     finds no room, one full collection runs and the open is retried.
 *   - Blocks (r:next_block) follow the same rule: the block object belongs
 *     to the reader and holds its latest block. Each reader has one block
 *     userdata (user value 3), and every next_block that returns a block
 *     returns that same object, refilled with the reader's generation, so a
 *     variable kept from an earlier next_block sees the latest block. Every
 *     next, next_block and close bumps the generation, so the block raises
 *     ("stale block") after a next(), after a next_block that returned nil
 *     and after close, and the event after any next_block.
 *     A block's accessors read event i of the core's rr_block in place
 *     (backpressure: the slots themselves, pinned until the reader's next
 *     call; overwrite: the reader's verified copy).
 *   - r:process(fn) hands fn the same event object, refilled for each
 *     event of each batch, and bumps the generation once it returns. A
 *     writable reader's event (and block) can be written with ev:write /
 *     b:write: the bytes of the slot itself, within the event's length,
 *     through rr_reader_writable_data.
 *   - A shared ring (rr.create_shared / rr.open_shared) is the same ring
 *     userdata. Releasing it unmaps the segment but neither ends the stream,
 *     which other processes may still use, nor removes the name.
 *
 * Re-entrancy. Any allocation may run a collection step, and with it any
 * finalizer (__gc), which may use, close or release the very handle whose
 * method is running; a metamethod (__tostring of a bad argument) may too.
 * So each method allocates, and checks its arguments, before it calls the
 * core, and looks at its handle again after every allocation or collection
 * (a closed writer or reader, a released ring raise as at entry). Between
 * the core call and the return nothing allocates: r:next() allocates
 * nothing at all (its event was made with the reader), so no finalizer runs
 * between the read and the event handed out. A reader and a
 * single-producer writer are also `busy` for that stretch: a call that
 * finds its handle busy was re-entered from inside the core call's section,
 * and raises instead of moving the reader on or sharing the core writer.
 * Nothing in those sections raises (luaL_error would leave `busy` set).
 *
 * Outcomes a caller handles (empty, full, timeout, closed) return nil and a
 * word; a shared ring that cannot be made or opened (not found, the name
 * taken, a segment that is not a usable ring, still being created, or
 * another user's) returns nil and the core's message; everything else
 * raises with the core's detailed message (among them a writer or reader
 * used in a fork()ed child: it belongs to the process that opened it).
 *
 * The vocabulary is the core's (rusted_ring.h, vocab.c): names of modes,
 * producers, starts and wait strategies, seconds to nanoseconds, the largest claim, the
 * pressure thresholds and health bands, and the stats fields, so that a value
 * means the same here as in Python.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "rr_unpack.h"
#include "rusted_ring.h"

int luaopen_rusted_ring(lua_State *L);   /* the module's one exported symbol */

#define RING_MT      "rusted_ring.ring"
#define WRITER_MT    "rusted_ring.writer"
#define READER_MT    "rusted_ring.reader"
#define EVENT_MT     "rusted_ring.event"
#define BLOCK_MT     "rusted_ring.block"
#define POOLSTAT_MT  "rusted_ring.pool_stats"

#define BATCH_ON_STACK 64   /* add_batch items described without an allocation */

typedef struct lring {
    rr_ring *ring;       /* NULL once the block is freed */
    uint32_t children;   /* open writers and readers made from this ring */
    bool     released;   /* __gc / __close ran: free the block at children == 0 */
} lring;

typedef struct lwriter {
    rr_writer *w;        /* NULL once closed */
    lring     *parent;   /* NULL for a default pool's writer */
    size_t     slot_size;
    uint64_t   max_batch;   /* min(capacity, RR_MAX_CLAIM) */
    bool       single;   /* single producer: one call at a time (busy) */
    bool       busy;     /* a single-producer call is inside the core */
    rr_wait_strategy wait;   /* how it waits for room (w:wait()) */
} lwriter;

typedef struct lreader {
    rr_reader *r;        /* NULL once closed */
    lring     *parent;   /* NULL for a default pool's reader */
    uint64_t   gen;      /* bumped by every next() and by close */
    bool       busy;     /* a read is inside the core */
    bool       in_process;   /* r:process() runs: its handler may not read from it */
    bool       close_pending;   /* closed inside process(): the core close waits for it */
    bool       writable;    /* may write into its events (ring:reader{writable = true}) */
    bool       durable;     /* its close parks its place (ring:reader{durable = true}) */
    char       name[RR_NAME_MAX + 1];   /* "" when unnamed; kept after the close */
    rr_wait_strategy wait;   /* how it waits for events (r:wait()) */
    struct levent *event;   /* the reader's one event object (user value 2) */
    struct lblock *blk;     /* the reader's one block object (user value 3) */
    rr_event   ev;       /* what the event holds while event->gen == gen */
    rr_block   block;    /* what the block holds while blk->gen == gen */
} lreader;

/* User values of a reader: its ring (absent for a default pool's), its
 * event object, its block object and process()'s batch (made by its first
 * call, grown by a larger max_batch). */
#define READER_UV_RING  1
#define READER_UV_EVENT 2
#define READER_UV_BLOCK 3
#define READER_UV_BATCH 4
#define READER_UVALUES  4

typedef struct levent {
    lreader *rd;         /* kept alive by the event's user value */
    uint64_t gen;        /* the reader's generation when it was filled */
} levent;

typedef struct lblock {
    lreader *rd;         /* kept alive by the block's user value */
    uint64_t gen;        /* the reader's generation when it was filled */
} lblock;

/* ---- statuses ------------------------------------------------------------ */

/* The words returned (after nil) for outcomes; NULL where the status raises. */
static const char *const outcome_words[RR_STATUS_COUNT] = {
    [RR_EMPTY] = "empty", [RR_FULL] = "full", [RR_TIMEOUT] = "timeout", [RR_CLOSED] = "closed",
};

/* The core's message for this thread's last failure, copied onto the stack
 * to raise with. Raising allocates before it formats (luaL_where, the
 * function's name for luaL_argerror), a finalizer run there may make a
 * failing core call of its own, and that would overwrite the thread's
 * message under luaL_error; lua_pushstring copies before it may collect. */
static const char *last_error(lua_State *L)
{
    return lua_pushstring(L, rr_last_error());
}

/* Push nil, word for an outcome; raise for anything else. `arg` names the
 * argument to blame for a payload that does not fit (0: none). */
static int push_outcome(lua_State *L, rr_status st, int arg)
{
    if ((unsigned)st < RR_STATUS_COUNT && outcome_words[st]) {
        lua_pushnil(L);
        lua_pushstring(L, outcome_words[st]);
        return 2;
    }
    if (st == RR_TOO_LARGE && arg > 0)
        return luaL_argerror(L, arg, last_error(L));
    return luaL_error(L, "%s (%s)", last_error(L), rr_strerror(st));
}

/* ---- argument checks ------------------------------------------------------ */

static const char *check_payload(lua_State *L, int arg, size_t *len)
{
    if (lua_type(L, arg) != LUA_TSTRING)
        luaL_typeerror(L, arg, "string");
    return lua_tolstring(L, arg, len);
}

/* The integer at stack index idx, which must lie in lo..hi. With arg > 0 an
 * error blames that argument; otherwise (a table field) it is `what` alone. */
static lua_Integer check_int_in(lua_State *L, int idx, int arg, const char *what,
                                lua_Integer lo, lua_Integer hi)
{
    int exact = 0;
    lua_Integer v = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &exact) : 0;
    if (exact && v >= lo && v <= hi)
        return v;
    const char *msg;
    if (lua_type(L, idx) != LUA_TNUMBER)
        msg = lua_pushfstring(L, "%s must be an integer, got %s", what, luaL_typename(L, idx));
    else if (!exact)
        msg = lua_pushfstring(L, "%s must be an integer, got %s", what,
                              luaL_tolstring(L, idx, NULL));
    else
        msg = lua_pushfstring(L, "%s must be in %I..%I, got %I", what, lo, hi, v);
    if (arg > 0)
        return luaL_argerror(L, arg, msg);
    return luaL_error(L, "%s", msg);
}

#define check_range(L, arg, what, lo, hi) check_int_in(L, arg, arg, what, lo, hi)

static uint32_t opt_event_type(lua_State *L, int arg)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    return (uint32_t)check_range(L, arg, "event type", 0, UINT32_MAX);
}

/* Seconds -> the core's nanoseconds, by the contract both languages share
 * (rr_timeout_from_seconds): 0 never waits, > 0 waits up to that long,
 * math.huge waits without limit, a negative number or NaN raises. nil (or
 * nothing) is the call's default, which for every call here is 0: never
 * wait. */
#define TIMEOUT_DEFAULT_NS 0
static int64_t opt_timeout(lua_State *L, int arg)
{
    if (lua_isnoneornil(L, arg))
        return TIMEOUT_DEFAULT_NS;
    if (lua_type(L, arg) != LUA_TNUMBER)
        luaL_typeerror(L, arg, "number of seconds");
    int64_t ns;
    if (rr_timeout_from_seconds((double)lua_tonumber(L, arg), &ns) != RR_OK)
        luaL_argerror(L, arg, last_error(L));
    return ns;
}

/* ---- self ------------------------------------------------------------------ */

/* The userdata at index 1 when it is of type `tname`. Every method carries
 * its type's metatable as upvalue 1 (define_type), so the common case is a
 * compare of two table addresses instead of luaL_checkudata's registry
 * lookup by name, which costs about as much as the core's add. Anything
 * else (another type; a metamethod or a method that is one, which have no
 * upvalue: lua_topointer of that is NULL) takes the standard path, which
 * raises the standard message. */
static void *check_self(lua_State *L, const char *tname)
{
    void *p = lua_touserdata(L, 1);
    if (p && lua_getmetatable(L, 1)) {
        int same = lua_topointer(L, -1) == lua_topointer(L, lua_upvalueindex(1));
        lua_pop(L, 1);
        if (same)
            return p;
    }
    return luaL_checkudata(L, 1, tname);
}

/* ---- rings ---------------------------------------------------------------- */

static void ring_free_if_unused(lring *rg)
{
    if (rg->released && rg->children == 0 && rg->ring) {
        /* RR_IN_USE only if C code opened handles through ring:handle() and
         * kept them; the block is then left to them rather than freed. */
        rr_ring_destroy(rg->ring);
        rg->ring = NULL;
    }
}

static lring *check_ring(lua_State *L, int arg)
{
    lring *rg = luaL_checkudata(L, arg, RING_MT);
    if (rg->released)
        luaL_error(L, "attempt to use a released ring");
    return rg;
}

/* One of the core's names: parse turns it into the value, name gives the
 * choices for a value that is not even a string. */
typedef rr_status (*name_parser)(const char *name, int *out);
typedef const char *(*name_of)(int value);

static rr_status parse_mode(const char *n, int *out)
{
    rr_mode m;
    rr_status st = rr_mode_from_name(n, &m);
    *out = (int)m;
    return st;
}
static rr_status parse_producers(const char *n, int *out)
{
    rr_producers p;
    rr_status st = rr_producers_from_name(n, &p);
    *out = (int)p;
    return st;
}
static rr_status parse_start(const char *n, int *out)
{
    rr_start s;
    rr_status st = rr_start_from_name(n, &s);
    *out = (int)s;
    return st;
}
static rr_status parse_wait(const char *n, int *out)
{
    rr_wait_strategy w;
    rr_status st = rr_wait_strategy_from_name(n, &w);
    *out = (int)w;
    return st;
}
static const char *mode_of(int v) { return rr_mode_name((rr_mode)v); }
static const char *producers_of(int v) { return rr_producers_name((rr_producers)v); }
static const char *start_of(int v) { return rr_start_name((rr_start)v); }

/* The name at stack index idx, by the core's parser; dflt when nil. Errors
 * say `what`, the choices and the value (prefixed by `fn` when not NULL). */
static int check_name(lua_State *L, int idx, const char *fn, const char *what,
                      name_parser parse, name_of names, int dflt)
{
    int v = dflt;
    if (lua_isnoneornil(L, idx))
        return dflt;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s%s%s must be \"%s\" or \"%s\", got %s", fn ? fn : "", fn ? ": " : "",
                   what, names(0), names(1), luaL_tolstring(L, idx, NULL));
    if (parse(lua_tostring(L, idx), &v) != RR_OK)
        luaL_error(L, "%s%s%s", fn ? fn : "", fn ? ": " : "", last_error(L));
    return v;
}

/* Option `wait` of the table at t: a wait strategy, "block" when absent.
 * Errors name the choices (the core's names, in its order). */
static rr_wait_strategy field_wait(lua_State *L, int t, const char *fn)
{
    int v = RR_WAIT_BLOCK;
    lua_getfield(L, t, "wait");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: wait must be \"%s\", \"%s\", \"%s\" or \"%s\", got %s", fn,
                       rr_wait_strategy_name(RR_WAIT_BLOCK), rr_wait_strategy_name(RR_WAIT_YIELD),
                       rr_wait_strategy_name(RR_WAIT_SPIN), rr_wait_strategy_name(RR_WAIT_SLEEP),
                       luaL_tolstring(L, -1, NULL));
        if (parse_wait(lua_tostring(L, -1), &v) != RR_OK)
            luaL_error(L, "%s: %s", fn, last_error(L));
    }
    lua_pop(L, 1);
    return (rr_wait_strategy)v;
}

/* Option `key` of the table at t, by the core's parser, or dflt when absent. */
static int field_name(lua_State *L, int t, const char *fn, const char *key, name_parser parse,
                      name_of names, int dflt)
{
    lua_getfield(L, t, key);
    int v = check_name(L, lua_gettop(L), fn, key, parse, names, dflt);
    lua_pop(L, 1);
    return v;
}

/* Required integer option `key` of the table at t, in lo..hi. */
static lua_Integer field_range(lua_State *L, int t, const char *fn, const char *key,
                               lua_Integer lo, lua_Integer hi)
{
    lua_getfield(L, t, key);
    if (lua_isnil(L, -1))
        luaL_error(L, "%s: option '%s' is required", fn, key);
    int value = lua_gettop(L);
    const char *what = lua_pushfstring(L, "%s: %s", fn, key);
    lua_Integer v = check_int_in(L, value, 0, what, lo, hi);
    lua_pop(L, 2);
    return v;
}

/* Refuse option names the caller does not know: a typo must not pass silently. */
static void check_option_keys(lua_State *L, int t, const char *fn, const char *const known[])
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        int ok = lua_type(L, -1) == LUA_TSTRING;
        for (int i = 0; ok && known[i]; i++)
            if (strcmp(lua_tostring(L, -1), known[i]) == 0)
                ok = 2;
        if (ok != 2)
            luaL_error(L, "%s: unknown option %s", fn, luaL_tolstring(L, -1, NULL));
    }
}

/* The ring options of the table at t (slot_size, capacity, mode, producers). */
static rr_config check_config(lua_State *L, int t, const char *fn)
{
    rr_config cfg;
    cfg.slot_size = (size_t)field_range(L, t, fn, "slot_size", 1, RR_MAX_SLOT_SIZE);
    cfg.capacity = (uint64_t)field_range(L, t, fn, "capacity", 1, LUA_MAXINTEGER);
    cfg.mode = (rr_mode)field_name(L, t, fn, "mode", parse_mode, mode_of, RR_MODE_BACKPRESSURE);
    cfg.producers = (rr_producers)field_name(L, t, fn, "producers", parse_producers,
                                             producers_of, RR_PRODUCERS_SINGLE);
    return cfg;
}

/* A new ring userdata with no block yet: released, so that its __gc does
 * nothing if making the block fails. */
static lring *new_ring_ud(lua_State *L)
{
    lring *rg = lua_newuserdatauv(L, sizeof *rg, 0);
    rg->ring = NULL, rg->children = 0, rg->released = true;
    luaL_setmetatable(L, RING_MT);
    return rg;
}

/* rr.ring{ slot_size = n, capacity = n, mode = "backpressure"|"overwrite",
 *          producers = "single"|"multi" } */
static int rr_lua_ring(lua_State *L)
{
    static const char *const known[] = { "slot_size", "capacity", "mode", "producers", NULL };
    luaL_checktype(L, 1, LUA_TTABLE);
    check_option_keys(L, 1, "rr.ring", known);
    rr_config cfg = check_config(L, 1, "rr.ring");
    lring *rg = new_ring_ud(L);
    if (rr_ring_create(&cfg, &rg->ring) != RR_OK)
        return luaL_error(L, "rr.ring: %s", last_error(L));
    rg->released = false;
    return 1;
}

/* ---- shared rings ---------------------------------------------------------- */

/* A segment name: a string without embedded zeros. Its other rules (length,
 * no '/' past the first character, not "." or "..") are the core's. */
static const char *check_shm_name(lua_State *L, int arg)
{
    size_t len;
    if (lua_type(L, arg) != LUA_TSTRING)
        luaL_typeerror(L, arg, "string");
    const char *name = lua_tolstring(L, arg, &len);
    if (strlen(name) != len)
        luaL_argerror(L, arg, "a shared ring name cannot contain '\\0'");
    return name;
}

/* Option `permissions`: the segment's mode bits, 0 .. 0777 (0: the core's
 * default, 0600). Lua has no octal literals: 0x180 or tonumber("600", 8). */
static unsigned field_permissions(lua_State *L, int t, const char *fn)
{
    lua_getfield(L, t, "permissions");
    int exact = 0;
    lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &exact) : 0;
    if (!lua_isnil(L, -1) && (!exact || v < 0 || v > 0777))
        luaL_error(L, "%s: permissions must be file mode bits, an integer in 0..0x1FF "
                      "(octal 0..0777), got %s", fn, luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    return (unsigned)v;
}

/* A boolean option `key` of the table at t (nil: false). */
static bool field_flag(lua_State *L, int t, const char *fn, const char *key)
{
    lua_getfield(L, t, key);
    int type = lua_type(L, -1);
    if (type != LUA_TNIL && type != LUA_TBOOLEAN)
        luaL_error(L, "%s: %s must be a boolean, got %s", fn, key, luaL_typename(L, -1));
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Option `timeout` (seconds) of the table at t: how long opening waits for
 * a ring another process is still creating. nil: as long as that process
 * lives and creates it (RR_FOREVER); 0: not at all; math.huge: without
 * limit; negative or NaN: an error. */
static int64_t field_shm_timeout(lua_State *L, int t, const char *fn)
{
    lua_getfield(L, t, "timeout");
    int64_t ns = RR_FOREVER;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "%s: timeout must be a number of seconds, got %s", fn,
                       luaL_typename(L, -1));
        if (rr_timeout_from_seconds((double)lua_tonumber(L, -1), &ns) != RR_OK)
            luaL_error(L, "%s: %s", fn, last_error(L));
    }
    lua_pop(L, 1);
    return ns;
}

/* After a failed rr_shm_* call: nil and the core's message for what a caller
 * handles (no such ring, the name taken, a segment that is not a usable
 * ring, the system refusing); raise for misuse (a bad name or options). */
static int push_shm_failure(lua_State *L, const char *fn, rr_status st)
{
    switch (st) {
    case RR_SHM_NOT_FOUND:
    case RR_SHM_EXISTS:
    case RR_SHM_INVALID:
    case RR_SHM_INCOMPATIBLE:
    case RR_SHM_CREATING:
    case RR_SHM_FOREIGN_OWNER:
    case RR_SYSTEM:
        lua_pushnil(L);
        lua_pushstring(L, rr_last_error());
        return 2;
    default:
        return luaL_error(L, "%s: %s", fn, last_error(L));
    }
}

/* The options opening takes (allow_other_user, timeout) from the table at t. */
static rr_shm_options check_open_options(lua_State *L, int t, const char *fn)
{
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.allow_other_user = field_flag(L, t, fn, "allow_other_user");
    o.timeout_ns = field_shm_timeout(L, t, fn);
    return o;
}

/* rr.create_shared(name, { slot_size = n, capacity = n, mode = ..., producers = ...,
 *                          permissions = 0x180 (0600, the default),
 *                          exist_ok = false, allow_other_user = false, timeout = nil })
 * -> ring | nil, message. exist_ok: when the name is taken, open that ring if
 * its geometry is the one asked for (allow_other_user and timeout as for
 * rr.open_shared). */
static int rr_lua_create_shared(lua_State *L)
{
    static const char *const known[] = { "slot_size", "capacity", "mode", "producers",
                                         "permissions", "exist_ok", "allow_other_user",
                                         "timeout", NULL };
    const char *name = check_shm_name(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    check_option_keys(L, 2, "rr.create_shared", known);
    rr_config cfg = check_config(L, 2, "rr.create_shared");
    rr_shm_options o = check_open_options(L, 2, "rr.create_shared");
    o.permissions = field_permissions(L, 2, "rr.create_shared");
    o.exist_ok = field_flag(L, 2, "rr.create_shared", "exist_ok");
    lring *rg = new_ring_ud(L);
    rr_status st = rr_shm_create_opts(name, &cfg, &o, &rg->ring);
    if (st != RR_OK)
        return push_shm_failure(L, "rr.create_shared", st);
    rg->released = false;
    return 1;
}

/* rr.open_shared(name [, { allow_other_user = false, timeout = nil }])
 * -> ring | nil, message. A segment of another user is refused unless
 * allow_other_user; a ring still being created is waited for, by default
 * as long as the process creating it lives (timeout: seconds, 0 never waits). */
static int rr_lua_open_shared(lua_State *L)
{
    static const char *const known[] = { "allow_other_user", "timeout", NULL };
    const char *name = check_shm_name(L, 1);
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        check_option_keys(L, 2, "rr.open_shared", known);
        o = check_open_options(L, 2, "rr.open_shared");
    }
    lring *rg = new_ring_ud(L);
    rr_status st = rr_shm_open_opts(name, &o, &rg->ring);
    if (st != RR_OK)
        return push_shm_failure(L, "rr.open_shared", st);
    rg->released = false;
    return 1;
}

/* rr.unlink_shared(name) -> true | nil, message. Rings already open stay usable. */
static int rr_lua_unlink_shared(lua_State *L)
{
    rr_status st = rr_shm_unlink(check_shm_name(L, 1));
    if (st != RR_OK)
        return push_shm_failure(L, "rr.unlink_shared", st);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- ring handles ------------------------------------------------------------ */

/* __gc and __close: free the block (unmap a shared one) once no child is
 * open. An in-process ring's stream ends with its last handle; a shared
 * ring's belongs to every process that maps it, so it stays open, and its
 * name stays until rr.unlink_shared. */
static int ring_release(lua_State *L)
{
    lring *rg = luaL_checkudata(L, 1, RING_MT);
    if (!rg->released && rg->ring) {
        rg->released = true;
        if (!rr_ring_shm_name(rg->ring))
            rr_ring_close(rg->ring);
        ring_free_if_unused(rg);
    }
    return 0;
}

/* ring:close(): end of stream. Readers drain what is left, writers get
 * "closed"; the ring's figures stay readable. Idempotent. */
static int ring_close(lua_State *L)
{
    lring *rg = luaL_checkudata(L, 1, RING_MT);
    if (!rg->released)
        rr_ring_close(rg->ring);
    return 0;
}

static int ring_closed(lua_State *L)
{
    lring *rg = luaL_checkudata(L, 1, RING_MT);
    lua_pushboolean(L, rg->released || rr_ring_closed(rg->ring));
    return 1;
}

static int ring_tostring(lua_State *L)
{
    lring *rg = luaL_checkudata(L, 1, RING_MT);
    if (rg->released || rr_ring_closed(rg->ring)) {
        lua_pushliteral(L, "rusted_ring.ring (closed)");
        return 1;
    }
    /* Everything read before the first allocation: a finalizer it runs may
     * release the ring (and unmap a shared one, its name with it). */
    rr_ring *ring = rg->ring;
    const char *name = rr_ring_shm_name(ring);
    lua_Integer slot_size = (lua_Integer)rr_ring_slot_size(ring);
    lua_Integer capacity = (lua_Integer)rr_ring_capacity(ring);
    const char *mode = rr_mode_name(rr_ring_mode(ring));
    const char *producers = rr_producers_name(rr_ring_producers(ring));
    lua_pushstring(L, name ? name : "");
    lua_pushfstring(L, "rusted_ring.ring %s%s%s(slot_size=%I, capacity=%I, %s, %s) (%p)",
                    name ? "'" : "", lua_tostring(L, -1), name ? "' " : "", slot_size, capacity,
                    mode, producers, (void *)rg);
    return 1;
}

static int ring_slot_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)rr_ring_slot_size(check_ring(L, 1)->ring));
    return 1;
}

static int ring_capacity(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)rr_ring_capacity(check_ring(L, 1)->ring));
    return 1;
}

static int ring_mode(lua_State *L)
{
    lua_pushstring(L, rr_mode_name(rr_ring_mode(check_ring(L, 1)->ring)));
    return 1;
}

static int ring_producers(lua_State *L)
{
    lua_pushstring(L, rr_producers_name(rr_ring_producers(check_ring(L, 1)->ring)));
    return 1;
}

static int ring_published(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)rr_ring_published(check_ring(L, 1)->ring));
    return 1;
}

/* ring:instance() -> the ring's random id, 1 .. 2^63-1 (rr_ring_instance) */
static int ring_instance(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)rr_ring_instance(check_ring(L, 1)->ring));
    return 1;
}

static int ring_memory_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)rr_ring_memory_bytes(check_ring(L, 1)->ring));
    return 1;
}

/* ring:name() -> the segment's name ("/strokes"), or nil for an in-process ring */
static int ring_name(lua_State *L)
{
    lua_pushstring(L, rr_ring_shm_name(check_ring(L, 1)->ring));   /* NULL pushes nil */
    return 1;
}

static int ring_shared(lua_State *L)
{
    lua_pushboolean(L, rr_ring_shm_name(check_ring(L, 1)->ring) != NULL);
    return 1;
}

/* ring:handle(): the rr_ring * as a light userdata, for C code linked with the
 * core (the test helper's writer thread). Valid while the ring is referenced. */
static int ring_handle(lua_State *L)
{
    lua_pushlightuserdata(L, check_ring(L, 1)->ring);
    return 1;
}

static void set_int(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

/* One stats field into the table on top, by its kind in the core's lists. */
static void set_U64(lua_State *L, const char *k, uint64_t v) { set_int(L, k, v); }
static void set_RATIO(lua_State *L, const char *k, double v) { set_num(L, k, v); }
static void set_BOOL(lua_State *L, const char *k, bool v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}
static void set_TEXT(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v ? v : "");
    lua_setfield(L, -2, k);
}
static void set_MODE(lua_State *L, const char *k, rr_mode v) { set_TEXT(L, k, rr_mode_name(v)); }
static void set_PRODUCERS(lua_State *L, const char *k, rr_producers v)
{
    set_TEXT(L, k, rr_producers_name(v));
}
static void set_WAIT(lua_State *L, const char *k, rr_wait_strategy v)
{
    set_TEXT(L, k, rr_wait_strategy_name(v));
}

#define COUNT_FIELD(field, kind) + 1
#define SET_FIELD(field, kind) set_##kind(L, #field, s->field);

static void push_reader_stats(lua_State *L, const rr_reader_stats *s)
{
    lua_createtable(L, 0, 0 RR_READER_STATS_FIELDS(COUNT_FIELD));
    RR_READER_STATS_FIELDS(SET_FIELD)
}

/* ring:stats() -> plain table: RR_RING_STATS_FIELDS (name is "" for an
 * in-process ring), then `readers`, a list of RR_READER_STATS_FIELDS tables. */
static int ring_stats(lua_State *L)
{
    lring *rg = check_ring(L, 1);
    rr_ring_stats *s = lua_newuserdatauv(L, sizeof *s, 0);   /* too big for the C stack */
    check_ring(L, 1);   /* a finalizer run by the allocation may have released it */
    rr_status st = rr_ring_stats_get(rg->ring, s);
    if (st != RR_OK)
        return push_outcome(L, st, 0);
    lua_createtable(L, 0, 1 RR_RING_STATS_FIELDS(COUNT_FIELD));
    RR_RING_STATS_FIELDS(SET_FIELD)
    lua_createtable(L, (int)s->reader_count, 0);
    for (uint32_t i = 0; i < s->reader_count && i < RR_MAX_READERS; i++) {
        push_reader_stats(L, &s->readers[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "readers");
    return 1;
}

/* ---- writers -------------------------------------------------------------- */

static lwriter *new_writer_ud(lua_State *L)
{
    lwriter *w = lua_newuserdatauv(L, sizeof *w, 1);
    w->w = NULL, w->parent = NULL, w->slot_size = 0, w->max_batch = 0;
    w->single = false, w->busy = false, w->wait = RR_WAIT_BLOCK;
    luaL_setmetatable(L, WRITER_MT);
    return w;
}

static void writer_sizes(lwriter *w, rr_ring *ring)
{
    w->slot_size = rr_ring_slot_size(ring);
    w->max_batch = rr_ring_max_claim(ring);
    w->single = rr_ring_producers(ring) == RR_PRODUCERS_SINGLE;
}

/* ring:writer([{ wait = "block"|"yield"|"spin"|"sleep" }]) */
static int ring_writer(lua_State *L)
{
    static const char *const known[] = { "wait", NULL };
    lring *rg = check_ring(L, 1);
    rr_writer_options opts = RR_WRITER_OPTIONS_INIT;
    if (!lua_isnoneornil(L, 2)) {
        if (lua_type(L, 2) != LUA_TTABLE)
            luaL_typeerror(L, 2, "table of options ({ wait = ... })");
        check_option_keys(L, 2, "ring:writer", known);
        opts.wait = field_wait(L, 2, "ring:writer");
    }
    lwriter *w = new_writer_ud(L);
    check_ring(L, 1);   /* the allocation's finalizers may have released it */
    rr_status st = rr_writer_open_opts(rg->ring, &opts, &w->w);
    if (st == RR_WRITER_BUSY) {   /* perhaps a dropped writer the GC has not closed yet */
        lua_gc(L, LUA_GCCOLLECT);
        check_ring(L, 1);         /* and so may the collection's */
        st = rr_writer_open_opts(rg->ring, &opts, &w->w);
    }
    if (st != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    w->wait = opts.wait;
    w->parent = rg;
    rg->children++;
    writer_sizes(w, rg->ring);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);   /* the writer keeps its ring alive */
    return 1;
}

static lwriter *check_writer(lua_State *L)
{
    lwriter *w = check_self(L, WRITER_MT);
    if (!w->w)
        luaL_error(L, "attempt to use a closed writer");
    if (w->busy)
        luaL_error(L, "writer is in use by an outer call (re-entered from a finalizer or metamethod)");
    return w;
}

/* The core section of a single-producer writer's call (see Re-entrancy at
 * the top): nothing between writer_enter and writer_leave may raise. */
static void writer_enter(lwriter *w)
{
    w->busy = w->single;
}

static void writer_leave(lwriter *w)
{
    w->busy = false;
}

/* w:note_lost(n): count n (0 .. math.maxinteger) events lost before they
 * reached the ring (rr_writer_note_lost). n is checked first; the call
 * touches only a counter of the ring, so an outer call of this writer in
 * progress (a finalizer re-entering) is no obstacle, and nothing between the
 * check and the call runs Lua code. */
static int writer_note_lost(lua_State *L)
{
    lwriter *w = check_self(L, WRITER_MT);
    lua_Integer n = check_range(L, 2, "n", 0, LUA_MAXINTEGER);
    if (!w->w)
        return luaL_error(L, "attempt to use a closed writer");
    if (rr_writer_note_lost(w->w, (uint64_t)n) != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    return 0;
}

/* close, __gc and __close */
static int writer_close(lua_State *L)
{
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    if (w->w) {
        rr_writer_close(w->w);
        w->w = NULL;
        if (w->parent) {
            w->parent->children--;
            ring_free_if_unused(w->parent);
        }
    }
    return 0;
}

/* Push a pollfd and its look interval (seconds, 0: never): see r:pollfd. */
static int push_pollfd(lua_State *L, rr_status st, int fd, int64_t interval_ns)
{
    if (st != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    lua_pushinteger(L, fd);
    lua_pushnumber(L, (lua_Number)interval_ns / 1e9);
    return 2;
}

/* w:pollfd() -> fd, interval: polls readable while the writer has room (see
 * r:pollfd); one writer per ring at a time may have one (raises otherwise). */
static int writer_pollfd(lua_State *L)
{
    lwriter *w = check_writer(L);
    int fd = -1;
    rr_status st = rr_writer_pollfd(w->w, &fd);
    return push_pollfd(L, st, fd, rr_writer_poll_interval(w->w));
}

/* w:wait() -> "block" | "yield" | "spin" | "sleep": how it waits (also once closed) */
static int writer_wait(lua_State *L)
{
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    lua_pushstring(L, rr_wait_strategy_name(w->wait));
    return 1;
}

static int writer_tostring(lua_State *L)
{
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    if (!w->w)
        lua_pushliteral(L, "rusted_ring.writer (closed)");
    else
        lua_pushfstring(L, "rusted_ring.writer (%p)", (void *)w);
    return 1;
}

/* w:add(data [, event_type [, timeout]]) -> sequence | nil, "full"|"timeout"|"closed" */
static int writer_add(lua_State *L)
{
    lwriter *w = check_writer(L);
    size_t len;
    const char *data = check_payload(L, 2, &len);
    uint32_t type = opt_event_type(L, 3);
    int64_t timeout = opt_timeout(L, 4);
    uint64_t seq;
    writer_enter(w);
    rr_status st = rr_writer_add(w->w, data, len, type, &seq, timeout);
    writer_leave(w);
    if (st != RR_OK)
        return push_outcome(L, st, 2);
    lua_pushinteger(L, (lua_Integer)seq);
    return 1;
}

/* w:try_add(data [, event_type]) -> true | false, "full"|"closed" */
static int writer_try_add(lua_State *L)
{
    lwriter *w = check_writer(L);
    size_t len;
    const char *data = check_payload(L, 2, &len);
    uint32_t type = opt_event_type(L, 3);
    writer_enter(w);
    rr_status st = rr_writer_add(w->w, data, len, type, NULL, 0);
    writer_leave(w);
    if (st == RR_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    push_outcome(L, st, 2);
    lua_pushboolean(L, 0);
    lua_replace(L, -3);   /* false, word */
    return 2;
}

/* The event type of batch item i: one integer for all, or a list. Allocates
 * only to raise. */
static uint32_t batch_type(lua_State *L, int types, lua_Integer i)
{
    if (lua_type(L, types) != LUA_TTABLE)
        return opt_event_type(L, types);
    lua_rawgeti(L, types, i);
    int exact = 0;
    lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &exact) : 0;
    if (!exact || v < 0 || v > (lua_Integer)UINT32_MAX) {
        int value = lua_gettop(L);
        check_int_in(L, value, 3, lua_pushfstring(L, "event type %I", i), 0, UINT32_MAX);
    }
    lua_pop(L, 1);
    return (uint32_t)v;
}

/* Check batch item i (1-based): a string that fits, with a valid type. */
static void batch_check(lua_State *L, lwriter *w, lua_Integer i)
{
    lua_rawgeti(L, 2, i);
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_argerror(L, 2, lua_pushfstring(L, "item %I is %s, not a string", i,
                                            luaL_typename(L, -1)));
    size_t len = lua_rawlen(L, -1);
    lua_pop(L, 1);
    if (len > w->slot_size)
        luaL_argerror(L, 2, lua_pushfstring(L, "item %I has %I bytes; the slot size is %I bytes",
                                            i, (lua_Integer)len, (lua_Integer)w->slot_size));
    batch_type(L, 3, i);
}

/* Describe batch item i once every item is checked. Nothing here allocates,
 * so no finalizer can run and change the list before the core copies it; the
 * strings stay anchored in the list. */
static void batch_item(lua_State *L, lua_Integer i, rr_payload *p)
{
    lua_rawgeti(L, 2, i);
    p->data = lua_tolstring(L, -1, &p->len);
    lua_pop(L, 1);
    p->event_type = batch_type(L, 3, i);
}

/* w:add_batch({ data, ... } [, event_type | { event_type, ... } [, timeout]])
 * -> count, first sequence | nil, "full"|"timeout"|"closed". All or none. */
static int writer_add_batch(lua_State *L)
{
    lwriter *w = check_writer(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    int64_t timeout = opt_timeout(L, 4);
    lua_settop(L, 4);   /* the scratch list below must not land on argument 3 */
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    if (n == 0) {
        lua_pushinteger(L, 0);
        return 1;
    }
    if ((uint64_t)n > w->max_batch)
        return luaL_argerror(L, 2, lua_pushfstring(L, "a batch holds 1 to %I events here, not %I",
                                                   (lua_Integer)w->max_batch, n));
    rr_payload on_stack[BATCH_ON_STACK];
    rr_payload *items = on_stack;
    if (n > BATCH_ON_STACK) {
        items = lua_newuserdatauv(L, (size_t)n * sizeof *items, 0);
        check_writer(L);   /* a finalizer run by the allocation may have closed it */
    }
    for (lua_Integer i = 1; i <= n; i++)
        batch_check(L, w, i);
    for (lua_Integer i = 1; i <= n; i++)
        batch_item(L, i, &items[i - 1]);
    uint64_t first;
    writer_enter(w);
    rr_status st = rr_writer_add_batch(w->w, items, (size_t)n, &first, timeout);
    writer_leave(w);
    if (st != RR_OK)
        return push_outcome(L, st, 2);
    lua_pushinteger(L, n);
    lua_pushinteger(L, (lua_Integer)first);
    return 2;
}

/* ---- readers -------------------------------------------------------------- */

/* A reader userdata, not yet open, with its event and block objects: the
 * ones every next() and next_block() hand out, made here so that reading
 * never allocates. Both start stale (generation 0 against the reader's 1).
 * Leaves the reader on top of the stack. Allocations here may run
 * finalizers; the reader is not open yet, so they cannot use it, and
 * callers look at the ring again. */
static lreader *new_reader_ud(lua_State *L)
{
    lreader *rd = lua_newuserdatauv(L, sizeof *rd, READER_UVALUES);
    memset(rd, 0, sizeof *rd);
    rd->gen = 1;
    luaL_setmetatable(L, READER_MT);
    levent *e = lua_newuserdatauv(L, sizeof *e, 1);
    e->rd = rd;
    e->gen = 0;
    luaL_setmetatable(L, EVENT_MT);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, -2, 1);                 /* the event keeps its reader alive */
    rd->event = e;
    lua_setiuservalue(L, -2, READER_UV_EVENT);   /* and the reader its event */
    lblock *b = lua_newuserdatauv(L, sizeof *b, 1);
    b->rd = rd;
    b->gen = 0;
    luaL_setmetatable(L, BLOCK_MT);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, -2, 1);                 /* the block keeps its reader alive */
    rd->blk = b;
    lua_setiuservalue(L, -2, READER_UV_BLOCK);   /* and the reader its block */
    return rd;
}

/* A reader's start: "oldest" (nil) or "latest". */
static rr_start check_start(lua_State *L, int arg)
{
    int v = RR_START_OLDEST;
    if (lua_isnoneornil(L, arg))
        return RR_START_OLDEST;
    if (lua_type(L, arg) != LUA_TSTRING)
        luaL_argerror(L, arg, lua_pushfstring(L, "start must be \"%s\" or \"%s\", got %s",
                                              start_of(0), start_of(1), luaL_typename(L, arg)));
    if (parse_start(lua_tostring(L, arg), &v) != RR_OK)
        luaL_argerror(L, arg, last_error(L));
    return (rr_start)v;
}

/* Open a reader, collecting garbage once if dropped readers fill the table.
 * The collection runs finalizers, which may release the ring: look again. */
static rr_status open_reader(lua_State *L, lring *rg, const rr_reader_options *opts,
                             rr_reader **out)
{
    rr_status st = rr_reader_open_opts(rg->ring, opts, out);
    if (st == RR_TOO_MANY_READERS) {
        lua_gc(L, LUA_GCCOLLECT);
        if (rg->released || !rg->ring)
            luaL_error(L, "attempt to use a released ring");
        st = rr_reader_open_opts(rg->ring, opts, out);
    }
    return st;
}

/* A reader name at stack index idx (a string), checked by the core: 1 ..
 * RR_NAME_MAX bytes of UTF-8 without NUL. `what` names it in errors. */
static const char *check_reader_name(lua_State *L, int idx, const char *what)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (rr_reader_name_check(s, len) != RR_OK)
        luaL_error(L, "ring:reader: %s: %s", what, last_error(L));
    return s;
}

/* Option `after` of the table at t: a list of readers and names, copied
 * into a table the call owns (left on the stack until the reader is open).
 * The copy is made before any pointer is taken: a finalizer run by a later
 * allocation (the reader's userdata, the collection of open_reader's retry)
 * may take a value out of the user's list, and a collection then free it;
 * the copy keeps every value alive. Its array part is allocated once, with
 * room for all, so filling it (rawseti) allocates nothing, and the list is
 * read raw: no metamethod runs. after_resolve reads the handles and the
 * names' bytes from the copy once nothing allocates any more. */
typedef struct after_arg {
    int               copy;                       /* the copy's stack index, 0: no list */
    const rr_reader  *readers[RR_MAX_READERS];    /* filled by after_resolve */
    const char       *names[RR_MAX_READERS];
} after_arg;

static void field_after(lua_State *L, int t, after_arg *a)
{
    lua_getfield(L, t, "after");
    if (lua_isnil(L, -1))
        return;
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L, "ring:reader: after must be a list of readers and reader names, got %s",
                   luaL_typename(L, -1));
    int list = lua_gettop(L);
    lua_Unsigned n = lua_rawlen(L, list);
    if (n > RR_MAX_READERS)
        luaL_error(L, "ring:reader: after lists %I readers; a ring has at most %d",
                   (lua_Integer)n, RR_MAX_READERS);
    lua_createtable(L, (int)n, 0);   /* may run a finalizer: the list is read after it */
    a->copy = lua_gettop(L);
    for (lua_Unsigned i = 1; i <= n; i++) {
        lua_rawgeti(L, list, (lua_Integer)i);
        char what[32];
        snprintf(what, sizeof what, "after[%d]", (int)i);
        if (lua_type(L, -1) == LUA_TSTRING)
            check_reader_name(L, -1, what);
        else if (!luaL_testudata(L, -1, READER_MT))
            luaL_error(L, "ring:reader: %s must be a reader or a string (a reader's name), got %s",
                       what, luaL_typename(L, -1));
        lua_rawseti(L, a->copy, (lua_Integer)i);   /* within the array part: no allocation */
    }
}

/* The core's handles and names of after's copy, each reader still open;
 * raises for a closed one. Called after the last allocation before each
 * open: a finalizer may have closed a reader listed (it cannot free one,
 * the copy holds it). Nothing here allocates but to raise. */
static void after_resolve(lua_State *L, after_arg *a, rr_reader_options *opts)
{
    if (!a->copy)
        return;
    size_t nr = 0, nn = 0;
    lua_Unsigned n = lua_rawlen(L, a->copy);
    for (lua_Unsigned i = 1; i <= n && i <= RR_MAX_READERS; i++) {
        lua_rawgeti(L, a->copy, (lua_Integer)i);
        lreader *fr = luaL_testudata(L, -1, READER_MT);
        if (fr) {
            if (!fr->r || fr->close_pending)
                luaL_error(L, "ring:reader: after: a reader listed is closed");
            a->readers[nr++] = fr->r;
        } else {
            a->names[nn++] = lua_tostring(L, -1);
        }
        lua_pop(L, 1);   /* the copy holds it */
    }
    opts->after = a->readers;
    opts->after_count = nr;
    opts->after_names = a->names;
    opts->after_names_count = nn;
}

/* ring:reader(["oldest" | "latest"]) or
 * ring:reader{ start = "oldest"|"latest", wait = "block"|"yield"|"spin"|"sleep",
 *              name = "journal", after = { reader_or_name, ... }, writable = false,
 *              durable = false } */
static int ring_reader(lua_State *L)
{
    static const char *const known[] = { "start", "wait", "name", "after", "writable", "durable",
                                         NULL };
    lring *rg = check_ring(L, 1);
    rr_reader_options opts = RR_READER_OPTIONS_INIT;
    after_arg after;
    after.copy = 0;
    if (lua_type(L, 2) == LUA_TTABLE) {
        check_option_keys(L, 2, "ring:reader", known);
        opts.start = (rr_start)field_name(L, 2, "ring:reader", "start", parse_start, start_of,
                                          RR_START_OLDEST);
        opts.wait = field_wait(L, 2, "ring:reader");
        lua_getfield(L, 2, "name");   /* stays on the stack, referenced while used */
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "ring:reader: name must be a string, got %s", luaL_typename(L, -1));
            opts.name = check_reader_name(L, -1, "name");
        }
        opts.writable = field_flag(L, 2, "ring:reader", "writable");
        opts.durable = field_flag(L, 2, "ring:reader", "durable");
        field_after(L, 2, &after);   /* the copy stays on the stack */
    } else {
        opts.start = check_start(L, 2);
    }
    lreader *rd = new_reader_ud(L);
    check_ring(L, 1);   /* the allocation's finalizers may have released it, */
    after_resolve(L, &after, &opts);   /* or closed a reader of `after` */
    rr_status st = rr_reader_open_opts(rg->ring, &opts, &rd->r);
    if (st == RR_TOO_MANY_READERS) {   /* as open_reader, looking at `after` again too */
        lua_gc(L, LUA_GCCOLLECT);
        check_ring(L, 1);
        after_resolve(L, &after, &opts);
        st = rr_reader_open_opts(rg->ring, &opts, &rd->r);
    }
    if (st != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    rd->writable = rr_reader_writable(rd->r);   /* a resumed durable reader's is its place's */
    rd->durable = opts.durable;
    if (opts.name)
        snprintf(rd->name, sizeof rd->name, "%s", opts.name);
    rd->wait = opts.wait;
    rd->parent = rg;
    rg->children++;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);   /* the reader keeps its ring alive */
    return 1;
}

/* Close the core reader: it stops gating writers, its ring may go. */
static void reader_close_now(lreader *rd)
{
    if (rd->r) {
        rr_reader_close(rd->r);
        rd->r = NULL;
        rd->close_pending = false;
        rd->gen++;   /* its last event is stale now */
        if (rd->parent) {
            rd->parent->children--;
            ring_free_if_unused(rd->parent);
        }
    }
}

/* The reader at index 1, open (figures may be read inside its process()). */
static lreader *check_reader(lua_State *L)
{
    lreader *rd = check_self(L, READER_MT);
    if (!rd->r || rd->close_pending)
        luaL_error(L, "attempt to use a closed reader");
    if (rd->busy)
        luaL_error(L, "reader is in use by an outer call (re-entered from a finalizer or metamethod)");
    return rd;
}

/* The reader at index 1, open and free to read: not inside its own process(). */
static lreader *check_reading(lua_State *L)
{
    lreader *rd = check_reader(L);
    if (rd->in_process)
        luaL_error(L, "reader is in use by its process() loop (a handler cannot read from "
                      "the reader that calls it)");
    return rd;
}

/* close, __gc and __close: unregister, so the reader stops gating writers.
 * Inside the reader's process() the core reader is closed when the loop
 * returns (its batch is still in use); it is closed for Lua at once. */
static int reader_close(lua_State *L)
{
    lreader *rd = luaL_checkudata(L, 1, READER_MT);
    if (rd->r && rd->in_process) {
        rd->close_pending = true;
        rd->gen++;
        return 0;
    }
    reader_close_now(rd);
    return 0;
}

static int reader_tostring(lua_State *L)
{
    lreader *rd = luaL_checkudata(L, 1, READER_MT);
    if (!rd->r || rd->close_pending)
        lua_pushliteral(L, "rusted_ring.reader (closed)");
    else
        lua_pushfstring(L, "rusted_ring.reader (cursor=%I, lag=%I) (%p)",
                        (lua_Integer)rr_reader_cursor(rd->r), (lua_Integer)rr_reader_lag(rd->r),
                        (void *)rd);
    return 1;
}

/* Read the next event for the reader at stack index 1; push it or nil, word.
 * The event pushed is the reader's own event object, refilled: nothing here
 * allocates (push_outcome's words are interned once used), so no finalizer
 * can run between the read and the return. */
static int next_event(lua_State *L, lreader *rd, int64_t timeout)
{
    /* The read section: nothing here allocates or raises. */
    rd->busy = true;
    rd->gen++;   /* whatever happens, what the event held is no longer ours */
    rr_status st = rr_reader_next(rd->r, &rd->ev, timeout);
    rd->busy = false;
    if (st != RR_OK)
        return push_outcome(L, st, 0);
    rd->event->gen = rd->gen;
    lua_getiuservalue(L, 1, READER_UV_EVENT);
    return 1;
}

/* r:next([timeout]) -> event | nil, "empty"|"timeout"|"closed". The event
 * is the reader's one event object, holding the latest event. */
static int reader_next(lua_State *L)
{
    lreader *rd = check_reading(L);
    return next_event(L, rd, opt_timeout(L, 2));
}

/* The iterator of r:events(): (reader, previous event) -> event | nil. */
static int events_step(lua_State *L)
{
    lreader *rd = check_reading(L);
    int64_t timeout = (int64_t)lua_tointeger(L, lua_upvalueindex(2));
    int n = next_event(L, rd, timeout);
    return n == 1 ? 1 : (lua_pushnil(L), 1);
}

/* The registry key of the step for events() without a timeout, made once by
 * luaopen_rusted_ring, so the most common loop allocates nothing either. */
static const char EVENTS_STEP_NOWAIT = 0;

static void push_events_step(lua_State *L, int reader_mt, int64_t timeout)
{
    lua_pushvalue(L, reader_mt);   /* upvalue 1: the reader metatable, for check_self */
    lua_pushinteger(L, (lua_Integer)timeout);
    lua_pushcclosure(L, events_step, 2);
}

/* for ev in r:events([timeout]) do ... end: what is available now (or within
 * `timeout` of each event); ends when nothing comes or the ring is closed. */
static int reader_events(lua_State *L)
{
    check_reading(L);
    int64_t timeout = opt_timeout(L, 2);
    if (timeout != 0 || lua_rawgetp(L, LUA_REGISTRYINDEX, &EVENTS_STEP_NOWAIT) != LUA_TFUNCTION)
        push_events_step(L, lua_upvalueindex(1), timeout);
    lua_pushvalue(L, 1);
    return 2;
}

/* r:next_block(max [, timeout]) -> block | nil, "empty"|"timeout"|"closed":
 * up to `max` consecutive events lying contiguously in the ring (fewer at
 * the ring's end or before an abandoned claim), read in place through the
 * block's accessors. The block is the reader's one block object, valid until
 * the reader's next call; waits as next() does (nil: 0, never waits). Like
 * next_event, nothing here allocates. */
static int reader_next_block(lua_State *L)
{
    lreader *rd = check_reading(L);
    int exact = 0;
    lua_Integer max = lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, &exact) : 0;
    if (exact && max < 1)
        return luaL_argerror(L, 2, lua_pushfstring(L, "max must be >= 1 (the most events the block "
                                                      "may hold), got %I", max));
    if (!exact)   /* raises, naming what it got */
        check_range(L, 2, "max", 1, LUA_MAXINTEGER);
    int64_t timeout = opt_timeout(L, 3);
    /* The read section: nothing here allocates or raises. */
    rd->busy = true;
    rd->gen++;   /* the event and the previous block are no longer ours */
    rr_status st = rr_reader_next_block(rd->r, (size_t)max, &rd->block, timeout);
    rd->busy = false;
    if (st != RR_OK)
        return push_outcome(L, st, 0);
    rd->blk->gen = rd->gen;
    lua_getiuservalue(L, 1, READER_UV_BLOCK);
    return 1;
}

/* ---- process(): the handler loop ------------------------------------------
 *
 * r:process(fn [, opts]) is Python's Reader.process: read a batch (waiting as
 * next() does), call fn(event, end_of_batch) for each event, read on, until
 * the ring is closed and drained. The event is the reader's one event object,
 * refilled for each event, stale once process returns. fn returning false
 * (exactly false: nil goes on) or raising stops the loop; the events fn was
 * called with are consumed, the one that stopped it included, and the rest of
 * the batch goes back to the core (rr_reader_unread): the next call hands
 * it out again. While the loop runs the reader is `in_process`: fn may read
 * its figures and close it (the core close waits for the loop's end), not
 * read from it. fn runs under lua_pcall, so an error leaves the reader
 * consistent before it propagates. */

/* Whether the value at idx can be called: a function, or a value whose
 * metatable has __call. */
static bool is_callable(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TFUNCTION)
        return true;
    bool callable = luaL_getmetafield(L, idx, "__call") != LUA_TNIL;
    if (callable)
        lua_pop(L, 1);
    return callable;
}

typedef struct process_opts {
    size_t  max_batch;
    int64_t timeout;      /* nil: wait without limit */
    int     on_timeout;   /* stack index of on_timeout, 0: none */
} process_opts;

static process_opts check_process_opts(lua_State *L, int t)
{
    static const char *const known[] = { "max_batch", "timeout", "on_timeout", NULL };
    process_opts o = { RR_MAX_CLAIM, RR_FOREVER, 0 };
    if (lua_isnoneornil(L, t))
        return o;
    luaL_checktype(L, t, LUA_TTABLE);
    check_option_keys(L, t, "r:process", known);
    lua_getfield(L, t, "max_batch");
    if (!lua_isnil(L, -1))
        o.max_batch = (size_t)check_int_in(L, lua_gettop(L), 0, "r:process: max_batch", 1,
                                           LUA_MAXINTEGER);
    lua_pop(L, 1);
    lua_getfield(L, t, "timeout");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "r:process: timeout must be a number of seconds, got %s",
                       luaL_typename(L, -1));
        if (rr_timeout_from_seconds((double)lua_tonumber(L, -1), &o.timeout) != RR_OK)
            luaL_error(L, "r:process: %s", last_error(L));
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "on_timeout");   /* left on the stack, where the loop calls it */
    if (!lua_isnil(L, -1)) {
        if (!is_callable(L, -1))
            luaL_error(L, "r:process: on_timeout must be a function, got %s",
                       luaL_typename(L, -1));
        o.on_timeout = lua_gettop(L);
    }
    return o;
}

/* The batch of process(): room for n events, kept as the reader's user value
 * (at the top of the stack on return). May allocate, and so collect. */
static rr_event *process_batch_room(lua_State *L, size_t n)
{
    if (lua_getiuservalue(L, 1, READER_UV_BATCH) == LUA_TUSERDATA &&
        lua_rawlen(L, -1) >= n * sizeof(rr_event))
        return lua_touserdata(L, -1);
    lua_pop(L, 1);
    rr_event *b = lua_newuserdatauv(L, n * sizeof(rr_event), 0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, READER_UV_BATCH);
    return b;
}

/* After the loop: the reader is the program's again, and a close asked for
 * inside it happens now. */
static void process_end(lreader *rd)
{
    rd->in_process = false;
    rd->gen++;   /* the event is no longer ours */
    if (rd->close_pending)
        reader_close_now(rd);
}

/* Call the function below the nargs arguments on top: 1 when it says go on,
 * 0 when it returned false, -1 when it raised (the error object on top). */
static int process_call(lua_State *L, int nargs)
{
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK)
        return -1;
    int go = !(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1));
    lua_pop(L, 1);
    return go;
}

/* r:process(fn [, { max_batch = 4096, timeout = nil, on_timeout = nil }])
 *   -> the number of events fn was called with */
static int reader_process(lua_State *L)
{
    lreader *rd = check_reading(L);
    if (!is_callable(L, 2))
        luaL_typeerror(L, 2, "function");
    process_opts o = check_process_opts(L, 3);
    size_t limit = rr_reader_batch_limit(rd->r);
    size_t max = o.max_batch < limit ? o.max_batch : limit;
    rr_event *batch = process_batch_room(L, max);
    rd = check_reading(L);   /* the allocation's finalizers may have closed it */
    luaL_checkstack(L, 4, "r:process");
    int event = lua_gettop(L) + 1;
    lua_getiuservalue(L, 1, READER_UV_EVENT);
    lua_Integer handled = 0;
    rd->in_process = true;
    bool go = true;
    while (go && rd->r && !rd->close_pending) {
        size_t n = 0;
        /* The read section: nothing here allocates or raises. */
        rd->busy = true;
        rd->gen++;   /* the last batch's event is stale */
        rr_status st = rr_reader_next_batch(rd->r, batch, max, &n, o.timeout);
        rd->busy = false;
        if (st == RR_CLOSED)
            break;
        if (st == RR_EMPTY || st == RR_TIMEOUT) {   /* nothing came within the timeout */
            if (!o.on_timeout)
                break;
            lua_pushvalue(L, o.on_timeout);
            int rc = process_call(L, 0);
            if (rc < 0) {
                process_end(rd);
                return lua_error(L);
            }
            go = rc == 1;
            continue;
        }
        if (st != RR_OK) {
            process_end(rd);
            return push_outcome(L, st, 0);   /* raises */
        }
        for (size_t i = 0; i < n && go; i++) {
            rd->ev = batch[i];
            rd->event->gen = rd->gen;
            lua_pushvalue(L, 2);
            lua_pushvalue(L, event);
            lua_pushboolean(L, i + 1 == n);
            handled++;
            int rc = process_call(L, 2);
            if (rc == 1 && !rd->close_pending)
                continue;
            /* stopped: the rest of the batch is handed out again by the next call
             * (cannot fail: the last call's own events, none held) */
            if (i + 1 < n)
                rr_reader_unread(rd->r, batch[i + 1].sequence, n - i - 1);
            if (rc < 0) {
                process_end(rd);
                return lua_error(L);
            }
            go = false;
        }
    }
    process_end(rd);
    lua_pushinteger(L, handled);
    return 1;
}

#define READER_GETTER(name, push, expr)                 \
    static int reader_##name(lua_State *L)              \
    {                                                   \
        lreader *rd = check_reader(L);                  \
        push(L, expr(rd->r));                           \
        return 1;                                       \
    }
READER_GETTER(lag, lua_pushinteger, (lua_Integer)rr_reader_lag)
READER_GETTER(pinned, lua_pushinteger, (lua_Integer)rr_reader_pinned)
READER_GETTER(lost, lua_pushinteger, (lua_Integer)rr_reader_lost)
READER_GETTER(cursor, lua_pushinteger, (lua_Integer)rr_reader_cursor)
READER_GETTER(delivered, lua_pushinteger, (lua_Integer)rr_reader_delivered)
READER_GETTER(skipped, lua_pushinteger, (lua_Integer)rr_reader_skipped)
READER_GETTER(backpressure_ratio, lua_pushnumber, rr_reader_backpressure_ratio)
READER_GETTER(is_under_pressure, lua_pushboolean, rr_reader_is_under_pressure)
READER_GETTER(should_throttle, lua_pushboolean, rr_reader_should_throttle)

/* r:pollfd() -> fd, interval: an integer file descriptor that polls readable
 * while the reader has events or the ring is closed (rusted_ring.h,
 * rr_reader_pollfd), for an event loop: luv's uv.new_poll(fd), cqueues,
 * lua-posix's poll. Once a read finds nothing ("empty") it stops polling
 * readable until an event comes, so on readable read until next() says
 * "empty"; it may wake with nothing to read, never stay quiet while events
 * wait. `interval`: seconds between reads a loop should make even while the
 * fd stays quiet (0: never; see rr_reader_poll_interval). The same fd on
 * every call; the reader owns it (close closes it): never close it. */
static int reader_pollfd(lua_State *L)
{
    lreader *rd = check_reader(L);
    int fd = -1;
    rr_status st = rr_reader_pollfd(rd->r, &fd);
    return push_pollfd(L, st, fd, rr_reader_poll_interval(rd->r));
}

/* r:name() -> its name in the ring's reader table, nil when unnamed (also once closed) */
static int reader_name(lua_State *L)
{
    lreader *rd = luaL_checkudata(L, 1, READER_MT);
    if (rd->name[0])
        lua_pushstring(L, rd->name);
    else
        lua_pushnil(L);
    return 1;
}

/* r:writable() -> whether it may write into its events (ev:write, b:write) */
static int reader_writable(lua_State *L)
{
    lua_pushboolean(L, ((lreader *)luaL_checkudata(L, 1, READER_MT))->writable);
    return 1;
}

/* r:durable() -> whether it was opened durable (ring:reader{durable = true}) */
static int reader_durable(lua_State *L)
{
    lua_pushboolean(L, ((lreader *)luaL_checkudata(L, 1, READER_MT))->durable);
    return 1;
}

/* ring:drop_reader(name): remove the parked durable reader `name` (the
 * core's rr_ring_reader_drop); an error with the core's message otherwise. */
static int ring_drop_reader(lua_State *L)
{
    lring *rg = check_ring(L, 1);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    if (rr_reader_name_check(name, len) != RR_OK)
        return luaL_error(L, "ring:drop_reader: name: %s", last_error(L));
    if (rr_ring_reader_drop(rg->ring, name) != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    return 0;
}

/* r:after() -> the readers it follows now, a list of names (entry indexes,
 * 0-based as stats() gives them, for unnamed ones) in entry order; {} once
 * closed. It changes when one of them closes or its process dies. The
 * list is read after the allocations: a finalizer they run may close the
 * reader or one it follows. */
static int reader_after(lua_State *L)
{
    lreader *rd = luaL_checkudata(L, 1, READER_MT);
    lua_newtable(L);
    if (!rd->r || rd->close_pending || !rd->parent || !rr_reader_after(rd->r))
        return 1;   /* (a default pool's reader follows nobody: pools overwrite) */
    rr_ring_stats *s = lua_newuserdatauv(L, sizeof *s, 0);   /* too big for the C stack */
    uint64_t mask = rd->r && !rd->close_pending ? rr_reader_after(rd->r) : 0;
    if (!mask)
        return lua_pop(L, 1), 1;
    if (rr_ring_stats_get(rd->parent->ring, s) != RR_OK)
        s->reader_count = 0;
    lua_Integer k = 0;
    for (uint32_t i = 0; i < RR_MAX_READERS; i++) {
        if (!(mask & ((uint64_t)1 << i)))
            continue;
        const char *name = "";
        for (uint32_t e = 0; e < s->reader_count && e < RR_MAX_READERS; e++)
            if (s->readers[e].index == i)
                name = s->readers[e].name;
        if (name[0])
            lua_pushstring(L, name);
        else
            lua_pushinteger(L, (lua_Integer)i);
        lua_rawseti(L, -3, ++k);
    }
    lua_pop(L, 1);
    return 1;
}

/* r:wait() -> "block" | "yield" | "spin" | "sleep": how it waits (also once closed) */
static int reader_wait(lua_State *L)
{
    lreader *rd = luaL_checkudata(L, 1, READER_MT);
    lua_pushstring(L, rr_wait_strategy_name(rd->wait));
    return 1;
}

/* ---- events --------------------------------------------------------------- */

static const char STALE_EVENT[] =
    "stale event: its reader has moved on (the event object belongs to the reader and holds "
    "the latest event; after a next() that returned nil, a next_block() or close it holds none)";

/* The event at index 1, which must still be its reader's current one. */
static const rr_event *check_event(lua_State *L)
{
    levent *e = check_self(L, EVENT_MT);
    if (e->gen != e->rd->gen)
        luaL_error(L, "%s", STALE_EVENT);
    return &e->rd->ev;
}

static int event_data(lua_State *L)
{
    const rr_event *ev = check_event(L);
    lua_pushlstring(L, ev->len ? ev->data : "", ev->len);
    return 1;
}

static int event_len(lua_State *L)
{
    lua_pushinteger(L, check_event(L)->len);
    return 1;
}

static int event_type(lua_State *L)
{
    lua_pushinteger(L, check_event(L)->event_type);
    return 1;
}

static int event_sequence(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_event(L)->sequence);
    return 1;
}

/* string.sub's start index: negative from the end, clamped to 1. */
static size_t start_index(lua_Integer i, size_t len)
{
    if (i > 0)
        return (size_t)i;
    if (i == 0 || (lua_Unsigned)-(i + 1) >= len)
        return 1;
    return len + (size_t)i + 1;
}

/* string.sub's end index: negative from the end, clamped to len (0: none). */
static size_t end_index(lua_Integer j, size_t len)
{
    if (j > (lua_Integer)len)
        return len;
    if (j >= 0)
        return (size_t)j;
    if ((lua_Unsigned)-(j + 1) >= len)
        return 0;
    return len + (size_t)j + 1;
}

/* string.sub(payload, i, j) with i, j at arguments i_arg, i_arg + 1,
 * copying only the slice. Shared by ev:sub and b:sub. */
static int push_sub(lua_State *L, const rr_event *ev, int i_arg)
{
    size_t i = start_index(luaL_checkinteger(L, i_arg), ev->len);
    size_t j = end_index(luaL_optinteger(L, i_arg + 1, -1), ev->len);
    if (i > j)
        lua_pushliteral(L, "");
    else
        lua_pushlstring(L, (const char *)ev->data + i - 1, j - i + 1);
    return 1;
}

/* ev:sub(i [, j]) as string.sub(ev:data(), i, j). */
static int event_sub(lua_State *L)
{
    return push_sub(L, check_event(L), 2);
}

/* string.byte(payload, i, j) with i, j at arguments i_arg, i_arg + 1.
 * Shared by ev:byte and b:byte. */
static int push_bytes(lua_State *L, const rr_event *ev, int i_arg)
{
    lua_Integer first = luaL_optinteger(L, i_arg, 1);
    size_t i = start_index(first, ev->len);
    size_t j = end_index(luaL_optinteger(L, i_arg + 1, first), ev->len);   /* j defaults to i */
    if (i > j)
        return 0;
    if (j - i >= (size_t)INT32_MAX)
        return luaL_error(L, "string slice too long");
    int n = (int)(j - i) + 1;
    luaL_checkstack(L, n, "string slice too long");
    const unsigned char *p = ev->data;
    for (int k = 0; k < n; k++)
        lua_pushinteger(L, p[i - 1 + (size_t)k]);
    return n;
}

/* ev:byte([i [, j]]) as string.byte(ev:data(), i, j). */
static int event_byte(lua_State *L)
{
    return push_bytes(L, check_event(L), 2);
}

/* ev:unpack(fmt [, pos]) as string.unpack(fmt, ev:data(), pos). */
/* Pushing a string may run a collection step, and a finalizer may move the
 * reader on or close it: rr_unpack asks again before each item whether the
 * reader is still at the generation the call started at. Comparing with the
 * event's own generation would not do: a finalizer's next() refills this
 * very event object and brings it up to date with the reader. */
typedef struct read_guard {
    const lreader *rd;
    uint64_t       gen;   /* the reader's generation when the call began */
} read_guard;

static int still_current(void *p)
{
    const read_guard *g = p;
    return g->rd->gen == g->gen;
}

static int event_unpack(lua_State *L)
{
    const rr_event *ev = check_event(L);
    const levent *e = lua_touserdata(L, 1);
    read_guard g = { e->rd, e->gen };
    return rr_unpack(L, ev->data, ev->len, 2, 3, "event", still_current, &g);
}

/* Write the string at argument pos_arg + 1 into event `ev` of reader rd at
 * the 1-based byte position at argument pos_arg (negative: from the end, as
 * string positions), for method `fname`: the event's own bytes in the ring,
 * which the readers that follow rd see once rd has moved past it. Returns
 * the position after the bytes written. Only within the payload: an event's
 * length never changes. The caller checked that its event (or block) was
 * current, at the reader's generation `gen`; converting the arguments may
 * allocate (luaL_checklstring makes a string of a number), and a finalizer
 * run there may move the reader on or close it, refilling or emptying `ev`:
 * so the generation is looked at again after the last conversion, and
 * `stale` raised if it moved, before anything is written. */
static int write_into(lua_State *L, lreader *rd, uint64_t gen, const rr_event *ev, int pos_arg,
                      const char *fname, const char *stale)
{
    if (!rd->writable)
        return luaL_error(L, "%s: the reader is not writable (open it with "
                             "ring:reader{ writable = true })", fname);
    lua_Integer pos = luaL_checkinteger(L, pos_arg);
    size_t n;
    const char *s = luaL_checklstring(L, pos_arg + 1, &n);   /* may run a finalizer */
    if (rd->gen != gen)
        return luaL_error(L, "%s", stale);
    lua_Integer len = (lua_Integer)ev->len;
    if (pos < 0)
        pos = len + pos + 1;
    if (pos < 1 || pos > len + 1 || (lua_Unsigned)n > (lua_Unsigned)(len - pos + 1))
        return luaL_error(L, "%s: %I bytes at position %I do not fit in the event's %I bytes "
                             "(writing never changes an event's length)", fname,
                          (lua_Integer)n, luaL_checkinteger(L, pos_arg), len);
    void *data = NULL;
    if (rr_reader_writable_data(rd->r, ev->sequence, &data) != RR_OK)
        return luaL_error(L, "%s: %s", fname, last_error(L));
    memcpy((unsigned char *)data + pos - 1, s, n);
    lua_pushinteger(L, pos + (lua_Integer)n);
    return 1;
}

/* ev:write(pos, s) -> pos + #s: a writable reader's event, s written at pos. */
static int event_write(lua_State *L)
{
    const rr_event *ev = check_event(L);
    const levent *e = lua_touserdata(L, 1);
    return write_into(L, e->rd, e->gen, ev, 2, "write", STALE_EVENT);
}

static int event_tostring(lua_State *L)
{
    levent *e = luaL_checkudata(L, 1, EVENT_MT);
    if (e->gen != e->rd->gen)
        lua_pushliteral(L, "rusted_ring.event (stale)");
    else
        lua_pushfstring(L, "rusted_ring.event (sequence=%I, len=%I, type=%I)",
                        (lua_Integer)e->rd->ev.sequence, (lua_Integer)e->rd->ev.len,
                        (lua_Integer)e->rd->ev.event_type);
    return 1;
}

/* ---- blocks --------------------------------------------------------------- */

static const char STALE_BLOCK[] =
    "stale block: its reader has moved on (the block object belongs to the reader and holds "
    "its latest block; after a next(), a next_block() that returned nil, or close it holds none)";

/* The block at index 1, which must still be its reader's current one. */
static const rr_block *check_block(lua_State *L)
{
    lblock *b = check_self(L, BLOCK_MT);
    if (b->gen != b->rd->gen)
        luaL_error(L, "%s", STALE_BLOCK);
    return &b->rd->block;
}

/* luaL_argerror naming the method `fname` where Lua cannot name it: a
 * method called through pcall(b.data, b, i) has no name in its caller. */
static int method_argerror(lua_State *L, int arg, const char *fname, const char *msg)
{
    lua_Debug ar;
    if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "n", &ar) || ar.name)
        return luaL_argerror(L, arg, msg);
    return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, fname, msg);
}

/* Event i of the block (the 1-based index at argument `arg`) for method
 * `fname`, as an rr_event. */
static rr_event block_event(lua_State *L, const rr_block *b, int arg, const char *fname)
{
    int exact = 0;
    lua_Integer i = lua_type(L, arg) == LUA_TNUMBER ? lua_tointegerx(L, arg, &exact) : 0;
    if (!exact) {
        if (lua_type(L, arg) == LUA_TNUMBER)
            method_argerror(L, arg, fname,
                            lua_pushfstring(L, "event index must be an integer, got %s",
                                            luaL_tolstring(L, arg, NULL)));
        method_argerror(L, arg, fname, lua_pushfstring(L, "event index must be an integer, got %s",
                                                       luaL_typename(L, arg)));
    }
    if (i < 1 || i > (lua_Integer)b->count)
        method_argerror(L, arg, fname,
                        lua_pushfstring(L, "event index %I is out of range: the block holds %I "
                                           "events (1..%I)",
                                        i, (lua_Integer)b->count, (lua_Integer)b->count));
    size_t k = (size_t)i - 1;
    const unsigned char *meta_len = (const unsigned char *)b->lengths + k * b->meta_stride;
    const unsigned char *meta_type = (const unsigned char *)b->types + k * b->meta_stride;
    rr_event ev;
    ev.sequence = b->first_sequence + k;
    ev.len = *(const uint32_t *)(const void *)meta_len;
    ev.event_type = *(const uint32_t *)(const void *)meta_type;
    ev.data = b->data + k * b->stride;
    return ev;
}

/* #b: the events in the block. */
static int block_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_block(L)->count);
    return 1;
}

/* b:data(i): event i's payload as a string (a copy). */
static int block_data(lua_State *L)
{
    rr_event ev = block_event(L, check_block(L), 2, "data");
    lua_pushlstring(L, ev.len ? ev.data : "", ev.len);
    return 1;
}

static int block_event_len(lua_State *L)
{
    lua_pushinteger(L, block_event(L, check_block(L), 2, "len").len);
    return 1;
}

static int block_type(lua_State *L)
{
    lua_pushinteger(L, block_event(L, check_block(L), 2, "type").event_type);
    return 1;
}

static int block_sequence(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)block_event(L, check_block(L), 2, "sequence").sequence);
    return 1;
}

/* b:sub(i, j [, k]) as string.sub(b:data(i), j, k), copying only the slice. */
static int block_sub(lua_State *L)
{
    rr_event ev = block_event(L, check_block(L), 2, "sub");
    return push_sub(L, &ev, 3);
}

/* b:byte(i [, j [, k]]) as string.byte(b:data(i), j, k). */
static int block_byte(lua_State *L)
{
    rr_event ev = block_event(L, check_block(L), 2, "byte");
    return push_bytes(L, &ev, 3);
}

/* b:unpack(i, fmt [, pos]) as string.unpack(fmt, b:data(i), pos), in place. */
static int block_unpack(lua_State *L)
{
    rr_event ev = block_event(L, check_block(L), 2, "unpack");
    const lblock *b = lua_touserdata(L, 1);
    read_guard g = { b->rd, b->gen };
    return rr_unpack(L, ev.data, ev.len, 3, 4, "block", still_current, &g);
}

/* b:write(i, pos, s) -> pos + #s: event i of a writable reader's block, as ev:write. */
static int block_write(lua_State *L)
{
    rr_event ev = block_event(L, check_block(L), 2, "write");
    const lblock *b = lua_touserdata(L, 1);
    return write_into(L, b->rd, b->gen, &ev, 3, "write", STALE_BLOCK);
}

static int block_tostring(lua_State *L)
{
    lblock *b = luaL_checkudata(L, 1, BLOCK_MT);
    if (b->gen != b->rd->gen)
        lua_pushliteral(L, "rusted_ring.block (stale)");
    else
        lua_pushfstring(L, "rusted_ring.block (first_sequence=%I, count=%I)",
                        (lua_Integer)b->rd->block.first_sequence,
                        (lua_Integer)b->rd->block.count);
    return 1;
}

/* `local b <close> = r:next_block(n)` works; a block owns nothing. */
static int block_close(lua_State *L)
{
    luaL_checkudata(L, 1, BLOCK_MT);
    return 0;
}

/* ---- pools ------------------------------------------------------------------ */

/* The pool named by the key at idx ("XS" .. "XL"). */
static int pool_index(lua_State *L, int idx)
{
    rr_pool_id id;
    if (lua_type(L, idx) == LUA_TSTRING && rr_pool_id_from_name(lua_tostring(L, idx), &id) == RR_OK)
        return (int)id;
    return luaL_argerror(L, 1, lua_pushfstring(L, "unknown pool %s (expected XS, S, M, L or XL)",
                                               luaL_tolstring(L, idx, NULL)));
}

/* rr.configure_pools("production" | "mobile" | "high_throughput" | { XS = n, ... }) */
static int rr_lua_configure_pools(lua_State *L)
{
    rr_pool_config cfg;
    if (lua_type(L, 1) == LUA_TSTRING) {
        rr_preset preset;
        if (rr_preset_from_name(lua_tostring(L, 1), &preset) != RR_OK)
            return luaL_argerror(L, 1, last_error(L));
        rr_preset_config(preset, &cfg);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        rr_pools_config(&cfg);   /* sizes not named keep their configured capacity */
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            int id = pool_index(L, -2), value = lua_gettop(L);
            const char *what = lua_pushfstring(L, "pool %s capacity", rr_pool_name((rr_pool_id)id));
            cfg.capacity[id] = (uint64_t)check_int_in(L, value, 1, what, 1, LUA_MAXINTEGER);
            lua_pop(L, 2);
        }
    }
    rr_status st = rr_pools_configure(&cfg);
    if (st == RR_IN_USE)
        return luaL_error(L, "the default pools are already in use; configure them before "
                             "their first use");
    if (st != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    lua_pushboolean(L, 1);
    return 1;
}

/* rr.pool_config() -> { XS = n, S = n, ... }: the capacities in force. */
static int rr_lua_pool_config(lua_State *L)
{
    rr_pool_config cfg;
    rr_pools_config(&cfg);
    lua_createtable(L, 0, RR_POOL_COUNT);
    for (int i = 0; i < RR_POOL_COUNT; i++)
        set_int(L, rr_pool_name((rr_pool_id)i), cfg.capacity[i]);
    return 1;
}

/* EventPoolFactory.get_<size>_writer(): a writer on a default pool (upvalue: id). */
static int pool_writer(lua_State *L)
{
    rr_pool_id id = (rr_pool_id)lua_tointeger(L, lua_upvalueindex(1));
    lwriter *w = new_writer_ud(L);
    rr_ring *ring;
    if (rr_pool_ring(id, &ring) != RR_OK || rr_pool_writer(id, &w->w) != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    writer_sizes(w, ring);
    return 1;
}

/* EventPoolFactory.get_<size>_reader(["oldest" | "latest"]) */
static int pool_reader(lua_State *L)
{
    rr_pool_id id = (rr_pool_id)lua_tointeger(L, lua_upvalueindex(1));
    rr_reader_options opts = RR_READER_OPTIONS_INIT;   /* the pools' readers block */
    opts.start = check_start(L, 1);
    lreader *rd = new_reader_ud(L);
    lring pool = { 0 };   /* the default pools live as long as the process */
    if (rr_pool_ring(id, &pool.ring) != RR_OK || open_reader(L, &pool, &opts, &rd->r) != RR_OK)
        return luaL_error(L, "%s", last_error(L));
    return 1;
}

static size_t check_size_arg(lua_State *L, int arg)
{
    return (size_t)check_range(L, arg, "size", 0, LUA_MAXINTEGER);
}

/* rr.estimate_size(n) -> "XS" .. "XL", or "XXL" when no pool fits */
static int rr_lua_estimate_size(lua_State *L)
{
    rr_event_size s = rr_estimate_size(check_size_arg(L, 1));
    lua_pushstring(L, rr_event_size_name(s));
    return 1;
}

/* rr.estimate_pool_id(n) -> PoolId (0 .. 4) | nil when no pool fits */
static int rr_lua_estimate_pool_id(lua_State *L)
{
    rr_pool_id id;
    if (rr_estimate_pool_id(check_size_arg(L, 1), &id) != RR_OK)
        lua_pushnil(L);
    else
        lua_pushinteger(L, id);
    return 1;
}

/* rr.emit(data [, event_type [, timeout]]) -> pool id | nil, "full"|"timeout" */
static int rr_lua_emit(lua_State *L)
{
    size_t len;
    const char *data = check_payload(L, 1, &len);
    uint32_t type = opt_event_type(L, 2);
    int64_t timeout = opt_timeout(L, 3);
    rr_pool_id id;
    rr_status st = rr_emit(data, len, type, timeout, &id);
    if (st != RR_OK)
        return push_outcome(L, st, 1);
    lua_pushinteger(L, id);
    return 1;
}

static int pool_stats_tostring(lua_State *L)
{
    rr_pool_stats s;
    char line[128];
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "pool_id");
    lua_getfield(L, 1, "capacity");
    lua_getfield(L, 1, "current_backpressure");
    s.id = (rr_pool_id)lua_tointeger(L, -3);
    s.capacity = (uint64_t)lua_tointeger(L, -2);
    s.current_backpressure = lua_tonumber(L, -1);
    rr_pool_stats_format(&s, line, sizeof line);
    lua_pushstring(L, line);
    return 1;
}

/* rr.pool_stats() -> list of { pool_id, name, capacity, ... } that print as
 * "Pool XS: capacity=2000, backpressure=15.3%". Creates no pool. */
static int rr_lua_pool_stats(lua_State *L)
{
    rr_pool_stats all[RR_POOL_COUNT];
    rr_pool_stats_collect(all);
    lua_createtable(L, RR_POOL_COUNT, 0);
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        lua_createtable(L, 0, 8);
        set_int(L, "pool_id", all[i].id);
        lua_pushstring(L, rr_pool_name(all[i].id)), lua_setfield(L, -2, "name");
        set_int(L, "capacity", all[i].capacity);
        set_int(L, "slot_size", all[i].slot_size);
        set_int(L, "memory_bytes", all[i].memory_bytes);
        set_int(L, "published", all[i].published);
        set_int(L, "reader_count", all[i].reader_count);
        set_num(L, "current_backpressure", all[i].current_backpressure);
        luaL_setmetatable(L, POOLSTAT_MT);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* ---- pressure and health ------------------------------------------------------ */

static double check_ratio(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TNUMBER)
        luaL_typeerror(L, 1, "number");
    return (double)lua_tonumber(L, 1);
}

/* rr.health_of(ratio) -> "EXCELLENT" | "GOOD" | "WARNING" | "CRITICAL" (the
 * core's bands: < 0.5, <= 0.8, < 0.9, else) */
static int rr_lua_health_of(lua_State *L)
{
    lua_pushstring(L, rr_health_name(rr_health_of(check_ratio(L))));
    return 1;
}

/* rr.is_under_pressure(ratio) -> ratio > rr.PRESSURE_THRESHOLD, or NaN */
static int rr_lua_is_under_pressure(lua_State *L)
{
    lua_pushboolean(L, rr_ratio_is_under_pressure(check_ratio(L)));
    return 1;
}

/* rr.should_throttle(ratio) -> ratio >= rr.THROTTLE_THRESHOLD, or NaN */
static int rr_lua_should_throttle(lua_State *L)
{
    lua_pushboolean(L, rr_ratio_should_throttle(check_ratio(L)));
    return 1;
}

/* rr.health_check() -> the health of the worst default pool (the
 * rusted-ring crate's health_check); creates no pool. */
static int rr_lua_health_check(lua_State *L)
{
    rr_pool_stats all[RR_POOL_COUNT];
    rr_pool_stats_collect(all);
    double worst = 0.0;
    for (int i = 0; i < RR_POOL_COUNT; i++)
        if (all[i].current_backpressure > worst)
            worst = all[i].current_backpressure;
    lua_pushstring(L, rr_health_name(rr_health_of(worst)));
    return 1;
}

/* ---- registration ----------------------------------------------------------- */

static const luaL_Reg ring_methods[] = {
    { "slot_size", ring_slot_size }, { "capacity", ring_capacity }, { "mode", ring_mode },
    { "producers", ring_producers }, { "published", ring_published },
    { "memory_bytes", ring_memory_bytes }, { "closed", ring_closed }, { "close", ring_close },
    { "stats", ring_stats }, { "writer", ring_writer }, { "reader", ring_reader },
    { "name", ring_name }, { "shared", ring_shared }, { "handle", ring_handle },
    { "instance", ring_instance }, { "drop_reader", ring_drop_reader },
    { NULL, NULL }
};
static const luaL_Reg ring_meta[] = {
    { "__gc", ring_release }, { "__close", ring_release }, { "__tostring", ring_tostring },
    { NULL, NULL }
};

static const luaL_Reg writer_methods[] = {
    { "add", writer_add }, { "try_add", writer_try_add }, { "add_batch", writer_add_batch },
    { "wait", writer_wait }, { "pollfd", writer_pollfd }, { "close", writer_close },
    { "note_lost", writer_note_lost }, { NULL, NULL }
};
static const luaL_Reg writer_meta[] = {
    { "__gc", writer_close }, { "__close", writer_close }, { "__tostring", writer_tostring },
    { NULL, NULL }
};

static const luaL_Reg reader_methods[] = {
    { "next", reader_next }, { "events", reader_events }, { "next_block", reader_next_block },
    { "process", reader_process },
    { "backpressure_ratio", reader_backpressure_ratio },
    { "is_under_pressure", reader_is_under_pressure },
    { "should_throttle", reader_should_throttle }, { "lag", reader_lag },
    { "pinned", reader_pinned },
    { "lost", reader_lost }, { "cursor", reader_cursor }, { "delivered", reader_delivered },
    { "skipped", reader_skipped }, { "wait", reader_wait }, { "close", reader_close },
    { "name", reader_name }, { "after", reader_after }, { "writable", reader_writable },
    { "durable", reader_durable }, { "pollfd", reader_pollfd }, { NULL, NULL }
};
static const luaL_Reg reader_meta[] = {
    { "__gc", reader_close }, { "__close", reader_close }, { "__tostring", reader_tostring },
    { NULL, NULL }
};

/* Events own nothing, so they have no __gc (a finalizer would slow every next). */
static const luaL_Reg event_methods[] = {
    { "data", event_data }, { "len", event_len }, { "type", event_type },
    { "sequence", event_sequence }, { "byte", event_byte }, { "sub", event_sub },
    { "unpack", event_unpack }, { "write", event_write }, { NULL, NULL }
};
/* `local ev <close> = r:next()` works as for every handle; an event owns
 * nothing, so closing one releases nothing. */
static int event_close(lua_State *L)
{
    luaL_checkudata(L, 1, EVENT_MT);
    return 0;
}

static const luaL_Reg event_meta[] = {
    { "__len", event_len }, { "__tostring", event_tostring }, { "__close", event_close },
    { NULL, NULL }
};

/* Blocks own nothing either: no __gc. */
static const luaL_Reg block_methods[] = {
    { "data", block_data }, { "len", block_event_len }, { "type", block_type },
    { "sequence", block_sequence }, { "byte", block_byte }, { "sub", block_sub },
    { "unpack", block_unpack }, { "write", block_write }, { NULL, NULL }
};
static const luaL_Reg block_meta[] = {
    { "__len", block_len }, { "__tostring", block_tostring }, { "__close", block_close },
    { NULL, NULL }
};

static const luaL_Reg module_funcs[] = {
    { "ring", rr_lua_ring }, { "configure_pools", rr_lua_configure_pools },
    { "pool_config", rr_lua_pool_config }, { "estimate_size", rr_lua_estimate_size },
    { "estimate_pool_id", rr_lua_estimate_pool_id }, { "emit", rr_lua_emit },
    { "pool_stats", rr_lua_pool_stats }, { "create_shared", rr_lua_create_shared },
    { "open_shared", rr_lua_open_shared }, { "unlink_shared", rr_lua_unlink_shared },
    { "health_of", rr_lua_health_of }, { "health_check", rr_lua_health_check },
    { "is_under_pressure", rr_lua_is_under_pressure },
    { "should_throttle", rr_lua_should_throttle },
    { NULL, NULL }
};

/* Create or refresh a type's metatable; refreshing keeps a second
 * luaopen_rusted_ring in the same state harmless. */
static void define_type(lua_State *L, const char *name, const luaL_Reg *methods,
                        const luaL_Reg *meta)
{
    luaL_newmetatable(L, name);   /* sets __name when it creates the table */
    luaL_setfuncs(L, meta, 0);    /* light functions: __gc and __close are one value */
    if (methods) {
        lua_newtable(L);
        for (const luaL_Reg *m = methods; m->name; m++) {
            /* A method that is also a metamethod (close, __gc) stays that
             * same function value; the others carry the metatable as upvalue
             * 1 for check_self. */
            bool is_meta = false;
            for (const luaL_Reg *mm = meta; mm->name && !is_meta; mm++)
                is_meta = mm->func == m->func;
            if (is_meta) {
                lua_pushcfunction(L, m->func);
            } else {
                lua_pushvalue(L, -2);
                lua_pushcclosure(L, m->func, 1);
            }
            lua_setfield(L, -2, m->name);
        }
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

/* rr.EventPoolFactory: get_xs_writer ... get_xl_reader, estimate_size, estimate_pool_id */
static void push_pool_factory(lua_State *L)
{
    static const char *const lower[] = { "xs", "s", "m", "l", "xl" };
    lua_createtable(L, 0, 2 * RR_POOL_COUNT + 2);
    char name[32];
    for (int i = 0; i < RR_POOL_COUNT; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, pool_writer, 1);
        snprintf(name, sizeof name, "get_%s_writer", lower[i]);
        lua_setfield(L, -2, name);
        lua_pushinteger(L, i);
        lua_pushcclosure(L, pool_reader, 1);
        snprintf(name, sizeof name, "get_%s_reader", lower[i]);
        lua_setfield(L, -2, name);
    }
    lua_pushcfunction(L, rr_lua_estimate_size), lua_setfield(L, -2, "estimate_size");
    lua_pushcfunction(L, rr_lua_estimate_pool_id), lua_setfield(L, -2, "estimate_pool_id");
}

static void push_pool_ids(lua_State *L)
{
    lua_createtable(L, 0, RR_POOL_COUNT);
    for (int i = 0; i < RR_POOL_COUNT; i++)
        set_int(L, rr_pool_name((rr_pool_id)i), (uint64_t)i);
}

int luaopen_rusted_ring(lua_State *L)
{
    luaL_checkversion(L);
    define_type(L, RING_MT, ring_methods, ring_meta);
    define_type(L, WRITER_MT, writer_methods, writer_meta);
    define_type(L, READER_MT, reader_methods, reader_meta);
    define_type(L, EVENT_MT, event_methods, event_meta);
    define_type(L, BLOCK_MT, block_methods, block_meta);
    luaL_getmetatable(L, READER_MT);
    push_events_step(L, lua_gettop(L), 0);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &EVENTS_STEP_NOWAIT);
    lua_pop(L, 1);
    static const luaL_Reg stats_meta[] = { { "__tostring", pool_stats_tostring }, { NULL, NULL } };
    define_type(L, POOLSTAT_MT, NULL, stats_meta);
    luaL_newlib(L, module_funcs);
    push_pool_factory(L), lua_setfield(L, -2, "EventPoolFactory");
    push_pool_ids(L), lua_setfield(L, -2, "PoolId");
    lua_pushinteger(L, RR_MAX_READERS), lua_setfield(L, -2, "MAX_READERS");
    lua_pushinteger(L, RR_MAX_SLOT_SIZE), lua_setfield(L, -2, "MAX_SLOT_SIZE");
    lua_pushinteger(L, RR_SHM_NAME_MAX), lua_setfield(L, -2, "SHM_NAME_MAX");
    lua_pushinteger(L, RR_MAX_CLAIM), lua_setfield(L, -2, "MAX_CLAIM");
    lua_createtable(L, RR_WAIT_STRATEGY_COUNT, 0);   /* the core's names, "block" first */
    for (int i = 0; i < RR_WAIT_STRATEGY_COUNT; i++) {
        lua_pushstring(L, rr_wait_strategy_name((rr_wait_strategy)i));
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "WAIT_STRATEGIES");
    lua_pushnumber(L, RR_PRESSURE_THRESHOLD), lua_setfield(L, -2, "PRESSURE_THRESHOLD");
    lua_pushnumber(L, RR_THROTTLE_THRESHOLD), lua_setfield(L, -2, "THROTTLE_THRESHOLD");
    lua_pushfstring(L, "%d.%d.%d", RR_VERSION_MAJOR, RR_VERSION_MINOR, RR_VERSION_PATCH);
    lua_setfield(L, -2, "version");
    return 1;
}
