#!/usr/bin/env bash
# Receiver load test (make bench-receiver): the FastAPI and Express receivers,
# pywa's own FastAPI handling of the same bodies (its route requires the
# signature header, sent unchecked), and each wa360 receiver without and with
# the SQLite inbox (and the Redis inbox when WA360_TEST_REDIS_URL is set),
# at a fixed rate of distinct
# deliveries; prints deliveries/s and p50 / p99 acknowledgement latency.
# Usage: bench.sh WA360_BIN PYTHON NODE_ADDON [RATE] [SECONDS]
set -euo pipefail
BIN=$1 PY=$2 ADDON=$3 RATE=${4:-1000} SECONDS_=${5:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$1/webhook"; then return 0; fi
    sleep 0.1
  done
  echo "receiver on port $1 did not start" >&2; return 1
}

run_one() { # label kind inbox-url [extra bench-receiver args]
  local label=$1 kind=$2 inbox=$3 port pid
  shift 3
  port=$(free_port)
  if [ "$kind" = fastapi ]; then
    INBOX_URL=$inbox "$PY" -m uvicorn --app-dir "$HERE" fastapi_app:app --port "$port" --log-level warning &
  elif [ "$kind" = pywa ]; then
    "$PY" -m uvicorn --app-dir "$HERE" pywa_app:app --port "$port" --log-level warning &
  else
    INBOX_URL=$inbox PORT=$port NAPI_RS_NATIVE_LIBRARY_PATH=$ADDON node "$HERE/express_app.js" >/dev/null &
  fi
  pid=$!
  wait_up "$port"
  # Warm up, then measure.
  "$BIN" bench-receiver --url "http://127.0.0.1:$port/webhook" --basic-auth hook:pa55-word "$@" --rate 200 --seconds 1 >/dev/null
  "$BIN" bench-receiver --url "http://127.0.0.1:$port/webhook" --basic-auth hook:pa55-word "$@" \
    --rate "$RATE" --seconds "$SECONDS_" --label "$label" >> "$TMP/results.jsonl"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_one "FastAPI (uvicorn, 1 worker), no inbox" fastapi ""
run_one "FastAPI (uvicorn, 1 worker), SQLite inbox" fastapi "sqlite://$TMP/py-inbox.db"
run_one "pywa's own FastAPI handling (uvicorn, 1 worker, in-memory dedupe, no auth)" pywa "" \
  --header "x-hub-signature-256: sha256=unchecked"
run_one "Express, no inbox" express ""
run_one "Express, SQLite inbox" express "sqlite://$TMP/node-inbox.db"
# With a real redis-server (make bench-receiver runs this script under tests/redis/with-redis.sh).
if [ -n "${WA360_TEST_REDIS_URL:-}" ]; then
  run_one "FastAPI (uvicorn, 1 worker), Redis inbox" fastapi "$WA360_TEST_REDIS_URL?name=bench-py-$$"
  run_one "Express, Redis inbox" express "$WA360_TEST_REDIS_URL?name=bench-node-$$"
fi

echo
echo "Receiver load test: $RATE distinct deliveries/s for $SECONDS_ s (Basic auth, no-op handler; latency from each delivery's scheduled send time)"
# Into bench/results.json (section "receiver"), which bench/report.py renders into the README.
"$PY" - "$TMP/results.jsonl" "$RATE" "$SECONDS_" "$HERE/../python" <<'PYEOF'
import json, sys
sys.path.insert(0, sys.argv[4])
from results import save_section
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| receiver | deliveries/s | p50 ack | p99 ack | errors |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {r['label']} | {r['achieved_per_s']:.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['errors']} |")
import os
load = [round(x, 2) for x in os.getloadavg()]
save_section("receiver", {"rate_per_s": int(sys.argv[2]), "seconds": float(sys.argv[3]),
                          "cores": os.cpu_count(), "load_average_1_5_15": load, "rows": rows})
PYEOF
