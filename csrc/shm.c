/*
 * shm.c — rings in POSIX shared memory, created and opened by name.
 *
 * A shared ring is the same block an in-process ring uses (ring.c), in a
 * segment from shm_open. Creating: the name is taken with O_EXCL, sized with
 * ftruncate (which zeroes it), mapped, and laid out with the magic written
 * last. Opening: the segment's real size is read first, the magic with
 * acquire, then rr_ring_attach checks the whole header against that size
 * before anything else in the segment is used.
 *
 * A segment caught between its creator's shm_open and the magic looks empty
 * (size 0, or all-zero header). Opening waits up to RR_SHM_CREATE_WAIT_NS
 * for it to fill in before calling it invalid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"

#define RR_SHM_CREATE_WAIT_NS 200000000   /* 200 ms */

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

static rr_status rr__shm_errno(int err, const char *what, const char *path)
{
    if (err == ENOENT)
        return rr__fail(RR_SHM_NOT_FOUND, "shared ring '%s' not found", path);
    if (err == EEXIST)
        return rr__fail(RR_SHM_EXISTS, "shared ring '%s' already exists", path);
    return rr__fail(RR_SYSTEM, "%s '%s': %s", what, path, strerror(err));
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

rr_status rr_shm_create(const char *name, const rr_config *cfg, unsigned permissions,
                        rr_ring **out)
{
    char path[RR_SHM_NAME_MAX + 2];
    rr_status st = rr__shm_path(name, path);
    if (st != RR_OK)
        return st;
    if (!out)
        return rr__fail(RR_INVALID, "no place for the ring handle");
    if (permissions > 0777)
        return rr__fail(RR_INVALID, "permissions 0%o are not file mode bits (0 .. 0777)",
                        permissions);
    mode_t mode = permissions ? (mode_t)permissions : 0600;
    size_t len = rr_ring_footprint(cfg);
    if (len == 0)
        return rr_ring_format(NULL, 0, cfg, out);   /* names what is wrong with cfg */
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return rr__shm_errno(errno, "cannot create shared ring", path);
    void *mem = MAP_FAILED;
    if (fchmod(fd, mode) != 0) {   /* exactly as asked: the umask does not narrow it */
        st = rr__shm_errno(errno, "cannot set the permissions of shared ring", path);
    } else if (ftruncate(fd, (off_t)len) != 0) {
        st = rr__shm_errno(errno, "cannot size shared ring", path);
    } else if ((errno = posix_fallocate(fd, 0, (off_t)len)) != 0) {
        /* Reserve the pages now: a tmpfs without room for them would
         * otherwise kill a process with SIGBUS when it first touches one. */
        st = errno == ENOSPC
                 ? rr__fail(RR_SYSTEM, "no room for shared ring '%s': %zu bytes do not fit "
                                       "in /dev/shm", path, len)
                 : rr__shm_errno(errno, "cannot reserve memory for shared ring", path);
    } else if ((mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
               MAP_FAILED) {
        st = rr__shm_errno(errno, "cannot map shared ring", path);
    } else {
        st = rr__format_zeroed(mem, len, cfg, out);
        if (st == RR_OK)
            st = rr__shm_handle(out, len, path);
    }
    close(fd);
    if (st != RR_OK) {
        if (mem != MAP_FAILED)
            munmap(mem, len);
        shm_unlink(path);   /* ours; an opener found no magic and refuses it */
    }
    return st;
}

/* The segment is still being created: no size yet, or no magic in a header
 * that is otherwise zero. */
static bool rr__shm_unfinished(int fd, size_t *len)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return false;
    *len = (size_t)sb.st_size;
    if (*len == 0)
        return true;
    if (*len < sizeof(rr_layout))
        return false;
    bool unfinished = false;
    void *mem = mmap(NULL, sizeof(rr_layout), PROT_READ, MAP_SHARED, fd, 0);
    if (mem != MAP_FAILED) {
        unfinished = rr__read_magic(mem) == 0;
        munmap(mem, sizeof(rr_layout));
    }
    return unfinished;
}

rr_status rr_shm_open(const char *name, rr_ring **out)
{
    char path[RR_SHM_NAME_MAX + 2];
    rr_status st = rr__shm_path(name, path);
    if (st != RR_OK)
        return st;
    if (!out)
        return rr__fail(RR_INVALID, "no place for the ring handle");
    int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return rr__shm_errno(errno, "cannot open shared ring", path);
    size_t len = 0;
    int64_t give_up = rr__now_ns() + RR_SHM_CREATE_WAIT_NS;
    while (rr__shm_unfinished(fd, &len) && rr__now_ns() < give_up) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    if (len < sizeof(rr_layout)) {
        close(fd);
        return rr__fail(RR_SHM_INVALID,
                        "shared segment '%s' is not a ring: %zu bytes cannot hold a ring "
                        "header of %zu bytes", path, len, sizeof(rr_layout));
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
            char why[200];
            snprintf(why, sizeof why, "%s", rr_last_error());
            st = rr__fail(st, "shared segment '%s' refused: %s", path, why);
        }
        munmap(mem, len);
    }
    return st;
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
