/*  gateway_json: JSON <-> msgpack conversion. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gateway/gateway_json.h"
#include "hsn_mp.h"
#include "tests/harness/hsn_test.h"

#define DEPTH 32

static char errbuf[256];

/*  JSON text (NUL-terminated here for convenience; the converter is told the
 *  length) to msgpack. Returns the converter's rc; *out holds the bytes. */
static int
to_mp (const char *json, size_t len, int depth, msgpack_sbuffer *out)
{
    msgpack_sbuffer_init (out);
    errbuf[0] = 'X';
    return gateway_json_to_mp (json, len, depth, out, errbuf, sizeof errbuf);
}

/*  JSON -> msgpack -> JSON, the result in a static buffer. */
static const char *
round_trip (const char *json)
{
    static char result[4096];
    msgpack_sbuffer mp;
    int rc = to_mp (json, strlen (json), DEPTH, &mp);
    ck_assert_msg (rc == 0, "to_mp(%s) = %d: %s", json, rc, errbuf);
    ck_assert_int_eq (hsn_mp_validate (mp.data, mp.size, DEPTH), 0);
    gateway_json_buf_t buf;
    gateway_json_buf_init (&buf);
    rc = gateway_json_from_mp (mp.data, mp.size, DEPTH, &buf);
    ck_assert_msg (rc == 0, "from_mp(%s) = %d", json, rc);
    ck_assert_uint_lt (buf.len, sizeof result);
    ck_assert_uint_eq (strlen (buf.data), buf.len);
    memcpy (result, buf.data, buf.len + 1);
    gateway_json_buf_free (&buf);
    msgpack_sbuffer_destroy (&mp);
    return result;
}

#define ck_round_trip(json, expect) \
    ck_assert_str_eq (round_trip (json), expect)

/*  The single msgpack object a JSON text converts to. */
static hsn_mp_obj_t
decode_one (const char *json, msgpack_sbuffer *mp)
{
    int rc = to_mp (json, strlen (json), DEPTH, mp);
    ck_assert_msg (rc == 0, "to_mp(%s) = %d: %s", json, rc, errbuf);
    hsn_mp_reader_t r;
    hsn_mp_obj_t o;
    hsn_mp_reader_init (&r, mp->data, mp->size);
    ck_assert_int_eq (hsn_mp_get (&r, &o, DEPTH), 0);
    ck_assert_uint_eq (hsn_mp_remaining (&r), 0);
    return o;
}

/*  to_mp must fail with rc, leave out as it was and explain itself. */
static void
expect_error_len (const char *json, size_t len, int depth, int want, const char *msg_part)
{
    msgpack_sbuffer mp;
    msgpack_sbuffer_init (&mp);
    msgpack_sbuffer_write (&mp, "pre", 3);
    int rc = gateway_json_to_mp (json, len, depth, &mp, errbuf, sizeof errbuf);
    ck_assert_msg (rc == want, "to_mp(%.*s) = %d, want %d (%s)", (int) len, json,
                   rc, want, errbuf);
    ck_assert_uint_eq (mp.size, 3);
    ck_assert_msg (strncmp (errbuf, "invalid JSON at line ", 21) == 0,
                   "message: %s", errbuf);
    if (msg_part)
        ck_assert_msg (strstr (errbuf, msg_part), "message '%s' lacks '%s'",
                       errbuf, msg_part);
    msgpack_sbuffer_destroy (&mp);
}

static void
expect_error (const char *json, int want, const char *msg_part)
{
    expect_error_len (json, strlen (json), DEPTH, want, msg_part);
}

/* ---- JSON -> msgpack -> JSON ------------------------------------------- */

START_TEST (test_scalars)
{
    ck_round_trip ("null", "null");
    ck_round_trip ("true", "true");
    ck_round_trip ("false", "false");
    ck_round_trip ("0", "0");
    ck_round_trip ("-0", "0");
    ck_round_trip ("42", "42");
    ck_round_trip ("-17", "-17");
    ck_round_trip ("1.5", "1.5");
    ck_round_trip ("\"\"", "\"\"");
    ck_round_trip ("\"text\"", "\"text\"");
    ck_round_trip (" \t\r\n 7 \n", "7");
}
END_TEST

START_TEST (test_containers)
{
    msgpack_sbuffer mp;
    ck_assert_int_eq (to_mp ("[]", 2, DEPTH, &mp), 0);
    ck_assert_uint_eq (mp.size, 1);
    ck_assert_uint_eq ((uint8_t) mp.data[0], 0x90);
    msgpack_sbuffer_destroy (&mp);
    ck_assert_int_eq (to_mp ("{\"a\":1}", 7, DEPTH, &mp), 0);
    ck_assert_uint_eq (mp.size, 4);
    ck_assert (memcmp (mp.data, "\x81\xa1" "a\x01", 4) == 0);
    msgpack_sbuffer_destroy (&mp);

    ck_round_trip ("[]", "[]");
    ck_round_trip ("{}", "{}");
    ck_round_trip ("[ 1 , \"two\" , 3.5 , true , false , null ]",
                   "[1,\"two\",3.5,true,false,null]");
    ck_round_trip ("{\"z\":1,\"a\":2,\"m\":3}", "{\"z\":1,\"a\":2,\"m\":3}");
    ck_round_trip ("{\"rows\":[{\"id\":1,\"tags\":[\"x\",[]],\"o\":{}},"
                   "{\"id\":2,\"tags\":[],\"o\":{\"deep\":[[[null]]]}}],\"n\":2}",
                   "{\"rows\":[{\"id\":1,\"tags\":[\"x\",[]],\"o\":{}},"
                   "{\"id\":2,\"tags\":[],\"o\":{\"deep\":[[[null]]]}}],\"n\":2}");
}
END_TEST

/*  Headers are back-patched then compacted: check each size class, in a
 *  nested position so that compaction has to slide bytes. */
START_TEST (test_container_sizes)
{
    size_t sizes[] = { 15, 16, 65535, 65536, 70000 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        char *json = malloc (n * 2 + 16);
        size_t len = 0;
        json[len++] = '[';
        json[len++] = '[';
        for (size_t i = 0; i < n; i++) {
            if (i)
                json[len++] = ',';
            json[len++] = (char) ('0' + i % 10);
        }
        memcpy (json + len, "],{\"k\":[1]}]", 12);
        len += 12;
        msgpack_sbuffer mp;
        ck_assert_int_eq (to_mp (json, len, DEPTH, &mp), 0);
        uint8_t *d = (uint8_t *) mp.data;
        ck_assert_uint_eq (d[0], 0x92);
        size_t hdr = n < 16 ? 1 : n < 65536 ? 3 : 5;
        ck_assert_uint_eq (mp.size, 1 + hdr + n + 5);
        if (n < 16)
            ck_assert_uint_eq (d[1], 0x90 | n);
        else if (n < 65536)
            ck_assert (d[1] == 0xdc && ((size_t) d[2] << 8 | d[3]) == n);
        else
            ck_assert (d[1] == 0xdd && ((size_t) d[2] << 24 | (size_t) d[3] << 16
                                         | (size_t) d[4] << 8 | d[5]) == n);
        ck_assert_uint_eq (d[1 + hdr + n - 1], (n - 1) % 10);
        ck_assert (memcmp (d + 1 + hdr + n, "\x81\xa1k\x91\x01", 5) == 0);
        ck_assert_int_eq (hsn_mp_validate (mp.data, mp.size, DEPTH), 0);
        msgpack_sbuffer_destroy (&mp);
        free (json);
    }
}
END_TEST

/*  to_mp appends to what the buffer already holds. */
START_TEST (test_appends)
{
    msgpack_sbuffer mp;
    msgpack_sbuffer_init (&mp);
    ck_assert_int_eq (gateway_json_to_mp ("[1]", 3, DEPTH, &mp, NULL, 0), 0);
    ck_assert_int_eq (gateway_json_to_mp ("{\"a\":[]}", 8, DEPTH, &mp, NULL, 0), 0);
    ck_assert_uint_eq (mp.size, 6);
    ck_assert (memcmp (mp.data, "\x91\x01\x81\xa1" "a\x90", 6) == 0);
    /*  errlen 0: no message, no write. */
    ck_assert_int_eq (gateway_json_to_mp ("[", 1, DEPTH, &mp, NULL, 0), -EINVAL);
    ck_assert_uint_eq (mp.size, 6);
    msgpack_sbuffer_destroy (&mp);
}
END_TEST

START_TEST (test_big_integers)
{
    msgpack_sbuffer mp;
    hsn_mp_obj_t o = decode_one ("9223372036854775807", &mp);
    ck_assert_int_eq (o.type, HSN_MP_UINT);
    ck_assert (o.v.u == INT64_MAX);
    msgpack_sbuffer_destroy (&mp);

    o = decode_one ("18446744073709551615", &mp);
    ck_assert_int_eq (o.type, HSN_MP_UINT);
    ck_assert (o.v.u == UINT64_MAX);
    msgpack_sbuffer_destroy (&mp);

    o = decode_one ("-9223372036854775808", &mp);
    ck_assert_int_eq (o.type, HSN_MP_INT);
    ck_assert (o.v.i == INT64_MIN);
    msgpack_sbuffer_destroy (&mp);

    o = decode_one ("18446744073709551616", &mp);
    ck_assert_int_eq (o.type, HSN_MP_FLOAT);
    ck_assert (o.v.f == 18446744073709551616.0);
    msgpack_sbuffer_destroy (&mp);

    o = decode_one ("-9223372036854775809", &mp);
    ck_assert_int_eq (o.type, HSN_MP_FLOAT);
    ck_assert (o.v.f == -9223372036854775808.0);
    msgpack_sbuffer_destroy (&mp);

    o = decode_one ("123456789012345678901234567890", &mp);
    ck_assert_int_eq (o.type, HSN_MP_FLOAT);
    ck_assert (o.v.f == 123456789012345678901234567890.0);
    msgpack_sbuffer_destroy (&mp);

    ck_round_trip ("[9223372036854775807,18446744073709551615,-9223372036854775808]",
                   "[9223372036854775807,18446744073709551615,-9223372036854775808]");
    ck_round_trip ("18446744073709551616", "1.8446744073709552e+19");
    ck_round_trip ("-1", "-1");
    ck_round_trip ("-128", "-128");
    ck_round_trip ("-129", "-129");
    ck_round_trip ("4294967296", "4294967296");
}
END_TEST

START_TEST (test_floats)
{
    msgpack_sbuffer mp;
    hsn_mp_obj_t o = decode_one ("1.0", &mp);
    ck_assert_int_eq (o.type, HSN_MP_FLOAT);
    msgpack_sbuffer_destroy (&mp);
    o = decode_one ("1e2", &mp);
    ck_assert_int_eq (o.type, HSN_MP_FLOAT);
    ck_assert (o.v.f == 100.0);
    msgpack_sbuffer_destroy (&mp);

    ck_round_trip ("1.0", "1.0");
    ck_round_trip ("1e2", "100.0");
    ck_round_trip ("-0.0", "-0.0");
    ck_round_trip ("0.1", "0.1");
    ck_round_trip ("1234.56", "1234.56");
    ck_round_trip ("2.5E-7", "2.5e-07");
    ck_round_trip ("1e300", "1e+300");
    ck_round_trip ("1e-400", "0.0");
    ck_round_trip ("0.30000000000000004", "0.30000000000000004");
    ck_round_trip ("3.141592653589793", "3.141592653589793");
    ck_round_trip ("5e-324", "4.94065645841247e-324");
    /*  A long mantissa is still one double. */
    ck_round_trip ("0.1000000000000000000000000000000000000000000000000000000000000000"
                   "000000000000000000000000000000000000000000000000000000000000000001",
                   "0.1");
    expect_error ("1e400", -EINVAL, "out of range");
    expect_error ("[-1e400]", -EINVAL, "out of range");
}
END_TEST

START_TEST (test_strings)
{
    msgpack_sbuffer mp;
    hsn_mp_obj_t o = decode_one ("\"caf\\u00e9 \\ud83d\\ude00 \\u20AC\"", &mp);
    ck_assert_int_eq (o.type, HSN_MP_STR);
    ck_assert_uint_eq (o.v.s.len, 14);
    ck_assert (memcmp (o.v.s.ptr, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac", 14) == 0);
    msgpack_sbuffer_destroy (&mp);

    /*  \u0000 survives: msgpack strings carry a length. */
    o = decode_one ("\"a\\u0000b\"", &mp);
    ck_assert_uint_eq (o.v.s.len, 3);
    ck_assert (memcmp (o.v.s.ptr, "a\0b", 3) == 0);
    msgpack_sbuffer_destroy (&mp);

    ck_round_trip ("\"a\\u0000b\"", "\"a\\u0000b\"");
    ck_round_trip ("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"",
                   "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
    ck_round_trip ("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    ck_round_trip ("\"\\uDBFF\\uDFFF\"", "\"\xf4\x8f\xbf\xbf\"");
    ck_round_trip ("\"Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80\"",
                   "\"Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80\"");
    ck_round_trip ("{\"k\\u00e9y\":\"\\u2028\"}", "{\"k\xc3\xa9y\":\"\xe2\x80\xa8\"}");
}
END_TEST

START_TEST (test_invalid_json)
{
    /*  truncated */
    expect_error ("", -EINVAL, "premature EOF");
    expect_error ("   ", -EINVAL, NULL);
    expect_error ("{\"a\":", -EINVAL, NULL);
    expect_error ("[1,2", -EINVAL, NULL);
    expect_error ("\"abc", -EINVAL, NULL);
    expect_error ("{\"a\"", -EINVAL, NULL);
    expect_error ("tru", -EINVAL, NULL);
    expect_error ("-", -EINVAL, NULL);
    expect_error ("1.", -EINVAL, NULL);
    expect_error ("1e", -EINVAL, NULL);
    /*  trailing garbage, several values */
    expect_error ("[1] x", -EINVAL, "trailing garbage");
    expect_error ("1 2", -EINVAL, NULL);
    expect_error ("{} {}", -EINVAL, NULL);
    expect_error ("null,", -EINVAL, NULL);
    /*  grammar */
    expect_error ("[1,]", -EINVAL, NULL);
    expect_error ("{\"a\":1,}", -EINVAL, NULL);
    expect_error ("{a:1}", -EINVAL, NULL);
    expect_error ("{\"a\" 1}", -EINVAL, NULL);
    expect_error ("{1:1}", -EINVAL, NULL);
    expect_error ("['a']", -EINVAL, NULL);
    expect_error ("01", -EINVAL, NULL);
    expect_error ("+1", -EINVAL, NULL);
    expect_error ("NaN", -EINVAL, NULL);
    expect_error ("Infinity", -EINVAL, NULL);
    expect_error ("/* c */ 1", -EINVAL, NULL);
    expect_error ("[1 // c\n]", -EINVAL, NULL);
    expect_error ("\xef\xbb\xbf{}", -EINVAL, NULL);       /* BOM */
    /*  escapes */
    expect_error ("\"\\q\"", -EINVAL, NULL);
    expect_error ("\"\\u12\"", -EINVAL, NULL);
    expect_error ("\"\\u12G4\"", -EINVAL, NULL);
    expect_error ("\"\\x41\"", -EINVAL, NULL);
    expect_error ("\"\\", -EINVAL, NULL);
    expect_error ("[\\u0041]", -EINVAL, NULL);
    /*  raw control characters in strings */
    expect_error ("\"a\tb\"", -EINVAL, NULL);
    expect_error ("\"a\nb\"", -EINVAL, NULL);
    expect_error_len ("\"a\0b\"", 5, DEPTH, -EINVAL, NULL);
    expect_error_len ("[1]\0", 4, DEPTH, -EINVAL, NULL);
    /*  invalid UTF-8: stray continuation, bad lead, overlong, encoded
     *  surrogate, above U+10FFFF, truncated sequence, outside a string */
    expect_error ("\"\x80\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xff\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xc0\x80\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xc1\xbf\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xe0\x9f\xbf\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xed\xa0\x80\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xed\xbf\xbf\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xf4\x90\x80\x80\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xf5\x80\x80\x80\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xe2\x82\"", -EINVAL, "invalid UTF-8");
    expect_error ("\"\xe2\x82", -EINVAL, "invalid UTF-8");
    expect_error ("{\"k\xff\":1}", -EINVAL, "invalid UTF-8");
    expect_error ("[\xc3\xa9]", -EINVAL, NULL);
    /*  lone or misordered surrogates */
    expect_error ("\"\\ud800\"", -EINVAL, "surrogate");
    expect_error ("\"\\udc00\"", -EINVAL, "surrogate");
    expect_error ("\"\\uDFFF\\uD800\"", -EINVAL, "surrogate");
    expect_error ("\"\\ud800\\u0041\"", -EINVAL, "surrogate");
    expect_error ("\"\\ud800\\ud800\"", -EINVAL, "surrogate");
    expect_error ("\"\\ud800x\"", -EINVAL, "surrogate");
    expect_error ("\"\\ud800\\n\"", -EINVAL, "surrogate");
    expect_error ("\"\\ud800", -EINVAL, "surrogate");
    expect_error ("{\"\\udc00\":1}", -EINVAL, "surrogate");
    /*  an escaped backslash before "u" is not an escape */
    ck_round_trip ("\"\\\\ud800\"", "\"\\\\ud800\"");
}
END_TEST

START_TEST (test_error_positions)
{
    expect_error ("[1,\n  x]", -EINVAL, "line 2 column ");
    expect_error ("\"caf\xc3\xa9\xff\"", -EINVAL, "line 1 column 6: invalid UTF-8");
    expect_error ("[\"\\ud800\"]", -EINVAL, "line 1 column 3: unpaired surrogate");
    expect_error ("\n\n{\"id\":1,\n\"id\":2}", -EINVAL,
                  "line 4 column 4: duplicate key \"id\"");
    /*  The earlier of two offences is the one reported. */
    expect_error ("[1,,\"\xff\"]", -EINVAL, "line 1 column 5: parse error");
    expect_error ("{\"a\":1,\"a\":2,\"\xff\":3}", -EINVAL, "duplicate key");
    expect_error ("{\"a\":1,\"\xff\":3,\"a\":2}", -EINVAL, "invalid UTF-8");
    expect_error ("{\"a\":1,\"a\":2,x}", -EINVAL, "column 10: duplicate key");
    expect_error ("{\"o\":{\"b\":1,\"b\":2,\"c\":}}", -EINVAL, "duplicate key \"b\"");
    expect_error_len ("{\"a\":1,\"a\":[[[[1]]]]}", 21, 3, -EINVAL, "duplicate key");
    expect_error_len ("{\"a\":1,\"b\":[[[[1]]]]}", 21, 3, -ELOOP, "column 14: nested");
    /*  A truncated message still fits and stays terminated. */
    char small[24];
    msgpack_sbuffer mp;
    msgpack_sbuffer_init (&mp);
    ck_assert_int_eq (gateway_json_to_mp ("[1,x]", 5, DEPTH, &mp, small, sizeof small),
                      -EINVAL);
    ck_assert_uint_eq (strlen (small), sizeof small - 1);
    ck_assert_int_eq (gateway_json_to_mp ("[1]", 3, DEPTH, &mp, small, sizeof small), 0);
    ck_assert_str_eq (small, "");
    msgpack_sbuffer_destroy (&mp);
}
END_TEST

static char *
nested (int levels, const char *open, const char *close, const char *inner)
{
    size_t lo = strlen (open), lc = strlen (close), li = strlen (inner);
    char *s = malloc ((size_t) levels * (lo + lc) + li + 1);
    char *p = s;
    for (int i = 0; i < levels; i++, p += lo)
        memcpy (p, open, lo);
    memcpy (p, inner, li);
    p += li;
    for (int i = 0; i < levels; i++, p += lc)
        memcpy (p, close, lc);
    *p = '\0';
    return s;
}

START_TEST (test_depth_limit)
{
    msgpack_sbuffer mp;
    ck_assert_int_eq (to_mp ("[[[1]]]", 7, 3, &mp), 0);
    msgpack_sbuffer_destroy (&mp);
    expect_error_len ("[[[[1]]]]", 9, 3, -ELOOP, "nested deeper than 3");
    expect_error_len ("[{\"a\":{\"b\":[]}}]", 16, 3, -ELOOP, NULL);
    ck_assert_int_eq (to_mp ("[{\"a\":{\"b\":1}}]", 15, 3, &mp), 0);
    msgpack_sbuffer_destroy (&mp);
    ck_assert_int_eq (to_mp ("\"s\"", 3, 0, &mp), 0);
    msgpack_sbuffer_destroy (&mp);
    expect_error_len ("[]", 2, 0, -ELOOP, NULL);
    expect_error_len ("{}", 2, -5, -ELOOP, NULL);

    /*  A limit above HSN_MP_DEPTH_LIMIT is clamped to it. */
    char *ok = nested (HSN_MP_DEPTH_LIMIT, "[", "]", "1");
    ck_assert_int_eq (to_mp (ok, strlen (ok), 1000, &mp), 0);
    ck_assert_int_eq (hsn_mp_validate (mp.data, mp.size, HSN_MP_DEPTH_LIMIT), 0);
    msgpack_sbuffer_destroy (&mp);
    free (ok);
    char *deep = nested (HSN_MP_DEPTH_LIMIT + 1, "{\"k\":", "}", "1");
    expect_error_len (deep, strlen (deep), 1000, -ELOOP, NULL);
    free (deep);
    /*  Far too deep, and unterminated: refused at the limit, not parsed. */
    char *huge = nested (100000, "[", "", "");
    expect_error_len (huge, strlen (huge), DEPTH, -ELOOP, "column 33:");
    free (huge);
}
END_TEST

START_TEST (test_duplicate_keys)
{
    expect_error ("{\"a\":1,\"a\":2}", -EINVAL, "duplicate key \"a\"");
    expect_error ("{\"a\":1,\"b\":2,\"a\":{}}", -EINVAL, "duplicate key \"a\"");
    expect_error ("{\"x\":{\"a\":1,\"a\":2}}", -EINVAL, "duplicate key \"a\"");
    /*  Escapes are compared decoded: \u0061 is "a". */
    expect_error ("{\"a\":1,\"\\u0061\":2}", -EINVAL, "duplicate key \"a\"");
    /*  Unprintable bytes are masked in the message. */
    expect_error ("{\"\\n\\\"\":1,\"\\n\\\"\":2}", -EINVAL, "duplicate key \"??\"");
    /*  Same key in different objects, keys that differ only in length. */
    ck_round_trip ("{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}",
                   "{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}");
    ck_round_trip ("{\"a\":1,\"a\\u0000\":2,\"\":3,\"aa\":4}",
                   "{\"a\":1,\"a\\u0000\":2,\"\":3,\"aa\":4}");

    /*  Large objects take the sorting path. */
    char json[8192];
    size_t len = 0;
    json[len++] = '{';
    for (int i = 0; i < 300; i++)
        len += (size_t) snprintf (json + len, sizeof json - len, "%s\"key%d\":%d",
                                  i ? "," : "", i, i);
    json[len++] = '}';
    msgpack_sbuffer mp;
    ck_assert_int_eq (to_mp (json, len, DEPTH, &mp), 0);
    hsn_mp_reader_t r;
    hsn_mp_obj_t o, k;
    hsn_mp_reader_init (&r, mp.data, mp.size);
    ck_assert_int_eq (hsn_mp_next (&r, &o), 0);
    ck_assert_int_eq (o.type, HSN_MP_MAP);
    ck_assert_uint_eq (o.v.c.count, 300);
    ck_assert_int_eq (hsn_mp_next (&r, &k), 0);     /* order is kept */
    ck_assert (hsn_mp_str_eq (&k, "key0"));
    msgpack_sbuffer_destroy (&mp);
    /*  Two duplicated keys: the first repetition in the text is named. */
    len--;
    len += (size_t) snprintf (json + len, sizeof json - len,
                              ",\"key7\":0,\"key5\":0,\"key5\":1}");
    expect_error_len (json, len, DEPTH, -EINVAL, "duplicate key \"key7\"");
}
END_TEST

/* ---- msgpack -> JSON ----------------------------------------------------- */

/*  msgpack built with the packer, to JSON. */
typedef void (*pack_fn) (msgpack_packer *pk);

static int
from_packed (pack_fn fn, gateway_json_buf_t *buf)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    fn (&pk);
    gateway_json_buf_init (buf);
    int rc = gateway_json_from_mp (sb.data, sb.size, DEPTH, buf);
    msgpack_sbuffer_destroy (&sb);
    return rc;
}

static void
pk_str (msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

static void
pk_bin (msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_bin (pk, n);
    msgpack_pack_bin_body (pk, s, n);
}

static void
pack_bins (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 7);
    pk_bin (pk, "", 0);
    pk_bin (pk, "f", 1);
    pk_bin (pk, "fo", 2);
    pk_bin (pk, "foo", 3);
    pk_bin (pk, "foob", 4);
    pk_bin (pk, "fooba", 5);
    pk_bin (pk, "\xff\xfe\x00", 3);
}

static void
pack_keys (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 4);
    msgpack_pack_uint64 (pk, UINT64_MAX);
    msgpack_pack_true (pk);
    msgpack_pack_int64 (pk, INT64_MIN);
    msgpack_pack_nil (pk);
    msgpack_pack_int8 (pk, -1);
    msgpack_pack_int8 (pk, 0);
    pk_str (pk, "s", 1);
    msgpack_pack_array (pk, 0);
}

static void
pack_floats (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 10);
    msgpack_pack_double (pk, 1.0);
    msgpack_pack_double (pk, -0.0);
    msgpack_pack_double (pk, NAN);
    msgpack_pack_double (pk, INFINITY);
    msgpack_pack_double (pk, -INFINITY);
    msgpack_pack_float (pk, 0.3f);
    msgpack_pack_float (pk, 2.0f);
    msgpack_pack_float (pk, NAN);
    msgpack_pack_double (pk, 1e22);
    msgpack_pack_double (pk, 123456789.125);
}

static void
pack_bad_utf8 (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 5);
    pk_str (pk, "a\xff" "b", 3);
    pk_str (pk, "\xe2\x82", 2);                 /* one maximal subpart */
    pk_str (pk, "\xed\xa0\x80", 3);             /* surrogate: three */
    pk_str (pk, "\xc0\xaf\xf4\x90", 4);
    pk_str (pk, "\x01\x1f\x7f\"\\\t\xc3\xa9\0", 9);
}

static void pack_ext (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 1);
    msgpack_pack_ext (pk, 4, 1);
    msgpack_pack_ext_body (pk, "abcd", 4);
}

static void pack_float_key (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_double (pk, 1.5);
    msgpack_pack_nil (pk);
}

static void pack_bin_key (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    pk_bin (pk, "k", 1);
    msgpack_pack_nil (pk);
}

static void pack_nil_key (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_nil (pk);
    msgpack_pack_nil (pk);
}

static void pack_array_key (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    msgpack_pack_array (pk, 0);
    msgpack_pack_nil (pk);
}

START_TEST (test_from_mp_types)
{
    gateway_json_buf_t b;
    ck_assert_int_eq (from_packed (pack_bins, &b), 0);
    ck_assert_str_eq (b.data, "[\"\",\"Zg==\",\"Zm8=\",\"Zm9v\",\"Zm9vYg==\","
                              "\"Zm9vYmE=\",\"//4A\"]");
    gateway_json_buf_free (&b);

    ck_assert_int_eq (from_packed (pack_keys, &b), 0);
    ck_assert_str_eq (b.data, "{\"18446744073709551615\":true,"
                              "\"-9223372036854775808\":null,\"-1\":0,\"s\":[]}");
    gateway_json_buf_free (&b);

    ck_assert_int_eq (from_packed (pack_floats, &b), 0);
    ck_assert_str_eq (b.data, "[1.0,-0.0,null,null,null,0.3,2.0,null,1e+22,"
                              "123456789.125]");
    gateway_json_buf_free (&b);

    ck_assert_int_eq (from_packed (pack_bad_utf8, &b), 0);
    ck_assert_str_eq (b.data, "[\"a\xef\xbf\xbd" "b\",\"\xef\xbf\xbd\","
                              "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
                              "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
                              "\"\\u0001\\u001f\x7f\\\"\\\\\\t\xc3\xa9\\u0000\"]");
    /*  Whatever was replaced, the output is valid JSON. */
    msgpack_sbuffer mp;
    ck_assert_int_eq (to_mp (b.data, b.len, DEPTH, &mp), 0);
    msgpack_sbuffer_destroy (&mp);
    gateway_json_buf_free (&b);

    ck_assert_int_eq (from_packed (pack_ext, &b), -EINVAL);
    ck_assert_uint_eq (b.len, 0);
    gateway_json_buf_free (&b);
    ck_assert_int_eq (from_packed (pack_float_key, &b), -EINVAL);
    gateway_json_buf_free (&b);
    ck_assert_int_eq (from_packed (pack_bin_key, &b), -EINVAL);
    gateway_json_buf_free (&b);
    ck_assert_int_eq (from_packed (pack_nil_key, &b), -EINVAL);
    gateway_json_buf_free (&b);
    ck_assert_int_eq (from_packed (pack_array_key, &b), -EINVAL);
    gateway_json_buf_free (&b);
}
END_TEST

START_TEST (test_from_mp_errors)
{
    gateway_json_buf_t b;
    gateway_json_buf_init (&b);
    ck_assert_int_eq (gateway_json_buf_append (&b, "keep", 4), 0);
    /*  empty, truncated, 0xc1, counts larger than the bytes */
    ck_assert_int_eq (gateway_json_from_mp ("", 0, DEPTH, &b), -EBADMSG);
    ck_assert_int_eq (gateway_json_from_mp ("\x92\x01", 2, DEPTH, &b), -EBADMSG);
    ck_assert_int_eq (gateway_json_from_mp ("\xc1", 1, DEPTH, &b), -EBADMSG);
    ck_assert_int_eq (gateway_json_from_mp ("\xdd\xff\xff\xff\xff", 5, DEPTH, &b), -EBADMSG);
    ck_assert_int_eq (gateway_json_from_mp ("\xa5" "abc", 4, DEPTH, &b), -EBADMSG);
    ck_assert_int_eq (gateway_json_from_mp ("\x81\xa1k", 3, DEPTH, &b), -EBADMSG);
    /*  trailing bytes */
    ck_assert_int_eq (gateway_json_from_mp ("\x01\x02", 2, DEPTH, &b), -EMSGSIZE);
    /*  depth */
    ck_assert_int_eq (gateway_json_from_mp ("\x91\x91\x90", 3, 2, &b), -ELOOP);
    ck_assert_int_eq (gateway_json_from_mp ("\x90", 1, 0, &b), -ELOOP);
    ck_assert_str_eq (b.data, "keep");
    ck_assert_uint_eq (b.len, 4);
    ck_assert_int_eq (gateway_json_from_mp ("\x91\x91\x90", 3, 3, &b), 0);
    ck_assert_str_eq (b.data, "keep[[[]]]");
    /*  Far deeper than the limit: refused, no recursion to match. */
    size_t n = 100000;
    char *deep = malloc (n);
    memset (deep, 0x91, n - 1);
    deep[n - 1] = (char) 0xc0;
    ck_assert_int_eq (gateway_json_from_mp (deep, n, 1000, &b), -ELOOP);
    free (deep);
    gateway_json_buf_free (&b);
}
END_TEST

START_TEST (test_buf)
{
    gateway_json_buf_t b;
    gateway_json_buf_init (&b);
    ck_assert_ptr_null (b.data);
    ck_assert_int_eq (gateway_json_buf_append (&b, NULL, 0), 0);
    ck_assert_uint_eq (b.len, 0);
    ck_assert_str_eq (b.data, "");
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq (gateway_json_buf_append (&b, "0123456789", 10), 0);
    ck_assert_uint_eq (b.len, 10000);
    ck_assert_uint_gt (b.cap, b.len);
    ck_assert_uint_eq (b.data[b.len], '\0');
    char *mem = b.data;
    size_t cap = b.cap;
    gateway_json_buf_reset (&b);
    ck_assert_uint_eq (b.len, 0);
    ck_assert_str_eq (b.data, "");
    ck_assert_ptr_eq (b.data, mem);
    ck_assert_uint_eq (b.cap, cap);
    ck_assert_int_eq (gateway_json_buf_append (&b, "x", 1), 0);
    ck_assert_str_eq (b.data, "x");
    gateway_json_buf_free (&b);
    ck_assert_ptr_null (b.data);
    ck_assert_uint_eq (b.len + b.cap, 0);
    gateway_json_buf_free (&b);     /* twice is harmless */
    gateway_json_buf_reset (&b);
}
END_TEST

/* ---- never crash ----------------------------------------------------------- */

/*  Each random test reseeds, so that results do not depend on whether Check
 *  forks (CK_FORK=no runs every test in one process). */
static uint64_t rng_state;
static uint32_t
rng (void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t) (rng_state >> 11);
}

static const char *seeds[] = {
    "{\"id\":1,\"name\":\"caf\\u00e9\",\"tags\":[\"a\",\"b\"],\"ok\":true,\"n\":null}",
    "[18446744073709551615,-9223372036854775808,1.5e-7,-0.0,1e308,\"\\ud83d\\ude00\"]",
    "{\"a\":{\"b\":{\"c\":[[[{\"d\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}]]]}}}",
    "\"Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80\"",
    "[{\"k\":1},{\"k\":2},{},[],\"\",0,12345678901234567890123]",
};

/*  Whatever to_mp accepts must be valid msgpack that from_mp turns into JSON
 *  that to_mp turns into the very same msgpack. */
static bool
check_json (const char *json, size_t len, msgpack_sbuffer *mp, gateway_json_buf_t *jb)
{
    mp->size = 0;
    int rc = gateway_json_to_mp (json, len, 16, mp, errbuf, sizeof errbuf);
    if (rc) {
        ck_assert_msg (rc == -EINVAL || rc == -ELOOP, "rc %d", rc);
        ck_assert_uint_eq (mp->size, 0);
        ck_assert (strncmp (errbuf, "invalid JSON at line ", 21) == 0);
        return false;
    }
    ck_assert_int_eq (hsn_mp_validate (mp->data, mp->size, 16), 0);
    gateway_json_buf_reset (jb);
    ck_assert_int_eq (gateway_json_from_mp (mp->data, mp->size, 16, jb), 0);
    msgpack_sbuffer again;
    msgpack_sbuffer_init (&again);
    ck_assert_int_eq (gateway_json_to_mp (jb->data, jb->len, 16, &again, errbuf,
                                          sizeof errbuf), 0);
    ck_assert_uint_eq (again.size, mp->size);
    ck_assert (memcmp (again.data, mp->data, mp->size) == 0);
    msgpack_sbuffer_destroy (&again);
    return true;
}

/*  A random valid JSON document in t[*len..cap): every type, escapes,
 *  multi-byte UTF-8, surrogate pairs, 64-bit integers, unique keys. */
static void
gen_value (char *t, size_t *len, size_t cap, int depth)
{
    static const char *pieces[] = {
        "a", "Z", " ", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\u0000",
        "\\ud83d\\ude00", "\\uDBFF\\uDFFF", "\xc3\xa9", "\xe6\x9d\xb1",
        "\xf0\x9f\x98\x80", "\x7f", "\\u001F",
    };
    if (cap - *len < 64)
        depth = 99;                         /* out of room: a scalar */
    int kind = depth >= 6 ? (int) (rng () % 6) : (int) (rng () % 8);
    switch (kind) {
        case 0:
            *len += (size_t) snprintf (t + *len, cap - *len, "%s",
                                       rng () % 3 ? "null" : rng () % 2 ? "true" : "false");
            break;
        case 1: {
            uint64_t v = (uint64_t) rng () << 32 | rng ();
            v >>= rng () % 64;
            if (rng () % 2 && v <= (uint64_t) INT64_MAX + 1)
                *len += (size_t) snprintf (t + *len, cap - *len, "-%" PRIu64, v);
            else
                *len += (size_t) snprintf (t + *len, cap - *len, "%" PRIu64, v);
            break;
        }
        case 2: {
            double d;
            uint64_t bits = (uint64_t) rng () << 32 | rng ();
            memcpy (&d, &bits, 8);
            if (!isfinite (d))
                d = 0.5;
            char num[40];
            snprintf (num, sizeof num, "%.17g", d);
            *len += (size_t) snprintf (t + *len, cap - *len, "%s%s", num,
                                       strpbrk (num, ".eE") ? "" : ".0");
            break;
        }
        case 3: case 4: case 5: {
            t[(*len)++] = '"';
            for (int n = (int) (rng () % 6); n > 0 && cap - *len > 40; n--)
                *len += (size_t) snprintf (t + *len, cap - *len, "%s",
                                           pieces[rng () % (sizeof pieces / sizeof pieces[0])]);
            t[(*len)++] = '"';
            break;
        }
        case 6: {
            t[(*len)++] = '[';
            for (int n = (int) (rng () % 5), i = 0; i < n && cap - *len > 64; i++) {
                if (i)
                    t[(*len)++] = ',';
                gen_value (t, len, cap, depth + 1);
            }
            t[(*len)++] = ']';
            break;
        }
        default: {
            t[(*len)++] = '{';
            for (int n = (int) (rng () % 5), i = 0; i < n && cap - *len > 80; i++) {
                *len += (size_t) snprintf (t + *len, cap - *len, "%s\"k%d\\u00e9\":",
                                           i ? "," : "", i);
                gen_value (t, len, cap, depth + 1);
            }
            t[(*len)++] = '}';
        }
    }
    t[*len] = '\0';
}

START_TEST (test_random_json)
{
    static const char alphabet[] = "{}[]\",:\\u0123456789abcdefeEtrunlsx.-+ \n\t";
    msgpack_sbuffer mp;
    msgpack_sbuffer_init (&mp);
    gateway_json_buf_t jb;
    gateway_json_buf_init (&jb);
    char buf[1024];
    int accepted[4] = { 0, 0, 0, 0 };
    rng_state = 0x853c49e6748fea9bu;
    for (int iter = 0; iter < 6000; iter++) {
        size_t len;
        int mode = iter % 4;
        const char *seed = seeds[rng () % (sizeof seeds / sizeof seeds[0])];
        size_t slen = strlen (seed);
        if (mode == 0) {
            /*  random bytes, biased towards JSON's own characters */
            len = rng () % 64;
            for (size_t i = 0; i < len; i++)
                buf[i] = rng () % 4 ? alphabet[rng () % (sizeof alphabet - 1)]
                                    : (char) rng ();
        }
        else if (mode == 1) {
            /*  every truncation of a valid document */
            len = rng () % (slen + 1);
            memcpy (buf, seed, len);
        }
        else if (mode == 3) {
            /*  a generated valid document */
            len = 0;
            gen_value (buf, &len, sizeof buf, 0);
        }
        else {
            /*  a valid document with a few bytes changed */
            len = slen;
            memcpy (buf, seed, len);
            for (int k = 1 + rng () % 3; k > 0; k--)
                buf[rng () % len] = rng () % 2 ? alphabet[rng () % (sizeof alphabet - 1)]
                                               : (char) rng ();
        }
        /*  An exact-size heap copy, so that ASan sees any read past the end. */
        char *exact = malloc (len ? len : 1);
        memcpy (exact, buf, len);
        bool ok = check_json (exact, len, &mp, &jb);
        accepted[mode] += ok;
        ck_assert_msg (ok || mode != 3, "generated %.*s: %s", (int) len, exact, errbuf);
        free (exact);
    }
    /*  Truncations and mutations must reach the success path too. */
    ck_assert_int_gt (accepted[1], 20);
    ck_assert_int_gt (accepted[2], 20);
    ck_assert_int_eq (accepted[3], 6000 / 4);
    msgpack_sbuffer_destroy (&mp);
    gateway_json_buf_free (&jb);
}
END_TEST

/*  Random msgpack: from_mp either fails cleanly or writes JSON that to_mp
 *  accepts (or rejects only for a duplicate key: int 1 and str "1" become
 *  the same JSON key, and msgpack maps may repeat keys). */
START_TEST (test_random_msgpack)
{
    static const uint8_t common[] = {
        0x00, 0x7f, 0xff, 0xe0, 0x80, 0x81, 0x82, 0x90, 0x91, 0x92, 0xa1, 0xa3,
        0xc0, 0xc2, 0xc3, 0xc4, 0xca, 0xcb, 0xcc, 0xcf, 0xd3, 0xd4, 0xd9, 0xdc,
        0xde, 0xc1, 0xc7, 0x41, 0x22, 0x5c, 0x0a
    };
    gateway_json_buf_t jb;
    gateway_json_buf_init (&jb);
    msgpack_sbuffer mp;
    msgpack_sbuffer_init (&mp);
    int ok = 0;
    rng_state = 0x2545f4914f6cdd1du;
    for (int iter = 0; iter < 6000; iter++) {
        size_t len = rng () % 48;
        uint8_t *b = malloc (len ? len : 1);
        for (size_t i = 0; i < len; i++)
            b[i] = rng () % 3 ? common[rng () % sizeof common] : (uint8_t) rng ();
        gateway_json_buf_reset (&jb);
        int rc = gateway_json_from_mp (b, len, 8, &jb);
        if (rc == 0) {
            ok++;
            mp.size = 0;
            rc = gateway_json_to_mp (jb.data, jb.len, 8, &mp, errbuf, sizeof errbuf);
            ck_assert_msg (rc == 0 || strstr (errbuf, "duplicate key"),
                           "from_mp wrote JSON to_mp rejects: %s (%s)", jb.data, errbuf);
        }
        else
            ck_assert_msg (rc == -EBADMSG || rc == -EMSGSIZE || rc == -ELOOP
                           || rc == -EINVAL, "rc %d", rc);
        free (b);
    }
    ck_assert_int_gt (ok, 100);
    gateway_json_buf_free (&jb);
    msgpack_sbuffer_destroy (&mp);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("gateway_json");
    TCase *tc = tcase_create ("json");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_scalars);
    tcase_add_test (tc, test_containers);
    tcase_add_test (tc, test_container_sizes);
    tcase_add_test (tc, test_appends);
    tcase_add_test (tc, test_big_integers);
    tcase_add_test (tc, test_floats);
    tcase_add_test (tc, test_strings);
    tcase_add_test (tc, test_invalid_json);
    tcase_add_test (tc, test_error_positions);
    tcase_add_test (tc, test_depth_limit);
    tcase_add_test (tc, test_duplicate_keys);
    tcase_add_test (tc, test_from_mp_types);
    tcase_add_test (tc, test_from_mp_errors);
    tcase_add_test (tc, test_buf);
    tcase_add_test (tc, test_random_json);
    tcase_add_test (tc, test_random_msgpack);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
