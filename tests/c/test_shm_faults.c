/*
 * test_shm_faults.c — shared rings when another process acts at the worst
 * moment, and when reserving their memory is interrupted or fails.
 *
 * This program is linked with -Wl,--wrap=fcntl,--wrap=fallocate (its own
 * rule in the Makefile): the core's calls to those two go through the
 * wrappers below.
 *
 * __wrap_fcntl can run a step of "the creating process" exactly when the
 * opener asks whether the creator's lock is held, before or after the real
 * call. That is the moment a preempted opener on a busy machine can be
 * caught at, and nothing else in a test can put the creator there reliably.
 * The creator is played by this process through a descriptor of its own:
 * OFD locks belong to the open file description, so the opener's
 * descriptor sees the creator's lock as another process's.
 *
 * __wrap_fallocate plays the kernels and the memory pressure a test machine
 * may not have: tmpfs before 2024 giving up a long fallocate with EINTR when
 * a signal arrived (and keeping nothing of it), a page not found at once
 * (ENOMEM), the room running out part way (ENOSPC).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "procs.h"
#include "layout.h"   /* rr__format_zeroed: lay a ring out as the creator does */

#define BP RR_MODE_BACKPRESSURE

int __real_fcntl(int fd, int cmd, ...);
int __wrap_fcntl(int fd, int cmd, ...);
int __real_fallocate(int fd, int mode, off_t offset, off_t len);
int __wrap_fallocate(int fd, int mode, off_t offset, off_t len);

/* What the creator does when the opener next asks about its lock. */
enum creator_step { STEP_NONE, STEP_FINISH, STEP_GIVE_UP };

static struct {
    enum creator_step step;
    bool before;          /* run the step before the opener's query, or after it */
    int fd;               /* the creator's descriptor, holding the lock */
    const char *name;
    rr_config cfg;
    size_t len;
    bool done;            /* the step ran and the creator's descriptor is closed */
} creator = { .fd = -1, .done = true };

static bool creator_unlock(int fd)
{
    struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
    return __real_fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

/* As rr_shm_create ends: the ring laid out with its magic last, then the
 * lock dropped (STEP_FINISH); or the name removed, then the lock dropped,
 * as a creation that failed (STEP_GIVE_UP). */
static void creator_step_now(void)
{
    if (creator.step == STEP_FINISH) {
        void *mem = mmap(NULL, creator.len, PROT_READ | PROT_WRITE, MAP_SHARED, creator.fd, 0);
        rr_ring *r;
        if (mem == MAP_FAILED || rr__format_zeroed(mem, creator.len, &creator.cfg, &r) != RR_OK)
            return;
        rr_ring_destroy(r);
        munmap(mem, creator.len);
    } else if (shm_unlink(creator.name) != 0) {
        return;
    }
    if (!creator_unlock(creator.fd))
        return;
    close(creator.fd);
    creator.fd = -1;
    creator.done = true;
}

int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);   /* every command the core uses takes a pointer */
    va_end(ap);
    bool query = cmd == F_OFD_GETLK && fd != creator.fd && creator.step != STEP_NONE;
    if (query && creator.before) {
        creator_step_now();
        creator.step = STEP_NONE;
    }
    int rc = __real_fcntl(fd, cmd, arg);
    if (query && !creator.before) {
        creator_step_now();
        creator.step = STEP_NONE;
    }
    return rc;
}

/* Begin a creation as rr_shm_create does and stop before the ring is laid
 * out: the name taken, the creator's lock held, the segment sized. */
static int begin_creation(const char *name, size_t len)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fd < 0 || __real_fcntl(fd, F_OFD_SETLK, &fl) != 0 || ftruncate(fd, (off_t)len) != 0)
        return -1;
    return fd;
}

/* Seconds since the segment's ctime (CLOCK_REALTIME, as the core reads it). */
static double ctime_age(int fd)
{
    struct stat sb;
    struct timespec now;
    if (fstat(fd, &sb) != 0 || clock_gettime(CLOCK_REALTIME, &now) != 0)
        return -1;
    return (double)(now.tv_sec - sb.st_ctim.tv_sec) + (double)(now.tv_nsec - sb.st_ctim.tv_nsec) * 1e-9;
}

/* A creation that has been going on for longer than the grace an opener
 * gives an unlocked segment (500 ms): an opener that finds it unlocked and
 * without a magic calls it "not a ring" at once. */
static int begin_long_creation(const char *name, const rr_config *cfg)
{
    creator.cfg = *cfg;
    creator.len = rr_ring_footprint(cfg);
    creator.name = name;
    creator.done = false;
    creator.fd = begin_creation(name, creator.len);
    if (creator.fd < 0)
        return -1;
    bool old = false;
    for (double give_up = check_now() + 10; !old && check_now() < give_up;) {
        struct timespec nap = { 0, 10000000 };
        nanosleep(&nap, NULL);   /* polling the segment's age, a condition */
        old = ctime_age(creator.fd) > 0.6;
    }
    return old ? creator.fd : -1;
}

static void arm(enum creator_step step, bool before)
{
    creator.before = before;
    creator.step = step;
}

/* ---- the creator finishes while the opener looks ---------------------------------- */

/* The creator stores the magic, then drops its lock. Whenever it does so
 * around the opener's question about the lock, the opener gets the ring: it
 * reads the lock first, so "unlocked" means the magic is there to read. */
static void creator_finishes_at_the_lock_query(bool before)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 64, .mode = BP,
                      .producers = RR_PRODUCERS_SINGLE };
    CHECK(begin_long_creation(name, &cfg) >= 0);
    arm(STEP_FINISH, before);
    rr_ring *r = NULL;
    CHECK_ST(rr_shm_open(name, &r), RR_OK);
    CHECK(creator.done);
    CHECK_EQ(rr_ring_capacity(r), 64);
    rr_writer *w;
    CHECK_ST(rr_writer_open(r, &w), RR_OK);
    CHECK_ST(rr_writer_add(w, "x", 1, 1, NULL, 0), RR_OK);
    rr_writer_close(w);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
}

TEST(test_an_opener_gets_a_ring_whose_creator_finishes_just_before_it_asks_about_the_lock)
{
    creator_finishes_at_the_lock_query(true);
}

TEST(test_an_opener_gets_a_ring_whose_creator_finishes_just_after_it_asks_about_the_lock)
{
    creator_finishes_at_the_lock_query(false);
}

/* ---- the creator gives up while the opener looks -------------------------------- */

/* A creation that failed removes its name before it drops the lock: an
 * opener told "unlocked" at that moment finds the name gone (not found), never
 * a segment "nobody is making". */
TEST(test_an_opener_finds_a_failed_creation_gone_when_it_ends_at_the_lock_query)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 64, .mode = BP,
                      .producers = RR_PRODUCERS_SINGLE };
    CHECK(begin_long_creation(name, &cfg) >= 0);
    arm(STEP_GIVE_UP, true);
    rr_ring *r = NULL;
    CHECK_ST(rr_shm_open(name, &r), RR_SHM_NOT_FOUND);
    CHECK(creator.done);
    CHECK(strstr(rr_last_error(), name) != NULL);
}

/* exist_ok that meets a failed creation makes the ring itself. */
TEST(test_exist_ok_makes_the_ring_when_a_creation_it_waited_for_fails_at_the_lock_query)
{
    const char *name = fresh_name();
    rr_config cfg = { .slot_size = 64, .capacity = 64, .mode = BP,
                      .producers = RR_PRODUCERS_SINGLE };
    CHECK(begin_long_creation(name, &cfg) >= 0);
    arm(STEP_GIVE_UP, true);
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.exist_ok = true;
    rr_ring *r = NULL;
    CHECK_ST(rr_shm_create_opts(name, &cfg, &o, &r), RR_OK);
    CHECK(creator.done);
    CHECK_EQ(rr_ring_capacity(r), 64);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
}

/* ---- reserving a large segment ------------------------------------------------------ */

/* How the next fallocate calls behave (all zero: as the kernel says). */
typedef struct falloc_model {
    off_t interrupt_above;  /* a call longer than this is interrupted by a signal */
    int   nomem_from;       /* calls [nomem_from, nomem_to) find no page: ENOMEM */
    int   nomem_to;
    int   nospc_at;         /* this call finds /dev/shm full: ENOSPC (0: never) */
    int   calls;            /* calls made */
    int   interrupted;      /* calls that failed with EINTR */
    bool  gave_up;          /* interrupted too often: the model stepped aside */
} falloc_model;
static falloc_model falloc;

#define FALLOC_INTERRUPTS_MAX 200   /* the old kernel's endless restarts, cut short */

int __wrap_fallocate(int fd, int mode, off_t offset, off_t len)
{
    int call = falloc.calls++;
    if (falloc.interrupt_above && len > falloc.interrupt_above && !falloc.gave_up) {
        /* a signal came before the call was done; the old tmpfs then
         * gave back everything the call had reserved */
        if (++falloc.interrupted < FALLOC_INTERRUPTS_MAX) {
            errno = EINTR;
            return -1;
        }
        falloc.gave_up = true;
    }
    if (call >= falloc.nomem_from && call < falloc.nomem_to) {
        errno = ENOMEM;
        return -1;
    }
    if (falloc.nospc_at && call == falloc.nospc_at) {
        errno = ENOSPC;
        return -1;
    }
    return __real_fallocate(fd, mode, offset, len);
}

/* A ring of about 130 MiB: three chunks of the core's reservation. */
static rr_config large_cfg(void)
{
    return (rr_config){ .slot_size = 64 * 1024, .capacity = 2048, .mode = BP,
                        .producers = RR_PRODUCERS_SINGLE };
}

static long long backed_bytes(const char *name)
{
    char fs[128];
    struct stat sb;
    snprintf(fs, sizeof fs, "/dev/shm%s", name);
    return stat(fs, &sb) == 0 ? (long long)sb.st_blocks * 512 : -1;
}

static bool exists(const char *name)
{
    return backed_bytes(name) >= 0;
}

/* Before 2024, a tmpfs fallocate that a signal interrupted returned EINTR
 * and kept nothing, so one call for a whole large ring under a periodic
 * signal never finished. The core reserves in chunks and retries only the
 * interrupted one, smaller: the ring is made, every page backed, after a
 * handful of interruptions. */
TEST(test_a_large_ring_is_made_though_long_reservations_are_interrupted)
{
    const char *name = fresh_name();
    rr_config cfg = large_cfg();
    size_t len = rr_ring_footprint(&cfg);
    falloc = (falloc_model){ .interrupt_above = 20 << 20 };   /* a signal every 20 MiB */
    rr_ring *r = NULL;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &r), RR_OK);
    CHECK(!falloc.gave_up);
    CHECK(falloc.interrupted > 0);
    CHECK(falloc.interrupted < 10);
    CHECK(backed_bytes(name) >= (long long)len);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
}

/* tmpfs may find no page at once while memory is reclaimed: the chunk is
 * tried again after a pause, and the ring is made. */
TEST(test_a_reservation_that_finds_no_page_at_once_is_tried_again)
{
    const char *name = fresh_name();
    rr_config cfg = large_cfg();
    size_t len = rr_ring_footprint(&cfg);
    falloc = (falloc_model){ .nomem_from = 0, .nomem_to = 3 };   /* the first chunk, 3 times */
    rr_ring *r = NULL;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &r), RR_OK);
    CHECK(backed_bytes(name) >= (long long)len);
    rr_ring_destroy(r);
    rr_shm_unlink(name);
}

/* ... but not forever: memory that stays short is an error naming the
 * ring and the reason, and the half-made segment is removed. */
TEST(test_a_reservation_that_never_finds_memory_fails_and_removes_the_segment)
{
    const char *name = fresh_name();
    rr_config cfg = large_cfg();
    falloc = (falloc_model){ .nomem_from = 0, .nomem_to = 1000 };
    rr_ring *r = NULL;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &r), RR_SYSTEM);
    CHECK(strstr(rr_last_error(), "cannot reserve memory for shared ring") != NULL);
    CHECK(strstr(rr_last_error(), name) != NULL);
    CHECK(strstr(rr_last_error(), strerror(ENOMEM)) != NULL);
    CHECK(falloc.calls < 20);
    CHECK(!exists(name));
}

/* /dev/shm filling up part way (another process took the room after the
 * core looked) is still "no room", and the half-made segment is removed. */
TEST(test_room_running_out_part_way_says_no_room_in_dev_shm)
{
    const char *name = fresh_name();
    rr_config cfg = large_cfg();
    size_t len = rr_ring_footprint(&cfg);
    falloc = (falloc_model){ .nospc_at = 2 };
    rr_ring *r = NULL;
    CHECK_ST(rr_shm_create(name, &cfg, 0, &r), RR_SYSTEM);
    char want[160];
    snprintf(want, sizeof want, "no room in /dev/shm for shared ring '%s' (%zu bytes)", name, len);
    CHECK(strstr(rr_last_error(), want) != NULL);
    CHECK(!exists(name));
}

/* Run a test, then put the creator back at rest and remove what a failed
 * test left behind. */
#define RUN_FAULT(name)                   \
    do {                                  \
        RUN(name);                        \
        creator.step = STEP_NONE;         \
        if (!creator.done && creator.fd >= 0) \
            close(creator.fd);            \
        creator.done = true;              \
        rr_shm_unlink(name_buf);          \
        falloc = (falloc_model){ 0 };   \
    } while (0)

int main(void)
{
    RUN_FAULT(test_an_opener_gets_a_ring_whose_creator_finishes_just_before_it_asks_about_the_lock);
    RUN_FAULT(test_an_opener_gets_a_ring_whose_creator_finishes_just_after_it_asks_about_the_lock);
    RUN_FAULT(test_an_opener_finds_a_failed_creation_gone_when_it_ends_at_the_lock_query);
    RUN_FAULT(test_exist_ok_makes_the_ring_when_a_creation_it_waited_for_fails_at_the_lock_query);
    RUN_FAULT(test_a_large_ring_is_made_though_long_reservations_are_interrupted);
    RUN_FAULT(test_a_reservation_that_finds_no_page_at_once_is_tried_again);
    RUN_FAULT(test_a_reservation_that_never_finds_memory_fails_and_removes_the_segment);
    RUN_FAULT(test_room_running_out_part_way_says_no_room_in_dev_shm);
    return check_report();
}
