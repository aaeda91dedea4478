#!/bin/sh
# Build the fuzz targets (the protocol decoder, the HTTP front's head parser)
# with libFuzzer + ASan + UBSan and run each for a bounded time. Called by `make fuzz` from the repo root:
#     sh tests/fuzz/run-fuzz.sh <outdir>
# FUZZ_SECONDS (default 60) bounds the run. Seeds come from tests/fuzz/corpus
# (tests/fuzz/gen-corpus.py writes them); the fuzzer works on a copy under
# <outdir>, so the checked-in seeds never change. Crash, leak, timeout and
# out-of-memory inputs are kept in <outdir>/artifacts/, and the exit status
# is non-zero when there are any.
set -eu

out=${1:?usage: run-fuzz.sh <outdir>}
secs=${FUZZ_SECONDS:-60}
case "$secs" in
    ''|*[!0-9]*) echo "run-fuzz.sh: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;;
esac
here=tests/fuzz
[ -f "$here/fuzz_envelope.c" ] && [ -f "$here/fuzz_http_head.c" ] || { echo "run-fuzz.sh: run from the repository root" >&2; exit 2; }

sh deploy/install-deps.sh fuzz

mkdir -p "$out/artifacts"
log="$out/fuzz.log"

# Artifacts from an earlier run would read as a failure of this one.
rm -f "$out"/artifacts/crash-* "$out"/artifacts/leak-* \
      "$out"/artifacts/timeout-* "$out"/artifacts/oom-* "$out"/artifacts/slow-unit-*

# fuzz NAME CORPUS SOURCES...: build the target, run it for FUZZ_SECONDS on
# a copy of its seeds; rc says whether it found anything.
rc=0
fuzz () {
    name=$1 seeds=$2
    shift 2
    bin="$out/$name"
    # shellcheck disable=SC2046
    clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -D_GNU_SOURCE -Icommon -Iservices -I. $(pkg-config --cflags msgpack) \
        -o "$bin" "$here/$name.c" "$@" $(pkg-config --libs msgpack)
    work=$(mktemp -d "$out/corpus.XXXXXX")
    cp "$seeds"/* "$work"/
    echo "fuzz: $bin for ${secs}s (log: $log.$name)"
    "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$work" \
        >"$log.$name" 2>&1 || rc=$?
    rm -rf "$work"
    # The last status line (#N ... cov: ... exec/s: ...), then the totals.
    grep -E '^#[0-9]+' "$log.$name" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log.$name" || true
}

# The protocol decoder, and the HTTP front's request-head parser.
fuzz fuzz_envelope "$here/corpus" common/hsn_mp.c common/hsn_proto.c
fuzz fuzz_http_head "$here/corpus-http" services/gateway/gateway_front_parse.c

found=$(find "$out/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null)
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz: FAILED (exit $rc); see $log.*" >&2
    grep -hE 'ERROR|SUMMARY|runtime error|Test unit written' "$log".* | head -n 20 >&2 || true
    [ -n "$found" ] && printf 'fuzz: reproduce with: %s/<target> %s\n' "$out" "$found" >&2
    exit 1
fi
echo "fuzz: clean"
