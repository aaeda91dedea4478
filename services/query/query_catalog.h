/*  query_catalog: the named queries a query replica serves.
 *
 *  Parsed from a queries file in the sqlc/yesql style (QUERIES_FILE,
 *  default deploy/queries.sql):
 *
 *      -- name: user_by_id
 *      -- params: id:int
 *      -- cache: 60
 *      -- tags: users
 *      SELECT id, email FROM users WHERE id = $1;
 *
 *  A block starts at a `-- name:` line. `-- params:` declares the
 *  parameters, in the order of the placeholders $1..$n, each name:type with
 *  type one of int, float, text, bool, json, timestamp, numeric, bytea.
 *  `-- cache:` is seconds a result may be cached (0, the default: never),
 *  `-- invalidates:` the cache tags a successful run drops (by convention
 *  the tables it writes), `-- tags:` the tags a cached result is stored
 *  under (by default the tables the SQL reads: the names after FROM and
 *  JOIN, see query_sqlscan.h). Other `--` lines are comments.
 *
 *  A query writes when it has `-- invalidates:` or its SQL is not a read
 *  (query_sql_is_read); a writing query cannot have `-- cache:`. The SQL is every other line up to the next `-- name:`, one
 *  statement, a trailing `;` removed.
 *
 *  A catalog is immutable once parsed: a reload (SIGHUP) parses a new one
 *  and swaps the pointer, so a reader never sees a half-built catalog. It is
 *  reference counted so that requests in flight keep the catalog they
 *  started with.
 */
#ifndef QUERY_CATALOG_H
#define QUERY_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERY_NAME_MAX     63      /* bytes; a PostgreSQL identifier's limit */
#define QUERY_SQL_DIGEST_LEN 20    /* SHA-1 */
#define QUERY_PARAMS_MAX   32
#define QUERY_TAGS_MAX     16
#define QUERY_CACHE_MAX    86400   /* seconds */
#define QUERY_CATALOG_MAX  1000    /* queries per file */

typedef enum {
    QUERY_T_INT = 1,
    QUERY_T_FLOAT,
    QUERY_T_TEXT,
    QUERY_T_BOOL,
    QUERY_T_JSON,
    QUERY_T_TIMESTAMP,
    QUERY_T_NUMERIC,
    QUERY_T_BYTEA
} query_type_t;

typedef struct {
    char *name;
    query_type_t type;
} query_param_t;

typedef struct {
    char *name;                 /* [a-z_][a-z0-9_]*, at most QUERY_NAME_MAX */
    uint32_t line;              /* of its `-- name:` line */
    query_param_t *params;      /* in placeholder order */
    size_t nparams;
    uint32_t cache_s;           /* 0: never cache */
    char **invalidates;         /* tags */
    size_t ninvalidates;
    char **tags;                /* tags of a cached result */
    size_t ntags;
    bool writes;
    char *sql;                  /* one statement, no trailing ';' */
    uint8_t sql_digest[QUERY_SQL_DIGEST_LEN];   /* SHA-1 of sql: its part of a cache key */
} query_def_t;

typedef struct query_catalog query_catalog_t;

/*  Parse text[0..len). origin names the source in errors ("file:line: ...").
 *  Rejects: SQL before the first `-- name:`, a bad or duplicate name, an
 *  annotation given twice or malformed, an unknown or duplicate parameter
 *  name or type, an empty statement, placeholders that do not number
 *  exactly $1..$nparams. Returns NULL with the first error in err. */
query_catalog_t *query_catalog_parse (const char *text, size_t len,
                                      const char *origin, char *err,
                                      size_t errlen);

/*  Read and parse the file at path. NULL with the reason in err. */
query_catalog_t *query_catalog_load (const char *path, char *err, size_t errlen);

/*  A catalog with no queries (a replica started without a queries file). */
query_catalog_t *query_catalog_empty (void);

/*  Take one more reference; returns self. */
query_catalog_t *query_catalog_ref (query_catalog_t *self);

/*  Drop one reference (the last frees it). NULL-safe; nulls *self_p. */
void query_catalog_destroy (query_catalog_t **self_p);

/*  Number of queries, and query i (0 <= i < size), in file order. */
size_t query_catalog_size (const query_catalog_t *self);
const query_def_t *query_catalog_at (const query_catalog_t *self, size_t i);

/*  The query named name[0..len), or NULL; *index (may be NULL) gets its
 *  position. */
const query_def_t *query_catalog_find (const query_catalog_t *self,
                                       const char *name, size_t len,
                                       size_t *index);

/*  "int", "float", ... ; the inverse returns 0 for an unknown name. */
const char *query_type_name (query_type_t type);
query_type_t query_type_by_name (const char *name, size_t len);

#endif
