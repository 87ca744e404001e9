#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for tests.
#   eval "$(scripts/postgres.sh start)"   # exports LASTMILE_TEST_POSTGRES_URL and LASTMILE_PG_DIR
#   scripts/postgres.sh stop "$LASTMILE_PG_DIR"
# The cluster listens on a unix socket only, in a fresh temporary directory.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/initdb" ]] || { echo "PostgreSQL server binaries not found; run scripts/install-deps.sh" >&2; exit 1; }

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/lastmile-pg.XXXXXX)
    chmod 755 "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir"
    port=$((20000 + RANDOM % 20000))
    as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-k $dir -p $port -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null
    echo "export LASTMILE_PG_DIR=$dir"
    echo "export LASTMILE_TEST_POSTGRES_URL='postgres://postgres@${dir//\//%2F}:$port/postgres'"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
