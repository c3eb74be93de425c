"""tests/conformance/webhook_verify through the Python API (wa360.Verifier.from_dict,
Verifier.verify, hub_challenge, hub_challenge_from_query); no error message may contain a
configured secret."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import wa360
from conftest import check_expected_error, each_case, read_json, suite_present_test


def secrets(verifier: dict[str, Any]) -> list[str]:
    out: list[str] = []
    ba = verifier.get("basic_auth")
    if isinstance(ba, dict) and isinstance(ba.get("password"), str) and ba["password"]:
        out.append(ba["password"])
        out.append(base64.b64encode(f"{ba.get('user')}:{ba['password']}".encode()).decode())
    headers = verifier.get("headers")
    if isinstance(headers, dict):
        out += [v for v in headers.values() if isinstance(v, str) and v]
    secret = verifier.get("app_secret")
    if isinstance(secret, str) and secret:
        out.append(secret)
    return out


def run(inp: dict[str, Any]) -> tuple[str | None, list[str]]:
    if "challenge" in inp:
        c = inp["challenge"]
        answer = wa360.hub_challenge(
            c["mode"], c["verify_token"], c["challenge"], c["expected_token"]
        )
        return answer, [c["expected_token"]]
    if "challenge_query" in inp:
        c = inp["challenge_query"]
        return wa360.hub_challenge_from_query(c["query"], c["expected_token"]), [
            c["expected_token"]
        ]
    spec = inp["verifier"]
    headers = [(name, value) for name, value in inp["headers"]]
    body = (
        inp["body"].encode("utf-8")
        if "body" in inp
        else base64.b64decode(inp["body_base64"], validate=True)
    )
    wa360.Verifier.from_dict(spec).verify(headers, body)
    return None, secrets(spec)


test_suite_is_present = suite_present_test("webhook_verify", 50)


@each_case("webhook_verify")
def test_case(case: Path) -> None:
    inp = read_json(case / "input.json")
    e = check_expected_error(case, lambda: run(inp))
    if e is not None:
        if e.code == "invalid_signature":
            assert isinstance(e, wa360.InvalidSignatureError)
        spec = inp.get("verifier") or {}
        for secret in secrets(spec) + [
            c["expected_token"]
            for k in ("challenge", "challenge_query")
            if (c := inp.get(k)) and len(c.get("expected_token", "")) > 1
        ]:
            assert secret not in str(e) and secret not in repr(e)
        return
    want = read_json(case / "expected.json")
    assert want["ok"] is True
    answer, _ = run(inp)
    assert answer == want.get("response")
