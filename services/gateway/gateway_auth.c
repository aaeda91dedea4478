/*  gateway_auth: API keys. See gateway_auth.h. */
#include "gateway_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_MIN 16
#define KEY_MAX 256
#define KEYS_MAX 1024

struct gateway_auth {
    char *keys[KEYS_MAX];
    size_t count;
};

static int
add_key (gateway_auth_t *self, const char *k, size_t n, const char *var, char *err,
         size_t errlen)
{
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\r' || k[n - 1] == '\n' || k[n - 1] == '\t'))
        n--;
    while (n && (*k == ' ' || *k == '\t')) {
        k++;
        n--;
    }
    if (n == 0 || *k == '#')
        return 0;                       /* blank line or comment */
    if (n < KEY_MIN || n > KEY_MAX || self->count == KEYS_MAX) {
        snprintf (err, errlen, "invalid %s: a key of %zu characters: each must be %d..%d "
                  "(at most %d keys)", var, n, KEY_MIN, KEY_MAX, KEYS_MAX);
        return -1;
    }
    self->keys[self->count++] = strndup (k, n);
    return 0;
}

gateway_auth_t *
gateway_auth_new (const char *keys, const char *file, char *err, size_t errlen)
{
    gateway_auth_t *self = (gateway_auth_t *) calloc (1, sizeof *self);
    const char *p = keys ? keys : "";
    while (*p) {
        size_t n = strcspn (p, ",");
        if (add_key (self, p, n, "API_KEYS", err, errlen)) {
            gateway_auth_destroy (&self);
            return NULL;
        }
        p += n + (p[n] == ',');
    }
    if (file && *file) {
        FILE *f = fopen (file, "r");
        if (!f) {
            snprintf (err, errlen, "invalid API_KEYS_FILE '%s': cannot be read", file);
            gateway_auth_destroy (&self);
            return NULL;
        }
        char line[KEY_MAX + 64];
        while (fgets (line, sizeof line, f))
            if (add_key (self, line, strlen (line), "API_KEYS_FILE", err, errlen)) {
                fclose (f);
                gateway_auth_destroy (&self);
                return NULL;
            }
        fclose (f);
    }
    return self;
}

void
gateway_auth_destroy (gateway_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->count; i++)
        free ((*self_p)->keys[i]);
    free (*self_p);
    *self_p = NULL;
}

size_t
gateway_auth_count (const gateway_auth_t *self)
{
    return self ? self->count : 0;
}

const char *
gateway_auth_presented (const char *(*header) (void *ctx, const char *name), void *ctx)
{
    const char *k = header (ctx, "X-API-Key");
    if (k)
        return k;
    const char *a = header (ctx, "Authorization");
    if (a && strncasecmp (a, "Bearer ", 7) == 0)
        return a + 7;
    return NULL;
}

/*  Equal strings, in time that depends on the lengths only. */
static bool
same (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char) (a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

bool
gateway_auth_valid (const gateway_auth_t *self, const char *key)
{
    if (!key || strlen (key) > KEY_MAX)
        return false;
    bool ok = false;
    for (size_t i = 0; i < self->count; i++)
        ok |= same (key, self->keys[i]);
    return ok;
}
