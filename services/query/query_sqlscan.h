/*  query_sqlscan: the little SQL reading the query service needs.
 *
 *  Not a parser: a tokenizer that knows where SQL's strings, quoted
 *  identifiers, dollar quotes and comments are, so the words it reports are
 *  real keywords and identifiers. Used to classify a catalog query as a read
 *  or a write and to derive the tables a read depends on (its default cache
 *  tags).
 */
#ifndef QUERY_SQLSCAN_H
#define QUERY_SQLSCAN_H

#include <stdbool.h>
#include <stddef.h>

/*  Is sql (NUL-terminated, one statement) a read: it starts with SELECT,
 *  VALUES or TABLE, or with WITH and contains none of the words INSERT,
 *  UPDATE, DELETE, MERGE (a data-modifying CTE)? Anything else (INSERT,
 *  UPDATE, CALL, DO, ...) is a write. A SELECT calling a function with side
 *  effects is not detected: declare such a query's `-- invalidates:`. */
bool query_sql_is_read (const char *sql);

/*  May sql (NUL-terminated, one statement) run as ad-hoc SQL: a read by
 *  query_sql_is_read, or SHOW? Everything else is refused before it reaches
 *  PostgreSQL, in particular what a read-only transaction allows but its
 *  ROLLBACK does not undo on the pooled connection: PREPARE, DEALLOCATE,
 *  EXECUTE, DECLARE, LISTEN, DISCARD, SET (undone, but refused as well). */
bool query_sql_is_adhoc_read (const char *sql);

/*  Call fn for every table name read by sql: the identifier after each FROM
 *  and JOIN keyword and after each comma of a FROM list (at its own
 *  parenthesis depth, up to WHERE, GROUP, ORDER, ...), schema qualifier
 *  dropped, quoted names unquoted. It over-approximates (a CTE's name, a
 *  column in EXTRACT (x FROM col)) and may repeat names; the caller
 *  deduplicates. fn gets name[0..len). */
typedef void (query_sql_table_fn) (const char *name, size_t len, void *arg);
void query_sql_tables (const char *sql, query_sql_table_fn *fn, void *arg);

/*  Has sql (NUL-terminated) more than one statement: a ';' outside strings
 *  and comments followed by anything but blanks, comments or more ';'? */
bool query_sql_multiple (const char *sql);

#endif
