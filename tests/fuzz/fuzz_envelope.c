/*  libFuzzer target for the protocol decoder (make fuzz).
 *
 *  For every input: hsn_mp_validate and hsn_env_decode must return one of
 *  their documented codes and agree with each other; hsn_env_peek must agree
 *  with the decoder on the header. When the frame decodes, every field is
 *  walked with hsn_mp_get / hsn_mp_reader_of (recursively, bounded by the
 *  protocol depth), checking that every object lies inside its parent; then
 *  the envelope is re-encoded with hsn_enc_* and decoded again, and the
 *  header and every field must come back byte for byte. Any disagreement is
 *  __builtin_trap, which libFuzzer reports as a crash. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hsn_mp.h"
#include "hsn_proto.h"
#include "tests/fuzz/fuzz.h"


static volatile uint8_t s_sink;

static bool
within (const hsn_mp_obj_t *o, const uint8_t *lo, const uint8_t *hi)
{
    return o->raw >= lo && o->raw <= hi && o->raw_len <= (size_t) (hi - o->raw);
}

/*  Walk one complete object (from hsn_mp_get) and all it contains. depth is
 *  the nesting of o itself; decode guaranteed the limit, so exceeding it
 *  here is a bug. */
static void
walk (const hsn_mp_obj_t *o, int depth)
{
    CHECK (depth <= HSN_PROTO_MAX_DEPTH);
    CHECK (o->raw_len >= 1);
    CHECK (hsn_mp_validate (o->raw, o->raw_len, HSN_PROTO_MAX_DEPTH) == 0);
    const uint8_t *lo = o->raw, *hi = o->raw + o->raw_len;
    switch (o->type) {
        case HSN_MP_STR:
        case HSN_MP_BIN:
        case HSN_MP_EXT: {
            const uint8_t *p = (const uint8_t *) o->v.s.ptr;
            CHECK (p > lo && o->v.s.len == (size_t) (hi - p));
            uint8_t x = 0;
            for (uint32_t i = 0; i < o->v.s.len; i++)
                x ^= p[i];                  /* ASan: every byte is readable */
            s_sink = x;
            break;
        }
        case HSN_MP_ARRAY:
        case HSN_MP_MAP: {
            CHECK (o->v.c.body > lo && o->v.c.body <= hi);
            uint64_t n = (uint64_t) o->v.c.count * (o->type == HSN_MP_MAP ? 2 : 1);
            CHECK (n <= (uint64_t) (hi - o->v.c.body));
            hsn_mp_reader_t r;
            hsn_mp_reader_of (&r, o);
            CHECK (r.p == o->v.c.body && r.end == hi);
            for (uint64_t i = 0; i < n; i++) {
                hsn_mp_obj_t child;
                const uint8_t *before = r.p;
                CHECK (hsn_mp_get (&r, &child, HSN_PROTO_MAX_DEPTH) == 0);
                CHECK (child.raw == before && within (&child, lo, hi));
                CHECK (r.p == before + child.raw_len);
                walk (&child, child.type == HSN_MP_ARRAY
                              || child.type == HSN_MP_MAP ? depth + 1 : depth);
            }
            CHECK (r.p == r.end);
            break;
        }
        case HSN_MP_NIL:
        case HSN_MP_BOOL:
        case HSN_MP_UINT:
        case HSN_MP_INT:
        case HSN_MP_FLOAT:
            CHECK (o->raw_len <= 9);
            break;
        default:
            CHECK (0);
    }
}

static bool
same_header (const hsn_env_t *a, const hsn_env_t *b)
{
    return a->version == b->version && a->kind == b->kind && a->rid == b->rid
           && a->service == b->service && a->op == b->op
           && a->status == b->status;
}

/*  Re-encode env with the encoder and check it decodes to the same thing. */
static void
reencode (const hsn_env_t *env)
{
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    uint32_t nfields = (uint32_t) __builtin_popcountll (env->present);
    hsn_enc_begin (&enc, (hsn_kind_t) env->kind, env->rid, env->service,
                   env->op, env->status, nfields);
    for (uint32_t f = 0; f < HSN_FIELD__MAX; f++)
        if (hsn_env_has (env, (hsn_field_t) f))
            hsn_enc_raw (&enc, (hsn_field_t) f, env->fields[f].raw,
                         env->fields[f].raw_len);

    hsn_env_t back;
    CHECK (hsn_env_decode (&back, hsn_enc_data (&enc), hsn_enc_size (&enc)) == 0);
    CHECK (same_header (env, &back));
    CHECK (back.present == env->present);
    for (uint32_t f = 0; f < HSN_FIELD__MAX; f++)
        if (hsn_env_has (env, (hsn_field_t) f)) {
            const hsn_mp_obj_t *a = &env->fields[f], *b = &back.fields[f];
            CHECK (a->type == b->type && a->raw_len == b->raw_len);
            CHECK (memcmp (a->raw, b->raw, a->raw_len) == 0);
        }

    /*  The header alone, as a fresh envelope. */
    hsn_enc_begin (&enc, (hsn_kind_t) env->kind, env->rid, env->service,
                   env->op, env->status, 0);
    CHECK (hsn_env_decode (&back, hsn_enc_data (&enc), hsn_enc_size (&enc)) == 0);
    CHECK (same_header (env, &back) && back.present == 0);

    /*  An error reply addressed from it. */
    hsn_enc_error (&enc, env, HSN_STATUS_MALFORMED, "fuzz");
    CHECK (hsn_env_decode (&back, hsn_enc_data (&enc), hsn_enc_size (&enc)) == 0);
    CHECK (back.kind == HSN_KIND_REPLY && back.rid == env->rid
           && back.service == env->service && back.op == env->op
           && back.status == HSN_STATUS_MALFORMED);
    CHECK (hsn_mp_str_eq (&back.fields[HSN_FIELD_MESSAGE], "fuzz"));
    hsn_enc_release (&enc);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    /*  The generic validator, at the protocol depth and at no depth. */
    int vrc = hsn_mp_validate (data, size, HSN_PROTO_MAX_DEPTH);
    CHECK (vrc == 0 || vrc == -EBADMSG || vrc == -ELOOP || vrc == -EMSGSIZE);
    int flat = hsn_mp_validate (data, size, 0);
    CHECK (flat == 0 || flat == -EBADMSG || flat == -ELOOP || flat == -EMSGSIZE);
    if (vrc == 0) {
        hsn_mp_reader_t r;
        hsn_mp_obj_t whole;
        hsn_mp_reader_init (&r, data, size);
        CHECK (hsn_mp_get (&r, &whole, HSN_PROTO_MAX_DEPTH) == 0);
        CHECK (whole.raw == data && whole.raw_len == size);
        walk (&whole, whole.type == HSN_MP_ARRAY || whole.type == HSN_MP_MAP);
    }

    hsn_env_t env;
    int rc = hsn_env_decode (&env, data, size);
    CHECK (rc == 0 || rc == -EBADMSG || rc == -ELOOP || rc == -EPROTONOSUPPORT
           || rc == -EMSGSIZE);
    /*  A decoded envelope is a well-formed object; a too-deep one is too
     *  deep for the validator as well. */
    if (rc == 0)
        CHECK (vrc == 0);
    if (rc == -ELOOP)
        CHECK (vrc == -ELOOP);

    hsn_env_t peek;
    int prc = hsn_env_peek (&peek, data, size);
    if (rc == 0 || rc == -EPROTONOSUPPORT) {
        CHECK (prc == rc && same_header (&env, &peek));
    }
    if (rc == -EPROTONOSUPPORT)
        CHECK (env.version != HSN_PROTO_VERSION);

    if (rc != 0)
        return 0;
    CHECK (env.version == HSN_PROTO_VERSION);
    CHECK ((env.present >> HSN_FIELD__MAX) == 0 && (env.present & 1) == 0);
    for (uint32_t f = 0; f < HSN_FIELD__MAX; f++)
        if (hsn_env_has (&env, (hsn_field_t) f)) {
            const hsn_mp_obj_t *o = &env.fields[f];
            CHECK (hsn_field_name (f) != NULL);
            CHECK (within (o, data, data + size));
            /*  Envelope (1) and body map (2) hold the field. */
            walk (o, o->type == HSN_MP_ARRAY || o->type == HSN_MP_MAP ? 3 : 2);
            const char *s;
            size_t len;
            uint64_t u;
            if (hsn_env_str (&env, (hsn_field_t) f, &s, &len) == 0)
                CHECK (o->type == HSN_MP_STR && len == o->v.s.len);
            if (hsn_env_uint (&env, (hsn_field_t) f, &u) == 0)
                CHECK (o->type == HSN_MP_UINT && u == o->v.u);
        }
    reencode (&env);
    return 0;
}
