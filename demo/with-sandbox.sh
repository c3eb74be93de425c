#!/usr/bin/env bash
# Run a command next to a fresh local 360dialog sandbox.
#
#   demo/with-sandbox.sh CMD [ARGS...]
#
# Builds the `wa360` CLI (debug) unless WA360_SKIP_BUILD=1, starts
# `wa360 sandbox --allow-http-callbacks` on a random 127.0.0.1 port, exports
#   WA360_BASE_URL  the sandbox URL (use it as the client's base URL)
#   D360_API_KEY    the sandbox's API key
#   WA360_BIN       the path of the wa360 binary (e.g. for `$WA360_BIN webhook set … --allow-local-http`)
# runs CMD, then stops the sandbox. The exit code is CMD's. Nothing is left running.
# WA360_TIME_SCALE (default 0.2) compresses the sandbox's delays.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BIN=${WA360_BIN:-$TARGET_DIR/debug/wa360}
# shellcheck source=demo/lib.sh
. "$ROOT/demo/lib.sh"

if [ $# -eq 0 ]; then
  echo "usage: demo/with-sandbox.sh CMD [ARGS...]" >&2
  exit 2
fi
if [ "${WA360_SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && ${CARGO:-cargo} build -q -p wa360-cli)
fi
if [ ! -x "$BIN" ]; then
  echo "with-sandbox: $BIN not found (build with: cargo build -p wa360-cli)" >&2
  exit 1
fi

SANDBOX_PID=""
demo_tmp wa360-sandbox SANDBOX_PID
trap 'exit 130' INT
trap 'exit 143' TERM

"$BIN" sandbox --allow-http-callbacks --time-scale "${WA360_TIME_SCALE:-0.2}" \
  --env-file "$TMP/env" >"$TMP/sandbox.log" 2>&1 &
SANDBOX_PID=$!

for _ in $(seq 1 100); do
  [ -f "$TMP/env" ] && break
  if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
    echo "with-sandbox: the sandbox did not start:" >&2
    cat "$TMP/sandbox.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -f "$TMP/env" ]; then
  echo "with-sandbox: the sandbox did not report its address within 10 s" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1091
. "$TMP/env"
set +a
export WA360_BIN="$BIN"
echo "== sandbox at $WA360_BASE_URL (pid $SANDBOX_PID)"

set +e
"$@"
rc=$?
set -e
exit $rc
