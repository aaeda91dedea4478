/*  hsn_store_bench: memory per entry and GET latency of the L1 store.
 *
 *      cc -O2 -Icommon -Iservices -o hsn_store_bench bench/hsn_store_bench.c \
 *          common/hsn_store*.c
 *      ./hsn_store_bench [LOOKUPS]
 *
 *  Prints lines of space-separated fields (bench/scenarios/20-cache-l1.sh
 *  turns them into result rows):
 *
 *      mem ENTRIES HEAP_BYTES_PER_ENTRY CHARGED_BYTES_PER_ENTRY
 *      get DIST KEYS P50_NS P99_NS MEAN_NS LOOKUPS MISSES VALUE_BYTES
 *      put KEYS MEAN_NS MAX_NS
 *
 *  mem: 20-byte keys with 100-byte values; heap use is the growth of
 *  mallinfo2 uordblks + hblkhd (small blocks and mmapped ones: the bucket
 *  arrays are large enough to be mmapped), so malloc's own overhead is
 *  included. The keys to insert are built before the first reading.
 *
 *  get: a store holding KEYS entries, then LOOKUPS random hits (DIST
 *  "uniform", or "zipf" with s = 0.99 over a random permutation of the
 *  keys), timed in batches of 1000 with clock_gettime; P50/P99 are over
 *  the per-lookup averages of the batches. Each batch's keys are written
 *  into a small buffer before its timer starts, as a request's key would
 *  be in cache, so the time is the store's alone.
 *
 *  put: the mean and the worst single insert while filling KEYS entries
 *  (each timed alone): a resize that stopped the world would show here. */
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsn_store.h"

#define KLEN    20
#define VLEN    100
#define BATCH   1000

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545f4914f6cdd1dULL;
}

static int64_t
now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*  "bench:k" + 13 digits: 20 bytes, like a short "ns:key". */
static void
make_key (char *out, size_t i)
{
    char buf[KLEN + 1];
    snprintf (buf, sizeof buf, "bench:k%013zu", i);
    memcpy (out, buf, KLEN);
}

static size_t
heap_in_use (void)
{
    struct mallinfo2 mi = mallinfo2 ();
    return mi.uordblks + mi.hblkhd;
}

static hsn_store_t *
new_store (size_t entries)
{
    hsn_store_config_t cfg = { entries, (size_t) 1 << 40, 10 };
    hsn_store_t *s = hsn_store_new (&cfg);
    if (!s) {
        fprintf (stderr, "hsn_store_new failed\n");
        exit (1);
    }
    return s;
}

static const int64_t NOW = 1000000;
static const int64_t EXPIRES = 1000000 + 3600 * 1000;

/*  Fill s with keys 0..n-1 from keys (n * KLEN bytes); worst and mean
 *  single put into *max_ns / *mean_ns when not NULL. */
static void
fill (hsn_store_t *s, const char *keys, size_t n, int64_t *max_ns, double *mean_ns)
{
    uint8_t value[VLEN];
    memset (value, 'v', sizeof value);
    int64_t worst = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t0 = max_ns ? now_ns () : 0;
        int rc = hsn_store_put (s, keys + i * KLEN, KLEN, value, VLEN, NOW, EXPIRES,
                                  NULL, NULL, 0);
        if (max_ns) {
            int64_t dt = now_ns () - t0;
            total += dt;
            if (dt > worst)
                worst = dt;
        }
        if (rc) {
            fprintf (stderr, "put %zu: %d\n", i, rc);
            exit (1);
        }
    }
    if (max_ns) {
        *max_ns = worst;
        *mean_ns = (double) total / (double) n;
    }
}

static char *
make_keys (size_t n)
{
    char *keys = malloc (n * KLEN);
    if (!keys) {
        fprintf (stderr, "out of memory\n");
        exit (1);
    }
    for (size_t i = 0; i < n; i++)
        make_key (keys + i * KLEN, i);
    return keys;
}

static void
bench_mem (size_t n)
{
    char *keys = make_keys (n);
    size_t before = heap_in_use ();
    hsn_store_t *s = new_store (n);
    fill (s, keys, n, NULL, NULL);
    size_t after = heap_in_use ();
    hsn_store_stats_t st;
    hsn_store_stats (s, &st);
    printf ("mem %zu %.1f %.1f\n", n, (double) (after - before) / (double) n,
            (double) st.bytes / (double) n);
    hsn_store_destroy (&s);
    free (keys);
}

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/*  Zipf(s) sampler over ranks 0..n-1 by inverse CDF (built once). */
typedef struct {
    double *cdf;
    size_t *perm;       /* rank -> key, so hot keys are spread over the table */
    size_t n;
} zipf_t;

static void
zipf_init (zipf_t *z, size_t n, double s)
{
    z->n = n;
    z->cdf = malloc (n * sizeof (double));
    z->perm = malloc (n * sizeof (size_t));
    if (!z->cdf || !z->perm) {
        fprintf (stderr, "out of memory\n");
        exit (1);
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += 1.0 / pow ((double) (i + 1), s);
        z->cdf[i] = sum;
        z->perm[i] = i;
    }
    for (size_t i = 0; i < n; i++)
        z->cdf[i] /= sum;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rnd () % (i + 1), t = z->perm[i];
        z->perm[i] = z->perm[j];
        z->perm[j] = t;
    }
}

static size_t
zipf_next (const zipf_t *z)
{
    double u = (double) (rnd () >> 11) / (double) (1ULL << 53);
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return z->perm[lo];
}

static void
bench_get (size_t n, size_t lookups, int zipf)
{
    char *keys = make_keys (n);
    hsn_store_t *s = new_store (n);
    int64_t put_max = 0;
    double put_mean = 0;
    fill (s, keys, n, &put_max, &put_mean);
    if (!zipf)
        printf ("put %zu %.1f %lld\n", n, put_mean, (long long) put_max);
    zipf_t z = { 0 };
    if (zipf)
        zipf_init (&z, n, 0.99);

    size_t batches = lookups / BATCH;
    double *per = malloc (batches * sizeof (double));
    char batch_keys[BATCH * KLEN];
    uint64_t misses = 0, sink = 0;
    double total = 0;
    /*  One untimed pass first: page faults, branch predictors. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t b = 0; b < batches; b++) {
            for (size_t i = 0; i < BATCH; i++) {
                size_t k = zipf ? zipf_next (&z) : rnd () % n;
                memcpy (batch_keys + i * KLEN, keys + k * KLEN, KLEN);
            }
            int64_t t0 = now_ns ();
            for (size_t i = 0; i < BATCH; i++) {
                const uint8_t *v;
                size_t vlen;
                int64_t exp;
                if (hsn_store_get (s, batch_keys + i * KLEN, KLEN, NOW, &v, &vlen, &exp) == 0)
                    sink += vlen;
                else
                    misses++;
            }
            int64_t dt = now_ns () - t0;
            if (pass == 1) {
                per[b] = (double) dt / BATCH;
                total += (double) dt;
            }
        }
    qsort (per, batches, sizeof (double), cmp_double);
    double p50 = per[(batches - 1) / 2];
    double p99 = per[(size_t) ((double) (batches - 1) * 0.99)];
    printf ("get %s %zu %.1f %.1f %.1f %zu %llu %d\n", zipf ? "zipf" : "uniform", n, p50, p99,
            total / (double) (batches * BATCH), batches * BATCH,
            (unsigned long long) (misses / 2), sink ? VLEN : 0);
    free (per);
    free (z.cdf);
    free (z.perm);
    hsn_store_destroy (&s);
    free (keys);
}

int
main (int argc, char **argv)
{
    size_t lookups = argc > 1 ? strtoull (argv[1], NULL, 10) : 1000000;
    if (lookups < BATCH)
        lookups = BATCH;
    setvbuf (stdout, NULL, _IOLBF, 0);
    bench_mem (100000);
    static const size_t sizes[] = { 1000, 10000, 100000, 1000000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        bench_get (sizes[i], lookups, 0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        bench_get (sizes[i], lookups, 1);
    return 0;
}
