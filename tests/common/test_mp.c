/*  Tests for hsn_mp: every msgpack type, encoded by msgpack-c's packer and
 *  decoded by hsn_mp; raw spans; and everything hsn_mp_validate must refuse
 *  (truncation, trailing bytes, 0xc1, lying container and string lengths,
 *  nesting past the limit) without allocating or recursing.
 *
 *  Decoded buffers are copied into exactly-sized heap blocks so that, under
 *  AddressSanitizer, one byte read past the end is caught. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_mp.h"
#include "tests/harness/hsn_test.h"

/*  --- helpers ---------------------------------------------------------- */

/*  A msgpack-c packer writing into a growing buffer, plus an exact-size
 *  copy of what it wrote (see pb_bytes). */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint8_t *copy;
} pb_t;

static void
pb_init (pb_t *b)
{
    msgpack_sbuffer_init (&b->sb);
    msgpack_packer_init (&b->pk, &b->sb, msgpack_sbuffer_write);
    b->copy = NULL;
}

static void
pb_reset (pb_t *b)
{
    msgpack_sbuffer_clear (&b->sb);
    free (b->copy);
    b->copy = NULL;
}

static void
pb_destroy (pb_t *b)
{
    msgpack_sbuffer_destroy (&b->sb);
    free (b->copy);
    b->copy = NULL;
}

/*  Exact-size heap copy of data[0..len); never NULL (malloc(0) may be). */
static uint8_t *
dup_exact (const void *data, size_t len)
{
    uint8_t *p = malloc (len ? len : 1);
    ck_assert_ptr_nonnull (p);
    if (len)
        memcpy (p, data, len);
    return p;
}

/*  The packed bytes, in an exact-size block owned by b. */
static const uint8_t *
pb_bytes (pb_t *b)
{
    free (b->copy);
    b->copy = dup_exact (b->sb.data, b->sb.size);
    return b->copy;
}

/*  Decode what b holds as exactly one object: checks that hsn_mp_next,
 *  hsn_mp_get and hsn_mp_validate agree, and returns the hsn_mp_get result.
 *  obj points into b->copy. */
static hsn_mp_obj_t
decode1 (pb_t *b)
{
    const uint8_t *buf = pb_bytes (b);
    size_t len = b->sb.size;
    ck_assert_int_eq (hsn_mp_validate (buf, len, HSN_MP_DEPTH_LIMIT), 0);

    hsn_mp_reader_t r;
    hsn_mp_obj_t next, got;
    hsn_mp_reader_init (&r, buf, len);
    ck_assert_int_eq (hsn_mp_next (&r, &next), 0);
    ck_assert_ptr_eq (next.raw, buf);

    hsn_mp_reader_init (&r, buf, len);
    ck_assert_int_eq (hsn_mp_get (&r, &got, HSN_MP_DEPTH_LIMIT), 0);
    ck_assert_ptr_eq (got.raw, buf);
    ck_assert_uint_eq (got.raw_len, len);
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
    ck_assert_int_eq (got.type, next.type);
    return got;
}

/*  n bytes of `fill` followed by `tail` (tail_len bytes): nested headers. */
static uint8_t *
repeat (uint8_t fill, size_t n, const void *tail, size_t tail_len, size_t *len)
{
    uint8_t *p = malloc (n + tail_len ? n + tail_len : 1);
    ck_assert_ptr_nonnull (p);
    memset (p, fill, n);
    if (tail_len)
        memcpy (p + n, tail, tail_len);
    *len = n + tail_len;
    return p;
}

/*  Arrays nested `depth` deep around a nil: depth 0 is a bare nil. */
static uint8_t *
nested_arrays (size_t depth, size_t *len)
{
    uint8_t nil = 0xc0;
    return repeat (0x91, depth, &nil, 1, len);
}

/*  Maps nested `depth` deep: {0: {0: ... nil}}. */
static uint8_t *
nested_maps (size_t depth, size_t *len)
{
    uint8_t *p = malloc (2 * depth + 1);
    ck_assert_ptr_nonnull (p);
    for (size_t i = 0; i < depth; i++) {
        p[2 * i] = 0x81;
        p[2 * i + 1] = 0x00;
    }
    p[2 * depth] = 0xc0;
    *len = 2 * depth + 1;
    return p;
}

static int
validate_bytes (const void *bytes, size_t len, int max_depth)
{
    uint8_t *p = dup_exact (bytes, len);
    int rc = hsn_mp_validate (p, len, max_depth);
    free (p);
    return rc;
}

/*  A document touching every type and several nesting levels. */
static void
pack_complex (msgpack_packer *pk)
{
    static const char blob[300] = "bin";
    static const char text[300] = "str16";
    msgpack_pack_map (pk, 6);
    msgpack_pack_str_with_body (pk, "ints", 4);
    msgpack_pack_array (pk, 6);
    msgpack_pack_uint64 (pk, UINT64_MAX);
    msgpack_pack_int64 (pk, INT64_MIN);
    msgpack_pack_int8 (pk, -5);
    msgpack_pack_uint16 (pk, 300);
    msgpack_pack_nil (pk);
    msgpack_pack_true (pk);
    msgpack_pack_uint8 (pk, 7);
    msgpack_pack_array (pk, 3);
    msgpack_pack_float (pk, 1.5f);
    msgpack_pack_double (pk, -2.25);
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "deep", 4);
    msgpack_pack_array (pk, 2);
    msgpack_pack_array (pk, 0);
    msgpack_pack_map (pk, 0);
    msgpack_pack_bin_with_body (pk, blob, sizeof blob);
    msgpack_pack_ext_with_body (pk, "abcd", 4, 9);
    msgpack_pack_int32 (pk, -100000);
    msgpack_pack_ext_with_body (pk, "xyz", 3, -3);
    msgpack_pack_str (pk, 40);
    msgpack_pack_str_body (pk, "0123456789012345678901234567890123456789", 40);
    msgpack_pack_array (pk, 16);
    for (int i = 0; i < 16; i++)
        msgpack_pack_int (pk, i - 8);
    msgpack_pack_false (pk);
    msgpack_pack_array (pk, 2);
    msgpack_pack_ext_with_body (pk, "\x01", 1, 1);
    msgpack_pack_str_with_body (pk, text, sizeof text);
}

/*  --- scalars ---------------------------------------------------------- */

START_TEST (test_nil_bool)
{
    pb_t b;
    pb_init (&b);
    msgpack_pack_nil (&b.pk);
    hsn_mp_obj_t o = decode1 (&b);
    ck_assert_int_eq (o.type, HSN_MP_NIL);
    ck_assert_uint_eq (o.raw_len, 1);

    pb_reset (&b);
    msgpack_pack_true (&b.pk);
    o = decode1 (&b);
    ck_assert_int_eq (o.type, HSN_MP_BOOL);
    ck_assert (o.v.b);

    pb_reset (&b);
    msgpack_pack_false (&b.pk);
    o = decode1 (&b);
    ck_assert_int_eq (o.type, HSN_MP_BOOL);
    ck_assert (!o.v.b);
    pb_destroy (&b);
}
END_TEST

START_TEST (test_uint_boundaries)
{
    static const struct { uint64_t v; uint8_t first; size_t len; } cases[] = {
        { 0,                    0x00, 1 },
        { 1,                    0x01, 1 },
        { 0x7f,                 0x7f, 1 },     /* last positive fixint */
        { 0x80,                 0xcc, 2 },     /* first uint8 */
        { 0xff,                 0xcc, 2 },
        { 0x100,                0xcd, 3 },
        { 0xffff,               0xcd, 3 },
        { 0x10000,              0xce, 5 },
        { 0xffffffff,           0xce, 5 },
        { 0x100000000,          0xcf, 9 },
        { (uint64_t) INT64_MAX, 0xcf, 9 },
        { (uint64_t) INT64_MAX + 1, 0xcf, 9 },
        { UINT64_MAX,           0xcf, 9 },
    };
    pb_t b;
    pb_init (&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pb_reset (&b);
        msgpack_pack_uint64 (&b.pk, cases[i].v);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_msg (o.raw[0] == cases[i].first, "case %zu: byte 0x%02x",
                       i, o.raw[0]);
        ck_assert_uint_eq (o.raw_len, cases[i].len);
        ck_assert_int_eq (o.type, HSN_MP_UINT);
        ck_assert_msg (o.v.u == cases[i].v, "case %zu", i);
    }
    pb_destroy (&b);
}
END_TEST

START_TEST (test_int_boundaries)
{
    static const struct { int64_t v; uint8_t first; size_t len; } cases[] = {
        { -1,                   0xff, 1 },
        { -32,                  0xe0, 1 },     /* last negative fixint */
        { -33,                  0xd0, 2 },     /* first int8 */
        { -128,                 0xd0, 2 },
        { -129,                 0xd1, 3 },
        { -32768,               0xd1, 3 },
        { -32769,               0xd2, 5 },
        { INT32_MIN,            0xd2, 5 },
        { (int64_t) INT32_MIN - 1, 0xd3, 9 },
        { INT64_MIN + 1,        0xd3, 9 },
        { INT64_MIN,            0xd3, 9 },
    };
    pb_t b;
    pb_init (&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pb_reset (&b);
        msgpack_pack_int64 (&b.pk, cases[i].v);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_msg (o.raw[0] == cases[i].first, "case %zu: byte 0x%02x",
                       i, o.raw[0]);
        ck_assert_uint_eq (o.raw_len, cases[i].len);
        ck_assert_int_eq (o.type, HSN_MP_INT);
        ck_assert_msg (o.v.i == cases[i].v, "case %zu: %lld", i,
                       (long long) o.v.i);
    }
    /*  A non-negative value in a signed encoding is a UINT. */
    pb_reset (&b);
    msgpack_pack_int64 (&b.pk, INT64_MAX);
    hsn_mp_obj_t o = decode1 (&b);
    ck_assert_int_eq (o.type, HSN_MP_UINT);
    ck_assert (o.v.u == (uint64_t) INT64_MAX);
    pb_destroy (&b);
}
END_TEST

/*  Every wire width, forced with the fix_ packers and by hand. */
START_TEST (test_int_widths)
{
    pb_t b;
    pb_init (&b);
    hsn_mp_obj_t o;

    msgpack_pack_fix_uint8 (&b.pk, 1);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xcc && o.type == HSN_MP_UINT && o.v.u == 1);
    pb_reset (&b);
    msgpack_pack_fix_uint16 (&b.pk, 2);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xcd && o.type == HSN_MP_UINT && o.v.u == 2);
    pb_reset (&b);
    msgpack_pack_fix_uint32 (&b.pk, 3);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xce && o.type == HSN_MP_UINT && o.v.u == 3);
    pb_reset (&b);
    msgpack_pack_fix_uint64 (&b.pk, 4);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xcf && o.type == HSN_MP_UINT && o.v.u == 4);

    pb_reset (&b);
    msgpack_pack_fix_int8 (&b.pk, 5);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd0 && o.type == HSN_MP_UINT && o.v.u == 5);
    pb_reset (&b);
    msgpack_pack_fix_int8 (&b.pk, INT8_MIN);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd0 && o.type == HSN_MP_INT && o.v.i == INT8_MIN);
    pb_reset (&b);
    msgpack_pack_fix_int16 (&b.pk, INT16_MIN);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd1 && o.type == HSN_MP_INT && o.v.i == INT16_MIN);
    pb_reset (&b);
    msgpack_pack_fix_int16 (&b.pk, INT16_MAX);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd1 && o.type == HSN_MP_UINT && o.v.u == INT16_MAX);
    pb_reset (&b);
    msgpack_pack_fix_int32 (&b.pk, INT32_MIN);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd2 && o.type == HSN_MP_INT && o.v.i == INT32_MIN);
    pb_reset (&b);
    msgpack_pack_fix_int32 (&b.pk, -1);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd2 && o.type == HSN_MP_INT && o.v.i == -1);
    pb_reset (&b);
    msgpack_pack_fix_int64 (&b.pk, -1);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd3 && o.type == HSN_MP_INT && o.v.i == -1);
    pb_reset (&b);
    msgpack_pack_fix_int64 (&b.pk, 0);
    o = decode1 (&b);
    ck_assert (o.raw[0] == 0xd3 && o.type == HSN_MP_UINT && o.v.u == 0);
    pb_destroy (&b);

    /*  Hand-written: the sign bit of every width. */
    static const struct { uint8_t bytes[9]; size_t len; int64_t v; } hand[] = {
        { { 0xd0, 0x80 }, 2, INT8_MIN },
        { { 0xd0, 0x7f }, 2, INT8_MAX },
        { { 0xd1, 0x80, 0x00 }, 3, INT16_MIN },
        { { 0xd1, 0xff, 0x7f }, 3, -129 },
        { { 0xd2, 0x80, 0x00, 0x00, 0x00 }, 5, INT32_MIN },
        { { 0xd2, 0x7f, 0xff, 0xff, 0xff }, 5, INT32_MAX },
        { { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9, INT64_MIN },
        { { 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe }, 9, -2 },
        { { 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9, INT64_MAX },
    };
    for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++) {
        uint8_t *p = dup_exact (hand[i].bytes, hand[i].len);
        hsn_mp_reader_t r;
        hsn_mp_reader_init (&r, p, hand[i].len);
        ck_assert_int_eq (hsn_mp_next (&r, &o), 0);
        ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
        if (hand[i].v < 0) {
            ck_assert_int_eq (o.type, HSN_MP_INT);
            ck_assert_msg (o.v.i == hand[i].v, "hand %zu: %lld", i,
                           (long long) o.v.i);
        }
        else {
            ck_assert_int_eq (o.type, HSN_MP_UINT);
            ck_assert (o.v.u == (uint64_t) hand[i].v);
        }
        free (p);
    }
}
END_TEST

START_TEST (test_float)
{
    static const float f32[] = { 0.0f, 1.5f, -0.1f, FLT_MAX, -FLT_MIN,
                                 FLT_TRUE_MIN, INFINITY, -INFINITY };
    static const double f64[] = { 0.0, -2.25, 0.1, DBL_MAX, -DBL_MIN,
                                  DBL_TRUE_MIN, 1e300, -INFINITY };
    pb_t b;
    pb_init (&b);
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; i++) {
        pb_reset (&b);
        msgpack_pack_float (&b.pk, f32[i]);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_int_eq (o.raw[0], 0xca);
        ck_assert_uint_eq (o.raw_len, 5);
        ck_assert_int_eq (o.type, HSN_MP_FLOAT);
        ck_assert_msg (o.v.f == (double) f32[i], "f32 %zu: %g", i, o.v.f);
    }
    for (size_t i = 0; i < sizeof f64 / sizeof f64[0]; i++) {
        pb_reset (&b);
        msgpack_pack_double (&b.pk, f64[i]);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_int_eq (o.raw[0], 0xcb);
        ck_assert_uint_eq (o.raw_len, 9);
        ck_assert_int_eq (o.type, HSN_MP_FLOAT);
        ck_assert_msg (o.v.f == f64[i], "f64 %zu: %g", i, o.v.f);
    }
    pb_reset (&b);
    msgpack_pack_float (&b.pk, NAN);
    ck_assert (isnan (decode1 (&b).v.f));
    pb_reset (&b);
    msgpack_pack_double (&b.pk, NAN);
    ck_assert (isnan (decode1 (&b).v.f));
    /*  Negative zero keeps its sign. */
    pb_reset (&b);
    msgpack_pack_double (&b.pk, -0.0);
    ck_assert (signbit (decode1 (&b).v.f));
    pb_destroy (&b);
}
END_TEST

/*  --- str, bin, ext ---------------------------------------------------- */

static char *
pattern (size_t len)
{
    char *p = malloc (len ? len : 1);
    ck_assert_ptr_nonnull (p);
    for (size_t i = 0; i < len; i++)
        p[i] = (char) ((i * 7 + 3) & 0xff);
    return p;
}

START_TEST (test_str)
{
    static const struct { size_t len; uint8_t first; size_t hdr; } cases[] = {
        { 0,      0xa0, 1 },
        { 1,      0xa1, 1 },
        { 31,     0xbf, 1 },      /* last fixstr */
        { 32,     0xd9, 2 },      /* first str8 */
        { 255,    0xd9, 2 },
        { 256,    0xda, 3 },      /* str16 */
        { 65535,  0xda, 3 },
        { 65536,  0xdb, 5 },      /* str32 */
        { 100000, 0xdb, 5 },
    };
    pb_t b;
    pb_init (&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = pattern (cases[i].len);
        pb_reset (&b);
        msgpack_pack_str_with_body (&b.pk, s, cases[i].len);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_msg (o.raw[0] == cases[i].first, "len %zu: byte 0x%02x",
                       cases[i].len, o.raw[0]);
        ck_assert_int_eq (o.type, HSN_MP_STR);
        ck_assert_uint_eq (o.v.s.len, cases[i].len);
        ck_assert_ptr_eq (o.v.s.ptr, (const char *) b.copy + cases[i].hdr);
        ck_assert_uint_eq (o.raw_len, cases[i].hdr + cases[i].len);
        ck_assert (memcmp (o.v.s.ptr, s, cases[i].len) == 0);
        free (s);
    }
    pb_destroy (&b);
}
END_TEST

START_TEST (test_bin)
{
    static const struct { size_t len; uint8_t first; size_t hdr; } cases[] = {
        { 0,      0xc4, 2 },
        { 1,      0xc4, 2 },
        { 255,    0xc4, 2 },
        { 256,    0xc5, 3 },
        { 65535,  0xc5, 3 },
        { 65536,  0xc6, 5 },
        { 70000,  0xc6, 5 },
    };
    pb_t b;
    pb_init (&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = pattern (cases[i].len);
        pb_reset (&b);
        msgpack_pack_bin_with_body (&b.pk, s, cases[i].len);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_msg (o.raw[0] == cases[i].first, "len %zu: byte 0x%02x",
                       cases[i].len, o.raw[0]);
        ck_assert_int_eq (o.type, HSN_MP_BIN);
        ck_assert_uint_eq (o.v.s.len, cases[i].len);
        ck_assert_ptr_eq (o.v.s.ptr, (const char *) b.copy + cases[i].hdr);
        ck_assert_uint_eq (o.raw_len, cases[i].hdr + cases[i].len);
        ck_assert (memcmp (o.v.s.ptr, s, cases[i].len) == 0);
        free (s);
    }
    pb_destroy (&b);
}
END_TEST

START_TEST (test_ext)
{
    static const struct { size_t len; int8_t type; uint8_t first; size_t hdr; }
    cases[] = {
        { 1,     1,    0xd4, 2 },   /* fixext 1 */
        { 2,     -1,   0xd5, 2 },   /* fixext 2 */
        { 4,     127,  0xd6, 2 },   /* fixext 4 */
        { 8,     -128, 0xd7, 2 },   /* fixext 8 */
        { 16,    0,    0xd8, 2 },   /* fixext 16 */
        { 0,     5,    0xc7, 3 },   /* ext8 */
        { 3,     -7,   0xc7, 3 },
        { 17,    42,   0xc7, 3 },
        { 255,   -42,  0xc7, 3 },
        { 256,   100,  0xc8, 4 },   /* ext16 */
        { 65535, -100, 0xc8, 4 },
        { 65536, 77,   0xc9, 6 },   /* ext32 */
    };
    pb_t b;
    pb_init (&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = pattern (cases[i].len);
        pb_reset (&b);
        msgpack_pack_ext_with_body (&b.pk, s, cases[i].len, cases[i].type);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_msg (o.raw[0] == cases[i].first, "len %zu: byte 0x%02x",
                       cases[i].len, o.raw[0]);
        ck_assert_int_eq (o.type, HSN_MP_EXT);
        ck_assert_int_eq (o.v.s.ext_type, cases[i].type);
        ck_assert_uint_eq (o.v.s.len, cases[i].len);
        ck_assert_ptr_eq (o.v.s.ptr, (const char *) b.copy + cases[i].hdr);
        ck_assert_uint_eq (o.raw_len, cases[i].hdr + cases[i].len);
        ck_assert (memcmp (o.v.s.ptr, s, cases[i].len) == 0);
        free (s);
    }
    pb_destroy (&b);
}
END_TEST

START_TEST (test_str_eq)
{
    pb_t b;
    pb_init (&b);
    msgpack_pack_str_with_body (&b.pk, "abc", 3);
    hsn_mp_obj_t o = decode1 (&b);
    ck_assert (hsn_mp_str_eq (&o, "abc"));
    ck_assert (!hsn_mp_str_eq (&o, "ab"));
    ck_assert (!hsn_mp_str_eq (&o, "abcd"));
    ck_assert (!hsn_mp_str_eq (&o, "abd"));
    ck_assert (!hsn_mp_str_eq (&o, ""));

    pb_reset (&b);
    msgpack_pack_str_with_body (&b.pk, "a\0c", 3);
    o = decode1 (&b);
    ck_assert (!hsn_mp_str_eq (&o, "a"));

    pb_reset (&b);
    msgpack_pack_str (&b.pk, 0);
    o = decode1 (&b);
    ck_assert (hsn_mp_str_eq (&o, ""));

    /*  Same bytes as bin or ext are not a string. */
    pb_reset (&b);
    msgpack_pack_bin_with_body (&b.pk, "abc", 3);
    o = decode1 (&b);
    ck_assert (!hsn_mp_str_eq (&o, "abc"));
    pb_reset (&b);
    msgpack_pack_ext_with_body (&b.pk, "abc", 3, 1);
    o = decode1 (&b);
    ck_assert (!hsn_mp_str_eq (&o, "abc"));
    pb_destroy (&b);
}
END_TEST

/*  --- containers ------------------------------------------------------- */

START_TEST (test_container_headers)
{
    static const struct { bool map; uint32_t n; uint8_t first; size_t hdr; }
    cases[] = {
        { false, 0,     0x90, 1 },
        { false, 1,     0x91, 1 },
        { false, 15,    0x9f, 1 },    /* last fixarray */
        { false, 16,    0xdc, 3 },    /* array16 */
        { false, 65535, 0xdc, 3 },
        { false, 65536, 0xdd, 5 },    /* array32 */
        { true,  0,     0x80, 1 },
        { true,  15,    0x8f, 1 },    /* last fixmap */
        { true,  16,    0xde, 3 },    /* map16 */
        { true,  65535, 0xde, 3 },
        { true,  65536, 0xdf, 5 },    /* map32 */
    };
    pb_t b;
    pb_init (&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pb_reset (&b);
        uint32_t items = cases[i].n * (cases[i].map ? 2 : 1);
        if (cases[i].map)
            msgpack_pack_map (&b.pk, cases[i].n);
        else
            msgpack_pack_array (&b.pk, cases[i].n);
        for (uint32_t k = 0; k < items; k++)
            msgpack_pack_uint32 (&b.pk, k & 0x7f);
        hsn_mp_obj_t o = decode1 (&b);
        ck_assert_msg (o.raw[0] == cases[i].first, "case %zu: byte 0x%02x",
                       i, o.raw[0]);
        ck_assert_int_eq (o.type, cases[i].map ? HSN_MP_MAP : HSN_MP_ARRAY);
        ck_assert_uint_eq (o.v.c.count, cases[i].n);
        ck_assert_ptr_eq (o.v.c.body, b.copy + cases[i].hdr);

        /*  hsn_mp_next consumes the header only; the elements follow. */
        hsn_mp_reader_t r;
        hsn_mp_obj_t h, e;
        hsn_mp_reader_init (&r, b.copy, b.sb.size);
        ck_assert_int_eq (hsn_mp_next (&r, &h), 0);
        ck_assert_uint_eq (h.raw_len, cases[i].hdr);
        ck_assert_uint_eq (h.v.c.count, cases[i].n);
        ck_assert_ptr_eq (r.p, h.v.c.body);
        for (uint32_t k = 0; k < items; k++) {
            ck_assert_int_eq (hsn_mp_next (&r, &e), 0);
            ck_assert_int_eq (e.type, HSN_MP_UINT);
            ck_assert_uint_eq (e.v.u, k & 0x7f);
        }
        ck_assert_uint_eq (hsn_mp_remaining (&r), 0);

        /*  and hsn_mp_reader_of walks the same elements. */
        hsn_mp_reader_of (&r, &o);
        for (uint32_t k = 0; k < items; k++) {
            ck_assert_int_eq (hsn_mp_get (&r, &e, 1), 0);
            ck_assert_uint_eq (e.v.u, k & 0x7f);
        }
        ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
    }
    pb_destroy (&b);
}
END_TEST

/*  {"a": [1, [-2, {"b": nil}], "x"], 7: {}, "e": [], "f": {"g": [true, 1.5]}}
 *  read header by header with hsn_mp_next. */
START_TEST (test_nested)
{
    pb_t b;
    pb_init (&b);
    msgpack_packer *pk = &b.pk;
    msgpack_pack_map (pk, 4);
    msgpack_pack_str_with_body (pk, "a", 1);
    msgpack_pack_array (pk, 3);
    msgpack_pack_int (pk, 1);
    msgpack_pack_array (pk, 2);
    msgpack_pack_int (pk, -2);
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "b", 1);
    msgpack_pack_nil (pk);
    msgpack_pack_str_with_body (pk, "x", 1);
    msgpack_pack_int (pk, 7);
    msgpack_pack_map (pk, 0);
    msgpack_pack_str_with_body (pk, "e", 1);
    msgpack_pack_array (pk, 0);
    msgpack_pack_str_with_body (pk, "f", 1);
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "g", 1);
    msgpack_pack_array (pk, 2);
    msgpack_pack_true (pk);
    msgpack_pack_double (pk, 1.5);

    static const struct { hsn_mp_type_t type; uint64_t n; const char *s; }
    want[] = {
        { HSN_MP_MAP, 4, NULL },
        { HSN_MP_STR, 0, "a" }, { HSN_MP_ARRAY, 3, NULL },
            { HSN_MP_UINT, 1, NULL },
            { HSN_MP_ARRAY, 2, NULL },
                { HSN_MP_INT, 0, NULL },
                { HSN_MP_MAP, 1, NULL },
                    { HSN_MP_STR, 0, "b" }, { HSN_MP_NIL, 0, NULL },
            { HSN_MP_STR, 0, "x" },
        { HSN_MP_UINT, 7, NULL }, { HSN_MP_MAP, 0, NULL },
        { HSN_MP_STR, 0, "e" }, { HSN_MP_ARRAY, 0, NULL },
        { HSN_MP_STR, 0, "f" }, { HSN_MP_MAP, 1, NULL },
            { HSN_MP_STR, 0, "g" }, { HSN_MP_ARRAY, 2, NULL },
                { HSN_MP_BOOL, 1, NULL }, { HSN_MP_FLOAT, 0, NULL },
    };
    hsn_mp_obj_t whole = decode1 (&b);
    ck_assert_int_eq (whole.type, HSN_MP_MAP);
    /*  map > array > array > map: depth 4. */
    ck_assert_int_eq (hsn_mp_validate (b.copy, b.sb.size, 5), 0);
    ck_assert_int_eq (hsn_mp_validate (b.copy, b.sb.size, 4), 0);
    ck_assert_int_eq (hsn_mp_validate (b.copy, b.sb.size, 3), -ELOOP);

    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, b.copy, b.sb.size);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        hsn_mp_obj_t o;
        ck_assert_int_eq (hsn_mp_next (&r, &o), 0);
        ck_assert_msg (o.type == want[i].type, "item %zu: type %d", i, o.type);
        switch (o.type) {
            case HSN_MP_MAP: case HSN_MP_ARRAY:
                ck_assert_uint_eq (o.v.c.count, want[i].n);
                break;
            case HSN_MP_UINT:
                ck_assert_uint_eq (o.v.u, want[i].n);
                break;
            case HSN_MP_INT:
                ck_assert_int_eq (o.v.i, -2);
                break;
            case HSN_MP_STR:
                ck_assert (hsn_mp_str_eq (&o, want[i].s));
                break;
            case HSN_MP_BOOL:
                ck_assert (o.v.b);
                break;
            case HSN_MP_FLOAT:
                ck_assert (o.v.f == 1.5);
                break;
            default:
                break;
        }
    }
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
    pb_destroy (&b);
}
END_TEST

/*  Pack one element on its own, for comparing raw spans. */
static void
expect_raw (const hsn_mp_obj_t *o, void (*pack) (msgpack_packer *))
{
    pb_t e;
    pb_init (&e);
    pack (&e.pk);
    ck_assert_uint_eq (o->raw_len, e.sb.size);
    ck_assert (memcmp (o->raw, e.sb.data, e.sb.size) == 0);
    pb_destroy (&e);
}

static void pack_e0 (msgpack_packer *pk) { msgpack_pack_int (pk, 1); }
static void pack_e1 (msgpack_packer *pk) { msgpack_pack_str_with_body (pk, "two", 3); }
static void
pack_e2 (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 2);
    msgpack_pack_int (pk, 3);
    msgpack_pack_array (pk, 2);
    msgpack_pack_int (pk, 4);
    msgpack_pack_int (pk, 5);
    msgpack_pack_str_with_body (pk, "k", 1);
    msgpack_pack_array (pk, 0);
}
static void pack_e3 (msgpack_packer *pk) { msgpack_pack_uint64 (pk, UINT64_MAX); }
static void pack_e4 (msgpack_packer *pk) { msgpack_pack_bin_with_body (pk, "\0\1\2", 3); }
static void pack_e5 (msgpack_packer *pk) { msgpack_pack_array (pk, 0); }

START_TEST (test_get_raw_spans)
{
    void (*packs[]) (msgpack_packer *) = {
        pack_e0, pack_e1, pack_e2, pack_e3, pack_e4, pack_e5
    };
    size_t n = sizeof packs / sizeof packs[0];
    pb_t b;
    pb_init (&b);
    msgpack_pack_array (&b.pk, n);
    for (size_t i = 0; i < n; i++)
        packs[i] (&b.pk);
    hsn_mp_obj_t whole = decode1 (&b);
    ck_assert_int_eq (whole.type, HSN_MP_ARRAY);
    ck_assert_uint_eq (whole.v.c.count, n);

    hsn_mp_reader_t r;
    hsn_mp_obj_t el[6];
    hsn_mp_reader_of (&r, &whole);
    ck_assert_ptr_eq (r.p, b.copy + 1);
    ck_assert_ptr_eq (r.end, b.copy + b.sb.size);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *before = r.p;
        ck_assert_int_eq (hsn_mp_get (&r, &el[i], HSN_MP_DEPTH_LIMIT), 0);
        ck_assert_ptr_eq (el[i].raw, before);
        ck_assert_ptr_eq (r.p, before + el[i].raw_len);
        expect_raw (&el[i], packs[i]);
    }
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);

    /*  Into the map: 3 => [4, 5], "k" => []. */
    hsn_mp_obj_t k, v, x;
    ck_assert_int_eq (el[2].type, HSN_MP_MAP);
    ck_assert_uint_eq (el[2].v.c.count, 2);
    hsn_mp_reader_of (&r, &el[2]);
    ck_assert_int_eq (hsn_mp_get (&r, &k, 1), 0);
    ck_assert (k.type == HSN_MP_UINT && k.v.u == 3);
    ck_assert_int_eq (hsn_mp_get (&r, &v, 1), 0);
    ck_assert (v.type == HSN_MP_ARRAY && v.v.c.count == 2 && v.raw_len == 3);
    ck_assert_int_eq (hsn_mp_get (&r, &k, 1), 0);
    ck_assert (hsn_mp_str_eq (&k, "k"));
    ck_assert_int_eq (hsn_mp_get (&r, &x, 1), 0);
    ck_assert (x.type == HSN_MP_ARRAY && x.v.c.count == 0 && x.raw_len == 1);
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);

    hsn_mp_reader_t inner;
    hsn_mp_reader_of (&inner, &v);
    ck_assert_int_eq (hsn_mp_get (&inner, &x, 0), 0);     /* scalars: depth 0 */
    ck_assert (x.v.u == 4);
    ck_assert_int_eq (hsn_mp_get (&inner, &x, 0), 0);
    ck_assert (x.v.u == 5);
    ck_assert_uint_eq (hsn_mp_remaining (&inner), 0);
    ck_assert_int_eq (hsn_mp_get (&inner, &x, 0), -EBADMSG);  /* nothing left */

    /*  An empty container gives an empty reader. */
    hsn_mp_reader_of (&inner, &el[5]);
    ck_assert_uint_eq (hsn_mp_remaining (&inner), 0);

    /*  Depth limits on hsn_mp_get: the map holds an array, so depth 2. */
    hsn_mp_reader_of (&r, &whole);
    hsn_mp_get (&r, &x, 0);
    hsn_mp_get (&r, &x, 0);
    const uint8_t *at_map = r.p;
    ck_assert_int_eq (hsn_mp_get (&r, &x, 0), -ELOOP);
    r.p = at_map;
    ck_assert_int_eq (hsn_mp_get (&r, &x, 1), -ELOOP);
    r.p = at_map;
    ck_assert_int_eq (hsn_mp_get (&r, &x, 2), 0);
    ck_assert_ptr_eq (x.raw, at_map);

    /*  hsn_mp_skip steps over whole objects. */
    hsn_mp_reader_of (&r, &whole);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *before = r.p;
        ck_assert_int_eq (hsn_mp_skip (&r, HSN_MP_DEPTH_LIMIT), 0);
        ck_assert_ptr_eq (r.p, before + el[i].raw_len);
    }
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
    pb_destroy (&b);
}
END_TEST

/*  On failure hsn_mp_next leaves the reader and the object alone. */
START_TEST (test_next_failure_unchanged)
{
    static const struct { uint8_t bytes[8]; size_t len; } bad[] = {
        { { 0xc1 }, 1 },
        { { 0xcd, 0x01 }, 2 },
        { { 0xcb, 0, 0, 0 }, 4 },
        { { 0xa5, 'a', 'b' }, 3 },
        { { 0xd9, 0x09, 'a' }, 3 },
        { { 0xd6, 0x01, 0x00 }, 3 },
        { { 0xc7, 0x05, 0x01, 0x00 }, 4 },
        { { 0xdc, 0x00 }, 2 },
        { { 0x92, 0xc0 }, 2 },
        { { 0x82, 0xc0, 0xc0, 0xc0 }, 4 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *p = dup_exact (bad[i].bytes, bad[i].len);
        hsn_mp_reader_t r;
        hsn_mp_obj_t o, sentinel;
        memset (&o, 0xa5, sizeof o);
        memset (&sentinel, 0xa5, sizeof sentinel);
        hsn_mp_reader_init (&r, p, bad[i].len);
        ck_assert_msg (hsn_mp_next (&r, &o) == -EBADMSG, "case %zu", i);
        ck_assert_ptr_eq (r.p, p);
        ck_assert_ptr_eq (r.end, p + bad[i].len);
        ck_assert (memcmp (&o, &sentinel, sizeof o) == 0);
        free (p);
    }
    /*  An empty reader has nothing to give. */
    hsn_mp_reader_t r;
    hsn_mp_obj_t o;
    hsn_mp_reader_init (&r, "", 0);
    ck_assert_int_eq (hsn_mp_next (&r, &o), -EBADMSG);
    ck_assert_int_eq (hsn_mp_get (&r, &o, 1), -EBADMSG);
    ck_assert_int_eq (hsn_mp_skip (&r, 1), -EBADMSG);
}
END_TEST

/*  --- validation ------------------------------------------------------- */

START_TEST (test_validate_every_prefix)
{
    pb_t b;
    pb_init (&b);
    pack_complex (&b.pk);
    hsn_mp_obj_t whole = decode1 (&b);
    ck_assert_int_eq (whole.type, HSN_MP_MAP);
    size_t size = b.sb.size;
    ck_assert_uint_gt (size, 400);

    for (size_t len = 0; len < size; len++) {
        uint8_t *p = dup_exact (b.sb.data, len);
        ck_assert_msg (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT) == -EBADMSG,
                       "prefix %zu of %zu", len, size);
        hsn_mp_reader_t r;
        hsn_mp_obj_t o;
        hsn_mp_reader_init (&r, p, len);
        ck_assert_int_eq (hsn_mp_get (&r, &o, HSN_MP_DEPTH_LIMIT), -EBADMSG);
        hsn_mp_reader_init (&r, p, len);
        ck_assert_int_eq (hsn_mp_skip (&r, HSN_MP_DEPTH_LIMIT), -EBADMSG);
        free (p);
    }
    pb_destroy (&b);
}
END_TEST

START_TEST (test_validate_trailing)
{
    pb_t b;
    pb_init (&b);
    pack_complex (&b.pk);
    size_t size = b.sb.size;
    ck_assert_int_eq (validate_bytes (b.sb.data, size, HSN_MP_DEPTH_LIMIT), 0);
    static const uint8_t tails[][2] = { { 0xc0 }, { 0x00 }, { 0xc1 }, { 0xdd } };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        pb_reset (&b);
        pack_complex (&b.pk);
        msgpack_sbuffer_write (&b.sb, (const char *) tails[i], 1);
        ck_assert_int_eq (validate_bytes (b.sb.data, size + 1, HSN_MP_DEPTH_LIMIT),
                          -EMSGSIZE);
    }
    /*  Two whole objects are not one. */
    pb_reset (&b);
    pack_complex (&b.pk);
    pack_complex (&b.pk);
    ck_assert_int_eq (validate_bytes (b.sb.data, b.sb.size, HSN_MP_DEPTH_LIMIT),
                      -EMSGSIZE);
    ck_assert_int_eq (validate_bytes ("\x01\x02", 2, 0), -EMSGSIZE);
    ck_assert_int_eq (validate_bytes ("\x90\x90", 2, 1), -EMSGSIZE);
    ck_assert_int_eq (validate_bytes ("\xa1" "ab", 3, 0), -EMSGSIZE);
    pb_destroy (&b);
}
END_TEST

START_TEST (test_validate_c1)
{
    ck_assert_int_eq (validate_bytes ("\xc1", 1, 4), -EBADMSG);
    ck_assert_int_eq (validate_bytes ("\x91\xc1", 2, 4), -EBADMSG);
    ck_assert_int_eq (validate_bytes ("\x92\xc0\xc1", 3, 4), -EBADMSG);
    ck_assert_int_eq (validate_bytes ("\x81\xc1\x00", 3, 4), -EBADMSG);
    ck_assert_int_eq (validate_bytes ("\x81\x00\xc1", 3, 4), -EBADMSG);
    ck_assert_int_eq (validate_bytes ("\x91\x91\x91\xc1", 4, 4), -EBADMSG);
    /*  Inside a str, bin or ext it is just a byte. */
    ck_assert_int_eq (validate_bytes ("\xa1\xc1", 2, 0), 0);
    ck_assert_int_eq (validate_bytes ("\xc4\x01\xc1", 3, 0), 0);
    ck_assert_int_eq (validate_bytes ("\xd4\xc1\xc1", 3, 0), 0);
    /*  Every other byte starts something. */
    for (int byte = 0; byte < 256; byte++) {
        uint8_t buf[1] = { (uint8_t) byte };
        hsn_mp_reader_t r;
        hsn_mp_obj_t o;
        uint8_t *p = dup_exact (buf, 1);
        hsn_mp_reader_init (&r, p, 1);
        int rc = hsn_mp_next (&r, &o);
        free (p);
        bool one_byte = byte <= 0x7f || byte >= 0xe0 || byte == 0x80
                        || byte == 0x90 || byte == 0xa0 || byte == 0xc0
                        || byte == 0xc2 || byte == 0xc3;
        ck_assert_msg (rc == (one_byte ? 0 : -EBADMSG), "byte 0x%02x: %d", byte, rc);
    }
}
END_TEST

/*  Bytes of heap in use, per glibc (under ASan this sees only glibc's own
 *  arena; ASan would report a huge allocation itself). */
static size_t
heap_in_use (void)
{
    struct mallinfo2 mi = mallinfo2 ();
    return mi.uordblks;
}

static void
expect_header_refused (const uint8_t *bytes, size_t len)
{
    uint8_t *p = dup_exact (bytes, len);
    size_t before = heap_in_use ();
    ck_assert_int_eq (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT), -EBADMSG);
    /*  Refused at the header itself, before any element is looked at. */
    hsn_mp_reader_t r;
    hsn_mp_obj_t o;
    hsn_mp_reader_init (&r, p, len);
    ck_assert_int_eq (hsn_mp_next (&r, &o), -EBADMSG);
    ck_assert_ptr_eq (r.p, p);
    hsn_mp_reader_init (&r, p, len);
    ck_assert_int_eq (hsn_mp_get (&r, &o, HSN_MP_DEPTH_LIMIT), -EBADMSG);
    ck_assert_uint_eq (heap_in_use (), before);
    free (p);
}

START_TEST (test_validate_huge_counts)
{
    /*  5 bytes claiming 4 billion elements. */
    expect_header_refused ((const uint8_t *) "\xdd\xff\xff\xff\xff", 5);
    expect_header_refused ((const uint8_t *) "\xdf\xff\xff\xff\xff", 5);
    expect_header_refused ((const uint8_t *) "\xdc\xff\xff", 3);
    expect_header_refused ((const uint8_t *) "\xde\xff\xff", 3);
    expect_header_refused ((const uint8_t *) "\x9f", 1);
    expect_header_refused ((const uint8_t *) "\x8f", 1);
    /*  Truncated headers. */
    expect_header_refused ((const uint8_t *) "\xdd\xff\xff\xff", 4);
    expect_header_refused ((const uint8_t *) "\xdf", 1);

    /*  Fail fast: a million hostile headers take no time at all. */
    uint8_t *p = dup_exact ("\xdd\xff\xff\xff\xff", 5);
    for (int i = 0; i < 1000000; i++)
        ck_assert_int_eq (hsn_mp_validate (p, 5, HSN_MP_DEPTH_LIMIT), -EBADMSG);
    free (p);

    /*  The count is checked against what is left: one short is refused at
     *  the header, exactly enough is fine. Maps need two per pair. */
    size_t n = 70000;
    uint8_t *buf = malloc (5 + 2 * n);
    ck_assert_ptr_nonnull (buf);
    memcpy (buf, "\xdd\x00\x01\x11\x70", 5);    /* array32 of 70000 */
    memset (buf + 5, 0xc0, 2 * n);
    ck_assert_int_eq (validate_bytes (buf, 5 + n, 1), 0);
    expect_header_refused (buf, 5 + n - 1);
    buf[0] = 0xdf;                              /* map32 of 70000 pairs */
    ck_assert_int_eq (validate_bytes (buf, 5 + 2 * n, 1), 0);
    expect_header_refused (buf, 5 + 2 * n - 1);
    expect_header_refused (buf, 5 + n);
    free (buf);
    /*  A fixmap of 2 pairs in 3 bytes. */
    expect_header_refused ((const uint8_t *) "\x82\xc0\xc0\xc0", 4);
}
END_TEST

START_TEST (test_validate_huge_lengths)
{
    /*  str32, bin32, ext32 lengths far past the end. */
    expect_header_refused ((const uint8_t *) "\xdb\xff\xff\xff\xff" "abc", 8);
    expect_header_refused ((const uint8_t *) "\xc6\xff\xff\xff\xff" "abc", 8);
    expect_header_refused ((const uint8_t *) "\xc9\xff\xff\xff\xff\x01" "abc", 9);
    expect_header_refused ((const uint8_t *) "\xda\xff\xff" "abc", 6);
    expect_header_refused ((const uint8_t *) "\xd9\xff" "abc", 5);
    /*  One past the end, and exactly to the end. */
    expect_header_refused ((const uint8_t *) "\xdb\x00\x00\x00\x04" "abc", 8);
    ck_assert_int_eq (validate_bytes ("\xdb\x00\x00\x00\x03" "abc", 8, 0), 0);
    expect_header_refused ((const uint8_t *) "\xc6\x00\x00\x00\x04" "abc", 8);
    ck_assert_int_eq (validate_bytes ("\xc6\x00\x00\x00\x03" "abc", 8, 0), 0);
    expect_header_refused ((const uint8_t *) "\xc9\x00\x00\x00\x04\x01" "abc", 9);
    ck_assert_int_eq (validate_bytes ("\xc9\x00\x00\x00\x03\x01" "abc", 9, 0), 0);
    expect_header_refused ((const uint8_t *) "\xd8\x01" "abc", 5);
    /*  Lengths cut short. */
    expect_header_refused ((const uint8_t *) "\xdb\x00\x00", 3);
    expect_header_refused ((const uint8_t *) "\xc9\x00\x00\x00\x00", 5);
    /*  Inside a container. */
    ck_assert_int_eq (validate_bytes ("\x91\xdb\xff\xff\xff\xff" "abc", 9, 4),
                      -EBADMSG);
}
END_TEST

START_TEST (test_validate_depth)
{
    size_t len;
    uint8_t *p;
    /*  A scalar is depth 0, [] is 1, [[]] is 2. */
    ck_assert_int_eq (validate_bytes ("\xc0", 1, 0), 0);
    ck_assert_int_eq (validate_bytes ("\x90", 1, 0), -ELOOP);
    ck_assert_int_eq (validate_bytes ("\x90", 1, 1), 0);
    ck_assert_int_eq (validate_bytes ("\x80", 1, 0), -ELOOP);
    ck_assert_int_eq (validate_bytes ("\x91\x90", 2, 1), -ELOOP);
    ck_assert_int_eq (validate_bytes ("\x91\x90", 2, 2), 0);
    /*  A negative limit means no containers at all. */
    ck_assert_int_eq (validate_bytes ("\x01", 1, -5), 0);
    ck_assert_int_eq (validate_bytes ("\x90", 1, -5), -ELOOP);
    /*  Depth through map keys and values. */
    ck_assert_int_eq (validate_bytes ("\x81\x90\xc0", 3, 1), -ELOOP);
    ck_assert_int_eq (validate_bytes ("\x81\x90\xc0", 3, 2), 0);
    ck_assert_int_eq (validate_bytes ("\x81\xc0\x80", 3, 1), -ELOOP);
    /*  Siblings do not add up. */
    ck_assert_int_eq (validate_bytes ("\x93\x91\x90\x91\x90\x91\x90", 7, 3), 0);
    ck_assert_int_eq (validate_bytes ("\x93\x91\x90\x91\x90\x91\x90", 7, 2), -ELOOP);

    for (size_t d = 1; d <= HSN_MP_DEPTH_LIMIT; d++) {
        p = nested_arrays (d, &len);
        ck_assert_int_eq (hsn_mp_validate (p, len, (int) d), 0);
        ck_assert_int_eq (hsn_mp_validate (p, len, (int) d - 1), -ELOOP);
        free (p);
        p = nested_maps (d, &len);
        ck_assert_int_eq (hsn_mp_validate (p, len, (int) d), 0);
        ck_assert_int_eq (hsn_mp_validate (p, len, (int) d - 1), -ELOOP);
        free (p);
    }
}
END_TEST

START_TEST (test_validate_depth_limit)
{
    size_t len;
    hsn_mp_reader_t r;
    hsn_mp_obj_t o;

    /*  Exactly at the hard limit: accepted, however large the limit asked. */
    uint8_t *p = nested_arrays (HSN_MP_DEPTH_LIMIT, &len);
    ck_assert_int_eq (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT), 0);
    ck_assert_int_eq (hsn_mp_validate (p, len, INT_MAX), 0);
    hsn_mp_reader_init (&r, p, len);
    ck_assert_int_eq (hsn_mp_get (&r, &o, HSN_MP_DEPTH_LIMIT), 0);
    ck_assert_uint_eq (o.raw_len, len);
    hsn_mp_reader_init (&r, p, len);
    ck_assert_int_eq (hsn_mp_skip (&r, INT_MAX), 0);
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
    free (p);

    /*  Ending in an empty container rather than a scalar. */
    p = repeat (0x91, HSN_MP_DEPTH_LIMIT - 1, "\x90", 1, &len);
    ck_assert_int_eq (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT), 0);
    ck_assert_int_eq (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT - 1), -ELOOP);
    free (p);
    p = repeat (0x91, HSN_MP_DEPTH_LIMIT, "\x90", 1, &len);
    ck_assert_int_eq (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT), -ELOOP);
    free (p);

    p = nested_maps (HSN_MP_DEPTH_LIMIT, &len);
    ck_assert_int_eq (hsn_mp_validate (p, len, INT_MAX), 0);
    free (p);

    /*  One past: refused whatever the caller asks for. */
    p = nested_arrays (HSN_MP_DEPTH_LIMIT + 1, &len);
    ck_assert_int_eq (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT), -ELOOP);
    ck_assert_int_eq (hsn_mp_validate (p, len, HSN_MP_DEPTH_LIMIT + 1), -ELOOP);
    ck_assert_int_eq (hsn_mp_validate (p, len, INT_MAX), -ELOOP);
    hsn_mp_reader_init (&r, p, len);
    ck_assert_int_eq (hsn_mp_get (&r, &o, INT_MAX), -ELOOP);
    hsn_mp_reader_init (&r, p, len);
    ck_assert_int_eq (hsn_mp_skip (&r, INT_MAX), -ELOOP);
    free (p);
    p = nested_maps (HSN_MP_DEPTH_LIMIT + 1, &len);
    ck_assert_int_eq (hsn_mp_validate (p, len, INT_MAX), -ELOOP);
    free (p);
}
END_TEST

/*  100000 nested headers, checked on a thread with a small stack: a decoder
 *  that recursed per level would overflow it long before the end. */
typedef struct {
    uint8_t fill;
    bool tail;
    int rc_validate;
    int rc_get;
    int rc_skip;
} deep_job_t;

static void *
deep_worker (void *arg)
{
    deep_job_t *job = arg;
    size_t n = 100000, len;
    uint8_t *p = repeat (job->fill, n, "\xc0\xc0", job->tail ? 2 : 0, &len);
    hsn_mp_reader_t r;
    hsn_mp_obj_t o;
    job->rc_validate = hsn_mp_validate (p, len, INT_MAX);
    hsn_mp_reader_init (&r, p, len);
    job->rc_get = hsn_mp_get (&r, &o, INT_MAX);
    hsn_mp_reader_init (&r, p, len);
    job->rc_skip = hsn_mp_skip (&r, HSN_MP_DEPTH_LIMIT);
    free (p);
    return NULL;
}

static void
run_deep (uint8_t fill, bool tail)
{
    deep_job_t job = { .fill = fill, .tail = tail };
    pthread_attr_t attr;
    pthread_t tid;
    ck_assert_int_eq (pthread_attr_init (&attr), 0);
    ck_assert_int_eq (pthread_attr_setstacksize (&attr, 256 * 1024), 0);
    ck_assert_int_eq (pthread_create (&tid, &attr, deep_worker, &job), 0);
    ck_assert_int_eq (pthread_join (tid, NULL), 0);
    pthread_attr_destroy (&attr);
    ck_assert_int_eq (job.rc_validate, -ELOOP);
    ck_assert_int_eq (job.rc_get, -ELOOP);
    ck_assert_int_eq (job.rc_skip, -ELOOP);
}

START_TEST (test_validate_deep_bomb)
{
    run_deep (0x91, false);     /* [[[[... */
    run_deep (0x91, true);
    run_deep (0x81, false);     /* {{{{...: maps as keys */
    run_deep (0x81, true);
}
END_TEST

START_TEST (test_validate_deep_bomb_array32)
{
    /*  The array32 bomb is refused for its count before its depth. */
    deep_job_t job = { .fill = 0xdd };
    deep_worker (&job);
    ck_assert_int_eq (job.rc_validate, -EBADMSG);
}
END_TEST

START_TEST (test_map_get)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "a", 1);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_uint8 (&pk, 7);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "b", 1);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "x", 1);
    hsn_mp_reader_t r;
    hsn_mp_obj_t map, v;
    hsn_mp_reader_init (&r, sb.data, sb.size);
    ck_assert_int_eq (hsn_mp_get (&r, &map, 8), 0);
    ck_assert_int_eq (hsn_mp_map_get (&map, "b", &v), 0);
    ck_assert (hsn_mp_str_eq (&v, "x"));
    /*  Found past a nested value: the walk skips whole objects. */
    ck_assert_int_eq (hsn_mp_map_get (&map, "a", &v), 0);
    ck_assert_int_eq (v.type, HSN_MP_ARRAY);
    ck_assert_int_eq (hsn_mp_map_get (&map, "c", &v), -ENOENT);
    ck_assert_int_eq (hsn_mp_map_get (&v, "a", &v), -EBADMSG);   /* an array */
    msgpack_sbuffer_destroy (&sb);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_mp");
    TCase *tc = tcase_create ("types");
    tcase_add_test (tc, test_nil_bool);
    tcase_add_test (tc, test_uint_boundaries);
    tcase_add_test (tc, test_int_boundaries);
    tcase_add_test (tc, test_int_widths);
    tcase_add_test (tc, test_float);
    tcase_add_test (tc, test_str);
    tcase_add_test (tc, test_bin);
    tcase_add_test (tc, test_ext);
    tcase_add_test (tc, test_str_eq);
    tcase_add_test (tc, test_container_headers);
    tcase_add_test (tc, test_nested);
    tcase_add_test (tc, test_get_raw_spans);
    tcase_add_test (tc, test_next_failure_unchanged);
    suite_add_tcase (s, tc);

    tc = tcase_create ("validate");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_validate_every_prefix);
    tcase_add_test (tc, test_validate_trailing);
    tcase_add_test (tc, test_validate_c1);
    tcase_add_test (tc, test_validate_huge_counts);
    tcase_add_test (tc, test_validate_huge_lengths);
    tcase_add_test (tc, test_validate_depth);
    tcase_add_test (tc, test_validate_depth_limit);
    tcase_add_test (tc, test_validate_deep_bomb);
    tcase_add_test (tc, test_validate_deep_bomb_array32);
    tcase_add_test (tc, test_map_get);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
