/*  query_sqlscan: SQL tokens for classification. See query_sqlscan.h. */
#include "query_sqlscan.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

typedef enum { TOK_END, TOK_WORD, TOK_QIDENT, TOK_PUNCT, TOK_OTHER } tok_kind_t;

typedef struct {
    tok_kind_t kind;
    const char *s;              /* word or identifier (without its quotes) */
    size_t len;
    char c;                     /* TOK_PUNCT */
} tok_t;

static bool
word_start (char c)
{
    return isalpha ((unsigned char) c) || c == '_' || (unsigned char) c >= 0x80;
}

static bool
word_char (char c)
{
    return word_start (c) || isdigit ((unsigned char) c) || c == '$';
}

/*  Skip blanks and comments (-- to end of line, nested block comments). */
static const char *
skip_space (const char *p)
{
    while (*p) {
        if (isspace ((unsigned char) *p))
            p++;
        else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        }
        else if (p[0] == '/' && p[1] == '*') {
            int depth = 0;
            while (*p) {
                if (p[0] == '/' && p[1] == '*') {
                    depth++;
                    p += 2;
                }
                else if (p[0] == '*' && p[1] == '/') {
                    p += 2;
                    if (--depth == 0)
                        break;
                }
                else
                    p++;
            }
        }
        else
            break;
    }
    return p;
}

/*  After a quote at p[-1]: skip to after the closing quote q (doubled quotes
 *  stand for one; backslash escapes when escapes is set). */
static const char *
skip_quoted (const char *p, char q, bool escapes)
{
    while (*p) {
        if (escapes && *p == '\\' && p[1])
            p += 2;
        else if (*p == q && p[1] == q)
            p += 2;
        else if (*p == q)
            return p + 1;
        else
            p++;
    }
    return p;
}

/*  The next token from *pp. */
static tok_t
next_tok (const char **pp)
{
    tok_t t = { TOK_END, NULL, 0, 0 };
    const char *p = skip_space (*pp);
    if (!*p) {
        *pp = p;
        return t;
    }
    if ((p[0] == 'E' || p[0] == 'e') && p[1] == '\'') {
        t.kind = TOK_OTHER;
        *pp = skip_quoted (p + 2, '\'', true);
        return t;
    }
    if (word_start (*p)) {
        t.kind = TOK_WORD;
        t.s = p;
        while (word_char (*p))
            p++;
        t.len = (size_t) (p - t.s);
        *pp = p;
        return t;
    }
    if (*p == '\'') {
        t.kind = TOK_OTHER;
        *pp = skip_quoted (p + 1, '\'', false);
        return t;
    }
    if (*p == '"') {
        t.kind = TOK_QIDENT;
        t.s = p + 1;
        const char *e = skip_quoted (p + 1, '"', false);
        t.len = (size_t) (e - t.s) - (e > t.s && e[-1] == '"');
        *pp = e;
        return t;
    }
    if (*p == '$') {
        /*  A placeholder $n, or a dollar quote $tag$ ... $tag$ / $$ ... $$. */
        t.kind = TOK_OTHER;
        if (isdigit ((unsigned char) p[1])) {
            while (isdigit ((unsigned char) *++p))
                ;
            *pp = p;
            return t;
        }
        const char *q = p + 1;
        while (word_char (*q) && *q != '$')
            q++;
        if (*q != '$') {
            *pp = p + 1;
            return t;
        }
        size_t tl = (size_t) (q - p) + 1;
        const char *e = q + 1;
        while (*e && strncmp (e, p, tl) != 0)
            e++;
        *pp = *e ? e + tl : e;
        return t;
    }
    t.kind = TOK_PUNCT;
    t.c = *p;
    *pp = p + 1;
    return t;
}

static bool
is_word (const tok_t *t, const char *w)
{
    return t->kind == TOK_WORD && t->len == strlen (w) && strncasecmp (t->s, w, t->len) == 0;
}

bool
query_sql_is_read (const char *sql)
{
    const char *p = sql;
    tok_t t = next_tok (&p);
    while (t.kind == TOK_PUNCT && t.c == '(')
        t = next_tok (&p);
    if (is_word (&t, "SELECT") || is_word (&t, "VALUES") || is_word (&t, "TABLE"))
        return true;
    if (!is_word (&t, "WITH"))
        return false;
    for (t = next_tok (&p); t.kind != TOK_END; t = next_tok (&p))
        if (is_word (&t, "INSERT") || is_word (&t, "UPDATE") || is_word (&t, "DELETE")
            || is_word (&t, "MERGE"))
            return false;
    return true;
}

bool
query_sql_is_adhoc_read (const char *sql)
{
    const char *p = sql;
    tok_t t = next_tok (&p);
    return is_word (&t, "SHOW") || query_sql_is_read (sql);
}

/*  The table name of an identifier token: after the last '.' of a word
 *  (schema.table); a quoted identifier as is. */
static void
report (const tok_t *t, query_sql_table_fn *fn, void *arg)
{
    const char *s = t->s;
    size_t len = t->len;
    if (t->kind == TOK_WORD) {
        const char *dot = memrchr (s, '.', len);
        if (dot) {
            len -= (size_t) (dot + 1 - s);
            s = dot + 1;
        }
    }
    if (len)
        fn (s, len, arg);
}

/*  Words that end a FROM list at its own nesting depth. */
static bool
ends_from (const tok_t *t)
{
    static const char *const words[] = { "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT",
                                         "OFFSET", "UNION", "EXCEPT", "INTERSECT", "WINDOW",
                                         "FETCH", "FOR", "RETURNING", NULL };
    for (int i = 0; words[i]; i++)
        if (is_word (t, words[i]))
            return true;
    return false;
}

void
query_sql_tables (const char *sql, query_sql_table_fn *fn, void *arg)
{
    const char *p = sql;
    int depth = 0, from_depth = -1;         /* depth of the FROM list we are in */
    bool expect = false;                    /* the next identifier is a table */
    tok_t pending = { TOK_END, NULL, 0, 0 };    /* a table name, unless a '.' follows */
    for (tok_t t = next_tok (&p); t.kind != TOK_END; t = next_tok (&p)) {
        bool dot = t.kind == TOK_PUNCT && t.c == '.';
        if (pending.kind != TOK_END) {
            if (!dot)
                report (&pending, fn, arg);
            pending.kind = TOK_END;
            if (dot) {
                expect = true;              /* schema . table: the table follows */
                continue;
            }
        }
        if (t.kind == TOK_PUNCT && t.c == '(') {
            depth++;
            expect = false;                 /* a subquery or a function call */
            continue;
        }
        if (t.kind == TOK_PUNCT && t.c == ')') {
            depth--;
            if (from_depth > depth)
                from_depth = -1;
            continue;
        }
        if (expect) {
            if (is_word (&t, "ONLY") || is_word (&t, "LATERAL"))
                continue;
            expect = false;
            if (t.kind == TOK_WORD || t.kind == TOK_QIDENT) {
                pending = t;
                continue;
            }
        }
        if (is_word (&t, "FROM")) {
            from_depth = depth;
            expect = true;
        }
        else if (is_word (&t, "JOIN"))
            expect = true;
        else if (t.kind == TOK_PUNCT && t.c == ',' && from_depth == depth)
            expect = true;
        else if (from_depth == depth && ends_from (&t))
            from_depth = -1;
    }
    if (pending.kind != TOK_END)
        report (&pending, fn, arg);
}

bool
query_sql_multiple (const char *sql)
{
    const char *p = sql;
    bool after_semicolon = false;
    for (tok_t t = next_tok (&p); t.kind != TOK_END; t = next_tok (&p)) {
        if (t.kind == TOK_PUNCT && t.c == ';')
            after_semicolon = true;
        else if (after_semicolon)
            return true;
    }
    return false;
}
