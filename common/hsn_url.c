/*  hsn_url: URL parsing. See hsn_url.h. */
#include "hsn_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
parse_int (const char *s, size_t n, int min, int max, int *out)
{
    if (n == 0 || n > 9)
        return -EINVAL;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int
hsn_url_redis (const char *url, char *host, size_t hostlen, int *port, int *db,
               char *password, size_t passlen)
{
    const char *p = url;
    if (strncmp (p, "redis://", 8) != 0)
        return -EINVAL;
    p += 8;
    const char *end = p + strcspn (p, "/");
    const char *at = memchr (p, '@', (size_t) (end - p));
    char pass[128] = "";
    if (at) {
        const char *colon = memchr (p, ':', (size_t) (at - p));
        const char *pw = colon ? colon + 1 : p;
        if ((size_t) (at - pw) >= sizeof pass || (size_t) (at - pw) >= passlen)
            return -EINVAL;
        memcpy (pass, pw, (size_t) (at - pw));
        pass[at - pw] = 0;
        p = at + 1;
    }
    const char *colon = memchr (p, ':', (size_t) (end - p));
    const char *hend = colon ? colon : end;
    if (hend == p || (size_t) (hend - p) >= hostlen)
        return -EINVAL;
    int prt = 6379, d = 0;
    if (colon && parse_int (colon + 1, (size_t) (end - colon - 1), 1, 65535, &prt))
        return -EINVAL;
    if (*end == '/' && end[1] && parse_int (end + 1, strlen (end + 1), 0, 1000, &d))
        return -EINVAL;
    memcpy (host, p, (size_t) (hend - p));
    host[hend - p] = 0;
    *port = prt;
    *db = d;
    if (password && passlen)
        snprintf (password, passlen, "%s", pass);
    return 0;
}
