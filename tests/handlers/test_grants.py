"""Bulk grant creation end to end: request modal, plan, approval, run, progress, CSV, audit."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from sqlmodel import select

from storage.audit import AuditFilter, latest_events
from storage.models import BulkRun, RunItem
from tests.conftest import ADMIN, OUTSIDER, RunningBot, SettingsFactory, run_bot
from tests.fakes.nylas import FakeNylas
from tests.fakes.slack import FakeSlack, SlackCall
from tests.grant_flow import (
    approval_request,
    confirm,
    fill_request,
    open_request,
    plan,
    request_approval,
    run_csv_rows,
    seed_credential,
    start_run,
    wait_for_csv,
)
from tests.records import consent_record
from tests.slack_requests import slash_command
from tests.slack_ui import Person, assert_refused_in_place

APPROVER = "U0APPROVER"
SECOND_APPROVER = "U0APPROVER2"
APPROVALS = "C0APPROVALS"
RUN_SETTINGS = {
    "bulkauth_run_scan_seconds": 0.2,
    "bulkauth_progress_interval_seconds": 0.5,
    "bulkauth_item_lease_seconds": 2.0,
}


@pytest.fixture
async def bot(make_settings: SettingsFactory, slack: FakeSlack):  # type: ignore[no-untyped-def]
    slack.add_user(APPROVER, "Ann Approver")
    slack.add_user(SECOND_APPROVER, "Arne Approver")
    settings = make_settings(**RUN_SETTINGS, bulkauth_max_users=500)
    async with run_bot(settings) as running:
        yield running


@pytest.fixture
async def approval_bot(make_settings: SettingsFactory, slack: FakeSlack):  # type: ignore[no-untyped-def]
    slack.add_user(APPROVER, "Ann Approver")
    slack.add_user(SECOND_APPROVER, "Arne Approver")
    settings = make_settings(
        **RUN_SETTINGS,
        bulkauth_approval_channel=APPROVALS,
        bulkauth_approvers=[APPROVER, SECOND_APPROVER, ADMIN],
    )
    async with run_bot(settings) as running:
        yield running


def users(count: int, domain: str = "acme.com") -> str:
    return "\n".join(f"user{index}@{domain}" for index in range(count))


async def test_without_any_credential_the_command_says_how_to_register_one(
    bot: RunningBot, slack: FakeSlack
) -> None:
    response = await bot.command(slash_command("grants", user_id=ADMIN))
    assert response.status == 200
    [told] = await slack.wait_for("chat.postEphemeral")
    assert told.params["user"] == ADMIN and told.params["channel"] == "C0OPS"
    assert "no credential to create grants with yet" in told.text_blob()
    assert "/bulkauth credential google" in told.text_blob()
    assert slack.calls_to("views.open") == []  # Slack refuses a select without options


async def test_modal_shows_scopes_for_google_and_queueing_for_microsoft(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    google = await seed_credential(bot, nylas)
    microsoft = await seed_credential(bot, nylas, provider="microsoft", name="contoso.com")
    for credential, expected, absent in (
        (google, "grants_scopes", "start_when_ready"),
        (microsoft, "start_when_ready", "grants_scopes"),
    ):
        modal = await Person(bot, slack, ADMIN).open_modal(f"grants {credential.name}")
        assert expected in modal.text() and absent not in modal.text()
        assert modal.blocks[0]["element"]["initial_option"]["value"] == str(credential.id)
        chosen = await open_request(Person(bot, slack, ADMIN), credential)
        assert expected in chosen.text() and absent not in chosen.text()


INVALID = [
    pytest.param({"users": None}, {"grants_users_text": "at least one user"}, id="no-users"),
    pytest.param({"users": users(501)}, {"grants_users_file": "more than 500"}, id="too-many"),
    pytest.param(
        {"users": "a@b.com", "upload": "csv"},
        {"grants_users_file": "not both", "grants_users_text": "not both"},
        id="both-inputs",
    ),
    pytest.param(
        {"users": None, "upload": "pdf"}, {"grants_users_file": "CSV or text"}, id="not-csv"
    ),
    pytest.param(
        {"users": None, "upload": "no-email"},
        {"grants_users_file": "No column"},
        id="no-email-column",
    ),
    pytest.param(
        {"users": "a@b.com", "scopes": ()}, {"grants_scopes": "at least one scope"}, id="no-scope"
    ),
]


@pytest.mark.parametrize(("inputs", "expected"), INVALID)
async def test_request_modal_rejects_bad_input_in_place(
    bot: RunningBot,
    slack: FakeSlack,
    nylas: FakeNylas,
    inputs: dict[str, Any],
    expected: dict[str, str],
) -> None:
    credential = await seed_credential(bot, nylas)
    upload = {
        "csv": slack.host_file(b"email\na@b.com\n", filename="users.csv"),
        "pdf": slack.host_file(b"%PDF", filename="users.pdf"),
        "no-email": slack.host_file(b"name,team\nada,x\nbob,y\n", filename="users.csv"),
    }.get(inputs.pop("upload", ""))
    modal = await open_request(Person(bot, slack, ADMIN), credential)
    fill_request(modal, upload=upload, **inputs)
    assert_refused_in_place((await modal.submit()).ack, expected)
    assert nylas.requests == []


@pytest.fixture
async def large_list_bot(make_settings: SettingsFactory):  # type: ignore[no-untyped-def]
    async with run_bot(make_settings(**RUN_SETTINGS, bulkauth_max_users=20_000)) as running:
        yield running


async def test_a_large_uploaded_list_is_read_whole(
    large_list_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """20,000 rows (about 900 KB, which Slack's file host sends in pieces): every user is
    planned, none is lost to a partial read."""
    credential = await seed_credential(large_list_bot, nylas)
    rows = "".join(f"Person {i},Team {i % 7},person.number{i}@acme.com\n" for i in range(20_000))
    content = ("name,team,email\n" + rows).encode()
    assert len(content) > 900_000
    upload = slack.host_file(content, filename="everyone.csv")
    view = await plan(large_list_bot, slack, credential, None, upload=upload)
    assert "20,000 entries: 20,000 users" in view.text() and "20,000 new users" in view.text()


async def test_an_uploaded_list_over_the_user_limit_is_refused(
    large_list_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(large_list_bot, nylas)
    content = "".join(f"user{i}@acme.com\n" for i in range(20_001)).encode()
    modal = await open_request(Person(large_list_bot, slack, ADMIN), credential)
    fill_request(modal, upload=slack.host_file(content, filename="users.txt"))
    assert_refused_in_place((await modal.submit()).ack, {"grants_users_file": "more than 20,000"})
    assert nylas.calls("GET", "/v3/grants") == []


@pytest.mark.parametrize(
    "address",
    [
        "http://files.slack.com/files-pri/T0-F1/download/users.csv",
        "https://files.slack.com:8443/files-pri/T0-F1/download/users.csv",
        "https://files.slack.com.evil.example/users.csv",
        "http://127.0.0.1:1/files/F1/download/users.csv",
    ],
)
async def test_a_file_address_that_is_not_slacks_is_never_fetched(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, address: str
) -> None:
    """A forged file object (the submission altered on its way) cannot make the bot send its
    token anywhere but Slack's file host over https, or the Slack API origin it is set up with."""
    credential = await seed_credential(bot, nylas)
    upload = {**slack.host_file(b"email\na@acme.com\n", filename="users.csv")}
    upload["url_private_download"] = upload["url_private"] = address
    modal = await open_request(Person(bot, slack, ADMIN), credential)
    fill_request(modal, upload=upload)
    assert_refused_in_place((await modal.submit()).ack, {"grants_users_file": "not Slack's"})
    assert slack.calls_to("files.download") == []


async def test_a_file_that_arrives_incomplete_is_refused(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    content = "".join(f"user{i}@acme.com\n" for i in range(300)).encode()
    slack.cut_downloads_at = len(content) // 2 + 3  # ends inside an address
    modal = await open_request(Person(bot, slack, ADMIN), credential)
    fill_request(modal, upload=slack.host_file(content, filename="users.txt"))
    assert_refused_in_place((await modal.submit()).ack, {"grants_users_file": "incomplete"})


async def test_microsoft_credential_must_be_consented_and_ready(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas, provider="microsoft", name="contoso.com")
    modal = await open_request(Person(bot, slack, ADMIN), credential)
    fill_request(modal, users="a@contoso.com")
    ack = (await modal.submit()).ack
    assert "No admin consent is recorded" in ack["errors"]["grants_credential"]
    await _consent(bot, credential.id, ready_in_seconds=600)
    ack = (await modal.submit()).ack
    assert "grants can start at" in ack["errors"]["grants_credential"]
    modal.tick("Options", "start_when_ready")
    assert (await modal.submit()).ack["response_action"] == "update"


async def _consent(bot: RunningBot, credential_id: int | None, *, ready_in_seconds: float) -> None:
    async with bot.deps.sessions() as session:
        session.add(consent_record(credential_id, ready_in_seconds=ready_in_seconds))
        await session.commit()


async def test_plan_counts_duplicates_invalid_existing_and_new(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    nylas.add_grant("valid@acme.com")
    nylas.add_grant("stale@acme.com", status="invalid")
    for index in range(450):  # several List Grants pages
        nylas.add_grant(f"other{index}@elsewhere.com")
    pasted = (
        "New1@acme.com, new1@acme.com; valid@acme.com\nstale@acme.com not-an-email new2@acme.com"
    )
    view = await plan(bot, slack, credential, pasted)
    text = view.text()
    assert "6 entries: 4 users, 1 duplicates folded, 1 invalid" in text
    assert "2 new users" in text
    assert "1 already have a valid grant: skipped" in text
    assert "1 have an invalid grant: re-authenticated" in text
    assert "3 Nylas calls" in text and "`not-an-email`" in text
    pages = nylas.calls("GET", "/v3/grants")
    assert len(pages) == 3 and all(p.query["limit"] == "200" for p in pages)
    assert nylas.calls("POST", "/v3/connect/custom") == []


async def test_run_without_approval_channel_finishes_with_mixed_outcomes(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    existing = nylas.add_grant("stale@acme.com", status="invalid")
    nylas.permanent_failures["denied@acme.com"] = (400, "Client is unauthorized for scopes")
    nylas.fail("POST", "/v3/connect/custom", status=503, times=4)  # transient, retried
    emails = [f"user{index}@acme.com" for index in range(30)]
    view = await plan(
        bot, slack, credential, "\n".join([*emails, "stale@acme.com", "denied@acme.com"])
    )
    await confirm(bot, view)
    report = await wait_for_csv(slack)
    rows = {row["email"]: row for row in run_csv_rows(report)}
    assert len(rows) == 32
    assert Counter(row["outcome"] for row in rows.values()) == {
        "created": 30,
        "reauthenticated": 1,
        "failed": 1,
    }
    assert rows["stale@acme.com"]["grant_id"] == existing["id"]
    assert "unauthorized" in rows["denied@acme.com"]["error"]
    assert rows["denied@acme.com"]["request_id"]
    sent = Counter(
        r.body["settings"]["email_address"]
        for r in nylas.calls("POST", "/v3/connect/custom")
        if r.status == 201
    )
    assert set(sent.values()) == {1}  # no user created twice
    progress = [c for c in slack.calls_to("chat.update") if "Run " in c.text_blob()]
    assert progress and {c.params["ts"] for c in progress} == {progress[0].params["ts"]}
    assert (
        "finished" in progress[-1].text_blob() and "Failures by reason" in progress[-1].text_blob()
    )
    async with bot.deps.sessions() as session:
        run = (await session.exec(select(BulkRun))).one()
        created = await latest_events(session=session, filters=AuditFilter(email="user3@acme.com"))
    assert (run.status, run.created, run.reauthenticated, run.failed) == ("finished", 30, 1, 1)
    assert [e.action for e in created] == ["grant.created"]
    details = json.loads(created[0].details)
    assert details["requested_by"] == ADMIN and details["approved_by"] == ADMIN
    assert created[0].grant_id == rows["user3@acme.com"]["grant_id"]


async def test_a_run_faster_than_slack_still_reports_in_its_progress_message(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas)
    view = await plan(bot, slack, credential, users(2))
    slack.latency["chat.postMessage"] = 1.0  # five run scans pass while the message is posted
    await confirm(bot, view)
    report = await wait_for_csv(slack)
    assert len(run_csv_rows(report)) == 2
    [posted] = slack.calls_to("chat.postMessage")
    assert nylas.calls("POST", ".*custom"), "the run ran"
    [summary] = [c for c in slack.calls_to("chat.update") if "finished" in c.text_blob()]
    assert summary.params["channel"] == "D" + ADMIN[1:]
    assert "Run 1" in posted.text_blob()


async def test_approval_by_an_approver_starts_the_run_in_the_thread(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(approval_bot, nylas)
    view = await plan(approval_bot, slack, credential, users(5))
    assert "Request approval" in view.text()
    await confirm(approval_bot, view)
    request = await approval_request(slack, approval_bot)
    assert request.params["channel"] == APPROVALS and nylas.calls("POST", ".*custom") == []
    ts = next(ts for (channel, ts) in slack.messages if channel == APPROVALS)
    await Person(approval_bot, slack, APPROVER).click(request, "Approve")
    await wait_for_csv(slack)
    decided = [c for c in slack.calls_to("chat.update") if c.params["ts"] == ts]
    assert "Approved by <@U0APPROVER>" in decided[0].text_blob()
    assert "approve_run" not in decided[0].text_blob()
    progress = [c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts]
    assert progress, "the progress message is a reply in the approval thread"
    assert any(u.thread_ts == ts and u.channel_id == APPROVALS for u in slack.uploads.values())
    told = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == ADMIN]
    assert "Approved" in told[0].text_blob()
    async with approval_bot.deps.sessions() as session:
        events = await latest_events(session=session, filters=AuditFilter(run_id=1), limit=50)
    approvals = [e for e in events if e.action == "run.approved"]
    assert approvals[0].actor_id == APPROVER
    assert all(
        json.loads(e.details)["approved_by"] == APPROVER
        for e in events
        if e.action == "grant.created"
    )


async def test_an_uploaded_list_is_planned_approved_and_run(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    """The credential chosen in the select, the users in a CSV file: plan, approval, run."""
    credential = await seed_credential(approval_bot, nylas)
    listed = b"Name,E-mail\nAnn,ann@acme.com\nBob,bob@acme.com\nCy,cy@acme.com\n"
    upload = slack.host_file(listed, filename="people.csv")
    view = await plan(approval_bot, slack, credential, None, upload=upload)
    assert "3 new users" in view.text()
    await confirm(approval_bot, view)
    request = await approval_request(slack, approval_bot)
    await Person(approval_bot, slack, APPROVER).click(request, "Approve")
    report = await wait_for_csv(slack)
    rows = {row["email"]: row["outcome"] for row in run_csv_rows(report)}
    assert rows == {"ann@acme.com": "created", "bob@acme.com": "created", "cy@acme.com": "created"}


async def _request(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas) -> tuple[SlackCall, str]:
    """An approval request in the channel: its message and its ts."""
    credential = await seed_credential(bot, nylas)
    request = await request_approval(bot, slack, credential, users(3))
    answer = await slack.answer_of(request)
    assert answer["channel"] == APPROVALS
    return request, str(answer["ts"])


async def test_requester_and_outsiders_cannot_approve(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    request, _ts = await _request(approval_bot, slack, nylas)
    for user in (ADMIN, OUTSIDER):
        await Person(approval_bot, slack, user).click(request, "Approve")
    # each click is handled on its own once acknowledged: the refusals may come in either order
    refusals = {
        call.params["user"]: call.text_blob()
        for call in await slack.wait_for("chat.postEphemeral", count=2)
    }
    assert "own request" in refusals[ADMIN]
    assert "Only approvers" in refusals[OUTSIDER]
    async with approval_bot.deps.sessions() as session:
        run = (await session.exec(select(BulkRun))).one()
        denied = [e for e in await latest_events(session=session) if e.action == "access.denied"]
    assert run.status == "awaiting_approval"
    assert {e.actor_id for e in denied} == {ADMIN, OUTSIDER}
    assert nylas.calls("POST", ".*custom") == []


async def test_concurrent_approvals_apply_exactly_once(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    request, _ts = await _request(approval_bot, slack, nylas)
    await asyncio.gather(
        *(
            Person(approval_bot, slack, user).click(request, "Approve")
            for user in (APPROVER, SECOND_APPROVER, APPROVER)
        )
    )
    await wait_for_csv(slack)
    await approval_bot.settled()
    async with approval_bot.deps.sessions() as session:
        approvals = [
            e for e in await latest_events(session=session, limit=100) if e.action == "run.approved"
        ]
        run_starts = [
            e for e in await latest_events(session=session, limit=100) if e.action == "run.started"
        ]
    assert len(approvals) == 1 and len(run_starts) == 1
    already = [
        c for c in slack.calls_to("chat.postEphemeral") if "already decided" in c.text_blob()
    ]
    assert len(already) == 2
    assert len(nylas.calls("POST", ".*custom")) == 3


async def test_rejection_carries_a_reason_and_creates_nothing(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    request, ts = await _request(approval_bot, slack, nylas)
    approver = Person(approval_bot, slack, APPROVER)
    await approver.click(request, "Reject")
    reason = await approver.next_modal(lambda c: "reject_reason" in c.text_blob())
    reason.type("Reason", "Wrong tenant <!channel>")
    assert (await reason.submit()).status == 200
    decided = await slack.wait_for("chat.update", lambda c: c.params["ts"] == ts)
    assert "Rejected by <@U0APPROVER>" in decided[0].text_blob()
    assert "Wrong tenant &lt;!channel&gt;" in decided[0].text_blob()
    await approval_bot.settled()
    async with approval_bot.deps.sessions() as session:
        run = (await session.exec(select(BulkRun))).one()
    assert (run.status, run.rejection_reason) == ("rejected", "Wrong tenant <!channel>")
    assert nylas.calls("POST", ".*custom") == []


async def test_cancel_stops_new_items_and_keeps_finished_ones(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.latency = 0.05
    settings = make_settings(**RUN_SETTINGS, bulkauth_nylas_rps=20, bulkauth_nylas_concurrency=2)
    async with run_bot(settings) as bot:
        await start_run(bot, slack, nylas, users(200))
        await nylas.wait_for("POST", "/v3/connect/custom", count=5)
        progress = await slack.wait_for("chat.postMessage", lambda c: "Run 1" in c.text_blob())
        await Person(bot, slack, ADMIN).click(progress[0], "Cancel")
        report = await wait_for_csv(slack)
        await bot.settled()
        sent_at_end = len(nylas.calls("POST", "/v3/connect/custom"))
    outcomes = Counter(row["outcome"] for row in run_csv_rows(report))
    assert outcomes["created"] + outcomes["pending"] == 200 and outcomes["pending"] > 100
    assert outcomes["created"] == sent_at_end  # nothing was sent after the cancel settled
    final = slack.calls_to("chat.update")[-1].text_blob()
    assert "cancelled by <@U0ADMIN>" in final


async def test_a_restart_in_the_middle_loses_and_repeats_nothing(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas
) -> None:
    nylas.latency = 0.02
    settings = make_settings(**RUN_SETTINGS, bulkauth_nylas_rps=50, bulkauth_nylas_concurrency=4)
    async with run_bot(settings) as bot:
        await start_run(bot, slack, nylas, users(120))
        await nylas.wait_for("POST", "/v3/connect/custom", count=20)
    stopped_at = len(nylas.calls("POST", "/v3/connect/custom"))
    assert stopped_at < 120
    async with run_bot(settings) as bot:
        report = await wait_for_csv(slack)
        async with bot.deps.sessions() as session:
            items = (await session.exec(select(RunItem))).all()
    rows = list(run_csv_rows(report))
    assert Counter(row["outcome"] for row in rows) == {"created": 120}
    sent = Counter(
        r.body["settings"]["email_address"] for r in nylas.calls("POST", "/v3/connect/custom")
    )
    assert len(sent) == 120 and set(sent.values()) == {1}
    assert len({item.claimed_by for item in items}) == 2  # both processes did some


async def test_two_workers_on_postgresql_share_one_run(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, postgres_server: Any
) -> None:
    nylas.latency = 0.02
    settings = make_settings(
        **RUN_SETTINGS,
        bulkauth_nylas_rps=100,
        bulkauth_nylas_concurrency=3,
        database_url=await postgres_server.new_database(),
    )
    async with run_bot(settings) as first, run_bot(settings) as second:
        credential = await seed_credential(first, nylas)
        await confirm(first, await plan(first, slack, credential, users(150)))
        report = await wait_for_csv(slack)
        async with second.deps.sessions() as session:
            items = (await session.exec(select(RunItem))).all()
    assert Counter(row["outcome"] for row in run_csv_rows(report)) == {"created": 150}
    sent = Counter(
        r.body["settings"]["email_address"] for r in nylas.calls("POST", "/v3/connect/custom")
    )
    assert len(sent) == 150 and set(sent.values()) == {1}
    workers = Counter(item.claimed_by for item in items)
    assert len(workers) == 2 and min(workers.values()) > 0
    assert (
        first.deps.run_engine.worker_id in workers and second.deps.run_engine.worker_id in workers
    )


async def test_a_replica_that_joins_a_slow_run_finds_users_left_to_work(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, postgres_server: Any
) -> None:
    """A pass claims only what it sends in a moment (a sender takes its turn, then a user), so a
    replica started while a run is under way shares it. The first used to claim a whole batch
    (64 users here), which at 10/s held everyone for the run, and the two reached its end
    seconds apart, one alone at half the budget."""
    settings = make_settings(
        **RUN_SETTINGS, bulkauth_nylas_rps=10, database_url=await postgres_server.new_database()
    )
    async with run_bot(settings) as first:
        await start_run(first, slack, nylas, users(40))
        await nylas.wait_for("POST", "/v3/connect/custom", count=5)
        async with run_bot(settings) as second:
            report = await wait_for_csv(slack)
            async with second.deps.sessions() as session:
                items = (await session.exec(select(RunItem))).all()
    assert Counter(row["outcome"] for row in run_csv_rows(report)) == {"created": 40}
    workers = Counter(item.claimed_by for item in items)
    assert workers[second.deps.run_engine.worker_id] >= 10


async def test_a_replica_that_picks_a_run_up_as_it_starts_takes_its_share_without_refusals(
    make_settings: SettingsFactory, slack: FakeSlack, nylas: FakeNylas, postgres_server: Any
) -> None:
    """Two idle replicas count the callers only once a second, so the second picks the run up
    (it scans every 0.2 s) before its count shows the first calling. Its pass counts them before
    its canary's claim: it takes its share as the first makes room, instead of its whole share
    into a window the first has filled (refused calls)."""
    nylas.rate_limit_per_second = 20  # Nylas's limit: the budget the replicas share
    settings = make_settings(
        **RUN_SETTINGS, bulkauth_nylas_rps=20, database_url=await postgres_server.new_database()
    )
    async with run_bot(settings) as first, run_bot(settings) as second:
        await start_run(first, slack, nylas, users(60))
        report = await wait_for_csv(slack)
        async with second.deps.sessions() as session:
            items = (await session.exec(select(RunItem))).all()
    assert Counter(row["outcome"] for row in run_csv_rows(report)) == {"created": 60}
    assert Counter(item.claimed_by for item in items)[second.deps.run_engine.worker_id] > 0
    # Without the count before its canary, its whole share went at once: 12 or 13 refused. At
    # the run's end, the replica whose pass ended withdrew its word with its last second of calls
    # still in Nylas's window, and the other took the whole budget into it: up to 12 refused, in
    # one run in five. Now 0, or a stray one at a window's edge.
    assert nylas.throttled <= 2


@pytest.mark.parametrize("failure", ["refused", "unreachable"])
async def test_a_failure_slack_did_not_show_in_the_modal_is_told_all_the_same(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str
) -> None:
    """Slack refused the plan's view and then the failure's, or never answered them (the
    connection dropped, and the client's retries too): the person is told in the channel that
    something went wrong. Unanswered, the failure's own view ended it there: they were told
    nothing, and the modal kept saying it was checking."""
    credential = await seed_credential(bot, nylas)
    modal = await open_request(Person(bot, slack, ADMIN), credential)
    fill_request(modal, users=users(2))
    if failure == "refused":
        slack.fail_next("views.update", status=200, error="not_found", retry_after=None, times=2)
    else:
        slack.drop_next("views.update", times=6)  # two views, three attempts each
    submitted = await modal.submit()
    assert submitted.ack.get("response_action") == "update"
    [told] = await slack.wait_for("chat.postEphemeral", lambda c: "went wrong" in c.text_blob())
    assert told.params["user"] == ADMIN


async def test_a_queued_microsoft_run_starts_by_itself_when_consent_is_ready(
    bot: RunningBot, slack: FakeSlack, nylas: FakeNylas
) -> None:
    credential = await seed_credential(bot, nylas, provider="microsoft", name="contoso.com")
    await _consent(bot, credential.id, ready_in_seconds=1.5)
    view = await plan(
        bot,
        slack,
        credential,
        users(4, "contoso.com"),
        options=("skip_existing", "start_when_ready"),
    )
    assert "Starts automatically at" in view.text()
    await confirm(bot, view)
    [queued] = await slack.wait_for("chat.postMessage", lambda c: "Run 1" in c.text_blob())
    assert "waiting for consent propagation" in queued.text_blob()
    report = await wait_for_csv(slack)
    assert Counter(row["outcome"] for row in run_csv_rows(report)) == {"created": 4}
    first_call = nylas.calls("POST", "/v3/connect/custom")[0]
    assert (
        first_call.body["provider"] == "microsoft" and "scopes" not in first_call.body["settings"]
    )


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        ("not_in_channel", "Invite it there"),
        ("internal_error", "Slack refused (internal_error)"),
        ("unreachable", "Slack did not answer"),
    ],
)
async def test_a_run_is_withdrawn_when_the_approval_channel_is_out_of_reach(
    approval_bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, failure: str, words: str
) -> None:
    """Slack refused the request's post, or never answered it (the connection dropped, and the
    client's retries too): the run is withdrawn and the requester told why; "invite the bot"
    only when the channel is what Slack refused."""
    credential = await seed_credential(approval_bot, nylas)
    view = await plan(approval_bot, slack, credential, users(2))
    if failure == "unreachable":
        slack.drop_next("chat.postMessage", times=3)  # the call and the client's two retries
    else:
        slack.fail_next("chat.postMessage", status=200, error=failure, retry_after=None)
    await confirm(approval_bot, view)
    told = await slack.wait_for("views.update", lambda c: "withdrawn" in c.text_blob())
    assert words in told[-1].text_blob()
    await approval_bot.settled()
    async with approval_bot.deps.sessions() as session:
        run = (await session.exec(select(BulkRun))).one()
    assert run.status == "cancelled"
    assert nylas.calls("POST", ".*custom") == []
