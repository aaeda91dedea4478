/*  hsn_metrics: counters, gauges, mergeable histograms. See hsn_metrics.h. */
#include "hsn_metrics.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hsn_mp.h"

#define LAST_BUCKET (HSN_HIST_BUCKETS - 1)
/*  Nesting of a packed registry: top map, section map, hist array, bucket
 *  list, bucket pair = 5; the rest is slack for forward compatibility. */
#define PACK_DEPTH 8

#define LOAD(p) __atomic_load_n ((p), __ATOMIC_RELAXED)
#define ADD(p, n) __atomic_fetch_add ((p), (n), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n ((p), (v), __ATOMIC_RELAXED)

/*  ---- histogram buckets --------------------------------------------- */

size_t
hsn_hist_bucket_of (uint64_t v)
{
    if (v < HSN_HIST_SUB)
        return (size_t) v;
    int k = 63 - __builtin_clzll (v);           /* v in [2^k, 2^(k+1)) */
    if (k > HSN_HIST_MAX_EXP)
        return LAST_BUCKET;
    /*  The HSN_HIST_SUB_BITS bits below the leading one pick the
     *  sub-bucket. */
    size_t sub = (size_t) (v >> (k - HSN_HIST_SUB_BITS)) & (HSN_HIST_SUB - 1);
    return HSN_HIST_SUB + (size_t) (k - HSN_HIST_MIN_EXP) * HSN_HIST_SUB + sub;
}

uint64_t
hsn_hist_bucket_lower (size_t i)
{
    assert (i < HSN_HIST_BUCKETS);
    if (i < HSN_HIST_SUB)
        return i;
    size_t k = HSN_HIST_MIN_EXP + (i - HSN_HIST_SUB) / HSN_HIST_SUB;
    uint64_t sub = (i - HSN_HIST_SUB) % HSN_HIST_SUB;
    return (HSN_HIST_SUB + sub) << (k - HSN_HIST_SUB_BITS);
}

uint64_t
hsn_hist_bucket_upper (size_t i)
{
    assert (i < HSN_HIST_BUCKETS);
    if (i == LAST_BUCKET)
        return UINT64_MAX;
    return hsn_hist_bucket_lower (i + 1) - 1;
}

/*  ---- histograms ----------------------------------------------------- */

static void
raise_max (uint64_t *max, uint64_t v)
{
    uint64_t cur = LOAD (max);
    while (v > cur
           && !__atomic_compare_exchange_n (max, &cur, v, true,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

void
hsn_hist_record (hsn_hist_t *h, uint64_t us)
{
    ADD (&h->buckets[hsn_hist_bucket_of (us)], 1);
    ADD (&h->count, 1);
    ADD (&h->sum, us);
    raise_max (&h->max, us);
}

void
hsn_hist_merge (hsn_hist_t *into, const hsn_hist_t *from)
{
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++) {
        uint64_t n = LOAD (&from->buckets[i]);
        if (n)
            ADD (&into->buckets[i], n);
    }
    ADD (&into->count, LOAD (&from->count));
    ADD (&into->sum, LOAD (&from->sum));
    raise_max (&into->max, LOAD (&from->max));
}

uint64_t
hsn_hist_percentile (const hsn_hist_t *h, double p)
{
    uint64_t total = 0;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        total += LOAD (&h->buckets[i]);
    if (total == 0)
        return 0;
    if (!(p > 0))                               /* also NaN */
        p = 0;
    if (p > 100)
        p = 100;
    /*  p * total / 100 rather than p / 100 * total: exact for integral p,
     *  where 0.29 * 100 would not be. */
    double r = ceil (p * (double) total / 100.0);
    uint64_t rank = r < 1 ? 1 : r >= (double) total ? total : (uint64_t) r;
    uint64_t max = LOAD (&h->max);
    uint64_t seen = 0;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++) {
        seen += LOAD (&h->buckets[i]);
        if (seen >= rank) {
            uint64_t upper = hsn_hist_bucket_upper (i);
            return upper < max ? upper : max;
        }
    }
    return max;     /* only if a concurrent reset emptied buckets meanwhile */
}

void
hsn_hist_reset (hsn_hist_t *h)
{
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        STORE (&h->buckets[i], 0);
    STORE (&h->count, 0);
    STORE (&h->sum, 0);
    STORE (&h->max, 0);
}

void
hsn_hist_snapshot (const hsn_hist_t *h, hsn_hist_t *out)
{
    out->count = LOAD (&h->count);
    out->sum = LOAD (&h->sum);
    out->max = LOAD (&h->max);
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        out->buckets[i] = LOAD (&h->buckets[i]);
}

/*  ---- registry ------------------------------------------------------- */

typedef struct {
    union {
        uint64_t counter;
        int64_t gauge;
        hsn_hist_t hist;
    } v;
    int kind;
    char name[HSN_METRIC_NAME_MAX + 1];
} slot_t;

/*  Slots live inline so that their addresses never move. The registry is
 *  about a megabyte, but calloc of that size maps fresh zero pages that
 *  cost memory only once a slot is used. */
struct hsn_metrics {
    size_t count;                   /* published with release ordering */
    slot_t slots[HSN_METRICS_MAX];
};

hsn_metrics_t *
hsn_metrics_new (void)
{
    return calloc (1, sizeof (hsn_metrics_t));
}

void
hsn_metrics_destroy (hsn_metrics_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

static size_t
published (const hsn_metrics_t *m)
{
    return __atomic_load_n (&m->count, __ATOMIC_ACQUIRE);
}

/*  The slot named name[0..len) of this kind, registered if new; NULL when
 *  the name is unusable (too long, has a NUL), registered with another
 *  kind, or the registry is full. */
static slot_t *
find_or_add (hsn_metrics_t *m, const char *name, size_t len, int kind)
{
    if (len > HSN_METRIC_NAME_MAX || memchr (name, '\0', len))
        return NULL;
    size_t n = published (m);
    for (size_t i = 0; i < n; i++) {
        slot_t *s = &m->slots[i];
        if (strncmp (s->name, name, len) == 0 && s->name[len] == '\0')
            return s->kind == kind ? s : NULL;
    }
    if (n == HSN_METRICS_MAX)
        return NULL;
    slot_t *s = &m->slots[n];
    memcpy (s->name, name, len);
    s->name[len] = '\0';
    s->kind = kind;
    /*  Release: a reader that sees the new count sees the slot filled. */
    __atomic_store_n (&m->count, n + 1, __ATOMIC_RELEASE);
    return s;
}

static slot_t *
register_metric (hsn_metrics_t *m, const char *name, int kind)
{
    assert (m && name);
    size_t len = strlen (name);
    assert (len <= HSN_METRIC_NAME_MAX);
    slot_t *s = find_or_add (m, name, len, kind);
    assert (s && "registry full or name registered with another kind");
    return s;
}

uint64_t *
hsn_metrics_counter (hsn_metrics_t *m, const char *name)
{
    slot_t *s = register_metric (m, name, HSN_METRIC_COUNTER);
    return s ? &s->v.counter : NULL;
}

int64_t *
hsn_metrics_gauge (hsn_metrics_t *m, const char *name)
{
    slot_t *s = register_metric (m, name, HSN_METRIC_GAUGE);
    return s ? &s->v.gauge : NULL;
}

hsn_hist_t *
hsn_metrics_hist (hsn_metrics_t *m, const char *name)
{
    slot_t *s = register_metric (m, name, HSN_METRIC_HIST);
    return s ? &s->v.hist : NULL;
}

size_t
hsn_metrics_count (const hsn_metrics_t *m)
{
    return published (m);
}

int
hsn_metrics_at (const hsn_metrics_t *m, size_t i, const char **name,
                int *kind, void **value)
{
    if (i >= published (m))
        return -ERANGE;
    slot_t *s = (slot_t *) &m->slots[i];
    *name = s->name;
    *kind = s->kind;
    *value = &s->v;
    return 0;
}

/*  ---- wire format ---------------------------------------------------- */

static const char *const section_names[] = {
    [HSN_METRIC_COUNTER] = "counters",
    [HSN_METRIC_GAUGE] = "gauges",
    [HSN_METRIC_HIST] = "hists",
};

static void
pack_cstr (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

static void
pack_hist (msgpack_packer *pk, const hsn_hist_t *live)
{
    hsn_hist_t h;
    hsn_hist_snapshot (live, &h);
    /*  count is sent as the bucket total: under concurrent recording the
     *  separately loaded count may disagree with the buckets, and the
     *  receiver's percentiles rank by the buckets. */
    uint64_t total = 0;
    uint32_t nonzero = 0;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++) {
        total += h.buckets[i];
        nonzero += h.buckets[i] != 0;
    }
    msgpack_pack_array (pk, 4);
    msgpack_pack_uint64 (pk, total);
    msgpack_pack_uint64 (pk, h.sum);
    msgpack_pack_uint64 (pk, h.max);
    msgpack_pack_array (pk, nonzero);
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        if (h.buckets[i]) {
            msgpack_pack_array (pk, 2);
            msgpack_pack_uint64 (pk, i);
            msgpack_pack_uint64 (pk, h.buckets[i]);
        }
}

void
hsn_metrics_pack (hsn_metrics_t *m, msgpack_packer *pk)
{
    size_t n = published (m);
    msgpack_pack_map (pk, 3);
    for (int kind = HSN_METRIC_COUNTER; kind <= HSN_METRIC_HIST; kind++) {
        uint32_t of_kind = 0;
        for (size_t i = 0; i < n; i++)
            of_kind += m->slots[i].kind == kind;
        pack_cstr (pk, section_names[kind]);
        msgpack_pack_map (pk, of_kind);
        for (size_t i = 0; i < n; i++) {
            slot_t *s = &m->slots[i];
            if (s->kind != kind)
                continue;
            pack_cstr (pk, s->name);
            if (kind == HSN_METRIC_COUNTER)
                msgpack_pack_uint64 (pk, LOAD (&s->v.counter));
            else if (kind == HSN_METRIC_GAUGE)
                msgpack_pack_int64 (pk, LOAD (&s->v.gauge));
            else
                pack_hist (pk, &s->v.hist);
        }
    }
}

/*  Read one unsigned integer. */
static int
read_uint (hsn_mp_reader_t *r, uint64_t *out)
{
    hsn_mp_obj_t o;
    if (hsn_mp_next (r, &o) || o.type != HSN_MP_UINT)
        return -EBADMSG;
    *out = o.v.u;
    return 0;
}

/*  Read one histogram value, [count, sum, max, [[bucket, count]...], ...],
 *  adding it to h when h is not NULL. */
static int
merge_hist (hsn_mp_reader_t *r, hsn_hist_t *h)
{
    hsn_mp_obj_t arr, list, pair;
    uint64_t count, sum, max;
    if (hsn_mp_next (r, &arr) || arr.type != HSN_MP_ARRAY || arr.v.c.count < 4
        || read_uint (r, &count) || read_uint (r, &sum) || read_uint (r, &max)
        || hsn_mp_next (r, &list) || list.type != HSN_MP_ARRAY)
        return -EBADMSG;
    for (uint32_t i = 0; i < list.v.c.count; i++) {
        uint64_t bucket, n;
        if (hsn_mp_next (r, &pair) || pair.type != HSN_MP_ARRAY
            || pair.v.c.count != 2 || read_uint (r, &bucket)
            || read_uint (r, &n) || bucket >= HSN_HIST_BUCKETS)
            return -EBADMSG;
        if (h)
            ADD (&h->buckets[bucket], n);
    }
    for (uint32_t i = 4; i < arr.v.c.count; i++)
        if (hsn_mp_skip (r, PACK_DEPTH))
            return -EBADMSG;
    if (h) {
        ADD (&h->count, count);
        ADD (&h->sum, sum);
        raise_max (&h->max, max);
    }
    return 0;
}

/*  Read one metric's value of the given kind; when apply, merge it into the
 *  metric named name (if it can be registered). */
static int
merge_metric (hsn_metrics_t *m, hsn_mp_reader_t *r, int kind,
              const hsn_mp_obj_t *name, bool apply)
{
    slot_t *s = apply ? find_or_add (m, name->v.s.ptr, name->v.s.len, kind)
                      : NULL;
    if (kind == HSN_METRIC_HIST)
        return merge_hist (r, s ? &s->v.hist : NULL);
    hsn_mp_obj_t o;
    if (hsn_mp_next (r, &o))
        return -EBADMSG;
    if (kind == HSN_METRIC_COUNTER) {
        if (o.type != HSN_MP_UINT)
            return -EBADMSG;
        if (s)
            ADD (&s->v.counter, o.v.u);
    }
    else {
        int64_t v;
        if (o.type == HSN_MP_INT)
            v = o.v.i;
        else if (o.type == HSN_MP_UINT && o.v.u <= INT64_MAX)
            v = (int64_t) o.v.u;
        else
            return -EBADMSG;
        if (s)
            ADD (&s->v.gauge, v);
    }
    return 0;
}

/*  Walk a validated pack. With apply false it only checks the structure
 *  and changes nothing; with apply true (after a clean check) it merges
 *  and cannot fail -- which is how a bad message leaves into unchanged. */
static int
walk (hsn_metrics_t *m, const void *mp, size_t len, bool apply)
{
    hsn_mp_reader_t r;
    hsn_mp_obj_t top, key, section, name;
    hsn_mp_reader_init (&r, mp, len);
    if (hsn_mp_next (&r, &top) || top.type != HSN_MP_MAP)
        return -EBADMSG;
    for (uint32_t i = 0; i < top.v.c.count; i++) {
        if (hsn_mp_next (&r, &key) || key.type != HSN_MP_STR)
            return -EBADMSG;
        int kind = 0;
        for (int k = HSN_METRIC_COUNTER; k <= HSN_METRIC_HIST; k++)
            if (hsn_mp_str_eq (&key, section_names[k]))
                kind = k;
        if (!kind) {
            if (hsn_mp_skip (&r, PACK_DEPTH))
                return -EBADMSG;
            continue;
        }
        if (hsn_mp_next (&r, &section) || section.type != HSN_MP_MAP)
            return -EBADMSG;
        for (uint32_t j = 0; j < section.v.c.count; j++) {
            if (hsn_mp_next (&r, &name) || name.type != HSN_MP_STR
                || merge_metric (m, &r, kind, &name, apply))
                return -EBADMSG;
        }
    }
    return 0;
}

int
hsn_metrics_unpack_merge (hsn_metrics_t *into, const void *mp, size_t len)
{
    if (!mp || hsn_mp_validate (mp, len, PACK_DEPTH) != 0
        || walk (into, mp, len, false) != 0)
        return -EBADMSG;
    int rc = walk (into, mp, len, true);
    assert (rc == 0);
    return rc;
}
