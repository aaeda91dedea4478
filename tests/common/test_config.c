/*  Tests for hsn_config: every accept and reject case, and that messages
 *  name the variable and the value. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_config.h"
#include "tests/harness/hsn_test.h"

#define VAR "HSN_TEST_CONFIG_VAR"

static char err[256];

/*  Set VAR (NULL unsets it) and clear the error buffer. */
static void
given (const char *value)
{
    if (value)
        setenv (VAR, value, 1);
    else
        unsetenv (VAR);
    strcpy (err, "untouched");
}

START_TEST (test_int_default)
{
    long long v = 7;
    given (NULL);
    ck_assert_int_eq (hsn_config_int (VAR, 42, 1, 100, &v, err, sizeof err), 0);
    ck_assert_int_eq (v, 42);
    given ("");
    v = 7;
    ck_assert_int_eq (hsn_config_int (VAR, 42, 1, 100, &v, err, sizeof err), 0);
    ck_assert_int_eq (v, 42);
    ck_assert_str_eq (err, "untouched");
}
END_TEST

START_TEST (test_int_accept)
{
    static const struct { const char *s; long long v; } cases[] = {
        { "1", 1 }, { "100", 100 }, { "+5", 5 }, { "007", 7 },
        { "-3", -3 }, { "0", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long v = 0;
        given (cases[i].s);
        ck_assert_int_eq (hsn_config_int (VAR, 9, -3, 100, &v, err,
                                          sizeof err), 0);
        ck_assert_int_eq (v, cases[i].v);
    }
    long long v = 0;
    given ("9223372036854775807");
    ck_assert_int_eq (hsn_config_int (VAR, 0, 0, LLONG_MAX, &v, err,
                                      sizeof err), 0);
    ck_assert (v == LLONG_MAX);
}
END_TEST

START_TEST (test_int_reject)
{
    static const char *const bad[] = {
        "-4", "101", "12abc", "abc", " 5", "5 ", "0x10", "1.5", "-",
        "99999999999999999999", "-99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long v = 77;
        given (bad[i]);
        ck_assert_int_eq (hsn_config_int (VAR, 9, -3, 100, &v, err,
                                          sizeof err), -EINVAL);
        ck_assert_int_eq (v, 77);
        char want[128];
        snprintf (want, sizeof want,
                  "invalid " VAR " '%s': must be -3..100", bad[i]);
        ck_assert_str_eq (err, want);
    }
}
END_TEST

START_TEST (test_int_message_example)
{
    long long v = 0;
    setenv ("CACHE_MAX_SIZE", "-1", 1);
    ck_assert_int_eq (hsn_config_int ("CACHE_MAX_SIZE", 1000, 1, 100000000,
                                      &v, err, sizeof err), -EINVAL);
    ck_assert_str_eq (err, "invalid CACHE_MAX_SIZE '-1': must be 1..100000000");
    unsetenv ("CACHE_MAX_SIZE");
}
END_TEST

START_TEST (test_err_optional_and_truncated)
{
    long long v = 0;
    given ("junk");
    ck_assert_int_eq (hsn_config_int (VAR, 1, 0, 9, &v, NULL, 0), -EINVAL);
    char small[12];
    ck_assert_int_eq (hsn_config_int (VAR, 1, 0, 9, &v, small, sizeof small),
                      -EINVAL);
    ck_assert_str_eq (small, "invalid HSN");

    /*  A huge value is cut in the message so the reason still shows. */
    char big[300];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    given (big);
    const char *s = "def";
    ck_assert_int_eq (hsn_config_str (VAR, "def", 10, &s, err, sizeof err),
                      -EINVAL);
    ck_assert_str_eq (s, "def");
    ck_assert_ptr_nonnull (strstr (err, "...': must be at most 10 bytes"));
    ck_assert_ptr_nonnull (strstr (err, VAR));
}
END_TEST

START_TEST (test_bool)
{
    static const char *const yes[] = { "true", "TRUE", "1", "yes", "Yes", "on", "ON" };
    static const char *const no[] = { "false", "False", "0", "no", "NO", "off", "Off" };
    bool b;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        given (yes[i]);
        b = false;
        ck_assert_int_eq (hsn_config_bool (VAR, false, &b, err, sizeof err), 0);
        ck_assert (b);
        given (no[i]);
        b = true;
        ck_assert_int_eq (hsn_config_bool (VAR, true, &b, err, sizeof err), 0);
        ck_assert (!b);
    }
    given (NULL);
    ck_assert_int_eq (hsn_config_bool (VAR, true, &b, err, sizeof err), 0);
    ck_assert (b);
    given ("");
    ck_assert_int_eq (hsn_config_bool (VAR, false, &b, err, sizeof err), 0);
    ck_assert (!b);

    static const char *const bad[] = { "maybe", "2", "y", "truee", " true" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        given (bad[i]);
        b = true;
        ck_assert_int_eq (hsn_config_bool (VAR, false, &b, err, sizeof err),
                          -EINVAL);
        ck_assert (b);
        char want[128];
        snprintf (want, sizeof want,
                  "invalid " VAR " '%s': must be true or false", bad[i]);
        ck_assert_str_eq (err, want);
    }
    setenv ("ENABLE_COMPRESSION", "maybe", 1);
    ck_assert_int_eq (hsn_config_bool ("ENABLE_COMPRESSION", false, &b, err,
                                       sizeof err), -EINVAL);
    ck_assert_str_eq (err,
        "invalid ENABLE_COMPRESSION 'maybe': must be true or false");
    unsetenv ("ENABLE_COMPRESSION");
}
END_TEST

START_TEST (test_double)
{
    double d = 0;
    given (NULL);
    ck_assert_int_eq (hsn_config_double (VAR, 0.5, 0, 1, &d, err, sizeof err), 0);
    ck_assert (d == 0.5);

    static const struct { const char *s; double v; } ok[] = {
        { "0", 0 }, { "1", 1 }, { "0.25", 0.25 }, { "2.5e-1", 0.25 },
        { "+.5", 0.5 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        given (ok[i].s);
        d = -1;
        ck_assert_int_eq (hsn_config_double (VAR, 0.5, 0, 1, &d, err,
                                             sizeof err), 0);
        ck_assert (d == ok[i].v);
    }

    static const char *const bad[] = {
        "1.01", "-0.1", "nan", "NaN", "inf", "-inf", "0.5x", "x", " 0.5",
        "1e999", "1e-999", ".",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        given (bad[i]);
        d = 42;
        ck_assert_int_eq (hsn_config_double (VAR, 0.5, 0, 1, &d, err,
                                             sizeof err), -EINVAL);
        ck_assert (d == 42);
        char want[128];
        snprintf (want, sizeof want, "invalid " VAR " '%s': must be 0..1",
                  bad[i]);
        ck_assert_str_eq (err, want);
    }
    given ("1e300");
    ck_assert_int_eq (hsn_config_double (VAR, 0, 0, DBL_MAX, &d, err,
                                         sizeof err), 0);
    ck_assert (d == 1e300);
}
END_TEST

START_TEST (test_str)
{
    const char *s = NULL;
    given (NULL);
    ck_assert_int_eq (hsn_config_str (VAR, "dflt", 8, &s, err, sizeof err), 0);
    ck_assert_str_eq (s, "dflt");
    given ("");
    s = NULL;
    ck_assert_int_eq (hsn_config_str (VAR, NULL, 8, &s, err, sizeof err), 0);
    ck_assert_ptr_null (s);

    given ("12345678");
    ck_assert_int_eq (hsn_config_str (VAR, "dflt", 8, &s, err, sizeof err), 0);
    ck_assert_str_eq (s, "12345678");
    ck_assert_ptr_eq (s, getenv (VAR));

    given ("123456789");
    s = "kept";
    ck_assert_int_eq (hsn_config_str (VAR, "dflt", 8, &s, err, sizeof err),
                      -EINVAL);
    ck_assert_str_eq (s, "kept");
    ck_assert_str_eq (err,
        "invalid " VAR " '123456789': must be at most 8 bytes");
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_config");
    TCase *tc = tcase_create ("config");
    tcase_add_test (tc, test_int_default);
    tcase_add_test (tc, test_int_accept);
    tcase_add_test (tc, test_int_reject);
    tcase_add_test (tc, test_int_message_example);
    tcase_add_test (tc, test_err_optional_and_truncated);
    tcase_add_test (tc, test_bool);
    tcase_add_test (tc, test_double);
    tcase_add_test (tc, test_str);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
