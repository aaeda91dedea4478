/*  query_types: between msgpack and PostgreSQL's text format.
 *
 *  Parameters: the values of a request's params map are bound by declared
 *  name and type into text parameters for PQexecPrepared, never spliced
 *  into SQL. Accepted msgpack types per declared type:
 *      int        integer (within int64)
 *      float      float or integer
 *      numeric    integer, float, or str (the exact decimal text)
 *      text       str (no NUL byte)
 *      bool       bool
 *      json       str holding JSON text (PostgreSQL checks it)
 *      timestamp  str (ISO-8601; PostgreSQL checks it)
 *      bytea      bin or str (the bytes, sent hex-encoded)
 *  and nil for any type (SQL NULL).
 *
 *  Results: rows as an array of maps column name -> value, by column type:
 *  int2/4/8, oid -> int; float4/8 -> float; bool -> bool; text, varchar,
 *  char, name -> str; json/jsonb -> the document as msgpack (hsn_json:
 *  objects -> maps, integers -> int, other numbers -> float, an integer
 *  beyond int64 -> str), or its text when nested deeper than
 *  QUERY_JSON_MAX_DEPTH (the envelope's depth limit of 32 must still hold
 *  with the reply's own nesting around it); timestamp/timestamptz -> ISO-8601 str
 *  (timestamptz in UTC, "Z"); date -> str; numeric -> str (no precision
 *  lost); bytea -> base64 str; NULL -> nil; anything else -> its text form.
 *  The connection must use DateStyle ISO, TimeZone UTC, bytea_output hex
 *  (query_pool sets them).
 */
#ifndef QUERY_TYPES_H
#define QUERY_TYPES_H

#include <libpq-fe.h>
#include <msgpack.h>
#include "hsn_mp.h"
#include "query_catalog.h"

#define QUERY_JSON_MAX_DEPTH 20

/*  Text parameters for one execution. values[i] is NULL for SQL NULL. */
typedef struct {
    size_t n;
    char *values[QUERY_PARAMS_MAX];
} query_bind_t;

/*  Bind the params map (a MAP object read with hsn_mp_get, or NULL for
 *  none) to def's declared parameters. Returns 0, or -EINVAL with a message
 *  naming the parameter in err (missing, mistyped, unknown, not a map).
 *  Free with query_bind_release in every case. */
int query_bind (query_bind_t *b, const query_def_t *def, const hsn_mp_obj_t *params,
                char *err, size_t errlen);

void query_bind_release (query_bind_t *b);

/*  Pack the rows of a PGRES_TUPLES_OK result (text format) as an array of
 *  maps into sb (pk's buffer); any other result packs an empty array.
 *  Returns 0, or -EMSGSIZE as soon as sb holds more than max bytes (sb then
 *  holds a partial array, to be discarded). */
int query_types_pack_rows (msgpack_packer *pk, const msgpack_sbuffer *sb, const PGresult *res,
                           size_t max);

/*  Rows returned or affected by a successful result. */
uint64_t query_types_count (const PGresult *res);

/*  Base64 (RFC 4648, padded) of in[0..len) into out (4 * ((len + 2) / 3) + 1
 *  bytes), NUL-terminated. Returns the length written. */
size_t query_base64 (const uint8_t *in, size_t len, char *out);

#endif
