/*  hsn_proto: names and envelope codec expanded from proto/hsn_proto.def. */
#include "hsn_proto.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

_Static_assert (HSN_FIELD__MAX <= 64, "field numbers must fit the presence mask");

/*  --- names ------------------------------------------------------------ */

const char *
hsn_kind_name (uint32_t kind)
{
    switch (kind) {
#define X(name, num, str) case num: return str;
        HSN_KINDS (X)
#undef X
    }
    return NULL;
}

const char *
hsn_service_name (uint32_t service)
{
    switch (service) {
#define X(name, num, str) case num: return str;
        HSN_SERVICES (X)
#undef X
    }
    return NULL;
}

uint32_t
hsn_service_by_name (const char *name)
{
#define X(sname, num, str) if (strcmp (name, str) == 0) return num;
    HSN_SERVICES (X)
#undef X
    return 0;
}

const char *
hsn_op_name (uint32_t op)
{
    switch (op) {
#define X(name, svc, num, idem, str) case HSN_OP_##name: return str;
        HSN_OPS (X)
#undef X
    }
    return NULL;
}

bool
hsn_op_idempotent (uint32_t op)
{
    switch (op) {
#define X(name, svc, num, idem, str) case HSN_OP_##name: return idem;
        HSN_OPS (X)
#undef X
    }
    return false;
}

uint32_t
hsn_op_service (uint32_t op)
{
    return hsn_op_name (op) ? op >> 8 : 0;
}

const char *
hsn_status_name (uint32_t status)
{
    switch (status) {
#define X(name, num, str, http) case num: return str;
        HSN_STATUSES (X)
#undef X
    }
    return NULL;
}

int
hsn_status_http (uint32_t status)
{
    switch (status) {
#define X(name, num, str, http) case num: return http;
        HSN_STATUSES (X)
#undef X
    }
    return 500;
}

const char *
hsn_field_name (uint32_t field)
{
    switch (field) {
#define X(name, num, str, type) case num: return str;
        HSN_FIELDS (X)
#undef X
    }
    return NULL;
}

/*  --- decoding --------------------------------------------------------- */

enum { T_STR, T_UINT, T_INT, T_BOOL, T_ARRAY, T_MAP, T_BIN, T_ANY };

static int
field_type (uint32_t field)
{
    switch (field) {
#define X(name, num, str, type) case num: return T_##type;
        HSN_FIELDS (X)
#undef X
    }
    return -1;
}

static bool
type_ok (int want, const hsn_mp_obj_t *o)
{
    switch (want) {
        case T_STR:   return o->type == HSN_MP_STR;
        case T_UINT:  return o->type == HSN_MP_UINT;
        case T_INT:   return o->type == HSN_MP_UINT || o->type == HSN_MP_INT;
        case T_BOOL:  return o->type == HSN_MP_BOOL;
        case T_ARRAY: return o->type == HSN_MP_ARRAY;
        case T_MAP:   return o->type == HSN_MP_MAP;
        case T_BIN:   return o->type == HSN_MP_BIN;
        default:      return true;
    }
}

static int
read_u32 (hsn_mp_reader_t *r, uint32_t *out)
{
    hsn_mp_obj_t o;
    if (hsn_mp_next (r, &o) || o.type != HSN_MP_UINT || o.v.u > UINT32_MAX)
        return -EBADMSG;
    *out = (uint32_t) o.v.u;
    return 0;
}

/*  Header: array of 7, then six unsigned integers. Leaves r at the body. */
static int
read_header (hsn_env_t *env, hsn_mp_reader_t *r, const void *frame, size_t len)
{
    if (len > HSN_PROTO_MAX_FRAME)
        return -EMSGSIZE;
    hsn_mp_reader_init (r, frame, len);
    hsn_mp_obj_t o;
    if (hsn_mp_next (r, &o) || o.type != HSN_MP_ARRAY || o.v.c.count != 7)
        return -EBADMSG;
    if (read_u32 (r, &env->version) || read_u32 (r, &env->kind))
        return -EBADMSG;
    if (hsn_mp_next (r, &o) || o.type != HSN_MP_UINT)
        return -EBADMSG;
    env->rid = o.v.u;
    if (read_u32 (r, &env->service) || read_u32 (r, &env->op)
        || read_u32 (r, &env->status))
        return -EBADMSG;
    env->present = 0;
    return env->version == HSN_PROTO_VERSION ? 0 : -EPROTONOSUPPORT;
}

int
hsn_env_peek (hsn_env_t *env, const void *frame, size_t len)
{
    hsn_mp_reader_t r;
    return read_header (env, &r, frame, len);
}

int
hsn_env_decode (hsn_env_t *env, const void *frame, size_t len)
{
    hsn_mp_reader_t r;
    int rc = read_header (env, &r, frame, len);
    if (rc)
        return rc;
    hsn_mp_obj_t body;
    /*  The envelope array itself is depth 1, so the body may nest one less. */
    rc = hsn_mp_get (&r, &body, HSN_PROTO_MAX_DEPTH - 1);
    if (rc)
        return rc;
    if (body.type != HSN_MP_MAP || r.p != r.end)
        return -EBADMSG;
    hsn_mp_reader_t br;
    hsn_mp_reader_of (&br, &body);
    for (uint32_t i = 0; i < body.v.c.count; i++) {
        hsn_mp_obj_t key, val;
        if (hsn_mp_next (&br, &key) || key.type != HSN_MP_UINT)
            return -EBADMSG;
        /*  Contents were validated by hsn_mp_get above; this cannot fail on
         *  depth, but check anyway rather than trust a path we reason about. */
        if (hsn_mp_get (&br, &val, HSN_PROTO_MAX_DEPTH))
            return -EBADMSG;
        int want = key.v.u < HSN_FIELD__MAX ? field_type ((uint32_t) key.v.u) : -1;
        if (want < 0)
            continue;                   /* unknown field: ignore */
        if (!type_ok (want, &val))
            return -EBADMSG;
        env->fields[key.v.u] = val;
        env->present |= UINT64_C (1) << key.v.u;
    }
    return 0;
}

int
hsn_env_str (const hsn_env_t *env, hsn_field_t f, const char **ptr, size_t *len)
{
    if (!hsn_env_has (env, f) || env->fields[f].type != HSN_MP_STR)
        return -ENOENT;
    *ptr = env->fields[f].v.s.ptr;
    *len = env->fields[f].v.s.len;
    return 0;
}

int
hsn_env_uint (const hsn_env_t *env, hsn_field_t f, uint64_t *out)
{
    if (!hsn_env_has (env, f) || env->fields[f].type != HSN_MP_UINT)
        return -ENOENT;
    *out = env->fields[f].v.u;
    return 0;
}

hsn_status_t
hsn_env_decode_status (int rc)
{
    switch (rc) {
        case 0:                return HSN_STATUS_OK;
        case -EMSGSIZE:        return HSN_STATUS_TOO_LARGE;
        case -EPROTONOSUPPORT: return HSN_STATUS_BAD_VERSION;
        default:               return HSN_STATUS_MALFORMED;
    }
}

/*  --- encoding --------------------------------------------------------- */

void
hsn_enc_init (hsn_enc_t *enc)
{
    msgpack_sbuffer_init (&enc->buf);
    msgpack_packer_init (&enc->pk, &enc->buf, msgpack_sbuffer_write);
    enc->fields_declared = enc->fields_written = 0;
}

void
hsn_enc_release (hsn_enc_t *enc)
{
    msgpack_sbuffer_destroy (&enc->buf);
    msgpack_sbuffer_init (&enc->buf);
}

void
hsn_enc_begin (hsn_enc_t *enc, hsn_kind_t kind, uint64_t rid, uint32_t service,
               uint32_t op, uint32_t status, uint32_t nfields)
{
    msgpack_sbuffer_clear (&enc->buf);
    msgpack_pack_array (&enc->pk, 7);
    msgpack_pack_uint32 (&enc->pk, HSN_PROTO_VERSION);
    msgpack_pack_uint32 (&enc->pk, kind);
    msgpack_pack_uint64 (&enc->pk, rid);
    msgpack_pack_uint32 (&enc->pk, service);
    msgpack_pack_uint32 (&enc->pk, op);
    msgpack_pack_uint32 (&enc->pk, status);
    msgpack_pack_map (&enc->pk, nfields);
    enc->fields_declared = nfields;
    enc->fields_written = 0;
}

void
hsn_enc_key (hsn_enc_t *enc, hsn_field_t f)
{
    assert (enc->fields_written < enc->fields_declared);
    enc->fields_written++;
    msgpack_pack_uint32 (&enc->pk, f);
}

void
hsn_enc_str (hsn_enc_t *enc, hsn_field_t f, const char *s, size_t len)
{
    hsn_enc_key (enc, f);
    msgpack_pack_str (&enc->pk, len);
    msgpack_pack_str_body (&enc->pk, s, len);
}

void
hsn_enc_cstr (hsn_enc_t *enc, hsn_field_t f, const char *s)
{
    hsn_enc_str (enc, f, s, strlen (s));
}

void
hsn_enc_uint (hsn_enc_t *enc, hsn_field_t f, uint64_t v)
{
    hsn_enc_key (enc, f);
    msgpack_pack_uint64 (&enc->pk, v);
}

void
hsn_enc_append (hsn_enc_t *enc, const void *mp, size_t len)
{
    msgpack_sbuffer_write (&enc->buf, (const char *) mp, len);
}

void
hsn_enc_raw (hsn_enc_t *enc, hsn_field_t f, const void *mp, size_t len)
{
    hsn_enc_key (enc, f);
    hsn_enc_append (enc, mp, len);
}

const void *
hsn_enc_data (const hsn_enc_t *enc)
{
    assert (enc->fields_written == enc->fields_declared);
    return enc->buf.data;
}

size_t
hsn_enc_size (const hsn_enc_t *enc)
{
    return enc->buf.size;
}

void
hsn_enc_error (hsn_enc_t *enc, const hsn_env_t *req, hsn_status_t status,
               const char *message)
{
    hsn_enc_begin (enc, HSN_KIND_REPLY, req->rid, req->service, req->op,
                   status, 1);
    hsn_enc_cstr (enc, HSN_FIELD_MESSAGE, message);
}

bool
hsn_agent_id_valid (const char *s, size_t len)
{
    if (len == 0 || len > HSN_AGENT_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != ':' && c != '-')))
            return false;
    }
    return true;
}
