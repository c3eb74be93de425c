#!/usr/bin/env bash
# The Rust echo bot on the sandbox (run through demo/with-sandbox.sh):
# start a webhook receiver, register it with Basic auth, simulate an inbound
# message, let the bot reply through the client, and print the exchange up to
# the reply's `read` status.
set -euo pipefail
: "${WA360_BIN:?run me through demo/with-sandbox.sh}"
# shellcheck source=demo/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RX_PID=""
demo_tmp wa360-demo RX_PID

USER_PASS="demo:$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

echo "== 1. start the webhook receiver (Rust echo bot: verify Basic auth, parse, reply)"
"$WA360_BIN" demo-receiver --basic-auth "$USER_PASS" --ready-file "$TMP/url" \
  --exit-after-read --max-seconds 30 &
RX_PID=$!
for _ in $(seq 1 100); do [ -f "$TMP/url" ] && break; sleep 0.1; done
[ -f "$TMP/url" ] || { echo "demo: the receiver did not start" >&2; exit 1; }
HOOK_URL=$(cat "$TMP/url")

echo "== 2. register it as the phone-number webhook (Basic auth header)"
"$WA360_BIN" webhook set "$HOOK_URL" --basic-auth "$USER_PASS" --allow-local-http

echo "== 3. simulate an inbound WhatsApp message from +1 555 555 0123"
"$WA360_BIN" simulate-inbound --from 15555550123 --name "Maya" --text "Hi! Is my order 4471 on its way?"

echo "== 4. the bot marks it read and replies; statuses follow (sent, delivered, read)"
wait "$RX_PID"
RX_PID=""
echo "== done: inbound message answered, reply delivered and read"
