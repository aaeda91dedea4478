/*  Tests for hsn_url_redis: the REDIS_URL forms it accepts, with their
 *  defaults, and every rejection leaving the outputs untouched. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hsn_url.h"
#include "tests/harness/hsn_test.h"

/*  streq without czmq. */
#ifndef streq
#define streq(a, b) (strcmp ((a), (b)) == 0)
#endif

/*  Outputs, reset to sentinels before each parse. */
static char host[64];
static char pass[32];
static int port, db;

static int
parse (const char *url)
{
    strcpy (host, "HOST-SENTINEL");
    strcpy (pass, "PASS-SENTINEL");
    port = -7;
    db = -9;
    return hsn_url_redis (url, host, sizeof host, &port, &db, pass, sizeof pass);
}

/*  The url is refused and not a single output was written. */
static void
assert_rejected (const char *url)
{
    ck_assert_msg (parse (url) == -EINVAL, "accepted '%s'", url);
    ck_assert_msg (streq (host, "HOST-SENTINEL"), "'%s' wrote host '%s'", url, host);
    ck_assert_msg (streq (pass, "PASS-SENTINEL"), "'%s' wrote password '%s'", url, pass);
    ck_assert_msg (port == -7, "'%s' wrote port %d", url, port);
    ck_assert_msg (db == -9, "'%s' wrote db %d", url, db);
}

START_TEST (defaults_port_6379_db_0_no_password)
{
    ck_assert_int_eq (parse ("redis://localhost"), 0);
    ck_assert_str_eq (host, "localhost");
    ck_assert_int_eq (port, 6379);
    ck_assert_int_eq (db, 0);
    ck_assert_str_eq (pass, "");

    /*  A trailing slash with no db is db 0. */
    ck_assert_int_eq (parse ("redis://cache.internal/"), 0);
    ck_assert_str_eq (host, "cache.internal");
    ck_assert_int_eq (port, 6379);
    ck_assert_int_eq (db, 0);
}
END_TEST

START_TEST (port_and_db)
{
    ck_assert_int_eq (parse ("redis://127.0.0.1:6380"), 0);
    ck_assert_str_eq (host, "127.0.0.1");
    ck_assert_int_eq (port, 6380);
    ck_assert_int_eq (db, 0);

    ck_assert_int_eq (parse ("redis://h:1/15"), 0);
    ck_assert_str_eq (host, "h");
    ck_assert_int_eq (port, 1);
    ck_assert_int_eq (db, 15);

    ck_assert_int_eq (parse ("redis://h:65535/0"), 0);
    ck_assert_int_eq (port, 65535);
    ck_assert_int_eq (db, 0);

    ck_assert_int_eq (parse ("redis://redis/3"), 0);
    ck_assert_str_eq (host, "redis");
    ck_assert_int_eq (port, 6379);
    ck_assert_int_eq (db, 3);
}
END_TEST

START_TEST (password_forms)
{
    ck_assert_int_eq (parse ("redis://:s3cret@db.example:7000/2"), 0);
    ck_assert_str_eq (pass, "s3cret");
    ck_assert_str_eq (host, "db.example");
    ck_assert_int_eq (port, 7000);
    ck_assert_int_eq (db, 2);

    /*  user:password: the user part is not the password. */
    ck_assert_int_eq (parse ("redis://default:pw@h"), 0);
    ck_assert_str_eq (pass, "pw");
    ck_assert_str_eq (host, "h");
    ck_assert_int_eq (port, 6379);

    /*  An empty password is no password. */
    ck_assert_int_eq (parse ("redis://:@h:6380"), 0);
    ck_assert_str_eq (pass, "");
    ck_assert_str_eq (host, "h");
    ck_assert_int_eq (port, 6380);

    /*  The longest password that fits the caller's buffer (31 + NUL). */
    char url[128], want[32];
    memset (want, 'p', 31);
    want[31] = '\0';
    snprintf (url, sizeof url, "redis://:%s@h", want);
    ck_assert_int_eq (parse (url), 0);
    ck_assert_str_eq (pass, want);

    /*  A caller that does not want the password may pass NULL, 0. */
    char h[16];
    int p = 0, d = -1;
    ck_assert_int_eq (hsn_url_redis ("redis://h:99/4", h, sizeof h, &p, &d, NULL, 0), 0);
    ck_assert_str_eq (h, "h");
    ck_assert_int_eq (p, 99);
    ck_assert_int_eq (d, 4);
}
END_TEST

START_TEST (rejects_wrong_scheme)
{
    assert_rejected ("");
    assert_rejected ("localhost:6379");
    assert_rejected ("http://localhost");
    assert_rejected ("rediss://localhost");
    assert_rejected ("redis:/localhost");
    assert_rejected ("redis:localhost");
    assert_rejected (" redis://localhost");
}
END_TEST

START_TEST (rejects_empty_host)
{
    assert_rejected ("redis://");
    assert_rejected ("redis:///");
    assert_rejected ("redis:///1");
    assert_rejected ("redis://:6379");
    assert_rejected ("redis://:pw@");
    assert_rejected ("redis://:pw@:6379");
    assert_rejected ("redis://:pw@/0");
}
END_TEST

START_TEST (rejects_bad_port)
{
    assert_rejected ("redis://h:0");
    assert_rejected ("redis://h:65536");
    assert_rejected ("redis://h:99999");
    assert_rejected ("redis://h:4294967297");     /* would wrap a 32-bit int */
    assert_rejected ("redis://h:");
    assert_rejected ("redis://h:/1");
    assert_rejected ("redis://h:abc");
    assert_rejected ("redis://h:63a9");
    assert_rejected ("redis://h:-1");
    assert_rejected ("redis://h:+6379");
    assert_rejected ("redis://h: 6379");
    assert_rejected ("redis://h:6379:1");
}
END_TEST

START_TEST (rejects_bad_db)
{
    assert_rejected ("redis://h/x");
    assert_rejected ("redis://h/1x");
    assert_rejected ("redis://h/-1");
    assert_rejected ("redis://h/+1");
    assert_rejected ("redis://h/ 1");
    assert_rejected ("redis://h/1/2");
    assert_rejected ("redis://h:6379/0x1");
    assert_rejected ("redis://h/99999999999");
}
END_TEST

START_TEST (rejects_host_or_password_too_long)
{
    /*  host[] holds 63 bytes and the NUL. */
    char url[256], name[80];
    memset (name, 'a', 63);
    name[63] = '\0';
    snprintf (url, sizeof url, "redis://%s:6379", name);
    ck_assert_int_eq (parse (url), 0);
    ck_assert_str_eq (host, name);

    memset (name, 'a', 64);
    name[64] = '\0';
    snprintf (url, sizeof url, "redis://%s:6379", name);
    assert_rejected (url);
    snprintf (url, sizeof url, "redis://%s", name);
    assert_rejected (url);

    /*  pass[] holds 31 bytes and the NUL. */
    memset (name, 'p', 32);
    name[32] = '\0';
    snprintf (url, sizeof url, "redis://:%s@h", name);
    assert_rejected (url);

    /*  Tiny caller buffers: host "ab" needs 3 bytes. */
    char h2[2] = "x";
    int p = -1, d = -1;
    ck_assert_int_eq (hsn_url_redis ("redis://ab", h2, sizeof h2, &p, &d, NULL, 0), -EINVAL);
    ck_assert_str_eq (h2, "x");
    ck_assert_int_eq (p, -1);
    ck_assert_int_eq (d, -1);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("url");
    TCase *tc = tcase_create ("redis");
    tcase_add_test (tc, defaults_port_6379_db_0_no_password);
    tcase_add_test (tc, port_and_db);
    tcase_add_test (tc, password_forms);
    tcase_add_test (tc, rejects_wrong_scheme);
    tcase_add_test (tc, rejects_empty_host);
    tcase_add_test (tc, rejects_bad_port);
    tcase_add_test (tc, rejects_bad_db);
    tcase_add_test (tc, rejects_host_or_password_too_long);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
