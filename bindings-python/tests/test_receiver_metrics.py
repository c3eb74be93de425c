"""The receiver's ``metrics()`` through a FastAPI app with a real SQLite inbox file: answered
requests by status (a store that fails counts as a 503), duplicates counted at accept, the
acknowledgement latency histogram, and a handler that always raises ending in a dead letter;
the inbox's log events reach ``logging`` under ``wa360.inbox``."""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path

import wa360
from conftest import Collect, lock_in_another_process
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from wa360.receivers import fastapi_router, flask_blueprint
from wa360.testing import inbound_text

AUTH = {"Authorization": "Basic " + base64.b64encode(b"hook:pa55-word").decode()}


def wait_for(cond, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_fastapi_metrics_count_deliveries_duplicates_503_and_dead_letters(
    tmp_path: Path, logs: Collect
) -> None:
    logging.getLogger("wa360").setLevel(logging.DEBUG)
    db = tmp_path / "inbox.db"
    calls: list[str] = []

    def always_fails(events: list[wa360.Event]) -> None:
        calls.extend(str(getattr(e, "id", "")) for e in events)
        raise RuntimeError("handler broken on purpose")

    router = fastapi_router(
        always_fails,
        verifier=wa360.Verifier(basic_auth=("hook", "pa55-word")),
        inbox=f"sqlite://{db}?max_attempts=2&retry_base_ms=0&retry_max_ms=0&busy_timeout_ms=100",
        concurrency=1,
        shutdown_grace=1.0,
    )
    app = FastAPI()
    app.include_router(router)
    body = inbound_text("15550001111", "hi", "wamid.PM1")
    with TestClient(app) as http:
        m = router.metrics()  # type: ignore[attr-defined]
        assert m["events"] == {} and m["deliveries"] == {}
        assert m["ack_latency"]["count"] == 0

        holder = lock_in_another_process(db)
        try:
            assert http.post("/webhook", content=body, headers=AUTH).status_code == 503
        finally:
            holder.communicate(b"", timeout=30)
        assert http.post("/webhook", content=body, headers=AUTH).status_code == 200
        assert http.post("/webhook", content=body, headers=AUTH).status_code == 200
        assert http.post("/webhook", content=body).status_code == 401

        def dead() -> bool:
            return router.metrics()["events"].get("dead_lettered") == 1  # type: ignore[attr-defined,no-any-return]

        assert wait_for(dead), router.metrics()  # type: ignore[attr-defined]
    m = router.metrics()  # type: ignore[attr-defined]
    assert m["events"] == {"accepted": 1, "deduplicated": 1, "retried": 1, "dead_lettered": 1}
    assert m["deliveries"] == {"200": 2, "401": 1, "503": 1}
    assert m["ack_latency"]["count"] == 4
    assert m["ack_latency"]["buckets"][-1] == {"le": None, "count": 4}
    assert calls == ["wamid.PM1", "wamid.PM1"], "one call per attempt"
    assert wa360.Inbox(f"sqlite://{db}").stats()["dead"] == 1

    # The core's inbox and receiver events arrive in logging with their fields.
    recs = logs.wa360()
    [dead_rec] = [r for r in recs if r.name == "wa360.inbox" and "dead-lettered" in r.getMessage()]
    assert dead_rec.levelno == logging.WARNING
    assert dead_rec.wa360["attempt"] == 2  # type: ignore[attr-defined]
    [retry] = [r for r in recs if r.name == "wa360.inbox" and "retry scheduled" in r.getMessage()]
    assert retry.levelno == logging.INFO and retry.wa360["attempt"] == 1  # type: ignore[attr-defined]
    accepted = [
        r for r in recs if r.name == "wa360.inbox" and r.getMessage().startswith("inbox accepted")
    ]
    assert [(r.wa360["new"], r.wa360["duplicates"]) for r in accepted] == [(1, 0), (0, 1)]  # type: ignore[attr-defined]
    answered = [r for r in recs if r.name == "wa360.webhook.receiver"]
    assert [(r.levelno, r.wa360["status"]) for r in answered] == [  # type: ignore[attr-defined]
        (logging.WARNING, 503),
        (logging.INFO, 200),
        (logging.INFO, 200),
        (logging.INFO, 401),
    ]
    assert not any("pa55-word" in r.getMessage() for r in recs)


def test_flask_blueprint_metrics_without_an_inbox() -> None:
    app = Flask(__name__)
    bp = flask_blueprint(lambda events: None, insecure_skip_verify=True)
    app.register_blueprint(bp)
    http = app.test_client()
    body = inbound_text("15550002222", "hi", "wamid.PF1")
    for _ in range(3):
        assert http.post("/webhook", data=body).status_code == 200
    assert http.get("/webhook?hub.mode=subscribe").status_code == 405
    m = bp.metrics()  # type: ignore[attr-defined]
    assert m["events"] == {"accepted": 1, "deduplicated": 2}
    assert m["deliveries"] == {"200": 3, "405": 1}
    assert m["ack_latency"]["count"] == 4
    assert m == bp.receiver.metrics()  # type: ignore[attr-defined]


def test_inbox_metrics_of_a_standalone_worker_count_handled_retried_dead_lettered(
    tmp_path: Path,
) -> None:
    # A receiver-only process stores the events; a worker with its own Inbox handle on the same
    # SQLite file consumes them: one handler succeeds, one raises until dead-lettered.
    url = f"sqlite://{tmp_path / 'inbox.db'}?max_attempts=3&retry_base_ms=0&retry_max_ms=0"
    receiver = wa360._native.Receiver(inbox=wa360.Inbox(url))
    for wamid in ("wamid.W1", "wamid.W2"):
        assert receiver.handle("POST", "", {}, inbound_text("1555", wamid, wamid))[0] == 200

    worker = wa360.Inbox(url)
    assert worker.metrics() == {"events": {}}

    def handler(event: wa360.Event) -> None:
        if event.id == "wamid.W2":
            raise RuntimeError("handler broken on purpose")

    c = worker.consumer()
    deadline = time.monotonic() + 30
    while worker.stats()["dead"] < 1 or worker.stats()["handled"] < 1:
        assert time.monotonic() < deadline, worker.stats()
        for d in c.next(1, 0.5):
            try:
                handler(d.event)
            except RuntimeError as e:
                c.nack(d.id, str(e))
            else:
                c.ack(d.id)
    c.close()
    assert worker.metrics() == {"events": {"handled": 1, "retried": 2, "dead_lettered": 1}}
    # Counts are per handle in this process: the receiver's handle consumed nothing.
    assert receiver.metrics()["events"] == {"accepted": 2}
