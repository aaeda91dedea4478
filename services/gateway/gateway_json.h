/*  gateway_json: JSON request bodies to msgpack, msgpack results to JSON.
 *
 *  JSON -> msgpack streams through yajl (no DOM): tokens are packed as they
 *  are parsed. JSON -> msgpack adds the checks yajl lacks: strict UTF-8,
 *  paired \u surrogates, duplicate keys, a nesting limit, exact 64-bit
 *  integers. msgpack -> JSON needs no library: it walks the bytes with the
 *  hsn_mp reader and writes text. docs/JSON.md has the measurements and the
 *  reasons for the choice.
 *
 *  Numbers rely on LC_NUMERIC being "C" (strtod, snprintf): the gateway never
 *  calls setlocale.
 */
#ifndef GATEWAY_JSON_H
#define GATEWAY_JSON_H

#include <stddef.h>
#include <msgpack.h>

/*  A growable text buffer. data[len] is '\0' once anything was appended, so
 *  data can be handed to C string functions; the JSON itself never contains
 *  a raw NUL. */
typedef struct {
    char *data;
    size_t len, cap;
} gateway_json_buf_t;

/*  Empty buffer, no memory held. */
void gateway_json_buf_init (gateway_json_buf_t *buf);

/*  Release the memory; the buffer is empty and usable again. */
void gateway_json_buf_free (gateway_json_buf_t *buf);

/*  len = 0, keeping the memory for the next document. */
void gateway_json_buf_reset (gateway_json_buf_t *buf);

/*  Append n bytes, growing as needed. Returns 0, or -ENOMEM with the buffer
 *  unchanged. */
int gateway_json_buf_append (gateway_json_buf_t *buf, const void *p, size_t n);

/*  Make room for n more bytes after len (and the NUL). 0 or -ENOMEM. */
int gateway_json_buf_reserve (gateway_json_buf_t *buf, size_t n);

/*  Convert json[0..len) -- exactly one JSON value of any type, optionally
 *  surrounded by whitespace -- to one msgpack object appended to out.
 *
 *  - objects -> maps (key order kept), arrays -> arrays, strings -> str,
 *    true/false/null -> bool/nil;
 *  - integers (no fraction, no exponent) in [-2^63, 2^64-1] -> msgpack int;
 *    every other number -> float64; a number whose magnitude overflows a
 *    double (1e400) is rejected (JSON cannot carry the infinity back);
 *  - nesting: arrays/objects inside each other more than max_depth deep
 *    (a scalar is depth 0, [] is depth 1) -> -ELOOP. max_depth is clamped to
 *    [0, HSN_MP_DEPTH_LIMIT] so that every service can read the result;
 *  - strings must be valid UTF-8 (no overlongs, no encoded surrogates), \u
 *    escapes must pair surrogates correctly; \u0000 is allowed (msgpack str
 *    carries lengths);
 *  - a key repeated in one object is rejected;
 *  - no comments, no trailing commas, nothing after the value.
 *
 *  Returns 0; -EINVAL for invalid or unrepresentable JSON, -ELOOP for too
 *  deep, -ENOMEM. On failure out is restored to its size at entry and err
 *  (if errlen > 0) holds one line, e.g.
 *  "invalid JSON at line 1 column 5: duplicate key \"id\"". Columns count
 *  characters, not bytes, from 1. */
int gateway_json_to_mp (const char *json, size_t len, int max_depth,
                        msgpack_sbuffer *out, char *err, size_t errlen);

/*  Append to out the compact JSON text of mp[0..len), which must be exactly
 *  one msgpack object nested at most max_depth deep (clamped as above).
 *
 *  - str -> JSON string escaped per RFC 8259 (", \, control characters);
 *    invalid UTF-8 is replaced by U+FFFD, one per maximal invalid subpart;
 *  - bin -> base64 string (RFC 4648, padded);
 *  - ext -> -EINVAL (hsn defines no ext types; null would lose data
 *    silently);
 *  - float64 -> shortest of %.15g/%.16g/%.17g that reads back equal,
 *    float32 -> shortest that reads back as the same float; integral values
 *    keep a ".0" so they stay floats; NaN and infinities -> null;
 *  - map keys: str as is, integers as their decimal string; any other key
 *    type -> -EINVAL. Keys are not de-duplicated.
 *
 *  Returns 0; -EBADMSG malformed or truncated msgpack, -EMSGSIZE bytes after
 *  the object, -ELOOP too deep, -EINVAL unrepresentable, -ENOMEM. On failure
 *  out is restored to its length at entry. */
int gateway_json_from_mp (const void *mp, size_t len, int max_depth,
                          gateway_json_buf_t *out);

#endif
