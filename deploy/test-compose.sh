#!/bin/sh
# make test-compose: the docker-compose.yml stack end to end, on a Debian
# machine with no container registry, as root.
#
#  1. a Docker engine: the running one, or dockerd started here (vfs storage,
#     no iptables; apt-get install docker.io docker-compose when missing)
#     and stopped again at the end;
#  2. images: debian:bookworm-slim made with debootstrap when absent, stand-ins
#     for the official redis and postgres images built from it
#     (deploy/docker/{redis,postgres}, used through REDIS_IMAGE/POSTGRES_IMAGE),
#     hsn built with `docker build` and `docker-compose build gateway`
#     (--network host: the build containers have no route out of their own);
#  3. static checks of the compose file (deploy/docker/check-compose.py);
#  4. docker-compose up -d --scale cache=3 --scale query=2 --scale agent-bus=2,
#     then through the published port on localhost: cache PUT/GET/DELETE,
#     health listing every replica, one replica of each scaled service
#     killed while cache reads go on, health showing the loss;
#  5. docker-compose stop: every service exits 0 within its grace period;
#  6. docker-compose down -v --remove-orphans, and nothing of the project left
#     (containers, networks, volumes).
#
# Every wait has a deadline and every long command a timeout: the script stops
# by itself. Traffic goes only to localhost and the stack's own containers
# (plus the Debian mirror for packages). Timings are printed as it goes; the
# last line is "test-compose: N passed, N failed".
#
# Environment: HSN_TEST_PROJECT (compose project, default hsntest),
# HSN_TEST_HTTP_PORT (published port, default 8080, another free one when
# busy), HSN_DEBIAN_MIRROR (debootstrap), HSN_TEST_KEEP_ENGINE=1 (leave a
# dockerd started here running).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PROJECT=${HSN_TEST_PROJECT:-hsntest}
PORT=${HSN_TEST_HTTP_PORT:-8080}
MIRROR=${HSN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=debian:bookworm-slim
REDIS_STANDIN=hsn-standin/redis:7
POSTGRES_STANDIN=hsn-standin/postgres:15
HSN_IMAGE_TAG=hsn:latest
LOGDIR=$ROOT/build/test-compose
mkdir -p "$LOGDIR"

T0=$(date +%s)
PHASE_T=$T0
passed=0
failed=0
DOCKERD_PID=""
STACK_UP=""

elapsed() { echo $(( $(date +%s) - T0 )); }
say() { echo "[test-compose $(elapsed)s] $*"; }
phase() { # phase NAME: print how long the previous phase took
    now=$(date +%s)
    echo "[test-compose $((now - T0))s] ---- $* (previous phase $((now - PHASE_T))s)"
    PHASE_T=$now
}
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { # check DESCRIPTION COMMAND...: one counted assertion
    d=$1; shift
    if "$@" >"$LOGDIR/check.out" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/       /' "$LOGDIR/check.out" | tail -n 20; fi
}
die() { echo "[test-compose $(elapsed)s] FATAL: $*" >&2; failed=$((failed + 1)); exit 1; }
# wait_until SECONDS COMMAND...: poll every second until it succeeds; 1 on timeout
wait_until() {
    end=$(( $(date +%s) + $1 )); shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 1
    done
}

# The caller's environment must not leak into the stack (the compose file
# takes every setting from it): unset every variable of the README's
# configuration table, and compose's own.
for v in $(sed -n '/^## Configuration/,/^## [A-Z]/p' README.md | grep -oE '`[A-Z][A-Z0-9_]+`' | tr -d '`' | sort -u) \
         HSN_HTTP_PORT HSN_STOP_GRACE_PERIOD HSN_IMAGE HSN_BASE_IMAGE HSN_BUILD_NETWORK \
         REDIS_IMAGE POSTGRES_IMAGE POSTGRES_PASSWORD COMPOSE_FILE COMPOSE_PROJECT_NAME DOCKER_HOST; do
    unset "$v"
done

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and may start dockerd)"
[ -r /etc/debian_version ] || die "needs a Debian (or Debian-based) machine"

# ---- cleanup, whatever happens ------------------------------------------
# $COMPOSE is "docker-compose" or "docker compose": split on purpose.
# shellcheck disable=SC2086
compose() { timeout "${COMPOSE_TIMEOUT:-300}" $COMPOSE -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"; }
cleanup() {
    rc=$?
    trap '' INT TERM
    if [ -n "$STACK_UP" ]; then
        if [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
            say "stack logs (last lines of each service) in $LOGDIR/stack.log"
            compose logs --no-color --tail 40 >"$LOGDIR/stack.log" 2>&1 || true
            tail -n 60 "$LOGDIR/stack.log" || true
        fi
        COMPOSE_TIMEOUT=120 compose down -v --remove-orphans -t 15 >>"$LOGDIR/compose.log" 2>&1 || true
    fi
    if [ -n "$DOCKERD_PID" ] && [ -z "${HSN_TEST_KEEP_ENGINE:-}" ]; then
        say "stopping the dockerd started here (pid $DOCKERD_PID)"
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        n=0
        while kill -0 "$DOCKERD_PID" 2>/dev/null && [ $n -lt 30 ]; do sleep 1; n=$((n + 1)); done
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then
            say "dockerd did not stop within 30 s: SIGKILL"
            kill -KILL "$DOCKERD_PID" 2>/dev/null || true
        fi
    fi
    say "total $(elapsed)s"
    echo "test-compose: $passed passed, $failed failed"
    [ "$failed" = 0 ] && [ "$rc" = 0 ] || exit 1
    exit 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. packages and engine ----------------------------------------------
phase "packages"
apt_install() { # apt_install PKG...: install the missing ones; services not started
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    say "apt-get install$missing"
    # Debian starts a packaged daemon on install; this script starts its own.
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    timeout 600 apt-get install -y -qq --no-install-recommends $missing >"$LOGDIR/apt.log" 2>&1 \
        || { timeout 300 apt-get update -qq >>"$LOGDIR/apt.log" 2>&1 || true
             timeout 600 apt-get install -y -qq --no-install-recommends $missing >>"$LOGDIR/apt.log" 2>&1; } \
        || { [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; tail -n 20 "$LOGDIR/apt.log"; die "apt-get install$missing failed"; }
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
}
need=""
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need="$need docker-compose"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v python3 >/dev/null 2>&1 || need="$need python3"
# shellcheck disable=SC2086
[ -z "$need" ] || apt_install $need
if command -v docker-compose >/dev/null 2>&1; then COMPOSE=docker-compose; else COMPOSE="docker compose"; fi
say "compose: $($COMPOSE version 2>/dev/null | head -n 1)"

phase "docker engine"
if timeout 20 docker info >/dev/null 2>&1; then
    say "using the running Docker engine"
else
    say "starting dockerd (vfs, no iptables), log $LOGDIR/dockerd.log"
    dockerd --storage-driver=vfs --iptables=false --ip6tables=false >"$LOGDIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    wait_until 60 sh -c 'test -S /var/run/docker.sock && docker info' \
        || { tail -n 20 "$LOGDIR/dockerd.log"; die "dockerd did not answer within 60 s"; }
    kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited (see $LOGDIR/dockerd.log)"
fi
say "engine $(docker version -f '{{.Server.Version}}' 2>/dev/null), storage $(docker info -f '{{.Driver}}' 2>/dev/null)"

# ---- 2. images ---------------------------------------------------------------
phase "base image"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE present"
else
    apt_install debootstrap
    rootfs=$(mktemp -d /var/tmp/hsn-rootfs-XXXXXX)
    say "debootstrap --variant=minbase bookworm $rootfs $MIRROR"
    timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$LOGDIR/debootstrap.log" 2>&1 \
        || { tail -n 20 "$LOGDIR/debootstrap.log"; rm -rf "$rootfs"; die "debootstrap failed"; }
    # The same package sources as the official image.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    chmod 755 "$rootfs"                 # mktemp made it 0700: it becomes the image's /
    tar -C "$rootfs" -c . | docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null || { rm -rf "$rootfs"; die "docker import failed"; }
    rm -rf "$rootfs"
    say "imported $BASE_IMAGE"
fi
# Non-root users (redis, postgres, hsn) must be able to use it.
timeout 60 docker run --rm -u 65534:65534 "$BASE_IMAGE" sh -c 'ls / >/dev/null && cat /etc/os-release >/dev/null' \
    || die "$BASE_IMAGE is unusable for a non-root user (remove it: docker rmi $BASE_IMAGE)"

build() { # build LOGNAME ARGS...: docker build with host networking, logged
    name=$1; shift
    timeout 1800 docker build --force-rm --network host --build-arg HSN_BASE_IMAGE="$BASE_IMAGE" "$@" \
        >"$LOGDIR/build-$name.log" 2>&1 \
        || { tail -n 30 "$LOGDIR/build-$name.log"; die "docker build of $name failed (log $LOGDIR/build-$name.log)"; }
}
phase "stand-in images"
build redis -t "$REDIS_STANDIN" deploy/docker/redis
build postgres -t "$POSTGRES_STANDIN" deploy/docker/postgres
say "built $REDIS_STANDIN, $POSTGRES_STANDIN"

phase "hsn image: docker build"
build hsn -t "$HSN_IMAGE_TAG" .
say "image $HSN_IMAGE_TAG $(docker image inspect -f '{{.Size}}' "$HSN_IMAGE_TAG" | awk '{printf "%.0f MB", $1 / 1e6}')"
non_root() {
    u=$(docker image inspect -f '{{.Config.User}}' "$HSN_IMAGE_TAG")
    echo "user '$u'"
    [ -n "$u" ] && [ "${u%%:*}" != 0 ] && [ "${u%%:*}" != root ]
}
check "image runs as a non-root user" non_root
check "image holds the five binaries, every library found" \
    docker run --rm --entrypoint sh "$HSN_IMAGE_TAG" -c \
    'for s in gateway cache query agent-bus monitor; do b=/usr/local/bin/hsn-$s; test -x $b || exit 1; ldd $b | grep "not found" && exit 1; done; exit 0'

export REDIS_IMAGE=$REDIS_STANDIN POSTGRES_IMAGE=$POSTGRES_STANDIN HSN_IMAGE=$HSN_IMAGE_TAG \
       HSN_BASE_IMAGE=$BASE_IMAGE HSN_BUILD_NETWORK=host

phase "hsn image: docker-compose build"
# One service: the five share one build definition and image (check-compose.py
# checks that); a full `docker-compose build` repeats the same cached build
# five times (~8 s each here).
compose_build() { COMPOSE_TIMEOUT=1800 compose build --force-rm gateway >"$LOGDIR/compose-build.log" 2>&1 || { tail -n 30 "$LOGDIR/compose-build.log"; return 1; }; }
t_cb=$(date +%s)
check "docker-compose build gateway (the same image, from the compose file)" compose_build
say "docker-compose build took $(( $(date +%s) - t_cb ))s"

# ---- 3. static checks ------------------------------------------------------
phase "compose file checks"
check "docker-compose config accepts the file" compose config -q
check "compose file: one published port, healthchecks, conditions, every setting" \
    python3 deploy/docker/check-compose.py --compose "$COMPOSE"

# ---- 4. the stack ---------------------------------------------------------
phase "stack up"
# A leftover of an interrupted run would be reused: start from nothing.
compose down -v --remove-orphans -t 5 >"$LOGDIR/compose.log" 2>&1 || true
if python3 -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', $PORT))" 2>/dev/null; then :; else
    PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
    say "port ${HSN_TEST_HTTP_PORT:-8080} is busy: publishing the gateway on $PORT"
fi
export HSN_HTTP_PORT=$PORT
BASE_URL="http://127.0.0.1:$PORT"
STACK_UP=1
t_up=$(date +%s)
compose up -d --scale cache=3 --scale query=2 --scale agent-bus=2 >>"$LOGDIR/compose.log" 2>&1 \
    || { tail -n 30 "$LOGDIR/compose.log"; die "docker-compose up failed"; }
say "docker-compose up -d returned after $(( $(date +%s) - t_up ))s"

ids() { docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; }   # the project's containers
all_healthy() {
    n=0
    for c in $(ids); do
        s=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c")
        [ "$s" = healthy ] || return 1
        n=$((n + 1))
    done
    [ "$n" = 11 ]
}
if wait_until 120 all_healthy; then
    ok "11 containers healthy $(( $(date +%s) - t_up ))s after up"
else
    bad "every container healthy within 120 s"
    docker ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '  {{.Names}} {{.Status}}'
fi

# health SERVICE...: "status svc=up/total ..." from /api/optimization/health
health() {
    curl -s --max-time 5 "$BASE_URL/api/optimization/health" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
out = [d["status"]]
for s in sys.argv[1:]:
    v = d["services"].get(s, {})
    out.append("%s=%s/%s" % (s, v.get("replicas_up", 0), v.get("replicas_total", 0)))
print(" ".join(out))' "$@"
}
want_health() { # want_health EXPECTED: health output equals it
    got=$(health gateway monitor cache query agent-bus 2>/dev/null || echo "no answer")
    echo "$got" >"$LOGDIR/health.last"
    [ "$got" = "$1" ]
}
phase "exercise through localhost:$PORT"
full="healthy gateway=1/1 monitor=1/1 cache=3/3 query=2/2 agent-bus=2/2"
if wait_until 30 want_health "$full"; then
    ok "health: $full"
else
    bad "health lists every replica: want '$full', got '$(cat "$LOGDIR/health.last")'"
fi

http() { # http METHOD PATH [BODY]: prints the status code
    if [ -n "${3:-}" ]; then
        curl -s -o "$LOGDIR/http.body" -w '%{http_code}' --max-time 10 -X "$1" "$BASE_URL$2" -d "$3"
    else
        curl -s -o "$LOGDIR/http.body" -w '%{http_code}' --max-time 10 -X "$1" "$BASE_URL$2"
    fi
}
body_has() { grep -q "$1" "$LOGDIR/http.body"; }
expect() { # expect CODE [BODY-PATTERN] -- METHOD PATH [BODY]
    want=$1; shift; pat=""
    if [ "$1" != -- ]; then pat=$1; shift; fi
    shift
    code=$(http "$@")
    echo "$* -> $code $(head -c 300 "$LOGDIR/http.body")"
    [ "$code" = "$want" ] || return 1
    [ -z "$pat" ] || body_has "$pat"
}
check "PUT /api/cache/compose/k1 -> 200" expect 200 -- PUT "/api/cache/compose/k1?ttl=120" '{"n":1,"s":"x"}'
check "GET /api/cache/compose/k1 -> 200 with the value" expect 200 '"value":{"n":1,"s":"x"}' -- GET /api/cache/compose/k1
check "DELETE /api/cache/compose/k1 -> 200" expect 200 -- DELETE /api/cache/compose/k1
check "GET after DELETE -> 404" expect 404 -- GET /api/cache/compose/k1
pg_db() { COMPOSE_TIMEOUT=60 compose exec -T postgres psql -U hsn -d hsn -tAc 'select current_database()' | tee /dev/stderr | grep -qx hsn; }
check "postgres: database hsn made from POSTGRES_DB, reachable as user hsn" pg_db
redis_aof() { COMPOSE_TIMEOUT=60 compose exec -T redis redis-cli config get appendonly | tee /dev/stderr | grep -qx yes; }
check "redis: AOF on" redis_aof
redis_fsync() { COMPOSE_TIMEOUT=60 compose exec -T redis redis-cli config get appendfsync | tee /dev/stderr | grep -qx always; }
check "redis: appendfsync always (an accepted agent message survives a Redis crash)" redis_fsync
check "GET /api/queries lists the demo queries" expect 200 '"user_by_id"' -- GET /api/queries
check "GET /api/queries/user_by_id?id=1 -> 200, a seeded row" expect 200 '"rows":\[{' -- GET "/api/queries/user_by_id?id=1"
check "POST /api/agents/compose-a/messages -> 201 (persisted)" expect 201 '"id":"' -- POST /api/agents/compose-a/messages '{"payload":{"n":1},"priority":"high"}'
check "GET /api/agents/compose-a/messages -> the message" expect 200 '"payload":{"n":1}' -- GET "/api/agents/compose-a/messages?wait=2"

# Write keys, kill one replica of each scaled service, read them all back.
phase "replica loss"
nkeys=40
i=0; put_ok=0
while [ $i -lt $nkeys ]; do
    [ "$(http PUT "/api/cache/loss/key$i?ttl=300" "{\"i\":$i}")" = 200 ] && put_ok=$((put_ok + 1))
    i=$((i + 1))
done
[ $put_ok = $nkeys ] && ok "$nkeys PUTs before the kill" || bad "$nkeys PUTs before the kill: $put_ok answered 200"
victims=""
for s in cache query agent-bus; do
    victims="$victims $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$s" | head -n 1)"
done
t_kill=$(date +%s)
# shellcheck disable=SC2086
docker kill $victims >/dev/null
say "killed one replica each of cache, query, agent-bus:$victims"
i=0; get_ok=0; get_bad=""
while [ $i -lt $nkeys ]; do
    code=$(http GET "/api/cache/loss/key$i")
    if [ "$code" = 200 ] && body_has "\"value\":{\"i\":$i}"; then get_ok=$((get_ok + 1)); else get_bad="$get_bad key$i:$code"; fi
    i=$((i + 1))
done
[ $get_ok = $nkeys ] && ok "$nkeys GETs right after the kill all 200 ($(( $(date +%s) - t_kill ))s)" \
    || bad "GETs after the kill: $get_ok/$nkeys 200;$get_bad"
degraded="degraded gateway=1/1 monitor=1/1 cache=2/3 query=1/2 agent-bus=1/2"
if wait_until 20 want_health "$degraded"; then
    ok "health shows the loss $(( $(date +%s) - t_kill ))s after the kill: $degraded"
else
    bad "health shows the loss within 20 s: want '$degraded', got '$(cat "$LOGDIR/health.last")'"
fi
i=0; rw_ok=0
while [ $i -lt 20 ]; do
    [ "$(http PUT "/api/cache/after/key$i" "[$i]")" = 200 ] && [ "$(http GET "/api/cache/after/key$i")" = 200 ] \
        && body_has "\"value\":\\[$i\\]" && rw_ok=$((rw_ok + 1))
    i=$((i + 1))
done
[ $rw_ok = 20 ] && ok "20 PUT+GET on the survivors" || bad "PUT+GET on the survivors: $rw_ok/20"
stay_down() { for c in $victims; do [ "$(docker inspect -f '{{.State.Running}}' "$c")" = false ] || return 1; done; }
check "killed replicas stay down (docker kill is a manual stop for the restart policy)" stay_down

# ---- 5. graceful stop ------------------------------------------------------
phase "docker-compose stop"
t_stop=$(date +%s)
compose stop >>"$LOGDIR/compose.log" 2>&1 || bad "docker-compose stop failed"
stop_s=$(( $(date +%s) - t_stop ))
say "docker-compose stop took ${stop_s}s"
exits=""
for c in $(ids); do
    case " $victims " in *" $c "*) continue ;; esac
    exits="$exits $(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}={{.State.ExitCode}}' "$c")"
done
echo "$exits" | tr ' ' '\n' | grep -v '^$' | grep -qv '=0$' \
    && bad "every service exits 0 on SIGTERM:$exits" || ok "every service exited 0 on docker-compose stop:$exits"
# Services stop in dependency order, each within its grace period (12 s for
# hsn, 10 s for the databases): far less than their sum when they drain.
[ $stop_s -le 40 ] && ok "stop took ${stop_s}s (no SIGKILL after a grace period)" \
    || bad "docker-compose stop took ${stop_s}s"

# ---- 6. down, nothing left -------------------------------------------------
phase "docker-compose down"
compose down -v --remove-orphans >>"$LOGDIR/compose.log" 2>&1 || bad "docker-compose down failed"
STACK_UP=""
none_left() { # none_left ps|network|volume
    case $1 in
        ps) left=$(docker ps -a --format '{{.Names}}' --filter "label=com.docker.compose.project=$PROJECT"
                   docker ps -a --format '{{.Names}}' --filter "name=^${PROJECT}[-_]") ;;
        *)  left=$(docker "$1" ls -q --filter "label=com.docker.compose.project=$PROJECT"
                   docker "$1" ls -q --filter "name=^${PROJECT}[-_]") ;;
    esac
    echo "left: $left"
    [ -z "$left" ]
}
check "no container of the project left" none_left ps
check "no network of the project left" none_left network
check "no volume of the project left" none_left volume
phase "done"
