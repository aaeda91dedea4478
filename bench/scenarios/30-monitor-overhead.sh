#!/bin/sh
# monitor-overhead: what reporting to the monitor costs a service under load.
#
# The same stack (hsn-gateway with its near-cache off, one hsn-cache with
# L1, hsn-monitor, Redis) under the same wrk load (GET of one cached key,
# wrk -t2 -c50, BENCH_DURATION seconds), with
#   on:  PERFORMANCE_MONITORING_ENABLED=true,  METRICS_COLLECTION_INTERVAL=1
#        (stats every second: 30 times the default rate)
#   off: PERFORMANCE_MONITORING_ENABLED=false (heartbeats only)
# in the order on, off, off, on (a fresh stack each run), so that drift of
# the machine weighs on both alike. For the gateway, the cache replica and
# the monitor, the CPU each used during the wrk run (utime + stime from
# /proc/PID/stat, before and after) per 10 000 requests served.
#
# Rows (bench/lib.sh format): one R row per run (targets mon-on-1, mon-off-1,
# mon-off-2, mon-on-2); X rows mon-on-N/mon-off-N (req/s and p50); N rows
# with the CPU figures per process and run, and per process the ratio
# on/off of CPU per 10k requests over both runs, against the 2 % budget
# ("the monitor adds no more than 2 % CPU to a service under load").
# Fails when a run cannot be set up or a process dies; over budget is a
# note, or a failure with BENCH_MONITOR_STRICT=1 (a shared machine's noise
# can exceed 2 %).
set -u
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
bench_begin
bench_require curl wrk redis-server redis-cli awk \
    "$HSN_BIN_DIR/hsn-gateway" "$HSN_BIN_DIR/hsn-cache" "$HSN_BIN_DIR/hsn-monitor"

D=$BENCH_DIR
TAG="bench$$"
VALUE='{"id":12345,"name":"benchmark-item","tags":["alpha","beta","gamma"],"active":true,"score":42,"n":""}'
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# shellcheck disable=SC2046
set -- $(bench_free_ports 1)
REDIS_PORT=$1
bench_redis_start "$REDIS_PORT"

export LOG_LEVEL=warn SHUTDOWN_TIMEOUT_MS=2000 REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# CPU ticks (user + system) of a process so far.
ticks () {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

body_has () {
    case $HTTP_BODY in *"$1"*) return 0 ;; esac
    return 1
}

# run NAME ON|OFF : one stack, one measured wrk run; appends
# "NAME mode requests gw_ticks cache_ticks monitor_ticks" to $D/cpu.
run () {
    r_name=$1 r_mode=$2
    r_flag=false
    [ "$r_mode" = on ] && r_flag=true
    # shellcheck disable=SC2046
    set -- $(bench_free_ports 3)
    GW_PORT=$1 BROKER_PORT=$2 MONITOR_PORT=$3
    r_url="http://127.0.0.1:$GW_PORT/api/cache/bench/k1"
    export BROKER_ENDPOINT="tcp://127.0.0.1:$BROKER_PORT" MONITOR_ENDPOINT="tcp://127.0.0.1:$MONITOR_PORT"
    export PERFORMANCE_MONITORING_ENABLED=$r_flag METRICS_COLLECTION_INTERVAL=1
    bench_spawn "$r_name-monitor" "$D/$r_name-monitor.log" env HSN_REPLICA_ID="$TAG-$r_name-monitor" \
        MONITOR_BIND="tcp://127.0.0.1:$MONITOR_PORT" MONITOR_EXPECTED_SERVICES=gateway,cache,monitor \
        "$HSN_BIN_DIR/hsn-monitor"
    r_mon=$BENCH_LAST_PID
    bench_spawn "$r_name-gateway" "$D/$r_name-gateway.log" env HSN_REPLICA_ID="$TAG-$r_name-gateway" \
        BROKER_BIND="tcp://127.0.0.1:$BROKER_PORT" GATEWAY_ADDR=127.0.0.1 GATEWAY_PORT="$GW_PORT" \
        GATEWAY_NEAR_CACHE_SIZE=0 "$HSN_BIN_DIR/hsn-gateway"
    r_gw=$BENCH_LAST_PID
    bench_spawn "$r_name-cache" "$D/$r_name-cache.log" env HSN_REPLICA_ID="$TAG-$r_name-cache" \
        "$HSN_BIN_DIR/hsn-cache"
    r_cache=$BENCH_LAST_PID
    ready () {
        bench_alive "$r_gw" && bench_alive "$r_cache" && bench_alive "$r_mon" \
            && bench_http_ok "http://127.0.0.1:$GW_PORT/api/optimization/health" \
            && body_has "\"$TAG-$r_name-cache\""
    }
    put () {
        bench_http PUT "$r_url?ttl=3600" "$VALUE" && [ "$HTTP_CODE" = 200 ]
    }
    answers () {
        bench_http GET "$r_url" && [ "$HTTP_CODE" = 200 ] && body_has "\"level\":\"l1\""
    }
    r_ok=1
    if ! bench_wait_until 15 "$r_name healthy" ready || ! bench_wait_until 10 "$r_name PUT" put \
        || ! bench_wait_until 10 "$r_name GET from l1" answers; then
        bench_fail "$r_name: not ready (last HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200))"
        r_ok=0
    fi
    if [ $r_ok = 1 ]; then
        timeout 15 wrk -t2 -c50 -d1s "$r_url" > "$D/wrk-warmup-$r_name.txt" 2>&1
        g0=$(ticks "$r_gw") c0=$(ticks "$r_cache") m0=$(ticks "$r_mon")
        bench_wrk "$r_name" 2 50 "$r_url"
        g1=$(ticks "$r_gw") c1=$(ticks "$r_cache") m1=$(ticks "$r_mon")
        reqs=$(awk -F '\t' -v t="$r_name" '$1 == "R" && $3 == t { r = $9 } END { print r }' "$BENCH_ROWS")
        bench_check_logs "$r_name-gateway" "$r_gw" "$D/$r_name-gateway.log" || r_ok=0
        bench_check_logs "$r_name-cache" "$r_cache" "$D/$r_name-cache.log" || r_ok=0
        bench_check_logs "$r_name-monitor" "$r_mon" "$D/$r_name-monitor.log" || r_ok=0
        if [ $r_ok = 1 ] && [ -n "$reqs" ] && [ "$reqs" != - ] && [ "$reqs" -gt 0 ]; then
            echo "$r_name $r_mode $reqs $((g1 - g0)) $((c1 - c0)) $((m1 - m0))" >> "$D/cpu"
            bench_note "$r_name (monitoring $r_mode): $(awk -v r="$reqs" -v g=$((g1 - g0)) \
                -v c=$((c1 - c0)) -v m=$((m1 - m0)) -v hz="$HZ" 'BEGIN {
                    f = 1000 / hz * 10000 / r
                    printf "CPU ms per 10k requests: gateway %.1f, cache %.1f, monitor %.2f (%d requests)",
                           g * f, c * f, m * f, r }')"
        fi
    fi
    kill -TERM "$r_gw" "$r_cache" "$r_mon" 2>/dev/null
    wait "$r_gw" "$r_cache" "$r_mon" 2>/dev/null
}

: > "$D/cpu"
run mon-on-1 on
run mon-off-1 off
run mon-off-2 off
run mon-on-2 on
bench_ratio mon-on-1 mon-off-1
bench_ratio mon-on-2 mon-off-2

# Per process, CPU per 10k requests over both runs of each mode, on/off.
if [ "$(grep -c . "$D/cpu")" -eq 4 ]; then
    verdict=$(awk -v hz="$HZ" '
        { req[$2] += $3; t["gateway", $2] += $4; t["cache", $2] += $5; t["monitor", $2] += $6 }
        END {
            f = 1000 / hz * 10000
            over = 0
            split("gateway cache", ps, " ")
            for (i = 1; i <= 2; i++) {
                p = ps[i]
                on = t[p, "on"] * f / req["on"]
                off = t[p, "off"] * f / req["off"]
                ratio = (off > 0) ? on / off : 0
                pct = (off > 0) ? (ratio - 1) * 100 : 0
                if (pct > 2) over = 1
                printf("%s %.2f ms on, %.2f ms off per 10k requests: on/off %.4f (%+.2f %%); ",
                       p, on, off, ratio, pct)
            }
            mon = t["monitor", "on"] * f / req["on"]
            moff = t["monitor", "off"] * f / req["off"]
            printf("monitor %.3f ms on, %.3f ms off per 10k requests|%d\n", mon, moff, over)
        }' "$D/cpu")
    bench_note "monitoring on/off, CPU per 10k requests: ${verdict%|*}"
    case $verdict in
        *"|1")
            if [ "${BENCH_MONITOR_STRICT:-0}" = 1 ]; then
                bench_fail "reporting costs a service more than the 2 % budget"
            else
                bench_note "OVER the 2 % budget on this run (noise on a shared machine is of that order: rerun, or BENCH_MONITOR_STRICT=1 to fail)"
            fi ;;
        *) bench_note "within the 2 % budget" ;;
    esac
else
    bench_fail "not every run was measured (see the notes)"
fi

bench_check_alive redis-server "$REDIS_PID" "$D/redis.log"
bench_end
