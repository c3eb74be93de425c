"""Webhook receivers for FastAPI / Starlette and Flask, in a few lines.

Each delivery goes through the one receiver of the Rust core (``wa360._native.Receiver``): the
size cap, authentication of the raw bytes (fails closed), parsing, then either

- **without an inbox** (the default): in-memory dedupe, ``200`` at once, and the new events are
  handed to your callback *off the request path* in this process. One process, not durable: a
  restart loses what was not handled yet, and several workers each keep their own dedupe.
- **with an inbox** (``inbox="sqlite:///var/lib/app/wa360-inbox.db"``): the events are stored
  durably, deduplicated and status-folded atomically across processes, *before* the ``200``;
  every web worker runs a consumer that hands them to your callback at least once, one event
  per call, in order per conversation, retrying failures with backoff and dead-lettering an
  event after ``max_attempts`` (see ``docs/receiving.md``).

FastAPI / Starlette::

    from fastapi import FastAPI
    import wa360
    from wa360.receivers import fastapi_router

    async def on_events(events: list[wa360.Event]) -> None:
        for e in events:
            ...

    app = FastAPI()
    app.include_router(fastapi_router(on_events, verifier=wa360.Verifier(basic_auth=("u", "p")),
                                      inbox="sqlite:///var/lib/app/wa360-inbox.db"))

Flask::

    from flask import Flask
    from wa360.receivers import flask_blueprint

    app = Flask(__name__)
    app.register_blueprint(flask_blueprint(on_events, verifier=...))

Async callbacks run as asyncio tasks on the server's loop; plain functions run on background
worker threads. Without an inbox, exceptions raised by the callback are logged (logger
``wa360.receivers``), never sent back to 360dialog; with one, they make the event retry.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import heapq
import inspect
import logging
import math
import os
import queue
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any

from ._native import Consumer, Deduper, Delivery, Event, Inbox, Receiver, StatusFold, Verifier
from .errors import InvalidArgumentError

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

# The core's ceiling on concurrent handlers (``wa360::input::MAX_CONCURRENCY``).
_MAX_CONCURRENCY = 1024
#: The most events one claim takes (the core's `input::MAX_CLAIM`).
_MAX_CLAIM = 1000


def _invalid(field: str, rule: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"invalid argument `{field}`: {rule}", field=field, rule=rule)


def _grace(field: str, value: object) -> float:
    """Seconds of grace: a finite number, 0 or more (checked before anything is stopped)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(field, "must be a finite number of seconds, 0 or more")
    try:
        seconds = float(value)  # an int past a float's range raises OverflowError
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise _invalid(field, "must be a finite number of seconds, 0 or more")
    return seconds


def _above_zero(field: str, value: object) -> float:
    """A time limit: a finite number of seconds above 0."""
    seconds = _grace(field, value)
    if seconds == 0:
        raise _invalid(field, "must be a finite number of seconds above 0")
    return seconds


class WebhookReceiver:
    """Framework-neutral receiver: ``handle(headers, body) -> (status, body)``.

    Args:
        on_events: called with new events (sync or ``async``); with an inbox, one event per call.
        verifier: checks every delivery (Basic auth, a custom header or the app secret).
            Required: without one the receiver refuses to start, unless
            ``insecure_skip_verify=True`` says that deliveries are authenticated elsewhere
            (your own proxy). Verification fails closed.
        insecure_skip_verify: accept unauthenticated deliveries when no ``verifier`` is given.
        verify_token: answer Meta's ``GET`` ``hub.challenge`` handshake with this token.
        dedupe: without an inbox, drop repeated events (``True``: an in-memory :class:`Deduper`).
        status_fold: without an inbox, drop stale / repeated statuses (``True``: an in-memory
            :class:`StatusFold`). An inbox always dedupes and folds, across processes.
        inbox: an :class:`Inbox` or its URL (``"sqlite:///abs/path.db"``, ``"memory://"``):
            store events durably before answering and hand them out through consumers.
        concurrency: with an inbox, how many events this process handles at once.
        start_consumers: with an inbox, run consumers in this process (default). ``False``
            makes it a receiver only; separate workers consume with ``Inbox(url).consumer()``.
        shutdown_grace: with an inbox, seconds running handlers get to finish on shutdown
            before their events are released to other workers.
        handler_timeout: with an inbox, seconds one call of ``on_events`` may run (default
            ``None``: no limit). Past it the call is interrupted: an ``async`` handler is
            cancelled, a plain function gets ``TimeoutError`` raised at its next Python line
            (a call blocked inside C, such as a socket read without a timeout, stops only when
            that call returns). The interrupted call counts as a failed attempt: the event is
            retried with backoff, then dead-lettered, and its conversation moves on. Its event
            is never handed to another call while this one still runs.
        max_bytes / max_depth: body and nesting limits (default 1 MiB / 64).
        body_timeout: seconds the asyncio helpers wait for a request's body (default 10): a
            sender that stops mid-body, or never sends the body it declared, is answered
            ``408`` instead of holding a connection for as long as the server allows.
    """

    def __init__(
        self,
        on_events: EventsCallback,
        *,
        verifier: Verifier | None = None,
        insecure_skip_verify: bool = False,
        verify_token: str | None = None,
        dedupe: bool | Deduper = True,
        status_fold: bool | StatusFold = False,
        inbox: str | Inbox | None = None,
        concurrency: int = 4,
        start_consumers: bool = True,
        shutdown_grace: float = 10.0,
        handler_timeout: float | None = None,
        max_bytes: int | None = None,
        max_depth: int | None = None,
        body_timeout: float = 10.0,
    ) -> None:
        if (
            isinstance(concurrency, bool)
            or not isinstance(concurrency, int)
            or not 1 <= concurrency <= _MAX_CONCURRENCY
        ):
            raise _invalid("concurrency", f"must be an integer from 1 to {_MAX_CONCURRENCY}")
        shutdown_grace = _grace("shutdown_grace", shutdown_grace)
        if handler_timeout is not None:
            handler_timeout = _above_zero("handler_timeout", handler_timeout)
        body_timeout = _above_zero("body_timeout", body_timeout)
        if not isinstance(start_consumers, bool):
            raise _invalid("start_consumers", "must be True or False")
        if not isinstance(insecure_skip_verify, bool):
            raise _invalid("insecure_skip_verify", "must be True or False")
        if verifier is not None and not isinstance(verifier, Verifier):
            raise _invalid("verifier", "must be a wa360.Verifier")
        if verifier is None and not insecure_skip_verify:
            # Fails closed, as the Node receiver does: forgetting the verifier must not
            # leave a public endpoint that takes anyone's deliveries.
            raise _invalid(
                "verifier",
                "is required: give a wa360.Verifier (basic_auth / headers / app_secret), "
                "or insecure_skip_verify=True when deliveries are authenticated elsewhere",
            )
        self.on_events = on_events
        self.inbox: Inbox | None = Inbox(inbox) if isinstance(inbox, str) else inbox
        self.deduper: Deduper | None = Deduper() if dedupe is True else (dedupe or None)
        self.status_fold: StatusFold | None = (
            StatusFold() if status_fold is True else (status_fold or None)
        )
        self.native = Receiver(
            verifier=verifier,
            verify_token=verify_token,
            inbox=self.inbox,
            dedupe=self.deduper,
            status_fold=self.status_fold,
            max_bytes=max_bytes,
            max_depth=max_depth,
        )
        self.concurrency = concurrency
        self.start_consumers = start_consumers
        self.shutdown_grace = shutdown_grace
        self.handler_timeout: float | None = handler_timeout
        self.body_timeout = body_timeout
        self._is_async = inspect.iscoroutinefunction(on_events)
        self._queue: queue.Queue[list[Event]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pool: _ConsumerPool | None = None
        # The process whose consumers close() stopped (deliveries then leave them stopped).
        self._closed_in: int | None = None
        # The gunicorn master that left its consumers to the workers it forks (see start()).
        self._deferred_by: int | None = None
        self._green_warned = False

    # -- the request path -------------------------------------------------------------------

    def accept(self, headers: Any, body: bytes) -> tuple[int, bytes, list[Event]]:
        """Run one ``POST`` through the core receiver; returns ``(status, answer, new_events)``.

        With an inbox the new events are already stored when this returns ``200``; ``503``
        means they could not be stored (360dialog will deliver again)."""
        # The core logs the answer (logger ``wa360.webhook.receiver``: INFO, WARN for a 503).
        status, answer, events, _dups, _stale, _error = self.native.handle(
            "POST", "", headers, body
        )
        return status, answer, events

    def metrics(self) -> dict[str, Any]:
        """A snapshot of this receiver's figures in this process (see docs/observability.md):
        ``events`` by result (``accepted``, ``deduplicated``, ``stale``; with an inbox also
        ``handled``, ``retried``, ``dead_lettered`` by this process's consumers), ``deliveries``
        (answered requests by status: ``"200"``, ``"401"``, ``"503"``, …) and ``ack_latency``
        (histogram of the time to decide each answer, as ``Client.metrics()["send_latency"]``).
        Only non-zero counts appear. The router / blueprint / endpoint returned by the helpers
        below carry this receiver as ``.receiver``."""
        return self.native.metrics()

    def challenge(self, query: str) -> tuple[int, bytes]:
        """Answer a ``GET`` verification handshake from its raw query string."""
        status, answer, *_ = self.native.handle("GET", query, (), b"")
        return status, answer

    def _other_method(self, method: str) -> tuple[int, bytes]:
        """A request that is neither ``GET`` nor ``POST`` (a framework adds ``HEAD`` to ``GET``
        routes): the core's answer, ``405``, and nothing verified or parsed."""
        status, answer, *_ = self.native.handle(method, "", (), b"")
        return status, answer

    def handle(self, headers: Any, body: bytes) -> tuple[int, bytes]:
        """Handle one ``POST`` from a synchronous server."""
        status, answer, events = self.accept(headers, body)
        if self.inbox is not None:
            # Not after a 503: the store is down (in a forked worker, not open yet), and
            # starting the consumers would open it again here, and raise.
            if status != 503:
                self._start_unless_closed()
        elif events:
            self.dispatch_threaded(events)
        return status, answer

    def precheck(self, headers: Any, content_length: object = None) -> tuple[int, bytes] | None:
        """The answer to a ``POST`` that can be decided before its body is read: ``413`` when
        the declared ``Content-Length`` is over ``max_bytes``, ``401`` when Basic auth or a
        custom header is wrong (an app-secret signature needs the body). ``None``: read the
        body, then :meth:`handle`. The framework helpers below ask first, so a sender without
        the credentials never makes them wait for a body."""
        try:
            length = int(content_length) if content_length is not None else None  # type: ignore[call-overload]
        except (TypeError, ValueError):
            length = None
        if length is not None and length < 0:
            length = None
        elif length is not None:
            length = min(length, 2**64 - 1)  # beyond any limit: still 413, not an OverflowError
        return self.native.precheck("POST", headers, length)

    async def handle_async(self, headers: Any, body: bytes) -> tuple[int, bytes]:
        """Handle one ``POST`` on an asyncio server."""
        if self.inbox is not None:
            # The store write (an fsync) runs off the event loop, on the native runtime: no
            # Python thread has to take the GIL from this loop's thread for it.
            status, answer = await self.native._post_async(headers, body)
            # Not after a 503: starting the consumers would open the store again on the loop.
            if status != 503:
                self._start_unless_closed(asyncio.get_running_loop())
            return status, answer
        if len(body) > _ON_LOOP_BYTES:
            # A large delivery is parsed off the event loop, which would otherwise stall
            # every other request of the worker meanwhile.
            status, answer, events = await asyncio.to_thread(self.accept, headers, body)
        else:
            status, answer, events = self.accept(headers, body)
        if events:
            if self._is_async:
                task = asyncio.get_running_loop().create_task(self._run_async(events))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self.dispatch_threaded(events)
        return status, answer

    # -- consumers (with an inbox) ------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start this process's consumers (idempotent; again in a forked child). Async
        callbacks need the server's ``loop`` (found automatically inside a request or the
        lifespan).

        In a gunicorn master loading the app before it forks its workers (``--preload``)
        this starts none: each worker starts its own once booted (docs/receiving.md)."""
        if self.inbox is None or not self.start_consumers:
            return
        with self._worker_lock:
            self._closed_in = None
        if _loading_in_gunicorn_master():
            self._defer_to_gunicorn_workers()
            return
        self._start(loop, unless_closed=False)

    def _defer_to_gunicorn_workers(self) -> None:
        """Start the consumers in each worker the gunicorn master forks, none in the master.

        Consumers in the master handled a stored backlog alone (a worker started its own only
        at its first delivery) and closed only at the master's exit, after its workers: a
        shutdown took two graces. A worker starts them as its run loop begins, so a backlog
        is handled without a new delivery, and closes them at its exit (its SIGTERM). Not
        at the fork itself: the worker has not yet run the app's ``post_fork`` hook (which
        reopens what the master's connections shared), dropped its privileges (``--user``)
        or set its signal handlers, and handlers must not run before."""
        if self._deferred_by == os.getpid() or not hasattr(os, "register_at_fork"):
            return
        self._deferred_by = master = os.getpid()

        def forked() -> None:
            # Only gunicorn's workers: not the master's other children (its dirty arbiter, a
            # re-exec), nor what a worker forks in turn.
            if os.getppid() != master:
                return
            worker = _gunicorn_worker_being_spawned()
            run = getattr(worker, "run", None)
            if run is None:
                return

            def run_with_consumers() -> Any:
                # Booted: after post_fork, the privilege drop, the signal handlers and
                # post_worker_init; just before the worker serves.
                try:
                    self._start(None, unless_closed=True)
                except Exception:  # noqa: BLE001 - then they start at the first delivery
                    log.exception("wa360 inbox: starting a gunicorn worker's consumers failed")
                return run()

            worker.run = run_with_consumers

        os.register_at_fork(after_in_child=forked)

    def _start(self, loop: asyncio.AbstractEventLoop | None, unless_closed: bool) -> None:
        if self.inbox is None or not self.start_consumers:
            return
        green = _green_threads()
        if green is not None:
            # Their threads would be greenlets, and the store's native calls never yield
            # to the hub: the first claim held the whole process (gunicorn's gevent worker
            # then served nothing). Deliveries are still stored, for consumers elsewhere.
            if not self._green_warned:
                self._green_warned = True
                if str(self.inbox.url).startswith("memory:"):
                    # Nothing else can read a memory inbox: what it takes is never handled.
                    fate = "are acknowledged and never handled (a memory inbox is this process's)"
                else:
                    fate = (
                        "are stored but not handled here: pass start_consumers=False and run "
                        "the consumers in a process without it"
                    )
                log.error(
                    "wa360 inbox: consumers do not run under %s's monkey-patching (threads "
                    "become greenlets, which the store's calls block); deliveries %s "
                    "(docs/receiving.md)",
                    green,
                    fate,
                )
            return
        pool = self._pool
        if pool is not None and pool.pid == os.getpid() and not pool.closed:
            return
        with self._worker_lock:
            # Under the lock close() takes to mark itself: a delivery racing a close()
            # either starts the pool that close() then stops, or sees the mark.
            if unless_closed and self._closed_in == os.getpid():
                return
            pool = self._pool
            if pool is not None and pool.pid == os.getpid() and not pool.closed:
                return
            if self._is_async and loop is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
            self._pool = _ConsumerPool(self, self.inbox, loop if self._is_async else None)

    def _start_unless_closed(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """What a delivery does: start the consumers, unless :meth:`close` stopped them in this
        process (a drain keeps accepting deliveries into the store without running handlers;
        only an explicit :meth:`start`, or a forked child, starts them again)."""
        if self._closed_in == os.getpid():
            return
        self._start(loop, unless_closed=True)

    def close(self, grace: float | None = None) -> int:
        """Graceful shutdown of the consumers: stop claiming, let running handlers finish for up
        to ``grace`` seconds (default ``shutdown_grace``), then release what is left to other
        workers. Returns how many events were released. Later deliveries are still stored but
        do not start the consumers again (call :meth:`start` for that). Call it from a thread
        that is not the server's event loop (use :meth:`aclose` there)."""
        seconds = self.shutdown_grace if grace is None else _grace("grace", grace)
        with self._worker_lock:
            self._closed_in = os.getpid()
            pool = self._pool
        if pool is None or pool.pid != os.getpid():
            return 0
        return pool.close(seconds)

    async def aclose(self, grace: float | None = None) -> int:
        """:meth:`close` from inside the event loop (e.g. a lifespan shutdown)."""
        return await asyncio.to_thread(self.close, grace)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """An ASGI lifespan: starts the consumers on the server's loop, closes them at shutdown."""
        self.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            await self.aclose()

    # -- off the request path (without an inbox) --------------------------------------------

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
        """Wait until every queued delivery was handled (without an inbox: for tests and
        shutdown; with one: until the inbox has nothing ready or in flight)."""
        if self.inbox is not None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                # Not stats(): with Redis it walks every dedupe key, each time.
                if self.inbox._backlog() == (0, 0):
                    return True
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)
        if timeout is None:
            self._queue.join()
            return True
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)


def _describe(exc: BaseException) -> str:
    """The text kept as the event's last error. Never raises: an exception whose ``str()``
    raises is named by its type alone. (A report that fails leaves the event held, its lease
    renewed, and its conversation stopped.)"""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:
        text = f"{type(exc).__name__} (its text could not be read)"
    return text[:2000]


def _green_threads() -> str | None:
    """``"gevent"`` or ``"eventlet"`` when that library has monkey-patched ``threading`` in
    this process (a gunicorn gevent worker does, just before it serves), else ``None``."""
    gevent = sys.modules.get("gevent.monkey")
    if gevent is not None and gevent.is_module_patched("threading"):
        return "gevent"
    eventlet = sys.modules.get("eventlet.patcher")
    if eventlet is not None and eventlet.is_monkey_patched("thread"):
        return "eventlet"
    return None


def _gunicorn_frame(name: str) -> FrameType | None:
    """The frame of ``gunicorn.arbiter``'s function ``name`` on this thread's stack, if any.

    Written here: gunicorn offers an app loaded by its master (``--preload``) no way to know
    that it is in the master, nor that a fork makes a worker, other than the server hooks of
    its config file, which a library cannot set; the arbiter's frames say both."""
    if "gunicorn.arbiter" not in sys.modules:
        return None
    f: FrameType | None = sys._getframe(1)
    while f is not None:
        if f.f_code.co_name == name and f.f_globals.get("__name__") == "gunicorn.arbiter":
            return f
        f = f.f_back
    return None


def _loading_in_gunicorn_master() -> bool:
    """The app is being imported by a gunicorn master, before it forks its workers."""
    return _gunicorn_frame("setup") is not None


def _gunicorn_worker_being_spawned() -> Any:
    """In a process just forked by a gunicorn master as one of its workers: that worker
    (the local ``worker`` of ``Arbiter.spawn_worker``, not yet booted); otherwise ``None``."""
    f = _gunicorn_frame("spawn_worker")
    return None if f is None else f.f_locals.get("worker")


class _ConsumerPool:
    """The consumers of one process: ``concurrency`` threads for sync callbacks, or one claiming
    thread feeding tasks on the server's loop for async ones. Claims, leases, retries and
    ordering are the core's (``Consumer``); this only calls the callback and reports back."""

    def __init__(
        self, owner: WebhookReceiver, inbox: Inbox, loop: asyncio.AbstractEventLoop | None
    ) -> None:
        self.owner = owner
        self.pid = os.getpid()
        self.closed = False
        self.consumer: Consumer = inbox.consumer()
        self.loop = loop
        self.running: set[concurrent.futures.Future[None]] = set()
        self.lock = threading.Lock()
        self.slots = threading.Semaphore(owner.concurrency)
        n = 1 if loop is not None else owner.concurrency
        target = self._claim_for_loop if loop is not None else self._thread_loop
        self.threads = [
            threading.Thread(target=target, name=f"wa360-inbox-consumer-{i}", daemon=True)
            for i in range(n)
        ]
        for t in self.threads:
            t.start()
        atexit.register(self._atexit)

    def _atexit(self) -> None:
        if not self.closed and self.pid == os.getpid():
            self.close(self.owner.shutdown_grace)

    # sync callbacks: each thread claims, runs and reports one event at a time
    def _thread_loop(self) -> None:
        c = self.consumer
        while not c.stopped:
            try:
                got = c.next(1, 0.5)
            except Exception:
                log.exception("wa360 inbox: claim failed; retrying")
                time.sleep(0.5)
                continue
            if c.stopped:
                # close() began while this claim ran: it releases these events (its release
                # waits for the claim), so they must not be handled here as well.
                return
            for d in got:
                try:
                    self._run_sync(d)
                except BaseException:  # noqa: BLE001 - this thread must go on claiming
                    log.exception("wa360 inbox: the consumer of event %s failed", d.id)

    def _run_sync(self, d: Delivery) -> None:
        limit = self.owner.handler_timeout
        deadline = _ThreadDeadline(limit, d) if limit is not None else None
        returned = False
        error: BaseException | None = None
        try:
            try:
                # Armed inside the `try`: the deadline's exception can land at any line
                # from here to `disarm`, and each of them is covered.
                if deadline is not None:
                    deadline.arm()
                result = self.owner.on_events([d.event])
                if inspect.isawaitable(result):
                    asyncio.run(_await(result))
                returned = True
            finally:
                if deadline is not None:
                    deadline.disarm()
        except BaseException as e:
            # Not only Exception: a handler ending in SystemExit or CancelledError did not
            # handle its event either. Unreported, the event would stay held (its lease
            # renewed) for good, and this thread would end. It is retried as any failure is.
            # The deadline's exception landing after the call returned (it fired while the
            # call was ending) is no failure: the call's own outcome decides.
            if not returned:
                error = _timed_out(limit, e) if deadline is not None and deadline.fired else e
        self._report(d, error)

    def _report(self, d: Delivery, error: BaseException | None) -> None:
        try:
            if error is None:
                if not self.consumer.ack(d.id):
                    _lost_lease(d)
                return
            outcome = self.consumer.nack(d.id, _describe(error))
            if outcome == "not_held":
                log.warning(
                    "wa360 webhook callback failed on attempt %d after the lease of event %s "
                    "ran out; another worker runs it",
                    d.attempt,
                    d.id,
                    exc_info=error,
                )
            elif outcome == "dead":
                log.error(
                    "wa360 webhook callback failed on attempt %d; event %s dead-lettered",
                    d.attempt,
                    d.id,
                    exc_info=error,
                )
            else:
                log.warning(
                    "wa360 webhook callback failed on attempt %d; event %s will be retried",
                    d.attempt,
                    d.id,
                    exc_info=error,
                )
        except Exception:
            # The store refused it: the consumer keeps the event (renewing its lease) and tells
            # the store again at each renewal, and at close.
            log.exception(_NOT_REPORTED, d.id)

    # async callbacks: one thread claims, the server's loop runs the callbacks
    def _claim_for_loop(self) -> None:
        # Claims as many events as there are free slots, in one call: this thread takes the
        # GIL from the (busy) loop's thread once per claim, not once per event, which under
        # load is up to the interpreter's switch interval (5 ms) each.
        c = self.consumer
        loop = self.loop
        assert loop is not None
        while not c.stopped:
            if not self.slots.acquire(timeout=0.5):
                continue
            free = 1
            most = min(self.owner.concurrency, _MAX_CLAIM)
            while free < most and self.slots.acquire(blocking=False):
                free += 1
            try:
                got = c.next(free, 0.5)
            except Exception:
                self._release_slots(free)
                log.exception("wa360 inbox: claim failed; retrying")
                time.sleep(0.5)
                continue
            if c.stopped:
                # close() began while this claim ran: it releases these events (its release
                # waits for the claim), so they must not be handled here as well.
                self._release_slots(free)
                return
            self._release_slots(free - len(got))
            for i, d in enumerate(got):
                try:
                    fut = asyncio.run_coroutine_threadsafe(self._run_async(d), loop)
                except RuntimeError:  # the loop is closed: give the events back
                    self._release_slots(len(got) - i)
                    c.stop()
                    # Nothing can run on a closed loop: release what this consumer holds.
                    try:
                        c.release_held()
                    except Exception:
                        log.exception("wa360 inbox: could not release event %s", d.id)
                    return
                with self.lock:
                    self.running.add(fut)
                fut.add_done_callback(self._done)

    def _release_slots(self, n: int) -> None:
        for _ in range(n):
            self.slots.release()

    def _done(self, fut: concurrent.futures.Future[None]) -> None:
        with self.lock:
            self.running.discard(fut)
        self.slots.release()

    async def _run_async(self, d: Delivery) -> None:
        error: BaseException | None = None
        limit = self.owner.handler_timeout
        expiry: asyncio.TimerHandle | None = None
        expired = False
        me = asyncio.current_task()

        def expire() -> None:
            nonlocal expired
            expired = True
            log.warning(
                "wa360 inbox: the handler of event %s ran past handler_timeout (%s s); "
                "cancelling it",
                d.id,
                limit,
            )
            if me is not None:
                me.cancel(_DEADLINE)

        try:
            result = self.owner.on_events([d.event])
            if inspect.isawaitable(result):
                if limit is not None and me is not None:
                    expiry = asyncio.get_running_loop().call_later(limit, expire)
                await result
        except asyncio.CancelledError as e:
            # Our own cancellation at the deadline is a failed attempt; any other
            # cancellation (the loop shutting down) is reported below and goes on.
            uncancel = getattr(me, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                outside = not expired or uncancel() > 0
            else:
                # Python 3.10 counts no cancellations: an outside one that came after ours
                # replaced our message.
                outside = not expired or not _carries_deadline(e)
            if outside:
                self._report(d, e)
                raise
            error = _timed_out(limit, e)
        except Exception as e:
            error = e
        except BaseException as e:
            # Cancelled (or SystemExit / KeyboardInterrupt): the event was not handled.
            # Report it at once, without awaiting (the task is being cancelled, the loop
            # may be closing), so that it is retried instead of staying held for good;
            # then let the cancellation go on.
            self._report(d, e)
            raise
        finally:
            if expiry is not None:
                expiry.cancel()
        if error is not None:
            await asyncio.to_thread(self._report, d, error)
            return
        try:
            acked = await self.consumer._ack_async(d.id)
        except Exception:
            log.exception(_NOT_REPORTED, d.id)
        else:
            if not acked:
                _lost_lease(d)

    def close(self, grace: float) -> int:
        self.closed = True
        self.consumer.stop()
        deadline = time.monotonic() + max(grace, 0.0)
        for t in self.threads:
            if t is not threading.current_thread():
                t.join(max(deadline - time.monotonic(), 0.0))
        with self.lock:
            pending = list(self.running)
        if pending:
            concurrent.futures.wait(pending, timeout=max(deadline - time.monotonic(), 0.0))
        released = self.consumer.close()
        if released:
            log.warning("wa360 inbox: %d running event(s) released to other workers", released)
        return released


_NOT_REPORTED = (
    "wa360 inbox: the store refused the outcome of event %s (told again while this worker "
    "holds the event: at each lease renewal and at close; past that, the event runs again "
    "once its lease runs out)"
)


def _lost_lease(d: Delivery) -> None:
    log.warning(
        "wa360 inbox: event %s was handled after its lease ran out; another worker may run it "
        "again",
        d.id,
    )


async def _await(aw: Awaitable[Any]) -> None:
    await aw


#: The message of the cancellation at ``handler_timeout`` (an async handler).
_DEADLINE = "wa360 inbox: handler_timeout"


def _carries_deadline(e: BaseException) -> bool:
    """On Python 3.10: ``e`` is the cancellation at ``handler_timeout``. A task that ends
    cancelled (an awaited task, ``gather``) raises a bare ``CancelledError`` whose context
    is the one with our message."""
    seen: BaseException | None = e
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, asyncio.CancelledError) and seen.args[:1] == (_DEADLINE,):
            return True
        if seen.args:
            return False
        seen = seen.__context__
    return False


def _timed_out(limit: float | None, cause: BaseException) -> TimeoutError:
    """The error reported for a call interrupted at ``handler_timeout``."""
    error = TimeoutError(f"the handler did not finish within handler_timeout ({limit} s)")
    error.__cause__ = cause
    return error


class _ThreadDeadline:
    """``handler_timeout`` for a plain function running on a consumer thread: at the
    deadline, ``TimeoutError`` is raised in that thread at its next Python line.

    Written here: a thread cannot be cancelled, and an asynchronous exception
    (``PyThreadState_SetAsyncExc``, through ctypes) is the one way CPython offers to interrupt
    one from outside. It is raised only while the handler's call is running (both sides take
    ``lock``); one raised but not yet delivered when the call ends is withdrawn. One that
    lands anyway, between the call's end and the withdrawal, is told apart by the caller
    (the call had returned)."""

    def __init__(self, limit: float, d: Delivery) -> None:
        self.thread = threading.get_ident()
        self.lock = threading.Lock()
        self.running = False
        self.fired = False
        self.limit = limit
        self.id = d.id

    def arm(self) -> None:
        """Start the clock. Call it inside the ``try`` that catches the handler's errors."""
        self.running = True
        _WATCHER.watch(time.monotonic() + self.limit, self)

    def _fire(self) -> None:
        with self.lock:
            if not self.running:
                return
            self.fired = True
            _async_exc(self.thread, TimeoutError)
        # Outside the lock: a slow log handler must not hold up the call's disarm. (It does
        # hold up the watcher, which every receiver of the process shares, as it holds up
        # whatever else logs.)
        log.warning(
            "wa360 inbox: the handler of event %s ran past handler_timeout (%s s); "
            "raising TimeoutError in it",
            self.id,
            self.limit,
        )

    def disarm(self) -> None:
        with self.lock:
            self.running = False
            if self.fired:
                # Not delivered yet (the call ended first): withdrawn, so that it never
                # lands in the code after the handler.
                _async_exc(self.thread, None)


class _DeadlineWatcher:
    """The one thread of a process that fires the ``handler_timeout`` of every consumer
    thread (a ``threading.Timer`` per handler call started and ended a thread per event).

    Written here: the standard library's timers (``threading.Timer``, ``sched``) each take a
    thread per timer or a thread blocked in their own loop with no way to add an earlier
    deadline from outside; this is a heap under a condition variable. A disarmed deadline
    stays in the heap until it reaches the top (it is then dropped) or until the heap has
    doubled since it was last compacted (then every disarmed one is dropped): behind a
    running call with a long deadline, finished calls must not pile up."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.heap: list[tuple[float, int, _ThreadDeadline]] = []
        self.seq = 0
        self.pid: int | None = None  # the process the heap belongs to
        self.alive = False  # its thread runs
        self.compact_at = _COMPACT_FLOOR
        # A fork while this thread held the lock would leave the child's copy locked for
        # good: the child starts with a new one (and, at its first deadline, a new thread).
        # POSIX only; without it (Windows) there is no fork, and the pid check below suffices.
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.cond = threading.Condition()
        self.heap = []
        self.pid = None
        self.alive = False

    def watch(self, when: float, deadline: _ThreadDeadline) -> None:
        with self.cond:
            if self.pid != os.getpid():
                # First use in this process: a fork keeps the parent's heap, not its thread.
                self.pid = os.getpid()
                self.heap = []
                self.alive = False
            if not self.alive:
                # A start that fails (no thread can be made) raises into the handler's call,
                # as a failed attempt, and the next call tries again.
                self._start()
            if len(self.heap) >= self.compact_at:
                self.heap = [e for e in self.heap if e[2].running]
                heapq.heapify(self.heap)
                self.compact_at = max(_COMPACT_FLOOR, 2 * len(self.heap))
            self.seq += 1
            heapq.heappush(self.heap, (when, self.seq, deadline))
            if self.heap[0][2] is deadline:
                self.cond.notify()

    def _start(self) -> None:
        """Start this process's watcher thread (called with ``cond`` held)."""
        threading.Thread(target=self._run, name="wa360-deadlines", daemon=True).start()
        self.alive = True

    def _run(self) -> None:
        try:
            while True:
                with self.cond:
                    while True:
                        now = time.monotonic()
                        if not self.heap:
                            self.cond.wait()
                        elif not self.heap[0][2].running:
                            heapq.heappop(self.heap)  # disarmed: nothing to fire
                        elif self.heap[0][0] > now:
                            # Capped: a wait past TIMEOUT_MAX (handler_timeout=1e10) raises.
                            self.cond.wait(min(self.heap[0][0] - now, threading.TIMEOUT_MAX))
                        else:
                            due = heapq.heappop(self.heap)[2]
                            break
                try:
                    due._fire()
                except BaseException:  # noqa: BLE001 - this thread serves every consumer
                    log.exception("wa360 inbox: firing a handler deadline failed")
        finally:
            # Should this thread ever end, the deadlines already armed get another one (a
            # hung handler arms no new deadline that would start it).
            with self.cond:
                self.alive = False
                if self.heap and self.pid == os.getpid():
                    try:
                        self._start()
                    except RuntimeError:
                        log.exception("wa360 inbox: the handler deadline thread cannot restart")


#: The heap is compacted (disarmed deadlines dropped) no more often than at this size.
_COMPACT_FLOOR = 64

_WATCHER = _DeadlineWatcher()


def _async_exc(thread: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in ``thread`` at its next Python line (``None``: withdraw one pending)."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), exc and ctypes.py_object(exc)
    )


# The body is read up to one byte past the receiver's limit: the core answers a body over
# the limit with 413 (first of all), so nothing past that byte is needed, and a huge or
# endless upload is never held in memory.


#: Deliveries up to this size (bytes) are parsed on the event loop without an inbox; larger
#: ones in a worker thread.
_ON_LOOP_BYTES = 64 * 1024


async def _read_capped_async(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    n = 0
    async for chunk in chunks:
        parts.append(chunk)
        n += len(chunk)
        if n > limit:
            break
    return b"".join(parts)[: limit + 1]


def _read_capped(stream: Any, limit: int) -> bytes:
    parts: list[bytes] = []
    n = 0
    while n <= limit:
        chunk = stream.read(min(1 << 16, limit + 1 - n))
        if not chunk:
            break
        parts.append(chunk)
        n += len(chunk)
    return b"".join(parts)


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
    routes accepting ``POST`` (deliveries) and ``GET`` (Meta's handshake). With an inbox, give
    ``endpoint.receiver.lifespan`` to the app (``Starlette(..., lifespan=...)``): it starts the
    consumers with the server and closes them gracefully at shutdown."""
    from starlette.requests import ClientDisconnect
    from starlette.responses import Response

    receiver = _receiver(on_events, options)

    async def endpoint(request: Request) -> Response:
        if request.method == "GET":
            status, answer = receiver.challenge(request.url.query)
            return Response(answer, status_code=status, media_type="text/plain")
        if request.method != "POST":
            status, answer = receiver._other_method(request.method)
            return Response(answer, status_code=status, media_type="text/plain")
        early = receiver.precheck(request.headers.raw, request.headers.get("content-length"))
        if early is not None:
            # The body is left unread: the connection is not reused.
            return Response(
                early[1],
                status_code=early[0],
                media_type="text/plain",
                headers={"Connection": "close"},
            )
        try:
            body = await asyncio.wait_for(
                _read_capped_async(request.stream(), receiver.native.max_bytes),
                receiver.body_timeout,
            )
        except asyncio.TimeoutError:
            return Response(
                b"request body timeout",
                status_code=408,
                media_type="text/plain",
                headers={"Connection": "close"},
            )
        except ClientDisconnect:
            # The sender went away mid-body: nobody is left to answer, and it is not an
            # error of the application (the server would log a traceback for it).
            return Response(b"", status_code=400)
        status, answer = await receiver.handle_async(request.headers.raw, body)
        return Response(answer, status_code=status, media_type="text/plain")

    endpoint.receiver = receiver  # type: ignore[attr-defined]
    endpoint.metrics = receiver.metrics  # type: ignore[attr-defined]
    return endpoint


# The methods the helpers route to the receiver: GET and POST, and the rest for the core's
# counted 405.
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def fastapi_router(
    on_events: EventsCallback | WebhookReceiver, *, path: str = "/webhook", **options: Any
) -> APIRouter:
    """A FastAPI ``APIRouter`` serving the webhook at ``path`` (``app.include_router(...)``)."""
    from fastapi import APIRouter

    endpoint = starlette_endpoint(on_events, **options)
    receiver: WebhookReceiver = endpoint.receiver  # type: ignore[attr-defined]
    # With an inbox, the app's lifespan starts this worker's consumers and shuts them down
    # gracefully (FastAPI merges a router's lifespan into the app's on include_router).
    router = APIRouter(lifespan=receiver.lifespan) if receiver.inbox is not None else APIRouter()
    # Every method: the others get the core's 405, counted like the other receivers' (the
    # framework's own 405 never reached the metrics).
    router.add_route(path, endpoint, methods=_METHODS, include_in_schema=False)
    router.receiver = endpoint.receiver  # type: ignore[attr-defined]
    router.metrics = receiver.metrics  # type: ignore[attr-defined]
    return router


# -- Flask --------------------------------------------------------------------------------------


def flask_view(on_events: EventsCallback | WebhookReceiver, **options: Any) -> Callable[[], Any]:
    """A Flask view function for ``GET`` + ``POST`` (``app.add_url_rule(path, view_func=...)``)."""
    from flask import request

    receiver = _receiver(on_events, options)
    # Flask has no lifespan: with an inbox, consumers start now (and again in a forked worker
    # on its first request; in a gunicorn --preload master, only in each worker once it has
    # booted); they stop gracefully at interpreter exit.
    receiver.start()

    def view() -> Any:
        if request.method == "GET":
            status, answer = receiver.challenge(request.query_string.decode("latin-1"))
        elif request.method != "POST":
            status, answer = receiver._other_method(request.method)
        elif (
            early := receiver.precheck(request.headers.items(), request.content_length)
        ) is not None:
            status, answer = early
        else:
            headers: Iterable[tuple[str, str]] = request.headers.items()
            body = _read_capped(request.stream, receiver.native.max_bytes)
            if not body and request.content_length:
                # Read already (a before_request hook called get_data or get_json):
                # werkzeug kept the bytes.
                body = request.get_data(cache=True)
            status, answer = receiver.handle(headers, body)
        return answer, status, {"Content-Type": "text/plain"}

    view.receiver = receiver  # type: ignore[attr-defined]
    view.metrics = receiver.metrics  # type: ignore[attr-defined]
    # Flask answers OPTIONS itself (200 with an Allow header) unless told not to; the other
    # receivers answer 405 to any method but GET and POST (docs/receiving.md).
    view.provide_automatic_options = False  # type: ignore[attr-defined]
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
    bp.add_url_rule(path, endpoint="webhook", view_func=view, methods=_METHODS)
    bp.receiver = view.receiver  # type: ignore[attr-defined]
    bp.metrics = view.receiver.metrics  # type: ignore[attr-defined]
    return bp
