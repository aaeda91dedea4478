/*  hsn_log: structured logs, one JSON object per line. See hsn_log.h. */
#include "hsn_log.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NAME_MAX_LEN 127

/*  Set by hsn_log_init before threads start, read-only afterwards. */
static char s_service[NAME_MAX_LEN + 1] = "hsn";
static char s_replica[NAME_MAX_LEN + 1] = "";
/*  Read on every call from any thread: accessed atomically so that a
 *  level change (say, on a signal) is not a data race. */
static int s_level = HSN_LOG_INFO;
static FILE *s_stream;                  /* NULL: stderr */

/*  Sizes of the on-stack buffers that serve almost every line; longer
 *  lines go to the heap. */
#define MSG_STACK 1024
#define LINE_STACK 4096
/*  Bytes of the line other than the escaped strings and json_fields: the
 *  keys, quotes, timestamp and level name, with room to spare. */
#define LINE_FIXED 160
/*  Worst case growth of one byte when escaped: \u00XX. */
#define ESC_MAX 6

int
hsn_log_level_parse (const char *s, hsn_log_level_t *out)
{
    static const struct { const char *name; hsn_log_level_t level; } names[] = {
        { "debug", HSN_LOG_DEBUG }, { "info", HSN_LOG_INFO },
        { "warn", HSN_LOG_WARN }, { "warning", HSN_LOG_WARN },
        { "error", HSN_LOG_ERROR },
    };
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp (s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    return -EINVAL;
}

const char *
hsn_log_level_name (hsn_log_level_t level)
{
    switch (level) {
        case HSN_LOG_DEBUG: return "debug";
        case HSN_LOG_INFO:  return "info";
        case HSN_LOG_WARN:  return "warn";
        case HSN_LOG_ERROR: return "error";
    }
    return "unknown";
}

static void
copy_name (char *dst, const char *src)
{
    snprintf (dst, NAME_MAX_LEN + 1, "%s", src ? src : "");
}

void
hsn_log_init (const char *service, const char *replica,
              hsn_log_level_t level)
{
    copy_name (s_service, service);
    copy_name (s_replica, replica);
    __atomic_store_n (&s_level, (int) level, __ATOMIC_RELAXED);
}

void
hsn_log_set_stream (FILE *f)
{
    __atomic_store_n (&s_stream, f, __ATOMIC_RELEASE);
}

bool
hsn_log_enabled (hsn_log_level_t level)
{
    return (int) level >= __atomic_load_n (&s_level, __ATOMIC_RELAXED);
}

static char *
put (char *p, const char *s, size_t n)
{
    memcpy (p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put ((p), (lit), sizeof (lit) - 1)

/*  JSON string body: quote and backslash escaped, control characters as
 *  \u00XX. Bytes >= 0x80 pass through (the text is taken to be UTF-8).
 *  Writes at most ESC_MAX * n bytes. */
static char *
put_escaped (char *p, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char) c;
        }
        else if (c < 0x20) {
            p = PUT_LIT (p, "\\u00");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
        else
            *p++ = (char) c;
    }
    return p;
}

/*  2026-11-26T22:14:00.123Z, always 24 bytes. */
static char *
put_timestamp (char *p)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime (CLOCK_REALTIME, &ts);
    gmtime_r (&ts.tv_sec, &tm);
    char tmp[40];
    size_t n = strftime (tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf (tmp + n, sizeof tmp - n, ".%03dZ",
                            (int) (ts.tv_nsec / 1000000));
    return put (p, tmp, n);
}

static void
vlog (hsn_log_level_t level, const char *event, const char *fields,
      const char *fmt, va_list ap)
{
    assert (event && fmt);
    if (!hsn_log_enabled (level))
        return;
    /*  Callers often log and then return -errno: leave errno as it was. */
    int saved_errno = errno;

    char msg_stack[MSG_STACK];
    char *msg = msg_stack;
    va_list ap2;
    va_copy (ap2, ap);
    int n = vsnprintf (msg_stack, sizeof msg_stack, fmt, ap);
    size_t msg_len = n > 0 ? (size_t) n : 0;
    if (msg_len >= sizeof msg_stack) {
        char *big = malloc (msg_len + 1);
        if (big && vsnprintf (big, msg_len + 1, fmt, ap2) == n)
            msg = big;
        else {
            free (big);
            msg_len = sizeof msg_stack - 1;     /* keep what fitted */
        }
    }
    va_end (ap2);

    const char *level_name = hsn_log_level_name (level);
    size_t service_len = strlen (s_service);
    size_t replica_len = strlen (s_replica);
    size_t event_len = strlen (event);
    size_t fields_len = fields ? strlen (fields) : 0;
    size_t overhead = LINE_FIXED + fields_len
                    + ESC_MAX * (service_len + replica_len + event_len);
    char line_stack[LINE_STACK];
    char *line = line_stack;
    if (overhead + ESC_MAX * msg_len > sizeof line_stack) {
        line = malloc (overhead + ESC_MAX * msg_len);
        if (!line) {
            /*  Out of memory: a cut message beats no line at all. */
            line = line_stack;
            if (overhead > sizeof line_stack)
                goto done;
            msg_len = (sizeof line_stack - overhead) / ESC_MAX;
        }
    }

    char *p = line;
    p = PUT_LIT (p, "{\"ts\":\"");
    p = put_timestamp (p);
    p = PUT_LIT (p, "\",\"level\":\"");
    p = put (p, level_name, strlen (level_name));
    p = PUT_LIT (p, "\",\"service\":\"");
    p = put_escaped (p, s_service, service_len);
    p = PUT_LIT (p, "\",\"replica\":\"");
    p = put_escaped (p, s_replica, replica_len);
    p = PUT_LIT (p, "\",\"event\":\"");
    p = put_escaped (p, event, event_len);
    p = PUT_LIT (p, "\",");
    if (fields_len) {
        p = put (p, fields, fields_len);
        *p++ = ',';
    }
    p = PUT_LIT (p, "\"msg\":\"");
    p = put_escaped (p, msg, msg_len);
    p = PUT_LIT (p, "\"}\n");

    /*  One fwrite: stdio locks the stream for the call, so the line lands
     *  whole even when threads log at once. */
    FILE *f = __atomic_load_n (&s_stream, __ATOMIC_ACQUIRE);
    if (!f)
        f = stderr;
    fwrite (line, 1, (size_t) (p - line), f);
    fflush (f);

done:
    if (line != line_stack)
        free (line);
    if (msg != msg_stack)
        free (msg);
    errno = saved_errno;
}

void
hsn_log (hsn_log_level_t level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vlog (level, event, NULL, fmt, ap);
    va_end (ap);
}

void
hsn_log_kv (hsn_log_level_t level, const char *event,
            const char *json_fields, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vlog (level, event, json_fields, fmt, ap);
    va_end (ap);
}
