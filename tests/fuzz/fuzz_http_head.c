/*  libFuzzer target for the gateway front's request-head parser (make fuzz).
 *
 *  Every input is parsed as the front does (a copy, NUL after it) with a
 *  head limit taken from its first byte. The result must be one of the
 *  documented codes; a complete head must lie inside the input and the
 *  limit, every part the parser hands out must lie inside the head and be
 *  NUL-terminated there, Content-Length must be -1 or what a field said,
 *  never together with Transfer-Encoding; parsing the same bytes again
 *  must give the same answer. Any disagreement is __builtin_trap, which
 *  libFuzzer reports as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/gateway/gateway_front_int.h"
#include "tests/fuzz/fuzz.h"


static void
inside (const char *p, const char *buf, size_t head_len)
{
    CHECK (p >= buf && p < buf + head_len);
    CHECK (memchr (p, 0, (size_t) (buf + head_len - p)) != NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_head = 64 + (size_t) data[0] * 64;      /* 64 .. 16384 */
    data++;
    size--;
    char *a = (char *) malloc (size + 1), *b = (char *) malloc (size + 1);
    memcpy (a, data, size);
    memcpy (b, data, size);
    a[size] = b[size] = 0;
    front_head_t h, h2;
    int rc = front_parse (a, size, max_head, &h);
    int rc2 = front_parse (b, size, max_head, &h2);
    CHECK (rc == rc2);
    CHECK (rc == 1 || rc == 0 || rc == -400 || rc == -431 || rc == -505);
    if (rc == 0)
        CHECK (size < max_head);
    if (rc == 1) {
        CHECK (h.head_len <= size && h.head_len <= max_head);
        CHECK (h.head_len == h2.head_len && h.nfields == h2.nfields);
        CHECK (h.minor == 0 || h.minor == 1);
        CHECK (h.nfields >= 0 && h.nfields <= FRONT_MAX_FIELDS);
        inside (h.method, a, h.head_len);
        inside (h.path, a, h.head_len);
        CHECK (h.method[0] && h.path[0]);
        if (h.query)
            inside (h.query, a, h.head_len);
        for (int i = 0; i < h.nfields; i++) {
            inside (h.name[i], a, h.head_len);
            inside (h.value[i], a, h.head_len);
            CHECK (h.name[i][0] != 0);
            CHECK (front_field (&h, h.name[i]) != NULL);
        }
        CHECK (h.content_length >= -1);
        CHECK (!(h.transfer_encoding && h.content_length >= 0));
        if (h.content_length >= 0)
            CHECK (front_field (&h, "Content-Length") != NULL);
    }
    free (a);
    free (b);
    return 0;
}
