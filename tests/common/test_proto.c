/*  Tests for hsn_proto: the names expanded from proto/hsn_proto.def, the
 *  envelope encoder and decoder round trip, and every way hsn_env_decode
 *  must refuse a frame (shape, header types, version, field types, size,
 *  truncation, depth, random bytes) without crashing.
 *
 *  Frames are copied into exactly-sized heap blocks before decoding so that
 *  AddressSanitizer catches a read one byte past the end. */
#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_proto.h"
#include "tests/harness/hsn_test.h"

/*  --- helpers ---------------------------------------------------------- */

static uint8_t *
dup_exact (const void *data, size_t len)
{
    uint8_t *p = malloc (len ? len : 1);
    ck_assert_ptr_nonnull (p);
    if (len)
        memcpy (p, data, len);
    return p;
}

/*  Decode a copy of frame[0..len); the copy is kept in *copy (freed by the
 *  caller) when env must stay valid, and freed here when copy is NULL. */
static int
decode (hsn_env_t *env, const void *frame, size_t len, uint8_t **copy)
{
    uint8_t *p = dup_exact (frame, len);
    memset (env, 0x5a, sizeof *env);
    int rc = hsn_env_decode (env, p, len);
    if (copy)
        *copy = p;
    else
        free (p);
    return rc;
}

static int
decode_enc (hsn_env_t *env, const hsn_enc_t *enc, uint8_t **copy)
{
    return decode (env, hsn_enc_data (enc), hsn_enc_size (enc), copy);
}

/*  A raw msgpack packer, for frames the encoder would never write. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} pb_t;

static void
pb_init (pb_t *b)
{
    msgpack_sbuffer_init (&b->sb);
    msgpack_packer_init (&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void
pb_destroy (pb_t *b)
{
    msgpack_sbuffer_destroy (&b->sb);
}

/*  The envelope array and header, leaving the body to the caller. */
static void
pack_header (msgpack_packer *pk, uint64_t version, uint64_t kind, uint64_t rid,
             uint64_t service, uint64_t op, uint64_t status)
{
    msgpack_pack_array (pk, 7);
    msgpack_pack_uint64 (pk, version);
    msgpack_pack_uint64 (pk, kind);
    msgpack_pack_uint64 (pk, rid);
    msgpack_pack_uint64 (pk, service);
    msgpack_pack_uint64 (pk, op);
    msgpack_pack_uint64 (pk, status);
}

static void
pack_std_header (msgpack_packer *pk)
{
    pack_header (pk, HSN_PROTO_VERSION, HSN_KIND_REQUEST, 77, HSN_SERVICE_CACHE,
                 HSN_OP_CACHE_GET, HSN_STATUS_OK);
}

/*  Samples of every msgpack type class, to put in fields. */
enum { V_NIL, V_TRUE, V_UINT, V_NEG, V_FLOAT, V_STR, V_BIN, V_EXT,
       V_ARRAY, V_MAP, V__COUNT };

static void
pack_sample (msgpack_packer *pk, int which)
{
    switch (which) {
        case V_NIL:   msgpack_pack_nil (pk); break;
        case V_TRUE:  msgpack_pack_true (pk); break;
        case V_UINT:  msgpack_pack_uint32 (pk, 42); break;
        case V_NEG:   msgpack_pack_int32 (pk, -42); break;
        case V_FLOAT: msgpack_pack_double (pk, 4.5); break;
        case V_STR:   msgpack_pack_str_with_body (pk, "s", 1); break;
        case V_BIN:   msgpack_pack_bin_with_body (pk, "b", 1); break;
        case V_EXT:   msgpack_pack_ext_with_body (pk, "e", 1, 3); break;
        case V_ARRAY:
            msgpack_pack_array (pk, 2);
            msgpack_pack_str_with_body (pk, "t", 1);
            msgpack_pack_array (pk, 0);
            break;
        default:
            msgpack_pack_map (pk, 1);
            msgpack_pack_uint32 (pk, 1);
            msgpack_pack_map (pk, 0);
            break;
    }
}

/*  The field type classes of the definition, as the test sees them. */
enum { T_STR, T_UINT, T_INT, T_BOOL, T_ARRAY, T_MAP, T_BIN, T_ANY };

static const struct { uint32_t num; int type; const char *name; } s_fields[] = {
#define X(name, num, str, type) { num, T_##type, str },
    HSN_FIELDS (X)
#undef X
};
#define NFIELDS (sizeof s_fields / sizeof s_fields[0])

static bool
sample_fits (int type, int which)
{
    switch (type) {
        case T_STR:   return which == V_STR;
        case T_UINT:  return which == V_UINT;
        case T_INT:   return which == V_UINT || which == V_NEG;
        case T_BOOL:  return which == V_TRUE;
        case T_ARRAY: return which == V_ARRAY;
        case T_MAP:   return which == V_MAP;
        case T_BIN:   return which == V_BIN;
        default:      return true;
    }
}

/*  Small deterministic PRNG (xorshift64*). */
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545f4914f6cdd1dULL;
}

/*  --- names ------------------------------------------------------------ */

START_TEST (test_kind_names)
{
#define X(name, num, str)                                                     \
    ck_assert_int_eq (HSN_KIND_##name, num);                                  \
    ck_assert_str_eq (hsn_kind_name (num), str);
    HSN_KINDS (X)
#undef X
    ck_assert_str_eq (hsn_kind_name (HSN_KIND_REQUEST), "request");
    ck_assert_str_eq (hsn_kind_name (HSN_KIND_STATS), "stats");
    ck_assert_ptr_null (hsn_kind_name (0));
    ck_assert_ptr_null (hsn_kind_name (99));
    ck_assert_ptr_null (hsn_kind_name (UINT32_MAX));
}
END_TEST

START_TEST (test_service_names)
{
#define X(name, num, str)                                                     \
    ck_assert_int_eq (HSN_SERVICE_##name, num);                               \
    ck_assert_str_eq (hsn_service_name (num), str);                           \
    ck_assert_uint_eq (hsn_service_by_name (str), num);
    HSN_SERVICES (X)
#undef X
    ck_assert_uint_eq (hsn_service_by_name ("cache"), HSN_SERVICE_CACHE);
    ck_assert_uint_eq (hsn_service_by_name ("agent-bus"), HSN_SERVICE_AGENT_BUS);
    ck_assert_uint_eq (hsn_service_by_name ("monitor"), HSN_SERVICE_MONITOR);
    ck_assert_uint_eq (hsn_service_by_name (""), 0);
    ck_assert_uint_eq (hsn_service_by_name ("nope"), 0);
    ck_assert_uint_eq (hsn_service_by_name ("Cache"), 0);
    ck_assert_uint_eq (hsn_service_by_name ("cache "), 0);
    ck_assert_uint_eq (hsn_service_by_name ("cach"), 0);
    ck_assert_uint_eq (hsn_service_by_name ("agent_bus"), 0);
    ck_assert_ptr_null (hsn_service_name (0));
    ck_assert_ptr_null (hsn_service_name (HSN_SERVICE__MAX));
    ck_assert_ptr_null (hsn_service_name (UINT32_MAX));
}
END_TEST

START_TEST (test_op_names)
{
    static const struct {
        uint32_t op, service, num;
        bool idem;
        const char *name;
    } ops[] = {
#define X(name, svc, num, idem, str)                                          \
        { HSN_OP_##name, HSN_SERVICE_##svc, num, idem, str },
        HSN_OPS (X)
#undef X
    };
    size_t n = sizeof ops / sizeof ops[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq (ops[i].op, (ops[i].service << 8) | ops[i].num);
        ck_assert_str_eq (hsn_op_name (ops[i].op), ops[i].name);
        ck_assert_int_eq (hsn_op_idempotent (ops[i].op), ops[i].idem);
        ck_assert_uint_eq (hsn_op_service (ops[i].op), ops[i].service);
        ck_assert_ptr_nonnull (hsn_service_name (ops[i].service));
        /*  Names are unique (numbers are, or the switches would not build). */
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne (ops[i].name, ops[j].name);
    }
    ck_assert_str_eq (hsn_op_name (HSN_OP_CACHE_GET), "cache.get");
    ck_assert_str_eq (hsn_op_name (HSN_OP_MONITOR_RECOMMEND),
                      "monitor.recommendations");
    ck_assert_str_eq (hsn_op_name (HSN_OP_PING), "ping");
    ck_assert_uint_eq (HSN_OP_CACHE_GET, (2u << 8) | 1);
    ck_assert_uint_eq (hsn_op_service (HSN_OP_PING), HSN_SERVICE_GATEWAY);
    ck_assert (hsn_op_idempotent (HSN_OP_CACHE_SET));

    /*  Unknown operations: no name, not idempotent, no service. */
    static const uint32_t unknown[] = {
        0, 1, 2, HSN_OP_CODE (CACHE, 0), HSN_OP_CODE (CACHE, 99),
        HSN_OP_CODE (QUERY, 99), HSN_OP_CODE (MONITOR, 5), 0xff01,
        (uint32_t) HSN_OP_CACHE_GET | 0x10000, UINT32_MAX,
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_ptr_null (hsn_op_name (unknown[i]));
        ck_assert (!hsn_op_idempotent (unknown[i]));
        ck_assert_uint_eq (hsn_op_service (unknown[i]), 0);
    }
}
END_TEST

START_TEST (test_status_names)
{
#define X(name, num, str, http)                                               \
    ck_assert_int_eq (HSN_STATUS_##name, num);                                \
    ck_assert_str_eq (hsn_status_name (num), str);                            \
    ck_assert_int_eq (hsn_status_http (num), http);
    HSN_STATUSES (X)
#undef X
    ck_assert_str_eq (hsn_status_name (HSN_STATUS_OK), "ok");
    ck_assert_int_eq (hsn_status_http (HSN_STATUS_OK), 200);
    ck_assert_int_eq (hsn_status_http (HSN_STATUS_NOT_FOUND), 404);
    ck_assert_str_eq (hsn_status_name (HSN_STATUS_UNKNOWN_OP), "unknown_operation");
    ck_assert_int_eq (hsn_status_http (HSN_STATUS_UNKNOWN_OP), 501);
    ck_assert_int_eq (hsn_status_http (HSN_STATUS_TOO_LARGE), 413);
    ck_assert_int_eq (hsn_status_http (HSN_STATUS_TIMEOUT), 504);
    ck_assert_ptr_null (hsn_status_name (2));
    ck_assert_ptr_null (hsn_status_name (999));
    ck_assert_ptr_null (hsn_status_name (UINT32_MAX));
    ck_assert_int_eq (hsn_status_http (2), 500);
    ck_assert_int_eq (hsn_status_http (999), 500);
    ck_assert_int_eq (hsn_status_http (UINT32_MAX), 500);

    ck_assert_int_eq (hsn_env_decode_status (0), HSN_STATUS_OK);
    ck_assert_int_eq (hsn_env_decode_status (-EMSGSIZE), HSN_STATUS_TOO_LARGE);
    ck_assert_int_eq (hsn_env_decode_status (-EPROTONOSUPPORT),
                      HSN_STATUS_BAD_VERSION);
    ck_assert_int_eq (hsn_env_decode_status (-EBADMSG), HSN_STATUS_MALFORMED);
    ck_assert_int_eq (hsn_env_decode_status (-ELOOP), HSN_STATUS_MALFORMED);
}
END_TEST

START_TEST (test_field_names)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        ck_assert_str_eq (hsn_field_name (s_fields[i].num), s_fields[i].name);
        ck_assert_uint_lt (s_fields[i].num, HSN_FIELD__MAX);
        ck_assert_uint_lt (s_fields[i].num, 64);
    }
    ck_assert_str_eq (hsn_field_name (HSN_FIELD_VALUE), "value");
    ck_assert_ptr_null (hsn_field_name (0));
    ck_assert_ptr_null (hsn_field_name (HSN_FIELD__MAX));
    ck_assert_ptr_null (hsn_field_name (UINT32_MAX));
}
END_TEST

/*  --- encode -> decode ------------------------------------------------- */

START_TEST (test_roundtrip_header)
{
    static const uint64_t rids[] = {
        0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
        (uint64_t) UINT32_MAX + 1, (uint64_t) INT64_MAX, UINT64_MAX
    };
    static const uint32_t u32s[] = { 0, 1, 127, 128, 65536, UINT32_MAX };
    static const hsn_kind_t kinds[] = {
#define X(name, num, str) HSN_KIND_##name,
        HSN_KINDS (X)
#undef X
    };
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t i = 0; i < sizeof rids / sizeof rids[0]; i++)
            for (size_t j = 0; j < sizeof u32s / sizeof u32s[0]; j++) {
                uint32_t svc = u32s[j];
                uint32_t op = u32s[(j + 1) % 6];
                uint32_t status = u32s[(j + 2) % 6];
                hsn_enc_begin (&enc, kinds[k], rids[i], svc, op, status, 0);
                hsn_env_t env;
                ck_assert_int_eq (decode_enc (&env, &enc, NULL), 0);
                ck_assert_uint_eq (env.version, HSN_PROTO_VERSION);
                ck_assert_uint_eq (env.kind, kinds[k]);
                ck_assert (env.rid == rids[i]);
                ck_assert_uint_eq (env.service, svc);
                ck_assert_uint_eq (env.op, op);
                ck_assert_uint_eq (env.status, status);
                ck_assert (env.present == 0);

                hsn_env_t peek;
                memset (&peek, 0, sizeof peek);
                uint8_t *p = dup_exact (hsn_enc_data (&enc), hsn_enc_size (&enc));
                ck_assert_int_eq (hsn_env_peek (&peek, p, hsn_enc_size (&enc)), 0);
                free (p);
                ck_assert (peek.kind == env.kind && peek.rid == env.rid
                           && peek.service == env.service && peek.op == env.op
                           && peek.status == env.status);
            }
    hsn_enc_release (&enc);
}
END_TEST

static void
pack_value_doc (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 2);
    msgpack_pack_str_with_body (pk, "a", 1);
    msgpack_pack_array (pk, 2);
    msgpack_pack_int (pk, 1);
    msgpack_pack_int (pk, -2);
    msgpack_pack_str_with_body (pk, "b", 1);
    msgpack_pack_bin_with_body (pk, "\0\1", 2);
}

START_TEST (test_roundtrip_fields)
{
    /*  Pre-encoded pieces for hsn_enc_raw and hsn_enc_append. */
    pb_t stats, value;
    pb_init (&stats);
    msgpack_pack_map (&stats.pk, 1);
    msgpack_pack_str_with_body (&stats.pk, "requests", 8);
    msgpack_pack_uint64 (&stats.pk, 12345678901ULL);
    pb_init (&value);
    pack_value_doc (&value.pk);

    hsn_enc_t enc;
    hsn_enc_init (&enc);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, 0x0123456789abcdefULL,
                   HSN_SERVICE_CACHE, HSN_OP_CACHE_SET, HSN_STATUS_OK, 11);
    hsn_enc_cstr (&enc, HSN_FIELD_NS, "users");                 /* STR */
    hsn_enc_str (&enc, HSN_FIELD_KEY, "k\0ey", 4);              /* STR, NUL */
    hsn_enc_uint (&enc, HSN_FIELD_TTL, UINT64_MAX);             /* UINT */
    hsn_enc_uint (&enc, HSN_FIELD_COUNT, 0);
    hsn_enc_key (&enc, HSN_FIELD_VALUE);                        /* ANY */
    pack_value_doc (&enc.pk);
    hsn_enc_key (&enc, HSN_FIELD_TAGS);                         /* ARRAY */
    msgpack_pack_array (&enc.pk, 2);
    msgpack_pack_str_with_body (&enc.pk, "t1", 2);
    msgpack_pack_str_with_body (&enc.pk, "t2", 2);
    hsn_enc_raw (&enc, HSN_FIELD_STATS, stats.sb.data, stats.sb.size); /* MAP */
    hsn_enc_key (&enc, HSN_FIELD_CPU);                          /* ANY float */
    msgpack_pack_double (&enc.pk, 12.5);
    hsn_enc_key (&enc, HSN_FIELD_RESULT);                       /* ANY, raw */
    hsn_enc_append (&enc, value.sb.data, value.sb.size);
    hsn_enc_key (&enc, HSN_FIELD_KEYS);                         /* empty ARRAY */
    msgpack_pack_array (&enc.pk, 0);
    hsn_enc_key (&enc, HSN_FIELD_HEALTH);                       /* empty MAP */
    msgpack_pack_map (&enc.pk, 0);

    hsn_env_t env;
    uint8_t *frame;
    ck_assert_int_eq (decode_enc (&env, &enc, &frame), 0);
    size_t size = hsn_enc_size (&enc);
    ck_assert_uint_eq (env.kind, HSN_KIND_REQUEST);
    ck_assert (env.rid == 0x0123456789abcdefULL);
    ck_assert_uint_eq (env.service, HSN_SERVICE_CACHE);
    ck_assert_uint_eq (env.op, HSN_OP_CACHE_SET);
    ck_assert_uint_eq (env.status, HSN_STATUS_OK);
    uint64_t want = 0;
    hsn_field_t fs[] = { HSN_FIELD_NS, HSN_FIELD_KEY, HSN_FIELD_TTL,
                         HSN_FIELD_COUNT, HSN_FIELD_VALUE, HSN_FIELD_TAGS,
                         HSN_FIELD_STATS, HSN_FIELD_CPU, HSN_FIELD_RESULT,
                         HSN_FIELD_KEYS, HSN_FIELD_HEALTH };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        want |= UINT64_C (1) << fs[i];
        ck_assert (hsn_env_has (&env, fs[i]));
        /*  Zero copy: every field points into the frame. */
        const hsn_mp_obj_t *o = &env.fields[fs[i]];
        ck_assert (o->raw >= frame && o->raw + o->raw_len <= frame + size);
        ck_assert_int_eq (hsn_mp_validate (o->raw, o->raw_len, 8), 0);
    }
    ck_assert (env.present == want);
    ck_assert (!hsn_env_has (&env, HSN_FIELD_MESSAGE));

    const char *s;
    size_t len;
    uint64_t u;
    ck_assert_int_eq (hsn_env_str (&env, HSN_FIELD_NS, &s, &len), 0);
    ck_assert (len == 5 && memcmp (s, "users", 5) == 0);
    ck_assert (s > (const char *) frame && s + len <= (const char *) frame + size);
    ck_assert_int_eq (hsn_env_str (&env, HSN_FIELD_KEY, &s, &len), 0);
    ck_assert (len == 4 && memcmp (s, "k\0ey", 4) == 0);
    ck_assert_int_eq (hsn_env_uint (&env, HSN_FIELD_TTL, &u), 0);
    ck_assert (u == UINT64_MAX);
    ck_assert_int_eq (hsn_env_uint (&env, HSN_FIELD_COUNT, &u), 0);
    ck_assert (u == 0);

    /*  The ANY values come back byte for byte. */
    ck_assert_uint_eq (env.fields[HSN_FIELD_VALUE].raw_len, value.sb.size);
    ck_assert (memcmp (env.fields[HSN_FIELD_VALUE].raw, value.sb.data,
                       value.sb.size) == 0);
    ck_assert_uint_eq (env.fields[HSN_FIELD_RESULT].raw_len, value.sb.size);
    ck_assert (memcmp (env.fields[HSN_FIELD_RESULT].raw, value.sb.data,
                       value.sb.size) == 0);
    ck_assert_uint_eq (env.fields[HSN_FIELD_STATS].raw_len, stats.sb.size);
    ck_assert (memcmp (env.fields[HSN_FIELD_STATS].raw, stats.sb.data,
                       stats.sb.size) == 0);
    ck_assert_int_eq (env.fields[HSN_FIELD_STATS].type, HSN_MP_MAP);
    ck_assert_int_eq (env.fields[HSN_FIELD_CPU].type, HSN_MP_FLOAT);
    ck_assert (env.fields[HSN_FIELD_CPU].v.f == 12.5);
    ck_assert_int_eq (env.fields[HSN_FIELD_KEYS].type, HSN_MP_ARRAY);
    ck_assert_uint_eq (env.fields[HSN_FIELD_KEYS].v.c.count, 0);
    ck_assert_int_eq (env.fields[HSN_FIELD_HEALTH].type, HSN_MP_MAP);

    /*  The tags, walked through the field object. */
    const hsn_mp_obj_t *tags = &env.fields[HSN_FIELD_TAGS];
    ck_assert_int_eq (tags->type, HSN_MP_ARRAY);
    ck_assert_uint_eq (tags->v.c.count, 2);
    hsn_mp_reader_t r;
    hsn_mp_obj_t t;
    hsn_mp_reader_of (&r, tags);
    ck_assert_int_eq (hsn_mp_get (&r, &t, 1), 0);
    ck_assert (hsn_mp_str_eq (&t, "t1"));
    ck_assert_int_eq (hsn_mp_get (&r, &t, 1), 0);
    ck_assert (hsn_mp_str_eq (&t, "t2"));
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);

    /*  Accessors: absent and wrong-kind fields are -ENOENT. */
    ck_assert_int_eq (hsn_env_str (&env, HSN_FIELD_MESSAGE, &s, &len), -ENOENT);
    ck_assert_int_eq (hsn_env_uint (&env, HSN_FIELD_DEADLINE, &u), -ENOENT);
    ck_assert_int_eq (hsn_env_str (&env, HSN_FIELD_TTL, &s, &len), -ENOENT);
    ck_assert_int_eq (hsn_env_uint (&env, HSN_FIELD_NS, &u), -ENOENT);
    ck_assert_int_eq (hsn_env_uint (&env, HSN_FIELD_CPU, &u), -ENOENT);
    ck_assert_int_eq (hsn_env_str (&env, HSN_FIELD_VALUE, &s, &len), -ENOENT);

    free (frame);
    hsn_enc_release (&enc);
    pb_destroy (&stats);
    pb_destroy (&value);
}
END_TEST

/*  Every field in the definition, alone, with a value of every type class:
 *  accepted exactly when the class fits the field's declared type. */
START_TEST (test_field_types)
{
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    for (size_t i = 0; i < NFIELDS; i++)
        for (int which = 0; which < V__COUNT; which++) {
            hsn_enc_begin (&enc, HSN_KIND_REPLY, i, HSN_SERVICE_QUERY, 0,
                           HSN_STATUS_OK, 1);
            hsn_enc_key (&enc, (hsn_field_t) s_fields[i].num);
            pack_sample (&enc.pk, which);
            hsn_env_t env;
            int rc = decode_enc (&env, &enc, NULL);
            if (sample_fits (s_fields[i].type, which)) {
                ck_assert_msg (rc == 0, "field %s, sample %d: %d",
                               s_fields[i].name, which, rc);
                ck_assert (env.present == UINT64_C (1) << s_fields[i].num);
            }
            else
                ck_assert_msg (rc == -EBADMSG, "field %s, sample %d: %d",
                               s_fields[i].name, which, rc);
        }
    /*  A bad field after good ones still fails the frame. */
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, 1, HSN_SERVICE_CACHE,
                   HSN_OP_CACHE_GET, 0, 3);
    hsn_enc_cstr (&enc, HSN_FIELD_NS, "n");
    hsn_enc_cstr (&enc, HSN_FIELD_KEY, "k");
    hsn_enc_cstr (&enc, HSN_FIELD_TTL, "60");
    hsn_env_t env;
    ck_assert_int_eq (decode_enc (&env, &enc, NULL), -EBADMSG);
    hsn_enc_release (&enc);
}
END_TEST

START_TEST (test_enc_error)
{
    hsn_env_t req;
    memset (&req, 0, sizeof req);
    req.kind = HSN_KIND_REQUEST;
    req.rid = UINT64_MAX - 3;
    req.service = HSN_SERVICE_MONITOR;
    req.op = HSN_OP_MONITOR_SUMMARY;

    hsn_enc_t enc;
    hsn_enc_init (&enc);
    hsn_enc_error (&enc, &req, HSN_STATUS_UNAVAILABLE, "redis down");
    hsn_env_t env;
    uint8_t *frame;
    ck_assert_int_eq (decode_enc (&env, &enc, &frame), 0);
    ck_assert_uint_eq (env.kind, HSN_KIND_REPLY);
    ck_assert (env.rid == req.rid);
    ck_assert_uint_eq (env.service, req.service);
    ck_assert_uint_eq (env.op, req.op);
    ck_assert_uint_eq (env.status, HSN_STATUS_UNAVAILABLE);
    ck_assert (env.present == UINT64_C (1) << HSN_FIELD_MESSAGE);
    const char *s;
    size_t len;
    ck_assert_int_eq (hsn_env_str (&env, HSN_FIELD_MESSAGE, &s, &len), 0);
    ck_assert (len == 10 && memcmp (s, "redis down", 10) == 0);
    free (frame);
    hsn_enc_release (&enc);
}
END_TEST

/*  One encoder, reused and released, writes what a fresh one writes. */
START_TEST (test_enc_reuse)
{
    hsn_enc_t a, b;
    hsn_enc_init (&a);
    hsn_enc_init (&b);
    char big[5000];
    memset (big, 'x', sizeof big);
    hsn_enc_begin (&a, HSN_KIND_REQUEST, 1, 2, 3, 4, 1);
    hsn_enc_str (&a, HSN_FIELD_VALUE, big, sizeof big);
    for (int round = 0; round < 3; round++) {
        hsn_enc_begin (&a, HSN_KIND_HEARTBEAT, 9, HSN_SERVICE_CACHE, 0, 0, 2);
        hsn_enc_cstr (&a, HSN_FIELD_REPLICA, "host:1");
        hsn_enc_uint (&a, HSN_FIELD_CREDITS, 10);
        hsn_enc_begin (&b, HSN_KIND_HEARTBEAT, 9, HSN_SERVICE_CACHE, 0, 0, 2);
        hsn_enc_cstr (&b, HSN_FIELD_REPLICA, "host:1");
        hsn_enc_uint (&b, HSN_FIELD_CREDITS, 10);
        ck_assert_uint_eq (hsn_enc_size (&a), hsn_enc_size (&b));
        ck_assert (memcmp (hsn_enc_data (&a), hsn_enc_data (&b),
                           hsn_enc_size (&a)) == 0);
        hsn_enc_release (&a);
        hsn_enc_release (&b);
    }
    /*  Usable again after release. */
    hsn_enc_begin (&a, HSN_KIND_READY, 5, HSN_SERVICE_QUERY, 0, 0, 0);
    hsn_env_t env;
    ck_assert_int_eq (decode_enc (&env, &a, NULL), 0);
    ck_assert_uint_eq (env.kind, HSN_KIND_READY);
    hsn_enc_release (&a);
    hsn_enc_release (&b);
}
END_TEST

/*  Declaring 2 fields and writing 1 is a programming error: assert. */
START_TEST (test_enc_count_mismatch)
{
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    hsn_enc_begin (&enc, HSN_KIND_REQUEST, 1, 2, 3, 4, 2);
    hsn_enc_uint (&enc, HSN_FIELD_TTL, 1);
    hsn_enc_data (&enc);
    hsn_enc_release (&enc);
}
END_TEST

/*  --- decode errors ---------------------------------------------------- */

START_TEST (test_decode_shape)
{
    pb_t b;
    hsn_env_t env;

    /*  Nothing at all. */
    ck_assert_int_eq (decode (&env, "", 0, NULL), -EBADMSG);

    /*  Arrays of the wrong size, with well-typed elements. */
    static const uint32_t sizes[] = { 0, 1, 6, 8, 15, 16 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pb_init (&b);
        msgpack_pack_array (&b.pk, sizes[i]);
        for (uint32_t k = 0; k < sizes[i]; k++) {
            if (k == 6)
                msgpack_pack_map (&b.pk, 0);
            else
                msgpack_pack_uint32 (&b.pk, 1);
        }
        ck_assert_msg (decode (&env, b.sb.data, b.sb.size, NULL) == -EBADMSG,
                       "array of %u", sizes[i]);
        pb_destroy (&b);
    }

    /*  Not an array. */
    for (int which = 0; which < V__COUNT; which++) {
        if (which == V_ARRAY)
            continue;
        pb_init (&b);
        pack_sample (&b.pk, which);
        ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), -EBADMSG);
        pb_destroy (&b);
    }

    /*  A body that is not a map. */
    for (int which = 0; which < V__COUNT; which++) {
        if (which == V_MAP)
            continue;
        pb_init (&b);
        pack_std_header (&b.pk);
        pack_sample (&b.pk, which);
        ck_assert_msg (decode (&env, b.sb.data, b.sb.size, NULL) == -EBADMSG,
                       "body sample %d", which);
        pb_destroy (&b);
    }

    /*  Trailing bytes after a complete envelope. */
    pb_init (&b);
    pack_std_header (&b.pk);
    msgpack_pack_map (&b.pk, 0);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), 0);
    msgpack_pack_nil (&b.pk);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), -EBADMSG);
    pb_destroy (&b);
}
END_TEST

/*  Each of the six header positions with each wrong type. */
START_TEST (test_decode_header_types)
{
    uint64_t good[6] = { HSN_PROTO_VERSION, HSN_KIND_REQUEST, 77,
                         HSN_SERVICE_CACHE, HSN_OP_CACHE_GET, 0 };
    hsn_env_t env;
    for (int pos = 0; pos < 6; pos++) {
        for (int which = 0; which < V__COUNT + 1; which++) {
            if (which == V_UINT)
                continue;
            pb_t b;
            pb_init (&b);
            msgpack_pack_array (&b.pk, 7);
            for (int k = 0; k < 6; k++) {
                if (k != pos)
                    msgpack_pack_uint64 (&b.pk, good[k]);
                else if (which == V__COUNT)
                    msgpack_pack_uint64 (&b.pk, (uint64_t) UINT32_MAX + 1);
                else
                    pack_sample (&b.pk, which);
            }
            msgpack_pack_map (&b.pk, 0);
            int rc = decode (&env, b.sb.data, b.sb.size, NULL);
            /*  rid is 64 bits wide: only it takes UINT32_MAX + 1. */
            int want = (pos == 2 && which == V__COUNT) ? 0 : -EBADMSG;
            ck_assert_msg (rc == want, "position %d, sample %d: %d", pos, which, rc);
            uint8_t *p = dup_exact (b.sb.data, b.sb.size);
            ck_assert_int_eq (hsn_env_peek (&env, p, b.sb.size), want);
            free (p);
            pb_destroy (&b);
        }
    }
    /*  The widest values that fit. */
    pb_t b;
    pb_init (&b);
    pack_header (&b.pk, HSN_PROTO_VERSION, UINT32_MAX, UINT64_MAX, UINT32_MAX,
                 UINT32_MAX, UINT32_MAX);
    msgpack_pack_map (&b.pk, 0);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), 0);
    ck_assert (env.kind == UINT32_MAX && env.rid == UINT64_MAX
               && env.service == UINT32_MAX && env.op == UINT32_MAX
               && env.status == UINT32_MAX);
    pb_destroy (&b);

    /*  Non-negative integers in signed encodings are integers too. */
    pb_init (&b);
    msgpack_pack_array (&b.pk, 7);
    msgpack_pack_fix_int8 (&b.pk, HSN_PROTO_VERSION);
    msgpack_pack_fix_int16 (&b.pk, HSN_KIND_REPLY);
    msgpack_pack_fix_int64 (&b.pk, 5);
    msgpack_pack_fix_uint64 (&b.pk, HSN_SERVICE_CACHE);
    msgpack_pack_fix_int32 (&b.pk, HSN_OP_CACHE_GET);
    msgpack_pack_fix_uint8 (&b.pk, HSN_STATUS_NOT_FOUND);
    msgpack_pack_map (&b.pk, 0);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), 0);
    ck_assert (env.kind == HSN_KIND_REPLY && env.rid == 5
               && env.service == HSN_SERVICE_CACHE
               && env.op == HSN_OP_CACHE_GET
               && env.status == HSN_STATUS_NOT_FOUND);
    pb_destroy (&b);
}
END_TEST

START_TEST (test_decode_version)
{
    static const uint64_t versions[] = { 0, HSN_PROTO_VERSION + 1, 255,
                                         UINT32_MAX };
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        pb_t b;
        pb_init (&b);
        pack_header (&b.pk, versions[i], HSN_KIND_REQUEST, 0xabcdef0123ULL,
                     HSN_SERVICE_CACHE, HSN_OP_CACHE_MGET, HSN_STATUS_OK);
        msgpack_pack_map (&b.pk, 1);
        msgpack_pack_uint32 (&b.pk, HSN_FIELD_KEY);
        msgpack_pack_str_with_body (&b.pk, "k", 1);
        hsn_env_t env;
        ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL),
                          -EPROTONOSUPPORT);
        /*  The header is filled, so the error reply can be addressed. */
        ck_assert_uint_eq (env.version, versions[i]);
        ck_assert_uint_eq (env.kind, HSN_KIND_REQUEST);
        ck_assert (env.rid == 0xabcdef0123ULL);
        ck_assert_uint_eq (env.service, HSN_SERVICE_CACHE);
        ck_assert_uint_eq (env.op, HSN_OP_CACHE_MGET);
        ck_assert_uint_eq (env.status, HSN_STATUS_OK);
        ck_assert (env.present == 0);
        ck_assert_int_eq (hsn_env_decode_status (-EPROTONOSUPPORT),
                          HSN_STATUS_BAD_VERSION);

        /*  ... and the reply built from it decodes. */
        hsn_enc_t enc;
        hsn_enc_init (&enc);
        hsn_enc_error (&enc, &env, HSN_STATUS_BAD_VERSION, "version");
        hsn_env_t reply;
        ck_assert_int_eq (decode_enc (&reply, &enc, NULL), 0);
        ck_assert (reply.rid == 0xabcdef0123ULL);
        ck_assert_uint_eq (reply.status, HSN_STATUS_BAD_VERSION);
        hsn_enc_release (&enc);

        uint8_t *p = dup_exact (b.sb.data, b.sb.size);
        memset (&env, 0, sizeof env);
        ck_assert_int_eq (hsn_env_peek (&env, p, b.sb.size), -EPROTONOSUPPORT);
        ck_assert (env.rid == 0xabcdef0123ULL);
        free (p);
        pb_destroy (&b);
    }
}
END_TEST

START_TEST (test_decode_keys)
{
    hsn_env_t env;
    /*  Keys that are not non-negative integers. */
    for (int which = 0; which < V__COUNT; which++) {
        if (which == V_UINT)
            continue;
        pb_t b;
        pb_init (&b);
        pack_std_header (&b.pk);
        msgpack_pack_map (&b.pk, 1);
        pack_sample (&b.pk, which);
        msgpack_pack_str_with_body (&b.pk, "v", 1);
        ck_assert_msg (decode (&env, b.sb.data, b.sb.size, NULL) == -EBADMSG,
                       "key sample %d", which);
        pb_destroy (&b);
    }
    /*  "1" is not 1. */
    pb_t b;
    pb_init (&b);
    pack_std_header (&b.pk);
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_str_with_body (&b.pk, "1", 1);
    msgpack_pack_str_with_body (&b.pk, "v", 1);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), -EBADMSG);
    pb_destroy (&b);
}
END_TEST

START_TEST (test_decode_unknown_fields)
{
    static const uint64_t keys[] = {
        0, HSN_FIELD__MAX, HSN_FIELD__MAX + 1, 63, 64, 65, 1000, UINT32_MAX,
        (uint64_t) UINT32_MAX + 1, UINT64_MAX
    };
    size_t nkeys = sizeof keys / sizeof keys[0];
    pb_t b;
    pb_init (&b);
    pack_std_header (&b.pk);
    msgpack_pack_map (&b.pk, nkeys * V__COUNT + 1);
    for (size_t i = 0; i < nkeys; i++)
        for (int which = 0; which < V__COUNT; which++) {
            msgpack_pack_uint64 (&b.pk, keys[i]);
            pack_sample (&b.pk, which);
        }
    msgpack_pack_uint32 (&b.pk, HSN_FIELD_MESSAGE);
    msgpack_pack_str_with_body (&b.pk, "hi", 2);

    hsn_env_t env;
    uint8_t *frame;
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, &frame), 0);
    ck_assert (env.present == UINT64_C (1) << HSN_FIELD_MESSAGE);
    ck_assert (hsn_mp_str_eq (&env.fields[HSN_FIELD_MESSAGE], "hi"));
    free (frame);
    pb_destroy (&b);

    /*  Unknown fields are still checked for being well formed: a truncated
     *  or too deep unknown value fails the frame. */
    pb_init (&b);
    pack_std_header (&b.pk);
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_uint32 (&b.pk, 1000);
    for (int d = 0; d < HSN_PROTO_MAX_DEPTH; d++)
        msgpack_pack_array (&b.pk, 1);
    msgpack_pack_nil (&b.pk);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), -ELOOP);
    pb_destroy (&b);
}
END_TEST

/*  An envelope of exactly `size` bytes, padded with a bin VALUE. */
static void
pack_sized_frame (pb_t *b, size_t size)
{
    const size_t overhead = 64;
    ck_assert_uint_gt (size, 65536 + overhead);
    pb_init (b);
    pack_std_header (&b->pk);
    msgpack_pack_map (&b->pk, 1);
    msgpack_pack_uint32 (&b->pk, HSN_FIELD_VALUE);
    size_t head = b->sb.size + 5;       /* bin32 header */
    size_t len = size - head;
    msgpack_pack_bin (&b->pk, len);
    ck_assert_uint_eq (b->sb.size, head);
    char *zeros = calloc (1, len);
    ck_assert_ptr_nonnull (zeros);
    msgpack_pack_bin_body (&b->pk, zeros, len);
    free (zeros);
    ck_assert_uint_eq (b->sb.size, size);
}

START_TEST (test_decode_frame_size)
{
    pb_t b;
    hsn_env_t env;
    pack_sized_frame (&b, HSN_PROTO_MAX_FRAME);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), 0);
    ck_assert (hsn_env_has (&env, HSN_FIELD_VALUE));
    pb_destroy (&b);

    pack_sized_frame (&b, HSN_PROTO_MAX_FRAME + 1);
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), -EMSGSIZE);
    uint8_t *p = dup_exact (b.sb.data, b.sb.size);
    ck_assert_int_eq (hsn_env_peek (&env, p, b.sb.size), -EMSGSIZE);
    free (p);
    ck_assert_int_eq (hsn_env_decode_status (-EMSGSIZE), HSN_STATUS_TOO_LARGE);
    pb_destroy (&b);

    /*  The size is checked before any byte is read. */
    static const uint8_t junk[1] = { 0xc1 };
    ck_assert_int_eq (hsn_env_decode (&env, junk, (size_t) HSN_PROTO_MAX_FRAME + 1),
                      -EMSGSIZE);
    ck_assert_int_eq (hsn_env_decode (&env, junk, SIZE_MAX), -EMSGSIZE);
}
END_TEST

/*  A frame with a bit of everything, for truncation and mutation. */
static void
encode_rich (hsn_enc_t *enc)
{
    hsn_enc_begin (enc, HSN_KIND_REPLY, 0x1122334455667788ULL, HSN_SERVICE_CACHE,
                   HSN_OP_CACHE_MGET, HSN_STATUS_NOT_FOUND, 6);
    hsn_enc_cstr (enc, HSN_FIELD_MESSAGE, "some keys were not found");
    hsn_enc_cstr (enc, HSN_FIELD_LEVEL, "l2");
    hsn_enc_uint (enc, HSN_FIELD_TTL, 300000);
    hsn_enc_key (enc, HSN_FIELD_KEYS);
    msgpack_pack_array (&enc->pk, 3);
    msgpack_pack_str_with_body (&enc->pk, "a", 1);
    msgpack_pack_str_with_body (&enc->pk, "bb", 2);
    msgpack_pack_str_with_body (&enc->pk, "ccc", 3);
    hsn_enc_key (enc, HSN_FIELD_RESULT);
    pack_value_doc (&enc->pk);
    hsn_enc_key (enc, HSN_FIELD_STATS);
    msgpack_pack_map (&enc->pk, 2);
    msgpack_pack_str_with_body (&enc->pk, "hits", 4);
    msgpack_pack_uint64 (&enc->pk, 1ULL << 40);
    msgpack_pack_str_with_body (&enc->pk, "ratio", 5);
    msgpack_pack_float (&enc->pk, 0.75f);
}

START_TEST (test_decode_truncated)
{
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    encode_rich (&enc);
    const uint8_t *frame = hsn_enc_data (&enc);
    size_t size = hsn_enc_size (&enc);
    hsn_env_t env;
    ck_assert_int_eq (decode (&env, frame, size, NULL), 0);

    /*  Where the header ends: peek succeeds from there on. */
    hsn_mp_reader_t r;
    hsn_mp_obj_t o;
    hsn_mp_reader_init (&r, frame, size);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq (hsn_mp_next (&r, &o), 0);
    size_t header_end = (size_t) (r.p - frame);     /* where the body starts */

    for (size_t len = 0; len < size; len++) {
        ck_assert_msg (decode (&env, frame, len, NULL) == -EBADMSG,
                       "length %zu of %zu", len, size);
        uint8_t *p = dup_exact (frame, len);
        int rc = hsn_env_peek (&env, p, len);
        free (p);
        /*  peek reads the header only. */
        ck_assert_msg (rc == (len >= header_end ? 0 : -EBADMSG),
                       "peek length %zu: %d", len, rc);
    }
    hsn_enc_release (&enc);
}
END_TEST

static void
check_outcome (const uint8_t *buf, size_t len, int rc, const hsn_env_t *env)
{
    ck_assert_msg (rc == 0 || rc == -EBADMSG || rc == -ELOOP
                   || rc == -EPROTONOSUPPORT, "rc %d for %zu bytes", rc, len);
    if (rc == 0) {
        /*  By chance valid: then it really is one well-formed envelope. */
        ck_assert_int_eq (hsn_mp_validate (buf, len, HSN_PROTO_MAX_DEPTH), 0);
        ck_assert_int_eq (buf[0], 0x97);
        ck_assert_uint_eq (env->version, HSN_PROTO_VERSION);
        for (uint32_t f = 0; f < 64; f++)
            if ((env->present >> f) & 1) {
                ck_assert_ptr_nonnull (hsn_field_name (f));
                const hsn_mp_obj_t *o = &env->fields[f];
                ck_assert (o->raw >= buf && o->raw + o->raw_len <= buf + len);
            }
    }
    if (rc == -ELOOP)
        ck_assert_int_eq (hsn_mp_validate (buf, len, HSN_PROTO_MAX_DEPTH), -ELOOP);
}

START_TEST (test_decode_random)
{
    hsn_enc_t enc;
    hsn_enc_init (&enc);
    encode_rich (&enc);
    const uint8_t *rich = hsn_enc_data (&enc);
    size_t rich_size = hsn_enc_size (&enc);
    int valid = 0;

    for (int round = 0; round < 12000; round++) {
        size_t len;
        uint8_t *buf;
        int mode = round % 3;
        if (mode == 0) {
            /*  Pure noise. */
            len = rnd () % 300;
            buf = malloc (len ? len : 1);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t) rnd ();
        }
        else if (mode == 1) {
            /*  A plausible start, then noise: reaches the body code. */
            len = 10 + rnd () % 300;
            buf = malloc (len);
            memcpy (buf, "\x97\x01\x01\x05\x02\xcd\x02\x01\x00", 9);
            for (size_t i = 9; i < len; i++)
                buf[i] = (uint8_t) rnd ();
            buf[9] = (uint8_t) (0x80 | (rnd () & 0x0f));
        }
        else {
            /*  A valid frame with a few bytes changed, cut or not. */
            len = rnd () % 4 ? rich_size : rnd () % (rich_size + 1);
            buf = malloc (len ? len : 1);
            memcpy (buf, rich, len);
            for (int k = 1 + (int) (rnd () % 4); k > 0 && len; k--)
                buf[rnd () % len] = (uint8_t) rnd ();
        }
        ck_assert_ptr_nonnull (buf);
        hsn_env_t env;
        int rc = hsn_env_decode (&env, buf, len);
        check_outcome (buf, len, rc, &env);
        if (rc == 0)
            valid++;
        hsn_env_t peek;
        rc = hsn_env_peek (&peek, buf, len);
        ck_assert (rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
        free (buf);
    }
    /*  Pure noise is hardly ever an envelope; mutants sometimes are. */
    ck_assert_int_lt (valid, 4000);
    hsn_enc_release (&enc);
}
END_TEST

/*  A VALUE nested `depth` deep (depth 0: a nil) in an otherwise fine frame. */
static int
decode_with_depth (size_t depth, uint8_t fill)
{
    pb_t b;
    pb_init (&b);
    pack_std_header (&b.pk);
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_uint32 (&b.pk, HSN_FIELD_VALUE);
    for (size_t d = 0; d < depth; d++) {
        msgpack_sbuffer_write (&b.sb, (const char *) &fill, 1);
        if (fill == 0x81)
            msgpack_pack_nil (&b.pk);   /* the key */
    }
    msgpack_pack_nil (&b.pk);
    hsn_env_t env;
    int rc = decode (&env, b.sb.data, b.sb.size, NULL);
    if (rc == 0)
        ck_assert (hsn_env_has (&env, HSN_FIELD_VALUE));
    pb_destroy (&b);
    return rc;
}

START_TEST (test_decode_depth)
{
    /*  The envelope is depth 1 and the body 2, so a value may nest
     *  HSN_PROTO_MAX_DEPTH - 2 deep and the whole frame HSN_PROTO_MAX_DEPTH. */
    size_t max_value = HSN_PROTO_MAX_DEPTH - 2;
    ck_assert_int_eq (decode_with_depth (0, 0x91), 0);
    ck_assert_int_eq (decode_with_depth (max_value, 0x91), 0);
    ck_assert_int_eq (decode_with_depth (max_value + 1, 0x91), -ELOOP);
    ck_assert_int_eq (decode_with_depth (max_value, 0x81), 0);
    ck_assert_int_eq (decode_with_depth (max_value + 1, 0x81), -ELOOP);
    ck_assert_int_eq (decode_with_depth (HSN_MP_DEPTH_LIMIT + 1, 0x91), -ELOOP);
    ck_assert_int_eq (decode_with_depth (100000, 0x91), -ELOOP);
    ck_assert_int_eq (decode_with_depth (100000, 0x81), -ELOOP);
    ck_assert_int_eq (hsn_env_decode_status (-ELOOP), HSN_STATUS_MALFORMED);

    /*  100000 nested arrays with nothing after them: too deep before it is
     *  found truncated, and no recursion either way. */
    pb_t b;
    pb_init (&b);
    pack_std_header (&b.pk);
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_uint32 (&b.pk, HSN_FIELD_RESULT);
    for (int i = 0; i < 100000; i++)
        msgpack_sbuffer_write (&b.sb, "\x91", 1);
    hsn_env_t env;
    ck_assert_int_eq (decode (&env, b.sb.data, b.sb.size, NULL), -ELOOP);
    pb_destroy (&b);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_proto");
    TCase *tc = tcase_create ("names");
    tcase_add_test (tc, test_kind_names);
    tcase_add_test (tc, test_service_names);
    tcase_add_test (tc, test_op_names);
    tcase_add_test (tc, test_status_names);
    tcase_add_test (tc, test_field_names);
    suite_add_tcase (s, tc);

    tc = tcase_create ("codec");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_roundtrip_header);
    tcase_add_test (tc, test_roundtrip_fields);
    tcase_add_test (tc, test_field_types);
    tcase_add_test (tc, test_enc_error);
    tcase_add_test (tc, test_enc_reuse);
    /*  Expecting a signal needs Check's fork mode. */
    const char *fork_mode = getenv ("CK_FORK");
    if (!fork_mode || strcmp (fork_mode, "no") != 0)
        tcase_add_test_raise_signal (tc, test_enc_count_mismatch, SIGABRT);
    suite_add_tcase (s, tc);

    tc = tcase_create ("decode errors");
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_decode_shape);
    tcase_add_test (tc, test_decode_header_types);
    tcase_add_test (tc, test_decode_version);
    tcase_add_test (tc, test_decode_keys);
    tcase_add_test (tc, test_decode_unknown_fields);
    tcase_add_test (tc, test_decode_frame_size);
    tcase_add_test (tc, test_decode_truncated);
    tcase_add_test (tc, test_decode_random);
    tcase_add_test (tc, test_decode_depth);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
