#!/usr/bin/env python3
"""The last `make bench` run, side by side with the targets, from ``bench/results.json``.

    python3 bench/report.py            print every figure with its target
    python3 bench/report.py --record   first add the machine and the Rust figures to the file
    python3 bench/report.py --readme   also rewrite README.md's performance table

The README table is generated from the results file only (between the
``<!-- bench:begin -->`` and ``<!-- bench:end -->`` markers), so it cannot drift from the last
run. With ``--record`` (``make bench-report``) it also adds the Rust figures (criterion's estimates under ``target/criterion``)
and the machine (CPU model, cores, load) to the results file. Standard library only.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
BODIES = ("text", "status", "batch")


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
    }


def rust_section(suffix: str = "") -> dict[str, Any] | None:
    """Criterion's median estimates (ns) with their 95% interval, per body (`suffix`
    `_compact`: the same bodies without whitespace between tokens, as delivered)."""
    base = ROOT / "target" / "criterion"
    groups = {
        k: g + suffix
        for k, g in (
            ("text", "text"),
            ("status", "status_pricing"),
            ("batch", "batch_20"),
        )
    }
    out: dict[str, Any] = {
        "unit": "µs per body (criterion median, 95% interval)",
        "bodies": {},
    }
    for key, group in groups.items():
        row = {}
        for fn in ("serde_json_value", "parse", "parse_to_canonical_json"):
            p = base / group / fn / "new" / "estimates.json"
            if not p.exists():
                return None
            m = json.loads(p.read_text())["median"]
            ci = m["confidence_interval"]
            row[fn] = {
                "median": m["point_estimate"] / 1e3,
                "min": ci["lower_bound"] / 1e3,
                "max": ci["upper_bound"] / 1e3,
            }
        row["ratio parse / serde_json Value"] = (
            row["parse"]["median"] / row["serde_json_value"]["median"]
        )
        out["bodies"][key] = row
    return out


def by_body(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The section's three bodies in the order text, status, batch."""
    return list(section["bodies"].values())


def x(v: float) -> str:
    return f"{v:.2f}×"


def spread(s: dict[str, Any]) -> str:
    return f"{s['median']:.2f}× ({s['min']:.2f}–{s['max']:.2f})"


def verdict(ok: bool, what: str) -> str:
    return "met" if ok else f"**missed** ({what})"


def body_row(b, key, what, against, target, met, worst, pick, singles_only=True):
    """One row of per-body ratios; the verdict reads the single-event bodies (the first two)
    unless `singles_only` is off."""
    meds = [row["ratios"][key]["median"] for row in (b[:2] if singles_only else b)]
    return (
        what,
        against,
        " / ".join(spread(row["ratios"][key]) for row in b),
        f"{target} — " + verdict(met(meds), worst.format(pick(meds))),
    )


def send_rows(s, who, cpu_ref, cpu_label, rate_ref, rate_label, cpu_max, rate_min):
    """The CPU-per-message row and the msg/s row of one send comparison."""
    c = s["ratios"][f"wa360 / {cpu_ref} CPU per message"]
    cl = s["clients"]
    cpu = ", ".join(
        f"{name} {v['cpu_us_per_msg']['median']:.0f} µs" for name, v in cl.items()
    )
    t = s["ratios"][f"wa360 / {rate_ref} msg/s"]
    rate = ", ".join(
        f"{name} {v['msg_per_s']['median']:.0f} msg/s, p50 {v['p50_ms']['median']:.1f} / "
        f"p99 {v['p99_ms']['median']:.1f} ms"
        for name, v in cl.items()
    )
    return [
        (
            f"{who}: client CPU per message",
            f"{cpu_label} ({cpu})",
            spread(c),
            f"≤ {cpu_max}× — " + verdict(c["median"] <= cpu_max, f"{c['median']:.2f}×"),
        ),
        (
            f"{who}: msg/s at concurrency {s['concurrency']}",
            f"{rate_label} ({rate})",
            spread(t),
            f"≥ {rate_min}× — "
            + verdict(t["median"] >= rate_min, f"{t['median']:.2f}×"),
        ),
    ]


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(what, wa360 against what, ratio per body: median (spread), target and verdict)."""
    out = []
    if "rust_parse" in r:
        b = by_body(r["rust_parse"])
        ratios = [row["ratio parse / serde_json Value"] for row in b]
        out.append(
            (
                "Rust `webhook::parse`",
                "`serde_json::from_slice::<Value>` (untyped)",
                " / ".join(x(v) for v in ratios),
                "≤ 1.5× — " + verdict(max(ratios) <= 1.5, f"worst {max(ratios):.2f}×"),
            )
        )
    if "rust_parse_compact" in r:
        b = by_body(r["rust_parse_compact"])
        out.append(
            (
                "Rust `webhook::parse`, bodies as delivered (compact)",
                "`serde_json::from_slice::<Value>` of the same compact bytes",
                " / ".join(x(row["ratio parse / serde_json Value"]) for row in b),
                "— (no target: the bodies above without their indentation)",
            )
        )
    if "node_parse" in r:
        b = by_body(r["node_parse"])
        for src in ("string", "buffer"):
            k = f"parseWebhook / JSON.parse ({src})"
            med = [row["ratios"][k]["median"] for row in b]
            out.append(
                (
                    f"Node `parseWebhook` from a {src}",
                    "`JSON.parse` of the same bytes"
                    + (" (decoded with `buf.toString()`)" if src == "buffer" else ""),
                    " / ".join(spread(row["ratios"][k]) for row in b),
                    "≤ 1.5× — "
                    + verdict(max(med) <= 1.5, f"worst {max(med):.2f}×")
                    + (
                        "; moonshot ≤ 1.0× " + ("met" if max(med) <= 1.0 else "not met")
                    ),
                )
            )
        out.append(
            body_row(
                b,
                "parseWebhook / whatsapp-api-js",
                "Node `parseWebhook(buffer)`",
                "whatsapp-api-js 6.3 `post` (reads 1 of the batch's 20 events)",
                "< 1.0× on single events",
                lambda single: max(single) < 1.0,
                "worst {:.2f}×",
                max,
            )
        )
    if "python_parse" in r:
        b = by_body(r["python_parse"])
        out.append(
            body_row(
                b,
                "parse_webhook / orjson.loads",
                "Python `parse_webhook` (bytes → typed events)",
                "`orjson.loads` (dicts only)",
                "≤ 1.3×",
                lambda meds: max(meds) <= 1.3,
                "worst {:.2f}×",
                max,
                singles_only=False,
            )
        )
        out.append(
            body_row(
                b,
                "pywa typed update / parse_webhook",
                "Python `parse_webhook`, times faster than",
                "pywa 4.5's typed update (types 1 of the batch's 20 events)",
                "≥ 10× on single events",
                lambda single: min(single) >= 10,
                "worst {:.1f}×",
                min,
            )
        )
    # The two send comparisons share one shape: CPU per message, then msg/s, each against
    # its anchor client, with the target the issue set for it.
    sends = (
        (
            "python_send",
            "Python `AsyncClient`",
            "aiohttp",
            "aiohttp",
            "httpx",
            "httpx",
            0.5,
            2,
        ),
        (
            "node_send",
            "Node `Client`",
            "undici",
            "undici `Pool`",
            "undici",
            "undici `Pool`",
            0.8,
            1.2,
        ),
    )
    for key, who, cpu_ref, cpu_label, rate_ref, rate_label, cpu_max, rate_min in sends:
        if key in r:
            out.extend(
                send_rows(
                    r[key],
                    who,
                    cpu_ref,
                    cpu_label,
                    rate_ref,
                    rate_label,
                    cpu_max,
                    rate_min,
                )
            )
    return out


SECTIONS = (
    ("node_parse", "Node parse"),
    ("python_parse", "Python parse"),
    ("python_send", "Python client"),
    ("node_send", "Node client"),
)


def measured(r: dict[str, Any]) -> str:
    """When each section was measured, with its rounds: one target (`make bench-python`,
    say) can be run alone and rewrite its own section, so the sections of the file need not
    come from one run."""
    parts = [
        f"{label} {r[key]['measured_utc']} ({r[key].get('rounds', '?')} rounds)"
        for key, label in SECTIONS
        if isinstance(r.get(key), dict) and r[key].get("measured_utc")
    ]
    return f" Sections measured (UTC): {'; '.join(parts)}." if parts else ""


def table(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    lines = [
        f"Last `make bench` run: {m.get('date_utc', '?')} UTC on {m.get('cores', '?')} cores "
        f"({m.get('cpu', '?')}), load average {m.get('load_average_1_5_15', '?')} (a shared "
        f"machine).{measured(r)} Node and Python figures are CPU time of the process; each ratio is the median "
        "of several rounds, with the spread (min–max) in brackets. Rust figures are criterion's "
        "(wall time). Bodies: text / status with pricing / 20-event batch. Only the ratios carry "
        "over to other machines. Where a target is missed, docs/performance.md §5 says what "
        "limits it. Generated from `bench/results.json` by `bench/report.py`; do not edit by "
        "hand.",
        "",
        "| what | against | ratio (median, spread) | target |",
        "|---|---|---|---|",
    ]
    for what, against, ratio, target in rows(r):
        lines.append(f"| {what} | {against} | {ratio} | {target} |")
    return "\n".join(lines)


RX_BEGIN, RX_END = "<!-- bench-receiver:begin -->", "<!-- bench-receiver:end -->"


def receiver_table(r: dict[str, Any]) -> str | None:
    """The receiver load test (`make bench-receiver`): one row per receiver, with the
    ≤ 10 ms p99 target for the rows with an inbox and pywa's row beside them."""
    rx = r.get("receiver")
    if not rx:
        return None
    m = r.get("machine", {})
    lines = [
        f"Receiver load test, {rx['measured_utc']} UTC: {rx['rate_per_s']:,} distinct deliveries/s "
        f"for {rx['seconds']:g} s (`make bench-receiver`, release builds, a no-op handler; the "
        "Redis rows run next to a real `redis-server`; latency from each delivery's scheduled "
        f"send time). {rx.get('cores', m.get('cores', '?'))} cores ({m.get('cpu', '?')}), load "
        f"average {rx.get('load_average_1_5_15', '?')} at the end of the run (a shared machine). "
        "Target: p99 ≤ 10 ms with an inbox. Generated from `bench/results.json` by "
        "`bench/report.py`; do not edit by hand.",
        "",
        "| receiver | deliveries/s | p50 ack | p99 ack | errors | target |",
        "|---|---|---|---|---|---|",
    ]
    for row in rx["rows"]:
        label = row["label"]
        target = ""
        if "inbox" in label and "no inbox" not in label:
            target = verdict(row["p99_ms"] <= 10, f"p99 {row['p99_ms']:.1f} ms")
        lines.append(
            f"| {label} | {row['achieved_per_s']:.0f} | {row['p50_ms']:.2f} ms | "
            f"{row['p99_ms']:.2f} ms | {row['errors']} | {target} |"
        )
    return "\n".join(lines)


def replace_between(text: str, begin: str, end: str, body: str) -> str | None:
    if begin not in text or end not in text:
        return None
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body + "\n" + end + tail


def main() -> int:
    try:
        r = json.loads(RESULTS.read_text())
    except (OSError, ValueError) as e:
        print(f"bench/report.py: no results to report ({e}); run make bench first")
        return 1
    if "--record" in sys.argv:
        r["machine"] = machine()
        for key, suffix in (("rust_parse", ""), ("rust_parse_compact", "_compact")):
            rust = rust_section(suffix)
            if rust is not None:
                r[key] = rust
        RESULTS.write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
    text = table(r)
    print("\n## Every comparison of this run, with its target\n")
    print(text)
    rx = receiver_table(r)
    if rx is not None:
        print("\n" + rx)
    if "--readme" in sys.argv:
        readme = replace_between(README.read_text(), BEGIN, END, text)
        if readme is None:
            print("README.md has no bench markers")
            return 1
        if rx is not None:
            readme = replace_between(readme, RX_BEGIN, RX_END, rx) or readme
        README.write_text(readme)
        print("\nREADME.md: performance table rewritten from bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
