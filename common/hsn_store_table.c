/*  hsn_store_table: chained hash table with incremental resize, for
 *  hsn_store's entries and tags. See hsn_store_int.h.
 *
 *  Why incremental: doubling a table of a million entries at once means
 *  reading every entry's header (a cache miss each), tens of milliseconds
 *  in which the replica's single event loop answers nobody. Here a resize
 *  only allocates the new array (calloc: pages come zeroed from the
 *  kernel), then every insert or remove moves a few old buckets, as Redis
 *  does; lookups search the not-yet-moved old bucket and the new one. */
#include "hsn_store_int.h"

#include <errno.h>
#include <stdlib.h>

#define MIN_BUCKETS     16
#define MAX_BUCKETS     ((size_t) 1 << 31)     /* hashes are 32 bits */
#define MOVE_BUCKETS    4       /* non-empty buckets moved per write */
#define MOVE_EMPTY      40      /* empty buckets skipped per write at most */

int
cs_table_init (cs_table_t *t)
{
    memset (t, 0, sizeof *t);
    t->b[0] = calloc (MIN_BUCKETS, sizeof (cs_node_t *));
    if (!t->b[0])
        return -ENOMEM;
    t->mask[0] = MIN_BUCKETS - 1;
    return 0;
}

void
cs_table_fini (cs_table_t *t)
{
    free (t->b[0]);
    free (t->b[1]);
    memset (t, 0, sizeof *t);
}

void
cs_table_reset (cs_table_t *t)
{
    free (t->b[1]);
    t->b[1] = NULL;
    t->moved = 0;
    t->count = 0;
    cs_node_t **small = t->mask[0] + 1 > MIN_BUCKETS
                        ? calloc (MIN_BUCKETS, sizeof (cs_node_t *)) : NULL;
    if (small) {
        free (t->b[0]);
        t->b[0] = small;
        t->mask[0] = MIN_BUCKETS - 1;
    }
    else
        memset (t->b[0], 0, (t->mask[0] + 1) * sizeof (cs_node_t *));
}

/*  Move up to `buckets` non-empty old buckets into b[1], skipping at most
 *  `empty` empty ones; when all are moved, b[1] becomes the table. The old
 *  slots are not cleared: lookups ignore b[0][0..moved). */
static void
move (cs_table_t *t, size_t buckets, size_t empty)
{
    size_t size0 = t->mask[0] + 1;
    cs_node_t **b0 = t->b[0], **b1 = t->b[1];
    size_t mask1 = t->mask[1];
    while (buckets > 0 && t->moved < size0) {
        cs_node_t *n = b0[t->moved];
        if (!n) {
            if (empty == 0)
                break;
            empty--;
            t->moved++;
            continue;
        }
        while (n) {
            cs_node_t *next = n->next;
            size_t i = n->hash & mask1;
            n->next = b1[i];
            b1[i] = n;
            n = next;
        }
        t->moved++;
        buckets--;
    }
    if (t->moved == size0) {
        free (b0);
        t->b[0] = b1;
        t->mask[0] = mask1;
        t->b[1] = NULL;
        t->moved = 0;
    }
}

static void
start_resize (cs_table_t *t, size_t buckets)
{
    t->b[1] = calloc (buckets, sizeof (cs_node_t *));
    if (!t->b[1])
        return;         /* stay as we are; retried on a later write */
    t->mask[1] = buckets - 1;
    t->moved = 0;
}

/*  After each write: advance a resize in progress, or start one. */
static void
maintain (cs_table_t *t)
{
    if (t->b[1]) {
        /*  The target itself overloaded (it was sized for a shrink and
         *  writes grew the table since): finish now, it is rare. */
        if (t->count > t->mask[1] + 1)
            move (t, SIZE_MAX, SIZE_MAX);
        else
            move (t, MOVE_BUCKETS, MOVE_EMPTY);
        if (t->b[1])
            return;
    }
    size_t size = t->mask[0] + 1;
    if (t->count > size && size < MAX_BUCKETS)
        start_resize (t, size * 2);
    else if (size > MIN_BUCKETS && t->count < size / 8) {
        /*  To load 1/4..1/2: far from both thresholds. */
        size_t want = MIN_BUCKETS;
        while (want < t->count * 2)
            want *= 2;
        start_resize (t, want);
    }
}

void
cs_table_insert (cs_table_t *t, cs_node_t *n)
{
    int w = t->b[1] ? 1 : 0;
    size_t i = n->hash & t->mask[w];
    n->next = t->b[w][i];
    t->b[w][i] = n;
    t->count++;
    maintain (t);
}

void
cs_table_remove (cs_table_t *t, cs_node_t *n)
{
    for (int w = 0; w < 2; w++) {
        if (!t->b[w])
            break;
        size_t i = n->hash & t->mask[w];
        if (w == 0 && t->b[1] && i < t->moved)
            continue;
        for (cs_node_t **pp = &t->b[w][i]; *pp; pp = &(*pp)->next)
            if (*pp == n) {
                *pp = n->next;
                t->count--;
                maintain (t);
                return;
            }
    }
}

void
cs_table_each (cs_table_t *t, void (*fn) (cs_node_t *n, void *arg), void *arg)
{
    for (int w = 0; w < 2; w++) {
        if (!t->b[w])
            break;
        size_t from = (w == 0 && t->b[1]) ? t->moved : 0;
        for (size_t i = from; i <= t->mask[w]; i++) {
            cs_node_t *n = t->b[w][i];
            while (n) {
                cs_node_t *next = n->next;
                fn (n, arg);
                n = next;
            }
        }
    }
}
