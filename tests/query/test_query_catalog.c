/*  query_catalog: the queries file parser, accepting and rejecting, with
 *  the line numbers its errors name. */
#include <stdio.h>
#include <string.h>

#include "hsn_test.h"
#include "query/query_catalog.h"
#include "query/query_sqlscan.h"

static char err[512];

static query_catalog_t *
parse (const char *text)
{
    err[0] = 0;
    return query_catalog_parse (text, strlen (text), "q.sql", err, sizeof err);
}

/*  text must be rejected with an error starting with "q.sql:<line>: " and
 *  containing needle. */
static void
rejects (const char *text, unsigned line, const char *needle)
{
    query_catalog_t *c = parse (text);
    ck_assert_msg (c == NULL, "accepted: %s", text);
    char prefix[32];
    snprintf (prefix, sizeof prefix, "q.sql:%u: ", line);
    ck_assert_msg (strncmp (err, prefix, strlen (prefix)) == 0, "error '%s' not at line %u",
                   err, line);
    ck_assert_msg (strstr (err, needle), "error '%s' lacks '%s'", err, needle);
}

START_TEST (accepts_every_annotation)
{
    query_catalog_t *c = parse (
        "-- a file comment\n"
        "\n"
        "-- name: user_by_id\n"
        "-- params: id:int, email : text ,ok:bool\n"
        "-- cache: 60\n"
        "-- tags: users, orders\n"
        "-- a comment: inside the block\n"
        "SELECT id FROM users\n"
        "  WHERE id = $1 AND email = $2 AND active = $3;  \n"
        "\n"
        "-- name: all_types\n"
        "-- params: a:float, b:json, c:timestamp, d:numeric, e:bytea\n"
        "SELECT $1, $2, $3, $4, $5, '$9', $$ $7 $$, $x$ $8 $x$ -- $6\n"
        "/* $10 */\n"
        "-- name: no_params\n"
        "SELECT 1\n");
    ck_assert_msg (c != NULL, "%s", err);
    ck_assert_uint_eq (query_catalog_size (c), 3);
    const query_def_t *d = query_catalog_find (c, "user_by_id", 10, NULL);
    ck_assert_ptr_nonnull (d);
    ck_assert_uint_eq (d->line, 3);
    ck_assert_uint_eq (d->nparams, 3);
    ck_assert_str_eq (d->params[0].name, "id");
    ck_assert_int_eq (d->params[0].type, QUERY_T_INT);
    ck_assert_str_eq (d->params[1].name, "email");
    ck_assert_int_eq (d->params[1].type, QUERY_T_TEXT);
    ck_assert_int_eq (d->params[2].type, QUERY_T_BOOL);
    ck_assert_uint_eq (d->cache_s, 60);
    ck_assert_uint_eq (d->ninvalidates, 0);
    ck_assert_uint_eq (d->ntags, 2);
    ck_assert_str_eq (d->tags[0], "users");
    ck_assert_str_eq (d->tags[1], "orders");
    ck_assert (!d->writes);
    ck_assert_str_eq (d->sql, "SELECT id FROM users\nWHERE id = $1 AND email = $2 AND active = $3");
    size_t idx;
    d = query_catalog_find (c, "all_types", 9, &idx);
    ck_assert_uint_eq (idx, 1);
    ck_assert_uint_eq (d->nparams, 5);
    ck_assert_int_eq (d->params[4].type, QUERY_T_BYTEA);
    ck_assert_uint_eq (d->cache_s, 0);
    d = query_catalog_at (c, 2);
    ck_assert_str_eq (d->name, "no_params");
    ck_assert_uint_eq (d->nparams, 0);
    ck_assert_ptr_null (query_catalog_find (c, "user_by", 7, NULL));
    ck_assert_ptr_null (query_catalog_at (c, 3));
    query_catalog_destroy (&c);
    ck_assert_ptr_null (c);
    query_catalog_destroy (&c);
}
END_TEST

START_TEST (writes_and_derived_tags)
{
    query_catalog_t *c = parse (
        "-- name: joined\n"
        "-- cache: 5\n"
        "SELECT * FROM public.users u JOIN \"Orders\" o ON o.uid = u.id,\n"
        "  items AS i LEFT JOIN lines l ON true WHERE 'FROM fake' <> $$JOIN x$$\n"
        "-- name: ins\n"
        "INSERT INTO t VALUES (1)\n"
        "-- name: upd_cte\n"
        "WITH x AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM x\n"
        "-- name: sel_cte\n"
        "with x as (select 1) select * from x\n"
        "-- name: declared\n"
        "-- invalidates: t\n"
        "SELECT f()\n");
    ck_assert_msg (c != NULL, "%s", err);
    const query_def_t *d = query_catalog_at (c, 0);
    ck_assert (!d->writes);
    ck_assert_uint_eq (d->ntags, 4);
    ck_assert_str_eq (d->tags[0], "users");
    ck_assert_str_eq (d->tags[1], "Orders");
    ck_assert_str_eq (d->tags[2], "items");
    ck_assert_str_eq (d->tags[3], "lines");
    ck_assert (query_catalog_at (c, 1)->writes);
    ck_assert (query_catalog_at (c, 2)->writes);
    ck_assert (!query_catalog_at (c, 3)->writes);
    ck_assert_uint_eq (query_catalog_at (c, 3)->ntags, 1);     /* the CTE's name */
    ck_assert (query_catalog_at (c, 4)->writes);
    ck_assert_uint_eq (query_catalog_at (c, 4)->ntags, 0);
    query_catalog_destroy (&c);

    ck_assert (!query_sql_multiple ("SELECT 1;"));
    ck_assert (!query_sql_multiple ("SELECT ';' ; -- x; y\n ;"));
    ck_assert (!query_sql_multiple ("SELECT $a$ ; $a$, E'\\' ;', \"a;b\" /* ; */"));
    ck_assert (query_sql_multiple ("SELECT 1; SELECT 2"));
    ck_assert (query_sql_multiple ("SELECT 1;/**/COMMIT"));
}
END_TEST

START_TEST (adhoc_reads_only)
{
    static const char *const ok[] = { "SELECT 1", " ((select 1))", "-- c\nVALUES (1)",
                                      "TABLE items", "show ALL", "WITH t AS (SELECT 1) TABLE t",
                                      "/* DEALLOCATE ALL */ SELECT 'PREPARE'", NULL };
    static const char *const no[] = { "DEALLOCATE ALL", "PREPARE s0 AS SELECT 1", "EXECUTE s0",
                                      "SET search_path = x", "RESET ALL", "DISCARD ALL",
                                      "LISTEN x", "NOTIFY x", "DECLARE c CURSOR FOR SELECT 1",
                                      "EXPLAIN SELECT 1", "COPY t TO STDOUT", "BEGIN", "CALL p()",
                                      "WITH t AS (DELETE FROM t RETURNING 1) SELECT 1",
                                      "\"SELECT\"", "", "-- only a comment", NULL };
    for (int i = 0; ok[i]; i++)
        ck_assert_msg (query_sql_is_adhoc_read (ok[i]), "refused: %s", ok[i]);
    for (int i = 0; no[i]; i++)
        ck_assert_msg (!query_sql_is_adhoc_read (no[i]), "accepted: %s", no[i]);
}
END_TEST

START_TEST (references_keep_a_catalog)
{
    query_catalog_t *c = parse ("-- name: a\nSELECT 1\n");
    ck_assert_ptr_nonnull (c);
    query_catalog_t *other = query_catalog_ref (c);
    query_catalog_destroy (&c);
    ck_assert_ptr_null (c);
    ck_assert_str_eq (query_catalog_at (other, 0)->name, "a");     /* still there */
    query_catalog_destroy (&other);
}
END_TEST

START_TEST (type_names_round_trip)
{
    const char *names[] = { "int", "float", "text", "bool", "json", "timestamp", "numeric",
                            "bytea" };
    for (size_t i = 0; i < 8; i++) {
        query_type_t t = query_type_by_name (names[i], strlen (names[i]));
        ck_assert_int_ne (t, 0);
        ck_assert_str_eq (query_type_name (t), names[i]);
    }
    ck_assert_int_eq (query_type_by_name ("integer", 7), 0);
    ck_assert_ptr_null (query_type_name (0));
}
END_TEST

START_TEST (rejects_with_line_numbers)
{
    rejects ("SELECT 1\n", 1, "SQL before any -- name:");
    rejects ("\n-- params: id:int\n", 2, "before any -- name:");
    rejects ("-- name: a\nSELECT 1\n\n-- name: a\nSELECT 2\n", 4,
             "duplicate query name 'a' (first defined on line 1)");
    rejects ("-- name: 1abc\nSELECT 1\n", 1, "invalid query name '1abc'");
    rejects ("-- name: a-b\nSELECT 1\n", 1, "invalid query name 'a-b'");
    rejects ("-- name:\nSELECT 1\n", 1, "invalid query name ''");
    rejects ("-- name: a\n-- params: id:integer\nSELECT $1\n", 2, "unknown type 'integer'");
    rejects ("-- name: a\n-- params: id\nSELECT $1\n", 2, "must be name:type");
    rejects ("-- name: a\n-- params: id:int, id:text\nSELECT $1, $2\n", 2,
             "parameter 'id' declared twice");
    rejects ("-- name: a\n-- params: id:int,,x:int\nSELECT $1, $2\n", 2, "empty item");
    rejects ("-- name: a\n-- params: id:int\nSELECT $1, $2\n", 1,
             "placeholders up to $2 but -- params declares 1");
    rejects ("-- name: a\n-- params: id:int, x:int\nSELECT $1\n", 1,
             "placeholders up to $1 but -- params declares 2");
    rejects ("-- name: a\n-- params: id:int, x:int\nSELECT $2, $2\n", 1,
             "placeholder $1 (parameter 'id') is never used");
    rejects ("-- name: a\nSELECT '$1', $1\n", 1, "up to $1 but -- params declares 0");
    rejects ("-- name: a\n-- params: x:int\nSELECT '$1'\n", 1,
             "SQL uses no placeholders but -- params declares 1");
    rejects ("-- name: a\nSELECT $0\n", 1, "placeholder $0 out of range");
    rejects ("-- name: a\n-- cache: 60\n-- cache: 10\nSELECT 1\n", 3, "given twice");
    rejects ("-- name: a\n-- cache: -1\nSELECT 1\n", 2, "-- cache: '-1' must be seconds");
    rejects ("-- name: a\n-- cache: 86401\nSELECT 1\n", 2, "must be seconds 0..86400");
    rejects ("-- name: a\n-- cache: 5s\nSELECT 1\n", 2, "must be seconds");
    rejects ("-- name: a\nSELECT 1\n-- cache: 5\n", 3, "after the SQL of query 'a'");
    rejects ("-- name: a\n-- invalidates: users, bad tag\nSELECT 1\n", 2, "invalid tag 'bad tag'");
    rejects ("-- name: a\n-- tags: x\n-- tags: y\nSELECT 1\n", 3, "given twice");
    rejects ("-- name: a\n-- cache: 5\n-- invalidates: t\nSELECT 1\n", 1,
             "query 'a' writes");
    rejects ("-- name: a\n-- cache: 5\nDELETE FROM t\n", 1, "cannot have -- cache:");
    rejects ("-- name: a\n-- cache: 5\nWITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d\n",
             1, "cannot have -- cache:");
    rejects ("-- name: a\n-- cache: 5\n\n-- name: b\nSELECT 1\n", 1, "query 'a' has no SQL");
    rejects ("-- name: a\n ;\n", 1, "query 'a' has no SQL");
    rejects ("", 1, "no queries");
    rejects ("-- just a comment\n", 1, "no queries");
}
END_TEST

START_TEST (the_demo_file_parses)
{
    query_catalog_t *c = query_catalog_load ("deploy/queries.sql", err, sizeof err);
    ck_assert_msg (c != NULL, "%s", err);
    ck_assert_uint_ge (query_catalog_size (c), 5);
    const query_def_t *d = query_catalog_find (c, "user_create", 11, NULL);
    ck_assert_ptr_nonnull (d);
    ck_assert_uint_eq (d->ninvalidates, 1);
    query_catalog_destroy (&c);
    ck_assert_ptr_null (query_catalog_load ("deploy/no-such-file.sql", err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "no-such-file.sql"));
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("query_catalog");
    TCase *tc = tcase_create ("catalog");
    tcase_add_test (tc, accepts_every_annotation);
    tcase_add_test (tc, type_names_round_trip);
    tcase_add_test (tc, writes_and_derived_tags);
    tcase_add_test (tc, adhoc_reads_only);
    tcase_add_test (tc, references_keep_a_catalog);
    tcase_add_test (tc, rejects_with_line_numbers);
    tcase_add_test (tc, the_demo_file_parses);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
