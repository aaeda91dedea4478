#!/bin/sh
# agent-bus: messages through the gateway to the agent bus, on one Redis
# with the shipped persistence (appendonly yes, appendfsync always: a 201 is
# on disk), against Redis's own XADD on that same Redis.
#
#   sse-lat     send-to-receive latency at 1000 messages/s for BENCH_DURATION
#               seconds (bench/agentbus/agentbus_lat.c, built here with cc):
#               4 sender threads POST /api/agents/bench-lat/messages on
#               keep-alive connections on a fixed schedule, the send time in
#               the payload; one receiver on
#               GET /api/agents/bench-lat/stream (SSE) takes receive time -
#               send time (same host clock) and acks in batches via POST
#               /api/agents/bench-lat/acks. R row: rps = 201s per second,
#               p50/p99 of the latency in us, requests = messages received,
#               non2xx = non-201 sends, sock errors = failed sends.
#   hsn-send    sustained accepted sends: wrk -t2 -c50 with
#               bench/agentbus/send.lua (POST to 16 agents); rps counts only
#               201 Created, non2xx every other answer; p50/p99 are wrk's.
#   redis-xadd  redis-benchmark -c 50 -n 200000 XADD of a message of the same
#               size on the same Redis (p50/p99 from its --csv output).
#   X row       hsn-send / redis-xadd at 50 connections.
#
# Targets (from the agent-bus issue; N rows, they do not fail the scenario):
# sends/s >= 0.5x XADD/s; p99 send-to-receive < 5 ms at 1000 messages/s.
# The scenario fails on a lost message, a non-201 send, an error answer, or
# a process that died or could not start. Run by bench/run-bench.sh.
set -u
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
bench_begin
bench_require cc curl wrk redis-server redis-cli redis-benchmark awk \
    "$HSN_BIN_DIR/hsn-gateway" "$HSN_BIN_DIR/hsn-agent-bus" "$HSN_BIN_DIR/hsn-monitor"

root=$(cd "$(dirname "$0")/../.." && pwd)
SEND_LUA="$root/bench/agentbus/send.lua"
D=$BENCH_DIR
LAT="$D/agentbus_lat"
if ! cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$LAT" "$root/bench/agentbus/agentbus_lat.c" -lpthread \
        > "$D/cc.log" 2>&1; then
    bench_fail "agentbus_lat did not build: $(head -c 300 "$D/cc.log" | tr '\n' ' ')"
    bench_end
fi
TAG="bench$$"
RATE=1000
MSG='{"payload":{"n":1,"kind":"bench","text":"hello agent"},"type":"bench"}'

# shellcheck disable=SC2046
set -- $(bench_free_ports 4)
if [ $# -ne 4 ]; then
    bench_fail "could not find free loopback ports"
    bench_end
fi
REDIS_PORT=$1 GW_PORT=$2 BROKER_PORT=$3 MONITOR_PORT=$4
GW="http://127.0.0.1:$GW_PORT"
bench_log "ports: redis $REDIS_PORT, gateway $GW_PORT, broker $BROKER_PORT, monitor $MONITOR_PORT"

# ---- redis, persisted as shipped ------------------------------------------------
mkdir -p "$D/redis"
bench_redis_start "$REDIS_PORT" --dir "$D/redis" --appendonly yes --appendfsync always
fsync=$(redis-cli -p "$REDIS_PORT" config get appendfsync | tr -d '\r' | tail -n 1)
aof=$(redis-cli -p "$REDIS_PORT" config get appendonly | tr -d '\r' | tail -n 1)
if [ "$fsync" != always ] || [ "$aof" != yes ]; then
    bench_fail "redis runs with appendonly $aof, appendfsync $fsync: not the shipped policy"
    bench_end
fi

# ---- hsn: monitor, gateway, one agent-bus replica ----------------------------------
export LOG_LEVEL=warn SHUTDOWN_TIMEOUT_MS=2000
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export BROKER_ENDPOINT="tcp://127.0.0.1:$BROKER_PORT"
export MONITOR_ENDPOINT="tcp://127.0.0.1:$MONITOR_PORT"
bench_spawn monitor "$D/monitor.log" env HSN_REPLICA_ID="$TAG-monitor" \
    MONITOR_BIND="tcp://127.0.0.1:$MONITOR_PORT" MONITOR_EXPECTED_SERVICES=gateway,agent-bus,monitor \
    "$HSN_BIN_DIR/hsn-monitor"
MON_PID=$BENCH_LAST_PID
bench_spawn gateway "$D/gateway.log" env HSN_REPLICA_ID="$TAG-gateway" \
    BROKER_BIND="tcp://127.0.0.1:$BROKER_PORT" GATEWAY_ADDR=127.0.0.1 GATEWAY_PORT="$GW_PORT" \
    GATEWAY_KEEPALIVE_MS=60000 "$HSN_BIN_DIR/hsn-gateway"
GW_PID=$BENCH_LAST_PID
bench_spawn agent-bus "$D/agent-bus.log" env HSN_REPLICA_ID="$TAG-agent-bus" \
    "$HSN_BIN_DIR/hsn-agent-bus"
BUS_PID=$BENCH_LAST_PID

body_has () {
    case $HTTP_BODY in *"$1"*) return 0 ;; esac
    return 1
}
stack_ready () {
    bench_alive "$GW_PID" && bench_alive "$BUS_PID" \
        && bench_http_ok "$GW/api/optimization/health" && body_has "\"$TAG-agent-bus\""
}
send_ok () {
    bench_http POST "$GW/api/agents/bench-probe/messages" "$MSG" && [ "$HTTP_CODE" = 201 ]
}
if ! bench_wait_until 20 "hsn healthy with the agent bus" stack_ready \
    || ! bench_wait_until 10 "a send answered 201" send_ok; then
    bench_check_logs gateway "$GW_PID" "$D/gateway.log"
    bench_check_logs agent-bus "$BUS_PID" "$D/agent-bus.log"
    bench_fail "hsn not ready (last HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200))"
    bench_end
fi

# ---- (a) send-to-receive latency at 1000 messages/s ---------------------------------
bench_log "sse-lat: $RATE messages/s for ${BENCH_DURATION}s, 4 senders, one SSE receiver acking in batches"
out=$(timeout $((BENCH_DURATION + 60)) "$LAT" 127.0.0.1 "$GW_PORT" bench-lat "$RATE" \
          "$BENCH_DURATION" 4 2> "$D/latency.err")
rc=$?
# ok RATE_SENT P50 P99 MAX RECEIVED CREATED NON201 ERRORS LOST DUPS ACKED MAX_LAG
# shellcheck disable=SC2086
set -- $out
if [ $rc -ne 0 ] || [ "${1:-}" != ok ]; then
    bench_fail "sse-lat: agentbus_lat failed (status $rc): $(head -c 300 "$D/latency.err" | tr '\n' ' ')"
else
    printf 'R\t%s\tsse-lat\t4\t5\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\n' "$BENCH_SCENARIO" \
        "$2" "$3" "$4" "$6" "$8" "$9" >> "$BENCH_ROWS"
    bench_note "sse-lat: $7 sends answered 201 at ${2}/s (target $RATE/s; senders at worst ${13} us behind schedule), $6 received over SSE, latency p50 $3 us, p99 $4 us, max $5 us; lost ${10}, duplicates ${11}, acked ${12}"
    [ "$8" -gt 0 ] && bench_fail "sse-lat: $8 sends were not answered 201 ($(head -c 200 "$D/latency.err" | tr '\n' ' '))"
    [ "$9" -gt 0 ] && bench_fail "sse-lat: $9 sends failed ($(head -c 200 "$D/latency.err" | tr '\n' ' '))"
    [ "${10}" -gt 0 ] && bench_fail "sse-lat: ${10} accepted messages did not arrive over SSE within 5 s"
    [ "${12}" -lt "$6" ] && bench_note "sse-lat: only ${12} of $6 received messages were acked"
    if awk -v p="$4" 'BEGIN { exit !(p < 5000) }'; then
        bench_note "target sse-lat: p99 send-to-receive < 5 ms at $RATE messages/s: $4 us - met"
    else
        bench_note "target sse-lat: p99 send-to-receive < 5 ms at $RATE messages/s: $4 us - NOT met"
    fi
fi
bench_check_alive agent-bus "$BUS_PID" "$D/agent-bus.log" || bench_end

# ---- (b) sustained accepted sends through the gateway -----------------------------------
timeout 20 wrk -t1 -c4 -d1s -s "$SEND_LUA" "$GW" -- bench-warm 4 > "$D/wrk-warmup.txt" 2>&1
out_w="$D/wrk-hsn-send-c50.txt"
# CPU ticks (user + system) of a process so far: where the cores went.
ticks () {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
# idle and total ticks of the whole machine
machine () {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t; exit }' /proc/stat
}
c0_gw=$(ticks "$GW_PID") c0_bus=$(ticks "$BUS_PID") c0_redis=$(ticks "$REDIS_PID")
m0=$(machine)
bench_log "wrk -t2 -c50 -d${BENCH_DURATION}s --latency -s send.lua $GW (16 agents)"
timeout $((BENCH_DURATION + 15)) wrk -t2 -c50 -d"${BENCH_DURATION}s" --latency -s "$SEND_LUA" \
    "$GW" -- bench-load 16 > "$out_w" 2>&1
rc=$?
cpu () {    # cpu BEFORE AFTER: percent of one core over the run
    awk -v a="$1" -v b="$2" -v hz="$HZ" -v d="$BENCH_DURATION" 'BEGIN { printf "%.0f", (b - a) * 100 / hz / d }'
}
busy=$(printf '%s %s\n' "$m0" "$(machine)" | awk '{ d = $4 - $2; printf "%.0f", (d > 0) ? 100 * (1 - ($3 - $1) / d) : 0 }')
bench_note "hsn-send c=50: CPU during the run, in % of one core: gateway $(cpu "$c0_gw" "$(ticks "$GW_PID")"), agent-bus $(cpu "$c0_bus" "$(ticks "$BUS_PID")"), redis-server $(cpu "$c0_redis" "$(ticks "$REDIS_PID")"); the machine's $(nproc 2>/dev/null || echo '?') cores were ${busy} % busy (wrk, and anything else running, included)"
[ $rc -ne 0 ] && bench_fail "wrk against hsn-send exited with status $rc: $(tail -n 3 "$out_w" | tr '\n' ' ')"
# shellcheck disable=SC2046
set -- $(bench_parse_wrk < "$out_w")
p50=$2 p99=$3 sockerr=$6
# shellcheck disable=SC2046
set -- $(awk '/^agentbus: created/ { print $3, $5, $7 }' "$out_w")
if [ $# -eq 3 ] && [ "$3" -gt 0 ]; then
    created=$1 other=$2
    rps=$(awk -v c="$created" -v d="$3" 'BEGIN { printf "%.2f", c / (d / 1e6) }')
    printf 'R\t%s\thsn-send\t2\t50\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\n' "$BENCH_SCENARIO" \
        "$rps" "$p50" "$p99" "$created" "$other" "$sockerr" >> "$BENCH_ROWS"
    bench_log "hsn-send c=50: $rps accepted sends/s, p50 $p50 us, p99 $p99 us, $created created, $other other, socket errors $sockerr"
    [ "$other" -gt 0 ] && bench_fail "hsn-send c=50: $other answers were not 201 Created"
    [ "$sockerr" != - ] && [ "$sockerr" -gt 0 ] && bench_note "hsn-send c=50: socket errors: $(grep 'Socket errors' "$out_w" | sed 's/^ *Socket errors: *//')"
else
    bench_fail "could not read the 201 count from wrk's output ($out_w)"
fi
bench_check_alive agent-bus "$BUS_PID" "$D/agent-bus.log" || bench_end

# ---- (c) XADD on the same Redis -----------------------------------------------------------
out_r="$D/redis-benchmark-xadd.csv"
bench_log "redis-benchmark -c 50 -n 200000 --csv XADD (appendfsync always)"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 50 -n 200000 --csv \
    XADD hsn:bench:xadd '*' m "$MSG" > "$out_r" 2> "$D/redis-benchmark.err"
rc=$?
# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
# The test name holds the command, commas and quotes included: count the
# figures from the end of the line.
# shellcheck disable=SC2046
set -- $(awk -F ',' 'NR == 2 { for (i = NF - 6; i <= NF; i++) gsub(/"/, "", $i)
                              print $(NF - 6), $(NF - 3) * 1000, $(NF - 1) * 1000 }' "$out_r")
if [ $rc -ne 0 ] || [ $# -ne 3 ]; then
    bench_fail "redis-benchmark XADD failed (status $rc): $(cat "$D/redis-benchmark.err" "$out_r" | head -c 300 | tr '\n' ' ')"
else
    printf 'R\t%s\tredis-xadd\t1\t50\t%s\t%s\t%s\t200000\t0\t0\t-\t-\n' "$BENCH_SCENARIO" \
        "$1" "$2" "$3" >> "$BENCH_ROWS"
    bench_log "redis-xadd c=50: $1 XADD/s, p50 $2 us, p99 $3 us"
fi

bench_ratio hsn-send redis-xadd
r=$(awk -F '\t' -v sc="$BENCH_SCENARIO" '$1 == "X" && $2 == sc && $3 == "hsn-send/redis-xadd" && $4 == 50 { print $5 }' \
    "$BENCH_ROWS" | tail -n 1)
if [ -z "$r" ] || [ "$r" = - ]; then
    bench_note "target hsn-send: accepted sends/s >= 0.5x redis-benchmark XADD/s at 50 connections: no figure (a run failed)"
elif awk -v r="$r" 'BEGIN { exit !(r >= 0.5) }'; then
    bench_note "target hsn-send: accepted sends/s >= 0.5x redis-benchmark XADD/s at 50 connections: ${r}x - met"
else
    bench_note "target hsn-send: accepted sends/s >= 0.5x redis-benchmark XADD/s at 50 connections: ${r}x - NOT met"
fi

# ---- the end ----------------------------------------------------------------------------------
bench_note "one Redis with appendonly yes, appendfsync always (the shipped policy) under every row; one gateway, one agent-bus replica (defaults), $(nproc 2>/dev/null || echo '?') cores shared by everything, the load generators included"
bench_check_logs gateway "$GW_PID" "$D/gateway.log"
bench_check_logs agent-bus "$BUS_PID" "$D/agent-bus.log"
bench_check_logs monitor "$MON_PID" "$D/monitor.log"
bench_check_alive redis-server "$REDIS_PID" "$D/redis.log"
bench_end
