#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the control plane's tests.
#   postgres.sh start   initdb (once) and start it in $EDGEFLAG_PG_DIR
#   postgres.sh env     print `export EDGEFLAG_TEST_POSTGRES_URL=…`
#   postgres.sh stop    stop it
# Debian's server refuses to run as root, so as root it runs as `postgres`.
set -euo pipefail
dir="${EDGEFLAG_PG_DIR:-/tmp/edgeflag-pg}"
port="${EDGEFLAG_PG_PORT:-55432}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
[ -n "$bin" ] || { echo "postgres.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir/data" -A trust -U edgeflag >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
        -l "$dir/log" start >/dev/null
    fi
    echo "postgres on 127.0.0.1:$port ($dir)"
    ;;
  env) echo "export EDGEFLAG_TEST_POSTGRES_URL=postgres://edgeflag@127.0.0.1:$port/postgres" ;;
  stop) as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true ;;
  *) echo "usage: postgres.sh start|env|stop" >&2; exit 2 ;;
esac
