"""Secrets never reach logs: with every wa360 logger at TRACE, sends, a retry, faults, webhook
registration and real webhook deliveries (verified, parsed) leave neither the API key, nor the
Basic auth password, nor the app secret, in clear or base64, in any log record, error text or
repr."""

from __future__ import annotations

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import wa360
from wa360.receivers import WebhookReceiver
from wa360.testing import Sandbox, basic_auth_header, signed_headers

API_KEY = "SentinelKey-7f3a9c2e1b"
HOOK_USER = "hookuser"
HOOK_PASS = "SentinelPass-51d0e2a8"
APP_SECRET = "SentinelApp-9b8c4d6f3e"


def leak_forms(secret: str) -> list[str]:
    """The secret and its base64 (standard, URL-safe) at each of the three byte alignments."""
    forms = [secret]
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        for k, skip in ((0, 0), (1, 2), (2, 3)):
            text = enc(b"\0" * k + secret.encode()).decode().rstrip("=")
            forms.append(text[skip:-2])
    return forms


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=1)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(f"{record.name} {record.getMessage()} {record.__dict__!r}")


def test_secrets_never_appear_at_trace() -> None:
    handler = Everything()
    root = logging.getLogger("wa360")
    root.addHandler(handler)
    root.setLevel(wa360._logging.TRACE)
    seen: list[str] = []
    got: list[tuple[dict[str, str], bytes]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Sandbox(api_key=API_KEY, time_scale=0.01) as sb:
            client = wa360.Client(API_KEY, base_url=sb.url, max_retries=2, timeout=5.0)
            seen.append(repr(client))
            # Registration through the client carries the credentials in the request body.
            client.set_webhook(
                "https://hooks.example.com/wa",
                headers=dict([basic_auth_header(HOOK_USER, HOOK_PASS)]),
            )
            seen.append(repr(client.get_webhook()))
            sb.register_webhook(
                f"http://127.0.0.1:{server.server_port}/hook",
                headers=dict([basic_auth_header(HOOK_USER, HOOK_PASS)]),
            )
            client.send_text("15555550123", "hello")
            sb.fault("rate_limit", retry_after=0)
            client.send_text("15555550123", "after a retry")
            for kind, params in (
                ("meta_error", {"code": 131047}),
                ("html", {"status": 502}),
                ("reset_after_body", {}),
                ("malformed_json", {}),
            ):
                sb.fault(kind, **params)
                with pytest.raises(wa360.Wa360Error) as info:
                    client.send_text("15555550123", "fault")
                seen += [str(info.value), repr(info.value), repr(info.value.args)]
            wrong = wa360.Client(API_KEY + "-wrong", base_url=sb.url)
            with pytest.raises(wa360.AuthenticationError) as auth:
                wrong.send_text("15555550123", "x")
            seen += [str(auth.value), repr(auth.value)]

            sb.wait_for(lambda: len(got) >= 3, timeout=30)
            verifier = wa360.Verifier(basic_auth=(HOOK_USER, HOOK_PASS))
            receiver = WebhookReceiver(lambda events: None, verifier=verifier)
            hub = wa360.Verifier(app_secret=APP_SECRET)
            bad = wa360.Verifier(basic_auth=(HOOK_USER, HOOK_PASS + "x"))
            seen += [repr(receiver), repr(verifier), repr(hub), repr(bad)]
            for headers, body in list(got):
                status, _, events = receiver.accept(headers, body)
                assert status == 200 and events
                seen += [repr(e) for e in events]
                with pytest.raises(wa360.InvalidSignatureError) as e1:
                    bad.verify(headers, body)
                hub.verify(signed_headers(APP_SECRET, body), body)
                with pytest.raises(wa360.InvalidSignatureError) as e2:
                    hub.verify(signed_headers(APP_SECRET, body), body + b" ")
                seen += [str(e1.value), repr(e1.value), str(e2.value), repr(e2.value)]
            seen.append(repr(client.metrics()))
    finally:
        server.shutdown()
        root.removeHandler(handler)
        root.setLevel(logging.NOTSET)

    logs = "\n".join(handler.texts)
    for expected in (
        "request ok",
        "retrying",
        "code=window_closed",
        "code=outcome_unknown",
        "code=authentication",
        "webhook verified",
        "webhook verification failed",
        "webhook parsed",
    ):
        assert expected in logs, f"missing {expected!r} in logs"
    for secret in (API_KEY, HOOK_PASS, APP_SECRET):
        for form in leak_forms(secret):
            assert form not in logs, f"{form!r} (from a secret) in the logs"
            for text in seen:
                assert form not in text, f"{form!r} (from a secret) in {text}"
    encoded = base64.b64encode(f"{HOOK_USER}:{HOOK_PASS}".encode()).decode()
    assert any(f in encoded for f in leak_forms(HOOK_PASS))


def test_webhook_settings_read_back_keeps_header_values_out_of_repr_and_logs() -> None:
    # An API answering the read-back with the headers (the sandbox answers the URL only).
    creds = dict([basic_auth_header(HOOK_USER, HOOK_PASS)])
    answer = json.dumps({"url": "https://hooks.example.com/wa", "headers": creds}).encode()

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    handler = Everything()
    root = logging.getLogger("wa360")
    root.addHandler(handler)
    root.setLevel(wa360._logging.TRACE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = wa360.Client(API_KEY, base_url=f"http://127.0.0.1:{server.server_port}")
        got = client.get_webhook()
        assert got is not None
        assert got.header_names == ["Authorization"]
        assert got.headers == creds  # the values, for a caller that compares them
        printed = [repr(got), str(got), *handler.texts]
    finally:
        root.removeHandler(handler)
        root.setLevel(logging.NOTSET)
        server.shutdown()
        server.server_close()
    assert "Authorization" in repr(got)
    for text in printed:
        for form in leak_forms(HOOK_PASS) + leak_forms(f"{HOOK_USER}:{HOOK_PASS}"):
            assert form not in text, text
