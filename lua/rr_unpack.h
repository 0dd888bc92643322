/*
 * rr_unpack.h — string.unpack's format language applied to a byte range that
 * is not a Lua string, so an event's payload is decoded where it lies.
 */
#ifndef RR_UNPACK_H
#define RR_UNPACK_H

#include <stddef.h>

#include "lua.h"

/* Decode `data` (len bytes) with the format at stack index fmt_arg, starting
 * at the 1-based position at pos_arg (optional, negative counts from the end),
 * exactly as string.unpack(fmt, data, pos) would. Pushes the values and the
 * position after the last byte read; returns how many values it pushed.
 * Raises the errors string.unpack raises (bad format, data too short).
 * valid(ctx) (may be NULL) is asked before each item is read; pushing a
 * string can run finalizers, which may take the bytes away. Raises a "stale
 * <what>" error ("stale event", "stale block") when it answers 0. */
int rr_unpack(lua_State *L, const unsigned char *data, size_t len, int fmt_arg, int pos_arg,
              const char *what, int (*valid)(void *ctx), void *ctx);

#endif /* RR_UNPACK_H */
