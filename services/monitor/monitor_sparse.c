/*  monitor_sparse: sparse histograms. See monitor_sparse.h. */
#include "monitor_sparse.h"

#include <stdlib.h>
#include <string.h>

size_t
monitor_sparse_bytes (const monitor_sparse_t *s)
{
    return sizeof *s + (size_t) s->n * (sizeof (uint64_t) + sizeof (uint16_t));
}

static monitor_sparse_t *
alloc_sparse (uint32_t n)
{
    monitor_sparse_t *s = (monitor_sparse_t *) malloc (sizeof *s
        + (size_t) n * (sizeof (uint64_t) + sizeof (uint16_t)));
    if (s) {
        memset (s, 0, sizeof *s);
        s->n = n;
    }
    return s;
}

monitor_sparse_t *
monitor_sparse_from (const hsn_hist_t *h)
{
    uint32_t n = 0;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        n += h->buckets[i] != 0;
    monitor_sparse_t *s = alloc_sparse (n);
    if (!s)
        return NULL;
    uint64_t *cnt = monitor_sparse_cnt (s);
    uint16_t *idx = (uint16_t *) (cnt + n);
    uint32_t j = 0;
    for (size_t i = 0; i < HSN_HIST_BUCKETS; i++)
        if (h->buckets[i]) {
            cnt[j] = h->buckets[i];
            idx[j++] = (uint16_t) i;
            s->count += h->buckets[i];
        }
    s->sum = h->sum;
    s->max = h->max;
    return s;
}

static monitor_sparse_t *
copy_sparse (const monitor_sparse_t *from)
{
    size_t bytes = monitor_sparse_bytes (from);
    monitor_sparse_t *s = (monitor_sparse_t *) malloc (bytes);
    if (s)
        memcpy (s, from, bytes);
    return s;
}

monitor_sparse_t *
monitor_sparse_delta (const monitor_sparse_t *now, const monitor_sparse_t *before,
                      bool *reset)
{
    *reset = false;
    if (!before)
        return now->count ? copy_sparse (now) : NULL;
    /*  Walk both bucket lists: every bucket of before must be in now with
     *  at least its count, else the replica started again from zero. */
    const uint16_t *ni = monitor_sparse_idx (now), *bi = monitor_sparse_idx (before);
    const uint64_t *nc = monitor_sparse_ccnt (now), *bc = monitor_sparse_ccnt (before);
    uint32_t changed = 0, j = 0;
    for (uint32_t i = 0; i < now->n; i++) {
        while (j < before->n && bi[j] < ni[i])
            j++, *reset = true;         /* a bucket of before vanished */
        uint64_t was = j < before->n && bi[j] == ni[i] ? bc[j++] : 0;
        if (nc[i] < was)
            *reset = true;
        changed += nc[i] > was;
    }
    if (j < before->n || now->count < before->count)
        *reset = true;
    if (*reset)
        return now->count ? copy_sparse (now) : NULL;
    if (changed == 0)
        return NULL;
    monitor_sparse_t *d = alloc_sparse (changed);
    if (!d)
        return NULL;
    uint64_t *dc = monitor_sparse_cnt (d);
    uint16_t *di = (uint16_t *) (dc + changed);
    uint32_t k = 0;
    j = 0;
    for (uint32_t i = 0; i < now->n; i++) {
        while (j < before->n && bi[j] < ni[i])
            j++;
        uint64_t was = j < before->n && bi[j] == ni[i] ? bc[j++] : 0;
        if (nc[i] > was) {
            dc[k] = nc[i] - was;
            di[k++] = ni[i];
            d->count += nc[i] - was;
        }
    }
    d->sum = now->sum - before->sum;
    uint64_t top = hsn_hist_bucket_upper (di[changed - 1]);
    d->max = top < now->max ? top : now->max;
    return d;
}

monitor_sparse_t *
monitor_sparse_add (monitor_sparse_t *into, const monitor_sparse_t *from)
{
    if (!into)
        return copy_sparse (from);
    const uint16_t *ai = monitor_sparse_idx (into), *bi = monitor_sparse_idx (from);
    const uint64_t *ac = monitor_sparse_ccnt (into), *bc = monitor_sparse_ccnt (from);
    uint32_t n = 0, i = 0, j = 0;
    while (i < into->n || j < from->n) {
        if (j == from->n || (i < into->n && ai[i] < bi[j]))
            i++;
        else if (i == into->n || bi[j] < ai[i])
            j++;
        else
            i++, j++;
        n++;
    }
    monitor_sparse_t *s = alloc_sparse (n);
    if (!s)
        return into;
    uint64_t *sc = monitor_sparse_cnt (s);
    uint16_t *si = (uint16_t *) (sc + n);
    uint32_t k = 0;
    i = j = 0;
    while (i < into->n || j < from->n) {
        if (j == from->n || (i < into->n && ai[i] < bi[j])) {
            si[k] = ai[i];
            sc[k++] = ac[i++];
        }
        else if (i == into->n || bi[j] < ai[i]) {
            si[k] = bi[j];
            sc[k++] = bc[j++];
        }
        else {
            si[k] = ai[i];
            sc[k++] = ac[i++] + bc[j++];
        }
    }
    s->count = into->count + from->count;
    s->sum = into->sum + from->sum;
    s->max = into->max > from->max ? into->max : from->max;
    free (into);
    return s;
}

void
monitor_sparse_merge (hsn_hist_t *h, const monitor_sparse_t *s)
{
    const uint16_t *idx = monitor_sparse_idx (s);
    const uint64_t *cnt = monitor_sparse_ccnt (s);
    for (uint32_t i = 0; i < s->n; i++)
        h->buckets[idx[i]] += cnt[i];
    h->count += s->count;
    h->sum += s->sum;
    if (s->max > h->max)
        h->max = s->max;
}

uint64_t
monitor_sparse_count_le (const monitor_sparse_t *s, uint64_t v)
{
    const uint16_t *idx = monitor_sparse_idx (s);
    const uint64_t *cnt = monitor_sparse_ccnt (s);
    uint64_t n = 0;
    for (uint32_t i = 0; i < s->n && hsn_hist_bucket_upper (idx[i]) <= v; i++)
        n += cnt[i];
    return n;
}
