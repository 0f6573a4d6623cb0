#!/usr/bin/env bash
# Run a command with the services the test suite needs, on 127.0.0.1 only:
# a throw-away PostgreSQL cluster on a free port (stopped on exit, also when the
# command fails) and Debian's Chromium for the browser tests. Installs the Debian
# packages on first use. Usage: scripts/test-services.sh COMMAND [ARG...]
set -euo pipefail

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-services: missing Debian packages ${need_apt[*]}; install them as root:" >&2
    echo "  apt-get install -y ${need_apt[*]}" >&2
    exit 2
  fi
  echo "test-services: installing ${need_apt[*]} (Debian packages)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d /tmp/paceline-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$pg_dir"
  as_pg=(runuser -u postgres --)
fi

stop_pg() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_pg EXIT

"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U paceline --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$pg_dir/server.log" >&2; exit 1; }
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U paceline paceline_test

export PACELINE_TEST_POSTGRES_URL="postgresql+psycopg://paceline@127.0.0.1:$port/paceline_test"
echo "test-services: PostgreSQL on 127.0.0.1:$port, Chromium at /usr/bin/chromium" >&2
"$@"
