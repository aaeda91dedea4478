#!/bin/sh
# cache-get: GET of one small cached JSON value, hsn against webdis.
#
#   hsn:    wrk -> hsn-gateway (civetweb) -> broker -> hsn-cache -> Redis
#           GET http://127.0.0.1:$GW/api/cache/bench/k1
#   webdis: wrk -> webdis -> Redis
#           GET http://127.0.0.1:$WD/GET/k1
#
# Both read the same Redis server (no persistence), holding the same bytes:
# hsn under its own key (as msgpack, after PUT through the gateway), webdis
# under "k1" (SET with redis-cli). Each target is checked for a 200 and the
# right value before it is measured, and again after the load. Runs: one
# connection (wrk -t1 -c1) and fifty (wrk -t2 -c50), BENCH_DURATION seconds
# each, after a 1 s warm-up per target. Run by bench/run-bench.sh.
set -u
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
bench_begin
bench_require curl wrk redis-server redis-cli webdis \
    "$HSN_BIN_DIR/hsn-gateway" "$HSN_BIN_DIR/hsn-cache" "$HSN_BIN_DIR/hsn-monitor"

# ~100 bytes of JSON; integers and plain ASCII only, so that hsn's
# JSON -> msgpack -> JSON round trip gives back the very same bytes.
VALUE='{"id":12345,"name":"benchmark-item","tags":["alpha","beta","gamma"],"active":true,"score":42,"n":""}'
# The same value as a JSON string, the way webdis returns it: {"GET":"..."}
VALUE_ESCAPED=$(printf '%s' "$VALUE" | sed 's/\\/\\\\/g; s/"/\\"/g')
D=$BENCH_DIR

# shellcheck disable=SC2046
set -- $(bench_free_ports 5)
if [ $# -ne 5 ]; then
    bench_fail "could not find 5 free loopback ports"
    bench_end
fi
REDIS_PORT=$1 WEBDIS_PORT=$2 GW_PORT=$3 BROKER_PORT=$4 MONITOR_PORT=$5
TAG="bench$$"
bench_log "ports: redis $REDIS_PORT, webdis $WEBDIS_PORT, gateway $GW_PORT, broker $BROKER_PORT, monitor $MONITOR_PORT"

HSN_URL="http://127.0.0.1:$GW_PORT/api/cache/bench/k1"
WD_URL="http://127.0.0.1:$WEBDIS_PORT/GET/k1"

# ---- redis ----------------------------------------------------------------
bench_spawn redis-server "$D/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$D" --daemonize no --loglevel warning
REDIS_PID=$BENCH_LAST_PID
# Ready when *our* server answers on the port (process_id), not some other.
redis_ours () {
    redis-cli -p "$REDIS_PORT" info server 2>/dev/null | tr -d '\r' \
        | grep -qx "process_id:$REDIS_PID"
}
if ! bench_wait_until 10 "redis-server on port $REDIS_PORT" redis_ours; then
    bench_fail "redis-server did not come up on 127.0.0.1:$REDIS_PORT: $(tail -n 3 "$D/redis.log" | tr '\n' ' ')"
    bench_end
fi
if [ "$(redis-cli -p "$REDIS_PORT" SET k1 "$VALUE")" != OK ]; then
    bench_fail "redis-cli SET k1 failed"
    bench_end
fi

# ---- webdis ---------------------------------------------------------------
# Defaults (4 threads, pool of 2 Redis connections per thread) except the
# addresses; foreground, quiet, its log in the temp dir; only GET allowed.
cat > "$D/webdis.json" <<EOF
{
    "redis_host": "127.0.0.1",
    "redis_port": $REDIS_PORT,
    "redis_auth": null,
    "http_host": "127.0.0.1",
    "http_port": $WEBDIS_PORT,
    "daemonize": false,
    "pidfile": "$D/webdis.pid",
    "database": 0,
    "acl": [ { "disabled": ["*"] }, { "enabled": ["GET"] } ],
    "verbosity": 0,
    "logfile": "$D/webdis.log"
}
EOF
bench_spawn webdis "$D/webdis.out" webdis "$D/webdis.json"
WEBDIS_PID=$BENCH_LAST_PID

# ---- hsn: monitor, gateway, cache -------------------------------------------
# Exported to the three services (they read only what concerns them).
export BROKER_ENDPOINT="tcp://127.0.0.1:$BROKER_PORT"
export MONITOR_ENDPOINT="tcp://127.0.0.1:$MONITOR_PORT"
export LOG_LEVEL=warn
export SHUTDOWN_TIMEOUT_MS=2000
bench_spawn hsn-monitor "$D/hsn-monitor.log" env HSN_REPLICA_ID="$TAG-monitor" \
    MONITOR_BIND="tcp://127.0.0.1:$MONITOR_PORT" MONITOR_EXPECTED_SERVICES=gateway,cache,monitor \
    "$HSN_BIN_DIR/hsn-monitor"
MON_PID=$BENCH_LAST_PID
bench_spawn hsn-gateway "$D/hsn-gateway.log" env HSN_REPLICA_ID="$TAG-gateway" \
    BROKER_BIND="tcp://127.0.0.1:$BROKER_PORT" GATEWAY_ADDR=127.0.0.1 GATEWAY_PORT="$GW_PORT" \
    "$HSN_BIN_DIR/hsn-gateway"
GW_PID=$BENCH_LAST_PID
bench_spawn hsn-cache "$D/hsn-cache.log" env HSN_REPLICA_ID="$TAG-cache" \
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT" "$HSN_BIN_DIR/hsn-cache"
CACHE_PID=$BENCH_LAST_PID

# ---- readiness ------------------------------------------------------------
webdis_ready () {
    bench_alive "$WEBDIS_PID" && bench_http_ok "$WD_URL"
}
WEBDIS_OK=1
if ! bench_wait_until 10 "webdis on port $WEBDIS_PORT" webdis_ready; then
    bench_check_alive webdis "$WEBDIS_PID" "$D/webdis.log"
    bench_fail "webdis did not answer 200 on $WD_URL within 10s (last: HTTP $HTTP_CODE)"
    WEBDIS_OK=0
fi

# Ready when the health report of *our* monitor (it names our replica ids)
# says 200, i.e. gateway, cache and monitor are all up.
hsn_ready () {
    bench_alive "$GW_PID" && bench_alive "$CACHE_PID" && bench_alive "$MON_PID" \
        && bench_http_ok "http://127.0.0.1:$GW_PORT/api/optimization/health" \
        && body_has "\"$TAG-gateway\"" && body_has "\"$TAG-cache\"" \
        && body_has "\"$TAG-monitor\""
}
body_has () {
    case $HTTP_BODY in *"$1"*) return 0 ;; esac
    return 1
}
HSN_OK=1
if ! bench_wait_until 15 "hsn health 200 on port $GW_PORT" hsn_ready; then
    bench_check_logs hsn-monitor "$MON_PID" "$D/hsn-monitor.log"
    bench_check_logs hsn-gateway "$GW_PID" "$D/hsn-gateway.log"
    bench_check_logs hsn-cache "$CACHE_PID" "$D/hsn-cache.log"
    bench_fail "hsn did not become healthy within 15s (GET /api/optimization/health: HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200))"
    HSN_OK=0
fi

# ---- the value, and checks that each target serves it -----------------------
HSN_BODY_B=- HSN_HDR_B=- WD_BODY_B=- WD_HDR_B=-
check_hsn () {    # $1: "before" or "after" the load
    if ! bench_http GET "$HSN_URL" || [ "$HTTP_CODE" != 200 ]; then
        bench_fail "hsn GET $HSN_URL ($1 load): HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200)"
        return 1
    fi
    case $HTTP_BODY in
        '{"success":true,'*"\"value\":$VALUE,"*) ;;
        *) bench_fail "hsn GET $HSN_URL ($1 load): 200 but not the stored value: $(printf '%s' "$HTTP_BODY" | cut -c 1-300)"
           return 1 ;;
    esac
    HSN_BODY_B=$HTTP_BODY_BYTES HSN_HDR_B=$HTTP_HEADER_BYTES
}
check_webdis () {
    if ! bench_http GET "$WD_URL" || [ "$HTTP_CODE" != 200 ]; then
        bench_fail "webdis GET $WD_URL ($1 load): HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200)"
        return 1
    fi
    if [ "$HTTP_BODY" != "{\"GET\":\"$VALUE_ESCAPED\"}" ]; then
        bench_fail "webdis GET $WD_URL ($1 load): 200 but not the stored value: $(printf '%s' "$HTTP_BODY" | cut -c 1-300)"
        return 1
    fi
    WD_BODY_B=$HTTP_BODY_BYTES WD_HDR_B=$HTTP_HEADER_BYTES
}

# A healthy report comes from the monitor; the broker may still be waiting
# for the cache worker to sign in, so the PUT is retried (with a deadline).
PUT_TRIES=0 PUT_FIRST_ERR=""
hsn_put () {
    PUT_TRIES=$((PUT_TRIES + 1))
    bench_http PUT "$HSN_URL?ttl=3600" "$VALUE" && [ "$HTTP_CODE" = 200 ] && return 0
    [ -n "$PUT_FIRST_ERR" ] || PUT_FIRST_ERR="HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-120)"
    return 1
}
if [ $HSN_OK = 1 ]; then
    if ! bench_wait_until 10 "hsn PUT 200" hsn_put; then
        bench_fail "hsn PUT $HSN_URL ($PUT_TRIES tries in 10s): HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200)"
        HSN_OK=0
    else
        [ $PUT_TRIES -gt 1 ] && bench_note "hsn PUT took $PUT_TRIES tries although health already said 200; first answer: $PUT_FIRST_ERR"
        check_hsn before || HSN_OK=0
    fi
fi
if [ $WEBDIS_OK = 1 ]; then
    check_webdis before || WEBDIS_OK=0
    # The raw form must be the very bytes hsn was given.
    if [ $WEBDIS_OK = 1 ] && bench_http GET "$WD_URL.txt" && [ "$HTTP_BODY" != "$VALUE" ]; then
        bench_fail "webdis GET $WD_URL.txt: not the stored bytes: $HTTP_BODY"
        WEBDIS_OK=0
    fi
fi

# ---- load -----------------------------------------------------------------
warm () {   # 1 s, not recorded: connections, pools and caches get going
    timeout 15 wrk -t1 -c4 -d1s "$1" > "$D/wrk-warmup-$2.txt" 2>&1
}
[ $HSN_OK = 1 ] && warm "$HSN_URL" hsn
[ $WEBDIS_OK = 1 ] && warm "$WD_URL" webdis
for TC in "1 1" "2 50"; do
    set -- $TC
    [ $HSN_OK = 1 ] && bench_wrk hsn "$1" "$2" "$HSN_URL" "$HSN_BODY_B" "$HSN_HDR_B"
    [ $WEBDIS_OK = 1 ] && bench_wrk webdis "$1" "$2" "$WD_URL" "$WD_BODY_B" "$WD_HDR_B"
done
bench_ratio hsn webdis

# ---- after the load: still up, still right, anything in the logs? -----------
if [ $HSN_OK = 1 ]; then
    bench_check_logs hsn-gateway "$GW_PID" "$D/hsn-gateway.log" || HSN_OK=0
    bench_check_logs hsn-cache "$CACHE_PID" "$D/hsn-cache.log" || HSN_OK=0
    bench_check_logs hsn-monitor "$MON_PID" "$D/hsn-monitor.log" || HSN_OK=0
    [ $HSN_OK = 1 ] && check_hsn after
    [ $HSN_OK = 1 ] && bench_http GET "http://127.0.0.1:$GW_PORT/api/optimization/health" \
        && [ "$HTTP_CODE" != 200 ] \
        && bench_note "hsn health after the load: HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-300)"
fi
if [ $WEBDIS_OK = 1 ]; then
    bench_check_alive webdis "$WEBDIS_PID" "$D/webdis.log" && check_webdis after
fi
bench_check_alive redis-server "$REDIS_PID" "$D/redis.log"
bench_note "response sizes (body+headers, bytes): hsn $HSN_BODY_B+$HSN_HDR_B, webdis $WD_BODY_B+$WD_HDR_B"
bench_end
