/*  hsn_proc: what this process uses and may use, for heartbeats.
 *
 *  CPU use is measured between two samples; memory use is the resident set.
 *  Limits come from the cgroup the process runs in (what the container
 *  runtime enforces), falling back to the machine's size.
 *  Linux only: reads /proc and /sys/fs/cgroup.
 */
#ifndef HSN_PROC_H
#define HSN_PROC_H

#include <stdint.h>

typedef struct {
    uint64_t utime_ticks;       /* user CPU, clock ticks */
    uint64_t stime_ticks;       /* system CPU, clock ticks */
    uint64_t wall_us;           /* CLOCK_MONOTONIC, microseconds */
} hsn_proc_cpu_t;

/*  Sample this process's CPU time (/proc/self/stat) and the monotonic
 *  clock. Returns 0, or a negative errno (-EIO when the file is garbled). */
int hsn_proc_cpu_sample (hsn_proc_cpu_t *out);

/*  CPU used between samples a and b (a taken first), in percent of ONE
 *  core: 250 means two and a half cores busy. 0 when no wall time passed
 *  or b does not follow a. */
double hsn_proc_cpu_percent (const hsn_proc_cpu_t *a, const hsn_proc_cpu_t *b);

/*  Resident set size in bytes (/proc/self/statm). Returns 0 or a negative
 *  errno. */
int hsn_proc_rss (uint64_t *bytes);

/*  Memory this process may use, in bytes: the cgroup v2 limit
 *  (/sys/fs/cgroup/memory.max), else the cgroup v1 limit
 *  (/sys/fs/cgroup/memory/memory.limit_in_bytes), else MemTotal from
 *  /proc/meminfo. "max", or a limit above MemTotal (v1's way of saying
 *  unlimited), means MemTotal. Returns 0 or a negative errno. */
int hsn_proc_mem_limit (uint64_t *bytes);

/*  CPU cores this process may use, possibly fractional: the cgroup v2 quota
 *  (/sys/fs/cgroup/cpu.max, "quota period"), else the cgroup v1 CFS quota
 *  (cpu.cfs_quota_us / cpu.cfs_period_us), never more than the CPUs the
 *  process may run on (as nproc counts them). Returns 0 or a negative
 *  errno. */
int hsn_proc_cpu_limit (double *cores);

#endif
