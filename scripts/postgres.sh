#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the store's tests and prints its URL:
#
#   export VIGIL_TEST_POSTGRES_URL="$(scripts/postgres.sh [DIR])"
#
# The cluster lives in DIR (default target/postgres): data in DIR/data, the server log in
# DIR/server.log. It listens on 127.0.0.1 only, on 55432 or the next free port, with trust
# authentication, and with fsync and synchronous_commit on (vigil-store refuses anything
# weaker). Safe to run again: when the server is already up it only prints the URL. Stop it
# with `pg_ctl -D DIR/data stop` (as the user that owns DIR/data).
#
# PostgreSQL is installed from Debian packages when initdb/pg_ctl are missing. Postgres will
# not run as root, so as root the cluster belongs to a `vigil-pg` system user.
#
# The only line on stdout is the URL: everything else goes to stderr.
set -euo pipefail
exec 3>&1 1>&2

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:-$ROOT/target/postgres}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
DATA="$DIR/data"
LOG="$DIR/server.log"
ROLE=vigil        # the cluster's superuser, the user in the URL
DATABASE=vigil_test
FIRST_PORT=55432

need_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The directory holding initdb and pg_ctl: from PATH, else Debian's versioned directory
# (the newest), else installed now.
find_bindir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}
BIN=$(find_bindir || true)
if [ -z "$BIN" ]; then
  echo "postgres: installing PostgreSQL from Debian packages"
  need_root apt-get update -qq
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  BIN=$(find_bindir || true)
  [ -n "$BIN" ] || { echo "postgres: initdb/pg_ctl still not found after installing" >&2; exit 1; }
fi

# Server commands run as the cluster's owner: ourselves, or `vigil-pg` when we are root.
if [ "$(id -u)" -eq 0 ]; then
  OWNER=vigil-pg
  if ! id "$OWNER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OWNER"
  fi
  as_owner() { runuser -u "$OWNER" -- "$@"; }
  # Only the data directory and the log change hands; DIR itself stays as it is.
  mkdir -p "$DATA"
  touch "$LOG"
  chown "$OWNER" "$DATA" "$LOG"
  chmod 700 "$DATA"
  if ! as_owner test -w "$DATA"; then
    echo "postgres: user $OWNER cannot reach $DATA (a parent directory is not searchable)" >&2
    exit 1
  fi
else
  as_owner() { "$@"; }
fi

running() { as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# The first port from FIRST_PORT that nothing on loopback answers on.
free_port() {
  local port
  for port in $(seq "$FIRST_PORT" $((FIRST_PORT + 200))); do
    if ! (exec 4<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "postgres: no free port in $FIRST_PORT..$((FIRST_PORT + 200))" >&2
  exit 1
}

if [ ! -f "$DATA/PG_VERSION" ]; then
  # No cluster yet (or an initdb that failed half-way: initdb wants an empty directory).
  find "$DATA" -mindepth 1 -delete 2>/dev/null || true
  as_owner "$BIN/initdb" -D "$DATA" -U "$ROLE" --auth=trust --encoding=UTF8 --no-locale \
    >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  # TCP on loopback only (no Unix socket, whose default directory may not be writable), and
  # the durability settings the store checks, stated even though they are the defaults.
  as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<'EOF'

# scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
synchronous_commit = on
max_connections = 200
EOF
fi

if ! running; then
  PORT=$(free_port)
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $PORT" -w -t 60 start >/dev/null 3>&- \
    || { tail -n 30 "$LOG" >&2; exit 1; }
fi

# The running server's port, from its pid file (line 4), so a rerun finds it.
PORT=$(sed -n 4p "$DATA/postmaster.pid")

PSQL_BIN="$BIN/psql"
[ -x "$PSQL_BIN" ] || PSQL_BIN=psql
PSQL=("$PSQL_BIN" -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -v ON_ERROR_STOP=1)
if [ -z "$("${PSQL[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
  "${PSQL[@]}" -c "CREATE DATABASE $DATABASE"
fi

echo "postgres://$ROLE@127.0.0.1:$PORT/$DATABASE" >&3
