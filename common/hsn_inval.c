/*  hsn_inval: cache invalidation channel. See hsn_inval.h. */
#include "hsn_inval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct hsn_inval_sub {
    redisContext *ctx;
    hsn_inval_fn *fn;
    void *arg;
};

int
hsn_inval_encode (char *buf, size_t cap, hsn_inval_kind_t kind, uint64_t origin,
                  const char *payload, size_t len)
{
    if (cap < HSN_INVAL_HEADER + len)
        return -E2BIG;
    static const char hex[] = "0123456789abcdef";
    buf[0] = (char) kind;
    for (int i = 0; i < 16; i++)
        buf[1 + i] = hex[(origin >> (60 - 4 * i)) & 15];
    memcpy (buf + HSN_INVAL_HEADER, payload, len);
    return (int) (HSN_INVAL_HEADER + len);
}

int
hsn_inval_decode (const char *msg, size_t len, hsn_inval_kind_t *kind,
                  uint64_t *origin, const char **payload, size_t *plen)
{
    if (len < HSN_INVAL_HEADER)
        return -EBADMSG;
    char k = msg[0];
    if (k != HSN_INVAL_KEY && k != HSN_INVAL_NS && k != HSN_INVAL_TAG && k != HSN_INVAL_ALL)
        return -EBADMSG;
    uint64_t o = 0;
    for (int i = 0; i < 16; i++) {
        char c = msg[1 + i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -EBADMSG;
        o = (o << 4) | (uint64_t) d;
    }
    *kind = (hsn_inval_kind_t) k;
    *origin = o;
    *payload = msg + HSN_INVAL_HEADER;
    *plen = len - HSN_INVAL_HEADER;
    return 0;
}

int
hsn_inval_append_publish (redisContext *ctx, hsn_inval_kind_t kind, uint64_t origin,
                          const char *payload, size_t len)
{
    char buf[1024];
    int n = hsn_inval_encode (buf, sizeof buf, kind, origin, payload, len);
    if (n < 0)
        return n;
    return redisAppendCommand (ctx, "PUBLISH %s %b", HSN_INVAL_CHANNEL, buf, (size_t) n)
           == REDIS_OK ? 0 : -EIO;
}

hsn_inval_sub_t *
hsn_inval_sub_new (redisContext *ctx, hsn_inval_fn *fn, void *arg)
{
    redisReply *r = (redisReply *) redisCommand (ctx, "SUBSCRIBE %s", HSN_INVAL_CHANNEL);
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject (r);
    hsn_inval_sub_t *self = ok ? (hsn_inval_sub_t *) calloc (1, sizeof *self) : NULL;
    if (!self) {
        redisFree (ctx);
        return NULL;
    }
    /*  From now on the socket is read only when poll says it is readable,
     *  so the command timeout must not turn quiet periods into errors. */
    struct timeval none = { 0, 0 };
    redisSetTimeout (ctx, none);
    self->ctx = ctx;
    self->fn = fn;
    self->arg = arg;
    return self;
}

void
hsn_inval_sub_destroy (hsn_inval_sub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    redisFree ((*self_p)->ctx);
    free (*self_p);
    *self_p = NULL;
}

int
hsn_inval_sub_fd (const hsn_inval_sub_t *self)
{
    return self->ctx->fd;
}

static void
deliver (hsn_inval_sub_t *self, redisReply *r)
{
    /*  ["message", channel, payload] */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_STRING
        || strcmp (r->element[0]->str, "message") != 0
        || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    hsn_inval_kind_t kind;
    uint64_t origin;
    const char *payload;
    size_t plen;
    if (hsn_inval_decode (r->element[2]->str, r->element[2]->len, &kind, &origin,
                          &payload, &plen) == 0)
        self->fn (kind, origin, payload, plen, self->arg);
}

int
hsn_inval_sub_read (hsn_inval_sub_t *self)
{
    /*  One read of what the socket holds (poll said it is readable, so
     *  this does not block), then every complete reply in the buffer. */
    if (redisBufferRead (self->ctx) != REDIS_OK)
        return -EIO;
    while (true) {
        void *reply = NULL;
        if (redisGetReplyFromReader (self->ctx, &reply) != REDIS_OK)
            return -EIO;
        if (!reply)
            return 0;
        deliver (self, (redisReply *) reply);
        freeReplyObject (reply);
    }
}
