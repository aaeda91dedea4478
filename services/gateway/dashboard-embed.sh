#!/bin/sh
# Regenerate gateway_dashboard.c (the page as a C string, compiled into
# hsn-gateway) from dashboard.html. Run after editing the page:
#   sh services/gateway/dashboard-embed.sh
# tests/monitor/test_dashboard.c fails while the two differ.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
in="$here/dashboard.html"
out="$here/gateway_dashboard.c"
{
    printf '/*  GENERATED from dashboard.html by dashboard-embed.sh: edit the page,\n'
    printf ' *  then run sh services/gateway/dashboard-embed.sh. See gateway_dashboard.h. */\n'
    printf '#include "gateway_dashboard.h"\n\nconst char gateway_dashboard_html[] =\n'
    # Backslashes and quotes escaped, "??" split (no trigraphs), one line each.
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/??/?\\?/g' -e 's/^/    "/' -e 's/$/\\n"/' "$in"
    printf '    ;\nconst size_t gateway_dashboard_len = sizeof gateway_dashboard_html - 1;\n'
} > "$out.tmp"
mv "$out.tmp" "$out"
