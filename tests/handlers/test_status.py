"""`/bulkauth status` through the running bot: every section, from what the database holds."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from storage.models import (
    ConsentRequest,
    ItemStatus,
    RunStatus,
    utcnow,
)
from storage.runs import add_items
from tests.conftest import ADMIN, OUTSIDER, RunningBot
from tests.fakes.slack import FakeSlack
from tests.records import credential_record, run_record, worked_by_another_replica
from tests.slack_requests import slash_command


async def ask_status(bot: RunningBot, slack: FakeSlack) -> list[str]:
    """`/bulkauth status`; the sections of the ephemeral answer, as text."""
    response = await bot.command(
        slash_command("status", user_id=ADMIN, response_url=slack.response_url())
    )
    assert response.status == 200 and not await response.text()
    [answer] = await slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    return [
        block["text"]["text"] if block["type"] == "section" else json.dumps(block)
        for block in answer.params["blocks"]
    ]


def section(sections: list[str], title: str) -> str:
    found = [text for text in sections if title in text]
    assert found, f"no section {title!r} in {sections}"
    return found[0]


async def seed(bot: RunningBot) -> dict[str, int]:
    """Credentials, runs in every state, consent requests and secrets about to expire."""
    now, today = utcnow(), date.today()
    async with bot.deps.sessions() as session:
        acme = credential_record("acme.com", "google")
        contoso = credential_record("contoso.com", "microsoft", tenant="contoso.com")
        soon = credential_record(
            "soon.example", "microsoft", secret_expires_on=today + timedelta(10)
        )
        gone = credential_record(
            "gone.example", "microsoft", secret_expires_on=today - timedelta(2)
        )
        later = credential_record(
            "later.example", "microsoft", secret_expires_on=today + timedelta(90)
        )
        session.add_all([acme, contoso, soon, gone, later])
        await session.flush()
        runs = {
            "awaiting": run_record(acme.id, RunStatus.AWAITING_APPROVAL, total=4),
            "running": run_record(acme.id, RunStatus.RUNNING, started_at=now, total=4),
            "waiting": run_record(
                contoso.id,
                RunStatus.WAITING_FOR_CONSENT,
                provider="microsoft",
                total=4,
                start_after=now + timedelta(minutes=4),
            ),
            "finished": run_record(
                acme.id,
                RunStatus.FINISHED,
                finished_at=now - timedelta(days=3),
                created=3,
                failed=1,
            ),
            "rejected": run_record(
                acme.id, RunStatus.REJECTED, approved_by="U0ANN", decided_at=now - timedelta(1)
            ),
            "old": run_record(acme.id, RunStatus.FINISHED, finished_at=now - timedelta(days=10)),
        }
        session.add_all(runs.values())
        await session.flush()
        running_id = runs["running"].id
        assert running_id is not None
        await add_items(session=session, run_id=running_id, emails=["a@acme.com"])
        await add_items(
            session=session,
            run_id=running_id,
            emails=["b@acme.com", "c@acme.com"],
            status=ItemStatus.CREATED,
        )
        await add_items(session=session, run_id=running_id, emails=["d@acme.com"])
        await worked_by_another_replica(session, running_id)
        for state, consent_fields in (
            ("pending", {"expires_at": now + timedelta(days=6)}),
            ("expired", {"expires_at": now - timedelta(hours=1)}),
            (
                "propagating",
                {
                    "status": "consented",
                    "expires_at": now + timedelta(days=6),
                    "consented_at": now,
                    "ready_at": now + timedelta(minutes=4),
                },
            ),
        ):
            assert contoso.id is not None
            values: dict[str, Any] = {"status": "pending", **consent_fields}
            session.add(
                ConsentRequest(
                    credential_id=contoso.id if state != "propagating" else soon.id or 0,
                    state_hash=f"hash-{state}",
                    requested_by=ADMIN,
                    requested_by_name="Ada",
                    channel_id="C0OPS",
                    **values,
                )
            )
        await session.commit()
        return {name: run.id or 0 for name, run in runs.items()}


async def test_status_shows_each_section_from_the_database(
    bot: RunningBot, slack: FakeSlack
) -> None:
    ids = await seed(bot)
    sections = await ask_status(bot, slack)

    awaiting = section(sections, "Awaiting approval")
    assert f"*Run {ids['awaiting']}* · acme.com · 4 users · requested by <@U0ADMIN>" in awaiting

    running = section(sections, "Running* (1)")
    assert f"*Run {ids['running']}* · acme.com" in running and "2/4 (50%)" in running

    waiting = section(sections, "Waiting for consent propagation")
    assert f"*Run {ids['waiting']}* · contoso.com · 4 users · ready at <!date^" in waiting
    assert "{time}|" in waiting  # HH:MM in each reader's own zone

    ended = section(sections, "Ended in the last 7 days* (2)")
    assert f"*Run {ids['finished']}* · acme.com · finished" in ended
    assert "created 3" in ended and "failed 1" in ended
    assert f"*Run {ids['rejected']}* · acme.com · rejected by <@U0ANN>" in ended
    assert f"*Run {ids['old']}*" not in "\n".join(sections)

    consents = section(sections, "Consent requests open* (2)")
    assert "*contoso.com* · link sent by <@U0ADMIN>" in consents and "expires" in consents
    assert "*soon.example* · consented, propagating: ready at <!date^" in consents

    secrets = section(sections, "expiring within 30 days* (2)")
    assert "*gone.example*" in secrets and "expired 2 days ago" in secrets
    assert "*soon.example*" in secrets and "expires in 10 days" in secrets
    assert "later.example" not in secrets
    assert secrets.index("gone.example") < secrets.index("soon.example")  # soonest first


async def test_status_with_nothing_going_on_says_so_in_each_section(
    bot: RunningBot, slack: FakeSlack
) -> None:
    sections = await ask_status(bot, slack)
    for empty in (
        "No run awaits approval.",
        "No run is running.",
        "No run is waiting for consent.",
        "No run ended in the last 7 days.",
        "No consent link is waiting for an admin",
    ):
        assert any(empty in text for text in sections), empty


async def test_many_runs_are_cut_to_fit_and_point_to_the_command_line(
    bot: RunningBot, slack: FakeSlack
) -> None:
    async with bot.deps.sessions() as session:
        acme = credential_record("a" * 120, "google")
        session.add(acme)
        await session.flush()
        session.add_all(
            run_record(acme.id, RunStatus.AWAITING_APPROVAL, total=4) for _ in range(60)
        )
        await session.commit()
    awaiting = section(await ask_status(bot, slack), "Awaiting approval* (60)")
    assert len(awaiting) <= 3000  # the fake Slack refuses more, as Slack does
    shown = awaiting.count("*Run ")
    assert f"…and {60 - shown} more (`bulkauth runs list` shows them all)" in awaiting
    assert 10 < shown <= 20
    assert "a" * 40 not in awaiting  # long names are shortened


async def test_outsiders_get_no_status(bot: RunningBot, slack: FakeSlack) -> None:
    await seed(bot)
    response = await bot.command(slash_command("status", user_id=OUTSIDER))
    assert "not allowed" in (await response.text())
    await bot.settled()
    assert slack.calls_to("response_url") == []
