/*
 * test_shm.c — rings in POSIX shared memory: names, permissions, refusing
 * foreign segments, events between processes, and processes that die while
 * they read or write.
 *
 * Every segment is named "/rr-test-<pid>-<n>" and unlinked by its test.
 * Processes are made with fork(); they meet only through the named segment.
 * The tests whose handles open with check_reader_open / check_writer_open
 * run under every wait strategy (RR_TEST_WAIT, check.h; `make test-c`).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "procs.h"
#include "layout.h"   /* to damage headers on purpose and to fake a writer dying mid-publish */

#define BP RR_MODE_BACKPRESSURE
#define OW RR_MODE_OVERWRITE

static rr_config cfg_of(rr_mode mode, rr_producers producers, uint64_t capacity, size_t slot)
{
    return (rr_config){ .slot_size = slot, .capacity = capacity, .mode = mode,
                        .producers = producers };
}

static rr_status add_seq(rr_writer *w, uint64_t seq, int64_t timeout)
{
    unsigned char buf[64];
    payload_fill(buf, sizeof buf, seq, 7);
    return rr_writer_add(w, buf, sizeof buf, 1, NULL, timeout);
}

static int mode_of(const char *path)
{
    char fs[128];
    snprintf(fs, sizeof fs, "/dev/shm%s", path);
    struct stat sb;
    return stat(fs, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/* A child process that waits to be killed. */
static void wait_forever(void)
{
    for (;;)
        pause();
}

/* A child process that opens `name`, registers a reader at the oldest event
 * and then reads nothing until it is killed. */
static pid_t spawn_idle_reader(const char *name)
{
    pid_t pid = spawn();
    if (pid == 0) {
        rr_ring *mine;
        rr_reader *r;
        if (rr_shm_open(name, &mine) != RR_OK || rr_reader_open(mine, RR_START_OLDEST, &r) != RR_OK)
            _exit(2);
        wait_forever();
    }
    return pid;
}

static uint32_t reader_count(rr_ring *ring)
{
    static rr_ring_stats st;
    return rr_ring_stats_get(ring, &st) == RR_OK ? st.reader_count : UINT32_MAX;
}

/* ---- names, creation, opening -------------------------------------------------- */

TEST(test_create_open_unlink_round_trip)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 16, 64);
    rr_ring *a, *b;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &a), RR_OK);
    CHECK(rr_ring_shm_name(a) && strcmp(rr_ring_shm_name(a), name) == 0);
    CHECK_ST(rr_shm_open(name + 1, &b), RR_OK);     /* "x" and "/x" are one ring */
    CHECK_EQ(rr_ring_capacity(b), 16);
    CHECK_EQ(rr_ring_slot_size(b), 64);
    CHECK_EQ(rr_ring_mode(b), BP);
    rr_writer *w;
    rr_reader *r;
    CHECK_ST(rr_reader_open(b, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(rr_writer_open(a, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);
    rr_event ev;
    uint64_t seq = 99;
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK(payload_ok(ev.data, ev.len, 7, &seq));
    CHECK_EQ(seq, 0);
    rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(b, &st), RR_OK);
    CHECK(st.shared);
    CHECK_EQ(st.writer_pid, getpid());
    CHECK(st.writer_alive);
    CHECK_EQ(st.reader_count, 1);
    CHECK(st.readers[0].alive);
    rr_reader_close(r);
    rr_writer_close(w);
    CHECK_ST(rr_ring_destroy(a), RR_OK);
    CHECK_ST(rr_ring_destroy(b), RR_OK);
    /* the segment outlives its handles until it is unlinked */
    CHECK_ST(rr_shm_open(name, &a), RR_OK);
    CHECK_EQ(rr_ring_published(a), 1);
    CHECK_ST(rr_ring_destroy(a), RR_OK);
    CHECK_ST(rr_shm_unlink(name), RR_OK);
    CHECK_ST(rr_shm_open(name, &a), RR_SHM_NOT_FOUND);
    CHECK(strstr(rr_last_error(), "not found") != NULL);
    CHECK_ST(rr_shm_unlink(name), RR_SHM_NOT_FOUND);
}

TEST(test_create_refuses_a_taken_name_and_leaves_the_ring_alone)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(OW, RR_PRODUCERS_MULTI, 8, 128);
    rr_ring *a, *b;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &a), RR_OK);
    CHECK_ST(rr_shm_create(name, &cfg, 0, &b), RR_SHM_EXISTS);
    CHECK(strstr(rr_last_error(), "already exists") != NULL);
    CHECK_ST(rr_shm_open(name, &b), RR_OK);
    CHECK_EQ(rr_ring_mode(b), OW);
    CHECK_EQ(rr_ring_producers(b), RR_PRODUCERS_MULTI);
    rr_ring_destroy(b);
    rr_ring_destroy(a);
    CHECK_ST(rr_shm_unlink(name), RR_OK);
}

/* The longest name a ring may have (RR_SHM_NAME_MAX characters) leaves
 * every message whole: a taken name's remedy command, a geometry mismatch
 * with both geometries, a segment refused with the reason. */
TEST(test_a_name_of_200_characters_leaves_every_message_whole)
{
    char name[RR_SHM_NAME_MAX + 2];
    name[0] = '/';
    memset(name + 1, 'n', RR_SHM_NAME_MAX);
    name[RR_SHM_NAME_MAX + 1] = '\0';
    CHECK_EQ(RR_SHM_NAME_MAX, 200);
    rr_shm_unlink(name);
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 8, 64);
    rr_config other = cfg_of(OW, RR_PRODUCERS_MULTI, 16, 128);
    rr_ring *a, *b;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &a), RR_OK);
    rr_ring_destroy(a);
    CHECK_ST(rr_shm_create(name, &cfg, 0, &b), RR_SHM_EXISTS);
    char want[512];
    snprintf(want, sizeof want,
             "remove it first: `python -m rusted_ring unlink %s` (or rr_shm_unlink, "
             "rr.unlink_shared, Ring.unlink_shared)", name + 1);
    const char *why = rr_last_error();
    CHECK(strstr(why, "already exists") != NULL);
    CHECK(strlen(why) >= strlen(want) &&
          strcmp(why + strlen(why) - strlen(want), want) == 0);   /* the end, whole */
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.exist_ok = true;
    CHECK_ST(rr_shm_create_opts(name, &other, &o, &b), RR_SHM_EXISTS);
    why = rr_last_error();
    CHECK(strstr(why, name) != NULL);
    const char *end = "asked for slot_size=128, capacity=16, overwrite, multi producer";
    CHECK(strcmp(why + strlen(why) - strlen(end), end) == 0);
    rr_shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    bool written = ftruncate(fd, 4096) == 0 && pwrite(fd, "garbage!", 8, 0) == 8;
    close(fd);
    CHECK(written);
    CHECK_ST(rr_shm_open(name, &b), RR_SHM_INVALID);
    why = rr_last_error();
    CHECK(strstr(why, name) != NULL);
    end = "refused: not a rusted_ring block (bad magic)";
    CHECK(strcmp(why + strlen(why) - strlen(end), end) == 0);
    rr_shm_unlink(name);
}

TEST(test_bad_names_are_refused_with_the_rule)
{
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 64);
    rr_ring *r;
    char longname[RR_SHM_NAME_MAX + 3];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = { "", "/", "a/b", "/a/b", ".", "..", "/..", "sp ace", "tab\t",
                          "\x7f", longname };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_ST(rr_shm_create(bad[i], &cfg, 0, &r), RR_INVALID);
        CHECK(strstr(rr_last_error(), "name") != NULL);
        CHECK_ST(rr_shm_open(bad[i], &r), RR_INVALID);
        CHECK_ST(rr_shm_unlink(bad[i]), RR_INVALID);
    }
    CHECK_ST(rr_shm_create(NULL, &cfg, 0, &r), RR_INVALID);
    CHECK_ST(rr_shm_open(NULL, &r), RR_INVALID);
    /* the longest allowed name works */
    longname[RR_SHM_NAME_MAX] = '\0';
    rr_shm_unlink(longname);
    CHECK_ST(rr_shm_create(longname, &cfg, 0, &r), RR_OK);
    rr_ring_destroy(r);
    CHECK_ST(rr_shm_unlink(longname), RR_OK);
}

TEST(test_bad_configurations_create_nothing)
{
    const char *name = fresh_name();
    rr_ring *r;
    rr_config zero_cap = cfg_of(BP, RR_PRODUCERS_SINGLE, 0, 64);
    rr_config zero_slot = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 0);
    CHECK_ST(rr_shm_create(name, &zero_cap, 0, &r), RR_INVALID);
    CHECK(strstr(rr_last_error(), "capacity") != NULL);
    CHECK_ST(rr_shm_create(name, &zero_slot, 0, &r), RR_INVALID);
    CHECK(strstr(rr_last_error(), "slot size") != NULL);
    CHECK_ST(rr_shm_create(name, NULL, 0, &r), RR_INVALID);
    rr_config ok = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 64);
    CHECK_ST(rr_shm_create(name, &ok, 01000, &r), RR_INVALID);
    CHECK(strstr(rr_last_error(), "permissions") != NULL);
    CHECK_ST(rr_shm_open(name, &r), RR_SHM_NOT_FOUND);   /* nothing was left behind */
}

TEST(test_permissions_default_to_0600_and_are_applied_exactly)
{
    mode_t old = umask(077);
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 64);
    rr_ring *r;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &r), RR_OK);
    CHECK_EQ(mode_of(name), 0600);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
    CHECK_ST(rr_shm_create(name, &cfg, 0640, &r), RR_OK);
    CHECK_EQ(mode_of(name), 0640);   /* the umask of 077 did not narrow it */
    rr_ring_destroy(r);
    rr_shm_unlink(name);
    umask(old);
}

/* ---- segments that are not (good) rings ------------------------------------------- */

/* Replace the segment `name` with `len` bytes from `bytes`. */
static bool write_segment(const char *name, const void *bytes, size_t len)
{
    rr_shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return false;
    bool ok = ftruncate(fd, (off_t)len) == 0 &&
              (len == 0 || pwrite(fd, bytes, len, 0) == (ssize_t)len);
    close(fd);
    return ok;
}

static uint64_t fnv64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* A good ring's bytes, to damage. */
static unsigned char *good_ring_bytes(size_t *len)
{
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 8, 64);
    *len = rr_ring_footprint(&cfg);
    unsigned char *mem = aligned_alloc(64, *len);
    rr_ring *r;
    if (!mem || rr_ring_format(mem, *len, &cfg, &r) != RR_OK)
        return NULL;
    rr_ring_destroy(r);
    return mem;
}

static void reseal(unsigned char *mem)
{
    rr_geometry *g = &((rr_layout *)mem)->geo;
    g->checksum = fnv64(g, offsetof(rr_geometry, checksum));
}

/* The segment is refused with `want`, the message names why, and the process
 * can still make and use a good shared ring afterwards. */
static void expect_refused(const char *name, rr_status want, const char *why)
{
    rr_ring *r;
    CHECK_ST(rr_shm_open(name, &r), want);
    CHECK(strstr(rr_last_error(), why) != NULL);
    CHECK(strstr(rr_last_error(), name) != NULL);
    rr_shm_unlink(name);
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 64);
    rr_writer *w;
    rr_reader *rd;
    rr_event ev;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &r), RR_OK);
    CHECK_ST(rr_reader_open(r, RR_START_OLDEST, &rd), RR_OK);
    CHECK_ST(rr_writer_open(r, &w), RR_OK);
    CHECK_ST(add_seq(w, 5, 0), RR_OK);
    CHECK_ST(rr_reader_next(rd, &ev, 0), RR_OK);
    CHECK(payload_ok(ev.data, ev.len, 7, NULL));
    rr_reader_close(rd);
    rr_writer_close(w);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
}

TEST(test_foreign_and_damaged_segments_are_refused)
{
    const char *name = fresh_name();
    size_t len;
    unsigned char *good = good_ring_bytes(&len);
    CHECK(good);
    unsigned char *bad = aligned_alloc(64, len);
    CHECK(bad);

    CHECK(write_segment(name, good, 0));                         /* empty */
    expect_refused(name, RR_SHM_INVALID, "0 bytes");
    CHECK(write_segment(name, good, 100));                       /* shorter than a header */
    expect_refused(name, RR_SHM_INVALID, "100 bytes");

    srand(12345);
    for (size_t i = 0; i < len; i++)
        bad[i] = (unsigned char)rand();
    CHECK(write_segment(name, bad, len));                        /* random bytes */
    expect_refused(name, RR_SHM_INVALID, "magic");

    memcpy(bad, good, len);
    bad[0] ^= 0x20;
    CHECK(write_segment(name, bad, len));                        /* wrong magic */
    expect_refused(name, RR_SHM_INVALID, "magic");

    memcpy(bad, good, len);
    ((rr_layout *)bad)->geo.version = RR_LAYOUT_VERSION + 1;
    reseal(bad);
    CHECK(write_segment(name, bad, len));                        /* another version */
    expect_refused(name, RR_SHM_INCOMPATIBLE, "version");

    memcpy(bad, good, len);
    ((rr_layout *)bad)->geo.slot_size = 32;
    CHECK(write_segment(name, bad, len));                        /* checksum broken */
    expect_refused(name, RR_SHM_INVALID, "checksum");

    /* capacity larger than the segment, header otherwise consistent */
    memcpy(bad, good, len);
    rr_geometry *g = &((rr_layout *)bad)->geo;
    rr_config big = cfg_of(BP, RR_PRODUCERS_SINGLE, 1000, 64);
    g->capacity = 1000;
    g->total_bytes = rr_ring_footprint(&big);
    size_t ro, mo, po;
    rr__footprint(1000, 64, false, &ro, &mo, &po);
    g->readers_off = ro;
    g->meta_off = mo;
    g->payload_off = po;
    reseal(bad);
    CHECK(write_segment(name, bad, len));
    expect_refused(name, RR_SHM_INVALID, "mapped");

    CHECK(write_segment(name, good, len - 64));                  /* truncated */
    expect_refused(name, RR_SHM_INVALID, "mapped");

    memcpy(bad, good, len);
    ((rr_layout *)bad)->geo.mode = 7;
    reseal(bad);
    CHECK(write_segment(name, bad, len));                        /* unknown mode */
    expect_refused(name, RR_SHM_INVALID, "inconsistent");

    CHECK(write_segment(name, good, len));                       /* the good one opens */
    rr_ring *r;
    CHECK_ST(rr_shm_open(name, &r), RR_OK);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
    free(bad);
    free(good);
}

/* ---- between processes ---------------------------------------------------------- */

static int child_write(const char *name, uint64_t n, uint64_t first)
{
    rr_ring *ring;
    rr_writer *w;
    if (rr_shm_open(name, &ring) != RR_OK || check_writer_open(ring, &w) != RR_OK)
        return 2;
    for (uint64_t i = 0; i < n; i++)
        if (add_seq(w, first + i, SEC(30)) != RR_OK)
            return 3;
    rr_writer_close(w);
    rr_ring_destroy(ring);
    return 0;
}

/* A writer process → this process's reader, every event intact and in order. */
static void events_between_processes(rr_mode mode, rr_producers producers)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(mode, producers, 256, 64);
    rr_ring *ring;
    rr_reader *r;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    uint64_t n = check_scaled(200000);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(child_write(name, n, 0));
    uint64_t next = 0, bad = 0, delivered = 0;
    rr_event ev;
    for (;;) {
        if (mode == BP && next == n)
            break;
        rr_status st = rr_reader_next(r, &ev, MS(200));
        if (st == RR_TIMEOUT) {
            if (mode == OW && rr_ring_published(ring) == n &&
                rr_reader_cursor(r) == n)
                break;
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid && rr_ring_published(ring) < n) {
                pid = -1;
                break;   /* the writer failed */
            }
            continue;
        }
        CHECK_ST(st, RR_OK);
        uint64_t seq = 0;
        if (!payload_ok(ev.data, ev.len, 7, &seq) || seq != ev.sequence || seq < next) {
            bad++;
            seq = ev.sequence;
        }
        next = seq + 1;
        delivered++;
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(bad, 0);
    if (mode == BP)
        CHECK_EQ(delivered, n);
    else
        CHECK_EQ(delivered + rr_reader_lost(r) + rr_reader_skipped(r), n);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

TEST(test_events_between_processes_backpressure)
{
    events_between_processes(BP, RR_PRODUCERS_SINGLE);
}

TEST(test_events_between_processes_backpressure_multi_producer)
{
    events_between_processes(BP, RR_PRODUCERS_MULTI);
}

TEST(test_events_between_processes_overwrite)
{
    events_between_processes(OW, RR_PRODUCERS_SINGLE);
}

/* A reader in another process, blocked without limit, ends when this one closes. */
TEST(test_close_in_one_process_ends_the_stream_in_another)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 8, 64);
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_reader *r;
        rr_event ev;
        if (rr_shm_open(name, &mine) != RR_OK || check_reader_open(mine, RR_START_OLDEST, &r) != RR_OK)
            _exit(2);
        if (rr_reader_next(r, &ev, RR_FOREVER) != RR_OK)   /* event 0 */
            _exit(3);
        _exit(rr_reader_next(r, &ev, RR_FOREVER) == RR_CLOSED ? 0 : 4);
    }
    CHECK(WAIT_UNTIL(reader_count(ring) == 1, 10.0));
    rr_writer *w;
    CHECK_ST(check_writer_open(ring, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);
    /* whether or not the child has read event 0 yet, it drains it, then ends */
    CHECK_ST(rr_ring_close(ring), RR_OK);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A reader process killed while it gates a full backpressure ring: the writer
 * carries on within about a second of needing the slot, and the stats show the
 * reader dead first, then evicted. The killed child is left unreaped (a
 * zombie) until the end: that must count as dead too. */
TEST(test_a_killed_reader_stops_gating_the_writer)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 8, 64);
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn_idle_reader(name);
    CHECK(pid >= 0);
    CHECK(WAIT_UNTIL(reader_count(ring) == 1, 10.0));
    rr_reader *survivor;
    CHECK_ST(check_reader_open(ring, RR_START_OLDEST, &survivor), RR_OK);
    rr_writer *w;
    CHECK_ST(check_writer_open(ring, &w), RR_OK);
    for (uint64_t i = 0; i < 8; i++)
        CHECK_ST(add_seq(w, i, 0), RR_OK);
    CHECK_ST(add_seq(w, 8, 0), RR_FULL);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.reader_count, 2);
    CHECK(st.readers[0].alive && st.readers[1].alive);
    CHECK(kill(pid, SIGKILL) == 0);
    /* the stats see it dead (a zombie, not yet reaped) before anyone evicts it */
    CHECK(WAIT_UNTIL(rr_ring_stats_get(ring, &st) == RR_OK && st.reader_count == 2 &&
                     st.readers[0].alive != st.readers[1].alive, 10.0));
    CHECK_EQ(st.readers_evicted, 0);
    CHECK_EQ(st.readers[st.readers[0].alive ? 1 : 0].pid, pid);
    /* the survivor reads everything; the dead reader still gates... */
    rr_event ev;
    for (uint64_t i = 0; i < 8; i++)
        CHECK_ST(rr_reader_next(survivor, &ev, 0), RR_OK);
    /* ...until the writer, waiting for room, finds it dead */
    double t0 = check_now();
    for (uint64_t i = 8; i < 40; i++) {
        CHECK_ST(add_seq(w, i, SEC(10)), RR_OK);
        CHECK_ST(rr_reader_next(survivor, &ev, 0), RR_OK);
        uint64_t seq;
        CHECK(payload_ok(ev.data, ev.len, 7, &seq));
        CHECK_EQ(seq, i);
    }
    CHECK(check_now() - t0 < 3.0);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.reader_count, 1);
    CHECK_EQ(st.readers_evicted, 1);
    CHECK(st.readers[0].alive);
    CHECK_EQ(st.readers[0].pid, getpid());
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    rr_writer_close(w);
    rr_reader_close(survivor);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A writer that only tries (never waits) also gets past a dead reader. */
TEST(test_try_add_also_evicts_a_dead_reader)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_MULTI, 4, 64);
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn_idle_reader(name);
    CHECK(pid >= 0);
    CHECK(WAIT_UNTIL(reader_count(ring) == 1, 10.0));
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_ST(add_seq(w, i, 0), RR_OK);
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);   /* reaped this time: the pid is gone */
    CHECK(WAIT_UNTIL(add_seq(w, 4, 0) == RR_OK, 10.0));
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A reader table full of dead processes' readers makes room for a new one. */
TEST(test_readers_of_dead_processes_free_their_entries)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(OW, RR_PRODUCERS_SINGLE, 8, 64);
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_reader *r;
        if (rr_shm_open(name, &mine) != RR_OK)
            _exit(2);
        for (int i = 0; i < RR_MAX_READERS; i++)
            if (rr_reader_open(mine, RR_START_LATEST, &r) != RR_OK)
                _exit(3);
        _exit(0);   /* exits without closing them */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(reader_count(ring), RR_MAX_READERS);
    rr_reader *r;
    CHECK_ST(rr_reader_open(ring, RR_START_LATEST, &r), RR_OK);
    CHECK_EQ(reader_count(ring), 1);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A writer process killed mid-stream: readers time out, the stats say the
 * writer is dead, and a new writer takes its place and goes on in sequence. */
TEST(test_a_dead_writer_is_reported_and_replaced)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 16, 64);
    rr_ring *ring;
    rr_reader *r;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_writer *w;
        if (rr_shm_open(name, &mine) != RR_OK || rr_writer_open(mine, &w) != RR_OK)
            _exit(2);
        for (uint64_t i = 0; i < 3; i++)
            if (add_seq(w, i, 0) != RR_OK)
                _exit(3);
        wait_forever();
    }
    CHECK(WAIT_UNTIL(rr_ring_published(ring) == 3, 10.0));
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_pid, pid);
    CHECK(st.writer_alive);
    rr_writer *mine;
    CHECK_ST(rr_writer_open(ring, &mine), RR_WRITER_BUSY);   /* alive: no takeover */
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    rr_event ev;
    for (int i = 0; i < 3; i++)
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, MS(100)), RR_TIMEOUT);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_pid, pid);
    CHECK(!st.writer_alive);
    CHECK_EQ(st.writer_processes, 0);
    /* Fake the dead writer having stamped event 3 without counting it: the
     * new writer must not hand out sequence 3 a second time. */
    rr_slot_meta *m = rr__meta(ring, 3);
    atomic_store(&m->len, 64);
    atomic_store(&m->stamp, 2 * 3 + 2);
    CHECK_ST(rr_writer_open(ring, &mine), RR_OK);
    CHECK_EQ(rr_ring_published(ring), 4);
    uint64_t seq;
    unsigned char buf[64];
    payload_fill(buf, sizeof buf, 4, 7);
    CHECK_ST(rr_writer_add(mine, buf, sizeof buf, 1, &seq, 0), RR_OK);
    CHECK_EQ(seq, 4);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_pid, getpid());
    CHECK(st.writer_alive);
    CHECK_EQ(st.writers, 1);   /* the dead writer's handle no longer counts */
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 3);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 4);
    rr_writer_close(mine);
    rr_reader_close(r);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* Multi producer: the stats count the live processes that write. */
TEST(test_writer_processes_are_counted_while_alive)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(OW, RR_PRODUCERS_MULTI, 16, 64);
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_writer *cw;
        if (rr_shm_open(name, &mine) != RR_OK || rr_writer_open(mine, &cw) != RR_OK)
            _exit(2);
        wait_forever();
    }
    static rr_ring_stats st;
    CHECK(WAIT_UNTIL(rr_ring_stats_get(ring, &st) == RR_OK && st.writer_processes == 2 &&
                     st.writers == 2, 10.0));
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writer_processes, 1);
    CHECK(st.writer_alive);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A segment is complete before anyone can open it: a process that opens it
 * while it is being created either does not find it or gets the whole ring. */
TEST(test_opening_while_another_process_creates)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4096, 1024);
    int rounds = (int)check_scaled(50);
    for (int round = 0; round < rounds; round++) {
        pid_t pid = spawn();
        CHECK(pid >= 0);
        if (pid == 0) {
            rr_ring *r;
            int64_t give_up = rr__now_ns() + SEC(10);
            rr_status st;
            while ((st = rr_shm_open(name, &r)) == RR_SHM_NOT_FOUND && rr__now_ns() < give_up)
                sched_yield();
            if (st != RR_OK)
                _exit(2);
            _exit(rr_ring_capacity(r) == 4096 && rr_ring_slot_size(r) == 1024 ? 0 : 3);
        }
        rr_ring *ring;
        CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
        rr_ring_destroy(ring);
        rr_shm_unlink(name);
    }
}

/* A reader process killed while it sleeps in next() leaves no waiter count
 * behind: publishing goes back to making no wake-up system call. */
TEST(test_a_reader_killed_asleep_leaves_no_waiter_behind)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(OW, RR_PRODUCERS_SINGLE, 64, 64);
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_reader *r;
        rr_event ev;
        if (rr_shm_open(name, &mine) != RR_OK || rr_reader_open(mine, RR_START_LATEST, &r) != RR_OK)
            _exit(2);
        rr_reader_next(r, &ev, RR_FOREVER);
        _exit(3);
    }
    CHECK(WAIT_UNTIL(atomic_load(&ring->L->readable.waiters) == 1 &&
                     atomic_load(&ring->readers[0].sleeping) != 0, 10.0));
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(atomic_load(&ring->L->readable.waiters), 1);   /* the dead sleeper's count */
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    uint64_t i = 0;
    CHECK(WAIT_UNTIL((add_seq(w, i++, 0), atomic_load(&ring->L->readable.waiters) == 0), 10.0));
    CHECK_EQ(reader_count(ring), 0);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A child that inherits a reader and a writer through fork() and closes them
 * (as a garbage collector in the child would) takes neither from the parent. */
TEST(test_closing_an_inherited_reader_leaves_the_parents_alone)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 64);
    rr_ring *ring;
    rr_reader *r;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_reader_close(r);
        rr_writer_close(w);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(reader_count(ring), 1);
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.writers, 1);                 /* still ours */
    CHECK_EQ(st.writer_pid, getpid());
    for (uint64_t i = 0; i < 4; i++)
        CHECK_ST(add_seq(w, i, 0), RR_OK);
    CHECK_ST(add_seq(w, 4, 0), RR_FULL);   /* the parent's reader still gates */
    rr_writer_close(w);
    rr_reader_close(r);
    CHECK_EQ(reader_count(ring), 0);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

static void *hold_reader(void *arg)
{
    (void)arg;
    wait_forever();
    return NULL;
}

/* A process whose main thread has exited shows as a zombie in /proc while
 * its other threads run: it is alive, and its reader keeps gating. */
TEST(test_a_process_whose_main_thread_exited_is_alive)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 64);
    rr_ring *ring;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        rr_ring *mine;
        rr_reader *r;
        pthread_t t;
        if (rr_shm_open(name, &mine) != RR_OK || rr_reader_open(mine, RR_START_OLDEST, &r) != RR_OK ||
            pthread_create(&t, NULL, hold_reader, NULL) != 0)
            _exit(2);
        pthread_exit(NULL);
    }
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    CHECK(WAIT_UNTIL(({
        FILE *f = fopen(path, "r");
        char buf[512] = "";
        if (f) { if (!fgets(buf, sizeof buf, f)) buf[0] = 0; fclose(f); }
        char *p = strrchr(buf, ')');
        state = p && p[1] ? p[2] : 0;
        state == 'Z' && reader_count(ring) == 1;
    }), 10.0));
    rr_writer *w;
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_ST(add_seq(w, i, 0), RR_OK);
    CHECK_ST(add_seq(w, 4, MS(500)), RR_TIMEOUT);   /* still gated: not evicted */
    static rr_ring_stats st;
    CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
    CHECK_EQ(st.readers_evicted, 0);
    CHECK(st.readers[0].alive);
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_ST(add_seq(w, 4, SEC(10)), RR_OK);        /* now it is dead */
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* ---- segments that could kill the process later (issue items 3, 4) ----------------- */

/* The geometry (checksum and all) of a ring of `capacity` x `slot` bytes,
 * written at the start of the sparse segment `name` of the ring's full
 * length: only the header's pages are ever allocated. */
static bool write_sparse_ring(const char *name, uint64_t capacity, size_t slot, size_t *len)
{
    size_t ro, mo, po;
    *len = rr__footprint(capacity, slot, false, &ro, &mo, &po);
    if (*len == 0)
        return false;
    size_t head = mo;   /* header and reader table */
    unsigned char *mem = aligned_alloc(64, head);
    if (!mem)
        return false;
    memset(mem, 0, head);
    rr_geometry *g = &((rr_layout *)mem)->geo;
    *g = (rr_geometry){ .magic = RR_MAGIC, .version = RR_LAYOUT_VERSION,
                        .header_bytes = sizeof(rr_layout), .total_bytes = *len,
                        .capacity = capacity, .slot_size = (uint32_t)slot,
                        .slot_stride = (uint32_t)rr__slot_stride(slot),
                        .mode = BP, .producers = RR_PRODUCERS_SINGLE,
                        .max_readers = RR_MAX_READERS, .readers_off = ro, .meta_off = mo,
                        .payload_off = po };
    reseal(mem);
    for (size_t i = 0; i < RR_MAX_READERS; i++)
        ((rr_reader_entry *)(mem + ro))[i].gate = RR_GATE_FREE;
    rr_shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    bool ok = fd >= 0 && ftruncate(fd, (off_t)*len) == 0 &&
              pwrite(fd, mem, head, 0) == (ssize_t)head;
    if (fd >= 0)
        close(fd);
    free(mem);
    return ok;
}

static long long allocated_bytes(const char *name)
{
    char fs[128];
    snprintf(fs, sizeof fs, "/dev/shm%s", name);
    struct stat sb;
    return stat(fs, &sb) == 0 ? (long long)sb.st_blocks * 512 : -1;
}

/* A segment sized with ftruncate whose pages were never allocated, larger
 * than all of /dev/shm, with a valid ring header at its start: opening it
 * is refused with "no room in /dev/shm" (mapping it would have killed the
 * process with SIGBUS at the first touch of a page tmpfs cannot supply),
 * and the process goes on making and using rings. */
TEST(test_opening_a_sparse_segment_that_does_not_fit_says_no_room)
{
    struct statvfs vfs;
    CHECK(statvfs("/dev/shm", &vfs) == 0);
    if (vfs.f_blocks == 0) {
        printf("     (skipped: /dev/shm has no size limit)\n");
        return;
    }
    /* larger than /dev/shm's whole size, so fallocate refuses it at once
     * instead of filling /dev/shm first */
    uint64_t shm_size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    uint64_t slot = RR_MAX_SLOT_SIZE;
    uint64_t capacity = (shm_size + (UINT64_C(1) << 30)) / slot + 1;
    const char *name = fresh_name();
    size_t len;
    CHECK(write_sparse_ring(name, capacity, slot, &len));
    CHECK(len > shm_size);
    rr_ring *r;
    CHECK_ST(rr_shm_open(name, &r), RR_SYSTEM);
    CHECK(strstr(rr_last_error(), "no room in /dev/shm") != NULL);
    CHECK(strstr(rr_last_error(), name) != NULL);
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%zu bytes", len);
    CHECK(strstr(rr_last_error(), bytes) != NULL);
    CHECK(allocated_bytes(name) < (1 << 20));   /* and nothing was left allocated */
    expect_refused(name, RR_SYSTEM, "no room");  /* again; then the process goes on */
}

/* A sparse segment that fits is backed in full when it is opened. */
TEST(test_opening_a_sparse_segment_backs_every_page)
{
    const char *name = fresh_name();
    size_t len;
    CHECK(write_sparse_ring(name, 64, 64 * 1024, &len));   /* 4 MiB of holes */
    CHECK(allocated_bytes(name) < (long long)len / 2);
    rr_ring *r;
    CHECK_ST(rr_shm_open(name, &r), RR_OK);
    CHECK(allocated_bytes(name) >= (long long)len);
    rr_writer *w;
    rr_reader *rd;
    rr_event ev;
    CHECK_ST(rr_reader_open(r, RR_START_OLDEST, &rd), RR_OK);
    CHECK_ST(rr_writer_open(r, &w), RR_OK);
    for (uint64_t i = 0; i < 64; i++)
        CHECK_ST(add_seq(w, i, 0), RR_OK);
    for (uint64_t i = 0; i < 64; i++) {
        uint64_t seq;
        CHECK_ST(rr_reader_next(rd, &ev, 0), RR_OK);
        CHECK(payload_ok(ev.data, ev.len, 7, &seq) && seq == i);
    }
    rr_reader_close(rd);
    rr_writer_close(w);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
}

/* Creating a ring larger than all of /dev/shm says so before anything is
 * reserved: the name is gone afterwards and /dev/shm was never filled. */
TEST(test_creating_a_ring_larger_than_dev_shm_says_no_room)
{
    struct statvfs vfs;
    CHECK(statvfs("/dev/shm", &vfs) == 0);
    if (vfs.f_blocks == 0) {
        printf("     (skipped: /dev/shm has no size limit)\n");
        return;
    }
    uint64_t shm_size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE,
                           (shm_size + (UINT64_C(1) << 30)) / RR_MAX_SLOT_SIZE + 1,
                           RR_MAX_SLOT_SIZE);
    const char *name = fresh_name();
    rr_ring *r;
    double t0 = check_now();
    CHECK_ST(rr_shm_create(name, &cfg, 0, &r), RR_SYSTEM);
    CHECK(check_now() - t0 < 5.0);   /* refused up front, not after filling /dev/shm */
    char want[160];
    snprintf(want, sizeof want, "no room in /dev/shm for shared ring '%s' (%zu bytes)", name,
             rr_ring_footprint(&cfg));
    CHECK(strstr(rr_last_error(), want) != NULL);
    CHECK_EQ(allocated_bytes(name), -1);   /* the name is removed */
}

static volatile sig_atomic_t ticks;
static void on_tick(int sig)
{
    (void)sig;
    ticks++;
}

/* A process under a periodic signal (a profiler's timer, here every 1 ms)
 * still makes a ring that takes many reservation chunks, every page backed:
 * a signal costs at most the chunk it interrupted (before a 2024 kernel
 * change, tmpfs gave up a whole fallocate on any signal). */
TEST(test_a_large_ring_is_made_under_a_1_ms_timer_signal)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4096, 64 * 1024);   /* 256 MiB */
    size_t len = rr_ring_footprint(&cfg);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick;
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGALRM, &sa, &old_sa) == 0);
    /* the suite's watchdog (alarm in main) shares this timer: put it back after */
    struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, watchdog;
    CHECK(setitimer(ITIMER_REAL, &every_ms, &watchdog) == 0);
    ticks = 0;
    rr_ring *r = NULL;
    rr_status st = rr_shm_create(name, &cfg, 0, &r);
    /* and the process's own waits go on too */
    bool ticked = WAIT_UNTIL(ticks > 2, 10.0);
    sigaction(SIGALRM, &old_sa, NULL);
    setitimer(ITIMER_REAL, &watchdog, NULL);
    CHECK_ST(st, RR_OK);
    CHECK(ticked);
    CHECK(allocated_bytes(name) >= (long long)len);
    rr_writer *w;
    CHECK_ST(rr_writer_open(r, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);
    rr_writer_close(w);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
}

static bool give_to_nobody(const char *name)
{
    char fs[128];
    snprintf(fs, sizeof fs, "/dev/shm%s", name);
    return chown(fs, 65534, 65534) == 0;
}

/* Another user could rewrite or truncate a segment it owns under us: such
 * a segment is refused by default, with its owner named, and opened only
 * when the caller says allow_other_user. exist_ok opening checks the same. */
TEST(test_a_segment_of_another_user_is_refused_unless_allowed)
{
    if (geteuid() != 0) {
        printf("     (skipped: giving a segment to another user needs root)\n");
        return;
    }
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 8, 64);
    rr_ring *mine, *r;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &mine), RR_OK);
    CHECK(give_to_nobody(name));
    CHECK_ST(rr_shm_open(name, &r), RR_SHM_FOREIGN_OWNER);
    const char *why = rr_last_error();
    CHECK(strstr(why, name) != NULL);
    CHECK(strstr(why, "user 65534 (nobody)") != NULL);
    CHECK(strstr(why, "user 0 (root)") != NULL);
    CHECK(strstr(why, "allow_other_user") != NULL);
    CHECK(strcmp(rr_strerror(RR_SHM_FOREIGN_OWNER), "shared ring owned by another user") == 0);
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.exist_ok = true;
    CHECK_ST(rr_shm_create_opts(name, &cfg, &o, &r), RR_SHM_FOREIGN_OWNER);
    o.allow_other_user = true;
    CHECK_ST(rr_shm_open_opts(name, &o, &r), RR_OK);
    CHECK_EQ(rr_ring_capacity(r), 8);
    rr_ring_destroy(r);
    CHECK_ST(rr_shm_create_opts(name, &cfg, &o, &r), RR_OK);
    rr_ring_destroy(r);
    rr_ring_destroy(mine);
    rr_shm_unlink(name);
}

/* ---- handles inherited through fork() (issue item 5) ------------------------------ */

/* Each check the child makes sets one bit of its exit status when it fails. */
static int child_uses_inherited(rr_writer *w, rr_reader *r, rr_claim *open_claim,
                                pid_t parent)
{
    char want_w[96], want_r[96];
    snprintf(want_w, sizeof want_w, "this writer belongs to process %d; open your own in the child",
             (int)parent);
    snprintf(want_r, sizeof want_r, "this reader belongs to process %d; open your own in the child",
             (int)parent);
    unsigned char buf[64] = { 0 };
    rr_payload items[2] = { { buf, 16, 1 }, { buf, 16, 2 } };
    rr_claim c;
    rr_event ev[2];
    size_t n;
    int bad = 0;
    bad |= (rr_writer_add(w, buf, 16, 1, NULL, 0) != RR_FORKED ||
            strcmp(rr_last_error(), want_w) != 0) << 0;
    bad |= (rr_writer_claim(w, 1, 1, &c, 0) != RR_FORKED) << 1;
    bad |= (rr_writer_add_batch(w, items, 2, NULL, 0) != RR_FORKED) << 2;
    bad |= (rr_writer_publish(w, open_claim) != RR_FORKED) << 3;
    bad |= (rr_writer_abandon(w, open_claim) != RR_FORKED) << 3;
    bad |= (rr_reader_next(r, &ev[0], 0) != RR_FORKED || strcmp(rr_last_error(), want_r) != 0)
           << 4;
    bad |= (rr_reader_next_batch(r, ev, 2, &n, 0) != RR_FORKED) << 5;
    bad |= (rr_reader_hold(r, 0) != RR_FORKED || rr_reader_release(r, 0) != RR_FORKED) << 6;
    rr_reader_close(r);   /* closing what it inherited still works */
    rr_writer_close(w);
    return bad;
}

/* A child that writes or reads through a handle its parent opened would
 * reuse the parent's next sequence (one of the two events is lost) or move
 * the parent's cursor: every such call fails with RR_FORKED and a message
 * naming the owner, and the parent's stream goes on intact. */
TEST(test_a_forked_child_cannot_use_inherited_handles)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 16, 64);
    rr_ring *ring;
    rr_writer *w;
    rr_reader *r;
    rr_event ev;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);   /* event 0 is the reader's */
    rr_claim c;
    CHECK_ST(rr_writer_claim(w, 1, 1, &c, 0), RR_OK);   /* a claim open across the fork */
    pid_t parent = getpid();
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        int bad = child_uses_inherited(w, r, &c, parent);
        rr_ring *mine;   /* its own handles work */
        rr_reader *own;
        if (rr_shm_open(name, &mine) != RR_OK || rr_reader_open(mine, RR_START_OLDEST, &own) != RR_OK ||
            rr_reader_next(own, &ev, 0) != RR_OK || ev.sequence != 0)
            bad |= 1 << 7;
        _exit(bad);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    /* the parent's claim, writer and reader are untouched */
    payload_fill(rr_claim_data(&c, 0), 64, 1, 7);
    CHECK_ST(rr_writer_publish(w, &c), RR_OK);
    CHECK_EQ(c.sequence, 1);
    for (uint64_t i = 2; i < 5; i++)
        CHECK_ST(add_seq(w, i, 0), RR_OK);
    for (uint64_t i = 1; i < 5; i++) {
        uint64_t seq;
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK(payload_ok(ev.data, ev.len, 7, &seq));
        CHECK_EQ(seq, i);
        CHECK_EQ(ev.sequence, i);
    }
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    rr_reader_close(r);
    rr_writer_close(w);
    rr_ring_destroy(ring);
    rr_shm_unlink(name);
}

/* A claim open across fork() is its maker's to finish: a child that sets
 * its length or type is refused (the parent's event would change under it),
 * and the parent publishes what it set. A heap ring's claim is the child's
 * (its copy of the ring is), so there the child finishes it. */
TEST(test_a_forked_child_cannot_change_the_parents_open_claim)
{
    for (int heap = 0; heap < 2; heap++) {
        const char *name = fresh_name();
        rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 8, 64);
        rr_ring *ring;
        rr_writer *w;
        rr_reader *r;
        rr_event ev;
        if (heap)
            CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
        else
            CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
        CHECK_ST(rr_writer_open(ring, &w), RR_OK);
        rr_claim c;
        CHECK_ST(rr_writer_claim(w, 1, 7, &c, 0), RR_OK);
        memcpy(rr_claim_data(&c, 0), "parent's event", 14);
        CHECK_ST(rr_claim_set(&c, 0, 14, 7), RR_OK);
        pid_t pid = spawn();
        CHECK(pid >= 0);
        if (pid == 0) {
            if (heap) {   /* the child's own: it may finish it, and reads what it set */
                int bad = rr_claim_set(&c, 0, 3, 99) != RR_OK;
                bad |= (rr_writer_publish(w, &c) != RR_OK) << 1;
                bad |= (rr_reader_next(r, &ev, 0) != RR_OK || ev.len != 3 ||
                        ev.event_type != 99) << 2;
                _exit(bad);
            }
            int bad = rr_claim_set(&c, 0, 3, 99) != RR_FORKED;
            bad |= (strstr(rr_last_error(), "claim your own in the child") == NULL) << 1;
            bad |= (rr_writer_publish(w, &c) != RR_FORKED) << 2;
            _exit(bad);
        }
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
        CHECK_ST(rr_writer_publish(w, &c), RR_OK);
        CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
        CHECK_EQ(ev.len, 14);
        CHECK_EQ(ev.event_type, 7);
        CHECK(memcmp(ev.data, "parent's event", 14) == 0);
        rr_reader_close(r);
        rr_writer_close(w);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
        rr_shm_unlink(name);
    }
}

/* A heap ring is the child's own copy after fork(): the child's inherited
 * handles simply go on with it (this is how the default pools keep working
 * in a forked child), and the parent's ring does not change. */
TEST(test_a_forked_child_goes_on_with_its_copy_of_a_heap_ring)
{
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 16, 64);
    rr_ring *ring;
    rr_writer *w;
    rr_reader *r;
    rr_event ev;
    CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
    CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
    CHECK_ST(rr_writer_open(ring, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        uint64_t seq;
        int bad = add_seq(w, 1, 0) != RR_OK;
        bad |= (rr_reader_next(r, &ev, 0) != RR_OK || !payload_ok(ev.data, ev.len, 7, &seq) ||
                seq != 0) << 1;
        bad |= (rr_reader_next(r, &ev, 0) != RR_OK || !payload_ok(ev.data, ev.len, 7, &seq) ||
                seq != 1) << 2;
        _exit(bad);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(rr_ring_published(ring), 1);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_OK);
    CHECK_EQ(ev.sequence, 0);
    CHECK_ST(rr_reader_next(r, &ev, 0), RR_EMPTY);
    rr_reader_close(r);
    rr_writer_close(w);
    rr_ring_destroy(ring);
}

/* In the child: close the inherited reader and writer of a single-producer
 * heap ring of capacity 4, after using them or not, and check that the
 * child's copy let them go. One bit of the result per failed check. */
static int child_closes_adopted(rr_ring *ring, rr_writer *w, rr_reader *r, bool use_first)
{
    rr_event ev;
    int bad = 0;
    if (use_first)
        bad |= (add_seq(w, 1, 0) != RR_OK || rr_reader_next(r, &ev, 0) != RR_OK) << 0;
    rr_reader_close(r);
    rr_ring_stats st;
    bad |= (rr_ring_stats_get(ring, &st) != RR_OK || st.reader_count != 0) << 1;
    for (uint64_t i = 0; i < 8; i++)   /* twice the capacity: nobody gates any more */
        bad |= (add_seq(w, 10 + i, 0) != RR_OK) << 2;
    bad |= (rr_ring_stats_get(ring, &st) != RR_OK || st.writer_pid != (uint32_t)getpid()) << 3;
    rr_writer_close(w);
    rr_writer *w2;   /* the writer role is free again */
    bad |= (rr_writer_open(ring, &w2) != RR_OK) << 4;
    if (!(bad & 1 << 4)) {
        bad |= (add_seq(w2, 20, 0) != RR_OK) << 5;
        rr_writer_close(w2);
    }
    return bad;
}

/* A heap ring's handles are the child's after fork(), in full: closing the
 * inherited reader in the child frees its entry in the child's copy (it no
 * longer gates the child's writer), and closing the inherited writer gives
 * up the single-producer role there, whether or not the child used them
 * first. The parent's ring keeps its reader and its writer. */
TEST(test_a_forked_child_closing_a_heap_rings_handles_frees_them_in_its_copy)
{
    for (int use_first = 0; use_first < 2; use_first++) {
        rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 4, 64);
        rr_ring *ring;
        rr_writer *w;
        rr_reader *r;
        CHECK_ST(rr_ring_create(&cfg, &ring), RR_OK);
        CHECK_ST(rr_reader_open(ring, RR_START_OLDEST, &r), RR_OK);
        CHECK_ST(rr_writer_open(ring, &w), RR_OK);
        CHECK_ST(add_seq(w, 0, 0), RR_OK);
        pid_t pid = spawn();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(child_closes_adopted(ring, w, r, use_first));
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
        rr_ring_stats st;
        CHECK_ST(rr_ring_stats_get(ring, &st), RR_OK);
        CHECK_EQ(st.reader_count, 1);
        CHECK_EQ(st.writer_pid, getpid());
        CHECK_EQ(rr_ring_published(ring), 1);
        rr_writer *w2;
        CHECK_ST(rr_writer_open(ring, &w2), RR_WRITER_BUSY);
        for (uint64_t i = 1; i < 4; i++)
            CHECK_ST(add_seq(w, i, 0), RR_OK);
        CHECK_ST(add_seq(w, 4, 0), RR_FULL);   /* our reader still gates */
        rr_reader_close(r);
        rr_writer_close(w);
        CHECK_ST(rr_ring_destroy(ring), RR_OK);
    }
}

/* ---- creations in progress (issue item 6) -------------------------------------------- */

/* Begin a creation as rr_shm_create does, and stop before the ring is laid
 * out: the name taken, the creator's lock held, the segment sized. */
static int begin_creation(const char *name, size_t len)
{
    rr_shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0 || ftruncate(fd, (off_t)len) != 0)
        return -1;
    return fd;
}

/* Lay the ring out in a segment begin_creation left, and drop the lock. */
static bool finish_creation(int fd, const rr_config *cfg, size_t len)
{
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    rr_ring *r;
    if (mem == MAP_FAILED || rr__format_zeroed(mem, len, cfg, &r) != RR_OK)
        return false;
    rr_ring_destroy(r);
    munmap(mem, len);
    struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
    bool ok = fcntl(fd, F_OFD_SETLK, &fl) == 0;
    close(fd);
    return ok;
}

/* An opener that finds a ring still being made tells it apart from a foreign
 * segment: it waits for it (RR_SHM_CREATING when its timeout runs out first),
 * for as long as the creation takes by default. The creator here takes far
 * longer than the 200 ms openers used to allow, as a large ring does. */
TEST(test_an_opener_waits_for_a_slow_creation)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 64, 64);
    size_t len = rr_ring_footprint(&cfg);
    int fd = begin_creation(name, len);
    CHECK(fd >= 0);
    rr_ring *r;
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.timeout_ns = 0;
    double t0 = check_now();
    CHECK_ST(rr_shm_open_opts(name, &o, &r), RR_SHM_CREATING);
    CHECK(check_now() - t0 < 0.1);
    CHECK(strstr(rr_last_error(), "still being created") != NULL);
    CHECK(strstr(rr_last_error(), name) != NULL);
    o.timeout_ns = MS(300);
    t0 = check_now();
    CHECK_ST(rr_shm_open_opts(name, &o, &r), RR_SHM_CREATING);
    CHECK(check_now() - t0 >= 0.29);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        char c = 'w';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        rr_ring *mine;
        rr_status st = rr_shm_open(name, &mine);   /* the default: wait while it is made */
        _exit(st != RR_OK ? 3 : rr_ring_capacity(mine) == 64 ? 0 : 4);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    close(ready[1]);
    struct timespec slow = { 0, 600000000 };   /* the creation being slow is the point */
    nanosleep(&slow, NULL);
    CHECK(finish_creation(fd, &cfg, len));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    rr_shm_unlink(name);
}

/* A creator that dies half way leaves a segment nobody is making: openers
 * are not made to wait for it, and are told what it is. */
TEST(test_a_creation_abandoned_by_a_dead_creator_is_told_apart)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 64, 64);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = spawn();
    CHECK(pid >= 0);
    if (pid == 0) {
        char c = begin_creation(name, rr_ring_footprint(&cfg)) >= 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        wait_forever();
    }
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1 && c == 'y');
    close(ready[0]);
    close(ready[1]);
    rr_ring *r;
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.timeout_ns = 0;
    CHECK_ST(rr_shm_open_opts(name, &o, &r), RR_SHM_CREATING);   /* alive: in progress */
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    double t0 = check_now();
    CHECK_ST(rr_shm_open(name, &r), RR_SHM_INVALID);   /* waits no longer than the grace */
    CHECK(check_now() - t0 < 5.0);
    CHECK(strstr(rr_last_error(), "no process is creating it") != NULL);
    CHECK(strstr(rr_last_error(), name) != NULL);
    rr_shm_unlink(name);
}

/* How large a ring the large-ring tests make: 1 GiB, or a quarter of what
 * /dev/shm has free when that is less. */
static uint64_t large_ring_capacity(size_t slot)
{
    struct statvfs vfs;
    uint64_t want = UINT64_C(1) << 30;
    if (statvfs("/dev/shm", &vfs) == 0 && vfs.f_blocks != 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize / 4 < want)
        want = (uint64_t)vfs.f_bavail * vfs.f_frsize / 4;
    return want / (slot + 16);
}

/* "Start either first" with a ring of a gigabyte: a process that waits for
 * the name to appear and opens it as soon as it does gets the whole ring,
 * however long the creator takes to lay it out. */
TEST(test_a_large_ring_opens_while_another_process_creates_it)
{
    const char *name = fresh_name();
    size_t slot = 4096;
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, large_ring_capacity(slot), slot);
    printf("     (a ring of %zu MiB)\n", rr_ring_footprint(&cfg) >> 20);
    int rounds = 2;
    for (int round = 0; round < rounds; round++) {
        pid_t pid = spawn();
        CHECK(pid >= 0);
        if (pid == 0) {
            rr_ring *r;
            int64_t give_up = rr__now_ns() + SEC(60);
            rr_status st;
            while ((st = rr_shm_open(name, &r)) == RR_SHM_NOT_FOUND && rr__now_ns() < give_up)
                sched_yield();
            if (st != RR_OK) {
                fprintf(stderr, "child: %s\n", rr_last_error());
                _exit(2);
            }
            _exit(rr_ring_capacity(r) == cfg.capacity ? 0 : 3);
        }
        rr_ring *ring;
        CHECK_ST(rr_shm_create(name, &cfg, 0, &ring), RR_OK);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
        rr_ring_destroy(ring);
        rr_shm_unlink(name);
    }
}

/* ---- names left by a crashed creator (issue item 10) ------------------------------- */

/* A taken name says how to remove a stale segment; exist_ok opens a ring of
 * the same geometry and refuses one of another, naming both. */
TEST(test_exist_ok_opens_a_matching_ring_and_refuses_another)
{
    const char *name = fresh_name();
    rr_config cfg = cfg_of(BP, RR_PRODUCERS_SINGLE, 16, 64);
    rr_ring *a, *b;
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.exist_ok = true;
    CHECK_ST(rr_shm_create_opts(name, &cfg, &o, &a), RR_OK);   /* nothing there: made */
    rr_writer *w;
    CHECK_ST(rr_writer_open(a, &w), RR_OK);
    CHECK_ST(add_seq(w, 0, 0), RR_OK);
    CHECK_ST(rr_shm_create(name, &cfg, 0, &b), RR_SHM_EXISTS);
    CHECK(strstr(rr_last_error(), "already exists") != NULL);
    CHECK(strstr(rr_last_error(), "crashed") != NULL);
    CHECK(strstr(rr_last_error(), "rr_shm_unlink") != NULL);
    char cli[128];
    snprintf(cli, sizeof cli, "python -m rusted_ring unlink %s", name + 1);
    CHECK(strstr(rr_last_error(), cli) != NULL);
    CHECK_ST(rr_shm_create_opts(name, &cfg, &o, &b), RR_OK);   /* the same ring */
    CHECK_EQ(rr_ring_published(b), 1);
    rr_ring_destroy(b);
    rr_config other = cfg_of(OW, RR_PRODUCERS_MULTI, 32, 128);
    CHECK_ST(rr_shm_create_opts(name, &other, &o, &b), RR_SHM_EXISTS);
    const char *why = rr_last_error();
    CHECK(strstr(why, "slot_size=64, capacity=16, backpressure, single producer") != NULL);
    CHECK(strstr(why, "slot_size=128, capacity=32, overwrite, multi producer") != NULL);
    rr_config nearly = cfg;
    nearly.capacity = 17;
    CHECK_ST(rr_shm_create_opts(name, &nearly, &o, &b), RR_SHM_EXISTS);
    CHECK_EQ(rr_ring_published(a), 1);
    rr_writer_close(w);
    rr_ring_destroy(a);
    rr_shm_unlink(name);
}

int main(void)
{
    alarm(600);   /* a lost wake-up fails the suite instead of hanging CI */
    /* Under every wait strategy (RR_TEST_WAIT, check.h): events, the close
     * and a dead reader, each seen by a waiter in another process. */
    RUN(test_events_between_processes_backpressure);
    reap_children();
    RUN(test_events_between_processes_backpressure_multi_producer);
    reap_children();
    RUN(test_events_between_processes_overwrite);
    reap_children();
    RUN(test_close_in_one_process_ends_the_stream_in_another);
    reap_children();
    RUN(test_a_killed_reader_stops_gating_the_writer);
    reap_children();
    if (check_wait() != RR_WAIT_BLOCK)
        return check_report();
    RUN(test_create_open_unlink_round_trip);
    reap_children();
    RUN(test_create_refuses_a_taken_name_and_leaves_the_ring_alone);
    reap_children();
    RUN(test_a_name_of_200_characters_leaves_every_message_whole);
    reap_children();
    RUN(test_bad_names_are_refused_with_the_rule);
    reap_children();
    RUN(test_bad_configurations_create_nothing);
    reap_children();
    RUN(test_permissions_default_to_0600_and_are_applied_exactly);
    reap_children();
    RUN(test_foreign_and_damaged_segments_are_refused);
    reap_children();
    RUN(test_try_add_also_evicts_a_dead_reader);
    reap_children();
    RUN(test_readers_of_dead_processes_free_their_entries);
    reap_children();
    RUN(test_a_dead_writer_is_reported_and_replaced);
    reap_children();
    RUN(test_writer_processes_are_counted_while_alive);
    reap_children();
    RUN(test_opening_while_another_process_creates);
    reap_children();
    RUN(test_a_reader_killed_asleep_leaves_no_waiter_behind);
    reap_children();
    RUN(test_closing_an_inherited_reader_leaves_the_parents_alone);
    reap_children();
    RUN(test_a_process_whose_main_thread_exited_is_alive);
    reap_children();
    RUN(test_opening_a_sparse_segment_that_does_not_fit_says_no_room);
    reap_children();
    RUN(test_opening_a_sparse_segment_backs_every_page);
    reap_children();
    RUN(test_creating_a_ring_larger_than_dev_shm_says_no_room);
    reap_children();
    RUN(test_a_large_ring_is_made_under_a_1_ms_timer_signal);
    reap_children();
    RUN(test_a_segment_of_another_user_is_refused_unless_allowed);
    reap_children();
    RUN(test_a_forked_child_cannot_use_inherited_handles);
    reap_children();
    RUN(test_a_forked_child_cannot_change_the_parents_open_claim);
    reap_children();
    RUN(test_a_forked_child_goes_on_with_its_copy_of_a_heap_ring);
    reap_children();
    RUN(test_a_forked_child_closing_a_heap_rings_handles_frees_them_in_its_copy);
    reap_children();
    RUN(test_an_opener_waits_for_a_slow_creation);
    reap_children();
    RUN(test_a_creation_abandoned_by_a_dead_creator_is_told_apart);
    reap_children();
    RUN(test_a_large_ring_opens_while_another_process_creates_it);
    reap_children();
    RUN(test_exist_ok_opens_a_matching_ring_and_refuses_another);
    reap_children();
    return check_report();
}
