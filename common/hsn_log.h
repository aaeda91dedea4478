/*  hsn_log: structured logs, one JSON object per line on stderr.
 *
 *      {"ts":"2026-11-26T22:14:00.123Z","level":"info","service":"cache",
 *       "replica":"host:123","event":"started","msg":"..."}
 *
 *  Each line is rendered in memory and handed to the stream in a single
 *  fwrite, then flushed, so lines written by several threads never
 *  interleave. Call hsn_log_init once in main, before starting threads;
 *  logging itself is thread-safe.
 *
 *  Library code (common/) logs at debug only: what is worth more is for the
 *  service that called it to decide.
 */
#ifndef HSN_LOG_H
#define HSN_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum {
    HSN_LOG_DEBUG,
    HSN_LOG_INFO,
    HSN_LOG_WARN,
    HSN_LOG_ERROR
} hsn_log_level_t;

/*  Parse a level name: debug, info, warn, warning or error, in any case.
 *  Returns 0 and sets *out, or -EINVAL. */
int hsn_log_level_parse (const char *s, hsn_log_level_t *out);

/*  The level's name as written in the "level" field. */
const char *hsn_log_level_name (hsn_log_level_t level);

/*  Set the service and replica names written on every line (copied; longer
 *  than 127 bytes is cut) and the lowest level written. Before this is
 *  called, lines say service "hsn", replica "" and the level is info. */
void hsn_log_init (const char *service, const char *replica,
                   hsn_log_level_t level);

/*  Write to f instead of stderr (tests); NULL restores stderr. The stream
 *  must outlive its use; switching while other threads log is not safe. */
void hsn_log_set_stream (FILE *f);

/*  Would a line at this level be written? Lets callers skip building
 *  expensive arguments. */
bool hsn_log_enabled (hsn_log_level_t level);

/*  Log one event. event is a short stable identifier ("started",
 *  "redis_down") that log queries key on; the printf-style message is free
 *  text. Both are JSON-escaped. */
void hsn_log (hsn_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  As hsn_log, with extra fields: json_fields is a pre-rendered JSON
 *  fragment such as "method":"GET","status":200 (no braces, no leading or
 *  trailing comma), inserted verbatim before "msg". NULL or "" adds none.
 *  The caller is responsible for it being valid JSON. */
void hsn_log_kv (hsn_log_level_t level, const char *event,
                 const char *json_fields, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif
