#!/bin/sh
# Like the official redis image's entrypoint: options alone mean redis-server;
# as root, fix /data's owner and drop to user redis.
set -e
case "${1:-}" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "${1:-}" = redis-server ]; then
    shift
    # The official image builds redis with protected mode off; Debian's is on,
    # which would refuse every client from another container.
    if [ -n "${1:-}" ] && [ "${1#-}" = "$1" ]; then
        conf=$1; shift
        set -- redis-server "$conf" --protected-mode no "$@"
    else
        set -- redis-server --protected-mode no "$@"
    fi
    if [ "$(id -u)" = 0 ]; then
        chown -R redis:redis /data 2>/dev/null || true
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
