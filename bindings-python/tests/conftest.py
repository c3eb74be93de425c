"""Shared fixtures: the repository root and the conformance tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
PAYLOADS = REPO / "tests" / "conformance" / "webhook_parse"


def case_dirs(suite: str) -> list[Path]:
    """Every case directory of one conformance suite, sorted; empty when the suite is absent."""
    root = CONFORMANCE / suite
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
