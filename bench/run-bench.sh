#!/bin/sh
# Run the benchmark scenarios and print one table of figures and ratios.
#
#   HSN_BIN_DIR=/abs/build/bin sh bench/run-bench.sh [SCENARIO...]
#   (make bench does exactly this, after installing wrk, webdis, redis-tools)
#
# Runs bench/scenarios/*.sh in name order (or only the named ones, e.g.
# "cache-get" or "10-cache-get"), each in its own temp directory and under a
# time limit; each appends rows to a shared result file (see bench/lib.sh).
# Then prints the table and writes it as JSON to bench/results/<UTC time>.json
# and bench/results/latest.json. Everything listens on 127.0.0.1, on free
# ports; every process started is stopped at the end, also on failure or
# Ctrl-C. The exit status is non-zero when a scenario failed; its temp
# directory (logs, raw wrk output) is then kept and named.
#
# Environment:
#   HSN_BIN_DIR             hsn binaries (default: <repo>/build/bin)
#   BENCH_DURATION          seconds per wrk run (default 5)
#   BENCH_SCENARIO_TIMEOUT  seconds a scenario may take in all (default 120)
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
: "${HSN_BIN_DIR:=$root/build/bin}"
: "${BENCH_DURATION:=5}"
: "${BENCH_SCENARIO_TIMEOUT:=120}"
case "$BENCH_DURATION" in ''|*[!0-9]*|0) echo "run-bench: BENCH_DURATION must be a positive integer" >&2; exit 2 ;; esac
case "$BENCH_SCENARIO_TIMEOUT" in ''|*[!0-9]*|0) echo "run-bench: BENCH_SCENARIO_TIMEOUT must be a positive integer" >&2; exit 2 ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hsn-bench-XXXXXX") || exit 2
BENCH_ROWS="$tmp/rows.tsv"
BENCH_PIDS="$tmp/pids"
BENCH_LIB="$here/lib.sh"
T=$(printf '\t')
: > "$BENCH_ROWS"
: > "$BENCH_PIDS"
export HSN_BIN_DIR BENCH_DURATION BENCH_ROWS BENCH_PIDS BENCH_LIB

scenario_pid=""
keep_tmp=0
cleanup () {
    # The running scenario (timeout forwards the signal to its process
    # group), then whatever any scenario left behind.
    if [ -n "$scenario_pid" ]; then
        kill -TERM "$scenario_pid" 2>/dev/null
        wait "$scenario_pid" 2>/dev/null
        kill -TERM "-$scenario_pid" 2>/dev/null
    fi
    for p in $(cat "$BENCH_PIDS" 2>/dev/null); do
        kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
    done
    i=0
    while [ $i -lt 30 ]; do
        left=""
        for p in $(cat "$BENCH_PIDS" 2>/dev/null); do kill -0 "$p" 2>/dev/null && left="$left $p"; done
        [ -z "$left" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    for p in $left; do kill -KILL "$p" 2>/dev/null; done
    if [ "$keep_tmp" = 1 ]; then
        echo "run-bench: logs and raw wrk output kept in $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'keep_tmp=1; exit 130' INT
trap 'keep_tmp=1; exit 143' TERM

# ---- which scenarios ----------------------------------------------------------
scenarios=""
for f in "$here"/scenarios/*.sh; do
    [ -f "$f" ] || continue
    base=$(basename "$f" .sh)
    name=${base#[0-9]*-}
    if [ $# -gt 0 ]; then
        wanted=0
        for w in "$@"; do [ "$w" = "$name" ] || [ "$w" = "$base" ] && wanted=1; done
        [ $wanted = 1 ] || continue
    fi
    scenarios="$scenarios $f"
done
if [ -z "$scenarios" ]; then
    echo "run-bench: no scenario to run in $here/scenarios${1:+ matching $*}" >&2
    exit 2
fi

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
t0=$(date +%s)

# ---- run them -------------------------------------------------------------------
for f in $scenarios; do
    base=$(basename "$f" .sh)
    name=${base#[0-9]*-}
    BENCH_SCENARIO=$name
    BENCH_DIR="$tmp/$base"
    mkdir -p "$BENCH_DIR"
    export BENCH_SCENARIO BENCH_DIR
    echo "==== $name" >&2
    s0=$(date +%s)
    # In the background so that a signal to this script is acted on at
    # once; timeout puts the scenario and everything it starts into a
    # process group of their own and ends all of it at the limit.
    timeout -k 10 "$BENCH_SCENARIO_TIMEOUT" sh "$f" &
    scenario_pid=$!
    wait "$scenario_pid"
    rc=$?
    # Anything still in the scenario's process group (timeout made it,
    # with timeout's pid as its id) was left behind: stop it.
    if kill -0 "-$scenario_pid" 2>/dev/null; then
        echo "run-bench: $name left processes behind; stopping process group $scenario_pid" >&2
        kill -TERM "-$scenario_pid" 2>/dev/null
        i=0
        while [ $i -lt 30 ] && kill -0 "-$scenario_pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "-$scenario_pid" 2>/dev/null
    fi
    scenario_pid=""
    if ! grep -q "^S${T}$name${T}" "$BENCH_ROWS"; then
        case $rc in
            124|137) why="did not finish within ${BENCH_SCENARIO_TIMEOUT}s" ;;
            0) why="ended without a status row" ;;
            *) why="exited with status $rc" ;;
        esac
        printf 'S\t%s\tFAIL\t%s\n' "$name" "$why" >> "$BENCH_ROWS"
        rc=1
    fi
    [ $rc -ne 0 ] && keep_tmp=1
    echo "==== $name: exit $rc after $(( $(date +%s) - s0 ))s" >&2
done
elapsed=$(( $(date +%s) - t0 ))

# ---- the table --------------------------------------------------------------------
cores=$(nproc 2>/dev/null || echo "?")
arch=$(uname -m)
kernel=$(uname -r)
wrkv=$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)

echo
awk -F '\t' -v started="$started" -v dur="$BENCH_DURATION" -v cores="$cores" -v arch="$arch" \
    -v rev="$rev" -v elapsed="$elapsed" '
    function num(v, fmt) { return (v == "-" || v == "") ? "-" : sprintf(fmt, v) }
    { rows[NR] = $0 }
    $1 == "R" || $1 == "X" { if (!($2 in seen)) { seen[$2] = 1; order[++ns] = $2 } }
    END {
        printf "hsn bench  %s  %s, %s cores, rev %s, wrk %ss per run, %ss in all\n\n",
               started, arch, cores, rev, dur, elapsed
        f = "%-12s %-12s %4s %6s %11s %10s %10s %9s %7s %7s %7s %6s\n"
        printf f, "scenario", "target", "thr", "conns", "req/s", "p50_us", "p99_us",
               "requests", "non2xx", "sockerr", "body_B", "hdr_B"
        for (i = 1; i <= ns; i++) {
            sc = order[i]
            for (r = 1; r <= NR; r++) {
                split(rows[r], a, "\t")
                if (a[1] == "R" && a[2] == sc)
                    printf f, sc, a[3], a[4], a[5], num(a[6], "%.1f"), num(a[7], "%.1f"),
                           num(a[8], "%.1f"), a[9], a[10], a[11], a[12], a[13]
            }
            for (r = 1; r <= NR; r++) {
                split(rows[r], a, "\t")
                if (a[1] == "X" && a[2] == sc)
                    printf f, sc, a[3], "", a[4], num(a[5], "%.3fx"), num(a[6], "%.3fx"),
                           "", "", "", "", "", ""
            }
        }
        print ""
        print "ratio rows (A/B): req/s higher is better for A, p50_us lower is better for A"
        for (r = 1; r <= NR; r++) {
            split(rows[r], a, "\t")
            if (a[1] == "S")
                printf "scenario %-12s %s%s\n", a[2], a[3], a[4] == "" ? "" : ": " a[4]
        }
        for (r = 1; r <= NR; r++) {
            split(rows[r], a, "\t")
            if (a[1] == "N")
                printf "  note %s: %s\n", a[2], a[3]
        }
    }' "$BENCH_ROWS"

# ---- the same as JSON --------------------------------------------------------------
mkdir -p "$here/results"
json="$here/results/$stamp.json"
awk -F '\t' -v started="$started" -v dur="$BENCH_DURATION" -v cores="$cores" -v arch="$arch" \
    -v kernel="$kernel" -v wrkv="$wrkv" -v rev="$rev" -v elapsed="$elapsed" '
    function s(v,   i, c, o) {
        o = ""
        for (i = 1; i <= length(v); i++) {
            c = substr(v, i, 1)
            if (c == "\\" || c == "\"") o = o "\\" c
            else if (c < " ") o = o sprintf("\\u%04x", ord[c])
            else o = o c
        }
        return "\"" o "\""
    }
    function n(v) { return (v == "-" || v == "" || v !~ /^-?[0-9]+(\.[0-9]+)?$/) ? "null" : v }
    function add(list, item) { return list == "" ? item : list ",\n    " item }
    BEGIN { for (i = 1; i < 32; i++) ord[sprintf("%c", i)] = i }
    $1 == "R" {
        res = add(res, sprintf("{\"scenario\": %s, \"target\": %s, \"threads\": %s, \"connections\": %s, " \
              "\"rps\": %s, \"p50_us\": %s, \"p99_us\": %s, \"requests\": %s, \"non2xx\": %s, " \
              "\"socket_errors\": %s, \"body_bytes\": %s, \"header_bytes\": %s}",
              s($2), s($3), n($4), n($5), n($6), n($7), n($8), n($9), n($10), n($11), n($12), n($13)))
    }
    $1 == "X" {
        split($3, ab, "/")
        rat = add(rat, sprintf("{\"scenario\": %s, \"ratio\": %s, \"numerator\": %s, \"denominator\": %s, " \
              "\"connections\": %s, \"rps\": %s, \"p50\": %s, " \
              "\"better\": {\"rps\": \"higher\", \"p50\": \"lower\"}}",
              s($2), s($3), s(ab[1]), s(ab[2]), n($4), n($5), n($6)))
    }
    $1 == "S" { st = add(st, sprintf("{\"name\": %s, \"status\": %s, \"message\": %s}", s($2), s($3), s($4))) }
    $1 == "N" { no = add(no, sprintf("{\"scenario\": %s, \"text\": %s}", s($2), s($3))) }
    END {
        printf "{\n  \"started\": %s,\n  \"elapsed_s\": %s,\n  \"wrk_duration_s\": %s,\n", s(started), n(elapsed), n(dur)
        printf "  \"host\": {\"arch\": %s, \"cores\": %s, \"kernel\": %s, \"wrk\": %s},\n", s(arch), n(cores), s(kernel), s(wrkv)
        printf "  \"revision\": %s,\n", s(rev)
        printf "  \"results\": [\n    %s\n  ],\n", res
        printf "  \"ratios\": [\n    %s\n  ],\n", rat
        printf "  \"scenarios\": [\n    %s\n  ],\n", st
        printf "  \"notes\": [\n    %s\n  ]\n}\n", no
    }' "$BENCH_ROWS" > "$json.tmp" && mv "$json.tmp" "$json" && cp "$json" "$here/results/latest.json"
echo
echo "results: $json (and bench/results/latest.json)"

if grep -q "^S${T}[^${T}]*${T}FAIL" "$BENCH_ROWS"; then
    keep_tmp=1
    exit 1
fi
exit 0
