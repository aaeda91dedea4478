/*  gateway_front_parse: HTTP/1.x request heads (RFC 9112), strictly.
 *
 *  Strict where leniency lets two parsers disagree about where a request
 *  ends (request smuggling): no whitespace before a field's colon, no
 *  obsolete line folding, no control bytes, one Content-Length value, never
 *  with Transfer-Encoding. Bare LF line ends are accepted, as civetweb and
 *  nginx do.
 */
#include "gateway_front_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
is_tchar (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c && strchr ("!#$%&'*+-.^_`|~", c));
}

/*  Offset just past the empty line ending the head, or 0 when not there
 *  yet. */
static size_t
head_end (const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/*  Does the comma-separated list value contain token (any case)? */
static bool
has_token (const char *value, const char *token)
{
    size_t n = strlen (token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t m = strcspn (p, ",");
        size_t t = m;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == n && strncasecmp (p, token, n) == 0)
            return true;
        p += m;
    }
    return false;
}

/*  Cut the line at p (ending in LF or CRLF) with a NUL; returns the next. */
static char *
cut_line (char *p, char **end_out)
{
    char *lf = strchr (p, '\n');
    char *end = lf;
    if (end > p && end[-1] == '\r')
        end--;
    *end = 0;
    *end_out = end;
    return lf + 1;
}

static int
field (front_head_t *h, char *line, char *end)
{
    if (*line == ' ' || *line == '\t')
        return -400;                    /* obsolete line folding */
    char *colon = line;
    while (colon < end && is_tchar ((unsigned char) *colon))
        colon++;
    if (colon == line || colon == end || *colon != ':')
        return -400;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *ve = end;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        *--ve = 0;
    for (char *q = v; q < ve; q++)
        if (((unsigned char) *q < 0x20 && *q != '\t') || *q == 0x7f)
            return -400;
    if (h->nfields == FRONT_MAX_FIELDS)
        return -431;
    h->name[h->nfields] = line;
    h->value[h->nfields++] = v;
    if (strcasecmp (line, "Content-Length") == 0) {
        if (*v < '0' || *v > '9' || ve - v > 15)
            return -400;
        char *e;
        long long n = strtoll (v, &e, 10);
        if (e != ve || (h->content_length >= 0 && h->content_length != n))
            return -400;
        h->content_length = n;
    }
    else if (strcasecmp (line, "Transfer-Encoding") == 0)
        h->transfer_encoding = true;
    else if (strcasecmp (line, "Connection") == 0) {
        h->conn_close |= has_token (v, "close");
        h->conn_keep_alive |= has_token (v, "keep-alive");
    }
    else if (strcasecmp (line, "Expect") == 0)
        h->expect_continue |= strcasecmp (v, "100-continue") == 0;
    return 0;
}

int
front_parse (char *buf, size_t len, size_t max_head, front_head_t *h)
{
    /*  Empty lines before a request line are to be ignored (RFC 9112 2.2). */
    size_t skip = 0;
    while (skip < len && skip < max_head && (buf[skip] == '\r' || buf[skip] == '\n'))
        skip++;
    if (skip == len)
        return len >= max_head ? -400 : 0;
    size_t scan = len < max_head ? len : max_head;
    size_t end = skip + head_end (buf + skip, scan - skip);
    if (end == skip)
        return len >= max_head ? -431 : 0;
    if (memchr (buf, 0, end))
        return -400;
    memset (h, 0, sizeof *h);
    h->content_length = -1;
    h->head_len = end;
    buf[end - 1] = 0;                   /* the last LF: strchr stops here */
    char *p = buf + skip, *line_end;
    char *next = cut_line (p, &line_end);
    /*  method SP target SP HTTP/1.x */
    char *sp1 = strchr (p, ' ');
    if (!sp1 || sp1 == p)
        return -400;
    for (char *q = p; q < sp1; q++)
        if (!is_tchar ((unsigned char) *q))
            return -400;
    *sp1 = 0;
    h->method = p;
    char *target = sp1 + 1;
    char *sp2 = strchr (target, ' ');
    if (!sp2 || sp2 == target)
        return -400;
    *sp2 = 0;
    for (char *q = target; *q; q++)
        if ((unsigned char) *q <= 0x20 || *q == 0x7f)
            return -400;
    /*  origin-form ("/path?query"), asterisk-form ("*", OPTIONS) or
     *  absolute-form ("http://host/path"): anything else is no target. */
    if (target[0] != '/' && strcmp (target, "*") != 0 && strncasecmp (target, "http://", 7) != 0
        && strncasecmp (target, "https://", 8) != 0)
        return -400;
    const char *ver = sp2 + 1;
    if (strncmp (ver, "HTTP/", 5) != 0)
        return -400;
    if (strcmp (ver + 5, "1.1") == 0)
        h->minor = 1;
    else if (strcmp (ver + 5, "1.0") == 0)
        h->minor = 0;
    else
        return -505;
    h->path = target;
    char *qm = strchr (target, '?');
    if (qm) {
        *qm = 0;
        h->query = qm + 1;
    }
    while (next < buf + end - 1 && *next != '\n' && !(next[0] == '\r' && next[1] == '\n')) {
        char *line = next;
        if (!strchr (line, '\n'))
            break;
        next = cut_line (line, &line_end);
        int rc = field (h, line, line_end);
        if (rc)
            return rc;
    }
    if (h->transfer_encoding && h->content_length >= 0)
        return -400;
    return 1;
}

const char *
front_field (const front_head_t *h, const char *name)
{
    for (int i = 0; i < h->nfields; i++)
        if (strcasecmp (h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}
