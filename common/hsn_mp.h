/*  hsn_mp: a bounds-checked, allocation-free msgpack reader.
 *
 *  Why not msgpack_unpack(): msgpack-c's C unpacker allocates a container as
 *  soon as it reads its header, so a hostile 5-byte array32 header costs
 *  hundreds of megabytes. This reader never allocates: it walks the bytes in
 *  place, checks every length and container count against the bytes that
 *  remain before trusting it, and bounds nesting depth. Objects it returns
 *  point into the caller's buffer (zero copy); they are valid as long as the
 *  buffer is.
 *
 *  Encoding uses msgpack-c's packer (msgpack_packer / msgpack_sbuffer).
 */
#ifndef HSN_MP_H
#define HSN_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Deepest nesting any hsn_mp function accepts, whatever the caller asks. */
#define HSN_MP_DEPTH_LIMIT 64

typedef enum {
    HSN_MP_NIL = 1,
    HSN_MP_BOOL,
    HSN_MP_UINT,    /* non-negative integer (any msgpack int encoding) */
    HSN_MP_INT,     /* negative integer */
    HSN_MP_FLOAT,   /* float32 or float64, widened */
    HSN_MP_STR,
    HSN_MP_BIN,
    HSN_MP_ARRAY,
    HSN_MP_MAP,
    HSN_MP_EXT
} hsn_mp_type_t;

/*  One decoded object. Scalars carry their value; str/bin/ext carry a pointer
 *  into the buffer and a length; array/map carry their element count (a map
 *  counts pairs) and `body`, the first byte after the header. `raw`/`raw_len`
 *  span the whole object, header and contents (filled by hsn_mp_get). */
typedef struct {
    hsn_mp_type_t type;
    union {
        bool b;
        uint64_t u;
        int64_t i;
        double f;
        struct { const char *ptr; uint32_t len; int8_t ext_type; } s;
        struct { uint32_t count; const uint8_t *body; } c;
    } v;
    const uint8_t *raw;
    size_t raw_len;
} hsn_mp_obj_t;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} hsn_mp_reader_t;

/*  Start reading buf[0..len). */
void hsn_mp_reader_init (hsn_mp_reader_t *r, const void *buf, size_t len);

/*  Bytes not yet consumed. */
static inline size_t
hsn_mp_remaining (const hsn_mp_reader_t *r) { return (size_t) (r->end - r->p); }

/*  Read one object header. Scalars, strings, bins and exts are consumed whole;
 *  for an array or map only the header is consumed, so the next calls read
 *  its elements. A container count larger than the bytes left could hold is
 *  rejected here, before anyone sizes anything by it.
 *  Returns 0, or -EBADMSG (truncated, invalid byte 0xc1, impossible count).
 *  On failure the reader and *obj are unchanged. */
int hsn_mp_next (hsn_mp_reader_t *r, hsn_mp_obj_t *obj);

/*  Skip exactly one complete object, however deep, iteratively (no
 *  recursion). Returns 0, -EBADMSG if malformed or truncated, -ELOOP if
 *  nested deeper than max_depth (containers inside containers; a scalar is
 *  depth 0). On failure the reader position is unspecified. */
int hsn_mp_skip (hsn_mp_reader_t *r, int max_depth);

/*  Read one complete object: like hsn_mp_next, but for a container also
 *  skips its contents (checking them) so that obj->raw/raw_len span it all
 *  and the reader stands after it. Returns as hsn_mp_skip. */
int hsn_mp_get (hsn_mp_reader_t *r, hsn_mp_obj_t *obj, int max_depth);

/*  Check that buf[0..len) is exactly one complete, well-formed msgpack object
 *  nested at most max_depth deep, with nothing after it.
 *  Returns 0, -EBADMSG, -ELOOP, or -EMSGSIZE for trailing bytes. */
int hsn_mp_validate (const void *buf, size_t len, int max_depth);

/*  Reader over a container's contents: sets *r to read its elements.
 *  container must come from hsn_mp_get (hsn_mp_next spans only the header,
 *  so its reader would be empty). */
void hsn_mp_reader_of (hsn_mp_reader_t *r, const hsn_mp_obj_t *container);

/*  In map (from hsn_mp_get), the value of the first entry whose key is the
 *  string key. Returns 0 and sets *out, -ENOENT when absent, -EBADMSG when
 *  map is not a map or its contents are malformed. */
int hsn_mp_map_get (const hsn_mp_obj_t *map, const char *key, hsn_mp_obj_t *out);

/*  Convenience: does a STR object equal the C string s? */
bool hsn_mp_str_eq (const hsn_mp_obj_t *obj, const char *s);

#endif
