/*  gateway_routes: the route table and its matcher. See gateway_routes.h. */
#include "gateway_routes.h"
#include "hsn_proto.h"

#include <stdio.h>
#include <string.h>

/*  Literal routes before parameterised ones with the same prefix: the
 *  first match wins. */
const gateway_route_t gateway_routes[] = {
    { "GET",    "/api/cache/stats",               H_CACHE_STATS,      HSN_SERVICE_CACHE,   false, "cache" },
    { "POST",   "/api/cache/_invalidate",         H_CACHE_INVALIDATE, HSN_SERVICE_CACHE,   false, "cache" },
    { "POST",   "/api/cache/{namespace}/_mget",   H_CACHE_MGET,       HSN_SERVICE_CACHE,   false, "cache" },
    { "GET",    "/api/cache/{namespace}/{key}",   H_CACHE_GET,        HSN_SERVICE_CACHE,   false, "cache" },
    { "PUT",    "/api/cache/{namespace}/{key}",   H_CACHE_PUT,        HSN_SERVICE_CACHE,   false, "cache" },
    { "DELETE", "/api/cache/{namespace}/{key}",   H_CACHE_DELETE,     HSN_SERVICE_CACHE,   false, "cache" },
    { "DELETE", "/api/cache/{namespace}",         H_CACHE_DELETE_NS,  HSN_SERVICE_CACHE,   false, "cache" },
    { "GET",    "/api/queries",                   H_QUERY_LIST,       HSN_SERVICE_QUERY,   false, "query" },
    { "POST",   "/api/queries/_batch",            H_QUERY_BATCH,      HSN_SERVICE_QUERY,   false, "query" },
    { "POST",   "/api/queries/_sql",              H_QUERY_SQL,        HSN_SERVICE_QUERY,   false, "query" },
    { "POST",   "/api/queries/{name}",            H_QUERY_RUN,        HSN_SERVICE_QUERY,   false, "query" },
    { "GET",    "/api/queries/{name}",            H_QUERY_GET,        HSN_SERVICE_QUERY,   false, "query" },
    { "GET",    "/api/agents",                    H_AGENT_LIST,       HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "POST",   "/api/agents/_broadcast/messages", H_AGENT_BROADCAST, HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "POST",   "/api/agents/{id}/messages",      H_AGENT_SEND,       HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "GET",    "/api/agents/{id}/messages",      H_AGENT_RECEIVE,    HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "POST",   "/api/agents/{id}/acks",          H_AGENT_ACK,        HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "GET",    "/api/agents/{id}/stream",        H_AGENT_STREAM,     HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "GET",    "/api/agents/{id}/dead-letters",  H_AGENT_DEAD_LETTERS, HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "POST",   "/api/topics/{topic}/messages",   H_TOPIC_PUBLISH,    HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "PUT",    "/api/topics/{topic}/subscribers/{agent}", H_TOPIC_SUBSCRIBE, HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "DELETE", "/api/topics/{topic}/subscribers/{agent}", H_TOPIC_UNSUBSCRIBE, HSN_SERVICE_AGENT_BUS, false, "agents" },
    { "GET",    "/api/optimization/health",       H_MONITOR,          HSN_SERVICE_MONITOR, true,  "monitor" },
    { "GET",    "/api/optimization/summary",      H_MONITOR,          HSN_SERVICE_MONITOR, false, "monitor" },
    { "GET",    "/api/optimization/metrics",      H_MONITOR,          HSN_SERVICE_MONITOR, false, "monitor" },
    { "GET",    "/api/optimization/recommendations", H_MONITOR,       HSN_SERVICE_MONITOR, false, "monitor" },
    { "GET",    "/api/openapi.json",              H_OPENAPI,          0,                   true,  "other" },
    { "GET",    "/metrics",                       H_PROMETHEUS,       HSN_SERVICE_MONITOR, false, "monitor" },
    { "GET",    "/",                              H_DASHBOARD,        0,                   true,  "other" },
};
const size_t gateway_nroutes = sizeof gateway_routes / sizeof gateway_routes[0];

/*  Match path against pattern; fill params. */
static bool
match (const char *pattern, const char *path, gateway_params_t *params)
{
    gateway_params_t p = { { NULL, NULL }, { 0, 0 }, 0 };
    const char *pp = pattern, *sp = path;
    while (*pp) {
        if (*pp == '{') {
            const char *close = strchr (pp, '}');
            bool last = close[1] == 0;
            size_t n = last ? strlen (sp) : strcspn (sp, "/");
            if (n == 0 || p.count == 2)
                return false;
            p.ptr[p.count] = sp;
            p.len[p.count++] = n;
            sp += n;
            pp = close + 1;
        }
        else {
            if (*sp != *pp)
                return false;
            sp++;
            pp++;
        }
    }
    if (*sp)
        return false;
    *params = p;
    return true;
}

const gateway_route_t *
gateway_route_match (const char *method, const char *path, gateway_params_t *params,
                     char *allow, size_t allowlen)
{
    size_t used = 0;
    if (allowlen)
        allow[0] = 0;
    for (size_t i = 0; i < gateway_nroutes; i++) {
        const gateway_route_t *r = &gateway_routes[i];
        gateway_params_t p;
        if (!match (r->pattern, path, &p))
            continue;
        if (strcmp (r->method, method) == 0) {
            *params = p;
            return r;
        }
        if (used < allowlen && !strstr (allow, r->method)) {
            int n = snprintf (allow + used, allowlen - used, "%s%s", used ? ", " : "", r->method);
            used += n > 0 ? (size_t) n : 0;
        }
    }
    return NULL;
}
