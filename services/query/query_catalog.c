/*  query_catalog: the queries file parser. See query_catalog.h. */
#include "query_catalog.h"
#include "query_sqlscan.h"

#include <czmq.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct query_catalog {
    query_def_t *defs;
    size_t n;
    size_t cap;
    int refs;
};

static const char *const type_names[] = {
    [QUERY_T_INT] = "int", [QUERY_T_FLOAT] = "float", [QUERY_T_TEXT] = "text",
    [QUERY_T_BOOL] = "bool", [QUERY_T_JSON] = "json",
    [QUERY_T_TIMESTAMP] = "timestamp", [QUERY_T_NUMERIC] = "numeric",
    [QUERY_T_BYTEA] = "bytea",
};

const char *
query_type_name (query_type_t type)
{
    if (type < QUERY_T_INT || type > QUERY_T_BYTEA)
        return NULL;
    return type_names[type];
}

query_type_t
query_type_by_name (const char *name, size_t len)
{
    for (int t = QUERY_T_INT; t <= QUERY_T_BYTEA; t++)
        if (strlen (type_names[t]) == len && memcmp (type_names[t], name, len) == 0)
            return (query_type_t) t;
    return 0;
}

/*  Parser state: one block at a time. */
typedef struct {
    const char *origin;
    char *err;
    size_t errlen;
    query_catalog_t *cat;
    query_def_t *cur;           /* block being read, or NULL */
    bool have_params, have_cache, have_inval, have_tags, in_sql;
    char *sql;                  /* growing statement */
    size_t sql_len, sql_cap;
} parser_t;

static int
fail (parser_t *p, uint32_t line, const char *fmt, ...)
{
    if (!p->err || p->errlen == 0)
        return -EINVAL;
    int n = snprintf (p->err, p->errlen, "%s:%u: ", p->origin, line);
    if (n >= 0 && (size_t) n < p->errlen) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (p->err + n, p->errlen - (size_t) n, fmt, ap);
        va_end (ap);
    }
    return -EINVAL;
}

static bool
is_ident (const char *s, size_t len)
{
    if (len == 0 || len > QUERY_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_'))
            return false;
    }
    return true;
}

static bool
is_tag (const char *s, size_t len)
{
    if (len == 0 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/*  Trim blanks on both sides of s[0..*len). */
static const char *
trim (const char *s, size_t *len)
{
    while (*len && (*s == ' ' || *s == '\t')) {
        s++;
        (*len)--;
    }
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
        (*len)--;
    return s;
}

static void
def_free (query_def_t *d)
{
    free (d->name);
    for (size_t i = 0; i < d->nparams; i++)
        free (d->params[i].name);
    free (d->params);
    for (size_t i = 0; i < d->ninvalidates; i++)
        free (d->invalidates[i]);
    free (d->invalidates);
    for (size_t i = 0; i < d->ntags; i++)
        free (d->tags[i]);
    free (d->tags);
    free (d->sql);
    memset (d, 0, sizeof *d);
}

/*  Split s[0..len) at commas; call item for every trimmed piece. An empty
 *  list (only blanks) has no pieces; an empty piece between commas is an
 *  error. */
typedef int (item_fn) (parser_t *p, uint32_t line, const char *s, size_t len);

static int
split_list (parser_t *p, uint32_t line, const char *s, size_t len, const char *what,
            item_fn *item)
{
    s = trim (s, &len);
    if (len == 0)
        return 0;
    while (true) {
        const char *comma = memchr (s, ',', len);
        size_t n = comma ? (size_t) (comma - s) : len;
        size_t tl = n;
        const char *t = trim (s, &tl);
        if (tl == 0)
            return fail (p, line, "empty item in -- %s:", what);
        int rc = item (p, line, t, tl);
        if (rc)
            return rc;
        if (!comma)
            return 0;
        s = comma + 1;
        len -= n + 1;
    }
}

static int
param_item (parser_t *p, uint32_t line, const char *s, size_t len)
{
    query_def_t *d = p->cur;
    const char *colon = memchr (s, ':', len);
    if (!colon)
        return fail (p, line, "parameter '%.*s' must be name:type", (int) len, s);
    size_t nl = (size_t) (colon - s), tl = len - nl - 1;
    const char *name = trim (s, &nl);
    const char *type = trim (colon + 1, &tl);
    if (!is_ident (name, nl))
        return fail (p, line, "invalid parameter name '%.*s'", (int) nl, name);
    query_type_t t = query_type_by_name (type, tl);
    if (!t)
        return fail (p, line, "parameter '%.*s': unknown type '%.*s' (int, float, text, "
                     "bool, json, timestamp, numeric, bytea)", (int) nl, name, (int) tl, type);
    for (size_t i = 0; i < d->nparams; i++)
        if (strlen (d->params[i].name) == nl && memcmp (d->params[i].name, name, nl) == 0)
            return fail (p, line, "parameter '%.*s' declared twice", (int) nl, name);
    if (d->nparams == QUERY_PARAMS_MAX)
        return fail (p, line, "more than %d parameters", QUERY_PARAMS_MAX);
    if (!d->params)
        d->params = (query_param_t *) calloc (QUERY_PARAMS_MAX, sizeof *d->params);
    d->params[d->nparams].name = strndup (name, nl);
    d->params[d->nparams].type = t;
    d->nparams++;
    return 0;
}

/*  Append tag s[0..len) to list (of at most QUERY_TAGS_MAX) unless there. */
static int
add_tag (char ***list, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen ((*list)[i]) == len && memcmp ((*list)[i], s, len) == 0)
            return 0;
    if (*n == QUERY_TAGS_MAX)
        return -E2BIG;
    if (!*list && !(*list = (char **) calloc (QUERY_TAGS_MAX, sizeof **list)))
        return -ENOMEM;
    if (!((*list)[*n] = strndup (s, len)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int
tag_into (parser_t *p, uint32_t line, const char *s, size_t len, char ***list, size_t *n)
{
    if (!is_tag (s, len))
        return fail (p, line, "invalid tag '%.*s' (1..128 of A-Z a-z 0-9 _ - . :)", (int) len, s);
    int rc = add_tag (list, n, s, len);
    if (rc == -E2BIG)
        return fail (p, line, "more than %d tags", QUERY_TAGS_MAX);
    return rc ? fail (p, line, "out of memory") : 0;
}

static int
tag_item (parser_t *p, uint32_t line, const char *s, size_t len)
{
    return tag_into (p, line, s, len, &p->cur->invalidates, &p->cur->ninvalidates);
}

static int
read_tag_item (parser_t *p, uint32_t line, const char *s, size_t len)
{
    return tag_into (p, line, s, len, &p->cur->tags, &p->cur->ntags);
}

/*  query_sql_tables callback: a derived tag, when it is a valid one and
 *  there is room (more tables than tags: the rest are not tracked). */
static void
derived_tag (const char *name, size_t len, void *arg)
{
    query_def_t *d = (query_def_t *) arg;
    if (is_tag (name, len))
        add_tag (&d->tags, &d->ntags, name, len);
}

/*  Scan sql for placeholders, skipping quoted strings, quoted identifiers,
 *  dollar-quoted strings and comments. Sets bit n-1 of *used for every $n;
 *  returns -EINVAL for a number over QUERY_PARAMS_MAX. */
static int
placeholders (const char *sql, uint64_t *used, unsigned *bad)
{
    *used = 0;
    const char *s = sql;
    while (*s) {
        if (*s == '\'' || *s == '"') {
            char q = *s++;
            while (*s && *s != q)
                s++;
            if (*s)
                s++;
        }
        else if (s[0] == '-' && s[1] == '-') {
            while (*s && *s != '\n')
                s++;
        }
        else if (s[0] == '/' && s[1] == '*') {
            const char *end = strstr (s + 2, "*/");
            s = end ? end + 2 : s + strlen (s);
        }
        else if (*s == '$' && s[1] >= '0' && s[1] <= '9') {
            char *end;
            unsigned long n = strtoul (s + 1, &end, 10);
            if (n == 0 || n > QUERY_PARAMS_MAX) {
                *bad = n > 9999 ? 9999 : (unsigned) n;
                return -EINVAL;
            }
            *used |= 1ULL << (n - 1);
            s = end;
        }
        else if (*s == '$') {
            /*  $tag$ ... $tag$ (tag possibly empty). */
            const char *t = s + 1;
            while ((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || *t == '_'
                   || (*t >= '0' && *t <= '9'))
                t++;
            if (*t == '$') {
                size_t tag_len = (size_t) (t - s) + 1;
                const char *end = s + tag_len;
                while (*end && strncmp (end, s, tag_len) != 0)
                    end++;
                s = *end ? end + tag_len : end;
            }
            else
                s++;
        }
        else
            s++;
    }
    return 0;
}

/*  Close the current block: strip the statement, check the placeholders. */
static int
finish_block (parser_t *p)
{
    query_def_t *d = p->cur;
    if (!d)
        return 0;
    size_t len = p->sql_len;
    while (len && (p->sql[len - 1] == '\n' || p->sql[len - 1] == ' '
                   || p->sql[len - 1] == '\t' || p->sql[len - 1] == ';'))
        len--;
    if (len == 0)
        return fail (p, d->line, "query '%s' has no SQL", d->name);
    d->sql = strndup (p->sql, len);
    /*  Digested once here, so a cache key hashes 20 bytes, not the text. */
    zdigest_t *digest = d->sql ? zdigest_new () : NULL;
    if (!digest)
        return fail (p, d->line, "query '%s': out of memory", d->name);
    zdigest_update (digest, (const byte *) d->sql, len);
    memcpy (d->sql_digest, zdigest_data (digest), sizeof d->sql_digest);
    zdigest_destroy (&digest);
    uint64_t used;
    unsigned bad = 0;
    if (placeholders (d->sql, &used, &bad))
        return fail (p, d->line, "query '%s': placeholder $%u out of range 1..%d", d->name, bad,
                     QUERY_PARAMS_MAX);
    uint64_t want = d->nparams == 64 ? UINT64_MAX : (1ULL << d->nparams) - 1;
    if (used != want) {
        unsigned hi = 0;
        for (unsigned i = 0; i < 64; i++)
            if (used >> i & 1)
                hi = i + 1;
        if (hi == 0)
            return fail (p, d->line, "query '%s': SQL uses no placeholders but -- params "
                         "declares %zu", d->name, d->nparams);
        if (hi != d->nparams)
            return fail (p, d->line, "query '%s': SQL uses placeholders up to $%u but "
                         "-- params declares %zu", d->name, hi, d->nparams);
        for (unsigned i = 0; i < d->nparams; i++)
            if (!(used >> i & 1))
                return fail (p, d->line, "query '%s': placeholder $%u (parameter '%s') is "
                             "never used", d->name, i + 1, d->params[i].name);
    }
    d->writes = d->ninvalidates > 0 || !query_sql_is_read (d->sql);
    if (d->writes && d->cache_s)
        return fail (p, d->line, "query '%s' writes (it has -- invalidates: or is not a "
                     "SELECT), so it cannot have -- cache:", d->name);
    if (!p->have_tags && !d->writes)
        query_sql_tables (d->sql, derived_tag, d);
    p->cur = NULL;
    p->sql_len = 0;
    return 0;
}

static int
start_block (parser_t *p, uint32_t line, const char *name, size_t len)
{
    int rc = finish_block (p);
    if (rc)
        return rc;
    if (!is_ident (name, len))
        return fail (p, line, "invalid query name '%.*s' (1..%d of A-Z a-z 0-9 _, not "
                     "starting with a digit)", (int) len, name, QUERY_NAME_MAX);
    size_t prev;
    const query_def_t *dup = query_catalog_find (p->cat, name, len, &prev);
    if (dup)
        return fail (p, line, "duplicate query name '%.*s' (first defined on line %u)",
                     (int) len, name, dup->line);
    query_catalog_t *c = p->cat;
    if (c->n == QUERY_CATALOG_MAX)
        return fail (p, line, "more than %d queries", QUERY_CATALOG_MAX);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        query_def_t *defs = (query_def_t *) realloc (c->defs, cap * sizeof *defs);
        if (!defs)
            return fail (p, line, "out of memory");
        c->defs = defs;
        c->cap = cap;
    }
    p->cur = &c->defs[c->n++];
    memset (p->cur, 0, sizeof *p->cur);
    p->cur->name = strndup (name, len);
    p->cur->line = line;
    p->have_params = p->have_cache = p->have_inval = p->have_tags = p->in_sql = false;
    return 0;
}

static int
annotation (parser_t *p, uint32_t line, const char *key, size_t klen, const char *val,
            size_t vlen)
{
    bool *seen = NULL;
    if (klen == 6 && memcmp (key, "params", 6) == 0)
        seen = &p->have_params;
    else if (klen == 5 && memcmp (key, "cache", 5) == 0)
        seen = &p->have_cache;
    else if (klen == 11 && memcmp (key, "invalidates", 11) == 0)
        seen = &p->have_inval;
    else if (klen == 4 && memcmp (key, "tags", 4) == 0)
        seen = &p->have_tags;
    else
        return 0;                               /* a comment like any other */
    if (!p->cur)
        return fail (p, line, "-- %.*s: before any -- name:", (int) klen, key);
    if (p->in_sql)
        return fail (p, line, "-- %.*s: after the SQL of query '%s'", (int) klen, key,
                     p->cur->name);
    if (*seen)
        return fail (p, line, "-- %.*s: given twice for query '%s'", (int) klen, key,
                     p->cur->name);
    *seen = true;
    if (seen == &p->have_params)
        return split_list (p, line, val, vlen, "params", param_item);
    if (seen == &p->have_inval)
        return split_list (p, line, val, vlen, "invalidates", tag_item);
    if (seen == &p->have_tags)
        return split_list (p, line, val, vlen, "tags", read_tag_item);
    val = trim (val, &vlen);
    char buf[16];
    char *end = NULL;
    long v = -1;
    if (vlen > 0 && vlen < sizeof buf && val[0] >= '0' && val[0] <= '9') {
        memcpy (buf, val, vlen);
        buf[vlen] = 0;
        v = strtol (buf, &end, 10);
    }
    if (v < 0 || v > QUERY_CACHE_MAX || !end || *end)
        return fail (p, line, "-- cache: '%.*s' must be seconds 0..%d", (int) vlen, val,
                     QUERY_CACHE_MAX);
    p->cur->cache_s = (uint32_t) v;
    return 0;
}

static int
sql_line (parser_t *p, uint32_t line, const char *s, size_t len)
{
    if (!p->cur)
        return fail (p, line, "SQL before any -- name: line");
    if (memchr (s, 0, len))
        return fail (p, line, "NUL byte in SQL");
    p->in_sql = true;
    if (p->sql_len + len + 2 > p->sql_cap) {
        size_t cap = (p->sql_len + len + 2) * 2;
        char *b = (char *) realloc (p->sql, cap);
        if (!b)
            return fail (p, line, "out of memory");
        p->sql = b;
        p->sql_cap = cap;
    }
    memcpy (p->sql + p->sql_len, s, len);
    p->sql_len += len;
    p->sql[p->sql_len++] = '\n';
    p->sql[p->sql_len] = 0;
    return 0;
}

static int
parse_line (parser_t *p, uint32_t line, const char *s, size_t len)
{
    s = trim (s, &len);
    if (len == 0)
        return 0;
    if (len >= 2 && s[0] == '-' && s[1] == '-') {
        size_t cl = len - 2;
        const char *c = trim (s + 2, &cl);
        const char *colon = memchr (c, ':', cl);
        if (!colon)
            return 0;
        size_t kl = (size_t) (colon - c);
        if (kl == 4 && memcmp (c, "name", 4) == 0) {
            size_t nl = cl - kl - 1;
            const char *name = trim (colon + 1, &nl);
            return start_block (p, line, name, nl);
        }
        return annotation (p, line, c, kl, colon + 1, cl - kl - 1);
    }
    return sql_line (p, line, s, len);
}

query_catalog_t *
query_catalog_parse (const char *text, size_t len, const char *origin, char *err,
                     size_t errlen)
{
    parser_t p = { origin ? origin : "queries", err, errlen, NULL, NULL,
                   false, false, false, false, false, NULL, 0, 0 };
    p.cat = query_catalog_empty ();
    if (!p.cat)
        return NULL;
    int rc = 0;
    uint32_t line = 1;
    const char *s = text, *end = text + len;
    while (s < end && !rc) {
        const char *nl = memchr (s, '\n', (size_t) (end - s));
        size_t n = nl ? (size_t) (nl - s) : (size_t) (end - s);
        rc = parse_line (&p, line++, s, n);
        s = nl ? nl + 1 : end;
    }
    if (!rc)
        rc = finish_block (&p);
    if (!rc && p.cat->n == 0)
        rc = fail (&p, line > 1 ? line - 1 : 1, "no queries (a block starts with -- name: x)");
    free (p.sql);
    if (rc) {
        query_catalog_destroy (&p.cat);
        return NULL;
    }
    return p.cat;
}

query_catalog_t *
query_catalog_load (const char *path, char *err, size_t errlen)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        snprintf (err, errlen, "cannot open queries file '%s': %s", path, strerror (errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    while (true) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = (cap > (64u << 20)) ? NULL : (char *) realloc (buf, cap);
            if (!b) {
                snprintf (err, errlen, "queries file '%s' is over 64 MiB", path);
                free (buf);
                fclose (f);
                return NULL;
            }
            buf = b;
        }
        size_t n = fread (buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    bool failed = ferror (f);
    fclose (f);
    if (failed) {
        snprintf (err, errlen, "cannot read queries file '%s'", path);
        free (buf);
        return NULL;
    }
    query_catalog_t *c = query_catalog_parse (buf, len, path, err, errlen);
    free (buf);
    return c;
}

query_catalog_t *
query_catalog_empty (void)
{
    query_catalog_t *self = (query_catalog_t *) calloc (1, sizeof (query_catalog_t));
    if (self)
        self->refs = 1;
    return self;
}

query_catalog_t *
query_catalog_ref (query_catalog_t *self)
{
    self->refs++;
    return self;
}

void
query_catalog_destroy (query_catalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    query_catalog_t *self = *self_p;
    *self_p = NULL;
    if (--self->refs > 0)
        return;
    for (size_t i = 0; i < self->n; i++)
        def_free (&self->defs[i]);
    free (self->defs);
    free (self);
    *self_p = NULL;
}

size_t
query_catalog_size (const query_catalog_t *self)
{
    return self->n;
}

const query_def_t *
query_catalog_at (const query_catalog_t *self, size_t i)
{
    return i < self->n ? &self->defs[i] : NULL;
}

const query_def_t *
query_catalog_find (const query_catalog_t *self, const char *name, size_t len,
                    size_t *index)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->defs[i].name && strlen (self->defs[i].name) == len
            && memcmp (self->defs[i].name, name, len) == 0) {
            if (index)
                *index = i;
            return &self->defs[i];
        }
    return NULL;
}
