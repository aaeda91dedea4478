#!/bin/sh
# Build and run the JSON benchmark: one binary per candidate library (their
# headers clash, see json_bench.c) plus the shipped gateway converter.
#   sh bench/json/run.sh [rounds]       (default 3; from anywhere)
#   sh bench/json/run.sh -p             edge-case behaviour, as a markdown table
# Every binary runs once per round, rounds interleaved, and the table keeps
# each row's best ns/doc: on a shared machine the least disturbed run is the
# closest to the converter's own cost. Binaries go to build/bench/json/.
# Results and their reading: docs/JSON.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/bench/json"
rounds=${1:-3}
probe=no
[ "$rounds" = "-p" ] && probe=yes
mkdir -p "$out"
CC=${CC:-cc}
CFLAGS="-std=gnu11 -O2 -D_GNU_SOURCE -I$root -I$root/common -I$root/services"

# The library the gateway links (docs/JSON.md); the Makefile's PKGS has it too.
GATEWAY_PKG=${GATEWAY_PKG:-yajl}

build () {  # build NAME DEFINE PKGS [extra sources...]
    name=$1 def=$2 pkgs=$3
    shift 3
    # shellcheck disable=SC2046,SC2086
    $CC $CFLAGS -D$def -o "$out/json_bench_$name" "$here/json_bench.c" \
        "$root/common/hsn_mp.c" "$@" $(pkg-config --cflags --libs $pkgs) -lm
}

build jansson BENCH_JANSSON "msgpack jansson"
build cjson   BENCH_CJSON   "msgpack libcjson"
build jsonc   BENCH_JSONC   "msgpack json-c"
build yajl    BENCH_YAJL    "msgpack yajl"
build gateway BENCH_GATEWAY "msgpack $GATEWAY_PKG" \
    "$root/services/gateway/gateway_json.c"

if [ "$probe" = yes ]; then
    for b in jansson cjson jsonc yajl gateway; do
        "$out/json_bench_$b" -p
    done | awk -F '\t' 'BEGIN { nc = 0; nr = 0 }
        !($1 in col) { col[$1] = nc; cols[nc++] = $1 }
        !($2 in row) { row[$2] = nr; rows[nr++] = $2 }
        { cell[row[$2], col[$1]] = $3 }
        END {
            printf "| input |"; for (c = 0; c < nc; c++) printf " %s |", cols[c]; print ""
            printf "|---|"; for (c = 0; c < nc; c++) printf "---|"; print ""
            for (r = 0; r < nr; r++) {
                printf "| %s |", rows[r]
                for (c = 0; c < nc; c++) printf " `%s` |", cell[r, c]
                print ""
            }
        }'
    exit 0
fi

echo "# $(uname -m), $(nproc) cores, $($CC --version | head -1)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg); best of $rounds rounds"
raw="$out/raw.txt"
: > "$raw"
r=0
while [ "$r" -lt "$rounds" ]; do
    for b in jansson cjson jsonc yajl gateway; do
        "$out/json_bench_$b" >> "$raw"
    done
    r=$((r + 1))
done
"$out/json_bench_yajl" -h
# Keep each row's fastest run, in first-seen order.
awk '{ key = $1 " " $2 " " $3
       if (!(key in best) || $5 < best[key]) { best[key] = $5; line[key] = $0 }
       if (!(key in seen)) { seen[key] = 1; order[n++] = key } }
     END { for (i = 0; i < n; i++) print line[order[i]] }' "$raw"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
