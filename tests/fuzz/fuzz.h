/*  What every libFuzzer target here shares: its entry point and CHECK,
 *  which turns a broken invariant into a crash libFuzzer reports. */
#ifndef HSN_FUZZ_H
#define HSN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap ();                                                 \
    } while (0)

#endif
