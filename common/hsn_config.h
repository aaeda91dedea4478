/*  hsn_config: configuration from the environment.
 *
 *  Read once, in main, before any thread starts (getenv is not safe against
 *  a concurrent setenv). Every reader treats an unset or empty variable as
 *  "use the default", checks the value strictly (no leading blanks, no
 *  trailing junk, no overflow, within range) and on error writes a message
 *  naming the variable and the value, e.g.
 *      invalid CACHE_MAX_SIZE '-1': must be 1..100000000
 *  so that main can print it and exit. err may be NULL (errlen is then
 *  ignored); on error the output is left untouched.
 */
#ifndef HSN_CONFIG_H
#define HSN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/*  Integer in min..max, base 10. Returns 0 and sets *out, or -EINVAL. */
int hsn_config_int (const char *name, long long def, long long min,
                    long long max, long long *out, char *err, size_t errlen);

/*  Boolean: true/false, 1/0, yes/no, on/off, in any case. Returns 0 and sets
 *  *out, or -EINVAL. */
int hsn_config_bool (const char *name, bool def, bool *out, char *err,
                     size_t errlen);

/*  Number in min..max (strtod syntax). Returns 0 and sets *out, or -EINVAL
 *  (also for NaN and for values that overflow or underflow a double). */
int hsn_config_double (const char *name, double def, double min, double max,
                       double *out, char *err, size_t errlen);

/*  String of at most maxlen bytes. *out points into the environment (or is
 *  def) and stays valid as long as the variable is not changed. Returns 0,
 *  or -EINVAL when the value is too long. */
int hsn_config_str (const char *name, const char *def, size_t maxlen,
                    const char **out, char *err, size_t errlen);

#endif
