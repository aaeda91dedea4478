/*  gateway_auth: API keys.
 *
 *  With keys configured (API_KEYS="k1,k2" and/or API_KEYS_FILE, one key a
 *  line), every route but the open ones (health, OpenAPI, the dashboard)
 *  needs one, as "X-API-Key: k" or "Authorization: Bearer k". Keys are
 *  compared in constant time. With none configured the gateway runs open
 *  (main warns at start-up).
 */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gateway_auth gateway_auth_t;

/*  keys: comma-separated (may be empty); file: path or NULL/empty. Returns
 *  NULL with a reason in err when the file cannot be read or a key is
 *  shorter than 16 or longer than 256 characters. */
gateway_auth_t *gateway_auth_new (const char *keys, const char *file, char *err,
                                  size_t errlen);
void gateway_auth_destroy (gateway_auth_t **self_p);

/*  Number of keys (0: the gateway is open). */
size_t gateway_auth_count (const gateway_auth_t *self);

/*  The key a request presents (X-API-Key, else a Bearer token), or NULL;
 *  header looks a field up by name (NULL when absent). */
const char *gateway_auth_presented (const char *(*header) (void *ctx, const char *name),
                                    void *ctx);

/*  Is key one of ours? (constant time in the key's bytes) */
bool gateway_auth_valid (const gateway_auth_t *self, const char *key);

#endif
