/*  query_types: parameter binding and result encoding. See query_types.h. */
#include "query_types.h"
#include "hsn_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Column type OIDs (pg_type.dat; stable across PostgreSQL versions). */
#define OID_BOOL        16
#define OID_BYTEA       17
#define OID_CHAR        18
#define OID_NAME        19
#define OID_INT8        20
#define OID_INT2        21
#define OID_INT4        23
#define OID_TEXT        25
#define OID_OID         26
#define OID_JSON        114
#define OID_FLOAT4      700
#define OID_FLOAT8      701
#define OID_BPCHAR      1042
#define OID_VARCHAR     1043
#define OID_DATE        1082
#define OID_TIMESTAMP   1114
#define OID_TIMESTAMPTZ 1184
#define OID_NUMERIC     1700
#define OID_JSONB       3802

static const char *
mp_type_name (hsn_mp_type_t t)
{
    switch (t) {
        case HSN_MP_NIL: return "nil";
        case HSN_MP_BOOL: return "bool";
        case HSN_MP_UINT:
        case HSN_MP_INT: return "int";
        case HSN_MP_FLOAT: return "float";
        case HSN_MP_STR: return "str";
        case HSN_MP_BIN: return "bin";
        case HSN_MP_ARRAY: return "array";
        case HSN_MP_MAP: return "map";
        case HSN_MP_EXT: return "ext";
    }
    return "?";
}

static char *
hex_of (const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = (char *) malloc (2 * len + 3);
    if (!s)
        return NULL;
    s[0] = '\\';
    s[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        s[2 + 2 * i] = digits[p[i] >> 4];
        s[3 + 2 * i] = digits[p[i] & 15];
    }
    s[2 + 2 * len] = 0;
    return s;
}

static char *
float_text (double d)
{
    char buf[40];
    if (isnan (d))
        return strdup ("NaN");
    if (isinf (d))
        return strdup (d > 0 ? "Infinity" : "-Infinity");
    snprintf (buf, sizeof buf, "%.17g", d);
    return strdup (buf);
}

/*  A string (a GET's query-string value) as the text of a declared int,
 *  float or bool: numbers must read back whole, bools are true/false/1/0.
 *  NULL when it is none of those. */
static char *
str_as (query_type_t type, const char *p, size_t len)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf || memchr (p, 0, len) || p[0] == ' ')
        return NULL;
    memcpy (buf, p, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    if (type == QUERY_T_INT) {
        long long v = strtoll (buf, &end, 10);
        if (errno || *end)
            return NULL;
        snprintf (buf, sizeof buf, "%lld", v);
        return strdup (buf);
    }
    if (type == QUERY_T_FLOAT) {
        double d = strtod (buf, &end);
        return errno || *end || !isfinite (d) ? NULL : float_text (d);
    }
    if (type == QUERY_T_BOOL && (strcmp (buf, "true") == 0 || strcmp (buf, "1") == 0))
        return strdup ("true");
    if (type == QUERY_T_BOOL && (strcmp (buf, "false") == 0 || strcmp (buf, "0") == 0))
        return strdup ("false");
    return NULL;
}

/*  The text for one value, or NULL with *bad set when v does not fit type.
 *  SQL NULL is handled by the caller. */
static char *
value_text (query_type_t type, const hsn_mp_obj_t *v, bool *bad)
{
    char buf[32];
    *bad = false;
    switch (type) {
        case QUERY_T_INT:
        case QUERY_T_FLOAT:
        case QUERY_T_NUMERIC:
            if (v->type == HSN_MP_UINT && (type != QUERY_T_INT || v->v.u <= INT64_MAX)) {
                snprintf (buf, sizeof buf, "%" PRIu64, v->v.u);
                return strdup (buf);
            }
            if (v->type == HSN_MP_INT) {
                snprintf (buf, sizeof buf, "%" PRId64, v->v.i);
                return strdup (buf);
            }
            if (v->type == HSN_MP_FLOAT && type != QUERY_T_INT)
                return float_text (v->v.f);
            if (v->type == HSN_MP_STR && type == QUERY_T_NUMERIC
                && !memchr (v->v.s.ptr, 0, v->v.s.len))
                return strndup (v->v.s.ptr, v->v.s.len);
            if (v->type == HSN_MP_STR && type != QUERY_T_NUMERIC) {
                char *s = str_as (type, v->v.s.ptr, v->v.s.len);
                if (s)
                    return s;
            }
            break;
        case QUERY_T_BOOL:
            if (v->type == HSN_MP_BOOL)
                return strdup (v->v.b ? "true" : "false");
            if (v->type == HSN_MP_STR) {
                char *s = str_as (type, v->v.s.ptr, v->v.s.len);
                if (s)
                    return s;
            }
            break;
        case QUERY_T_TEXT:
        case QUERY_T_JSON:
        case QUERY_T_TIMESTAMP:
            if (v->type == HSN_MP_STR && !memchr (v->v.s.ptr, 0, v->v.s.len))
                return strndup (v->v.s.ptr, v->v.s.len);
            break;
        case QUERY_T_BYTEA:
            if (v->type == HSN_MP_BIN || v->type == HSN_MP_STR)
                return hex_of ((const uint8_t *) v->v.s.ptr, v->v.s.len);
            break;
    }
    *bad = true;
    return NULL;
}

int
query_bind (query_bind_t *b, const query_def_t *def, const hsn_mp_obj_t *params, char *err,
            size_t errlen)
{
    memset (b, 0, sizeof *b);
    b->n = def->nparams;
    bool given[QUERY_PARAMS_MAX] = { false };
    if (params && params->type != HSN_MP_MAP) {
        snprintf (err, errlen, "params of query '%s' must be a map", def->name);
        return -EINVAL;
    }
    hsn_mp_reader_t r;
    uint32_t pairs = 0;
    if (params) {
        hsn_mp_reader_of (&r, params);
        pairs = params->v.c.count;
    }
    for (uint32_t k = 0; k < pairs; k++) {
        hsn_mp_obj_t key, val;
        if (hsn_mp_get (&r, &key, HSN_MP_DEPTH_LIMIT)
            || hsn_mp_get (&r, &val, HSN_MP_DEPTH_LIMIT)) {
            snprintf (err, errlen, "params of query '%s' are malformed", def->name);
            return -EINVAL;
        }
        if (key.type != HSN_MP_STR) {
            snprintf (err, errlen, "params of query '%s': names must be strings", def->name);
            return -EINVAL;
        }
        size_t i = 0;
        while (i < def->nparams && !hsn_mp_str_eq (&key, def->params[i].name))
            i++;
        if (i == def->nparams) {
            snprintf (err, errlen, "query '%s' has no parameter '%.*s'", def->name,
                      (int) (key.v.s.len > 64 ? 64 : key.v.s.len), key.v.s.ptr);
            return -EINVAL;
        }
        if (given[i]) {
            snprintf (err, errlen, "parameter '%s' given twice", def->params[i].name);
            return -EINVAL;
        }
        given[i] = true;
        if (val.type == HSN_MP_NIL)
            continue;
        bool bad;
        b->values[i] = value_text (def->params[i].type, &val, &bad);
        if (bad) {
            snprintf (err, errlen, "parameter '%s' must be %s, got %s", def->params[i].name,
                      query_type_name (def->params[i].type), mp_type_name (val.type));
            return -EINVAL;
        }
        if (!b->values[i]) {
            snprintf (err, errlen, "out of memory binding parameter '%s'", def->params[i].name);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < def->nparams; i++)
        if (!given[i]) {
            snprintf (err, errlen, "missing parameter '%s' (%s) of query '%s'",
                      def->params[i].name, query_type_name (def->params[i].type), def->name);
            return -EINVAL;
        }
    return 0;
}

void
query_bind_release (query_bind_t *b)
{
    for (size_t i = 0; i < QUERY_PARAMS_MAX; i++)
        free (b->values[i]);
    memset (b, 0, sizeof *b);
}

size_t
query_base64 (const uint8_t *in, size_t len, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < len ? (uint32_t) in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

static void
pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

static int
hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*  bytea in hex output format "\x0a1b..." -> base64 str; any other form
 *  (escape format) is packed as its text. */
static void
pack_bytea (msgpack_packer *pk, const char *s, size_t len)
{
    if (len < 2 || s[0] != '\\' || s[1] != 'x' || len % 2) {
        pack_str (pk, s, len);
        return;
    }
    size_t n = (len - 2) / 2;
    uint8_t *bytes = (uint8_t *) malloc (n + 1);
    char *b64 = (char *) malloc (4 * ((n + 2) / 3) + 1);
    bool ok = bytes && b64;
    for (size_t i = 0; ok && i < n; i++) {
        int hi = hexval (s[2 + 2 * i]), lo = hexval (s[3 + 2 * i]);
        ok = hi >= 0 && lo >= 0;
        if (ok)
            bytes[i] = (uint8_t) (hi << 4 | lo);
    }
    if (ok) {
        size_t bl = query_base64 (bytes, n, b64);
        pack_str (pk, b64, bl);
    }
    else
        pack_str (pk, s, len);
    free (bytes);
    free (b64);
}

/*  "2024-01-02 03:04:05.5" -> "2024-01-02T03:04:05.5"; with TimeZone UTC a
 *  timestamptz ends in "+00", which becomes "Z". infinity and BC dates keep
 *  their text. */
static void
pack_timestamp (msgpack_packer *pk, const char *s, size_t len, bool tz)
{
    char buf[64];
    if (len < 19 || len >= sizeof buf - 4 || s[10] != ' ' || memchr (s, 'B', len)) {
        pack_str (pk, s, len);
        return;
    }
    memcpy (buf, s, len);
    buf[10] = 'T';
    if (tz && len > 3 && memcmp (buf + len - 3, "+00", 3) == 0) {
        buf[len - 3] = 'Z';
        len -= 2;
    }
    else if (tz && len > 3 && (buf[len - 3] == '+' || buf[len - 3] == '-')) {
        memcpy (buf + len, ":00", 3);
        len += 3;
    }
    pack_str (pk, buf, len);
}

static void
pack_value (msgpack_packer *pk, Oid type, const char *s, size_t len)
{
    char *end;
    switch (type) {
        case OID_INT2:
        case OID_INT4:
        case OID_INT8:
        case OID_OID: {
            errno = 0;
            long long v = strtoll (s, &end, 10);
            if (errno || *end)
                pack_str (pk, s, len);
            else
                msgpack_pack_int64 (pk, v);
            return;
        }
        case OID_FLOAT4:
        case OID_FLOAT8: {
            double d = strtod (s, &end);
            if (*end)
                pack_str (pk, s, len);
            else
                msgpack_pack_double (pk, d);
            return;
        }
        case OID_BOOL:
            if (len == 1 && (s[0] == 't' || s[0] == 'f')) {
                if (s[0] == 't')
                    msgpack_pack_true (pk);
                else
                    msgpack_pack_false (pk);
            }
            else
                pack_str (pk, s, len);
            return;
        case OID_BYTEA:
            pack_bytea (pk, s, len);
            return;
        case OID_TIMESTAMP:
            pack_timestamp (pk, s, len, false);
            return;
        case OID_TIMESTAMPTZ:
            pack_timestamp (pk, s, len, true);
            return;
        case OID_JSON:
        case OID_JSONB:
            /*  Embedded as msgpack; a document too deep for the envelope
             *  (or, for json, one yajl refuses) stays text. */
            if (hsn_json_to_mp (s, len, QUERY_JSON_MAX_DEPTH, pk, NULL, 0))
                pack_str (pk, s, len);
            return;
        default:
            /*  text, varchar, char, name, numeric, date, and
             *  everything else: the text form. */
            pack_str (pk, s, len);
            return;
    }
}

int
query_types_pack_rows (msgpack_packer *pk, const msgpack_sbuffer *sb, const PGresult *res,
                       size_t max)
{
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        msgpack_pack_array (pk, 0);
        return 0;
    }
    int rows = PQntuples (res), cols = PQnfields (res);
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++) {
        msgpack_pack_map (pk, (size_t) cols);
        for (int c = 0; c < cols; c++) {
            const char *name = PQfname (res, c);
            pack_str (pk, name, strlen (name));
            if (PQgetisnull (res, r, c))
                msgpack_pack_nil (pk);
            else
                pack_value (pk, PQftype (res, c), PQgetvalue (res, r, c),
                            (size_t) PQgetlength (res, r, c));
        }
        if (sb->size > max)
            return -EMSGSIZE;           /* stop here: no more memory for it */
    }
    return 0;
}

uint64_t
query_types_count (const PGresult *res)
{
    const char *ct = PQcmdTuples ((PGresult *) res);
    if (ct && *ct)
        return strtoull (ct, NULL, 10);
    return PQresultStatus (res) == PGRES_TUPLES_OK ? (uint64_t) PQntuples (res) : 0;
}
