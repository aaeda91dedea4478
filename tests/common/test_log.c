/*  Tests for hsn_log: line shape, JSON escaping, level filtering, extra
 *  fields, and one whole line per call even from several threads. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_log.h"
#include "tests/harness/hsn_test.h"

static char *s_buf;
static size_t s_len;
static FILE *s_mem;

/*  Capture log output in memory. Each test runs in its own process
 *  (CK_FORK), so global logger state does not leak between tests. */
static void
capture (void)
{
    s_mem = open_memstream (&s_buf, &s_len);
    ck_assert_ptr_nonnull (s_mem);
    hsn_log_set_stream (s_mem);
}

/*  Stop capturing; returns the text written (owned by the test). */
static char *
captured (void)
{
    hsn_log_set_stream (NULL);
    fclose (s_mem);
    return s_buf;
}

/*  The line without its timestamp value, which changes every call. */
static const char *
after_ts (const char *line)
{
    ck_assert_msg (strncmp (line, "{\"ts\":\"", 7) == 0, "line: %s", line);
    const char *ts = line + 7;
    /*  2026-11-26T22:14:00.123Z */
    ck_assert_int_eq (strlen (ts) > 24, 1);
    ck_assert (ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':'
               && ts[16] == ':' && ts[19] == '.' && ts[23] == 'Z');
    return ts + 24;
}

START_TEST (test_line_shape)
{
    hsn_log_init ("cache", "host:123", HSN_LOG_INFO);
    capture ();
    hsn_log (HSN_LOG_INFO, "started", "hello %d", 42);
    char *out = captured ();
    ck_assert_str_eq (after_ts (out),
        "\",\"level\":\"info\",\"service\":\"cache\",\"replica\":\"host:123\","
        "\"event\":\"started\",\"msg\":\"hello 42\"}\n");
    free (out);
}
END_TEST

START_TEST (test_escaping)
{
    hsn_log_init ("q\"s", "r\\1", HSN_LOG_DEBUG);
    capture ();
    hsn_log (HSN_LOG_ERROR, "ev\n", "a\"b\\c\nd\te\x01\x1f caf\xc3\xa9 %s", "/");
    char *out = captured ();
    ck_assert_str_eq (after_ts (out),
        "\",\"level\":\"error\",\"service\":\"q\\\"s\",\"replica\":\"r\\\\1\","
        "\"event\":\"ev\\u000a\",\"msg\":\"a\\\"b\\\\c\\u000ad\\u0009e"
        "\\u0001\\u001f caf\xc3\xa9 /\"}\n");
    free (out);
}
END_TEST

START_TEST (test_level_filter)
{
    hsn_log_init ("svc", "r", HSN_LOG_WARN);
    ck_assert (!hsn_log_enabled (HSN_LOG_DEBUG));
    ck_assert (!hsn_log_enabled (HSN_LOG_INFO));
    ck_assert (hsn_log_enabled (HSN_LOG_WARN));
    ck_assert (hsn_log_enabled (HSN_LOG_ERROR));
    capture ();
    hsn_log (HSN_LOG_DEBUG, "d", "no");
    hsn_log (HSN_LOG_INFO, "i", "no");
    hsn_log (HSN_LOG_WARN, "w", "yes");
    hsn_log (HSN_LOG_ERROR, "e", "yes");
    char *out = captured ();
    ck_assert_ptr_null (strstr (out, "\"msg\":\"no\""));
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"warn\""));
    ck_assert_ptr_nonnull (strstr (out, "\"level\":\"error\""));
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq (lines, 2);
    free (out);
}
END_TEST

START_TEST (test_default_level_is_info)
{
    ck_assert (!hsn_log_enabled (HSN_LOG_DEBUG));
    ck_assert (hsn_log_enabled (HSN_LOG_INFO));
}
END_TEST

START_TEST (test_level_parse)
{
    hsn_log_level_t l = HSN_LOG_ERROR;
    ck_assert_int_eq (hsn_log_level_parse ("debug", &l), 0);
    ck_assert_int_eq (l, HSN_LOG_DEBUG);
    ck_assert_int_eq (hsn_log_level_parse ("INFO", &l), 0);
    ck_assert_int_eq (l, HSN_LOG_INFO);
    ck_assert_int_eq (hsn_log_level_parse ("warn", &l), 0);
    ck_assert_int_eq (l, HSN_LOG_WARN);
    l = HSN_LOG_DEBUG;
    ck_assert_int_eq (hsn_log_level_parse ("Warning", &l), 0);
    ck_assert_int_eq (l, HSN_LOG_WARN);
    ck_assert_int_eq (hsn_log_level_parse ("error", &l), 0);
    ck_assert_int_eq (l, HSN_LOG_ERROR);
    ck_assert_int_eq (hsn_log_level_parse ("fatal", &l), -EINVAL);
    ck_assert_int_eq (hsn_log_level_parse ("", &l), -EINVAL);
    ck_assert_int_eq (hsn_log_level_parse (NULL, &l), -EINVAL);
    ck_assert_int_eq (l, HSN_LOG_ERROR);
}
END_TEST

START_TEST (test_kv_fields)
{
    hsn_log_init ("gateway", "g1", HSN_LOG_INFO);
    capture ();
    hsn_log_kv (HSN_LOG_INFO, "request", "\"method\":\"GET\",\"status\":200",
                "took %dus", 15);
    hsn_log_kv (HSN_LOG_INFO, "request", NULL, "none");
    hsn_log_kv (HSN_LOG_INFO, "request", "", "empty");
    char *out = captured ();
    char *second = strchr (out, '\n') + 1;
    char *third = strchr (second, '\n') + 1;
    ck_assert_ptr_nonnull (strstr (out,
        "\"event\":\"request\",\"method\":\"GET\",\"status\":200,"
        "\"msg\":\"took 15us\"}\n"));
    ck_assert_ptr_nonnull (strstr (second,
        "\"event\":\"request\",\"msg\":\"none\"}\n"));
    ck_assert_str_eq (strstr (third, "\"event\""),
        "\"event\":\"request\",\"msg\":\"empty\"}\n");
    free (out);
}
END_TEST

START_TEST (test_long_message_and_errno)
{
    /*  Longer than both on-stack buffers, and each quote doubles. */
    size_t n = 10000;
    char *big = malloc (n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = i % 2 ? '"' : 'x';
    big[n] = '\0';
    capture ();
    errno = EAGAIN;
    hsn_log (HSN_LOG_INFO, "big", "%s", big);
    ck_assert_int_eq (errno, EAGAIN);
    char *out = captured ();
    const char *msg = strstr (out, "\"msg\":\"") + 7;
    ck_assert_uint_eq (strlen (msg), n / 2 + 2 * (n / 2) + 3);
    ck_assert_str_eq (msg + strlen (msg) - 3, "\"}\n");
    ck_assert (strncmp (msg, "x\\\"x\\\"", 6) == 0);
    free (out);
    free (big);
}
END_TEST

#define THREADS 4
#define PER_THREAD 2000

static void *
spam (void *arg)
{
    int id = (int) (intptr_t) arg;
    for (int i = 0; i < PER_THREAD; i++)
        hsn_log (HSN_LOG_INFO, "spam", "thread %d line %d %s", id, i,
                 "padding padding padding padding padding padding padding");
    return NULL;
}

START_TEST (test_threads_whole_lines)
{
    hsn_log_init ("svc", "r", HSN_LOG_INFO);
    FILE *f = tmpfile ();
    ck_assert_ptr_nonnull (f);
    hsn_log_set_stream (f);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq (pthread_create (&t[i], NULL, spam,
                                          (void *) (intptr_t) i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join (t[i], NULL);
    hsn_log_set_stream (NULL);

    rewind (f);
    char line[512];
    int count[THREADS] = { 0 };
    int lines = 0;
    while (fgets (line, sizeof line, f)) {
        lines++;
        const char *rest = after_ts (line);
        int id, seq;
        ck_assert_msg (sscanf (rest,
            "\",\"level\":\"info\",\"service\":\"svc\",\"replica\":\"r\","
            "\"event\":\"spam\",\"msg\":\"thread %d line %d", &id, &seq) == 2,
            "mangled line: %s", line);
        ck_assert (id >= 0 && id < THREADS);
        ck_assert_int_eq (seq, count[id]);    /* in order per thread */
        count[id]++;
        ck_assert_str_eq (line + strlen (line) - 3, "\"}\n");
    }
    ck_assert_int_eq (lines, THREADS * PER_THREAD);
    fclose (f);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_log");
    TCase *tc = tcase_create ("log");
    tcase_add_test (tc, test_line_shape);
    tcase_add_test (tc, test_escaping);
    tcase_add_test (tc, test_level_filter);
    tcase_add_test (tc, test_default_level_is_info);
    tcase_add_test (tc, test_level_parse);
    tcase_add_test (tc, test_kv_fields);
    tcase_add_test (tc, test_long_message_and_errno);
    tcase_add_test (tc, test_threads_whole_lines);
    tcase_set_timeout (tc, 30);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
