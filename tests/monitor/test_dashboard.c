/*  Tests for the dashboard page compiled into the gateway: it is exactly
 *  services/gateway/dashboard.html (regenerate gateway_dashboard.c with
 *  services/gateway/dashboard-embed.sh), it fetches only the gateway's own
 *  routes (no CDN, nothing external), and it has the charts the
 *  integration test looks for. (tests/integration/test_monitor.c opens it
 *  in headless Chromium.) */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsn_harness.h"
#include "hsn_test.h"
#include "gateway/gateway_dashboard.h"

/*  The page's source: from the working directory (make runs tests from the
 *  repository), else from the directories above the test binary. */
static char *
read_source (size_t *len)
{
    const char *rel = "services/gateway/dashboard.html";
    char *text = hsn_read_file (rel, len);
    if (text)
        return text;
    char dir[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", dir, sizeof dir - 1);
    ck_assert_int_gt (n, 0);
    dir[n] = '\0';
    char *slash;
    while (!text && (slash = strrchr (dir, '/')) && slash != dir) {
        *slash = '\0';
        char path[PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/%s", dir, rel);
        text = hsn_read_file (path, len);
    }
    ck_assert_msg (text != NULL, "cannot find %s", rel);
    return text;
}

START_TEST (embedded_page_is_the_source)
{
    size_t len;
    char *src = read_source (&len);
    ck_assert_msg (len == gateway_dashboard_len
                   && memcmp (src, gateway_dashboard_html, len) == 0,
                   "gateway_dashboard.c is stale: run sh services/gateway/dashboard-embed.sh");
    free (src);
}
END_TEST

START_TEST (page_is_self_contained)
{
    const char *page = gateway_dashboard_html;
    ck_assert_uint_eq (strlen (page), gateway_dashboard_len);
    static const char *const banned[] = { "http://", "https://", "<script src", "<link",
                                          "@import", "url(" };
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        ck_assert_msg (!strstr (page, banned[i]), "the page refers outside: %s", banned[i]);
    static const char *const wanted[] = {
        "/api/optimization/health", "/api/optimization/summary", "/api/optimization/metrics",
        "/api/optimization/recommendations", "data-chart=\"latency\"",
        "data-chart=\"throughput\"", "data-chart=\"hitrate\"", "data-chart=\"queue\"",
        "data-drawn", "data-service", "X-API-Key",
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        ck_assert_msg (strstr (page, wanted[i]), "the page lacks %s", wanted[i]);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("dashboard");
    TCase *tc = tcase_create ("dashboard");
    tcase_add_test (tc, embedded_page_is_the_source);
    tcase_add_test (tc, page_is_self_contained);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
