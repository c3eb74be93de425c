#!/usr/bin/env bash
# make bench-client: the client's own CPU per message, Python and Node.
# The sandbox runs as its own release process (`wa360 sandbox`), pinned to the
# last core; the benchmark clients are pinned to core 0, so the two never share
# a core when the machine has two or more. Usage: bench/client.sh <wa360 binary>
# <python of bench/.venv> (NAPI_RS_NATIVE_LIBRARY_PATH names the release addon).
set -euo pipefail
bin=$1
py=$2
here=$(cd "$(dirname "$0")" && pwd)
cores=$(nproc)
pin_server=() pin_client=()
if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
  pin_server=(taskset -c "$((cores - 1))")
  pin_client=(taskset -c 0)
else
  echo "bench-client: one core (or no taskset): sandbox and clients share it; CPU per message still counts the client only"
fi
envfile=$(mktemp)
rm -f "$envfile"
"${pin_server[@]}" "$bin" sandbox --env-file "$envfile" >/dev/null &
sandbox=$!
trap 'kill "$sandbox" 2>/dev/null || true; wait "$sandbox" 2>/dev/null || true; rm -f "$envfile"' EXIT
for _ in $(seq 1 200); do [ -s "$envfile" ] && break; sleep 0.1; done
[ -s "$envfile" ] || { echo "bench-client: the sandbox did not start"; exit 1; }
set -a; . "$envfile"; set +a
(cd "$here/python" && "${pin_client[@]}" "$py" client_cost.py)
(cd "$here/node" && "${pin_client[@]}" node client_cost.mjs)
