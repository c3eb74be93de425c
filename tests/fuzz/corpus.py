"""Deterministic corpus of mutated inputs for the cross-language property test.

Every input starts from a conformance fixture (`tests/conformance/webhook_parse/*/input.json`
for webhook bodies, `tests/conformance/message_build/*/input.json` for message descriptions)
and gets one to three mutations: bit flips, truncation, span duplication, deep nesting, huge
strings, out-of-range numbers, lone surrogates, a BOM, UTF-16, NUL, invalid UTF-8, duplicate
keys, many keys, reserved type names, type changes. The same `(seed, count)` always gives the
same corpus (Python's `random.Random` is specified to be reproducible for a given seed).

One JSON object per line:

- `{"i": n, "kind": "webhook", "body": "<base64 of the raw body bytes>"}`
- `{"i": n, "kind": "message", "spec": "<JSON text of the description>"}`

Message descriptions are JSON text read by each language's own JSON parser, with two tags for
values JSON text cannot carry the same way into both languages: `{"$bigint": "<digits>"}` is a
Python `int` / a JavaScript `BigInt`, and `{"$num": "NaN" | "Infinity" | "-Infinity"}` is that
float. Lone surrogates travel as `\\ud800` escapes (a `str` / JS string holding the surrogate).

Usage: python3 corpus.py --seed 1 --count 5000 > corpus.jsonl
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "tests" / "conformance"

ODD_NUMBERS = [
    b"1e400",
    b"-1e400",
    b"1E999",
    b"9" * 400,
    b"-" + b"9" * 30,
    b"9007199254740993",
    b"9007199254740992",
    b"-9007199254740993",
    b"18446744073709551616",
    b"-0",
    b"1e-400",
    b"0.1000000000000000055511151231257827",
    b"1.7976931348623157e308",
    b"4.9e-324",
]
SURROGATES = [b"\\ud800", b"\\udc00", b"\\udbff\\u0041", b"\\ud83d", b"\\ude00x", b"\\ud83d\\ude00"]
RESERVED = [
    "toJSON",
    "__proto__",
    "constructor",
    "id",
    "status",
    "context",
    "errors",
    "contact",
    "payload",
    "hasOwnProperty",
    "valueOf",
    "kind",
    "raw",
    "value",
]


def fixtures(suite: str, valid: bool | None = None) -> list[bytes]:
    """The `input.json` of every case (only those with `expected.json` when `valid`)."""
    return [
        p.read_bytes()
        for p in sorted(CONF.glob(f"{suite}/*/input.json"))
        if valid is None or (p.parent / "expected.json").exists() == valid
    ]


# -- webhook bodies (bytes) ------------------------------------------------------------------


def positions(body: bytes, token: bytes) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(token), body)]


def after_open_brace(r: random.Random, body: bytes) -> int | None:
    ps = positions(body, b"{")
    return r.choice(ps) + 1 if ps else None


def insert_member(r: random.Random, body: bytes, member: bytes) -> bytes:
    p = after_open_brace(r, body)
    if p is None:
        return body
    rest = body[p:].lstrip()
    sep = b"" if rest.startswith(b"}") else b","
    return body[:p] + member + sep + body[p:]


def string_spans(body: bytes) -> list[tuple[int, int]]:
    return [(m.start() + 1, m.end() - 1) for m in re.finditer(rb'"(?:[^"\\]|\\.)*"', body)]


def number_spans(body: bytes) -> list[tuple[int, int]]:
    return [(m.start(1), m.end(1)) for m in re.finditer(rb"[:\[,]\s*(-?\d[\d.eE+-]*)", body)]


def mutate_body(r: random.Random, body: bytes) -> bytes:
    op = r.randrange(17)
    n = len(body)
    if op == 0 and n:  # bit flips
        b = bytearray(body)
        for _ in range(r.randint(1, 4)):
            i = r.randrange(n)
            b[i] ^= 1 << r.randrange(8)
        return bytes(b)
    if op == 1:  # truncation
        return body[: r.randrange(n + 1)]
    if op == 2 and n:  # span duplication
        i = r.randrange(n)
        j = min(n, i + r.randint(1, 200))
        k = r.randrange(n + 1)
        return body[:k] + body[i:j] + body[k:]
    if op == 3:  # deep nesting
        d = r.choice([10, 40, 62, 63, 64, 65, 100, 500])
        return insert_member(r, body, b'"deep":' + b"[" * d + b"]" * d)
    if op == 4:  # huge string
        size = r.choice([1000, 5000, 70_000, 70_000, 200_000, 1000, 5000, 1_050_000])
        return insert_member(r, body, b'"big":"' + b"a" * size + b'"')
    if op == 5:  # out-of-range number in place of a number or a string
        spans = number_spans(body) or string_spans(body)
        if not spans:
            return body
        a, b_ = r.choice(spans)
        if body[a - 1 : a] == b'"':
            a, b_ = a - 1, b_ + 1
        return body[:a] + r.choice(ODD_NUMBERS) + body[b_:]
    if op == 6:  # lone surrogate inside a string
        spans = string_spans(body)
        if not spans:
            return body
        a, b_ = r.choice(spans)
        k = r.randint(a, b_)
        return body[:k] + r.choice(SURROGATES) + body[k:]
    if op == 7:  # BOM
        return b"\xef\xbb\xbf" + body
    if op == 8:  # UTF-16
        enc = r.choice(["utf-16", "utf-16-le", "utf-16-be"])
        return body.decode("utf-8", "replace").encode(enc)
    if op == 9:  # NUL, escaped or raw
        spans = string_spans(body)
        if not spans:
            return body + b"\x00"
        a, b_ = r.choice(spans)
        k = r.randint(a, b_)
        return body[:k] + r.choice([b"\\u0000", b"\x00"]) + body[k:]
    if op == 10:  # invalid UTF-8 inside a string
        spans = string_spans(body)
        if not spans:
            return body
        a, b_ = r.choice(spans)
        k = r.randint(a, b_)
        return (
            body[:k] + r.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]) + body[k:]
        )
    if op == 11:  # duplicate keys: a copy of an existing key with another value, first
        keys = re.findall(rb'"([A-Za-z_]+)":', body)
        if not keys:
            return body
        k = r.choice(keys)
        return insert_member(
            r, body, b'"' + k + b'":' + r.choice([b"null", b"1", b'"dup"', b"[]", b"{}"])
        )
    if op == 12:  # many keys
        count = r.choice([100, 2000, 20_000])
        members = b",".join(b'"k%d":%d' % (i, i) for i in range(count))
        return insert_member(r, body, members)
    if op == 13:  # reserved type names
        ts = positions(body, b'"type":"')
        if not ts:
            return body
        p = r.choice(ts) + len(b'"type":"')
        end = body.find(b'"', p)
        name = r.choice(RESERVED).encode()
        old = body[p:end]
        out = body[:p] + name + body[end:]
        return out.replace(b'"' + old + b'":', b'"' + name + b'":', 1)
    if op == 14:  # a wrong JSON type for a value
        spans = string_spans(body)
        if not spans:
            return body
        a, b_ = r.choice(spans)
        return (
            body[: a - 1]
            + r.choice([b"null", b"true", b"[]", b"{}", b"12", b'{"a":1}'])
            + body[b_ + 1 :]
        )
    if op == 15:  # a big id
        ids = positions(body, b'"id":"')
        if not ids:
            return body
        p = r.choice(ids) + len(b'"id":"')
        return body[:p] + b"w" * r.choice([200, 10_000]) + body[p:]
    # op 16: random bytes
    k = r.randrange(n + 1)
    return body[:k] + bytes(r.randrange(256) for _ in range(r.randint(1, 8))) + body[k:]


# -- message descriptions (JSON trees) -------------------------------------------------------


def is_tag(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("$bigint", "$num")


def tag_big_ints(v: Any) -> Any:
    """Integers JSON.parse would round become `$bigint` tags (the same value in both)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and abs(v) > 2**53 - 1:
        return {"$bigint": str(v)}
    if isinstance(v, dict):
        return {k: tag_big_ints(x) for k, x in v.items()}
    if isinstance(v, list):
        return [tag_big_ints(x) for x in v]
    return v


def paths(v: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if is_tag(v):
        return out
    if isinstance(v, dict):
        for k, x in v.items():
            out += paths(x, (*at, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += paths(x, (*at, i))
    return out


def get(v: Any, p: tuple[Any, ...]) -> Any:
    for k in p:
        v = v[k]
    return v


def put(v: Any, p: tuple[Any, ...], x: Any) -> Any:
    if not p:
        return x
    get(v, p[:-1])[p[-1]] = x
    return v


def odd_value(r: random.Random) -> Any:
    return r.choice(
        [
            {"$bigint": str(2**64 + 1)},
            {"$bigint": str(-(2**63) - 1)},
            {"$bigint": str(2**63)},
            {"$bigint": "5"},
            {"$bigint": str(2**70)},
            {"$num": "NaN"},
            {"$num": "Infinity"},
            {"$num": "-Infinity"},
            1e308,
            -0.0,
            2.0,
            1.5,
            2**53 - 1,
            -(2**31),
            0,
            True,
            None,
            "",
            "\x00",
            "a\ud800b",
            "\udc00",
            "\ud83d\ude00",
            "x" * r.choice([300, 5000, 5000, 70_000]),
            [],
            {},
            [1, "a"],
            {"__proto__": {"polluted": True}},
            {"constructor": "x"},
        ]
    )


def mutate_spec(r: random.Random, spec: Any) -> Any:
    ps = paths(spec)
    p = r.choice(ps)
    op = r.randrange(7)
    target = get(spec, p)
    if op == 0:  # replace a value
        return put(spec, p, odd_value(r))
    if op == 1:  # lone surrogate / NUL inside a string value
        strs = [q for q in ps if isinstance(get(spec, q), str)]
        if strs:
            q = r.choice(strs)
            s = get(spec, q)
            k = r.randint(0, len(s))
            return put(
                spec, q, s[:k] + r.choice(["\ud800", "\udfff", "\x00", "\ud83d\ude00"]) + s[k:]
            )
        return spec
    if op == 2 and isinstance(target, dict):  # add a key
        key = r.choice(["__proto__", "constructor", "toJSON", "x", "\ud800k", "", "extra"])
        target[key] = odd_value(r)
        return spec
    if op == 3 and isinstance(target, dict) and target:  # drop a key
        del target[r.choice(list(target))]
        return spec
    if op == 4:  # deep nesting
        d = r.choice([30, 58, 60, 61, 62, 63, 64, 65, 70, 200])
        v: Any = target
        for _ in range(d):
            v = {"a": v} if r.random() < 0.5 else [v]
        return put(spec, p, v)
    if op == 5 and isinstance(target, dict):  # many keys
        for i in range(r.choice([50, 1000])):
            target[f"k{i}"] = i
        return spec
    # op 6: change a container's type
    return put(spec, p, r.choice([[target], {"v": target}, json.dumps(target)[:50], None]))


def spec_text(r: random.Random, spec: Any) -> str:
    text = json.dumps(spec, ensure_ascii=True)
    if r.random() < 0.1:  # duplicate keys at the text level (last one wins in both parsers)
        m = list(re.finditer(r'\{"([a-z_]+)": ', text))
        if m:
            x = r.choice(m)
            text = text[: x.start() + 1] + f'"{x.group(1)}": null, ' + text[x.start() + 1 :]
    return text


def generate(seed: int, count: int) -> Iterator[dict[str, Any]]:
    """The corpus, one input at a time (a long run never holds it all in memory)."""
    r = random.Random(seed)
    bodies = fixtures("webhook_parse")
    good = [tag_big_ints(json.loads(b)) for b in fixtures("message_build", valid=True)]
    bad = [tag_big_ints(json.loads(b)) for b in fixtures("message_build", valid=False)]
    for i in range(count):
        if i % 2 == 0:
            body = r.choice(bodies)
            for _ in range(r.choice([1, 1, 1, 2, 3])):
                body = mutate_body(r, body)
            yield {"i": i, "kind": "webhook", "body": base64.b64encode(body).decode()}
        else:
            # Mostly valid descriptions, so that many mutated ones are still accepted and
            # the built bodies are compared too.
            spec = copy.deepcopy(r.choice(good if r.random() < 0.75 else bad))
            for _ in range(r.choice([0, 0, 1, 1, 1, 2, 3])):
                spec = mutate_spec(r, spec)
            yield {"i": i, "kind": "message", "spec": spec_text(r, spec)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=5000)
    a = ap.parse_args()
    for item in generate(a.seed, a.count):
        sys.stdout.write(json.dumps(item) + "\n")


if __name__ == "__main__":
    main()
