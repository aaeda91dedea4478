#!/bin/sh
# query: one named query through hsn against PostgreSQL itself (pgbench -S).
#
#   pgbench-S:    pgbench -S (SELECT abalance FROM pgbench_accounts WHERE
#                 aid = random) straight to PostgreSQL, -c1 -j1 and -c10 -j2
#   hsn-cached:   wrk -> hsn-gateway GET /api/queries/account_cached?aid=1
#                 (`-- cache: 60`: after the first read, the gateway's
#                 near-cache answers)
#   hsn-uncached: the same statement as account_uncached (`-- cache: 0`):
#                 gateway -> broker -> hsn-query -> PostgreSQL every time
#
# One PostgreSQL (pgbench -i at scale BENCH_PGBENCH_SCALE, default 10: 1M
# accounts) serves both; the queries are in bench/query/queries.sql. wrk
# runs at one connection (-t1 -c1) and fifty (-t2 -c50), BENCH_DURATION
# seconds each after a 1 s warm-up; each target is checked for a 200 and
# the right row before and after. Ratio rows (req/s, higher is better for
# hsn): hsn-cached@50 / pgbench-S@10 (target >= 1) and hsn-uncached@50 /
# pgbench-S@10 (target >= 0.5). Beside each 50-connection run a note gives
# the CPU time per request of hsn-gateway, hsn-query and PostgreSQL (from
# /proc): where they share few cores, that is where the throughput goes.
# Run by bench/run-bench.sh.
set -u
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
bench_begin

PGBIN=$(pg_config --bindir 2>/dev/null)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/postgres" ]; then
    # Debian: /usr/lib/postgresql/<major>/bin, the newest major.
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/postgres" ] && PGBIN=$d; done
fi
bench_require curl wrk redis-server redis-cli "$PGBIN/postgres" "$PGBIN/initdb" \
    "$PGBIN/pgbench" "$PGBIN/psql" "$HSN_BIN_DIR/hsn-gateway" "$HSN_BIN_DIR/hsn-cache" \
    "$HSN_BIN_DIR/hsn-query" "$HSN_BIN_DIR/hsn-monitor"

here=$(cd "$(dirname "$0")/.." && pwd)
QUERIES="$here/query/queries.sql"
SCALE=${BENCH_PGBENCH_SCALE:-10}
case "$SCALE" in ''|*[!0-9]*|0) bench_fail "BENCH_PGBENCH_SCALE must be a positive integer"; bench_end ;; esac
D=$BENCH_DIR
TAG="bench$$"

# shellcheck disable=SC2046
set -- $(bench_free_ports 5)
if [ $# -ne 5 ]; then
    bench_fail "could not find free loopback ports"
    bench_end
fi
REDIS_PORT=$1 PG_PORT=$2 GW_PORT=$3 BROKER_PORT=$4 MONITOR_PORT=$5
bench_log "ports: redis $REDIS_PORT, postgres $PG_PORT, gateway $GW_PORT"

# Other work on the machine skews every figure here: say how busy it was.
LOAD0=$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null)

# ---- PostgreSQL ----------------------------------------------------------------
# Debian's server refuses to run as root: as root, initdb and postgres run
# as "postgres" in a directory of its own under /tmp (BENCH_DIR is root's).
PGDIR=$(mktemp -d /tmp/hsn-bench-pg-XXXXXX) || { bench_fail "mktemp"; bench_end; }
trap 'bench_cleanup; rm -rf "$PGDIR"' EXIT
AS_PG=""
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        bench_fail "running as root, but there is no 'postgres' user to run PostgreSQL as"
        bench_end
    fi
    chown postgres:postgres "$PGDIR"
    AS_PG="setpriv --reuid=postgres --regid=postgres --init-groups --"
fi
# shellcheck disable=SC2086
if ! $AS_PG env LC_ALL=C TZ=UTC "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U hsn --no-sync \
        -E UTF8 --locale=C > "$D/initdb.log" 2>&1; then
    bench_fail "initdb failed: $(tail -n 3 "$D/initdb.log" | tr '\n' ' ')"
    bench_end
fi
# Durability off (as in the tests): this measures reads.
# shellcheck disable=SC2086
bench_spawn postgres "$D/postgres.log" $AS_PG env LC_ALL=C TZ=UTC "$PGBIN/postgres" \
    -D "$PGDIR/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$PGDIR" -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c shared_buffers=256MB -c max_connections=100
PG_PID=$BENCH_LAST_PID
PSQL="$PGBIN/psql -X -q -h 127.0.0.1 -p $PG_PORT -U hsn"
pg_ours () {
    [ "$($PSQL -d postgres -At -c 'SHOW data_directory' 2>/dev/null)" = "$PGDIR/data" ]
}
if ! bench_wait_until 30 "postgres on port $PG_PORT" pg_ours; then
    bench_fail "postgres did not come up on 127.0.0.1:$PG_PORT: $(tail -n 3 "$D/postgres.log" | tr '\n' ' ')"
    bench_end
fi
if ! $PSQL -d postgres -c 'CREATE DATABASE bench' > "$D/createdb.log" 2>&1 \
    || ! "$PGBIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U hsn bench \
        > "$D/pgbench-init.log" 2>&1; then
    bench_fail "pgbench -i -s $SCALE failed: $(tail -n 3 "$D/pgbench-init.log" | tr '\n' ' ')"
    bench_end
fi
bench_log "pgbench -i -s $SCALE done"

# ---- pgbench -S ----------------------------------------------------------------
# pgbench_run CLIENTS THREADS : an R row "pgbench-S"; p50/p99 from its
# per-transaction log (-l: latency in us is the third field).
pgbench_run () {
    pb_c=$1 pb_j=$2
    pb_out="$D/pgbench-S-c$pb_c.txt"
    rm -f "$D/pgblog-c$pb_c".*
    bench_log "pgbench -S -c$pb_c -j$pb_j -T$BENCH_DURATION"
    (cd "$D" && timeout $((BENCH_DURATION + 30)) "$PGBIN/pgbench" -S -n -c "$pb_c" -j "$pb_j" \
        -T "$BENCH_DURATION" -l --log-prefix="$D/pgblog-c$pb_c" -h 127.0.0.1 -p "$PG_PORT" \
        -U hsn bench) > "$pb_out" 2>&1
    pb_rc=$?
    pb_tps=$(awk '/^tps = / { print $3; exit }' "$pb_out")
    pb_n=$(awk -F': ' '/number of transactions actually processed/ { print $2; exit }' "$pb_out")
    pb_fail=$(awk '/number of failed transactions/ { print $5; exit }' "$pb_out")
    # shellcheck disable=SC2046
    set -- $(cat "$D/pgblog-c$pb_c".* 2>/dev/null | awk '{ print $3 }' | sort -n | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- -"; exit }
            i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
            i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
            printf "%.1f %.1f\n", v[i50], v[i99]
        }')
    printf 'R\t%s\tpgbench-S\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t0\t-\t-\n' "$BENCH_SCENARIO" "$pb_j" \
        "$pb_c" "${pb_tps:--}" "${1:--}" "${2:--}" "${pb_n:--}" "${pb_fail:-0}" >> "$BENCH_ROWS"
    bench_log "pgbench-S c=$pb_c: ${pb_tps:--} tps, p50 ${1:--} us, p99 ${2:--} us"
    rm -f "$D/pgblog-c$pb_c".*
    if [ $pb_rc -ne 0 ] || [ -z "$pb_tps" ]; then
        bench_fail "pgbench -S -c$pb_c exited with status $pb_rc: $(tail -n 3 "$pb_out" | tr '\n' ' ')"
    fi
}
pgbench_run 1 1
pgbench_run 10 2

# ---- hsn: redis, monitor, gateway, cache, query ------------------------------------
export LOG_LEVEL=warn
export SHUTDOWN_TIMEOUT_MS=2000
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export BROKER_ENDPOINT="tcp://127.0.0.1:$BROKER_PORT"
export MONITOR_ENDPOINT="tcp://127.0.0.1:$MONITOR_PORT"

bench_redis_start "$REDIS_PORT"
bench_spawn monitor "$D/monitor.log" env HSN_REPLICA_ID="$TAG-monitor" \
    MONITOR_BIND="tcp://127.0.0.1:$MONITOR_PORT" \
    MONITOR_EXPECTED_SERVICES=gateway,cache,query,monitor "$HSN_BIN_DIR/hsn-monitor"
MON_PID=$BENCH_LAST_PID
bench_spawn gateway "$D/gateway.log" env HSN_REPLICA_ID="$TAG-gateway" \
    BROKER_BIND="tcp://127.0.0.1:$BROKER_PORT" GATEWAY_ADDR=127.0.0.1 GATEWAY_PORT="$GW_PORT" \
    "$HSN_BIN_DIR/hsn-gateway"
GW_PID=$BENCH_LAST_PID
bench_spawn cache "$D/cache.log" env HSN_REPLICA_ID="$TAG-cache" "$HSN_BIN_DIR/hsn-cache"
CACHE_PID=$BENCH_LAST_PID
# As many connections as pgbench -c10 has.
bench_spawn query "$D/query.log" env HSN_REPLICA_ID="$TAG-query" \
    DATABASE_URL="postgresql://hsn@127.0.0.1:$PG_PORT/bench" QUERIES_FILE="$QUERIES" \
    CONNECTION_POOL_SIZE=10 "$HSN_BIN_DIR/hsn-query"
QUERY_PID=$BENCH_LAST_PID

body_has () {
    case $HTTP_BODY in *"$1"*) return 0 ;; esac
    return 1
}
ready () {
    bench_alive "$GW_PID" && bench_alive "$QUERY_PID" && bench_alive "$CACHE_PID" \
        && bench_http_ok "http://127.0.0.1:$GW_PORT/api/optimization/health" \
        && body_has "\"$TAG-query\"" && body_has "\"$TAG-cache\""
}
ROW='"rows":[{"aid":1,"bid":1,"abalance":0}],"count":1'
BASE="http://127.0.0.1:$GW_PORT/api/queries"
# answers URL [CACHED] : 200 with the row (and meta cached CACHED when given)
answers () {
    bench_http GET "$1" && [ "$HTTP_CODE" = 200 ] && body_has "$ROW" \
        && { [ $# -lt 2 ] || body_has "\"cached\":$2}"; }
}
warm () {
    timeout 15 wrk -t1 -c4 -d1s "$1" > "$D/wrk-warmup-$2.txt" 2>&1
}
HSN_OK=1
if ! bench_wait_until 20 "hsn healthy" ready; then
    bench_fail "hsn not ready (last HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200))"
    HSN_OK=0
fi

# Where the CPU goes: user+system clock ticks of a process (all its
# threads), and of PostgreSQL (the postmaster and its backends).
ticks () {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
pg_ticks () {
    t_sum=$(ticks "$PG_PID")
    for t_p in $(pgrep -P "$PG_PID" 2>/dev/null); do t_sum=$((t_sum + $(ticks "$t_p"))); done
    echo "$t_sum"
}
cpu_snapshot () {
    echo "$(ticks "$GW_PID") $(ticks "$QUERY_PID") $(pg_ticks)"
}
# cpu_note NAME CONNS BEFORE... : CPU microseconds per request of the gateway,
# hsn-query and PostgreSQL over the last wrk run of NAME at CONNS (clock
# ticks: a few percent of resolution over a 5 s run).
cpu_note () {
    c_name=$1 c_conns=$2 c_g0=$3 c_q0=$4 c_p0=$5
    # shellcheck disable=SC2046
    set -- $(cpu_snapshot)
    c_n=$(awk -F '\t' -v t="$c_name" -v c="$c_conns" -v sc="$BENCH_SCENARIO" \
        '$1 == "R" && $2 == sc && $3 == t && $5 == c { n = $9 } END { print n + 0 }' "$BENCH_ROWS")
    [ "$c_n" -gt 0 ] || return 0
    hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
    bench_note "$c_name@$c_conns CPU per request: $(awk -v n="$c_n" -v hz="$hz" -v g="$(($1 - c_g0))" \
        -v q="$(($2 - c_q0))" -v p="$(($3 - c_p0))" 'BEGIN {
            f = 1000000 / hz / n
            printf "gateway %.1f us, hsn-query %.1f us, postgres %.1f us", g * f, q * f, p * f }')"
}

# variant NAME URL CACHED : check, warm, measure at 1 and 50, check again.
variant () {
    v_name=$1 v_url=$2 v_cached=$3
    if ! bench_wait_until 10 "$v_name answering (cached: $v_cached)" answers "$v_url" "$v_cached"; then
        bench_fail "$v_name: GET $v_url: HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-300)"
        return 1
    fi
    v_b=$HTTP_BODY_BYTES v_h=$HTTP_HEADER_BYTES
    warm "$v_url" "$v_name"
    bench_wrk "$v_name" 1 1 "$v_url" "$v_b" "$v_h"
    v_cpu=$(cpu_snapshot)
    bench_wrk "$v_name" 2 50 "$v_url" "$v_b" "$v_h"
    # shellcheck disable=SC2086
    cpu_note "$v_name" 50 $v_cpu
    answers "$v_url" "$v_cached" \
        || bench_fail "$v_name: wrong answer after the load: HTTP $HTTP_CODE $(printf '%s' "$HTTP_BODY" | cut -c 1-200)"
    bench_note "$v_name: response $v_b+$v_h bytes (body+headers)"
}
if [ $HSN_OK = 1 ]; then
    variant hsn-cached "$BASE/account_cached?aid=1" true
    variant hsn-uncached "$BASE/account_uncached?aid=1" false
    bench_check_logs gateway "$GW_PID" "$D/gateway.log"
    bench_check_logs query "$QUERY_PID" "$D/query.log"
    bench_check_logs cache "$CACHE_PID" "$D/cache.log"
fi

# ---- ratios: hsn at 50 connections over pgbench -S at 10 clients ----------------
# ratio NUM NUM_CONNS DEN DEN_CONNS TARGET
ratio () {
    r=$(awk -F '\t' -v OFS='\t' -v sc="$BENCH_SCENARIO" -v num="$1" -v nc="$2" -v den="$3" \
            -v dc="$4" '
        $1 == "R" && $2 == sc && $3 == num && $5 == nc && $10 == 0 { nr = $6; np = $7 }
        $1 == "R" && $2 == sc && $3 == den && $5 == dc && $10 == 0 { dr = $6; dp = $7 }
        function q(a, b) { return (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.3f", a / b) }
        END { print "X", sc, num "@" nc "/" den "@" dc, nc, q(nr, dr), q(np, dp) }' "$BENCH_ROWS")
    printf '%s\n' "$r" >> "$BENCH_ROWS"
    v=$(printf '%s\n' "$r" | awk -F '\t' '{ print $5 }')
    if [ "$v" = - ]; then
        bench_note "$1@$2 / $3@$4: no ratio (a run failed)"
    elif awk -v v="$v" -v t="$5" 'BEGIN { exit !(v + 0 >= t + 0) }'; then
        bench_note "$1@$2 / $3@$4 req/s = $v (target >= $5: met)"
    else
        bench_note "$1@$2 / $3@$4 req/s = $v (target >= $5: MISSED)"
    fi
}
ratio hsn-cached 50 pgbench-S 10 1
ratio hsn-uncached 50 pgbench-S 10 0.5
bench_note "load average (1, 5, 15 min) at start: ${LOAD0:-?}, at end: $(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null)"
bench_note "pgbench -S -M simple at scale $SCALE, random aid; hsn runs one aid (the cached one is the near-cache's hot key); $(nproc 2>/dev/null || echo '?') cores shared by load generator, hsn and PostgreSQL"

kill -TERM "$GW_PID" "$CACHE_PID" "$QUERY_PID" "$MON_PID" 2>/dev/null
wait "$GW_PID" "$CACHE_PID" "$QUERY_PID" "$MON_PID" 2>/dev/null
bench_check_alive redis-server "$REDIS_PID" "$D/redis.log"
bench_check_alive postgres "$PG_PID" "$D/postgres.log"
# Fast shutdown: a smart one (TERM) would wait for sessions to end.
kill -INT "$PG_PID" 2>/dev/null
bench_end
