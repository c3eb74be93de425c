"""wa360.Inbox from Python: URLs, the consumer API, the Flask blueprint with an inbox (threads),
a store that fails answering 503, and graceful close releasing what is still held."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import wa360
from conftest import (
    fork_a_child_that_exits,
    in_forked_child,
    lock_in_another_process,
    read_and_close_in_another_process,
)
from flask import Flask
from wa360.receivers import WebhookReceiver, flask_blueprint
from wa360.testing import inbound_text, status


def test_unknown_scheme_and_bad_options_are_invalid_argument() -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Inbox("postgres://localhost:5432")
    assert e.value.field == "inbox" and "postgres" in str(e.value)
    with pytest.raises(wa360.InvalidArgumentError) as e:
        wa360.Inbox("memory://?lease_ms=abc")
    assert e.value.field == "inbox.lease_ms"


def test_claim_sizes_and_listing_limits_out_of_range_are_invalid_argument() -> None:
    inbox = wa360.Inbox("memory://")
    r = wa360._native.Receiver(inbox=inbox)
    assert r.handle("POST", "", {}, inbound_text("1555", "x", "wamid.M1"))[0] == 200
    c = inbox.consumer()
    # -1 used to be Python's own OverflowError; 0 claimed nothing and waited out the timeout.
    for bad in (0, -1, 1001):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            c.next(bad, 0.01)
        assert e.value.field == "max" and "1 to 1000" in str(e.value), bad
    # Not an int (PyO3's TypeError before; True was taken as 1).
    for bad_type in (1.5, "2", True, None):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            c.next(bad_type, 0.01)  # type: ignore[arg-type]
        assert e.value.field == "max", bad_type
    for bad_limit in (-1, 2.0):
        with pytest.raises(wa360.InvalidArgumentError) as e:
            inbox.dead(bad_limit)  # type: ignore[arg-type]
        assert e.value.field == "limit"
    (d,) = c.next(1000, 1.0)
    assert d.event.id == "wamid.M1" and c.ack(d.id) is True


def test_consumer_claims_acks_and_nacks_to_dead_letters() -> None:
    inbox = wa360.Inbox("memory://?max_attempts=2&retry_base_ms=0")
    r = wa360._native.Receiver(inbox=inbox)
    assert r.handle("POST", "", {}, inbound_text("1555", "x", "wamid.C1"))[0] == 200
    c = inbox.consumer()
    (d,) = c.next(5, 1.0)
    assert (d.event.id, d.attempt, d.conversation) == (
        "wamid.C1",
        1,
        f"{d.event.phone_number_id}:1555",
    )
    assert c.nack(d.id, "boom") == "retry"
    (d,) = c.next(5, 1.0)
    assert c.nack(d.id, "boom again") == "dead"
    (dead,) = inbox.dead()
    assert dead["last_error"] == "boom again" and dead["attempts"] == 2
    assert inbox.replay(dead["id"]) == 1
    (d,) = c.next(5, 1.0)
    assert c.ack(d.id) is True
    assert inbox.stats()["handled"] == 1


def test_flask_blueprint_with_an_inbox_hands_events_to_worker_threads_and_retries() -> None:
    seen: list[str] = []
    failures = {"wamid.F2": 1}
    lock = threading.Lock()

    def on_events(events: list[wa360.Event]) -> None:
        for e in events:
            ident = str(getattr(e, "id", ""))
            with lock:
                if failures.get(ident, 0) > 0:
                    failures[ident] -= 1
                    raise RuntimeError("first try fails")
                seen.append(ident)

    app = Flask(__name__)
    bp = flask_blueprint(on_events, inbox="memory://?retry_base_ms=10", insecure_skip_verify=True)
    app.register_blueprint(bp)
    http = app.test_client()
    for w in ("wamid.F1", "wamid.F2", "wamid.F1"):
        assert http.post("/webhook", data=inbound_text("15550009999", "x", w)).status_code == 200
    receiver: WebhookReceiver = bp.receiver  # type: ignore[attr-defined]
    assert receiver.join(timeout=10)
    assert seen == ["wamid.F1", "wamid.F2"], "once each, in order, the failure retried"
    assert receiver.close(1.0) == 0


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for this error")


def test_a_handler_error_whose_text_is_not_utf8_or_not_printable_is_retried() -> None:
    """A lone surrogate in the error text (json.loads of "\\ud800", surrogateescape names) or an
    exception whose str() raises: the failure is still reported, retried and then handled, and the
    next event of that conversation runs. (Before, the report failed, the event stayed held with
    its lease renewed for good, and its conversation stopped.)"""
    calls: list[str] = []
    failures = {"first": 1, "second": 1}
    lock = threading.Lock()

    def on_events(events: list[wa360.Event]) -> None:
        for e in events:
            text = str(getattr(e, "text", ""))
            with lock:
                calls.append(text)
                if failures.get(text, 0) > 0:
                    failures[text] -= 1
                    if text == "first":
                        raise ValueError("cannot handle " + json.loads('"\\ud800"'))
                    raise _Unprintable()

    inbox = wa360.Inbox("memory://?retry_base_ms=10&retry_max_ms=10")
    r = WebhookReceiver(on_events, insecure_skip_verify=True, inbox=inbox, concurrency=1)
    assert r.handle({}, inbound_text("15555550123", "first", "wamid.S1"))[0] == 200
    assert r.handle({}, inbound_text("15555550123", "second", "wamid.S2"))[0] == 200
    assert r.join(timeout=10), (calls, inbox.stats())
    assert calls == ["first", "first", "second", "second"]
    assert inbox.stats()["handled"] == 2 and inbox.dead() == []
    assert r.close(1.0) == 0


def test_nack_takes_text_with_lone_surrogates() -> None:
    inbox = wa360.Inbox("memory://?max_attempts=1")
    r = wa360._native.Receiver(inbox=inbox)
    assert r.handle("POST", "", {}, inbound_text("1555", "x", "wamid.U1"))[0] == 200
    c = inbox.consumer()
    (d,) = c.next(5, 1.0)
    assert c.nack(d.id, "bad \ud800 text") == "dead"
    (dead,) = inbox.dead()
    assert dead["last_error"] == "bad \ufffd text"


def test_close_stays_closed_for_deliveries_until_start(tmp_path: Path) -> None:
    """A drain (close() while the server still takes deliveries) stores them without running
    handlers, as in Node; an explicit start() runs them. Before, the next delivery restarted
    the consumers."""
    seen: list[str] = []
    r = WebhookReceiver(
        lambda events: seen.extend(str(getattr(e, "id", "")) for e in events),
        insecure_skip_verify=True,
        inbox=f"sqlite://{tmp_path / 'inbox.db'}",
    )
    r.start()
    assert r.close(1.0) == 0
    assert r.handle({}, inbound_text("15555550123", "x", "wamid.AFTER1"))[0] == 200
    time.sleep(1.0)
    assert seen == []
    assert r.inbox is not None and r.inbox.stats()["ready"] == 1
    r.start()
    assert r.join(timeout=10)
    assert seen == ["wamid.AFTER1"]
    assert r.close(1.0) == 0


def test_a_store_that_fails_answers_503(tmp_path: Path) -> None:
    db = tmp_path / "inbox.db"
    receiver = WebhookReceiver(
        lambda events: None, inbox=f"sqlite://{db}?busy_timeout_ms=100", insecure_skip_verify=True
    )
    # The lock is held by another process: two SQLite libraries in one process (Python's and
    # the bundled one) do not see each other's POSIX locks.
    holder = lock_in_another_process(db)
    body = status("wamid.L1", "delivered")
    try:
        assert receiver.accept({}, body)[0] == 503
    finally:
        holder.communicate(b"", timeout=30)
    status_code, _, events = receiver.accept({}, body)
    assert (status_code, len(events)) == (200, 1), "stored when 360dialog delivers again"


def test_close_lets_running_handlers_finish_within_the_grace_then_releases() -> None:
    gate = threading.Event()
    started = threading.Event()

    def slow(events: list[wa360.Event]) -> None:
        started.set()
        gate.wait(10)

    receiver = WebhookReceiver(slow, inbox="memory://", concurrency=1, insecure_skip_verify=True)
    receiver.handle({}, inbound_text("1555", "x", "wamid.S1"))
    assert started.wait(10)
    t0 = time.monotonic()
    assert receiver.close(grace=0.3) == 1, "still running after the grace: released"
    assert time.monotonic() - t0 < 5
    assert receiver.inbox is not None and receiver.inbox.stats()["ready"] == 1
    gate.set()


def test_a_forked_child_that_drops_its_parents_consumer_exits(tmp_path: Path) -> None:
    # gunicorn --preload / Flask: consumers made in the master are inherited by each forked
    # worker. The worker dropping them at exit must not wait for the lease-renewal thread,
    # which exists only in the parent.

    inbox = wa360.Inbox(f"sqlite://{tmp_path}/inbox.db")
    consumer = inbox.consumer()
    pid = os.fork()
    if pid == 0:  # the child: drop the inherited consumer, then exit
        try:
            del consumer
            import gc

            gc.collect()
        finally:
            os._exit(0)
    assert exit_code_within(pid, 15, "the child hung dropping its parent's consumer") == 0
    consumer.close()


def exit_code_within(pid: int, seconds: float, hung: str) -> int:
    """The exit code of child `pid`; killed, and the test failed with `hung`, past `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail(hung)
        time.sleep(0.01)


def test_a_handler_that_is_cancelled_gives_its_event_back_and_the_conversation_goes_on() -> None:
    # A handler raising CancelledError (a BaseException, not an Exception) used to leave its
    # event held and renewed for good: never retried, and the contact's later events queued
    # behind it until a restart.
    import asyncio

    seen: list[str] = []
    cancelled = {"wamid.X1": 1}

    async def on_events(events: list[wa360.Event]) -> None:
        for e in events:
            ident = str(getattr(e, "id", ""))
            if cancelled.get(ident, 0) > 0:
                cancelled[ident] -= 1
                raise asyncio.CancelledError()
            seen.append(ident)

    receiver = WebhookReceiver(
        on_events,
        inbox="memory://?lease_ms=1000&retry_base_ms=10",
        concurrency=2,
        insecure_skip_verify=True,
    )

    async def main() -> None:
        for w in ("wamid.X1", "wamid.X2"):
            status, _ = await receiver.handle_async({}, inbound_text("15550001111", "x", w))
            assert status == 200
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await receiver.aclose(1.0)

    asyncio.run(main())
    assert seen == ["wamid.X1", "wamid.X2"], "retried, then the next event of the contact"


def test_async_handlers_run_up_to_concurrency_at_once_and_never_more() -> None:
    # The claiming thread takes as many events per claim as there are free slots: every
    # slot is used, none twice, and each event is handled once.
    import asyncio

    running = 0
    most = 0
    seen: list[str] = []

    async def on_events(events: list[wa360.Event]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        seen.extend(str(getattr(e, "id", "")) for e in events)

    receiver = WebhookReceiver(
        on_events, inbox="memory://", concurrency=3, insecure_skip_verify=True
    )

    async def main() -> None:
        for i in range(20):  # 20 conversations: nothing orders them
            body = inbound_text(f"155500030{i:02d}", "x", f"wamid.C{i}")
            assert (await receiver.handle_async({}, body))[0] == 200
        deadline = time.monotonic() + 20
        while len(seen) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await receiver.aclose(1.0)

    asyncio.run(main())
    assert sorted(seen) == sorted(f"wamid.C{i}" for i in range(20))
    assert most == 3, most


def test_a_sync_handler_raising_a_base_exception_keeps_its_consumer_thread() -> None:
    seen: list[str] = []
    lock = threading.Lock()
    raised = {"n": 0}

    def on_events(events: list[wa360.Event]) -> None:
        with lock:
            if raised["n"] == 0:
                raised["n"] += 1
                raise SystemExit(3)
            seen.extend(str(getattr(e, "id", "")) for e in events)

    receiver = WebhookReceiver(
        on_events,
        inbox="memory://?lease_ms=1000&retry_base_ms=10",
        concurrency=1,
        insecure_skip_verify=True,
    )
    receiver.handle({}, inbound_text("15550002222", "x", "wamid.Y1"))
    receiver.handle({}, inbound_text("15550002222", "x", "wamid.Y2"))
    assert receiver.join(timeout=10), "the one consumer thread goes on"
    assert seen == ["wamid.Y1", "wamid.Y2"]
    assert receiver.close(1.0) == 0


def test_an_async_handler_past_handler_timeout_is_cancelled_and_its_event_retried() -> None:
    # Without a deadline, a handler that never returns holds its event and the contact's
    # later events for as long as the process lives.
    import asyncio

    seen: list[str] = []
    cancelled: list[str] = []

    async def on_events(events: list[wa360.Event]) -> None:
        ident = str(getattr(events[0], "id", ""))
        if ident == "wamid.H1" and not cancelled:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.append(ident)
                raise
        seen.append(ident)

    receiver = WebhookReceiver(
        on_events,
        inbox="memory://?retry_base_ms=10",
        concurrency=2,
        handler_timeout=0.3,
        insecure_skip_verify=True,
    )

    async def main() -> None:
        for w in ("wamid.H1", "wamid.H2"):
            status, _ = await receiver.handle_async({}, inbound_text("15550003333", "x", w))
            assert status == 200
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert await receiver.aclose(1.0) == 0

    asyncio.run(main())
    assert cancelled == ["wamid.H1"], "the first call was cancelled at the deadline"
    assert seen == ["wamid.H1", "wamid.H2"], "retried, then the next event of the contact"


def test_a_sync_handler_past_handler_timeout_is_interrupted_then_dead_lettered() -> None:
    calls: list[str] = []
    interrupted: list[str] = []
    lock = threading.Lock()

    def on_events(events: list[wa360.Event]) -> None:
        ident = str(getattr(events[0], "id", ""))
        with lock:
            calls.append(ident)
        if ident == "wamid.T1":
            try:
                while True:  # busy in Python: interrupted at a line
                    time.sleep(0.01)
            except TimeoutError:
                with lock:
                    interrupted.append(ident)
                raise

    receiver = WebhookReceiver(
        on_events,
        inbox="memory://?retry_base_ms=10&max_attempts=2",
        concurrency=1,
        handler_timeout=0.2,
        insecure_skip_verify=True,
    )
    receiver.handle({}, inbound_text("15550004444", "x", "wamid.T1"))
    receiver.handle({}, inbound_text("15550004444", "x", "wamid.T2"))
    assert receiver.join(timeout=10), "the one consumer thread goes on"
    assert receiver.inbox is not None
    deadline = time.monotonic() + 10
    while "wamid.T2" not in calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert calls == ["wamid.T1", "wamid.T1", "wamid.T2"]
    assert interrupted == ["wamid.T1", "wamid.T1"]
    dead = receiver.inbox.dead()
    assert [(x["attempts"], x["last_error"]) for x in dead] == [
        (2, "TimeoutError: the handler did not finish within handler_timeout (0.2 s)")
    ]
    assert receiver.close(1.0) == 0


def _looping_receiver(
    timeout: float,
    interrupted: list[str],
    release: threading.Event | None = None,
    started: threading.Event | None = None,
    max_attempts: int = 1,
) -> WebhookReceiver:
    """A receiver whose handler runs in Python until interrupted (or until `release`)."""

    def on_events(events: list[wa360.Event]) -> None:
        if started is not None:
            started.set()
        try:
            while release is None or not release.is_set():
                time.sleep(0.01)
        except TimeoutError:
            interrupted.append(str(getattr(events[0], "id", "")))
            raise

    return WebhookReceiver(
        on_events,
        inbox=f"memory://?retry_base_ms=10&max_attempts={max_attempts}",
        concurrency=1,
        handler_timeout=timeout,
        insecure_skip_verify=True,
    )


def _wait(cond: Callable[[], bool], timeout: float = 10) -> bool:
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


def test_a_short_handler_timeout_fires_while_a_huge_one_of_another_receiver_waits() -> None:
    # Every receiver's deadlines share one watcher thread per process: a 0.2 s deadline armed
    # after a longer one must still fire at 0.2 s. The longer one is "practically none"
    # (1e10 s, past threading.TIMEOUT_MAX): waiting for it once ended the watcher, and no
    # deadline of the process fired again.
    release = threading.Event()
    started = threading.Event()
    slow: list[str] = []
    fast: list[str] = []
    a = _looping_receiver(1e10, slow, release, started)
    b = _looping_receiver(0.2, fast)
    try:
        a.handle({}, inbound_text("15550005551", "x", "wamid.SLOW"))
        assert started.wait(10), "the long call runs, its deadline armed"
        time.sleep(0.05)  # the watcher is waiting for the long deadline
        b.handle({}, inbound_text("15550005552", "x", "wamid.FAST"))
        assert _wait(lambda: fast == ["wamid.FAST"]), "the short deadline fired"
        assert slow == [], "the long deadline has not fired"
    finally:
        release.set()
        assert a.close(2.0) == 0
        assert b.close(2.0) == 0


def test_handler_timeout_works_in_a_child_forked_while_the_watcher_held_its_lock() -> None:
    # The watcher thread does not survive a fork (gunicorn --preload forks after the app ran),
    # and a fork while it held its lock left that lock held in the child: the child must get
    # a new lock and thread, or no handler of the child would ever be interrupted.
    from wa360.receivers import _WATCHER

    interrupted: list[str] = []
    parent = _looping_receiver(0.1, interrupted)
    parent.handle({}, inbound_text("15550005553", "x", "wamid.P"))
    assert _wait(lambda: interrupted == ["wamid.P"]), "fires in the parent"
    assert parent.close(2.0) == 0

    def child() -> str:
        seen: list[str] = []
        r = _looping_receiver(0.1, seen)
        r.handle({}, inbound_text("15550005554", "x", "wamid.C"))
        ok = _wait(lambda: seen == ["wamid.C"])
        r.close(2.0)
        return f"{ok} {seen}"

    with _WATCHER.cond:
        said = in_forked_child(child)
    assert said == "True ['wamid.C']", said


def test_a_watcher_that_could_not_start_is_started_by_the_next_call() -> None:
    # No thread could be made once (a pids limit; interpreter shutdown on 3.12): that call
    # fails (retried), and the next one starts the watcher. It used to count as started,
    # and no deadline of the process fired again. In a child: this process's watcher runs.
    def child() -> str:
        real_start = threading.Thread.start
        refused: list[str] = []

        def start_once_refused(self: threading.Thread) -> None:
            if self.name == "wa360-deadlines" and not refused:
                refused.append(self.name)
                raise RuntimeError("can't start new thread")
            real_start(self)

        threading.Thread.start = start_once_refused  # type: ignore[method-assign]
        seen: list[str] = []
        r = _looping_receiver(0.1, seen, max_attempts=2)
        r.handle({}, inbound_text("15550005555", "x", "wamid.S"))
        ok = _wait(lambda: seen == ["wamid.S"])
        r.close(2.0)
        return f"{ok} {refused} {seen}"

    said = in_forked_child(child)
    assert said == "True ['wa360-deadlines'] ['wamid.S']", said


def test_finished_calls_behind_a_long_running_deadline_do_not_pile_up() -> None:
    # A running call with handler_timeout=1e10 sits at the top of the watcher's heap: the
    # deadlines of the calls that finished behind it were kept for good (430 bytes a call).
    import types

    from wa360.receivers import _WATCHER, _ThreadDeadline

    event = types.SimpleNamespace(id="wamid.LONG")
    head = _ThreadDeadline(1e10, event)  # type: ignore[arg-type]
    head.arm()
    try:
        for _ in range(20_000):
            d = _ThreadDeadline(1e10, event)  # type: ignore[arg-type]
            d.arm()
            d.disarm()
        assert len(_WATCHER.heap) < 1_000, len(_WATCHER.heap)
    finally:
        head.disarm()


def test_a_deadline_whose_firing_raises_leaves_the_watcher_firing_the_next() -> None:
    # The watcher thread serves every receiver of the process: an exception while firing one
    # deadline (a log handler raising, even SystemExit) must not end it.
    import types

    from wa360.receivers import _ThreadDeadline

    class Raising(_ThreadDeadline):
        def _fire(self) -> None:
            raise SystemExit("raised while firing")

    # A hung call whose deadline is already armed: nothing else would start a new watcher.
    seen: list[str] = []
    started = threading.Event()
    r = _looping_receiver(0.5, seen, started=started)
    r.handle({}, inbound_text("15550005556", "x", "wamid.AFTER"))
    assert started.wait(10)
    Raising(0.05, types.SimpleNamespace(id="wamid.R")).arm()  # type: ignore[arg-type]
    assert _wait(lambda: seen == ["wamid.AFTER"]), "the hung call's deadline fired"
    assert r.close(2.0) == 0


def test_a_deadline_that_fires_at_once_never_ends_the_consumer_thread() -> None:
    # The deadline used to be armed before the handler's `try`: one that fired while the
    # consumer thread was still starting its timer raised outside every `try`, the thread
    # ended, and its claimed event stayed in flight (lease renewed) with the rest queued
    # behind it. A deadline far below a thread's start-up time lands there nearly every call.
    handled: list[str] = []

    def on_events(events: list[wa360.Event]) -> None:
        handled.append(str(getattr(events[0], "id", "")))

    receiver = WebhookReceiver(
        on_events,
        inbox="memory://?retry_base_ms=1&max_attempts=2",
        concurrency=1,
        handler_timeout=0.000001,
        insecure_skip_verify=True,
    )
    n = 60
    for i in range(n):
        receiver.handle({}, inbound_text(f"1555000{i:04d}", "x", f"wamid.D{i}"))
    assert receiver.join(timeout=30), "every event handled or dead-lettered, none held"
    assert receiver.inbox is not None
    stats = receiver.inbox.stats()
    assert stats["handled"] + stats["dead"] == n, stats
    assert receiver.close(1.0) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("handler_timeout", 0),
        ("handler_timeout", -1),
        ("handler_timeout", "5"),
        ("handler_timeout", float("inf")),
        ("concurrency", 0),
        ("concurrency", "4"),
        ("concurrency", 2.5),
        ("concurrency", True),
        ("shutdown_grace", None),
        ("shutdown_grace", "10"),
        ("shutdown_grace", -1),
        ("shutdown_grace", float("inf")),
        ("shutdown_grace", float("nan")),
        ("start_consumers", "no"),
        ("body_timeout", 0),
        ("body_timeout", float("nan")),
        ("body_timeout", "10"),
    ],
)
def test_bad_receiver_options_are_invalid_argument_at_construction(
    field: str, value: object
) -> None:
    with pytest.raises(wa360.InvalidArgumentError) as e:
        WebhookReceiver(
            lambda events: None,
            inbox="memory://",
            insecure_skip_verify=True,
            **{field: value},  # type: ignore[arg-type]
        )  # type: ignore[arg-type]
    assert e.value.field == field, e.value


def test_a_fork_while_other_threads_are_inside_sqlite_leaves_the_child_able_to_use_it(
    tmp_path: Path,
) -> None:
    # gunicorn --preload: the master's consumers use their SQLite inbox while it forks the
    # workers. A thread inside SQLite at the fork, holding one of its process-wide locks
    # (its allocator's, its file locks'), left that lock held for good in the child, whose
    # first open of an inbox then blocked: a worker that took connections and answered none.
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            wa360.Inbox(f"sqlite://{tmp_path}/busy.db").stats()

    threads = [threading.Thread(target=busy) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(60):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    wa360.Inbox(f"sqlite://{tmp_path}/child{i}.db").stats()
                    code = 0
                finally:
                    os._exit(code)
            hung = f"child {i} hung opening an inbox after the fork"
            assert exit_code_within(pid, 10, hung) == 0, f"child {i}"
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_a_forked_childs_events_survive_the_parent_closing_the_inbox(tmp_path: Path) -> None:
    # An inbox made before a fork, used in the child, and the parent then lets go of its own
    # (a script that forks its workers and drops the inbox it made first). The child's
    # connection shared SQLite's record of the file with the parent's and took no lock of its
    # own: the parent's close found no other process on the file, checkpointed and deleted
    # the write-ahead log, and the events the child stored after that were lost, each one
    # already answered 200.
    import gc
    import sqlite3

    url = f"sqlite://{tmp_path}/in.db"
    inbox = wa360.Inbox(url)
    r = wa360._native.Receiver(inbox=inbox)
    assert r.handle("POST", "", {}, inbound_text("1555", "parent", "wamid.P0"))[0] == 200
    (r1, w1), (r2, w2) = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: stores one event, waits for the parent's close, stores more
        code = 1
        try:
            assert r.handle("POST", "", {}, inbound_text("1555", "a", "wamid.C0"))[0] == 200
            os.write(w1, b"x")
            os.read(r2, 1)
            for i in range(1, 4):
                body = inbound_text("1555", "b", f"wamid.C{i}")
                assert r.handle("POST", "", {}, body)[0] == 200
            code = 0
        finally:
            os._exit(code)
    os.read(r1, 1)
    # The parent's inbox still works after the fork, then it lets go.
    assert inbox.stats()["ready"] == 2
    del r, inbox
    gc.collect()
    os.write(w2, b"x")
    assert exit_code_within(pid, 30, "the child hung") == 0
    for f in (r1, w1, r2, w2):
        os.close(f)
    assert wa360.Inbox(url).stats()["ready"] == 5
    with sqlite3.connect(tmp_path / "in.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_process_alone_on_its_inbox_file_still_stores_after_it_forks(tmp_path: Path) -> None:
    # The inbox's connections are closed at every fork. In a process alone on the file, that
    # close was the file's last: SQLite deleted the write-ahead log and its index, the next
    # connection made new ones, and the inbox's check of them (a file replaced underneath)
    # answered every delivery after the fork 503, until a restart. (The test keeps the old
    # log's inode alive, so that a log made again cannot get its number back.)
    url = f"sqlite://{tmp_path}/in.db"
    inbox = wa360.Inbox(url)
    r = wa360._native.Receiver(inbox=inbox)
    assert r.handle("POST", "", {}, inbound_text("1555", "before", "wamid.B0"))[0] == 200
    with open(tmp_path / "in.db-wal", "rb"):
        for i in range(3):
            fork_a_child_that_exits()
            body = inbound_text("1555", "after", f"wamid.A{i}")
            assert r.handle("POST", "", {}, body)[0] == 200, i
        assert inbox.stats()["ready"] == 4
        del r, inbox


def test_after_a_fork_another_program_closing_the_file_last_does_not_stop_deliveries(
    tmp_path: Path,
) -> None:
    # After a fork this process has no connection open until its next use. Another program
    # (another process with Python's sqlite3 module, as the sqlite3 shell or a monitoring
    # script would) closing the file then is its last user, and deletes the log and its
    # index. The inbox took that for a file replaced underneath and answered 503 to every
    # delivery. (The test keeps the old log's inode alive, so that a log made again cannot
    # get its number back.)
    url = f"sqlite://{tmp_path}/in.db"
    inbox = wa360.Inbox(url)
    r = wa360._native.Receiver(inbox=inbox)
    with open(tmp_path / "in.db-wal", "rb"):
        fork_a_child_that_exits()
        read_and_close_in_another_process(tmp_path / "in.db")
        assert not (tmp_path / "in.db-wal").exists(), "the other program did not close last"
        assert r.handle("POST", "", {}, inbound_text("1555", "after", "wamid.A0"))[0] == 200
        assert inbox.stats()["ready"] == 1
        del r, inbox


def test_a_backup_restored_over_a_cleanly_closed_inbox_file_is_read_as_it_was(
    tmp_path: Path,
) -> None:
    # The log and its index stay beside the file after the last close (see the fork tests
    # above). Left full, the log of a later run was replayed onto a backup copied over the
    # file, which came up malformed. The last close empties it.
    import gc
    import shutil
    import sqlite3

    url = f"sqlite://{tmp_path}/in.db"

    def deliver(ids: range) -> None:
        inbox = wa360.Inbox(url)
        r = wa360._native.Receiver(inbox=inbox)
        for i in ids:
            body = inbound_text("1555", "x" * 200, f"wamid.R{i}")
            assert r.handle("POST", "", {}, body)[0] == 200
        del r, inbox
        gc.collect()

    deliver(range(3))
    assert (tmp_path / "in.db-wal").stat().st_size == 0
    shutil.copy(tmp_path / "in.db", tmp_path / "backup.db")
    deliver(range(3, 300))
    shutil.copy(tmp_path / "backup.db", tmp_path / "in.db")  # -wal and -shm left as they are
    with sqlite3.connect(tmp_path / "in.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert wa360.Inbox(url).stats()["ready"] == 3


def test_after_a_fork_an_inbox_does_not_open_another_file_moved_to_its_path(
    tmp_path: Path,
) -> None:
    # A fork closes the inbox's connections. Another inbox file moved to its path meanwhile
    # was opened again in its place (reads answered from it); every use now fails as the
    # accept's check does, and deliveries are answered 503.
    import shutil

    url = f"sqlite://{tmp_path}/in.db"
    inbox = wa360.Inbox(url)
    r = wa360._native.Receiver(inbox=inbox)
    assert r.handle("POST", "", {}, inbound_text("1555", "ours", "wamid.O0"))[0] == 200
    other = wa360._native.Receiver(inbox=wa360.Inbox(f"sqlite://{tmp_path}/other.db"))
    for i in range(3):
        assert other.handle("POST", "", {}, inbound_text("1555", "x", f"wamid.X{i}"))[0] == 200
    del other
    fork_a_child_that_exits()
    shutil.move(tmp_path / "other.db", tmp_path / "in.db")
    for name in ("in.db-wal", "in.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with pytest.raises(wa360.StoreError, match="replaced"):
        inbox.stats()
    assert r.handle("POST", "", {}, inbound_text("1555", "ours", "wamid.O1"))[0] == 503
    del r, inbox
    assert wa360.Inbox(url).stats()["ready"] == 3
