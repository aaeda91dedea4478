/*  monitor_names: the metric names the monitor has heard, interned.
 *
 *  Every (name, kind) pair gets a small stable number on first sight, so
 *  that what the monitor stores per replica and per history slot carries a
 *  16-bit id instead of a string, and aggregations index arrays by it. The
 *  table is bounded (names come from the network): once full, new names are
 *  refused and their values ignored. Names are never forgotten.
 */
#ifndef MONITOR_NAMES_H
#define MONITOR_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MONITOR_NAMES_MAX 4096

typedef struct monitor_names monitor_names_t;

monitor_names_t *monitor_names_new (void);

/*  NULL-safe; nulls *self_p. */
void monitor_names_destroy (monitor_names_t **self_p);

/*  The id of name with kind (HSN_METRIC_*), added if new. Returns the id, or
 *  -ENOSPC when the table is full, -EINVAL for an empty or too long name. */
int monitor_names_id (monitor_names_t *self, const char *name, int kind);

/*  The id of name with kind, or -ENOENT. */
int monitor_names_find (const monitor_names_t *self, const char *name, int kind);

/*  Number of ids handed out (ids are 0..count-1). */
uint32_t monitor_names_count (const monitor_names_t *self);

/*  Name and kind of id (id < count). */
const char *monitor_names_str (const monitor_names_t *self, uint32_t id);
int monitor_names_kind (const monitor_names_t *self, uint32_t id);

/*  Does name match pattern? A '*' in pattern stands for one or more
 *  characters (dots included); anything else matches itself. At most one
 *  star. When it matches and star is not NULL, star and star_len get what
 *  the star stood for. */
bool monitor_name_match (const char *pattern, const char *name, const char **star,
                         size_t *star_len);

#endif
