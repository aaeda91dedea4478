/*  hsn_store_tags: the tag index, so that dropping a tag costs the
 *  entries carrying it, not a scan of the store. See hsn_store_int.h.
 *
 *  Each distinct tag has one record (its name, stored once) heading a
 *  doubly linked list of links; the links live inside the entries' own
 *  allocations, so tagging costs no allocation per entry and an untagged
 *  entry pays nothing. */
#include "hsn_store_int.h"

#include <errno.h>
#include <stdlib.h>

static uint32_t
tag_hash (const hsn_store_t *self, const char *tag, size_t tlen)
{
    /*  Another stream than the keys' (seed + 1), for no reason but
     *  hygiene: the two tables never mix. */
    return (uint32_t) cs_hash (tag, tlen, self->seed + 1);
}

static cs_tag_t *
find (hsn_store_t *self, const char *tag, size_t tlen, uint32_t h)
{
    for (int w = 0; w < 2; w++)
        for (cs_node_t *n = cs_table_chain (&self->tags, h, w); n; n = n->next) {
            cs_tag_t *t = (cs_tag_t *) n;
            if (n->hash == h && n->spare == tlen && memcmp (t->name, tag, tlen) == 0)
                return t;
        }
    return NULL;
}

cs_tag_t *
cs_tags_find (hsn_store_t *self, const char *tag, size_t tlen)
{
    if (tlen == 0 || tlen > HSN_STORE_TAG_MAX || !tag)
        return NULL;
    return find (self, tag, tlen, tag_hash (self, tag, tlen));
}

static void
unlink_one (hsn_store_t *self, cs_tag_link_t *l)
{
    cs_tag_t *t = l->tag;
    if (l->prev)
        l->prev->next = l->next;
    else
        t->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    if (--t->count == 0) {
        cs_table_remove (&self->tags, &t->node);
        free (t);
    }
}

int
cs_tags_link (hsn_store_t *self, cs_entry_t *e, const char *const tags[],
              const size_t tag_lens[], const uint8_t idx[])
{
    cs_tag_link_t *links = cs_entry_links (e);
    for (size_t i = 0; i < e->ntags; i++) {
        const char *name = tags[idx[i]];
        size_t tlen = tag_lens[idx[i]];
        uint32_t h = tag_hash (self, name, tlen);
        cs_tag_t *t = find (self, name, tlen, h);
        if (!t) {
            t = malloc (sizeof *t + tlen);
            if (!t) {
                while (i-- > 0)
                    unlink_one (self, &links[i]);
                return -ENOMEM;
            }
            t->node.hash = h;
            t->node.spare = (uint32_t) tlen;
            t->head = NULL;
            t->count = 0;
            memcpy (t->name, name, tlen);
            cs_table_insert (&self->tags, &t->node);
        }
        cs_tag_link_t *l = &links[i];
        l->tag = t;
        l->entry = e;
        l->prev = NULL;
        l->next = t->head;
        if (t->head)
            t->head->prev = l;
        t->head = l;
        t->count++;
    }
    return 0;
}

void
cs_tags_unlink (hsn_store_t *self, cs_entry_t *e)
{
    cs_tag_link_t *links = cs_entry_links (e);
    for (size_t i = 0; i < e->ntags; i++)
        unlink_one (self, &links[i]);
}

static void
free_tag (cs_node_t *n, void *arg)
{
    free (n);
}

void
cs_tags_clear (hsn_store_t *self)
{
    cs_table_each (&self->tags, free_tag, NULL);
    cs_table_reset (&self->tags);
}
