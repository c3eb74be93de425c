"""Runs every case of tests/conformance/receiver/ through the Python receiver (the glue over the
core Receiver): status codes, bodies, new events, duplicate and stale counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import wa360
from wa360.receivers import WebhookReceiver

SUITE = Path(__file__).resolve().parents[2] / "tests" / "conformance" / "receiver"
CASES = sorted(p for p in SUITE.iterdir() if p.is_dir())


def test_suite_is_there() -> None:
    assert len(CASES) >= 20


def build(cfg: dict[str, Any]) -> WebhookReceiver:
    verifier = cfg.get("verifier")
    return WebhookReceiver(
        lambda events: None,
        verifier=wa360.Verifier.from_dict(verifier) if verifier else None,
        insecure_skip_verify=not verifier,
        verify_token=cfg.get("verify_token"),
        inbox=cfg.get("inbox"),
        max_bytes=cfg.get("max_bytes"),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_receiver_case(case: Path) -> None:
    given = json.loads((case / "input.json").read_text())
    want = json.loads((case / "expected.json").read_text())
    receiver = build(given["config"])
    replies = []
    for req in given["requests"]:
        headers = [(k, v) for k, v in req["headers"]]
        status, body, events, dups, stale, _error = receiver.native.handle(
            req["method"], req["query"], headers, req["body"].encode()
        )
        replies.append(
            {
                "status": status,
                "body": body.decode(),
                "events": [e.kind for e in events],
                "duplicates": dups,
                "stale": stale,
            }
        )
    assert {"replies": replies} == want
