/*  gateway_json: JSON <-> msgpack for the gateway. See gateway_json.h and
 *  docs/JSON.md. */
#include "gateway_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "hsn_mp.h"

static int
clamp_depth (int max_depth)
{
    if (max_depth < 0)
        return 0;
    return max_depth > HSN_MP_DEPTH_LIMIT ? HSN_MP_DEPTH_LIMIT : max_depth;
}

/*  Length of the UTF-8 sequence at s[0..n) if it is valid (1..4), else minus
 *  the length of its maximal invalid subpart (the lead byte plus the
 *  continuation bytes that were still possible), per Unicode 15 3.9 and
 *  table 3-7: no overlongs, no surrogates, nothing above U+10FFFF. */
static int
utf8_seq (const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    uint8_t lo = 0x80, hi = 0xbf;
    int need;
    if (c < 0x80)
        return 1;
    else if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c == 0xe0) {
        need = 2;
        lo = 0xa0;
    }
    else if (c == 0xed) {
        need = 2;
        hi = 0x9f;
    }
    else if (c >= 0xe1 && c <= 0xef)
        need = 2;
    else if (c == 0xf0) {
        need = 3;
        lo = 0x90;
    }
    else if (c == 0xf4) {
        need = 3;
        hi = 0x8f;
    }
    else if (c >= 0xf1 && c <= 0xf3)
        need = 3;
    else
        return -1;
    for (int k = 1; k <= need; k++) {
        if ((size_t) k >= n || s[k] < lo || s[k] > hi)
            return -k;
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

/* ==== text buffer ======================================================== */

void
gateway_json_buf_init (gateway_json_buf_t *buf)
{
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

void
gateway_json_buf_free (gateway_json_buf_t *buf)
{
    free (buf->data);
    gateway_json_buf_init (buf);
}

void
gateway_json_buf_reset (gateway_json_buf_t *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

/*  Make room for n more bytes plus the terminating NUL. */
static int
buf_grow (gateway_json_buf_t *buf, size_t n)
{
    if (n > SIZE_MAX - 1 - buf->len)
        return -ENOMEM;
    size_t need = buf->len + n + 1;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc (buf->data, cap);
    if (!p)
        return -ENOMEM;
    buf->data = p;
    buf->cap = cap;
    return 0;
}

static inline int
buf_reserve (gateway_json_buf_t *buf, size_t n)
{
    return buf->cap - buf->len > n ? 0 : buf_grow (buf, n);
}

static inline int
buf_put (gateway_json_buf_t *buf, const void *p, size_t n)
{
    if (buf_reserve (buf, n))
        return -ENOMEM;
    if (n)      /* memcpy from NULL is undefined even for 0 bytes */
        memcpy (buf->data + buf->len, p, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return 0;
}

static inline int
buf_putc (gateway_json_buf_t *buf, char c)
{
    if (buf_reserve (buf, 1))
        return -ENOMEM;
    buf->data[buf->len++] = c;
    buf->data[buf->len] = '\0';
    return 0;
}

int
gateway_json_buf_append (gateway_json_buf_t *buf, const void *p, size_t n)
{
    return buf_put (buf, p, n);
}

int
gateway_json_buf_reserve (gateway_json_buf_t *buf, size_t n)
{
    return buf_reserve (buf, n);
}

/* ==== JSON -> msgpack ==================================================== */

/*  One key of an object still open: its bytes in the output buffer (offsets,
 *  because the buffer moves when it grows) and where it ended in the input,
 *  for the error message. */
typedef struct {
    size_t off;
    size_t pos;
    uint32_t len;
} jkey_t;

/*  Inline room for the common small document, so that converting one does
 *  not call malloc beyond yajl's own. */
#define HEADS_INLINE 32
#define KEYS_INLINE  32

typedef struct {
    msgpack_sbuffer *out;
    msgpack_packer pk;
    yajl_handle y;
    const char *json;
    size_t fed;                 /* bytes handed to yajl_parse */
    bool completing;            /* inside yajl_complete_parse */
    int max_depth;
    int depth;
    /*  Per open container, 1..depth: offset of its 5-byte header in out,
     *  elements so far (pairs for a map), first of its keys in keys[]. */
    size_t open[HSN_MP_DEPTH_LIMIT + 1];
    uint32_t count[HSN_MP_DEPTH_LIMIT + 1];
    size_t keys_from[HSN_MP_DEPTH_LIMIT + 1];
    /*  Every container header written, in output order, for compaction. */
    size_t *heads;
    size_t nheads, capheads;
    /*  Keys of the open objects, innermost last. */
    jkey_t *keys;
    size_t nkeys, capkeys;
    int rc;                     /* set by a callback that stops the parse */
    size_t err_pos;             /* input offset the error points at */
    char *err;
    size_t errlen;
    size_t heads_inline[HEADS_INLINE];
    jkey_t keys_inline[KEYS_INLINE];
} tomp_t;

/*  Where the parser stands, as an input offset. yajl reports the offset
 *  within the chunk being parsed; yajl_complete_parse parses an empty chunk,
 *  so there the position is the end of what was fed. */
static size_t
tomp_pos (tomp_t *t)
{
    if (t->completing)
        return t->fed;
    size_t pos = yajl_get_bytes_consumed (t->y);
    return pos > t->fed ? t->fed : pos;
}

/*  Offset of the last character of the token yajl just handed to a
 *  callback: errors found in callbacks point there. */
static size_t
tomp_tok (tomp_t *t)
{
    size_t pos = tomp_pos (t);
    return pos ? pos - 1 : 0;
}

static void
tomp_error (tomp_t *t, int rc, size_t pos, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
tomp_error (tomp_t *t, int rc, size_t pos, const char *fmt, ...)
{
    t->rc = rc;
    t->err_pos = pos;
    if (!t->errlen)
        return;
    if (rc == -ENOMEM) {
        snprintf (t->err, t->errlen, "out of memory");
        return;
    }
    /*  Lines from 1; columns from 1 in characters, so an editor finds it. */
    unsigned long line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        uint8_t c = (uint8_t) t->json[i];
        if (c == '\n') {
            line++;
            col = 1;
        }
        else if ((c & 0xc0) != 0x80)
            col++;
    }
    int n = snprintf (t->err, t->errlen, "invalid JSON at line %lu column %lu: ",
                      line, col);
    if (n < 0 || (size_t) n >= t->errlen)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (t->err + n, t->errlen - (size_t) n, fmt, ap);
    va_end (ap);
}

static int
tomp_nomem (tomp_t *t)
{
    tomp_error (t, -ENOMEM, tomp_tok (t), "out of memory");
    return 0;
}

/*  Double one of the two side arrays, leaving its inline storage on the
 *  first growth. Returns the new array, or NULL with the old one intact. */
static void *
grow (void *arr, size_t *cap, size_t elem, const void *inline_arr)
{
    if (*cap > SIZE_MAX / 2 / elem)
        return NULL;
    size_t ncap = *cap * 2;
    void *p;
    if (arr == inline_arr) {
        p = malloc (ncap * elem);
        if (p)
            memcpy (p, arr, *cap * elem);
    }
    else
        p = realloc (arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

/*  A value was added to the innermost container. Keys count a map's pairs,
 *  so only arrays count here. */
static int
tomp_value (tomp_t *t)
{
    if (t->depth == 0)
        return 1;
    if (t->out->data[t->open[t->depth]] == (char) 0xdf)
        return 1;
    if (t->count[t->depth] == UINT32_MAX) {
        tomp_error (t, -EINVAL, tomp_tok (t), "array has too many elements");
        return 0;
    }
    t->count[t->depth]++;
    return 1;
}

static int
y_null (void *ctx)
{
    tomp_t *t = ctx;
    if (!tomp_value (t))
        return 0;
    return msgpack_pack_nil (&t->pk) ? tomp_nomem (t) : 1;
}

static int
y_boolean (void *ctx, int b)
{
    tomp_t *t = ctx;
    if (!tomp_value (t))
        return 0;
    int rc = b ? msgpack_pack_true (&t->pk) : msgpack_pack_false (&t->pk);
    return rc ? tomp_nomem (t) : 1;
}

/*  yajl hands over the number's text, already checked against the JSON
 *  grammar: integers are converted exactly here rather than through a double,
 *  and only when they do not fit 64 bits do they become floats. */
static int
y_number (void *ctx, const char *s, size_t n)
{
    tomp_t *t = ctx;
    if (!tomp_value (t))
        return 0;
    bool neg = s[0] == '-';
    bool integral = true, overflow = false;
    uint64_t v = 0;
    for (size_t i = neg; i < n; i++) {
        unsigned d = (unsigned) (s[i] - '0');
        if (d > 9) {
            integral = false;
            break;
        }
        if (v > (UINT64_MAX - d) / 10) {
            overflow = true;
            break;
        }
        v = v * 10 + d;
    }
    int rc;
    if (integral && !overflow && !neg)
        rc = msgpack_pack_uint64 (&t->pk, v);
    else if (integral && !overflow && v <= (uint64_t) INT64_MAX + 1)
        rc = msgpack_pack_int64 (&t->pk, v == (uint64_t) INT64_MAX + 1
                                         ? INT64_MIN : -(int64_t) v);
    else {
        /*  strtod wants a terminated string; the input is not one. Numbers
         *  longer than the stack copy are legal but rare. */
        char small[128];
        char *copy = n < sizeof small ? small : malloc (n + 1);
        if (!copy)
            return tomp_nomem (t);
        memcpy (copy, s, n);
        copy[n] = '\0';
        double d = strtod (copy, NULL);
        if (copy != small)
            free (copy);
        /*  Underflow rounds to 0 or a subnormal, which is still the nearest
         *  double; overflow has no value JSON could carry back. */
        if (isinf (d)) {
            tomp_error (t, -EINVAL, tomp_tok (t),
                        "number out of range for a double");
            return 0;
        }
        rc = msgpack_pack_double (&t->pk, d);
    }
    return rc ? tomp_nomem (t) : 1;
}

static int
pack_str (tomp_t *t, const unsigned char *s, size_t n)
{
    if (n > UINT32_MAX) {
        tomp_error (t, -EINVAL, tomp_tok (t), "string longer than 4 GiB");
        return 0;
    }
    if (msgpack_pack_str (&t->pk, n) || msgpack_pack_str_body (&t->pk, s, n))
        return tomp_nomem (t);
    return 1;
}

static int
y_string (void *ctx, const unsigned char *s, size_t n)
{
    tomp_t *t = ctx;
    return tomp_value (t) && pack_str (t, s, n);
}

static int
y_map_key (void *ctx, const unsigned char *s, size_t n)
{
    tomp_t *t = ctx;
    if (t->count[t->depth] == UINT32_MAX) {
        tomp_error (t, -EINVAL, tomp_tok (t), "object has too many keys");
        return 0;
    }
    t->count[t->depth]++;
    if (!pack_str (t, s, n))
        return 0;
    if (t->nkeys == t->capkeys) {
        jkey_t *k = grow (t->keys, &t->capkeys, sizeof *t->keys, t->keys_inline);
        if (!k)
            return tomp_nomem (t);
        t->keys = k;
    }
    t->keys[t->nkeys++] = (jkey_t) {
        .off = t->out->size - n, .pos = tomp_tok (t), .len = (uint32_t) n
    };
    return 1;
}

/*  Every container starts with a 5-byte map32/array32 header whose count is
 *  patched when it closes, because msgpack wants the count first and a
 *  stream parser only knows it at the end. Compaction shrinks them after. */
static int
tomp_open (tomp_t *t, uint8_t type)
{
    if (!tomp_value (t))
        return 0;
    if (t->depth + 1 > t->max_depth) {
        tomp_error (t, -ELOOP, tomp_tok (t), "nested deeper than %d", t->max_depth);
        return 0;
    }
    if (t->nheads == t->capheads) {
        size_t *nh = grow (t->heads, &t->capheads, sizeof *t->heads, t->heads_inline);
        if (!nh)
            return tomp_nomem (t);
        t->heads = nh;
    }
    size_t at = t->out->size;
    uint8_t h[5] = { type, 0, 0, 0, 0 };
    if (msgpack_sbuffer_write (t->out, (const char *) h, sizeof h))
        return tomp_nomem (t);
    t->heads[t->nheads++] = at;
    t->depth++;
    t->open[t->depth] = at;
    t->count[t->depth] = 0;
    t->keys_from[t->depth] = t->nkeys;
    return 1;
}

static int y_start_map (void *ctx)   { return tomp_open (ctx, 0xdf); }
static int y_start_array (void *ctx) { return tomp_open (ctx, 0xdd); }

static int
key_cmp (const void *a, const void *b, void *base)
{
    const jkey_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp ((const char *) base + x->off, (const char *) base + y->off, x->len);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static inline bool
same_key (const jkey_t *a, const jkey_t *b, const char *base)
{
    return a->len == b->len && memcmp (base + a->off, base + b->off, a->len) == 0;
}

/*  Index in k[0..n) of the earliest second occurrence of any key, or n.
 *  Small objects compare pairwise; big ones sort, so that a hostile object
 *  with many keys costs n log n, not n^2. */
static size_t
find_duplicate (jkey_t *k, size_t n, const char *base)
{
    if (n <= 16) {
        for (size_t j = 1; j < n; j++)
            for (size_t i = 0; i < j; i++)
                if (same_key (&k[i], &k[j], base))
                    return j;
        return n;
    }
    qsort_r (k, n, sizeof *k, key_cmp, (void *) base);
    /*  Equal keys now sit together, each run in input order: the run's
     *  second entry is its first repetition. */
    size_t best = n;
    for (size_t i = 1; i < n; i++) {
        if (!same_key (&k[i], &k[i - 1], base))
            continue;
        if (i >= 2 && same_key (&k[i - 1], &k[i - 2], base))
            continue;
        if (best == n || k[i].pos < k[best].pos)
            best = i;
    }
    return best;
}

static void
report_duplicate (tomp_t *t, const jkey_t *k)
{
    /*  Quote at most 40 bytes of the key, printable ASCII only: the message
     *  goes to logs and HTTP bodies. */
    const char *base = t->out->data;
    char shown[44];
    size_t m = 0;
    for (uint32_t i = 0; i < k->len && m < 40; i++) {
        uint8_t c = (uint8_t) base[k->off + i];
        shown[m++] = c >= 0x20 && c < 0x7f && c != '"' ? (char) c : '?';
    }
    if (k->len > 40)
        memcpy (shown + m - 3, "...", 3);
    shown[m] = '\0';
    tomp_error (t, -EINVAL, k->pos, "duplicate key \"%s\"", shown);
}

static int
tomp_close (void *ctx)
{
    tomp_t *t = ctx;
    uint8_t *h = (uint8_t *) t->out->data + t->open[t->depth];
    if (*h == 0xdf) {
        size_t from = t->keys_from[t->depth];
        size_t n = t->nkeys - from;
        size_t d = find_duplicate (t->keys + from, n, t->out->data);
        if (d < n) {
            report_duplicate (t, &t->keys[from + d]);
            return 0;
        }
        t->nkeys = from;
    }
    uint32_t n = t->count[t->depth];
    h[1] = (uint8_t) (n >> 24);
    h[2] = (uint8_t) (n >> 16);
    h[3] = (uint8_t) (n >> 8);
    h[4] = (uint8_t) n;
    t->depth--;
    return 1;
}

/*  Duplicate keys are only looked for when their object closes. When the
 *  parse stops inside objects for another reason, a duplicate met before
 *  that point is the first error and the one to report. */
static void
prefer_earlier_duplicate (tomp_t *t)
{
    const jkey_t *first = NULL;
    for (int d = 1; d <= t->depth; d++) {
        if ((uint8_t) t->out->data[t->open[d]] != 0xdf)
            continue;
        /*  An object's keys run up to where the next level's start. */
        size_t from = t->keys_from[d];
        size_t to = d < t->depth ? t->keys_from[d + 1] : t->nkeys;
        size_t i = find_duplicate (t->keys + from, to - from, t->out->data);
        if (i < to - from && (!first || t->keys[from + i].pos < first->pos))
            first = &t->keys[from + i];
    }
    if (first && first->pos < t->err_pos)
        report_duplicate (t, first);
}

static const yajl_callbacks tomp_callbacks = {
    .yajl_null        = y_null,
    .yajl_boolean     = y_boolean,
    .yajl_number      = y_number,   /* used instead of integer/double */
    .yajl_string      = y_string,
    .yajl_start_map   = y_start_map,
    .yajl_map_key     = y_map_key,
    .yajl_end_map     = tomp_close,
    .yajl_start_array = y_start_array,
    .yajl_end_array   = tomp_close,
};

/*  Rewrite each 5-byte header from heads[] (in output order) to its
 *  smallest msgpack form, sliding everything after it down. The write
 *  position never passes the read position, so it works in place, once
 *  over the bytes. */
static void
compact (msgpack_sbuffer *b, const size_t *heads, size_t nheads)
{
    uint8_t *d = (uint8_t *) b->data;
    size_t w = heads[0], r = heads[0];
    for (size_t i = 0; i < nheads; i++) {
        size_t seg = heads[i] - r;
        memmove (d + w, d + r, seg);
        w += seg;
        r = heads[i];
        bool map = d[r] == 0xdf;
        uint32_t n = (uint32_t) d[r + 1] << 24 | (uint32_t) d[r + 2] << 16
                   | (uint32_t) d[r + 3] << 8 | d[r + 4];
        if (n < 16)
            d[w++] = (uint8_t) ((map ? 0x80 : 0x90) | n);
        else if (n <= UINT16_MAX) {
            d[w++] = map ? 0xde : 0xdc;
            d[w++] = (uint8_t) (n >> 8);
            d[w++] = (uint8_t) n;
        }
        else {
            memmove (d + w, d + r, 5);
            w += 5;
        }
        r += 5;
    }
    memmove (d + w, d + r, b->size - r);
    b->size = w + (b->size - r);
}

static bool
is_hex4 (const uint8_t *s, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return false;
        x = x << 4 | d;
    }
    *v = x;
    return true;
}

/*  yajl's own checks are too lax for us: its UTF-8 validation accepts
 *  overlong forms and encoded surrogates (C0 80, ED A0 80), and it decodes a
 *  lone \uD800 to "?" and \uD800\u0041 to a wrong code point without an
 *  error. So one pass over the input, before yajl, finds the first byte
 *  that breaks strict UTF-8 or surrogate pairing; yajl then runs with its
 *  string validation off.
 *
 *  Escapes are tracked without knowing where strings are: in valid JSON a
 *  backslash only occurs inside strings, where each one starts an escape, so
 *  stepping over escapes left to right stays aligned with them. A stray
 *  backslash outside a string is a syntax error that yajl reports at or
 *  before whatever this pass flags after it.
 *
 *  Returns the offset of the first offence (len if none) and its reason. */
static size_t
prescan (const uint8_t *s, size_t len, const char **why)
{
    const uint64_t high = 0x8080808080808080u;
    const uint64_t ones = 0x0101010101010101u;
    const uint64_t bsl = 0x5c5c5c5c5c5c5c5cu;
    size_t i = 0;
    while (i < len) {
        /*  Eight plain ASCII bytes without a backslash at a time. */
        while (i + 8 <= len) {
            uint64_t x;
            memcpy (&x, s + i, 8);
            uint64_t y = x ^ bsl;
            if ((x & high) || ((y - ones) & ~y & high))
                break;
            i += 8;
        }
        if (i >= len)
            break;
        uint8_t c = s[i];
        if (c >= 0x80) {
            int n = utf8_seq (s + i, len - i);
            if (n < 0) {
                *why = "invalid UTF-8";
                return i;
            }
            i += (size_t) n;
        }
        else if (c != '\\')
            i++;
        else if (i + 1 < len && s[i + 1] == 'u') {
            unsigned cp, lo;
            if (i + 6 > len || !is_hex4 (s + i + 2, &cp))
                i += 2;                 /* yajl reports the bad escape */
            else if (cp >= 0xdc00 && cp <= 0xdfff) {
                *why = "unpaired surrogate in \\u escape";
                return i;
            }
            else if (cp >= 0xd800 && cp <= 0xdbff) {
                if (i + 12 > len || s[i + 6] != '\\' || s[i + 7] != 'u'
                    || !is_hex4 (s + i + 8, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                    *why = "unpaired surrogate in \\u escape";
                    return i;
                }
                i += 12;
            }
            else
                i += 6;
        }
        else
            /*  Step over the escaped character, unless it is the start of a
             *  multi-byte sequence that still needs checking. */
            i += i + 1 < len && s[i + 1] < 0x80 ? 2 : 1;
    }
    return len;
}

/*  Report yajl's own error: its message, at the offset where it stopped. */
static void
tomp_yajl_error (tomp_t *t)
{
    size_t pos = tomp_pos (t);
    unsigned char *m = yajl_get_error (t->y, 0, NULL, 0);
    if (!m) {
        tomp_error (t, -EINVAL, pos, "syntax error");
        return;
    }
    /*  "parse error: premature EOF\n": one line, no trailing newline. */
    size_t n = strlen ((char *) m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    tomp_error (t, -EINVAL, pos, "%s", (char *) m);
    yajl_free_error (t->y, m);
}

int
gateway_json_to_mp (const char *json, size_t len, int max_depth,
                    msgpack_sbuffer *out, char *err, size_t errlen)
{
    /*  About 3 KB: on the stack, so a small document costs no malloc of
     *  ours. */
    tomp_t ctx;
    tomp_t *t = &ctx;
    if (errlen)
        err[0] = '\0';
    t->out = out;
    t->json = json;
    t->fed = 0;
    t->completing = false;
    t->max_depth = clamp_depth (max_depth);
    t->depth = 0;
    t->heads = t->heads_inline;
    t->nheads = 0;
    t->capheads = HEADS_INLINE;
    t->keys = t->keys_inline;
    t->nkeys = 0;
    t->capkeys = KEYS_INLINE;
    t->rc = 0;
    t->err_pos = 0;
    t->err = err;
    t->errlen = errlen;
    msgpack_packer_init (&t->pk, out, msgpack_sbuffer_write);
    size_t base = out->size;

    t->y = yajl_alloc (&tomp_callbacks, NULL, t);
    if (!t->y) {
        if (errlen)
            snprintf (err, errlen, "out of memory");
        return -ENOMEM;
    }
    yajl_config (t->y, yajl_dont_validate_strings, 1);

    const char *why = NULL;
    size_t bad = prescan ((const uint8_t *) json, len, &why);
    /*  With an offence at `bad`, parse only up to and including that byte:
     *  a syntax error earlier in the text, or on that very byte outside a
     *  string, is the one to report; otherwise the offence is. */
    t->fed = bad < len ? bad + 1 : len;
    yajl_status st = yajl_parse (t->y, (const unsigned char *) json, t->fed);
    if (st == yajl_status_ok && bad == len) {
        t->completing = true;
        st = yajl_complete_parse (t->y);
    }
    if (st == yajl_status_error)
        tomp_yajl_error (t);
    else if (st == yajl_status_ok && bad < len)
        tomp_error (t, -EINVAL, bad, "%s", why);
    /*  yajl_status_client_canceled: a callback already set t->rc. */
    if (t->rc == -EINVAL || t->rc == -ELOOP)
        prefer_earlier_duplicate (t);

    int rc = t->rc;
    if (rc == 0 && t->nheads)
        compact (out, t->heads, t->nheads);
    if (rc)
        out->size = base;
    yajl_free (t->y);
    if (t->heads != t->heads_inline)
        free (t->heads);
    if (t->keys != t->keys_inline)
        free (t->keys);
    return rc;
}

/* ==== msgpack -> JSON ==================================================== */

/*  Bytes that cannot be copied into a JSON string as they are: control
 *  characters, quote, backslash, and non-ASCII (to be checked as UTF-8). */
static const uint8_t needs_care[256] = {
    [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static int
put_string (gateway_json_buf_t *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_putc (b, '"'))
        return -ENOMEM;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && !needs_care[s[run]])
            run++;
        if (run > i && buf_put (b, s + i, run - i))
            return -ENOMEM;
        i = run;
        if (i == n)
            break;
        uint8_t c = s[i];
        char esc[6] = { '\\', 0, '0', '0', 0, 0 };
        size_t elen = 2;
        if (c >= 0x80) {
            int m = utf8_seq (s + i, n - i);
            if (m > 0) {
                if (buf_put (b, s + i, (size_t) m))
                    return -ENOMEM;
                i += (size_t) m;
            }
            else {
                if (buf_put (b, "\xef\xbf\xbd", 3))      /* U+FFFD */
                    return -ENOMEM;
                i += (size_t) -m;
            }
            continue;
        }
        switch (c) {
            case '"':  esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                esc[1] = 'u';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                elen = 6;
        }
        if (buf_put (b, esc, elen))
            return -ENOMEM;
        i++;
    }
    return buf_putc (b, '"');
}

static int
put_base64 (gateway_json_buf_t *b, const uint8_t *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = (n + 2) / 3 * 4;
    if (buf_reserve (b, olen + 2))
        return -ENOMEM;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o++ = '"';
    b->len = (size_t) (o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

static int
put_uint (gateway_json_buf_t *b, uint64_t v, bool neg, bool quoted)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    if (quoted)
        *--p = '"';
    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        *--p = '-';
    if (quoted)
        *--p = '"';
    return buf_put (b, p, (size_t) (tmp + sizeof tmp - p));
}

static int
put_int (gateway_json_buf_t *b, const hsn_mp_obj_t *o, bool quoted)
{
    if (o->type == HSN_MP_UINT)
        return put_uint (b, o->v.u, false, quoted);
    /*  Negate in unsigned arithmetic: -INT64_MIN overflows int64. */
    return put_uint (b, (uint64_t) 0 - (uint64_t) o->v.i, true, quoted);
}

/*  The shortest %.Ng that reads back as the same value: 0.1 prints as 0.1,
 *  not 0.10000000000000001. A float32 reads back as the same float32, so
 *  0.3f prints as 0.3 rather than the digits of its widened double. */
static int
put_float (gateway_json_buf_t *b, double d, bool single)
{
    if (!isfinite (d))
        return buf_put (b, "null", 4);
    char s[40];
    int n = 0;
    if (single) {
        float f = (float) d;
        for (int prec = 6; prec <= 9; prec++) {
            n = snprintf (s, sizeof s, "%.*g", prec, d);
            if (prec == 9 || strtof (s, NULL) == f)
                break;
        }
    }
    else
        for (int prec = 15; prec <= 17; prec++) {
            n = snprintf (s, sizeof s, "%.*g", prec, d);
            if (prec == 17 || strtod (s, NULL) == d)
                break;
        }
    /*  1.0 stays 1.0: printed as 1 it would come back as an integer. */
    if (!memchr (s, '.', (size_t) n) && !memchr (s, 'e', (size_t) n)) {
        s[n++] = '.';
        s[n++] = '0';
    }
    return buf_put (b, s, (size_t) n);
}

static int
put_value (gateway_json_buf_t *b, hsn_mp_reader_t *r, int depth, int max_depth)
{
    hsn_mp_obj_t o;
    if (hsn_mp_next (r, &o))
        return -EBADMSG;
    switch (o.type) {
        case HSN_MP_NIL:
            return buf_put (b, "null", 4);
        case HSN_MP_BOOL:
            return o.v.b ? buf_put (b, "true", 4) : buf_put (b, "false", 5);
        case HSN_MP_UINT:
        case HSN_MP_INT:
            return put_int (b, &o, false);
        case HSN_MP_FLOAT:
            return put_float (b, o.v.f, o.raw[0] == 0xca);
        case HSN_MP_STR:
            return put_string (b, (const uint8_t *) o.v.s.ptr, o.v.s.len);
        case HSN_MP_BIN:
            return put_base64 (b, (const uint8_t *) o.v.s.ptr, o.v.s.len);
        case HSN_MP_EXT:
            return -EINVAL;
        case HSN_MP_ARRAY:
        case HSN_MP_MAP:
            break;
    }
    /*  Recursion is bounded by max_depth <= HSN_MP_DEPTH_LIMIT, and every
     *  count was checked against the bytes left by hsn_mp_next. */
    if (depth + 1 > max_depth)
        return -ELOOP;
    bool map = o.type == HSN_MP_MAP;
    int rc = buf_putc (b, map ? '{' : '[');
    for (uint32_t i = 0; rc == 0 && i < o.v.c.count; i++) {
        if (i && (rc = buf_putc (b, ',')))
            break;
        if (map) {
            hsn_mp_obj_t k;
            if (hsn_mp_next (r, &k))
                return -EBADMSG;
            if (k.type == HSN_MP_STR)
                rc = put_string (b, (const uint8_t *) k.v.s.ptr, k.v.s.len);
            else if (k.type == HSN_MP_UINT || k.type == HSN_MP_INT)
                rc = put_int (b, &k, true);
            else
                return -EINVAL;
            if (rc || (rc = buf_putc (b, ':')))
                break;
        }
        rc = put_value (b, r, depth + 1, max_depth);
    }
    return rc ? rc : buf_putc (b, map ? '}' : ']');
}

int
gateway_json_from_mp (const void *mp, size_t len, int max_depth,
                      gateway_json_buf_t *out)
{
    size_t base = out->len;
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, mp, len);
    int rc = put_value (out, &r, 0, clamp_depth (max_depth));
    if (rc == 0 && hsn_mp_remaining (&r))
        rc = -EMSGSIZE;
    if (rc) {
        out->len = base;
        if (out->data)
            out->data[base] = '\0';
    }
    return rc;
}
