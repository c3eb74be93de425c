"""The Redis inbox across machines: two uvicorn servers on different ports (each with several
workers) stand for two machines sharing one real Redis (WA360_TEST_REDIS_URL, started by
`make test`). Real HTTP deliveries, kill -9 of one server mid-handling, Redis going away.

The harness (Server, deliver, done_counts, ...) is the SQLite suite's, test_inbox_processes.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4

import pytest
import wa360
from conftest import in_forked_child, redis_url
from test_inbox_processes import (
    Server,
    assert_each_handled_once,
    deliver,
    deliver_to_each,
    done_counts,
    free_port,
    start,
    wait_for,
)
from wa360.receivers import WebhookReceiver
from wa360.testing import inbound_text


def fresh_inbox(**opts: object) -> str:
    q = "&".join([f"name=py-{uuid4().hex[:12]}"] + [f"{k}={v}" for k, v in opts.items()])
    return f"{redis_url()}?{q}"


def test_two_machines_handle_each_event_once_when_every_event_reaches_both(
    tmp_path: Path, servers: list[Server]
) -> None:
    url = fresh_inbox()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start(servers, tmp_path / "a", url, workers=2)
    b = start(servers, tmp_path / "b", url, workers=2)
    ids = [f"wamid.R{i}" for i in range(150)]
    deliver_to_each([a, b], ids, conversations=13)

    def handled() -> int:
        return len(set(done_counts(a.log)) | set(done_counts(b.log)))

    wait_for(lambda: handled() == len(ids), what="all handled")
    time.sleep(0.5)  # would a second run show up?
    assert_each_handled_once(done_counts(a.log) + done_counts(b.log), ids)
    assert done_counts(a.log) and done_counts(b.log), "both machines handled events"
    inbox = wa360.Inbox(url)
    # Handlers log "done" just before their consumers acknowledge: wait for the acks.
    wait_for(lambda: inbox.stats()["handled"] == len(ids), what="every event acknowledged")
    assert inbox.stats()["duplicates"] == len(ids)


def test_events_claimed_by_a_killed_machine_are_handled_by_the_other(
    tmp_path: Path, servers: list[Server]
) -> None:
    url = fresh_inbox(lease_ms=1500)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = {"inbox_slow_ms": 300, "inbox_concurrency": 2}
    a = start(servers, tmp_path / "a", url, workers=2, **env)
    ids = [f"wamid.K{i}" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda w: deliver(a.url, inbound_text(f"1555{w[7:]:0>7}", "x", w)), ids)
        )
    assert codes == [200] * len(ids), "every delivery acknowledged by machine A"
    wait_for(lambda: len(done_counts(a.log)) >= 4, what="A handled some")
    a.signal(signal.SIGKILL)
    a.wait_exit()
    done_by_a = set(done_counts(a.log))
    # What the inbox still stores was not acknowledged: a handler may have logged "done"
    # and been killed before its acknowledgement, and that event runs again.
    in_flight = unacknowledged(url)
    assert len(done_by_a) < len(ids), "killed in the middle"
    b = start(servers, tmp_path / "b", url, workers=2, **env)
    wait_for(
        lambda: done_by_a | set(done_counts(b.log)) >= set(ids),
        what="every acknowledged event handled by machine B",
    )
    time.sleep(0.5)
    twice = done_by_a & set(done_counts(b.log))
    assert twice <= in_flight, (
        f"handled twice though not in flight at the kill: {twice - in_flight}"
    )
    assert all(n == 1 for n in done_counts(b.log).values())


def unacknowledged(url: str) -> set[str]:
    """Message ids of the events the inbox at `url` still stores (accepted, not yet
    acknowledged), read straight from Redis with the test server's own redis-cli."""
    cli = str(Path(os.environ["WA360_TEST_REDIS_SERVER"]).with_name("redis-cli"))
    base, _, query = url.partition("?")
    name = dict(p.split("=", 1) for p in query.split("&"))["name"]

    def run(*args: str) -> str:
        return subprocess.run(
            [cli, "-u", base, *args], capture_output=True, text=True, check=True
        ).stdout

    keys = run("--scan", "--pattern", f"{{{name}}}:e:*").split()
    return {run("HGET", k, "k").strip().removeprefix("m:") for k in keys}


def scans() -> int:
    """How many SCAN commands the test's Redis has run."""
    cli = str(Path(os.environ["WA360_TEST_REDIS_SERVER"]).with_name("redis-cli"))
    out = subprocess.run(
        [cli, "-u", redis_url(), "INFO", "commandstats"], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        if line.startswith("cmdstat_scan:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def test_join_with_a_redis_inbox_does_not_walk_the_dedupe_keys() -> None:
    """join() polls until the inbox is drained, every 20 ms. It read stats(), which with Redis
    counts the dedupe keys by walking the keyspace with SCAN: with the millions of keys a week
    of deliveries leaves, each poll took seconds and could time out. It reads the backlog
    alone now; stats() still counts the keys."""
    seen: list[str] = []
    gate = threading.Event()

    def on_events(events: list[wa360.Event]) -> None:
        gate.wait(10)
        seen.extend(str(getattr(e, "id", "")) for e in events)

    receiver = WebhookReceiver(
        on_events, inbox=fresh_inbox(), concurrency=1, insecure_skip_verify=True
    )
    for w in ("wamid.J1", "wamid.J2"):
        assert receiver.handle({}, inbound_text("15550003333", "x", w))[0] == 200
    before = scans()
    threading.Timer(0.3, gate.set).start()
    assert receiver.join(timeout=10)
    assert seen == ["wamid.J1", "wamid.J2"]
    assert scans() == before, "join walked the keyspace"
    assert receiver.inbox is not None and receiver.inbox.stats()["keys"] == 2
    assert scans() > before, "stats counts the keys (and this test sees SCAN)"
    assert receiver.close(1.0) == 0


class OwnRedis:
    """A redis-server of this test's own, so it can be stopped without disturbing the others."""

    def __init__(self, tmp: Path) -> None:
        self.bin = os.environ.get("WA360_TEST_REDIS_SERVER") or pytest.fail(
            "WA360_TEST_REDIS_SERVER is not set: run through `make test`"
        )
        self.port = free_port()
        self.dir = tmp / "redis"
        self.dir.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.bin, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
            + ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL,
        )
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_redis_down_mid_run_answers_503_and_nothing_acknowledged_is_lost(
    tmp_path: Path, servers: list[Server]
) -> None:
    redis = OwnRedis(tmp_path)
    redis.start()
    try:
        url = f"redis://127.0.0.1:{redis.port}/0?busy_timeout_ms=500"
        srv = start(servers, tmp_path, url, workers=1)
        assert deliver(srv.url, inbound_text("15550001111", "x", "wamid.before")) == 200
        wait_for(lambda: done_counts(srv.log)["wamid.before"] == 1, what="handled")
        redis.stop()
        t = time.monotonic()
        assert deliver(srv.url, inbound_text("15550001111", "x", "wamid.during")) == 503
        assert time.monotonic() - t < 10
        assert done_counts(srv.log)["wamid.during"] == 0, "never handed to the handler"
        redis.start()
        # 360dialog delivers again later: now it is stored and handled, once.
        status = wait_for(
            lambda: (
                deliver(srv.url, inbound_text("15550001111", "x", "wamid.during")) == 200 or None
            ),
            timeout=30,
            what="accepted again once Redis is back",
        )
        assert status
        wait_for(lambda: done_counts(srv.log)["wamid.during"] == 1, what="handled after the outage")
    finally:
        redis.stop()


def test_a_forked_worker_whose_store_is_down_answers_503(tmp_path: Path) -> None:
    # A receiver made before a fork (gunicorn --preload, a prefork server) opens its inbox
    # again in the child at its first request. With Redis down that reopen failed with an
    # exception (the web framework's 500, not the receiver's 503), and under the GIL.
    redis = OwnRedis(tmp_path)
    redis.start()
    try:
        inbox = wa360.Inbox(f"redis://127.0.0.1:{redis.port}/0?busy_timeout_ms=300")
        receiver = wa360._native.Receiver(inbox=inbox)
        body = inbound_text("15550001111", "x", "wamid.fork")
        assert receiver.handle("POST", "", [], body)[0] == 200
        # The app-level receivers on the same store, made before the fork as with --preload.
        app = WebhookReceiver(lambda events: None, inbox=inbox, insecure_skip_verify=True)
        redis.stop()

        def child() -> str:
            warned: list[str] = []
            handler = logging.Handler(logging.WARNING)
            handler.emit = lambda r: warned.append(r.getMessage())  # type: ignore[method-assign]
            logging.getLogger("wa360.webhook.receiver").addHandler(handler)
            status, reply, *_ = receiver.handle("POST", "", [], body)

            # The asyncio servers' path (the store write on the native runtime) too.
            async def post() -> tuple[int, bytes]:
                return await receiver._post_async([], body)

            status2, reply2 = asyncio.run(post())
            # The app-level receivers answer the same, and do not start their consumers
            # (that would open the store again, on the event loop, and raise: a 500).
            app_sync = app.handle({}, body)
            app_async = asyncio.run(app.handle_async({}, body))
            assert app_sync == app_async == (503, b"inbox unavailable"), (app_sync, app_async)
            # Each 503 is logged, as the receiver logs one for a store that fails.
            n = sum("answered 503" in m for m in warned)
            # And counted: metrics() answers (it raised while the store could not be
            # opened), with the two 503s of each receiver in this process.
            counted = [
                (m["deliveries"], m["ack_latency"]["count"])
                for m in (receiver.metrics(), app.metrics())
            ]
            said = f"{status} {reply.decode()}, {status2} {reply2.decode()}"
            return f"{said}, {n}, {counted}"

        seen = in_forked_child(child)
        assert seen == (
            "503 inbox unavailable, 503 inbox unavailable, 4, [({'503': 2}, 2), ({'503': 2}, 2)]"
        ), seen
    finally:
        redis.stop()
