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

import time
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
