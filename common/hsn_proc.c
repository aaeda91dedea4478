/*  hsn_proc: process self-measurement. See hsn_proc.h. */
#include "hsn_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*  Read a small file whole into buf as a C string. Plain read(2): these
 *  files are generated on read, and stdio would only add an allocation. */
static int
read_file (const char *path, char *buf, size_t size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read (fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = -errno;
            close (fd);
            return rc;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    close (fd);
    buf[len] = '\0';
    return 0;
}

/*  Parse an unsigned decimal at s; *end after it. */
static int
parse_u64 (const char *s, char **end, uint64_t *out)
{
    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return -EIO;
    errno = 0;
    unsigned long long v = strtoull (s, end, 10);
    if (errno == ERANGE)
        return -EIO;
    *out = v;
    return 0;
}

int
hsn_proc_cpu_sample (hsn_proc_cpu_t *out)
{
    char buf[1024];
    int rc = read_file ("/proc/self/stat", buf, sizeof buf);
    if (rc)
        return rc;
    /*  Field 2, the command name, is in parentheses and may hold spaces and
     *  parentheses itself: count fields from the last ')'. After it come
     *  state (3) and ten more fields before utime (14) and stime (15). */
    char *p = strrchr (buf, ')');
    if (!p)
        return -EIO;
    p++;
    for (int field = 3; field < 14; field++) {
        while (*p == ' ')
            p++;
        p = strchr (p, ' ');
        if (!p)
            return -EIO;
    }
    uint64_t utime, stime;
    if (parse_u64 (p, &p, &utime) || parse_u64 (p, &p, &stime))
        return -EIO;
    struct timespec ts;
    if (clock_gettime (CLOCK_MONOTONIC, &ts))
        return -errno;
    out->utime_ticks = utime;
    out->stime_ticks = stime;
    out->wall_us = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
    return 0;
}

double
hsn_proc_cpu_percent (const hsn_proc_cpu_t *a, const hsn_proc_cpu_t *b)
{
    uint64_t ticks_a = a->utime_ticks + a->stime_ticks;
    uint64_t ticks_b = b->utime_ticks + b->stime_ticks;
    long hz = sysconf (_SC_CLK_TCK);
    if (b->wall_us <= a->wall_us || ticks_b < ticks_a || hz <= 0)
        return 0;
    double cpu_s = (double) (ticks_b - ticks_a) / (double) hz;
    double wall_s = (double) (b->wall_us - a->wall_us) / 1e6;
    return 100.0 * cpu_s / wall_s;
}

int
hsn_proc_rss (uint64_t *bytes)
{
    char buf[256];
    int rc = read_file ("/proc/self/statm", buf, sizeof buf);
    if (rc)
        return rc;
    /*  "size resident shared ...", in pages. */
    char *p;
    uint64_t size, resident;
    if (parse_u64 (buf, &p, &size) || parse_u64 (p, &p, &resident))
        return -EIO;
    long page = sysconf (_SC_PAGESIZE);
    if (page <= 0)
        return -EIO;
    *bytes = resident * (uint64_t) page;
    return 0;
}

static int
mem_total (uint64_t *bytes)
{
    char buf[4096];
    int rc = read_file ("/proc/meminfo", buf, sizeof buf);
    if (rc)
        return rc;
    char *p = strstr (buf, "MemTotal:");
    uint64_t kb;
    if (!p || parse_u64 (p + strlen ("MemTotal:"), &p, &kb) || kb == 0)
        return -EIO;
    *bytes = kb * 1024;
    return 0;
}

/*  A cgroup file holding one number; -ENOENT when absent or "max"
 *  (unlimited), -EIO when unreadable as a number. */
static int
read_limit (const char *path, uint64_t *out)
{
    char buf[64];
    int rc = read_file (path, buf, sizeof buf);
    if (rc)
        return rc;
    if (strncmp (buf, "max", 3) == 0)
        return -ENOENT;
    char *end;
    return parse_u64 (buf, &end, out);
}

int
hsn_proc_mem_limit (uint64_t *bytes)
{
    uint64_t total = 0, limit = 0;
    bool have_total = mem_total (&total) == 0;
    bool have_limit
        = read_limit ("/sys/fs/cgroup/memory.max", &limit) == 0
       || read_limit ("/sys/fs/cgroup/memory/memory.limit_in_bytes", &limit) == 0;
    /*  v1 reports "unlimited" as a huge page-aligned number: anything above
     *  the machine's memory is no limit at all. */
    if (have_limit && limit > 0 && (!have_total || limit < total))
        *bytes = limit;
    else if (have_total)
        *bytes = total;
    else
        return -ENOENT;
    return 0;
}

/*  CPUs this process may run on, as nproc(1) counts them. */
static double
usable_cpus (void)
{
    cpu_set_t set;
    if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
        return CPU_COUNT (&set);
    long n = sysconf (_SC_NPROCESSORS_ONLN);
    return n > 0 ? (double) n : 1;
}

/*  The cgroup CPU quota in cores, or 0 when there is none. */
static double
cgroup_cpu_quota (void)
{
    char buf[64];
    uint64_t quota, period;
    char *p;
    if (read_file ("/sys/fs/cgroup/cpu.max", buf, sizeof buf) == 0) {
        /*  "max 100000" when unlimited: parse_u64 refuses "max". */
        if (parse_u64 (buf, &p, &quota) == 0 && parse_u64 (p, &p, &period) == 0
            && quota > 0 && period > 0)
            return (double) quota / (double) period;
        return 0;
    }
    /*  v1: a quota of -1 means unlimited, which read_limit refuses. */
    if (read_limit ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", &quota) == 0
        && read_limit ("/sys/fs/cgroup/cpu/cpu.cfs_period_us", &period) == 0
        && quota > 0 && period > 0)
        return (double) quota / (double) period;
    return 0;
}

int
hsn_proc_cpu_limit (double *cores)
{
    double cpus = usable_cpus ();
    double quota = cgroup_cpu_quota ();
    *cores = quota > 0 && quota < cpus ? quota : cpus;
    return 0;
}
