# Shared helpers for bench/scenarios/*.sh; sourced, not run (POSIX sh).
#
# bench/run-bench.sh exports, for every scenario:
#   BENCH_SCENARIO  scenario name (file name without the NN- prefix and .sh)
#   BENCH_DIR       a fresh temporary directory for this scenario (logs, configs)
#   BENCH_ROWS      the result file scenarios append rows to (see below)
#   BENCH_PIDS      every process a scenario starts, one pid a line, so that
#                   the runner can kill leftovers even if a scenario is killed
#   BENCH_DURATION  seconds per wrk run (default 5)
#   HSN_BIN_DIR     where hsn-gateway, hsn-cache, ... are
#
# Rows in $BENCH_ROWS are tab-separated; the first field is the kind:
#   R scenario target threads conns rps p50_us p99_us requests non2xx sock_errors body_B header_B
#   X scenario num/den conns rps_ratio p50_ratio            (ratio of two R rows)
#   S scenario ok|FAIL message                             (one per scenario)
#   N scenario text                                        (notes: warnings, observations)
# Missing figures are written as "-".
#
# A scenario typically:
#   . "$BENCH_LIB"; bench_begin
#   bench_require redis-server wrk ...
#   bench_spawn NAME LOG cmd args...       (background, killed at exit)
#   bench_wait_until 10 "what" cmd...      (poll with a deadline; no fixed sleeps)
#   bench_wrk TARGET THREADS CONNS URL
#   bench_ratio hsn webdis
#   bench_end                              (writes the S row, exits 0 or 1)

BENCH_FAILED=0
BENCH_FAIL_MSG=""
BENCH_MY_PIDS=""
BENCH_LAST_PID=""

bench_log () {
    echo "bench[$BENCH_SCENARIO]: $*" >&2
}

# Record a failure (the scenario goes on, measuring what it still can, and
# exits non-zero in bench_end).
bench_fail () {
    bench_log "FAIL: $*"
    BENCH_FAILED=1
    if [ -z "$BENCH_FAIL_MSG" ]; then BENCH_FAIL_MSG=$*; else BENCH_FAIL_MSG="$BENCH_FAIL_MSG; $*"; fi
}

bench_note () {
    bench_log "note: $*"
    printf 'N\t%s\t%s\n' "$BENCH_SCENARIO" "$(printf '%s' "$*" | tr '\t\n' '  ')" >> "$BENCH_ROWS"
}

# Stop every process this scenario started: TERM, a bounded wait, then KILL.
bench_cleanup () {
    [ -n "$BENCH_MY_PIDS" ] || return 0
    for p in $BENCH_MY_PIDS; do kill -TERM "$p" 2>/dev/null; done
    i=0
    while [ $i -lt 50 ]; do             # up to 5 s for a clean shutdown
        alive=""
        for p in $BENCH_MY_PIDS; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
        [ -z "$alive" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    for p in $BENCH_MY_PIDS; do
        if kill -0 "$p" 2>/dev/null; then
            bench_log "pid $p did not stop on SIGTERM within 5s; SIGKILL"
            kill -KILL "$p" 2>/dev/null
        fi
    done
    for p in $BENCH_MY_PIDS; do wait "$p" 2>/dev/null; done
    BENCH_MY_PIDS=""
}

bench_begin () {
    trap 'bench_cleanup' EXIT
    trap 'bench_fail "interrupted (SIGINT)"; bench_write_status; exit 130' INT
    trap 'bench_fail "terminated (SIGTERM; scenario time limit?)"; bench_write_status; exit 143' TERM
    case "$BENCH_DURATION" in ''|*[!0-9]*) BENCH_DURATION=5 ;; esac
}

bench_write_status () {
    [ -n "${BENCH_STATUS_WRITTEN:-}" ] && return 0
    BENCH_STATUS_WRITTEN=1
    if [ "$BENCH_FAILED" -eq 0 ]; then
        printf 'S\t%s\tok\t\n' "$BENCH_SCENARIO" >> "$BENCH_ROWS"
    else
        printf 'S\t%s\tFAIL\t%s\n' "$BENCH_SCENARIO" \
            "$(printf '%s' "$BENCH_FAIL_MSG" | tr '\t\n' '  ')" >> "$BENCH_ROWS"
    fi
}

bench_end () {
    bench_cleanup
    bench_write_status
    exit "$BENCH_FAILED"
}

# bench_require CMD... : fail the whole scenario now when a tool is missing.
bench_require () {
    missing=""
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || missing="$missing $c"
    done
    if [ -n "$missing" ]; then
        bench_fail "missing:$missing (make bench installs them via deploy/install-deps.sh bench)"
        bench_end
    fi
}

# bench_free_ports N: N distinct free loopback TCP ports, space-separated.
# They are bound together (port 0) and released, so they are distinct; a
# later collision is checked by the scenario (it verifies who answers).
bench_free_ports () {
    if command -v python3 >/dev/null 2>&1 && python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1" 2>/dev/null; then
        return 0
    fi
    # Without python3: random ports below the ephemeral range that nothing
    # listens on (per /proc/net/tcp{,6}).
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v n="$1" -v seed="$$" '
        $4 == "0A" { split($2, a, ":"); used[sprintf("%d", "0x" a[2]) + 0] = 1 }
        END {
            srand(seed + srand());
            got = 0; out = ""
            while (got < n) {
                p = 20000 + int(rand() * 12000)
                if (p in used) continue
                used[p] = 1; out = out (got ? " " : "") p; got++
            }
            print out
        }'
}

# bench_spawn NAME LOGFILE CMD ARGS... : start CMD in the background with
# stdout+stderr in LOGFILE; its pid is left in BENCH_LAST_PID.
bench_spawn () {
    name=$1 log=$2
    shift 2
    "$@" > "$log" 2>&1 < /dev/null &
    BENCH_LAST_PID=$!
    BENCH_MY_PIDS="$BENCH_MY_PIDS $BENCH_LAST_PID"
    echo "$BENCH_LAST_PID" >> "$BENCH_PIDS"
    bench_log "started $name (pid $BENCH_LAST_PID), log $log"
}

# bench_alive PID: is it still running (and not a zombie)?
bench_alive () {
    kill -0 "$1" 2>/dev/null || return 1
    st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    [ "$st" != Z ]
}

# bench_wait_until SECONDS WHAT CMD ARGS... : run CMD every 0.1 s until it
# succeeds or the deadline passes (then returns 1).
bench_wait_until () {
    limit=$1 what=$2
    shift 2
    start=$(date +%s)
    while :; do
        "$@" && return 0
        if [ $(( $(date +%s) - start )) -ge "$limit" ]; then
            bench_log "gave up after ${limit}s waiting for $what"
            return 1
        fi
        sleep 0.1
    done
}

# bench_redis_start PORT [ARGS...] : redis-server on 127.0.0.1:PORT with its
# data and log (redis.log) in $BENCH_DIR, no persistence; ARGS are more
# redis-server options (a later one wins, e.g. --appendonly yes). Sets
# REDIS_PID. Waits until *our* server answers on the port (its process_id,
# not some other's); when it does not, fails the scenario and ends it.
bench_redis_start () {
    BENCH_REDIS_PORT=$1
    shift
    bench_spawn redis-server "$BENCH_DIR/redis.log" redis-server --port "$BENCH_REDIS_PORT" \
        --bind 127.0.0.1 --save '' --appendonly no --dir "$BENCH_DIR" --daemonize no \
        --loglevel warning "$@"
    REDIS_PID=$BENCH_LAST_PID
    if ! bench_wait_until 10 "redis-server on port $BENCH_REDIS_PORT" bench_redis_ours; then
        bench_fail "redis-server did not come up on 127.0.0.1:$BENCH_REDIS_PORT: $(tail -n 3 "$BENCH_DIR/redis.log" | tr '\n' ' ')"
        bench_end
    fi
}
bench_redis_ours () {
    redis-cli -p "$BENCH_REDIS_PORT" info server 2>/dev/null | tr -d '\r' \
        | grep -qx "process_id:$REDIS_PID"
}

# bench_http METHOD URL [DATA] : sets HTTP_CODE, HTTP_BODY (body text),
# HTTP_BODY_BYTES and HTTP_HEADER_BYTES. Returns curl's status.
bench_http () {
    _m=$1 _u=$2
    _f="$BENCH_DIR/.http-body"
    if [ $# -ge 3 ]; then
        _w=$(curl -s -m 5 -X "$_m" -o "$_f" -w '%{http_code} %{size_download} %{size_header}' \
                  -H 'Content-Type: application/json' --data-binary "$3" "$_u")
    else
        _w=$(curl -s -m 5 -X "$_m" -o "$_f" -w '%{http_code} %{size_download} %{size_header}' "$_u")
    fi
    _rc=$?
    set -- $_w
    HTTP_CODE=${1:-000} HTTP_BODY_BYTES=${2:-0} HTTP_HEADER_BYTES=${3:-0}
    HTTP_BODY=$(cat "$_f" 2>/dev/null)
    return $_rc
}

# bench_http_ok URL : 200 on GET (for bench_wait_until)
bench_http_ok () {
    bench_http GET "$1" && [ "$HTTP_CODE" = 200 ]
}

# bench_wrk TARGET THREADS CONNS URL [BODY_BYTES HEADER_BYTES] : one wrk run
# of BENCH_DURATION seconds (keep-alive, --latency); appends an R row. The
# raw output stays in $BENCH_DIR/wrk-TARGET-cCONNS.txt.
bench_wrk () {
    target=$1 threads=$2 conns=$3 url=$4 bbytes=${5:--} hbytes=${6:--}
    out="$BENCH_DIR/wrk-$target-c$conns.txt"
    bench_log "wrk -t$threads -c$conns -d${BENCH_DURATION}s --latency $url"
    timeout $((BENCH_DURATION + 15)) wrk -t"$threads" -c"$conns" -d"${BENCH_DURATION}s" \
        --latency "$url" > "$out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        bench_fail "wrk against $target (c=$conns) exited with status $rc: $(tail -n 3 "$out" | tr '\n' ' ')"
    fi
    # rps p50 p99 requests non2xx sock_errors (figures in microseconds)
    figs=$(bench_parse_wrk < "$out")
    set -- $figs
    printf 'R\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$BENCH_SCENARIO" "$target" \
        "$threads" "$conns" "$1" "$2" "$3" "$4" "$5" "$6" "$bbytes" "$hbytes" >> "$BENCH_ROWS"
    bench_log "$target c=$conns: $1 req/s, p50 $2 us, p99 $3 us, $4 requests, non-2xx $5, socket errors $6"
    if [ "$5" != - ] && [ "$5" -gt 0 ]; then
        # Error responses are no measure of GET speed: the row stays, for
        # the record, but fails the scenario and gets no ratio.
        bench_fail "$target c=$conns: $5 of $4 responses were not 2xx/3xx (wrk: Non-2xx or 3xx responses)"
    fi
    if [ "$6" != - ] && [ "$6" -gt 0 ]; then
        bench_note "$target c=$conns: socket errors: $(grep 'Socket errors' "$out" | sed 's/^ *Socket errors: *//')"
    fi
    if [ "$1" = - ] && [ $rc -eq 0 ]; then
        bench_fail "could not parse wrk output for $target (c=$conns), see $out"
    fi
}

# wrk --latency output on stdin -> "rps p50_us p99_us requests non2xx sock_errors"
bench_parse_wrk () {
    awk '
        function us(v,   n, u) {
            n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n
            if (u == "ms") return n * 1000
            if (u == "s")  return n * 1000000
            if (u == "m")  return n * 60000000
            if (u == "h")  return n * 3600000000
            return "-"
        }
        /^ *Latency Distribution/ { dist = 1; next }
        dist && $1 == "50%" { p50 = us($2) }
        dist && $1 == "99%" { p99 = us($2); dist = 0 }
        /requests in/         { reqs = $1 }
        /^Requests\/sec:/     { rps = $2 }
        /Non-2xx or 3xx responses:/ { non = $NF }
        /Socket errors:/ {
            for (i = 3; i <= NF; i += 2) { v = $(i + 1); sub(/,/, "", v); err += v }
        }
        END {
            f = "%s %s %s %s %s %s\n"
            printf f, (rps == "" ? "-" : rps), (p50 == "" ? "-" : sprintf("%.1f", p50)),
                   (p99 == "" ? "-" : sprintf("%.1f", p99)), (reqs == "" ? "-" : reqs),
                   non + 0, err + 0
        }'
}

# bench_ratio NUM DEN : for every connection count both targets were
# measured at in this scenario without error responses, an X row with NUM/DEN of req/s (higher is
# better for NUM) and of p50 (lower is better for NUM).
bench_ratio () {
    awk -F '\t' -v OFS='\t' -v sc="$BENCH_SCENARIO" -v num="$1" -v den="$2" '
        # rows with error responses (non2xx > 0) get no ratio
        $1 == "R" && $2 == sc && $3 == num && $10 == 0 { nr[$5] = $6; np[$5] = $7; order[++k] = $5 }
        $1 == "R" && $2 == sc && $3 == den && $10 == 0 { dr[$5] = $6; dp[$5] = $7 }
        function q(a, b) { return (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.3f", a / b) }
        END {
            for (i = 1; i <= k; i++) {
                c = order[i]
                if (c in seen || !(c in dr)) continue
                seen[c] = 1
                print "X", sc, num "/" den, c, q(nr[c], dr[c]), q(np[c], dp[c])
            }
        }' "$BENCH_ROWS" > "$BENCH_DIR/.ratios"
    cat "$BENCH_DIR/.ratios" >> "$BENCH_ROWS"
}

# bench_check_logs NAME PID LOG : a note for a process that died or logged
# anything at warn/error level (hsn services run with LOG_LEVEL=warn, so any
# line is worth a look) - returns 1 when the process is gone.
bench_check_logs () {
    name=$1 pid=$2 log=$3
    n=$(grep -c . "$log" 2>/dev/null || true)
    if [ "${n:-0}" -gt 0 ]; then
        first=$(grep -m 1 . "$log" | cut -c 1-300)
        bench_note "$name logged $n line(s) at warn/error (first: $first) - $log"
    fi
    if ! bench_alive "$pid"; then
        wait "$pid" 2>/dev/null
        rc=$?
        case $rc in
            0)   why="exit status 0: a clean shutdown, so it was sent SIGTERM/SIGINT" ;;
            127) why="exit status 127: already reaped, status unknown" ;;
            *)   if [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"
                 else why="exit status $rc"; fi ;;
        esac
        bench_fail "$name (pid $pid) is no longer running ($why); log: $(tail -n 2 "$log" 2>/dev/null | tr '\n' ' ' | grep . || echo "(empty)")"
        return 1
    fi
    return 0
}

# bench_check_alive NAME PID LOG : fail when a peer process (redis, webdis)
# is gone; returns 1 then.
bench_check_alive () {
    if ! bench_alive "$2"; then
        wait "$2" 2>/dev/null
        bench_fail "$1 (pid $2) is no longer running (exit status $?); log: $(tail -n 2 "$3" 2>/dev/null | tr '\n' ' ')"
        return 1
    fi
    return 0
}
