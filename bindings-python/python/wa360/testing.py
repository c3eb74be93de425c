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

    def wait_for(
        self,
        predicate: Callable[[], Any],
        *,
        timeout: float | None = None,
        interval: float | None = None,
    ) -> Any:
        """Call ``predicate`` every ``interval`` seconds (default 0.02) until it returns
        something truthy; return it. ``wa360.TimeoutError`` (a ``TimeoutError``) after
        ``timeout`` seconds (default 10; 0 tries once). The rule is the sandbox's ``Waiter``,
        shared with Node's ``waitFor``."""
        if not callable(predicate):
            raise InvalidArgumentError(
                "invalid argument `predicate`: must be callable",
                field="predicate",
                rule="must be callable",
            )
        return _poll(self._waiter(timeout, interval), predicate)

    def wait_deliveries(
        self, n: int, *, kind: str | None = None, ok: bool = True, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Wait until at least ``n`` webhook deliveries (of ``kind``, e.g. ``"status:read"``,
        answered 200 when ``ok``) were made; return them (``wa360.TimeoutError`` after
        ``timeout`` seconds, default 10)."""
        waiter = self._delivery_waiter(n, kind, ok, timeout)
        result: list[dict[str, Any]] = _poll(waiter, waiter.deliveries)
        return result


def _poll(waiter: _native.SandboxWaiter, predicate: Callable[[], Any]) -> Any:
    # Only the call of the Python predicate and the sleep are here; the waiter raises
    # wa360.TimeoutError once the deadline has passed.
    while True:
        value = predicate()
        if value:
            return value
        time.sleep(waiter.pause())
