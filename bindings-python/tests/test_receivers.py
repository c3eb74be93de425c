"""Webhook receipt through the example apps: the FastAPI example served by uvicorn with the
sandbox delivering over real HTTP, and the Flask example through its test client."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import wa360
from wa360.receivers import WebhookReceiver
from wa360.testing import Sandbox, basic_auth_header, inbound_text, signed_headers, status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import fastapi_app  # noqa: E402
import flask_app  # noqa: E402

USER, PASSWORD = "hook", "pa55-word"
TO = "15555550123"


class Served:
    def __init__(self, app: Any) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture
def fastapi_bot(sb: Sandbox) -> Iterator[tuple[Any, str]]:
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url)
    app = fastapi_app.create_app(client, verifier=wa360.Verifier(basic_auth=(USER, PASSWORD)))
    served = Served(app)
    url = f"http://127.0.0.1:{served.port}/webhook"
    try:
        yield app, url
    finally:
        served.stop()


def test_fastapi_example_receives_sandbox_deliveries_and_replies(
    sb: Sandbox, fastapi_bot: tuple[Any, str]
) -> None:
    app, url = fastapi_bot
    sb.register_webhook(url, headers=dict([basic_auth_header(USER, PASSWORD)]))
    (wamid,) = sb.inbound({"from": TO, "name": "Maya", "type": "text", "text": {"body": "hi"}})

    # The bot marks the message read and replies through AsyncClient.
    def reply() -> list[dict[str, Any]]:
        return [r for r in sb.requests(path="/messages") if (r["body"] or {}).get("type") == "text"]

    (sent,) = sb.wait_for(reply)
    assert sent["body"]["text"]["body"] == "You said: hi"
    assert sent["body"]["context"]["message_id"] == wamid
    read = [r for r in sb.requests(path="/messages") if (r["body"] or {}).get("status")]
    assert read[0]["body"]["message_id"] == wamid

    # The reply's statuses come back through the same receiver, in order, folded.
    def statuses() -> list[str] | None:
        got = [e.status for e in app.state.handled if isinstance(e, wa360.StatusEvent)]
        return got if "read" in got else None

    assert sb.wait_for(statuses) == ["sent", "delivered", "read"]
    message = next(e for e in app.state.handled if isinstance(e, wa360.MessageEvent))
    assert (message.id, message.from_, message.text, message.name) == (wamid, TO, "hi", "Maya")
    # Every delivery was answered 200 (none timed out or failed auth).
    assert all(d["ok"] and d["status"] == 200 for d in sb.deliveries())


def test_fastapi_receiver_rejects_unauthenticated_and_malformed(
    fastapi_bot: tuple[Any, str],
) -> None:
    app, url = fastapi_bot
    body = inbound_text(TO, "forged", "wamid.FORGED")
    assert httpx.post(url, content=body).status_code == 401
    wrong = dict([basic_auth_header(USER, "wrong")])
    assert httpx.post(url, content=body, headers=wrong).status_code == 401
    good = dict([basic_auth_header(USER, PASSWORD)])
    assert httpx.post(url, content=b"{not json", headers=good).status_code == 400
    time.sleep(0.1)
    assert app.state.handled == []
    # GET without a configured verify token: no handshake.
    assert httpx.get(url).status_code == 405


def test_flask_example_answers_at_once_and_handles_off_the_request_path() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        def mark_read(self, message_id: str) -> None:
            self.sent.append(("read", message_id))

        def send_text(self, to: str, body: str, **kw: Any) -> None:
            self.sent.append((to, body))

    rec = Recorder()
    app = flask_app.create_app(rec, verifier=wa360.Verifier(app_secret="s3cret"))  # type: ignore[arg-type]
    http = app.test_client()
    body = inbound_text(TO, "ping", "wamid.F1")
    assert http.post("/webhook", data=body).status_code == 401
    r = http.post("/webhook", data=body, headers=signed_headers("s3cret", body))
    assert r.status_code == 200
    # Redelivery of the same message is dropped by the receiver's dedupe.
    assert (
        http.post("/webhook", data=body, headers=signed_headers("s3cret", body)).status_code == 200
    )
    receiver: WebhookReceiver = app.blueprints["wa360_webhook"].receiver  # type: ignore[attr-defined]
    assert receiver.join(timeout=5)
    assert rec.sent == [("read", "wamid.F1"), (TO, "You said: ping")]
    assert [e.id for e in app.config["WA360_HANDLED"]] == ["wamid.F1"]


def test_receiver_hands_off_without_waiting_for_the_callback() -> None:
    release = threading.Event()
    seen: list[str] = []

    def slow(events: list[wa360.Event]) -> None:
        release.wait(5)
        seen.extend(e.kind for e in events)

    receiver = WebhookReceiver(slow)
    code, _ = receiver.handle({}, status("wamid.S", "delivered"))
    assert code == 200 and seen == []  # answered while the callback is still blocked
    release.set()
    assert receiver.join(timeout=5)
    assert seen == ["status"]


def test_hub_challenge_handshake() -> None:
    receiver = WebhookReceiver(lambda events: None, verify_token="tok")
    assert receiver.challenge("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=42") == (
        200,
        b"42",
    )
    assert receiver.challenge("hub.mode=subscribe&hub.verify_token=no&hub.challenge=42")[0] == 403
