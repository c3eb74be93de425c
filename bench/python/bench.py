"""wa360 for Python beside what Python users would otherwise use, in one run, as ratios.

Webhook parsing, bytes -> usable objects, on three bodies (a text message, a status with
pricing, a 20-event batch): ``wa360.parse_webhook`` (typed events) vs ``json.loads`` and
``orjson.loads`` (dicts only) and pywa 4.5 (its typed update, and its whole
``webhook_update_handler``). Several rounds; in each, the contenders are timed interleaved, in
CPU µs per body (``time.process_time``: on a shared machine it does not count time spent waiting
for a core). Reported: the median round and the spread (min-max). Results go to
``bench/results.json`` (section ``python_parse``). Sending is ``client_cost.py``.

Run with a release build: ``make bench-python`` (own venv ``bench/.venv``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import wa360
from results import save_section, stats

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "conformance" / "webhook_parse"
BODIES = {
    "text message": CASES / "payload_inbound_text" / "input.json",
    "status + pricing": CASES / "payload_status_read" / "input.json",
    "20-event batch": CASES / "batch_20_events" / "input.json",
}
QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = 3 if QUICK else 7


def one_round(fns: dict[str, Callable[[], Any]], numbers: dict[str, int]) -> dict[str, float]:
    """CPU µs per call of each function, interleaved in slices (a, b, c, a, b, c, ...) so
    that load from other processes hits every contender alike."""
    out = dict.fromkeys(fns, 0.0)
    slices = 3
    for _ in range(slices):
        for name, fn in fns.items():
            t = timeit.Timer(fn, timer=time.process_time).timeit(number=numbers[name])
            out[name] += t / numbers[name] * 1e6 / slices
    return out


def calibrate(fns: dict[str, Callable[[], Any]], target_s: float) -> dict[str, int]:
    numbers = {}
    for name, fn in fns.items():
        number = 1
        while timeit.Timer(fn, timer=time.process_time).timeit(number=number) < target_s:
            number *= 2
        numbers[name] = number
    return numbers


def pywa_setup() -> tuple[Callable[[bytes], Any], Callable[[bytes], Any]]:
    logging.disable(logging.CRITICAL)
    from pywa import WhatsApp
    from pywa.types import RawUpdate

    wa = WhatsApp(
        token="x",
        phone_id="112233445566778",
        server=None,
        skip_duplicate_updates=False,
        validate_updates=False,
    )
    wa.on_message()(lambda c, m: None)
    wa.on_message_status()(lambda c, s: None)

    def typed(body: bytes) -> Any:
        # pywa's own steps from bytes to its typed update (no hashing, logging or dispatch).
        raw = RawUpdate(body, hmac_header=None, update_hash="")
        handler = wa._get_handler_type(raw)
        return wa._handlers_to_updates[handler].from_update(client=wa, update=raw)

    def handler(body: bytes) -> Any:
        return wa.webhook_update_handler(body)

    return typed, handler


def bench_parse() -> dict[str, Any]:
    pywa_typed, pywa_handler = pywa_setup()
    out: dict[str, Any] = {"unit": "CPU µs per body", "rounds": ROUNDS, "bodies": {}}
    for name, path in BODIES.items():
        body = path.read_bytes()
        events = wa360.parse_webhook(body)
        assert events, name
        first = events[0]
        assert first.kind in ("message", "status")
        fns: dict[str, Callable[[], Any]] = {
            "json.loads": lambda b=body: json.loads(b),
            "orjson.loads": lambda b=body: orjson.loads(b),
            "wa360.parse_webhook": lambda b=body: wa360.parse_webhook(b),
            "core parse alone": lambda b=body: wa360._native._parse_only(b),
            "pywa typed update": lambda b=body: pywa_typed(b),
            "pywa webhook_update_handler": lambda b=body: pywa_handler(b),
        }
        numbers = calibrate(fns, 0.01 if QUICK else 0.02)
        runs = [one_round(fns, numbers) for _ in range(ROUNDS)]
        out["bodies"][name] = {
            "events": len(events),
            "us": {k: stats([r[k] for r in runs]) for k in fns},
            "ratios": {
                "parse_webhook / orjson.loads": stats(
                    [r["wa360.parse_webhook"] / r["orjson.loads"] for r in runs]
                ),
                "pywa typed update / parse_webhook": stats(
                    [r["pywa typed update"] / r["wa360.parse_webhook"] for r in runs]
                ),
            },
        }
    return out


def main() -> int:
    print(f"wa360 {wa360.__version__} benchmark, Python {sys.version.split()[0]}")
    print(f"\n## Webhook parsing: CPU µs per body, median of {ROUNDS} rounds (lower is better)\n")
    res = bench_parse()
    cols = [
        "json.loads",
        "orjson.loads",
        "wa360.parse_webhook",
        "core parse alone",
        "pywa typed update",
        "pywa webhook_update_handler",
    ]
    print("| body | " + " | ".join(cols) + " | wa360 / orjson | pywa typed / wa360 |")
    print("|---" * (len(cols) + 3) + "|")
    for name, x in res["bodies"].items():
        cells = " | ".join(f"{x['us'][c]['median']:.2f}" for c in cols)
        r1 = x["ratios"]["parse_webhook / orjson.loads"]
        r2 = x["ratios"]["pywa typed update / parse_webhook"]
        print(
            f"| {name} | {cells} | {r1['median']:.2f}× ({r1['min']:.2f}–{r1['max']:.2f}) "
            f"| {r2['median']:.1f}× ({r2['min']:.1f}–{r2['max']:.1f}) |"
        )
    print(
        "\nTargets: parse_webhook ≤ 1.3× orjson.loads; ≥ 10× faster than pywa's typed update "
        "on single events."
    )
    save_section("python_parse", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
