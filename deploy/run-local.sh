#!/bin/sh
# make run: the whole hsn system on this machine, in the foreground.
#
# Starts redis-server and PostgreSQL with their data under ./run/ (unless
# REDIS_URL / DATABASE_URL point at servers of your own), then the five
# services. Gateway on http://localhost:${GATEWAY_PORT:-8080}. Ctrl-C stops
# everything cleanly (services drain, then the databases shut down).
set -eu

BIN=${HSN_BIN_DIR:-$(pwd)/build/bin}
RUN=${HSN_RUN_DIR:-$(pwd)/run}
mkdir -p "$RUN/log"
REDIS_PORT=${HSN_REDIS_PORT:-16379}
PG_PORT=${HSN_PG_PORT:-15432}
export GATEWAY_PORT=${GATEWAY_PORT:-8080}
export BROKER_BIND=${BROKER_BIND:-tcp://127.0.0.1:5555}
export BROKER_ENDPOINT=${BROKER_ENDPOINT:-tcp://127.0.0.1:5555}
export MONITOR_BIND=${MONITOR_BIND:-tcp://127.0.0.1:5556}
export MONITOR_ENDPOINT=${MONITOR_ENDPOINT:-tcp://127.0.0.1:5556}

pids=""
redis_local=""
pg_local=""
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/initdb" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# PostgreSQL refuses to run as root: run it as an unprivileged user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        u=postgres; id "$u" >/dev/null 2>&1 || u=nobody
        runuser -u "$u" -- "$@"
    else
        "$@"
    fi
}
pg_owner() { if [ "$(id -u)" = 0 ]; then id postgres >/dev/null 2>&1 && echo postgres || echo nobody; else id -un; fi; }

stopped=""
stop_all() {
    [ -z "$stopped" ] || return 0
    stopped=1
    trap '' INT TERM
    echo "hsn: stopping..." >&2
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    if [ -n "$pg_local" ]; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; fi
    if [ -n "$redis_local" ]; then redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
    echo "hsn: stopped" >&2
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

wait_for() { # wait_for SECONDS COMMAND...: poll until it succeeds
    n=$(( $1 * 10 )); shift
    while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; n=$((n - 1)); sleep 0.1; done
    return 1
}

if [ -z "${REDIS_URL:-}" ]; then
    mkdir -p "$RUN/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" \
        --appendonly yes --appendfsync always --save '' --daemonize no \
        --logfile "$RUN/log/redis.log" &
    pids="$pids $!"; redis_local=1
    wait_for 10 redis-cli -p "$REDIS_PORT" ping || { echo "hsn: redis did not start ($RUN/log/redis.log)" >&2; exit 1; }
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
fi

if [ -z "${DATABASE_URL:-}" ]; then
    PGDATA="$RUN/pg"
    owner=$(pg_owner)
    # The data must be reachable by the unprivileged owner; a checkout under
    # a private home directory is not, so fall back to a temp dir then.
    mkdir -p "$PGDATA" && chown "$owner" "$PGDATA" 2>/dev/null || true
    if ! as_pg test -w "$PGDATA"; then
        PGDATA="${TMPDIR:-/tmp}/hsn-run-pg"; mkdir -p "$PGDATA"; chown "$owner" "$PGDATA"
    fi
    chmod 700 "$PGDATA"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        as_pg "$PGBIN/initdb" -D "$PGDATA" -U hsn -A trust -E UTF8 --locale=C >"$RUN/log/initdb.log" 2>&1 \
            || { echo "hsn: initdb failed ($RUN/log/initdb.log)" >&2; exit 1; }
    fi
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$PGDATA/postgres.log" \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGDATA" start >/dev/null \
        || { echo "hsn: postgres did not start ($PGDATA/postgres.log)" >&2; exit 1; }
    pg_local=1
    psql -h 127.0.0.1 -p "$PG_PORT" -U hsn -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='hsn'" | grep -q 1 \
        || psql -h 127.0.0.1 -p "$PG_PORT" -U hsn -d postgres -qc "CREATE DATABASE hsn"
    export DATABASE_URL="postgresql://hsn@127.0.0.1:$PG_PORT/hsn"
    # The demo schema the named queries use (idempotent).
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U hsn -d hsn -f deploy/docker/initdb/01-schema.sql >/dev/null \
        || { echo "hsn: loading the demo schema failed" >&2; exit 1; }
fi
export QUERIES_FILE=${QUERIES_FILE:-$(pwd)/deploy/queries.sql}

start() { # start NAME: one replica; its JSON log lines go to the terminal
    "$BIN/hsn-$1" &
    pids="$pids $!"
}
start gateway
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/" \
    || { echo "hsn: the gateway did not start" >&2; exit 1; }
start monitor
start cache
start query
start agent-bus
echo "hsn: up on http://localhost:$GATEWAY_PORT  (Ctrl-C stops)" >&2
echo "hsn: try  curl -X PUT localhost:$GATEWAY_PORT/api/cache/demo/hello -d '{\"hi\":1}'" >&2
wait
