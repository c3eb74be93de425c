"""Runtime behaviour: the GIL is released during a blocking call, many async sends run
concurrently on the shared runtime, and fork() never leaves a client hanging."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest
import wa360
from wa360.testing import Sandbox

TO = "15555550123"


def test_sync_call_releases_the_gil(sb: Sandbox) -> None:
    client = wa360.Client(sb.api_key, base_url=sb.url)
    sb.fault("delay", ms=800)  # the sandbox holds the answer for 0.8 s
    counted = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal counted
        while not stop.is_set():
            counted += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)  # let the counter start
        before = counted
        started = time.monotonic()
        resp = client.send_text(TO, "slow")
        elapsed = time.monotonic() - started
        during = counted - before
    finally:
        stop.set()
        t.join()
    assert resp.message_id
    assert elapsed >= 0.7
    # With the GIL held for 0.8 s the other thread could not run at all; released, a pure
    # Python loop gets through a great many iterations.
    assert during > 10_000, during


def test_async_sends_run_concurrently(sb: Sandbox) -> None:
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url)
    sb.fault("delay", ms=500, count=20)

    async def main() -> list[wa360.SendResponse]:
        return await asyncio.gather(*(client.send_text(TO, f"m{i}") for i in range(20)))

    started = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - started
    assert len({r.message_id for r in results}) == 20
    assert len(sb.requests(path="/messages")) == 20
    # 20 sends delayed 0.5 s each finish together, not one after another (10 s).
    assert elapsed < 5.0, elapsed


def test_every_async_result_reaches_its_own_awaiter(sb: Sandbox) -> None:
    # Results come back to the loop in batches (docs/performance.md §5): each awaiter
    # must still get the answer to its own request.
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url)
    to = [f"1555555{i:04d}" for i in range(300)]

    async def main() -> list[wa360.SendResponse]:
        return await asyncio.gather(*(client.send_text(n, "x") for n in to))

    results = asyncio.run(main())
    assert [r.contacts[0]["input"] for r in results] == to
    assert len({r.message_id for r in results}) == 300


def test_a_cancelled_async_send_ends_cleanly(sb: Sandbox) -> None:
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url, max_retries=0)
    sb.fault("delay", ms=600)
    unraisable: list[object] = []
    loop_errors: list[dict[str, object]] = []

    async def main() -> wa360.SendResponse:
        asyncio.get_running_loop().set_exception_handler(lambda _l, ctx: loop_errors.append(ctx))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.send_text(TO, "slow"), 0.1)
        await asyncio.sleep(1.0)  # past the time the answer would have come
        return await client.send_text(TO, "after")

    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        after = asyncio.run(main())
    finally:
        sys.unraisablehook = old_hook
    assert after.message_id
    assert unraisable == [] and loop_errors == []
    # The cancelled request was dropped (its task aborted), not left to finish unseen.
    assert client.metrics()["requests"] == {"ok": 1}


def test_async_clients_work_on_several_loops_and_threads(sb: Sandbox) -> None:
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url)

    async def send(text: str) -> str | None:
        return (await client.send_text(TO, text)).message_id

    # One loop after another in this thread, then loops in other threads at the same time.
    assert asyncio.run(send("first loop"))
    assert asyncio.run(send("second loop"))
    got: list[str | None] = []
    threads = [
        threading.Thread(target=lambda i=i: got.append(asyncio.run(send(f"thread {i}"))))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(got) == 4 and all(got)


class _SlowRegisteringLoop(asyncio.SelectorEventLoop):
    """A loop whose add_reader releases the GIL for a while (Python code may switch threads)."""

    def add_reader(self, fd, callback, *args):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return super().add_reader(fd, callback, *args)


def test_new_loops_registering_at_once_in_two_threads_do_not_deadlock(sb: Sandbox) -> None:
    # Registering a new loop runs Python code (add_reader, is_closed); no lock may be held
    # across it, or a second thread registering at the same time would wait for it forever.
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url)
    got: list[str | None] = []

    async def send(i: int) -> str | None:
        return (await client.send_text(TO, f"t{i}")).message_id

    def run(i: int) -> None:
        loop = _SlowRegisteringLoop()
        try:
            got.append(loop.run_until_complete(send(i)))
        finally:
            loop.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a thread is stuck registering its loop"
    assert len(got) == 2 and all(got)


def test_async_error_arrives_at_await(sb: Sandbox) -> None:
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url, max_retries=0)
    sb.fault("meta_error", code=131047)

    async def main() -> None:
        await client.send_text(TO, "late")

    with pytest.raises(wa360.WindowClosedError):
        asyncio.run(main())


def test_async_method_needs_a_running_loop(sb: Sandbox) -> None:
    client = wa360.AsyncClient(sb.api_key, base_url=sb.url)
    with pytest.raises(RuntimeError):
        client.send_text(TO, "no loop")


@pytest.mark.skipif(sys.platform == "win32", reason="fork() is POSIX")
def test_fork_child_gets_a_clear_error_then_works_with_a_new_client(sb: Sandbox) -> None:
    client = wa360.Client(sb.api_key, base_url=sb.url, timeout=5.0)
    assert client.send_text(TO, "parent").message_id  # the runtime is running in the parent
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        code = 1
        try:
            try:
                client.send_text(TO, "inherited")
                os.write(w, b"inherited client worked?!")
            except wa360.ConfigurationError as e:
                assert "fork" in str(e)
                fresh = wa360.Client(sb.api_key, base_url=sb.url, timeout=5.0)
                if fresh.send_text(TO, "child").message_id:
                    os.write(w, b"ok")
                    code = 0
        except BaseException as e:  # noqa: BLE001
            os.write(w, repr(e).encode())
        finally:
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as f:
        report = f.read().decode()
    assert report == "ok" and os.waitstatus_to_exitcode(status) == 0, report


EXIT_SCRIPT = """
import asyncio, threading, wa360
from wa360.testing import Sandbox
sb = Sandbox()
sb.fault("delay", ms=5000, count=0)
c = wa360.Client(sb.api_key, base_url=sb.url)
ac = wa360.AsyncClient(sb.api_key, base_url=sb.url)
threading.Thread(target=lambda: c.send_text("15555550123", "x"), daemon=True).start()
async def main():
    asyncio.ensure_future(ac.send_text("15555550123", "y"))
    await asyncio.sleep(0.3)
asyncio.run(main())
print("exiting with requests in flight")
"""


def test_interpreter_exit_with_requests_in_flight() -> None:
    import subprocess

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "exiting with requests in flight" in done.stdout
    # It did not wait for the 5 s responses (no hang on the in-flight requests).
    assert time.monotonic() - started < 5.0


SYNC_FROM_RUNTIME_SCRIPT = """
import asyncio, logging, os, tempfile, threading
import wa360
from wa360.testing import Sandbox
sb = Sandbox()
alerts = wa360.Client(sb.api_key, base_url=sb.url)
sent = []
class Alert(logging.Handler):
    # Sends an alert with the sync client for each wa360 warning. wa360 logs from its own
    # I/O threads: the send must not wait for the thread it runs on.
    def emit(self, record):
        if record.levelno >= logging.WARNING and record.name.startswith("wa360"):
            sent.append(alerts.send_text("15555550100", "alert: " + record.getMessage()[:80]))
log = logging.getLogger("wa360")
log.addHandler(Alert())
log.setLevel(logging.WARNING)
bad = wa360.AsyncClient("wrong-key", base_url=sb.url, max_retries=0)
async def main():
    return await asyncio.gather(*[bad.send_text("15555550123", "x") for _ in range(4)],
                                return_exceptions=True)
results = asyncio.run(asyncio.wait_for(main(), 30))
assert all(isinstance(r, wa360.AuthenticationError) for r in results), results
assert len(sent) >= 4, sent
log.handlers.clear()
# A broadcast progress callback that notifies the operator with the same sync client.
camp = wa360.Campaign("hello_world", "en", [(f"1555555{i:04d}", []) for i in range(5)])
ledger = wa360.Ledger(f"sqlite:///{tempfile.mkdtemp()}/l.db", camp)
notes = []
def progress(p):
    if not notes:
        notes.append(alerts.send_text("15555550100", "campaign started"))
summary = alerts.broadcast(camp, ledger, progress=progress)
assert notes and summary["counts"]["accepted"] == 5, (notes, summary)
# An alert handler whose own send fails too (the same outage): that send's warning comes back
# to the handler, whose lock the thread waiting for the send holds.
failing = wa360.Client("also-wrong", base_url=sb.url, max_retries=0)
tried = []
class FailingAlert(logging.Handler):
    def emit(self, record):
        tried.append(record.getMessage())
        try:
            failing.send_text("15555550100", "alert")
        except wa360.AuthenticationError:
            pass
h = FailingAlert()
h.setLevel(logging.WARNING)
log.addHandler(h)
log.setLevel(logging.INFO)
bad_sync = wa360.Client("wrong-key", base_url=sb.url, max_retries=0)
for _ in range(3):
    try:
        bad_sync.send_text("15555550123", "x")
    except wa360.AuthenticationError:
        pass
assert len(tried) == 3, tried  # one per failed send: the alert's own warning is not forwarded
print("ok", len(sent), len(notes))
os._exit(0)
"""


def test_a_sync_call_from_code_wa360_runs_on_its_own_threads_does_not_hang() -> None:
    """A logging handler or a broadcast progress callback runs on wa360's I/O threads; a sync
    call made there waited for a task queued behind itself (every send of the process hung
    once both threads did it)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", SYNC_FROM_RUNTIME_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.startswith("ok"), (done.stdout, done.stderr[-3000:])
