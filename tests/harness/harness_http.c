/*  hsn_harness: one-shot HTTP requests through libcurl. See hsn_harness.h. */
#include "hsn_harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define HTTP_TIMEOUT_MS 10000

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} buf_t;

static bool
buf_append (buf_t *b, const char *data, size_t len)
{
    if (b->oom)
        return false;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *bigger = realloc (b->data, cap);
        if (!bigger) {
            b->oom = true;
            return false;
        }
        b->data = bigger;
        b->cap = cap;
    }
    memcpy (b->data + b->len, data, len);
    b->len += len;
    b->data [b->len] = '\0';
    return true;
}

static size_t
on_body (char *ptr, size_t size, size_t nmemb, void *arg)
{
    size_t n = size * nmemb;
    return buf_append ((buf_t *) arg, ptr, n) ? n : 0;
}

static size_t
on_header (char *ptr, size_t size, size_t nmemb, void *arg)
{
    buf_t *b = (buf_t *) arg;
    size_t n = size * nmemb;
    /*  A new status line starts a new response (after 1xx): keep only the
     *  final response's headers. */
    if (n >= 5 && memcmp (ptr, "HTTP/", 5) == 0)
        b->len = 0;
    return buf_append (b, ptr, n) ? n : 0;
}

static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once (void)
{
    curl_global_init (CURL_GLOBAL_ALL);
}

static bool
has_header (const char *const headers[], const char *name)
{
    size_t n = strlen (name);
    for (size_t i = 0; headers && headers [i]; i++)
        if (strncasecmp (headers [i], name, n) == 0
        &&  (headers [i][n] == ':' || headers [i][n] == ';'))
            return true;
    return false;
}

static char *
dup_trimmed (const char *start, const char *end)
{
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end [-1] == ' ' || end [-1] == '\t'
                           || end [-1] == '\r' || end [-1] == '\n'))
        end--;
    return strndup (start, (size_t) (end - start));
}

/*  Split r->headers into header_names/header_values. Returns 0 or -ENOMEM. */
static int
parse_headers (hsn_http_resp_t *r)
{
    size_t lines = 0;
    for (const char *p = r->headers; *p; p++)
        lines += *p == '\n';
    r->header_names = calloc (lines + 1, sizeof (char *));
    r->header_values = calloc (lines + 1, sizeof (char *));
    if (!r->header_names || !r->header_values)
        return -ENOMEM;
    const char *line = strchr (r->headers, '\n');      /* skip status line */
    while (line && *++line) {
        const char *eol = strchr (line, '\n');
        if (!eol)
            eol = line + strlen (line);
        const char *colon = memchr (line, ':', (size_t) (eol - line));
        if (colon && colon > line) {
            char *name = dup_trimmed (line, colon);
            char *value = dup_trimmed (colon + 1, eol);
            if (!name || !value) {
                free (name);
                free (value);
                return -ENOMEM;
            }
            r->header_names [r->header_count] = name;
            r->header_values [r->header_count] = value;
            r->header_count++;
        }
        line = *eol ? eol : NULL;
    }
    return 0;
}

static bool
method_is (const char *method, const char *name)
{
    return strcasecmp (method, name) == 0;
}

int
hsn_http (const char *method, const char *url, const char *body,
          size_t body_len, const char *const headers[], hsn_http_resp_t *out)
{
    memset (out, 0, sizeof *out);
    pthread_once (&s_curl_once, curl_init_once);
    CURL *curl = curl_easy_init ();
    if (!curl) {
        fprintf (stderr, "hsn_http: curl_easy_init failed\n");
        return -EIO;
    }
    struct curl_slist *list = NULL;
    bool oom = false;
    for (size_t i = 0; headers && headers [i] && !oom; i++) {
        struct curl_slist *more = curl_slist_append (list, headers [i]);
        oom = !more;
        list = more ? more : list;
    }
    /*  Send what the caller asked for, not curl's defaults. */
    const char *suppress [] = { "Content-Type", "Expect", NULL };
    for (size_t i = 0; suppress [i] && !oom; i++) {
        if (has_header (headers, suppress [i]))
            continue;
        char h [64];
        snprintf (h, sizeof h, "%s:", suppress [i]);
        struct curl_slist *more = curl_slist_append (list, h);
        oom = !more;
        list = more ? more : list;
    }

    buf_t body_buf = { 0 }, head_buf = { 0 };
    char errbuf [CURL_ERROR_SIZE] = "";
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) HTTP_TIMEOUT_MS);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, (long) HTTP_TIMEOUT_MS);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body_buf);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &head_buf);

    if (method_is (method, "HEAD"))
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    else {
        /*  POST/PUT/PATCH without a body still say Content-Length: 0. */
        if (!body && (method_is (method, "POST") || method_is (method, "PUT")
                      || method_is (method, "PATCH"))) {
            body = "";
            body_len = 0;
        }
        if (body) {
            curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t) body_len);
            curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
        }
        if (!method_is (method, body ? "POST" : "GET"))
            curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    }

    CURLcode code = oom ? CURLE_OUT_OF_MEMORY : curl_easy_perform (curl);
    int rc = 0;
    if (code == CURLE_OK && (body_buf.oom || head_buf.oom))
        code = CURLE_OUT_OF_MEMORY;
    if (code != CURLE_OK) {
        fprintf (stderr, "hsn_http %s %s: %s\n", method, url,
                 *errbuf ? errbuf : curl_easy_strerror (code));
        rc = -EIO;
    }
    else {
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &out->status);
        if (!body_buf.data)
            buf_append (&body_buf, "", 0);
        if (!head_buf.data)
            buf_append (&head_buf, "", 0);
        out->body = body_buf.data;
        out->body_len = body_buf.len;
        out->headers = head_buf.data;
        body_buf.data = head_buf.data = NULL;
        if (!out->body || !out->headers || parse_headers (out) < 0) {
            fprintf (stderr, "hsn_http %s %s: out of memory\n", method, url);
            hsn_http_resp_free (out);
            rc = -EIO;
        }
    }
    free (body_buf.data);
    free (head_buf.data);
    curl_slist_free_all (list);
    curl_easy_cleanup (curl);
    return rc;
}

const char *
hsn_http_header (const hsn_http_resp_t *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp (r->header_names [i], name) == 0)
            return r->header_values [i];
    return NULL;
}

void
hsn_http_resp_free (hsn_http_resp_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->header_count; i++) {
        free (r->header_names [i]);
        free (r->header_values [i]);
    }
    free (r->header_names);
    free (r->header_values);
    free (r->body);
    free (r->headers);
    memset (r, 0, sizeof *r);
}
