"""Webhook receipt through the example apps: the FastAPI example served by uvicorn with the
sandbox delivering over real HTTP, and the Flask example through its test client."""

from __future__ import annotations

import base64
import io
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
    def __init__(self, app: Any, lifespan: str = "off") -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
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

    receiver = WebhookReceiver(slow, insecure_skip_verify=True)
    code, _ = receiver.handle({}, status("wamid.S", "delivered"))
    assert code == 200 and seen == []  # answered while the callback is still blocked
    release.set()
    assert receiver.join(timeout=5)
    assert seen == ["status"]


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: WebhookReceiver(lambda events: None, **kw),
        lambda **kw: wa360.receivers.starlette_endpoint(lambda events: None, **kw),
        lambda **kw: wa360.receivers.fastapi_router(lambda events: None, **kw),
        lambda **kw: wa360.receivers.flask_view(lambda events: None, **kw),
        lambda **kw: wa360.receivers.flask_blueprint(lambda events: None, **kw),
    ],
)
def test_a_receiver_without_a_verifier_refuses_to_start_unless_told(make: Any) -> None:
    # A forgotten verifier must not leave an endpoint that takes anyone's deliveries
    # (the Node receiver refuses the same way).
    for kw in ({}, {"verifier": None}, {"insecure_skip_verify": False}, {"dedupe": False}):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            make(**kw)
        assert e.value.field == "verifier", e.value
    with pytest.raises(wa360.InvalidArgumentError) as e:
        make(insecure_skip_verify="yes")
    assert e.value.field == "insecure_skip_verify"
    with pytest.raises(wa360.InvalidArgumentError) as e:
        make(verifier=("user", "pass"))
    assert e.value.field == "verifier"
    # Told explicitly, it takes unauthenticated deliveries; with a verifier, it checks them.
    made = make(insecure_skip_verify=True)
    open_receiver = made if isinstance(made, WebhookReceiver) else made.receiver
    assert open_receiver.accept({}, status("wamid.V1", "sent"))[0] == 200
    checked = WebhookReceiver(lambda events: None, verifier=wa360.Verifier(basic_auth=("u", "p")))
    assert checked.accept({}, status("wamid.V2", "sent"))[0] == 401


def test_hub_challenge_handshake() -> None:
    receiver = WebhookReceiver(lambda events: None, verify_token="tok", insecure_skip_verify=True)
    assert receiver.challenge("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=42") == (
        200,
        b"42",
    )
    assert receiver.challenge("hub.mode=subscribe&hub.verify_token=no&hub.challenge=42")[0] == 403


def _peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _raw_post(port: int, head: str, body: bytes, wait: float) -> bytes:
    """Send a request head and part of a body, then read what comes back within `wait`."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


def test_starlette_endpoint_answers_before_a_body_it_would_refuse_and_times_out_a_stalled_one() -> (
    None
):
    # Wrong credentials, or a declared length over the limit: answered from the headers,
    # never waiting for a body the sender may never send. A body that stalls (a signature
    # check needs it) is answered 408 after the body_timeout.
    from starlette.applications import Starlette
    from starlette.routing import Route

    basic = wa360.receivers.starlette_endpoint(
        lambda events: None, verifier=wa360.Verifier(basic_auth=("u", "p"))
    )
    signed = wa360.receivers.starlette_endpoint(
        lambda events: None, verifier=wa360.Verifier(app_secret="s3cret"), body_timeout=0.5
    )
    served = Served(
        Starlette(
            routes=[
                Route("/basic", basic, methods=["POST"]),
                Route("/signed", signed, methods=["POST"]),
            ]
        )
    )
    good = "Authorization: Basic " + base64.b64encode(b"u:p").decode()
    try:
        # Wrong credentials with a partial body; a declared 10 GB; a length past 64 bits.
        for head, body, status in [
            ("Content-Length: 1000\r\nAuthorization: Basic eDp5", b"{", b"401"),
            (f"Content-Length: 10000000000\r\n{good}", b"", b"413"),
            # (the server itself may refuse that length first: any 4xx, never a 500)
            (f"Content-Length: {'9' * 25}\r\n{good}", b"", b"4"),
        ]:
            got = _raw_post(served.port, f"POST /basic HTTP/1.1\r\nHost: x\r\n{head}\r\n", body, 5)
            assert got.startswith(b"HTTP/1.1 " + status), (head, got)
        t0 = time.monotonic()
        stalled = _raw_post(
            served.port,
            "POST /signed HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n",
            b"{",
            wait=5,
        )
        assert stalled.startswith(b"HTTP/1.1 408"), stalled
        assert time.monotonic() - t0 < 4
    finally:
        served.stop()
    assert basic.metrics()["deliveries"].get("401") == 1
    # A length past any integer type is over the limit too, not an OverflowError.
    assert basic.receiver.precheck([], "9" * 25) == (413, b"payload too large")


def test_flask_view_answers_from_the_headers_without_reading_the_body() -> None:
    from flask import Flask

    class Unreadable(io.BytesIO):
        def read(self, *_: Any) -> bytes:
            raise AssertionError("the body was read")

    app = Flask(__name__)
    view = wa360.receivers.flask_view(
        lambda events: None, verifier=wa360.Verifier(basic_auth=("u", "p"))
    )
    app.add_url_rule("/webhook", view_func=view, methods=["POST"])
    http = app.test_client()
    r = http.post("/webhook", input_stream=Unreadable(), headers={"Content-Length": "10"})
    assert r.status_code == 401
    good = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
    r = http.post(
        "/webhook", data=b"{}", headers=good, environ_overrides={"CONTENT_LENGTH": str(1 << 30)}
    )
    assert r.status_code == 413


def test_starlette_endpoint_refuses_a_huge_upload_without_holding_it() -> None:
    # 256 MiB streamed (chunked, no Content-Length) at a receiver with the 1 MiB default:
    # 413 after reading just past the limit, the upload never held in this process.
    from starlette.applications import Starlette
    from starlette.routing import Route

    endpoint = wa360.receivers.starlette_endpoint(
        lambda events: None, dedupe=False, insecure_skip_verify=True
    )
    served = Served(Starlette(routes=[Route("/webhook", endpoint, methods=["POST"])]))
    chunk = b"\0" * (1 << 20)

    def upload() -> Iterator[bytes]:
        for _ in range(256):
            yield chunk

    # The peak only grows: start it from the present size (writing 5 to clear_refs resets it).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _peak_rss_bytes()
    try:
        try:
            r = httpx.post(f"http://127.0.0.1:{served.port}/webhook", content=upload(), timeout=30)
            assert r.status_code == 413, r.text
        except httpx.TransportError:
            pass  # the server answered and closed while the upload was still going
        deadline = time.monotonic() + 10
        while endpoint.metrics()["deliveries"].get("413") != 1:
            assert time.monotonic() < deadline, endpoint.metrics()
            time.sleep(0.01)
    finally:
        served.stop()
    assert _peak_rss_bytes() - before < 64 << 20


def test_flask_view_reads_no_more_than_the_limit_of_a_huge_body() -> None:
    import io

    from flask import Flask

    class Endless(io.RawIOBase):
        """A 1 GiB body made on demand, counting what the server reads."""

        size = 1 << 30

        def __init__(self) -> None:
            self.pos = 0
            self.read_bytes = 0

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def seek(self, offset: int, whence: int = 0) -> int:
            self.pos = [offset, self.pos + offset, self.size + offset][whence]
            return self.pos

        def tell(self) -> int:
            return self.pos

        def readinto(self, b: Any) -> int:
            n = min(len(b), self.size - self.pos)
            b[:n] = b"\0" * n
            self.pos += n
            self.read_bytes += n
            return n

    app = Flask(__name__)
    view = wa360.receivers.flask_view(
        lambda events: None, dedupe=False, max_bytes=4096, insecure_skip_verify=True
    )
    app.add_url_rule("/webhook", view_func=view, methods=["POST"])
    body = Endless()
    r = app.test_client().post("/webhook", input_stream=body)
    assert r.status_code == 413
    assert body.read_bytes <= 4096 + 1 + (1 << 16), body.read_bytes


def test_flask_view_reads_a_body_a_before_request_hook_already_read() -> None:
    from flask import Flask

    app = Flask(__name__)
    seen: list[bytes] = []
    app.before_request(lambda: seen.append(__import__("flask").request.get_data()) and None)
    view = wa360.receivers.flask_view(lambda events: None, dedupe=False, insecure_skip_verify=True)
    app.add_url_rule("/webhook", view_func=view, methods=["POST"])
    body = inbound_text(TO, "hi", "wamid.HOOK")
    r = app.test_client().post("/webhook", data=body)
    assert seen == [body]
    assert r.status_code == 200, r.data


def test_head_and_other_methods_get_405_not_a_failed_verification() -> None:
    # Starlette and Flask add HEAD to GET routes: a health probe's HEAD used to run as a POST
    # (401, a "verification failed" warning, a 401 in the metrics).
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.routing import Route

    verifier = wa360.Verifier(basic_auth=(USER, PASSWORD))
    endpoint = wa360.receivers.starlette_endpoint(lambda events: None, verifier=verifier)
    served = Served(Starlette(routes=[Route("/webhook", endpoint, methods=["GET", "POST", "PUT"])]))
    try:
        url = f"http://127.0.0.1:{served.port}/webhook"
        for method in ("HEAD", "PUT"):
            assert httpx.request(method, url, timeout=10).status_code == 405, method
    finally:
        served.stop()
    assert "401" not in endpoint.metrics()["deliveries"], endpoint.metrics()

    app = Flask(__name__)
    view = wa360.receivers.flask_view(lambda events: None, verifier=verifier)
    app.add_url_rule("/webhook", view_func=view, methods=["GET", "POST", "PUT"])
    http = app.test_client()
    assert http.head("/webhook").status_code == 405
    assert http.put("/webhook", data=b"{}").status_code == 405
    assert "401" not in view.metrics()["deliveries"], view.metrics()
    # OPTIONS too, as from the other receivers: Flask answered it 200 on its own.
    assert http.options("/webhook").status_code == 405
    app = Flask(__name__)
    bp = wa360.receivers.flask_blueprint(lambda events: None, verifier=verifier)
    app.register_blueprint(bp)
    http = app.test_client()
    assert http.options("/webhook").status_code == 405
    # The helpers route every method to the receiver: its 405 is counted, as Express and
    # Fastify count theirs (the framework's own 405 was not).
    assert http.put("/webhook").status_code == 405
    assert http.delete("/webhook").status_code == 405
    assert bp.metrics()["deliveries"] == {"405": 3}, bp.metrics()  # type: ignore[attr-defined]
    router = wa360.receivers.fastapi_router(lambda events: None, verifier=verifier)
    served = Served(_fastapi_app(router))
    try:
        url = f"http://127.0.0.1:{served.port}/webhook"
        for method in ("PUT", "DELETE", "PATCH"):
            assert httpx.request(method, url, timeout=10).status_code == 405, method
    finally:
        served.stop()
    assert router.metrics()["deliveries"] == {"405": 3}, router.metrics()  # type: ignore[attr-defined]


def _fastapi_app(router: Any) -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.include_router(router)
    return app


def test_a_starlette_app_with_the_receivers_lifespan_handles_a_stored_backlog_at_start(
    tmp_path: Path,
) -> None:
    # The recipe of docs/receiving.md for plain Starlette: events stored before the server
    # started are handled when it starts (no new delivery needed), and shutdown closes the
    # consumers (nothing left held).
    from starlette.applications import Starlette
    from starlette.routing import Route

    url = f"sqlite://{tmp_path / 'inbox.db'}"
    stored = WebhookReceiver(
        lambda events: None, inbox=url, start_consumers=False, insecure_skip_verify=True
    )
    assert stored.accept({}, inbound_text(TO, "waiting", "wamid.B1"))[0] == 200

    seen: list[str] = []

    async def on_events(events: list[wa360.Event]) -> None:
        seen.extend(str(getattr(e, "id", "")) for e in events)

    endpoint = wa360.receivers.starlette_endpoint(on_events, inbox=url, insecure_skip_verify=True)
    app = Starlette(
        routes=[Route("/webhook", endpoint, methods=["GET", "POST"])],
        lifespan=endpoint.receiver.lifespan,
    )
    served = Served(app, lifespan="on")
    try:
        deadline = time.monotonic() + 10
        while seen != ["wamid.B1"]:
            assert time.monotonic() < deadline, seen
            time.sleep(0.02)
    finally:
        served.stop()
    stats = wa360.Inbox(url).stats()
    assert (stats["ready"], stats["in_flight"], stats["handled"]) == (0, 0, 1), stats
