#!/bin/sh
# cache-l1: the cache replica's in-process L1 store (common/hsn_store*.c),
# measured in-process by bench/store_bench.c, beside Redis for memory.
#
#   memory: bytes per entry for 100k entries of 20-byte keys + 100-byte values.
#           hsn L1: growth of malloc's own figures (mallinfo2 uordblks + hblkhd),
#           so malloc's overhead is included. Redis: growth of INFO used_memory
#           / 100k after SET k v of the very same keys and values, on a
#           redis-server started here (no persistence); again with a TTL on
#           every key (SET k v PX), since every L1 entry carries one.
#   GET:    per-lookup p50/p99 at 1k, 10k, 100k and 1M keys: 1M random hits,
#           timed in batches of 1000 (percentiles of the batch means), keys
#           uniform; then the same with Zipf(0.99)-skewed keys.
#
# Rows (bench/lib.sh format): one R row per store size and key distribution,
# target l1-get-SIZE (uniform) or l1-zipf-SIZE: threads 1, conns 1, rps =
# lookups per second (1e9 / mean ns), p50_us and p99_us with 4 decimals (the
# figures are tens of nanoseconds; the notes give them in ns), requests =
# lookups, non2xx = misses (must be 0), socket errors 0, body_B = value bytes,
# header_B -. X row l1-get-1M/l1-get-1k: how much slower a lookup is in a big
# store. N rows: memory per entry, ns figures, put cost.
# Fails when the bench does not build or run, a lookup misses, or the L1 takes
# more memory per entry than Redis.
set -u
# shellcheck source=bench/lib.sh
. "$BENCH_LIB"
bench_begin
bench_require cc redis-server redis-cli awk

root=$(cd "$(dirname "$0")/../.." && pwd)
D=$BENCH_DIR
BIN="$D/hsn_store_bench"
N=100000

# ---- the bench program -----------------------------------------------------
if ! (cd "$root" && cc -std=gnu11 -O2 -D_GNU_SOURCE -Icommon -Iservices -o "$BIN" \
        bench/store_bench.c common/hsn_store*.c -lm) > "$D/cc.log" 2>&1; then
    bench_fail "hsn_store_bench did not build: $(head -c 300 "$D/cc.log" | tr '\n' ' ')"
    bench_end
fi
bench_log "running $BIN (memory, then GET at 1k..1M keys)"
if ! "$BIN" 1000000 > "$D/bench.txt" 2> "$D/bench.err"; then
    bench_fail "hsn_store_bench failed: $(tail -n 3 "$D/bench.err" | tr '\n' ' ')"
fi

label () {
    case $1 in
        1000) echo 1k ;; 10000) echo 10k ;; 100000) echo 100k ;; 1000000) echo 1M ;; *) echo "$1" ;;
    esac
}

# get DIST KEYS P50_NS P99_NS MEAN_NS LOOKUPS MISSES VALUE_BYTES -> R rows
ns_uniform="" ns_zipf=""
while read -r kind dist keys p50 p99 mean lookups misses vbytes; do
    [ "$kind" = get ] || continue
    l=$(label "$keys")
    case $dist in uniform) target="l1-get-$l" ;; *) target="l1-zipf-$l" ;; esac
    set -- $(awk -v p50="$p50" -v p99="$p99" -v mean="$mean" \
        'BEGIN { printf "%.0f %.4f %.4f\n", 1e9 / mean, p50 / 1000, p99 / 1000 }')
    printf 'R\t%s\t%s\t1\t1\t%s\t%s\t%s\t%s\t%s\t0\t%s\t-\n' "$BENCH_SCENARIO" "$target" \
        "$1" "$2" "$3" "$lookups" "$misses" "$vbytes" >> "$BENCH_ROWS"
    bench_log "$target: p50 $p50 ns, p99 $p99 ns, mean $mean ns, $lookups lookups, $misses misses"
    [ "$misses" = 0 ] || bench_fail "$target: $misses of $lookups lookups missed"
    case $dist in
        uniform) ns_uniform="$ns_uniform, $l $p50/$p99" ;;
        *) ns_zipf="$ns_zipf, $l $p50/$p99" ;;
    esac
done < "$D/bench.txt"
if [ -n "$ns_uniform" ]; then
    bench_ratio l1-get-1M l1-get-1k
    ratio=$(awk -F '\t' -v sc="$BENCH_SCENARIO" '$1 == "X" && $2 == sc && $3 == "l1-get-1M/l1-get-1k" { print $6 }' "$BENCH_ROWS")
    bench_note "GET ns per lookup, p50/p99 of 1000-lookup batch means: uniform${ns_uniform#,}; zipf(0.99)${ns_zipf#,}; p50 1M/1k (uniform) ${ratio:--}x (target <= 1.10: a 1M store is ~200 MB, so each random hit reads its bucket and its entry from DRAM while 1k keys sit in L1/L2 cache)"
else
    bench_fail "no GET figures in $D/bench.txt"
fi
set -- $(awk '$1 == "put" && $2 == 1000000 { print $3, $4 }' "$D/bench.txt")
[ $# -eq 2 ] && bench_note "put while filling 1M keys: mean $1 ns, worst single put $(awk -v n="$2" 'BEGIN { printf "%.0f", n / 1000 }') us (the table resizes incrementally; the worst also holds page faults and preemption)"
set -- $(awk '$1 == "mem" { print $3, $4 }' "$D/bench.txt")
HSN_B=${1:-} HSN_CHARGED=${2:-}
[ -n "$HSN_B" ] || bench_fail "no memory figure in $D/bench.txt"

# ---- Redis, the same data ------------------------------------------------------
set -- $(bench_free_ports 1)
if [ $# -ne 1 ]; then
    bench_fail "could not find a free loopback port"
    bench_end
fi
REDIS_PORT=$1
bench_redis_start "$REDIS_PORT"
used_memory () {
    redis-cli -p "$REDIS_PORT" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}
# redis_fill EXTRA: SET every key (the bench's keys and values) in one
# pipeline, with EXTRA appended ("" or "PX 3600000"); prints bytes per key.
redis_fill () {
    redis-cli -p "$REDIS_PORT" flushall > /dev/null
    before=$(used_memory)
    awk -v n="$N" -v extra="$1" 'BEGIN {
        v = sprintf("%100s", ""); gsub(/ /, "v", v)
        ne = split(extra, ex, " ")
        for (i = 0; i < n; i++) {
            k = sprintf("bench:k%013d", i)
            printf "*%d\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", 3 + ne, length(k), k, length(v), v
            for (j = 1; j <= ne; j++) printf "$%d\r\n%s\r\n", length(ex[j]), ex[j]
        }
    }' > "$D/set.resp"
    redis-cli -p "$REDIS_PORT" --pipe < "$D/set.resp" > "$D/pipe.log" 2>&1 || return 1
    keys=$(redis-cli -p "$REDIS_PORT" dbsize | tr -d '\r')
    [ "$keys" = "$N" ] || return 1
    after=$(used_memory)
    awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN { printf "%.1f\n", (a - b) / n }'
}
REDIS_B=$(redis_fill "") || REDIS_B=""
REDIS_TTL_B=$(redis_fill "PX 3600000") || REDIS_TTL_B=""
bench_check_alive redis-server "$REDIS_PID" "$D/redis.log"
[ -n "$REDIS_B" ] || bench_fail "Redis fill failed: $(tail -n 2 "$D/pipe.log" | tr '\n' ' ')"

if [ -n "$HSN_B" ] && [ -n "$REDIS_B" ]; then
    r=$(awk -v a="$HSN_B" -v b="$REDIS_B" 'BEGIN { printf "%.3f", a / b }')
    rt=$(awk -v a="$HSN_B" -v b="${REDIS_TTL_B:-0}" 'BEGIN { print (b > 0) ? sprintf("%.3f", a / b) : "-" }')
    bench_note "memory per entry, $N x (20 B key + 100 B value): hsn L1 $HSN_B B (heap growth, malloc overhead included; charged to the L1 byte budget: $HSN_CHARGED B), Redis $REDIS_B B (used_memory growth, SET k v), hsn/redis $r; Redis with a TTL on every key (SET k v PX) ${REDIS_TTL_B:--} B, hsn/redis $rt"
    if awk -v a="$HSN_B" -v b="$REDIS_B" 'BEGIN { exit !(a > b) }'; then
        bench_fail "the L1 takes more memory per entry than Redis ($HSN_B B > $REDIS_B B)"
    fi
fi
bench_end
