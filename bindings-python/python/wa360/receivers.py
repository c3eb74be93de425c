"""Webhook receivers for FastAPI / Starlette and Flask, in a few lines.

Each delivery is handled the way 360dialog expects: authenticate the raw bytes (fails closed),
parse them into typed events, drop repeats, answer ``200`` at once, and hand the events to your
callback *off the request path* (360dialog wants the answer fast and retries otherwise).

FastAPI / Starlette::

    from fastapi import FastAPI
    import wa360
    from wa360.receivers import fastapi_router

    async def on_events(events: list[wa360.Event]) -> None:
        for e in events:
            ...

    app = FastAPI()
    app.include_router(fastapi_router(on_events, verifier=wa360.Verifier(basic_auth=("u", "p"))))

Flask::

    from flask import Flask
    from wa360.receivers import flask_blueprint

    app = Flask(__name__)
    app.register_blueprint(flask_blueprint(on_events, verifier=...))

Async callbacks run as asyncio tasks on the server's loop; plain functions run on a background
worker thread, in delivery order. Exceptions raised by the callback are logged (logger
``wa360.receivers``), never sent back to 360dialog.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._native import Deduper, Event, StatusFold, Verifier, hub_challenge_from_query, parse_webhook
from .errors import InvalidSignatureError, Wa360Error

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import APIRouter
    from flask import Blueprint
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "WebhookReceiver",
    "EventsCallback",
    "starlette_endpoint",
    "fastapi_router",
    "flask_view",
    "flask_blueprint",
]

log = logging.getLogger("wa360.receivers")

EventsCallback = Callable[[list[Event]], Awaitable[None] | None]


class WebhookReceiver:
    """Framework-neutral receiver: ``handle(headers, body) -> (status, body)``.

    Args:
        on_events: called with the new events of each delivery (sync or ``async``).
        verifier: checks every delivery; ``None`` accepts unauthenticated deliveries (only
            sensible behind your own authentication).
        verify_token: answer Meta's ``GET`` ``hub.challenge`` handshake with this token.
        dedupe: drop repeated events (``True``: an in-memory :class:`Deduper`).
        status_fold: drop stale / repeated statuses (``True``: an in-memory :class:`StatusFold`).
    """

    def __init__(
        self,
        on_events: EventsCallback,
        *,
        verifier: Verifier | None = None,
        verify_token: str | None = None,
        dedupe: bool | Deduper = True,
        status_fold: bool | StatusFold = False,
    ) -> None:
        self.on_events = on_events
        self.verifier = verifier
        self.verify_token = verify_token
        self.deduper: Deduper | None = Deduper() if dedupe is True else (dedupe or None)
        self.status_fold: StatusFold | None = (
            StatusFold() if status_fold is True else (status_fold or None)
        )
        self._is_async = inspect.iscoroutinefunction(on_events)
        self._queue: queue.Queue[list[Event]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the request path -------------------------------------------------------------------

    def accept(self, headers: Any, body: bytes) -> tuple[int, bytes, list[Event]]:
        """Verify, parse and filter one delivery; returns ``(status, answer, new_events)``."""
        if self.verifier is not None:
            try:
                self.verifier.verify(headers, body)
            except InvalidSignatureError:
                return 401, b"unauthorized", []
        try:
            events = parse_webhook(body)
        except Wa360Error:
            return 400, b"bad webhook body", []
        if self.deduper is not None:
            events = self.deduper.filter(events)
        if self.status_fold is not None:
            events = self.status_fold.filter(events)
        return 200, b"", events

    def challenge(self, query: str) -> tuple[int, bytes]:
        """Answer a ``GET`` verification handshake from its raw query string."""
        if self.verify_token is None:
            return 405, b"method not allowed"
        try:
            return 200, hub_challenge_from_query(query, self.verify_token).encode()
        except Wa360Error:
            return 403, b"forbidden"

    def handle(self, headers: Any, body: bytes) -> tuple[int, bytes]:
        """Handle one ``POST`` from a synchronous server: events go to the worker thread."""
        status, answer, events = self.accept(headers, body)
        if events:
            self.dispatch_threaded(events)
        return status, answer

    async def handle_async(self, headers: Any, body: bytes) -> tuple[int, bytes]:
        """Handle one ``POST`` on an asyncio server: async callbacks become tasks."""
        status, answer, events = self.accept(headers, body)
        if events:
            if self._is_async:
                task = asyncio.get_running_loop().create_task(self._run_async(events))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self.dispatch_threaded(events)
        return status, answer

    # -- off the request path -----------------------------------------------------------------

    async def _run_async(self, events: list[Event]) -> None:
        try:
            result = self.on_events(events)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("wa360 webhook callback failed")

    def dispatch_threaded(self, events: list[Event]) -> None:
        """Queue ``events`` for the background worker thread (started on first use)."""
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name="wa360-webhook-worker", daemon=True
                )
                self._worker.start()
        self._queue.put(events)

    def _work(self) -> None:
        while True:
            events = self._queue.get()
            try:
                result = self.on_events(events)
                if inspect.isawaitable(result):
                    asyncio.run(_await(result))
            except Exception:
                log.exception("wa360 webhook callback failed")
            finally:
                self._queue.task_done()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued delivery was handled (for tests and shutdown)."""
        if timeout is None:
            self._queue.join()
            return True
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)


async def _await(aw: Awaitable[Any]) -> None:
    await aw


def _receiver(
    on_events: EventsCallback | WebhookReceiver, kwargs: dict[str, Any]
) -> WebhookReceiver:
    if isinstance(on_events, WebhookReceiver):
        if kwargs:
            raise TypeError("pass options to WebhookReceiver, not alongside one")
        return on_events
    return WebhookReceiver(on_events, **kwargs)


# -- Starlette / FastAPI ------------------------------------------------------------------------


def starlette_endpoint(
    on_events: EventsCallback | WebhookReceiver, **options: Any
) -> Callable[[Request], Awaitable[Response]]:
    """An ASGI endpoint (``async def endpoint(request) -> Response``) for Starlette or FastAPI
    routes accepting ``POST`` (deliveries) and ``GET`` (Meta's handshake)."""
    from starlette.responses import Response

    receiver = _receiver(on_events, options)

    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            status, answer = receiver.challenge(request.url.query)
            return Response(answer, status_code=status, media_type="text/plain")
        body = await request.body()
        status, answer = await receiver.handle_async(request.headers.raw, body)
        return Response(answer, status_code=status, media_type="text/plain")

    endpoint.receiver = receiver  # type: ignore[attr-defined]
    return endpoint


def fastapi_router(
    on_events: EventsCallback | WebhookReceiver, *, path: str = "/webhook", **options: Any
) -> APIRouter:
    """A FastAPI ``APIRouter`` serving the webhook at ``path`` (``app.include_router(...)``)."""
    from fastapi import APIRouter

    router = APIRouter()
    endpoint = starlette_endpoint(on_events, **options)
    router.add_route(path, endpoint, methods=["GET", "POST"], include_in_schema=False)
    router.receiver = endpoint.receiver  # type: ignore[attr-defined]
    return router


# -- Flask --------------------------------------------------------------------------------------


def flask_view(on_events: EventsCallback | WebhookReceiver, **options: Any) -> Callable[[], Any]:
    """A Flask view function for ``GET`` + ``POST`` (``app.add_url_rule(path, view_func=...)``)."""
    from flask import request

    receiver = _receiver(on_events, options)

    def view() -> Any:
        if request.method == "GET":
            status, answer = receiver.challenge(request.query_string.decode("latin-1"))
        else:
            headers: Iterable[tuple[str, str]] = request.headers.items()
            status, answer = receiver.handle(headers, request.get_data(cache=False))
        return answer, status, {"Content-Type": "text/plain"}

    view.receiver = receiver  # type: ignore[attr-defined]
    return view


def flask_blueprint(
    on_events: EventsCallback | WebhookReceiver,
    *,
    path: str = "/webhook",
    name: str = "wa360_webhook",
    **options: Any,
) -> Blueprint:
    """A Flask ``Blueprint`` serving the webhook at ``path`` (``app.register_blueprint(...)``)."""
    from flask import Blueprint

    bp = Blueprint(name, __name__)
    view = flask_view(on_events, **options)
    bp.add_url_rule(path, endpoint="webhook", view_func=view, methods=["GET", "POST"])
    bp.receiver = view.receiver  # type: ignore[attr-defined]
    return bp
