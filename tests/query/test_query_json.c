/*  hsn_json (common/), as the query service uses it for json/jsonb
 *  columns: JSON text -> msgpack, strictly. */
#include <errno.h>
#include <string.h>

#include "hsn_json.h"
#include "hsn_mp.h"
#include "hsn_test.h"

static msgpack_sbuffer sb;
static msgpack_packer pk;
static char err[256];

static int
conv (const char *json, int depth)
{
    msgpack_sbuffer_clear (&sb);
    return hsn_json_to_mp (json, strlen (json), depth, &pk, err, sizeof err);
}

static void
setup (void)
{
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
}

static void
teardown (void)
{
    msgpack_sbuffer_destroy (&sb);
}

START_TEST (documents_become_msgpack)
{
    ck_assert_int_eq (conv ("{\"a\": [1, -2, 2.5, \"x\", true, false, null], \"b\": {}}", 8), 0);
    hsn_mp_obj_t root, a, v;
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, sb.data, sb.size);
    ck_assert_int_eq (hsn_mp_get (&r, &root, 8), 0);
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
    ck_assert_int_eq (root.type, HSN_MP_MAP);
    ck_assert_uint_eq (root.v.c.count, 2);
    ck_assert_int_eq (hsn_mp_map_get (&root, "a", &a), 0);
    ck_assert_uint_eq (a.v.c.count, 7);
    hsn_mp_reader_of (&r, &a);
    static const hsn_mp_type_t want[] = { HSN_MP_UINT, HSN_MP_INT, HSN_MP_FLOAT, HSN_MP_STR,
                                          HSN_MP_BOOL, HSN_MP_BOOL, HSN_MP_NIL };
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq (hsn_mp_get (&r, &v, 8), 0);
        ck_assert_int_eq (v.type, want[i]);
    }
    ck_assert_int_eq (hsn_mp_map_get (&root, "b", &v), 0);
    ck_assert_int_eq (v.type, HSN_MP_MAP);

    /*  An integer beyond int64 keeps its digits. */
    ck_assert_int_eq (conv ("[18446744073709551616]", 8), 0);
    hsn_mp_reader_init (&r, sb.data, sb.size);
    ck_assert_int_eq (hsn_mp_get (&r, &root, 8), 0);
    hsn_mp_reader_of (&r, &root);
    ck_assert_int_eq (hsn_mp_get (&r, &v, 8), 0);
    ck_assert_int_eq (v.type, HSN_MP_STR);
    ck_assert_int_eq (memcmp (v.v.s.ptr, "18446744073709551616", 20), 0);

    /*  A bare scalar is a document too. */
    ck_assert_int_eq (conv ("\"caf\xc3\xa9\"", 0), 0);
}
END_TEST

START_TEST (bad_documents_write_nothing)
{
    ck_assert_int_eq (conv ("[[[1]]]", 2), -ELOOP);
    ck_assert_uint_eq (sb.size, 0);
    ck_assert_int_eq (conv ("[[[1]]]", 3), 0);
    ck_assert_int_eq (conv ("\"\xff\"", 8), -EBADMSG);          /* not UTF-8 */
    ck_assert_uint_eq (sb.size, 0);
    ck_assert_int_eq (conv ("\"\xed\xa0\x80\"", 8), -EBADMSG);  /* a surrogate */
    ck_assert_int_eq (conv ("[1] // c", 8), -EBADMSG);           /* comments are not JSON */
    ck_assert_int_eq (conv ("[\"a\\u0000b\"]", 8), -EBADMSG);   /* would be cut at the NUL */
    ck_assert_int_eq (conv ("[\"a\\\\u0000b\"]", 8), 0);       /* an escaped backslash */
    ck_assert_int_eq (conv ("[1] 2", 8), -EBADMSG);
    ck_assert_int_eq (conv ("{\"a\": }", 8), -EBADMSG);
    ck_assert_int_eq (conv ("", 8), -EBADMSG);
    ck_assert_uint_eq (sb.size, 0);
    ck_assert_int_eq (hsn_json_to_mp ("[1]\0x", 5, 8, &pk, err, sizeof err), -EBADMSG);
    /*  Brackets inside strings do not count as depth. */
    ck_assert_int_eq (conv ("[\"[[[[\\\"[[[\"]", 2), 0);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("query_json");
    TCase *tc = tcase_create ("json");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_add_test (tc, documents_become_msgpack);
    tcase_add_test (tc, bad_documents_write_nothing);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
