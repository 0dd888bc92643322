/*
 * shm.c — rings in POSIX shared memory, created and opened by name.
 *
 * A shared ring is the same block an in-process ring uses (ring.c), in a
 * segment from shm_open.
 *
 * Creating: the name is taken with O_EXCL and, at once, the creator takes an
 * open-file-description write lock on the whole segment (F_OFD_SETLK). It
 * then sizes it with ftruncate (which zeroes it), reserves every page with
 * fallocate, maps it, lays the ring out with the magic written last
 * (release), and only then drops the lock. The lock is what tells an opener
 * "a creation is in progress". It belongs to the open file description the
 * creator's shm_open made, not to a process: it is held while a descriptor
 * of that description is open. The creator's descriptor is O_CLOEXEC (an
 * exec'd program never carries it) and is closed when the creation ends, so
 * normally the lock lives as long as the creation, and a creator that dies
 * mid-way releases it: its half-made segment is told apart from one still
 * being made. One exception: a child that another thread fork()s while the
 * creation runs inherits the descriptor. The creator's F_UNLCK still ends the
 * lock for both; but if the creator dies mid-way, the lock stays held until
 * that child exits too, and openers wait for it as for a creation in progress
 * (up to their timeout).
 *
 * Opening: before anything in the segment is trusted, the opener
 *   1. checks the segment's owner (fstat): a segment owned by another user
 *      could be changed or truncated under this process by that user, so it
 *      is refused unless the caller says allow_other_user;
 *   2. waits for a creation in progress: while the segment is too short for
 *      a header or its magic is not stored yet (read with pread, which never
 *      allocates a page), the creator's lock says whether someone is still
 *      making it. The lock is read first, then the length, the name's link
 *      count and the magic: a creator stores the magic (or removes the name)
 *      before it unlocks, so an opener that saw the lock free always sees
 *      what the creator did before it (read the other way round, a creator
 *      that finishes between the two reads looks like nobody's segment).
 *      Locked: wait, polling, up to the caller's timeout
 *      (RR_SHM_CREATING when it runs out). Not locked: the creator is between
 *      shm_open and taking the lock (a few system calls; the segment's ctime
 *      is then less than RR_SHM_CREATE_GRACE_NS old), or nobody is making it
 *      into a ring (a foreign segment, or a creator that died) —
 *      RR_SHM_INVALID. A segment whose name was removed meanwhile is
 *      RR_SHM_NOT_FOUND;
 *   3. makes sure every page is backed (fallocate when the segment has
 *      holes), so a tmpfs without room is a clear error now and never a
 *      SIGBUS later;
 *   4. maps it and lets rr_ring_attach check the whole header against the
 *      mapped length.
 * Where OFD locks are not available the creator goes on without one and an
 * opener relies on the grace period alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"

/* How long an unlocked segment without a ring in it may be a creation
 * between its shm_open and its lock, counted from the segment's ctime. */
#define RR_SHM_CREATE_GRACE_NS 500000000   /* 500 ms */
#define RR_SHM_POLL_MAX_NS     10000000    /* 10 ms: longest pause while waiting */

static const rr_shm_options rr__shm_defaults = RR_SHM_OPTIONS_INIT;

/* "/name" from "name" or "/name", or RR_INVALID saying which rule it broke. */
static rr_status rr__shm_path(const char *name, char path[RR_SHM_NAME_MAX + 2])
{
    if (!name)
        return rr__fail(RR_INVALID, "no shared ring name given");
    const char *n = name[0] == '/' ? name + 1 : name;
    size_t len = strlen(n);
    if (len == 0)
        return rr__fail(RR_INVALID, "shared ring name is empty");
    if (len > RR_SHM_NAME_MAX)
        return rr__fail(RR_INVALID, "shared ring name of %zu characters is longer than %d",
                        len, RR_SHM_NAME_MAX);
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
        return rr__fail(RR_INVALID, "shared ring name cannot be '%s'", n);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (c == '/')
            return rr__fail(RR_INVALID,
                            "shared ring name '%s' has a '/' after its first character", name);
        if (c <= 0x20 || c >= 0x7f)
            return rr__fail(RR_INVALID,
                            "shared ring name may hold printable ASCII characters only "
                            "(no spaces); byte 0x%02x at %zu", c, i);
    }
    path[0] = '/';
    memcpy(path + 1, n, len + 1);
    return RR_OK;
}

/* The name once, in the command that removes it: a name of RR_SHM_NAME_MAX
 * characters leaves the whole remedy in the message. */
static rr_status rr__shm_exists(const char *path)
{
    return rr__fail(RR_SHM_EXISTS,
                    "shared ring already exists: open it, or create it with exist_ok; if the "
                    "process that made it crashed, remove it first: `python -m rusted_ring "
                    "unlink %s` (or rr_shm_unlink, rr.unlink_shared, Ring.unlink_shared)",
                    path + 1);
}

static rr_status rr__shm_errno(int err, const char *what, const char *path)
{
    if (err == ENOENT)
        return rr__fail(RR_SHM_NOT_FOUND, "shared ring '%s' not found", path);
    if (err == EEXIST)
        return rr__shm_exists(path);
    return rr__fail(RR_SYSTEM, "%s '%s': %s", what, path, strerror(err));
}

static rr_status rr__shm_no_room(const char *path, size_t len)
{
    return rr__fail(RR_SYSTEM, "no room in /dev/shm for shared ring '%s' (%zu bytes)", path, len);
}

/* Reserve every page of [0, len), of which `have` bytes are backed already:
 * 0 or an errno. fallocate itself, not posix_fallocate: where the file
 * system cannot allocate, the latter writes zeros instead, which must never
 * happen to a live ring.
 *
 * A file system with a size that has less room free than the pages missing
 * says ENOSPC before anything is allocated, so a reservation that cannot
 * fit never fills /dev/shm first. The rest goes in chunks of at most
 * RR_SHM_RESERVE_CHUNK, the offset advancing after each:
 *   - EINTR: before a 2024 kernel change tmpfs gave up a fallocate on any
 *     pending signal and freed what that call had reserved, so one call for
 *     a large ring under a periodic signal (a profiler's timer) started from
 *     zero forever. Only the interrupted chunk is tried again, halved each
 *     time (down to a page), so that a try fits between two signals.
 *   - ENOMEM: tmpfs found no page at once (memory being reclaimed); the
 *     chunk is tried again after a short pause, RR_SHM_NOMEM_TRIES times.
 * A reservation that fails part way leaves its finished chunks with the
 * segment: a creator removes the segment; an opener's are pages of the
 * ring's own, which it needs anyway. */
#define RR_SHM_RESERVE_CHUNK ((size_t)64 << 20)   /* 64 MiB */
#define RR_SHM_NOMEM_TRIES   8                    /* pauses of 1, 2, .. 64 ms */

static int rr__shm_fallocate(int fd, size_t len, size_t have)
{
    long page_l = sysconf(_SC_PAGESIZE);
    size_t page = page_l > 0 ? (size_t)page_l : 4096;
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) == 0 && vfs.f_blocks != 0 && len > have &&
        (len - have + page - 1) / page * page >
            (unsigned long long)vfs.f_bavail * vfs.f_frsize)
        return ENOSPC;
    size_t off = 0, chunk = RR_SHM_RESERVE_CHUNK;
    int nomem = 0;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (fallocate(fd, 0, (off_t)off, (off_t)n) == 0) {
            off += n;
            nomem = 0;
            continue;
        }
        int err = errno;
        if (err == EINTR) {
            if (chunk / 2 >= page)
                chunk /= 2;
        } else if (err == ENOMEM && ++nomem < RR_SHM_NOMEM_TRIES) {
            struct timespec nap = { 0, 1000000L << (nomem - 1) };
            nanosleep(&nap, NULL);
        } else {
            return err;
        }
    }
    return 0;
}

/* Make a freshly attached handle own its mapping and name. */
static rr_status rr__shm_handle(rr_ring **out, size_t len, const char *path)
{
    rr_ring *ring = *out;
    ring->shm_name = strdup(path);
    if (!ring->shm_name) {
        rr_ring_destroy(ring);   /* map_len is still 0: the caller unmaps */
        *out = NULL;
        return rr__fail(RR_NO_MEMORY, "cannot allocate the ring's name");
    }
    ring->map_len = len;
    return RR_OK;
}

/* ---- the creator's lock ---------------------------------------------------------- */

/* Take (F_WRLCK) or drop (F_UNLCK) the creator's lock on the whole segment.
 * OFD locks belong to the open file description, so they conflict between
 * two descriptions even within one process, and they go with the last
 * descriptor of it: the creating process dying drops it, unless a child
 * forked meanwhile still holds a copy (see the top of this file). */
static bool rr__shm_lock(int fd, short type)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

/* Does someone hold the creator's lock? */
static bool rr__shm_locked(int fd)
{
    struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* ---- owners ------------------------------------------------------------------------ */

/* " (name)" for a user id, or "" when the user database has no entry. */
static void rr__user_name(uid_t uid, char *out, size_t len)
{
    char buf[1024];
    struct passwd pw, *found = NULL;
    out[0] = '\0';
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found && found->pw_name)
        snprintf(out, len, " (%s)", found->pw_name);
}

/* A segment owned by another user is refused unless the caller allows it:
 * that user could rewrite its cursors and payloads or truncate it (a SIGBUS
 * in every process that has it mapped). */
static rr_status rr__shm_check_owner(const struct stat *sb, const char *path, bool allow)
{
    uid_t me = geteuid();
    if (allow || sb->st_uid == me)
        return RR_OK;
    char owner[80], self[80];
    rr__user_name(sb->st_uid, owner, sizeof owner);
    rr__user_name(me, self, sizeof self);
    return rr__fail(RR_SHM_FOREIGN_OWNER,
                    "shared ring '%s' belongs to user %u%s, not to this process's user %u%s; "
                    "its owner can change or truncate it under this process, so it is opened "
                    "only with allow_other_user",
                    path, (unsigned)sb->st_uid, owner, (unsigned)me, self);
}

/* ---- creating ---------------------------------------------------------------------------- */

/* Lay out a ring in the segment `fd` that this process just took with
 * O_EXCL and holds the creator's lock on. */
static rr_status rr__shm_make(int fd, const char *path, const rr_config *cfg, mode_t mode,
                              size_t len, rr_ring **out)
{
    rr_status st;
    void *mem = MAP_FAILED;
    int err;
    if (fchmod(fd, mode) != 0) {   /* exactly as asked: the umask does not narrow it */
        st = rr__shm_errno(errno, "cannot set the permissions of shared ring", path);
    } else if (ftruncate(fd, (off_t)len) != 0) {
        st = rr__shm_errno(errno, "cannot size shared ring", path);
    } else if ((err = rr__shm_fallocate(fd, len, 0)) != 0 && err != EOPNOTSUPP) {
        /* Reserve the pages now: a tmpfs without room for them would
         * otherwise kill a process with SIGBUS when it first touches one. */
        st = err == ENOSPC ? rr__shm_no_room(path, len)
                           : rr__shm_errno(err, "cannot reserve memory for shared ring", path);
    } else if ((mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
               MAP_FAILED) {
        st = rr__shm_errno(errno, "cannot map shared ring", path);
    } else {
        st = rr__format_zeroed(mem, len, cfg, out);   /* the magic last, with release */
        if (st == RR_OK)
            st = rr__shm_handle(out, len, path);
    }
    if (st != RR_OK && mem != MAP_FAILED)
        munmap(mem, len);
    return st;
}

static void rr__describe(char *out, size_t len, uint64_t capacity, size_t slot_size,
                         rr_mode mode, rr_producers producers)
{
    snprintf(out, len, "slot_size=%zu, capacity=%llu, %s, %s producer", slot_size,
             (unsigned long long)capacity,
             mode == RR_MODE_OVERWRITE ? "overwrite" : "backpressure",
             producers == RR_PRODUCERS_MULTI ? "multi" : "single");
}

/* exist_ok found a ring: it must be the one the caller asked for. */
static rr_status rr__shm_same_geometry(rr_ring *ring, const rr_config *cfg, const char *path)
{
    if (rr_ring_capacity(ring) == cfg->capacity && rr_ring_slot_size(ring) == cfg->slot_size &&
        rr_ring_mode(ring) == cfg->mode && rr_ring_producers(ring) == cfg->producers)
        return RR_OK;
    char have[96], want[96];
    rr__describe(have, sizeof have, rr_ring_capacity(ring), rr_ring_slot_size(ring),
                 rr_ring_mode(ring), rr_ring_producers(ring));
    rr__describe(want, sizeof want, cfg->capacity, cfg->slot_size, cfg->mode, cfg->producers);
    return rr__fail(RR_SHM_EXISTS,
                    "shared ring '%s' already exists with another geometry (%s); asked for %s",
                    path, have, want);
}

static rr_status rr__shm_open_path(const char *path, const rr_shm_options *o, rr_ring **out);

rr_status rr_shm_create_opts(const char *name, const rr_config *cfg, const rr_shm_options *opts,
                             rr_ring **out)
{
    const rr_shm_options *o = opts ? opts : &rr__shm_defaults;
    char path[RR_SHM_NAME_MAX + 2];
    rr_status st = rr__shm_path(name, path);
    if (st != RR_OK)
        return st;
    if (!out)
        return rr__fail(RR_INVALID, "no place for the ring handle");
    if (o->permissions > 0777)
        return rr__fail(RR_INVALID, "permissions 0%o are not file mode bits (0 .. 0777)",
                        o->permissions);
    mode_t mode = o->permissions ? (mode_t)o->permissions : 0600;
    size_t len = rr_ring_footprint(cfg);
    if (len == 0)
        return rr_ring_format(NULL, 0, cfg, out);   /* names what is wrong with cfg */
    int fd;
    /* exist_ok: a ring removed between our create and our open is made again */
    for (int attempt = 0;; attempt++) {
        fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0)
            break;
        if (errno != EEXIST || !o->exist_ok)
            return rr__shm_errno(errno, "cannot create shared ring", path);
        st = rr__shm_open_path(path, o, out);
        if (st == RR_SHM_NOT_FOUND && attempt < 8)
            continue;
        if (st != RR_OK)
            return st;
        st = rr__shm_same_geometry(*out, cfg, path);
        if (st != RR_OK) {
            rr_ring_destroy(*out);
            *out = NULL;
        }
        return st;
    }
    /* The name is ours and the segment half made until the end: a thread
     * cancelled on the way (fallocate and close are cancellation points)
     * would leave it so, locked, for as long as this process lives. */
    int cancel = rr__cancel_off();
    /* Openers that find the segment before its magic see this lock and wait
     * (see the top of this file). Without OFD locks, they rely on the grace. */
    bool locked = rr__shm_lock(fd, F_WRLCK);
    st = rr__shm_make(fd, path, cfg, mode, len, out);
    if (st != RR_OK)
        shm_unlink(path);   /* ours; an opener finds it gone (or unlocked, without magic) */
    if (locked)
        rr__shm_lock(fd, F_UNLCK);   /* after the magic: openers go on */
    close(fd);
    rr__cancel_restore(cancel);
    return st;
}

rr_status rr_shm_create(const char *name, const rr_config *cfg, unsigned permissions,
                        rr_ring **out)
{
    rr_shm_options o = RR_SHM_OPTIONS_INIT;
    o.permissions = permissions;
    return rr_shm_create_opts(name, cfg, &o, out);
}

/* ---- opening ----------------------------------------------------------------------------- */

/* The ring's magic, read without mapping the segment (a mapping's first
 * touch of a page tmpfs has no room for is a SIGBUS; pread of a hole reads
 * zeros). 0 while the creator has not stored it. */
static uint64_t rr__shm_peek_magic(int fd)
{
    uint64_t magic = 0;
    if (pread(fd, &magic, sizeof magic, offsetof(rr_geometry, magic)) != (ssize_t)sizeof magic)
        return 0;
    return magic;
}

/* Less than RR_SHM_CREATE_GRACE_NS since the segment's ctime (set when it
 * was made and by the creator's ftruncate), and since we began to wait. A
 * ctime further in the future than that (the clock was set back) counts as
 * old, so that no wait is ever unbounded on it. */
static bool rr__shm_young(const struct stat *sb, int64_t waited_ns)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age = (int64_t)(now.tv_sec - sb->st_ctim.tv_sec) * 1000000000LL +
                  (now.tv_nsec - sb->st_ctim.tv_nsec);
    return age > -RR_SHM_CREATE_GRACE_NS && age < RR_SHM_CREATE_GRACE_NS &&
           waited_ns < RR_SHM_CREATE_GRACE_NS;
}

static rr_status rr__shm_not_a_ring(const char *path, size_t len)
{
    if (len < sizeof(rr_layout))
        return rr__fail(RR_SHM_INVALID,
                        "shared segment '%s' is not a ring: %zu bytes cannot hold a ring header "
                        "of %zu bytes, and no process is creating it", path, len,
                        sizeof(rr_layout));
    return rr__fail(RR_SHM_INVALID,
                    "shared segment '%s' is not a ring: it has no ring header (magic 0) and no "
                    "process is creating it (a foreign segment, or its creator died while "
                    "making it)", path);
}

/* Check the owner, then wait (as `o` says) until the segment holds a ring
 * whose magic is stored; its length then goes in *len. */
static rr_status rr__shm_wait_made(int fd, const char *path, const rr_shm_options *o,
                                   size_t *len)
{
    int64_t start = rr__now_ns();
    int64_t pause = 100000;   /* 0.1 ms, doubling up to RR_SHM_POLL_MAX_NS */
    for (;;) {
        /* the lock first: a creator stores the magic (or unlinks) before it
         * unlocks, so a segment found unlocked here shows its magic, or its
         * name gone, to the fstat and pread after it (top of this file) */
        bool locked = rr__shm_locked(fd);
        struct stat sb;
        if (fstat(fd, &sb) != 0)
            return rr__shm_errno(errno, "cannot inspect shared ring", path);
        rr_status st = rr__shm_check_owner(&sb, path, o->allow_other_user);
        if (st != RR_OK)
            return st;
        *len = (size_t)sb.st_size;
        if (*len >= sizeof(rr_layout) && rr__shm_peek_magic(fd) != 0)
            return RR_OK;   /* made (or foreign bytes: rr_ring_attach will tell) */
        int64_t waited = rr__now_ns() - start;
        if (!locked && sb.st_nlink == 0)
            return rr__fail(RR_SHM_NOT_FOUND,
                            "shared ring '%s' not found (removed before it was made)", path);
        if (!locked && !rr__shm_young(&sb, waited))
            return rr__shm_not_a_ring(path, *len);
        if (o->timeout_ns >= 0 && waited >= o->timeout_ns)
            return rr__fail(RR_SHM_CREATING,
                            "shared ring '%s' is still being created by another process; "
                            "try again, or wait longer (timeout)", path);
        int64_t nap = pause;
        if (o->timeout_ns >= 0 && o->timeout_ns - waited < nap)
            nap = o->timeout_ns - waited;
        struct timespec ts = { (time_t)(nap / 1000000000LL), (long)(nap % 1000000000LL) };
        nanosleep(&ts, NULL);
        if (pause < RR_SHM_POLL_MAX_NS)
            pause *= 2;
    }
}

/* Make sure every page of the segment is backed. tmpfs counts the pages a
 * file has in st_blocks: when they cover the length exactly there is no
 * hole (the common case, free of cost); otherwise fallocate fills the holes
 * and leaves the pages already there, and the ring's bytes, as they are. */
static rr_status rr__shm_back(int fd, const char *path, size_t len)
{
    struct stat sb;
    long page = sysconf(_SC_PAGESIZE);
    size_t pages_len = page > 0 ? (len + (size_t)page - 1) / (size_t)page * (size_t)page : len;
    uint64_t have = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
    if (have == (uint64_t)pages_len)
        return RR_OK;
    int err = rr__shm_fallocate(fd, len, have < pages_len ? (size_t)have : pages_len);
    if (err == 0 || err == EOPNOTSUPP)   /* EOPNOTSUPP: not tmpfs; nothing more to do */
        return RR_OK;
    if (err == ENOSPC)
        return rr__shm_no_room(path, len);
    return rr__shm_errno(err, "cannot reserve memory for shared ring", path);
}

static rr_status rr__shm_open_path(const char *path, const rr_shm_options *o, rr_ring **out)
{
    int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return rr__shm_errno(errno, "cannot open shared ring", path);
    size_t len = 0;
    rr_status st = rr__shm_wait_made(fd, path, o, &len);
    if (st == RR_OK)
        st = rr__shm_back(fd, path, len);
    if (st != RR_OK) {
        close(fd);
        return st;
    }
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (mem == MAP_FAILED)
        return rr__shm_errno(err, "cannot map shared ring", path);
    st = rr_ring_attach(mem, len, out);
    if (st == RR_OK)
        st = rr__shm_handle(out, len, path);
    if (st != RR_OK) {
        if (st == RR_SHM_INVALID || st == RR_SHM_INCOMPATIBLE) {
            char why[512];   /* rr_ring_attach's message, shorter than this */
            snprintf(why, sizeof why, "%s", rr_last_error());
            st = rr__fail(st, "shared segment '%s' refused: %s", path, why);
        }
        munmap(mem, len);
    }
    return st;
}

rr_status rr_shm_open_opts(const char *name, const rr_shm_options *opts, rr_ring **out)
{
    char path[RR_SHM_NAME_MAX + 2];
    rr_status st = rr__shm_path(name, path);
    if (st != RR_OK)
        return st;
    if (!out)
        return rr__fail(RR_INVALID, "no place for the ring handle");
    return rr__shm_open_path(path, opts ? opts : &rr__shm_defaults, out);
}

rr_status rr_shm_open(const char *name, rr_ring **out)
{
    return rr_shm_open_opts(name, NULL, out);
}

rr_status rr_shm_unlink(const char *name)
{
    char path[RR_SHM_NAME_MAX + 2];
    rr_status st = rr__shm_path(name, path);
    if (st != RR_OK)
        return st;
    if (shm_unlink(path) != 0)
        return rr__shm_errno(errno, "cannot remove shared ring", path);
    return RR_OK;
}
