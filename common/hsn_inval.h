/*  hsn_inval: the cache invalidation channel (Redis pub/sub).
 *
 *  Every write to the cache publishes on HSN_INVAL_CHANNEL; every cache
 *  replica (L1) and every gateway (near-cache) subscribes and drops what the
 *  message names. A message is
 *      kind (1 byte) | origin (16 hex digits) | payload
 *  kind 'k': payload "ns:key"; 'n': a namespace; 't': a tag; 'f': flush all.
 *  origin names the publishing replica so it can skip its own writes, which
 *  it already applied. See proto/README.md, "Invalidation channel".
 */
#ifndef HSN_INVAL_H
#define HSN_INVAL_H

#include <hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HSN_INVAL_CHANNEL "hsn:inv"
#define HSN_INVAL_HEADER  17        /* kind + 16 hex digits */

typedef enum {
    HSN_INVAL_KEY = 'k',
    HSN_INVAL_NS  = 'n',
    HSN_INVAL_TAG = 't',
    HSN_INVAL_ALL = 'f'
} hsn_inval_kind_t;

/*  Write a message into buf. Returns its length, or -E2BIG. */
int hsn_inval_encode (char *buf, size_t cap, hsn_inval_kind_t kind, uint64_t origin,
                      const char *payload, size_t len);

/*  Parse a message. Returns 0, or -EBADMSG (outputs untouched). */
int hsn_inval_decode (const char *msg, size_t len, hsn_inval_kind_t *kind,
                      uint64_t *origin, const char **payload, size_t *plen);

/*  A subscriber: its own connection in SUBSCRIBE mode, read when its fd is
 *  readable (from a zloop or a thread's poll). */
typedef struct hsn_inval_sub hsn_inval_sub_t;

typedef void (hsn_inval_fn) (hsn_inval_kind_t kind, uint64_t origin,
                             const char *payload, size_t len, void *arg);

/*  fn is called for each message. ctx is a connected context (taken over:
 *  the subscriber frees it). SUBSCRIBEs and waits for the confirmation.
 *  Returns NULL (ctx freed) when that fails. */
hsn_inval_sub_t *hsn_inval_sub_new (redisContext *ctx, hsn_inval_fn *fn, void *arg);

/*  NULL-safe; nulls *self_p. */
void hsn_inval_sub_destroy (hsn_inval_sub_t **self_p);

/*  The socket to poll for readability. */
int hsn_inval_sub_fd (const hsn_inval_sub_t *self);

/*  Read what arrived and call fn for each message. Returns 0, or -EIO when
 *  the connection is broken (destroy it and subscribe anew). */
int hsn_inval_sub_read (hsn_inval_sub_t *self);

/*  Publish a message on ctx (a command connection): appended to its
 *  pipeline with redisAppendCommand; the caller reads the reply. */
int hsn_inval_append_publish (redisContext *ctx, hsn_inval_kind_t kind, uint64_t origin,
                              const char *payload, size_t len);

#endif
