/*  hsn_config: configuration from the environment. See hsn_config.h. */
#include "hsn_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*  The variable's value, or NULL when unset or empty: an empty assignment
 *  (FOO= in a compose file) means "not configured", not "invalid". */
static const char *
lookup (const char *name)
{
    const char *value = getenv (name);
    return value && *value ? value : NULL;
}

/*  Values quoted in messages are cut here so that the reason still fits in
 *  a modest err buffer when someone pastes a whole file into a variable. */
#define QUOTE_MAX 64

/*  Write "invalid NAME 'value': <why>" into err. */
static int fail (char *err, size_t errlen, const char *name,
                 const char *value, const char *why_fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

static int
fail (char *err, size_t errlen, const char *name, const char *value,
      const char *why_fmt, ...)
{
    if (err && errlen > 0) {
        bool cut = strlen (value) > QUOTE_MAX;
        int n = snprintf (err, errlen, "invalid %s '%.*s%s': ", name,
                          QUOTE_MAX, value, cut ? "..." : "");
        if (n >= 0 && (size_t) n < errlen) {
            va_list ap;
            va_start (ap, why_fmt);
            vsnprintf (err + n, errlen - (size_t) n, why_fmt, ap);
            va_end (ap);
        }
    }
    return -EINVAL;
}

/*  strtoll and strtod skip leading blanks; we do not, so that a stray quote
 *  or space in a deployment file is reported instead of half-accepted. */
static bool
starts_like_number (const char *s)
{
    return !isspace ((unsigned char) s[0]);
}

int
hsn_config_int (const char *name, long long def, long long min,
                long long max, long long *out, char *err, size_t errlen)
{
    const char *value = lookup (name);
    if (!value) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll (value, &end, 10);
    if (!starts_like_number (value) || end == value || *end != '\0'
        || errno == ERANGE || v < min || v > max)
        return fail (err, errlen, name, value, "must be %lld..%lld", min, max);
    *out = v;
    return 0;
}

int
hsn_config_bool (const char *name, bool def, bool *out, char *err,
                 size_t errlen)
{
    static const char *const truths[] = { "true", "1", "yes", "on" };
    static const char *const lies[] = { "false", "0", "no", "off" };
    const char *value = lookup (name);
    if (!value) {
        *out = def;
        return 0;
    }
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        if (strcasecmp (value, truths[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp (value, lies[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return fail (err, errlen, name, value, "must be true or false");
}

int
hsn_config_double (const char *name, double def, double min, double max,
                   double *out, char *err, size_t errlen)
{
    const char *value = lookup (name);
    if (!value) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod (value, &end);
    /*  Written as !(in range) so that NaN, which compares false with
     *  everything, is rejected too. */
    if (!starts_like_number (value) || end == value || *end != '\0'
        || errno == ERANGE || !(v >= min && v <= max))
        return fail (err, errlen, name, value, "must be %g..%g", min, max);
    *out = v;
    return 0;
}

int
hsn_config_str (const char *name, const char *def, size_t maxlen,
                const char **out, char *err, size_t errlen)
{
    const char *value = lookup (name);
    if (!value) {
        *out = def;
        return 0;
    }
    if (strlen (value) > maxlen)
        return fail (err, errlen, name, value, "must be at most %zu bytes",
                     maxlen);
    *out = value;
    return 0;
}
