#!/bin/sh
# Install the Debian packages hsn needs for one purpose, if any are missing.
#   install-deps.sh build   compilers and -dev libraries
#   install-deps.sh run     build + redis-server, postgresql (make run)
#   install-deps.sh test    build + redis-server, postgresql (real servers for tests),
#                           prometheus (scrapes /metrics), chromium (opens the dashboard)
#   install-deps.sh bench   test + wrk, webdis, redis-tools, nginx-light (peers and load)
#   install-deps.sh fuzz    build + clang with libFuzzer
# apt-get as root, sudo otherwise; when neither works it names the packages.
set -eu

purpose=${1:-build}
build="gcc make pkg-config libczmq-dev libzmq3-dev libhiredis-dev libmsgpack-dev
       libpq-dev libcivetweb-dev libyajl-dev zlib1g-dev check libsubunit-dev libcurl4-openssl-dev"
case "$purpose" in
    build) want=$build ;;
    run)   want="$build redis-server postgresql curl procps" ;;
    test)  want="$build redis-server postgresql curl procps prometheus chromium" ;;
    bench) want="$build redis-server postgresql curl procps prometheus chromium wrk webdis redis-tools nginx-light" ;;
    fuzz)  want="$build clang libclang-rt-dev" ;;
    *) echo "install-deps.sh: unknown purpose '$purpose' (build|run|test|bench|fuzz)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "hsn: installing missing packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "hsn: cannot install packages (not root, no sudo). Please run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list finds nothing: refresh it once, then install.
$SUDO apt-get update -qq >/dev/null 2>&1 || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || { echo "hsn: apt-get install failed for:$missing" >&2; exit 1; }
# Debian starts the packaged servers on install; hsn starts its own on free
# ports, so stop the system ones rather than leave them listening.
if [ -z "$SUDO" ] && command -v service >/dev/null 2>&1; then
    case "$missing" in *redis-server*) service redis-server stop >/dev/null 2>&1 || true ;; esac
    case "$missing" in *postgresql*) service postgresql stop >/dev/null 2>&1 || true ;; esac
    case "$missing" in *prometheus*) service prometheus stop >/dev/null 2>&1 || true ;; esac
    case "$missing" in *nginx*) service nginx stop >/dev/null 2>&1 || true ;; esac
fi
exit 0
