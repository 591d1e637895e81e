#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback: .ci/postgres.sh start|resume|stop DIR PORT
#   start   a new, empty cluster in DIR (whatever DIR held is removed first)
#   resume  the cluster an earlier run left in DIR, data kept (a seeded benchmark database, say)
#   stop    stop it (the data stays until the next start)
set -euo pipefail
action=$1 dir=$2 port=$3
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() {
  # From /, since the postgres user may not be allowed into the checkout's folder.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
serve() {
  as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c max_connections=200" start >/dev/null
}
case $action in
  start)
    if [ -f "$dir/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      echo "PostgreSQL already running on port $port"; exit 0
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    serve
    echo "PostgreSQL started on 127.0.0.1:$port"
    ;;
  resume)
    if [ ! -f "$dir/PG_VERSION" ]; then
      echo "No PostgreSQL cluster in $dir to resume: use start for a new one" >&2; exit 1
    fi
    if as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      echo "PostgreSQL already running in $dir"; exit 0
    fi
    serve
    echo "PostgreSQL resumed on 127.0.0.1:$port, data kept"
    ;;
  stop)
    as_postgres "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|resume|stop DIR PORT" >&2; exit 2
    ;;
esac
