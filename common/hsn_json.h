/*  hsn_json: JSON text -> msgpack, for services that embed JSON documents
 *  (the query service's json/jsonb columns).
 *
 *  yajl parses, strictly: the text must be UTF-8 (checked here: no
 *  overlongs, no surrogates, nothing above U+10FFFF -- yajl's own check is
 *  laxer), with no comments and nothing after the document. It is then
 *  packed as msgpack: object -> map (keys str, in document order), array ->
 *  array, string -> str, true/false -> bool, null -> nil, an integer within
 *  int64 -> int, any other number -> float64, except an integer too large
 *  for int64, which becomes a str holding its digits (no precision lost).
 *
 *  Limits: nesting deeper than max_depth containers (clamped to
 *  HSN_MP_DEPTH_LIMIT) is refused before yajl
 *  sees the text (so a hostile document cannot cost a deep recursion),
 *  text longer than HSN_JSON_MAX_TEXT is refused, and so is a string
 *  holding the escape \u0000 (yajl's tree cannot carry a NUL).
 */
#ifndef HSN_JSON_H
#define HSN_JSON_H

#include <msgpack.h>
#include <stddef.h>

#define HSN_JSON_MAX_TEXT (16u << 20)

/*  Pack the JSON document json[0..len) (json[len] must be NUL, as libpq's
 *  values are) into pk as one msgpack object. Nothing is written on
 *  failure. Returns 0, -ELOOP (deeper than max_depth), -EMSGSIZE (too
 *  long), -EBADMSG (not one valid JSON document; err says why when errlen
 *  > 0), -ENOMEM. */
int hsn_json_to_mp (const char *json, size_t len, int max_depth, msgpack_packer *pk,
                    char *err, size_t errlen);

#endif
