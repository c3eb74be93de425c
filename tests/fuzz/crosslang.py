"""Cross-language property test: one seeded corpus of mutated webhook bodies and message
descriptions (corpus.py) through the Python package, the Node package and, for a sample of
the webhook bodies, the `wa360 parse` CLI. It asserts, for every input:

- each language raises only its own wa360 error type (never a foreign exception);
- no input takes more than 1 s of CPU time;
- Python, Node (and the CLI) give equal results: the same events or built body (compared as
  JSON values, an int equal to a float of the same value), or errors with the same code and
  field.

Usage: python3 crosslang.py --python .venv/bin/python [--seed N] [--count N] [--cli PATH]
Exit status 1 lists the first differences (with the seed and input number to replay them).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402 (after the path set-up above)


def same(a: Any, b: Any) -> bool:
    """JSON value equality, numbers compared by value (Python 2.0 == Node 2)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def load(path: Path) -> dict[int, dict[str, Any]]:
    out = {}
    for line in path.read_text().splitlines():
        if line:
            r = json.loads(line)
            out[r["i"]] = r
    return out


def brief(r: dict[str, Any] | None) -> str:
    return json.dumps(r)[:300]


def check_batch(
    a: argparse.Namespace,
    items: list[dict[str, Any]],
    sampler: random.Random,
    cli_rate: float,
    kinds: dict[str, int],
    problems: list[str],
) -> int:
    """Run one batch through every language, record the problems; returns the CLI count."""
    with tempfile.TemporaryDirectory(prefix="wa360-crosslang-") as tmp:
        t = Path(tmp)
        src = t / "corpus.jsonl"
        src.write_text("".join(json.dumps(i) + "\n" for i in items))
        py_out, node_out = t / "python.jsonl", t / "node.jsonl"
        procs = [
            subprocess.Popen([a.python, str(HERE / "run_python.py"), str(src), str(py_out)]),
            subprocess.Popen([a.node, str(HERE / "run_node.mjs"), str(src), str(node_out)]),
        ]
        if any(p.wait() != 0 for p in procs):
            problems.append("a runner failed (see its output above)")
            return 0
        py, node = load(py_out), load(node_out)

        cli: dict[int, dict[str, Any]] = {}
        if a.cli:
            for item in items:
                if item["kind"] != "webhook" or sampler.random() >= cli_rate:
                    continue
                body = t / f"body-{item['i']}"
                body.write_bytes(base64.b64decode(item["body"]))
                p = subprocess.run(
                    [a.cli, "parse", str(body)], check=False, capture_output=True, timeout=60
                )
                if p.returncode == 0:
                    events = [json.loads(x) for x in p.stdout.decode().splitlines() if x]
                    cli[item["i"]] = {"ok": events}
                elif p.returncode == 2 and b"(webhook_payload)" in p.stderr:
                    cli[item["i"]] = {"err": ["webhook_payload", None]}
                else:
                    cli[item["i"]] = {"foreign": f"exit {p.returncode}: {p.stderr[:200]!r}"}

    for item in items:
        i = item["i"]
        p, n = py.get(i), node.get(i)
        where = f"seed {a.seed} input {i} ({item['kind']})"
        for lang, r in (("python", p), ("node", n), ("cli", cli.get(i))):
            if r is None:
                if lang != "cli":
                    problems.append(f"{where}: no {lang} result")
                continue
            if "foreign" in r:
                problems.append(f"{where}: {lang} raised a foreign error: {r['foreign']}")
            if "slow" in r:
                problems.append(f"{where}: {lang} took {r['slow']} s of CPU")
        if p is None or n is None:
            continue
        key = f"{item['kind']} {'accepted' if 'ok' in p else 'rejected'}"
        kinds[key] = kinds.get(key, 0) + 1
        pe = {k: v for k, v in p.items() if k in ("ok", "err")}
        if not same(pe, {k: v for k, v in n.items() if k in ("ok", "err")}):
            problems.append(f"{where}: python {brief(p)} != node {brief(n)}")
        c = cli.get(i)
        ce = {k: v for k, v in c.items() if k in ("ok", "err")} if c else None
        if c is not None and "foreign" not in c and not same(pe, ce):
            problems.append(f"{where}: python {brief(p)} != cli {brief(c)}")
    return len(cli)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--node", default="node")
    ap.add_argument("--cli", default=None, help="wa360 binary: also compare `wa360 parse`")
    ap.add_argument("--cli-sample", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=5000)
    a = ap.parse_args()

    started = time.monotonic()
    kinds: dict[str, int] = {}
    problems: list[str] = []
    n_items = n_cli = 0
    gen = corpus.generate(a.seed, a.count)
    sampler = random.Random(a.seed)
    cli_rate = a.cli_sample / max(1, a.count // 2)
    while True:
        batch = list(itertools.islice(gen, a.batch))
        if not batch:
            break
        n_items += len(batch)
        n_cli += check_batch(a, batch, sampler, cli_rate, kinds, problems)

    took = time.monotonic() - started
    print(
        f"crosslang: {n_items} inputs (seed {a.seed}): "
        + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
        + f" (rejections with a wa360 error); {n_cli} also through the CLI; "
        f"{len(problems)} problem(s); {took:.1f} s"
    )
    for line in problems[:40]:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
