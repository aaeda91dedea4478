/*  hsn_rconn: a self-healing Redis connection. See hsn_rconn.h. */
#include "hsn_rconn.h"
#include "hsn_time.h"
#include "hsn_url.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_MS 100

struct hsn_rconn {
    char host[256];
    char password[128];
    int port, db;
    int timeout_ms;
    redisContext *ctx;
    int64_t next_attempt_ms;
    bool up;
};

hsn_rconn_t *
hsn_rconn_new (const char *url, int timeout_ms)
{
    hsn_rconn_t *self = (hsn_rconn_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (hsn_url_redis (url, self->host, sizeof self->host, &self->port, &self->db,
                       self->password, sizeof self->password)) {
        free (self);
        return NULL;
    }
    self->timeout_ms = timeout_ms;
    return self;
}

void
hsn_rconn_destroy (hsn_rconn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->ctx)
        redisFree ((*self_p)->ctx);
    free (*self_p);
    *self_p = NULL;
}

static bool
command_ok (redisContext *c, const char *fmt, const char *arg)
{
    redisReply *r = (redisReply *) redisCommand (c, fmt, arg);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject (r);
    return ok;
}

redisContext *
hsn_rconn_open (const hsn_rconn_t *self)
{
    struct timeval tv = { self->timeout_ms / 1000, (self->timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout (self->host, self->port, tv);
    if (!c || c->err) {
        if (c)
            redisFree (c);
        return NULL;
    }
    redisSetTimeout (c, tv);
    redisEnableKeepAlive (c);
    char db[16];
    snprintf (db, sizeof db, "%d", self->db);
    if ((*self->password && !command_ok (c, "AUTH %s", self->password))
        || (self->db && !command_ok (c, "SELECT %s", db))) {
        redisFree (c);
        return NULL;
    }
    return c;
}

redisContext *
hsn_rconn_get (hsn_rconn_t *self)
{
    if (self->ctx)
        return self->ctx;
    int64_t now = hsn_now_ms ();
    if (now < self->next_attempt_ms)
        return NULL;
    self->next_attempt_ms = now + BACKOFF_MS;
    self->ctx = hsn_rconn_open (self);
    self->up = self->ctx != NULL;
    return self->ctx;
}

void
hsn_rconn_failed (hsn_rconn_t *self)
{
    if (self->ctx)
        redisFree (self->ctx);
    self->ctx = NULL;
    self->up = false;
}

bool
hsn_rconn_up (const hsn_rconn_t *self)
{
    return self->up;
}
