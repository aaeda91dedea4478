/*  hsn_time: monotonic clocks for deadlines and latency. */
#ifndef HSN_TIME_H
#define HSN_TIME_H

#include <stdint.h>
#include <time.h>

/*  Microseconds on CLOCK_MONOTONIC: for latency and deadlines, never dates. */
static inline int64_t
hsn_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t
hsn_now_ms (void)
{
    return hsn_now_us () / 1000;
}

#endif
