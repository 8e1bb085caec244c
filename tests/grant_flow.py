"""Driving bulk grant creation through the running bot, as a person in Slack would."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.runs.results import PREAMBLE_LINES
from storage.models import CredentialRecord
from tests.conftest import ADMIN, RunningBot
from tests.fakes.nylas import FakeNylas, StoredCredential
from tests.fakes.slack import FakeSlack, SlackCall
from tests.records import credential_record
from tests.slack_ui import Modal, Person

GMAIL = "https://www.googleapis.com/auth/gmail.readonly"
PASTE_LIMIT = 3000  # the Users field's max_length
# Complete credential_data as registration sends it (the fake refuses custom auth without it).
SEEDED: dict[str, dict[str, str]] = {
    "google": {
        "type": "service_account",
        "project_id": "acme-bulk",
        "private_key_id": "seeded-key-id",
        "private_key": "seeded: not a key (the fake Nylas never reads it)",
        "client_email": "nylas-bulk@acme-bulk.iam.gserviceaccount.com",
    },
    "microsoft": {"tenant": "contoso.com"},
}


async def seed_credential(
    bot: RunningBot, nylas: FakeNylas, *, provider: str = "google", name: str = "acme.com"
) -> CredentialRecord:
    """A credential as registration leaves it: in Nylas and in the bot's database."""
    record = credential_record(
        name, provider, tenant="contoso.com" if provider == "microsoft" else None
    )
    nylas.credentials[record.nylas_credential_id] = StoredCredential(
        record.nylas_credential_id, provider, name, record.credential_type, SEEDED[provider], 1, 1
    )
    async with bot.deps.sessions() as session:
        session.add(record)
        await session.commit()
        await session.refresh(record)
    return record


async def open_request(
    person: Person, credential: CredentialRecord, *, preselected: bool = False
) -> Modal:
    """The request modal with `credential` chosen: named in the command (`preselected`), or
    chosen in the select, which makes the bot redraw the modal for that provider."""
    if preselected:
        return await person.open_modal(f"grants {credential.name}")
    modal = await person.open_modal("grants")
    await modal.choose("Credential", f"{credential.name} ({credential.provider.title()})")
    return modal


def fill_request(
    modal: Modal,
    *,
    users: str | None = None,
    upload: dict[str, Any] | None = None,
    scopes: tuple[str, ...] = (GMAIL,),
    options: tuple[str, ...] = ("skip_existing",),
    reason: str = "Onboarding the customer's team",
) -> None:
    """Type the users (or attach a file), pick the scopes (Google) and tick the options. A list
    longer than the Users field takes goes in a file, as the field's hint tells people to."""
    if users and len(users) > PASTE_LIMIT:
        assert upload is None
        upload = modal.slack.host_file(users.encode(), filename="users.txt")
        users = None
    modal.type("Users", users)
    if upload is not None:
        modal.attach("…or a CSV/TXT file", upload)
    if modal.has_input("Scopes"):
        modal.choose_many("Scopes", *scopes)
    modal.tick("Options", *options)
    modal.type("Reason", reason)


def button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    return next(
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )


async def plan(
    bot: RunningBot,
    slack: FakeSlack,
    credential: CredentialRecord,
    users: str | None,
    *,
    user_id: str = ADMIN,
    preselected: bool = False,
    **values: Any,
) -> Modal:
    """Open the modal, fill and submit it; returns the modal once it shows the dry-run plan."""
    modal = await open_request(Person(bot, slack, user_id), credential, preselected=preselected)
    fill_request(modal, users=users, **values)
    submitted = await modal.submit()
    assert submitted.status == 200 and submitted.ack.get("response_action") == "update", (
        submitted.ack
    )
    return await modal.wait_for("Dry run")


async def confirm(bot: RunningBot, plan_modal: Modal) -> None:
    """Press the plan's "Start run" or "Request approval"."""
    label = "Request approval" if "Request approval" in plan_modal.text() else "Start run"
    response = await plan_modal.click(label)
    assert response.status == 200


def is_approval_request(call: SlackCall) -> bool:
    return any(
        block.get("type") == "actions" and "approve_run" in json.dumps(block)
        for block in call.params.get("blocks") or []
    )


async def approval_request(slack: FakeSlack, bot: RunningBot) -> SlackCall:
    """The approval request the bot posted, once the bot has it on record (before any click)."""
    [request] = await slack.wait_for("chat.postMessage", is_approval_request)
    await bot.settled()
    return request


async def wait_for_csv(slack: FakeSlack, *, count: int = 1) -> str:
    """The run's end: the CSV of every user uploaded into the progress thread."""
    await slack.wait_for("files.completeUploadExternal", count=count, timeout=30)
    upload = [u for u in slack.uploads.values() if u.content][-1]
    return upload.content.decode()


def run_csv_preamble(report: str) -> list[str]:
    """The run CSV's comment lines (run, credential, requester, reason, approvers), unquoted."""
    lines = list(csv.reader(io.StringIO(report)))[:PREAMBLE_LINES]
    assert all(len(line) == 1 and line[0].startswith("# ") for line in lines), lines
    return [line[0] for line in lines]


def run_csv_rows(report: str) -> list[dict[str, str]]:
    """The run CSV's rows, read as a program would: the fixed comment lines skipped by count."""
    run_csv_preamble(report)
    text = io.StringIO(report)
    for _ in range(PREAMBLE_LINES):
        text.readline()  # a comment is one line: the writer folds the requester's newlines
    return list(csv.DictReader(text))


async def request_approval(
    bot: RunningBot, slack: FakeSlack, credential: CredentialRecord, users: str
) -> SlackCall:
    """Plan and confirm with an approval channel set: the approval request message."""
    before = len([c for c in slack.calls_to("chat.postMessage") if is_approval_request(c)])
    await confirm(bot, await plan(bot, slack, credential, users))
    requests = await slack.wait_for("chat.postMessage", is_approval_request, count=before + 1)
    await bot.settled()  # the request is on record before anyone can read it and click
    return requests[-1]


async def approve(bot: RunningBot, slack: FakeSlack, request: SlackCall, *, approver: str) -> None:
    response = await Person(bot, slack, approver).click(request, "Approve")
    assert response.status == 200


async def start_run(bot: RunningBot, slack: FakeSlack, nylas: FakeNylas, users: str) -> None:
    """acme.com registered, a plan for `users`, confirmed: without an approval channel the run
    starts at once."""
    credential = await seed_credential(bot, nylas)
    await confirm(bot, await plan(bot, slack, credential, users))
