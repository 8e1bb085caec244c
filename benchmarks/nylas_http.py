"""CPU per Nylas request of the bot's HTTP client (httpx over aiohttp's pool, bot/nylas/http.py)
beside httpx's own transport (httpcore over anyio): one pool, and eight pools taken in turn (the
bot before: httpcore scans its whole pool on every request). Against the fake Nylas in a process
of its own with no latency, so the figures are this process's alone.

    python -m benchmarks.nylas_http [--requests 20000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import time
from collections.abc import Sequence

import httpx

from benchmarks.bulk_processes import fakes
from benchmarks.fakes_process import CREDENTIAL
from bot.nylas.http import nylas_http
from tests.fakes.nylas import API_KEY

SCOPE = "https://www.googleapis.com/auth/calendar"
BOT = "httpx over aiohttp (bot)"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(
    clients: Sequence[httpx.AsyncClient], requests: int, concurrency: int
) -> tuple[float, float]:
    """CPU µs per request and requests per second, after a warm-up that opens the connections."""
    slots = asyncio.Semaphore(concurrency)
    turns = itertools.cycle(clients)

    async def one(index: int) -> None:
        body = {
            "provider": "google",
            "settings": {
                "credential_id": CREDENTIAL,
                "email_address": f"user{index}@bench.example.com",
                "scopes": [SCOPE],
            },
        }
        async with slots:
            response = await next(turns).post("/v3/connect/custom", json=body)
            assert response.status_code == 201, response.text
            response.json()

    await asyncio.gather(*(one(index) for index in range(concurrency * 4)))
    cpu, started = cpu_seconds(), time.monotonic()
    await asyncio.gather(*(one(index) for index in range(requests)))
    took = time.monotonic() - started
    return (cpu_seconds() - cpu) / requests * 1e6, requests / took


def plain(url: str, pools: int, concurrency: int) -> list[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=max(1, concurrency // pools))
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return [httpx.AsyncClient(base_url=url, headers=headers, limits=limits) for _ in range(pools)]


async def main(requests: int, concurrency: int) -> None:
    async with fakes(0.0, None, 0.0) as fake:
        url = fake.info["nylas"]
        print(f"{requests:,} requests, {concurrency} in flight, fake Nylas at zero latency")
        results: dict[str, float] = {}
        for name, clients in (
            (BOT, [nylas_http(api_uri=url, api_key=API_KEY, timeout_seconds=30, connections=64)]),
            ("httpx's own, one pool", plain(url, 1, concurrency)),
            ("httpx's own, 8 pools", plain(url, 8, concurrency)),
        ):
            cpu, speed = await measure(clients, requests, concurrency)
            for client in clients:
                await client.aclose()
            results[name] = cpu
            print(f"  {name:<26} {cpu:6.0f} µs CPU per request  {speed:7,.0f} requests/s")
    others = [(name, cpu) for name, cpu in results.items() if name != BOT]
    ratios = ", ".join(f"{results[BOT] / cpu:.2f}x {name}" for name, cpu in others)
    print(f"  the bot's CPU per request: {ratios}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.concurrency))
