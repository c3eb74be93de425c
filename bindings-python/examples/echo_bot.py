"""The Python echo bot, end to end on the local sandbox (no API key, no internet).

1. A sandbox (the 360dialog emulator) starts in-process.
2. The FastAPI receiver of ``fastapi_app.py`` starts on 127.0.0.1 and is registered as the
   webhook, protected by Basic auth.
3. The sandbox delivers an inbound text message; the bot verifies, parses, answers 200 and,
   off the request path, marks it read and replies through ``AsyncClient``.
4. The sandbox delivers the reply's statuses (sent, delivered, read) back to the receiver.

Run: ``make demo-python`` (or ``python bindings-python/examples/echo_bot.py`` in the venv).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wa360  # noqa: E402
from fastapi_app import create_app  # noqa: E402
from wa360.testing import Sandbox, basic_auth_header  # noqa: E402

USER, PASSWORD = "echo-bot", "demo-webhook-password"
CUSTOMER = "15555550123"


def serve(app: object) -> tuple[uvicorn.Server, threading.Thread, int]:
    """Run ``app`` with uvicorn on a free 127.0.0.1 port in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return server, thread, port


def main() -> int:
    with Sandbox(time_scale=0.05) as sb:
        print(f"[sandbox]  360dialog emulator at {sb.url}")
        client = wa360.AsyncClient(sb.api_key, base_url=sb.url)
        app = create_app(client, verifier=wa360.Verifier(basic_auth=(USER, PASSWORD)))
        server, thread, port = serve(app)
        url = f"http://127.0.0.1:{port}/webhook"
        sb.register_webhook(url, headers=dict([basic_auth_header(USER, PASSWORD)]))
        print(f"[bot]      FastAPI receiver at {url} (Basic auth), registered as the webhook")

        (inbound_id,) = sb.inbound(
            {"from": CUSTOMER, "name": "Maya", "type": "text", "text": {"body": "Hello bot!"}}
        )
        print(f"[customer] {CUSTOMER} -> bot: 'Hello bot!'   ({inbound_id})")

        reply = sb.wait_for(
            lambda: [
                r
                for r in sb.requests(path="/messages")
                if r["status"] == 200 and (r["body"] or {}).get("type") == "text"
            ],
            timeout=10,
        )[0]
        handled = app.state.handled
        inbound_event = next(e for e in handled if isinstance(e, wa360.MessageEvent))
        print(
            f"[bot]      received {inbound_event!r} from {inbound_event.name!r}; "
            "answered 200, handled off the request path"
        )
        read_ack = sb.requests(path="/messages")[0]["body"]
        print(f"[bot]      marked read: {read_ack.get('status')} {read_ack.get('message_id')}")
        print(f"[bot]      -> {CUSTOMER}: {reply['body']['text']['body']!r}")

        def statuses() -> list[str] | None:
            got = [e.status or "" for e in handled if isinstance(e, wa360.StatusEvent)]
            return got if "read" in got else None

        for status in sb.wait_for(statuses, timeout=10):
            print(f"[sandbox]  status webhook -> bot: {status}")
        ok = sum(1 for d in sb.deliveries() if d["ok"])
        print(f"[sandbox]  {ok} webhook deliveries, every one answered 200")
        server.should_exit = True
        thread.join(timeout=5)
    print("echo bot demo: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
