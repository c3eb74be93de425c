"""Run a corpus (see corpus.py) through the Python package: one JSON line of results per input.

Each line is `{"i": n, "ok": <result>}`, `{"i": n, "err": [code, field]}` or, for anything that
is not the library's own error type, `{"i": n, "foreign": "<repr>"}`. A line also carries
`"slow": <cpu seconds>` when the input took more than the limit (1 s of this process's CPU
time, so that a loaded machine does not count as a hang).

Usage: python run_python.py corpus.jsonl results.jsonl
"""

from __future__ import annotations

import base64
import json
import sys
import time
from typing import Any

import wa360

# Integers beyond 2^53 - 1 as the tag the Node runner writes for a BigInt (the corpus writes
# its inputs the same way).
from corpus import tag_big_ints

LIMIT_S = 1.0


def untag(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1 and isinstance(v.get("$bigint"), str):
            return int(v["$bigint"])
        if len(v) == 1 and isinstance(v.get("$num"), str):
            return float(v["$num"].lower().replace("infinity", "inf"))
        return {k: untag(x) for k, x in v.items()}
    if isinstance(v, list):
        return [untag(x) for x in v]
    return v


def run_one(item: dict[str, Any]) -> dict[str, Any]:
    try:
        if item["kind"] == "webhook":
            events = wa360.parse_webhook(base64.b64decode(item["body"]))
            return {"ok": [e.to_dict() for e in events]}
        return {"ok": tag_big_ints(wa360.build_message(untag(json.loads(item["spec"]))))}
    except wa360.Wa360Error as e:
        return {"err": [e.code, getattr(e, "field", None)]}
    except BaseException as e:  # noqa: BLE001 - anything else is the defect being looked for
        return {"foreign": f"{type(e).__name__}: {e}"[:300]}


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            item = json.loads(line)
            t0 = time.process_time()
            res = run_one(item)
            took = time.process_time() - t0
            res["i"] = item["i"]
            if took > LIMIT_S:
                res["slow"] = round(took, 3)
            out.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
