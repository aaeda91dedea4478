#!/bin/sh
# Build and run the JSON benchmark: one binary per candidate library (their
# headers clash, see json_bench.c) plus the shipped gateway converter.
#   sh bench/json/run.sh            (from the repository root or anywhere)
# Binaries go to build/bench/json/. Results: docs/JSON.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/bench/json"
mkdir -p "$out"
CC=${CC:-cc}
CFLAGS="-std=gnu11 -O2 -D_GNU_SOURCE -I$root -I$root/common -I$root/services"

# The library the gateway links (docs/JSON.md); the Makefile's PKGS has it too.
GATEWAY_PKG=${GATEWAY_PKG:-yajl}

build () {  # build NAME DEFINE PKGS [extra sources...]
    name=$1 def=$2 pkgs=$3
    shift 3
    # shellcheck disable=SC2046,SC2086
    $CC $CFLAGS -D$def -o "$out/json_bench_$name" "$here/json_bench.c" "$@" \
        $(pkg-config --cflags --libs $pkgs) -lm
}

build jansson BENCH_JANSSON "msgpack jansson"
build cjson   BENCH_CJSON   "msgpack libcjson"
build jsonc   BENCH_JSONC   "msgpack json-c"
build yajl    BENCH_YAJL    "msgpack yajl"
if [ -f "$root/services/gateway/gateway_json.c" ]; then
    build gateway BENCH_GATEWAY "msgpack $GATEWAY_PKG" \
        "$root/services/gateway/gateway_json.c" "$root/common/hsn_mp.c"
fi

echo "# $(uname -m), $(nproc) cores, $($CC --version | head -1)"
first=-h
for b in jansson cjson jsonc yajl gateway; do
    [ -x "$out/json_bench_$b" ] || continue
    "$out/json_bench_$b" $first
    first=
done
