/*  gateway_openapi: the OpenAPI document describes exactly the routes of
 *  gateway_routes[] -- every (pattern, method) registered is there, nothing
 *  else is -- and agrees with the table on which routes are open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <msgpack.h>

#include "gateway/gateway_internal.h"
#include "gateway/gateway_routes.h"
#include "gateway/gateway_json.h"
#include "hsn_mp.h"
#include "tests/harness/hsn_test.h"

static msgpack_sbuffer doc;
static hsn_mp_obj_t root;

static void
setup (void)
{
    msgpack_sbuffer_init (&doc);
    char err[256] = "";
    int rc = gateway_json_to_mp (gateway_openapi_json, strlen (gateway_openapi_json),
                                 HSN_MP_DEPTH_LIMIT, &doc, err, sizeof err);
    ck_assert_msg (rc == 0, "the OpenAPI document is not valid JSON: %s", err);
    hsn_mp_reader_t r;
    hsn_mp_reader_init (&r, doc.data, doc.size);
    ck_assert_int_eq (hsn_mp_get (&r, &root, HSN_MP_DEPTH_LIMIT), 0);
    ck_assert_int_eq (root.type, HSN_MP_MAP);
}

static void
teardown (void)
{
    msgpack_sbuffer_destroy (&doc);
}

/*  Member key of map m. */
static bool
member (const hsn_mp_obj_t *m, const char *key, hsn_mp_obj_t *out)
{
    if (m->type != HSN_MP_MAP)
        return false;
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, m);
    for (uint32_t i = 0; i < m->v.c.count; i++) {
        hsn_mp_obj_t k, v;
        ck_assert_int_eq (hsn_mp_get (&r, &k, HSN_MP_DEPTH_LIMIT), 0);
        ck_assert_int_eq (hsn_mp_get (&r, &v, HSN_MP_DEPTH_LIMIT), 0);
        if (hsn_mp_str_eq (&k, key)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/*  The i-th key/value pair of map m. */
static void
pair (const hsn_mp_obj_t *m, uint32_t i, hsn_mp_obj_t *k, hsn_mp_obj_t *v)
{
    hsn_mp_reader_t r;
    hsn_mp_reader_of (&r, m);
    for (uint32_t j = 0; j <= i; j++) {
        ck_assert_int_eq (hsn_mp_get (&r, k, HSN_MP_DEPTH_LIMIT), 0);
        ck_assert_int_eq (hsn_mp_get (&r, v, HSN_MP_DEPTH_LIMIT), 0);
    }
    ck_assert_int_eq (k->type, HSN_MP_STR);
}

static bool
is_http_method (const hsn_mp_obj_t *k)
{
    static const char *methods[] = { "get", "put", "post", "delete", "patch", "head",
                                     "options", "trace" };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (hsn_mp_str_eq (k, methods[i]))
            return true;
    return false;
}

/*  The operation object for (pattern, method) of a route, if described. */
static bool
operation (const gateway_route_t *rt, hsn_mp_obj_t *op)
{
    hsn_mp_obj_t paths, item;
    ck_assert (member (&root, "paths", &paths));
    if (!member (&paths, rt->pattern, &item))
        return false;
    char lower[16];
    size_t n = strlen (rt->method);
    ck_assert_uint_lt (n, sizeof lower);
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char) (rt->method[i] >= 'A' && rt->method[i] <= 'Z'
                           ? rt->method[i] + 32 : rt->method[i]);
    return member (&item, lower, op);
}

static const gateway_route_t *
route_for (const hsn_mp_obj_t *path, const hsn_mp_obj_t *method)
{
    for (size_t i = 0; i < gateway_nroutes; i++) {
        const gateway_route_t *rt = &gateway_routes[i];
        if (!hsn_mp_str_eq (path, rt->pattern) || strlen (rt->method) != method->v.s.len
            || strncasecmp (rt->method, method->v.s.ptr, method->v.s.len) != 0)
            continue;
        /*  The document names methods in lower case, as OpenAPI does. */
        for (uint32_t j = 0; j < method->v.s.len; j++)
            ck_assert (method->v.s.ptr[j] < 'A' || method->v.s.ptr[j] > 'Z');
        return rt;
    }
    return NULL;
}

START_TEST (is_openapi_3)
{
    hsn_mp_obj_t v, info;
    ck_assert (member (&root, "openapi", &v));
    ck_assert_int_eq (v.type, HSN_MP_STR);
    ck_assert_msg (v.v.s.len >= 3 && strncmp (v.v.s.ptr, "3.", 2) == 0, "openapi: %.*s",
                   (int) v.v.s.len, v.v.s.ptr);
    ck_assert (member (&root, "info", &info));
    ck_assert (member (&info, "title", &v) && v.type == HSN_MP_STR);
    ck_assert (member (&info, "version", &v) && v.type == HSN_MP_STR);
    ck_assert (member (&root, "paths", &v) && v.type == HSN_MP_MAP);
}
END_TEST

START_TEST (every_route_is_described)
{
    for (size_t i = 0; i < gateway_nroutes; i++) {
        const gateway_route_t *rt = &gateway_routes[i];
        hsn_mp_obj_t op, resp;
        ck_assert_msg (operation (rt, &op), "%s %s is not in the OpenAPI document",
                       rt->method, rt->pattern);
        ck_assert_int_eq (op.type, HSN_MP_MAP);
        ck_assert_msg (member (&op, "responses", &resp) && resp.type == HSN_MP_MAP
                       && resp.v.c.count > 0, "%s %s: no responses", rt->method, rt->pattern);
    }
}
END_TEST

START_TEST (nothing_else_is_described)
{
    hsn_mp_obj_t paths;
    ck_assert (member (&root, "paths", &paths));
    size_t described = 0;
    for (uint32_t i = 0; i < paths.v.c.count; i++) {
        hsn_mp_obj_t path, item;
        pair (&paths, i, &path, &item);
        ck_assert_int_eq (item.type, HSN_MP_MAP);
        for (uint32_t j = 0; j < item.v.c.count; j++) {
            hsn_mp_obj_t k, v;
            pair (&item, j, &k, &v);
            /*  Path-level "summary", "parameters"... are not operations. */
            if (!is_http_method (&k))
                continue;
            ck_assert_msg (route_for (&path, &k), "the document describes %.*s %.*s, "
                           "which is no route", (int) k.v.s.len, k.v.s.ptr,
                           (int) path.v.s.len, path.v.s.ptr);
            described++;
        }
    }
    /*  Same set: every route is described (above), nothing else is, and no
     *  route is in the table twice. */
    ck_assert_uint_eq (described, gateway_nroutes);
    for (size_t i = 0; i < gateway_nroutes; i++)
        for (size_t j = i + 1; j < gateway_nroutes; j++)
            ck_assert_msg (strcmp (gateway_routes[i].pattern, gateway_routes[j].pattern)
                           || strcmp (gateway_routes[i].method, gateway_routes[j].method),
                           "%s %s twice in gateway_routes[]", gateway_routes[i].method,
                           gateway_routes[i].pattern);
}
END_TEST

START_TEST (path_parameters_are_declared)
{
    for (size_t i = 0; i < gateway_nroutes; i++) {
        const gateway_route_t *rt = &gateway_routes[i];
        hsn_mp_obj_t op, params;
        ck_assert (operation (rt, &op));
        for (const char *p = strchr (rt->pattern, '{'); p; p = strchr (p + 1, '{')) {
            const char *end = strchr (p, '}');
            ck_assert_ptr_nonnull (end);
            char name[64];
            snprintf (name, sizeof name, "%.*s", (int) (end - p - 1), p + 1);
            bool found = false;
            if (member (&op, "parameters", &params) && params.type == HSN_MP_ARRAY) {
                hsn_mp_reader_t r;
                hsn_mp_reader_of (&r, &params);
                for (uint32_t j = 0; j < params.v.c.count && !found; j++) {
                    hsn_mp_obj_t prm, n, in;
                    ck_assert_int_eq (hsn_mp_get (&r, &prm, HSN_MP_DEPTH_LIMIT), 0);
                    found = member (&prm, "name", &n) && hsn_mp_str_eq (&n, name)
                            && member (&prm, "in", &in) && hsn_mp_str_eq (&in, "path");
                }
            }
            ck_assert_msg (found, "%s %s: path parameter {%s} not declared", rt->method,
                           rt->pattern, name);
        }
    }
}
END_TEST

START_TEST (open_routes_need_no_key_in_the_document)
{
    /*  The document requires a key globally; the routes served without
     *  one say so with "security": []. */
    hsn_mp_obj_t sec;
    ck_assert (member (&root, "security", &sec) && sec.type == HSN_MP_ARRAY
               && sec.v.c.count > 0);
    for (size_t i = 0; i < gateway_nroutes; i++) {
        const gateway_route_t *rt = &gateway_routes[i];
        hsn_mp_obj_t op, s;
        ck_assert (operation (rt, &op));
        bool says_open = member (&op, "security", &s) && s.type == HSN_MP_ARRAY
                         && s.v.c.count == 0;
        ck_assert_msg (says_open == rt->open, "%s %s: open is %d in gateway_routes[], "
                       "the document says %s", rt->method, rt->pattern, rt->open,
                       says_open ? "open" : "a key is needed");
    }
}
END_TEST

START_TEST (refs_point_at_components)
{
    /*  Every "$ref" names something under #/components that exists. */
    const char *p = gateway_openapi_json;
    int refs = 0;
    while ((p = strstr (p, "\"$ref\":\"#/"))) {
        p += strlen ("\"$ref\":\"#/");
        const char *end = strchr (p, '"');
        ck_assert_ptr_nonnull (end);
        char ref[128];
        snprintf (ref, sizeof ref, "%.*s", (int) (end - p), p);
        hsn_mp_obj_t cur = root;
        for (char *save, *seg = strtok_r (ref, "/", &save); seg; seg = strtok_r (NULL, "/", &save))
            ck_assert_msg (member (&cur, seg, &cur), "$ref #/%.*s does not resolve",
                           (int) (end - p), p);
        refs++;
    }
    ck_assert_int_gt (refs, 0);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("gateway_openapi");
    TCase *tc = tcase_create ("document");
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_add_test (tc, is_openapi_3);
    tcase_add_test (tc, every_route_is_described);
    tcase_add_test (tc, nothing_else_is_described);
    tcase_add_test (tc, path_parameters_are_declared);
    tcase_add_test (tc, open_routes_need_no_key_in_the_document);
    tcase_add_test (tc, refs_point_at_components);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)
