/*  hsn_mp: bounds-checked, allocation-free msgpack reader. See hsn_mp.h. */
#include "hsn_mp.h"

#include <errno.h>
#include <string.h>

void
hsn_mp_reader_init (hsn_mp_reader_t *r, const void *buf, size_t len)
{
    r->p = (const uint8_t *) buf;
    r->end = r->p + len;
}

static inline uint64_t
load_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/*  Length-prefixed payload (str/bin/ext): n-byte big-endian length after the
 *  type byte, then `extra` bytes (ext type), then the payload. */
static int
read_sized (hsn_mp_reader_t *r, hsn_mp_obj_t *o, hsn_mp_type_t type,
            int n, int extra)
{
    size_t left = hsn_mp_remaining (r);
    if (left < (size_t) (1 + n + extra))
        return -EBADMSG;
    uint64_t len = load_be (r->p + 1, n);
    if (len > left - 1 - (size_t) n - (size_t) extra)
        return -EBADMSG;
    o->type = type;
    o->v.s.ext_type = extra ? (int8_t) r->p[1 + n] : 0;
    o->v.s.ptr = (const char *) (r->p + 1 + n + extra);
    o->v.s.len = (uint32_t) len;
    o->raw = r->p;
    o->raw_len = (size_t) (1 + n + extra) + (size_t) len;
    r->p += o->raw_len;
    return 0;
}

static int
read_fixext (hsn_mp_reader_t *r, hsn_mp_obj_t *o, uint32_t len)
{
    if (hsn_mp_remaining (r) < 2 + (size_t) len)
        return -EBADMSG;
    o->type = HSN_MP_EXT;
    o->v.s.ext_type = (int8_t) r->p[1];
    o->v.s.ptr = (const char *) (r->p + 2);
    o->v.s.len = len;
    o->raw = r->p;
    o->raw_len = 2 + len;
    r->p += o->raw_len;
    return 0;
}

/*  Fixed-width scalar: n bytes after the type byte. */
static int
need (hsn_mp_reader_t *r, int n)
{
    return hsn_mp_remaining (r) >= (size_t) (1 + n) ? 0 : -EBADMSG;
}

static int
read_container (hsn_mp_reader_t *r, hsn_mp_obj_t *o, hsn_mp_type_t type,
                int n, uint32_t count)
{
    if (n && need (r, n))
        return -EBADMSG;
    if (n)
        count = (uint32_t) load_be (r->p + 1, n);
    /*  Every element takes at least one byte: a count the remaining bytes
     *  cannot hold is a lie, and we refuse it before anyone trusts it. */
    uint64_t min_bytes = (uint64_t) count * (type == HSN_MP_MAP ? 2 : 1);
    if (min_bytes > hsn_mp_remaining (r) - 1 - (size_t) n)
        return -EBADMSG;
    o->type = type;
    o->v.c.count = count;
    o->v.c.body = r->p + 1 + n;
    o->raw = r->p;
    o->raw_len = (size_t) (1 + n);
    r->p += 1 + n;
    return 0;
}

int
hsn_mp_next (hsn_mp_reader_t *r, hsn_mp_obj_t *obj)
{
    if (r->p >= r->end)
        return -EBADMSG;
    hsn_mp_obj_t o;
    const uint8_t *p = r->p;
    uint8_t b = p[0];
    int rc = 0;
    int width = 0;

    if (b <= 0x7f) {
        o.type = HSN_MP_UINT; o.v.u = b;
    }
    else if (b >= 0xe0) {
        o.type = HSN_MP_INT; o.v.i = (int8_t) b;
    }
    else if (b >= 0x80 && b <= 0x8f)
        return read_container (r, obj, HSN_MP_MAP, 0, b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f)
        return read_container (r, obj, HSN_MP_ARRAY, 0, b & 0x0f);
    else if (b >= 0xa0 && b <= 0xbf) {
        uint32_t len = b & 0x1f;
        if (hsn_mp_remaining (r) < 1 + (size_t) len)
            return -EBADMSG;
        o.type = HSN_MP_STR;
        o.v.s.ptr = (const char *) (p + 1);
        o.v.s.len = len;
        o.v.s.ext_type = 0;
        o.raw = p;
        o.raw_len = 1 + len;
        r->p += o.raw_len;
        *obj = o;
        return 0;
    }
    else switch (b) {
        case 0xc0: o.type = HSN_MP_NIL; break;
        case 0xc2: o.type = HSN_MP_BOOL; o.v.b = false; break;
        case 0xc3: o.type = HSN_MP_BOOL; o.v.b = true; break;
        case 0xc4: return read_sized (r, obj, HSN_MP_BIN, 1, 0);
        case 0xc5: return read_sized (r, obj, HSN_MP_BIN, 2, 0);
        case 0xc6: return read_sized (r, obj, HSN_MP_BIN, 4, 0);
        case 0xc7: return read_sized (r, obj, HSN_MP_EXT, 1, 1);
        case 0xc8: return read_sized (r, obj, HSN_MP_EXT, 2, 1);
        case 0xc9: return read_sized (r, obj, HSN_MP_EXT, 4, 1);
        case 0xca: {
            if ((rc = need (r, 4)))
                return rc;
            uint32_t bits = (uint32_t) load_be (p + 1, 4);
            float f;
            memcpy (&f, &bits, 4);
            o.type = HSN_MP_FLOAT; o.v.f = f; width = 4;
            break;
        }
        case 0xcb: {
            if ((rc = need (r, 8)))
                return rc;
            uint64_t bits = load_be (p + 1, 8);
            memcpy (&o.v.f, &bits, 8);
            o.type = HSN_MP_FLOAT; width = 8;
            break;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            width = 1 << (b - 0xcc);
            if ((rc = need (r, width)))
                return rc;
            o.type = HSN_MP_UINT; o.v.u = load_be (p + 1, width);
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            width = 1 << (b - 0xd0);
            if ((rc = need (r, width)))
                return rc;
            uint64_t u = load_be (p + 1, width);
            int64_t v;
            /*  sign-extend from width bytes */
            if (width < 8 && (u >> (width * 8 - 1)) & 1)
                u |= ~((UINT64_C (1) << (width * 8)) - 1);
            memcpy (&v, &u, 8);
            if (v >= 0) { o.type = HSN_MP_UINT; o.v.u = (uint64_t) v; }
            else        { o.type = HSN_MP_INT;  o.v.i = v; }
            break;
        }
        case 0xd4: return read_fixext (r, obj, 1);
        case 0xd5: return read_fixext (r, obj, 2);
        case 0xd6: return read_fixext (r, obj, 4);
        case 0xd7: return read_fixext (r, obj, 8);
        case 0xd8: return read_fixext (r, obj, 16);
        case 0xd9: return read_sized (r, obj, HSN_MP_STR, 1, 0);
        case 0xda: return read_sized (r, obj, HSN_MP_STR, 2, 0);
        case 0xdb: return read_sized (r, obj, HSN_MP_STR, 4, 0);
        case 0xdc: return read_container (r, obj, HSN_MP_ARRAY, 2, 0);
        case 0xdd: return read_container (r, obj, HSN_MP_ARRAY, 4, 0);
        case 0xde: return read_container (r, obj, HSN_MP_MAP, 2, 0);
        case 0xdf: return read_container (r, obj, HSN_MP_MAP, 4, 0);
        default:   return -EBADMSG;     /* 0xc1: never used */
    }
    o.raw = p;
    o.raw_len = (size_t) (1 + width);
    r->p += o.raw_len;
    *obj = o;
    return 0;
}

/*  Skip the contents of containers iteratively. `left` counts the objects
 *  still to read at the current level; the stack holds the outer levels. */
static int
skip_items (hsn_mp_reader_t *r, uint64_t left, int depth, int max_depth)
{
    uint64_t stack[HSN_MP_DEPTH_LIMIT + 1];
    int sp = 0;
    while (true) {
        if (left == 0) {
            if (sp == 0)
                return 0;
            left = stack[--sp];
            depth--;
            continue;
        }
        left--;
        hsn_mp_obj_t o;
        int rc = hsn_mp_next (r, &o);
        if (rc)
            return rc;
        if (o.type == HSN_MP_ARRAY || o.type == HSN_MP_MAP) {
            uint64_t n = (uint64_t) o.v.c.count * (o.type == HSN_MP_MAP ? 2 : 1);
            if (depth + 1 > max_depth)
                return -ELOOP;
            if (n == 0)
                continue;
            stack[sp++] = left;
            left = n;
            depth++;
        }
    }
}

static int
clamp_depth (int max_depth)
{
    if (max_depth < 0)
        return 0;
    return max_depth > HSN_MP_DEPTH_LIMIT ? HSN_MP_DEPTH_LIMIT : max_depth;
}

int
hsn_mp_skip (hsn_mp_reader_t *r, int max_depth)
{
    return skip_items (r, 1, 0, clamp_depth (max_depth));
}

int
hsn_mp_get (hsn_mp_reader_t *r, hsn_mp_obj_t *obj, int max_depth)
{
    hsn_mp_reader_t save = *r;
    hsn_mp_obj_t o;
    int rc = hsn_mp_next (r, &o);
    if (rc)
        return rc;
    if (o.type == HSN_MP_ARRAY || o.type == HSN_MP_MAP) {
        max_depth = clamp_depth (max_depth);
        if (max_depth < 1) {
            *r = save;
            return -ELOOP;
        }
        uint64_t n = (uint64_t) o.v.c.count * (o.type == HSN_MP_MAP ? 2 : 1);
        rc = skip_items (r, n, 1, max_depth);
        if (rc) {
            *r = save;
            return rc;
        }
        o.raw_len = (size_t) (r->p - o.raw);
    }
    *obj = o;
    return 0;
}

int
hsn_mp_validate (const void *buf, size_t len, int max_depth)
{
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, buf, len);
    int rc = hsn_mp_skip (&r, max_depth);
    if (rc)
        return rc;
    return r.p == r.end ? 0 : -EMSGSIZE;
}

void
hsn_mp_reader_of (hsn_mp_reader_t *r, const hsn_mp_obj_t *container)
{
    r->p = container->v.c.body;
    r->end = container->raw + container->raw_len;
}

bool
hsn_mp_str_eq (const hsn_mp_obj_t *obj, const char *s)
{
    size_t n = strlen (s);
    return obj->type == HSN_MP_STR && obj->v.s.len == n
           && memcmp (obj->v.s.ptr, s, n) == 0;
}

int
hsn_mp_map_get (const hsn_mp_obj_t *map, const char *key, hsn_mp_obj_t *out)
{
    if (map->type != HSN_MP_MAP)
        return -EBADMSG;
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, map);
    for (uint32_t i = 0; i < map->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        if (hsn_mp_get (&r, &k, HSN_MP_DEPTH_LIMIT) || hsn_mp_get (&r, &v, HSN_MP_DEPTH_LIMIT))
            return -EBADMSG;
        if (hsn_mp_str_eq (&k, key)) {
            *out = v;
            return 0;
        }
    }
    return -ENOENT;
}
