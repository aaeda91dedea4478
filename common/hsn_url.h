/*  hsn_url: parse the service URLs users set (REDIS_URL). */
#ifndef HSN_URL_H
#define HSN_URL_H

#include <stddef.h>

/*  Parse redis://[:password@]host[:port][/db]. Defaults: port 6379, db 0.
 *  Returns 0, or -EINVAL (outputs untouched). */
int hsn_url_redis (const char *url, char *host, size_t hostlen, int *port,
                   int *db, char *password, size_t passlen);

#endif
