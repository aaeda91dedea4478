/*  hsn_proto: the wire protocol, expanded from proto/hsn_proto.def.
 *
 *  A message is one ZeroMQ frame holding one msgpack array (the envelope):
 *      [version, kind, request-id, service, op, status, body]
 *  body is a map from field numbers to values. See proto/README.md.
 *
 *  Decoding is zero-copy: hsn_env_t's field objects point into the frame.
 *  Encoding goes through msgpack-c's packer into a reusable buffer.
 */
#ifndef HSN_PROTO_H
#define HSN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "../proto/hsn_proto.def"
#include "hsn_mp.h"

typedef enum {
#define X(name, num, str) HSN_KIND_##name = num,
    HSN_KINDS (X)
#undef X
} hsn_kind_t;

typedef enum {
#define X(name, num, str) HSN_SERVICE_##name = num,
    HSN_SERVICES (X)
#undef X
    HSN_SERVICE__MAX
} hsn_service_t;

/*  Operation numbers are unique per service; the op enum value packs both so
 *  that one switch can dispatch on it. */
#define HSN_OP_CODE(service, num) ((HSN_SERVICE_##service << 8) | (num))
typedef enum {
#define X(name, svc, num, idem, str) HSN_OP_##name = HSN_OP_CODE (svc, num),
    HSN_OPS (X)
#undef X
} hsn_op_t;

typedef enum {
#define X(name, num, str, http) HSN_STATUS_##name = num,
    HSN_STATUSES (X)
#undef X
} hsn_status_t;

typedef enum {
#define X(name, num, str, type) HSN_FIELD_##name = num,
    HSN_FIELDS (X)
#undef X
    HSN_FIELD__MAX
} hsn_field_t;

/*  Names, for logs, metrics and HTTP error bodies. Unknown numbers give NULL. */
const char *hsn_kind_name (uint32_t kind);
const char *hsn_service_name (uint32_t service);
const char *hsn_op_name (uint32_t op);
const char *hsn_status_name (uint32_t status);
const char *hsn_field_name (uint32_t field);
/*  Service number from its name; 0 when unknown. */
uint32_t hsn_service_by_name (const char *name);
/*  HTTP status for a protocol status; 500 when unknown. */
int hsn_status_http (uint32_t status);
/*  Is the operation safe to re-dispatch after the replica holding it died? */
bool hsn_op_idempotent (uint32_t op);

/*  Is s[0..len) an agent id or topic name (HSN_AGENT_ID_MAX)? */
bool hsn_agent_id_valid (const char *s, size_t len);
/*  Service that serves the operation (its high byte); 0 when unknown. */
uint32_t hsn_op_service (uint32_t op);

/*  A decoded envelope. fields[f] is valid when hsn_env_has (env, f). */
typedef struct {
    uint32_t version;
    uint32_t kind;
    uint64_t rid;
    uint32_t service;
    uint32_t op;
    uint32_t status;
    uint64_t present;                       /* bit f set: fields[f] valid */
    hsn_mp_obj_t fields[HSN_FIELD__MAX];
} hsn_env_t;

static inline bool
hsn_env_has (const hsn_env_t *env, hsn_field_t f)
{
    return (env->present >> f) & 1;
}

/*  Decode one frame. Checks the frame size limit, that it is exactly one
 *  well-formed msgpack object within the depth limit, the envelope shape,
 *  the protocol version, and each known field's type; unknown fields are
 *  ignored (forward compatibility).
 *  Returns 0, -EMSGSIZE (frame over HSN_PROTO_MAX_FRAME), -EBADMSG
 *  (malformed), -ELOOP (too deep), -EPROTONOSUPPORT (other version; the
 *  header fields are still filled so the error reply can be addressed).
 *  *env is only meaningful on 0 or -EPROTONOSUPPORT. */
int hsn_env_decode (hsn_env_t *env, const void *frame, size_t len);

/*  Read a header-only view of a frame, for the broker: kind, rid, service,
 *  op, status; no body validation. Returns as hsn_env_decode. */
int hsn_env_peek (hsn_env_t *env, const void *frame, size_t len);

/*  Field accessors: return 0 and set *out, or -ENOENT when absent.
 *  Types were checked by hsn_env_decode. */
int hsn_env_str (const hsn_env_t *env, hsn_field_t f, const char **ptr,
                 size_t *len);
int hsn_env_uint (const hsn_env_t *env, hsn_field_t f, uint64_t *out);

/*  The status a decode error turns into, for an error reply. */
hsn_status_t hsn_env_decode_status (int rc);

/*  Envelope encoder. Reusable: hsn_enc_begin resets it. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    uint32_t fields_declared;
    uint32_t fields_written;
} hsn_enc_t;

void hsn_enc_init (hsn_enc_t *enc);
void hsn_enc_release (hsn_enc_t *enc);

/*  Start an envelope whose body will hold exactly nfields fields. */
void hsn_enc_begin (hsn_enc_t *enc, hsn_kind_t kind, uint64_t rid,
                    uint32_t service, uint32_t op, uint32_t status,
                    uint32_t nfields);
/*  Field writers. hsn_enc_key writes only the key: the caller then packs the
 *  value with enc->pk (one complete object). */
void hsn_enc_key (hsn_enc_t *enc, hsn_field_t f);
void hsn_enc_str (hsn_enc_t *enc, hsn_field_t f, const char *s, size_t len);
void hsn_enc_cstr (hsn_enc_t *enc, hsn_field_t f, const char *s);
void hsn_enc_uint (hsn_enc_t *enc, hsn_field_t f, uint64_t v);
/*  Copy an already-encoded msgpack object (e.g. a value taken from another
 *  envelope) as the field's value. */
void hsn_enc_raw (hsn_enc_t *enc, hsn_field_t f, const void *mp, size_t len);

/*  The finished frame. Asserts that exactly nfields were written. */
const void *hsn_enc_data (const hsn_enc_t *enc);
size_t hsn_enc_size (const hsn_enc_t *enc);

/*  Append raw bytes to the frame (a pre-encoded object) -- for use between
 *  hsn_enc_key and the next field. */
void hsn_enc_append (hsn_enc_t *enc, const void *mp, size_t len);

/*  Convenience: encode an error reply to env (same rid/service/op) carrying
 *  status and a message field. */
void hsn_enc_error (hsn_enc_t *enc, const hsn_env_t *req, hsn_status_t status,
                    const char *message);

#endif
