#!/bin/sh
# cache-scale: GET through the gateway answered by the cache replica's L1,
# with 1k keys and with 1M keys in it (the issue's "GET p50 within 10 % from
# 1k to 1M keys"), uniform random keys.
#
#   one stack: gateway (near-cache off, so every GET crosses the broker to
#   the cache replica) + hsn-cache (CACHE_MAX_SIZE above 1M) + Redis.
#   fill:  wrk PUTs keys k0000000000000000000.. (20-byte keys, 100-byte
#          JSON string values) through the gateway until the replica's L1
#          holds them all (checked in /api/cache/stats: l1_entries): first
#          1k keys, measured, then 1M more, measured again.
#   GET:   wrk with a Lua script picking a uniform random key of the set,
#          1 connection and 50; then the other set size. The L1/L2 hit
#          counters before and after each run show that L1 answered (any L2
#          read or miss fails the scenario).
#
# Rows: cache-l1-1k and cache-l1-1M (req/s, p50, p99), X row
# cache-l1-1M/cache-l1-1k (target: p50 ratio <= 1.10 at 1 connection).
set -u
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
bench_begin
bench_require curl wrk redis-server redis-cli awk \
    "$HSN_BIN_DIR/hsn-gateway" "$HSN_BIN_DIR/hsn-cache" "$HSN_BIN_DIR/hsn-monitor"
D=$BENCH_DIR
: "${BENCH_SCALE_BIG:=1000000}"

# shellcheck disable=SC2046
set -- $(bench_free_ports 4)
if [ $# -ne 4 ]; then
    bench_fail "could not find free loopback ports"
    bench_end
fi
REDIS_PORT=$1 GW_PORT=$2 BROKER_PORT=$3 MONITOR_PORT=$4
TAG="scale$$"
bench_redis_start "$REDIS_PORT"

export LOG_LEVEL=warn SHUTDOWN_TIMEOUT_MS=2000
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export BROKER_ENDPOINT="tcp://127.0.0.1:$BROKER_PORT"
export MONITOR_ENDPOINT="tcp://127.0.0.1:$MONITOR_PORT"
bench_spawn monitor "$D/monitor.log" env HSN_REPLICA_ID="$TAG-monitor" \
    MONITOR_BIND="tcp://127.0.0.1:$MONITOR_PORT" MONITOR_EXPECTED_SERVICES=gateway,cache,monitor \
    "$HSN_BIN_DIR/hsn-monitor"
MON=$BENCH_LAST_PID
bench_spawn gateway "$D/gateway.log" env HSN_REPLICA_ID="$TAG-gateway" \
    BROKER_BIND="tcp://127.0.0.1:$BROKER_PORT" GATEWAY_ADDR=127.0.0.1 GATEWAY_PORT="$GW_PORT" \
    GATEWAY_NEAR_CACHE_SIZE=0 "$HSN_BIN_DIR/hsn-gateway"
GW=$BENCH_LAST_PID
bench_spawn cache "$D/cache.log" env HSN_REPLICA_ID="$TAG-cache" \
    CACHE_MAX_SIZE=$((BENCH_SCALE_BIG + 100000)) CACHE_MAX_BYTES=2147483648 CACHE_TTL_JITTER_PCT=0 \
    "$HSN_BIN_DIR/hsn-cache"
CACHE=$BENCH_LAST_PID
BASE="http://127.0.0.1:$GW_PORT"
VALUE=$(awk 'BEGIN { v = sprintf("%98s", ""); gsub(/ /, "v", v); printf "\"%s\"", v }')

put_one () {
    bench_http PUT "$BASE/api/cache/warm/k1?ttl=3600" "$VALUE" && [ "$HTTP_CODE" = 200 ]
}
if ! bench_wait_until 20 "PUT through the gateway" put_one; then
    bench_fail "stack not ready: HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200)"
    bench_end
fi

# stat NAME: a counter of /api/cache/stats (one replica, so exact)
stat () {
    bench_http GET "$BASE/api/cache/stats" >/dev/null 2>&1
    printf '%s' "$HTTP_BODY" | tr ',{}' '\n\n\n' | awk -F: -v k="\"$1\"" '$1 == k { print $2 + 0 }'
}

cat > "$D/fill.lua" <<'EOF'
local n = tonumber(os.getenv("SCALE_N"))
local ns = os.getenv("SCALE_NS")
local body = os.getenv("SCALE_VALUE")
local nthreads = 2
local made = 0
function setup(thread) thread:set("tid", made); made = made + 1 end
local counter = 0
function request()
    local k = (counter * nthreads + (tid or 0)) % n
    counter = counter + 1
    return wrk.format("PUT", string.format("/api/cache/%s/k%019d?ttl=3600", ns, k), nil, body)
end
EOF
cat > "$D/get.lua" <<'EOF'
local n = tonumber(os.getenv("SCALE_N"))
local ns = os.getenv("SCALE_NS")
local made = 0
function setup(thread) thread:set("tid", made); made = made + 1 end
function init(args) math.randomseed(os.time() * 7919 + (tid or 0) * 104729) end
function request()
    return wrk.format("GET", string.format("/api/cache/%s/k%019d", ns, math.random(0, n - 1)))
end
EOF

# fill N NS: PUT keys 0..N-1 of namespace NS until L1 holds them
fill () {
    f_n=$1 f_ns=$2
    f_before=$(stat l1_entries)
    f_want=$((f_before + f_n))
    f_pass=0
    while [ "$(stat l1_entries)" -lt "$f_want" ] && [ $f_pass -lt 4 ]; do
        f_pass=$((f_pass + 1))
        # enough time for one pass at ~30k PUT/s, at least 2 s
        f_secs=$((f_n / 30000 + 2))
        bench_log "fill $f_ns: pass $f_pass, wrk PUT for ${f_secs}s"
        SCALE_N=$f_n SCALE_NS=$f_ns SCALE_VALUE=$VALUE timeout $((f_secs + 20)) \
            wrk -t2 -c50 -d"${f_secs}s" -s "$D/fill.lua" "$BASE" > "$D/wrk-fill-$f_ns-$f_pass.txt" 2>&1
    done
    f_have=$(stat l1_entries)
    bench_log "fill $f_ns: L1 holds $f_have entries (wanted >= $f_want)"
    [ "$f_have" -ge "$f_want" ]
}

# measure TARGET N NS CONNS
measure () {
    m_target=$1 m_n=$2 m_ns=$3 m_c=$4 m_t=1
    [ "$m_c" -gt 1 ] && m_t=2
    m_l1=$(stat l1_hits) m_l2=$(stat l2_hits) m_miss=$(stat misses)
    m_out="$D/wrk-$m_target-c$m_c.txt"
    bench_log "wrk -t$m_t -c$m_c GET random of $m_n keys ($m_target)"
    SCALE_N=$m_n SCALE_NS=$m_ns timeout $((BENCH_DURATION + 15)) \
        wrk -t"$m_t" -c"$m_c" -d"${BENCH_DURATION}s" --latency -s "$D/get.lua" "$BASE" > "$m_out" 2>&1
    set -- $(bench_parse_wrk < "$m_out")
    printf 'R\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\n' "$BENCH_SCENARIO" "$m_target" \
        "$m_t" "$m_c" "$1" "$2" "$3" "$4" "$5" "$6" >> "$BENCH_ROWS"
    bench_log "$m_target c=$m_c: $1 req/s, p50 $2 us, p99 $3 us, non-2xx $5"
    [ "$5" = 0 ] || bench_fail "$m_target c=$m_c: $5 responses were not 2xx"
    m_dl1=$(( $(stat l1_hits) - m_l1 )) m_dl2=$(( $(stat l2_hits) - m_l2 )) m_dmiss=$(( $(stat misses) - m_miss ))
    bench_log "$m_target c=$m_c: l1 hits +$m_dl1, l2 hits +$m_dl2, misses +$m_dmiss"
    if [ "$m_dl2" -ne 0 ] || [ "$m_dmiss" -ne 0 ] || [ "$m_dl1" -lt "$4" ]; then
        bench_fail "$m_target c=$m_c: not all answered by L1 (l1 +$m_dl1, l2 +$m_dl2, misses +$m_dmiss for $4 requests)"
    fi
}

if fill 1000 small; then
    measure cache-l1-1k 1000 small 1
    measure cache-l1-1k 1000 small 50
fi
if fill "$BENCH_SCALE_BIG" big; then
    bench_note "cache replica RSS with $(stat l1_entries) L1 entries: $(awk '/VmRSS/ { print $2 " kB" }' /proc/$CACHE/status)"
    measure cache-l1-1M "$BENCH_SCALE_BIG" big 1
    measure cache-l1-1M "$BENCH_SCALE_BIG" big 50
    bench_ratio cache-l1-1M cache-l1-1k
    bench_note "1k: the L1 holds 1k entries; 1M: the same L1 after 1M more were PUT; GET of a uniform random key through gateway -> broker -> cache L1 (near-cache off); target p50 1M/1k <= 1.10"
else
    bench_fail "the L1 did not fill (see $D/wrk-fill-*.txt)"
fi
bench_check_logs gateway "$GW" "$D/gateway.log"
bench_check_logs cache "$CACHE" "$D/cache.log"
kill -TERM "$GW" "$CACHE" "$MON" 2>/dev/null
wait "$GW" "$CACHE" "$MON" 2>/dev/null
bench_end
