#!/bin/sh
# gateway: the HTTP gateway itself beside nginx serving the very same bytes.
#
#   static  GET /api/openapi.json (a constant ~5 KB document, no backend; no
#           Accept-Encoding, so uncompressed)   vs nginx serving the bytes
#           the gateway returned, saved to a file (open_file_cache, sendfile)
#   near    GET /api/cache/bench/k1: a ~100-byte value answered by the
#           gateway's near-cache (its real hot path)   vs nginx, same bytes
#   gzip    GET /api/cache/bench/rows with Accept-Encoding: gzip: a ~10 KB
#           JSON array of DB-like rows from the near-cache, gzipped by the
#           gateway (zlib level 1, per response)   vs nginx gzip on,
#           gzip_comp_level 1, on the gateway's uncompressed body for that URL
#   size    uncompressed and gzip bytes of real API responses over 1 KB (the
#           10 KB value, the OpenAPI document, /api/optimization/health with
#           three cache replicas): R rows raw-* / gz-* (body_B), saving in N rows
#   idle1k  a new client's time to first byte (connect + send + first byte,
#           200 new connections one after the other) while 1,000 idle
#           keep-alive connections are open (bench/gateway/idle_ttfb.py;
#           every request is GET /api/openapi.json, no backend involved);
#           R row: rps = new connections per second, p50/p99 in us,
#           requests = timed connections, sock errors = failed ones
#
# Runs: wrk -t1 -c1 and -t2 -c50 (keep-alive), BENCH_DURATION seconds each,
# after a 1 s warm-up per target. One hsn stack (redis, monitor, gateway,
# three cache replicas) with the gateway's defaults (GATEWAY_THREADS=1100,
# compression on, MIN_COMPRESSION_SIZE=1024) except GATEWAY_KEEPALIVE_MS=60000,
# so that the 1,000 idle connections are not closed at the default 5 s while
# they are being opened and measured. One nginx (NGINX_WORKERS, default 2:
# the machine's cores; access_log off). Everything on 127.0.0.1, free ports.
#
# Targets (from the gateway issue; reported in N rows, they do not fail the
# scenario): static hsn >= 0.6x nginx req/s at 50 connections; gzip hsn >=
# 1.0x nginx req/s at 50; gzip saving >= 60 % on responses over 1 KB; new
# client p99 < 10 ms with 1,000 idle connections. The scenario fails on error
# responses, wrong bytes, a missing Content-Encoding: gzip, or a process that
# died or could not start. Run by bench/run-bench.sh.
set -u
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
bench_begin
bench_require curl wrk redis-server redis-cli python3 gzip awk \
    "$HSN_BIN_DIR/hsn-gateway" "$HSN_BIN_DIR/hsn-cache" "$HSN_BIN_DIR/hsn-monitor"
NGINX=${NGINX:-/usr/sbin/nginx}
NGINX_WORKERS=${NGINX_WORKERS:-2}
bench_require "$NGINX"

root=$(cd "$(dirname "$0")/../.." && pwd)
IDLE_PY="$root/bench/gateway/idle_ttfb.py"
D=$BENCH_DIR
TAG="bench$$"
IDLE_N=1000
NEW_N=200

# 1,000 idle connections + new ones + 1,100 threads' worth of sockets.
# (ulimit -n / -H: not POSIX, but in dash, bash and busybox sh)
# shellcheck disable=SC3045
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
# shellcheck disable=SC3045
FDS=$(ulimit -n)
bench_log "open files limit: $FDS"
if [ "$FDS" != unlimited ] && [ "$FDS" -lt 4096 ]; then
    bench_note "open files limit only $FDS: the idle-connections part may fail"
fi

# shellcheck disable=SC2046
set -- $(bench_free_ports 5)
if [ $# -ne 5 ]; then
    bench_fail "could not find free loopback ports"
    bench_end
fi
REDIS_PORT=$1 GW_PORT=$2 BROKER_PORT=$3 MONITOR_PORT=$4 NGX_PORT=$5
bench_log "ports: redis $REDIS_PORT, gateway $GW_PORT, broker $BROKER_PORT, monitor $MONITOR_PORT, nginx $NGX_PORT"
GW="http://127.0.0.1:$GW_PORT"
NG="http://127.0.0.1:$NGX_PORT"

# The small value (as in cache-get) and a ~10 KB one: an array of DB-like
# rows, integers and plain ASCII only (JSON -> msgpack -> JSON gives back the
# same bytes); the figures vary like real rows (a fixed LCG), so that gzip
# does not meet only repetition.
SMALL='{"id":12345,"name":"benchmark-item","tags":["alpha","beta","gamma"],"active":true,"score":42,"n":""}'
ROWS=$(awk 'BEGIN {
    x = 12345; m = 2147483648
    split("active pending suspended closed", st, " ")
    split("alpha beta gamma delta epsilon zeta eta theta", tg, " ")
    split("Ann Bob Carla Dmitri Eve Farid Gita Hugo Ines Jun Kemal Lea", fn, " ")
    split("Smith Garcia Novak Tanaka Okafor Muller Rossi Silva Kim Ivanova", ln, " ")
    out = "["
    for (i = 0; i < 46; i++) {
        x = (1103515245 * x + 12345) % m; a = int(x / 65536)
        x = (1103515245 * x + 12345) % m; b = int(x / 65536)
        x = (1103515245 * x + 12345) % m; c = int(x / 65536)
        id = 100000 + a % 900000
        f = fn[1 + a % 12]; l = ln[1 + b % 10]
        row = sprintf("{\"id\":%d,\"first_name\":\"%s\",\"last_name\":\"%s\",\"email\":\"%s.%s%d@example.com\",", \
                      id, f, l, tolower(f), tolower(l), b % 1000)
        row = row sprintf("\"status\":\"%s\",\"created_at\":\"20%02d-%02d-%02dT%02d:%02d:%02dZ\",", \
                      st[1 + c % 4], 18 + a % 7, 1 + b % 12, 1 + c % 28, a % 24, b % 60, c % 60)
        row = row sprintf("\"balance_cents\":%d,\"orders\":%d,\"tags\":[\"%s\",\"%s\"],\"verified\":%s}", \
                      (a * 7 + b) % 10000000, c % 500, tg[1 + a % 8], tg[1 + c % 8], (b % 3) ? "true" : "false")
        out = out (i ? "," : "") row
    }
    print out "]"
}')
bench_log "10 KB value: ${#ROWS} bytes"

# ---- redis -------------------------------------------------------------------
bench_redis_start "$REDIS_PORT"

# ---- hsn: monitor, gateway, three cache replicas -----------------------------
export LOG_LEVEL=warn
export SHUTDOWN_TIMEOUT_MS=2000
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export BROKER_ENDPOINT="tcp://127.0.0.1:$BROKER_PORT"
export MONITOR_ENDPOINT="tcp://127.0.0.1:$MONITOR_PORT"
bench_spawn monitor "$D/monitor.log" env HSN_REPLICA_ID="$TAG-monitor" \
    MONITOR_BIND="tcp://127.0.0.1:$MONITOR_PORT" MONITOR_EXPECTED_SERVICES=gateway,cache,monitor \
    "$HSN_BIN_DIR/hsn-monitor"
MON_PID=$BENCH_LAST_PID
bench_spawn gateway "$D/gateway.log" env HSN_REPLICA_ID="$TAG-gateway" \
    BROKER_BIND="tcp://127.0.0.1:$BROKER_PORT" GATEWAY_ADDR=127.0.0.1 GATEWAY_PORT="$GW_PORT" \
    GATEWAY_THREADS=1100 GATEWAY_KEEPALIVE_MS=60000 \
    "$HSN_BIN_DIR/hsn-gateway"
GW_PID=$BENCH_LAST_PID
CACHE_PIDS=""
for i in 1 2 3; do
    bench_spawn "cache-$i" "$D/cache-$i.log" env HSN_REPLICA_ID="$TAG-cache-$i" "$HSN_BIN_DIR/hsn-cache"
    CACHE_PIDS="$CACHE_PIDS $BENCH_LAST_PID"
done

body_has () {
    case $HTTP_BODY in *"$1"*) return 0 ;; esac
    return 1
}
stack_ready () {
    bench_alive "$GW_PID" && bench_alive "$MON_PID" \
        && bench_http_ok "$GW/api/optimization/health" \
        && body_has "\"$TAG-cache-1\"" && body_has "\"$TAG-cache-2\"" && body_has "\"$TAG-cache-3\""
}
put () {    # put KEY VALUE
    bench_http PUT "$GW/api/cache/bench/$1?ttl=3600" "$2" && [ "$HTTP_CODE" = 200 ]
}
from_near () {  # from_near KEY VALUE: 200, the value, level near
    bench_http GET "$GW/api/cache/bench/$1" && [ "$HTTP_CODE" = 200 ] \
        && body_has "\"value\":$2," && body_has '"level":"near"'
}
HSN_OK=1
if ! bench_wait_until 20 "hsn healthy with 3 cache replicas" stack_ready \
    || ! bench_wait_until 10 "PUT k1" put k1 "$SMALL" \
    || ! bench_wait_until 10 "PUT rows" put rows "$ROWS" \
    || ! bench_wait_until 10 "k1 from the near-cache" from_near k1 "$SMALL" \
    || ! bench_wait_until 10 "rows from the near-cache" from_near rows "$ROWS"; then
    bench_check_logs gateway "$GW_PID" "$D/gateway.log"
    bench_fail "hsn not ready (last HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200))"
    bench_end
fi

# ---- the gateway's bytes, for nginx to serve ------------------------------------
WWW="$D/www"
mkdir -p "$WWW/api/cache/bench"
# save URL FILE: the gateway's uncompressed body (no Accept-Encoding).
save () {
    code=$(curl -s -m 5 -o "$2" -w '%{http_code}' "$1")
    [ "$code" = 200 ] || { bench_fail "GET $1: HTTP $code"; return 1; }
}
save "$GW/api/openapi.json" "$WWW/api/openapi.json" || bench_end
save "$GW/api/cache/bench/k1" "$WWW/api/cache/bench/k1" || bench_end
save "$GW/api/cache/bench/rows" "$WWW/api/cache/bench/rows" || bench_end
chmod -R a+rX "$WWW"

# ---- nginx ---------------------------------------------------------------------------
mkdir -p "$D/nginx"
cat > "$D/nginx/nginx.conf" <<EOF
user root;
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 16384;
events {
    worker_connections 8192;
}
http {
    access_log off;
    client_body_temp_path $D/nginx/body;
    proxy_temp_path $D/nginx/proxy;
    fastcgi_temp_path $D/nginx/fastcgi;
    types { }
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    open_file_cache max=64 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_min_uses 1;
    gzip on;
    gzip_comp_level 1;
    gzip_types application/json;
    gzip_min_length 1024;
    gzip_vary on;
    server {
        listen 127.0.0.1:$NGX_PORT backlog=4096;
        root $WWW;
    }
}
EOF
[ "$(id -u)" = 0 ] || sed -i '/^user root;$/d' "$D/nginx/nginx.conf"
bench_spawn nginx "$D/nginx.out" "$NGINX" -c "$D/nginx/nginx.conf" -p "$D/nginx" \
    -g "daemon off; pid $D/nginx/nginx.pid; error_log $D/nginx/error.log;"
NGX_PID=$BENCH_LAST_PID
nginx_ready () {
    bench_alive "$NGX_PID" && [ -s "$D/nginx/nginx.pid" ] \
        && [ "$(cat "$D/nginx/nginx.pid")" = "$NGX_PID" ] && bench_http_ok "$NG/api/openapi.json"
}
NGX_OK=1
if ! bench_wait_until 10 "nginx on port $NGX_PORT" nginx_ready; then
    bench_fail "nginx did not come up on 127.0.0.1:$NGX_PORT: $(cat "$D/nginx.out" "$D/nginx/error.log" 2>/dev/null | tail -n 3 | tr '\n' ' ')"
    NGX_OK=0
fi

# same URL -> same bytes (no Accept-Encoding), and the Content-Type
same_bytes () {     # same_bytes PATH
    curl -s -m 5 -D "$D/.ng-hdr" -o "$D/.ng-body" "$NG$1" \
        && cmp -s "$D/.ng-body" "$WWW$1" \
        && grep -qi '^content-type: application/json' "$D/.ng-hdr"
}
if [ $NGX_OK = 1 ]; then
    for p in /api/openapi.json /api/cache/bench/k1 /api/cache/bench/rows; do
        same_bytes "$p" || { bench_fail "nginx GET $p: not the gateway's bytes / not application/json"; NGX_OK=0; }
    done
fi

# ---- gzip actually happens, on both --------------------------------------------------
# gz_check NAME URL: Content-Encoding: gzip, and the body inflates to what
# the uncompressed GET returns (up to the envelope's meta, which differs per
# request). Sets GZ_BYTES, GZ_HDR.
gz_check () {
    code=$(curl -s -m 5 -H 'Accept-Encoding: gzip' -D "$D/.gz-hdr-$1" -o "$D/.gz-body-$1" \
                -w '%{http_code} %{size_download} %{size_header}' "$2")
    # shellcheck disable=SC2086
    set -- "$1" "$2" $code
    GZ_BYTES=${4:-0} GZ_HDR=${5:-0}
    if [ "${3:-000}" != 200 ]; then
        bench_fail "$1: GET $2 with Accept-Encoding: gzip: HTTP ${3:-000}"
        return 1
    fi
    if ! tr -d '\r' < "$D/.gz-hdr-$1" | grep -qi '^content-encoding: gzip$'; then
        bench_fail "$1: GET $2 with Accept-Encoding: gzip: no Content-Encoding: gzip"
        return 1
    fi
    if ! gzip -dc < "$D/.gz-body-$1" > "$D/.gz-plain-$1" 2>/dev/null; then
        bench_fail "$1: GET $2: the gzip body does not inflate"
        return 1
    fi
    return 0
}
prefix_of () {      # prefix_of FILE: up to ,"meta" (the gateway's envelope)
    awk '{ i = index($0, ",\"meta\""); print (i ? substr($0, 1, i - 1) : $0) }' "$1"
}
GZ_OK=1
if gz_check hsn-gzip "$GW/api/cache/bench/rows"; then
    HSN_GZ_B=$GZ_BYTES HSN_GZ_H=$GZ_HDR
    if [ "$(prefix_of "$D/.gz-plain-hsn-gzip")" != "$(prefix_of "$WWW/api/cache/bench/rows")" ]; then
        bench_fail "hsn-gzip: the inflated body is not the uncompressed one"
        GZ_OK=0
    fi
else
    GZ_OK=0
fi
if [ $NGX_OK = 1 ] && gz_check nginx-gzip "$NG/api/cache/bench/rows"; then
    NGX_GZ_B=$GZ_BYTES NGX_GZ_H=$GZ_HDR
    cmp -s "$D/.gz-plain-nginx-gzip" "$WWW/api/cache/bench/rows" \
        || bench_fail "nginx-gzip: the inflated body is not the file"
else
    NGX_OK=0
fi

# ---- throughput and latency ---------------------------------------------------------
warm () {   # 1 s, not recorded
    timeout 15 wrk -t1 -c4 -d1s ${3:+-H "$3"} "$1" > "$D/wrk-warmup-$2.txt" 2>&1
}
# wrk_h TARGET THREADS CONNS URL BODY_B HDR_B HEADER: bench_wrk with one
# request header (bench_wrk has none).
wrk_h () {
    target=$1 threads=$2 conns=$3 url=$4 bbytes=$5 hbytes=$6 header=$7
    out="$D/wrk-$target-c$conns.txt"
    bench_log "wrk -t$threads -c$conns -d${BENCH_DURATION}s --latency -H '$header' $url"
    timeout $((BENCH_DURATION + 15)) wrk -t"$threads" -c"$conns" -d"${BENCH_DURATION}s" \
        --latency -H "$header" "$url" > "$out" 2>&1
    rc=$?
    [ $rc -ne 0 ] && bench_fail "wrk against $target (c=$conns) exited with status $rc: $(tail -n 3 "$out" | tr '\n' ' ')"
    # shellcheck disable=SC2046
    set -- $(bench_parse_wrk < "$out")
    printf 'R\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$BENCH_SCENARIO" "$target" \
        "$threads" "$conns" "$1" "$2" "$3" "$4" "$5" "$6" "$bbytes" "$hbytes" >> "$BENCH_ROWS"
    bench_log "$target c=$conns: $1 req/s, p50 $2 us, p99 $3 us, $4 requests, non-2xx $5, socket errors $6"
    [ "$5" != - ] && [ "$5" -gt 0 ] && bench_fail "$target c=$conns: $5 of $4 responses were not 2xx/3xx"
    [ "$6" != - ] && [ "$6" -gt 0 ] && bench_note "$target c=$conns: socket errors: $(grep 'Socket errors' "$out" | sed 's/^ *Socket errors: *//')"
    [ "$1" = - ] && [ $rc -eq 0 ] && bench_fail "could not parse wrk output for $target (c=$conns), see $out"
    return 0
}
# bytes per response wrk read (headers + body), from "N requests in T, X MB read"
wrk_bytes_per () {
    awk '/requests in/ {
            n = $1; v = $5; u = v; sub(/^[0-9.]+/, "", u); v += 0
            m = (u == "KB") ? 1024 : (u == "MB") ? 1048576 : (u == "GB") ? 1073741824 : 1
            if (n > 0) printf "%.0f", v * m / n
         }' "$D/wrk-$1-c$2.txt" 2>/dev/null
}
# hdr_b URL: the response's header bytes (no Accept-Encoding)
hdr_b () {
    curl -s -m 5 -o /dev/null -w '%{size_header}' "$1"
}
# measure TARGET URL [HEADER BODY_B HDR_B]
measure () {
    if [ -n "${3:-}" ]; then
        warm "$2" "$1" "$3"
        wrk_h "$1" 1 1 "$2" "$4" "$5" "$3"
        wrk_h "$1" 2 50 "$2" "$4" "$5" "$3"
    else
        m_b=$(wc -c < "$WWW/${2#http://*/}") m_h=$(hdr_b "$2")
        warm "$2" "$1"
        bench_wrk "$1" 1 1 "$2" "$m_b" "$m_h"
        bench_wrk "$1" 2 50 "$2" "$m_b" "$m_h"
    fi
}

measure hsn-static "$GW/api/openapi.json"
[ $NGX_OK = 1 ] && measure nginx-static "$NG/api/openapi.json"
measure hsn-near "$GW/api/cache/bench/k1"
[ $NGX_OK = 1 ] && measure nginx-near "$NG/api/cache/bench/k1"
if [ $GZ_OK = 1 ]; then
    measure hsn-gzip "$GW/api/cache/bench/rows" 'Accept-Encoding: gzip' "$HSN_GZ_B" "$HSN_GZ_H"
    [ $NGX_OK = 1 ] && measure nginx-gzip "$NG/api/cache/bench/rows" 'Accept-Encoding: gzip' "$NGX_GZ_B" "$NGX_GZ_H"
    for t in hsn-gzip nginx-gzip; do
        bp=$(wrk_bytes_per "$t" 50)
        [ -n "$bp" ] && bench_note "$t c=50: wrk read ~$bp bytes per response (headers + gzip body), so it got them compressed"
    done
fi
bench_check_alive gateway "$GW_PID" "$D/gateway.log" || HSN_OK=0
# still the right answers after the load
[ $HSN_OK = 1 ] && { from_near rows "$ROWS" || bench_fail "rows: wrong answer after the load: $(printf '%s' "$HTTP_BODY" | cut -c 1-200)"; }

bench_ratio hsn-static nginx-static
bench_ratio hsn-near nginx-near
bench_ratio hsn-gzip nginx-gzip

# target NAME NUM/DEN CONNS MIN: a note on the req/s ratio at CONNS
target_rps () {
    r=$(awk -F '\t' -v sc="$BENCH_SCENARIO" -v rat="$2" -v c="$3" \
        '$1 == "X" && $2 == sc && $3 == rat && $4 == c { print $5 }' "$BENCH_ROWS" | tail -n 1)
    if [ -z "$r" ] || [ "$r" = - ]; then
        bench_note "target $1: $2 req/s >= ${4}x at $3 connections: no figure (a run failed)"
    elif awk -v r="$r" -v m="$4" 'BEGIN { exit !(r >= m) }'; then
        bench_note "target $1: $2 req/s >= ${4}x at $3 connections: ${r}x - met"
    else
        bench_note "target $1: $2 req/s >= ${4}x at $3 connections: ${r}x - NOT met"
    fi
}
target_rps static hsn-static/nginx-static 50 0.6
target_rps gzip hsn-gzip/nginx-gzip 50 1.0

# ---- size saving on real responses over 1 KB --------------------------------------------
# size NAME URL: R rows raw-NAME and gz-NAME (body_B, header_B), a note.
SIZE_MIN=""
size () {
    raw=$(curl -s -m 5 -o /dev/null -w '%{http_code} %{size_download} %{size_header}' "$2")
    gz=$(curl -s -m 5 -H 'Accept-Encoding: gzip' -D "$D/.size-hdr" -o /dev/null \
              -w '%{http_code} %{size_download} %{size_header}' "$2")
    # shellcheck disable=SC2086
    set -- "$1" "$2" $raw $gz
    if [ "$3" != 200 ] || [ "${6:-}" != 200 ]; then
        bench_fail "size $1: GET $2: HTTP $3 / $6 (with gzip)"
        return
    fi
    printf 'R\t%s\traw-%s\t-\t-\t-\t-\t-\t1\t0\t0\t%s\t%s\n' "$BENCH_SCENARIO" "$1" "$4" "$5" >> "$BENCH_ROWS"
    printf 'R\t%s\tgz-%s\t-\t-\t-\t-\t-\t1\t0\t0\t%s\t%s\n' "$BENCH_SCENARIO" "$1" "$7" "$8" >> "$BENCH_ROWS"
    enc=$(tr -d '\r' < "$D/.size-hdr" | awk -F ': *' 'tolower($1) == "content-encoding" { print $2 }')
    s=$(awk -v a="$4" -v b="$7" 'BEGIN { printf "%.1f", ((a > 0) ? 100 * (1 - b / a) : 0) }')
    bench_note "size $1 ($2): $4 bytes uncompressed, $7 with Accept-Encoding: gzip (Content-Encoding: ${enc:-none}): $s % saved"
    if [ "$4" -ge 1024 ]; then
        if [ "$enc" != gzip ]; then
            bench_fail "size $1: $4 bytes (over 1 KB) but not gzipped"
        fi
        SIZE_MIN=$(awk -v a="${SIZE_MIN:-101}" -v b="$s" 'BEGIN { print ((b + 0 < a + 0) ? b : a) }')
    fi
}
size rows10k "$GW/api/cache/bench/rows"
size openapi "$GW/api/openapi.json"
size health "$GW/api/optimization/health"
if [ -n "$SIZE_MIN" ]; then
    if awk -v s="$SIZE_MIN" 'BEGIN { exit !(s >= 60) }'; then
        bench_note "target size: gzip saving >= 60 % on responses over 1 KB: lowest $SIZE_MIN % - met"
    else
        bench_note "target size: gzip saving >= 60 % on responses over 1 KB: lowest $SIZE_MIN % - NOT met"
    fi
fi

# ---- new clients with 1,000 idle keep-alive connections open ---------------------------
# idle TARGET HOST_PORT
idle () {
    host_port=$2
    bench_log "$1: $IDLE_N idle keep-alive connections, then $NEW_N new ones timed"
    out=$(timeout 60 python3 "$IDLE_PY" 127.0.0.1 "${host_port##*:}" /api/openapi.json \
              "$IDLE_N" "$NEW_N" 2> "$D/idle-$1.err")
    rc=$?
    # ok IDLE_OPEN NEW_OK P50 P99 MAX CONN_PER_S NON2XX ERRORS IDLE_SERVED IDLE_CLOSED OPEN_S
    # shellcheck disable=SC2086
    set -- "$1" $out
    if [ $rc -ne 0 ] || [ "${2:-}" != ok ]; then
        bench_fail "$1: idle_ttfb.py failed (status $rc): $(head -c 300 "$D/idle-$1.err" | tr '\n' ' ')"
        return 1
    fi
    printf 'R\t%s\t%s\t1\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\n' "$BENCH_SCENARIO" "$1" \
        "$IDLE_N" "$8" "$5" "$6" "$4" "$9" "${10}" >> "$BENCH_ROWS"
    bench_note "$1: $3 idle keep-alive connections opened in ${13}s; $4 of $NEW_N new connections answered, TTFB p50 $5 us, p99 $6 us, max $7 us; afterwards ${11} idle ones still served, ${12} closed by the server"
    [ "$9" -gt 0 ] && bench_fail "$1: $9 new connections got a non-2xx answer"
    [ "${10}" -gt 0 ] && bench_fail "$1: ${10} of $NEW_N new connections failed ($(head -c 200 "$D/idle-$1.err" | tr '\n' ' '))"
    [ "${12}" -gt 0 ] && bench_note "$1: ${12} of $IDLE_N idle connections were closed by the server before the end"
    return 0
}
bench_note "idle1k: gateway started with GATEWAY_THREADS=1100 (the default) and GATEWAY_KEEPALIVE_MS=60000 (default 5000), so that the idle connections stay open while they are opened and measured; every request is GET /api/openapi.json"
idle hsn-idle1k "$GW_PORT" && HSN_P99=$(awk -F '\t' -v sc="$BENCH_SCENARIO" \
    '$1 == "R" && $2 == sc && $3 == "hsn-idle1k" { print $8 }' "$BENCH_ROWS" | tail -n 1)
[ $NGX_OK = 1 ] && idle nginx-idle1k "$NGX_PORT"
bench_ratio hsn-idle1k nginx-idle1k
if [ -n "${HSN_P99:-}" ]; then
    if awk -v p="$HSN_P99" 'BEGIN { exit !(p < 10000) }'; then
        bench_note "target idle1k: new client p99 TTFB < 10 ms with $IDLE_N idle connections: ${HSN_P99} us - met"
    else
        bench_note "target idle1k: new client p99 TTFB < 10 ms with $IDLE_N idle connections: ${HSN_P99} us - NOT met"
    fi
fi

# ---- the end ------------------------------------------------------------------------------
bench_check_logs gateway "$GW_PID" "$D/gateway.log"
bench_check_logs monitor "$MON_PID" "$D/monitor.log"
i=1
for p in $CACHE_PIDS; do
    bench_check_logs "cache-$i" "$p" "$D/cache-$i.log"
    i=$((i + 1))
done
bench_check_alive redis-server "$REDIS_PID" "$D/redis.log"
if [ $NGX_OK = 1 ]; then
    bench_check_alive nginx "$NGX_PID" "$D/nginx/error.log"
    ngx_err=$(grep -c -E '\[(alert|crit|emerg|error)\]' "$D/nginx/error.log" 2>/dev/null)
    [ "${ngx_err:-0}" -gt 0 ] && bench_note "nginx logged $ngx_err line(s) at error or worse (first: $(grep -m 1 -E '\[(alert|crit|emerg|error)\]' "$D/nginx/error.log" | cut -c 1-200))"
fi
bench_note "nginx: worker_processes $NGINX_WORKERS, access_log off, open_file_cache + sendfile, gzip_comp_level 1 for application/json >= 1024 bytes; hsn: one gateway (1100 threads) in front of three cache replicas"
bench_end
