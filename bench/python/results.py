"""Shared by the Python benchmarks: median and spread, and the one results file
(``bench/results.json``) that ``bench/report.py`` prints and renders into the README."""

from __future__ import annotations

import datetime
import json
import os
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "results.json"


def stats(xs: list[float]) -> dict[str, Any]:
    """Median and spread (min, max) of a list of numbers, with the runs."""
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def save_section(name: str, value: dict[str, Any]) -> None:
    """Replace one section of bench/results.json (write, then rename)."""
    try:
        data = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        data = {}
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    data[name] = {"measured_utc": when, **value}
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, RESULTS)
