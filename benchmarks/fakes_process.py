"""The fake Slack and fake Nylas in a process of their own, so a benchmark measures the bot's CPU
and memory alone and the fakes never compete with it for the event loop.

    python -m benchmarks.fakes_process --latency 0.3 --rate-limit 50 --transient 0.02

Prints one JSON line with both URLs, then answers one JSON line per command read on stdin:
`stats` (Nylas calls, 429s, grants), `clicks N` (N outsider clicks on the run's Cancel button,
as Slack would send them), `reset` (forget the recorded requests), `stop`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from typing import Any

from tests.fakes.nylas import API_KEY, FakeNylas, StoredCredential
from tests.fakes.slack import FakeSlack
from tests.grant_flow import SEEDED
from tests.slack_requests import payload_body
from tests.slack_ui import message_click

ADMIN = "U0BENCH"
OUTSIDER = "U0BENCHOUT"  # clicks buttons it may not use: refused, so the run goes on
CREDENTIAL = "cred-bench"


def stats(nylas: FakeNylas) -> dict[str, Any]:
    custom = [r for r in nylas.requests if r.path == "/v3/connect/custom"]
    statuses = Counter(r.status for r in custom)
    return {
        "calls": len(custom),
        "statuses": {str(status): count for status, count in statuses.items()},
        "throttled": nylas.throttled,
        "grants": len(nylas.grants),
        "per_second": per_second(custom),
        "first": custom[0].at if custom else None,
        "last": custom[-1].at if custom else None,
        # when Nylas counted the canary and the call after it (time.monotonic(), as "last")
        "arrivals": [r.arrived for r in custom[:2]],
        "idle": idle_budget(custom, nylas.rate_limit_per_second),
    }


def idle_budget(custom: list[Any], limit: int | None, edge: float = 2.0) -> list[float]:
    """Where Nylas's budget went unused between the first and the last call it accepted: the
    seconds of the whole limit left idle (for each of the `limit` places in Nylas's window, the
    time it stood empty, over `limit`) from the end of the first window to `edge` seconds after
    the first call (the canary, a joining replica), then until `edge` seconds before the last
    (the run at full pace), then to the last (its last users, their retries). Pacing evenly at
    the limit leaves none; the first window, which fills as the calls begin, is left out."""
    accepted = [r.arrived for r in custom if r.status != 429]
    if not limit or len(accepted) < 2:
        return []
    first, last = accepted[0], accepted[-1]
    edges = sorted([first + 1.0, first + edge, last - edge, last])
    bounds = [min(max(at, first + 1.0), last) for at in edges]
    # a call holds its place in Nylas's window for one second from its arrival
    events = sorted([(t, 1) for t in accepted] + [(t + 1.0, -1) for t in accepted])
    idle = [0.0, 0.0, 0.0]
    held, since = 0, first
    for at, change in events:
        for phase in range(3):
            lo, hi = max(since, bounds[phase]), min(at, bounds[phase + 1])
            if hi > lo:
                idle[phase] += (limit - held) * (hi - lo) / limit
        held, since = held + change, at
    return [round(seconds, 3) for seconds in idle]


def per_second(custom: list[Any]) -> list[list[int]]:
    """Calls answered (not 429) and refused (429) in each second from the first call."""
    if not custom:
        return []
    first = custom[0].at
    seconds: list[list[int]] = [[0, 0] for _ in range(int(custom[-1].at - first) + 1)]
    for record in custom:
        seconds[int(record.at - first)][record.status == 429] += 1
    return seconds


def clicks(slack: FakeSlack, count: int) -> list[str]:
    [(channel, ts)] = [key for key in slack.messages if "Cancel" in json.dumps(slack.messages[key])]
    return [payload_body(message_click(slack, OUTSIDER, channel, ts, "Cancel"))] * count


async def serve(latency: float, rate_limit: int | None, transient: float) -> None:
    slack = FakeSlack()
    nylas = FakeNylas(
        api_key=API_KEY,
        latency=latency,
        rate_limit_per_second=rate_limit,
        transient_error_rate=transient,
    )
    nylas.credentials[CREDENTIAL] = StoredCredential(
        CREDENTIAL, "google", "bench", "serviceaccount", SEEDED["google"], 1, 1
    )
    await slack.start()
    await nylas.start()
    slack.add_user(ADMIN, "Bench", admin=True)
    slack.add_user(OUTSIDER, "Outsider")
    print(json.dumps({"slack": slack.url, "nylas": nylas.url}), flush=True)
    loop = asyncio.get_running_loop()
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).split():
        command, *arguments = line
        if command == "stop":
            break
        if command == "stats":
            answer: object = stats(nylas)
        elif command == "arrivals":  # of Custom Authentication calls, and whether refused (429)
            custom = [r for r in nylas.requests if r.path == "/v3/connect/custom"]
            answer = [[r.arrived, r.status] for r in custom]
        elif command == "clicks":
            answer = clicks(slack, int(arguments[0]))
        elif command == "reset":
            nylas.requests.clear()
            nylas.throttled = 0
            answer = "ok"
        else:
            answer = f"unknown command {command}"
        print(json.dumps(answer), flush=True)
    await slack.stop()
    await nylas.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int)
    parser.add_argument("--transient", type=float, default=0.0)
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.latency, arguments.rate_limit, arguments.transient))
