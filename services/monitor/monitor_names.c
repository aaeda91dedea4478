/*  monitor_names: interned metric names. See monitor_names.h. */
#include "monitor_names.h"
#include "hsn_metrics.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

struct monitor_names {
    zhashx_t *ids;                  /* "<kind><name>" -> id + 1 */
    char *names[MONITOR_NAMES_MAX];
    uint8_t kinds[MONITOR_NAMES_MAX];
    uint32_t count;
};

monitor_names_t *
monitor_names_new (void)
{
    monitor_names_t *self = (monitor_names_t *) zmalloc (sizeof *self);
    self->ids = zhashx_new ();
    return self;
}

void
monitor_names_destroy (monitor_names_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    monitor_names_t *self = *self_p;
    zhashx_destroy (&self->ids);
    for (uint32_t i = 0; i < self->count; i++)
        free (self->names[i]);
    free (self);
    *self_p = NULL;
}

/*  key must hold HSN_METRIC_NAME_MAX + 2 bytes. */
static int
make_key (char *key, const char *name, int kind)
{
    size_t n = strlen (name);
    if (n == 0 || n > HSN_METRIC_NAME_MAX || kind < HSN_METRIC_COUNTER || kind > HSN_METRIC_HIST)
        return -EINVAL;
    key[0] = (char) ('0' + kind);
    memcpy (key + 1, name, n + 1);
    return 0;
}

int
monitor_names_find (const monitor_names_t *self, const char *name, int kind)
{
    char key[HSN_METRIC_NAME_MAX + 2];
    if (make_key (key, name, kind))
        return -ENOENT;
    uintptr_t v = (uintptr_t) zhashx_lookup (self->ids, key);
    return v ? (int) (v - 1) : -ENOENT;
}

int
monitor_names_id (monitor_names_t *self, const char *name, int kind)
{
    char key[HSN_METRIC_NAME_MAX + 2];
    if (make_key (key, name, kind))
        return -EINVAL;
    uintptr_t v = (uintptr_t) zhashx_lookup (self->ids, key);
    if (v)
        return (int) (v - 1);
    if (self->count == MONITOR_NAMES_MAX)
        return -ENOSPC;
    uint32_t id = self->count;
    self->names[id] = strdup (name);
    if (!self->names[id])
        return -ENOMEM;
    self->kinds[id] = (uint8_t) kind;
    self->count++;
    zhashx_insert (self->ids, key, (void *) (uintptr_t) (id + 1));
    return (int) id;
}

uint32_t
monitor_names_count (const monitor_names_t *self)
{
    return self->count;
}

const char *
monitor_names_str (const monitor_names_t *self, uint32_t id)
{
    return id < self->count ? self->names[id] : "";
}

int
monitor_names_kind (const monitor_names_t *self, uint32_t id)
{
    return id < self->count ? self->kinds[id] : 0;
}

bool
monitor_name_match (const char *pattern, const char *name, const char **star,
                    size_t *star_len)
{
    const char *s = strchr (pattern, '*');
    if (!s)
        return strcmp (pattern, name) == 0;
    size_t pre = (size_t) (s - pattern), post = strlen (s + 1), n = strlen (name);
    if (n < pre + post + 1 || strncmp (name, pattern, pre) != 0
        || strcmp (name + n - post, s + 1) != 0)
        return false;
    if (star) {
        *star = name + pre;
        *star_len = n - pre - post;
    }
    return true;
}
