/*  gateway_sse: the bytes the hub writes to its clients.
 *
 *  A long-poll's answer is a whole HTTP/1.1 response (Content-Length,
 *  Connection: close) carrying the gateway's JSON envelope; a stream is a
 *  text/event-stream response head followed by one event per message:
 *      id: <message id>\nevent: message\ndata: <message JSON>\n\n
 *  (the JSON is compact, so one line: gateway_json_from_mp escapes line
 *  breaks inside strings).
 */
#ifndef GATEWAY_SSE_H
#define GATEWAY_SSE_H

#include <stddef.h>
#include <stdint.h>
#include "gateway_json.h"

/*  Append to out the events for the messages of an agent.receive result
 *  (msgpack map {"messages": [message...]}). *count gets the number of
 *  messages. Returns 0, or -EBADMSG when the result is not that shape or a
 *  message cannot be rendered (out is then restored). */
int gateway_sse_events (const void *result, size_t len, gateway_json_buf_t *out,
                        size_t *count);

/*  Append to out the head of an event stream (status 200), with
 *  X-Request-Id and the extra header lines (NULL: none). */
void gateway_sse_head (gateway_json_buf_t *out, const char *request_id, const char *headers);

/*  Append to out a complete HTTP/1.1 response carrying the envelope: with
 *  data_json (success; NULL means null) or, when code is set, the error
 *  {code, message}. meta.duration_ms counts from started_us. */
void gateway_sse_response (gateway_json_buf_t *out, int status, const char *request_id,
                           const char *headers, int64_t started_us, const char *data_json,
                           size_t data_len, const char *code, const char *message);

/*  Render a receive result (as gateway_sse_events takes) as the JSON text
 *  {"messages":[...]} into out, with at most its first limit messages.
 *  *count gets the number rendered. 0 or -EBADMSG (out restored). */
int gateway_sse_messages_json (const void *result, size_t len, size_t limit,
                               gateway_json_buf_t *out, size_t *count);

#endif
