/*  hsn_test: the one main every Check test binary uses.
 *
 *  A test file defines `static Suite *suite (void)` and ends with
 *  HSN_TEST_MAIN (suite). The binary exits 0 only when every test passed.
 *  CK_FORK stays on (Check's default), so a crashing test fails alone.
 */
#ifndef HSN_TEST_H
#define HSN_TEST_H

#include <check.h>
#include <stdlib.h>

#define HSN_TEST_MAIN(suite_fn)                                               \
    int main (void)                                                           \
    {                                                                         \
        SRunner *sr = srunner_create (suite_fn ());                           \
        srunner_run_all (sr, CK_NORMAL);                                      \
        int failed = srunner_ntests_failed (sr);                              \
        srunner_free (sr);                                                    \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                     \
    }

#endif
