/*  Tests for hsn_proc: the numbers exist and move the right way. No timing
 *  assertions: CPU use is driven by a condition, not by a clock. */
#include <errno.h>
#include <unistd.h>

#include "hsn_proc.h"
#include "tests/harness/hsn_test.h"

START_TEST (test_rss)
{
    uint64_t rss = 0;
    ck_assert_int_eq (hsn_proc_rss (&rss), 0);
    ck_assert (rss > 0);
    ck_assert (rss % (uint64_t) sysconf (_SC_PAGESIZE) == 0);
}
END_TEST

START_TEST (test_mem_limit)
{
    uint64_t limit = 0, rss = 0;
    ck_assert_int_eq (hsn_proc_mem_limit (&limit), 0);
    ck_assert_int_eq (hsn_proc_rss (&rss), 0);
    ck_assert (limit > 0);
    ck_assert (limit >= rss);
    /*  Never the "unlimited" sentinel of cgroup v1. */
    ck_assert (limit < (UINT64_C (1) << 62));
}
END_TEST

START_TEST (test_cpu_limit)
{
    double cores = 0;
    ck_assert_int_eq (hsn_proc_cpu_limit (&cores), 0);
    ck_assert (cores > 0);
    ck_assert (cores <= (double) sysconf (_SC_NPROCESSORS_CONF));
}
END_TEST

START_TEST (test_cpu_percent_math)
{
    double hz = (double) sysconf (_SC_CLK_TCK);
    hsn_proc_cpu_t a = { 0, 0, 1000000 };
    hsn_proc_cpu_t b = { (uint64_t) hz, (uint64_t) hz / 2, 2000000 };
    /*  1.5 s of CPU in 1 s of wall time: one and a half cores. */
    ck_assert_double_eq_tol (hsn_proc_cpu_percent (&a, &b), 150.0, 1e-9);
    /*  Reversed or simultaneous samples give 0, not nonsense. */
    ck_assert_double_eq (hsn_proc_cpu_percent (&b, &a), 0.0);
    ck_assert_double_eq (hsn_proc_cpu_percent (&a, &a), 0.0);
}
END_TEST

static volatile uint64_t s_sink;

START_TEST (test_cpu_rises_when_busy)
{
    hsn_proc_cpu_t a, b;
    ck_assert_int_eq (hsn_proc_cpu_sample (&a), 0);
    /*  Burn CPU until the kernel has charged us at least one more tick. */
    do {
        for (int i = 0; i < 1000000; i++)
            s_sink = s_sink * 6364136223846793005ULL + 1442695040888963407ULL;
        ck_assert_int_eq (hsn_proc_cpu_sample (&b), 0);
    } while (b.utime_ticks + b.stime_ticks == a.utime_ticks + a.stime_ticks);
    ck_assert (b.utime_ticks + b.stime_ticks > a.utime_ticks + a.stime_ticks);
    ck_assert (b.wall_us > a.wall_us);
    ck_assert (hsn_proc_cpu_percent (&a, &b) > 0);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("hsn_proc");
    TCase *tc = tcase_create ("proc");
    tcase_add_test (tc, test_rss);
    tcase_add_test (tc, test_mem_limit);
    tcase_add_test (tc, test_cpu_limit);
    tcase_add_test (tc, test_cpu_percent_math);
    tcase_add_test (tc, test_cpu_rises_when_busy);
    tcase_set_timeout (tc, 60);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
