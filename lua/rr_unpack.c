/*
 * rr_unpack.c — string.unpack over an event's payload, without first copying
 * the payload into a Lua string.
 *
 * It follows the format language of the Lua 5.4 manual (section 6.4.2) item by
 * item: endianness and alignment options, integers of 1 to 16 bytes, floats,
 * fixed, length-prefixed and zero-terminated strings, padding. Offsets are
 * counted from the start of the payload, as string.unpack counts them from the
 * start of its string, so alignment comes out the same. The event tests
 * compare every format against string.unpack on ev:data().
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lauxlib.h"
#include "rr_unpack.h"

#define MAX_INT_SIZE 16   /* widest integer option, as in string.pack */

/* The alignment `!` sets without a size: that of the widest native scalar. */
typedef union { double d; void *p; lua_Number n; lua_Integer i; long l; } native_max;
#define NATIVE_ALIGN ((int)_Alignof(native_max))

typedef enum {
    OPT_INT, OPT_UINT, OPT_FLOAT, OPT_DOUBLE, OPT_NUMBER,
    OPT_CHARS,     /* c[n]: n raw bytes */
    OPT_LSTRING,   /* s[n]: a length of n bytes, then that many bytes */
    OPT_ZSTRING,   /* z: bytes up to a zero byte */
    OPT_PAD,       /* x: one byte skipped */
    OPT_ALIGN,     /* X<op>: skip to the alignment of op */
    OPT_NONE       /* endianness, alignment setting, space */
} opt_kind;

typedef struct fmt_state {
    lua_State  *L;
    int         fmt_arg;
    const char *p;          /* next character of the format */
    bool        little;     /* current endianness */
    int         max_align;  /* current maximum alignment (1 until `!`) */
} fmt_state;

static bool native_little(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* Digits after an option letter, or `dflt` when there are none. */
static int read_count(fmt_state *f, int dflt)
{
    if (*f->p < '0' || *f->p > '9')
        return dflt;
    int n = 0;
    while (*f->p >= '0' && *f->p <= '9' && n <= (INT_MAX - 9) / 10)
        n = n * 10 + (*f->p++ - '0');
    return n;
}

/* A size for i, I, s and !: 1 .. 16 bytes. */
static int read_int_size(fmt_state *f, int dflt)
{
    int n = read_count(f, dflt);
    if (n < 1 || n > MAX_INT_SIZE)
        return luaL_error(f->L, "integral size (%d) out of limits [1,%d]", n, MAX_INT_SIZE);
    return n;
}

/* Read one option letter (and its count); *size is the bytes it occupies. */
static opt_kind read_option(fmt_state *f, int *size)
{
    char c = *f->p++;
    *size = 0;
    switch (c) {
    case 'b': *size = 1; return OPT_INT;
    case 'B': *size = 1; return OPT_UINT;
    case 'h': *size = (int)sizeof(short); return OPT_INT;
    case 'H': *size = (int)sizeof(short); return OPT_UINT;
    case 'l': *size = (int)sizeof(long); return OPT_INT;
    case 'L': *size = (int)sizeof(long); return OPT_UINT;
    case 'j': *size = (int)sizeof(lua_Integer); return OPT_INT;
    case 'J': *size = (int)sizeof(lua_Integer); return OPT_UINT;
    case 'T': *size = (int)sizeof(size_t); return OPT_UINT;
    case 'f': *size = (int)sizeof(float); return OPT_FLOAT;
    case 'd': *size = (int)sizeof(double); return OPT_DOUBLE;
    case 'n': *size = (int)sizeof(lua_Number); return OPT_NUMBER;
    case 'i': *size = read_int_size(f, (int)sizeof(int)); return OPT_INT;
    case 'I': *size = read_int_size(f, (int)sizeof(int)); return OPT_UINT;
    case 's': *size = read_int_size(f, (int)sizeof(size_t)); return OPT_LSTRING;
    case 'c':
        *size = read_count(f, -1);
        if (*size == -1)
            luaL_error(f->L, "missing size for format option 'c'");
        return OPT_CHARS;
    case 'z': return OPT_ZSTRING;
    case 'x': *size = 1; return OPT_PAD;
    case 'X': return OPT_ALIGN;
    case ' ': return OPT_NONE;
    case '<': f->little = true; return OPT_NONE;
    case '>': f->little = false; return OPT_NONE;
    case '=': f->little = native_little(); return OPT_NONE;
    case '!': f->max_align = read_int_size(f, NATIVE_ALIGN); return OPT_NONE;
    default:
        luaL_argerror(f->L, f->fmt_arg, lua_pushfstring(f->L, "invalid format option '%c'", c));
        return OPT_NONE;
    }
}

/* Padding needed before an item of alignment `align` at offset `pos`. */
static size_t padding_for(fmt_state *f, int align, size_t pos)
{
    if (align <= 1)
        return 0;
    if (align > f->max_align)
        align = f->max_align;
    if ((align & (align - 1)) != 0)
        luaL_argerror(f->L, f->fmt_arg, "format asks for alignment not power of 2");
    return (size_t)(align - (int)(pos & (size_t)(align - 1))) & (size_t)(align - 1);
}

/* The next item: its kind, size and the padding before it. */
static opt_kind next_item(fmt_state *f, size_t pos, int *size, size_t *pad)
{
    opt_kind k = read_option(f, size);
    int align = *size;
    if (k == OPT_ALIGN) {
        if (*f->p == '\0' || read_option(f, &align) == OPT_CHARS || align == 0)
            luaL_argerror(f->L, f->fmt_arg, "invalid next option for option 'X'");
    }
    *pad = (k == OPT_CHARS || k == OPT_ZSTRING) ? 0 : padding_for(f, align, pos);
    return k;
}

/* An integer of `size` bytes; wider than lua_Integer only if the extra bytes
 * are pure sign (or zero) extension. */
static lua_Integer read_int(fmt_state *f, const unsigned char *p, int size, bool is_signed)
{
    const int width = (int)sizeof(lua_Integer);
    int used = size < width ? size : width;
    lua_Unsigned v = 0;
    for (int i = used - 1; i >= 0; i--)
        v = (v << 8) | p[f->little ? i : size - 1 - i];
    if (size < width && is_signed) {
        lua_Unsigned sign = (lua_Unsigned)1 << (size * 8 - 1);
        v = (v ^ sign) - sign;
    } else if (size > width) {
        unsigned char fill = (is_signed && (lua_Integer)v < 0) ? 0xff : 0;
        for (int i = width; i < size; i++)
            if (p[f->little ? i : size - 1 - i] != fill)
                luaL_error(f->L, "%d-byte integer does not fit into Lua Integer", size);
    }
    return (lua_Integer)v;
}

/* A float, double or lua_Number stored in the current endianness. */
static lua_Number read_float(fmt_state *f, const unsigned char *p, opt_kind k, int size)
{
    unsigned char buf[sizeof(double) > sizeof(lua_Number) ? sizeof(double) : sizeof(lua_Number)];
    bool swap = f->little != native_little();
    for (int i = 0; i < size; i++)
        buf[i] = p[swap ? size - 1 - i : i];
    if (k == OPT_FLOAT) { float x; memcpy(&x, buf, sizeof x); return (lua_Number)x; }
    if (k == OPT_DOUBLE) { double x; memcpy(&x, buf, sizeof x); return (lua_Number)x; }
    lua_Number x;
    memcpy(&x, buf, sizeof x);
    return x;
}

/* Push one item found at data + pos; returns the bytes it took beyond `size`
 * (the body of s and z strings). */
static size_t push_item(fmt_state *f, opt_kind k, int size, const unsigned char *data,
                        size_t len, size_t pos)
{
    lua_State *L = f->L;
    const unsigned char *p = data + pos;
    switch (k) {
    case OPT_INT: case OPT_UINT:
        lua_pushinteger(L, read_int(f, p, size, k == OPT_INT));
        return 0;
    case OPT_FLOAT: case OPT_DOUBLE: case OPT_NUMBER:
        lua_pushnumber(L, read_float(f, p, k, size));
        return 0;
    case OPT_CHARS:
        lua_pushlstring(L, (const char *)p, (size_t)size);
        return 0;
    case OPT_LSTRING: {
        size_t n = (size_t)read_int(f, p, size, false);
        if (n > len - pos - (size_t)size)
            luaL_error(L, "data string too short");
        lua_pushlstring(L, (const char *)p + size, n);
        return n;
    }
    case OPT_ZSTRING: {
        const unsigned char *end = pos < len ? memchr(p, 0, len - pos) : NULL;
        if (end == NULL)
            luaL_error(L, "unfinished string for format 'z'");
        lua_pushlstring(L, (const char *)p, (size_t)(end - p));
        return (size_t)(end - p) + 1;
    }
    default:
        return 0;   /* padding and settings push nothing */
    }
}

/* 1-based start position, negative from the end, as string.unpack reads it. */
static size_t start_offset(lua_State *L, int pos_arg, size_t len)
{
    lua_Integer i = luaL_optinteger(L, pos_arg, 1);
    if (i > 0)
        ; /* as given */
    else if (i == 0 || (lua_Unsigned)-(i + 1) >= len)
        i = 1;
    else
        i = (lua_Integer)len + i + 1;
    luaL_argcheck(L, (lua_Unsigned)i - 1 <= len, pos_arg, "initial position out of string");
    return (size_t)i - 1;
}

int rr_unpack(lua_State *L, const unsigned char *data, size_t len, int fmt_arg, int pos_arg,
              const char *what, int (*valid)(void *ctx), void *ctx)
{
    fmt_state f = { L, fmt_arg, luaL_checkstring(L, fmt_arg), native_little(), 1 };
    size_t pos = start_offset(L, pos_arg, len);
    int pushed = 0;
    while (*f.p != '\0') {
        int size;
        size_t pad;
        opt_kind k = next_item(&f, pos, &size, &pad);
        if (pad + (size_t)size > len - pos)
            luaL_error(L, "data string too short");
        pos += pad;
        luaL_checkstack(L, 2, "too many results");
        if (valid && !valid(ctx))
            luaL_error(L, "stale %s: its reader moved on while it was being unpacked", what);
        pos += push_item(&f, k, size, data, len, pos) + (size_t)size;
        if (k < OPT_PAD)
            pushed++;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return pushed + 1;
}
