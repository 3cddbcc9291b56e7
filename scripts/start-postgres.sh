#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL built from the local binaries:
#   scripts/start-postgres.sh npm test
# The server lives in a temporary directory on a random loopback port, with
# durability switched off (tests only), and is removed when the command ends.
# DATABASE_URL, PGHOST, PGPORT and PGUSER are exported to the command; its exit
# status is this script's.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

find_bindir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir)
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
  fi
  # Debian keeps the server binaries off PATH; take the newest version.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
  done
  return 1
}

bindir=$(find_bindir) || { echo "$0: initdb/pg_ctl not found (PATH, pg_config --bindir, /usr/lib/postgresql/*/bin)" >&2; exit 1; }

# initdb refuses to run as root: run the server as an unprivileged user.
as_server=()
if [ "$(id -u)" -eq 0 ]; then
  server_user=postgres
  id -u "$server_user" >/dev/null 2>&1 || server_user=nobody
  as_server=(runuser -u "$server_user" --)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/drizzle-kv-pg.XXXXXX")
[ "${#as_server[@]}" -eq 0 ] || chown "$server_user" "$tmp"
caller_dir=$PWD

cleanup() {
  local status=$?
  if [ -f "$tmp/data/postmaster.pid" ]; then
    (cd "$tmp" && "${as_server[@]}" "$bindir/pg_ctl" -D "$tmp/data" stop -m immediate >/dev/null 2>&1) || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
# bash runs this on SIGTERM and SIGHUP too; a trap for those would wait for
# the command to finish first. SIGKILL skips it and leaves the server running.
trap cleanup EXIT

# The server user may not be able to read the caller's directory.
cd "$tmp"
"${as_server[@]}" "$bindir/initdb" -D "$tmp/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C \
  >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }

port=
for _ in 1 2 3 4 5 6 7 8; do
  candidate=$((20000 + RANDOM % 40000))
  # A port someone else took makes pg_ctl fail; try another.
  if "${as_server[@]}" "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 start \
    -o "-c listen_addresses=127.0.0.1 -p $candidate -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null 2>&1; then
    port=$candidate
    break
  fi
done
if [ -z "$port" ]; then
  echo "$0: PostgreSQL did not start on any of 8 random ports; server log:" >&2
  cat "$tmp/server.log" >&2 2>/dev/null || true
  exit 1
fi

if [ -x "$bindir/pg_isready" ] || command -v pg_isready >/dev/null 2>&1; then
  isready=$bindir/pg_isready
  [ -x "$isready" ] || isready=pg_isready
  "$isready" -q -h 127.0.0.1 -p "$port" -t 10 || { echo "$0: PostgreSQL on port $port is not ready" >&2; exit 1; }
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
cd "$caller_dir"
# Not exec: the EXIT trap must run after the command to stop the server.
set +e
"$@"
status=$?
set -e
exit "$status"
