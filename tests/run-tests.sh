#!/bin/sh
# Run Check test binaries one after another and sum up.
#
#   sh tests/run-tests.sh BIN...
#
# Each binary runs under `timeout 600`, its output is shown as it runs. The
# individual Check tests are counted from each binary's
# "NN%: Checks: N, Failures: F, Errors: E" line; a binary that fails without
# one (crash, timeout, sanitizer report at exit) counts as one failed test.
# The last line is exactly "N passed, N failed"; the exit status is non-zero
# when any binary failed.
set -u

: "${CK_DEFAULT_TIMEOUT:=120}"
export CK_DEFAULT_TIMEOUT
per_binary_timeout=600

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hsn-run-tests-XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0        # individual Check tests
failed=0
bin_ok=0        # binaries
bin_failed=0
failed_bins=""

for bin in "$@"; do
    echo "==== $bin"
    out="$tmp/out"
    : > "$out"
    if [ ! -x "$bin" ]; then
        echo "run-tests: $bin: not an executable file" | tee "$out"
        rc=127
    else
        # Stream the output and keep a copy; the exit status travels through
        # a file because a pipeline's status is the last command's.
        { timeout "$per_binary_timeout" "$bin" 2>&1; echo $? > "$tmp/rc"; } \
            | tee "$out"
        rc=$(cat "$tmp/rc" 2>/dev/null || echo 1)
    fi

    # Sum every Checks line (one per suite runner).
    counts=$(sed -n 's/^[0-9]*%: Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' "$out" \
             | awk '{ n += $1; f += $2 + $3 } END { printf "%d %d %d", NR, n, f }')
    read -r lines n f <<EOF
$counts
EOF

    if [ "$rc" -eq 0 ] && [ "$lines" -gt 0 ] && [ "$f" -eq 0 ]; then
        passed=$((passed + n))
        bin_ok=$((bin_ok + 1))
        echo "==== PASS $bin ($n tests)"
        continue
    fi

    # Failed: count what Check reported, and at least one failure.
    [ "$f" -eq 0 ] && f=1
    [ "$f" -gt "$n" ] && n=$f
    passed=$((passed + n - f))
    failed=$((failed + f))
    bin_failed=$((bin_failed + 1))
    failed_bins="$failed_bins $bin"
    case "$rc" in
        124) why="timed out after ${per_binary_timeout}s" ;;
        0)   why="test failures" ;;
        *)   if [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"
             else why="exit status $rc"; fi ;;
    esac
    [ "$lines" -eq 0 ] && why="$why, no Check summary"
    echo "==== FAIL $bin ($why)"
done

echo
echo "test binaries: $bin_ok ok, $bin_failed failed"
for bin in $failed_bins; do
    echo "  failed: $bin"
done
echo "$passed passed, $failed failed"
[ "$bin_failed" -eq 0 ]
