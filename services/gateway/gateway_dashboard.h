/*  gateway_dashboard: the dashboard page served at GET /, compiled in.
 *
 *  The source is services/gateway/dashboard.html (plain HTML, CSS and JS,
 *  no external resource: it works without internet access and draws its
 *  charts on <canvas> itself). gateway_dashboard.c holds the same bytes as
 *  a C string; regenerate it with `sh services/gateway/dashboard-embed.sh`
 *  after editing the page (tests/monitor/test_dashboard.c fails when they
 *  differ).
 */
#ifndef GATEWAY_DASHBOARD_H
#define GATEWAY_DASHBOARD_H

#include <stddef.h>

extern const char gateway_dashboard_html[];
extern const size_t gateway_dashboard_len;

#endif
