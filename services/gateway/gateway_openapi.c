/*  gateway_openapi: the OpenAPI 3 description of the REST API, served at
 *  GET /api/openapi.json. tests/gateway/test_gateway_openapi.c checks that
 *  every route in gateway_routes[] is described here and nothing else. */
#include "gateway_internal.h"

#include <string.h>

#define ENVELOPE_REF "{\"$ref\":\"#/components/schemas/Envelope\"}"
#define JSON_OK(desc) "\"200\":{\"description\":\"" desc "\",\"content\":{\"application/json\":{\"schema\":" ENVELOPE_REF "}}}"
#define ERRORS "\"400\":{\"$ref\":\"#/components/responses/Error\"},\"401\":{\"$ref\":\"#/components/responses/Error\"},\"429\":{\"$ref\":\"#/components/responses/Error\"},\"503\":{\"$ref\":\"#/components/responses/Error\"},\"504\":{\"$ref\":\"#/components/responses/Error\"}"
#define P_NS "{\"name\":\"namespace\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_.-]{1,64}$\"}}"
#define P_KEY "{\"name\":\"key\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":512}}"
#define P_NAME "{\"name\":\"name\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z_][A-Za-z0-9_]{0,63}$\"}}"
#define P_AGENT(n) "{\"name\":\"" n "\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$\"}}"
#define P_TOPIC "{\"name\":\"topic\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$\"}}"
#define P_MAX "{\"name\":\"max\",\"in\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}}"
#define E(code) "\"" #code "\":{\"$ref\":\"#/components/responses/Error\"}"
#define MSG_BODY JSON_BODY ("{\\\"payload\\\": any JSON, \\\"priority\\\": \\\"high\\\"|\\\"normal\\\"|\\\"low\\\", \\\"type\\\": string, \\\"from\\\": agent id, \\\"ttl\\\": seconds}")
#define JSON_BODY(desc) "\"requestBody\":{\"required\":true,\"description\":\"" desc "\",\"content\":{\"application/json\":{\"schema\":{}}}}"

const char gateway_openapi_json[] =
"{\"openapi\":\"3.0.3\","
"\"info\":{\"title\":\"hsn\",\"version\":\"1\",\"description\":\"The hsn performance layer: cache, queries, agent messaging, monitoring, behind one gateway. Every JSON answer is the Envelope.\"},"
"\"components\":{"
  "\"securitySchemes\":{\"apiKey\":{\"type\":\"apiKey\",\"in\":\"header\",\"name\":\"X-API-Key\"},\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"}},"
  "\"schemas\":{\"Envelope\":{\"type\":\"object\",\"required\":[\"success\",\"meta\"],\"properties\":{"
    "\"success\":{\"type\":\"boolean\"},\"data\":{},"
    "\"error\":{\"type\":\"object\",\"properties\":{\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"},\"sqlstate\":{\"type\":\"string\"}}},"
    "\"meta\":{\"type\":\"object\",\"properties\":{\"request_id\":{\"type\":\"string\"},\"duration_ms\":{\"type\":\"number\"},\"cached\":{\"type\":\"boolean\"}}}}}},"
  "\"responses\":{\"Error\":{\"description\":\"Error envelope\",\"content\":{\"application/json\":{\"schema\":" ENVELOPE_REF "}}}}},"
"\"security\":[{\"apiKey\":[]},{\"bearer\":[]}],"
"\"paths\":{"
  "\"/api/cache/stats\":{\"get\":{\"summary\":\"Statistics of the cache replica that answers\",\"responses\":{" JSON_OK ("Counters by level") "," ERRORS "}}},"
  "\"/api/cache/_invalidate\":{\"post\":{\"summary\":\"Drop every entry carrying any of the tags, on every level\"," JSON_BODY ("{\\\"tags\\\": [\\\"t1\\\", ...]} (1 to 16 tags)") ",\"responses\":{" JSON_OK ("{\\\"invalidated\\\": n}") "," ERRORS "}}},"
  "\"/api/cache/{namespace}/_mget\":{\"post\":{\"summary\":\"Read many keys of a namespace\",\"parameters\":[" P_NS "]," JSON_BODY ("{\\\"keys\\\": [...]} (1 to 1000 keys)") ",\"responses\":{" JSON_OK ("items: key -> {value, ttl, level} or null") "," ERRORS "}}},"
  "\"/api/cache/{namespace}/{key}\":{"
    "\"get\":{\"summary\":\"Read a value; says which level answered (near, l1, l2) and the remaining TTL\",\"parameters\":[" P_NS "," P_KEY "],\"responses\":{" JSON_OK ("The value") ",\"304\":{\"description\":\"Not modified (If-None-Match)\"},\"404\":{\"$ref\":\"#/components/responses/Error\"}," ERRORS "}},"
    "\"put\":{\"summary\":\"Write any JSON value\",\"parameters\":[" P_NS "," P_KEY ",{\"name\":\"ttl\",\"in\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1}},{\"name\":\"tags\",\"in\":\"query\",\"schema\":{\"type\":\"string\"},\"description\":\"comma-separated, up to 16\"}]," JSON_BODY ("The value, any JSON") ",\"responses\":{" JSON_OK ("Stored, with its TTL") ",\"413\":{\"$ref\":\"#/components/responses/Error\"}," ERRORS "}},"
    "\"delete\":{\"summary\":\"Delete a key on every level\",\"parameters\":[" P_NS "," P_KEY "],\"responses\":{" JSON_OK ("Deleted") ",\"404\":{\"$ref\":\"#/components/responses/Error\"}," ERRORS "}}},"
  "\"/api/cache/{namespace}\":{\"delete\":{\"summary\":\"Delete a whole namespace on every level\",\"parameters\":[" P_NS "],\"responses\":{" JSON_OK ("{\\\"deleted\\\": n}") "," ERRORS "}}},"
  "\"/api/queries\":{\"get\":{\"summary\":\"The named queries: parameters and their types, cache TTL, tags a write invalidates\",\"responses\":{" JSON_OK ("queries: [{name, params: [{name, type}], cache, invalidates, tags, writes}]") "," ERRORS "}}},"
  "\"/api/queries/_batch\":{\"post\":{\"summary\":\"Run several named queries concurrently; each member has its own result or error\"," JSON_BODY ("{\\\"queries\\\": [{\\\"name\\\": ..., \\\"params\\\": {...}}, ...]} (1 to 100)") ",\"responses\":{" JSON_OK ("results, in order: {rows, count, cached} or {error: {code, message, sqlstate}}") "," ERRORS "}}},"
  "\"/api/queries/_sql\":{\"post\":{\"summary\":\"Ad-hoc SQL, only when QUERY_ALLOW_ADHOC=true: one reading statement (SELECT, WITH, VALUES, TABLE, SHOW) in a READ ONLY transaction under the statement timeout\"," JSON_BODY ("{\\\"sql\\\": \\\"select ...\\\"}") ",\"responses\":{" JSON_OK ("rows, count") "," E (403) "," ERRORS "}}},"
  "\"/api/queries/{name}\":{"
    "\"post\":{\"summary\":\"Run a named query (read or write)\",\"parameters\":[" P_NAME "]," JSON_BODY ("{\\\"params\\\": {...}}") ",\"responses\":{" JSON_OK ("rows, count; meta.cached") "," E (404) "," E (409) "," ERRORS "}},"
    "\"get\":{\"summary\":\"Run a read query with parameters from the query string (ETag, Cache-Control and the near-cache apply)\",\"parameters\":[" P_NAME ",{\"name\":\"params\",\"in\":\"query\",\"style\":\"form\",\"explode\":true,\"schema\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}}],\"responses\":{" JSON_OK ("rows, count; meta.cached") ",\"304\":{\"description\":\"Not modified (If-None-Match)\"}," E (404) "," ERRORS "}}},"
  "\"/api/agents\":{\"get\":{\"summary\":\"Agents with queue depth per priority and the age of their oldest pending message\",\"responses\":{" JSON_OK ("agents") "," ERRORS "}}},"
  "\"/api/agents/_broadcast/messages\":{\"post\":{\"summary\":\"Send a message to every known agent\"," MSG_BODY ",\"responses\":{\"201\":{\"description\":\"Accepted (persisted)\"}," E (413) "," E (507) "," ERRORS "}}},"
  "\"/api/agents/{id}/messages\":{"
    "\"post\":{\"summary\":\"Send a message to an agent; 201 once it is persisted\",\"parameters\":[" P_AGENT ("id") "]," MSG_BODY ",\"responses\":{\"201\":{\"description\":\"Accepted (persisted), with its id\"}," E (413) "," E (507) "," ERRORS "}},"
    "\"get\":{\"summary\":\"Receive: strict priority order, at-least-once (ack by id); long-polls up to wait seconds\",\"parameters\":[" P_AGENT ("id") ",{\"name\":\"wait\",\"in\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":60}}," P_MAX "],\"responses\":{" JSON_OK ("messages (possibly empty)") "," ERRORS "}}},"
  "\"/api/agents/{id}/acks\":{\"post\":{\"summary\":\"Acknowledge delivered messages by id\",\"parameters\":[" P_AGENT ("id") "]," JSON_BODY ("{\\\"ids\\\": [...]} (1 to 1000)") ",\"responses\":{" JSON_OK ("{\\\"acked\\\": n}") "," ERRORS "}}},"
  "\"/api/agents/{id}/stream\":{\"get\":{\"summary\":\"Push delivery as Server-Sent Events (event: message, id: message id); ack by id\",\"parameters\":[" P_AGENT ("id") "],\"responses\":{\"200\":{\"description\":\"text/event-stream\"}," ERRORS "}}},"
  "\"/api/agents/{id}/dead-letters\":{\"get\":{\"summary\":\"Messages that ran out of deliveries or expired, with the reason\",\"parameters\":[" P_AGENT ("id") "," P_MAX "],\"responses\":{" JSON_OK ("messages") "," ERRORS "}}},"
  "\"/api/topics/{topic}/messages\":{\"post\":{\"summary\":\"Publish to every subscriber of a topic (all or none: 507 names a full queue)\",\"parameters\":[" P_TOPIC "]," MSG_BODY ",\"responses\":{\"201\":{\"description\":\"Accepted: recipients\"}," E (413) "," E (507) "," ERRORS "}}},"
  "\"/api/topics/{topic}/subscribers/{agent}\":{"
    "\"put\":{\"summary\":\"Subscribe an agent to a topic (persists)\",\"parameters\":[" P_TOPIC "," P_AGENT ("agent") "],\"responses\":{" JSON_OK ("Subscribed") "," ERRORS "}},"
    "\"delete\":{\"summary\":\"Unsubscribe\",\"parameters\":[" P_TOPIC "," P_AGENT ("agent") "],\"responses\":{" JSON_OK ("Unsubscribed") "," E (404) "," ERRORS "}}},"
  "\"/api/optimization/health\":{\"get\":{\"summary\":\"Every replica of every service and the dependencies they use\",\"security\":[],\"responses\":{" JSON_OK ("Healthy or degraded") ",\"503\":{\"$ref\":\"#/components/responses/Error\"}}}},"
  "\"/api/optimization/summary\":{\"get\":{\"summary\":\"Every KPI with its value, target and status\",\"responses\":{" JSON_OK ("KPIs") "," ERRORS "}}},"
  "\"/api/optimization/metrics\":{\"get\":{\"summary\":\"Metrics per service and replica\",\"parameters\":[{\"name\":\"window\",\"in\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1}}],\"responses\":{" JSON_OK ("Metrics") "," ERRORS "}}},"
  "\"/api/optimization/recommendations\":{\"get\":{\"summary\":\"What to do about breached KPIs, with evidence\",\"responses\":{" JSON_OK ("Recommendations") "," ERRORS "}}},"
  "\"/api/openapi.json\":{\"get\":{\"summary\":\"This document\",\"security\":[],\"responses\":{\"200\":{\"description\":\"OpenAPI 3\"}}}},"
  "\"/metrics\":{\"get\":{\"summary\":\"Prometheus text exposition, every service and replica\",\"responses\":{\"200\":{\"description\":\"text/plain; version=0.0.4\"}}}},"
  "\"/\":{\"get\":{\"summary\":\"The live dashboard\",\"security\":[],\"responses\":{\"200\":{\"description\":\"text/html\"}}}}"
"}}";

void
gateway_openapi (gw_thread_t *t, gateway_req_t *req)
{
    static char etag[40];
    req->cache_control = "public, max-age=300";
    gateway_reply_static (req, "application/json", gateway_openapi_json,
                          sizeof gateway_openapi_json - 1, etag);
}
