"""`/metrics` scraped from the running bot during a run and after it: the counters agree with
the run's CSV and with what the fake Nylas and Slack saw."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack
from tests.grant_flow import run_csv_rows, start_run, wait_for_csv

CUSTOM_AUTH = r"/v3/connect/custom"
USERS = ["ann", "bob", "cy", "dee", "eve", "fay"]


async def scrape(bot: RunningBot) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample: (name, labels) -> value."""
    response = await bot.http.get(f"{bot.url}/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_during_and_after_a_run_match_its_csv(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.permanent_failures["eve@acme.com"] = (400, "Client is unauthorized for scopes")
    nylas.fail("POST", CUSTOM_AUTH, status=429, times=2, retry_after="0")
    nylas.hold(CUSTOM_AUTH, after=3)  # two 429s and one grant, then Nylas is slow
    slack.fail_next(
        "files.getUploadURLExternal", status=200, error="internal_error", retry_after=None
    )
    try:
        await start_run(bot, slack, nylas, "\n".join(f"{name}@acme.com" for name in USERS))
        await nylas.wait_for("POST", CUSTOM_AUTH, count=3)
        during = await scrape(bot)
    finally:
        nylas.release()
    assert value(during, "bulkauth_runs", status="running") == 1  # counted from the database
    assert value(during, "bulkauth_runs_active") == 1
    assert value(during, "bulkauth_nylas_rate_limited_total", endpoint=f"POST {CUSTOM_AUTH}") == 2

    outcomes = Counter(row["outcome"] for row in run_csv_rows(await wait_for_csv(slack)))
    await bot.settled()
    await bot.deps.run_engine.wait_stopped(1, timeout=10)  # its worker here has let go
    after = await scrape(bot)
    assert outcomes == {"created": 5, "failed": 1}
    for outcome, count in outcomes.items():
        assert value(after, "bulkauth_run_items_total", outcome=outcome) == count
    assert value(after, "bulkauth_runs", status="running") == 0
    assert value(after, "bulkauth_runs", status="finished") == 1
    assert value(after, "bulkauth_runs_active") == 0

    endpoint = f"POST {CUSTOM_AUTH}"
    by_status = Counter(str(call.status) for call in nylas.calls("POST", CUSTOM_AUTH))
    assert by_status == {"201": 5, "400": 1, "429": 2}
    for status, count in by_status.items():
        assert (
            value(after, "bulkauth_nylas_requests_total", endpoint=endpoint, status=status) == count
        )
    assert value(after, "bulkauth_nylas_retries_total", endpoint=endpoint) == 2
    assert value(after, "bulkauth_nylas_rate_limit_wait_seconds_total") >= 0
    grants = "GET /v3/grants"
    assert value(after, "bulkauth_nylas_requests_total", endpoint=grants, status="200") == len(
        nylas.calls("GET", "/v3/grants")
    )

    commands = value(after, "bulkauth_slack_requests_total", kind="command")
    clicks = value(after, "bulkauth_slack_requests_total", kind="block_actions")
    submissions = value(after, "bulkauth_slack_requests_total", kind="view_submission")
    assert commands >= 1 and submissions >= 1
    assert value(after, "bulkauth_slack_ack_seconds_count") == commands + clicks + submissions
    assert (
        value(after, "bulkauth_slack_ack_seconds_bucket", le="3.0")
        == commands + clicks + submissions
    )
    upload = {"method": "files.getUploadURLExternal"}
    assert value(after, "bulkauth_slack_api_errors_total", **upload, error="internal_error") == 1
    assert (
        value(
            after, "bulkauth_slack_api_errors_total", method="chat.update", error="internal_error"
        )
        == 0
    )


async def test_with_a_token_metrics_answer_only_its_bearer(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    async with run_bot(make_settings(bulkauth_metrics_token="scrape-me-0123456789")) as bot:
        statuses = []
        for authorization in (None, "Bearer scrape-me-012345678", "scrape-me-0123456789"):
            headers = {"Authorization": authorization} if authorization else {}
            async with bot.http.get(f"{bot.url}/metrics", headers=headers) as answer:
                statuses.append(answer.status)
        bearer = {"Authorization": "Bearer scrape-me-0123456789"}
        async with bot.http.get(f"{bot.url}/metrics", headers=bearer) as answer:
            assert answer.status == 200
            assert "bulkauth_runs_active" in await answer.text()
    assert statuses == [401, 401, 401]
    assert caplog.text.count("metrics.request_rejected") == 3
