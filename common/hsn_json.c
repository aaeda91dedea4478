/*  hsn_json: JSON -> msgpack through yajl's tree. See hsn_json.h. */
#include "hsn_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "hsn_mp.h"

/*  Length of the valid UTF-8 sequence at s[0..n), or 0: no overlongs, no
 *  surrogates, nothing above U+10FFFF (Unicode 15, table 3-7). yajl's own
 *  check lets surrogates through. */
static size_t
utf8_len (const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xbf;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    }
    else
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if (k >= n || s[k] < lo || s[k] > hi)
            return 0;
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

/*  Deepest container nesting of json, outside strings; -1 when it goes
 *  deeper than limit (counting stops there), -2 when the text has a '/'
 *  outside a string (a comment, which yajl_tree would accept), -3 when it
 *  is not UTF-8, -4 for a \u0000 escape. */
static int
depth_of (const char *json, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if ((unsigned char) c >= 0x80) {
            size_t n = utf8_len ((const uint8_t *) json + i, len - i);
            if (!n)
                return -3;
            i += n - 1;
            continue;
        }
        if (in_str) {
            /*  yajl's tree holds C strings: a \u0000 would cut one short. */
            if (c == '\\' && i + 5 < len && memcmp (json + i + 1, "u0000", 5) == 0)
                return -4;
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > limit)
                return -1;
            if (depth > max)
                max = depth;
        }
        else if (c == '}' || c == ']')
            depth--;
        else if (c == '/')
            return -2;
    }
    return max;
}

static void
pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

/*  Recursion bounded by the depth check. */
static void
pack_val (msgpack_packer *pk, yajl_val v)
{
    if (YAJL_IS_STRING (v))
        pack_str (pk, v->u.string, strlen (v->u.string));
    else if (YAJL_IS_INTEGER (v))
        msgpack_pack_int64 (pk, v->u.number.i);
    else if (YAJL_IS_NUMBER (v)) {
        const char *r = v->u.number.r;
        if (!strpbrk (r, ".eE"))
            pack_str (pk, r, strlen (r));       /* an integer beyond int64 */
        else
            msgpack_pack_double (pk, v->u.number.d);
    }
    else if (YAJL_IS_OBJECT (v)) {
        msgpack_pack_map (pk, v->u.object.len);
        for (size_t i = 0; i < v->u.object.len; i++) {
            pack_str (pk, v->u.object.keys[i], strlen (v->u.object.keys[i]));
            pack_val (pk, v->u.object.values[i]);
        }
    }
    else if (YAJL_IS_ARRAY (v)) {
        msgpack_pack_array (pk, v->u.array.len);
        for (size_t i = 0; i < v->u.array.len; i++)
            pack_val (pk, v->u.array.values[i]);
    }
    else if (YAJL_IS_TRUE (v))
        msgpack_pack_true (pk);
    else if (YAJL_IS_FALSE (v))
        msgpack_pack_false (pk);
    else
        msgpack_pack_nil (pk);
}

int
hsn_json_to_mp (const char *json, size_t len, int max_depth, msgpack_packer *pk, char *err,
                size_t errlen)
{
    if (errlen)
        err[0] = 0;
    if (len > HSN_JSON_MAX_TEXT)
        return -EMSGSIZE;
    if (memchr (json, 0, len) || json[len] != 0) {
        if (errlen)
            snprintf (err, errlen, "NUL byte in JSON text");
        return -EBADMSG;
    }
    /*  Clamped: the packing below recurses once per level. */
    if (max_depth > HSN_MP_DEPTH_LIMIT)
        max_depth = HSN_MP_DEPTH_LIMIT;
    int d = depth_of (json, len, max_depth < 0 ? 0 : max_depth);
    if (d == -1)
        return -ELOOP;
    if (d < -1) {
        if (errlen)
            snprintf (err, errlen, "%s", d == -2 ? "'/' outside a string: comments are not JSON"
                                         : d == -3 ? "invalid UTF-8"
                                                   : "\\u0000 in a string is not supported");
        return -EBADMSG;
    }
    char ebuf[256] = "";
    yajl_val root = yajl_tree_parse (json, ebuf, sizeof ebuf);
    if (!root) {
        if (errlen)
            snprintf (err, errlen, "%s", ebuf[0] ? ebuf : "invalid JSON");
        return ebuf[0] ? -EBADMSG : -ENOMEM;
    }
    pack_val (pk, root);
    yajl_tree_free (root);
    return 0;
}
