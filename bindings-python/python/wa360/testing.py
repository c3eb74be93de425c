"""Helpers for your own tests: a local 360dialog sandbox and webhook payload builders.

::

    from wa360.testing import Sandbox

    def test_welcome_message():
        with Sandbox() as sb:
            client = wa360.Client(sb.api_key, base_url=sb.url)
            client.send_text("15555550123", "Welcome!")
            (req,) = sb.requests(path="/messages")
            assert req["body"]["text"]["body"] == "Welcome!"

The sandbox is the ``wa360-sandbox`` emulator running in-process on its own thread: real HTTP
on 127.0.0.1, no API key from 360dialog, no internet. It validates sends like the real API,
delivers status and inbound webhooks to the URL you register (``http://127.0.0.1`` allowed),
and injects faults on request (``sb.fault("rate_limit", retry_after=1)``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from . import _native
from ._context import SyncContext
from ._native import (
    basic_auth_header,
    batch,
    hub_signature,
    inbound,
    inbound_text,
    signed_headers,
    status,
    status_failed,
    value_error,
)
from .errors import InvalidArgumentError

__all__ = [
    "Sandbox",
    "basic_auth_header",
    "batch",
    "hub_signature",
    "inbound",
    "inbound_text",
    "signed_headers",
    "status",
    "status_failed",
    "value_error",
]


class Sandbox(_native.Sandbox, SyncContext):
    """A local 360dialog emulator; a context manager that stops the server on exit.

    ``Sandbox(*, api_key=None, port=0, time_scale=None, allow_http_callbacks=True,
    max_delivery_attempts=None)``. ``time_scale=0.01`` makes status webhooks and delivery
    retries 100 times faster.
    """

    def _on_exit(self) -> None:
        self.stop()

    def fault(
        self,
        kind: str,
        *,
        method: str | None = "POST",
        path: str | None = "/messages",
        count: int = 1,
        **params: Any,
    ) -> None:
        """Make the next ``count`` matching requests fail (``count=0``: until cleared).

        ``kind``: ``rate_limit``, ``meta_error`` (``code=...``), ``dialog360_error``,
        ``status`` (``status=503``), ``html``, ``delay`` (``ms=...``), ``reset_before_body``,
        ``reset_after_body``, ``malformed_json``, ``truncated_json``. ``path`` may end in ``*``
        for a prefix; ``None`` matches any.
        """
        rule: dict[str, Any] = {"count": count, "fault": {"kind": kind, **params}}
        if method is not None:
            rule["method"] = method
        if path is not None:
            rule["path"] = path
        self.add_fault(rule)

    def _post(self, path: str, body: Any, *, api_key: bool = False) -> Any:
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["D360-API-KEY"] = self.api_key
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                text = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            raise InvalidArgumentError(
                f"sandbox refused {path}: HTTP {e.code} {detail}", status=e.code
            ) from None
        return json.loads(text) if text else None

    def inbound(self, event: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
        """Simulate inbound messages, delivered to the registered webhook as one POST.

        ``event``: one event such as ``{"from": "15555550123", "type": "text", "text":
        {"body": "hi"}, "name": "Maya"}``, a list of them, or a full webhook body. Returns the
        new message ids. Raises :class:`wa360.InvalidArgumentError` for bad input or when no
        webhook is registered.
        """
        answer = self._post("/_sandbox/inbound", event)
        ids: list[str] = answer["message_ids"]
        return ids

    def mark_seen(self, users: list[str]) -> None:
        """Mark users as having written to the business in the last 24 hours (only those
        can be blocked; management API emulation)."""
        self._post("/_sandbox/seen", {"users": users})

    def set_health(self, answer: dict[str, Any] | None) -> None:
        """Replace the ``GET /health_status`` answer (``None`` restores the healthy one)."""
        self._post("/_sandbox/health", answer)

    def register_webhook(
        self, url: str, *, headers: dict[str, str] | None = None, waba: bool = False
    ) -> None:
        """Register a webhook URL with the sandbox, including local ``http://127.0.0.1:PORT``
        receivers (which ``Client.set_webhook`` rejects: it enforces 360dialog's HTTPS rule)."""
        body: dict[str, Any] = {"url": url}
        if headers:
            body["headers"] = headers
        self._post("/waba_webhook" if waba else "/v1/configs/webhook", body, api_key=True)

    def wait_for(
        self,
        predicate: Callable[[], Any],
        *,
        timeout: float = 10.0,
        interval: float = 0.02,
    ) -> Any:
        """Poll ``predicate`` until it returns something truthy; return it (``TimeoutError``
        after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)

    def wait_deliveries(
        self, n: int, *, kind: str | None = None, ok: bool = True, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``n`` webhook deliveries (of ``kind``, e.g. ``"status:read"``,
        answered 200 when ``ok``) were made; return them."""

        def pick() -> list[dict[str, Any]] | None:
            found = [
                d
                for d in self.deliveries()
                if (kind is None or d["kind"] == kind) and (not ok or d["ok"])
            ]
            return found if len(found) >= n else None

        result: list[dict[str, Any]] = self.wait_for(pick, timeout=timeout)
        return result
