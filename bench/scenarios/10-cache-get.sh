#!/bin/sh
# cache-get: GET of one small cached JSON value, hsn against webdis.
#
#   hsn-near: wrk -> hsn-gateway, answered by its near-cache (the hot key)
#   hsn-l1:   near-cache off: gateway -> broker -> hsn-cache L1
#   hsn-l2:   near-cache and L1 off: gateway -> broker -> hsn-cache -> Redis
#             GET http://127.0.0.1:$GW/api/cache/bench/k1  (one stack each)
#   webdis:   wrk -> webdis -> Redis
#             GET http://127.0.0.1:$WD/GET/k1
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
set -- $(bench_free_ports 2)
if [ $# -ne 2 ]; then
    bench_fail "could not find free loopback ports"
    bench_end
fi
REDIS_PORT=$1 WEBDIS_PORT=$2
TAG="bench$$"
bench_log "ports: redis $REDIS_PORT, webdis $WEBDIS_PORT"
WD_URL="http://127.0.0.1:$WEBDIS_PORT/GET/k1"

# ---- redis ----------------------------------------------------------------
bench_redis_start "$REDIS_PORT"
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

# ---- webdis: ready, right value, measured ---------------------------------
webdis_ready () {
    bench_alive "$WEBDIS_PID" && bench_http_ok "$WD_URL"
}
WD_BODY_B=- WD_HDR_B=-
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
warm () {   # 1 s, not recorded: connections, pools and caches get going
    timeout 15 wrk -t1 -c4 -d1s "$1" > "$D/wrk-warmup-$2.txt" 2>&1
}
WEBDIS_OK=1
if ! bench_wait_until 10 "webdis on port $WEBDIS_PORT" webdis_ready; then
    bench_check_alive webdis "$WEBDIS_PID" "$D/webdis.log"
    bench_fail "webdis did not answer 200 on $WD_URL within 10s (last: HTTP $HTTP_CODE)"
    WEBDIS_OK=0
fi
if [ $WEBDIS_OK = 1 ]; then
    check_webdis before || WEBDIS_OK=0
    # The raw form must be the very bytes hsn was given.
    if [ $WEBDIS_OK = 1 ] && bench_http GET "$WD_URL.txt" && [ "$HTTP_BODY" != "$VALUE" ]; then
        bench_fail "webdis GET $WD_URL.txt: not the stored bytes: $HTTP_BODY"
        WEBDIS_OK=0
    fi
fi
if [ $WEBDIS_OK = 1 ]; then
    warm "$WD_URL" webdis
    bench_wrk webdis 1 1 "$WD_URL" "$WD_BODY_B" "$WD_HDR_B"
    bench_wrk webdis 2 50 "$WD_URL" "$WD_BODY_B" "$WD_HDR_B"
    bench_check_alive webdis "$WEBDIS_PID" "$D/webdis.log" && check_webdis after
fi

# ---- hsn: one stack per variant, measured one after the other ---------------
export LOG_LEVEL=warn
export SHUTDOWN_TIMEOUT_MS=2000
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

body_has () {
    case $HTTP_BODY in *"$1"*) return 0 ;; esac
    return 1
}

# hsn_variant NAME LEVEL GATEWAY_ENV CACHE_ENV : start monitor, gateway and
# cache (extra env as "K=V ..."), store the value, check that GET answers it
# from LEVEL, measure at 1 and 50 connections, stop the stack.
hsn_variant () {
    # v_ names: POSIX sh has no locals, and bench/lib.sh uses plain ones.
    v_name=$1 v_level=$2 v_gw_env=$3 v_cache_env=$4
    # shellcheck disable=SC2046
    set -- $(bench_free_ports 3)
    GW_PORT=$1 BROKER_PORT=$2 MONITOR_PORT=$3
    v_url="http://127.0.0.1:$GW_PORT/api/cache/bench/k1"
    bench_log "$v_name: gateway $GW_PORT, broker $BROKER_PORT, monitor $MONITOR_PORT"
    export BROKER_ENDPOINT="tcp://127.0.0.1:$BROKER_PORT"
    export MONITOR_ENDPOINT="tcp://127.0.0.1:$MONITOR_PORT"
    bench_spawn "$v_name-monitor" "$D/$v_name-monitor.log" env HSN_REPLICA_ID="$TAG-$v_name-monitor" \
        MONITOR_BIND="tcp://127.0.0.1:$MONITOR_PORT" MONITOR_EXPECTED_SERVICES=gateway,cache,monitor \
        "$HSN_BIN_DIR/hsn-monitor"
    v_mon=$BENCH_LAST_PID
    # shellcheck disable=SC2086
    bench_spawn "$v_name-gateway" "$D/$v_name-gateway.log" env HSN_REPLICA_ID="$TAG-$v_name-gateway" \
        BROKER_BIND="tcp://127.0.0.1:$BROKER_PORT" GATEWAY_ADDR=127.0.0.1 GATEWAY_PORT="$GW_PORT" \
        $v_gw_env "$HSN_BIN_DIR/hsn-gateway"
    v_gw=$BENCH_LAST_PID
    # shellcheck disable=SC2086
    bench_spawn "$v_name-cache" "$D/$v_name-cache.log" env HSN_REPLICA_ID="$TAG-$v_name-cache" \
        $v_cache_env "$HSN_BIN_DIR/hsn-cache"
    v_cache=$BENCH_LAST_PID
    v_ok=1
    ready () {
        bench_alive "$v_gw" && bench_alive "$v_cache" && bench_alive "$v_mon" \
            && bench_http_ok "http://127.0.0.1:$GW_PORT/api/optimization/health" \
            && body_has "\"$TAG-$v_name-cache\""
    }
    # Health comes from the monitor; the broker may register the replica a
    # moment later, so the PUT is retried within a deadline too.
    put () {
        bench_http PUT "$v_url?ttl=3600" "$VALUE" && [ "$HTTP_CODE" = 200 ]
    }
    # Read until the variant's level answers (the near-cache and L1 fill on
    # the first reads).
    answers () {
        bench_http GET "$v_url" && [ "$HTTP_CODE" = 200 ] \
            && body_has "\"value\":$VALUE," && body_has "\"level\":\"$v_level\""
    }
    if ! bench_wait_until 15 "$v_name healthy" ready \
        || ! bench_wait_until 10 "$v_name PUT 200" put \
        || ! bench_wait_until 10 "$v_name GET from $v_level" answers; then
        bench_fail "$v_name: not ready (last HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200))"
        v_ok=0
    fi
    if [ $v_ok = 1 ]; then
        v_b=$HTTP_BODY_BYTES v_h=$HTTP_HEADER_BYTES
        warm "$v_url" "$v_name"
        bench_wrk "$v_name" 1 1 "$v_url" "$v_b" "$v_h"
        bench_wrk "$v_name" 2 50 "$v_url" "$v_b" "$v_h"
        bench_check_logs "$v_name-gateway" "$v_gw" "$D/$v_name-gateway.log" || v_ok=0
        bench_check_logs "$v_name-cache" "$v_cache" "$D/$v_name-cache.log" || v_ok=0
        [ $v_ok = 1 ] && { answers || bench_fail "$v_name: wrong answer after the load: $(printf '%s' "$HTTP_BODY" | cut -c 1-200)"; }
        bench_ratio "$v_name" webdis
        bench_note "$v_name: response $v_b+$v_h bytes (body+headers)"
    fi
    kill -TERM "$v_gw" "$v_cache" "$v_mon" 2>/dev/null
    wait "$v_gw" "$v_cache" "$v_mon" 2>/dev/null
}

hsn_variant hsn-near near "" ""
# The same near-cache hit with civetweb on the public port (no front): what
# the event-driven front buys, measured in this run.
hsn_variant hsn-near-civetweb near "GATEWAY_FRONT=false" ""
hsn_variant hsn-l1 l1 "GATEWAY_NEAR_CACHE_SIZE=0" ""
hsn_variant hsn-l2 l2 "GATEWAY_NEAR_CACHE_SIZE=0" "CACHE_L1_ENABLED=false"

bench_check_alive redis-server "$REDIS_PID" "$D/redis.log"
bench_note "webdis response: $WD_BODY_B+$WD_HDR_B bytes (body+headers)"
bench_end
