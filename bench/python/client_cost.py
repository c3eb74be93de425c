"""The client's own cost per message (make bench-client, Python part).

The sandbox runs as a separate release process (``wa360 sandbox``, started by mk/bench.mk and
pinned with taskset to another core when the machine has one); this process is pinned to core
0. Three clients post the same text message to ``/messages`` at concurrency 64 and parse each
answer: ``wa360.AsyncClient.send_text``, ``aiohttp.ClientSession`` and ``httpx.AsyncClient``.
Rounds are interleaved (wa360, aiohttp, httpx, wa360, ...). Per round: the CPU time of this
process (user + sys, every thread: wa360's native I/O threads included) per message, msg/s, and
p50 / p99 latency. Results: ``bench/results.json``, section ``python_send``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

import wa360
from results import save_section, stats

CONCURRENCY = 64
QUICK = os.environ.get("BENCH_QUICK") == "1"
SENDS = 1000 if QUICK else 3000
ROUNDS = 3 if QUICK else 5
TO = "15555550123"


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


async def run_load(send: Callable[[int], Awaitable[None]], n: int) -> dict[str, float]:
    sem = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t0 = time.perf_counter()
            await send(i)
            latencies.append(time.perf_counter() - t0)

    c0 = cpu_s()
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    secs = time.perf_counter() - started
    cpu = cpu_s() - c0
    latencies.sort()
    return {
        "cpu_us_per_msg": cpu / n * 1e6,
        "msg_per_s": n / secs,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
    }


def body(i: int) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": "text",
        "text": {"body": f"message {i}"},
    }


async def bench(url: str, key: str) -> dict[str, Any]:
    ac = wa360.AsyncClient(key, base_url=url, max_retries=0)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    hx = httpx.AsyncClient(base_url=url, headers={"D360-API-KEY": key}, limits=limits, timeout=30)
    aio = aiohttp.ClientSession(
        base_url=url,
        headers={"D360-API-KEY": key},
        connector=aiohttp.TCPConnector(limit=CONCURRENCY),
    )

    async def send_wa360(i: int) -> None:
        r = await ac.send_text(TO, f"message {i}")
        assert r.message_id

    async def send_aiohttp(i: int) -> None:
        async with aio.post("/messages", json=body(i)) as r:
            r.raise_for_status()
            assert (await r.json())["messages"][0]["id"]

    async def send_httpx(i: int) -> None:
        r = await hx.post("/messages", json=body(i))
        r.raise_for_status()
        assert r.json()["messages"][0]["id"]

    clients = {
        "wa360.AsyncClient": send_wa360,
        "aiohttp": send_aiohttp,
        "httpx": send_httpx,
    }
    for send in clients.values():
        await run_load(send, 300)  # connections, caches
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in clients}
    async with aiohttp.ClientSession() as ctl:
        for _ in range(ROUNDS):
            for name, send in clients.items():
                runs[name].append(await run_load(send, SENDS))
            # keep the sandbox's request log small
            async with ctl.post(url + "/_sandbox/reset") as r:
                r.raise_for_status()
    await hx.aclose()
    await aio.close()

    def summary(xs: list[dict[str, float]]) -> dict[str, Any]:
        return {k: stats([x[k] for x in xs]) for k in xs[0]}

    w = runs["wa360.AsyncClient"]

    def ratio(other: str, key: str) -> dict[str, Any]:
        return stats([a[key] / b[key] for a, b in zip(w, runs[other], strict=True)])

    return {
        "concurrency": CONCURRENCY,
        "messages_per_round": SENDS,
        "rounds": ROUNDS,
        "clients": {k: summary(v) for k, v in runs.items()},
        "ratios": {
            "wa360 / aiohttp CPU per message": ratio("aiohttp", "cpu_us_per_msg"),
            "wa360 / httpx CPU per message": ratio("httpx", "cpu_us_per_msg"),
            "wa360 / httpx msg/s": ratio("httpx", "msg_per_s"),
            "wa360 / aiohttp msg/s": ratio("aiohttp", "msg_per_s"),
        },
    }


def main() -> int:
    url = os.environ.get("WA360_BASE_URL")
    key = os.environ.get("D360_API_KEY")
    if not url or not key:
        print("WA360_BASE_URL and D360_API_KEY must name a running sandbox (see mk/bench.mk)")
        return 2
    res = asyncio.run(bench(url, key))
    print(
        f"\n## Python sending, concurrency {CONCURRENCY}, {SENDS} per round, median of "
        f"{ROUNDS} rounds (sandbox in its own process)\n"
    )
    print("| client | CPU µs/msg | msg/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for name, s in res["clients"].items():
        print(
            f"| {name} | {s['cpu_us_per_msg']['median']:.0f} | {s['msg_per_s']['median']:.0f} "
            f"| {s['p50_ms']['median']:.1f} | {s['p99_ms']['median']:.1f} |"
        )
    for name, r in res["ratios"].items():
        print(f"{name}: {r['median']:.2f}× (rounds {r['min']:.2f}–{r['max']:.2f})")
    print("Targets: CPU per message ≤ 0.5× aiohttp's; msg/s ≥ 2× httpx.")
    save_section("python_send", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
