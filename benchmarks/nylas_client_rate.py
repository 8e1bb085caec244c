"""How close the Nylas client runs to its configured rate, against a local fake Nylas server.

The fake answers after `--latency` seconds and enforces Nylas's 50 requests/s per application with
429 + Retry-After. Each configured rate is compared with an unthrottled baseline (the same client
with the limiter set far above Nylas's limit) run in the same process.

    python -m benchmarks.nylas_client_rate [--seconds 8] [--latency 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from pydantic import SecretStr

from bot.nylas.client import NylasClient, RetryPolicy
from bot.nylas.models import BulkAuthRequest, GoogleServiceAccountKey
from bot.nylas.throttle import Throttle
from tests.fakes.nylas import API_KEY, FakeNylas
from tests.keys import rsa_pem

NYLAS_LIMIT = 50


async def measure(rate: float, *, calls: int, latency: float, concurrency: int) -> dict[str, float]:
    fake = FakeNylas(latency=latency, rate_limit_per_second=NYLAS_LIMIT)
    url = await fake.start()
    client = NylasClient(
        api_uri=url,
        api_key=API_KEY,
        throttle=Throttle(rate_per_second=rate, concurrency=concurrency),
        retry=RetryPolicy(max_attempts=10, max_backoff_seconds=5),
    )
    key = GoogleServiceAccountKey(
        project_id="p",
        private_key_id="k",
        client_email="sa@p.iam",
        private_key=SecretStr(rsa_pem()),
    )
    fake.rate_limit_per_second = None
    credential = (await client.create_credential("google", name="bench", data=key)).data.id
    fake.rate_limit_per_second = NYLAS_LIMIT
    fake.requests.clear()
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            client.create_bulk_grant(
                BulkAuthRequest(
                    provider="google",
                    credential_id=credential,
                    email_address=f"u{index}@acme.com",
                    scopes=["https://www.googleapis.com/auth/calendar"],
                )
            )
            for index in range(calls)
        ),
        return_exceptions=True,
    )
    elapsed = time.monotonic() - started
    await client.aclose()
    await fake.stop()
    failed = sum(isinstance(result, BaseException) for result in results)
    return {
        "rate": (calls - failed) / elapsed,
        "elapsed": elapsed,
        "failed": failed,
        "throttled": fake.throttled,
        "sent": len(fake.requests),
    }


async def main(seconds: float, latency: float, rates: list[float], concurrency: int | None) -> None:
    print(
        f"fake Nylas: {latency * 1000:.0f} ms latency, {NYLAS_LIMIT} requests/s limit (429 beyond)"
    )
    for rate in rates:
        calls = int(rate * seconds)
        in_flight = concurrency or max(16, int(rate * latency * 2))
        ours = await measure(rate, calls=calls, latency=latency, concurrency=in_flight)
        baseline = await measure(1000.0, calls=calls, latency=latency, concurrency=in_flight)
        print(
            f"configured {rate:>4.0f}/s, {in_flight} in flight: achieved {ours['rate']:6.2f}/s = "
            f"{ours['rate'] / rate:.3f} of configured; {ours['throttled']:.0f} 429s, "
            f"{ours['failed']:.0f} lost, {ours['sent']:.0f} requests for {calls} calls | "
            f"unthrottled baseline: {baseline['rate']:6.2f}/s, {baseline['throttled']:.0f} 429s, "
            f"{baseline['failed']:.0f} lost, {baseline['sent']:.0f} requests"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[20.0, 50.0], help="configured rates to measure"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="calls in flight (BULKAUTH_NYLAS_CONCURRENCY; default: twice rate x latency)",
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.latency, arguments.rates, arguments.concurrency))
