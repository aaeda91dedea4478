/*  json_bench: JSON -> msgpack with each candidate library, and the direct
 *  msgpack -> JSON writer. See docs/JSON.md for the results and bench/json/
 *  run.sh for how it is built and run.
 *
 *  One source, one binary per library: jansson and json-c both declare
 *  json_object, json_type and json_object_get in their headers, so the two
 *  cannot share a translation unit. Build with exactly one of
 *      -DBENCH_JANSSON -DBENCH_CJSON -DBENCH_JSONC -DBENCH_YAJL
 *      -DBENCH_GATEWAY   (the shipped services/gateway/gateway_json.c, both
 *                         directions)
 *
 *  Each converter does what the gateway needs: parse one JSON text, walk it
 *  and pack msgpack with msgpack-c's packer into a reused msgpack_sbuffer.
 *  The parser state is created per document, as it would be per request.
 *  Every binary prints the size and FNV-1a hash of the msgpack it produced,
 *  so run.sh can check that all converters agree byte for byte.
 *
 *  With -p it instead feeds the edge cases of docs/JSON.md (big numbers,
 *  surrogates, bad UTF-8, duplicate keys, ...) through the same converter
 *  and prints what came out, one line per case.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "hsn_mp.h"

#if defined(BENCH_JANSSON)
#   include <jansson.h>
#   define LIB_NAME "jansson"
#elif defined(BENCH_CJSON)
#   include <cjson/cJSON.h>
#   define LIB_NAME "cjson"
#elif defined(BENCH_JSONC)
#   include <json-c/json.h>
#   define LIB_NAME "json-c"
#elif defined(BENCH_YAJL)
#   include <yajl/yajl_parse.h>
#   define LIB_NAME "yajl"
#elif defined(BENCH_GATEWAY)
#   include "services/gateway/gateway_json.h"
#   define LIB_NAME "gateway_json"
#else
#   error "define one of BENCH_JANSSON BENCH_CJSON BENCH_JSONC BENCH_YAJL BENCH_GATEWAY"
#endif

#define DEPTH 64

/* ---- documents -------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} text_t;

static void
put (text_t *t, const char *s)
{
    size_t n = strlen (s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->data = realloc (t->data, t->cap);
        if (!t->data)
            abort ();
    }
    memcpy (t->data + t->len, s, n + 1);
    t->len += n;
}

static void
putf (text_t *t, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
putf (text_t *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    put (t, buf);
}

/*  Deterministic, so every binary converts the same bytes. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t
rng (void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t) (rng_state >> 16);
}

static const char *first_names[] = {
    "Alice", "Bob", "Carol", "Dmitri", "Eve", "Fran\\u00e7ois", "G\xc3\xbcnther",
    "Hiroshi \xe6\x9d\xb1\xe4\xba\xac", "Ines", "Jos\xc3\xa9"
};
static const char *cities[] = {
    "Berlin", "Z\xc3\xbcrich", "S\xc3\xa3o Paulo", "\xe6\x9d\xb1\xe4\xba\xac",
    "New York", "Reykjav\\u00edk", "Krak\xc3\xb3w", "Lagos"
};

/*  One database-row-like object (~200 bytes). */
static void
put_row (text_t *t, uint32_t id)
{
    const char *name = first_names[rng () % 10];
    putf (t, "{\"id\":%u,\"name\":\"%s\",\"email\":\"user%u@example.com\","
          "\"city\":\"%s\",\"created_at\":\"2024-%02u-%02uT%02u:%02u:%02uZ\","
          "\"balance\":%u.%02u,\"score\":%d,\"active\":%s,"
          "\"tags\":[\"t%u\",\"t%u\"],\"manager_id\":%s}",
          id, name, id, cities[rng () % 8], 1 + rng () % 12, 1 + rng () % 28,
          rng () % 24, rng () % 60, rng () % 60, rng () % 100000, rng () % 100,
          (int) (rng () % 2001) - 1000, rng () % 2 ? "true" : "false",
          rng () % 50, rng () % 50, rng () % 3 ? "null" : "17");
}

static char *
doc_small (size_t *len)
{
    text_t t = { 0 };
    put (&t, "{\"op\":\"get\",\"key\":\"session:9f8e7d6c\",\"ttl\":300,"
             "\"fields\":[\"name\",\"email\"],\"consistent\":true,\"w\":0.75}");
    *len = t.len;
    return t.data;
}

static char *
doc_rows (size_t *len)
{
    text_t t = { 0 };
    put (&t, "[");
    for (uint32_t i = 0; t.len < 10 * 1024 - 400; i++) {
        if (i)
            put (&t, ",");
        put_row (&t, 1000 + i);
    }
    put (&t, "]");
    *len = t.len;
    return t.data;
}

/*  ~1 MB: rows, a numeric matrix, free text with escapes, some nesting. */
static char *
doc_big (size_t *len)
{
    text_t t = { 0 };
    put (&t, "{\"meta\":{\"version\":3,\"generated\":\"2024-06-01T00:00:00Z\","
             "\"source\":{\"host\":\"db-1\",\"shard\":{\"id\":7,\"replicas\":[1,2,3]}}},"
             "\"rows\":[");
    for (uint32_t i = 0; i < 4600; i++) {
        if (i)
            put (&t, ",");
        put_row (&t, i);
    }
    put (&t, "],\"matrix\":[");
    for (int r = 0; r < 300; r++) {
        put (&t, r ? ",[" : "[");
        for (int c = 0; c < 32; c++)
            putf (&t, "%s%.6g", c ? "," : "",
                  ((double) rng () / 65536.0 - 32768.0) / 997.0);
        put (&t, "]");
    }
    put (&t, "],\"notes\":[");
    for (int i = 0; i < 200; i++)
        putf (&t, "%s\"line %d: \\\"quoted\\\" text,\\ttabbed\\nand \\u00e9t\\u00e9 "
              "caf\xc3\xa9 \xe2\x82\xac \\ud83d\\ude00 %u\"", i ? "," : "", i, rng ());
    put (&t, "],\"deep\":");
    for (int i = 0; i < 20; i++)
        put (&t, "{\"k\":[");
    put (&t, "0");
    for (int i = 0; i < 20; i++)
        put (&t, "]}");
    put (&t, "}");
    *len = t.len;
    return t.data;
}

/* ---- converters --------------------------------------------------------- */

static msgpack_sbuffer sbuf;
static msgpack_packer pk;

#if defined(BENCH_JANSSON)

static int
walk (msgpack_packer *p, json_t *j)
{
    switch (json_typeof (j)) {
        case JSON_OBJECT: {
            const char *k;
            size_t klen;
            json_t *v;
            msgpack_pack_map (p, json_object_size (j));
            json_object_keylen_foreach (j, k, klen, v) {
                msgpack_pack_str (p, klen);
                msgpack_pack_str_body (p, k, klen);
                walk (p, v);
            }
            return 0;
        }
        case JSON_ARRAY: {
            size_t i;
            json_t *v;
            msgpack_pack_array (p, json_array_size (j));
            json_array_foreach (j, i, v)
                walk (p, v);
            return 0;
        }
        case JSON_STRING:
            msgpack_pack_str (p, json_string_length (j));
            return msgpack_pack_str_body (p, json_string_value (j),
                                          json_string_length (j));
        case JSON_INTEGER: return msgpack_pack_int64 (p, json_integer_value (j));
        case JSON_REAL:    return msgpack_pack_double (p, json_real_value (j));
        case JSON_TRUE:    return msgpack_pack_true (p);
        case JSON_FALSE:   return msgpack_pack_false (p);
        case JSON_NULL:    return msgpack_pack_nil (p);
    }
    return -1;
}

static int
convert (const char *json, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb (json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY
                                       | JSON_ALLOW_NUL, &e);
    if (!j)
        return -1;
    int rc = walk (&pk, j);
    json_decref (j);
    return rc;
}

#elif defined(BENCH_CJSON)

static int
walk (msgpack_packer *p, const cJSON *j)
{
    if (cJSON_IsObject (j) || cJSON_IsArray (j)) {
        size_t n = 0;
        for (const cJSON *c = j->child; c; c = c->next)
            n++;
        if (cJSON_IsObject (j))
            msgpack_pack_map (p, n);
        else
            msgpack_pack_array (p, n);
        for (const cJSON *c = j->child; c; c = c->next) {
            if (cJSON_IsObject (j)) {
                size_t kl = strlen (c->string);
                msgpack_pack_str (p, kl);
                msgpack_pack_str_body (p, c->string, kl);
            }
            walk (p, c);
        }
        return 0;
    }
    if (cJSON_IsString (j)) {
        size_t n = strlen (j->valuestring);
        msgpack_pack_str (p, n);
        return msgpack_pack_str_body (p, j->valuestring, n);
    }
    if (cJSON_IsNumber (j)) {
        /*  cJSON keeps only a double: integers above 2^53 are already lost. */
        double d = j->valuedouble;
        if (d == floor (d) && fabs (d) < 9.2e18)
            return msgpack_pack_int64 (p, (int64_t) d);
        return msgpack_pack_double (p, d);
    }
    if (cJSON_IsTrue (j))
        return msgpack_pack_true (p);
    if (cJSON_IsFalse (j))
        return msgpack_pack_false (p);
    return msgpack_pack_nil (p);
}

static int
convert (const char *json, size_t len)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts (json, len, &end, 0);
    if (!j)
        return -1;
    while (end < json + len && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r'))
        end++;
    int rc = end == json + len ? walk (&pk, j) : -1;
    cJSON_Delete (j);
    return rc;
}

#elif defined(BENCH_JSONC)

static int
walk (msgpack_packer *p, struct json_object *j)
{
    switch (json_object_get_type (j)) {
        case json_type_object: {
            msgpack_pack_map (p, (size_t) json_object_object_length (j));
            json_object_object_foreach (j, k, v) {
                size_t kl = strlen (k);
                msgpack_pack_str (p, kl);
                msgpack_pack_str_body (p, k, kl);
                walk (p, v);
            }
            return 0;
        }
        case json_type_array: {
            size_t n = json_object_array_length (j);
            msgpack_pack_array (p, n);
            for (size_t i = 0; i < n; i++)
                walk (p, json_object_array_get_idx (j, i));
            return 0;
        }
        case json_type_string: {
            size_t n = (size_t) json_object_get_string_len (j);
            msgpack_pack_str (p, n);
            return msgpack_pack_str_body (p, json_object_get_string (j), n);
        }
        case json_type_int: {
            int64_t v = json_object_get_int64 (j);
            if (v == INT64_MAX)
                return msgpack_pack_uint64 (p, json_object_get_uint64 (j));
            return msgpack_pack_int64 (p, v);
        }
        case json_type_double:  return msgpack_pack_double (p, json_object_get_double (j));
        case json_type_boolean:
            return json_object_get_boolean (j) ? msgpack_pack_true (p)
                                                : msgpack_pack_false (p);
        case json_type_null:    return msgpack_pack_nil (p);
    }
    return -1;
}

static int
convert (const char *json, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex (DEPTH);
    json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *j = json_tokener_parse_ex (tok, json, (int) len);
    int rc = -1;
    if (j && json_tokener_get_error (tok) == json_tokener_success
          && json_tokener_get_parse_end (tok) == len)
        rc = walk (&pk, j);
    json_object_put (j);
    json_tokener_free (tok);
    return rc;
}

#elif defined(BENCH_YAJL)

/*  Streaming: yajl calls back per token and we pack at once. Container
 *  counts are unknown until the close, so each container gets a 5-byte
 *  array32/map32 header that is patched on close; a final pass rewrites the
 *  buffer with minimal headers (fixmap/fixarray/16/32), which is what the
 *  DOM libraries produce. Validation the other converters get from their
 *  library (duplicate keys, strict UTF-8, surrogates) is NOT done here: this
 *  row is the lower bound for a yajl-based converter. */
typedef struct {
    msgpack_sbuffer *out;
    size_t stack[DEPTH + 1];        /* header offset of each open container */
    uint32_t count[DEPTH + 1];
    int depth;
    size_t *heads;                  /* every container header, in order */
    size_t nheads, capheads;
} ystate_t;

static inline void
ycount (ystate_t *s)
{
    if (s->depth > 0)
        s->count[s->depth]++;
}

static int
y_null (void *c)
{
    ystate_t *s = c;
    ycount (s);
    return msgpack_pack_nil (&pk) == 0;
}

static int
y_bool (void *c, int b)
{
    ystate_t *s = c;
    ycount (s);
    return (b ? msgpack_pack_true (&pk) : msgpack_pack_false (&pk)) == 0;
}

static int
y_number (void *c, const char *t, size_t n)
{
    ystate_t *s = c;
    ycount (s);
    char buf[64];
    if (n >= sizeof buf)
        return 0;
    memcpy (buf, t, n);
    buf[n] = 0;
    bool isint = !memchr (t, '.', n) && !memchr (t, 'e', n) && !memchr (t, 'E', n);
    char *end;
    errno = 0;
    if (isint && buf[0] == '-') {
        long long v = strtoll (buf, &end, 10);
        if (errno == 0)
            return msgpack_pack_int64 (&pk, v) == 0;
    }
    else if (isint) {
        unsigned long long v = strtoull (buf, &end, 10);
        if (errno == 0)
            return msgpack_pack_uint64 (&pk, v) == 0;
    }
    return msgpack_pack_double (&pk, strtod (buf, &end)) == 0;
}

static int
y_string (void *c, const unsigned char *t, size_t n)
{
    ystate_t *s = c;
    ycount (s);
    msgpack_pack_str (&pk, n);
    return msgpack_pack_str_body (&pk, t, n) == 0;
}

static int
y_key (void *c, const unsigned char *t, size_t n)
{
    msgpack_pack_str (&pk, n);
    return msgpack_pack_str_body (&pk, t, n) == 0;
}

static int
y_open (void *c, uint8_t type)
{
    ystate_t *s = c;
    ycount (s);
    if (s->depth == DEPTH)
        return 0;
    if (s->nheads == s->capheads) {
        s->capheads = s->capheads ? s->capheads * 2 : 64;
        s->heads = realloc (s->heads, s->capheads * sizeof *s->heads);
    }
    s->heads[s->nheads++] = s->out->size;
    s->depth++;
    s->stack[s->depth] = s->out->size;
    s->count[s->depth] = 0;
    uint8_t h[5] = { type, 0, 0, 0, 0 };
    return msgpack_sbuffer_write (s->out, (const char *) h, 5) == 0;
}

static int y_start_map (void *c)   { return y_open (c, 0xdf); }
static int y_start_array (void *c) { return y_open (c, 0xdd); }

static int
y_close (void *c)
{
    ystate_t *s = c;
    uint8_t *h = (uint8_t *) s->out->data + s->stack[s->depth];
    uint32_t n = s->count[s->depth];
    h[1] = (uint8_t) (n >> 24); h[2] = (uint8_t) (n >> 16);
    h[3] = (uint8_t) (n >> 8);  h[4] = (uint8_t) n;
    s->depth--;
    return 1;
}

static const yajl_callbacks ycb = {
    .yajl_null = y_null, .yajl_boolean = y_bool, .yajl_number = y_number,
    .yajl_string = y_string, .yajl_start_map = y_start_map,
    .yajl_map_key = y_key, .yajl_end_map = y_close,
    .yajl_start_array = y_start_array, .yajl_end_array = y_close,
};

/*  Shrink every 5-byte header to its minimal form, in place, front to back:
 *  the write position never passes the read position. */
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
        else if (n < 65536) {
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

static int
convert (const char *json, size_t len)
{
    static ystate_t s;
    s.out = &sbuf;
    s.depth = 0;
    s.nheads = 0;
    yajl_handle y = yajl_alloc (&ycb, NULL, &s);
    yajl_status st = yajl_parse (y, (const unsigned char *) json, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse (y);
    yajl_free (y);
    if (st != yajl_status_ok)
        return -1;
    if (s.nheads)
        compact (&sbuf, s.heads, s.nheads);
    return 0;
}

#elif defined(BENCH_GATEWAY)

static char errbuf[256];

static int
convert (const char *json, size_t len)
{
    return gateway_json_to_mp (json, len, DEPTH, &sbuf, errbuf, sizeof errbuf);
}

#endif

/* ---- edge cases (-p) ------------------------------------------------------ */

static const struct { const char *name, *json; } probe_cases[] = {
    { "int64 max",            "[9223372036854775807]" },
    { "uint64 max",           "[18446744073709551615]" },
    { "2^64",                 "[18446744073709551616]" },
    { "int64 min",            "[-9223372036854775808]" },
    { "int64 min - 1",        "[-9223372036854775809]" },
    { "2^53 + 1",             "[9007199254740993]" },
    { "1e400",                "[1e400]" },
    { "lone \\ud800",         "[\"\\ud800\"]" },
    { "lone \\udc00",         "[\"\\udc00\"]" },
    { "\\ud800\\u0041",        "[\"\\ud800\\u0041\"]" },
    { "pair \\ud83d\\ude00",   "[\"\\ud83d\\ude00\"]" },
    { "byte FF",              "[\"\xff\"]" },
    { "UTF-8 surrogate ED A0 80", "[\"\xed\xa0\x80\"]" },
    { "overlong C0 80",       "[\"\xc0\x80\"]" },
    { "\\u0000 in string",    "[\"a\\u0000b\"]" },
    { "duplicate key",        "{\"a\":1,\"a\":2}" },
    { "raw tab in string",    "[\"\t\"]" },
    { "leading zero 01",      "[01]" },
    { "1.",                   "[1.]" },
    { "trailing comma",       "[1,]" },
    { "trailing garbage",     "[1] x" },
    { "100 nested arrays",    NULL },       /* built below */
};

/*  A compact description of converted msgpack: u:/i:/f: numbers, strings as
 *  hex when not plain ASCII, {k:v}, [..] for nested arrays. */
static void
describe (hsn_mp_reader_t *r, int depth)
{
    hsn_mp_obj_t o;
    if (hsn_mp_next (r, &o)) {
        printf ("?");
        return;
    }
    switch (o.type) {
        case HSN_MP_NIL:   printf ("nil"); break;
        case HSN_MP_BOOL:  printf (o.v.b ? "true" : "false"); break;
        case HSN_MP_UINT:  printf ("u:%" PRIu64, o.v.u); break;
        case HSN_MP_INT:   printf ("i:%" PRId64, o.v.i); break;
        case HSN_MP_FLOAT: printf ("f:%.17g", o.v.f); break;
        case HSN_MP_STR: {
            bool plain = true;
            for (uint32_t i = 0; i < o.v.s.len; i++)
                plain &= o.v.s.ptr[i] >= 0x20 && o.v.s.ptr[i] < 0x7f;
            if (plain)
                printf ("\"%.*s\"", (int) o.v.s.len, o.v.s.ptr);
            else {
                printf ("x");
                for (uint32_t i = 0; i < o.v.s.len; i++)
                    printf ("%02x", (uint8_t) o.v.s.ptr[i]);
            }
            break;
        }
        case HSN_MP_ARRAY:
        case HSN_MP_MAP:
            if (depth > 2) {
                printf ("[..]");
                hsn_mp_skip (r, 200);       /* rest of this container */
                return;
            }
            printf (o.type == HSN_MP_MAP ? "{" : "[");
            for (uint32_t i = 0; i < o.v.c.count; i++) {
                if (i)
                    printf (",");
                if (o.type == HSN_MP_MAP) {
                    describe (r, depth + 1);
                    printf (":");
                }
                describe (r, depth + 1);
            }
            printf (o.type == HSN_MP_MAP ? "}" : "]");
            break;
        default:
            printf ("other");
    }
}

static void
run_probe (void)
{
    for (size_t c = 0; c < sizeof probe_cases / sizeof probe_cases[0]; c++) {
        char deep[256];
        const char *json = probe_cases[c].json;
        if (!json) {
            memset (deep, '[', 100);
            memset (deep + 100, ']', 100);
            deep[200] = '\0';
            json = deep;
        }
        sbuf.size = 0;
        int rc = convert (json, strlen (json));
        printf ("%s\t%s\t", LIB_NAME, probe_cases[c].name);
        if (rc)
            printf ("error");
        else {
            hsn_mp_reader_t r;
            hsn_mp_reader_init (&r, sbuf.data, sbuf.size);
            describe (&r, 0);
        }
        printf ("\n");
    }
}

/* ---- timing ------------------------------------------------------------- */

/*  CPU time of this thread, not wall time: the machine is shared (2 cores,
 *  builds and tests of others running), and time spent descheduled is not
 *  the converter's. Cache pollution by neighbours still shows, hence the
 *  best-of-N below. */
static double
now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t
fnv1a (const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *) p)[i]) * 0x100000001b3u;
    return h;
}

typedef int (*op_fn) (const void *in, size_t len);

static int
op_to_mp (const void *in, size_t len)
{
    sbuf.size = 0;
    return convert (in, len);
}

#if defined(BENCH_GATEWAY)
static gateway_json_buf_t jbuf;

static int
op_from_mp (const void *in, size_t len)
{
    gateway_json_buf_reset (&jbuf);
    return gateway_json_from_mp (in, len, DEPTH, &jbuf);
}
#endif

/*  Best of 7 runs of >= 0.15 s CPU each: the least disturbed run. Returns
 *  ns per document. */
static double
time_op (op_fn op, const void *in, size_t len)
{
    double best = 1e300;
    for (int run = 0; run < 7; run++) {
        long iters = 0;
        double t0 = now_ns (), t1;
        do {
            for (int k = 0; k < 16; k++)
                if (op (in, len) != 0) {
                    fprintf (stderr, LIB_NAME ": conversion failed\n");
                    exit (1);
                }
            iters += 16;
            t1 = now_ns ();
        } while (t1 - t0 < 1.5e8);
        double per = (t1 - t0) / (double) iters;
        if (per < best)
            best = per;
    }
    return best;
}

static void
report (const char *what, const char *doc, size_t in_len, double ns,
        const void *out, size_t out_len)
{
    printf ("%-13s %-12s %-6s %9zu %10.0f %9.1f %9zu %016" PRIx64 "\n",
            LIB_NAME, what, doc, in_len, ns, (double) in_len * 1e3 / ns,
            out_len, fnv1a (out, out_len));
}

int
main (int argc, char **argv)
{
    struct { const char *name; char *(*make) (size_t *); } docs[] = {
        { "100B", doc_small }, { "10KB", doc_rows }, { "1MB", doc_big },
    };
    /*  -h: print the table header only. */
    if (argc > 1 && strcmp (argv[1], "-h") == 0) {
        printf ("%-13s %-12s %-6s %9s %10s %9s %9s %16s\n", "converter",
                "direction", "doc", "in_bytes", "ns/doc", "MB/s", "out_bytes",
                "out_fnv1a");
        return 0;
    }
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    if (argc > 1 && strcmp (argv[1], "-p") == 0) {
        run_probe ();
        msgpack_sbuffer_destroy (&sbuf);
        return 0;
    }
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        rng_state = 0x9e3779b97f4a7c15u;
        size_t len;
        char *json = docs[d].make (&len);
        double ns = time_op (op_to_mp, json, len);
        report ("json->mp", docs[d].name, len, ns, sbuf.data, sbuf.size);
#if defined(BENCH_GATEWAY)
        /*  msgpack -> JSON from the msgpack just produced. */
        sbuf.size = 0;
        convert (json, len);
        size_t mlen = sbuf.size;
        void *mp = malloc (mlen);
        memcpy (mp, sbuf.data, mlen);
        ns = time_op (op_from_mp, mp, mlen);
        report ("mp->json", docs[d].name, mlen, ns, jbuf.data, jbuf.len);
        free (mp);
#endif
        free (json);
    }
    msgpack_sbuffer_destroy (&sbuf);
#if defined(BENCH_GATEWAY)
    gateway_json_buf_free (&jbuf);
#endif
    return 0;
}
