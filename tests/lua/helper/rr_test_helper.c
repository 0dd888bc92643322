/*
 * rr_test_helper.c — a test-only Lua module (built into build/lua/ by
 * `make test-lua`) that acts on a ring from another OS thread, so the busted
 * suite can prove that a Lua call blocked in the core is woken by a writer,
 * a reader or a close on another thread.
 *
 *   local job = helper.start(ring, action, opts)   -- opens its handle now
 *   job:arm()            -- the Lua side, just before its blocking call
 *   job:join()           -- status word, time of the action (helper.now() clock)
 *   helper.now()         -- CLOCK_MONOTONIC seconds
 *   helper.fork()        -- fork(): the child's pid in the parent, 0 in the child
 *   helper.exit(code)    -- _exit(code): a forked child ends without running
 *                           anything of the busted process it copied
 *   helper.wait(pid)     -- waitpid: the child's exit status (nil, signal if killed)
 *   helper.begin_creation(name, len)  -- take a shared ring's name and its
 *                           creator's lock, size the segment, and stop there,
 *                           as a creator still laying a large ring out: the fd
 *   helper.drop_creation(fd)  -- close it, as a creator that died half way
 *   helper.abandon(ring, n)   -- a writer of its own claims n slots and
 *                           abandons them (a multi-producer ring's readers
 *                           skip those sequences); returns the first sequence
 *
 * Actions: "publish" one payload; "close" the ring; "drain" what is there
 * (reading until empty, so the reader moves past every slot; it registers at
 * start, so it gates a backpressure writer until then);
 * "stream" publishes `count` 16-byte events: sequence number (u64 LE) and
 * its checksum (u32 LE: sequence * 2654435761 mod 2^32), then the stream's
 * `id` (u32 LE, default 0); with `abandon_every` = k > 0 it also claims one
 * slot and abandons it before every k-th event, so several streams on a
 * multi-producer ring leave abandoned sequences between published ones.
 *
 * A one-shot action waits for arm() and then `settle` seconds (default 0.05)
 * so that the Lua thread is really asleep in the core before it acts; it
 * gives up after 10 s without an arm (status "not armed"). The thread links
 * its own copy of the core and reaches the ring through ring:handle().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lauxlib.h"
#include "lua.h"
#include "rusted_ring.h"

#define JOB_MT "rr_test_helper.job"

int luaopen_rr_test_helper(lua_State *L);

typedef enum { ACT_PUBLISH, ACT_CLOSE, ACT_DRAIN, ACT_STREAM } action;

typedef struct job {
    action      act;
    rr_ring    *ring;
    rr_writer  *w;
    rr_reader  *r;
    char       *payload;      /* ACT_PUBLISH: a copy owned by the job */
    size_t      len;
    uint32_t    event_type;
    uint64_t    count;        /* ACT_STREAM */
    uint32_t    id;           /* ACT_STREAM: written in bytes 12..15 */
    uint64_t    abandon_every;   /* ACT_STREAM: abandon a claim before every k-th event */
    double      settle;
    atomic_bool armed, cancel;
    pthread_t   thread;
    bool        started, joined;
    rr_status   st;
    double      t_action;
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0) {}
}

/* Wait (polling, bounded) for the Lua side's arm(), then let it fall asleep. */
static bool wait_armed(job *j)
{
    double give_up = now_s() + 10.0;
    while (!atomic_load(&j->armed)) {
        if (atomic_load(&j->cancel) || now_s() > give_up)
            return false;
        nap(0.0005);
    }
    nap(j->settle);
    return true;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static rr_status stream(job *j)
{
    unsigned char buf[16];
    for (uint64_t i = 0; i < j->count && !atomic_load(&j->cancel); i++) {
        if (j->abandon_every && i % j->abandon_every == 0) {
            rr_claim c;
            rr_status st = rr_writer_claim(j->w, 1, 1, &c, 10000000000LL);
            if (st == RR_OK)
                st = rr_writer_abandon(j->w, &c);
            if (st != RR_OK)
                return st;
        }
        memset(buf, 0, sizeof buf);
        put_le(buf, i, 8);
        put_le(buf + 8, (uint32_t)(i * 2654435761u), 4);
        put_le(buf + 12, j->id, 4);
        rr_status st = rr_writer_add(j->w, buf, sizeof buf, 1, NULL, 10000000000LL);
        if (st != RR_OK)
            return st;
    }
    return RR_OK;
}

static void *job_main(void *arg)
{
    job *j = arg;
    rr_event ev;
    if (j->act == ACT_STREAM) {
        j->t_action = now_s();
        j->st = stream(j);
        return NULL;
    }
    if (!wait_armed(j)) {
        j->st = RR_INVALID;
        return NULL;
    }
    j->t_action = now_s();
    switch (j->act) {
    case ACT_PUBLISH: j->st = rr_writer_add(j->w, j->payload, j->len, j->event_type, NULL, 0); break;
    case ACT_CLOSE:   j->st = rr_ring_close(j->ring); break;
    case ACT_DRAIN:
        while ((j->st = rr_reader_next(j->r, &ev, 0)) == RR_OK) {}
        if (j->st == RR_EMPTY)
            j->st = RR_OK;
        break;
    default:          break;
    }
    return NULL;
}

/* Join the thread (once) and close the job's handles. */
static void job_finish(job *j)
{
    if (j->started && !j->joined) {
        pthread_join(j->thread, NULL);
        j->joined = true;
    }
    rr_writer_close(j->w);
    rr_reader_close(j->r);
    j->w = NULL, j->r = NULL;
    free(j->payload);
    j->payload = NULL;
}

static int job_gc(lua_State *L)
{
    job *j = luaL_checkudata(L, 1, JOB_MT);
    atomic_store(&j->cancel, true);
    job_finish(j);
    return 0;
}

static int job_arm(lua_State *L)
{
    job *j = luaL_checkudata(L, 1, JOB_MT);
    atomic_store(&j->armed, true);
    return 0;
}

/* job:join() -> "ok" | "full" | "closed" | ... | "not armed", t_action */
static int job_join(lua_State *L)
{
    job *j = luaL_checkudata(L, 1, JOB_MT);
    job_finish(j);
    if (j->st == RR_INVALID && j->act != ACT_STREAM)
        lua_pushliteral(L, "not armed");
    else
        lua_pushstring(L, j->st == RR_OK ? "ok" : rr_strerror(j->st));
    lua_pushnumber(L, j->t_action);
    return 2;
}

static void job_options(lua_State *L, job *j)
{
    lua_getfield(L, 3, "settle");
    j->settle = luaL_optnumber(L, -1, 0.05);
    lua_getfield(L, 3, "count");
    j->count = (uint64_t)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 3, "event_type");
    j->event_type = (uint32_t)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 3, "payload");
    const char *p = luaL_optlstring(L, -1, "", &j->len);
    j->payload = malloc(j->len + 1);
    if (j->payload)
        memcpy(j->payload, p, j->len + 1);
    lua_getfield(L, 3, "id");
    j->id = (uint32_t)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 3, "abandon_every");
    j->abandon_every = (uint64_t)luaL_optinteger(L, -1, 0);
    lua_pop(L, 6);
}

/* helper.start(ring, action [, { payload, event_type, settle, count }]) */
static int helper_start(lua_State *L)
{
    static const char *const names[] = { "publish", "close", "drain", "stream", NULL };
    luaL_checkudata(L, 1, "rusted_ring.ring");
    action act = (action)luaL_checkoption(L, 2, NULL, names);
    if (lua_isnoneornil(L, 3)) {
        lua_settop(L, 2);
        lua_newtable(L);
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    job *j = lua_newuserdatauv(L, sizeof *j, 1);
    memset(j, 0, sizeof *j);
    luaL_setmetatable(L, JOB_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);   /* the job keeps the ring alive */
    j->act = act;
    job_options(L, j);
    lua_getfield(L, 1, "handle");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    j->ring = lua_touserdata(L, -1);
    lua_pop(L, 1);
    rr_status st = RR_OK;
    if (act == ACT_PUBLISH || act == ACT_STREAM)
        st = rr_writer_open(j->ring, &j->w);
    else if (act == ACT_DRAIN)
        st = rr_reader_open(j->ring, RR_START_OLDEST, &j->r);
    if (st != RR_OK)
        return luaL_error(L, "helper.start: %s", rr_last_error());
    if (pthread_create(&j->thread, NULL, job_main, j) != 0)
        return luaL_error(L, "helper.start: cannot start a thread");
    j->started = true;
    return 1;
}

/* helper.abandon(ring, n) -> the first sequence of the n slots claimed and
 * abandoned by a writer opened for it (a second producer of a multi-producer
 * ring; with a single producer, the ring's writer must be closed). */
static int helper_abandon(lua_State *L)
{
    luaL_checkudata(L, 1, "rusted_ring.ring");
    uint32_t n = (uint32_t)luaL_checkinteger(L, 2);
    lua_getfield(L, 1, "handle");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    rr_ring *ring = lua_touserdata(L, -1);
    rr_writer *w;
    rr_claim c;
    rr_status st = rr_writer_open(ring, &w);
    if (st != RR_OK)
        return luaL_error(L, "helper.abandon: %s", rr_last_error());
    st = rr_writer_claim(w, n, 0, &c, 0);
    if (st == RR_OK)
        st = rr_writer_abandon(w, &c);
    rr_writer_close(w);
    if (st != RR_OK)
        return luaL_error(L, "helper.abandon: %s", rr_strerror(st));
    lua_pushinteger(L, (lua_Integer)c.sequence);
    return 1;
}

static int helper_now(lua_State *L)
{
    lua_pushnumber(L, now_s());
    return 1;
}

static int helper_fork(lua_State *L)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return luaL_error(L, "helper.fork: fork failed");
    lua_pushinteger(L, pid);
    return 1;
}

static int helper_exit(lua_State *L)
{
    fflush(NULL);
    _exit((int)luaL_checkinteger(L, 1));
    return 0;
}

static int helper_wait(lua_State *L)
{
    int status;
    if (waitpid((pid_t)luaL_checkinteger(L, 1), &status, 0) < 0)
        return luaL_error(L, "helper.wait: no such child");
    if (WIFEXITED(status)) {
        lua_pushinteger(L, WEXITSTATUS(status));
        return 1;
    }
    lua_pushnil(L);
    lua_pushinteger(L, WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    return 2;
}

static int helper_begin_creation(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    off_t len = (off_t)luaL_checkinteger(L, 2);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0 || ftruncate(fd, len) != 0) {
        if (fd >= 0)
            close(fd);
        return luaL_error(L, "helper.begin_creation: cannot begin making %s", name);
    }
    lua_pushinteger(L, fd);
    return 1;
}

static int helper_drop_creation(lua_State *L)
{
    close((int)luaL_checkinteger(L, 1));
    return 0;
}

int luaopen_rr_test_helper(lua_State *L)
{
    static const luaL_Reg job_methods[] = {
        { "arm", job_arm }, { "join", job_join }, { NULL, NULL }
    };
    static const luaL_Reg funcs[] = {
        { "start", helper_start }, { "now", helper_now }, { "fork", helper_fork },
        { "exit", helper_exit }, { "wait", helper_wait },
        { "begin_creation", helper_begin_creation }, { "drop_creation", helper_drop_creation },
        { "abandon", helper_abandon },
        { NULL, NULL }
    };
    luaL_newmetatable(L, JOB_MT);
    lua_pushcfunction(L, job_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    luaL_setfuncs(L, job_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
