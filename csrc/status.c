/*
 * status.c — names for every rr_status and the per-thread detailed message.
 *
 * rr__fail() records a message for the calling thread and returns the status,
 * so an error path reads `return rr__fail(RR_INVALID, "capacity must be >= 1")`.
 * Only failures format a message; outcomes such as full or empty cost nothing.
 */
#include <stdarg.h>
#include <stdio.h>

#include "layout.h"

static const char *const rr__status_names[RR_STATUS_COUNT] = {
    [RR_OK]               = "ok",
    [RR_EMPTY]            = "no event available",
    [RR_FULL]             = "ring full",
    [RR_TIMEOUT]          = "timed out",
    [RR_CLOSED]           = "ring closed",
    [RR_TOO_LARGE]        = "payload larger than the slot",
    [RR_INVALID]          = "invalid argument",
    [RR_TOO_MANY_READERS] = "too many readers",
    [RR_WRITER_BUSY]      = "the ring already has a writer",
    [RR_IN_USE]           = "in use",
    [RR_NO_MEMORY]        = "out of memory",
    [RR_SHM_NOT_FOUND]    = "shared ring not found",
    [RR_SHM_EXISTS]       = "shared ring already exists",
    [RR_SHM_INVALID]      = "not a valid ring segment",
    [RR_SHM_INCOMPATIBLE] = "ring segment of an incompatible layout",
    [RR_SYSTEM]           = "system call failed",
    [RR_SHM_CREATING]     = "shared ring still being created",
    [RR_SHM_FOREIGN_OWNER] = "shared ring owned by another user",
    [RR_FORKED]           = "handle belongs to another process",
};

static _Thread_local char rr__message[1024];  /* room for a 200-character name, twice */

const char *rr_strerror(rr_status status)
{
    if ((unsigned)status >= RR_STATUS_COUNT)
        return "unknown status";
    return rr__status_names[status];
}

const char *rr_last_error(void)
{
    return rr__message[0] ? rr__message : "no error";
}

rr_status rr__fail(rr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rr__message, sizeof rr__message, fmt, ap);
    va_end(ap);
    return st;
}
